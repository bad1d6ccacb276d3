"""Derivative rules and runtime helpers, checked against central finite differences and autograd.

Each case is a primal call written as source text. The harness asks the rule for the adjoint text of
every active input, evaluates it the way generated code does (names ``np``, ``math``, ``_vjp``,
``g``, ``ans`` and the inputs), and compares the result with finite differences of the primal.
"""

import ast
import inspect
import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbadjoint.runtime import vjp
from nbadjoint.transform import rules
from nbadjoint.transform.rules import (
    ATTRIBUTE_FUNCS,
    BINOP_RULES,
    FRESH_RESULT,
    METHOD_FUNCS,
    UNARYOP_RULES,
    RuleError,
    canonical_name,
    find_rule,
    is_nondifferentiable,
)

NAMESPACE = {"np": np, "math": math, "_vjp": vjp}
STEP = 1e-6

# ----- harness -----


def input_spec(spec):
    """(shape or "float", low, high) from a spec: a shape tuple, "float", or (shape_or_float, low, high)."""
    if isinstance(spec, tuple) and len(spec) == 3 and isinstance(spec[1], float):
        return spec
    return spec, -2.0, 2.0


def make_inputs(call, inputs):
    """Input values for a case, uniform in the spec's range, seeded by the call text."""
    rng = np.random.default_rng(zlib.crc32(call.encode()))
    env = {}
    for name, spec in inputs.items():
        shape, low, high = input_spec(spec)
        if shape == "float":
            env[name] = float(rng.uniform(low, high))
        else:
            env[name] = rng.uniform(low, high, size=shape)
    return env


def resolve(call, env):
    """(rule, positional argument texts, keyword argument texts) for the call text."""
    node = ast.parse(call, mode="eval").body
    if isinstance(node, ast.BinOp):
        return BINOP_RULES[type(node.op)], [ast.unparse(node.left), ast.unparse(node.right)], {}
    if isinstance(node, ast.UnaryOp):
        return UNARYOP_RULES[type(node.op)], [ast.unparse(node.operand)], {}
    if isinstance(node, ast.Attribute):
        return find_rule(ATTRIBUTE_FUNCS[node.attr]), [ast.unparse(node.value)], {}
    assert isinstance(node, ast.Call), call
    args = [ast.unparse(a) for a in node.args]
    kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords}
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in env:
        return find_rule(METHOD_FUNCS[func.attr]), [func.value.id] + args, kwargs
    return find_rule(eval(ast.unparse(func), dict(NAMESPACE))), args, kwargs


def cotangent(ans):
    rng = np.random.default_rng(7)
    if np.ndim(ans) == 0:
        return 0.7
    return rng.uniform(-1.0, 1.0, size=np.shape(ans))


def evaluate(text, env, g, ans):
    return eval(text, dict(NAMESPACE), {**env, "g": g, "ans": ans})


def rule_adjoint(call, env, name, g, ans):
    """The adjoint of input `name` as the generated code would compute it (summed over its uses)."""
    rule, args, kwargs = resolve(call, env)
    assert rule is not None, f"no rule for {call}"
    total = 0.0
    used = False
    for i, text in enumerate(args):
        node = ast.parse(text, mode="eval").body
        paths = list(element_paths(node, name))
        if not paths:
            continue
        grad_text = rule.grads[i]("g", "ans", *args, **kwargs)
        assert grad_text is not None, f"{call}: no derivative for argument {i}"
        ast.parse(grad_text, mode="eval")  # must be one expression
        contribution = evaluate(grad_text, env, g, ans)
        for path in paths:
            piece = contribution
            for k in path:
                piece = piece[k]
            if rule.broadcast and not path:
                piece = vjp.unbroadcast(piece, vjp.shape_of(env[name]))
            total = total + piece
            used = True
    assert used, f"{name} is not a positional argument of {call}"
    return total


def element_paths(node, name, prefix=()):
    """Positions of the variable `name` inside an argument (itself, or elements of list/tuple displays)."""
    if isinstance(node, ast.Name) and node.id == name:
        yield prefix
    elif isinstance(node, (ast.List, ast.Tuple)):
        for k, element in enumerate(node.elts):
            yield from element_paths(element, name, prefix + (k,))


def numeric_adjoint(call, env, name, g):
    """sum(g * d call / d name) by central differences, shaped like env[name]."""
    def primal(value):
        return eval(call, dict(NAMESPACE), {**env, name: value})

    x = env[name]
    if isinstance(x, float):
        return float(np.sum(g * (np.asarray(primal(x + STEP)) - np.asarray(primal(x - STEP)))) / (2 * STEP))
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += STEP
        down[index] -= STEP
        out[index] = np.sum(g * (np.asarray(primal(up)) - np.asarray(primal(down)))) / (2 * STEP)
    return out


def check_against_finite_differences(call, inputs, active=None):
    env = make_inputs(call, inputs)
    ans = eval(call, dict(NAMESPACE), dict(env))
    g = cotangent(ans)
    results = {}
    for name in active or inputs:
        got = rule_adjoint(call, env, name, g, ans)
        expected = numeric_adjoint(call, env, name, g)
        assert np.shape(got) == np.shape(expected), f"{call}: adjoint of {name} has shape {np.shape(got)}"
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"{call} w.r.t. {name}")
        results[name] = got
    return results


# ----- the tables -----

A34 = (3, 4)
POS = ((3, 4), 0.5, 2.0)
UNIT = ((3, 4), -0.8, 0.8)
POS_F = ("float", 0.5, 2.0)
UNIT_F = ("float", -0.8, 0.8)

ARRAY_CASES = [
    ("np.sin(x)", {"x": A34}),
    ("np.cos(x)", {"x": A34}),
    ("np.tan(x)", {"x": UNIT}),
    ("np.arcsin(x)", {"x": UNIT}),
    ("np.arccos(x)", {"x": UNIT}),
    ("np.arctan(x)", {"x": A34}),
    ("np.sinh(x)", {"x": A34}),
    ("np.cosh(x)", {"x": A34}),
    ("np.tanh(x)", {"x": A34}),
    ("np.arcsinh(x)", {"x": A34}),
    ("np.arccosh(x)", {"x": ((3, 4), 1.5, 3.0)}),
    ("np.arctanh(x)", {"x": UNIT}),
    ("np.exp(x)", {"x": A34}),
    ("np.exp2(x)", {"x": A34}),
    ("np.expm1(x)", {"x": A34}),
    ("np.log(x)", {"x": POS}),
    ("np.log1p(x)", {"x": POS}),
    ("np.log2(x)", {"x": POS}),
    ("np.log10(x)", {"x": POS}),
    ("np.sqrt(x)", {"x": POS}),
    ("np.cbrt(x)", {"x": POS}),
    ("np.square(x)", {"x": A34}),
    ("np.reciprocal(x)", {"x": POS}),
    ("np.abs(x)", {"x": A34}),
    ("np.fabs(x)", {"x": A34}),
    ("abs(x)", {"x": A34}),
    ("np.negative(x)", {"x": A34}),
    ("np.deg2rad(x)", {"x": A34}),
    ("np.rad2deg(x)", {"x": A34}),
    ("-x", {"x": A34}),
    ("+x", {"x": A34}),
    ("x + y", {"x": A34, "y": A34}),
    ("x - y", {"x": A34, "y": A34}),
    ("x * y", {"x": A34, "y": A34}),
    ("x * x", {"x": A34}),
    ("x / y", {"x": A34, "y": POS}),
    ("x ** y", {"x": POS, "y": A34}),
    ("x ** 2", {"x": A34}),
    ("x ** 3", {"x": A34}),
    ("x ** 0.5", {"x": POS}),
    ("x ** -1.5", {"x": POS}),
    ("x % y", {"x": POS, "y": ((3, 4), 0.3, 0.7)}),
    ("np.add(x, y)", {"x": A34, "y": A34}),
    ("np.subtract(x, y)", {"x": A34, "y": A34}),
    ("np.multiply(x, y)", {"x": A34, "y": A34}),
    ("np.divide(x, y)", {"x": A34, "y": POS}),
    ("np.power(x, y)", {"x": POS, "y": A34}),
    ("np.arctan2(x, y)", {"x": A34, "y": A34}),
    ("np.hypot(x, y)", {"x": A34, "y": A34}),
    ("np.maximum(x, y)", {"x": A34, "y": A34}),
    ("np.minimum(x, y)", {"x": A34, "y": A34}),
    ("np.where(x > 0, x, y)", {"x": A34, "y": A34}),
    ("np.clip(x, -0.5, 0.7)", {"x": A34}),
    ("np.clip(x, lo, hi)", {"x": A34, "lo": ((3, 4), -2.0, -0.5), "hi": ((4,), 0.5, 2.0)}),
    ("np.sum(x)", {"x": A34}),
    ("np.sum(x, axis=0)", {"x": A34}),
    ("np.sum(x, 1, keepdims=True)", {"x": A34}),
    ("np.sum(x, axis=(0, 2))", {"x": (2, 3, 4)}),
    ("x.sum(axis=-1)", {"x": A34}),
    ("np.mean(x)", {"x": A34}),
    ("np.mean(x, axis=1)", {"x": A34}),
    ("x.mean(0, keepdims=True)", {"x": A34}),
    ("np.prod(x)", {"x": A34}),
    ("np.prod(x, axis=0)", {"x": A34}),
    ("np.prod(x, axis=(0, 2), keepdims=True)", {"x": (2, 3, 2)}),
    ("np.max(x)", {"x": A34}),
    ("np.max(x, axis=1)", {"x": A34}),
    ("np.amax(x, axis=0, keepdims=True)", {"x": A34}),
    ("np.min(x, axis=0)", {"x": A34}),
    ("x.min()", {"x": A34}),
    ("np.var(x)", {"x": A34}),
    ("np.var(x, axis=0, ddof=1)", {"x": A34}),
    ("x.var(1, keepdims=True)", {"x": A34}),
    ("np.std(x)", {"x": A34}),
    ("np.std(x, axis=1, ddof=1)", {"x": A34}),
    ("x.std(axis=(0, 1), keepdims=True)", {"x": (2, 3, 2)}),
    ("np.cumsum(x)", {"x": A34}),
    ("np.cumsum(x, axis=1)", {"x": A34}),
    ("np.cumsum(x, axis=0)", {"x": A34}),
    ("np.cumprod(x)", {"x": A34}),
    ("np.cumprod(x, axis=1)", {"x": A34}),
    ("x.cumprod(0)", {"x": A34}),
    ("x @ y", {"x": (3, 4), "y": (4, 2)}),
    ("x @ y", {"x": (4,), "y": (4, 2)}),
    ("x @ y", {"x": (3, 4), "y": (4,)}),
    ("x @ y", {"x": (4,), "y": (4,)}),
    ("x @ y", {"x": (2, 3, 4), "y": (4, 2)}),
    ("x @ y", {"x": (4,), "y": (2, 4, 3)}),
    ("np.matmul(x, y)", {"x": (3, 4), "y": (2, 4, 2)}),
    ("np.dot(x, y)", {"x": (3, 4), "y": (4, 2)}),
    ("np.dot(x, y)", {"x": (4,), "y": (4,)}),
    ("np.dot(x, y)", {"x": (3, 4), "y": (4,)}),
    ("np.dot(x, y)", {"x": (2, 3, 4), "y": (2, 4, 3)}),
    ("np.dot(x, y)", {"x": "float", "y": (4,)}),
    ("x.dot(y)", {"x": (4,), "y": (4, 2)}),
    ("np.outer(x, y)", {"x": (3,), "y": (4,)}),
    ("np.inner(x, y)", {"x": (4,), "y": (4,)}),
    ("np.inner(x, y)", {"x": (2, 4), "y": (3, 4)}),
    ("np.transpose(x)", {"x": A34}),
    ("np.transpose(x, (2, 0, 1))", {"x": (2, 3, 4)}),
    ("x.T", {"x": A34}),
    ("x.transpose(1, 2, 0)", {"x": (2, 3, 4)}),
    ("np.reshape(x, (4, 3))", {"x": A34}),
    ("x.reshape(2, 6)", {"x": A34}),
    ("x.reshape((12,))", {"x": A34}),
    ("np.ravel(x)", {"x": A34}),
    ("x.flatten()", {"x": A34}),
    ("np.squeeze(x)", {"x": (3, 1, 4)}),
    ("np.expand_dims(x, 1)", {"x": A34}),
    ("np.flip(x, axis=0)", {"x": A34}),
    ("np.flip(x)", {"x": A34}),
    ("np.roll(x, 2, axis=1)", {"x": A34}),
    ("np.roll(x, (1, -1), axis=(0, 1))", {"x": A34}),
    ("np.diff(x)", {"x": A34}),
    ("np.diff(x, n=2, axis=0)", {"x": (5, 3)}),
    ("np.take(x, [0, 2, 2])", {"x": A34}),
    ("np.take(x, [3, 0, 3], axis=1)", {"x": A34}),
    ("np.take(x, 1, axis=0)", {"x": A34}),
    ("np.trace(x)", {"x": (4, 4)}),
    ("np.trace(x, 1)", {"x": (3, 4)}),
    ("np.trace(x, axis1=1, axis2=2)", {"x": (2, 3, 3)}),
    ("np.diag(x)", {"x": (4,)}),
    ("np.diag(x, 1)", {"x": (3,)}),
    ("np.diag(x)", {"x": (3, 4)}),
    ("np.diag(x, -1)", {"x": (4, 3)}),
    ("np.concatenate([x, y])", {"x": (2, 3), "y": (4, 3)}),
    ("np.concatenate((x, y), axis=1)", {"x": (2, 3), "y": (2, 1)}),
    ("np.concatenate([x, y], axis=None)", {"x": (2, 3), "y": (4,)}),
    ("np.stack([x, y])", {"x": A34, "y": A34}),
    ("np.stack([x, y], axis=-1)", {"x": A34, "y": A34}),
    ("np.vstack([x, y])", {"x": (4,), "y": (2, 4)}),
    ("np.hstack([x, y])", {"x": (3,), "y": (2,)}),
    ("np.hstack([x, y])", {"x": (3, 2), "y": (3, 1)}),
    ("np.array([x, y, z])", {"x": "float", "y": "float", "z": "float"}),
    ("np.array([[x, y], [z, x]])", {"x": "float", "y": "float", "z": "float"}),
    ("np.array([x, y])", {"x": (3,), "y": (3,)}),
    ("np.array(x)", {"x": A34}),
    ("np.asarray(x)", {"x": A34}),
    ("np.copy(x)", {"x": A34}),
    ("x.copy()", {"x": A34}),
    ("x.astype(np.float64)", {"x": A34}),
    ("np.full((2, 3), x)", {"x": "float"}),
    ("np.full_like(y, x)", {"x": "float", "y": A34}, ["x"]),
    ("np.linalg.norm(x)", {"x": (5,)}),
    ("np.linalg.norm(x)", {"x": A34}),
    ("np.linalg.norm(x, axis=1)", {"x": A34}),
    ("np.linalg.norm(x, axis=0, keepdims=True)", {"x": A34}),
    ("np.linalg.norm(x, ord=3)", {"x": (5,)}),
    ("np.linalg.solve(a, b)", {"a": (3, 3), "b": (3,)}),
    ("np.linalg.solve(a, b)", {"a": (3, 3), "b": (3, 2)}),
    ("sum([x, y, z])", {"x": (3,), "y": (3,), "z": (3,)}),
    ("sum([x, y], z)", {"x": (3,), "y": (3,), "z": "float"}),
    ("x.item()", {"x": (1,)}),
    ("x.item(2)", {"x": (5,)}),
    ("x.item(-1)", {"x": A34}),
    ("x.item(1, 2)", {"x": A34}),
    ("x.item((2, 0))", {"x": A34}),
    ("np.concatenate([x, [y]])", {"x": (3,), "y": "float"}),
    ("np.concatenate([[y, z], x, (z,)])", {"x": (3,), "y": "float", "z": "float"}),
    ("np.concatenate([x, [[y, z, y]]])", {"x": (2, 3), "y": "float", "z": "float"}),
    ("np.concatenate([x, [y, z]], axis=None)", {"x": (2, 3), "y": "float", "z": "float"}),
    ("np.concatenate(x)", {"x": A34}),
    ("np.stack([x, [y, z, y]], axis=1)", {"x": (3,), "y": "float", "z": "float"}),
    ("np.stack([y, z])", {"y": "float", "z": "float"}),
    ("np.stack(x, axis=1)", {"x": A34}),
    ("np.hstack([x, y, [z]])", {"x": (3,), "y": "float", "z": "float"}),
    ("np.hstack(x)", {"x": A34}),
    ("np.vstack([x, [y, z, y]])", {"x": (3,), "y": "float", "z": "float"}),
    ("np.vstack([y, z])", {"y": "float", "z": "float"}),
    ("np.vstack(x)", {"x": A34}),
    ("np.column_stack([x, y])", {"x": (3,), "y": (3, 2)}),
    ("np.column_stack([x, [y, z, y]])", {"x": (3,), "y": "float", "z": "float"}),
    ("np.dstack([x, y])", {"x": (2, 3), "y": (2, 3)}),
    ("np.dstack([x, [y, z]])", {"x": (2,), "y": "float", "z": "float"}),
    ("np.append(x, y)", {"x": A34, "y": "float"}),
    ("np.append([y, z], x)", {"x": (3,), "y": "float", "z": "float"}),
    ("np.append(x, y, axis=0)", {"x": (2, 3), "y": (1, 3)}),
    ("np.append(x, [[y, z, y]], axis=0)", {"x": (2, 3), "y": "float", "z": "float"}),
]


def case_id(case):
    call, inputs = case[0], case[1]
    return call + " " + " ".join(f"{name}={input_spec(spec)[0]}" for name, spec in inputs.items())


@pytest.mark.parametrize("case", ARRAY_CASES, ids=case_id)
def test_rule_matches_finite_differences(case):
    call, inputs, *active = case
    check_against_finite_differences(call, inputs, active[0] if active else None)


BROADCAST_CASES = [
    "x + y", "x - y", "x * y", "x / y", "x ** y", "x % y", "np.add(x, y)", "np.multiply(x, y)", "np.power(x, y)",
    "np.arctan2(x, y)", "np.hypot(x, y)", "np.maximum(x, y)", "np.minimum(x, y)", "np.where(x > y, x, y)",
]


@pytest.mark.parametrize("call", BROADCAST_CASES)
def test_broadcast_rule_sums_back_to_shapes_n1_and_m(call):
    grads = check_against_finite_differences(call, {"x": ((3, 1), 0.5, 2.0), "y": ((4,), 0.5, 1.5)})
    assert np.shape(grads["x"]) == (3, 1)
    assert np.shape(grads["y"]) == (4,)


@pytest.mark.parametrize("call", ["x + y", "x * y", "x / y", "x ** y", "np.maximum(x, y)", "x @ y"])
def test_broadcast_rule_sums_back_to_a_python_float(call):
    inputs = {"x": ("float", 0.5, 2.0), "y": ((4,), 0.5, 1.5)} if "@" not in call \
        else {"x": (2, 3, 4), "y": (4,)}
    grads = check_against_finite_differences(call, inputs)
    assert np.shape(grads["x"]) == np.shape(make_inputs(call, inputs)["x"])


SCALAR_CASES = [
    ("x + y", {"x": "float", "y": "float"}),
    ("x - y", {"x": "float", "y": "float"}),
    ("x * y", {"x": "float", "y": "float"}),
    ("x / y", {"x": "float", "y": POS_F}),
    ("x ** y", {"x": POS_F, "y": "float"}),
    ("x ** 2", {"x": "float"}),
    ("x ** 0.5", {"x": POS_F}),
    ("x % y", {"x": POS_F, "y": ("float", 0.3, 0.4)}),
    ("-x", {"x": "float"}),
    ("abs(x)", {"x": "float"}),
    ("max(x, y)", {"x": "float", "y": "float"}),
    ("min(x, y)", {"x": "float", "y": "float"}),
    ("pow(x, y)", {"x": POS_F, "y": "float"}),
    ("float(x)", {"x": "float"}),
    ("math.sin(x)", {"x": "float"}),
    ("math.cos(x)", {"x": "float"}),
    ("math.tan(x)", {"x": UNIT_F}),
    ("math.asin(x)", {"x": UNIT_F}),
    ("math.acos(x)", {"x": UNIT_F}),
    ("math.atan(x)", {"x": "float"}),
    ("math.sinh(x)", {"x": "float"}),
    ("math.cosh(x)", {"x": "float"}),
    ("math.tanh(x)", {"x": "float"}),
    ("math.asinh(x)", {"x": "float"}),
    ("math.acosh(x)", {"x": ("float", 1.5, 3.0)}),
    ("math.atanh(x)", {"x": UNIT_F}),
    ("math.exp(x)", {"x": "float"}),
    ("math.exp2(x)", {"x": "float"}),
    ("math.expm1(x)", {"x": "float"}),
    ("math.log(x)", {"x": POS_F}),
    ("math.log(x, y)", {"x": POS_F, "y": ("float", 1.5, 3.0)}),
    ("math.log1p(x)", {"x": POS_F}),
    ("math.log2(x)", {"x": POS_F}),
    ("math.log10(x)", {"x": POS_F}),
    ("math.sqrt(x)", {"x": POS_F}),
    ("math.cbrt(x)", {"x": POS_F}),
    ("math.fabs(x)", {"x": "float"}),
    ("math.erf(x)", {"x": "float"}),
    ("math.erfc(x)", {"x": "float"}),
    ("math.degrees(x)", {"x": "float"}),
    ("math.radians(x)", {"x": "float"}),
    ("math.pow(x, y)", {"x": POS_F, "y": "float"}),
    ("math.atan2(x, y)", {"x": "float", "y": "float"}),
    ("math.hypot(x, y)", {"x": "float", "y": "float"}),
    ("np.sin(x)", {"x": "float"}),
    ("np.exp(x)", {"x": "float"}),
    ("np.sum(x)", {"x": "float"}),
]


@pytest.mark.parametrize("case", SCALAR_CASES, ids=case_id)
def test_scalar_rule_works_on_python_floats(case):
    call, inputs = case
    grads = check_against_finite_differences(call, inputs)
    for name, value in grads.items():
        assert not isinstance(value, np.ndarray), f"{call}: adjoint of {name} became an array"


@pytest.mark.parametrize("call", ["x + y", "x - y", "x * y", "x / 2.0", "x ** 2", "-x", "math.sin(x)",
                                  "math.exp(x)", "math.sqrt(x)"])
def test_hot_scalar_rules_are_plain_arithmetic_without_numpy(call):
    """The adjoint of a hot scalar operation is plain arithmetic; where a Python-number divisor may be 0
    (math.sqrt at 0), the plain branch runs whenever it is not (`... if ans else _vjp.div(...)`)."""
    env = make_inputs(call, {"x": POS_F, "y": POS_F})
    rule, args, kwargs = resolve(call, env)
    for i in (i for i, a in enumerate(args) if a in env):
        text = rule.grads[i]("g", "ans", *args, **kwargs)
        node = ast.parse(text, mode="eval").body
        fast = ast.unparse(node.body) if isinstance(node, ast.IfExp) else text
        assert "np." not in fast and "_vjp." not in fast, text


# ----- ties, guards and subgradients -----


def test_maximum_splits_the_derivative_equally_at_ties():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])
    g = np.ones(3)
    np.testing.assert_array_equal(vjp.maximum_grad(g, a, b), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(vjp.maximum_grad(g, b, a), [0.5, 0.0, 1.0])
    assert vjp.maximum_grad(2.0, 1.0, 1.0) == 1.0


def test_minimum_splits_the_derivative_equally_at_ties():
    assert vjp.minimum_grad(1.0, 2.0, 2.0) == 0.5
    assert vjp.minimum_grad(1.0, 1.0, 2.0) == 1.0
    assert vjp.minimum_grad(1.0, 3.0, 2.0) == 0.0


def test_max_reduction_splits_the_derivative_equally_between_tied_maxima():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    got = vjp.max_grad(np.array([1.0, 1.0]), x, np.max(x, axis=1), axis=1)
    np.testing.assert_array_equal(got, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


def test_prod_adjoint_is_exact_where_an_entry_is_zero():
    x = np.array([2.0, 0.0, 3.0, 4.0])
    np.testing.assert_array_equal(vjp.prod_grad(1.0, x), [0.0, 24.0, 0.0, 0.0])


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_cumprod_adjoint_is_exact_where_an_entry_is_zero(axis):
    x = np.array([[2.0, 0.0, 3.0], [1.5, 2.0, 0.0]])
    g = np.random.default_rng(5).uniform(size=np.cumprod(x, axis=axis).shape)
    expected = numeric_adjoint("np.cumprod(x, axis=axis)", {"x": x, "axis": axis}, "x", g)
    np.testing.assert_allclose(vjp.cumprod_grad(g, x, np.cumprod(x, axis=axis), axis), expected, atol=1e-8)


def test_power_exponent_derivative_is_zero_where_the_base_is_not_positive():
    text = BINOP_RULES[ast.Pow].grads[1]("g", "ans", "a", "b")
    a = np.array([-2.0, 0.0, 2.0])
    b = np.array([2.0, 2.0, 2.0])
    got = evaluate(text, {"a": a, "b": b}, np.ones(3), a ** b)
    np.testing.assert_allclose(got, [0.0, 0.0, 4.0 * math.log(2.0)])
    assert np.all(np.isfinite(got))


def test_power_with_a_literal_exponent_inlines_the_derivative():
    assert BINOP_RULES[ast.Pow].grads[0]("g", "ans", "x", "2") == "2 * x * g"
    assert BINOP_RULES[ast.Pow].grads[0]("g", "ans", "x", "3") == "3 * g * x ** 2"
    assert BINOP_RULES[ast.Pow].grads[0]("g", "ans", "x", "-1") == "-1 * g * x ** (-2)"


def test_abs_derivative_is_zero_at_zero():
    assert vjp.sign(0.0) == 0
    np.testing.assert_array_equal(vjp.sign(np.array([-1.0, 0.0, 2.0])), [-1.0, 0.0, 1.0])


def test_norm_derivative_is_zero_for_a_zero_vector():
    np.testing.assert_array_equal(vjp.norm_grad(1.0, np.zeros(3), 0.0), np.zeros(3))


# ----- texts the generator reads -----


READS = [  # (call, argument index, variables the contribution reads)
    ("x * y", 0, {"g", "y"}),
    ("x / y", 1, {"g", "ans", "y"}),
    ("x ** 2", 0, {"g", "x"}),
    ("np.exp(x)", 0, {"g", "ans"}),
    ("np.sqrt(x)", 0, {"g", "ans"}),
    ("np.tanh(x)", 0, {"g", "ans"}),
    ("np.log(x)", 0, {"g", "x"}),
    ("x + y", 1, {"g"}),
]


@pytest.mark.parametrize("call,index,reads", READS)
def test_rule_reads_only_what_it_needs(call, index, reads):
    rule, args, kwargs = resolve(call, {"x": 0.0, "y": 0.0})
    text = rule.grads[index]("g", "ans", *args, **kwargs)
    names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)} - {"np", "math", "_vjp"}
    assert names == reads, text


@pytest.mark.parametrize("call", ["np.sum(x, axis=0)", "np.mean(x)", "np.reshape(x, (4, 3))", "np.cumsum(x)",
                                  "np.concatenate([x, y])", "np.take(x, [0, 1])"])
def test_shape_only_rules_read_the_argument_through_shape_of(call):
    rule, args, kwargs = resolve(call, {"x": 0.0, "y": 0.0})
    text = rule.grads[0]("g", "ans", *args, **kwargs)
    tree = ast.parse(text)
    inside = {id(n) for c in ast.walk(tree) if isinstance(c, ast.Call) and ast.unparse(c.func) == "_vjp.shape_of"
              for n in ast.walk(c)}
    outside = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in "xy" and id(n) not in inside]
    assert outside == [], text


def test_compound_argument_text_is_parenthesised():
    text = find_rule(np.sin).grads[0]("g", "ans", "a + b")
    assert text == "g * np.cos(a + b)"
    text = BINOP_RULES[ast.Pow].grads[0]("g", "ans", "-1.5", "k")
    assert text == "g * k * (-1.5) ** (k - 1)"
    assert find_rule(np.sum).grads[0]("g", "ans", "x", "i + 1") == "_vjp.sum_grad(g, _vjp.shape_of(x), i + 1, False)"


def test_floor_division_has_no_derivative():
    rule = BINOP_RULES[ast.FloorDiv]
    assert rule.grads[0]("g", "ans", "a", "b") is None
    assert rule.grads[1]("g", "ans", "a", "b") is None


def test_integer_parameters_get_no_derivative():
    rule = find_rule(np.sum)
    assert rule.grads[1]("g", "ans", "x", "0") is None
    assert find_rule(np.take).grads[1]("g", "ans", "x", "idx") is None


def test_every_rule_has_a_name_that_evaluates_to_its_primal():
    for func, rule in rules._HAND_RULES.items():
        assert eval(rule.name, dict(NAMESPACE)) is func, rule.name


def test_out_argument_is_rejected_with_advice():
    with pytest.raises(RuleError, match="leave out at its default"):
        find_rule(np.sum).grads[0]("g", "ans", "x", out="buf")


def test_unknown_keyword_is_rejected_with_the_supported_signature():
    with pytest.raises(RuleError, match=r"np\.sin\(x, /\)"):
        find_rule(np.sin).grads[0]("g", "ans", "x", where="mask")


def test_norm_with_an_order_that_has_no_derivative_is_rejected():
    with pytest.raises(RuleError, match="ord=1"):
        find_rule(np.linalg.norm).grads[0]("g", "ans", "x", ord="1")


def test_astype_to_an_integer_dtype_has_no_derivative():
    assert find_rule(np.ndarray.astype).grads[0]("g", "ans", "x", "int") is None


def test_astype_to_a_dtype_named_by_a_variable_is_decided_at_run_time():
    text = find_rule(np.ndarray.astype).grads[0]("g", "ans", "x", "kind")
    assert text == "_vjp.cast_grad(g, kind)"
    g = np.ones(3)
    assert evaluate(text, {"kind": np.float32}, g, None) is g
    np.testing.assert_array_equal(evaluate(text, {"kind": np.int64}, g, None), np.zeros(3))


# ----- autograd fallback -----

FALLBACK_CASES = [
    ("np.tile(x, (2, 1))", {"x": (2, 3)}),
    ("np.repeat(x, 2, axis=0)", {"x": (2, 3)}),
    ("np.logaddexp(x, y)", {"x": A34, "y": A34}),
    ("np.cross(x, y)", {"x": (2, 3), "y": (2, 3)}),
    ("np.tensordot(x, y, 1)", {"x": (2, 3), "y": (3, 4)}),
    ("np.kron(x, y)", {"x": (2, 2), "y": (2, 3)}),
    ("np.linalg.det(x)", {"x": ((3, 3), 0.0, 1.0)}),
    ("np.linalg.inv(x)", {"x": ((3, 3), 0.0, 1.0)}),
    ("np.triu(x)", {"x": (3, 3)}),
    ("np.swapaxes(x, 0, 1)", {"x": (2, 3)}),
    ("np.sinc(x)", {"x": A34}),
]


@pytest.mark.parametrize("case", FALLBACK_CASES, ids=case_id)
def test_autograd_fallback_matches_finite_differences(case):
    call, inputs = case
    env = make_inputs(call, inputs)
    rule, args, kwargs = resolve(call, env)
    assert "_vjp.autograd_vjp(" in rule.grads[args.index("x")]("g", "ans", *args, **kwargs)
    check_against_finite_differences(call, inputs)


def test_autograd_fallback_accepts_the_differentiated_argument_by_keyword():
    text = find_rule(np.tile).grads[0]("g", "ans", A="x", reps="2")
    assert text == "_vjp.autograd_vjp(np.tile, 0, g, ans, (x,), {'reps': 2})"


def test_function_unknown_to_autograd_has_no_rule():
    assert find_rule(np.nancumprod) is None
    assert find_rule(print) is None


def test_every_method_and_attribute_function_is_classified():
    for func in list(METHOD_FUNCS.values()) + list(ATTRIBUTE_FUNCS.values()):
        assert is_nondifferentiable(func) or find_rule(func) is not None, canonical_name(func)


AGREE_WITH_AUTOGRAD = [  # (function, arguments) where autograd's own vjp is the reference
    (np.sin, ((3, 4),)), (np.tanh, ((3, 4),)), (np.exp, ((3, 4),)), (np.abs, ((3, 4),)),
    (np.sum, ((3, 4),)), (np.mean, ((3, 4),)), (np.std, ((3, 4),)), (np.var, ((3, 4),)), (np.prod, ((3, 4),)),
    (np.max, ((3, 4),)), (np.cumsum, ((3, 4),)),
    (np.dot, ((3, 4), (4, 2))), (np.matmul, ((2, 3, 4), (4, 2))), (np.inner, ((2, 4), (3, 4))),
    (np.outer, ((3,), (4,))), (np.linalg.solve, ((3, 3), (3, 2))), (np.linalg.norm, ((3, 4),)),
    (np.trace, ((3, 3),)), (np.diag, ((3, 3),)), (np.transpose, ((2, 3, 4),)),
]


@pytest.mark.parametrize("func,shapes", AGREE_WITH_AUTOGRAD, ids=lambda v: getattr(v, "__name__", ""))
def test_hand_written_rule_agrees_with_autograd(func, shapes):
    rng = np.random.default_rng(3)
    values = [rng.uniform(0.5, 1.5, size=s) for s in shapes]
    names = [f"a{i}" for i in range(len(values))]
    env = dict(zip(names, values))
    ans = func(*values)
    g = cotangent(ans)
    rule = find_rule(func)
    for i, name in enumerate(names):
        got = evaluate(rule.grads[i]("g", "ans", *names), env, g, ans)
        if rule.broadcast:
            got = vjp.unbroadcast(got, vjp.shape_of(values[i]))
        np.testing.assert_allclose(got, vjp.autograd_vjp(func, i, g, ans, tuple(values), {}), rtol=1e-10)


# ----- runtime helpers -----


def test_unbroadcast_returns_the_same_object_when_shapes_match():
    g = np.ones((3, 4))
    assert vjp.unbroadcast(g, (3, 4)) is g


def test_unbroadcast_sums_leading_and_size_one_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(vjp.unbroadcast(g, (3, 1)), g.sum(axis=0).sum(axis=1, keepdims=True))


def test_unbroadcast_to_a_scalar_marker_sums_everything():
    assert vjp.unbroadcast(np.ones((2, 3)), None) == 6.0
    assert vjp.unbroadcast(2.5, None) == 2.5


def test_shape_of_marks_scalars_arrays_and_sequences():
    assert vjp.shape_of(1.0) is None
    assert vjp.shape_of(np.float64(1.0)) is None
    assert vjp.shape_of(np.zeros((2, 3))) == (2, 3)
    assert vjp.shape_of(np.zeros(())) == ()
    assert vjp.shape_of([np.zeros(2), 1.0]) == [(2,), None]


def test_zeros_like_adjoint_follows_the_structure():
    x = {"a": np.ones(2), "b": (1.0, [np.ones((1, 2))])}
    z = vjp.zeros_like_adjoint(x)
    assert z["b"][0] == 0.0 and isinstance(z["b"], tuple) and isinstance(z["b"][1], list)
    np.testing.assert_array_equal(z["a"], np.zeros(2))
    np.testing.assert_array_equal(z["b"][1][0], np.zeros((1, 2)))
    assert vjp.zeros_like_adjoint(np.arange(3)).dtype == np.float64


def test_sum_grad_returns_a_writable_new_array():
    out = vjp.sum_grad(np.ones(3), (3, 4), 1, False)
    out[0, 0] = 5.0
    assert out.shape == (3, 4)


# ----- tables for the generator -----

METHOD_CALLS = [  # (method, extra args)
    ("sum", (0,)), ("mean", ()), ("prod", (1,)), ("max", (0,)), ("min", ()), ("std", ()), ("var", (1,)),
    ("cumsum", (1,)), ("cumprod", ()), ("dot", (np.ones(4),)), ("trace", ()), ("diagonal", ()),
    ("clip", (0.2, 0.6)), ("take", ([0, 2],)), ("repeat", (2,)), ("swapaxes", (0, 1)), ("squeeze", ()),
    ("ravel", ()), ("conj", ()), ("reshape", (4, 3)), ("reshape", ((2, 6),)), ("transpose", ()),
    ("transpose", (1, 0)), ("flatten", ()), ("copy", ()), ("astype", (np.float32,)), ("round", (1,)),
    ("any", ()), ("all", ()), ("argmax", ()), ("argmin", (0,)), ("argsort", ()), ("nonzero", ()),
]


@pytest.mark.parametrize("method,args", METHOD_CALLS, ids=lambda v: v if isinstance(v, str) else "")
def test_method_funcs_compute_the_same_as_the_method(method, args):
    x = np.random.default_rng(1).uniform(size=(3, 4))
    expected = getattr(x, method)(*args)
    got = METHOD_FUNCS[method](x, *args)
    if isinstance(expected, tuple):
        for e, o in zip(expected, got):
            np.testing.assert_array_equal(e, o)
    else:
        np.testing.assert_array_equal(got, expected)
        assert np.shape(got) == np.shape(expected)


def test_method_funcs_keep_copy_semantics():
    x = np.ones((2, 2))
    METHOD_FUNCS["flatten"](x)[0] = 5.0
    METHOD_FUNCS["copy"](x)[0, 0] = 5.0
    assert np.all(x == 1.0)


@pytest.mark.parametrize("attr", sorted(ATTRIBUTE_FUNCS))
def test_attribute_funcs_compute_the_attribute(attr):
    x = np.random.default_rng(2).uniform(size=(3, 4))
    assert np.array_equal(ATTRIBUTE_FUNCS[attr](x), getattr(x, attr))


@pytest.mark.parametrize("attr,differentiable", [("T", True), ("real", True), ("shape", False), ("size", False),
                                                  ("ndim", False), ("dtype", False)])
def test_attribute_funcs_are_classified(attr, differentiable):
    func = ATTRIBUTE_FUNCS[attr]
    assert is_nondifferentiable(func) is not differentiable
    assert (find_rule(func) is not None) is differentiable


NONDIFF = [np.floor, np.ceil, np.round, np.sign, np.argmax, np.argsort, np.shape, len, np.zeros, np.ones,
           np.empty, np.arange, np.eye, np.isnan, np.logical_and, np.greater, np.equal, np.all, int, bool, range,
           np.random.rand, np.random.normal, np.random.default_rng(0).normal, math.floor, np.zeros_like]


@pytest.mark.parametrize("func", NONDIFF, ids=lambda f: getattr(f, "__name__", str(f)))
def test_is_nondifferentiable(func):
    assert is_nondifferentiable(func)


@pytest.mark.parametrize("func", [np.sin, np.sum, np.full, np.full_like, np.maximum, np.where, math.exp, abs,
                                  float, sum, max, np.std, np.einsum, np.tile])
def test_differentiable_functions_are_not_marked_nondifferentiable(func):
    assert not is_nondifferentiable(func)


NAMES = [(np.sin, "np.sin"), (np.abs, "np.abs"), (np.absolute, "np.abs"), (np.linalg.norm, "np.linalg.norm"),
         (np.linalg.solve, "np.linalg.solve"), (math.exp, "math.exp"), (abs, "abs"), (sum, "sum"),
         (np.ndarray.reshape, "np.ndarray.reshape"), (np.random.rand, "np.random.rand"), (np.fft.fft, "np.fft.fft"),
         (np.float64, "np.float64")]


@pytest.mark.parametrize("func,name", NAMES, ids=[n for _, n in NAMES])
def test_canonical_name(func, name):
    assert canonical_name(func) == name
    assert eval(name, dict(NAMESPACE)) is func


def test_canonical_name_of_an_unknown_function_is_none():
    assert canonical_name(lambda x: x) is None


@pytest.mark.parametrize("func,args", [(np.sin, ()), (np.copy, ()), (np.concatenate, None), (np.sum, (0,)),
                                       (np.ndarray.flatten, ()), (np.clip, (0.1, 0.5)), (np.dot, "self")])
def test_fresh_result_functions_never_return_a_view(func, args):
    x = np.random.default_rng(4).uniform(size=(3, 3))
    if args is None:
        out = func([x, x])
    elif args == "self":
        out = func(x, np.eye(3))
    else:
        out = func(x, *args)
    assert func in FRESH_RESULT
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("func", [np.reshape, np.ravel, np.transpose, np.squeeze, np.asarray, np.flip,
                                  np.ndarray.reshape, np.diagonal, np.real])
def test_view_returning_functions_are_not_fresh(func):
    assert func not in FRESH_RESULT


def test_sequence_argument_is_read_for_the_shapes_of_its_elements_only():
    text = find_rule(np.concatenate).grads[0]("g", "ans", "[x, y]", axis="1")
    assert text == "_vjp.concatenate_grad(g, [_vjp.shape_of(x), _vjp.shape_of(y)], 1)"


def test_list_operand_of_a_join_gets_a_list_of_floats():
    """The adjoint of a list operand has the operand's form: a list of Python floats (or arrays)."""
    g = np.arange(6.0)
    x_b, s_b = vjp.concatenate_grad(g, [(4,), [None, None]], 0)
    np.testing.assert_array_equal(x_b, [0.0, 1.0, 2.0, 3.0])
    assert type(s_b) is list and s_b == [4.0, 5.0] and all(type(t) is float for t in s_b)
    rows = vjp.vstack_grad(np.arange(6.0).reshape(2, 3), [[None, None, None], (3,)])
    assert rows[0] == [0.0, 1.0, 2.0] and all(type(t) is float for t in rows[0])
    np.testing.assert_array_equal(rows[1], [3.0, 4.0, 5.0])
    s_b, y_b, z_b = vjp.hstack_grad(np.arange(3.0), [None, (1,), [None]])
    assert type(s_b) is float and s_b == 0.0 and z_b == [2.0]
    np.testing.assert_array_equal(y_b, [1.0])


def test_hand_rule_parameter_names_follow_numpy():
    """Arguments that NumPy lets callers pass by keyword are bound under NumPy's own names."""
    for func, rule in rules._HAND_RULES.items():
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            continue
        for i, p in enumerate(params[: len(rule.params)]):
            if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self":
                assert rule.params[i] == p.name, f"{rule.name}: parameter {i} is {rule.params[i]}, not {p.name}"


def test_rule_params_locate_an_argument_passed_by_keyword():
    rule = find_rule(np.clip)
    assert rule.index_of("a_max") == 2
    assert rule.grads[rule.index_of("a_max")]("g", "ans", "x", a_max="hi") == "_vjp.clip_bound_grad(g, x, hi, False)"
    assert find_rule(np.tile).index_of("A") == 0
    assert find_rule(np.sin).index_of("axis") is None


def test_unbroadcast_broadcasts_a_scalar_contribution_up_to_the_shape():
    np.testing.assert_array_equal(vjp.unbroadcast(2.0, (2, 1)), [[2.0], [2.0]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3), st.lists(st.booleans(), min_size=3, max_size=3),
       st.integers(0, 2))
def test_unbroadcast_inverts_numpy_broadcasting(shape, squeeze, extra):
    """unbroadcast is the adjoint of np.broadcast_to: <unbroadcast(g), u> == <g, broadcast_to(u)>."""
    shape = tuple(1 if s else n for n, s in zip(shape, squeeze))
    big = (2,) * extra + tuple(n if n > 1 else 3 for n in shape)
    rng = np.random.default_rng(len(big))
    g, u = rng.normal(size=big), rng.normal(size=shape)
    got = vjp.unbroadcast(g, shape)
    assert np.shape(got) == shape
    np.testing.assert_allclose(np.sum(got * u), np.sum(g * np.broadcast_to(u, big)))
