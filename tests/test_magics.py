"""The IPython magics, through IPython's InteractiveShell.

The first group replaces ``nba.profile`` by a recorder, to pin what the magic passes to it; the
second runs the real profiler and compiler end to end.
"""

import inspect
import textwrap

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import Code

import nbadjoint
from nbadjoint.errors import TransformError
from nbadjoint.notebook import magics
from nbadjoint.notebook.magics import load_ipython_extension, profile_cell, show_profile, source_code
from nbadjoint.notebook.widget import CallTreeWidget
from test_widget import FakeProfile


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.user_ns["np"] = np
    yield shell
    for name in ("f", "model", "step", "x0", "prof", "plan", "not_a_dict", "bad"):
        shell.user_ns.pop(name, None)
    if "kernel" in vars(shell):
        del shell.kernel


class Recorder:
    """Stands in for nba.profile: records each call and returns a FakeProfile."""

    def __init__(self, raises=None):
        self.calls = []
        self.raises = raises

    def __call__(self, f, *args, argnums=0, placement=None, repeat=1):
        self.calls.append({"f": f, "args": args, "argnums": argnums, "placement": placement, "repeat": repeat,
                           "source": inspect.getsource(f), "firstlineno": f.__code__.co_firstlineno})
        if self.raises is not None:
            raise self.raises
        return FakeProfile()


@pytest.fixture
def recorder(monkeypatch):
    recording = Recorder()
    monkeypatch.setattr(nbadjoint, "profile", recording, raising=False)
    return recording


def cell(text):
    return textwrap.dedent(text).lstrip("\n")


F_CELL = cell("""
    def f(x, n, scale=2.0):
        return scale * np.sum(x ** n)

    x0 = np.ones(3)
    f(x0, 4)
""")


def run_magic(ip, line, body):
    return ip.run_cell_magic("adjoint_profile", line, body)


# --- what the magic passes to nba.profile ------------------------------------------------------

def test_final_call_is_profiled_with_its_evaluated_arguments(ip, recorder):
    run_magic(ip, "--no-widget", F_CELL)
    (call,) = recorder.calls
    assert call["f"] is ip.user_ns["f"]
    assert call["args"][0] is ip.user_ns["x0"] and call["args"][1] == 4
    assert call["argnums"] == 0 and call["placement"] is None and call["repeat"] == 1


def test_functions_defined_in_the_cell_have_source_and_the_cells_line_numbers(ip, recorder):
    ip.run_cell("%%adjoint_profile --no-widget\n" + F_CELL)
    (call,) = recorder.calls
    assert call["source"] == "def f(x, n, scale=2.0):\n    return scale * np.sum(x ** n)\n"
    assert call["firstlineno"] == 2  # line 1 of the cell is the %%adjoint_profile line


def test_wrt_names_select_the_differentiated_arguments(ip, recorder):
    run_magic(ip, "--wrt x --no-widget", F_CELL)
    run_magic(ip, "--wrt n,x --no-widget", F_CELL)
    assert [c["argnums"] for c in recorder.calls] == [0, (1, 0)]


def test_wrt_with_an_unknown_name_lists_the_parameters(ip, recorder):
    with pytest.raises(UsageError, match="'u0' is not a parameter of f; its parameters are: x, n, scale"):
        run_magic(ip, "--wrt u0 --no-widget", F_CELL)


def test_keyword_arguments_of_the_final_call_are_passed_by_position(ip, recorder):
    run_magic(ip, "--wrt scale --no-widget", F_CELL.replace("f(x0, 4)", "f(x0, scale=3.0, n=2)"))
    (call,) = recorder.calls
    assert call["args"][1:] == (2, 3.0)
    assert call["argnums"] == 2


def test_placement_option_takes_a_dict_from_the_namespace(ip, recorder):
    ip.user_ns["plan"] = {"f:2:g": False}
    run_magic(ip, "--placement plan --no-widget", F_CELL)
    assert recorder.calls[0]["placement"] == {"f:2:g": False}


@pytest.mark.parametrize("line, message", [
    ("--placement nowhere", "no variable named 'nowhere'"),
    ("--placement not_a_dict", "must be a dict mapping call-site ids to True (checkpointed) or False (split), not list"),
    ("--repeat 0", "--repeat must be at least 1"),
    ("--repeat two", "invalid int value: 'two'"),
    ("--budget lots", "--budget: cannot read the budget 'lots'"),
    ("--frobnicate", "unrecognized arguments: --frobnicate"),
    ("--method best", "argument --method: invalid choice: 'best'"),
])
def test_bad_options_raise_usage_error_with_the_usage_text(ip, recorder, line, message):
    ip.user_ns["not_a_dict"] = [1, 2]
    with pytest.raises(UsageError) as error:
        run_magic(ip, line, F_CELL)
    assert message in str(error.value)
    assert "usage: %%adjoint_profile [--wrt NAMES] [--budget BYTES]" in str(error.value)
    assert recorder.calls == []


def test_repeat_is_passed_to_the_profiler(ip, recorder):
    run_magic(ip, "--repeat 3 --no-widget", F_CELL)
    assert recorder.calls[0]["repeat"] == 3


def test_output_option_stores_the_profile(ip, recorder):
    run_magic(ip, "-o prof --no-widget", F_CELL)
    assert isinstance(ip.user_ns["prof"], FakeProfile)


@pytest.mark.parametrize("last, shown", [("x0 = f(np.ones(2), 2)", "`x0 = f(np.ones(2), 2)`"), ("x0", "`x0`")])
def test_final_line_that_is_not_a_call_raises_usage_error(ip, recorder, last, shown):
    with pytest.raises(UsageError) as error:
        run_magic(ip, "", F_CELL.replace("f(x0, 4)", last))
    assert f"the last line of the cell must be a call expression, but it is {shown}" in str(error.value)


def test_empty_cell_raises_usage_error(ip, recorder):
    with pytest.raises(UsageError, match="the cell is empty"):
        run_magic(ip, "", "\n")


def test_final_call_of_something_not_callable_raises_usage_error(ip, recorder):
    with pytest.raises(UsageError, match="`x0` is not a function"):
        run_magic(ip, "", F_CELL.replace("f(x0, 4)", "x0(4)"))


def test_error_in_the_definitions_is_shown_fails_the_cell_and_nothing_is_profiled(ip, recorder, capsys):
    result = ip.run_cell("%%adjoint_profile\n" + F_CELL.replace("x0 = np.ones(3)", "x0 = 1 / 0"))
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "nothing was profiled" in out
    assert not result.success and isinstance(result.error_in_exec, ZeroDivisionError)
    assert recorder.calls == []


def test_syntax_error_is_shown_with_the_cells_line_fails_the_cell_and_nothing_is_profiled(ip, recorder, capsys):
    result = ip.run_cell("%%adjoint_profile\n" + F_CELL.replace("x0 = np.ones(3)", "x0 = np.ones(3"))
    captured = capsys.readouterr()
    assert "SyntaxError" in captured.out and "line 5" in captured.out  # the magic is line 1
    assert "the cell does not parse" in captured.err
    assert recorder.calls == [] and not result.success


# --- output ------------------------------------------------------------------------------------

def test_no_widget_prints_the_text_report(ip, recorder, capsys):
    run_magic(ip, "--no-widget --budget 2kB --method optimal", F_CELL)
    assert capsys.readouterr().out == "Adjoint profile of model (budget 2000, method optimal)\n"


def test_in_a_kernel_the_widget_is_displayed_with_the_budget(ip, recorder, monkeypatch):
    shown = []
    monkeypatch.setattr(magics, "display", shown.append)
    ip.kernel = object()
    run_magic(ip, "--budget 20kB --method optimal", F_CELL)
    (widget,) = shown
    assert isinstance(widget, CallTreeWidget)
    assert widget.budget == 20_000 and widget.method == "optimal"


def test_show_profile_returns_the_widget_only_in_a_kernel(ip, monkeypatch, capsys):
    assert show_profile(FakeProfile(), shell=ip) is None
    assert capsys.readouterr().out.startswith("Adjoint profile of model")
    monkeypatch.setattr(magics, "display", lambda obj: None)
    ip.kernel = object()
    assert isinstance(show_profile(FakeProfile(), shell=ip), CallTreeWidget)


# --- errors ------------------------------------------------------------------------------------

def test_transform_error_fails_the_cell_with_its_message_and_no_traceback(ip, monkeypatch, capsys):
    error = TransformError("`yield` is not supported", function="f", filename="<ipython-input-1-abc>", lineno=3)
    monkeypatch.setattr(nbadjoint, "profile", Recorder(raises=error), raising=False)
    result = ip.run_cell("%%adjoint_profile\n" + F_CELL)
    captured = capsys.readouterr()
    assert not result.success and result.error_in_exec is error
    assert captured.out.startswith("TransformError: `yield` is not supported (notebook cell, line 3, in f())")
    assert "Traceback" not in captured.out + captured.err


def test_the_shell_stays_usable_after_errors(ip, monkeypatch):
    monkeypatch.setattr(nbadjoint, "profile", Recorder(raises=TransformError("bad")), raising=False)
    assert not ip.run_cell("%%adjoint_profile\n" + F_CELL).success
    assert not ip.run_cell("%%adjoint_profile --frobnicate\n" + F_CELL).success
    assert ip.run_cell("21 * 2").result == 42


# --- %adjoint_source ---------------------------------------------------------------------------

def test_source_code_is_highlighted_python(monkeypatch):
    monkeypatch.setattr(nbadjoint, "adjoint_source", lambda f, argnums=None: f"def {f.__name__}_bwd(_c, b):\n    return (b,)\n",
                        raising=False)
    code = source_code(len)
    assert isinstance(code, Code)
    assert code.language == "python"
    assert code.data == "def len_bwd(_c, b):\n    return (b,)\n"


def test_adjoint_source_magic_displays_the_code_of_a_namespace_function(ip, monkeypatch):
    shown = []
    monkeypatch.setattr(magics, "display", shown.append)
    monkeypatch.setattr(nbadjoint, "adjoint_source", lambda f, argnums=None: f"# adjoint of {f.__name__}\n", raising=False)
    ip.run_cell("def f(x):\n    return x * x\n")
    ip.run_line_magic("adjoint_source", "f")
    assert [c.data for c in shown] == ["# adjoint of f\n"]


def test_adjoint_source_of_an_unknown_name_raises_usage_error(ip):
    with pytest.raises(UsageError, match="cannot evaluate 'no_such_function'"):
        ip.run_line_magic("adjoint_source", "no_such_function")


def test_plain_function_profile_cell_works_without_the_magic(ip, recorder):
    profile = profile_cell(F_CELL, shell=ip, wrt="n")
    assert isinstance(profile, FakeProfile)
    assert recorder.calls[0]["argnums"] == 1 and recorder.calls[0]["firstlineno"] == 1


def test_unload_removes_the_magics():
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    magics.unload_ipython_extension(shell)
    assert "adjoint_profile" not in shell.magics_manager.magics["cell"]
    assert "adjoint_source" not in shell.magics_manager.magics["line"]
    load_ipython_extension(shell)


# --- end to end, with the real compiler and profiler -------------------------------------------

MODEL_CELL = cell("""
    def step(u, dt):
        return u - dt * np.sin(u * u)

    def model(u0, n):
        u = u0
        for i in range(n):
            u = step(u, 0.1)
        return np.sum(u)

    x0 = np.linspace(0.0, 1.0, 50)
    model(x0, 4)
""")


def test_load_ext_nbadjoint_registers_the_magics():
    shell = InteractiveShell.instance()
    magics.unload_ipython_extension(shell)
    shell.run_line_magic("load_ext", "nbadjoint")
    assert "adjoint_profile" in shell.magics_manager.magics["cell"]
    assert "adjoint_source" in shell.magics_manager.magics["line"]


def test_profiling_a_cell_stores_a_profile_with_the_cells_call_site_ids(ip):
    result = ip.run_cell("%%adjoint_profile -o prof --no-widget\n" + MODEL_CELL)
    assert result.success
    prof = ip.user_ns["prof"]
    assert prof.root == "model"
    # line 1 of the cell is the magic; `u = step(u, 0.1)` is line 8 of the cell
    assert [site.id for site in prof.sites] == ["model:8:step"]
    assert prof.grad.shape == (50,)


def test_real_profile_report_is_printed_with_no_widget(ip, capsys):
    ip.run_cell("%%adjoint_profile --no-widget\n" + MODEL_CELL)
    out = capsys.readouterr().out
    assert "model:8:step" in out and "profile of model" in out


REFUSED_LINE = "    import math\n"


def test_transform_error_names_the_cells_own_line(ip, capsys):
    body = MODEL_CELL.replace("def step(u, dt):\n", "def step(u, dt):\n" + REFUSED_LINE)
    result = ip.run_cell("%%adjoint_profile\n" + body)
    captured = capsys.readouterr()
    assert not result.success and isinstance(result.error_in_exec, TransformError)
    assert captured.out.startswith("TransformError: ")
    assert "line 3" in captured.out  # the `import` is on line 3 of the cell (line 1 is the magic)
    assert "Traceback" not in captured.out + captured.err
    assert ip.run_cell("1 + 1").result == 2


def test_adjoint_source_magic_shows_the_generated_adjoint(ip, monkeypatch):
    shown = []
    monkeypatch.setattr(magics, "display", shown.append)
    ip.run_cell(MODEL_CELL.replace("model(x0, 4)", ""))
    ip.run_line_magic("adjoint_source", "model")
    (code,) = shown
    assert "def model_bwd" in code.data and "def step_bwd" in code.data


def test_adjoint_source_magic_with_argnums_shows_the_code_of_grad_with_those_argnums(ip, monkeypatch):
    shown = []
    monkeypatch.setattr(magics, "display", shown.append)
    ip.run_cell("def f(x, y, z):\n    return np.sum(x * y) + np.sum(np.sin(y)) + np.sum(np.exp(z))\n")
    ip.run_line_magic("adjoint_source", "--argnums 0,2 f")
    ip.run_line_magic("adjoint_source", "--argnums=-2 f")
    ip.run_line_magic("adjoint_source", "f")
    f = ip.user_ns["f"]
    assert [c.data for c in shown] == [nbadjoint.adjoint_source(f, (0, 2)), nbadjoint.adjoint_source(f, 1),
                                       nbadjoint.adjoint_source(f)]
    assert "cos" not in shown[0].data and "cos" in shown[1].data


@pytest.mark.parametrize("options, message", [
    ("--argnums x f", "--argnums takes integers like 0 or 0,2, got 'x'"),
    ("--argnums 3 f", r"--argnums 3 is out of range: f\(\) takes 3 argument\(s\)"),
    ("--argnums 0,-3 f", r"--argnums \(0, -3\) names argument 0 of f\(\) twice"),
])
def test_adjoint_source_magic_refuses_bad_argnums_with_the_usage(ip, options, message):
    ip.run_cell("def f(x, y, z):\n    return np.sum(x * y * z)\n")
    with pytest.raises(UsageError, match=message) as error:
        ip.run_line_magic("adjoint_source", options)
    assert "usage: %adjoint_source [--argnums I[,J...]] function" in str(error.value)


def test_in_a_jupyter_kernel_the_magics_show_the_widget_errors_and_code():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import numpy as np\n%load_ext nbadjoint",
        "%%adjoint_profile -o prof\n" + MODEL_CELL,
        "%%adjoint_profile\ndef bad(u):\n" + REFUSED_LINE + "    return u\n\nbad(np.ones(3))",
        "%adjoint_source model",
        "prof.sites[0].id",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True).execute()
    widget, transform_error, source, site_id = (cell.outputs for cell in notebook.cells[1:])
    assert not [o for o in widget if o["output_type"] == "stream"]   # progress is not on stderr
    # the progress display, emptied at the end, then the widget
    widget = [o for o in widget if o.get("data", {}).get("text/plain") != ""]
    assert "application/vnd.jupyter.widget-view+json" in widget[0]["data"]
    assert widget[0]["data"]["text/plain"].startswith("nbadjoint profile of model")
    (error,) = [o for o in transform_error if o["output_type"] == "error"]
    assert error["ename"] == "TransformError"
    assert error["traceback"][0].startswith("TransformError: imports are not supported (notebook cell, line 3")
    assert "def model_bwd" in source[0]["data"]["text/plain"] and "text/html" in source[0]["data"]
    assert site_id[0]["data"]["text/plain"] == "'model:8:step'"
