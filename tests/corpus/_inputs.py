"""Deterministic, well-conditioned inputs for the gradient corpus.

Sample points stay away from kinks (abs, max, clip, comparisons) by at least 1e-2, far more than
the finite-difference step, so every corpus function is smooth around its inputs.
"""

import numpy as np


def case(function, args, argnums=0, autograd_ok=True):
    """One CASES row: (function, args factory, argnums, autograd_ok)."""
    return (function, args, argnums, autograd_ok)


def vec(n, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, n)


def mat(m, n, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, (m, n))


def positive(shape, seed):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def separated(n, seed, lo=-1.0, hi=1.0):
    """Distinct values at least (hi - lo) / (2 n) apart, in shuffled order: no ties for max/sort."""
    jitter = np.random.default_rng(seed).uniform(-0.2, 0.2, n) * (hi - lo) / n
    values = np.linspace(lo, hi, n) + jitter
    return np.random.default_rng(seed + 1).permutation(values)


def away_from(n, seed, points, margin=0.05, lo=-1.0, hi=1.0):
    """Uniform samples in [lo, hi] at least ``margin`` away from each of ``points``."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        x = rng.uniform(lo, hi)
        if all(abs(x - p) >= margin for p in points):
            out.append(x)
    return np.array(out)


def spd(n, seed):
    """A well-conditioned matrix: n * I plus a small random perturbation."""
    return n * np.eye(n) + mat(n, n, seed, -0.5, 0.5)
