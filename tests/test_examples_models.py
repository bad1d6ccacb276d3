"""The example models in examples/: they run, stay finite, and nbadjoint differentiates them."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load(name):
    """Import an example module from examples/ by name."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def central_difference(f, args, argnum, index, eps):
    """(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for entry `index` of argument `argnum`."""
    def shifted(sign):
        x = args[argnum]
        if isinstance(x, list):
            x = list(x)
            x[index] = x[index] + sign * eps
        else:
            x = np.array(x, dtype=float)
            x[index] += sign * eps
        new = list(args)
        new[argnum] = x
        return float(f(*new))
    return (shifted(+1.0) - shifted(-1.0)) / (2.0 * eps)


def assert_matches_finite_differences(f, args, argnum, grad, indices, eps, rtol):
    for index in indices:
        fd = central_difference(f, args, argnum, index, eps)
        got = float(grad[index])
        assert got == pytest.approx(fd, rel=rtol, abs=rtol * 1e-3 * (1.0 + abs(fd))), (
            f"entry {index}: adjoint {got!r} vs finite difference {fd!r}")


# --- the models run -------------------------------------------------------------------------


def test_ocean_box_runs_to_a_finite_positive_cost():
    ob = load("ocean_box")
    cost = ob.run(nx=16, ny=12, n_steps=5)
    assert np.isfinite(cost) and cost > 0.0


def test_ocean_box_default_state_stays_bounded_over_the_default_run():
    ob = load("ocean_box")
    args = ob.default_args()
    T, S, u, v, eta = args[:5]
    taux, t_star, s_flux, wet_v = args[5], args[6], args[7], args[10]
    for _ in range(args[-1]):
        T, S, u, v, eta = ob.forward_step(T, S, u, v, eta, taux, t_star, s_flux, wet_v)
    assert np.abs(u).max() < 1.0 and np.abs(eta).max() < 10.0
    assert 5.0 < T.min() and T.max() < 25.0


def test_ocean_box_default_args_match_the_root_signature():
    ob = load("ocean_box")
    import inspect
    params = list(inspect.signature(ob.the_main_loop).parameters)
    assert tuple(params) == ob.ARG_NAMES
    assert len(ob.default_args(nx=8, ny=8, n_steps=2)) == len(params)


def test_burgers_runs_to_a_finite_positive_misfit():
    bg = load("burgers")
    assert 0.0 < bg.run(n_cells=500, n_steps=30) < 1.0


def test_burgers_default_step_is_stable():
    bg = load("burgers")
    u0, u_obs, n_steps, dt, dx, nu = bg.default_args(n_cells=2000, n_steps=300)
    u = u0
    for _ in range(n_steps):
        u = bg.burgers_step(u, dt, dx, nu)
    assert u.max() <= u0.max() + 1e-12 and u.min() >= u0.min() - 1e-12


def test_lorenz_runs_on_lists_of_floats():
    lz = load("lorenz")
    value = lz.run(n_vars=6, n_steps=100)
    assert isinstance(value, float) and value > 0.0


def test_quickstart_runs():
    qs = load("quickstart")
    assert qs.run(n=64, n_steps=5) > 0.0


@pytest.mark.parametrize("name", ["ocean_box", "burgers", "lorenz", "quickstart"])
def test_module_docstring_example_runs(name):
    import doctest
    result = doctest.testmod(load(name))
    assert result.attempted > 0 and result.failed == 0


# --- gradients against central finite differences ---------------------------------------------


def test_quickstart_gradient_matches_finite_differences():
    import nbadjoint as nba
    qs = load("quickstart")
    args = qs.default_args(n=32, n_steps=6)
    g = nba.grad(qs.model)(*args)
    assert g.shape == (32,)
    assert_matches_finite_differences(qs.model, args, 0, g, [0, 7, 31], 1e-6, 1e-6)


def test_burgers_gradient_matches_finite_differences():
    import nbadjoint as nba
    bg = load("burgers")
    args = bg.default_args(n_cells=200, n_steps=40)
    g = nba.grad(bg.burgers)(*args)
    assert g.shape == (200,)
    peak = int(np.argmax(np.abs(g)))
    assert_matches_finite_differences(bg.burgers, args, 0, g, [peak, 60, 199], 1e-6, 1e-5)


def test_lorenz_gradient_matches_finite_differences():
    import nbadjoint as nba
    lz = load("lorenz")
    args = lz.default_args(n_vars=6, n_steps=40)
    g = nba.grad(lz.lorenz96)(*args)
    assert isinstance(g, list) and len(g) == 6
    assert_matches_finite_differences(lz.lorenz96, args, 0, g, [0, 3, 5], 1e-6, 1e-6)


def test_ocean_box_gradient_matches_finite_differences():
    import nbadjoint as nba
    ob = load("ocean_box")
    args = ob.default_args(nx=12, ny=10, n_steps=4)
    g = nba.grad(ob.the_main_loop)(*args)
    assert g.shape == (10, 12)
    assert_matches_finite_differences(ob.the_main_loop, args, 0, g, [(0, 0), (4, 5), (9, 11)],
                                      1e-4, 1e-5)


def test_ocean_box_gradient_wrt_forcing_matches_finite_differences():
    import nbadjoint as nba
    ob = load("ocean_box")
    args = ob.default_args(nx=12, ny=10, n_steps=4)
    g_T0, g_tstar = nba.grad(ob.the_main_loop, argnums=(0, 6))(*args)
    assert g_T0.shape == g_tstar.shape == (10, 12)
    assert_matches_finite_differences(ob.the_main_loop, args, 6, g_tstar, [(3, 3), (8, 2)],
                                      1e-3, 1e-5)


def test_ocean_box_gradient_matches_autograd():
    import autograd
    import nbadjoint as nba
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from twins import autograd_twin
    ob = load("ocean_box")
    args = ob.default_args(nx=12, ny=10, n_steps=4)
    expected = autograd.grad(autograd_twin(ob).the_main_loop)(*args)
    np.testing.assert_allclose(nba.grad(ob.the_main_loop)(*args), expected, rtol=1e-10, atol=1e-14)


def test_ocean_box_has_a_deep_call_tree_with_at_least_ten_sites():
    import nbadjoint as nba
    ob = load("ocean_box")
    sites = nba.call_sites(ob.the_main_loop)
    assert len(sites) >= 10
    callees = {s.split(":")[-1] for s in sites}
    assert {"forward_step", "dynamics", "thermodynamics", "advection", "diffusion",
            "find_rho", "cost_function"} <= callees


def test_ocean_box_gradient_is_bitwise_identical_all_split_and_all_checkpointed():
    import nbadjoint as nba
    ob = load("ocean_box")
    args = ob.default_args(nx=10, ny=8, n_steps=3)
    sites = nba.call_sites(ob.the_main_loop)
    g_ckpt = nba.grad(ob.the_main_loop, placement={s: True for s in sites})(*args)
    g_split = nba.grad(ob.the_main_loop, placement={s: False for s in sites})(*args)
    assert np.array_equal(g_ckpt, g_split)
