"""What nbadjoint can differentiate: the root (a Python function or a partial of one), its argnums,
and clear refusals of everything else, as a root or as a callee."""

from __future__ import annotations

import functools
import inspect
import os
import types

import numpy as np

from .parse import FunctionInfo, is_user_function


def root_function(f, what: str = "nbadjoint"):
    """``(function, bound args, bound kwargs)`` of a root; a clear TypeError for anything else."""
    args, kwargs = (), {}
    if isinstance(f, functools.partial):
        f, args, kwargs = f.func, f.args, dict(f.keywords)
    if isinstance(f, staticmethod):
        f = f.__func__
    if getattr(f, "__nbadjoint_transform__", None):
        raise TypeError(f"{what} cannot differentiate the result of nba.{f.__nbadjoint_transform__}(): "
                        "higher-order derivatives are not supported. Use autograd or JAX for them")
    if isinstance(f, types.FunctionType) and (is_user_function(f) or f.__code__.co_filename.startswith("<")):
        return f, args, kwargs             # (load_function says when the source is not available)
    raise TypeError(f"{what} needs a Python function written in Python (a `def` in a module file or a notebook "
                    f"cell); {what_is(f)}")


def what_is(obj) -> str:
    name = qualified(obj)
    if isinstance(obj, np.ufunc):
        return (f"{name} is a NumPy ufunc, which nbadjoint treats as a primitive. Differentiate a function "
                f"that calls it, e.g. def f(x): return np.sum({name}(x))")
    module = getattr(obj, "__module__", None)
    if callable(obj) and isinstance(module, str) and module.split(".")[0] == "numpy" and not isinstance(obj, type):
        return (f"{name} is a NumPy function, which nbadjoint treats as a primitive. Differentiate a function "
                f"that calls it, e.g. def f(x): return {name}(x)")
    if isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType)) or \
            type(obj).__name__ in ("method_descriptor", "builtin_function_or_method"):
        return f"{name} is a built-in function (written in C). Differentiate a function that calls it"
    if isinstance(obj, types.MethodType):
        owner = obj.__self__
        owner = f"the class {owner.__name__}" if isinstance(owner, type) else f"a {type(owner).__name__} object"
        return (f"{name} is a bound method of {owner}. Write the computation as a function of the arrays it "
                "needs, passed as arguments")
    if isinstance(obj, type):
        return f"{name} is a class. Pass a function"
    if isinstance(obj, types.FunctionType):
        if obj.__code__.co_name == "<lambda>":
            return "a lambda has no source nbadjoint can read. Define the function with `def`"
        library = str(obj.__module__).split('.')[0]
        if hasattr(obj, "__wrapped__"):
            made_in = os.path.basename(obj.__code__.co_filename)
            return (f"{name} is a wrapper (made in the library file {made_in}) around the function it is named "
                    "after; nbadjoint differentiates the code that runs, and the wrapper's code is a library's. "
                    "Differentiate the wrapped function itself, or a function of yours that calls it")
        return (f"{name} is a function of the library {library!r}, which nbadjoint "
                "treats as a primitive. Differentiate a function of yours that calls it (or, if it is your own "
                "code installed as a package, decorate it with @nbadjoint.adjoint)")
    if callable(obj):
        return (f"a callable {type(obj).__name__} object is not supported. Write the computation as a function "
                "of the arrays it needs, passed as arguments")
    text = repr(obj)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"got {text} (of type {type(obj).__name__}), which is not a function"


def qualified(obj) -> str:
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        return type(obj).__name__
    if getattr(np, name, None) is obj:
        return f"np.{name}"
    module = getattr(obj, "__module__", None)
    return f"{module}.{name}" if isinstance(module, str) and module != "builtins" else name


def parameter_count(func) -> int:
    """Number of parameters of a plain function (those inspect.signature lists), from its code."""
    code = func.__code__
    return code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS) + \
        bool(code.co_flags & inspect.CO_VARKEYWORDS)


def check_argnums(argnums, n_params: int, name: str) -> tuple:
    """``argnums`` as a tuple of ints, each naming one of the ``n_params`` arguments once."""
    nums = (argnums,) if isinstance(argnums, int) and not isinstance(argnums, bool) else argnums
    if not isinstance(nums, tuple) or not all(isinstance(a, int) and not isinstance(a, bool) for a in nums):
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    for a in nums:
        if not -n_params <= a < n_params:
            raise ValueError(f"argnums {argnums!r} is out of range: {name}() takes {n_params} argument(s), "
                             f"numbered 0 to {n_params - 1} (or -1 to -{n_params} from the end)"
                             if n_params else f"argnums {argnums!r}: {name}() takes no arguments")
    seen = {}
    for a in nums:
        if a % n_params in seen:
            raise ValueError(f"argnums {argnums!r} names argument {a % n_params} of {name}() twice "
                             f"({seen[a % n_params]} and {a})")
        seen[a % n_params] = a
    return nums


def check_wrapper_signature(info: FunctionInfo):
    """A ``functools.wraps`` wrapper is differentiated as itself; calls are bound with the signature
    ``inspect`` reports, which is that of the wrapped function: the two must agree."""
    func = info.func
    if not hasattr(func, "__wrapped__"):
        return
    try:
        same = inspect.signature(func) == inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        same = False
    if not same:
        raise info.error(f"{info.name}() wraps another function (functools.wraps) but takes other parameters",
                         lineno=info.node.lineno,
                         hint="nbadjoint differentiates the wrapper itself; give it the parameters of the function "
                              "it wraps, or differentiate a plain function that calls it")
