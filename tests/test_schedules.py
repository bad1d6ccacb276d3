"""Time-loop schedules: the binomial (Revolve) and two-level schedules reverse every iteration once,
hold no more snapshots than allowed, run the Griewank-Walther minimum of iterations, and agree with
the reference implementation, the ``checkpoint_schedules`` package."""

import doctest
import math
from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from nbadjoint import schedules
from nbadjoint.schedules import (binomial_schedule, minimal_recomputations, run_schedule,
                                 slot_levels, two_level_schedule)

try:
    import checkpoint_schedules as cs
    from checkpoint_schedules.multistage import optimal_steps_binomial
except ImportError:
    cs = None

needs_reference = pytest.mark.skipif(cs is None, reason="checkpoint_schedules is not installed")

SMALL = [(n, s) for n in range(0, 61) for s in range(1, 9)]


@lru_cache(maxsize=None)
def fewest_advances(n, s):
    """Griewank's recursion, independent of the closed form: snapshot at 0, advance m, reverse
    [m, n) with one snapshot fewer, then [0, m) with all of them."""
    if n <= 1:
        return 0
    if s == 1:
        return n * (n - 1) // 2
    return min(m + fewest_advances(n - m, s - 1) + fewest_advances(m, s) for m in range(1, n))


def translate(reference_schedule):
    """A ``checkpoint_schedules`` schedule in this module's vocabulary."""
    level = {cs.StorageType.RAM: "ram", cs.StorageType.DISK: "disk"}
    out = []
    for action in reference_schedule:
        if isinstance(action, cs.Forward):
            if action.write_ics:
                out.append(("snapshot", action.n0, level[action.storage]))
            if action.write_adj_deps:
                assert action.n1 == action.n0 + 1
                out.append(("tape", action.n0))
            else:
                out.append(("advance", action.n0, action.n1))
        elif isinstance(action, cs.EndForward):
            out.append(("end_forward",))
        elif isinstance(action, cs.Reverse):
            assert action.n1 == action.n0 + 1
            out.append(("reverse", action.n0))
        elif isinstance(action, (cs.Copy, cs.Move)):
            assert action.to_storage == cs.StorageType.WORK
            out.append(("restore", action.n, level[action.from_storage]))
            if isinstance(action, cs.Move):
                out.append(("free", action.n, level[action.from_storage]))
        elif isinstance(action, cs.EndReverse):
            break
        else:
            raise AssertionError(f"unexpected reference action {action!r}")
    return out


# --- the count t(n, S) -------------------------------------------------------------------------

def test_minimal_recomputations_is_the_design_example_and_griewanks_recursion():
    assert minimal_recomputations(300, 10) == 836
    for n in range(0, 80):
        for s in range(1, 9):
            assert minimal_recomputations(n, s) == fewest_advances(n, s), (n, s)


def test_minimal_recomputations_limits():
    assert minimal_recomputations(0, 0) == minimal_recomputations(1, 0) == 0
    assert minimal_recomputations(50, 1) == 50 * 49 // 2
    assert minimal_recomputations(50, 49) == minimal_recomputations(50, 1000) == 49
    with pytest.raises(ValueError, match="at least 1 snapshot"):
        minimal_recomputations(2, 0)
    with pytest.raises(ValueError, match="iteration count"):
        minimal_recomputations(-1, 3)


@needs_reference
def test_minimal_recomputations_is_the_reference_count_less_the_taped_iterations():
    for n in range(2, 40):
        for s in range(1, min(8, n - 1) + 1):
            assert minimal_recomputations(n, s) == optimal_steps_binomial(n, s) - n, (n, s)


# --- the binomial schedule ---------------------------------------------------------------------

def test_the_module_docstring_example_is_true():
    failures, tried = doctest.testmod(schedules)
    assert tried >= 1 and failures == 0


@pytest.mark.parametrize("n,s", SMALL)
def test_binomial_schedule_is_valid_and_optimal(n, s):
    run = run_schedule(binomial_schedule(n, s), n, ram=s, disk=0)
    assert run.advanced == minimal_recomputations(n, s)
    assert run.taped == n
    assert run.primal_iterations == n + minimal_recomputations(n, s)
    assert run.peak["ram"] == min(s, max(n - 1, 0))
    assert run.writes["disk"] == run.reads["disk"] == 0


@needs_reference
@pytest.mark.parametrize("n,s", SMALL)
def test_binomial_schedule_runs_as_many_iterations_as_the_reference_revolve(n, s):
    reference = run_schedule(translate(cs.Revolve(max(n, 1), s)), max(n, 1), ram=s)
    ours = run_schedule(binomial_schedule(max(n, 1), s), max(n, 1), ram=s)
    assert (ours.advanced, ours.taped) == (reference.advanced, reference.taped)


@needs_reference
def test_binomial_schedule_is_the_reference_multistage_schedule_action_for_action():
    for n in range(1, 61):
        for s in range(1, 9):
            assert list(binomial_schedule(n, s)) == translate(
                cs.MultistageCheckpointSchedule(n, s, 0)), (n, s)


def test_edge_cases():
    assert list(binomial_schedule(0, 0)) == [("end_forward",)]
    assert list(binomial_schedule(1, 0)) == [("tape", 0), ("end_forward",), ("reverse", 0)]
    with pytest.raises(ValueError, match="needs at least 1 snapshot"):
        binomial_schedule(2, 0)
    everything = run_schedule(binomial_schedule(10, 50), 10, ram=9)
    assert everything.advanced == 9 and everything.reads["ram"] == 9       # no recomputation
    one = run_schedule(binomial_schedule(10, 1), 10, ram=1)
    assert one.advanced == 45 and one.peak["ram"] == 1


def test_the_schedule_is_generated_lazily():
    actions = binomial_schedule(10 ** 12, 30)
    assert next(actions) == ("snapshot", 0, "ram")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 2000), s=st.integers(1, 40))
def test_binomial_schedule_property(n, s):
    run = run_schedule(binomial_schedule(n, s), n, ram=s, disk=0)
    assert run.advanced == minimal_recomputations(n, s)
    assert run.taped == n


def test_executing_the_schedule_gives_the_gradient_of_the_full_tape_bitwise():
    """A scalar loop x <- 1.1 sin(x) + 0.01 i, run by a small executor of the vocabulary."""
    def step(x, i):
        return 1.1 * math.sin(x) + 0.01 * i

    def step_adjoint(x, gx):
        return gx * 1.1 * math.cos(x)

    n, x0 = 37, 0.3
    states = [x0]
    for i in range(n):
        states.append(step(states[-1], i))
    g_full = 1.0
    for i in reversed(range(n)):
        g_full = step_adjoint(states[i], g_full)

    for s, actions in [(3, binomial_schedule(n, 3)), (5, two_level_schedule(n, 2, 3))]:
        store, x, tape, g, result = {"ram": {}, "disk": {}}, x0, None, 1.0, None
        for action in actions:
            kind = action[0]
            if kind == "snapshot":
                store[action[2]][action[1]] = x
            elif kind == "advance":
                for i in range(action[1], action[2]):
                    x = step(x, i)
            elif kind == "tape":
                tape, x = x, step(x, action[1])
            elif kind == "end_forward":
                result = x
            elif kind == "reverse":
                g, tape, x = step_adjoint(tape, g), None, None
            elif kind == "restore":
                x = store[action[2]][action[1]]
            elif kind == "free":
                del store[action[2]][action[1]]
        assert result == states[-1] and g == g_full, s


# --- the two-level schedule --------------------------------------------------------------------

TWO_LEVEL = [(n, r, d) for n in range(1, 41) for r in range(0, 5) for d in range(0, 5) if r + d]


@needs_reference
@pytest.mark.parametrize("n", range(1, 41))
def test_two_level_schedule_is_the_reference_multistage_schedule(n):
    for ram in range(0, 5):
        for disk in range(0, 5):
            if ram + disk == 0:
                continue
            ours = list(two_level_schedule(n, ram, disk))
            reference = translate(cs.MultistageCheckpointSchedule(n, ram, disk))
            assert ours == reference, (n, ram, disk)
            a, b = run_schedule(ours, n, ram=ram, disk=disk), run_schedule(reference, n)
            assert (a.advanced, a.taped, a.writes, a.reads) == (b.advanced, b.taped, b.writes, b.reads)


@pytest.mark.parametrize("n,ram,disk", TWO_LEVEL)
def test_two_level_schedule_is_valid_and_optimal(n, ram, disk):
    run = run_schedule(two_level_schedule(n, ram, disk), n, ram=ram, disk=disk)
    assert run.advanced == minimal_recomputations(n, ram + disk)
    assert run.taped == n


def test_two_level_schedule_keeps_the_busiest_slots_in_memory():
    levels = slot_levels(200, 2, 6)
    assert levels.count("ram") == 2 and levels.count("disk") == 6
    traffic = [0] * 8                     # writes and reads of each slot of the snapshot stack
    for action in schedules._revolve(200, tuple(range(8))):
        if action[0] in ("snapshot", "restore"):
            traffic[action[2]] += 1
    in_ram = [t for t, level in zip(traffic, levels) if level == "ram"]
    on_disk = [t for t, level in zip(traffic, levels) if level == "disk"]
    assert min(in_ram) >= max(on_disk) and max(traffic) > min(traffic)
    run = run_schedule(two_level_schedule(200, 2, 6), 200, ram=2, disk=6)
    assert run.reads["ram"] + run.writes["ram"] == sum(in_ram)
    assert slot_levels(200, 0, 5) == ("disk",) * 5 and slot_levels(200, 5, 0) == ("ram",) * 5
    with pytest.raises(ValueError, match="disk must be an int"):
        two_level_schedule(10, 2, -1)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 2000), ram=st.integers(0, 12), disk=st.integers(0, 12))
def test_two_level_schedule_property(n, ram, disk):
    if n >= 2 and ram + disk == 0:
        return
    run = run_schedule(two_level_schedule(n, ram, disk), n, ram=ram, disk=disk)
    assert run.advanced == minimal_recomputations(n, ram + disk)
    assert run.taped == n


# --- the checker rejects what is wrong ---------------------------------------------------------

GOOD = list(binomial_schedule(5, 2))


@pytest.mark.parametrize("broken,why", [
    (GOOD[:-1], "not reversed"),
    (GOOD[:5], "before the end of the forward sweep"),
    ([a for a in GOOD if a != ("free", 2, "ram")], "still stored"),
    ([a if a != ("advance", 2, 3) else ("advance", 1, 3) for a in GOOD], "current state"),
    ([a if a != ("restore", 0, "ram") else ("restore", 1, "ram") for a in GOOD], "no snapshot 1"),
    ([a if a != ("restore", 2, "ram") else ("restore", 2, "disk") for a in GOOD], "no snapshot 2"),
    (GOOD[:6] + [("reverse", 3)] + GOOD[7:], "expected to reverse iteration 4"),
    (GOOD[:5] + GOOD[6:], "reversal before the end"),
    (GOOD[:10] + [("tape", 4)] + GOOD[10:], "tape of iteration 3 is still held"),
    (GOOD + [("reverse", 0)], "expected to reverse iteration -1"),
    ([("jump", 0)] + GOOD, "unknown action"),
])
def test_the_checker_rejects_a_broken_schedule(broken, why):
    with pytest.raises(ValueError, match=why):
        run_schedule(broken, 5)


def test_the_checker_enforces_the_snapshot_limits():
    with pytest.raises(ValueError, match="3 snapshots on ram, limit 2"):
        run_schedule(binomial_schedule(10, 3), 10, ram=2)
    with pytest.raises(ValueError, match="on disk, limit 1"):
        run_schedule(two_level_schedule(30, 1, 3), 30, ram=1, disk=1)
    assert run_schedule(binomial_schedule(5, 2), 5).peak["ram"] == 2
