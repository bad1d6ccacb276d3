"""Shape facts: which values of a function are scalars, or share the shape of its arrays,
whenever the guards on its parameters hold.

A broadcasting operation tapes a shape marker so that the backward sweep can sum an adjoint
back to its operand's shape.  Where an operand is known to have the result's shape there is
nothing to sum back: between two scalars (the whole of scalar code: lists of floats, an ODE in
Python floats), or between arrays of one shape and scalars (explicit time stepping).  This
analysis proves such facts for one function, under guards on its parameters:

- a *list* parameter: a list or tuple whose items are all int, float, bool or NumPy scalars;
- a *vector* parameter: a 1-D float ``np.ndarray`` read entry by entry (as a list would be);
- a *scalar* parameter: one such value;
- *array* parameters: exactly ``np.ndarray``, and, for those combined elementwise with each
  other, of one shape.

The forward sweep checks the guards once per call; where they hold, the operations whose
operands provably have the result's shape skip their markers, in both sweeps.  Where they fail
(an array passed for a scalar, two arrays that broadcast) every marker is taped as usual, so a
guard can only save work, never change a gradient.

Types (solved by an optimistic fixpoint over every definition of a name): ``INT`` (an int
whether or not the guards hold: range indices, lengths, int arithmetic on those; list accesses
by such an index need no type check), ``SCALAR``, ``LIST`` (list of scalars), ``("like", p)``
(the shape of array parameter ``p``), ``VECTOR`` (a 1-D float array: a vector parameter, or
``np.zeros(n)`` written entry by entry with numbers), ``None`` (anything).  List facts are only
drawn in functions that write into no list or array other than those they build themselves, and
call no method and no such function.
"""

from __future__ import annotations

import ast
import re

import numpy as np

from . import ir
from .draws import Draw

TOP = "top"          # not known yet (only during the fixpoint)
INT = "int"
SCALAR = "scalar"
LIST = "list"
VECTOR = "vector"    # a 1-D float ndarray: its entries are NumPy scalars
_SEQUENCES = (LIST, VECTOR)
_NEW_VECTORS = (np.zeros, np.ones, np.empty)
ARRAY = "array"      # a parameter kind: its class is ("like", name)

_RANK0 = (INT, SCALAR)
_GLOBAL_REF = re.compile(r"_G(\d+)\[('[A-Za-z_][A-Za-z0-9_]*')\]")
_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
_ARITH_OPS = _INT_OPS + (ast.Div, ast.Pow)
_BIT_OPS = (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)
_MATH_INT = {"floor", "ceil", "trunc", "factorial", "gcd", "lcm", "comb", "perm", "isqrt"}
_SHAPE_KEEPING_METHODS = {"copy"}


def _like(t) -> bool:
    return t.__class__ is tuple


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

    def __init__(self, guards: dict, returns, pure: bool, classes=()):
        self.guards = guards        # parameter -> LIST, VECTOR, SCALAR or ARRAY
        self.returns = returns      # LIST, a scalar type, or ("like", p): the shape of array parameter p,
        self.pure = pure            # when the guards hold; else None
        self.classes = classes      # lists of array parameters the guards check share one shape


class ShapeFacts:
    """The types of one function's names, under the guards on its parameters."""

    def __init__(self, code, summaries: dict, arrays_passed=frozenset()):
        self.code = code
        self.summaries = summaries
        self.arrays_passed = arrays_passed     # parameters some caller passes an array to
        self.stmts = list(ir.walk(code.body))
        self.pure = self._pure()
        self.parent: dict = {}          # union-find over array parameters combined elementwise
        self.guards = self._choose_guards()
        self.types = self._solve() if self.guards else {}
        ret = code.body[-1].value if code.body and isinstance(code.body[-1], ir.Return) else None
        returns = self.atom_type(ret, self.types) if ret is not None and self.guards else None
        if returns == TOP or (_like(returns) and self.guards.get(returns[1]) != ARRAY):
            returns = None
        self.summary = Summary(self.guards, returns, self.pure, self.array_classes())

    # -- array classes ---------------------------------------------------------------------------
    def find(self, p):
        while self.parent.get(p, p) != p:
            p = self.parent[p]
        return p

    def _union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
        return min(ra, rb)

    def array_classes(self) -> list:
        """Lists of array parameters that must share one shape (in parameter order)."""
        classes = {}
        for p, kind in self.guards.items():
            if kind == ARRAY:
                classes.setdefault(self.find(p), []).append(p)
        return list(classes.values())

    def shape_class(self, atom):
        """A token equal for two atoms exactly when the guards prove their shapes equal."""
        t = self.atom_type(atom, self.types)
        if t in _RANK0:
            return "()"
        if _like(t):
            return self.find(t[1])
        return None

    # -- which functions qualify ---------------------------------------------------------------
    def _pure(self) -> bool:
        """Whether the function writes into nothing that existed before it was called: it may write
        into lists it built itself (``new = [0.0] * n; new[i] = ...``), whose every definition is a
        new object (a display, or ``+`` / ``*`` of a list); an alias of such a list that is written
        and read afterwards is refused at run time (runtime.tape.check_alias)."""
        built = {s.target for s in self.stmts if isinstance(s, ir.Assign) and isinstance(s.expr, ir.Build)}
        other_defs = {t for s in self.stmts if not (isinstance(s, ir.Assign) and isinstance(s.expr, ir.Build))
                      for t in ir.defined(s)}
        fresh = _new_sequences(self.stmts, self.code.params, vectors=True)
        for s in self.stmts:
            if isinstance(s, ir.SetItem) and s.target not in fresh:
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
        on as lists); ARRAY for parameters passed to NumPy (or sliced, or written into); SCALAR
        for parameters only used in arithmetic; nothing for the others."""
        reassigned = {t for s in self.stmts for t in ir.defined(s)}
        as_list, as_scalar, as_array, other = set(), set(), set(), set()
        for s in self.stmts:
            if isinstance(s, ir.Assign):
                e = s.expr
                if isinstance(e, ir.GetItem) and isinstance(e.a, ir.Name) and not e.index.attr:
                    (as_list if _int_like_index(e.index) else as_array).add(e.a.id)
                    other.update(e.index.reads)
                elif isinstance(e, (ir.BinOp, ir.UnOp)):
                    names = ir.names_in([e.a] + ([e.b] if isinstance(e, ir.BinOp) else []))
                    if isinstance(e, ir.BinOp) and issubclass(e.op, ast.MatMult):
                        as_array.update(names)
                    else:
                        as_scalar.update(names)
                elif isinstance(e, ir.Prim):
                    names = ir.names_in(list(e.args) + list(e.kwargs.values()))
                    if e.func is len:
                        continue
                    if getattr(e.func, "__module__", None) == "math" or e.func in (abs, float, int, min, max):
                        as_scalar.update(names)
                    elif e.method and not isinstance(e, Draw):      # (a generator is no array)
                        as_array.update(names[:1])
                        other.update(names[1:])
                    elif _numpy_function(e.func):
                        as_array.update(names)
                    else:
                        other.update(names)
                elif isinstance(e, ir.UserCall):
                    callee = self.summaries[e.callee]
                    for param, atom in zip(self.code.program.functions[e.callee].params, e.args):
                        if isinstance(atom, ir.Name):
                            kind = callee.guards.get(param)
                            {LIST: as_list, SCALAR: as_scalar, ARRAY: as_array}.get(kind, other).add(atom.id)
                elif isinstance(e, ir.Copy) and isinstance(e.a, ir.Name):
                    pass
                else:
                    other.update(_reads(e))
            elif isinstance(s, ir.Unpack) and isinstance(s.value, ir.Name):
                as_list.add(s.value.id)
            elif isinstance(s, ir.SetItem):
                (other if s.index.attr else as_array).add(s.target)     # (an object's attribute: no array)
                other.update(s.index.reads)
                other.update(ir.names_in([s.value]))
            elif isinstance(s, (ir.Return, ir.Append)):
                pass
            else:
                other.update(_stmt_names(s))
        guards = {}
        for p in self.code.params:
            if p in other or p in reassigned:
                continue
            uses = (p in as_list) + (p in as_array) + (p in as_scalar and p not in as_array)
            if p in as_list and uses == 1 and self.pure:
                guards[p] = VECTOR if p in self.arrays_passed else LIST
            elif p in as_array and p not in as_list:
                guards[p] = ARRAY
            elif p in as_scalar and uses == 1:
                guards[p] = ARRAY if p in self.arrays_passed else SCALAR
        return guards

    # -- the fixpoint ----------------------------------------------------------------------------
    def _solve(self) -> dict:
        env = {}
        for p in self.code.params:
            kind = self.guards.get(p)
            env[p] = ("like", p) if kind == ARRAY else kind
        defs = {}
        for s in self.stmts:
            for t in ir.defined(s) + ([s.target] if isinstance(s, ir.Append) else []):
                if t not in self.code.params:
                    env[t] = TOP
                defs.setdefault(t, []).append(s)
            # a write into a local list or array changes what it holds: `ys[0] = np.sin(x)` makes a
            # list of numbers a list holding an array (a parameter's guard is checked on entry, and
            # a written parameter is never guarded as a list)
            for t in self._written_locals(s):
                defs.setdefault(t, []).append(("written", s))
        for _ in range(2 * len(env) + 4):
            new = dict(env)
            for name, stmts in defs.items():
                if name in self.code.params:
                    new[name] = None        # rebound parameters are never guarded
                    continue
                t = TOP
                for s in stmts:
                    t = self._meet(t, self._def_type(s, env))
                new[name] = self._canon(t)
            if new == env:
                break
            env = new
        return {n: (self._canon(t) if t != TOP else None) for n, t in env.items()}

    def _written_type(self, s, env):
        """The type a write leaves: an array keeps its shape; a list of scalars stays one only when
        a scalar is written at an int index; anything written through a callee is unknown."""
        if not isinstance(s, ir.SetItem):
            return None
        t = env.get(s.target, TOP)
        if t == TOP:
            return TOP
        if _like(t):
            return t
        if t in _SEQUENCES:
            v, index = self.atom_type(s.value, env), _index_type(s.index, env)
            if TOP in (v, index):
                return TOP
            return t if v in _RANK0 and index == INT else None      # one entry (not a slice or a list of them)
        return None

    def _canon(self, t):
        return ("like", self.find(t[1])) if _like(t) else t

    def _meet(self, a, b):
        if a == TOP:
            return b
        if b == TOP:
            return a
        a, b = self._canon(a), self._canon(b)
        if a == b:
            return a
        if a in _RANK0 and b in _RANK0:
            return SCALAR
        return None

    def _written_locals(self, s) -> list:
        """Local names statement ``s`` writes into (at an index, or through a callee)."""
        out = []
        if isinstance(s, ir.SetItem):
            out.append(s.target)
        elif isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall):
            callee = self.code.program.functions[s.expr.callee]
            out += [a.id for p, a in zip(callee.params, s.expr.args) if isinstance(a, ir.Name)
                    and (p in callee.mutated or p in callee.touched)]
        return [t for t in out if t not in self.code.params]

    def _def_type(self, s, env):
        if isinstance(s, tuple):                    # ("written", statement): a write into the name
            return self._written_type(s[1], env)
        if isinstance(s, ir.Append):
            # appending a scalar keeps a list of scalars one
            t = self.atom_type(s.value, env)
            return TOP if t == TOP else LIST if t in _RANK0 else None
        if isinstance(s, ir.ForRange):
            return INT
        if isinstance(s, ir.Unpack):
            t = self.atom_type(s.value, env)
            return TOP if t == TOP else SCALAR if t in _SEQUENCES else None
        if isinstance(s, ir.Assign) and not s.aug_rebind:
            return self.expr_type(s.expr, env)
        return None

    def atom_type(self, atom, env):
        if isinstance(atom, ir.Name):
            return self._canon(env.get(atom.id)) if env.get(atom.id) is not None else None
        if isinstance(atom, ir.Const):
            return literal_type(atom.src) or self._global_type(atom.src)
        return None

    def _global_type(self, src: str):
        """INT or SCALAR for a module-level number the code reads (``_G0['DX']``): the program is
        compiled again when such a value changes (Program.is_current), so its type holds."""
        m = _GLOBAL_REF.fullmatch(src)
        program = getattr(self.code, "program", None)
        if m is None or program is None or int(m.group(1)) >= len(program._globals):
            return None
        value = program._globals[int(m.group(1))].get(ast.literal_eval(m.group(2)))
        if isinstance(value, (bool, int, np.integer)):
            return INT
        if isinstance(value, (float, np.floating)):
            return SCALAR
        return None

    def _elementwise(self, types):
        """Type of an elementwise result of operands of these types (scalars and one shape)."""
        if None in types or LIST in types or VECTOR in types:
            return None
        if TOP in types:
            return TOP
        likes = [t[1] for t in types if _like(t)]
        if not likes:
            return SCALAR
        root = likes[0]
        for other in likes[1:]:
            root = self._union(root, other)    # a guard checks these arrays share one shape
        return ("like", self.find(root))

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
            if issubclass(e.op, _ARITH_OPS) and (_like(a) or _like(b)):
                return self._elementwise([a, b])
            return None
        if isinstance(e, ir.UnOp):
            a = self.atom_type(e.a, env)
            if a == TOP:
                return TOP
            if (a in _RANK0 or _like(a)) and issubclass(e.op, (ast.USub, ast.UAdd)):
                return a
            if issubclass(e.op, ast.Not) or (a == INT and issubclass(e.op, ast.Invert)):
                return INT if a is not None else None
            return None
        if isinstance(e, ir.Prim):
            return self._prim_type(e, env)
        if isinstance(e, ir.GetItem):
            base = self.atom_type(e.a, env)
            if base == TOP:
                return TOP
            if base not in _SEQUENCES:
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
            types = {}
            for param, kind in callee.guards.items():
                t = types[param] = self.atom_type(bound.get(param), env)
                if t == TOP:
                    return TOP
                if not (t == kind or (kind == SCALAR and t in _RANK0) or (kind == ARRAY and _like(t))):
                    return None
            if not _like(callee.returns):
                return callee.returns
            for members in callee.classes:      # the callee combines these elementwise: as an
                root = types[members[0]][1]     # elementwise operation here would, their shapes
                for p in members[1:]:           # are assumed one (and this function's guard checks it)
                    root = self._union(root, types[p][1])
            return ("like", self.find(types[callee.returns[1]][1]))
        return None

    def _prim_type(self, e, env):
        if e.method:
            if e.method in _SHAPE_KEEPING_METHODS and not e.kwargs and len(e.args) == 1:
                t = self.atom_type(e.args[0], env)
                return t if (t == TOP or _like(t) or t == VECTOR) else None
            return None
        if e.func is len:
            return INT
        if e.func is np.roll and 2 <= len(e.args) <= 3 and set(e.kwargs) <= {"axis"}:
            t = self.atom_type(e.args[0], env)
            return t if (t == TOP or _like(t)) else None
        if e.func in _WHOLE_REDUCTIONS and len(e.args) == 1 and not e.kwargs:
            t = self.atom_type(e.args[0], env)            # of a whole array (exactly np.ndarray): a
            return SCALAR if (_like(t) or t in _RANK0 or t == VECTOR) else (TOP if t == TOP else None)
        if e.kwargs:
            return None
        args = [self.atom_type(a, env) for a in e.args]
        if e.func in _NEW_VECTORS and len(args) == 1:     # np.zeros(n): a new 1-D float array
            return args[0] if args[0] == TOP else VECTOR if args[0] == INT else None
        if isinstance(e.func, np.ufunc):
            if len(args) != e.func.nin or e.func.nout != 1 or e.func.signature is not None:
                return None         # (a generalised ufunc such as np.matmul is not elementwise)
            return self._elementwise(args)
        if not args or None in args or LIST in args or VECTOR in args or any(_like(a) for a in args):
            return None
        if TOP in args:
            return TOP
        if e.func is int or (e.func is round and len(args) == 1):
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

    def rank0(self, atom) -> bool:
        """True when ``atom`` is a scalar wherever the guards hold."""
        return self.atom_type(atom, self.types) in _RANK0


def _numpy_function(func) -> bool:
    module = getattr(func, "__module__", None) or ""
    return isinstance(func, np.ufunc) or module == "numpy" or module.startswith("numpy.")


def _int_like_index(index) -> bool:
    src = index.src.strip()
    return (len(index.reads) == 1 and src == index.reads[0]) or literal_type(src) == INT


def _index_type(index, env):
    src = index.src.strip()
    if len(index.reads) == 1 and src == index.reads[0]:
        return env.get(src)
    return INT if literal_type(src) == INT else None


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


_SHAPE_KEEPING = {np.roll}
_WHOLE_REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.std, np.var}


def _new_sequences(stmts, params, vectors: bool) -> set:
    """Locals whose every definition builds a new list (or, with ``vectors``, a new array): a
    display, ``np.zeros(n)``, or ``a + b`` / ``a * n`` with such a value as an operand (not
    ``+=``, which extends in place)."""
    defs: dict = {}
    for s in stmts:
        for t in ir.defined(s):
            defs.setdefault(t, []).append(s)
    fresh = {t for t, ds in defs.items() if t not in params and all(
        isinstance(d, ir.Assign) and not d.aug_rebind and (
            isinstance(d.expr, (ir.Build, ir.BinOp))
            or (vectors and isinstance(d.expr, ir.Prim) and not d.expr.method and d.expr.func in _NEW_VECTORS))
        for d in ds)}
    changed = True
    while changed:                  # `[0.0] * n`: an operand of a BinOp is itself new
        changed = False
        for t in sorted(fresh):
            for d in defs[t]:
                e = d.expr
                if isinstance(e, ir.BinOp) and not (
                        issubclass(e.op, (ast.Add, ast.Mult))
                        and any(isinstance(a, ir.Name) and a.id in fresh for a in (e.a, e.b))):
                    fresh.discard(t)
                    changed = True
                    break
    return fresh


def _array_uses(stmts) -> set:
    """Names used the way only arrays are: passed to NumPy (not as a ufunc operand), sliced,
    written into (but for a list built here), or called a method of."""
    out = set()
    lists = _new_sequences(stmts, (), vectors=False)
    for s in stmts:
        if isinstance(s, ir.Assign):
            e = s.expr
            if isinstance(e, ir.GetItem) and isinstance(e.a, ir.Name) and not _int_like_index(e.index) \
                    and not e.index.attr:
                out.add(e.a.id)
            elif isinstance(e, ir.Prim) and e.func is not len:
                names = ir.names_in(list(e.args) + list(e.kwargs.values()))
                if e.method and not isinstance(e, Draw):
                    out.update(names[:1])
                elif _numpy_function(e.func) and not isinstance(e.func, np.ufunc):
                    out.update(names)
        elif isinstance(s, ir.SetItem) and s.target not in lists and not s.index.attr:
            out.add(s.target)
    return out


def call_evidence(program) -> dict:
    """For each function, the parameters some call passes an array to.

    A parameter used only in arithmetic could be a scalar or an array; what its callers pass
    decides its guard.  A value is taken for an array when it is used as only arrays are, or
    computed elementwise from such a value, within its function; when it is passed to a
    parameter its callee takes for an array; or when it is the result of a call that returns an
    array.  (A fixpoint over the whole call tree: the root's parameters have no caller, so what
    its callees do with them is their evidence, besides the kinds of the arguments of the call that
    compiled it, when there is one: Program.root_kinds.)  The guards are checked at run time: this
    evidence chooses which case gets the specialised body, never what a gradient is.
    """
    order = list(program._order)
    stmts = {key: list(ir.walk(program.functions[key].body)) for key in order}
    arrays = {key: _array_uses(stmts[key]) for key in order}
    passed = {key: set() for key in order}          # parameters some call passes an array to
    numbers = {key: set() for key in order}         # parameters some call passes a number to
    kinds = getattr(program, "root_kinds", None)
    if kinds:
        params = program.functions[program.root_key].params
        passed[program.root_key] = {p for p, k in zip(params, kinds) if k == "array"}
        numbers[program.root_key] = {p for p, k in zip(params, kinds) if k == "number"}
    evidence = {key: set() for key in order}
    changed = True
    while changed:
        changed = False
        for key in reversed(order):                 # callers before callees
            code, known = program.functions[key], arrays[key]
            before = (len(known), sum(map(len, passed.values())), sum(map(len, numbers.values())))
            only_numbers = numbers[key] - passed[key]       # (an array from any call wins)
            known |= passed[key]
            known -= only_numbers
            _elementwise_closure(stmts[key], known)
            known |= _added_to_arrays(stmts[key], known, set(code.params) - only_numbers)
            for s in stmts[key]:
                if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall):
                    callee = s.expr.callee
                    params = program.functions[callee].params
                    for param, atom in zip(params, s.expr.args):
                        if not isinstance(atom, ir.Name):
                            continue
                        if atom.id in known:
                            passed[callee].add(param)
                        elif atom.id in only_numbers:
                            numbers[callee].add(param)
                        elif param in arrays[callee]:
                            known.add(atom.id)
                    if _returns_array(stmts[callee], arrays[callee]):
                        known.add(s.target)
            evidence[key] = passed[key] | (known & set(code.params))
            changed |= before != (len(known), sum(map(len, passed.values())), sum(map(len, numbers.values())))
    return evidence


def _elementwise_closure(stmts, arrays: set) -> None:
    """Add to ``arrays`` the names computed elementwise from names in it."""
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if not isinstance(s, ir.Assign) or s.target in arrays:
                continue
            e = s.expr
            src = []
            if isinstance(e, (ir.Copy, ir.UnOp)):
                src = [e.a]
            elif isinstance(e, ir.BinOp) and not issubclass(e.op, ast.MatMult):
                src = [e.a, e.b]
            elif isinstance(e, ir.Prim) and not e.method and (isinstance(e.func, np.ufunc) or e.func in _SHAPE_KEEPING):
                src = list(e.args[:1]) if e.func in _SHAPE_KEEPING else list(e.args)
            elif isinstance(e, ir.Prim) and e.method in _SHAPE_KEEPING_METHODS:
                src = list(e.args[:1])
            if any(isinstance(a, ir.Name) and a.id in arrays for a in src):
                arrays.add(s.target)
                changed = True


def _added_to_arrays(stmts, arrays: set, params: set) -> set:
    """Parameters added to or subtracted from an array (``u - u_obs``): taken for arrays of its
    shape, as a misfit's observations are (a scalar offset fails the guard and takes the general
    body)."""
    out = set()
    for s in stmts:
        e = s.expr if isinstance(s, ir.Assign) else None
        if isinstance(e, ir.BinOp) and issubclass(e.op, (ast.Add, ast.Sub)):
            for a, b in ((e.a, e.b), (e.b, e.a)):
                if isinstance(a, ir.Name) and a.id in arrays and isinstance(b, ir.Name) and b.id in params:
                    out.add(b.id)
    return out


def _returns_array(stmts, arrays: set) -> bool:
    """Does every ``return`` of the function return a name known to be an array?"""
    returns = [s for s in stmts if isinstance(s, ir.Return)]
    return bool(returns) and all(isinstance(s.value, ir.Name) and s.value.id in arrays for s in returns)


def analyze_program(program) -> None:
    """Set ``code.shapes`` (a ShapeFacts) on every function, callees first."""
    evidence = call_evidence(program)
    summaries = {}
    for key in program._order:
        code = program.functions[key]
        code.shapes = ShapeFacts(code, summaries, evidence[key])
        summaries[key] = code.shapes.summary


__all__ = ["ShapeFacts", "analyze_program", "literal_type"]
