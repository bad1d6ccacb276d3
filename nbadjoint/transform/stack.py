"""Room on the stack for deep call trees: a raised recursion limit, or a thread with a large stack."""

from __future__ import annotations

import contextlib
import sys
import threading


SHALLOW = 50                      # call trees at most this deep run without a look at the stack
_LIMIT_LOCK = threading.Lock()
_LIMIT_STATE = {"users": 0, "saved": None, "set": None}


@contextlib.contextmanager
def recursion_room(frames: int):
    """Raise the recursion limit so that ``frames`` more frames fit, for the duration (restored after)."""
    needed = _frames_in_use() + frames
    if needed <= sys.getrecursionlimit():
        yield
        return
    with _LIMIT_LOCK:
        if _LIMIT_STATE["users"] == 0:
            _LIMIT_STATE["saved"] = sys.getrecursionlimit()
        _LIMIT_STATE["users"] += 1
        if needed > sys.getrecursionlimit():
            sys.setrecursionlimit(needed)
            _LIMIT_STATE["set"] = needed
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT_STATE["users"] -= 1
            if _LIMIT_STATE["users"] == 0 and sys.getrecursionlimit() == _LIMIT_STATE["set"]:
                sys.setrecursionlimit(_LIMIT_STATE["saved"])


def _frames_in_use() -> int:
    n, frame = 0, sys._getframe()
    while frame is not None:
        n += 1
        frame = frame.f_back
    return n


_DEEP_STACK_BYTES = 512 * 1024 * 1024
_DEEP_FRAMES = 200_000


def in_deep_stack(fn):
    """``fn()`` run in a thread with a large stack and a high recursion limit (deep call trees)."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:       # handed to the calling thread
            result["error"] = exc

    with _LIMIT_LOCK:
        old = threading.stack_size()
        try:
            threading.stack_size(_DEEP_STACK_BYTES)
            thread = threading.Thread(target=target, name="nbadjoint-compile", daemon=True)
        finally:
            threading.stack_size(old)
    with recursion_room(_DEEP_FRAMES):
        thread.start()
        thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
