"""Derivative rules: for each primitive, the expression trees of its adjoint contributions.

The code generator asks a rule for expression TREES (``ast`` nodes), never for values. A rule
holds one callable per positional parameter of the primitive, in ``Rule.ast_grads``::

    grad(g: ast.expr, ans: ast.expr, *args: ast.expr, **kwargs: ast.expr) -> ast.expr | None

``g`` is the node naming the adjoint of the result, ``ans`` the node naming the result value, and
``args`` / ``kwargs`` the nodes of the call's actual arguments (names or literals), bound like a
Python call. The returned expression is the contribution to that argument's adjoint (``None``: the
argument gets no derivative); it is a fresh tree that shares no node with the arguments or with any
other answer. Generated modules import ``numpy as np``, ``math`` and
``nbadjoint.runtime.vjp as _vjp``; rule expressions use nothing else.

Rules are built from templates (nbadjoint.transform.templates): Python expression source with
``{name}`` placeholders for ``g``, ``ans`` and the parameters, parsed once. ``Rule.grads`` keeps the
same callables with text in and text out (each argument text parsed, the tree printed with
``ast.unparse``) for callers that still hold text.

Conventions the generator relies on:

- an argument that appears in a contribution only inside ``_vjp.shape_of(x)`` is needed only
  through its shape marker: keeping ``_vjp.shape_of(x)`` on the tape instead of ``x`` is enough;
- ``broadcast=True``: the contribution has the broadcast shape of the result and must be summed
  back with ``_vjp.unbroadcast(contribution, _vjp.shape_of(x))``;
- a parameter that takes a sequence of arrays (np.concatenate, np.stack, np.vstack, np.hstack,
  np.array, builtin sum) gets a tuple of contributions, one per element, nested like the argument;
  those of NumPy functions whose rule reads the sequence itself are named in ``Rule.sequences``;
- any other argument of a NumPy or SciPy function may be a list or tuple (NumPy takes np.asarray of
  it): rules are written for arrays, and the generator hands them ``_vjp.seq_array(x)`` and
  ``_vjp.seq_shape(_vjp.shape_of(x))`` for such an argument and turns the contribution back into
  its structure (`plans._through_sequences`, `nbadjoint.runtime.vjp.seq_adjoint`);
- contributions may be ``g`` itself or views of it: accumulate with ``a_b = a_b + c``, not in place;
- a rule raises ``RuleError`` (at transform time) for a call it cannot differentiate, e.g. an
  ``out=`` argument or an unsupported keyword;
- at ties, ``maximum``/``minimum``/``max``/``min`` split the derivative equally between the
  tied arguments (entries);
- the exponent derivative of ``a ** b`` uses ``log(a)`` where ``a > 0`` and 0 elsewhere.

Rules are data: read the tables below top to bottom (`more_rules` adds np.average, np.cov, np.einsum,
np.linalg.lstsq and the like, and SciPy's functions through autograd's SciPy registry; rules users
register with ``nbadjoint.defvjp`` come first, see `user_rules`). Functions without a hand-written
rule get one built on autograd's registry of vector-Jacobian products: ``autograd.tracer.trace_primitives_map``
maps a raw NumPy function to autograd's primitive wrapper (whose ``.fun`` is the raw function), and
``autograd.core.primitive_vjps[primitive](argnums, ans, args, kwargs)`` returns ``g -> grads``. Its
expression calls ``_vjp.autograd_vjp``, which is correct but slower: measured per call on this
project's test machine, np.sin on a 10-vector 5.3 us (inline rule 1.5 us), on a Python float 2.2 us
(inline 0.2 us), np.multiply 8 us (inline 0.5 us), np.std 67 us (hand-written 23 us).
"""

import ast
import builtins
import functools
import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from nbadjoint.errors import RuleError  # noqa: F401  (raised here, caught by the generator)
from nbadjoint.runtime import vjp as _vjp

from .functions import FRESH_RESULT, _is_random, canonical_name  # noqa: F401  (the public lookups)
from .functions import is_nondifferentiable as _known_nondifferentiable
from nbadjoint.transform import templates as T


def _no_grad(g, ans, *args, **kwargs):
    """The argument gets no derivative (in ast_grads and in grads alike)."""
    return None


def text_grad(ast_grad):
    """The text form of an AST grad: argument texts in (each parsed as one expression), the printed
    contribution (``ast.unparse``) or None out. ``_no_grad`` stays itself."""
    if ast_grad is _no_grad:
        return _no_grad

    def grad(g, ans, *args, **kwargs):
        node = ast_grad(T.parse_expr(g), T.parse_expr(ans), *(T.parse_expr(a) for a in args),
                        **{k: T.parse_expr(v) for k, v in kwargs.items()})
        return None if node is None else ast.unparse(node)

    grad.ast_grad = ast_grad
    return grad


@dataclass(frozen=True)
class Rule:
    """How to differentiate one primitive: its name in generated code and one grad per parameter.

    ``ast_grads[i](g, ans, *args, **kwargs)`` takes and returns ast nodes; ``grads[i]`` is the same
    rule on source text (``text_grad``). Both have one entry per entry of ``params``."""

    name: str
    ast_grads: tuple
    broadcast: bool = False
    params: tuple = ()  # names of the positional parameters, aligned with grads ("*name" for variadic slots)
    sequences: tuple = ()  # parameters taking a sequence of arrays, whose rules read it as one (np.stack's arrays)
    grads: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "grads", tuple(text_grad(f) for f in self.ast_grads))

    def index_of(self, param):
        """Position in grads of the parameter named `param` (for arguments passed by keyword), or None."""
        return self.params.index(param) if param in self.params else None


# ----- building rules from templates -----


def _is_shape_of(func):
    """Whether func is the node _vjp.shape_of."""
    return isinstance(func, ast.Attribute) and func.attr == "shape_of" and \
        isinstance(func.value, ast.Name) and func.value.id == "_vjp"


class _SplitShapeOf(ast.NodeTransformer):
    """_vjp.shape_of([a, b]) -> [_vjp.shape_of(a), _vjp.shape_of(b)], so each name is read for its shape only."""

    def visit_Call(self, node):
        self.generic_visit(node)
        if _is_shape_of(node.func) and len(node.args) == 1 and not node.keywords \
                and isinstance(node.args[0], (ast.List, ast.Tuple)):
            return ast.List([self.visit_Call(ast.Call(T.clone(node.func), [e], []))
                             for e in node.args[0].elts], ast.Load())
        return node


def _tidy(node):
    """The contribution a rule answers: shape_of of a sequence split per element (None stays None)."""
    if node is None:
        return None
    return _SplitShapeOf().visit(node)


def _literal(node):
    """The Python value of a literal argument node, or raise ValueError."""
    return T.literal_value(node)


def _same(a, b):
    """Whether two argument nodes denote the same literal (or print the same)."""
    try:
        return _literal(a) == _literal(b)
    except ValueError:
        return ast.unparse(a) == ast.unparse(b)


@functools.lru_cache(maxsize=None)
def _source_node(text):
    """The node of a rule's own source text, a parameter default or a primal's name, parsed once
    (shared: rules copy what they substitute)."""
    return T.parse_expr(text)


def _signature(params):
    """An inspect.Signature from parameter text such as "a, axis=None, *, out=None"; defaults stay text."""
    args = ast.parse(f"def f({params}): pass").body[0].args
    P = inspect.Parameter
    out = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + args.defaults
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        kind = P.POSITIONAL_ONLY if i < len(args.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        out.append(P(arg.arg, kind, default=P.empty if default is None else ast.unparse(default)))
    if args.vararg is not None:
        out.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        out.append(P(arg.arg, P.KEYWORD_ONLY, default=P.empty if default is None else ast.unparse(default)))
    return inspect.Signature(out)


def _bind(name, sig, fixed, args, kwargs):
    """Bind call nodes to sig: a dict param -> node (varargs: tuple of nodes; defaults parsed)."""
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise RuleError(
            f"{name}: cannot differentiate this call ({exc}); call it as {name}({_sig_text(sig)})"
        ) from None
    bound.apply_defaults()
    values = {}
    for key, value in bound.arguments.items():
        values[key] = _source_node(value) if isinstance(value, str) else value
    for key in fixed:
        default = sig.parameters[key].default
        if not _same(values[key], _source_node(default)):
            raise RuleError(
                f"{name}(..., {key}=...) is not supported by its derivative rule; leave {key} at its default "
                f"({default})" + _FIXED_ADVICE.get((name, key), "")
            )
    return values


_FIXED_ADVICE = {
    ("sorted", "key"): "; to sort by keys, index with their order: [u[i] for i in np.argsort(keys)]",
}


def _sig_text(sig):
    """The parameter list of sig as text, without the parentheses."""
    return str(sig)[1:-1]


_VARIADIC_SLOTS = 32  # grads entries kept for a primitive taking *args (e.g. np.einsum operands)


def _rule(name, params, *, broadcast=False, fixed=(), sequences=(), **templates):
    """A Rule for the primal `name` with parameters `params` (text); templates map parameters to
    expression templates using {g}, {ans} and the parameter names (``*{p}`` splices the nodes of a
    variadic parameter p), or to callables f(g, ans, values) -> ast.expr | None receiving the bound
    argument nodes. ``sequences``: the parameters taking a sequence of arrays (see Rule)."""
    sig = _signature(params)

    def make(template, vararg_index=None):
        def grad(g, ans, *args, **kwargs):
            values = _bind(name, sig, fixed, args, kwargs)
            if vararg_index is not None:
                values["_index"] = vararg_index
            if callable(template):
                return _tidy(template(g, ans, values))
            return _tidy(T.expr(template, g=g, ans=ans, **values))

        return grad

    grads, names = [], []
    for p in sig.parameters.values():
        template = templates.get(p.name)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            grads.append(_no_grad if template is None else make(template))
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            for k in range(_VARIADIC_SLOTS):
                grads.append(_no_grad if template is None else make(template, k))
                names.append("*" + p.name)
    unknown = set(templates) - set(sig.parameters)
    if unknown:
        raise ValueError(f"rule {name}: templates for unknown parameters {sorted(unknown)}")
    return Rule(name, tuple(grads), broadcast, tuple(names), tuple(sequences))


# ----- rules that need a little logic -----


def _number(node):
    """The numeric value of a literal node (int or float, not bool), or None."""
    try:
        value = _literal(node)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _div(num, den):
    """num / den with NumPy's float semantics: plain `/` for a nonzero literal divisor, else _vjp.div
    (inf or nan where a Python-number divisor is 0, never ZeroDivisionError)."""
    k = _number(den)
    if k is not None and k != 0:
        return T.expr("{num} / {den}", num=num, den=den)
    return T.expr("_vjp.div({num}, {den})", num=num, den=den)


def _pow_base(base, exponent, numpy=False):
    """Template callable: contribution of base ** exponent to the base (literal exponents inlined).

    A Python 0 raised to a negative literal power fails in the primal already, except in np.power
    (``numpy``); between 0 and 1 the derivative's power is negative: _vjp.pow keeps NumPy's inf."""

    def grad(g, ans, v):
        a, b = v[base], v[exponent]
        k = _number(b)
        if k is None:
            if _number(a):  # a nonzero literal base
                return T.expr("{g} * {b} * {a} ** ({b} - 1)", g=g, a=a, b=b)
            return T.expr("{g} * {b} * _vjp.pow({a}, {b} - 1)", g=g, a=a, b=b)
        if k == 0:
            return T.expr("0.0 * {g}", g=g)
        if k == 1:
            return T.expr("{g}", g=g)
        if k == 2:
            return T.expr("2 * {a} * {g}", g=g, a=a)
        if k == 0.5:
            return T.expr("_vjp.div(0.5 * {g}, {ans})", g=g, ans=ans)
        if k < 1 and (numpy or k > 0):
            return T.expr("{k} * {g} * _vjp.pow({a}, {k1})", g=g, a=a, k=T.const(k), k1=T.const(k - 1))
        return T.expr("{k} * {g} * {a} ** {k1}", g=g, a=a, k=T.const(k), k1=T.const(k - 1))

    return grad


def _pow_exponent(base):
    """Template: contribution of base ** exponent to the exponent (0 where base <= 0)."""
    return "{g} * {ans} * _vjp.log_positive({%s})" % base


_FLOAT_DTYPES = {
    "None", "float", "complex", "np.float64", "np.float32", "np.float16", "np.double", "np.single",
    "np.complex128", "np.complex64", "np.longdouble", "'float64'", "'float32'", "'float'", "'f8'",
    "'f4'", "'d'", "'complex128'", "np.float_",
}
_INT_DTYPES = {
    "int", "bool", "np.int64", "np.int32", "np.int16", "np.int8", "np.uint8", "np.uint16",
    "np.uint32", "np.uint64", "np.intp", "np.bool_", "np.bool", "'int64'", "'int32'", "'int'",
    "'bool'", "'i8'", "'i4'", "'?'",
}


_KEEPING_DTYPES = {"None", "complex", "np.complex128", "np.complex64", "'complex128'"}


def _dtype_passes(name, dtype_param, template):
    """Template callable: `template` for float dtypes, no derivative for integer/bool dtypes, and a
    run-time decision (_vjp.cast_grad) for a dtype the call does not tell. The dtype argument is
    recognised by its printed form (ast.unparse), looked up in the dtype tables above."""

    def grad(g, ans, v):
        dtype = ast.unparse(v[dtype_param]).replace('"', "'")
        if dtype in _FLOAT_DTYPES:
            if dtype not in _KEEPING_DTYPES:    # a real dtype: a complex argument loses its imaginary part
                g = T.expr("_vjp.real_adjoint({g})", g=g)
            return T.expr(template, g=g, ans=ans, **v)
        if dtype in _INT_DTYPES:
            return None
        return T.expr("_vjp.cast_grad({c}, {dtype})", c=T.expr(template, g=g, ans=ans, **v), dtype=v[dtype_param])

    return grad


def _fallback_node(name, argnum, g, ans, args, kwargs):
    """A call to _vjp.autograd_vjp for argument `argnum` of name(*args, **kwargs)."""
    keywords = ast.Dict(keys=[ast.Constant(k) for k in kwargs], values=[T.clone(v) for v in kwargs.values()])
    return T.expr("_vjp.autograd_vjp({f}, {i}, {g}, {ans}, (*{args},), {kwargs})", f=_source_node(name),
                  i=T.const(argnum), g=g, ans=ans, args=list(args), kwargs=keywords)


_NONE = T.const(None)


def _norm_x(g, ans, v):
    """np.linalg.norm: hand-written 2-norm / Frobenius rule; other `ord`s go to autograd."""
    if _same(v["ord"], _NONE):
        return T.expr("_vjp.norm_grad({g}, {x}, {ans}, {axis}, {keepdims})", g=g, ans=ans, **v)
    order = _number(v["ord"])
    if order is not None and abs(order) == float("inf"):  # autograd's p-norm rule gives nan there
        sign, which, fn = ("", "largest", "max") if order > 0 else ("-", "smallest", "min")
        raise RuleError(f"np.linalg.norm: no derivative for ord={sign}inf (the {which} |x|); write it as "
                        f"np.{fn}(np.abs(x)) (for a vector) or use ord=None (2-norm)")
    if order is not None and order <= 1:
        raise RuleError(f"np.linalg.norm: no derivative for ord={ast.unparse(v['ord'])}; use ord=None (2-norm) "
                        "or ord > 1, or write the norm with np.sum and np.abs")
    ord_node = v["ord"] if order is not None else T.expr("_vjp.differentiable_norm_order({o})", o=v["ord"])
    kwargs = {"ord": ord_node, "axis": v["axis"], "keepdims": v["keepdims"]}
    return _fallback_node("np.linalg.norm", 0, g, ans, (v["x"],), kwargs)


def _math_log_x(g, ans, v):
    """math.log(x[, base]) with respect to x."""
    if _same(v["base"], _NONE):
        return T.expr("{g} / {x}", g=g, x=v["x"])
    return T.expr("_vjp.div({g}, {x} * math.log({base}))", g=g, **v)


def _math_log_base(g, ans, v):
    """math.log(x, base) with respect to base."""
    if _same(v["base"], _NONE):
        return None
    return T.expr("-{g} * {ans} / ({base} * math.log({base}))", g=g, ans=ans, **v)


# ----- the tables -----

_UNARY_NP = {  # elementwise NumPy functions of one argument: contribution to x
    "sin": "{g} * np.cos({x})",
    "cos": "-{g} * np.sin({x})",
    "tan": "{g} / np.cos({x}) ** 2",
    "arcsin": "{g} / np.sqrt(1 - {x} ** 2)",
    "arccos": "-{g} / np.sqrt(1 - {x} ** 2)",
    "arctan": "{g} / (1 + {x} ** 2)",
    "sinh": "{g} * np.cosh({x})",
    "cosh": "{g} * np.sinh({x})",
    "tanh": "{g} * (1 - {ans} ** 2)",
    "arcsinh": "{g} / np.sqrt({x} ** 2 + 1)",
    "arccosh": "{g} / np.sqrt({x} ** 2 - 1)",
    "arctanh": "_vjp.div({g}, 1 - {x} ** 2)",
    "exp": "{g} * {ans}",
    "exp2": "{g} * {ans} * math.log(2)",
    "expm1": "{g} * ({ans} + 1)",
    "log": "_vjp.div({g}, {x})",
    "log1p": "_vjp.div({g}, 1 + {x})",
    "log2": "_vjp.div({g}, {x} * math.log(2))",
    "log10": "_vjp.div({g}, {x} * math.log(10))",
    "sqrt": "0.5 * {g} / {ans}",
    "cbrt": "{g} / (3 * {ans} ** 2)",
    "square": "2 * {x} * {g}",
    "reciprocal": "-{g} * {ans} ** 2",
    "abs": "_vjp.abs_grad({g}, {x})",
    "absolute": "_vjp.abs_grad({g}, {x})",
    "fabs": "{g} * _vjp.sign({x})",
    "negative": "-{g}",
    "positive": "{g}",
    "deg2rad": "{g} * (math.pi / 180)",
    "radians": "{g} * (math.pi / 180)",
    "rad2deg": "{g} * (180 / math.pi)",
    "degrees": "{g} * (180 / math.pi)",
}

_UNARY_MATH = {  # math functions of one float: contribution to x
    "sin": "{g} * math.cos({x})",
    "cos": "-{g} * math.sin({x})",
    "tan": "{g} / math.cos({x}) ** 2",
    "asin": "_vjp.div({g}, math.sqrt(1 - {x} ** 2))",
    "acos": "-_vjp.div({g}, math.sqrt(1 - {x} ** 2))",
    "atan": "{g} / (1 + {x} ** 2)",
    "sinh": "{g} * math.cosh({x})",
    "cosh": "{g} * math.sinh({x})",
    "tanh": "{g} * (1 - {ans} ** 2)",
    "asinh": "{g} / math.sqrt({x} ** 2 + 1)",
    "acosh": "_vjp.div({g}, math.sqrt({x} ** 2 - 1))",
    "atanh": "{g} / (1 - {x} ** 2)",
    "exp": "{g} * {ans}",
    "exp2": "{g} * {ans} * math.log(2)",
    "expm1": "{g} * ({ans} + 1)",
    "log1p": "{g} / (1 + {x})",
    "log2": "{g} / ({x} * math.log(2))",
    "log10": "{g} / ({x} * math.log(10))",
    "sqrt": "(0.5 * {g} / {ans} if {ans} else _vjp.div(0.5 * {g}, {ans}))",
    "cbrt": "_vjp.div({g}, 3 * {ans} ** 2)",
    "fabs": "{g} * _vjp.sign({x})",
    "erf": "{g} * (2 / math.sqrt(math.pi)) * math.exp(-{x} ** 2)",
    "erfc": "-{g} * (2 / math.sqrt(math.pi)) * math.exp(-{x} ** 2)",
    "radians": "{g} * (math.pi / 180)",
    "degrees": "{g} * (180 / math.pi)",
}

_BINARY_ARITH = {  # (a, b) templates shared by the operators and their NumPy functions
    "add": ("{g}", "{g}"),
    "subtract": ("{g}", "-{g}"),
    "multiply": ("{g} * {b}", "{g} * {a}"),
    "divide": (lambda g, ans, v: _div(g, v["b"]),
               lambda g, ans, v: T.expr("-{q}", q=_div(T.expr("{g} * {ans}", g=g, ans=ans), v["b"]))),
    "mod": ("{g}", "-{g} * _vjp.floordiv({a}, {b})"),
    "matmul": ("_vjp.matmul_grad_a({g}, {b})", "_vjp.matmul_grad_b({g}, {a})"),
}

_ATAN2 = ("_vjp.div({g} * {x}, {y} ** 2 + {x} ** 2)", "-_vjp.div({g} * {y}, {y} ** 2 + {x} ** 2)")

_SUM_LIKE = "a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True"


def _extremum_of_scalars(g, ans, values):
    """Builtin max/min of two or more scalars, or of one sequence: the derivative goes to the arguments
    (entries) equal to the result."""
    args, k = values["args"], values["_index"]
    if k >= len(args):
        return None
    if len(args) < 2:
        return T.expr("_vjp.extremum_seq_grad({g}, {ans}, {seq})", g=g, ans=ans, seq=args[0])
    return T.expr("_vjp.extremum_grad({g}, {ans}, {k}, (*{args},))", g=g, ans=ans, k=T.const(k), args=list(args))


def _hand_rules():
    """All hand-written rules, keyed by the primal function object."""
    r = {}
    P = "x, /"
    for fname, template in _UNARY_NP.items():
        r[getattr(np, fname)] = _rule(f"np.{fname}", P, x=template)
    for fname, template in _UNARY_MATH.items():
        if hasattr(math, fname):
            r[getattr(math, fname)] = _rule(f"math.{fname}", P, x=template)
    r[builtins.abs] = _rule("abs", P, x="_vjp.abs_grad({g}, {x})")
    for fname, (ta, tb) in _BINARY_ARITH.items():
        r[getattr(np, fname)] = _rule(f"np.{fname}", "a, b, /", broadcast=True, a=ta, b=tb)
    r[np.true_divide] = r[np.divide]
    r[np.remainder] = r[np.mod]
    r[np.power] = _rule("np.power", "a, b, /", broadcast=True, a=_pow_base("a", "b", numpy=True),
                        b=_pow_exponent("a"))
    r[builtins.pow] = _rule("pow", "base, exp, mod=None", broadcast=True, fixed=("mod",),
                            base=_pow_base("base", "exp"), exp=_pow_exponent("base"))
    r[math.pow] = _rule("math.pow", "a, b, /", a=_pow_base("a", "b"), b=_pow_exponent("a"))
    r[np.arctan2] = _rule("np.arctan2", "y, x, /", broadcast=True, y=_ATAN2[0], x=_ATAN2[1])
    r[math.atan2] = _rule("math.atan2", "y, x, /", y=_ATAN2[0], x=_ATAN2[1])
    r[np.hypot] = _rule("np.hypot", "a, b, /", broadcast=True, a="{g} * {a} / {ans}", b="{g} * {b} / {ans}")
    r[math.hypot] = _rule("math.hypot", "a, b, /", a="_vjp.div({g} * {a}, {ans})", b="_vjp.div({g} * {b}, {ans})")
    r[math.log] = _rule("math.log", "x, base=None, /", x=_math_log_x, base=_math_log_base)
    for fname, helper in (("maximum", "maximum_grad"), ("minimum", "minimum_grad")):
        r[getattr(np, fname)] = _rule(f"np.{fname}", "a, b, /", broadcast=True,
                                      a=f"_vjp.{helper}({{g}}, {{a}}, {{b}})",
                                      b=f"_vjp.{helper}({{g}}, {{b}}, {{a}})")
    r[builtins.max] = _rule("max", "*args", args=_extremum_of_scalars)
    r[builtins.min] = _rule("min", "*args", args=_extremum_of_scalars)
    r[np.where] = _rule("np.where", "condition, x=None, y=None, /", broadcast=True,
                        x="np.where({condition}, {g}, 0.0)", y="np.where({condition}, 0.0, {g})")
    r[np.clip] = _rule("np.clip", "a, a_min=None, a_max=None, out=None", broadcast=True, fixed=("out",),
                       a="_vjp.clip_grad({g}, {a}, {a_min}, {a_max})",
                       a_min="_vjp.clip_bound_grad({g}, {a}, {a_min}, True)",
                       a_max="_vjp.clip_bound_grad({g}, {a}, {a_max}, False)")

    # reductions
    r[np.sum] = _rule("np.sum", _SUM_LIKE, fixed=("out", "initial", "where"),
                      a="_vjp.sum_grad({g}, _vjp.shape_of({a}), {axis}, {keepdims})")
    r[np.mean] = _rule("np.mean", "a, axis=None, dtype=None, out=None, keepdims=False, *, where=True",
                       fixed=("out", "where"), a="_vjp.mean_grad({g}, _vjp.shape_of({a}), {axis}, {keepdims})")
    r[np.prod] = _rule("np.prod", _SUM_LIKE, fixed=("out", "initial", "where"),
                       a="_vjp.prod_grad({g}, {a}, {axis}, {keepdims})")
    for fname, helper in (("max", "max_grad"), ("amax", "max_grad"), ("min", "min_grad"), ("amin", "min_grad")):
        r[getattr(np, fname)] = _rule(
            f"np.{fname}", "a, axis=None, out=None, keepdims=False, initial=None, where=True",
            fixed=("out", "initial", "where"), a=f"_vjp.{helper}({{g}}, {{a}}, {{ans}}, {{axis}}, {{keepdims}})")
    var_like = "a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True"
    r[np.var] = _rule("np.var", var_like, fixed=("out", "where"),
                      a="_vjp.var_grad({g}, {a}, {axis}, {ddof}, {keepdims})")
    r[np.std] = _rule("np.std", var_like, fixed=("out", "where"),
                      a="_vjp.std_grad({g}, {a}, {ans}, {axis}, {ddof}, {keepdims})")
    r[np.cumsum] = _rule("np.cumsum", "a, axis=None, dtype=None, out=None", fixed=("out",),
                         a="_vjp.cumsum_grad({g}, _vjp.shape_of({a}), {axis})")
    r[np.cumprod] = _rule("np.cumprod", "a, axis=None, dtype=None, out=None", fixed=("out",),
                          a="_vjp.cumprod_grad({g}, {a}, {ans}, {axis})")
    r[builtins.sum] = _rule("sum", "iterable, /, start=0",
                            iterable="_vjp.sum_seq_grad({g}, _vjp.shape_of({iterable}))",
                            start="_vjp.unbroadcast({g}, _vjp.shape_of({start}))")

    # products and linear algebra
    r[np.dot] = _rule("np.dot", "a, b, out=None", fixed=("out",),
                      a="_vjp.dot_grad_a({g}, _vjp.shape_of({a}), {b})",
                      b="_vjp.dot_grad_b({g}, {a}, _vjp.shape_of({b}))")
    r[np.inner] = _rule("np.inner", "a, b, /",
                        a="_vjp.inner_grad_a({g}, _vjp.shape_of({a}), {b})",
                        b="_vjp.inner_grad_b({g}, {a}, _vjp.shape_of({b}))")
    r[np.outer] = _rule("np.outer", "a, b, out=None", fixed=("out",),
                        a="_vjp.reshape_grad({g} @ np.ravel({b}), _vjp.shape_of({a}))",
                        b="_vjp.reshape_grad(np.ravel({a}) @ {g}, _vjp.shape_of({b}))")
    r[np.trace] = _rule("np.trace", "a, offset=0, axis1=0, axis2=1, dtype=None, out=None", fixed=("out",),
                        a="_vjp.trace_grad({g}, _vjp.shape_of({a}), {offset}, {axis1}, {axis2})")
    r[np.linalg.norm] = _rule("np.linalg.norm", "x, ord=None, axis=None, keepdims=False", x=_norm_x)
    # real transforms: autograd has no rule for odd lengths, and a wrong one when n cuts or pads
    for kind in ("rfft", "irfft"):
        r[getattr(np.fft, kind)] = _rule(f"np.fft.{kind}", "a, n=None, axis=-1, norm=None, out=None", fixed=("out",),
                                         a=f"_vjp.{kind}_grad({{g}}, _vjp.shape_of({{a}}), {{n}}, {{axis}}, {{norm}})")
        for suffix, axes in (("2", "(-2, -1)"), ("n", "None")):
            r[getattr(np.fft, kind + suffix)] = _rule(
                f"np.fft.{kind}{suffix}", f"a, s=None, axes={axes}, norm=None, out=None", fixed=("out",),
                a=f"_vjp.{kind}n_grad({{g}}, _vjp.shape_of({{a}}), {{s}}, {{axes}}, {{norm}})")
    r[np.linalg.solve] = _rule("np.linalg.solve", "a, b",
                               a="_vjp.solve_grad_a({g}, {a}, {ans})", b="_vjp.solve_grad_b({g}, {a})")

    # shape manipulation and copies
    reshape = "_vjp.reshape_grad({g}, _vjp.shape_of({a}))"
    r[np.reshape] = _rule("np.reshape", "a, /, shape=None, order='C', *, copy=None", fixed=("order",), a=reshape)
    r[np.ndarray.reshape] = _rule("np.ndarray.reshape", "a, /, *shape, order='C', copy=None",
                                  fixed=("order",), a=reshape)
    r[np.ravel] = _rule("np.ravel", "a, order='C'", fixed=("order",), a=reshape)
    r[np.ndarray.flatten] = _rule("np.ndarray.flatten", "a, /, order='C'", fixed=("order",), a=reshape)
    r[np.ndarray.item] = _rule("np.ndarray.item", "a, /, *args", a="_vjp.item_grad({g}, _vjp.shape_of({a}), *{args})")
    r[np.squeeze] = _rule("np.squeeze", "a, axis=None", a=reshape)
    r[np.expand_dims] = _rule("np.expand_dims", "a, axis", a=reshape)
    r[np.transpose] = _rule("np.transpose", "a, axes=None", a="_vjp.transpose_grad({g}, {axes})")
    r[np.ndarray.transpose] = _rule("np.ndarray.transpose", "a, /, *axes",
                                    a="_vjp.transpose_method_grad({g}, *{axes})")
    r[np.flip] = _rule("np.flip", "m, axis=None", m="np.flip({g}, {axis})")
    r[np.roll] = _rule("np.roll", "a, shift, axis=None", a="_vjp.roll_grad({g}, {shift}, {axis})")
    r[np.diff] = _rule("np.diff", "a, n=1, axis=-1, prepend=None, append=None", fixed=("prepend", "append"),
                       a="_vjp.diff_grad({g}, {n}, {axis})")
    r[np.take] = _rule("np.take", "a, indices, axis=None, out=None, mode='raise'", fixed=("out", "mode"),
                       a="_vjp.take_grad({g}, _vjp.shape_of({a}), {indices}, {axis})")
    r[np.diag] = _rule("np.diag", "v, k=0", v="_vjp.diag_grad({g}, _vjp.shape_of({v}), {k})")
    joins = (("concatenate", "arrays, /, axis=0, out=None, *, dtype=None, casting='same_kind'",
              "_vjp.concatenate_grad({g}, _vjp.shape_of({arrays}), {axis})"),
             ("stack", "arrays, axis=0, out=None, *, dtype=None, casting='same_kind'",
              "_vjp.stack_grad({g}, _vjp.shape_of({arrays}), {axis})"),
             ("vstack", "tup, *, dtype=None, casting='same_kind'", "_vjp.vstack_grad({g}, _vjp.shape_of({tup}))"),
             ("hstack", "tup, *, dtype=None, casting='same_kind'", "_vjp.hstack_grad({g}, _vjp.shape_of({tup}))"),
             ("dstack", "tup", "_vjp.dstack_grad({g}, _vjp.shape_of({tup}))"),
             ("column_stack", "tup", "_vjp.column_stack_grad({g}, _vjp.shape_of({tup}))"))
    for fname, params, template in joins:
        operands = params.split(",")[0]
        if "dtype" in params:
            template = _dtype_passes(f"np.{fname}", "dtype", template)
        r[getattr(np, fname)] = _rule(f"np.{fname}", params, fixed=("out",) if "out=" in params else (),
                                      sequences=(operands,), **{operands: template})
    append = "_vjp.append_grad({g}, _vjp.shape_of({arr}), _vjp.shape_of({values}), {axis}, %d)"
    r[np.append] = _rule("np.append", "arr, values, axis=None", arr=append % 0, values=append % 1)
    array = "_vjp.array_grad({g}, _vjp.shape_of({a}))"
    r[np.array] = _rule("np.array", "object, dtype=None, *, copy=True, order='K', subok=False, ndmin=0",
                        fixed=("ndmin",), object=_dtype_passes("np.array", "dtype", array.replace("{a}", "{object}")))
    r[np.asarray] = _rule("np.asarray", "a, dtype=None, order=None, *, copy=None",
                          a=_dtype_passes("np.asarray", "dtype", array))
    r[np.ndarray.astype] = _rule("np.ndarray.astype", "a, /, dtype, order='K', casting='unsafe', subok=True, copy=True",
                                 a=_dtype_passes("np.ndarray.astype", "dtype", "{g}"))
    fill = "_vjp.unbroadcast({g}, _vjp.shape_of({fill_value}))"
    r[np.full] = _rule("np.full", "shape, fill_value, dtype=None, order='C'",
                       fill_value=_dtype_passes("np.full", "dtype", fill))
    r[np.full_like] = _rule("np.full_like", "a, fill_value, dtype=None, order='K', subok=True, shape=None",
                            fill_value=_dtype_passes("np.full_like", "dtype", fill))
    r[np.copy] = _rule("np.copy", "a, order='K', subok=False", a="{g}")
    r[np.ndarray.copy] = _rule("np.ndarray.copy", "a, /, order='C'", a="{g}")
    r[_vjp.add_at] = _rule("_vjp.add_at", "a, indices, values, /", a="{g}",
                           values="_vjp.at_values_grad({g}, {indices}, _vjp.shape_of({values}))")
    r[_vjp.subtract_at] = _rule("_vjp.subtract_at", "a, indices, values, /", a="{g}",
                                values="-_vjp.at_values_grad({g}, {indices}, _vjp.shape_of({values}))")
    for kind in (builtins.list, builtins.tuple):
        r[kind] = _rule(kind.__name__, "iterable=(), /",
                        iterable="_vjp.seq_cast_grad({g}, _vjp.shape_of({iterable}))")
    r[builtins.sorted] = _rule("sorted", "iterable, /, *, key=None, reverse=False", fixed=("key",),
                               iterable="_vjp.sorted_grad({g}, {iterable}, {reverse})")
    r[_vjp.reversed_items] = _rule("_vjp.reversed_items", "seq, /", seq="_vjp.reversed_grad({g}, _vjp.shape_of({seq}))")
    r[builtins.dict] = _rule("dict", "mapping=(), /", mapping="_vjp.dict_grad({g}, {mapping})")
    r[builtins.complex] = _rule("complex", "real=0, imag=0", real="_vjp.real_adjoint({g})",
                                imag="_vjp.real_adjoint(1j * {g})")
    r[builtins.float] = _rule("float", "x=0.0, /", x="{g}")
    r[np.float64] = _rule("np.float64", "x=0.0, /", x="_vjp.real_adjoint({g})")
    from . import more_rules     # np.average, np.cov, np.einsum, np.linalg.lstsq, ... (it builds on _rule)
    r.update(more_rules.numpy_rules())
    return r


def _operator_rules():
    """BINOP_RULES and UNARYOP_RULES, keyed by ast operator classes."""
    binops = {}
    for op, key, symbol in ((ast.Add, "add", "+"), (ast.Sub, "subtract", "-"), (ast.Mult, "multiply", "*"),
                            (ast.Div, "divide", "/"), (ast.Mod, "mod", "%"), (ast.MatMult, "matmul", "@")):
        ta, tb = _BINARY_ARITH[key]
        binops[op] = _rule(symbol, "a, b, /", broadcast=True, a=ta, b=tb)
    binops[ast.Pow] = _rule("**", "a, b, /", broadcast=True, a=_pow_base("a", "b"), b=_pow_exponent("a"))
    binops[ast.FloorDiv] = _rule("//", "a, b, /")
    unary = {ast.USub: _rule("-", "x, /", x="-{g}"), ast.UAdd: _rule("+", "x, /", x="{g}")}
    return binops, unary


BINOP_RULES, UNARYOP_RULES = _operator_rules()

# ndarray method name -> function f with x.name(*args, **kw) == f(x, *args, **kw)
METHOD_FUNCS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "std": np.std, "var": np.var, "cumsum": np.cumsum, "cumprod": np.cumprod,
    "dot": np.dot, "trace": np.trace, "diagonal": np.diagonal, "clip": np.clip, "take": np.take,
    "repeat": np.repeat, "swapaxes": np.swapaxes, "squeeze": np.squeeze, "ravel": np.ravel, "conj": np.conj,
    "reshape": np.ndarray.reshape, "transpose": np.ndarray.transpose, "flatten": np.ndarray.flatten,
    "copy": np.ndarray.copy, "astype": np.ndarray.astype, "item": np.ndarray.item,
    "round": np.round, "any": np.any, "all": np.all, "argmax": np.argmax, "argmin": np.argmin,
    "argsort": np.argsort, "nonzero": np.nonzero,
}

# attribute name -> function f with x.name == f(x)
ATTRIBUTE_FUNCS = {
    "T": np.transpose, "real": np.real, "imag": np.imag,
    "shape": np.shape, "size": np.size, "ndim": np.ndim, "dtype": np.result_type,
}

# ----- lookup -----

_HAND_RULES = _hand_rules()


def hand_rule_functions() -> set:
    """The functions with a hand-written rule (never taken as non-differentiable)."""
    return set(_HAND_RULES)


def _autograd_argnums(maker):
    """The argument numbers autograd's vjp maker differentiates, or None when it accepts any."""
    closure = dict(zip(maker.__code__.co_freevars, maker.__closure__ or ()))
    cell = closure.get("vjps_dict")
    if cell is None:
        return None
    return frozenset(cell.cell_contents)


def _fallback_grad(name, sig, argnum, g, ans, *args, **kwargs):
    """A call to autograd's vjp for argument `argnum` of name(*args, **kwargs) (an AST grad)."""
    args = list(args)
    kwargs = dict(kwargs)
    if argnum >= len(args):
        names = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)] if sig is not None else []
        if argnum == len(args) and argnum < len(names) and names[argnum] in kwargs:
            args.append(kwargs.pop(names[argnum]))
        else:
            raise RuleError(f"{name}: pass the differentiated argument number {argnum} by position")
    return _tidy(_fallback_node(name, argnum, g, ans, tuple(args), kwargs))


@functools.lru_cache(maxsize=None)
def _autograd_rule(func):
    """A Rule for func built on autograd's registered vjp, or None."""
    name = canonical_name(func)
    maker = _vjp.autograd_vjp_maker(func)
    if name is None or maker is None:
        return None
    try:
        sig = inspect.signature(func)
        names = []
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            elif p.kind is p.VAR_POSITIONAL:
                names.extend(["*" + p.name] * _VARIADIC_SLOTS)
    except (TypeError, ValueError):
        sig = None
        count = func.nin if isinstance(func, np.ufunc) else _VARIADIC_SLOTS
        names = ["*args"] * count
    defined = _autograd_argnums(maker)
    grads = tuple(
        functools.partial(_fallback_grad, name, sig, i) if defined is None or i in defined else _no_grad
        for i in range(len(names))
    )
    return Rule(name, grads, broadcast=False, params=tuple(names))


def find_rule(func):
    """The derivative rule for func: registered with ``nbadjoint.defvjp`` first, else hand-written
    (here and in `more_rules`), else built on autograd's SciPy registry, else on its NumPy registry,
    else None.

    A rule built on autograd calls ``_vjp.autograd_vjp`` at run time, which costs a few
    microseconds per call more than a hand-written inline rule (see the module notes)."""
    from . import more_rules, user_rules

    try:
        rule = user_rules.lookup(func)
        if rule is None:
            rule = _HAND_RULES.get(func)
    except TypeError:
        return None
    if rule is user_rules.NONDIFF:
        return None
    if rule is not None:
        return rule
    try:
        return more_rules.scipy_rule(func) or _autograd_rule(func)
    except TypeError:
        return None


def is_nondifferentiable(func):
    """Whether func's output never carries a derivative: declared with ``nbadjoint.nondifferentiable``,
    or known so (see `functions.is_nondifferentiable`); a rule registered with ``nbadjoint.defvjp``
    makes it differentiable."""
    from . import user_rules

    registered = user_rules.lookup(func)
    if registered is not None:
        return registered is user_rules.NONDIFF
    return _known_nondifferentiable(func)
