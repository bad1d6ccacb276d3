"""Silent wrong gradients through calls and writes (issue 9, section 1): arguments that share
memory with one a function writes into, repeated fancy indices in writes, names rebound to
functions of their own old value, alias checks in loops, and user arrays left as they were when
an AliasError is raised (grad, value_and_grad, vjp, profile)."""

import atexit
import copy
import hashlib
import importlib.util
import itertools
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import nbadjoint as nba
import silent_calls_models as m
from gradcheck import assert_bitwise_equal, assert_not_mutated, check_against_autograd, check_grad

X = np.array([1.0, 2.0])
X4 = np.array([1.0, 2.0, 3.0, 4.0])
M23 = np.arange(6.0).reshape(2, 3) * 0.3 + 0.1


def placements(f):
    sites = nba.call_sites(f)
    for bits in itertools.product((True, False), repeat=len(sites)):
        yield dict(zip(sites, bits))


def check_everywhere(f, args, argnums=0, autograd=False):
    """Gradient against finite differences (and autograd), the same bits under every placement,
    and the arguments left as they were."""
    before = copy.deepcopy(args)
    reference = check_grad(f, args, argnums)
    if autograd:
        check_against_autograd(m, f.__name__, args, argnums)
    for placement in placements(f):
        got = nba.grad(f, argnums, placement=placement)(*args)
        assert_bitwise_equal(got, reference, f"gradient of {f.__name__} under {placement}")
    assert_not_mutated(before, args)
    return reference


def refused_everywhere(f, args, *words):
    """AliasError under every placement, whose message holds ``words``; arguments unchanged."""
    before = copy.deepcopy(args)
    for placement in placements(f):
        with pytest.raises(nba.AliasError) as info:
            nba.grad(f, placement=placement)(*args)
        for word in words:
            assert word in str(info.value), f"{word!r} not in {info.value}"
        assert_not_mutated(before, args)
    return info.value


# --------------------------------------------------------------------------- 1. overlapping arguments

@pytest.mark.parametrize("f", [m.same_array_twice, m.array_and_its_reverse, m.tail_and_whole])
def test_callee_writing_one_of_two_overlapping_arguments_is_refused_at_the_call(f):
    err = refused_everywhere(f, (X4.copy(),), "scale_first() writes into its parameter `a`",
                             "`a` and `b` share memory", "silent_calls_models.py", f"in {f.__name__}()")
    assert "return scale_first(" in str(err)


def test_refusal_comes_from_nested_callee_and_loop_iteration():
    refused_everywhere(m.nested_writer_same_array, (X.copy(),), "bump_then_sum() writes into its parameter `a`")
    refused_everywhere(m.overlap_in_a_loop, (X.copy(), 3), "scale_first() writes")
    refused_everywhere(m.list_passed_twice, (X.copy(),), "append_and_sum() writes into its parameter `acc`")


def test_interleaved_slices_share_no_memory_and_are_differentiated():
    g = check_everywhere(m.even_and_odd_entries, (X4.copy(),))
    # a = [x0, x2], b = [x1, x3]; a[0] = 2 x3; sum(a * b) = 2 x3 x1 + x2 x3
    np.testing.assert_allclose(g, [0.0, 2 * 4.0, 4.0, 2 * 2.0 + 3.0], rtol=1e-12)


def test_same_array_read_only_before_the_write_is_differentiated():
    check_everywhere(m.fill_from_itself, (X.copy(), 0.7), (0, 1))


def test_root_called_with_one_array_for_two_parameters():
    x = X.copy()
    with pytest.raises(nba.AliasError, match=r"root_writes_first\(\) writes into its parameter `a`.*share memory"):
        nba.value_and_grad(m.root_writes_first, argnums=(0, 1))(x, x)
    with pytest.raises(nba.AliasError, match="share memory"):
        nba.vjp(m.root_writes_first, x, x)
    with pytest.raises(nba.AliasError, match="share memory"):
        nba.grad(m.root_writes_first)(x, x[::-1])
    assert np.array_equal(x, X)
    # separate arrays are fine
    check_grad(m.root_writes_first, (X.copy(), X.copy()), (0, 1))


def test_root_reading_the_other_parameter_only_before_its_write_accepts_one_array_twice():
    x = X.copy()
    value, grads = nba.value_and_grad(m.root_fills_first, argnums=(0, 1))(x, x)
    assert value == m.root_fills_first(X.copy(), X.copy())
    assert np.array_equal(x, X)
    np.testing.assert_array_equal(grads[0], [0.0, 0.0])
    np.testing.assert_allclose(grads[1], 8.0 * X, rtol=1e-12)


# --------------------------------------------------------------------------- 2. repeated fancy indices

def test_augmented_write_at_a_repeated_index_adds_once():
    g = check_everywhere(m.add_twice_at_zero, (X.copy(),))
    # a = [u0 + u1, u1]: d sum(a^2) = [2 (u0 + u1), 2 (u0 + u1) + 2 u1]
    np.testing.assert_allclose(g, [6.0, 10.0], rtol=1e-12)


def test_assignment_with_repeated_indices_routes_the_adjoint_to_the_last_writer():
    gu, gv = check_everywhere(m.last_write_wins, (X4.copy(), np.array([5.0, 6.0, 7.0])), (0, 1))
    assert gv[0] == 0.0
    np.testing.assert_allclose(gv[1:], [2 * 6.0 * 2.0, 2 * 7.0 * 3.0], rtol=1e-12)


@pytest.mark.parametrize("f, args, argnums", [
    (m.multiply_at_repeated_array_index, (X4,), 0),
    (m.scalar_to_repeated_places, (X4, 0.3), (0, 1)),
    (m.repeated_columns, (M23, np.array([1.0, 2.0, 3.0])), (0, 1)),
    (m.repeated_pairs, (M23, np.array([1.0, 2.0, 3.0])), (0, 1)),
    (m.masked_write, (X4, 0.5), (0, 1)),
    (m.repeated_writes_in_a_loop, (X4, 3), 0),
    (m.repeated_writes_in_a_callee, (X4,), 0),
], ids=lambda v: getattr(v, "__name__", ""))
def test_repeated_index_writes(f, args, argnums):
    check_everywhere(f, copy.deepcopy(args), argnums)


def last_writers(shape, index):
    """Reference: True where an entry of x[index] is the last to write its place."""
    places = np.arange(int(np.prod(shape))).reshape(shape)[index]
    flat, seen = places.ravel(), set()
    keep = np.zeros(flat.size, dtype=bool)
    for k in range(flat.size - 1, -1, -1):
        keep[k] = flat[k] not in seen
        seen.add(flat[k])
    return keep.reshape(places.shape)


def test_setitem_adjoint_keeps_only_the_last_writer_of_each_place():
    from nbadjoint.runtime import tape
    rng = np.random.default_rng(0)
    for _ in range(500):
        shape = tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(1, 4)))
        n0, k = shape[0], int(rng.integers(0, 6))
        indices = [list(rng.integers(-n0, n0, size=k)), rng.integers(-n0, n0, size=(2, 2)),
                   rng.random(shape) > 0.5, [int(i) for i in rng.integers(0, n0, size=k)]]
        if len(shape) > 1:
            indices += [(slice(None), list(rng.integers(0, shape[1], size=k))),
                        (rng.integers(0, n0, size=k), rng.integers(0, shape[1], size=k))]
        for index in indices:
            x_b = rng.random(shape) + 1.0
            part, rest = tape.setitem_b(x_b.copy(), index)
            assert np.array_equal(part, np.where(last_writers(shape, index), x_b[index], 0.0)), (shape, index)
            assert not rest[index].any()


# --------------------------------------------------------------------------- 3. rebinding

@pytest.mark.parametrize("f, args", [
    (m.sum_then_square, (X,)),
    (m.sum_then_scale, (X,)),
    (m.cumsum_sum_square, (X,)),
    (m.mean_then_augmented, (X,)),
    (m.rebind_in_loop, (X, 3)),
    (m.rebind_in_branches, (X, True)),
    (m.rebind_in_branches, (X, False)),
    (m.method_reduction, (X,)),
    (m.loop_of_cumsums, (X, 2)),
    (m.reshape_then_sum, (X,)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_name_rebound_to_a_reduction_of_itself(f, args):
    check_everywhere(f, copy.deepcopy(args), autograd=True)


@pytest.mark.parametrize("f, args", [
    (m.drop_first, (X4,)),
    (m.every_other_then_sum, (X4,)),
    (m.reshape_then_row, (X4,)),
    (m.drop_first_in_a_loop, (X4, 2)),
    (m.pick_repeated, (X4,)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_name_rebound_to_an_entry_or_slice_of_itself(f, args):
    check_everywhere(f, copy.deepcopy(args), autograd=True)


def test_generated_code_names_no_placeholder():
    assert "_OLD" not in nba.adjoint_source(m.sum_then_scale)
    assert nba.grad(m.sum_then_square)(X).tolist() == [6.0, 6.0]


# --------------------------------------------------------------------------- 4. alias checks in loops

def test_alias_check_at_a_call_does_not_read_the_name_the_call_assigns():
    g = check_everywhere(m.callee_result_in_a_loop, (np.array([1.0, 2.0, 3.0]),))
    np.testing.assert_allclose(g, [0.5 + 0.25 + 0.125, 3.0, 3.0], rtol=1e-12)
    check_everywhere(m.callee_result_squared_in_a_loop, (np.array([1.0, 2.0, 3.0]),))


def test_alias_check_against_a_name_bound_in_a_later_iteration():
    check_everywhere(m.view_kept_from_first_pass, (np.array([1.0, 2.0, 3.0]), 1))
    with pytest.raises(nba.AliasError, match="writing into `x` also changes `w`"):
        nba.grad(m.view_kept_from_first_pass)(np.array([1.0, 2.0, 3.0]), 3)


def test_view_read_after_a_callee_writes_its_base_is_refused():
    refused_everywhere(m.view_read_after_callee_write, (np.array([1.0, 2.0, 3.0]),),
                       "writing into `x` also changes `y`")


# --------------------------------------------------------------------------- 5. user arrays untouched

@pytest.mark.parametrize("f", [m.write_through_view, m.calls_view_writer, m.calls_view_writer_on_part])
def test_alias_error_leaves_the_arguments_as_they_were(f):
    for placement in placements(f):
        for run in (lambda u: nba.grad(f, placement=placement)(u),
                    lambda u: nba.value_and_grad(f, placement=placement)(u),
                    lambda u: nba.vjp(f, u, placement=placement)[1](1.0)):
            u = X4.copy()
            with pytest.raises(nba.AliasError, match="writing into `v` also changes `u`"):
                run(u)
            assert np.array_equal(u, X4)


@pytest.mark.parametrize("f", [m.write_through_view, m.calls_view_writer])
def test_profile_raises_alias_error_without_touching_the_argument(f):
    u = X4.copy()
    with pytest.raises(nba.AliasError, match="writing into `v` also changes `u`"):
        nba.profile(f, u)
    assert np.array_equal(u, X4)


def test_adjoint_profile_magic_leaves_the_argument_as_it_was():
    from IPython.core.interactiveshell import InteractiveShell
    from nbadjoint.notebook.magics import load_ipython_extension
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.user_ns["np"] = np
    shell.user_ns["u_alias"] = X4.copy()
    cell = ("def tail_writer(u):\n    v = u[1:]\n    v[0] = 10.0\n    return np.sum(v * v)\n"
            "tail_writer(u_alias)\n")
    try:
        shell.run_cell_magic("adjoint_profile", "", cell)
    except nba.AliasError:
        pass
    assert np.array_equal(shell.user_ns["u_alias"], X4)
    for name in ("u_alias", "tail_writer"):
        shell.user_ns.pop(name, None)


# --------------------------------------------------------------------------- siblings

def test_argument_read_again_when_the_backward_sweep_starts_must_not_overlap_the_written_one():
    # t = b * 0.5 is recomputed at the start of the backward sweep, after the write into a
    refused_everywhere(m.fill_with_half_of_itself, (X4.copy(),), "half_then_fill() writes into its parameter `a`")


def test_augmented_write_with_the_same_array_as_operand():
    refused_everywhere(m.accumulate_into_itself, (X4.copy(),), "accumulate() writes into its parameter `a`")
    refused_everywhere(m.keywords_reversed, (X4.copy(),), "accumulate() writes into its parameter `a`")
    g = check_everywhere(m.accumulate_squared_into_itself, (X4.copy(),))
    np.testing.assert_allclose(g, 8.0 * X4, rtol=1e-12)


def test_negative_index_naming_the_same_place_twice():
    check_everywhere(m.negative_duplicate_index, (X4.copy(),))


def test_index_recomputed_in_the_reversed_loop_is_not_read_after_the_loop_writes_it():
    check_everywhere(m.index_array_updated_in_the_loop, (np.arange(1.0, 6.0),))


def test_callee_writing_into_a_global_is_refused_before_running():
    before = m.W.copy()
    with pytest.raises(nba.TransformError, match=r"argument `W` is a global"):
        nba.grad(m.writes_into_a_global)(X4.copy())
    assert np.array_equal(m.W, before)


def test_overlap_refused_when_the_write_happens_calls_below():
    x = X.copy()
    for f in (m.passes_both_on, m.passes_both_on_twice):
        with pytest.raises(nba.AliasError, match=rf"{f.__name__}\(\) writes into its parameter `a`.*share memory"):
            nba.grad(f)(x, x)
        assert np.array_equal(x, X)
        check_grad(f, (X.copy(), X.copy()), (0, 1))
    err = refused_everywhere(m.root_passing_one_array_down, (X.copy(),),
                             "passes_both_on_twice() writes into its parameter `a`")
    assert "return passes_both_on_twice(y, y)" in str(err)


@pytest.mark.parametrize("f", [m.write_through_view_of_global, m.calls_global_view_writer,
                               m.write_into_returned_global], ids=lambda f: f.__name__)
def test_write_reaching_a_module_array_is_refused_before_it_happens(f):
    before = m.GRID.copy()
    for placement in placements(f):
        for run in (lambda: nba.grad(f, placement=placement)(np.ones(3)),
                    lambda: nba.profile(f, np.ones(3), placement=placement)):
            with pytest.raises(nba.AliasError, match="also changes the module or closure array `GRID`"):
                run()
            assert np.array_equal(m.GRID, before)


def test_write_into_a_fresh_array_computed_from_a_module_array_is_differentiated():
    check_everywhere(m.write_into_fresh_array_from_global, (np.array([0.5, 1.5, 2.5]),))


# --------------------------------------------------------------------------- random programs

N = 6
SETTINGS = dict(max_examples=40, deadline=None, derandomize=True, database=None,
                phases=(Phase.explicit, Phase.generate), suppress_health_check=[HealthCheck.too_slow])
MODULE_DIR = Path(tempfile.mkdtemp(prefix="nbadjoint_silent_calls_"))
atexit.register(shutil.rmtree, MODULE_DIR, ignore_errors=True)


def load(source):
    name = "silent_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    if name not in sys.modules:
        path = MODULE_DIR / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@st.composite
def index_write_programs(draw):
    """A write at a fancy index with repeated places (=, += or *=), maybe in a loop or a callee."""
    idx = draw(st.lists(st.integers(-N, N - 1), min_size=1, max_size=N))
    op = draw(st.sampled_from(["=", "+=", "*="]))
    k = len(idx)
    start = draw(st.integers(0, N - k))
    rhs = draw(st.sampled_from([f"s * u[{start}]", f"u[{start}:{start + k}] * s", "np.sin(s)"]))
    index = draw(st.sampled_from([repr(idx), f"np.array({idx!r})"]))
    write = f"a[{index}] {op} {rhs}"
    place = draw(st.sampled_from(["main", "loop", "callee"]))
    lines = ["import numpy as np", ""]
    if place == "callee":
        lines += ["def write(a, u, s):", f"    {write}", "    return np.sum(a)", ""]
        write = "t = write(a, u, s)"
    lines += ["def main(u, s):", "    a = u * 0.5"]
    if place == "loop":
        lines += ["    for i in range(2):", f"        {write}", "        a = a * 0.9"]
    else:
        lines += [f"    {write}"]
    lines += ["    return np.sum(a * a * u)", ""]
    return "\n".join(lines)


ARGUMENTS = {"y, y": True, "y, y[::-1]": True, "y[1:], y[:-1]": True, "y[:-1], y": True,
             "y[::2], y[1::2]": False, "y, y * 1.0": False}
READS = ["t = t + np.sum(b * b)", "t = t + b[0] * b[-1]"]
WRITES = ["a[0] = a[-1] * 0.5 + t", "a *= 0.9", "a[:] = np.sin(a)", "a[1:] = a[:-1] * 0.7"]


@st.composite
def overlap_programs(draw):
    """A callee writing into `a` and reading `b`, in a random order, called with arguments that may
    share memory; returns (source, whether `b` is read after a write into `a`)."""
    body = draw(st.lists(st.sampled_from(READS + WRITES), min_size=1, max_size=4))
    ret = draw(st.sampled_from(["t + np.sum(a * a)", "t + np.sum(a) * b[0]"]))
    args = draw(st.sampled_from(sorted(ARGUMENTS)))
    first_write = next((k for k, line in enumerate(body) if line in WRITES), None)
    read_after = first_write is not None and (
        "b" in ret or any(line in READS for line in body[first_write:]))
    source = "\n".join(["import numpy as np", "", "def callee(a, b):", "    t = 0.0"]
                       + [f"    {line}" for line in body]
                       + [f"    return {ret}", "", "def main(u, s):", "    y = u * s",
                          "    base = np.sum(y * y)", f"    return callee({args}) + base", ""])
    return source, ARGUMENTS[args] and read_after


def inputs():
    return np.linspace(0.3, 1.1, N), 0.7


@settings(**SETTINGS)
@given(index_write_programs())
def test_random_writes_at_repeated_indices(source):
    note(source)
    module = load(source)
    u, s = inputs()
    check_everywhere(module.main, (u, s), (0, 1))


@settings(**SETTINGS)
@given(overlap_programs())
def test_random_calls_with_overlapping_arguments(program):
    source, refused = program
    note(source)
    module = load(source)
    u, s = inputs()
    if refused:
        refused_everywhere(module.main, (u, s), "callee() writes into its parameter `a`", "share memory")
    else:
        check_everywhere(module.main, (u, s), (0, 1))


# --------------------------------------------------------------------------- fuzz findings B13-B17

V5 = np.array([0.3, -0.7, 0.5, 0.9, -0.2])


@pytest.mark.parametrize("f", [m.push_onto_fresh_list, m.bump_fresh_dict])
def test_callee_writing_into_an_array_its_container_argument_holds(f):
    # a checkpointed call must restore the contents of the arrays in the list or dict, too
    check_everywhere(f, (V5.copy(), 0.4), argnums=(0, 1))


def test_callee_writing_into_the_callers_argument_through_a_list_is_refused():
    refused_everywhere(m.push_onto_list_holding_x, (V5.copy(), 0.4),
                       "push() writes into the arrays held in `acc`", "the argument `x` of")


def test_callee_writing_into_an_array_another_live_name_holds_is_refused():
    refused_everywhere(m.push_onto_list_holding_live_y, (V5.copy(), 0.4),
                       "push() writes into the arrays held in `acc`", "`y`", "used afterwards")


def test_callee_writing_into_its_list_arguments_arrays_after_copying_the_list_is_refused():
    refused_everywhere(m.calls_extend_then_push, (V5.copy(), 0.4),
                       "writing into `acc[0]` also changes `acc` as the caller passed it to extend_then_push()")


@pytest.mark.parametrize("f", [m.nudge_in_callee, m.nudge_in_place])
def test_zero_d_array_argument_updated_in_place(f):
    check_everywhere(f, (V5.copy(), np.array(0.4)), argnums=(0, 1))


def test_parameter_written_then_rebound_names_the_rebinding():
    error = refused_everywhere(m.scatter_into_copy, (V5.copy(), 0.4),
                               "scatter() writes into its parameter `a`", "rebinds the name `a`")
    assert "also changes `a`" not in str(error)


@pytest.mark.parametrize("f, expected", [
    (m.floats_into_ints, [3.0, 11.0]),
    (m.float_added_into_int_entry, [7.0, 3.0]),
    (m.float_into_bool_entry, [1.0, 0.0]),
])
def test_value_cut_to_integers_passes_no_gradient_through_the_write(f, expected):
    u = np.array([1.2, 3.7])
    got = check_everywhere(f, (u,))
    np.testing.assert_array_equal(got, expected)


def test_writing_into_a_list_joined_from_two_list_parameters_is_refused():
    x, s = np.array([0.3, 0.8]), 0.7
    for placement in (None, {site: False for site in nba.call_sites(m.joined_lists_main)}):
        with pytest.raises(nba.AliasError, match=r"`l\[0\]` also changes `a`"):
            nba.grad(m.joined_lists_main, placement=placement)(x, s)


def test_writing_into_the_sum_of_two_array_parameters_is_differentiated():
    x, s = np.array([0.3, 0.8, -0.4]), 0.7
    check_grad(m.joined_arrays_main, (x, s), argnums=(0, 1))


def test_writing_into_an_argument_a_callee_returned_in_a_tuple_is_refused():
    x, s = np.array([0.3, 0.8]), np.array([0.5, -0.2])
    for placement in (None, {site: False for site in nba.call_sites(m.tuple_return_main)}):
        with pytest.raises(nba.AliasError, match=r"writing into `t` also changes `s`"):
            nba.grad(m.tuple_return_main, (0, 1), placement=placement)(x, s)
