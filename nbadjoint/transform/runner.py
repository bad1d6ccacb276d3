"""Running a compiled call tree: the primal, the adjoint (value and gradient) and a pullback.

A `nbadjoint.transform.program.Program` compiles; the functions here take one and run its
generated module: they bind the arguments (copying those the tree writes into), check that the
code compiled is still the code that runs, bracket the root for a profiling recorder, and turn an
exception raised inside the generated code into one that names the user's line.

This module does not import `program` (a program is passed in), so imports run one way.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import weakref

from ..ids import ROOT_ID
from ..runtime import loop_checkpoint as _loops
from ..runtime import tape as _rt
from . import draws, results, roots, stack, user_errors

_SIGNATURES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()     # program -> root signature
_LINE_MAPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()      # program -> {probes: line map}


def check_current(program):
    """Raise unless the code ``program`` was compiled from is still the code that runs."""
    if not program.is_current():
        raise RuntimeError(f"the code of {program.root_name}() or of a function it calls changed since it was "
                           "compiled (redefined, reloaded or monkeypatched); compile it again: nba.grad, "
                           "nba.profile and compile_tree compile the code that runs now")


def bind(program, args, kwargs=None) -> list:
    """Positional argument values of the root; arguments the tree writes into are copied (the
    caller's stay as they are)."""
    sig = _SIGNATURES.get(program)
    if sig is None:
        sig = _SIGNATURES[program] = inspect.signature(program.root, follow_wrapped=False)
    try:
        bound = sig.bind(*program.bound_args, *args, **{**program.bound_kwargs, **(kwargs or {})})
    except TypeError as exc:
        raise TypeError(f"{program.root_name}(): {exc}") from None
    bound.apply_defaults()
    root = program.functions[program.root_key]
    root.check_arguments(bound.arguments)
    copied, memo = root.copied_params, {}
    return [copy.deepcopy(bound.arguments[p], memo) if p in copied else bound.arguments[p] for p in sig.parameters]


def run_primal(program, args, kwargs=None, recorder=None):
    """The root's value, by the primal functions (probed when ``recorder`` is given), for the
    profiler: the random generators it draws from are left as they were."""
    check_current(program)
    values = bind(program, args, kwargs)
    probes = recorder is not None
    ns = program.module(probes)
    ctx = _rt.Context(program.placement(), recorder)
    fn = ns[f"{program.root_key}_primal"]
    # (the profiler's runs: each draws as the others do, and the generators stay as they were)
    restore_generators = draws.kept_generators(program, values, ns)
    if probes:
        recorder.enter(ROOT_ID, "P")
        out = call(program, probes, fn, ctx, *values)
        recorder.leave(ROOT_ID, "P")
    else:
        out = call(program, probes, fn, ctx, *values)
    restore_generators()
    return out


def run_adjoint(program, args, argnums=0, placement=None, recorder=None, kwargs=None, seed=None,
                loop_runs=None):
    """Value and gradient(s) of the root with respect to the arguments ``argnums``.

    Loops the placement gives snapshots run by their schedules (the program compiled for them,
    see `Program.for_placement`), except in a profiled run (``recorder``).  With ``loop_runs`` (a
    dict), it gets loop id -> [LoopRun], what each run of such a loop did (see
    `nbadjoint.runtime.loop_checkpoint.LoopRun`)."""
    nums = roots.check_argnums(argnums, program.n_params, program.root_name)
    if recorder is None or getattr(recorder, "follows_loops", False):
        program = program.for_placement(placement)
    # (a profiled run keeps every iteration of every loop: its probes follow the call tree of the
    # code compiled without loop snapshots; a recorder that follows loops, the profiler's
    # `nbadjoint.profiling.loops.LoopWatcher`, runs them by their schedules)
    check_current(program)
    values = bind(program, args, kwargs)
    index = [program.argument_index(n) for n in nums]
    if program.wrt is not None and any(i not in program.wrt for i in index):
        raise ValueError(f"this program differentiates arguments {sorted(program.wrt)} of {program.root_name}(), "
                         f"not {argnums!r}")
    probes = recorder is not None
    ns = program.module(probes)
    ctx = _rt.Context(program.context_placement(placement), recorder)
    if probes:
        recorder.tape = ctx.tape
    fwd = ns[f"{program.root_key}_fwd"]
    bwd = ns[f"{program.root_key}_bwd"]
    try:
        with _generators_kept_if_raising(program, values, ns) as as_found:
            if probes:
                restore_generators = as_found                     # every profiled run draws alike
                recorder.enter(ROOT_ID, "F")
            value = call(program, probes, fwd, ctx, *values)
            if probes:
                recorder.leave(ROOT_ID, "F")
                restore_generators()
            results.check_output(value, program.root_name)
            out_value = results.copy_out(value)
            if seed is None:
                seed = results.ones_like(value)
            restore_generators = draws.kept_generators(program, values, ns)   # the recomputations rewind them
            if probes:
                recorder.enter(ROOT_ID, "B")
            grads = call(program, probes, bwd, ctx, seed, *values, *_mutated_none(program))
            if probes:
                recorder.leave(ROOT_ID, "B")
            restore_generators()
    finally:
        if ctx.loops:
            _loops.close(ctx)              # disk snapshots of a run that raised (or was interrupted)
            if loop_runs is not None:
                loop_runs.update(ctx.loops)
    _check_tape_empty(ctx, program)
    result = tuple(results.finish_grad(grads[i], values[i]) for i in index)
    return out_value, (result[0] if isinstance(argnums, int) else result)


def run_vjp(program, args, placement=None, kwargs=None):
    """Run the forward sweep; return (value, pullback), the pullback usable once."""
    program = program.for_placement(placement)
    check_current(program)
    values = bind(program, args, kwargs)
    ns = program.module(False)
    ctx = _rt.Context(program.context_placement(placement), None)
    try:
        with _generators_kept_if_raising(program, values, ns):
            value = call(program, False, ns[f"{program.root_key}_fwd"], ctx, *values)
    except BaseException:
        _loops.close(ctx)
        raise
    bwd = ns[f"{program.root_key}_bwd"]
    out_value = results.copy_out(value)
    skip = len(program.bound_args)
    used = []

    def pullback(cotangent):
        if used:
            raise RuntimeError("this pullback was already used: its tape is consumed; call nba.vjp again")
        results.check_cotangent(cotangent, out_value, program.root_name)
        used.append(True)
        restore_generators = draws.kept_generators(program, values, ns)   # the recomputations rewind them
        try:
            grads = call(program, False, bwd, ctx, cotangent, *values, *_mutated_none(program))
        finally:
            restore_generators()            # (after a backward sweep that raised too)
            _loops.close(ctx)
        _check_tape_empty(ctx, program)
        return tuple(results.finish_grad(gi, xi) for gi, xi in list(zip(grads, values))[skip:])

    return out_value, pullback


@contextlib.contextmanager
def _generators_kept_if_raising(program, values, ns):
    """Runs of ``program`` inside leave the random generators it draws from as they found them if
    they raise; gives the function that puts them back."""
    as_found = draws.kept_generators(program, values, ns)
    try:
        yield as_found
    except BaseException:
        as_found()
        raise


def _mutated_none(program) -> tuple:
    """Adjoints after the run of the root arguments it writes into: none."""
    return (None,) * len(program.functions[program.root_key].mutated)


def _check_tape_empty(ctx, program):
    if ctx.tape:
        raise RuntimeError(f"internal error: {len(ctx.tape)} tape entries left after the backward sweep of "
                           f"{program.root_name}(); please report this with the function's source")


# -- errors raised while the generated code runs -----------------------------------------------------
def call(program, probes: bool, fn, *args):
    """``fn(*args)`` with room on the stack for the call tree; an exception raised inside the
    generated code names the user's line it comes from and loses nbadjoint's frames."""
    try:
        if program.depth <= stack.SHALLOW:
            return fn(*args)
        with stack.recursion_room(3 * program.depth + 200):
            return fn(*args)
    except Exception as exc:
        refusal = taken_handler(program, exc, probes)
        exc = user_error(program, exc, probes)
        if refusal is not None:
            raise refusal.with_traceback(exc.__traceback__) from exc
        raise exc


def user_error(program, exc, probes: bool):
    """``exc`` with a note naming the user's line (if the generated module raised it)."""
    found = _line_map(program, probes)
    if found is None:
        return exc
    filename, lines = found
    return user_errors.annotate(exc, filename, lines, program.functions)


def taken_handler(program, exc, probes: bool):
    """The refusal to raise instead of ``exc`` when the user's code would have caught it: an
    ``except`` handler of a ``try`` block around the line that raised it, or around the line of a
    call it came out of (in the forward sweep: an exception of the backward sweep, or nbadjoint's
    own, is not one the user's code raises), else None.  The sweeps have no handlers (see
    `nbadjoint.transform.normalize_try.TryRegion`)."""
    if type(exc).__module__.startswith("nbadjoint"):
        return None
    found = _line_map(program, probes)
    if found is None:
        return None
    filename, lines = found
    located, tb = [], exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename and tb.tb_lineno in lines:
            located.append(lines[tb.tb_lineno])
        tb = tb.tb_next
    if not located or any(sweep == "bwd" for _, sweep, _ in located):
        return None
    raised_at = None
    for key, _, lineno in reversed(located):             # innermost frame first
        code = program.functions.get(key)
        if code is None:
            continue
        if raised_at is None:
            raised_at = (lineno, code.info.name)
        regions = [r for r in getattr(code.norm, "try_regions", ()) if r.covers(lineno)]
        for region in sorted(regions, key=lambda r: r.last - r.first):      # innermost block first
            handler = region.catching(exc)
            if handler is not None and not handler[3]:       # (one raising it again lets it go on)
                return region.refusal(exc, handler, raised_at)
    return None


def _line_map(program, probes: bool):
    """(file name, `user_errors.line_map`) of the module generated for ``program``, or None."""
    built = program.built_module(probes)
    if built is None:
        return None
    text, filename = built
    maps = _LINE_MAPS.get(program)
    if maps is None:
        maps = _LINE_MAPS[program] = {}
    if probes not in maps:
        maps[probes] = user_errors.line_map(text, program.functions)
    return filename, maps[probes]


__all__ = ["bind", "call", "check_current", "run_adjoint", "run_primal", "run_vjp", "user_error"]
