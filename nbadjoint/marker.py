"""``@nba.adjoint``: the marker of a function that is part of the differentiated call tree."""

from __future__ import annotations

import types

from .ids import MARKER_ATTRIBUTE
from .transform.roots import what_is


def adjoint(func):
    """Mark ``func`` as a node of the differentiated call tree.

    Calling it still runs the plain function; ``grad`` transforms it (and everything it calls).
    """
    if not isinstance(func, types.FunctionType):
        raise TypeError("nba.adjoint marks a function defined with `def` as part of the differentiated call "
                        f"tree (use it as a decorator: @nba.adjoint above the def); {what_is(func)}")
    setattr(func, MARKER_ATTRIBUTE, True)
    return func


__all__ = ["adjoint"]
