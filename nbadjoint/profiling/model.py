"""Cost model: predicted run time and peak tape bytes of any checkpoint placement.

The formulas, derived in `nbadjoint.profiling.calltree`, are evaluated on an `AggregatedTree`,
once per unique subtree, children before parents, so one prediction costs O(unique nodes +
run-length segments), however many instances the recorded run had.  Searches that change one or
two sites at a time use `CostModel.set_reference` / `CostModel.peak_changed`, which recompute only
the unique nodes with a child at a changed site and their ancestors.

Per-site figures (`site_figures`), for a placement ``P`` (normally the one the run used).  For an
instance ``v`` let ``B(v)`` be the absolute stack size (bytes) underneath ``v`` when ``v`` is
reversed: ``B(root) = 0`` and ``B(c_i) = B(v) + pre_i(v)``.  This is also where v's forward sweep
starts when v is split, and where its recomputation starts when v is checkpointed (the snapshot
has just been popped).  Then, each maximised over the site's instances:

* ``snp`` = stack size just after the site's snapshot is written: ``B(v) + snapshot_bytes(v)`` if
  the site is checkpointed under ``P``, else ``B(v)`` (no snapshot: the stack at the call);
* ``tn``  = stack size at the turn, the end of v's forward sweep: ``B(v) + Total(v)``;
* ``pk``  = peak stack size while v is run forward and reversed: ``B(v) + Pk(v)``.

Marginal figures, one site at a time, all other sites as in ``P`` (Tapenade's two numbers):

* ``delta_t``  = T(P, s checkpointed) - T(P, s split) = sum over instances of
  ``t_primal + t_snapshot``; always >= 0 and independent of the other sites (T is separable);
* ``delta_pk`` = peak(P, s split) - peak(P, s checkpointed); negative when splitting lowers the
  peak (the snapshot is larger than the tape it replaces).

For a site checkpointed in ``P`` these are exactly the effect of flipping it alone to split; for a
site already split they are what it gains compared with checkpointing it.

Inclusive times under ``P`` (summed over instances): ``fwd_incl(v) = t_fwd(v) + sum over split
children of fwd_incl(c) + sum over checkpointed children of t_primal(c)`` and ``bwd_incl(v) =
t_bwd(v) + sum over split children of bwd_incl(c) + sum over checkpointed children of (t_snapshot(c)
+ fwd_incl(c) + bwd_incl(c))``, so that ``fwd_incl(root) + bwd_incl(root) == T(P)``.  When
instances of one subtree under different parents were merged by aggregation, a site's inclusive
totals use the mean times of the merged instances (the root's totals stay exact).

Memory: the separable time T(P) takes every sweep at the speed it ran in the measured run.  A sweep
is slower when the tape it writes and the backward sweep reads back no longer fits in the cache:
entries that stay on the stack while more than a cache's worth of other data is written go to main
memory and come back from it.  On the ocean example (64 x 64, 100 steps) the run that splits every
call keeps 121 MB of tape where the checkpointed run keeps 17 MB; it took 248 ms where the
checkpointed run predicted 222 ms (+12%), and every prediction of a placement with a larger peak
than the run's was low (`benchmarks/model_accuracy.py`).  `CostModel.predict` therefore adds

    memory_time(P) = c * (cold(peak(P)) - cold(peak(run))),   cold(b) = max(0, b - cache)

where ``cache`` is the processor's per-core cache (`MemoryCost.cache_bytes`) and ``c`` the time
this machine loses per byte of tape kept past it (`MemoryCost.seconds_per_byte`), measured once per
process (`machine_memory_cost`: a tape of 32 MiB of arrays written and read back, against the same
arrays freed at once); with it the run above is predicted at 241 ms.  The correction is zero for
the placement that ran, so the model still reproduces the measured run exactly; ``run`` is the
placement the tree was measured under, which the model must be given (``CostModel(tree,
run_placement=...)``, as a `Profile` does).  The advisor searches on the separable T and reports
corrected times.  Not counted: page faults when the allocator returned a large tape to the system
between runs (they depend on the heap's history).
"""
from __future__ import annotations

import functools
import os
import statistics
import time as _time
from dataclasses import dataclass, asdict
from typing import Mapping

from .calltree import ROOT_SITE, AggregatedTree, CallNode, aggregate


@dataclass(frozen=True)
class Prediction:
    time: float       # predicted adjoint run time (s)
    peak_bytes: int   # predicted peak tape stack (bytes), loops' memory snapshots included
    recomputed: dict = None   # loop id -> iterations run again (loops run by a schedule)

    def __repr__(self):
        from .units import format_bytes, format_seconds
        again = f", recomputed={self.recomputed}" if self.recomputed else ""
        return (f"Prediction(time={format_seconds(self.time)}, peak={format_bytes(self.peak_bytes)}"
                f"{again})")


@dataclass
class SiteFigures:
    """Everything the model says about one call site under one placement."""
    id: str
    calls: int
    checkpointed: bool
    t_primal: float
    t_snapshot: float
    t_fwd_excl: float
    t_fwd_incl: float
    t_bwd_excl: float
    t_bwd_incl: float
    snapshot_bytes: int       # summed over instances
    snapshot_bytes_max: int   # largest single snapshot
    tape_bytes: int           # Total(v) summed over instances: tape its forward sweeps push
    tape_bytes_max: int       # largest Total(v) of one instance
    snp: int
    pk: int
    tn: int
    delta_t: float
    delta_pk: int
    t_saved: float = 0.0      # recomputations skipped when checkpointed (the callee tapes nothing)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MemoryCost:
    """What tape kept past the cache costs on this machine (see the module docstring)."""
    seconds_per_byte: float   # time lost per byte of tape written to and read back from memory
    cache_bytes: int          # tape that fits in the cache of one core costs nothing extra

    def cold_time(self, peak_bytes: int) -> float:
        """Time the bytes of a stack of ``peak_bytes`` beyond the cache cost."""
        return self.seconds_per_byte * max(0, peak_bytes - self.cache_bytes)


CALIBRATION_BYTES = 32 << 20
"""Size of the tape `machine_memory_cost` writes and reads back (beyond most per-core caches)."""

CALIBRATION_ENTRY_BYTES = 32 << 10
"""Size of one array of that tape (a 64 x 64 float array)."""


def cache_bytes_per_core(default: int = 1 << 20, base: str = "/sys/devices/system/cpu/cpu0/cache",
                         cpus: int | None = None) -> int:
    """The largest data cache of the first core that not every core shares (Linux's sysfs;
    ``default`` where it cannot be read).  A cache shared by all the cores is left out: a virtual
    machine reports its host's, and one process gets little of it."""
    try:
        names = os.listdir(base)
    except OSError:
        return default
    cpus = cpus or os.cpu_count() or 1
    best = 0
    for name in names:
        if not name.startswith("index"):
            continue
        try:
            kind, size, shared = (_read(os.path.join(base, name, field))
                                  for field in ("type", "size", "shared_cpu_list"))
            sharing = _cpu_count(shared)
            number = int(size[:-1]) * {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[size[-1]] \
                if size[-1:] in "KMG" else int(size)
        except (OSError, ValueError, KeyError):
            continue
        if kind != "Instruction" and (sharing < cpus or cpus == 1):
            best = max(best, number)
    return best or default


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _cpu_count(cpu_list: str) -> int:
    """How many CPUs a sysfs list such as "0-3,8-11" names."""
    count = 0
    for part in filter(None, cpu_list.split(",")):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


def measure_memory_cost(total_bytes: int = CALIBRATION_BYTES,
                        entry_bytes: int = CALIBRATION_ENTRY_BYTES, rounds: int = 3) -> MemoryCost:
    """Measure `MemoryCost` now: arrays computed and kept on a list (a tape), then popped and read,
    against the same arrays computed and read at once; the median extra CPU time per byte.

    The allocator is tuned as for adjoint runs, and a first round (not counted) grows the heap, so
    the figure is a cache miss's cost, not a new page's, as in the second and later runs of a
    process."""
    import numpy as np

    from nbadjoint.runtime.memory import keep_freed_memory

    keep_freed_memory()
    count = max(1, total_bytes // entry_bytes)
    source = np.ones(entry_bytes // 8)
    extra = []
    for round_ in range(rounds + 1):
        start = _time.process_time()
        tape = [source * 1.5 for _ in range(count)]
        total = 0.0
        while tape:
            total += tape.pop().sum()
        kept = _time.process_time() - start
        start = _time.process_time()
        for _ in range(count):
            total += (source * 1.5).sum()
        if round_:
            extra.append(kept - (_time.process_time() - start))
    per_byte = max(0.0, statistics.median(extra)) / (count * entry_bytes)
    return MemoryCost(seconds_per_byte=per_byte, cache_bytes=cache_bytes_per_core())


@functools.lru_cache(maxsize=1)
def machine_memory_cost() -> MemoryCost:
    """`measure_memory_cost`, once per process (about 0.2 s)."""
    return measure_memory_cost()


# Placement state of a site inside `CostModel`: checkpointed, split, or undecided (for bounds).
SPLIT, CHECKPOINTED, UNDECIDED = 0, 1, -1


class CostModel:
    """A compiled `AggregatedTree`, for fast repeated predictions.

    Sites are numbered ``0..len(site_ids)-1`` (``site_ids``; the root's own site is not among
    them).  Hot paths take a *state*: a list with one entry per site index, ``CHECKPOINTED``,
    ``SPLIT`` or ``UNDECIDED``.

    ``run_placement``: the placement the tree was measured under.  Given, `predict` adds the
    memory term relative to it, with ``memory`` (a `MemoryCost`; default `machine_memory_cost`,
    measured when first needed; None: no memory term).  Without it the model is the plain separable
    one (a tree alone does not say which calls its run checkpointed).
    """

    def __init__(self, tree: "CallNode | AggregatedTree", memory="measure",
                 run_placement: Mapping[str, bool] | None = None):
        self.tree = tree = aggregate(tree)
        self.site_ids: list[str] = list(tree.sites)
        self.site_index = {s: i for i, s in enumerate(self.site_ids)}
        n_sites = len(self.site_ids)
        # one extra slot, always SPLIT: the root's site (never consulted) and groups of
        # repeated children, which are transparent
        self._root_slot = n_sites
        nodes = tree.nodes
        self._n = len(nodes)
        self._root = tree.root
        self._site = [self.site_index.get(u.site, n_sites) if i != tree.root else n_sites
                      for i, u in enumerate(nodes)]
        self._gap0 = [u.gap0 for u in nodes]
        self._segs = [tuple((c, self._site[c], nodes[c].snapshot_bytes, g, k)
                            for c, g, k in u.segments) for u in nodes]
        # time: T = base + sum of cost[s] over checkpointed sites s
        self.base_time = sum(u.t_fwd + u.t_bwd for u in nodes)
        cost = [0.0] * (n_sites + 1)
        for i, u in enumerate(nodes):
            if i != tree.root:
                cost[self._site[i]] += u.t_primal + u.t_snapshot - u.t_saved
        self.cost = cost[:n_sites]
        self._tot = [0] * self._n
        self._pk = [0] * self._n
        # the memory term needs the placement the times were measured under (not in the tree)
        self._memory = memory if run_placement is not None else None
        self.run_state = None if run_placement is None else self.state_of(run_placement)
        self._run_cold = None

    # -- placements and states -------------------------------------------------------------
    def uniform_state(self, value: int) -> list[int]:
        """Every site checkpointed (or split, or undecided)."""
        return [value] * len(self.site_ids) + [SPLIT]

    def state_of(self, placement: Mapping[str, bool] | None) -> list[int]:
        """Site-index state for a placement dict (missing ids are checkpointed)."""
        placement = placement or {}
        return [CHECKPOINTED if placement.get(s, True) else SPLIT for s in self.site_ids] + [SPLIT]

    def placement_of(self, state: list[int]) -> dict[str, bool]:
        return {s: state[i] == CHECKPOINTED for i, s in enumerate(self.site_ids)}

    # -- evaluation ----------------------------------------------------------------------------
    def _pass(self, state: list[int], order=None, tot=None, pk=None) -> None:
        """Fill Total and Pk of the unique nodes in ``order`` (default: all, children first).

        With UNDECIDED sites the values are lower bounds over all completions.
        """
        if tot is None:
            tot, pk = self._tot, self._pk
        gap0, segs = self._gap0, self._segs
        for u in (range(self._n) if order is None else order):
            t = gap0[u]
            best = 0
            for c, s, snap, g, k in segs[u]:
                st = state[s]
                if st == CHECKPOINTED:
                    step = snap + g
                elif st == SPLIT:
                    step = tot[c] + g
                else:
                    tc = tot[c]
                    step = (snap if snap < tc else tc) + g
                # X_i = Pk(c): a snapshot never exceeds Total(v) (see calltree docstring);
                # within a run of k copies the last one sits highest.
                cand = t + (k - 1) * step + pk[c]
                if cand > best:
                    best = cand
                t += k * step
            tot[u] = t
            pk[u] = t if t > best else best

    def peak_of_state(self, state: list[int]) -> int:
        """Whole-run peak; with UNDECIDED sites, a lower bound over all their completions.

        Valid because every Total and Pk is a non-decreasing function of its children's Total,
        Pk and contributions, and an undecided child contributes at least min(snapshot, Total).
        """
        self._pass(state)
        return self._pk[self._root]

    # -- incremental evaluation: a few sites changed from a reference state ----------------------
    def set_reference(self, state: list[int]) -> int:
        """Evaluate ``state`` fully and keep it as the reference of `peak_changed`; its peak."""
        peak = self.peak_of_state(state)
        self._ref_tot = list(self._tot)
        self._ref_pk = list(self._pk)
        return peak

    def peak_changed(self, state: list[int], changed) -> int:
        """Peak of ``state``, which differs from the reference state only at sites ``changed``.

        Only the unique nodes that have a child of a changed site, and their ancestors, are
        recomputed.
        """
        if len(changed) == 1:
            order = self._affected(changed[0])
        else:
            order = sorted(set().union(*(self._affected(s) for s in changed)))
        tot = list(self._ref_tot)
        pk = list(self._ref_pk)
        self._pass(state, order, tot, pk)
        return pk[self._root]

    def _affected(self, site: int) -> list[int]:
        cache = self.__dict__.setdefault("_affected_cache", {})
        found = cache.get(site)
        if found is None:
            parents = self.__dict__.get("_parents")
            if parents is None:
                parents = [[] for _ in range(self._n)]
                for u in range(self._n):
                    for c, _s, _snap, _g, _k in self._segs[u]:
                        parents[c].append(u)
                self._parents = parents
            seen = {u for u in range(self._n) if any(s == site for _c, s, _a, _b, _d in self._segs[u])}
            todo = list(seen)
            while todo:
                for p in parents[todo.pop()]:
                    if p not in seen:
                        seen.add(p)
                        todo.append(p)
            found = cache[site] = sorted(seen)
        return found

    def time_of_state(self, state: list[int]) -> float:
        t = self.base_time
        for s, c in enumerate(self.cost):
            if state[s] == CHECKPOINTED:
                t += c
        return t

    @property
    def memory(self) -> "MemoryCost | None":
        """The `MemoryCost` of the memory term (None: no memory term)."""
        if self._memory == "measure":
            self._memory = machine_memory_cost()
        return self._memory

    def memory_time(self, peak_bytes: int) -> float:
        """Time a placement of peak ``peak_bytes`` spends on tape kept past the cache, beyond what
        the measured run spent (negative for a lower peak; 0 at the run's peak)."""
        memory = self.memory
        if memory is None or memory.seconds_per_byte <= 0:
            return 0.0
        if self._run_cold is None:
            tot, pk = [0] * self._n, [0] * self._n
            self._pass(self.run_state, None, tot, pk)
            self._run_cold = memory.cold_time(pk[self._root])
        return memory.cold_time(peak_bytes) - self._run_cold

    def predict(self, placement: Mapping[str, bool] | None) -> Prediction:
        """Time (the separable time plus `memory_time`) and peak of a placement."""
        state = self.state_of(placement)
        peak = self.peak_of_state(state)
        return Prediction(time=self.time_of_state(state) + self.memory_time(peak), peak_bytes=peak)

    # -- per-site figures ----------------------------------------------------------------------
    def site_figures(self, placement: Mapping[str, bool] | None) -> dict[str, SiteFigures]:
        state = self.state_of(placement)
        tree, nodes = self.tree, self.tree.nodes
        peak = self.peak_of_state(state)
        tot, pkv = list(self._tot), list(self._pk)
        # maximal reversal base B over the instances of each unique node (parents first)
        base = [-1] * self._n
        base[self._root] = 0
        for u in range(self._n - 1, -1, -1):
            t = self._gap0[u]
            for c, s, snap, g, k in self._segs[u]:
                step = (snap if state[s] == CHECKPOINTED else tot[c]) + g
                b = base[u] + t + (k - 1) * step
                if b > base[c]:
                    base[c] = b
                t += k * step
        fwd_in, bwd_in = self._inclusive(state)

        totals = tree.site_totals()
        figs: dict[str, SiteFigures] = {}
        for s_id, st in totals.items():
            s = self.site_index[s_id]
            ck = state[s] == CHECKPOINTED
            figs[s_id] = SiteFigures(
                id=s_id, calls=st.calls, checkpointed=ck, t_primal=st.t_primal,
                t_snapshot=st.t_snapshot, t_fwd_excl=st.t_fwd_excl, t_fwd_incl=0.0,
                t_bwd_excl=st.t_bwd_excl, t_bwd_incl=0.0, snapshot_bytes=st.snapshot_bytes,
                snapshot_bytes_max=st.snapshot_bytes_max, tape_bytes=0, tape_bytes_max=0,
                snp=0, pk=0, tn=0, delta_t=self.cost[s], delta_pk=0, t_saved=st.t_saved)
        for u in range(self._n):
            node = nodes[u]
            fg = figs.get(node.site) if u != self._root else None
            if fg is None:          # the root, or a group of repeated children
                continue
            fg.t_fwd_incl += node.count * fwd_in[u]
            fg.t_bwd_incl += node.count * bwd_in[u]
            fg.tape_bytes += node.count * tot[u]
            fg.tape_bytes_max = max(fg.tape_bytes_max, tot[u])
            fg.snp = max(fg.snp, base[u] + (node.snapshot_bytes if fg.checkpointed else 0))
            fg.tn = max(fg.tn, base[u] + tot[u])
            fg.pk = max(fg.pk, base[u] + pkv[u])
        self.set_reference(state)
        for s_id, fg in figs.items():
            s = self.site_index[s_id]
            flipped = list(state)
            flipped[s] = SPLIT if fg.checkpointed else CHECKPOINTED
            other = self.peak_changed(flipped, (s,))
            fg.delta_pk = (other - peak) if fg.checkpointed else (peak - other)
        return figs

    def _inclusive(self, state: list[int]) -> tuple[list[float], list[float]]:
        """Mean inclusive forward / backward sweep time of one instance of each unique node."""
        nodes = self.tree.nodes
        fwd = [0.0] * self._n
        bwd = [0.0] * self._n
        for u in range(self._n):
            n = nodes[u].count or 1
            f, b = nodes[u].t_fwd / n, nodes[u].t_bwd / n
            for c, s, snap, g, k in self._segs[u]:
                m = nodes[c].count or 1
                if state[s] == CHECKPOINTED:
                    f += k * nodes[c].t_primal / m
                    b += k * ((nodes[c].t_snapshot - nodes[c].t_saved) / m + fwd[c] + bwd[c])
                else:
                    f += k * fwd[c]
                    b += k * bwd[c]
            fwd[u], bwd[u] = f, b
        return fwd, bwd

    def root_inclusive_times(self, placement: Mapping[str, bool] | None) -> tuple[float, float]:
        """(forward sweep, backward sweep) time of the whole run under the placement."""
        fwd, bwd = self._inclusive(self.state_of(placement))
        return fwd[self._root], bwd[self._root]


def predict(tree: "CallNode | AggregatedTree | CostModel",
            placement: Mapping[str, bool] | None) -> Prediction:
    """Predicted time and peak stack bytes of `placement` (missing site ids: checkpointed).

    For repeated predictions on one tree build a `CostModel` once and call its `predict`.
    """
    model = tree if isinstance(tree, CostModel) else CostModel(tree)
    return model.predict(placement)


def site_figures(tree: "CallNode | AggregatedTree | CostModel",
                 placement: Mapping[str, bool] | None) -> dict[str, SiteFigures]:
    """Per-site figures (calls, times, bytes, snp/pk/tn, delta_t/delta_pk) under `placement`."""
    model = tree if isinstance(tree, CostModel) else CostModel(tree)
    return model.site_figures(placement)


__all__ = ["Prediction", "SiteFigures", "CostModel", "predict", "site_figures", "MemoryCost",
           "machine_memory_cost", "measure_memory_cost", "cache_bytes_per_core",
           "SPLIT", "CHECKPOINTED", "UNDECIDED", "ROOT_SITE"]
