"""Traps real code falls into, each either differentiated correctly or refused at its line: a
number written at an index that is a list or a slice, library calls that write into an array the
caller holds (np.put in a helper, np.copyto into a global, heapq, operator.setitem), a function
called only to print, an array returned out of a list and written, a generator handed to
np.random.default_rng inside a checkpointed call, a negative scale of a draw."""
import numpy as np
import pytest

import nbadjoint as nba
import traps_models as m
from gradcheck import all_split, assert_bitwise_equal, check_grad

X = np.array([0.3, 0.5, 0.9])


@pytest.mark.parametrize("idx", [[1, 2], slice(1, None), 2])
def test_a_number_written_at_an_index_that_is_not_one_entry(idx):
    check_grad(m.scatter, (list(X), idx), 0)
    check_grad(m.scatter, (X, idx), 0)


@pytest.mark.parametrize("f,name", [(m.uses_clamp, "np.put"), (m.copies_into_global, "np.copyto"),
                                    (m.uses_push, "heapq.heappush"), (m.uses_zero_first, "operator.setitem")])
def test_a_library_call_writing_into_an_array_the_caller_holds_is_refused(f, name):
    with pytest.raises(nba.TransformError, match=f"no derivative rule for `{name}`"):
        nba.grad(f)(X.copy())


def test_a_function_called_only_to_print_runs_as_itself(capsys):
    check_grad(m.prints_energy, (X,), 0)
    assert "energy" in capsys.readouterr().out


def test_writing_into_an_array_a_callee_took_out_of_a_list_is_refused():
    with pytest.raises(nba.AliasError, match="writing into `z` also changes `y`"):
        nba.grad(m.writes_into_a_returned_entry)(X)


def test_a_generator_handed_to_default_rng_in_a_checkpointed_call_is_replayed():
    def fd_grad(h=1e-6):
        g = np.zeros(3)
        for i in range(3):
            e = np.zeros(3)
            e[i] = h
            g[i] = (m.noisy(X + e, np.random.default_rng(5)) - m.noisy(X - e, np.random.default_rng(5))) / (2 * h)
        return g
    rng = np.random.default_rng(5)
    g = nba.grad(m.noisy)(X, rng)
    assert np.allclose(g, fd_grad(), rtol=1e-6, atol=1e-8)
    after_grad = rng.bit_generator.state
    primal_rng = np.random.default_rng(5)
    m.noisy(X, primal_rng)
    assert after_grad == primal_rng.bit_generator.state          # left where one primal call leaves it
    split = nba.grad(m.noisy, placement=all_split(m.noisy))(X, np.random.default_rng(5))
    assert_bitwise_equal(split, g)
    assert_bitwise_equal(nba.grad(m.noisy)(X, 5), nba.grad(m.noisy)(X, 5))    # a seed: nothing to save


def test_a_negative_scale_raises_numpys_error():
    with pytest.raises(ValueError, match="scale < 0"):
        nba.grad(m.negative_scale)(-0.5, np.random.default_rng(1))


def test_a_pickled_pullback_draws_what_the_run_drew_or_refuses_to_travel():
    import pickle
    value, pullback = nba.vjp(m.drawn_with, X, np.random.default_rng(3))
    travelled = pickle.loads(pickle.dumps(pullback))
    assert_bitwise_equal(travelled(1.0)[0], pullback(1.0)[0])
    np.random.seed(0)
    _, pullback = nba.vjp(m.drawn_globally, X)
    with pytest.raises(pickle.PicklingError, match="cannot travel"):
        pickle.dumps(pullback)


def test_the_gradient_of_a_script_function_travels_from_the_script(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    script = tmp_path / "script.py"
    script.write_text(
        "import pickle\nimport numpy as np\nimport nbadjoint as nba\n\n\n"
        "def model(u0, s):\n    return np.sum(np.sin(u0) * s)\n\n\n"
        "if __name__ == '__main__':\n"
        "    u = np.array([0.3, 0.5, 0.9])\n"
        "    here = nba.grad(model)(u, 0.3)\n"
        "    there = pickle.loads(pickle.dumps(nba.grad(model)))(u, 0.3)\n"
        "    print(np.array_equal(here, there))\n")
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("f", [m.writes_the_entry_of_a_0d_array, m.reads_the_entry_of_a_0d_array])
def test_the_entry_of_a_0d_array(f):
    check_grad(f, (X,), 0)


def test_a_slice_of_a_list_written_with_as_many_entries():
    check_grad(m.list_slice_written, (X,), 0)
    with pytest.raises(TypeError, match="slice of a list"):
        nba.grad(m.list_slice_grows)(X)


def test_the_gradient_of_a_namedtuple_argument_is_that_namedtuple():
    from collections import namedtuple
    State = namedtuple("State", "T S")
    g = check_grad(m.namedtuple_cost, (State(np.array([0.3, 0.5]), 0.7),), 0)
    assert isinstance(g, State) and np.allclose(g.T, [0.42, 0.7])


def test_a_loop_that_draws_random_numbers_keeps_every_iteration():
    loop = nba.loops(m.noisy_loop)[0]
    with pytest.raises(nba.PlacementError, match="draw random numbers"):
        nba.grad(m.noisy_loop, placement={loop: 3})(X, np.random.default_rng(0), 10)
    g = nba.grad(m.noisy_loop)(X, np.random.default_rng(0), 10)        # every iteration kept: fine
    h = 1e-6
    fd = [(m.noisy_loop(X + h * e, np.random.default_rng(0), 10) - m.noisy_loop(X - h * e, np.random.default_rng(0), 10))
          / (2 * h) for e in np.eye(3)]
    assert np.allclose(g, fd, rtol=1e-6)


def test_a_run_refused_after_drawing_leaves_the_generator_as_it_found_it():
    rng = np.random.default_rng(7)
    before = rng.bit_generator.state
    with pytest.raises(nba.TransformError, match="without a seed"):
        nba.grad(m.draws_then_refused)(X, rng)
    assert rng.bit_generator.state == before


def test_a_write_by_a_library_call_into_the_functions_own_array():
    with pytest.raises(nba.TransformError, match="no derivative rule for `np.put`"):
        nba.grad(m.clamps_its_own_sine)(X)
    check_grad(m.clamps_an_unused_sine, (X,), 0)       # nothing depends on the array it wrote


def test_burgers_gives_the_same_bits_with_loop_snapshots_split_calls_and_its_general_bodies():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import burgers
    args = burgers.default_args(200, 40)
    f = burgers.burgers
    loop = nba.loops(f)[0]
    reference = nba.grad(f)(*args)
    assert_bitwise_equal(nba.grad(f, placement={loop: 5})(*args), reference)
    assert_bitwise_equal(nba.grad(f, placement={loop: {"ram": 2, "disk": 3}, **all_split(f)})(*args), reference)
    assert_bitwise_equal(nba.grad(f, placement=all_split(f))(*args), reference)
    general = list(args)
    general[3] = np.array(args[3])          # dt as a 0-d array: the shape guards fail, the general bodies run
    assert_bitwise_equal(nba.grad(f)(*general), reference)
