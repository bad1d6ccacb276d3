"""Profiler benchmark on the example ocean model: probe overhead and the advisor's placements.

    python benchmarks/bench_profiler.py [--nx 64 --ny 64 --steps 100 --repeat 5] [--json OUT]

1. Probe overhead: the adjoint with probes (what ``nba.profile`` runs) against the same adjoint
   without probes (what ``nba.grad`` runs), interleaved, medians.
2. Advisor table under the default budget (the all-checkpointed peak): all-checkpointed,
   all-split, Tapenade's ranking, greedy and optimal, each with its predicted time and peak and
   its measured time and peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

import nbadjoint as nba  # noqa: E402
from nbadjoint.profiling.recorder import Recorder  # noqa: E402
from nbadjoint.profiling.units import format_bytes, format_seconds  # noqa: E402
from nbadjoint.transform import runner  # noqa: E402
from nbadjoint.transform.program import compile_tree  # noqa: E402


def probe_overhead(f, args, repeat):
    """Median adjoint time without and with probes (interleaved runs), and probe events per run.

    Returns ``{"wall": (plain, probed), "cpu": (plain, probed), "events": n}``; process CPU time
    is less disturbed than wall time by other processes on a shared machine.
    """
    program = compile_tree(f)
    placement = program.placement()
    runner.run_adjoint(program, args, 0, placement)
    runner.run_adjoint(program, args, 0, placement, recorder=Recorder())
    runs = {"wall": ([], []), "cpu": ([], [])}
    events = 0
    for _ in range(max(repeat, 15)):
        for probed in (False, True):
            rec = Recorder() if probed else None
            w0, c0 = time.perf_counter(), time.process_time()
            runner.run_adjoint(program, args, 0, placement, recorder=rec)
            runs["wall"][probed].append(time.perf_counter() - w0)
            runs["cpu"][probed].append(time.process_time() - c0)
            if probed:
                events = rec.events
    out = {clock: (statistics.median(a), statistics.median(b)) for clock, (a, b) in runs.items()}
    out["events"] = events
    return out


def recorder_event_cost(n=100_000):
    """CPU seconds per probe event of the recorder alone (enter/leave pairs around a push)."""
    import numpy as np

    tape = []
    rec = Recorder(tape)
    enter, leave, push = rec.enter, rec.leave, tape.append
    entry = np.zeros(8)
    rec.enter("<root>", "F")
    t0 = time.process_time()
    for _ in range(n):
        enter("f:1:g", "F")
        push(entry)
        leave("f:1:g", "F")
    probed = time.process_time() - t0
    t0 = time.process_time()
    for _ in range(n):
        push(entry)
    bare = time.process_time() - t0
    return (probed - bare) / (2 * n)


def advisor_table(p, repeat):
    sites = [s.id for s in p.sites]
    rows = [("all checkpointed", {s: True for s in sites}),
            ("all split", {s: False for s in sites})]
    for method in ("tapenade", "greedy", "optimal"):
        try:
            found = p.suggest(method=method)
            rows.append((method, found.placement))
        except ValueError as exc:
            rows.append((method, str(exc)))
    table = []
    for name, placement in rows:
        if isinstance(placement, str):
            table.append({"placement": name, "error": placement})
            continue
        predicted = p.predict(placement)
        measured = p.rerun(placement, repeat=repeat)
        table.append({"placement": name, "split_sites": sum(not v for v in placement.values()),
                      "predicted_time": predicted.time, "measured_time": measured.adjoint_time,
                      "predicted_peak": predicted.peak_bytes, "measured_peak": measured.peak_bytes})
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nx", type=int, help="grid size in x (default: the example's)")
    parser.add_argument("--ny", type=int, help="grid size in y (default: the example's)")
    parser.add_argument("--steps", type=int, help="time steps (default: the example's)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                        help="clock of the advisor table's times (default cpu: steadier when "
                             "the machine is shared)")
    parser.add_argument("--json", metavar="OUT")
    options = parser.parse_args(argv)

    import ocean_box

    size = {k: v for k, v in (("nx", options.nx), ("ny", options.ny), ("n_steps", options.steps))
            if v is not None}
    args = ocean_box.default_args(**size)
    f = ocean_box.the_main_loop
    described = ", ".join(f"{k}={v}" for k, v in size.items()) or "the example's default size"
    print(f"ocean_box.the_main_loop ({described}), repeat={options.repeat}")

    measured = probe_overhead(f, args, options.repeat)
    events = measured["events"]
    print(f"\nprobe overhead ({events} probe events per run):")
    for clock in ("wall", "cpu"):
        plain, probed = measured[clock]
        print(f"  {clock:<4} time: adjoint without probes {format_seconds(plain)}, with probes "
              f"{format_seconds(probed)} ({probed / plain - 1.0:+.1%}, "
              f"{format_seconds((probed - plain) / max(events, 1), signed=True)} per event)")

    per_event = recorder_event_cost()
    plain_cpu = measured["cpu"][0]
    print(f"  recorder alone: {format_seconds(per_event)} per event, i.e. "
          f"{per_event * events / plain_cpu:.1%} of the adjoint for {events} events")

    p = nba.profile(f, *args, repeat=options.repeat, clock=options.clock)
    print(f"\nprofile ({options.clock} time): primal {format_seconds(p.primal_time)}, adjoint "
          f"{format_seconds(p.adjoint_time)}, ratio {p.ratio:.2f}, peak "
          f"{format_bytes(p.peak_bytes)}, {len(p.sites)} call sites, "
          f"default budget {format_bytes(p.budget_bytes)}")
    table = advisor_table(p, options.repeat)
    print(f"\n{'placement':<18} {'split':>5} {'pred time':>10} {'meas time':>10} {'err':>7} "
          f"{'pred peak':>10} {'meas peak':>10}")
    for row in table:
        if "error" in row:
            print(f"{row['placement']:<18} {row['error']}")
            continue
        err = row["predicted_time"] / row["measured_time"] - 1.0
        print(f"{row['placement']:<18} {row['split_sites']:>5} "
              f"{format_seconds(row['predicted_time']):>10} {format_seconds(row['measured_time']):>10} "
              f"{err:>+7.1%} {format_bytes(row['predicted_peak']):>10} "
              f"{format_bytes(row['measured_peak']):>10}")
    optimal = next((r for r in table if r["placement"] == "optimal" and "error" not in r), None)
    if optimal:
        print("\ndistance from the optimum (predicted time):")
        for row in table:
            if "error" not in row and row["placement"] in ("tapenade", "greedy"):
                gap = row["predicted_time"] / optimal["predicted_time"] - 1.0
                print(f"  {row['placement']:<10} {gap:+.1%}")
    print("\nadvisor under other budgets (predicted time; distance from the optimum):")
    print(f"  {'budget':>10} {'optimal':>10} {'greedy':>16} {'tapenade':>16}")
    budgets = {}
    for factor in (1, 2, 4, 8):
        budget = p.budget_bytes * factor
        found = {}
        for method in ("optimal", "greedy", "tapenade"):
            try:
                found[method] = p.suggest(budget=budget, method=method).time
            except ValueError:
                found[method] = None
        budgets[budget] = found
        best = found["optimal"]
        cells = []
        for method in ("greedy", "tapenade"):
            t = found[method]
            cells.append("-" if t is None or best is None
                         else f"{format_seconds(t)} {t / best - 1.0:+.1%}")
        print(f"  {format_bytes(budget):>10} {format_seconds(best) if best else '-':>10} "
              f"{cells[0]:>16} {cells[1]:>16}")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump({"probe_overhead": measured, "recorder_event_cost": per_event,
                       "advisor": table, "budgets": {str(b): v for b, v in budgets.items()}},
                      out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
