"""More models written the way other people write them (tests/styles/): a physics student's
N-body with double loops and energy diagnostics, a 2-D shallow-water script with a while loop on
model time, Lorenz-63 on tuples with zip, a Black-Scholes calibration with scipy.stats, a Sod
shock tube with ghost cells written in place, a hand-written logistic regression trained by
gradient descent (a hyper-gradient), and an energy balance model with np.gradient and
np.trapezoid, and Kuramoto-Sivashinsky by ETDRK4 in Fourier space. Each is differentiated unchanged and checked against finite differences, with
every call checkpointed (the default) and with every call split, and its inputs are left as they
were."""
import copy

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import all_split, assert_not_mutated, check_grad
from styles import (black_scholes, energy_balance, euler_sod, kuramoto_sivashinsky, logistic, lorenz63_class,
                    lorenz63_tuples, nbody, shallow_water_2d)

RNG = np.random.default_rng(11)


def check_both(f, args, argnums, **tol):
    before = copy.deepcopy(args)
    grads = [check_grad(f, args, argnums, placement=placement, **tol) for placement in (None, all_split(f))]
    assert_not_mutated(args, before)
    return grads


def test_nbody_with_double_loops_scalar_writes_and_an_energy_diagnostic():
    pos = np.array([[0.0, 0.0], [1.0, 0.1], [-0.4, 0.9], [0.3, -0.8]])
    vel = np.array([[0.0, 0.0], [0.0, 0.8], [-0.7, -0.2], [0.6, 0.1]])
    mass = np.array([1.0, 0.1, 0.2, 0.15])
    check_both(nbody.final_spread, (pos, vel, mass), (0, 1, 2), rtol=1e-5, atol=1e-7)


def test_shallow_water_script_with_a_while_loop_on_model_time():
    yy, xx = np.mgrid[0:shallow_water_2d.ny, 0:shallow_water_2d.nx]
    eta0 = np.exp(-((xx - 8.0) ** 2 + (yy - 6.0) ** 2) / 8.0)
    check_both(shallow_water_2d.cost, (eta0, 1e-6), 0, rtol=1e-5, atol=1e-9)
    # the drag is of order 1e-6: finite differences need a step to match (the helper's is 1e-4 or so)
    d_drag = nba.grad(shallow_water_2d.cost, argnums=1)(eta0, 1e-6)
    h = 1e-9
    fd = (shallow_water_2d.cost(eta0, 1e-6 + h) - shallow_water_2d.cost(eta0, 1e-6 - h)) / (2 * h)
    assert abs(d_drag - fd) <= 1e-6 * abs(fd)


def test_lorenz63_on_tuples_with_zip():
    obs = [1.2, 0.8, -0.3, -1.0]
    check_both(lorenz63_tuples.misfit, (1.0, 1.5, 20.0, 10.0, obs), (0, 1, 2, 3), rtol=1e-5, atol=1e-7)


def test_black_scholes_calibration_with_scipy_stats():
    strikes = np.array([80.0, 90.0, 100.0, 110.0, 120.0])
    market = np.array([21.0, 12.5, 6.0, 2.3, 0.7])
    check_both(black_scholes.calibration_error, (0.25, 100.0, strikes, market), (0, 1), rtol=1e-5)


def test_sod_shock_tube_with_ghost_cells_written_in_place():
    rho0 = np.where(np.arange(20) < 10, 1.0, 0.125) + 0.01 * RNG.normal(size=20)
    check_both(euler_sod.entropy_cost, (rho0, 0.1), (0, 1), rtol=1e-5, atol=1e-8)


def test_hyper_gradient_of_hand_written_logistic_regression_training():
    X = RNG.normal(size=(30, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * RNG.normal(size=30) > 0).astype(float)
    Xv, yv = X[:10] + 0.1, y[:10]
    check_both(logistic.validation_loss, (np.zeros(3), 0.5, X, y, Xv, yv), (0, 1), rtol=1e-5, atol=1e-8)


def test_energy_balance_model_with_np_gradient_and_trapezoid():
    T0 = 15.0 - 30.0 * energy_balance.x ** 2
    check_both(energy_balance.global_mean_temperature, (T0, 0.6), (0, 1), rtol=1e-5, atol=1e-8)


def test_kuramoto_sivashinsky_by_etdrk4_with_complex_intermediates():
    x = np.arange(kuramoto_sivashinsky.N) * kuramoto_sivashinsky.L / kuramoto_sivashinsky.N
    u0 = np.cos(2 * np.pi * x / kuramoto_sivashinsky.L) * (1 + np.sin(2 * np.pi * x / kuramoto_sivashinsky.L))
    check_both(kuramoto_sivashinsky.energy_after, (u0,), 0, rtol=1e-5, atol=1e-9)


def test_lorenz63_written_as_a_class_with_state_in_an_attribute():
    g, g_split = check_both(lorenz63_class.final_z, (np.array([1.0, 1.0, 20.0]),), 0, rtol=1e-5, atol=1e-7)
    assert np.array_equal(g, g_split)
    sites = nba.call_sites(lorenz63_class.final_z)
    assert "Lorenz63.integrate:21:Lorenz63.step" in sites and "final_z:26:Lorenz63" in sites
