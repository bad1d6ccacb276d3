"""What is differentiated is the code that runs, or a clear error: wrapped functions, stale code,
deep call chains, partials and other callables, the cache folder, names, dtypes and shapes of the
results, and exceptions raised by the user's code while the adjoint runs (issue 9)."""
import builtins
import functools
import importlib
import inspect
import itertools
import os
import shutil
import sys
import tempfile
import textwrap
import traceback

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import check_grad
from nbadjoint.transform import files, runner
from nbadjoint.transform import program as program_module

_counter = itertools.count()


@pytest.fixture
def write_module(tmp_path, monkeypatch):
    """write_module(source, name=None) -> the imported module, its file in a folder of its own."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []

    def write(source, name=None):
        name = name or f"silent_program_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)

    yield write
    for name in names:
        sys.modules.pop(name, None)


def rewrite(module, source):
    """Change the module's file on disk (a later mtime, so linecache sees it), without reloading."""
    path = module.__file__
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(source))
    later = os.stat(path).st_mtime + 10
    os.utime(path, (later, later))


X = np.array([0.3, -1.2, 2.0])


# --------------------------------------------------------------------------- 1. wrapped functions

DECORATED = """
    import functools
    import numpy as np

    def times_ten(fn):
        @functools.wraps(fn)
        def wrapper(u):
            return 10 * fn(u)
        return wrapper

    @times_ten
    def loss(u):
        return np.sum(u ** 2)

    def total(u):
        return loss(u) + np.sum(u)

    def passes_everything(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return 10 * fn(*args, **kwargs)
        return wrapper

    @passes_everything
    def loss_any(u):
        return np.sum(u ** 2)
"""


def test_a_wraps_wrapper_is_differentiated_as_the_wrapper(write_module):
    mod = write_module(DECORATED)
    g = check_grad(mod.loss, (X,))
    np.testing.assert_allclose(g, 20 * X, rtol=1e-12)


def test_a_wraps_wrapper_called_by_the_root_is_differentiated_as_the_wrapper(write_module):
    mod = write_module(DECORATED)
    g = check_grad(mod.total, (X,))
    np.testing.assert_allclose(g, 20 * X + 1, rtol=1e-12)


def test_a_wrapper_with_other_parameters_than_the_wrapped_function_is_refused(write_module):
    mod = write_module(DECORATED)
    with pytest.raises(nba.TransformError, match=r"wraps another function .*other parameters"):
        nba.grad(mod.loss_any)


def test_grad_of_grad_is_refused_as_higher_order(write_module):
    mod = write_module(DECORATED)
    with pytest.raises(TypeError, match=r"higher-order derivatives are not supported.*autograd"):
        nba.grad(nba.grad(mod.total))
    with pytest.raises(TypeError, match="higher-order"):
        nba.value_and_grad(nba.value_and_grad(mod.total))


# --------------------------------------------------------------------------- 2. stale code

HELPER = """
    import numpy as np

    SCALE = 2.0

    def step(u):
        return np.sin(u) * 2.0

    class Physics:
        @staticmethod
        def flux(u):
            return u * u
"""

USER = """
    import numpy as np
    import {helper}

    def loss(u):
        return np.sum({helper}.step(u)) * {helper}.SCALE

    def flux_loss(u):
        return np.sum({helper}.Physics.flux(u))

    def cube(u):
        return u ** 3
"""


@pytest.fixture
def helper_and_user(write_module):
    helper = write_module(HELPER)
    user = write_module(USER.format(helper=helper.__name__))
    return helper, user


def test_a_module_edited_on_disk_and_not_reloaded_is_refused(write_module):
    mod = write_module("""
        import numpy as np
        def loss(u):
            return np.sum(np.sin(u))
    """)
    rewrite(mod, """
        import numpy as np
        def loss(u):
            return np.sum(np.cos(u))
    """)
    with pytest.raises(nba.TransformError, match=r"loss changed on disk since it was imported.*\n.*reload"):
        nba.grad(mod.loss)
    importlib.reload(mod)
    np.testing.assert_allclose(nba.grad(mod.loss)(X), -np.sin(X), rtol=1e-12)


def test_a_helper_edited_on_disk_is_refused_when_the_tree_is_compiled_again(helper_and_user):
    helper, user = helper_and_user
    g = nba.grad(user.loss)
    np.testing.assert_allclose(g(X), 4 * np.cos(X), rtol=1e-12)
    rewrite(helper, HELPER.replace("np.sin(u) * 2.0", "np.cos(u) * 2.0"))
    np.testing.assert_allclose(g(X), 4 * np.cos(X), rtol=1e-12)     # the code that runs is unchanged
    helper.SCALE = 3.0                                                # a recompilation reads the file
    with pytest.raises(nba.TransformError, match="step changed on disk"):
        g(X)


def test_a_reloaded_helper_module_is_compiled_again(helper_and_user):
    helper, user = helper_and_user
    g = nba.grad(user.loss)
    np.testing.assert_allclose(g(X), 4 * np.cos(X), rtol=1e-12)
    rewrite(helper, HELPER.replace("np.sin(u) * 2.0", "np.cos(u) * 2.0"))
    importlib.reload(helper)
    np.testing.assert_allclose(g(X), -4 * np.sin(X), rtol=1e-12)


def test_a_monkeypatched_module_function_is_compiled_again(helper_and_user, monkeypatch):
    helper, user = helper_and_user
    g = nba.grad(user.loss)
    g(X)
    monkeypatch.setattr(helper, "step", user.cube)
    np.testing.assert_allclose(g(X), 2 * 3 * X ** 2, rtol=1e-12)


def test_a_monkeypatched_module_constant_is_read_again(helper_and_user, monkeypatch):
    helper, user = helper_and_user
    g = nba.grad(user.loss)
    g(X)
    monkeypatch.setattr(helper, "SCALE", 5.0)
    np.testing.assert_allclose(g(X), 10 * np.cos(X), rtol=1e-12)


def test_a_monkeypatched_class_attribute_is_compiled_again(helper_and_user, monkeypatch):
    helper, user = helper_and_user
    g = nba.grad(user.flux_loss)
    np.testing.assert_allclose(g(X), 2 * X, rtol=1e-12)
    monkeypatch.setattr(helper.Physics, "flux", staticmethod(user.cube))
    np.testing.assert_allclose(g(X), 3 * X ** 2, rtol=1e-12)


def test_a_changed_closure_value_is_compiled_again(write_module):
    mod = write_module("""
        import numpy as np
        def make():
            power = 2.0
            def loss(u):
                return np.sum(u ** power)
            def set_power(p):
                nonlocal power
                power = p
            return loss, set_power
    """)
    loss, set_power = mod.make()
    g = nba.grad(loss)
    np.testing.assert_allclose(g(X), 2 * X, rtol=1e-12)
    set_power(3.0)
    np.testing.assert_allclose(g(X), 3 * X ** 2, rtol=1e-12)


def test_an_attribute_of_a_rebound_global_array_is_read_again(write_module):
    mod = write_module("""
        import numpy as np
        W = np.array([[1.0, 2.0], [3.0, 4.0]])
        def loss(x):
            return np.sum(W.T @ x) * W.shape[1]
    """)
    x = np.array([1.0, 1.0])
    g = nba.grad(mod.loss)
    np.testing.assert_allclose(g(x), 2 * mod.W.sum(axis=1))
    mod.W[0, 0] = 10.0                                  # in place: the same view
    np.testing.assert_allclose(g(x), 2 * mod.W.sum(axis=1))
    mod.W = np.ones((2, 3))                             # rebound: another array, another shape
    np.testing.assert_allclose(g(x), 3 * mod.W.sum(axis=1))
    mod.W[0, 0] = 7.0
    np.testing.assert_allclose(g(x), 3 * mod.W.sum(axis=1))


def test_a_program_compiled_before_a_redefinition_refuses_to_run(helper_and_user, monkeypatch):
    helper, user = helper_and_user
    prog = program_module.compile_tree(user.loss)
    runner.run_adjoint(prog, (X,))
    monkeypatch.setattr(helper, "step", user.cube)
    with pytest.raises(RuntimeError, match=r"changed since it was compiled"):
        runner.run_adjoint(prog, (X,))


def test_profile_rerun_never_measures_the_old_code(helper_and_user, monkeypatch):
    helper, user = helper_and_user
    p = nba.profile(user.loss, X, warmup=0)
    monkeypatch.setattr(helper, "step", user.cube)
    try:
        again = p.rerun()
    except RuntimeError as exc:
        assert "changed since it was compiled" in str(exc)
    else:
        np.testing.assert_allclose(again.grad, 2 * 3 * X ** 2, rtol=1e-12)


# --------------------------------------------------------------------------- 3. deep call chains

def chain_source(n):
    lines = ["import numpy as np", ""]
    for k in range(n - 1):
        lines += [f"def level{k}(x):", f"    return level{k + 1}(x * 1.001) + 0.5 * x", ""]
    lines += [f"def level{n - 1}(x):", "    return np.sin(x)", "",
              "def loss(x):", "    return np.sum(level0(x))", ""]
    return "\n".join(lines)


def chain_gradient(n, x):
    return sum(0.5 * 1.001 ** k for k in range(n - 1)) + 1.001 ** (n - 1) * np.cos(1.001 ** (n - 1) * x)


@pytest.mark.parametrize("checkpointed", [True, False], ids=["all-checkpointed", "none-checkpointed"])
def test_a_call_chain_1000_deep_is_differentiated(write_module, checkpointed):
    mod = write_module(chain_source(1000))
    limit = sys.getrecursionlimit()
    sites = nba.call_sites(mod.loss)
    assert len(sites) == 1000
    x = np.array([0.3, 0.7])
    g = nba.grad(mod.loss, placement={s: checkpointed for s in sites})(x)
    np.testing.assert_allclose(g, chain_gradient(1000, x), rtol=1e-10)
    assert sys.getrecursionlimit() == limit


# --------------------------------------------------------------------------- 4. partials and other callables

CALLABLES = """
    import functools
    import numpy as np

    def weighted(x, w, scale):
        return np.sum(w * x ** 2) * scale

    def scale_it(x, factor):
        return x * factor

    halve = functools.partial(scale_it, factor=0.5)

    def uses_a_partial(x):
        return np.sum(halve(x))

    class Model:
        def __init__(self, w):
            self.w = w

        def __call__(self, x):
            return np.sum(self.w * x)

        def loss(self, x):
            return np.sum(self.w * x)
"""


def test_a_partial_root_binds_its_arguments_and_argnums_count_the_free_ones(write_module):
    mod = write_module(CALLABLES)
    w = np.array([1.0, 2.0, 3.0])
    f = functools.partial(mod.weighted, w=w)
    gw, gs = nba.grad(functools.partial(mod.weighted, X), argnums=(0, 1))(w, 2.0)
    np.testing.assert_allclose(gw, 2.0 * X ** 2, rtol=1e-12)
    assert gs == pytest.approx(np.sum(w * X ** 2))
    g = nba.grad(f)(X, scale=2.0)
    np.testing.assert_allclose(g, 2 * 2.0 * w * X, rtol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        nba.grad(functools.partial(mod.weighted, X, w), argnums=1)


def test_vjp_of_a_partial_gives_one_entry_per_free_argument(write_module):
    mod = write_module(CALLABLES)
    f = functools.partial(mod.weighted, X)
    out, pullback = nba.vjp(f, np.ones(3), 3.0)
    assert out == mod.weighted(X, np.ones(3), 3.0)
    gw, gs = pullback(1.0)
    np.testing.assert_allclose(gw, 3.0 * X ** 2, rtol=1e-12)
    assert gs == pytest.approx(np.sum(X ** 2))


@pytest.mark.parametrize("target, words", [
    (np.sin, "np.sin is a NumPy ufunc"),
    (np.sum, "np.sum is a NumPy function"),
    (3, "got 3 (of type int), which is not a function"),
    (print, "print is a built-in function"),
])
def test_things_that_are_not_python_functions_are_refused_when_grad_is_called(target, words):
    with pytest.raises(TypeError, match=r"nba.grad needs a Python function written in Python") as info:
        nba.grad(target)
    assert words in str(info.value)
    with pytest.raises(TypeError, match="nba.adjoint_source needs a Python function"):
        nba.adjoint_source(target)


def test_callable_instances_and_bound_methods_are_refused_clearly(write_module):
    mod = write_module(CALLABLES)
    model = mod.Model(np.ones(3))
    with pytest.raises(TypeError, match="a callable Model object is not supported"):
        nba.grad(model)
    with pytest.raises(TypeError, match="bound method of a Model object"):
        nba.grad(model.loss)


def test_a_partial_callee_is_refused_by_its_name(write_module):
    mod = write_module(CALLABLES)
    with pytest.raises(nba.TransformError, match=r"`halve`: it is a functools.partial") as info:
        nba.grad(mod.uses_a_partial)
    assert info.value.lineno == inspect.getsourcelines(mod.uses_a_partial)[1] + 1
    assert "_K[" not in str(info.value)


# --------------------------------------------------------------------------- 5. the cache folder

SIMPLE = """
    import numpy as np

    def inner(u):
        return np.sin(u) * u

    def loss(u):
        return np.sum(inner(u))
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NBADJOINT_CACHE", str(folder))
    program_module._CACHE.clear()
    yield folder
    program_module._CACHE.clear()


def test_a_corrupted_cached_module_is_written_again(write_module, cache):
    mod = write_module(SIMPLE)
    path = program_module.compile_tree(mod.loss).generated_path()
    with open(path, "w") as fh:
        fh.write('def loss_fwd(:\n    """unterminated\n')
    program_module._CACHE.clear()
    prog = program_module.compile_tree(mod.loss)
    assert prog.generated_path() == path
    with open(path) as fh:
        assert fh.read() == prog.source()
    assert "def inner_fwd" in inspect.getsource(prog.fwd_function("inner"))
    np.testing.assert_allclose(nba.grad(mod.loss)(X), np.sin(X) + X * np.cos(X), rtol=1e-12)


def test_a_file_where_the_cache_folders_should_be_is_worked_around(write_module, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("NBADJOINT_CACHE", str(blocker))
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    user = os.getuid() if hasattr(os, "getuid") else "user"
    (temp / f"nbadjoint-{user}").write_text("")
    monkeypatch.setattr(files, "_PRIVATE_DIR", None)
    program_module._CACHE.clear()
    mod = write_module(SIMPLE)
    path = program_module.compile_tree(mod.loss).generated_path()
    assert os.path.isfile(path) and os.path.dirname(path).startswith(str(temp))
    np.testing.assert_allclose(nba.grad(mod.loss)(X), np.sin(X) + X * np.cos(X), rtol=1e-12)
    program_module._CACHE.clear()


def test_a_very_long_function_name_gives_a_short_file_name(write_module, cache):
    mod = write_module(SIMPLE)
    mod.loss.__name__ = "loss" * 66
    path = program_module.compile_tree(mod.loss).generated_path()
    assert len(os.path.basename(path)) < 100
    np.testing.assert_allclose(nba.grad(mod.loss)(X), np.sin(X) + X * np.cos(X), rtol=1e-12)


def test_after_the_cache_folder_is_removed_sources_and_files_come_back(write_module, cache):
    mod = write_module(SIMPLE)
    prog = program_module.compile_tree(mod.loss, 0)
    path = prog.generated_path()
    shutil.rmtree(cache)
    p = nba.profile(mod.loss, X, warmup=0)
    assert "def inner_fwd" in p.sources["inner"]["fwd"]
    assert "def loss_bwd" in p.sources["loss"]["bwd"]
    assert prog.generated_path() == path and os.path.isfile(path)


# --------------------------------------------------------------------------- 6. names in generated code

def test_a_function_name_cannot_inject_code_into_the_generated_module(write_module):
    mod = write_module(SIMPLE)
    evil = 'x\n"""\nimport builtins; builtins._nbadjoint_injected = True\n"""\n#\\'
    mod.inner.__name__ = evil
    mod.loss.__name__ = evil + "2"
    source = nba.adjoint_source(mod.loss)
    compile(source, "<generated>", "exec")
    assert not any(line.startswith("import builtins") for line in source.splitlines())
    np.testing.assert_allclose(nba.grad(mod.loss)(X), np.sin(X) + X * np.cos(X), rtol=1e-12)
    assert not hasattr(builtins, "_nbadjoint_injected")


# --------------------------------------------------------------------------- 7. results like the arguments

DTYPES = """
    import numpy as np

    def loss(x, s):
        return np.sum(np.sin(x) * s)

    def scaled(x):
        return x * 2.0
"""


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_gradients_have_the_dtype_of_their_arguments(write_module, dtype):
    mod = write_module(DTYPES)
    x = X.astype(dtype)
    gx, gs = nba.grad(mod.loss, argnums=(0, 1))(x, dtype(1.5))
    assert gx.dtype == dtype and type(gs) is (float if dtype is np.float64 else dtype)
    np.testing.assert_allclose(gx, 1.5 * np.cos(x.astype(np.float64)), rtol=np.finfo(dtype).eps * 8)


def test_vjp_of_complex64_arguments_is_complex64(write_module):
    mod = write_module(DTYPES)
    x = (X + 1j * X[::-1]).astype(np.complex64)
    out, pullback = nba.vjp(mod.scaled, x)
    (gx,) = pullback(np.ones(3, dtype=np.complex64))
    assert gx.dtype == np.complex64
    np.testing.assert_allclose(gx, 2.0 * np.ones(3))


@pytest.mark.parametrize("cotangent, words", [
    (np.ones(2), r"expected shape \(3,\), given shape \(2,\)"),
    (1.0, r"expected shape \(3,\), given shape \(\)"),
    ("one", "expected an array of shape \\(3,\\), given a str"),
])
def test_a_cotangent_of_the_wrong_shape_is_a_clear_error(write_module, cotangent, words):
    mod = write_module(DTYPES)
    out, pullback = nba.vjp(mod.scaled, X)
    with pytest.raises(ValueError, match=words):
        pullback(cotangent)
    (gx,) = pullback(np.ones(3))                         # a failed call does not use up the pullback
    np.testing.assert_allclose(gx, 2.0 * np.ones(3))


def test_vjp_of_a_root_that_writes_into_its_argument(write_module):
    mod = write_module("""
        def overwrite_first(x, y):
            x[0] = x[1] * y
            return x * x
    """)
    x = np.array([1.0, 2.0])
    out, pullback = nba.vjp(mod.overwrite_first, x, 3.0)
    np.testing.assert_array_equal(out, [36.0, 4.0])
    np.testing.assert_array_equal(x, [1.0, 2.0])
    gx, gy = pullback(np.array([1.0, 0.5]))
    # out = [(x1 y)^2, x1^2]: d/dx = [0, 2 x1 y^2 + 0.5 * 2 x1], d/dy = 2 x1^2 y
    np.testing.assert_allclose(gx, [0.0, 2 * 2.0 * 9.0 + 2.0], rtol=1e-12)
    assert gy == pytest.approx(2 * 4.0 * 3.0)


@pytest.mark.parametrize("argnums, error, words", [
    (2, ValueError, r"argnums 2 is out of range: loss\(\) takes 2 argument"),
    (-3, ValueError, "out of range"),
    ((0, 0), ValueError, "names argument 0 of loss\\(\\) twice"),
    ((1, -1), ValueError, "twice"),
    ((True,), TypeError, "argnums must be an int or a tuple of ints"),
    ("x", TypeError, "argnums must be an int or a tuple of ints"),
])
def test_bad_argnums_are_refused_when_grad_is_called(write_module, argnums, error, words):
    mod = write_module(DTYPES)
    with pytest.raises(error, match=words):
        nba.grad(mod.loss, argnums=argnums)


def test_negative_argnums_count_from_the_end(write_module):
    mod = write_module(DTYPES)
    assert nba.grad(mod.loss, argnums=-1)(X, 2.0) == pytest.approx(np.sum(np.sin(X)))


# --------------------------------------------------------------------------- 8. errors in the user's code

RAISES = """
    import numpy as np

    def ratio(a, b):
        c = a * 2.0
        return c / b

    def loss(u, b):
        s = float(np.sum(u))
        return ratio(s, b) + s
"""


@pytest.mark.parametrize("checkpointed", [True, False])
def test_an_exception_in_a_callee_names_the_users_line(write_module, checkpointed):
    mod = write_module(RAISES)
    site = nba.call_sites(mod.loss)[0]
    g = nba.grad(mod.loss, placement={site: checkpointed})
    with pytest.raises(ZeroDivisionError) as info:
        g(X, 0.0)
    lineno = inspect.getsourcelines(mod.ratio)[1] + 2
    text = "\n".join(getattr(info.value, "__notes__", [])) + str(info.value)
    assert f"{mod.__file__}, line {lineno}" in text and "return c / b" in text and "ratio()" in text
    frames = traceback.extract_tb(info.value.__traceback__)
    package = os.path.dirname(nba.__file__)
    internal = [f for f in frames if f.filename.startswith(package)]
    assert len(internal) <= 4, [f"{f.filename}:{f.name}" for f in internal]
    assert frames[-1].filename == program_module.compile_tree(mod.loss, 0).generated_path()
