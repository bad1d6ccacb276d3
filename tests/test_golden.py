"""Golden tests: the generated adjoint code is deterministic and changes only on purpose.

Regenerate after an intended change with ``NBADJOINT_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``
and review the diff.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import golden_models as gm
import scalar_models as sm
from gradcheck import check_grad

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "model": (gm.model, 0, (np.linspace(0.0, 1.0, 5), 3)),
    "branchy": (gm.branchy, 0, (0.3, np.array([1.0, -2.0, 3.0]))),
    "stencil": (gm.stencil, 0, (np.linspace(0.0, 1.0, 6),)),
    "ring": (sm.ring, 0, ([0.3, -1.2, 0.8, 2.0], 0.7, 3)),      # scalar code: guarded markers
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_code_matches_its_golden_file(name):
    fn, argnums, _ = CASES[name]
    from nbadjoint.transform.program import compile_tree
    text = compile_tree(fn, argnums).source()
    path = GOLDEN / f"{name}.py"
    if os.environ.get("NBADJOINT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated code of {name} changed; see the module docstring"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_model_gradient_matches_finite_differences(name):
    fn, argnums, args = CASES[name]
    check_grad(fn, args, argnums=argnums)
