"""How the generated adjoints of the examples read, against a hand-written adjoint of Burgers.

    python benchmarks/readability.py

For each example (differentiated with respect to its first argument, as `nba.grad` does by
default, and compiled for the example's arguments, as `nba.grad(f)(*args)` compiles it) it counts,
in the code that runs when the shape guards hold (each function's ``F_bwd``; the
``F_bwd_general`` bodies run only where they fail):

- the statements of the backward sweeps (code lines: no comments, docstrings or blank lines);
- the None tests (``is None`` / ``is not None``) and the float tests (``.__class__ is float``) in them;
- the longest line of the whole generated module, and the lines over 100 characters.

Burgers is compared with the hand-written adjoint below, whose gradient is checked against
nbadjoint's first.
"""
import ast
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import burgers  # noqa: E402
import lorenz  # noqa: E402
import ocean_box  # noqa: E402

import nbadjoint as nba  # noqa: E402
from nbadjoint.transform.program import compile_tree  # noqa: E402


# --- the hand-written adjoint of examples/burgers.py (with respect to u0) -------------------------

def burgers_step_adjoint(u, u_b, dt, dx, nu):
    """The adjoint before one step of burgers_step, from u (the state before it) and u_b (after)."""
    advective_b = -dt * u_b / (2.0 * dx)
    diffusive_b = nu * dt * u_b / (dx * dx)
    flux_b = np.roll(advective_b, 1) - np.roll(advective_b, -1)
    return u_b + np.roll(diffusive_b, 1) - 2.0 * diffusive_b + np.roll(diffusive_b, -1) + flux_b * u


def burgers_adjoint(u0, u_obs, n_steps, dt, dx, nu):
    """The gradient of burgers() with respect to u0: states kept going forward, reversed after."""
    states = [u0]
    for _ in range(n_steps):
        states.append(burgers.burgers_step(states[-1], dt, dx, nu))
    u_b = (states[-1] - u_obs) / u0.size
    for u in reversed(states[:-1]):
        u_b = burgers_step_adjoint(u, u_b, dt, dx, nu)
    return u_b


HAND_WRITTEN = (burgers_step_adjoint, burgers_adjoint)


def code_lines(fdef) -> int:
    """Statements of a function, each counted by the lines it spans (no docstring, no comments)."""
    body = fdef.body[1:] if isinstance(fdef.body[0], ast.Expr) and isinstance(fdef.body[0].value, ast.Constant) \
        else fdef.body
    return sum(st.end_lineno - st.lineno + 1 for st in body)


def measure(name, f, args):
    source = compile_tree(f, 0, call_args=args).source()      # the code nba.grad(f)(*args) runs
    tree = ast.parse(source)
    bwd = [d for d in tree.body if isinstance(d, ast.FunctionDef) and d.name.endswith("_bwd")]
    text = "\n".join(ast.get_source_segment(source, d) for d in bwd)
    lines = source.split("\n")
    return {
        "example": name,
        "functions": len(bwd),
        "backward lines": sum(code_lines(d) for d in bwd),
        "None tests": text.count(" is None") + text.count(" is not None"),
        "float tests": text.count(".__class__ is float"),
        "longest line": max(map(len, lines)),
        "lines > 100": sum(len(line) > 100 for line in lines),
    }


def main():
    args = burgers.default_args(n_cells=200, n_steps=20)
    by_hand = burgers_adjoint(*args)
    generated = nba.grad(burgers.burgers)(*args)
    error = float(np.max(np.abs(by_hand - generated)) / np.max(np.abs(generated)))
    assert error < 1e-12, f"the hand-written adjoint disagrees with nbadjoint's gradient ({error:.1e})"
    hand = sum(code_lines(ast.parse(_source(f)).body[0]) for f in HAND_WRITTEN)
    rows = [measure("burgers", burgers.burgers, args), measure("lorenz", lorenz.lorenz96, lorenz.default_args()),
            measure("ocean", ocean_box.the_main_loop, ocean_box.default_args(nx=16, ny=16, n_steps=2))]
    keys = list(rows[0])
    print("  ".join(f"{k:>15}" for k in keys))
    for row in rows:
        print("  ".join(f"{row[k]!s:>15}" for k in keys))
    ratio = rows[0]["backward lines"] / hand
    print(f"\nBurgers by hand: {hand} lines (gradient equal to nbadjoint's to {error:.0e}); "
          f"generated backward sweeps: {rows[0]['backward lines']} lines, {ratio:.1f}x, "
          f"{rows[0]['None tests']} None tests")
    return rows, hand


def _source(f):
    import inspect
    import textwrap
    return textwrap.dedent(inspect.getsource(f))


if __name__ == "__main__":
    main()
