"""The checkpoint cost model: hand-computed cases, aggregation, per-site figures, speed."""
import json
import math
import random
import time

import pytest
from hypothesis import assume, given, settings, strategies as st

from nbadjoint.profiling.calltree import (ROOT_SITE, AggregatedTree, CallNode, aggregate,
                                          tree_from_dict)
from nbadjoint.profiling.model import CostModel, Prediction, predict, site_figures


# -- an independent oracle: the formulas of the calltree docstring, literally, on CallNodes ----

def ref_total_and_peak(v, placement):
    """(Total(v), Pk(v)) straight from the definitions (recursive; small trees only)."""
    total = sum(v.gaps)
    pre = 0
    peaks = []
    for i, c in enumerate(v.children):
        pre += v.gaps[i]
        ck = placement.get(c.site, True)
        tc, pc = ref_total_and_peak(c, placement)
        x = max(c.snapshot_bytes, pc) if ck else pc
        peaks.append(pre + x)
        contrib = c.snapshot_bytes if ck else tc
        total += contrib
        pre += contrib
    return total, max([total] + peaks)


def ref_time(root, placement):
    t = 0.0
    for v in root.iter_nodes():
        t += v.t_fwd + v.t_bwd
        if v is not root and placement.get(v.site, True):
            t += v.t_primal + v.t_snapshot - v.t_saved
    return t


def leaf(site, tape, snapshot, t_primal=0.0, t_snapshot=0.0, t_fwd=0.0, t_bwd=0.0):
    return CallNode(site, [tape], [], snapshot, t_primal, t_snapshot, t_fwd, t_bwd)


def nested_tree():
    """root -> a -> c, root -> b.  Used for several hand-computed cases."""
    c = leaf("a:3:c", tape=128, snapshot=64, t_primal=2.0, t_snapshot=0.25, t_fwd=0.5, t_bwd=0.5)
    a = CallNode("root:2:a", [16, 32], [c], 8, t_primal=4.0, t_snapshot=0.5, t_fwd=1.0, t_bwd=1.0)
    b = leaf("root:3:b", tape=512, snapshot=256, t_primal=8.0, t_snapshot=1.0, t_fwd=2.0, t_bwd=2.0)
    return CallNode(ROOT_SITE, [1, 2, 4], [a, b], t_fwd=1.0, t_bwd=2.0)


A, B, C = "root:2:a", "root:3:b", "a:3:c"


# -- hand-computed cases ---------------------------------------------------------------------

def test_checkpointed_leaf_time_and_peak():
    root = CallNode(ROOT_SITE, [10, 20], [leaf("r:1:f", tape=100, snapshot=5, t_primal=1.0,
                                               t_snapshot=0.5, t_fwd=2.0, t_bwd=3.0)],
                    t_fwd=0.25, t_bwd=0.5)
    # Total(f) = 100 = Pk(f); contrib(f) = 5; Total(root) = 10 + 20 + 5 = 35
    # pre_0 = 10, X_0 = max(5, 100) = 100 -> 110; Pk(root) = max(35, 110) = 110
    # T = 0.25 + 0.5 + 2 + 3 + (1 + 0.5) = 7.25
    assert predict(root, {"r:1:f": True}) == Prediction(time=7.25, peak_bytes=110)


def test_split_leaf_time_and_peak():
    root = CallNode(ROOT_SITE, [10, 20], [leaf("r:1:f", tape=100, snapshot=5, t_primal=1.0,
                                               t_snapshot=0.5, t_fwd=2.0, t_bwd=3.0)],
                    t_fwd=0.25, t_bwd=0.5)
    # contrib(f) = 100; Total(root) = 130; pre_0 + Pk(f) = 110; Pk(root) = 130
    # T = 0.25 + 0.5 + 2 + 3 = 5.75
    assert predict(root, {"r:1:f": False}) == Prediction(time=5.75, peak_bytes=130)


def test_split_lowers_peak_when_snapshot_exceeds_tape():
    root = CallNode(ROOT_SITE, [10, 20], [leaf("r:1:f", tape=100, snapshot=500)])
    # checkpointed: Total(root) = 10 + 20 + 500 = 530 = peak;  split: 10 + 20 + 100 = 130
    assert predict(root, {"r:1:f": True}).peak_bytes == 530
    assert predict(root, {"r:1:f": False}).peak_bytes == 130


def test_nested_all_checkpointed():
    # c: Total 128, Pk 128.  a: Total = 16+32+64 = 112, Pk = max(112, 16+128) = 144.
    # b: Total 512.  root: Total = 1+2+4+8+256 = 271; child a: 1 + 144 = 145;
    # child b: pre = 1+2+8 = 11, 11 + 512 = 523.  Peak 523.
    # T = base (1+2 + 1+1 + .5+.5 + 2+2 = 10) + a 4.5 + c 2.25 + b 9 = 25.75
    assert predict(nested_tree(), {}) == Prediction(time=25.75, peak_bytes=523)


def test_nested_outer_split_inner_checkpointed():
    # a split: contrib(a) = Total(a) = 112; root Total = 7 + 112 + 256 = 375;
    # child a: 1 + 144 = 145; child b: pre = 1 + 112 + 2 = 115, 115 + 512 = 627.  Peak 627.
    # T = 10 + c 2.25 + b 9 = 21.25
    assert predict(nested_tree(), {A: False}) == Prediction(time=21.25, peak_bytes=627)


def test_nested_all_split():
    # a: Total = 16+32+128 = 176; root Total = 7 + 176 + 512 = 695 = peak; T = base = 10
    assert predict(nested_tree(), {A: False, B: False, C: False}) == Prediction(10.0, 695)


def test_nested_outer_checkpointed_inner_split():
    # a: Total 176 = Pk; root: Total = 7 + 8 + 512 = 527; child a: 1 + 176 = 177;
    # child b: 11 + 512 = 523.  Peak 527.  T = 10 + a 4.5 = 14.5
    assert predict(nested_tree(), {B: False, C: False}) == Prediction(14.5, 527)


def test_missing_sites_default_to_checkpointed():
    assert predict(nested_tree(), {}) == predict(nested_tree(), {A: True, B: True, C: True})


def test_placement_ids_not_in_the_tree_are_ignored():
    assert predict(nested_tree(), {"elsewhere:9:g": False}) == predict(nested_tree(), {})


def test_site_figures_stack_positions():
    figs = site_figures(nested_tree(), {})
    # reversal bases: a at 1, c at 1 + 16 = 17, b at 1 + 2 + 8 = 11
    assert (figs[A].snp, figs[A].tn, figs[A].pk) == (1 + 8, 1 + 112, 1 + 144)
    assert (figs[C].snp, figs[C].tn, figs[C].pk) == (17 + 64, 17 + 128, 17 + 128)
    assert (figs[B].snp, figs[B].tn, figs[B].pk) == (11 + 256, 11 + 512, 11 + 512)


def test_site_figures_marginal_time_and_peak():
    figs = site_figures(nested_tree(), {})
    # delta_t = t_primal + t_snapshot; delta_pk: split a alone -> 627 - 523; c alone -> peak
    # stays 523 (a's Pk becomes 176, 1 + 176 < 523); b alone -> Total 527 - 523
    assert {s: (f.delta_t, f.delta_pk) for s, f in figs.items()} == {
        A: (4.5, 104), C: (2.25, 0), B: (9.0, 4)}


def test_site_figures_of_an_already_split_site_compare_with_checkpointing_it():
    figs = site_figures(nested_tree(), {A: False})
    # peak with a split 627, with a checkpointed 523
    assert (figs[A].checkpointed, figs[A].delta_pk, figs[A].delta_t) == (False, 104, 4.5)


def test_site_figures_tape_bytes_and_inclusive_times():
    figs = site_figures(nested_tree(), {})
    assert (figs[A].tape_bytes, figs[C].tape_bytes, figs[B].tape_bytes) == (112, 128, 512)
    # a's forward sweep: own 1.0 + primal of checkpointed c 2.0
    # a's backward sweep: own 1.0 + c's snapshot 0.25 + c recomputed 0.5 + reversed 0.5
    assert (figs[A].t_fwd_incl, figs[A].t_bwd_incl) == (3.0, 2.25)


def test_inclusive_times_of_the_root_add_up_to_the_predicted_time():
    model = CostModel(nested_tree())
    for placement in ({}, {A: False}, {B: False, C: False}):
        fwd, bwd = model.root_inclusive_times(placement)
        assert fwd + bwd == pytest.approx(model.predict(placement).time)


def skipped_leaf_tree():
    """root -> b, where b's recomputation was skipped (its tape would have been empty): its
    forward sweep is estimated by its primal run, which a checkpointed b does not spend again."""
    b = CallNode(B, [0], [], 0, t_primal=3.0, t_snapshot=0.0, t_fwd=3.0, t_bwd=2.0, t_saved=3.0)
    return CallNode(ROOT_SITE, [8, 0], [b], t_fwd=1.0, t_bwd=1.0)


def test_a_skipped_recomputation_is_not_spent_by_a_checkpointed_call():
    model = CostModel(skipped_leaf_tree())
    assert model.predict({}).time == pytest.approx(1.0 + 1.0 + 3.0 + 2.0)         # primal + backward
    assert model.predict({B: False}).time == pytest.approx(1.0 + 1.0 + 3.0 + 2.0)  # forward + backward
    for placement in ({}, {B: False}):
        fwd, bwd = model.root_inclusive_times(placement)
        assert fwd + bwd == pytest.approx(model.predict(placement).time)
        assert model.predict(placement).time == pytest.approx(ref_time(skipped_leaf_tree(), placement))
    totals = aggregate(skipped_leaf_tree()).site_totals()
    assert totals[B].t_saved == 3.0 and totals[B].delta_t == 0.0


def test_skipped_time_survives_aggregation_and_json():
    tree = skipped_leaf_tree()
    again = CallNode.from_dict(json.loads(json.dumps(tree.to_dict())))
    assert again.children[0].t_saved == 3.0
    agg = aggregate(tree)
    assert AggregatedTree.from_dict(json.loads(json.dumps(agg.to_dict()))).nodes[0].t_saved == 3.0
    assert agg.expand().children[0].t_saved == 3.0


# -- aggregation -------------------------------------------------------------------------------

def time_loop(n_steps, gap=24):
    steps = []
    for i in range(n_steps):
        inner = leaf("step:2:rhs", tape=800, snapshot=0, t_primal=1e-5, t_snapshot=0.0,
                     t_fwd=2e-5 + 1e-9 * (i % 7), t_bwd=3e-5)
        steps.append(CallNode("model:5:step", [8, 16], [inner], 800, t_primal=2e-5,
                              t_snapshot=1e-6, t_fwd=1e-5, t_bwd=1e-5 + 1e-9 * (i % 3)))
    return CallNode(ROOT_SITE, [0] + [gap] * n_steps, steps, t_fwd=1e-4, t_bwd=1e-4)


def test_identical_time_steps_are_stored_once():
    agg = aggregate(time_loop(10_000))
    # rhs, step, root; the root's 10^4 children are one run-length segment
    assert len(agg.nodes) == 3
    assert agg.nodes[agg.root].segments == ((1, 24, 10_000),)
    assert agg.instances == 1 + 2 * 10_000


def test_aggregation_keeps_summed_times_per_site():
    root = time_loop(1000)
    totals = aggregate(root).site_totals()
    step = totals["model:5:step"]
    assert step.calls == 1000
    assert step.t_bwd_excl == pytest.approx(sum(c.t_bwd for c in root.children), rel=1e-12)
    assert step.snapshot_bytes == 800 * 1000


def test_aggregated_time_loop_predicts_like_the_formula():
    root = time_loop(300)
    for placement in ({}, {"model:5:step": False}, {"step:2:rhs": False},
                      {"model:5:step": False, "step:2:rhs": False}):
        tot, pk = ref_total_and_peak(root, placement)
        got = predict(aggregate(root), placement)
        assert got.peak_bytes == pk
        assert got.time == pytest.approx(ref_time(root, placement), rel=1e-12)


def test_different_gaps_break_a_run():
    kids = [leaf("r:1:f", 10, 1) for _ in range(4)]
    root = CallNode(ROOT_SITE, [0, 5, 5, 6, 5], kids)
    agg = aggregate(root)
    assert agg.nodes[agg.root].segments == ((0, 5, 2), (0, 6, 1), (0, 5, 1))


def periodic_loop(n_periods, tail=3):
    """Nine plain steps, then one that also writes output, n_periods times, then a few more."""
    plain = lambda: CallNode("model:5:step", [8, 16], [leaf("step:2:rhs", 800, 0, 1e-5)], 800,
                             t_primal=2e-5)
    output = lambda: CallNode("model:7:write", [0], [], 4000, t_primal=1e-4)
    kids = []
    for _ in range(n_periods):
        kids += [plain() for _ in range(9)] + [output()]
    kids += [plain() for _ in range(tail)]
    return CallNode(ROOT_SITE, [0] + [24] * len(kids), kids)


def test_periodic_children_are_stored_as_one_repeated_group():
    agg = aggregate(periodic_loop(1000))
    assert len(agg.nodes) == 5      # rhs, step, write, the group (9 steps + write), root
    assert agg.nodes[agg.root].segments == ((3, 0, 1000), (1, 24, 3))
    assert agg.nodes[3].site == "<group>"
    assert agg.sites == ["step:2:rhs", "model:5:step", "model:7:write"]
    assert agg.instances == 1 + 1000 * 19 + 3 * 2


def test_periodic_loop_predicts_like_the_formula():
    root = periodic_loop(40)
    for placement in ({}, {"model:5:step": False}, {"model:7:write": False},
                      {"model:5:step": False, "step:2:rhs": False}):
        _, pk = ref_total_and_peak(root, placement)
        assert predict(root, placement).peak_bytes == pk
        assert predict(root, placement).time == pytest.approx(ref_time(root, placement))


def test_expanding_a_periodic_loop_restores_the_children():
    root = periodic_loop(7)
    again = aggregate(root).expand()
    assert [c.site for c in again.children] == [c.site for c in root.children]
    assert again.gaps == root.gaps


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_periodic_sequences_predict_like_the_formula(seed):
    rng = random.Random(seed)
    kinds = [leaf(f"r:{i}:f{i}", rng.randint(0, 99), rng.choice([0, 50, 300]), 1.0)
             for i in range(3)]
    pattern = [(rng.randrange(3), rng.choice([0, 8])) for _ in range(rng.randint(1, 6))]
    seq = [(rng.randrange(3), rng.choice([0, 8])) for _ in range(rng.randint(0, 4))]
    seq += pattern * rng.randint(1, 6) + [(rng.randrange(3), 8) for _ in range(rng.randint(0, 4))]
    kids = [CallNode.from_dict(kinds[k].to_dict()) for k, _ in seq]
    root = CallNode(ROOT_SITE, [rng.randint(0, 9)] + [g for _, g in seq], kids)
    agg = aggregate(root)
    assert aggregate(agg.expand()).to_dict() == agg.to_dict()
    for _ in range(3):
        placement = {k.site: rng.random() < 0.5 for k in kinds}
        assert predict(agg, placement).peak_bytes == ref_total_and_peak(root, placement)[1]


def random_tree(rng: random.Random, n_sites=4, max_depth=4, max_children=3):
    """A random tree with repeated identical subtrees and snapshots both smaller and larger
    than the tape they replace (so splitting can lower the peak)."""
    sites = [f"f{i}:{i + 1}:g{i}" for i in range(n_sites)]

    def times():
        return {name: rng.randint(0, 8) / 4 for name in ("t_primal", "t_snapshot", "t_fwd", "t_bwd")}

    def node(site, depth):
        k = rng.randint(0, max_children) if depth < max_depth else 0
        children, gaps = [], [rng.choice([0, rng.randint(0, 64)])]
        while len(children) < k:
            c = node(rng.choice(sites), depth + 1)
            children.append(c)
            gaps.append(rng.choice([0, 8, rng.randint(0, 64)]))
            for _ in range(rng.choice([0, 0, 1, 3])):       # structurally identical copies
                copy = CallNode.from_dict(c.to_dict())
                for name, value in times().items():
                    setattr(copy, name, value)
                children.append(copy)
                gaps.append(gaps[-1] if rng.random() < 0.7 else rng.randint(0, 64))
        snap = rng.choice([0, rng.randint(0, 40), rng.randint(100, 600)])
        return CallNode(site, gaps, children, snap, **times())

    root = node(ROOT_SITE, 0)
    root.snapshot_bytes = 0
    return root, sites


def random_placement(rng, sites):
    return {s: rng.random() < 0.5 for s in sites}


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_aggregated_prediction_equals_the_uncompressed_formula(seed):
    rng = random.Random(seed)
    root, sites = random_tree(rng)
    model = CostModel(root)
    for _ in range(4):
        placement = random_placement(rng, sites)
        _, pk = ref_total_and_peak(root, placement)
        got = model.predict(placement)
        assert got.peak_bytes == pk
        assert got.time == pytest.approx(ref_time(root, placement), rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_expanded_aggregate_predicts_the_same(seed):
    rng = random.Random(seed)
    root, sites = random_tree(rng)
    expanded = aggregate(root).expand()
    for _ in range(3):
        placement = random_placement(rng, sites)
        a, b = predict(root, placement), predict(expanded, placement)
        assert a.peak_bytes == b.peak_bytes
        assert a.time == pytest.approx(b.time, rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_peak_with_undecided_sites_is_a_lower_bound_of_every_completion(seed):
    rng = random.Random(seed)
    root, sites = random_tree(rng, n_sites=3)
    model = CostModel(root)
    state = [rng.choice([0, 1, -1]) for _ in model.site_ids] + [0]
    bound = model.peak_of_state(state)
    undecided = [i for i, v in enumerate(state[:-1]) if v == -1]
    for mask in range(2 ** len(undecided)):
        full = list(state)
        for j, i in enumerate(undecided):
            full[i] = (mask >> j) & 1
        assert bound <= model.peak_of_state(full)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_incremental_peak_after_flips_equals_a_full_evaluation(seed):
    rng = random.Random(seed)
    root, sites = random_tree(rng, n_sites=5)
    model = CostModel(root)
    state = model.state_of(random_placement(rng, sites))
    model.set_reference(state)
    n = len(model.site_ids)
    assume(n > 0)
    for changed in ([rng.randrange(n)], rng.sample(range(n), min(2, n))):
        flipped = list(state)
        for i in changed:
            flipped[i] = 1 - flipped[i]
        assert model.peak_changed(flipped, changed) == model.peak_of_state(flipped)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_site_stack_positions_match_a_walk_over_instances(seed):
    rng = random.Random(seed)
    root, sites = random_tree(rng)
    placement = random_placement(rng, sites)
    figs = site_figures(root, placement)
    assert {s: (f.snp, f.pk, f.tn) for s, f in figs.items()} == ref_site_positions(root, placement)


def ref_site_positions(root, placement):
    """{site: (snp, pk, tn)} by walking every instance with its absolute reversal base."""
    expect = {}

    def walk(v, base):
        pre = 0
        for i, c in enumerate(v.children):
            pre += v.gaps[i]
            ck = placement.get(c.site, True)
            tc, pc = ref_total_and_peak(c, placement)
            snp = base + pre + (c.snapshot_bytes if ck else 0)
            old = expect.get(c.site, (0, 0, 0))
            expect[c.site] = (max(old[0], snp), max(old[1], base + pre + pc),
                              max(old[2], base + pre + tc))
            walk(c, base + pre)
            pre += c.snapshot_bytes if ck else tc

    walk(root, 0)
    return expect


def test_site_figures_of_a_periodic_loop():
    root = periodic_loop(6, tail=2)
    for placement in ({}, {"model:5:step": False}, {"model:7:write": False}):
        figs = site_figures(root, placement)
        assert {s: (f.snp, f.pk, f.tn) for s, f in figs.items()} == \
            ref_site_positions(root, placement)
        assert (figs["model:5:step"].calls, figs["model:7:write"].calls) == (9 * 6 + 2, 6)
        assert figs["model:7:write"].delta_t == pytest.approx(6 * 1e-4)


# -- serialisation and robustness --------------------------------------------------------------

def test_call_node_dict_round_trip_through_json():
    root = nested_tree()
    again = CallNode.from_dict(json.loads(json.dumps(root.to_dict())))
    assert again.to_dict() == root.to_dict()


def test_aggregated_tree_dict_round_trip_through_json():
    agg = aggregate(time_loop(50))
    again = tree_from_dict(json.loads(json.dumps(agg.to_dict())))
    assert isinstance(again, AggregatedTree)
    assert again.to_dict() == agg.to_dict()
    assert predict(again, {"step:2:rhs": False}) == predict(agg, {"step:2:rhs": False})


def test_tree_from_dict_reads_the_nested_form():
    assert predict(tree_from_dict(nested_tree().to_dict()), {}) == predict(nested_tree(), {})


def test_gaps_of_the_wrong_length_are_rejected():
    bad = CallNode(ROOT_SITE, [1], [leaf("r:1:f", 1, 1)])
    with pytest.raises(ValueError, match=r"len\(gaps\) == len\(children\) \+ 1"):
        aggregate(bad)


def test_deep_chain_of_100000_calls():
    node = leaf("f:1:f", tape=1, snapshot=1, t_primal=1.0)
    for depth in range(100_000 - 1):
        node = CallNode("f:1:f", [1, 1], [node], snapshot_bytes=2 + depth % 2, t_primal=1.0)
    root = CallNode(ROOT_SITE, [0, 0], [node])
    agg = aggregate(root)
    # all split: every level pushes its two gap bytes, the leaf its one
    assert predict(agg, {"f:1:f": False}).peak_bytes == 2 * (100_000 - 1) + 1
    assert CallNode.from_dict(root.to_dict()).to_dict()["children"][0]["site"] == "f:1:f"


def test_predict_speed_on_a_10000_step_loop():
    """Reports milliseconds per prediction (run with -s to see them)."""
    compact = CostModel(time_loop(10_000))
    rng = random.Random(1)
    varied = time_loop(10_000)
    for step in varied.children:                 # no two steps alike: nothing to share
        step.gaps[1] = rng.randint(0, 10**6)
    spread = CostModel(varied)
    placements = [{"model:5:step": a, "step:2:rhs": b} for a in (True, False) for b in (True, False)]
    for name, model in (("identical steps", compact), ("all steps different", spread)):
        n = 200 if name == "identical steps" else 20
        start = time.perf_counter()
        for i in range(n):
            model.predict(placements[i % 4])
        ms = (time.perf_counter() - start) / n * 1e3
        print(f"\npredict on a 10^4-step loop ({name}, {len(model.tree.nodes)} unique nodes): "
              f"{ms:.3f} ms")
        assert ms < (1.0 if name == "identical steps" else 200.0)


# -- the memory term: tape kept past the cache ---------------------------------------------------

from nbadjoint.profiling.model import MemoryCost  # noqa: E402

# nested_tree's peaks: all checkpointed 523, A split 627, all split (see below); a cache of 500
# bytes holds none of the difference, 2 ns per byte beyond it
MEMORY = MemoryCost(seconds_per_byte=2e-9, cache_bytes=500)


def test_memory_term_is_zero_for_the_placement_that_ran():
    for run in ({}, {A: False}, {A: False, B: False, C: False}):
        model = CostModel(nested_tree(), memory=MEMORY, run_placement=run)
        assert model.predict(run) == predict(nested_tree(), run)


def test_memory_term_charges_the_peak_beyond_the_cache_and_the_run():
    model = CostModel(nested_tree(), memory=MEMORY, run_placement={})
    plain = predict(nested_tree(), {A: False})
    # run peak 523 (23 bytes past the cache), A split 627 (127 past): 104 more bytes cost 208 ns
    assert model.predict({A: False}) == Prediction(time=plain.time + 104 * 2e-9, peak_bytes=627)
    # from the split run back to all checkpointed: the same bytes, saved
    back = CostModel(nested_tree(), memory=MEMORY, run_placement={A: False})
    assert back.predict({}).time == pytest.approx(25.75 - 104 * 2e-9, abs=1e-15)


def test_memory_term_ignores_peaks_the_cache_holds():
    roomy = MemoryCost(seconds_per_byte=2e-9, cache_bytes=10_000)
    model = CostModel(nested_tree(), memory=roomy, run_placement={})
    for placement in ({A: False}, {B: False}, {A: False, B: False, C: False}):
        assert model.predict(placement) == predict(nested_tree(), placement)


def test_without_the_run_placement_the_model_is_the_separable_one():
    model = CostModel(nested_tree(), memory=MEMORY)
    assert model.memory_time(10**9) == 0.0
    assert model.predict({A: False}) == predict(nested_tree(), {A: False})


def test_advisor_reports_the_times_predict_gives():
    from nbadjoint.profiling import advisor

    model = CostModel(nested_tree(), memory=MEMORY, run_placement={})
    for budget in (523, 627, 10_000):
        found = advisor.suggest(model, run_placement={}, budget=budget, method="optimal")
        assert found.time == model.predict(found.placement).time
    front = advisor.pareto(model, run_placement={})
    assert [t for t, _p, _placement in front] == [model.predict(pl).time for _t, _p, pl in front]
    assert all(t1 > t2 for (t1, _a, _b), (t2, _c, _d) in zip(front, front[1:]))


def _fake_caches(root, caches):
    for index, (kind, size, shared) in enumerate(caches):
        folder = root / f"index{index}"
        folder.mkdir(parents=True)
        for field, value in (("type", kind), ("size", size), ("shared_cpu_list", shared)):
            (folder / field).write_text(value + "\n")
    return str(root)


def test_cache_of_one_core_leaves_out_caches_every_core_shares(tmp_path):
    from nbadjoint.profiling.model import cache_bytes_per_core

    # a virtual machine's report: private L1 and L2, the host's L3 shared by both CPUs
    vm = _fake_caches(tmp_path / "vm", [("Data", "48K", "0"), ("Instruction", "64K", "0"),
                                        ("Unified", "2048K", "0"), ("Unified", "491520K", "0-1")])
    assert cache_bytes_per_core(base=vm, cpus=2) == 2048 << 10
    # a desktop: L2 shared by two hyperthreads, L3 by all 16
    desk = _fake_caches(tmp_path / "desk", [("Data", "32K", "0,8"), ("Unified", "1M", "0,8"),
                                            ("Unified", "32M", "0-15")])
    assert cache_bytes_per_core(base=desk, cpus=16) == 1 << 20
    assert cache_bytes_per_core(default=123, base=str(tmp_path / "missing")) == 123
