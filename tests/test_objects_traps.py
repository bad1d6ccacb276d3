"""Object-oriented NumPy code the way scientists write it, differentiated with classes as records:
solvers with their state in attributes, in-place updates of attribute arrays, inheritance with an
overridden `rhs`, composition (`self.grid.dx`), properties, dataclass / SimpleNamespace /
namedtuple parameter containers passed to the root, objects in lists and dicts, objects returned
by functions, module-level objects, aliasing between attributes and locals.

Each case runs under the default placement, with every call split and with every call
checkpointed; gradients are compared with finite differences, and the caller's arguments must be
left as they were.  A case is either differentiated correctly, or refused with an nbadjoint error
naming the user's line; the cases where nbadjoint gives a wrong gradient or crashes are marked
xfail (strict) with what goes wrong."""
import copy
import dataclasses
import types
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
import pytest

import nbadjoint as nba
from gradcheck import all_split, assert_bitwise_equal, check_grad, source_line

X3 = np.array([0.3, -0.7, 1.1])
U5 = np.array([0.1, 0.5, 0.9, 0.4, 0.2])
PLACEMENTS = ["default", "split", "checkpointed"]


# --------------------------------------------------------------------------- helpers

def placement(f, which):
    if which == "default":
        return None
    if which == "split":
        return all_split(f)
    return {site: True for site in nba.call_sites(f)}


def as_tree(x):
    """Objects (records, SimpleNamespace, namedtuples) as dicts of their attributes, recursively,
    for exact comparisons."""
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return {"<namedtuple>": type(x).__name__, **{k: as_tree(getattr(x, k)) for k in x._fields}}
    if isinstance(x, (list, tuple)):
        return type(x)(as_tree(v) for v in x)
    if isinstance(x, dict):
        return {k: as_tree(v) for k, v in x.items()}
    if hasattr(x, "__dict__") and not callable(x):
        return {"<class>": type(x).__name__, **{k: as_tree(v) for k, v in vars(x).items()}}
    return x


def read(g, name):
    """The gradient of attribute ``name`` in the gradient ``g`` of an object (an object of its
    class, or a dict by attribute name)."""
    if isinstance(g, dict):
        return g.get(name)
    if isinstance(g, tuple) and hasattr(g, "_fields"):
        return getattr(g, name)
    return getattr(g, name)


def replaced(obj, path, value):
    """A deep copy of ``obj`` with the attribute at ``path`` (names) set to ``value``."""
    if not path:
        return value
    obj = copy.deepcopy(obj)
    inner = getattr(obj, path[0])
    new = replaced(inner, path[1:], value)
    if isinstance(obj, tuple):
        return obj._replace(**{path[0]: new})
    object.__setattr__(obj, path[0], new)
    return obj


def fd_attribute(f, args, num, path, h=1e-6):
    """Central finite differences of ``f`` w.r.t. the attribute at ``path`` of ``args[num]``."""
    leaf = args[num]
    for name in path:
        leaf = getattr(leaf, name)

    def at(value):
        call = list(copy.deepcopy(args))
        call[num] = replaced(args[num], path, value)
        return float(f(*call))

    if isinstance(leaf, np.ndarray):
        g = np.zeros(leaf.shape)
        for idx in np.ndindex(*leaf.shape):
            step = h * max(1.0, abs(leaf[idx]))
            up, down = leaf.copy(), leaf.copy()
            up[idx] += step
            down[idx] -= step
            g[idx] = (at(up) - at(down)) / (2 * step)
        return g
    step = h * max(1.0, abs(leaf))
    return (at(leaf + step) - at(leaf - step)) / (2 * step)


def check_object_grad(f, args, num, paths, which, rtol=1e-5, atol=1e-7):
    """nbadjoint's gradient w.r.t. the object ``args[num]`` at the attributes ``paths`` against
    finite differences; the arguments are left as they were.  Returns the gradient."""
    before = as_tree(copy.deepcopy(args))
    call = copy.deepcopy(args)
    g = nba.grad(f, argnums=num, placement=placement(f, which))(*call)
    for path in paths:
        got = g
        for name in path:
            got = read(got, name)
        expected = fd_attribute(f, args, num, path)
        assert got is not None, f"no gradient for {'.'.join(path)}"
        np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=rtol, atol=atol,
                                   err_msg=f"d {f.__name__} / d args[{num}].{'.'.join(path)} ({which})")
    assert_bitwise_equal(as_tree(call), before, "arguments after nba.grad")
    return g


def check_plain(f, args, argnums, which, rtol=1e-6, atol=1e-8):
    """check_grad under a placement, and the arguments left as they were."""
    before = as_tree(copy.deepcopy(args))
    call = copy.deepcopy(args)
    nba.grad(f, argnums=argnums, placement=placement(f, which))(*call)
    assert_bitwise_equal(as_tree(call), before, "arguments after nba.grad")
    return check_grad(f, args, argnums, rtol=rtol, atol=atol, placement=placement(f, which))


def refused_at(f, args, error, message, line_text, fn=None):
    """``nba.grad(f)(*args)`` raises ``error`` matching ``message`` and naming the line holding
    ``line_text`` in ``fn`` (default ``f``)."""
    with pytest.raises(error, match=message) as info:
        nba.grad(f, argnums=tuple(range(len(args))))(*copy.deepcopy(args))
    line = source_line(fn or f, line_text)
    assert f"line {line}," in str(info.value), str(info.value)
    assert line_text in str(info.value)


# --------------------------------------------------------------------------- models

class Solver:
    def __init__(self, dt):
        self.dt = dt

    def rhs(self, y):
        raise NotImplementedError

    def step(self, y):
        return y + self.dt * self.rhs(y)


class Decay(Solver):
    def __init__(self, k, dt):
        super().__init__(dt)
        self.k = k

    def rhs(self, y):
        return -self.k * y * y


def decay_cost(y0, k):
    s = Decay(k, 0.05)
    y = y0
    for _ in range(4):
        y = s.step(y)
    return np.sum(y)


class Grid:
    def __init__(self, n, L):
        self.n = n
        self.dx = L / n
        self.x = np.arange(n) * self.dx


class Advect:
    def __init__(self, n, L, c):
        self.grid = Grid(n, L)
        self.c = c

    def step(self, u, dt):
        return u - self.c * dt / self.grid.dx * (u - np.roll(u, 1))


def advect_cost(u0, c, L):
    a = Advect(u0.shape[0], L, c)
    u = u0
    for _ in range(3):
        u = a.step(u, 0.01)
    return np.sum(u * a.grid.x)


class Oscillator:
    def __init__(self, x, v, k):
        self.x = x
        self.v = v
        self.k = k

    def step(self, dt):
        self.v = self.v - dt * self.k * self.x
        self.x = self.x + dt * self.v


def oscillator_cost(x0, k):
    o = Oscillator(x0, 0.0, k)
    for _ in range(5):
        o.step(0.1)
    return o.x ** 2 + o.v


class Parent:
    def __init__(self, k):
        self.k = k

    def rhs(self, y):
        return -self.k * y


class Child(Parent):
    def __init__(self, k, c):
        super().__init__(k)
        self.c = c

    def rhs(self, y):
        return super().rhs(y) + self.c * y ** 2


def super_method_cost(k, c, y):
    m = Child(k, c)
    for _ in range(3):
        y = y + 0.1 * m.rhs(y)
    return np.sum(y)


class Clock:
    def __init__(self, u, dt):
        self.u = u
        self.t = 0.0
        self.dt = dt

    def step(self):
        self.u = self.u + self.dt * np.cos(self.t) * self.u
        self.t += self.dt

    def run_until(self, T):
        while self.t < T:
            self.step()
        return self.u


def while_on_model_time(u, dt):
    c = Clock(u, dt)
    return np.sum(c.run_until(0.5) ** 2) + c.t


class AugArr:
    def __init__(self, u):
        self.u = u.copy()
        self.t = 0.0

    def step(self, a):
        self.u += a * np.sin(self.u)
        self.t += a


def aug_attribute_array(u, a):
    m = AugArr(u)
    for _ in range(3):
        m.step(a)
    return np.sum(m.u ** 2) + m.t ** 2


class Iso(Parent):
    def rhs(self, y):
        if isinstance(self, Iso):
            return self.k * y * 3.0
        return self.k * y


def isinstance_of_self(k, y):
    o = Iso(k)
    return np.sum(o.rhs(y))


class ConstF:
    G = 9.81

    def __init__(self, h):
        self.h = h

    def pe(self):
        return self.G * self.h


def class_constant_number(h):
    c = ConstF(h)
    return c.pe() ** 2


class St:
    def __init__(self, a):
        self.a = a

    @staticmethod
    def sq(x):
        return x * x

    def go(self, x):
        return self.a * St.sq(x) + self.sq(x)


def staticmethod_calls(a, x):
    s = St(a)
    return np.sum(s.go(x))


class State:
    def __init__(self, x):
        self.x = x.copy()

    def rebind(self):
        self.x = self.x * 2.0

    def write(self):
        self.x[0] = self.x[0] * 3.0


def make_state(x):
    s = State(x)
    s.rebind()
    return s


def object_returned_by_a_function(x):
    s = make_state(x)
    return np.sum(s.x ** 2)


def mutate_via_helper(m):
    m.x = m.x * np.sin(m.x)


def helper_rebinds_an_attribute(x):
    s = State(x)
    mutate_via_helper(s)
    s.rebind()
    return np.sum(s.x ** 2)


class Printer:
    def __init__(self, a):
        self.a = a

    def __repr__(self):
        return f"Printer(a={self.a})"


def prints_an_object(a, x):
    p = Printer(a)
    print(p)
    print(f"state {p}")
    return np.sum(p.a * x)


@dataclass
class Derived:
    L: float
    n: int
    dx: float = 0.0

    def __post_init__(self):
        self.dx = self.L / self.n


def dataclass_post_init(L, x):
    d = Derived(L, 4)
    return np.sum(x * d.dx ** 2)


@dataclass
class WithFactory:
    k: float
    w: np.ndarray = field(default_factory=lambda: np.ones(3))


def dataclass_default_factory(k, x):
    p = WithFactory(k)
    return np.sum(p.w * p.k * x)


class Base:
    def __init__(self, a):
        self.a = a

    def apply(self, x):
        return self.a * x


class Sub(Base):
    def apply(self, x):
        return self.a * x ** 2


def use_model(m, x):
    return np.sum(m.apply(x))


def two_callers_named(a, x):
    m = Base(a)
    m2 = Base(2.0 * a)
    return use_model(m, x) + use_model(m2, x)


class SetLater:
    def __init__(self):
        self.x = None

    def set(self, x):
        self.x = x

    def get(self):
        return self.x


def set_then_get(x):
    s = SetLater()
    s.set(x * 2.0)
    y = s.get()
    s.set(y * 3.0)
    return np.sum(s.get() ** 2 + y)


class RetSelf:
    def __init__(self, x):
        self.x = x

    def double(self):
        self.x = self.x * 2.0
        return self


def method_returning_self(x):
    r = RetSelf(x)
    r2 = r.double()
    return np.sum(r2.x ** 2)


class Early:
    def __init__(self, a):
        self.a = a

    def f(self, x):
        if np.sum(x) > 0:
            return self.a * x
        self.a = self.a * 2.0
        return self.a * x ** 2


def method_with_early_return(a, x):
    e = Early(a)
    y = e.f(x)
    z = e.f(-x)
    return np.sum(y + z) + e.a


class Counter:
    def __init__(self):
        self.calls = 0
        self.acc = 0.0

    def add(self, v):
        self.calls += 1
        self.acc = self.acc + v


def counter_object(x):
    c = Counter()
    for i in range(3):
        c.add(np.sum(x * i))
    return c.acc * c.calls


class Obs:
    def __init__(self, data):
        self.data = data

    def misfit(self, y):
        return np.sum((y - self.data) ** 2)


def data_held_by_an_object(x, data):
    o = Obs(data)
    return o.misfit(np.sin(x))


class Scale:
    def __init__(self, s):
        self.s = s

    def apply(self, x):
        return self.s * x


GLOBAL_MODEL = Scale(3.0)


def global_object_attribute(x):
    return np.sum(GLOBAL_MODEL.s * x ** 2)


def global_object_method(x):
    return np.sum(GLOBAL_MODEL.apply(x) ** 2)


class MLP:
    def __init__(self, ws):
        self.ws = ws

    def forward(self, x):
        for w in self.ws:
            x = np.tanh(w @ x)
        return x


def mlp_cost(ws, x):
    net = MLP(ws)
    return np.sum(net.forward(x) ** 2)


WS = [np.random.default_rng(1).normal(size=(3, 3)), np.random.default_rng(2).normal(size=(2, 3))]


class Grid2(Grid):
    def __init__(self, n, L):
        self.n = n
        self.dx = 0.5 * L / n
        self.x = np.arange(n) * self.dx


def swapped_grid(u, c):
    a = Advect(u.shape[0], 1.0, c)
    a.grid = Grid2(u.shape[0], 1.0)
    return np.sum(a.step(u, 0.01) ** 2)


# root arguments that are objects

@dataclass
class Params:
    a: float
    b: np.ndarray
    n: int = 3


def dataclass_params(p, x):
    y = x
    for _ in range(p.n):
        y = np.tanh(p.a * y + p.b)
    return np.sum(y ** 2)


@dataclass(frozen=True)
class FParams:
    a: float
    b: np.ndarray


def frozen_params(p, x):
    return np.sum(np.sin(p.a * x) * p.b)


def namespace_config(cfg, x):
    return np.sum(cfg.phys.k * x ** 2) + cfg.scale * np.sum(x)


PV = namedtuple("PV", ["pos", "vel"])


def namedtuple_state(s, dt):
    p = s.pos + dt * s.vel
    return np.sum(p ** 2) + np.sum(s.vel * p)


@dataclass
class Lin:
    w: np.ndarray
    b: float

    def forward(self, x):
        return self.w * x + self.b


def annotated_dataclass_method(p: Lin, x):
    return np.sum(p.forward(x) ** 2)


def unannotated_dataclass_method(p, x):
    return np.sum(p.forward(x) ** 2)


def annotated_model(m: Base, x):
    return np.sum(m.apply(x))


def unannotated_model(m, x):
    return np.sum(m.apply(x))


class HasF:
    def __init__(self, a):
        self.a = a

    def f(self, x):
        return self.a * x


def unannotated_method_named_f(obj, x):
    return np.sum(obj.f(x))


def unannotated_namespace_write(s, a):
    s.u = s.u * a
    return np.sum(s.u ** 2)


class Model:
    def __init__(self, u, k):
        self.u = u
        self.k = k

    def step(self, a):
        self.u += a * self.k * np.sin(self.u)


def root_model_stepped_in_place(m: Model, a):
    m.step(a)
    m.step(a)
    return np.sum(m.u ** 2)


def params_written_by_the_root(p: Params, x):
    p.a = p.a * 2.0
    return p.a * np.sum(x ** 2 * p.b)


class Particle:
    def __init__(self, x, m):
        self.x = x
        self.m = m

    def pot(self):
        return self.m * self.x ** 2


def list_of_objects_argument(ps, g):
    e = 0.0
    for p in ps:
        e = e + p.m * g * p.x ** 2
    return e


# refused constructions

class Heat:
    def __init__(self, u0, kappa, dt):
        self.u = u0.copy()
        self.kappa = kappa
        self.dt = dt

    def step(self):
        lap = self.u[2:] - 2 * self.u[1:-1] + self.u[:-2]
        self.u[1:-1] += self.dt * self.kappa * lap


def heat_cost(u0, kappa):
    s = Heat(u0, kappa, 0.1)
    for _ in range(3):
        s.step()
    return np.sum(s.u ** 2)


def writes_an_entry_of_an_attribute(x):
    s = State(x)
    s.write()
    return np.sum(s.x ** 2)


class Outer:
    def __init__(self, n, L):
        self.g = Grid(n, L)

    def rescale(self, f):
        self.g.dx = self.g.dx * f


def nested_attribute_write(L, f):
    o = Outer(4, L)
    o.rescale(f)
    return o.g.dx ** 2


class Cp:
    def __init__(self, x):
        self.x = x

    def moved(self, d):
        c = copy.copy(self)
        c.x = c.x + d
        return c


def copy_of_self(x, d):
    c = Cp(x)
    c2 = c.moved(d)
    return np.sum(c2.x * c.x)


class G:
    def __init__(self, x):
        self.x = x

    def val(self):
        return getattr(self, 'x') * 2.0


def getattr_of_self(x):
    g = G(x)
    return np.sum(g.val())


class V:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def total(self):
        return sum(np.sum(v) for v in vars(self).values())


def vars_of_self(x, y):
    v = V(x, y)
    return v.total()


class Hist:
    def __init__(self, x):
        self.x = x
        self.history = []

    def step(self):
        self.history.append(self.x)
        self.x = np.sin(self.x) + self.x


def history_appended_to_an_attribute(x):
    h = Hist(x)
    for _ in range(3):
        h.step()
    return np.sum(h.x)


class HistAug:
    def __init__(self, x):
        self.x = x
        self.history = []

    def step(self):
        self.history += [self.x]
        self.x = np.sin(self.x) + self.x

    def total(self):
        t = 0.0
        for h in self.history:
            t = t + np.sum(h ** 2)
        return t


def history_extended_with_plus_equals(x):
    h = HistAug(x)
    for _ in range(3):
        h.step()
    return h.total()


class Net:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.tanh(self.w * x)


def object_called_with_dunder_call(w, x):
    net = Net(w)
    return np.sum(net(x))


def two_names_for_one_object(x):
    a = State(x)
    b = a
    b.x = b.x + 1.0
    return np.sum(a.x ** 2)


class Inplace:
    def __init__(self, u):
        self.u = u.copy()

    def step(self, a):
        u = self.u
        u[1:-1] = u[1:-1] + a * (u[2:] - 2 * u[1:-1] + u[:-2])


def writes_through_a_local_of_an_attribute(u, a):
    m = Inplace(u)
    m.step(a)
    return np.sum(m.u ** 2)


def two_locals_of_one_attribute(u):
    m = Inplace(u)
    a = m.u
    b = m.u
    b[0] = 5.0
    return np.sum(a * u)


class Holder:
    def __init__(self, u):
        self.u = u

    def damp(self, f):
        self.u *= f


def inline_write_of_an_aliased_attribute(u, f):
    h = Holder(u.copy())
    v = h.u
    h.u *= f
    return np.sum(v ** 2)


def list_of_objects_built_here(xs, ms):
    ps = [Particle(xs[i], ms[i]) for i in range(len(xs))]
    tot = 0.0
    for p in ps:
        tot = tot + p.pot()
    return tot


def make_particle(x, m):
    return Particle(x * 2.0, m)


def method_of_a_returned_object(x, m):
    p = make_particle(x, m)
    return p.pot()


def object_in_a_dict(a, x):
    d = {"m": Base(a)}
    m = d["m"]
    return np.sum(m.apply(x))


def objects_unpacked_from_a_tuple(a, x):
    m1, m2 = Base(a), Base(2.0 * a)
    return np.sum(m1.apply(x) + m2.apply(x))


def class_chosen_by_a_branch(a, x):
    if a > 0:
        m = Base(a)
    else:
        m = Sub(a)
    return np.sum(m.apply(x))


class Stat:
    def __init__(self, a):
        self.a = a

    @classmethod
    def make(cls, a):
        return cls(a)

    def go(self, x):
        return self.a * x


def built_by_a_classmethod(a, x):
    s = Stat.make(a)
    return np.sum(s.go(x))


# wrong gradients and crashes

def alias_taken_before_a_method_writes_in_place(u, f):
    h = Holder(u.copy())
    v = h.u
    h.damp(f)
    return np.sum(v ** 2)


def array_given_to_the_constructor_then_written_by_a_method(u, f):
    w = u.copy()
    h = Holder(w)
    h.damp(f)
    return np.sum(w ** 2)


def root_array_written_by_a_method(u, f):
    h = Holder(u)
    h.damp(f)
    return np.sum(u ** 2)


class Two:
    def __init__(self, u):
        self.a = u.copy()
        self.b = self.a

    def bump(self, f):
        self.a *= f


def two_attributes_one_array(u, f):
    t = Two(u)
    t.bump(f)
    return np.sum(t.b ** 2)


class Padded:
    def __init__(self, u):
        full = np.zeros(u.shape[0] + 2)
        full[1:-1] = u
        self.full = full
        self.inner = full[1:-1]

    def kick(self, a):
        self.inner += a * np.cos(self.inner)


def interior_view_attribute(u, a):
    p = Padded(u)
    p.kick(a)
    p.kick(a)
    return np.sum(p.full ** 2)


class Acc:
    def __init__(self, n):
        self.s = np.zeros(n)

    def add(self, v):
        self.s += v


def accumulator_snapshot(x):
    acc = Acc(3)
    snap = acc.s
    acc.add(x ** 2)
    acc.add(np.sin(x))
    return np.sum(snap * x) + np.sum(acc.s)


class Stepper:
    def __init__(self, u):
        self.u = u.copy()

    def step(self, a):
        self.u += a * self.u ** 2


def run_stepper(m, a, n):
    for _ in range(n):
        m.step(a)


def helper_steps_a_model_whose_array_is_held(u, a):
    m = Stepper(u)
    u_view = m.u
    run_stepper(m, a, 2)
    return np.sum(u_view)


class Osc:
    def __init__(self, x, k):
        self.x = x
        self.k = k

    @property
    def energy(self):
        return 0.5 * self.k * self.x ** 2


def property_energy(x, k):
    o = Osc(x, k)
    return o.energy


class ConstA:
    FACTORS = np.array([1.0, 2.0])

    def __init__(self, h):
        self.h = h

    def pe(self):
        return self.h * self.FACTORS


def class_constant_array(h):
    c = ConstA(h)
    return np.sum(c.pe() ** 2)


def constructor_as_an_argument(a, x):
    return use_model(Base(a), x)


class SubB(Base):
    def apply(self, x):
        return self.a * x ** 2 + 1.0


def base_and_subclass_sharing_init(a, x):
    m = Base(a)
    m2 = SubB(a)
    return np.sum(m.apply(x) + m2.apply(x))


def two_classes_through_one_helper(a, x):
    m = Base(a)
    m2 = SubB(a)
    return use_model(m, x) + use_model(m2, x)


def caller_writes_an_array_given_to_the_constructor(x):
    u = x.copy()
    h = Holder(u)
    u[0] = 5.0 * u[1]
    return np.sum(h.u ** 2)


def caller_scales_an_array_given_to_the_constructor(x):
    u = x.copy()
    h = Holder(u)
    u *= 3.0
    return np.sum(h.u ** 2)


def attribute_taken_from_another_object(x, f):
    a = Holder(x.copy())
    b = Holder(x.copy())
    a.u = b.u
    b.damp(f)
    return np.sum(a.u ** 2)


def namespace_holding_an_array_written_by_the_caller(x):
    u = x.copy()
    h = types.SimpleNamespace(u=u)
    u[0] = 5.0 * u[1]
    return np.sum(h.u ** 2)


class Getter:
    def __init__(self, u):
        self.u = u

    def get(self):
        return self.u


def caller_writes_an_array_a_method_returned(x):
    h = Getter(x.copy())
    v = h.get()
    v[0] = 5.0 * v[1]
    return np.sum(h.u ** 2)


class Gl:
    def __init__(self, s):
        self.s = s


GL = Gl(3.0)


def writes_a_module_level_object(x):
    GL.s = GL.s * 2.0
    return np.sum(GL.s * x ** 2)


class Slots:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a

    def scaled(self, x):
        return self.a * x


def slots_model(a, x):
    s = Slots(a)
    return np.sum(s.scaled(x))


class GetHook:
    def __init__(self, a):
        self.a = a

    def __getattr__(self, name):
        return 1.0

    def scaled(self, x):
        return self.a * x


def getattr_hook_model(a, x):
    s = GetHook(a)
    return np.sum(s.scaled(x))


class InitWrite:
    def __init__(self, x):
        self.u = np.zeros(3)
        u = self.u
        u[0] = x
        u[1] = 2 * x


def init_fills_an_attribute_through_a_local(x):
    w = InitWrite(x)
    return np.sum(w.u ** 2)


class KwModel:
    def __init__(self, u):
        self.u = u

    def step(self, dt=0.1, k=1.0):
        self.u = self.u + dt * k * np.sin(self.u)


def method_called_with_keywords(x, k):
    m = KwModel(x)
    for _ in range(3):
        m.step(k=k, dt=0.05)
    return np.sum(m.u ** 2)


def returns_a_model(x):
    return KwModel(x * 2.0)


@dataclass
class InnerP:
    a: float


@dataclass
class OuterP:
    inner: InnerP
    b: np.ndarray


def nested_dataclass_params(p, x):
    return np.sum(p.inner.a * x ** 2 + p.b * x)



class Immutable:
    def __init__(self, u):
        self._u = u
        self._cache = None

    def evolve(self, k):
        return Immutable(self._u + k * np.sin(self._u))

    def energy(self):
        return np.sum(self._u ** 2)


def private_attrs_and_new_objects(u, k):
    m = Immutable(u)
    for _ in range(3):
        m = m.evolve(k)
    return m.energy()


class Rec:
    def __init__(self, a):
        self.a = a

    def refine(self, x, n):
        if n == 0:
            return x
        return self.refine(np.sin(self.a * x), n - 1)


def recursive_method(a, x):
    r = Rec(a)
    return np.sum(r.refine(x, 3))


class Lazy:
    def __init__(self, n, a):
        self.n = n
        self.a = a

    def matrix(self):
        if not hasattr(self, "L"):
            self.L = self.a * (np.eye(self.n) * 2 - np.eye(self.n, k=1) - np.eye(self.n, k=-1))
        return self.L

    def apply(self, x):
        return self.matrix() @ x


def lazy_cache(a, x):
    m = Lazy(x.shape[0], a)
    y = m.apply(x)
    z = m.apply(y)
    return np.sum(z ** 2)


class Cached:
    def __init__(self, a):
        self.a = a
        self.L = None

    def matrix(self, n):
        if self.L is None:
            self.L = self.a * (np.eye(n) * 2 - np.eye(n, k=1) - np.eye(n, k=-1))
        return self.L

    def apply(self, x):
        return self.matrix(x.shape[0]) @ x


def none_cache(a, x):
    m = Cached(a)
    y = m.apply(x)
    z = m.apply(y)
    return np.sum(z ** 2)


class Prop:
    def __init__(self, T):
        self._T = T

    @property
    def T(self):
        return self._T

    @T.setter
    def T(self, v):
        self._T = v


def property_setter(T, x):
    p = Prop(T)
    p.T = p._T * 2.0
    return np.sum(p._T * x)


class Deleter:
    def __init__(self, a):
        self.a = a
        self.tmp = a * 2.0

    def clean(self):
        del self.tmp


def del_attr(a):
    d = Deleter(a)
    d.clean()
    return d.a ** 2


class Idx:
    def __init__(self, u, i):
        self.u = u
        self.i = i

    def pick(self):
        return self.u[self.i] * self.u[self.i + 1]


def index_from_attr(u):
    m = Idx(u, 1)
    return m.pick()


class ClassCounter:
    count = 0

    def __init__(self, x):
        self.x = x

    def bump(self):
        self.count += 1
        self.x = self.x * 1.5


def class_attr_counter(x):
    c = ClassCounter(x)
    c.bump()
    c.bump()
    return np.sum(c.x) * c.count


class Cell:
    def __init__(self, dx):
        self.dx = dx

    def refine(self):
        self.dx = self.dx * 0.5


class Refiner:
    def __init__(self, dx, u):
        self.grid = Cell(dx)
        self.u = u

    def step(self):
        self.grid.refine()
        self.u = self.u + self.grid.dx * np.sin(self.u)


def component_mutated_by_its_own_method(dx, u):
    s = Refiner(dx, u)
    for _ in range(3):
        s.step()
    return np.sum(s.u ** 2) + s.grid.dx


class Body:
    def __init__(self, x):
        self.x = x


class Pusher:
    def __init__(self, a):
        self.a = a

    def push(self, other):
        other.x = other.x * self.a + np.sin(other.x)


def method_writes_another_object(a, x):
    p = Pusher(a)
    b = Body(x)
    for _ in range(3):
        p.push(b)
    return np.sum(b.x ** 2)


def kick(m, a):
    m.x += a * np.cos(m.x)


def helper_updates_an_object_in_place(x, a):
    b = Body(x.copy())
    for _ in range(3):
        kick(b, a)
    return np.sum(b.x ** 2)


class Sim:
    def __init__(self, x):
        self.body = Body(x.copy())

    def run(self, a, n):
        for _ in range(n):
            kick(self.body, a)
        return self.body.x


def method_hands_a_component_to_a_helper(x, a):
    s = Sim(x)
    y = s.run(a, 2)
    z = s.run(a, 2)
    return np.sum(y * z)


class Sim2:
    def __init__(self, x):
        self.body = Body(x)

    def advance(self, a):
        b = self.body
        b.x = b.x + a * np.cos(b.x)


def local_name_for_a_component(x, a):
    s = Sim2(x)
    s.advance(a)
    return np.sum(s.body.x ** 2)


@dataclass
class PairP:
    a: float
    b: np.ndarray


def dataclass_replaced(a, b, x):
    p = PairP(a, b)
    q = dataclasses.replace(p, a=p.a * 2.0)
    return np.sum(q.a * x + q.b * x ** 2)


def namedtuple_built_here(x, v):
    s = PV(x, v)
    for _ in range(3):
        s = PV(s.pos + 0.1 * s.vel, s.vel * 0.9)
    return np.sum(s.pos ** 2 + s.vel)


class Kept:
    def __init__(self, x):
        self.x = x

    def rebind(self):
        self.x = self.x * 2.0


def rebinding_keeps_the_old_array(x):
    s = Kept(x)
    old = s.x
    s.rebind()
    return np.sum(old * s.x)


@dataclass(frozen=True)
class FrozenState:
    u: np.ndarray
    t: float

    def step(self, dt):
        return FrozenState(self.u + dt * np.sin(self.u), self.t + dt)


def frozen_dataclass_built_here(u, dt):
    s = FrozenState(u, 0.0)
    s2 = s.step(dt)
    return np.sum(s2.u ** 2) + s2.t + np.sum(s.u)


# --------------------------------------------------------------------------- differentiated correctly

@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("f,args,argnums", [
    (decay_cost, (np.array([1.0, 0.5]), 0.7), (0, 1)),
    (advect_cost, (U5, 0.8, 2.0), (0, 1, 2)),
    (oscillator_cost, (1.0, 2.0), (0, 1)),
    (super_method_cost, (0.5, 0.2, X3), (0, 1, 2)),
    (while_on_model_time, (X3, 0.1), 0),
    (aug_attribute_array, (X3, 0.3), (0, 1)),
    (isinstance_of_self, (2.0, X3), (0, 1)),
    (class_constant_number, (1.5,), 0),
    (staticmethod_calls, (2.0, X3), (0, 1)),
    (object_returned_by_a_function, (X3,), 0),
    (helper_rebinds_an_attribute, (X3,), 0),
    (dataclass_post_init, (2.0, X3), (0, 1)),
    (dataclass_default_factory, (2.0, X3), (0, 1)),
    (two_callers_named, (0.5, X3), (0, 1)),
    (set_then_get, (X3,), 0),
    (method_returning_self, (X3,), 0),
    (method_with_early_return, (0.5, X3), (0, 1)),
    (counter_object, (X3,), 0),
    (data_held_by_an_object, (X3, np.array([0.1, 0.2, 0.3])), (0, 1)),
    (global_object_attribute, (X3,), 0),
    (mlp_cost, (WS, X3), 1),
    (method_called_with_keywords, (X3, 0.7), (0, 1)),
    (lazy_cache, (0.8, X3), (0, 1)),
    (none_cache, (0.8, X3), (0, 1)),
    (index_from_attr, (X3,), 0),
    (class_attr_counter, (X3,), 0),
    (method_writes_another_object, (0.8, X3), (0, 1)),
    (helper_updates_an_object_in_place, (X3, 0.3), (0, 1)),
    (rebinding_keeps_the_old_array, (X3,), 0),
], ids=lambda v: getattr(v, "__name__", None))
def test_object_oriented_models_are_differentiated(f, args, argnums, which):
    check_plain(f, args, argnums, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_an_object_passed_to_print_and_an_f_string(which, capsys):
    check_plain(prints_an_object, (2.0, X3), (0, 1), which)
    assert "state Printer(a=2.0)" in capsys.readouterr().out


def test_the_method_site_names_the_class():
    sites = nba.call_sites(two_callers_named)
    assert f"use_model:{source_line(use_model, 'm.apply(x)')}:Base.apply" in sites
    assert f"two_callers_named:{source_line(two_callers_named, 'm = Base(a)')}:Base" in sites


@pytest.mark.parametrize("which", PLACEMENTS)
def test_dataclass_parameters_passed_to_the_root(which):
    p = Params(0.5, np.array([0.1, 0.2, 0.3]))
    g = check_object_grad(dataclass_params, (p, X3), 0, [("a",), ("b",)], which)
    assert read(g, "n") is None
    check_plain(dataclass_params, (p, X3), 1, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_frozen_dataclass_parameters(which):
    check_object_grad(frozen_params, (FParams(0.5, np.array([0.1, 0.2, 0.3])), X3), 0, [("a",), ("b",)], which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_nested_simple_namespace_configuration(which):
    cfg = types.SimpleNamespace(phys=types.SimpleNamespace(k=2.0), scale=0.5)
    check_object_grad(namespace_config, (cfg, X3), 0, [("phys", "k"), ("scale",)], which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_namedtuple_state_read_by_field(which):
    s = PV(np.array([1.0, 2.0]), np.array([0.5, -0.5]))
    check_object_grad(namedtuple_state, (s, 0.1), 0, [("pos",), ("vel",)], which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_annotated_dataclass_with_a_method(which):
    p = Lin(np.array([1.0, 2.0, 0.5]), 0.3)
    check_object_grad(annotated_dataclass_method, (p, X3), 0, [("w",), ("b",)], which)
    check_plain(annotated_dataclass_method, (p, X3), 1, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_annotated_model_argument_of_the_annotated_class(which):
    check_object_grad(annotated_model, (Base(2.0), X3), 0, [("a",)], which)


def test_annotated_model_argument_of_a_subclass_uses_the_subclass_method():
    check_object_grad(annotated_model, (Sub(2.0), X3), 0, [("a",)], "default")
    g = nba.grad(annotated_model, argnums=1)
    assert np.allclose(g(Sub(2.0), X3), 4.0 * X3)        # Sub.apply: a * x ** 2
    assert np.allclose(g(Base(2.0), X3), 2.0)            # Base.apply, compiled again for Base


@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_model_argument_stepped_in_place_is_left_as_it_was(which):
    m = Model(X3.copy(), 0.5)
    check_object_grad(root_model_stepped_in_place, (m, 0.3), 0, [("u",), ("k",)], which)
    check_plain(root_model_stepped_in_place, (m, 0.3), 1, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_parameters_the_root_writes_are_left_as_they_were(which):
    p = Params(0.5, np.array([1.0, 2.0, 3.0]))
    check_object_grad(params_written_by_the_root, (p, X3), 0, [("a",), ("b",)], which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_list_of_objects_passed_to_the_root(which):
    ps = [Particle(0.5, 1.0), Particle(-0.3, 2.0)]
    g = nba.grad(list_of_objects_argument, argnums=0, placement=placement(list_of_objects_argument, which))(ps, 9.8)
    for k, p in enumerate(ps):
        assert np.isclose(read(g[k], "x"), 2 * p.m * 9.8 * p.x)
        assert np.isclose(read(g[k], "m"), 9.8 * p.x ** 2)
    check_plain(list_of_objects_argument, (ps, 9.8), 1, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_nested_dataclass_parameters(which):
    p = OuterP(InnerP(0.5), np.array([1.0, 2.0, 3.0]))
    check_object_grad(nested_dataclass_params, (p, X3), 0, [("inner", "a"), ("b",)], which)


def test_vjp_of_a_function_returning_an_object():
    out, pullback = nba.vjp(returns_a_model, X3)
    assert isinstance(out, KwModel) and np.array_equal(out.u, 2.0 * X3)
    (ct,) = pullback({"u": np.array([1.0, -2.0, 0.5])})
    assert np.allclose(ct, 2.0 * np.array([1.0, -2.0, 0.5]))


def test_an_attribute_set_to_another_class_is_refused_when_the_method_runs():
    with pytest.raises(nba.TransformError, match="self.grid is a Grid2 here, but the code was differentiated "
                                                 "for a Grid") as info:
        nba.grad(swapped_grid)(X3, 0.5)
    assert f"line {source_line(Advect.step, 'self.grid.dx')}," in str(info.value)


# --------------------------------------------------------------------------- refused at the user's line

@pytest.mark.parametrize("f,args,fn,error,message,line_text", [
    (heat_cost, (U5, 0.3), Heat.step, nba.TransformError, r"only `local\[index\] op= value` updates",
     "self.u[1:-1] += self.dt"),
    (writes_an_entry_of_an_attribute, (X3,), State.write, nba.TransformError,
     r"only `name\[index\] = value` writes", "self.x[0] = self.x[0] * 3.0"),
    (nested_attribute_write, (2.0, 0.5), Outer.rescale, nba.TransformError,
     r"only `name.attribute = value` writes", "self.g.dx = self.g.dx * f"),
    (copy_of_self, (X3, 0.5), Cp.moved, nba.TransformError, "writing the attribute `.x` of `c`, an object whose "
     "class is not known here", "c.x = c.x + d"),
    (getattr_of_self, (X3,), G.val, nba.TransformError, "no derivative rule for `getattr`",
     "getattr(self, 'x')"),
    (vars_of_self, (X3, 2.0), V.total, nba.TransformError, r"`vars\(...\)` reads the function's variables",
     "vars(self)"),
    (history_appended_to_an_attribute, (X3,), Hist.step, nba.TransformError,
     r"`.append\(\)` is only supported as a statement on a local list", "self.history.append"),
    (object_called_with_dunder_call, (0.5, X3), None, nba.TransformError,
     "calling the local variable `net` is not supported", "net(x)"),
    (two_names_for_one_object, (X3,), None, nba.TransformError,
     "writing the attribute `.x` of `b`, an object whose class is not known here", "b.x = b.x + 1.0"),
    (global_object_method, (X3,), None, nba.TransformError,
     "no derivative rule for `GLOBAL_MODEL.apply`, a method of a `Scale` object", "GLOBAL_MODEL.apply(x)"),
    (writes_through_a_local_of_an_attribute, (U5, 0.2), Inplace.step, nba.AliasError,
     "writing into `u` also changes `self`", "u[1:-1] = u[1:-1]"),
    (two_locals_of_one_attribute, (X3,), None, nba.AliasError,
     "writing into `b` also changes `a`", "b[0] = 5.0"),
    (inline_write_of_an_aliased_attribute, (X3, 0.7), None, nba.AliasError,
     r"writing into `h\['u'\]` also changes `v`", "h.u *= f"),
    (namespace_holding_an_array_written_by_the_caller, (X3,), None, nba.AliasError,
     "writing into `u` also changes `h`", "u[0] = 5.0 * u[1]"),
    (caller_writes_an_array_a_method_returned, (X3,), None, nba.AliasError,
     "writing into `v` also changes `h`", "v[0] = 5.0 * v[1]"),
    (writes_a_module_level_object, (X3,), None, nba.TransformError,
     "writing into `GL`, which is not a local variable", "GL.s = GL.s * 2.0"),
    (slots_model, (0.5, X3), None, nba.TransformError,
     "objects of Slots cannot be differentiated: it uses __slots__", "s = Slots(a)"),
    (getattr_hook_model, (0.5, X3), None, nba.TransformError,
     "objects of GetHook cannot be differentiated: it defines __getattr__", "s = GetHook(a)"),
    (init_fills_an_attribute_through_a_local, (0.5,), InitWrite.__init__, nba.AliasError,
     "writing into `u` also changes `self`", "u[0] = x"),
    (recursive_method, (0.8, X3), Rec.refine, nba.TransformError, r"recursive call of refine\(\) is not supported",
     "return self.refine("),
    (property_setter, (0.8, X3), None, nba.TransformError, "`p.T = ...` assigns to a property of Prop",
     "p.T = p._T * 2.0"),
    (del_attr, (0.8,), Deleter.clean, nba.TransformError, "`del` statements are not supported", "del self.tmp"),
    (dataclass_replaced, (0.5, np.array([1.0, 2.0, 3.0]), X3), None, nba.TransformError,
     "no derivative rule for `dataclasses.replace`", "dataclasses.replace(p, a=p.a * 2.0)"),
    (namedtuple_built_here, (X3, np.array([1.0, 2.0, 3.0])), None, nba.TransformError,
     "constructing `PV` objects is not supported", "s = PV(x, v)"),
    (local_name_for_a_component, (X3, 0.3), Sim2.advance, nba.TransformError,
     "writing the attribute `.x` of `b`, an object whose class is not known here", "b.x = b.x + a"),
])
def test_refused_at_the_users_line(f, args, fn, error, message, line_text):
    refused_at(f, args, error, message, line_text, fn)


# Objects whose class cannot be known where a method is called (in a list, a dict, returned by a
# function, a classmethod or a method (`m = m.evolve(k)`), chosen by a branch): refused at the call's line.  (The message speaks
# of NumPy array methods: "the method `.pot()` is not supported".)
@pytest.mark.parametrize("f,args,line_text", [
    (list_of_objects_built_here, (np.array([1.0, 2.0]), np.array([0.5, 1.5])), "tot + p.pot()"),
    (method_of_a_returned_object, (1.5, 0.7), "return p.pot()"),
    (object_in_a_dict, (0.5, X3), "m.apply(x)"),
    (objects_unpacked_from_a_tuple, (0.5, X3), "m1.apply(x) + m2.apply(x)"),
    (class_chosen_by_a_branch, (0.5, X3), "return np.sum(m.apply(x))"),
    (built_by_a_classmethod, (0.5, X3), "s.go(x)"),
    (private_attrs_and_new_objects, (X3, 0.3), "return m.energy()"),
])
def test_a_method_of_an_object_of_unknown_class_is_refused_at_its_line(f, args, line_text):
    refused_at(f, args, nba.TransformError, r"the method `\.\w+\(\)` is not supported", line_text)


# --------------------------------------------------------------------------- wrong gradients

WRITE_MISSED = ("a method's `self.attr op= value` writes into the attribute's array in place, but nbadjoint "
                "does not count it as a write into arrays the object holds: another name for that array "
                "(%s) keeps its old adjoint and the gradient is wrong (the same write done inline, "
                "`h.u *= f`, is refused with an AliasError)")


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "a local that took `h.u` before the call")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_alias_taken_before_a_method_writes_in_place(which):
    check_plain(alias_taken_before_a_method_writes_in_place, (X3, 0.7), (0, 1), which)


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "the array the caller gave the constructor")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_array_given_to_the_constructor_then_written_by_a_method(which):
    check_plain(array_given_to_the_constructor_then_written_by_a_method, (X3, 0.7), (0, 1), which)


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "the root's own argument, stored as `self.u = u`; "
                                                      "nbadjoint's gradient is 2*u*f instead of 2*u*f**2, and 0 for f")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_root_array_written_by_a_method(which):
    check_grad(root_array_written_by_a_method, (X3, 0.7), (0, 1), placement=placement(
        root_array_written_by_a_method, which))


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "a second attribute, `self.b = self.a`")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_two_attributes_holding_one_array(which):
    check_plain(two_attributes_one_array, (X3, 0.7), (0, 1), which)


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "the padded array whose interior view is `self.inner`")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_an_interior_view_attribute_written_in_place(which):
    check_plain(interior_view_attribute, (X3, 0.3), (0, 1), which)


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "`snap = acc.s` read after `acc.add(...)`")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_an_accumulator_read_through_an_earlier_name(which):
    check_plain(accumulator_snapshot, (X3,), 0, which)


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "`u_view = m.u`, the model stepped by a helper function")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_helper_steps_a_model_whose_array_is_held(which):
    check_plain(helper_steps_a_model_whose_array_is_held, (X3, 0.2), (0, 1), which)


CTOR_ALIAS = ("an array given to a constructor that stores it (`h = Holder(u)`, `self.u = u`) is not known to "
              "be held by the object: the caller's in-place write `%s` is neither refused nor followed, and the "
              "gradient of `h.u` is wrong (with `SimpleNamespace(u=u)` or `h.u = u` the same write is refused "
              "with an AliasError)")


@pytest.mark.xfail(strict=True, reason=CTOR_ALIAS % "u[0] = 5.0 * u[1]")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_caller_writes_an_array_given_to_the_constructor(which):
    check_plain(caller_writes_an_array_given_to_the_constructor, (X3,), 0, which)


@pytest.mark.xfail(strict=True, reason=CTOR_ALIAS % "u *= 3.0")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_caller_scales_an_array_given_to_the_constructor(which):
    check_plain(caller_scales_an_array_given_to_the_constructor, (X3,), 0, which)


@pytest.mark.xfail(strict=True, reason=WRITE_MISSED % "`a.u = b.u` in the caller, then `b.damp(f)`")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_an_attribute_taken_from_another_object(which):
    check_plain(attribute_taken_from_another_object, (X3, 0.7), (0, 1), which)


# --------------------------------------------------------------------------- crashes

@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="nba.grad of a function with an object argument returns a dict by attribute name, "
                          "not an object of the argument's class (runtime/objects.py gradient_object is never used)")
def test_the_gradient_of_a_dataclass_argument_is_a_dataclass():
    g = nba.grad(dataclass_params, argnums=0)(Params(0.5, np.array([0.1, 0.2, 0.3])), X3)
    assert isinstance(g, Params), type(g)


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="the gradient of a SimpleNamespace argument is a dict, not a SimpleNamespace")
def test_the_gradient_of_a_namespace_argument_is_a_namespace():
    cfg = types.SimpleNamespace(phys=types.SimpleNamespace(k=2.0), scale=0.5)
    g = nba.grad(namespace_config, argnums=0)(cfg, X3)
    assert isinstance(g, types.SimpleNamespace), type(g)


@pytest.mark.xfail(strict=True, raises=AttributeError,
                   reason="reading a property crashes the lowering: normalize_expr.user_call reads `node.args` "
                          "of the ast.Attribute (AttributeError: 'Attribute' object has no attribute 'args')")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_property_computing_an_energy(which):
    check_plain(property_energy, (1.5, 2.0), (0, 1), which)


@pytest.mark.xfail(strict=True, raises=ValueError,
                   reason="a class with a NumPy array class attribute crashes objects.defining_class "
                          "(`func in vars(klass).values()` compares the function with the array: "
                          "ValueError, truth value of an array is ambiguous)")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_class_constant_array_read_through_self(which):
    check_plain(class_constant_array, (1.5,), 0, which)


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="nba.grad(f) compiles f before it sees the arguments, so a method of an object passed "
                          "to the root (no annotation) is refused as `the method .apply() is not supported`, with "
                          "a hint about NumPy array methods")
def test_a_method_of_an_unannotated_model_argument():
    check_object_grad(unannotated_model, (Base(2.0), X3), 0, [("a",)], "default")


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="as above, for a dataclass with a method: `.forward()` is not supported")
def test_a_method_of_an_unannotated_dataclass_argument():
    check_object_grad(unannotated_dataclass_method, (Lin(np.array([1.0, 2.0, 0.5]), 0.3), X3), 0,
                      [("w",), ("b",)], "default")


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="as above, and a method named `f` is taken for a random draw: 'random numbers drawn "
                          "by `obj.f(...)` ... no pathwise derivative is known for `f`'")
def test_a_method_named_f_of_an_unannotated_argument():
    check_object_grad(unannotated_method_named_f, (HasF(2.0), X3), 0, [("a",)], "default")


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="as above, writing an attribute of a SimpleNamespace argument: 'an object whose class "
                          "is not known here', while the hint lists arguments of the function being differentiated "
                          "as known")
def test_an_attribute_write_into_an_unannotated_namespace_argument():
    check_object_grad(unannotated_namespace_write, (types.SimpleNamespace(u=X3.copy()), 0.3), 0, [("u",)],
                      "default")


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="an object built in the call's arguments, `use_model(Base(a), x)`, does not give "
                          "use_model's parameter a class (a name, `m = Base(a); use_model(m, x)`, does): "
                          "refused as `the method .apply() is not supported`")
def test_a_constructor_as_an_argument():
    check_plain(constructor_as_an_argument, (0.5, X3), (0, 1), "default")


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="a base class and a subclass that inherits its __init__, both built in one program: "
                          "`self` in Base.__init__ gets no class, refused as 'writing the attribute `.a` of "
                          "`self`, an object whose class is not known here'")
def test_a_base_and_a_subclass_sharing_init():
    check_plain(base_and_subclass_sharing_init, (0.5, X3), (0, 1), "default")


@pytest.mark.xfail(strict=True,
                   reason="objects of two classes passed to one helper: refused at Base.__init__'s "
                          "`self.a = a` ('class of `self` not known') instead of at the helper's `m.apply(x)`")
def test_two_classes_through_one_helper_are_refused_at_the_helpers_call():
    refused_at(two_classes_through_one_helper, (0.5, X3), nba.TransformError, "apply", "return np.sum(m.apply(x))",
               use_model)


@pytest.mark.xfail(strict=True, raises=nba.PlacementError,
                   reason="nba.call_sites(f) names `Base.apply` (compiled without arguments) but a Sub argument "
                          "compiles `Sub.apply`: a placement built from call_sites is refused as unknown sites")
@pytest.mark.parametrize("which", ["split", "checkpointed"])
def test_placing_the_calls_of_a_subclass_argument(which):
    check_object_grad(annotated_model, (Sub(2.0), X3), 0, [("a",)], which)


@pytest.mark.xfail(strict=True, raises=ValueError,
                   reason="a list of arrays of different shapes stored in an attribute (`self.ws = ws`) crashes "
                          "the tape when the gradient w.r.t. the list is asked: runtime/tape.write_shape calls "
                          "np.shape on the ragged list")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_ragged_list_of_weights_held_by_an_object(which):
    check_plain(mlp_cost, (WS, X3), (0, 1), which)


@pytest.mark.xfail(strict=True, raises=TypeError,
                   reason="`self.history += [self.x]` in a method raises a TypeError about lists built with `+` "
                          "that names no line and suggests `.append`, itself refused on an attribute")
def test_history_extended_with_plus_equals():
    check_plain(history_extended_with_plus_equals, (X3,), 0, "default")


COMPONENT = ("a method that changes a component object (`self.grid = Cell(...)` in __init__, then %s) is refused "
             "with an AliasError \"writing into `self['%s']` also changes `self` as the caller passed it\" whose hint "
             "(\"self = self.copy() for an array, self = [v.copy() for v in self] for a list\") does not apply to "
             "an object; nothing here is shared with the caller")


@pytest.mark.xfail(strict=True, raises=nba.AliasError, reason=COMPONENT % ("`self.grid.refine()`", "grid"))
def test_a_component_mutated_by_its_own_method():
    check_plain(component_mutated_by_its_own_method, (0.4, X3), (0, 1), "default")


@pytest.mark.xfail(strict=True, raises=nba.AliasError, reason=COMPONENT % ("`kick(self.body, a)`", "body"))
def test_a_method_hands_a_component_to_a_helper_that_updates_it():
    check_plain(method_hands_a_component_to_a_helper, (X3, 0.3), (0, 1), "default")


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="a frozen dataclass built in the function is refused: 'objects of FrozenState cannot be "
                          "differentiated: it defines __setattr__' (objects.record_problem sees the __setattr__ "
                          "that frozen=True adds), though runtime/objects.set_field exists for frozen dataclasses "
                          "under construction and frozen dataclass arguments are read")
def test_a_frozen_dataclass_built_in_the_function():
    check_plain(frozen_dataclass_built_here, (X3, 0.1), (0, 1), "default")
