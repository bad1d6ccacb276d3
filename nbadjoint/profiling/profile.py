"""``nba.profile``: a measured adjoint run, per call site, and the `Profile` that holds it.

One profile is a probed primal run and a probed adjoint run (after ``warmup`` unrecorded
ones; ``repeat`` times for medians).  The adjoint run gives the dynamic call tree with exact tape
bytes; the primal run gives the primal times of the calls that were split in the adjoint run (a
checkpointed call has its primal time from the adjoint run itself).  From that tree the cost model
predicts the time and peak of any placement and the advisor searches placements.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import pathlib
import pickle
import sys
import time
from dataclasses import dataclass

import numpy as np

from nbadjoint.errors import ProfileError
from nbadjoint.profiling.calltree import ROOT_SITE, TIME_FIELDS, aggregate, tree_from_dict
from nbadjoint.profiling.model import CostModel, Prediction
from nbadjoint.profiling.recorder import Recorder, merge_primal
from nbadjoint.profiling.units import parse_budget, parse_placement

SCHEMA_VERSION = 1


@dataclass
class SiteRecord:
    """One static call site: where it is, how it ran, and what the model says about it."""
    id: str
    caller: str
    callee: str
    lineno: int
    default_checkpointed: bool = True
    calls: int = 0
    checkpointed: bool = True       # as run
    t_primal: float = 0.0           # summed inclusive primal time of its calls (s)
    t_snapshot: float = 0.0         # summed snapshot read time when checkpointed (s)
    t_fwd_incl: float = 0.0         # forward sweeps, inclusive of callees, under the run's placement
    t_fwd_excl: float = 0.0
    t_bwd_incl: float = 0.0
    t_bwd_excl: float = 0.0
    snapshot_bytes: int = 0         # summed over calls
    tape_bytes: int = 0             # bytes its calls' forward sweeps leave on the tape, summed
    snp: int = 0                    # stack bytes just after its snapshot (max over calls)
    pk: int = 0                     # peak stack bytes while reversing it (max over calls)
    tn: int = 0                     # stack bytes at its turn (max over calls)
    delta_t: float = 0.0            # time saved by splitting it
    delta_pk: int = 0               # change of the run's peak if split
    t_saved: float = 0.0            # forward sweeps not rerun when checkpointed: its tape would be empty

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _split_site_id(site_id):
    caller, lineno, callee = site_id.split(":")
    return caller, int(lineno), callee


@dataclass(frozen=True)
class ParetoPoint:
    """One placement of the time / peak-memory Pareto front (predicted figures)."""
    time: float
    peak_bytes: int
    placement: dict


class Profile:
    """A measured adjoint run per call site, with its cost model and checkpoint advisor.

    Build one with ``nba.profile(f, *args)``.  Attributes: ``root``, ``argnums``, ``placement``
    (as run), ``sites`` (list of `SiteRecord`), ``primal_time``, ``adjoint_time`` (medians, s),
    ``ratio``, ``peak_bytes``, ``tape_traffic_bytes``, ``heap_peak_bytes``, ``rss_peak_bytes``,
    ``budget_bytes`` (default budget: the peak of the all-checkpointed placement), ``value`` and
    ``grad`` of the run, ``call_tree`` (the aggregated dynamic call tree), ``tree`` (the static
    call-site tree), ``sources`` (generated code per function).
    """

    def __init__(self, *, root, argnums, placement, sites, tree, call_tree, primal_time,
                 adjoint_time, peak_bytes, tape_traffic_bytes, heap_peak_bytes=None,
                 rss_peak_bytes=None, sources=None, repeat=1, clock="wall", unattributed_time=None,
                 value=None, grad=None,
                 program=None, function=None, args=None, options=None):
        self.root = root
        self.argnums = argnums
        self.placement = dict(placement)
        self.tree = tree
        self.call_tree = aggregate(call_tree)
        self.primal_time = float(primal_time)
        self.adjoint_time = float(adjoint_time)
        self.peak_bytes = int(peak_bytes)
        self.tape_traffic_bytes = int(tape_traffic_bytes)
        self.heap_peak_bytes = heap_peak_bytes
        self.rss_peak_bytes = rss_peak_bytes
        self.sources = sources or {}
        self.repeat = repeat
        self.clock = clock
        self.value = value
        self.grad = grad
        self._program = program
        self._function = function
        self._args = args
        self._options = options or {}
        self._loaded = None             # "JSON" for a profile read by from_json / from_dict
        self._model = CostModel(self.call_tree)
        self._defaults = {s.id: bool(s.default_checkpointed) for s in sites}
        # Time the engine spends outside every probe bracket (argument handling, the root's
        # setup): the same for every placement, so predictions add it back.
        if unattributed_time is None:
            unattributed_time = self.adjoint_time - self._model.predict(self.placement).time
        self.unattributed_time = float(unattributed_time)
        self.sites = self._site_records(sites)
        self.budget_bytes = self._model.predict({s: True for s in self._defaults}).peak_bytes
        self._suggestions = {}
        self._pareto = None

    # -- whole run ---------------------------------------------------------------------------

    @property
    def ratio(self):
        return self.adjoint_time / self.primal_time if self.primal_time > 0 else math.inf

    def site(self, site_id):
        """The `SiteRecord` of one call site."""
        for record in self.sites:
            if record.id == site_id:
                return record
        raise KeyError(f"no call site {site_id!r}; the sites are: {', '.join(self._defaults)}")

    def _site_records(self, sites):
        figures = self._model.site_figures(self.placement)
        records = []
        for static in sites:
            record = SiteRecord(id=static.id, caller=static.caller, callee=static.callee,
                                lineno=static.lineno,
                                default_checkpointed=bool(static.default_checkpointed),
                                checkpointed=bool(self.placement.get(static.id, True)))
            fig = figures.get(static.id)
            if fig is not None:
                for field in dataclasses.fields(SiteRecord):
                    if field.name not in ("id", "caller", "callee", "lineno",
                                          "default_checkpointed") and hasattr(fig, field.name):
                        setattr(record, field.name, getattr(fig, field.name))
            records.append(record)
        return records

    # -- placements ----------------------------------------------------------------------------

    def full_placement(self, placement=None):
        """``placement`` completed with each site's default; unknown ids raise ValueError."""
        placement = parse_placement(placement) or {}
        unknown = sorted(set(placement) - set(self._defaults))
        if unknown:
            raise ValueError(f"unknown call site(s) {', '.join(map(repr, unknown))}; "
                             f"the sites of {self.root} are: {', '.join(self._defaults) or '(none)'}")
        full = dict(self._defaults)
        full.update({k: bool(v) for k, v in placement.items()})
        return full

    def predict(self, placement=None):
        """Predicted adjoint time and peak stack bytes of ``placement``, without running it."""
        p = self._model.predict(self.full_placement(placement))
        return Prediction(time=p.time + self.unattributed_time, peak_bytes=p.peak_bytes)

    def suggest(self, budget=None, method="auto"):
        """The advisor's placement under ``budget`` (bytes or "200MB"; default `budget_bytes`)."""
        from nbadjoint.profiling import advisor

        budget = self.budget_bytes if budget is None else parse_budget(budget)
        key = (budget, method)
        if key not in self._suggestions:
            found = advisor.suggest(self._model, sites=list(self._defaults),
                                    run_placement=self.placement, budget=budget, method=method)
            self._suggestions[key] = self._shift(found)
        return self._suggestions[key]

    def pareto(self):
        """The time / peak-memory Pareto front: `ParetoPoint`s by increasing peak (fastest last)."""
        from nbadjoint.profiling import advisor

        if self._pareto is None:
            front = advisor.pareto(self._model, sites=list(self._defaults),
                                   run_placement=self.placement)
            self._pareto = [self._shift(ParetoPoint(t, int(peak), placement))
                            for t, peak, placement in front]
        return self._pareto

    def _shift(self, found):
        """Add the unattributed engine time to an advisor result (a frozen or plain dataclass)."""
        full = self.full_placement({k: v for k, v in found.placement.items() if k in self._defaults})
        return dataclasses.replace(found, time=found.time + self.unattributed_time, placement=full)

    # -- measuring again -------------------------------------------------------------------------

    def rerun(self, placement=None, **options):
        """Profile again under ``placement`` (missing sites take their default); a new Profile.

        A profile made by `profile` compiles its function again (``compile_tree``: the cached
        program while no code changed, a new one when the function or a callee was redefined
        or edited), so a rerun measures the code as it is now.
        """
        full = self.full_placement(placement)
        kwargs = dict(self._options)
        kwargs.update(options)
        _check_options(kwargs)
        recompile = self._options.get("recompile")
        program = recompile() if recompile is not None else self._current_program("rerun it")
        if set(program.placement()) != set(full):
            full = program.placement({k: v for k, v in full.items() if k in program.placement()})
        return measure(program, self._function, self._args, argnums=self.argnums,
                       placement=full, **kwargs)

    def line_profile(self, site_or_function):
        """line_profiler's report of the generated forward and backward sweeps of one function.

        ``site_or_function`` is a function of the call tree (the function itself or its name) or a
        call-site id (its callee).
        """
        from nbadjoint.profiling.lineprof import line_profile

        program = self._current_program("drill down to lines")
        name = site_or_function
        if isinstance(name, str) and name in self._defaults:
            name = _split_site_id(name)[2]
        elif isinstance(name, str) and name == ROOT_SITE:
            name = self.root
        return line_profile(program, name, self._args, self.argnums, self.placement)

    def _current_program(self, purpose):
        """The compiled program to run: the one profiled, or (in an unpickled Profile) its
        function compiled again."""
        if self._program is not None:
            return self._program
        self._restore_function(purpose)
        from nbadjoint.transform.program import compile_tree

        function, argnums = self._function, self.argnums
        self._program = compile_tree(function, argnums)
        self._options["recompile"] = lambda: compile_tree(function, argnums)
        return self._program

    def _restore_function(self, purpose):
        """The function and arguments of an unpickled Profile, imported again; a ProfileError
        saying what to do when there are none."""
        if self._function is not None:
            return
        state = self.__dict__.get("_pickled_run")
        if state is None:
            raise ProfileError(
                f"this Profile has no function to run (it was loaded from JSON, which keeps the "
                f"measurements only); to {purpose}, call nba.profile(f, *args, placement=...) with "
                f"the function")
        blob, problem = state
        if blob is not None:
            try:
                self._function, self._args = pickle.loads(blob)
                return
            except Exception as exc:                # the function cannot be imported here
                problem = f"{self.root}() cannot be imported here: {type(exc).__name__}: {exc}"
        raise ProfileError(
            f"this Profile was unpickled without its function ({problem}); to {purpose}, call "
            f"nba.profile(f, *args, placement=...) with the function (define it in a module to "
            f"rerun unpickled profiles)")

    # -- pickling ------------------------------------------------------------------------------

    def __getstate__(self):
        """The measurements, the value and the gradient; the compiled program and the progress
        callback are left out (as `to_json` leaves them out), the function and its arguments are
        kept pickled by reference, so that `rerun` of the unpickled Profile compiles the function
        again where it can be imported."""
        state = dict(self.__dict__)
        state["_program"] = None
        state["_options"] = {k: v for k, v in self._options.items()
                             if k not in ("progress", "recompile")}
        if self._function is not None:
            try:
                blob, problem = pickle.dumps((self._function, self._args)), None
            except Exception as exc:                # a local function, a lambda, an open file...
                blob, problem = None, f"{type(exc).__name__}: {exc}"
            state["_pickled_run"] = (blob, problem)
        state["_function"] = state["_args"] = None
        return state

    # -- output --------------------------------------------------------------------------------

    def report(self, budget=None, method="auto"):
        """A terminal-readable call-tree table with the advisor's suggestion."""
        from nbadjoint.profiling.report import text_report

        return text_report(self, budget=budget, method=method)

    def __str__(self):
        return self.report()

    def __repr__(self):
        stored = "" if self._loaded is None else \
            f", value and gradient not stored (loaded from {self._loaded})"
        return (f"<Profile of {self.root}: adjoint {self.adjoint_time:.4g} s, "
                f"ratio {self.ratio:.3g}, peak {self.peak_bytes} B, {len(self.sites)} call sites"
                f"{stored}>")

    def _repr_html_(self):
        from nbadjoint.profiling.report import html_report

        return html_report(self)

    def widget(self, **kwargs):
        """The interactive call-tree widget for notebooks."""
        from nbadjoint.notebook.widget import CallTreeWidget

        return CallTreeWidget(self, **kwargs)

    def to_dict(self, budget=None, method="auto", advice=True):
        """The profile as plain data (see the schema in the docs); the suggestion is the
        advisor's for ``budget`` and ``method``.  ``advice=False`` leaves out the suggestion and
        the Pareto front (None), the slow parts on trees with hundreds of call sites."""
        if not advice:
            suggestion = None
        else:
            try:
                suggestion = _suggestion_dict(self.suggest(budget=budget, method=method))
            except ValueError as exc:       # nothing fits the budget
                suggestion = {"placement": dict(self.placement), "time": None, "peak_bytes": None,
                              "method": method, "ranking": [], "error": str(exc)}
        return {
            "version": SCHEMA_VERSION,
            "root": self.root,
            "argnums": list(self.argnums) if isinstance(self.argnums, (tuple, list))
            else [self.argnums],
            "placement": dict(self.placement),
            "budget_bytes": int(self.budget_bytes),
            "primal_time": self.primal_time,
            "adjoint_time": self.adjoint_time,
            "ratio": _finite(self.ratio),
            "unattributed_time": self.unattributed_time,
            "repeat": self.repeat,
            "clock": self.clock,
            "peak_bytes": self.peak_bytes,
            "tape_traffic_bytes": self.tape_traffic_bytes,
            "heap_peak_bytes": self.heap_peak_bytes,
            "rss_peak_bytes": self.rss_peak_bytes,
            "sites": [dataclasses.asdict(s) for s in self.sites],
            "tree": self.tree,
            "call_tree": self.call_tree.to_dict(),
            "suggestion": suggestion,
            "pareto": [{"time": p.time, "peak_bytes": int(p.peak_bytes),
                        "placement": dict(p.placement)} for p in self.pareto()] if advice else None,
            "sources": self.sources,
        }

    def to_json(self, path=None, indent=1, budget=None, method="auto"):
        """The profile as JSON text; written to ``path`` too when given."""
        text = json.dumps(self.to_dict(budget=budget, method=method), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
        return text

    @classmethod
    def from_dict(cls, data, source=None):
        """Read `to_dict`'s output.  A missing or malformed field raises ProfileError naming it
        (and ``source``, the file or text it came from, when given)."""
        read = _Reader(data, source)
        profile = cls._from_reader(read)
        profile._loaded = "JSON"
        return profile

    @classmethod
    def _from_reader(cls, read):
        version = read.field("version", int)
        if version != SCHEMA_VERSION:
            raise read.error("version", f"format version {version!r} is not supported (this "
                                        f"nbadjoint reads version {SCHEMA_VERSION})")
        argnums = read.field("argnums", list)
        if not argnums or not all(isinstance(a, int) and not isinstance(a, bool) for a in argnums):
            raise read.error("argnums", f"expected a list of ints, got {argnums!r}")
        placement = read.field("placement", dict)
        try:
            placement = parse_placement(placement)
        except (TypeError, ValueError) as exc:
            raise read.error("placement", str(exc)) from None
        sites = [read.site(i, entry) for i, entry in enumerate(read.field("sites", list))]
        call_tree = read.parsed("call_tree", dict, tree_from_dict)
        numbers_ = {name: read.field(name, numbers.Real)
                    for name in ("primal_time", "adjoint_time", "peak_bytes", "tape_traffic_bytes")}
        optional = {name: read.field(name, kind, optional=True) for name, kind in (
            ("heap_peak_bytes", numbers.Real), ("rss_peak_bytes", numbers.Real),
            ("unattributed_time", numbers.Real), ("sources", dict), ("repeat", int),
            ("clock", str))}
        return read.parsed("call_tree", dict, lambda _: cls(
            root=read.field("root", str), argnums=argnums[0] if len(argnums) == 1 else tuple(argnums),
            placement=placement, sites=sites, tree=read.field("tree", dict), call_tree=call_tree,
            heap_peak_bytes=optional["heap_peak_bytes"], rss_peak_bytes=optional["rss_peak_bytes"],
            sources=optional["sources"], repeat=optional["repeat"] or 1,
            clock=optional["clock"] or "wall", unattributed_time=optional["unattributed_time"],
            **numbers_))

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


class _Reader:
    """Field access for `Profile.from_dict` that turns every defect into one ProfileError."""

    def __init__(self, data, source):
        self.data = data
        self.source = source or "profile data"
        if not isinstance(data, dict):
            raise ProfileError(f"the {self.source} is not an nbadjoint profile: expected a JSON "
                               f"object, got {type(data).__name__}")

    def error(self, field, problem):
        return ProfileError(f"the {self.source} is damaged or not an nbadjoint profile: "
                            f"field {field!r}: {problem}")

    def field(self, name, kind, optional=False):
        if name not in self.data or (optional and self.data[name] is None):
            if optional:
                return None
            raise self.error(name, "missing")
        value = self.data[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            expected = {int: "an int", str: "a string", dict: "an object", list: "a list"}.get(
                kind, "a number")
            raise self.error(name, f"expected {expected}, got {value!r:.60}")
        return value

    def parsed(self, name, kind, parse):
        value = self.field(name, kind)
        try:
            return parse(value)
        except ProfileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise self.error(name, f"{type(exc).__name__}: {exc}") from None

    def site(self, index, entry):
        name = f"sites[{index}]"
        if not isinstance(entry, dict):
            raise self.error(name, f"expected an object, got {entry!r:.60}")
        for key, kind in (("id", str), ("caller", str), ("callee", str), ("lineno", int)):
            if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
                raise self.error(f"{name}.{key}", f"expected {'an int' if kind is int else 'a string'}"
                                                  f", got {entry.get(key)!r:.60}")
        for field in dataclasses.fields(SiteRecord):
            value = entry.get(field.name)
            if field.name in entry and field.type in ("int", "float") and (
                    isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise self.error(f"{name}.{field.name}", f"expected a number, got {value!r:.60}")
        return SiteRecord.from_dict(entry)


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
    placement = parse_placement(placement)
    _check_options({"repeat": repeat, "warmup": warmup, "clock": clock, "progress": progress})
    say = progress or (lambda message: None)
    say("compiling...")
    program = compile_tree(f, argnums)
    check_argument_types(program.bound_args + args, program.bound_kwargs, program.root_name)
    try:
        program.placement(placement)
    except ValueError as exc:                   # a call site the program does not have
        raise ProfileError(str(exc)) from None
    return measure(program, f, args, argnums=argnums, placement=placement, repeat=repeat,
                   warmup=warmup, heap=heap, rss=rss, progress=progress, clock=clock,
                   recompile=lambda: compile_tree(f, argnums))


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
    full = program.placement(parse_placement(placement))

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

    primal_runs = []
    for i in range(repeat):
        say("primal run..." if repeat == 1 else f"primal run {i + 1}/{repeat}...")
        rec, inputs = Recorder(), _fresh(args)
        wall, cpu = time.perf_counter(), time.process_time()
        program.run_primal(inputs, recorder=rec)
        primal_runs.append((time.perf_counter() - wall, time.process_time() - cpu, rec))

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
    primal_time = _median([run[pick] for run in primal_runs])
    adjoint_time = _median([run[pick] for run in adjoint_runs])
    unattributed = _median(outside)
    _scale_times(tree, (adjoint_time - unattributed) / (_bracketed_time(tree, full) or 1.0))

    heap_peak = None
    if heap:
        say("heap run (tracemalloc)...")
        heap_peak = _heap_peak(program, _fresh(args), argnums, full)
    rss_peak = _rss_peak() if rss else None

    return Profile(
        root=program.root_name, argnums=argnums, placement=full,
        sites=[_StaticSite.of(s) for s in program.sites], tree=_static_tree(program),
        call_tree=tree, primal_time=primal_time, adjoint_time=adjoint_time,
        peak_bytes=adjoint_rec.peak_bytes, tape_traffic_bytes=adjoint_rec.tape_traffic_bytes,
        heap_peak_bytes=heap_peak, rss_peak_bytes=rss_peak, sources=_sources(program),
        repeat=repeat, unattributed_time=unattributed, value=value, grad=grad,
        program=program, function=f, args=args,
        clock=clock,
        options={"repeat": repeat, "warmup": warmup, "heap": heap, "rss": rss, "clock": clock,
                 "progress": progress, "recompile": recompile})


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
