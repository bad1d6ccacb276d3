"""Adjoint plans: what each statement contributes to which adjoint, and what the backward sweep
reads; values the backward sweep recomputes instead of taping."""

from __future__ import annotations

import ast
import re
import inspect

import numpy as np

from . import ir, rules
from . import templates as T
from .alias import _VIEW_FUNCS, _sharing_links

_OLD = "_OLD_"      # stands for the value a statement's target had before it ran


class Plan:
    """What reversing one statement does: contributions (adjoint name, ast node or marker, mode),
    the primal values it reads, those it reads only for their shape, and whether it reverses a
    subscript read or a call."""

    __slots__ = ("contribs", "reads", "shape_only", "getitem", "call")

    def __init__(self):
        self.contribs = []          # (name, text, mode)
        self.reads = set()
        self.shape_only = set()
        self.getitem = None
        self.call = False


def _reads_of(node) -> tuple[set, set]:
    """(names read, names read only for their shape via _vjp.shape_of(name)) by an expression."""
    shape_only = set()
    plain = set()

    class V(ast.NodeVisitor):
        def visit_Call(self, node):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == "shape_of" and isinstance(f.value, ast.Name)
                    and f.value.id == "_vjp" and len(node.args) == 1 and isinstance(node.args[0], ast.Name)):
                shape_only.add(node.args[0].id)
                return
            self.generic_visit(node)

        def visit_Name(self, node):
            plain.add(node.id)

    V().visit(node)
    return plain, shape_only - plain


def _grad(rule, i, g, ans, args, kwargs):
    """The contribution (an ast node, or None) of argument ``i`` of a rule's primitive: ``g``
    and ``ans`` are names, ``args`` and ``kwargs`` the call's atoms (or _OLD)."""
    def node(a):
        return ast.Name(a, ast.Load()) if isinstance(a, str) else ir.node(a)
    return rule.ast_grads[i](node(g), node(ans), *map(node, args), **{k: node(v) for k, v in kwargs.items()})


def plan_recomputation(code, stmts, varied):
    """Cheap inactive values computed at the top of a loop body (indices like ``i + 1``) are
    recomputed at the top of each reversed iteration instead of being taped."""
    counts = code.def_counts
    code.recompute = {}
    for loop in stmts:
        if not isinstance(loop, ir.ForRange):
            continue
        inside = {id(x) for x in ir.walk(loop.body)}
        in_loop = {t for x in ir.walk(loop.body) for t in ir.defined(x)} | {loop.target}
        read_outside = set()
        for x in stmts:
            if id(x) not in inside and x is not loop:
                read_outside |= ir.reads(x)
        written = _maybe_written_in(code, loop)
        chosen, avail = [], set()
        for st in loop.body:
            if not (isinstance(st, ir.Assign) and isinstance(st.expr, (ir.BinOp, ir.UnOp, ir.Opaque))
                    and st.target not in varied and counts.get(st.target) == 1
                    and st.target not in read_outside
                    and st.target not in code.params):
                continue
            operands = ir.operands(st.expr) if not isinstance(st.expr, ir.Opaque) else set(st.expr.reads)
            if all(op == loop.target or op in avail or (op not in in_loop and op not in written)
                   for op in operands):
                chosen.append(st)
                avail.add(st.target)
        keep, wanted = [], set(code.needed)
        for st in reversed(chosen):         # only what the backward sweep reads, directly or not
            if st.target in wanted:
                keep.append(st)
                wanted |= ir.operands(st.expr) if not isinstance(st.expr, ir.Opaque) else set(st.expr.reads)
        chosen = keep[::-1]
        avail = {st.target for st in chosen}
        if chosen:
            code.recompute[id(loop)] = chosen
            invariants = {op for st in chosen for op in
                          (ir.operands(st.expr) if not isinstance(st.expr, ir.Opaque) else st.expr.reads)}
            code.needed -= avail
            code.needed |= (invariants - avail)


def _maybe_written_in(code, loop) -> set:
    """Names whose value loop ``loop`` may change in place: the targets of its writes (its own
    and its callees'), and every name that may share memory with one of those."""
    written = set()
    for st in ir.walk(loop.body):
        if isinstance(st, (ir.SetItem, ir.Append)):
            written.add(st.target)
        elif isinstance(st, ir.Assign) and isinstance(st.expr, ir.UserCall):
            callee = code.program.functions[st.expr.callee]
            written.update(a.id for p, a in zip(callee.params, st.expr.args)
                           if p in callee.mutated and isinstance(a, ir.Name))
    if not written:
        return written
    links = {}
    for st in ir.walk(code.body):
        for a, b in _sharing_links(st):
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
    todo = list(written)
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in written:
                written.add(other)
                todo.append(other)
    return written


def plan_prologue(code, stmts):
    """Values computed once, at the top level, from unmodified parameters and constants by one
    arithmetic operation (``0.5 * u``, ``dx * dx``) are recomputed at the start of the backward
    sweep instead of being taped."""
    counts = code.def_counts
    fixed = {p for p in code.params if p not in code.assigned and p not in code.mutated}
    # only values used as plain operands: never written in place, never aliased by another name
    other_uses = set()
    for st in stmts:
        e = getattr(st, "expr", None)
        if isinstance(st, ir.Assign) and (isinstance(e, (ir.BinOp, ir.UnOp)) or
                                          (isinstance(e, ir.Prim) and e.func not in _VIEW_FUNCS)):
            continue
        other_uses |= ir.reads(st)
        if isinstance(st, (ir.SetItem, ir.Append)):
            other_uses.add(st.target)
    code.prologue = []
    for st in code.body:
        if (isinstance(st, ir.Assign) and isinstance(st.expr, (ir.BinOp, ir.UnOp))
                and counts.get(st.target) == 1 and st.target not in code.params
                and st.target not in other_uses and ir.operands(st.expr) <= fixed):
            code.prologue.append(st)
            fixed.add(st.target)
    wanted = set(code.needed)
    keep = []
    for st in reversed(code.prologue):
        if st.target in wanted:
            keep.append(st)
            wanted |= ir.operands(st.expr)
    code.prologue = keep[::-1]
    code.needed -= {st.target for st in code.prologue}
    # recomputed when the backward sweep starts, after every write into the parameters: an
    # argument read there must not share memory with one this function writes into
    read = {n for st in code.prologue for n in ir.operands(st.expr)} & set(code.params)
    code.unsafe_pairs = code.unsafe_pairs | {(p, q) for p in code.mutated for q in read if q != p}


def lists_without_undo(code, stmts) -> set:
    """Lists and arrays the function builds itself (``new = [0.0] * n``, ``np.zeros(n)``) whose
    writes and appends need no undo in the backward sweep: nothing there reads them (not an
    adjoint, not a recomputed value, not a call).  Only this function sees their states between
    writes (a caller gets the list after the last one, and reverses what follows before this
    backward sweep runs), so undoing the writes would restore states nobody reads."""
    from . import shapes
    fresh = shapes._new_sequences(stmts, code.params, vectors=True)
    if not fresh:
        return set()
    # no other name may see their memory: a list may be read entry by entry or sliced (copies),
    # an array only at int indices of a vector (np.zeros(n) with an int n: NumPy scalars); any
    # other read (a view such as a[::2], a call, a copy of the name) keeps the undo
    lists = shapes._new_sequences(stmts, code.params, vectors=False)
    facts = getattr(code, "shapes", None)
    types = facts.types if facts is not None else {}
    vectors = {t for t in fresh - lists if types.get(t) == shapes.VECTOR}
    for s in stmts:
        for t in fresh & ir.reads(s):
            if not _private_use(s, t, t in lists, t in vectors, types):
                fresh.discard(t)
    read = set()
    for s in stmts:
        reads = set(code.plans[id(s)].reads)
        if isinstance(s, (ir.SetItem, ir.Append)):
            reads.discard(s.target)         # the undo's own read
            reads |= set(ir.names_in([s.value]))
        read |= reads
    for chosen in code.recompute.values():
        for st in chosen:
            read |= ir.operands(st.expr) if not isinstance(st.expr, ir.Opaque) else set(st.expr.reads)
    for st in code.prologue:
        read |= ir.operands(st.expr)
    return {t for t in fresh if t not in read}


def _private_use(s, t, is_list, is_vector, types) -> bool:
    """Statement ``s`` uses ``t`` without letting another name see its memory."""
    from . import shapes
    if isinstance(s, ir.SetItem):
        return s.target == t and t not in s.index.reads and t not in ir.names_in([s.value])
    if isinstance(s, ir.Append):
        return s.target == t and t not in ir.names_in([s.value])
    if isinstance(s, ir.Return):
        return True
    if isinstance(s, ir.Assign) and isinstance(s.expr, ir.GetItem):
        e = s.expr
        return isinstance(e.a, ir.Name) and e.a.id == t and t not in e.index.reads and (
            is_list or (is_vector and shapes._index_type(e.index, types) == shapes.INT))
    return isinstance(s, ir.Assign) and isinstance(s.expr, ir.Prim) and s.expr.func is len and not s.expr.method


def flows(code, s):
    """(target, names whose derivative flows into it) pairs of statement ``s`` of ``code``'s function."""
    pairs = _flows(s)
    if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall):
        callee = code.program.functions[s.expr.callee]
        reads = ir.names_in(s.expr.args)
        for param, atom in zip(callee.params, s.expr.args):
            if param in callee.mutated and isinstance(atom, ir.Name):
                pairs.append((atom.id, reads))       # the callee writes into this argument
    return pairs


def plan_statement(code, s) -> "Plan":
    plan = Plan()
    if isinstance(s, ir.Assign):
        expr = s.expr
        if isinstance(expr, ir.UserCall):
            plan.call = True
            plan.reads |= set(ir.names_in(expr.args))
            return plan
        if s.target not in code.active:
            return plan
        _plan_assign(code, s, expr, plan)
    elif isinstance(s, ir.SetItem):
        plan.reads |= set(s.index.reads)
        plan.reads.add(s.target)        # the undo of the write
        if s.target in code.active and isinstance(s.value, ir.Name) and s.value.id in code.active:
            plan.contribs.append((s.value.id, "part", "fit"))
    elif isinstance(s, ir.Append):
        plan.reads.add(s.target)
        if s.target in code.active and isinstance(s.value, ir.Name) and s.value.id in code.active:
            plan.contribs.append((s.value.id, "part", "add"))
    elif isinstance(s, ir.Unpack):
        if isinstance(s.value, ir.Name) and s.value.id in code.active and \
                any(t in code.active for t in s.targets):
            plan.contribs.append((s.value.id, "unpack", "add"))
    elif isinstance(s, ir.Effect):
        pass
    return plan


def _plan_assign(code, s, expr, plan):
    g = code.adj(s.target)
    ans = s.target
    if isinstance(expr, ir.Copy):
        if isinstance(expr.a, ir.Name) and expr.a.id in code.active:
            plan.contribs.append((expr.a.id, ast.Name(g, ast.Load()), "add"))
    elif isinstance(expr, (ir.BinOp, ir.UnOp)):
        if isinstance(expr, ir.BinOp):
            rule = rules.BINOP_RULES.get(expr.op)
            operands = [expr.a, expr.b]
        else:
            rule = rules.UNARYOP_RULES.get(expr.op)
            operands = [expr.a]
        if rule is None:
            return
        atoms = [_OLD if (isinstance(a, ir.Name) and a.id == s.target) else a for a in operands]
        for i, atom in enumerate(operands):
            if isinstance(atom, ir.Name) and atom.id in code.active:
                contribution = _grad(rule, i, g, ans, atoms, {})
                if contribution is not None:
                    _add_contrib(code, plan, atom.id, contribution, rule.broadcast, s, "plus")
    elif isinstance(expr, ir.Prim):
        if expr.rule is None:
            return
        _plan_prim(code, s, expr, g, ans, plan)
    elif isinstance(expr, ir.GetItem):
        if isinstance(expr.a, ir.Name) and expr.a.id in code.active:
            plan.reads |= set(expr.index.reads)
            plan.getitem = expr.a.id
    elif isinstance(expr, ir.Build):
        for k, atom in enumerate(expr.elts):
            if isinstance(atom, ir.Name) and atom.id in code.active:
                plan.contribs.append((atom.id, k, "split"))
    elif isinstance(expr, ir.BuildDict):
        for k, atom in enumerate(expr.values):
            if isinstance(atom, ir.Name) and atom.id in code.active:
                plan.contribs.append((atom.id, k, "split"))


def _plan_prim(code, s, expr, g, ans, plan):
    rule = expr.rule
    def txt(a):
        return _OLD if (isinstance(a, ir.Name) and a.id == s.target) else a
    pos = [txt(a) for a in expr.args]
    kw = {k: txt(a) for k, a in expr.kwargs.items()}
    param_of_kw = {}
    if any(isinstance(a, ir.Name) and a.id in code.active for a in expr.kwargs.values()):
        try:
            names = [p.name for p in inspect.signature(expr.func).parameters.values()
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = []
        for k, a in expr.kwargs.items():
            if isinstance(a, ir.Name) and a.id in code.active:
                if k not in names:
                    raise code.info.error(f"pass `{a.id}` to {expr.written or expr.name}() by position "
                                          f"(as {k}=... its derivative cannot be taken)", lineno=s.line)
                param_of_kw[names.index(k)] = a
    plus = rule.broadcast or isinstance(expr.func, np.ufunc) or \
        getattr(expr.func, "__module__", None) == "math" or expr.name.startswith("math.")
    arrays = _array_arguments(code, expr, rule, s.target) if _takes_array_likes(expr.func) else None
    for i, grad in enumerate(rule.grads):
        if i < len(expr.args):
            atom = expr.args[i]
        elif i in param_of_kw:
            atom = param_of_kw[i]
        else:
            continue
        if not (isinstance(atom, ir.Name) and atom.id in code.active):
            continue
        try:
            text = _grad(rule, i, g, ans, pos, kw)
        except rules.RuleError as exc:
            raise code.info.error(str(exc), lineno=s.line) from None
        if text is None:
            continue
        if arrays is not None:
            text = _through_sequences(code, text, arrays, atom.id, _OLD if atom.id == s.target else atom.id)
        _add_contrib(code, plan, atom.id, text, rule.broadcast, s, "plus" if plus else "add")


# ----- lists and tuples given to NumPy functions -----
#
# A NumPy (or SciPy) function takes a list or tuple of numbers or arrays wherever it takes an array,
# as np.asarray(x); its rule is written for arrays.  Where an argument may hold a list or tuple when
# the function runs (`_maybe_sequences`), the contribution hands the rule `_vjp.seq_array(x)` for the
# value and `_vjp.seq_shape(_vjp.shape_of(x))` for the shape marker, and turns what the rule gives
# back into x's structure with `_vjp.seq_adjoint` (the runtime.vjp notes): a list for a list, a
# tuple for a tuple, one entry per entry.  For an array or a number the helpers are the identity.

# NumPy functions whose result may be a list or tuple (of arrays): the others return an array or a
# number; those of _SEQUENCE_OF_SEVERAL only when given more than one argument, np.where only when
# given one (np.where(c) is a tuple, np.where(c, a, b) an array)
_SEQUENCE_RESULTS = frozenset(f for f in (
    getattr(np, name, None) for name in (
        "split", "array_split", "hsplit", "vsplit", "dsplit", "meshgrid", "gradient", "broadcast_arrays",
        "nonzero", "shape", "histogram", "histogram2d", "histogramdd", "unique", "indices", "ix_",
        "unravel_index", "polyfit", "tril_indices", "triu_indices", "diag_indices", "mask_indices")) if f is not None) | \
    frozenset(getattr(np.linalg, name) for name in ("eig", "eigh", "svd", "qr", "slogdet", "lstsq")) | \
    frozenset((np.ndarray.tolist,))
_SEQUENCE_OF_SEVERAL = frozenset((np.atleast_1d, np.atleast_2d, np.atleast_3d))
_NUMBER_BUILTINS = frozenset((float, int, abs, round, len, complex, bool, pow))


def _takes_array_likes(func) -> bool:
    """A NumPy or SciPy function with a built-in rule (one registered with nbadjoint.defvjp gets the
    arguments as they are)."""
    from . import user_rules
    if user_rules.lookup(func) is not None:
        return False
    if isinstance(func, np.ufunc):
        return True
    module = getattr(func, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "scipy")


def _maybe_sequences(code) -> set:
    """Names that may hold a list or tuple when ``code``'s function runs: the parameters a caller
    may pass one to (every parameter of the root), what a display, a builtin, an unknown expression or a user function that may return one gives,
    and what is taken or built from those (a copy, an entry, ``+`` and ``*``).  Not: NumPy and math
    results, other arithmetic."""
    known = getattr(code, "_maybe_sequences", None)
    if known is None:
        program = code.program
        functions = getattr(program, "functions", {})
        if functions.get(code.key) is code and getattr(program, "root_key", None) in functions:
            for key, found in _program_sequences(program).items():
                functions[key]._maybe_sequences = found
            known = code._maybe_sequences
        if known is None:                   # (a function seen alone: anything may be a sequence)
            known = _function_sequences(code, set(code.params), None)
        code._maybe_sequences = known
    return known


def _program_sequences(program) -> dict:
    """_maybe_sequences of every function of the call tree (which has no recursion): what each
    call passes and returns, to a fixpoint."""
    functions = program.functions
    calls = {key: [st.expr for st in ir.walk(code.body) if isinstance(st, ir.Assign)
                   and isinstance(st.expr, ir.UserCall) and st.expr.callee in functions]
             for key, code in functions.items()}
    called = {c.callee for found in calls.values() for c in found}
    # the root's parameters are lists or tuples where the arguments of the call it is compiled for
    # are (see argument_kinds: a program is compiled per kinds; without arguments, none is)
    kinds = getattr(program, "root_kinds", None) or ()
    root_params = functions[program.root_key].params if program.root_key in functions else []
    root_sequences = {p for p, k in zip(root_params, kinds) if k == "sequence"}
    bodies = {key: code.loop_body_of[0] for key, code in functions.items() if getattr(code, "loop_body_of", None)}
    params = {key: set() if (key in called or key in bodies) and key != program.root_key else
              (root_sequences if key == program.root_key else set(code.params))
              for key, code in functions.items()}
    returns: dict = {}                      # callee key -> True: it may return a list or tuple
    entries: dict = {}                      # callee key -> per entry of the tuple it returns (a display of
                                            # one length at every return): may that entry be a sequence?
    changed = True
    while changed:
        changed = False
        found = {}
        for key, code in functions.items():
            seq = found[key] = _function_sequences(code, params[key], returns, entries)
            ret = any(_atom_may_be_sequence(st.value, seq) for st in ir.walk(code.body) if isinstance(st, ir.Return))
            if ret and not returns.get(key):
                returns[key] = changed = True
            flags = _returned_entries(code, seq)
            if flags != entries.get(key, ()) and flags is not None:
                entries[key] = flags
                changed = True
            for body, caller in bodies.items():     # a loop's body: its state is the caller's names
                if caller == key:
                    passed = {p for p in functions[body].params if p in seq}
                    if not passed <= params[body]:
                        params[body] |= passed
                        changed = True
            for call in calls[key]:
                callee = functions[call.callee].params
                passed = {p for p, a in zip(callee, call.args) if _atom_may_be_sequence(a, seq)}
                passed |= set(callee[len(call.args):])
                if not passed <= params[call.callee]:
                    params[call.callee] |= passed
                    changed = True
    return found


def _function_sequences(code, params, returns, entries=None) -> set:
    """The names of one function that may hold a list or tuple, given the parameters that may, and
    the callees (keys) that may return one (``returns``; a callee missing there may not; None: any
    may; ``entries``: per entry, for callees returning a tuple display)."""
    stmts = list(ir.walk(code.body))
    seq = set(params) | _sequence_globals(code)
    made = {}                               # name -> the display or user call that is its one definition
    for st in stmts:
        if isinstance(st, ir.Assign) and isinstance(st.expr, (ir.Build, ir.UserCall)):
            made[st.target] = st.expr if st.target not in made else None
    changed = True
    while changed:
        changed = False
        for st in stmts:
            if isinstance(st, ir.Assign) and st.target not in seq and _may_be_sequence(st.expr, seq, returns):
                seq.add(st.target)
                changed = True
            elif isinstance(st, ir.Unpack) and _atom_may_be_sequence(st.value, seq):
                source = made.get(st.value.id) if isinstance(st.value, ir.Name) else None
                flags = None
                if isinstance(source, ir.Build) and len(source.elts) == len(st.targets):
                    flags = [_atom_may_be_sequence(a, seq) for a in source.elts]
                elif isinstance(source, ir.UserCall) and entries is not None:
                    known = entries.get(source.callee)
                    if known is not None and len(known) == len(st.targets):
                        flags = list(known)
                new = {t for k, t in enumerate(st.targets) if flags is None or flags[k]} - seq
                if new:
                    seq |= new
                    changed = True
    return seq


def _returned_entries(code, seq):
    """Per entry of the tuple display every ``return`` of ``code`` gives (one length): may it be a
    sequence?  None when a return gives anything else."""
    builds = {st.target: st.expr for st in ir.walk(code.body)
              if isinstance(st, ir.Assign) and isinstance(st.expr, ir.Build)}
    flags = None
    for st in ir.walk(code.body):
        if not isinstance(st, ir.Return):
            continue
        build = builds.get(st.value.id) if isinstance(st.value, ir.Name) else None
        if build is None or (flags is not None and len(flags) != len(build.elts)):
            return None
        these = tuple(_atom_may_be_sequence(a, seq) for a in build.elts)
        flags = these if flags is None else tuple(a or b for a, b in zip(flags, these))
    return flags


def _atom_may_be_sequence(atom, seq) -> bool:
    if isinstance(atom, ir.Name):
        return atom.id in seq
    if _GLOBAL_SUBSCRIPT.fullmatch(atom.src):
        return atom.src in seq                  # (see _sequence_globals)
    try:
        value = T.literal_value(ir.node(atom))
    except ValueError:
        return True                         # a closure value, a constant of the program
    return isinstance(value, (list, tuple))


_GLOBAL_SUBSCRIPT = re.compile(r"_G(\d+)\[('[^']*')\]")


def _sequence_globals(code) -> set:
    """The module globals (``_G0['name']``) ``code`` reads that hold a list or tuple now (a change
    of one compiles the program again)."""
    out = set()
    globals_ = getattr(code.program, "_globals", [])
    for st in ir.walk(code.body):
        for atom in _const_atoms(st):
            m = _GLOBAL_SUBSCRIPT.fullmatch(atom.src)
            if m and int(m.group(1)) < len(globals_) and \
                    isinstance(globals_[int(m.group(1))].get(ast.literal_eval(m.group(2))), (list, tuple)):
                out.add(atom.src)
    return out


def _const_atoms(st):
    e = getattr(st, "expr", None)
    atoms = list(getattr(e, "args", ())) + list(getattr(e, "kwargs", {}).values()) + \
        [getattr(e, k) for k in ("a", "b") if isinstance(getattr(e, k, None), ir.Const)] + \
        list(getattr(e, "elts", ())) + list(getattr(e, "values", ())) + \
        [getattr(st, "value", None)]
    return [a for a in atoms if isinstance(a, ir.Const)]


def _may_be_sequence(e, seq, returns) -> bool:
    if isinstance(e, ir.UserCall):
        return True if returns is None else returns.get(e.callee, False)
    if isinstance(e, (ir.Copy, ir.GetItem)):
        return _atom_may_be_sequence(e.a, seq)
    if isinstance(e, ir.BinOp):
        if e.op not in (ast.Add, ast.Mult) or (e.op is ast.Mult and e.a == e.b):
            return False                    # (list * list is an error)
        if any(isinstance(a, ir.Const) and T.is_literal_number(ir.node(a)) and
               not isinstance(T.literal_value(ir.node(a)), int) for a in (e.a, e.b)):
            return False                    # list + 0.5, list * 0.5 are errors
        return _atom_may_be_sequence(e.a, seq) or _atom_may_be_sequence(e.b, seq)
    if isinstance(e, (ir.UnOp, ir.BuildDict)):
        return False
    if isinstance(e, ir.Prim):
        func = e.func
        if func in _NUMBER_BUILTINS:
            return False
        if e.method == "copy":              # x.copy() of a list is a list
            return _atom_may_be_sequence(e.args[0], seq)
        try:
            if func in _SEQUENCE_RESULTS:
                return True
            if func is np.where:
                return len(e.args) + len(e.kwargs) == 1
            if func in _SEQUENCE_OF_SEVERAL:
                return len(e.args) + len(e.kwargs) > 1
        except TypeError:
            return True
        if isinstance(func, np.ufunc):
            return func.nout > 1
        module = getattr(func, "__module__", None) or ""
        return module.split(".")[0] not in ("numpy", "scipy", "math") and \
            getattr(func, "__objclass__", None) is not np.ndarray
    return True                             # displays, anything else


def _array_arguments(code, expr, rule, target) -> set:
    """The names (as the rule's expressions read them) of the arguments passed to array parameters
    (those with a derivative, not a sequence of arrays) that may hold a list or tuple."""
    seq = _maybe_sequences(code)
    out = set()
    given = [(i, a) for i, a in enumerate(expr.args)]
    for k, a in expr.kwargs.items():
        i = rule.index_of(k)
        if i is not None:
            given.append((i, a))
    for i, a in given:
        if expr.method and i == 0:
            continue                        # the array the method is called on
        if not (isinstance(a, ir.Name) and a.id in seq) or i >= len(rule.ast_grads):
            continue
        if rule.ast_grads[i] is rules._no_grad or rule.params[i].lstrip("*") in rule.sequences:
            continue
        out.add(_OLD if a.id == target else a.id)
    return out


class _AsArrays(ast.NodeTransformer):
    """Reads of the given names as NumPy takes them: ``_vjp.seq_array(x)``, and the shape marker
    ``_vjp.seq_shape(_vjp.shape_of(x))``."""

    def __init__(self, names):
        self.names = names

    def visit_Call(self, node):
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr == "shape_of" and isinstance(f.value, ast.Name)
                and f.value.id == "_vjp" and len(node.args) == 1 and isinstance(node.args[0], ast.Name)):
            if node.args[0].id in self.names:
                return T.expr("_vjp.seq_shape({m})", m=node)
            return node
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        if node.id in self.names and isinstance(node.ctx, ast.Load):
            return T.expr("_vjp.seq_array({x})", x=node)
        return node


def _through_sequences(code, text, arrays, name, read_as):
    """The contribution ``text`` to argument ``name`` (read as ``read_as`` by the rule) of a NumPy
    function: the arguments in ``arrays`` read as NumPy takes them, and the result in the form of
    ``name`` when it may be a list or tuple."""
    if arrays:
        text = _AsArrays(arrays).visit(text)
    if name not in _maybe_sequences(code):
        return text
    plain, _ = _reads_of(text)
    x = ast.Name(read_as, ast.Load())
    if read_as in plain or (read_as == name and code._free(name)):
        return T.expr("_vjp.seq_adjoint({c}, {x})", c=text, x=x)
    return T.expr("_vjp.seq_adjoint_of_shape({c}, _vjp.shape_of({x}))", c=text, x=x)


def _add_contrib(code, plan, name, text, broadcast, s, mode):
    plain, shape_only = _reads_of(text)
    plan.reads |= {n for n in plain if n in code.primal_names}
    if _OLD in plain:
        plan.reads.add(s.target)
    plan.shape_only |= shape_only
    plan.contribs.append((name, text, "bplus" if broadcast else mode))


def _flows(s):
    """(target, names whose derivative flows into it) pairs of one IR statement."""
    if isinstance(s, ir.Unpack):
        return [(t, ir.names_in([s.value])) for t in s.targets]
    tgt, reads = _flow(s)
    return [] if tgt is None else [(tgt, reads)]


def _flow(s):
    """(target, names whose derivative flows into it) of one IR statement."""
    if isinstance(s, ir.Assign):
        e = s.expr
        if isinstance(e, ir.BinOp):
            rule = rules.BINOP_RULES.get(e.op)
            if rule is None or all(g is rules._no_grad for g in rule.grads):
                return s.target, []
        elif isinstance(e, ir.Prim) and e.rule is None and e.norule is None:
            return s.target, []
        elif isinstance(e, ir.UserCall):
            return s.target, ir.names_in(e.args)
        elif isinstance(e, ir.Opaque):
            return s.target, list(e.reads) if e.kind == "boolop" else []
        return s.target, sorted(ir.operands(e))
    if isinstance(s, (ir.SetItem, ir.Append)):
        return s.target, ir.names_in([s.value])
    return None, []
