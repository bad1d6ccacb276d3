"""Find the source of a user function and resolve the names it uses."""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import math
import os
import sysconfig
import textwrap
import types
from dataclasses import dataclass, field

import numpy as np

from ..errors import TransformError

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
    if getattr(obj, "__nbadjoint__", False):
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
    """Parse ``func``'s source; line numbers are those of its file or notebook cell."""
    name = getattr(func, "__name__", repr(func))
    if not isinstance(func, types.FunctionType):
        raise TransformError(f"cannot differentiate {name!r}: it is a {type(func).__name__}, not a Python function",
                             hint="pass a function defined with `def`")
    if name == "<lambda>":
        raise TransformError("cannot differentiate a lambda", function=name, filename=func.__code__.co_filename,
                             lineno=func.__code__.co_firstlineno, hint="define the function with `def`")
    filename = func.__code__.co_filename
    try:
        src_lines, start = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise TransformError(f"the source of {name}() is not available ({exc})", function=name, filename=filename,
                             hint="define it in a module file or a notebook cell") from None
    all_lines = linecache.getlines(filename) or src_lines
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
    closure = {}
    if func.__closure__:
        for var, cell in zip(func.__code__.co_freevars, func.__closure__):
            try:
                closure[var] = cell.cell_contents
            except ValueError:
                pass
    info = FunctionInfo(func=func, key=key, name=name, filename=filename, node=node, lines=all_lines,
                        globals=func.__globals__, closure=closure)
    for deco in node.decorator_list:
        if not _is_adjoint_decorator(deco, info):
            raise info.error("decorators other than @nbadjoint.adjoint are not supported", deco,
                             hint="remove the decorator from the differentiated function")
    return info


def _is_adjoint_decorator(deco, info: FunctionInfo) -> bool:
    from .. import api
    try:
        obj = resolve_static(deco, info, set())
    except Exception:
        return False
    return obj is api.adjoint


_NOT_FOUND = object()


def resolve_name(name: str, info: FunctionInfo):
    """Value of a free name: closure, then globals, then builtins; _NOT_FOUND if none."""
    if name in info.closure:
        return info.closure[name]
    if name in info.globals:
        return info.globals[name]
    if hasattr(builtins, name):
        return getattr(builtins, name)
    return _NOT_FOUND


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
        return getattr(base, node.attr, _NOT_FOUND)
    return _NOT_FOUND


MODULE_TEXT = {id(np): "np", id(math): "math", id(np.linalg): "np.linalg"}
