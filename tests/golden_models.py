"""Models whose generated adjoint code is pinned by golden files in tests/golden/."""
import numpy as np


def step(u, dt):
    v = u * u
    return u - dt * np.sin(v)


def model(u0, n):
    u = u0
    for i in range(n):
        u = step(u, 0.1)
    return np.sum(u)


def branchy(x, a):
    s = 0.0
    for k in range(len(a)):
        if a[k] > 0.0:
            s = s + x * a[k]
        else:
            s = s - np.exp(x)
        if s > 10.0:
            break
    return s * s


def stencil(u):
    un = np.zeros_like(u)
    un[1:-1] = u[1:-1] + 0.1 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    un[0] = un[1]
    return np.sum(un ** 2)
