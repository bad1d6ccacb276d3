"""A differentiated call tree: every user function reachable from a root, compiled to one module.

``compile_tree(f)`` finds the functions ``f`` calls (transitively), lowers and differentiates each,
writes the generated module to a real file in the cache folder (so tracebacks, pdb, inspect and
line_profiler show it), and runs it.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import linecache
import os
import re
import types
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TransformError
from ..runtime import tape as _rt
from ..runtime import vjp as _vjp
from .parse import FunctionInfo, load_function
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
    """Folder of the generated modules: $NBADJOINT_CACHE, else ~/.cache/nbadjoint (a temp folder if unwritable)."""
    root = os.environ.get("NBADJOINT_CACHE")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "nbadjoint"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(str(path))
    except OSError:
        import tempfile
        path = Path(tempfile.gettempdir()) / f"nbadjoint-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        path.mkdir(parents=True, exist_ok=True)
    return path


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
        self.root_key = self._add(root, None, None)
        self.root_name = root.__name__
        self._check_aliasing()
        self._analyze_all()
        analyze_shapes(self)
        self.sites = self._collect_sites()
        self.site_ids = [s.id for s in self.sites]

    # -- discovery --------------------------------------------------------------------------------
    def key_of(self, func) -> str:
        return self._keys[id(func)]

    def _new_key(self, func) -> str:
        base = re.sub(r"\W", "_", func.__name__) or "f"
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
                raise caller_info.error(f"recursive call of {func.__name__}() is not supported", node,
                                        hint="write the recursion as a loop")
            return key
        return self._add(func, caller_info, node)

    def _add(self, func, caller_info, node) -> str:
        from .codegen import FunctionCode
        key = self._new_key(func)
        self._keys[id(func)] = key
        self._objects[key] = func
        info = load_function(func, key)
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

        def visit(key, stack):
            code = self.functions[key]
            for site_id, callee_key, _, _ in code.sites:
                if site_id not in done:
                    done.add(site_id)
                    ordered.append(seen[site_id])
                if callee_key not in stack:
                    visit(callee_key, stack | {callee_key})

        visit(root_code.key, {root_code.key})
        return ordered

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
        return self._module(probes)[2]

    def module(self, probes: bool = False) -> dict:
        return self._module(probes)[1]

    def _module(self, probes: bool):
        if probes in self._modules:
            return self._modules[probes]
        parts = [
            f'"""Adjoint of {self.root_name}() generated by nbadjoint{" (with profiling probes)" if probes else ""}.',
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
            parts.append("")
            parts.append(f"# {'-' * 94}")
            parts.append(f"# {code.info.name}  ({_short(code.info.filename)}, line {code.info.node.lineno})")
            parts.append(f"# {'-' * 94}")
            parts.append("")
            parts.append(code.emit(probes))
            parts.append("")
        text = "\n".join(parts).rstrip() + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        path = cache_dir() / f"{_safe(self.root_name)}_{digest}.py"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(text)
            os.replace(tmp, path)
        filename = str(path)
        linecache.checkcache(filename)
        ns = {"__name__": f"nbadjoint_generated_{digest}", "__file__": filename, "_K": self._constants}
        for k, g in enumerate(self._globals):
            ns[f"_G{k}"] = g
        for key, closure in self._closures.items():
            ns[f"_C_{key}"] = closure
        exec(compile(text, filename, "exec"), ns)
        self._modules[probes] = (text, ns, filename)
        return self._modules[probes]

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
    def bind(self, args, kwargs=None) -> list:
        """Positional argument values; arguments the tree writes into are copied (yours stay as they are)."""
        sig = inspect.signature(self.root)
        try:
            bound = sig.bind(*args, **(kwargs or {}))
        except TypeError as exc:
            raise TypeError(f"{self.root_name}(): {exc}") from None
        bound.apply_defaults()
        root = self.functions[self.root_key]
        root.check_arguments(bound.arguments)
        copied, memo = root.copied_params, {}
        return [copy.deepcopy(bound.arguments[p], memo) if p in copied else bound.arguments[p] for p in sig.parameters]

    @property
    def root_mutated_none(self) -> tuple:
        """Adjoints after the run of the root arguments it writes into: none."""
        return (None,) * len(self.functions[self.root_key].mutated)

    def run_primal(self, args, kwargs=None, recorder=None):
        values = self.bind(args, kwargs)
        probes = recorder is not None
        ns = self.module(probes)
        ctx = _rt.Context(self.placement(), recorder)
        fn = ns[f"{self.root_key}_primal"]
        if probes:
            recorder.enter("<root>", "P")
            out = fn(ctx, *values)
            recorder.leave("<root>", "P")
            return out
        return fn(ctx, *values)

    def run_adjoint(self, args, argnums=0, placement=None, recorder=None, kwargs=None, seed=None):
        """Value and gradient(s) of the root with respect to the arguments ``argnums``."""
        values = self.bind(args, kwargs)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        for n in nums:
            if not -len(values) <= n < len(values):
                raise ValueError(f"argnums {argnums!r} out of range: {self.root_name}() takes {len(values)} "
                                 "argument(s)")
        probes = recorder is not None
        ns = self.module(probes)
        ctx = _rt.Context(self.placement(placement), recorder)
        if probes:
            recorder.tape = ctx.tape
        fwd = ns[f"{self.root_key}_fwd"]
        bwd = ns[f"{self.root_key}_bwd"]
        if probes:
            recorder.enter("<root>", "F")
        value = fwd(ctx, *values)
        if probes:
            recorder.leave("<root>", "F")
        _check_output(value, self.root_name)
        out_value = _copy_out(value)
        if seed is None:
            seed = _ones_like(value)
        if probes:
            recorder.enter("<root>", "B")
        grads = bwd(ctx, seed, *values, *self.root_mutated_none)
        if probes:
            recorder.leave("<root>", "B")
        if ctx.tape:
            raise RuntimeError(f"internal error: {len(ctx.tape)} tape entries left after the backward sweep of "
                               f"{self.root_name}(); please report this with the function's source")
        if self.wrt is not None and any(n % len(values) not in self.wrt for n in nums):
            raise ValueError(f"this program differentiates arguments {sorted(self.wrt)} of {self.root_name}(), "
                             f"not {argnums!r}")
        result = tuple(_finish_grad(grads[n], values[n]) for n in nums)
        return out_value, (result[0] if isinstance(argnums, int) else result)

    def run_vjp(self, args, placement=None, kwargs=None):
        """Run the forward sweep; return (value, pullback), the pullback usable once."""
        values = self.bind(args, kwargs)
        ns = self.module(False)
        ctx = _rt.Context(self.placement(placement), None)
        value = ns[f"{self.root_key}_fwd"](ctx, *values)
        bwd = ns[f"{self.root_key}_bwd"]
        used = []

        def pullback(cotangent):
            if used:
                raise RuntimeError("this pullback was already used: its tape is consumed; call nba.vjp again")
            used.append(True)
            grads = bwd(ctx, cotangent, *values, *self.root_mutated_none)
            return tuple(_finish_grad(gi, xi) for gi, xi in zip(grads, values))

        return _copy_out(value), pullback


def _short(filename: str) -> str:
    if filename.startswith("<"):
        return "notebook cell"
    return os.path.basename(filename)


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name)


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
    """Gradient shaped like the argument: zeros where no adjoint reached it, None for integers."""
    if isinstance(x, (bool, int, np.integer)) or (isinstance(x, np.ndarray) and x.dtype.kind in "biu"):
        return None
    if isinstance(x, np.ndarray):
        if g is None:
            return np.zeros_like(x, dtype=np.result_type(x.dtype, np.float64))
        if x.dtype.kind != "c":
            g = _vjp.real_adjoint(g)
        g = np.asarray(g, dtype=np.result_type(x.dtype, np.float64))
        if g.shape != x.shape:
            g = np.broadcast_to(g, x.shape).copy()
        return g
    if isinstance(x, (float, np.floating)):
        if g is None:
            return 0.0
        g = _vjp.real_adjoint(g)
        return float(g) if not isinstance(g, np.ndarray) or g.size == 1 else g
    if isinstance(x, (tuple, list)):
        parts = g if g is not None else [None] * len(x)
        out = [_finish_grad(gi, xi) for gi, xi in zip(parts, x)]
        return tuple(out) if isinstance(x, tuple) else out
    if isinstance(x, dict):
        parts = g if g is not None else {}
        return {k: _finish_grad(parts.get(k) if isinstance(parts, dict) else None, v) for k, v in x.items()}
    if isinstance(x, complex):
        return g
    return g


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compile_tree(f, argnums=None) -> Program:
    """The compiled call tree of ``f`` (cached while the source of every function is unchanged).

    With ``argnums``, only those root arguments are differentiated (less work in the sweeps);
    a program compiled without it serves every ``argnums``.
    """
    func = getattr(f, "__wrapped__", f)
    wrt = None
    if argnums is not None:
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        n = len(inspect.signature(func).parameters)
        wrt = frozenset(a % n if n else a for a in nums)
    per_func = _CACHE.get(func)
    if per_func is None:
        per_func = _CACHE[func] = {}
    entry = per_func.get(wrt)
    if entry is not None:
        prog, fingerprint = entry
        if fingerprint == _fingerprint(prog):
            return prog
    prog = Program(func, wrt)
    per_func[wrt] = (prog, _fingerprint(prog))
    return prog


def _fingerprint(prog: Program):
    parts = []
    for key in prog._order:
        fn = prog._objects[key]
        code = fn.__code__
        parts.append((id(fn), id(code), code.co_filename, code.co_firstlineno))
        for name in code.co_names:
            val = fn.__globals__.get(name)
            if isinstance(val, types.FunctionType):
                parts.append((name, id(val), id(val.__code__)))
    return tuple(parts)
