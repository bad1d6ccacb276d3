"""Predicting a long time loop from a short profile: predicted vs measured, side by side.

Profiles the Burgers example (examples/burgers.py) for a short run (200 steps by default), predicts
the time and peak of a long run (2,000 steps) for several loop placements with
``p.predict(placement, iterations={loop: n})``, then measures the long run under each placement
(``nba.profile`` at the long length: the median of ``--repeat`` runs; the peak counts the tape and
the loop's snapshots in memory) and prints both.  The goal: peak within 2 %, time within 15 %.
Then the same placements at the profiled length: predicted vs ``p.rerun(placement)``.

    python benchmarks/loop_predict.py [--cells 2000] [--short 200] [--long 2000] [--repeat 3] [--clock cpu]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
sys.path.insert(0, os.path.join(HERE, ".."))

import burgers  # noqa: E402

import nbadjoint as nba  # noqa: E402
from nbadjoint.profiling.units import format_bytes  # noqa: E402

LOOP = "burgers:38:for"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--short", type=int, default=200)
    parser.add_argument("--long", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                        help="cpu (default): process CPU time, steadier on a shared machine")
    opts = parser.parse_args(argv)

    short = burgers.default_args(opts.cells, opts.short)
    long = burgers.default_args(opts.cells, opts.long)
    p = nba.profile(burgers.burgers, *short, repeat=opts.repeat, clock=opts.clock)
    print(f"profile of {opts.short} steps x {opts.cells} cells: adjoint {p.adjoint_time * 1e3:.1f} ms, "
          f"peak {format_bytes(p.peak_bytes)}")
    placements = [("every step kept", {LOOP: None}), ("S = 20", {LOOP: 20}),
                  ("S = 100", {LOOP: 100}), ("S = 10 + 10 on disk", {LOOP: {"ram": 10, "disk": 10}}),
                  ("S = 20, step split", {LOOP: 20, "burgers:39:burgers_step": False})]
    print(f"\n{opts.long} steps: predicted from {opts.short} vs measured "
          f"(median of {opts.repeat})\n")
    print("| placement | predicted time | measured time | error | predicted peak | measured peak "
          "| error | recomputed (predicted) |")
    print("|---|---|---|---|---|---|---|---|")
    worst_t = worst_p = 0.0
    for name, placement in placements:
        pred = p.predict(placement, iterations={LOOP: opts.long})
        m = nba.profile(burgers.burgers, *long, placement=placement, repeat=opts.repeat,
                      clock=opts.clock)
        et = (m.adjoint_time - pred.time) / m.adjoint_time
        ep = (m.peak_bytes - pred.peak_bytes) / m.peak_bytes
        worst_t, worst_p = max(worst_t, abs(et)), max(worst_p, abs(ep))
        again = (pred.recomputed or {}).get(LOOP, 0)
        print(f"| {name} | {pred.time * 1e3:.1f} ms | {m.adjoint_time * 1e3:.1f} ms | {et:+.1%} | "
              f"{format_bytes(pred.peak_bytes)} | {format_bytes(m.peak_bytes)} | {ep:+.2%} | {again} |")
    print(f"\nworst time error {worst_t:.1%} (goal 15 %), worst peak error {worst_p:.2%} (goal 2 %)")

    print(f"\n{opts.short} steps: predicted vs p.rerun(placement) (median of {opts.repeat})\n")
    print("| placement | predicted time | measured time | error | predicted peak | measured peak |")
    print("|---|---|---|---|---|---|")
    for name, placement in placements:
        pred = p.predict(placement)
        m = p.rerun(placement)
        et = (m.adjoint_time - pred.time) / m.adjoint_time
        print(f"| {name} | {pred.time * 1e3:.1f} ms | {m.adjoint_time * 1e3:.1f} ms | {et:+.1%} | "
              f"{pred.peak_bytes:,} B | {m.peak_bytes:,} B |")
    return 0 if worst_t <= 0.15 and worst_p <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())
