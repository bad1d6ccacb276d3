"""Every mistake in the notebook layer, the CLI and the profiler API ends in a clear error.

A notebook cell that fails must fail (so Run All and nbclient stop) and must not leave an old
result behind; the CLI answers usage errors with exit status 2 and one line, failures of the
user's code with status 1; the profiler refuses bad arguments with errors that name them.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbadjoint as nba
from nbadjoint.errors import TransformError
from nbadjoint.notebook.magics import load_ipython_extension
from nbadjoint.notebook.widget import BUDGET_ERROR, CallTreeWidget
from nbadjoint.profiling.profile import ProfileError
from nbadjoint.profiling.units import parse_budget, parse_checkpointed
from nbadjoint.runtime.tape import AliasError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL_CELL = textwrap.dedent("""\
    def step(u, dt):
        return u - dt * np.sin(u * u)

    def model(u0, n):
        u = u0
        for i in range(n):
            u = step(u, 0.1)
        return np.sum(u)

    x0 = np.linspace(0.0, 1.0, 20)
    model(x0, 3)
    """)

MODEL_FILE = textwrap.dedent("""\
    import numpy as np


    def step(u, dt):
        return u - dt * np.sin(u * u)


    def model(u0, n):
        u = u0
        for i in range(n):
            u = step(u, 0.1)
        return np.sum(u)


    def crashes(u):
        return np.sum(u) / helper(u)


    def helper(u):
        return {}["missing"]


    def uses_import(u):
        import math
        return np.sum(u) * math.pi


    def default_args():
        return (np.linspace(0.0, 1.0, 20), 3)
    """)


def alias_model(u):
    v = u[1:]
    v[0] = 10.0
    return np.sum(v * v)


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.user_ns["np"] = np
    yield shell
    for name in ("step", "model", "x0", "prof", "plan", "f", "u0", "data"):
        shell.user_ns.pop(name, None)


@pytest.fixture(scope="module")
def module_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "small_model.py"
    path.write_text(MODEL_FILE)
    return path


@pytest.fixture(scope="module")
def prof(module_file):
    module = _import(module_file, "clear_errors_model")
    return nba.profile(module.model, *module.default_args())


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nbadjoint", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def magic(ip, line, body=MODEL_CELL):
    return ip.run_cell(f"%%adjoint_profile {line}\n" + body)


# -- item 1: an error fails the cell and leaves no stale -o result -----------------------------------

BROKEN_CELLS = {
    "transform error": (MODEL_CELL.replace("    return u - dt", "    import math\n    return u - dt"),
                        TransformError),
    "syntax error": (MODEL_CELL.replace("np.linspace(0.0, 1.0, 20)", "np.linspace(0.0, 1.0, 20"),
                     UsageError),
    "exception in the definitions": (MODEL_CELL.replace("x0 = np.linspace(0.0, 1.0, 20)", "x0 = 1 / 0"),
                                     ZeroDivisionError),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_CELLS))
def test_a_failing_profile_cell_fails_and_drops_the_old_result(ip, kind):
    body, error = BROKEN_CELLS[kind]
    assert magic(ip, "-o prof --no-widget").success
    assert isinstance(ip.user_ns["prof"], nba.Profile)
    result = magic(ip, "-o prof --no-widget", body)
    assert not result.success
    assert isinstance(result.error_in_exec, error)
    assert "prof" not in ip.user_ns
    assert ip.run_cell("6 * 7").result == 42


def test_nbclient_stops_at_a_failing_profile_cell():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from nbclient.exceptions import CellExecutionError

    broken = MODEL_CELL.replace("    return u - dt", "    import math\n    return u - dt")
    cells = ["import numpy as np\n%load_ext nbadjoint",
             "%%adjoint_profile -o prof --no-widget\n" + broken,
             "reached = True"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3")
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    assert "TransformError" in str(failure.value)
    assert notebook.cells[2].outputs == [] and notebook.cells[2].execution_count is None
    (error,) = [o for o in notebook.cells[1].outputs if o["output_type"] == "error"]
    assert error["ename"] == "TransformError"
    assert error["traceback"] == [error["traceback"][0]]   # the message only, no traceback
    assert "imports are not supported" in error["traceback"][0]


# -- item 2: what the magics were given is not a function ---------------------------------------------

def test_final_call_of_a_builtin_says_the_last_line_must_call_a_python_function(ip):
    result = magic(ip, "--no-widget", MODEL_CELL.replace("model(x0, 3)", "int(3)"))
    assert isinstance(result.error_in_exec, UsageError)
    assert "the last line must call a Python function" in str(result.error_in_exec)
    assert "`int` is the builtin type int" in str(result.error_in_exec)


def test_adjoint_source_of_an_array_says_it_needs_a_function(ip):
    ip.user_ns["x0"] = np.ones(3)
    with pytest.raises(UsageError, match="%adjoint_source needs a function; x0 is a numpy.ndarray"):
        ip.run_line_magic("adjoint_source", "x0")


# -- item 3: argnums, budgets, --wrt, placement values, -o names --------------------------------------

def test_profile_with_argnums_of_the_wrong_type_is_a_clear_type_error(prof, module_file):
    module = sys.modules["clear_errors_model"]
    with pytest.raises(TypeError, match=r"argnums must be an int or a tuple of ints.*got 'a'"):
        nba.profile(module.model, *module.default_args(), argnums="a")
    with pytest.raises(ValueError, match="argnums 5 is out of range: model"):
        nba.profile(module.model, *module.default_args(), argnums=5)


@pytest.mark.parametrize("text, expected", [
    ("200 MiB", 200 * 2**20), ("200MB", 200_000_000), ("1.5GiB", 1_610_612_736), (4096, 4096),
    (2.5e6, 2_500_000),
])
def test_one_budget_reader_accepts_the_usual_forms(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text, words", [("1e400", "too large"), ("-5MB", "negative"),
                                         ("lots", "cannot read"), (float("inf"), "finite")])
def test_budgets_that_overflow_or_are_negative_are_value_errors(prof, text, words):
    with pytest.raises(ValueError, match=words):
        parse_budget(text)
    with pytest.raises(ValueError, match=words):
        prof.suggest(budget=text)
    with pytest.raises(ValueError, match=words):
        prof.report(budget=text)


def test_magic_reads_a_quoted_budget_and_refuses_a_negative_one(ip):
    result = magic(ip, '--no-widget --budget "200 MiB" -o prof')
    assert result.success and "prof" in ip.user_ns
    for option, words in (("--budget -5MB", "must not be negative"), ("--budget 1e400", "too large")):
        result = magic(ip, f"--no-widget {option}")
        assert isinstance(result.error_in_exec, UsageError)
        assert "--budget" in str(result.error_in_exec) and words in str(result.error_in_exec)


def test_cli_refuses_an_overflowing_or_negative_budget_before_running(module_file):
    for budget, words in (("1e400", "too large"), ("-5MB", "must not be negative")):
        out = cli("profile", f"{module_file}:model", "--budget", budget)
        assert out.returncode == 2, out.stderr
        assert words in out.stderr and "Traceback" not in out.stderr
        assert "compiling" not in out.stderr


def test_wrt_naming_a_keyword_only_parameter_explains_it(ip):
    body = MODEL_CELL.replace("def model(u0, n):", "def model(u0, n, *, scale=1.0):")
    result = magic(ip, "--no-widget --wrt scale", body)
    assert isinstance(result.error_in_exec, UsageError)
    assert "'scale' is a keyword-only parameter of model" in str(result.error_in_exec)


def test_placement_values_are_read_strictly(ip):
    ip.user_ns["plan"] = {"model:8:step": "no"}
    assert magic(ip, "--no-widget --placement plan -o prof").success
    assert ip.user_ns["prof"].placement == {"model:8:step": False}
    ip.user_ns["plan"] = {"model:8:step": "maybe"}
    result = magic(ip, "--no-widget --placement plan")
    assert isinstance(result.error_in_exec, UsageError)
    assert "cannot read 'maybe' for call site 'model:8:step'" in str(result.error_in_exec)
    assert [parse_checkpointed(v) for v in ("yes", "No", "joint", "split", 1, 0, "TRUE")] == \
        [True, False, True, False, True, False, True]


def test_output_name_must_be_a_python_identifier(ip):
    for name in ("1abc", "class", "a-b"):
        result = magic(ip, f"--no-widget -o {name}")
        assert isinstance(result.error_in_exec, UsageError)
        assert "is not a valid Python variable name" in str(result.error_in_exec)
    assert "1abc" not in ip.user_ns


# -- item 4: JSON ---------------------------------------------------------------------------------------

def test_from_json_takes_paths_and_text(prof, tmp_path):
    path = tmp_path / "p.json"
    prof.to_json(path)
    for source in (path, str(path), path.read_text()):
        assert nba.Profile.from_json(source).placement == prof.placement


@pytest.mark.parametrize("text, words", [
    ("", "empty string"), ("[]", "expected a JSON object, got list"),
    ("null", "expected a JSON object, got NoneType"), ("{}", "field 'version': missing"),
    ("no_such_profile.json", "cannot read the profile file 'no_such_profile.json'"),
])
def test_from_json_of_something_else_is_a_profile_error(text, words):
    with pytest.raises(nba.ProfileError, match=words):
        nba.Profile.from_json(text)


@pytest.mark.parametrize("field, value, words", [
    ("sites", None, "field 'sites': missing"),
    ("sites", [{"id": 3}], r"field 'sites\[0\]\.id': expected a string"),
    ("peak_bytes", "big", "field 'peak_bytes': expected a number"),
    ("call_tree", {"children": []}, "field 'call_tree'"),
    ("placement", {"model:11:step": "perhaps"}, "field 'placement'"),
])
def test_a_tampered_file_names_the_field_and_the_file(prof, tmp_path, field, value, words):
    data = json.loads(prof.to_json())
    if value is None:
        del data[field]
    else:
        data[field] = value
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=words) as error:
        nba.Profile.from_json(path)
    assert str(path) in str(error.value)
    assert nba.ProfileError is ProfileError and issubclass(ProfileError, ValueError)


# -- item 5: the command line --------------------------------------------------------------------------

@pytest.mark.parametrize("options, words", [
    (["--argnums", "5"], "--argnums 5 is out of range"),
    (["--args", "(np.ones(3),)"], "model() cannot be called with the 1 argument(s) of --args"),
    (["--json", "no/such/folder/p.json"], "does not exist"),
])
def test_cli_usage_errors_exit_2_with_one_line_before_running(module_file, options, words):
    out = cli("profile", f"{module_file}:model", *options)
    assert out.returncode == 2
    assert out.stderr.startswith("nbadjoint: error: ") and words in out.stderr
    assert out.stderr.count("\n") == 1 and "compiling" not in out.stderr


def test_cli_missing_file_function_and_transform_error(module_file, tmp_path):
    for target, words in ((f"{tmp_path / 'absent.py'}:model", "no such file"),
                          (f"{module_file}:absent", "has no function 'absent'"),
                          (f"{module_file}:uses_import", "imports are not supported")):
        out = cli("profile", target, "--args", "np.ones(3)")
        assert out.returncode == 2, out.stderr
        assert words in out.stderr and "Traceback" not in out.stderr


def test_cli_exception_in_the_users_code_exits_1_with_one_line_unless_traceback(module_file):
    out = cli("profile", f"{module_file}:crashes", "--args", "np.ones(3)")
    assert out.returncode == 1
    assert "nbadjoint: error: profiling crashes() failed: KeyError: 'missing'" in out.stderr
    assert "Traceback" not in out.stderr and "--traceback" in out.stderr
    out = cli("profile", f"{module_file}:crashes", "--args", "np.ones(3)", "--traceback")
    assert out.returncode == 1 and "Traceback (most recent call last)" in out.stderr


# -- item 6: wrong types and unknown ids in the API and the widget -------------------------------------

def test_unknown_site_and_wrong_types_name_what_is_expected(prof):
    module = sys.modules["clear_errors_model"]
    view = CallTreeWidget(prof)
    with pytest.raises(ValueError, match=r"unknown call site 'nope'; the profile's sites are: model:11:step"):
        view.toggle("nope")
    with pytest.raises(TypeError, match="placement must be a dict mapping call-site ids"):
        nba.profile(module.model, *module.default_args(), placement=["model:11:step"])
    with pytest.raises(TypeError, match="placement must be a dict"):
        prof.predict(["model:11:step"])
    with pytest.raises(TypeError, match=r"repeat must be an int \(a number of runs\), got '3'"):
        nba.profile(module.model, *module.default_args(), repeat="3")


def test_a_valid_budget_clears_the_error_of_a_bad_one(prof):
    view = CallTreeWidget(prof)
    view._handle_message(view, {"type": "budget", "text": "lots"}, [])
    assert view.error.startswith(BUDGET_ERROR) and "'lots'" in view.error
    view._handle_message(view, {"type": "budget", "text": str(view.budget)}, [])  # same value as before
    assert view.error == ""
    view._handle_message(view, {"type": "budget", "text": "-1kB"}, [])
    assert "negative" in view.error
    view._handle_message(view, {"type": "budget", "text": "200 MiB"}, [])
    assert view.error == "" and view.budget == 200 * 2**20


# -- item 7: an AliasError leaves the user's array as it was -------------------------------------------

def test_profile_refused_with_alias_error_leaves_the_users_array_unchanged():
    u = np.arange(5.0)
    with pytest.raises(AliasError):
        nba.profile(alias_model, u)
    np.testing.assert_array_equal(u, np.arange(5.0))


def test_profile_magic_refused_with_alias_error_leaves_the_users_array_unchanged(ip):
    body = ("def f(u):\n    v = u[1:]\n    v[0] = 10.0\n    return np.sum(v * v)\n\n"
            "data = np.arange(5.0)\nf(data)\n")
    result = magic(ip, "--no-widget -o prof", body)
    assert isinstance(result.error_in_exec, AliasError)
    np.testing.assert_array_equal(ip.user_ns["data"], np.arange(5.0))
    assert "prof" not in ip.user_ns


def test_profile_runs_every_time_on_the_same_inputs_and_never_writes_into_them(tmp_path):
    path = tmp_path / "writes_its_argument.py"
    path.write_text("import numpy as np\n\n\ndef model(u):\n    u *= 2.0\n    return np.sum(u * u)\n")
    module = _import(path, "writes_its_argument")
    u = np.arange(4.0)
    p = nba.profile(module.model, u, repeat=3, warmup=2)
    np.testing.assert_array_equal(u, np.arange(4.0))
    assert p.value == pytest.approx(np.sum((2 * np.arange(4.0)) ** 2))


# -- item 8: a rerun measures the code as it is now -----------------------------------------------------

def test_rerun_after_a_callee_is_redefined_measures_the_new_code(tmp_path):
    path = tmp_path / "redefined_model.py"
    path.write_text(textwrap.dedent("""\
        import numpy as np


        def step(u):
            return 2.0 * u


        def model(u):
            return np.sum(step(u) ** 2)
        """))
    module = _import(path, "redefined_model")
    u = np.linspace(0.0, 1.0, 6)
    first = nba.profile(module.model, u)
    np.testing.assert_allclose(first.grad, 8.0 * u)
    view = CallTreeWidget(first)

    (tmp_path / "faster_step.py").write_text("def step(u):\n    return 3.0 * u\n")
    module.step = _import(tmp_path / "faster_step.py", "faster_step").step

    again = first.rerun()
    assert again.value == pytest.approx(np.sum((3.0 * u) ** 2))
    np.testing.assert_allclose(again.grad, 18.0 * u)
    measured = view.rerun()
    np.testing.assert_allclose(measured.grad, 18.0 * u)


def test_a_failing_profile_cell_keeps_an_unrelated_variable_of_the_output_name(ip):
    ip.user_ns["prof"] = "notes"
    result = magic(ip, "-o prof --no-widget", BROKEN_CELLS["exception in the definitions"][0])
    assert not result.success and ip.user_ns["prof"] == "notes"
