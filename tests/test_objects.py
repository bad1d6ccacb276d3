"""Models written with classes: objects built in the differentiated code and passed in, methods
calling methods (each call a call site), parameters in attributes, state in attributes replaced or
written in place, properties, static and class methods, inheritance with `super()`, composition,
objects in lists, dataclasses and SimpleNamespace as containers whose float fields get gradients.
Each gradient is checked against finite differences under the default placement, every call
split and every call checkpointed (bit for bit across placements), with the arguments unchanged;
what cannot be followed is refused at the user's line."""
import copy
import dataclasses
import types

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import assert_not_mutated, check_grad, source_line
from styles import decay_inheritance, heat_class, lorenz63_class, namespace_config


def placements(f, args=None):
    sites = nba.call_sites(f, args=args)
    return [None, {s: False for s in sites}, {s: True for s in sites}]


def check_all(f, args, argnums, **tol):
    before = copy.deepcopy(args)
    grads = [check_grad(f, args, argnums, placement=p, **tol) for p in placements(f, args)]
    for g in grads[1:]:
        for a, b in zip(np.atleast_1d(grads[0]) if isinstance(argnums, int) else grads[0],
                        np.atleast_1d(g) if isinstance(argnums, int) else g):
            assert np.array_equal(a, b)
    assert_not_mutated(args, before)
    return grads[0]


def fd_field(f, args, k, field, h=1e-6):
    """Central difference of f with respect to the attribute ``field`` of the object args[k]."""
    def shifted(d):
        a = list(copy.deepcopy(args))
        setattr(a[k], field, getattr(a[k], field) + d) if not dataclasses.is_dataclass(a[k]) or \
            not a[k].__dataclass_params__.frozen else object.__setattr__(a[k], field, getattr(a[k], field) + d)
        return f(*a)
    return (shifted(h) - shifted(-h)) / (2 * h)


U0 = np.sin(np.pi * np.linspace(0.0, 1.0, 41)) + 0.1 * np.linspace(0.0, 1.0, 41)


def test_lorenz63_class_built_inside():
    check_all(lorenz63_class.final_z, (np.array([1.0, 1.0, 20.0]),), 0, rtol=1e-5, atol=1e-7)
    assert "Lorenz63.integrate:21:Lorenz63.step" in nba.call_sites(lorenz63_class.final_z)


def test_a_model_object_passed_in_gets_a_gradient_of_its_class():
    def loss(model, x0):
        return model.integrate(x0, 30)[2]
    model = lorenz63_class.Lorenz63(sigma=10.0)
    x0 = np.array([1.0, 1.0, 1.05])
    gx, gm = nba.grad(loss, argnums=(1, 0))(model, x0)
    assert type(gm) is lorenz63_class.Lorenz63
    for field in ("sigma", "rho", "beta", "dt"):
        assert np.isclose(getattr(gm, field), fd_field(loss, (model, x0), 0, field, h=1e-7), rtol=1e-5)
    assert gm.x is None and model.x is None          # the object passed in is as it was
    fd = check_grad(loss, (model, x0), 1, rtol=1e-5)
    assert np.array_equal(fd, gx)
    assert "loss:" + "%d" % (loss.__code__.co_firstlineno + 1) + ":Lorenz63.integrate" in \
        nba.call_sites(loss, args=(model, x0))


def test_heat_solver_with_grid_composition_in_place_slices_and_a_property():
    check_all(heat_class.final_energy, (0.5, U0), (0, 1), rtol=1e-5, atol=1e-9)
    sites = nba.call_sites(heat_class.final_energy)
    assert "HeatSolver.run:50:HeatSolver.step" in sites
    assert "HeatSolver.run:55:HeatSolver.energy" in sites          # a property read is a call site
    assert "HeatSolver.__init__:30:Grid" in sites


def test_a_dataclass_of_parameters_gets_a_gradient_of_its_class(capsys):
    params = heat_class.HeatParams(0.5, verbose=True)
    before = copy.deepcopy(params)
    g = nba.grad(heat_class.final_energy_for, argnums=0)(params, U0)
    assert type(g) is heat_class.HeatParams
    assert g.n_steps is None and g.verbose is None                   # integers and flags: no gradient
    for field in ("kappa", "dt"):
        assert np.isclose(getattr(g, field), fd_field(heat_class.final_energy_for, (params, U0), 0, field),
                          rtol=1e-5)
    assert params == before
    assert "energy =" in capsys.readouterr().out                      # the model's prints ran


def test_inheritance_super_init_classmethod_factory_and_a_class_constant():
    check_all(decay_inheritance.total_after, (0.3, np.array([1.0, 2.0])), (0, 1), rtol=1e-6)
    sites = nba.call_sites(decay_inheritance.total_after)
    assert "Decay.__init__:25:Integrator.__init__" in sites and "Integrator.step:18:Decay.rhs" in sites


def test_objects_in_a_list_each_changed_by_its_method():
    check_all(decay_inheritance.two_species, (np.array([0.3, 0.5]), np.array([1.0, 2.0])), (0, 1), rtol=1e-6)


def test_a_simplenamespace_configuration_gets_a_simplenamespace_gradient():
    cfg = namespace_config.default_config()
    f = namespace_config.final_displacement
    g, gx, gv = nba.grad(f, argnums=(0, 1, 2))(cfg, 1.0, 0.0)
    assert isinstance(g, types.SimpleNamespace) and g.n is None
    for field in ("omega", "gamma", "dt"):
        assert np.isclose(getattr(g, field), fd_field(f, (cfg, 1.0, 0.0), 0, field, h=1e-7), rtol=1e-5)
    check_grad(f, (cfg, 1.0, 0.0), (1, 2), rtol=1e-6)


class Oscillator:
    def __init__(self, k):
        self.k = k
        self.x = np.zeros(3)
        self.history = []

    def force(self):
        return -self.k * self.x

    def kick(self, dt):
        self.x += dt * self.force() + 0.1          # in place: the array the attribute holds
        self.history.append(float(self.x[0]))       # a diagnostic nothing differentiates


class Stiff(Oscillator):
    def force(self):
        return -2.0 * self.k * self.x ** 3


def kicked(k, x0):
    osc = Oscillator(k)
    osc.x = x0.copy()
    for _ in range(5):
        osc.kick(0.1)
    return np.sum(osc.x ** 2)


def test_an_attribute_array_updated_in_place_with_augmented_assignment():
    check_all(kicked, (0.7, np.array([0.5, -1.0, 2.0])), (0, 1), rtol=1e-6)


def kick_any(osc, x0):
    osc.x = x0.copy()           # (osc.x = x0 would make kick() write into the caller's x0: refused)
    osc.kick(0.1)
    return np.sum(osc.x)


def test_a_subclass_object_runs_the_subclass_methods_and_is_compiled_for_its_class():
    x0 = np.array([0.5, -1.0, 2.0])
    g_base = nba.grad(kick_any, argnums=1)(Oscillator(0.7), x0)
    g_sub = nba.grad(kick_any, argnums=1)(Stiff(0.7), x0)
    assert np.allclose(g_base, 1.0 - 0.1 * 0.7)
    assert np.allclose(g_sub, 1.0 - 0.1 * 2.0 * 0.7 * 3 * x0 ** 2)


class Model:
    def __init__(self, a):
        self.a = a

    def value(self, x):
        return self.a * np.sum(x ** 2)


class OtherModel(Model):
    def value(self, x):
        return self.a * np.sum(x)


def evaluate(m, x):
    return m.value(x)


def pick(a, x, flag):
    m = Model(a) if flag else Model(2 * a)
    return evaluate(m, x)


def test_a_function_given_objects_of_two_classes_is_refused_at_the_method_call():
    def mixed(a, x):
        return evaluate(Model(a), x) + evaluate(OtherModel(a), x)
    with pytest.raises(nba.TransformError, match="the class of `m` is not known here"):
        nba.grad(mixed)(1.5, np.ones(3))


class Holder:
    def __init__(self, a):
        self.m = Model(a)

    def value(self, x):
        return self.m.value(x)


def held(h, x):
    return h.value(x)


def test_an_attribute_holding_another_class_than_its_methods_set_is_caught_when_it_runs():
    h = Holder(1.5)
    assert np.allclose(nba.grad(held, argnums=1)(h, np.ones(2)), 3.0)
    h.m = OtherModel(1.5)       # replaced from outside: the code compiled for Model must not run
    with pytest.raises(nba.TransformError, match="is a OtherModel here, but the code was differentiated for a Model"):
        nba.grad(held, argnums=1)(h, np.ones(2))


def test_a_write_into_a_module_level_object_is_refused_at_the_line():
    with pytest.raises(nba.TransformError, match="writing into `GLOBAL_OSC`.*global state") as info:
        nba.grad(uses_global)(np.ones(3))
    assert f"line {source_line(uses_global, 'GLOBAL_OSC.x = x0')}" in str(info.value)
    with pytest.raises(nba.AliasError, match="module-level object `GLOBAL_OSC`") as info:
        nba.grad(kicks_global)(np.ones(3))
    assert f"line {source_line(kicks_global, 'GLOBAL_OSC.kick(0.1)')}" in str(info.value)


GLOBAL_OSC = Oscillator(0.5)


def uses_global(x0):
    GLOBAL_OSC.x = x0          # writes into a module-level object
    return np.sum(x0)


def kicks_global(x0):
    GLOBAL_OSC.kick(0.1)       # its method writes into a module-level object
    return np.sum(x0)


def reads_global(x0):
    return GLOBAL_MODEL.value(x0)


GLOBAL_MODEL = Model(3.0)


def test_methods_of_a_module_level_object_that_only_read_it():
    g = check_grad(reads_global, (np.array([1.0, 2.0]),), 0)
    assert np.allclose(g, 6.0 * np.array([1.0, 2.0]))


class Guarded:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


class Dynamic:
    def __init__(self, a):
        self.a = a

    def __getattr__(self, name):
        return 0.0


def slotted(a):
    return Guarded(a).a


def dynamic(a):
    return Dynamic(a).a * 2


@pytest.mark.parametrize("f, why", [(slotted, "__slots__"), (dynamic, "__getattr__")])
def test_classes_whose_attributes_are_not_plain_entries_are_refused(f, why):
    with pytest.raises(nba.TransformError, match=why):
        nba.grad(f)(1.0)


class WithProperty:
    def __init__(self, a):
        self.a = a

    @property
    def double(self):
        return 2.0 * self.a


def unknown_receiver(objs, x):
    return objs[0].double * x         # objs: a list passed in, its entries of unknown class


def test_a_computed_attribute_of_an_object_of_unknown_class_is_refused_not_read_as_stored():
    with pytest.raises(nba.TransformError, match="not a value stored in the object"):
        nba.grad(unknown_receiver, argnums=1)([WithProperty(1.5)], 2.0)


def test_an_object_returned_by_a_function_and_its_fields_read_in_the_caller():
    def make(a):
        return Model(a)

    def use(a, x):
        m = make(a)
        return m.value(x) + m.a
    check_all(use, (1.5, np.array([1.0, -2.0])), (0, 1))


def test_the_generated_code_reads_attributes_as_the_user_wrote_them():
    src = nba.adjoint_source(lorenz63_class.final_z)
    assert "self.x = self.x + self.dt * Lorenz63_rhs_primal(_c, self, self.x)" in src
    assert "_rt.getattr_b(" in src and "_rt.setattr_b(self_b, 'x')" in src


@pytest.mark.parametrize("snapshots", [1, 3, {"ram": 2, "disk": 2}])
def test_a_loop_of_method_calls_run_by_a_schedule_gives_the_same_bits(snapshots):
    x0 = np.array([1.0, 1.0, 1.05])
    f = lorenz63_class.final_z
    (loop,) = nba.loops(f)
    assert loop == "Lorenz63.integrate:20:for"
    assert np.array_equal(nba.grad(f, placement={loop: snapshots})(x0), nba.grad(f)(x0))
    u0 = U0.copy()
    (heat_loop,) = nba.loops(heat_class.final_energy)
    g = nba.grad(heat_class.final_energy, argnums=(0, 1), placement={heat_loop: snapshots})(0.5, u0)
    g0 = nba.grad(heat_class.final_energy, argnums=(0, 1))(0.5, u0)
    assert g[0] == g0[0] and np.array_equal(g[1], g0[1]) and np.array_equal(u0, U0)


def test_a_class_based_model_is_profiled_and_its_suggestion_reruns():
    prof = nba.profile(heat_class.final_energy, 0.5, U0)
    report = prof.report()
    assert "HeatSolver.run:50:HeatSolver.step" in report and "HeatSolver.run:49:for" in report
    suggestion = prof.suggest(budget="8KB")
    rerun = prof.rerun(suggestion.placement)
    assert rerun.peak_bytes <= 8 * 1024
    assert np.array_equal(rerun.grad[0] if isinstance(rerun.grad, tuple) else rerun.grad,
                          prof.grad[0] if isinstance(prof.grad, tuple) else prof.grad)


def test_a_pickled_pullback_of_a_class_based_model_gives_the_same_gradient():
    import pickle
    x0 = np.array([1.0, 1.0, 1.05])
    out, pullback = nba.vjp(lorenz63_class.final_z, x0)
    again = pickle.loads(pickle.dumps(pullback))
    assert np.array_equal(again(1.0)[0], pullback(1.0)[0])


class Dense:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def __call__(self, x):
        return x @ self.w + self.b


class Tanh:
    def __call__(self, x):
        return np.tanh(x)


def network(w1, w2, x):
    layers = [Dense(w1, 0.1), Tanh(), Dense(w2, -0.2), Tanh()]
    h = x
    for layer in layers:
        h = layer(h)
    return np.sum(h ** 2)


def test_a_list_of_layers_of_several_classes_is_dispatched_on_each_objects_class():
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(5, 4)))
    check_all(network, args, (0, 1), rtol=1e-6)
    built, called = source_line(network, "layers = ["), source_line(network, "h = layer(h)")
    assert set(nba.call_sites(network)) == {f"network:{built}:Dense", f"network:{called}:Dense.__call__",
                                            f"network:{called}:Tanh.__call__"}


class Other:
    def __call__(self, x):
        return x


def test_an_entry_of_another_class_than_the_list_was_built_with_is_refused_when_it_runs():
    def swapped(w, x):
        layers = [Dense(w, 0.0), Tanh()]
        layers[1] = Other()           # not one of the classes the list was built with
        h = x
        for layer in layers:
            h = layer(h)
        return np.sum(h)
    with pytest.raises(nba.TransformError, match="is a Other here, but the code was differentiated for a Tanh"):
        nba.grad(swapped)(np.ones((2, 2)), np.ones((3, 2)))


def test_spring_chain_with_a_parameter_dict_in_place_updates_and_an_energy_log():
    from styles import spring_chain_class
    rng = np.random.default_rng(1)
    pos0 = np.linspace(0, 1, 6) + 0.05 * rng.normal(size=6)
    check_all(spring_chain_class.loss, (3.0, pos0, np.linspace(0, 1.2, 6)), (0, 1), rtol=1e-5, atol=1e-8)


def test_hyper_gradient_through_an_optimizer_dataclass():
    from styles import adam_dataclass
    rng = np.random.default_rng(1)
    args = (0.05, np.zeros(3), rng.normal(size=(10, 3)), rng.normal(size=10))
    check_all(adam_dataclass.train, args, (0, 1), rtol=1e-5, atol=1e-8)


def test_immutable_states_returned_by_a_method_and_a_module_configuration():
    from styles import state_and_kalman
    check_all(state_and_kalman.final_energy, (2.0, 1.0, 0.3), (0, 1, 2), rtol=1e-6)
    assert "State.step:18:State" in nba.call_sites(state_and_kalman.final_energy)


def test_a_kalman_filter_class_with_matrices_in_attributes():
    from styles import state_and_kalman
    rng = np.random.default_rng(2)
    zs = [rng.normal(size=1) for _ in range(8)]
    check_all(state_and_kalman.kalman_nll, (0.1, np.array([0.0, 1.0]), zs), (0, 1), rtol=1e-5)
