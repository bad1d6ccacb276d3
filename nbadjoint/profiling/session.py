"""`ProfileSession`: the live half of a `Profile`, what it needs to measure again.

A profile made by ``nba.profile`` has one: the compiled program, the function and its arguments,
the profiling options, and how to compile the function again.  It reruns the function under
another placement (a new `Profile`) and line-profiles its generated sweeps.  A profile read from
JSON has none (the file keeps the measurements only), and says so when asked to run.

Pickled, a session keeps the function as a gradient function pickles it (see `nbadjoint.travel`:
a module's function by reference, a notebook cell's by its source) and the arguments, not the
compiled program nor the progress callback: unpickled, it compiles the function again on the first
rerun; where that cannot be done (a module not installed there) it says why it cannot run.
"""

from __future__ import annotations

import pickle

from nbadjoint.profiling.data import ProfileError

RUN_OPTIONS = ("repeat", "warmup", "heap", "rss", "clock", "progress")
"""The options of ``nba.profile`` a rerun takes again unless it is given others."""


class ProfileSession:
    """The compiled program, function, arguments and options of a profiled run.

    ``recompile`` (no arguments, returns a program) is what a rerun compiles with: the cached
    program while no code changed, a new one when the function or a callee was redefined.
    """

    def __init__(self, program, function, args, argnums, options=None, recompile=None):
        self.program = program
        self.function = function
        self.args = args
        self.argnums = argnums
        self.options = {k: v for k, v in (options or {}).items() if k in RUN_OPTIONS}
        self.recompile = recompile
        self._root = getattr(function, "__name__", None)
        self._pickled_run = None        # (blob, problem) in an unpickled session

    def rerun(self, placement, **options):
        """Measure the function again under the full ``placement``; a new `Profile`."""
        from nbadjoint.profiling.profile import _check_options, measure

        kwargs = dict(self.options)
        kwargs.update(options)
        _check_options(kwargs)
        program = self.recompile() if self.recompile is not None else self.current_program("rerun it")
        full = dict(placement)
        sites = {s.id for s in program.sites}
        if sites != {k for k in full if not k.endswith(":for")}:    # the code changed its call sites
            loops = {s.id for s in program.loop_sites}
            kept = {k: v for k, v in full.items() if k in sites or k in loops}
            full = {**program.placement(kept), **{k: v for k, v in kept.items() if k in loops}}
        return measure(program, self.function, self.args, argnums=self.argnums, placement=full,
                       recompile=self.recompile, **kwargs)

    def line_profile(self, function_name, placement):
        """line_profiler's report of the generated sweeps of ``function_name`` under ``placement``."""
        from nbadjoint.profiling.lineprof import line_profile

        program = self.current_program("drill down to lines")
        return line_profile(program, function_name, self.args, self.argnums, placement)

    def current_program(self, purpose):
        """The compiled program to run: the one profiled, or (in an unpickled session) the function
        compiled again.  ``purpose`` ("rerun it") completes the error message when it cannot."""
        if self.program is not None:
            return self.program
        self._restore_function(purpose)
        from nbadjoint.transform.program import compile_tree

        function, argnums = self.function, self.argnums
        self.program = compile_tree(function, argnums, call_args=self.args)
        self.recompile = lambda: compile_tree(function, argnums, call_args=self.args)
        return self.program

    def _restore_function(self, purpose):
        if self.function is not None:
            return
        blob, problem = self._pickled_run or (None, "the function was not kept")
        if blob is not None:
            try:
                self.function, self.args = pickle.loads(blob)
                return
            except Exception as exc:                # the function cannot be imported here
                problem = (f"{self._root or 'the function'}() cannot be imported here: "
                           f"{type(exc).__name__}: {exc}")
        raise ProfileError(
            f"this Profile was unpickled without its function ({problem}); to {purpose}, call "
            f"nba.profile(f, *args, placement=...) with the function (define it in a module to "
            f"rerun unpickled profiles)")

    def __getstate__(self):
        """The function (see `nbadjoint.travel`) and its arguments, the options without the progress
        callback; the compiled program is compiled again after unpickling."""
        state = {"argnums": self.argnums,
                 "options": {k: v for k, v in self.options.items() if k != "progress"},
                 "_root": self._root}
        if self.function is not None:
            try:
                from nbadjoint.travel import portable
                state["_pickled_run"] = (pickle.dumps((portable(self.function), self.args)), None)
            except Exception as exc:                # a local function, a lambda, an open file...
                state["_pickled_run"] = (None, f"{type(exc).__name__}: {exc}")
        else:
            state["_pickled_run"] = self._pickled_run
        return state

    def __setstate__(self, state):
        self.program = self.function = self.args = self.recompile = None
        self.argnums = state["argnums"]
        self.options = dict(state["options"])
        self._root = state.get("_root")
        self._pickled_run = state.get("_pickled_run")

    def __repr__(self):
        name = self._root or "?"
        state = "compiled" if self.program is not None else "not compiled yet"
        return f"<ProfileSession of {name}(): {state}>"


__all__ = ["ProfileSession", "RUN_OPTIONS"]
