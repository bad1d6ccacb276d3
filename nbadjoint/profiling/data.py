"""`ProfileData`: the measurements of one profiled adjoint run, exactly what a profile's JSON holds.

A `ProfileData` is frozen plain data: no compiled program, no function, no cost model, nothing
computed from it.  `to_dict` writes it (schema version `SCHEMA_VERSION`) and `from_dict` reads it
back equal; files of every version in `READABLE_VERSIONS` load.  What is computed from the data
(the cost model's predictions, the advisor's suggestion, the Pareto front) lives in `Profile`,
which holds a `ProfileData` as ``profile.data``.

Schema version 2 (written): ``version``, ``root``, ``argnums`` (an int, or a list for a tuple),
``placement`` (site id -> checkpointed, as run), ``budget_bytes`` (the peak of the
all-checkpointed placement), ``primal_time``, ``adjoint_time``, ``unattributed_time`` (s),
``repeat``, ``clock``, ``peak_bytes``, ``tape_traffic_bytes``, ``heap_peak_bytes``,
``rss_peak_bytes`` (null when not measured), ``sites`` (one object per call site, the fields of
`SiteRecord`), ``tree`` (the static call-site tree), ``call_tree`` (the aggregated dynamic call
tree) and ``sources`` (generated forward and backward sweep per function); optional, for
profiles of functions with time loops: ``loops`` (one object per loop, the fields of
`nbadjoint.profiling.loops.LoopRecord`) and ``loop_placement`` (loop id -> [ram, disk] snapshots
of the loops run by a schedule; absent loops kept every iteration).  `Profile.to_dict` adds two derived entries for readers
of the file, ``ratio`` and ``suggestion`` (the advisor's answer for the budget it was written
with); they are recomputed from the data, so reading ignores them.

Schema version 1 (nbadjoint before the data/session split) held the same measurements plus the
Pareto front; its per-site figures and budget are recomputed from its call tree when it is read,
as that version's reader did.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from dataclasses import dataclass

from nbadjoint.errors import ProfileError
from nbadjoint.profiling.calltree import tree_from_dict
from nbadjoint.profiling.units import parse_placement

SCHEMA_VERSION = 2
"""The version `ProfileData.to_dict` writes."""

READABLE_VERSIONS = (1, 2)
"""The versions `ProfileData.from_dict` reads."""

DERIVED_FIELDS = ("ratio", "suggestion", "pareto")
"""Entries a profile file may hold that are computed from the data: reading ignores them."""


@dataclass(frozen=True)
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


# the figures of a SiteRecord that the cost model computes (the others say where the site is)
STATIC_SITE_FIELDS = ("id", "caller", "callee", "lineno", "default_checkpointed")


def site_records(static_sites, model, placement):
    """`SiteRecord`s of ``static_sites`` (objects with the `STATIC_SITE_FIELDS`) with the cost
    model's figures under ``placement``."""
    figures = model.site_figures(placement)
    measured = [f.name for f in dataclasses.fields(SiteRecord) if f.name not in STATIC_SITE_FIELDS]
    records = []
    for static in static_sites:
        fields = {"id": static.id, "caller": static.caller, "callee": static.callee,
                  "lineno": int(static.lineno),
                  "default_checkpointed": bool(static.default_checkpointed),
                  "checkpointed": bool(placement.get(static.id, True))}
        fig = figures.get(static.id)
        if fig is not None:
            fields.update({name: getattr(fig, name) for name in measured if hasattr(fig, name)})
        records.append(SiteRecord(**fields))
    return tuple(records)


@dataclass(frozen=True)
class ProfileData:
    """The measurements of one profiled adjoint run: exactly what the profile's JSON holds.

    ``argnums`` is an int or a tuple of ints (as given to ``nba.profile``); ``sites`` a tuple of
    `SiteRecord`; ``tree`` the static call-site tree (``{"id", "callee", "children"}``);
    ``call_tree`` the aggregated dynamic call tree in its JSON form (`Profile.call_tree` is the
    parsed tree); ``sources`` maps each function to its generated ``{"fwd", "bwd"}`` code.
    Times are in seconds (medians of ``repeat`` runs, in the ``clock`` named), sizes in bytes.
    """
    root: str
    argnums: int | tuple
    placement: dict
    budget_bytes: int
    primal_time: float
    adjoint_time: float
    unattributed_time: float
    repeat: int
    clock: str
    peak_bytes: int
    tape_traffic_bytes: int
    heap_peak_bytes: int | None
    rss_peak_bytes: int | None
    sites: tuple
    tree: dict
    call_tree: dict
    sources: dict
    loops: tuple = ()               # `LoopRecord` per loop of the call tree (nbadjoint.profiling.loops)
    loop_placement: dict = dataclasses.field(default_factory=dict)   # loop id -> [ram, disk] as run

    __hash__ = None     # the fields hold dicts

    @property
    def ratio(self):
        """Adjoint time over primal time (infinite for a primal run of no measurable time)."""
        return self.adjoint_time / self.primal_time if self.primal_time > 0 else math.inf

    def to_dict(self):
        """The data as plain JSON-ready values (schema `SCHEMA_VERSION`); nothing is computed."""
        return {
            "version": SCHEMA_VERSION,
            "root": self.root,
            "argnums": list(self.argnums) if isinstance(self.argnums, (tuple, list))
            else self.argnums,
            "placement": dict(self.placement),
            "budget_bytes": self.budget_bytes,
            "primal_time": self.primal_time,
            "adjoint_time": self.adjoint_time,
            "unattributed_time": self.unattributed_time,
            "repeat": self.repeat,
            "clock": self.clock,
            "peak_bytes": self.peak_bytes,
            "tape_traffic_bytes": self.tape_traffic_bytes,
            "heap_peak_bytes": self.heap_peak_bytes,
            "rss_peak_bytes": self.rss_peak_bytes,
            "sites": [dataclasses.asdict(s) for s in self.sites],
            "tree": copy.deepcopy(self.tree),
            "call_tree": copy.deepcopy(self.call_tree),
            "sources": copy.deepcopy(self.sources),
            "loops": [r.to_dict() for r in self.loops],
            "loop_placement": {k: list(v) for k, v in self.loop_placement.items()},
        }

    @classmethod
    def from_dict(cls, data, source=None):
        """Read `to_dict`'s output (any of the `READABLE_VERSIONS`).  A missing or malformed field
        raises ProfileError naming it (and ``source``, the file or text it came from, when given)."""
        return read_profile_data(data, source)[0]


def read_profile_data(data, source=None):
    """(`ProfileData`, the parsed `AggregatedTree` of its call tree) of a profile dict."""
    read = _Reader(data, source)
    version = read.field("version", int)
    if version not in READABLE_VERSIONS:
        raise read.error("version", f"format version {version!r} is not supported (this "
                                    f"nbadjoint reads versions "
                                    f"{', '.join(map(str, READABLE_VERSIONS))})")
    argnums = read.data.get("argnums")
    if isinstance(argnums, int) and not isinstance(argnums, bool) and version >= 2:
        pass                                    # one position, given as an int
    elif not isinstance(argnums, list) or not argnums or \
            not all(isinstance(a, int) and not isinstance(a, bool) for a in argnums):
        raise read.error("argnums", f"expected {'an int or ' if version >= 2 else ''}a list of "
                                    f"ints, got {argnums!r}")
    elif version == 1 and len(argnums) == 1:
        argnums = argnums[0]                    # version 1 wrote an int as a list of one
    else:
        argnums = tuple(argnums)
    placement = read.field("placement", dict)
    try:
        placement = parse_placement(placement)
    except (TypeError, ValueError) as exc:
        raise read.error("placement", str(exc)) from None
    sites = tuple(read.site(i, entry) for i, entry in enumerate(read.field("sites", list)))
    tree = read.parsed("call_tree", dict, tree_from_dict)
    root = read.field("root", str)
    static_tree = read.field("tree", dict)
    times = {name: float(read.field(name, numbers.Real)) for name in ("primal_time", "adjoint_time")}
    sizes = {name: int(read.field(name, numbers.Real))
             for name in ("peak_bytes", "tape_traffic_bytes")}
    optional_sizes = {name: _int_or_none(read.field(name, numbers.Real, optional=True))
                      for name in ("heap_peak_bytes", "rss_peak_bytes")}
    sources = read.field("sources", dict, optional=True) or {}
    repeat = read.field("repeat", int, optional=True) or 1
    clock = read.field("clock", str, optional=True) or "wall"
    unattributed = read.field("unattributed_time", numbers.Real, optional=version == 1)
    loops = read.parsed("loops", list, _read_loops) if read.data.get("loops") else ()
    loop_placement = read.parsed("loop_placement", dict, _read_loop_placement) \
        if read.data.get("loop_placement") else {}

    if version == 1:
        # version 1 kept the site figures and the budget as that nbadjoint's model computed them;
        # its reader recomputed them from the call tree, and so does this one
        from nbadjoint.profiling.model import CostModel

        model = read.parsed("call_tree", dict, lambda _: CostModel(tree))
        if unattributed is None:
            unattributed = times["adjoint_time"] - model.predict(placement).time
        sites = read.parsed("call_tree", dict, lambda _: site_records(sites, model, placement))
        budget = model.predict({s.id: True for s in sites}).peak_bytes
    else:
        budget = read.field("budget_bytes", numbers.Real)
        known = [s.id for s in sites]
        if set(placement) != set(known):
            raise read.error("placement", f"the placement must name every call site once: "
                                          f"{', '.join(known) or '(none)'}; it names "
                                          f"{', '.join(placement) or '(none)'}")
    profile_data = ProfileData(
        root=root, argnums=argnums,
        placement=placement, budget_bytes=int(budget), unattributed_time=float(unattributed),
        repeat=repeat, clock=clock, sites=sites, tree=copy.deepcopy(static_tree),
        call_tree=tree.to_dict(), sources=copy.deepcopy(sources), loops=loops,
        loop_placement=loop_placement, **times, **sizes, **optional_sizes)
    return profile_data, tree


def _read_loops(entries):
    from nbadjoint.profiling.loops import LoopRecord

    return tuple(LoopRecord.from_dict(e) for e in entries)


def _read_loop_placement(data):
    out = {}
    for k, v in data.items():
        ram, disk = (int(x) for x in v)
        out[str(k)] = (ram, disk)
    return out


def _int_or_none(value):
    return None if value is None else int(value)


class _Reader:
    """Field access for `read_profile_data` that turns every defect into one ProfileError."""

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


__all__ = ["ProfileData", "SiteRecord", "ProfileError", "SCHEMA_VERSION", "READABLE_VERSIONS",
           "read_profile_data", "site_records"]
