"""Models a new user writes with np.inf / np.nan literals (see test_new_user_errors.py)."""

import numpy as np


def running_min(x):
    best = np.inf
    for v in x:
        if v < best:
            best = v
    return best * 2.0


def running_max(x):
    best = -np.inf
    for v in x:
        if v > best:
            best = v
    return best ** 2


def clipped_energy(x):
    return np.sum(np.clip(x, -np.inf, 1.0) ** 2)


def max_norm(x):
    return np.linalg.norm(x, ord=np.inf) * 3.0


NORM_ORDER = np.inf        # a setting at the top of a script
CUBIC_ORDER = 3


def configured_norm(x):
    return np.linalg.norm(x, ord=NORM_ORDER) * 3.0


def cubic_norm(x):
    return np.linalg.norm(x, ord=CUBIC_ORDER)


def positive_part(x):
    y = np.where(x > 0, x, np.nan)
    return np.sum(np.where(np.isnan(y), 0.0, y) ** 3)


def max_abs(x):
    return np.max(np.abs(x)) * 3.0


def inner(u):
    return u - 0.1 * np.sin(u)


def chain(u):
    for _ in range(3):
        u = inner(u)
    return np.sum(u ** 2)


def add_into_int_buffer(x):
    total = np.zeros(2, dtype=np.int64)
    total += x[:2]                  # NumPy refuses the float into the int array
    return np.sum(total * x[:2])


def add_into_int_slice(x):
    counts = np.zeros((2, 3), dtype=int)
    counts[0] += x                  # a row is a view: updated in place, refused likewise
    return np.sum(counts * x)


def add_ints_into_float_buffer(x):
    total = np.zeros(3)
    total += np.arange(3)           # an int into a float array is fine
    total += x * x
    return np.sum(total * x)
