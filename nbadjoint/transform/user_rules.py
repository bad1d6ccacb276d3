"""Derivative rules registered by users, in autograd's ``defvjp`` convention.

    import nbadjoint as nba

    @nba.primitive                      # nbadjoint calls it, and does not read its source
    def logistic(x, k):
        return 1.0 / (1.0 + np.exp(-k * x))

    nba.defvjp(logistic,
               lambda ans, x, k: lambda g: g * k * ans * (1 - ans),      # d/dx
               lambda ans, x, k: lambda g: np.sum(g * x * ans * (1 - ans)))   # d/dk

Each maker receives the result and the call's arguments (``ans, *args, **kwargs``) and returns the
vector-Jacobian product ``g -> contribution``, which must have the argument's shape. ``None`` in a
maker's place: that argument gets no derivative (zero); an argument beyond the makers given has no
rule, and differentiating with respect to it is refused. A registered rule takes precedence over
the built-in one of the same function (np.sin, scipy.special.erf, ...), and is used by nba.grad,
nba.vjp and nba.profile; programs compiled before are compiled again.
"""

import functools
import inspect
import itertools

from nbadjoint.errors import RuleError
from nbadjoint.runtime import custom_vjp

from . import more_rules
from . import rules as R
from .parse import is_user_function

_REGISTERED = {}                     # function -> Rule, or NONDIFF
NONDIFF = object()
_TOKENS = itertools.count()


def _display(func):
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def primitive(func):
    """A function that calls ``func`` and that nbadjoint treats as one primitive: it does not read
    ``func``'s source, so ``nba.defvjp`` can give it a rule. Usable as a decorator."""
    if not callable(func):
        raise TypeError(f"nba.primitive takes a function, not {type(func).__name__}")

    def wrapped(*args, **kwargs):
        return func(*args, **kwargs)

    for attr in ("__name__", "__qualname__", "__doc__"):
        setattr(wrapped, attr, getattr(func, attr, None))
    wrapped.__signature__ = _signature(func)
    wrapped.__wrapped_primitive__ = func
    wrapped.__module__ = __name__      # a library function: called, never read
    return wrapped


def _signature(func):
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _check_maker(func, k, maker, sig):
    """Refuse a maker that is not callable or cannot take (ans, *required positional arguments)."""
    if maker is None:
        return
    if not callable(maker):
        raise TypeError(f"nba.defvjp({_display(func)}, ...): the vjp maker for argument {k} must be a function "
                        f"(ans, *args) -> (g -> contribution) or None, not {type(maker).__name__}")
    try:
        msig = inspect.signature(maker)
    except (TypeError, ValueError):
        return
    required = []
    if sig is not None:
        required = [p.name for p in sig.parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    try:
        msig.bind(object(), *[object() for _ in required])
    except TypeError:
        wanted = ", ".join(["ans"] + required)
        raise TypeError(f"nba.defvjp({_display(func)}, ...): the vjp maker for argument {k} has the signature "
                        f"{msig}, but it is called as maker({wanted}) and must return the function g -> "
                        f"contribution: write it as lambda {wanted}: lambda g: ...") from None


def defvjp(func, *makers):
    """Register the derivative rule of ``func``: one vjp maker per positional argument, in autograd's
    convention ``maker(ans, *args, **kwargs) -> (g -> contribution)`` (None: no derivative for that
    argument). ``func`` is a library function (NumPy, SciPy, ...) or a function wrapped with
    ``nba.primitive``; the rule takes precedence over a built-in one. Returns ``func``."""
    if not callable(func):
        raise TypeError(f"nba.defvjp takes a function first, not {type(func).__name__}")
    if is_user_function(func):
        name = _display(func)
        raise TypeError(f"nba.defvjp({name}, ...): `{name}` is a Python function that nbadjoint reads and "
                        f"differentiates itself, so a rule for it would never be used; make it a primitive first: "
                        f"decorate its def with @nba.primitive (or `{name} = nba.primitive({name})`), then call "
                        f"nba.defvjp({name}, ...)")
    if not makers:
        raise TypeError(f"nba.defvjp({_display(func)}): give one vjp maker (or None) per argument")
    sig, names = more_rules.positional_names(func)
    if sig is not None and len(makers) > len(names):
        raise TypeError(f"nba.defvjp({_display(func)}, ...): {len(makers)} vjp makers for a function of "
                        f"{len(names)} positional arguments")
    for k, maker in enumerate(makers):
        _check_maker(func, k, maker, sig)
    token = next(_TOKENS)
    display = _display(func)
    custom_vjp.register_user_makers(token, display, tuple(makers))
    grads = []
    for i in range(len(names)):
        if i < len(makers) and makers[i] is not None:
            grads.append(functools.partial(_user_grad, token, display, sig, i))
        elif i < len(makers):
            grads.append(R._no_grad)
        else:
            grads.append(functools.partial(_missing, display, i))
    _register(func, R.Rule("", tuple(grads), params=tuple(names)))
    return func


def nondifferentiable(func):
    """Declare that ``func``'s result carries no derivative (an index, a count, a flag): calls of it
    need no rule and pass nothing back. Returns ``func``."""
    if not callable(func):
        raise TypeError(f"nba.nondifferentiable takes a function, not {type(func).__name__}")
    _register(func, NONDIFF)
    return func


def _user_grad(token, display, sig, argnum, g, ans, *args, **kwargs):
    return more_rules.maker_call("user_vjp", token, display, sig, argnum, g, ans, args, kwargs)


def _missing(display, argnum, g, ans, *args, **kwargs):
    raise RuleError(f"{display}: its rule (nba.defvjp) has no vjp maker for argument {argnum}; give one, or None "
                    "if that argument gets no derivative")


def _register(func, entry):
    try:
        _REGISTERED[func] = entry
    except TypeError:
        raise TypeError(f"nba.defvjp: {_display(func)} cannot be registered (it is not hashable)") from None
    _forget_programs()


def _forget_programs():
    """Drop compiled programs: they were built with the rules known then."""
    from . import program
    program._CACHE.clear()


def lookup(func):
    """The registered Rule of func, NONDIFF, or None."""
    try:
        return _REGISTERED.get(func)
    except TypeError:
        return None


def unregister(func):
    """Forget the rule registered for func (its built-in rule, if any, applies again)."""
    if _REGISTERED.pop(func, None) is not None:
        _forget_programs()
