"""Gradient test corpus: small plain-NumPy functions, one construct each.

Each module holds the functions and a CASES table of rows
``(function, args factory, argnums, autograd_ok)`` (optionally also a BEYOND_SUBSET table of rows
for constructs outside the documented subset); ``vectors`` holds vector-valued functions in
VJP_CASES rows ``(function, args factory, cotangent factory)``.
"""

import ast
import importlib
import inspect
import textwrap
import types

MODULE_NAMES = ("scalars", "arrays", "indexing", "control", "calls", "containers", "inplace", "pde",
                "pitfalls", "idioms", "models", "numpy_api")


def modules():
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULE_NAMES]


def public_name(module, function):
    """The module attribute bound to ``function`` (closures may be bound under another name)."""
    for name, value in vars(module).items():
        if value is function:
            return name
    raise LookupError(f"{function.__qualname__} is not a global of {module.__name__}")


def all_cases(table="CASES"):
    """[(id, module, name, function, args factory, argnums, autograd_ok)] over every module.

    ``table="BEYOND_SUBSET"`` gives the rows of constructs beyond the documented subset instead.
    """
    rows, seen = [], {}
    for module in modules():
        short = module.__name__.rsplit(".", 1)[-1]
        for function, args, argnums, autograd_ok in getattr(module, table, ()):
            name = public_name(module, function)
            base = f"{short}.{name}"
            seen[base] = seen.get(base, 0) + 1
            case_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
            rows.append((case_id, module, name, function, args, argnums, autograd_ok))
    return rows


def corpus_functions():
    """Every user function defined in the corpus modules (including helpers and closures)."""
    found = []
    for module in modules():
        for value in vars(module).values():
            if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
                found.append(value)
    return found


def calls_user_function(function):
    """True when the body of ``function`` calls another Python function defined in the corpus."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    closure = inspect.getclosurevars(function)
    scope = {**closure.globals, **closure.nonlocals}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            target = scope.get(node.func.id)
            if isinstance(target, types.FunctionType) and target.__module__.startswith(__name__):
                return True
    return False
