"""The allocator tuning: once per process, only on glibc, and switched off by the environment."""
import platform
import subprocess
import sys

import pytest

CODE = ("import nbadjoint.runtime.memory as m; first = m.keep_freed_memory(); "
        "print(first, m.keep_freed_memory() == first)")


def run(env_value=None):
    import os
    env = dict(os.environ)
    env.pop("NBADJOINT_MALLOC_TUNING", None)
    if env_value is not None:
        env["NBADJOINT_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_the_environment_switches_it_off(value):
    assert run(value) == ["False", "True"]


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_on_glibc_it_is_set_once():
    assert run() == ["True", "True"]


def test_an_adjoint_run_applies_it_and_importing_does_not(tmp_path):
    (tmp_path / "square.py").write_text("def f(x):\n    return x * x\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import square, nbadjoint as nba; "
            "import nbadjoint.runtime.memory as m; before = m._state['done']; "
            "g = nba.grad(square.f)(3.0); print(before, m._state['done'], g)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "6.0"]
