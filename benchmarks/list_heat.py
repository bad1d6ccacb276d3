"""Heat equation on Python lists of floats, written as in a first numerics course.

A rod of n cells with fixed-temperature ends, explicit finite differences, the state a list of
floats updated cell by cell. The cost is the squared misfit of the final profile to a target.
"""
import math


def step(T, r):
    """One explicit step: a new list, its ends kept, each inner cell from its neighbours."""
    n = len(T)
    new = [0.0] * n
    new[0] = T[0]
    new[n - 1] = T[n - 1]
    for i in range(1, n - 1):
        new[i] = T[i] + r * (T[i + 1] - 2.0 * T[i] + T[i - 1])
    return new


def heat(T, r, target, n_steps):
    """Misfit of the profile after n_steps to the target profile."""
    for _ in range(n_steps):
        T = step(T, r)
    misfit = 0.0
    for i in range(len(T)):
        misfit += (T[i] - target[i]) ** 2
    return 0.5 * misfit


def default_args(n_cells=200, n_steps=300):
    T0 = [math.exp(-((i / n_cells - 0.4) / 0.1) ** 2) for i in range(n_cells)]
    target = [0.8 * math.exp(-((i / n_cells - 0.5) / 0.15) ** 2) for i in range(n_cells)]
    return (T0, 0.3, target, n_steps)
