"""Inactive code needs no derivative rule, and refusals wait until the refused code is reached.

The models are written the way scripts are: timers and prints, meshes built with np.meshgrid,
lists made with list(), statistics of constant data, option flags guarding branches that a run may
never take (with names defined only there, constructs nbadjoint does not differentiate, functions
called only there).  Each gradient is checked against finite differences under the default and the
all-split placement; a refused construct reached with active values raises the TransformError the
compiler would have raised, with the user's line.
"""

import ast
import heapq
import logging
import time

import numpy as np
import pytest
import scipy.stats
import scipy.ndimage

import nbadjoint as nba
from gradcheck import PLACEMENTS, check_grad, placement_of, source_line
from nbadjoint.errors import TransformError

log = logging.getLogger("inactive-models")

U = np.array([0.3, -0.2, 0.5, 0.1])


# -- models ----------------------------------------------------------------------------------------

def script_model(u, k, verbose=False, kappa_on=False):
    t0 = time.perf_counter()
    X, Y = np.meshgrid(np.arange(4.0), np.arange(4.0))      # mesh, independent of the inputs
    w = np.average(np.ones(3), weights=[1, 2, 3])           # inactive value that reaches the output
    acc = list()
    for i in range(3):
        u = u + k * np.sin(u) * X[0, i]
        acc.append(np.cov(np.vstack([X[0], X[1]]))[0, 0])   # never reaches the output
    if kappa_on:
        kappa = 0.1
    if kappa_on:
        u = u * kappa
    if verbose:
        print("took", time.perf_counter() - t0, np.corrcoef(u, u))
    return np.sum(u * u) * w


def relax(u, dt):
    log.debug("relax step, dt=%s", dt)
    return u - dt * np.tanh(u)


def energy_diagnostic(u):
    e = np.corrcoef(u, u[::-1])            # a diagnostic: its value never reaches the cost
    return np.sum(u * u) + e[0, 1]


def solver(u, dt, n, diagnose=False):
    started = time.time()
    history = list()
    for i in range(n):
        u = relax(u, dt)
        energy = energy_diagnostic(u)      # computed, never used by the cost
        history.append(energy)
    scale = scipy.stats.norm.cdf(0.25) + np.percentile(np.arange(10.0), 30) / 10.0
    if diagnose:
        print(f"{n} steps in {time.time() - started:.3g} s, final energy {history[-1]:.4g}")
    return scale * np.sum(u ** 2)


def dead_branch(u, c):
    if False:
        f = lambda v: v * 2.0           # noqa: E731 (a construct nbadjoint does not differentiate)
        u = f(u)
    return np.sum(c * u ** 3)


def flagged_with(u, c, clip=False):
    u = u * c
    if clip:
        with Clipping(u) as limit:          # refused: the manager depends on u
            u = np.minimum(u, limit)
    return np.sum(u ** 2)


def smoothed(u):
    global_view = np.stack([u, u])
    def mean_of(a):                     # refused: a nested function of more than a `return`
        m = np.mean(a, axis=0)
        return m
    return mean_of(global_view)


def flagged_call(u, c, smooth=False):
    v = u * c
    if smooth:
        v = smoothed(v)
    return np.sum(np.cos(v))


def undefined_in_branch(u, c, extra=False):
    if extra:
        u = u + not_defined_anywhere * c     # noqa: F821 (a NameError, as in Python, if reached)
    return np.sum(c * u * u)


def active_cdf(u, c, cdf=False):
    v = u * c
    if cdf:
        v = scipy.stats.logistic.cdf(v)      # no rule, active: refused where it runs
    return np.sum(v * v)


def active_cdf_straight(u):
    return np.sum(scipy.stats.logistic.cdf(u))


class Clipping:
    def __init__(self, u):
        self.limit = np.max(u) * 0.5

    def __enter__(self):
        return self.limit

    def __exit__(self, *exc):
        return False


def copies_into(u):
    tmp = np.zeros_like(u)
    np.copyto(tmp, u)                   # writes an active value in place, without a rule
    return np.sum(tmp ** 2)


# -- helpers ---------------------------------------------------------------------------------------


def bwd_source(f, name):
    text = nba.adjoint_source(f)
    tree = ast.parse(text)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.unparse(fn)


# -- 1. inactive code needs no rule --------------------------------------------------------------

@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("kappa_on", [False, True])
def test_script_with_timers_meshes_and_flags(which, verbose, kappa_on, capsys):
    args = (U.copy(), 0.4, verbose, kappa_on)
    check_grad(script_model, args, argnums=(0, 1), placement=placement_of(script_model, which))
    assert ("took" in capsys.readouterr().out) == verbose


def test_values_that_never_reach_the_output_are_absent_from_the_backward_sweep():
    bwd = bwd_source(script_model, "script_model_bwd")
    for absent in ("meshgrid", "cov", "perf_counter", "average", "corrcoef", "print"):
        assert absent not in bwd, bwd


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("diagnose", [False, True])
def test_solver_with_logging_unused_diagnostics_and_scipy_on_constants(which, diagnose):
    check_grad(solver, (U.copy(), 0.2, 3, diagnose), argnums=0, placement=placement_of(solver, which))


def test_unused_diagnostic_is_not_recomputed_in_the_backward_sweep():
    bwd = bwd_source(solver, "energy_diagnostic_bwd")
    assert "corrcoef" not in bwd


@pytest.mark.parametrize("which", PLACEMENTS)
def test_dead_branch_with_an_unsupported_construct(which):
    check_grad(dead_branch, (U.copy(), 1.5), argnums=(0, 1), placement=placement_of(dead_branch, which))


# -- 2. refuse late: where the refused code runs with active values ------------------------------


@pytest.mark.parametrize("which", PLACEMENTS)
def test_flagged_with_block_runs_when_off_and_is_refused_when_on(which):
    check_grad(flagged_with, (U.copy(), 0.7, False), argnums=(0, 1), placement=placement_of(flagged_with, which))
    with pytest.raises(TransformError) as info:
        nba.grad(flagged_with, argnums=(0, 1), placement=placement_of(flagged_with, which))(U.copy(), 0.7, True)
    assert "of this `with` block depends on differentiated values" in str(info.value)
    assert info.value.lineno == source_line(flagged_with, "with Clipping")
    assert info.value.filename.endswith("test_inactive_code.py")
    assert "hint:" not in str(info.value) or info.value.hint


@pytest.mark.parametrize("which", PLACEMENTS)
def test_function_called_only_under_a_flag(which):
    check_grad(flagged_call, (U.copy(), 0.7, False), argnums=(0, 1), placement=placement_of(flagged_call, which))
    with pytest.raises(TransformError) as info:
        nba.grad(flagged_call, argnums=(0, 1), placement=placement_of(flagged_call, which))(U.copy(), 0.7, True)
    assert "nested function definitions are not supported" in str(info.value)
    assert info.value.lineno == source_line(smoothed, "def mean_of")
    assert info.value.function == "smoothed"
    assert info.value.hint


@pytest.mark.parametrize("which", PLACEMENTS)
def test_name_defined_nowhere_in_an_untaken_branch_behaves_as_in_python(which):
    check_grad(undefined_in_branch, (U.copy(), 0.7, False), argnums=(0, 1),
               placement=placement_of(undefined_in_branch, which))
    with pytest.raises(NameError, match="not_defined_anywhere"):
        nba.grad(undefined_in_branch, placement=placement_of(undefined_in_branch, which))(U.copy(), 0.7, True)
    with pytest.raises(NameError, match="not_defined_anywhere"):
        undefined_in_branch(U.copy(), 0.7, True)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_active_call_without_rule_is_refused_only_where_it_runs(which):
    check_grad(active_cdf, (U.copy(), 0.7, False), argnums=(0, 1), placement=placement_of(active_cdf, which))
    with pytest.raises(TransformError) as info:
        nba.grad(active_cdf, argnums=(0, 1), placement=placement_of(active_cdf, which))(U.copy(), 0.7, True)
    message = str(info.value)
    assert "no derivative rule for `scipy.stats.logistic.cdf`" in message, message
    assert "_K[" not in message
    assert info.value.lineno == source_line(active_cdf, "v = scipy.stats.logistic.cdf(v)")


def test_active_call_without_rule_in_straight_line_code_is_refused_at_compile_time():
    with pytest.raises(TransformError) as info:
        nba.adjoint_source(active_cdf_straight)
    message = str(info.value)
    assert "no derivative rule for `scipy.stats.logistic.cdf`" in message and "_K[" not in message, message
    assert "a method of" not in message       # the function as written, not the object behind it
    assert info.value.lineno == source_line(active_cdf_straight, "scipy.stats.logistic.cdf(u)")


def test_in_place_call_without_rule_on_active_values_is_refused_not_zeroed():
    with pytest.raises(TransformError, match="no derivative rule for `np.copyto`"):
        nba.grad(copies_into)(U.copy())
    with pytest.raises(TransformError, match="no derivative rule for `scipy.ndimage.uniform_filter`"):
        nba.grad(filters_into)(U.copy())


def filters_into(u):
    smooth = np.zeros_like(u)
    done = scipy.ndimage.uniform_filter(u, 3, output=smooth)      # writes into `smooth`: not inactive
    print("filtered" if done is None else "")
    return np.sum(smooth ** 2)


def test_refused_branch_raises_at_run_time_not_at_compile_time():
    text = nba.adjoint_source(active_cdf)
    assert "raise _K[" in text
    text = nba.adjoint_source(flagged_with)
    assert "raise _K[" in text


def pushes_into(u):
    heap = [0.0]
    heapq.heappush(heap, u[0])          # writes an active value into a list the cost reads
    return heap[0] + heap[1] * 2.0


def test_call_for_its_effect_moving_an_active_value_is_refused():
    with pytest.raises(TransformError, match="no derivative rule for `heapq.heappush`"):
        nba.grad(pushes_into)(U.copy())


def loop_with_cdf(u, n):
    s = np.sum(u ** 2)
    for i in range(n):
        s = s + scipy.stats.logistic.cdf(u[i])   # no rule, active, in a loop that may run no trip
    return s


def test_active_call_without_rule_in_a_loop_body_is_refused_when_the_loop_runs():
    check_grad(loop_with_cdf, (U.copy(), 0))
    with pytest.raises(TransformError) as info:
        nba.grad(loop_with_cdf)(U.copy(), 2)
    assert "`scipy.stats.logistic.cdf`" in str(info.value)
    assert info.value.lineno == source_line(loop_with_cdf, "s = s + scipy.stats.logistic.cdf(u[i])")


def _evaluates(u):
    return np.sum(eval("u * u"))


def _reads_locals(u):
    v = u * 2.0
    return np.sum(locals()["v"])


@pytest.mark.parametrize("f, line", [(_evaluates, 'return np.sum(eval("u * u"))'),
                                     (_reads_locals, 'return np.sum(locals()["v"])')])
def test_builtins_that_read_variables_by_name_are_refused_not_taken_for_inactive(f, line):
    """eval("u * u") has a constant argument, yet its value depends on u: taken for inactive, its
    gradient would be a silent zero."""
    with pytest.raises(TransformError) as info:
        nba.grad(f)(U.copy())
    assert "reads the function's variables by name" in str(info.value)
    assert info.value.lineno == source_line(f, line)
