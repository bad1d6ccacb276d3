"""The call-tree widget's Python side, through its synced state.

The first tests use a small Profile stand-in with a transparent cost model (FakeProfile, following
the Profile schema), so each behaviour is checked against numbers that can be worked out by hand;
the last ones drive the widget with a real ``nba.profile``.
"""

import json

import numpy as np
import pytest

from call_tree_models import write_500_site_module
from nbadjoint.notebook.widget import HISTORY_LENGTH, ROOT_ID, CallTreeWidget, parse_budget

# --- a Profile stand-in ------------------------------------------------------------------------

SITES = {
    # id: (callee, calls, recompute time saved by splitting, tape bytes held when split, snapshot bytes)
    "model:4:step": ("step", 10, 0.030, 8000, 800),
    "step:2:inner": ("inner", 10, 0.010, 2000, 0),
    "model:6:<lambda>": ("<lambda>", 1, 0.001, 400, 1600),
}
BASE_TIME = 0.100
BASE_PEAK = 10_000


def _site_record(site_id, checkpointed, t_saved=0.0):
    callee, calls, delta_t, tape, snapshot = SITES[site_id]
    return {"id": site_id, "caller": site_id.split(":")[0], "callee": callee, "lineno": int(site_id.split(":")[1]),
            "calls": calls, "checkpointed": checkpointed, "t_primal": delta_t, "t_snapshot": 0.0,
            "t_fwd_incl": 2 * delta_t, "t_fwd_excl": delta_t, "t_bwd_incl": 3 * delta_t, "t_bwd_excl": delta_t,
            "snapshot_bytes": snapshot, "tape_bytes": tape, "snp": 0, "pk": tape, "tn": 0,
            "delta_t": delta_t, "delta_pk": tape - snapshot, "t_saved": t_saved}


SOURCES = {name: {"fwd": f"def {stem}_fwd(_c, x):\n    ...", "bwd": f"def {stem}_bwd(_c, _rv_b, x):\n    ..."}
           for name, stem in (("model", "model"), ("step", "step"), ("inner", "inner"), ("<lambda>", "_lambda"))}


class FakeData:
    """The data half of a FakeProfile (what `ProfileData` holds)."""

    def __init__(self, profile):
        self.profile = profile

    @property
    def ratio(self):
        return self.profile.adjoint_time / self.profile.primal_time

    def to_dict(self):
        p = self.profile
        return {
            "version": 2, "root": "model", "argnums": [0],
            "placement": {k: v for k, v in p.placement.items() if k not in p.without},
            "budget_bytes": BASE_PEAK, "primal_time": p.primal_time, "adjoint_time": p.adjoint_time,
            "unattributed_time": 0.0, "repeat": 1, "clock": "wall", "peak_bytes": p.peak_bytes,
            "tape_traffic_bytes": 20_000, "heap_peak_bytes": None, "rss_peak_bytes": None,
            "sites": [_site_record(s, p.placement[s], p.t_saved.get(SITES[s][0], 0.0)) for s in SITES
                      if s not in p.without],
            "tree": {"id": ROOT_ID, "callee": "model", "children": [
                {"id": "model:4:step", "callee": "step", "children": [
                    {"id": "step:2:inner", "callee": "inner", "children": []}]},
                {"id": "model:6:<lambda>", "callee": "<lambda>", "children": []}]},
            "call_tree": {"format": "nbadjoint.aggregated-call-tree", "version": 1, "root": 0, "nodes": []},
            "sources": p.sources,
        }


class FakePrediction:
    def __init__(self, time, peak_bytes):
        self.time, self.peak_bytes = time, peak_bytes


class FakeSuggestion(FakePrediction):
    def __init__(self, placement, time, peak_bytes, method, ranking):
        super().__init__(time, peak_bytes)
        self.placement, self.method, self.ranking = placement, method, ranking


class FakeProfile:
    """Time: BASE_TIME plus each checkpointed site's recomputation. Peak: BASE_PEAK plus, per split
    site, its tape minus its snapshot. A rerun measures the prediction plus 1 ms and 8 bytes."""

    fail_rerun = False
    sources = SOURCES
    session = "live"            # a Profile read from JSON has None

    def __init__(self, placement=None, offset=(0.0, 0)):
        self.placement = {site_id: True for site_id in SITES}
        self.placement.update(placement or {})
        predicted = self.predict(self.placement)
        self.adjoint_time = predicted.time + offset[0]
        self.peak_bytes = predicted.peak_bytes + offset[1]
        self.primal_time = 0.05
        self.line_profiles = []
        self.t_saved = {}       # callee -> recomputation time a free checkpoint saves
        self.without = set()    # call sites the data leaves out (as if the code was edited)

    @property
    def data(self):
        return FakeData(self)

    def predict(self, placement):
        full = {**{site_id: True for site_id in SITES}, **placement}
        time = BASE_TIME + sum(SITES[s][2] for s, ck in full.items() if ck)
        peak = BASE_PEAK + sum(SITES[s][3] - SITES[s][4] for s, ck in full.items() if not ck)
        return FakePrediction(round(time, 9), peak)

    def suggest(self, budget=None, method="auto"):
        budget = BASE_PEAK if budget is None else budget
        placement = {site_id: True for site_id in SITES}
        for site_id in sorted(SITES, key=lambda s: -SITES[s][2]):
            trial = {**placement, site_id: False}
            if self.predict(trial).peak_bytes <= budget:
                placement = trial
        predicted = self.predict(placement)
        ranking = [{"id": s, "checkpoint": placement[s], "delta_t": SITES[s][2], "delta_pk": SITES[s][3] - SITES[s][4],
                    "reason": "fits the budget" if not placement[s] else "would exceed the budget"} for s in SITES]
        return FakeSuggestion(placement, predicted.time, predicted.peak_bytes, f"greedy-{method}", ranking)

    def pareto(self):
        return [FakePrediction(0.141, 10_000)]

    def rerun(self, placement):
        if self.fail_rerun:
            raise FloatingPointError("overflow in step at line 3")
        return FakeProfile(placement, offset=(0.001, 8))

    def line_profile(self, name):
        self.line_profiles.append(name)
        return f"Line profile of {name}_bwd\nLine #  Hits  Time\n"

    def report(self, budget=None, method="auto"):
        return f"Adjoint profile of model (budget {budget}, method {method})"

    def _repr_html_(self):
        return "<table><tr><td>model</td></tr></table>"


@pytest.fixture
def widget():
    return CallTreeWidget(FakeProfile())


def send(widget, content):
    """Deliver a message as the front end would (anywidget: model.send(content))."""
    widget._handle_message(widget, content, [])


# --- budget parsing ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("200MB", 200_000_000), ("1.5 GB", 1_500_000_000), ("512KiB", 524_288), ("4096", 4096), (1e6, 1_000_000),
])
def test_parse_budget_reads_bytes_and_units(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text", ["lots", "200 parsecs", "-5MB", "0", True])
def test_parse_budget_rejects_what_it_cannot_read(text):
    with pytest.raises((ValueError, TypeError), match="budget"):     # TypeError: a value of the wrong type
        parse_budget(text)


# --- initial state -----------------------------------------------------------------------------

def test_initial_state_mirrors_the_profile(widget):
    assert widget.profile_data["root"] == "model"
    assert widget.placement == {"model:4:step": True, "step:2:inner": True, "model:6:<lambda>": True}
    assert widget.budget == BASE_PEAK
    assert widget.prediction == {"time": pytest.approx(0.141), "peak_bytes": BASE_PEAK}


def test_initial_history_holds_the_profiled_run(widget):
    (run,) = widget.history
    assert run["run"] == 1
    assert run["measured"] == {"time": widget.profile.adjoint_time, "peak_bytes": widget.profile.peak_bytes}
    assert run["predicted"] == widget.prediction


def test_synced_state_is_json_serialisable(widget):
    state = widget.get_state()
    for name in ("profile_data", "placement", "prediction", "suggestion", "history", "pareto"):
        json.dumps(state[name], allow_nan=False)


def test_initial_state_holds_no_function_code(widget):
    state = widget.get_state()
    assert "code" not in state and "sources" not in state["profile_data"]
    text = json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")})
    assert not any(json.dumps(code[sweep])[1:-1] in text for code in SOURCES.values() for sweep in ("fwd", "bwd"))
    assert "def model_fwd" not in text and "def model_bwd" not in text


def test_esm_and_css_are_the_package_files(widget):
    state = widget.get_state()
    assert "export default" in state["_esm"]
    assert ".nba-widget" in state["_css"]


# --- toggling and predicting -------------------------------------------------------------------

def test_toggling_a_checkpoint_updates_the_prediction_without_running(widget):
    profile = widget.profile
    widget.toggle("model:4:step")
    assert widget.placement["model:4:step"] is False
    assert widget.prediction == {"time": pytest.approx(0.111), "peak_bytes": BASE_PEAK + 7200}
    assert widget.profile is profile and len(widget.history) == 1


def test_placement_sent_by_the_front_end_updates_the_prediction(widget):
    placement = {**widget.placement, "step:2:inner": False}
    widget.set_state({"placement": placement})
    assert widget.prediction["time"] == pytest.approx(0.131)
    assert widget.prediction["peak_bytes"] == BASE_PEAK + 2000


def test_placement_set_from_python_fills_missing_sites_with_the_default(widget):
    widget.placement = {"model:6:<lambda>": False}
    assert widget.placement == {"model:4:step": True, "step:2:inner": True, "model:6:<lambda>": False}
    assert widget.prediction["peak_bytes"] == BASE_PEAK - 1200


def test_placement_with_an_unknown_site_is_refused_and_names_the_known_sites(widget):
    with pytest.raises(Exception, match="unknown call site.*model:4:stp.*model:4:step"):
        widget.placement = {"model:4:stp": False}
    assert widget.placement["model:4:step"] is True


# --- suggestions and budget --------------------------------------------------------------------

def test_apply_suggestions_sets_the_advisors_placement(widget):
    widget.budget = BASE_PEAK + 8000
    widget.apply_suggestions()
    assert widget.placement == widget.suggestion["placement"]
    assert widget.placement == {"model:4:step": False, "step:2:inner": True, "model:6:<lambda>": False}


def test_apply_message_from_the_front_end_sets_the_advisors_placement(widget):
    send(widget, {"type": "apply"})
    assert widget.placement == widget.suggestion["placement"]


def test_editing_the_budget_recomputes_the_suggestion(widget):
    tight = dict(widget.suggestion["placement"])
    send(widget, {"type": "budget", "text": "0.1MB"})
    assert widget.budget == 100_000
    assert widget.suggestion["budget_bytes"] == 100_000
    assert widget.suggestion["placement"] != tight
    assert not any(widget.suggestion["placement"].values())


def test_an_unreadable_budget_is_reported_in_the_widget(widget):
    send(widget, {"type": "budget", "text": "a lot"})
    assert "cannot read the budget 'a lot'" in widget.error
    assert widget.budget == BASE_PEAK


def test_each_bad_budget_replaces_the_last_complaint_and_names_the_budget_in_force(widget):
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="error")
    send(widget, {"type": "budget", "text": "abc"})
    send(widget, {"type": "budget", "text": "-5MB"})
    assert "'-5MB'" in widget.error and "'abc'" not in widget.error
    assert widget.error.endswith("the budget stays 10.0 kB.")
    # every answer reaches the front end, even one equal to the error already shown
    send(widget, {"type": "budget", "text": "-5MB"})
    assert seen[-2:] == ["", widget.error]
    send(widget, {"type": "budget", "text": "50MB"})
    assert widget.error == ""
    assert widget.budget == 50_000_000


def test_a_rerun_refused_by_nbadjoint_shows_its_message_without_the_class_name(widget, monkeypatch):
    from nbadjoint.errors import TransformError

    def refuse(placement):
        raise TransformError("`try` blocks are not supported (notebook cell, line 3, in step())")
    monkeypatch.setattr(widget.profile, "rerun", refuse)
    send(widget, {"type": "rerun"})
    assert widget.error == "Rerun failed: `try` blocks are not supported (notebook cell, line 3, in step())"


def test_no_suggestion_is_explained_in_plain_words(widget, monkeypatch):
    def refuse(budget=None, method="auto"):
        raise ValueError("no checkpoint placement keeps the predicted peak within the budget of 1.0 kB")
    monkeypatch.setattr(widget.profile, "suggest", refuse)
    widget.budget = 1000
    assert widget.error == ("No suggestion for a budget of 1.0 kB: no checkpoint placement keeps the "
                            "predicted peak within the budget of 1.0 kB")
    assert "ValueError" not in widget.error and "bytes" not in widget.error


# --- rerun -------------------------------------------------------------------------------------

def test_rerun_appends_measured_and_predicted_figures_to_the_history(widget):
    widget.toggle("model:4:step")
    predicted = dict(widget.prediction)
    measured = widget.rerun()
    assert len(widget.history) == 2
    last = widget.history[-1]
    assert last["placement"] == widget.placement
    assert last["predicted"] == predicted
    assert last["measured"] == {"time": pytest.approx(predicted["time"] + 0.001),
                                "peak_bytes": predicted["peak_bytes"] + 8}
    assert widget.profile is measured
    assert widget.profile_data["placement"]["model:4:step"] is False


def test_rerun_message_from_the_front_end_measures_the_current_placement(widget):
    send(widget, {"type": "rerun"})
    assert len(widget.history) == 2 and not widget.busy and widget.error == ""


def test_history_keeps_only_the_last_runs(widget):
    for _ in range(HISTORY_LENGTH + 3):
        widget.rerun()
    assert len(widget.history) == HISTORY_LENGTH
    assert [run["run"] for run in widget.history] == list(range(5, HISTORY_LENGTH + 5))


def test_rerun_error_is_shown_in_the_widget_and_raised_from_python(widget):
    widget.profile.fail_rerun = True
    with pytest.raises(FloatingPointError):
        widget.rerun()
    assert widget.error == "Rerun failed: FloatingPointError: overflow in step at line 3"
    assert not widget.busy and len(widget.history) == 1


def test_rerun_error_from_the_front_end_is_shown_not_swallowed(widget):
    widget.profile.fail_rerun = True
    send(widget, {"type": "rerun"})
    assert "overflow in step at line 3" in widget.error
    assert not widget.busy


def test_a_successful_rerun_clears_the_previous_error(widget):
    widget.profile.fail_rerun = True
    send(widget, {"type": "rerun"})
    widget.profile.fail_rerun = False
    send(widget, {"type": "rerun"})
    assert widget.error == ""


# --- code panel and line profile ---------------------------------------------------------------

def test_selecting_a_node_shows_its_generated_adjoint_code(widget):
    widget.set_state({"selected": "model:6:<lambda>"})
    assert widget.code["function"] == "<lambda>"
    assert widget.code["fwd"].startswith("def _lambda_fwd")
    assert widget.code["bwd"].startswith("def _lambda_bwd")


def sent_by(widget):
    """Record the messages Python sends to the front end (anywidget: model.on("msg:custom"))."""
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    return sent


def test_a_code_request_is_answered_with_the_selected_functions_code_only(widget):
    sent = sent_by(widget)
    widget.set_state({"selected": "model:6:<lambda>"})
    assert sent == []                       # selecting sends nothing: the front end asks
    send(widget, {"type": "code", "node": "model:6:<lambda>"})
    assert sent == [{"type": "code", "node": "model:6:<lambda>", "function": "<lambda>",
                     "fwd": SOURCES["<lambda>"]["fwd"], "bwd": SOURCES["<lambda>"]["bwd"]}]
    send(widget, {"type": "code"})          # no node: the selected one
    assert sent[-1]["function"] == "<lambda>"


def test_a_code_request_for_an_unknown_node_is_answered_without_code_and_shown(widget):
    sent = sent_by(widget)
    send(widget, {"type": "code", "node": "model:9:gone"})
    assert sent == [{"type": "code", "node": "model:9:gone", "function": None, "fwd": "", "bwd": ""}]
    assert widget.error.startswith("unknown node 'model:9:gone'")


def test_selecting_an_unknown_node_is_refused_and_names_the_nodes(widget):
    import traitlets

    with pytest.raises(traitlets.TraitError, match="unknown node 'nope'.*model:4:step"):
        widget.selected = "nope"
    with pytest.raises(ValueError, match="unknown node 'nope'"):
        widget.show_line_profile("nope")
    assert widget.selected == ROOT_ID


def test_a_profile_that_cannot_run_is_shown_without_a_rerun(widget):
    assert widget.live is True
    profile = FakeProfile()
    profile.session = None
    assert CallTreeWidget(profile).live is False


def test_a_rerun_of_edited_code_without_the_selected_call_site_selects_the_root(widget, monkeypatch):
    widget.selected = "model:6:<lambda>"
    edited = FakeProfile()
    edited.without = {"model:6:<lambda>"}
    monkeypatch.setattr(widget.profile, "rerun", lambda placement: edited)
    widget.rerun()
    assert widget.selected == ROOT_ID and widget.code["function"] == "model"
    assert widget.site_ids == ["model:4:step", "step:2:inner"]


def test_the_root_is_selected_first_and_shows_the_root_code(widget):
    assert widget.selected == ROOT_ID
    assert widget.code["function"] == "model"


def test_line_profile_request_fills_the_line_profile_of_the_selected_callee(widget):
    widget.selected = "model:4:step"
    send(widget, {"type": "line_profile"})
    assert widget.profile.line_profiles == ["step"]
    assert widget.line_profile.startswith("Line profile of step_bwd")


def test_the_line_profile_of_a_free_checkpoint_says_why_it_shows_no_time():
    profile = FakeProfile()
    profile.t_saved = {"inner": 0.01}
    w = CallTreeWidget(profile)
    assert w.show_line_profile("step:2:inner").startswith("Every call of inner was a free checkpoint")
    assert not w.show_line_profile("model:4:step").startswith("Every call")


def test_selecting_another_node_clears_the_line_profile(widget):
    widget.show_line_profile("model:4:step")
    widget.selected = "step:2:inner"
    assert widget.line_profile == ""


def test_mimebundle_offers_the_html_table_and_the_report_for_front_ends_without_widgets(widget):
    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/html"].startswith("<table>")
    assert data["text/plain"] == f"Adjoint profile of model (budget {BASE_PEAK}, method auto)"


def test_repr_names_the_root_and_counts_the_sites(widget):
    assert repr(widget) == "<CallTreeWidget of model: 3 call sites>"


def test_non_finite_numbers_are_sent_as_null():
    profile = FakeProfile()
    profile.adjoint_time = float("nan")
    profile.peak_bytes = np.int64(12)
    widget = CallTreeWidget(profile)
    assert widget.profile_data["adjoint_time"] is None
    assert widget.history[0]["measured"] == {"time": None, "peak_bytes": 12}


# --- large trees: the advice follows the first view --------------------------------------------

class LargeFakeProfile(FakeProfile):
    """FakeProfile that counts as a large tree (its sites beyond ADVICE_LATER_SITES, patched below)."""

    sites = list(SITES)
    suggest_calls = 0

    def suggest(self, budget=None, method="auto"):
        type(self).suggest_calls += 1
        return super().suggest(budget, method)

    def pareto(self):
        return [FakePrediction(0.141, 10_000), FakePrediction(0.131, 17_200)]


@pytest.fixture
def large(monkeypatch):
    from nbadjoint.notebook import widget as widget_module

    monkeypatch.setattr(widget_module, "ADVICE_LATER_SITES", 2)
    LargeFakeProfile.suggest_calls = 0
    return CallTreeWidget(LargeFakeProfile())


def test_a_large_tree_is_shown_before_the_advice_is_computed(large):
    assert large.advising is True
    assert large.suggestion == {} and large.pareto == []
    assert large.prediction["peak_bytes"] == BASE_PEAK
    assert "sources" not in large.profile_data and large.code["fwd"].startswith("def model_fwd")
    large._repr_mimebundle_()
    assert LargeFakeProfile.suggest_calls == 0


def test_the_front_ends_advise_request_fills_the_suggestion_and_the_front(large):
    send(large, {"type": "advise"})
    assert large.advising is False
    assert large.suggestion["placement"] == {"model:4:step": True, "step:2:inner": True, "model:6:<lambda>": False}
    assert large.pareto == [{"time": 0.141, "peak_bytes": 10_000}, {"time": 0.131, "peak_bytes": 17_200}]
    send(large, {"type": "advise"})  # a second view asks again: nothing is recomputed
    assert LargeFakeProfile.suggest_calls == 1


def test_apply_suggestions_on_a_large_tree_computes_the_advice_first(large):
    assert large.apply_suggestions()["model:6:<lambda>"] is False
    assert large.advising is False


def test_small_trees_get_the_advice_at_once(widget):
    assert widget.advising is False
    assert widget.suggestion["placement"]
    assert widget.pareto == [{"time": 0.141, "peak_bytes": 10_000}]


# --- with a real profile -----------------------------------------------------------------------

def inner(v):
    return np.cos(v) * v


def step(u, dt):
    w = inner(u)
    return u - dt * np.sin(w * u)


def model(u0, n):
    u = u0
    for i in range(n):
        u = step(u, 0.1)
    return np.sum(u)


STEP_SITE = f"model:{model.__code__.co_firstlineno + 3}:step"
INNER_SITE = f"step:{step.__code__.co_firstlineno + 1}:inner"


@pytest.fixture(scope="module")
def measured():
    import nbadjoint as nba

    return nba.profile(model, np.linspace(0.0, 1.0, 200), 6)


@pytest.fixture
def real(measured):
    return measured.widget()


def test_profile_widget_returns_a_synced_call_tree_widget(real, measured):
    assert isinstance(real, CallTreeWidget)
    assert real.profile is measured
    assert real.placement == {STEP_SITE: True, INNER_SITE: True}
    assert real.profile_data["tree"]["children"][0]["id"] == STEP_SITE


def test_real_toggle_predicts_the_exact_peak_of_the_new_placement(real, measured):
    before = dict(real.prediction)
    real.toggle(STEP_SITE)
    predicted = measured.predict({STEP_SITE: False})
    assert real.prediction == {"time": predicted.time, "peak_bytes": predicted.peak_bytes}
    assert real.prediction["peak_bytes"] > before["peak_bytes"]


def test_real_placement_set_from_python_matches_the_profiles_full_placement(real, measured):
    real.placement = {INNER_SITE: False}
    assert real.placement == measured.full_placement({INNER_SITE: False})


def test_real_apply_sets_the_suggested_placement(real):
    real.budget = 10**9
    real.apply_suggestions()
    assert real.placement == real.suggestion["placement"]
    assert not any(real.placement.values())  # with memory to spare, splitting everything is fastest


def test_real_rerun_records_predicted_and_measured_figures(real):
    real.toggle(INNER_SITE)
    predicted = dict(real.prediction)
    measured = real.rerun()
    assert len(real.history) == 2
    run = real.history[-1]
    assert run["predicted"] == predicted
    assert run["measured"] == {"time": measured.adjoint_time, "peak_bytes": measured.peak_bytes}
    assert run["measured"]["time"] > 0 and run["measured"]["peak_bytes"] > 0
    assert real.profile is measured and measured.placement[INNER_SITE] is False


def test_real_reruns_send_the_cost_models_checks_to_the_front_end(real, measured):
    assert real.profile_data["model_checks"] == []
    real.toggle(INNER_SITE)
    predicted = dict(real.prediction)
    real.rerun()
    (check,) = real.profile_data["model_checks"]
    assert check == {"predicted": predicted, "measured": real.history[-1]["measured"]}
    # a widget made from a rerun profile knows the checks of the reruns that led to it
    again = real.profile.rerun(measured.placement).widget()
    assert len(again.profile_data["model_checks"]) == 2 and len(again.history) == 1
    json.dumps(again.profile_data)


def test_real_code_and_line_profile_of_a_selected_site(real):
    sent = sent_by(real)
    real.selected = INNER_SITE
    assert real.code["function"] == "inner"
    assert "def inner_bwd" in real.code["bwd"]
    send(real, {"type": "code", "node": INNER_SITE})
    (answer,) = sent
    assert answer["function"] == "inner" and answer["bwd"] == real.code["bwd"]
    assert answer["fwd"] == real.profile.sources["inner"]["fwd"] and "def inner_fwd" in answer["fwd"]
    text = real.show_line_profile()
    assert "Function: inner_fwd: " in text and "Function: inner_bwd: " in text


def test_real_line_profile_is_narrow_and_names_the_sweeps_that_did_not_run(real):
    from nbadjoint.profiling.lineprof import HEADER, PREFIX_WIDTH

    text = real.show_line_profile(INNER_SITE)
    lines = text.splitlines()
    assert "Total time" not in text and "Timer unit" not in text and "File:" not in text
    # the general bodies run only where the shape guards fail: one line each, no empty table
    assert "Function: inner_fwd_general: not run (the specialised body's shape guards held on every call)" in lines
    assert lines.count(HEADER) == 2
    # every table row: fixed-width figures, then the generated line exactly as written
    sources = real.profile.sources["inner"]
    generated = {s.rstrip() for s in (sources["fwd"] + "\n" + sources["bwd"]).splitlines()}
    rows = [line for line in lines if line[:6].strip().isdigit()]
    assert rows and all(line[PREFIX_WIDTH:].rstrip() in generated for line in rows), \
        [line for line in rows if line[PREFIX_WIDTH:].rstrip() not in generated]
    assert any(line[PREFIX_WIDTH:].startswith("def inner_bwd(") for line in rows)
    timed = [line for line in rows if line[PREFIX_WIDTH - 2:PREFIX_WIDTH] == "  " and line[6:14].strip()]
    assert timed and all(line[13] != " " and line[14] == " " for line in timed), timed
    # the figures take PREFIX_WIDTH characters, where line_profiler's take 45
    assert max(len(line) - len(line[PREFIX_WIDTH:]) for line in rows) == PREFIX_WIDTH


def test_the_line_profile_of_sweeps_that_never_ran_is_one_line_each(tmp_path):
    from nbadjoint.profiling.lineprof import format_stats

    path = tmp_path / "gen.py"
    path.write_text("def f_fwd(_c, x):\n    y = x * 2\n    return y\n\ndef f_bwd(_c, b, x):\n    return (2 * b,)\n")
    text = format_stats("f", {(str(path), 1, "f_fwd"): [(2, 3, 1500.0), (3, 3, 500.0)],
                              (str(path), 5, "f_bwd"): []}, 1e-9)
    assert text.splitlines()[2:] == [
        "Function: f_fwd: 2.0 µs (generated line 1)",
        "  Line    Hits       Time  %Time  Code",
        "     1                            def f_fwd(_c, x):",
        "     2       3     1.5 µs   75.0      y = x * 2",
        "     3       3   500.0 ns   25.0      return y",
        "",
        "Function: f_bwd: not run (no call of it ran this sweep)",
    ]


def test_real_profile_read_from_json_shows_why_it_cannot_rerun(measured):
    from nbadjoint.profiling.profile import Profile, ProfileError

    w = Profile.from_json(measured.to_json()).widget()
    assert w.live is False
    assert w.profile_data == measured.widget().profile_data
    send(w, {"type": "rerun"})
    assert w.error.startswith("Rerun failed: this Profile was loaded from JSON")
    assert "nba.profile(model, *args, placement=profile.placement)" in w.error
    with pytest.raises(ProfileError, match="no live program to drill down to lines"):
        w.show_line_profile(STEP_SITE)


def test_real_rerun_measures_the_peak_the_toggle_predicted(real):
    real.toggle(STEP_SITE)
    predicted_peak = real.prediction["peak_bytes"]
    real.rerun()
    assert real.history[-1]["measured"]["peak_bytes"] == predicted_peak


# --- 500 call sites -----------------------------------------------------------------------------

def test_the_widget_of_500_call_sites_defers_its_advice_and_sends_a_small_state(tmp_path, monkeypatch):
    import importlib

    import nbadjoint as nba

    write_500_site_module(tmp_path / "big500.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    big = importlib.import_module("big500")
    prof = nba.profile(big.model, np.linspace(0.0, 1.0, 50))
    assert len(prof.sites) == 500
    w = prof.widget()
    w._repr_mimebundle_()
    assert w.advising and not w.suggestion
    assert len(json.dumps(w.get_state()["profile_data"])) < 400_000
    assert "code" not in w.get_state() and "def " not in json.dumps(w.get_state()["profile_data"])
    w.advise()
    assert w.suggestion["peak_bytes"] <= w.budget
    assert len(w.pareto) > 2


def test_the_widget_names_its_kernel_so_that_a_saved_view_knows_when_it_is_gone(widget, monkeypatch):
    import ipykernel.connect

    from nbadjoint.notebook import widget as module

    assert widget.kernel_id == ""               # not in a kernel: never taken for a saved view
    assert "kernel_id" in widget.keys
    monkeypatch.setattr(ipykernel.connect, "get_connection_file",
                        lambda: "/run/jupyter/kernel-0c6f2d2e-7d5e-4a8e-9d3b-1f2a3b4c5d6e.json")
    assert module._kernel_id() == "0c6f2d2e-7d5e-4a8e-9d3b-1f2a3b4c5d6e"
    assert CallTreeWidget(widget.profile).kernel_id == "0c6f2d2e-7d5e-4a8e-9d3b-1f2a3b4c5d6e"
    monkeypatch.setattr(ipykernel.connect, "get_connection_file", lambda: "/tmp/custom-name.json")
    assert module._kernel_id() == ""


class FrontFakeProfile(FakeProfile):
    """A profile whose front holds its placements: the all-checkpointed one and all split."""

    def pareto(self):
        ends = [{s: True for s in SITES}, {s: False for s in SITES}]
        return [FakeSuggestion(p, self.predict(p).time, self.predict(p).peak_bytes, "front", []) for p in ends]

    def rerun(self, placement):
        return FrontFakeProfile(placement, offset=(0.001, 8))


def test_a_front_point_measured_by_a_run_names_the_run_after_later_reruns():
    w = CallTreeWidget(FrontFakeProfile())
    assert [p.get("measured_in") for p in w.pareto] == [[1], None]   # run 1 ran all checkpointed
    w.placement = {s: False for s in SITES}
    w.rerun()
    assert [p.get("measured_in") for p in w.pareto] == [[1], [2]]
    w.placement = {s: True for s in SITES}
    w.rerun()                                   # the front comes from run 3, which measured it again
    assert [p.get("measured_in") for p in w.pareto] == [[1, 3], [2]]
    assert all(set(p) <= {"time", "peak_bytes", "measured_in"} for p in w.pareto)
    json.dumps(w.pareto)
    for _ in range(HISTORY_LENGTH):             # runs dropped from the history are no longer named
        w.rerun()
    assert [p.get("measured_in") for p in w.pareto] == [list(range(4, 14)), None]


def test_real_front_after_a_rerun_keeps_the_first_runs_measurement_in_view(real, measured):
    on_front = [p for p in measured.pareto() if p.placement == measured.placement]
    real.toggle(INNER_SITE)
    real.rerun()
    first = [p for p in real.pareto if 1 in p.get("measured_in", [])]
    assert on_front and len(first) == len(on_front) == 1
    assert first[0]["peak_bytes"] == real.history[0]["measured"]["peak_bytes"]
