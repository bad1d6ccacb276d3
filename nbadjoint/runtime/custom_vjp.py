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




# ----- scipy.integrate.odeint with a right-hand side in plain NumPy -----

# (func, *args) -> (func(*args), pullback) by nbadjoint's adjoint of func; set by the transform layer
# (nbadjoint.transform.more_rules), which the runtime may not import
FUNCTION_VJP = [None]
_ODEINT_LAST = [None]     # (g, ans, contributions): y0, t and args come from one backward integration


def odeint_grad(g, ans, func, y0, t, args, which, rtol=None, atol=None):
    """Adjoint of ``scipy.integrate.odeint(func, y0, t, args)`` = ans w.r.t. y0, t or args (`which`):
    the adjoint ODE integrated backward between the output times (autograd's scheme), with the
    vector-Jacobian products of ``func`` from nbadjoint's own adjoint of it (``nbadjoint.vjp``),
    so ``func`` is written with plain NumPy like the rest of the model."""
    last = _ODEINT_LAST[0]
    if last is None or last[0] is not g or last[1] is not ans:
        last = (g, ans, _odeint_adjoint(g, ans, func, y0, t, tuple(args), rtol, atol))
        _ODEINT_LAST[0] = last
    y0_b, t_b, args_b = last[2]
    if which == "y0":
        return y0_b
    if which == "t":
        return t_b
    return args_b


def _odeint_adjoint(g, yt, func, y0, t, args, rtol, atol):
    from scipy.integrate import odeint

    vjp = FUNCTION_VJP[0]
    yt = np.asarray(yt, dtype=float)
    g = np.asarray(g, dtype=float)
    t = np.asarray(t, dtype=float)
    n_t, n = yt.shape
    sizes = [int(np.size(a)) if _is_float(a) else 0 for a in args]
    n_args = sum(sizes)
    options = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}

    def rhs_vjp(y, time, ct):
        out, pullback = vjp(func, y, float(time), *args)
        cts = pullback(_shaped_like(ct, out))
        flat = [np.zeros(s) if c is None else np.ravel(np.asarray(c, dtype=float))
                for c, s in zip(cts[2:], sizes)]
        t_b = 0.0 if cts[1] is None else float(cts[1])
        return np.ravel(np.asarray(out, dtype=float)), np.ravel(np.asarray(cts[0], dtype=float)), t_b, \
            (np.concatenate(flat) if flat else np.zeros(0))

    def augmented(state, time):
        y, y_b = state[:n], state[n:2 * n]
        dy, vy, vt, va = rhs_vjp(y, time, -y_b)
        return np.concatenate([dy, vy, [vt], va])

    y_b = g[-1].copy()
    t0_b = 0.0
    times_b = np.zeros(n_t)
    args_b = np.zeros(n_args)
    for i in range(n_t - 1, 0, -1):
        f_i = np.ravel(np.asarray(func(yt[i], t[i], *args), dtype=float))
        times_b[i] = float(f_i @ g[i])
        t0_b -= times_b[i]
        state = np.concatenate([yt[i], y_b, [t0_b], args_b])
        state = odeint(augmented, state, np.array([t[i], t[i - 1]]), **options)[1]
        y_b = state[n:2 * n] + g[i - 1]
        t0_b = state[2 * n]
        args_b = state[2 * n + 1:]
    times_b[0] = t0_b
    out_args, start = [], 0
    for a, s in zip(args, sizes):
        if s == 0:
            out_args.append(None)
        else:
            piece = args_b[start:start + s]
            out_args.append(_shaped_like(piece, a))
        start += s
    return _shaped_like(y_b, y0), times_b, tuple(out_args)


def _is_float(x):
    return isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f") or \
        (isinstance(x, (list, tuple)) and all(isinstance(e, (float, np.floating)) for e in x) and len(x) > 0)


def _shaped_like(flat, like):
    """flat in the form of like: a list of floats for a list, an array of like's shape otherwise."""
    flat = np.asarray(flat, dtype=float)
    if isinstance(like, list):
        return [float(v) for v in np.ravel(flat)]
    if isinstance(like, tuple):
        return tuple(float(v) for v in np.ravel(flat))
    if np.ndim(like) == 0:
        return float(np.ravel(flat)[0])
    return flat.reshape(np.shape(like))


__all__ = ["scipy_vjp", "user_vjp", "odeint_grad"]
