"""Random draws inside the differentiated code: np.random.*, a np.random.Generator passed in or
created inside, a module-level generator, and the standard random module.

The gradient is the pathwise derivative for the draws of the run: it equals finite differences of
the same model drawing the same numbers (each evaluation starts from the same generator state),
is bitwise identical whatever the placement (a checkpointed call replays its draws when it is
recomputed), and leaves every generator where one primal call of the model leaves it."""
import copy
import random

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import (PLACEMENTS, all_split, assert_bitwise_equal, check_against_autograd, check_grad,
                       compare_gradients, finite_difference_gradient, placement_of, source_line)

import test_random_draws as this_module


# ----------------------------------------------------------------------------- models

STRIKE = 1.05


def terminal_prices(S0, sigma, r, T, n_paths, n_steps):
    dt = T / n_steps
    z = np.random.standard_normal((n_paths, n_steps))
    increments = (r - 0.5 * sigma ** 2) * dt + sigma * np.sqrt(dt) * z
    log_paths = np.cumsum(increments, axis=1)
    return S0 * np.exp(log_paths[:, -1])


def european_call(S0, sigma, r, T=1.0, n_paths=400, n_steps=12):
    """Monte Carlo price of a European call under geometric Brownian motion."""
    np.random.seed(0)
    S_T = terminal_prices(S0, sigma, r, T, n_paths, n_steps)
    payoff = np.maximum(S_T - STRIKE, 0.0)
    return np.exp(-r * T) * np.mean(payoff)


def em_step(x, theta, sigma, dt, rng):
    dW = rng.normal(0.0, 1.0, size=x.shape)
    return x - theta * x * dt + sigma * np.sqrt(dt) * dW


def ou_ensemble(x0, theta, sigma, rng, n_steps=15, dt=0.05):
    """Ornstein-Uhlenbeck particles by Euler-Maruyama, a generator passed in."""
    x = x0
    for _ in range(n_steps):
        x = em_step(x, theta, sigma, dt, rng)
    return np.mean(x ** 2)


def noisy_observations(params, rng, n_obs=40):
    """Observations drawn around the model with differentiated location and scale."""
    level = rng.normal(params[0], params[1], size=n_obs)
    gain = rng.uniform(params[2], params[2] + 1.0, size=n_obs)
    delay = rng.exponential(params[3], size=n_obs)
    return np.mean(np.tanh(level * gain) + 0.1 * delay ** 2)


def dropout(h, rate, rng):
    mask = rng.random(h.shape) > rate
    return h * mask / (1.0 - rate)


def random_features_loss(w, X, y):
    """Random Fourier features regression; the features and the dropout drawn inside."""
    rng = np.random.default_rng(42)
    W = rng.standard_normal((X.shape[1], w.shape[0]))
    b = rng.uniform(0.0, 2.0 * np.pi, size=w.shape[0])
    features = np.cos(X @ W + b)
    hidden = dropout(features, 0.25, rng)
    pred = hidden @ w
    return np.mean((pred - y) ** 2)


def logistic_growth(r, K, x0, n_steps=30):
    """A population with multiplicative noise, drawn with the random module in a scalar loop."""
    random.seed(2024)
    x = x0
    total = 0.0
    for i in range(n_steps):
        shock = random.gauss(0.0, 0.05)
        x = x + r * x * (1.0 - x / K) + shock * x
        total += x
    return total / n_steps


def harvest(x, effort):
    catch = effort * x * random.uniform(0.8, 1.2)
    return x - catch, catch


def fishery(r, effort, x0, n_years=25):
    """The random module drawn in a helper called each year (a call site)."""
    x = x0
    total_catch = 0.0
    for year in range(n_years):
        x = x + r * x * (1.0 - x) + random.gauss(0.0, 0.01) * x
        x, catch = harvest(x, effort)
        total_catch += catch
    return total_catch


def noisy_scalar(mu, sigma, scale):
    random.seed(7)
    acc = 0.0
    for i in range(10):
        acc += random.gauss(mu, sigma) ** 2 + random.uniform(mu, 2.0 * mu) + random.expovariate(1.0 / scale)
    return acc


def shake(v, amp):
    return v * (1.0 + amp * np.random.standard_normal(v.shape))


def relax(v, k, rng):
    kick = rng.normal(0.0, 0.1, size=v.shape)
    return v + k * (np.roll(v, 1) - v) + kick


def shaken_chain(v0, amp, k, rng):
    """A draw inside helpers called from a loop: two call sites, each checkpointed or split."""
    np.random.seed(3)
    v = v0
    for i in range(6):
        v = shake(v, amp)
        v = relax(v, k, rng)
    return np.sum(np.sin(v) ** 2)


MODULE_RNG = np.random.default_rng(11)


def jitter(v, amp):
    return v + amp * MODULE_RNG.standard_normal(v.shape)


def smooth_and_jitter(v, amp, rng):
    w = v + rng.normal(0.0, amp, size=v.shape)
    return jitter(0.5 * (w + np.roll(w, 1)), amp)


def two_levels(v0, amp, rng):
    """Draws two calls deep: a generator passed down and a module-level one."""
    v = v0
    for i in range(3):
        v = smooth_and_jitter(v, amp, rng)
    return np.sum(np.tanh(v) ** 2)


def gamma_noise(v, shape, rng):
    return v * rng.gamma(shape, 1.0, size=v.shape)


def with_gamma(v, shape, rng):
    return np.sum(gamma_noise(v, shape, rng) ** 2)


def with_fixed_gamma(v, rng):
    shape = 2.0
    return np.sum(gamma_noise(v, shape, rng) ** 2)


def noisy_step(x, p):
    return x + p["rng"].normal(0.0, 0.1, size=x.shape)


def generator_in_a_dict(x, rng):
    p = {"rng": rng}
    return np.sum(noisy_step(x, p) ** 2)


def unseeded_noise(x):
    rng = np.random.default_rng()
    return x * (1.0 + 0.1 * rng.standard_normal(x.shape))


def uses_unseeded(x):
    return np.sum(unseeded_noise(x) ** 2)


def batch_loss(w, Xb, yb):
    return np.sum((Xb @ w - yb) ** 2)


def minibatch_loss(w, X, y):
    """Shuffled mini-batches (np.random.shuffle of an index array), each batch a call site."""
    np.random.seed(1)
    idx = np.arange(len(y))
    np.random.shuffle(idx)
    loss = 0.0
    for start in range(0, len(y), 5):
        batch = idx[start:start + 5]
        loss = loss + batch_loss(w, X[batch], y[batch])
    return loss


def epoch_loss(w, X, y, rng):
    """One epoch of shuffled mini-batches, the order drawn by a generator passed in."""
    order = np.arange(len(y))
    rng.shuffle(order)
    loss = 0.0
    for start in range(0, len(y), 4):
        batch = order[start:start + 4]
        loss = loss + batch_loss(w, X[batch], y[batch])
    return loss


def shuffled_scores(w, X, weights, rng):
    """Shuffling an array that carries a derivative, and that the adjoint reads afterwards."""
    scores = X @ w
    first = np.sum(scores * weights)
    rng_order = rng.permutation(len(weights))
    np.random.seed(2)
    np.random.shuffle(scores)
    return first + np.sum(scores * weights[rng_order]) ** 2


def decay_step(x, k, rng):
    rate = rng.uniform(0.5 * k, 1.5 * k)
    return x * (1.0 - rate) + 0.01 * rng.random()


def jittered_decay(k, x0, rng):
    """Any kind of generator passed in: only methods every kind has."""
    x = x0
    for i in range(8):
        x = decay_step(x, k, rng)
    return x


GENERATOR_KINDS = {
    "Generator(PCG64)": lambda: np.random.default_rng(21),
    "Generator(MT19937)": lambda: np.random.Generator(np.random.MT19937(21)),
    "RandomState": lambda: np.random.RandomState(21),
    "random.Random": lambda: random.Random(21),
}


# ----------------------------------------------------------------------------- helpers

def state_of(gen):
    if isinstance(gen, np.random.Generator):
        return gen.bit_generator.state
    if isinstance(gen, random.Random):
        return gen.getstate()
    return gen.get_state(legacy=False)


def assert_same_state(a, b):
    assert_bitwise_equal(state_of(a), state_of(b), "generator state")


def global_states():
    return np.random.get_state(legacy=False), random.getstate(), MODULE_RNG.bit_generator.state


def reset_globals(seed=5):
    np.random.seed(seed)
    random.seed(seed)
    MODULE_RNG.bit_generator.state = np.random.default_rng(11).bit_generator.state


def assert_globals(expected):
    actual = global_states()
    assert_bitwise_equal(actual[0], expected[0], "np.random's state")
    assert actual[1] == expected[1], "the random module's state"
    assert_bitwise_equal(actual[2], expected[2], "MODULE_RNG's state")


# ----------------------------------------------------------------------------- np.random.*

@pytest.mark.parametrize("which", PLACEMENTS)
def test_monte_carlo_pricer_seeding_inside_matches_finite_differences(which):
    check_grad(european_call, (1.0, 0.25, 0.03, 1.0, 64), (0, 1, 2), placement=placement_of(european_call, which),
               rtol=1e-5)


def test_monte_carlo_pricer_matches_autograd():
    check_against_autograd(this_module, "european_call", (1.0, 0.25, 0.03, 1.0, 64), (0, 1, 2))


def test_monte_carlo_pricer_leaves_the_global_state_as_one_primal_call():
    reset_globals()
    european_call(1.0, 0.25, 0.03)
    expected = global_states()
    grads = []
    for which in PLACEMENTS:
        reset_globals()
        grads.append(nba.grad(european_call, (0, 1))(1.0, 0.25, 0.03))
        assert_globals(expected)
    assert_bitwise_equal(grads[0], grads[1], "gradient, checkpointed and split")


def test_value_of_a_lowered_draw_is_the_primal_value_bitwise():
    def J(mu, sigma):
        return legacy_location_scale(mu, sigma)
    np.random.seed(1)
    expected = legacy_location_scale(0.3, 0.7)
    np.random.seed(1)
    value, _ = nba.value_and_grad(legacy_location_scale, (0, 1))(0.3, 0.7)
    assert value == expected


def legacy_location_scale(mu, sigma):
    x = np.random.normal(mu, sigma, 50)
    y = np.random.uniform(mu, mu + sigma, size=50)
    z = np.random.exponential(sigma, 50)
    w = np.random.lognormal(mu, 0.1 * sigma, 50)
    return np.sum(np.sin(x) * y + z ** 2 + w)


def seeded_legacy_location_scale(mu, sigma):
    np.random.seed(1)
    return legacy_location_scale(mu, sigma)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_location_scale_draws_of_np_random_get_the_pathwise_derivative(which):
    f = seeded_legacy_location_scale
    check_grad(f, (0.3, 0.7), (0, 1), placement=placement_of(f, which), rtol=1e-5)


# ----------------------------------------------------------------------------- a Generator passed in

@pytest.mark.parametrize("which", PLACEMENTS)
def test_generator_passed_in_matches_finite_differences(which):
    # check_grad copies the arguments for every evaluation: each draws from the same state
    x0 = np.linspace(-1.0, 1.0, 8)
    check_grad(ou_ensemble, (x0, 0.7, 0.4, np.random.default_rng(1)), (0, 1, 2),
               placement=placement_of(ou_ensemble, which))


def test_generator_passed_in_matches_autograd():
    x0 = np.linspace(-1.0, 1.0, 8)
    check_against_autograd(this_module, "ou_ensemble", (x0, 0.7, 0.4, np.random.default_rng(1)), (0, 1, 2))


def test_generator_passed_in_ends_where_one_primal_call_leaves_it_and_gradients_are_bitwise_equal():
    x0 = np.linspace(-1.0, 1.0, 8)
    after_primal = np.random.default_rng(1)
    ou_ensemble(x0, 0.7, 0.4, after_primal)
    grads = []
    for which in PLACEMENTS:
        rng = np.random.default_rng(1)
        grads.append(nba.grad(ou_ensemble, (0, 1, 2), placement=placement_of(ou_ensemble, which))(
            x0, 0.7, 0.4, rng))
        assert_same_state(rng, after_primal)
    assert_bitwise_equal(grads[0], grads[1], "gradient, checkpointed and split")


@pytest.mark.parametrize("which", PLACEMENTS)
def test_location_and_scale_of_generator_draws_get_the_pathwise_derivative(which):
    params = np.array([0.2, 0.6, -0.3, 0.8])
    check_grad(noisy_observations, (params, np.random.default_rng(9)), 0,
               placement=placement_of(noisy_observations, which))


def test_the_pathwise_draw_consumes_the_generator_as_the_plain_draw_does():
    params = np.array([0.2, 0.6, -0.3, 0.8])
    after_primal = np.random.default_rng(9)
    expected = noisy_observations(params, after_primal)
    rng = np.random.default_rng(9)
    value, _ = nba.value_and_grad(noisy_observations)(params, rng)
    assert value == expected
    assert_same_state(rng, after_primal)


@pytest.mark.parametrize("kind", sorted(GENERATOR_KINDS))
def test_every_kind_of_generator_passed_in_is_replayed(kind):
    make = GENERATOR_KINDS[kind]
    after_primal = make()
    jittered_decay(0.1, 1.0, after_primal)
    grads = []
    for which in PLACEMENTS:
        rng = make()
        grads.append(nba.grad(jittered_decay, (0, 1), placement=placement_of(jittered_decay, which))(0.1, 1.0, rng))
        assert_same_state(rng, after_primal)
    assert_bitwise_equal(grads[0], grads[1], "gradient, checkpointed and split")
    check_grad(jittered_decay, (0.1, 1.0, make()), (0, 1))


# ----------------------------------------------------------------------------- created inside

@pytest.mark.parametrize("which", PLACEMENTS)
def test_generator_created_with_a_seed_inside_matches_finite_differences(which):
    data = np.random.default_rng(0)
    X, y = data.normal(size=(20, 3)), data.normal(size=20)
    w = 0.3 * data.normal(size=6)
    check_grad(random_features_loss, (w, X, y), (0, 1), placement=placement_of(random_features_loss, which))


def test_generator_created_with_a_seed_inside_matches_autograd():
    data = np.random.default_rng(0)
    X, y = data.normal(size=(20, 3)), data.normal(size=20)
    w = 0.3 * data.normal(size=6)
    check_against_autograd(this_module, "random_features_loss", (w, X, y), (0, 1))


def test_unseeded_generator_in_a_checkpointed_call_is_refused_at_the_call():
    x = np.array([1.0, 2.0])
    with pytest.raises(nba.TransformError) as info:
        nba.grad(uses_unseeded)(x)
    err = info.value
    assert "without a seed" in str(err) and "unseeded_noise()" in str(err)
    assert err.lineno == source_line(uses_unseeded, "unseeded_noise(x)")
    # split, the call is never recomputed: the gradient is that of the run's draws
    g = nba.grad(uses_unseeded, placement=all_split(uses_unseeded))(x)
    assert g.shape == (2,) and np.all(np.isfinite(g))


def test_generator_reached_through_a_dict_in_a_checkpointed_call_is_refused_at_the_call():
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(nba.TransformError) as info:
        nba.grad(generator_in_a_dict)(x, np.random.default_rng(0))
    err = info.value
    assert "p['rng']" in str(err) and "noisy_step()" in str(err)
    assert err.lineno == source_line(generator_in_a_dict, "noisy_step(x, p)")
    check_grad(generator_in_a_dict, (x, np.random.default_rng(0)), 0, placement=all_split(generator_in_a_dict))


# ----------------------------------------------------------------------------- the random module

@pytest.mark.parametrize("which", PLACEMENTS)
def test_random_module_in_a_scalar_loop_matches_finite_differences(which):
    check_grad(logistic_growth, (0.4, 2.0, 0.3), (0, 1, 2), placement=placement_of(logistic_growth, which))


def test_random_module_location_scale_draws_get_the_pathwise_derivative():
    check_grad(noisy_scalar, (0.4, 0.8, 1.5), (0, 1, 2))


def test_random_module_drawn_in_a_helper_gives_bitwise_equal_gradients_and_state_as_one_primal_call():
    random.seed(12)
    fishery(0.6, 0.2, 0.5)
    expected = random.getstate()
    grads = []
    for which in PLACEMENTS:
        random.seed(12)
        grads.append(nba.grad(fishery, (0, 1, 2), placement=placement_of(fishery, which))(0.6, 0.2, 0.5))
        assert random.getstate() == expected
    assert_bitwise_equal(grads[0], grads[1], "gradient, checkpointed and split")

    def J(r, effort, x0):      # finite differences, each run drawing the same numbers
        random.seed(12)
        return fishery(r, effort, x0)
    for num in (0, 1, 2):
        reference, noise = finite_difference_gradient(J, (0.6, 0.2, 0.5), num)
        compare_gradients(grads[0][num], reference, f"d fishery / d args[{num}]", 1e-6, 1e-8, noise)


def test_random_module_state_after_grad_is_that_after_one_primal_call():
    random.seed(99)
    noisy_scalar(0.4, 0.8, 1.5)
    random.random()
    expected = random.getstate()
    random.seed(99)
    nba.grad(noisy_scalar)(0.4, 0.8, 1.5)
    random.random()
    assert random.getstate() == expected


# ----------------------------------------------------------------------------- replay in recomputation

def placements_of_two_sites(f):
    sites = nba.call_sites(f)
    assert len(sites) == 2
    return [None, all_split(f), {sites[0]: False}, {sites[1]: False}]


def test_draws_in_helpers_called_from_a_loop_give_bitwise_equal_gradients_for_every_placement():
    v0 = np.linspace(0.1, 1.0, 7)
    reset_globals()
    after_primal = np.random.default_rng(4)
    shaken_chain(v0, 0.2, 0.3, after_primal)
    expected_globals = global_states()
    grads = []
    for placement in placements_of_two_sites(shaken_chain):
        reset_globals()
        rng = np.random.default_rng(4)
        grads.append(nba.grad(shaken_chain, (0, 1, 2), placement=placement)(v0, 0.2, 0.3, rng))
        assert_same_state(rng, after_primal)
        assert_globals(expected_globals)
    for g in grads[1:]:
        assert_bitwise_equal(g, grads[0], "gradient")


@pytest.mark.parametrize("which", PLACEMENTS)
def test_draws_in_helpers_called_from_a_loop_match_finite_differences(which):
    v0 = np.linspace(0.1, 1.0, 7)
    check_grad(shaken_chain, (v0, 0.2, 0.3, np.random.default_rng(4)), (0, 1, 2),
               placement=placement_of(shaken_chain, which))


def test_draws_two_calls_deep_from_a_module_level_generator_are_replayed():
    v0 = np.linspace(-0.5, 0.5, 6)

    def run(placement):
        reset_globals()
        rng = np.random.default_rng(8)
        g = nba.grad(two_levels, (0, 1), placement=placement)(v0, 0.3, rng)
        return g, rng, global_states()

    reset_globals()
    after_primal = np.random.default_rng(8)
    two_levels(v0, 0.3, after_primal)
    expected_globals = global_states()
    grads = []
    for placement in placements_of_two_sites(two_levels):
        g, rng, _ = run(placement)
        grads.append(g)
        assert_same_state(rng, after_primal)
        assert_globals(expected_globals)
    for g in grads[1:]:
        assert_bitwise_equal(g, grads[0], "gradient")

    def J(v, amp):           # finite differences, each run drawing the same numbers
        reset_globals()
        return two_levels(v, amp, np.random.default_rng(8))
    for num in (0, 1):
        expected, noise = finite_difference_gradient(J, (v0, 0.3), num)
        compare_gradients(grads[0][num], expected, f"d two_levels / d args[{num}]", 1e-6, 1e-8, noise)


def test_the_checkpointed_call_tapes_the_generator_state_and_the_split_call_does_not():
    source = nba.adjoint_source(ou_ensemble)
    fwd = source[source.index("def ou_ensemble_fwd"):source.index("def ou_ensemble_bwd")]
    checkpointed, split = fwd.split("else:", 1)
    assert "the state of rng, to replay its draws" in checkpointed
    assert "state" not in split
    assert "rng as before the call: the same draws" in source


def test_vjp_leaves_the_generator_as_one_primal_call():
    x0 = np.linspace(-1.0, 1.0, 8)
    after_primal = np.random.default_rng(1)
    expected = ou_ensemble(x0, 0.7, 0.4, after_primal)
    rng = np.random.default_rng(1)
    out, pullback = nba.vjp(ou_ensemble, x0, 0.7, 0.4, rng)
    assert out == expected
    pullback(1.0)
    assert_same_state(rng, after_primal)


# ----------------------------------------------------------------------------- shuffles

@pytest.mark.parametrize("which", PLACEMENTS)
def test_shuffled_minibatches_match_finite_differences(which):
    data = np.random.default_rng(3)
    X, y, w = data.normal(size=(15, 3)), data.normal(size=15), data.normal(size=3)
    check_grad(minibatch_loss, (w, X, y), (0, 1), placement=placement_of(minibatch_loss, which))


@pytest.mark.parametrize("which", PLACEMENTS)
def test_generator_shuffle_of_a_local_index_array_matches_finite_differences(which):
    data = np.random.default_rng(3)
    X, y, w = data.normal(size=(10, 3)), data.normal(size=10), data.normal(size=3)
    check_grad(epoch_loss, (w, X, y, np.random.default_rng(6)), (0, 1), placement=placement_of(epoch_loss, which))
    after_primal = np.random.default_rng(6)
    epoch_loss(w, X, y, after_primal)
    rng = np.random.default_rng(6)
    nba.grad(epoch_loss, placement=placement_of(epoch_loss, which))(w, X, y, rng)
    assert_same_state(rng, after_primal)


def test_shuffling_an_array_the_adjoint_reads_is_differentiated_as_a_gather():
    data = np.random.default_rng(4)
    X, w, weights = data.normal(size=(6, 2)), data.normal(size=2), data.normal(size=6)
    check_grad(shuffled_scores, (w, X, weights, np.random.default_rng(5)), (0, 1, 2))


def test_pullback_leaves_the_generator_where_it_found_it_and_its_gradient_is_that_of_the_run():
    x0 = np.linspace(-1.0, 1.0, 8)
    rng = np.random.default_rng(1)
    _, pullback = nba.vjp(ou_ensemble, x0, 0.7, 0.4, rng)
    rng.standard_normal(5)                  # the user draws between the run and its pullback
    before = copy.deepcopy(rng)
    cts = pullback(1.0)
    assert_same_state(rng, before)
    expected = nba.grad(ou_ensemble, (0, 1, 2))(x0, 0.7, 0.4, np.random.default_rng(1))
    assert_bitwise_equal(cts[:3], expected, "pullback")


# ----------------------------------------------------------------------------- profile

def test_every_profiled_run_draws_alike_and_the_profile_leaves_the_generator_as_it_found_it():
    x0 = np.linspace(-1.0, 1.0, 8)
    rng = np.random.default_rng(1)
    before = copy.deepcopy(rng)
    p = nba.profile(ou_ensemble, x0, 0.7, 0.4, rng, repeat=3)
    assert_same_state(rng, before)
    expected = nba.grad(ou_ensemble)(x0, 0.7, 0.4, np.random.default_rng(1))
    assert_bitwise_equal(p.grad, expected, "profiled gradient")


def test_profile_of_a_model_seeding_np_random_inside_gives_the_gradient_of_grad():
    reset_globals()
    before = global_states()
    p = nba.profile(european_call, 1.0, 0.25, 0.03, argnums=(0, 1), repeat=2)
    assert_globals(before)
    assert_bitwise_equal(p.grad, nba.grad(european_call, (0, 1))(1.0, 0.25, 0.03), "profiled gradient")


# ----------------------------------------------------------------------------- refusals

def test_differentiated_parameter_of_a_draw_without_a_pathwise_derivative_is_refused_at_its_line():
    with pytest.raises(nba.TransformError) as info:
        nba.grad(with_gamma, 1)(np.ones(3), 2.0, np.random.default_rng(0))
    err = info.value
    assert "rng.gamma(...)" in str(err) and "pathwise" in str(err)
    assert err.lineno == source_line(gamma_noise, "rng.gamma")
    assert err.hint


def test_draw_without_a_pathwise_derivative_runs_where_its_parameters_carry_none():
    v = np.array([0.5, 1.0, 1.5])
    check_grad(with_gamma, (v, 2.0, np.random.default_rng(0)), 0)
    check_grad(with_fixed_gamma, (v, np.random.default_rng(0)), 0)


def test_models_without_draws_do_not_mention_generators():
    def plain(x):
        return np.sum(np.sin(x))
    assert "replay" not in nba.adjoint_source(plain)
