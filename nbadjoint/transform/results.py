"""The root's output and cotangent checked, and gradients shaped and typed like the arguments."""

from __future__ import annotations

import numbers

import numpy as np

from ..runtime.objects import gradient_object, is_record


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
    """The root's value as the caller gets it: arrays copied, and lists, tuples and dicts rebuilt
    around copies, so that the backward sweep (which undoes the writes into them) cannot change
    what the caller holds."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is list:
        return [copy_out(v) for v in value]
    if type(value) is dict:
        return {k: copy_out(v) for k, v in value.items()}
    if isinstance(value, tuple):
        items = [copy_out(v) for v in value]
        return type(value)._make(items) if hasattr(type(value), "_make") else tuple(items)
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
        if isinstance(x, tuple):
            return type(x)._make(out) if hasattr(type(x), "_make") else tuple(out)    # a namedtuple stays one
        return out
    if isinstance(x, dict):
        parts = g if g is not None else {}
        return {k: finish_grad(parts.get(k) if isinstance(parts, dict) else None, v) for k, v in x.items()}
    if isinstance(x, (complex, np.complexfloating)):
        return g
    if is_record(x):            # an object: one of its class, holding the gradients of its attributes
        return gradient_object(g, x, finish_grad)
    return g


def check_argument_types(args, kwargs, name: str):
    """Refuse NumPy array subclasses anywhere in the arguments (inside tuples, lists and dicts too):
    a masked array's mask, an np.matrix's matrix product... are not what the adjoint computes.
    ``args`` are the positional arguments as the root receives them, ``name`` the root's name."""
    for k, value in enumerate(args):
        if type(value) is not np.ndarray:              # (the common case costs one comparison)
            _check_types(value, f"argument {k}", name, 0)
    for key, value in kwargs.items():
        if type(value) is not np.ndarray:
            _check_types(value, f"argument {key!r}", name, 0)


_PLAIN = (float, int, bool, complex, str, type(None))


def _check_types(value, where: str, name: str, depth: int):
    kind = type(value)
    if kind is np.ndarray or kind in _PLAIN or depth > 64:
        return
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name}(): {where} is {_subclass_problem(value)}")
    if isinstance(value, (tuple, list)):
        for k, item in enumerate(value):
            if type(item) is not np.ndarray and type(item) not in _PLAIN:
                _check_types(item, f"{where}[{k}]", name, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if type(item) is not np.ndarray and type(item) not in _PLAIN:
                _check_types(item, f"{where}[{key!r}]", name, depth + 1)


def _subclass_problem(value) -> str:
    if isinstance(value, np.ma.MaskedArray):
        return ("a masked array (np.ma.MaskedArray); masked arrays are not supported: pass x.filled(...) or "
                "x.data and apply the mask in the function (e.g. np.where(mask, x, 0.0))")
    if isinstance(value, np.matrix):
        return ("an np.matrix; np.matrix is not supported (its * is a matrix product and its results stay "
                "2-D): pass np.asarray(x) and write matrix products with @")
    kind = type(value)
    return (f"a {kind.__module__}.{kind.__qualname__}, a subclass of np.ndarray; only plain NumPy arrays are "
            "supported: pass np.asarray(x)")
