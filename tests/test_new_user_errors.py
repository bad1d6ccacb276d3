"""What a new user ran into: inf / nan literals, masked arrays, placement values, nba.adjoint of a
non-function, line profiles of function objects, errors of %%adjoint_profile and of the command
line, and profiles read from JSON or unpickled."""

import functools
import pickle
import textwrap

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

import nbadjoint as nba
import new_user_models
from gradcheck import assert_bitwise_equal, check_against_autograd, check_grad
from nbadjoint import cli
from nbadjoint.errors import TransformError
from nbadjoint.notebook.magics import load_ipython_extension
from nbadjoint.profiling.profile import Profile, ProfileError

X = np.array([0.7, -0.4, 1.9, -2.5, 0.3])


# -- 1. np.inf / np.nan literals in differentiated code ----------------------------------------------

@pytest.mark.parametrize("name", ["running_min", "running_max", "clipped_energy", "positive_part"])
def test_inf_and_nan_literals_give_the_right_gradient(name):
    f = getattr(new_user_models, name)
    check_grad(f, (X,))
    check_against_autograd(new_user_models, name, (X,))


def test_max_norm_is_refused_with_what_to_write_instead():
    with pytest.raises(TransformError, match=r"ord=inf.*np\.max\(np\.abs\(x\)\)"):
        nba.grad(new_user_models.max_norm)(X)
    check_grad(new_user_models.max_abs, (X,))


def test_a_max_norm_order_held_in_a_variable_is_refused_when_it_runs():
    with pytest.raises(ValueError, match=r"ord=inf.*np\.max\(np\.abs\(x\)\)"):
        nba.grad(new_user_models.configured_norm)(X)
    check_grad(new_user_models.cubic_norm, (X,))


# -- 2. NumPy array subclasses as arguments -----------------------------------------------------------

def total_square(x):
    return np.sum(x ** 2)


def scaled(w, x):
    return np.sum(w * x)


def weighted(params, x):
    return np.sum(params["w"][0] * x)


def test_a_masked_array_argument_is_refused_before_anything_runs():
    m = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    calls = [lambda: nba.grad(total_square)(m), lambda: nba.value_and_grad(total_square)(m),
             lambda: nba.vjp(total_square, m), lambda: nba.profile(total_square, m)]
    for call in calls:
        with pytest.raises(TypeError, match=r"total_square\(\): argument 0 is a masked array.*"
                                            r"masked arrays are not supported: pass x\.filled\(\.\.\.\) or x\.data"):
            call()
    with pytest.raises(TypeError, match=r"scaled\(\): argument 0 is a masked array"):
        nba.grad(functools.partial(scaled, m))(np.ones(3))
    with pytest.raises(TypeError, match=r"argument 0\['w'\]\[0\] is a masked array"):
        nba.grad(weighted, argnums=1)({"w": [m]}, np.ones(3))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_and_other_array_subclasses_are_refused_plain_arrays_pass():
    with pytest.raises(TypeError, match=r"np\.matrix is not supported.*np\.asarray\(x\)"):
        nba.grad(total_square)(np.matrix([[1.0, 2.0]]))
    record = np.rec.array([(1.0,)], dtype=[("a", float)])
    with pytest.raises(TypeError, match=r"recarray, a subclass of np\.ndarray.*np\.asarray\(x\)"):
        nba.grad(weighted, argnums=1)({"w": [record]}, np.ones(1))
    np.testing.assert_array_equal(nba.grad(total_square)(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])


# -- 3. placement values ---------------------------------------------------------------------------

def step(u):
    return u - 0.1 * np.sin(u)


def model(u):
    for _ in range(3):
        u = step(u)
    return np.sum(u ** 2)


def _entry_points(placement):
    return {"grad": lambda: nba.grad(model, placement=placement)(X),
            "value_and_grad": lambda: nba.value_and_grad(model, placement=placement),
            "vjp": lambda: nba.vjp(model, X, placement=placement),
            "profile": lambda: nba.profile(model, X, placement=placement)}


@pytest.mark.parametrize("what", ["grad", "value_and_grad", "vjp", "profile"])
def test_placement_must_be_a_dict_of_site_ids_to_true_or_false(what):
    (site,) = nba.call_sites(model)
    with pytest.raises(TypeError, match="placement must be a dict mapping call-site ids.* not list"):
        _entry_points([site])[what]()
    with pytest.raises(TypeError, match="placement must be a dict mapping call-site ids.* not str"):
        _entry_points("split")[what]()
    with pytest.raises(ValueError, match=f"cannot read None for call site '{site}' as checkpointed or not"):
        _entry_points({site: None})[what]()


def test_placement_words_are_read_as_the_profiler_reads_them():
    (site,) = nba.call_sites(model)
    split = nba.grad(model, placement={site: False})(X)
    assert_bitwise_equal(nba.grad(model, placement={site: "split"})(X), split)
    assert_bitwise_equal(nba.grad(model, placement={site: "joint"})(X), nba.grad(model)(X))
    assert nba.profile(model, X, placement={site: "split"}).placement == {site: False}


# -- 4. nba.adjoint of something that is not a function -----------------------------------------------

def test_adjoint_of_a_non_function_is_a_type_error():
    with pytest.raises(TypeError, match=r"nba\.adjoint marks a function defined with `def`.*got 3 \(of type int\)"):
        nba.adjoint(3)
    with pytest.raises(TypeError, match=r"np\.sin is a NumPy ufunc"):
        nba.adjoint(np.sin)
    assert nba.adjoint(step) is step


# -- 5. line profile of a function object ------------------------------------------------------------

def test_line_profile_takes_the_function_itself():
    pytest.importorskip("line_profiler")
    prof = nba.profile(model, X)
    text = prof.line_profile(step)
    assert "Function: step_fwd" in text and "Function: step_bwd" in text

    def other(u):
        return u

    with pytest.raises(ValueError, match=r"other\(\) is not a function of this call tree; choose one of step, model"):
        prof.line_profile(other)


# -- 6. %%adjoint_profile: the user's error, not nbadjoint's traceback --------------------------------

@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.user_ns.update(np=np, nba=nba)
    yield shell
    for name in ("model", "g", "x0"):
        shell.user_ns.pop(name, None)


def run_cell(ip, capsys, body):
    result = ip.run_cell("%%adjoint_profile --no-widget\n" + textwrap.dedent(body).lstrip("\n"))
    captured = capsys.readouterr()
    return result, captured.out + captured.err


INTERNAL = ("Traceback", "magics.py", "profile.py", "program.py", "nba-cache", "_fwd")


def test_a_shape_error_in_the_cell_shows_the_users_line_and_fails_the_cell(ip, capsys):
    result, out = run_cell(ip, capsys, """
        def model(x):
            y = x @ np.ones(4)
            return np.sum(y)

        x0 = np.ones(3)
        model(x0)
        """)
    assert not result.success and isinstance(result.error_in_exec, ValueError)
    assert "ValueError: matmul" in out
    assert "raised in model() at notebook cell, line 3:" in out and "y = x @ np.ones(4)" in out
    shown = out.split("line 3:", 1)[1].split("(generated code", 1)[0]
    assert not any(word in out.split("(generated code")[0] for word in INTERNAL), out
    assert "y = x @ np.ones(4)" in shown


def test_a_vector_output_fails_the_cell_with_its_message_only(ip, capsys):
    result, out = run_cell(ip, capsys, """
        def model(x):
            return x * 2

        x0 = np.ones(3)
        model(x0)
        """)
    assert not result.success and isinstance(result.error_in_exec, TypeError)
    assert "TypeError: model() returned an array of shape (3,); grad needs a scalar output" in out
    assert not any(word in out for word in INTERNAL), out


@pytest.mark.parametrize("last, wanted", [
    ("np.sum(x0)", "the last line must call a Python function of yours"),
    ("nba.grad(g)(x0)", "the last line must call the function itself, e.g. `g(x0)`"),
])
def test_a_last_line_that_is_not_a_call_of_the_users_function_says_what_it_must_be(ip, capsys, last, wanted):
    result, out = run_cell(ip, capsys, f"""
        def g(x):
            return np.sum(x ** 2)

        x0 = np.ones(3)
        {last}
        """)
    assert not result.success
    assert wanted in out and "UsageError" in out
    assert not any(word in out for word in INTERNAL), out


# -- 7. the command line names the user's line -------------------------------------------------------

def test_cli_error_in_the_users_code_names_the_users_line(tmp_path, capsys):
    path = tmp_path / "strings_model.py"
    path.write_text("import numpy as np\n\n\ndef model(x):\n    y = np.sin(x) * 2.0\n    return np.sum(y)\n")
    status = cli.main(["profile", f"{path}:model", "--args", "'a string'", "--repeat", "1"])
    err = capsys.readouterr().err
    assert status == 1
    assert "profiling model() failed: TypeError: ufunc 'sin' not supported" in err
    assert "raised in model() at" in err and "strings_model.py, line 5:" in err and "y = np.sin(x) * 2.0" in err


# -- 8. profiles read from JSON, pickled profiles ----------------------------------------------------

def test_a_profile_read_from_json_says_its_gradient_is_not_stored():
    prof = nba.profile(model, X)
    loaded = Profile.from_json(prof.to_json())
    assert loaded.grad is None and "gradient not stored" in repr(loaded)
    assert "gradient not stored" not in repr(prof)
    assert "grad" in Profile.from_json.__doc__ and "not stored" in Profile.from_json.__doc__
    with pytest.raises(ProfileError, match="loaded from JSON"):
        loaded.rerun()


def test_a_profile_pickles_and_reruns_after_unpickling():
    prof = nba.profile(new_user_models.chain, X)
    copy = pickle.loads(pickle.dumps(prof))
    assert_bitwise_equal(copy.grad, prof.grad)
    assert copy.placement == prof.placement and copy.sites == prof.sites
    (site,) = [s.id for s in copy.sites]
    again = copy.rerun({site: False})
    assert again.placement == {site: False}
    assert_bitwise_equal(again.grad, prof.grad)
    pytest.importorskip("line_profiler")
    assert "Function: inner_bwd" in copy.line_profile(new_user_models.inner)


def test_a_profile_of_a_local_function_pickles_and_reruns_where_it_is_unpickled():
    def local_model(u):
        return np.sum(step(u) ** 2)

    copy = pickle.loads(pickle.dumps(nba.profile(local_model, X)))
    assert_bitwise_equal(copy.grad, nba.grad(local_model)(X))
    assert_bitwise_equal(copy.rerun().grad, nba.grad(local_model)(X))      # it travels as its source


# -- in-place updates with NumPy's casting rule ------------------------------------------------------

@pytest.mark.parametrize("f", [new_user_models.add_into_int_buffer, new_user_models.add_into_int_slice])
def test_an_in_place_update_numpy_refuses_is_refused_too(f):
    x = np.array([1.7, -0.4, 0.9])
    with pytest.raises(TypeError) as primal:
        f(x)
    with pytest.raises(TypeError, match="same_kind"):
        nba.value_and_grad(f)(x)
    assert "cast" in str(primal.value).lower()


def test_an_in_place_update_numpy_allows_is_differentiated():
    check_grad(new_user_models.add_ints_into_float_buffer, (np.array([1.7, -0.4, 0.9]),))
