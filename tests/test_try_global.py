"""`try` blocks and `global` statements as people write them: a solver guarding its step with
`try: ... except FloatingPointError`, a loop timed by `try/finally` with time.perf_counter and a
print, `except ZeroDivisionError: return 0.0` on a run that does not take it, and a module config
dict and constant read through `global`.  A `try` is differentiated as the path on which nothing
is raised (body, else, finally); a run that would take a handler stops with an error naming the
`try` line; a handler that only prints and raises again lets the exception go on.  Assigning to a
name declared `global` is refused at that line.  Gradients are checked against finite differences
(and autograd where it runs the same source) with every call checkpointed (the default) and every
call split, and the arguments are left as they were.  Also: a random generator passed to nba.vjp
is left as it was when the forward sweep raises."""
import copy
import sys
import time

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import all_split, assert_not_mutated, check_against_autograd, check_grad, source_line

THIS = sys.modules.get(__name__)     # (this very source, run again with autograd.numpy as np)


# -- models -------------------------------------------------------------------------------------------

def euler_step(u, dt, k):
    with np.errstate(over="raise", invalid="raise"):
        du = -k * u ** 3 + np.sin(u)
    return u + dt * du


def integrate(u0, k, dt, nsteps):
    u = u0
    for n in range(nsteps):
        try:
            u = euler_step(u, dt, k)
        except FloatingPointError:
            print(f"step {n}: the state blew up, keeping the last one")
            break
    return np.sum(u ** 2)


def integrate_or_fail(u0, k, dt, nsteps):
    u = u0
    for n in range(nsteps):
        try:
            u = euler_step(u, dt, k)
        except FloatingPointError:
            print("diverged at step", n)
            raise
    return np.sum(u ** 2)


def clipped_steps(u0, k, dt, nsteps):
    u = u0
    for n in range(nsteps):
        try:
            u = euler_step(u, dt, k)
        except FloatingPointError:
            print("overflow at step", n, "- keeping the state")
    return np.sum(u ** 2)


def guarded_run(u0, k, dt, nsteps):
    try:
        u = u0
        for n in range(nsteps):
            u = euler_step(u, dt, k)
    except FloatingPointError:
        return -1.0
    return np.sum(u ** 2)


def timed_diffusion(u0, kappa, nsteps):
    t0 = time.perf_counter()
    u = u0
    try:
        for n in range(nsteps):
            u = u + kappa * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    finally:
        print(f"{nsteps} steps took {time.perf_counter() - t0:.4f} s")
    return np.sum(u ** 3)


def relative_change(a, b):
    try:
        r = (b - a) / a
    except ZeroDivisionError:
        return 0.0
    return r * r + b


def sum_of_changes(a, b):
    return relative_change(a, b) + relative_change(b, a)


def ratio(a, b):
    return b / a


def guarded_ratio(a, b):
    try:
        r = ratio(a, b)
    except (ValueError, ZeroDivisionError):
        r = 0.0
    else:
        r = r * a
    finally:
        total = a + b
    return r * total


def early_return_in_try(x, w):
    try:
        if np.sum(x) > 0.0:
            return np.sum(np.tanh(w * x))
        y = np.sum(w * x ** 2)
    finally:
        print("checked")
    return y


def nested_tries(a, b):
    try:
        try:
            q = b / a
        except KeyError:
            q = 0.0
        q = q * b
    except ZeroDivisionError:
        q = 1.0
    return q


def else_block_raises(a, b):
    try:
        q = b * a
    except ZeroDivisionError:
        q = 0.0
    else:
        q = q / a
    return q


CONFIG = {"drag": 0.3, "steps": 12, "dt": 0.05}
GRAVITY = 9.81


def projectile_range(v0, angle):
    global CONFIG, GRAVITY
    vx, vy = v0 * np.cos(angle), v0 * np.sin(angle)
    x, y = 0.0, 0.0
    for _ in range(CONFIG["steps"]):
        speed = np.sqrt(vx * vx + vy * vy)
        vx = vx - CONFIG["dt"] * CONFIG["drag"] * speed * vx
        vy = vy - CONFIG["dt"] * (GRAVITY + CONFIG["drag"] * speed * vy)
        x = x + CONFIG["dt"] * vx
        y = y + CONFIG["dt"] * vy
    return x + 0.1 * y


CALLS = 0


def counts_its_calls(x):
    global CALLS
    CALLS += 1
    return np.sum(x ** 2)


def resets_config(x, flag):
    if flag:
        global CONFIG
    y = np.sum(x) * CONFIG["drag"]
    CONFIG = {"drag": 0.0}
    return y


def noisy_until(x, rng):
    y = x + 0.1 * rng.normal(size=x.shape)
    if np.max(y) > 10.0:
        raise ValueError("the noisy state left the box")
    return np.sum(y ** 2)


# -- helpers --------------------------------------------------------------------------------------------

def check_both(f, args, argnums, **tol):
    before = copy.deepcopy(args)
    grads = [check_grad(f, args, argnums, placement=placement, **tol) for placement in (None, all_split(f))]
    assert_not_mutated(args, before)
    return grads


def refused_at_try(f, args, placement, try_text):
    with pytest.raises(nba.TransformError) as info:
        nba.grad(f, placement=placement)(*args)
    err = info.value
    assert err.lineno == source_line(f, try_text)
    assert "handlers are not differentiated" in str(err) and "test the condition before" in str(err)
    return err


PLACEMENTS = pytest.mark.parametrize("split", [False, True], ids=["checkpointed", "split"])


# -- try blocks whose handlers are not taken --------------------------------------------------------------

def test_solver_guarding_its_step_with_except_floating_point_error(capsys):
    u0 = np.array([0.3, -0.5, 0.8])
    check_both(integrate, (u0, 0.7, 0.05, 20), (0, 1), rtol=1e-6, atol=1e-9)
    check_against_autograd(THIS, "integrate", (u0, 0.7, 0.05, 20), (0, 1), placement=all_split(integrate))
    assert "blew up" not in capsys.readouterr().out


def test_a_loop_whose_handler_breaks_cannot_keep_snapshots_but_one_that_raises_again_can():
    u0 = np.array([0.3, -0.5, 0.8])
    with pytest.raises(nba.PlacementError, match=r"`break` on line %d" % source_line(integrate, "break")):
        nba.grad(integrate, placement={f"integrate:{source_line(integrate, 'for n in')}:for": 3})(u0, 0.7, 0.05, 20)
    loop = f"integrate_or_fail:{source_line(integrate_or_fail, 'for n in')}:for"
    every = nba.grad(integrate_or_fail, argnums=(0, 1))(u0, 0.7, 0.05, 20)
    for placement in ({loop: 3}, {loop: 3, **all_split(integrate_or_fail)}):
        snap = nba.grad(integrate_or_fail, argnums=(0, 1), placement=placement)(u0, 0.7, 0.05, 20)
        np.testing.assert_allclose(snap[0], every[0], rtol=1e-13)
        np.testing.assert_allclose(snap[1], every[1], rtol=1e-13)
    check_both(integrate_or_fail, (u0, 0.7, 0.05, 20), (0, 1), rtol=1e-6, atol=1e-9)


def test_a_loop_holding_a_try_keeps_snapshots_and_its_taken_handler_is_an_error():
    u0 = np.array([0.3, -0.5, 0.8])
    loop = f"clipped_steps:{source_line(clipped_steps, 'for n in')}:for"
    every = nba.grad(clipped_steps, argnums=(0, 1))(u0, 0.7, 0.05, 20)
    for placement in ({loop: 3}, {loop: {"ram": 1, "disk": 1}}, {loop: 3, **all_split(clipped_steps)}):
        snap = nba.grad(clipped_steps, argnums=(0, 1), placement=placement)(u0, 0.7, 0.05, 20)
        np.testing.assert_allclose(snap[0], every[0], rtol=1e-13)
        np.testing.assert_allclose(snap[1], every[1], rtol=1e-13)
        refused_at_try(clipped_steps, (np.array([0.3, -0.5, 40.0]), 0.7, 0.5, 40), placement, "try:")
    check_both(clipped_steps, (u0, 0.7, 0.05, 20), (0, 1), rtol=1e-6, atol=1e-9)


def test_a_try_around_a_loop_keeping_snapshots():
    u0 = np.array([0.3, -0.5, 0.8])
    loop = f"guarded_run:{source_line(guarded_run, 'for n in')}:for"
    every = nba.grad(guarded_run, argnums=(0, 1))(u0, 0.7, 0.05, 20)
    check_both(guarded_run, (u0, 0.7, 0.05, 20), (0, 1), rtol=1e-6, atol=1e-9)
    for placement in ({loop: 3}, {loop: 2, **all_split(guarded_run)}):
        snap = nba.grad(guarded_run, argnums=(0, 1), placement=placement)(u0, 0.7, 0.05, 20)
        np.testing.assert_allclose(snap[0], every[0], rtol=1e-13)
        np.testing.assert_allclose(snap[1], every[1], rtol=1e-13)
        err = refused_at_try(guarded_run, (np.array([0.3, -0.5, 40.0]), 0.7, 0.5, 40), placement, "try:")
        assert "except FloatingPointError" in str(err)


def test_a_profile_of_a_model_with_try_blocks_runs_and_refuses_a_taken_handler():
    u0 = np.array([0.3, -0.5, 0.8])
    prof = nba.profile(clipped_steps, u0, 0.7, 0.05, 20)
    assert [s.id for s in prof.sites] == nba.call_sites(clipped_steps)
    with pytest.raises(nba.TransformError, match="handlers are not differentiated"):
        nba.profile(clipped_steps, np.array([0.3, -0.5, 40.0]), 0.7, 0.5, 40)


@PLACEMENTS
def test_a_taken_handler_is_an_error_naming_the_try_line(split):
    u0 = np.array([0.3, -0.5, 40.0])          # u ** 3 grows until it overflows
    placement = all_split(integrate) if split else None
    err = refused_at_try(integrate, (u0, 0.7, 0.5, 40), placement, "try:")
    assert "FloatingPointError" in str(err) and "except FloatingPointError" in str(err)
    assert isinstance(err.__cause__, FloatingPointError)


@PLACEMENTS
def test_a_handler_that_prints_and_raises_again_lets_the_exception_go_on(split):
    u0 = np.array([0.3, -0.5, 40.0])
    placement = all_split(integrate_or_fail) if split else None
    with pytest.raises(FloatingPointError) as info:
        nba.grad(integrate_or_fail, placement=placement)(u0, 0.7, 0.5, 40)
    assert f"line {source_line(euler_step, 'du = ')}" in str(info.value.__notes__)


def test_try_finally_timing_a_loop_with_perf_counter(capsys):
    u0 = np.sin(np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)) + 1.5
    check_both(timed_diffusion, (u0, 0.2, 25), (0, 1), rtol=1e-6, atol=1e-9)
    check_against_autograd(THIS, "timed_diffusion", (u0, 0.2, 25), (0, 1))
    assert "steps took" in capsys.readouterr().out
    loop = f"timed_diffusion:{source_line(timed_diffusion, 'for n in')}:for"
    every = nba.grad(timed_diffusion, argnums=(0, 1))(u0, 0.2, 25)
    snap = nba.grad(timed_diffusion, argnums=(0, 1), placement={loop: 4})(u0, 0.2, 25)
    np.testing.assert_allclose(snap[0], every[0], rtol=1e-13)
    np.testing.assert_allclose(snap[1], every[1], rtol=1e-13)


def test_except_zero_division_returning_zero_when_the_run_does_not_take_it():
    check_both(relative_change, (1.5, 2.5), (0, 1))
    check_against_autograd(THIS, "relative_change", (1.5, 2.5), (0, 1))


@PLACEMENTS
def test_except_zero_division_taken_is_an_error_naming_the_try_line(split):
    placement = all_split(relative_change) if split else None
    err = refused_at_try(relative_change, (0.0, 2.5), placement, "try:")
    assert "ZeroDivisionError" in str(err)
    assert f"line {source_line(relative_change, 'r = (b - a) / a')}" in str(err)


@PLACEMENTS
def test_a_handler_taken_in_a_called_function_is_an_error_naming_its_try_line(split):
    check_both(sum_of_changes, (1.5, 2.5), (0, 1))
    placement = all_split(sum_of_changes) if split else None     # (checkpointed: the call runs the primal)
    err = refused_at_try(relative_change, (0.0, 2.5), None, "try:")
    with pytest.raises(nba.TransformError) as info:
        nba.grad(sum_of_changes, placement=placement)(0.0, 2.5)
    assert info.value.lineno == err.lineno and info.value.function == "relative_change"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_try_except_else_finally_around_a_call():
    check_both(guarded_ratio, (1.5, 2.5), (0, 1))
    check_against_autograd(THIS, "guarded_ratio", (1.5, 2.5), (0, 1))


@PLACEMENTS
def test_an_exception_raised_in_a_callee_and_caught_around_the_call_is_an_error(split):
    placement = all_split(guarded_ratio) if split else None
    err = refused_at_try(guarded_ratio, (0.0, 2.5), placement, "try:")
    assert "except (ValueError, ZeroDivisionError)" in str(err)


def test_return_inside_a_try_body_with_finally(capsys):
    w = np.array([0.5, -1.5, 2.0])
    check_both(early_return_in_try, (np.array([0.2, 0.4, 0.1]), w), (0, 1))
    check_both(early_return_in_try, (np.array([-0.2, 0.4, -0.9]), w), (0, 1))
    assert "checked" in capsys.readouterr().out


@PLACEMENTS
def test_nested_tries_the_outer_handler_catching_is_named(split):
    check_both(nested_tries, (1.5, 2.5), (0, 1))
    placement = all_split(nested_tries) if split else None
    with pytest.raises(nba.TransformError) as info:
        nba.grad(nested_tries, placement=placement)(0.0, 2.5)
    assert info.value.lineno == source_line(nested_tries, "try:")       # the outer one
    assert "except ZeroDivisionError" in str(info.value) and "except KeyError" not in str(info.value)


def test_an_exception_of_the_else_block_is_not_caught_by_its_handlers():
    check_both(else_block_raises, (1.5, 2.5), (0, 1))
    with pytest.raises(ZeroDivisionError) as info:
        nba.grad(else_block_raises)(0.0, 2.5)
    assert f"line {source_line(else_block_raises, 'q = q / a')}" in str(info.value.__notes__)


def test_a_handler_type_not_found_when_compiling_and_a_jump_in_finally_are_refused():
    def handler_type_is_a_parameter(x, kind):
        try:
            y = x * 2.0
        except kind:
            y = x
        return y

    def returns_in_finally(x):
        try:
            y = x * 2.0
        finally:
            return x
        return y
    with pytest.raises(nba.TransformError, match="exception type `kind`") as info:
        nba.grad(handler_type_is_a_parameter)(1.0, ValueError)
    assert info.value.lineno == source_line(handler_type_is_a_parameter, "except kind")
    with pytest.raises(nba.TransformError, match="`return` in a `finally` block") as info:
        nba.grad(returns_in_finally)(1.0)
    assert info.value.lineno == source_line(returns_in_finally, "return x")


# -- global statements ----------------------------------------------------------------------------------

def test_global_reading_a_module_config_dict_and_constant():
    config = copy.deepcopy(CONFIG)
    check_both(projectile_range, (12.0, 0.7), (0, 1), rtol=1e-6, atol=1e-9)
    check_against_autograd(THIS, "projectile_range", (12.0, 0.7), (0, 1))
    assert CONFIG == config and GRAVITY == 9.81


def test_assigning_to_a_name_declared_global_is_refused_at_its_line():
    with pytest.raises(nba.TransformError, match="declared `global`") as info:
        nba.grad(counts_its_calls)(np.ones(2))
    assert info.value.lineno == source_line(counts_its_calls, "CALLS += 1")
    assert "return the new value" in str(info.value) and CALLS == 0
    with pytest.raises(nba.TransformError, match="assigning to `CONFIG`") as info:     # (declared in a branch)
        nba.grad(resets_config)(np.ones(2), False)
    assert info.value.lineno == source_line(resets_config, 'CONFIG = {"drag": 0.0}')


def test_nonlocal_stays_refused():
    def make():
        total = 0.0

        def add(x, flag):
            if flag:
                nonlocal total
            total = total + x
            return total * x
        return add
    with pytest.raises(nba.TransformError, match="`nonlocal` statements are not supported"):
        nba.grad(make())(1.0, False)


# -- random generators when the forward sweep raises ----------------------------------------------------------

def test_vjp_leaves_the_generator_as_it_was_when_the_forward_sweep_raises():
    rng = np.random.default_rng(7)
    state = copy.deepcopy(rng.bit_generator.state)
    with pytest.raises(ValueError, match="left the box"):
        nba.vjp(noisy_until, np.full(3, 20.0), rng)
    assert rng.bit_generator.state == state
    value, pullback = nba.vjp(noisy_until, np.full(3, 0.5), rng)
    assert rng.bit_generator.state != state                    # a run that ends draws as the user's code
    (gx, _) = pullback(1.0)
    expected = noisy_until(np.full(3, 0.5), np.random.default_rng(7))
    assert value == expected
    np.testing.assert_allclose(gx, 2.0 * (np.full(3, 0.5) + 0.1 * np.random.default_rng(7).normal(size=3)),
                               rtol=1e-12)
