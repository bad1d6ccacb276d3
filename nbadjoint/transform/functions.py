"""What the derivative rules need to know of library functions besides their derivatives: which
are not differentiable (or draw random numbers), the name each is called by in generated code, and
which always return a new array."""

import builtins
import functools
import inspect
import math
import numpy as np
from nbadjoint.runtime import vjp as _vjp


# ----- non-differentiable functions -----

_NONDIFF_NP = (
    "floor ceil round around rint fix trunc sign heaviside floor_divide "
    "argmax argmin argsort argpartition argwhere nonzero flatnonzero count_nonzero searchsorted digitize "
    "shape ndim size result_type isscalar iscomplexobj isrealobj "
    "zeros ones empty zeros_like ones_like empty_like arange eye identity indices tri "
    "isnan isinf isfinite isneginf isposinf isclose allclose array_equal array_equiv isreal iscomplex "
    "logical_and logical_or logical_not logical_xor all any "
    "greater greater_equal less less_equal equal not_equal "
    "bitwise_and bitwise_or bitwise_xor bitwise_not invert left_shift right_shift "
    "unravel_index ravel_multi_index histogram bincount unique"
).split()
_NONDIFF_MATH = "floor ceil trunc isnan isinf isfinite isclose factorial comb perm gcd lcm".split()
_NONDIFF_BUILTINS = (builtins.int, builtins.bool, builtins.range, builtins.len, builtins.round, builtins.isinstance,
                     builtins.type, builtins.id, builtins.hash, builtins.print, builtins.str, builtins.repr,
                     builtins.enumerate, builtins.callable, builtins.any, builtins.all)


@functools.lru_cache(maxsize=1)
def _nondiff_set():
    out = {getattr(np, n) for n in _NONDIFF_NP if hasattr(np, n)}
    out |= {getattr(math, n) for n in _NONDIFF_MATH if hasattr(math, n)}
    out |= set(_NONDIFF_BUILTINS)
    try:  # everything autograd treats as constant
        import autograd.numpy  # noqa: F401
        from autograd.core import VJPNode
        from autograd.tracer import notrace_primitives

        out |= {getattr(f, "fun", None) for f in notrace_primitives[VJPNode]} - {None}
    except ImportError:
        pass
    from .rules import hand_rule_functions      # (rules.py imports this module)
    return frozenset(out - hand_rule_functions())


def _is_random(func):
    """Whether func draws random numbers (np.random functions and generator methods)."""
    owner = getattr(func, "__self__", None)
    if isinstance(owner, (np.random.RandomState, np.random.Generator)):
        return True
    return (getattr(func, "__module__", None) or "").startswith("numpy.random")


def is_nondifferentiable(func):
    """Whether func's output never carries a derivative (comparisons, rounding, indices, shapes, creation, random)."""
    try:
        if func in _nondiff_set():
            return True
    except TypeError:
        return False
    return _is_random(func)


# ----- canonical names -----

_NAMESPACES = (("np.", np), ("np.linalg.", np.linalg), ("np.fft.", np.fft), ("np.random.", np.random),
               ("math.", math), ("", builtins))


@functools.lru_cache(maxsize=1)
def _name_table():
    """Function object -> canonical text, first namespace wins, shortest then alphabetical name within one."""
    table = {}
    for prefix, module in _NAMESPACES:
        names = sorted((n for n in vars(module) if not n.startswith("_")), key=lambda n: (len(n), n))
        # a type is named by its own name (np.float64, not its alias np.double)
        names.sort(key=lambda n: not (isinstance(vars(module)[n], type) and vars(module)[n].__name__ == n))
        for n in names:
            obj = getattr(module, n)
            if not callable(obj) or inspect.ismodule(obj):
                continue
            try:
                table.setdefault(obj, prefix + n)
            except TypeError:
                continue
    for n in sorted(vars(np.ndarray)):
        if not n.startswith("_"):
            obj = getattr(np.ndarray, n)
            if callable(obj):
                table.setdefault(obj, "np.ndarray." + n)
    return table


def canonical_name(func):
    """The text that names func in generated code ("np.x", "np.linalg.x", "math.x", a builtin), or None."""
    try:
        return _name_table().get(func)
    except TypeError:
        return None


# ----- functions that always return a new array -----

_FRESH_NP = (
    "zeros ones empty full zeros_like ones_like empty_like full_like arange linspace logspace eye identity "
    "array copy concatenate stack vstack hstack dstack column_stack block dot matmul outer inner "
    "tensordot kron cross sum mean prod max min amax amin std var cumsum cumprod median average diff roll tile "
    "repeat take clip where sort trace convolve correlate polyval interp meshgrid tril triu pad"
).split()


def _fresh_result():
    out = {getattr(np, n) for n in _FRESH_NP if hasattr(np, n)}
    out |= {obj for obj in vars(np).values() if isinstance(obj, np.ufunc)}
    out |= {getattr(np.linalg, n) for n in ("solve", "inv", "norm", "det", "pinv", "cholesky", "eigh", "eig",
                                            "svd", "qr", "lstsq", "matrix_power", "slogdet")}
    out |= {np.ndarray.flatten, np.ndarray.copy, np.ndarray.astype}
    out |= {getattr(math, n) for n in dir(math) if callable(getattr(math, n))}
    out |= {builtins.abs, builtins.float, builtins.sum, builtins.pow, _vjp.add_at, _vjp.subtract_at}
    return frozenset(out)


FRESH_RESULT = _fresh_result()
