import numpy as np

from ._inputs import case, mat, vec

STATE = np.zeros(1)
LOG = []


# branch condition computed first, its operand overwritten after the branch
def branch_then_overwrite(x):
    c = x > 0.5
    if c:
        y = x * x
    else:
        y = x
    x = y * 3.0
    return x + y


# trip count derived from an active value through int() (locally constant)
def trip_count_from_value(x):
    n = int(x * 3.0)
    s = x
    for _ in range(n):
        s = s * np.cos(s) + x
    return s


# the range bound rebound inside the loop (range is evaluated once)
def range_bound_rebound(a, n):
    s = 0.0
    for i in range(n):
        n = n - 1
        s = s + a[i] * n
    return s


# in-place recurrence: each entry overwritten using the entry before it
def inplace_recurrence(a):
    u = a.copy()
    for i in range(1, len(u)):
        u[i] = u[i] * np.sin(u[i - 1]) + u[i - 1]
    return np.sum(u ** 2)


# element augmented assignment reading its own old value
def element_self_update(a):
    u = a * 1.0
    for i in range(len(u)):
        u[i] *= u[i]
        u[i] += np.sin(u[i])
    return np.sum(u)


# Gauss-Seidel sweeps: in-place updates reading freshly written neighbours
def gauss_seidel(b):
    x = np.zeros(len(b))
    for _ in range(3):
        for i in range(len(b)):
            left = x[i - 1] if i > 0 else 0.0
            right = x[i + 1] if i < len(b) - 1 else 0.0
            x[i] = (b[i] - 0.3 * left - 0.2 * right) / 2.0
    return np.sum(x ** 2) + np.sum(x * b)


# the whole array read between two writes of the same entry
def read_between_writes(a):
    u = np.zeros(len(a))
    u[0] = a[0] * a[1]
    s = np.sum(u * a)
    u[0] = np.sin(a[2])
    return s * np.sum(u ** 2)


# A[i, j] += ... in nested loops
def nested_element_iadd(A):
    B = np.zeros((2, 2))
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            B[i % 2, j % 2] += A[i, j] * A[j % A.shape[0], i % A.shape[1]]
    return np.sum(B ** 2)


# tuple unpacking into subscript targets
def unpack_into_subscripts(x, y):
    a = np.zeros(3)
    a[0], a[2] = x * y, np.sin(x)
    return np.sum(a * a) + a[2]


# writing through a slice view of a fresh array changes the array
def view_slice_write(x, a):
    b = a * 1.0
    v = b[1:3]
    v[0] = x
    return np.sum(b * b)


# writing through the transpose view of a fresh matrix changes the matrix
def view_transpose_write(x, A):
    B = A.copy()
    C = B.T
    C[0, 1] = x * x
    return np.sum(B ** 3)


# chained assignment of one fresh array to two names, then a write through one
def chained_alias_write(x, a):
    u = w = np.zeros(3)
    u[1] = x
    return np.sum(w * a) + np.sum(u * u)


# entries of a list of floats reassigned by index
def list_item_assign(x, y):
    xs = [x, y, 0.0]
    xs[2] = xs[0] * xs[1]
    xs[0] = np.sin(xs[2])
    return xs[0] + xs[1] * xs[2]


# dict value updated in a loop
def dict_update_loop(x):
    d = {"s": x, "p": 1.0}
    for k in range(3):
        d["s"] = d["s"] + np.sin(d["p"] * x)
        d["p"] = d["p"] * x + k
    return d["s"] * d["p"]


# a callee writing into the fresh array its caller passes (call as a statement)
def fill_first(v, x):
    v[0] = x * x
    v[2] = v[1] * x


# caller of an in-place callee; the array is used afterwards
def call_inplace_callee(x, a):
    w = a * 1.0
    fill_first(w, x)
    return np.sum(w * w)


# the same in-place callee called twice on one array
def call_inplace_twice(x, a):
    w = a * 1.0
    fill_first(w, x)
    fill_first(w, x * 2.0)
    return np.sum(w * w)


# callee overwriting all of its first argument from its second
def scale_into(v, u, x):
    v[:] = u * x


# in-place callee filling a fresh array from another array
def call_scale_into(x, a):
    w = np.zeros(len(a))
    scale_into(w, a, x)
    return np.sum(w * a)


# in-place callee given the same array as destination and source
def call_scale_into_itself(x, a):
    w = a * 1.0
    scale_into(w, w, x)
    return np.sum(w * a)


# a view of a fresh array (a slice) passed to an in-place callee
def pass_slice_view(x, a):
    w = a * 1.0
    fill_first(w[1:], x)
    return np.sum(w * w)


# a row of a fresh matrix passed to an in-place callee
def pass_row_view(x, A):
    W = A * 1.0
    fill_first(W[1], x)
    return np.sum(W * W)


# an in-place callee inside a time loop; its argument is read before and after every call
def call_inplace_in_loop(x, a):
    w = a * 1.0
    s = 0.0
    for k in range(3):
        s = s + np.sum(np.sin(w))
        fill_first(w, x + k)
    return s + np.sum(w ** 2)


# callee returning its argument unchanged (aliasing through a return)
def identity_callee(a):
    return a


# caller writing into the result of a callee that returned the caller's own fresh array
def write_into_returned_alias(x, a):
    c = a * 2.0
    b = identity_callee(c)
    b[0] = x
    return np.sum(c * c)


# callee with two array parameters, reduced to a float
def two_params(u, v):
    return np.sum(u * v) + np.sum(np.sin(u) * v ** 2)


# callee returning a new array computed from its argument
def fresh_sine(a):
    return np.sin(a)


# caller writing into the new array a callee returned (no alias of anything else)
def write_into_callee_result(x, a):
    b = fresh_sine(a)
    b[0] = x * b[1]
    b[1:] += 0.5 * a[:-1]
    return np.sum(b * b)


# callee returning a tuple of a new array and a float
def sine_and_sum(a, s):
    return np.sin(a), s * np.sum(a)


# caller writing into an array unpacked from a callee's returned tuple
def write_into_unpacked_result(x, a):
    b, t = sine_and_sum(a, x)
    b[0] = t
    return np.sum(b * b) + t


# the same array passed as two arguments of a callee
def same_array_twice(a):
    return two_params(a, a)


# an argument that does not influence the result gets a zero gradient, not None
def unused_argument(x, y, a):
    return x * x


# an argument used only through non-differentiable operations gets a zero gradient
def only_nondifferentiable_use(x, a):
    k = np.floor(np.sum(a) * 10.0)
    return x * k + np.sum(a > 0.0)


# a constant result: every gradient is zero
def constant_result(a):
    return 3.0


# 0-d array argument: the gradient is a 0-d array
def zero_d_argument(z):
    return np.sin(z) * z


# negative axis and chained methods
def chained_methods(A):
    return A.reshape(2, 3).sum(axis=-1).max() + A.T.copy().mean()


# batched matmul 3-D @ 2-D
def batched_matmul(T, B):
    return np.sum((T @ B) ** 2)


# norm along an axis
def norm_axis(A):
    return np.sum(np.linalg.norm(A, axis=1) ** 3)


# index array computed with integer arithmetic
def computed_index(a):
    idx = np.arange(2 * len(a)) % len(a)
    return np.sum(a[idx] * np.arange(2.0 * len(a)))


# slice bounds given by integer arguments
def slice_int_bounds(a, i, j):
    return np.sum(a[i:j] ** 2) * a[j]


# keyword-only parameter with a default
def kwonly(x, *, scale=2.0):
    return scale * x * x


# calls passing a keyword-only argument or leaving its default
def call_kwonly(x):
    return kwonly(x) + kwonly(x, scale=x)


# elementwise mix of two arrays, bounded
def mix(u, v):
    return np.tanh(u + 0.5 * v) + 0.1 * u


# many call sites (more than six): placement sampling path
def call_eight_sites(x):
    a = mix(x, x)
    b = mix(a, x)
    c = mix(b, a)
    d = mix(c, b)
    e = mix(d, c)
    f = mix(e, d)
    g = mix(f, e)
    h = mix(g, f)
    return np.sum(h * x)


# callee returning a dict literal
def stats(a):
    return {"mean": np.mean(a), "sq": np.sum(a * a)}


# dict returned by a callee, read by key
def call_dict_return(a):
    d = stats(a)
    return d["mean"] * d["sq"]


# callee returning a list literal of floats and an array
def pieces(a):
    return [a[0] * a[1], np.sin(a[2]), a[1:] * 2.0]


# list returned by a callee, indexed
def call_list_return(a):
    p = pieces(a)
    return p[0] + p[1] * np.sum(p[2])


# while loop whose condition reads an array written in place in the body
def while_on_written_array(a):
    u = a.copy()
    k = 0
    while u[0] < 5.0:
        u[0] = u[0] * 1.5 + 0.5
        u[1:] = u[1:] * 1.1
        k += 1
    return np.sum(u ** 2) + k


# integer index array and boolean mask passed as arguments (no gradient for them)
def int_and_bool_array_args(a, idx, mask):
    return np.sum(a[idx] ** 2) + np.sum(np.where(mask, a, 2.0 * a) ** 3)


# augmented assignment through a second name of a fresh array (NumPy changes both names)
def aug_assign_through_alias(x):
    c = np.zeros(3) + x
    b = c
    b += 1.0
    return np.sum(c * c) + np.sum(b)


# augmented assignment through a view of a fresh array (NumPy changes the array)
def aug_assign_on_view(x, a):
    b = a * 1.0
    v = b[1:3]
    v += x
    return np.sum(b * b)


# augmented assignment on an array already appended to a list (NumPy changes the list entry)
def aug_assign_after_append(x, a):
    acc = a * 1.0
    rows = []
    for k in range(3):
        rows.append(acc)
        acc += x * k
    return np.sum(np.stack(rows) ** 2)


# a callee's augmented assignment on its array parameter changes the caller's array
def bump(v, x):
    v += x
    return np.sum(v * v)


# caller reading its array after a callee augmented it in place
def callee_aug_assign_param(x, a):
    w = a * 1.0
    s = bump(w, x)
    return s + np.sum(w * a)


# writing into the root function's own array parameter
def write_root_param(a, x):
    a[0] = x * a[1]
    return np.sum(a * a)


# augmented assignment on the root function's own array parameter
def aug_assign_root_param(a, x):
    a += x
    return np.sum(a * a)


# augmented assignment on a dict entry holding an array another name shares
def dict_entry_aug(x, a):
    u = a * 1.0
    d = {"u": u}
    d["u"] += x
    return np.sum(u * u)


# augmented assignment on a list entry holding an array another name shares
def list_entry_aug(x, a):
    u = a * 1.0
    xs = [u, a]
    xs[0] += x
    return np.sum(u * u)


# augmented assignment on one of two names bound by tuple unpacking to the same array
def tuple_alias_aug(x, a):
    w = a * 1.0
    p, q = w, w
    p += x
    return np.sum(q * q)


# augmented assignment on the loop variable of a loop over matrix rows (views)
def loop_row_aug(x, A):
    B = A * 1.0
    for row in B:
        row += x
    return np.sum(B * B)


# entry write into the loop variable of a loop over matrix rows (views)
def loop_row_setitem(x, A):
    B = A * 1.0
    for row in B:
        row[0] = x
    return np.sum(B * B)


# a callee writing into a module-level array (global state)
def bump_state(u):
    STATE[0] = STATE[0] + 1.0
    return u * (1.0 + STATE[0])


# time loop calling a callee that mutates global state
def run_global_state(u):
    for _ in range(2):
        u = bump_state(u)
    return np.sum(u)


# a callee appending to a module-level list (global state)
def log_value(u):
    LOG.append(1.0)
    return u * len(LOG)


# time loop calling a callee that appends to a global list
def run_global_log(u):
    for _ in range(2):
        u = log_value(u)
    return np.sum(u)


# variable that is an int, then rebound to an active float
def int_then_float(x):
    y = 3
    s = x * y
    y = x * x
    return s * y


CASES = [
    case(branch_then_overwrite, lambda: (0.9,)),
    case(branch_then_overwrite, lambda: (0.2,)),
    case(trip_count_from_value, lambda: (1.2,), 0, False),
    case(range_bound_rebound, lambda: (vec(5, 801), 4)),
    case(inplace_recurrence, lambda: (vec(5, 802),), 0, False),
    case(element_self_update, lambda: (vec(4, 803),), 0, False),
    case(gauss_seidel, lambda: (vec(5, 804),), 0, False),
    case(read_between_writes, lambda: (vec(4, 805),), 0, False),
    case(nested_element_iadd, lambda: (mat(3, 3, 806),), 0, False),
    case(unpack_into_subscripts, lambda: (0.6, 1.3), (0, 1), False),
    case(list_item_assign, lambda: (0.6, 1.3), (0, 1)),
    case(dict_update_loop, lambda: (0.6,)),
    case(call_inplace_callee, lambda: (0.7, vec(4, 810)), (0, 1), False),
    case(call_inplace_in_loop, lambda: (0.3, vec(4, 811)), (0, 1), False),
    case(call_inplace_twice, lambda: (0.7, vec(3, 833)), (0, 1), False),
    case(call_scale_into, lambda: (0.7, vec(3, 834)), (0, 1), False),
    case(call_scale_into_itself, lambda: (0.7, vec(3, 835)), (0, 1), False),
    case(write_into_callee_result, lambda: (0.7, vec(4, 825)), (0, 1), False),
    case(write_into_unpacked_result, lambda: (0.7, vec(4, 826)), (0, 1), False),
    case(same_array_twice, lambda: (vec(4, 813),)),
    case(unused_argument, lambda: (0.8, 1.1, vec(3, 814)), (0, 1, 2)),
    case(only_nondifferentiable_use, lambda: (0.8, np.array([0.31, -0.12, 0.43])), (0, 1)),
    case(constant_result, lambda: (vec(3, 815),)),
    case(zero_d_argument, lambda: (np.array(0.8),)),
    case(chained_methods, lambda: (vec(6, 816),), 0, False),
    case(batched_matmul, lambda: (vec(12, 817).reshape(2, 2, 3), mat(3, 2, 818)), (0, 1)),
    case(norm_axis, lambda: (mat(3, 4, 819),)),
    case(computed_index, lambda: (vec(4, 820),)),
    case(slice_int_bounds, lambda: (vec(6, 821), 1, 4)),
    case(call_kwonly, lambda: (0.9,)),
    case(call_eight_sites, lambda: (vec(3, 822),)),
    case(call_dict_return, lambda: (vec(4, 823),)),
    case(call_list_return, lambda: (vec(4, 824),)),
    case(while_on_written_array, lambda: (np.array([1.3, 0.4, -0.2]),), 0, False),
    case(int_then_float, lambda: (0.9,)),
    case(int_and_bool_array_args,
         lambda: (vec(4, 827), np.array([0, 2, 2]), np.array([True, False, True, False])),
         (0, 1, 2), False),
]

# Writes (also augmented assignments) into an array that another live name shares (a second
# name, a view, a list entry, a caller's array) or into global state: outside the documented
# subset, so a correct gradient or a TransformError before anything runs -- never a result that
# differs from NumPy's.
BEYOND_SUBSET = [
    case(view_slice_write, lambda: (0.7, vec(4, 807)), (0, 1), False),
    case(view_transpose_write, lambda: (0.7, mat(3, 3, 808)), (0, 1), False),
    case(chained_alias_write, lambda: (0.7, vec(3, 809)), (0, 1), False),
    case(write_into_returned_alias, lambda: (0.7, vec(3, 812)), (0, 1), False),
    case(aug_assign_through_alias, lambda: (0.5,), 0, False),
    case(aug_assign_on_view, lambda: (0.3, vec(4, 829)), (0, 1), False),
    case(aug_assign_after_append, lambda: (0.3, vec(4, 830)), (0, 1), False),
    case(callee_aug_assign_param, lambda: (0.3, vec(4, 828)), (0, 1), False),
    case(write_root_param, lambda: (vec(4, 831), 0.4), (0, 1), False),
    case(pass_slice_view, lambda: (0.7, vec(4, 836)), (0, 1), False),
    case(pass_row_view, lambda: (0.7, mat(2, 3, 837)), (0, 1), False),
    case(dict_entry_aug, lambda: (0.7, vec(3, 838)), (0, 1), False),
    case(list_entry_aug, lambda: (0.7, vec(3, 839)), (0, 1), False),
    case(tuple_alias_aug, lambda: (0.7, vec(3, 840)), (0, 1), False),
    case(loop_row_aug, lambda: (0.7, mat(2, 3, 841)), (0, 1), False),
    case(loop_row_setitem, lambda: (0.7, mat(2, 3, 842)), (0, 1), False),
    case(run_global_state, lambda: (vec(2, 843),), 0, False),
    case(run_global_log, lambda: (vec(2, 844),), 0, False),
    case(aug_assign_root_param, lambda: (vec(4, 832), 0.4), (0, 1), False),
]
