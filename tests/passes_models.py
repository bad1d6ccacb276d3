"""Small call trees for the unit tests of the liveness solve (tests/test_passes.py)."""
import numpy as np


def square(x):
    return x * x


def used_everywhere(x):
    a = square(x)
    b = square(a)
    return a + b


def discard(x):
    return x * 2.0


def discarded_somewhere(x):
    discard(x)
    y = discard(x)
    return y * 3.0


def discard_noting(x, notes):
    notes[0] = x[0]
    return x * 2.0


def discarded_noting(x):
    notes = np.zeros(1)
    discard_noting(x, notes)
    y = discard_noting(x, notes)
    return y * 3.0 + notes


def one_branch(x, y):
    if x > 0.0:
        return x * y
    return x * 2.0


def calls_one_branch(x, y):
    z = one_branch(x, y)
    return z + y


def inner(x):
    return np.sin(x)


def middle(x):
    return inner(x) * 2.0


def chain(x):
    return middle(x) + middle(x * x)


def gate(x, s):
    y = s * 1.0
    if s > 0.0:
        y = x * 3.0
    return y


def gated(x):
    return gate(x, x) + x


def drops_middle(x):
    middle(x)
    return middle(x) * x


def root_only_discards(x):
    square(x)
    return x * 2.0


# the same, with callees that write into an argument (so a discarded call is still reversed)
def inner_noting(x, notes):
    notes[0] = x[0]
    return np.sin(x)


def middle_noting(x, notes):
    return inner_noting(x, notes) * 2.0


def drops_middle_noting(x):
    notes = np.zeros(1)
    middle_noting(x, notes)
    return middle_noting(x, notes) * x + notes


def root_only_discards_noting(x):
    notes = np.zeros(1)
    inner_noting(x, notes)
    return x * 2.0 + notes


def planned(x, k):
    y = x * k
    z = np.sin(y)
    w = y + 1.0
    c = k * 2.0
    s = square(w)
    return z * s + c


def self_update(x):
    x = np.sin(x)
    return x * 2.0
