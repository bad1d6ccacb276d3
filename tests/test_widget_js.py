"""Runs the widget's JavaScript unit tests (tests/js/*.test.mjs) with node's built-in test runner."""

import pathlib
import shutil
import subprocess

import pytest

JS_TESTS = pathlib.Path(__file__).parent / "js"


def _node_major():
    node = shutil.which("node")
    if node is None:
        return None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    return int(version.strip().lstrip("v").split(".")[0])


@pytest.mark.skipif((_node_major() or 0) < 18, reason="the widget's JS tests need node >= 18 (node --test)")
def test_widget_javascript_unit_tests_pass():
    files = sorted(str(path) for path in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no JavaScript tests found in {JS_TESTS}"
    result = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
