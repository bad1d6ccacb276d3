"""Allocator tuning for tape-heavy runs (glibc only).

A forward sweep keeps arrays alive on the tape while it goes on allocating temporaries.  With
glibc's default thresholds (mmap above 128 KiB, return freed heap to the OS above 128 KiB), the
heap top is given back and faulted in again on nearly every time step of a model whose arrays
are tens of KiB, so the forward sweep pays fresh pages the primal never pays: on the Burgers
example (10^4 cells) it ran at 1.6x the primal's time for this reason alone, 1.1x without it.

glibc raises both thresholds by itself the first time a program frees a large block (its
"dynamic mmap threshold"); :func:`keep_freed_memory` sets them once per process to the values it
would choose after freeing a 16 MiB block: arrays up to 16 MiB come from the heap, and up to
32 MiB of freed heap is kept for reuse instead of being returned.  Set the environment variable
``NBADJOINT_MALLOC_TUNING=0`` to leave the allocator alone.  Elsewhere than glibc this is a no-op.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1           # glibc's mallopt() parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 << 20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

_state = {"done": False, "tuned": False}


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for tape-heavy runs (once per process); True if it was tuned."""
    if _state["done"]:
        return _state["tuned"]
    _state["done"] = True
    if os.environ.get("NBADJOINT_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first, as glibc's own adjustment does
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _state["tuned"] = ok
    return ok
