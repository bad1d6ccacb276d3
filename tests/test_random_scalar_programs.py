"""Differential tests on random scalar programs: lists of Python floats, list comprehensions over
``range(len(x))`` with cyclic neighbour reads, a time loop calling them, and a result that uses
every entry or only some of them (so the list adjoints come in with or without None entries).

These exercise the shape guards and the reversed loops without None checks: every program is
checked against finite differences, for other placements bit for bit, and again with
a 0-d array for the scalar parameter (the guards fail and every marker is taped), which must give
the same gradient.
"""

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

import nbadjoint as nba
from gradcheck import assert_bitwise_equal, check_grad
from test_random_programs import SETTINGS, load

X0 = [0.3, -0.7, 0.5, 0.9, -0.2]
TERMS = ("x[i]", "x[(i + 1) % n]", "x[i - 1]", "x[(i + 2) % n]", "c")
FACTORS = ("0.5", "-0.3", "0.2", "c")
WRAP = ("{}", "math.sin({})", "math.tanh({})")


@st.composite
def scalar_programs(draw):
    def term(first=False):
        a = draw(st.sampled_from(TERMS[:-1] if first else TERMS))     # rhs always reads x
        if draw(st.booleans()):
            a = f"{a} * {draw(st.sampled_from(TERMS))}"
        return draw(st.sampled_from(WRAP)).format(f"{draw(st.sampled_from(FACTORS))} * {a}")

    body = " + ".join(term(k == 0) for k in range(draw(st.integers(1, 3))))
    lines = ["import math", "", "",
             "def rhs(x, c):",
             "    n = len(x)",
             f"    return [{body} for i in range(n)]", "", ""]
    lines += ["def step(x, dt, c):",
              "    k = rhs(x, c)"]
    if draw(st.booleans()):
        lines.append("    k2 = rhs([x[i] + dt * k[i] for i in range(len(x))], c)")
        lines.append("    return [x[i] + 0.5 * dt * (k[i] + k2[i]) for i in range(len(x))]")
    else:
        lines.append("    return [x[i] + dt * k[i] for i in range(len(x))]")
    lines += ["", "", "def main(x0, c):", "    x = x0"]
    lines.append(f"    for step_index in range({draw(st.integers(1, 3))}):")
    lines.append("        x = step(x, 0.1, c)")
    ending = draw(st.sampled_from(["all", "some", "sum"]))
    if ending == "all":
        lines += ["    total = 0.0", "    for xi in x:", "        total = total + xi * xi", "    return total"]
    elif ending == "some":
        lines.append("    return x[0] * x[-1] + c * x[2]")
    else:
        lines.append("    return x[1] + math.sin(x[3]) * x[0]")
    return "\n".join(lines) + "\n"


@settings(**{**SETTINGS, "max_examples": 30})
@given(scalar_programs())
def test_random_scalar_program_gradients(source):
    note(source)
    module = load(source)
    assert "no None checks" in nba.adjoint_source(module.main)
    args = (list(X0), 0.4)
    g = check_grad(module.main, args, argnums=(0, 1))
    sites = nba.call_sites(module.main)
    for placement in ({s: False for s in sites}, {s: (k % 2 == 0) for k, s in enumerate(sites)}):
        assert_bitwise_equal(nba.grad(module.main, (0, 1), placement=placement)(list(X0), 0.4), g)
    # a 0-d array for c fails the guards: every marker is taped, the gradient is the same
    g_zero_d = nba.grad(module.main, (0, 1))(list(X0), np.array(0.4))
    np.testing.assert_allclose([float(v) for v in g_zero_d[0]], [float(v) for v in g[0]], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(g_zero_d[1]), float(g[1]), rtol=1e-12, atol=1e-14)
