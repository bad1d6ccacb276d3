"""Models for test_silent_calls.py: calls that write into aliased arguments, writes with
repeated fancy indices, names rebound to functions of themselves, alias checks in loops."""

import numpy as np


# --------------------------------------------------------------------------- arguments that overlap

def scale_first(a, b):
    a[0] = b[1] * 2.0
    return np.sum(a * b)


def same_array_twice(x):
    y = x * 1.0
    return scale_first(y, y)


def array_and_its_reverse(x):
    y = x * 1.0
    return scale_first(y, y[::-1])


def tail_and_whole(x):
    y = x * 1.0
    return scale_first(y[1:], y)


def even_and_odd_entries(x):
    y = x * 1.0
    return scale_first(y[::2], y[1::2])


def fill_from(dst, src, c):
    dst[:] = src * c
    return np.sum(dst * dst)


def fill_from_itself(x, c):
    y = np.sin(x)
    total = fill_from(y, y, c)
    return total + np.sum(y)


def bump(a):
    a[0] = a[0] * 3.0


def bump_then_sum(a, b):
    bump(a)
    return np.sum(a * b)


def nested_writer_same_array(x):
    y = x + 1.0
    return bump_then_sum(y, y)


def overlap_in_a_loop(x, n):
    y = x * 1.0
    total = 0.0
    for i in range(n):
        if i == n - 1:
            total = total + scale_first(y, y)
        else:
            total = total + scale_first(y, x)
    return total


def root_writes_first(a, b):
    a[0] = b[1] * 2.0
    return np.sum(a * b)


def root_fills_first(v, u):
    v[:] = u * 2.0
    return np.sum(v * v)


def append_and_sum(acc, other):
    acc.append(2.0 * other[0])
    return sum(acc) + sum(other)


def list_passed_twice(x):
    items = [x[0], x[1]]
    return append_and_sum(items, items)


# --------------------------------------------------------------------------- repeated fancy indices

def add_twice_at_zero(u):
    a = u * 1.0
    a[[0, 0]] += u[1]
    return np.sum(a * a)


def last_write_wins(u, v):
    a = u * 1.0
    a[[1, 1, 2]] = v
    return np.sum(a * a * u)


def multiply_at_repeated_array_index(u):
    a = u * 1.0
    idx = np.array([2, 0, 2])
    a[idx] *= u[:3]
    return np.sum(a ** 2)


def scalar_to_repeated_places(u, s):
    a = u * 1.0
    a[[3, 1, 3]] = s * s
    return np.sum(a * u)


def repeated_columns(m, v):
    a = m * 1.0
    a[:, [0, 2, 0]] = v
    return np.sum(np.sin(a))


def repeated_pairs(m, v):
    a = m * 1.0
    a[[0, 1, 0], [1, 1, 1]] = v
    return np.sum(a * a)


def masked_write(u, v):
    a = u * 1.0
    a[u > 1.5] = v
    return np.sum(a * a)


def repeated_writes_in_a_loop(u, n):
    a = u * 0.5
    idx = [1, 0, 1]
    for i in range(n):
        a[idx] += a[2] * u[i]
        a[idx] = a[idx] * 0.9
    return np.sum(a * a)


def add_into(a, idx, v):
    a[idx] += v
    return np.sum(a * a)


def repeated_writes_in_a_callee(u):
    a = u * 1.0
    first = add_into(a, [0, 2, 0], u[1])
    second = add_into(a, np.array([1, 1]), u[0] * u[2])
    return first + second


# --------------------------------------------------------------------------- rebinding

def sum_then_square(x):
    x = np.sum(x)
    x = x * x
    return x


def sum_then_scale(x):
    x = np.sum(x)
    return 2.0 * x


def cumsum_sum_square(x):
    x = np.cumsum(x)
    x = np.sum(x)
    x = x * x
    return x


def mean_then_augmented(x):
    x = np.mean(x)
    x += x
    x *= x
    return x


def rebind_in_loop(x, n):
    s = x * 1.0
    for i in range(n):
        s = np.cumsum(s)
        s = s * 0.5
    s = np.sum(s)
    s = s * s
    return s


def rebind_in_branches(x, flag):
    if flag:
        x = np.sum(x)
    else:
        x = np.sum(x * x)
    x = x * x + x
    return x


def method_reduction(x):
    y = x * 2.0
    y = y.sum()
    y = y * y
    return y


def loop_of_cumsums(x, n):
    t = 0.0
    for i in range(n):
        x = np.cumsum(x)
        t = t + np.sum(x)
    x = np.sum(x)
    x = x ** 2
    return x + t


def reshape_then_sum(x):
    x = np.reshape(x, (2, 1))
    x = np.sum(x)
    return x * 3.0


# --------------------------------------------------------------------------- alias checks in loops

def halve_first(a, s):
    a[0] = a[0] * s
    return a


def halve_first_sum(a, s):
    a[0] = a[0] * s
    return np.sum(a)


def callee_result_in_a_loop(u):
    x = u * 1.0
    acc = 0.0
    for i in range(3):
        t2 = halve_first(x, 0.5)
        acc = acc + np.sum(t2)
    return acc


def callee_result_squared_in_a_loop(u):
    x = u * 1.0
    acc = 0.0
    for i in range(3):
        t2 = halve_first(x, 0.5)
        acc = acc + np.sum(t2 * t2)
    return acc


def view_kept_from_first_pass(u, n):
    x = u * 1.0
    acc = 0.0
    for i in range(n):
        if i > 0:
            acc = acc + np.sum(w)
        x[0] = x[1] * 0.5
        if i == 0:
            w = x[:2]
    return acc + np.sum(x)


def view_read_after_callee_write(u):
    x = u * 1.0
    y = x[1:]
    acc = 0.0
    for i in range(3):
        t2 = halve_first_sum(x, 0.5)
        acc = acc + t2 * np.sum(y)
    return acc


# --------------------------------------------------------------------------- writes through views

def write_through_view(u):
    v = u[1:]
    v[0] = 10.0
    return np.sum(v * v)


def calls_view_writer(u):
    return write_through_view(u) + np.sum(u)


def calls_view_writer_on_part(u):
    head = u[:2]
    return write_through_view(head) + np.sum(u * u)


# --------------------------------------------------------------------------- siblings

def half_then_fill(a, b):
    t = b * 0.5
    a[:] = t * 3.0
    return np.sum(a * t)


def fill_with_half_of_itself(u):
    y = u * 1.0
    return half_then_fill(y, y)


def accumulate(a, b):
    a += b
    return np.sum(a * b)


def accumulate_into_itself(u):
    y = u * 1.0
    return accumulate(y, y)


def accumulate_squared(a, b):
    a += b
    return np.sum(a * a)


def accumulate_squared_into_itself(u):
    y = u * 1.0
    return accumulate_squared(y, y)


def keywords_reversed(u):
    y = u * 1.0
    return accumulate(b=y[::-1], a=y)


def negative_duplicate_index(u):
    a = u * 1.0
    a[[0, -4, 1]] = u[1:] * 2.0
    return np.sum(a * a)


def index_array_updated_in_the_loop(u):
    k = np.zeros(2, dtype=int)
    a = u * 1.0
    for i in range(3):
        j = k + 1
        a[j] = a[j] * a[0] + 1.0
        k[0] = i + 1
        k[1] = i + 2
    return np.sum(a * a)


W = np.array([1.0, 2.0, 3.0, 4.0])


def set_first(a, s):
    a[0] = s
    return np.sum(a) * s


def writes_into_a_global(u):
    return set_first(W, u[0]) + np.sum(u)


def passes_both_on(a, b):
    return scale_first(a, b)


def passes_both_on_twice(a, b):
    return passes_both_on(a, b) * 2.0


def root_passing_one_array_down(u):
    y = u * 1.0
    return passes_both_on_twice(y, y)


def drop_first(x):
    x = x[1:]
    return np.sum(x) * 2.0


def every_other_then_sum(x):
    x = x[::2]
    x = np.sum(x)
    return x * 3.0


def reshape_then_row(x):
    x = np.reshape(x, (2, 2))
    x = x[0]
    return np.sum(x) * 1.5


def drop_first_in_a_loop(x, n):
    for i in range(n):
        x = x[1:]
    return np.sum(x) * 2.0


def pick_repeated(x):
    x = x[[0, 0, 1]]
    return np.sum(x) * 2.0


GRID = np.array([1.0, 2.0, 3.0])


def write_through_view_of_global(x):
    v = GRID[1:]
    v[0] = x[1]
    return np.sum(GRID * x)


def calls_global_view_writer(x):
    return write_through_view_of_global(x) * 2.0


def grid():
    return GRID


def write_into_returned_global(x):
    g = grid()
    g[0] = x[0]
    return np.sum(g * x)


def write_into_fresh_array_from_global(x):
    v = GRID * 2.0
    v[0] = x[1]
    return np.sum(v * x)


# --------------------------------------------------------------------------- callees writing into what their list or dict argument holds

def push(acc, s):
    acc[0] += s * np.sin(acc[0])


def push_onto_fresh_list(x, s):
    acc = [x * 1.0]
    push(acc, s)
    return np.sum(acc[0] * acc[0])


def bump_weights(params, s):
    params["w"] += s * np.sin(params["w"])


def bump_fresh_dict(x, s):
    params = {"w": x * 1.0, "b": s}
    bump_weights(params, s)
    return np.sum(params["w"] * params["w"]) + params["b"]


def push_onto_list_holding_x(x, s):
    acc = [x, np.cos(x)]
    push(acc, s)
    return np.sum(acc[0] * acc[1]) + np.sum(x * x)


def push_onto_list_holding_live_y(x, s):
    y = x * 1.0
    acc = [y, np.cos(x)]
    push(acc, s)
    return np.sum(acc[0] * acc[1]) + np.sum(y * y)


def extend_then_push(acc, s):
    acc = acc + [s]
    acc[0] += s * np.sin(acc[0])


def calls_extend_then_push(x, s):
    acc = [x * 1.0]
    extend_then_push(acc, s)
    return np.sum(acc[0] * acc[0])


# --------------------------------------------------------------------------- a 0-d array updated in place

def nudge(a, s):
    s += 0.1 * np.sin(np.sum(a))
    return a * s


def nudge_in_callee(x, s):
    return np.sum(nudge(x, s))


def nudge_in_place(x, s):
    s -= 0.1 * np.sin(np.sum(x))
    return np.sum(x * s)


# --------------------------------------------------------------------------- a parameter written, rebound, written

def scatter(a, x, s):
    a[0] = s
    a = a + 0.1
    a[1] = s
    return np.sum(a * a)


def scatter_into_copy(x, s):
    a = x * 1.0
    return scatter(a, x, s)


# --------------------------------------------------------------------------- floats written into integer arrays

def floats_into_ints(u):
    a = np.zeros(2, dtype=int)
    a[...] = u * 3.0
    return np.sum(a * u)


def float_added_into_int_entry(u):
    a = np.zeros(2, dtype=int)
    a[1] += u[0] * 3.0
    a[0] = u[1] * 2.0
    return np.sum(a * u)


def float_into_bool_entry(u):
    flags = np.zeros(2, dtype=bool)
    flags[0] = u[1]
    return np.sum(flags * u)


# two list parameters joined into a new list whose first entry is then written into
def bump_joined(a, b, s):
    l = a + b
    l[0] += s * np.sin(l[1])
    return np.sum(l[0] * l[2])


def joined_lists_main(x, s):
    a = [x * 1.0, x * 2.0]
    b = [x * 3.0]
    r = bump_joined(a, b, s)
    return r + np.sum(a[0] * a[0])


# the same join of array parameters: a new array, written freely
def bump_sum(a, b, s):
    c = a + b
    c[0] += s * np.sin(c[1])
    return np.sum(c * a)


def joined_arrays_main(x, s):
    return bump_sum(x * 1.0, x * 2.0, s)


# a callee returning its argument inside a tuple; the caller then updates that entry in place
def pass_back(a, s):
    return a * 2.0, s


def update_returned_entry(a, s):
    r, t = pass_back(a, s)
    t -= 0.1 * np.sin(r)
    return np.sum(t * t)


def tuple_return_main(x, s):
    y = s * 1.0
    v = update_returned_entry(x, y)
    return v + np.sum(y * x)
