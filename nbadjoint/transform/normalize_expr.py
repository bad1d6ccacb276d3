"""Expressions of the normaliser: each lowered to atoms and three-address statements of the IR."""

from __future__ import annotations

import ast
import functools
import inspect
import numbers
import sys
import types

import numpy as np

from ..errors import TransformError
from ..runtime import vjp as _vjp
from . import draws, ir, objects, rules
from .normalize_objects import CONTAINER_METHODS
from .templates import clone
from .parse import _NOT_FOUND, MODULE_TEXT, FunctionInfo, is_user_function, resolve_name, resolve_static


_CMP_TEXT = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
             ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_UNSUPPORTED_EXPR = {
    ast.Lambda: "lambda expressions", ast.Yield: "generators (`yield`)", ast.YieldFrom: "generators (`yield from`)",
    ast.Await: "`await`", ast.GeneratorExp: "generator expressions", ast.SetComp: "set comprehensions",
    ast.DictComp: "dict comprehensions", ast.Starred: "starred arguments (`*args`)", ast.NamedExpr: "assignment expressions (`:=`)",
    ast.Set: "set literals",
}


class ExprLowering:
    """The expression half of the Normalizer (normalize.py): atoms, calls, subscripts, comprehensions."""

    def _as_name(self, atom, out, line):
        if isinstance(atom, ir.Name):
            return atom
        name = self.tmp()
        out.append(ir.Assign(name, ir.Copy(atom), line=line))
        return ir.Name(name)

    def emit(self, expr, out, line) -> ir.Name:
        name = self.tmp()
        out.append(ir.Assign(name, expr, line=line))
        return ir.Name(name)

    def expr(self, node, out) -> ir.Atom:
        line = getattr(node, "lineno", 0)
        for kind, what in _UNSUPPORTED_EXPR.items():
            if isinstance(node, kind):
                raise self.err(f"{what} are not supported", node, hint=_EXPR_HINTS.get(kind))
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, complex, str, bytes, bool)) or node.value is None \
                    or node.value is Ellipsis:
                return ir.Const(repr(node.value))
            raise self.err(f"constant {node.value!r} is not supported", node)
        if isinstance(node, ast.Name):
            if self.inline_env and node.id in self.inline_env[-1]:
                return self.inline_env[-1][node.id]         # a parameter of a local function
            if node.id in self.locals:
                return ir.Name(node.id)
            return self.global_atom(node)
        if isinstance(node, ast.BinOp):
            a = self.expr(node.left, out)
            b = self.expr(node.right, out)
            if isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)):
                return self.emit(ir.Opaque(f"{a.text()} {_BIT_TEXT[type(node.op)]} {b.text()}", ir.names_in([a, b])),
                                 out, line)
            return self.emit(ir.BinOp(type(node.op), a, b), out, line)
        if isinstance(node, ast.UnaryOp):
            a = self.expr(node.operand, out)
            if isinstance(node.op, ast.Not):
                return self.emit(ir.Opaque(f"not {a.text()}", ir.names_in([a])), out, line)
            if isinstance(node.op, ast.Invert):
                return self.emit(ir.Opaque(f"~{a.text()}", ir.names_in([a])), out, line)
            if isinstance(a, ir.Const) and isinstance(node.op, ast.USub):
                return ir.Const(f"(-{a.src})")
            return self.emit(ir.UnOp(type(node.op), a), out, line)
        if isinstance(node, ast.Compare):
            return self.compare(node, out)
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, out)
        if isinstance(node, ast.IfExp):
            test = self._as_name(self.expr(node.test, out), out, line)
            result = self.tmp()
            body, orelse = [], []
            body.append(ir.Assign(result, ir.Copy(self.expr(node.body, body)), line=line))
            orelse.append(ir.Assign(result, ir.Copy(self.expr(node.orelse, orelse)), line=line))
            out.append(ir.If(test, body, orelse, line=line))
            return ir.Name(result)
        if isinstance(node, ast.Call):
            return self.call(node, out)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, out)
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name) and node.value.id not in self.locals:
                base = self.global_atom(node.value)
            else:
                base = self.expr(node.value, out)
            index = self.index(node.slice, out)
            if isinstance(base, ir.Const):
                return self.emit(ir.Opaque(f"{base.src}[{index.src}]", list(index.reads)), out, line)
            return self.emit(ir.GetItem(base, index), out, line)
        if isinstance(node, (ast.Tuple, ast.List)):
            elts = [self.expr(e, out) for e in node.elts]
            return self.emit(ir.Build("tuple" if isinstance(node, ast.Tuple) else "list", elts), out, line)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.err("`**` in dict literals is not supported", node)
            keys = []
            for k in node.keys:
                katom = self.expr(k, out)
                if isinstance(katom, ir.Name):
                    raise self.err("dict keys must be constants", k)
                keys.append(katom.src)
            values = [self.expr(v, out) for v in node.values]
            return self.emit(ir.BuildDict(keys, values), out, line)
        if isinstance(node, ast.ListComp):
            return self.listcomp(node, out)
        if isinstance(node, ast.JoinedStr):
            return self.emit(ir.Opaque(self._passive_text(node), self._passive_reads(node)), out, line)
        raise self.err(f"{type(node).__name__} expressions are not supported", node)

    def global_atom(self, node: ast.Name) -> ir.Atom:
        value = resolve_name(node.id, self.info)
        if value is _NOT_FOUND:
            exc = self.err(f"name `{node.id}` is not defined", node)
            exc.undefined_name = node.id
            raise exc
        return ir.Const(self.program.constant_ref(self.info, node.id, value))

    def compare(self, node, out):
        atoms = [self.expr(node.left, out)] + [self.expr(c, out) for c in node.comparators]
        parts = []
        for k, op in enumerate(node.ops):
            parts.append(f"{atoms[k].text()} {_CMP_TEXT[type(op)]} {atoms[k + 1].text()}")
        text = " and ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]
        return self.emit(ir.Opaque(text, ir.names_in(atoms)), out, node.lineno)

    def boolop(self, node, out):
        is_and = isinstance(node.op, ast.And)
        result = self.tmp()
        first = self.expr(node.values[0], out)
        out.append(ir.Assign(result, ir.Copy(first), line=node.lineno))
        cur = out
        for value in node.values[1:]:
            test = self.tmp()
            cur.append(ir.Assign(test, ir.Opaque(result if is_and else f"not {result}", [result], kind="boolop"),
                                 line=node.lineno))
            inner: list = []
            atom = self.expr(value, inner)
            inner.append(ir.Assign(result, ir.Copy(atom), line=node.lineno))
            cur.append(ir.If(ir.Name(test), inner, [], line=node.lineno))
            cur = inner
        return ir.Name(result)

    def listcomp(self, node, out):
        result = self.tmp("_lc")
        out.append(ir.Assign(result, ir.Build("list", []), line=node.lineno))
        renames = {}
        for gen in node.generators:
            for n in ast.walk(gen.target):
                if isinstance(n, ast.Name):
                    renames[n.id] = self.tmp(f"_{n.id}_")
        node = _Renamer(renames).visit(clone(node))
        saved = set(self.locals)
        self.locals |= set(renames.values())

        def gen_loop(k, block):
            if k == len(node.generators):
                atom = self.expr(node.elt, block)
                block.append(ir.Append(result, atom, line=node.lineno))
                return
            gen = node.generators[k]
            if gen.is_async:
                raise self.err("async comprehensions are not supported", node)
            prefix: list = []
            loop_var, range_args = self._loop_header(gen.iter, gen.target, block, prefix, node.lineno)
            body = list(prefix)
            inner = body
            for cond in gen.ifs:
                t = self._as_name(self.expr(cond, inner), inner, node.lineno)
                nxt: list = []
                inner.append(ir.If(t, nxt, [], line=node.lineno))
                inner = nxt
            gen_loop(k + 1, inner)
            block.append(ir.ForRange(loop_var, range_args, body, line=node.lineno))

        gen_loop(0, out)
        self.locals = saved | set(renames.values())
        return ir.Name(result)

    def index(self, node, out) -> ir.Index:
        reads: list = []

        def part(n):
            """(subscript text, value text) of one index entry."""
            if isinstance(n, ast.Slice):
                lo = None if n.lower is None else piece(n.lower)
                hi = None if n.upper is None else piece(n.upper)
                st = None if n.step is None else piece(n.step)
                text = f"{lo or ''}:{hi or ''}" + ("" if st is None else ":" + st)
                return text, f"slice({lo or 'None'}, {hi or 'None'}, {st or 'None'})"
            if isinstance(n, ast.Constant) and n.value is Ellipsis:
                return "...", "Ellipsis"
            t = piece(n)
            return t, t

        def piece(n):
            atom = self.expr(n, out)
            if isinstance(atom, ir.Name):
                reads.append(atom.id)
            return atom.text()

        if isinstance(node, ast.Tuple) and not node.elts:
            return ir.Index("()", reads, "()")            # x[()]: the entry of a 0-d array
        if isinstance(node, ast.Tuple):
            parts = [part(e) for e in node.elts]
            text = ", ".join(p[0] for p in parts) + ("," if len(parts) == 1 else "")
            value = "(" + ", ".join(p[1] for p in parts) + ("," if len(parts) == 1 else "") + ")"
        else:
            text, value = part(node)
        return ir.Index(text, reads, value)

    def attribute(self, node, out):
        obj = resolve_static(node, self.info, self.locals)
        if obj is not _NOT_FOUND:
            if isinstance(obj, (numbers.Number, np.ndarray, str, tuple, type(None), np.dtype)) or obj is np.newaxis \
                    or (isinstance(obj, type) and issubclass(obj, np.generic)):     # dtypes: np.float64
                known = rules.canonical_name(obj) if isinstance(obj, type) else None
                return ir.Const(known or self.program.constant_ref(self.info, ast.unparse(node), obj))
            raise self.err(f"`{ast.unparse(node)}` is used as a value; only calls of it are supported", node)
        lowered = self.object_attribute(node, out)
        if lowered is not None:
            return lowered
        base = self.expr(node.value, out)
        attr = node.attr
        func = rules.ATTRIBUTE_FUNCS.get(attr)
        if func is None:
            raise self.err(f"the attribute `.{attr}` is not supported", node,
                           hint="supported array attributes: " + ", ".join(sorted(rules.ATTRIBUTE_FUNCS)))
        return self.emit(self._prim(func, [base], {}, node), out, node.lineno)

    def _prim(self, func, args, kwargs, node):
        if any(func is f for f in _READS_FRAMES):     # (its arguments do not show what it reads)
            what = _written_name(node) or getattr(func, "__name__", "it")
            raise self.err(f"`{what}(...)` reads the function's variables by name, which the adjoint cannot "
                           "follow", node, hint="write the expression or the variable out")
        nondiff = rules.is_nondifferentiable(func)
        rule = None if nondiff else rules.find_rule(func)
        written = _written_name(node)
        name = rules.canonical_name(func)
        if name is None:
            name = self.program.callable_ref(self.info, func)
        if not nondiff and rule is None:
            # no derivative rule: a plain call where its value does not depend on the inputs or
            # never reaches the output; refused (with the callee as the user wrote it) where it does,
            # once activity is known (codegen.py)
            what, hint = _describe_callee(func, written, self._through_module(node))
            refusal = self.err(f"no derivative rule for {what}", node, hint=hint)
            mutates = any(func is f for f in _MUTATES) or \
                any(k.startswith("overwrite") or k in ("out", "output") for k in kwargs)
            return ir.Prim(func, name, args, kwargs, norule=refusal, written=written, mutates=mutates,
                           where=_position(node))
        if nondiff:
            return ir.Prim(func, name, args, kwargs, nondiff=True, written=written)
        return ir.Prim(func, rule.name or name, args, kwargs, rule=rule, written=written)

    def _through_module(self, node) -> bool:
        """The callee is written through a module (``scipy.stats.norm.cdf``)."""
        f = node.func if isinstance(node, ast.Call) else node
        while isinstance(f, ast.Attribute):
            f = f.value
        return isinstance(f, ast.Name) and f is not (node.func if isinstance(node, ast.Call) else node) and \
            isinstance(resolve_static(f, self.info, self.locals), types.ModuleType)

    def call(self, node, out):
        line = node.lineno
        func = node.func
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise self.err("`*args` / `**kwargs` in calls are not supported", node)
        if isinstance(func, ast.Name) and func.id in self.local_functions \
                and not (self.inline_env and func.id in self.inline_env[-1]):
            return self.local_call(func.id, node, out)
        if isinstance(func, ast.Name) and func.id in self.locals and (self.receiver_class(func) is not None
                                                                      or self._class_set(func)):
            return self.called_object(node, out)        # model(x): its __call__
        if isinstance(func, ast.Attribute):      # a method of an object: a call site
            called = self.object_call(node, out)
            if called is not None:
                return called
        # method call on a local value: x.sum(axis=0) -> np.sum(x, axis=0)
        if isinstance(func, ast.Attribute) and (resolve_static(func, self.info, self.locals) is _NOT_FOUND
                                                or self._method_of_global_data(func)):
            method = func.attr
            if method in draws.DRAW_METHODS and method not in rules.METHOD_FUNCS:     # rng.normal(...)
                try:
                    return draws.lower(self, None, node, out)
                except TransformError as exc:
                    if isinstance(func.value, ast.Name) and func.value.id in self.params:
                        exc.unknown_class = True     # (a parameter: it may be an object, known from the arguments)
                        self.program.unknown_classes = True
                    raise
            target = self.expr(func.value, out)
            if method == "append":
                raise self.err("`.append()` is only supported as a statement on a local list", node)
            mfunc = rules.METHOD_FUNCS.get(method)
            if mfunc is None and isinstance(func.value, ast.Name) and func.value.id in self.locals \
                    and method not in CONTAINER_METHODS:
                raise self.unknown_class_error(func, node)
            if mfunc is None:
                raise self.err(f"the method `.{method}()` is not supported", node, hint=_method_hint(method))
            written, stripped = self._split_out(mfunc, node, 1)
            if written is not None:
                value = self.method_call(target, mfunc, method, stripped, out)
                return self.write_out(written, value, out, line, f".{method}(..., out=...)")
            return self.method_call(target, mfunc, method, stripped, out)
        obj = resolve_static(func, self.info, self.locals)
        if obj is _NOT_FOUND and isinstance(func, ast.Name) and self.params and func.id == self.params[0] \
                and id(self.info.func) in self.program.class_params:
            obj = self.program.class_params[id(self.info.func)]     # `cls(...)` in a classmethod
        if obj is _NOT_FOUND:
            if isinstance(func, ast.Name) and func.id in self.locals:
                raise self.err(f"calling the local variable `{func.id}` is not supported", node,
                               hint=f"nbadjoint follows calls by name only: call the function `{func.id}` holds "
                                    "by its own name (np.sin(x), or a function defined with `def` at module "
                                    "level), e.g. with an `if` choosing between the candidates")
            raise self.err(f"cannot resolve the function `{ast.unparse(func)}`", node)
        if is_user_function(obj):
            return self.user_call(obj, node, out)
        if _is_random(obj):
            return draws.lower(self, obj, node, out)
        if isinstance(obj, type) and objects.is_user_class(obj) and not objects.is_namedtuple(obj):
            return self.construct(obj, node, out)
        at = _ufunc_at(obj)
        if at is not None:
            return self.ufunc_at(at, node, out)
        target, stripped = self._split_out(obj, node, 0)
        if target is not None:
            value = self.call(stripped, out)
            return self.write_out(target, value, out, line, f"{ast.unparse(node.func)}(..., out=...)")
        node = _generator_as_list(stripped, obj)
        if obj is reversed and len(node.args) == 1 and not node.keywords:
            obj = _vjp.reversed_items            # a list: the differentiated code indexes sequences
        if obj is dict:
            built = self.dict_call(node, out)
            if built is not None:
                return built
        if obj is dict and node.keywords:
            raise self.err("dict(...) with keyword arguments is not supported", node,
                           hint="write a dict literal instead, e.g. {'rate': rate, 'w': w}")
        args = [self.expr(a, out) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, out) for k in node.keywords}
        if obj is range:
            return self.emit(ir.Prim(range, "range", args, kwargs, nondiff=True), out, line)
        if isinstance(obj, type) and not issubclass(obj, (float, int, bool, complex, np.generic)) \
                and obj not in (list, tuple, dict):
            raise self.err(f"constructing `{ast.unparse(func)}` objects is not supported", node,
                           hint="classes are not differentiated: write their methods as module-level functions "
                                "that take the object's data (arrays, floats, or a dict of them) as arguments")
        return self.emit(self._prim(obj, args, kwargs, node), out, line)

    def local_call(self, name, node, out):
        """A call of a local function of one expression (see normalize.local_functions): its
        expression, lowered here with its parameters bound to the call's arguments."""
        _, params, body = self.local_functions[name]
        if any(env.get("\0inlining") == name for env in self.inline_env):
            raise self.err(f"the local function `{name}` calls itself", node)
        keywords = {k.arg: k.value for k in node.keywords}
        unknown = sorted(set(keywords) - set(params))
        if unknown or len(node.args) > len(params):
            what = f"no parameter `{unknown[0]}`" if unknown else f"{len(params)} parameter(s)"
            raise self.err(f"the local function `{name}` takes {what}", node)
        values = list(node.args) + [keywords.get(p) for p in params[len(node.args):]]
        missing = [p for p, v in zip(params, values) if v is None]
        if missing:
            raise self.err(f"missing argument `{missing[0]}` in the call of the local function `{name}`", node)
        env = {p: self.expr(v, out) for p, v in zip(params, values)}
        env["\0inlining"] = name
        self.inline_env.append(env)
        try:
            return self.expr(body, out)
        finally:
            self.inline_env.pop()

    def dict_call(self, node, out):
        """``dict(a=..., b=...)`` and ``dict(zip(keys, values))`` with constant keys, as the dict
        literal they build; None for the other forms of ``dict(...)``."""
        line = node.lineno
        if not node.args and node.keywords and all(k.arg is not None for k in node.keywords):
            values = [self.expr(k.value, out) for k in node.keywords]
            return self.emit(ir.BuildDict([repr(k.arg) for k in node.keywords], values), out, line)
        if node.keywords or len(node.args) != 1 or not isinstance(node.args[0], ast.Call):
            return None
        inner = node.args[0]
        if resolve_static(inner.func, self.info, self.locals) is not zip:
            return None
        if inner.keywords or len(inner.args) != 2:
            raise self.err("only dict(zip(keys, values)) with two sequences is supported", inner)
        keys_node, values_node = inner.args
        keys = self._constant_keys(keys_node, out)
        if isinstance(values_node, (ast.List, ast.Tuple)):
            values = [self.expr(e, out) for e in values_node.elts][:len(keys)]
            return self.emit(ir.BuildDict(keys[:len(values)], values), out, line)
        seq = self._as_name(self.expr(values_node, out), out, line)
        check = self.program.callable_ref(self.info, check_zip_values)
        out.append(ir.Effect(f"{check}({seq.id}, {len(keys)})", [seq.id], line=line))
        values = [self.emit(ir.GetItem(seq, ir.Index(str(i), [], str(i))), out, line) for i in range(len(keys))]
        return self.emit(ir.BuildDict(keys, values), out, line)

    def _constant_keys(self, keys_node, out) -> list:
        """Source texts of the keys of ``dict(zip(keys, values))``: a list or tuple of constants,
        written out or held by a module-level name."""
        if isinstance(keys_node, (ast.List, ast.Tuple)):
            atoms = [self.expr(k, out) for k in keys_node.elts]
            if all(isinstance(a, ir.Const) for a in atoms):
                return [a.src for a in atoms]
        else:
            value = resolve_static(keys_node, self.info, self.locals)
            if isinstance(value, (list, tuple)) and \
                    all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in value):
                return [repr(k) for k in value]
        raise self.err("the keys of dict(zip(keys, values)) must be constants (a list of strings written "
                       "out, or a module-level list of them)", keys_node,
                       hint="write the dict literal {'a': a, 'b': b}")

    def _method_of_global_data(self, func) -> bool:
        """``W.sum()`` for a module-level array (or list, dict...) W: an array method, called on a constant."""
        if func.attr not in rules.METHOD_FUNCS or not isinstance(func.value, ast.Name):
            return False
        owner = resolve_static(func.value, self.info, self.locals)
        return isinstance(owner, (np.ndarray, np.generic, list, tuple, dict, numbers.Number))

    def method_call(self, target, mfunc, method, node, out):
        """``target.method(...)`` as the primitive ``mfunc(target, ...)``."""
        line = node.lineno
        args = [target] + [self.expr(a, out) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, out) for k in node.keywords}
        if method == "reshape" and len(args) > 2:
            shape = self.emit(ir.Build("tuple", args[1:]), out, line)
            args = [target, shape]
        if method == "transpose" and len(args) > 2:
            axes = self.emit(ir.Build("tuple", args[1:]), out, line)
            args = [target, axes]
        prim = self._prim(mfunc, args, kwargs, node)
        prim.method = method
        return self.emit(prim, out, line)

    # -- out= arguments: f(..., out=a) is the write a[...] = f(...) ------------------------------
    def _split_out(self, func, node, shift):
        """(the array ``node`` writes its result into, or None; the call without its ``out``).

        ``out`` may be given by keyword or by position (a ufunc's outputs follow its inputs);
        ``shift`` is 1 for a method call, whose object is the function's first argument."""
        args, keywords = list(node.args), list(node.keywords)
        found = None
        for k in keywords:
            if k.arg == "out":
                found = k.value
                keywords.remove(k)
                break
        if found is None:
            pos = _out_position(func)
            if pos is not None and pos - shift < len(args) and not _is_none(args[pos - shift]):
                found = args[pos - shift]
                del args[pos - shift]
                if len(args) > pos - shift:
                    raise self.err(f"`{ast.unparse(node.func)}(...)`: pass `out` by keyword", node)
        if isinstance(func, np.ufunc) and any(k.arg == "where" for k in keywords):
            raise self.err(f"`{ast.unparse(node.func)}(..., where=...)` computes only the entries where the mask "
                           "is true and leaves the others as they were, which has no derivative rule", node,
                           hint="compute the whole result and select: `a[...] = np.where(mask, f(x), a)`")
        if found is None:
            return None, node
        stripped = ast.Call(node.func, args, keywords)
        ast.copy_location(stripped, node)
        stripped.end_lineno, stripped.end_col_offset = node.end_lineno, node.end_col_offset
        if isinstance(found, ast.Constant) and found.value is None:
            return None, stripped
        if isinstance(found, (ast.Tuple, ast.List)):
            if len(found.elts) != 1:
                raise self.err(f"`{ast.unparse(node.func)}(...)` with several `out` arrays is not supported",
                               node, hint="assign the results to new names instead")
            found = found.elts[0]
        slice_of_name = isinstance(found, ast.Subscript) and isinstance(found.value, ast.Name)
        if not (isinstance(found, ast.Name) or slice_of_name):
            raise self.err(f"`out={ast.unparse(found)}`: only a local array or a slice of one can "
                           "receive the result", node, hint="assign the result to a new name instead")
        base = found if isinstance(found, ast.Name) else found.value
        if base.id not in self.locals:
            raise self.err(f"`out={ast.unparse(found)}` writes into `{base.id}`, which is not a local "
                           "variable (global state)", node,
                           hint="pass it in as an argument and return the new value")
        return found, stripped

    def write_out(self, target, value, out, line, what=None):
        """``target[...] = value`` (or ``name[index] = value`` for ``out=name[index]``); the call's
        value is the array written into, read back.  With ``what`` (the call's text for messages),
        the write is checked first as NumPy checks ``out=``: no float result cast into an integer array."""
        base = target.id if isinstance(target, ast.Name) else target.value.id
        if what is not None:
            value = self._as_name(value, out, line)
            out.append(ir.Effect(f"_vjp.check_out({value.id}, {base}, {what!r})", [value.id, base], line=line))
        if isinstance(target, ast.Name):
            place = ast.Subscript(ast.Name(target.id, ast.Load()), ast.Constant(Ellipsis), ast.Store())
            ast.copy_location(place, target)
            self.assign_to(place, value, out, line)
            return ir.Name(target.id)
        self.assign_to(target, value, out, line)
        return self.expr(target, out)

    def ufunc_at(self, ufunc, node, out):
        """``np.add.at(a, idx, v)`` / ``np.subtract.at``: ``a[...] = a + v scattered at idx``
        (repeated indices add up, as in NumPy)."""
        name = ast.unparse(node.func)
        helper = _UFUNC_AT.get(ufunc)
        if helper is None:
            raise self.err(f"`{name}(...)` changes its first argument in place, which has no derivative rule", node,
                           hint="np.add.at and np.subtract.at are supported; write the update with "
                                "indexing otherwise, e.g. a[idx] = a[idx] * v for unique indices")
        if node.keywords or len(node.args) != 3:
            raise self.err(f"call `{name}(a, indices, values)` with three positional arguments", node)
        target = node.args[0]
        if not isinstance(target, ast.Name) or target.id not in self.locals:
            raise self.err(f"`{name}(...)` must write into a local array", node,
                           hint="assign the array to a local name first")
        args = [self.expr(a, out) for a in node.args]
        value = self.emit(self._prim(helper, args, {}, node), out, node.lineno)
        self.write_out(target, value, out, node.lineno, f"{name}({target.id}, ...)")
        return ir.Const("None")

    def user_call(self, callee, node, out, receiver=None, owner=None, args_nodes=None, site_name=None,
                  defined_in=None):
        """A call of a user function: a call site.  A method's object is ``receiver`` (an atom, bound
        to its first parameter); ``owner`` is the class of the object, ``args_nodes`` the arguments
        (default: the call's), ``site_name`` the callee's name in the call-site id."""
        line = node.lineno
        method_name = None
        if owner is not None:
            holder = defined_in or objects.defining_class(owner, callee)
            method_name = f"{holder.__name__}.{callee.__name__}"
            self.program.method_names[id(callee)] = method_name
        key = self.program.callee_key(callee, self.info, node, owner)
        if owner is not None:
            self.program.method_class.setdefault(key, defined_in or objects.defining_class(owner, callee))
        sig = inspect.signature(callee)
        params = list(sig.parameters.values())
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise self.err(f"{callee.__name__}() takes *args/**kwargs, which is not supported", node)
        keywords = node.keywords if args_nodes is None else []
        args_nodes = node.args if args_nodes is None else args_nodes
        shift = 1 if receiver is not None else 0
        try:
            slots = bind_call(callee, len(args_nodes) + shift, [k.arg for k in keywords])
        except TypeError as exc:
            raise self.err(f"bad call of {method_name or callee.__name__}(): {exc}", node) from None
        pos = ([receiver] if receiver is not None else []) + [self.expr(a, out) for a in args_nodes]
        kw = {k.arg: self.expr(k.value, out) for k in keywords}
        args = [pos[v] if kind == "pos" else kw[v] if kind == "kw" else
                ir.Const(self.program.constant_ref_default(callee, name, v)) for name, kind, v in slots]
        classes = self.argument_classes(slots, receiver, owner, args_nodes, keywords)
        self.program.note_classes(key, classes)
        site = f"{self.info.name}:{line}:{site_name or method_name or callee.__name__}"
        default = _directive(self.info, node)
        self.sites.append((site, key, line, default))
        return self.emit(ir.UserCall(key, site, args), out, line)

    # -- passive statements ---------------------------------------------------------------------
    def _passive_reads(self, node):
        return sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.locals})

    def _passive_text(self, node):
        return ast.unparse(_GlobalRewriter(self).visit(clone(node)))


def check_zip_values(values, n: int):
    """``dict(zip(keys, values))``: nbadjoint needs as many values as keys (zip would drop the rest)."""
    if len(values) != n:
        raise ValueError(f"dict(zip(keys, values)): {n} keys but {len(values)} values; "
                         "nbadjoint differentiates it only with as many values as keys")


def _in_place_functions() -> tuple:
    """NumPy functions that write into an argument (a call of one without a rule is refused where
    any of its arguments is active, whether or not its result is used)."""
    names = ("copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis")
    return tuple(getattr(np, n) for n in names if hasattr(np, n))


_MUTATES = _in_place_functions()
# Builtins that read a frame's variables without being passed them: no activity analysis of their
# arguments can tell whether they carry a derivative (``eval("x")``), so they are refused
_READS_FRAMES = (eval, exec, locals, vars, globals, sys._getframe, inspect.currentframe, inspect.stack,
                 inspect.getouterframes)
_MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
                     "sort", "reverse", "fill", "resize", "put", "itemset", "add", "discard"}
_BIT_TEXT = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_HINTS = {
    ast.Global: "pass the value in as an argument and return the new value",
    ast.Nonlocal: "pass the value in as an argument and return the new value",
    ast.FunctionDef: "a local function of one `return` expression (or a lambda) called by name is supported; "
                     "otherwise define the helper at module level and pass it what it reads from this "
                     "function as arguments: it then becomes a call site of the call tree",
    ast.Try: "validate inputs before calling the differentiated function",
}


_EXPR_HINTS = {
    ast.GeneratorExp: "write a list comprehension instead, e.g. np.sum([t * t for t in v]); a generator is "
                      "accepted as the only argument of sum(), list(), tuple(), sorted(), min() and max()",
    ast.Lambda: "a lambda bound to a name and only called by that name is supported; otherwise define the "
                "function with `def` at module level and call it by name",
    ast.Starred: "pass the arguments one by one",
    ast.NamedExpr: "assign the value on a line of its own",
    ast.SetComp: "use a list comprehension",
    ast.DictComp: "build the dict with a literal {key: value, ...} or with d[key] = value in a loop",
    ast.Set: "use a list or a tuple",
}
_ITERATOR_HINTS = {
    iter: "iterate over the sequence itself",
    map: "use a list comprehension, e.g. [f(t) for t in v]",
    filter: "use a list comprehension with `if`, e.g. [t for t in v if t > 0]",
}
# builtins that consume all of an iterable: a generator argument is the same as a list comprehension
_CONSUMERS = (sum, list, tuple, sorted, min, max)


def _generator_as_list(node, obj):
    """``sum(f(t) for t in v)`` -> ``sum([f(t) for t in v])`` for builtins that consume the whole
    iterable (the values and their order are the same; only the laziness differs)."""
    if obj not in _CONSUMERS or not node.args or not isinstance(node.args[0], ast.GeneratorExp):
        return node
    gen = node.args[0]
    listcomp = ast.copy_location(ast.ListComp(gen.elt, gen.generators), gen)
    call = ast.copy_location(ast.Call(node.func, [listcomp] + node.args[1:], node.keywords), node)
    call.end_lineno, call.end_col_offset = node.end_lineno, node.end_col_offset
    return call


def _method_hint(method):
    """The hint for an unsupported method call ``x.method(...)``."""
    if method in ("get", "keys", "values", "items", "update", "setdefault"):
        return "index a dict with d[key], and loop over a list of its keys"
    return ("the supported methods are those of NumPy arrays (" + ", ".join(sorted(rules.METHOD_FUNCS)) +
            "); otherwise call a function, e.g. np.sum(x) for x.sum()")


def _position(node) -> tuple:
    from .normalize import position
    return position(node)


def _written_name(node) -> str:
    """The callee as the user wrote it: ``scipy.special.erfcx``, ``obj.method``, ``x.T``."""
    if isinstance(node, ast.Call):
        node = node.func
    return ast.unparse(node)


_NO_RULE_HINT = ("nbadjoint knows NumPy, math and autograd's primitives; "
                 "write it with supported operations or keep it outside the differentiated code")
_UFUNC_METHOD_HINTS = {"reduce": "np.sum / np.prod / np.max", "accumulate": "np.cumsum / np.cumprod",
                       "outer": "broadcasting (a[:, None] + b for np.add.outer)",
                       "reduceat": "np.sum over slices"}


def _describe_callee(func, written, through_module=False):
    """(what the callee is, a hint) for the message of a call with no derivative rule."""
    if isinstance(func, functools.partial):
        inner = getattr(func.func, "__qualname__", None) or type(func.func).__name__
        return (f"`{written}`: it is a functools.partial of `{inner}`",
                f"call `{inner}` directly with the fixed arguments written out")
    method = _ufunc_method(func)
    if method is not None:
        ufunc, mname = method
        alt = _UFUNC_METHOD_HINTS.get(mname)
        return (f"`{written}`, the `.{mname}` method of the ufunc np.{ufunc.__name__}",
                f"use {alt} instead" if alt else _NO_RULE_HINT)
    owner = getattr(func, "__self__", None)
    if owner is not None and not inspect.ismodule(owner) and not isinstance(owner, type):
        if through_module:              # scipy.stats.norm.cdf: a library object's method
            return f"`{written}`", _NO_RULE_HINT
        return (f"`{written}`, a method of a `{type(owner).__name__}` object",
                "differentiated code can call plain functions only: write the method as a module-level "
                "function that takes the object's data as arguments")
    if isinstance(func, np.ufunc):
        shown = f"`{written}`" if written.endswith(func.__name__) else f"`{written}` (the ufunc {func.__name__})"
        return shown, _NO_RULE_HINT
    if not callable(func):
        return f"`{written}`", _NO_RULE_HINT
    if not inspect.isroutine(func) and not isinstance(func, type):
        return (f"`{written}`, a callable `{type(func).__name__}` object",
                "call a plain function instead (a callable object's state is not differentiated)")
    module = getattr(func, "__module__", None) or ""
    qual = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    full = f"{module}.{qual}" if module and qual and module != "builtins" else written
    shown = f"`{written}`" if full in (written, None) else f"`{written}` ({full})"
    return shown, _NO_RULE_HINT


def _is_none(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _ufunc_at(obj):
    """The ufunc of ``np.<ufunc>.at`` (a bound method of the ufunc), else None."""
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, np.ufunc) and getattr(obj, "__name__", None) == "at":
        return owner
    return None


def _ufunc_method(obj):
    """(ufunc, method name) of a bound ufunc method such as ``np.add.reduce``, else None."""
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, np.ufunc):
        return owner, getattr(obj, "__name__", "?")
    return None


_UFUNC_AT = {np.add: _vjp.add_at, np.subtract: _vjp.subtract_at}


def _out_position(func):
    """Index of the positional parameter ``out`` of func (for a ufunc, its first output), or None."""
    if isinstance(func, np.ufunc):
        return func.nin
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    for i, p in enumerate(params):
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            return None
        if p.name == "out":
            return i
    return None


def bind_call(callee, n_positional, keywords) -> list:
    """For each parameter of ``callee``, what fills it in a call with ``n_positional`` positional
    arguments and the named ``keywords``: (name, "pos", index), (name, "kw", keyword) or
    (name, "default", default value).  Raises TypeError when the call does not fit."""
    sig = inspect.signature(callee)
    bound = sig.bind(*(("pos", i) for i in range(n_positional)), **{k: ("kw", k) for k in keywords})
    return [(p.name,) + bound.arguments.get(p.name, ("default", p.default)) for p in sig.parameters.values()]


def _directive(info: FunctionInfo, node) -> bool:
    for lineno in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        text = info.line_text(lineno)
        if "#" in text:
            comment = text[text.index("#"):].replace(" ", "").lower()
            if "nbadjoint:nocheckpoint" in comment:
                return False
            if "nbadjoint:checkpoint" in comment:
                return True
    return True


def _is_random(obj) -> bool:
    mod = getattr(obj, "__module__", "") or ""
    if mod.startswith("numpy.random") or mod == "random":
        return True
    self_obj = getattr(obj, "__self__", None)
    return isinstance(self_obj, (np.random.Generator, np.random.RandomState)) or \
        type(self_obj).__module__ == "random"


class _Renamer(ast.NodeTransformer):
    def __init__(self, renames):
        self.renames = renames

    def visit_Name(self, node):
        if node.id in self.renames:
            return ast.copy_location(ast.Name(self.renames[node.id], node.ctx), node)
        return node


class _GlobalRewriter(ast.NodeTransformer):
    """Rewrite free names of a passive statement to the generated module's references."""

    def __init__(self, norm):
        self.norm = norm

    def visit_Name(self, node):
        if node.id in self.norm.locals:
            return node
        value = resolve_name(node.id, self.norm.info)
        if value is _NOT_FOUND:
            return node
        if isinstance(value, types.ModuleType) and id(value) in MODULE_TEXT:
            return ast.Name(MODULE_TEXT[id(value)], ast.Load())
        if value is print or value is len or value is range or value in (ValueError, TypeError, AssertionError,
                                                                          RuntimeError, str, int, float, abs):
            return node
        ref = self.norm.program.constant_ref(self.norm.info, node.id, value)
        return ast.parse(ref, mode="eval").body
