"""The profiler, cost model and advisor with time loops: per-loop figures, exact predicted peaks
(tape plus loop snapshots) checked against measured runs, recomputed iterations against
t(n, S), longer loops predicted from short ones, joint advice, JSON round trips, the report.

Times are not checked here (no timed unit tests); ``benchmarks/loop_predict.py`` compares
predicted and measured times."""

import json
import math
import os
import sys

import numpy as np
import pytest

import loop_models as m
import nbadjoint as nba
from nbadjoint.errors import ProfileError
from nbadjoint.profiling import Profile
from nbadjoint.profiling.loops import schedule_counts
from nbadjoint.schedules import minimal_recomputations

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import burgers  # noqa: E402

X = np.sin(np.linspace(0.0, 2.0 * np.pi, 16)) + 1.5
LOOP = "burgers:38:for"
STEP = "burgers:39:burgers_step"


def step(u, k):
    return u + 0.05 * np.sin(u) * k


def stepper(u, k, n):
    for t in range(n):
        v = step(u, k)
        u = 0.5 * (u + step(v, k))
    return u


def twice(u0, k, n):
    a = stepper(u0, k, n)
    b = stepper(a * 0.5, k, n)
    return np.sum(a * b)


TWICE_LOOP = "stepper:36:for"


@pytest.fixture(scope="module")
def burgers_profile():
    return nba.profile(burgers.burgers, *burgers.default_args(64, 30))


def measured(profile, placement):
    """The rerun's peak (tape and loop snapshots in memory, from a watched run)."""
    return profile.rerun(placement).peak_bytes


def test_loops_are_recorded(burgers_profile):
    (rec,) = burgers_profile.loops
    assert rec.id == LOOP and rec.modelled and rec.iterations == (30,)
    assert rec.body_sites == (STEP,)
    assert rec.snapshot_bytes == 64 * 8 + 3 * 8          # u, and the numbers dt, dx, nu
    assert rec.t_primal_iter > 0 and rec.t_taped_iter > 0
    assert burgers_profile.loop(LOOP) is rec
    with pytest.raises(KeyError, match="burgers:38:for"):
        burgers_profile.loop("burgers:99:for")


@pytest.mark.parametrize("placement", [
    {LOOP: 1}, {LOOP: 3}, {LOOP: 7}, {LOOP: 29}, {LOOP: 100},
    {LOOP: 5, STEP: False}, {LOOP: {"ram": 2, "disk": 3}}, {LOOP: None, STEP: False}])
def test_predicted_peak_is_the_measured_one(burgers_profile, placement):
    predicted = burgers_profile.predict(placement)
    assert predicted.peak_bytes == measured(burgers_profile, placement)


def test_snapshots_lower_the_peak_and_recompute_t_n_s(burgers_profile):
    kept = burgers_profile.predict({LOOP: None})
    assert kept.peak_bytes == burgers_profile.peak_bytes
    assert not kept.recomputed
    # a snapshot (the state and the numbers dt, dx, nu) is larger than an iteration's tape (the
    # state): 29 snapshots hold more than every iteration kept, fewer hold less
    assert burgers_profile.predict({LOOP: 29}).peak_bytes > kept.peak_bytes
    last = kept.peak_bytes
    for s in (7, 3, 1):
        p = burgers_profile.predict({LOOP: s})
        assert p.recomputed == {LOOP: minimal_recomputations(30, s)}
        assert p.peak_bytes < last and p.time > kept.time
        last = p.peak_bytes


def test_recomputed_iterations_are_the_runs(burgers_profile):
    from nbadjoint.transform import runner
    from nbadjoint.transform.program import compile_tree

    args = burgers.default_args(64, 30)
    runs = {}
    program = compile_tree(burgers.burgers, 0, call_args=args)
    runner.run_adjoint(program, args, 0, {LOOP: 4}, loop_runs=runs)
    assert burgers_profile.predict({LOOP: 4}).recomputed[LOOP] == runs[LOOP][0].advanced


def test_schedule_counts():
    for n in (1, 2, 5, 30, 200):
        for s in (1, 2, 5, 40):
            c = schedule_counts(n, s)
            assert c["advanced"] == minimal_recomputations(n, s)
            assert c["held"] == c["held_max"] <= s
    assert schedule_counts(30, 2, 3)["disk_snapshots"] > 0
    # the model's premise: a schedule holds the most memory snapshots at the end of its forward
    # sweep, as many as whenever it tapes an iteration afterwards (two levels too)
    for n in range(1, 60, 7):
        for ram, disk in ((1, 0), (0, 2), (1, 3), (3, 2), (5, 1)):
            c = schedule_counts(n, ram, disk)
            assert c["held"] == c["held_max"] <= ram, (n, ram, disk)


def test_a_loop_in_a_function_called_twice():
    p = nba.profile(twice, X, 0.7, 9)
    (rec,) = p.loops
    assert rec.id == TWICE_LOOP and rec.iterations == (9, 9)
    assert rec.body_sites == ("stepper:37:step", "stepper:38:step")
    for placement in ({TWICE_LOOP: 2}, {TWICE_LOOP: 4, "stepper:37:step": False},
                      {TWICE_LOOP: 3, "stepper:38:step": False, "twice:44:stepper": False},
                      {TWICE_LOOP: {"ram": 1, "disk": 2}, "twice:43:stepper": False}):
        predicted = p.predict(placement)
        assert predicted.peak_bytes == measured(p, placement), placement
        if isinstance(placement[TWICE_LOOP], int):
            assert predicted.recomputed == {
                TWICE_LOOP: 2 * minimal_recomputations(9, placement[TWICE_LOOP])}


def test_a_loop_whose_body_writes_in_place():
    p = nba.profile(m.with_bc, X, 11)
    (rec,) = p.loops
    assert rec.modelled
    for s in (1, 2, 5):
        assert p.predict({rec.id: s}).peak_bytes == measured(p, {rec.id: s})


def test_the_snapshots_comment_is_the_default():
    args = (X, 0.7, 12)
    p = nba.profile(m.commented_with_calls, *args)
    (rec,) = p.loops
    assert rec.default == 4
    assert p.loop_placement == {rec.id: (4, 0)}
    assert p.predict().peak_bytes == p.peak_bytes           # as run: with the comment's snapshots
    assert p.predict().recomputed == {rec.id: minimal_recomputations(12, 4)}
    kept = p.predict({rec.id: None})
    assert kept.peak_bytes > p.peak_bytes and not kept.recomputed


@pytest.mark.parametrize("f, args", [
    (m.burgers, (X, 0.1, 8)), (m.lorenz_list, (X[:3], 20)), (m.diffuse_in_place, (X, 0.1, 9)),
    (m.oscillator, (X, X * 0.5, 7)), (m.dict_state, (X, 6)), (m.scalars, (0.3, 0.4, 9))])
def test_a_loop_whose_body_calls_no_function(f, args):
    p = nba.profile(f, *args)
    (rec,) = p.loops
    assert rec.modelled and rec.body_sites == () and rec.calls_before == 0
    for placement in ({rec.id: 1}, {rec.id: 3}, {rec.id: {"ram": 1, "disk": 2}}):
        assert p.predict(placement).peak_bytes == measured(p, placement), placement
    # with every iteration kept its iterations' tape cannot be told apart: no longer run
    with pytest.raises(ProfileError, match="calls no function"):
        p.predict({rec.id: None}, iterations={rec.id: 50})


def test_loops_in_a_loop_s_calls_jointly():
    p = nba.profile(m.many_calls, X, 5)
    outer, inner = (r.id for r in p.loops)
    assert outer == "many_calls:154:for" and inner == "inner:135:for"
    assert p.loop(inner).iterations == (5, 5, 5)
    for placement in ({outer: 2, inner: 2}, {outer: 1, inner: 3},
                      {outer: {"ram": 1, "disk": 1}, inner: 2}, {outer: None, inner: 1}):
        predicted = p.predict(placement)
        assert predicted.peak_bytes == measured(p, placement), placement
    assert p.predict({outer: 2, inner: 2}).recomputed == {
        outer: minimal_recomputations(3, 2), inner: 3 * minimal_recomputations(5, 2)}
    with pytest.raises(ValueError, match="with loop snapshots or without.*lowest peak found"):
        p.suggest(p.budget_bytes // 2)


def test_a_loop_that_cannot_keep_snapshots_is_listed_with_why():
    p = nba.profile(m.with_break, X, 6)
    (rec,) = p.loops
    assert not rec.modelled and "break" in rec.reason


def test_longer_loop_peak_is_exact():
    short = nba.profile(burgers.burgers, *burgers.default_args(64, 10))
    long_args = burgers.default_args(64, 40)
    for placement in ({LOOP: None}, {LOOP: 3}, {LOOP: 6, STEP: False},
                      {LOOP: {"ram": 2, "disk": 2}}):
        predicted = short.predict(placement, iterations={LOOP: 40})
        actual = nba.profile(burgers.burgers, *long_args, placement=placement)
        assert predicted.peak_bytes == actual.peak_bytes, placement
        if placement[LOOP] == 3:
            assert predicted.recomputed == {LOOP: minimal_recomputations(40, 3)}


def test_longer_loop_time_arithmetic(burgers_profile):
    p = burgers_profile
    sites = p.full_placement()
    per = p._iteration_time(p.loop(LOOP), sites)
    assert per > 0
    base = p.predict({LOOP: None})
    longer = p.predict({LOOP: None}, iterations={LOOP: 300})
    assert longer.time == pytest.approx(base.time + 270 * per, rel=1e-12)
    assert p.predict({LOOP: None}, iterations={LOOP: 30}).time == pytest.approx(base.time)
    # with a schedule: the taped iterations, and t(n, S) iterations run again
    advance, overhead = p._schedule_costs(p.loop(LOOP), sites)
    rec = p.loop(LOOP)
    c = schedule_counts(300, 10)
    expected = (longer.time + c["advanced"] * advance + 300 * overhead
                + c["snapshots"] * rec.t_snapshot + c["restores"] * rec.t_restore)
    scheduled = p.predict({LOOP: 10}, iterations={LOOP: 300})
    assert scheduled.time == pytest.approx(expected, rel=1e-12)
    assert scheduled.recomputed == {LOOP: minimal_recomputations(300, 10)}


def test_iterations_are_checked(burgers_profile):
    with pytest.raises(ValueError, match="int >= 1"):
        burgers_profile.predict(None, iterations={LOOP: 0})
    with pytest.raises(KeyError, match="no loop"):
        burgers_profile.predict(None, iterations={"burgers:1:for": 5})
    with pytest.raises(ValueError, match="unknown loop"):
        burgers_profile.predict({"burgers:1:for": 5})


def test_suggest_meets_a_budget_below_the_all_checkpointed_peak(burgers_profile):
    p = burgers_profile
    budget = p.budget_bytes // 4
    s = p.suggest(budget)
    assert s.peak_bytes <= budget
    assert s.placement.get(LOOP) is not None
    assert p.predict(s.placement).peak_bytes == s.peak_bytes
    assert measured(p, s.placement) == s.peak_bytes
    # the default budget needs no loop snapshots: the fastest placement keeps every iteration
    assert p.suggest().placement.get(LOOP) is None
    with pytest.raises(ValueError, match="budget"):
        p.suggest(100)


def test_pareto_includes_loop_options(burgers_profile):
    front = burgers_profile.pareto()
    loops = [pt.placement.get(LOOP) for pt in front]
    assert None in loops and any(v is not None for v in loops)
    peaks = [pt.peak_bytes for pt in front]
    times = [pt.time for pt in front]
    assert peaks == sorted(peaks) and times == sorted(times, reverse=True)
    for pt in front[:3]:
        assert burgers_profile.predict(pt.placement).peak_bytes == pt.peak_bytes


def test_model_check_of_a_loop_rerun(burgers_profile):
    again = burgers_profile.rerun({LOOP: 5})
    assert again.loop_placement == {LOOP: (5, 0)}
    (check,) = again.model_checks
    assert check.predicted.peak_bytes == check.measured.peak_bytes
    assert math.isfinite(check.time_error)


def test_json_round_trip_keeps_the_loops(burgers_profile, tmp_path):
    path = tmp_path / "p.json"
    burgers_profile.to_json(str(path), advice=False)
    loaded = Profile.from_json(str(path))
    assert loaded.loops == burgers_profile.loops
    for placement in ({LOOP: 4}, {LOOP: {"ram": 2, "disk": 2}, STEP: False}):
        assert loaded.predict(placement) == burgers_profile.predict(placement)
    assert loaded.predict({LOOP: 4}, iterations={LOOP: 90}) == \
        burgers_profile.predict({LOOP: 4}, iterations={LOOP: 90})
    data = json.loads(path.read_text())
    assert data["loops"][0]["id"] == LOOP


def test_a_file_without_loops_still_loads(burgers_profile):
    data = burgers_profile.to_dict(advice=False)
    del data["loops"], data["loop_placement"]
    loaded = Profile.from_dict(data)
    assert loaded.loops == () and loaded.loop_placement == {}
    assert loaded.predict().peak_bytes == burgers_profile.predict({LOOP: None}).peak_bytes


def test_profiling_leaves_the_gradient_and_the_arguments_alone():
    args = burgers.default_args(64, 12)
    u0 = args[0].copy()
    p = nba.profile(burgers.burgers, *args, placement={LOOP: 3})
    assert np.array_equal(args[0], u0)
    g = nba.grad(burgers.burgers)(*args)
    assert np.array_equal(p.grad, g)


def test_the_report_shows_loops(burgers_profile):
    text = burgers_profile.report(budget=burgers_profile.budget_bytes // 4)
    assert LOOP in text and "30 iterations" in text
    assert "snapshots" in text


def test_a_loop_whose_calls_call_functions():
    p = nba.profile(m.runge_kutta, X, 0.7, 10)
    (rec,) = p.loops
    assert rec.modelled and len(rec.body_sites) == 2
    sites = [s.id for s in p.sites]
    for placement in ({rec.id: 3}, {rec.id: 2, **{s: False for s in sites}},
                      {rec.id: {"ram": 1, "disk": 1}, sites[0]: False}):
        assert p.predict(placement).peak_bytes == measured(p, placement), placement
    # jointly with the call sites: under a budget the advisor meets, a measured run meets it
    budget = p.predict({rec.id: 2}).peak_bytes
    s = p.suggest(budget)
    assert measured(p, s.placement) == s.peak_bytes <= budget


WIDGET_JS_TEST = r"""
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel, byClass, installDocument, press } from "SHIM";
installDocument();
const mod = await import("WIDGET");
const { samePlacement, snapshotsText, iterationsText } = mod;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("loop values read as the snapshots field shows them", () => {
  assert.equal(snapshotsText(null), "all");
  assert.equal(snapshotsText(20), "20");
  assert.equal(snapshotsText({ ram: 10, disk: 5 }), "10+5");
  assert.equal(iterationsText({ iterations: [30] }), "30");
  assert.equal(iterationsText({ iterations: [5, 5, 5] }), "5 × 3 runs");
  assert.ok(samePlacement({ "f:1:for": 3, "f:2:g": true }, { "f:1:for": 3 }));
  assert.ok(!samePlacement({ "f:2:g": true }, { "f:1:for": 3 }));
});

test("a loop row shows its iterations and sends the snapshots typed", async () => {
  const loop = { id: "model:3:for", caller: "model", lineno: 3, default: null, modelled: true,
                 reason: "", iterations: [30], snapshot_bytes: 536 };
  const stuck = { ...loop, id: "model:9:for", lineno: 9, modelled: false, reason: "it may break" };
  const state = {
    profile_data: { root: "model", placement: {}, sites: [], loops: [loop, stuck], budget_bytes: 100,
                    tree: { id: "<root>", callee: "model", children: [] } },
    placement: {}, prediction: { time: 0.1, peak_bytes: 50 }, suggestion: {}, pareto: [],
    budget: 100, history: [], selected: "<root>", live: true, line_profile: "", error: "", busy: false,
  };
  const model = new FakeModel(state);
  const el = document.createElement("div");
  mod.default.render({ model, el });
  const inputs = byClass(el, "nba-snapshots-input");
  assert.equal(inputs.length, 2);
  assert.equal(inputs[0].value, "all");
  assert.ok(inputs[1].disabled);
  assert.ok(byClass(el, "nba-loop-table")[0].textContent.includes("30"));
  inputs[0].value = "10+5";
  press(inputs[0], "Enter");
  assert.deepEqual(model.sent.filter((m) => m.type === "snapshots"),
                   [{ type: "snapshots", loop: "model:3:for", text: "10+5" }]);
  model.set("placement", { "model:3:for": { ram: 10, disk: 5 } });
  model.set("prediction", { time: 0.3, peak_bytes: 20, recomputed: { "model:3:for": 57 } });
  await tick();
  const row = byClass(el, "nba-loop-table")[0].textContent;
  assert.ok(row.includes("57"), row);
  assert.equal(byClass(el, "nba-snapshots-input")[0].value, "10+5");
});
"""


def test_the_widget_shows_loops_and_their_snapshots_field(tmp_path):
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    here = os.path.dirname(os.path.abspath(__file__))
    script = tmp_path / "loops.test.mjs"
    script.write_text(WIDGET_JS_TEST.replace("SHIM", os.path.join(here, "js", "dom_shim.mjs")).replace(
        "WIDGET", os.path.join(here, "..", "nbadjoint", "notebook", "static", "widget.js")))
    result = subprocess.run([node, "--test", str(script)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_widget_edits_loop_snapshots(burgers_profile):
    w = burgers_profile.widget()
    assert w.loop_ids == [LOOP] and LOOP not in w.placement      # its default: every iteration
    w.set_snapshots(LOOP, "4")
    assert w.placement[LOOP] == 4
    assert w.prediction["peak_bytes"] == burgers_profile.predict({LOOP: 4}).peak_bytes
    assert w.prediction["recomputed"] == {LOOP: minimal_recomputations(30, 4)}
    w.set_snapshots(LOOP, "2+3")
    assert w.placement[LOOP] == {"ram": 2, "disk": 3}
    with pytest.raises(ValueError, match="not a number of snapshots"):
        w.set_snapshots(LOOP, "many")
    assert w.error.startswith(f"Snapshots of {LOOP}")
    w.set_snapshots(LOOP, "all")
    assert LOOP not in w.placement and not w.error
    w.set_budget(burgers_profile.budget_bytes // 4)
    w.apply_suggestions()
    assert w.placement.get(LOOP) is not None
    assert w.prediction["peak_bytes"] <= burgers_profile.budget_bytes // 4


def test_a_loop_whose_run_with_snapshots_raises_is_listed_with_the_error():
    # its state holds a view of an array its body writes into: every iteration kept works, a
    # schedule is refused (AliasError); the profile keeps the loop out of the model, saying why
    p = nba.profile(m.view_inside, X, 7)
    (rec,) = p.loops
    assert not rec.modelled and "AliasError" in rec.reason and "`v`" in rec.reason
    assert p.predict().peak_bytes == p.peak_bytes
    p.suggest()


def test_the_magic_takes_loop_ids_in_its_placement(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from nbadjoint.notebook.magics import load_ipython_extension

    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.user_ns.update(np=np, plan={"run:3:for": 3})
    body = ("def run(u, n):\n"
            "    for t in range(n):\n"
            "        u = np.sin(u) + 0.5 * u\n"
            "    return np.sum(u)\n"
            "\n"
            "run(np.ones(8), 12)\n")
    try:
        shell.run_cell_magic("adjoint_profile", "--placement plan --no-widget -o prof", body)
        prof = shell.user_ns["prof"]
        assert prof.loop_placement == {"run:3:for": (3, 0)}
        assert "run:3:for" in capsys.readouterr().out
        shell.user_ns["plan"] = {"run:3:for": "lots"}
        with pytest.raises(Exception, match="run:3:for"):
            shell.run_cell_magic("adjoint_profile", "--placement plan --no-widget", body)
    finally:
        for name in ("np", "plan", "prof", "run"):
            shell.user_ns.pop(name, None)


def test_the_command_line_takes_loop_ids_and_predicts_a_longer_loop(capsys, tmp_path):
    from nbadjoint.cli import main

    example = os.path.join(os.path.dirname(__file__), "..", "examples", "burgers.py")
    out = tmp_path / "p.json"
    status = main(["profile", f"{example}:burgers", "--args", "default_args(64, 20)",
                   "--placement", json.dumps({LOOP: 4}), "--iterations", f"{LOOP}=200",
                   "--repeat", "1", "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert f"{LOOP}  line 38 of burgers: 20 iterations, 4 snapshots in memory" in text
    assert f"predicted with {LOOP} = 200 iterations:" in text
    assert "as run: adjoint" in text and f"{minimal_recomputations(200, 4)} iterations run again" in text
    assert Profile.from_json(str(out)).loop_placement == {LOOP: (4, 0)}
    for bad in (["--iterations", "burgers:38:for=lots"], ["--iterations", "burgers:1:for=5"],
                ["--placement", json.dumps({LOOP: -1})]):
        assert main(["profile", f"{example}:burgers", "--args", "default_args(64, 20)",
                     "--repeat", "1", *bad]) == 2
        assert "burgers:" in capsys.readouterr().err


def test_nested_loops_are_listed_with_why_the_model_leaves_them():
    p = nba.profile(m.nested, X, 4)
    outer, inner = sorted(p.loops, key=lambda r: r.lineno)
    assert not outer.modelled and f"holds the loop {inner.id}" in outer.reason
    assert not inner.modelled and f"nested in the loop {outer.id}" in inner.reason
    assert inner.iterations == (4, 4)
    assert p.predict().peak_bytes == p.peak_bytes
    with pytest.raises(ProfileError, match="nested"):
        p.predict({outer.id: 1})
    p.suggest()
