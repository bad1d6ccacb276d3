"""Models for test_codegen_review.py: functions called with arrays and with numbers, lists of
floats changed between calls, callees whose results are partly unused, in-place updates inside
functions with shape guards, while loops with break, long expressions, lists that come to hold
arrays, Runge-Kutta steps and pair energies in Python floats, and a chain of seven functions."""

import math

import numpy as np


def mm_scalar(x, y):
    d = np.matmul(x, y)
    z = d * x
    return np.sum(z)


def list_setitem(x):
    ys = [0.0, 0.0]
    ys[0] = x * 2.0
    t = ys[0]
    u = t * x
    return np.sum(u)


def fill(ys, v):
    ys[0] = v
    return 0.0


def list_callee_write(x):
    ys = [0.0, 1.0]
    fill(ys, x * 3.0)
    t = ys[0]
    u = t * x
    return np.sum(u)


def cube(a):
    return a * a * a


def cube_mixed(x, s):
    u = cube(x)
    v = cube(s)
    return np.sum(u) * v + cube(s * 2.0)


def scale2(a, b):
    return a * b + a * a


def scale_root(x, s):
    t = scale2(s, 2.0)
    for i in range(3):
        t = scale2(t, s)
    return t


def pair(x, c):
    return x * 2.0, c + 1.0


def pair_root(x):
    a, b = pair(x, 3.0)
    return a * b


def build(x, c):
    return {"a": x * 2.0, "b": c, "c": x * x}


def dict_root(x):
    d = build(x, 1.0)
    return d["a"] * d["b"]


def mul(a, b):
    return a * b


def mul_root(x):
    y = mul(x, 2.0)
    z = mul(3.0, y)
    w = mul(z, z)
    return w


def discard_root(x):
    mul(x, x)
    y = mul(x, 4.0)
    return y * x


def branch_callee(x):
    if x > 0.0:
        y = cube(x)
    else:
        y = x * 2.0
    return y


def lvl4(a):
    return a * 1.5 + math.sin(a)


def lvl3(a):
    return lvl4(a) * a


def lvl2(a):
    return lvl3(a) + lvl4(a * a)


def lvl1(a, b):
    return lvl2(a) * lvl3(b)


def deep_root(x, y):
    return lvl1(x, y) + lvl1(y, 2.0)


def sum_list(xs):
    t = 0.0
    for i in range(len(xs)):
        t = t + xs[i] * xs[i]
    return t


def list_mut_root(x):
    xs = [x, 2.0 * x, 3.0]
    a = sum_list(xs)
    xs[0] = x * x * x
    b = sum_list(xs)
    xs.append(np.float64(x))
    c = sum_list(xs)
    return a + b * c


def while_break(x):
    t = x
    k = 0
    while True:
        t = t * 1.1 + mul(t, 0.1)
        k = k + 1
        if t > 5.0:
            break
    return t


def bcast_kinds(x, s):
    a = np.asarray(s) * x
    b = np.float64(s) * x
    c = 2 * x
    d = True * x
    e = (s + 1j) * x
    return np.sum(a + b * c + d) + np.sum(np.real(e * e))


def sorted_root(xs):
    ys = sorted(xs)
    r = list(reversed(ys))
    return r[0] * 2.0 + ys[1] * r[1]


def npsort_root(x):
    y = np.sort(x)
    z = np.append(y, x[0])
    return np.sum(z * z * np.arange(z.shape[0]))


def dictcopy_root(x):
    d = {"a": x, "b": x * x}
    e = dict(d)
    return e["a"] * e["b"]


def listcast_root(x):
    ys = list(x)
    return ys[0] * ys[1] + ys[2]


def inplace_spec(x, s):
    y = x * s
    y += x
    y[0] = s * 2.0
    return y


def inplace_root(x, s):
    u = inplace_spec(x, s)
    v = inplace_spec(x * 2.0, 3.0)
    return np.sum(u * v)


def long_expr(x, y):
    z = np.sin(x) * np.cos(y) + np.exp(-x * x) * np.tanh(y) + np.sqrt(x * x + y * y + 1.0) * np.log1p(x * x) + np.arctan2(x, y + 3.0)
    return np.sum(z * z)

def step(u, dt):
    return u + dt * (u * u - u * u * u)


def mixed_loop(x, s):
    u = s
    v = x
    for i in range(4):
        u = step(u, 0.1)
        v = step(v, 0.1)
        if i == 2:
            u = u + np.sum(v)
    return u * np.sum(v)


def flip_types(x, s):
    u = s
    for i in range(3):
        u = step(u, 0.05)
        if i == 1:
            u = u * x
    return np.sum(u)


def prod_list(xs):
    p = 1.0
    for i in range(len(xs)):
        p = p * xs[i]
    return p


def runs_list(x):
    ys = []
    for i in range(4):
        ys.append(x * (i + 1.0))
    a = prod_list(ys)
    ys.append(2.0)
    b = prod_list(ys)
    return a + b


def dense_loop(xs):
    acc = []
    for i in range(len(xs)):
        acc.append(xs[i] * xs[i])
    t = 0.0
    for k in range(len(acc)):
        t = t + acc[k] * xs[k]
    return t


def with_default(a, b=2.0):
    return a * b + a


def default_root(x):
    return with_default(x) + with_default(x, x) + with_default(b=x, a=3.0)


def tri(a, b, c):
    return [a * 2.0, b, c * c]


def tri_root(x, y):
    r = tri(x, 1.0, y)
    q = tri(2.0, x, 3.0)
    return r[0] * r[1] + r[2] + q[1] * q[0]




def kinds(s, k):
    return s * k + s * s




def inner_arr(a, b):
    c = a * b
    c += a
    return c * 2.0


def arr_scalar_root(x, s):
    p = inner_arr(x, s)
    q = inner_arr(s, x)
    r = inner_arr(s, s)
    w = inner_arr(x, x[::-1])
    return np.sum(p * q) + r + np.sum(w)


def zero_d_root(x):
    s = np.sum(x)
    z = np.array(1.5) * s
    t = inner_arr(z, s)
    u = inner_arr(x, np.sum(x * x, keepdims=True))
    return t * np.sum(u)


def brk(x, n):
    t = x
    i = 0
    while i < n:
        t = step(t, 0.2)
        if np.sum(t) > 3.0:
            break
        i = i + 1
    return t


def brk_root(x, s):
    a = brk(x, 5)
    b = brk(s, 5)
    return np.sum(a) * b


def maybe_use(x, flag):
    y = step(x, 0.1)
    if flag:
        return y
    return x * 2.0


def maybe_root(x):
    return maybe_use(x, True) + maybe_use(x, False) * maybe_use(x * 3.0, False)


def tup_callee(a, b):
    return a * b, a - b, 3.0


def tup_root(x):
    p, q, r = tup_callee(x, 2.0)
    s, t, u = tup_callee(1.0, x)
    return p * r + t * u


def lst_sq(a):
    return a * a


def lst_root(xs):
    b = lst_sq(xs[0])
    c = lst_sq(len(xs))
    return b * c + lst_sq(xs[1] * xs[2] * xs[2])


def cplx(x, s):
    z = (s + 0.5j) * x
    w = z * np.conj(z)
    return np.sum(np.real(w))


def f32_root2(x, h, flag):
    return step(x, h) * step(x, flag)


def kinds_root2(x, k1, k2, k3, xf):
    return kinds(x, k1) + kinds(x, k2) + kinds(x, k3) + kinds(xf, 1.5) * kinds(xf, k2)

def acc(a, b):
    a += b
    c = a * 2.0
    return c


def acc_root(x, s):
    y = x * 1.0
    p = acc(y, x)
    q = acc(s, s)
    r = acc(x * 3.0, 2.0)
    return np.sum(p * y) + q + np.sum(r * x)


def share(a, b):
    a *= b
    return a + b


def share_root(x):
    y = x * 1.0
    z = share(y, x)
    return np.sum(z * y)


def ident(a):
    return a


def ident_root(x):
    y = ident(x)
    z = ident(y)
    w = y + z
    w += x
    return np.sum(w * w)






def setter(x, s):
    y = x * s
    y[1] = s * s
    y[0] += s
    return np.sum(y * x)


def setter_root(x, s):
    return setter(x, s) + setter(x, 0.5) * setter(x * 2.0, s)

def poly(cs, t):
    r = 0.0
    for i in range(len(cs)):
        r = r * t + cs[i]
    return r


def poly_root(cs, t):
    a = poly(cs, t)
    b = poly(cs, a)
    return a * b + poly([a, b, 1.0], t)




def mm_sq(a, b):
    c = np.matmul(a, b)
    return np.sum(c * a)


def walk(xs, tol):
    k = 0
    t = 0.0
    while k < len(xs):
        t = t + xs[k] * xs[k]
        if t > tol:
            break
        k = k + 1
    return t


def walk_root(xs):
    return walk(xs, 0.5) + walk(xs, 100.0) * walk(tuple(xs), 1.0)


def mm_plus(x, y):
    d = np.matmul(x, y)
    z = d + x
    return np.sum(z)


def mm_where(x, y):
    d = np.matmul(x, y)
    z = np.maximum(x, d)
    return np.sum(z * z)


def branch_loop(xs):
    out = []
    t = 0.0
    for i in range(len(xs)):
        y = lst_sq(xs[i])
        if i % 2 == 0:
            t = t + y
        out.append(y * xs[i])
    s = 0.0
    for k in range(len(out)):
        s = s + out[k] * t
    return s


def while_calls(x):
    t = x
    u = 0.0
    while True:
        v = lst_sq(t)
        if v > 4.0:
            break
        u = u + v
        t = t * 1.3
    return u + t


def reuse_names(xs):
    acc = 0.0
    for i in range(len(xs)):
        a = xs[i] * 2.0
        b = lst_sq(a)
        a = b + xs[i]
        acc = acc + a * b
    return acc


def list_entry_set_to_array(x):
    ys = [0.0, 0.0]
    ys[0] = np.sin(x)
    t = ys[0]
    return np.sum(t * x)


def put_first(ys, v):
    ys[0] = v
    return 0.0


def list_entry_set_by_callee(x):
    ys = [0.0, 1.0]
    put_first(ys, np.sin(x))
    t = ys[0]
    return np.sum(t * x)


def list_of_rows(x):
    ys = [0.0] * 3
    for i in range(3):
        ys[i] = x * (i + 1.0)
    t = ys[0] + ys[2]
    return np.sum(t * np.cos(x))


def list_extended_with_array(x):
    ys = [0.0]
    ys.extend([np.sin(x)])
    t = ys[1]
    return np.sum(t * x)


def list_grown_with_array(x):
    ys = [0.0]
    ys += [np.sin(x)]
    t = ys[1]
    return np.sum(t * x)


def upd(p, q):
    p += q
    return p * 1.0


def upd_root(x, y):
    a = x * 1.0
    b = upd(a, y)
    return np.sum(b * a) + np.sum(y * y)


def upd2(p, q, s):
    t = q * s
    p += t
    return t


def upd2_root(x, y):
    a = x * 1.0
    b = upd2(a, y, 2.0)
    return np.sum(b * a * x)


def upd3(p, q):
    p *= 2.0
    p += q
    return q


def upd3_root(x, y):
    a = x * 1.0
    b = upd3(a, y)
    c = upd3(y * 1.0, a)
    return np.sum(b * a + c * c)


def swap_entries(x):
    y = x * 1.0
    y[0], y[2] = y[2], y[0]
    return np.sum(y * np.arange(1.0, 4.0))


def tuple_write(x):
    y = x * 1.0
    y[0], s = y[1] * 2.0, y[0] * 3.0
    return np.sum(y) * s


def list_swap(x):
    ys = [x * 1.0, x * 2.0, x * 3.0]
    ys[0], ys[2] = ys[2], ys[0]
    return ys[0] * 1.0 + ys[2] * 5.0


def scalar_swap(a, b):
    a, b = b, a * b
    return a * 3.0 + b


def grow(xs, c):
    out = []
    for i in range(len(xs)):
        out.append(xs[i] * xs[i] * c)
    return out


def grow_root(xs):
    ys = grow(xs, 0.5)
    zs = grow(ys, 2.0)
    t = 0.0
    for k in range(len(zs)):
        t = t + zs[k] * (k + 1.0) + ys[k]
    return t


def grow_root_partial(xs):
    ys = grow(xs, 0.5)
    return ys[0] + 3.0 * ys[2]


def grow_mixed(xs, x):
    ys = grow(xs, x)
    zs = grow([x, 2.0 * x], 1.5)
    t = 0.0
    for k in range(len(ys)):
        t = t + ys[k] * zs[k % 2]
    return t


def blend(x, s):
    y = np.exp(x) * s + s * s
    return y * x


def blend_root(x, s):
    return np.sum(blend(x, s)) + np.sum(blend(x * 2.0, 0.5))


def blend_root2(x, s, t):
    return np.sum(blend(x, s) * blend(x, t))


def arr_from_list(x):
    ys = [x, x * 2.0, 3.0]
    t = ys[1] * ys[0]
    a = np.array(ys)
    return np.sum(a * a) + t


def arr_from_list_after(x):
    ys = [x, x * 2.0, 3.0]
    a = np.array(ys)
    t = ys[1] * ys[0]
    return np.sum(a * a) + t


def sum_then_index(x):
    ys = [x, x * 2.0, 3.0]
    s = sum(ys)
    zs = sorted(ys)
    return s * ys[2] + zs[0] * ys[1] + max(ys) * min(zs)


def stack_then_index(x):
    ys = [x, np.sin(x), x * x]
    a = np.stack(ys)
    b = np.concatenate(ys)
    return np.sum(a * a) + np.sum(b) * np.sum(ys[1])


def rhs(u, k):
    return -k * u + u * u * 0.1


def rk4(u, k, dt):
    k1 = rhs(u, k)
    k2 = rhs(u + 0.5 * dt * k1, k)
    k3 = rhs(u + 0.5 * dt * k2, k)
    k4 = rhs(u + dt * k3, k)
    return u + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def integrate(u0, k, n):
    u = u0
    for i in range(n):
        u = rk4(u, k, 0.1)
    return u


def ode_root(x, params):
    a = integrate(params["u0"], params["k"], 5)
    b = integrate(x, params["k"], 5)
    c = integrate(x[0], a, 3)
    return a * np.sum(b * b) + c


def ode_list_root(ks, x):
    total = 0.0
    for j in range(len(ks)):
        u = integrate(x, ks[j], 3)
        total = total + np.sum(u) * ks[j]
    return total


def energy(ps):
    e = 0.0
    for i in range(len(ps)):
        for j in range(i + 1, len(ps)):
            d = ps[i] - ps[j]
            e = e + 1.0 / math.sqrt(d * d + 0.1)
    return e


def energy_root(xs, arr):
    e1 = energy(xs)
    e2 = energy(arr)
    e3 = energy([xs[0], e1, 2.0])
    return e1 * e2 + e3


def c0(a, b):
    return a * b + b


def c1(a, b):
    r = c0(a, b)
    return r * a


def c2(a, b):
    r = c1(b, a)
    return r


def c3(a, b):
    r = c2(a, a * b)
    if a > 0.0:
        r = r + c0(b, 1.0)
    return r


def c4(a, b):
    p = c3(a, b)
    q = c3(b, a)
    return p, q


def c5(a, b):
    p, q = c4(a, b)
    return p


def c6(a, b):
    t = c5(a, b)
    u = c5(b, t)
    return u


def chain_root(x, y):
    s = 0.0
    for i in range(3):
        s = s + c6(x, y) * c2(s, x)
    c4(x, y)
    return s


def chain_arr(x, y):
    v = c6(x, y)
    return np.sum(v * v) + c6(y[0], x[1])


def repeated_list(x, n):
    ys = [x, 2.0 * x] * n
    t = 0.0
    for i in range(len(ys)):
        t = t + ys[i] * ys[i]
    return t



# temporaries inlined into statements the generator built without source positions (a crash of the
# cleanup passes, found by the fuzz campaign; the program as the fuzzer reduced it)
def _fz2(a, s, m):
    if 3 > 0:
        lst1 = []
        for j2 in range(3):
            lst1.append(np.tanh(a))
    else:
        k3 += 1  # noqa: F821
    return 0.3 * np.tanh(a) * np.sin((a - a))


def _fz1(a, s, m):
    if 0 > 0:
        r1 = _fz2((a - a), m=3, s=np.sin(s))
        k2 = 0
        while k2 < 3:
            w3 = np.zeros(5)
            for j4 in range(5):
                w3[j4] = np.sin(r1[j4]) * 0.2 * np.sum(r1)
        s, t5 = t5, s  # noqa: F821
    lst6 = []
    for j7 in range(1):
        lst6.append(np.cos(a))
    return a[1]


def fuzz_positions(x, s):
    s = s + 0.1 * _fz1(x, s, 2)
    lst1 = []
    for j2 in range(2):
        lst1.append(np.sin(x))
    r3 = _fz2((x - x), np.sin(0.2 * np.sum(x)), 2)
    for i4 in range(1):
        if i4 % 2 == 1:
            w5 = np.zeros(5)
            for j6 in range(5):
                w5[j6] = np.sin(r3[j6]) * s
        lst7 = []
        for j8 in range(3):
            lst7.append(np.cos(r3))
    return 0.1 * np.sum(x * np.tanh(x[-5]) * (x - x)) + np.sum(np.sin(0.2 * (x - x))) + x[-3]
