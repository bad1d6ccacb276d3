"""Aliasing: writes into an array that another live name (or a parameter) may share.

A points-to analysis over the IR of one function: each name may refer to parameters, module or
closure arrays, or values built at a statement; containers record what they may hold.  A write
whose effect another live name would see (so that its adjoint would be lost) is refused when it is
certain, or checked at run time (``_rt.check_alias``) when it depends on what the caller passes.
"""

from __future__ import annotations

import ast
import types
import re

import numpy as np

from . import ir


def _view_funcs():
    names = ["transpose", "reshape", "ravel", "squeeze", "expand_dims", "asarray", "asanyarray", "real", "imag",
             "swapaxes", "diagonal", "broadcast_to", "atleast_1d", "atleast_2d", "atleast_3d", "flip", "fliplr",
             "flipud", "moveaxis", "rollaxis"]
    out = {getattr(np, n) for n in names if hasattr(np, n)}
    out |= {np.ndarray.reshape, np.ndarray.transpose, np.ndarray.view, np.ndarray.squeeze, np.ndarray.ravel}
    return out


_VIEW_FUNCS = _view_funcs()


class AliasChecker:
    """Reject in-place writes whose effect another live name would see (its adjoint would be lost)."""

    def __init__(self, code, returns_fresh: dict):
        self.code = code
        self.returns_fresh = returns_fresh
        self.user_names = code.norm.user_names
        self.live_after: dict = {}
        self.contents: dict = {}        # container object -> objects it may hold
        self.sequences: set = set()     # objects that are lists or tuples built here
        self.mutated: set = set()       # parameters written in place (the caller's arrays)
        self.touched: set = set()       # parameters a write through another name may reach
        self.entries: dict = {}         # touched parameter -> the attributes whose values are written
                                        # (None: any entry may be)
        self.unsafe: set = set()        # (p, q): q (or a name that may share its memory) is read after
                                        # a write into parameter p, so their arguments must not overlap
        self.strict_mutated: set = set()  # ... by writes that happen whatever their type

    def run(self) -> bool:
        """Check the function; returns True when its result never shares memory with a parameter."""
        body = self.code.body
        self._live(body, set())
        self.bound_before: dict = {}
        _bound_before(body, frozenset(self.code.params), self.bound_before)
        self.checking = False          # a first pass collects what containers may hold
        self._pts_block(body, {p: frozenset({("param", p)}) for p in self.code.params})
        self.checking = True
        self._pts_block(body, {p: frozenset({("param", p)}) for p in self.code.params})
        self.code.touched = frozenset(self.touched)
        self.code.touched_entries = {p: (None if self.entries.get(p, None) is None else
                                         frozenset(self.entries[p].items())) for p in self.touched}
        self.code.unsafe_pairs = frozenset(self.unsafe) | frozenset(
            (p, q) for p in self.mutated for q in self.mutated if p != q)
        ret = self.code.body[-1].value
        returned = self._pts(ret, self._final_env)
        returned |= self._held_deep(returned)     # `return out, s`: a fresh tuple may hold a parameter
        self.code.returned_globals = frozenset(obj for obj in returned if obj[0] == "global")
        return not any(obj[0] in ("param", "global") for obj in returned)

    # -- liveness ---------------------------------------------------------------------------------
    def _live(self, stmts, live_out: set) -> set:
        live = set(live_out)
        for s in reversed(stmts):
            if isinstance(s, ir.Assign):
                if isinstance(s.expr, ir.UserCall):
                    self.live_after[id(s)] = set(live)
                live = (live - {s.target}) | ir.reads(s)
            elif isinstance(s, ir.Unpack):
                live = (live - set(s.targets)) | set(ir.names_in([s.value]))
            elif isinstance(s, (ir.SetItem, ir.Append)):
                self.live_after[id(s)] = set(live)
                live |= ir.reads(s)
            elif isinstance(s, ir.If):
                live = self._live(s.body, live) | self._live(s.orelse, live) | set(ir.names_in([s.test]))
            elif isinstance(s, (ir.ForRange, ir.Loop)):
                extra = set(ir.names_in(s.range_args)) if isinstance(s, ir.ForRange) else set()
                entry = set(live)
                for _ in range(50):
                    new = self._live(s.body, live | entry) | live
                    if new == entry:
                        break
                    entry = new
                live = entry | extra
            else:
                live |= ir.reads(s)
        return live

    # -- points-to ---------------------------------------------------------------------------------
    def _pts_block(self, stmts, env: dict) -> dict:
        env = dict(env)
        for s in stmts:
            if isinstance(s, ir.Assign):
                if not s.aug_rebind:       # rebinding only happens to values that are not arrays
                    env[s.target] = self._transfer(s, env)
            elif isinstance(s, ir.Unpack):
                base = self._pts(s.value, env)
                inner = self._held(base)
                params = frozenset(o for o in base if o[0] == "param")
                for k, t in enumerate(s.targets):
                    # an entry of an entry stands for the entry itself (more sharing assumed, never less;
                    # keeps the objects finite when a loop unpacks what it unpacked before)
                    env[t] = inner | params | frozenset(o if o[0] == "elem" else ("elem", o, k) for o in base)
            elif isinstance(s, (ir.SetItem, ir.Append)):
                self._check_write(s, s.target, env)
                for obj in env.get(s.target, frozenset()):
                    self.contents[obj] = self.contents.get(obj, frozenset()) | self._pts(s.value, env)
            elif isinstance(s, ir.If):
                env = _union_env(self._pts_block(s.body, env), self._pts_block(s.orelse, env))
            elif isinstance(s, (ir.ForRange, ir.Loop)):
                checking = self.checking
                self.checking = False
                entry = dict(env)
                if isinstance(s, ir.ForRange):
                    entry[s.target] = frozenset()
                for _ in range(50):
                    new = _union_env(env, self._pts_block(s.body, entry))
                    if isinstance(s, ir.ForRange):
                        new[s.target] = frozenset()
                    if new == entry:
                        break
                    entry = new
                self.checking = checking
                if checking:
                    self._pts_block(s.body, entry)
                env = entry
        self._final_env = env
        return env

    def _held(self, objs) -> frozenset:
        """The objects the containers among ``objs`` may hold."""
        out = frozenset()
        for obj in objs:
            out |= self.contents.get(obj, frozenset())
        return out

    def _pts(self, atom, env):
        if isinstance(atom, ir.Name):
            return env.get(atom.id, frozenset())
        if isinstance(atom, ir.Const) and _GLOBAL_REF.fullmatch(atom.src):
            return frozenset({("global", atom.src)})     # an array of the module or a closure
        return frozenset()

    def _transfer(self, s, env):
        e = s.expr
        site = frozenset({("site", id(s))})
        if isinstance(e, ir.Copy):
            return self._pts(e.a, env)
        if isinstance(e, ir.GetItem):
            base = self._pts(e.a, env)
            for b in base:      # the container holds what is read from it (its contents may not be known:
                                # an object a callee filled, a list a callee returned)
                self.contents[b] = self.contents.get(b, frozenset()) | site
            return base | self._held(base) | site
        if isinstance(e, ir.Prim):
            if e.func in _VIEW_FUNCS and e.args:
                return self._pts(e.args[0], env) | site
            if e.norule is not None:        # a call without a rule may return (part of) any argument
                objs = frozenset().union(*(self._pts(a, env) for a in list(e.args) + list(e.kwargs.values())))
                return objs | self._held_deep(objs) | site
            return site
        if isinstance(e, ir.UserCall):
            callee = self.code.program.functions[e.callee]
            if self.checking:
                _, known = self.code.call_params.get(id(s), (e.callee, [set() for _ in e.args]))
                for k, atom in enumerate(e.args):
                    known[k] |= self._params_in(self._pts(atom, env))
                self.code.call_params[id(s)] = (e.callee, known)
            # a callee that writes into a container argument may store the other arguments in it
            # (an object's __init__ keeps what it is given; `put(L, v)` appends v): from here on the
            # container may hold them, and a write into one is a write into what it holds
            stored = frozenset().union(*(self._pts(a, env) for a in e.args))
            stored |= self._held_deep(stored)
            for param, atom in zip(callee.params, e.args):
                if isinstance(atom, ir.Name) and param in getattr(callee, "mutated", ()):
                    for obj in self._pts(atom, env):
                        self.contents[obj] = self.contents.get(obj, frozenset()) | (stored - {obj})
            for param, atom in zip(callee.params, e.args):
                if param in callee.touched and isinstance(atom, ir.Name):
                    entries = getattr(callee, "touched_entries", {}).get(param)
                    entry = getattr(s, "entry", ())       # a method of the object an attribute holds
                    for obj in env.get(atom.id, ()):
                        if obj[0] == "param":
                            exact = env.get(atom.id, frozenset()) == frozenset({obj})
                            if entries is not None and exact:
                                for attribute, deep in entries:
                                    self._touch(obj[1], attribute, deep)
                            elif entry and entry[0] == obj[1] and _is_receiver(param, callee):
                                self._touch(obj[1], entry[1], deep=True)
                            else:
                                self._touch(obj[1])
                    self._check_entries(s, callee, param, atom.id, env)
                if param in getattr(callee, "mutated", ()):
                    if not isinstance(atom, ir.Name):
                        raise self._nonlocal_write(s, callee, param, atom)
                    self._check_write(s, atom.id, env, deferred=param in callee.maybe_mutated)
            if self.returns_fresh.get(e.callee, False):
                return site
            out = site | callee.returned_globals
            for a in e.args:
                objs = self._pts(a, env)
                out |= objs | self._held_deep(objs)   # (it may return what a list or dict argument holds)
            return out
        if isinstance(e, ir.BinOp) and e.op in (ast.Add, ast.Mult):
            # `acc + [v]`, `acc * 2` on lists: a new list holding the same arrays as the operands; `a + b` of
            # two parameters may be one too (what the caller passes decides)
            pts_a, pts_b = self._pts(e.a, env), self._pts(e.b, env)
            operands = pts_a | pts_b
            two_params = e.op is ast.Add and all(isinstance(x, ir.Name) and len(pts) == 1 and next(iter(pts))[0] == "param"
                                                 for x, pts in ((e.a, pts_a), (e.b, pts_b)))
            if operands & self.sequences or two_params:
                key = ("site", id(s))
                self.sequences.add(key)
                self.contents[key] = self.contents.get(key, frozenset()) | operands | self._held(operands)
            return site
        if isinstance(e, ir.Opaque):
            # an inactive expression may be a view of a module or closure array (W[1:], W.T)
            return site | frozenset(("global", m.group(0)) for m in _GLOBAL_REF.finditer(e.src))
        if isinstance(e, (ir.Build, ir.BuildDict)):
            inner = frozenset()
            for a in (e.elts if isinstance(e, ir.Build) else e.values):
                inner |= self._pts(a, env)
            key = ("site", id(s))
            self.contents[key] = self.contents.get(key, frozenset()) | inner
            if isinstance(e, ir.Build):
                self.sequences.add(key)
            return site
        return site

    def _held_deep(self, objs) -> frozenset:
        """The objects containers ``objs`` may hold, at any depth."""
        out, todo = frozenset(), objs
        for _ in range(4):
            todo = self._held(todo) - out
            if not todo:
                break
            out |= todo
        return out

    def _check_entries(self, s, callee, param, name, env):
        """A callee writes into arrays its container argument ``name`` holds: none of them may be
        the caller's own argument, or an array another live name still reads."""
        if not self.checking:
            return
        held = self._held_deep(env.get(name, frozenset()))
        if not held:
            return
        checks = self.code.entry_checks.setdefault(id(s), [])
        info, fname = self.code.info, callee.info.name
        entries = getattr(callee, "touched_entries", {}).get(param)
        what = f"{fname}() writes into the arrays held in `{name}` (its parameter `{param}`)"
        for p in sorted(self._params_in(held)):
            ref = p if p not in self.code.assigned_strict else self.code.entry_ref(p)
            self._touch(p)
            err = info.error(f"{what}, and one of them is the argument `{p}` of {self.code.info.name}(): "
                             "nbadjoint does not write into its caller's arrays through another name",
                             lineno=s.line, hint=f"put a copy in `{name}`, e.g. {p}.copy()")
            checks.append((name, ref, str(err), entries))
        for other in sorted(self.live_after.get(id(s), ())):
            if other in (name, s.target) or other not in self.user_names:
                continue
            if self._conflict(env.get(other, frozenset()), held) or self._conflict(held, env.get(other, frozenset())):
                if other not in self.bound_before.get(id(s), ()):
                    self.code.maybe_unbound.add(other)
                err = info.error(f"{what}, and one of them is `{other}` (or shares its memory), which is used "
                                 "afterwards; the adjoint would miss that dependence",
                                 lineno=s.line, hint=f"put a copy in `{name}`, e.g. {other}.copy()")
                checks.append((name, other, str(err), entries))
        if not checks:
            del self.code.entry_checks[id(s)]

    def _nonlocal_write(self, s, callee, param, atom):
        """The error for a callee writing into an argument that is no local variable."""
        name = _global_name(atom.text())
        if name:
            return self.code.info.error(
                f"{callee.info.name}() writes into its parameter `{param}`, and the argument `{name}` is a global "
                "or closure variable: differentiated code never writes into those", lineno=s.line,
                hint=f"pass a local copy, e.g. {name.lower()}_local = {name}.copy()")
        return self.code.info.error(f"{callee.info.name}() writes into its parameter `{param}`: "
                                    "pass it a variable, not an expression", lineno=s.line)

    def _touch(self, param, attribute=None, deep=False):
        """``param`` is touched: a write may reach what it holds: the value of its ``attribute``
        (``deep``: or what that value holds), or anywhere (None)."""
        if param not in self.touched:
            self.touched.add(param)
            self.entries[param] = {} if attribute is not None else None
        if self.entries.get(param) is not None:
            if attribute is None:
                self.entries[param] = None
            else:
                self.entries[param][attribute] = self.entries[param].get(attribute, False) or deep

    def _check_write(self, s, target, env, deferred=None):
        if not self.checking:
            return
        if deferred is None:
            deferred = getattr(s, "aug", False)
        self._check_write_now(s, target, env, deferred, exclude=getattr(s, "exclude", ()))

    def _check_write_now(self, s, target, env, deferred=False, exclude=()):
        objs = env.get(target, frozenset())
        info = self.code.info
        own_param = target in self.code.params and target not in self.code.assigned_strict \
            and objs == frozenset({("param", target)})
        what = self._describe(target)
        checks = self.code.alias_checks.setdefault((id(s), target), [])

        def check(other_ref, other_name, hint, reason=None):
            if other_ref == other_name and other_name not in self.bound_before.get(id(s), ()):
                self.code.maybe_unbound.add(other_name)   # None until bound: a check of None passes
            reason = reason or (f"writing into {what} also changes `{other_name}`, which shares its memory and is "
                                "used afterwards; the adjoint would miss that dependence")
            err = info.error(reason, lineno=s.line, hint=hint)
            if all(ref != other_ref for ref, _ in checks):
                checks.append((other_ref, str(err)))

        def objs_of(name):       # a name excluded from the check still holds the parameter itself
            return env.get(name, frozenset())

        if own_param:
            self.mutated.add(target)      # the caller's array is written: callers snapshot it
            for name in self.live_after.get(id(s), ()):
                self.unsafe.update((target, q) for q in self._params_in(env.get(name, frozenset())) if q != target)
            if not deferred:
                self.strict_mutated.add(target)
        else:
            entry = getattr(s, "entry", ())
            for obj in objs:
                if obj[0] == "param":
                    # a write into the value an attribute of the parameter holds (self.u += ...)
                    # reaches that attribute's value only; any other write may reach any entry
                    known = entry and entry[0] == obj[1] and objs_of(entry[0]) == {obj}
                    self._touch(obj[1], entry[1] if known else None, deep=bool(known and entry[2:]))
            for obj in sorted(objs, key=repr):
                if obj[0] == "param" and not (obj[1] in exclude and objs_of(obj[1]) == {obj}):
                    p = obj[1]
                    ref = p if p not in self.code.assigned_strict else self.code.entry_ref(p)
                    check(ref, p, *self._param_write_text(target, p, what, objs))
        for obj in sorted(objs, key=repr):
            if obj[0] == "global":
                name = _global_name(obj[1])
                label = f"`{name}`" if name else "it was taken from"
                held = self.code.info.globals.get(name, self.code.info.closure.get(name)) if name else None
                if name and hasattr(held, "__dict__") and not isinstance(held, (type, types.ModuleType)) \
                        and not callable(held):
                    check(obj[1], name, "build the object in the function differentiated, or pass it in as an "
                                        "argument (the gradient then also holds that of its attributes)",
                          reason=f"writing into {what} also changes the module-level object {label}: "
                                 "differentiated code never changes global state")
                    continue
                check(obj[1], name, "work on a copy, e.g. " + (f"{name.lower()}_local = {name}.copy()" if name
                                                              else f"{target} = {target}.copy()"),
                      reason=f"writing into {what} also changes the module or closure array {label}: "
                             "differentiated code never writes into those (its adjoint would miss the write)")
        rebound = s.target if isinstance(s, ir.Assign) else None    # its old value is not used again
        for name in sorted(self.live_after.get(id(s), ())):
            if name in (target, rebound) or name not in self.user_names or name in exclude:
                continue
            if self._conflict(env.get(name, frozenset()), objs):
                # may share: checked when the write happens (a float taken from an array shares nothing)
                classes = getattr(self.code.norm, "classes", {})
                if name in classes or target in classes:     # an object known by two names
                    check(name, name, f"use one name for the object after the write (e.g. read it as "
                                      f"`{target}` or from its list), or make `{name}` a copy.deepcopy of it")
                else:
                    check(name, name, f"make one of them a copy, e.g. {name} = {name}.copy()")
        if not checks:
            del self.code.alias_checks[(id(s), target)]

    def _param_write_text(self, target, p, what, objs):
        """(hint, reason) of the run-time check of a write that may reach the caller's array
        passed for parameter ``p``."""
        fname = self.code.info.name
        if target == p and objs == frozenset({("param", p)}):
            # the parameter itself, in a function that rebinds its name elsewhere
            return (f"give the new value another name (e.g. {p}_new = ...), or start from a copy: {p} = {p}.copy()",
                    f"{fname}() writes into its parameter `{p}` (the caller's array) and also rebinds the name "
                    f"`{p}`: nbadjoint follows a write into the caller's array only through a parameter name "
                    "that is never rebound")
        hint = (f"work on a copy, e.g. {target} = {target}.copy(), or write into `{p}` itself"
                if target in self.user_names else
                f"work on copies, e.g. {p} = {p}.copy() for an array, {p} = [v.copy() for v in {p}] for a list")
        return (hint, f"writing into {what} also changes `{p}` as the caller passed it to {fname}(): nbadjoint "
                      "does not write into its caller's arrays through another name")

    def _params_in(self, objs) -> set:
        """The parameters whose arguments objects ``objs`` may be (or be entries of)."""
        out = set()
        for obj in list(objs) + list(self._held(objs)):
            while obj[0] == "elem":
                obj = obj[1]
            if obj[0] == "param":
                out.add(obj[1])
        return out

    def _describe(self, name) -> str:
        """How a message names what is written: the user's variable, or the expression of a temporary."""
        if name in self.user_names:
            return f"`{name}`"
        for st in ir.walk(self.code.body):
            if isinstance(st, ir.Assign) and st.target == name and isinstance(st.expr, ir.GetItem):
                return f"`{self._describe(st.expr.a.text()).strip('`')}[{st.expr.index.src}]`"
        return "an argument"

    def _conflict(self, a, b) -> bool:
        if _conflict(a, b):
            return True
        for obj in a:                      # a container that holds one of b's objects
            held = self.contents.get(obj)
            if held and _conflict(held, b):
                return True
        return False


def _is_receiver(param, callee) -> bool:
    """``param`` is the first parameter of ``callee`` (the object of a method call)."""
    return bool(callee.params) and callee.params[0] == param


def _conflict(a, b) -> bool:
    """May objects ``a`` and ``b`` share memory? ("elem", o, k) is entry k of container o."""
    if a & b:
        return True
    for x, y in ((a, b), (b, a)):
        for obj in x:
            if obj[0] == "elem":
                if obj[1] in y:
                    return True
                if any(o[0] == "elem" and o[1] == obj[1] and (o[2] == obj[2] or "*" in (o[2], obj[2]))
                       for o in y):
                    return True
    return False


def _global_checks(code) -> dict:
    """line -> [(user's name written, module or closure array, message)] of the run-time alias
    checks of ``code`` against arrays that are not the function's own."""
    out: dict = {}
    lines = {id(st): st.line for st in ir.walk(code.body)}
    for (sid, target), checks in code.alias_checks.items():
        if target not in code.norm.user_names:
            continue
        for ref, message in checks:
            if _GLOBAL_REF.fullmatch(ref):
                out.setdefault(lines.get(sid), []).append((target, ref, message))
    return out


_GLOBAL_REF = re.compile(r"_(?:G\d+|C_\w+)\['(\w+)'\]|_K\[\d+\]")


def _global_name(ref: str) -> str:
    """The user's name of a module or closure variable from its reference in generated code."""
    found = _GLOBAL_REF.fullmatch(ref)
    return found.group(1) if found and found.group(1) else ""


def _bound_before(stmts, bound: frozenset, out: dict) -> frozenset:
    """Record in ``out`` (statement id -> names) the names certainly bound before each statement
    runs; returns those certainly bound after the block."""
    for s in stmts:
        out[id(s)] = bound
        if isinstance(s, ir.If):
            bound = _bound_before(s.body, bound, out) & _bound_before(s.orelse, bound, out)
        elif isinstance(s, ir.ForRange):
            _bound_before(s.body, bound | {s.target}, out)      # the body may not run at all
        elif isinstance(s, ir.Loop):
            _bound_before(s.body, bound, out)                   # it may exit before any name is bound
        else:
            bound = bound | frozenset(ir.defined(s))
    return bound


def _sharing_links(st) -> list:
    """(name, name) pairs statement ``st`` may leave sharing memory (or one holding the other)."""
    if isinstance(st, ir.Unpack):
        return [(t, n) for t in st.targets for n in ir.names_in([st.value])]
    if isinstance(st, (ir.SetItem, ir.Append)):
        return [(st.target, n) for n in ir.names_in([st.value])]
    if not isinstance(st, ir.Assign):
        return []
    e = st.expr
    if isinstance(e, (ir.Copy, ir.GetItem)):
        names = ir.names_in([e.a])
    elif isinstance(e, ir.Prim):
        names = ir.names_in(e.args[:1]) if e.func in _VIEW_FUNCS or e.method else []
        if e.norule is not None:
            names = ir.names_in(list(e.args) + list(e.kwargs.values()))
    elif isinstance(e, ir.UserCall):
        names = ir.names_in(e.args)
    elif isinstance(e, ir.Build):
        names = ir.names_in(e.elts)
    elif isinstance(e, ir.BuildDict):
        names = ir.names_in(e.values)
    else:
        names = []
    return [(st.target, n) for n in names]


def _union_env(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, frozenset()) | v
    return out
