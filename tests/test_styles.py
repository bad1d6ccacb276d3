"""Models written the way other people write them (tests/styles/): a research script with timers,
prints, option flags and diagnostics; a SciPy ODE model; a PDE on Python lists; a NumPy neural
network; a finite-volume solver with in-place flux updates and a limiter; a box model with scalar
writes into preallocated arrays; a Monte Carlo option pricer drawing its random numbers inside. Each is differentiated unchanged and checked against finite
differences, with every call checkpointed (the default) and with every call split, and its inputs
are left as they were."""
import copy

import numpy as np

import nbadjoint as nba

from gradcheck import all_split, assert_bitwise_equal, assert_not_mutated, check_grad
from styles import box_model, finite_volume, heat_lists, heat_script, mlp, monte_carlo, seir_odeint

RNG = np.random.default_rng(7)


def check_both(f, args, argnums, **tol):
    before = copy.deepcopy(args)
    for placement in (None, all_split(f)):
        check_grad(f, args, argnums, placement=placement, **tol)
    assert_not_mutated(args, before)


def test_research_script_with_timers_prints_flags_and_diagnostics(capsys):
    T0 = np.exp(-((np.linspace(0, 1, heat_script.NX) - 0.3) ** 2) / 0.01)
    check_both(heat_script.cost, (T0, 1.3), (0, 1))
    check_grad(heat_script.cost, (T0, 1.3, True), (0, 1))
    assert "elapsed" in capsys.readouterr().out


def test_seir_model_with_odeint():
    y0 = np.array([990.0, 5.0, 5.0, 0.0])
    data = np.linspace(5.0, 60.0, 16)
    params = np.array([0.5, 0.2, 0.1])
    check_both(seir_odeint.misfit, (params, data, y0), 0, rtol=1e-4, atol=1e-6)


def test_heat_equation_on_python_lists():
    T = [0.0, 0.2, 0.9, 1.0, 0.7, 0.3, 0.1, 0.0]
    check_both(heat_lists.simulate, (T, 0.25), (0, 1))


def test_numpy_neural_network():
    X = RNG.normal(size=(12, 4))
    y = np.eye(3)[RNG.integers(0, 3, size=12)]
    W1, b1 = RNG.normal(size=(4, 5)) * 0.5, np.zeros(5)
    W2, b2 = RNG.normal(size=(5, 3)) * 0.5, np.zeros(3)
    check_both(mlp.loss, (W1, b1, W2, b2, X, y), (0, 1, 2, 3))


def test_finite_volume_solver_with_in_place_flux_updates_and_a_limiter():
    q0 = np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False)) + 0.1 * RNG.normal(size=24)
    check_both(finite_volume.total_variation_cost, (q0, 0.4), (0, 1))


def test_box_model_with_scalar_writes_into_preallocated_arrays():
    check_both(box_model.box_model, (np.array([1.0, 0.2]), np.array([0.3, 0.1]),
                                     np.array([2.0, 1.5, 0.8, 0.05])), (0, 1, 2))


def test_monte_carlo_pricer_drawing_inside_after_a_seed():
    # the model seeds np.random itself, so every evaluation draws the same numbers; its
    # checkpointed calls replay their draws when recomputed
    check_both(monte_carlo.asian_call, (1.0, 0.3), (0, 1))
    monte_carlo.asian_call(1.0, 0.3)
    np.random.standard_normal()
    after_primal = np.random.get_state(legacy=False)
    nba.grad(monte_carlo.asian_call, (0, 1))(1.0, 0.3)
    np.random.standard_normal()
    assert_bitwise_equal(np.random.get_state(legacy=False), after_primal, "np.random's state")
