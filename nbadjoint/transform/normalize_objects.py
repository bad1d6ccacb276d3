"""Objects in the normaliser: constructing objects of the user's classes, calling their methods and
properties, reading and writing their attributes (see objects.py for what a record is)."""

from __future__ import annotations

import ast
import dataclasses
import types

from . import ir, objects
from .parse import _NOT_FOUND, is_user_function, resolve_static

_NOT_KNOWN_HINT = ("nbadjoint follows methods and attributes of objects whose class it knows where they are "
                   "used: objects built in the function (`m = Model(...)`, or by a function that returns "
                   "one), entries of a list of objects of one class, `self` in a method, attributes its "
                   "methods set to objects of one class, arguments of the function being differentiated, "
                   "and arguments every caller passes an object of one class")


# methods of lists and dicts (refused as such, not taken for a method of an object of unknown class)
CONTAINER_METHODS = frozenset({"get", "keys", "values", "items", "update", "setdefault", "count", "index", "insert",
                               "remove", "sort", "pop", "popitem", "clear", "reverse", "extend", "append"})


class ObjectLowering:
    """The part of the Normalizer (normalize.py) that lowers objects."""

    # -- what is known of a name's class ---------------------------------------------------------
    def _known_classes(self, node) -> dict:
        """name -> class, for the parameters callers pass objects of one class (checked on entry)
        and the locals only ever bound to objects the function builds (``m = Model(...)``)."""
        hints = self.program.class_hints.get(self.info.key, {})
        stores: dict = {}
        loops_over, pending = [], []
        for n in ast.walk(node):
            if isinstance(n, ast.For) and isinstance(n.target, ast.Name) and isinstance(n.iter, ast.Name):
                loops_over.append((n.target.id, n.iter.id))
                continue
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                    and isinstance(n.value, ast.Call):
                made = resolve_static(n.value.func, self.info, self.locals)
                if isinstance(made, type) and (objects.is_user_class(made) or objects.is_namedtuple(made)):
                    stores.setdefault(n.targets[0].id, set()).add(made)
                    continue
                returned = objects.returned_class(made)     # a factory: checked where it is used
                if returned is not None:
                    stores.setdefault(n.targets[0].id, set()).add(returned)
                    self.guarded_names.add(n.targets[0].id)
                    continue
                if made is _NOT_FOUND and isinstance(n.value.func, ast.Attribute):
                    pending.append((n.targets[0].id, n.value.func))     # m = m.evolve(k): decided below
                    continue
            for t in (n.targets if isinstance(n, ast.Assign) else
                      [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension))
                      else [i.optional_vars for i in n.items if i.optional_vars is not None]
                      if isinstance(n, ast.With) else []):
                for m in ast.walk(t):
                    if isinstance(m, ast.Name) and isinstance(m.ctx, ast.Store):
                        stores.setdefault(m.id, set()).add(None)
        # lists and tuples of objects of one class (`models = [Model(a), Model(b)]`, appends of such)
        entries: dict = {}
        for n in ast.walk(node):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                if isinstance(n.value, (ast.List, ast.Tuple)):
                    entries.setdefault(n.targets[0].id, set()).update(self._built_class(e) for e in n.value.elts)
                elif isinstance(n.value, ast.ListComp) and len(n.value.generators) == 1:
                    entries.setdefault(n.targets[0].id, set()).add(self._built_class(n.value.elt))
                else:
                    entries.setdefault(n.targets[0].id, set()).add(None)
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "append" \
                    and isinstance(n.func.value, ast.Name) and len(n.args) == 1:
                entries.setdefault(n.func.value.id, set()).add(self._built_class(n.args[0]))
        for name, classes in entries.items():       # [m, Model(b)] with m = Model(a): one class
            for c in list(classes):
                if isinstance(c, str):
                    classes.discard(c)
                    made = stores.get(c, {None})
                    classes.add(next(iter(made)) if len(made) == 1 else None)
        self.entry_classes = {name: next(iter(c)) for name, c in entries.items()
                              if len(c) == 1 and None not in c and name not in self.params}
        # lists of objects of several classes (`layers = [Dense(...), Relu(), Dense(...)]`): a method
        # call on an entry is dispatched on its class when it runs
        self.entry_class_sets = {name: tuple(sorted(c, key=lambda k: k.__qualname__)) for name, c in entries.items()
                                 if len(c) > 1 and None not in c and name not in self.params}
        self.class_sets = {}
        for target, over in loops_over:     # for m in models: each m an object of the entries' class
            if over in self.entry_class_sets and target not in stores:
                self.class_sets[target] = self.entry_class_sets[over]
                continue
            stores.setdefault(target, set()).add(self.entry_classes.get(over))
            self.guarded_names.add(target)
        def decide():
            known = {p: c for p, c in hints.items() if c is not None and p in self.params and p not in stores}
            for name, classes in stores.items():
                if name not in self.params and len(classes) == 1 and None not in classes:
                    known[name] = next(iter(classes))
            return known
        known = decide()
        if pending:         # a method returning an object (`return self`, `return Model(...)`)
            for name, func in pending:
                owner = known.get(func.value.id) if isinstance(func.value, ast.Name) else None
                kind, method = self._lookup(owner, func.attr) if owner is not None else (None, None)
                returned = objects.returned_class(method, owner) if kind == "method" else None
                stores.setdefault(name, set()).add(returned)
                self.guarded_names.add(name)
            known = decide()
        return known

    def _built_class(self, node):
        """The user class ``node`` builds an object of (``Model(...)``), a local name (its name:
        its class is decided from what it is bound to), else None."""
        if isinstance(node, ast.Name) and node.id in self.locals and node.id not in self.params:
            return node.id
        if isinstance(node, ast.Call):
            made = resolve_static(node.func, self.info, self.locals)
            if isinstance(made, type) and objects.is_user_class(made) and not objects.is_namedtuple(made):
                return made
        return None

    def class_guards(self, line) -> list:
        """Statements checking, on entry, the classes the parameters were taken for."""
        out = []
        hints = self.program.class_hints.get(self.info.key, {})
        for p in self.params:
            cls = self.classes.get(p)
            if cls is not None and hints.get(p) is cls:
                ref = self.class_ref(cls)
                where = self.program._const((self.info.name, self.info.filename, self.info.node.lineno))
                out.append(ir.Effect(f"_rt.check_class({p}, {ref}, {('the argument ' + p)!r}, {where})", [p],
                                     line=line))
        return out

    def receiver_class(self, node):
        """(class, checked at the call) of the object ``node`` evaluates to, or None when not known."""
        if isinstance(node, ast.Name):
            if self.inline_env and node.id in self.inline_env[-1]:
                return None
            if node.id not in self.locals:      # a module-level object (a change of it compiles again)
                value = resolve_static(node, self.info, self.locals)
                cls = type(value)
                if value is not _NOT_FOUND and not isinstance(value, type) and objects.is_user_class(cls) \
                        and not objects.is_namedtuple(cls) and hasattr(value, "__dict__"):
                    return cls, False
                return None
            cls = self.classes.get(node.id)
            return (cls, node.id in self.guarded_names) if cls is not None else None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in getattr(self, "entry_classes", {}):
            return self.entry_classes[node.value.id], True       # models[k]: checked at the call
        if isinstance(node, ast.Call):          # Model(...).method(...): an object built there
            made = resolve_static(node.func, self.info, self.locals)
            if isinstance(made, type) and objects.is_user_class(made) and not objects.is_namedtuple(made):
                return made, False
            return None
        if isinstance(node, ast.Attribute):
            outer = self.receiver_class(node.value)
            if outer is None:
                return None
            cls = self.program.attribute_classes(outer[0]).get(node.attr)
            return (cls, True) if cls is not None else None
        return None

    def class_ref(self, cls) -> str:
        """How generated code names ``cls``: its global name where the function sees it by that name."""
        if self.info.globals.get(cls.__name__) is cls:
            return self.program.constant_ref(self.info, cls.__name__, cls)
        return self.program._const(cls)

    def argument_classes(self, slots, receiver, owner, args_nodes, keywords) -> dict:
        """parameter -> the class of the object a call passes it (where known): what the callee
        takes its parameters for (see Program.note_classes)."""
        arg_nodes = ([None] if receiver is not None else []) + list(args_nodes)
        kw_nodes = {k.arg: k.value for k in keywords}
        classes = {}
        for name, kind, v in slots:
            if kind == "pos" and receiver is not None and v == 0:
                classes[name] = owner if isinstance(receiver, ir.Name) else None
                continue
            n = arg_nodes[v] if kind == "pos" else kw_nodes[v] if kind == "kw" else None
            known = self.receiver_class(n) if n is not None else None
            if known is not None:
                classes[name] = known[0]
        return classes

    def unknown_class_error(self, func, node):
        """The refusal of ``name.method(...)`` where the class of ``name`` is not known (marked so:
        `nba.grad` decides at the call, when the arguments' classes are known)."""
        exc = self.err(f"`{ast.unparse(func)}(...)`: `.{func.attr}()` is not an array method, and the class of "
                       f"`{func.value.id}` is not known here", node,
                       hint=_NOT_KNOWN_HINT + f" (or annotated, `{func.value.id}: Model`)")
        exc.unknown_class = True
        self.program.unknown_classes = True
        return exc

    def _lookup(self, cls, attr):
        """objects.lookup, noted: a program whose classes' methods or attributes change (a class
        redefined, a method monkeypatched) is compiled again (Program.is_current)."""
        self.program.class_deps.append((cls, attr, objects.raw_attribute(cls, attr)))
        return objects.lookup(cls, attr)

    def _where(self, node):
        return self.program._const((self.info.name, self.info.filename, getattr(node, "lineno", 0)))

    def _checked_receiver(self, value_node, cls, guard, out, line):
        atom = self._as_name(self.expr(value_node, out), out, line)
        if guard:
            ref = self.class_ref(cls)
            out.append(ir.Effect(f"_rt.check_class({atom.id}, {ref}, {ast.unparse(value_node)!r}, "
                                 f"{self._where(value_node)})", [atom.id], line=line))
        return atom

    def _attribute_of_object(self, node) -> bool:
        """``node`` is ``name.attr`` for a local object whose class is known (a write into it may be
        lowered as a write into the value it holds, stored back)."""
        return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id in self.locals and self.receiver_class(node.value) is not None

    # -- attributes ------------------------------------------------------------------------------
    def object_attribute(self, node, out):
        """``obj.attr`` read, for an object (None when ``node`` is not one: an array attribute)."""
        from . import rules
        line = node.lineno
        known = self.receiver_class(node.value)
        attr = node.attr
        if known is None:
            if attr in rules.ATTRIBUTE_FUNCS:
                return None
            base = self._as_name(self.expr(node.value, out), out, line)
            out.append(ir.Effect(f"_rt.check_field({base.id}, {attr!r}, {self._where(node)})", [base.id], line=line))
            return self.emit(ir.GetItem(base, _attr_index(attr)), out, line)
        cls, guard = known
        problem = None if objects.is_namedtuple(cls) else objects.record_problem(cls)
        if problem is not None:
            raise self.err(f"objects of {cls.__name__} cannot be differentiated: {problem}", node)
        if objects.is_namedtuple(cls) and attr in cls._fields:
            base = self._checked_receiver(node.value, cls, guard, out, line)
            return self.emit(ir.GetItem(base, _attr_index(attr)), out, line)
        kind, func = self._lookup(cls, attr)
        if kind == "property":
            if not is_user_function(func):
                raise self.err(f"the property {cls.__name__}.{attr} is not Python code nbadjoint can read", node)
            base = self._checked_receiver(node.value, cls, guard, out, line)
            value = self.user_call(func, node, out, receiver=base, owner=cls, args_nodes=[])
            self.object_calls[_position(node)] = ("property", func, cls, self.sites[-1][0])
            return value
        if kind in ("method", "static", "classmethod", "other"):
            raise self.err(f"`{ast.unparse(node)}` is used as a value; only calls of it are supported", node,
                           hint="call the method where it is needed")
        if attr in ("__dict__", "__class__"):
            raise self.err(f"`{ast.unparse(node)}` is not supported", node)
        objects.use(cls)
        base = self._checked_receiver(node.value, cls, guard, out, line)
        return self.emit(ir.GetItem(base, _attr_index(attr)), out, line)

    def assign_attribute(self, target, value, out, line, store_back=False):
        """``obj.attr = value`` (``store_back``: the value the attribute held, written into)."""
        base = target.value
        if not isinstance(base, ast.Name) or base.id not in self.locals:
            if isinstance(base, ast.Name):
                raise self.err(f"writing into `{base.id}`, which is not a local variable (global state)", target,
                               hint="pass it in as an argument and return the new value")
            raise self.err("only `name.attribute = value` writes are supported", target,
                           hint="assign the inner object to a variable first")
        known = self.receiver_class(base)
        if known is None:
            exc = self.err(f"writing the attribute `.{target.attr}` of `{base.id}`, an object whose class is not "
                           "known here", target, hint=_NOT_KNOWN_HINT)
            exc.unknown_class = True
            self.program.unknown_classes = True
            raise exc
        cls = known[0]
        kind, _ = self._lookup(cls, target.attr)
        if kind not in ("field", "constant"):
            raise self.err(f"`{ast.unparse(target)} = ...` assigns to a {kind} of {cls.__name__}, which is not "
                           "supported", target, hint="store the value in an attribute of its own")
        frozen = dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
        if store_back and frozen:       # (the same object: a frozen dataclass's field may hold a mutable one)
            out.append(ir.SetItem(base.id, _attr_index(target.attr, frozen=True), value, line=line))
            return
        if objects.is_namedtuple(cls) or frozen:
            # (Python raises here: the primal does, and so does the differentiated code)
            out.append(ir.Effect(f"setattr({base.id}, {target.attr!r}, {value.text()})",
                                 [base.id] + ir.names_in([value]), line=line))
            return
        objects.use(cls)
        out.append(ir.SetItem(base.id, _attr_index(target.attr), value, line=line))

    def assign_attribute_entry(self, target, value, out, line):
        """``obj.attr[index] = value``: the array the attribute holds, written, and stored back (so
        the adjoint of the object's entry is that of the array written)."""
        base = target.value
        held = self._as_name(self.expr(base, out), out, line)
        out.append(ir.SetItem(held.id, self.index(target.slice, out), value, line=line,
                              exclude=(base.value.id,), entry=(base.value.id, base.attr)))
        self.entry_writes[_position(base)] = (base.value.id, base.attr)
        self.assign_attribute(base, held, out, line, store_back=True)

    def aug_attribute(self, s, out):
        """``obj.attr op= v``: the attribute read, updated (in place for an array, which other names
        holding it see, as in Python) and stored back."""
        line = s.lineno
        rhs = self.expr(s.value, out)
        old = self._as_name(self.expr(s.target, out), out, line)
        entry_is_array = self.tmp()
        new = self.tmp()
        owner = s.target.value.id if isinstance(s.target.value, ast.Name) else None
        out.append(ir.Assign(entry_is_array, ir.Opaque(f"{old.id}.__class__ is np.ndarray", [old.id]), line=line))
        out.append(ir.If(ir.Name(entry_is_array),
                         [ir.Assign(new, ir.BinOp(type(s.op), old, rhs), line=line),
                          self._in_place_cast_check(old.id, new, s, line),
                          ir.SetItem(old.id, ir.Index("...", [], "Ellipsis"), ir.Name(new), line=line, aug=True,
                                     exclude=(owner,) if owner else (), entry=(owner, s.target.attr) if owner else ())],
                         [ir.Assign(old.id, ir.BinOp(type(s.op), old, rhs), line=line, aug_rebind=True)],
                         line=line))
        if owner:
            self.entry_writes[_position(s.target)] = (owner, s.target.attr)
        target = ast.copy_location(ast.Attribute(s.target.value, s.target.attr, ast.Store()), s.target)
        self.assign_to(target, old, out, line)
        return False

    def aug_attribute_entry(self, s, out):
        """``obj.attr[index] op= value``: on the array the attribute holds, which is stored back."""
        line = s.lineno
        owner, attr = s.target.value.value.id, s.target.value.attr
        held = self._as_name(self.expr(s.target.value, out), out, line)
        self.user_names.add(held.id)
        self.locals.add(held.id)
        try:
            inner = ast.AugAssign(ast.Subscript(ast.Name(held.id, ast.Load()), s.target.slice, ast.Store()),
                                  s.op, s.value)
            ast.copy_location(inner, s)
            ast.copy_location(inner.target, s.target)
            start = len(out)
            self.aug_assign(inner, out)
            for st in ir.walk(out[start:]):
                if isinstance(st, ir.SetItem) and st.target == held.id:
                    st.exclude = tuple(st.exclude) + (owner,)      # (stored back right after)
                    st.entry = (owner, attr)
                elif isinstance(st, ir.SetItem) and held.id in st.exclude:
                    st.entry = (owner, attr, True)      # into an entry of the value: what it holds
        finally:
            self.locals.discard(held.id)
            self.user_names.discard(held.id)
        self.entry_writes[_position(s.target.value)] = (owner, attr)
        self.assign_attribute(s.target.value, held, out, line, store_back=True)
        return False

    def grow_attribute(self, func, value, out, line) -> bool:
        """``obj.attr.append(v)`` / ``.extend(items)`` on a list an attribute holds: grown, and
        stored back (False when ``func`` is not such a method)."""
        if func.attr not in ("append", "extend") or not self._attribute_of_object(func.value):
            return False
        if len(value.args) != 1 or value.keywords:
            raise self.err(f"list.{func.attr} takes exactly one argument", value)
        held = self._as_name(self.expr(func.value, out), out, line)
        start = len(out)
        if func.attr == "append":
            out.append(ir.Append(held.id, self.expr(value.args[0], out), line=line))
        else:
            from .normalize_expr import _generator_as_list
            self.extend(held.id, self.expr(_generator_as_list(value, list).args[0], out), out, line)
        for st in ir.walk(out[start:]):
            if isinstance(st, ir.Append) and st.target == held.id:
                st.exclude = (func.value.value.id,)       # (stored back right after)
                st.entry = (func.value.value.id, func.value.attr)
        self.entry_writes[_position(func.value)] = (func.value.value.id, func.value.attr)
        self.assign_attribute(func.value, held, out, line)
        return True

    # -- calls -----------------------------------------------------------------------------------
    def object_call(self, node, out):
        """``obj.method(...)`` or ``super().method(...)``; None when ``node`` is not such a call."""
        func = node.func
        if isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) \
                and func.value.func.id == "super" and resolve_static(func.value.func, self.info, self.locals) is super:
            return self.super_call(node, out)
        owner = resolve_static(func.value, self.info, self.locals)
        if isinstance(owner, type) and objects.is_user_class(owner) and not objects.is_namedtuple(owner):
            return self.class_call(owner, node, out)
        known = self.receiver_class(func.value)
        if known is None:
            several = self._class_set(func.value)
            return self.dispatch_call(several, node, out) if several else None
        cls, guard = known
        kind, callee = self._lookup(cls, func.attr)
        line = node.lineno
        if kind == "method" and is_user_function(callee):
            receiver = self._checked_receiver(func.value, cls, guard, out, line)
            value = self.user_call(callee, node, out, receiver=receiver, owner=cls)
            self.object_calls[_position(node)] = ("method", callee, cls, self.sites[-1][0])
            entry = func.value
            if self._attribute_of_object(entry):
                # self.grid.refine(): the component, which the method may change, is stored back
                out[-1].exclude = (entry.value.id,)
                out[-1].entry = (entry.value.id, entry.attr)
                self.assign_attribute(entry, receiver, out, line)
            elif isinstance(entry, ast.Subscript) and isinstance(entry.value, ast.Name) and entry.value.id in self.locals:
                # models[k].step(): the object, which the method may change, is stored back into
                # the list (so the list's adjoint follows the change)
                out[-1].exclude = (entry.value.id,)
                out.append(ir.SetItem(entry.value.id, self.index(entry.slice, out), receiver, line=line,
                                      exclude=(entry.value.id,)))
            return value
        if kind == "static" and is_user_function(callee):
            value = self.user_call(callee, node, out, owner=cls)
            self.object_calls[_position(node)] = ("static", callee, cls, self.sites[-1][0])
            return value
        if kind == "classmethod" and is_user_function(callee):
            self._note_class_param(callee, cls, node)
            ref = self.class_ref(cls)
            value = self.user_call(callee, node, out, receiver=ir.Const(ref), owner=cls)
            self.object_calls[_position(node)] = ("classmethod", callee, cls, self.sites[-1][0])
            return value
        if objects.is_namedtuple(cls) or kind == "field":
            return None             # (a namedtuple's own methods; a function held in a field: refused later)
        raise self.err(f"`{ast.unparse(func)}(...)`: {cls.__name__}.{func.attr} is not a method written in "
                       "Python that nbadjoint can read", node)

    def called_object(self, node, out):
        """``model(x)`` for an object whose class is known: its ``__call__`` method."""
        func = node.func
        called = ast.copy_location(ast.Call(ast.copy_location(ast.Attribute(func, "__call__", ast.Load()), func),
                                            node.args, node.keywords), node)
        called.end_lineno, called.end_col_offset = node.end_lineno, node.end_col_offset
        return self.object_call(called, out)

    def _class_set(self, node):
        """The classes of the objects ``node`` may hold, when it is an entry of a list of objects of
        several classes (or a loop variable over one); else None."""
        if isinstance(node, ast.Name) and node.id in getattr(self, "class_sets", {}):
            return self.class_sets[node.id]
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in getattr(self, "entry_class_sets", {}):
            return self.entry_class_sets[node.value.id]
        return None

    def dispatch_call(self, classes, node, out):
        """``layer.method(...)`` for an object of one of ``classes``: the method of its class, chosen
        when it runs (one call site per class); another class stops with a TransformError."""
        func, line = node.func, node.lineno
        receiver = self._as_name(self.expr(func.value, out), out, line)
        callees = []
        for cls in classes:
            kind, callee = self._lookup(cls, func.attr)
            if kind != "method" or not is_user_function(callee):
                raise self.err(f"`{ast.unparse(func)}(...)`: {cls.__name__}.{func.attr} is not a method written in "
                               "Python that nbadjoint can read", node)
            callees.append((cls, callee))
        # the arguments, once, then a branch per class
        temps = [self._as_name(self.expr(a, out), out, line) for a in node.args]
        kw_temps = [ast.keyword(k.arg, ast.Name(self._as_name(self.expr(k.value, out), out, line).id, ast.Load()))
                    for k in node.keywords]
        held = [n for n in [t.id for t in temps] + [k.value.id for k in kw_temps] if n not in self.locals]
        self.locals.update(held)
        result = self.tmp()
        try:
            call = ast.copy_location(ast.Call(func, [ast.Name(t.id, ast.Load()) for t in temps], kw_temps), node)
            branch = None
            sites = []
            for cls, callee in reversed(callees):
                body: list = []
                if branch is None:          # the last class: checked, as no other remains
                    body.append(ir.Effect(f"_rt.check_class({receiver.id}, {self.class_ref(cls)}, "
                                          f"{ast.unparse(func.value)!r}, {self._where(node)})", [receiver.id], line=line))
                value = self.user_call(callee, call, body, receiver=receiver, owner=cls)
                sites.append((cls, callee, self.sites[-1][0]))
                body.append(ir.Assign(result, ir.Copy(value), line=line))
                if branch is None:
                    branch = body
                    continue
                test = self.tmp()
                branch = [ir.Assign(test, ir.Opaque(f"{receiver.id}.__class__ is {self.class_ref(cls)}",
                                                    [receiver.id]), line=line),
                          ir.If(ir.Name(test), body, branch, line=line)]
            out.extend(branch)
        finally:
            self.locals.difference_update(held)
        self.object_calls[_position(node)] = ("dispatch", None, None, list(reversed(sites)))
        return ir.Name(result)

    def class_call(self, cls, node, out):
        """``Cls.method(...)`` called on the class: a classmethod gets the class, a static method
        and a function called with its object passed explicitly get their arguments."""
        kind, callee = self._lookup(cls, node.func.attr)
        if not is_user_function(callee):
            raise self.err(f"`{ast.unparse(node.func)}(...)` is not Python code nbadjoint can read", node)
        if kind == "classmethod":
            self._note_class_param(callee, cls, node)
            value = self.user_call(callee, node, out, receiver=ir.Const(self.class_ref(cls)), owner=cls)
            self.object_calls[_position(node)] = ("classmethod", callee, cls, self.sites[-1][0])
            return value
        value = self.user_call(callee, node, out, owner=cls)
        self.object_calls[_position(node)] = ("static", callee, cls, self.sites[-1][0])
        return value

    def _note_class_param(self, callee, cls, node):
        """A classmethod's first parameter is ``cls``: one class per program (``cls(...)`` in it
        builds objects of that class)."""
        seen = self.program.class_params.setdefault(id(callee), cls)
        if seen is not cls:
            raise self.err(f"the classmethod {callee.__qualname__} is called for two classes, {seen.__name__} and "
                           f"{cls.__name__}, in one differentiated program", node,
                           hint="call it for one class, or write a function per class")

    def super_call(self, node, out):
        """``super().method(...)`` in a method: the method of the next class in the object's MRO."""
        owner = self.program.method_class.get(self.info.key)
        if owner is None or not self.params or node.func.value.args:
            raise self.err("`super()` is supported only without arguments, in a method of a class", node)
        obj_cls = self.classes.get(self.params[0])
        if obj_cls is None:
            raise self.err("`super()`: the class of the object is not known here", node, hint=_NOT_KNOWN_HINT)
        mro = obj_cls.__mro__
        start = mro.index(owner) + 1 if owner in mro else len(mro)
        attr = node.func.attr
        for klass in mro[start:]:
            if attr in vars(klass):
                raw = vars(klass)[attr]
                self._lookup(klass, attr)
                break
        else:
            raw = None
        if attr == "__init__" and (raw is None or raw is object.__init__):
            return ir.Const("None")         # object.__init__: nothing to do
        if isinstance(raw, types.FunctionType) and is_user_function(raw):
            value = self.user_call(raw, node, out, receiver=ir.Name(self.params[0]), owner=obj_cls, defined_in=klass)
            self.object_calls[_position(node)] = ("super", raw, obj_cls, self.sites[-1][0])
            return value
        raise self.err(f"`super().{attr}(...)` is not a method written in Python that nbadjoint can read", node)

    def construct(self, cls, node, out):
        """``Cls(...)`` for a class of the user's, a dataclass or SimpleNamespace: a new object,
        then its ``__init__`` (a call site), or its fields written one by one."""
        line = node.lineno
        problem = objects.record_problem(cls)
        if problem is not None:
            raise self.err(f"objects of {cls.__name__} cannot be differentiated: {problem}", node)
        kind, init = objects.constructor(cls)
        for name in ("__init__", "__new__", "__post_init__"):
            self._lookup(cls, name)
        if kind == "refuse":
            raise self.err(f"objects of {cls.__name__} cannot be differentiated: {init}", node)
        objects.use(cls)
        from ..runtime.objects import new_object
        obj = self.emit(ir.Prim(new_object, "_rt.new_object", [ir.Const(self.class_ref(cls))], {}, nondiff=True),
                        out, line)
        if kind == "init":
            self.user_call(init, node, out, receiver=obj, owner=cls, site_name=cls.__name__)
            out[-1].expr.constructing = True     # (its object is new: it shares memory with nothing)
            self.object_calls[_position(node)] = ("construct", init, cls, self.sites[-1][0])
            return obj
        if kind == "none":
            if node.args or node.keywords:
                raise self.err(f"{cls.__name__}() takes no arguments", node)
            return obj
        if kind == "namespace":
            if node.args:
                raise self.err("SimpleNamespace(...) takes keyword arguments only", node)
            for k in node.keywords:
                out.append(ir.SetItem(obj.id, _attr_index(k.arg), self.expr(k.value, out), line=line))
            return obj
        # a dataclass's own __init__: each field set from its argument or default
        frozen = cls.__dataclass_params__.frozen
        fields = init
        positional = [f for f in fields if not f.kw_only]
        if len(node.args) > len(positional):
            raise self.err(f"{cls.__name__}() takes {len(positional)} positional arguments", node)
        given = {f.name: a for f, a in zip(positional, node.args)}
        for k in node.keywords:
            if k.arg in given or k.arg not in {f.name for f in fields}:
                raise self.err(f"{cls.__name__}() got an unexpected or repeated argument `{k.arg}`", node)
            given[k.arg] = k.value
        for f in fields:
            if isinstance(f.type, dataclasses.InitVar) or f.type is dataclasses.InitVar:
                raise self.err(f"the InitVar field `{f.name}` of {cls.__name__} is not supported", node)
            if f.name in given:
                value = self.expr(given[f.name], out)
            elif f.default is not dataclasses.MISSING:
                value = ir.Const(self.program.constant_ref_default(cls, f.name, f.default))
            elif f.default_factory is not dataclasses.MISSING:
                fref = self.program.callable_ref(self.info, f.default_factory)
                value = self.emit(ir.Prim(f.default_factory, fref, [], {}, nondiff=True), out, line)
            else:
                raise self.err(f"missing argument `{f.name}` in {cls.__name__}(...)", node)
            out.append(ir.SetItem(obj.id, _attr_index(f.name, frozen), value, line=line))
        post = self._lookup(cls, "__post_init__")
        if post[0] == "method":
            if not is_user_function(post[1]):
                raise self.err(f"the __post_init__ of {cls.__name__} is not Python code nbadjoint can read", node)
            self.user_call(post[1], node, out, receiver=obj, owner=cls, args_nodes=[],
                           site_name=f"{cls.__name__}.__post_init__")
        return obj


def _attr_index(attr, frozen=False) -> ir.Index:
    return ir.Index(repr(attr), [], repr(attr), attr=attr, frozen=frozen)


def _position(node) -> tuple:
    from .normalize import position
    return position(node)
