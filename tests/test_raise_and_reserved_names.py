"""A `raise` in a branch not taken leaves the rest of the function as it is; names reserved for the
generated code are refused at the user's line instead of being confused with it."""

import sys

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import assert_bitwise_equal, check_against_autograd, check_grad


def checked(u):
    if np.min(u) < -100.0:
        raise ValueError("state blew up")
    return u * 2.0


def model_with_checked_step(x):
    return np.sum(checked(x) ** 2)


def checked_else(u, limit):
    if np.max(np.abs(u)) < limit:
        v = np.sin(u)
    else:
        raise FloatingPointError(f"|u| reached {limit}")
    return v * u


def model_else(x):
    return np.sum(checked_else(x, 1e3))


def nested_guard(u, k):
    if k > 0:
        if k > 100:
            raise ValueError("too many steps")
        u = u * np.cos(u)
    return u + 1.0


def time_loop_with_checks(x):
    u = x
    for k in range(4):
        u = nested_guard(u, k)
        if not np.all(np.isfinite(u)):
            raise RuntimeError(f"non-finite state at step {k}")
    return np.sum(u * u)


def root_guard(x):
    y = np.exp(x)
    if np.sum(y) < -1e9:
        raise ValueError("impossible")
    z = y * x
    return np.sum(z)


X = np.array([0.3, 0.7, 1.2])


@pytest.mark.parametrize("f", [model_with_checked_step, model_else, time_loop_with_checks, root_guard])
def test_a_raise_not_taken_leaves_the_gradient_as_without_it(f):
    check_grad(f, (X,))
    check_against_autograd(sys.modules[__name__], f.__name__, (X,))
    grads = [nba.grad(f, placement={s: v for s in nba.call_sites(f)})(X) for v in (True, False)]
    assert_bitwise_equal(grads[0], grads[1])


def test_vjp_of_a_function_with_a_raise_not_taken_returns_its_value():
    out, pullback = nba.vjp(root_guard, X)
    assert out == pytest.approx(root_guard(X))
    np.testing.assert_allclose(pullback(1.0)[0], np.exp(X) * (1 + X))


def test_a_raise_taken_reaches_the_user_as_raised():
    with pytest.raises(ValueError, match="state blew up"):
        nba.grad(model_with_checked_step)(np.array([0.3, -200.0]))


def reserved_local(x):
    _rv_b = np.sum(x)
    return _rv_b * _rv_b


def reserved_param(x, _c):
    return np.sum(np.sin(x) * _c)


def lone_underscore(x):
    s = 0.0
    for _ in range(3):
        s = s + np.sum(x * x)
    return s


@pytest.mark.parametrize("f, name, line", [(reserved_local, "_rv_b", "_rv_b = np.sum(x)"),
                                           (reserved_param, "_c", "def reserved_param(x, _c):")])
def test_names_reserved_for_generated_code_are_refused_at_their_line(f, name, line):
    with pytest.raises(nba.TransformError) as info:
        nba.grad(f)(X, 2.0) if f is reserved_param else nba.grad(f)(X)
    assert f"`{name}`" in str(info.value) and "reserved" in str(info.value)
    assert info.value.source_line.strip() == line


def test_a_lone_underscore_is_an_ordinary_name():
    check_grad(lone_underscore, (X,))
