"""A differentiated call tree: every user function reachable from a root, compiled to one module.

``compile_tree(f)`` finds the functions ``f`` calls (transitively), lowers and differentiates each,
writes the generated module to a real file in the cache folder (so tracebacks, pdb, inspect and
line_profiler show it), and runs it.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import hashlib
import inspect
import linecache
import numbers
import os
import re
import sys
import threading
import types
import unicodedata
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TransformError, _pretty_filename
from ..runtime import tape as _rt
from .parse import FunctionInfo, closure_values, display_name, is_user_function, load_function, resolved_now, same_value
from .shapes import analyze_program as analyze_shapes


@dataclass(frozen=True)
class Site:
    """A call site of the call tree: ``caller:lineno:callee``."""
    id: str
    caller: str
    callee: str
    lineno: int
    default_checkpointed: bool
    filename: str


def cache_dir() -> Path:
    """Folder of the generated modules: $NBADJOINT_CACHE, else ~/.cache/nbadjoint; when that cannot be
    used, a folder of this user in the temp folder, else a fresh temporary folder for this process."""
    root = os.environ.get("NBADJOINT_CACHE")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "nbadjoint"
    if _usable_folder(path):
        return path
    import tempfile
    user = os.getuid() if hasattr(os, "getuid") else "user"
    fallback = Path(tempfile.gettempdir()) / f"nbadjoint-{user}"
    if _usable_folder(fallback):
        return fallback
    global _PRIVATE_DIR
    if _PRIVATE_DIR is None or not _usable_folder(_PRIVATE_DIR):
        _PRIVATE_DIR = Path(tempfile.mkdtemp(prefix="nbadjoint-"))
    return _PRIVATE_DIR


_PRIVATE_DIR = None


def _usable_folder(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


class Program:
    def __init__(self, root, wrt=None):
        self.root = root
        self.wrt = wrt                     # indices of the root parameters differentiated (None: all)
        self.functions: dict = {}          # key -> FunctionCode
        self._keys: dict = {}              # id(func) -> key
        self._objects: dict = {}           # key -> function object
        self._globals: list = []           # globals dicts, referenced as _G0, _G1...
        self._constants: list = []         # other values, referenced as _K[i]
        self._closures: dict = {}          # key -> closure dict, referenced as _C_<key>
        self._order: list = []
        self._visiting: list = []
        self._modules: dict = {}
        self._linemaps: dict = {}          # probes -> {generated line: (key, sweep, user line)}
        self.bound_args: tuple = ()        # a functools.partial root: its bound arguments
        self.bound_kwargs: dict = {}
        self._signature = None
        self.root_key = self._add(root, None, None)
        self.root_name = self.functions[self.root_key].info.name
        self._check_aliasing()
        self._analyze_all()
        analyze_shapes(self)
        self.sites = self._collect_sites()
        self.site_ids = [s.id for s in self.sites]
        self.depth = self._call_depth()
        self._state = self._function_state()

    # -- discovery --------------------------------------------------------------------------------
    def key_of(self, func) -> str:
        return self._keys[id(func)]

    def _new_key(self, func) -> str:
        base = _identifier(func.__name__)
        key = base
        n = 2
        while key in self._objects:
            key = f"{base}_{n}"
            n += 1
        return key

    def callee_key(self, func, caller_info: FunctionInfo, node) -> str:
        if id(func) in self._keys:
            key = self._keys[id(func)]
            if key in self._visiting:
                raise caller_info.error(f"recursive call of {display_name(func.__name__)}() is not supported", node,
                                        hint="write the recursion as a loop")
            return key
        return self._add(func, caller_info, node)

    def _add(self, func, caller_info, node) -> str:
        from .codegen import FunctionCode
        key = self._new_key(func)
        self._keys[id(func)] = key
        self._objects[key] = func
        info = load_function(func, key)
        _check_wrapper_signature(info)
        if info.closure:
            self._closures[key] = info.closure
        self._visiting.append(key)
        try:
            code = FunctionCode(self, info)
        finally:
            self._visiting.pop()
        self.functions[key] = code
        self._order.append(key)
        return key

    def _analyze_all(self):
        """Analyse callers before callees: a parameter is varied if some call passes a varied value."""
        from . import ir
        varied_in = {key: set() for key in self._order}
        root_params = self.functions[self.root_key].params
        varied_in[self.root_key] = set(root_params) if self.wrt is None else \
            {p for k, p in enumerate(root_params) if k in self.wrt}
        for key in reversed(self._order):
            code = self.functions[key]
            code.analyze(varied_in[key])
            for s in ir.walk(code.body):
                if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall):
                    callee = self.functions[s.expr.callee]
                    for param, atom in zip(callee.params, s.expr.args):
                        if isinstance(atom, ir.Name) and atom.id in code.varied:
                            varied_in[s.expr.callee].add(param)

    def _check_aliasing(self):
        from .codegen import AliasChecker
        returns_fresh = {}
        for key in self._order:            # callees before callers
            code = self.functions[key]
            checker = AliasChecker(code, returns_fresh)
            returns_fresh[key] = checker.run()
            code.mutated = [p for p in code.params if p in checker.mutated]
            code.maybe_mutated = set(checker.mutated) - set(checker.strict_mutated)


    def _collect_sites(self) -> list:
        seen = {}
        for key in self._order:
            code = self.functions[key]
            for site_id, callee_key, lineno, default in code.sites:
                if site_id not in seen:
                    seen[site_id] = Site(site_id, code.info.name, self.functions[callee_key].info.name, lineno,
                                         default, code.info.filename)
                elif not default and seen[site_id].default_checkpointed:
                    s = seen[site_id]
                    seen[site_id] = Site(s.id, s.caller, s.callee, s.lineno, False, s.filename)
        root_code = self.functions[self.root_key]
        ordered = []
        done = set()
        finished = set()                   # functions whose sites are all listed

        stack = [(root_code.key, iter(root_code.sites), {root_code.key})]
        while stack:                       # depth first, iteratively (call chains may be deep)
            key, sites, on_path = stack[-1]
            item = next(sites, None)
            if item is None:
                finished.add(key)
                stack.pop()
                continue
            site_id, callee_key = item[0], item[1]
            if site_id not in done:
                done.add(site_id)
                ordered.append(seen[site_id])
            if callee_key not in on_path and callee_key not in finished:
                stack.append((callee_key, iter(self.functions[callee_key].sites), on_path | {callee_key}))
        return ordered

    def _call_depth(self) -> int:
        """Length of the longest chain of calls in the tree (callees come before callers in _order)."""
        depth = {}
        for key in self._order:
            depth[key] = 1 + max((depth.get(site[1], 0) for site in self.functions[key].sites), default=0)
        return depth[self.root_key]

    def _function_state(self) -> list:
        """What each function of the tree is made of beyond its globals: code, defaults, closure."""
        return [(code.info.func, code.info.func.__code__, code.info.func.__defaults__,
                 code.info.func.__kwdefaults__, dict(code.info.closure)) for code in self.functions.values()]

    def is_current(self) -> bool:
        """True while every function of the tree, and every global, closure value and attribute the
        compilation resolved, is what it was: the generated code is still that of the code that runs."""
        for func, code, defaults, kwdefaults, closure in self._state:
            if func.__code__ is not code or func.__defaults__ is not defaults \
                    or func.__kwdefaults__ is not kwdefaults:
                return False
            if closure or func.__closure__:
                now = closure_values(func)
                if now.keys() != closure.keys() or not all(same_value(now[k], v) for k, v in closure.items()):
                    return False
        return all(resolved_now(code.info) for code in self.functions.values())

    @property
    def function_names(self) -> list:
        return [self.functions[k].info.name for k in self._order]

    @property
    def site_tree(self) -> dict:
        def children(key, depth):
            out = []
            if depth > 64:
                return out
            for site_id, callee_key, _, _ in self.functions[key].sites:
                if any(c["id"] == site_id for c in out):
                    continue
                out.append({"id": site_id, "callee": self.functions[callee_key].info.name,
                            "children": children(callee_key, depth + 1)})
            return out

        return {"id": "<root>", "callee": self.root_name, "children": children(self.root_key, 0)}

    # -- references from generated code -------------------------------------------------------------
    def constant_ref(self, info: FunctionInfo, name: str, value) -> str:
        if "." not in name:
            if name in info.closure:
                return f"_C_{info.key}[{name!r}]"
            if name in info.globals:
                for k, g in enumerate(self._globals):
                    if g is info.globals:
                        return f"_G{k}[{name!r}]"
                self._globals.append(info.globals)
                return f"_G{len(self._globals) - 1}[{name!r}]"
        return self._const(value)

    def _const(self, value) -> str:
        if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic) and repr(value) == repr(eval(repr(value))) \
                and np.isfinite(value):
            return repr(value)
        if value is None:
            return "None"
        for k, v in enumerate(self._constants):
            if v is value:
                return f"_K[{k}]"
        self._constants.append(value)
        return f"_K[{len(self._constants) - 1}]"

    def constant_ref_default(self, func, pname: str, value) -> str:
        if value is inspect.Parameter.empty:
            raise TransformError(f"missing argument {pname!r} in a call of {func.__name__}()")
        if isinstance(value, str):
            return repr(value)
        return self._const(value)

    def callable_ref(self, info: FunctionInfo, func) -> str:
        from . import rules
        if not rules.is_nondifferentiable(func) and rules.find_rule(func) is None:
            raise _unknown_callee(info, func)
        return self._const(func)

    # -- placement ----------------------------------------------------------------------------------
    def placement(self, placement=None) -> dict:
        full = {s.id: s.default_checkpointed for s in self.sites}
        if placement:
            unknown = [k for k in placement if k not in full]
            if unknown:
                known = ", ".join(full) or "(none: the root calls no user function)"
                raise ValueError(f"unknown call site(s) {unknown} in placement; the call sites of "
                                 f"{self.root_name}() are: {known}")
            for k, v in placement.items():
                full[k] = bool(v)
        return full

    # -- generated module ---------------------------------------------------------------------------
    def source(self, probes: bool = False) -> str:
        return self._module(probes)[0]

    def generated_path(self, probes: bool = False) -> str:
        """The generated module's file (written again if it was removed or changed)."""
        text, _, filename = self._module(probes)
        _ensure_file(filename, text)
        return filename

    def module(self, probes: bool = False) -> dict:
        return self._module(probes)[1]

    def _module(self, probes: bool):
        if probes in self._modules:
            text, ns, filename = self._modules[probes]
            if filename not in linecache.cache:          # (linecache.clearcache() drops it)
                _ensure_file(filename, text)
            return self._modules[probes]
        root = self.root_name              # names are escaped for generated text by load_function
        parts = [
            f'"""Adjoint of {root}() generated by nbadjoint{" (with profiling probes)" if probes else ""}.',
            "",
            "For each function F: F_primal runs it, F_fwd runs it and tapes what the backward sweep",
            "reads, F_bwd pops that tape and returns the adjoints of F's parameters.",
            '"""',
            "import math",
            "from sys import getrefcount as _rc",
            "",
            "import numpy as np",
            "",
            "from nbadjoint.runtime import tape as _rt",
            "from nbadjoint.runtime import vjp as _vjp",
            "",
        ]
        for key in reversed(self._order):
            code = self.functions[key]
            where = display_name(_short(code.info.filename))
            parts.append("")
            parts.append(f"# {'-' * 94}")
            parts.append(f"# {code.info.name}  ({where}, line {code.info.node.lineno})")
            parts.append(f"# {'-' * 94}")
            parts.append("")
            parts.append(code.emit(probes))
            parts.append("")
        text = "\n".join(parts).rstrip() + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        filename = str(cache_dir() / f"{_safe(self.root_name)}_{digest}.py")
        _ensure_file(filename, text)
        ns = {"__name__": f"nbadjoint_generated_{digest}", "__file__": filename, "_K": self._constants}
        for k, g in enumerate(self._globals):
            ns[f"_G{k}"] = g
        for key, closure in self._closures.items():
            ns[f"_C_{key}"] = closure
        exec(compile(text, filename, "exec"), ns)
        self._modules[probes] = (text, ns, filename)
        self._linemaps[probes] = self._line_map(text)
        return self._modules[probes]

    def _line_map(self, text: str) -> dict:
        """Generated line -> (function key, sweep, line of the user's source) for ``text``.

        The sweeps carry a ``# line N: ...`` / ``# adjoint of line N: ...`` comment above the code of
        each source line; the primal is the user's statements one for one.
        """
        out = {}
        lines = text.split("\n")
        for fdef in ast.parse(text).body:
            if not isinstance(fdef, ast.FunctionDef):
                continue
            key, _, sweep = fdef.name.rpartition("_")
            code = self.functions.get(key)
            if code is None or sweep not in ("primal", "fwd", "bwd"):
                continue
            first = code.info.node.lineno
            for n in range(fdef.lineno, fdef.end_lineno + 1):
                out[n] = (key, sweep, first)
            if sweep == "primal":
                _map_statements(fdef.body, _user_body(code.info.node), key, out)
                continue
            current = first
            for n in range(fdef.lineno, fdef.end_lineno + 1):
                m = _LINE_COMMENT.match(lines[n - 1])
                if m:
                    current = int(m.group(1))
                out[n] = (key, sweep, current)
        return out

    def fwd_function(self, name: str, probes: bool = False):
        return self.module(probes)[f"{self._key_for_name(name)}_fwd"]

    def bwd_function(self, name: str, probes: bool = False):
        return self.module(probes)[f"{self._key_for_name(name)}_bwd"]

    def _key_for_name(self, name: str) -> str:
        for key, code in self.functions.items():
            if code.info.name == name or key == name:
                return key
        raise KeyError(f"{name!r} is not a function of the call tree of {self.root_name}() "
                       f"(functions: {', '.join(self.function_names)})")

    # -- running -----------------------------------------------------------------------------------
    def bound(self, args: tuple, kwargs: dict) -> "Program":
        """This program with leading arguments and keywords fixed, as a functools.partial fixes them."""
        view = copy.copy(self)
        view.bound_args = tuple(args)
        view.bound_kwargs = dict(kwargs)
        return view

    @property
    def n_params(self) -> int:
        """Number of arguments a caller passes (a partial root: those it leaves free)."""
        return len(self.functions[self.root_key].params) - len(self.bound_args)

    def argument_index(self, n: int) -> int:
        """Index among the root's parameters of the caller's argument ``n`` (in range, see `check_argnums`)."""
        return len(self.bound_args) + n % self.n_params

    def bind(self, args, kwargs=None) -> list:
        """Positional argument values; arguments the tree writes into are copied (yours stay as they are)."""
        sig = self._signature
        if sig is None:
            sig = self._signature = inspect.signature(self.root, follow_wrapped=False)
        try:
            bound = sig.bind(*self.bound_args, *args, **{**self.bound_kwargs, **(kwargs or {})})
        except TypeError as exc:
            raise TypeError(f"{self.root_name}(): {exc}") from None
        bound.apply_defaults()
        mutated = set(self.functions[self.root_key].mutated)
        return [copy.deepcopy(bound.arguments[p]) if p in mutated else bound.arguments[p] for p in sig.parameters]

    @property
    def root_mutated_none(self) -> tuple:
        """Adjoints after the run of the root arguments it writes into: none."""
        return (None,) * len(self.functions[self.root_key].mutated)

    def check_current(self):
        """Raise unless the code this program was compiled from is still the code that runs."""
        if not self.is_current():
            raise RuntimeError(f"the code of {self.root_name}() or of a function it calls changed since it was "
                               "compiled (redefined, reloaded or monkeypatched); compile it again: call nba.grad "
                               "or nba.profile again (Profile.rerun does)")

    def run_primal(self, args, kwargs=None, recorder=None):
        self.check_current()
        values = self.bind(args, kwargs)
        probes = recorder is not None
        ns = self.module(probes)
        ctx = _rt.Context(self.placement(), recorder)
        fn = ns[f"{self.root_key}_primal"]
        if probes:
            recorder.enter("<root>", "P")
            out = self._call(probes, fn, ctx, *values)
            recorder.leave("<root>", "P")
            return out
        return self._call(probes, fn, ctx, *values)

    def run_adjoint(self, args, argnums=0, placement=None, recorder=None, kwargs=None, seed=None):
        """Value and gradient(s) of the root with respect to the arguments ``argnums``."""
        nums = check_argnums(argnums, self.n_params, self.root_name)
        self.check_current()
        values = self.bind(args, kwargs)
        index = [self.argument_index(n) for n in nums]
        if self.wrt is not None and any(i not in self.wrt for i in index):
            raise ValueError(f"this program differentiates arguments {sorted(self.wrt)} of {self.root_name}(), "
                             f"not {argnums!r}")
        probes = recorder is not None
        ns = self.module(probes)
        ctx = _rt.Context(self.placement(placement), recorder)
        if probes:
            recorder.tape = ctx.tape
        fwd = ns[f"{self.root_key}_fwd"]
        bwd = ns[f"{self.root_key}_bwd"]
        if probes:
            recorder.enter("<root>", "F")
        value = self._call(probes, fwd, ctx, *values)
        if probes:
            recorder.leave("<root>", "F")
        _check_output(value, self.root_name)
        out_value = _copy_out(value)
        if seed is None:
            seed = _ones_like(value)
        if probes:
            recorder.enter("<root>", "B")
        grads = self._call(probes, bwd, ctx, seed, *values, *self.root_mutated_none)
        if probes:
            recorder.leave("<root>", "B")
        if ctx.tape:
            raise RuntimeError(f"internal error: {len(ctx.tape)} tape entries left after the backward sweep of "
                               f"{self.root_name}(); please report this with the function's source")
        result = tuple(_finish_grad(grads[i], values[i]) for i in index)
        return out_value, (result[0] if isinstance(argnums, int) else result)

    def run_vjp(self, args, placement=None, kwargs=None):
        """Run the forward sweep; return (value, pullback), the pullback usable once."""
        self.check_current()
        values = self.bind(args, kwargs)
        ns = self.module(False)
        ctx = _rt.Context(self.placement(placement), None)
        value = self._call(False, ns[f"{self.root_key}_fwd"], ctx, *values)
        bwd = ns[f"{self.root_key}_bwd"]
        out_value = _copy_out(value)
        skip = len(self.bound_args)
        used = []

        def pullback(cotangent):
            if used:
                raise RuntimeError("this pullback was already used: its tape is consumed; call nba.vjp again")
            _check_cotangent(cotangent, out_value, self.root_name)
            used.append(True)
            grads = self._call(False, bwd, ctx, cotangent, *values, *self.root_mutated_none)
            if ctx.tape:
                raise RuntimeError(f"internal error: {len(ctx.tape)} tape entries left after the backward sweep "
                                   f"of {self.root_name}(); please report this with the function's source")
            return tuple(_finish_grad(gi, xi) for gi, xi in list(zip(grads, values))[skip:])

        return out_value, pullback

    # -- errors raised while the generated code runs -------------------------------------------------
    def _call(self, probes: bool, fn, *args):
        """``fn(*args)`` with room on the stack for the call tree; an exception raised inside the
        generated code names the user's line it comes from and loses nbadjoint's frames."""
        try:
            if self.depth <= _SHALLOW:
                return fn(*args)
            with _recursion_room(3 * self.depth + 200):
                return fn(*args)
        except Exception as exc:
            raise self._user_error(exc, probes)

    def _user_error(self, exc, probes: bool):
        filename = self._modules[probes][2] if probes in self._modules else None
        tb, innermost = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                innermost = tb
            tb = tb.tb_next
        if innermost is None:
            return exc
        exc.__traceback__ = _trim_traceback(exc.__traceback__, filename)
        if type(exc).__module__.startswith("nbadjoint") or getattr(exc, "_nbadjoint_noted", False):
            return exc
        located = self._linemaps[probes].get(innermost.tb_lineno)
        if located is None:
            return exc
        key, sweep, lineno = located
        _add_note(exc, _note_text(self.functions[key].info, sweep, lineno, innermost.tb_frame.f_code.co_name,
                                  filename, innermost.tb_lineno))
        return exc


def _short(filename: str) -> str:
    if filename.startswith("<"):
        return "notebook cell"
    return os.path.basename(filename)


def _safe(name: str) -> str:
    """A short file-name-safe stem for ``name`` (the file name adds a digest of the contents)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", name)[:40] or "f"


def _identifier(name: str) -> str:
    """An identifier made of ``name``'s letters, digits and underscores (NFKC, as Python reads it)."""
    name = unicodedata.normalize("NFKC", name)
    text = "".join(c if ("_" + c).isidentifier() else "_" for c in name)[:60] or "f"
    return text if text.isidentifier() else "_" + text


_LINE_COMMENT = re.compile(r"\s*# (?:adjoint of )?line (\d+): ")


def _user_body(node: ast.FunctionDef) -> list:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def _map_statements(generated: list, user: list, key: str, out: dict):
    """Map the lines of generated statements to those of the user's statements they copy one for one
    (aligned at the end: the generated body starts with a docstring and a prologue)."""
    if len(generated) < len(user):
        return
    generated = generated[len(generated) - len(user):]
    for g, u in zip(generated, user):
        if type(g) is not type(u):
            return
        for n in range(g.lineno, (g.end_lineno or g.lineno) + 1):
            out[n] = (key, "primal", u.lineno)
        for name in ("body", "orelse", "finalbody"):
            gb, ub = getattr(g, name, None), getattr(u, name, None)
            if isinstance(gb, list) and isinstance(ub, list) and len(gb) == len(ub):
                _map_statements(gb, ub, key, out)


def _unknown_callee(info: FunctionInfo, func) -> TransformError:
    """The error for a call of something that is neither a user function nor a known primitive."""
    lineno, text = None, None
    for node in ast.walk(info.node):
        if isinstance(node, ast.Call):
            from .parse import resolve_static
            if _same_callable(resolve_static(node.func, info, set()), func):
                lineno, text = node.lineno, ast.unparse(node.func)
                break
    name = f"`{text}`" if text else _qualified(func)
    if isinstance(func, functools.partial):
        what, hint = "a functools.partial", "call the function it wraps with the arguments written out"
    elif isinstance(func, types.MethodType):
        what, hint = "a bound method", "write the computation as a function that takes the arrays it needs"
    elif isinstance(func, types.FunctionType) and func.__code__.co_filename.startswith("<"):
        what, hint = (f"a function whose source is not available ({func.__code__.co_filename})",
                      "define it in a module file or a notebook cell")
    elif isinstance(func, types.FunctionType) and func.__code__.co_name == "<lambda>":
        what, hint = "a lambda", "define it with `def`"
    elif isinstance(func, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or \
            type(func).__name__ == "_ArrayFunctionDispatcher":
        what, hint = ("a library function with no derivative rule" if text else
                      f"{_qualified(func)}, a library function with no derivative rule",
                      "nbadjoint knows NumPy, math and autograd's primitives; write it with supported operations "
                      "or keep it outside the differentiated code")
    else:
        what, hint = (f"a callable {type(func).__name__} object",
                      "write the computation as a function that takes the arrays it needs")
    return info.error(f"cannot differentiate a call of {name}: it is {what}", lineno=lineno, hint=hint)


def _same_callable(a, b) -> bool:
    """``a is b``, or equal bound methods (each attribute access makes a new one)."""
    if a is b:
        return True
    if isinstance(a, (types.MethodType, types.BuiltinMethodType)) and type(a) is type(b):
        return a == b
    return False


def _check_wrapper_signature(info: FunctionInfo):
    """A ``functools.wraps`` wrapper is differentiated as itself; calls are bound with the signature
    ``inspect`` reports, which is that of the wrapped function: the two must agree."""
    func = info.func
    if not hasattr(func, "__wrapped__"):
        return
    try:
        same = inspect.signature(func) == inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        same = False
    if not same:
        raise info.error(f"{info.name}() wraps another function (functools.wraps) but takes other parameters",
                         lineno=info.node.lineno,
                         hint="nbadjoint differentiates the wrapper itself; give it the parameters of the function "
                              "it wraps, or differentiate a plain function that calls it")


def _ensure_file(filename: str, text: str):
    """Write ``text`` to ``filename`` unless the file already holds exactly it (a corrupted or
    removed file is written again); linecache serves the text from memory in any case."""
    data = text.encode()
    try:
        with open(filename, "rb") as fh:
            if fh.read() == data:
                data = None
    except OSError:
        pass
    if data is not None:
        tmp = f"{filename}.tmp{os.getpid()}.{threading.get_ident()}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, filename)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)


# -- the stack -------------------------------------------------------------------------------------

_SHALLOW = 50                      # call trees at most this deep run without a look at the stack
_LIMIT_LOCK = threading.Lock()
_LIMIT_STATE = {"users": 0, "saved": None, "set": None}


@contextlib.contextmanager
def _recursion_room(frames: int):
    """Raise the recursion limit so that ``frames`` more frames fit, for the duration (restored after)."""
    needed = _frames_in_use() + frames
    if needed <= sys.getrecursionlimit():
        yield
        return
    with _LIMIT_LOCK:
        if _LIMIT_STATE["users"] == 0:
            _LIMIT_STATE["saved"] = sys.getrecursionlimit()
        _LIMIT_STATE["users"] += 1
        if needed > sys.getrecursionlimit():
            sys.setrecursionlimit(needed)
            _LIMIT_STATE["set"] = needed
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT_STATE["users"] -= 1
            if _LIMIT_STATE["users"] == 0 and sys.getrecursionlimit() == _LIMIT_STATE["set"]:
                sys.setrecursionlimit(_LIMIT_STATE["saved"])


def _frames_in_use() -> int:
    n, frame = 0, sys._getframe()
    while frame is not None:
        n += 1
        frame = frame.f_back
    return n


_DEEP_STACK_BYTES = 512 * 1024 * 1024
_DEEP_FRAMES = 200_000


def _in_deep_stack(fn):
    """``fn()`` run in a thread with a large stack and a high recursion limit (deep call trees)."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:       # handed to the calling thread
            result["error"] = exc

    with _LIMIT_LOCK:
        old = threading.stack_size()
        try:
            threading.stack_size(_DEEP_STACK_BYTES)
            thread = threading.Thread(target=target, name="nbadjoint-compile", daemon=True)
        finally:
            threading.stack_size(old)
    with _recursion_room(_DEEP_FRAMES):
        thread.start()
        thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


# -- errors ------------------------------------------------------------------------------------------

def _trim_traceback(tb, generated: str):
    """The traceback without nbadjoint's own frames before the generated code's."""
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    last = max(k for k, t in enumerate(frames) if t.tb_frame.f_code.co_filename == generated)
    kept = [t for k, t in enumerate(frames)
            if k >= last or not os.path.abspath(t.tb_frame.f_code.co_filename).startswith(package + os.sep)]
    for a, b in zip(kept, kept[1:]):
        a.tb_next = b
    return kept[0]


def _note_text(info: FunctionInfo, sweep: str, lineno: int, gen_function: str, gen_file: str, gen_line: int) -> str:
    where = _pretty_filename(info.filename)
    text = info.line_text(lineno).strip()
    what = {"primal": "in", "fwd": "in", "bwd": "in the adjoint (backward sweep) of"}[sweep]
    return (f"nbadjoint: raised {what} {info.name}() at {where}, line {lineno}:\n"
            f"    {lineno} | {text}\n"
            f"  (generated code: {gen_function}, {gen_file}, line {gen_line})")


def _add_note(exc, note: str):
    try:
        exc._nbadjoint_noted = True
    except AttributeError:
        pass
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    elif exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{note}",) + exc.args[1:]


# -- arguments, outputs, gradients --------------------------------------------------------------------

def check_argnums(argnums, n_params: int, name: str) -> tuple:
    """``argnums`` as a tuple of ints, each naming one of the ``n_params`` arguments once."""
    nums = (argnums,) if isinstance(argnums, int) and not isinstance(argnums, bool) else argnums
    if not isinstance(nums, tuple) or not all(isinstance(a, int) and not isinstance(a, bool) for a in nums):
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    for a in nums:
        if not -n_params <= a < n_params:
            raise ValueError(f"argnums {argnums!r} is out of range: {name}() takes {n_params} argument(s), "
                             f"numbered 0 to {n_params - 1} (or -1 to -{n_params} from the end)"
                             if n_params else f"argnums {argnums!r}: {name}() takes no arguments")
    seen = {}
    for a in nums:
        if a % n_params in seen:
            raise ValueError(f"argnums {argnums!r} names argument {a % n_params} of {name}() twice "
                             f"({seen[a % n_params]} and {a})")
        seen[a % n_params] = a
    return nums


def _check_cotangent(cotangent, value, name: str, path: str = ""):
    """Raise a ValueError unless ``cotangent`` has the structure and shapes of ``value``."""
    where = f" at {path}" if path else ""
    if isinstance(value, (tuple, list, dict)):
        if type(cotangent) is not type(value) or len(cotangent) != len(value) or \
                (isinstance(value, dict) and cotangent.keys() != value.keys()):
            raise ValueError(f"the cotangent must have the structure of {name}()'s output{where}: expected "
                             f"{_describe(value)}, given {_describe(cotangent)}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            _check_cotangent(cotangent[k], v, name, f"{path}[{k!r}]")
        return
    if isinstance(value, (np.ndarray, np.generic, numbers.Number)):
        if not isinstance(cotangent, (np.ndarray, np.generic, numbers.Number)) or \
                np.asarray(cotangent).dtype.kind not in "biufc":
            raise ValueError(f"the cotangent must be numbers shaped like {name}()'s output{where}: expected "
                             f"{_describe(value)}, given {_describe(cotangent)}")
        if np.shape(cotangent) != np.shape(value):
            raise ValueError(f"the cotangent must have the shape of {name}()'s output{where}: expected shape "
                             f"{np.shape(value)}, given shape {np.shape(cotangent)}")


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"


def _check_output(value, name):
    if isinstance(value, (float, int, np.floating, np.integer)) or (isinstance(value, np.ndarray) and value.size == 1):
        return
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name}() returned an array of shape {value.shape}; grad needs a scalar output "
                        "(use nba.vjp for vector outputs)")
    raise TypeError(f"{name}() returned {type(value).__name__}; grad needs a float output (use nba.vjp for "
                    "other outputs)")


def _ones_like(value):
    if isinstance(value, np.ndarray):
        return np.ones_like(value, dtype=np.result_type(value.dtype, np.float64))
    return 1.0


def _copy_out(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _finish_grad(g, x):
    """Gradient shaped like the argument, of its dtype: zeros where no adjoint reached it, None for integers."""
    if isinstance(x, (bool, int, np.integer, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype.kind in "biu"):
        return None
    if isinstance(x, np.ndarray):
        dtype = x.dtype if x.dtype.kind in "fc" else np.result_type(x.dtype, np.float64)
        if g is None:
            return np.zeros_like(x, dtype=dtype)
        g = np.asarray(g)
        if g.dtype.kind == "c" and dtype.kind != "c":
            g = g.real
        g = g.astype(dtype, copy=False)
        if g.shape != x.shape:
            g = np.broadcast_to(g, x.shape).copy()
        return g
    if isinstance(x, (float, np.floating)):
        scalar = float if isinstance(x, float) else type(x)
        if g is None:
            return scalar(0.0)
        if not isinstance(g, np.ndarray) or g.size == 1:
            g = np.real(g)
            return scalar(g.item() if isinstance(g, np.ndarray) else g)
        return g
    if isinstance(x, (tuple, list)):
        parts = g if g is not None else [None] * len(x)
        out = [_finish_grad(gi, xi) for gi, xi in zip(parts, x)]
        return tuple(out) if isinstance(x, tuple) else out
    if isinstance(x, dict):
        parts = g if g is not None else {}
        return {k: _finish_grad(parts.get(k) if isinstance(parts, dict) else None, v) for k, v in x.items()}
    if isinstance(x, (complex, np.complexfloating)):
        return g
    return g


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compile_tree(f, argnums=None, what: str = "nbadjoint") -> Program:
    """The compiled call tree of ``f`` (cached while the code of every function, and every global and
    attribute the compilation resolved, is unchanged).

    ``f`` is a Python function, or a functools.partial of one (its bound arguments are fixed; argnums
    count the arguments it leaves free).  With ``argnums``, only those root arguments are
    differentiated (less work in the sweeps); a program compiled without it serves every ``argnums``.
    """
    func, args, kwargs = root_function(f, what)
    wrt = None
    if argnums is not None:
        n = _parameter_count(func) - len(args)
        nums = check_argnums(argnums, n, display_name(func.__name__))
        wrt = frozenset(len(args) + a % n for a in nums)
    per_func = _CACHE.get(func)
    if per_func is None:
        per_func = _CACHE[func] = {}
    prog = per_func.get(wrt)
    if prog is None or not prog.is_current():
        prog = per_func[wrt] = _build(func, wrt)
    return prog.bound(args, kwargs) if args or kwargs or isinstance(f, functools.partial) else prog


def _parameter_count(func) -> int:
    """Number of parameters of a plain function (those inspect.signature lists), from its code."""
    code = func.__code__
    return code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS) + \
        bool(code.co_flags & inspect.CO_VARKEYWORDS)


def _build(func, wrt) -> Program:
    try:
        return Program(func, wrt)
    except RecursionError:
        return _in_deep_stack(lambda: Program(func, wrt))


def root_function(f, what: str = "nbadjoint"):
    """``(function, bound args, bound kwargs)`` of a root; a clear TypeError for anything else."""
    args, kwargs = (), {}
    if isinstance(f, functools.partial):
        f, args, kwargs = f.func, f.args, dict(f.keywords)
    if getattr(f, "__nbadjoint_transform__", None):
        raise TypeError(f"{what} cannot differentiate the result of nba.{f.__nbadjoint_transform__}(): "
                        "higher-order derivatives are not supported. Use autograd or JAX for them")
    if f in _CACHE or isinstance(f, types.FunctionType) and (is_user_function(f) or
                                                             f.__code__.co_filename.startswith("<")):
        return f, args, kwargs             # (load_function says when the source is not available)
    raise TypeError(f"{what} needs a Python function written in Python (a `def` in a module file or a notebook "
                    f"cell); {_what_is(f)}")


def _what_is(obj) -> str:
    name = _qualified(obj)
    if isinstance(obj, np.ufunc):
        return (f"{name} is a NumPy ufunc, which nbadjoint treats as a primitive. Differentiate a function "
                f"that calls it, e.g. def f(x): return np.sum({name}(x))")
    module = getattr(obj, "__module__", None)
    if callable(obj) and isinstance(module, str) and module.split(".")[0] == "numpy" and not isinstance(obj, type):
        return (f"{name} is a NumPy function, which nbadjoint treats as a primitive. Differentiate a function "
                f"that calls it, e.g. def f(x): return {name}(x)")
    if isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType)) or \
            type(obj).__name__ in ("method_descriptor", "builtin_function_or_method"):
        return f"{name} is a built-in function (written in C). Differentiate a function that calls it"
    if isinstance(obj, types.MethodType):
        owner = obj.__self__
        owner = f"the class {owner.__name__}" if isinstance(owner, type) else f"a {type(owner).__name__} object"
        return (f"{name} is a bound method of {owner}. Write the computation as a function of the arrays it "
                "needs, passed as arguments")
    if isinstance(obj, type):
        return f"{name} is a class. Pass a function"
    if isinstance(obj, types.FunctionType):
        if obj.__code__.co_name == "<lambda>":
            return "a lambda has no source nbadjoint can read. Define the function with `def`"
        return (f"{name} is a function of the library {str(obj.__module__).split('.')[0]!r}, which nbadjoint "
                "treats as a primitive. Differentiate a function of yours that calls it (or, if it is your own "
                "code installed as a package, decorate it with @nbadjoint.adjoint)")
    if callable(obj):
        return (f"a callable {type(obj).__name__} object is not supported. Write the computation as a function "
                "of the arrays it needs, passed as arguments")
    text = repr(obj)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"got {text} (of type {type(obj).__name__}), which is not a function"


def _qualified(obj) -> str:
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        return type(obj).__name__
    if getattr(np, name, None) is obj:
        return f"np.{name}"
    module = getattr(obj, "__module__", None)
    return f"{module}.{name}" if isinstance(module, str) and module != "builtins" else name
