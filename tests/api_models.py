"""Small models used by the API tests (a module, so their source is available)."""
import numpy as np

SCALE = 2.0


def square_sum(x):
    return np.sum(x * x)


def weighted(x, w, n):
    total = 0.0
    for i in range(n):
        total = total + w * np.sum(np.sin(x)) * i
    return total


def structured(params):
    a, b = params["pair"]
    return params["scale"] * np.sum(a * b) + np.sum(params["list"][0] ** 2)


def step(u, dt=0.1, *, k=2.0):
    return u - dt * k * np.sin(u)


def model(u0, n):
    u = u0
    for _ in range(n):
        u = step(u, dt=0.05)
        u = step(u)  # nbadjoint: nocheckpoint
    return np.sum(u ** 2)


def uses_global(x):
    return SCALE * np.sum(x)


def make_closure(k):
    def scaled(x):
        return k * np.sum(x ** 3)
    return scaled


def vector_out(x):
    return np.sin(x)
