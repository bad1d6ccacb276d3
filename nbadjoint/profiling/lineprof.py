"""Line-level drill-down: line_profiler on the generated forward and backward sweeps of one function.

The report is nbadjoint's own compact rendering of line_profiler's timings: one table per sweep
that ran, its lines prefixed by fixed-width figures (`PREFIX_WIDTH` characters, so that a view can
wrap long code lines under the code column), and one line for each sweep that did not run.
"""

import inspect
import linecache

from nbadjoint.profiling.units import format_seconds

PREFIX_WIDTH = 34
"""Characters before the code on every line of a table (line number, hits, time, share)."""

HEADER = f"{'Line':>6} {'Hits':>7} {'Time':>10} {'%Time':>6}  Code"


def line_profile(program, function, args, argnums=0, placement=None, kwargs=None):
    """Run one adjoint of ``program`` with line_profiler on ``function``'s generated sweeps.

    Returns a text report: for each sweep that ran (the forward and backward sweeps, and the
    general bodies of a function with a specialised one when its shape guards failed), a line
    "Function: <sweep>: <total time>" and a table of its generated source lines with their hits,
    time and share of the sweep's time; for each sweep that did not run, one line saying so.
    """
    from line_profiler import LineProfiler

    function = function_name(program, function)
    sweeps = [program.fwd_function(function), program.bwd_function(function)]
    general = getattr(program, "general_functions", None)       # (where the shape guards fail)
    if general is not None:
        sweeps += general(function)
    profiler = LineProfiler()
    for sweep in sweeps:
        profiler.add_function(sweep)
    profiler.enable_by_count()
    try:
        program.run_adjoint(args, argnums, placement, kwargs=kwargs)
    finally:
        profiler.disable_by_count()
    stats = profiler.get_stats()
    return format_stats(function, stats.timings, stats.unit)


def format_stats(function, timings, unit):
    """The report of `line_profile` from line_profiler's ``timings`` ({(file, first line, name):
    [(line, hits, time in ``unit`` s)]}), sweeps in the order they were added."""
    parts = [f"Line profile of the generated sweeps of {function} (one adjoint run; "
             f"each line's time over all its calls)"]
    not_run = []
    for (filename, first, name), entries in timings.items():
        hits = {line: (count, time * unit) for line, count, time in entries}
        total = sum(t for _, t in hits.values())
        if not entries:
            why = ("the specialised body's shape guards held on every call" if name.endswith("_general")
                   else "no call of it ran this sweep")
            not_run.append(f"Function: {name}: not run ({why})")
            continue
        parts.append("")
        parts.append(f"Function: {name}: {format_seconds(total)} (generated line {first})")
        parts.append(HEADER)
        lines = linecache.getlines(filename)
        body = inspect.getblock(lines[first - 1:]) if lines else []
        for offset, text in enumerate(body):
            number = first + offset
            code = text.rstrip("\n").rstrip()
            if number in hits:
                count, time = hits[number]
                share = f"{100.0 * time / total:.1f}" if total > 0 else ""
                figures = f"{number:>6} {count:>7} {format_seconds(time):>10} {share:>6}  "
            else:
                figures = f"{number:>6}" + " " * (PREFIX_WIDTH - 6)
            parts.append(figures + code)
    if not_run:
        parts.append("")
        parts += not_run
    return "\n".join(parts)


def function_name(program, function) -> str:
    """The name in ``program``'s call tree of ``function``: a function name, or a function object of
    the tree (matched by identity, else by its name)."""
    names = program.function_names
    if isinstance(function, str):
        if function in names:
            return function
        shown = repr(function)
    else:
        for code in program.functions.values():
            if code.info.func is function:
                return code.info.name
        name = getattr(function, "__name__", None)
        if isinstance(name, str) and name in names:
            return name
        shown = f"{name}()" if isinstance(name, str) else repr(function)
    raise ValueError(f"{shown} is not a function of this call tree; "
                     f"choose one of {', '.join(names)} (a name or the function itself) or a call-site id")
