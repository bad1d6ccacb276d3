"""NumPy functions given a Python list or tuple that carries a derivative, as people write them: a
list of floats built in a loop, then np.sort(L), np.pad(L, 1), np.take(L, idx), np.outer(L, L),
np.maximum(L, 0.4), np.reshape, np.cumsum, np.dot, np.linalg.norm, np.stack of arrays, np.array(L)
and more; nested lists, lists of arrays and of 0-d arrays, tuples, a list passed in, a list handed
to a callee, a list built with `+` first.  Each gradient is checked against central finite
differences, under the default placement (every call checkpointed) and with every call split, and
against autograd running the same source where autograd takes a list there; the arguments are left
as they were.  Also np.gradient(u, dx) with a spacing passed in (differentiated or not), and with
coordinates that are differentiated."""
import copy
import sys

import numpy as np
import pytest
import scipy.special
import scipy.stats

import nbadjoint as nba
from gradcheck import all_split, assert_not_mutated, check_against_autograd, check_grad

W4 = np.array([1.0, -2.0, 3.0, 0.5])
W6 = np.array([0.3, 1.0, -2.0, 3.0, 0.5, 2.0])
W8 = np.array([1.0, -2.0, 3.0, 0.5, 0.7, -1.1, 2.0, 0.2])
M44 = np.arange(16.0).reshape(4, 4) / 7.0 - 1.0
X = np.array([0.31, 0.72, -0.45, 0.93])


# ----------------------------------------------------------------------------- the models

def build(x):
    """A list of floats built in a loop."""
    L = []
    for i in range(len(x)):
        L.append(x[i] * (i + 1.0) - 0.3)
    return L


def sort_model(x):
    L = build(x)
    return np.sum(np.sort(L) * W4)


def pad_model(x):
    L = build(x)
    return np.sum(np.pad(L, 1) ** 2 * W6)


def take_model(x):
    L = build(x)
    return np.sum(np.take(L, [0, 2, 2, 3]) ** 2)


def outer_model(x):
    L = build(x)
    return np.sum(np.outer(L, L) * M44)


def maximum_model(x):
    L = build(x)
    return np.sum(np.maximum(L, 0.4) ** 2)


def reshape_model(x):
    L = build(x)
    R = np.reshape(L, (2, -1))
    return np.sum(R[0] * R[1] ** 2)


def cumsum_model(x):
    L = build(x)
    return np.sum(np.cumsum(L) ** 2)


def dot_model(x):
    L = build(x)
    return np.dot(L, L)


def norm_model(x):
    L = build(x)
    return np.linalg.norm(L)


def stack_model(x):
    a = x * 2.0
    b = np.sin(x)
    S = np.stack([a, b])
    return np.sum(S[0] * S[1] ** 2)


def array_model(x):
    L = []
    for i in range(len(x)):
        L.append(x[i] ** 2)
    A = np.array(L)
    return np.sum(A ** 3 * W4)


def moments_model(x):
    L = build(x)
    return np.std(L) + 2.0 * np.mean(L) + np.var(L)


def prod_model(x):
    L = build(x)
    return np.prod(L)


def where_model(x):
    L = build(x)
    return np.sum(np.where(np.array(L) > 0.5, L, 0.0) ** 2)


def clip_model(x):
    L = build(x)
    return np.sum(np.clip(L, -0.5, 1.0) ** 2)


def flip_roll_model(x):
    L = build(x)
    return np.sum(np.flip(L) * W4) + np.sum(np.roll(L, 1) * W4 ** 2)


def extremes_model(x):
    L = build(x)
    return np.max(L) - 2.0 * np.min(L)


def interp_model(x):
    L = build(x)
    return np.sum(np.interp([0.25, 1.5, 2.5], [0.0, 1.0, 2.0, 3.0], L) ** 2)


def polyval_model(x):
    L = build(x)
    return np.polyval(L, 0.7)


def einsum_model(x):
    L = build(x)
    return np.einsum("i,i->", L, L)


def unary_twice_model(x):
    L = build(x)
    return np.sum(np.exp(L)) + np.sum(np.sin(L) * W4)


def concatenated_model(x):
    L = build(x)
    M = [x[0] * x[1], x[2], 1.5, x[3] ** 2]
    C = L + M
    return np.sum(np.sort(C) * W8)


def nested_model(x):
    A = [[x[0] + 2.0, x[1]], [x[2], x[3] + 2.0]]
    return np.sum(np.linalg.inv(A)) + np.trace(A) * np.sum(np.transpose(A) * M44[:2, :2])


def arrays_model(x):
    L = [x[:2] * 2.0, x[2:] ** 2, np.cos(x[1:3])]
    return np.sum(np.cumsum(L, axis=1) * W6.reshape(3, 2)) + np.sum(np.mean(L, axis=0) ** 2) + np.sum(np.max(L, axis=1))


def zero_d_model(x):
    L = [np.array(x[0] * 2.0), np.array(x[1]), x[2] * 1.0, np.array(x[3] ** 2)]
    return np.sum(np.cumsum(L) ** 2) + np.dot(L, W4)


def tuple_model(x):
    T = (x[0] * 2.0, x[1], x[2] - x[3])
    return np.sum(np.exp(T)) + np.sum(np.sin(T)) + np.dot(T, T) + np.sum(np.sort(T) * W4[:3])


def list_parameter(L):
    return np.sum(np.sort(L) * W4) + np.sum(np.maximum(L, 0.4) ** 2) + np.linalg.norm(L)


def cumulative(L):
    return np.sum(np.cumsum(L) ** 2) + np.sum(np.outer(L, L) * M44)


def hands_a_list_to_a_callee(x):
    L = build(x)
    return cumulative(L) + np.sum(np.tanh(L) * 2.0)


def gradient_with_spacing(u, dx):
    du = np.gradient(u, dx)
    return np.sum(du ** 2) + np.sum(u * du)


def gradient_2d_with_spacings(u, dx, dy):
    gx, gy = np.gradient(u, dx, dy)
    return np.sum(gx ** 2 + 3.0 * gy * u)


def gradient_of_a_list(x, dx):
    L = build(x)
    return np.sum(np.gradient(L, dx, edge_order=2) ** 2)


def rebound_model(x):
    L = build(x)
    L = np.sort(L)
    return np.sum(L * W4)


def also_indexed_model(x):
    L = build(x)
    return L[0] * np.sum(np.cumsum(L)) + L[2] ** 2


def with_ints_model(x):
    L = [x[0], 1, 2.0, x[1] * x[2]]
    return np.sum(np.sort(L) * W4) + np.prod(L)


def keywords_model(x):
    L = build(x)
    return np.sum(np.clip(L, a_min=-0.2, a_max=0.9) ** 2) + np.sum(np.reshape(L, shape=(2, 2)) ** 3)


def interleaved_einsum_model(x):
    L = build(x)
    return np.einsum(L, [0], L, [0])


def where_of_two_lists_model(x):
    L = build(x)
    M = [x[3], x[2], x[1], x[0]]
    return np.sum(np.where(np.arange(4) > 1, L, M) ** 2)


def broadcast_up_model(x):
    L = build(x)
    A = np.outer(np.arange(1.0, 4.0), x)
    return np.sum(np.maximum(L, A) ** 2) + np.sum(np.multiply(L, A))


def scipy_model(x):
    L = build(x)
    return np.sum(scipy.special.expit(L)) + np.sum(scipy.stats.norm.cdf(L))


def in_a_loop_model(x):
    L = build(x)
    acc = 0.0
    for k in range(3):
        acc = acc + np.sum(np.exp(L) * (k + 1.0)) + np.dot(L, x) * k
        L = [v * 0.9 for v in L]
    return acc


def tuple_of_a_list_model(x):
    T = tuple(build(x))
    return np.sum(np.cumsum(T) ** 2) + T[1] * np.max(T)


def nested_sum_solve_model(x):
    A = [[x[0] + 2.0, x[1]], [x[2], x[3] + 2.0]]
    B = np.sum(A, axis=0)
    return np.sum(B ** 2) + np.sum(np.linalg.solve(A, [1.0, 2.0]))


def joined_arrays_model(x):
    L = [x[:2] * 2.0, x[2:] ** 2]
    C = np.concatenate(L)
    return np.sum(np.sort(C) * W4) + np.sum(np.stack(L) ** 3)


def copied_model(x):
    L = build(x)
    M = L.copy()
    return np.sum(np.sort(M) * W4) + np.sum(np.exp(M))


def weighted_cumsum(L, w):
    return np.sum(np.cumsum(L) * w)


def passes_a_tuple_a_list_and_an_array(x):
    T = (x[0], x[1] * 2.0, x[2])
    return weighted_cumsum(T, 2.0) + weighted_cumsum(build(x), 1.0) + weighted_cumsum(x, 0.5)


# ----------------------------------------------------------------------------- checks

def check_placements(f, args, argnums=0, **tol):
    """Finite differences under the default placement and, where there are call sites, with every
    call split; the arguments are left as they were."""
    placements = [None] + ([all_split(f)] if nba.call_sites(f) else [])
    grads = [check_grad(f, args, argnums, placement=p, **tol) for p in placements]
    before = copy.deepcopy(args)
    for p in placements:                    # (check_grad passes copies)
        nba.grad(f, argnums, placement=p)(*args)
    assert_not_mutated(before, args)
    return grads


THIS = sys.modules.get(__name__)      # (None where autograd runs this source again)

# How autograd checks a model: "source", autograd running the same source (autograd.numpy takes a
# list of traced values in np.array and np.stack, not in np.sort or np.dot); "built", autograd running
# the same source with build() giving np.array of its list; None, finite differences only (also
# where autograd has no rule: np.pad without a mode, np.take, np.flip).
MODELS = [
    (sort_model, "built"), (pad_model, None), (take_model, None), (outer_model, "built"),
    (maximum_model, "built"), (reshape_model, "built"), (cumsum_model, "built"), (dot_model, "built"),
    (norm_model, "built"), (stack_model, "source"), (array_model, "source"), (moments_model, "built"),
    (prod_model, "built"), (where_model, "built"), (clip_model, "built"), (flip_roll_model, None),
    (extremes_model, "built"), (interp_model, None), (polyval_model, None), (einsum_model, "built"),
    (unary_twice_model, "built"), (concatenated_model, None), (nested_model, None),
    (arrays_model, None), (zero_d_model, None), (tuple_model, None),
    (hands_a_list_to_a_callee, "built"), (rebound_model, "built"), (also_indexed_model, None),
    (with_ints_model, None), (keywords_model, "built"), (interleaved_einsum_model, None),
    (where_of_two_lists_model, None), (broadcast_up_model, "built"), (scipy_model, None),
    (in_a_loop_model, None), (tuple_of_a_list_model, None), (nested_sum_solve_model, None),
    (joined_arrays_model, None), (passes_a_tuple_a_list_and_an_array, None), (copied_model, None),
]


def autograd_of_built(name):
    """autograd's gradient of model ``name`` run by autograd.numpy, with build() giving an array."""
    import autograd
    import autograd.numpy as anp
    from gradcheck import autograd_namespace
    namespace = autograd_namespace(THIS)
    if not getattr(namespace["build"], "gives_an_array", False):
        listed = namespace["build"]

        def build_array(x):
            return anp.array(listed(x))
        build_array.gives_an_array = True
        namespace["build"] = build_array
    return autograd.grad(namespace[name])


@pytest.mark.parametrize("f,autograd_check", MODELS, ids=[f.__name__ for f, _ in MODELS])
def test_a_numpy_function_given_a_list_is_differentiated(f, autograd_check):
    g, *others = check_placements(f, (X.copy(),))
    for other in others:
        assert np.array_equal(other, g)
    if autograd_check == "source":
        check_against_autograd(THIS, f.__name__, (X.copy(),))
    elif autograd_check == "built":
        expected = autograd_of_built(f.__name__)(X.copy())
        assert np.allclose(g, expected, rtol=1e-10, atol=1e-12), (g, expected)


@pytest.mark.parametrize("kind", [list, tuple])
def test_a_list_or_tuple_passed_in_gets_its_gradient_in_its_form_and_is_left_as_it_was(kind):
    L = kind([0.31, 0.72, -0.45, 0.93])
    before = copy.deepcopy(L)
    g = check_grad(list_parameter, (L,))
    assert type(g) is kind and all(type(e) is float for e in g)
    assert type(nba.grad(list_parameter)(L)) is kind
    single = [np.float32(v) for v in L]
    g32 = nba.grad(list_parameter)(kind(single))
    assert [type(v) for v in g32] == [np.float32] * 4 and np.allclose(g32, g, rtol=1e-5)
    _, pullback = nba.vjp(list_parameter, L)
    assert type(pullback(1.0)[0]) is kind
    assert L == before and type(L) is kind


def test_a_list_handed_to_a_callee_and_the_callees_list_parameter():
    check_placements(hands_a_list_to_a_callee, (X.copy(),))
    L = [0.31, 0.72, -0.45, 0.93]
    g = check_grad(cumulative, (L,))
    assert type(g) is list and L == [0.31, 0.72, -0.45, 0.93]


def test_the_contribution_to_a_list_has_the_lists_structure():
    from nbadjoint.runtime import vjp as _vjp
    nested = [[1.0, 2.0], [3.0, 4.0]]
    c = _vjp.seq_adjoint(np.arange(4.0).reshape(2, 2), nested)
    assert type(c) is _vjp.AdjointList and [type(e) for e in c] == [_vjp.AdjointList] * 2
    assert c == [[0.0, 1.0], [2.0, 3.0]] and all(type(v) is float for row in c for v in row)
    mixed = (np.array(0.5), 2.0, np.zeros(()))
    c = _vjp.seq_adjoint(np.array([1.0, 2.0, 3.0]), mixed)
    assert type(c) is _vjp.AdjointTuple and type(c[1]) is float
    assert [np.shape(e) for e in c] == [(), (), ()] and type(c[0]) is np.ndarray
    rows = [np.ones(3), np.ones(3)]
    c = _vjp.seq_adjoint(np.arange(3.0), rows)                 # broadcast: summed back to each row
    assert [e.tolist() for e in c] == [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    c = _vjp.seq_adjoint(np.ones((2, 2)), [1.0, 2.0])         # broadcast over a leading axis
    assert c == [2.0, 2.0]
    assert _vjp.seq_adjoint_of_shape(np.ones(2), _vjp.shape_of((1.0, 2.0))) == [1.0, 1.0]
    # adjoints of lists and tuples add entry by entry (a plain + would concatenate)
    assert c + [1.0, 1.0] == [3.0, 3.0] and (1.0, 1.0) + _vjp.AdjointTuple((1.0, 2.0)) == (2.0, 3.0)
    g = np.ones(2)
    assert _vjp.seq_adjoint(g, np.zeros(2)) is g and _vjp.seq_adjoint(g, 1.0) is g


def test_np_gradient_with_a_spacing_passed_in():
    u = np.sin(np.linspace(0.0, 2.0, 7))
    assert nba.call_sites(gradient_with_spacing) == []          # compiled with dx differentiated: no refusal
    check_grad(gradient_with_spacing, (u, 0.3), (0, 1))
    check_grad(gradient_with_spacing, (u, 0.3), 0)
    u2 = np.cos(np.arange(12.0).reshape(3, 4) / 3.0)
    check_grad(gradient_2d_with_spacings, (u2, 0.3, 0.7), (0, 1, 2))
    check_grad(gradient_2d_with_spacings, (u2, 0.3, 0.7), 2)
    check_placements(gradient_of_a_list, (X.copy(), 0.4), (0, 1))


def coordinates_model(u, s):
    x = np.array([0.0, 0.5, 1.1, 1.6, 2.5]) * s + np.array([0.0, 0.1, 0.0, 0.3, 0.0]) * s * s
    return np.sum(np.gradient(u, x) ** 2) + np.sum(np.gradient(u, x, edge_order=2) * u)


def coordinates_2d_model(u, x, y):
    gx, gy = np.gradient(u, x, y, edge_order=2)
    gx1, gy1 = np.gradient(u, x, 0.4)
    return np.sum(gx * gy) + np.sum(gx1 ** 2 * u) + np.sum(gy1 * 3.0)


def test_np_gradient_with_differentiated_coordinates():
    u = np.sin(np.linspace(0.0, 2.0, 5))
    check_grad(coordinates_model, (u, 1.3), (0, 1))
    u2 = np.cos(np.arange(20.0).reshape(4, 5) / 3.0)
    x = np.array([0.0, 0.3, 0.5, 1.1])
    y = np.array([0.0, 0.2, 0.5, 0.6, 1.0])
    check_grad(coordinates_2d_model, (u2, x, y), (0, 1, 2))
