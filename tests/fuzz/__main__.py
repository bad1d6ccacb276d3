"""The fuzzing campaign.

    python -m tests.fuzz --n 10000 [--seed S] [--family NAME ...] [--jobs 2] [--out DIR]
    python -m tests.fuzz --replay FAMILY:SEED      # one program again, with its full report
    python -m tests.fuzz --check FILE.py            # a saved program (module with main, ARGS, ARGNUMS)

Programs are drawn from seeded random choosers: the campaign prints its seed, and the same seed
gives the same programs. Each failing program is saved once per error signature under
DIR/<outcome>/<hash>.py with its error and a one-line reproduction command; up to --reduce
failures per signature are also reduced by deleting lines, and each distinct reduced program is
saved under DIR/<outcome>/reduced/. Exit code 1 if any program was WRONG or crashed.
"""

import argparse
import multiprocessing
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from . import TESTS_DIR  # noqa: F401  (puts tests/ on sys.path)
from .chooser import RandomChooser
from .families import FAMILIES, generate
from .oracle import BAD, OUTCOMES, check_program, program_hash

_FOLDER = None


def _worker_init():
    global _FOLDER
    import warnings
    warnings.simplefilter("ignore")
    _FOLDER = tempfile.mkdtemp(prefix="nbadjoint_fuzz_modules_")


def program_seed(master, index):
    return random.Random(f"{master}:{index}").getrandbits(48)


def run_one(task):
    family, seed = task
    if _FOLDER is None:
        _worker_init()
    program = generate(family, RandomChooser(seed))
    start = time.perf_counter()
    try:
        result = check_program(program.source, _FOLDER, autograd=program.autograd)
    except Exception as err:            # the oracle itself failed: report it as a crash
        import traceback
        from .oracle import Result
        result = Result("CRASH", f"oracle: {type(err).__name__}: {err}", traceback.format_exc())
    return family, seed, program.source, result, time.perf_counter() - start


def save_failure(out, family, seed, source, result):
    folder = Path(out) / result.outcome
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{program_hash(source)}.py"
    comment = "\n".join("# " + line for line in result.detail.splitlines()[-40:])
    path.write_text(f"# {result.outcome}: {result.signature}\n# family {family}, seed {seed}\n"
                    f"# reproduce: python -m tests.fuzz --check {path}\n"
                    f"#        or: python -m tests.fuzz --replay {family}:{seed}\n#\n{comment}\n\n{source}")
    return path


def reduced_form(source):
    """A reduced program without its inputs and literals: programs that reduce to the same form
    are taken as the same bug."""
    lines = [line for line in source.splitlines()
             if line.strip() and not line.startswith(("#", "ARGS", "ARGNUMS"))]
    return re.sub(r"\d+\.\d+|\d+", "N", "\n".join(lines))


def save_reduced(out, family, source, result, forms):
    """The smallest variant (lines deleted) that fails the same way, saved once per distinct
    reduced form as <outcome>/reduced/<family>-<hash>.py; returns its path when new."""
    from .reduce import reduce_program
    if _FOLDER is None:
        _worker_init()
    try:
        small = reduce_program(source, _FOLDER, result.outcome, result.signature, autograd=False)
    except Exception:               # reduction is a convenience; the full program is saved
        return None
    form = reduced_form(small)
    if form in forms:
        forms[form][1] += 1
        return None
    folder = Path(out) / result.outcome / "reduced"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{family}-{program_hash(form)}.py"
    path.write_text(f"# {result.outcome}: {result.signature}\n# family {family}\n"
                    f"# reproduce: python -m tests.fuzz --check {path}\n\n{small}")
    forms[form] = [path, 1]
    return path


def print_table(counts, times, stream=sys.stdout):
    families = sorted({f for f, _ in counts})
    width = max([len(f) for f in families] + [6])
    print(f"{'family':<{width}} " + " ".join(f"{o:>8}" for o in OUTCOMES) + f" {'total':>7} {'s/prog':>7}",
          file=stream)
    totals = Counter()
    for family in families:
        row = [counts[family, o] for o in OUTCOMES]
        for o, n in zip(OUTCOMES, row):
            totals[o] += n
        mean = sum(times[family]) / max(1, len(times[family]))
        print(f"{family:<{width}} " + " ".join(f"{n:>8}" for n in row) + f" {sum(row):>7} {mean:>7.2f}",
              file=stream)
    all_times = [t for ts in times.values() for t in ts]
    print(f"{'all':<{width}} " + " ".join(f"{totals[o]:>8}" for o in OUTCOMES) +
          f" {sum(totals.values()):>7} {sum(all_times) / max(1, len(all_times)):>7.2f}", file=stream)


def campaign(args):
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    families = args.family or list(FAMILIES)
    tasks = [(families[i % len(families)], program_seed(seed, i)) for i in range(args.n)]
    print(f"nbadjoint fuzz campaign: {args.n} programs, seed {seed}, families {', '.join(families)}, "
          f"jobs {args.jobs}; failures go to {args.out}", flush=True)
    counts, times, signatures = Counter(), defaultdict(list), {}
    reduced_count, forms = Counter(), {}
    start = time.perf_counter()
    pool = multiprocessing.Pool(args.jobs, initializer=_worker_init) if args.jobs > 1 else None
    results = pool.imap_unordered(run_one, tasks, chunksize=4) if pool else map(run_one, tasks)
    try:
        for done, (family, pseed, source, result, seconds) in enumerate(results, 1):
            counts[family, result.outcome] += 1
            times[family].append(seconds)
            key = (result.outcome, result.signature + (f" [{family}]" if result.outcome == "WRONG" else ""))
            if result.outcome != "OK" and key not in signatures:
                path = save_failure(args.out, family, pseed, source, result)
                signatures[key] = (family, path)
                if result.outcome in BAD:
                    print(f"  new {result.outcome} [{family}]: {result.signature}\n      -> {path}", flush=True)
            if result.outcome in BAD and args.reduce and reduced_count[key] < args.reduce:
                reduced_count[key] += 1
                form = save_reduced(args.out, family, source, result, forms)
                if form:
                    print(f"  new reduced {result.outcome} [{family}] -> {form}", flush=True)
            if done % args.progress == 0 or done == args.n:
                bad = sum(n for (f, o), n in counts.items() if o in BAD)
                print(f"[{done}/{args.n}] {time.perf_counter() - start:.0f} s, {bad} WRONG/CRASH, "
                      f"{len(signatures)} distinct signatures", flush=True)
    finally:
        if pool:
            pool.terminate()
    print()
    print_table(counts, times)
    if forms:
        print(f"\ndistinct reduced WRONG / CRASH programs ({len(forms)}; times seen among the reduced):")
        for path, seen in sorted(forms.values(), key=lambda v: str(v[0])):
            print(f"  {seen:>4}  {path}")
    print(f"\nseed {seed}; {time.perf_counter() - start:.0f} s; distinct signatures:")
    for (outcome, signature), (family, path) in sorted(signatures.items()):
        print(f"  {outcome:<8} [{family}] {signature}\n           {path}")
    return 1 if any(o in BAD for o, _ in signatures) else 0


def replay(spec):
    family, seed = spec.rsplit(":", 1)
    _worker_init()
    family, seed, source, result, seconds = run_one((family, int(seed)))
    print(source)
    print(f"--- {result.outcome}: {result.signature} ({seconds:.2f} s)\n{result.detail}")
    return 1 if result.outcome in BAD else 0


def check_file(path):
    _worker_init()
    text = Path(path).read_text()
    result = check_program(text, _FOLDER, autograd=True)
    print(f"{result.outcome}: {result.signature}\n{result.detail}")
    return 1 if result.outcome in BAD else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of programs (default 1000)")
    parser.add_argument("--seed", type=int, help="master seed (default: random, printed)")
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES),
                        help="only this family (repeatable; default: all, round robin)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "nbadjoint-fuzz"),
                        help="folder for failing programs (default /tmp/nbadjoint-fuzz)")
    parser.add_argument("--progress", type=int, default=100, help="print progress every N programs")
    parser.add_argument("--reduce", type=int, default=20, metavar="K",
                        help="reduce up to K WRONG / CRASH programs per signature and save each "
                             "distinct reduced program (default 20; 0: none)")
    parser.add_argument("--replay", metavar="FAMILY:SEED", help="run one program and print its report")
    parser.add_argument("--check", metavar="FILE", help="check one saved program")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.check:
        return check_file(args.check)
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
