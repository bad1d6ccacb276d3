"""A differentiated call tree: every user function reachable from a root, compiled to one module.

``compile_tree(f)`` finds the functions ``f`` calls (transitively), lowers and differentiates each,
writes the generated module to a real file in the cache folder (so tracebacks, pdb, inspect and
line_profiler show it), and loads it.  `nbadjoint.transform.runner` runs it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import linecache
import os
import unicodedata
import weakref
from dataclasses import dataclass

import numpy as np

from ..errors import PlacementError, TransformError
from ..ids import ROOT_ID
from . import draws, files, roots, runner, stack
from .loops import loop_sites, not_a_loop_site, outline, plan_loop, read_schedule
from .placement import parse_placement
from .parse import FunctionInfo, closure_values, display_name, load_function, resolved_now, same_value
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


class Program:
    def __init__(self, root, wrt=None, kinds=None, loops=frozenset()):
        self.root = root
        self.loop_ids = frozenset(loops)   # loops compiled to run by a checkpointing schedule
        self.wrt = wrt                     # indices of the root parameters differentiated (None: all)
        self.root_kinds = kinds            # per root parameter: "array", "number" or None (argument_kinds)
        self.functions: dict = {}          # key -> FunctionCode
        self._keys: dict = {}              # id(func) -> key
        self._objects: dict = {}           # key -> function object
        self._globals: list = []           # globals dicts, referenced as _G0, _G1...
        self._constants: list = []         # other values, referenced as _K[i]
        self._closures: dict = {}          # key -> closure dict, referenced as _C_<key>
        self._order: list = []             # keys, callees before callers
        self._calls: dict = {}             # key -> [(callee key, caller's FunctionInfo, call node)], in order
        self._modules: dict = {}
        self.bound_args: tuple = ()        # a functools.partial root: its bound arguments
        self.bound_kwargs: dict = {}
        self.class_hints: dict = {}        # key -> {parameter: the class of the objects callers pass}
        self.method_class: dict = {}       # key of a method -> the class it was reached through
        self.method_names: dict = {}       # id(function) -> its name as a method ("Model.step")
        self.class_params: dict = {}       # id(classmethod's function) -> the class its `cls` is
        self.class_deps: list = []         # (class, attribute, what it held) the lowering resolved
        self.root_key = self._discover_and_lower(root)
        self.root_name = self.functions[self.root_key].info.name
        self.loop_sites = loop_sites(self)
        self.loop_plans = self._outline_loops()
        self._variants: dict = {}          # frozenset of loop ids -> Program (see for_placement)
        self.certain = self._refuse_certain()
        self._check_aliasing()
        self._analyze_all()
        analyze_shapes(self)
        for key in self._order:            # callees first: each function's pairs read its callees' cached ones
            self.functions[key].overlap_pairs
        self.sites = self._collect_sites()
        self.site_ids = [s.id for s in self.sites]
        self.depth = self._call_depth()
        self._state = self._function_state()

    # -- discovery --------------------------------------------------------------------------------
    def key_of(self, func, owner=None) -> str:
        """The key of a function of the tree (a method: as compiled for objects of ``owner``)."""
        return self._keys[_identity(func, owner)]

    def knows(self, func) -> bool:
        """``func`` is a function of the call tree (a call only inside a ``print`` or an f-string,
        which nothing differentiates, is not: such a call runs the user's function itself)."""
        return id(func) in self._keys

    def _new_key(self, func) -> str:
        owner, _, method = self.method_names.get(id(func), func.__name__).rpartition(".")
        base = _identifier(f"{owner}_{method.strip('_')}" if owner else method)
        key = base
        n = 2
        while key in self._objects:
            key = f"{base}_{n}"
            n += 1
        return key

    def callee_key(self, func, caller_info: FunctionInfo, node, owner=None) -> str:
        """The key of a user function that the function being lowered calls. Discovery only: a
        function seen for the first time is registered (its source read and checked) and lowered
        later, from the work list of `_discover_and_lower`, never from inside its caller.  A method
        called for objects of the class ``owner`` has a key per class (``self`` is one of them)."""
        key = self._keys.get(_identity(func, owner))
        if key is None:
            key = self._register(func, owner)
        self._calls.setdefault(caller_info.key, []).append((key, caller_info, node))
        return key

    def _register(self, func, owner=None) -> str:
        key = self._new_key(func)
        self._keys[_identity(func, owner)] = key
        self._objects[key] = func
        info = load_function(func, key)
        if id(func) in self.method_names:
            info.name = display_name(self.method_names[id(func)])
        roots.check_wrapper_signature(info)
        if info.closure:
            self._closures[key] = info.closure
        self._infos[key] = info
        return key

    def _discover_and_lower(self, root) -> str:
        """Lower the root and every function it calls, each once (lowering a function discovers
        its callees, lowered after it, depth first), refuse recursion, and order the functions
        callees first."""
        from .codegen import FunctionCode
        self._infos: dict = {}
        root_key = self._register(root)
        self._root_hints(root_key)

        def lower_tree(key):
            self._lower(key, FunctionCode)
            for callee, _, _ in self._calls.get(key, ()):
                if callee not in self.functions:
                    lower_tree(callee)
        lower_tree(root_key)
        self._order = self._callees_first(root_key)
        return root_key

    def _root_hints(self, key):
        """The classes of the root's object parameters: those of the arguments the program is
        compiled for, else the parameter's annotation when it is a class of the user's."""
        from .objects import is_user_class, is_namedtuple
        func = self._objects[key]
        params = list(inspect.signature(func).parameters.values())
        hints = {}
        kinds = self.root_kinds or ()
        for k, p in enumerate(params):
            cls = kinds[k] if k < len(kinds) and isinstance(kinds[k], type) else None
            if cls is None and isinstance(p.annotation, type) and p.annotation is not p.empty and (
                    is_user_class(p.annotation)
                    or is_namedtuple(p.annotation)):
                cls = p.annotation
            if cls is not None:
                hints[p.name] = cls
        if hints:
            self.class_hints[key] = hints

    def attribute_classes(self, cls) -> dict:
        """attribute -> class of the objects ``cls``'s methods store in it (objects.attribute_classes)."""
        from .objects import attribute_classes
        cache = self.__dict__.setdefault("_attribute_classes", {})
        if cls not in cache:
            cache[cls] = attribute_classes(cls)
        return cache[cls]

    def note_classes(self, callee_key: str, classes: dict):
        """A call passes objects of known classes to the parameters of ``callee_key``: what its
        lowering takes them for (a parameter called with two classes, or with one not known, gets
        none; the callee checks the class on entry where it has one)."""
        hints = self.class_hints.setdefault(callee_key, {})
        seen = self._hint_calls = getattr(self, "_hint_calls", {})
        first = callee_key not in seen
        seen[callee_key] = True
        for param, cls in classes.items():
            if first and param not in hints:
                hints[param] = cls
            elif hints.get(param) is not cls:
                hints[param] = None
        if not first:
            for param in list(hints):
                if param not in classes:
                    hints[param] = None

    def _lower(self, key, FunctionCode):
        if key in self.functions:
            return
        try:
            self.functions[key] = FunctionCode(self, self._infos[key])
        except TransformError:
            # what a depth-first reading meets first is reported first: a callee called before the
            # refused construct may hold an earlier refusal
            self.functions[key] = None
            for callee, _, _ in self._calls.get(key, ()):
                if callee not in self.functions:
                    self._lower(callee, FunctionCode)
            raise

    def _outline_loops(self) -> dict:
        """Outline the body of each loop of ``loop_ids`` into a function of the tree (see loops.py),
        placed just before its caller in the order.  Returns loop id -> LoopPlan."""
        plans = {}
        by_id = {site.id: site for site in self.loop_sites}
        # inner loops first: a loop outlined later copies the inner loop's plan into its body function
        for loop_id in sorted(self.loop_ids, key=lambda i: (by_id[i].key, -by_id[i].lineno)):
            site = by_id[loop_id]
            plan = plan_loop(self, site)
            self.functions[plan.body_key] = outline(self, site, plan)
            self._order.insert(self._order.index(site.key), plan.body_key)
            if draws.generators(self, plan.body_key):
                info = self.functions[site.key].info
                raise PlacementError(str(info.error(
                    "the loop cannot be checkpointed with snapshots: its iterations draw random numbers, and "
                    "an iteration run again from a snapshot would draw other ones", lineno=site.lineno,
                    hint="draw the numbers before the loop (e.g. z = rng.standard_normal((n, m))) and read "
                         "z[step] in it, or leave this loop out of the placement")))
            plans[loop_id] = plan
        return plans

    def _refuse_certain(self) -> set:
        """Raise the first refusal (in the order a depth-first reading meets them) that every run
        reaches: one in the straight-line code of the root, or of a function the straight-line code
        of such a function calls.  Refusals elsewhere raise when reached (see Normalizer.stmt).
        Returns the keys of the functions every run calls."""
        from . import ir
        certain = set()

        def visit(key):
            certain.add(key)
            for s in self.functions[key].body:
                if isinstance(s, ir.Effect) and s.refusal is not None:
                    # a function the refused statement calls first may hold an earlier refusal
                    for callee in getattr(s.refusal, "callees", ()):
                        if callee not in certain:
                            self._lower_for_refusal(callee)
                            visit(callee)
                    raise s.refusal
                if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall) and s.expr.callee not in certain:
                    visit(s.expr.callee)
        visit(self.root_key)
        return certain

    def _lower_for_refusal(self, key):
        """Lower ``key`` and what it calls (a function only a refused statement calls)."""
        from .codegen import FunctionCode
        if key not in self.functions:
            self._lower(key, FunctionCode)
            for callee, _, _ in self._calls.get(key, ()):
                self._lower_for_refusal(callee)

    def _callees_first(self, root_key) -> list:
        """Keys in depth-first post-order from the root (the order lowering used to follow); a call
        back into a function still being visited is recursion, refused at that call."""
        order, done, path = [], set(), []

        def visit(key):
            path.append(key)
            for callee, info, node in self._calls.get(key, ()):
                if callee in path:
                    raise info.error(f"recursive call of {display_name(self._objects[callee].__name__)}() is not "
                                     "supported", node, hint="write the recursion as a loop")
                if callee not in done:
                    visit(callee)
            path.pop()
            done.add(key)
            order.append(key)
        visit(root_key)
        return order

    def _analyze_all(self):
        """Analyse callers before callees: a parameter is varied if some call passes a varied value."""
        from . import ir
        varied_in = {key: set() for key in self._order}
        root_params = self.functions[self.root_key].params
        varied_in[self.root_key] = set(root_params) if self.wrt is None else \
            {p for k, p in enumerate(root_params) if k in self.wrt}
        useful_out = {key: key == self.root_key for key in self._order}
        for key in reversed(self._order):
            code = self.functions[key]
            if getattr(code, "loop_body_of", None):      # a loop's body: it gets what the loop reads
                caller = self.functions[code.loop_body_of[0]]
                varied_in[key] = {p for p in code.params if p in caller.varied}
                useful_out[key] = True
            code.analyze(varied_in[key], useful_out[key])
            for s in ir.walk(code.body):
                if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall):
                    callee = self.functions[s.expr.callee]
                    if s.target in code.useful:     # (a result no caller uses has no adjoint to carry)
                        useful_out[s.expr.callee] = True
                    for param, atom in zip(callee.params, s.expr.args):
                        if isinstance(atom, ir.Name) and atom.id in code.varied:
                            varied_in[s.expr.callee].add(param)

    def _check_aliasing(self):
        from .alias import AliasChecker
        returns_fresh = {}
        for key in self._order:            # callees before callers
            code = self.functions[key]
            checker = AliasChecker(code, returns_fresh)
            returns_fresh[key] = checker.run()
            code.mutated = [p for p in code.params if p in checker.mutated]
            code.maybe_mutated = set(checker.mutated) - set(checker.strict_mutated)
            if getattr(code, "loop_body_of", None):
                _own_state_checks(code)


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
        active = {root_code.key}
        todo = [(root_code.key, iter(root_code.sites))]
        while todo:                        # depth first, iteratively (call chains may be deep)
            key, sites = todo[-1]
            item = next(sites, None)
            if item is None:
                finished.add(key)
                active.discard(key)
                todo.pop()
                continue
            site_id, callee_key = item[0], item[1]
            if site_id not in done:
                done.add(site_id)
                ordered.append(seen[site_id])
            if callee_key not in finished and callee_key not in active:
                active.add(callee_key)
                todo.append((callee_key, iter(self.functions[callee_key].sites)))
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
        from .objects import raw_attribute
        if any(raw_attribute(cls, attr) is not held for cls, attr, held in self.class_deps):
            return False            # a method or class attribute replaced since
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

        return {"id": ROOT_ID, "callee": self.root_name, "children": children(self.root_key, 0)}

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
        if type(value) in (bool, int) or (type(value) is float and np.isfinite(value)):
            return repr(value)
        if type(value) is float and not np.isnan(value):
            return "1e999" if value > 0 else "-1e999"      # inf as a literal (derivative rules read literals)
        if value is None:
            return "None"
        for k, v in enumerate(self._constants):
            if v is value:
                return f"_K[{k}]"
        self._constants.append(value)
        return f"_K[{len(self._constants) - 1}]"

    def constant_ref_default(self, func, pname: str, value) -> str:
        if value is inspect.Parameter.empty:
            raise TransformError(f"missing argument {pname!r} in a call of {display_name(func.__name__)}()")
        if isinstance(value, str):
            return repr(value)
        return self._const(value)

    def callable_ref(self, info: FunctionInfo, func) -> str:
        """A primitive the generated code calls (the normaliser has found its rule)."""
        return self._const(func)

    # -- placement ----------------------------------------------------------------------------------
    def placement(self, placement=None) -> dict:
        """Every call site -> checkpointed, from ``placement`` (a dict of call-site ids to True / False,
        read strictly, see `parse_placement`) and the sites' defaults.  Loop ids in ``placement`` are
        checked (see `loop_schedules`), not returned.  Raises PlacementError."""
        self.loop_schedules(placement)
        if placement is not None and hasattr(placement, "items"):
            placement = {k: v for k, v in placement.items() if not _is_loop_id(k)}
        placement = parse_placement(placement)
        full = {s.id: s.default_checkpointed for s in self.sites}
        if placement:
            unknown = [k for k in placement if k not in full]
            if unknown:
                known = ", ".join(full) or "(none: the root calls no user function)"
                raise PlacementError(f"unknown call site(s) {unknown} in placement; the call sites of "
                                     f"{self.root_name}() are: {known}")
            full.update(placement)
        return full

    def context_placement(self, placement=None) -> dict:
        """What the generated code reads as ``_c.ck``: `placement`, and every loop with snapshots ->
        ``(ram, disk)``."""
        full = self.placement(placement)
        full.update((k, v) for k, v in self.loop_schedules(placement).items() if v is not None)
        return full

    def loop_schedules(self, placement=None) -> dict:
        """Loop id -> ``(ram, disk)`` snapshots, or None (every iteration kept), for every loop of
        the tree: from ``placement`` (loop ids map to an int, ``{"ram": S, "disk": D}`` or None) and
        the ``# nbadjoint: snapshots=S`` comments.  Raises PlacementError for an unknown loop id, a
        value that is not one of those, and a loop that cannot keep snapshots (naming its line)."""
        given = {}
        if placement is not None and hasattr(placement, "items"):
            given = {k: v for k, v in placement.items() if _is_loop_id(k)}
        known = {site.id: site for site in self.loop_sites}
        unknown = [k for k in given if k not in known]
        for k in unknown:
            why = not_a_loop_site(self, k)
            if why and given[k] is not None:
                raise PlacementError(why)
        unknown = [k for k in unknown if not not_a_loop_site(self, k)]
        if unknown:
            listed = ", ".join(known) or "(none: no `for ... in range(...)` loop in the call tree)"
            raise PlacementError(f"unknown loop(s) {unknown} in placement; the loops of {self.root_name}() "
                                 f"are: {listed}")
        out = {}
        for loop_id, site in known.items():
            value = given[loop_id] if loop_id in given else site.default
            out[loop_id] = read_schedule(value, loop_id)
            if out[loop_id] is not None and loop_id not in self.loop_plans:
                plan_loop(self, site)          # refuses a loop that cannot keep snapshots
        return out

    def for_placement(self, placement=None) -> "Program":
        """This program compiled for the loops ``placement`` gives snapshots (itself when those are
        the loops it was compiled for): a placement without loop snapshots runs today's code."""
        loops = frozenset(k for k, v in self.loop_schedules(placement).items() if v is not None)
        if loops == self.loop_ids:
            return self
        variant = self._variants.get(loops)
        if variant is None or not variant.is_current():
            base = _build(self.root, self.wrt, self.root_kinds, loops)
            variant = self._variants[loops] = base
        if self.bound_args or self.bound_kwargs:
            return variant.bound(self.bound_args, self.bound_kwargs)
        return variant

    # -- generated module ---------------------------------------------------------------------------
    def source(self, probes: bool = False) -> str:
        return self._module(probes)[0]

    def generated_path(self, probes: bool = False) -> str:
        """The generated module's file (written again if it was removed or changed)."""
        text, _, filename = self._module(probes)
        files.ensure_file(filename, text)
        return filename

    def module(self, probes: bool = False) -> dict:
        return self._module(probes)[1]

    def built_module(self, probes: bool = False):
        """``(text, filename)`` of the generated module if it was built (`module`), else None."""
        built = self._modules.get(probes)
        return None if built is None else (built[0], built[2])

    def _module(self, probes: bool):
        if probes in self._modules:
            text, ns, filename = self._modules[probes]
            if filename not in linecache.cache:          # (linecache.clearcache() drops it)
                files.ensure_file(filename, text)
            return self._modules[probes]
        root = self.root_name              # names are escaped for generated text by load_function
        parts = [
            f'"""Adjoint of {root}() generated by nbadjoint{" (with profiling probes)" if probes else ""}.',
            "",
            "For each function F: F_primal runs it, F_fwd runs it and tapes what the backward sweep",
            "reads, F_bwd pops that tape and returns the adjoints of F's parameters.",
            '"""',
            "import math",
            "",
            "import numpy as np",
            "",
            "from nbadjoint.runtime import tape as _rt",
            "from nbadjoint.runtime import vjp as _vjp",
            "",
        ]
        if self.loop_plans:
            parts.insert(-1, "from nbadjoint.runtime import loop_checkpoint as _loops")
        for key in reversed(self._order):
            code = self.functions[key]
            where = display_name(_short(code.info.filename))
            parts.append("")
            parts.append(f"# {'-' * 94}")
            what = " (the body of its loop)" if getattr(code, "loop_body_of", None) else ""
            parts.append(f"# {code.info.name}{what}  ({where}, line {code.info.node.lineno})")
            parts.append(f"# {'-' * 94}")
            parts.append("")
            parts.append(code.emit(probes))
            parts.append("")
        text = "\n".join(parts).rstrip() + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        filename = str(files.cache_dir() / f"{files.file_stem(self.root_name)}_{digest}.py")
        files.ensure_file(filename, text)
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

    def general_functions(self, name: str, probes: bool = False) -> list:
        """The general forward and backward sweeps of a function with a specialised body (run where
        its shape guards fail); empty for the others."""
        ns, key = self.module(probes), self._key_for_name(name)
        return [ns[f"{key}{s}"] for s in ("_fwd_general", "_bwd_general") if f"{key}{s}" in ns]

    def _key_for_name(self, name: str) -> str:
        for key, code in self.functions.items():
            if code.info.name == name or key == name:
                return key
        raise KeyError(f"{name!r} is not a function of the call tree of {self.root_name}() "
                       f"(functions: {', '.join(self.function_names)})")

    # -- arguments -----------------------------------------------------------------------------------
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
        """Index among the root's parameters of the caller's argument ``n`` (in range, see `roots.check_argnums`)."""
        return len(self.bound_args) + n % self.n_params

    # -- running (see nbadjoint.transform.runner) -----------------------------------------------------
    def run_primal(self, args, kwargs=None, recorder=None):
        """`runner.run_primal` of this program (the profiler calls it as a method)."""
        return runner.run_primal(self, args, kwargs=kwargs, recorder=recorder)

    def run_adjoint(self, args, argnums=0, placement=None, recorder=None, kwargs=None, seed=None,
                    loop_runs=None):
        """`runner.run_adjoint` of this program (the profiler calls it as a method)."""
        return runner.run_adjoint(self, args, argnums, placement, recorder=recorder, kwargs=kwargs, seed=seed,
                                  loop_runs=loop_runs)


def _identity(func, owner=None):
    """What tells the functions of a tree apart: the function, and for a method the class of the
    objects it is compiled for."""
    return id(func) if owner is None else (id(func), id(owner))


def _short(filename: str) -> str:
    if filename.startswith("<"):
        return "notebook cell"
    return os.path.basename(filename)


def _identifier(name: str) -> str:
    """An identifier made of ``name``'s letters, digits and underscores (NFKC, as Python reads it)."""
    name = unicodedata.normalize("NFKC", name)
    text = "".join(c if ("_" + c).isidentifier() else "_" for c in name)[:60] or "f"
    return text if text.isidentifier() else "_" + text


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def argument_kinds(args) -> tuple:
    """Per positional argument: "array" (exactly np.ndarray), "number" (a Python or NumPy number),
    "sequence" (a list or tuple: NumPy functions given it are differentiated as given an array),
    the class of an object (a class of the user's, a dataclass, a SimpleNamespace, a namedtuple)
    or None: what the shape analysis takes the root's parameters for (see shapes.call_evidence),
    and the classes whose methods and attributes the program follows."""
    from .objects import is_user_class, is_namedtuple
    return tuple("array" if type(a) is np.ndarray else
                 "number" if isinstance(a, (int, float, np.number)) and not isinstance(a, bool) else
                 type(a) if is_namedtuple(type(a)) or (is_user_class(type(a)) and hasattr(a, "__dict__")) else
                 "sequence" if type(a) in (list, tuple) else None
                 for a in args)


def compile_tree(f, argnums=None, what: str = "nbadjoint", call_args=None) -> Program:
    """The compiled call tree of ``f`` (cached while the code of every function, and every global and
    attribute the compilation resolved, is unchanged).

    ``f`` is a Python function, or a functools.partial of one (its bound arguments are fixed; argnums
    count the arguments it leaves free).  With ``argnums``, only those root arguments are
    differentiated (less work in the sweeps); a program compiled without it serves every ``argnums``.
    With ``call_args`` (the positional arguments of a call), the kinds of the root's arguments (arrays,
    numbers) are evidence for the shape guards, and a program is compiled per kinds: its
    specialised bodies are those that run for such arguments.
    """
    if f in _CACHE:                        # a function compiled before: no need to check what it is
        func, args, kwargs = f, (), {}
    else:
        func, args, kwargs = roots.root_function(f, what)
    wrt = None
    if argnums is not None:
        n = roots.parameter_count(func) - len(args)
        nums = roots.check_argnums(argnums, n, display_name(func.__name__))
        wrt = frozenset(len(args) + a % n for a in nums)
    kinds = None if call_args is None else argument_kinds(tuple(args) + tuple(call_args))
    if kinds is not None and not any(kinds):
        kinds = None                       # (nothing known of the arguments: the program without kinds)
    key = wrt if kinds is None else (wrt, kinds)
    per_func = _CACHE.get(func)
    if per_func is None:
        per_func = _CACHE[func] = {}
    prog = per_func.get(key)
    if prog is None or not prog.is_current():
        prog = per_func[key] = _build(func, wrt, kinds)
    return prog.bound(args, kwargs) if args or kwargs or isinstance(f, functools.partial) else prog


def _build(func, wrt, kinds=None, loops=frozenset()) -> Program:
    try:
        return Program(func, wrt, kinds, loops)
    except RecursionError:
        return stack.in_deep_stack(lambda: Program(func, wrt, kinds, loops))


def _own_state_checks(code) -> None:
    """A loop's body function may write into its parameters through any name: they are the loop's
    state, which the schedule owns (it copies what the body writes into, `copied_params`), not a
    caller's arrays.  Drop the run-time checks that refuse such writes (those against a parameter
    or its value on entry); keep those against other names."""
    own = set(code.params) | set(code.entry_refs.values())
    for key, checks in list(code.alias_checks.items()):
        kept = [(other, message) for other, message in checks if other not in own]
        if kept:
            code.alias_checks[key] = kept
        else:
            del code.alias_checks[key]
    for key, checks in list(code.entry_checks.items()):
        kept = [c for c in checks if c[1] not in own]
        if kept:
            code.entry_checks[key] = kept
        else:
            del code.entry_checks[key]


def _is_loop_id(key) -> bool:
    """A placement key naming a loop (``caller:lineno:for``) rather than a call site."""
    return isinstance(key, str) and key.endswith(":for")
