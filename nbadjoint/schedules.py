"""Checkpointing schedules for time loops: binomial (Revolve) and two-level (RAM + disk).

Reversing a loop of ``n`` iterations while holding at most ``S`` snapshots of its carried state,
after Griewank and Walther, "Algorithm 799: Revolve", ACM TOMS 26(1), 2000, and, for two levels,
Stumm and Walther, "MultiStage approaches for optimal offline checkpointing", SIAM J. Sci.
Comput. 31(3), 2009.  The schedules are those of the ``checkpoint_schedules`` package
(``MultistageCheckpointSchedule``, trajectory "maximum"), generated lazily here in O(S) memory so
that a loop of 10^6 iterations costs well under a second of scheduling.

Vocabulary
----------
A schedule is an iterator of tuples.  Iteration ``i`` takes the state at boundary ``i`` to the
state at boundary ``i + 1``; boundary 0 is the loop's input, boundary ``n`` its result.  The
executor holds one *current state* and a store ``{i: state}`` of snapshots (one per level).

``("snapshot", i, level)``
    The current state is at boundary ``i``: store it as snapshot ``i`` on ``level``.
``("advance", i, j)``
    The current state is at boundary ``i``: run iterations ``i .. j-1`` without taping.
``("tape", i)``
    The current state is at boundary ``i``: run iteration ``i`` recording its tape; the current
    state is then at boundary ``i + 1``.
``("end_forward",)``
    The forward sweep is over: the current state is the loop's result (boundary ``n``).  The
    code after the loop runs, and its backward sweep, before the rest of the schedule.
``("reverse", i)``
    Run the backward sweep of iteration ``i`` from the tape just recorded, then drop the tape.
    The current state is then undefined until the next ``restore``.
``("restore", i, level)``
    The current state becomes snapshot ``i`` of ``level`` (the snapshot stays stored; if the
    loop body writes in place, the executor copies it).
``("free", i, level)``
    Drop snapshot ``i`` of ``level``.

``level`` is ``"ram"`` or ``"disk"``; the binomial schedule uses only ``"ram"``.  Every
``reverse`` directly follows the ``tape`` of the same iteration, except the first, which follows
``end_forward``; at most one tape is held at a time.

Example: n = 5 iterations, S = 2 snapshots::

    >>> list(binomial_schedule(5, 2))            # doctest: +NORMALIZE_WHITESPACE
    [('snapshot', 0, 'ram'), ('advance', 0, 2), ('snapshot', 2, 'ram'), ('advance', 2, 4),
     ('tape', 4), ('end_forward',), ('reverse', 4),
     ('restore', 2, 'ram'), ('advance', 2, 3), ('tape', 3), ('reverse', 3),
     ('restore', 2, 'ram'), ('free', 2, 'ram'), ('tape', 2), ('reverse', 2),
     ('restore', 0, 'ram'), ('advance', 0, 1), ('tape', 1), ('reverse', 1),
     ('restore', 0, 'ram'), ('free', 0, 'ram'), ('tape', 0), ('reverse', 0)]

It advances 2 + 2 + 1 + 1 = 6 iterations without taping, ``minimal_recomputations(5, 2) == 6``,
and tapes each of the 5 iterations once: 11 primal iterations in all.

Counting convention
-------------------
``S`` counts every snapshot held at once, the one of the loop's input (boundary 0) included; the
tape of the one iteration being reversed is not a snapshot.  ``minimal_recomputations(n, S)`` is
Griewank and Walther's t(n, S) = r*n - C(S+r, S+1), r the least integer with C(S+r, S) >= n: the
number of iterations run *without taping*, the first forward sweep's included.  Each iteration is
also run once with taping, so a schedule runs n + t(n, S) primal iterations in all (what
``checkpoint_schedules`` counts as its Forward steps), and t(n, S) is exactly the number of
iteration runs beyond one per iteration.  With S >= n - 1 nothing is recomputed beyond the
forward sweep: t = n - 1 (the first sweep advances to boundary n - 1, then tapes the last
iteration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from operator import itemgetter
from typing import Iterable, Iterator

RAM = "ram"
DISK = "disk"
LEVELS = (RAM, DISK)

Action = tuple


def minimal_recomputations(n: int, snapshots: int) -> int:
    """Griewank and Walther's t(n, S): iterations run without taping by an optimal schedule.

    t(n, S) = r*n - C(S+r, S+1), r the least integer with C(S+r, S) >= n (see the module's
    counting convention).  ``minimal_recomputations(300, 10) == 836``.
    """
    _check_counts(n, snapshots)
    if n <= 1:
        return 0
    r, reach = 0, 1                      # reach = C(S + r, S)
    while reach < n:
        r += 1
        reach = reach * (snapshots + r) // r
    return r * n - comb(snapshots + r, snapshots + 1)


def binomial_schedule(n: int, snapshots: int) -> Iterator[Action]:
    """The binomial (Revolve) schedule reversing ``n`` iterations with ``snapshots`` in memory.

    Runs ``minimal_recomputations(n, snapshots)`` iterations without taping, the least possible.
    Lazy, in O(S) memory: O(1) work per action, plus O(r) to choose a split point, r the number
    of sweeps in t(n, S) (r = 8 for n = 10^6, S = 20).  The actions are those of the module's
    vocabulary; the argument checks run at the call, not at the first action.
    """
    _check_counts(n, snapshots)
    return _revolve(n, (RAM,) * min(snapshots, max(n - 1, 0)))


def two_level_schedule(n: int, ram: int, disk: int) -> Iterator[Action]:
    """The two-level schedule of ``n`` iterations with ``ram`` snapshots in memory, ``disk`` on disk.

    Stumm and Walther's multistage schedule as ``checkpoint_schedules.MultistageCheckpointSchedule``
    builds it: the binomial schedule for ``ram + disk`` snapshots (so ``minimal_recomputations(n,
    ram + disk)`` iterations without taping), each slot of its snapshot stack kept in memory or on
    disk; the ``ram`` slots written and read most often are in memory, the rest on disk.  Choosing
    the slots runs the schedule once more (O(n) time, no memory beyond O(S)).
    """
    for name, value in (("ram", ram), ("disk", disk)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"two_level_schedule: {name} must be an int >= 0, got {value!r}")
    _check_counts(n, ram + disk)
    return _revolve(n, slot_levels(n, ram, disk))


def slot_levels(n: int, ram: int, disk: int) -> tuple[str, ...]:
    """The level of each slot of the snapshot stack (slot 0 holds the oldest snapshot).

    As ``checkpoint_schedules.multistage.allocate_snapshots``: each count is first capped at
    n - 1; the slots are weighted by their writes plus reads in the single-level schedule, and
    the ``ram`` heaviest go to memory (ties to the lower slot).
    """
    ram, disk = min(ram, max(n - 1, 0)), min(disk, max(n - 1, 0))
    if ram == 0 or disk == 0:
        return (RAM,) * ram + (DISK,) * (disk if ram == 0 else 0)
    total = min(ram + disk, n - 1)
    weights = [0] * total
    for action in _revolve(n, tuple(range(total))):   # the "level" of each action is its slot
        if action[0] in ("snapshot", "restore"):
            weights[action[2]] += 1
    levels = [DISK] * total
    for slot, _ in sorted(enumerate(weights), key=itemgetter(1), reverse=True)[:ram]:
        levels[slot] = RAM
    return tuple(levels)


def _check_counts(n: int, snapshots: int) -> None:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"the iteration count must be an int >= 0, got {n!r}")
    if not isinstance(snapshots, int) or snapshots < 0:
        raise ValueError(f"the snapshot count must be an int >= 0, got {snapshots!r}")
    if n >= 2 and snapshots < 1:
        raise ValueError(f"reversing {n} iterations needs at least 1 snapshot (of the loop's "
                         f"input), got {snapshots}")


def _revolve(n: int, levels: tuple) -> Iterator[Action]:
    """The schedule for ``n`` iterations whose snapshot stack has one slot per entry of ``levels``.

    The structure of ``MultistageCheckpointSchedule._iterator``: a forward sweep writing snapshots
    at the split points, then for each iteration from the last, restore the newest snapshot,
    advance (writing snapshots at the new split points) to the iteration, tape it and reverse it.
    """
    if n == 0:
        yield ("end_forward",)
        return
    slots = len(levels)
    stack = []                           # boundaries of the snapshots held, oldest first
    position = 0
    while position < n - 1:
        end = position + _advance_length(n - position, slots - len(stack))
        yield ("snapshot", position, levels[len(stack)])
        stack.append(position)
        yield ("advance", position, end)
        position = end
    yield ("tape", n - 1)
    yield ("end_forward",)
    yield ("reverse", n - 1)
    for step in range(n - 2, -1, -1):
        newest = stack[-1]
        level = levels[len(stack) - 1]
        yield ("restore", newest, level)
        if newest == step:
            stack.pop()
            yield ("free", newest, level)
        else:
            position = newest + _advance_length(step + 1 - newest, slots - len(stack) + 1)
            yield ("advance", newest, position)
            while position < step:
                end = position + _advance_length(step + 1 - position, slots - len(stack))
                yield ("snapshot", position, levels[len(stack)])
                stack.append(position)
                yield ("advance", position, end)
                position = end
        yield ("tape", step)
        yield ("reverse", step)


def _advance_length(m: int, s: int) -> int:
    """Iterations to advance from a snapshot before the next one, ``m`` iterations remaining.

    ``s`` counts the free slots, the one being written included.  The largest step size in the
    optimal region of Fig. 4 of Griewank and Walther (2000), as ``n_advance(...,
    trajectory="maximum")`` of ``checkpoint_schedules``.  ``b_s_t`` is beta(s, t) = C(s+t, s).
    """
    if s >= m - 1:
        return 1
    if s == 1:
        return m - 1
    t, b_s_tm2, b_s_tm1, b_s_t = 2, 1, s + 1, (s + 1) * (s + 2) // 2
    while b_s_tm1 >= m or m > b_s_t:
        t += 1
        b_s_tm2, b_s_tm1, b_s_t = b_s_tm1, b_s_t, b_s_t * (s + t) // t
    b_sm1_tm2 = b_s_tm2 * s // (s + t - 2)
    if m <= b_s_tm1 + b_sm1_tm2:
        return m - b_s_tm1 + b_s_tm2
    b_sm1_tm1 = b_s_tm1 * s // (s + t - 1)
    b_sm2_tm1 = b_sm1_tm1 * (s - 1) // (s + t - 2)
    if m <= b_s_tm1 + b_sm2_tm1 + b_sm1_tm2:
        return b_s_tm2 + b_sm1_tm2
    if m <= b_s_tm1 + b_sm1_tm1 + b_sm2_tm1:
        return m - b_sm1_tm1 - b_sm2_tm1
    return b_s_tm1


@dataclass
class ScheduleRun:
    """What a schedule did, as counted by :func:`run_schedule`."""

    advanced: int = 0
    """Iterations run without taping (``minimal_recomputations`` for an optimal schedule)."""
    taped: int = 0
    """Iterations run with taping (n for a valid schedule)."""
    actions: int = 0
    writes: dict = field(default_factory=lambda: {RAM: 0, DISK: 0})
    """Snapshots written, per level."""
    reads: dict = field(default_factory=lambda: {RAM: 0, DISK: 0})
    """Snapshots restored, per level."""
    peak: dict = field(default_factory=lambda: {RAM: 0, DISK: 0})
    """Most snapshots held at once, per level."""

    @property
    def primal_iterations(self) -> int:
        """Every iteration run, taped or not: n + ``advanced``."""
        return self.advanced + self.taped


def run_schedule(actions: Iterable[Action], n: int, *, ram: int | None = None,
                 disk: int | None = None) -> ScheduleRun:
    """Execute a schedule abstractly, check it, and count what it does.

    Checks that every action finds the state it needs (an ``advance``, ``snapshot`` or ``tape``
    at boundary ``i`` finds the current state there; a ``restore`` or ``free`` finds the
    snapshot stored on that level), that iterations are reversed exactly once each, from the
    last to the first, each straight after its tape, that ``end_forward`` comes once, after the
    last iteration's tape, that no more than ``ram`` (``disk``) snapshots are held at once (None:
    no limit), and that nothing is left stored at the end.  Raises ValueError naming the first
    action that breaks a rule.
    """
    limits = {RAM: ram, DISK: disk}
    run = ScheduleRun()
    stored = {RAM: set(), DISK: set()}
    position = 0                          # boundary of the current state; None if undefined
    tape = None                           # iteration whose tape is held
    forward_over = False
    next_reverse = n - 1

    def fail(index, action, why):
        raise ValueError(f"schedule action {index} {action!r}: {why}")

    for index, action in enumerate(actions):
        run.actions += 1
        kind = action[0]
        if kind == "advance":
            _, i, j = action
            if position != i or not i < j <= n:
                fail(index, action, f"the current state is at boundary {position}")
            run.advanced += j - i
            position = j
        elif kind == "tape":
            i = action[1]
            if position != i or not 0 <= i < n:
                fail(index, action, f"the current state is at boundary {position}")
            if tape is not None:
                fail(index, action, f"the tape of iteration {tape} is still held")
            run.taped += 1
            tape, position = i, i + 1
        elif kind == "end_forward":
            if forward_over or position != n or (n and tape != n - 1):
                fail(index, action, "the forward sweep must end once, after taping the last iteration")
            forward_over = True
        elif kind == "reverse":
            i = action[1]
            if not forward_over:
                fail(index, action, "reversal before the end of the forward sweep")
            if i != next_reverse or tape != i:
                fail(index, action, f"expected to reverse iteration {next_reverse} from its tape")
            next_reverse -= 1
            tape, position = None, None
        elif kind in ("snapshot", "restore", "free"):
            _, i, level = action
            if level not in LEVELS:
                fail(index, action, f"unknown level {level!r}")
            held = stored[level]
            if kind == "snapshot":
                if position != i or any(i in s for s in stored.values()):
                    fail(index, action, f"the current state is at boundary {position}, or "
                                        f"snapshot {i} is already stored")
                held.add(i)
                run.writes[level] += 1
                run.peak[level] = max(run.peak[level], len(held))
                if limits[level] is not None and len(held) > limits[level]:
                    fail(index, action, f"{len(held)} snapshots on {level}, limit {limits[level]}")
            elif i not in held:
                fail(index, action, f"no snapshot {i} stored on {level}")
            elif kind == "restore":
                if tape is not None:
                    fail(index, action, f"the tape of iteration {tape} is not reversed")
                run.reads[level] += 1
                position = i
            else:
                held.remove(i)
        else:
            fail(index, action, f"unknown action {kind!r}")
    if not forward_over or next_reverse != -1:
        raise ValueError(f"schedule ended with iterations 0..{next_reverse} not reversed"
                         if forward_over else "schedule ended before the end of the forward sweep")
    if stored[RAM] or stored[DISK]:
        raise ValueError(f"schedule ended with snapshots still stored: {stored}")
    return run
