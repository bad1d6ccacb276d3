"""Models for tests/test_more_rules.py: each calls one NumPy or SciPy function whose rule comes from
nbadjoint.transform.more_rules, and reduces the result against fixed weights (so the whole
vector-Jacobian product is checked, not only its sum)."""

import numpy as np
import scipy.linalg as sla
import scipy.signal as ssig
import scipy.special as sps
from scipy.integrate import odeint
from scipy.stats import beta as beta_dist
from scipy.stats import chi2, multivariate_normal, norm, poisson
from scipy.stats import gamma as gamma_dist
from scipy.stats import t as student_t

import nbadjoint as nba


def _w(shape):
    """Fixed weights of a given shape (cos of a ramp: no symmetry that could hide a wrong rule)."""
    size = int(np.prod(shape)) if len(shape) else 1
    return np.cos(0.7 * np.arange(size) + 0.3).reshape(shape)


def _dot(y):
    return np.sum(y * _w(np.shape(y)))


# ----- NumPy -----

def average_plain(a):
    return _dot(np.average(a))


def average_axis(a):
    return _dot(np.average(a, axis=1))


def average_full_weights(a, w):
    return _dot(np.average(a, weights=w))


def average_axis_weights(a, w):
    return _dot(np.average(a, axis=0, weights=w))


def average_last_axis_weights(a, w):
    return _dot(np.average(a, axis=-1, weights=w, keepdims=True))


def average_tuple_axes(a, w):
    return _dot(np.average(a, axis=(0, 2), weights=w))


def cov_rows(m):
    return _dot(np.cov(m))


def cov_columns(m):
    return _dot(np.cov(m, rowvar=False))


def cov_vector(m):
    return np.cov(m) * 1.5


def cov_bias(m):
    return _dot(np.cov(m, bias=True))


def cov_ddof(m):
    return _dot(np.cov(m, ddof=2))


def cov_two(m, y):
    return _dot(np.cov(m, y))


def corrcoef_rows(x):
    return _dot(np.corrcoef(x))


def corrcoef_columns(x):
    return _dot(np.corrcoef(x, rowvar=False))


def corrcoef_two(x, y):
    return _dot(np.corrcoef(x, y))


def interp_values(x, fp):
    xp = np.linspace(0.0, 1.0, fp.shape[0])
    return _dot(np.interp(x, xp, fp))


def interp_bounds(x, fp, left, right):
    xp = np.linspace(0.0, 1.0, fp.shape[0])
    return _dot(np.interp(x, xp, fp, left, right))


def interp_scalar(x, fp):
    xp = np.linspace(0.0, 1.0, fp.shape[0])
    return np.interp(x, xp, fp) ** 2


def trapezoid_plain(y):
    return np.trapezoid(y) ** 2


def trapezoid_axis(y):
    return _dot(np.trapezoid(y, axis=0))


def trapezoid_x(y, x):
    return _dot(np.trapezoid(y, x))


def trapezoid_dx(y, dx):
    return _dot(np.trapezoid(y, dx=dx, axis=1))


def trapezoid_x_full(y, x):
    return _dot(np.trapezoid(y, x, axis=1))


def gradient_1d(f):
    return _dot(np.gradient(f))


def gradient_axis0(f):
    return _dot(np.gradient(f, axis=0))


def gradient_axis1(f):
    return _dot(np.gradient(f, axis=1))


def gradient_edge2(f):
    return _dot(np.gradient(f, edge_order=2))


def gradient_all_axes(f):
    gy, gx = np.gradient(f)
    return _dot(gy) + 2.0 * _dot(gx)


def convolve_full(a, v):
    return _dot(np.convolve(a, v))


def convolve_same(a, v):
    return _dot(np.convolve(a, v, mode="same"))


def convolve_valid(a, v):
    return _dot(np.convolve(a, v, mode="valid"))


def polyval_array(p, x):
    return _dot(np.polyval(p, x))


def polyval_scalar(p, x):
    return np.polyval(p, x) ** 2


def pad_constant(a):
    return _dot(np.pad(a, ((1, 2), (0, 1))) ** 2)


def pad_value(a):
    return _dot(np.pad(a, 2, mode="constant", constant_values=0.5) ** 2)


def einsum_matmul(a, b):
    return _dot(np.einsum("ij,jk->ik", a, b))


def einsum_implicit(a, b):
    return _dot(np.einsum("ij,jk", a, b))


def einsum_diagonal(a):
    return _dot(np.einsum("ii->i", a) ** 2)


def einsum_trace(a):
    return np.einsum("ii", a) ** 2


def einsum_repeated_mixed(a, b):
    return _dot(np.einsum("iij,jk->ik", a, b))


def einsum_sum_out(a):
    return _dot(np.einsum("ij->j", a) ** 2)


def einsum_ellipsis(a, b):
    return _dot(np.einsum("...ij,...jk->...ik", a, b))


def einsum_ellipsis_implicit(a, b):
    return _dot(np.einsum("...ij,jk", a, b))


def einsum_broadcast(a, b):
    return _dot(np.einsum("ij,ij->ij", a, b))


def einsum_three(a, b, c):
    return _dot(np.einsum("ij,jk,kl->il", a, b, c))


def einsum_inner(a, b):
    return np.einsum("i,i", a, b) ** 2


def einsum_interleaved(a, b):
    return _dot(np.einsum(a, [0, 1], b, [1, 2], [0, 2]))


def lstsq_solution(a, b):
    return _dot(np.linalg.lstsq(a, b, rcond=None)[0])


def lstsq_residuals(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return _dot(x) + 0.5 * np.sum(res)


# ----- SciPy -----

def sp_erf(x):
    return _dot(sps.erf(x) + sps.erfc(0.5 * x))


def sp_gammaln(x):
    return _dot(sps.gammaln(x) + sps.digamma(x))


def sp_expit(x):
    return _dot(sps.expit(x) + sps.logit(0.25 + 0.5 * sps.expit(x)))


def sp_logsumexp(x):
    return _dot(sps.logsumexp(x, axis=1))


def sp_logsumexp_all(x):
    return sps.logsumexp(x) ** 2


def sp_norm(x, loc, scale):
    return _dot(norm.cdf(x, loc, scale) + norm.pdf(x, loc, scale) + 0.1 * norm.logpdf(x, loc, scale))


def sp_norm_x(x):
    return _dot(norm.logcdf(x) + norm.sf(x))


def sp_t(x):
    return _dot(student_t.logpdf(x, 3.0))


def sp_mvn(x, mean):
    return _dot(multivariate_normal.logpdf(x, mean, np.eye(3) * 2.0 + 0.5))


def sp_solve_triangular(a, b):
    return _dot(sla.solve_triangular(np.triu(a) + 3.0 * np.eye(a.shape[0]), b))


def sp_solve_triangular_lower(a, b):
    return _dot(sla.solve_triangular(np.tril(a) + 3.0 * np.eye(a.shape[0]), b, lower=True))


def sp_convolve_full(a, v):
    return _dot(ssig.convolve(a, v))


def sp_convolve_valid(a, v):
    return _dot(ssig.convolve(a, v, mode="valid"))


def sp_convolve_2d(a, v):
    return _dot(ssig.convolve(a, v))


def sp_erf_only(x):
    return _dot(sps.erf(x))


# ----- scipy.integrate.odeint, the right-hand side in plain NumPy -----

def odeint_model(y0, k):
    return _dot(odeint(decay, y0, np.linspace(0.0, 1.0, 5), (k,)) ** 2)


def decay(y, t, k):
    return -k * y + 0.3 * np.sin(t) * y[::-1]


def odeint_times(y0, ts):
    return _dot(odeint(decay, y0, ts, args=(0.4,)))


def seir_rhs(y, t, beta, sigma, gamma):
    s, e, i, r = y
    n = s + e + i + r
    infection = beta * s * i / n
    return [-infection, infection - sigma * e, sigma * e - gamma * i, gamma * i]


def seir(beta, sigma, gamma, y0):
    sol = odeint(seir_rhs, y0, np.linspace(0.0, 20.0, 21), args=(beta, sigma, gamma), rtol=1e-10, atol=1e-10)
    return np.sum(sol[:, 2])


# ----- refused -----

def interp_points(xp):
    return np.sum(np.interp(np.array([0.2, 0.5]), xp, np.arange(4.0)))


def gradient_spacing(f):
    return np.sum(np.gradient(f, 0.5) ** 2)


def gradient_coordinates(f):
    x = np.array([0.0, 0.3, 0.5, 1.1, 1.2, 2.0])
    return _dot(np.gradient(f, x)) + _dot(np.gradient(f * f, x, edge_order=2))


def gradient_spacing_per_axis(f):
    gy, gx = np.gradient(f, 0.5, np.array([0.0, 0.2, 0.7, 1.0, 1.6]), edge_order=2)
    return _dot(gy) + _dot(gx * gx)


def gradient_active_coordinates(x):
    return np.sum(np.gradient(np.arange(5.0), x) ** 2)


def pad_edge(a):
    return np.sum(np.pad(a, 1, mode="edge") ** 2)


# ----- user rules (nba.defvjp) -----

@nba.primitive
def soft_clip(x, k):
    return np.tanh(k * x)


def uses_soft_clip(x, k):
    return np.sum(soft_clip(x, k) ** 2)


def uses_soft_clip_and_square(x, k):
    return np.sum(x ** 2) + np.sum(soft_clip(x, k))


def sum_of_sines(x):
    return np.sum(np.sin(x))


def sp_t_df(x, df):
    return _dot(student_t.cdf(x, df))


def sp_bessel(x):
    return _dot(sps.j0(x) + sps.j1(x) + sps.i0(x) + sps.i1(x) + sps.jn(2, x) + sps.iv(1.5, x))


def sp_gamma_family(x):
    return _dot(sps.gamma(x) + sps.polygamma(1, x) + sps.erfinv(0.3 * x - 0.5) + sps.rgamma(x))


def sp_beta(a, b):
    return _dot(sps.beta(a, b) + sps.betaln(a, b))


def sp_stats_shapes(x, a):
    return _dot(gamma_dist.logpdf(x, a) + beta_dist.logpdf(0.3 * x, a, 2.0) + chi2.logpdf(x, 3.0))


def sp_poisson(mu):
    return _dot(poisson.logpmf(np.array([1.0, 2.0, 3.0]), mu) + poisson.pmf(np.array([0.0, 4.0]), mu).sum())


def sp_sqrtm(a):
    return _dot(sla.sqrtm(a @ a.T + 3.0 * np.eye(a.shape[0])))


def sp_sylvester(a, b, q):
    return _dot(sla.solve_sylvester(a + 3.0 * np.eye(a.shape[0]), b + 3.0 * np.eye(b.shape[0]), q))


def sp_mvn_pdf(x, mean):
    return _dot(multivariate_normal.pdf(x, mean, np.eye(2) * 1.5))


def odeint_full_output(y0):
    sol, info = odeint(decay, y0, np.linspace(0.0, 1.0, 3), args=(0.5,), full_output=1)
    return np.sum(sol)


# ----- more shapes -----

def average_keepdims_all(a, w):
    return _dot(np.average(a, weights=w, keepdims=True) * a)


def gradient_tuple_axes(f):
    ga, gc = np.gradient(f, axis=(0, 2))
    return _dot(ga) - 0.5 * _dot(gc)


def einsum_outer_transpose(a, b):
    return _dot(np.einsum("i,j->ij", a, b)) + _dot(np.einsum("ij->ji", np.einsum("i,j", a, b)))


def einsum_batch_diagonal(a):
    return _dot(np.einsum("...ii->...i", a))


def trapezoid_1d_x(y, x):
    return np.trapezoid(y, x) ** 2


def cov_pair_vectors(x, y):
    return _dot(np.cov(x, y, ddof=0))
