"""Models that fall into traps (tests/test_traps.py): writes through an index that is not one
entry, library calls that write into the caller's arrays, calls made only to print, arrays
returned out of containers, generators passed through default_rng."""
import heapq
import operator

import numpy as np

G = np.ones(3)


def scatter(x, idx):
    T = np.zeros(3)
    T[idx] = x[0] * x[1]            # idx may be a list of indices or a slice
    T[0] = T[0] + x[1]
    return T[0] * T[1] + T[2]


def clamp_first(a):
    np.put(a, [0], [0.0])
    return 0


def uses_clamp(x):
    y = x * 1.5
    clamp_first(y)
    return np.sum(y * x)


def copies_into_global(x):
    np.copyto(G, x * 2.0)
    return np.sum(G * x)


def push(L, v):
    heapq.heappush(L, v)


def uses_push(x):
    L = [x[0]]
    push(L, x[1] * 2.0)
    return L[0] * L[1]


def zero_first(a):
    operator.setitem(a, 0, 0.0)


def uses_zero_first(x):
    y = x * 1.5
    zero_first(y)
    return np.sum(y * x)


def energy(u):
    return 0.5 * np.sum(u * u)


def prints_energy(x, verbose=False):
    u = x - 0.1 * np.sin(x)
    print("energy", energy(u))
    msg = f"E = {energy(u):.3f}"
    if verbose:
        print(msg)
    return np.sum(u ** 2)


def first(pair):
    return pair[0]


def writes_into_a_returned_entry(x):
    y = x * 1.5
    z = first([y, x])
    z[0] = 0.0
    return np.sum(y * x)


def noise(u, rng):
    r = np.random.default_rng(rng)          # a seed or a Generator, as libraries accept
    return u + 0.1 * r.standard_normal(u.shape) * u


def noisy(u0, rng):
    u = u0
    for k in range(3):
        u = noise(u, rng)
    return np.sum(u ** 2)


def negative_scale(s, rng):
    return np.sum(rng.normal(1.0, s, 3) ** 2)


def drawn_with(x, rng):
    return np.sum(np.sin(x) * rng.standard_normal(3))


def drawn_globally(x):
    return np.sum(np.sin(x) * np.random.standard_normal(3))


def writes_the_entry_of_a_0d_array(x):
    T = np.zeros(())
    T[()] = x[0] * x[1]
    return T * x[2]


def reads_the_entry_of_a_0d_array(x):
    a = np.asarray(x[0] * x[1])
    return a[()] * x[2]


def list_slice_written(x):
    L = [x[0], x[2]]
    L[:1] = [x[1] * x[1]]
    return L[0] * x[2] + L[1]


def list_slice_grows(x):
    L = [x[0], x[2]]
    L[:1] = [x[1], x[1] * x[1]]
    return L[0] * x[2] + L[1]


def namedtuple_cost(s):
    T, S = s
    return np.sum(T * T) * S


def noisy_loop(x, rng, n):
    u = x
    for step in range(n):
        z = rng.standard_normal(u.shape)
        u = u + 0.1 * np.sin(u) + 0.01 * z * u
    return np.sum(u * u)


def unseeded_helper(u):
    r = np.random.default_rng()
    return u + 0.1 * r.standard_normal(u.shape) * u


def draws_then_refused(u0, rng):
    u = u0 + rng.normal(0.0, 0.1, u0.shape) * u0
    u = unseeded_helper(u)
    return np.sum(u ** 2)


def clamps_its_own_sine(x):
    y = np.sin(x)
    np.put(y, [0], [0.0])           # y is the function's own array, and reaches the result
    return np.sum(y * x)


def clamps_an_unused_sine(x):
    y = np.sin(x)
    np.put(y, [0], [0.0])           # y is the function's own array, and is never used again
    return np.sum(x * x)
