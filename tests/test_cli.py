"""``python -m nbadjoint profile FILE.py:FUNCTION``: report, JSON, progress and usage errors."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from nbadjoint.profiling.profile import Profile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL = textwrap.dedent('''\
    import numpy as np


    def stage(u, c):
        return u + c * np.sin(u)


    def step(u):
        v = stage(u, 0.1)
        return stage(v, 0.2)


    def model(u, n):
        for i in range(n):
            u = step(u)
        return np.sum(u * u)


    def default_args():
        return (np.linspace(0.0, 1.0, 50), 4)
    ''')

UNSUPPORTED = textwrap.dedent('''\
    def model(x):
        return eval("x")
    ''')


def nbadjoint(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nbadjoint", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "small_model.py"
    path.write_text(MODEL)
    return path


# -- usage errors (exit status 2, a message, no traceback) -----------------------------------------

def test_target_without_function_is_a_usage_error(model_file):
    out = nbadjoint("profile", str(model_file))
    assert out.returncode == 2
    assert "expected FILE.py:FUNCTION" in out.stderr and "Traceback" not in out.stderr


def test_missing_file_is_a_usage_error(tmp_path):
    out = nbadjoint("profile", str(tmp_path / "absent.py") + ":model")
    assert out.returncode == 2
    assert "no such file" in out.stderr and "Traceback" not in out.stderr


def test_unknown_function_lists_the_module_functions(model_file):
    out = nbadjoint("profile", f"{model_file}:nothing")
    assert out.returncode == 2
    assert "has no function 'nothing'" in out.stderr
    assert "default_args, model, stage, step" in out.stderr


def test_bad_args_expression_is_a_usage_error(model_file):
    out = nbadjoint("profile", f"{model_file}:model", "--args", "(undefined_name, 3)")
    assert out.returncode == 2
    assert "cannot evaluate --args" in out.stderr and "NameError" in out.stderr


def test_bad_budget_is_a_usage_error(model_file):
    out = nbadjoint("profile", f"{model_file}:model", "--budget", "lots")
    assert out.returncode == 2 and "--budget" in out.stderr


def test_function_needing_arguments_without_default_args_is_a_usage_error(tmp_path):
    path = tmp_path / "bare.py"
    path.write_text("def model(x):\n    return x * x\n")
    out = nbadjoint("profile", f"{path}:model")
    assert out.returncode == 2
    assert "pass --args EXPR or define default_args()" in out.stderr


def test_unsupported_code_prints_the_transform_error_without_traceback(tmp_path):
    path = tmp_path / "unsupported.py"
    path.write_text(UNSUPPORTED)
    out = nbadjoint("profile", f"{path}:model", "--args", "2.0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "unsupported.py" in out.stderr and "line 2" in out.stderr


# -- a profiled run -------------------------------------------------------------------------------

def test_profile_prints_the_report_and_writes_json(model_file, tmp_path):
    out_json = tmp_path / "p.json"
    out = nbadjoint("profile", f"{model_file}:model", "--repeat", "2", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("nbadjoint profile of model")
    assert "model:15:step" in out.stdout and "step:9:stage" in out.stdout
    loaded = Profile.from_json(out_json.read_text())
    assert loaded.root == "model"
    assert {s.id: s.calls for s in loaded.sites}["step:9:stage"] == 4


def test_profile_prints_progress_to_stderr(model_file):
    out = nbadjoint("profile", f"{model_file}:model", "--repeat", "2")
    assert out.returncode == 0, out.stderr
    for line in ("compiling...", "primal run 1/2...", "adjoint run 1/2...", "adjoint run 2/2..."):
        assert line in out.stderr
    assert "compiling" not in out.stdout


def test_args_expression_is_evaluated_in_the_module_namespace(model_file, tmp_path):
    out_json = tmp_path / "p.json"
    out = nbadjoint("profile", f"{model_file}:model", "--args", "(np.ones(10), 2)",
                    "--repeat", "1", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    data = json.loads(out_json.read_text())
    assert {s["id"]: s["calls"] for s in data["sites"]}["model:15:step"] == 2


def test_placement_option_sets_the_run_placement(model_file, tmp_path):
    out_json = tmp_path / "p.json"
    out = nbadjoint("profile", f"{model_file}:model", "--placement", '{"model:15:step": false}',
                    "--repeat", "1", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    assert json.loads(out_json.read_text())["placement"]["model:15:step"] is False


def test_unknown_site_in_placement_is_a_usage_error(model_file):
    out = nbadjoint("profile", f"{model_file}:model", "--placement", '{"nope:1:f": false}')
    assert out.returncode == 2
    assert "nope:1:f" in out.stderr and "Traceback" not in out.stderr


def test_budget_and_method_reach_the_advisor(model_file, tmp_path):
    out_json = tmp_path / "p.json"
    out = nbadjoint("profile", f"{model_file}:model", "--budget", "1GB", "--method", "greedy",
                    "--repeat", "1", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    assert "advisor (greedy)" in out.stdout and "budget 1.0 GB" in out.stdout
    assert json.loads(out_json.read_text())["suggestion"]["method"] == "greedy"


@pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "examples", "ocean_box.py")),
                    reason="examples/ocean_box.py is not in this checkout")
def test_ocean_box_example_profiles_from_the_command_line():
    out = nbadjoint("profile", "examples/ocean_box.py:the_main_loop",
                    "--args", "default_args(nx=12, ny=12, n_steps=3)", "--repeat", "1", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "forward_step" in out.stdout and "advisor (" in out.stdout


def test_cpu_clock_option_reaches_the_profile(model_file, tmp_path):
    out_json = tmp_path / "p.json"
    out = nbadjoint("profile", f"{model_file}:model", "--clock", "cpu", "--repeat", "1",
                    "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    assert "process CPU time" in out.stdout.splitlines()[0]
    assert json.loads(out_json.read_text())["clock"] == "cpu"


def test_file_that_does_not_parse_is_a_usage_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def model(x):\n    return x +\n")
    out = nbadjoint("profile", f"{path}:model", "--args", "1.0")
    assert out.returncode == 2
    assert "does not parse" in out.stderr and "line 2" in out.stderr


@pytest.mark.skipif(shutil.which("nbadjoint") is None, reason="the console script is not installed")
def test_console_script_runs_the_same_command(model_file):
    out = subprocess.run(["nbadjoint", "profile", f"{model_file}:model", "--repeat", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("nbadjoint profile of model")
