"""Parsing and human formatting of byte counts and durations; the readers of budgets and
(re-exported from `nbadjoint.transform.placement`) of placements.

Byte units follow the usual conventions: decimal ``kB``/``MB``/``GB``/``TB`` (powers of 1000)
and binary ``KiB``/``MiB``/``GiB``/``TiB`` (powers of 1024); unit letters are case-insensitive and
the trailing ``B`` is optional (``"200M"`` is 200 MB).
"""
from __future__ import annotations

import math
import re

from nbadjoint.transform.placement import parse_checkpointed, parse_placement  # noqa: F401  (re-exported)

_BYTE_UNITS = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6,
    "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20,
    "gi": 2**30, "gib": 2**30, "ti": 2**40, "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_bytes(value: "int | float | str") -> int:
    """Byte count of ``value``: an int, a float, or a string such as ``"200MB"`` or ``"1.5 GiB"``.

    Raises ValueError for negative numbers, unknown units and malformed strings.
    """
    if isinstance(value, bool):
        raise TypeError("a byte count cannot be a bool; pass an int or a string like '200MB'")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"byte count must be finite, got {value!r}")
        number = round(value)
    elif isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m is None:
            raise ValueError(f"cannot read {value!r} as a byte count; write a number with an "
                             f"optional unit, e.g. '200MB', '1.5 GiB' or '4096'")
        unit = m.group(2).lower()
        if unit not in _BYTE_UNITS:
            raise ValueError(f"unknown byte unit {m.group(2)!r} in {value!r}; use B, kB, MB, GB, "
                             f"TB or KiB, MiB, GiB, TiB")
        number = float(m.group(1)) * _BYTE_UNITS[unit]
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is too large to be a byte count")
        number = round(number)
    else:
        raise TypeError(f"a byte count must be an int or a string like '200MB', "
                        f"got {type(value).__name__}")
    if number < 0:
        raise ValueError(f"a byte count must not be negative, got {value!r}")
    return int(number)


def format_bytes(n: "int | float", signed: bool = False) -> str:
    """``1234567 -> "1.2 MB"``, ``512 -> "512 B"``; with ``signed`` a ``+``/``-`` always shows."""
    sign = "-" if n < 0 else ("+" if signed else "")
    a = abs(n)
    if a < 1000:
        return f"{sign}{int(round(a))} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        a /= 1000.0
        if round(a, 1) < 1000 or unit == "PB":
            return f"{sign}{a:.1f} {unit}"
    raise AssertionError("unreachable")


def format_seconds(t: float, signed: bool = False) -> str:
    """``0.0351 -> "35.1 ms"``, ``2.5 -> "2.5 s"``, ``4e-6 -> "4.0 µs"``; ``0 -> "0 s"``."""
    sign = "-" if t < 0 else ("+" if signed else "")
    a = abs(t)
    if a == 0:
        return f"{sign}0 s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if round(a / scale, 1) >= 1:
            return f"{sign}{a / scale:.1f} {unit}"
    return f"{sign}{a / 1e-9:.1f} ns"


def parse_budget(budget: "int | float | str", allow_zero: bool = False) -> int:
    """A memory budget in bytes: a positive int, float or string like ``"200MB"``, ``"1.5 GiB"``.

    The one reader of budgets for ``Profile.suggest``, the report, the magic, the CLI and the
    widget (the advisor itself also takes 0, ``allow_zero``).  Raises ValueError (TypeError for
    a value of the wrong type) naming the budget and the forms it accepts.
    """
    try:
        value = parse_bytes(budget)
    except ValueError as exc:
        raise ValueError(f"cannot read the budget {budget!r}: {exc}") from None
    except TypeError:
        raise TypeError(f"a budget must be a number of bytes or a string like '200MB' or "
                        f"'1.5 GiB', not {type(budget).__name__}") from None
    if value == 0 and not allow_zero:
        raise ValueError(f"the budget must be a positive number of bytes, got {budget!r}; "
                         f"write e.g. 200MB, '200 MiB', 1.5GiB or 4096")
    return value


__all__ = ["parse_bytes", "parse_budget", "parse_checkpointed", "parse_placement",
           "format_bytes", "format_seconds"]
