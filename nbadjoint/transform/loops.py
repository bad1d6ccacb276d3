"""Time loops as placement sites: which ``for ... in range(...)`` loops can keep S snapshots of
their state instead of every iteration, and how such a loop is compiled.

A loop ``caller:lineno:for`` whose placement is an int S (or ``{"ram": S, "disk": D}``) is
compiled by *outlining* its body into a function of the call tree, ``<caller>_for<lineno>``:

- its parameters are the loop variable and the names the body reads before it assigns them (the
  carried state, and the values the body only reads);
- it returns those names again (the read-only ones unchanged: their adjoints then accumulate
  inside its backward sweep in the order of the loop itself, so the gradient has the same bits)
  and the names the body assigns that the code after the loop reads.

The body function gets the primal, forward and backward sweeps of any function of the tree; the
caller's sweeps call `nbadjoint.runtime.loop_checkpoint`, which runs them as a binomial or
two-level schedule (`nbadjoint.schedules`).  The caller's own analyses still see the loop as it is
written; only the code emitted for it changes (see sweep_loops.py).  A placement without loop
snapshots compiles exactly the code of a program without them.
"""

from __future__ import annotations

import ast
import copy
import numbers
import re
from dataclasses import dataclass, replace

from ..errors import PlacementError
from . import ir

SNAPSHOTS_COMMENT = re.compile(r"#\s*nbadjoint:\s*snapshots\s*=\s*(\d+)(?:\s*,\s*disk\s*=\s*(\d+))?")


@dataclass(frozen=True)
class LoopSite:
    """A ``for ... in range(...)`` loop of the call tree: ``caller:lineno:for``."""
    id: str
    caller: str               # the user's name of the function holding the loop
    key: str                  # that function's key in the program
    lineno: int
    filename: str
    default: object = None    # from a ``# nbadjoint: snapshots=S[, disk=D]`` comment on the line


@dataclass
class LoopPlan:
    """How a loop with snapshots is compiled: its body function and what crosses iterations."""
    id: str
    body_key: str             # key of the outlined body function
    target: str               # the loop variable
    params: list              # names passed to each iteration (after the loop variable)
    outputs: list             # params + names the body assigns that the code after the loop reads
    rebound: list             # the outputs the body assigns (the caller rebinds them after the loop)


def loop_sites(program) -> list:
    """Every ``for ... in range(...)`` loop of the call tree, root first, in line order."""
    out = []
    for key in reversed(program._order):
        code = program.functions[key]
        if getattr(code, "loop_body_of", None):
            continue
        info = code.info
        found = []
        for node in _own_nodes(info.node):
            if isinstance(node, ast.For) and _is_range(node.iter):
                match = SNAPSHOTS_COMMENT.search(info.line_text(node.lineno))
                default = None
                if match:
                    ram = int(match.group(1))
                    default = ram if match.group(2) is None else {"ram": ram, "disk": int(match.group(2))}
                found.append(LoopSite(f"{info.name}:{node.lineno}:for", info.name, key, node.lineno,
                                      info.filename, default))
        out += sorted(found, key=lambda site: site.lineno)
    return out


def not_a_loop_site(program, loop_id: str) -> str:
    """Why ``loop_id`` names no loop site: a loop that does not iterate over ``range``, or ''."""
    caller, _, rest = loop_id.partition(":")
    line = rest.partition(":")[0]
    for code in program.functions.values():
        if code is None or code.info.name != caller or getattr(code, "loop_body_of", None):
            continue
        for node in _own_nodes(code.info.node):
            if isinstance(node, (ast.For, ast.While)) and str(node.lineno) == line:
                what = "a `while` loop" if isinstance(node, ast.While) else \
                    f"a loop over `{ast.unparse(node.iter)}`"
                return (f"line {line} of {caller}() is {what}: only `for ... in range(...)` loops can keep "
                        "snapshots (their iteration count is known when they start); it keeps every iteration")
    return ""


def read_schedule(value, loop_id: str):
    """A loop's placement value as ``(ram, disk)``, or None (every iteration kept: None, False or
    "all")."""
    if value is None or value is False or isinstance(value, str) and value.strip().lower() == "all":
        return None
    if isinstance(value, bool):
        raise PlacementError(f"loop {loop_id!r}: give a number of snapshots (an int >= 1), "
                             f"{{'ram': S, 'disk': D}} or None, not True")
    if isinstance(value, numbers.Integral):
        s = int(value)
        if s < 1:
            raise PlacementError(f"loop {loop_id!r}: the number of snapshots must be at least 1, got {s}")
        return (s, 0)
    if isinstance(value, tuple) and len(value) == 2:        # (ram, disk), as `Program.placement` gives it
        value = {"ram": value[0], "disk": value[1]}
    if isinstance(value, dict):
        unknown = set(value) - {"ram", "disk"}
        if unknown or "ram" not in value:
            raise PlacementError(f"loop {loop_id!r}: a two-level placement is {{'ram': S, 'disk': D}}, "
                                 f"got {value!r}")
        ram, disk = value["ram"], value.get("disk", 0)
        for what, v in (("ram", ram), ("disk", disk)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise PlacementError(f"loop {loop_id!r}: {what} must be an int >= 0, got {v!r}")
        if ram + disk < 1:
            raise PlacementError(f"loop {loop_id!r}: at least one snapshot is needed (ram + disk >= 1)")
        return (ram, disk)
    raise PlacementError(f"cannot read {value!r} for loop {loop_id!r}: use an int (snapshots in "
                         f"memory), {{'ram': S, 'disk': D}} or None / 'all' (every iteration kept)")


def plan_loop(program, site: LoopSite) -> LoopPlan:
    """The plan of loop ``site`` (from the IR of its function); raises PlacementError naming the
    user's line when the loop cannot keep snapshots."""
    code = program.functions[site.key]
    info = code.info

    def refuse(why, hint="leave this loop out of the placement (every iteration is then kept)"):
        raise PlacementError(str(info.error(f"the loop cannot be checkpointed with snapshots: {why}",
                                            lineno=site.lineno, hint=hint)))
    node = _loop_node(info, site.lineno)
    if node.orelse:
        refuse("it has an `else` block")
    for n in _own_nodes(node, loops=False):
        if isinstance(n, (ast.Break, ast.Continue, ast.Return)):
            refuse(f"it may leave an iteration early (`{type(n).__name__.lower()}` on line {n.lineno}); the "
                   "schedule needs every iteration to run to its end", hint="use an if block instead, or "
                   "leave this loop out of the placement")
    path = _find_loop(code.body, site.lineno)
    if path is None:
        refuse("it is not a loop of the code nbadjoint differentiates (a refused statement replaced it)")
    if path[-1][0][path[-1][1]].counted:
        refuse("it may leave an iteration early")
    block, index = path[-1]
    loop = block[index]
    if not (isinstance(node.target, ast.Name) and node.target.id == loop.target):
        refuse("its loop variable is not a plain name")
    exposed, certain = _exposed(loop.body, {loop.target})
    before = set(code.params)
    for blk, k in path:                     # what runs before the loop: the statements before it in
        for s in blk[:k]:                   # its block and in each block around it, and the
            for inner in ir.walk([s]):      # variables of the loops around it
                before.update(ir.defined(inner))
        if blk[k] is not loop and isinstance(blk[k], ir.ForRange):
            before.add(blk[k].target)
    inside = {id(s) for s in ir.walk(loop.body)}
    outside = set()
    for s in ir.walk(code.body):
        if id(s) not in inside:
            outside |= _reads(s)
    if loop.target in outside:
        refuse(f"the loop variable `{loop.target}` is read outside the loop", hint="keep its value in another "
               "name inside the loop, or leave this loop out of the placement")
    assigned = set()
    for s in ir.walk(loop.body):
        assigned.update(ir.defined(s))
        assigned.update(ir.written(s))
    assigned.discard(loop.target)
    params = [n for n in exposed if n != loop.target]
    extra = []
    for name in sorted(assigned & outside - set(params)):
        if name in before:
            params.append(name)        # (its value before the loop is its value after none ran)
        elif name in certain:
            extra.append(name)
        else:
            refuse(f"`{name}` is read after the loop but not assigned in every iteration")
    missing = [n for n in params if n not in before]
    if missing:
        refuse(f"`{missing[0]}` is read in the body before it is assigned, and has no value before the loop")
    outputs = params + extra
    rebound = [n for n in outputs if n in assigned and any(n in ir.defined(s) for s in ir.walk(loop.body))]
    key = f"{code.key}_for{site.lineno}"
    while key in program.functions or key in program._objects:       # (a user function of that name)
        key += "_"
    return LoopPlan(site.id, key, loop.target, params, outputs, rebound)


def outline(program, site: LoopSite, plan: LoopPlan):
    """The body function of ``plan`` (a FunctionCode, not yet analysed); marks the caller's loop."""
    from .codegen import FunctionCode
    caller = program.functions[site.key]
    block, index = _find_loop(caller.body, site.lineno)[-1]
    loop = block[index]
    body = _copy_stmts(loop.body)
    used = set(caller.used_names)
    ret = "_state"
    while ret in used:
        ret += "_"
    used.add(ret)
    end = getattr(loop, "line", site.lineno)
    body.append(ir.Assign(ret, ir.Build("tuple", [ir.Name(n) for n in plan.outputs]), line=end))
    body.append(ir.Return(ir.Name(ret), line=end))
    node = _loop_node(caller.info, site.lineno)
    last = node.end_lineno or node.lineno
    fn = ast.FunctionDef(caller.info.node.name, ast.arguments(posonlyargs=[], args=[], vararg=None,
                                                               kwonlyargs=[], kw_defaults=[], kwarg=None,
                                                               defaults=[]),
                         copy.deepcopy(node.body) + [ast.Return(ast.Tuple(
                             [ast.Name(n, ast.Load()) for n in plan.outputs], ast.Load()))],
                         [], None)
    ast.copy_location(fn, node)
    ast.copy_location(fn.body[-1], node)
    ast.fix_missing_locations(fn)
    norm = copy.copy(caller.norm)          # (the user's code of the body, for its primal)
    norm.late = {k: v for k, v in caller.norm.late.items() if k[1] is not None and node.lineno <= k[1] <= last}
    norm.late_refusals = {k: v for k, v in caller.norm.late_refusals.items() if k in norm.late}
    code = object.__new__(FunctionCode)
    code.program = program
    code.info = replace(caller.info, key=plan.body_key, node=fn)
    code.norm = norm
    code.body = body
    code.params = [plan.target] + list(plan.params)
    site_ids = {s.expr.site for s in ir.walk(body) if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall)}
    code.sites = [s for s in caller.sites if s[0] in site_ids]
    code.used_names = used
    code.key = plan.body_key
    code.tmp_counter = 0
    code.assigned = ir.assigned(body)
    code.assigned_strict = {st.target for st in ir.walk(body) if isinstance(st, ir.Assign) and not st.aug_rebind} | \
        {t for st in ir.walk(body) if isinstance(st, ir.Unpack) for t in st.targets} | \
        {st.target for st in ir.walk(body) if isinstance(st, ir.ForRange)}
    code.mutated, code.maybe_mutated, code.touched = [], set(), frozenset()
    code.unsafe_pairs, code.maybe_unbound, code.call_params = frozenset(), set(), {}
    code.returned_globals, code._overlap_pairs = frozenset(), None
    code.alias_checks, code.entry_checks, code.entry_refs = {}, {}, {}
    code.split, code.rv_live, code.returns_live = False, False, ()
    code.loop_body_of = (site.key, site.id)
    loop.schedule = plan
    return code


def _reads(s) -> set:
    """Names statement ``s`` reads (`ir.reads`, and the value a tuple assignment takes apart)."""
    if isinstance(s, ir.Unpack):
        return set(ir.names_in([s.value]))
    return ir.reads(s)


def _find_loop(stmts, lineno):
    """[(block, index)] from the function's body down to the ForRange of line ``lineno`` (through
    branches and loops), or None."""
    for k, s in enumerate(stmts):
        if isinstance(s, ir.ForRange) and s.line == lineno:
            return [(stmts, k)]
        blocks = (s.body, s.orelse) if isinstance(s, ir.If) else (s.body,) \
            if isinstance(s, (ir.ForRange, ir.Loop)) else ()
        for block in blocks:
            found = _find_loop(block, lineno)
            if found:
                return [(stmts, k)] + found
    return None


def _loop_node(info, lineno):
    return next(n for n in _own_nodes(info.node) if isinstance(n, ast.For) and n.lineno == lineno)


def _copy_stmts(stmts) -> list:
    """Statements copied (their expressions too, shallowly): the body function's own, so that the
    passes keyed by statement identity see distinct ones."""
    out = []
    for s in stmts:
        c = copy.copy(s)
        if hasattr(c, "expr"):
            c.expr = copy.copy(c.expr)
        if isinstance(c, ir.If):
            c.body, c.orelse = _copy_stmts(s.body), _copy_stmts(s.orelse)
        elif isinstance(c, (ir.ForRange, ir.Loop)):
            c.body = _copy_stmts(s.body)
        out.append(c)
    return out


def _exposed(stmts, defined) -> tuple:
    """(names read before they are certainly assigned, in order of first read; names certainly
    assigned at the end)."""
    out: list = []

    def visit(stmts, defined):
        for s in stmts:
            for n in sorted(_reads(s) - defined):
                if n not in out:
                    out.append(n)
            if isinstance(s, ir.If):
                a = visit(s.body, set(defined))
                b = visit(s.orelse, set(defined))
                defined |= a & b
            elif isinstance(s, ir.ForRange):
                visit(s.body, set(defined) | {s.target})
            elif isinstance(s, ir.Loop):
                defined |= visit(s.body, set(defined))      # a `while True` body runs at least once
            else:
                defined |= set(ir.defined(s))
        return defined
    certain = visit(stmts, set(defined))
    return out, certain


def _is_range(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def _own_nodes(node, loops=True):
    """Nodes of a function's (or statement's) body, not those of functions defined inside it; with
    ``loops=False``, not those of loops nested in it either (their break/continue are theirs)."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        n = todo.pop(0)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield n
        if not loops and isinstance(n, (ast.For, ast.While)):
            # a return inside a nested loop still leaves this one
            todo.extend(r for r in ast.walk(n) if isinstance(r, ast.Return))
            continue
        todo.extend(ast.iter_child_nodes(n))


__all__ = ["LoopPlan", "LoopSite", "loop_sites", "not_a_loop_site", "outline", "plan_loop", "read_schedule"]
