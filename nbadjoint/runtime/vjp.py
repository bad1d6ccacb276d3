"""Runtime helpers called by generated adjoint code (imported there as ``_vjp``).

Every helper is a pure function of its arguments: it never writes into them, and it returns
either a new array or (documented below) a view of the cotangent ``g``. Python floats go through
fast scalar paths, so scalar adjoint code stays cheap.

Conventions shared with the derivative rules in ``nbadjoint.transform.rules``:

- a *shape marker* is ``shape_of(x)``: ``None`` for a Python or NumPy scalar, ``x.shape`` for an
  array, and a list of markers for a list or tuple (one per element). Rules that only need an
  argument's shape read ``_vjp.shape_of(x)``, so only the marker has to be kept on the tape;
- ``g`` is the cotangent (adjoint) of the primitive's result, ``ans`` its result value;
- at ties, ``max``/``min`` style derivatives are split equally between the tied entries.
"""

import math

import numpy as np

_ndarray = np.ndarray
_float = float


def shape_of(x):
    """Shape marker of x: None for scalars, x.shape for arrays, a list of markers for lists/tuples."""
    t = type(x)
    if t is _ndarray:
        return x.shape
    if t is _float or t is int:
        return None
    if t is list or t is tuple:
        return [shape_of(e) for e in x]
    if isinstance(x, np.generic) or np.ndim(x) == 0:
        return None
    return np.shape(x)


def unbroadcast(x_b, shape):
    """Sum a broadcast contribution x_b back to an argument's shape marker (None: a scalar).

    A ``SeqSpan`` marker (an operand of list/tuple ``+`` or ``*``) takes the operand's part of the
    result's adjoint list instead."""
    if shape is None:
        if type(x_b) is _ndarray:
            return x_b.sum()
        return x_b
    if type(shape) is SeqSpan:
        return shape.take(x_b)
    if isinstance(x_b, (list, tuple)):
        raise TypeError(_SEQ_OP_MESSAGE)
    x_shape = x_b.shape if type(x_b) is _ndarray else np.shape(x_b)
    if x_shape == shape:
        return x_b
    extra = len(x_shape) - len(shape)
    if extra > 0:
        x_b = np.sum(x_b, axis=tuple(range(extra)))
        x_shape = x_shape[extra:]
    if len(x_shape) == len(shape):
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and x_shape[i] != 1)
        if axes:
            x_b = np.sum(x_b, axis=axes, keepdims=True)
    if np.shape(x_b) != shape:
        x_b = np.broadcast_to(x_b, shape).copy()
    return x_b


# ----- list and tuple concatenation (`+`) and repetition (`*`) -----

_SEQ_OP_MESSAGE = (
    "the adjoint cannot tell which part of a list or tuple built with `+` (concatenation) or `*` "
    "(repetition) came from which operand here; build the sequence with a comprehension or "
    "`.append`, or use NumPy arrays and np.concatenate / np.tile")


class AdjointList(list):
    """The adjoint of a list or tuple operand of ``+`` / ``*``: a list whose ``+`` adds entry by
    entry, as adjoints add (a plain list's ``+`` would concatenate), whichever side it is on."""

    __slots__ = ()

    def __add__(self, other):
        return AdjointList(map(_add_adjoints, self, other))

    __radd__ = __add__

    def __iadd__(self, other):
        return self.__add__(other)


def _add_adjoints(a, b):
    """a + b for adjoints: None is zero; lists and tuples add entry by entry."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (list, tuple)):
        return AdjointList(map(_add_adjoints, a, b))
    return a + b


class SeqSpan:
    """Where a list/tuple operand ``x`` sits in the result of ``+`` or ``*``: the marker ``bshape``
    keeps for it.  Found by identity: the result holds x's very items at ``offsets``."""

    __slots__ = ("n", "total", "offsets")

    def __init__(self, n, total, offsets):
        self.n, self.total, self.offsets = n, total, offsets

    def take(self, c, side=None):
        """The operand's adjoint from c: the result's adjoint (``a + b``; ``side`` "l" / "r" when
        known), or that adjoint repeated k times (the rule of ``x * k`` gives ``g * k``)."""
        n, total = self.n, self.total
        if not isinstance(c, (list, tuple)):
            raise TypeError(_SEQ_OP_MESSAGE)
        if len(c) == total:                      # concatenation: a + b
            ends = [p for p in self.offsets if p in (0, total - n)]
            if side is not None:
                ends = [0 if side == "l" else total - n]
            if len(ends) != 1:
                raise TypeError(_SEQ_OP_MESSAGE)
            return AdjointList(c[ends[0]:ends[0] + n])
        k = total // n if n > 0 else 0
        if n > 0 and total == k * n and len(c) == total * k and \
                all(p in self.offsets for p in range(0, total, n)):
            parts = c[:total]                    # repetition: x * k, the contribution is g * k
            return AdjointList(_sum_adjoints(parts[i::n]) for i in range(n))
        raise TypeError(_SEQ_OP_MESSAGE)


def seq_cast_grad(g, shape):
    """Adjoint of list(x) / tuple(x) for x with this shape marker: g's entries, as a list for a
    list or tuple x, as an array (zeros where an entry got no adjoint) for an array x; none for
    anything else (the keys of a dict)."""
    if g is None or shape is None:
        return None
    if type(shape) is list:
        return list(g)
    rows = shape[1:]
    return np.array([np.zeros(rows) if e is None else e for e in g], dtype=_adjoint_dtype_of(g)).reshape(shape)


def sorted_grad(g, x, reverse=False):
    """Adjoint of sorted(x, reverse=reverse): g's entries sent back to the positions they were taken
    from (sorted is stable, so the order is found again from x), in x's form (see seq_cast_grad)."""
    if g is None or type(x) not in (list, tuple, _ndarray):
        return None
    items = list(x)
    out = [None] * len(items)
    for k, i in enumerate(sorted(range(len(items)), key=items.__getitem__, reverse=reverse)):
        out[i] = g[k]
    return seq_cast_grad(out, shape_of(x))


def dict_grad(g, mapping):
    """Adjoint of dict(mapping), a copy of a dict: g itself (keys that got no adjoint are missing)."""
    if g is None:
        return None
    if type(mapping) is not dict:
        raise TypeError("dict(...) of anything but a dict has no derivative rule; build the dict with a literal "
                        "{key: value, ...}")
    return g


def check_list_repeat(count, name):
    """``name *= count`` on a list: a count below 1 would empty it in place, which is not supported."""
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise TypeError(f"`{name} *= {count!r}` on a list: only a repetition count of 1 or more is supported in "
                        f"place; write `{name} = {name} * {count!r}` for a new list")


def check_not_list(value, text):
    """``text`` (``a += b`` or ``a *= k``) on a parameter ``a``: a list passed in would be changed in
    place, which the caller sees; the differentiated code grows only its own lists in place."""
    if value.__class__ is list:
        name = text.split()[0]
        raise TypeError(f"`{text}` changes the list passed in as `{name}` in place, which is not supported; "
                        f"write `{name}.extend(...)` for a list grown in place, or `{name} = {text.replace('=', '', 1)}` "
                        "for a new list")


def reversed_items(seq):
    """reversed(seq) as a list (a sequence the differentiated code can index): seq[::-1] for a list,
    the items of a tuple or array in reverse order, list(reversed(seq)) for anything else."""
    if type(seq) is list:
        return seq[::-1]
    return list(reversed(seq))


def reversed_grad(g, shape):
    """Adjoint of reversed_items(seq) for seq with this shape marker: g reversed, in seq's form."""
    if g is None or shape is None or (type(shape) is not list and not shape):
        return None
    return seq_cast_grad(list(g)[::-1], shape)


def _adjoint_dtype_of(items):
    """float64, or complex128 when an entry is complex."""
    return np.complex128 if any(_is_complex(e) for e in items) else np.float64


def ub_seq(c, marker, side):
    """ub for an operand of ``+`` (``side`` "l" / "r"): a list or tuple operand's part of the
    result's adjoint, else c summed back to the operand's shape marker (from bshape)."""
    if marker is None:
        return c
    if type(marker) is SeqSpan:
        return marker.take(c, side)
    return unbroadcast(c, None if marker == () else marker)


def ubl_seq(c, x, side):
    """Contribution c of an operand x of ``+`` or ``*`` (``side``: "l" / "r" of +, or "*"), the
    operand kept: for lists and tuples, x's part of the result's adjoint (concatenation) or the sum
    of its copies (repetition, where the rule's ``g * k`` repeats the adjoint k times); otherwise c
    summed back to x's shape."""
    tc, tx = type(c), type(x)
    if isinstance(c, (list, tuple)) and (tx is list or tx is tuple):
        n = len(x)
        if side == "l":
            return AdjointList(c[:n])
        if side == "r":
            return AdjointList(c[len(c) - n:])
        k = math.isqrt(len(c) // n) if n else 0
        if n and n * k * k == len(c):
            total = n * k
            return AdjointList(_sum_adjoints(c[i:total:n]) for i in range(n))
        raise TypeError(_SEQ_OP_MESSAGE)
    if tc is _float:
        return c
    sx = x.shape if tx is _ndarray else np.shape(x)
    sc = c.shape if tc is _ndarray else np.shape(c)
    if sc == sx:
        return c
    return unbroadcast(c, None if sx == () else sx)


def _sum_adjoints(items):
    """Sum of the adjoints in items that are not None (None when all are)."""
    total = None
    for item in items:
        if item is not None:
            total = item if total is None else total + item
    return total


def seq_marker(x, result):
    """Marker of operand x of a list/tuple ``+`` or ``*`` with this result (see SeqSpan); None when
    x is the whole result; an int repetition count gets a marker it cannot use (it has no adjoint)."""
    if type(x) is not list and type(x) is not tuple:
        return SeqSpan(-1, len(result), ())
    n, total = len(x), len(result)
    if n == total:
        return None
    if not n:
        return SeqSpan(0, total, ())
    candidates = sorted({0, total - n} | (set(range(0, total, n)) if total % n == 0 else set()))
    offsets = tuple(p for p in candidates if all(result[p + i] is x[i] for i in range(n)))
    return SeqSpan(n, total, offsets)


def zeros_like_adjoint(x):
    """A zero adjoint with x's structure: 0.0 for numbers, zero arrays, tuples/lists/dicts of them; None otherwise."""
    t = type(x)
    if t is _ndarray:
        if x.dtype.kind in "fc":
            return np.zeros_like(x)
        return np.zeros(x.shape)
    if t is tuple or t is list:
        return t(zeros_like_adjoint(e) for e in x)
    if t is dict:
        return {k: zeros_like_adjoint(v) for k, v in x.items()}
    if isinstance(x, (complex, np.complexfloating)):
        return 0j
    if isinstance(x, (int, float, np.number)):
        return 0.0
    return None


def cast_grad(x_b, dtype):
    """Adjoint through a cast to dtype: x_b itself for complex dtypes (or None), its real part for
    real floating dtypes (a complex argument loses its imaginary part), else zero."""
    if dtype is None:
        return x_b
    kind = np.dtype(dtype).kind
    if kind == "c":
        return x_b
    if kind == "f":
        return real_adjoint(x_b)
    return zeros_like_adjoint(x_b)


# ----- elementwise helpers -----


def div(a, b):
    """a / b with NumPy's float semantics: where b is a Python number equal to 0, inf or nan (and
    NumPy's warning), as the primal computed in NumPy gave, never ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        return np.true_divide(a, b)


def pow(a, b):
    """a ** b with NumPy's float semantics: inf where a Python 0 is raised to a negative power."""
    try:
        return a ** b
    except ZeroDivisionError:
        return np.float_power(a, b)


def floordiv(a, b):
    """a // b with NumPy's float semantics: nan where b is a Python-number 0."""
    try:
        return a // b
    except ZeroDivisionError:
        return np.floor_divide(np.float64(a), b)


def sign(x):
    """Sign of x (0 at 0): Python arithmetic for floats, np.sign for arrays."""
    if type(x) is _float:
        return (x > 0.0) - (x < 0.0)
    return np.sign(x)


def abs_grad(g, x):
    """Contribution of |x| to x: g sign(x) (0 at 0); for complex x, Re(g) conj(x) / |x| (0 at 0),
    autograd's convention (the cotangent of the real |x| is real: its imaginary part is dropped)."""
    if type(x) is _float:
        return g * ((x > 0.0) - (x < 0.0))
    if not _is_complex(x):
        return g * np.sign(x)
    size = np.abs(x)
    zero = size == 0
    return np.real(g) * np.where(zero, 0.0, np.conj(x) / np.where(zero, 1.0, size))


def _is_complex(x):
    """Whether x is a complex number or array."""
    if type(x) is _ndarray:
        return x.dtype.kind == "c"
    return isinstance(x, (complex, np.complexfloating))


def real_adjoint(g):
    """The adjoint of a real value: g without the imaginary part complex contributions left in it."""
    if type(g) is _float or g is None:
        return g
    if _is_complex(g):
        return np.real(g) if type(g) is _ndarray else float(np.real(g))
    return g


def real_for(x_b, c):
    """Contribution c to the adjoint array x_b, real when x_b is: the adjoint of a real value is real,
    and what complex contributions leave in its imaginary part would not fit a real array."""
    if x_b.dtype.kind != "c" and _is_complex(c):
        return np.real(c)
    return c


def log_positive(x):
    """log(x) where x > 0 and 0 elsewhere: the exponent derivative of x ** y, finite for x <= 0;
    for complex x, log(x) (0 at 0)."""
    if type(x) is _float or type(x) is int:
        return np.log(x) if x > 0 else 0.0
    if _is_complex(x):
        nonzero = np.asarray(x) != 0
        return np.where(nonzero, np.log(np.where(nonzero, x, 1.0)), 0.0)
    x = np.asarray(x)
    positive = x > 0
    return np.where(positive, np.log(np.where(positive, x, 1.0)), 0.0)


def maximum_grad(g, a, b):
    """Contribution of max(a, b) to a: g where a > b, g / 2 at ties, 0 elsewhere."""
    if type(a) is _float and type(b) is _float:
        return g if a > b else (0.5 * g if a == b else 0.0 * g)
    return g * ((a > b) + 0.5 * (a == b))


def extremum_grad(g, ans, k, args):
    """Derivative of builtin max/min(*args) w.r.t. args[k]: shared equally among the tied arguments."""
    ties = sum(1 for a in args if a == ans)
    return g / ties if args[k] == ans else 0.0 * g


def extremum_seq_grad(g, ans, seq):
    """Derivative of builtin max/min(seq): g shared equally among the entries equal to the result,
    in seq's form (see seq_cast_grad)."""
    if type(seq) not in (list, tuple, _ndarray):
        return None
    items = list(seq)
    ties = sum(1 for t in items if t == ans)
    return seq_cast_grad([g / ties if t == ans else 0.0 * g for t in items], shape_of(seq))


def minimum_grad(g, a, b):
    """Contribution of min(a, b) to a: g where a < b, g / 2 at ties, 0 elsewhere."""
    if type(a) is _float and type(b) is _float:
        return g if a < b else (0.5 * g if a == b else 0.0 * g)
    return g * ((a < b) + 0.5 * (a == b))


def clip_grad(g, x, lo, hi):
    """Contribution of clip(x, lo, hi) to x: g where lo <= x <= hi (None bounds are open)."""
    inside = True
    if lo is not None:
        inside = np.greater_equal(x, lo)
    if hi is not None:
        inside = inside & np.less_equal(x, hi)
    return g * inside


def clip_bound_grad(g, x, bound, is_lower):
    """Contribution of clip(x, lo, hi) to the bound lo (is_lower) or hi: g where x is cut off by it."""
    return g * (np.less(x, bound) if is_lower else np.greater(x, bound))


# ----- reductions -----


def _axes(axis, ndim):
    """Normalised tuple of non-negative axes (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def _expand(g, shape, axis, keepdims):
    """g of a reduction over axis, reshaped so that it broadcasts against the input shape."""
    if keepdims or axis is None:
        return g
    if type(axis) is int:
        a = axis % len(shape)
        kept = shape[:a] + (1,) + shape[a + 1:]
    else:
        axes = _axes(axis, len(shape))
        kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return g.reshape(kept) if type(g) is _ndarray else np.reshape(g, kept)


def _count(shape, axis):
    """Number of entries a reduction over axis combines."""
    count = 1
    for a in _axes(axis, len(shape)):
        count *= shape[a]
    return count


def _array_shape(shape):
    """The shape of np.asarray(x) from x's shape marker (a list of markers for a (nested) list of
    numbers and arrays; None for a scalar)."""
    if type(shape) is list:
        return (len(shape),) + ((_array_shape(shape[0]) or ()) if shape else ())
    return shape


def sum_grad(g, shape, axis=None, keepdims=False):
    """Adjoint of np.sum(x, axis, keepdims) for x of the given shape marker: g spread over x."""
    shape = _array_shape(shape)
    if shape is None:
        return g
    out = np.empty(shape, dtype=_adjoint_dtype(g))
    out[...] = _expand(g, shape, axis, keepdims)
    return out


def _adjoint_dtype(g):
    """dtype of an adjoint array built from g: g's own for float/complex arrays, else float64."""
    if type(g) is _ndarray and g.dtype.kind in "fc":
        return g.dtype
    return np.complex128 if isinstance(g, (complex, np.complexfloating)) else np.float64


def mean_grad(g, shape, axis=None, keepdims=False):
    """Adjoint of np.mean(x, axis, keepdims): g spread over x, divided by the count averaged."""
    shape = _array_shape(shape)
    if shape is None:
        return g
    out = sum_grad(g, shape, axis, keepdims)
    out /= _count(shape, axis)
    return out


def var_grad(g, x, axis=None, ddof=0, keepdims=False):
    """Adjoint of np.var(x, axis, ddof=ddof, keepdims): 2 g (x - mean) / (n - ddof)."""
    if np.ndim(x) == 0:
        return 0.0 * g
    x = np.asarray(x)
    centred = x - np.mean(x, axis=axis, keepdims=True)
    if x.dtype.kind == "c":
        centred, g = np.conj(centred), np.real(g)
    return (2.0 / (_count(x.shape, axis) - ddof)) * _expand(g, x.shape, axis, keepdims) * centred


def std_grad(g, x, ans, axis=None, ddof=0, keepdims=False):
    """Adjoint of np.std(x, axis, ddof=ddof, keepdims): g (x - mean) / ((n - ddof) std), 0 where std is 0."""
    if np.ndim(x) == 0:
        return 0.0 * g
    x = np.asarray(x)
    safe = np.where(ans == 0, np.inf, ans)
    return var_grad(g, x, axis, ddof, keepdims) / (2.0 * _expand(safe, x.shape, axis, keepdims))


def max_grad(g, x, ans, axis=None, keepdims=False):
    """Adjoint of np.max(x, axis, keepdims): g goes to the maximal entries, split equally at ties."""
    if np.ndim(x) == 0:
        return g
    x = np.asarray(x)
    hit = x == _expand(ans, x.shape, axis, keepdims)
    count = np.sum(hit, axis=_axes(axis, x.ndim), keepdims=True)
    return _expand(g, x.shape, axis, keepdims) * hit / count


def min_grad(g, x, ans, axis=None, keepdims=False):
    """Adjoint of np.min(x, axis, keepdims): g goes to the minimal entries, split equally at ties."""
    return max_grad(g, x, ans, axis, keepdims)


def prod_grad(g, x, axis=None, keepdims=False):
    """Adjoint of np.prod(x, axis, keepdims): g times the product of the other entries (exact at zeros)."""
    if np.ndim(x) == 0:
        return g
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    k = len(axes)
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - k, x.ndim)))
    flat = moved.reshape(moved.shape[: x.ndim - k] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    g_kept = g if keepdims else np.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    g_moved = np.moveaxis(g_kept, axes, tuple(range(x.ndim - k, x.ndim)))
    g_flat = np.reshape(g_moved, g_moved.shape[: x.ndim - k] + (1,))
    out = (left * right * g_flat).reshape(moved.shape)
    return np.moveaxis(out, tuple(range(x.ndim - k, x.ndim)), axes)


def cumsum_grad(g, shape, axis=None):
    """Adjoint of np.cumsum(x, axis): reversed cumulative sum of g (flattened input when axis is None)."""
    if axis is None:
        out = np.cumsum(g[::-1])[::-1]
        return out[0] if shape is None else out.reshape(shape)
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def cumprod_grad(g, x, ans, axis=None):
    """Adjoint of np.cumprod(x, axis) = ans: reversed cumsum of g ans over x, exact where x has zeros."""
    x = np.asarray(x)
    shape = x.shape
    if axis is None:
        x, axis = x.ravel(), 0
    g = np.asarray(g)
    if np.all(x != 0):
        out = np.flip(np.cumsum(np.flip(g * ans, axis), axis), axis) / x
        return out.reshape(shape)
    xm, gm = np.moveaxis(x, axis, 0), np.moveaxis(g, axis, 0)
    left = np.cumprod(np.concatenate([np.ones_like(xm[:1]), xm[:-1]]), axis=0)
    tail = np.empty(gm.shape, dtype=np.result_type(gm, xm, 0.0))
    tail[-1] = gm[-1]
    for i in range(len(xm) - 2, -1, -1):  # tail[i] = sum over j >= i of g[j] * prod(x[i+1 .. j])
        tail[i] = gm[i] + xm[i + 1] * tail[i + 1]
    return np.moveaxis(left * tail, 0, axis).reshape(shape)


# ----- in-place scatters (np.add.at, np.subtract.at), as functions returning a new array -----


def add_at(a, indices, values):
    """A copy of a with values added at indices (repeated indices add up): np.add.at on a copy."""
    out = np.array(a, dtype=np.result_type(a, values))
    np.add.at(out, indices, values)
    return out


def subtract_at(a, indices, values):
    """A copy of a with values subtracted at indices (repeated indices add up): np.subtract.at on a copy."""
    out = np.array(a, dtype=np.result_type(a, values))
    np.subtract.at(out, indices, values)
    return out


def check_out(value, out, what):
    """The call ``what`` (its text, e.g. "np.sin(..., out=...)") writes ``value`` into the array
    ``out``: raise where NumPy refuses the cast (a ufunc's 'same_kind' rule), and where the cast would
    cut the derivative: a float or complex result into an integer array, a complex one into a real array."""
    dtype = getattr(out, "dtype", None)
    if dtype is None:
        raise TypeError(f"{what}: the array written into must be a NumPy array, not {type(out).__name__}")
    kind = np.result_type(value).kind
    if (kind in "fc" and dtype.kind not in "fc") or (kind == "c" and dtype.kind != "c"):
        raise TypeError(f"{what} writes a {np.result_type(value)} result into an array of dtype {dtype}: "
                        f"the cast drops the derivative; write into a {np.result_type(value)} array, or "
                        "assign the result to a new name")


def check_in_place(target, value, what):
    """``what`` (an augmented assignment) updates the array ``target`` in place with ``value``: raise
    where NumPy's in-place ufunc refuses the cast ('same_kind': a float into an int array)."""
    if target.__class__ is _ndarray and not np.can_cast(np.result_type(value), target.dtype, "same_kind"):
        raise TypeError(f"`{what}`: NumPy cannot update an array of dtype {target.dtype} in place with a "
                        f"{np.result_type(value)} value (casting rule 'same_kind'); make the array "
                        f"{np.result_type(value)}, e.g. with dtype=float")


def at_values_grad(g, indices, shape):
    """Contribution of add_at(a, indices, values) to values: g read at indices, summed to values' shape."""
    return unbroadcast(np.asarray(g)[indices], shape)


# ----- Fourier transforms -----


def rfft_grad(g, shape, n=None, axis=-1, norm=None):
    """Adjoint of np.fft.rfft(x, n, axis, norm) for real x (see rfftn_grad)."""
    return rfftn_grad(g, shape, None if n is None else (n,), (axis,), norm)


def irfft_grad(g, shape, n=None, axis=-1, norm=None):
    """Adjoint of np.fft.irfft(c, n, axis, norm) (see irfftn_grad)."""
    return irfftn_grad(g, shape, None if n is None else (n,), (axis,), norm)


def rfftn_grad(g, shape, s=None, axes=None, norm=None):
    """Adjoint of np.fft.rfftn(x, s, axes, norm) (rfft2 too) for real x, autograd's convention, any
    lengths: the fftn of g zero-extended to the full last length, cut or zero-padded back to x's
    shape, real part."""
    g = np.asarray(g)
    axes = _fft_axes(len(shape), s, axes)
    last = axes[-1]
    n_last = shape[last] if s is None else s[-1]
    spread = np.fft.fftn(_fit_axis(g, n_last, last), axes=axes, norm=norm)
    return np.real(_fit_shape(spread, shape, axes))


def irfftn_grad(g, shape, s=None, axes=None, norm=None):
    """Adjoint of np.fft.irfftn(c, s, axes, norm) (irfft2 too): the ifftn of g, twice over on the
    entries of the last axis that stand for a conjugate pair, none on the entries irfftn ignores,
    cut or zero-padded back to c's shape."""
    g = np.asarray(g)
    axes = _fft_axes(len(shape), s, axes)
    last = axes[-1]
    n_last = 2 * (shape[last] - 1) if s is None else s[-1]
    used = min(shape[last], n_last // 2 + 1)
    weight = np.full(used, 2.0)
    weight[0] = 1.0
    if n_last % 2 == 0 and n_last // 2 < used:
        weight[n_last // 2] = 1.0
    spectrum = _fit_axis(np.fft.ifftn(g, axes=axes, norm=norm), used, last)
    spectrum = spectrum * weight.reshape((used,) + (1,) * (g.ndim - 1 - last))
    return _fit_shape(spectrum, shape, axes)


def _fft_axes(ndim, s, axes):
    """The transformed axes, as NumPy chooses them: the last len(s) axes, or all of them."""
    if axes is None:
        axes = range(ndim - len(s), ndim) if s is not None else range(ndim)
    return tuple(a % ndim for a in axes)


def _fit_axis(a, length, axis):
    """a cut to, or zero-padded at the end to, the given length along axis."""
    have = a.shape[axis]
    if have > length:
        return a[(slice(None),) * axis + (slice(0, length),)]
    if have < length:
        pad = [(0, 0)] * a.ndim
        pad[axis] = (0, length - have)
        return np.pad(a, pad)
    return a


def _fit_shape(a, shape, axes):
    """a cut or zero-padded along each of axes to shape's length there."""
    for axis in axes:
        a = _fit_axis(a, shape[axis], axis)
    return a


# ----- shape manipulation -----


def reshape_grad(g, shape):
    """Adjoint of any reshape (reshape, ravel, squeeze, expand_dims, flatten): g reshaped to shape."""
    if shape is None:
        return np.reshape(g, ())[()]
    return np.reshape(g, shape)


def item_grad(g, shape, *index):
    """Adjoint of x.item(*index) for x of the given shape marker: g at the entry read (a flat index,
    one index per axis, or a tuple of them), zeros elsewhere; x.item() reads the only entry."""
    if not index or shape is None:
        return reshape_grad(g, shape)
    out = np.zeros(shape, dtype=_adjoint_dtype(g))
    if len(index) == 1 and type(index[0]) is not tuple:
        out.flat[index[0]] = g
    else:
        out[index[0] if len(index) == 1 else index] = g
    return out


def transpose_grad(g, axes=None):
    """Adjoint of np.transpose(x, axes): g transposed by the inverse permutation."""
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes))


def transpose_method_grad(g, *axes):
    """Adjoint of x.transpose(*axes) (axes given as one tuple or as separate ints)."""
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return transpose_grad(g, axes if axes else None)


def roll_grad(g, shift, axis=None):
    """Adjoint of np.roll(x, shift, axis): g rolled back by -shift."""
    if shift.__class__ is int and g.__class__ is np.ndarray and (axis.__class__ is int or (axis is None and g.ndim == 1)):
        return _roll_int(g, -shift, 0 if axis is None else axis)
    return np.roll(g, np.negative(shift), axis)


def _roll_int(a, shift, axis):
    """np.roll(a, shift, axis) for an int shift along one int axis, with two slice copies
    (the same values as np.roll, without its general-case overhead)."""
    ndim = a.ndim
    if not -ndim <= axis < ndim:
        return np.roll(a, shift, axis)          # np.roll raises its own error
    axis %= ndim
    n = a.shape[axis]
    out = np.empty_like(a)
    s = shift % n if n else 0
    if s == 0:
        out[...] = a
        return out
    lead = (slice(None),) * axis
    out[lead + (slice(s, None),)] = a[lead + (slice(None, n - s),)]
    out[lead + (slice(None, s),)] = a[lead + (slice(n - s, None),)]
    return out


def diff_grad(g, n=1, axis=-1):
    """Adjoint of np.diff(x, n, axis): n times the negated difference of zero-padded g."""
    for _ in range(n):
        g = -np.diff(g, axis=axis, prepend=0.0, append=0.0)
    return g


def take_grad(g, shape, indices, axis=None):
    """Adjoint of np.take(x, indices, axis): g scattered (and summed at repeated indices) into zeros."""
    dtype = _adjoint_dtype(g)
    if axis is None:
        out = np.zeros(int(np.prod(shape, dtype=np.int64)) if shape is not None else 1, dtype=dtype)
        np.add.at(out, np.ravel(indices), np.ravel(g))
        return out[0] if shape is None else out.reshape(shape)
    out = np.zeros(shape, dtype=dtype)
    axis = axis % len(shape)
    np.add.at(out, (slice(None),) * axis + (np.asarray(indices),), g)
    return out


def trace_grad(g, shape, offset=0, axis1=0, axis2=1):
    """Adjoint of np.trace(x, offset, axis1, axis2): g placed on that diagonal."""
    eye = np.eye(shape[axis1], shape[axis2], k=offset)
    out = eye * np.expand_dims(g, (-2, -1))
    return np.moveaxis(out, (-2, -1), (axis1 % len(shape), axis2 % len(shape)))


def diag_grad(g, shape, k=0):
    """Adjoint of np.diag(v, k): the k-th diagonal of g for a vector v, g on that diagonal for a matrix v."""
    if len(shape) == 1:
        return np.diagonal(g, k).copy()
    out = np.zeros(shape, dtype=np.result_type(g, 0.0))
    rows = np.arange(len(g)) + max(-k, 0)
    out[rows, rows + k] = g
    return out


# The joining functions (concatenate, stack, vstack, hstack, column_stack, dstack, append) take
# operands that may be arrays, Python numbers, or (nested) lists and tuples of them; ``shapes`` is
# the shape marker of the whole sequence argument: a list of the operands' markers, or an array's
# shape (the operands are then its rows). Each operand's contribution is g's piece for it, in the
# operand's own form: an array for an array, a Python number for a number, a list for a list.


def _operand_markers(shapes):
    """The shape markers of the operands of a sequence argument with marker ``shapes``."""
    if type(shapes) is list:
        return shapes
    if not shapes:
        raise TypeError("the sequence of arrays to join must be a list, a tuple or an array of at least one dimension")
    return [shapes[1:] or None] * shapes[0]


def _operand_adjoint(piece, marker):
    """g's piece for one operand, in the operand's form (see the note above)."""
    if marker is None:
        return np.reshape(piece, ()).item()
    if type(marker) is list:
        piece = np.reshape(piece, _array_shape(marker))
        return [_operand_adjoint(piece[i], m) for i, m in enumerate(marker)]
    return np.reshape(piece, marker)


def _joined(pieces, markers, shapes):
    """The contribution to the sequence argument: one entry per operand, or an array for an array."""
    out = tuple(_operand_adjoint(p, m) for p, m in zip(pieces, markers))
    if type(shapes) is list:
        return out
    return np.reshape(np.array(out, dtype=_adjoint_dtype(pieces[0]) if pieces else np.float64), shapes)


def _split(g, sizes, axis):
    """g cut along axis into consecutive pieces of the given sizes (views of g)."""
    return np.split(g, np.cumsum(sizes)[:-1], axis=axis)


def _at_least(shape, ndim):
    """The shape np.atleast_1d / 2d / 3d gives an array of this shape."""
    if len(shape) >= ndim:
        return shape
    if ndim == 1 or not shape:
        return (1,) * (ndim - len(shape)) + shape
    if ndim == 2:
        return (1,) + shape
    return ((1,) + shape + (1,)) if len(shape) == 1 else (shape + (1,))


def concatenate_grad(g, shapes, axis=0):
    """Adjoint of np.concatenate(arrays, axis): g's piece for each operand."""
    markers = _operand_markers(shapes)
    operands = [_array_shape(m) or () for m in markers]
    if axis is None:
        pieces = _split(np.ravel(g), [math.prod(s) for s in operands], 0)
    else:
        axis = axis % np.ndim(g)
        pieces = _split(g, [s[axis] for s in operands], axis)
    return _joined(pieces, markers, shapes)


def stack_grad(g, shapes, axis=0):
    """Adjoint of np.stack(arrays, axis): the slices of g along axis, one per operand."""
    markers = _operand_markers(shapes)
    return _joined(tuple(np.moveaxis(g, axis, 0)), markers, shapes)


def _join_grad(g, shapes, ndim, axis):
    """Adjoint of a join that first lifts every operand to ndim dimensions (np.atleast_{ndim}d),
    then concatenates along axis."""
    markers = _operand_markers(shapes)
    operands = [_at_least(_array_shape(m) or (), ndim) for m in markers]
    return _joined(_split(g, [s[axis] for s in operands], axis), markers, shapes)


def vstack_grad(g, shapes):
    """Adjoint of np.vstack(arrays): g's row blocks."""
    return _join_grad(g, shapes, 2, 0)


def hstack_grad(g, shapes):
    """Adjoint of np.hstack(arrays): g's column blocks (blocks of the only axis for 1-D inputs)."""
    return _join_grad(g, shapes, 1, 0 if np.ndim(g) == 1 else 1)


def dstack_grad(g, shapes):
    """Adjoint of np.dstack(arrays): g's blocks along the third axis."""
    return _join_grad(g, shapes, 3, 2)


def column_stack_grad(g, shapes):
    """Adjoint of np.column_stack(arrays): g's column blocks (a 1-D or 0-d operand is one column)."""
    markers = _operand_markers(shapes)
    widths = [1 if len(s) < 2 else s[1] for s in (_array_shape(m) or () for m in markers)]
    return _joined(_split(g, widths, 1), markers, shapes)


def append_grad(g, arr_shape, values_shape, axis, k):
    """Adjoint of np.append(arr, values, axis) for operand k (0: arr, 1: values): np.concatenate of
    the two, flattened first when axis is None."""
    return concatenate_grad(g, [arr_shape, values_shape], axis)[k]


def array_grad(g, shape):
    """Adjoint of np.array / np.asarray of an array, a scalar, or a (nested) list of them."""
    if type(shape) is list:
        return tuple(array_grad(g[i], s) for i, s in enumerate(shape))
    return reshape_grad(g, shape)


def sum_seq_grad(g, shapes):
    """Adjoint of builtin sum(items): g (summed back to each item's shape marker) for every item;
    for an array, whose items are its rows, g spread over them."""
    if type(shapes) is not list:
        return sum_grad(g, shapes, 0)
    return tuple(unbroadcast(g, s) for s in shapes)


# ----- products and linear algebra -----


def matmul_grad_a(g, b):
    """Contribution of a @ b to a (1-D and batched cases; the batch axes are summed by unbroadcast)."""
    b = np.asarray(b)
    g_ndim = np.ndim(g)
    if b.ndim == 1:
        return np.multiply.outer(g, b)
    if g_ndim == b.ndim - 1:  # a was a vector
        return np.matmul(b, g[..., None])[..., 0]
    return np.matmul(g, np.swapaxes(b, -1, -2))


def matmul_grad_b(g, a):
    """Contribution of a @ b to b (1-D and batched cases; the batch axes are summed by unbroadcast)."""
    a = np.asarray(a)
    g_ndim = np.ndim(g)
    if a.ndim == 1:
        if g_ndim == 0:
            return g * a
        return a[:, None] * np.asarray(g)[..., None, :]
    if g_ndim == a.ndim - 1:  # b was a vector
        return np.matmul(np.swapaxes(a, -1, -2), g[..., None])[..., 0]
    return np.matmul(np.swapaxes(a, -1, -2), g)


def dot_grad_a(g, a_shape, b):
    """Contribution of np.dot(a, b) to a, given a's shape marker (all np.dot cases incl. scalars)."""
    a_ndim = 0 if a_shape is None else len(a_shape)
    b_ndim = np.ndim(b)
    if b_ndim <= 1 or a_ndim == 0:
        out = np.tensordot(g, b, max(0, b_ndim - (a_ndim != 0)))
    else:
        out = np.tensordot(g, np.swapaxes(b, -1, -2), b_ndim - 1)
    return out[()] if a_ndim == 0 else out


def dot_grad_b(g, a, b_shape):
    """Contribution of np.dot(a, b) to b, given b's shape marker (all np.dot cases incl. scalars)."""
    a_ndim = np.ndim(a)
    b_ndim = 0 if b_shape is None else len(b_shape)
    if a_ndim <= 1 or b_ndim == 0:
        out = np.tensordot(g, a, max(0, a_ndim - (b_ndim != 0)))
    else:
        out = np.tensordot(g, a, [range(-a_ndim - b_ndim + 2, -b_ndim + 1), range(a_ndim - 1)])
    if b_ndim > 1 and a_ndim != 0:
        out = np.swapaxes(out, -1, -2)
    return out[()] if b_ndim == 0 else out


def inner_grad_a(g, a_shape, b):
    """Contribution of np.inner(a, b) to a (inner product over the last axes)."""
    b_ndim = np.ndim(b)
    if a_shape is None or len(a_shape) == 0 or b_ndim == 0:
        return unbroadcast(g * b, a_shape)
    lead = b_ndim - 1
    g_axes = tuple(range(np.ndim(g) - lead, np.ndim(g)))
    return np.tensordot(g, b, (g_axes, tuple(range(lead))))


def inner_grad_b(g, a, b_shape):
    """Contribution of np.inner(a, b) to b (inner product over the last axes)."""
    a_ndim = np.ndim(a)
    if b_shape is None or len(b_shape) == 0 or a_ndim == 0:
        return unbroadcast(g * a, b_shape)
    lead = a_ndim - 1
    out = np.tensordot(a, g, (tuple(range(lead)), tuple(range(lead))))
    return np.moveaxis(out, 0, -1)


def solve_grad_b(g, a):
    """Contribution of x = np.linalg.solve(a, b) to b: solve(a^T, g)."""
    return np.linalg.solve(np.swapaxes(a, -1, -2), g)


def solve_grad_a(g, a, ans):
    """Contribution of x = np.linalg.solve(a, b) to a: -solve(a^T, g) x^T (x = ans)."""
    b_b = solve_grad_b(g, a)
    if np.ndim(ans) == 1:
        return -np.multiply.outer(b_b, ans)
    return -np.matmul(b_b, np.swapaxes(ans, -1, -2))


def norm_grad(g, x, ans, axis=None, keepdims=False):
    """Adjoint of the 2-norm / Frobenius norm np.linalg.norm(x, None, axis, keepdims): g x / ans (0 at 0)."""
    if np.ndim(x) == 0:
        return abs_grad(g, x)
    x = np.asarray(x)
    if x.dtype.kind == "c":
        x, g = np.conj(x), np.real(g)
    scale = _expand(g, x.shape, axis, keepdims) / _expand(np.where(ans == 0, 1.0, ans), x.shape, axis, keepdims)
    return x * scale


# ----- autograd fallback -----

_AUTOGRAD_MAKERS = {}


def autograd_vjp_maker(func):
    """autograd's vjp maker for the raw NumPy function func, or None when autograd defines none."""
    try:
        return _AUTOGRAD_MAKERS[func]
    except KeyError:
        pass
    except TypeError:
        return None
    import autograd.numpy  # noqa: F401  (registers autograd's NumPy primitives and their vjps)
    import autograd.numpy.linalg  # noqa: F401
    from autograd.core import primitive_vjps
    from autograd.tracer import trace_primitives_map

    primitive = trace_primitives_map.get(func)
    maker = primitive_vjps.get(primitive) if primitive is not None else None
    _AUTOGRAD_MAKERS[func] = maker
    return maker


def autograd_vjp(func, argnum, g, ans, args, kwargs):
    """Contribution of func(*args, **kwargs) = ans to args[argnum], from autograd's vjp for func."""
    maker = _AUTOGRAD_MAKERS.get(func) or autograd_vjp_maker(func)
    if maker is None:
        raise NotImplementedError(
            f"no derivative is known for {getattr(func, '__name__', func)}; "
            "rewrite the call with NumPy functions that have one"
        )
    if func is np.einsum and args and isinstance(args[0], str) and "->" not in args[0]:
        args = (_explicit_einsum(args[0]),) + tuple(args[1:])
    if not _is_complex(ans) and _is_complex(g):
        g = np.real(g)      # the cotangent of a real result is real (autograd projects it the same way)
    return next(iter(maker((argnum,), ans, args, kwargs)(g)))


def _explicit_einsum(subscripts):
    """'ii' -> 'ii->': NumPy's implicit output (letters used once, sorted) written out."""
    letters = [c for c in subscripts if c.isalpha()]
    once = sorted(c for c in set(letters) if letters.count(c) == 1)
    return subscripts + "->" + "".join(once)


def differentiable_norm_order(order):
    """The `ord` of np.linalg.norm when only the run knows it: the orders whose derivative autograd's
    rule gets wrong (nan at +-inf, the kinks of ord <= 1) are refused, as they are when written literally."""
    if isinstance(order, (int, float, np.integer, np.floating)) and not isinstance(order, bool):
        if abs(order) == float("inf"):
            raise ValueError(f"np.linalg.norm: no derivative for ord={order} (the "
                             f"{'largest' if order > 0 else 'smallest'} |x|); write it as "
                             f"np.{'max' if order > 0 else 'min'}(np.abs(x)) or use ord=None (2-norm)")
        if order <= 1:
            raise ValueError(f"np.linalg.norm: no derivative for ord={order}; use ord=None (2-norm) or "
                             "ord > 1, or write the norm with np.sum and np.abs")
    return order
