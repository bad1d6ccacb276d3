// Call-tree widget of an nbadjoint Profile (anywidget front-end module).
//
// State comes from the Python side (nbadjoint/notebook/widget.py): profile_data (the profile's data
// without its generated code), placement, prediction, suggestion, pareto, budget, history, selected,
// line_profile, error, busy, advising, live, kernel_id.
// The view edits `placement` and `selected` directly and asks Python for everything else with
// model.send({type: "apply" | "rerun" | "line_profile" | "budget" | "advise"}).
// The generated code of a function is fetched when its row is selected: the view sends
// {type: "code", node} and Python answers with a custom message {type: "code", node, function, fwd, bwd}.
// All text goes through textContent: names such as "<lambda>" are data, never markup.

const SVG_NS = "http://www.w3.org/2000/svg";
export const ROOT_ID = "<root>";
export const OPEN_DEPTH = 2; // tree levels below the root that start expanded
export const BUDGET_ERROR = "Budget: "; // how Python's `error` starts when a budget cannot be read
const INDENT_PX = 14;

// -- formatting ------------------------------------------------------------------------------

function finite(x) {
  return typeof x === "number" && Number.isFinite(x);
}

export function fmtTime(t) {
  if (!finite(t)) return "–";
  const a = Math.abs(t);
  if (a === 0) return "0 s";
  if (a < 1e-6) return `${(t * 1e9).toFixed(0)} ns`;
  if (a < 1e-3) return `${(t * 1e6).toFixed(1)} µs`;
  if (a < 1) return `${(t * 1e3).toFixed(a < 1e-2 ? 2 : 1)} ms`;
  return `${t.toFixed(a < 10 ? 3 : 1)} s`;
}

export function fmtBytes(b) {
  if (!finite(b)) return "–";
  const a = Math.abs(b);
  if (a < 1000) return `${b} B`;
  const units = [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
  const [unit, factor] = units.find(([, f]) => a >= f);
  return `${(b / factor).toFixed(a / factor < 10 ? 2 : 1)} ${unit}`;
}

function signed(text, x) {
  return finite(x) && x > 0 ? `+${text}` : text;
}

function sum(...xs) {
  return xs.every(finite) ? xs.reduce((a, b) => a + b, 0) : null;
}

// -- DOM helpers -----------------------------------------------------------------------------

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

// Keys pressed on the widget's own controls are theirs: JupyterLab and Notebook 7 skip their
// shortcuts for an element with this attribute (else Space or Enter could act on the notebook).
function ownKeys(el) {
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  return el;
}

function button(label, cls, onClick) {
  const el = ownKeys(h("button", `nba-button ${cls}`, label));
  el.type = "button";
  el.addEventListener("click", onClick);
  return el;
}

function stat(label, cls) {
  const box = h("div", `nba-stat ${cls || ""}`);
  box.appendChild(h("span", "nba-stat-label", label));
  const value = h("span", "nba-stat-value", "–");
  box.appendChild(value);
  return [box, value];
}

// -- the call tree ---------------------------------------------------------------------------

// Number of suggested changes in each node's subtree (the node itself excluded), by path.
export function adviceBelow(tree, isAdvised) {
  const below = new Map();
  if (!tree) return below;
  const count = (node, path) => {
    let n = 0;
    (node.children || []).forEach((kid, i) => {
      n += count(kid, `${path}/${i}`) + (isAdvised(kid.id) ? 1 : 0);
    });
    below.set(path, n);
    return n;
  };
  count(tree, "0");
  return below;
}

// Rows currently shown: depth-first, children of collapsed nodes skipped (never built).
// A node starts expanded above OPEN_DEPTH; `expanded` holds the user's clicks and the nodes opened
// to reveal advice. A collapsed node carries the number of suggested changes below it (`below`).
export function visibleRows(tree, expanded, below) {
  const rows = [];
  if (!tree) return rows;
  const stack = [[tree, 0, "0"]];
  while (stack.length) {
    const [node, depth, path] = stack.pop();
    const kids = node.children || [];
    const hidden = below ? below.get(path) || 0 : 0;
    const open = expanded.has(path) ? expanded.get(path) : depth < OPEN_DEPTH;
    rows.push({ node, depth, path, open, hasChildren: kids.length > 0, hiddenAdvice: open ? 0 : hidden });
    if (open) {
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1, `${path}/${i}`]);
    }
  }
  return rows;
}

// The checkbox and the advice come right after the name: in a narrow notebook they stay in view.
export const COLUMNS = [
  ["Call site", "callee and line; click to see its adjoint code"],
  ["Ckpt", "checkpointed (joint) when ticked, split when not"],
  ["Advice", "where the advisor's placement for the budget differs (on a collapsed node: how many changes are inside)"],
  ["Calls", "dynamic instances of this call site"],
  ["Incl.", "forward + backward sweep time, callees included"],
  ["Excl.", "forward + backward sweep time, callees excluded"],
  ["Recompute", "primal rerun + snapshot time paid because the site is checkpointed ('free': the callee tapes nothing, so nothing is rerun)"],
  ["Snapshot", "bytes of the snapshot written at the call"],
  ["Tape", "bytes pushed by the callee's forward sweep"],
  ["ΔT", "run time saved by not checkpointing this site"],
  ["ΔPk", "change of the run's peak stack memory if this site is not checkpointed"],
];

function cell(row, text, cls) {
  const td = h("td", cls, text);
  row.appendChild(td);
  return td;
}

// A checkpoint that costs nothing: the callee tapes nothing, so its recomputation is skipped.
export function isFree(site, checkpointed) {
  return checkpointed && finite(site.t_saved) && site.t_saved > 0;
}

function recomputeTime(site) {
  const paid = sum(site.t_primal, site.t_snapshot);
  return finite(paid) && finite(site.t_saved) ? Math.max(paid - site.t_saved, 0) : paid;
}

function nameCell(view, tr, info, site, isRoot) {
  const { node, depth, path, open, hasChildren } = info;
  const name = cell(tr, null, "nba-name");
  name.style.paddingLeft = `${depth * INDENT_PX + 4}px`;
  if (hasChildren) {
    const twisty = button(open ? "▾" : "▸", "nba-twisty", (event) => {
      event.stopPropagation();
      view.expanded.set(path, !open);
      view.renderTree();
    });
    twisty.title = open ? "collapse" : "expand";
    twisty.tabIndex = -1;
    name.appendChild(twisty);
  } else {
    name.appendChild(h("span", "nba-twisty-space"));
  }
  name.appendChild(h("span", "nba-callee", node.callee));
  if (!isRoot && site.lineno !== undefined) name.appendChild(h("span", "nba-lineno", `:${site.lineno}`));
  name.title = isRoot ? `root: ${node.callee}` : node.id;
}

function adviceCells(view, tr, info, site, isRoot) {
  const { node, hiddenAdvice } = info;
  const { placement, suggestion, busy } = view.state();
  // (view.gone: a saved view with no Python behind it, where a toggle would predict nothing)
  const toggleCell = cell(tr, null, "nba-toggle");
  const badgeCell = cell(tr, null, "nba-advice");
  if (!isRoot) {
    const checked = placement[node.id] !== false;
    const box = ownKeys(document.createElement("input"));
    box.type = "checkbox";
    box.className = "nba-checkpoint";
    box.checked = checked;
    box.disabled = busy || view.gone;
    box.tabIndex = -1; // the row takes the keyboard focus; Space on it toggles
    box.title = checked ? "checkpointed: click to split" : "split: click to checkpoint";
    box.addEventListener("click", (event) => event.stopPropagation());
    box.addEventListener("change", () => view.setCheckpoint(node.id, box.checked));
    toggleCell.appendChild(box);
    if (isFree(site, checked)) {
      const free = h("span", "nba-free", "free");
      free.title = "checkpointed at no cost: the callee tapes nothing, so nothing is recomputed";
      toggleCell.appendChild(free);
    }
    const advised = suggestion && suggestion.placement ? suggestion.placement[node.id] : undefined;
    if (advised !== undefined && advised !== checked) {
      const badge = h("span", `nba-badge ${advised ? "nba-badge-checkpoint" : "nba-badge-split"}`,
        advised ? "checkpoint" : "split");
      const reason = (suggestion.ranking || []).find((r) => r.id === node.id);
      badge.title = reason && reason.reason ? reason.reason : "the advisor's placement differs here";
      badgeCell.appendChild(badge);
    }
  }
  if (hiddenAdvice > 0) {
    const marker = h("span", "nba-badge nba-badge-inside", `${hiddenAdvice} inside`);
    marker.title = `${hiddenAdvice} suggested change${hiddenAdvice === 1 ? "" : "s"} in this collapsed subtree: expand to see`;
    badgeCell.appendChild(marker);
  }
}

function treeRow(view, info) {
  const { node } = info;
  const { sites, data, placement, selected } = view.state();
  const isRoot = node.id === ROOT_ID;
  const site = sites.get(node.id) || {};
  const tr = h("tr", "nba-row");
  if (node.id === selected) tr.classList.add("nba-selected");
  tr.setAttribute("data-node", node.id);
  tr.setAttribute("data-path", info.path);
  tr.tabIndex = node.id === selected ? 0 : -1;
  // the row's keys (arrows, Space, Enter) are the tree's, not the notebook's shortcuts: Notebook 7
  // matches its shortcuts on the focused element before the key reaches the row
  ownKeys(tr);

  nameCell(view, tr, info, site, isRoot);
  adviceCells(view, tr, info, site, isRoot);

  const total = data.adjoint_time;
  let incl;
  let excl;
  if (isRoot) {
    incl = total;
    const kids = (node.children || []).map((k) => sites.get(k.id) || {});
    const inKids = kids.reduce((acc, s) => acc + (sum(s.t_fwd_incl, s.t_bwd_incl) || 0), 0);
    excl = finite(total) ? Math.max(total - inKids, 0) : null;
  } else {
    incl = sum(site.t_fwd_incl, site.t_bwd_incl);
    excl = sum(site.t_fwd_excl, site.t_bwd_excl);
  }
  cell(tr, isRoot ? 1 : finite(site.calls) ? site.calls : "–", "nba-num");
  const inclCell = cell(tr, fmtTime(incl), "nba-num nba-time");
  if (finite(incl) && finite(total) && total > 0) {
    const frac = Math.min(Math.max(incl / total, 0), 1);
    inclCell.style.setProperty("--nba-frac", frac.toFixed(3));
    if (frac >= 0.5 && !isRoot) tr.classList.add("nba-hot");
  }
  cell(tr, fmtTime(excl), "nba-num");
  const checked = placement[node.id] !== false;
  cell(tr, isRoot ? "–" : isFree(site, checked) ? "free" : fmtTime(recomputeTime(site)), "nba-num");
  cell(tr, isRoot ? "–" : fmtBytes(site.snapshot_bytes), "nba-num");
  const tapeCell = cell(tr, isRoot ? "–" : fmtBytes(site.tape_bytes), "nba-num nba-bytes");
  if (!isRoot && finite(site.tape_bytes) && view.maxTape > 0) {
    tapeCell.style.setProperty("--nba-frac", Math.min(site.tape_bytes / view.maxTape, 1).toFixed(3));
  }
  cell(tr, isRoot ? "–" : fmtTime(site.delta_t), "nba-num");
  const dpk = cell(tr, isRoot ? "–" : signed(fmtBytes(site.delta_pk), site.delta_pk), "nba-num");
  if (!isRoot && finite(site.delta_pk)) {
    dpk.classList.add(site.delta_pk > 0 ? "nba-mem-up" : site.delta_pk < 0 ? "nba-mem-down" : "nba-mem-flat");
  }
  tr.addEventListener("click", () => view.select(node.id));
  tr.addEventListener("keydown", (event) => view.rowKey(event, info));
  return tr;
}

// -- the time / memory chart ---------------------------------------------------------------

const CHART = { width: 340, height: 214, left: 62, right: 12, top: 16, bottom: 34 };

export function chartPoints(front, prediction, suggestion, history) {
  const points = [];
  const seen = new Set();
  const last = history.length ? history[history.length - 1].run : null;
  const frontLabel = last === null ? "Pareto front (predicted)" : `Pareto front (predicted from run #${last})`;
  for (const p of front || []) {
    const key = `${p.time}|${p.peak_bytes}`; // one mark per distinct point of the front
    if (seen.has(key)) continue;
    seen.add(key);
    points.push({ kind: "pareto", time: p.time, peak: p.peak_bytes, measuredIn: p.measured_in || [], label: frontLabel });
  }
  // drawn in this order: the big current-placement ring first, so the suggestion and the
  // measured runs stay visible on top of it
  if (prediction && finite(prediction.time)) {
    points.push({ kind: "current", time: prediction.time, peak: prediction.peak_bytes, label: "current placement (predicted)" });
  }
  if (suggestion && finite(suggestion.time)) {
    points.push({ kind: "suggested", time: suggestion.time, peak: suggestion.peak_bytes, label: "suggestion" });
  }
  history.forEach((run) => {
    const m = run.measured || {};
    const p = run.predicted || {};
    const from = finite(p.time) && finite(p.peak_bytes) ? { time: p.time, peak: p.peak_bytes } : null;
    points.push({ kind: "run", run: run.run, time: m.time, peak: m.peak_bytes, from, label: `run ${run.run} (measured)` });
  });
  return points.filter((p) => finite(p.time) && finite(p.peak));
}

// Round tick values covering [lo, hi]: 1, 2 or 5 times a power of ten apart.
export function niceTicks(lo, hi, count = 4) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= raw);
  const ticks = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(k * step + 0); // + 0: never "-0"
  return ticks;
}

// Axis range with some room around the points; never below zero for quantities that cannot be.
export function extent(values, floor = -Infinity) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const pad = (hi - lo) * 0.08;
  return [Math.max(lo - pad, floor), hi + pad];
}

function drawChart(root, points, budget, pending) {
  const { width, height, left, right, top, bottom } = CHART;
  const chart = svg("svg", { class: "nba-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  chart.appendChild(svg("title", {}, "Adjoint time against peak tape memory"));
  if (!points.length || pending) {
    chart.appendChild(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "nba-axis" },
      pending ? "computing the Pareto front…" : "no data"));
    root.replaceChildren(chart);
    return;
  }
  const predictedRuns = points.filter((p) => p.from).map((p) => p.from);
  const peaks = points.map((p) => p.peak).concat(predictedRuns.map((p) => p.peak));
  // a budget far from every point would squash them into a line: it is then named, not drawn
  const budgetShown = finite(budget) && budget > 0 && budget <= 2 * Math.max(...peaks) && budget >= Math.min(...peaks) / 2;
  const [x0, x1] = extent(points.map((p) => p.time).concat(predictedRuns.map((p) => p.time)), 0);
  const [y0, y1] = extent(peaks.concat(budgetShown ? [budget] : []), 0);
  const sx = (t) => left + ((t - x0) / (x1 - x0)) * (width - left - right);
  const sy = (b) => height - bottom - ((b - y0) / (y1 - y0)) * (height - top - bottom);
  chart.appendChild(svg("rect", { x: left, y: top, width: width - left - right, height: height - top - bottom, class: "nba-plot" }));
  for (const t of niceTicks(x0, x1, 4)) {
    chart.appendChild(svg("line", { x1: sx(t), x2: sx(t), y1: height - bottom, y2: height - bottom + 3, class: "nba-tick" }));
    chart.appendChild(svg("text", { x: sx(t), y: height - bottom + 13, class: "nba-axis", "text-anchor": "middle" }, fmtTime(t)));
  }
  for (const b of niceTicks(y0, y1, 4)) {
    chart.appendChild(svg("line", { x1: left - 3, x2: left, y1: sy(b), y2: sy(b), class: "nba-tick" }));
    chart.appendChild(svg("text", { x: left - 5, y: sy(b) + 3, class: "nba-axis", "text-anchor": "end" }, fmtBytes(b)));
  }
  chart.appendChild(svg("text", { x: (left + width - right) / 2, y: height - 4, class: "nba-axis", "text-anchor": "middle" }, "adjoint time"));
  chart.appendChild(svg("text", { x: 10, y: (top + height - bottom) / 2, class: "nba-axis", "text-anchor": "middle",
    transform: `rotate(-90 10 ${(top + height - bottom) / 2})` }, "peak memory"));
  if (finite(budget) && budget > 0 && !budgetShown) {
    chart.appendChild(svg("text", { x: width - right, y: top - 2, class: "nba-axis nba-budget-label", "text-anchor": "end" },
      `budget ${fmtBytes(budget)} ${budget > y1 ? "↑ above" : "↓ below"} the chart`));
  } else if (budgetShown) {
    chart.appendChild(svg("line", { x1: left, x2: width - right, y1: sy(budget), y2: sy(budget), class: "nba-budget-line" }));
    // the label sits outside the plot, right of its top edge, where no point is drawn
    const label = svg("text", { x: width - right, y: top - 2, class: "nba-axis nba-budget-label", "text-anchor": "end" },
      `- - budget ${fmtBytes(budget)}`);
    chart.appendChild(label);
  }
  for (const p of points) {
    if (p.kind === "run" && p.from) {
      chart.appendChild(svg("line", { x1: sx(p.from.time), y1: sy(p.from.peak), x2: sx(p.time), y2: sy(p.peak), class: "nba-run-error" }));
    }
  }
  // a placement of the front that a run measured: the prediction is joined to the measurement
  // (the front comes from the latest run; an earlier run may have measured it otherwise)
  const runs = new Map(points.filter((p) => p.kind === "run").map((p) => [p.run, p]));
  for (const p of points) {
    for (const n of p.measuredIn || []) {
      const run = runs.get(n);
      if (run) chart.appendChild(svg("line", { x1: sx(p.time), y1: sy(p.peak), x2: sx(run.time), y2: sy(run.peak), class: "nba-front-measured" }));
    }
  }
  const front = points.filter((p) => p.kind === "pareto").sort((a, b) => a.time - b.time);
  if (front.length > 1) {
    chart.appendChild(svg("polyline", { class: "nba-pareto-line", points: front.map((p) => `${sx(p.time)},${sy(p.peak)}`).join(" ") }));
  }
  for (const p of points) {
    const x = sx(p.time);
    const y = sy(p.peak);
    let mark;
    if (p.kind === "run") mark = svg("rect", { x: x - 3.5, y: y - 3.5, width: 7, height: 7, class: "nba-point nba-point-run" });
    else if (p.kind === "suggested") mark = svg("path", { d: `M${x} ${y - 6}L${x + 6} ${y}L${x} ${y + 6}L${x - 6} ${y}Z`, class: "nba-point nba-point-suggested" });
    else if (p.kind === "current") mark = svg("circle", { cx: x, cy: y, r: 7, class: "nba-point nba-point-current" });
    else mark = svg("circle", { cx: x, cy: y, r: 3, class: "nba-point nba-point-pareto" });
    mark.appendChild(svg("title", {}, pointTitle(p, runs)));
    chart.appendChild(mark);
  }
  root.replaceChildren(chart);
}

// A mark's tooltip: what it is and its figures; for a front point a run measured, the measurement too.
export function pointTitle(p, runs) {
  const text = `${p.label || "Pareto front (predicted)"}: ${fmtTime(p.time)}, ${fmtBytes(p.peak)}`;
  const measured = (p.measuredIn || []).map((n) => runs.get(n)).filter(Boolean)
    .map((r) => `run #${r.run} measured this placement: ${fmtTime(r.time)}, ${fmtBytes(r.peak)}`);
  return [text, ...measured].join("; ");
}

// The front and the current point are predictions of the cost model of the last run; each
// measured run is joined to what was predicted for it, so the model's error is in plain sight.
export function legendLabels(history) {
  const last = history.length ? history[history.length - 1].run : null;
  return [["pareto", last === null ? "Pareto front (predicted)" : `Pareto front (predicted from run #${last})`],
    ["current", "current (predicted)"], ["suggested", "suggestion"], ["run", "measured runs ┄ their predictions"]];
}

function legend(history) {
  const box = h("div", "nba-legend");
  for (const [cls, label] of legendLabels(history)) {
    const item = h("span", "nba-legend-item");
    item.appendChild(h("span", `nba-swatch nba-swatch-${cls}`));
    item.appendChild(h("span", null, label));
    box.appendChild(item);
  }
  return box;
}

// -- the line profile ------------------------------------------------------------------------

// Characters of figures before the code on a line-profile table row (lineprof.PREFIX_WIDTH).
export const LINE_PREFIX = 34;

// The line profile's lines, each as {text, row}: a table row (it starts with a line number) wraps
// its long code under the code column instead of widening the panel.
export function lineProfileLines(text) {
  return (text || "").split("\n").map((line) => ({ text: line, row: /^\s*\d+ /.test(line) }));
}

function fillLineProfile(pre, text) {
  const fragment = document.createDocumentFragment();
  for (const { text: line, row } of lineProfileLines(text)) {
    const div = h("div", row ? "nba-lp-row" : "nba-lp-text", line || "\u00a0");
    if (row) div.style.setProperty("--nba-lp-prefix", `${LINE_PREFIX}ch`);
    fragment.appendChild(div);
  }
  pre.replaceChildren(fragment);
}

// -- a view saved with the notebook ------------------------------------------------------------

export const GONE_TEXT = "Saved view: the kernel that made this profile is gone, so nothing here can run or change. " +
  "Run this cell again for the live widget (reruns, line profiles, the code, advice for another budget).";

// Whether the Python side of this view is gone: the view was drawn from the widget state saved
// with the notebook, and the notebook's kernel (if any) is not the one that made the profile.
// Python sends the id of its kernel (kernel_id); the widget manager of JupyterLab and Notebook 7
// knows the notebook's kernel. Elsewhere (no manager kernel to compare with) the view is live.
// The view still asks Python for its code: should Python answer after all (a kernel known to the
// front end by another id), the view is live again at once.
export function kernelGone(model) {
  const made = model.get("kernel_id");
  const manager = model.widget_manager;
  if (!made || !manager || !("kernel" in manager)) return false;
  const kernel = manager.kernel;
  return !kernel || kernel.id !== made;
}

// -- the view --------------------------------------------------------------------------------

export function isLoop(id) {
  return typeof id === "string" && id.endsWith(":for");
}

// A loop's placement value as the snapshots field shows it: 20, 10+5 (5 more on disk), or all.
export function snapshotsText(value) {
  if (value === null || value === undefined) return "all";
  if (typeof value === "object") return value.disk ? `${value.ram}+${value.disk}` : `${value.ram}`;
  return String(value);
}

export function samePlacement(a, b) {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].every((id) => (isLoop(id) ? snapshotsText(a[id]) === snapshotsText(b[id])
    : (a[id] !== false) === (b[id] !== false)));
}

const LOOP_COLUMNS = [
  ["Time loop", "a for ... in range(n) loop of the call tree (caller:line:for)"],
  ["Iterations", "iterations per run of the loop (x runs when its function ran several times)"],
  ["Snapshots", "snapshots of the loop's state it keeps: a number (in memory), S+D (D more on disk), or all (every iteration kept); press Enter"],
  ["Run again", "iterations the schedule runs again, predicted (t(n, S) per run)"],
  ["Snapshot", "bytes one snapshot of the loop's state takes"],
  ["Advice", "the advisor's snapshots for the budget, where they differ"],
];

export function iterationsText(loop) {
  const its = loop.iterations || [];
  if (!its.length) return "0";
  const lo = Math.min(...its);
  const hi = Math.max(...its);
  return (lo === hi ? `${lo}` : `${lo}–${hi}`) + (its.length > 1 ? ` × ${its.length} runs` : "");
}

function loopTable(view, model) {
  const { data, placement, suggestion } = view.state();
  const recomputed = (model.get("prediction") || {}).recomputed || {};
  const advised = suggestion.placement || {};
  const busy = !!model.get("busy");
  const table = h("table", "nba-tree-table nba-loop-table");
  const head = h("tr");
  for (const [label, help] of LOOP_COLUMNS) {
    const th = h("th", null, label);
    th.title = help;
    head.appendChild(th);
  }
  const thead = h("thead");
  thead.appendChild(head);
  table.appendChild(thead);
  const body = h("tbody");
  for (const loop of data.loops || []) {
    const tr = h("tr");
    tr.setAttribute("data-loop", loop.id);
    const name = h("td", "nba-loop-name", `for … in range(n)  ${loop.id}`);
    name.title = loop.modelled ? `line ${loop.lineno} of ${loop.caller}` : `line ${loop.lineno} of ${loop.caller}: ${loop.reason}`;
    tr.appendChild(name);
    tr.appendChild(h("td", "nba-num", iterationsText(loop)));
    const field = h("td");
    const input = document.createElement("input");
    input.type = "text";
    input.className = "nba-snapshots-input";
    const current = loop.id in placement ? placement[loop.id] : loop.default;
    input.value = snapshotsText(current);
    input.defaultValue = input.value;
    input.disabled = busy || view.gone || !loop.modelled;
    input.title = loop.modelled ? LOOP_COLUMNS[2][1] : `every iteration kept: ${loop.reason}`;
    ownKeys(input);
    const send = () => {
      const text = input.value.trim();
      if (text === input.defaultValue) return;
      model.send({ type: "snapshots", loop: loop.id, text });
    };
    input.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter") {
        event.preventDefault();
        send();
      } else if (event.key === "Escape") {
        input.value = input.defaultValue;
        input.blur();
      }
    });
    input.addEventListener("change", send);
    field.appendChild(input);
    tr.appendChild(field);
    tr.appendChild(h("td", "nba-num", loop.id in recomputed ? String(recomputed[loop.id]) : "–"));
    tr.appendChild(h("td", "nba-num", loop.modelled ? fmtBytes(loop.snapshot_bytes) : "–"));
    const wanted = loop.id in advised ? advised[loop.id] : loop.default;
    const advice = suggestion.placement && snapshotsText(wanted) !== snapshotsText(current)
      ? `* ${snapshotsText(wanted)}` : "";
    tr.appendChild(h("td", "nba-advice", advice));
    body.appendChild(tr);
  }
  table.appendChild(body);
  return table;
}

function countSplit(placement) {
  return Object.values(placement || {}).filter((v) => v === false).length;
}

// Relative error of the time model, (measured - predicted) / predicted, on each check: a rerun
// with what was predicted for it ({predicted, measured}, as the profile's model_checks and the
// history's entries are).
export function timeErrors(checks) {
  return (checks || []).map((run) => {
    const p = (run.predicted || {}).time;
    const m = (run.measured || {}).time;
    return finite(p) && finite(m) && p > 0 ? (m - p) / p : null;
  }).filter((e) => e !== null);
}

function pct(x) {
  return `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(Math.abs(x) < 0.1 ? 1 : 0)}%`;
}

// 0.143 -> "14% above", -0.012 -> "1.2% below" (as the text report words it)
export function offset(x) {
  const a = Math.abs(100 * x);
  const size = `${a.toFixed(Number(a.toFixed(1)) < 10 ? 1 : 0)}%`;
  return `${size} ${x > 0 ? "above" : x < 0 ? "below" : "off"}`;
}

// The checks of the cost model: the profile's own (every rerun that led to it, also those made
// outside this widget), else the widget's reruns (the first run's prediction is its own measurement).
export function modelChecks(data, history) {
  return Array.isArray(data.model_checks) ? data.model_checks : (history || []).slice(1);
}

// "expect 78.1 ms–87.4 ms: measured 1.0% below to 14% above its prediction on 2 reruns", or what
// to do to learn the model's accuracy.
export function accuracyText(checks, predicted) {
  const errors = timeErrors(checks);
  if (!errors.length) return "not yet checked: a rerun measures a prediction";
  const lo = Math.min(...errors);
  const hi = Math.max(...errors);
  const range = errors.length === 1 || offset(lo) === offset(hi) ? offset(lo) : `${offset(lo)} to ${offset(hi)}`;
  const measured = `measured ${range} its prediction on ${errors.length} rerun${errors.length === 1 ? "" : "s"}`;
  if (!finite(predicted) || !(predicted > 0)) return measured;
  const [a, b] = [fmtTime(predicted * (1 + lo)), fmtTime(predicted * (1 + hi))];
  return `expect ${a === b ? a : `${a}–${b}`}: ${measured}`;
}

function historyTable(history) {
  const table = h("table", "nba-history");
  const head = h("tr");
  for (const label of ["Run", "Split", "Time: predicted → measured", "Error", "Peak: predicted → measured"]) {
    head.appendChild(h("th", null, label));
  }
  table.appendChild(h("thead")).appendChild(head);
  const body = h("tbody");
  for (let i = history.length - 1; i >= 0; i--) {
    const run = history[i];
    const tr = h("tr", i === history.length - 1 ? "nba-run nba-run-last" : "nba-run");
    const p = run.predicted || {};
    const m = run.measured || {};
    const error = i > 0 && finite(p.time) && finite(m.time) && p.time > 0 ? pct((m.time - p.time) / p.time) : "–";
    for (const text of [`#${run.run}`, countSplit(run.placement), `${fmtTime(p.time)} → ${fmtTime(m.time)}`, error,
      `${fmtBytes(p.peak_bytes)} → ${fmtBytes(m.peak_bytes)}`]) {
      tr.appendChild(h("td", "nba-num", text));
    }
    body.appendChild(tr);
  }
  table.appendChild(body);
  return table;
}

function render({ model, el }) {
  const view = { expanded: new Map(), gone: kernelGone(model) };
  const root = h("div", "nba-widget");
  root.classList.toggle("nba-gone", view.gone);
  const notice = h("div", "nba-gone-notice", GONE_TEXT);
  notice.setAttribute("role", "status");
  notice.hidden = !view.gone;
  root.appendChild(notice);

  // header: whole-run figures, budget, prediction, suggestion, actions
  const header = h("div", "nba-header");
  const title = h("div", "nba-title");
  const titleName = h("span", "nba-root-name");
  title.appendChild(h("span", null, "Adjoint profile of "));
  title.appendChild(titleName);
  header.appendChild(title);
  const stats = h("div", "nba-stats");
  const statValue = (label) => {
    const [box, value] = stat(label);
    stats.appendChild(box);
    return value;
  };
  const primal = statValue("Primal");
  const adjoint = statValue("Adjoint");
  const ratio = statValue("Ratio");
  const peak = statValue("Peak");
  const budgetBox = h("label", "nba-stat nba-budget");
  budgetBox.appendChild(h("span", "nba-stat-label", "Budget"));
  const budgetInput = document.createElement("input");
  budgetInput.type = "text";
  budgetInput.className = "nba-budget-input";
  budgetInput.title = "memory budget for the advisor, e.g. 200MB; press Enter";
  // Keys typed here are the field's: JupyterLab's notebook shortcuts (Enter, arrows, "a", "d d", ...)
  // must not see them, else Enter would be taken by the notebook and never reach the field.
  ownKeys(budgetInput);
  view.sentBudget = null; // the text last sent to Python, so that Enter and the change after it send once
  const commitBudget = () => {
    const text = budgetInput.value.trim();
    if (text === view.sentBudget) return;
    view.sentBudget = text;
    // the answer to this budget replaces the complaint about the last one: hide it until Python answers
    view.budgetPending = true;
    renderError();
    model.send({ type: "budget", text });
  };
  budgetInput.addEventListener("keydown", (event) => {
    event.stopPropagation();
    if (event.key === "Enter") {
      event.preventDefault();
      commitBudget();
    } else if (event.key === "Escape") {
      budgetInput.value = fmtBytes(model.get("budget"));
      budgetInput.blur();
    }
  });
  budgetInput.addEventListener("change", commitBudget);
  // leaving the field shows the budget in force again (a rejected text stays only while it is edited)
  budgetInput.addEventListener("blur", () => {
    budgetInput.value = fmtBytes(model.get("budget"));
    view.sentBudget = budgetInput.value;
  });
  budgetBox.appendChild(budgetInput);
  stats.appendChild(budgetBox);
  header.appendChild(stats);

  const plan = h("div", "nba-plan");
  const [predBox, predicted] = stat("Current placement (predicted)", "nba-predicted");
  const accuracy = h("span", "nba-accuracy");
  predBox.appendChild(accuracy);
  const [sugBox, suggested] = stat("Suggestion", "nba-suggested");
  const [runBox, measured] = stat("Last run (measured)", "nba-measured");
  plan.appendChild(predBox);
  plan.appendChild(sugBox);
  plan.appendChild(runBox);
  const actions = h("div", "nba-actions");
  const applyButton = button("Apply suggestions", "nba-apply", () => model.send({ type: "apply" }));
  const rerunButton = button("Rerun", "nba-rerun", () => model.send({ type: "rerun" }));
  // a profile read from JSON keeps the measurements only: nothing to rerun or line-profile
  const NOT_LIVE = "this profile was read from a file: it has no function to run (profile it again to measure)";
  const status = h("span", "nba-status");
  status.setAttribute("aria-live", "polite");
  actions.appendChild(applyButton);
  actions.appendChild(rerunButton);
  actions.appendChild(status);
  header.appendChild(plan);
  header.appendChild(actions);
  root.appendChild(header);

  const errorBox = h("div", "nba-error");
  const errorText = h("span", "nba-error-text");
  errorBox.appendChild(errorText);
  errorBox.appendChild(button("×", "nba-dismiss", () => {
    model.set("error", "");
    model.save_changes();
  }));
  root.appendChild(errorBox);

  // the call tree, full width; below it the chart and run history beside the code panel
  const treePane = h("div", "nba-tree");
  const table = h("table", "nba-tree-table");
  const thead = h("thead");
  const headRow = h("tr");
  for (const [label, help] of COLUMNS) {
    const th = h("th", null, label);
    th.title = help;
    headRow.appendChild(th);
  }
  thead.appendChild(headRow);
  table.appendChild(thead);
  const tbody = h("tbody");
  table.appendChild(tbody);
  treePane.appendChild(table);
  root.appendChild(treePane);
  // the time loops, each with its snapshots field (hidden when the call tree has none)
  const loopPane = h("div", "nba-loops");
  root.appendChild(loopPane);
  const lower = h("div", "nba-lower");
  const side = h("div", "nba-side");
  const chartBox = h("div", "nba-chart-box");
  side.appendChild(chartBox);
  const legendBox = h("div", "nba-legend-box");
  side.appendChild(legendBox);
  const historyBox = h("div", "nba-history-box");
  side.appendChild(historyBox);
  lower.appendChild(side);
  root.appendChild(lower);

  // code panel
  const codePanel = h("div", "nba-code");
  const codeHead = h("div", "nba-code-head");
  const codeTitle = h("span", "nba-code-title");
  // "Line profile" asks Python for it; while it is shown the same button goes back to the code
  const lineButton = button("Line profile", "nba-line-profile", () => {
    if (model.get("line_profile")) {
      model.set("line_profile", "");
      model.save_changes();
    } else {
      view.scrollToLines = true;
      model.send({ type: "line_profile" });
    }
  });
  codeHead.appendChild(codeTitle);
  codeHead.appendChild(lineButton);
  codePanel.appendChild(codeHead);
  const fwdCode = h("pre", "nba-source nba-source-fwd");
  const bwdCode = h("pre", "nba-source nba-source-bwd");
  const lineCode = h("pre", "nba-source nba-line-profile-text");
  // the line profile takes the place of the code boxes, at the top of the panel
  codePanel.appendChild(lineCode);
  codePanel.appendChild(fwdCode);
  codePanel.appendChild(bwdCode);
  lower.appendChild(codePanel);

  view.state = () => {
    const data = model.get("profile_data") || {};
    const sites = new Map((data.sites || []).map((s) => [s.id, s]));
    return { data, sites, placement: model.get("placement") || {}, suggestion: model.get("suggestion") || {},
      selected: model.get("selected"), busy: !!model.get("busy") };
  };
  view.setCheckpoint = (id, checkpointed) => {
    model.set("placement", { ...(model.get("placement") || {}), [id]: checkpointed });
    model.save_changes();
  };
  view.select = (id, focus) => {
    if (model.get("selected") !== id) {
      model.set("selected", id);
      model.save_changes();
    }
    view.updateSelection();
    if (focus) {
      view.scrollToSelected = true;
      view.focusSelected();
    }
  };
  // A new selection restyles the rows in place: the focused row is never replaced under the keyboard.
  view.updateSelection = () => {
    const selected = model.get("selected");
    for (const row of Array.from(tbody.children || [])) {
      const on = row.getAttribute("data-node") === selected;
      row.classList.toggle("nba-selected", on);
      row.tabIndex = on ? 0 : -1;
    }
  };
  const adviceCounts = () => {
    const { data, placement, suggestion } = view.state();
    const advised = suggestion.placement || {};
    return adviceBelow(data.tree, (id) => id in advised && advised[id] !== (placement[id] !== false));
  };
  // A new suggestion opens the collapsed nodes above its changes (once; the user may close them again).
  view.revealAdvice = () => {
    for (const [path, n] of adviceCounts()) {
      if (n > 0 && !view.expanded.has(path)) view.expanded.set(path, true);
    }
  };
  view.reveal = true;
  view.renderTree = () => {
    const { data } = view.state();
    if (view.reveal) {
      view.reveal = false;
      view.revealAdvice();
    }
    view.maxTape = (data.sites || []).reduce((m, s) => (finite(s.tape_bytes) ? Math.max(m, s.tape_bytes) : m), 0);
    const fragment = document.createDocumentFragment();
    view.rows = visibleRows(data.tree, view.expanded, adviceCounts());
    for (const info of view.rows) fragment.appendChild(treeRow(view, info));
    const focused = tbody.contains && tbody.contains(document.activeElement);
    tbody.replaceChildren(fragment);
    if (focused) view.focusSelected();
  };
  // Re-rendering replaces the rows: the focus goes back to the selected one, without scrolling the
  // notebook (a keyboard move brings the row into view itself).
  view.focusSelected = () => {
    const row = Array.from(tbody.children || []).find((r) => r.getAttribute("data-node") === model.get("selected"));
    if (row && row.focus) row.focus({ preventScroll: true });
    if (row && view.scrollToSelected && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
    view.scrollToSelected = false;
  };
  // Keyboard: arrows move the selection (left / right collapse and expand), Space toggles the checkpoint.
  const ROW_KEYS = new Set(["ArrowDown", "ArrowUp", "ArrowRight", "ArrowLeft", " ", "Spacebar", "Enter"]);
  view.rowKey = (event, info) => {
    if (!ROW_KEYS.has(event.key)) return;
    // first, so that JupyterLab never sees the key (it would move between cells on the arrows)
    event.preventDefault();
    event.stopPropagation();
    const index = view.rows.findIndex((r) => r.path === info.path);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const next = view.rows[index + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) view.select(next.node.id, true);
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      if (info.hasChildren && info.open !== (event.key === "ArrowRight")) {
        view.expanded.set(info.path, event.key === "ArrowRight");
        view.renderTree();
      }
    } else if (event.key === "Enter") {
      view.select(info.node.id, true);
    } else if (info.node.id !== ROOT_ID && !model.get("busy") && !view.gone) {
      view.setCheckpoint(info.node.id, (model.get("placement") || {})[info.node.id] === false);
    }
  };


  const renderHeader = () => {
    const data = model.get("profile_data") || {};
    const budget = model.get("budget");
    const prediction = model.get("prediction") || {};
    const suggestion = model.get("suggestion") || {};
    const history = model.get("history") || [];
    const busy = !!model.get("busy");
    titleName.textContent = data.root || "";
    primal.textContent = fmtTime(data.primal_time);
    adjoint.textContent = fmtTime(data.adjoint_time);
    ratio.textContent = finite(data.ratio) ? `${data.ratio.toFixed(2)}×` : "–";
    peak.textContent = fmtBytes(data.peak_bytes);
    if (document.activeElement !== budgetInput) {
      budgetInput.value = fmtBytes(budget);
      view.sentBudget = budgetInput.value;
    }
    predicted.textContent = `${fmtTime(prediction.time)} · ${fmtBytes(prediction.peak_bytes)} · ${countSplit(model.get("placement"))} split`;
    // the full texts are also tooltips: a narrow box cuts them short rather than reflowing the view
    for (const value of [primal, adjoint, peak]) value.title = value.textContent;
    predicted.title = finite(prediction.time) ? `${prediction.time} s, ${prediction.peak_bytes} bytes` : "";
    accuracy.textContent = accuracyText(modelChecks(data, history), prediction.time);
    accuracy.title = `${accuracy.textContent}. The range to expect comes from how far the measured adjoint time of each rerun was from its prediction (the cost model's own accuracy).`;
    predBox.classList.toggle("nba-over-budget", finite(prediction.peak_bytes) && finite(budget) && prediction.peak_bytes > budget);
    const advising = !!model.get("advising");
    suggested.textContent = suggestion.placement
      ? `${fmtTime(suggestion.time)} · ${fmtBytes(suggestion.peak_bytes)} · ${countSplit(suggestion.placement)} split (${suggestion.method})`
      : advising ? (view.gone ? "not computed before the notebook was saved" : "computing…") : "–";
    const last = history.length ? history[history.length - 1] : null;
    measured.textContent = last
      ? `${fmtTime(last.measured.time)} · ${fmtBytes(last.measured.peak_bytes)} (run #${last.run})`
      : "–";
    const same = suggestion.placement && samePlacement(suggestion.placement, model.get("placement") || {});
    suggested.title = suggested.textContent;
    measured.title = measured.textContent;
    applyButton.disabled = busy || view.gone || !suggestion.placement || same;
    applyButton.title = same ? "the placement is already the suggestion" : "set the placement to the suggestion (nothing runs)";
    const live = model.get("live") !== false && !view.gone;
    const why = view.gone ? GONE_TEXT : NOT_LIVE;
    rerunButton.disabled = busy || !live;
    rerunButton.title = live ? "measure the current placement" : why;
    lineButton.disabled = busy || !live;
    lineButton.title = live ? "line profile of the selected function's adjoint" : why;
    budgetInput.disabled = view.gone;
    if (view.gone) applyButton.title = GONE_TEXT;
    status.textContent = busy ? "running…" : "";
    root.classList.toggle("nba-busy", busy);
  };
  const renderSide = () => {
    const history = model.get("history") || [];
    const front = model.get("pareto") || [];
    drawChart(chartBox, chartPoints(front, model.get("prediction"), model.get("suggestion"), history),
      model.get("budget"), !!model.get("advising") && !view.gone);
    historyBox.replaceChildren(historyTable(history));
    legendBox.replaceChildren(legend(history));
  };
  // The code of the selected node: asked for once per selection (and again for a new profile).
  view.code = null;
  view.codeAsked = null;
  const askCode = () => {
    const selected = model.get("selected");
    if ((view.code && view.code.node === selected) || view.codeAsked === selected) return;
    view.codeAsked = selected;
    model.send({ type: "code", node: selected });
  };
  const onMessage = (msg) => {
    if (view.gone) revive(); // Python answered: the view is live after all
    if (!msg || msg.type !== "code" || msg.node !== model.get("selected")) return; // a stale answer
    view.code = msg;
    view.codeAsked = null;
    renderCode();
  };
  model.on("msg:custom", onMessage);
  const renderCode = () => {
    askCode();
    const current = view.code && view.code.node === model.get("selected");
    const code = current ? view.code : {};
    codeTitle.textContent = code.function ? `Generated adjoint of ${code.function}`
      : view.gone ? "The generated code is not saved with the notebook: run the cell again to see it"
        : view.codeAsked !== null ? "Loading the adjoint code…" : "Select a node to see its adjoint code";
    fwdCode.textContent = code.fwd || "";
    bwdCode.textContent = code.bwd || "";
    const lines = model.get("line_profile") || "";
    fwdCode.hidden = !code.fwd || !!lines;
    bwdCode.hidden = !code.bwd || !!lines;
    if (lines !== view.linesShown) {
      view.linesShown = lines;
      fillLineProfile(lineCode, lines);
    }
    lineCode.hidden = !lines;
    // a line profile is a wide table: it takes the chart's place too, the whole width of the widget
    lower.classList.toggle("nba-lines", !!lines);
    lineButton.textContent = lines ? "Show code" : "Line profile";
    if (lines && view.scrollToLines) {
      view.scrollToLines = false;
      if (codePanel.scrollIntoView) codePanel.scrollIntoView({ block: "nearest" });
    }
  };
  const renderError = () => {
    let message = model.get("error") || "";
    // a complaint about the last budget is hidden while the next one is on its way to Python
    if (view.budgetPending && message.startsWith(BUDGET_ERROR)) message = "";
    errorText.textContent = message;
    errorBox.hidden = !message;
    budgetInput.classList.toggle("nba-invalid", message.startsWith(BUDGET_ERROR));
  };

  const renderLoops = () => {
    const loops = (model.get("profile_data") || {}).loops || [];
    loopPane.hidden = !loops.length;
    // a field being edited keeps its text until it is sent
    if (loopPane.contains && loopPane.contains(document.activeElement) && !model.get("busy")) {
      view.loopsPending = true;
      return;
    }
    view.loopsPending = false;
    loopPane.replaceChildren(...(loops.length ? [loopTable(view, model)] : []));
  };
  loopPane.addEventListener("focusout", () => {
    if (view.loopsPending) queueMicrotask(renderLoops);
  });
  const renderers = { loops: renderLoops, tree: view.renderTree, selection: view.updateSelection, header: renderHeader, side: renderSide, code: renderCode, error: renderError };
  const dependencies = {
    profile_data: ["tree", "header", "side", "loops"], placement: ["tree", "header", "loops"],
    suggestion: ["tree", "header", "side", "loops"], selected: ["selection", "code"],
    prediction: ["header", "side", "loops"], budget: ["header", "side", "error"],
    history: ["header", "side"], busy: ["header", "tree", "loops"], line_profile: ["code"], error: ["error"],
    pareto: ["side"], advising: ["header", "side"], live: ["header"],
  };
  // Python's answer to a budget: a new budget, a new error, or the old error cleared
  const answers = new Set(["budget", "error", "suggestion"]);
  // Several traits change together (a rerun updates five): redraw each part once per burst.
  const dirty = new Set();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (const part of dirty) renderers[part]();
    dirty.clear();
  };
  const handlers = Object.entries(dependencies).map(([name, parts]) => {
    const handler = () => {
      if (answers.has(name)) view.budgetPending = false;
      if (name === "suggestion") view.reveal = true;
      if (name === "profile_data") {
        // a new profile (a rerun) may have new code: ask for it again
        view.code = null;
        view.codeAsked = null;
        dirty.add("code");
      }
      parts.forEach((p) => dirty.add(p));
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    };
    model.on(`change:${name}`, handler);
    return [name, handler];
  });

  const revive = () => {
    view.gone = false;
    notice.hidden = true;
    root.classList.remove("nba-gone");
    for (const draw of Object.values(renderers)) draw();
  };
  for (const draw of Object.values(renderers)) draw();
  el.appendChild(root);
  // large trees: the tree is on screen first; the suggestion and the Pareto front follow
  if (model.get("advising")) model.send({ type: "advise" }); // (unanswered in a saved view: nothing lost)
  return () => {
    for (const [name, handler] of handlers) model.off(`change:${name}`, handler);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
