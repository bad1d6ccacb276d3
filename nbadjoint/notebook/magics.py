"""IPython magics: ``%%adjoint_profile`` profiles a cell's final call, ``%adjoint_source`` shows code.

``%load_ext nbadjoint`` registers them. The magics are a thin shell: everything they do is a plain
function here (`profile_cell`, `show_profile`, `source_code`), usable without a notebook.

    %%adjoint_profile --wrt u0 --budget 200MB -o prof
    def step(u, dt):
        return u - dt * np.sin(u * u)

    def model(u0, n):
        u = u0
        for i in range(n):
            u = step(u, 0.1)
        return np.sum(u)

    model(x0, 200)
"""

from __future__ import annotations

import ast
import functools
import inspect
import keyword
import shlex
import sys
import weakref
from dataclasses import dataclass

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import Code, display

from nbadjoint.cli import attach_negative_values
from nbadjoint.errors import AliasError, ProfileError, TransformError
from nbadjoint.profiling.advisor import METHODS
from nbadjoint.profiling.profile import Profile
from nbadjoint.profiling.units import parse_budget, parse_placement
from nbadjoint.notebook.widget import CallTreeWidget

__all__ = [
    "AdjointMagics", "RootCall", "load_ipython_extension", "unload_ipython_extension", "profile_cell",
    "show_profile", "source_code", "split_cell",
]

FINAL_CALL_HINT = (
    "end the cell with a call of the function to profile, e.g. `model(x0, 200)`; "
    "the cell's other statements define the functions and data it uses"
)


@dataclass
class RootCall:
    """The cell's final call, evaluated: ``function(*args)``; ``text`` is the call as written."""
    function: object
    args: tuple
    text: str


def split_cell(source, filename="<adjoint_profile>"):
    """Split cell text into (definitions, final call node); the definitions keep their line numbers.

    Raises UsageError when the last statement is not a call expression, SyntaxError (naming
    ``filename``) when the cell does not parse.
    """
    tree = ast.parse(source, filename)
    if not tree.body:
        raise UsageError(f"%%adjoint_profile: the cell is empty; {FINAL_CALL_HINT}")
    last = tree.body[-1]
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
        written = ast.get_source_segment(source, last) or type(last).__name__
        raise UsageError(
            f"%%adjoint_profile: the last line of the cell must be a call expression, but it is "
            f"`{written.splitlines()[0]}`; {FINAL_CALL_HINT}")
    lines = source.splitlines(keepends=True)
    start = lines[last.lineno - 1].encode("utf-8")[: last.col_offset].decode("utf-8")
    definitions = "".join(lines[: last.lineno - 1]) + start
    return definitions, last.value


def _collect_arguments(*args, **kwargs):
    return args, kwargs


def evaluate_call(call, source, namespace, filename="<adjoint_profile>"):
    """Evaluate the callee and the arguments of ``call`` (an ast.Call of ``source``) in ``namespace``.

    Keyword arguments are bound to positions by the callee's signature, since profiling takes
    positional arguments.
    """
    collect = ast.Call(func=ast.Name("_nbadjoint_collect_arguments", ast.Load()),
                       args=call.args, keywords=call.keywords)
    expression = ast.Expression(ast.Tuple([call.func, collect], ast.Load()))
    ast.copy_location(expression.body, call)
    ast.copy_location(collect, call)
    ast.fix_missing_locations(expression)
    code = compile(expression, filename, "eval")
    function, (args, kwargs) = eval(code, namespace, {"_nbadjoint_collect_arguments": _collect_arguments})
    text = ast.get_source_segment(source, call) or ast.unparse(call)
    if not callable(function):
        raise UsageError(f"%%adjoint_profile: `{ast.unparse(call.func)}` is not a function, it is "
                         f"{type(function).__name__}; {FINAL_CALL_HINT}")
    if not _is_python_function(function):
        raise UsageError(
            f"%%adjoint_profile: the last line must call a Python function (defined with `def` "
            f"in a cell or a module), but `{ast.unparse(call.func)}` is {_kind(function)}; "
            f"{FINAL_CALL_HINT}")
    _check_root(function, call)
    if kwargs:
        signature = _signature(function, text)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"%%adjoint_profile: cannot call `{text}`: {exc}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise UsageError(
                f"%%adjoint_profile: keyword-only argument(s) {', '.join(bound.kwargs)} in `{text}`: "
                "profiling passes arguments by position; make them positional parameters")
        args = bound.args
    return RootCall(function, tuple(args), text)


def _check_root(function, call):
    """Refuse, with what the last line must be, a final call nbadjoint cannot profile: of a NumPy or
    library function, of a gradient made by nba.grad..."""
    from nbadjoint.transform.roots import root_function, what_is

    called = ast.unparse(call.func)
    transform = getattr(function, "__nbadjoint_transform__", None)
    if transform:
        inner = getattr(getattr(function, "__wrapped__", None), "__name__", "f")
        wanted = ast.unparse(ast.Call(ast.Name(inner, ast.Load()), call.args, call.keywords))
        raise UsageError(
            f"%%adjoint_profile: the last line calls `{called}`, made by nba.{transform}(); the last line "
            f"must call the function itself, e.g. `{wanted}`: the magic profiles its gradient")
    try:
        root_function(function, "%%adjoint_profile")
    except TypeError:
        raise UsageError(f"%%adjoint_profile: the last line must call a Python function of yours (defined "
                         f"with `def` in a cell or a module), not `{called}`: {what_is(function)}; "
                         f"{FINAL_CALL_HINT}") from None


def _is_python_function(function):
    """A function whose Python source nbadjoint can read (possibly behind a decorator or a
    ``functools.partial``), not a builtin, a class, a ufunc or another callable object."""
    seen = 0
    while seen < 100:
        seen += 1
        if isinstance(function, functools.partial):
            function = function.func
        elif inspect.ismethod(function):
            function = function.__func__
        elif hasattr(function, "__wrapped__") and not inspect.isfunction(function):
            function = function.__wrapped__
        else:
            break
    return inspect.isfunction(function)


def _kind(value):
    """``"a numpy.ndarray"``, ``"the builtin int"``: what a value is, for error messages."""
    if inspect.isclass(value):
        return f"the class {value.__module__}.{value.__qualname__}" \
            if value.__module__ != "builtins" else f"the builtin type {value.__qualname__}"
    if inspect.isbuiltin(value):
        return f"the builtin {getattr(value, '__qualname__', value)}"
    cls = type(value)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"


def _signature(function, text):
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        raise UsageError(f"%%adjoint_profile: `{text}` does not call a Python function with a "
                         "signature; the root must be a function defined in Python") from None


_NOT_POSITIONAL = {inspect.Parameter.KEYWORD_ONLY: "keyword-only parameter",
                   inspect.Parameter.VAR_KEYWORD: "**keyword parameter",
                   inspect.Parameter.VAR_POSITIONAL: "*args parameter"}


def argnums_for(function, wrt, nargs):
    """Positions of the parameters named in ``wrt`` ("u0,dt" or a list); default 0 (the first)."""
    if not wrt:
        return 0
    names = [name.strip() for name in (wrt.split(",") if isinstance(wrt, str) else wrt) if name.strip()]
    signature = _signature(function, getattr(function, "__name__", "the root"))
    parameters = [p.name for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    fname = getattr(function, "__name__", "the root function")
    positions = []
    for name in names:
        kind = getattr(signature.parameters.get(name), "kind", None)
        if kind in _NOT_POSITIONAL:
            raise UsageError(
                f"--wrt: {name!r} is a {_NOT_POSITIONAL[kind]} of {fname}; nbadjoint "
                f"differentiates with respect to positional parameters only "
                f"({', '.join(parameters) or 'none'}): make {name!r} an ordinary parameter "
                f"(before any `*`) to differentiate it")
        if name not in parameters:
            raise UsageError(f"--wrt: {name!r} is not a parameter of {fname}; "
                             f"its parameters are: {', '.join(parameters) or '(none)'}")
        position = parameters.index(name)
        if position >= nargs:
            raise UsageError(f"--wrt: the call passes no value for {name!r}; pass it explicitly in the final call")
        positions.append(position)
    return positions[0] if len(positions) == 1 else tuple(positions)


def profile_cell(cell, *, shell=None, wrt=None, placement=None, repeat=1, first_lineno=1):
    """Run the cell's definitions in the user namespace and profile its final call.

    ``first_lineno`` is the line number of the cell's first line as the user sees it (2 under a
    cell magic line), so that errors and call-site ids name the cell's own lines. Returns the
    Profile.  A SyntaxError in the cell is shown by IPython with the cell's line, then a
    UsageError is raised; an exception in the definitions is shown by IPython with its traceback
    and raised again.  Either way nothing is profiled.
    """
    import nbadjoint

    shell = shell or _get_shell()
    source = "#\n" * (first_lineno - 1) + shell.transform_cell(cell)
    filename = shell.compile.cache(source, shell.execution_count)
    try:
        definitions, call = split_cell(source, filename)
    except SyntaxError:
        definitions = call = None
    if call is None:
        shell.run_cell(source, store_history=False)  # IPython shows the error with the cell's lines
        raise UsageError("%%adjoint_profile: the cell does not parse (the SyntaxError is shown "
                         "above); nothing was profiled") from None
    if definitions.strip():
        result = shell.run_cell(definitions, store_history=False)
        if not result.success:
            raise _definitions_failed(result.error_before_exec or result.error_in_exec)
    root = evaluate_call(call, source, shell.user_ns, filename)
    argnums = argnums_for(root.function, wrt, len(root.args))
    progress = _Progress(shell)
    extra = {"progress": progress} if "progress" in inspect.signature(nbadjoint.profile).parameters else {}
    try:
        return nbadjoint.profile(root.function, *root.args, argnums=argnums, placement=placement, repeat=repeat,
                                 **extra)
    finally:
        progress.clear()


def _definitions_failed(error):
    """The exception to raise after the cell's definitions failed (IPython has shown it in full)."""
    note = "nothing was profiled: the cell's definitions raised the error shown above"
    if error is None or isinstance(error, SyntaxError):
        return RuntimeError(f"%%adjoint_profile: {note}")
    return _briefly(error, f"{type(error).__name__}: {error}\n({note})")


def user_error_text(exc):
    """``"ValueError: message"`` and the notes naming the user's line (added where the generated
    code raised it): what the user needs of an exception, without nbadjoint's frames."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    notes = [note for note in getattr(exc, "__notes__", ()) if isinstance(note, str)]
    return "\n".join([text, *notes])


def _briefly(exc, text=None):
    """Mark ``exc`` so that IPython shows only its type and message, not a traceback through
    nbadjoint's own code (the message names the user's function, file and line)."""
    lines = [text or f"{type(exc).__name__}: {exc}"]
    exc._render_traceback_ = lambda: lines
    return exc


class _Progress:
    """The profiler's status ("nbadjoint: adjoint run 2/3...") while it runs, gone when it is done.

    In a notebook: one display output, updated in place and emptied at the end (nothing on
    stderr, so no stream output is left in the cell).  In a terminal: one line on stderr,
    rewritten in place and cleared.  It is also cleared when the cell ends, for the runs made
    later through the Profile (``prof.rerun()`` in another cell) that reuse it.
    """

    def __init__(self, shell=None):
        self.shell = shell
        self.width = 0
        self.handle = None
        self._hooked = False

    def _in_kernel(self):
        return getattr(self.shell, "kernel", None) is not None

    def __call__(self, message):
        if message.startswith("compiling"):
            return                      # quick; errors found there are shown on their own
        text = f"nbadjoint: {message}"
        if self._in_kernel():
            bundle = {"text/plain": text}
            if self.handle is None:
                self.handle = display(bundle, raw=True, display_id=True)
            else:
                self.handle.update(bundle, raw=True)
        else:
            self.width = max(self.width, len(text))
            print("\r" + text.ljust(self.width), end="", file=sys.stderr, flush=True)
        self._clear_when_the_cell_ends()

    def _clear_when_the_cell_ends(self):
        events = getattr(self.shell, "events", None)
        if events is not None and not self._hooked:
            events.register("post_run_cell", self._cell_ended)
            self._hooked = True

    def _cell_ended(self, *_result):
        self.clear()
        try:
            self.shell.events.unregister("post_run_cell", self._cell_ended)
        except ValueError:
            pass
        self._hooked = False

    def clear(self):
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)
            self.handle = None
        if self.width:
            print("\r" + " " * self.width + "\r", end="", file=sys.stderr, flush=True)
            self.width = 0


def show_profile(profile, *, widget=True, budget=None, method="auto", shell=None):
    """Display a Profile: the call-tree widget in a kernel, else (or with widget=False) the text report.

    Returns the widget when one is shown.
    """
    shell = shell or _get_shell(required=False)
    if widget and getattr(shell, "kernel", None) is not None:
        view = CallTreeWidget(profile, budget=budget, method=method)
        display(view)
        return view
    print(profile.report(budget=budget, method=method))
    return None


def source_code(function, argnums=None):
    """The generated adjoint code of ``function`` and its callees, as highlighted Python.

    ``argnums`` (an int or a tuple): only those arguments are differentiated, as by
    ``nba.grad(function, argnums)``; None: every argument.
    """
    import nbadjoint

    return Code(nbadjoint.adjoint_source(function, argnums=argnums), language="python")


def _get_shell(required=True):
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None and required:
        raise RuntimeError("no IPython shell is running; pass shell=... or call nba.profile(f, *args) directly")
    return shell


@magics_class
class AdjointMagics(Magics):
    """``%%adjoint_profile`` and ``%adjoint_source``."""

    @magic_arguments()
    @argument("--wrt", metavar="NAMES", default=None,
              help="parameters of the root to differentiate, comma separated (default: the first)")
    @argument("--budget", metavar="BYTES", default=None,
              help="memory budget for the advisor, e.g. 200MB (default: the peak of the all-checkpointed placement)")
    @argument("--placement", metavar="NAME", default=None,
              help="name of a dict in the namespace mapping call-site ids to True (checkpoint) / False (split)")
    @argument("--repeat", metavar="N", type=int, default=1, help="runs to take medians over (default 1)")
    @argument("-o", "--output", metavar="NAME", default=None, help="store the Profile in this variable")
    @argument("--no-widget", action="store_true", help="print the text report instead of the widget")
    @argument("--method", metavar="M", default="auto", choices=METHODS,
              help=f"advisor method: {', '.join(METHODS)} (default auto)")
    @cell_magic
    def adjoint_profile(self, line, cell):
        """Profile the adjoint of the cell's final call, per call site, and show the call tree.

        The cell defines functions (plain or decorated with @nba.adjoint) and ends with a call
        of the root function, e.g. ``model(x0, 200)``.
        """
        options = self._parse(self.adjoint_profile, line)
        output = self._output_name(options.output)
        self._drop_old_result(output)
        if options.repeat < 1:
            self._usage_error(self.adjoint_profile, f"--repeat must be at least 1, got {options.repeat}")
        budget = None
        if options.budget is not None:
            try:
                budget = parse_budget(options.budget)
            except (TypeError, ValueError) as exc:
                self._usage_error(self.adjoint_profile, f"--budget: {exc}")
        placement = self._placement(options.placement)
        try:
            profile = profile_cell(cell, shell=self.shell, wrt=options.wrt, placement=placement,
                                   repeat=options.repeat, first_lineno=2)
        except (TransformError, AliasError, ProfileError) as exc:
            raise _briefly(exc)
        except UsageError:
            raise
        except Exception as exc:                        # raised by the user's code, or refused
            raise exc if hasattr(exc, "_render_traceback_") else _briefly(exc, user_error_text(exc))
        if output is not None:
            self.shell.user_ns[output] = profile
            try:
                self._results[output] = profile
            except TypeError:                           # not weak-referenceable
                pass
        show_profile(profile, widget=not options.no_widget, budget=budget, method=options.method, shell=self.shell)
        return None

    @magic_arguments()
    @argument("--argnums", metavar="I[,J...]", default=None,
              help="differentiate only these arguments, e.g. 0 or 0,2 (default: every argument)")
    @argument("function", help="the function (an expression) whose generated adjoint to show")
    @line_magic
    def adjoint_source(self, line):
        """Show the generated adjoint code of a function and its callees, highlighted."""
        options = self._parse(self.adjoint_source, line)
        argnums = self._argnums(options.argnums)
        try:
            function = self.shell.ev(options.function)
        except Exception as exc:
            raise UsageError(f"%adjoint_source: cannot evaluate {options.function!r}: "
                             f"{type(exc).__name__}: {exc}") from None
        if not _is_python_function(function):
            raise UsageError(f"%adjoint_source needs a function; {options.function} is {_kind(function)}. "
                             "Pass the name of a function defined with `def`, e.g. %adjoint_source model")
        try:
            code = source_code(function, argnums)
        except TransformError as exc:
            raise _briefly(exc)
        except ValueError as exc:
            if not str(exc).startswith("argnums"):
                raise
            self._usage_error(self.adjoint_source, f"--{exc}")      # out of range, or one twice
        display(code)
        return None

    def _parse(self, magic, line):
        """The magic's options; quotes group words as in a shell (``--budget "200 MiB"``)."""
        try:
            tokens = shlex.split(line)
        except ValueError as exc:                           # an unclosed quote
            self._usage_error(magic, f"cannot read the options {line.strip()!r}: {exc}")
        tokens = attach_negative_values(tokens, ("--budget", "--repeat", "--argnums"))
        try:
            return magic.parser.parse_args(tokens)
        except UsageError as exc:
            self._usage_error(magic, str(exc))

    @property
    def _results(self):
        """Profiles this magic stored under ``-o`` names (weakly: the user may delete them)."""
        if "_stored_results" not in vars(self):
            self._stored_results = weakref.WeakValueDictionary()
        return self._stored_results

    def _drop_old_result(self, name):
        """Remove the result of an earlier profile from ``name`` before a new one runs, so that
        an error leaves no stale result behind; any other value under that name stays."""
        if name is None or name not in self.shell.user_ns:
            return
        value = self.shell.user_ns[name]
        if isinstance(value, Profile) or self._results.get(name) is value:
            del self.shell.user_ns[name]

    def _output_name(self, name):
        if name is None:
            return None
        if not name.isidentifier() or keyword.iskeyword(name):
            self._usage_error(self.adjoint_profile,
                              f"-o: {name!r} is not a valid Python variable name; write e.g. -o prof")
        return name

    def _usage_error(self, magic, message):
        prefix = "%%" if magic.__name__ == "adjoint_profile" else "%"
        usage = " ".join(magic.parser.format_usage().replace("::", "").split())
        usage = usage.replace(f"%{magic.__name__}", f"{prefix}{magic.__name__}", 1)
        raise UsageError(f"{message}\nusage: {usage}\n(see {prefix}{magic.__name__}? for the options)") from None

    def _argnums(self, text):
        """``"0,2"`` -> ``(0, 2)``, ``"1"`` -> ``1``, None -> None (every argument)."""
        if text is None:
            return None
        try:
            nums = tuple(int(part) for part in text.split(","))
        except ValueError:
            self._usage_error(self.adjoint_source, f"--argnums takes integers like 0 or 0,2, got {text!r}")
        return nums[0] if len(nums) == 1 else nums

    def _placement(self, name):
        if name is None:
            return None
        if name not in self.shell.user_ns:
            self._usage_error(self.adjoint_profile, f"--placement: no variable named {name!r} in the namespace")
        placement = self.shell.user_ns[name]
        try:
            from nbadjoint.transform.loops import read_schedule

            loops = {}
            if isinstance(placement, dict):        # loop ids (caller:lineno:for) -> snapshots
                loops = {k: v for k, v in placement.items() if isinstance(k, str) and k.endswith(":for")}
                for k, v in loops.items():
                    read_schedule(v, k)
                placement = {k: v for k, v in placement.items() if k not in loops}
            sites = parse_placement(placement, what=f"--placement {name}")
            return {**(sites or {}), **loops} if loops else sites
        except (TypeError, ValueError) as exc:
            self._usage_error(self.adjoint_profile, f"--placement {name}: {exc}"
                              if not str(exc).startswith("--placement") else str(exc))


def load_ipython_extension(ipython):
    """Register the nbadjoint magics (``%load_ext nbadjoint``)."""
    ipython.register_magics(AdjointMagics)


def unload_ipython_extension(ipython):
    """Remove the nbadjoint magics (``%unload_ext nbadjoint``)."""
    registered = ipython.magics_manager.magics
    for kind, name in (("cell", "adjoint_profile"), ("line", "adjoint_source")):
        magic = registered[kind].get(name)
        if isinstance(getattr(magic, "__self__", None), AdjointMagics):
            del registered[kind][name]
