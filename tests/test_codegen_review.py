"""Gradients through the code generator's specialised bodies, interprocedural liveness, cleanup
passes and line breaking: functions called with arrays in one call and numbers in another (the
shape guards hold in one call and fail in the next, within one run and across loops), lists of
floats changed between calls, callees whose results are partly unused or unused, parameters
whose adjoint is None at one call site only, NumPy and Python scalars of several types
broadcast into arrays, sorting and casting helpers, in-place updates, while loops with break and
long expressions.

Every gradient is checked against finite differences, against autograd where autograd can run
the code, and under every checkpoint placement (which must all give it bit for bit).
"""

import copy
import itertools

import numpy as np
import pytest

import nbadjoint as nba
import review_models as m
from gradcheck import assert_bitwise_equal, assert_not_mutated, check_against_autograd, check_grad

X = np.array([0.3, -1.2, 2.0])
Y = np.array([0.5, 0.7, -0.4])
A = np.array([[0.3, -1.2], [2.0, 0.5]])
B = np.array([[0.1, 0.4], [-0.7, 1.5]])


def placements(f):
    sites = nba.call_sites(f)
    for bits in itertools.product((True, False), repeat=len(sites)):
        yield dict(zip(sites, bits))


def check_everywhere(f, args, argnums=0, autograd=True, **tol):
    """Gradient against finite differences (and autograd), the same bits under every placement,
    and the arguments left as they were."""
    before = copy.deepcopy(args)
    reference = check_grad(f, args, argnums, **tol)
    if autograd:
        check_against_autograd(m, f.__name__, args, argnums)
    for placement in placements(f):
        got = nba.grad(f, argnums, placement=placement)(*copy.deepcopy(args))
        assert_bitwise_equal(got, reference, f"gradient of {f.__name__} under {placement}")
    assert_not_mutated(before, args)
    return reference


# name, arguments, argnums, whether autograd runs the same source (it cannot write into arrays,
# nor differentiate math.sin or a list holding a traced value)
CASES = [
    ("list_setitem", (X,), 0, True),
    ("list_callee_write", (X,), 0, True),
    ("cube_mixed", (X, 0.7), (0, 1), True),
    ("scale_root", (0.4, 0.9), (0, 1), True),
    ("pair_root", (0.6,), 0, True),
    ("dict_root", (0.6,), 0, True),
    ("mul_root", (0.6,), 0, True),
    ("discard_root", (0.6,), 0, True),
    ("branch_callee", (0.6,), 0, True),
    ("branch_callee", (-0.6,), 0, True),
    ("deep_root", (0.6, -0.3), (0, 1), False),
    ("list_mut_root", (0.6,), 0, False),
    ("while_break", (0.6,), 0, True),
    ("bcast_kinds", (X, 0.7), (0, 1), False),
    ("sorted_root", ([0.3, -1.0, 2.0],), 0, True),
    ("npsort_root", (X,), 0, True),
    ("dictcopy_root", (0.7,), 0, True),
    ("listcast_root", (X,), 0, True),
    ("inplace_root", (X, 0.7), (0, 1), False),
    ("long_expr", (X, Y), (0, 1), True),
    ("mixed_loop", (X, 0.4), (0, 1), True),
    ("flip_types", (X, 0.4), (0, 1), True),
    ("runs_list", (0.7,), 0, True),
    ("dense_loop", ([0.3, 1.2, -0.7],), 0, True),
    ("default_root", (0.7,), 0, True),
    ("tri_root", (0.7, 1.3), (0, 1), True),
    ("arr_scalar_root", (X, 0.6), (0, 1), False),
    ("zero_d_root", (X,), 0, False),
    ("brk_root", (X * 0.3, 0.5), (0, 1), True),
    ("maybe_root", (0.4,), 0, True),
    ("tup_root", (0.4,), 0, True),
    ("lst_root", ([0.3, 1.2, -0.7],), 0, True),
    ("cplx", (X, 0.6), (0, 1), True),
    ("kinds_root2", (0.7, True, np.bool_(False), 0.5, 0.7), 0, True),
    ("kinds_root2", (0.7, 2, np.int64(3), 0.5, 0.7), (0, 4), True),
    ("acc_root", (X, 0.6), (0, 1), False),
    ("share_root", (X,), 0, False),
    ("ident_root", (X,), 0, False),
    ("setter_root", (X, 0.6), (0, 1), False),
    ("poly_root", ([0.3, -1.2, 2.0], 0.7), (0, 1), True),
    ("poly_root", ((0.3, 1, 2.0), 0.7), (0, 1), False),
    ("mm_sq", (A, B), (0, 1), True),
    ("walk_root", ([0.3, 0.5, 0.2, 0.9],), 0, False),
    ("branch_loop", ([0.3, 1.2, -0.7, 0.5],), 0, True),
    ("while_calls", (0.4,), 0, True),
    ("reuse_names", ([0.3, 1.2, -0.7, 0.5],), 0, True),
    ("reuse_names", ((0.3, 1, -0.7, 0.5),), 0, False),
    ("list_extended_with_array", (X,), 0, False),
    ("list_grown_with_array", (X,), 0, False),
    ("upd_root", (X, Y), (0, 1), False),
    ("upd_root", (0.3, 0.7), (0, 1), False),
    ("upd2_root", (X, 0.7), (0, 1), False),
    ("upd3_root", (X, Y), (0, 1), False),
    ("upd3_root", (0.3, 0.7), (0, 1), False),
    ("swap_entries", (X,), 0, False),
    ("tuple_write", (X,), 0, False),
    ("list_swap", (0.7,), 0, False),
    ("scalar_swap", (0.7, 1.3), (0, 1), True),
    ("grow_root", ([0.3, -1.2, 2.0],), 0, True),
    ("grow_root", ((0.3, -1.2, 2.0),), 0, False),
    ("grow_root", ([0.3, np.float64(-1.2), 2, True],), 0, False),
    ("grow_root", (X,), 0, True),
    ("grow_root_partial", ([0.3, -1.2, 2.0],), 0, True),
    ("grow_mixed", ([0.3, -1.2, 2.0], 0.8), (0, 1), True),
    ("grow_mixed", ((0.3, -1.2, 2.0), np.float64(0.8)), (0, 1), False),
    ("blend_root", (X, 0.7), (0, 1), False),
    ("blend_root", (X, np.float64(0.7)), (0, 1), False),
    ("blend_root", (X, np.array(0.7)), (0, 1), False),
    ("blend_root", (X, np.array([0.7])), (0, 1), False),
    ("blend_root", (X, 2), 0, False),
    ("blend_root", (X, True), 0, False),
    ("blend_root2", (X, 0.7, np.array(0.3)), (0, 1, 2), False),
    ("arr_from_list", (0.7,), 0, True),
    ("arr_from_list_after", (0.7,), 0, True),
    ("sum_then_index", (0.7,), 0, True),
    ("sum_then_index", (1.7,), 0, True),
    ("stack_then_index", (X,), 0, True),
    ("ode_root", (X, {"u0": 0.8, "k": 1.3}), (0, 1), False),
    ("ode_list_root", ([0.5, 1.5, 2.5], X), (0, 1), False),
    ("energy_root", ([0.3, -1.2, 2.0, 0.9], np.array([0.1, 0.5, -0.3])), (0, 1), False),
    ("chain_root", (0.3, -0.4), (0, 1), False),
    ("chain_root", (-0.3, 0.4), (0, 1), False),
    ("repeated_list", (0.7, 2), 0, True),
]


@pytest.mark.parametrize("name, args, argnums, autograd", CASES,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_gradient_everywhere(name, args, argnums, autograd):
    check_everywhere(getattr(m, name), args, argnums, autograd=autograd)


def test_float32_and_bool_arguments_take_the_specialised_body():
    """np.float32 and bool pass the scalar guard: the gradient is the exact derivative (finite
    differences of a float32 primal are too noisy to compare)."""
    x = 0.7
    got = nba.grad(m.f32_root2)(x, np.float32(0.1), True)
    a, da = x + 0.1 * (x * x - x ** 3), 1.0 + 0.1 * (2 * x - 3 * x * x)
    b, db = x + (x * x - x ** 3), 1.0 + (2 * x - 3 * x * x)
    assert got == pytest.approx(da * b + a * db, rel=1e-6)
    for placement in placements(m.f32_root2):
        assert_bitwise_equal(nba.grad(m.f32_root2, placement=placement)(x, np.float32(0.1), True), got)


def test_float32_argument_gradient_wrt_the_scalar_guarded_parameter():
    args = (0.7, 2, np.int64(3), np.float32(0.5), np.float32(0.7))
    gx, gxf = nba.grad(m.kinds_root2, (0, 4))(*args)
    # d/ds (s k + s s) = k + 2 s, summed over the calls
    assert gx == pytest.approx((2 + 1.4) + (3 + 1.4) + (0.5 + 1.4), rel=1e-6)
    xf = 0.7
    kf, ki = 1.5 * xf + xf * xf, 3 * xf + xf * xf
    assert gxf == pytest.approx((1.5 + 2 * xf) * ki + kf * (3 + 2 * xf), rel=1e-5)


# ------------------------------------------------------------- bugs found by this review (fixed, and one known)

# np.matmul is a NumPy ufunc but not elementwise: two vectors of one shape give a scalar


def test_matmul_of_two_vectors_times_a_vector():
    # sum((x . y) x): d/dx = y sum(x) + (x . y), d/dy = x sum(x)
    gx, gy = nba.grad(m.mm_scalar, (0, 1))(X, Y)
    np.testing.assert_allclose(gx, Y * np.sum(X) + np.dot(X, Y))
    np.testing.assert_allclose(gy, X * np.sum(X))


def test_matmul_of_two_vectors_plus_a_vector():
    # sum((x . y) + x) = n (x . y) + sum(x)
    gx, gy = nba.grad(m.mm_plus, (0, 1))(X, Y)
    np.testing.assert_allclose(gx, 3 * Y + 1.0)
    np.testing.assert_allclose(gy, 3 * X)


def test_matmul_of_two_vectors_in_maximum():
    check_everywhere(m.mm_where, (X, Y), (0, 1))


def test_matmul_of_vectors_where_the_guards_fail_is_right():
    """The same function on a row and a column (the guards fail: the general body runs)."""
    gx, gy = nba.grad(m.mm_plus, (0, 1))(X[None], Y[:, None])
    np.testing.assert_allclose(gx, (3 * Y + 1.0)[None])
    np.testing.assert_allclose(gy, (3 * X)[:, None])


# a list built from number literals may come to hold arrays: `ys[0] = np.sin(x)`


def test_list_entry_set_to_an_array():
    # sum(sin(x) x): d/dx = cos(x) x + sin(x)
    np.testing.assert_allclose(nba.grad(m.list_entry_set_to_array)(X), np.cos(X) * X + np.sin(X))


def test_list_entry_set_to_an_array_where_the_guards_fail_is_right():
    """The same function on a list of floats (not an array: the general body runs)."""
    got = nba.grad(m.list_entry_set_to_array)(list(X))
    np.testing.assert_allclose(got, np.cos(X) * X + np.sin(X))


def test_list_entry_set_to_an_array_by_a_callee():
    np.testing.assert_allclose(nba.grad(m.list_entry_set_by_callee)(X), np.cos(X) * X + np.sin(X))


def test_list_of_rows_filled_in_a_loop():
    # sum(4 x cos(x)): d/dx = 4 cos(x) - 4 x sin(x)
    check_everywhere(m.list_of_rows, (X,), autograd=False)
    np.testing.assert_allclose(nba.grad(m.list_of_rows)(X), 4 * np.cos(X) - 4 * X * np.sin(X))


@pytest.mark.xfail(strict=True, reason="the rule of `*` gives the repetition count of a list the contribution "
                   "g * list, which multiplies two lists (TypeError), in both bodies, when the int count is "
                   "among argnums (an int argument should get None)")
def test_int_repetition_count_of_a_list_among_argnums():
    gx, gn = nba.grad(m.repeated_list, (0, 1))(0.7, 2)
    # t = n (x^2 + 4 x^2): dt/dx = 10 n x
    assert gx == pytest.approx(14.0)
    assert gn is None


def test_temporaries_inlined_into_statements_built_without_positions():
    x = np.array([-0.63, 0.2, -0.24, -0.98, -0.98])
    check_everywhere(m.fuzz_positions, (x, -0.97), argnums=(0, 1), autograd=False)
