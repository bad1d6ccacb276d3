"""Runtime helpers called by generated adjoint code (imported there as ``_vjp``).

The helpers of reductions, Fourier transforms, shapes, joins and linear algebra live in
`nbadjoint.runtime.array_vjp`, those of np.average, np.cov, np.interp, np.einsum, np.linalg.lstsq
and the like in `nbadjoint.runtime.more_vjp`, and the callers of vjp makers (autograd's SciPy
registry, rules registered with ``nbadjoint.defvjp``) in `nbadjoint.runtime.custom_vjp`; they are
names of this module too (see `__getattr__`).

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
        if type(x_b) in (AdjointList, AdjointTuple) and _seq_shape_is(x_b, shape):
            return x_b                      # the adjoint of a list argument, in its shape already (seq_adjoint)
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


# ----- lists and tuples given to NumPy functions -----
#
# A NumPy function takes a (nested) list or tuple of numbers or arrays where it takes an array:
# np.asarray(x) is what it works on.  Its derivative rule is written for arrays, so the adjoint code
# hands the rule np.asarray(x) for such an argument (seq_array), the shape of np.asarray(x) for its
# shape marker (seq_shape), and turns the rule's contribution, an array shaped like np.asarray(x)
# (or broadcast from it), back into x's structure (seq_adjoint): a list for a list, a tuple for a
# tuple, nested as x is, with a number for each number and an array of the entry's shape for each
# array.  For anything else the three are the identity.


def _seq_shape_is(seq, shape) -> bool:
    """Whether np.asarray(seq) would have this shape (False for a ragged sequence)."""
    try:
        return np.shape(seq) == shape
    except ValueError:
        return False


def array_shape(shape):
    """The shape of np.asarray(x) from x's shape marker (a list of markers for a (nested) list of
    numbers and arrays; None for a scalar)."""
    if type(shape) is list:
        return (len(shape),) + ((array_shape(shape[0]) or ()) if shape else ())
    return shape


def seq_array(x):
    """np.asarray(x) for a list or tuple x that NumPy takes as a numeric array, else x itself."""
    if isinstance(x, (list, tuple)):
        try:
            a = np.asarray(x)
        except ValueError:                  # ragged: not an array argument
            return x
        return x if a.dtype == object else a
    return x


def seq_shape(shape):
    """The shape of np.asarray(x) for the shape marker of a list or tuple x, else the marker itself."""
    if type(shape) is list:
        return array_shape(shape)
    return shape


def seq_adjoint(c, x):
    """A rule's contribution ``c`` to the argument ``x`` of a NumPy function, in x's form: for a list
    or tuple x, ``c`` (an array shaped like np.asarray(x), or broadcast from it) summed back to that
    shape and split into x's structure (see above); otherwise ``c`` itself."""
    if c is None or not isinstance(x, (list, tuple)):
        return c
    return _structured(c, shape_of(x), x)


def seq_adjoint_of_shape(c, shape):
    """seq_adjoint for an argument the backward sweep knows by its shape marker only: for a list or
    tuple it is a list (the marker does not tell a tuple from a list)."""
    if c is None or type(shape) is not list:
        return c
    return _structured(c, shape, None)


def _structured(c, marker, like):
    if not isinstance(c, (list, tuple)):
        c = np.asarray(c)
        shape = array_shape(marker)
        if c.shape != shape:
            c = unbroadcast(c, shape)
    return _split_like(c, marker, like)


def _split_like(c, marker, like):
    """``c`` (an array, or a sequence with one entry per entry of the marker) in the structure of
    ``marker`` (and of ``like``, the value itself, when known)."""
    if c is None:
        return None
    if type(marker) is list:
        parts = [_split_like(c[i], m, None if like is None else like[i]) for i, m in enumerate(marker)]
        return AdjointTuple(parts) if isinstance(like, tuple) else AdjointList(parts)
    if marker is None:                          # a number: a number
        return c.item() if isinstance(c, (_ndarray, np.generic)) else c
    return np.asarray(c).reshape(marker)        # an array: an array of its shape


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


class AdjointTuple(tuple):
    """The adjoint of a tuple passed to a NumPy function (see seq_adjoint): a tuple whose ``+`` adds
    entry by entry, as adjoints add (a plain tuple's ``+`` would concatenate)."""

    __slots__ = ()

    def __add__(self, other):
        return AdjointTuple(map(_add_adjoints, self, other))

    __radd__ = __add__


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
    if not _is_complex(ans) and _is_complex(g):
        g = np.real(g)      # the cotangent of a real result is real (autograd projects it the same way)
    return next(iter(maker((argnum,), ans, args, kwargs)(g)))


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


def __getattr__(name):
    """The helpers of `array_vjp`, `more_vjp` and `custom_vjp` as names of this module
    (``_vjp.sum_grad``): loaded on first use, since they import this module's helpers."""
    from . import array_vjp, custom_vjp, more_vjp

    for module in (array_vjp, more_vjp, custom_vjp):
        if name in module.__all__:
            value = globals()[name] = getattr(module, name)
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
