"""Local functions of one expression (a lambda bound to a name, a nested `def` that returns an
expression) closing over the enclosing function's values: each call is differentiated in place,
with Python's closure semantics (the enclosing values read when the call runs). Other local
functions stay refused at their line."""
import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import all_split, assert_bitwise_equal, check_grad, source_line

X = np.array([0.3, -0.2, 0.5, 0.9])


def with_lambda(x, k):
    f = lambda t: k * t * t + 1.0
    return np.sum(f(x) * f(x[::-1]))


def with_closure_in_a_loop(x, k):
    def rhs(u):
        """Relaxation towards zero."""
        return -k * u + 0.1 * np.sin(u)

    u = x
    for _ in range(4):
        u = u + 0.1 * rhs(u)
    return np.sum(u * u)


def late_binding(x, k):
    g = lambda t: c * t          # `c` is read when g is called, as in Python
    c = k * 2.0
    y = g(x)
    c = k * 3.0
    return np.sum(y + g(x))


def calls_another(x, k):
    sq = lambda t: t * t
    energy = lambda u, w: w * np.sum(sq(u))
    return energy(x, k) + energy(np.cos(x), w=1.5)


def shadows_a_parameter(x, k):
    f = lambda x: x * k          # its own x, not the enclosing one
    return np.sum(f(np.sin(x)))


def helper(u):
    return u * 3.0


def calls_a_module_function(x, k):
    step = lambda u: helper(u) * k
    return np.sum(step(step(x)))


@pytest.mark.parametrize("f", [with_lambda, with_closure_in_a_loop, late_binding, calls_another,
                               shadows_a_parameter, calls_a_module_function])
def test_local_functions_of_one_expression_are_differentiated(f):
    g = check_grad(f, (X, 0.7), (0, 1))
    if nba.call_sites(f):
        assert_bitwise_equal(nba.grad(f, argnums=(0, 1), placement=all_split(f))(X, 0.7), g)


def test_the_generated_code_calls_the_module_function_and_not_the_local_one():
    source = nba.adjoint_source(calls_a_module_function, argnums=(0, 1), args=(X, 0.7))
    assert "helper_fwd(" in source or "helper_primal(" in source
    line = source_line(calls_a_module_function, "helper(u) * k")
    assert nba.call_sites(calls_a_module_function) == [f"calls_a_module_function:{line}:helper"]


def passed_as_a_value(x):
    f = lambda t: t * 2.0
    return np.sum(np.apply_along_axis(f, 0, x))


def calls_itself(x):
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    return x * fact(3)


def several_statements(x):
    def inner(y):
        z = y * 2.0
        return z
    return np.sum(inner(x))


@pytest.mark.parametrize("f,words", [
    (passed_as_a_value, "lambda expressions are not supported"),
    (calls_itself, "nested function definitions are not supported"),
    (several_statements, "nested function definitions are not supported"),
])
def test_other_local_functions_are_refused_at_their_line(f, words):
    with pytest.raises(nba.TransformError, match=words):
        nba.grad(f)(X)
