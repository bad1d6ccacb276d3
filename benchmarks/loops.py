"""Time-loop checkpointing on the Burgers example: every step kept vs S snapshots.

    python benchmarks/loops.py                     # 2,000 cells x 2,000 steps (well under a minute)
    python benchmarks/loops.py --big               # 10^4 cells x 10^4 steps (800 MB kept; minutes)
    python benchmarks/loops.py --big --budget 50MB # ... and the advisor's placement under 50 MB
    python benchmarks/loops.py --cells 4000 --steps 3000 --snapshots 20 100 --disk 10
    python benchmarks/loops.py --snapshots 5 10 20 50 100 200 500 --plot docs/loops-time-memory.png

For each placement of the time loop of ``examples/burgers.py`` (``burgers:<line>:for``): the
median wall time of ``--repeat`` gradient runs and its ratio to the median primal run; the peak
of memory allocated during one more run (tracemalloc: NumPy's arrays included, the inputs
excluded); the primal iterations the schedule ran (n taped + those advanced without taping)
against the Griewank-Walther minimum n + t(n, S); and that the gradient is bitwise the one of
every step kept.  The call of ``burgers_step`` in the loop keeps its default placement
(checkpointed) in every run, so "iterations" counts runs of the loop's body.  A ``--disk`` entry
adds a two-level run (S in memory, D on disk; its disk bytes are not in the peak). ``--budget``
adds the advisor's placement under that peak (``nba.profile(...).suggest(budget=...)``, profiled
at the full length), time loop and call sites chosen together.
"""
import argparse
import pathlib
import statistics
import sys
import time
import tracemalloc

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import burgers  # noqa: E402

import nbadjoint as nba  # noqa: E402
from nbadjoint.schedules import minimal_recomputations  # noqa: E402
from nbadjoint.transform import runner  # noqa: E402
from nbadjoint.transform.program import compile_tree  # noqa: E402


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fmt_bytes(n):
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--snapshots", type=int, nargs="*", default=[20, 100])
    ap.add_argument("--disk", type=int, nargs="*", default=[], help="two-level runs: 10 => {ram: 10, disk: 10}")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="10^4 cells x 10^4 steps (the issue's figures)")
    ap.add_argument("--plot", metavar="PNG", help="also draw time against peak memory over the placements")
    ap.add_argument("--budget", default="1MB", help="add the advisor's placement at this peak budget "
                                                    "(profiled at the full length; 'none' to leave it out)")
    a = ap.parse_args(argv)
    if a.big:
        a.cells, a.steps, a.repeat = 10_000, 10_000, 1
    args = burgers.default_args(n_cells=a.cells, n_steps=a.steps)
    n = a.steps
    (loop,) = nba.loops(burgers.burgers)
    program = compile_tree(burgers.burgers, 0, call_args=args)

    def adjoint(placement, runs=None):
        return runner.run_adjoint(program, args, 0, placement, loop_runs=runs)

    placements = [("every step kept", None, None)]
    placements += [(f"S = {s}", {loop: s}, (s, 0)) for s in a.snapshots]
    placements += [(f"S = {d} + disk {d}", {loop: {"ram": d, "disk": d}}, (d, d)) for d in a.disk]
    if a.budget.lower() != "none":
        suggestion = nba.profile(burgers.burgers, *args).suggest(budget=a.budget)
        chosen = suggestion.placement.get(loop)
        levels = None if chosen in (None, "all") else (chosen, 0) if isinstance(chosen, int) else \
            (chosen["ram"], chosen["disk"])
        shown = "every step" if levels is None else f"S = {levels[0]}" + (f" + disk {levels[1]}" if levels[1] else "")
        placements.append((f"advisor {a.budget}: {shown}", suggestion.placement, levels))
    for _, placement, _ in placements:
        adjoint(placement)                       # compile and warm up outside the timings
    primal = median_time(lambda: burgers.burgers(*args), a.repeat)
    reference = adjoint(None)[1]
    print(f"Burgers, {a.cells} cells x {n} steps, state {fmt_bytes(args[0].nbytes).strip()}; "
          f"median of {a.repeat}; primal {primal:.3f} s")
    head = f"{'placement':<22}{'time':>9}{'x primal':>10}{'peak':>12}{'iterations':>12}{'n + t(n,S)':>12}" \
           f"{'disk':>11}{'I/O':>8}  same grad"
    print(head)
    print("-" * len(head))
    points = []
    for label, placement, levels in placements:
        seconds = median_time(lambda: adjoint(placement), a.repeat)
        runs = {}
        peak = peak_bytes(lambda: adjoint(placement, runs))
        grad = adjoint(placement)[1]
        if levels is None:
            iterations, minimum, disk, io = n, n, "", ""
        else:
            (stats,) = runs[loop]
            iterations = stats.primal_iterations
            minimum = n + minimal_recomputations(n, min(sum(levels), n))
            disk = fmt_bytes(stats.disk_bytes_peak) if levels[1] else ""
            io = f"{stats.io_seconds:.2f}s" if levels[1] else ""
        print(f"{label:<22}{seconds:8.3f}s{seconds / primal:9.1f}x{fmt_bytes(peak):>12}{iterations:>12}"
              f"{minimum:>12}{disk:>11}{io:>8}  {'yes' if np.array_equal(grad, reference) else 'NO'}")
        points.append((label, seconds / primal, peak))
    if a.plot:
        plot(points, a, a.plot)


def plot(points, a, path):
    """Adjoint time (x primal) against peak memory, one point per placement, labelled."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    points = sorted(points, key=lambda p: p[2])
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.plot([p[2] / 2**20 for p in points], [p[1] for p in points], "o-", color="#1f77b4")
    for label, ratio, peak in points:
        ax.annotate(label, (peak / 2**20, ratio), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("peak memory during the gradient (MB, log scale)")
    ax.set_ylabel("gradient time / primal time")
    ax.set_title(f"Burgers, {a.cells} cells x {a.steps} steps: snapshots S of the time loop", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
