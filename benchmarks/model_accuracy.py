"""The cost model's accuracy on the ocean example: predicted against measured adjoint time.

    python benchmarks/model_accuracy.py [--sizes 64x64x100,96x96x50] [--rounds 3] [--clock cpu]
                                        [--json OUT]

For each ocean size: one profile is taken and dropped (the first profile of a process, compared
with the others in a note at the end), then ``--references`` profiles of the default placement
(every call checkpointed), each a median of 5 runs.  From them the model predicts a set of
placements: every call split, the advisor's suggestions under several budgets, points of the Pareto
front, single changes; a placement's prediction is the median of the references' (one profile on a
shared machine can be off by 10% on a placement far from it).  Each placement is then measured
``--rounds`` times (``Profile.rerun``, ``--repeat`` runs each, the placements taken in turn round
after round) and the median is compared with two predictions from the same references:

- ``before``: the separable model alone (every sweep at the speed it ran in the reference run);
- ``after``: with the memory term, the time tape kept past the cache costs (see
  `nbadjoint.profiling.model`), as ``Profile.predict`` now reports.

Error = (measured - predicted) / predicted: positive when the model predicted low.
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
sys.path.insert(0, os.path.dirname(HERE))

import nbadjoint as nba  # noqa: E402
from nbadjoint.profiling.model import CostModel, machine_memory_cost  # noqa: E402
from nbadjoint.profiling.units import format_bytes, format_seconds  # noqa: E402


def placements_of(ref):
    """Named placements to predict and measure, each distinct (the reference's first)."""
    sites = [s.id for s in ref.sites]
    checkpointed = {s: True for s in sites}
    named = [("all checkpointed (reference)", checkpointed), ("all split", {s: False for s in sites})]
    for factor in (1.25, 2, 10):
        try:
            found = ref.suggest(budget=int(factor * ref.budget_bytes))
        except ValueError:
            continue
        named.append((f"suggestion, budget x{factor:g}", dict(found.placement)))
    front = ref.pareto()
    for index in sorted({len(front) // 4, len(front) // 2, (3 * len(front)) // 4}):
        named.append((f"Pareto point {index + 1}/{len(front)}", dict(front[index].placement)))
    free = [s.id for s in ref.sites if s.t_saved > 0]
    if free:
        named.append(("free checkpoints split", {**checkpointed, **{s: False for s in free}}))
    named.append(("time step split", {**checkpointed, sites[0]: False}))
    out, seen = [], []
    for name, placement in named:
        if placement not in seen:
            seen.append(placement)
            out.append((name, placement))
    return out


def measure_model(size, rounds, clock, repeat=1, references=3):
    import ocean_box

    nx, ny, steps = size
    args = ocean_box.default_args(nx=nx, ny=ny, n_steps=steps)
    f = ocean_box.the_main_loop
    started = time.perf_counter()
    cold = nba.profile(f, *args, repeat=5, clock=clock)          # the process's first profile
    refs = [nba.profile(f, *args, repeat=5, clock=clock) for _ in range(references)]
    named = placements_of(refs[0])
    measured = {name: [] for name, _ in named}
    peaks = {}
    for _ in range(rounds):
        for name, placement in named:
            run = refs[0].rerun(placement, repeat=repeat)
            measured[name].append(run.adjoint_time)
            peaks[name] = run.peak_bytes
    rows = []
    for name, placement in named:
        after, before = [], []
        for ref in refs:
            full = ref.full_placement(placement)
            after.append(ref.predict(full).time)
            # the same reference without the memory term: the model as it was
            before.append(CostModel(ref.call_tree).predict(full).time + ref.unattributed_time)
        after, before = statistics.median(after), statistics.median(before)
        median = statistics.median(measured[name])
        rows.append({"placement": name, "split_sites": sum(not v for v in full.values()),
                     "peak_bytes": peaks[name], "measured": median, "runs": measured[name],
                     "before": before, "after": after,
                     "error_before": median / before - 1.0, "error_after": median / after - 1.0})
    return {"size": f"{nx}x{ny}x{steps}", "clock": clock, "reference_peak": refs[0].peak_bytes,
            "cold_first_profile": cold.adjoint_time,
            "reference": statistics.median(ref.adjoint_time for ref in refs),
            "references": [ref.adjoint_time for ref in refs],
            "rows": rows, "seconds": time.perf_counter() - started}


def print_table(result):
    print(f"\nocean {result['size']} ({result['clock']} time; reference peak "
          f"{format_bytes(result['reference_peak'])}; medians of {len(result['rows'][0]['runs'])} "
          f"reruns and of {len(result['references'])} references' predictions)")
    print(f"  {'placement':<30} {'split':>5} {'peak':>9} {'measured':>9} {'before':>9} {'err':>7} "
          f"{'after':>9} {'err':>7}")
    for row in result["rows"]:
        print(f"  {row['placement']:<30} {row['split_sites']:>5} {format_bytes(row['peak_bytes']):>9} "
              f"{format_seconds(row['measured']):>9} {format_seconds(row['before']):>9} "
              f"{row['error_before']:>+7.1%} {format_seconds(row['after']):>9} {row['error_after']:>+7.1%}")


def summary(rows, key, drift=False):
    """Signed errors of the predicted placements (the reference itself is not a prediction); with
    ``drift``, each model's errors are taken relative to its reference placement measured in the
    same rounds, which removes what the reference profile's own runs got wrong from them all."""
    errors = []
    for result in rows:
        base = 1.0 + result["rows"][0][key] if drift else 1.0
        errors += [(1.0 + row[key]) / base - 1.0 for row in result["rows"][1:]]
    low = sum(e > 0 for e in errors)
    return (f"median {statistics.median(errors):+.1%}, mean {statistics.fmean(errors):+.1%}, "
            f"mean |err| {statistics.fmean(abs(e) for e in errors):.1%}, "
            f"predicted low on {low} of {len(errors)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64x64x100,96x96x50",
                        help="ocean sizes nx x ny x steps, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="reruns of each placement (medians)")
    parser.add_argument("--references", type=int, default=3,
                        help="reference profiles (predictions: their medians)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per rerun (default 1, as the widget's Rerun after %%%%adjoint_profile)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                        help="the profiles' clock (default cpu: steadier on a shared machine)")
    parser.add_argument("--json", metavar="OUT")
    options = parser.parse_args(argv)
    sizes = [tuple(int(n) for n in item.split("x")) for item in options.sizes.split(",")]

    memory = machine_memory_cost()
    print(f"memory term: {memory.seconds_per_byte * 1e9:.3f} ns per byte of tape beyond "
          f"{format_bytes(memory.cache_bytes)} of cache (measured in this process)")
    results = [measure_model(size, options.rounds, options.clock, options.repeat,
                             options.references) for size in sizes]
    for result in results:
        print_table(result)
    count = sum(len(result["rows"]) - 1 for result in results)
    print(f"\nover the {count} predicted placements (the references left out):")
    print(f"  before (separable model): {summary(results, 'error_before')}")
    print(f"  after (with memory term): {summary(results, 'error_after')}")
    print("relative to the reference placement measured in the same rounds:")
    print(f"  before (separable model): {summary(results, 'error_before', drift=True)}")
    print(f"  after (with memory term): {summary(results, 'error_after', drift=True)}")
    print("\nwarm-up: the first profile of the process against the references taken after it "
          "(same placement, their median):")
    for result in results:
        print(f"  ocean {result['size']}: {format_seconds(result['cold_first_profile'])} against "
              f"{format_seconds(result['reference'])} "
              f"({result['cold_first_profile'] / result['reference'] - 1.0:+.1%})")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump({"memory": {"seconds_per_byte": memory.seconds_per_byte,
                                  "cache_bytes": memory.cache_bytes}, "models": results}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
