"""Runtime helpers for NumPy functions that neither the hand-written tables nor autograd's registry
cover: weighted averages, covariance and correlation, interpolation, quadrature, finite
differences, convolution, polynomials, np.einsum (every form) and least squares.

Generated code reaches them as ``_vjp.name`` (see `nbadjoint.runtime.vjp.__getattr__`). Each helper
returns the contribution to one argument, a new array (or a Python float for a scalar argument);
none writes into its arguments. Real arguments are assumed (complex ones are refused where the
formula would differ).
"""

import numpy as np

from .vjp import unbroadcast

_ndarray = np.ndarray


def _like(c, x):
    """The contribution c in the form of the argument x: a float for a scalar x, else x's shape."""
    if np.ndim(x) == 0:
        return float(np.sum(c))
    return unbroadcast(np.asarray(c, dtype=float), np.shape(x))


def _axis_shape(ndim, axis, n):
    """Shape (1, .., n, .., 1) of a 1-D array laid along `axis` of an ndim-array."""
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


# ----- np.average -----


def _average_parts(a, axis, weights, keepdims):
    """(a as an array, weights broadcast to a, the weight sums kept as reduced axes, g's kept shape)."""
    a = np.asarray(a, dtype=float)
    if weights is None:
        w = np.ones_like(a)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != a.shape:
            axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
            axes = tuple(ax % a.ndim for ax in axes)
            order = np.argsort(axes)
            w = np.transpose(w, order).reshape(tuple(a.shape[i] if i in axes else 1 for i in range(a.ndim)))
            w = np.broadcast_to(w, a.shape)
    total = np.sum(w, axis=axis, keepdims=True)
    return a, w, total


def _kept(g, a, axis, keepdims):
    """g of a reduction over axis, shaped to broadcast against a."""
    g = np.asarray(g, dtype=float)
    if keepdims or axis is None:
        return g.reshape((1,) * a.ndim) if axis is None and not keepdims else g
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return np.expand_dims(g, tuple(ax % a.ndim for ax in axes))


def average_grad_a(g, a, axis=None, weights=None, keepdims=False):
    """Adjoint of np.average(a, axis, weights, keepdims=keepdims) w.r.t. a: g w / sum(w)."""
    arr, w, total = _average_parts(a, axis, weights, keepdims)
    return _like(_kept(g, arr, axis, keepdims) * w / total, a)


def average_grad_weights(g, a, axis=None, weights=None, ans=None, keepdims=False):
    """Adjoint of np.average(a, axis, weights) w.r.t. the weights: g (a - average) / sum(w), summed
    back to the weights' shape (1-D weights along `axis` sum over the other axes)."""
    arr, w, total = _average_parts(a, axis, weights, keepdims)
    avg = np.sum(arr * w, axis=axis, keepdims=True) / total
    c = _kept(g, arr, axis, keepdims) * (arr - avg) / total
    wshape = np.shape(weights)
    if wshape == arr.shape:
        return c
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(ax % arr.ndim for ax in axes)
    c = np.sum(c, axis=tuple(i for i in range(arr.ndim) if i not in axes))
    return np.transpose(c, np.argsort(np.argsort(axes)))


# ----- np.cov and np.corrcoef -----


def _observations(m, rowvar):
    """m as a 2-D float array with variables in rows."""
    x = np.atleast_2d(np.asarray(m, dtype=float))
    if not rowvar and x.shape[0] != 1:
        x = x.T
    return x


def _cov_input_grad(gc, m, y, rowvar, norm):
    """Adjoint of the rows-as-variables covariance Xc Xc^T / norm w.r.t. m and y (a pair)."""
    x = _observations(m, rowvar)
    parts = [x]
    if y is not None:
        parts.append(_observations(y, rowvar))
    full = np.concatenate(parts, axis=0)
    xc = full - full.mean(axis=1, keepdims=True)
    gc = np.reshape(np.asarray(gc, dtype=float), (full.shape[0], full.shape[0]))
    gx = (gc + gc.T) @ xc / norm
    out = []
    start = 0
    for arg, part in zip((m, y), parts):
        piece = gx[start:start + part.shape[0]]
        start += part.shape[0]
        if not rowvar and np.ndim(arg) == 2 and np.shape(arg)[0] != 1:
            piece = piece.T
        out.append(np.reshape(piece, np.shape(arg)))
    return out


def _cov_norm(m, y, rowvar, bias, ddof):
    n = _observations(m, rowvar).shape[1]
    if ddof is None:
        ddof = 0 if bias else 1
    return n - ddof


def cov_grad(g, m, y=None, rowvar=True, bias=False, ddof=None, which=0):
    """Adjoint of np.cov(m, y, rowvar, bias, ddof) w.r.t. m (which=0) or y (which=1)."""
    return _cov_input_grad(g, m, y, rowvar, _cov_norm(m, y, rowvar, bias, ddof))[which]


def corrcoef_grad(g, x, y=None, rowvar=True, which=0):
    """Adjoint of np.corrcoef(x, y, rowvar) w.r.t. x (which=0) or y (which=1): through
    R = C / (s s^T), s = sqrt(diag C), then the covariance C."""
    parts = [_observations(x, rowvar)] + ([] if y is None else [_observations(y, rowvar)])
    full = np.concatenate(parts, axis=0)
    xc = full - full.mean(axis=1, keepdims=True)
    c = xc @ xc.T
    s = np.sqrt(np.diag(c))
    r = c / np.outer(s, s)
    gr = np.reshape(np.asarray(g, dtype=float), r.shape)
    gc = gr / np.outer(s, s)
    s_b = -np.sum(gr * r + (gr * r).T, axis=1) / s
    gc = gc + np.diag(s_b / (2 * s))
    return _cov_input_grad(gc, x, y, rowvar, 1.0)[which]


# ----- np.interp -----


def _interp_cells(x, xp):
    """(cell index j, position t in [xp[j], xp[j+1]], below, above) for each x, as np.interp uses them."""
    x = np.asarray(x, dtype=float)
    xp = np.asarray(xp, dtype=float)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(len(xp) - 2, 0))
    if len(xp) < 2:
        return j, np.zeros_like(x), x < xp[0], x > xp[0]
    width = xp[j + 1] - xp[j]
    t = (x - xp[j]) / np.where(width == 0, 1.0, width)
    return j, t, x < xp[0], x > xp[-1]


def _check_interp(period, fp):
    if period is not None:
        raise ValueError("np.interp(..., period=...): no derivative rule for periodic interpolation; "
                         "extend xp and fp by one period with np.concatenate instead")
    if np.iscomplexobj(fp):
        raise ValueError("np.interp: no derivative rule for complex values fp")


def interp_grad_fp(g, x, xp, fp, left=None, right=None, period=None):
    """Adjoint of np.interp(x, xp, fp, left, right) w.r.t. the values fp (the result is linear in fp)."""
    _check_interp(period, fp)
    j, t, below, above = _interp_cells(x, xp)
    g = np.broadcast_to(np.asarray(g, dtype=float), np.shape(j))
    inside = ~(below | above)
    out = np.zeros(len(fp))
    if len(fp) == 1:
        out[0] = np.sum(g[inside]) + (np.sum(g[below]) if left is None else 0.0) + \
            (np.sum(g[above]) if right is None else 0.0)
        return out
    np.add.at(out, j[inside], (g * (1 - t))[inside])
    np.add.at(out, j[inside] + 1, (g * t)[inside])
    if left is None:
        out[0] += np.sum(g[below])
    if right is None:
        out[-1] += np.sum(g[above])
    return out


def interp_grad_x(g, x, xp, fp, left=None, right=None, period=None):
    """Adjoint of np.interp w.r.t. x: g times the slope of the cell x lies in (0 outside xp's range;
    at a sample point, the slope of the cell on its right)."""
    _check_interp(period, fp)
    j, t, below, above = _interp_cells(x, xp)
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    if len(xp) < 2:
        return _like(np.zeros(np.shape(j)), x)
    width = xp[j + 1] - xp[j]
    slope = (fp[j + 1] - fp[j]) / np.where(width == 0, 1.0, width)
    return _like(np.asarray(g, dtype=float) * np.where(below | above, 0.0, slope), x)


def interp_grad_bound(g, x, xp, is_left):
    """Adjoint of np.interp w.r.t. `left` (is_left) or `right`: the sum of g where x lies beyond."""
    _, _, below, above = _interp_cells(x, xp)
    mask = below if is_left else above
    return float(np.sum(np.broadcast_to(np.asarray(g, dtype=float), mask.shape)[mask]))


# ----- np.trapezoid -----


def _trapezoid_weights(shape, x, dx, axis):
    """Weights w with trapezoid(y) == sum(w * y, axis), broadcast against y's shape."""
    n = shape[axis]
    if x is None:
        w = np.full(n, float(dx))
        w[0] = w[-1] = 0.5 * dx
        return w.reshape(_axis_shape(len(shape), axis, n))
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        d = np.diff(x)
        w = np.zeros(n)
        w[:-1] += 0.5 * d
        w[1:] += 0.5 * d
        return w.reshape(_axis_shape(len(shape), axis, n))
    d = np.diff(x, axis=axis)
    w = np.zeros(np.broadcast_shapes(x.shape, shape))
    lo = [slice(None)] * w.ndim
    hi = [slice(None)] * w.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    w[tuple(lo)] += 0.5 * d
    w[tuple(hi)] += 0.5 * d
    return w


def trapezoid_grad_y(g, y, x=None, dx=1.0, axis=-1):
    """Adjoint of np.trapezoid(y, x, dx, axis) w.r.t. y: g times each sample's trapezoid weight."""
    y_arr = np.asarray(y, dtype=float)
    axis = axis % y_arr.ndim
    w = _trapezoid_weights(y_arr.shape, x, dx, axis)
    return _like(np.expand_dims(np.asarray(g, dtype=float), axis) * w, y)


def trapezoid_grad_x(g, y, x, axis=-1):
    """Adjoint of np.trapezoid(y, x, axis=axis) w.r.t. the sample points x."""
    y = np.asarray(y, dtype=float)
    axis = axis % y.ndim
    gk = np.expand_dims(np.asarray(g, dtype=float), axis)
    lo = [slice(None)] * y.ndim
    hi = [slice(None)] * y.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    mid = gk * 0.5 * (y[tuple(lo)] + y[tuple(hi)])       # d trapezoid / d (x[i+1] - x[i])
    c = np.zeros(y.shape)
    c[tuple(hi)] += mid
    c[tuple(lo)] -= mid
    if np.ndim(x) == 1:
        return np.sum(c, axis=tuple(i for i in range(y.ndim) if i != axis))
    return unbroadcast(c, np.shape(x))


def trapezoid_grad_dx(g, y, axis=-1):
    """Adjoint of np.trapezoid(y, dx=dx, axis=axis) w.r.t. the spacing dx."""
    y = np.asarray(y, dtype=float)
    return float(np.sum(np.asarray(g) * np.trapezoid(y, axis=axis)))


# ----- np.convolve -----


def _full_g(g, n, m, mode):
    """g of np.convolve(a, v, mode) (len(a) = n, len(v) = m) placed in the 'full' result."""
    g = np.asarray(g, dtype=float)
    if mode == "full":
        return g
    full = np.zeros(n + m - 1)
    short = min(n, m)
    offset = short - 1 if mode == "valid" else (short - 1) // 2
    full[offset:offset + len(g)] = g
    return full


def convolve_grad(g, a, v, mode="full", which=0):
    """Adjoint of np.convolve(a, v, mode) w.r.t. a (which=0) or v (which=1)."""
    if isinstance(mode, (int, np.integer)):
        mode = {0: "valid", 1: "same", 2: "full"}[int(mode)]
    a1 = np.asarray(a, dtype=float)
    v1 = np.asarray(v, dtype=float)
    full = _full_g(g, a1.size, v1.size, mode)
    other = v1 if which == 0 else a1
    return _like(np.correlate(full, other, "valid"), a if which == 0 else v)


# ----- np.polyval -----


def polyval_grad_p(g, p, x):
    """Adjoint of np.polyval(p, x) w.r.t. the coefficients p: sum of g x^(N-1-k)."""
    p_arr = np.asarray(p, dtype=float)
    n = p_arr.shape[0]
    x = np.asarray(x, dtype=float)
    powers = x[..., None] ** np.arange(n - 1, -1, -1)
    g = np.broadcast_to(np.asarray(g, dtype=float), x.shape)
    return np.tensordot(g, powers, axes=x.ndim) if x.ndim else g * powers


def polyval_grad_x(g, p, x):
    """Adjoint of np.polyval(p, x) w.r.t. x: g p'(x)."""
    p_arr = np.asarray(p, dtype=float)
    deriv = np.polyder(p_arr) if p_arr.shape[0] > 1 else np.zeros(1)
    return _like(np.asarray(g, dtype=float) * np.polyval(deriv, x), x)


# ----- np.gradient -----


def gradient_grad(g, shape, axis=None, edge_order=1, *varargs):
    """Adjoint of np.gradient(f, *varargs, axis=axis, edge_order=...) with respect to f: g sent
    back through the difference stencils (a tuple of results, for several axes, gives one g per
    axis).  ``varargs`` is the spacing as NumPy takes it: none (unit), one scalar for every axis,
    or one scalar or coordinate array per axis."""
    ndim = len(shape)
    axes = tuple(range(ndim)) if axis is None else ((axis,) if np.ndim(axis) == 0 else tuple(axis))
    axes = tuple(ax % ndim for ax in axes)
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    else:
        spacings = list(varargs)
    gs = list(g) if len(axes) > 1 or isinstance(g, (list, tuple)) else [g]
    out = np.zeros(shape)
    for ax, ga, spacing in zip(axes, gs, spacings):
        if ga is None:
            continue
        out += _gradient_axis_grad(np.asarray(ga, dtype=float), ax, edge_order, spacing, shape[ax])
    return out


def gradient_spacing_grad(g, ans, f, axis, edge_order, k, *varargs):
    """Adjoint of np.gradient(f, *varargs, axis=axis, edge_order=...) = ans with respect to its
    spacing varargs[k]: for a scalar h, each result it divides is linear in 1 / h, so the adjoint is
    -sum(g * ans) / h over those results (every axis for a single spacing, axis k otherwise); for
    the coordinates of the points along an axis, g sent back through the stencil coefficients'
    derivatives (see _gradient_coordinates_grad)."""
    f = np.asarray(f)
    ndim = f.ndim
    axes = tuple(range(ndim)) if axis is None else ((axis,) if np.ndim(axis) == 0 else tuple(axis))
    several = len(axes) > 1 or isinstance(ans, (list, tuple))
    gs = list(g) if several else [g]
    results = list(ans) if several else [ans]
    spacing = varargs[k]
    if np.ndim(spacing) == 0:
        total = 0.0
        for j in (range(len(axes)) if len(varargs) == 1 else (k,)):
            if gs[j] is not None:
                total = total + np.sum(np.asarray(gs[j]) * results[j])
        return -total / spacing
    if gs[k] is None:
        return np.zeros(np.shape(spacing))
    return _gradient_coordinates_grad(np.asarray(gs[k]), f, axes[k] % ndim, edge_order,
                                      np.asarray(spacing, dtype=float))


def _gradient_coordinates_grad(g, f, axis, edge_order, x):
    """Adjoint of np.gradient(f, x, axis=axis) with respect to the coordinates x.  Written with the
    spacings d1, d2 on either side of a point, NumPy's coefficients are sums of 1/d1, 1/d2 and
    1/(d1 + d2) (interior: f'_i = -(1/d1 - 1/s) f_{i-1} + (1/d1 - 1/d2) f_i + (1/d2 - 1/s) f_{i+1},
    s = d1 + d2; the edges likewise), whose derivatives are -1/d1**2, -1/d2**2 and -1/s**2; the
    spacings' adjoint then goes to the coordinates through np.diff."""
    n = x.shape[0]
    dx = np.diff(x)
    G = np.moveaxis(g, axis, 0).reshape(n, -1)
    F = np.moveaxis(f, axis, 0).reshape(n, -1)

    def dot(a, b):
        return np.sum(a * b, axis=-1)

    dx_b = np.zeros(n - 1)
    d1, d2 = dx[:-1], dx[1:]
    s = d1 + d2
    p, q, r = dot(G[1:-1], F[:-2]), dot(G[1:-1], F[1:-1]), dot(G[1:-1], F[2:])
    dx_b[:-1] += (1 / d1 ** 2 - 1 / s ** 2) * p - q / d1 ** 2 + r / s ** 2
    dx_b[1:] += -p / s ** 2 + q / d2 ** 2 + (1 / s ** 2 - 1 / d2 ** 2) * r
    if edge_order == 1:
        dx_b[0] -= dot(G[0], F[1] - F[0]) / dx[0] ** 2
        dx_b[-1] -= dot(G[-1], F[-1] - F[-2]) / dx[-1] ** 2
    else:
        d1, d2 = dx[0], dx[1]
        s = d1 + d2
        p, q, r = dot(G[0], F[0]), dot(G[0], F[1]), dot(G[0], F[2])
        dx_b[0] += (1 / d1 ** 2 + 1 / s ** 2) * p - q / d1 ** 2 - r / s ** 2
        dx_b[1] += p / s ** 2 - q / d2 ** 2 + (1 / d2 ** 2 - 1 / s ** 2) * r
        d1, d2 = dx[-2], dx[-1]
        s = d1 + d2
        p, q, r = dot(G[-1], F[-3]), dot(G[-1], F[-2]), dot(G[-1], F[-1])
        dx_b[-2] += (1 / s ** 2 - 1 / d1 ** 2) * p + q / d1 ** 2 - r / s ** 2
        dx_b[-1] += p / s ** 2 + q / d2 ** 2 - (1 / d2 ** 2 + 1 / s ** 2) * r
    x_b = np.zeros(n)
    x_b[1:] += dx_b
    x_b[:-1] -= dx_b
    return x_b


def _gradient_axis_grad(g, axis, edge_order, spacing, n):
    """The transpose of np.gradient along one axis, with the coefficients NumPy uses for spacing
    ``spacing`` (a scalar, or the coordinates of the n points)."""
    if np.ndim(spacing) == 0:
        dx = np.full(n - 1, float(spacing))
    else:
        dx = np.diff(np.asarray(spacing, dtype=float))
    g = np.moveaxis(g, axis, 0)
    out = np.zeros_like(g)
    column = (slice(None),) + (None,) * (g.ndim - 1)         # coefficients along axis 0
    dx1, dx2 = dx[:-1], dx[1:]
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    inner = g[1:-1]
    out[:-2] += a[column] * inner
    out[1:-1] += b[column] * inner
    out[2:] += c[column] * inner
    if edge_order == 1:
        out[1] += g[0] / dx[0]
        out[0] -= g[0] / dx[0]
        out[-1] += g[-1] / dx[-1]
        out[-2] -= g[-1] / dx[-1]
    else:
        d1, d2 = dx[0], dx[1]
        out[0] += -(2.0 * d1 + d2) / (d1 * (d1 + d2)) * g[0]
        out[1] += (d1 + d2) / (d1 * d2) * g[0]
        out[2] += -d1 / (d2 * (d1 + d2)) * g[0]
        d1, d2 = dx[-2], dx[-1]
        out[-3] += d2 / (d1 * (d1 + d2)) * g[-1]
        out[-2] += -(d2 + d1) / (d1 * d2) * g[-1]
        out[-1] += (2.0 * d2 + d1) / (d2 * (d1 + d2)) * g[-1]
    return np.moveaxis(out, 0, axis)


# ----- np.linalg.lstsq -----


def _lstsq_parts(a, b, ans):
    """(A, pinv(A), x as a 2-D array, whether b is 1-D), refusing a rank-deficient A."""
    a = np.asarray(a, dtype=float)
    rank = ans[2]
    if rank < min(a.shape):
        raise np.linalg.LinAlgError(
            f"np.linalg.lstsq: the {a.shape[0]}x{a.shape[1]} matrix has rank {rank} < {min(a.shape)}; the "
            "least-squares solution of a rank-deficient system has no derivative (it jumps as the rank changes)")
    pinv = np.linalg.pinv(a)
    x = np.asarray(ans[0], dtype=float)
    vector = x.ndim == 1
    return a, pinv, (x[:, None] if vector else x), vector


def _lstsq_g(g, index, like):
    """The adjoint of the result's entry `index` (zeros when it got none), shaped like `like`."""
    item = None if g is None else g[index]
    if item is None:
        return np.zeros(np.shape(like))
    return np.asarray(item, dtype=float)


def _check_sv(g):
    if g is not None and g[3] is not None and np.any(np.asarray(g[3]) != 0):
        raise ValueError("np.linalg.lstsq: no derivative rule for the singular values it returns; use "
                         "np.linalg.svd for them")


def lstsq_grad_a(g, a, b, ans):
    """Adjoint of np.linalg.lstsq(a, b) (full rank) w.r.t. a, from the solution's and the residuals'
    adjoints: with P = pinv(A) and r = b - A x, -P^T gx x^T + r (P P^T gx)^T + P^T x ((I - P A) gx)^T
    and -2 r gres x^T."""
    _check_sv(g)
    a, pinv, x, vector = _lstsq_parts(a, b, ans)
    gx = _lstsq_g(g, 0, ans[0])
    gx = gx[:, None] if vector else gx
    b2 = np.asarray(b, dtype=float)
    b2 = b2[:, None] if vector else b2
    r = b2 - a @ x
    proj = np.eye(a.shape[1]) - pinv @ a
    out = -pinv.T @ gx @ x.T + r @ (gx.T @ pinv @ pinv.T) + pinv.T @ x @ (gx.T @ proj)
    res = _lstsq_g(g, 1, ans[1])
    if res.size:
        out = out - 2 * (r * res) @ x.T
    return out


def lstsq_grad_b(g, a, b, ans):
    """Adjoint of np.linalg.lstsq(a, b) (full rank) w.r.t. b: pinv(A)^T gx + 2 r gres."""
    _check_sv(g)
    a, pinv, x, vector = _lstsq_parts(a, b, ans)
    gx = _lstsq_g(g, 0, ans[0])
    out = pinv.T @ gx
    res = _lstsq_g(g, 1, ans[1])
    if res.size:
        b2 = np.asarray(b, dtype=float)
        r = (b2[:, None] if vector else b2) - a @ x
        c = 2 * r * res
        out = out + (c[:, 0] if vector else c)
    return out


# ----- np.einsum -----


def _einsum_terms(subscripts, operands):
    """(input terms, output term) of an einsum call with '...' written out as capital letters and the
    implicit output (letters used once, sorted) made explicit."""
    subscripts = subscripts.replace(" ", "")
    ins, arrow, out = subscripts.partition("->")
    terms = ins.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"np.einsum: {len(terms)} operand terms for {len(operands)} operands")
    used = set(subscripts)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    widest = 0
    for term, op in zip(terms, operands):
        if "..." in term:
            widest = max(widest, np.ndim(op) - (len(term) - 3))
    ell = "".join(spare[:widest])
    expanded = []
    for term, op in zip(terms, operands):
        if "..." in term:
            k = np.ndim(op) - (len(term) - 3)
            term = term.replace("...", ell[widest - k:])
        expanded.append(term)
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return expanded, out


def einsum_grad(g, k, subscripts, *operands):
    """Adjoint of np.einsum(subscripts, *operands) w.r.t. operand k: g contracted with the other operands
    onto operand k's distinct letters, broadcast over letters only operand k has, put on the diagonal
    for a letter repeated within operand k, and summed over the axes where operand k broadcast."""
    terms, out = _einsum_terms(subscripts, operands)
    sizes = {}
    for term, op in zip(terms, operands):
        for c, n in zip(term, np.shape(op)):
            if n != 1 or c not in sizes:
                sizes[c] = n
    target = terms[k]
    distinct = "".join(dict.fromkeys(target))
    others = [t for i, t in enumerate(terms) if i != k]
    present = set(out).union(*others) if others else set(out)
    kept = "".join(c for c in distinct if c in present)
    spec = ",".join([out] + others) + "->" + kept
    contracted = np.einsum(spec, np.asarray(g), *[op for i, op in enumerate(operands) if i != k])
    full = contracted.reshape(contracted.shape + (1,) * (len(distinct) - len(kept)))
    order = kept + "".join(c for c in distinct if c not in present)
    full = np.transpose(full, [order.index(c) for c in distinct])
    full = np.broadcast_to(full, tuple(sizes[c] for c in distinct))
    if len(distinct) != len(target):
        grids = np.indices(full.shape, sparse=True)
        diag = np.zeros(tuple(sizes[c] for c in target), dtype=full.dtype)
        diag[tuple(grids[distinct.index(c)] for c in target)] = full
        full = diag
    shape = np.shape(operands[k])
    if np.iscomplexobj(full) and not np.iscomplexobj(operands[k]):
        full = np.real(full)              # the adjoint of a real operand is real
    if np.shape(full) != shape:
        full = unbroadcast(np.array(full), shape)
    return float(full) if np.ndim(operands[k]) == 0 else np.array(full)


def einsum_vjp(g, position, *args):
    """Adjoint of np.einsum(*args) w.r.t. args[position], in the written form (a subscripts string
    first) or the interleaved one (operand, sublist, operand, sublist, ..., [output sublist])."""
    if isinstance(args[0], str):
        return einsum_grad(g, position - 1, args[0], *args[1:])
    if position % 2:
        return None
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def term(sub):
        return "".join("..." if s is Ellipsis else letters[s] for s in sub)

    if len(args) % 2:
        operands, subs = args[0:-1:2], args[1:-1:2]
        text = ",".join(term(s) for s in subs) + "->" + term(args[-1])
    else:
        operands, subs = args[0::2], args[1::2]
        text = ",".join(term(s) for s in subs)
    return einsum_grad(g, position // 2, text, *operands)


# ----- np.pad (constant mode) -----


def _pad_interior(shape, pad_width):
    """The slices of np.pad's result that hold the original array."""
    pairs = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(shape), 2))
    return tuple(slice(int(before), int(before) + n) for (before, _), n in zip(pairs, shape))


def pad_grad(g, shape, pad_width):
    """Adjoint of np.pad(array, pad_width, mode='constant') w.r.t. the array: g's interior."""
    return np.array(np.asarray(g)[_pad_interior(shape, pad_width)])


def pad_grad_values(g, shape, pad_width, constant_values):
    """Adjoint of np.pad(..., constant_values=c) w.r.t. a scalar c: the sum of g over the padding."""
    if np.ndim(constant_values) != 0:
        raise ValueError("np.pad: a derivative with respect to constant_values is known for one scalar value "
                         "only; pad with a scalar, or build the border with np.concatenate")
    g = np.asarray(g)
    return float(np.sum(g) - np.sum(g[_pad_interior(shape, pad_width)]))


__all__ = [
    "average_grad_a", "average_grad_weights", "cov_grad", "corrcoef_grad", "interp_grad_fp", "interp_grad_x",
    "interp_grad_bound", "trapezoid_grad_y", "trapezoid_grad_x", "trapezoid_grad_dx", "convolve_grad",
    "polyval_grad_p", "polyval_grad_x", "gradient_grad", "gradient_spacing_grad",
    "lstsq_grad_a", "lstsq_grad_b", "einsum_grad", "einsum_vjp", "pad_grad", "pad_grad_values",
]
