"""The oracle: run one generated program through nbadjoint and classify the outcome.

- OK: value equal to the primal's, gradient matching finite differences (and autograd where it
  runs the same source), bitwise equal under every placement, inputs untouched unless the primal
  writes them.
- REFUSAL: nba.TransformError / nba.AliasError raised before any result, with a message naming a
  line (acceptable).
- WRONG: a gradient or value mismatch, a placement that changes the gradient or the outcome, or an
  input mutated although the primal leaves it alone (the worst).
- CRASH: any other exception from nbadjoint, the generated code or NumPy; a refusal that names no
  line (bad).
- INVALID: the program itself does not run, or is not smooth enough for finite differences (a
  generator defect, not an nbadjoint bug; counted apart).
"""

import contextlib
import hashlib
import importlib.util
import random
import re
import signal
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gradcheck
import nbadjoint as nba

OUTCOMES = ("OK", "REFUSAL", "WRONG", "CRASH", "INVALID")
BAD = ("WRONG", "CRASH")
RTOL, ATOL = 1e-5, 1e-7


@dataclass
class Result:
    outcome: str
    signature: str = ""             # for deduplication: what failed, normalised
    detail: str = ""                # the full message or traceback
    notes: list = field(default_factory=list)


def program_hash(source):
    return hashlib.sha1(source.encode()).hexdigest()[:16]


def load(source, folder):
    """Write ``source`` to a real file in ``folder`` and import it (nbadjoint reads the file)."""
    name = "fuzzprog_" + program_hash(source)
    if name in sys.modules:
        return sys.modules[name]
    path = Path(folder) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def normalise(text):
    """An error message with the details that vary between programs taken out."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = re.sub(r"fuzzprog_[0-9a-f]+", "<prog>", first)
    first = re.sub(r"/[^ '\"]*\.py", "<file>", first)
    first = re.sub(r"'[^']*'", "'_'", first)
    first = re.sub(r"\b[a-z]+\d+\b", "<name>", first)
    first = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", first)
    first = re.sub(r"\([^()]*\)", "(..)", first)
    return first[:160]


def innermost_frame(err):
    """file:function of the innermost frame that is not NumPy's, for the crash signature."""
    frames = traceback.extract_tb(err.__traceback__)
    for frame in reversed(frames):
        if "/numpy/" not in frame.filename:
            name = Path(frame.filename).name
            name = re.sub(r"fuzzprog_[0-9a-f]+", "<prog>", name)
            name = re.sub(r"[0-9a-f]{12,}", "<hash>", name)
            return f"{name}:{frame.name}"
    return "?"


def is_clear_refusal(err):
    return isinstance(err, (nba.TransformError, nba.AliasError)) and re.search(r"line \d+", str(err))


def classify_exception(err, where):
    if is_clear_refusal(err):
        return Result("REFUSAL", f"{type(err).__name__}: {normalise(str(err))}", str(err))
    detail = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    kind = type(err).__name__
    if isinstance(err, (nba.TransformError, nba.AliasError)):
        return Result("CRASH", f"{kind} naming no line: {normalise(str(err))}", detail)
    return Result("CRASH", f"{kind} in {where} at {innermost_frame(err)}: {normalise(str(err))}", detail)


def copy_args(args):
    return gradcheck.deep_copy_args(args)


def equal_trees(a, b):
    try:
        gradcheck.assert_bitwise_equal(a, b)
        return True
    except AssertionError:
        return False


def placements(sites, seed):
    rng = random.Random(seed)
    mix = {site: rng.random() < 0.5 for site in sites}
    return [("default", None), ("all checkpointed", dict.fromkeys(sites, True)),
            ("all split", dict.fromkeys(sites, False)), ("random mix", mix)]


def run_primal(module):
    args = copy_args(module.ARGS)
    value = module.main(*args)
    return value, args


class Timeout(Exception):
    """A program ran longer than the oracle's limit."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise Timeout in the main thread after ``seconds`` (no limit off the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise Timeout(f"no result after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_program(source, folder, autograd=False, seconds=20, types=True):
    """Classify ``source`` (a module with main, ARGS, ARGNUMS), within ``seconds``; with
    ``types``, also with the float argument given as a 0-d array and as np.float64."""
    try:
        with time_limit(seconds):
            return _check_program(source, folder, autograd, types)
    except Timeout as err:
        return Result("CRASH", f"timeout: {err}", "")


def _check_program(source, folder, autograd, types):
    try:
        module = load(source, folder)
        with time_limit(2):         # the generated programs are small: a slow primal loops forever
            value, after = run_primal(module)
        if not np.isfinite(gradcheck._as_scalar(value, "main")):
            return Result("INVALID", "primal not finite", repr(value))
    except Exception as err:          # the generated program itself is broken
        return Result("INVALID", f"primal raises {type(err).__name__}: {normalise(str(err))}",
                      traceback.format_exc())
    primal_mutates = not equal_trees(after, module.ARGS)
    argnums = module.ARGNUMS

    try:
        sites = nba.call_sites(module.main)
    except Exception as err:
        return classify_exception(err, "call_sites")

    outcomes = []
    for label, placement in placements(sites, program_hash(source)):
        args = copy_args(module.ARGS)
        try:
            got = nba.value_and_grad(module.main, argnums, placement=placement)(*args)
        except Exception as err:
            outcomes.append((label, classify_exception(err, "grad"), None, args))
            continue
        outcomes.append((label, None, got, args))

    results = [o[1] for o in outcomes]
    if all(r is not None for r in results):
        kinds = {r.outcome for r in results}
        if kinds == {"REFUSAL"}:
            return results[0]
        crash = next(r for r in results if r.outcome == "CRASH")
        return crash
    if any(r is not None for r in results):
        bad = next((label, r) for label, r, _, _ in outcomes if r is not None)
        good = next(label for label, r, _, _ in outcomes if r is None)
        if bad[1].outcome == "CRASH":
            return Result("CRASH", f"only under some placements: {bad[1].signature}",
                          f"placement {bad[0]!r} fails, {good!r} runs:\n{bad[1].detail}")
        return Result("WRONG", f"placement changes the outcome: {bad[1].signature}",
                      f"placement {bad[0]!r} refuses, {good!r} runs:\n{bad[1].detail}")

    reference_label, _, (ref_value, ref_grad), _ = outcomes[0]
    for label, _, (v, g), args in outcomes:
        if not equal_trees((v, g), (ref_value, ref_grad)):
            return Result("WRONG", "placement changes the gradient",
                          _diff_text(g, ref_grad, f"placement {label!r} vs {reference_label!r}"))
        if not primal_mutates and not equal_trees(args, module.ARGS):
            return Result("WRONG", "input mutated although the primal does not",
                          _diff_text(args, module.ARGS, f"args after grad under {label!r}"))
        if primal_mutates and not (equal_trees(args, module.ARGS) or equal_trees(args, after)):
            return Result("WRONG", "input left in a state the primal does not leave",
                          _diff_text(args, after, f"args after grad under {label!r}"))
    if not float(ref_value) == float(value):
        return Result("WRONG", "value differs from the primal's",
                      f"value_and_grad value {ref_value!r}, primal {value!r}")
    result = _compare_references(module, argnums, ref_grad, autograd)
    if result.outcome == "OK" and types:
        return _check_input_types(module, argnums, ref_value, ref_grad) or result
    return result


def scalar_variants(args):
    """The same inputs with the float given as a 0-d array and as np.float64, and a list of
    floats given as np.float64 entries: the gradient must not change."""
    first, second = args[0], args[1] if len(args) > 1 else None
    if not isinstance(second, float):
        return []
    out = [("the float as a 0-d array", (first, np.array(second)) + tuple(args[2:])),
           ("the float as np.float64", (first, np.float64(second)) + tuple(args[2:]))]
    if isinstance(first, list) and all(isinstance(t, float) for t in first):
        out.append(("list entries as np.float64", ([np.float64(t) for t in first],) + tuple(args[1:])))
    return out


def _plain(tree):
    """Gradients as float arrays, for comparing a 0-d array's gradient with a float's."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(_plain(t) for t in tree)
    if isinstance(tree, dict):
        return {k: _plain(v) for k, v in tree.items()}
    return None if tree is None else np.asarray(tree, dtype=float)


def _check_input_types(module, argnums, ref_value, ref_grad):
    """None when every variant of the inputs' types gives the same value and gradient (or a
    clear refusal); else the WRONG / CRASH result."""
    for label, variant in scalar_variants(module.ARGS):
        primal_args = copy_args(variant)
        try:
            value = module.main(*primal_args)
        except Exception:
            continue                       # the program itself does not take this type
        args = copy_args(variant)
        try:
            got_value, got = nba.value_and_grad(module.main, argnums)(*args)
        except Exception as err:
            result = classify_exception(err, f"grad with {label}")
            if result.outcome == "REFUSAL":
                continue
            return result
        if not np.isclose(float(got_value), float(value), rtol=1e-12, atol=0.0):
            return Result("WRONG", f"value differs from the primal's with {label}",
                          f"value_and_grad value {got_value!r}, primal {value!r}")
        if _writes_into_its_argument(primal_args, variant):
            # the program writes into the 0-d array (`s -= ...`): another function than with a float,
            # whose gradient is checked against its own finite differences
            problem = _against_finite_differences(module, argnums, got, variant)
            if problem:
                return Result("WRONG", f"gradient differs from finite differences with {label}", problem)
            continue
        try:
            gradcheck.compare_gradients(_plain(got), _plain(ref_grad), f"gradient with {label}", 1e-9, 1e-12,
                                        expected_name="with plain floats")
        except AssertionError as err:
            return Result("WRONG", f"gradient changes with {label}", str(err))
        except Exception as err:
            return Result("CRASH", f"gradient of another structure with {label}: {type(err).__name__}", str(err))
    return None


def _writes_into_its_argument(called, variant) -> bool:
    """Did the primal change the 0-d array it was given (``called`` after the call, ``variant``
    as it was)?"""
    return any(isinstance(a, np.ndarray) and a.ndim == 0 and not np.array_equal(a, b)
               for a, b in zip(called, variant))


def _against_finite_differences(module, argnums, grads, args):
    """The text of the differences between ``grads`` and central finite differences at ``args``
    (empty when they agree)."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    grads = (grads,) if isinstance(argnums, int) else grads
    problems = []
    for num, got in zip(nums, grads):
        expected, noise = gradcheck.finite_difference_gradient(module.main, args, num)
        try:
            gradcheck.compare_gradients(_plain(got), _plain(expected), f"d main / d args[{num}]", RTOL, ATOL,
                                        noise, expected_name="finite differences")
        except AssertionError as err:
            problems.append(str(err))
    return "\n".join(problems)


def _diff_text(actual, expected, label):
    try:
        gradcheck.assert_bitwise_equal(actual, expected, label)
    except AssertionError as err:
        return str(err)
    return label


def _compare_references(module, argnums, grads, autograd):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    grads = (grads,) if isinstance(argnums, int) else grads
    fd_problems, notes, failing = [], [], []
    for num, got in zip(nums, grads):
        expected, noise = gradcheck.finite_difference_gradient(module.main, module.ARGS, num)
        try:
            gradcheck.compare_gradients(got, expected, f"d main / d args[{num}]", RTOL, ATOL, noise,
                                        expected_name="finite differences")
        except AssertionError as err:
            fd_problems.append(str(err))
            failing.append((num, got))
    ag_agrees = None
    if autograd:
        ag_agrees, ag_text = _autograd_agrees(module, nums, grads)
        if ag_agrees is not None:
            notes.append(f"autograd {'agrees' if ag_agrees else 'disagrees'}")
    if not fd_problems:
        return Result("OK", notes=notes)
    if ag_agrees:
        # nbadjoint matches autograd, not finite differences: the program is not smooth enough
        return Result("INVALID", "finite differences unreliable (autograd agrees with nbadjoint)",
                      "\n".join(fd_problems))
    if ag_agrees is None and not _fd_stable(module, failing):
        return Result("INVALID", "finite differences unreliable (they change with the step)",
                      "\n".join(fd_problems))
    text = "\n".join(fd_problems) + (f"\nautograd: {ag_text}" if autograd and ag_agrees is False else "")
    return Result("WRONG", "gradient differs from finite differences", text, notes)


def _fd_stable(module, failing):
    """False when finite differences with a 4x smaller step agree with nbadjoint, or disagree
    with the first estimate: then they are no reliable reference for this program."""
    original = gradcheck.STEP_REL

    def agree(a, b, rtol, noise):
        try:
            gradcheck.compare_gradients(a, b, "gradient", rtol, ATOL, noise)
            return True
        except AssertionError:
            return False
    try:
        for num, got in failing:
            coarse, noise = gradcheck.finite_difference_gradient(module.main, module.ARGS, num)
            gradcheck.STEP_REL = original / 4
            fine, fine_noise = gradcheck.finite_difference_gradient(module.main, module.ARGS, num)
            gradcheck.STEP_REL = original
            if agree(got, fine, RTOL, fine_noise) or not agree(fine, coarse, RTOL, fine_noise):
                return False
        return True
    finally:
        gradcheck.STEP_REL = original


def _autograd_agrees(module, nums, grads):
    """(True/False, text), or (None, why) where autograd cannot run the program."""
    import autograd
    try:
        namespace = gradcheck.autograd_namespace(module)
        references = [autograd.grad(namespace["main"], num)(*copy_args(module.ARGS)) for num in nums]
    except Exception as err:
        return None, f"{type(err).__name__}: {err}"
    problems = []
    for num, got, ref in zip(nums, grads, references):
        expected = module.ARGS[num]
        for path, leaf in gradcheck.iter_leaves(module.ARGS[num]):
            value = gradcheck.get_leaf(ref, path) if gradcheck.is_float_leaf(leaf) else None
            expected = gradcheck.replace_leaf(expected, path, value)
        try:
            gradcheck.compare_gradients(got, expected, f"d main / d args[{num}]", 1e-7, 1e-9,
                                        expected_name="autograd")
        except AssertionError as err:
            problems.append(str(err))
        except Exception as err:           # autograd returned a structure we cannot compare
            return None, f"{type(err).__name__}: {err}"
    return not problems, "\n".join(problems)
