"""Expression and statement templates on ``ast`` nodes.

A template is Python source with placeholders written ``{name}``::

    expr("{g} * np.cos({x})", g=name("a_b"), x=name("a"))    # -> the tree of a_b * np.cos(a)

Each template string is parsed once (the parsed tree is cached); every call returns a fresh copy in
which each placeholder is replaced by a copy of the node given for it, so results never share nodes
with each other or with the substituted nodes (except the stateless context and operator nodes,
ast.Load, ast.Add..., which ast.parse shares as well). Operator precedence lives in the tree:
``expr("{a} * {b}", a=<x + y>, b=<z>)`` prints (``ast.unparse``) as ``(x + y) * z``.

Placeholders:

- ``{name}`` where the template has an expression (a Name position) takes one ``ast.expr``;
- ``*{name}`` in a call's arguments or in a list, tuple or set display takes a sequence of nodes,
  spliced in place (``f({a}, *{rest})`` with ``rest=[b, c]`` gives ``f(a, b, c)``); given a single
  node it stays a starred argument (``f(*b)``).

A placeholder in a statement's target position (``{t} = {v}``) gets the Store context. Braces that
do not enclose an identifier (dict and set displays such as ``{}`` or ``{'a': 1}``) are left as
they are; a single-name set display cannot be written in a template.
"""

import ast
import functools
import math
import re

from nbadjoint.errors import TemplateError

_PREFIX = "__ph_"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@functools.lru_cache(maxsize=None)
def _parse(template, mode):
    """(tree, placeholder names) of a template, parsed once per (template, mode)."""
    source = _PLACEHOLDER.sub(lambda m: _PREFIX + m.group(1), template)
    try:
        tree = ast.parse(source.strip(), mode=mode)
    except SyntaxError as exc:
        raise TemplateError(f"template {template!r} is not valid Python ({exc.msg})") from None
    names = frozenset(m.group(1) for m in _PLACEHOLDER.finditer(template))
    if mode == "eval":
        return tree.body, names
    if len(tree.body) != 1:
        raise TemplateError(f"template {template!r} must be one statement, not {len(tree.body)}")
    return tree.body[0], names


def cache_info():
    """Hits and misses of the parsed-template cache (functools' CacheInfo)."""
    return _parse.cache_info()


def _placeholder(node):
    """The placeholder name a Name node stands for, or None."""
    if isinstance(node, ast.Name) and node.id.startswith(_PREFIX):
        return node.id[len(_PREFIX):]
    return None


def _with_ctx(node, ctx):
    """node with the expression context `ctx` set on it (and on the elements of a target tuple/list)."""
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Starred, ast.List, ast.Tuple)):
        node.ctx = ctx()
    if isinstance(node, (ast.List, ast.Tuple)):
        for e in node.elts:
            _with_ctx(e, ctx)
    if isinstance(node, ast.Starred):
        _with_ctx(node.value, ctx)
    return node


# Stateless nodes ast.parse itself shares between trees; copies share them too.
_SHARED = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
# Attributes the code generator sets on statements (cleanup's initialisation mark, a trailing comment)
_MARKS = ("init", "comment")


def clone(node):
    """A deep copy of an ast tree (a list of trees: a list of copies), much faster than copy.deepcopy.

    Context and operator nodes (ast.Load, ast.Add, ...) are stateless and stay shared, as in the trees
    ast.parse builds. Only the fields, positions and the generator's own marks are copied: never
    copy.deepcopy an ast tree, since those shared nodes may carry attributes set by other libraries
    (IPython's tracebacks, through `executing`, give them a ``parent`` reaching a whole module's tree,
    and deepcopy would copy that module with every node)."""
    if isinstance(node, list):
        return [clone(item) for item in node]
    if not isinstance(node, ast.AST) or isinstance(node, _SHARED):
        return node
    cls = type(node)
    new = cls.__new__(cls)
    for f in node._fields:
        if hasattr(node, f):
            setattr(new, f, clone(getattr(node, f)))
    for a in node._attributes + _MARKS:
        if hasattr(node, a):
            setattr(new, a, getattr(node, a))
    return new


class _Filler:
    """Copies a template tree, replacing placeholder Names (and starred placeholders inside
    sequences) by copies of their nodes."""

    def __init__(self, template, subs):
        self.template = template
        self.subs = subs

    def _node(self, key):
        try:
            value = self.subs[key]
        except KeyError:
            raise TemplateError(f"template {self.template!r}: no node given for {{{key}}}") from None
        if not isinstance(value, ast.expr):
            raise TemplateError(f"template {self.template!r}: {{{key}}} takes an ast.expr, not "
                                f"{type(value).__name__}")
        return clone(value)

    def _sequence(self, key):
        """Copies of the nodes spliced for *{key}, or None when a single node is given."""
        try:
            value = self.subs[key]
        except KeyError:
            raise TemplateError(f"template {self.template!r}: no nodes given for *{{{key}}}") from None
        if isinstance(value, ast.expr):
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, ast.expr) for v in value):
            raise TemplateError(f"template {self.template!r}: *{{{key}}} takes a list of ast.expr nodes")
        return [clone(v) for v in value]

    def fill(self, node):
        if isinstance(node, ast.Name):
            key = _placeholder(node)
            if key is None:
                return clone(node)
            value = self._node(key)
            return value if isinstance(node.ctx, ast.Load) else _with_ctx(value, type(node.ctx))
        if isinstance(node, _SHARED):
            return node
        cls = type(node)
        new = cls.__new__(cls)
        for f in node._fields:
            if not hasattr(node, f):
                continue
            old = getattr(node, f)
            if isinstance(old, list):
                items = []
                for item in old:
                    if isinstance(item, ast.Starred) and _placeholder(item.value) is not None:
                        spliced = self._sequence(_placeholder(item.value))
                        if spliced is not None:
                            items.extend(spliced)
                            continue
                    items.append(self.fill(item) if isinstance(item, ast.AST) else item)
                setattr(new, f, items)
            elif isinstance(old, ast.AST):
                setattr(new, f, self.fill(old))
            else:
                setattr(new, f, old)
        for a in node._attributes:
            if hasattr(node, a):
                setattr(new, a, getattr(node, a))
        return new


def _fill(template, mode, subs):
    tree, names = _parse(template, mode)
    missing = names - set(subs)
    if missing:
        raise TemplateError(f"template {template!r}: no node given for " +
                            ", ".join("{" + n + "}" for n in sorted(missing)))
    return _Filler(template, subs).fill(tree)


def expr(template, **subs):
    """A fresh ast.expr from an expression template, placeholders replaced by copies of `subs`.

    Substitutions for names the template does not use are ignored."""
    return _fill(template, "eval", subs)


def stmt(template, **subs):
    """A fresh ast.stmt from a one-statement template, placeholders replaced by copies of `subs`."""
    return _fill(template, "exec", subs)


def name(id):
    """A Name node reading the variable `id`."""
    return ast.Name(id=id, ctx=ast.Load())


def const(value):
    """The node ``ast.parse(repr(value))`` gives for a literal value: a negative number is a unary minus
    applied to its magnitude (so it prints and parenthesises like source text); inf and nan stay
    constants (ast.unparse prints 1e309 and (1e309 - 1e309), which evaluate to them)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and \
            (value < 0 or (isinstance(value, float) and math.copysign(1.0, value) < 0 and value == 0)):
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    if isinstance(value, complex) and (value.real != 0 or math.copysign(1.0, value.real) < 0):
        return ast.parse(repr(value), mode="eval").body
    if isinstance(value, tuple):
        return ast.Tuple(elts=[const(v) for v in value], ctx=ast.Load())
    if isinstance(value, list):
        return ast.List(elts=[const(v) for v in value], ctx=ast.Load())
    return ast.Constant(value)


def literal_value(node):
    """The Python value of a literal node (as ast.literal_eval gives it), or raise ValueError."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not a literal: {ast.unparse(node)}") from exc


def is_literal_number(node):
    """Whether node is a literal int or float (bool is not a number here)."""
    try:
        value = literal_value(node)
    except ValueError:
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_expr(text):
    """The ast.expr of one expression's source text (for callers that still hold text)."""
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise TemplateError(f"{text!r} is not a Python expression ({exc.msg})") from None
