"""What the backward sweep knows of each adjoint while it is built, and small shared helpers.

An adjoint is DEAD (certainly None: nothing to do), LIVE (certainly set: plain ``+``) or UNKNOWN
(a None test) at each point of the backward sweep; branches and loops merge those states.
"""

from __future__ import annotations

import ast

DEAD, LIVE, UNKNOWN = "dead", "live", "unknown"


def _name(x):
    return ast.Name(x, ast.Load()) if isinstance(x, str) else x


def _const(value):
    return ast.Constant(value)


def _merge(a: dict, b: dict) -> dict:
    out = {}
    for k in set(a) | set(b):
        x, y = a.get(k, DEAD), b.get(k, DEAD)
        out[k] = x if x == y else UNKNOWN
    return out


def _single_index(index) -> bool:
    """One plain index (a name or an integer), no slice, tuple or ellipsis."""
    src = index.src
    return ":" not in src and "," not in src and "..." not in src and src.isidentifier() or _int_literal(src)


def _int_literal(text: str) -> bool:
    return text.lstrip("-(").rstrip(")").isdigit()
