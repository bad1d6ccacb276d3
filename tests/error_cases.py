"""Functions outside the supported subset; each marks the offending line with `# ERR: <text>`."""
import random

import numpy as np

STATE = np.zeros(3)
LOG = []


def uses_with(x):
    with open(x) as fh:  # ERR: of this `with` block depends on differentiated values
        y = x * 2.0
    return y


def uses_try(x):
    try:  # ERR: handlers are not differentiated
        y = x / 0.0
    except ZeroDivisionError:
        y = x
    return y


def uses_global(x):
    global STATE
    STATE = x  # ERR: assigning to `STATE`, declared `global`
    return x


def nested_def(x):
    def inner(y):  # ERR: nested function definitions are not supported
        z = y * 2.0
        return z
    return inner(x)


def uses_lambda(x):
    fs = [lambda y: y * 2.0]  # ERR: lambda expressions are not supported
    return fs[0](x)


def uses_generator(x):
    return np.prod(v for v in [x, x])  # ERR: generator expressions are not supported


def uses_star_args(*xs):  # ERR: functions with *args or **kwargs are not supported
    return xs[0]


def writes_global(x):
    STATE[0] = x  # ERR: writing into `STATE`, which is not a local variable
    return x


def draws_random(x):
    return np.random.gamma(x)  # ERR: random numbers


def draws_stdlib_random(x):
    return random.gammavariate(x, 1.0)  # ERR: random numbers


def unknown_method(x):
    return x.tolist()  # ERR: the method `.tolist()` is not supported


def calls_local(x):
    f = np.sin  # ERR: `np.sin` is used as a value
    return f(x)


def recursive(x, n):
    if n == 0:
        return x
    return recursive(x * 2.0, n - 1)  # ERR: recursive call of recursive() is not supported


def uses_set(x):
    s = {1, 2}  # ERR: set literals are not supported
    return x


def uses_walrus(x):
    if (y := x * 2.0) > 1.0:  # ERR: assignment expressions
        return y
    return x


def mutates_global_list(x):
    LOG.append(x)  # ERR: `LOG.append(...)` changes the global `LOG`
    return x


def boolop_on_active(x):
    return x or 1.0  # ERR: `and` / `or` on a differentiated value


def attribute_write(x):
    a = np.zeros(3)
    a.shape = (3, 1)  # ERR: writing the attribute `.shape` of `a`
    return x


def with_unpacked_target(x):
    with np.errstate() as (a, b):  # ERR: the `as` target of a `with` block must be a name
        x = x * 2.0
    return x
