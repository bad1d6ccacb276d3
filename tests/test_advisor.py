"""The checkpoint advisor: budgets, Tapenade's ranking, exact and heuristic searches, Pareto front."""
import itertools
import random
import statistics

import pytest
from hypothesis import assume, given, settings, strategies as st

from nbadjoint.profiling import advisor
from nbadjoint.profiling.advisor import pareto, suggest, tapenade_rank_key, tapenade_ranking
from nbadjoint.profiling.calltree import ROOT_SITE, CallNode
from nbadjoint.profiling.model import CostModel, Prediction, SiteFigures, predict
from nbadjoint.profiling.units import format_bytes, format_seconds, parse_budget, parse_bytes


def leaf(site, tape, snapshot, dt=0.0):
    return CallNode(site, [tape], [], snapshot, t_primal=dt, t_fwd=0.5, t_bwd=0.5)


W, X, Y, Z = "root:1:w", "root:2:x", "root:3:y", "root:4:z"


def siblings():
    """Four leaves under the root, no gaps of its own:
         w: snapshot 1000, tape 10,   saves 1  -> splitting lowers the peak
         x: snapshot 10,   tape 10,   saves 5  -> neutral
         y: snapshot 10,   tape 2000, saves 8  -> splitting raises the peak
         z: snapshot 10,   tape 100,  saves 3  -> neutral (its tape stays below the peak)
    All checkpointed: contributions 1000, 10, 10, 10; reversing y at pre 1010 -> peak 3010.
    w split: contributions 10, 10, 10, 10; y at pre 20 -> 2020.       delta_pk(w) = -990
    y split: Total = 1000 + 10 + 2000 + 10 = 3020; z at pre 3010 -> 3110.  delta_pk(y) = +100
    """
    kids = [leaf(W, 10, 1000, 1.0), leaf(X, 10, 10, 5.0), leaf(Y, 2000, 10, 8.0),
            leaf(Z, 100, 10, 3.0)]
    return CallNode(ROOT_SITE, [0] * 5, kids)


# -- budgets and units -------------------------------------------------------------------------

def test_parse_budget_reads_decimal_and_binary_units():
    assert parse_budget("200MB") == 200_000_000
    assert parse_budget("200M") == 200_000_000
    assert parse_budget("1.5 GiB") == 1_610_612_736
    assert parse_budget("64 kB") == 64_000
    assert parse_budget("4096") == 4096
    assert parse_budget(4096) == 4096


def test_the_advisor_takes_a_zero_budget_and_none_for_the_default():
    assert parse_budget(0, allow_zero=True) == 0
    with pytest.raises(ValueError, match="positive"):
        parse_budget(0)
    root = siblings()
    assert suggest(root, budget=None).budget_bytes == predict(root, {}).peak_bytes == 3010
    assert suggest(root, budget="3010 B").budget_bytes == 3010
    with pytest.raises(ValueError, match="within the budget"):
        suggest(root, budget=0)


def test_parse_budget_rejects_an_unknown_unit_with_the_valid_ones():
    with pytest.raises(ValueError, match="MiB"):
        parse_budget("12 parsecs")


def test_parse_budget_rejects_negative_sizes():
    with pytest.raises(ValueError, match="negative"):
        parse_bytes(-1)


def test_format_bytes_and_seconds():
    assert format_bytes(1_234_567) == "1.2 MB"
    assert format_bytes(512) == "512 B"
    assert format_bytes(0, signed=True) == "+0 B"
    assert format_bytes(-2_500_000_000, signed=True) == "-2.5 GB"
    assert format_seconds(0.0351) == "35.1 ms"
    assert format_seconds(41.2e-3, signed=True) == "+41.2 ms"
    assert format_seconds(2.5) == "2.5 s"
    assert format_seconds(4e-6) == "4.0 µs"
    assert format_seconds(0) == "0 s"


def test_default_budget_is_the_all_checkpointed_peak():
    s = suggest(siblings(), method="optimal")
    assert s.budget_bytes == predict(siblings(), {}).peak_bytes == 3010


# -- Tapenade's ranking -------------------------------------------------------------------------

def test_tapenade_ranking_puts_peak_lowering_then_neutral_then_peak_raising_sites():
    s = suggest(siblings(), method="tapenade")
    assert [r["id"] for r in s.ranking] == [W, X, Z, Y]
    assert {r["id"]: r["delta_pk"] for r in s.ranking} == {W: -990, X: 0, Z: 0, Y: 100}


def test_tapenade_ranking_orders_each_group_by_time_per_byte():
    def fig(s, dt, dpk):
        return SiteFigures(id=s, calls=1, checkpointed=True, t_primal=dt, t_snapshot=0.0,
                           t_fwd_excl=0, t_fwd_incl=0, t_bwd_excl=0, t_bwd_incl=0,
                           snapshot_bytes=0, snapshot_bytes_max=0, tape_bytes=0,
                           tape_bytes_max=0, snp=0, pk=0, tn=0, delta_t=dt, delta_pk=dpk)
    figs = {f.id: f for f in [fig("a", 1.0, -10), fig("b", 1.0, -1), fig("c", 2.0, 0),
                              fig("d", 3.0, 0), fig("e", 1.0, 100), fig("f", 1.0, 10)]}
    # negatives: b (1/1) before a (1/10); neutral by delta_t: d, c; positives: f (0.1) before e
    assert tapenade_ranking(figs) == ["b", "a", "d", "c", "f", "e"]
    assert tapenade_rank_key(1.0, -1, "b") < tapenade_rank_key(5.0, 0, "x")


def test_tapenade_keeps_only_the_flips_that_fit_the_budget():
    # budget 2100: w, x, z split (peak 2020); splitting y too would reach 2120
    s = suggest(siblings(), budget=2100, method="tapenade")
    assert s.placement == {W: False, X: False, Y: True, Z: False}
    assert (s.peak_bytes, s.method) == (2020, "tapenade")


def test_tapenade_recheckpoints_a_run_split_site_when_the_run_is_over_budget():
    # run with y split: peak 3110 > default budget 3010; y goes back to checkpointed
    s = suggest(siblings(), run_placement={Y: False}, method="tapenade")
    assert s.placement == {W: False, X: False, Y: True, Z: False}
    assert s.peak_bytes == 2020


def test_ranking_entries_say_what_each_site_should_do():
    s = suggest(siblings(), budget=2100, method="optimal")
    rows = {r["id"]: r for r in s.ranking}
    assert rows[X] == {"id": X, "checkpoint": False, "delta_t": 5.0, "delta_pk": 0,
                       "reason": "split: saves 5.0 s, peak +0 B"}
    assert rows[Y]["checkpoint"] is True
    assert rows[Y]["reason"].startswith("checkpoint: splitting saves 8.0 s, peak +100 B")


# -- the exact search ---------------------------------------------------------------------------

def test_optimal_meets_a_budget_below_the_all_checkpointed_peak():
    # w saves no time but its snapshot dominates: all checkpointed 3000 B, w split 2010 B
    root = CallNode(ROOT_SITE, [0, 0, 0], [leaf(W, 10, 1000, 0.0), leaf(Y, 2000, 10, 8.0)])
    assert predict(root, {}).peak_bytes == 3000
    s = suggest(root, budget=2100, method="optimal")
    assert s.placement[W] is False
    assert s.peak_bytes == 2010


def test_an_impossible_budget_raises_with_the_lowest_peak_found():
    with pytest.raises(ValueError, match=r"lowest peak found is 2\.0 kB \(2020 B\)"):
        suggest(siblings(), budget=1000, method="optimal")


def random_tree(rng: random.Random, n_sites: int, max_depth=3, max_children=3,
                big_snapshots=False):
    sites = [f"f{i}:{i + 1}:g{i}" for i in range(n_sites)]

    def node(site, depth):
        k = rng.randint(1 if depth == 0 else 0, max_children) if depth < max_depth else 0
        children = [node(rng.choice(sites), depth + 1) for _ in range(k)]
        if children and rng.random() < 0.3:
            children.append(CallNode.from_dict(children[-1].to_dict()))
        gaps = [rng.choice([0, rng.randint(0, 64)]) for _ in range(len(children) + 1)]
        snap = rng.choice([0, rng.randint(0, 40), rng.randint(100, 600)])   # some > tape
        if big_snapshots:
            snap = rng.randint(200, 2000)
        return CallNode(site, gaps, children, snap, t_primal=rng.randint(0, 8) / 4,
                        t_snapshot=rng.randint(0, 2) / 4, t_fwd=0.25, t_bwd=0.25)

    return node(ROOT_SITE, 0)


def brute_force(model: CostModel, budget):
    """Lexicographically smallest (time, peak) with peak <= budget, or None."""
    best = None
    for bits in itertools.product((False, True), repeat=len(model.site_ids)):
        p = model.predict(dict(zip(model.site_ids, bits)))
        if p.peak_bytes <= budget and (best is None or (p.time, p.peak_bytes) < best):
            best = (p.time, p.peak_bytes)
    return best


def all_peaks(model):
    return sorted({model.predict(dict(zip(model.site_ids, bits))).peak_bytes
                   for bits in itertools.product((False, True), repeat=len(model.site_ids))})


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.floats(0.0, 1.0))
def test_optimal_equals_brute_force(seed, n_sites, where):
    rng = random.Random(seed)
    model = CostModel(random_tree(rng, n_sites))
    peaks = all_peaks(model)
    budget = peaks[min(int(where * len(peaks)), len(peaks) - 1)] + rng.choice([0, 0, 3])
    expect = brute_force(model, budget)
    s = suggest(model, budget=budget, method="optimal")
    assert (s.time, s.peak_bytes) == expect
    assert predict(model, s.placement) == Prediction(s.time, s.peak_bytes)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.floats(0.0, 1.0))
def test_optimal_equals_brute_force_when_splits_lower_the_peak(seed, n_sites, where):
    rng = random.Random(seed)
    model = CostModel(random_tree(rng, n_sites, big_snapshots=True))
    assume(any(f.delta_pk < 0 for f in model.site_figures({}).values()))
    peaks = all_peaks(model)
    budget = peaks[min(int(where * len(peaks)), len(peaks) - 1)]
    s = suggest(model, budget=budget, method="optimal")
    assert (s.time, s.peak_bytes) == brute_force(model, budget)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_optimal_raises_exactly_when_brute_force_finds_nothing(seed):
    rng = random.Random(seed)
    model = CostModel(random_tree(rng, 4))
    budget = all_peaks(model)[0] - 1
    assume(budget >= 0)
    assert brute_force(model, budget) is None
    with pytest.raises(ValueError, match="Raise the budget"):
        suggest(model, budget=budget, method="optimal")


def many_sites(n):
    return CallNode(ROOT_SITE, [8] * (n + 1),
                    [leaf(f"root:{i}:f{i}", 100 + 37 * i % 200, 20 + 53 * i % 300, 1.0 + i % 5)
                     for i in range(n)])


def test_auto_answers_exactly_on_small_trees():
    assert suggest(siblings()).method == "optimal"


def test_auto_falls_back_to_greedy_beyond_twenty_sites():
    s = suggest(many_sites(22))
    assert s.method == "greedy"
    assert s.peak_bytes <= s.budget_bytes


def test_auto_falls_back_to_greedy_when_the_exact_search_hits_its_node_limit(monkeypatch):
    monkeypatch.setattr(advisor, "AUTO_NODE_LIMIT", 1)
    assert suggest(many_sites(8)).method == "greedy"


def test_suggest_takes_a_call_tree_in_any_form():
    from nbadjoint.profiling.calltree import aggregate
    a = suggest(siblings(), budget=2100)
    b = suggest(aggregate(siblings()), budget=2100)
    c = suggest(CostModel(siblings()), budget=2100)
    assert a.placement == b.placement == c.placement


def test_optimal_refuses_more_than_twenty_five_sites():
    with pytest.raises(ValueError, match="method='greedy'"):
        suggest(many_sites(26), method="optimal")


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="tapenade"):
        suggest(siblings(), method="fastest")


# -- heuristics ---------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_greedy_fits_the_budget_and_no_single_flip_improves_it(seed, n_sites):
    rng = random.Random(seed)
    model = CostModel(random_tree(rng, n_sites))
    budget = rng.choice(all_peaks(model)[-3:])
    s = suggest(model, budget=budget, method="greedy")
    assert s.peak_bytes <= budget
    for site in model.site_ids:
        p = model.predict({**s.placement, site: not s.placement[site]})
        assert not (p.peak_bytes <= budget and (p.time, p.peak_bytes) < (s.time, s.peak_bytes))


def test_sites_outside_the_search_keep_their_run_value():
    s = suggest(siblings(), sites=[X, Y, Z], run_placement={W: True}, method="optimal")
    assert s.placement[W] is True


def test_sites_never_executed_are_reported_and_left_as_run():
    s = suggest(siblings(), sites=[W, X, Y, Z, "root:9:never"],
                run_placement={"root:9:never": False}, method="optimal")
    assert s.placement["root:9:never"] is False
    assert s.ranking[-1]["reason"].startswith("not executed")


def test_sites_may_be_given_as_records():
    class Site:
        def __init__(self, id):
            self.id = id
    a = suggest(siblings(), sites=[Site(W), {"id": X}, Y, Z], method="optimal")
    assert a.placement == suggest(siblings(), method="optimal").placement


def test_heuristics_compared_with_optimal_on_random_trees():
    """Prints how far tapenade and greedy land from the optimum (run with -s)."""
    rng = random.Random(2024)
    excess = {"tapenade": [], "greedy": []}
    for _ in range(150):
        model = CostModel(random_tree(rng, rng.randint(3, 7)))
        budget = predict(model, {}).peak_bytes
        best = suggest(model, budget=budget, method="optimal")
        for method in excess:
            s = suggest(model, budget=budget, method=method)
            assert s.peak_bytes <= budget
            assert s.time >= best.time
            excess[method].append(s.time / best.time - 1 if best.time > 0 else 0.0)
    for method, xs in excess.items():
        hits = sum(x == 0 for x in xs)
        print(f"\n{method}: optimal on {hits}/{len(xs)} random trees; time above optimal: "
              f"mean {100 * statistics.mean(xs):.2f}%, max {100 * max(xs):.2f}%")


# -- Pareto front -------------------------------------------------------------------------------

def assert_front(front):
    peaks = [p for _, p, _ in front]
    times = [t for t, _, _ in front]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)
    assert all(a > b for a, b in zip(times, times[1:]))


def test_pareto_front_of_the_siblings():
    front = pareto(siblings())
    assert_front(front)
    # fastest point: everything split
    assert front[-1][2] == {W: False, X: False, Y: False, Z: False}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_pareto_front_holds_the_optimum_of_every_budget(seed, n_sites):
    rng = random.Random(seed)
    model = CostModel(random_tree(rng, n_sites))
    front = pareto(model)
    assert_front(front)
    for t, p, placement in front:
        assert model.predict(placement) == Prediction(t, p)
    for budget in all_peaks(model):
        expect = brute_force(model, budget)
        best_on_front = min((t, p) for t, p, _ in front if p <= budget)
        assert best_on_front == expect


def test_pareto_by_branch_and_bound_equals_enumeration():
    rng = random.Random(7)
    n = advisor.PARETO_ENUMERATE_SITES + 2
    kids = [CallNode(f"root:{i}:f{i}", [rng.randint(0, 300), rng.randint(0, 50)],
                     [leaf(f"f{i}:1:g{i}", rng.randint(0, 200), rng.randint(0, 400), 0.5)],
                     rng.randint(0, 400), t_primal=rng.randint(1, 12) / 4)
            for i in range(n // 2)]
    root = CallNode(ROOT_SITE, [0] * (len(kids) + 1), kids)
    model = CostModel(root)
    assert len(model.site_ids) == n
    points = []
    for bits in itertools.product((False, True), repeat=n):
        pr = model.predict(dict(zip(model.site_ids, bits)))
        points.append((pr.time, pr.peak_bytes))
    expect, best_t = [], float("inf")
    for t, p in sorted(points, key=lambda x: (x[1], x[0])):
        if t < best_t:
            expect.append((t, p))
            best_t = t
    assert [(t, p) for t, p, _ in pareto(model)] == expect


def test_pareto_beyond_the_exact_limit_is_non_dominated():
    front = pareto(many_sites(24))
    assert_front(front)
    assert len(front) > 2


@pytest.mark.parametrize("method", ["optimal", "greedy", "auto"])
def test_a_change_that_gains_nothing_is_not_advised(method):
    # x's recomputation is skipped (its tape would be empty): checkpointing it costs no time, and
    # splitting it changes no peak, so the advice keeps it as run
    x = CallNode(X, [0], [], 0, t_primal=2.0, t_fwd=2.0, t_bwd=0.5, t_saved=2.0)
    root = CallNode(ROOT_SITE, [0, 0, 0], [x, leaf(Y, 10, 10, 3.0)])
    s = suggest(root, run_placement={X: True, Y: True}, budget=10_000, method=method)
    assert s.placement[X] is True
    assert s.placement[Y] is False          # a real gain is still advised


def test_predictions_and_suggestions_print_in_units_and_name_the_minority_of_sites():
    from nbadjoint.profiling.advisor import Suggestion
    assert repr(Prediction(0.0767, 12_345_678)) == "Prediction(time=76.7 ms, peak=12.3 MB)"
    placement = {f"root:{k}:f{k}": k != 3 for k in range(20)}
    text = repr(Suggestion(placement, 0.1245, 1_000_000, "optimal", budget_bytes=1_800_000))
    assert text.startswith("Suggestion(optimal: time=124.5 ms, peak=1.0 MB, budget=1.8 MB; "
                           "1 of 20 call sites split:\n    root:3:f3)")
    assert repr(Suggestion({k: False for k in placement}, 0.2, 3000, "greedy")) == \
        "Suggestion(greedy: time=200.0 ms, peak=3.0 kB; 0 of 20 call sites checkpointed)"
    many = repr(Suggestion({f"root:{k}:f{k}": k % 2 == 0 for k in range(30)}, 0.2, 3000, "greedy"))
    assert "15 of 30 call sites split:" in many and "... and 3 more" in many and "budget" not in many
