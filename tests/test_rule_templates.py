"""Derivative rules as AST templates.

Two parts: the template engine (nbadjoint.transform.templates) on its own, and every derivative rule
compared with tests/golden/rules_text.json, the adjoint texts the rules produced when they were
text templates. Each golden entry names a rule, the index of the argument it differentiates and
the call's argument texts; the AST rule given the parsed arguments must print (``ast.unparse``)
exactly the recorded text, return None where it returned None, and raise the same RuleError.

Regenerate the golden file (only after an intended change of a rule's output) with
``python tests/test_rule_templates.py --write-golden``.
"""

import ast
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nbadjoint.transform import functions, rules
from nbadjoint.transform import templates as T

GOLDEN = Path(__file__).parent / "golden" / "rules_text.json"

# ----- the calls the golden file records -----

NAMES = ["x", "y", "z", "t", "s", "r"]           # argument variables (never g or ans)
NUMBERS = ["0", "1", "2", "3", "-1", "0.5", "-0.5", "1.5", "-1.5", "2.0", "1e-3"]
OTHERS = ["None", "True", "(0, 1)", "'C'", "k", "u + w", "[u, w]"]
DTYPES = ["float", "int", "complex", "bool", "np.float32", "np.int64", "np.complex64", "'f4'", '"float64"',
          "'i8'", "'complex128'", "kind"]
ORDERS = ["np.inf", "-np.inf", "'fro'", "'nuc'", "4"]


def rule_table():
    """(label, rule, primal function or None) for every rule: operators, hand-written rules and the
    rules built on autograd for every function with a canonical name."""
    out = [(f"binop:{op.__name__}", rule, None) for op, rule in rules.BINOP_RULES.items()]
    out += [(f"unaryop:{op.__name__}", rule, None) for op, rule in rules.UNARYOP_RULES.items()]
    seen = set()
    for func, rule in rules._HAND_RULES.items():
        if rule.name not in seen:
            seen.add(rule.name)
            out.append((f"hand:{rule.name}", rule, func))
    fallback = {}
    for func, name in functions._name_table().items():
        if func in rules._HAND_RULES or rules.is_nondifferentiable(func):
            continue
        rule = rules.find_rule(func)
        if rule is not None:
            fallback.setdefault(name, (rule, func))
    out += [(f"fallback:{name}", rule, func) for name, (rule, func) in sorted(fallback.items())]
    return out


def _slots(rule):
    """(fixed positional parameter names, name of the variadic parameter or None)."""
    fixed = [p for p in rule.params if not p.startswith("*")]
    variadic = next((p[1:] for p in rule.params if p.startswith("*")), None)
    return fixed, variadic


def _text_call(rule, i, args, kwargs):
    """The text rule's answer as a JSON value: text, None, or "!Error: message"."""
    try:
        return rule.grads[i]("g", "ans", *args, **kwargs)
    except Exception as exc:  # recorded: the AST rule must raise the same
        return f"!{type(exc).__name__}: {exc}"


def _required_count(label, rule, func, fixed):
    """How many leading positional parameters a call must pass."""
    if label.startswith("fallback:"):
        try:
            params = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):
            return func.nin if isinstance(func, np.ufunc) else 1
        return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   and p.default is p.empty and p.name != "self") or 1
    for k in range(len(fixed) + 1):
        answer = _text_call(rule, 0, NAMES[:k], {}) if rule.grads else None
        if not (isinstance(answer, str) and "missing a required argument" in answer):
            return k
    return len(fixed)


def _keyword_names(func, fixed, required):
    """Optional parameters a call may pass by keyword."""
    names = [p for p in fixed[required:]]
    try:
        params = inspect.signature(func).parameters.values() if func is not None else ()
    except (TypeError, ValueError):
        params = ()
    for p in params:
        if p.kind is p.KEYWORD_ONLY and p.name not in names:
            names.append(p.name)
    return names


def _literals(param, short=False):
    values = ["0", "-1", "0.5", "None", "True", "'C'", "k"] if short else NUMBERS + OTHERS
    if "dtype" in param:
        values = values + DTYPES
    if param == "ord":
        values = values + ORDERS
    return values


def golden_calls():
    """[(key, label, rule, index, args, kwargs)] for every recorded call, in a fixed order."""
    calls = []
    for label, rule, func in rule_table():
        fixed, variadic = _slots(rule)
        required = _required_count(label, rule, func, fixed)
        base = NAMES[:required]
        vectors = [(base, {})]
        for j in range(required):
            param = fixed[j] if j < len(fixed) else variadic
            vectors += [(base[:j] + [lit] + base[j + 1:], {}) for lit in _literals(param)]
        if len(fixed) > required:
            vectors.append((NAMES[:len(fixed)], {}))       # every positional parameter a variable
            vectors += [(base + [lit], {}) for lit in _literals(fixed[required], short=len(base) > 0)]
        if variadic is not None:
            for n in (1, 2, 3):
                vectors.append((NAMES[:len(fixed) + n], {}))
            vectors += [(NAMES[:len(fixed) + 1] + [lit], {}) for lit in NUMBERS[:4] + ["u + w"]]
        for param in _keyword_names(func, fixed, required):
            vectors += [(base, {param: lit}) for lit in _literals(param, short=True) + ["q"]]
        for args, kwargs in vectors:
            indices = range(min(len(rule.grads), max(len(args), 1)))
            extra = [rule.index_of(k) for k in kwargs]
            for i in sorted(set(indices) | {e for e in extra if e is not None}):
                text = ", ".join(list(args) + [f"{k}={v}" for k, v in kwargs.items()])
                calls.append((f"{label}|{i}|{text}", label, rule, i, list(args), dict(kwargs)))
    return calls


def write_golden():
    table = {key: _text_call(rule, i, args, kwargs) for key, _, rule, i, args, kwargs in golden_calls()}
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in table.items()]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{len(table)} entries written to {GOLDEN}")



# ----- the template engine -----

SHARED = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)   # stateless, shared by ast.parse


def nodes_of(tree):
    return {id(n) for n in ast.walk(tree) if not isinstance(n, SHARED)}


def test_a_template_is_parsed_once():
    template = "{g} * np.tanh({x}) + 17.25"     # a template no other test uses
    before = T.cache_info()
    first = T.expr(template, g=T.name("g"), x=T.name("a"))
    middle = T.cache_info()
    second = T.expr(template, g=T.name("h"), x=T.name("b"))
    after = T.cache_info()
    assert middle.misses == before.misses + 1
    assert after.misses == middle.misses and after.hits == middle.hits + 1
    assert ast.unparse(first) == "g * np.tanh(a) + 17.25"
    assert ast.unparse(second) == "h * np.tanh(b) + 17.25"


def test_results_share_no_node_with_each_other_or_with_the_substitutions():
    x = T.parse_expr("u + w")
    first = T.expr("{x} * {x}", x=x)
    second = T.expr("{x} * {x}", x=x)
    assert not nodes_of(first) & nodes_of(second)
    assert not nodes_of(first) & nodes_of(x)
    assert first.left is not first.right
    first.left.left.id = "changed"
    assert ast.unparse(second) == "(u + w) * (u + w)" and ast.unparse(x) == "u + w"


def test_substituted_sums_are_parenthesised_by_the_tree():
    s = T.parse_expr("x + y")
    assert ast.unparse(T.expr("{a} * {b}", a=s, b=T.name("z"))) == "(x + y) * z"
    assert ast.unparse(T.expr("{a} * {b}", a=T.name("z"), b=s)) == "z * (x + y)"
    assert ast.unparse(T.expr("-{a}", a=s)) == "-(x + y)"
    assert ast.unparse(T.expr("{a} - {b}", a=T.name("z"), b=s)) == "z - (x + y)"
    assert ast.unparse(T.expr("{a} ** {b}", a=T.const(-1.5), b=T.name("k"))) == "(-1.5) ** k"
    assert ast.unparse(T.expr("f({a})", a=s)) == "f(x + y)"
    assert ast.unparse(T.expr("{a}.shape", a=s)) == "(x + y).shape"


def test_clone_copies_every_node_but_the_stateless_ones():
    tree = ast.parse("def f(a, *b, c=1):\n    return [a + x for x in b if x > c]")
    copied = T.clone(tree)
    assert ast.dump(copied, include_attributes=True) == ast.dump(tree, include_attributes=True)
    assert not nodes_of(copied) & nodes_of(tree)
    assert T.clone([T.name("a")])[0].id == "a"


def test_a_starred_placeholder_splices_a_list_of_nodes():
    rest = [T.name("y"), T.const(2), T.parse_expr("a + b")]
    assert ast.unparse(T.expr("f({x}, *{rest})", x=T.name("x"), rest=rest)) == "f(x, y, 2, a + b)"
    assert ast.unparse(T.expr("f({x}, *{rest})", x=T.name("x"), rest=[])) == "f(x)"
    assert ast.unparse(T.expr("(*{xs},)", xs=[T.name("y")])) == "(y,)"
    assert ast.unparse(T.expr("(*{xs},)", xs=[])) == "()"
    assert ast.unparse(T.expr("[0, *{xs}]", xs=rest[:2])) == "[0, y, 2]"
    assert ast.unparse(T.expr("f(*{xs})", xs=T.name("v"))) == "f(*v)"     # one node stays starred
    spliced = T.expr("f(*{xs})", xs=rest)
    assert not nodes_of(spliced) & set().union(*(nodes_of(r) for r in rest))


def test_a_statement_template_sets_the_store_context_of_its_targets():
    s = T.stmt("{t} = {t} + {v}", t=T.name("a_b"), v=T.parse_expr("c * 2"))
    assert ast.unparse(s) == "a_b = a_b + c * 2"
    assert isinstance(s.targets[0].ctx, ast.Store) and isinstance(s.value.left.ctx, ast.Load)
    pair = T.stmt("{t} = {v}", t=T.parse_expr("p, q"), v=T.parse_expr("(1, 2)"))
    env = {}
    exec(compile(ast.fix_missing_locations(ast.Module([pair], [])), "<template>", "exec"), env)
    assert (env["p"], env["q"]) == (1, 2)
    assert ast.unparse(T.stmt("{f}(*{xs})", f=T.parse_expr("_push"), xs=[T.name("a")])) == "_push(a)"


def test_template_errors_name_the_template_and_the_placeholder():
    with pytest.raises(T.TemplateError, match=r"no node given for \{x\}"):
        T.expr("{g} * {x}", g=T.name("g"))
    with pytest.raises(T.TemplateError, match=r"\{x\} takes an ast.expr, not str"):
        T.expr("{x}", x="a")
    with pytest.raises(T.TemplateError, match="takes a list of ast.expr"):
        T.expr("f(*{xs})", xs=["a"])
    with pytest.raises(T.TemplateError, match="not valid Python"):
        T.expr("{x} +")
    with pytest.raises(T.TemplateError, match="one statement"):
        T.stmt("a = 1; b = 2")
    with pytest.raises(T.TemplateError, match="not a Python expression"):
        T.parse_expr("a +")


def test_unused_substitutions_are_ignored():
    assert ast.unparse(T.expr("{g}", g=T.name("g"), x=T.name("x"), _index=3)) == "g"


@pytest.mark.parametrize("value", [0, 3, -1, 2.5, -0.001, 1e-300, "f4", None, True, (0, -1), [1.5, "a"], 2j])
def test_const_prints_and_evaluates_as_its_value(value):
    node = T.const(value)
    assert T.literal_value(node) == value
    assert ast.unparse(node) == ast.unparse(ast.parse(repr(value), mode="eval").body)
    assert ast.dump(node) == ast.dump(ast.parse(repr(value), mode="eval").body)


def test_literal_helpers():
    assert T.literal_value(T.parse_expr("-1.5")) == -1.5
    assert T.literal_value(T.parse_expr("(1, 'a')")) == (1, "a")
    with pytest.raises(ValueError, match="not a literal: x"):
        T.literal_value(T.parse_expr("x"))
    with pytest.raises(ValueError, match="not a literal"):
        T.literal_value(T.parse_expr("{[1]: 2}"))
    assert T.is_literal_number(T.parse_expr("-2")) and T.is_literal_number(T.parse_expr("0.5"))
    assert not T.is_literal_number(T.parse_expr("True"))
    assert not T.is_literal_number(T.parse_expr("'2'")) and not T.is_literal_number(T.parse_expr("k"))
    assert ast.unparse(T.name("a_b")) == "a_b" and isinstance(T.name("a_b").ctx, ast.Load)


# ----- every rule against the golden texts -----

# Golden entries the AST rules answer differently, with the reason. The text rules printed an
# argument in an error message as they had parenthesised it; the AST rules print the argument.
KNOWN_DIFFERENCES = {
    "hand:np.linalg.norm|0|x, -1": "!RuleError: np.linalg.norm: no derivative for ord=-1; use ord=None (2-norm) "
                                   "or ord > 1, or write the norm with np.sum and np.abs",
    "hand:np.linalg.norm|0|x, ord=-1": "!RuleError: np.linalg.norm: no derivative for ord=-1; use ord=None "
                                       "(2-norm) or ord > 1, or write the norm with np.sum and np.abs",
}


def _golden():
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


GOLDEN_TABLE = _golden()
CALLS = golden_calls()
LABELS = sorted({c[1] for c in CALLS})


def _ast_call(rule, i, args, kwargs):
    """(JSON value of the AST rule's answer, the argument nodes, the answer node)."""
    g, ans = T.name("g"), T.name("ans")
    arg_nodes = [T.parse_expr(a) for a in args]
    kw_nodes = {k: T.parse_expr(v) for k, v in kwargs.items()}
    def dumped():          # (never copy.deepcopy of ast nodes: see tests/test_passes.py)
        return ast.dump(ast.Tuple(elts=[g, ans] + arg_nodes + list(kw_nodes.values())))
    before = dumped()
    try:
        node = rule.ast_grads[i](g, ans, *arg_nodes, **kw_nodes)
    except Exception as exc:
        return f"!{type(exc).__name__}: {exc}", None
    assert dumped() == before, "a rule changed its arguments"
    if node is None:
        return None, None
    inputs = set().union(*(nodes_of(n) for n in [g, ans] + arg_nodes + list(kw_nodes.values())))
    assert not nodes_of(node) & inputs, "the answer shares nodes with the arguments"
    assert isinstance(node, ast.expr)
    return ast.unparse(node), node


def test_the_golden_file_covers_every_rule_and_no_other():
    """Every rule of the tables has entries; a rule added since the golden file was written fails here
    (regenerate with --write-golden after checking its texts)."""
    golden_labels = {k.split("|")[0] for k in GOLDEN_TABLE}
    assert golden_labels == set(LABELS)
    assert {c[0] for c in CALLS} == set(GOLDEN_TABLE)
    assert any(label.startswith("fallback:") for label in LABELS)
    assert {f"binop:{op.__name__}" for op in rules.BINOP_RULES} <= golden_labels
    assert {f"unaryop:{op.__name__}" for op in rules.UNARYOP_RULES} <= golden_labels
    assert {f"hand:{r.name}" for r in rules._HAND_RULES.values()} <= golden_labels


@pytest.mark.parametrize("label", LABELS)
def test_ast_rule_prints_the_golden_text(label):
    wrong = []
    for key, lab, rule, i, args, kwargs in CALLS:
        if lab != label:
            continue
        want = KNOWN_DIFFERENCES.get(key, GOLDEN_TABLE[key])
        got, _ = _ast_call(rule, i, args, kwargs)
        if got != want:
            wrong.append(f"{key}\n    golden: {want}\n    AST:    {got}")
        text = _text_call(rule, i, args, kwargs)     # the text interface, through the same rule
        if text != want:
            wrong.append(f"{key} (text interface)\n    golden: {want}\n    text:   {text}")
    assert not wrong, "\n".join(wrong[:20])


def test_known_differences_are_still_in_the_golden_file_and_still_differ():
    for key, value in KNOWN_DIFFERENCES.items():
        assert key in GOLDEN_TABLE and GOLDEN_TABLE[key] != value


@pytest.mark.parametrize("label", [label for label in LABELS if not label.startswith("fallback:")][::1])
def test_ast_answers_compile_and_are_fresh_each_call(label):
    rule = next(c[2] for c in CALLS if c[1] == label)
    for key, lab, r, i, args, kwargs in CALLS:
        if lab != label:
            continue
        text, first = _ast_call(rule, i, args, kwargs)
        if first is None:
            continue
        _, second = _ast_call(rule, i, args, kwargs)
        assert not nodes_of(first) & nodes_of(second), key
        compile(ast.fix_missing_locations(ast.Expression(first)), "<rule>", "eval")


def test_rule_interfaces_line_up():
    for label, rule, _ in rule_table():
        assert len(rule.ast_grads) == len(rule.grads) == len(rule.params), label
        for f, t in zip(rule.ast_grads, rule.grads):
            assert (f is rules._no_grad) == (t is rules._no_grad), label
            assert f is rules._no_grad or t.ast_grad is f


def test_a_sequence_argument_splits_its_shape_marker_into_separate_calls():
    node = rules.find_rule(np.concatenate).ast_grads[0](T.name("g"), T.name("ans"), T.parse_expr("[x, [y, z]]"))
    assert ast.unparse(node) == \
        "_vjp.concatenate_grad(g, [_vjp.shape_of(x), [_vjp.shape_of(y), _vjp.shape_of(z)]], 0)"
    funcs = [n.func for n in ast.walk(node) if isinstance(n, ast.Call) and ast.unparse(n.func) == "_vjp.shape_of"]
    assert len(funcs) == 3 and len({id(f) for f in funcs}) == 3


def test_rule_errors_keep_their_messages_on_nodes():
    g, ans, x = T.name("g"), T.name("ans"), T.name("x")
    with pytest.raises(rules.RuleError, match="leave out at its default"):
        rules.find_rule(np.sum).ast_grads[0](g, ans, x, out=T.name("buf"))
    with pytest.raises(rules.RuleError, match=r"np\.pad\(\.\.\., mode='edge'\)"):
        rules.find_rule(np.pad).ast_grads[0](g, ans, x, T.const(1), mode=T.const("edge"))
    with pytest.raises(rules.RuleError, match="leave out at its default"):
        rules.find_rule(np.einsum).ast_grads[1](g, ans, T.const("ii->i"), x, out=T.name("buf"))
    with pytest.raises(rules.RuleError, match="sample points xp"):
        rules.find_rule(np.interp).ast_grads[1](g, ans, x, T.name("xp"), T.name("fp"))


if __name__ == "__main__" and "--write-golden" in sys.argv:
    write_golden()
