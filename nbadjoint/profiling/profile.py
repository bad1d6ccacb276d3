"""``nba.profile``: a measured adjoint run, per call site, and the `Profile` that holds it.

One profile is a probed primal run and a probed adjoint run (after ``warmup`` unrecorded
ones; ``repeat`` times for medians).  The adjoint run gives the dynamic call tree with exact tape
bytes; the primal run gives the primal times of the calls that were split in the adjoint run (a
checkpointed call has its primal time from the adjoint run itself).  From that tree the cost model
predicts the time and peak of any placement and the advisor searches placements.

A `Profile` is two halves: ``profile.data``, a frozen `ProfileData` holding exactly what the
profile's JSON holds, and ``profile.session``, the live `ProfileSession` (compiled program,
function, arguments) that can rerun and line-profile, None for a profile read from JSON.  What is
computed from the data (the cost model, suggestions, the Pareto front) is computed when first
asked for and kept.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import pathlib
import sys
import time
from dataclasses import dataclass

import numpy as np

from nbadjoint.errors import ProfileError
from nbadjoint.profiling.calltree import ROOT_SITE, TIME_FIELDS, aggregate, tree_from_dict
from nbadjoint.profiling import loops as _loops
from nbadjoint.profiling.loop_profile import LoopMethods, _is_loop, _measure_loops, _sites_only
from nbadjoint.profiling.data import (SCHEMA_VERSION, ProfileData, SiteRecord, read_profile_data,
                                      site_records)
from nbadjoint.profiling.model import CostModel, Prediction
from nbadjoint.profiling.recorder import Recorder, merge_primal
from nbadjoint.profiling.session import ProfileSession
from nbadjoint.profiling.units import parse_budget, parse_placement

__all__ = ["Profile", "ProfileData", "ProfileSession", "ProfileError", "SiteRecord", "ParetoPoint",
           "SCHEMA_VERSION", "profile", "measure"]


def _split_site_id(site_id):
    caller, lineno, callee = site_id.split(":")
    return caller, int(lineno), callee


@dataclass(frozen=True)
class ModelCheck:
    """One test of the cost model: what it predicted for a placement, and what a rerun measured."""
    predicted: Prediction
    measured: Prediction

    @property
    def time_error(self):
        """(measured - predicted) / predicted adjoint time (None when the prediction is not > 0)."""
        p, m = self.predicted.time, self.measured.time
        return (m - p) / p if p > 0 and math.isfinite(m) else None


@dataclass(frozen=True)
class ParetoPoint:
    """One placement of the time / peak-memory Pareto front (predicted figures)."""
    time: float
    peak_bytes: int
    placement: dict


def _data_property(name, doc):
    return property(lambda self: getattr(self.data, name), doc=doc)


class Profile(LoopMethods):
    """A measured adjoint run per call site, with its cost model and checkpoint advisor.

    Build one with ``nba.profile(f, *args)``, or read one with `from_json` / `from_dict`;
    ``Profile(data)`` wraps a `ProfileData`.  ``data`` holds the measurements (what JSON holds);
    ``session`` is the live `ProfileSession` that `rerun` and `line_profile` need (None for a
    profile read from JSON); ``value`` and ``grad`` are those of the run (None when read from
    JSON).  The measurements read as attributes too: ``root``, ``argnums``, ``placement`` (as
    run), ``sites`` (list of `SiteRecord`), ``primal_time``, ``adjoint_time`` (medians, s),
    ``ratio``, ``peak_bytes``, ``tape_traffic_bytes``, ``heap_peak_bytes``, ``rss_peak_bytes``,
    ``budget_bytes`` (default budget: the peak of the all-checkpointed placement),
    ``call_tree`` (the aggregated dynamic call tree), ``tree`` (the static call-site tree),
    ``sources`` (generated code per function).
    """

    def __init__(self, data, *, value=None, grad=None, session=None):
        if not isinstance(data, ProfileData):
            raise TypeError(f"Profile(data) takes a ProfileData, got {type(data).__name__}; "
                            f"build a Profile with nba.profile(f, *args) or read one with "
                            f"Profile.from_json / Profile.from_dict")
        self.data = data
        self.value = value
        self.grad = grad
        self.session = session
        self._loaded = None             # "JSON" for a profile read by from_json / from_dict
        self.model_checks = []          # ModelCheck per rerun that led here (see `rerun`)
        self._suggestions = {}
        self._pareto = None

    @classmethod
    def _of_run(cls, data, *, tree, model, value, grad, session):
        """The Profile of a measured run (`measure`): the parsed tree and its model are kept."""
        profile = cls(data, value=value, grad=grad, session=session)
        profile.__dict__["call_tree"] = tree
        profile.__dict__["_model"] = model
        return profile

    # -- the measurements ----------------------------------------------------------------------

    root = _data_property("root", "Name of the profiled function.")
    argnums = _data_property("argnums", "The differentiated argument positions (int or tuple).")
    placement = _data_property("placement", "The full placement as run (site id -> checkpointed).")
    tree = _data_property("tree", "The static call-site tree.")
    sources = _data_property("sources", "Generated forward and backward sweep per function.")
    primal_time = _data_property("primal_time", "Median primal run time (s).")
    adjoint_time = _data_property("adjoint_time", "Median adjoint run time (s).")
    unattributed_time = _data_property(
        "unattributed_time", "Engine time outside every call's probes; predictions add it back.")
    peak_bytes = _data_property("peak_bytes", "Peak tape bytes of the run.")
    tape_traffic_bytes = _data_property("tape_traffic_bytes", "Every byte pushed on the tape.")
    heap_peak_bytes = _data_property("heap_peak_bytes", "Python-heap peak (heap=True), else None.")
    rss_peak_bytes = _data_property("rss_peak_bytes", "Process peak RSS (rss=True), else None.")
    budget_bytes = _data_property(
        "budget_bytes", "Default budget: the peak of the all-checkpointed placement.")
    repeat = _data_property("repeat", "Number of runs the times are medians of.")
    clock = _data_property("clock", '"wall" or "cpu": the clock the times were taken with.')
    ratio = _data_property("ratio", "Adjoint time over primal time.")
    loops = _data_property("loops", "`LoopRecord` per time loop of the call tree (see "
                                    "nbadjoint.profiling.loops).")
    loop_placement = _data_property(
        "loop_placement", "Loop id -> (ram, disk) snapshots of the loops run by a schedule, as run.")

    @property
    def sites(self):
        """The `SiteRecord` of each call site, in the program's order."""
        return list(self.data.sites)

    @functools.cached_property
    def call_tree(self):
        """The aggregated dynamic call tree (parsed from ``data.call_tree`` when first read)."""
        return tree_from_dict(self.data.call_tree)

    @functools.cached_property
    def _model(self):
        return CostModel(self.call_tree, run_placement=self.placement)

    @functools.cached_property
    def _defaults(self):
        return {s.id: bool(s.default_checkpointed) for s in self.data.sites}

    def site(self, site_id):
        """The `SiteRecord` of one call site."""
        for record in self.data.sites:
            if record.id == site_id:
                return record
        raise KeyError(f"no call site {site_id!r}; the sites are: {', '.join(self._defaults)}")

    # -- placements ----------------------------------------------------------------------------

    def full_placement(self, placement=None):
        """``placement``'s call sites completed with each site's default (loop ids are read by
        `loop_config`); unknown ids raise ValueError."""
        placement = parse_placement(_sites_only(placement, self.data.loops)) or {}
        unknown = sorted(set(placement) - set(self._defaults))
        if unknown:
            raise ValueError(f"unknown call site(s) {', '.join(map(repr, unknown))}; "
                             f"the sites of {self.root} are: {', '.join(self._defaults) or '(none)'}")
        full = dict(self._defaults)
        full.update({k: bool(v) for k, v in placement.items()})
        return full

    def predict(self, placement=None, iterations=None):
        """Predicted adjoint time and peak bytes of ``placement``, without running it.

        ``placement`` maps call sites to checkpointed (True) or split, and loop ids to a number of
        snapshots, ``{"ram": S, "disk": D}`` or None (every iteration kept).  The peak counts the
        tape and the loops' snapshots in memory.  ``iterations`` (loop id -> n) predicts the run
        with those loops made n iterations long.  The prediction's ``recomputed`` gives, per loop run
        by a schedule, the iterations run again (t(n, S) per run of the loop)."""
        sites = self.full_placement(placement)
        config = self.loop_config(placement)
        iterations = self._check_iterations(iterations)
        base = self._model.predict(sites)
        if not config and not iterations:
            return Prediction(time=base.time + self.unattributed_time, peak_bytes=base.peak_bytes)
        return self._predict_loops(sites, config, iterations, base)

    def suggest(self, budget=None, method="auto"):
        """The advisor's placement under ``budget`` (bytes or "200MB"; default `budget_bytes`)."""
        from nbadjoint.profiling import advisor

        budget = self.budget_bytes if budget is None else parse_budget(budget)
        key = (budget, method)
        if key not in self._suggestions:
            if not any(r.modelled for r in self.data.loops):
                found = advisor.suggest(self._model, sites=list(self._defaults),
                                        run_placement=self.placement, budget=budget, method=method)
                self._suggestions[key] = self._shift(found)
            else:
                self._suggestions[key] = self._suggest_with_loops(budget, method)
        return self._suggestions[key]

    def pareto(self):
        """The time / peak-memory Pareto front: `ParetoPoint`s by increasing peak (fastest last).

        Searched when first asked for (seconds on trees with hundreds of call sites), then kept."""
        from nbadjoint.profiling import advisor

        if self._pareto is None:
            points = []
            for config in self._loop_options():
                front = advisor.pareto(self._loop_model(config), sites=list(self._defaults),
                                       run_placement=self.placement)
                for _t, peak, placement in front:
                    full = self._with_loops(self.full_placement(placement), config)
                    p = self.predict(full)
                    points.append(ParetoPoint(p.time, int(p.peak_bytes), full))
            self._pareto = [ParetoPoint(t, p, pl) for t, p, pl in advisor._front(
                [(q.time, q.peak_bytes, q.placement) for q in points])]
        return self._pareto

    def _shift(self, found):
        """Add the unattributed engine time to an advisor result (a frozen or plain dataclass)."""
        full = self.full_placement({k: v for k, v in found.placement.items() if k in self._defaults})
        return dataclasses.replace(found, time=found.time + self.unattributed_time, placement=full)

    # -- measuring again -------------------------------------------------------------------------

    def rerun(self, placement=None, **options):
        """Profile again under ``placement`` (missing sites take their default); a new Profile.

        ``options`` replace those of the first run (``repeat``, ``warmup``, ``heap``, ``rss``,
        ``clock``, ``progress``).  A profile made by `profile` compiles its function again (the
        cached program while no code changed, a new one when the function or a callee was
        redefined or edited), so a rerun measures the code as it is now.  A profile read from JSON
        cannot rerun (ProfileError): it has no function to run.
        """
        full = self.full_placement(placement)
        config = self.loop_config(placement)
        predicted = self.predict(self._with_loops(full, config))
        measured = self._live("rerun it").rerun(self._with_loops(full, config), **options)
        measured.model_checks = list(self.model_checks)
        # a test of the model only when the rerun ran the code and placement it predicted
        if measured.data.sources == self.data.sources and dict(measured.placement) == full and \
                dict(measured.loop_placement) == config:
            figures = Prediction(time=measured.adjoint_time, peak_bytes=measured.peak_bytes)
            measured.model_checks.append(ModelCheck(predicted, figures))
        return measured

    def model_accuracy(self):
        """The cost model's measured accuracy: ``(low, high, count)`` of (measured - predicted) /
        predicted adjoint time over the reruns that led to this profile (see `rerun`; -0.05 is
        5% faster than predicted), or None before any rerun."""
        errors = [e for e in (c.time_error for c in self.model_checks) if e is not None]
        return (min(errors), max(errors), len(errors)) if errors else None

    def line_profile(self, site_or_function):
        """line_profiler's report of the generated forward and backward sweeps of one function.

        ``site_or_function`` is a function of the call tree (the function itself or its name) or a
        call-site id (its callee).
        """
        session = self._live("drill down to lines")
        name = site_or_function
        if isinstance(name, str) and name in self._defaults:
            name = _split_site_id(name)[2]
        elif isinstance(name, str) and name == ROOT_SITE:
            name = self.root
        return session.line_profile(name, self.placement)

    def _live(self, purpose):
        """The session to run with; a ProfileError saying why there is none and what to do."""
        if self.session is not None:
            return self.session
        where = f"loaded from {self._loaded}" if self._loaded else "made from its data alone"
        raise ProfileError(
            f"this Profile was {where}: it keeps the measurements only, with no live program "
            f"to {purpose}. In the Python session where {self.root}() is defined, call "
            f"nba.profile({self.root}, *args, placement=profile.placement) to measure it again")

    # -- pickling ------------------------------------------------------------------------------

    def __getstate__(self):
        """The data, the value and the gradient, and the session's function and arguments pickled
        by reference (see `ProfileSession`); the cost model and the advisor's results are
        computed again when asked for."""
        return {"data": self.data, "value": self.value, "grad": self.grad,
                "session": self.session, "loaded": self._loaded, "model_checks": self.model_checks}

    def __setstate__(self, state):
        if "data" not in state:                 # pickled by nbadjoint before the data/session split
            state = _state_of_old_pickle(state)
        self.__init__(state["data"], value=state["value"], grad=state["grad"],
                      session=state["session"])
        self._loaded = state.get("loaded")
        self.model_checks = list(state.get("model_checks", []))

    # -- output --------------------------------------------------------------------------------

    def report(self, budget=None, method="auto", iterations=None):
        """A terminal-readable call-tree table with the advisor's suggestion, and the time loops
        (``iterations``: loop id -> n, the predictions with those loops that long)."""
        from nbadjoint.profiling.report import text_report

        return text_report(self, budget=budget, method=method, iterations=iterations)

    def __str__(self):
        return self.report()

    def __repr__(self):
        stored = "" if self._loaded is None else \
            f", value and gradient not stored (loaded from {self._loaded})"
        return (f"<Profile of {self.root}: adjoint {self.adjoint_time:.4g} s, "
                f"ratio {self.ratio:.3g}, peak {self.peak_bytes} B, {len(self.data.sites)} call sites"
                f"{stored}>")

    def _repr_html_(self):
        from nbadjoint.profiling.report import html_report

        return html_report(self)

    def widget(self, **kwargs):
        """The interactive call-tree widget for notebooks."""
        from nbadjoint.notebook.widget import CallTreeWidget

        return CallTreeWidget(self, **kwargs)

    def to_dict(self, budget=None, method="auto", advice=True):
        """The profile as plain data: ``data.to_dict()`` (see `ProfileData` for the schema) with
        two derived entries for readers of the file, ``ratio`` and ``suggestion`` (the advisor's
        placement for ``budget`` and ``method``; ``advice=False`` leaves it None, the slow part on
        trees with hundreds of call sites).  The Pareto front is not written: `pareto` computes
        it from the data."""
        out = self.data.to_dict()
        out["ratio"] = _finite(self.ratio)
        out["suggestion"] = self._suggestion_entry(budget, method) if advice else None
        return out

    def _suggestion_entry(self, budget, method):
        try:
            return _suggestion_dict(self.suggest(budget=budget, method=method))
        except ValueError as exc:       # nothing fits the budget
            return {"placement": dict(self.placement), "time": None, "peak_bytes": None,
                    "method": method, "ranking": [], "error": str(exc)}

    def to_json(self, path=None, indent=1, budget=None, method="auto", advice=True):
        """The profile as JSON text (`to_dict`); written to ``path`` too when given."""
        text = json.dumps(self.to_dict(budget=budget, method=method, advice=advice), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
        return text

    @classmethod
    def from_dict(cls, data, source=None):
        """Read `to_dict`'s output (or `ProfileData.to_dict`'s, or a schema version 1 file's).
        A missing or malformed field raises ProfileError naming it (and ``source``, the file or
        text it came from, when given).  The profile read cannot `rerun` (no function)."""
        profile_data, tree = read_profile_data(data, source)
        profile = cls(profile_data)
        profile.__dict__["call_tree"] = tree
        profile._loaded = "JSON"
        return profile

    @classmethod
    def from_json(cls, source):
        """Read a profile written by `to_json`: JSON text, or the path (str or `pathlib.Path`) of
        a .json file.  Text that starts with ``{`` or ``[`` is JSON; any other string is a path.

        JSON keeps the measurements only: the profile read has ``value`` and ``grad`` None (the
        gradient is not stored; its repr says so), and cannot `rerun` or `line_profile` (no
        function).  ``pickle`` keeps the value and the gradient too."""
        if isinstance(source, bytes):
            source = source.decode("utf-8")
        if isinstance(source, pathlib.PurePath) or (
                isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
            name = str(source)
            if not name.strip():
                raise ProfileError("Profile.from_json needs JSON text or the path of a .json "
                                   "file, got an empty string")
            try:
                with open(source, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                if isinstance(source, str) and _is_json(source):     # 'null', '3', '"x"'
                    return cls.from_dict(json.loads(source), source="profile JSON text")
                raise ProfileError(f"cannot read the profile file {name!r}: "
                                   f"{exc.strerror or exc}") from None
        elif isinstance(source, str):
            text, name = source, None
        else:
            raise TypeError(f"Profile.from_json takes JSON text or a path (str or pathlib.Path), "
                            f"not {type(source).__name__}")
        where = f"profile file {name!r}" if name else "profile JSON text"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"the {where} is not valid JSON: {exc}") from None
        return cls.from_dict(data, source=where)


def _is_json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _state_of_old_pickle(state):
    """The state of a Profile pickled before the data/session split (its attributes)."""
    placement = dict(state["placement"])
    data = ProfileData(
        root=state["root"], argnums=state["argnums"], placement=placement,
        budget_bytes=int(state["budget_bytes"]), primal_time=float(state["primal_time"]),
        adjoint_time=float(state["adjoint_time"]),
        unattributed_time=float(state["unattributed_time"]), repeat=state.get("repeat", 1),
        clock=state.get("clock", "wall"), peak_bytes=int(state["peak_bytes"]),
        tape_traffic_bytes=int(state["tape_traffic_bytes"]),
        heap_peak_bytes=state.get("heap_peak_bytes"), rss_peak_bytes=state.get("rss_peak_bytes"),
        sites=tuple(SiteRecord.from_dict(dataclasses.asdict(s)) for s in state["sites"]),
        tree=state["tree"], call_tree=aggregate(state["call_tree"]).to_dict(),
        sources=state.get("sources") or {})
    session = None
    if state.get("_pickled_run") is not None:
        session = ProfileSession.__new__(ProfileSession)
        session.__setstate__({"argnums": state["argnums"],
                              "options": {k: v for k, v in (state.get("_options") or {}).items()
                                          if k not in ("progress", "recompile")},
                              "_root": state["root"], "_pickled_run": state["_pickled_run"]})
    return {"data": data, "value": state.get("value"), "grad": state.get("grad"),
            "session": session, "loaded": state.get("_loaded")}


def _finite(x):
    return x if math.isfinite(x) else None


def _suggestion_dict(s):
    return {"placement": dict(s.placement), "time": s.time, "peak_bytes": int(s.peak_bytes),
            "method": s.method,
            "ranking": [_plain_entry(entry) for entry in s.ranking]}


def _plain_entry(entry):
    if dataclasses.is_dataclass(entry):
        return dataclasses.asdict(entry)
    return dict(entry)


# -- measuring ------------------------------------------------------------------------------------


CLOCKS = ("wall", "cpu")


def profile(f, *args, argnums=0, placement=None, repeat=1, warmup=1, heap=False, rss=False,
            progress=None, clock="wall"):
    """Profile the adjoint of ``f(*args)`` per call site; returns a `Profile`.

    ``repeat`` probed runs of the primal and of the adjoint (medians), after ``warmup``
    unrecorded ones.  ``heap=True`` adds the Python-heap peak of one extra adjoint run
    (tracemalloc, slow); ``rss=True`` the process's peak resident set size.  ``progress`` is
    called with a short line of text before each stage.  ``clock="cpu"`` times whole runs in
    process CPU time instead of wall time (steadier on a machine shared with other work; the
    per-call times are then scaled to it).  Every run works on its own copy of the array
    arguments: profiling never writes into the caller's arrays.  Bad arguments (``argnums``,
    ``placement``, ``repeat``...) raise TypeError / ValueError naming what is expected before
    anything runs.
    """
    from nbadjoint.transform.program import compile_tree
    from nbadjoint.transform.results import check_argument_types

    argnums = _check_argnums(argnums, f, args)
    loop_part = {k: v for k, v in (placement or {}).items() if _is_loop(k)} \
        if hasattr(placement, "items") else {}
    placement = parse_placement(_sites_only(placement))
    if loop_part:
        placement = {**(placement or {}), **loop_part}
    _check_options({"repeat": repeat, "warmup": warmup, "clock": clock, "progress": progress})
    say = progress or (lambda message: None)
    say("compiling...")
    program = compile_tree(f, argnums, call_args=args)
    check_argument_types(program.bound_args + args, program.bound_kwargs, program.root_name)
    try:
        program.placement(placement)
    except ValueError as exc:                   # a call site the program does not have
        raise ProfileError(str(exc)) from None
    return measure(program, f, args, argnums=argnums, placement=placement, repeat=repeat,
                   warmup=warmup, heap=heap, rss=rss, progress=progress, clock=clock,
                   recompile=lambda: compile_tree(f, argnums, call_args=args))


def measure(program, f, args, argnums=0, placement=None, repeat=1, warmup=1, heap=False,
            rss=False, progress=None, clock="wall", recompile=None):
    """`profile` on an already compiled program (see `profile` for the options).

    ``recompile`` (no arguments, returns a program) is what `Profile.rerun` compiles with; by
    default a rerun runs ``program`` again.

    Every run gets its own copy of the array (and list, dict) arguments: the user's arrays are
    never written into, even when the function writes into its arguments or is refused (an
    AliasError) half-way, and every run starts from the same inputs.  The adjoint runs first, so
    its checks pass before any primal run.
    """
    _check_options({"repeat": repeat, "warmup": warmup, "clock": clock, "progress": progress})
    say = progress or (lambda message: None)
    loop_part = {k: v for k, v in (placement or {}).items() if _is_loop(k)} \
        if hasattr(placement, "items") else {}
    given = parse_placement(_sites_only(placement))
    # (the call sites, and the loops with snapshots: what the generated code reads)
    placed = getattr(program, "context_placement", program.placement)
    full_all = placed({**(given or {}), **loop_part} if loop_part else given)
    full = {k: v for k, v in full_all.items() if not _is_loop(k)}
    loop_config = {k: tuple(v) for k, v in full_all.items() if _is_loop(k)}

    for i in range(warmup):
        say(f"warm-up run {i + 1}/{warmup}...")
        program.run_adjoint(_fresh(args), argnums, full, recorder=Recorder())
        program.run_primal(_fresh(args), recorder=Recorder())

    adjoint_runs = []
    for i in range(repeat):
        say(f"adjoint run {i + 1}/{repeat}...")
        rec, inputs = Recorder(), _fresh(args)
        wall, cpu = time.perf_counter(), time.process_time()
        value, grad = program.run_adjoint(inputs, argnums, full, recorder=rec)
        adjoint_runs.append((time.perf_counter() - wall, time.process_time() - cpu, rec))

    primal_runs, plain_runs = [], []
    for i in range(repeat):
        say("primal run..." if repeat == 1 else f"primal run {i + 1}/{repeat}...")
        rec, inputs = Recorder(), _fresh(args)
        wall, cpu = time.perf_counter(), time.process_time()
        program.run_primal(inputs, recorder=rec)
        primal_runs.append((time.perf_counter() - wall, time.process_time() - cpu, rec))
        # the primal time reported is that of a run without probes: in scalar code with many
        # small calls the probes would otherwise inflate it (by half, on Lorenz-96)
        inputs = _fresh(args)
        wall, cpu = time.perf_counter(), time.process_time()
        program.run_primal(inputs)
        plain_runs.append((time.perf_counter() - wall, time.process_time() - cpu))

    for _, _, rec in adjoint_runs + primal_runs:
        if not rec.finished:
            raise RuntimeError("a probed run ended with unclosed probe brackets; "
                               "the generated probes and the recorder disagree")
    peaks = {rec.peak_bytes for _, _, rec in adjoint_runs}
    if len(peaks) != 1:
        raise RuntimeError(f"the peak tape size differs between identical runs ({sorted(peaks)}); "
                           "the function's control flow must depend only on its arguments")
    trees = [merge_primal(a.tree, p.tree, full)
             for (_, _, a), (_, _, p) in zip(adjoint_runs, primal_runs)]
    pick = 1 if clock == "cpu" else 0
    # the engine's time outside every probe bracket, per run (in the chosen clock)
    outside = [(wall - _bracketed_time(tree, full)) * (run[pick] / wall if wall > 0 else 1.0)
               for run, tree in zip(adjoint_runs, trees) for wall in (run[0],)]
    tree = _median_tree(trees)
    adjoint_rec = adjoint_runs[0][2]
    primal_time = _median([run[pick] for run in plain_runs])
    adjoint_time = _median([run[pick] for run in adjoint_runs])
    unattributed = _median(outside)
    _scale_times(tree, (adjoint_time - unattributed) / (_bracketed_time(tree, full) or 1.0))

    loop_records, peak_bytes = (), int(adjoint_rec.peak_bytes)
    if getattr(program, "loop_sites", None):
        say("loop run (schedules watched)...")
        loop_records = _measure_loops(program, lambda: _fresh(args), argnums, full, clock)
    if loop_config:
        # the run as placed: its loops by their schedules (the probed runs above kept every
        # iteration, for the call tree).  Its time: runs without probes (as nba.grad runs it);
        # its peak (tape and loop snapshots in memory): one watched run
        placed = {**full, **loop_config}
        say("adjoint run with loop snapshots (watched)...")
        watcher, _, _ = _loops.watched_run(program, _fresh(args), argnums, placed)
        peak_bytes = watcher.peak_bytes
        times = []
        for i in range(warmup + repeat):
            say(f"adjoint run with loop snapshots {i + 1}/{warmup + repeat}...")
            inputs = _fresh(args)
            wall, cpu = time.perf_counter(), time.process_time()
            program.run_adjoint(inputs, argnums, placed)
            run = (time.perf_counter() - wall, time.process_time() - cpu)
            if i >= warmup:
                times.append(run[pick])
        adjoint_time = _median(times)

    heap_peak = None
    if heap:
        say("heap run (tracemalloc)...")
        heap_peak = _heap_peak(program, _fresh(args), argnums, full)
    rss_peak = _rss_peak() if rss else None

    call_tree = aggregate(tree)
    model = CostModel(call_tree, run_placement=full)
    static_sites = [_StaticSite.of(s) for s in program.sites]
    data = ProfileData(
        root=program.root_name, argnums=argnums, placement=dict(full),
        budget_bytes=int(model.predict({s.id: True for s in static_sites}).peak_bytes),
        primal_time=float(primal_time), adjoint_time=float(adjoint_time),
        unattributed_time=float(unattributed), repeat=repeat, clock=clock,
        peak_bytes=int(peak_bytes),
        tape_traffic_bytes=int(adjoint_rec.tape_traffic_bytes),
        heap_peak_bytes=heap_peak, rss_peak_bytes=rss_peak,
        sites=site_records(static_sites, model, full), tree=_static_tree(program),
        call_tree=call_tree.to_dict(), sources=_sources(program), loops=loop_records,
        loop_placement=loop_config)
    session = ProfileSession(program, f, args, argnums,
                             options={"repeat": repeat, "warmup": warmup, "heap": heap, "rss": rss,
                                      "clock": clock, "progress": progress},
                             recompile=recompile)
    return Profile._of_run(data, tree=call_tree, model=model, value=value, grad=grad,
                           session=session)


def _fresh(args):
    """A copy of ``args`` with every NumPy array (inside tuples, lists and dicts too) copied."""
    if isinstance(args, np.ndarray):
        return args.copy()
    if isinstance(args, tuple) and not hasattr(args, "_fields"):
        return tuple(_fresh(a) for a in args)
    if isinstance(args, list):
        return [_fresh(a) for a in args]
    if isinstance(args, dict):
        return {k: _fresh(v) for k, v in args.items()}
    return args


def _check_argnums(argnums, f, args):
    """``argnums`` as given, once it is an int or a tuple of ints naming arguments of the call."""
    name = getattr(f, "__name__", "the function")
    ok = isinstance(argnums, int) and not isinstance(argnums, bool)
    if isinstance(argnums, (tuple, list)) and argnums:
        ok = all(isinstance(a, int) and not isinstance(a, bool) for a in argnums)
        argnums = tuple(argnums)
    if not ok:
        raise TypeError(f"argnums must be an int or a tuple of ints, the positions of the "
                        f"arguments of {name}() to differentiate (0 for the first), "
                        f"got {argnums!r}")
    for n in (argnums,) if isinstance(argnums, int) else argnums:
        if not -len(args) <= n < len(args):
            raise ValueError(f"argnums {n} is out of range: {name}() is given {len(args)} "
                             f"argument(s), positions 0 to {len(args) - 1}")
    return argnums


def _check_options(options):
    """Refuse ``repeat``, ``warmup``, ``clock`` and ``progress`` values profiling cannot use."""
    for key, least in (("repeat", 1), ("warmup", 0)):
        value = options.get(key, least)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{key} must be an int (a number of runs), got {value!r}")
        if value < least:
            raise ValueError(f"{key} must be at least {least}, got {value}")
    clock = options.get("clock", "wall")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    progress = options.get("progress")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function taking a line of text, got {progress!r}")


def _median(values):
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])




def _median_tree(trees):
    """The first tree with every node's times replaced by their medians over all the runs.

    The runs have the same call tree (checked by the recorder's byte counts and by
    `merge_primal`); a median per call is robust to a burst of load on a shared machine.
    """
    first = trees[0]
    if len(trees) == 1:
        return first
    columns = [list(tree.iter_nodes()) for tree in trees]
    if len({len(c) for c in columns}) != 1:
        raise RuntimeError("the call tree differs between identical runs; the function's "
                           "control flow must depend only on its arguments")
    for nodes in zip(*columns):
        node = nodes[0]
        for name in TIME_FIELDS:
            setattr(node, name, _median([getattr(n, name) for n in nodes]))
    return first


def _scale_times(tree, factor):
    """Stretch every time of the tree by ``factor``.

    Per-call medians leave out the pauses a loaded machine spreads over a run at random; the
    median run still contains its share of them.  Stretching every part alike makes the
    per-call times add up to the median run, so predictions are comparable with measured runs
    on the same machine (on a quiet machine the factor is close to 1).
    """
    if factor == 1.0:
        return
    for node in tree.iter_nodes():
        for name in TIME_FIELDS:
            setattr(node, name, getattr(node, name) * factor)


def _bracketed_time(tree, placement):
    """Time inside probe brackets: every sweep, plus primal and snapshot of checkpointed calls."""
    total = 0.0
    for node in tree.iter_nodes():
        total += node.t_fwd + node.t_bwd
        if node.site != ROOT_SITE and placement.get(node.site, True):
            total += node.t_primal + node.t_snapshot - node.t_saved
    return total


@dataclass
class _StaticSite:
    id: str
    caller: str
    callee: str
    lineno: int
    default_checkpointed: bool

    @classmethod
    def of(cls, site):
        return cls(site.id, site.caller, site.callee, int(site.lineno),
                   bool(site.default_checkpointed))


def _static_tree(program):
    def convert(node):
        return {"id": node.get("id", ROOT_SITE), "callee": node["callee"],
                "children": [convert(c) for c in node.get("children", ())]}

    tree = convert(program.site_tree)
    tree["id"] = ROOT_SITE
    return tree


def _sources(program):
    import inspect

    out = {}
    for name in program.function_names:
        entry = {}
        for sweep, getter in (("fwd", program.fwd_function), ("bwd", program.bwd_function)):
            try:
                entry[sweep] = inspect.getsource(getter(name))
            except (OSError, TypeError, KeyError):
                entry[sweep] = ""
        out[name] = entry
    return out


def _heap_peak(program, args, argnums, placement):
    import tracemalloc

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        program.run_adjoint(args, argnums, placement)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(peak - base)


def _rss_peak():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
