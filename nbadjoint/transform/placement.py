"""Reading placements: which call sites are checkpointed (True) and which split (False).

The one reader of placements given to ``nba.grad``, ``nba.profile``, the magic, the command line
and the widget; `nbadjoint.profiling.units` re-exports it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from ..errors import PlacementError

_TRUE = ("true", "yes", "1", "joint", "checkpointed", "checkpoint")
_FALSE = ("false", "no", "0", "split")


def parse_checkpointed(value, site=None):
    """Whether ``value`` says "checkpointed": True/False, 1/0, or one of the words
    true/false, yes/no, 1/0, joint/split (any case).  Anything else raises PlacementError."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    where = f" for call site {site!r}" if site is not None else ""
    raise PlacementError(f"cannot read {value!r}{where} as checkpointed or not: use True / False "
                         f"(or 'joint' / 'split', 'yes' / 'no', 1 / 0)")


def parse_placement(placement, what="placement"):
    """A placement as a dict of call-site id -> bool, read strictly (see `parse_checkpointed`).

    ``None`` stays None.  Raises PlacementError (a ValueError and a TypeError) for anything but
    a dict (or mapping) with str keys, and for a value `parse_checkpointed` cannot read.
    """
    if placement is None:
        return None
    if not isinstance(placement, Mapping):
        raise PlacementError(f"{what} must be a dict mapping call-site ids to True (checkpointed) or "
                             f"False (split), not {type(placement).__name__}")
    out = {}
    for site, value in placement.items():
        if not isinstance(site, str):
            raise PlacementError(f"{what}: call-site ids are strings like 'model:12:step', "
                                 f"got {site!r}")
        out[site] = parse_checkpointed(value, site)
    return out


__all__ = ["parse_checkpointed", "parse_placement", "PlacementError"]
