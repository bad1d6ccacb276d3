"""Derivative rules as AST templates.

Two parts: the template engine (nbadjoint.transform.templates) on its own, and every derivative rule
compared with tests/golden/rules_text.json, the adjoint texts the rules produced when they were
text templates. Each golden entry names a rule, the index of the argument it differentiates and
the call's argument texts; the AST rule given the parsed arguments must print (``ast.unparse``)
exactly the recorded text, return None where it returned None, and raise the same RuleError.

Regenerate the golden file (only after an intended change of a rule's output) with
``python tests/test_rule_templates.py --write-golden``.
"""

import ast
import inspect
import json
import re
import sys
from pathlib import Path

import numpy as np

from nbadjoint.transform import rules

GOLDEN = Path(__file__).parent / "golden" / "rules_text.json"

# ----- the calls the golden file records -----

NAMES = ["x", "y", "z", "t", "s", "r"]           # argument variables (never g or ans)
NUMBERS = ["0", "1", "2", "3", "-1", "0.5", "-0.5", "1.5", "-1.5", "2.0", "1e-3"]
OTHERS = ["None", "True", "(0, 1)", "'C'", "k", "u + w", "[u, w]"]
DTYPES = ["float", "int", "complex", "bool", "np.float32", "np.int64", "np.complex64", "'f4'", '"float64"',
          "'i8'", "'complex128'", "kind"]
ORDERS = ["np.inf", "-np.inf", "'fro'", "'nuc'", "4"]


def rule_table():
    """(label, rule, primal function or None) for every rule: operators, hand-written rules and the
    rules built on autograd for every function with a canonical name."""
    out = [(f"binop:{op.__name__}", rule, None) for op, rule in rules.BINOP_RULES.items()]
    out += [(f"unaryop:{op.__name__}", rule, None) for op, rule in rules.UNARYOP_RULES.items()]
    seen = set()
    for func, rule in rules._HAND_RULES.items():
        if rule.name not in seen:
            seen.add(rule.name)
            out.append((f"hand:{rule.name}", rule, func))
    fallback = {}
    for func, name in rules._name_table().items():
        if func in rules._HAND_RULES or rules.is_nondifferentiable(func):
            continue
        rule = rules.find_rule(func)
        if rule is not None:
            fallback.setdefault(name, (rule, func))
    out += [(f"fallback:{name}", rule, func) for name, (rule, func) in sorted(fallback.items())]
    return out


def _slots(rule):
    """(fixed positional parameter names, name of the variadic parameter or None)."""
    fixed = [p for p in rule.params if not p.startswith("*")]
    variadic = next((p[1:] for p in rule.params if p.startswith("*")), None)
    return fixed, variadic


def _text_call(rule, i, args, kwargs):
    """The text rule's answer as a JSON value: text, None, or "!Error: message"."""
    try:
        return rule.grads[i]("g", "ans", *args, **kwargs)
    except Exception as exc:  # recorded: the AST rule must raise the same
        return f"!{type(exc).__name__}: {exc}"


def _required_count(label, rule, func, fixed):
    """How many leading positional parameters a call must pass."""
    if label.startswith("fallback:"):
        try:
            params = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):
            return func.nin if isinstance(func, np.ufunc) else 1
        return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   and p.default is p.empty and p.name != "self") or 1
    for k in range(len(fixed) + 1):
        answer = _text_call(rule, 0, NAMES[:k], {}) if rule.grads else None
        if not (isinstance(answer, str) and "missing a required argument" in answer):
            return k
    return len(fixed)


def _keyword_names(func, fixed, required):
    """Optional parameters a call may pass by keyword."""
    names = [p for p in fixed[required:]]
    try:
        params = inspect.signature(func).parameters.values() if func is not None else ()
    except (TypeError, ValueError):
        params = ()
    for p in params:
        if p.kind is p.KEYWORD_ONLY and p.name not in names:
            names.append(p.name)
    return names


def _literals(param, short=False):
    values = ["0", "-1", "0.5", "None", "True", "'C'", "k"] if short else NUMBERS + OTHERS
    if "dtype" in param:
        values = values + DTYPES
    if param == "ord":
        values = values + ORDERS
    return values


def golden_calls():
    """[(key, label, rule, index, args, kwargs)] for every recorded call, in a fixed order."""
    calls = []
    for label, rule, func in rule_table():
        fixed, variadic = _slots(rule)
        required = _required_count(label, rule, func, fixed)
        base = NAMES[:required]
        vectors = [(base, {})]
        for j in range(required):
            param = fixed[j] if j < len(fixed) else variadic
            vectors += [(base[:j] + [lit] + base[j + 1:], {}) for lit in _literals(param)]
        if len(fixed) > required:
            vectors.append((NAMES[:len(fixed)], {}))       # every positional parameter a variable
            vectors += [(base + [lit], {}) for lit in _literals(fixed[required], short=len(base) > 0)]
        if variadic is not None:
            for n in (1, 2, 3):
                vectors.append((NAMES[:len(fixed) + n], {}))
            vectors += [(NAMES[:len(fixed) + 1] + [lit], {}) for lit in NUMBERS[:4] + ["u + w"]]
        for param in _keyword_names(func, fixed, required):
            vectors += [(base, {param: lit}) for lit in _literals(param, short=True) + ["q"]]
        for args, kwargs in vectors:
            indices = range(min(len(rule.grads), max(len(args), 1)))
            extra = [rule.index_of(k) for k in kwargs]
            for i in sorted(set(indices) | {e for e in extra if e is not None}):
                text = ", ".join(list(args) + [f"{k}={v}" for k, v in kwargs.items()])
                calls.append((f"{label}|{i}|{text}", label, rule, i, list(args), dict(kwargs)))
    return calls


def write_golden():
    table = {key: _text_call(rule, i, args, kwargs) for key, _, rule, i, args, kwargs in golden_calls()}
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in table.items()]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{len(table)} entries written to {GOLDEN}")


if __name__ == "__main__" and "--write-golden" in sys.argv:
    write_golden()
