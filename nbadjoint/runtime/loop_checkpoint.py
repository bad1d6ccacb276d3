"""Running a time loop by a checkpointing schedule (binomial, or two levels with disk).

The generated code of a loop with snapshots (see ``nbadjoint/transform/loops.py``) calls
`forward` where the loop stands in the caller's forward sweep and `backward` where its adjoint
stands in the caller's backward sweep.  Each iteration is one call of the loop's body function,
``body(_c, i, *state) -> outputs`` (``outputs`` starts with the state of the next iteration),
through its primal (advance, nothing taped), its forward sweep (tape) and its backward sweep
(reverse).  The actions are those of `nbadjoint.schedules`, generated lazily: the forward sweep
runs them up to ``end_forward``; the rest run in the backward sweep.

Snapshots hold the state by reference (NumPy results are new arrays); the entries the body writes
into in place (``copied``) are copied, and copied again when restored, so a snapshot stays as it
was.  Disk snapshots are raw ``.npy`` files (one per array of the state; other values stay in
memory) in a temporary folder per loop run, removed when the backward sweep ends, when the run
raises (KeyboardInterrupt included, see `close`) and when the run is dropped.

Per run, a `LoopRun` records what a profiler needs; ``ctx.loops[loop_id]`` lists them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .. import schedules
from ..errors import AliasError
from .objects import is_record
from .tape import overlaps

_ndarray = np.ndarray
_NUMBERS = frozenset({float, int, bool, np.float64, np.float32, np.int64, np.int32, np.bool_, complex,
                      np.complex128})


@dataclass
class LoopRun:
    """What one run of a loop with snapshots did (one per dynamic instance of the loop)."""

    loop: str                       # the loop id, ``caller:lineno:for``
    iterations: int                 # n
    ram: int                        # snapshots allowed in memory
    disk: int                       # ... and on disk
    advanced: int = 0               # iterations run by the primal (no tape): t(n, S) for a binomial run
    taped: int = 0                  # iterations run by the forward sweep (n)
    snapshot_bytes_peak: int = 0    # bytes the memory snapshots hold at once, at most (arrays they
                                    # share counted once, 8 per number)
    snapshots_peak: int = 0         # memory snapshots held at once, at most
    disk_bytes: int = 0             # bytes of arrays written to disk, in all
    disk_bytes_peak: int = 0        # bytes on disk at once, at most
    disk_writes: int = 0
    disk_reads: int = 0
    io_seconds: float = 0.0         # time spent writing and reading disk snapshots

    @property
    def primal_iterations(self) -> int:
        """Every iteration run, taped or not: n + ``advanced``."""
        return self.advanced + self.taped


def forward(_c, loop_id, rng, state, primal, fwd, bwd, copied, mutated, n_outputs, fixed=(), names=(),
            checks=()):
    """Run the loop's schedule up to the end of its forward sweep; returns the run (its
    ``outputs``: those of the last iteration, the loop's result), which the forward sweep pushes
    on the tape for `backward`.

    ``state``: the values the body reads before assigning them; ``copied``: the indices of those
    it writes into; ``mutated``: how many of them its backward sweep takes adjoints of (see
    sweep_calls); ``n_outputs``: how many values an iteration returns (the state, then what the
    code after the loop reads); ``fixed``: the indices of the values it only reads (the same
    objects in every snapshot: never written to disk); ``names``: the user's names of the state's
    values (for messages); ``checks``: (j, k, message): the body writes into value j, and value k
    must not share its memory when an iteration starts (AliasError, as at a call site)."""
    ram, disk = _c.ck[loop_id]
    run = _Run(_c, loop_id, rng, state, (primal, fwd, bwd), copied, mutated, ram, disk)
    run.n_outputs = n_outputs
    run.fixed = frozenset(fixed)
    run.names = names
    run.checks = checks
    _c.loops.setdefault(loop_id, []).append(run.stats)
    run.outputs = run.forward()
    return run


def backward(_c, run, outputs_b):
    """Run the rest of ``run``'s schedule; ``outputs_b`` are the adjoints of the loop's outputs.
    Returns the adjoints of the state before the loop."""
    try:
        return run.backward(outputs_b)
    finally:
        run.close()


def close(ctx) -> None:
    """Remove the disk snapshots of every loop run of ``ctx`` still open (a run that raised)."""
    for runs in list(ctx.loops.values()):
        for stats in runs:
            run = stats.__dict__.get("_run")
            if run is not None:
                run.close()


class _Run:
    """One dynamic run of a loop: its schedule, current state and snapshots."""

    def __init__(self, ctx, loop_id, rng, state, fns, copied, mutated, ram, disk):
        self.ctx, self.rng, self.fns = ctx, rng, fns
        self.copied, self.mutated = copied, mutated
        n = len(rng)
        self.n = n
        self.stats = LoopRun(loop_id, n, ram, disk)
        self.stats.__dict__["_run"] = self           # (for `close`; not a field)
        if disk:
            self.actions = schedules.two_level_schedule(n, ram, disk)
        else:
            self.actions = schedules.binomial_schedule(n, ram)
        self.inputs = state
        self.state = state
        self.n_state = len(state)
        self.store = {}                                # (i, level) -> (values, bytes)
        self.ram_bytes = 0
        self.ram_count = 0                             # memory snapshots held
        self.held = {}                                 # id of an array in memory snapshots -> how many
        self.disk_now = 0
        self.folder = None
        self._finalizer = None
        self.taped = None                              # (i, arguments) of the iteration taped
        self.fixed = frozenset()                       # indices of values the body only reads
        self.checks = ()
        self.entry = None                              # snapshot 0, kept to restore the caller's arrays
        self.outputs = None                            # the last iteration's (the loop's result)
        # a profiler's hook, called before and after every action (nbadjoint.profiling.loops)
        self.watch = getattr(ctx.rec, "loop_action", None)

    # -- the sweeps ---------------------------------------------------------------------------------
    def forward(self):
        primal, fwd, _ = self.fns
        out = None
        for action in self.actions:
            kind = action[0]
            if kind == "end_forward":
                if self.watch is not None:
                    self.watch(self, action, True)
                break
            out = self._do(action, primal, fwd)
        if self.n == 0:
            if self.n_outputs > self.n_state:
                raise UnboundLocalError(f"the loop {self.stats.loop} ran no iteration: the values its body "
                                        "assigns and the code after it reads are not defined")
            return self.state
        return out

    def backward(self, outputs_b):
        primal, fwd, bwd = self.fns
        ns = self.n_state
        adjoints = tuple(outputs_b)
        if self.n == 0:
            return adjoints[:ns]
        extra = (None,) * (len(adjoints) - ns)
        actions = self.actions
        pending = None
        for action in actions:
            kind = action[0]
            if kind == "reverse":
                i, args = self.taped
                self.taped = None
                if self.watch is not None:
                    self.watch(self, action, True)
                res = bwd(self.ctx, adjoints, self.rng[i], *args, *((None,) * self.mutated))
                adjoints = tuple(res[1:]) + extra
                if self.watch is not None:
                    self.watch(self, action, False)
            elif kind == "restore" and self.copied:
                pending = action          # a copy, unless the snapshot is freed right after
                continue
            else:
                if pending is not None:
                    self._restore(pending, moved=(kind == "free" and action[1:] == pending[1:]
                                                  and pending[1] != 0))
                    pending = None
                self._do(action, primal, fwd)
        if self.entry is not None:
            # the caller's arrays the body writes into get back their contents before the loop
            values, level = self.entry
            if level == schedules.DISK:
                values = self._read(values)
            for k in self.copied:
                _copy_into(self.inputs[k], values[k])
        return adjoints[:ns]

    def _do(self, action, primal, fwd):
        watch = self.watch
        if watch is None:
            return self._act(action, primal, fwd)
        watch(self, action, True)
        out = self._act(action, primal, fwd)
        watch(self, action, False)
        return out

    def _act(self, action, primal, fwd):
        kind = action[0]
        ctx, rng = self.ctx, self.rng
        if kind == "advance":
            _, i, j = action
            state = self.state
            ns = self.n_state
            checks = self.checks
            for k in range(i, j):
                if checks:
                    _check(state, checks)
                state = primal(ctx, rng[k], *state)[:ns]
            self.state = state
            self.stats.advanced += j - i
        elif kind == "tape":
            i = action[1]
            args = self.state
            if self.checks:
                _check(args, self.checks)
            out = fwd(ctx, rng[i], *args)
            self.taped = (i, args)
            self.state = out[:self.n_state]
            self.stats.taped += 1
            return out
        elif kind == "snapshot":
            self._snapshot(action[1], action[2])
        elif kind == "restore":
            self._restore(action, moved=False)
        elif kind == "free":
            self._free(action[1], action[2])
        return None

    # -- snapshots ----------------------------------------------------------------------------------
    def _copy_state(self, values):
        """``values`` with the entries the body writes into copied, and the entries that are those
        same objects given the same copies (so a state where ``v is u`` stays so)."""
        if not self.copied:
            return values
        written = [values[k] for k in self.copied]
        memo, out = {}, []
        for k, v in enumerate(values):
            if k in self.copied or any(v is w for w in written):
                if id(v) not in memo:
                    memo[id(v)] = _fresh(v)
                out.append(memo[id(v)])
                continue
            for j, w in zip(self.copied, written):
                if overlaps(w, v):
                    names = self.names
                    raise AliasError(f"loop {self.stats.loop}: `{names[k]}` shares memory with `{names[j]}`, which "
                                     f"the loop's body writes into: a snapshot of the loop's state would not "
                                     f"keep that; leave this loop out of the placement (or copy `{names[k]}`)")
            out.append(v)
        return tuple(out)

    def _snapshot(self, i, level):
        values = self._copy_state(self.state)
        size = 0
        if level == schedules.DISK:
            values, size = self._write(i, values)
            self.disk_now += size
            s = self.stats
            s.disk_bytes += size
            s.disk_writes += 1
            s.disk_bytes_peak = max(s.disk_bytes_peak, self.disk_now)
        else:
            self._hold(values, 1)
            s = self.stats
            s.snapshot_bytes_peak = max(s.snapshot_bytes_peak, self.ram_bytes)
            self.ram_count += 1
            s.snapshots_peak = max(s.snapshots_peak, self.ram_count)
        if i == 0 and self.copied:
            self.entry = (values, level)      # kept until the end (see `backward`)
        self.store[(i, level)] = (values, size)

    def _restore(self, action, moved):
        _, i, level = action
        values, _ = self.store[(i, level)]
        if level == schedules.DISK:
            on_disk = [isinstance(v, _OnDisk) for v in values]
            values = self._read(values)       # arrays read from disk: fresh copies already
            if not moved and self.copied:
                # what the snapshot kept in memory (a list, an object the body writes into) is
                # copied, so that the snapshot stays as it was for a later restore
                written = {id(values[k]) for k in self.copied if not on_disk[k]}
                memo = {}
                values = tuple(memo.setdefault(id(v), _fresh(v)) if id(v) in written else v for v in values)
            moved = True
        self.state = values if moved else self._copy_state(values)

    def _free(self, i, level):
        values, size = self.store.pop((i, level))
        if level == schedules.DISK:
            self.disk_now -= size
            if i == 0 and self.copied:
                return                        # read once more at the end; removed with the folder
            for path in values:
                if isinstance(path, _OnDisk):
                    try:
                        os.remove(path.path)
                    except OSError:
                        pass
        else:
            self._hold(values, -1)
            self.ram_count -= 1

    def _hold(self, values, sign):
        """Count a memory snapshot in (``sign`` 1) or out (-1) of the bytes held: an array several
        snapshots share (a value the body only reads) counts once, a number 8 bytes each time."""
        held = self.held
        for v in values:
            cls = v.__class__
            if cls in _NUMBERS:
                self.ram_bytes += sign * 8
                continue
            if cls is not _ndarray and cls is not list and cls is not tuple and cls is not dict:
                continue
            for obj, size in _parts((v,)):
                if obj is None:
                    self.ram_bytes += sign * size
                    continue
                key = id(obj)
                count = held.get(key, 0) + sign
                if count:
                    held[key] = count
                else:
                    del held[key]
                if count == (1 if sign > 0 else 0):
                    self.ram_bytes += sign * size

    def _write(self, i, values):
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="nbadjoint-snapshots-")
            self._finalizer = weakref.finalize(self, shutil.rmtree, self.folder, True)
        start = time.perf_counter()
        out, size, seen = [], 0, {}
        for k, v in enumerate(values):
            if id(v) in seen:
                out.append(seen[id(v)])   # one object in two places of the state: one file, read once
            elif type(v) is _ndarray and not v.dtype.hasobject and k not in self.fixed:
                path = os.path.join(self.folder, f"{i}_{k}.npy")
                np.save(path, v, allow_pickle=False)
                out.append(_OnDisk(path))
                seen[id(v)] = out[-1]
                size += v.nbytes
            else:
                out.append(v)             # numbers, and arrays every snapshot shares, stay in memory
        self.stats.io_seconds += time.perf_counter() - start
        return tuple(out), size

    def _read(self, values):
        start = time.perf_counter()
        memo = {}
        for v in values:
            if isinstance(v, _OnDisk) and id(v) not in memo:
                memo[id(v)] = np.load(v.path, allow_pickle=False)
        out = tuple(memo.get(id(v), v) for v in values)
        self.stats.io_seconds += time.perf_counter() - start
        self.stats.disk_reads += 1
        return out

    def close(self):
        """Drop the snapshots and remove the disk folder (idempotent)."""
        self.store.clear()
        self.stats.__dict__.pop("_run", None)
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None


def _check(state, checks):
    for j, k, message in checks:
        if overlaps(state[j], state[k]):
            raise AliasError(message)


class _OnDisk:
    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path


def _fresh(value):
    """A copy of a value the body writes into (arrays copied, containers copied with them)."""
    if isinstance(value, _ndarray):
        return value.copy(order="K")
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_fresh(v) for v in value)
    if is_record(value):        # an object: another of its class, with copies of its attributes
        copied = object.__new__(value.__class__) if value.__class__ is not SimpleNamespace else SimpleNamespace()
        copied.__dict__.update({k: _fresh(v) for k, v in value.__dict__.items()})
        return copied
    return value


def _copy_into(target, source):
    """Put ``source``'s contents into ``target`` in place (an array, list, dict or object)."""
    if isinstance(target, _ndarray):
        np.copyto(target, source)
    elif isinstance(target, list):
        target[:] = source
    elif isinstance(target, dict):
        target.clear()
        target.update(source)
    elif is_record(target):
        target.__dict__.clear()
        target.__dict__.update(source.__dict__)


def _parts(values):
    """(array, nbytes) for each array in ``values`` (containers opened), (None, 8) per number."""
    for v in values:
        if isinstance(v, _ndarray):
            yield v, v.nbytes
        elif isinstance(v, (list, tuple)):
            if _NUMBERS.issuperset(map(type, v)):
                yield None, 8 * len(v)
            else:
                yield from _parts(v)
        elif isinstance(v, dict):
            yield from _parts(tuple(v.values()))
        elif is_record(v):
            yield from _parts(tuple(v.__dict__.values()))
        elif v is not None:
            yield None, 8


__all__ = ["LoopRun", "backward", "close", "forward"]
