"""Code outside the supported subset raises TransformError naming the construct, file and line."""
import inspect
import re

import pytest

import nbadjoint as nba

import error_cases


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
    assert "np.random.rand()" in str(info.value)
    assert "hint:" in str(info.value)
