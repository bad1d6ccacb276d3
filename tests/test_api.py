"""The public API of DESIGN.md section 2, behaviour by behaviour."""
import ast
import inspect
import os
import traceback

import numpy as np
import pytest

import api_models as m
import nbadjoint as nba
from gradcheck import check_grad


def test_grad_of_float_function_is_a_float():
    def f(x):
        return x * x + 3.0 * x
    f = _module_function(f)
    assert nba.grad(f)(2.0) == 7.0


def _module_function(fn):
    return fn


def test_grad_matches_finite_differences_on_an_array():
    x = np.linspace(0.1, 1.0, 5)
    g = nba.grad(m.square_sum)(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-12)


def test_argnums_tuple_returns_a_tuple_and_integers_get_none():
    x = np.array([0.2, 0.4])
    gx, gw, gn = nba.grad(m.weighted, argnums=(0, 1, 2))(x, 1.5, 3)
    np.testing.assert_allclose(gx, 1.5 * np.cos(x) * 3, rtol=1e-12)
    assert gw == pytest.approx(np.sum(np.sin(x)) * 3)
    assert gn is None


def test_gradient_has_the_structure_of_the_argument():
    params = {"pair": (np.array([1.0, 2.0]), np.array([3.0, 4.0])), "scale": 2.0, "list": [np.array([0.5])]}
    g = nba.grad(m.structured)(params)
    assert set(g) == {"pair", "scale", "list"}
    assert isinstance(g["pair"], tuple) and isinstance(g["list"], list)
    np.testing.assert_allclose(g["pair"][0], 2.0 * np.array([3.0, 4.0]))
    np.testing.assert_allclose(g["pair"][1], 2.0 * np.array([1.0, 2.0]))
    assert g["scale"] == pytest.approx(11.0)
    np.testing.assert_allclose(g["list"][0], [1.0])


def test_value_and_grad_value_is_the_primal_value_exactly():
    x = np.linspace(0.0, 1.0, 7)
    value, g = nba.value_and_grad(m.model)(x, 4)
    assert value == m.model(x, 4)
    assert g.shape == x.shape


def test_keyword_arguments_and_defaults_of_callees():
    x = np.linspace(0.0, 1.0, 4)
    g = nba.grad(m.model)(x, 2)
    eps = 1e-6
    fd = [(m.model(x + eps * e, 2) - m.model(x - eps * e, 2)) / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_call_site_ids_name_caller_line_and_callee():
    ids = nba.call_sites(m.model)
    lines, start = inspect.getsourcelines(m.model)
    call_lines = [start + k for k, line in enumerate(lines) if "step(u" in line]
    assert ids == [f"model:{call_lines[0]}:step", f"model:{call_lines[1]}:step"]
    assert nba.call_sites(m.model) == ids


def test_directive_comment_sets_the_default_placement():
    from nbadjoint.transform.program import compile_tree
    placement = compile_tree(m.model).placement()
    ids = nba.call_sites(m.model)
    assert placement == {ids[0]: True, ids[1]: False}


def test_every_placement_gives_bitwise_identical_gradients():
    x = np.linspace(0.0, 1.0, 6)
    ids = nba.call_sites(m.model)
    grads = [nba.grad(m.model, placement={ids[0]: a, ids[1]: b})(x, 3) for a in (True, False) for b in (True, False)]
    for g in grads[1:]:
        assert np.array_equal(g, grads[0])


def test_unknown_call_site_in_placement_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match="model:"):
        nba.grad(m.model, placement={"model:1:nothing": False})


def test_vjp_returns_one_entry_per_argument_and_a_single_use_pullback():
    x = np.array([0.1, 0.2, 0.3])
    out, pullback = nba.vjp(m.weighted, x, 2.0, 2)
    assert out == m.weighted(x, 2.0, 2)
    gx, gw, gn = pullback(1.0)
    np.testing.assert_allclose(gx, 2.0 * np.cos(x) * 1, rtol=1e-12)
    assert gn is None
    with pytest.raises(RuntimeError, match="already used"):
        pullback(1.0)


def test_vjp_of_a_vector_output():
    x = np.array([0.1, 0.2])
    out, pullback = nba.vjp(m.vector_out, x)
    (gx,) = pullback(np.array([1.0, 2.0]))
    np.testing.assert_allclose(gx, np.cos(x) * [1.0, 2.0])


def test_grad_of_a_vector_output_explains_what_to_use():
    with pytest.raises(TypeError, match="nba.vjp"):
        nba.grad(m.vector_out)(np.ones(3))


def test_adjoint_decorator_keeps_the_plain_function():
    @nba.adjoint
    def f(x):
        return 2.0 * x
    assert f(3.0) == 6.0
    assert f.__nbadjoint__ is True


def test_module_globals_are_read_at_call_time():
    x = np.ones(3)
    assert nba.grad(m.uses_global)(x)[0] == 2.0
    m.SCALE = 5.0
    try:
        assert nba.grad(m.uses_global)(x)[0] == 5.0
    finally:
        m.SCALE = 2.0


def test_closures_over_constants():
    f = m.make_closure(4.0)
    np.testing.assert_allclose(nba.grad(f)(np.array([1.0, 2.0])), 4.0 * 3 * np.array([1.0, 4.0]))


def test_arguments_are_not_mutated():
    x = np.linspace(0.0, 1.0, 5)
    before = x.copy()
    nba.grad(m.model)(x, 3)
    assert np.array_equal(x, before)


def test_generated_code_is_a_real_file_that_inspect_and_tracebacks_see():
    from nbadjoint.transform.program import compile_tree
    prog = compile_tree(m.model)
    path = prog.generated_path()
    assert os.path.exists(path)
    with open(path) as fh:
        assert fh.read() == nba.adjoint_source(m.model)
    fwd = prog.fwd_function("step")
    assert "def step_fwd" in inspect.getsource(fwd)
    try:
        nba.grad(m.model)(np.ones(3), "three")
    except TypeError:
        text = traceback.format_exc()
        assert path in text


def _backward_sweep(source: str, name: str) -> str:
    """The text of the generated function ``{name}_bwd`` in an adjoint_source() listing."""
    tree = ast.parse(source)
    (fdef,) = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == f"{name}_bwd"]
    return ast.get_source_segment(source, fdef)


def test_adjoint_source_with_argnums_shows_the_code_that_differentiates_only_those():
    f = m.product_and_sine                        # sum(x * y) + sum(sin(y))
    every = nba.adjoint_source(f)
    only_x = nba.adjoint_source(f, argnums=0)
    only_y = nba.adjoint_source(f, argnums=1)
    assert nba.adjoint_source(f, None) == every
    assert nba.adjoint_source(f, argnums=(0, 1)) == every
    assert only_x != only_y and only_x != every
    assert "cos" in _backward_sweep(every, "product_and_sine")
    assert "cos" not in _backward_sweep(only_x, "product_and_sine")     # nothing flows back to y
    assert "cos" in _backward_sweep(only_y, "product_and_sine")


def test_grad_with_argnums_matches_finite_differences_as_its_source_says():
    x, y = np.linspace(0.1, 0.9, 4), np.linspace(-1.0, 2.0, 4)
    check_grad(m.product_and_sine, (x, y), argnums=0)
    check_grad(m.product_and_sine, (x, y), argnums=1)
    check_grad(m.product_and_sine, (x, y), argnums=(1, 0))
    np.testing.assert_allclose(nba.grad(m.product_and_sine, 1)(x, y), x + np.cos(y), rtol=1e-12)


def test_adjoint_source_refuses_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"argnums 2 is out of range: product_and_sine\(\) takes 2"):
        nba.adjoint_source(m.product_and_sine, argnums=2)
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        nba.adjoint_source(m.product_and_sine, argnums=[0])


def test_generated_code_is_deterministic_and_commented_with_source_lines():
    a = nba.adjoint_source(m.model)
    from nbadjoint.transform import program
    program._CACHE.clear()
    b = nba.adjoint_source(m.model)
    assert a == b
    assert "# adjoint of line" in a and "return np.sum(u ** 2)" in a


def test_function_defined_in_an_ipython_cell():
    IPython = pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()       # the shell the magics' tests share, whichever runs first
    ip.run_cell("import numpy as np\ndef cell_f(x):\n    y = np.exp(x)\n    return np.sum(y * x)\n", store_history=True)
    f = ip.user_ns["cell_f"]
    x = np.array([0.1, 0.5])
    np.testing.assert_allclose(nba.grad(f)(x), np.exp(x) * (1 + x), rtol=1e-12)
    ip.run_cell("def cell_bad(x):\n    s = 0.0\n    import math\n    s = x * math.pi\n    return s\n",
                store_history=True)
    with pytest.raises(nba.TransformError) as info:
        nba.grad(ip.user_ns["cell_bad"])(1.0)
    assert info.value.lineno == 3 and "notebook cell" in str(info.value)


def test_write_seen_through_a_live_view_is_an_error_naming_the_line():
    from nbadjoint.runtime.tape import AliasError
    with pytest.raises(AliasError, match=r"writing into `a` also changes `v`.*api_models.py, line \d+"):
        nba.grad(m.writes_shared_view)(0.5)


def test_augmented_assignment_has_numpy_semantics():
    x, a = 0.3, np.array([1.0, 2.0])
    value, (gx, ga) = nba.value_and_grad(m.augmented_float_and_array, argnums=(0, 1))(x, a)
    assert value == m.augmented_float_and_array(x, a)
    assert gx == pytest.approx(np.sum(3.0 * a))
    np.testing.assert_allclose(ga, 3.0 * (x + 1.0) * np.ones(2))


def test_callee_writing_into_its_parameter_under_every_placement():
    u0 = np.array([0.5, 1.5, 2.5])
    ids = nba.call_sites(m.boundary_model)
    grads = [nba.grad(m.boundary_model, argnums=(0, 1), placement={ids[0]: ck})(u0, 0.7) for ck in (True, False)]
    assert np.array_equal(grads[0][0], grads[1][0]) and grads[0][1] == grads[1][1]
    # u = [u1 g, u1, u2]: d/du0 = [0, 2 u1 g^2 + 2 u1, 2 u2], d/dg = 2 u1^2 g
    np.testing.assert_allclose(grads[0][0], [0.0, 2 * 1.5 * 0.49 + 3.0, 5.0])
    assert grads[0][1] == pytest.approx(2 * 1.5 ** 2 * 0.7)
    assert np.array_equal(u0, [0.5, 1.5, 2.5])


def test_write_through_a_view_of_a_parameter_is_an_error_naming_the_line():
    with pytest.raises(nba.AliasError, match=r"writing into `v` also changes `a`.*api_models.py, line \d+"):
        nba.grad(m.writes_view_of_parameter)(np.ones(3))


def test_in_place_update_of_an_array_held_in_a_dict_is_caught():
    with pytest.raises(nba.AliasError, match="also changes `w`"):
        nba.grad(m.entry_update_in_a_dict, argnums=1)(np.ones(2), 0.5)


def test_adjoint_source_for_arguments_takes_a_tuple():
    with pytest.raises(TypeError, match=r"args must be a tuple of positional arguments, e.g. args=\(x0,\), not int"):
        nba.adjoint_source(m.writes_shared_view, args=5)


def test_a_vjp_value_built_in_a_list_is_not_changed_by_the_pullback():
    def f(x):
        out = [0.0, 0.0]
        out[0] = x * 2.0
        out[1] = x * 3.0
        return out

    def g(x):
        a, b = np.zeros(2), [0.0]
        a[0] = x * 2.0
        b[0] = x * 4.0
        return {"a": a, "b": b}

    value, pullback = nba.vjp(f, 1.5)
    assert pullback([1.0, 1.0]) == (5.0,)
    assert value == [3.0, 4.5]                 # the backward sweep undid the writes into its own list
    value, pullback = nba.vjp(g, 1.5)
    assert pullback({"a": np.ones(2), "b": [1.0]}) == (6.0,)
    assert value["a"].tolist() == [3.0, 0.0] and value["b"] == [6.0]
