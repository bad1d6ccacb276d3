"""Terminal entry point: ``python -m nbadjoint profile FILE.py:FUNCTION`` (or ``nbadjoint profile``).

Imports FILE as a module (its directory first on ``sys.path``), builds the arguments (``--args``,
a Python expression evaluated in the module's namespace, or the module's ``default_args()``),
profiles the adjoint of FUNCTION, prints the call-tree report and optionally writes the JSON.
Progress lines go to stderr, the report to stdout.  Usage errors (a bad option, a missing file
or function, arguments the function cannot take, code nbadjoint cannot differentiate) exit with
status 2, an exception in the user's code with status 1; both print one message and no
traceback unless ``--traceback`` (``-v``) is given.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import sys
import traceback

from nbadjoint.errors import UsageError, UserCodeError

METHODS = ("auto", "optimal", "greedy", "tapenade")


def attach_negative_values(argv, options):
    """``["--budget", "-5MB"]`` -> ``["--budget=-5MB"]``: argparse would read ``-5MB`` as an
    option; attached, the value reaches the option's own check and its clear message."""
    out = list(argv)
    i = 0
    while i < len(out) - 1:
        value = out[i + 1]
        if out[i] in options and value[:1] == "-" and value[1:2] in tuple("0123456789."):
            out[i:i + 2] = [f"{out[i]}={value}"]
        i += 1
    return out


def _parser():
    parser = argparse.ArgumentParser(
        prog="nbadjoint",
        description="Profile the adjoint of a NumPy function per call site and suggest "
                    "checkpoint placements.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    p = commands.add_parser(
        "profile", help="profile the adjoint of FILE.py:FUNCTION",
        description="Profile the adjoint of FUNCTION in FILE.py and print the call-tree report.")
    p.add_argument("target", metavar="FILE.py:FUNCTION",
                   help="the Python file and the function to differentiate")
    p.add_argument("--args", metavar="EXPR", dest="args_expr",
                   help="arguments as a Python expression evaluated in the module's namespace "
                        "(a tuple for several); default: the module's default_args()")
    p.add_argument("--argnums", default="0", metavar="I[,J...]",
                   help="which arguments to differentiate (default 0; '0,2' for several)")
    p.add_argument("--budget", metavar="BYTES",
                   help="memory budget for the advisor, e.g. 200MB (default: the peak of the "
                        "all-checkpointed placement)")
    p.add_argument("--placement", metavar="JSON",
                   help="placement to run: a JSON object {site id: true|false, loop id: S | "
                        "{\"ram\": S, \"disk\": D} | null} or a .json file")
    p.add_argument("--iterations", metavar="LOOP=N", action="append", default=[],
                   help="also predict the run with the loop LOOP (an id like model:31:for) N "
                        "iterations long; repeat for several loops")
    p.add_argument("--method", choices=METHODS, default="auto", help="advisor method")
    p.add_argument("--repeat", type=int, default=3, metavar="N",
                   help="measured runs (medians; default 3)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="warm-up runs (default 1)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="time whole runs in wall time (default) or process CPU time (steadier on "
                        "a busy machine)")
    p.add_argument("--heap", action="store_true", help="also measure the Python-heap peak "
                                                       "(tracemalloc; slow)")
    p.add_argument("--rss", action="store_true", help="also report the process peak RSS")
    p.add_argument("--json", metavar="OUT", help="write the profile as JSON to OUT")
    p.add_argument("-v", "--traceback", action="store_true",
                   help="print the full Python traceback of an error")
    return parser


def _load_target(target):
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"expected FILE.py:FUNCTION, got {target!r} "
                         f"(for example examples/ocean_box.py:the_main_loop)")
    if not name.isidentifier():
        raise UsageError(f"{name!r} is not a function name; expected FILE.py:FUNCTION")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path!r}")
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise UsageError(f"{path} does not parse: {exc.msg} (line {exc.lineno})") from None
    except Exception as exc:
        raise UserCodeError(f"importing {path} raised {_where(exc, path)}") from exc
    function = getattr(module, name, None)
    if not callable(function):
        functions = sorted(k for k, v in vars(module).items()
                           if inspect.isfunction(v) and v.__module__ == module_name)
        raise UsageError(f"{os.path.basename(path)} has no function {name!r}; "
                         f"its functions are: {', '.join(functions) or '(none)'}")
    return module, function


def _arguments(module, function, expr):
    if expr is not None:
        try:
            value = eval(expr, vars(module))  # noqa: S307 - the user's own expression
        except Exception as exc:
            raise UsageError(f"cannot evaluate --args {expr!r}: {type(exc).__name__}: {exc}") from None
        return value if isinstance(value, tuple) else (value,)
    default_args = getattr(module, "default_args", None)
    if callable(default_args):
        try:
            value = default_args()
        except Exception as exc:
            raise UserCodeError(f"default_args() raised {_where(exc, module.__file__)}") from exc
        return value if isinstance(value, tuple) else (value,)
    required = [p for p in inspect.signature(function).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if required:
        raise UsageError(f"{function.__name__} needs arguments ({', '.join(p.name for p in required)}): "
                         f"pass --args EXPR or define default_args() in the module")
    return ()


def _check_call(function, args, argnums, given):
    """Refuse, before running, arguments the function cannot take and argnums out of range."""
    name = function.__name__
    try:
        inspect.signature(function).bind(*args)
    except TypeError as exc:
        raise UsageError(f"{name}() cannot be called with the {len(args)} argument(s) of "
                         f"{given}: {exc}") from None
    except ValueError:
        pass                                    # no signature to check; the run will tell
    for n in (argnums,) if isinstance(argnums, int) else argnums:
        if not -len(args) <= n < len(args):
            raise UsageError(f"--argnums {n} is out of range: {given} gives {name}() "
                             f"{len(args)} argument(s), positions 0 to {len(args) - 1}")


def _check_output(path):
    """Refuse an --json path that cannot be written, before the (long) profile runs."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--json: {path!r} is a folder; give a file name, e.g. {path}/profile.json")
    if not os.path.isdir(folder):
        raise UsageError(f"--json: the folder {folder!r} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"--json: cannot write {path!r} (no permission)")


def _where(exc, path):
    """``"ZeroDivisionError: division by zero (model.py, line 12, in step)"``: the exception and
    the innermost frame of the user's file (or folder); then the notes naming the user's line of
    an exception raised in the generated code."""
    folder = os.path.dirname(os.path.abspath(path))
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename).startswith(folder + os.sep)]
    text = f"{type(exc).__name__}: {exc}"
    if frames:
        frame = frames[-1]
        text += f" ({os.path.basename(frame.filename)}, line {frame.lineno}, in {frame.name})"
    notes = [note for note in getattr(exc, "__notes__", ()) if isinstance(note, str)]
    return "\n".join([text, *notes])


def _argnums(text):
    try:
        nums = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--argnums takes integers like 0 or 0,2, got {text!r}") from None
    return nums[0] if len(nums) == 1 else nums


def _placement(text):
    if text is None:
        return None
    source = text
    if not text.lstrip().startswith("{"):
        if not os.path.isfile(text):
            raise UsageError(f"--placement takes a JSON object or a .json file; {text!r} is neither")
        with open(text, encoding="utf-8") as f:
            source = f.read()
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--placement is not valid JSON: {exc}") from None
    from nbadjoint.profiling.units import parse_placement
    from nbadjoint.transform.loops import read_schedule

    loops = {}
    try:
        if isinstance(value, dict):
            loops = {k: value.pop(k) for k in list(value) if isinstance(k, str) and k.endswith(":for")}
            for k, v in loops.items():
                read_schedule(v, k)
        sites = parse_placement(value, what="--placement")
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc) if str(exc).startswith("--placement") else
                         f"--placement: {exc}") from None
    return {**(sites or {}), **loops} if loops else sites


def _iterations(items):
    """``["model:31:for=2000"]`` -> ``{"model:31:for": 2000}``."""
    out = {}
    for item in items:
        loop_id, sep, n = item.rpartition("=")
        if not sep or not loop_id.endswith(":for") or not n.strip().isdigit() or int(n) < 1:
            raise UsageError(f"--iterations takes LOOP=N, a loop id and a number of iterations "
                             f"(like model:31:for=2000), got {item!r}")
        out[loop_id] = int(n)
    return out


def _budget(text):
    if text is None:
        return None
    from nbadjoint.profiling.units import parse_budget

    try:
        return parse_budget(text)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--budget: {exc}") from None


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def run_profile(options):
    from nbadjoint.errors import TransformError
    from nbadjoint.profiling.profile import ProfileError, profile
    from nbadjoint.runtime.tape import AliasError

    budget = _budget(options.budget)
    placement = _placement(options.placement)
    argnums = _argnums(options.argnums)
    iterations = _iterations(options.iterations)
    if options.repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {options.repeat}")
    if options.warmup < 0:
        raise UsageError(f"--warmup must be at least 0, got {options.warmup}")
    _check_output(options.json)
    module, function = _load_target(options.target)
    args = _arguments(module, function, options.args_expr)
    _check_call(function, args, argnums,
                "--args" if options.args_expr is not None else "default_args()")
    try:
        result = profile(function, *args, argnums=argnums, placement=placement,
                         repeat=options.repeat, warmup=options.warmup, heap=options.heap,
                         rss=options.rss, progress=_progress, clock=options.clock)
    except (TransformError, ProfileError) as exc:
        raise UsageError(str(exc)) from exc
    except AliasError as exc:                   # its message names the file and line
        error = UserCodeError(f"AliasError: {exc}")
        error.__suppress_hint__ = True
        raise error from exc
    except Exception as exc:
        raise UserCodeError(f"profiling {function.__name__}() failed: "
                            f"{_where(exc, module.__file__)}") from exc
    unknown = sorted(set(iterations) - {r.id for r in result.loops})
    if unknown:
        raise UsageError(f"--iterations: no loop {', '.join(unknown)} in {function.__name__}(); "
                         f"its loops are: {', '.join(r.id for r in result.loops) or '(none)'}")
    _progress("advising...")
    print(result.report(budget=budget, method=options.method, iterations=iterations or None))
    if options.json:
        result.to_json(options.json, budget=budget, method=options.method)
        _progress(f"wrote {options.json}")
    return 0


def main(argv=None):
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    options = _parser().parse_args(attach_negative_values(argv, ("--budget", "--repeat",
                                                                 "--warmup", "--argnums")))
    try:
        if options.command == "profile":
            return run_profile(options)
    except (UsageError, UserCodeError) as exc:
        if getattr(options, "traceback", False) and exc.__cause__ is not None:
            cause = exc.__cause__
            traceback.print_exception(type(cause), cause, cause.__traceback__, file=sys.stderr)
        print(f"nbadjoint: error: {exc}", file=sys.stderr)
        if (isinstance(exc, UserCodeError) and not getattr(options, "traceback", False)
                and not getattr(exc, "__suppress_hint__", False)):
            print("nbadjoint: (run again with --traceback for the full traceback)", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
