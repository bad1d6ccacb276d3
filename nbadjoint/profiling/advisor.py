"""Checkpoint advice: the fastest placement whose predicted peak fits a memory budget.

Everything here is computation on a recorded call tree through `CostModel`; no user code runs.

Methods of `suggest`:

* ``"tapenade"``: the one-site-at-a-time heuristic of Tapenade's profiler.  Sites are ranked by
  their marginal figures under the run placement: those whose split lowers the peak
  (``delta_pk < 0``) first, then neutral ones (``delta_pk == 0``), then those that raise it; within
  the first and last group by decreasing ``delta_t / |delta_pk|``, neutral ones by decreasing
  ``delta_t``.  Starting from the run placement, sites are split in that order, keeping each flip
  only if the predicted peak stays within the budget.
* ``"optimal"``: exact branch and bound over the placements of the executed sites (at most
  `MAX_EXACT_SITES`).  Time is separable, ``T = base + sum of cost(s) over checkpointed s``, so the
  time of a partial placement with its undecided sites split is a lower bound on every completion,
  and is reached exactly when that completion fits the budget.  Peak memory is *not* monotone
  (splitting a site whose snapshot is larger than its tape lowers the peak), so the memory bound
  evaluates the stack formulas with an undecided child contributing ``min(snapshot, Total)`` and
  peaking at its own bound: every formula is non-decreasing in its inputs, so this is a valid lower
  bound on the peak of every completion (`CostModel.peak_of_state`).  Ties in time are broken by the
  lower peak.
* ``"greedy"``: split, one at a time, the site with the best time gain per byte of peak increase
  that keeps the budget (peak-lowering or neutral splits first), re-evaluating after each step;
  also, from the all-split placement, re-checkpoint the site with the best peak reduction per
  second until the budget is met; polish both by local search (single flips, swaps, pairs of
  splits) until nothing improves, and keep the faster.
* ``"auto"``: ``"optimal"`` when there are at most `AUTO_EXACT_SITES` executed sites and the search
  finishes within `AUTO_NODE_LIMIT` nodes, else ``"greedy"``.  ``Suggestion.method`` says which
  answered.

The default budget is the predicted peak of the all-checkpointed placement (Tapenade's default):
never use more memory than the safe default, and go as fast as that allows.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..errors import SearchLimitReached
from .calltree import AggregatedTree, CallNode
from .model import CHECKPOINTED, SPLIT, UNDECIDED, CostModel, SiteFigures
from . import units
from .units import format_bytes, format_seconds

MAX_EXACT_SITES = 25
AUTO_EXACT_SITES = 20
AUTO_NODE_LIMIT = 20_000
PARETO_ENUMERATE_SITES = 12
PAIR_MOVES_SITES = 30           # local search tries pairs of splits up to this many candidates
PARETO_GREEDY_SITES = 60        # beyond this many executed sites the front comes from ranked sweeps
PARETO_SWEEP_ROUNDS = 24        # ranked sweeps re-rank the remaining sites this many times
METHODS = ("auto", "optimal", "greedy", "tapenade")


@dataclass
class Suggestion:
    placement: dict[str, bool]
    time: float                 # predicted adjoint time (s)
    peak_bytes: int             # predicted peak stack bytes
    method: str                 # "optimal", "greedy" or "tapenade": the method that answered
    ranking: list[dict] = field(default_factory=list)
    budget_bytes: int = 0

    def __repr__(self):
        split = sorted(k for k, v in self.placement.items() if not v)
        ckpt = sorted(k for k, v in self.placement.items() if v)
        named, what = (split, "split") if len(split) <= len(ckpt) else (ckpt, "checkpointed")
        budget = f", budget={units.format_bytes(self.budget_bytes)}" if self.budget_bytes else ""
        lines = [f"Suggestion({self.method}: time={units.format_seconds(self.time)}, "
                 f"peak={units.format_bytes(self.peak_bytes)}{budget}; {len(named)} of {len(self.placement)} "
                 f"call sites {what}{':' if named else ''}"]
        lines += [f"    {k}" for k in named[:12]]
        if len(named) > 12:
            lines.append(f"    ... and {len(named) - 12} more (.placement has them all)")
        return "\n".join(lines) + ")"

    def to_dict(self) -> dict:
        return {"placement": dict(self.placement), "time": self.time,
                "peak_bytes": self.peak_bytes, "method": self.method,
                "ranking": [dict(r) for r in self.ranking], "budget_bytes": self.budget_bytes}


# -- helpers ----------------------------------------------------------------------------------------

def _model(tree) -> CostModel:
    return tree if isinstance(tree, CostModel) else CostModel(tree)


def _site_ids(sites, model: CostModel) -> list[str]:
    if sites is None:
        return list(model.site_ids)
    ids = []
    for s in sites:
        if isinstance(s, str):
            ids.append(s)
        elif isinstance(s, Mapping):
            ids.append(str(s["id"]))
        elif hasattr(s, "id"):
            ids.append(str(s.id))
        else:
            raise TypeError(f"sites must be call-site ids, Site objects or site dicts, "
                            f"got {type(s).__name__}")
    return list(dict.fromkeys(ids))


class _Problem:
    """The search space: which sites are free, the fixed ones, the budget."""

    def __init__(self, tree, sites, run_placement, budget):
        self.model = model = _model(tree)
        self.ids = _site_ids(sites, model)
        run = dict(run_placement or {})
        self.run = {s: bool(run.get(s, True)) for s in dict.fromkeys(self.ids + model.site_ids)}
        # free: executed sites among those asked about, most expensive first (deterministic order)
        self.free = sorted((model.site_index[s] for s in self.ids if s in model.site_index),
                           key=lambda i: (-model.cost[i], model.site_ids[i]))
        self.run_state = model.state_of(self.run)
        # sites not asked about keep their run value; free sites are overwritten by the search
        self.fixed_state = list(self.run_state)
        self.default_budget = model.peak_of_state(model.uniform_state(CHECKPOINTED))
        self.budget = self.default_budget if budget is None else units.parse_budget(budget, allow_zero=True)

    def state_with(self, values: Mapping[int, int]) -> list[int]:
        st = list(self.fixed_state)
        for i, v in values.items():
            st[i] = v
        return st

    def evaluate(self, state) -> tuple[float, int]:
        return self.model.time_of_state(state), self.model.peak_of_state(state)

    def placement(self, state) -> dict[str, bool]:
        out = dict(self.run)
        for i, s in enumerate(self.model.site_ids):
            out[s] = state[i] == CHECKPOINTED
        return {s: out[s] for s in self.run}

    def infeasible(self, method: str) -> ValueError:
        low_state = _lowest_peak_descent(self)
        low = self.model.peak_of_state(low_state)
        what = ("no checkpoint placement keeps" if method == "optimal" else
                f"the {method} search found no checkpoint placement that keeps")
        error = ValueError(
            f"{what} the predicted peak within the budget of "
            f"{format_bytes(self.budget)} ({self.budget} B); the lowest "
            f"peak found is {format_bytes(low)} ({low} B). Raise the budget to at least that, "
            f"or pass budget=None for the all-checkpointed peak "
            f"({format_bytes(self.default_budget)}).")
        error.lowest_peak = low               # (the loop advice compares it across loop options)
        error.lowest_placement = self.placement(low_state)
        return error


def _better(t1, p1, t2, p2) -> bool:
    return t1 < t2 or (t1 == t2 and p1 < p2)


# -- Tapenade's ranking ---------------------------------------------------------------------------

def tapenade_rank_key(delta_t: float, delta_pk: int, site_id: str = ""):
    """Sort key of Tapenade's ranking (smaller first); see the module docstring."""
    if delta_pk < 0:
        return (0, -delta_t / -delta_pk, site_id)
    if delta_pk == 0:
        return (1, -delta_t, site_id)
    return (2, -delta_t / delta_pk, site_id)


def tapenade_ranking(figures: Mapping[str, SiteFigures], site_ids: Iterable[str] | None = None
                     ) -> list[str]:
    """Site ids in Tapenade's suggestion order (ids without figures go last, in given order)."""
    ids = list(figures) if site_ids is None else list(site_ids)
    known = [s for s in ids if s in figures]
    known.sort(key=lambda s: tapenade_rank_key(figures[s].delta_t, figures[s].delta_pk, s))
    return known + [s for s in ids if s not in figures]


def _tapenade(pb: _Problem, figs) -> list[int]:
    m = pb.model
    state = list(pb.fixed_state)
    peak = m.peak_of_state(state)
    free_ids = [m.site_ids[i] for i in pb.free]
    order = tapenade_ranking(figs, free_ids)
    if peak > pb.budget:
        # the run itself is over budget: re-checkpoint the split sites whose split costs most
        for s in sorted((s for s in free_ids if not pb.run[s]),
                        key=lambda s: (-figs[s].delta_pk, s)):
            i = m.site_index[s]
            state[i] = CHECKPOINTED
            new = m.peak_of_state(state)
            if new < peak:
                peak = new
                if peak <= pb.budget:
                    break
            else:
                state[i] = SPLIT
    for s in order:
        i = m.site_index[s]
        if state[i] != CHECKPOINTED or not pb.run[s]:
            continue
        state[i] = SPLIT
        new = m.peak_of_state(state)
        if new <= pb.budget and (m.cost[i] > 0 or new <= peak):
            peak = new
        else:
            state[i] = CHECKPOINTED
    if peak > pb.budget:
        raise pb.infeasible("tapenade")
    return state


# -- exact branch and bound -----------------------------------------------------------------------

def _branch_and_bound(pb: _Problem, budget: int, node_limit: int | None = None):
    """Lexicographically smallest (time, peak) with peak <= budget, or None if none fits."""
    m = pb.model
    order = pb.free
    n = len(order)
    cost = m.cost
    state = list(pb.fixed_state)
    for i in order:
        state[i] = UNDECIDED
    t0 = m.time_of_state(state)
    # all_positive[k]: every site order[k:] costs time when checkpointed
    all_positive = [all(cost[order[j]] > 0 for j in range(k, n)) for k in range(n + 1)]
    best = [float("inf"), float("inf"), None]
    nodes = [0]

    def visit(k: int, t: float, all_split_failed: bool):
        nodes[0] += 1
        if node_limit is not None and nodes[0] > node_limit:
            raise SearchLimitReached(f"exact search stopped after {node_limit} nodes")
        lb = m.peak_of_state(state)
        if lb > budget:
            return
        if t > best[0] or (t == best[0] and lb >= best[1]):
            return
        if k == n:
            best[:] = [t, lb, list(state)]
            return
        # (the last remaining site is the cheapest: if adding it changes t, every other
        # completion is strictly slower, even in floating point)
        if all_positive[k] and not all_split_failed and t + cost[order[-1]] > t:
            for j in order[k:]:
                state[j] = SPLIT
            pk = m.peak_of_state(state)
            if pk <= budget:
                # reaches the time bound; every other completion is strictly slower
                if _better(t, pk, best[0], best[1]):
                    best[:] = [t, pk, list(state)]
                for j in order[k:]:
                    state[j] = UNDECIDED
                return
            for j in order[k:]:
                state[j] = UNDECIDED
            all_split_failed = True
        s = order[k]
        state[s] = SPLIT
        visit(k + 1, t, all_split_failed)        # same all-split completion: known to fail
        state[s] = CHECKPOINTED
        visit(k + 1, t + cost[s], False)
        state[s] = UNDECIDED

    visit(0, t0, False)
    return best[2], nodes[0]


def _optimal(pb: _Problem, node_limit: int | None = None) -> list[int]:
    if len(pb.free) > MAX_EXACT_SITES:
        raise ValueError(f"the exact search handles at most {MAX_EXACT_SITES} executed call sites, "
                         f"this tree has {len(pb.free)}; use method='greedy' (or 'auto')")
    state, _ = _branch_and_bound(pb, pb.budget, node_limit)
    if state is None:
        raise pb.infeasible("optimal")
    return state


# -- greedy and local search ----------------------------------------------------------------------

def _greedy_split_phase(pb: _Problem, budget: int, state: list[int], visited=None) -> list[int]:
    m = pb.model
    while True:
        peak = m.set_reference(state)
        best_key, best_i, best_peak = None, None, None
        for i in pb.free:
            if state[i] != CHECKPOINTED:
                continue
            state[i] = SPLIT
            new = m.peak_changed(state, (i,))
            state[i] = CHECKPOINTED
            gain = m.cost[i]
            inc = new - peak
            if peak <= budget:
                if new > budget or (gain <= 0 and inc >= 0):
                    continue
                key = (0, -gain, inc) if inc <= 0 else (1, -gain / inc, inc)
            else:                       # over budget: first get under it
                if new >= peak:
                    continue
                key = (-1, new, -gain)
            key = key + (m.site_ids[i],)
            if best_key is None or key < best_key:
                best_key, best_i, best_peak = key, i, new
        if best_i is None:
            return state
        state[best_i] = SPLIT
        if visited is not None:
            visited.append((m.time_of_state(state), best_peak, list(state)))


def _local_search(pb: _Problem, budget: int, state: list[int], visited=None,
                  max_rounds: int = 200, pairs: bool = True) -> list[int]:
    m = pb.model
    t, p = pb.evaluate(state)
    for _ in range(max_rounds):
        m.set_reference(state)
        best = None     # (time, peak, flips)
        moves = [(i,) for i in pb.free]
        ck = [i for i in pb.free if state[i] == CHECKPOINTED]
        sp = [i for i in pb.free if state[i] == SPLIT]
        # a swap can only be faster if the newly split site costs more than the re-checkpointed;
        # splitting two at once matters because peaks are not monotone (two splits together
        # can fit where each alone does not)
        moves += [(a, b) for a in ck for b in sp if m.cost[a] >= m.cost[b]]
        if pairs and len(ck) <= PAIR_MOVES_SITES:
            moves += list(itertools.combinations(ck, 2))
        for move in moves:
            nt = t
            for i in move:
                nt += -m.cost[i] if state[i] == CHECKPOINTED else m.cost[i]
                state[i] = SPLIT if state[i] == CHECKPOINTED else CHECKPOINTED
            slack = 1e-12 * (abs(t) + 1e-300)      # the incremental sum only filters
            if nt <= t + slack and (best is None or nt <= best[0] + slack):
                nt = m.time_of_state(state)
                np_ = m.peak_changed(state, move)
                if np_ <= budget and _better(nt, np_, t, p) and (
                        best is None or _better(nt, np_, best[0], best[1])):
                    best = (nt, np_, move)
            for i in move:
                state[i] = SPLIT if state[i] == CHECKPOINTED else CHECKPOINTED
        if best is None:
            return state
        for i in best[2]:
            state[i] = SPLIT if state[i] == CHECKPOINTED else CHECKPOINTED
        t, p = best[0], best[1]
        if visited is not None:
            visited.append((t, p, list(state)))
    return state


def _greedy_checkpoint_phase(pb: _Problem, budget: int, state: list[int], visited=None
                             ) -> list[int]:
    """From a placement over budget, re-checkpoint the site that lowers the peak most per
    second of recomputation, one at a time, until the budget is met or nothing lowers it."""
    m = pb.model
    peak = m.set_reference(state)
    while peak > budget:
        best_key, best_i = None, None
        for i in pb.free:
            if state[i] != SPLIT:
                continue
            state[i] = CHECKPOINTED
            new = m.peak_changed(state, (i,))
            state[i] = SPLIT
            if new >= peak:
                continue
            saved, cost = peak - new, m.cost[i]
            key = (0, -saved) if cost <= 0 else (1, -saved / cost)
            key = key + (m.site_ids[i],)
            if best_key is None or key < best_key:
                best_key, best_i = key, i
        if best_i is None:
            break
        state[best_i] = CHECKPOINTED
        peak = m.set_reference(state)
        if visited is not None:
            visited.append((m.time_of_state(state), peak, list(state)))
    return state


def _greedy(pb: _Problem, budget: int | None = None, visited=None, strict: bool = True,
            pairs: bool = True):
    """Best of two greedy descents, each polished by local search.

    Forward: from all checkpointed, split the best site per byte of peak increase.  Backward: from
    all split (the fastest placement), re-checkpoint the best peak reduction per second until the
    budget is met.  Returns None (or raises, if ``strict``) when neither fits the budget.
    """
    budget = pb.budget if budget is None else budget
    results = []
    for start, phase in ((CHECKPOINTED, _greedy_split_phase), (SPLIT, _greedy_checkpoint_phase)):
        state = list(pb.fixed_state)
        for i in pb.free:
            state[i] = start
        if visited is not None:
            visited.append((*pb.evaluate(state), list(state)))
        state = phase(pb, budget, state, visited)
        if pb.model.peak_of_state(state) <= budget:
            state = _local_search(pb, budget, state, visited, pairs=pairs)
            results.append((*pb.evaluate(state), state))
    if not results:
        if strict:
            raise pb.infeasible("greedy")
        return None
    return min(results, key=lambda r: (r[0], r[1]))[2]


def _lowest_peak_descent(pb: _Problem) -> list[int]:
    """A placement with a low peak (single-flip descent from all-checkpointed), for messages."""
    m = pb.model
    state = list(pb.fixed_state)
    for i in pb.free:
        state[i] = CHECKPOINTED
    peak = m.peak_of_state(state)
    improved = True
    while improved:
        improved = False
        for i in pb.free:
            state[i] = SPLIT if state[i] == CHECKPOINTED else CHECKPOINTED
            new = m.peak_of_state(state)
            if new < peak:
                peak, improved = new, True
            else:
                state[i] = SPLIT if state[i] == CHECKPOINTED else CHECKPOINTED
    return state


# -- public entry points --------------------------------------------------------------------------

def _ranking(pb: _Problem, figs, placement: dict[str, bool]) -> list[dict]:
    rows = []
    for s in tapenade_ranking(figs, pb.ids):
        ck = placement.get(s, True)
        if s not in figs:
            rows.append({"id": s, "checkpoint": ck, "delta_t": 0.0, "delta_pk": 0,
                         "reason": "not executed in the profiled run; left as run"})
            continue
        dt, dpk = figs[s].delta_t, figs[s].delta_pk
        saves = f"saves {format_seconds(dt)}, peak {format_bytes(dpk, signed=True)}"
        if not ck:
            reason = f"split: {saves}"
        elif dt <= 0:
            reason = "checkpoint: splitting saves no time"
        else:
            reason = f"checkpoint: splitting {saves}; keeping it fits the budget"
        rows.append({"id": s, "checkpoint": ck, "delta_t": dt, "delta_pk": dpk, "reason": reason})
    return rows


def suggest(tree: "CallNode | AggregatedTree | CostModel", sites=None, run_placement=None,
            budget=None, method: str = "auto") -> Suggestion:
    """The fastest predicted placement whose predicted peak fits ``budget``.

    ``sites``: the call sites to decide (ids, Site objects or site dicts; None = every site in the
    tree).  Sites not in ``sites`` keep their ``run_placement`` value (default checkpointed).
    ``budget``: bytes or a string like ``"200MB"``; None = predicted peak of the all-checkpointed
    placement.  Raises ValueError when no placement found fits the budget.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    pb = _Problem(tree, sites, run_placement, budget)
    figs = pb.model.site_figures(pb.run)
    if method == "tapenade":
        state, used = _tapenade(pb, figs), "tapenade"
    elif method == "optimal":
        state, used = _optimal(pb), "optimal"
    elif method == "greedy":
        state, used = _greedy(pb), "greedy"
    else:
        state = None
        if len(pb.free) <= AUTO_EXACT_SITES:
            try:
                state, used = _optimal(pb, AUTO_NODE_LIMIT), "optimal"
            except SearchLimitReached:
                state = None
        if state is None:
            state, used = _greedy(pb), "greedy"
    if used != "tapenade":
        state = _keep_run_where_free(pb, state)
    t, p = pb.evaluate(state)
    placement = pb.placement(state)
    # searched on the separable time; reported as `CostModel.predict` reports it
    t += pb.model.memory_time(p)
    return Suggestion(placement=placement, time=t, peak_bytes=p, method=used,
                      ranking=_ranking(pb, figs, placement), budget_bytes=pb.budget)


def _keep_run_where_free(pb: _Problem, state: list[int]) -> list[int]:
    """Undo the changes to the run's placement that gain nothing (neither time nor peak), so the
    advice names only changes that matter (a checkpointed call that is not recomputed costs nothing)."""
    state = list(state)
    t, p = pb.evaluate(state)
    for i in pb.free:
        if state[i] != pb.run_state[i]:
            old = state[i]
            state[i] = pb.run_state[i]
            t2, p2 = pb.evaluate(state)
            if t2 <= t and p2 <= p:
                t, p = t2, p2
            else:
                state[i] = old
    return state


def _front(points) -> list[tuple[float, int, list[int]]]:
    """Non-dominated points sorted by increasing peak (strictly decreasing time)."""
    pts = sorted(points, key=lambda x: (x[1], x[0]))
    out = []
    for t, p, st in pts:
        # sorted by peak then time: a point is kept only if it is faster than every point
        # with a smaller or equal peak
        if not out or t < out[-1][0]:
            out.append((t, p, st))
    return out


def pareto(tree: "CallNode | AggregatedTree | CostModel", sites=None, run_placement=None
           ) -> list[tuple[float, int, dict[str, bool]]]:
    """The time / peak-memory Pareto front: ``[(time, peak_bytes, placement)]`` sorted by peak.

    Exact (enumeration up to `PARETO_ENUMERATE_SITES` executed sites, then repeated branch and
    bound with a shrinking budget up to `AUTO_EXACT_SITES`); beyond that, or if the exact search
    exceeds its node limit, the non-dominated points met by two ranked sweeps (splitting from all
    checkpointed, checkpointing from all split) and, up to `PARETO_GREEDY_SITES` executed sites, by
    greedy searches over a sweep of budgets.
    """
    pb = _Problem(tree, sites, run_placement, None)
    points = None
    if len(pb.free) <= PARETO_ENUMERATE_SITES:
        points = []
        for values in itertools.product((SPLIT, CHECKPOINTED), repeat=len(pb.free)):
            st = pb.state_with(dict(zip(pb.free, values)))
            points.append((*pb.evaluate(st), st))
    elif len(pb.free) <= AUTO_EXACT_SITES:
        points = []
        budget = None
        try:
            while True:
                st, _ = _branch_and_bound(pb, float("inf") if budget is None else budget,
                                          AUTO_NODE_LIMIT)
                if st is None:
                    break
                t, p = pb.evaluate(st)
                points.append((t, p, st))
                budget = p - 1
        except SearchLimitReached:
            points = None
    if points is None:
        points = _ranked_sweep(pb, CHECKPOINTED) + _ranked_sweep(pb, SPLIT)
        if len(pb.free) <= PARETO_GREEDY_SITES:
            points += _greedy_sweep(pb)
    # the times as `CostModel.predict` reports them (with the memory term), then the front
    memory = pb.model.memory_time
    return [(t, p, pb.placement(st)) for t, p, st in _front([(t + memory(p), p, st) for t, p, st in points])]


def _greedy_sweep(pb: _Problem, n_budgets: int = 8):
    """Points met by greedy searches (without pair moves) over a sweep of budgets."""
    visited: list = []
    _greedy(pb, float("inf"), visited, strict=False, pairs=False)
    low = pb.model.peak_of_state(_lowest_peak_descent(pb))
    peaks = sorted({p for _, p, _ in visited} | {low})
    lo, hi = peaks[0], peaks[-1]
    budgets = {lo + (hi - lo) * j // n_budgets for j in range(n_budgets + 1)}
    for b in sorted(budgets):
        _greedy(pb, b, visited, strict=False, pairs=False)
    return visited


def _flip_key(pb: _Problem, i: int, start: int, peak: int, new: int):
    """Order of the next flip in a ranked sweep: from checkpointed, the time saved per byte of peak
    added (peak-lowering or neutral splits first); from split, the peak lowered per second of
    recomputation."""
    gain = pb.model.cost[i]
    inc = new - peak
    if start == CHECKPOINTED:
        key = (0, -gain, inc) if inc <= 0 else (1, -gain / inc, inc)
    elif inc < 0:
        key = (0, inc) if gain <= 0 else (1, inc / gain)
    else:
        key = (2, gain, inc)
    return key + (pb.model.site_ids[i],)


def _ranked_sweep(pb: _Problem, start: int, rounds: int = PARETO_SWEEP_ROUNDS):
    """Points met walking from every free site at ``start`` to every one flipped, a block of sites
    at a time, best single-flip value first; the ranking is renewed ``rounds`` times on the way.

    O(rounds * sites) incremental peaks plus one full evaluation per site: the front of a tree with
    hundreds of sites in a fraction of a second, where the greedy sweep takes seconds.
    """
    m = pb.model
    other = SPLIT if start == CHECKPOINTED else CHECKPOINTED
    state = list(pb.fixed_state)
    for i in pb.free:
        state[i] = start
    points = [(*pb.evaluate(state), list(state))]
    todo = list(pb.free)
    block = max(1, -(-len(todo) // rounds))
    while todo:
        peak = m.set_reference(state)
        keyed = []
        for i in todo:
            state[i] = other
            keyed.append((_flip_key(pb, i, start, peak, m.peak_changed(state, (i,))), i))
            state[i] = start
        keyed.sort()
        flipped = []
        for _key, i in keyed[:block]:
            state[i] = other
            flipped.append(i)
            points.append((m.time_of_state(state), m.peak_changed(state, flipped), list(state)))
        todo = [i for _key, i in keyed[block:]]
    return points


__all__ = ["Suggestion", "suggest", "pareto", "tapenade_ranking",
           "tapenade_rank_key", "SearchLimitReached", "MAX_EXACT_SITES", "AUTO_EXACT_SITES",
           "AUTO_NODE_LIMIT", "METHODS"]
