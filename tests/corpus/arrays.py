import numpy as np

from ._inputs import case, mat, positive, separated, spd, vec


# elementwise + - * / between arrays
def elementwise_ops(a, b):
    return np.sum(a * b + a / (b * b + 1.0) - b)


# exp, log, sin, cos, tanh, sqrt on arrays
def ufuncs_basic(a):
    return np.sum(np.exp(a) + np.log(a + 2.0) + np.sin(a) * np.cos(a) + np.tanh(a)
                  + np.sqrt(a + 2.0))


# arctan, sinh, cosh, log1p, expm1, square
def ufuncs_more(a):
    return np.sum(np.arctan(a) + np.sinh(a) * np.cosh(a) + np.log1p(a * a) + np.expm1(a)
                  + np.square(a))


# arcsin, arccos, tan, log2, log10, exp2 inside their domains
def ufuncs_domain(a):
    return np.sum(np.arcsin(0.5 * a) + np.arccos(0.4 * a) + np.tan(a) + np.log2(a + 2.0)
                  + np.log10(a + 3.0) + np.exp2(a))


# power operator with array base and array exponent
def array_power(a, b):
    return np.sum(a ** b + a ** 2 + 2.0 ** b)


# np.power, np.multiply, np.add, np.subtract, np.divide, np.negative called as functions
def ufunc_calls(a, b):
    return np.sum(np.power(a, 3) + np.multiply(a, b) - np.subtract(b, a) + np.divide(a, b)
                  + np.add(a, 1.0) + np.negative(b))


# unary minus and abs on arrays away from zero
def array_unary(a):
    return np.sum(-a * np.abs(a) + abs(a))


# .sum() method on an array expression
def sum_method(a):
    return (a * a).sum()


# np.sum and .sum with an axis argument
def sum_axis(A):
    s = A.sum(axis=0)
    t = np.sum(A, axis=1)
    return np.sum(s * s) + np.sum(t * t * t)


# np.sum with keepdims, broadcast back (row normalisation)
def sum_keepdims(A):
    B = A / np.sum(A, axis=1, keepdims=True)
    return np.sum(B * B)


# mean as function and as method with an axis
def mean_fn(A):
    return np.mean(A ** 2) + A.mean(axis=1).sum() + np.mean(np.sin(A), axis=0)[1]


# np.max / .min whole-array reductions with a unique extremum
def max_reduce(a):
    return np.max(a) ** 2 + a.min() * np.sum(a)


# max along an axis (unique per row)
def max_axis(A):
    return np.sum(np.max(A, axis=1) ** 2) + np.sum(A.min(axis=0))


# np.maximum / np.minimum elementwise without ties
def maximum_fn(a, b):
    return np.sum(np.maximum(a, b) * np.minimum(a, b) + np.maximum(a, 0.0))


# .T attribute and matmul
def transpose_attr(A, B):
    return np.sum(A.T @ B)


# np.transpose function on a 3-D array with axes
def transpose_fn(T):
    return np.sum(np.transpose(T, (2, 0, 1))[0] ** 2) + np.sum(np.transpose(T[:, :, 1]) ** 3)


# matrix-vector product with @ and vector dot with @
def matmul_op(A, x):
    y = A @ x
    return y @ y


# np.dot on vectors, matrix-vector and a.dot(b) method
def dot_fn(a, b, A):
    return np.dot(a, b) + np.dot(A, a).sum() + a.dot(b) * 2.0


# np.outer
def outer_fn(a, b):
    return np.sum(np.outer(a, b) ** 2)


# .reshape method with explicit shape and with -1
def reshape_method(a):
    B = a.reshape(3, 4)
    C = a.reshape((2, -1))
    return np.sum(B @ B.T) + np.sum(C[1] * C[0])


# np.reshape, ravel and flatten
def reshape_fn(A):
    v = np.reshape(A, (-1,))
    return np.sum(v * np.arange(v.size)) + np.sum(A.ravel() ** 2) + np.sum(A.flatten() ** 3)


# .copy() method, then arithmetic on the copy
def copy_method(a):
    b = a.copy()
    c = np.copy(a)
    return np.sum(b * a * c)


# cumsum as function and as method
def cumsum_fn(a):
    c = np.cumsum(a)
    d = a.cumsum()
    return np.sum(c * c) + d[-1] * d[1]


# prod of a positive array
def prod_fn(a):
    return np.prod(a) + a.prod()


# np.concatenate of arrays
def concat_fn(a, b):
    c = np.concatenate([a, b * b, a[:2]])
    return np.sum(c * np.arange(len(c)))


# np.concatenate along axis 1 and np.hstack / np.vstack
def concat_axis(A, B):
    C = np.concatenate((A, B), axis=1)
    D = np.vstack([A, B])
    E = np.hstack([A[0], B[1]])
    return np.sum(C ** 2) + np.sum(np.sin(D)) + np.sum(E ** 3)


# np.stack of 1-D arrays and along axis 1
def stack_fn(a, b):
    S = np.stack([a, b])
    T = np.stack([a, b * a], axis=1)
    return np.sum(S ** 2 * np.arange(1.0, 3.0)[:, None]) + np.sum(T[:, 1])


# np.array([...]) built from active floats
def array_literal(x, y):
    v = np.array([x, y, x * y, 1.0])
    return np.sum(v * v)


# np.array([...]) built from active 1-D arrays
def array_from_arrays(a, b):
    M = np.array([a, b, a * b])
    return np.sum(M ** 2 * np.array([1.0, 2.0, 3.0])[:, None])


# np.take with repeated indices
def take_fn(a):
    return np.sum(np.take(a, [0, 2, 2, 4]) ** 2)


# np.where with an inactive mask
def where_fn(a):
    return np.sum(np.where(a > 0.0, a * a, np.sin(a)))


# np.clip with scalar bounds, inputs away from the bounds
def clip_fn(a):
    return np.sum(np.clip(a, -0.5, 0.5) ** 2 + a)


# np.linalg.norm of a vector and Frobenius norm of a matrix
def norm_fn(a, A):
    return np.linalg.norm(a) + np.linalg.norm(A) ** 2


# np.linalg.solve with a matrix and a vector right-hand side
def solve_fn(A, b):
    x = np.linalg.solve(A, b)
    return np.sum(x * x)


# np.linalg.inv of a well-conditioned matrix
def inv_fn(A):
    return np.sum(np.linalg.inv(A) ** 2)


# np.linalg.det of a well-conditioned matrix
def det_fn(A):
    return np.linalg.det(A)


# np.einsum matrix product
def einsum_fn(A, B):
    C = np.einsum("ij,jk->ik", A, B)
    return np.sum(C ** 2) + np.sum(np.einsum("ij,ij->i", A, B))


# np.einsum trace (a repeated index inside one operand)
def einsum_trace(A, B):
    return np.einsum("ii", A @ B) + np.einsum("ii->i", A)[1]


# np.einsum contraction of three operands
def einsum_three(a, A, b):
    return np.einsum("i,ij,j->", a, A, b)


# broadcasting a column (n, 1) against a row (m,)
def broadcast_col_row(c, r):
    M = c + r
    return np.sum(np.sin(M) * M)


# broadcasting a (n, m) matrix against a (m,) vector and a scalar
def broadcast_mat_vec(A, v, s):
    return np.sum((A * v - s) ** 2)


# broadcasting a scalar float against an array
def broadcast_scalar(a, s):
    return np.sum(s * a + s * s - a / s)


# np.zeros_like / np.ones_like / np.full_like used as constants
def like_constants(a):
    z = np.zeros_like(a)
    o = np.ones_like(a)
    return np.sum((a + o) * (a - z) * np.full_like(a, 2.0))


# np.arange / np.linspace / np.ones / np.eye as constant arrays
def constant_arrays(a):
    w = np.linspace(0.0, 1.0, a.size) + np.arange(a.size) + np.ones(a.size)
    return np.sum(w * a) + np.sum(np.eye(a.size) @ a ** 2)


# np.sort of distinct values
def sort_fn(a):
    return np.sum(np.sort(a) * np.arange(a.size))


# softmax cross-entropy with max shift
def softmax_loss(a):
    e = np.exp(a - np.max(a))
    p = e / np.sum(e)
    return -np.log(p[2])


# np.diff, np.trace and np.diag
def diff_trace_diag(a, A):
    return (np.sum(np.diff(a) ** 2) + np.trace(A @ A) + np.sum(np.diag(A) ** 3)
            + np.sum(np.diag(a) @ a))


# np.roll (periodic shift)
def roll_fn(a):
    return np.sum(a * np.roll(a, 1) + np.roll(a, -2) ** 2)


# np.flip and np.expand_dims / np.squeeze
def flip_expand(a):
    b = np.expand_dims(np.flip(a), 0)
    return np.sum(np.squeeze(b) * a) + np.sum(b.squeeze() ** 3)


# np.var and np.std
def var_std(a):
    return np.var(a) + np.std(a)


# np.tile and np.repeat
def tile_repeat(a):
    return np.sum(np.tile(a, 2) * np.arange(2 * a.size)) + np.sum(np.repeat(a, 2) ** 2)


# .astype(float) and float conversion of a 0-d sum
def astype_float(a):
    s = float(np.sum(a * a))
    return s * np.sum(a.astype(float))


# .size, .shape and len() used as integers
def shape_attrs(A):
    n, m = A.shape
    return np.sum(A) * A.size / (n * m) + len(A) * np.sum(A ** 2)


# chain of matmuls and a quadratic form
def quadratic_form(A, x):
    return x @ A @ x + x @ (A.T @ A) @ x


CASES = [
    case(elementwise_ops, lambda: (vec(6, 1), vec(6, 2)), (0, 1)),
    case(ufuncs_basic, lambda: (vec(6, 3),)),
    case(ufuncs_more, lambda: (vec(6, 4),)),
    case(ufuncs_domain, lambda: (vec(6, 5),)),
    case(array_power, lambda: (positive(5, 6), vec(5, 7)), (0, 1)),
    case(ufunc_calls, lambda: (vec(5, 8), positive(5, 9)), (0, 1)),
    case(array_unary, lambda: (separated(6, 10) + 0.05,)),
    case(sum_method, lambda: (vec(7, 11),)),
    case(sum_axis, lambda: (mat(3, 4, 12),)),
    case(sum_keepdims, lambda: (positive((3, 4), 13),)),
    case(mean_fn, lambda: (mat(3, 4, 14),)),
    case(max_reduce, lambda: (separated(7, 15),)),
    case(max_axis, lambda: (np.array([[0.3, -0.2, 0.9], [1.1, 0.1, -0.6], [-0.4, 0.7, 0.2]]),)),
    case(maximum_fn, lambda: (separated(6, 16) + 0.03, separated(6, 17) - 0.02), (0, 1)),
    case(transpose_attr, lambda: (mat(3, 4, 18), mat(3, 2, 19)), (0, 1)),
    case(transpose_fn, lambda: (mat(2, 3, 20).reshape(2, 3, 1) * vec(2, 21),)),
    case(matmul_op, lambda: (mat(4, 3, 22), vec(3, 23)), (0, 1)),
    case(dot_fn, lambda: (vec(4, 24), vec(4, 25), mat(3, 4, 26)), (0, 1, 2), False),
    case(outer_fn, lambda: (vec(3, 27), vec(4, 28)), (0, 1)),
    case(reshape_method, lambda: (vec(12, 29),)),
    case(reshape_fn, lambda: (mat(3, 4, 30),)),
    case(copy_method, lambda: (vec(5, 31),), 0, False),
    case(cumsum_fn, lambda: (vec(6, 32),)),
    case(prod_fn, lambda: (positive(5, 33),)),
    case(concat_fn, lambda: (vec(4, 34), vec(3, 35)), (0, 1)),
    case(concat_axis, lambda: (mat(2, 3, 36), mat(2, 3, 37)), (0, 1)),
    case(stack_fn, lambda: (vec(4, 38), vec(4, 39)), (0, 1)),
    case(array_literal, lambda: (0.7, -1.2), (0, 1)),
    case(array_from_arrays, lambda: (vec(3, 40), vec(3, 41)), (0, 1)),
    case(take_fn, lambda: (vec(5, 42),), 0, False),
    case(where_fn, lambda: (separated(8, 43) + 0.04,)),
    case(clip_fn, lambda: (np.array([-0.9, -0.3, 0.1, 0.45, 0.7, -0.6]),)),
    case(norm_fn, lambda: (vec(4, 44), mat(3, 3, 45)), (0, 1)),
    case(solve_fn, lambda: (spd(4, 46), vec(4, 47)), (0, 1)),
    case(inv_fn, lambda: (spd(3, 48),)),
    case(det_fn, lambda: (spd(3, 49),)),
    case(einsum_fn, lambda: (mat(3, 3, 50), mat(3, 3, 51)), (0, 1)),
    case(einsum_three, lambda: (vec(3, 52), mat(3, 4, 53), vec(4, 54)), (0, 1, 2)),
    case(broadcast_col_row, lambda: (vec(4, 55).reshape(4, 1), vec(3, 56)), (0, 1)),
    case(broadcast_mat_vec, lambda: (mat(3, 4, 57), vec(4, 58), 0.3), (0, 1, 2)),
    case(broadcast_scalar, lambda: (vec(5, 59), 1.7), (0, 1)),
    case(like_constants, lambda: (vec(5, 60),)),
    case(constant_arrays, lambda: (vec(5, 61),)),
    case(sort_fn, lambda: (separated(6, 62),)),
    case(softmax_loss, lambda: (separated(5, 63),)),
    case(diff_trace_diag, lambda: (vec(3, 64), mat(3, 3, 65)), (0, 1)),
    case(roll_fn, lambda: (vec(6, 66),)),
    case(flip_expand, lambda: (vec(5, 67),), 0, False),
    case(var_std, lambda: (vec(6, 68),)),
    case(tile_repeat, lambda: (vec(3, 69),)),
    case(astype_float, lambda: (vec(4, 70),), 0, False),
    case(shape_attrs, lambda: (mat(3, 2, 71),)),
    case(quadratic_form, lambda: (mat(3, 3, 72), vec(3, 73)), (0, 1)),
]

# Beyond the documented subset: a correct gradient or a TransformError before anything runs.
BEYOND_SUBSET = [
    case(einsum_trace, lambda: (mat(3, 3, 50), mat(3, 3, 51)), (0, 1), False),
]
