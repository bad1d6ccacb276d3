"""Which values of a function are Python scalars whenever its list and scalar parameters are.

A broadcasting operation tapes a shape marker so that the backward sweep can sum an adjoint back
to its operand's shape.  Between two scalars (shape ``()``) there is nothing to sum back, and in
scalar code (lists of floats, an ODE integrated in Python floats) the markers are a large part of
the adjoint's cost.  This analysis finds, for one function, the values that are scalars whenever
the parameters it guards at entry are:

- a *list* parameter: a list or tuple whose items are all int, float, bool or NumPy scalars;
- a *scalar* parameter: one such value.

The forward sweep checks the guard once per call and tapes the result; where it holds, the
operations whose operands are all scalars skip their markers, in both sweeps.  Where it fails
(an array was passed) every marker is taped as usual, so the guard can only save work, never
change a gradient.

Types (a small lattice, solved by an optimistic fixpoint over every definition of a name):
``INT`` (an int whether or not the guards hold: range indices, lengths, int arithmetic on
those; list accesses by such an index need no type check), ``SCALAR``, ``LIST`` (list of
scalars), ``None`` (anything).  A function that writes into a list, appends a non-scalar, calls a method,
or calls a user function that does any of these, gets no guard.
"""

from __future__ import annotations

import ast

from . import ir

TOP = "top"          # not known yet (only during the fixpoint)
INT = "int"
SCALAR = "scalar"
LIST = "list"

_RANK0 = (INT, SCALAR)
_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
_ARITH_OPS = _INT_OPS + (ast.Div, ast.Pow)
_BIT_OPS = (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)
_MATH_INT = {"floor", "ceil", "trunc", "factorial", "gcd", "lcm", "comb", "perm", "isqrt"}


def _meet(a, b):
    if a == TOP:
        return b
    if b == TOP or a == b:
        return a
    if a in _RANK0 and b in _RANK0:
        return SCALAR
    return None


def literal_type(src: str):
    """INT or SCALAR for a numeric literal's source text, None for anything else."""
    try:
        value = ast.literal_eval(src)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(value, (bool, int)):
        return INT
    if isinstance(value, float):
        return SCALAR
    return None


class Summary:
    """What callers need to know of a function: its guards, its return type, and whether it writes."""

    def __init__(self, guards: dict, returns, pure: bool):
        self.guards = guards        # parameter -> LIST or SCALAR
        self.returns = returns      # type of the returned value when the guards hold
        self.pure = pure


class ScalarTypes:
    """The types of one function's names, under the guards on its parameters."""

    def __init__(self, code, summaries: dict):
        self.code = code
        self.summaries = summaries
        self.stmts = list(ir.walk(code.body))
        self.pure = self._pure()
        self.guards: dict = {}
        self.types: dict = {}
        if self.pure:
            self.guards = self._choose_guards()
            if any(kind == LIST for kind in self.guards.values()):
                self.types = self._solve()
            else:
                self.guards = {}
        ret = code.body[-1].value if code.body and isinstance(code.body[-1], ir.Return) else None
        returns = self.atom_type(ret, self.types) if ret is not None and self.guards else None
        self.summary = Summary(self.guards, returns if returns != TOP else None, self.pure)

    # -- which functions qualify ---------------------------------------------------------------
    def _pure(self) -> bool:
        built = {s.target for s in self.stmts if isinstance(s, ir.Assign) and isinstance(s.expr, ir.Build)}
        other_defs = {t for s in self.stmts if not (isinstance(s, ir.Assign) and isinstance(s.expr, ir.Build))
                      for t in _defined(s)}
        for s in self.stmts:
            if isinstance(s, ir.SetItem):
                return False
            if isinstance(s, ir.Append) and (s.target not in built or s.target in other_defs):
                return False
            if isinstance(s, ir.Assign):
                e = s.expr
                if isinstance(e, ir.Prim) and e.method:
                    return False
                if isinstance(e, ir.UserCall):
                    callee = self.summaries.get(e.callee)
                    if callee is None or not callee.pure:
                        return False
        return True

    def _choose_guards(self) -> dict:
        """LIST for parameters only ever indexed by an int-like index (or taken apart, or passed
        on as lists); SCALAR for parameters used in arithmetic; nothing for the others."""
        params = set(self.code.params)
        reassigned = {t for s in self.stmts for t in _defined(s)}
        as_list, as_scalar, other = set(), set(), set()
        for s in self.stmts:
            if isinstance(s, ir.Assign):
                e = s.expr
                if isinstance(e, ir.GetItem) and isinstance(e.a, ir.Name):
                    if _int_like_index(e.index):
                        as_list.add(e.a.id)
                    else:
                        other.add(e.a.id)
                    other.update(e.index.reads)
                elif isinstance(e, (ir.BinOp, ir.UnOp)):
                    as_scalar.update(ir.names_in([e.a] + ([e.b] if isinstance(e, ir.BinOp) else [])))
                elif isinstance(e, ir.Prim):
                    names = ir.names_in(list(e.args) + list(e.kwargs.values()))
                    if e.func is len:
                        continue
                    if getattr(e.func, "__module__", None) == "math" or e.func in (abs, float, int, min, max):
                        as_scalar.update(names)
                    else:
                        other.update(names)
                elif isinstance(e, ir.UserCall):
                    callee = self.summaries[e.callee]
                    for param, atom in zip(self.code.program.functions[e.callee].params, e.args):
                        if isinstance(atom, ir.Name):
                            kind = callee.guards.get(param)
                            (as_list if kind == LIST else as_scalar if kind == SCALAR else other).add(atom.id)
                elif isinstance(e, ir.Copy) and isinstance(e.a, ir.Name):
                    pass
                else:
                    other.update(_reads(e))
            elif isinstance(s, ir.Unpack) and isinstance(s.value, ir.Name):
                as_list.add(s.value.id)
            elif isinstance(s, ir.Return) or isinstance(s, ir.Append):
                pass
            else:
                other.update(_stmt_names(s))
        guards = {}
        for p in self.code.params:
            if p in other or p in reassigned or p not in params:
                continue
            if p in as_list and p not in as_scalar:
                guards[p] = LIST
            elif p in as_scalar and p not in as_list:
                guards[p] = SCALAR
        return guards

    # -- the fixpoint ----------------------------------------------------------------------------
    def _solve(self) -> dict:
        env = {p: self.guards.get(p) for p in self.code.params}
        defs = {}
        for s in self.stmts:
            for t in _defined(s) + ([s.target] if isinstance(s, ir.Append) else []):
                if t not in self.code.params:
                    env[t] = TOP
                defs.setdefault(t, []).append(s)
        for _ in range(len(env) + 2):
            new = dict(env)
            for name, stmts in defs.items():
                if name in self.code.params:
                    new[name] = None        # rebound parameters are never guarded
                    continue
                t = TOP
                for s in stmts:
                    t = _meet(t, self._def_type(s, name, env))
                new[name] = t
            if new == env:
                break
            env = new
        return {n: (t if t != TOP else None) for n, t in env.items()}

    def _def_type(self, s, name, env):
        if isinstance(s, ir.Append):
            # appending a scalar keeps a list of scalars one
            t = self.atom_type(s.value, env)
            return TOP if t == TOP else LIST if t in _RANK0 else None
        if isinstance(s, ir.ForRange):
            return INT
        if isinstance(s, ir.Unpack):
            t = self.atom_type(s.value, env)
            return TOP if t == TOP else SCALAR if t == LIST else None
        if isinstance(s, ir.Assign) and not s.aug_rebind:
            return self.expr_type(s.expr, env)
        return None

    def atom_type(self, atom, env):
        if isinstance(atom, ir.Name):
            return env.get(atom.id)
        if isinstance(atom, ir.Const):
            return literal_type(atom.src)
        return None

    def expr_type(self, e, env):
        if isinstance(e, ir.Copy):
            return self.atom_type(e.a, env)
        if isinstance(e, ir.BinOp):
            a, b = self.atom_type(e.a, env), self.atom_type(e.b, env)
            if a is None or b is None:
                return None
            if TOP in (a, b):
                return TOP
            if a in _RANK0 and b in _RANK0:
                if a == INT and b == INT and issubclass(e.op, _INT_OPS + _BIT_OPS):
                    return INT
                return SCALAR if issubclass(e.op, _ARITH_OPS) else None
            if issubclass(e.op, ast.Add) and a == LIST and b == LIST:
                return LIST
            if issubclass(e.op, ast.Mult) and {a, b} == {LIST, INT}:
                return LIST
            return None
        if isinstance(e, ir.UnOp):
            a = self.atom_type(e.a, env)
            if a == TOP:
                return TOP
            if a in _RANK0 and issubclass(e.op, (ast.USub, ast.UAdd)):
                return a
            if issubclass(e.op, ast.Not) or (a == INT and issubclass(e.op, ast.Invert)):
                return INT if a is not None else None
            return None
        if isinstance(e, ir.Prim):
            if e.method or e.kwargs:
                return None
            if e.func is len:
                return INT
            args = [self.atom_type(a, env) for a in e.args]
            if not args or None in args or LIST in args:
                return None
            if TOP in args:
                return TOP
            if e.func is int or e.func is round and len(args) == 1:
                return INT
            if e.func is float:
                return SCALAR
            if e.func is abs and len(args) == 1:
                return args[0]
            if e.func in (min, max) and len(args) >= 2:
                return INT if all(a == INT for a in args) else SCALAR
            if getattr(e.func, "__module__", None) == "math" and callable(e.func):
                return INT if getattr(e.func, "__name__", "") in _MATH_INT else SCALAR
            return None
        if isinstance(e, ir.GetItem):
            base = self.atom_type(e.a, env)
            if base == TOP:
                return TOP
            if base != LIST:
                return None
            index = _index_type(e.index, env)
            if index == TOP:
                return TOP
            return SCALAR if index == INT else None
        if isinstance(e, ir.Build):
            elts = [self.atom_type(a, env) for a in e.elts]
            if all(t in _RANK0 or t == TOP for t in elts):
                return LIST
            return None
        if isinstance(e, ir.UserCall):
            callee = self.summaries.get(e.callee)
            if callee is None or not callee.guards or callee.returns is None:
                return None
            params = self.code.program.functions[e.callee].params
            bound = dict(zip(params, e.args))
            for param, kind in callee.guards.items():
                t = self.atom_type(bound.get(param), env)
                if t == TOP:
                    return TOP
                if not (t == kind or (kind == SCALAR and t in _RANK0)):
                    return None
            return callee.returns
        return None

    def rank0(self, atom) -> bool:
        """True when ``atom`` is a scalar wherever the guards hold."""
        return self.atom_type(atom, self.types) in _RANK0


def _int_like_index(index) -> bool:
    src = index.src.strip()
    return (len(index.reads) == 1 and src == index.reads[0]) or literal_type(src) == INT


def _index_type(index, env):
    src = index.src.strip()
    if len(index.reads) == 1 and src == index.reads[0]:
        return env.get(src)
    return INT if literal_type(src) == INT else None


def _defined(s) -> list:
    if isinstance(s, ir.Assign):
        return [s.target]
    if isinstance(s, ir.Unpack):
        return list(s.targets)
    if isinstance(s, ir.ForRange):
        return [s.target]
    if isinstance(s, (ir.SetItem, ir.Append)):
        return []
    return []


def _reads(e) -> list:
    if isinstance(e, ir.Opaque):
        return list(e.reads)
    if isinstance(e, ir.BuildDict):
        return ir.names_in(e.values)
    if isinstance(e, ir.Build):
        return ir.names_in(e.elts)
    return []


def _stmt_names(s) -> list:
    if isinstance(s, ir.Effect):
        return list(s.reads)
    if isinstance(s, (ir.If, ir.LoopExit)):
        return ir.names_in([s.test])
    if isinstance(s, ir.ForRange):
        return ir.names_in(s.range_args)
    return []


def analyze_program(program) -> None:
    """Set ``code.scalars`` (a ScalarTypes) on every function, callees first."""
    summaries = {}
    for key in program._order:
        code = program.functions[key]
        code.scalars = ScalarTypes(code, summaries)
        summaries[key] = code.scalars.summary


__all__ = ["ScalarTypes", "analyze_program", "literal_type"]
