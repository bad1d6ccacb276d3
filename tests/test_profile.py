"""Profile: measuring, predicting, advising, reporting and serialising.

The first part drives `measure` with the hand-written program of test_recorder behind the
engine's program interface, so every byte figure is known in advance.  The second part
(test_real_*) profiles models through the compiler.
"""

import dataclasses
import json
import random
import time

import numpy as np
import pytest

import test_recorder as fake
from nbadjoint.profiling.advisor import Suggestion
from nbadjoint.profiling.profile import Profile, ProfileError, SiteRecord, measure
from nbadjoint.profiling.recorder import Recorder

N = fake.N


@dataclasses.dataclass
class Site:
    id: str
    caller: str
    callee: str
    lineno: int
    default_checkpointed: bool = True
    filename: str = "fake.py"


class FakeProgram:
    """The engine's program interface over the hand-written fake program."""

    root_name = "model"
    function_names = ["model", "mid", "leaf", "scale"]

    def __init__(self, defaults=None):
        defaults = defaults or {}
        self.sites = [Site(s, *s.split(":")[0:1], s.split(":")[2], int(s.split(":")[1]),
                           defaults.get(s, True)) for s in fake.SITES]
        leaf = lambda site: {"id": site, "callee": "leaf", "children": []}  # noqa: E731
        self.site_tree = {"id": "<root>", "callee": "model", "children": [
            {"id": "model:3:mid", "callee": "mid",
             "children": [leaf("mid:2:leaf"), leaf("mid:4:leaf")]},
            {"id": "model:6:scale", "callee": "scale", "children": [leaf("scale:2:leaf")]}]}

    def placement(self, placement=None):
        full = {s.id: s.default_checkpointed for s in self.sites}
        unknown = set(placement or {}) - set(full)
        if unknown:
            raise ValueError(f"unknown call sites {sorted(unknown)}")
        full.update(placement or {})
        return full

    def run_primal(self, args, kwargs=None, recorder=None):
        c = fake.Ctx({}, recorder)
        if recorder is not None:
            recorder.attach(c.tape)
            recorder.enter("<root>", "P")
        value = fake.model_primal(c, args[0].copy(), *args[1:])
        if recorder is not None:
            recorder.leave("<root>", "P")
        return value

    def run_adjoint(self, args, argnums=0, placement=None, recorder=None, kwargs=None):
        c = fake.Ctx(self.placement(placement), recorder)
        x = args[0].copy()
        if recorder is not None:
            recorder.attach(c.tape)
            recorder.enter("<root>", "F")
        value = fake.model_fwd(c, x, *args[1:])
        if recorder is not None:
            recorder.leave("<root>", "F")
            recorder.enter("<root>", "B")
        g = fake.model_bwd(c, 1.0, x, *args[1:])
        if recorder is not None:
            recorder.leave("<root>", "B")
        assert not c.tape
        return value, g

    def fwd_function(self, name):
        return fake.FWD[name] if name != "model" else fake.model_fwd

    def bwd_function(self, name):
        return fake.BWD[name] if name != "model" else fake.model_bwd


def model(x, n):
    """The function the fake program stands for (only needed to rerun)."""


def args():
    return (fake.x0(), fake.STEPS)


def fake_profile(placement=None, **options):
    options.setdefault("warmup", 0)
    return measure(FakeProgram(), model, args(), placement=placement, **options)


@pytest.fixture(scope="module")
def prof():
    return fake_profile()


@pytest.fixture
def slow_leaf(monkeypatch):
    """Make leaf calls dominate the run time (sleep), so time predictions are stable."""
    def leaf_primal(c, x):
        time.sleep(0.002)
        t = np.sin(x)
        return t * t

    def leaf_fwd(c, x):
        time.sleep(0.002)
        t = np.sin(x)
        c.tape.append(t)
        return t * t

    monkeypatch.setitem(fake.PRIMAL, "leaf", leaf_primal)
    monkeypatch.setitem(fake.FWD, "leaf", leaf_fwd)


# -- the measured run -----------------------------------------------------------------------------

def test_profile_measures_the_exact_peak_of_the_run(prof):
    assert prof.peak_bytes == 40 * N + 16


def test_profile_keeps_value_and_gradient_of_the_run(prof):
    _, value, g = fake.run_adjoint(fake.ALL_CK, probed=False)
    assert prof.value == value
    assert np.array_equal(prof.grad, g)


def test_profile_placement_is_the_full_placement_as_run():
    p = fake_profile({"model:3:mid": False})
    assert p.placement == {**fake.ALL_CK, "model:3:mid": False}


def test_site_records_count_calls_per_static_site(prof):
    calls = {s.id: s.calls for s in prof.sites}
    assert calls == {"mid:2:leaf": 3, "mid:4:leaf": 3, "model:3:mid": 3, "model:6:scale": 1,
                     "scale:2:leaf": 1}
    assert all(isinstance(s, SiteRecord) for s in prof.sites)


def test_site_records_hold_snapshot_and_tape_bytes(prof):
    scale = prof.site("model:6:scale")
    assert scale.snapshot_bytes == 8 * N
    assert scale.tape_bytes == 8 * N            # its own push; its checkpointed leaf: no snapshot
    assert prof.site("model:3:mid").tape_bytes == 3 * (N + 16 * N + 8)


def test_split_site_costs_peak_when_its_tape_outlives_it(prof):
    assert prof.site("model:3:mid").delta_pk > 0
    assert all(s.delta_t >= 0 for s in prof.sites)


def test_tape_traffic_is_every_pushed_byte_including_recomputations(prof):
    # all checkpointed: the root's forward sweep (with the scale snapshot), then one
    # recomputation per call: 3 mid (17N + 8 each), 7 leaf (8N each), 1 scale (8N)
    assert prof.tape_traffic_bytes == 40 * N + 16 + 3 * (17 * N + 8) + 7 * 8 * N + 8 * N


def test_ratio_is_adjoint_over_primal_time(prof):
    assert prof.ratio == pytest.approx(prof.adjoint_time / prof.primal_time)


def test_progress_reports_each_run():
    lines = []
    fake_profile(repeat=2, warmup=1, progress=lines.append)
    assert lines == ["warm-up run 1/1...", "primal run 1/2...", "primal run 2/2...",
                     "adjoint run 1/2...", "adjoint run 2/2..."]


def test_heap_and_rss_peaks_are_measured_when_asked():
    p = fake_profile(heap=True, rss=True)
    assert p.heap_peak_bytes > 0 and p.rss_peak_bytes > 0


def test_heap_and_rss_peaks_are_off_by_default(prof):
    assert prof.heap_peak_bytes is None and prof.rss_peak_bytes is None


# -- prediction -----------------------------------------------------------------------------------

def test_prediction_of_the_placement_as_run_is_the_measurement(prof):
    pred = prof.predict(prof.placement)
    assert pred.peak_bytes == prof.peak_bytes
    assert pred.time == pytest.approx(prof.adjoint_time, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_predicted_peak_equals_the_measured_peak_of_a_random_placement(prof, seed):
    rng = random.Random(seed)
    placement = {s: rng.random() < 0.5 for s in fake.SITES}
    assert prof.predict(placement).peak_bytes == fake_profile(placement).peak_bytes


def test_predict_fills_missing_sites_with_their_defaults():
    program = FakeProgram(defaults={"mid:4:leaf": False})
    p = measure(program, model, args(), warmup=0)
    assert p.predict({}) == p.predict({**fake.ALL_CK, "mid:4:leaf": False})


def test_predict_rejects_unknown_sites(prof):
    with pytest.raises(ValueError, match="unknown call site.*'nope:1:f'"):
        prof.predict({"nope:1:f": True})


def test_predicted_time_is_within_15_percent_of_the_measured_time(slow_leaf):
    base = fake_profile(repeat=3)
    for placement in (fake.ALL_SPLIT, {**fake.ALL_CK, "model:3:mid": False}):
        measured = fake_profile(placement, repeat=3)
        assert base.predict(placement).time == pytest.approx(measured.adjoint_time, rel=0.15)


# -- advice ---------------------------------------------------------------------------------------

def test_suggestion_fits_the_default_budget_of_the_all_checkpointed_peak(prof):
    s = prof.suggest()
    assert isinstance(s, Suggestion)
    assert prof.budget_bytes == 40 * N + 16
    assert s.peak_bytes <= prof.budget_bytes
    assert s.method == "optimal"
    assert s.time <= prof.adjoint_time + 1e-12


def test_suggestion_accepts_a_budget_string(prof):
    s = prof.suggest(budget="1MB", method="greedy")
    assert s.placement == fake.ALL_SPLIT or s.peak_bytes <= 10**6


def test_suggested_placement_is_measured_as_predicted(prof):
    s = prof.suggest()
    assert fake_profile(s.placement).peak_bytes == s.peak_bytes


def test_pareto_front_runs_from_least_memory_to_fastest(prof):
    front = prof.pareto()
    peaks = [p.peak_bytes for p in front]
    times = [p.time for p in front]
    assert peaks == sorted(peaks) and times == sorted(times, reverse=True)
    assert front[-1].peak_bytes == fake_profile(front[-1].placement).peak_bytes


# -- rerun ---------------------------------------------------------------------------------------

def test_rerun_returns_a_new_measured_profile(prof):
    again = prof.rerun({"model:3:mid": False})
    assert again is not prof
    assert again.placement["model:3:mid"] is False
    assert again.peak_bytes == prof.predict({"model:3:mid": False}).peak_bytes


def test_rerun_of_a_profile_loaded_from_json_says_what_to_do(prof):
    loaded = Profile.from_json(prof.to_json())
    with pytest.raises(ProfileError, match="nba.profile"):
        loaded.rerun({})


# -- JSON ---------------------------------------------------------------------------------------

def test_json_round_trip_keeps_the_profile(prof):
    data = prof.to_dict()
    loaded = Profile.from_json(prof.to_json())
    assert loaded.to_dict() == json.loads(json.dumps(data))


def test_profile_loaded_from_json_still_predicts_and_suggests(prof):
    loaded = Profile.from_json(prof.to_json())
    placement = {**fake.ALL_CK, "model:3:mid": False}
    assert loaded.predict(placement) == prof.predict(placement)
    assert loaded.suggest().placement == prof.suggest().placement


def test_to_dict_follows_the_schema(prof):
    d = prof.to_dict()
    assert {"version", "root", "argnums", "placement", "budget_bytes", "primal_time",
            "adjoint_time", "ratio", "peak_bytes", "tape_traffic_bytes", "heap_peak_bytes",
            "rss_peak_bytes", "sites", "tree", "suggestion", "pareto", "sources"} <= set(d)
    site_keys = {"id", "caller", "callee", "lineno", "calls", "checkpointed", "t_primal",
                 "t_snapshot", "t_fwd_incl", "t_fwd_excl", "t_bwd_incl", "t_bwd_excl",
                 "snapshot_bytes", "tape_bytes", "snp", "pk", "tn", "delta_t", "delta_pk"}
    assert all(site_keys <= set(s) for s in d["sites"])
    assert d["tree"]["id"] == "<root>" and d["tree"]["callee"] == "model"
    assert [c["id"] for c in d["tree"]["children"]] == ["model:3:mid", "model:6:scale"]
    assert {"placement", "time", "peak_bytes", "method", "ranking"} <= set(d["suggestion"])
    assert {"id", "checkpoint", "delta_t", "delta_pk", "reason"} <= set(d["suggestion"]["ranking"][0])
    assert set(d["sources"]) == {"model", "mid", "leaf", "scale"}
    assert "def leaf_fwd" in d["sources"]["leaf"]["fwd"]
    json.dumps(d, allow_nan=False)


# -- reports ---------------------------------------------------------------------------------------

def test_report_is_a_call_tree_table_indented_by_depth(prof):
    text = prof.report()
    lines = text.splitlines()
    assert lines[0].startswith("nbadjoint profile of model")
    rows = [line for line in lines if ":" in line and line.lstrip().split()[0].count(":") == 2]
    firsts = [line.split()[0] for line in rows]
    assert firsts == ["model:3:mid", "mid:2:leaf", "mid:4:leaf", "model:6:scale", "scale:2:leaf"]
    indent = {line.split()[0]: len(line) - len(line.lstrip()) for line in rows}
    assert indent["model:3:mid"] == 2 and indent["mid:2:leaf"] == 4


def test_report_header_has_the_run_figures_and_the_advice(prof):
    text = str(prof)
    for word in ("primal", "adjoint", "ratio", "peak", "budget", "advisor (optimal)", "predicted"):
        assert word in text


def test_report_marks_the_sites_the_advisor_changes(prof):
    changed = [s for s, v in prof.suggest().placement.items() if v != prof.placement[s]]
    marked = [line.split()[0] for line in prof.report().splitlines() if "* split" in line
              or "* checkpoint" in line]
    assert sorted(marked) == sorted(changed)


def test_html_report_escapes_names(prof):
    data = prof.to_dict()
    data["root"] = "<lambda>"
    page = Profile.from_dict(data)._repr_html_()
    assert "&lt;lambda&gt;" in page and "<lambda>" not in page
    assert page.count("<tr>") == 1 + 1 + len(fake.SITES)


# -- line profile ---------------------------------------------------------------------------------

def test_line_profile_of_a_site_shows_the_callee_sweeps(prof):
    text = prof.line_profile("mid:2:leaf")
    assert "leaf_fwd" in text and "leaf_bwd" in text
    assert "c.tape.append(t)" in text


def test_line_profile_rejects_an_unknown_function(prof):
    with pytest.raises(ValueError, match="not a function of this call tree"):
        prof.line_profile("nothing")


def test_a_recorder_records_one_run_only():
    rec = Recorder()
    FakeProgram().run_primal(args(), recorder=rec)
    with pytest.raises(Exception, match="fresh Recorder per run"):
        FakeProgram().run_primal(args(), recorder=rec)
