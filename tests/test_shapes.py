"""Shape guards: markers skipped where the guards on a function's parameters hold, never otherwise.

- Scalar code (lists of numbers, numbers) tapes no shape markers for its scalar operations; the
  same function called with arrays tapes them as before. Gradients must be right either way, and
  identical between the two paths where the values are the same.
- A checkpointed call that would tape nothing is not recomputed, and the profile knows it.
- Loops over lists of numbers take a path without None checks when every incoming adjoint entry
  is a number, and the general path otherwise.
"""
import re

import numpy as np
import pytest

import nbadjoint as nba
import scalar_models as sm
from gradcheck import assert_bitwise_equal, check_against_autograd, check_grad
from nbadjoint.runtime import tape as _rt
from nbadjoint.transform import shapes
from nbadjoint.transform.program import compile_tree

X0 = [0.3, -1.2, 0.8, 2.0, -0.4]


def tape_length_of_forward_sweep(f, *args):
    prog = compile_tree(f, 0)
    ns = prog.module(False)
    ctx = _rt.Context(prog.placement({s: False for s in prog.site_ids}), None)
    ns[f"{prog.root_key}_fwd"](ctx, *args)
    return len(ctx.tape)


def test_list_and_scalar_parameters_get_guards_and_ints_are_known():
    prog = compile_tree(sm.ring, 0)
    rhs = prog.functions["ring_rhs"].shapes
    assert rhs.guards == {"x": shapes.LIST, "c": shapes.SCALAR}
    assert rhs.summary.returns == shapes.LIST
    assert prog.functions["ring_step"].shapes.guards == {"x": shapes.LIST, "dt": shapes.SCALAR,
                                                          "c": shapes.SCALAR}
    assert prog.functions["ring_energy"].shapes.summary.returns == shapes.SCALAR
    types = rhs.types
    assert types["n"] == shapes.INT
    assert [t for n, t in types.items() if n.startswith("_i")] == [shapes.INT]


def test_a_function_that_appends_arrays_to_a_list_gets_no_list_guard():
    fn = sm.appends_an_array
    code = compile_tree(fn, 0).functions[fn.__name__]
    assert "x" not in code.shapes.guards
    assert shapes.LIST not in code.shapes.guards.values()
    assert "scalar_items" not in compile_tree(fn, 0).source()


def test_numbers_written_into_a_list_the_function_builds_keep_it_a_list_of_numbers():
    fn = sm.writes_into_its_list            # y = [0.0] * len(x); y[i] = c * x[i]
    code = compile_tree(fn, 0).functions[fn.__name__]
    assert code.shapes.guards["x"] == shapes.LIST
    assert code.shapes.types["y"] == shapes.LIST
    specialised = compile_tree(fn, 0).source()
    specialised = specialised[specialised.index("def writes_into_its_list_fwd("):]
    specialised = specialised[:specialised.index("def writes_into_its_list_bwd(")]
    assert "write_shape" not in specialised and "bshape" not in specialised
    x = [0.5, -1.25, 2.0]
    check_grad(fn, (x, 1.5), (0, 1))
    check_grad(fn, (np.array(x), 1.5), (0, 1))        # an array fails the guard: the general body


def test_a_vector_read_entry_by_entry_and_a_local_zeros_vector_written_with_numbers():
    def box(T_init, params, nsteps):
        k, alpha = params[0], params[1]
        T = np.zeros(2)
        T[0], T[1] = T_init[0], T_init[1]
        for n in range(nsteps):
            q = k * alpha * (T[1] - T[0])
            T[0] = T[0] + 0.1 * q
            T[1] = T[1] - 0.1 * abs(q)
        return T[0] * T[1]

    args = (np.array([1.0, 0.2]), np.array([2.0, 1.5]), 5)
    program = compile_tree(box, 0, call_args=args)
    facts = program.functions["box"].shapes
    assert facts.guards == {"T_init": shapes.VECTOR, "params": shapes.VECTOR}
    assert facts.types["T"] == shapes.VECTOR and facts.types["q"] == shapes.SCALAR
    assert "_rt.float_vector(T_init)" in program.source()
    check_grad(box, args, (0, 1))
    check_grad(box, ([1.0, 0.2], [2.0, 1.5], 5), (0, 1))            # lists: the general body
    check_grad(box, (np.array([1.0, 0.2]), np.array([2, 1]), 5), 0)    # int entries: general body


def test_scalar_code_gets_a_body_without_markers_where_its_guards_hold():
    src = compile_tree(sm.ring, 0).source()
    assert "    if not (_rt.scalars(dt, c) and _rt.scalar_items(x)):\n" \
           "        return ring_step_fwd_general(_c, x, dt, c)\n" in src
    specialised = src[src.index("def ring_step_fwd("):src.index("def ring_step_bwd(")]
    general = src[src.index("def ring_step_fwd_general("):src.index("def ring_step_bwd_general(")]
    assert "bshape" not in specialised and "__class__ is float" not in specialised
    assert "bshape" in general
    # the list guard may not hold any more when the backward sweep runs: the forward sweep tapes which body ran
    assert "    _push(True)\n    return _lc2\n" in specialised and "    _push(False)\n" in general
    assert "    if not _c.tape.pop():\n        return ring_step_bwd_general(" in src


@pytest.mark.parametrize("n_steps", [1, 4])
def test_gradient_of_scalar_code_matches_finite_differences_and_autograd(n_steps):
    check_grad(sm.ring, (list(X0), 0.7, n_steps), argnums=(0, 1))
    check_against_autograd(sm, "ring", (list(X0), 0.7, n_steps), argnums=(0, 1))


def test_every_placement_gives_the_same_gradient_on_scalar_code():
    sites = nba.call_sites(sm.ring)
    ref = nba.grad(sm.ring, (0, 1))(list(X0), 0.7, 3)
    for k in range(len(sites) + 1):
        placement = {s: (j >= k) for j, s in enumerate(sites)}
        assert_bitwise_equal(nba.grad(sm.ring, (0, 1), placement=placement)(list(X0), 0.7, 3), ref)


def test_scalars_tape_fewer_entries_than_a_zero_dimensional_array_and_give_the_same_gradient():
    floats = tape_length_of_forward_sweep(sm.ring, list(X0), 0.7, 2)
    zero_d = tape_length_of_forward_sweep(sm.ring, list(X0), np.array(0.7), 2)
    assert floats < zero_d
    g_float = nba.grad(sm.ring, 1)(list(X0), 0.7, 2)
    g_zero_d = nba.grad(sm.ring, 1)(list(X0), np.array(0.7), 2)
    assert float(g_float) == float(g_zero_d)


def test_an_array_parameter_fails_the_guard_and_is_summed_back_to_its_shape():
    # c broadcasts every entry to shape (3,): the markers are needed and taped
    c = np.array([0.5, 0.7, 0.9])
    g = check_grad(sm.ring_sum, (list(X0), c), argnums=(0, 1))
    assert g[1].shape == (3,)
    assert all(np.ndim(gi) == 0 for gi in g[0])


def test_a_list_of_arrays_fails_the_guard():
    x0 = [np.array([0.3, -0.1]), np.array([1.2, 0.4]), np.array([-0.8, 0.2]), np.array([0.5, 0.6])]
    g = check_grad(sm.ring_sum, (x0, 0.7), argnums=(0, 1))
    assert [gi.shape for gi in g[0]] == [(2,)] * 4


def test_a_list_holding_one_array_among_floats_fails_the_guard():
    x0 = list(X0)
    x0[2] = np.array([0.8, 0.1])
    check_grad(sm.ring_sum, (x0, 0.7), argnums=(0, 1))


@pytest.mark.parametrize("p", [(1.5, 0.5), [2.0, -0.25], (np.array([1.0, 2.0]), 0.5)])
def test_unpacked_pairs(p):
    check_grad(sm.unpacks_a_pair, (p, 0.3), argnums=(0, 1))


@pytest.mark.parametrize("fn", [sm.writes_into_its_list, sm.appends_an_array])
def test_unguarded_list_code_is_still_right(fn):
    check_grad(fn, (list(X0), 0.7), argnums=(0, 1))


def test_scalar_items_and_scalars():
    assert _rt.scalar_items([1.0, 2, True, np.float64(3.0)])
    assert _rt.scalar_items((1.0,))
    assert _rt.scalar_items([])
    assert not _rt.scalar_items([1.0, np.array(2.0)])
    assert not _rt.scalar_items([1.0, None])
    assert not _rt.scalar_items(np.array([1.0, 2.0]))
    assert not _rt.scalar_items([[1.0]])


# -- calls whose tape is empty need no recomputation --------------------------------------------

def test_a_checkpointed_call_that_tapes_nothing_is_not_recomputed():
    import golden_models as gm
    from nbadjoint.transform import runner
    u0 = np.linspace(0.0, 1.0, 7)
    prog = compile_tree(gm.model, 0, call_args=(u0, 3))      # the program nba.grad runs for (u0, 3)
    assert prog.functions["step"].tape_free_when_guarded()
    assert "recompute where its guards fail" in prog.source()
    calls = []
    ns = prog.module(False)
    real = ns["step_fwd"]
    ns["step_fwd"] = lambda *a: calls.append(1) or real(*a)
    try:
        g_ck = nba.grad(gm.model)(u0, 3)
        assert calls == []                              # checkpointed, guards hold: no recomputation
        g_float = runner.run_adjoint(prog, (0.3, 3), 0, None)[1]    # a float is no array: recomputed
        assert len(calls) == 3
        g_one = nba.grad(gm.model)(np.array([0.3]), 3)
        assert len(calls) == 3
    finally:
        ns["step_fwd"] = real
    assert g_float == g_one[0]
    assert_bitwise_equal(nba.grad(gm.model, placement={"model:13:step": False})(u0, 3), g_ck)


def test_the_profile_predicts_a_run_with_skipped_recomputations():
    import golden_models as gm
    u0 = np.linspace(0.0, 1.0, 20_000)
    prof = nba.profile(gm.model, u0, 40, repeat=3)
    site = prof.site("model:13:step")
    node_saved = sum(u.t_saved for u in prof.call_tree.nodes if u.site == "model:13:step")
    assert node_saved > 0
    # checkpointing this call costs (about) nothing: no recomputation, same peak
    assert abs(prof.predict({"model:13:step": True}).time - prof.predict({"model:13:step": False}).time) \
        < 0.5 * site.t_primal
    assert prof.predict({"model:13:step": True}).peak_bytes == prof.predict({"model:13:step": False}).peak_bytes


@pytest.mark.parametrize("x", [0.7, 1.3])
def test_literal_arguments_in_guards(x):
    src = compile_tree(sm.uses_poly, 0).source()
    assert not re.search(r"(?<![\w.])\d+(\.\d*)?\.__class__", src)     # literals are decided here
    check_grad(sm.uses_poly, (x,))
    for placement in ({}, {s: False for s in nba.call_sites(sm.uses_poly)}):
        assert nba.grad(sm.uses_poly, placement=placement)(x) == nba.grad(sm.uses_poly)(x)


# -- loops over lists of numbers: the path without None checks ------------------------------------

@pytest.mark.parametrize("fn", [sm.comp_then_call, sm.partial_use])
def test_list_loops_with_and_without_none_entries_in_the_incoming_adjoint(fn):
    # comp_then_call: every entry has an adjoint (the path without None checks), and x's adjoint
    # reaches the loop from a call; partial_use: most entries have none (the general path)
    src = compile_tree(fn, 0).source()
    assert "no None checks" in src and "_rt.own_list" in src
    check_grad(fn, (list(X0), 0.7), argnums=(0, 1))
    check_against_autograd(sm, fn.__name__, (list(X0), 0.7), argnums=(0, 1))


def test_own_list_copies_a_shared_list_and_keeps_an_owned_one():
    shared = [1.0, None]
    keep = shared
    assert _rt.own_list(shared, [0, 0]) is not keep
    assert _rt.own_list(None, [0, 0, 0]) == [None, None, None]
    assert _rt.own_list([2.0], [0]) == [2.0]


# -- evidence across the call tree ------------------------------------------------------------------

def general_calls(prog, key, f, args):
    """How many times ``key``'s backward sweep hands over to its general body in a gradient of f
    (``prog``: compiled for ``args``, as ``nba.grad(f, (0, 1))(*args)`` compiles it)."""
    ns = prog.module(False)
    count = [0]
    real = ns[f"{key}_bwd_general"]

    def counting(*a):
        count[0] += 1
        return real(*a)
    ns[f"{key}_bwd_general"] = counting
    try:
        nba.grad(f, (0, 1))(*args)
    finally:
        ns[f"{key}_bwd_general"] = real
    return count[0]


def test_a_root_argument_passed_to_a_callee_that_rolls_it_is_an_array_and_so_is_what_it_is_compared_to():
    import shape_evidence_models as m
    prog = compile_tree(m.run, (0, 1))
    assert prog.functions["misfit"].shapes.guards == {"u": shapes.ARRAY, "u_obs": shapes.ARRAY}
    u0, u_obs = np.linspace(0.0, 1.0, 9) ** 2, np.linspace(0.2, 0.5, 9)
    assert "_rt.same_shape(u, u_obs)" in prog.source()
    run_prog = compile_tree(m.run, (0, 1), call_args=(u0, u_obs, 0.3))
    assert general_calls(run_prog, "misfit", m.run, (u0, u_obs, 0.3)) == 0      # the specialised body ran
    for argnums in (0, 1, 2):
        check_grad(m.run, (u0, u_obs, 0.3), argnums)
    # a scalar observation fails the guard and takes the general body, with the right gradient
    check_grad(m.run, (u0, 0.25, 0.3), (0, 1))
    scalar_obs = compile_tree(m.run, (0, 1), call_args=(u0, 0.25, 0.3))
    assert scalar_obs.functions["misfit"].shapes.guards["u_obs"] == shapes.SCALAR   # compiled for a number
    assert general_calls(compile_tree(m.run, (0, 1)), "misfit", m.run, (u0, 0.25, 0.3)) == 0


def test_results_of_calls_returning_arrays_and_module_numbers_need_no_markers():
    import shape_evidence_models as m
    prog = compile_tree(m.run_both, (0, 1, 2))
    both = prog.functions["both"]
    assert both.shapes.guards == {"q": shapes.ARRAY, "u": shapes.ARRAY, "forcing": shapes.ARRAY}
    assert prog.functions["tendency"].shapes.summary.returns == ("like", "q")
    text = prog.source()
    spec = text[text.index("def both_bwd("):text.index("def both_bwd_general(")] \
        if text.index("def both_bwd(") < text.index("def both_bwd_general(") else \
        text[text.index("def both_bwd("):]
    spec = spec[:spec.index("\ndef ", 1)]
    assert "ub_seq" not in spec and "_m" not in spec.replace("_rt.same_shape", ""), spec
    q, u, f = np.sin(np.arange(8.0)), np.cos(np.arange(8.0)), np.linspace(-1.0, 1.0, 8)
    for argnums in (0, 1, 2):
        check_grad(m.run_both, (q, u, f), argnums)
    check_grad(m.run_both, (q, u, 0.5), (0, 1, 2))          # a scalar forcing: the general body


def test_a_module_number_changed_to_an_array_compiles_again():
    import shape_evidence_models as m
    q, u, f = np.sin(np.arange(8.0)), np.cos(np.arange(8.0)), np.linspace(-1.0, 1.0, 8)
    before = nba.grad(m.run_both)(q, u, f)
    old = m.N_SMOOTH
    try:
        m.N_SMOOTH = np.linspace(1.0, 2.0, 8)
        check_grad(m.run_both, (q, u, f), 0)
        assert not np.allclose(nba.grad(m.run_both)(q, u, f), before)
    finally:
        m.N_SMOOTH = old
    assert_bitwise_equal(nba.grad(m.run_both)(q, u, f), before, "after the number came back")


def test_the_kinds_of_the_arguments_choose_the_specialised_bodies_and_adjoint_source_shows_them():
    import shape_evidence_models as m
    q, u, f = np.sin(np.arange(8.0)), np.cos(np.arange(8.0)), np.linspace(-1.0, 1.0, 8)
    kindless = compile_tree(m.run_both, 0)
    for_arrays = compile_tree(m.run_both, 0, call_args=(q, u, f))
    assert kindless.functions["both"].shapes.guards["forcing"] == shapes.ARRAY     # (forcing - ... is
    assert for_arrays.functions["tendency"].shapes.guards["u"] == shapes.ARRAY     # added to an array)
    for_numbers = compile_tree(m.run_both, 0, call_args=(q, 0.5, 0.25))
    assert for_numbers.functions["both"].shapes.guards["forcing"] == shapes.SCALAR  # a number was passed
    assert compile_tree(m.run_both, 0, call_args=(q, u, f)) is for_arrays          # one program per kinds
    assert nba.adjoint_source(m.run_both, 0, args=(q, 0.5, 0.25)) == for_numbers.source()
    from nbadjoint.transform import runner
    for args in ((q, u, f), (q, 0.5, 0.25), (q, u, 0.25)):
        check_grad(m.run_both, args, 0)
        assert_bitwise_equal(nba.grad(m.run_both)(*args), runner.run_adjoint(kindless, args, 0, None)[1],
                             "compiled for the arguments' kinds, and without them")
