"""The package's layout: imports run one way, every exception class lives in errors.py, one id for
the root, no module over 800 lines.  The source of nbadjoint/ is read with ast, not imported."""

import ast
import builtins
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nbadjoint as nba

PACKAGE = pathlib.Path(nba.__file__).parent

TEMPORARILY_EXEMPT: set = set()
"""Modules allowed to break the layout for a while (none now)."""

MAX_LINES = 800


def modules():
    """(path relative to the package, source, ast) of every module of nbadjoint."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        out.append((path.relative_to(PACKAGE).as_posix(), text, ast.parse(text, str(path))))
    assert len(out) > 20, f"found only {len(out)} modules under {PACKAGE}"
    return out


def checked_modules():
    return [m for m in modules() if m[0] not in TEMPORARILY_EXEMPT]


def module_name(relative: str) -> str:
    parts = ["nbadjoint", *relative[:-3].split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(relative: str, tree, *, module_level_only=False):
    """(line, absolute module name) of every import in ``tree``; ``from X import name`` gives both
    ``X`` and ``X.name`` (the name may be a module).  With ``module_level_only``, imports inside
    functions (run when the function is called, not when the module is imported) are left out."""
    package = module_name(relative).split(".")
    if not relative.endswith("__init__.py"):
        package = package[:-1]
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if module_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = ".".join(package[:len(package) - child.level + 1] + ([child.module] if child.module else []))
                else:
                    base = child.module
                found.append((child.lineno, base))
                found.extend((child.lineno, f"{base}.{alias.name}") for alias in child.names)
            visit(child)

    visit(tree)
    return found


def imports_of(prefix: str, relative: str, tree, **kwargs):
    return [(line, name) for line, name in imported_modules(relative, tree, **kwargs)
            if name == prefix or name.startswith(prefix + ".")]


# -- the helpers above, on known text -------------------------------------------------------------

def test_the_import_reader_resolves_relative_imports_and_sees_imports_in_functions():
    tree = ast.parse("from ..api import grad\nfrom . import runner\n"
                     "def f():\n    import nbadjoint.notebook.widget\n")
    names = [name for _, name in imported_modules("transform/program.py", tree)]
    assert "nbadjoint.api" in names and "nbadjoint.transform.runner" in names
    assert "nbadjoint.notebook.widget" in names
    assert "nbadjoint.notebook.widget" not in [
        name for _, name in imported_modules("transform/program.py", tree, module_level_only=True)]
    assert imports_of("nbadjoint.api", "transform/x.py", ast.parse("from .. import api\n"))


# -- size ---------------------------------------------------------------------------------------

def test_no_module_is_over_800_lines():
    long = {rel: len(text.splitlines()) for rel, text, _ in checked_modules()
            if len(text.splitlines()) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"


# -- imports run one way ------------------------------------------------------------------------

def test_transform_never_imports_the_api_even_inside_functions():
    bad = {rel: imports_of("nbadjoint.api", rel, tree) for rel, _, tree in checked_modules()
           if rel.startswith("transform/")}
    bad = {rel: found for rel, found in bad.items() if found}
    assert not bad, f"transform/ imports nbadjoint.api (use nbadjoint.marker or the transform modules): {bad}"


def test_transform_and_runtime_import_nothing_above_them():
    above = ("nbadjoint.api", "nbadjoint.profiling", "nbadjoint.notebook", "nbadjoint.cli", "nbadjoint.marker")
    bad = {}
    for rel, _, tree in checked_modules():
        layer = rel.split("/")[0]
        forbidden = above + (("nbadjoint.transform",) if layer == "runtime" else ())
        if layer in ("transform", "runtime"):
            found = [f for prefix in forbidden for f in imports_of(prefix, rel, tree)]
            if found:
                bad[rel] = found
    assert not bad, f"imports against the layering (runtime < transform < profiling < notebook): {bad}"


def test_profiling_does_not_import_the_notebook_when_it_is_imported():
    bad = {rel: imports_of("nbadjoint.notebook", rel, tree, module_level_only=True)
           for rel, _, tree in modules() if rel.startswith("profiling/")}
    bad = {rel: found for rel, found in bad.items() if found}
    assert not bad, f"profiling/ imports nbadjoint.notebook at module level (import it in the function): {bad}"


def test_the_shared_leaf_modules_import_nothing_of_nbadjoint():
    for rel in ("errors.py", "ids.py"):
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        assert not imports_of("nbadjoint", rel, tree), f"{rel} must import nothing of nbadjoint"


def test_the_runner_runs_a_program_without_importing_it_and_the_program_only_compiles():
    runner = ast.parse((PACKAGE / "transform/runner.py").read_text(encoding="utf-8"))
    assert not imports_of("nbadjoint.transform.program", "transform/runner.py", runner)
    program = ast.parse((PACKAGE / "transform/program.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in program.body if isinstance(n, ast.ClassDef) and n.name == "Program"]
    methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert not methods & {"bind", "check_current", "run_vjp", "_call", "_user_error"}, methods
    delegates = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name.startswith("run_")}
    for name, fdef in delegates.items():        # kept for the profiler: one call of the runner
        body = [s for s in fdef.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(body) == 1 and f"runner.{name}(self" in ast.unparse(body[0]), ast.unparse(fdef)


def test_the_array_helpers_can_be_imported_before_the_vjp_module():
    code = ("import nbadjoint.runtime.array_vjp as a, nbadjoint.runtime.vjp as v; "
            "assert v.sum_grad is a.sum_grad and v.concatenate_grad is a.concatenate_grad; "
            "assert not hasattr(v, 'no_such_helper')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


# -- exceptions ---------------------------------------------------------------------------------

def exception_classes():
    """(module, class name) of every class of nbadjoint that derives from an exception."""
    classes = []
    for rel, _, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else None
                         for b in node.bases]
                classes.append((rel, node.name, bases))
    known = {name for name in dir(builtins)
             if isinstance(getattr(builtins, name), type) and issubclass(getattr(builtins, name), BaseException)}
    found = True
    while found:                               # subclasses of nbadjoint's own exceptions too
        found = False
        for _, name, bases in classes:
            if name not in known and any(b in known for b in bases):
                known.add(name)
                found = True
    return [(rel, name) for rel, name, bases in classes if any(b in known for b in bases)]


def test_every_exception_class_is_defined_in_errors_py():
    found = exception_classes()
    assert ("errors.py", "TransformError") in found and ("errors.py", "PlacementError") in found
    elsewhere = [(rel, name) for rel, name in found if rel != "errors.py" and rel not in TEMPORARILY_EXEMPT]
    assert not elsewhere, f"exception classes outside nbadjoint/errors.py: {elsewhere}"


def test_the_exceptions_keep_their_old_import_paths():
    from nbadjoint import errors, profiling
    from nbadjoint.cli import UsageError, UserCodeError
    from nbadjoint.profiling.advisor import SearchLimitReached
    from nbadjoint.profiling.recorder import ProbeError
    from nbadjoint.runtime.tape import AliasError

    assert nba.AliasError is AliasError is errors.AliasError
    assert nba.ProfileError is profiling.ProfileError is errors.ProfileError
    assert nba.TransformError is errors.TransformError
    assert nba.PlacementError is errors.PlacementError
    assert ProbeError is profiling.ProbeError is errors.ProbeError
    assert (UsageError, UserCodeError, SearchLimitReached) == (
        errors.UsageError, errors.UserCodeError, errors.SearchLimitReached)
    for name in ("AliasError", "ProfileError", "TransformError", "PlacementError"):
        assert name in nba.__all__


def test_bad_placements_raise_placement_error_which_is_a_value_error():
    import api_models as m
    from nbadjoint.profiling.units import parse_placement
    from nbadjoint.transform.program import compile_tree

    assert issubclass(nba.PlacementError, ValueError)
    with pytest.raises(nba.PlacementError, match="cannot read 'maybe' for call site 'a:1:b' as checkpointed"):
        parse_placement({"a:1:b": "maybe"})
    with pytest.raises(nba.PlacementError, match="placement must be a dict mapping call-site ids"):
        parse_placement([("a:1:b", True)])
    with pytest.raises(nba.PlacementError, match=r"unknown call site\(s\) \['model:1:nothing'\] in placement"):
        compile_tree(m.model).placement({"model:1:nothing": False})
    with pytest.raises(nba.PlacementError, match="unknown call site"):
        nba.grad(m.model, placement={"model:1:nothing": False})
    with pytest.raises(ValueError, match="unknown call site"):
        nba.grad(m.model, placement={"model:1:nothing": False})


# -- one id for the root, one reader of budgets -------------------------------------------------

def _docstrings(tree):
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_the_root_id_is_written_once():
    from nbadjoint.ids import ROOT_ID

    spelled = {}
    for rel, _, tree in checked_modules():
        docs = _docstrings(tree)
        lines = [node.lineno for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and ROOT_ID in node.value and id(node) not in docs]
        if lines:
            spelled[rel] = lines
    assert spelled == {"ids.py": spelled.get("ids.py", [])} and spelled.get("ids.py"), (
        f"{ROOT_ID!r} written outside nbadjoint/ids.py (use ROOT_ID): {spelled}")


def test_the_root_id_is_that_of_trees_and_recordings():
    import api_models as m
    from nbadjoint.ids import ROOT_ID
    from nbadjoint.profiling.calltree import ROOT_SITE
    from nbadjoint.profiling.recorder import Recorder
    from nbadjoint.transform import runner
    from nbadjoint.transform.program import compile_tree

    program = compile_tree(m.model)
    assert program.site_tree["id"] == ROOT_ID == ROOT_SITE
    rec = Recorder()
    runner.run_adjoint(program, (np.linspace(0.1, 1.0, 4), 3), recorder=rec)
    assert rec.tree.site == ROOT_ID


def test_one_function_reads_budgets():
    defined = [rel for rel, _, tree in checked_modules() for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef) and node.name == "parse_budget"]
    assert defined == ["profiling/units.py"], defined
