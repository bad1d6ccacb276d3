"""Scalar code: shape markers skipped where the guarded parameters hold scalars, never otherwise.

A function whose list parameters hold only scalars (and whose scalar parameters are scalars)
tapes no shape markers for its scalar operations; the same function called with arrays
tapes them as before. Gradients must be right either way, and identical between the two
code paths where the values are the same.
"""
import numpy as np
import pytest

import nbadjoint as nba
import scalar_models as sm
from gradcheck import assert_bitwise_equal, check_against_autograd, check_grad
from nbadjoint.runtime import tape as _rt
from nbadjoint.transform import scalars
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
    rhs = prog.functions["ring_rhs"].scalars
    assert rhs.guards == {"x": scalars.LIST, "c": scalars.SCALAR}
    assert rhs.summary.returns == scalars.LIST
    assert prog.functions["ring_step"].scalars.guards == {"x": scalars.LIST, "dt": scalars.SCALAR,
                                                          "c": scalars.SCALAR}
    assert prog.functions["ring_energy"].scalars.summary.returns == scalars.SCALAR
    types = rhs.types
    assert types["n"] == scalars.INT
    assert [t for n, t in types.items() if n.startswith("_i")] == [scalars.INT]


@pytest.mark.parametrize("fn", [sm.writes_into_its_list, sm.appends_an_array])
def test_functions_that_write_into_lists_get_no_guard(fn):
    code = compile_tree(fn, 0).functions[fn.__name__]
    assert code.scalars.guards == {}
    assert "_all_scalars" not in compile_tree(fn, 0).source()


def test_scalar_code_is_guarded_in_the_generated_source():
    src = compile_tree(sm.ring, 0).source()
    assert "_all_scalars = _rt.scalar_items(x) and c.__class__ in _rt.SCALARS" in src
    assert "if not _all_scalars:" in src


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
