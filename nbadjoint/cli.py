"""Terminal entry point: ``python -m nbadjoint profile FILE.py:FUNCTION`` (or ``nbadjoint profile``).

Imports FILE as a module (its directory first on ``sys.path``), builds the arguments (``--args``,
a Python expression evaluated in the module's namespace, or the module's ``default_args()``),
profiles the adjoint of FUNCTION, prints the call-tree report and optionally writes the JSON.
Progress lines go to stderr, the report to stdout.  Usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import sys

METHODS = ("auto", "optimal", "greedy", "tapenade")


class UsageError(Exception):
    """A command-line mistake: printed without a traceback, exit status 2."""


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
                   help="placement to run: a JSON object {site id: true|false} or a .json file")
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
        value = default_args()
        return value if isinstance(value, tuple) else (value,)
    required = [p for p in inspect.signature(function).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if required:
        raise UsageError(f"{function.__name__} needs arguments ({', '.join(p.name for p in required)}): "
                         f"pass --args EXPR or define default_args() in the module")
    return ()


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
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        raise UsageError("--placement must map call-site ids to true (checkpointed) or false (split)")
    return value


def _budget(text):
    if text is None:
        return None
    from nbadjoint.profiling.units import parse_bytes

    try:
        return parse_bytes(text)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--budget: {exc}") from None


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def run_profile(options):
    from nbadjoint.errors import TransformError
    from nbadjoint.profiling.profile import profile

    budget = _budget(options.budget)
    placement = _placement(options.placement)
    argnums = _argnums(options.argnums)
    if options.repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {options.repeat}")
    module, function = _load_target(options.target)
    args = _arguments(module, function, options.args_expr)
    try:
        result = profile(function, *args, argnums=argnums, placement=placement,
                         repeat=options.repeat, warmup=options.warmup, heap=options.heap,
                         rss=options.rss, progress=_progress, clock=options.clock)
    except TransformError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        if "call site" in str(exc):
            raise UsageError(str(exc)) from None
        raise
    _progress("advising...")
    print(result.report(budget=budget, method=options.method))
    if options.json:
        result.to_json(options.json, budget=budget, method=options.method)
        _progress(f"wrote {options.json}")
    return 0


def main(argv=None):
    """Run the command line; returns the exit status."""
    options = _parser().parse_args(argv)
    try:
        if options.command == "profile":
            return run_profile(options)
    except UsageError as exc:
        print(f"nbadjoint: error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
