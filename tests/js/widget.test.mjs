// Unit tests of the call-tree widget's view: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";

import { FakeModel, byClass, findAll, fire, installDocument } from "./dom_shim.mjs";

installDocument();
const widget = (await import("../../nbadjoint/notebook/static/widget.js")).default;
const { BUDGET_ERROR, OPEN_DEPTH, fmtBytes, fmtTime } = await import("../../nbadjoint/notebook/static/widget.js");

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function site(id, callee, calls = 1) {
  const [caller, lineno] = id.split(":");
  return {
    id, caller, callee, lineno: Number(lineno), calls, checkpointed: true,
    t_primal: 0.01, t_snapshot: 0.001, t_fwd_incl: 0.02, t_fwd_excl: 0.01, t_bwd_incl: 0.03, t_bwd_excl: 0.02,
    snapshot_bytes: 800, tape_bytes: 8000, snp: 0, pk: 8000, tn: 0, delta_t: 0.01, delta_pk: 7200,
  };
}

// model --(model:4:step)--> step --(step:2:inner)--> inner ; model --(model:6:<lambda>)--> <lambda>
function smallState() {
  const sites = [site("model:4:step", "step", 10), site("step:2:inner", "inner", 10), site("model:6:<lambda>", "<lambda>")];
  const placement = Object.fromEntries(sites.map((s) => [s.id, true]));
  return {
    profile_data: {
      version: 1, root: "model", argnums: [0], placement, budget_bytes: 10000,
      primal_time: 0.05, adjoint_time: 0.2, ratio: 4, peak_bytes: 10000, tape_traffic_bytes: 20000,
      sites,
      tree: { id: "<root>", callee: "model", children: [
        { id: "model:4:step", callee: "step", children: [{ id: "step:2:inner", callee: "inner", children: [] }] },
        { id: "model:6:<lambda>", callee: "<lambda>", children: [] },
      ] },
      pareto: [{ time: 0.2, peak_bytes: 10000, placement }, { time: 0.15, peak_bytes: 17200, placement: {} }],
      sources: {},
    },
    placement,
    prediction: { time: 0.2, peak_bytes: 10000 },
    suggestion: { placement: { ...placement, "model:6:<lambda>": false }, time: 0.19, peak_bytes: 9000, method: "exact",
      ranking: [{ id: "model:6:<lambda>", checkpoint: false, delta_t: 0.01, delta_pk: -1000, reason: "saves memory" }] },
    budget: 10000,
    history: [{ run: 1, placement, predicted: { time: 0.2, peak_bytes: 10000 }, measured: { time: 0.21, peak_bytes: 10000 } }],
    selected: "<root>",
    code: { node: "<root>", function: "model", fwd: "def model_fwd(_c, x):\n    return x", bwd: "def model_bwd(_c, b, x):\n    return (b,)" },
    line_profile: "",
    error: "",
    busy: false,
  };
}

// A root with `width` children, each with `depth - 1` levels of single descendants below it.
function bigState(count) {
  const state = smallState();
  const sites = [];
  const children = [];
  for (let i = 0; i < count; i++) {
    const id = `model:${i + 10}:f${i}`;
    sites.push(site(id, `f${i}`));
    children.push({ id, callee: `f${i}`, children: [] });
  }
  state.profile_data = { ...state.profile_data, sites, tree: { id: "<root>", callee: "model", children } };
  state.placement = Object.fromEntries(sites.map((s) => [s.id, true]));
  state.suggestion = { ...state.suggestion, placement: state.placement, ranking: [] };
  return state;
}

function mount(state) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  const cleanup = widget.render({ model, el });
  return { model, el, cleanup };
}

const rows = (el) => byClass(el, "nba-row");
const rowFor = (el, id) => rows(el).find((r) => r.getAttribute("data-node") === id);

test("tree renders one row per node, root first", () => {
  const { el } = mount(smallState());
  assert.equal(rows(el).length, 4);
  assert.deepEqual(rows(el).map((r) => byClass(r, "nba-callee")[0].textContent), ["model", "step", "inner", "<lambda>"]);
});

test("a <lambda> callee appears verbatim as text", () => {
  const { el } = mount(smallState());
  const lambdaRow = rowFor(el, "model:6:<lambda>");
  assert.equal(byClass(lambdaRow, "nba-callee")[0].textContent, "<lambda>");
  assert.ok(el.textContent.includes("<lambda>"));
});

test("nodes deeper than the open depth start collapsed and expand on click", async () => {
  const state = smallState();
  state.profile_data.tree.children[0].children[0].children = [{ id: "inner:3:leaf", callee: "leaf", children: [] }];
  state.profile_data.sites.push(site("inner:3:leaf", "leaf"));
  state.placement["inner:3:leaf"] = true;
  const { el } = mount(state);
  assert.equal(OPEN_DEPTH, 2);
  assert.equal(rows(el).length, 4);
  fire(byClass(rowFor(el, "step:2:inner"), "nba-twisty")[0], "click");
  assert.equal(rows(el).length, 5);
  assert.ok(rowFor(el, "inner:3:leaf"));
});

test("collapsing a node hides its subtree", () => {
  const { el } = mount(smallState());
  fire(byClass(rowFor(el, "model:4:step"), "nba-twisty")[0], "click");
  assert.deepEqual(rows(el).map((r) => r.getAttribute("data-node")), ["<root>", "model:4:step", "model:6:<lambda>"]);
});

test("toggling a checkpoint sends the new placement to the model", () => {
  const { el, model } = mount(smallState());
  const box = byClass(rowFor(el, "model:4:step"), "nba-checkpoint")[0];
  assert.equal(box.checked, true);
  box.checked = false;
  fire(box, "change");
  assert.equal(model.get("placement")["model:4:step"], false);
  assert.equal(model.get("placement")["step:2:inner"], true);
  assert.equal(model.saved, 1);
});

test("the root row has no checkpoint toggle", () => {
  const { el } = mount(smallState());
  assert.equal(byClass(rowFor(el, "<root>"), "nba-checkpoint").length, 0);
  assert.equal(byClass(el, "nba-checkpoint").length, 3);
});

test("a suggestion badge marks the sites where the advisor differs", () => {
  const { el } = mount(smallState());
  const badges = byClass(el, "nba-badge");
  assert.equal(badges.length, 1);
  assert.equal(badges[0].textContent, "split");
  assert.equal(badges[0].title, "saves memory");
  assert.ok(rowFor(el, "model:6:<lambda>").textContent.includes("split"));
});

test("a new prediction from Python updates the header", async () => {
  const { el, model } = mount(smallState());
  const predicted = () => byClass(byClass(el, "nba-predicted")[0], "nba-stat-value")[0].textContent;
  assert.equal(predicted(), "200.0 ms · 10.0 kB · 0 split");
  model.set("placement", { ...model.get("placement"), "model:4:step": false });
  model.set("prediction", { time: 0.17, peak_bytes: 17200 });
  await tick();
  assert.equal(predicted(), "170.0 ms · 17.2 kB · 1 split");
  assert.ok(byClass(el, "nba-predicted")[0].classList.contains("nba-over-budget"));
});

test("Apply, Rerun and Line profile buttons send requests to Python", () => {
  const { el, model } = mount(smallState());
  fire(byClass(el, "nba-apply")[0], "click");
  fire(byClass(el, "nba-rerun")[0], "click");
  fire(byClass(el, "nba-line-profile")[0], "click");
  assert.deepEqual(model.sent, [{ type: "apply" }, { type: "rerun" }, { type: "line_profile" }]);
});

test("editing the budget sends the text to Python", () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  assert.equal(input.value, "10.0 kB");
  input.value = "200MB";
  fire(input, "change");
  assert.deepEqual(model.sent, [{ type: "budget", text: "200MB" }]);
});

test("a new budget clears the complaint about the last one, and the box is marked while it stands", async () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  model.set("error", `${BUDGET_ERROR}cannot read the budget 'lots'`);
  await tick();
  assert.equal(byClass(el, "nba-error")[0].hidden, false);
  assert.ok(input.classList.contains("nba-invalid"));
  input.value = "200MB";
  fire(input, "change");
  await tick();
  assert.equal(model.get("error"), "");
  assert.ok(model.saved > 0);
  assert.equal(byClass(el, "nba-error")[0].hidden, true);
  assert.ok(!input.classList.contains("nba-invalid"));
  assert.deepEqual(model.sent, [{ type: "budget", text: "200MB" }]);
});

test("a new budget leaves other errors alone", async () => {
  const { el, model } = mount(smallState());
  model.set("error", "Rerun failed: ValueError: bad");
  await tick();
  const input = byClass(el, "nba-budget-input")[0];
  input.value = "200MB";
  fire(input, "change");
  await tick();
  assert.equal(model.get("error"), "Rerun failed: ValueError: bad");
  assert.ok(!input.classList.contains("nba-invalid"));
});

test("buttons are disabled while a run is busy", async () => {
  const { el, model } = mount(smallState());
  model.set("busy", true);
  await tick();
  assert.equal(byClass(el, "nba-rerun")[0].disabled, true);
  assert.equal(byClass(el, "nba-status")[0].textContent, "running…");
});

test("a rerun adds a history row and updates the measured figures", async () => {
  const { el, model } = mount(smallState());
  const history = model.get("history");
  model.set("history", [...history, { run: 2, placement: model.get("placement"),
    predicted: { time: 0.2, peak_bytes: 10000 }, measured: { time: 0.195, peak_bytes: 10008 } }]);
  await tick();
  assert.equal(byClass(el, "nba-run").length, 2);
  const measured = byClass(byClass(el, "nba-measured")[0], "nba-stat-value")[0].textContent;
  assert.equal(measured, "195.0 ms · 10.0 kB (run #2)");
  assert.equal(byClass(el, "nba-point-run").length, 2);
});

test("an error from Python is shown as text", async () => {
  const { el, model } = mount(smallState());
  assert.equal(byClass(el, "nba-error")[0].hidden, true);
  model.set("error", "Rerun failed: ValueError: <bad> input");
  await tick();
  assert.equal(byClass(el, "nba-error")[0].hidden, false);
  assert.equal(byClass(el, "nba-error-text")[0].textContent, "Rerun failed: ValueError: <bad> input");
});

test("selecting a node sets `selected`, and its code is shown", async () => {
  const { el, model } = mount(smallState());
  fire(rowFor(el, "model:6:<lambda>"), "click");
  assert.equal(model.get("selected"), "model:6:<lambda>");
  model.set("code", { node: "model:6:<lambda>", function: "<lambda>", fwd: "def _lambda_fwd(v):\n    return v < 1", bwd: "" });
  await tick();
  assert.equal(byClass(el, "nba-code-title")[0].textContent, "Generated adjoint of <lambda>");
  assert.equal(byClass(el, "nba-source-fwd")[0].textContent, "def _lambda_fwd(v):\n    return v < 1");
  assert.equal(byClass(el, "nba-source-bwd")[0].hidden, true);
  assert.ok(rowFor(el, "model:6:<lambda>").classList.contains("nba-selected"));
});

test("the chart draws the Pareto front, the current placement, the suggestion and the runs", () => {
  const { el } = mount(smallState());
  const svg = findAll(el, (n) => n.tagName === "SVG")[0];
  assert.equal(svg.namespaceURI, "http://www.w3.org/2000/svg");
  assert.equal(byClass(el, "nba-point-pareto").length, 2);
  assert.equal(byClass(el, "nba-point-current").length, 1);
  assert.equal(byClass(el, "nba-point-suggested").length, 1);
  assert.equal(byClass(el, "nba-point-run").length, 1);
  assert.equal(byClass(el, "nba-budget-line").length, 1);
});

test("a 500-node tree renders in under a second", () => {
  const start = performance.now();
  const { el } = mount(bigState(500));
  const elapsed = performance.now() - start;
  assert.equal(rows(el).length, 501);
  assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
});

test("cleanup detaches the view from the model", () => {
  const { model, cleanup } = mount(smallState());
  cleanup();
  assert.equal(Object.values(model.handlers).flat().length, 0);
});

test("numbers are formatted with units", () => {
  assert.equal(fmtTime(0.00042), "420.0 µs");
  assert.equal(fmtTime(2.5), "2.500 s");
  assert.equal(fmtTime(null), "–");
  assert.equal(fmtBytes(512), "512 B");
  assert.equal(fmtBytes(200e6), "200.0 MB");
  assert.equal(fmtBytes(-1200), "-1.20 kB");
});

test("time and tape cells carry their share as a bar width", () => {
  const { el } = mount(smallState());
  const step = rowFor(el, "model:4:step");
  assert.equal(byClass(step, "nba-time")[0].style.getPropertyValue("--nba-frac"), "0.250");
  assert.equal(byClass(step, "nba-bytes")[0].style.getPropertyValue("--nba-frac"), "1.000");
});
