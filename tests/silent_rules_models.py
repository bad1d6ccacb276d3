"""Models for tests/test_silent_rules.py: code that used to get a wrong gradient without an error
(out= used as a statement, complex intermediates, list + and *, float division by zero).

Each interesting operation sits in a helper called from the root, so that every checkpoint
placement of the helper's call site is exercised.  The complex models are re-run by autograd
(``np`` rebound to autograd.numpy), so they use only what autograd knows.
"""

import math

import numpy as np


# ----------------------------------------------------------------------------- out= arguments

def sin_into(u):
    a = np.empty_like(u)
    np.sin(u, out=a)
    return a


def out_sin(u):
    a = sin_into(u)
    return np.sum(a * a)


def square_into(u):
    buf = np.zeros_like(u)
    np.multiply(u, u, out=buf)
    return buf


def out_multiply(u):
    return np.sum(square_into(u) * u)


def running_total(v):
    acc = np.empty_like(v)
    np.cumsum(v, out=acc)
    return acc


def out_cumsum(v):
    c = running_total(v)
    return np.sum(c * c)


def floor_at_two(u):
    m = np.empty_like(u)
    np.maximum(u, 2.0, out=m)
    return m


def out_maximum(u):
    return np.sum(floor_at_two(u) * u)


def exp_in_place(u):
    y = u * 1.0
    np.exp(y, out=y)
    return y


def out_self(u):
    return np.sum(exp_in_place(u) ** 2)


def tuple_out(u):
    a = np.empty_like(u)
    b = np.tanh(u, out=(a,))
    return np.sum(a * b)


def positional_out(u):
    a = np.empty_like(u)
    np.add(u, u * u, a)
    return np.sum(a ** 2)


def slice_out(u):
    a = np.zeros(u.shape[0] + 2)
    np.sin(u, out=a[1:-1])
    return np.sum(a * np.arange(a.shape[0]))


def result_bound(u):
    a = np.empty_like(u)
    b = np.cos(u, out=a)
    return np.sum(a * b * u)


def result_written(u):
    a = np.empty_like(u)
    b = np.cos(u, out=a)
    b[0] = 3.0
    return np.sum(a * u)


def method_out(u):
    acc = np.empty_like(u)
    u.cumsum(out=acc)
    return np.sum(acc ** 3)


def scatter(u, idx):
    a = u * 1.0
    np.add.at(a, idx, u[1] * u[2])
    return a


def add_at(u):
    a = scatter(u, [0, 0, 3])
    return np.sum(a * a)


def subtract_at(u):
    a = u ** 2
    np.subtract.at(a, [1, 1], u[:2])
    return np.sum(a * u)


def out_where(u):
    a = np.zeros_like(u)
    np.log(u, out=a, where=u > 0)
    return np.sum(a)


def two_outs(u):
    q = np.empty_like(u)
    r = np.empty_like(u)
    np.divmod(u, 0.7, out=(q, r))
    return np.sum(r)


def multiply_at(u):
    a = u * 1.0
    np.multiply.at(a, [0, 0], 2.0)
    return np.sum(a)


# ----------------------------------------------------------------------------- complex values

def power_spectrum(u):
    return np.abs(np.fft.fft(u)) ** 2


def spectrum_energy(u):
    return np.sum(power_spectrum(u))


def complex_abs(u):
    return np.sum(np.abs(u * 1j - 0.5) ** 3)


def complex_absolute(u):
    return np.sum(np.absolute(np.exp(1j * u) + u))


def complex_angle(u):
    return np.sum(np.angle(u + 1j * u ** 2))


def complex_real(u):
    return np.real(np.sum(u * np.exp(1j * u)))


def complex_imag(u):
    return np.sum(np.imag(np.exp(1j * u) * u))


def complex_conj(u):
    return np.real(np.sum(np.conj(u * (1 + 2j)) * u))


def complex_ifft(u):
    return np.sum(np.abs(np.fft.ifft(u * 1j + 1)))


def complex_rfft(u):
    z = np.fft.rfft(u) * (1 + 0.5j)
    return np.sum(np.fft.irfft(z, n=u.shape[0]) ** 2)


def complex_fft2(u):
    return np.sum(np.abs(np.fft.fft2(np.reshape(u, (2, 2)))))


def complex_divide(u):
    return np.sum(np.abs(u / (u + 1j)))


def complex_power(u):
    return np.sum(np.abs((u + 1j) ** 2.5))


def complex_power_exponent(u):
    return np.sum(np.abs((u + 2j) ** (u + 0.5j)))


def complex_multiply(u):
    z = u * (0.5 - 1j)
    return np.sum(np.real(z * z * np.conj(z)))


def complex_exp_log(u):
    return np.sum(np.real(np.log(np.exp(1j * u) + 2)))


def complex_sqrt(u):
    return np.sum(np.abs(np.sqrt(u + 1j)))


def complex_sum_mean(u):
    return np.abs(np.mean(u * (1 + 1j))) + np.abs(np.sum(u * 1j - u ** 2))


def complex_dot(u):
    return np.abs(np.dot(u * 1j + 1, u))


def complex_matmul(u):
    a = np.reshape(u, (2, 2))
    return np.sum(np.abs(a @ (a * 1j + 1)))


def complex_square(u):
    return np.sum(np.abs(np.square(u + 1j)))


def complex_reciprocal(u):
    return np.sum(np.abs(np.reciprocal(u + 1j)))


def complex_var_std(u):
    z = u * (1 + 2j) + 1j
    return np.var(z) + np.std(z)


def complex_norm(u):
    return np.linalg.norm(u * (1 + 2j))


def field(u):
    return np.exp(1j * u) * u


def complex_through_calls(u):
    z = field(u)
    return np.sum(np.abs(z) ** 2) + np.real(np.sum(z))


def complex_scalar(u):
    z = complex(u[0], u[1])
    return abs(z * z) + (z * z).imag


def complex_scalar_literal(u):
    z = u[0] + 1j * u[1]
    return abs(z) ** 2 + np.real(z * z) + abs(z * z * (1 - 2j))


def complex_take(u):
    z = np.fft.fft(u)
    return np.abs(z[1]) ** 2 + np.abs(np.take(z, [0, 2, 2])).sum()


def complex_written(u):
    z = np.fft.fft(u)
    z[0] = 0.0
    return np.sum(np.abs(z) ** 2)


def rfft_padded(u):
    return np.sum(np.abs(np.fft.rfft(u, n=8)) ** 1.5)


def rfft_cut(u):
    return np.sum(np.abs(np.fft.rfft(u, n=3)) ** 1.5)


def rfft_odd(u):
    return np.sum(np.abs(np.fft.rfft(np.concatenate([u, u[:1]]))) ** 1.5)


def rfft2_odd(u):
    return np.sum(np.abs(np.fft.rfft2(np.reshape(u, (2, 3)))) ** 1.5)


def rfftn_shaped(u):
    return np.sum(np.abs(np.fft.rfftn(np.reshape(u, (3, 2)), s=(2, 3), axes=(0, 1), norm="ortho")) ** 1.5)


def irfft_odd(u):
    return np.sum(np.fft.irfft(np.fft.fft(u)[:4] * (1 + 1j), n=7) ** 2)


def irfft_forward(u):
    return np.sum(np.fft.irfft(np.fft.fft(u)[:4] * (1 + 1j), n=5, norm="forward") ** 2)


def irfftn_shaped(u):
    return np.sum(np.fft.irfftn(np.reshape(np.fft.fft(u), (3, 2)) * 1j, s=(4, 5), axes=(0, 1)) ** 2)


def irfft_of_real(u):
    return np.sum(np.fft.irfft(u[:4], n=6) * u)


def slice_times_complex(u):
    return np.real(np.sum(u[:2] * (0.5 + 1j)))


def written_then_complex(u):
    y = u * 1.0
    y[1:3] = y[1:3] * 2.0
    return np.real(np.sum(y[:2] * (0.5 + 1j) * np.exp(1j * y[2])))


# ----------------------------------------------------------------------------- lists

def cost(v):
    return sum([t * t for t in v])


def drop_middle(u):
    v = u[:1] + u[2:]
    return cost(v)


def rebuild(u):
    v = [u[0]] + [u[1], u[2]]
    return cost(v)


def overlap(u):
    v = u[:2] + u[1:]
    return cost(v)


def append_one(u):
    v = u + [1.0]
    return cost(v)


def twice(u):
    v = u * 2
    return cost(v)


def twice_left(u):
    v = 2 * u
    return cost(v)


def doubled(u):
    v = u + u
    return cost(v)


def close_loop(u):
    v = u + [u[0]]
    return cost(v) + u[1] * u[2]


def with_tuple(u):
    t = tuple(u)
    v = t + (u[0],)
    return sum([x * x for x in v])


def repeated_slice(u):
    a = u[:2]
    w = (a * 2) * 3
    return w[0] * w[11] + w[3] * a[0]


def head_and_tail(u):
    v = u[:1] + u[2:]
    w = v + v
    return sum([t * t * t for t in w])


def padded(u):
    return [0.0] + u + [0.0]


def smooth(u):
    p = padded(u)
    out = []
    for i in range(1, len(p) - 1):
        out.append(0.25 * p[i - 1] + 0.5 * p[i] + 0.25 * p[i + 1])
    return out


def list_stencil(u):
    return cost(smooth(u))


def grow(u):
    acc = []
    for i in range(len(u)):
        acc = acc + [u[i] * 2.0]
    return cost(acc)


def grow_tuple(u):
    acc = ()
    for x in u:
        acc = acc + (x * x,)
    return acc[0] * acc[2] + acc[1]


def rotate(u):
    v = u[1:] + u[:1]
    return v[0] * 3.0 + v[2] * v[1]


def mixed_repeat(u):
    v = 3 * u[:2]
    w = [u[2]] * 2 + v
    return sum([t ** 3 for t in w])


def stacked(a):
    parts = [a, a * 2.0] + [a * 3.0]
    return np.sum(np.stack(parts) ** 2)


# ----------------------------------------------------------------------------- float semantics

def divide_by_zero(u):
    x = np.float64(u[0]) / 0.0
    return x + np.sum(u)


def ratio(a, b):
    return a / b


def divide_by_python_zero(u):
    h = 0.0
    return ratio(np.float64(u[0]), h) + np.sum(u)


def log_of_zero(u):
    x = float(u[0] - u[0])
    return np.log(x) + np.sum(u)


def sqrt_at_zero(u):
    x = float(u[0] - u[0])
    return math.sqrt(x) + u[1]


def power_at_zero(u):
    x = float(u[0] - u[0])
    return np.power(x, 0.5) + np.power(x, -1.0) + x ** 0.3 + u[1]


def reciprocal_at_zero(u):
    return np.reciprocal(float(u[0] - u[0])) + u[1]


def arctan2_at_origin(u):
    y, x = float(u[0] - u[0]), float(u[1] - u[1])
    return np.arctan2(y, x) + math.atan2(y, x) + u[1]


def hypot_at_origin(u):
    return math.hypot(float(u[0] - u[0]), float(u[1] - u[1])) + u[1]


def arcsin_at_one(u):
    return math.asin(float(u[0] / u[0])) + u[1]


# ----------------------------------------------------------------------------- more out= forms

def accumulate(total, u):
    np.add(total, u * u, out=total)
    return total


def out_accumulate(u):
    total = np.zeros_like(u)
    for _ in range(3):
        total = accumulate(total, u)
    return np.sum(total * u)


def out_into_argument(u):
    np.sin(u, out=u)
    return np.sum(u * u)


def out_into_int(u):
    counts = np.zeros(u.shape, dtype=int)
    np.sin(u, out=counts)
    return np.sum(counts * u)


def clip_method(u):
    v = u * 2.0
    v.clip(-1.0, 1.0, out=v)
    return np.sum(v * u)


def cast_to_real(u):
    z = u * (1 + 2j)
    w = z.astype(float) * (0.5 - 1j) + 1j
    return np.sum(np.abs(w) ** 2)


def asarray_to_real(u):
    z = np.exp(1j * u)
    w = np.asarray(z, dtype=np.float64) * (0.5 - 1j) + 1j
    return np.sum(np.abs(w) ** 2)


def add_at_int(u):
    counts = np.zeros(3, dtype=int)
    np.add.at(counts, [0, 0, 2], 1)
    hits = np.zeros(3, dtype=int)
    np.add.at(hits, [1], u[0])
    return np.sum(counts * u) + np.sum(hits * u)


# ----------------------------------------------------------------------------- joins with list operands

WEIGHTS = np.linspace(0.5, 2.0, 24)


def weighted(y):
    y = np.ravel(y)
    return np.sum(np.sin(y) * WEIGHTS[:y.size])


def with_tail(x, s):
    return np.concatenate([x, [s]])


def concat_scalar_tail(x, s):
    y = with_tail(x, s)
    return np.sum(y * y)


def concat_zero_head(x, s):
    d = np.diff(np.concatenate([[0.0], x]))
    return weighted(d * s)


def concat_tuples(x, s):
    return weighted(np.concatenate(((s, 2.0 * s), x, (s * s,))))


def concat_flat(x, s):
    grid = np.stack([x, x * s])
    return weighted(np.concatenate([grid, [s, 1.0]], axis=None))


def concat_rows(x, s):
    grid = np.stack([x, np.cos(x) * s])
    return weighted(np.concatenate(grid))


def concat_nested_list(x, s):
    return weighted(np.concatenate([[x, x * s], [np.cos(x)]], axis=-2))


def pad_ends(x, s):
    return np.concatenate(([s], x, [s * 0.5]))


def concat_list_reused(x, s):
    ends = [s, 3.0 * s]
    y = np.concatenate([ends, x]) + np.concatenate([x, ends])
    return weighted(y) + weighted(pad_ends(x, s))


def concat_list_argument(u, s):
    y = np.concatenate([u, [s], u[:1]])
    return weighted(y * y)


def stack_with_list(x, s):
    return weighted(np.stack([x, [s, s, 1.0, 2.0, s * s]], axis=1))


def stack_scalars(x, s):
    return weighted(np.stack((s, 2.0, s * x[0]), axis=-1))


def hstack_mixed(x, s):
    return weighted(np.hstack([[s], x, s * s, (1.0, s)]))


def vstack_with_list(x, s):
    grid = np.stack([x, x * s])
    return weighted(np.vstack([grid, [s, s, 1.0, 2.0, s * s], x]))


def append_scalar(x, s):
    return weighted(np.append(x, s))


def append_in_front(x, s):
    return weighted(np.append([s, 1.0], x))


def append_rows(x, s):
    grid = np.stack([x, x * s])
    return weighted(np.append(grid, [np.sin(x)], axis=0))


def column_stack_list(x, s):
    return weighted(np.column_stack([x, [s, s, 1.0, 2.0, s * s], np.stack([x, x]).T]))


def dstack_list(x, s):
    return weighted(np.dstack([x, [s] * 5]))


# ----------------------------------------------------------------------------- ndarray.item

def item_flat(x, s):
    return x.item(3) * s + x.item(-1) ** 2


def item_of_matrix(x, s):
    m = np.outer(x, x)
    return m.item(1, 2) * s + m.item((4, 0)) + m.item(7)


def item_only(x, s):
    return np.sum(x[2:3]).item() * s + (x[1:2] * s).item() + x[4:5].item(0)


def dot_items(x, s):
    total = 0.0
    for k in range(3):
        total = total + x.item(k) * x.item(k + 1)
    return total * s


# ----------------------------------------------------------------------------- sorted, reversed, generators, extend

SETTINGS = {"rate": 0.5, "smooth": True}
TAPS = np.array([0.5, -1.0, 2.0, 1.5, 0.1])


def sum_of_generator(u, s):
    v = u[:2] + [s]
    return sum(t * t for t in v) + sum((np.sin(t) for t in u), s)


def list_of_generator(u, s):
    v = list(t * s for t in u)
    w = tuple(np.sin(t) for t in v)
    return v[0] * w[2] + sum(sorted(t * t for t in u))


def sorted_lists(u, s):
    v = sorted(u)
    w = sorted([t * s for t in u], reverse=True)
    return v[0] * 2.0 + v[-1] * s + sum([k * t for k, t in enumerate(w)])


def reversed_and_sorted(u, s):
    v = list(reversed(sorted(u + [s])))
    total = 0.0
    for t in reversed(v):
        total = total * 0.5 + t
    for k, t in enumerate(sorted(u)):
        total = total + k * t * t
    return total + v[0] * v[1]


def rank(values):
    ordered = sorted(values)
    return sum([(i + 1) * t for i, t in enumerate(ordered)])


def sorted_in_callee(u, s):
    return rank(u) + rank([t * s for t in u]) * s


def sorted_array(x, s):
    v = sorted(x * s)
    r = list(reversed(x))
    return v[0] * v[-1] + r[0] * 3.0 + sum(r)


def extend_list(u, s):
    acc = [s]
    acc.extend([u[0] * 2.0, u[1]])
    acc.extend(u)
    acc.extend(t * s for t in u)
    acc.extend(acc[:2])
    acc += [s * s]
    acc += (t for t in u)
    return sum([k * t * t for k, t in enumerate(acc)])


def grow_by_two(acc, t):
    acc.extend([t, t * t])
    return len(acc)


def extend_in_callee(u, s):
    acc = []
    for t in u:
        grow_by_two(acc, t * s)
    return sum([t * t for t in acc])


def iadd_aliased_list(u, s):
    acc = [u[0]]
    b = acc
    acc += [u[1] * s]
    return sum([t * t for t in b])


def methods_of_module_data(x, s):
    cfg = SETTINGS.copy()
    cfg["rate"] = s
    c2 = dict(cfg)
    return np.sum(x) * TAPS.sum() + TAPS.dot(x) * cfg["rate"] + c2["rate"] * s


def extremes_of_lists(u, s):
    v = [t * s for t in u]
    return max(v) * 2.0 + min(t * t for t in u) + max(u[0], s)


def extremes_of_arrays(x, s):
    return max(x * s) + min(np.sin(x))


def sorted_by_key(u):
    v = sorted(u, key=abs)
    return v[0] * 2.0 + v[1]


def imul_aliased_list(u):
    acc = [u[0], u[1]]
    b = acc
    acc *= 2
    return sum([t * t for t in b])


def iadd_other_list_aliased(u):
    acc = [u[0]]
    b = acc
    more = [u[1]]
    acc += more
    return sum([t * t for t in b])


def add_into(acc, more):
    acc += more
    return 0.0


def grows_callers_list(u):
    acc = [u[0]]
    add_into(acc, [u[1] * 2.0])
    return sum([t * t for t in acc])


def repeat_in_place(u, s):
    acc = [u[0], u[1] * s]
    acc *= 3
    more = [u[1]]
    acc += more
    return sum([k * t * t for k, t in enumerate(acc)])


def builtin_sum_of_array(x, s):
    m = np.stack([x, x * s])
    return sum(x * x) + np.sum(sum(m) ** 2) + max(x) * 2.0


def iadd_unpacked_list_aliased(u):
    acc, other = [u[0]], [u[1]]
    b = acc
    acc += other
    return sum([t * t for t in b])


def iadd_scalars_with_a_copy(u, s):
    t = s
    r = t
    for x in u:
        t += x * x
        r *= 1.5
    return t * r
