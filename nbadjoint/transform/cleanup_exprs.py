"""Cleanup of generated sweeps inside expressions: what a careful hand would write more simply.

- ``merge_repeated_products``: ``g * (0.5 * u) + g * u * 0.5`` (the two contributions of
  ``0.5 * u * u`` to ``u``, equal bit for bit) becomes ``g * u``;
- ``fold_negations``: ``a + -b * c`` becomes ``a - b * c`` (the same value, bit for bit);
- ``drop_default_arguments``: ``_vjp.roll_grad(g, 1, None)`` becomes ``_vjp.roll_grad(g, 1)``
  where ``None`` is the runtime helper's default.

Each pass takes a ``FunctionDef`` and changes it in place.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import math

from .cleanup import _dotted, _pure


# -- repeated contributions -----------------------------------------------------------------------

def merge_repeated_products(fdef: ast.FunctionDef, names) -> None:
    """Two adjacent terms of a sum, products of the same one or two factors (in any order and
    grouping) and of constants that are powers of two, are equal bit for bit (scaling by a power of
    two is exact, and ``a * b`` is ``b * a``): their sum, exactly twice one of them, is written once
    with the constant doubled (``g * u * 2.0``; ``g * u`` where the constant doubles to 1).
    ``s + t + t`` is left as it is (``s + 2 t`` rounds differently). Only in the values of names
    ``names`` accepts (adjoints): the user's arithmetic is left as written."""
    for st in _assignments(fdef, names):
        st.value = _RepeatedProducts().visit(st.value)


class _RepeatedProducts(ast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Add):
            return node
        # only `t + t` (exactly 2 t): `(s + t) + t` is not `s + 2 t` bit for bit, and the general
        # body, where the guards fail, keeps the two additions (a guard must never change a gradient)
        merged = _merged_term(node.left, node.right)
        return node if merged is None else merged


def _merged_term(a, b):
    """``2 a`` written as one product, when ``a`` and ``b`` are products equal bit for bit; else None."""
    fa, fb = _factors(a), _factors(b)
    if fa is None or fb is None or not (_pure(a) and _pure(b)):
        return None
    (xa, ca), (xb, cb) = fa, fb
    if ca != cb or sorted(map(ast.dump, xa)) != sorted(map(ast.dump, xb)):
        return None
    product = xa[0]
    for x in xa[1:]:
        product = ast.BinOp(product, ast.Mult(), x)
    scale = 2 * ca
    if scale == 1:
        return product
    return ast.BinOp(product, ast.Mult(), ast.Constant(scale))


def _factors(node):
    """(factors that are not constants, product of the constant ones) of a product of one or two
    such factors and positive constants that are powers of two; None for anything else."""
    leaves, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            stack += [n.right, n.left]
        else:
            leaves.append(n)
    consts = [n.value for n in leaves if isinstance(n, ast.Constant)]
    others = [n for n in leaves if not isinstance(n, ast.Constant)]
    if not consts or not 1 <= len(others) <= 2 or not all(_power_of_two(c) for c in consts):
        return None
    return others, math.prod(consts)


def _power_of_two(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and \
        math.isfinite(value) and math.frexp(value)[0] == 0.5


# -- negations ------------------------------------------------------------------------------------

def fold_negations(fdef: ast.FunctionDef, names) -> None:
    """``a + -b``, ``a + -b * c`` and ``a + -b / c`` become ``a - b``, ``a - b * c``, ``a - b / c``:
    ``(-b) * c`` is ``-(b * c)`` and ``a + -d`` is ``a - d``, exactly, for numbers and arrays: only
    in the values of names ``names`` accepts (adjoints; the user's objects may differ)."""
    sums = [n for st in _assignments(fdef, names) for n in ast.walk(st.value)
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)]
    for node in sums:
        right, leading = node.right, node.right
        while isinstance(leading, ast.BinOp) and isinstance(leading.op, (ast.Mult, ast.Div)):
            leading = leading.left
        if not (isinstance(leading, ast.UnaryOp) and isinstance(leading.op, ast.USub)) or \
                isinstance(leading.operand, ast.Constant):      # (a + -1.0 * b: a literal, left as written)
            continue
        if right is leading:
            node.right = leading.operand
        else:
            parent = right
            while parent.left is not leading:
                parent = parent.left
            parent.left = leading.operand
        node.op = ast.Sub()


def _assignments(fdef, names) -> list:
    """The plain ``x = value`` statements of ``fdef`` whose ``x`` ``names`` accepts."""
    return [st for st in ast.walk(fdef) if isinstance(st, ast.Assign) and len(st.targets) == 1
            and isinstance(st.targets[0], ast.Name) and names(st.targets[0].id)]


# -- default arguments ----------------------------------------------------------------------------

def drop_default_arguments(fdef: ast.FunctionDef) -> None:
    """Trailing literal arguments of a runtime helper's call (``_vjp.*``, ``_rt.*``) that equal
    its defaults are left out."""
    for n in ast.walk(fdef):
        if isinstance(n, ast.Call) and not n.keywords:
            defaults = _defaults(_dotted(n.func))
            while n.args and len(n.args) <= len(defaults) and _same_literal(n.args[-1], defaults[len(n.args) - 1]):
                n.args.pop()


_NO_DEFAULT = object()
_MODULES = {"_vjp": "nbadjoint.runtime.vjp", "_rt": "nbadjoint.runtime.tape"}


@functools.lru_cache(maxsize=None)
def _defaults(dotted: str) -> tuple:
    """Per positional parameter of the runtime helper ``dotted``: its default (or _NO_DEFAULT)."""
    prefix, _, attr = dotted.partition(".")
    if prefix not in _MODULES or not attr or "." in attr:
        return ()
    func = getattr(importlib.import_module(_MODULES[prefix]), attr, None)
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return ()
    out = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        out.append(_NO_DEFAULT if p.default is p.empty else p.default)
    return tuple(out)


def _same_literal(node, default) -> bool:
    if not isinstance(node, ast.Constant) or default is _NO_DEFAULT:
        return False
    value = node.value
    if value is None or isinstance(value, bool) or default is None or isinstance(default, bool):
        return value is default
    return type(value) is type(default) and value == default
