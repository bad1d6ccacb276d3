"""The root's output and cotangent checked, and gradients shaped and typed like the arguments."""

from __future__ import annotations

import numbers

import numpy as np


def check_cotangent(cotangent, value, name: str, path: str = ""):
    """Raise a ValueError unless ``cotangent`` has the structure and shapes of ``value``."""
    where = f" at {path}" if path else ""
    if isinstance(value, (tuple, list, dict)):
        if type(cotangent) is not type(value) or len(cotangent) != len(value) or \
                (isinstance(value, dict) and cotangent.keys() != value.keys()):
            raise ValueError(f"the cotangent must have the structure of {name}()'s output{where}: expected "
                             f"{_describe(value)}, given {_describe(cotangent)}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            check_cotangent(cotangent[k], v, name, f"{path}[{k!r}]")
        return
    if isinstance(value, (np.ndarray, np.generic, numbers.Number)):
        if not isinstance(cotangent, (np.ndarray, np.generic, numbers.Number)) or \
                np.asarray(cotangent).dtype.kind not in "biufc":
            raise ValueError(f"the cotangent must be numbers shaped like {name}()'s output{where}: expected "
                             f"{_describe(value)}, given {_describe(cotangent)}")
        if np.shape(cotangent) != np.shape(value):
            raise ValueError(f"the cotangent must have the shape of {name}()'s output{where}: expected shape "
                             f"{np.shape(value)}, given shape {np.shape(cotangent)}")


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"


def check_output(value, name):
    if isinstance(value, (float, int, np.floating, np.integer)) or (isinstance(value, np.ndarray) and value.size == 1):
        return
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name}() returned an array of shape {value.shape}; grad needs a scalar output "
                        "(use nba.vjp for vector outputs)")
    raise TypeError(f"{name}() returned {type(value).__name__}; grad needs a float output (use nba.vjp for "
                    "other outputs)")


def ones_like(value):
    if isinstance(value, np.ndarray):
        return np.ones_like(value, dtype=np.result_type(value.dtype, np.float64))
    return 1.0


def copy_out(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def finish_grad(g, x):
    """Gradient shaped like the argument, of its dtype: zeros where no adjoint reached it, None for integers."""
    if isinstance(x, (bool, int, np.integer, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype.kind in "biu"):
        return None
    if isinstance(x, np.ndarray):
        dtype = x.dtype if x.dtype.kind in "fc" else np.result_type(x.dtype, np.float64)
        if g is None:
            return np.zeros_like(x, dtype=dtype)
        g = np.asarray(g)
        if g.dtype.kind == "c" and dtype.kind != "c":
            g = g.real
        g = g.astype(dtype, copy=False)
        if g.shape != x.shape:
            g = np.broadcast_to(g, x.shape).copy()
        return g
    if isinstance(x, (float, np.floating)):
        scalar = float if isinstance(x, float) else type(x)
        if g is None:
            return scalar(0.0)
        if not isinstance(g, np.ndarray) or g.size == 1:
            g = np.real(g)
            return scalar(g.item() if isinstance(g, np.ndarray) else g)
        return g
    if isinstance(x, (tuple, list)):
        parts = g if g is not None else [None] * len(x)
        out = [finish_grad(gi, xi) for gi, xi in zip(parts, x)]
        return tuple(out) if isinstance(x, tuple) else out
    if isinstance(x, dict):
        parts = g if g is not None else {}
        return {k: finish_grad(parts.get(k) if isinstance(parts, dict) else None, v) for k, v in x.items()}
    if isinstance(x, (complex, np.complexfloating)):
        return g
    return g
