"""Side-by-side benchmark of nbadjoint against autograd (and JAX where installed).

    python benchmarks/run.py            # full run (a few minutes), writes benchmarks/results/latest.json
    python benchmarks/run.py --quick    # smoke run (well under a minute), writes results/quick.json
    python benchmarks/run.py --only heat,stommel    # some of the workloads

Workloads (the models of examples/):
  burgers  vectorised explicit time stepping: 1-D viscous Burgers, 10^4 cells, 300 steps
  lorenz   scalar code: Lorenz-96 (10 variables) with RK4 in Python floats, 3000 steps
  ocean    a deep call tree: the MITgcm-flavoured box ocean, 64 x 64, 100 steps, 20 call sites
  heat     scalar list code: the heat equation on a Python list of 200 floats, 300 steps
           (benchmarks/list_heat.py)
  stommel  scalar element writes: Stommel's two-box model in preallocated 2-entry arrays, 20,000
           steps (benchmarks/box_stommel.py; autograd cannot write into arrays: its row says so)

For each, in one process: the primal, nba.grad (default placement: every call checkpointed, and all
split; these three are timed in turn, round after round, so that load on a shared machine falls on
them alike), autograd's grad on the same source (re-executed with np bound to autograd.numpy), and JAX's
grad eager and under jit (float64; compile time reported separately). Times are medians of
time.perf_counter() over repeats after a warm-up. A run whose projected time (from a run on a fiftieth
of the steps) is too long is skipped and the reason recorded, never silently dropped.
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))

import nbadjoint as nba  # noqa: E402
import burgers  # noqa: E402
import lorenz  # noqa: E402
import ocean_box  # noqa: E402
import list_heat  # noqa: E402
import box_stommel  # noqa: E402
from twins import autograd_twin, jax_twin  # noqa: E402

# A single measured run projected to take longer than this is skipped (seconds).
SKIP_RUN_S = {"full": 120.0, "quick": 20.0}
# Stop jit when its compile takes longer than this (seconds).
SKIP_COMPILE_S = {"full": 60.0, "quick": 15.0}
# Time spent on the repeats of one measurement, at most (seconds): fewer repeats for slow runs.
REPEAT_BUDGET_S = {"full": 20.0, "quick": 2.0}
REPEATS = {"full": 5, "quick": 3}

# Issue 2's targets: adjoint/primal at most, autograd/nbadjoint at least.
TARGETS = {"burgers": {"adjoint_over_primal": 3.0, "autograd_over_nba": 3.0},
           "lorenz": {"adjoint_over_primal": 10.0, "autograd_over_nba": 100.0},
           "ocean": {"adjoint_over_primal": 3.0, "autograd_over_nba": 1.0},
           "heat": {"adjoint_over_primal": 10.0, "autograd_over_nba": 1.0},
           "stommel": {"adjoint_over_primal": 10.0, "autograd_over_nba": 1.0}}


class Workload:
    """A root function, its module and its inputs at full size and at a fraction of the steps."""

    def __init__(self, name, title, module, root_name, make_args, steps_index, sizes):
        self.name, self.title, self.module, self.root_name = name, title, module, root_name
        self.make_args, self.steps_index, self.sizes = make_args, steps_index, sizes

    @property
    def root(self):
        return getattr(self.module, self.root_name)

    def args(self, fraction=1.0):
        args = list(self.make_args(**self.sizes))
        args[self.steps_index] = max(1, int(round(args[self.steps_index] * fraction)))
        return tuple(args)

    @property
    def n_steps(self):
        return self.args()[self.steps_index]


def workloads(mode):
    quick = mode == "quick"
    return [
        Workload("burgers", "Burgers 1-D, 10^4 cells (vectorised)", burgers, "burgers",
                 burgers.default_args, 2, {"n_cells": 10_000, "n_steps": 30 if quick else 300}),
        Workload("lorenz", "Lorenz-96 RK4, Python floats (scalar)", lorenz, "lorenz96",
                 lorenz.default_args, 1, {"n_vars": 10, "n_steps": 100 if quick else 3000}),
        Workload("ocean", "box ocean, 20 call sites (call tree)", ocean_box, "the_main_loop",
                 ocean_box.default_args, 11,
                 {"nx": 32, "ny": 32, "n_steps": 10} if quick else {"nx": 64, "ny": 64, "n_steps": 100}),
        Workload("heat", "heat equation on a list of floats (scalar)", list_heat, "heat",
                 list_heat.default_args, 3, {"n_cells": 200, "n_steps": 30 if quick else 300}),
        Workload("stommel", "Stommel box model, element writes (scalar)", box_stommel, "stommel",
                 box_stommel.default_args, 3, {"n_steps": 2_000 if quick else 20_000}),
    ]


# --- timing ----------------------------------------------------------------------------------


def block(value):
    """Wait for asynchronous (JAX) results; a no-op for NumPy and floats."""
    try:
        import jax
    except ImportError:
        return value
    return jax.block_until_ready(value)


def measure(run, mode, small_run=None, fraction=None):
    """(entry, last value): median wall time of run() after a warm-up, or {"skipped": reason}.

    small_run (the same computation on a `fraction` of the steps) first projects the cost of a
    full run; a projected slow run is warmed up at the small size only, and repeated less.
    """
    projected = None
    if small_run is not None:
        block(small_run())                # first call: tracing and dispatch caches
        start = time.perf_counter()
        block(small_run())
        small = time.perf_counter() - start
        projected = small / fraction
        if projected > SKIP_RUN_S[mode]:
            return {"skipped": f"projected {projected:.0f} s per run (measured {small:.2f} s at "
                               f"{fraction:.2g} of the steps); limit {SKIP_RUN_S[mode]:.0f} s"}, None
    if projected is None or projected < 10.0:
        start = time.perf_counter()
        block(run())                      # warm-up at full size
        projected = time.perf_counter() - start
    repeats = max(1, min(REPEATS[mode], int(REPEAT_BUDGET_S[mode] / max(projected, 1e-9))))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = block(run())
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "runs": repeats, "times": times}, value


def median_of(entry):
    return entry.get("median") if isinstance(entry, dict) else None


def ratio(a, b):
    return a / b if a is not None and b else None


def max_difference(reference, other):
    """Largest |a - b| / (|a| + tiny) between two gradients (arrays or lists of floats)."""
    a = np.asarray([float(v) for v in reference]) if isinstance(reference, list) else np.asarray(reference)
    b = np.asarray([float(v) for v in other]) if isinstance(other, list) else np.asarray(other)
    return float(np.max(np.abs(a - b) / (np.abs(a) + 1e-300)))


# --- the contenders -------------------------------------------------------------------------


def probe(w):
    """Inputs with a fiftieth of the steps (at least one), and that fraction, for projections."""
    steps = max(1, w.n_steps // 50)
    return w.args(steps / w.n_steps), steps / w.n_steps


def measure_interleaved(runs, mode):
    """{name: entry}, {name: last value}: the runs timed in turn, round after round, after one
    warm-up each, so that a slow spell of a shared machine weighs on all of them alike."""
    values = {name: run() for name, run in runs.items()}          # warm-up
    start = time.perf_counter()
    for run in runs.values():
        run()
    round_time = time.perf_counter() - start
    rounds = max(REPEATS[mode], min(4 * REPEATS[mode], int(REPEAT_BUDGET_S[mode] / max(round_time, 1e-9))))
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            values[name] = run()
            times[name].append(time.perf_counter() - start)
    return ({name: {"median": statistics.median(t), "runs": rounds, "times": t} for name, t in times.items()},
            values)


def bench_nbadjoint(w, mode, result):
    root, args = w.root, w.args()
    sites = nba.call_sites(root)
    result["call_sites"] = len(sites)
    grad = nba.grad(root)
    split = nba.grad(root, placement={site: False for site in sites})
    entries, values = measure_interleaved({"primal": lambda: root(*args), "nbadjoint": lambda: grad(*args),
                                           "nbadjoint_split": lambda: split(*args)}, mode)
    result.update(entries)
    g, g_split = values["nbadjoint"], values["nbadjoint_split"]
    result["split_bitwise_identical"] = bool(np.array_equal(np.asarray(g, dtype=float),
                                                            np.asarray(g_split, dtype=float)))
    return g


def bench_autograd(w, mode, result, reference):
    try:
        import autograd
    except ImportError:
        result["autograd"] = {"skipped": "autograd is not installed"}
        return
    twin = getattr(autograd_twin(w.module), w.root_name)
    grad = autograd.grad(twin)
    args = w.args()
    small, fraction = probe(w)
    try:
        result["autograd"], g = measure(lambda: grad(*args), mode, lambda: grad(*small), fraction)
    except Exception as exc:  # autograd cannot run every program: say which and why
        result["autograd"] = {"skipped": f"autograd failed: {type(exc).__name__}: {exc}"}
        return
    if g is not None:
        result["autograd_max_rel_difference"] = max_difference(reference, g)


def bench_jax(w, mode, result, reference):
    try:
        import jax
    except ImportError:
        reason = "JAX is not installed (pip install 'nbadjoint[bench]')"
        result["jax_eager"] = result["jax_jit"] = {"skipped": reason}
        return
    jax.config.update("jax_enable_x64", True)
    block(jax.grad(lambda x: x * x)(1.0))          # start JAX up outside the measurements
    twin = getattr(jax_twin(w.module), w.root_name)
    args = w.args()
    small, fraction = probe(w)
    eager = jax.grad(twin)
    try:
        result["jax_eager"], g = measure(lambda: eager(*args), mode, lambda: eager(*small), fraction)
    except Exception as exc:
        result["jax_eager"] = {"skipped": f"JAX failed: {type(exc).__name__}: {exc}"}
        return
    if g is not None:
        result["jax_max_rel_difference"] = max_difference(reference, g)

    result["jax_jit"] = jit_in_child(w, mode)


def jit_in_child(w, mode):
    """jax.jit(jax.grad) measured in a child process, stopped when it runs past the limit.

    jit unrolls the Python time loop, and XLA's compile time grows steeply (sometimes by minutes
    from one step to two), so it cannot be projected from small runs and cannot be interrupted
    in-process: the child is killed at the limit and the row says so.
    """
    limit = SKIP_COMPILE_S[mode] + REPEAT_BUDGET_S[mode]
    command = [sys.executable, str(Path(__file__).resolve()), "--jit-child", w.name]
    if mode == "quick":
        command.append("--quick")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"skipped": f"jit unrolls the {w.n_steps}-step Python loop: compile and run did not "
                           f"finish within {limit:.0f} s (stopped)"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"skipped": f"JAX jit failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"}
    return json.loads(lines[-1])


def jit_child(name, mode):
    """The child side of jit_in_child: print one JSON line with compile and run times."""
    import jax
    jax.config.update("jax_enable_x64", True)
    w = [w for w in workloads(mode) if w.name == name][0]
    args = w.args()
    jitted = jax.jit(jax.grad(getattr(jax_twin(w.module), w.root_name)), static_argnums=(w.steps_index,))
    start = time.perf_counter()
    block(jitted(*args))
    first = time.perf_counter() - start
    run, _ = measure(lambda: jitted(*args), mode)
    run["compile"] = max(0.0, first - run["median"])
    print(json.dumps(run), flush=True)
    return 0


# --- peak tape and the profiler -------------------------------------------------------------


def tape_figures(w, result):
    """Peak tape bytes of nbadjoint (default placement and all split) against the minimum."""
    args = w.args()
    sites = nba.call_sites(w.root)
    default = nba.profile(w.root, *args)
    split = default.rerun({site: False for site in sites})
    entry = {"peak_bytes": default.peak_bytes, "split_peak_bytes": split.peak_bytes}
    if w.name == "burgers":
        n_cells = len(args[0])
        entry["minimum_bytes"] = w.n_steps * n_cells * 8
        entry["minimum_explained"] = (
            "the adjoint of step k reads the state u_k (u*u is nonlinear), so a schedule that "
            "stores rather than recomputes must hold every step's state: n_steps x n_cells x 8 bytes")
    result["tape"] = entry


def bench_profiler(w, mode, repeat):
    """Probe overhead and the advisor's placements, predicted and measured, on one workload."""
    args = w.args()
    grad = nba.grad(w.root)
    plain, _ = measure(lambda: grad(*args), mode)
    p = nba.profile(w.root, *args, repeat=repeat)
    out = {"workload": w.name, "grad_median": plain["median"], "profiled_adjoint": p.adjoint_time,
           "probe_overhead": p.adjoint_time / plain["median"], "placements": []}
    sites = nba.call_sites(w.root)
    candidates = [("all checkpointed", "", {s: True for s in sites}),
                  ("all split", "", {s: False for s in sites})]
    budgets = [("default budget", None), ("budget x1.25", int(1.25 * p.peak_bytes))]
    for label, budget in budgets:
        for method in ("tapenade", "greedy", "optimal"):
            try:
                s = p.suggest(budget=budget, method=method)
            except ValueError as exc:
                out["placements"].append({"name": f"{method}, {label}", "skipped": str(exc)})
                continue
            candidates.append((f"{method}, {label}", s.method, s.placement))
    for name, method, placement in candidates:
        predicted = p.predict(placement)
        measured = p if placement == p.placement else p.rerun(placement)
        out["placements"].append({
            "name": name, "method": method, "split_sites": sum(not v for v in placement.values()),
            "predicted_time": predicted.time, "predicted_peak_bytes": predicted.peak_bytes,
            "measured_time": measured.adjoint_time, "measured_peak_bytes": measured.peak_bytes,
            "grad_bitwise_identical": bool(np.array_equal(p.grad, measured.grad))})
    return out


# The scalar workloads, on which the profile's primal time is compared with the plain primal's.
SCALAR_WORKLOADS = ("lorenz", "heat", "stommel")


def profiled_primal(w, mode, result):
    """The primal time a profile reports against the plain primal, timed in turn, round after
    round, in the same minutes (the probes must not inflate what the report calls the primal)."""
    root, args = w.root, w.args()
    times = {"plain": [], "profile": []}
    root(*args)
    for _ in range(REPEATS[mode]):
        for _ in range(3):
            start = time.perf_counter()
            root(*args)
            times["plain"].append(time.perf_counter() - start)
        times["profile"].append(nba.profile(root, *args, repeat=3, warmup=0).primal_time)
    plain, profiled = statistics.median(times["plain"]), statistics.median(times["profile"])
    result["profiled_primal"] = {"plain": plain, "profile": profiled, "ratio": profiled / plain}


# --- report ---------------------------------------------------------------------------------


def synthetic_tree(n_groups, per_group, seed=3):
    """root -> n_groups calls -> per_group leaf calls each, with tapes, snapshots and times of mixed sizes."""
    from nbadjoint.profiling.calltree import ROOT_SITE, CallNode
    rng = random.Random(seed)
    groups = []
    for g in range(n_groups):
        leaves = [CallNode(f"g{g}:{k + 2}:h{k}", [rng.randint(1, 60) * 100], [], rng.randint(0, 40) * 100,
                           t_primal=rng.uniform(1e-5, 4e-4), t_snapshot=rng.uniform(0, 2e-5),
                           t_fwd=rng.uniform(1e-5, 4e-4), t_bwd=rng.uniform(1e-5, 6e-4))
                  for k in range(per_group)]
        groups.append(CallNode(f"model:{g + 2}:g{g}", [rng.randint(0, 8) * 100] * (per_group + 1), leaves,
                               rng.randint(1, 40) * 100, t_primal=rng.uniform(1e-4, 4e-3),
                               t_snapshot=rng.uniform(0, 1e-4), t_fwd=1e-4, t_bwd=2e-4))
    return CallNode(ROOT_SITE, [800] * (n_groups + 1), groups, 0, t_fwd=1e-3, t_bwd=1e-3)


def bench_pareto(mode):
    """The Pareto front the widget draws: the ranked sweeps at 500 call sites, and against the greedy
    budget sweep (the method they replace, quadratic in the sites) on a 100-site tree."""
    from nbadjoint.profiling import advisor
    from nbadjoint.profiling.model import CostModel
    repeats = 1 if mode == "quick" else 3

    def median_time(fn):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    large = CostModel(synthetic_tree(50, 9))
    small = CostModel(synthetic_tree(10, 9))
    problem = advisor._Problem(small, None, None, None)
    result = {"sites": len(large.site_ids), "ranked_sweeps_s": median_time(lambda: advisor.pareto(large)),
              "small_sites": len(small.site_ids),
              "small_ranked_sweeps_s": median_time(lambda: advisor.pareto(small))}
    if mode != "quick":
        result["small_greedy_sweep_s"] = median_time(lambda: advisor._front(advisor._greedy_sweep(problem)))
    return result

def fmt_time(entry):
    if not isinstance(entry, dict):
        return "-"
    if "skipped" in entry:
        return "skipped"
    t = entry["median"]
    return f"{t * 1e3:.1f} ms" if t < 1.0 else f"{t:.2f} s"


def fmt_ratio(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}x"


def fmt_bytes(n):
    return f"{n / 1e6:.1f} MB"


def summarise(result):
    primal = median_of(result["primal"])
    nba_t = median_of(result["nbadjoint"])
    ag = median_of(result.get("autograd"))
    result["ratios"] = {
        "adjoint_over_primal": ratio(nba_t, primal),
        "split_over_primal": ratio(median_of(result["nbadjoint_split"]), primal),
        "autograd_over_primal": ratio(ag, primal),
        "autograd_over_nba": ratio(ag, nba_t),
        "jax_eager_over_nba": ratio(median_of(result.get("jax_eager")), nba_t),
        "jax_jit_over_nba": ratio(median_of(result.get("jax_jit")), nba_t),
    }
    targets = TARGETS[result["name"]]
    r = result["ratios"]
    result["targets"] = {
        "adjoint_over_primal": {"target": f"<= {targets['adjoint_over_primal']:g}",
                                "measured": r["adjoint_over_primal"],
                                "met": r["adjoint_over_primal"] is not None
                                and r["adjoint_over_primal"] <= targets["adjoint_over_primal"]},
        "split_over_primal": {"target": f"<= {targets['adjoint_over_primal']:g}",
                              "measured": r["split_over_primal"],
                              "met": r["split_over_primal"] is not None
                              and r["split_over_primal"] <= targets["adjoint_over_primal"]},
        "autograd_over_nba": {"target": f">= {targets['autograd_over_nba']:g}",
                              "measured": r["autograd_over_nba"],
                              "met": r["autograd_over_nba"] is not None
                              and r["autograd_over_nba"] >= targets["autograd_over_nba"]},
    }


def table(results):
    head = ["workload", "primal", "nbadjoint", "adj/primal", "all split", "autograd", "ag/primal",
            "ag/nba", "jax eager", "jax jit (compile)"]
    rows = []
    for r in results:
        jit = r.get("jax_jit", {})
        jit_text = fmt_time(jit) + (f" ({jit['compile']:.1f} s)" if "compile" in jit else "")
        rows.append([r["name"], fmt_time(r["primal"]), fmt_time(r["nbadjoint"]),
                     fmt_ratio(r["ratios"]["adjoint_over_primal"]), fmt_time(r["nbadjoint_split"]),
                     fmt_time(r.get("autograd")), fmt_ratio(r["ratios"]["autograd_over_primal"], 0),
                     fmt_ratio(r["ratios"]["autograd_over_nba"]), fmt_time(r.get("jax_eager")), jit_text])
    return markdown(head, rows)


def markdown(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(row) for row in rows])


def notes(results):
    out = []
    for r in results:
        for key in ("autograd", "jax_eager", "jax_jit"):
            entry = r.get(key)
            if isinstance(entry, dict) and "skipped" in entry:
                out.append(f"- {r['name']}, {key.replace('_', ' ')}: skipped: {entry['skipped']}")
        t = r["targets"]
        out.append(f"- {r['name']}: adjoint/primal {fmt_ratio(t['adjoint_over_primal']['measured'])} "
                   f"(target {t['adjoint_over_primal']['target']}: "
                   f"{'met' if t['adjoint_over_primal']['met'] else 'NOT met'}; all split "
                   f"{fmt_ratio(t['split_over_primal']['measured'])}: "
                   f"{'met' if t['split_over_primal']['met'] else 'NOT met'}); autograd/nbadjoint "
                   f"{fmt_ratio(t['autograd_over_nba']['measured'])} (target "
                   f"{t['autograd_over_nba']['target']}: "
                   f"{'n/a: autograd did not run' if t['autograd_over_nba']['measured'] is None else 'met' if t['autograd_over_nba']['met'] else 'NOT met'})")
        if "profiled_primal" in r:
            pp = r["profiled_primal"]
            out.append(f"- {r['name']}: primal time in a profile {pp['profile'] * 1e3:.1f} ms, plain "
                       f"{pp['plain'] * 1e3:.1f} ms ({fmt_ratio(pp['ratio'], 2)}; target within 15%: "
                       f"{'met' if abs(pp['ratio'] - 1.0) <= 0.15 else 'NOT met'})")
        if "tape" in r:
            tape = r["tape"]
            text = f"- {r['name']}: peak tape {fmt_bytes(tape['peak_bytes'])} (all split {fmt_bytes(tape['split_peak_bytes'])})"
            if "minimum_bytes" in tape:
                text += (f", minimum {fmt_bytes(tape['minimum_bytes'])} = n_steps x n_cells x 8 "
                         f"({tape['peak_bytes'] / tape['minimum_bytes']:.2f}x the minimum)")
            out.append(text)
    return "\n".join(out)


def profiler_table(prof):
    head = ["placement", "advisor", "split", "predicted", "measured", "pred. peak", "meas. peak", "same grad"]
    rows = []
    for e in prof["placements"]:
        if "skipped" in e:
            rows.append([e["name"], "-", "-", "skipped", "-", "-", "-", "-"])
            continue
        rows.append([e["name"], e["method"] or "-", e["split_sites"], f"{e['predicted_time']:.3f} s",
                     f"{e['measured_time']:.3f} s", fmt_bytes(e["predicted_peak_bytes"]),
                     fmt_bytes(e["measured_peak_bytes"]), "yes" if e["grad_bitwise_identical"] else "NO"])
    return markdown(head, rows)


def render(report):
    """The tables and notes of a report (as written to JSON), as Markdown text."""
    m = report["machine"]
    lines = [f"Measured {m['date']} on {m['cpus']} cores ({m['processor']}), Python {m['python']}, "
             f"NumPy {m['numpy']}, autograd {m['autograd']}, JAX {m['jax']} ({report['mode']} run); "
             "medians of wall time. `nbadjoint`: nba.grad with the default placement (every call "
             "checkpointed); `all split`: no call checkpointed; `ag`: autograd.", "",
             table(report["workloads"]), "", notes(report["workloads"])]
    prof = report.get("profiler")
    if prof:
        lines += ["", f"Profiler on {prof['workload']}: probed adjoint {prof['profiled_adjoint']:.3f} s "
                      f"against nba.grad {prof['grad_median']:.3f} s (probe overhead "
                      f"{prof['probe_overhead']:.2f}x). Placements, predicted from one profiled run "
                      "and measured:", "", profiler_table(prof)]
    front = report.get("pareto")
    if front:
        text = (f"Pareto front (what the widget draws) by ranked sweeps: {front['ranked_sweeps_s']:.2f} s at "
                f"{front['sites']} call sites, {front['small_ranked_sweeps_s']:.3f} s at {front['small_sites']}")
        if "small_greedy_sweep_s" in front:
            text += (f", where the greedy budget sweep takes {front['small_greedy_sweep_s']:.2f} s "
                     f"({front['small_greedy_sweep_s'] / front['small_ranked_sweeps_s']:.0f}x)")
        lines += ["", text + "."]
    return "\n".join(lines)


def progress(what, since):
    now = time.perf_counter()
    print(f"    {what}: {now - since:.1f} s", flush=True)
    return now


def machine():
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "nbadjoint": nba.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    for name in ("autograd", "jax"):
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = None
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats: a smoke run")
    parser.add_argument("--no-jax", action="store_true", help="leave JAX out even where installed")
    parser.add_argument("--no-profiler", action="store_true", help="leave the profiler section out")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated workloads to run (default: all)")
    parser.add_argument("--show", metavar="JSON", help="print the tables of a results file and exit")
    parser.add_argument("--jit-child", metavar="WORKLOAD", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="JSON output (default results/latest.json, "
                                                    "results/quick.json with --quick)")
    options = parser.parse_args(argv)
    mode = "quick" if options.quick else "full"
    if options.show:
        print(render(json.loads(Path(options.show).read_text())))
        return 0
    if options.jit_child:
        return jit_child(options.jit_child, mode)
    out_path = Path(options.out) if options.out else HERE / "results" / (
        "quick.json" if options.quick else "latest.json")
    start = time.perf_counter()
    info = machine()
    print(f"nbadjoint benchmark ({mode}) on {info['cpus']} cores, Python {info['python']}, "
          f"NumPy {info['numpy']}, autograd {info['autograd']}, JAX {info['jax']}", flush=True)

    results = []
    chosen = workloads(mode)
    if options.only:
        names = options.only.split(",")
        unknown = sorted(set(names) - {w.name for w in chosen})
        if unknown:
            parser.error(f"unknown workload(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(w.name for w in chosen)}")
        chosen = [w for w in chosen if w.name in names]
    for w in chosen:
        print(f"  {w.name}: {w.title}, {w.sizes}", flush=True)
        result = {"name": w.name, "title": w.title, "sizes": w.sizes}
        stage = time.perf_counter()
        reference = bench_nbadjoint(w, mode, result)
        stage = progress("nbadjoint", stage)
        bench_autograd(w, mode, result, reference)
        stage = progress("autograd", stage)
        if options.no_jax:
            result["jax_eager"] = result["jax_jit"] = {"skipped": "--no-jax"}
        else:
            bench_jax(w, mode, result, reference)
            stage = progress("jax", stage)
        if w.name == "burgers" and hasattr(nba, "profile"):
            tape_figures(w, result)
            stage = progress("tape", stage)
        if w.name in SCALAR_WORKLOADS and hasattr(nba, "profile"):
            profiled_primal(w, mode, result)
            stage = progress("profile", stage)
        summarise(result)
        results.append(result)

    report = {"version": 1, "mode": mode, "machine": info, "workloads": results}
    if not hasattr(nba, "profile"):
        print("  profiler section skipped: this nbadjoint has no nba.profile", flush=True)
    elif not options.no_profiler:
        ocean = [w for w in workloads(mode) if w.name == "ocean"][0]
        print(f"  profiler on {ocean.name} ...", flush=True)
        report["profiler"] = bench_profiler(ocean, mode, repeat=1 if options.quick else 3)
        print("  Pareto front at 500 call sites ...", flush=True)
        report["pareto"] = bench_pareto(mode)
    print()
    print(render(report))
    report["elapsed_s"] = time.perf_counter() - start
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(f"\nwrote {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path} "
          f"({report['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
