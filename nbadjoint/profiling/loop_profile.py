"""The loop methods of `nbadjoint.profiling.profile.Profile` (see `nbadjoint.profiling.loops` for
the figures and the model): reading loop placements, predictions with loops run by schedules or
made longer, and the advisor's joint choice of snapshot counts and call-site placements."""

from __future__ import annotations

import dataclasses
import functools
import numbers

from nbadjoint.errors import ProfileError
from nbadjoint.profiling import loops as _loops
from nbadjoint.profiling.model import CostModel, Prediction


class LoopMethods:
    """Mixed into `Profile`: everything it does with time loops."""

    def loop(self, loop_id):
        """The `LoopRecord` of one loop (``caller:lineno:for``)."""
        for record in self.data.loops:
            if record.id == loop_id:
                return record
        raise KeyError(f"no loop {loop_id!r}; the loops of {self.root} are: "
                       f"{', '.join(r.id for r in self.data.loops) or '(none)'}")

    def loop_config(self, placement=None):
        """Loop id -> ``(ram, disk)`` for every loop ``placement`` runs by a schedule (a loop it
        does not name takes its ``# nbadjoint: snapshots=`` comment, else keeps every iteration)."""
        from nbadjoint.transform.loops import read_schedule

        given = {k: v for k, v in (placement or {}).items() if _is_loop(k)}
        known = {r.id: r for r in self.data.loops}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown loop(s) {', '.join(map(repr, unknown))}; the loops of "
                             f"{self.root} are: {', '.join(known) or '(none)'}")
        out = {}
        for loop_id, record in known.items():
            value = read_schedule(given[loop_id] if loop_id in given else record.default, loop_id)
            if value is not None:
                out[loop_id] = value
        return out

    def _check_iterations(self, iterations):
        if not iterations:
            return {}
        out = {}
        for loop_id, n in dict(iterations).items():
            record = self.loop(loop_id)
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
                raise ValueError(f"iterations[{loop_id!r}] must be an int >= 1, got {n!r}")
            if not record.modelled:
                raise ValueError(f"loop {loop_id}: the profile cannot predict it: {record.reason}")
            out[loop_id] = int(n)
        return out

    def _iteration_time(self, record, sites):
        """One iteration taped and reversed with every iteration kept, under ``sites``: its
        calls' time in the recorded run (sweeps, and primal runs when checkpointed) plus the time
        the watched run spent in the body's own statements."""
        key = tuple(sorted(sites.items()))
        cache = self.__dict__.setdefault("_call_times", {})
        if key not in cache:
            figures = self._model.site_figures(sites)
            cache[key] = {
                s: (f.t_fwd_incl + f.t_bwd_incl
                    + ((f.t_primal + f.t_snapshot - f.t_saved) if f.checkpointed else 0.0))
                / f.calls for s, f in figures.items() if f.calls}
        calls = cache[key]
        if not all(site in calls for site in record.body_sites):
            return record.t_taped_iter
        return record.t_own_iter + sum(calls[site] for site in record.body_sites)

    def _schedule_costs(self, record, sites):
        """(one iteration run again, the schedule's overhead per taped iteration) in seconds.

        An iteration run again is the body's primal, which no placement of call sites changes.
        Two measurements of it carry costs a run without probes does not have: the watched run's
        (the median of its runs of iterations without taping; its probes cost more than the
        profile's) and the profiled runs' (the primal times of the body's calls, plus its own
        statements as the watched run timed them; taken in runs that also tape).  The lower is
        the nearer (within 10 % of measured runs on the Burgers example and the ocean box, where
        each alone is off by up to 40 % on one of them).  A taped iteration is taken to cost what
        it does with every iteration kept: no overhead."""
        advance = record.t_primal_iter
        totals = self._site_totals
        if record.body_sites and all(totals.get(s) and totals[s].calls for s in record.body_sites):
            from_calls = record.t_own_primal_iter + sum(totals[s].t_primal / totals[s].calls
                                                        for s in record.body_sites)
            advance = min(advance, from_calls)
        return advance, 0.0

    def _loop_model(self, config, iterations=None):
        """The cost model of the call tree with the loops of ``config`` run by their schedules
        and those of ``iterations`` made that long (kept)."""
        iterations = iterations or {}
        key = (tuple(sorted(config.items())), tuple(sorted(iterations.items())))
        cache = self.__dict__.setdefault("_loop_models", {})
        if key not in cache:
            if not config and not iterations:
                cache[key] = self._model
            else:
                try:
                    tree = _loops.loop_tree(self.call_tree.expand(), self.data.loops, config,
                                            iterations, self.root)
                except ValueError as exc:
                    raise ProfileError(str(exc)) from None
                cache[key] = CostModel(tree)
        return cache[key]

    def _loop_options(self):
        """The loop configurations the advisor tries: every iteration kept, and per loop the model
        can place, snapshot counts from 1 up (about 1.5x apart; fewer when there are many loops)."""
        import itertools

        records = [r for r in self.data.loops if r.modelled and r.iterations]
        if not records:
            return [{}]
        step = 1.5 if len(records) == 1 else 2.0 if len(records) == 2 else 4.0
        per_loop = []
        for r in records:
            n = max(r.iterations)
            counts, s = [], 1.0
            while round(s) < n:
                if round(s) not in counts:
                    counts.append(round(s))
                s *= step
            per_loop.append([None] + [(c, 0) for c in counts])
        configs = []
        for values in itertools.product(*per_loop):
            configs.append({r.id: v for r, v in zip(records, values) if v is not None})
            if len(configs) >= 400:
                break
        return configs

    def _with_loops(self, sites, config):
        """A placement dict: the call sites, and the loops ``config`` runs otherwise than their
        default (a snapshots comment, else every iteration kept): S, {"ram": S, "disk": D} or None."""
        from nbadjoint.transform.loops import read_schedule

        out = dict(sites)
        for r in self.data.loops:
            v = config.get(r.id)
            if v != read_schedule(r.default, r.id):
                out[r.id] = None if v is None else v[0] if not v[1] else {"ram": v[0], "disk": v[1]}
        return out

    def _suggest_with_loops(self, budget, method):
        """The fastest of the advisor's placements of the call sites over the loop options."""
        from nbadjoint.profiling import advisor

        best, lowest = None, None
        for config in self._loop_options():
            try:
                found = advisor.suggest(self._loop_model(config), sites=list(self._defaults),
                                        run_placement=self.placement, budget=budget, method=method)
            except ValueError as exc:
                low = getattr(exc, "lowest_peak", None)
                if low is not None and (lowest is None or low < lowest[0]):
                    lowest = (low, self._with_loops(
                        self.full_placement(exc.lowest_placement), config))
                continue
            placement = self._with_loops(self.full_placement(found.placement), config)
            p = self.predict(placement)
            if p.peak_bytes <= budget and (best is None or (p.time, p.peak_bytes) <
                                           (best.time, best.peak_bytes)):
                best = dataclasses.replace(found, time=p.time, peak_bytes=p.peak_bytes,
                                           placement=placement)
        if best is None:
            from nbadjoint.profiling.units import format_bytes

            found = "" if lowest is None else (
                f"; the lowest peak found is {format_bytes(lowest[0])} ({lowest[0]} B), with "
                f"the loops as {', '.join(f'{k}: {v}' for k, v in lowest[1].items() if k.endswith(':for'))}"
                f". Raise the budget to at least that")
            raise ValueError(f"no placement, with loop snapshots or without, keeps the predicted "
                             f"peak within the budget of {format_bytes(budget)} ({budget} B)"
                             f"{found}")
        return best

    @functools.cached_property
    def _site_totals(self):
        return self.call_tree.site_totals()

    def _predict_loops(self, sites, config, iterations, base):
        """`predict` with loops run by schedules (``config``) or made longer (``iterations``);
        ``base`` is the prediction of the call sites with every iteration kept."""
        peak = self._loop_model(config, iterations).predict(sites).peak_bytes
        time, recomputed = base.time + self.unattributed_time, {}
        for record in self.data.loops:
            n_new = iterations.get(record.id)
            if n_new is not None:
                per = self._iteration_time(record, sites)
                time += sum(n_new - n for n in record.iterations) * per
            extra, again = _loops.extra_time(record, config.get(record.id), n_new,
                                             *self._schedule_costs(record, sites))
            time += extra
            if record.id in config:
                recomputed[record.id] = again
        return Prediction(time=max(time, 0.0), peak_bytes=int(peak), recomputed=recomputed)


def _is_loop(key):
    return isinstance(key, str) and key.endswith(":for")


def _sites_only(placement, loops=()):
    """``placement`` without its loop ids (a placement of call sites)."""
    if placement is None or not hasattr(placement, "items"):
        return placement
    return {k: v for k, v in placement.items() if not _is_loop(k)}


def _measure_loops(program, fresh, argnums, sites, clock):
    """`LoopRecord`s of the program's loops: one run, watched, with every loop that can keep
    snapshots given `PROBE_SNAPSHOTS` (``fresh()``: a copy of the arguments for a run).  When that
    run raises (a loop whose state holds a view of an array its body writes into cannot keep
    snapshots: AliasError), each loop runs alone, and a loop whose run raises is listed with the
    error as the reason the model cannot schedule it."""
    from nbadjoint.errors import PlacementError
    from nbadjoint.transform.loops import plan_loop

    probe = dict(sites)
    plannable = []
    for site in program.loop_sites:
        try:
            plan_loop(program, site)
        except PlacementError:
            probe[site.id] = None
            continue
        probe[site.id] = _loops.PROBE_SNAPSHOTS
        plannable.append(site.id)
    try:
        watcher, _, runs = _loops.watched_run(program, fresh(), argnums, probe, clock)
        return _loops.loop_records(program, watcher, runs)
    except Exception:                            # (KeyboardInterrupt goes on)
        if not plannable:
            raise
    alone = {loop_id: None for loop_id in plannable}
    records = {}
    for loop_id in plannable:
        try:
            watcher, _, runs = _loops.watched_run(program, fresh(), argnums,
                                                  {**probe, **alone, loop_id: probe[loop_id]}, clock)
        except Exception as exc:
            records[loop_id] = f"a run with snapshots raised {type(exc).__name__}: {exc}"
            continue
        found = {r.id: r for r in _loops.loop_records(program, watcher, runs)}
        records[loop_id] = found[loop_id]
        records.update((k, v) for k, v in found.items() if k not in plannable)
    out = []
    for site in program.loop_sites:
        record = records.get(site.id)
        if isinstance(record, str):
            record = _loops.LoopRecord(id=site.id, caller=site.caller, lineno=int(site.lineno),
                                       default=_loops._plain_default(site.default), reason=record)
        if record is None:                       # a loop that cannot keep snapshots: why
            record = {r.id: r for r in _loops.loop_records(program, _loops.LoopWatcher(), {})}[site.id]
        out.append(record)
    return tuple(out)
