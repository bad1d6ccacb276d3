"""The probe recorder, driven by a hand-written program shaped like the generated code.

The fake program has three levels (model -> mid -> leaf, model -> scale -> leaf), a time loop
of identical calls, a callee that writes into its argument (so its checkpoint has a snapshot),
and pushes of arrays, bools, floats, ints and tuples.  With N float64 entries per array:

    leaf  gaps [8N]                 (pushes sin(x))
    mid   gaps [0, N, 16N + 8]      (a bool mask between its two leaf calls; a1, b and a float after)
    scale gaps [0, 8N]              (its scaled argument after its leaf call); snapshot 8N when checkpointed
    root  gaps [0, 8N, 8N, 8N + 8, 8N + 8]   (x after each of 3 mid calls, the trip count, z and a shape)
"""

import itertools
import random
import time

import numpy as np
import pytest

from nbadjoint.profiling.calltree import CallNode
from nbadjoint.profiling.recorder import ProbeError, Recorder, merge_primal
from nbadjoint.runtime.tape import nbytes_of

N = 100
STEPS = 3
SITES = ["mid:2:leaf", "mid:4:leaf", "model:3:mid", "model:6:scale", "scale:2:leaf"]
WRITES_ARGUMENT = {"scale"}      # callees whose checkpoint snapshot copies their argument


class Ctx:
    def __init__(self, ck, rec=None, tape=None):
        self.tape = [] if tape is None else tape
        self.ck = ck
        self.rec = rec


class TrackingTape(list):
    """A tape that follows its byte size on every push and pop (the brute-force reference)."""

    def __init__(self):
        super().__init__()
        self.bytes = 0
        self.peak = 0

    def append(self, value):
        super().append(value)
        self.bytes += nbytes_of(value)
        self.peak = max(self.peak, self.bytes)

    def pop(self):
        value = super().pop()
        self.bytes -= nbytes_of(value)
        return value


# -- the fake generated program ---------------------------------------------------------------

def call_primal(c, site, name, *args):
    if c.rec is not None:
        c.rec.enter(site, "P")
    out = PRIMAL[name](c, *args)
    if c.rec is not None:
        c.rec.leave(site, "P")
    return out


def call_fwd(c, site, name, *args):
    rec = c.rec
    if c.ck[site]:
        rec and rec.enter(site, "P")
        if name in WRITES_ARGUMENT:
            c.tape.append(args[0].copy())
        out = PRIMAL[name](c, *args)
        rec and rec.leave(site, "P")
    else:
        rec and rec.enter(site, "F")
        out = FWD[name](c, *args)
        rec and rec.leave(site, "F")
    return out


def call_bwd(c, site, name, out_b, *args):
    rec = c.rec
    if c.ck[site]:
        rec and rec.enter(site, "S")
        if name in WRITES_ARGUMENT:
            args = (c.tape.pop(),) + args[1:]
        rec and rec.leave(site, "S")
        rec and rec.enter(site, "F")
        FWD[name](c, *args)
        rec and rec.leave(site, "F")
    rec and rec.enter(site, "B")
    g = BWD[name](c, out_b, *args)
    rec and rec.leave(site, "B")
    return g


def leaf_primal(c, x):
    t = np.sin(x)
    return t * t


def leaf_fwd(c, x):
    t = np.sin(x)
    c.tape.append(t)
    return t * t


def leaf_bwd(c, y_b, x):
    t = c.tape.pop()
    return np.cos(x) * (2.0 * t * y_b)


def mid_primal(c, x):
    a = call_primal(c, "mid:2:leaf", "leaf", x)
    a1 = np.where(a > 0.5, a, 0.0) + 1.0
    b = call_primal(c, "mid:4:leaf", "leaf", a1)
    return a1 * b


def mid_fwd(c, x):
    a = call_fwd(c, "mid:2:leaf", "leaf", x)
    m = a > 0.5
    c.tape.append(m)
    a1 = np.where(m, a, 0.0) + 1.0
    b = call_fwd(c, "mid:4:leaf", "leaf", a1)
    c.tape.append(a1)
    c.tape.append(b)
    c.tape.append(2.5)
    return a1 * b


def mid_bwd(c, r_b, x):
    c.tape.pop()
    b = c.tape.pop()
    a1 = c.tape.pop()
    a1_b = r_b * b + call_bwd(c, "mid:4:leaf", "leaf", r_b * a1, a1)
    m = c.tape.pop()
    return call_bwd(c, "mid:2:leaf", "leaf", np.where(m, a1_b, 0.0), x)


def scale_primal(c, x):
    x *= 2.0
    return call_primal(c, "scale:2:leaf", "leaf", x)


def scale_fwd(c, x):
    x *= 2.0
    y = call_fwd(c, "scale:2:leaf", "leaf", x)
    c.tape.append(x)
    return y


def scale_bwd(c, y_b, x):
    x2 = c.tape.pop()
    return 2.0 * call_bwd(c, "scale:2:leaf", "leaf", y_b, x2)


def model_primal(c, x, n):
    for _ in range(n):
        x = call_primal(c, "model:3:mid", "mid", x)
    z = x.copy()
    y = call_primal(c, "model:6:scale", "scale", z)
    return float(np.sum(y))


def model_fwd(c, x, n):
    for _ in range(n):
        x_in = x
        x = call_fwd(c, "model:3:mid", "mid", x)
        c.tape.append(x_in)
    c.tape.append(n)
    z = x.copy()
    z_in = z.copy()
    y = call_fwd(c, "model:6:scale", "scale", z)
    c.tape.append(z_in)
    c.tape.append(y.shape)
    return float(np.sum(y))


def model_bwd(c, out_b, x, n):
    shape = c.tape.pop()
    z_in = c.tape.pop()
    x_b = call_bwd(c, "model:6:scale", "scale", out_b * np.ones(shape), z_in.copy())
    for _ in range(c.tape.pop()):
        x_in = c.tape.pop()
        x_b = call_bwd(c, "model:3:mid", "mid", x_b, x_in)
    return x_b


PRIMAL = {"leaf": leaf_primal, "mid": mid_primal, "scale": scale_primal}
FWD = {"leaf": leaf_fwd, "mid": mid_fwd, "scale": scale_fwd}
BWD = {"leaf": leaf_bwd, "mid": mid_bwd, "scale": scale_bwd}


def x0():
    return np.linspace(0.1, 1.3, N)


def run_adjoint(ck, probed=True, tape=None):
    tape = [] if tape is None else tape
    rec = Recorder(tape) if probed else None
    c = Ctx(ck, rec, tape)
    x = x0()
    rec and rec.enter("<root>", "F")
    value = model_fwd(c, x, STEPS)
    rec and rec.leave("<root>", "F")
    rec and rec.enter("<root>", "B")
    g = model_bwd(c, 1.0, x, STEPS)
    rec and rec.leave("<root>", "B")
    assert not tape
    return rec, value, g


def run_primal():
    rec = Recorder([])
    c = Ctx({}, rec, rec.tape)
    rec.enter("<root>", "P")
    value = model_primal(c, x0(), STEPS)
    rec.leave("<root>", "P")
    return rec, value


def placement(bits):
    return dict(zip(SITES, bits))


ALL_CK = placement([True] * 5)
ALL_SPLIT = placement([False] * 5)


def sites_preorder(tree):
    return [n.site for n in tree.iter_nodes()]


# -- the fake program itself ----------------------------------------------------------------------

def test_fake_program_gradient_does_not_depend_on_placement():
    _, v1, g1 = run_adjoint(ALL_CK, probed=False)
    _, v2, g2 = run_adjoint(ALL_SPLIT, probed=False)
    assert v1 == v2
    assert np.array_equal(g1, g2)


# -- tree shape and bytes -------------------------------------------------------------------------

def test_tree_has_one_node_per_dynamic_call_in_call_order():
    rec, _, _ = run_adjoint(ALL_SPLIT)
    root = rec.tree
    assert rec.finished and rec.mode == "adjoint"
    assert [c.site for c in root.children] == ["model:3:mid"] * STEPS + ["model:6:scale"]
    assert [c.site for c in root.children[0].children] == ["mid:2:leaf", "mid:4:leaf"]
    assert [c.site for c in root.children[-1].children] == ["scale:2:leaf"]
    assert len(list(root.iter_nodes())) == 1 + STEPS * 3 + 2


@pytest.mark.parametrize("bits", [[True] * 5, [False] * 5, [True, False, True, False, True]])
def test_gaps_are_the_bytes_each_instance_pushes_between_its_calls(bits):
    rec, _, _ = run_adjoint(placement(bits))
    root = rec.tree
    assert root.gaps == [0, 8 * N, 8 * N, 8 * N + 8, 8 * N + 8]
    for mid in root.children[:STEPS]:
        assert mid.gaps == [0, N, 16 * N + 8]
        assert [leaf.gaps for leaf in mid.children] == [[8 * N], [8 * N]]
    scale = root.children[-1]
    assert scale.gaps == [0, 8 * N]
    assert scale.children[0].gaps == [8 * N]


def test_checkpointed_call_records_its_snapshot_bytes():
    rec, _, _ = run_adjoint(ALL_CK)
    scale = rec.tree.children[-1]
    assert scale.snapshot_bytes == 8 * N
    assert all(node.snapshot_bytes == 0 for node in rec.tree.iter_nodes() if node is not scale)


def test_peak_of_all_split_is_the_whole_tape_at_the_turn():
    rec, _, _ = run_adjoint(ALL_SPLIT)
    assert rec.peak_bytes == 147 * N + 40


def test_peak_of_all_checkpointed_is_the_root_tape_with_snapshots():
    rec, _, _ = run_adjoint(ALL_CK)
    assert rec.peak_bytes == 40 * N + 16


def test_tape_traffic_counts_every_push_including_recomputations():
    tape = TrackingTape()
    pushed = []
    original = tape.append

    def append(value):
        pushed.append(nbytes_of(value))
        original(value)

    tape.append = append
    rec, _, _ = run_adjoint(ALL_CK, tape=tape)
    assert rec.tape_traffic_bytes == sum(pushed)


@pytest.mark.parametrize("bits", list(itertools.product([True, False], repeat=5)))
def test_measured_peak_equals_brute_force_peak(bits):
    tape = TrackingTape()
    rec, _, _ = run_adjoint(placement(bits), tape=tape)
    assert rec.peak_bytes == tape.peak


@pytest.mark.parametrize("bits", list(itertools.product([True, False], repeat=5)))
def test_model_predicts_the_measured_peak_of_every_placement_from_one_run(bits):
    from nbadjoint.profiling.model import predict
    rec, _, _ = run_adjoint(ALL_CK)
    measured, _, _ = run_adjoint(placement(bits))
    assert predict(rec.tree, placement(bits)).peak_bytes == measured.peak_bytes


def test_model_predicts_the_peak_from_a_split_run_too():
    from nbadjoint.profiling.model import predict
    rng = random.Random(3)
    base, _, _ = run_adjoint(placement([True, False, False, True, False]))
    for _ in range(8):
        bits = [rng.random() < 0.5 for _ in SITES]
        measured, _, _ = run_adjoint(placement(bits))
        assert predict(base.tree, placement(bits)).peak_bytes == measured.peak_bytes


# -- the primal run ---------------------------------------------------------------------------------

def test_primal_run_builds_the_same_call_tree():
    primal, value = run_primal()
    adjoint, v2, _ = run_adjoint(ALL_SPLIT)
    assert primal.mode == "primal" and primal.finished
    assert value == v2
    assert sites_preorder(primal.tree) == sites_preorder(adjoint.tree)
    assert primal.peak_bytes == 0


def test_merge_primal_fills_primal_times_of_split_calls_only():
    primal, _ = run_primal()
    pl = placement([True, False, True, False, True])
    adjoint, _, _ = run_adjoint(pl)
    ck_times = {id(n): n.t_primal for n in adjoint.tree.iter_nodes() if pl.get(n.site, False)}
    merge_primal(adjoint.tree, primal.tree, pl)
    for a, p in zip(adjoint.tree.iter_nodes(), primal.tree.iter_nodes()):
        if a.site in pl and pl[a.site]:
            assert a.t_primal == ck_times[id(a)]
        else:
            assert a.t_primal == p.t_primal > 0


def test_merge_primal_rejects_a_different_call_tree():
    primal, _ = run_primal()
    adjoint, _, _ = run_adjoint(ALL_SPLIT)
    adjoint.tree.children.pop()
    adjoint.tree.gaps.pop()
    with pytest.raises(ProbeError, match="made"):
        merge_primal(adjoint.tree, primal.tree, ALL_SPLIT)


# -- times -------------------------------------------------------------------------------------------

def test_times_are_exclusive_of_the_brackets_of_callees(monkeypatch):
    def slow_leaf_fwd(c, x):
        time.sleep(0.004)
        return leaf_fwd(c, x)

    monkeypatch.setitem(FWD, "leaf", slow_leaf_fwd)
    rec, _, _ = run_adjoint(ALL_SPLIT)
    mid = rec.tree.children[0]
    assert all(leaf.t_fwd >= 0.004 for leaf in mid.children)
    assert mid.t_fwd < 0.004
    assert rec.tree.t_fwd < 0.004


def test_checkpointed_call_gets_primal_snapshot_and_recomputation_times():
    rec, _, _ = run_adjoint(ALL_CK)
    scale = rec.tree.children[-1]
    assert scale.t_primal > 0 and scale.t_snapshot > 0
    assert scale.t_fwd > 0 and scale.t_bwd > 0


def test_a_skipped_recomputation_takes_the_primal_time_as_its_forward_sweep():
    rec = Recorder([])
    rec.enter("<root>", "F")
    rec.enter("f:1:a", "P")
    time.sleep(0.002)
    rec.leave("f:1:a", "P")
    rec.leave("<root>", "F")
    rec.enter("<root>", "B")
    rec.enter("f:1:a", "K")
    rec.leave("f:1:a", "K")
    rec.enter("f:1:a", "B")
    rec.leave("f:1:a", "B")
    rec.leave("<root>", "B")
    a = rec.tree.children[0]
    assert a.t_primal >= 0.002
    assert a.t_fwd == a.t_primal == a.t_saved


# -- protocol errors ----------------------------------------------------------------------------------

def test_push_inside_a_backward_sweep_is_a_protocol_error():
    tape = []
    rec = Recorder(tape)
    rec.enter("<root>", "F")
    rec.leave("<root>", "F")
    rec.enter("<root>", "B")
    tape.append(1.0)
    rec.leave("<root>", "B")
    with pytest.raises(ProbeError, match="only forward sweeps may push"):
        rec.tree


def test_reversal_out_of_order_is_a_protocol_error():
    rec = Recorder([])
    rec.enter("<root>", "F")
    rec.enter("f:1:a", "F")
    rec.leave("f:1:a", "F")
    rec.enter("f:2:b", "F")
    rec.leave("f:2:b", "F")
    rec.leave("<root>", "F")
    rec.enter("<root>", "B")
    rec.enter("f:1:a", "B")
    with pytest.raises(ProbeError, match="reverses 'f:1:a'"):
        rec.tree


def test_run_must_start_at_the_root():
    rec = Recorder([])
    rec.enter("f:1:a", "F")
    with pytest.raises(ProbeError, match="<root>"):
        rec.tree


def test_unclosed_brackets_are_a_protocol_error():
    rec = Recorder([])
    rec.enter("<root>", "F")
    rec.enter("f:1:a", "F")
    with pytest.raises(ProbeError, match="open probe brackets"):
        rec.tree


def test_push_inside_a_checkpointed_primal_run_counts_as_its_snapshot():
    tape = []
    rec = Recorder(tape)
    rec.enter("<root>", "F")
    rec.enter("f:1:a", "P")
    tape.append(np.zeros(3))
    rec.enter("a:1:b", "P")
    rec.leave("a:1:b", "P")
    rec.leave("f:1:a", "P")
    rec.leave("<root>", "F")
    assert rec.tree.children[0].snapshot_bytes == 24
    assert rec.tree.children[0].children == []      # its calls are known from its recomputation


def test_recorder_tree_is_a_valid_call_tree():
    rec, _, _ = run_adjoint(placement([False, True, False, True, False]))
    assert isinstance(rec.tree, CallNode)
    rec.tree.validate()


@pytest.mark.parametrize("value", [
    None, 1.0, 3, True, np.float64(2.0), np.zeros(3), np.zeros((2, 3), dtype=np.float32),
    ((3, 4), np.dtype("f8")), [None, None], (None,), (np.zeros(2), [1.0, {"a": np.zeros(4)}]),
    {"x": 1.0}, range(3), "text"])
def test_recorder_sizes_entries_like_the_tape_byte_rule(value):
    tape = []
    rec = Recorder(tape)
    rec.enter("<root>", "F")
    tape.append(value)
    rec.leave("<root>", "F")
    assert rec.tape_traffic_bytes == nbytes_of(value)


# -- random call trees -------------------------------------------------------------------------------
# A random program is a few functions, each a list of operations: ("push", n) pushes an array of
# n float64 entries, ("call", site, callee) calls another function (callees come later in the
# list, so there is no recursion).  It runs with the call-site semantics of the generated code.

def random_program(rng):
    names = [f"f{i}" for i in range(rng.randint(2, 6))]
    program = {}
    for i, name in enumerate(names):
        ops = []
        for line in range(rng.randint(1, 6)):
            if i + 1 < len(names) and rng.random() < 0.45:
                callee = rng.choice(names[i + 1:])
                ops.append(("call", f"{name}:{line}:{callee}", callee))
            else:
                ops.append(("push", rng.choice([0, 1, 3, 8, 20])))
        program[name] = ops
    return program


def sim_primal(program, c, name):
    for op in program[name]:
        if op[0] == "call":
            c.rec.enter(op[1], "P")
            sim_primal(program, c, op[2])
            c.rec.leave(op[1], "P")


def sim_fwd(program, c, name):
    for op in program[name]:
        if op[0] == "push":
            c.tape.append(np.zeros(op[1]))
        elif c.ck[op[1]]:
            c.rec.enter(op[1], "P")
            sim_primal(program, c, op[2])
            c.rec.leave(op[1], "P")
        else:
            c.rec.enter(op[1], "F")
            sim_fwd(program, c, op[2])
            c.rec.leave(op[1], "F")


def sim_bwd(program, c, name):
    for op in reversed(program[name]):
        if op[0] == "push":
            assert c.tape.pop().size == op[1]
            continue
        if c.ck[op[1]]:
            c.rec.enter(op[1], "S")
            c.rec.leave(op[1], "S")
            c.rec.enter(op[1], "F")
            sim_fwd(program, c, op[2])
            c.rec.leave(op[1], "F")
        c.rec.enter(op[1], "B")
        sim_bwd(program, c, op[2])
        c.rec.leave(op[1], "B")


def sim_adjoint(program, placement):
    tape = TrackingTape()
    c = Ctx(placement, Recorder(tape), tape)
    c.rec.enter("<root>", "F")
    sim_fwd(program, c, "f0")
    c.rec.leave("<root>", "F")
    c.rec.enter("<root>", "B")
    sim_bwd(program, c, "f0")
    c.rec.leave("<root>", "B")
    assert not tape
    return c.rec, tape.peak


def program_sites(program):
    return sorted({op[1] for ops in program.values() for op in ops if op[0] == "call"})


@pytest.mark.parametrize("seed", range(40))
def test_random_call_trees_measured_peak_is_exact_and_predicted_from_any_run(seed):
    from nbadjoint.profiling.model import predict
    rng = random.Random(seed)
    program = random_program(rng)
    sites = program_sites(program)
    placements = [{s: rng.random() < 0.5 for s in sites} for _ in range(4)]
    runs = [sim_adjoint(program, p) for p in placements]
    for (rec, brute_peak), placement in zip(runs, placements):
        assert rec.peak_bytes == brute_peak
        for other, (other_rec, _) in zip(placements, runs):
            assert predict(rec.tree, other).peak_bytes == other_rec.peak_bytes


@pytest.mark.parametrize("seed", range(10))
def test_random_call_trees_gaps_follow_the_program(seed):
    rng = random.Random(seed)
    program = random_program(rng)
    sites = program_sites(program)
    rec, _ = sim_adjoint(program, {s: rng.random() < 0.5 for s in sites})

    def expected_gaps(name):
        gaps = [0]
        for op in program[name]:
            if op[0] == "push":
                gaps[-1] += 8 * op[1]
            else:
                gaps.append(0)
        return gaps

    stack = [(rec.tree, "f0")]
    while stack:
        node, name = stack.pop()
        assert node.gaps == expected_gaps(name)
        callees = [op[2] for op in program[name] if op[0] == "call"]
        assert [child.site.split(":")[2] for child in node.children] == callees
        stack.extend(zip(node.children, callees))
