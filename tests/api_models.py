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


def writes_shared_view(x):
    a = np.ones(4)
    v = a[1:3]
    a[1] = x
    return np.sum(v)


def augmented_float_and_array(x, a):
    s = x
    s += 1.0
    b = a * 2.0
    b += a
    return s * np.sum(b)


def writes_own_parameter(u, g):
    u[0] = u[1] * g
    return None


def boundary_model(u0, g):
    u = u0 * 1.0
    writes_own_parameter(u, g)
    return np.sum(u * u)


def writes_view_of_parameter(a):
    v = a[1:]
    v[0] = 1.0
    return np.sum(a)


def entry_update_in_a_dict(u, x):
    d = {"u": u * 1.0}
    w = d["u"]
    d["u"] += x
    return np.sum(w * w)


def product_and_sine(x, y):
    return np.sum(x * y) + np.sum(np.sin(y))
