// Unit tests of the call-tree widget's view: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";

import { FakeModel, byClass, findAll, fire, installDocument, press } from "./dom_shim.mjs";

installDocument();
const widget = (await import("../../nbadjoint/notebook/static/widget.js")).default;
const { BUDGET_ERROR, COLUMNS, GONE_TEXT, LINE_PREFIX, kernelGone, OPEN_DEPTH, accuracyText, lineProfileLines, chartPoints, pointTitle, legendLabels, extent, fmtBytes, fmtTime, niceTicks } = await import("../../nbadjoint/notebook/static/widget.js");

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
    },
    pareto: [{ time: 0.2, peak_bytes: 10000 }, { time: 0.15, peak_bytes: 17200 }],
    placement,
    prediction: { time: 0.2, peak_bytes: 10000 },
    suggestion: { placement: { ...placement, "model:6:<lambda>": false }, time: 0.19, peak_bytes: 9000, method: "exact",
      ranking: [{ id: "model:6:<lambda>", checkpoint: false, delta_t: 0.01, delta_pk: -1000, reason: "saves memory" }] },
    budget: 10000,
    history: [{ run: 1, placement, predicted: { time: 0.2, peak_bytes: 10000 }, measured: { time: 0.21, peak_bytes: 10000 } }],
    selected: "<root>",
    live: true,
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
// what the view asked Python for, besides the code of the selected row
const requests = (model) => model.sent.filter((m) => m.type !== "code");
const codeRequests = (model) => model.sent.filter((m) => m.type === "code");
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
  assert.deepEqual(requests(model), [{ type: "apply" }, { type: "rerun" }, { type: "line_profile" }]);
});

test("editing the budget sends the text to Python", () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  assert.equal(input.value, "10.0 kB");
  input.value = "200MB";
  fire(input, "change");
  assert.deepEqual(requests(model), [{ type: "budget", text: "200MB" }]);
});

test("Enter in the budget field sends the budget once and no notebook shortcut sees the key", () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  assert.equal(input.getAttribute("data-lm-suppress-shortcuts"), "true");
  input.value = "200MB";
  const enter = press(input, "Enter");
  assert.ok(enter.stopped, "the Enter key must not bubble to JupyterLab's notebook shortcuts");
  assert.deepEqual(requests(model), [{ type: "budget", text: "200MB" }]);
  fire(input, "change"); // the browser's own change event after Enter
  assert.deepEqual(requests(model), [{ type: "budget", text: "200MB" }]);
  assert.ok(press(input, "a").stopped, "typing in the field must not trigger notebook shortcuts");
});

const bannerText = (el) => (byClass(el, "nba-error")[0].hidden ? "" : byClass(el, "nba-error-text")[0].textContent);

test("a second bad budget replaces the first complaint, never shows it again", async () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  model.set("error", `${BUDGET_ERROR}cannot read the budget 'abc'`);
  await tick();
  assert.equal(bannerText(el), `${BUDGET_ERROR}cannot read the budget 'abc'`);
  assert.ok(input.classList.contains("nba-invalid"));
  input.value = "-5MB";
  press(input, "Enter");
  await tick();
  assert.equal(bannerText(el), "", "the complaint about 'abc' is hidden as soon as '-5MB' is sent");
  assert.equal(model.get("error"), `${BUDGET_ERROR}cannot read the budget 'abc'`, "the view leaves the synced error to Python");
  model.set("error", "");
  model.set("error", `${BUDGET_ERROR}cannot read the budget '-5MB'`);
  await tick();
  assert.equal(bannerText(el), `${BUDGET_ERROR}cannot read the budget '-5MB'`);
});

test("a valid budget after a bad one: the banner goes and the field shows the budget in force", async () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  model.set("error", `${BUDGET_ERROR}cannot read the budget 'abc'`);
  await tick();
  input.value = "50MB";
  press(input, "Enter");
  await tick();
  assert.equal(bannerText(el), "");
  model.set("budget", 50_000_000);
  model.set("error", "");
  await tick();
  assert.equal(bannerText(el), "");
  assert.ok(!input.classList.contains("nba-invalid"));
  assert.equal(input.value, "50.0 MB");
});

test("leaving the field after a rejected budget shows the budget still in force", async () => {
  const { el, model } = mount(smallState());
  const input = byClass(el, "nba-budget-input")[0];
  document.activeElement = input;
  input.value = "lots";
  press(input, "Enter");
  model.set("error", `${BUDGET_ERROR}cannot read the budget 'lots'`);
  await tick();
  assert.equal(input.value, "lots", "the rejected text stays while it is being edited");
  document.activeElement = null;
  fire(input, "blur");
  assert.equal(input.value, "10.0 kB");
  assert.equal(bannerText(el), `${BUDGET_ERROR}cannot read the budget 'lots'`);
});

test("the checkbox and the advice come right after the call site", () => {
  const { el } = mount(smallState());
  assert.deepEqual(COLUMNS.slice(0, 3).map(([label]) => label), ["Call site", "Ckpt", "Advice"]);
  const cells = rowFor(el, "model:6:<lambda>").children;
  assert.equal(byClass(cells[1], "nba-checkpoint").length, 1);
  assert.equal(cells[2].textContent, "split");
});

function deepState() {
  // model -> step -> inner -> leaf, with the advice on leaf (below the open depth)
  const state = smallState();
  state.profile_data.tree.children[0].children[0].children = [{ id: "inner:3:leaf", callee: "leaf", children: [] }];
  state.profile_data.sites.push(site("inner:3:leaf", "leaf"));
  state.placement["inner:3:leaf"] = true;
  state.suggestion = { ...state.suggestion, placement: { ...state.placement, "inner:3:leaf": false }, ranking: [] };
  return state;
}

test("a collapsed node above suggested changes is opened, and marked when the user closes it", () => {
  const { el } = mount(deepState());
  assert.ok(rowFor(el, "inner:3:leaf"), "the advised site is visible from the start");
  fire(byClass(rowFor(el, "model:4:step"), "nba-twisty")[0], "click");
  assert.equal(rowFor(el, "inner:3:leaf"), undefined);
  const marker = byClass(rowFor(el, "model:4:step"), "nba-badge-inside");
  assert.equal(marker.length, 1);
  assert.equal(marker[0].textContent, "1 inside");
  assert.equal(byClass(rowFor(el, "model:6:<lambda>"), "nba-badge-inside").length, 0);
});

test("toggling a checkbox never opens or closes rows (no jump under the pointer)", async () => {
  const { el, model } = mount(deepState());
  const before = rows(el).map((r) => r.getAttribute("data-node"));
  const box = byClass(rowFor(el, "inner:3:leaf"), "nba-checkpoint")[0];
  box.checked = false;
  fire(box, "change");
  await tick();
  assert.deepEqual(rows(el).map((r) => r.getAttribute("data-node")), before);
  assert.equal(model.get("placement")["inner:3:leaf"], false);
});

test("a free checkpoint is marked and costs no recomputation", () => {
  const state = smallState();
  state.profile_data.sites[2] = { ...state.profile_data.sites[2], t_saved: 0.011, delta_t: 0 };
  const { el } = mount(state);
  const row = rowFor(el, "model:6:<lambda>");
  assert.equal(byClass(row, "nba-free")[0].textContent, "free");
  assert.equal(row.children[6].textContent, "free");
  assert.equal(byClass(rowFor(el, "model:4:step"), "nba-free").length, 0);
  assert.equal(rowFor(el, "model:4:step").children[6].textContent, "11.0 ms");
});

test("checkboxes are disabled while a run is busy", async () => {
  const { el, model } = mount(smallState());
  model.set("busy", true);
  await tick();
  assert.ok(byClass(el, "nba-checkpoint").every((b) => b.disabled));
  model.set("busy", false);
  await tick();
  assert.ok(byClass(el, "nba-checkpoint").every((b) => !b.disabled));
});

test("Apply is disabled when the placement already is the suggestion", async () => {
  const { el, model } = mount(smallState());
  assert.equal(byClass(el, "nba-apply")[0].disabled, false);
  model.set("placement", { ...model.get("suggestion").placement });
  await tick();
  assert.equal(byClass(el, "nba-apply")[0].disabled, true);
});

test("rows are reached with the keyboard: arrows select, Space toggles", async () => {
  const { el, model } = mount(smallState());
  const root = rowFor(el, "<root>");
  assert.equal(root.tabIndex, 0);
  const down = press(root, "ArrowDown");
  assert.ok(down.stopped && down.defaultPrevented);
  assert.equal(model.get("selected"), "model:4:step");
  await tick();
  press(rowFor(el, "model:4:step"), " ");
  assert.equal(model.get("placement")["model:4:step"], false);
  press(rowFor(el, "model:4:step"), "ArrowLeft");
  assert.equal(rowFor(el, "step:2:inner"), undefined);
  press(rowFor(el, "model:4:step"), "ArrowUp");
  assert.equal(model.get("selected"), "<root>");
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

test("the view asks Python for the selected row's code once, and shows the answer", async () => {
  const { el, model } = mount(smallState());
  assert.deepEqual(codeRequests(model), [{ type: "code", node: "<root>" }]);
  assert.equal(byClass(el, "nba-code-title")[0].textContent, "Loading the adjoint code…");
  model.receive({ type: "code", node: "<root>", function: "model", fwd: "def model_fwd(_c, x):\n    return x", bwd: "def model_bwd(_c, b, x):\n    return (b,)" });
  assert.equal(byClass(el, "nba-code-title")[0].textContent, "Generated adjoint of model");
  assert.equal(byClass(el, "nba-source-fwd")[0].textContent, "def model_fwd(_c, x):\n    return x");
  model.set("history", [...model.get("history")]); // other state changes ask for nothing
  await tick();
  assert.equal(codeRequests(model).length, 1);
});

test("an answer for a row no longer selected is not shown", async () => {
  const { el, model } = mount(smallState());
  fire(rowFor(el, "model:4:step"), "click");
  await tick();
  model.receive({ type: "code", node: "<root>", function: "model", fwd: "def model_fwd(_c, x):\n    return x", bwd: "" });
  assert.equal(byClass(el, "nba-code-title")[0].textContent, "Loading the adjoint code…");
  assert.equal(byClass(el, "nba-source-fwd")[0].hidden, true);
});

test("a new profile (a rerun) asks for the selected row's code again", async () => {
  const { model } = mount(smallState());
  model.receive({ type: "code", node: "<root>", function: "model", fwd: "def model_fwd(_c, x):\n    return x", bwd: "" });
  model.set("profile_data", { ...model.get("profile_data") });
  await tick();
  assert.deepEqual(codeRequests(model), [{ type: "code", node: "<root>" }, { type: "code", node: "<root>" }]);
});

test("a profile that cannot run offers no Rerun and no line profile", async () => {
  const { el, model } = mount(smallState());
  assert.equal(byClass(el, "nba-rerun")[0].disabled, false);
  model.set("live", false);
  await tick();
  assert.equal(byClass(el, "nba-rerun")[0].disabled, true);
  assert.equal(byClass(el, "nba-line-profile")[0].disabled, true);
  assert.ok(byClass(el, "nba-rerun")[0].title.includes("read from a file"));
});

test("selecting a node sets `selected`, and its code is shown", async () => {
  const { el, model } = mount(smallState());
  fire(rowFor(el, "model:6:<lambda>"), "click");
  assert.equal(model.get("selected"), "model:6:<lambda>");
  await tick();
  assert.deepEqual(codeRequests(model).at(-1), { type: "code", node: "model:6:<lambda>" });
  model.receive({ type: "code", node: "model:6:<lambda>", function: "<lambda>", fwd: "def _lambda_fwd(v):\n    return v < 1", bwd: "" });
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

test("a large tree is drawn first and asks Python for the advice", () => {
  const state = bigState(100);
  state.suggestion = {};
  state.advising = true;
  state.pareto = [];
  const { el, model } = mount(state);
  assert.equal(rows(el).length, 101);
  assert.deepEqual(requests(model), [{ type: "advise" }]);
  assert.equal(byClass(byClass(el, "nba-suggested")[0], "nba-stat-value")[0].textContent, "computing…");
  assert.ok(el.textContent.includes("computing the Pareto front…"));
  assert.equal(byClass(el, "nba-apply")[0].disabled, true);
});

test("a small tree does not ask for advice it already has", () => {
  const { model } = mount(smallState());
  assert.deepEqual(requests(model), []);
});

test("the chart: axes from zero at round ticks, one mark per front point, the runs drawn last", () => {
  assert.deepEqual(extent([0, 0], 0), [0, 1.16]);
  assert.ok(extent([100, 5000], 0)[0] >= 0);
  assert.deepEqual(niceTicks(0, 1000, 4), [0, 250, 500, 750, 1000]);
  assert.deepEqual(niceTicks(0.1207, 0.1846, 4), [0.14, 0.16, 0.18]);
  assert.deepEqual(niceTicks(0.013, 0.041, 3), [0.02, 0.03, 0.04]);
  const points = chartPoints([{ time: 1, peak_bytes: 5 }, { time: 1, peak_bytes: 5 }, { time: 2, peak_bytes: 3 }],
    { time: 1.5, peak_bytes: 4 }, { time: 1.5, peak_bytes: 4, placement: {} },
    [{ run: 1, measured: { time: 1.5, peak_bytes: 4 } }]);
  assert.deepEqual(points.map((p) => p.kind), ["pareto", "pareto", "current", "suggested", "run"]);
  const { el } = mount(smallState());
  const labels = findAll(el, (n) => n.tagName === "TEXT").map((n) => n.textContent);
  assert.ok(!labels.some((t) => t.startsWith("-") && !t.startsWith("- -")), `negative axis label in ${labels}`);
  assert.ok(labels.includes("- - budget 10.0 kB"));
});

test("the line profile replaces the code boxes, and the same button goes back to the code", async () => {
  const { el, model } = mount(smallState());
  model.receive({ type: "code", node: "<root>", function: "model", fwd: "def model_fwd(_c, x):\n    return x", bwd: "def model_bwd(_c, b, x):\n    return (b,)" });
  const button = byClass(el, "nba-line-profile")[0];
  fire(button, "click");
  assert.deepEqual(requests(model), [{ type: "line_profile" }]);
  model.set("line_profile", "Timer unit: 1e-09 s\nTotal time: 0.01 s");
  await tick();
  const panel = byClass(el, "nba-code")[0];
  const shown = Array.from(panel.children).filter((c) => c.tagName === "PRE" && !c.hidden);
  assert.equal(shown.length, 1);
  assert.ok(shown[0].classList.contains("nba-line-profile-text"));
  assert.equal(button.textContent, "Show code");
  fire(button, "click");
  await tick();
  assert.equal(model.get("line_profile"), "");
  assert.equal(byClass(el, "nba-source-fwd")[0].hidden, false);
  assert.equal(button.textContent, "Line profile");
});

test("the line profile's table rows wrap their code under the code column, never widening the panel", async () => {
  const { el, model } = mount(smallState());
  const row = "   106       3    12.3 µs   13.1      w_b = _t2_b * u if _t2_b.__class__ is float else _vjp.ubl_seq(_t2_b * u, w, '*')";
  const text = ["Line profile of the generated sweeps of step", "", "Function: step_bwd: 93.5 µs (generated line 93)",
    "  Line    Hits       Time  %Time  Code", row, "Function: step_fwd_general: not run (the shape guards held)"].join("\n");
  assert.deepEqual(lineProfileLines(text).map((l) => l.row), [false, false, false, false, true, false]);
  assert.equal(row.indexOf("w_b"), LINE_PREFIX + 4); // the code column starts at LINE_PREFIX
  model.set("line_profile", text);
  await tick();
  const pre = byClass(el, "nba-line-profile-text")[0];
  assert.equal(pre.textContent, text.split("\n").map((l) => l || "\u00a0").join(""));
  const rowsShown = byClass(pre, "nba-lp-row");
  assert.equal(rowsShown.length, 1);
  assert.equal(rowsShown[0].textContent, row);
  assert.equal(rowsShown[0].style.getPropertyValue("--nba-lp-prefix"), `${LINE_PREFIX}ch`);
  assert.equal(byClass(pre, "nba-lp-text").length, 5);
  // shown, it has the widget's whole width (the chart steps aside until "Show code")
  const lower = byClass(el, "nba-lower")[0];
  assert.ok(lower.classList.contains("nba-lines"));
  fire(byClass(el, "nba-line-profile")[0], "click");
  await tick();
  assert.ok(!lower.classList.contains("nba-lines"));
});

test("the prediction carries the model's measured accuracy from the reruns", async () => {
  const { el, model } = mount(smallState());
  const accuracy = () => byClass(el, "nba-accuracy")[0].textContent;
  assert.equal(accuracy(), "not yet checked: a rerun measures a prediction");
  const history = model.get("history");
  model.set("history", [...history,
    { run: 2, placement: {}, predicted: { time: 0.0767, peak_bytes: 1 }, measured: { time: 0.1017, peak_bytes: 1 } },
    { run: 3, placement: {}, predicted: { time: 0.1, peak_bytes: 1 }, measured: { time: 0.099, peak_bytes: 1 } }]);
  await tick();
  // the current prediction is 0.2 s: expect 0.2 × (1 − 1%) to 0.2 × (1 + 33%)
  assert.equal(accuracy(), "expect 198.0 ms–265.2 ms: measured 1.0% below to 33% above its prediction on 2 reruns");
  const errors = byClass(el, "nba-run").map((r) => r.children[3].textContent);
  assert.deepEqual(errors, ["−1.0%", "+33%", "–"]);
  assert.equal(accuracyText([]), "not yet checked: a rerun measures a prediction");
  assert.equal(accuracyText([{ predicted: { time: 0.1 }, measured: { time: 0.11 } }]), "measured 10% above its prediction on 1 rerun");
});

test("the accuracy comes from the profile's own checks of the model when it has them", async () => {
  const state = smallState();
  // a profile rerun twice before this widget was made: its checks, not the widget's one-run history
  state.profile_data = { ...state.profile_data, model_checks: [
    { predicted: { time: 0.1, peak_bytes: 1 }, measured: { time: 0.105, peak_bytes: 1 } },
    { predicted: { time: 0.2, peak_bytes: 1 }, measured: { time: 0.22, peak_bytes: 1 } }] };
  const { el, model } = mount(state);
  const accuracy = () => byClass(el, "nba-accuracy")[0].textContent;
  assert.equal(accuracy(), "expect 210.0 ms–220.0 ms: measured 5.0% above to 10% above its prediction on 2 reruns");
  model.set("prediction", { time: 0.1, peak_bytes: 1 });
  await tick();
  assert.equal(accuracy(), "expect 105.0 ms–110.0 ms: measured 5.0% above to 10% above its prediction on 2 reruns");
});

test("each measured run is joined to its prediction, and the legend says which run the front is from", async () => {
  const { el, model } = mount(smallState());
  model.set("history", [...model.get("history"),
    { run: 2, placement: {}, predicted: { time: 0.15, peak_bytes: 17200 }, measured: { time: 0.18, peak_bytes: 17200 } }]);
  await tick();
  assert.equal(byClass(el, "nba-run-error").length, 2);
  assert.equal(legendLabels(model.get("history"))[0][1], "Pareto front (predicted from run #2)");
  assert.ok(byClass(el, "nba-legend")[0].textContent.includes("predicted from run #2"));
});

test("a budget far above every point is named above the chart, not drawn", async () => {
  const { el, model } = mount(smallState());
  model.set("budget", 1e9);
  await tick();
  assert.equal(byClass(el, "nba-budget-line").length, 0);
  const labels = findAll(el, (n) => n.tagName === "TEXT").map((n) => n.textContent);
  assert.ok(labels.includes("budget 1.00 GB ↑ above the chart"), labels.join(" | "));
  assert.ok(!labels.some((t) => t.includes("GB") && !t.startsWith("budget")), "the axis must not stretch to the budget");
});

test("the tree and the budget field keep their keys from the notebook's shortcuts", () => {
  const { el } = mount(smallState());
  assert.ok(rows(el).every((r) => r.getAttribute("data-lm-suppress-shortcuts") === "true"));
  assert.ok(!press(rowFor(el, "model:4:step"), "x").stopped, "other keys are left alone");
});

// A view drawn from the widget state saved with the notebook: the notebook's kernel is a new one.
function mountSaved(state, kernel) {
  const model = new FakeModel({ ...state, kernel_id: "made-by-this-kernel" });
  model.widget_manager = { kernel };
  const el = document.createElement("div");
  widget.render({ model, el });
  return { model, el };
}

test("a saved view whose kernel is gone says so, asks Python nothing and offers nothing to run", async () => {
  for (const kernel of [{ id: "a-new-kernel" }, null]) {
    const { model, el } = mountSaved({ ...smallState(), advising: true, suggestion: {}, pareto: [] }, kernel);
    const notice = byClass(el, "nba-gone-notice");
    assert.equal(notice.length, 1);
    assert.equal(notice[0].hidden, false);
    assert.equal(notice[0].textContent, GONE_TEXT);
    assert.ok(GONE_TEXT.includes("kernel that made this profile is gone") && GONE_TEXT.includes("Run this cell again"));
    // asked all the same (a saved view has no channel to Python: nothing is sent), in case it is live
    assert.deepEqual(model.sent, [{ type: "code", node: "<root>" }, { type: "advise" }]);
    assert.equal(byClass(el, "nba-code-title")[0].textContent,
      "The generated code is not saved with the notebook: run the cell again to see it");
    for (const cls of ["nba-rerun", "nba-line-profile", "nba-apply"]) assert.ok(byClass(el, cls)[0].disabled, cls);
    assert.ok(byClass(el, "nba-budget-input")[0].disabled);
    assert.ok(byClass(el, "nba-checkpoint").every((b) => b.disabled));
    assert.equal(byClass(el, "nba-suggested")[0].children[1].textContent, "not computed before the notebook was saved");
    assert.ok(!findAll(el, (n) => n.tagName === "TEXT").some((n) => n.textContent.includes("computing")));
    press(rowFor(el, "model:4:step"), " ");
    assert.equal(model.get("placement")["model:4:step"], true, "Space toggles nothing");
  }
});

test("a view taken for a saved one is live again as soon as Python answers", async () => {
  const { model, el } = mountSaved(smallState(), { id: "known-to-the-front-end-by-another-id" });
  assert.equal(byClass(el, "nba-gone-notice")[0].hidden, false);
  assert.ok(byClass(el, "nba-rerun")[0].disabled);
  model.receive({ type: "code", node: "<root>", function: "model", fwd: "def model_fwd(_c, x):\n    return x", bwd: "" });
  assert.equal(byClass(el, "nba-gone-notice")[0].hidden, true);
  assert.ok(!byClass(el, "nba-rerun")[0].disabled && !byClass(el, "nba-budget-input")[0].disabled);
  assert.ok(byClass(el, "nba-checkpoint").every((b) => !b.disabled));
  assert.equal(byClass(el, "nba-code-title")[0].textContent, "Generated adjoint of model");
});

test("the view is live in its own kernel, and where the front end has no kernel to compare with", () => {
  for (const [kernel, manager] of [[{ id: "made-by-this-kernel" }, true], [undefined, false]]) {
    const model = new FakeModel({ ...smallState(), kernel_id: "made-by-this-kernel" });
    if (manager) model.widget_manager = { kernel };
    const el = document.createElement("div");
    widget.render({ model, el });
    assert.equal(byClass(el, "nba-gone-notice")[0].hidden, true);
    assert.deepEqual(codeRequests(model), [{ type: "code", node: "<root>" }]);
    assert.ok(!byClass(el, "nba-rerun")[0].disabled);
    assert.equal(kernelGone(model), false);
  }
  const unknown = new FakeModel({ ...smallState(), kernel_id: "" });
  unknown.widget_manager = { kernel: null };
  assert.equal(kernelGone(unknown), false, "a widget made outside a kernel is never taken for a saved view");
});

test("a front point an earlier run measured is joined to that measurement, and says both", async () => {
  const { el, model } = mount(smallState());
  const history = [...model.get("history"),
    { run: 2, placement: {}, predicted: { time: 0.15, peak_bytes: 17200 }, measured: { time: 0.16, peak_bytes: 17200 } }];
  model.set("history", history);
  // predicted from run #2, the all-checkpointed point at 0.2 s; run #1 measured that placement at 0.21 s
  model.set("pareto", [{ time: 0.2, peak_bytes: 10000, measured_in: [1] }, { time: 0.15, peak_bytes: 17200 }]);
  await tick();
  const joins = byClass(el, "nba-front-measured");
  assert.equal(joins.length, 1);
  const points = chartPoints(model.get("pareto"), null, null, history);
  const runs = new Map(points.filter((p) => p.kind === "run").map((p) => [p.run, p]));
  assert.equal(pointTitle(points[0], runs),
    "Pareto front (predicted from run #2): 200.0 ms, 10.0 kB; run #1 measured this placement: 210.0 ms, 10.0 kB");
  assert.equal(pointTitle(points[1], runs), "Pareto front (predicted from run #2): 150.0 ms, 17.2 kB");
  const titles = findAll(el, (n) => n.tagName === "TITLE").map((n) => n.textContent);
  assert.ok(titles.includes(pointTitle(points[0], runs)), titles.join(" | "));
  // the join goes from the predicted point to run #1's square
  const square = byClass(el, "nba-point-run")[0];
  const x = Number(square.getAttribute("x")) + 3.5;
  assert.equal(Number(joins[0].getAttribute("x2")), x);
});
