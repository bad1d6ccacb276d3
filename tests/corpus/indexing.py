import numpy as np

from ._inputs import case, mat, vec


# integer indices, positive and negative
def index_int(a):
    return a[0] * a[3] + a[-1] ** 2 - a[-2]


# basic slices with both bounds
def slice_basic(a):
    return np.sum(a[1:4] * a[2:5])


# slices with negative bounds and open ends
def slice_negative(a):
    return np.sum(a[-3:] * a[:3]) + np.sum(a[1:-1] ** 2)


# slices with positive steps
def slice_step(a):
    return np.sum(a[::2] * a[1::2]) + np.sum(a[1:7:3] ** 2)


# slices with a negative step (reversal)
def slice_reverse(a):
    return np.sum(a[::-1] * a) + np.sum(a[-2::-2] ** 3)


# 2-D integer index A[i, j] and chained A[i][j]
def index_2d(A):
    return A[0, 1] * A[2, 2] + A[1][0] ** 2 - A[-1, -2]


# a row A[i] and a column A[:, j]
def row_and_column(A):
    return np.sum(A[1] * A[:, 2]) + np.sum(A[:, 0] ** 2)


# 2-D slices A[1:, :-1]
def slice_2d(A):
    return np.sum(A[1:, :-1] * A[:-1, 1:])


# np.newaxis to build an outer product
def newaxis_outer(a, b):
    M = a[:, np.newaxis] * b[np.newaxis, :]
    return np.sum(M ** 2)


# None as an index to add axes
def none_index(a, b):
    M = a[None, :] - b[:, None]
    return np.sum(np.tanh(M))


# Ellipsis index on a 3-D array
def ellipsis_index(T):
    return np.sum(T[..., 0] * T[..., 1]) + np.sum(T[0, ...] ** 2)


# Ellipsis combined with newaxis
def ellipsis_newaxis(A):
    B = A[..., np.newaxis] * A[0][np.newaxis, ...]
    return np.sum(B ** 2)


# integer index array with repeated entries
def fancy_index_array(a):
    idx = np.array([0, 2, 2, 5])
    return np.sum(a[idx] ** 2)


# list of integers as an index
def list_index(a):
    return np.sum(a[[1, 3, 3]] * a[[0, 1, 2]])


# 2-D fancy indexing with two index arrays
def fancy_index_2d(A):
    return np.sum(A[[0, 1, 2], [2, 0, 1]] ** 3) + np.sum(A[[0, 2]] ** 2)


# boolean mask from an inactive comparison
def bool_mask(a):
    return np.sum(a[a > 0.0] ** 2) + np.sum(a[np.array([True, False, True, False, True, False])])


# index given by an integer argument
def index_with_int_arg(a, i):
    return a[i] * a[i + 1] + a[-i] ** 2


# subscript of an expression result
def index_expression(a, b):
    return (a * b)[2] + np.sin(a)[1:3].sum() + (a @ b) * (b ** 2)[-1]


# subscript of a tuple argument and of a tuple built inside
def index_tuple(p):
    t = (p[0] * p[1], p[1] + 1.0)
    return t[0] * t[-1] + p[-1]


# slicing a tuple built from floats
def slice_tuple(x, y):
    t = (x, y, x * y, y * y)
    u = t[1:3]
    return u[0] * u[1] + t[-1]


# mixed integer and slice indexing on 3-D arrays
def mixed_index_3d(T):
    return np.sum(T[1, :, 0] * T[0, :, 1]) + np.sum(T[:, 1, :] ** 2)


CASES = [
    case(index_int, lambda: (vec(6, 101),)),
    case(slice_basic, lambda: (vec(6, 102),)),
    case(slice_negative, lambda: (vec(7, 103),)),
    case(slice_step, lambda: (vec(8, 104),)),
    case(slice_reverse, lambda: (vec(7, 105),)),
    case(index_2d, lambda: (mat(3, 3, 106),)),
    case(row_and_column, lambda: (mat(3, 3, 107),)),
    case(slice_2d, lambda: (mat(3, 4, 108),)),
    case(newaxis_outer, lambda: (vec(3, 109), vec(4, 110)), (0, 1)),
    case(none_index, lambda: (vec(3, 111), vec(4, 112)), (0, 1)),
    case(ellipsis_index, lambda: (vec(12, 113).reshape(2, 3, 2),)),
    case(ellipsis_newaxis, lambda: (mat(2, 3, 114),)),
    case(fancy_index_array, lambda: (vec(6, 115),)),
    case(list_index, lambda: (vec(5, 116),)),
    case(fancy_index_2d, lambda: (mat(3, 3, 117),)),
    case(bool_mask, lambda: (np.array([0.4, -0.3, 0.8, -0.9, 0.2, 0.6]),)),
    case(index_with_int_arg, lambda: (vec(6, 118), 2)),
    case(index_with_int_arg, lambda: (vec(6, 118), 2), (0, 1), False),
    case(index_expression, lambda: (vec(4, 119), vec(4, 120)), (0, 1)),
    case(index_tuple, lambda: ((0.5, 1.5, -0.7),)),
    case(slice_tuple, lambda: (0.5, 1.5), (0, 1)),
    case(mixed_index_3d, lambda: (vec(12, 121).reshape(2, 3, 2),)),
]
