"""Models with time loops, for tests/test_loop_checkpoint.py (line numbers matter: loop ids are
``caller:lineno:for``; find them with ``nba.loops``)."""

import math

import numpy as np


def burgers(u0, nu, n, dt=0.002, dx=0.05):
    u = u0
    for t in range(n):
        flux = 0.5 * u * u
        advective = (np.roll(flux, -1) - np.roll(flux, 1)) / (2.0 * dx)
        diffusive = nu * (np.roll(u, -1) - 2.0 * u + np.roll(u, 1)) / (dx * dx)
        u = u + dt * (diffusive - advective)
    return np.sum(u * u) + np.sum(flux)          # flux: a temporary of the last iteration


def burgers_commented(u0, nu, n):
    u = u0
    for t in range(n):  # nbadjoint: snapshots=3
        u = u + 0.002 * (nu * (np.roll(u, -1) - 2.0 * u + np.roll(u, 1)) - 0.5 * u * np.roll(u, 1))
    return np.sum(u * u)


def flux(u):
    return 0.5 * u * u + 0.1 * np.sin(u)


def rhs(u, k):
    return -(np.roll(flux(u), -1) - np.roll(flux(u), 1)) * k


def runge_kutta(u0, k, n, dt=0.01):
    u = u0
    for t in range(n):
        k1 = rhs(u, k)
        k2 = rhs(u + 0.5 * dt * k1, k)
        u = u + dt * k2
    return np.sum(u ** 2)


def lorenz_list(x, n, dt=0.01):
    s = [x[0], x[1], x[2]]
    for i in range(n):
        s = [s[0] + dt * 10.0 * (s[1] - s[0]),
             s[1] + dt * (s[0] * (28.0 - s[2]) - s[1]),
             s[2] + dt * (s[0] * s[1] - 8.0 / 3.0 * s[2])]
    return s[0] * s[0] + math.sin(s[1]) + s[2]


def oscillator(u0, v0, n):
    state = (u0, v0)
    for k in range(n):
        u, v = state
        state = (u + 0.1 * v, v - 0.1 * np.sin(u))
    u, v = state
    return np.sum(u * v) + np.sum(u)


def diffuse_in_place(u0, c, n):
    u = u0.copy()
    for t in range(n):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = u[1]
        u[-1] = u[-2]
    return np.sum(u ** 3)


def writes_its_argument(u, n):
    for t in range(n):
        u[1:] += 0.1 * np.sin(u[:-1])
    return np.sum(u ** 2)


def raises_at(u0, n, k):
    u = u0
    for t in range(n):
        u = np.sin(u) + u
        if t == k:
            raise ValueError("boom at step k")
    return np.sum(u)


def interrupted_at(u0, n, k):
    u = u0
    for t in range(n):
        u = np.sin(u) + u
        if t == k:
            raise KeyboardInterrupt
    return np.sum(u)


def with_break(u0, n):
    u = u0
    for t in range(n):
        u = np.sin(u)
        if np.max(u) > 10.0:
            break
    return np.sum(u)


def with_continue(u0, n):
    u = u0
    for t in range(n):
        if t % 2:
            continue
        u = np.sin(u)
    return np.sum(u)


def nested(u0, n):
    u = u0
    for i in range(2):
        for t in range(n):
            u = np.sin(u)
    return np.sum(u)


def reads_loop_variable(u0, n):
    u = u0
    for t in range(n):
        u = np.sin(u) * t
    return np.sum(u) + t


def empty_loop(u0, n):
    u = u0 * 2.0
    for t in range(n):
        u = np.sin(u)
    return np.sum(u * u)


def inner(u, n):
    for t in range(n):
        u = np.sin(u) + 0.5 * u
    return u


def additive_caller(u0, w0, n):
    w = w0.copy()
    r = inner_add(u0, w, n)
    w[:] = 100.0
    return np.sum(r * r) + np.sum(w)


def inner_add(u, w, n):
    for t in range(n):
        u = np.sin(u) + w
    return u


def many_calls(x, n):
    for k in range(3):
        x = inner(x, n) * 0.7
    return np.sum(x * x)


def stepped(x, a, b):
    u = x
    acc = 0.0
    for t in range(a, b, 3):
        u = np.cos(u) * t + u
        acc = acc + np.sum(u) * 0.01
    return np.sum(u) + acc


def scalars(a, b, n):
    x = a
    y = b
    for i in range(n):
        x, y = x + 0.01 * y * math.sin(x), y - 0.01 * x
    return x * y


def dict_state(x, n):
    d = {"u": x, "v": 2.0 * x}
    for t in range(n):
        d = {"u": d["u"] + 0.1 * np.sin(d["v"]), "v": d["v"] * 0.95 + 0.05 * d["u"]}
    return np.sum(d["u"] * d["v"])


def bc(u):
    u[0] = u[-2]
    u[-1] = u[1]


def with_bc(x, n):
    u = x.copy()
    for t in range(n):
        u[1:-1] = u[1:-1] + 0.1 * (u[2:] - 2 * u[1:-1] + u[:-2]) + 0.05 * u[1:-1] ** 2
        bc(u)
    return np.sum(u ** 2)


def branchy(x, n):
    u = x
    for t in range(n):
        if t % 3 == 0:
            u = np.sin(u) + u
        else:
            u = u * 0.9
        if np.sum(u) > 100.0:
            u = u / 10.0
    return np.sum(u ** 2)


def over_rows(a):
    total = 0.0
    for row in a:
        total = total + np.sum(np.sin(row))
    return total


def commented_two_levels(u0, n):
    u = u0
    for t in range(n):  # nbadjoint: snapshots=2, disk=3
        u = np.sin(u) + 0.5 * u
    return np.sum(u * u)


def early_return(u0, n):
    if n < 0:
        return 0.0
    u = u0
    for t in range(n):
        u = np.sin(u) + 0.5 * u
    return np.sum(u * u)


def in_a_branch(u0, n, implicit):
    scale = 2.0
    if implicit:
        u = u0 * scale
        for t in range(n):
            u = u - 0.1 * np.tanh(u)
        extra = np.sum(u)
    else:
        u = u0
        extra = 0.0
    return np.sum(u * u) + extra


def in_a_with_block(u0, n):
    u = u0
    with np.errstate(over="ignore"):
        for t in range(n):
            u = np.sin(u) + 0.5 * u
    return np.sum(u * u)


def nested_in_while(u0, n):
    u = u0
    k = 0
    while k < 2:
        for t in range(n):
            u = np.sin(u)
        k += 1
    return np.sum(u)


def commented_with_calls(u0, k, n):
    u = u0
    for t in range(n):  # nbadjoint: snapshots=4
        u = u + 0.01 * rhs(u, k)
    return np.sum(u * u)


def alias_inside(x, n):
    u = x.copy()
    v = x.copy()
    for t in range(n):
        u[1:] = u[1:] * 0.9 + np.sin(v[:-1]) * 0.1
        v = u
    return np.sum(u * u)


def view_inside(x, n):
    u = x.copy()
    v = x.copy()
    for t in range(n):
        u[1:] = u[1:] * 0.9 + np.sin(v[:-1]) * 0.1
        v = u[:]
    return np.sum(u * u)


def aliased_before(x, n):
    u = x.copy()
    v = u
    for t in range(n):
        u[1:] = u[1:] * 0.9 + np.sin(v[:-1]) * 0.1
    return np.sum(u * u) + np.sum(v)


def alias_outside(x, n):
    u = x.copy()
    w = u
    for t in range(n):
        u[1:] = u[1:] * 0.9 + np.sin(u[:-1]) * 0.1
    return np.sum(u * u) + np.sum(w * w)
