"""The CI slice of the fuzzing campaign (tests/fuzz): a fixed, derandomised sample of generated
programs from every family, each run through the oracle (finite differences, autograd where it
runs the source, every placement bit for bit, inputs untouched). A WRONG gradient or a CRASH
fails; a clear refusal (TransformError / AliasError naming a line) passes.

The full campaign is ``python -m tests.fuzz --n 10000``; a larger randomised run is the ``slow``
test below (``python -m pytest -m slow tests/test_fuzz_slice.py``).
"""

import os
import random
import shutil
import tempfile

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from fuzz.chooser import RandomChooser
from fuzz.families import FAMILIES, generate, hypothesis_programs
from fuzz.oracle import BAD, check_program

FOLDER = tempfile.mkdtemp(prefix="nbadjoint_fuzz_slice_")
SLICE = dict(max_examples=40, deadline=None, derandomize=True, database=None,
             phases=(Phase.explicit, Phase.generate),
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Families whose programs find bugs that are open on main today (issue 9, section 1, and the fuzz
# campaign's report); the marks go when the fixes land.
OPEN = {
}


def family_params():
    return [pytest.param(name, marks=pytest.mark.xfail(strict=False, reason=OPEN[name]))
            if name in OPEN else name for name in FAMILIES]


def teardown_module():
    shutil.rmtree(FOLDER, ignore_errors=True)


def assert_not_bad(program, types=False):
    result = check_program(program.source, FOLDER, autograd=program.autograd, types=types)
    assert result.outcome not in BAD, (
        f"{result.outcome}: {result.signature}\n{result.detail}\n--- program ---\n{program.source}")
    return result


@pytest.mark.parametrize("family", family_params())
@settings(**SLICE)
@given(data=st.data())
def test_fuzz_slice(family, data):
    assert_not_bad(data.draw(hypothesis_programs(family), label="program"))


# The same programs with the float argument given as a 0-d array and as np.float64.
OPEN_TYPES: dict = {}


@pytest.mark.parametrize("family", [
    pytest.param(name, marks=pytest.mark.xfail(strict=False, reason=OPEN_TYPES[name]))
    if name in OPEN_TYPES else name for name in ("general", "early_exit", "nested_writes", "scalar_lists",
                                                 "python_scalars", "active_branches", "matrix_inputs")])
@settings(**{**SLICE, "max_examples": 20})
@given(data=st.data())
def test_fuzz_slice_scalar_types(family, data):
    assert_not_bad(data.draw(hypothesis_programs(family), label="program"), types=True)


@pytest.mark.slow
@pytest.mark.parametrize("family", family_params())
def test_fuzz_campaign_sample(family, request):
    """300 randomised programs per family (seed printed on failure); opt in with ``-m slow``."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the campaign sample runs only with -m slow")
    seed = int(os.environ.get("NBADJOINT_FUZZ_SEED", random.SystemRandom().getrandbits(32)))
    failures = []
    for i in range(300):
        program = generate(family, RandomChooser(random.Random(f"{seed}:{i}").getrandbits(48)))
        result = check_program(program.source, FOLDER, autograd=program.autograd, types=True)
        if result.outcome in BAD:
            failures.append(f"{result.outcome}: {result.signature}\n{program.source}")
    assert not failures, f"seed {seed} (NBADJOINT_FUZZ_SEED): {len(failures)} failures, first:\n{failures[0]}"


# ---------------------------------------------------------------- the oracle itself catches bugs

PROGRAM = '''import numpy as np


def helper(a, s):
    return np.sin(a) * s


def main(x, s):
    y = helper(x, s)
    return np.sum(y * y) + s


ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
'''


def broken_value_and_grad(monkeypatch, spoil):
    """nba.value_and_grad with ``spoil(value, grads, args, placement)`` applied to its result."""
    import nbadjoint as nba
    real = nba.value_and_grad

    def fake(f, argnums=0, placement=None):
        vg = real(f, argnums, placement)

        def run(*args):
            value, grads = vg(*args)
            return spoil(value, grads, args, placement)
        return run
    monkeypatch.setattr(nba, "value_and_grad", fake)


def test_oracle_passes_a_correct_program():
    assert check_program(PROGRAM, FOLDER, autograd=True).outcome == "OK"


def test_oracle_flags_a_gradient_off_by_one_percent(monkeypatch):
    broken_value_and_grad(monkeypatch, lambda v, g, a, p: (v, (g[0] * 1.01, g[1])))
    result = check_program(PROGRAM, FOLDER, autograd=True)
    assert (result.outcome, result.signature) == ("WRONG", "gradient differs from finite differences")


def test_oracle_flags_a_gradient_that_depends_on_the_placement(monkeypatch):
    def spoil(v, g, a, placement):
        split = placement is not None and not any(placement.values())
        return v, (g[0] + (1e-15 if split else 0.0), g[1])
    broken_value_and_grad(monkeypatch, spoil)
    result = check_program(PROGRAM, FOLDER)
    assert (result.outcome, result.signature) == ("WRONG", "placement changes the gradient")


def test_oracle_flags_an_input_written_by_the_gradient(monkeypatch):
    def spoil(v, g, args, p):
        args[0][1] += 1.0
        return v, g
    broken_value_and_grad(monkeypatch, spoil)
    result = check_program(PROGRAM, FOLDER)
    assert (result.outcome, result.signature) == ("WRONG", "input mutated although the primal does not")


def test_oracle_counts_an_internal_exception_as_a_crash(monkeypatch):
    def spoil(v, g, a, p):
        raise KeyError("tape")
    broken_value_and_grad(monkeypatch, spoil)
    result = check_program(PROGRAM, FOLDER)
    assert result.outcome == "CRASH" and result.signature.startswith("KeyError in grad")


def test_oracle_accepts_a_refusal_that_names_the_line():
    source = PROGRAM.replace("    return np.sum(y * y) + s", "    del y\n    return s")
    result = check_program(source, FOLDER)
    assert result.outcome == "REFUSAL" and "del" in result.detail and "line 10" in result.detail


WRITES_INTO_ITS_FLOAT = '''
import numpy as np


def shift(a, s):
    s -= 0.4 * np.sin(0.2 * np.sum(a))
    return 0.2 * a


def main(x, s):
    x = shift(x, s)
    return np.sum(x * x * np.tanh(s)) + x[1]


ARGS = (np.array([-0.47, 0.05, 0.74, -0.67, 0.44]), -0.24)
ARGNUMS = (0, 1)
'''


def test_program_writing_into_its_zero_d_argument_is_checked_against_its_own_finite_differences():
    # with a 0-d array the primal really changes the caller's `s`: another function than with a float
    result = check_program(WRITES_INTO_ITS_FLOAT, FOLDER, types=True)
    assert result.outcome == "OK", f"{result.outcome}: {result.signature}\n{result.detail}"
