"""Time loops in a profile: their measured figures, and the cost model of a loop run by a schedule.

A profiled run keeps every iteration of every loop (its probes follow the code compiled without
loop snapshots), which gives the call tree and each iteration's calls.  One more run, of the code
compiled with snapshots for every loop that can keep them (`PROBE_SNAPSHOTS` each), is watched by a
`LoopWatcher`: a recorder that also sees every action of the schedules (timed by the profile's
clock; medians per action).  From it, per loop (`LoopRecord`): the iterations of each run, the
bytes one snapshot of the loop's state holds (and the part every snapshot shares: what the body
only reads), the tape bytes the body's own statements push around its calls, the calls its caller
made before it, the bytes the caller pushes just before and after it, and the times of one
iteration run without taping, taped and reversed, and of the body's own statements.

Memory (exact): a loop run by a schedule with S snapshots holds, from its first snapshot to its
reversal, ``shared + c * per_snapshot`` bytes of snapshots (c snapshots at the end of the forward
sweep, the most it holds whenever an iteration is taped, found by walking the schedule) plus the
tape of one iteration.  The model replaces the loop's iterations in the recorded call tree (found by
the calls one iteration makes, or, for a body that calls no function, by the calls its caller made
before it) by one node with those bytes before one iteration's calls, with the caller's bytes
around it as the watched run measured them, and evaluates the tree as for call sites
(`nbadjoint.profiling.model`), so that call sites and loops are placed jointly.

Time: the recorded run's time, plus per run of the loop t(n, S) iterations run without taping
(``minimal_recomputations``; see `Profile._schedule_costs` for what one costs), and the snapshots
written and restored (disk ones timed on a file of their size).

Longer loops (``iterations``): the recorded iterations are replaced by n' copies of the last one
(times: the mean iteration); a schedule's snapshot count and recomputations are those of n'.  A
body that calls no function cannot be made longer with every iteration kept (its iterations' tape
is not told apart in the recorded run).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from time import perf_counter

from nbadjoint import schedules
from nbadjoint.ids import ROOT_ID
from nbadjoint.profiling.calltree import GROUP_SITE, TIME_FIELDS, CallNode
from nbadjoint.profiling.recorder import Recorder

PROBE_SNAPSHOTS = 64     # snapshots per loop in the watched run (about 2n primal iterations)


@dataclass(frozen=True)
class LoopRecord:
    """What the profile knows about one ``for ... in range(...)`` loop of the call tree."""
    id: str                          # caller:lineno:for
    caller: str
    lineno: int
    default: object = None           # the snapshots comment's value (None: every iteration kept)
    modelled: bool = False           # the model can predict it with snapshots
    reason: str = ""                 # why not, when not
    iterations: tuple = ()           # n of each run of the loop, in order
    body_sites: tuple = ()           # the call sites one iteration calls, in order
    iteration_gaps: tuple = ()       # tape bytes the body's own statements push around those calls
    calls_before: int = -1           # calls its caller made before it (-1: not known)
    pre_bytes: int = 0               # bytes the caller pushes just before the loop (with snapshots)
    post_bytes: int = 0              # ... and after it, before its next call
    snapshot_bytes: int = 0          # one snapshot of the loop's state
    snapshot_shared_bytes: int = 0   # held once whatever the count: arrays the body only reads
    iteration_tape_bytes: int = 0    # tape one iteration leaves (the run's call-site placement)
    t_primal_iter: float = 0.0       # one iteration run without taping (s)
    t_taped_iter: float = 0.0        # one iteration taped and reversed (s)
    t_own_iter: float = 0.0          # ... of which outside its calls: the body's own statements
    t_own_primal_iter: float = 0.0   # an iteration run without taping, outside its calls (s)
    t_snapshot: float = 0.0          # one snapshot written (s)
    t_restore: float = 0.0           # one snapshot restored (s)
    t_disk_write: float = 0.0        # one snapshot written to disk (s, timed on a like-sized array)
    t_disk_read: float = 0.0         # ... and read back

    @property
    def runs(self):
        return len(self.iterations)

    def to_dict(self):
        return dataclasses.asdict(self) | {"iterations": list(self.iterations),
                                           "body_sites": list(self.body_sites),
                                           "iteration_gaps": list(self.iteration_gaps)}

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in data.items() if k in names}
        for k in ("iterations", "body_sites", "iteration_gaps"):
            d[k] = tuple(d.get(k, ()))
        return cls(**d)


# -- schedules ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def schedule_counts(n, ram, disk=0):
    """What the schedule of n iterations with ``ram`` (+ ``disk``) snapshots does: a dict of
    ``advanced`` (t(n, S)), ``snapshots``, ``restores``, ``held`` (memory snapshots held at the end
    of the forward sweep) and ``held_max`` (at most, whenever an iteration is taped)."""
    if n <= 0:
        return {"advanced": 0, "snapshots": 0, "restores": 0, "held": 0, "held_max": 0,
                "disk_snapshots": 0, "disk_restores": 0}
    actions = (schedules.two_level_schedule(n, ram, disk) if disk
               else schedules.binomial_schedule(n, ram))
    c = held = held_max = advanced = snaps = restores = disk_snaps = disk_restores = 0
    for a in actions:
        kind = a[0]
        if kind == "snapshot":
            if a[2] == schedules.DISK:
                disk_snaps += 1
            else:
                c += 1
                snaps += 1
        elif kind == "free":
            if a[2] != schedules.DISK:
                c -= 1
        elif kind == "advance":
            advanced += a[2] - a[1]
        elif kind == "restore":
            if a[2] == schedules.DISK:
                disk_restores += 1
            else:
                restores += 1
        elif kind == "tape":
            held_max = max(held_max, c)
        elif kind == "end_forward":
            held = c
    return {"advanced": advanced, "snapshots": snaps, "restores": restores, "held": held,
            "held_max": held_max, "disk_snapshots": disk_snaps, "disk_restores": disk_restores}


# -- the watched run ----------------------------------------------------------------------------

class LoopWatcher(Recorder):
    """A recorder for a run of the code compiled with loop snapshots: logs every probe event and
    every schedule action with the bytes held then (tape, plus the loops' memory snapshots).

    ``peak_bytes`` is the exact peak of tape plus snapshots: both only grow in forward sweeps and
    snapshot actions, which end at a logged event or action."""

    __slots__ = ("entries", "open_runs", "peak", "clock")
    follows_loops = True

    def __init__(self, clock=perf_counter):
        super().__init__()
        self.clock = clock
        self.entries = []          # (tag, a, b, bytes, time, run or None, its snapshots, their bytes)
        self.open_runs = {}
        self.peak = 0

    def _held(self):
        b = self._stack_bytes()
        for run in self.open_runs.values():
            b += run.ram_bytes
        if b > self.peak:
            self.peak = b
        return b

    def enter(self, site, phase):
        self.entries.append(("E", site, phase, self._held(), self.clock(), None, 0, 0))

    def leave(self, site, phase):
        t = self.clock()
        self.entries.append(("L", site, phase, self._held(), t, None, 0, 0))

    def loop_action(self, run, action, before):
        self.open_runs[id(run)] = run
        t = self.clock()
        self.entries.append(("a" if before else "z", run.stats.loop, action, self._held(), t, run,
                             run.ram_count, run.ram_bytes))
        if not before and action[0] == "free" and not run.ram_count:
            self.open_runs.pop(id(run), None)

    @property
    def peak_bytes(self):
        return self.peak

    @property
    def finished(self):
        return True


def watched_run(program, args, argnums, placement, clock="wall"):
    """Run the adjoint with the loop snapshots of ``placement`` under a `LoopWatcher` timing by
    ``clock`` ("wall" or "cpu"); returns (watcher, (wall seconds, CPU seconds), loop runs)."""
    from time import process_time

    watcher, runs = LoopWatcher(process_time if clock == "cpu" else perf_counter), {}
    start, cpu = perf_counter(), process_time()
    program.run_adjoint(args, argnums, placement, recorder=watcher, loop_runs=runs)
    return watcher, (perf_counter() - start, process_time() - cpu), runs


def loop_records(program, watcher, runs):
    """`LoopRecord` of every loop of ``program`` from a watched run (every loop that can keep
    snapshots given some)."""
    from nbadjoint.errors import PlacementError
    from nbadjoint.transform.loops import plan_loop

    out = []
    callers = {site.id: site.key for site in program.loop_sites}
    nested = {}
    for outer, inner in _nesting(watcher.entries):
        if callers.get(outer) == callers.get(inner):      # a loop in a loop of the same function
            nested.setdefault(inner, f"it is nested in the loop {outer}")
            nested.setdefault(outer, f"it holds the loop {inner}")
    for site in program.loop_sites:
        base = dict(id=site.id, caller=site.caller, lineno=int(site.lineno),
                    default=_plain_default(site.default))
        try:
            plan_loop(program, site)
        except PlacementError as exc:
            out.append(LoopRecord(**base, reason=str(exc)))
            continue
        stats = runs.get(site.id, [])
        if site.id in nested:
            out.append(LoopRecord(**base, iterations=tuple(int(s.iterations) for s in stats),
                                  reason=f"{nested[site.id]}: the model does not combine the "
                                         f"schedules of nested loops yet"))
            continue
        if not stats:
            out.append(LoopRecord(**base, reason="it did not run"))
            continue
        figures = _analyse(watcher.entries, site.id)
        iterations = tuple(int(s.iterations) for s in stats)
        if figures is None:
            out.append(LoopRecord(**base, iterations=iterations,
                                  reason="its runs had no iteration to measure"))
            continue
        if not figures["body_sites"] and figures["calls_before"] < 0:
            out.append(LoopRecord(**base, iterations=iterations, **_times(figures),
                                  snapshot_bytes=figures["snapshot_bytes"],
                                  snapshot_shared_bytes=figures["shared"],
                                  reason="its body calls no function and another loop runs in the "
                                         "same call: its place in the recorded run is not known"))
            continue
        out.append(LoopRecord(**base, modelled=True, iterations=iterations,
                              calls_before=figures["calls_before"],
                              body_sites=tuple(figures["body_sites"]),
                              iteration_gaps=tuple(figures["gaps"]),
                              pre_bytes=figures["pre"], post_bytes=figures["post"],
                              snapshot_bytes=figures["snapshot_bytes"],
                              snapshot_shared_bytes=figures["shared"],
                              iteration_tape_bytes=figures["tape"], **_times(figures)))
    return tuple(out)


def _plain_default(value):
    if isinstance(value, tuple):
        return {"ram": value[0], "disk": value[1]}
    return value


def _times(f):
    out = {k: f[k] for k in ("t_primal_iter", "t_taped_iter", "t_own_iter", "t_own_primal_iter",
                             "t_snapshot", "t_restore")}
    out["t_disk_write"], out["t_disk_read"] = _disk_times(f["snapshot_bytes"])
    return out


def _disk_times(nbytes, repeat=3):
    """Seconds to write and to read back one ``.npy`` file of ``nbytes`` (best of ``repeat``),
    as a disk snapshot of that size costs."""
    import os
    import tempfile

    import numpy as np

    if nbytes <= 0:
        return 0.0, 0.0
    data = np.ones(max(1, nbytes // 8))
    write = read = float("inf")
    with tempfile.TemporaryDirectory(prefix="nbadjoint-disk-timing-") as folder:
        path = os.path.join(folder, "x.npy")
        for _ in range(repeat):
            t = perf_counter()
            np.save(path, data, allow_pickle=False)
            write = min(write, perf_counter() - t)
            t = perf_counter()
            np.load(path, allow_pickle=False)
            read = min(read, perf_counter() - t)
            os.remove(path)
    return write, read


def _analyse(entries, loop_id):
    """The figures of one loop from a watcher's log (its first run's layout, every run's times)."""
    first = None
    # per action kind, the seconds of each action (medians: a burst of load on a shared machine
    # does not move them)
    times = {"advance": [], "tape": [], "reverse": [], "snapshot": [], "restore": [], "own": []}
    ram = {}
    opened = {}
    tape_at = None
    advanced = [[], []]         # seconds per iteration run without taping, and outside its calls
    for index, (tag, a, b, nbytes, t, run, held, held_bytes) in enumerate(entries):
        if tag not in ("a", "z") or a != loop_id:
            continue
        kind = b[0]
        if first is None:
            first = run
            pre_from = entries[index - 1][3] if index else 0
            layout = {"pre": nbytes - pre_from, "calls_before": _calls_before(entries, index)}
        if tag == "a":
            opened[id(run)] = (kind, t, index)
            if kind == "end_forward" and run is first:
                nxt = next((e for e in entries[index + 1:] if e[1] != loop_id or e[0] in "EL"), None)
                layout["post"] = (nxt[3] - nbytes) if nxt is not None else 0
            continue
        kind0, t0, start = opened.pop(id(run), (kind, t, index))
        if kind in ("tape", "reverse"):
            times["own"].append((kind, t - t0 - _time_in_calls(entries, start, index)))
        if kind == "advance" and b[2] > b[1]:
            steps = b[2] - b[1]
            advanced[0].append((t - t0) / steps)
            advanced[1].append((t - t0 - _time_in_calls(entries, start, index)) / steps)
        elif kind in times:
            times[kind].append(t - t0)
        if kind == "snapshot" and run is first and b[2] != schedules.DISK:
            ram.setdefault(held, held_bytes)
        if kind == "tape" and run is first and tape_at is None:
            tape_at = (start, index)
    if first is None or tape_at is None:
        return None
    start, end = tape_at
    sites, gaps, depth = [], [], 0
    last = entries[start][3]
    for tag, a, b, nbytes, t, *_ in entries[start + 1:end]:
        if tag == "E":
            if depth == 0:
                gaps.append(nbytes - last)
                sites.append(a)
            depth += 1
        elif tag == "L":
            depth -= 1
            if depth == 0:
                last = nbytes
    gaps.append(entries[end][3] - last)
    one, two = ram.get(1), ram.get(2)
    per = (two - one) if one is not None and two is not None else (one or 0)
    shared = (one - per) if one is not None else 0
    per_iter = lambda k: _median(times[k])
    own = sum(_median([x for kind, x in times["own"] if kind == k]) for k in ("tape", "reverse"))
    return {"pre": layout["pre"], "post": layout.get("post", 0),
            "calls_before": layout["calls_before"], "body_sites": sites, "gaps": gaps,
            "tape": entries[end][3] - entries[start][3], "snapshot_bytes": per, "shared": shared,
            "t_primal_iter": _median(advanced[0]),
            "t_own_primal_iter": max(0.0, _median(advanced[1])),
            "t_taped_iter": per_iter("tape") + per_iter("reverse"),
            "t_own_iter": max(0.0, own),
            "t_snapshot": per_iter("snapshot"), "t_restore": per_iter("restore")}


def _nesting(entries):
    """(outer loop id, inner loop id) for each loop whose actions run inside another's."""
    open_actions, pairs = {}, set()
    for tag, loop_id, action, _nbytes, _t, run, *_ in entries:
        if tag == "a" and action[0] != "end_forward":     # (an end of forward sweep: no "z")
            for other in {lid for lid, count in open_actions.items() if count and lid != loop_id}:
                pairs.add((other, loop_id))
            open_actions[loop_id] = open_actions.get(loop_id, 0) + 1
        elif tag == "z":
            open_actions[loop_id] = open_actions.get(loop_id, 1) - 1
    return pairs


def _calls_before(entries, index):
    """How many calls the caller of the loop whose first action is ``entries[index]`` made
    before it (from its own bracket's opening), or -1 when a loop's action lies between."""
    depth, count = 0, 0
    for tag, *_ in reversed(entries[:index]):
        if tag in ("a", "z"):
            return -1
        if tag == "L":
            depth += 1
        elif tag == "E":
            if depth == 0:
                return count
            depth -= 1
            if depth == 0:
                count += 1
    return -1


def _median(values):
    values = sorted(values)
    n = len(values)
    if not n:
        return 0.0
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def _time_in_calls(entries, start, end):
    """Seconds spent inside the outermost call brackets between two log entries."""
    total, depth, since = 0.0, 0, 0.0
    for tag, _a, _b, _nbytes, t, *_ in entries[start + 1:end]:
        if tag == "E":
            if depth == 0:
                since = t
            depth += 1
        elif tag == "L":
            depth -= 1
            if depth == 0:
                total += t - since
    return total


# -- the model ----------------------------------------------------------------------------------

def loop_tree(root, records, config, iterations, root_name):
    """A copy of the recorded call tree (a `CallNode`) with the loops of ``config`` (loop id ->
    (ram, disk)) replaced by one node holding their snapshots and one iteration, and the loops of
    ``iterations`` (loop id -> n') given n' iterations.  Raises ValueError for a loop the model
    cannot place."""
    by_caller = {}
    for rec in records:
        if rec.id in config or rec.id in iterations:
            if not rec.modelled:
                raise ValueError(f"loop {rec.id}: the profile cannot predict it: {rec.reason}")
            by_caller.setdefault(rec.caller, []).append(rec)
    next_run = {rec.id: 0 for recs in by_caller.values() for rec in recs}
    found = []
    for order, node in enumerate(root.iter_nodes()):
        name = root_name if node.site == ROOT_ID else node.site.rsplit(":", 1)[-1]
        for rec in by_caller.get(name, ()):
            run = next_run[rec.id]
            if run >= rec.runs:
                continue
            n = rec.iterations[run]
            if n == 0:
                next_run[rec.id] += 1
                continue
            if rec.body_sites:
                j = _find(node, rec.body_sites, n)
            else:
                j = rec.calls_before if rec.calls_before <= len(node.children) else None
            if j is None:
                continue
            next_run[rec.id] += 1
            found.append((order, j, node, rec, n))
    # inner loops (in calls of an outer loop's body) first, and right to left in a node, so that
    # a replacement neither detaches nor shifts the places of those still to come
    for _order, j, node, rec, n in sorted(found, key=lambda f: (f[0], f[1]), reverse=True):
        _replace(node, j, rec, n, config.get(rec.id), iterations.get(rec.id, n))
    for rec_id, run in next_run.items():
        rec = next(r for recs in by_caller.values() for r in recs if r.id == rec_id)
        if run < rec.runs:
            raise ValueError(f"loop {rec_id}: {rec.runs - run} of its {rec.runs} runs were not "
                             f"found in the recorded call tree")
    return root


def _find(node, pattern, n):
    k = len(pattern)
    sites = [c.site for c in node.children]
    for j in range(len(sites) - n * k + 1):
        if all(sites[j + i] == pattern[i % k] for i in range(n * k)):
            return j
    return None


def _scale(node, factor):
    for u in node.iter_nodes():
        for name in TIME_FIELDS:
            setattr(u, name, getattr(u, name) * factor)


def _subtree_time(node):
    return sum(getattr(u, name) for u in node.iter_nodes() for name in TIME_FIELDS)


def _replace(node, j, rec, n, schedule, n_new):
    k = len(rec.body_sites)
    if k == 0:
        _replace_callless(node, j, rec, schedule, n_new)
        return
    children = node.children[j:j + n * k]
    inner = list(node.gaps[j + 1:j + k])       # gaps between one iteration's calls
    wrap = node.gaps[j + k] if n > 1 else None
    before, after = node.gaps[j], node.gaps[j + n * k]
    last = [_copy(c) for c in children[(n - 1) * k:]]
    # times: those of the mean iteration
    for i, c in enumerate(last):
        total = sum(_subtree_time(children[m * k + i]) for m in range(n))
        mine = _subtree_time(c)
        _scale(c, (total / n / mine) if mine > 0 else 1.0)
    if schedule is None:                      # every iteration kept, n_new of them
        if n_new != n and wrap is None:
            raise ValueError(f"loop {rec.id}: a profile of one iteration cannot tell the bytes "
                             f"between iterations; profile at least two")
        groups = []
        if n_new > 1:
            group = CallNode(GROUP_SITE, [0] + inner + [wrap], [_copy(c) for c in last])
            groups = [group] * (n_new - 1)
        node.children[j:j + n * k] = groups + last
        node.gaps[j:j + n * k + 1] = [before] + [0] * len(groups) + inner + [after]
        return
    ram, disk = schedule
    held = schedule_counts(n_new, ram, disk)["held"]
    gaps = list(rec.iteration_gaps)
    gaps[0] += (rec.snapshot_shared_bytes if held else 0) + held * rec.snapshot_bytes
    for c in last:
        _scale(c, n_new)
    node.children[j:j + n * k] = [CallNode(GROUP_SITE, gaps, last)]
    # the bytes the caller pushes just before and after the loop, as the code with snapshots does
    node.gaps[j:j + n * k + 1] = [rec.pre_bytes, rec.post_bytes]


def _replace_callless(node, j, rec, schedule, n_new):
    """A loop whose body calls no function: its tape is part of the gap after the caller's j-th
    call, bounded by the same calls as the bytes pushed before and after it in the watched run."""
    if schedule is None:
        if n_new != rec.iterations[0]:
            raise ValueError(f"loop {rec.id}: its body calls no function, so the profile cannot "
                             f"tell its iterations' tape apart to make it longer with every "
                             f"iteration kept; give it snapshots")
        return
    ram, disk = schedule
    held = schedule_counts(n_new, ram, disk)["held"]
    snap = (rec.snapshot_shared_bytes if held else 0) + held * rec.snapshot_bytes
    loop = CallNode(GROUP_SITE, [snap + rec.iteration_tape_bytes], [])
    node.children.insert(j, loop)
    node.gaps[j:j + 1] = [rec.pre_bytes, rec.post_bytes]


def _copy(node):
    return CallNode.from_dict(node.to_dict())


def extra_time(rec, schedule, n_new, t_advance=None, t_overhead=0.0):
    """Seconds a loop's schedule adds to the run with every iteration kept (all its runs), and
    the iterations it runs again: ``t_advance`` per iteration run again (default: as measured),
    ``t_overhead`` per iteration taped (the schedule's call of the body), the snapshots and
    restores as measured, disk snapshots as timed on a like-sized file."""
    total, again = 0.0, 0
    if t_advance is None:
        t_advance = rec.t_primal_iter
    for n in rec.iterations:
        n = n_new if n_new is not None else n
        if schedule is None:
            continue
        c = schedule_counts(n, *schedule)
        again += c["advanced"]
        total += (c["advanced"] * t_advance + n * t_overhead + c["snapshots"] * rec.t_snapshot
                  + c["restores"] * rec.t_restore + c["disk_snapshots"] * rec.t_disk_write
                  + c["disk_restores"] * rec.t_disk_read)
    return total, again
