"""The Binder recipe works: a fresh virtual environment built from binder/requirements.txt, then
binder/postBuild, then every example notebook executed in that environment's own kernel.

Slow (it installs JupyterLab and the package from the index): run with ``pytest -m slow``.
"""
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
EXAMPLES = ROOT / "examples"
TIME_LIMIT = 600.0   # seconds for the whole recipe: build, configure, run the notebooks

# Runs inside the fresh environment: checks that the kernel is that environment's Python and that
# nbadjoint comes from its site-packages, then executes each notebook given on the command line.
RUNNER = r"""
import json, sys
from pathlib import Path
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

spec = KernelSpecManager().get_kernel_spec("python3")
print(json.dumps({"kernel_argv0": spec.argv[0], "prefix": sys.prefix}))
for name in sys.argv[1:]:
    path = Path(name)
    book = nbformat.read(path, as_version=4)
    book.cells.insert(0, nbformat.v4.new_code_cell(
        "import sys, nbadjoint; print('KERNEL', sys.prefix, nbadjoint.__file__)"))
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    first = "".join(o.get("text", "") for o in book.cells[0].outputs)
    print(json.dumps({"notebook": path.name, "kernel": first.split()[1:]}))
"""


def clean_environment(venv_dir):
    """os.environ with the fresh environment first on PATH and nothing leaking in from outside it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR")}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(command, env, cwd, timeout):
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def test_binder_files_are_in_place():
    requirements = (BINDER / "requirements.txt").read_text().split("\n")
    lines = [line.strip() for line in requirements if line.strip() and not line.startswith("#")]
    assert "." in lines, "binder/requirements.txt must install the package itself (a line `.`)"
    assert any(line.startswith("jupyterlab>=4") for line in lines)
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    assert post_build.read_text().startswith("#!/bin/bash")


@pytest.mark.slow
def test_binder_recipe_builds_and_runs_every_example_notebook(tmp_path):
    start = time.perf_counter()
    venv_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    env = clean_environment(venv_dir)
    python = str(venv_dir / "bin" / "python")

    # repo2docker runs `pip install -r binder/requirements.txt` from the repository root,
    # so that the line `.` is the package itself.
    run([python, "-m", "pip", "install", "-q", "-r", str(BINDER / "requirements.txt")],
        env, ROOT, TIME_LIMIT)
    run(["bash", str(BINDER / "postBuild")], env, ROOT, 120)

    page_config = venv_dir / "etc" / "jupyter" / "labconfig" / "page_config.json"
    disabled = json.loads(page_config.read_text()).get("disabledExtensions", {})
    assert disabled.get("@jupyterlab/apputils-extension:announcements") is True

    notebooks = sorted(str(path) for path in EXAMPLES.glob("*.ipynb"))
    assert len(notebooks) >= 4
    out = run([python, "-c", RUNNER, *notebooks], env, EXAMPLES, TIME_LIMIT)
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    executed = [report for report in reports if "notebook" in report]
    assert sorted(r["notebook"] for r in executed) == sorted(Path(n).name for n in notebooks)
    for report in executed:
        prefix, module_file = report["kernel"]
        assert Path(prefix).resolve() == venv_dir.resolve(), f"{report['notebook']} ran outside the venv"
        assert Path(module_file).resolve().is_relative_to(venv_dir.resolve()), (
            f"{report['notebook']} imported nbadjoint from {module_file}, not from the fresh install")

    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"the Binder recipe took {elapsed:.0f} s (limit {TIME_LIMIT:.0f} s)"
    print(f"binder recipe: {elapsed:.0f} s", file=sys.stderr)
