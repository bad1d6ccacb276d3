import numpy as np

from ._inputs import case, mat, positive, separated, spd, vec


# callee with a while loop on an active condition
def grow_until(y, limit):
    k = 0
    while y < limit:
        y = y * 1.4 + 0.05
        k += 1
    return y / (k + 1)


# a callee whose trip count depends on active values, called in a loop
def call_while_active(x):
    s = 0.0
    for j in range(3):
        s = s + grow_until(x + 0.1 * j, 4.0)
    return s


# writes with negative-step slices
def negative_step_write(a):
    b = np.zeros(6)
    b[::-1] = a * 2.0
    b[4:0:-2] += np.sin(a[:2])
    return np.sum(b ** 2)


# write through a boolean mask computed from active values (inactive mask)
def mask_write(a):
    b = a * 1.0
    b[b > 0.0] *= 3.0
    b[np.array([True, False, False, True, False, False])] = 0.5
    return np.sum(b ** 2)


# augmented assignment on list entries and dict entries
def container_aug_assign(x, y):
    xs = [x, y]
    xs[0] += y * y
    d = {"k": x}
    d["k"] *= xs[0]
    return d["k"] + xs[1]


# for over the columns of a matrix via .T
def for_columns(A):
    s = 0.0
    for col in A.T:
        s = s + np.sum(col) * col[0]
    return s


# zip over the rows of two matrices
def zip_rows(A, B):
    s = 0.0
    for ra, rb in zip(A, B):
        s = s + ra @ rb
    return s


# enumerate over zip with nested tuple unpacking in the for target
def enumerate_zip_unpack(a, b):
    s = 0.0
    for i, (u, v) in enumerate(zip(a, b)):
        s = s + i * u * v + v
    return s


# list comprehension with two for clauses
def comprehension_two_fors(a, b):
    return sum([u * v for u in a for v in b])


# list comprehension with a tuple target over zip
def comprehension_zip(a, b):
    return sum([np.sin(u) * v for u, v in zip(a, b)])


# list comprehension over enumerate
def comprehension_enumerate(a):
    return np.sum(np.array([i * v * v for i, v in enumerate(a)]))


# chained comparison in a while condition
def while_chained_compare(x):
    k = 0
    y = x
    while 0 <= k < 4:
        y = np.sin(y) + x
        k += 1
    return y


# membership test on a tuple of integers
def membership_test(a):
    s = 0.0
    for i in range(len(a)):
        if i in (1, 3):
            s = s + a[i] ** 2
        elif i not in (0,):
            s = s - a[i]
    return s


# optional argument defaulting to None, tested with `is None`
def optional_weight(a, w=None):
    if w is None:
        w = np.ones(len(a))
    return np.sum(w * a * a)


# calls with and without the optional argument
def call_optional(a):
    return optional_weight(a) + optional_weight(a, a)


# string argument selecting the branch
def by_mode(x, mode="sin"):
    if mode == "sin":
        return np.sin(x)
    elif mode == "exp":
        return np.exp(x)
    return x * x


# string constants passed from the caller
def call_modes(x):
    return by_mode(x) + by_mode(x, "exp") * by_mode(x, mode="square")


# boolean argument (no gradient)
def with_flag(x, flag):
    if flag:
        return x * x
    return x


# integer index arrays on both axes in a write
def fancy_write_2d(A):
    B = A.copy()
    B[[0, 1], [1, 2]] = A[[2, 2], [0, 1]] * 3.0
    return np.sum(B ** 2)


# swapping two rows with fancy indexing
def swap_rows(A):
    B = A * 1.0
    B[[0, 1]] = B[[1, 0]]
    return np.sum(B * np.arange(1.0, 10.0).reshape(3, 3))


# reduction over a tuple of axes, and max with keepdims
def tuple_axes(T):
    return np.sum(np.sum(T, axis=(0, 2)) ** 2) + np.sum(T.max(axis=0, keepdims=True) * T)


# indexing by argsort of the values
def argsort_index(a):
    order = np.argsort(a)
    return np.sum(a[order] * np.arange(len(a)))


# symmetric eigenvalues (distinct)
def eigvalsh_fn(A):
    S = A + A.T + np.diag(np.arange(1.0, 4.0) * 3.0)
    return np.sum(np.linalg.eigh(S)[0] ** 2)


# Cholesky factor of a positive definite matrix
def cholesky_fn(A):
    S = A @ A.T + np.eye(3)
    return np.sum(np.linalg.cholesky(S) ** 2)


# sign and log-determinant unpacked from the named tuple np.linalg.slogdet returns
def slogdet_unpack(A):
    sign, logdet = np.linalg.slogdet(A @ A.T + np.eye(3))
    return sign * logdet


# array methods .copy() and .reshape() called on a NumPy scalar
def numpy_scalar_methods(a):
    t = a[0] * 2.0
    return t.copy() * a[1] + np.sum(t.reshape(1) * a[2])


# np.hypot, np.logaddexp, np.arctan2
def binary_ufuncs(a, b):
    return np.sum(np.hypot(a, b) + np.logaddexp(a, b) + np.arctan2(a, b))


# float(), np.float64() and .item() conversions of active scalars
def scalar_conversions(a):
    s = float(np.sum(a))
    t = np.float64(a[0] * a[1])
    u = (a[2] * 2.0).item()
    return s * t + u * u


# assert statement on an integer condition
def with_assert(a, n):
    assert n > 0, "n must be positive"
    return np.sum(a[:n] ** 2)


# Python int loop counter mixed into float arithmetic
def int_float_mix(x):
    s = 0.0
    for i in range(1, 5):
        s += i * x + x / i + i ** 2 * x * x
    return s


# returning from inside a for loop inside a callee, the callee returning a tuple
def first_large(a, threshold):
    for i in range(len(a)):
        if a[i] > threshold:
            return a[i] * 2.0, i
    return a[-1], -1


# tuple from a callee with an early return: one float, one int
def call_first_large(a):
    v, i = first_large(a, 0.5)
    return v * v + i


CASES = [
    case(call_while_active, lambda: (1.1,)),
    case(negative_step_write, lambda: (vec(6, 901),), 0, False),
    case(mask_write, lambda: (np.array([0.4, -0.3, 0.8, -0.9, 0.2, 0.6]),), 0, False),
    case(container_aug_assign, lambda: (0.6, 1.3), (0, 1)),
    case(for_columns, lambda: (mat(3, 4, 902),)),
    case(zip_rows, lambda: (mat(3, 4, 903), mat(3, 4, 904)), (0, 1)),
    case(enumerate_zip_unpack, lambda: (vec(4, 905), vec(4, 906)), (0, 1)),
    case(comprehension_two_fors, lambda: (vec(3, 907), vec(2, 908)), (0, 1)),
    case(comprehension_zip, lambda: (vec(3, 909), vec(3, 910)), (0, 1)),
    case(comprehension_enumerate, lambda: (vec(4, 911),)),
    case(while_chained_compare, lambda: (0.4,)),
    case(membership_test, lambda: (vec(5, 912),)),
    case(call_optional, lambda: (vec(4, 913),)),
    case(call_modes, lambda: (0.4,)),
    case(with_flag, lambda: (0.7, True)),
    case(with_flag, lambda: (0.7, True), (0, 1), False),
    case(fancy_write_2d, lambda: (mat(3, 3, 914),), 0, False),
    case(swap_rows, lambda: (mat(3, 3, 915),), 0, False),
    case(tuple_axes, lambda: (separated(12, 916).reshape(2, 3, 2),)),
    case(argsort_index, lambda: (separated(5, 917),)),
    case(eigvalsh_fn, lambda: (mat(3, 3, 918, -0.3, 0.3),)),
    case(cholesky_fn, lambda: (mat(3, 3, 919),)),
    case(slogdet_unpack, lambda: (mat(3, 3, 919),)),
    case(numpy_scalar_methods, lambda: (vec(3, 924),), 0, False),
    case(binary_ufuncs, lambda: (positive(4, 920), vec(4, 921)), (0, 1)),
    case(scalar_conversions, lambda: (vec(3, 922),), 0, False),
    case(with_assert, lambda: (vec(5, 923), 3)),
    case(int_float_mix, lambda: (0.7,)),
    case(call_first_large, lambda: (np.array([0.1, 0.3, 0.9, 0.2]),)),
]
