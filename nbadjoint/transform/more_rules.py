"""Derivative rules beyond the tables of `rules`: NumPy functions neither the tables nor autograd's
NumPy registry cover (np.average, np.cov, np.corrcoef, np.interp, np.trapezoid, np.gradient,
np.convolve, np.polyval, np.pad in constant mode, np.einsum in every form, np.linalg.lstsq), SciPy
functions through autograd's SciPy registry, and scipy.integrate.odeint with a right-hand side in
plain NumPy (its vjps come from nbadjoint itself, see `custom_vjp.odeint_grad`).

The NumPy rules are written like those of `rules` (templates calling helpers of
`nbadjoint.runtime.more_vjp`). A SciPy rule calls ``_vjp.scipy_vjp("scipy.X.name", ...)``, which
runs the vjp autograd registers on its wrapper of that very function (see
`nbadjoint.runtime.custom_vjp`); its ``Rule.name`` is empty, so the generated code calls the
user's function object itself for the primal.
"""

import ast
import functools
import inspect

import numpy as np

from nbadjoint.errors import RuleError
from nbadjoint.runtime import custom_vjp
from nbadjoint.transform import templates as T


def _einsum_slot(g, ans, v):
    """Operand k of np.einsum (written or interleaved form): _vjp.einsum_vjp."""
    k = v["_index"]
    if k >= len(v["operands"]):
        return None
    return T.expr("_vjp.einsum_vjp({g}, {k}, {s}, *{ops})", g=g, k=T.const(k + 1), s=v["subscripts"],
                  ops=list(v["operands"]))


def _gradient_f(g, ans, v):
    """np.gradient(f, *varargs, axis=..., edge_order=...) w.r.t. f: _vjp.gradient_grad."""
    return T.expr("_vjp.gradient_grad({g}, _vjp.shape_of({f}), {axis}, {edge_order}, *{spacing})", g=g,
                  f=v["f"], axis=v["axis"], edge_order=v["edge_order"], spacing=list(v["varargs"]))


def _gradient_spacing(g, ans, v):
    """np.gradient's spacing number k (a scalar, or the coordinates of the points along an axis):
    _vjp.gradient_spacing_grad."""
    k = v["_index"]
    if k >= len(v["varargs"]):
        return None
    return T.expr("_vjp.gradient_spacing_grad({g}, {ans}, {f}, {axis}, {edge_order}, {k}, *{spacing})", g=g,
                  ans=ans, f=v["f"], axis=v["axis"], edge_order=v["edge_order"], k=T.const(k),
                  spacing=list(v["varargs"]))


def _constant_pad(template):
    """np.pad's template, for mode='constant' only."""
    def grad(g, ans, v):
        if not _same(v["mode"], T.const("constant")):
            raise RuleError(f"np.pad(..., mode={ast.unparse(v['mode'])}) has no derivative rule (only mode='constant' "
                            "has one); build the padding with np.concatenate, e.g. np.concatenate([a[:1], a, a[-1:]]) "
                            "for 'edge'")
        return T.expr(template, g=g, ans=ans, **v)
    return grad


def _same(a, b):
    """rules._same: whether two argument nodes denote the same literal."""
    from . import rules as R
    return R._same(a, b)


def _refuse(message):
    """A template callable that refuses the argument (a RuleError with message)."""
    def grad(g, ans, v):
        raise RuleError(message)
    return grad


def numpy_rules():
    """Rules of the NumPy functions this module covers, keyed by function."""
    from . import rules as R      # (rules imports this module while it is built)
    r = {}
    rule = R._rule
    r[np.average] = rule(
        "np.average", "a, axis=None, weights=None, returned=False, *, keepdims=False", fixed=("returned",),
        a="_vjp.average_grad_a({g}, {a}, {axis}, {weights}, {keepdims})",
        weights="_vjp.average_grad_weights({g}, {a}, {axis}, {weights}, {ans}, {keepdims})")
    cov = "_vjp.cov_grad({g}, {m}, {y}, {rowvar}, {bias}, {ddof}, %d)"
    r[np.cov] = rule("np.cov", "m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, "
                     "*, dtype=None", fixed=("fweights", "aweights"), m=cov % 0, y=cov % 1)
    corr = "_vjp.corrcoef_grad({g}, {x}, {y}, {rowvar}, %d)"
    r[np.corrcoef] = rule("np.corrcoef", "x, y=None, rowvar=True, *, dtype=None", x=corr % 0, y=corr % 1)
    r[np.interp] = rule(
        "np.interp", "x, xp, fp, left=None, right=None, period=None", fixed=("period",),
        x="_vjp.interp_grad_x({g}, {x}, {xp}, {fp}, {left}, {right})",
        xp=_refuse("np.interp: no derivative with respect to the sample points xp (only the values fp, the "
                   "points x and left/right have one); pass xp as a constant"),
        fp="_vjp.interp_grad_fp({g}, {x}, {xp}, {fp}, {left}, {right})",
        left="_vjp.interp_grad_bound({g}, {x}, {xp}, True)",
        right="_vjp.interp_grad_bound({g}, {x}, {xp}, False)")
    for fname in ("trapezoid", "trapz"):
        if hasattr(np, fname):
            r[getattr(np, fname)] = rule(
                f"np.{fname}", "y, x=None, dx=1.0, axis=-1",
                y="_vjp.trapezoid_grad_y({g}, {y}, {x}, {dx}, {axis})",
                x="_vjp.trapezoid_grad_x({g}, {y}, {x}, {axis})",
                dx="_vjp.trapezoid_grad_dx({g}, {y}, {axis})")
    r[np.gradient] = rule("np.gradient", "f, *varargs, axis=None, edge_order=1", f=_gradient_f,
                          varargs=_gradient_spacing)
    conv = "_vjp.convolve_grad({g}, {a}, {v}, {mode}, %d)"
    r[np.convolve] = rule("np.convolve", "a, v, mode='full'", a=conv % 0, v=conv % 1)
    r[np.polyval] = rule("np.polyval", "p, x", p="_vjp.polyval_grad_p({g}, {p}, {x})",
                         x="_vjp.polyval_grad_x({g}, {p}, {x})")
    r[np.einsum] = rule("np.einsum", "subscripts, /, *operands, out=None, dtype=None, order='K', casting='safe', "
                        "optimize=False", fixed=("out",),
                        subscripts="_vjp.einsum_vjp({g}, 0, {subscripts}, *{operands})", operands=_einsum_slot)
    r[np.pad] = rule("np.pad", "array, pad_width, mode='constant', *, constant_values=0",
                     array=_constant_pad("_vjp.pad_grad({g}, _vjp.shape_of({array}), {pad_width})"),
                     constant_values=_constant_pad("_vjp.pad_grad_values({g}, _vjp.shape_of({array}), "
                                                   "{pad_width}, {constant_values})"))
    r[np.linalg.lstsq] = rule("np.linalg.lstsq", "a, b, rcond=None",
                              a="_vjp.lstsq_grad_a({g}, {a}, {b}, {ans})", b="_vjp.lstsq_grad_b({g}, {a}, {b}, {ans})")
    return r


# ----- rules built on vjp makers (autograd's convention) -----


def positional_names(func):
    """(inspect.Signature or None, names of func's positional parameters, "*name" slots for *args)."""
    from . import rules as R      # (rules imports this module while it is built)
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None, ["*args"] * R._VARIADIC_SLOTS
    names = []
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            names.extend(["*" + p.name] * R._VARIADIC_SLOTS)
    return sig, names


def maker_call(entry, key, display, sig, argnum, g, ans, args, kwargs):
    """The node ``_vjp.<entry>(key, argnum, g, ans, (*args,), {kwargs})``: the differentiated
    argument moved to its position when it was passed by keyword."""
    from . import rules as R      # (rules imports this module while it is built)
    args, kwargs = list(args), dict(kwargs)
    if argnum >= len(args):
        names = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)] if sig is not None else []
        while len(args) <= argnum and len(args) < len(names) and names[len(args)] in kwargs:
            args.append(kwargs.pop(names[len(args)]))
        if argnum >= len(args):
            raise RuleError(f"{display}: pass the differentiated argument number {argnum} by position")
    keywords = ast.Dict(keys=[ast.Constant(k) for k in kwargs], values=[T.clone(v) for v in kwargs.values()])
    return R._tidy(T.expr(f"_vjp.{entry}({{key}}, {{i}}, {{g}}, {{ans}}, (*{{args}},), {{kwargs}})",
                          key=T.const(key), i=T.const(argnum), g=g, ans=ans, args=args, kwargs=keywords))


_ODEINT_PARAMS = ("func, y0, t, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None, rtol=None, "
                  "atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0, mxordn=12, mxords=5, "
                  "printmessg=0, tfirst=False")


def _odeint_rule():
    """scipy.integrate.odeint(func, y0, t, args): the adjoint ODE, with func's vjps from nbadjoint itself."""
    from . import rules as R
    odeint = "_vjp.odeint_grad({g}, {ans}, {func}, {y0}, {t}, {args}, %r, {rtol}, {atol})"
    rule = R._rule("scipy.integrate.odeint", _ODEINT_PARAMS, fixed=("Dfun", "full_output", "tfirst", "tcrit"),
                   y0=odeint % "y0", t=odeint % "t", args=odeint % "args",
                   func=_refuse("scipy.integrate.odeint: the right-hand side function cannot be a differentiated "
                                "value; pass a function defined with def at module level"))
    return R.Rule("", rule.ast_grads, params=rule.params, sequences=("args",))


def _scipy_grad(full, sig, argnum, g, ans, *args, **kwargs):
    from . import rules as R      # (rules imports this module while it is built)
    if full == "scipy.signal.convolve":
        mode = kwargs.get("mode", args[2] if len(args) > 2 else T.const("full"))
        if not (R._same(mode, T.const("full")) or R._same(mode, T.const("valid"))):
            raise RuleError(f"scipy.signal.convolve(..., mode={ast.unparse(mode)}): autograd's rule, used here, "
                            "has modes 'full' and 'valid' only")
        args = args[:2]
        kwargs = {"mode": mode}
    return maker_call("scipy_vjp", full, full, sig, argnum, g, ans, args, kwargs)


def _scipy_undefined(full, argnum, pname, g, ans, *args, **kwargs):
    which = f"argument {argnum}" + ("" if pname.startswith("*") else f" ({pname})")
    raise RuleError(f"{full}: autograd's rule, used here, has no derivative with respect to {which}, counted from 0; "
                    "pass a constant there")


@functools.lru_cache(maxsize=None)
def scipy_rule(func):
    """A Rule for a SciPy function autograd's SciPy registry differentiates, or None."""
    from . import rules as R      # (rules imports this module while it is built)
    if getattr(func, "__module__", "") == "scipy.integrate._odepack_py" and getattr(func, "__name__", "") == "odeint":
        return _odeint_rule()
    entry = custom_vjp.scipy_table().get(func)
    if entry is None:
        return None
    full, maker, argnums = entry
    sig, names = positional_names(func)
    grads = tuple(functools.partial(_scipy_grad, full, sig, i) if argnums is None or i in argnums
                  else functools.partial(_scipy_undefined, full, i, names[i]) for i in range(len(names)))
    return R.Rule("", grads, params=tuple(names))


def _function_vjp(func, *args):
    """(func(*args), pullback) from nbadjoint's own adjoint of func: the vjps of odeint's right-hand
    side (`custom_vjp.odeint_grad`)."""
    from . import program, runner
    return runner.run_vjp(program.compile_tree(func, None, "scipy.integrate.odeint"), args)


custom_vjp.FUNCTION_VJP[0] = _function_vjp
