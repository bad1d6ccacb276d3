"""Lower a user function's AST to the three-address IR, rejecting what is not supported.

Every nested expression gets a temporary (``_t1``, ``_t2``...), so each IR statement is one
primitive operation tied to its source line.  ``break``, ``continue`` and early ``return`` are
replaced by flags; ``while`` becomes ``Loop`` with a ``LoopExit``; ``for`` over anything but
``range`` becomes a ``range(len(...))`` loop that indexes the sequence; comprehensions and
conditional expressions become loops and ``if`` statements.
"""

from __future__ import annotations

import ast
import types

from ..errors import TransformError
from . import ir
from .draws import DRAW_METHODS
from .rules import METHOD_FUNCS
from .normalize_expr import _HINTS, _ITERATOR_HINTS, _MUTATING_METHODS, ExprLowering, _generator_as_list
from .normalize_objects import ObjectLowering
from .normalize_try import TryLowering, _refuse_global_writes
from .parse import _NOT_FOUND, FunctionInfo, is_user_function, resolve_static

_AUG_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult, ast.FloorDiv, ast.Mod)
_UNSUPPORTED_STMT = {
    ast.AsyncWith: "`async with` blocks",
    ast.Nonlocal: "`nonlocal` statements", ast.FunctionDef: "nested function definitions",
    ast.AsyncFunctionDef: "nested function definitions", ast.ClassDef: "class definitions", ast.Import: "imports",
    ast.ImportFrom: "imports", ast.Delete: "`del` statements", ast.AsyncFor: "`async for` loops",
}
if hasattr(ast, "TryStar"):
    _UNSUPPORTED_STMT[ast.TryStar] = "`try ... except*` blocks (exception groups)"
if hasattr(ast, "Match"):
    _UNSUPPORTED_STMT[ast.Match] = "`match` statements"


def enter_context(manager, *reads):
    """``manager.__enter__()`` in a forward sweep; ``reads`` are the names the ``with`` line's
    expression reads, passed so that the activity analysis sees what the manager depends on."""
    return manager.__enter__()


class LateRefusal:
    """Called by generated code where a deferred refusal is reached: a fresh copy of it (a name
    that is not defined raises NameError there, as in Python)."""

    def __init__(self, exc: TransformError):
        self.exc = exc

    def __call__(self) -> Exception:
        e = self.exc
        name = getattr(e, "undefined_name", None)
        if name is not None:
            return NameError(f"name {name!r} is not defined (line {e.lineno} of {e.function}())")
        return TransformError(e.reason, function=e.function, filename=e.filename, lineno=e.lineno,
                              source_line=e.source_line, hint=e.hint)

    def throw(self):
        """Raise it (the primal calls this where the user's code reaches the refused construct)."""
        raise self()


def position(node) -> tuple:
    """Where ``node`` is in the user's source: the key of a refused statement or call."""
    return (type(node).__name__, getattr(node, "lineno", None), getattr(node, "col_offset", None),
            getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))


class _Counter:
    """enumerate's counter in a normalised loop: the loop index plus ``start``."""

    def __init__(self, start):
        self.start = start


class _Flags:
    """Names of the control-flow flags live at a point of the lowering."""

    def __init__(self, brk=None, cnt=None, ret=None):
        self.brk, self.cnt, self.ret = brk, cnt, ret


class Normalizer(ExprLowering, ObjectLowering, TryLowering):
    def __init__(self, info: FunctionInfo, program):
        self.info = info
        self.program = program          # resolves user callees: program.callee_key(func) -> key
        self.counter = 0
        self.sites: list = []           # (site_id, callee_key, lineno, default_checkpointed)
        node = info.node
        self.params = self._params(node.args)
        self.locals = set(self.params) | _assigned_names(node)
        self.user_names = set(self.locals)
        self.used_names = self.locals | {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        self.flag_counter = 0
        self.has_early_return = False
        self.maybe_lists = _list_names(node)   # names `+=` / `*=` may find holding a list
        self.late: dict = {}            # position of a refused statement or call -> its LateRefusal's reference
        self.late_refusals: dict = {}   # ... -> the refusal
        self.try_regions: list = []     # TryRegion of each `try` block lowered (the runner reads them)
        # local functions of one expression (`f = lambda t: ...`, `def rhs(u): return -k * u`),
        # only ever called by name: each call is lowered as the expression, its parameters bound
        # to the call's arguments (the free names are read where the call stands, as Python's
        # closures read them when called)
        self.local_functions = local_functions(node, self.params)
        self.inline_env: list = []      # the parameters of the local functions being lowered
        self._refuse_reserved_names(node)
        _refuse_global_writes(info, node)
        self.guarded_names: set = set()  # ... taken from what a factory returns: checked where used
        self.classes = self._known_classes(node)     # name -> class of the object it holds (objects.py)
        self.object_calls: dict = {}    # position of a method call, property read or construction ->
                                        # (kind, function, class): how the primal calls it
        self.entry_writes: dict = {}    # position of `obj.attr` whose value is written in place ->
                                        # (obj, attr): checked before the write (runtime/objects.py)

    def _refuse_reserved_names(self, node):
        """Names that start with an underscore belong to the generated code (`_c`, `_push`, `_rv_b`...):
        a parameter or local of that form could be confused with one of them."""
        reserved = sorted(n for n in self.locals if n.startswith("_") and n != "_")
        if not reserved:
            return
        name = reserved[0]
        where = next((a for a in ast.walk(node.args) if isinstance(a, ast.arg) and a.arg == name), None) or \
            next((n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name
                  and isinstance(n.ctx, ast.Store)), node)
        raise self.err(f"the name `{name}` starts with an underscore, and such names are reserved for the "
                       "generated adjoint code", where,
                       hint=f"rename it (e.g. `{name.lstrip('_')}_`); a lone `_` is fine")

    # -- names ----------------------------------------------------------------------------------
    def tmp(self, prefix: str = "_t") -> str:
        while True:
            self.counter += 1
            name = f"{prefix}{self.counter}"
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def err(self, message, node=None, hint=None):
        return self.info.error(message, node, hint)

    def _params(self, args: ast.arguments) -> list:
        if args.vararg is not None or args.kwarg is not None:
            raise self.err("functions with *args or **kwargs are not supported", args.vararg or args.kwarg,
                           hint="list the parameters explicitly")
        if args.posonlyargs:
            names = [a.arg for a in args.posonlyargs]
        else:
            names = []
        return names + [a.arg for a in args.args] + [a.arg for a in args.kwonlyargs]

    # -- entry ----------------------------------------------------------------------------------
    def run(self):
        node = self.info.node
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        self.has_early_return = _has_early_return(body)
        out: list = self.class_guards(node.lineno)
        if self.has_early_return:
            self.ret_flag = self.tmp("_ret")
            self.rv = self.tmp("_rv")
            out.append(ir.Assign(self.ret_flag, ir.Copy(ir.Const("False")), line=node.lineno))
            out.append(ir.Assign(self.rv, ir.Copy(ir.Const("None")), line=node.lineno))
            self.block(body, out, _Flags(ret=self.ret_flag))
            out.append(ir.Return(ir.Name(self.rv), line=node.end_lineno or node.lineno))
        else:
            self.ret_flag = None
            self.block(body, out, _Flags())
            if not out or not isinstance(out[-1], ir.Return):
                out.append(ir.Return(ir.Const("None"), line=node.end_lineno or node.lineno))
        return out

    # -- statements -----------------------------------------------------------------------------
    def block(self, stmts, out, flags: _Flags):
        """Lower ``stmts`` into ``out``; statements after one that may jump are guarded by flags."""
        self._sub_block(stmts, out, flags)

    def stmt(self, s, out, flags):
        """Lower one statement; returns "always" / True when it may jump out of the block.

        A statement that cannot be lowered becomes one that raises its refusal when it is reached
        (``raise _K[i]()``): the code around it may never run it (an option's branch, a function
        called under a flag).  `Program` refuses at compile time those certainly reached."""
        before, n_sites = len(out), len(self.sites)
        calls = self.program._calls.setdefault(self.info.key, [])
        n_calls = len(calls)
        try:
            return self._stmt(s, out, flags)
        except TransformError as exc:
            del out[before:]
            del self.sites[n_sites:]
            exc.callees = [c[0] for c in calls[n_calls:]]     # met before the refusal (see Program)
            del calls[n_calls:]
            ref = self.program.callable_ref(self.info, LateRefusal(exc))
            out.append(ir.Effect(f"raise {ref}()", [], refusal=exc, line=s.lineno))
            self.late[position(s)] = ref        # the primal raises there too
            self.late_refusals[position(s)] = exc
            return False

    def _stmt(self, s, out, flags):
        line = s.lineno
        if any(node is s for node, _, _ in self.local_functions.values()):
            return False            # a local function's definition: its calls are lowered in place
        for kind, what in _UNSUPPORTED_STMT.items():
            if isinstance(s, kind):
                raise self.err(f"{what} are not supported", s, hint=_HINTS.get(kind))
        if isinstance(s, (ast.Pass, ast.Global)):
            return False        # (a name declared global is only read: see _refuse_global_writes)
        if isinstance(s, ast.Try):
            return self.try_stmt(s, out, flags)
        if isinstance(s, ast.Expr):
            return self.expr_stmt(s, out)
        if isinstance(s, ast.Assign):
            value = self.expr(s.value, out)
            if len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) and isinstance(value, ir.Name) \
                    and out and isinstance(out[-1], ir.Assign) and out[-1].target == value.id \
                    and value.id not in self.locals and not isinstance(out[-1].expr, ir.Build | ir.Copy):
                out[-1].target = s.targets[0].id        # assign the result directly, no temporary
                return False
            for target in s.targets:
                self.assign_to(target, value, out, line)
            return False
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return False
            self.assign_to(s.target, self.expr(s.value, out), out, line)
            return False
        if isinstance(s, ast.AugAssign):
            return self.aug_assign(s, out)
        if isinstance(s, ast.If):
            return self.if_stmt(s, out, flags)
        if isinstance(s, ast.With):
            return self.with_stmt(s, out, flags)
        if isinstance(s, ast.For):
            return self.for_stmt(s, out, flags)
        if isinstance(s, ast.While):
            return self.while_stmt(s, out, flags)
        if isinstance(s, ast.Break):
            out.append(ir.Assign(flags.brk, ir.Copy(ir.Const("True")), line=line))
            return "always"
        if isinstance(s, ast.Continue):
            out.append(ir.Assign(flags.cnt, ir.Copy(ir.Const("True")), line=line))
            return "always"
        if isinstance(s, ast.Return):
            value = self.expr(s.value, out) if s.value is not None else ir.Const("None")
            if self.ret_flag is None:
                out.append(ir.Return(value, line=line))
            else:
                out.append(ir.Assign(self.rv, ir.Copy(value), line=line))
                out.append(ir.Assign(self.ret_flag, ir.Copy(ir.Const("True")), line=line))
            return "always"
        if isinstance(s, ast.Assert):
            reads = self._passive_reads(s)
            out.append(ir.Effect(self._passive_text(s), reads, line=line))
            return False
        if isinstance(s, ast.Raise):
            # an exception leaves the whole call tree: no flag is needed for the code after it
            out.append(ir.Effect(self._passive_text(s), self._passive_reads(s), line=line))
            return False
        raise self.err(f"`{type(s).__name__}` statements are not supported", s)

    def expr_stmt(self, s, out):
        value = s.value
        if isinstance(value, ast.Constant):
            return False
        if isinstance(value, ast.Call):
            func = value.func
            if isinstance(func, ast.Attribute) and self.grow_attribute(func, value, out, s.lineno):
                return False
            if isinstance(func, ast.Attribute) and func.attr == "append" and isinstance(func.value, ast.Name) \
                    and func.value.id in self.locals:
                if len(value.args) != 1 or value.keywords:
                    raise self.err("list.append takes exactly one argument", value)
                item = self.expr(value.args[0], out)
                out.append(ir.Append(func.value.id, item, line=s.lineno))
                return False
            if isinstance(func, ast.Attribute) and func.attr == "extend" and isinstance(func.value, ast.Name) \
                    and func.value.id in self.locals:
                if len(value.args) != 1 or value.keywords:
                    raise self.err("list.extend takes exactly one argument", value)
                items = _generator_as_list(value, list).args[0]
                self.extend(func.value.id, self.expr(items, out), out, s.lineno)
                return False
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                    and func.value.id not in self.locals and func.attr in _MUTATING_METHODS \
                    and not isinstance(resolve_static(func.value, self.info, self.locals), types.ModuleType):
                raise self.err(f"`{func.value.id}.{func.attr}(...)` changes the global `{func.value.id}`: "
                               "differentiated code cannot change global state", s,
                               hint="pass it in as an argument and return the new value")
            obj = resolve_static(func, self.info, self.locals)
            if obj is print:
                out.append(ir.Effect(self._passive_text(s), self._passive_reads(s), line=s.lineno))
                return False
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.locals \
                    and not any(k.arg == "out" for k in value.keywords) and func.attr not in DRAW_METHODS \
                    and self.receiver_class(func.value) is None and func.attr in METHOD_FUNCS:
                raise self.err(f"the method call `.{func.attr}(...)` used as a statement is not supported "
                               "(it would change an object in place)", s,
                               hint="write the result to a new variable instead")
        atom = self.expr(value, out)
        last = out[-1] if out else None
        if isinstance(atom, ir.Name) and isinstance(last, ir.Assign) and last.target == atom.id \
                and isinstance(last.expr, ir.Prim) and last.expr.norule is not None:
            last.expr.effect = True
        return False

    def _list_or_rebind(self, name, op, rhs, rebind, line):
        """``name += rhs`` / ``name *= rhs`` where name may hold a list: a list is changed in place
        (other names holding it see the change), anything else is rebound."""
        is_list = self.tmp()
        in_place: list = []
        if isinstance(op, ast.Add):
            self.extend(name, rhs, in_place, line)
        else:
            self.repeat(name, rhs, in_place, line)
        return [ir.Assign(is_list, ir.Opaque(f"{name}.__class__ is list", [name]), line=line),
                ir.If(ir.Name(is_list), in_place, rebind, line=line)]

    def repeat(self, name, count: ir.Atom, out, line):
        """``name *= count`` for a list: its items appended count - 1 more times, in place."""
        reads = ir.names_in([count])
        out.append(ir.Effect(f"_vjp.check_list_repeat({count.text()}, {name!r})", reads, line=line))
        n = self.tmp()
        out.append(ir.Assign(n, ir.Prim(len, "len", [ir.Name(name)], {}, nondiff=True), line=line))
        times = self.tmp()
        out.append(ir.Assign(times, ir.Opaque(f"{count.text()} - 1", reads), line=line))
        j, k, item = self.tmp("_k"), self.tmp("_k"), self.tmp()
        inner = [ir.Assign(item, ir.GetItem(ir.Name(name), ir.Index(k, [k], k)), line=line),
                 ir.Append(name, ir.Name(item), line=line)]
        out.append(ir.ForRange(j, [ir.Name(times)], [ir.ForRange(k, [ir.Name(n)], inner, line=line)], line=line))

    def extend(self, name, items: ir.Atom, out, line):
        """``name.extend(items)``, the list grown in place: one append per item."""
        items = self._as_name(items, out, line)
        n = self.tmp()
        out.append(ir.Assign(n, ir.Prim(len, "len", [items], {}, nondiff=True), line=line))
        k, item = self.tmp("_k"), self.tmp()
        body = [ir.Assign(item, ir.GetItem(items, ir.Index(k, [k], k)), line=line),
                ir.Append(name, ir.Name(item), line=line)]
        out.append(ir.ForRange(k, [ir.Name(n)], body, line=line))

    def assign_to(self, target, value: ir.Atom, out, line):
        if isinstance(target, ast.Name):
            out.append(ir.Assign(target.id, ir.Copy(value), line=line))
        elif isinstance(target, (ast.Tuple, ast.List)):
            if any(isinstance(e, ast.Starred) for e in target.elts):
                raise self.err("starred assignment targets are not supported", target)
            if isinstance(value, ir.Const):
                src = ir.Const(value.src)
                holder = self.tmp()
                out.append(ir.Assign(holder, ir.Copy(src), line=line))
                value = ir.Name(holder)
            names, later = [], []
            for elt in target.elts:
                if isinstance(elt, ast.Name) and elt.id != value.id:
                    names.append(elt.id)
                else:
                    part = self.tmp()
                    names.append(part)
                    later.append((elt, part))
            if len(set(names)) != len(names):
                raise self.err("the same name appears twice in an unpacking target", target)
            out.append(ir.Unpack(names, value, line=line))
            for elt, part in later:
                self.assign_to(elt, ir.Name(part), out, line)
        elif isinstance(target, ast.Subscript):
            base = target.value
            if self._attribute_of_object(base):
                return self.assign_attribute_entry(target, value, out, line)
            if not isinstance(base, ast.Name):
                raise self.err("only `name[index] = value` writes are supported", target,
                               hint="assign the inner object to a variable first")
            if base.id not in self.locals:
                raise self.err(f"writing into `{base.id}`, which is not a local variable (global state)", target,
                               hint="pass it in as an argument and return the new value")
            index = self.index(target.slice, out)
            out.append(ir.SetItem(base.id, index, value, line=line))
        elif isinstance(target, ast.Attribute):
            self.assign_attribute(target, value, out, line)
        else:
            raise self.err(f"assignment to {type(target).__name__} is not supported", target)

    @staticmethod
    def _in_place_cast_check(target, new, s, line):
        """NumPy updates an array in place with the 'same_kind' cast (a float added into an int array
        raises); the lowering writes the new value with an assignment, so the check is made here."""
        text = ast.unparse(s)
        return ir.Effect(f"_vjp.check_in_place({target}, {new}, {text!r})", [target, new], line=line)

    def aug_assign(self, s, out):
        if not isinstance(s.op, _AUG_OPS):
            raise self.err(f"augmented assignment with `{type(s.op).__name__}` is not supported", s)
        line = s.lineno
        if isinstance(s.target, ast.Name):
            # NumPy semantics: an array is updated in place, anything else is rebound
            name = s.target.id
            cur = ir.Name(name)
            value = s.value
            if isinstance(value, ast.GeneratorExp):
                value = ast.copy_location(ast.ListComp(value.elt, value.generators), value)
            rhs = self.expr(value, out)
            is_array = self.tmp()
            out.append(ir.Assign(is_array, ir.Opaque(f"{name}.__class__ is np.ndarray", [name]), line=line))
            new = self.tmp()
            in_place = [ir.Assign(new, ir.BinOp(type(s.op), cur, rhs), line=line),
                        self._in_place_cast_check(name, new, s, line),
                        ir.SetItem(name, ir.Index("...", [], "Ellipsis"), ir.Name(new), line=line, aug=True)]
            rebind = [ir.Assign(name, ir.BinOp(type(s.op), cur, rhs), line=line, aug_rebind=True)]
            if isinstance(s.op, ast.Add) and isinstance(s.value, (ast.List, ast.ListComp, ast.GeneratorExp)):
                rebind = []                     # a list grows in place (other names holding it see it)
                self.extend(name, rhs, rebind, line)
            elif isinstance(s.op, (ast.Add, ast.Mult)) and name in self.maybe_lists:
                rebind = self._list_or_rebind(name, s.op, rhs, rebind, line)
            elif isinstance(s.op, (ast.Add, ast.Mult)) and name in self.params:
                # a list passed in would be changed in place, which the caller sees: refused at run time
                text = f"{name} {'+' if isinstance(s.op, ast.Add) else '*'}= {ast.unparse(s.value)}"
                rebind.insert(0, ir.Effect(f"_vjp.check_not_list({name}, {text!r})", [name], line=line))
            out.append(ir.If(ir.Name(is_array), in_place, rebind, line=line))
            return False
        if isinstance(s.target, ast.Attribute):
            return self.aug_attribute(s, out)
        if isinstance(s.target, ast.Subscript) and self._attribute_of_object(s.target.value):
            return self.aug_attribute_entry(s, out)
        if isinstance(s.target, ast.Subscript):
            base = s.target.value
            if not isinstance(base, ast.Name) or base.id not in self.locals:
                raise self.err("only `local[index] op= value` updates are supported", s.target)
            index = self.index(s.target.slice, out)
            rhs = self.expr(s.value, out)
            old = self.tmp()
            out.append(ir.Assign(old, ir.GetItem(ir.Name(base.id), index), line=line))
            # an array: x[i] = x[i] op v.  A list or dict entry: NumPy's `entry op= v` (in place for an
            # array entry, which other names holding it see), then stored back.
            is_array = self.tmp()
            out.append(ir.Assign(is_array, ir.Opaque(f"{base.id}.__class__ is np.ndarray", [base.id]), line=line))
            new = self.tmp()
            array_case = [ir.Assign(new, ir.BinOp(type(s.op), ir.Name(old), rhs), line=line),
                          self._in_place_cast_check(old, new, s, line),
                          ir.SetItem(base.id, index, ir.Name(new), line=line)]
            entry_is_array = self.tmp()
            new2 = self.tmp()
            entry_case = [
                ir.Assign(entry_is_array, ir.Opaque(f"{old}.__class__ is np.ndarray", [old]), line=line),
                ir.If(ir.Name(entry_is_array),
                      [ir.Assign(new2, ir.BinOp(type(s.op), ir.Name(old), rhs), line=line),
                       ir.SetItem(old, ir.Index("...", [], "Ellipsis"), ir.Name(new2), line=line, aug=True,
                                  exclude=(base.id,))],
                      [ir.Assign(old, ir.BinOp(type(s.op), ir.Name(old), rhs), line=line, aug_rebind=True)],
                      line=line),
                ir.SetItem(base.id, index, ir.Name(old), line=line),
            ]
            out.append(ir.If(ir.Name(is_array), array_case, entry_case, line=line))
            return False
        raise self.err("unsupported target of an augmented assignment", s.target)

    def if_stmt(self, s, out, flags):
        test = self.expr(s.test, out)
        test = self._as_name(test, out, s.lineno)
        body, orelse = [], []
        j1 = self._sub_block(s.body, body, flags)
        j2 = self._sub_block(s.orelse, orelse, flags)
        out.append(ir.If(test, body, orelse, line=s.lineno))
        if j1 == "always" and j2 == "always" and s.orelse:
            return "always"
        return bool(j1 or j2)

    def with_stmt(self, s, out, flags):
        """A ``with`` whose context manager does not depend on the differentiated values: entered
        before the body and exited after it in the forward sweep (the primal keeps the user's
        ``with``); the backward sweep runs outside it.  A manager reading an active value, or an
        ``as`` name that carries one, is refused where it is active (the call has no rule)."""
        line = s.lineno
        managers = []
        for item in s.items:
            expr, target = item.context_expr, item.optional_vars
            for n in ast.walk(expr):
                if isinstance(n, ast.Call) and is_user_function(resolve_static(n.func, self.info, self.locals)):
                    raise self.err("the context manager of a `with` block cannot call a differentiated "
                                   "function", expr, hint="call it before the `with` line")
                if isinstance(n, (ast.Lambda, ast.NamedExpr, ast.ListComp, ast.GeneratorExp, ast.DictComp,
                                  ast.SetComp, ast.Await, ast.Yield, ast.YieldFrom)):
                    raise self.err(f"`{ast.unparse(n)}` in the context manager of a `with` block is not "
                                   "supported", n, hint="compute it before the `with` line")
            if target is not None and not isinstance(target, ast.Name):
                raise self.err("the `as` target of a `with` block must be a name", target)
            reads = self._passive_reads(expr)
            manager = self.tmp()
            out.append(ir.Assign(manager, ir.Opaque(self._passive_text(expr), reads), line=line))
            refusal = self.err(f"the context manager `{ast.unparse(expr)}` of this `with` block depends on "
                               "differentiated values (or its `as` name is used in them)", s,
                               hint="only context managers that do not depend on the differentiated "
                                    "inputs are supported (np.errstate, timers, warnings.catch_warnings)")
            value = target.id if target is not None else self.tmp()
            enter = ir.Prim(enter_context, self.program.callable_ref(self.info, enter_context),
                            [ir.Name(manager)] + [ir.Name(r) for r in reads], {}, norule=refusal,
                            written="with", mutates=True, where=position(s))
            out.append(ir.Assign(value, enter, line=line))
            managers.append(manager)
        jumps = self._sub_block(s.body, out, flags)
        for manager in reversed(managers):      # (also after a break, continue or return in the body)
            out.append(ir.Effect(f"{manager}.__exit__(None, None, None)", [manager], line=line))
        return bool(jumps)

    def _sub_block(self, stmts, out, flags):
        jumps = False
        before = len(out)
        for i, st in enumerate(stmts):
            j = self.stmt(st, out, flags)
            if j and i + 1 < len(stmts):
                if j == "always":
                    return "always"
                rest = stmts[i + 1:]
                live = [f for f in (flags.brk, flags.cnt, flags.ret) if f]
                guard = self.tmp()
                out.append(ir.Assign(guard, ir.Opaque("not (" + " or ".join(live) + ")", live), line=st.lineno))
                inner: list = []
                self._sub_block(rest, inner, flags)
                out.append(ir.If(ir.Name(guard), inner, [], line=rest[0].lineno))
                return True
            if j:
                jumps = j
        del before
        return jumps

    def _loop_body(self, body_stmts, loop_line, flags_outer):
        """Lower a loop body with fresh break/continue flags; returns (stmts, exit_test_or_None)."""
        has_break = _contains(body_stmts, ast.Break)
        has_continue = _contains(body_stmts, ast.Continue)
        has_return = self.ret_flag is not None and _contains(body_stmts, ast.Return)
        brk = self.tmp("_brk") if has_break else None
        cnt = self.tmp("_cnt") if has_continue else None
        flags = _Flags(brk=brk, cnt=cnt, ret=self.ret_flag if has_return else None)
        out: list = []
        if cnt:
            out.append(ir.Assign(cnt, ir.Copy(ir.Const("False")), line=loop_line))
        self._sub_block(body_stmts, out, flags)
        exits = [f for f in (brk, flags.ret) if f]
        return out, brk, exits

    def for_stmt(self, s, out, flags):
        line = s.lineno
        body_prefix: list = []
        loop_var, range_args = self._loop_header(s.iter, s.target, out, body_prefix, line)
        body, brk, exits = self._loop_body(s.body, line, flags)
        body = body_prefix + body
        if brk:
            out.append(ir.Assign(brk, ir.Copy(ir.Const("False")), line=line))
        if exits:
            test = self.tmp()
            body.append(ir.Assign(test, ir.Opaque(" or ".join(exits), list(exits)), line=line))
            body.append(ir.LoopExit(ir.Name(test), line=line))
        out.append(ir.ForRange(loop_var, range_args, body, counted=bool(exits), line=line))
        return self._loop_else(s, exits, out, flags)

    def _loop_else(self, s, exits, out, flags):
        """The ``else`` block of a loop, run when the loop was not left by ``break`` (or ``return``):
        guarded by the loop's exit flags, which are False when it ran to its end.  Returns whether
        the whole statement may jump (as `stmt` does)."""
        returns = bool(self.ret_flag and _contains(s.body, ast.Return))
        if not s.orelse:
            return returns
        if not exits:                   # no break, no return: the else block always runs
            j = self._sub_block(s.orelse, out, flags)
            return j or returns
        guard = self.tmp()
        out.append(ir.Assign(guard, ir.Opaque("not (" + " or ".join(exits) + ")", list(exits)),
                             line=s.orelse[0].lineno))
        body: list = []
        j = self._sub_block(s.orelse, body, flags)
        out.append(ir.If(ir.Name(guard), body, [], line=s.orelse[0].lineno))
        return bool(j or returns)

    def _loop_header(self, it, target, out, body_prefix, line):
        """(loop variable, range arguments) of ``for target in it``; a loop over a sequence walks its
        indices, and ``body_prefix`` receives the statements that bind ``target`` in each iteration."""
        if isinstance(it, ast.Call) and resolve_static(it.func, self.info, self.locals) is range:
            if it.keywords:
                raise self.err("range() takes no keyword arguments", it)
            range_args = [self.expr(a, out) for a in it.args]
            if not isinstance(target, ast.Name):
                raise self.err("the target of a `for` over range() must be a name", target)
            return target.id, range_args
        loop_var = self.tmp("_k")
        seqs, targets = self._iteration(it, target, out)
        # for x in seq  ->  for _k in range(len(seq)): x = seq[_k]
        lengths = []
        for seq in seqs:
            n = self.tmp()
            out.append(ir.Assign(n, ir.Prim(len, "len", [seq], {}, nondiff=True), line=line))
            lengths.append(ir.Name(n))
        if len(lengths) > 1:
            n = self.tmp()
            out.append(ir.Assign(n, ir.Prim(min, "min", lengths, {}, nondiff=True), line=line))
            lengths = [ir.Name(n)]
        for tgt, seq in targets:
            if isinstance(seq, _Counter):
                self._assign_counter(tgt, loop_var, seq, body_prefix, line)
            else:
                item = self.tmp()
                body_prefix.append(ir.Assign(item, ir.GetItem(seq, ir.Index(loop_var, [loop_var], loop_var)),
                                             line=line))
                self.assign_to(tgt, ir.Name(item), body_prefix, line)
        return loop_var, lengths

    def _iteration(self, it, target, out):
        """Sequences a non-range ``for`` walks, and (target, sequence) pairs for its body."""
        obj = resolve_static(it.func, self.info, self.locals) if isinstance(it, ast.Call) else _NOT_FOUND
        if obj is enumerate:
            start = None
            if len(it.args) == 2 and not it.keywords:
                start = self.expr(it.args[1], out)
            elif len(it.keywords) == 1 and it.keywords[0].arg == "start" and len(it.args) == 1:
                start = self.expr(it.keywords[0].value, out)
            elif len(it.args) != 1 or it.keywords:
                raise self.err("only enumerate(sequence) and enumerate(sequence, start) are supported", it)
            if not (isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2):
                raise self.err("use `for i, x in enumerate(seq)`", target)
            inner = it.args[0]
            if isinstance(inner, ast.Call) and resolve_static(inner.func, self.info, self.locals) is zip:
                if inner.keywords or not (isinstance(target.elts[1], (ast.Tuple, ast.List))
                                          and len(target.elts[1].elts) == len(inner.args)):
                    raise self.err("unpack enumerate(zip(...)) as `i, (x, y)`", target)
                seqs = [self._as_name(self.expr(a, out), out, it.lineno) for a in inner.args]
                return seqs, [(target.elts[0], _Counter(start))] + list(zip(target.elts[1].elts, seqs))
            seq = self._as_name(self.expr(inner, out), out, it.lineno)
            return [seq], [(target.elts[0], _Counter(start)), (target.elts[1], seq)]
        if obj is zip:
            if it.keywords:
                raise self.err("zip() keywords are not supported", it)
            seqs = [self._as_name(self.expr(a, out), out, it.lineno) for a in it.args]
            if not (isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == len(seqs)):
                raise self.err("unpack zip(...) into one name per sequence", target)
            return seqs, list(zip(target.elts, seqs))
        if isinstance(it, ast.Call) and obj is not _NOT_FOUND and obj in (iter, map, filter):
            raise self.err(f"iterating over {getattr(obj, '__name__', obj)}(...) is not supported", it,
                           hint=_ITERATOR_HINTS[obj])
        seq = self._as_name(self.expr(it, out), out, it.lineno)
        return [seq], [(target, seq)]

    def _assign_counter(self, tgt, loop_var, counter, out, line):
        start = counter.start
        if start is None:
            self.assign_to(tgt, ir.Name(loop_var), out, line)
            return
        count = self.tmp()
        out.append(ir.Assign(count, ir.Opaque(f"{loop_var} + {start.text()}", ir.names_in([ir.Name(loop_var), start])),
                             line=line))
        self.assign_to(tgt, ir.Name(count), out, line)

    def while_stmt(self, s, out, flags):
        line = s.lineno
        body, brk, exits = self._loop_body(s.body, line, flags)
        # while test: body  ->  loop: t = test; if t: body; exit when not t or a flag says so
        head: list = []
        test = self._as_name(self.expr(s.test, head), head, line)
        stop = self.tmp()
        exits_all = [f for f in exits]
        guarded: list = head + [ir.If(test, body, [], line=line)]
        cond = "not " + test.id + ("" if not exits_all else " or " + " or ".join(exits_all))
        guarded.append(ir.Assign(stop, ir.Opaque(cond, [test.id] + exits_all), line=line))
        guarded.append(ir.LoopExit(ir.Name(stop), line=line))
        if brk:
            out.append(ir.Assign(brk, ir.Copy(ir.Const("False")), line=line))
        out.append(ir.Loop(guarded, line=line))
        return self._loop_else(s, exits, out, flags)

    # -- expressions ----------------------------------------------------------------------------
def local_functions(fn: ast.FunctionDef, params) -> dict:
    """name -> (statement, parameter names, expression) for the local functions of ``fn`` that
    are lowered at their calls: defined at the top level of its body, once, by ``def name(a, b):
    return <expr>`` (a docstring allowed) or ``name = lambda a, b: <expr>``, with plain positional
    parameters, and used only by calls of that name after the definition (never passed as a
    value, never calling itself)."""
    found = {}
    for s in fn.body:
        if isinstance(s, ast.FunctionDef) and not s.decorator_list:
            body = s.body[1:] if (len(s.body) > 1 and isinstance(s.body[0], ast.Expr)
                                   and isinstance(s.body[0].value, ast.Constant)) else s.body
            if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
                found[s.name] = (s, s.args, body[0].value)
        elif isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
                and isinstance(s.value, ast.Lambda):
            found[s.targets[0].id] = (s, s.value.args, s.value.body)
    out = {}
    for name, (s, args, body) in found.items():
        plain = not (args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or args.defaults)
        bindings = sum(1 for n in ast.walk(fn) if (isinstance(n, ast.Name) and n.id == name
                                                  and not isinstance(n.ctx, ast.Load))
                       or (isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name and n is not fn))
        calls = {id(n.func) for n in ast.walk(fn) if isinstance(n, ast.Call)}
        loads = [n for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
        inside = {id(n) for n in ast.walk(body)}
        if plain and name not in params and bindings == 1 and loads \
                and all(id(n) in calls and id(n) not in inside and n.lineno > (s.end_lineno or s.lineno)
                        for n in loads):
            out[name] = (s, [a.arg for a in args.args], body)
    return out


def _assigned_names(fn: ast.FunctionDef) -> set:
    names = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
    comp_targets = set()
    for n in ast.walk(fn):
        if isinstance(n, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
            for g in n.generators:
                for t in ast.walk(g.target):
                    if isinstance(t, ast.Name):
                        comp_targets.add(t.id)
    # comprehension variables are renamed; they only count as locals if also assigned elsewhere
    other = set()
    for n in ast.walk(fn):
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
            for t in ast.walk(n.targets[0] if isinstance(n, ast.Assign) and len(n.targets) == 1 else n):
                if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store):
                    other.add(t.id)
    return (names - comp_targets) | (names & other)


def _list_names(fn: ast.FunctionDef) -> set:
    """Names the function binds to a list (a display, a comprehension, list(...), a `+` or `*` of
    one, one entry of an unpacked tuple of them) or grows with .append / .extend, and both names of
    every `b = a` (two names for one object, whatever it is)."""
    def list_like(value):
        if isinstance(value, (ast.List, ast.ListComp)):
            return True
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "sorted"):
            return True
        return isinstance(value, ast.BinOp) and (list_like(value.left) or list_like(value.right))

    names = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and (list_like(n.value) or isinstance(n.value, ast.Name)):
            names |= {t.id for t in n.targets if isinstance(t, ast.Name)}
            if isinstance(n.value, ast.Name):
                names.add(n.value.id)
        if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Tuple, ast.List)):
            for target in n.targets:
                if isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == len(n.value.elts):
                    names |= {t.id for t, v in zip(target.elts, n.value.elts)
                              if isinstance(t, ast.Name) and list_like(v)}
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("append", "extend") \
                and isinstance(n.func.value, ast.Name):
            names.add(n.func.value.id)
    return names


def _has_early_return(body) -> bool:
    """True when a ``return`` is not the last top-level statement."""
    for i, s in enumerate(body):
        last = i == len(body) - 1
        if isinstance(s, ast.Return):
            if not last:
                return True
            continue
        if _contains([s], ast.Return):
            return True
    return False


def _contains(stmts, kind) -> bool:
    """Does a statement of ``kind`` occur in ``stmts`` (not inside nested loops for break/continue)?"""
    loop_bound = kind in (ast.Break, ast.Continue)
    stack = list(stmts)
    while stack:
        s = stack.pop()
        if isinstance(s, kind):
            return True
        if loop_bound and isinstance(s, (ast.For, ast.While)):
            stack.extend(s.orelse)      # a loop's else block belongs to the enclosing loop
            continue
        for field_name in ("body", "orelse"):
            stack.extend(getattr(s, field_name, []) or [])
    return False
