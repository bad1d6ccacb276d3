"""The rules of nbadjoint.transform.more_rules (NumPy functions neither the tables nor autograd cover,
SciPy through autograd's SciPy registry) and the user-rule registry (nba.defvjp).

Every rule is checked end to end (nba.grad of a model calling it) against central finite
differences on random inputs of several shapes, and against autograd where autograd has the
function. The models are in tests/more_rules_models.py.
"""

import builtins
import inspect

import autograd
import autograd.numpy as anp
import autograd.scipy.integrate
import autograd.scipy.linalg
import autograd.scipy.signal
import autograd.scipy.special
import autograd.scipy.stats.multivariate_normal
import autograd.scipy.stats.norm
import autograd.scipy.stats.poisson
import autograd.scipy.stats.t
import numpy as np
import pytest

import more_rules_models as M
import nbadjoint as nba
from gradcheck import check_grad, compare_gradients
from nbadjoint.errors import TransformError

R = np.random.default_rng(20261202)


def U(*shape):
    return R.normal(size=shape)


def P(*shape):
    return R.uniform(0.5, 2.0, size=shape)


def sorted_points(n):
    return np.sort(R.uniform(-1.0, 1.0, size=n)) + np.arange(n) * 0.1


def inside(n):
    return R.uniform(-0.2, 1.2, size=n)


CASES = [
    ("average_plain", lambda: (U(3, 4),)),
    ("average_axis", lambda: (U(3, 4),)),
    ("average_full_weights", lambda: (U(3, 4), P(3, 4))),
    ("average_axis_weights", lambda: (U(3, 4), P(3))),
    ("average_last_axis_weights", lambda: (U(3, 4), P(4))),
    ("average_tuple_axes", lambda: (U(3, 4, 5), P(3, 5))),
    ("cov_rows", lambda: (U(3, 6),)),
    ("cov_columns", lambda: (U(6, 3),)),
    ("cov_vector", lambda: (U(6),)),
    ("cov_bias", lambda: (U(3, 6),)),
    ("cov_ddof", lambda: (U(3, 6),)),
    ("cov_two", lambda: (U(2, 6), U(6))),
    ("corrcoef_rows", lambda: (U(3, 6),)),
    ("corrcoef_columns", lambda: (U(6, 3),)),
    ("corrcoef_two", lambda: (U(6), U(6))),
    ("interp_values", lambda: (inside(9), U(5))),
    ("interp_values", lambda: (inside(7).reshape(7), U(2))),
    ("interp_bounds", lambda: (inside(9), U(5), 0.3, -0.4)),
    ("interp_scalar", lambda: (0.37, U(4))),
    ("trapezoid_plain", lambda: (U(6),)),
    ("trapezoid_axis", lambda: (U(5, 3),)),
    ("trapezoid_x", lambda: (U(3, 5), sorted_points(5))),
    ("trapezoid_dx", lambda: (U(3, 5), 0.7)),
    ("trapezoid_x_full", lambda: (U(3, 5), U(3, 5))),
    ("gradient_1d", lambda: (U(6),)),
    ("gradient_spacing", lambda: (U(5),)),
    ("gradient_coordinates", lambda: (U(6),)),
    ("gradient_spacing_per_axis", lambda: (U(4, 5),)),
    ("gradient_axis0", lambda: (U(5, 4),)),
    ("gradient_axis1", lambda: (U(5, 4),)),
    ("gradient_edge2", lambda: (U(7),)),
    ("gradient_all_axes", lambda: (U(5, 4),)),
    ("convolve_full", lambda: (U(6), U(3))),
    ("convolve_full", lambda: (U(2), U(5))),
    ("convolve_same", lambda: (U(6), U(3))),
    ("convolve_same", lambda: (U(3), U(6))),
    ("convolve_same", lambda: (U(6), U(4))),
    ("convolve_valid", lambda: (U(6), U(3))),
    ("convolve_valid", lambda: (U(3), U(6))),
    ("polyval_array", lambda: (U(4), U(2, 3))),
    ("polyval_array", lambda: (U(1), U(3))),
    ("polyval_scalar", lambda: (U(4), 0.8)),
    ("pad_constant", lambda: (U(3, 4),)),
    ("pad_value", lambda: (U(3),)),
    ("einsum_matmul", lambda: (U(2, 3), U(3, 4))),
    ("einsum_implicit", lambda: (U(2, 3), U(3, 4))),
    ("einsum_diagonal", lambda: (U(3, 3),)),
    ("einsum_trace", lambda: (U(3, 3),)),
    ("einsum_repeated_mixed", lambda: (U(3, 3, 2), U(2, 4))),
    ("einsum_sum_out", lambda: (U(3, 4),)),
    ("einsum_ellipsis", lambda: (U(2, 3, 4), U(4, 5))),
    ("einsum_ellipsis", lambda: (U(2, 1, 3, 4), U(5, 4, 2))),
    ("einsum_ellipsis_implicit", lambda: (U(2, 3, 4), U(4, 5))),
    ("einsum_broadcast", lambda: (U(3, 1), U(1, 4))),
    ("einsum_three", lambda: (U(2, 3), U(3, 4), U(4, 2))),
    ("einsum_inner", lambda: (U(4), U(4))),
    ("einsum_interleaved", lambda: (U(2, 3), U(3, 4))),
    ("lstsq_solution", lambda: (U(6, 3), U(6))),
    ("lstsq_solution", lambda: (U(3, 5), U(3))),
    ("lstsq_solution", lambda: (U(6, 3), U(6, 2))),
    ("lstsq_solution", lambda: (U(4, 4), U(4))),
    ("lstsq_residuals", lambda: (U(6, 3), U(6))),
    ("average_keepdims_all", lambda: (U(2, 3), P(2, 3))),
    ("gradient_tuple_axes", lambda: (U(4, 3, 5),)),
    ("einsum_outer_transpose", lambda: (U(3), U(4))),
    ("einsum_batch_diagonal", lambda: (U(2, 3, 3),)),
    ("trapezoid_1d_x", lambda: (U(6), sorted_points(6))),
    ("cov_pair_vectors", lambda: (U(7), U(7))),
    ("lstsq_solution", lambda: (U(3, 5), U(3, 2))),
    ("sp_erf", lambda: (U(5),)),
    ("sp_gammaln", lambda: (P(5),)),
    ("sp_expit", lambda: (U(2, 3),)),
    ("sp_logsumexp", lambda: (U(3, 4),)),
    ("sp_logsumexp_all", lambda: (U(3, 4),)),
    ("sp_norm", lambda: (U(5), 0.3, 1.7)),
    ("sp_norm", lambda: (U(2, 3), U(3), P(2, 1))),
    ("sp_norm_x", lambda: (U(5),)),
    ("sp_t", lambda: (U(5),)),
    ("sp_mvn", lambda: (U(4, 3), U(3))),
    ("sp_solve_triangular", lambda: (U(3, 3), U(3))),
    ("sp_solve_triangular_lower", lambda: (U(3, 3), U(3, 2))),
    ("sp_convolve_full", lambda: (U(6), U(3))),
    ("sp_convolve_valid", lambda: (U(6), U(3))),
    ("sp_convolve_valid", lambda: (U(3), U(6))),
    ("sp_convolve_2d", lambda: (U(4, 3), U(2, 2))),
    ("sp_bessel", lambda: (P(4),)),
    ("sp_gamma_family", lambda: (P(2, 2),)),
    ("sp_beta", lambda: (P(4), P(4))),
    ("sp_stats_shapes", lambda: (P(4), 2.5)),
    ("sp_poisson", lambda: (2.5,)),
    ("sp_sqrtm", lambda: (U(3, 3),)),
    ("sp_sylvester", lambda: (U(2, 2), U(3, 3), U(2, 3))),
    ("sp_mvn_pdf", lambda: (U(3, 2), U(2))),
]


def _ids():
    seen = {}
    out = []
    for name, _ in CASES:
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{name}-{seen[name]}")
    return out


@pytest.mark.parametrize("name,make", CASES, ids=_ids())
def test_rule_matches_finite_differences(name, make):
    args = make()
    check_grad(getattr(M, name), args, argnums=tuple(range(len(args))), rtol=1e-5, atol=1e-7)


SPLIT = ("einsum_diagonal", "cov_rows", "lstsq_residuals", "sp_logsumexp")


@pytest.mark.parametrize("name,make", [c for c in CASES if c[0] in SPLIT],
                         ids=[c[0] for c in CASES if c[0] in SPLIT])
def test_rule_under_every_placement(name, make):
    args = make()
    f = getattr(M, name)
    sites = nba.call_sites(f)
    assert sites
    check_grad(f, args, argnums=tuple(range(len(args))), rtol=1e-5, atol=1e-7,
               placement=dict.fromkeys(sites, False))


# ----- against autograd, where autograd has the function -----

_AUTOGRAD = {}


def autograd_model(name):
    """The model's source run again with NumPy and SciPy bound to autograd's wrappers."""
    if not _AUTOGRAD:
        source = inspect.getsource(M)
        ns = {"__name__": "more_rules_models__autograd", "__builtins__": builtins}
        exec(compile(source, M.__file__, "exec"), ns)
        ns.update(np=anp, sps=autograd.scipy.special, norm=autograd.scipy.stats.norm, poisson=autograd.scipy.stats.poisson,
                  student_t=autograd.scipy.stats.t, multivariate_normal=autograd.scipy.stats.multivariate_normal,
                  sla=autograd.scipy.linalg, ssig=autograd.scipy.signal, odeint=autograd.scipy.integrate.odeint)
        _AUTOGRAD.update(ns)
    return _AUTOGRAD[name]


AUTOGRAD_HAS = ["pad_value", "einsum_matmul", "einsum_implicit", "einsum_ellipsis", "einsum_three", "einsum_inner",
                "gradient_1d", "gradient_axis0", "sp_erf", "sp_gammaln", "sp_expit", "sp_logsumexp",
                "sp_logsumexp_all", "sp_norm", "sp_norm_x", "sp_t", "sp_mvn", "sp_solve_triangular",
                "sp_solve_triangular_lower", "sp_convolve_full", "sp_convolve_valid", "sp_convolve_2d",
                "sp_bessel", "sp_gamma_family", "sp_beta", "sp_poisson", "sp_sqrtm", "sp_sylvester", "sp_mvn_pdf"]


@pytest.mark.parametrize("name,make", [c for c in CASES if c[0] in AUTOGRAD_HAS],
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES) if n in AUTOGRAD_HAS])
def test_rule_matches_autograd(name, make):
    args = make()
    nums = tuple(range(len(args)))
    got = nba.grad(getattr(M, name), argnums=nums)(*args)
    for k in nums:
        expected = autograd.grad(autograd_model(name), k)(*args)
        compare_gradients(got[k], expected, f"d {name} / d args[{k}]", 1e-8, 1e-10, expected_name="autograd")


def test_scipy_primal_is_scipys_own():
    """The SciPy rules are used only where autograd's wrapper computes the very SciPy function."""
    from nbadjoint.runtime.custom_vjp import scipy_table

    import scipy.special
    import scipy.stats
    table = scipy_table()
    for func in (scipy.special.erf, scipy.special.gammaln, scipy.stats.norm.cdf, scipy.special.logsumexp):
        assert func in table
    x = U(5)
    for func, (full, _, _) in table.items():
        if full.startswith("scipy.special.") and full.rpartition(".")[2] in ("erf", "gammaln", "expit"):
            wrapper = getattr(autograd.scipy.special, full.rpartition(".")[2])
            np.testing.assert_array_equal(wrapper(x), func(x))


# ----- refusals -----


ODEINT = [
    ("odeint_model", lambda: (U(2), 0.5), (0, 1)),
    ("odeint_times", lambda: (U(2), np.array([0.0, 0.3, 0.5, 1.0])), (0, 1)),
    ("seir", lambda: (0.5, 0.2, 0.1, [0.97, 0.02, 0.01, 0.0]), (0, 1, 2, 3)),
]


@pytest.mark.parametrize("name,make,argnums", ODEINT, ids=[c[0] for c in ODEINT])
def test_odeint_with_a_plain_numpy_right_hand_side(name, make, argnums):
    check_grad(getattr(M, name), make(), argnums=argnums, rtol=1e-4, atol=1e-6)


def test_odeint_matches_autograd():
    """autograd differentiates the same model with the right-hand side traced through autograd.numpy
    (with respect to y0: autograd cannot reach a value inside odeint's `args` tuple)."""
    args = (U(2), 0.5)
    got = nba.grad(M.odeint_model)(*args)
    expected = autograd.grad(autograd_model("odeint_model"), 0)(*args)
    compare_gradients(got, expected, "d odeint_model / d y0", 1e-6, 1e-8, expected_name="autograd")


def test_odeint_options_it_cannot_differentiate_are_refused():
    with pytest.raises(TransformError, match="full_output"):
        nba.grad(M.odeint_full_output)(U(2))


def test_lstsq_rank_deficient_is_refused_at_run_time():
    a = np.ones((4, 3))
    with pytest.raises(np.linalg.LinAlgError, match="rank 1 < 3"):
        nba.grad(M.lstsq_solution, argnums=(0, 1))(a, U(4))


def test_interp_sample_points_are_refused():
    with pytest.raises(TransformError, match="sample points xp"):
        nba.grad(M.interp_points)(np.linspace(0.0, 1.0, 4))


def test_gradient_with_differentiated_coordinates():
    check_grad(M.gradient_active_coordinates, (np.array([0.0, 0.3, 0.5, 1.1, 1.2]),))


def test_pad_edge_mode_is_refused():
    with pytest.raises(TransformError, match="mode='edge'"):
        nba.grad(M.pad_edge)(U(5))


# ----- user rules: nba.defvjp -----


@pytest.fixture
def registry():
    """Rules registered by a test are forgotten after it."""
    from nbadjoint.transform import user_rules
    before = dict(user_rules._REGISTERED)
    yield
    for func in set(user_rules._REGISTERED) - set(before):
        user_rules.unregister(func)
    for func, entry in before.items():
        user_rules._register(func, entry)


def test_user_rule_is_used_inside_a_model(registry):
    nba.defvjp(M.soft_clip, lambda ans, x, k: lambda g: g * k * (1 - ans ** 2),
               lambda ans, x, k: lambda g: np.sum(g * x * (1 - ans ** 2)))
    x, k = U(5), 0.7
    check_grad(M.uses_soft_clip, (x, k), argnums=(0, 1), rtol=1e-6, atol=1e-8)
    out, pullback = nba.vjp(M.uses_soft_clip, x, k)
    assert out == M.uses_soft_clip(x, k)
    gx, gk = pullback(1.0)
    np.testing.assert_allclose(gx, nba.grad(M.uses_soft_clip)(x, k))


def test_user_rule_is_really_the_one_used(registry):
    """A deliberately scaled rule shows in the gradient: the source of soft_clip is not read."""
    nba.defvjp(M.soft_clip, lambda ans, x, k: lambda g: 3.0 * g * k * (1 - ans ** 2), None)
    x, k = U(4), 0.7
    gx, gk = nba.grad(M.uses_soft_clip, argnums=(0, 1))(x, k)
    np.testing.assert_allclose(gx, 3.0 * nba_expected_gx(x, k), rtol=1e-12)
    assert gk == 0.0


def nba_expected_gx(x, k):
    """d uses_soft_clip / dx by hand: 2 tanh(kx) k (1 - tanh(kx)^2)."""
    t = np.tanh(k * x)
    return 2 * t * k * (1 - t ** 2)


def test_user_rule_takes_precedence_over_a_builtin_and_is_picked_up_after_compiling(registry):
    x = U(4)
    df = nba.grad(M.sum_of_sines)
    np.testing.assert_allclose(df(x), np.cos(x))
    nba.defvjp(np.sin, lambda ans, x: lambda g: 2.0 * g)
    np.testing.assert_allclose(df(x), 2.0 * np.ones(4))          # the gradient function made before
    np.testing.assert_allclose(nba.grad(M.sum_of_sines)(x), 2.0 * np.ones(4))
    from nbadjoint.transform import user_rules
    user_rules.unregister(np.sin)
    np.testing.assert_allclose(nba.grad(M.sum_of_sines)(x), np.cos(x))


def test_user_rule_for_a_scipy_function_replaces_autograds(registry):
    import scipy.special
    nba.defvjp(scipy.special.erf, lambda ans, x: lambda g: g * 0.0)
    np.testing.assert_array_equal(nba.grad(M.sp_erf)(U(3)) != 0, True)   # erfc still contributes
    got = nba.grad(M.sp_erf_only)(U(3))
    np.testing.assert_array_equal(got, np.zeros(3))


def test_nondifferentiable_user_function(registry):
    nba.nondifferentiable(M.soft_clip)
    x = U(3)
    np.testing.assert_allclose(nba.grad(M.uses_soft_clip_and_square)(x, 0.5), 2 * x)


def test_profile_uses_user_rules(registry):
    nba.defvjp(M.soft_clip, lambda ans, x, k: lambda g: 3.0 * g * k * (1 - ans ** 2), None)
    x = U(4)
    p = nba.profile(M.uses_soft_clip, x, 0.7)
    grad = p.grad[0] if isinstance(p.grad, tuple) else p.grad
    np.testing.assert_allclose(grad, 3.0 * nba_expected_gx(x, 0.7), rtol=1e-12)


def test_wrong_maker_signature_is_a_clear_error(registry):
    with pytest.raises(TypeError, match=r"lambda ans, x, k: lambda g"):
        nba.defvjp(M.soft_clip, lambda g: g)
    with pytest.raises(TypeError, match="must be a function"):
        nba.defvjp(M.soft_clip, 3.0)
    with pytest.raises(TypeError, match="3 vjp makers for a function of 2"):
        nba.defvjp(M.soft_clip, None, None, None)


def test_defvjp_of_a_plain_python_function_asks_for_primitive(registry):
    with pytest.raises(TypeError, match="nba.primitive"):
        nba.defvjp(M.uses_soft_clip, lambda ans, x, k: lambda g: g)


def test_maker_answering_the_wrong_shape_is_a_clear_error(registry):
    nba.defvjp(M.soft_clip, lambda ans, x, k: lambda g: np.sum(g), None)
    with pytest.raises(ValueError, match=r"soft_clip \(nba.defvjp\) for argument 0 returned shape \(\)"):
        nba.grad(M.uses_soft_clip)(U(3), 0.5)


def test_maker_not_returning_a_function_is_a_clear_error(registry):
    nba.defvjp(M.soft_clip, lambda ans, x, k: ans, None)
    with pytest.raises(TypeError, match="not a function g -> contribution"):
        nba.grad(M.uses_soft_clip)(U(3), 0.5)


def test_argument_without_a_maker_is_refused(registry):
    nba.defvjp(M.soft_clip, lambda ans, x, k: lambda g: g * k * (1 - ans ** 2))
    with pytest.raises(TransformError, match="no vjp maker for argument 1"):
        nba.grad(M.uses_soft_clip, argnums=1)(U(3), 0.5)
    check_grad(M.uses_soft_clip, (U(3), 0.5), argnums=0)


def test_scipy_argument_without_an_autograd_rule_is_refused():
    """autograd's scipy.stats.t.cdf has no derivative w.r.t. df: refused, never a silent zero."""
    with pytest.raises(TransformError, match=r"scipy.stats.t.cdf: .* no derivative with respect to argument 1"):
        nba.grad(M.sp_t_df, argnums=(0, 1))(U(3), 4.0)
    check_grad(M.sp_t_df, (U(3), 4.0), argnums=0)
