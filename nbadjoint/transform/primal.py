"""The primal of a user function: its own code, with calls to user functions redirected to their
primals (through probes when profiling) and free names made explicit."""

from __future__ import annotations

import ast
import os
import types

import numpy as np

from . import rules
from .alias import _global_checks
from .normalize import position
from .normalize_expr import bind_call
from .sweep_ast import same_tree, to_source
from .templates import clone
from .parse import is_user_function, resolve_static, _NOT_FOUND, MODULE_TEXT


def primal_lines(code, probes: bool) -> list:
    """The primal of ``code``'s function: the user's code with calls redirected to primals."""
    rewriter = _PrimalRewriter(code, probes)
    node = rewriter.visit(clone(code.info.node))
    missed = set(code.norm.late) - rewriter.raised
    if missed:      # a refusal the primal cannot place: refused now rather than run without it
        raise code.norm.late_refusals[min(missed, key=str)]
    node.name = f"{code.key}_primal"
    node.decorator_list = []
    params = [ast.arg("_c")] + [ast.arg(p) for p in code.params]
    node.args = ast.arguments(posonlyargs=[], args=params, vararg=None, kwonlyargs=[], kw_defaults=[],
                              kwarg=None, defaults=[])
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    doc = ast.Expr(ast.Constant(f"Primal of {code.info.name} (the user's code; calls go to primals)."))
    prologue = []
    if probes and code.sites:
        prologue.append(ast.parse("_rec = _c.rec").body[0])
    node.body = [doc] + prologue + body
    ast.fix_missing_locations(node)
    text = to_source([node])         # (long lines of the user's code broken as the sweeps' are)
    if os.environ.get("NBADJOINT_CHECK_PRINT") and not same_tree([node], text):     # (the tests' check)
        raise AssertionError(f"the printed {node.name} does not parse back to its tree:\n{text}")
    return text.split("\n")


class _PrimalRewriter(ast.NodeTransformer):
    """The user's function body with calls redirected to primals and free names made explicit."""

    def __init__(self, code, probes: bool):
        self.code = code
        self.info = code.info
        self.probes = probes
        self.locals = code.norm.locals
        self.global_checks = _global_checks(code)
        self.raised: set = set()        # positions of the refused statements and calls replaced

    def visit(self, node):
        # a statement or call refused where it is reached raises there (see Normalizer.stmt)
        if isinstance(node, (ast.stmt, ast.Call, ast.Attribute)):
            key = position(node)
            ref = self.code.norm.late.get(key)
            if ref is not None:
                self.raised |= {position(n) for n in ast.walk(node)}      # (and those inside it)
                throw = ast.copy_location(ast.parse(f"{ref}.throw()", mode="eval").body, node)
                return ast.copy_location(ast.Expr(throw), node) if isinstance(node, ast.stmt) else throw
        return super().visit(node)

    # writes that may reach a module or closure array are checked here too: a checkpointed call
    # runs the primal, and the user's arrays must not be written before the AliasError
    def _checked(self, node):
        entries = self._own_entry_checks(node)
        node = self.generic_visit(node)
        read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        checks = entries + [ast.parse(f"_rt.check_alias({target}, {ref}, {message!r})").body[0]
                            for target, ref, message in self.global_checks.get(node.lineno, ()) if target in read]
        return [ast.copy_location(c, node) for c in checks] + [node] if checks else node

    def _own_entry_checks(self, node):
        """Checks before a write into the value an object's attribute holds (see Normalizer.entry_writes)."""
        targets = list(getattr(node, "targets", ())) + [getattr(node, "target", None)]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
            targets.append(node.value.func.value)
        out = []
        for t in targets:
            for n in ([t, t.value] if isinstance(t, ast.Subscript) else [t]):
                entry = self.code.norm.entry_writes.get(position(n)) if n is not None else None
                if entry is not None:
                    where = self.code.program._const((self.info.name, self.info.filename, node.lineno))
                    out.append(ast.parse(f"_rt.check_own_entry({entry[0]}, {entry[1]!r}, {where})").body[0])
                    break
        return out

    visit_Assign = visit_AugAssign = visit_AnnAssign = visit_Expr = _checked

    def _primal_call(self, func, receiver, node, site, owner=None):
        """A call of the user function ``func``'s primal (probed when profiling); ``receiver`` is the
        tree of a method's object (None for a plain call), ``owner`` its class."""
        key = self.code.program.key_of(func, owner)
        args = ([receiver] if receiver is not None else []) + [self.visit(a) for a in node.args]
        kws = {k.arg: self.visit(k.value) for k in node.keywords}
        call_args = [args[v] if kind == "pos" else kws[v] if kind == "kw" else
                     ast.parse(self.code.program.constant_ref_default(func, name, v), mode="eval").body
                     for name, kind, v in bind_call(func, len(args), list(kws))]
        if self.probes:
            return ast.Call(ast.Attribute(ast.Name("_rt", ast.Load()), "probe_call", ast.Load()),
                            [ast.Name("_rec", ast.Load()), ast.Constant(site), ast.Constant("P"),
                             ast.Name(f"{key}_primal", ast.Load()), ast.Name("_c", ast.Load())] + call_args, [])
        return ast.Call(ast.Name(f"{key}_primal", ast.Load()), [ast.Name("_c", ast.Load())] + call_args, [])

    def _object_call(self, node, how):
        """A method call, a property read or an object's construction, as the normaliser lowered it."""
        kind, func, cls, site = how
        if kind == "dispatch":          # the method of the object's class, chosen when it runs
            sites = site
            receiver = node.func if isinstance(node.func, ast.Name) else node.func.value
            chosen = self._primal_call(sites[-1][1], self.visit(receiver), node, sites[-1][2], sites[-1][0])
            for owner, method, site_id in reversed(sites[:-1]):
                test = ast.Compare(ast.Attribute(self.visit(receiver), "__class__", ast.Load()), [ast.Is()],
                                   [ast.parse(self.code.norm.class_ref(owner), mode="eval").body])
                chosen = ast.IfExp(test, self._primal_call(method, self.visit(receiver), node, site_id, owner), chosen)
            return chosen
        if kind == "property":
            return self._primal_call(func, self.visit(node.value), ast.Call(node, [], []), site, cls)
        if kind in ("method", "classmethod", "super"):
            if kind == "method":
                receiver = self.visit(node.func if isinstance(node.func, ast.Name) else node.func.value)
            elif kind == "super":
                receiver = ast.Name(self.code.params[0], ast.Load())
            else:
                receiver = ast.parse(self.code.norm.class_ref(cls), mode="eval").body
            return self._primal_call(func, receiver, node, site, cls)
        if kind == "static":
            return self._primal_call(func, None, node, site, cls)
        # construct: a bare object, then its __init__'s primal; the object is the value:
        # _rt.built(new object, where it goes among the arguments, init's primal, its other arguments)
        new = ast.parse(f"_rt.new_object({self.code.norm.class_ref(cls)})", mode="eval").body
        init = self._primal_call(func, ast.Name("_obj", ast.Load()), node, site, cls)
        args = list(init.args)
        k = next(i for i, a in enumerate(args) if isinstance(a, ast.Name) and a.id == "_obj")
        del args[k]
        return ast.Call(ast.Attribute(ast.Name("_rt", ast.Load()), "built", ast.Load()),
                        [new, ast.Constant(k), init.func] + args, [])

    def visit_Call(self, node):
        how = self.code.norm.object_calls.get(position(node))
        if how is not None:
            return ast.copy_location(self._object_call(node, how), node)
        func = node.func
        obj = resolve_static(func, self.info, self.locals)
        if obj is not _NOT_FOUND and is_user_function(obj) and self.code.program.knows(obj):
            key = self.code.program.key_of(obj)
            args = [self.visit(a) for a in node.args]
            kws = {k.arg: self.visit(k.value) for k in node.keywords}
            call_args = [args[v] if kind == "pos" else kws[v] if kind == "kw" else
                         ast.parse(self.code.program.constant_ref_default(obj, name, v), mode="eval").body
                         for name, kind, v in bind_call(obj, len(args), list(kws))]
            site = f"{self.info.name}:{node.lineno}:{obj.__name__}"
            if self.probes:
                new = ast.Call(ast.Attribute(ast.Name("_rt", ast.Load()), "probe_call", ast.Load()),
                               [ast.Name("_rec", ast.Load()), ast.Constant(site), ast.Constant("P"),
                                ast.Name(f"{key}_primal", ast.Load()), ast.Name("_c", ast.Load())] + call_args, [])
            else:
                new = ast.Call(ast.Name(f"{key}_primal", ast.Load()), [ast.Name("_c", ast.Load())] + call_args, [])
            return ast.copy_location(new, node)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node):
        how = self.code.norm.object_calls.get(position(node))
        if how is not None and isinstance(node.ctx, ast.Load):
            return ast.copy_location(self._object_call(node, how), node)
        obj = resolve_static(node, self.info, self.locals)
        if obj is not _NOT_FOUND:
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                base = resolve_static(root, self.info, self.locals)
                if isinstance(base, types.ModuleType) and id(base) in MODULE_TEXT:
                    text = ast.unparse(node)
                    text = MODULE_TEXT[id(base)] + text[len(root.id):]
                    return ast.copy_location(ast.parse(text, mode="eval").body, node)
            name = rules.canonical_name(obj) if callable(obj) else None
            if name:
                return ast.copy_location(ast.parse(name, mode="eval").body, node)
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        if node.id in self.locals or not isinstance(node.ctx, ast.Load):
            return node
        value = resolve_static(node, self.info, self.locals)
        if value is _NOT_FOUND:
            return node
        if isinstance(value, types.ModuleType) and id(value) in MODULE_TEXT:
            return ast.copy_location(ast.Name(MODULE_TEXT[id(value)], ast.Load()), node)
        import builtins
        if getattr(builtins, node.id, _NOT_FOUND) is value:
            return node
        if callable(value) and not isinstance(value, np.ndarray):
            name = rules.canonical_name(value)
            if name:
                return ast.copy_location(ast.parse(name, mode="eval").body, node)
        ref = self.code.program.constant_ref(self.info, node.id, value)
        return ast.copy_location(ast.parse(ref, mode="eval").body, node)
