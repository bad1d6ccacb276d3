"""Gradient checking helpers shared by the test suite.

- ``check_grad``: nbadjoint's gradient against fourth-order central finite differences.
- ``check_vjp``: nbadjoint's vector-Jacobian product against finite differences of <cotangent, f>.
- ``check_against_autograd``: nbadjoint's gradient against autograd running the very same source,
  with the module's ``np`` rebound to ``autograd.numpy``.
- ``assert_bitwise_equal`` / ``assert_not_mutated``: exact comparisons of nested structures.

Arguments and gradients are nested tuples / lists / dicts whose leaves are floats, NumPy arrays,
integers or booleans. Float leaves are differentiated; integer and boolean leaves get ``None``.
Every failure message names the argument, the path inside it and the array entry.
"""

import builtins
import copy
import inspect

import numpy as np

EPS = np.finfo(np.float64).eps
# Relative step of the 5-point stencil: truncation error ~ h**4, rounding error ~ EPS / h.
STEP_REL = 5e-4
# Largest number of entries listed in one failure message.
MAX_REPORTED = 8


# --------------------------------------------------------------------------- nested structures

def is_float_leaf(x):
    """True for values that carry a gradient: floats and floating-point arrays."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (float, np.floating)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def iter_leaves(tree, path=()):
    """Yield (path, leaf) pairs in a deterministic order; a path is a tuple of keys/indices."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from iter_leaves(value, path + (key,))
    elif isinstance(tree, (tuple, list)):
        for i, value in enumerate(tree):
            yield from iter_leaves(value, path + (i,))
    else:
        yield path, tree


def replace_leaf(tree, path, value):
    """Copy of ``tree`` (containers only; leaves shared) with the leaf at ``path`` replaced."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        out[head] = replace_leaf(tree[head], rest, value)
        return out
    items = list(tree)
    items[head] = replace_leaf(tree[head], rest, value)
    return items if isinstance(tree, list) else tuple(items)


def get_leaf(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def describe(label, path, index=None):
    """Human-readable location, e.g. ``args[0]['w'][1]  entry (2, 3)``."""
    text = label + "".join(f"[{key!r}]" for key in path)
    if index is not None and index != ():
        text += f" entry {index if len(index) > 1 else index[0]}"
    return text


# --------------------------------------------------------------------------- exact comparisons

def assert_same_structure(actual, expected, label):
    """``actual`` must have the container structure of ``expected`` (types, lengths, keys)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{label}: expected a dict, got {type(actual).__name__}"
        assert list(actual.keys()) == list(expected.keys()), (
            f"{label}: dict keys {list(actual.keys())} differ from {list(expected.keys())}")
        for key in expected:
            assert_same_structure(actual[key], expected[key], f"{label}[{key!r}]")
    elif isinstance(expected, (tuple, list)):
        kind = type(expected).__name__
        assert isinstance(actual, type(expected)), (
            f"{label}: expected a {kind} of length {len(expected)}, got {type(actual).__name__}")
        assert len(actual) == len(expected), (
            f"{label}: expected a {kind} of length {len(expected)}, got length {len(actual)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_structure(a, e, f"{label}[{i}]")


def _leaf_bits_equal(a, b):
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


def assert_bitwise_equal(actual, expected, label="value"):
    """Nested structures equal entry for entry (np.array_equal), with equal shapes and dtypes."""
    assert_same_structure(actual, expected, label)
    for path, e in iter_leaves(expected):
        a = get_leaf(actual, path)
        if _leaf_bits_equal(a, e):
            continue
        where = describe(label, path)
        if a is None or e is None:
            raise AssertionError(f"{where}: got {a!r}, expected {e!r}")
        a_arr, e_arr = np.asarray(a), np.asarray(e)
        if a_arr.shape != e_arr.shape or a_arr.dtype != e_arr.dtype:
            raise AssertionError(f"{where}: got shape {a_arr.shape} dtype {a_arr.dtype}, "
                                 f"expected shape {e_arr.shape} dtype {e_arr.dtype}")
        diff = np.argwhere(~((a_arr == e_arr) | (np.isnan(a_arr) & np.isnan(e_arr)))
                           if a_arr.dtype.kind in "fc" else a_arr != e_arr)
        lines = [f"{where}: {len(diff)} of {e_arr.size} entries differ"]
        for idx in diff[:MAX_REPORTED]:
            idx = tuple(int(i) for i in idx)
            av, ev = a_arr[idx], e_arr[idx]
            lines.append(f"  entry {idx}: got {av.item()!r}, expected {ev.item()!r} "
                         f"(difference {(av - ev).item()!r})")
        raise AssertionError("\n".join(lines))


def deep_copy_args(args):
    return copy.deepcopy(args)


def assert_not_mutated(before, after, label="args"):
    """Arguments compared with the deep copy taken before the call."""
    try:
        assert_bitwise_equal(after, before, label)
    except AssertionError as err:
        raise AssertionError(f"an input was modified in place by the call:\n{err}") from None


# --------------------------------------------------------------------------- finite differences

def _as_scalar(value, what):
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} must return a scalar float, got {type(value).__name__} "
                        f"with shape {arr.shape}; use check_vjp for vector-valued functions")
    return float(arr)


def _stencil(phi, x0):
    """Derivative of the scalar function phi at x0, and an estimate of its rounding error."""
    h = STEP_REL * max(1.0, abs(x0))
    f_p1, f_m1 = phi(x0 + h), phi(x0 - h)
    f_p2, f_m2 = phi(x0 + 2 * h), phi(x0 - 2 * h)
    deriv = (8.0 * (f_p1 - f_m1) - (f_p2 - f_m2)) / (12.0 * h)
    scale = max(abs(f_p1), abs(f_m1), abs(f_p2), abs(f_m2))
    noise = 1.5 * EPS * scale / h
    return deriv, noise


def finite_difference_gradient(fun, args, argnum):
    """Gradient of the scalar ``fun(*args)`` with respect to ``args[argnum]``.

    Returns (gradient, noise): both shaped like ``args[argnum]`` with None at integer leaves; noise
    is the estimated rounding error of each entry.
    """
    arg = args[argnum]

    def evaluate(new_arg):
        call_args = list(deep_copy_args(args))
        call_args[argnum] = new_arg
        return _as_scalar(fun(*call_args), getattr(fun, "__name__", "function"))

    grad, noise = arg, arg
    for path, leaf in iter_leaves(arg):
        if not is_float_leaf(leaf):
            grad = replace_leaf(grad, path, None)
            noise = replace_leaf(noise, path, None)
            continue
        if isinstance(leaf, np.ndarray):
            g = np.zeros(leaf.shape)
            n = np.zeros(leaf.shape)
            for idx in np.ndindex(*leaf.shape):
                def phi(t, idx=idx, path=path, leaf=leaf):
                    moved = leaf.copy()
                    moved[idx] = t
                    return evaluate(replace_leaf(arg, path, moved))
                g[idx], n[idx] = _stencil(phi, float(leaf[idx]))
        else:
            def phi(t, path=path, leaf=leaf):
                return evaluate(replace_leaf(arg, path, type(leaf)(t)))
            g, n = _stencil(phi, float(leaf))
        grad = replace_leaf(grad, path, g)
        noise = replace_leaf(noise, path, n)
    return grad, noise


# --------------------------------------------------------------------------- tolerant comparison

def compare_gradients(actual, expected, label, rtol, atol, noise=None,
                      actual_name="nbadjoint", expected_name="reference"):
    """Raise AssertionError listing every entry where |actual - expected| > tolerance.

    ``expected`` fixes the structure: float leaves must come back as arrays of the same shape (or
    scalars for float arguments); None leaves (integer arguments) must come back as None.
    """
    assert_same_structure(actual, expected, label)
    problems = []
    for path, e in iter_leaves(expected):
        a = get_leaf(actual, path)
        where = describe(label, path)
        if e is None:
            if a is not None:
                problems.append(f"{where}: integer/boolean input must get no gradient (None), "
                                f"got {a!r}")
            continue
        if a is None:
            problems.append(f"{where}: got None, expected a gradient like {np.asarray(e)!r}")
            continue
        a_arr, e_arr = np.asarray(a, dtype=float), np.asarray(e, dtype=float)
        if a_arr.shape != e_arr.shape:
            problems.append(f"{where}: gradient has shape {a_arr.shape}, the input has shape "
                            f"{e_arr.shape}")
            continue
        n_arr = np.zeros(e_arr.shape) if noise is None else np.asarray(get_leaf(noise, path))
        tol = atol + rtol * np.abs(e_arr) + 10.0 * n_arr
        err = np.abs(a_arr - e_arr)
        bad = ~(err <= tol)          # also catches NaN
        if not bad.any():
            continue
        bad_idx = [tuple(int(i) for i in idx) for idx in np.argwhere(bad)]
        bad_idx.sort(key=lambda idx: -float(np.nan_to_num(err[idx] - tol[idx], nan=np.inf)))
        problems.append(f"{where}: {len(bad_idx)} of {e_arr.size} entries differ")
        for idx in bad_idx[:MAX_REPORTED]:
            entry = f"entry {idx if len(idx) > 1 else idx[0]}" if idx else "value"
            problems.append(f"  {entry}: {actual_name} {float(a_arr[idx])!r}, {expected_name} "
                            f"{float(e_arr[idx])!r}, |difference| {err[idx]:.3e} > tolerance "
                            f"{tol[idx]:.3e}")
    if problems:
        raise AssertionError("\n".join(problems))


def _normalise_argnums(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _default_grad():
    import nbadjoint
    return nbadjoint.grad


# --------------------------------------------------------------------------- placements, lines

PLACEMENTS = ["default", "split"]       # every call checkpointed (None), every call split


def all_split(f):
    """The placement splitting every call site of ``f``."""
    import nbadjoint
    return {site: False for site in nbadjoint.call_sites(f)}


def placement_of(f, which):
    """The placement named by ``which``, one of PLACEMENTS."""
    return None if which == "default" else all_split(f)


def source_line(fn, text):
    """The line number of the first line of ``fn``'s source holding ``text``."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, line in enumerate(lines) if text in line)


# --------------------------------------------------------------------------- public checks

def check_grad(f, args, argnums=0, rtol=1e-6, atol=1e-8, placement=None, grad=None):
    """Assert that ``grad(f, argnums, placement)(*args)`` matches central finite differences.

    ``f`` is scalar-valued; ``args`` is the tuple of positional arguments; ``grad`` defaults to
    ``nbadjoint.grad``. Returns the gradient(s) as computed, for further checks.
    """
    args = tuple(args)
    grad = grad or _default_grad()
    nums = _normalise_argnums(argnums)
    result = grad(f, argnums=argnums, placement=placement)(*deep_copy_args(args))
    results = (result,) if isinstance(argnums, int) else result
    name = getattr(f, "__name__", "f")
    if not isinstance(argnums, int):
        assert isinstance(results, tuple) and len(results) == len(nums), (
            f"grad({name}, argnums={argnums}) must return a tuple of {len(nums)} gradients, "
            f"got {type(results).__name__}")
    failures = []
    for num, got in zip(nums, results):
        expected, noise = finite_difference_gradient(f, args, num)
        try:
            compare_gradients(got, expected, f"d {name} / d args[{num}]", rtol, atol, noise,
                              expected_name="finite differences")
        except AssertionError as err:
            failures.append(str(err))
    if failures:
        raise AssertionError("\n".join(failures))
    return result


def check_vjp(f, args, cotangent, rtol=1e-6, atol=1e-8, placement=None, vjp=None):
    """Assert that ``vjp(f, *args)`` returns the primal output exactly and a pullback whose
    result, for ``cotangent``, matches finite differences of <cotangent, f(*args)>.

    The pullback must return one entry per positional argument (None for integer arguments).
    """
    args = tuple(args)
    if vjp is None:
        import nbadjoint
        vjp = nbadjoint.vjp
    name = getattr(f, "__name__", "f")
    out, pullback = vjp(f, *deep_copy_args(args), placement=placement)
    assert_bitwise_equal(out, f(*deep_copy_args(args)), f"vjp({name}) primal output")
    cts = pullback(deep_copy_args(cotangent))
    assert isinstance(cts, tuple) and len(cts) == len(args), (
        f"the pullback of {name} must return a tuple with one entry per positional argument "
        f"({len(args)}), got {type(cts).__name__}"
        + (f" of length {len(cts)}" if isinstance(cts, (tuple, list)) else ""))

    def inner(*call_args):
        value = f(*call_args)
        assert_same_structure(value, cotangent, f"output of {name}")
        return sum(float(np.sum(np.asarray(c) * np.asarray(get_leaf(value, p))))
                   for p, c in iter_leaves(cotangent))

    inner.__name__ = f"<cotangent, {name}>"
    failures = []
    for num in range(len(args)):
        expected, noise = finite_difference_gradient(inner, args, num)
        try:
            compare_gradients(cts[num], expected, f"pullback of {name}, args[{num}]", rtol, atol,
                              noise, expected_name="finite differences")
        except AssertionError as err:
            failures.append(str(err))
    if failures:
        raise AssertionError("\n".join(failures))
    return out, cts


_AUTOGRAD_NAMESPACES = {}


def autograd_namespace(module):
    """The module's source executed afresh, with ``np`` rebound to ``autograd.numpy``.

    Corpus functions look ``np`` up in their module globals at call time, so the re-executed copy
    runs the same code on autograd's traced arrays.
    """
    key = module.__name__
    if key not in _AUTOGRAD_NAMESPACES:
        import autograd.numpy as anp
        source = inspect.getsource(module)
        namespace = {"__name__": module.__name__ + "__autograd", "__file__": module.__file__,
                     "__package__": module.__package__, "__builtins__": builtins}
        exec(compile(source, module.__file__, "exec"), namespace)
        namespace["np"] = anp
        _AUTOGRAD_NAMESPACES[key] = namespace
    return _AUTOGRAD_NAMESPACES[key]


def check_against_autograd(f_source_module, name, args, argnums=0, rtol=1e-9, atol=1e-12,
                           placement=None, grad=None):
    """Assert that nbadjoint's gradient of ``f_source_module.<name>`` matches autograd's gradient
    of the same source. Integer leaves must get None from nbadjoint and are not compared."""
    import autograd

    args = tuple(args)
    grad = grad or _default_grad()
    f = getattr(f_source_module, name)
    ag_f = autograd_namespace(f_source_module)[name]
    nums = _normalise_argnums(argnums)
    result = grad(f, argnums=argnums, placement=placement)(*deep_copy_args(args))
    results = (result,) if isinstance(argnums, int) else result
    failures = []
    for num, got in zip(nums, results):
        reference = autograd.grad(ag_f, num)(*deep_copy_args(args))
        expected = args[num]
        for path, leaf in iter_leaves(args[num]):
            value = get_leaf(reference, path) if is_float_leaf(leaf) else None
            expected = replace_leaf(expected, path, value)
        try:
            compare_gradients(got, expected, f"d {name} / d args[{num}]", rtol, atol,
                              expected_name="autograd")
        except AssertionError as err:
            failures.append(str(err))
    if failures:
        raise AssertionError("\n".join(failures))
    return result
