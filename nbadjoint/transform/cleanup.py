"""Cleanup of generated sweeps, on their trees: what a careful hand would not write.

- ``prune_inits``: ``a_b = b_b = None`` at the top of a sweep keeps only the names some read may
  reach before they are assigned (adjoints are otherwise created where first written);
- ``propagate_copies``: ``_t2_b = _t3_b`` followed by reads of ``_t2_b`` reads ``_t3_b`` instead;
- ``remove_dead_stores``: an assignment of a pure expression to a generated name nothing reads
  afterwards is dropped;
- ``inline_single_uses``: a temporary read once (a tape read, ``_m1 = _c.tape.pop()``, where
  nothing touches the tape in between; an adjoint whose value is a plain ``-d_b``) is written at
  its read;
- ``merge_accumulations``: ``x = A`` and a later ``x = x + B`` become ``x = A + B``;
- ``inline_handles``: ``_pop = _c.tape.pop`` read a few times, never in a loop, is written at its
  reads.

Passes on expressions (repeated contributions, ``+ -``, default arguments) are in cleanup_exprs.py.

Each pass takes a ``FunctionDef`` and changes it in place; only generated names (those the
``generated`` predicate accepts) are renamed or dropped, never the user's variables.
"""

from __future__ import annotations

import ast
from .sweep_ast import Comment
from .templates import clone

_PURE_CALLS = {"_rt.ub", "_rt.ubl", "_rt.summed", "_rt.add", "_vjp.div", "_vjp.ub_seq", "_vjp.ubl_seq",
               "_vjp.roll_grad", "_vjp.mean_grad", "_vjp.sum_grad"}


# Calls that change only the tape: no expression of the sweep reads it, so one may move past them
_TAPE_CALLS = {"_pop", "_c.tape.pop"}


def _stores(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _loads(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _is_init(st) -> bool:
    """One of the ``a = b = None`` statements a sweep starts with (marked ``init`` when built)."""
    return getattr(st, "init", False)


# -- definite assignment ---------------------------------------------------------------------------

def _reads_before_assignment(stmts, assigned: frozenset, out: set) -> frozenset:
    """Add to ``out`` the names read where they may be unassigned; returns the names certainly
    assigned after ``stmts`` (given ``assigned`` before)."""
    for st in stmts:
        if isinstance(st, ast.If):
            out |= _loads(st.test) - assigned
            a = _reads_before_assignment(st.body, assigned, out)
            b = _reads_before_assignment(st.orelse, assigned, out)
            assigned = a & b
        elif isinstance(st, (ast.For, ast.While)):
            head = st.iter if isinstance(st, ast.For) else st.test
            out |= _loads(head) - assigned
            inner = assigned | (_stores(st.target) if isinstance(st, ast.For) else frozenset())
            _reads_before_assignment(st.body, frozenset(inner), out)     # the body may not run
            _reads_before_assignment(st.orelse, assigned, out)
        elif isinstance(st, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            value = st.value
            out |= (_loads(value) if value is not None else set()) - assigned
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            for t in targets:
                out |= _loads(t) - assigned                    # x[i] = ...: reads x (and i)
                if isinstance(st, ast.AugAssign):
                    out |= _stores(t) - assigned
            assigned = assigned | frozenset(n for t in targets for n in _stores(t))
        elif isinstance(st, Comment):
            continue
        else:
            out |= _loads(st) - assigned
            assigned = assigned | frozenset(_stores(st))      # walrus targets
    return assigned


def prune_inits(fdef: ast.FunctionDef) -> None:
    """Drop from the ``a = b = None`` statements of a sweep the names certainly assigned before
    every read."""
    body = fdef.body
    inits = [st for st in body if _is_init(st)]
    if not inits:
        return
    init_names = {t.id for st in inits for t in st.targets}
    rest = [st for st in body if not any(st is i for i in inits)]
    params = frozenset(a.arg for a in fdef.args.args)
    early = set()
    _reads_before_assignment(rest, params, early)
    keep = sorted(init_names & early)
    new_inits = init_statements(keep)
    first = next(k for k, st in enumerate(body) if _is_init(st))
    fdef.body = body[:first] + new_inits + [st for st in body[first:] if not _is_init(st)]


def init_statements(names) -> list:
    """``a = b = c = None`` statements, six names each, marked as a sweep's initialisations."""
    out = []
    for k in range(0, len(names), 6):
        st = ast.Assign([ast.Name(n, ast.Store()) for n in names[k:k + 6]], ast.Constant(None))
        st.init = True
        out.append(st)
    return out


# -- copy propagation -----------------------------------------------------------------------------

def _count_names(node, ctx) -> dict:
    """How many times each name occurs in ``node`` in context ``ctx`` (ast.Load or ast.Store)."""
    counts: dict = {}
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ctx):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


class ReplaceReads(ast.NodeTransformer):
    """Every read of the name ``name`` replaced by a copy of the expression ``value``."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def visit_Name(self, node):
        if node.id == self.name and isinstance(node.ctx, ast.Load):
            return clone(self.value)
        return node


def propagate_copies(fdef: ast.FunctionDef, generated, returned=lambda name: False) -> None:
    """Replace the reads of ``a`` by ``b`` after a copy ``a = b``, and drop the copy, where ``a``
    (a generated name, or a name ``returned`` accepts that only ``return`` statements read) is
    assigned once in the function, read only after the copy in the same block, and ``b`` is not
    assigned again before the last of those reads."""
    counts = _count_names(fdef, ast.Store)
    changed = True
    while changed:
        changed = False
        for block in _blocks(fdef):
            for i, st in enumerate(block):
                if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                        and isinstance(st.value, ast.Name)):
                    continue
                a, b = st.targets[0].id, st.value.id
                if a == b or counts.get(a) != 1 or \
                        not (generated(a) or returned(a) and _read_only_by_returns(fdef, a)):
                    continue
                before = block[:i]
                if any(a in _loads(x) for x in before):
                    continue
                later = block[i + 1:]
                users = [k for k, x in enumerate(later) if a in _loads(x)]
                if _read_outside(fdef, block, a):
                    continue
                last = users[-1] if users else -1
                if any(b in _stores(x) for x in later[:last + 1]):
                    continue
                # a read of `a` in the statement that also rebinds `b` reads the old `b`: fine only
                # when the read comes first, which holds for plain statements (value before target)
                for k in users:
                    later[k] = ReplaceReads(a, ast.Name(b, ast.Load())).visit(later[k])
                del block[i]
                counts[a] = 0
                changed = True
                break
            if changed:
                break


def _read_only_by_returns(fdef, name) -> bool:
    """Is ``name`` read only in ``return`` statements (``u0_b = u_b; return (u0_b, ...)``)?"""
    returned = {id(n) for st in ast.walk(fdef) if isinstance(st, ast.Return) for n in ast.walk(st)}
    return all(id(n) in returned for n in ast.walk(fdef)
               if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load))


def _read_outside(fdef, block, name) -> bool:
    """Is ``name`` read anywhere but inside the statements of ``block``?"""
    inside = {id(n) for st in block for n in ast.walk(st)}
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) and id(n) not in inside
               for n in ast.walk(fdef))


def _blocks(node):
    """Every statement list of a tree, outermost first."""
    return (stmts for stmts, _ in _blocks_at(node, 1))


# -- dead stores ----------------------------------------------------------------------------------

def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return ""


def _pure(node, also=frozenset()) -> bool:
    """Does evaluating ``node`` change nothing (its calls pure, or in ``also``)?"""
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and _dotted(n.func) not in _PURE_CALLS and _dotted(n.func) not in also:
            return False
        if isinstance(n, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
    return True


def remove_dead_stores(fdef: ast.FunctionDef, generated) -> None:
    """Drop ``a = <pure expression>`` where ``a`` is a generated name no later statement reads."""
    while _remove_dead(fdef.body, set(), generated):
        pass


def _remove_dead(stmts, live_out: set, generated) -> bool:
    """One backward pass over ``stmts``; True when something was removed."""
    removed = False
    live = _live_in(stmts, set(live_out), generated, drop=True)
    del live
    for st in stmts:
        if getattr(st, "_dead", False):
            removed = True
    if removed:
        stmts[:] = [st for st in stmts if not getattr(st, "_dead", False)]
    return removed


def _live_in(stmts, live: set, generated, drop: bool) -> set:
    for st in reversed(stmts):
        if isinstance(st, ast.If):
            a = _live_in(st.body, set(live), generated, drop)
            b = _live_in(st.orelse, set(live), generated, drop)
            if drop:
                st.body[:] = [x for x in st.body if not getattr(x, "_dead", False)] or [ast.Pass()]
                st.orelse[:] = [x for x in st.orelse if not getattr(x, "_dead", False)]
            live = a | b | _loads(st.test)
        elif isinstance(st, (ast.For, ast.While)):
            head = _loads(st.iter) if isinstance(st, ast.For) else _loads(st.test)
            if isinstance(st, ast.While):
                live = live | head              # the test runs again after each pass through the body
            entry = set(live)
            for _ in range(20):
                new = _live_in(st.body, entry | live, generated, False) | live
                if new == entry:
                    break
                entry = new
            else:
                entry = entry | {n.id for n in ast.walk(st) if isinstance(n, ast.Name)}
            if drop:
                _live_in(st.body, entry | live, generated, True)
                st.body[:] = [x for x in st.body if not getattr(x, "_dead", False)] or [ast.Pass()]
            live = entry | head
        elif isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            target = st.targets[0].id
            if drop and generated(target) and target not in live and _pure(st.value):
                st._dead = True
                continue
            live = (live - {target}) | _loads(st.value)
        elif isinstance(st, Comment):
            continue
        else:
            stores = {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                      and isinstance(st, ast.Assign) and any(n is t for t in st.targets)}
            reads = _loads(st) | (_stores(st.target) if isinstance(st, ast.AugAssign) else set())
            live = (live - stores) | reads
    return live


def drop_orphan_comments(stmts) -> list:
    """Drop line comments left with no code under them (before another comment or the block's end)."""
    out = []
    for k, st in enumerate(stmts):
        if isinstance(st, Comment) and st.text.startswith(("line ", "adjoint of line ")):
            nxt = stmts[k + 1] if k + 1 < len(stmts) else None
            if nxt is None or (isinstance(nxt, Comment) and nxt.text.startswith(("line ", "adjoint of line "))):
                continue
        for field in ("body", "orelse"):
            inner = getattr(st, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(st, field, drop_orphan_comments(inner) or [ast.Pass()] if field == "body" else
                        drop_orphan_comments(inner))
        out.append(st)
    return out


# -- single-use temporaries -----------------------------------------------------------------------

def _may_change_objects(st) -> bool:
    """May statement ``st`` change an object in place (a write at an index or into an attribute,
    ``op=``, or a call that is not pure)? An expression is not moved past such a statement."""
    for n in ast.walk(st):
        if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store):
            return True
        if isinstance(n, ast.AugAssign):
            return True
        if isinstance(n, ast.Call) and _dotted(n.func) not in _PURE_CALLS | _TAPE_CALLS:
            return True
    return False


def inline_single_uses(fdef: ast.FunctionDef, generated, fits, plain=lambda name: False) -> None:
    """``t = <pure expression>`` read once, by a later plain statement of the same block, with
    nothing it reads assigned in between: the expression takes the place of the read (the same
    tree, so the same arithmetic) where ``fits(statement)`` still holds.

    ``t`` is a generated name; or a tape read (``_m1 = _c.tape.pop()``); or a name ``plain``
    accepts (an adjoint) whose value is a name or a negated name (``advective_b = -diffusive_b``);
    or a primal value the backward sweep recomputes (``d = u - u_obs``).
    A value that reads the tape moves only where nothing in between touches the tape or calls
    anything impure, and only to a read that is certainly evaluated before any impure call of its
    statement: the tape is read in the same order."""
    stores, loads = _count_names(fdef, ast.Store), _count_names(fdef, ast.Load)
    changed = True
    while changed:              # (moving an expression keeps the counts of the names it reads)
        changed = False
        for block in _blocks(fdef):
            i = 0
            while i < len(block):
                st = block[i]
                name = _assign_to(st)
                if name is not None and stores.get(name) == 1 and loads.get(name) == 1 and \
                        (_inlinable(name, st.value, generated, plain) or _recomputed(st)) and \
                        _inline_at_read(block, i, name, st.value, _reads_tape(st.value), fits):
                    stores[name] = loads[name] = 0
                    changed = True
                    continue
                i += 1


def _recomputed(st) -> bool:
    """A primal value the backward sweep computes again (``d = u - u_obs  # recomputed, not
    taped``): read once, it may be computed where it is read."""
    return getattr(st, "comment", None) == "recomputed, not taped" and _pure(st.value)


def _inlinable(name, value, generated, plain) -> bool:
    if not (generated(name) or name.startswith("_") and _is_tape_read(value) or plain(name) and _is_plain(value)):
        return False
    return _pure(value) or _reads_tape(value) and _pure(value, _TAPE_CALLS)


def _inline_at_read(block, i, name, value, tape: bool, fits) -> bool:
    """Write ``value`` (assigned to ``name`` by ``block[i]``) at its read in a later statement of
    ``block``, if nothing in between forbids it; True when done."""
    reads = _loads(value)
    for k in range(i + 1, len(block)):
        later = block[k]
        if name in _loads(later):
            if not isinstance(later, (ast.Assign, ast.Expr, ast.Return)) or isinstance(later, Comment):
                return False
            if tape and not _read_before_impure_calls(later, name):
                return False
            new = ReplaceReads(name, value).visit(clone(later))
            if not fits(new):
                return False
            block[k] = new
            del block[i]
            return True
        if reads & _stores(later) or _may_change_objects(later) or \
                isinstance(later, (ast.If, ast.For, ast.While)) and \
                reads & {n.id for n in ast.walk(later) if isinstance(n, ast.Name)}:
            return False
        if tape and _reads_tape(later):
            return False
    return False


def _is_tape_read(node) -> bool:
    """``_pop()`` / ``_c.tape.pop()``: the next entry of the tape."""
    return isinstance(node, ast.Call) and _dotted(node.func) in _TAPE_CALLS and not node.args and not node.keywords


def _reads_tape(node) -> bool:
    return any(isinstance(n, ast.Call) and _dotted(n.func) in _TAPE_CALLS for n in ast.walk(node))


def _is_plain(node) -> bool:
    """A name, or a negated name: nothing a reader loses when it is written at its one read."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Name)


_CONDITIONAL = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _read_before_impure_calls(st, name) -> bool:
    """Is the one read of ``name`` in ``st`` evaluated unconditionally, and before every call of
    ``st`` that is not pure (calls enclosing the read run after it)?"""
    parents = {id(c): n for n in ast.walk(st) for c in ast.iter_child_nodes(n)}
    read = next(n for n in ast.walk(st) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load))
    enclosing, node = set(), read
    while id(node) in parents:
        parent = parents[id(node)]
        if isinstance(parent, _CONDITIONAL) or \
                isinstance(parent, ast.IfExp) and node is not parent.test or \
                isinstance(parent, ast.BoolOp) and node is not parent.values[0]:
            return False
        enclosing.add(id(parent))
        node = parent
    return all(id(n) in enclosing or _dotted(n.func) in _PURE_CALLS
               for n in ast.walk(st) if isinstance(n, ast.Call))


# -- joined statements -----------------------------------------------------------------------------

def name_temporaries(fdef: ast.FunctionDef, generated) -> None:
    """``_t5 = <expr>`` later copied into a name of the source, ``x_b = _t5``: the value is
    assigned to ``x_b`` directly and later reads of ``_t5`` read ``x_b``, where both names are
    assigned once and ``x_b`` is not read before the copy."""
    stores, changed = _count_names(fdef, ast.Store), True
    params = {a.arg for a in fdef.args.args}
    while changed:
        changed = False
        for block in _blocks(fdef):
            for k, st in enumerate(block):
                u, t = _assign_to(st), st.value if isinstance(st, ast.Assign) else None
                if u is None or not isinstance(t, ast.Name) or generated(u) or not generated(t.id) \
                        or stores.get(u) != 1 or stores.get(t.id) != 1:
                    continue
                d = next((i for i in range(k) if _assign_to(block[i]) == t.id), None)
                # (``x_b`` read between the two would read its old value; ``_t5`` read outside
                # this block would keep its name)
                if d is None or u in params or any(u in _loads(x) for x in block[:k]) or \
                        _read_outside(fdef, block, t.id):
                    continue
                block[d].targets[0].id = u
                del block[k]
                for i in range(d + 1, len(block)):
                    block[i] = ReplaceReads(t.id, ast.Name(u, ast.Load())).visit(block[i])
                stores[t.id], changed = 0, True
                break
            if changed:
                break


def _assign_to(st):
    """The name a plain ``name = value`` statement binds, else None."""
    if isinstance(st, ast.Assign) and not isinstance(st, Comment) and len(st.targets) == 1 \
            and isinstance(st.targets[0], ast.Name) and not _is_init(st):
        return st.targets[0].id
    return None


def merge_accumulations(fdef: ast.FunctionDef, fits, movable=lambda name: False) -> None:
    """``x = A`` followed by ``x = x + B`` (``B`` not reading ``x``; also ``x = x + B - C``...)
    becomes ``x = A + B`` at the place of the second: the same operations in the same order, one
    statement, where ``fits(statement, depth)`` holds (``depth``: 1 for the function's body). The
    statements in between (if any: only for a name ``movable`` accepts, an adjoint, whose
    arithmetic is on numbers and arrays) must be plain ones that do not read or assign ``x``,
    assign what ``A`` reads or change objects in place, and ``A`` must then be pure (it is
    evaluated later)."""
    for block, depth in _blocks_at(fdef, 1):
        summed = {_assign_to(st) for st in block if _assign_to(st) and _accumulated(st, _assign_to(st))}
        i = 0
        while i < len(block):
            if _assign_to(block[i]) in summed and _merge_forward(block, i, depth, fits, movable):
                continue
            i += 1


def _merge_forward(block, i, depth, fits, movable) -> bool:
    st = block[i]
    x = _assign_to(st)
    if x is None or isinstance(st.value, ast.Constant) and st.value.value is None:
        return False
    reads, moved = _loads(st.value), False
    for k in range(i + 1, len(block)):
        nxt = block[k]
        if isinstance(nxt, Comment):
            continue
        if _accumulated(nxt, x):
            if moved and not _pure(st.value) or getattr(st, "comment", None) and getattr(nxt, "comment", None):
                return False
            merged = ast.Assign([ast.Name(x, ast.Store())], _with_first_term(nxt.value, st.value),
                                type_comment=None)
            merged.lineno = merged.end_lineno = getattr(st, "lineno", 1)     # (ast.unparse reads it)
            comment = getattr(st, "comment", None) or getattr(nxt, "comment", None)
            if comment:
                merged.comment = comment
            if not fits(merged, depth):
                return False
            block[k] = merged
            del block[i]
            return True
        if not movable(x) or not isinstance(nxt, ast.Assign) or x in _loads(nxt) | _stores(nxt) \
                or reads & _stores(nxt) or _may_change_objects(nxt):
            return False
        moved = True
    return False


def _accumulated(st, x) -> bool:
    """Is ``st`` ``x = x + B`` / ``x = x + B - C`` (``x`` read once, first)?"""
    if _assign_to(st) != x or getattr(st, "init", False):
        return False
    node = st.value
    while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        node = node.left
    return node is not st.value and isinstance(node, ast.Name) and node.id == x and \
        _count_names(st.value, ast.Load).get(x) == 1


def _with_first_term(chain, first):
    """A copy of the sum ``chain`` (``x + B - C``) with ``first`` in the place of ``x``."""
    out = clone(chain)
    node = out
    while isinstance(node.left, ast.BinOp) and isinstance(node.left.op, (ast.Add, ast.Sub)):
        node = node.left
    node.left = first
    return out


def _blocks_at(node, depth):
    """(statement list, its depth) for every statement list of a tree, outermost first."""
    for field in ("body", "orelse"):
        stmts = getattr(node, field, None)
        if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
            yield stmts, depth
            for st in list(stmts):
                yield from _blocks_at(st, depth + 1)


def inline_call_results(fdef: ast.FunctionDef) -> None:
    """``_r = f(...)`` directly followed by ``x = _r[k]``, its only read, becomes ``x = f(...)[k]``
    (the call still runs at the same point: nothing else is evaluated in between)."""
    loads, stores = _count_names(fdef, ast.Load), _count_names(fdef, ast.Store)
    for block in _blocks(fdef):
        i = 0
        while i + 1 < len(block):
            r, nxt = _assign_to(block[i]), block[i + 1]
            if r is not None and r.startswith("_") and loads.get(r) == 1 and stores.get(r) == 1 \
                    and _assign_to(nxt) is not None and isinstance(nxt.value, ast.Subscript) \
                    and isinstance(nxt.value.value, ast.Name) and nxt.value.value.id == r \
                    and isinstance(nxt.value.slice, ast.Constant):
                nxt.value.value = block[i].value
                del block[i]
                continue
            i += 1


# -- handles --------------------------------------------------------------------------------------

_LOOPS = (ast.For, ast.While, ast.AsyncFor, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def inline_handles(fdef: ast.FunctionDef, handles, most: int = 3) -> None:
    """``_pop = _c.tape.pop`` (a name of ``handles`` bound once, at the top of the function, to an
    attribute of a parameter never rebound) read at most ``most`` times and never in a loop: the
    attribute is written at each read (the same object: a handle only saves a lookup per read)."""
    params = {a.arg for a in fdef.args.args}
    stores, loads = _count_names(fdef, ast.Store), _count_names(fdef, ast.Load)
    in_loops = None
    for st in list(fdef.body):
        h = _assign_to(st)
        if h is None or h not in handles or stores.get(h) != 1 or not 0 < loads.get(h, 0) <= most:
            continue
        in_loops = _names_in_loops(fdef) if in_loops is None else in_loops
        if h in in_loops:
            continue
        root = st.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if not (isinstance(st.value, ast.Attribute) and isinstance(root, ast.Name) and root.id in params
                and not stores.get(root.id)):
            continue
        fdef.body.remove(st)
        fdef.body[:] = [ReplaceReads(h, st.value).visit(x) for x in fdef.body]


def _names_in_loops(fdef) -> set:
    """Names read anywhere a loop may evaluate again: loop bodies and tests, comprehensions,
    lambdas (a ``for`` statement's iterable, evaluated once, is not)."""
    out = set()
    for n in ast.walk(fdef):
        if isinstance(n, (ast.For, ast.AsyncFor)):
            parts = n.body + n.orelse + [n.target]
        elif isinstance(n, _LOOPS):
            parts = [n]
        else:
            continue
        for part in parts:
            out |= _loads(part)
    return out
