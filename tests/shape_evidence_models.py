"""Models for the shape evidence across a call tree (tests/test_shapes.py): arrays known from what
callees do with them, results of calls that return arrays, and module-level numbers."""
import numpy as np

DT = 0.05                 # module-level numbers: scalars to the shape analysis
N_SMOOTH = 2


def step(u, k):
    return u + DT * k * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))


def misfit(u, u_obs):
    d = u - u_obs
    return 0.5 * np.mean(d * d)


def run(u0, u_obs, k):
    u = u0
    for _ in range(3):
        u = step(u, k)
    return misfit(u, u_obs)


def tendency(q, u):
    u_face = 0.5 * (u + np.roll(u, 1))
    return -(u_face * (np.roll(q, -1) - np.roll(q, 1))) / (2.0 * DT)


def smoothing(q):
    return np.roll(q, 1) + np.roll(q, -1) - 2.0 * q


def both(q, u, forcing):
    return tendency(q, u) + smoothing(q) * N_SMOOTH + forcing


def run_both(q, u, forcing):
    return np.sum(both(q, u, forcing) ** 2)
