"""The Pareto front of a call tree with hundreds of sites: exact at each point, non-dominated.

The widget draws the front of a 500-call-site profile from two ranked sweeps; its speed is measured
by `python benchmarks/run.py` (the `pareto` line), not here.
"""

import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))

from nbadjoint.profiling import advisor  # noqa: E402
from nbadjoint.profiling.model import CostModel, Prediction  # noqa: E402
from run import synthetic_tree  # noqa: E402  (the benchmark's tree)


def deep_tree(n_groups=50, per_group=9, seed=3):
    """root -> 50 group calls -> 9 leaf calls each: 500 sites, tapes and snapshots of mixed sizes."""
    return synthetic_tree(n_groups, per_group, seed)


def test_the_front_of_500_call_sites_is_exact_and_non_dominated():
    model = CostModel(deep_tree())
    assert len(model.site_ids) == 500
    front = advisor.pareto(model)
    assert len(front) > 10
    peaks = [p for _, p, _ in front]
    times = [t for t, _, _ in front]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)
    assert all(a > b for a, b in zip(times, times[1:]))
    for t, p, placement in front:
        assert model.predict(placement) == Prediction(t, p)
    # its ends: the fastest placement overall, and a peak no higher than all-checkpointed
    all_split = model.predict({s: False for s in model.site_ids})
    assert front[-1][0] == min(t for t, _, _ in front) and front[-1][0] <= all_split.time
    assert front[0][1] <= model.predict({}).peak_bytes


def test_the_ranked_sweeps_reach_the_greedy_front_on_a_mid_sized_tree():
    # on a tree small enough for the greedy budget sweep, the front keeps every point of it
    model = CostModel(deep_tree(n_groups=5, per_group=6, seed=5))
    pb = advisor._Problem(model, None, None, None)
    greedy = advisor._front(advisor._greedy_sweep(pb))
    front = advisor.pareto(model)
    for t, p, _ in greedy:
        assert min(ft for ft, fp, _ in front if fp <= p) <= t
