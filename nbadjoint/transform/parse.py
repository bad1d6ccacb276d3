"""Find the source of a user function and resolve the names it uses."""

from __future__ import annotations

import __future__
import ast
import builtins
import functools
import inspect
import linecache
import math
import numbers
import operator
import os
import sysconfig
import textwrap
import types
from dataclasses import dataclass, field

import numpy as np

from ..errors import TransformError
from ..ids import MARKER_ATTRIBUTE

_LIBRARY_DIRS = tuple(sorted({os.path.normcase(os.path.abspath(sysconfig.get_paths()[k]))
                              for k in ("stdlib", "platstdlib", "purelib", "platlib")}))
_LIBRARY_PREFIXES = ("numpy", "scipy", "autograd", "math", "builtins", "jax", "nbadjoint.", "IPython")


@dataclass
class FunctionInfo:
    func: types.FunctionType
    key: str                    # unique, identifier-safe name of the function in generated code
    name: str                   # the user's name for it
    filename: str
    node: ast.FunctionDef       # line numbers are those of the file or cell
    lines: list                 # source lines of the file or cell (1-based via lines[lineno - 1])
    globals: dict
    closure: dict = field(default_factory=dict)
    # every free name or dotted path resolved at compile time: path -> (value, strict); see `resolved_now`
    deps: dict = field(default_factory=dict)

    def line_text(self, lineno: int) -> str:
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1].rstrip("\n")
        return ""

    def error(self, message: str, node=None, hint: str | None = None, lineno: int | None = None) -> TransformError:
        if lineno is None and node is not None:
            lineno = getattr(node, "lineno", None)
        return TransformError(message, function=self.name, filename=self.filename, lineno=lineno,
                              source_line=self.line_text(lineno) if lineno else None, hint=hint)


def is_user_function(obj) -> bool:
    """True for plain Python functions written by the user (module files or notebook cells)."""
    if not isinstance(obj, types.FunctionType):
        return False
    if getattr(obj, MARKER_ATTRIBUTE, False):
        return True
    module = getattr(obj, "__module__", None) or ""
    if module.startswith(_LIBRARY_PREFIXES) or module == "nbadjoint":
        return False
    filename = obj.__code__.co_filename
    if filename.startswith("<") and not _is_cell(filename):
        return False
    if filename.startswith("<"):
        return True
    norm = os.path.normcase(os.path.abspath(filename))
    return not norm.startswith(_LIBRARY_DIRS)
    return True


def _is_cell(filename: str) -> bool:
    return filename.startswith("<ipython-input-") or filename.startswith("<cell") or bool(linecache.getlines(filename))


def load_function(func, key: str) -> FunctionInfo:
    """Parse ``func``'s source; line numbers are those of its file or notebook cell.

    The source is that of ``func``'s own code object (a ``functools.wraps`` wrapper is read as the
    wrapper, not as the function it wraps), and it must be the source the running code was compiled
    from (a module edited on disk since it was imported is refused).
    """
    raw_name = getattr(func, "__name__", None)
    name = display_name(raw_name if isinstance(raw_name, str) else repr(func))
    if not isinstance(func, types.FunctionType):
        raise TransformError(f"cannot differentiate {name!r}: it is a {type(func).__name__}, not a Python function",
                             hint="pass a function defined with `def`")
    code = func.__code__
    filename = code.co_filename
    if code.co_name == "<lambda>":
        raise TransformError("cannot differentiate a lambda", function=name, filename=filename,
                             lineno=code.co_firstlineno, hint="define the function with `def`")
    if "__signature__" in getattr(func, "__dict__", {}):
        raise TransformError(f"{name}() carries a `__signature__` that differs from its code", function=name,
                             filename=filename, lineno=code.co_firstlineno,
                             hint="differentiate a plain function whose parameters are those of its `def`")
    all_lines = _current_lines(func)
    _check_source_matches(func, name, all_lines)
    try:
        src_lines, start = inspect.getsourcelines(code)
    except (OSError, TypeError) as exc:
        raise TransformError(f"the source of {name}() is not available ({exc})", function=name, filename=filename,
                             hint="define it in a module file or a notebook cell") from None
    all_lines = all_lines or src_lines
    source = textwrap.dedent("".join(src_lines))
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TransformError(f"cannot parse the source of {name}(): {exc.msg}", function=name,
                             filename=filename, lineno=(exc.lineno or 1) + start - 1) from None
    ast.increment_lineno(tree, start - 1)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef):
        raise TransformError(f"{name} is not defined by a plain `def` statement", function=name,
                             filename=filename, lineno=start)
    closure = closure_values(func)
    # Decorators are not applied again: ``func`` is the object the def statement made (a wrapper a
    # decorator returns is a function of its own, read from its own def).
    return FunctionInfo(func=func, key=key, name=name, filename=filename, node=node, lines=all_lines,
                        globals=func.__globals__, closure=closure)


def display_name(name: str) -> str:
    """``name`` as it may appear in generated comments, docstrings and messages: one printable
    line, with backslashes and double quotes escaped (a name is any string ``__name__`` holds)."""
    out = []
    for c in name:
        if c in '\\"':
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            out.append(c.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def closure_values(func) -> dict:
    """The values of ``func``'s closure cells by name (unfilled cells left out)."""
    out = {}
    if func.__closure__:
        for var, cell in zip(func.__code__.co_freevars, func.__closure__):
            try:
                out[var] = cell.cell_contents
            except ValueError:
                pass
    return out


def _current_lines(func) -> list:
    """The lines of ``func``'s file as they are now (linecache refreshed from disk), or its cell."""
    filename = func.__code__.co_filename
    if not filename.startswith("<"):
        linecache.checkcache(filename)
    return linecache.getlines(filename, func.__globals__)


_COMPILED: dict = {}         # (filename, future flags) -> (text, module code object) of the last compile
_FUTURE_FLAGS = functools.reduce(operator.or_, (getattr(__future__, name).compiler_flag
                                                for name in __future__.all_feature_names), 0)


def _check_source_matches(func, name: str, lines: list):
    """Refuse ``func`` when the file its source would be read from no longer compiles to its code.

    Notebook cells and sources served by a loader are immutable and not checked.
    """
    code = func.__code__
    filename = code.co_filename
    entry = linecache.cache.get(filename)
    if entry is None or len(entry) != 4 or entry[1] is None or func.__dict__.get("__nbadjoint_rebuilt__"):
        return          # (a function rebuilt from the source it travelled with: see nbadjoint.travel)
    if "@pytest_ar" in func.__globals__:    # pytest rewrote the module's asserts: its code is not the file's
        return
    text = "".join(lines)
    flags = code.co_flags & _FUTURE_FLAGS          # e.g. a file run by IPython's %run after a future import
    cached = _COMPILED.get((filename, flags))
    if cached is not None and cached[0] == text:
        module_code = cached[1]
    else:
        try:
            module_code = compile(text, filename, "exec", flags=flags, dont_inherit=True)
        except (SyntaxError, ValueError):
            module_code = None
        _COMPILED[(filename, flags)] = (text, module_code)
    if module_code is None or not any(c == code for c in _code_objects(module_code, code.co_name,
                                                                          code.co_firstlineno)):
        raise TransformError(f"{name} changed on disk since it was imported: the file no longer holds the code "
                             "that runs", function=name, filename=filename, lineno=code.co_firstlineno,
                             hint="reload the module (importlib.reload) or restart the kernel, then call "
                                  "nbadjoint again")


def _code_objects(code, name: str, firstlineno: int):
    """Code objects nested in ``code`` (iteratively) with this name and first line."""
    stack = [code]
    while stack:
        c = stack.pop()
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                if const.co_name == name and const.co_firstlineno == firstlineno:
                    yield const
                stack.append(const)


_NOT_FOUND = object()


def resolve_name(name: str, info: FunctionInfo):
    """Value of a free name: closure, then globals, then builtins; _NOT_FOUND if none."""
    value, where = _lookup_name(name, info.closure, info.globals)
    # a global data value is read live by the generated code (``_G0[name]``): only its type is fixed
    info.deps.setdefault((name,), (value, not (where == "globals" and _is_data(value))))
    return value


def _lookup_name(name: str, closure: dict, globals_: dict):
    if name in closure:
        return closure[name], "closure"
    if name in globals_:
        return globals_[name], "globals"
    if hasattr(builtins, name):
        return getattr(builtins, name), "builtins"
    return _NOT_FOUND, "missing"


def _is_data(value) -> bool:
    return isinstance(value, (numbers.Number, np.ndarray, np.generic, str, bytes, tuple, list, dict, type(None)))


def resolve_static(node, info: FunctionInfo, local_names: set):
    """Resolve ``np.linalg.norm``-like expressions to objects; _NOT_FOUND for locals or unknowns."""
    if isinstance(node, ast.Name):
        if node.id in local_names:
            return _NOT_FOUND
        return resolve_name(node.id, info)
    if isinstance(node, ast.Attribute):
        base = resolve_static(node.value, info, local_names)
        if base is _NOT_FOUND:
            return _NOT_FOUND
        value = getattr(base, node.attr, _NOT_FOUND)
        path = _dotted_path(node)
        if path is not None:              # the first value seen: any later one differs only if it changed
            info.deps.setdefault(path, (value, True))
        return value
    return _NOT_FOUND


def _dotted_path(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return tuple(reversed(parts))


def resolved_now(info: FunctionInfo) -> bool:
    """True while every name and attribute path ``info``'s function resolved at compile time still
    resolves to the same value (the same type, for a global data value read live)."""
    closure = closure_values(info.func) if info.func.__closure__ else {}
    globals_ = info.globals
    for path, (value, strict) in info.deps.items():
        current = _lookup_name(path[0], closure, globals_)[0]
        for attr in path[1:]:
            if current is _NOT_FOUND:
                break
            current = getattr(current, attr, _NOT_FOUND)
        if current is value:
            continue
        if strict and not same_value(current, value):
            return False
        if not strict and type(current) is not type(value):
            return False
    return True


def same_value(a, b) -> bool:
    """``a is b``, or values the generated code cannot tell apart: equal numbers or strings of one
    type (``-0.0`` and ``0.0`` differ), tuples of such, equal bound methods, and arrays that are the
    same view of the same memory (``x.T`` makes a new view object at each access)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (types.MethodType, types.BuiltinMethodType)):
        return a == b                     # each attribute access makes a new bound method
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides and \
            a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    return type(a) in (int, float, complex, bool, str) and repr(a) == repr(b)


MODULE_TEXT = {id(np): "np", id(math): "math", id(np.linalg): "np.linalg"}
