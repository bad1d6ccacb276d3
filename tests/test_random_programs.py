"""Differential tests on random programs: small NumPy modules of 2-3 functions, generated as source
text, written to a real file and imported; nbadjoint's gradient is checked against finite
differences and must not change, bit for bit, with the checkpoint placement.

Programs use for-range and while loops, break / continue / early return, if/else on integers,
fresh arrays written entry by entry and by slices, lists built by append, calls in statements and
expressions (positional and keyword arguments), callees returning arrays or tuples, and callees
that write into the array their caller passes.

The generated code is smooth (no abs / max / active comparisons) and bounded: updates add bounded
terms (sin, cos, tanh, exp(-x*x)), products only multiply by bounded factors, so values grow at
most linearly and finite differences stay accurate. Branches depend only on integers. Arrays are
written in place only where no other name shares them (the documented subset).
"""

import atexit
import hashlib
import importlib.util
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import gradcheck
from fuzz.chooser import HypothesisChooser
from gradcheck import assert_bitwise_equal, check_grad

import nbadjoint as nba

N = 5                                   # length of every array in the generated programs
COEFFS = ("0.1", "0.2", "0.3", "0.5", "-0.2", "-0.4")
BOUNDED = ("np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(-0.5 * ({0}) * ({0}))")
# No shrinking: it can take minutes; the failing program is printed in full instead.
SETTINGS = dict(max_examples=40, deadline=None, derandomize=True, database=None,
                phases=(Phase.explicit, Phase.generate),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MODULE_DIR = Path(tempfile.mkdtemp(prefix="nbadjoint_random_programs_"))
atexit.register(shutil.rmtree, MODULE_DIR, ignore_errors=True)


class FunctionWriter:
    """Writes one function body, drawing every choice from a chooser (hypothesis or a seeded RNG)."""

    def __init__(self, r, name, params, callees, kind):
        self.r = r                      # a chooser: int(lo, hi), choice(options)
        self.name = name
        # [(name, kind)] of deeper functions; kind is "array" (returns an array), "tuple" (an
        # array and a float) or "mutator" (writes into its array argument, returns a float)
        self.callees = callees
        self.kind = kind
        self.returns_tuple = kind == "tuple"
        self.is_main = kind == "main"
        self.lines = []
        self.counter = 0
        self.arrays = [params[0]]
        self.scalars = [params[1]]
        # arrays created in this function by NumPy: only these are written in place as a whole
        # (never parameters, never values returned by a callee)
        self.owned = set()
        # names whose entries may be written: owned arrays, and a mutator's array parameter
        self.entry_writable = {params[0]} if kind == "mutator" else set()
        self.header = f"def {name}({', '.join(params)}):"

    # ---------------------------------------------------------------- helpers
    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def choice(self, options):
        return self.r.choice(options)

    def flip(self, p_num=1, p_den=2):
        return self.r.int(0, p_den - 1) < p_num

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    # ---------------------------------------------------------------- expressions
    def bounded(self, depth, index=None):
        return self.choice(BOUNDED).format(self.array_expr(depth - 1, index))

    def array_expr(self, depth, index=None):
        """An array expression of magnitude linear in the variables it reads."""
        kinds = ["var", "var"] + (["bounded", "scale", "add", "mul", "scalar"] if depth > 0 else [])
        if depth > 0 and any(kind != "mutator" for _, kind in self.callees):
            kinds.append("call")
        kind = self.choice(kinds)
        if kind == "var":
            return self.choice(self.arrays)
        if kind == "call":
            callee, kind = self.choice([c for c in self.callees if c[1] != "mutator"])
            return f"{callee}({self.call_args(index)})" + ("[0]" if kind == "tuple" else "")
        if kind == "bounded":
            return self.bounded(depth, index)
        if kind == "scale":
            return f"{self.choice(COEFFS)} * {self.array_expr(depth - 1, index)}"
        if kind == "add":
            op = self.choice(("+", "-"))
            return f"({self.array_expr(depth - 1, index)} {op} {self.array_expr(depth - 1, index)})"
        if kind == "mul":
            return f"{self.array_expr(depth - 1, index)} * {self.bounded(depth, index)}"
        array, scalar = self.array_expr(depth - 1, index), self.scalar_expr(depth - 1, index)
        return f"{array} * np.tanh({scalar})"

    def scalar_expr(self, depth, index=None):
        """A float expression; ``index`` is a loop variable that may index arrays."""
        kinds = ["var", "element", "mean"] + (["sin", "add", "mulcos"] if depth > 0 else [])
        if depth > 0 and index is not None:
            kinds.append("ifexp")
        kind = self.choice(kinds)
        if kind == "var":
            return self.choice(self.scalars)
        if kind == "ifexp":
            left, right = self.scalar_expr(depth - 1, index), self.scalar_expr(depth - 1, index)
            return f"({left} if {index} % 2 == 0 else {right})"
        if kind == "element":
            positions = [str(i) for i in range(-N, N)] + ([f"{index} % {N}"] if index else [])
            where = self.choice(positions)
            return f"{self.choice(self.arrays)}[{where}]"
        if kind == "mean":
            return f"0.2 * np.sum({self.choice(self.arrays)})"
        if kind == "sin":
            return f"np.sin({self.scalar_expr(depth - 1, index)})"
        if kind == "add":
            return f"({self.scalar_expr(depth - 1, index)} + {self.scalar_expr(depth - 1, index)})"
        left, right = self.scalar_expr(depth - 1, index), self.scalar_expr(depth - 1, index)
        return f"{left} * np.cos({right})"

    def rebindable(self):
        """Array names that may be rebound: all but a mutator's parameter, whose writes must
        reach the caller."""
        return [v for v in self.arrays if v not in self.entry_writable]

    def writable(self):
        return sorted((self.owned | self.entry_writable) & set(self.arrays))

    def call_args(self, index, array=None):
        array, scalar, count = (array or self.array_expr(1, index), self.scalar_expr(1, index),
                                self.r.int(1, 3))
        if self.flip(1, 3):
            return f"{array}, m={count}, s={scalar}"
        return f"{array}, {scalar}, {count}"

    # ---------------------------------------------------------------- statements
    def block(self, indent, budget, index=None, in_loop=False):
        """At least one statement; names bound inside the block go out of scope after it."""
        saved = (list(self.arrays), list(self.scalars), set(self.owned))
        for _ in range(self.r.int(1, max(1, budget))):
            self.statement(indent, budget - 1, index, in_loop)
        self.arrays, self.scalars, self.owned = saved

    def statement(self, indent, budget, index, in_loop):
        kinds = ["assign_array", "update_array", "assign_scalar", "update_scalar", "fresh_array",
                 "list_build"]
        if len(self.scalars) > 1:
            kinds.append("swap_scalars")
        if budget > 0:
            kinds += ["for", "while", "if_const"]
        if self.callees:
            kinds += ["call", "call"]
        if self.writable():
            kinds += ["write_owned", "write_owned"]
        if index is not None:
            kinds += ["if_parity", "break_continue"]
        if in_loop and not self.is_main and index is not None:
            kinds += ["early_return"]
        getattr(self, "stmt_" + self.choice(kinds))(indent, budget, index)

    def stmt_assign_array(self, indent, budget, index):
        new = self.flip(1, 3) or not self.rebindable()
        target = self.fresh("a") if new else self.choice(self.rebindable())
        self.emit(indent, f"{target} = {self.bounded(2, index)}")
        self.owned.add(target)
        if new:
            self.arrays.append(target)

    def stmt_update_array(self, indent, budget, index):
        if not self.rebindable():
            return self.stmt_assign_array(indent, budget, index)
        target = self.choice(self.rebindable())
        in_place = ("+=", "-=", "*=") if target in self.owned else ()
        form = self.choice(in_place + ("plus", "avg"))
        if form in ("+=", "-="):
            self.emit(indent, f"{target} {form} {self.choice(COEFFS)} * {self.bounded(2, index)}")
        elif form == "*=":
            factor = self.choice(BOUNDED[:3]).format(self.array_expr(1, index))
            self.emit(indent, f"{target} *= {factor}")
        elif form == "plus":
            term = f"{self.choice(COEFFS)} * {self.bounded(2, index)}"
            self.emit(indent, f"{target} = {target} + {term}")
        else:
            self.emit(indent, f"{target} = 0.5 * ({target} + {self.choice(self.arrays)})")
        self.owned.add(target)

    def stmt_assign_scalar(self, indent, budget, index):
        new = self.flip(1, 2)
        target = self.fresh("t") if new else self.choice(self.scalars)
        self.emit(indent, f"{target} = np.tanh({self.scalar_expr(2, index)})")
        if new:
            self.scalars.append(target)

    def stmt_update_scalar(self, indent, budget, index):
        target = self.choice(self.scalars)
        op = self.choice(("+=", "-="))
        term = f"{self.choice(COEFFS)} * np.sin({self.scalar_expr(2, index)})"
        self.emit(indent, f"{target} {op} {term}")

    def stmt_fresh_array(self, indent, budget, index):
        w = self.fresh("w")
        self.emit(indent, f"{w} = {self.choice(('np.zeros', 'np.empty'))}({N})")
        j = self.fresh("j")
        src = self.choice(self.arrays)
        self.emit(indent, f"for {j} in range({N}):")
        self.emit(indent + 1, f"{w}[{j}] = np.sin({src}[{j}]) * {self.scalar_expr(1, j)}")
        for _ in range(self.r.int(0, 2)):
            form = self.choice(("shift", "interior", "entry", "step"))
            term = f"{self.choice(COEFFS)} * np.tanh({self.choice(self.arrays)}"
            if form == "shift":
                self.emit(indent, f"{w}[1:] += {term}[:-1])")
            elif form == "interior":
                self.emit(indent, f"{w}[1:-1] -= {term}[2:] - {self.choice(self.arrays)}[:-2])")
            elif form == "entry":
                self.emit(indent, f"{w}[{self.r.int(-N, N - 1)}] = "
                                  f"np.tanh({self.scalar_expr(1, index)})")
            else:
                self.emit(indent, f"{w}[::2] *= np.cos({self.choice(self.arrays)}[::2])")
        if self.rebindable():
            target = self.choice(self.rebindable())
            self.emit(indent, f"{target} = {target} + {self.choice(COEFFS)} * np.tanh({w})")
            self.owned.add(target)
        self.arrays.append(w)
        self.owned.add(w)

    def stmt_write_owned(self, indent, budget, index):
        target = self.choice(self.writable())
        other = self.choice(self.arrays)
        where = self.choice([str(i) for i in range(-N, N)] + ([f"{index} % {N}"] if index else []))
        form = self.choice(("set", "add", "shift", "overlap", "step"))
        if form == "set":
            self.emit(indent, f"{target}[{where}] = np.tanh({self.scalar_expr(1, index)})")
        elif form == "add":
            term = f"{self.choice(COEFFS)} * np.sin({self.scalar_expr(1, index)})"
            self.emit(indent, f"{target}[{where}] += {term}")
        elif form == "shift":
            self.emit(indent, f"{target}[1:] += {self.choice(COEFFS)} * np.tanh({other}[:-1])")
        elif form == "overlap":
            self.emit(indent, f"{target}[:-1] = 0.5 * ({target}[1:] + {other}[:-1])")
        else:
            self.emit(indent, f"{target}[::2] *= np.cos({other}[::2])")

    def stmt_list_build(self, indent, budget, index):
        items, j = self.fresh("lst"), self.fresh("j")
        self.emit(indent, f"{items} = []")
        self.emit(indent, f"for {j} in range({self.r.int(1, 3)}):")
        self.emit(indent + 1, f"{items}.append({self.bounded(1, j)})")
        reduce = self.choice(("np.sum(np.stack({}), axis=0)", "np.stack({})[-1]"))
        term = f"{self.choice(COEFFS)} * {reduce.format(items)}"
        if self.rebindable():
            target = self.choice(self.rebindable())
            self.emit(indent, f"{target} = {target} + {term}")
        else:
            target = self.fresh("a")
            self.emit(indent, f"{target} = {term}")
            self.arrays.append(target)
        self.owned.add(target)

    def stmt_swap_scalars(self, indent, budget, index):
        first = self.choice(self.scalars)
        second = self.choice([t for t in self.scalars if t != first])
        self.emit(indent, f"{first}, {second} = {second}, {first}")

    def stmt_for(self, indent, budget, index):
        i = self.fresh("i")
        bounds = self.choice(("1", "2", "3", "m", "1, 4", "0, 5, 2", "4, 0, -1"))
        if bounds == "m" and self.is_main:
            bounds = "3"
        self.emit(indent, f"for {i} in range({bounds}):")
        self.block(indent + 1, budget, i, in_loop=True)

    def stmt_while(self, indent, budget, index):
        k = self.fresh("k")
        self.emit(indent, f"{k} = 0")
        self.emit(indent, f"while {k} < {self.r.int(1, 3)}:")
        self.emit(indent + 1, f"{k} += 1")
        self.block(indent + 1, budget, k, in_loop=True)

    def stmt_if_const(self, indent, budget, index):
        a, b = self.r.int(0, 3), self.r.int(0, 3)
        self.emit(indent, f"if {a} {self.choice(('<', '>', '==', '!='))} {b}:")
        self.block(indent + 1, budget - 1, index, in_loop=False)
        if self.flip():
            self.emit(indent, "else:")
            self.block(indent + 1, budget - 1, index, in_loop=False)

    def stmt_if_parity(self, indent, budget, index):
        self.emit(indent, f"if {index} % 2 == {self.r.int(0, 1)}:")
        self.block(indent + 1, budget - 1, index, in_loop=False)
        self.emit(indent, "else:")
        self.block(indent + 1, budget - 1, index, in_loop=False)

    def stmt_break_continue(self, indent, budget, index):
        self.emit(indent, f"if {index} == {self.r.int(0, 3)}:")
        self.emit(indent + 1, self.choice(("break", "continue")))

    def stmt_early_return(self, indent, budget, index):
        self.emit(indent, f"if {index} == {self.r.int(1, 3)}:")
        self.emit(indent + 1, self.return_expr())

    def stmt_call(self, indent, budget, index):
        callees = self.callees if self.writable() else [
            c for c in self.callees if c[1] != "mutator"]
        if not callees:
            return self.stmt_assign_scalar(indent, budget, index)
        callee, kind = self.choice(callees)
        if kind == "mutator":
            # the callee writes into this array: pass it by name, keep using it afterwards
            args = self.call_args(index, array=self.choice(self.writable()))
            new = self.flip(1, 2)
            scalar = self.fresh("t") if new else self.choice(self.scalars)
            self.emit(indent, f"{scalar} = {callee}({args})")
            if new:
                self.scalars.append(scalar)
            return
        returns_tuple = kind == "tuple"
        args = self.call_args(index)
        targets = [v for v in self.rebindable() if v not in self.owned]
        target = self.choice(targets) if targets and self.flip(2, 3) else self.fresh("r")
        if returns_tuple:
            scalar = self.choice(self.scalars)
            self.emit(indent, f"{target}, {scalar} = {callee}({args})")
        else:
            self.emit(indent, f"{target} = {callee}({args})")
        if target not in self.arrays:
            self.arrays.append(target)

    # ---------------------------------------------------------------- function
    def return_expr(self):
        if self.is_main:
            return (f"return 0.1 * np.sum({self.array_expr(1)} * {self.array_expr(1)}) "
                    f"+ np.sum(np.sin({self.array_expr(2)})) + {self.scalar_expr(1)}")
        if self.kind == "mutator":
            return f"return {self.scalar_expr(1)}"
        if self.returns_tuple:
            return f"return {self.bounded(2)}, {self.scalar_expr(1)}"
        return f"return {self.choice(COEFFS)} * {self.array_expr(2)}"

    def write(self):
        self.block(1, 4)
        self.emit(1, self.return_expr())
        return "\n".join([self.header] + self.lines)


def program_source(r):
    """Source text of a module whose function ``main(x, s)`` returns a float; ``r`` is a chooser
    (tests/fuzz/chooser.py)."""
    depth = r.int(1, 2)                         # number of functions below main
    functions, callees = [], []
    for level in range(depth, 0, -1):
        name = f"f{level}"
        # hypothesis favours the first options of sampled_from; a wide integer spreads the kinds
        kind = ("array", "tuple", "mutator")[r.int(0, 2 ** 16) % 3]
        writer = FunctionWriter(r, name, ("a", "s", "m"), list(callees), kind)
        functions.append(writer.write())
        callees.append((name, kind))
    main = FunctionWriter(r, "main", ("x", "s"), callees, "main")
    # main always calls into the tree at least once
    callee, kind = callees[-1]
    if kind == "mutator":
        main.lines.append("    x = x * 1.0")
        main.lines.append(f"    s = s + 0.1 * {callee}(x, s, 2)")
        main.owned.add("x")
    else:
        main.lines.append(f"    {'x, s' if kind == 'tuple' else 'x'} = {callee}(x, s, 2)")
    functions.append(main.write())
    return "import numpy as np\n\n\n" + "\n\n\n".join(functions) + "\n"


@st.composite
def programs(draw):
    """Source text of a module whose function ``main(x, s)`` returns a float."""
    return program_source(HypothesisChooser(draw))


@st.composite
def inputs(draw):
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, N), float(rng.uniform(-1.0, 1.0)), seed


def load(source):
    """Write ``source`` to a real file and import it, so that nbadjoint can read its source."""
    name = "randprog_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    path = MODULE_DIR / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_checked(module, x, s):
    value = module.main(x.copy(), s)
    assert np.isfinite(value), "the generated program must return a finite float"
    return value


def note_program(source):
    note("generated program:\n" + source)


@settings(**SETTINGS)
@given(programs(), inputs())
def test_random_program_gradient_matches_finite_differences(source, xs):
    note_program(source)
    module = load(source)
    x, s, _ = xs
    run_checked(module, x, s)
    check_grad(module.main, (x, s), (0, 1), rtol=1e-5, atol=1e-7)


@settings(**{**SETTINGS, "max_examples": 25})
@given(programs(), inputs())
def test_random_program_gradient_is_bitwise_identical_under_random_placements(source, xs):
    note_program(source)
    module = load(source)
    x, s, seed = xs
    run_checked(module, x, s)
    sites = nba.call_sites(module.main)
    assert sites, "main calls into the generated tree, so it has at least one call site"
    reference = nba.grad(module.main, (0, 1))(x.copy(), s)
    rng = random.Random(seed)
    for placement in [dict.fromkeys(sites, False)] + [
            {site: rng.random() < 0.5 for site in sites} for _ in range(3)]:
        got = nba.grad(module.main, (0, 1), placement=placement)(x.copy(), s)
        assert_bitwise_equal(got, reference, f"gradient under placement {placement}")


@settings(**{**SETTINGS, "max_examples": 15})
@given(programs(), inputs())
def test_random_program_value_and_grad_value_equals_primal(source, xs):
    note_program(source)
    module = load(source)
    x, s, _ = xs
    value, _ = nba.value_and_grad(module.main, (0, 1))(x.copy(), s)
    assert_bitwise_equal(value, run_checked(module, x, s), "value_and_grad value")


@settings(**{**SETTINGS, "max_examples": 20})
@given(programs(), inputs())
def test_generated_programs_are_smooth_enough_for_finite_differences(source, xs):
    note_program(source)
    module = load(source)
    x, s, _ = xs
    run_checked(module, x, s)
    fine, _ = gradcheck.finite_difference_gradient(module.main, (x, s), 0)
    original = gradcheck.STEP_REL
    try:
        gradcheck.STEP_REL = 4 * original
        coarse, _ = gradcheck.finite_difference_gradient(module.main, (x, s), 0)
    finally:
        gradcheck.STEP_REL = original
    np.testing.assert_allclose(fine, coarse, rtol=1e-4, atol=1e-7)
