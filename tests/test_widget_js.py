"""Runs the widget's JavaScript unit tests (tests/js/*.test.mjs) with node's built-in test runner."""

import pathlib
import shutil
import subprocess

import pytest

JS_TESTS = pathlib.Path(__file__).parent / "js"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the widget's JS tests need node >= 18")
def test_widget_javascript_unit_tests_pass():
    files = sorted(str(path) for path in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no JavaScript tests found in {JS_TESTS}"
    result = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
