"""Line-level drill-down: line_profiler on the generated forward and backward sweeps of one function."""

import io


def line_profile(program, function, args, argnums=0, placement=None, kwargs=None):
    """Run one adjoint of ``program`` with line_profiler on ``function``'s generated sweeps.

    Returns line_profiler's text report: one table for the forward sweep and one for the
    backward sweep (and one for each general body of a function with a specialised one), with the
    generated source lines (the generated module is a real file).
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
    out = io.StringIO()
    profiler.print_stats(stream=out, output_unit=1e-6, stripzeros=False)
    return out.getvalue()


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
