"""Everyday Python around the numerics: `for ... else` and `while ... else` in search loops,
`with` blocks whose context manager does not depend on the differentiated values (np.errstate,
a timer of the user's own, warnings.catch_warnings).

The models are written the way scripts are.  Every gradient is checked against central finite
differences, and against autograd running the same source where autograd can run it, under the
default and the all-split placement; arguments are not changed by the adjoint.
"""

import sys
import time
import warnings

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import (PLACEMENTS, assert_not_mutated, check_against_autograd, check_grad, deep_copy_args,
                       placement_of, source_line)
from nbadjoint.errors import TransformError

THIS = sys.modules.get(__name__)
U = np.array([0.3, -0.2, 0.5, 0.1, 0.7])


# -- models: loops with an else block --------------------------------------------------------------

def first_above(u, level):
    """A search loop: scale by the first entry above `level`, or by the last one if none is."""
    total = 0.0
    for i in range(len(u)):
        total = total + u[i] * u[i]
        if u[i] > level:
            scale = u[i]
            break
    else:
        scale = 2.0 * u[-1]
    return total * scale + np.sum(np.sin(u))


def newton_sqrt(a, x0, tol=1e-12, max_iter=50):
    """Newton iterations for sqrt(a) with a fallback when they do not converge in time."""
    x = x0
    k = 0
    while k < max_iter:
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < tol:
            x = x_new
            break
        x = x_new
        k += 1
    else:
        x = x * 1.0001
    return x * x * a


def relax_all(u, c):
    """No break at all: the else block always runs."""
    for v in u:
        c = c * 0.9 + 0.1 * v
    else:
        c = c ** 2
    return c


def nested_search(rows, w):
    """The inner loop's else continues the outer loop; a break in it leaves the outer one."""
    acc = 0.0
    for r in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if rows[r, j] < 0.0:
                acc = acc + w * rows[r, j]
                break
        else:
            acc = acc + np.sum(rows[r] ** 2) * w
            if acc > 5.0:
                break
    else:
        acc = acc * 3.0
    return acc


def search_with_return(u, level):
    """A return inside the loop: the else block must not run then."""
    for x in u:
        if x > level:
            return x * np.sum(u)
    else:
        level = level * 2.0
    return level * np.sum(u * u)


def caller_of_first_above(u, level):
    """first_above as a call site, so that the split placement has something to split."""
    return first_above(u, level) + first_above(u * 0.5, level)


def checked(f, args, argnums, which, autograd=True):
    placement = placement_of(f, which)
    before = deep_copy_args(args)
    check_grad(f, args, argnums=argnums, placement=placement)
    assert_not_mutated(before, args)
    if autograd:
        check_against_autograd(THIS, f.__name__, args, argnums=argnums, placement=placement)


# -- for/while ... else ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("level", [0.4, 10.0])        # found (break) / not found (else)
def test_for_else_search_loop(which, level):
    checked(first_above, (U.copy(), level), (0, 1), which)
    checked(caller_of_first_above, (U.copy(), level), (0,), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("max_iter", [50, 2])          # converges (break) / runs out (else)
def test_while_else_newton(which, max_iter):
    checked(newton_sqrt, (2.0, 1.0, 1e-12, max_iter), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_for_else_without_break_always_runs(which):
    checked(relax_all, ([0.2, 0.4, -0.1], 1.5), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("rows", [
    np.array([[0.5, 0.2], [0.3, -0.4], [0.1, 0.2]]),          # inner break in row 1, else in rows 0, 2
    np.array([[3.0, 1.5], [0.3, 0.4], [0.1, 0.2]]),           # a break from the inner else
    np.array([[-0.5, 0.2], [-0.3, 0.4]]),                      # every row breaks: the outer else runs
])
def test_nested_loops_with_else(which, rows):
    checked(nested_search, (rows.copy(), 0.7), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("level", [0.4, 10.0])
def test_for_else_with_return_in_the_loop(which, level):
    checked(search_with_return, (U.copy(), level), (0, 1), which)


# -- models: `with` blocks around the numerics -------------------------------------------------------

class Timer:
    """A timer as scripts write one: records how long the block took and how often it ran."""
    log = []

    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self.start = time.perf_counter()
        Timer.log.append(("enter", self.label))
        return self

    def __exit__(self, *exc):
        Timer.log.append(("exit", self.label, time.perf_counter() - self.start))
        return False


def safe_ratio_solver(u, eps):
    """Divisions that may meet a zero, silenced with np.errstate, and a timer around the loop."""
    with Timer("solve") as t:
        for _ in range(3):
            with np.errstate(divide="ignore", invalid="ignore"):
                r = u / (u * u + eps)
            u = u - 0.1 * np.where(np.isfinite(r), r, 0.0)
    print("solve took", t.label)
    return np.sum(u ** 2)


def errstate_observed(u):
    """The forward sweep runs the body inside the manager: the state is visible in the body."""
    with np.errstate(divide="ignore"):
        mode = np.geterr()["divide"]
        y = u * 3.0
    assert mode == "ignore", mode
    assert np.geterr()["divide"] != "ignore"
    return np.sum(y * y)


def warned_fit(u, c):
    """warnings.catch_warnings around a step that warns, and a break inside the `with` block."""
    total = 0.0
    for k in range(4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.warn("step warns", RuntimeWarning)
            total = total + c * np.sum(np.tanh(u * (k + 1)))
            if total > 1.0:
                break
    return total


def two_managers_and_continue(u, c):
    """Two managers on one line (exited in reverse order) and a continue inside the block."""
    acc = 0.0
    for k in range(3):
        with Timer("outer"), Timer("inner"):
            if k == 1:
                continue
            with np.errstate(divide="ignore"):
                acc = acc + np.sum(np.log(np.abs(u * c) + 1.0)) * (k + 1)
    return acc


def early_return_in_with(u, c):
    with Timer("early"):
        if c > 0.0:
            return np.sum(u) * c
        v = u * u
    return np.sum(v)


def step_with_timer(u, dt):
    with Timer("step"):
        u = u + dt * np.sin(u)
    return u


def timed_calls(u, dt):
    """A called function with a `with` block: a call site, recomputed when checkpointed."""
    for _ in range(3):
        u = step_with_timer(u, dt)
    return np.sum(u * u)


def manager_of_an_active_value(u):
    with Timer(u) as t:                # the manager reads u: refused
        y = u * 2.0
    return np.sum(y)


def active_as_name(u):
    with Passthrough(u) as v:          # v carries u: refused
        y = v * 2.0
    return np.sum(y)


class Passthrough:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False


def unused_manager_of_an_active_value(u, flag=False):
    y = u * 2.0
    if flag:
        with Passthrough(u) as v:      # refused when reached
            y = v * 3.0
    return np.sum(y * y)


# -- `with` -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", PLACEMENTS)
def test_with_errstate_and_timer_in_a_solver(which, capsys):
    u = np.array([0.0, 0.3, -0.2, 0.5])
    Timer.log.clear()
    checked(safe_ratio_solver, (u, 0.5), (0, 1), which, autograd=False)
    entered = [e for e in Timer.log if e[0] == "enter"]
    exited = [e for e in Timer.log if e[0] == "exit"]
    assert entered and len(entered) == len(exited)
    assert "solve took" in capsys.readouterr().out


@pytest.mark.parametrize("which", PLACEMENTS)
def test_with_errstate_state_inside_the_body(which):
    checked(errstate_observed, (U.copy(),), (0,), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("c", [0.1, 2.0])             # runs to the end / breaks inside the `with`
def test_with_catch_warnings_and_break(which, c):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # a warning that escaped the block would fail
        checked(warned_fit, (U.copy(), c), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_two_managers_on_one_line_and_continue(which):
    Timer.log.clear()
    checked(two_managers_and_continue, (U.copy(), 0.8), (0, 1), which, autograd=False)
    labels = [e[1] for e in Timer.log]
    assert labels[:4] == ["outer", "inner", "inner", "outer"], labels
    assert sum(e[0] == "enter" for e in Timer.log) == sum(e[0] == "exit" for e in Timer.log)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("c", [0.5, -0.5])
def test_with_return_inside(which, c):
    Timer.log.clear()
    checked(early_return_in_with, (U.copy(), c), (0, 1), which, autograd=False)
    assert sum(e[0] == "enter" for e in Timer.log) == sum(e[0] == "exit" for e in Timer.log) > 0


@pytest.mark.parametrize("which", PLACEMENTS)
def test_with_in_a_called_function(which):
    checked(timed_calls, (U.copy(), 0.1), (0, 1), which, autograd=False)


def test_backward_sweep_runs_outside_the_manager():
    text = nba.adjoint_source(timed_calls)
    fwd, bwd = text.split("def step_with_timer_bwd")[0], text.split("def step_with_timer_bwd")[1]
    assert "__exit__" in fwd
    assert "__exit__" not in bwd.split("\ndef ")[0]


@pytest.mark.parametrize("f", [manager_of_an_active_value, active_as_name])
def test_with_depending_on_active_values_is_refused(f):
    with pytest.raises(TransformError) as info:
        nba.grad(f)(U.copy())
    assert "of this `with` block depends on differentiated values" in str(info.value)
    assert info.value.lineno == source_line(f, "with ")
    assert info.value.function == f.__name__


@pytest.mark.parametrize("which", PLACEMENTS)
def test_refused_with_under_a_flag_is_refused_when_reached(which):
    f = unused_manager_of_an_active_value
    check_grad(f, (U.copy(), False), argnums=0, placement=placement_of(f, which))
    with pytest.raises(TransformError) as info:
        nba.grad(f, placement=placement_of(f, which))(U.copy(), True)
    assert info.value.lineno == source_line(f, "with Passthrough")


# -- models: builtins on lists of floats, dicts built with dict(...) ---------------------------------

PARAM_NAMES = ("rate", "decay")


def spread_of_losses(a, b):
    """A list of floats reduced with max, min, sorted and sum, as a report would."""
    losses = [a * a, a * b, b - a, 0.5 * b * b]
    ranked = sorted(losses)
    median = 0.5 * (ranked[1] + ranked[2])
    return max(losses) - min(losses) + sum(losses) / len(losses) + median + max(a, b, 0.2)


def sum_of_terms(u, k):
    """sum() of a list of arrays, and of a generator over a list of floats."""
    terms = [u * k, np.sin(u), u * u]
    total = sum(terms)
    weights = [k, k * k, 1.0]
    return np.sum(total) + sum(w * w for w in weights)


def params_by_keywords(a, b):
    p = dict(rate=a * 2.0, decay=b, offset=1.0)
    return p["rate"] * np.exp(-p["decay"]) + p["offset"]


def params_by_zip(a, b):
    values = [a * 2.0, b]
    p = dict(zip(PARAM_NAMES, values))
    q = dict(zip(["x", "y"], [b, a * a]))
    return p["rate"] * np.exp(-p["decay"]) + q["x"] * q["y"]


def copied_list(a, b):
    """list(...) of an active tuple and of an active list: copies, changed without touching the original."""
    pair = (a, b * 2.0)
    xs = list(pair)
    xs[0] = xs[0] * 3.0
    ys = [a, b]
    zs = list(ys)
    zs.append(a * b)
    zs[1] = zs[1] ** 2
    return xs[0] * xs[1] + pair[0] + sum(zs) + ys[1]


def zip_with_fewer_values(a, b):
    values = [a]
    p = dict(zip(PARAM_NAMES, values))
    return p["rate"] * b


def zip_with_computed_keys(a, b, names):
    p = dict(zip(names, [a, b]))
    return p["rate"] * b


# -- builtins and dict(...) --------------------------------------------------------------------------

@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("a, b", [(0.7, 1.3), (-0.4, 0.9), (1.5, -0.3)])
def test_max_min_sorted_sum_of_a_list_of_floats(which, a, b):
    checked(spread_of_losses, (a, b), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_sum_of_a_list_of_arrays(which):
    checked(sum_of_terms, (U.copy(), 0.8), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("f", [params_by_keywords, params_by_zip])
def test_dict_built_by_keywords_and_by_zip(which, f):
    checked(f, (0.7, 0.4), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_list_of_an_active_sequence_is_a_copy(which):
    checked(copied_list, (0.7, 1.3), (0, 1), which)


def test_dict_zip_needs_as_many_values_as_keys():
    with pytest.raises(ValueError, match="2 keys but 1 values"):
        nba.grad(zip_with_fewer_values, argnums=(0, 1))(0.7, 1.3)


def test_dict_zip_keys_must_be_constants():
    with pytest.raises(TransformError) as info:
        nba.grad(zip_with_computed_keys, argnums=(0, 1))(0.7, 1.3, ["rate", "decay"])
    assert "the keys of dict(zip(keys, values)) must be constants" in str(info.value)
    assert info.value.lineno == source_line(zip_with_computed_keys, "dict(zip(")
