"""Cleanup of the None tests of generated sweeps ("no adjoint yet"), on their trees.

- ``nest_guarded_chains``: ``if a_b is not None: t_b = -a_b`` followed by ``if t_b is not None:
  ...``, where ``t_b`` is None before and set only there, to a value that cannot be None: the
  second block runs exactly when the first did, and goes inside it;
- ``drop_settled_none_tests``: a test of an adjoint already set in the same block (``x_b = -a_b``
  and later ``... if x_b is None else x_b + c``) is decided where it stands (and ``x_b = x_b``
  dropped).

``certain(node)`` is the caller's word on a call: True when it never evaluates to None. Each pass
takes a ``FunctionDef`` and changes it in place.
"""

from __future__ import annotations

import ast

from .cleanup import _assign_to, _is_init
from .sweep_ast import Comment


def _none_test(node):
    """(name, True for ``is not None`` / False for ``is None``) of ``name is [not] None``, else None."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name) \
            and isinstance(node.ops[0], (ast.Is, ast.IsNot)) and isinstance(node.comparators[0], ast.Constant) \
            and node.comparators[0].value is None:
        return node.left.id, isinstance(node.ops[0], ast.IsNot)
    return None


def _rebinds(node) -> set:
    """Names a tree binds or deletes."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def set_value(node, known: set, certain, names=lambda name: False) -> bool:
    """Can ``node`` never evaluate to None, given that the names of ``known`` are not None? (A
    call ``certain`` accepts, given no adjoint argument that may be None: a name ``names``
    accepts and ``known`` does not hold.)"""
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Tuple, ast.List, ast.Dict, ast.Set)):
        return True                 # (arithmetic on adjoints: numbers, arrays or sequences)
    if isinstance(node, ast.IfExp):
        return set_value(node.body, known, certain, names) and set_value(node.orelse, known, certain, names)
    if isinstance(node, ast.Call):
        return certain(node) and not any(isinstance(n, ast.Name) and names(n.id) and n.id not in known
                                         for n in ast.walk(node))
    return False


# -- nested chains --------------------------------------------------------------------------------

def nest_guarded_chains(fdef: ast.FunctionDef, certain, names) -> None:
    """``if a is not None: <body>`` followed (comments aside) by ``if t is not None: <more>``
    becomes one ``if`` running both, where ``t`` (a local name ``names`` accepts: an adjoint) is
    None whenever the first test runs, and set by it: only the sweep's initialisations (at the top
    of the function, before) and one plain assignment in ``<body>``, of a value that cannot be None
    there, bind it, and ``t = None`` in ``<more>`` (which a block that may run again, in a loop,
    must have: so ``t`` is None again when it does)."""
    params = {a.arg for a in fdef.args.args}
    binds = _binding_statements(fdef)
    for k, top in enumerate(fdef.body):
        if k == 0:
            _nest_in(fdef.body, fdef.body, True, binds, params, certain, names)
        for block in _inner_blocks(top):
            _nest_in(block, fdef.body[:k], False, binds, params, certain, names)


def _inner_blocks(st):
    """The statement lists nested in ``st``, outermost first."""
    for field in ("body", "orelse"):
        stmts = getattr(st, field, None)
        if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
            yield stmts
            for inner in list(stmts):
                yield from _inner_blocks(inner)


def _nest_in(body, before, top: bool, binds, params, certain, names) -> None:
    i = 0
    while i < len(body):
        st = body[i]
        j = i + 1
        while j < len(body) and isinstance(body[j], Comment):
            j += 1
        if j < len(body) and isinstance(st, ast.If) and isinstance(body[j], ast.If) and \
                _chains(st, body[j], before[:i] if top else before, top, binds, params, certain, names):
            st.body += body[i + 1:j] + body[j].body          # (the comments go inside too)
            del body[i + 1:j + 1]
            continue
        i += 1


def _binding_statements(fdef) -> dict:
    """name -> the statements that bind it (a compound statement: in its own head only)."""
    out: dict = {}

    def visit(stmts):
        for st in stmts:
            nested = [getattr(st, f) for f in ("body", "orelse", "finalbody") if isinstance(getattr(st, f, None), list)]
            nested += [h.body for h in getattr(st, "handlers", [])]
            if nested:
                names = _rebinds_head(st)
                for inner in nested:
                    visit(inner)
            else:
                names = _rebinds(st)
            for n in names:
                out.setdefault(n, []).append(st)
    visit(fdef.body)
    return out


def _rebinds_head(st) -> set:
    """Names a compound statement binds itself (a ``for`` target, a walrus in its test...)."""
    parts = [getattr(st, "target", None), getattr(st, "test", None), getattr(st, "iter", None)]
    parts += [ast.Name(h.name, ast.Store()) for h in getattr(st, "handlers", []) if h.name]
    parts += [w.optional_vars for w in getattr(st, "items", []) if w.optional_vars is not None]
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        parts.append(ast.Name(st.name, ast.Store()))
    return set().union(*(_rebinds(p) for p in parts if isinstance(p, ast.AST)))


def _chains(first, second, before, top, binds, params, certain, names) -> bool:
    if not (isinstance(first, ast.If) and isinstance(second, ast.If) and not first.orelse and not second.orelse):
        return False
    a, b = _none_test(first.test), _none_test(second.test)
    if a is None or b is None or not a[1] or not b[1]:
        return False
    t = b[0]
    if not names(t) or t in params:
        return False
    where = binds.get(t, [])
    inits = [s for s in where if _is_init(s)]
    resets = [s for s in where if not _is_init(s) and _assign_to(s) == t and _is_none(s.value)]
    assigned = [s for s in where if not _is_init(s) and not any(s is r for r in resets)]
    if not inits or len(assigned) != 1 or not all(any(s is x for x in before) for s in inits):
        return False
    if not all(any(r is x for x in second.body) for r in resets) or not (top or resets):
        return False
    known = {a[0]}
    for st in first.body:
        if st is assigned[0]:
            return set_value(st.value, known, certain, names) and \
                not any(isinstance(n, (ast.Break, ast.Continue)) for x in (first, second) for n in ast.walk(x))
        _update(st, known, certain, names)
    return False


def _is_none(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _update(st, known: set, certain, names) -> None:
    """``known`` after ``st`` runs (names certainly not None; an assignment tells only of the
    names ``names`` accepts, whose values are numbers, arrays or containers of them)."""
    name = _assign_to(st)
    if name is not None:
        if names(name) and set_value(st.value, known, certain, names):
            known.add(name)
        else:
            known.discard(name)
    elif not isinstance(st, Comment):
        known -= _rebinds(st)


# -- settled tests ---------------------------------------------------------------------------------

def drop_settled_none_tests(fdef: ast.FunctionDef, certain, names) -> None:
    """Decide the tests ``x is None`` / ``x is not None`` where ``x`` is certainly set: inside a
    test that ``x is not None``, or after a plain assignment to ``x`` (a name ``names`` accepts)
    of a value that cannot be None, with no rebinding in between."""
    fdef.body = _settle(fdef.body, set(), certain, names) or [ast.Pass()]


def _settle(stmts, known: set, certain, names) -> list:
    out = []
    todo = list(reversed(stmts))
    while todo:
        st = todo.pop()
        if isinstance(st, ast.If):
            test = _none_test(st.test)
            if test is not None and test[0] in known:
                todo += reversed(st.body if test[1] else st.orelse)      # (decided: its branch runs in place)
                continue
            when_set = {test[0]} if test is not None else set()
            st.body = _settle(st.body, known | (when_set if test and test[1] else set()), certain, names) \
                or [ast.Pass()]
            st.orelse = _settle(st.orelse, known | (when_set if test and not test[1] else set()), certain, names)
            known -= _rebinds(st)
        elif isinstance(st, (ast.For, ast.While, ast.AsyncFor)):
            rebound = _rebinds_but_copies_to_themselves(st)
            st.body = _settle(st.body, known - rebound, certain, names) or [ast.Pass()]
            st.orelse = _settle(st.orelse, known - rebound, certain, names)
            known -= rebound
        elif isinstance(st, ast.Assign) and _assign_to(st) in known and isinstance(st.value, ast.Name) \
                and st.value.id == st.targets[0].id:
            continue                                # x = x, x set: nothing to do
        elif isinstance(st, (ast.Assign, ast.Expr, ast.Return, ast.AugAssign)) and not isinstance(st, Comment):
            kinds = {type(n) for n in ast.walk(st)} if known else ()
            if ast.IfExp in kinds and ast.NamedExpr not in kinds:
                st = _SettledExpressions(known).visit(st)
            _update(st, known, certain, names)
        elif not isinstance(st, Comment):
            known -= _rebinds(st)
        out.append(st)
    return out


def _rebinds_but_copies_to_themselves(loop) -> set:
    """Names a loop binds or deletes, leaving out ``x = x`` (which changes nothing where ``x`` is set)."""
    out = _rebinds_head(loop)
    for n in ast.walk(ast.Module(loop.body + loop.orelse, [])):
        if isinstance(n, ast.stmt) and not hasattr(n, "body"):
            if not (_assign_to(n) is not None and isinstance(n.value, ast.Name) and n.value.id == n.targets[0].id):
                out |= _rebinds(n)
        elif isinstance(n, ast.stmt):
            out |= _rebinds_head(n)
    return out


class _SettledExpressions(ast.NodeTransformer):
    """``a if x is None else b`` with ``x`` known set: ``b`` (and ``is not None``: ``a``); not
    inside lambdas or comprehensions, which may run later."""

    def __init__(self, known):
        self.known = known

    def visit_Lambda(self, node):
        return node

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda

    def visit_IfExp(self, node):
        self.generic_visit(node)
        test = _none_test(node.test)
        if test is not None and test[0] in self.known:
            return node.body if test[1] else node.orelse
        return node
