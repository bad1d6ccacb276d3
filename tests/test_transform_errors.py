"""Code outside the supported subset raises TransformError naming the construct, file and line."""
import inspect
import re

import pytest

import nbadjoint as nba

import error_cases
from gradcheck import source_line


def _cases():
    out = []
    for name, fn in inspect.getmembers(error_cases, inspect.isfunction):
        if fn.__module__ != error_cases.__name__:
            continue
        lines, start = inspect.getsourcelines(fn)
        for k, line in enumerate(lines):
            m = re.search(r"# ERR: (.*)$", line)
            if m:
                out.append(pytest.param(fn, start + k, m.group(1).strip(), id=name))
    return out


CASES = _cases()


def test_every_error_case_is_collected():
    assert len(CASES) >= 18


@pytest.mark.parametrize("fn, lineno, text", CASES)
def test_unsupported_construct_raises_transform_error_at_its_line(fn, lineno, text):
    with pytest.raises(nba.TransformError) as info:
        nba.grad(fn)(1.0)
    err = info.value
    assert text in str(err)
    assert err.lineno == lineno, f"reported line {err.lineno}, expected {lineno}: {err}"
    assert err.filename.endswith("error_cases.py")
    assert f"line {lineno}" in str(err)


@pytest.mark.parametrize("fn, lineno, text", CASES[:3])
def test_transform_error_is_raised_before_anything_runs(fn, lineno, text):
    with pytest.raises(nba.TransformError):
        nba.adjoint_source(fn)


def test_transform_error_message_quotes_the_source_line():
    with pytest.raises(nba.TransformError) as info:
        nba.grad(error_cases.draws_random)(1.0)
    assert "np.random.gamma(x)" in str(info.value)
    assert "hint:" in str(info.value)


# ----- refusals of the fuzz families: each names the construct and the line, and says what to do instead

import numpy as np  # noqa: E402


class Layer:
    def __init__(self, rate):
        self.rate = rate

    def apply(self, x):
        return x * self.rate


def builds_an_object(x):
    layer = Layer(0.5)
    return np.sum(layer.apply(x))


def apply(f, x):
    return f(x)


def passes_a_function(x):
    return np.sum(apply(np.sin, x))


def prod_of_generator(x):
    return np.prod(np.array(t * 2.0 for t in x))


def dict_with_keywords(x):
    cfg = dict({"shift": 1.0}, rate=0.5)
    return np.sum(x * cfg["rate"])


def dict_get(x):
    cfg = {"rate": 0.5}
    return np.sum(x * cfg.get("rate"))


def list_method(x):
    acc = [x]
    return np.sum(acc.count(x))


def uses_a_closure(x):
    scale = np.sum(x)

    def inner(v):
        w = v * scale
        return np.sin(w)

    return np.sum(inner(x))


def iterates_map(x):
    total = 0.0
    for t in map(np.sin, x):
        total = total + t
    return total


@pytest.mark.parametrize("fn, construct, line_text, advice", [
    (passes_a_function, "calling the local variable `f` is not supported", "return f(x)",
     "call the function `f` holds by its own name"),
    (prod_of_generator, "generator expressions are not supported", "np.array(t * 2.0 for t in x)",
     "write a list comprehension instead"),
    (dict_with_keywords, "dict(...) with keyword arguments is not supported", 'dict({"shift": 1.0}, rate=0.5)',
     "write a dict literal instead"),
    (dict_get, "the method `.get()` is not supported", 'cfg.get("rate")', "index a dict with d[key]"),
    (list_method, "the method `.count()` is not supported", "acc.count(x)", "supported methods are those of NumPy"),
    (iterates_map, "iterating over map(...) is not supported", "for t in map(np.sin, x)",
     "use a list comprehension"),
    (uses_a_closure, "nested function definitions are not supported", "def inner(v):",
     "pass it what it reads from this function as arguments"),
])
def test_refusal_names_the_construct_the_line_and_what_to_do(fn, construct, line_text, advice):
    with pytest.raises(nba.TransformError) as info:
        nba.grad(fn)(np.array([0.3, -0.7, 0.5]))
    message = str(info.value)
    assert construct in message
    assert line_text in message and re.search(r"test_transform_errors\.py, line \d+", message), message
    assert "hint:" in message and advice in message, message
    assert info.value.lineno == source_line(fn if fn is not passes_a_function else apply, line_text)




def test_an_object_built_in_the_function_is_differentiated_not_refused():
    x = np.array([1.0, -2.0, 0.5])
    assert np.array_equal(nba.grad(builds_an_object)(x), np.full(3, 0.5))
