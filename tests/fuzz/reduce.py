"""A line-deleting reducer: the smallest program (by greedy deletion of lines) that still fails
with the same outcome and signature."""

import ast

from .oracle import check_program

KEEP = ("import ", "ARGS", "ARGNUMS", "def ", "class ")


def _parses(lines):
    try:
        ast.parse("\n".join(lines))
        return True
    except SyntaxError:
        return False


def reduce_program(source, folder, outcome, signature, autograd=False, budget=400):
    lines = source.splitlines()
    changed, tries = True, 0
    while changed and tries < budget:
        changed = False
        for i in range(len(lines) - 1, -1, -1):
            stripped = lines[i].strip()
            if not stripped or stripped.startswith(KEEP):
                continue
            candidate = lines[:i] + lines[i + 1:]
            if not _parses(candidate):
                continue
            tries += 1
            result = check_program("\n".join(candidate) + "\n", folder, autograd=autograd)
            if result.outcome == outcome and result.signature == signature:
                lines, changed = candidate, True
            if tries >= budget:
                break
    return "\n".join(line for line in lines) + "\n"
