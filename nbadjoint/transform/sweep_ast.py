"""Building generated code as trees: templates, comments, and the printer.

Generated code is made of ``ast`` nodes and printed once (``to_source``). Templates (templates.py)
are Python source with ``{name}`` placeholders, parsed once per template string; each use returns
fresh nodes with the placeholders replaced::

    stmt("{a} = _rt.add({a}, {c})", a="u_b", c=contribution_node)

A placeholder value is an ``ast`` node, an identifier (a ``str``, which becomes a Name), or, in
argument position written ``*{name}``, a list of nodes spliced into the call's arguments.
Comments are statements of their own (``Comment``) or trail a simple statement (``comment=``).
"""

from __future__ import annotations

import ast
import re

from . import templates

class Comment(ast.stmt):
    """A comment line in generated code."""

    _fields = ("text",)


def _subs(subs: dict) -> dict:
    """Template values: an identifier (str) becomes a Name; nodes and lists of nodes pass."""
    out = {}
    for key, value in subs.items():
        if isinstance(value, str):
            if not value.isidentifier():
                raise ValueError(f"template value for {{{key}}} is not an identifier: {value!r}")
            value = ast.Name(value, ast.Load())
        elif isinstance(value, (list, tuple)):
            value = [ast.Name(v, ast.Load()) if isinstance(v, str) else v for v in value]
        out[key] = value
    return out


def expr(template: str, **subs) -> ast.expr:
    """A fresh expression from ``template`` (see templates.py) with its placeholders replaced."""
    return templates.expr(template, **_subs(subs))


def stmt(template: str, comment: str | None = None, **subs) -> ast.stmt:
    """A fresh statement from ``template`` with its placeholders replaced; ``comment`` trails it."""
    node = templates.stmt(template, **_subs(subs))
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


LIMIT = 100          # characters per generated line


class _Printer(ast._Unparser):
    """ast.unparse, with Comment statements, trailing comments, ``a and b and c`` without the
    parentheses Python 3.11 puts around later operands, and statements longer than ``LIMIT``
    broken over several lines at their calls, boolean operators and long strings."""

    _bare = False        # print statements without their trailing comments (see _flat)

    def visit_Comment(self, node):
        self.fill("# " + node.text)

    def visit_BoolOp(self, node):
        operator = self.boolops[node.op.__class__.__name__]
        precedence = self.boolop_precedence[operator]
        with self.require_parens(precedence, node):
            def operand(value):
                self.set_precedence(precedence.next(), value)
                self.traverse(value)
            self.interleave(lambda: self.write(f" {operator} "), operand, node.values)

    def traverse(self, node):
        text = getattr(node, "comment", None) if isinstance(node, ast.stmt) and not self._bare else None
        if text and self._too_long(node, extra=6 + len(text)):      # ("    # " + text)
            self.fill("# " + text)              # (a comment that would make the line too long goes above)
            text = None
        if isinstance(node, (ast.Assign, ast.Expr, ast.Return)) and self._too_long(node):
            self._wrapped_statement(node)
        elif isinstance(node, ast.If) and self._too_long(ast.Expr(node.test), extra=len("if :")):
            self._wrapped_if(node)
        else:
            super().traverse(node)
        if text:
            self.write("    # " + text)

    def _function_helper(self, node, fill_suffix):
        """A def whose parameters would pass ``LIMIT`` gets one parameter per line."""
        pad = "    " * self._indent
        params = [a.arg for a in node.args.args]
        plain = not (node.decorator_list or node.returns or node.args.defaults or node.args.vararg
                     or node.args.kwarg or node.args.kwonlyargs or node.args.posonlyargs)
        if not plain or len(pad) + len(f"{fill_suffix} {node.name}({', '.join(params)}):") <= LIMIT:
            return super()._function_helper(node, fill_suffix)
        self.maybe_newline()
        inner = pad + "    "
        self.fill(f"{fill_suffix} {node.name}(\n" + "".join(f"{inner}{p},\n" for p in params) + pad + ")")
        with self.block():
            self._write_docstring_and_traverse_body(node)

    def _too_long(self, node, extra=0) -> bool:
        return len("    " * self._indent) + extra + len(_flat(node)) > LIMIT

    def _wrapped_statement(self, node):
        pad = "    " * self._indent
        if isinstance(node, ast.Assign):
            head = " = ".join(_flat(t) for t in node.targets) + " = "
        elif isinstance(node, ast.Return):
            head = "return "
        else:
            head = ""
        self.fill(head + _wrap(node.value, pad, len(pad) + len(head)))

    def _wrapped_if(self, node, keyword="if"):
        pad = "    " * self._indent
        test = _hanging(node.test, pad, len(pad) + len(keyword) + 1) if isinstance(node.test, ast.BoolOp) else None
        self.fill(f"{keyword} " + (test or _wrap(node.test, pad, len(pad) + len(keyword) + 1, force=True)))
        with self.block():
            self.traverse(node.body)
        orelse = node.orelse
        while orelse and len(orelse) == 1 and isinstance(orelse[0], ast.If):
            inner = orelse[0]
            self.fill("elif ")
            self.traverse(inner.test)
            with self.block():
                self.traverse(inner.body)
            orelse = inner.orelse
        if orelse:
            self.fill("else")
            with self.block():
                self.traverse(orelse)


def _flat(node) -> str:
    """One node printed on one line (a statement without its trailing comment)."""
    printer = _Printer()
    printer._too_long = lambda *a, **k: False
    printer._bare = True
    return ast._Unparser.visit(printer, node).strip()


def _wrap(node, pad: str, column: int, force: bool = False) -> str:
    """``node`` printed from ``column`` on, broken over lines indented from ``pad`` where it would
    pass ``LIMIT``."""
    flat = _flat(node)
    if column + len(flat) <= LIMIT and not force:
        return flat
    inner = pad + "    "
    if isinstance(node, ast.Call) and (node.args or node.keywords):
        parts = [_grouped(a, _wrap(a, inner, len(inner) + 1), ast.NamedExpr) for a in node.args]
        parts += [f"{k.arg}={_wrap(k.value, inner, len(inner) + len(k.arg or '') + 2)}" if k.arg
                  else "**" + _flat(k.value) for k in node.keywords]
        return f"{_flat(node.func)}(\n" + ",\n".join(inner + p for p in parts) + f",\n{pad})"
    if isinstance(node, ast.BoolOp):
        op = " and" if isinstance(node.op, ast.And) else " or"
        parts = [_grouped(v, _wrap(v, inner, len(inner) + 4), _LOOSE + (ast.BoolOp,)) for v in node.values]
        return "(\n" + inner + (op + "\n" + inner).join(parts) + f"\n{pad})"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        operand = _wrap(node.operand, pad, column + 4, force=True)
        if isinstance(node.operand, _LOOSE + (ast.BoolOp,)) and not operand.startswith("("):
            operand = f"({operand})"
        return "not " + operand
    if isinstance(node, ast.Tuple) and node.elts:
        parts = [_grouped(e, _wrap(e, inner, len(inner) + 1), (ast.NamedExpr, ast.Starred)) for e in node.elts]
        return "(\n" + ",\n".join(inner + p for p in parts) + f",\n{pad})"
    if isinstance(node, ast.IfExp):
        body = _grouped(node.body, _wrap(node.body, inner, len(inner)), _LOOSE)
        test = _grouped(node.test, _flat(node.test), _LOOSE)
        orelse = _grouped(node.orelse, _wrap(node.orelse, inner, len(inner) + 5), (ast.Lambda, ast.NamedExpr))
        return f"(\n{inner}{body}\n{inner}if {test}\n{inner}else {orelse}\n{pad})"
    if isinstance(node, ast.BinOp):
        operands, ops = _chain(node)
        head = _flat(node.left)
        if len(operands) == 2 and isinstance(node.right, ast.BinOp) and _needs_group(node.right, node.op, True) \
                and len(head) <= 30 \
                and not _needs_group(node.left, node.op, False):      # 0.25 * (\n    a + b + ...\n)
            op, right = _BINOP_TEXT[type(node.op)], _flat(node.right)
            if len(inner) + len(right) <= LIMIT:
                return f"{head} {op} (\n{inner}{right}\n{pad})"
        parts = [_wrap(o, inner, len(inner) + 2) for o in operands]
        parts = [f"({p})" if _needs_group(o, node.op, k > 0) else p for k, (o, p) in enumerate(zip(operands, parts))]
        lines = [inner + parts[0]] + [f"{inner}{_BINOP_TEXT[type(op)]} {p}" for op, p in zip(ops, parts[1:])]
        return "(\n" + "\n".join(lines) + f"\n{pad})"
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(flat) > LIMIT - len(inner):
        return "(\n" + "\n".join(inner + repr(c) for c in _chunks(node.value, LIMIT - len(inner) - 8)) + f"\n{pad})"
    return flat


_LOOSE = (ast.IfExp, ast.Lambda, ast.NamedExpr)     # bind looser than anything around them

_BINOP_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Div: "/", ast.FloorDiv: "//",
               ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
               ast.BitXor: "^", ast.BitAnd: "&"}
_BINOP_LEVEL = {ast.BitOr: 1, ast.BitXor: 2, ast.BitAnd: 3, ast.LShift: 4, ast.RShift: 4, ast.Add: 5,
                ast.Sub: 5, ast.Mult: 6, ast.MatMult: 6, ast.Div: 6, ast.FloorDiv: 6, ast.Mod: 6, ast.Pow: 8}


def _chain(node):
    """``a + b - c`` as operands [a, b, c] and operators [+, -]: the left-nested BinOps of one
    precedence level (``**`` binds to the right and is not chained)."""
    level = _BINOP_LEVEL[type(node.op)]
    if isinstance(node.left, ast.BinOp) and _BINOP_LEVEL[type(node.left.op)] == level and level != 8:
        operands, ops = _chain(node.left)
        return operands + [node.right], ops + [node.op]
    return [node.left, node.right], [node.op]


def _needs_group(operand, op, right: bool) -> bool:
    """Must ``operand`` be parenthesised as an operand of ``op`` (on its right when ``right``)?"""
    level = _BINOP_LEVEL[type(op)]
    if isinstance(operand, ast.BinOp):
        inner = _BINOP_LEVEL[type(operand.op)]
        if level == 8:                       # ** groups to the right: (a * b) ** c, (a ** b) ** c
            return True if not right else inner < 8
        return inner < level or (right and inner == level)
    if isinstance(operand, ast.UnaryOp):
        return isinstance(operand.op, ast.Not) or (level == 8 and not right)     # (-a) ** b
    return isinstance(operand, (ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.NamedExpr, ast.Await,
                                ast.Yield, ast.YieldFrom))


def _hanging(node, pad: str, column: int):
    """The test of an ``if`` as ``(a and b\n        and c)``: operands filled onto lines from
    ``column``, later lines indented two steps from ``pad`` and starting with the operator; None
    when that takes more than two lines or an operand alone would pass ``LIMIT``."""
    op = "and" if isinstance(node.op, ast.And) else "or"
    parts = [_grouped(v, _flat(v), _LOOSE + (ast.BoolOp,)) for v in node.values]
    lines, line, start = [], "(" + parts[0], column
    for p in parts[1:]:
        if start + len(line) + len(op) + len(p) + 2 <= LIMIT - 2:      # (room for "):")
            line += f" {op} {p}"
        else:
            lines.append(line)
            line, start = pad + " " * 8 + op + " " + p, 0
    lines.append(line + ")")
    if column + len(lines[0]) > LIMIT or any(len(x) + 1 > LIMIT for x in lines[1:]) or len(lines) > 2:
        return None
    return "\n".join(lines)


def _grouped(node, text: str, loose) -> str:
    """``text`` (the printed ``node``) in parentheses when ``node`` is one of the ``loose`` kinds
    and would otherwise bind wrongly where it is placed."""
    if isinstance(node, loose) and not (text.startswith("(\n") and text.endswith(")")):
        return f"({text})"          # (a flat print never starts with "(" and a line break)
    return text


def same_tree(stmts, text: str) -> bool:
    """Does ``text`` parse back to the statements ``stmts`` (comments aside)? (A check of the
    printer, used by the tests.)"""
    try:
        parsed = ast.parse(text).body
    except SyntaxError:
        return False
    return _shape(stmts) == _shape(parsed)


def _shape(node):
    """What ast.dump shows of ``node`` (fields, not positions), with Comment statements left out;
    without copying the tree."""
    if isinstance(node, list):
        return [_shape(n) for n in node if not isinstance(n, Comment)]
    if isinstance(node, ast.AST):       # a missing field, None and [] print alike
        return (type(node).__name__,) + tuple(_shape(_field(node, f)) for f in node._fields)
    return (type(node).__name__, repr(node))


def _field(node, name):
    value = getattr(node, name, None)
    return None if isinstance(value, list) and not value else value


def _chunks(text: str, width: int) -> list:
    """``text`` cut after spaces into pieces of at most about ``width`` characters (joined, exactly
    ``text``)."""
    out, current = [], ""
    for token in re.findall(r"\S+\s*|\s+", text):
        if current and len(repr(current + token)) > width:       # measured as printed (escapes too)
            out.append(current)
            current = ""
        current += token
    out.append(current)
    return out


def to_source(stmts, indent: int = 0) -> str:
    """The source of a list of statements, each line indented by ``indent`` levels."""
    module = ast.Module(body=list(stmts), type_ignores=[])
    ast.fix_missing_locations(module)
    text = _Printer().visit(module)
    if indent:
        pad = "    " * indent
        text = "\n".join(pad + line if line else line for line in text.split("\n"))
    return text
