"""Scalar code (lists of floats) for the tests of the scalar guards; also run under autograd."""
import numpy as np


def ring_rhs(x, c):
    """Tendencies of a ring of values: c times the centred difference, minus a quadratic decay."""
    n = len(x)
    return [c * (x[(i + 1) % n] - x[i - 1]) - 0.5 * x[i] * x[i] for i in range(n)]


def ring_step(x, dt, c):
    k = ring_rhs(x, c)
    return [x[i] + dt * k[i] for i in range(len(x))]


def ring_energy(x):
    total = 0.0
    for xi in x:
        total = total + xi * xi
    return total / len(x)


def ring(x0, c, n_steps):
    x = x0
    for step in range(n_steps):
        x = ring_step(x, 0.05, c)
    return ring_energy(x)


def ring_sum(x0, c):
    """The ring's energy after one step, summed over every entry when the values are arrays."""
    return np.sum(ring(x0, c, 3))


def writes_into_its_list(x, c):
    y = [0.0] * len(x)
    for i in range(len(x)):
        y[i] = c * x[i]
    return y[0] * y[-1]


def appends_an_array(x, c):
    out = []
    for i in range(len(x)):
        out.append(c * x[i] * np.ones(2))
    return np.sum(out[0] * out[-1])


def unpacks_a_pair(p, c):
    a, b = p
    return np.sum(c * a * b - a / b)


def poly(a, b):
    return a * b + a


def uses_poly(x):
    """Calls with literal arguments: the guards of literals are decided when generating."""
    return poly(x, 2) + poly(1.5, 2) * x + poly(x * x, 0.5)


def comp_then_call(x, c):
    """A comprehension reading x, then x passed on: x's adjoint reaches the loop held elsewhere."""
    y = [c * x[i] * x[i] for i in range(len(x))]
    z = ring_rhs(x, c)
    return ring_energy(y) + ring_energy(z)


def partial_use(x, c):
    """Only two entries of the comprehension reach the result: its adjoint has None entries."""
    y = [c * x[i] * x[i] for i in range(len(x))]
    return y[0] * y[-1]
