import numpy as np

from ._inputs import case, mat, vec


# a[i] = v into a fresh np.zeros array
def zeros_setitem(x):
    a = np.zeros(4)
    a[0] = x
    a[1] = x * x
    a[3] = np.sin(x)
    return np.sum(a * a) + a[1]


# a[i] = v in a loop over the index
def zeros_loop_fill(a):
    b = np.zeros(len(a))
    for i in range(len(a)):
        b[i] = a[i] ** 2 * (i + 1)
    return np.sum(np.sin(b))


# overwriting the same entry twice (the first value must be restored)
def overwrite_twice(a):
    b = np.zeros(3)
    b[0] = a[0] * a[1]
    c = b[0] * a[2]
    b[0] = b[0] * a[1] + c
    b[2] = b[0] ** 2
    return np.sum(b) + c


# reading an entry after it has been overwritten, and the old value before
def read_after_write(a):
    b = a.copy()
    s = b[1] * b[2]
    b[1] = b[2] ** 2
    return s * b[1] + np.sum(b * b)


# np.empty filled entry by entry
def empty_fill(x, y):
    b = np.empty(3)
    b[0] = x
    b[1] = y * x
    b[2] = np.exp(y)
    return np.sum(b ** 2)


# a[1:-1] += v on a copy (explicit diffusion)
def slice_iadd(u):
    v = u.copy()
    v[1:-1] += 0.1 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return np.sum(v ** 2)


# a[1:] -= v on the result of arithmetic
def slice_isub(u):
    v = u * 2.0
    v[1:] -= 0.5 * u[:-1] ** 2
    return np.sum(v * u)


# a[::2] *= v with a step slice
def slice_imul(u):
    v = u + 1.0
    v[::2] *= u[::2]
    return np.sum(v ** 2)


# a[:3] /= v with a positive divisor
def slice_idiv(u):
    v = u * u + 1.0
    v[:3] /= u[:3] + 2.0
    return np.sum(v * u)


# a[i] += v at a single index inside a loop (accumulation)
def index_iadd_loop(a):
    b = np.zeros(3)
    for i in range(len(a)):
        b[i % 3] += a[i] * a[(i + 1) % len(a)]
    return np.sum(b ** 2)


# A[:, 0] = ... on a fresh 2-D array
def column_assign(A):
    B = A * 1.0
    B[:, 0] = np.sin(A[:, 1])
    return np.sum(B ** 2)


# A[i] = row assignment of a whole row
def row_assign(A, v):
    B = np.zeros((3, len(v)))
    for i in range(3):
        B[i] = v * (i + 1.0) + A[i]
    return np.sum(B @ B.T)


# A[1:, 1:] = ... 2-D block assignment
def block_assign(A):
    B = A.copy()
    B[1:, 1:] = B[:-1, :-1] * B[1:, 1:]
    return np.sum(B ** 2)


# whole-array augmented assignment on an ndarray
def array_iadd(a, b):
    c = a * 1.0
    c += b * b
    c *= a
    c -= b
    c /= 2.0
    return np.sum(c ** 2)


# fancy-index assignment with an index list
def fancy_assign(a):
    b = np.zeros(5)
    b[[0, 2, 4]] = a[:3] ** 2
    b[[1, 3]] = np.sin(a[3:5])
    return np.sum(b * np.arange(1.0, 6.0))


# negative index writes
def negative_index_write(a):
    b = a.copy()
    b[-1] = b[0] * b[1]
    b[-2] = b[-1] + 1.0
    return np.sum(b ** 3)


# broadcast assignment of a row into every row
def broadcast_assign(a):
    B = np.zeros((3, len(a)))
    B[:, :] = a[None, :] * 2.0
    B[1] = B[1] * a
    return np.sum(B ** 2)


# assignment through an alias of a fresh array (b = c; b[0] = x changes c)
def alias_write(x, a):
    c = np.zeros(3)
    b = c
    b[0] = x
    b[2] = x * x
    return np.sum(c * a) + np.sum(b * b)


# writes into an array that is later used by linalg
def write_then_solve(x, b):
    A = np.eye(3) * 3.0
    A[0, 1] = x
    A[2, 0] = x * x
    return np.sum(np.linalg.solve(A, b) ** 2)


# writes of new values computed from the previous iteration (scalar stencil loop)
def stencil_loop(u):
    v = np.zeros(len(u))
    for i in range(1, len(u) - 1):
        v[i] = u[i] + 0.2 * (u[i - 1] - 2.0 * u[i] + u[i + 1])
    v[0] = u[0]
    v[-1] = u[-1]
    return np.sum(v ** 2)


# in-place update of a loop-carried array inside a time loop
def inplace_time_loop(u):
    u = u.copy()
    for _ in range(3):
        u[1:-1] += 0.1 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = u[1]
    return np.sum(u ** 2)


# np.zeros_like then writes
def zeros_like_write(a):
    b = np.zeros_like(a)
    b[1:] = a[:-1] * a[1:]
    b[0] = a[0]
    return np.sum(np.exp(b))


# in-place augmented assignments on an array already read by an earlier operation
def aug_after_use(x):
    c = np.sin(x)
    y = c * c
    c += 1.0
    c *= x
    return np.sum(y) + np.sum(c * c)


# callee reading two arrays, reduced to a float
def weigh(u, w):
    return np.sum(np.sin(u) * w)


# in-place augmented assignments on an array passed to a callee before and after
def aug_after_call(x):
    c = np.cos(x)
    s = weigh(c, x)
    c += x * x
    t = weigh(c, x)
    c -= 0.5
    return s * t + np.sum(c ** 3)


# slice write into an array passed to a callee before
def setitem_after_call(x):
    c = np.cos(x)
    s = weigh(c, x)
    c[1:] = c[:-1] * 2.0
    return s * np.sum(c ** 2)


# writing into a 3-D array with an Ellipsis index
def ellipsis_write(T):
    U = T.copy()
    U[..., 0] = U[..., 1] * U[..., 0]
    return np.sum(U ** 2)


CASES = [
    case(zeros_setitem, lambda: (0.8,), 0, False),
    case(zeros_loop_fill, lambda: (vec(5, 501),), 0, False),
    case(overwrite_twice, lambda: (vec(3, 502),), 0, False),
    case(read_after_write, lambda: (vec(4, 503),), 0, False),
    case(empty_fill, lambda: (0.4, 0.9), (0, 1), False),
    case(slice_iadd, lambda: (vec(6, 504),), 0, False),
    case(slice_isub, lambda: (vec(6, 505),), 0, False),
    case(slice_imul, lambda: (vec(6, 506),), 0, False),
    case(slice_idiv, lambda: (vec(6, 507),), 0, False),
    case(index_iadd_loop, lambda: (vec(5, 508),), 0, False),
    case(column_assign, lambda: (mat(3, 3, 509),), 0, False),
    case(row_assign, lambda: (mat(3, 4, 510), vec(4, 511)), (0, 1), False),
    case(block_assign, lambda: (mat(3, 3, 512),), 0, False),
    case(array_iadd, lambda: (vec(4, 513), vec(4, 514)), (0, 1), False),
    case(fancy_assign, lambda: (vec(5, 515),), 0, False),
    case(negative_index_write, lambda: (vec(4, 516),), 0, False),
    case(broadcast_assign, lambda: (vec(3, 517),), 0, False),
    case(write_then_solve, lambda: (0.6, vec(3, 519)), (0, 1), False),
    case(stencil_loop, lambda: (vec(6, 520),), 0, False),
    case(inplace_time_loop, lambda: (vec(6, 521),), 0, False),
    case(zeros_like_write, lambda: (vec(5, 522),), 0, False),
    case(ellipsis_write, lambda: (vec(12, 523).reshape(2, 3, 2),), 0, False),
    case(aug_after_use, lambda: (vec(3, 524),), 0, False),
    case(aug_after_call, lambda: (vec(3, 525),), 0, False),
    case(setitem_after_call, lambda: (vec(3, 526),), 0, False),
]

# Writes into an array that another live name shares (a second name or a view): outside
# the documented subset, so a correct gradient or a TransformError before anything runs.
BEYOND_SUBSET = [
    case(alias_write, lambda: (0.6, vec(3, 518)), (0, 1), False),
]
