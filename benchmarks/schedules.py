"""Time to generate the time-loop schedules of nbadjoint.schedules, and what they do.

    python benchmarks/schedules.py               # n = 10^6, S = 20; two levels 10 + 10
    python benchmarks/schedules.py --n 100000 --snapshots 50 --reference

Generation is timed by draining the generator (best of --repeat runs); the counts come from a
separate run of the checker, ``run_schedule``.  ``--reference`` also times the
``checkpoint_schedules`` package (Revolve and MultistageCheckpointSchedule) at --reference-n steps.
"""
import argparse
import collections
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from nbadjoint.schedules import (binomial_schedule, minimal_recomputations,  # noqa: E402
                                 run_schedule, two_level_schedule)


def best_time(make, repeat):
    """Best wall time of draining the iterator ``make()``, over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        collections.deque(make(), maxlen=0)
        best = min(best, time.perf_counter() - start)
    return best


def describe(label, seconds, run, n, snapshots):
    print(f"{label}")
    print(f"  generation        {seconds:.3f} s ({run.actions:,} actions, "
          f"{1e9 * seconds / run.actions:.0f} ns per action)")
    print(f"  untaped iterations {run.advanced:,}  (t(n, S) = {minimal_recomputations(n, snapshots):,})")
    print(f"  taped iterations   {run.taped:,}; primal iterations in all {run.primal_iterations:,} "
          f"= {run.primal_iterations / n:.2f} x n")
    for level in ("ram", "disk"):
        if run.writes[level]:
            print(f"  {level:4s} snapshots: {run.writes[level]:,} written, {run.reads[level]:,} read, "
                  f"at most {run.peak[level]} held")


def reference(n, snapshots, ram, disk):
    try:
        import checkpoint_schedules as cs
    except ImportError:
        print("checkpoint_schedules is not installed: pip install checkpoint_schedules")
        return
    for label, make in [(f"checkpoint_schedules.Revolve({n}, {snapshots})",
                         lambda: cs.Revolve(n, snapshots)),
                        (f"checkpoint_schedules.MultistageCheckpointSchedule({n}, {ram}, {disk})",
                         lambda: cs.MultistageCheckpointSchedule(n, ram, disk))]:
        start = time.perf_counter()
        count = sum(1 for _ in make())
        print(f"{label}: {time.perf_counter() - start:.3f} s ({count:,} actions)")
    for label, make in [(f"nbadjoint binomial_schedule({n}, {snapshots})",
                         lambda: binomial_schedule(n, snapshots)),
                        (f"nbadjoint two_level_schedule({n}, {ram}, {disk})",
                         lambda: two_level_schedule(n, ram, disk))]:
        print(f"{label}: {best_time(make, 1):.3f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10 ** 6)
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--ram", type=int, default=10)
    parser.add_argument("--disk", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", action="store_true")
    parser.add_argument("--reference-n", type=int, default=2000)
    args = parser.parse_args(argv)
    n, s = args.n, args.snapshots

    seconds = best_time(lambda: binomial_schedule(n, s), args.repeat)
    describe(f"binomial_schedule(n={n:,}, S={s})", seconds,
             run_schedule(binomial_schedule(n, s), n, ram=s, disk=0), n, s)
    seconds = best_time(lambda: two_level_schedule(n, args.ram, args.disk), args.repeat)
    describe(f"two_level_schedule(n={n:,}, ram={args.ram}, disk={args.disk}) "
             f"(includes choosing the slots' levels: one more pass)", seconds,
             run_schedule(two_level_schedule(n, args.ram, args.disk), n, ram=args.ram,
                          disk=args.disk), n, args.ram + args.disk)
    if args.reference:
        reference(args.reference_n, s, args.ram, args.disk)


if __name__ == "__main__":
    main()
