"""The call-tree widget in a real JupyterLab, driven in headless Chromium by Playwright.

Starts JupyterLab on 127.0.0.1 in a temporary copy of the example notebook, runs all cells, checks
the widget's tree, toggles a checkpoint (the prediction changes), applies the suggestions, reruns
(the measured figures update) and saves docs/screenshot/widget.png (and widget-dark.png).

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``).
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs" / "screenshot"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 180_000

NOTEBOOK_CELLS = [
    "import numpy as np\nimport nbadjoint as nba\n%load_ext nbadjoint",
    """%%adjoint_profile -o prof
def diffuse(u, k):
    return u + k * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))

def react(u, dt):
    return u + dt * np.sin(u) * u

def step(u, k, dt):
    u = diffuse(u, k)
    u = react(u, dt)
    return u

def model(u0, n):
    u = u0
    for i in range(n):
        u = step(u, 0.1, 0.01)
    return np.sum(u * u)

x0 = np.linspace(0.0, 1.0, 20000)
model(x0, 40)""",
]


def _notebook(cells):
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {}, "outputs": [],
                   "source": source} for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def _prepare_notebook(workdir):
    """The example quickstart notebook when it uses the magic or the widget, else a small one."""
    quickstart = ROOT / "examples" / "quickstart.ipynb"
    if quickstart.exists():
        text = quickstart.read_text(encoding="utf-8")
        if "%%adjoint_profile" in text or ".widget()" in text:
            shutil.copytree(ROOT / "examples", workdir / "examples")
            return "examples/quickstart.ipynb"
    (workdir / "widget_check.ipynb").write_text(json.dumps(_notebook(NOTEBOOK_CELLS)), encoding="utf-8")
    return "widget_check.ipynb"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url, process, log_path, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout} s")


@pytest.fixture
def jupyterlab(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the Python playwright package is not installed")
    if shutil.which("jupyter") is None:
        pytest.skip("jupyter is not installed")
    workdir = tmp_path / "work"
    workdir.mkdir()
    notebook = _prepare_notebook(workdir)
    port = _free_port()
    # no "get notified about Jupyter news?" prompt over the widget
    notification = tmp_path / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    log_path = tmp_path / "jupyterlab.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
               f"--ServerApp.root_dir={workdir}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(url, process, log_path)
        yield url, notebook
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_widget_in_jupyterlab_toggles_applies_and_reruns(jupyterlab):
    from playwright.sync_api import expect, sync_playwright

    url, notebook = jupyterlab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{url}/lab/tree/{notebook}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext")
            page.evaluate("""async () => {
                const panel = window.jupyterapp.shell.currentWidget;
                await panel.context.ready;
                await panel.sessionContext.ready;
                await window.jupyterapp.commands.execute('notebook:run-all-cells');
            }""")
            widget = page.locator(".nba-widget").first
            rows = widget.locator(".nba-row")
            rows.first.wait_for()
            assert rows.count() >= 2
            expect(widget.locator(".nba-error")).to_be_hidden()
            predicted = widget.locator(".nba-predicted .nba-stat-value")
            measured = widget.locator(".nba-measured .nba-stat-value")
            checkboxes = widget.locator(".nba-checkpoint")

            # toggle the first call site: the cost model re-predicts (exact figures in the
            # tooltip), nothing runs
            before = predicted.get_attribute("title")
            checkboxes.first.click()
            expect(predicted).not_to_have_attribute("title", before)
            expect(widget.locator(".nba-run")).to_have_count(1)

            # apply the advisor's placement, then measure it
            widget.locator(".nba-apply").click()
            widget.locator(".nba-rerun").click()
            expect(widget.locator(".nba-run")).to_have_count(2)
            expect(measured).to_contain_text("(run #2)")
            expect(widget.locator(".nba-error")).to_be_hidden()

            # the first call site's generated adjoint code
            rows.nth(1).click()
            expect(widget.locator(".nba-code-title")).to_contain_text("Generated adjoint of")
            expect(widget.locator(".nba-source-bwd")).to_contain_text("def ")

            # toggle the first site again: where the placement and the advice differ, a badge shows
            was_checked = checkboxes.first.is_checked()
            before = predicted.get_attribute("title")
            checkboxes.first.click()
            expect(checkboxes.first).to_be_checked(checked=not was_checked)
            expect(predicted).not_to_have_attribute("title", before)

            widget.scroll_into_view_if_needed()
            widget.screenshot(path=str(SCREENSHOTS / "widget.png"))

            widget.locator(".nba-line-profile").click()
            expect(widget.locator(".nba-line-profile-text")).to_contain_text("Timer unit")
            page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                          " {theme: 'JupyterLab Dark'})")
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
            page.wait_for_timeout(500)
            widget.screenshot(path=str(SCREENSHOTS / "widget-dark.png"))
        finally:
            browser.close()
    assert (SCREENSHOTS / "widget.png").stat().st_size > 10_000
