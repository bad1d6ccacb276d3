"""The gradient corpus: every supported construct, checked against finite differences and autograd,
under every checkpoint placement, without touching the inputs."""

import ast
import copy
import inspect
import itertools
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import autograd
import numpy as np
import pytest

import corpus
from corpus import calls, scalars, vectors
from corpus.arrays import dot_fn, sum_method
from corpus.containers import dict_arg, nested_arg
from corpus.scalars import int_arg_scale
from gradcheck import (assert_bitwise_equal, assert_not_mutated, autograd_namespace,
                       check_against_autograd, check_grad, check_vjp, compare_gradients)

import nbadjoint as nba

ROWS = corpus.all_cases()
ALL = [pytest.param(row, id=row[0]) for row in ROWS]
BEYOND = [pytest.param(row, id=row[0]) for row in corpus.all_cases("BEYOND_SUBSET")]
AUTOGRAD = [pytest.param(row, id=row[0]) for row in ROWS if row[6]]
WITH_CALLS = [pytest.param(row, id=row[0]) for row in ROWS if corpus.calls_user_function(row[3])]
VJP = [pytest.param(row, id=f"vectors.{row[0].__name__}") for row in vectors.VJP_CASES]

MAX_EXHAUSTIVE_SITES = 6
RANDOM_PLACEMENTS = 32


def placements(sites):
    """Every placement of the sites when there are few of them, else a fixed random sample."""
    if len(sites) <= MAX_EXHAUSTIVE_SITES:
        for bits in itertools.product((True, False), repeat=len(sites)):
            yield dict(zip(sites, bits))
    else:
        rng = random.Random(len(sites))
        yield dict.fromkeys(sites, True)
        yield dict.fromkeys(sites, False)
        for _ in range(RANDOM_PLACEMENTS - 2):
            yield {site: rng.random() < 0.5 for site in sites}


# --------------------------------------------------------------------------- the corpus

@pytest.mark.parametrize("row", ALL)
def test_gradient_matches_finite_differences(row):
    _, _, _, f, args, argnums, _ = row
    check_grad(f, args(), argnums)


@pytest.mark.parametrize("row", AUTOGRAD)
def test_gradient_matches_autograd(row):
    _, module, name, _, args, argnums, _ = row
    check_against_autograd(module, name, args(), argnums)


@pytest.mark.parametrize("row", WITH_CALLS)
def test_gradient_is_bitwise_identical_under_every_placement(row):
    _, _, name, f, args, argnums, _ = row
    sites = nba.call_sites(f)
    assert sites, f"{name} calls user functions, but call_sites() found no call site"
    reference = nba.grad(f, argnums)(*args())
    for placement in placements(sites):
        got = nba.grad(f, argnums, placement=placement)(*args())
        assert_bitwise_equal(got, reference, f"gradient of {name} under placement {placement}")


@pytest.mark.parametrize("row", WITH_CALLS)
def test_profiled_peak_is_predicted_exactly_and_gradient_unchanged_under_placements(row):
    _, _, name, f, args, argnums, _ = row
    sites = nba.call_sites(f)
    profiled = nba.profile(f, *args(), argnums=argnums)
    assert_bitwise_equal(profiled.grad, nba.grad(f, argnums)(*args()), f"profile({name}).grad")
    rng = random.Random(len(sites))
    for placement in [dict.fromkeys(sites, False)] + [
            {site: rng.random() < 0.5 for site in sites} for _ in range(3)]:
        rerun = profiled.rerun(placement)
        assert profiled.predict(placement).peak_bytes == rerun.peak_bytes, (
            f"{name}: predicted peak {profiled.predict(placement).peak_bytes} bytes, measured "
            f"{rerun.peak_bytes} bytes under placement {placement}")
        assert_bitwise_equal(rerun.grad, profiled.grad, f"gradient under placement {placement}")


def test_placement_changes_the_schedule_but_not_the_gradient():
    f = scalars.lorenz_trajectory
    args = (1.0, 1.0, 20.0, 25)
    sites = nba.call_sites(f)
    joint = nba.profile(f, *args, argnums=(0, 1, 2), placement=dict.fromkeys(sites, True))
    split = nba.profile(f, *args, argnums=(0, 1, 2), placement=dict.fromkeys(sites, False))
    assert split.peak_bytes > joint.peak_bytes
    assert_bitwise_equal(split.grad, joint.grad, "gradient, all split vs all checkpointed")


def test_keyword_arguments_of_the_root_give_the_same_gradient():
    f = calls.call_int_arg
    positional = nba.value_and_grad(f)(1.1, 3)
    keyword = nba.value_and_grad(f)(1.1, k=3)
    assert_bitwise_equal(keyword, positional, "value_and_grad with k=3 by keyword")


def test_placement_naming_an_unknown_call_site_is_rejected():
    f = scalars.lorenz_trajectory
    with pytest.raises(ValueError, match="unknown call site"):
        nba.grad(f, placement={"lorenz_trajectory:1:nowhere": False})(1.0, 1.0, 20.0, 3)


def test_gradient_follows_module_globals_rebound_after_the_first_call(monkeypatch):
    a = np.linspace(-1.0, 1.0, 5)
    check_grad(calls.call_uses_globals, (a,))
    monkeypatch.setattr(calls, "DT", 0.5)
    monkeypatch.setattr(calls, "GAIN", np.arange(5.0))
    check_grad(calls.call_uses_globals, (a,))


@pytest.mark.parametrize("row", ALL)
def test_inputs_are_not_mutated(row):
    _, _, _, f, args, argnums, _ = row
    inputs = args()
    before = copy.deepcopy(inputs)
    nba.grad(f, argnums)(*inputs)
    assert_not_mutated(before, inputs)
    nba.value_and_grad(f, argnums)(*inputs)
    assert_not_mutated(before, inputs)


@pytest.mark.parametrize("row", ALL)
def test_value_and_grad_value_equals_primal(row):
    _, _, name, f, args, argnums, _ = row
    value, grads = nba.value_and_grad(f, argnums)(*args())
    assert_bitwise_equal(value, f(*args()), f"value_and_grad({name}) value")
    assert_bitwise_equal(grads, nba.grad(f, argnums)(*args()), f"value_and_grad({name}) gradient")


MULTI_ARGNUMS = [pytest.param(row, id=row[0]) for row in ROWS if isinstance(row[5], tuple)]


@pytest.mark.parametrize("row", MULTI_ARGNUMS)
def test_gradient_for_each_argnum_alone_matches_the_tuple_gradient(row):
    _, _, name, f, args, argnums, _ = row
    together = nba.grad(f, argnums)(*args())
    for k, num in enumerate(argnums):
        alone = nba.grad(f, num)(*args())
        compare_gradients(alone, together[k], f"d {name} / d args[{num}] alone", rtol=1e-12,
                          atol=1e-15, actual_name="argnums alone", expected_name="in a tuple")


@pytest.mark.parametrize("row", ALL)
def test_vjp_of_the_scalar_function_matches_grad(row):
    _, _, name, f, args, argnums, _ = row
    nums = (argnums,) if isinstance(argnums, int) else argnums
    grads = nba.grad(f, nums)(*args())
    out, pullback = nba.vjp(f, *args())
    assert_bitwise_equal(out, f(*args()), f"vjp({name}) output")
    cotangents = pullback(1.0)
    for k, num in enumerate(nums):
        compare_gradients(cotangents[num], grads[k], f"pullback of {name}, args[{num}]",
                          rtol=1e-12, atol=1e-15, actual_name="vjp", expected_name="grad")


@pytest.mark.parametrize("row", ALL)
def test_adjoint_source_is_python_defining_the_sweeps_of_the_function(row):
    _, _, name, f, _, _, _ = row
    tree = ast.parse(nba.adjoint_source(f))
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert any(d.startswith(f.__name__) for d in defined), (
        f"adjoint_source({name}) defines no function for {f.__name__}: {sorted(defined)}")


@pytest.mark.parametrize("row", VJP)
def test_vjp_matches_finite_differences(row):
    f, args, cotangent = row
    check_vjp(f, args(), cotangent())


def assert_blamed_parameter_can_share_memory(f, args, message):
    """A message blaming a parameter of ``f`` for shared memory must name an array parameter."""
    blamed = re.search(r"parameter `(\w+)`", message)
    where = re.search(r"in (\w+)\(\)", message)
    if not (blamed and where and where.group(1) == f.__name__):
        return
    names = list(inspect.signature(f).parameters)
    assert blamed.group(1) in names, f"the message blames an unknown parameter: {message}"
    value = args[names.index(blamed.group(1))]
    assert isinstance(value, (np.ndarray, list, dict)), (
        f"the message blames the parameter `{blamed.group(1)}`, a {type(value).__name__} that "
        f"shares no memory with anything: {message}")


def assert_clean_rejection(err, module, f, args):
    """The error names the user's file and line, no internal temporary, no innocent parameter."""
    message = str(err)
    name = f.__name__
    assert module.__file__ in message and "line" in message, (
        f"the {type(err).__name__} for {name} must name the file and line: {message}")
    assert not re.search(r"`_\w", message), (
        f"the {type(err).__name__} for {name} names an internal temporary, not user code: "
        f"{message}")
    assert_blamed_parameter_can_share_memory(f, args, message)


def raised_by_nbadjoint(err):
    return type(err).__module__.split(".")[0] == "nbadjoint"


@pytest.mark.parametrize("row", BEYOND)
def test_beyond_the_subset_gradient_is_correct_or_cleanly_rejected(row):
    """Outside the subset: a TransformError before anything runs, or an nbadjoint error when the
    offending write happens (aliasing is checked at run time), or a correct gradient."""
    _, module, name, f, args, argnums, _ = row
    try:
        g = nba.grad(f, argnums)
    except nba.TransformError as err:
        assert_clean_rejection(err, module, f, args())
        return
    try:
        g(*args())
    except Exception as err:
        if not raised_by_nbadjoint(err):
            raise
        assert_clean_rejection(err, module, f, args())
        return
    check_grad(f, args(), argnums)


SOURCE_DIGESTS = '''
import hashlib
import corpus
import nbadjoint as nba
for case_id, module, name, f, *_ in corpus.all_cases():
    try:
        text = nba.adjoint_source(f)
    except Exception as err:
        text = type(err).__name__ + ": " + str(err)
    print(case_id, hashlib.sha256(text.encode()).hexdigest())
'''


def source_digests(hash_seed, cache):
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "NBADJOINT_CACHE": str(cache)}
    run = subprocess.run([sys.executable, "-c", SOURCE_DIGESTS], cwd=Path(__file__).parent, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"listing adjoint_source() digests failed:\n{run.stderr}"
    return dict(line.split() for line in run.stdout.splitlines())


def test_generated_code_is_identical_across_processes_and_hash_seeds(tmp_path):
    first = source_digests(1, tmp_path / "cache1")
    second = source_digests(2, tmp_path / "cache2")
    assert len(first) == len(ROWS)
    differ = [case_id for case_id in first if first[case_id] != second.get(case_id)]
    assert not differ, f"adjoint_source() differs between two processes for: {differ}"


def test_corpus_has_at_least_150_functions_and_cases():
    assert len(corpus.corpus_functions()) >= 150
    assert len(ROWS) >= 150


def test_every_corpus_function_names_its_construct_in_a_comment():
    missing = [f"{f.__module__}.{f.__qualname__}" for f in corpus.corpus_functions()
               if not (inspect.getcomments(f) or "").strip()]
    assert not missing, f"add a one-line construct comment above: {missing}"


def test_corpus_functions_have_no_docstrings():
    documented = [f.__qualname__ for f in corpus.corpus_functions() if f.__doc__]
    assert not documented


# ------------------------------------------------------------------- the checkers themselves

def autograd_grad(f, argnums=0, placement=None):
    """A correct reference gradient with nbadjoint's calling convention (floats only)."""
    if isinstance(argnums, int):
        return autograd.grad(f, argnums)
    return lambda *args: tuple(autograd.grad(f, n)(*args) for n in argnums)


def identity_grad(f, argnums=0, placement=None):
    """A wrong 'gradient' returning the inputs themselves."""
    if isinstance(argnums, int):
        return lambda *args: copy.deepcopy(args[argnums])
    return lambda *args: tuple(copy.deepcopy(args[n]) for n in argnums)


def perturbed_grad(index, delta):
    def grad(f, argnums=0, placement=None):
        def g(*args):
            out = np.array(autograd.grad(f, argnums)(*args))
            out[index] += delta
            return out
        return g
    return grad


def test_check_grad_accepts_a_correct_gradient():
    a = np.linspace(-1.0, 1.0, 5)
    got = check_grad(sum_method, (a,), grad=autograd_grad)
    np.testing.assert_allclose(got, 2.0 * a)


def test_check_grad_rejects_an_identity_gradient():
    with pytest.raises(AssertionError, match="entries differ"):
        check_grad(sum_method, (np.linspace(-1.0, 1.0, 5),), grad=identity_grad)


def test_check_grad_names_the_entry_that_differs_and_by_how_much():
    with pytest.raises(AssertionError) as err:
        check_grad(sum_method, (np.linspace(-1.0, 1.0, 5),), grad=perturbed_grad(3, 1e-3))
    message = str(err.value)
    assert "1 of 5 entries differ" in message
    assert "entry 3" in message
    assert "|difference| 1.000e-03" in message


def test_check_grad_rejects_an_error_just_above_tolerance():
    with pytest.raises(AssertionError, match="entry 1"):
        check_grad(sum_method, (np.linspace(-1.0, 1.0, 5),), grad=perturbed_grad(1, 1e-5))


def test_check_grad_requires_none_for_integer_arguments():
    def zero_for_ints(f, argnums=0, placement=None):
        return lambda x, n: (autograd.grad(f, 0)(x, n), 0.0)
    with pytest.raises(AssertionError, match="must get no gradient"):
        check_grad(int_arg_scale, (0.9, 4), (0, 1), grad=zero_for_ints)


def test_check_grad_requires_the_structure_of_the_argument():
    def as_list(f, argnums=0, placement=None):
        return lambda params: list(autograd.grad(f, 0)(params).values())
    with pytest.raises(AssertionError, match="expected a dict"):
        check_grad(dict_arg, ({"w": np.ones(3), "b": np.arange(3.0)},), grad=as_list)


def test_check_grad_requires_none_at_integer_leaves_of_containers():
    def ints_get_zero(f, argnums=0, placement=None):
        def g(cfg):
            w, scale = cfg["pair"]
            n = cfg["steps"]
            return {"pair": (2.0 * w * scale * n, float(np.sum(w * w)) * n), "steps": 0}
        return g
    with pytest.raises(AssertionError, match=r"\['steps'\]: integer/boolean input"):
        check_grad(nested_arg, ({"pair": (np.ones(3), 0.5), "steps": 2},), grad=ints_get_zero)


def test_check_grad_reports_every_argnum_that_differs():
    def both_wrong(f, argnums=0, placement=None):
        return lambda a, b, A: tuple(np.zeros_like(v) for v in (a, b, A))
    args = (np.linspace(0.1, 0.4, 4), np.linspace(-1.0, 0.5, 4), np.ones((3, 4)))
    with pytest.raises(AssertionError) as err:
        check_grad(dot_fn, args, (0, 1, 2), grad=both_wrong)
    assert "args[0]" in str(err.value) and "args[1]" in str(err.value)
    assert "args[2]" in str(err.value)


def test_check_against_autograd_rejects_a_wrong_gradient():
    module = corpus.modules()[corpus.MODULE_NAMES.index("arrays")]
    with pytest.raises(AssertionError, match="autograd"):
        check_against_autograd(module, "sum_method", (np.linspace(-1.0, 1.0, 5),),
                               grad=identity_grad)


def test_autograd_namespace_runs_the_module_source_on_autograd_numpy():
    module = corpus.modules()[corpus.MODULE_NAMES.index("arrays")]
    namespace = autograd_namespace(module)
    assert namespace["np"].__name__ == "autograd.numpy"
    assert namespace["sum_method"] is not module.sum_method
    assert module.np is np


def test_check_vjp_rejects_a_wrong_pullback():
    def wrong_vjp(f, *args, placement=None):
        return f(*args), lambda ct: (np.sin(args[0]) * ct,)
    with pytest.raises(AssertionError, match="pullback of vector_sin"):
        check_vjp(vectors.vector_sin, (np.linspace(-1.0, 1.0, 4),), np.ones(4), vjp=wrong_vjp)


def test_check_vjp_requires_one_entry_per_positional_argument():
    def short_vjp(f, *args, placement=None):
        return f(*args), lambda ct: args[0] * ct
    with pytest.raises(AssertionError, match="one entry per positional argument"):
        check_vjp(vectors.float_output, (0.4, 0.3), 1.0, vjp=short_vjp)


def test_assert_bitwise_equal_rejects_a_one_ulp_difference():
    a = np.linspace(0.0, 1.0, 4)
    b = a.copy()
    b[2] = np.nextafter(b[2], 2.0)
    with pytest.raises(AssertionError, match=r"1 of 4 entries differ"):
        assert_bitwise_equal((a, 1.0), (b, 1.0))


def test_assert_not_mutated_reports_the_modified_input():
    before = ({"u": np.zeros(3)},)
    after = ({"u": np.array([0.0, 1.0, 0.0])},)
    with pytest.raises(AssertionError, match=r"(?s)modified in place.*\['u'\]"):
        assert_not_mutated(before, after)
