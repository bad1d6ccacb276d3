"""Building generated code as trees: statement and expression templates, comments, and the printer.

Generated code is made of ``ast`` nodes and printed once (``to_source``). Templates are Python
source with ``{name}`` placeholders, parsed once per template string; each use returns fresh nodes
with the placeholders replaced::

    stmt("{a} = _rt.add({a}, {c})", a="u_b", c=contribution_node)

A placeholder value is an ``ast`` node, an identifier (a ``str``, which becomes a Name), or, in
argument position written ``*{name}``, a list of nodes spliced into the call's arguments.
Comments are statements of their own (``Comment``) or trail a simple statement (``comment=``).
"""

from __future__ import annotations

import ast
import copy
import functools
import re

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PREFIX = "__ph_"


class Comment(ast.stmt):
    """A comment line in generated code."""

    _fields = ("text",)


def _parsed(template: str, mode: str):
    return _parse_cached(template, mode)


@functools.lru_cache(maxsize=None)
def _parse_cached(template: str, mode: str):
    source = _PLACEHOLDER.sub(lambda m: _PREFIX + m.group(1), template)
    tree = ast.parse(source, mode=mode)
    return tree.body if mode == "eval" else tree.body[0]


class _Substitute(ast.NodeTransformer):
    def __init__(self, subs: dict):
        self.subs = subs

    def _value(self, key):
        if key not in self.subs:
            raise KeyError(f"template placeholder {{{key}}} has no value")
        value = self.subs[key]
        if isinstance(value, str):
            if not value.isidentifier():
                raise ValueError(f"template value for {{{key}}} is not an identifier: {value!r}")
            return ast.Name(value, ast.Load())
        if isinstance(value, ast.AST):
            return copy.deepcopy(value)
        raise TypeError(f"template value for {{{key}}}: {type(value).__name__}")

    def visit_Name(self, node):
        if node.id.startswith(_PREFIX):
            new = self._value(node.id[len(_PREFIX):])
            if isinstance(new, ast.Name):
                new.ctx = node.ctx
            elif not isinstance(node.ctx, ast.Load) and not isinstance(new, (ast.Subscript, ast.Attribute, ast.Tuple)):
                raise ValueError(f"cannot assign to {ast.unparse(new)}")
            elif hasattr(new, "ctx"):
                new = copy.copy(new)
                new.ctx = node.ctx
            return new
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred) and isinstance(a.value, ast.List) and getattr(a, "_splice", False):
                args.extend(a.value.elts)
            else:
                args.append(a)
        node.args = args
        return node

    def visit_Starred(self, node):
        if isinstance(node.value, ast.Name) and node.value.id.startswith(_PREFIX):
            key = node.value.id[len(_PREFIX):]
            items = self.subs.get(key)
            if isinstance(items, (list, tuple)):
                spliced = ast.Starred(ast.List([self._one(x) for x in items], ast.Load()), ast.Load())
                spliced._splice = True
                return spliced
        return self.generic_visit(node)

    def _one(self, x):
        return ast.Name(x, ast.Load()) if isinstance(x, str) else copy.deepcopy(x)


def expr(template: str, **subs) -> ast.expr:
    """A fresh expression from ``template`` with its placeholders replaced."""
    node = copy.deepcopy(_parsed(template, "eval"))
    return _Substitute(subs).visit(node)


def stmt(template: str, comment: str | None = None, **subs) -> ast.stmt:
    """A fresh statement from ``template`` with its placeholders replaced; ``comment`` trails it."""
    node = copy.deepcopy(_parsed(template, "exec"))
    node = _Substitute(subs).visit(node)
    if comment:
        node.comment = comment
    return node


def name(identifier: str) -> ast.Name:
    return ast.Name(identifier, ast.Load())


def const(value) -> ast.Constant:
    return ast.Constant(value)


def if_(test, body: list, orelse: list = ()) -> ast.If:
    return ast.If(_node(test), list(body) or [ast.Pass()], list(orelse))


def for_(target: str, iterable, body: list) -> ast.For:
    return ast.For(ast.Name(target, ast.Store()), _node(iterable), list(body) or [ast.Pass()], [])


def while_true(body: list) -> ast.While:
    return ast.While(ast.Constant(True), list(body) or [ast.Pass()], [])


def _node(x):
    return ast.Name(x, ast.Load()) if isinstance(x, str) else x


def and_(*parts) -> ast.expr:
    parts = [_node(p) for p in parts]
    return parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)


def names_read(node) -> set:
    """Names a tree reads."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


class _Printer(ast._Unparser):
    """ast.unparse, with Comment statements and trailing comments."""

    def visit_Comment(self, node):
        self.fill("# " + node.text)

    def traverse(self, node):
        super().traverse(node)
        text = getattr(node, "comment", None) if isinstance(node, ast.stmt) else None
        if text:
            self.write("    # " + text)


def to_source(stmts, indent: int = 0) -> str:
    """The source of a list of statements, each line indented by ``indent`` levels."""
    module = ast.Module(body=list(stmts), type_ignores=[])
    ast.fix_missing_locations(module)
    text = _Printer().visit(module)
    if indent:
        pad = "    " * indent
        text = "\n".join(pad + line if line else line for line in text.split("\n"))
    return text
