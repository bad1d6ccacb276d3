import numpy as np

from ._inputs import case, mat, positive, spd, vec


# iterating in reverse with reversed()
def for_reversed(a):
    s = 0.0
    for v in reversed(a):
        s = 0.5 * s + v * v
    return s


# reduction axis given positionally to a method and to a function
def positional_axis(A):
    return np.sum(A.sum(0) ** 2) + np.sum(np.mean(A, 1) ** 3) + A.mean(-1)[0]


# vector 2-norm with explicit order and Frobenius norm by name
def norm_orders(a, A):
    return np.linalg.norm(a, 2) + np.linalg.norm(A, "fro") + np.linalg.norm(a, ord=3)


# np.dot of two matrices
def dot_matrices(A, B):
    return np.sum(np.dot(A, B) ** 2)


# new axis in the middle of an index
def middle_newaxis(A):
    T = A[:, None, :] * A[None, :, :]
    return np.sum(T ** 2)


# einsum forms: transpose, inner product, matrix-vector
def einsum_forms(A, a):
    return (np.sum(np.einsum("ij->ji", A) * A) + np.einsum("i,i", a, a)
            + np.sum(np.einsum("ij,j->i", A, a) ** 2))


# builtin sum and max over the entries of an array
def builtin_reductions(a):
    return sum(a * a) + max(a) * 2.0


# callee returning a nested tuple
def nested_pair(x, y):
    return x * y, (x + y, x - y)


# nested tuples returned and unpacked with a nested target
def call_nested_unpack(x, y):
    p, (q, r) = nested_pair(x, y)
    return p * q * r


# unpacking the rows of an array into names
def unpack_array_rows(A):
    u, v, w = A
    return np.sum(u * v) + np.sum(w ** 2)


# unpacking the entries of a 1-D array into names
def unpack_array_entries(a):
    x, y, z = a
    return x * y + np.sin(z)


# np.split into equal parts
def split_parts(a):
    left, right = np.split(a, 2)
    return np.sum(left * right)


# np.cumprod and np.linalg.matrix_power
def cumprod_matrix_power(a, A):
    return np.sum(np.cumprod(a)) + np.sum(np.linalg.matrix_power(A, 3))


# trapezoidal rule
def trapezoid_rule(a):
    return np.trapezoid(a * a, dx=0.1)


# np.interp with active sample points and values
def interp_fn(x, fp):
    return np.sum(np.interp(x, np.arange(5.0), fp) ** 2)


# np.convolve with a fixed kernel and with an active kernel
def convolve_fn(a, k):
    return np.sum(np.convolve(a, np.array([0.25, 0.5, 0.25]), mode="same") ** 2) + \
        np.sum(np.convolve(a, k) ** 2)


# np.polyval with active coefficients and point
def polyval_fn(c, x):
    return np.polyval(c, x) ** 2


# np.append and np.pad (constant and edge)
def append_pad(a):
    b = np.append(a, a[0] * 2.0)
    c = np.pad(a, 1)
    d = np.pad(a, (1, 2), mode="edge")
    return np.sum(b ** 2) + np.sum(c * np.arange(c.size)) + np.sum(d ** 3)


# np.gradient on a 1-D array
def gradient_fn(a):
    return np.sum(np.gradient(a, 0.5) ** 2)


# np.full with an active fill value and np.zeros plus a float
def full_active(x, a):
    return np.sum(np.full(len(a), x) * a) + np.sum((np.zeros(len(a)) + x) ** 2)


# .clip() method and np.atleast_1d
def clip_method(a):
    return np.sum(a.clip(-0.5, 0.5) ** 2) + np.sum(np.atleast_1d(a[0]) * 3.0)


# integer array exponent
def int_array_power(a):
    return np.sum(a ** np.array([1, 2, 3, 4]))


# mean with keepdims, then a chained reduction
def keepdims_chain(A):
    C = A - np.mean(A, axis=0, keepdims=True)
    return np.sum(C * A, axis=1).mean()


# np.kron and np.cross
def kron_cross(a, b):
    return np.sum(np.kron(a, b) ** 2) + np.sum(np.cross(a, b) ** 2)


# np.tril / np.triu of an active matrix
def tri_parts(A):
    return np.sum(np.tril(A) ** 2) + np.sum(np.triu(A, 1) * A)


# np.linalg.pinv and np.linalg.lstsq on a tall matrix
def pinv_lstsq(A, b):
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.sum(np.linalg.pinv(A) ** 2) + np.sum(x ** 2)


# np.linalg.solve with a matrix right-hand side
def solve_matrix_rhs(A, B):
    return np.sum(np.linalg.solve(A, B) ** 2)


# np.mean over a list of arrays
def mean_of_list(a, b):
    return np.sum(np.mean([a, b * b, a * b], axis=0) ** 2)


CASES = [
    case(positional_axis, lambda: (mat(3, 4, 1102),)),
    case(norm_orders, lambda: (vec(4, 1103), mat(3, 3, 1104)), (0, 1)),
    case(dot_matrices, lambda: (mat(3, 4, 1105), mat(4, 2, 1106)), (0, 1)),
    case(middle_newaxis, lambda: (mat(2, 3, 1107),)),
    case(einsum_forms, lambda: (mat(3, 3, 1108), vec(3, 1109)), (0, 1)),
    case(call_nested_unpack, lambda: (0.7, 1.6), (0, 1)),
    case(unpack_array_rows, lambda: (mat(3, 4, 1110),)),
    case(unpack_array_entries, lambda: (vec(3, 1111),)),
    case(split_parts, lambda: (vec(6, 1112),)),
    case(full_active, lambda: (0.6, vec(4, 1122)), (0, 1)),
    case(clip_method, lambda: (np.array([-0.9, -0.3, 0.1, 0.45, 0.7]),)),
    case(int_array_power, lambda: (positive(4, 1123),)),
    case(keepdims_chain, lambda: (mat(3, 4, 1124),)),
    case(kron_cross, lambda: (vec(3, 1125), vec(3, 1126)), (0, 1)),
    case(tri_parts, lambda: (mat(3, 3, 1127),)),
    case(solve_matrix_rhs, lambda: (spd(3, 1130), mat(3, 2, 1131)), (0, 1)),
    case(mean_of_list, lambda: (vec(3, 1132), vec(3, 1133)), (0, 1)),
]

# NumPy functions and builtins beyond the documented subset: each must give a correct gradient or
# be rejected by a TransformError naming the construct, file and line before anything runs.
BEYOND_SUBSET = [
    case(for_reversed, lambda: (vec(5, 1101),)),
    case(builtin_reductions, lambda: (np.array([0.3, -0.5, 0.9, 0.1]),)),
    case(cumprod_matrix_power, lambda: (positive(4, 1113), mat(3, 3, 1114)), (0, 1), False),
    case(trapezoid_rule, lambda: (vec(6, 1115),), 0, False),
    case(interp_fn, lambda: (np.array([0.3, 1.6, 2.4, 3.7]), vec(5, 1116)), (0, 1), False),
    case(convolve_fn, lambda: (vec(6, 1117), vec(3, 1118)), (0, 1), False),
    case(polyval_fn, lambda: (vec(4, 1119), 0.7), (0, 1), False),
    case(append_pad, lambda: (vec(4, 1120),), 0, False),
    case(gradient_fn, lambda: (vec(6, 1121),), 0, False),
    case(pinv_lstsq, lambda: (mat(5, 3, 1128), vec(5, 1129)), (0, 1), False),
]
