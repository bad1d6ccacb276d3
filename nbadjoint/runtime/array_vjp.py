"""Runtime helpers of generated adjoint code for reductions, Fourier transforms, shape
manipulation, joining and linear algebra.

Generated code reaches them as ``_vjp.name``: `nbadjoint.runtime.vjp` (which holds the other
helpers and states the conventions both follow) serves every name of this module's ``__all__``.
This module imports from `vjp`, never the other way round at import time.
"""

import math

import numpy as np

from .vjp import abs_grad, unbroadcast
from .vjp import array_shape as _array_shape

_ndarray = np.ndarray


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


__all__ = [
    "sum_grad", "mean_grad", "var_grad", "std_grad", "max_grad", "min_grad", "prod_grad",
    "cumsum_grad", "cumprod_grad", "rfft_grad", "irfft_grad", "rfftn_grad", "irfftn_grad",
    "reshape_grad", "item_grad", "transpose_grad", "transpose_method_grad", "roll_grad",
    "diff_grad", "take_grad", "trace_grad", "diag_grad", "concatenate_grad", "stack_grad",
    "vstack_grad", "hstack_grad", "dstack_grad", "column_stack_grad", "append_grad", "array_grad",
    "sum_seq_grad", "matmul_grad_a", "matmul_grad_b", "dot_grad_a", "dot_grad_b", "inner_grad_a",
    "inner_grad_b", "solve_grad_b", "solve_grad_a", "norm_grad"
]
