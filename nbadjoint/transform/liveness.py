"""Decisions for the whole call tree before code is emitted: which adjoints cross calls certainly
set (not None), and which functions get a body specialised for their shape guards."""

from __future__ import annotations

import ast

from . import ir
from .sweep_ast import expr as E, if_
from .sweeps import SweepBuilder


def build_sweeps(code, probes: bool) -> list:
    """The forward and backward sweeps of ``code`` as ``FunctionDef`` nodes.

    Where the function has shape guards (see shapes.py), ``F_fwd`` and ``F_bwd`` are bodies
    specialised for the case they hold: no shape markers, no tests of whether an adjoint is a
    float. They hand over to ``F_fwd_general`` / ``F_bwd_general`` when the guards fail.
    """
    if not code.split:
        b = SweepBuilder(code, probes).build()
        return [b.fwd_def, b.bwd_def]
    spec = SweepBuilder(code, probes, spec=True).build()
    general = SweepBuilder(code, probes, suffix="_general").build()
    params = list(code.params)
    incoming = [a.arg for a in spec.bwd_def.args.args[2 + len(params):]]
    if code._flag_is_recomputed():
        fwd_test = bwd_test = code.shape_guard()
    else:
        fwd_test, bwd_test = code.shape_guard(), E("_c.tape.pop()")
    fwd_call = E("{f}(_c, *{a})", f=f"{code.key}_fwd_general", a=params)
    bwd_call = E("{f}(_c, _rv_b, *{a})", f=f"{code.key}_bwd_general", a=params + incoming)
    for fdef, test, call in ((spec.fwd_def, fwd_test, fwd_call), (spec.bwd_def, bwd_test, bwd_call)):
        fdef.body.insert(1, if_(_negated(test), [ast.Return(call)]))
    return [spec.fwd_def, spec.bwd_def, general.fwd_def, general.bwd_def]


def _negated(test):
    """``not test``, as ``a is not b`` / ``a not in b`` for a single ``is`` / ``in`` comparison."""
    negations = {ast.Is: ast.IsNot, ast.In: ast.NotIn}
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in negations:
        return ast.Compare(test.left, [negations[type(test.ops[0])]()], test.comparators)
    return ast.UnaryOp(ast.Not(), test)


def decide_split(code) -> list:
    """Set ``code.split``: whether its specialised body differs from its general one. Returns the
    builders of the bodies it will have (untidied: enough for the liveness solve)."""
    code.split = False
    general = SweepBuilder(code, False).build(tidy_trees=False)
    if not code.shapes.guards or not code.active:
        return [general]
    spec = SweepBuilder(code, False, spec=True).build(tidy_trees=False)
    code.split = spec.specialised
    return [spec, general] if code.split else [general]


def solve_liveness(program) -> None:
    """Which adjoints cross calls certainly set (not None), for every function of ``program``.

    ``code.rv_live``: every call of the function passes an adjoint of its result that is not None
    (the root always gets its seed); ``code.returns_live``: per parameter, its adjoint returned by
    the backward sweep is certainly not None, given ``rv_live``. An optimistic fixpoint: assume
    every call passes a set adjoint, build the sweeps callees first, and withdraw the assumption
    from each function some call of which may pass None, until nothing changes.
    """
    functions = program.functions
    for code in functions.values():
        code.rv_live, code.returns_live, code.split = True, (), False
    cyclic = _cyclic(program)
    for key in cyclic:
        functions[key].rv_live = False
    for iteration in range(len(functions) + 1):
        passes = {}
        for key in program._order:                      # callees first
            code = functions[key]
            if iteration == 0:
                builders = decide_split(code)
            else:
                builders = [SweepBuilder(code, False, spec=spec).build(tidy_trees=False)
                            for spec in ((True, False) if code.split else (False,))]
            lives = []
            for b in builders:
                lives.append(b.returns_live)
                for callee, live in b.passes_live.items():
                    passes[callee] = passes.get(callee, True) and live
            code.returns_live = () if key in cyclic else tuple(all(x) for x in zip(*lives))
        changed = False
        for key, code in functions.items():
            live = key == program.root_key or (passes.get(key, True) and key not in cyclic)
            if code.rv_live and not live:
                code.rv_live = False
                changed = True
        if not changed:
            return
    raise AssertionError("adjoint liveness did not converge")


def _cyclic(program) -> set:
    """Keys of the functions on a cycle of calls."""
    calls = {key: {st.expr.callee for st in ir.walk(code.body)
                   if isinstance(st, ir.Assign) and isinstance(st.expr, ir.UserCall)}
             for key, code in program.functions.items()}
    out = set()
    for start in calls:
        seen, todo = set(), list(calls[start])
        while todo:
            k = todo.pop()
            if k == start:
                out.add(start)
                break
            if k not in seen:
                seen.add(k)
                todo.extend(calls.get(k, ()))
    return out
