"""Everyday Python around the numerics: `for ... else` and `while ... else` in search loops,
`with` blocks whose context manager does not depend on the differentiated values (np.errstate,
a timer of the user's own, warnings.catch_warnings).

The models are written the way scripts are.  Every gradient is checked against central finite
differences, and against autograd running the same source where autograd can run it, under the
default and the all-split placement; arguments are not changed by the adjoint.
"""

import sys
import time
import warnings

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import assert_not_mutated, check_against_autograd, check_grad, deep_copy_args
from nbadjoint.errors import TransformError
from nbadjoint.transform.program import compile_tree

THIS = sys.modules.get(__name__)
U = np.array([0.3, -0.2, 0.5, 0.1, 0.7])


# -- models: loops with an else block --------------------------------------------------------------

def first_above(u, level):
    """A search loop: scale by the first entry above `level`, or by the last one if none is."""
    total = 0.0
    for i in range(len(u)):
        total = total + u[i] * u[i]
        if u[i] > level:
            scale = u[i]
            break
    else:
        scale = 2.0 * u[-1]
    return total * scale + np.sum(np.sin(u))


def newton_sqrt(a, x0, tol=1e-12, max_iter=50):
    """Newton iterations for sqrt(a) with a fallback when they do not converge in time."""
    x = x0
    k = 0
    while k < max_iter:
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < tol:
            x = x_new
            break
        x = x_new
        k += 1
    else:
        x = x * 1.0001
    return x * x * a


def relax_all(u, c):
    """No break at all: the else block always runs."""
    for v in u:
        c = c * 0.9 + 0.1 * v
    else:
        c = c ** 2
    return c


def nested_search(rows, w):
    """The inner loop's else continues the outer loop; a break in it leaves the outer one."""
    acc = 0.0
    for r in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if rows[r, j] < 0.0:
                acc = acc + w * rows[r, j]
                break
        else:
            acc = acc + np.sum(rows[r] ** 2) * w
            if acc > 5.0:
                break
    else:
        acc = acc * 3.0
    return acc


def search_with_return(u, level):
    """A return inside the loop: the else block must not run then."""
    for x in u:
        if x > level:
            return x * np.sum(u)
    else:
        level = level * 2.0
    return level * np.sum(u * u)


def all_split(f):
    return {site: False for site in compile_tree(f).site_ids}


PLACEMENTS = ["default", "split"]


def placement_of(f, which):
    return None if which == "default" else all_split(f)


def caller_of_first_above(u, level):
    """first_above as a call site, so that the split placement has something to split."""
    return first_above(u, level) + first_above(u * 0.5, level)


def checked(f, args, argnums, which, autograd=True):
    placement = placement_of(f, which)
    before = deep_copy_args(args)
    check_grad(f, args, argnums=argnums, placement=placement)
    assert_not_mutated(before, args)
    if autograd:
        check_against_autograd(THIS, f.__name__, args, argnums=argnums, placement=placement)


# -- for/while ... else ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("level", [0.4, 10.0])        # found (break) / not found (else)
def test_for_else_search_loop(which, level):
    checked(first_above, (U.copy(), level), (0, 1), which)
    checked(caller_of_first_above, (U.copy(), level), (0,), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("max_iter", [50, 2])          # converges (break) / runs out (else)
def test_while_else_newton(which, max_iter):
    checked(newton_sqrt, (2.0, 1.0, 1e-12, max_iter), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_for_else_without_break_always_runs(which):
    checked(relax_all, ([0.2, 0.4, -0.1], 1.5), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("rows", [
    np.array([[0.5, 0.2], [0.3, -0.4], [0.1, 0.2]]),          # inner break in row 1, else in rows 0, 2
    np.array([[3.0, 1.5], [0.3, 0.4], [0.1, 0.2]]),           # a break from the inner else
    np.array([[-0.5, 0.2], [-0.3, 0.4]]),                      # every row breaks: the outer else runs
])
def test_nested_loops_with_else(which, rows):
    checked(nested_search, (rows.copy(), 0.7), (0, 1), which)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("level", [0.4, 10.0])
def test_for_else_with_return_in_the_loop(which, level):
    checked(search_with_return, (U.copy(), level), (0, 1), which)
