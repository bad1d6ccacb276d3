"""Exceptions raised by the user's code while generated code runs: the user's line, not the machinery.

The generated module is mapped back to the user's lines once, when it is generated: the sweeps
carry a ``# line N: ...`` comment above the code of each source line, and the primal is the
user's statements one for one.
"""

from __future__ import annotations

import ast
import os
import re

from ..errors import _pretty_filename
from .parse import FunctionInfo


def line_map(text: str, functions: dict) -> dict:
    """Generated line -> (function key, sweep, line of the user's source) for the module ``text``
    generated from ``functions`` (key -> FunctionCode)."""
    out = {}
    lines = text.split("\n")
    for fdef in ast.parse(text).body:
        if not isinstance(fdef, ast.FunctionDef):
            continue
        name = fdef.name[:-len("_general")] if fdef.name.endswith(("_fwd_general", "_bwd_general")) else fdef.name
        key, _, sweep = name.rpartition("_")      # F_primal, F_fwd, F_bwd (and the general bodies)
        code = functions.get(key)
        if code is None or sweep not in ("primal", "fwd", "bwd"):
            continue
        first = code.info.node.lineno
        for n in range(fdef.lineno, fdef.end_lineno + 1):
            out[n] = (key, sweep, first)
        if sweep == "primal":
            map_statements(fdef.body, user_body(code.info.node), key, out)
            continue
        current = first
        for n in range(fdef.lineno, fdef.end_lineno + 1):
            m = LINE_COMMENT.match(lines[n - 1])
            if m:
                current = int(m.group(1))
            out[n] = (key, sweep, current)
    return out


def annotate(exc, generated: str, lines: dict, functions: dict):
    """``exc``, raised while the module ``generated`` ran, with a note naming the user's line it comes
    from (``lines``: see `line_map`) and its traceback without nbadjoint's frames before that module's."""
    tb, innermost = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == generated:
            innermost = tb
        tb = tb.tb_next
    if innermost is None:
        return exc
    exc.__traceback__ = trim_traceback(exc.__traceback__, generated)
    if type(exc).__module__.startswith("nbadjoint") or getattr(exc, "_nbadjoint_noted", False):
        return exc                        # nbadjoint's own errors name the line already
    located = lines.get(innermost.tb_lineno)
    if located is None:
        return exc
    key, sweep, lineno = located
    add_note(exc, note_text(functions[key].info, sweep, lineno, innermost.tb_frame.f_code.co_name, generated,
                            innermost.tb_lineno))
    return exc


LINE_COMMENT = re.compile(r"\s*# (?:adjoint of )?line (\d+): ")


def user_body(node: ast.FunctionDef) -> list:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def map_statements(generated: list, user: list, key: str, out: dict):
    """Map the lines of generated statements to those of the user's statements they copy one for one
    (aligned at the end: the generated body starts with a docstring and a prologue)."""
    if len(generated) < len(user):
        return
    generated = generated[len(generated) - len(user):]
    for g, u in zip(generated, user):
        if type(g) is not type(u):
            return
        for n in range(g.lineno, (g.end_lineno or g.lineno) + 1):
            out[n] = (key, "primal", u.lineno)
        for name in ("body", "orelse", "finalbody"):
            gb, ub = getattr(g, name, None), getattr(u, name, None)
            if isinstance(gb, list) and isinstance(ub, list) and len(gb) == len(ub):
                map_statements(gb, ub, key, out)


def trim_traceback(tb, generated: str):
    """The traceback without nbadjoint's own frames before the generated code's."""
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    last = max(k for k, t in enumerate(frames) if t.tb_frame.f_code.co_filename == generated)
    kept = [t for k, t in enumerate(frames)
            if k >= last or not os.path.abspath(t.tb_frame.f_code.co_filename).startswith(package + os.sep)]
    for a, b in zip(kept, kept[1:]):
        a.tb_next = b
    return kept[0]


def note_text(info: FunctionInfo, sweep: str, lineno: int, gen_function: str, gen_file: str, gen_line: int) -> str:
    where = _pretty_filename(info.filename)
    text = info.line_text(lineno).strip()
    what = {"primal": "in", "fwd": "in", "bwd": "in the adjoint (backward sweep) of"}[sweep]
    return (f"nbadjoint: raised {what} {info.name}() at {where}, line {lineno}:\n"
            f"    {lineno} | {text}\n"
            f"  (generated code: {gen_function}, {gen_file}, line {gen_line})")


def add_note(exc, note: str):
    try:
        exc._nbadjoint_noted = True
    except AttributeError:
        pass
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    elif exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{note}",) + exc.args[1:]
