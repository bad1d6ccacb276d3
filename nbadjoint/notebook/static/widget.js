// Call-tree widget of an nbadjoint Profile (anywidget front-end module).
//
// State comes from the Python side (nbadjoint/notebook/widget.py): profile_data (Profile.to_dict()),
// placement, prediction, suggestion, budget, history, selected, code, line_profile, error, busy.
// The view edits `placement` and `selected` directly and asks Python for everything else with
// model.send({type: "apply" | "rerun" | "line_profile" | "budget"}).
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

function button(label, cls, onClick) {
  const el = h("button", `nba-button ${cls}`, label);
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

// Rows currently shown: depth-first, children of collapsed nodes skipped (never built).
export function visibleRows(tree, expanded) {
  const rows = [];
  if (!tree) return rows;
  const stack = [[tree, 0, "0"]];
  while (stack.length) {
    const [node, depth, path] = stack.pop();
    const kids = node.children || [];
    const open = expanded.has(path) ? expanded.get(path) : depth < OPEN_DEPTH;
    rows.push({ node, depth, path, open, hasChildren: kids.length > 0 });
    if (open) {
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1, `${path}/${i}`]);
    }
  }
  return rows;
}

const COLUMNS = [
  ["Call site", "callee and line; click to see its adjoint code"],
  ["Calls", "dynamic instances of this call site"],
  ["Incl.", "forward + backward sweep time, callees included"],
  ["Excl.", "forward + backward sweep time, callees excluded"],
  ["Recompute", "primal rerun + snapshot time paid because the site is checkpointed"],
  ["Snapshot", "bytes of the snapshot written at the call"],
  ["Tape", "bytes pushed by the callee's forward sweep"],
  ["ΔT", "run time saved by not checkpointing this site"],
  ["ΔPk", "change of the run's peak stack memory if this site is not checkpointed"],
  ["Ckpt", "checkpointed (joint) when ticked, split when not"],
  ["Advice", "where the advisor's placement for the budget differs"],
];

function cell(row, text, cls) {
  const td = h("td", cls, text);
  row.appendChild(td);
  return td;
}

function treeRow(view, info) {
  const { node, depth, path, open, hasChildren } = info;
  const { sites, data, placement, suggestion, selected } = view.state();
  const isRoot = node.id === ROOT_ID;
  const site = sites.get(node.id) || {};
  const tr = h("tr", "nba-row");
  if (node.id === selected) tr.classList.add("nba-selected");
  tr.setAttribute("data-node", node.id);

  const name = cell(tr, null, "nba-name");
  name.style.paddingLeft = `${depth * INDENT_PX + 4}px`;
  if (hasChildren) {
    const twisty = button(open ? "▾" : "▸", "nba-twisty", (event) => {
      event.stopPropagation();
      view.expanded.set(path, !open);
      view.renderTree();
    });
    twisty.title = open ? "collapse" : "expand";
    name.appendChild(twisty);
  } else {
    name.appendChild(h("span", "nba-twisty-space"));
  }
  name.appendChild(h("span", "nba-callee", node.callee));
  if (!isRoot && site.lineno !== undefined) name.appendChild(h("span", "nba-lineno", `:${site.lineno}`));
  name.title = isRoot ? `root: ${node.callee}` : node.id;

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
  cell(tr, isRoot ? "–" : fmtTime(sum(site.t_primal, site.t_snapshot)), "nba-num");
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

  const toggleCell = cell(tr, null, "nba-toggle");
  const badgeCell = cell(tr, null, "nba-advice");
  if (!isRoot) {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "nba-checkpoint";
    box.checked = placement[node.id] !== false;
    box.title = box.checked ? "checkpointed: click to split" : "split: click to checkpoint";
    box.addEventListener("click", (event) => event.stopPropagation());
    box.addEventListener("change", () => view.setCheckpoint(node.id, box.checked));
    toggleCell.appendChild(box);
    const advised = suggestion && suggestion.placement ? suggestion.placement[node.id] : undefined;
    if (advised !== undefined && advised !== (placement[node.id] !== false)) {
      const badge = h("span", `nba-badge ${advised ? "nba-badge-checkpoint" : "nba-badge-split"}`,
        advised ? "checkpoint" : "split");
      const reason = (suggestion.ranking || []).find((r) => r.id === node.id);
      badge.title = reason && reason.reason ? reason.reason : "the advisor's placement differs here";
      badgeCell.appendChild(badge);
    }
  }
  tr.addEventListener("click", () => view.select(node.id));
  return tr;
}

// -- the time / memory chart ---------------------------------------------------------------

const CHART = { width: 340, height: 210, left: 62, right: 12, top: 12, bottom: 34 };

export function chartPoints(data, prediction, suggestion, history) {
  const points = [];
  for (const p of (data && data.pareto) || []) points.push({ kind: "pareto", time: p.time, peak: p.peak_bytes });
  history.forEach((run) => {
    const m = run.measured || {};
    points.push({ kind: "run", time: m.time, peak: m.peak_bytes, label: `run ${run.run}` });
  });
  if (suggestion && finite(suggestion.time)) {
    points.push({ kind: "suggested", time: suggestion.time, peak: suggestion.peak_bytes, label: "suggestion" });
  }
  if (prediction && finite(prediction.time)) {
    points.push({ kind: "current", time: prediction.time, peak: prediction.peak_bytes, label: "current placement (predicted)" });
  }
  return points.filter((p) => finite(p.time) && finite(p.peak));
}

function extent(values) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function drawChart(root, points, budget) {
  const { width, height, left, right, top, bottom } = CHART;
  const chart = svg("svg", { class: "nba-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  chart.appendChild(svg("title", {}, "Adjoint time against peak tape memory"));
  if (!points.length) {
    chart.appendChild(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "nba-axis" }, "no data"));
    root.replaceChildren(chart);
    return;
  }
  const [x0, x1] = extent(points.map((p) => p.time));
  const [y0, y1] = extent(points.map((p) => p.peak).concat(finite(budget) && budget > 0 ? [budget] : []));
  const sx = (t) => left + ((t - x0) / (x1 - x0)) * (width - left - right);
  const sy = (b) => height - bottom - ((b - y0) / (y1 - y0)) * (height - top - bottom);
  chart.appendChild(svg("rect", { x: left, y: top, width: width - left - right, height: height - top - bottom, class: "nba-plot" }));
  chart.appendChild(svg("text", { x: left, y: height - bottom + 14, class: "nba-axis" }, fmtTime(x0)));
  chart.appendChild(svg("text", { x: width - right, y: height - bottom + 14, class: "nba-axis", "text-anchor": "end" }, fmtTime(x1)));
  chart.appendChild(svg("text", { x: (left + width - right) / 2, y: height - 4, class: "nba-axis", "text-anchor": "middle" }, "adjoint time"));
  chart.appendChild(svg("text", { x: left - 4, y: height - bottom, class: "nba-axis", "text-anchor": "end" }, fmtBytes(y0)));
  chart.appendChild(svg("text", { x: left - 4, y: top + 8, class: "nba-axis", "text-anchor": "end" }, fmtBytes(y1)));
  chart.appendChild(svg("text", { x: 10, y: (top + height - bottom) / 2, class: "nba-axis", "text-anchor": "middle",
    transform: `rotate(-90 10 ${(top + height - bottom) / 2})` }, "peak memory"));
  if (finite(budget) && budget > 0) {
    chart.appendChild(svg("line", { x1: left, x2: width - right, y1: sy(budget), y2: sy(budget), class: "nba-budget-line" }));
    chart.appendChild(svg("text", { x: width - right - 2, y: sy(budget) - 3, class: "nba-axis", "text-anchor": "end" }, "budget"));
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
    else if (p.kind === "current") mark = svg("circle", { cx: x, cy: y, r: 6, class: "nba-point nba-point-current" });
    else mark = svg("circle", { cx: x, cy: y, r: 3, class: "nba-point nba-point-pareto" });
    mark.appendChild(svg("title", {}, `${p.label || "Pareto front"}: ${fmtTime(p.time)}, ${fmtBytes(p.peak)}`));
    chart.appendChild(mark);
  }
  root.replaceChildren(chart);
}

function legend() {
  const box = h("div", "nba-legend");
  for (const [cls, label] of [["pareto", "Pareto front"], ["current", "current (predicted)"],
    ["suggested", "suggestion"], ["run", "measured runs"]]) {
    const item = h("span", "nba-legend-item");
    item.appendChild(h("span", `nba-swatch nba-swatch-${cls}`));
    item.appendChild(h("span", null, label));
    box.appendChild(item);
  }
  return box;
}

// -- the view --------------------------------------------------------------------------------

function countSplit(placement) {
  return Object.values(placement || {}).filter((v) => v === false).length;
}

function historyTable(history) {
  const table = h("table", "nba-history");
  const head = h("tr");
  for (const label of ["Run", "Split", "Time: predicted → measured", "Peak: predicted → measured"]) {
    head.appendChild(h("th", null, label));
  }
  table.appendChild(h("thead")).appendChild(head);
  const body = h("tbody");
  for (let i = history.length - 1; i >= 0; i--) {
    const run = history[i];
    const tr = h("tr", i === history.length - 1 ? "nba-run nba-run-last" : "nba-run");
    const p = run.predicted || {};
    const m = run.measured || {};
    for (const text of [`#${run.run}`, countSplit(run.placement), `${fmtTime(p.time)} → ${fmtTime(m.time)}`,
      `${fmtBytes(p.peak_bytes)} → ${fmtBytes(m.peak_bytes)}`]) {
      tr.appendChild(h("td", "nba-num", text));
    }
    body.appendChild(tr);
  }
  table.appendChild(body);
  return table;
}

function render({ model, el }) {
  const view = { expanded: new Map() };
  const root = h("div", "nba-widget");

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
  budgetInput.addEventListener("change", () => {
    // a new budget replaces the complaint about the last one (Python sets it again if this one is bad too)
    if ((model.get("error") || "").startsWith(BUDGET_ERROR)) {
      model.set("error", "");
      model.save_changes();
    }
    model.send({ type: "budget", text: budgetInput.value });
  });
  budgetBox.appendChild(budgetInput);
  stats.appendChild(budgetBox);
  header.appendChild(stats);

  const plan = h("div", "nba-plan");
  const [predBox, predicted] = stat("Current placement (predicted)", "nba-predicted");
  const [sugBox, suggested] = stat("Suggestion", "nba-suggested");
  const [runBox, measured] = stat("Last run (measured)", "nba-measured");
  plan.appendChild(predBox);
  plan.appendChild(sugBox);
  plan.appendChild(runBox);
  const actions = h("div", "nba-actions");
  const applyButton = button("Apply suggestions", "nba-apply", () => model.send({ type: "apply" }));
  const rerunButton = button("Rerun", "nba-rerun", () => model.send({ type: "rerun" }));
  const status = h("span", "nba-status");
  actions.appendChild(applyButton);
  actions.appendChild(rerunButton);
  actions.appendChild(status);
  plan.appendChild(actions);
  header.appendChild(plan);
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
  const lower = h("div", "nba-lower");
  const side = h("div", "nba-side");
  const chartBox = h("div", "nba-chart-box");
  side.appendChild(chartBox);
  side.appendChild(legend());
  const historyBox = h("div", "nba-history-box");
  side.appendChild(historyBox);
  lower.appendChild(side);
  root.appendChild(lower);

  // code panel
  const codePanel = h("div", "nba-code");
  const codeHead = h("div", "nba-code-head");
  const codeTitle = h("span", "nba-code-title");
  const lineButton = button("Line profile", "nba-line-profile", () => model.send({ type: "line_profile" }));
  codeHead.appendChild(codeTitle);
  codeHead.appendChild(lineButton);
  codePanel.appendChild(codeHead);
  const fwdCode = h("pre", "nba-source nba-source-fwd");
  const bwdCode = h("pre", "nba-source nba-source-bwd");
  const lineCode = h("pre", "nba-source nba-line-profile-text");
  codePanel.appendChild(fwdCode);
  codePanel.appendChild(bwdCode);
  codePanel.appendChild(lineCode);
  lower.appendChild(codePanel);

  view.state = () => {
    const data = model.get("profile_data") || {};
    const sites = new Map((data.sites || []).map((s) => [s.id, s]));
    return { data, sites, placement: model.get("placement") || {}, suggestion: model.get("suggestion") || {},
      selected: model.get("selected") };
  };
  view.setCheckpoint = (id, checkpointed) => {
    model.set("placement", { ...(model.get("placement") || {}), [id]: checkpointed });
    model.save_changes();
  };
  view.select = (id) => {
    if (model.get("selected") === id) return;
    model.set("selected", id);
    model.save_changes();
  };
  view.renderTree = () => {
    const { data } = view.state();
    view.maxTape = (data.sites || []).reduce((m, s) => (finite(s.tape_bytes) ? Math.max(m, s.tape_bytes) : m), 0);
    const fragment = document.createDocumentFragment();
    for (const info of visibleRows(data.tree, view.expanded)) fragment.appendChild(treeRow(view, info));
    tbody.replaceChildren(fragment);
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
    if (document.activeElement !== budgetInput) budgetInput.value = fmtBytes(budget);
    predicted.textContent = `${fmtTime(prediction.time)} · ${fmtBytes(prediction.peak_bytes)} · ${countSplit(model.get("placement"))} split`;
    predicted.title = finite(prediction.time) ? `${prediction.time} s, ${prediction.peak_bytes} bytes` : "";
    predBox.classList.toggle("nba-over-budget", finite(prediction.peak_bytes) && finite(budget) && prediction.peak_bytes > budget);
    suggested.textContent = suggestion.placement
      ? `${fmtTime(suggestion.time)} · ${fmtBytes(suggestion.peak_bytes)} · ${countSplit(suggestion.placement)} split (${suggestion.method})`
      : "–";
    const last = history.length ? history[history.length - 1] : null;
    measured.textContent = last
      ? `${fmtTime(last.measured.time)} · ${fmtBytes(last.measured.peak_bytes)} (run #${last.run})`
      : "–";
    applyButton.disabled = busy || !suggestion.placement;
    rerunButton.disabled = busy;
    lineButton.disabled = busy;
    status.textContent = busy ? "running…" : "";
    root.classList.toggle("nba-busy", busy);
  };
  const renderSide = () => {
    const history = model.get("history") || [];
    drawChart(chartBox, chartPoints(model.get("profile_data"), model.get("prediction"), model.get("suggestion"), history),
      model.get("budget"));
    historyBox.replaceChildren(historyTable(history));
  };
  const renderCode = () => {
    const code = model.get("code") || {};
    codeTitle.textContent = code.function ? `Generated adjoint of ${code.function}` : "Select a node to see its adjoint code";
    fwdCode.textContent = code.fwd || "";
    bwdCode.textContent = code.bwd || "";
    fwdCode.hidden = !code.fwd;
    bwdCode.hidden = !code.bwd;
    const lines = model.get("line_profile") || "";
    lineCode.textContent = lines;
    lineCode.hidden = !lines;
  };
  const renderError = () => {
    const message = model.get("error") || "";
    errorText.textContent = message;
    errorBox.hidden = !message;
    budgetInput.classList.toggle("nba-invalid", message.startsWith(BUDGET_ERROR));
  };

  const renderers = { tree: view.renderTree, header: renderHeader, side: renderSide, code: renderCode, error: renderError };
  const dependencies = {
    profile_data: ["tree", "header", "side"], placement: ["tree", "header"], suggestion: ["tree", "header", "side"],
    selected: ["tree"], prediction: ["header", "side"], budget: ["header", "side"], history: ["header", "side"],
    busy: ["header"], code: ["code"], line_profile: ["code"], error: ["error"],
  };
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
      parts.forEach((p) => dirty.add(p));
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    };
    model.on(`change:${name}`, handler);
    return [name, handler];
  });

  for (const draw of Object.values(renderers)) draw();
  el.appendChild(root);
  return () => {
    for (const [name, handler] of handlers) model.off(`change:${name}`, handler);
  };
}

export default { render };
