"""The reference-count trick, in its one place (nbadjoint/runtime/tape.py: REFS_HELD_ONCE): an adjoint
is changed in place only when nothing but one name refers to it. Checked on the Python running the
tests, whatever its version counts."""
import sys

import numpy as np

import nbadjoint as nba
from nbadjoint.runtime import tape as rt


def test_a_list_held_by_one_name_is_sole_and_by_two_is_not():
    x = [1.0, 2.0]
    assert rt.sole_list(x)
    y = x
    assert not rt.sole_list(x) and not rt.sole_list(y)
    assert not rt.sole_list((1.0, 2.0)) and not rt.sole_list(None)


def test_the_calibration_matches_this_python():
    def helper(value):
        return sys.getrefcount(value)
    held = object()
    assert helper(held) == rt.REFS_HELD_ONCE


def test_add_accumulates_in_place_only_into_an_array_nothing_else_holds():
    a = np.ones(3)
    alias = a
    out = rt.add(a, np.ones(3))
    assert out is not alias and np.all(alias == 1.0)          # shared: a new array
    b = np.ones(3)
    out = rt.add(b, np.ones(3))
    del b
    assert np.all(out == 2.0)


def test_own_list_copies_a_shared_list_and_keeps_a_sole_one():
    shared = [1.0, 2.0]
    keep = shared
    assert rt.own_list(shared, [0, 0]) is not keep
    assert rt.own_list(None, [0, 0, 0]) == [None, None, None]


def _list_model(x):
    y = [x[0] * 2.0, x[1] * 3.0]
    z = y
    return z[0] * y[1] + y[0] * z[0]


def test_gradients_through_shared_list_adjoints_are_right():
    # y and z are one list: its adjoint is written at index reads and must not be changed behind a second name
    g = nba.grad(_list_model)([0.5, -1.5])
    x0, x1 = 0.5, -1.5
    assert np.allclose(g, [2.0 * 3.0 * x1 + 2 * 4.0 * x0 * 2.0 / 2.0, 2.0 * x0 * 3.0])
