"""Gradients that travel: pickling ``nba.grad`` functions and pullbacks, and `map_grad`.

A gradient function pickles as what a worker needs to compile it again, not as compiled code:

- a function of an importable module (not ``__main__``) by reference, module and qualified name;
  the worker imports the module (a module missing there is an ImportError naming it);
- any other user function (a notebook cell's, a script's ``__main__``, a nested function) by
  value: the text of its cell or file, its file name and first line (so call-site ids and error
  messages name the user's lines), the globals its code reads (modules by name, user functions
  the same way, recursively, other values pickled as they are), its closure, defaults and
  attributes.  On the worker the ``def`` is compiled again from that text (its decorators are
  not applied again: the object pickled is what the ``def`` made) and the text is put in
  ``linecache`` under the original file name, where nbadjoint reads sources.

A worker rebuilds a pickled function once per process (`_REBUILT`, keyed by a digest of what was
pickled), so nbadjoint's compile cache holds it and the adjoint is compiled once.  The rebuilt
code is compiled from the same source with the same placement: the gradient is bitwise that of
the pickling process.  A pullback of ``nba.vjp`` pickles as its function and arguments: the copy
runs the forward sweep again (on its first call) and can then be used once.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import hashlib
import importlib
import inspect
import linecache
import pickle
import sys
import textwrap
import types

import numpy as np

from .runtime.random_state import GENERATOR_TYPES
from .transform.parse import _FUTURE_FLAGS, is_user_function

_REBUILT: dict = {}         # digest -> function rebuilt from a pickle in this process (the latest few)
_REBUILT_KEPT = 64
_SAME = "__nba_same__"      # the decorators' stand-in in a rebuilt def (the identity)
_MAKE = "__nba_make__"      # the factory a rebuilt def is compiled in (its closure cells)


# -- the picklable callables -----------------------------------------------------------------------
class GradientFunction:
    """What ``nba.grad`` and ``nba.value_and_grad`` return: a callable carrying ``f``'s name,
    docstring and ``__wrapped__`` (so ``inspect.signature`` gives ``f``'s), which pickles."""

    def __init__(self, f, argnums, placement, transform, what, run):
        self._f, self._argnums, self._placement = f, argnums, placement
        self._transform, self._what, self._run = transform, what, run
        functools.update_wrapper(self, f)
        self.__nbadjoint_transform__ = transform

    def __call__(self, *args, **kwargs):
        value_and_grads = self._run(self._f, self._argnums, self._placement, self._what, args, kwargs)
        return value_and_grads[1] if self._transform == "grad" else value_and_grads

    def __get__(self, obj, objtype=None):          # a class attribute binds as a function does
        return self if obj is None else types.MethodType(self, obj)

    def __repr__(self):
        name = getattr(self._f, "__qualname__", None) or repr(self._f)
        return f"<nba.{self._transform} of {name}>"

    def __copy__(self):                            # copied as a function is: itself
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return _rebuild_gradient, (self._transform, portable(self._f), self._argnums, self._placement,
                                   self._what)


def _rebuild_gradient(transform, f, argnums, placement, what):
    from . import api
    return api._make(transform, f, argnums, placement, what)


class Pullback:
    """The pullback of ``nba.vjp``: ``pullback(cotangent)``, usable once.  Pickled, it carries the
    function and the arguments; the copy runs the forward sweep again on its first call."""

    def __init__(self, f, args, placement, pullback=None, draws_from_module_generators=False):
        self._f, self._args, self._placement, self._pullback = f, args, placement, pullback
        self._module_draws = draws_from_module_generators

    def __call__(self, cotangent):
        if self._pullback is None:
            from . import api
            _, self._pullback = api._forward(self._f, self._args, self._placement)
        return self._pullback(cotangent)

    def __repr__(self):
        name = getattr(self._f, "__qualname__", None) or repr(self._f)
        return f"<nba.vjp pullback of {name}>"

    def __copy__(self):                            # it holds a tape: a copy would share it
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        if self._module_draws:
            name = getattr(self._f, "__qualname__", None) or repr(self._f)
            raise pickle.PicklingError(
                f"the pullback of {name}() cannot travel: it draws random numbers from a module-level "
                "generator (np.random.*, the random module, or a global one), and its forward sweep, run "
                "again elsewhere, would draw other numbers than the run whose value you have; pass a "
                "np.random.Generator as an argument (it travels in its state before the draws)")
        return Pullback, (portable(self._f), self._args, self._placement)


def with_generators_copied(args) -> tuple:
    """``args`` with each random generator replaced by a copy in its present state: what a pickled
    pullback carries, so that its forward sweep, run again elsewhere, draws what the first one drew.
    (The generators behind ``np.random.*`` and the ``random`` module are the worker's own.)"""
    return tuple(copy.deepcopy(a) if isinstance(a, GENERATOR_TYPES) else a for a in args)


# -- packing a function ---------------------------------------------------------------------------
class _Portable:
    """Pickles as ``f`` packed (see the module docstring) and unpickles as ``f`` rebuilt."""

    def __init__(self, f):
        self.f = f

    def __reduce__(self):
        return _unpack, (pack(self.f),)


def portable(f):
    """``f`` wrapped so that pickling it carries what rebuilding it needs (unpickled: ``f``)."""
    return _Portable(f)


def pack(f):
    """A picklable description of the function ``f`` (a functools.partial: of its function)."""
    if isinstance(f, functools.partial):
        return ("partial", pack(f.func), f.args, dict(f.keywords))
    ref = _reference(f)
    if ref is not None:
        return ("ref",) + ref
    packer = _Packer()
    root = packer.function(f)
    return ("value", packer.namespaces, packer.functions, root[1], packer.digest())


def _unpack(spec):
    kind = spec[0]
    if kind == "partial":
        return functools.partial(_unpack(spec[1]), *spec[2], **spec[3])
    if kind == "ref":
        return _import(spec[1], spec[2])
    return _rebuild(*spec[1:])


def _reference(obj):
    """``(module, qualname)`` of a function or class another process imports by name, else None."""
    if not isinstance(obj, (types.FunctionType, type)):
        return None
    module_name, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str) or module_name in ("__main__",
                                                                                           "__mp_main__"):
        return None
    module = sys.modules.get(module_name)
    if module is None or getattr(module, "__spec__", None) is None or "<locals>" in qualname:
        return None
    found = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return (module_name, qualname) if found is obj else None


def _import(module_name, qualname):
    try:
        found = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"nbadjoint cannot rebuild {qualname}() here: its module {module_name!r} cannot be imported in "
            f"this process ({type(exc).__name__}: {exc}); install it where the workers run, or put its "
            "folder on their sys.path", name=module_name) from None
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ImportError(f"nbadjoint cannot rebuild {qualname}(): the module {module_name!r} imported here "
                              f"has no {qualname!r} (it differs from the one where the gradient was made)",
                              name=module_name) from None
    return found


class _Packer:
    """The namespaces (globals dicts) and functions a by-value function needs, each once."""

    def __init__(self):
        self.namespaces: list = []
        self.functions: list = []
        self._ns_index: dict = {}
        self._fn_index: dict = {}
        self._keep: list = []               # what the indices are ids of, alive while packing

    def namespace(self, g: dict) -> int:
        index = self._ns_index.get(id(g))
        if index is not None:
            return index
        name = g.get("__name__")
        module = sys.modules.get(name) if isinstance(name, str) else None
        importable = module is not None and name not in ("__main__", "__mp_main__") and \
            getattr(module, "__spec__", None) is not None and module.__dict__ is g
        self._ns_index[id(g)] = index = len(self.namespaces)
        self._keep.append(g)
        self.namespaces.append({"module": name if importable else None, "name": name, "values": {}})
        return index

    def function(self, func):
        index = self._fn_index.get(id(func))
        if index is not None:
            return ("fn", index)
        name = getattr(func, "__qualname__", repr(func))
        code = func.__code__
        filename = code.co_filename
        lines = linecache.getlines(filename, func.__globals__)
        try:
            segment, start = inspect.getsourcelines(code)
        except (OSError, TypeError):
            lines = []
        if not lines:
            raise pickle.PicklingError(f"cannot pickle {name}() for another process: its source ({filename}) is "
                                       "not available here")
        self._fn_index[id(func)] = index = len(self.functions)
        self._keep.append(func)
        spec = {"name": func.__name__, "qualname": func.__qualname__, "module": func.__module__,
                "filename": filename, "text": "".join(lines), "start": start, "segment": "".join(segment),
                "flags": code.co_flags & _FUTURE_FLAGS, "freevars": code.co_freevars}
        self.functions.append(spec)
        spec["ns"] = ns_index = self.namespace(func.__globals__)
        ns = self.namespaces[ns_index]
        if ns["module"] is None:
            for global_name in sorted(_global_names(code)):
                if global_name in func.__globals__ and global_name not in ns["values"]:
                    ns["values"][global_name] = None          # (a cycle back to it stops here)
                    ns["values"][global_name] = self.tag(func.__globals__[global_name])
        closure = {}
        for var, cell in zip(code.co_freevars, func.__closure__ or ()):
            try:
                closure[var] = self.tag(cell.cell_contents)
            except ValueError:                      # a cell not filled yet
                pass
        spec["closure"] = closure
        spec["defaults"] = None if func.__defaults__ is None else [self.tag(v) for v in func.__defaults__]
        spec["kwdefaults"] = None if func.__kwdefaults__ is None else \
            {k: self.tag(v) for k, v in func.__kwdefaults__.items()}
        spec["dict"] = {k: self.tag(v) for k, v in func.__dict__.items()}
        return ("fn", index)

    def tag(self, value):
        if isinstance(value, types.ModuleType):
            return ("mod", value.__name__)
        ref = _reference(value)
        if ref is not None:
            return ("ref",) + ref
        if isinstance(value, types.FunctionType) and value.__code__.co_name != "<lambda>" and \
                is_user_function(value):
            return self.function(value)
        return ("val", value)

    def digest(self) -> str:
        """What was packed, as a digest: the sources and where they come from, and the values."""
        h = hashlib.sha256()
        for spec in self.functions:
            for key in ("name", "qualname", "module", "filename", "text", "start", "flags", "ns"):
                h.update(repr((key, spec[key])).encode())
            for key in ("closure", "defaults", "kwdefaults", "dict"):
                _fingerprint(h, spec[key])
        for ns in self.namespaces:
            h.update(repr((ns["module"], ns["name"])).encode())
            _fingerprint(h, ns["values"])
        return h.hexdigest()


def _global_names(code) -> set:
    """Names the code (and the code nested in it) reads as globals or attributes."""
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def _fingerprint(h, value):
    """Feed ``value`` (a packed tag, or what it holds) to the hash ``h``; values with no stable bytes
    make the digest unique to this pickle (they are rebuilt every time they arrive)."""
    if isinstance(value, dict):
        h.update(b"{")
        for k in sorted(value, key=repr):
            h.update(repr(k).encode())
            _fingerprint(h, value[k])
        h.update(b"}")
    elif isinstance(value, (tuple, list)):
        h.update(f"{type(value).__name__}{len(value)}(".encode())
        for v in value:
            _fingerprint(h, v)
        h.update(b")")
    elif isinstance(value, np.ndarray) and value.dtype != object:
        h.update(repr((value.dtype.str, value.shape)).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif value is None or type(value) in (bool, int, float, complex, str, bytes):
        h.update(repr((type(value).__name__, value)).encode())
    else:
        try:
            h.update(pickle.dumps(value, protocol=4))
        except Exception:
            h.update(repr(("unique", id(value), object())).encode())


# -- rebuilding -----------------------------------------------------------------------------------
def _rebuild(namespaces, functions, root, digest):
    found = _REBUILT.get(digest)
    if found is not None:
        return found
    spaces = [_namespace(ns) for ns in namespaces]
    made = [_make_function(spec, spaces[spec["ns"]]) for spec in functions]

    def value(tag):
        kind = tag[0]
        if kind == "mod":
            try:
                return importlib.import_module(tag[1])
            except ImportError as exc:
                raise ModuleNotFoundError(
                    f"nbadjoint cannot rebuild {functions[root]['qualname']}() here: it uses the module "
                    f"{tag[1]!r}, which cannot be imported in this process ({exc}); install it where the "
                    "workers run", name=tag[1]) from None
        if kind == "ref":
            return _import(tag[1], tag[2])
        if kind == "fn":
            return made[tag[1]]
        return tag[1]

    for ns, space in zip(namespaces, spaces):
        if ns["module"] is None:
            space.update({k: value(t) for k, t in ns["values"].items()})
    for spec, fn in zip(functions, made):
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        for var, tag in spec["closure"].items():
            cells[var].cell_contents = value(tag)
        fn.__defaults__ = None if spec["defaults"] is None else tuple(value(t) for t in spec["defaults"])
        fn.__kwdefaults__ = None if spec["kwdefaults"] is None else \
            {k: value(t) for k, t in spec["kwdefaults"].items()}
        fn.__dict__.update({k: value(t) for k, t in spec["dict"].items()})
    while len(_REBUILT) >= _REBUILT_KEPT:            # a long-lived worker: the oldest go
        _REBUILT.pop(next(iter(_REBUILT)))
    _REBUILT[digest] = made[root]
    return made[root]


def _namespace(ns) -> dict:
    if ns["module"] is not None:
        try:
            return importlib.import_module(ns["module"]).__dict__
        except ImportError as exc:
            raise ModuleNotFoundError(f"nbadjoint cannot rebuild a function of the module {ns['module']!r} here: "
                                      f"it cannot be imported in this process ({exc})", name=ns["module"]) from None
    return {"__name__": ns["name"], "__builtins__": builtins}


def _make_function(spec, space: dict):
    """The function a ``def`` made, compiled again from its source at its original lines, in a
    factory whose parameters are its closure's variables (filled in later)."""
    filename = _register_source(spec["filename"], spec["text"])
    tree = ast.parse(textwrap.dedent(spec["segment"]))
    ast.increment_lineno(tree, spec["start"] - 1)
    node = tree.body[0]
    node.decorator_list = [ast.copy_location(ast.Name(_SAME, ast.Load()), d) for d in node.decorator_list]
    args = node.args
    args.defaults, args.kw_defaults = [], [None] * len(args.kwonlyargs)   # set from the pickled values
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None:
            a.annotation = None
    node.returns = None
    factory = ast.FunctionDef(
        name=_MAKE, args=ast.arguments(posonlyargs=[], args=[ast.arg(_SAME)] + [ast.arg(v) for v in spec["freevars"]],
                                       vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[node, ast.Return(ast.Name(node.name, ast.Load()))], decorator_list=[], returns=None)
    if sys.version_info >= (3, 12):
        factory.type_params = []
    ast.copy_location(factory, node)
    module = ast.fix_missing_locations(ast.Module(body=[factory], type_ignores=[]))
    scratch: dict = {}
    exec(compile(module, filename, "exec", flags=spec["flags"], dont_inherit=True), space, scratch)
    fn = scratch[_MAKE](lambda f: f, *([None] * len(spec["freevars"])))
    fn.__qualname__, fn.__module__ = spec["qualname"], spec["module"]
    fn.__nbadjoint_rebuilt__ = True        # its source travelled with it: no file to check it against
    return fn


def _register_source(filename: str, text: str) -> str:
    """Serve ``text`` as the source of ``filename`` (a notebook cell's name, usually) from linecache,
    as IPython does; a different text under that name here gets a name of its own."""
    lines = text.splitlines(keepends=True)
    entry = linecache.cache.get(filename)
    if entry is not None and len(entry) == 4 and entry[2] != lines:
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        filename = f"{filename[:-1]}-{digest}>" if filename.endswith(">") else f"{filename}-{digest}"
        entry = linecache.cache.get(filename)
    if entry is None or len(entry) != 4:
        linecache.cache[filename] = (len(text), None, lines, filename)
    return filename


# -- many gradients -------------------------------------------------------------------------------
def map_grad(f, inputs, *, argnums=0, placement=None, executor=None, progress=None):
    """The gradients of scalar ``f`` at each item of ``inputs``, in their order (a list).

    An item that is a tuple holds the positional arguments of one call (``f(*item)``); any other
    item is the single argument (``f(item)``); pass a tuple argument as ``(t,)``.  ``argnums``
    and ``placement`` are those of `grad`.

    ``executor``: None runs the calls here, one after the other; else any object with
    ``submit(fn, *args)`` returning futures with ``.result()``: a ``concurrent.futures`` pool or a
    ``dask.distributed.Client``.  The gradient function is pickled to the workers (see
    `nbadjoint.travel`): models from notebook cells work too.  The first error raised by a call is
    raised here (the calls not started yet are cancelled).

    ``progress``: None shows "nbadjoint: gradients k/n" in a notebook (nothing elsewhere); True
    also on stderr in a terminal; False never; a callable is called with ``(done, total)``.
    """
    from .api import grad

    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"map_grad: executor must have a submit(fn, *args) method (a concurrent.futures "
                        f"pool or a dask.distributed.Client), or be None; got {type(executor).__name__}")
    g = grad(f, argnums=argnums, placement=placement)
    items = [item if isinstance(item, tuple) else (item,) for item in inputs]
    report = _progress(progress, len(items))
    out = []
    try:
        if executor is None:
            for item in items:
                out.append(g(*item))
                report(len(out))
            return out
        futures = [executor.submit(g, *item) for item in items]
        try:
            for future in futures:
                out.append(future.result())
                report(len(out))
        except BaseException:
            for future in futures[len(out):]:
                future.cancel()
            raise
        return out
    finally:
        getattr(report, "clear", lambda: None)()


def _progress(progress, total):
    if callable(progress) and not isinstance(progress, bool):
        return lambda done: progress(done, total)
    if progress is False:
        return lambda done: None
    shell = _shell()
    if shell is None and not progress:
        return lambda done: None
    from .notebook.magics import _Progress
    show = _Progress(shell)

    def report(done):
        show(f"gradients {done}/{total}")
    report.clear = show.clear
    return report


def _shell():
    """The IPython kernel's shell this runs in, else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


__all__ = ["GradientFunction", "Pullback", "map_grad", "pack", "portable"]
