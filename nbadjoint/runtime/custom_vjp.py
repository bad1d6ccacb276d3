"""Runtime of derivative rules given as vjp makers in autograd's convention,
``maker(ans, *args, **kwargs) -> (g -> contribution)``: autograd's SciPy registry, and the rules
users register with ``nbadjoint.defvjp``.

Generated code reaches the two entry points as ``_vjp.scipy_vjp`` and ``_vjp.user_vjp``.

SciPy: autograd wraps SciPy functions in its own primitives (``autograd.scipy.special.erf`` wraps
``scipy.special.erf``, ``autograd.scipy.stats.norm.cdf`` wraps ``scipy.stats.norm.cdf``) and
registers their vjps on the wrappers. `scipy_makers` maps the function a user calls (found by module
and name: ``scipy.X.name`` for ``autograd.scipy.X.name``) to the registered maker, and only when the
wrapper's primal is that very function, so the user's call computes what autograd differentiates.
"""

import importlib

import numpy as np

_SCIPY_MODULES = (
    "special", "linalg", "signal",
    "stats.norm", "stats.t", "stats.beta", "stats.chi2", "stats.gamma", "stats.poisson",
    "stats.multivariate_normal", "stats.dirichlet",
)

# autograd implements these itself (its primal is not SciPy's): SciPy computes the primal, autograd's
# maker the derivative, for the arguments and keyword values listed (checked by the rules)
SAME_AS_SCIPY = {"scipy.signal.convolve"}

_TABLE = None


def scipy_table():
    """{user-facing SciPy function: (its name "scipy.X.name", autograd's maker, argnums or None)}."""
    global _TABLE
    if _TABLE is not None:
        return _TABLE
    table = {}
    try:
        from autograd.core import primitive_vjps
    except ImportError:
        _TABLE = table
        return table
    for sub in _SCIPY_MODULES:
        try:
            ours = importlib.import_module("autograd.scipy." + sub)
            theirs = _scipy_object("scipy." + sub)
        except (ImportError, AttributeError):
            continue
        for name, wrapper in vars(ours).items():
            try:
                maker = primitive_vjps.get(wrapper)
            except TypeError:
                continue
            if maker is None:
                continue
            func = getattr(theirs, name, None)
            full = f"scipy.{sub}.{name}"
            if func is None or (getattr(wrapper, "fun", None) != func and full not in SAME_AS_SCIPY):
                continue
            try:
                table.setdefault(func, (full, maker, _argnums(maker)))
            except TypeError:
                continue
    _TABLE = table
    return table


def _scipy_object(path):
    """The module or object named by a dotted path ("scipy.stats.norm" is a distribution object)."""
    try:
        return importlib.import_module(path)
    except ImportError:
        head, _, tail = path.rpartition(".")
        return getattr(importlib.import_module(head), tail)


def _argnums(maker):
    """The argument numbers an autograd maker differentiates (None: any)."""
    closure = dict(zip(maker.__code__.co_freevars, maker.__closure__ or ()))
    cell = closure.get("vjps_dict")
    return None if cell is None else frozenset(cell.cell_contents)


_BY_NAME = {}


def scipy_vjp(name, argnum, g, ans, args, kwargs):
    """Contribution of the SciPy function `name`(*args, **kwargs) = ans to args[argnum], from the vjp
    autograd registers on its wrapper of that function."""
    maker = _BY_NAME.get(name)
    if maker is None:
        for full, found, _ in scipy_table().values():
            _BY_NAME[full] = found
        maker = _BY_NAME[name]
    if np.iscomplexobj(g) and not np.iscomplexobj(ans):
        g = np.real(g)
    return next(iter(maker((argnum,), ans, args, kwargs)(g)))


# ----- user rules (nbadjoint.defvjp) -----

_USER_MAKERS = {}     # token -> (display name, tuple of makers or None per argument)


def register_user_makers(token, name, makers):
    """Keep the makers of a rule registered under `token` (tokens are never reused)."""
    _USER_MAKERS[token] = (name, makers)


def user_vjp(token, argnum, g, ans, args, kwargs):
    """Contribution of a user-registered primitive to args[argnum]: ``makers[argnum](ans, *args,
    **kwargs)(g)``, checked to be a function and to answer in the argument's shape."""
    name, makers = _USER_MAKERS[token]
    maker = makers[argnum]
    vjp = maker(ans, *args, **kwargs)
    if not callable(vjp):
        raise TypeError(f"the vjp maker for argument {argnum} of {name} (nba.defvjp) returned "
                        f"{type(vjp).__name__}, not a function g -> contribution; write it as "
                        "lambda ans, *args: lambda g: ...")
    out = vjp(g)
    arg = args[argnum]
    want, got = np.shape(arg), np.shape(out)
    if want != got:
        raise ValueError(f"the vjp of {name} (nba.defvjp) for argument {argnum} returned shape {got}, but the "
                         f"argument has shape {want}; return a contribution of the argument's shape")
    if isinstance(arg, float) and np.ndim(out) == 0:
        return float(np.real(out)) if not isinstance(out, complex) else out
    return out


__all__ = ["scipy_vjp", "user_vjp"]
