"""Object-oriented NumPy code the way scientists write it, differentiated with classes as records:
solvers with their state in attributes, in-place updates of attribute arrays, inheritance with an
overridden `rhs`, composition (`self.grid.dx`), properties, dataclass / SimpleNamespace /
namedtuple parameter containers passed to the root, objects in lists and dicts, objects returned
by functions, module-level objects, aliasing between attributes and locals.

Each case runs under the default placement, with every call split and with every call
checkpointed; gradients are compared with finite differences, and the caller's arguments must be
left as they were.  A case is either differentiated correctly, or refused with an nbadjoint error
naming the user's line; the cases where nbadjoint gives a wrong gradient, crashes, refuses a placement
that nba.call_sites gave, or refuses with a message that is false or names an internal temporary are
marked xfail (strict) with what goes wrong.  Loops over methods writing `self` are also run keeping
snapshots (`nba.loops(f)` placements), with every call split or checkpointed."""
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

def placement(f, which, args=None):
    """None, every call split or every call checkpointed; with ``args``, the call sites of ``f``
    called with them (the methods of object arguments followed for their classes)."""
    if which == "default":
        return None
    if which == "split" and args is None:
        return all_split(f)
    return {site: which == "checkpointed" for site in nba.call_sites(f, args=args)}


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
    g = nba.grad(f, argnums=num, placement=placement(f, which, args))(*call)
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
    nba.grad(f, argnums=argnums, placement=placement(f, which, args))(*call)
    assert_bitwise_equal(as_tree(call), before, "arguments after nba.grad")
    return check_grad(f, args, argnums, rtol=rtol, atol=atol, placement=placement(f, which, args))


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


def annotated_method_named_f(obj: HasF, x):
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


# the cases above with the caller's array copied, and more of what methods may do

def history_of_a_copy(x):
    h = Hist(x.copy())
    for _ in range(3):
        h.step()
    t = np.sum(h.x)
    for v in h.history:
        t = t + np.sum(v ** 2)
    return t


def history_extended_of_a_copy(x):
    h = HistAug(x.copy())
    for _ in range(3):
        h.step()
    return h.total()


def component_refined_of_a_copy(dx, u):
    s = Refiner(dx, u.copy())
    for _ in range(3):
        s.step()
    return np.sum(s.u ** 2) + s.grid.dx


class Timed:
    def __init__(self, u, dt):
        self.u = u
        self.t = 0.0
        self.dt = dt

    def step(self):
        self.t += self.dt
        self.u = self.u * np.cos(self.t)


def clock_holding_the_callers_array(u, dt):
    m = Timed(u, dt)
    for _ in range(3):
        m.step()
    return np.sum(m.u * u) + m.t ** 2


class HeatN:
    def __init__(self, u0, kappa, dt):
        self.u = u0
        self.kappa = kappa
        self.dt = dt

    def step(self):
        lap = self.u[2:] - 2 * self.u[1:-1] + self.u[:-2]
        self.u[1:-1] += self.dt * self.kappa * lap


def heat_on_a_local_not_read_again(u0, kappa):
    u = u0 * 1.0
    s = HeatN(u, kappa, 0.1)
    s.step()
    return np.sum(s.u ** 2)


def heat_on_a_local_read_again(u0, kappa):
    u = u0 * 1.0
    s = HeatN(u, kappa, 0.1)
    s.step()
    return np.sum(s.u ** 2) + np.sum(u)


def heat_on_the_roots_argument(u0, kappa):
    s = HeatN(u0, kappa, 0.1)
    s.step()
    return np.sum(s.u ** 2)


def holder_damped_in_a_callee(u, f):
    h = Holder(u)
    h.damp(f)
    return np.sum(h.u ** 2)


def callee_damps_the_callers_array(x, f):
    w = x * 1.0
    return holder_damped_in_a_callee(w, f) + np.sum(w)


class Temp:
    def __init__(self, T):
        self._T = T

    @property
    def T(self):
        return self._T

    @T.setter
    def T(self, v):
        self._T = v

    def cool(self, r):
        self.T = self.T * r


def property_with_a_setter_read(T0, r):
    p = Temp(T0)
    return p.T * r + p._T ** 2


def property_setter_called_by_a_method(T0, r):
    p = Temp(T0)
    p.cool(r)
    return p.T ** 2


W_SHARED = np.array([1.0, 2.0, 3.0])


@dataclass
class SharedDefault:
    k: float
    w: np.ndarray = field(default_factory=lambda: W_SHARED)


def default_factory_array_written(k, x):
    p = SharedDefault(k)
    p.w *= k
    return np.sum(p.w * x)


@dataclass
class Affine:
    k: float
    w: np.ndarray = field(default_factory=lambda: np.ones(3))

    def scaled(self, x):
        return self.k * self.w * x


def default_factory_dataclass_argument(p, x):
    p.w = p.w * p.k
    return np.sum(p.scaled(x) ** 2)


def subclass_list(a, x):
    ms = [Sub(a), Sub(2.0 * a)]
    tot = 0.0
    for m in ms:
        tot = tot + np.sum(m.apply(x))
    return tot


def mixed_list(a, x):
    ms = [Base(a), Sub(2.0 * a)]
    tot = 0.0
    for m in ms:
        tot = tot + np.sum(m.apply(x))
    return tot


def list_of_models_argument(ms, x):
    tot = 0.0
    for m in ms:
        tot = tot + np.sum(m.apply(x))
    return tot


class Ensemble:
    def __init__(self, ms):
        self.ms = ms

    def total(self, x):
        t = 0.0
        for m in self.ms:
            t = t + np.sum(m.apply(x))
        return t


def list_of_models_in_an_attribute(a, x):
    e = Ensemble([Sub(a), Sub(2.0 * a)])
    return e.total(x)


def entry_of_a_list_read(x, a):
    ms = [Base(a), Base(2.0 * a)]
    return np.sum(ms[1].apply(x))


def entries_of_a_list_read_in_a_loop(x, a):
    ms = [Model(x.copy(), a), Model(2.0 * x, 0.7)]
    t = 0.0
    for m in ms:
        t = t + np.sum(m.u * m.k)
    return t


def models_of_a_list_stepped(x, a):
    ms = [Model(x.copy(), 0.5), Model(2.0 * x, 0.7)]
    for m in ms:
        m.step(a)
    return np.sum(ms[0].u * ms[1].u)


def entry_of_a_list_stepped(x, a):
    ms = [Model(x.copy(), 0.5), Model(2.0 * x, 0.7)]
    ms[0].step(a)
    return np.sum(ms[0].u ** 2) + np.sum(ms[1].u)


GLOBAL_ACC = Acc(3)


def global_object_method_writes(x):
    GLOBAL_ACC.add(x ** 2)
    return np.sum(GLOBAL_ACC.s * x)


def method_returning_self_then_written(x):
    r = RetSelf(x)
    r2 = r.double()
    r.x = r.x + 1.0
    return np.sum(r2.x ** 2)


class Rk:
    def __init__(self, u, k):
        self.u = u.copy()
        self.k = k
        self.t = 0.0
        self.hist = []

    def step(self, dt):
        self.u[1:-1] += dt * self.k * (self.u[2:] - 2 * self.u[1:-1] + self.u[:-2])
        self.u[0] = self.u[0] * np.cos(self.t)
        self.t += dt
        self.hist.append(np.sum(self.u ** 2))

    def run(self, dt, n):
        for _ in range(n):
            self.step(dt)
        return self.u


def loop_in_a_method(u, k):
    m = Rk(u, k)
    y = m.run(0.1, 7)
    tot = 0.0
    for e in m.hist:
        tot = tot + e
    return np.sum(y ** 2) + tot + m.t


def loop_over_a_method(u, k):
    m = Rk(u, k)
    for _ in range(6):
        m.step(0.05)
    return np.sum(m.u ** 2) + m.hist[2] * m.t


def loop_replacing_the_object(u, k):
    m = Immutable(u)
    for _ in range(5):
        m = m.evolve(k)
    return m.energy()


class Buffered:
    def __init__(self, u):
        self.u = u.copy()
        self.buf = np.zeros_like(u)

    def step(self, a):
        self.buf[:] = np.sin(self.u)
        self.u += a * self.buf


def loop_with_a_work_buffer(u, a):
    m = Buffered(u)
    for _ in range(5):
        m.step(a)
    return np.sum(m.u ** 2)


def work_buffer_set_to_the_state(u, a):
    m = Buffered(u)
    m.buf = m.u
    for _ in range(3):
        m.step(a)
    return np.sum(m.u ** 2)


class Walker:
    def __init__(self, u, k):
        self.u = u
        self.k = k

    def step(self, a):
        self.u = self.u + a * self.k * np.sin(self.u)


def loop_over_a_method_of_an_argument(m, a):
    for _ in range(5):
        m.step(a)
    return np.sum(m.u ** 2)


class Mesh:
    def __init__(self, dx):
        self.dx = dx

    def refine(self):
        self.dx = self.dx * 0.9


class OnMesh:
    def __init__(self, mesh, u):
        self.mesh = mesh
        self.u = u.copy()

    def step(self):
        self.mesh.refine()
        self.u = self.u + self.mesh.dx * np.sin(self.u)

    def read_step(self):
        self.u = self.u + self.mesh.dx * np.sin(self.u)


def component_given_to_the_constructor_read(dx, u):
    s = OnMesh(Mesh(dx), u)
    s.read_step()
    s.read_step()
    return np.sum(s.u ** 2)


def component_given_to_the_constructor_refined(dx, u):
    s = OnMesh(Mesh(dx), u)
    for _ in range(3):
        s.step()
    return np.sum(s.u ** 2)


def component_stepped_by_a_helper(x, a):
    s = Sim(x)
    s.run(a, 2)
    s.run(a, 1)
    return np.sum(s.body.x ** 2)


class StateLog:
    def __init__(self, u):
        self.u = u.copy()
        self.hist = []

    def step(self, a):
        self.hist.append(self.u)
        self.u[1:] += a * np.sin(self.u[:-1])


def history_of_a_state_written_in_place(u, a):
    h = StateLog(u)
    h.step(a)
    h.step(a)
    return np.sum(h.hist[0] ** 2)


class Tabled:
    TABLE = np.array([1.0, 2.0])

    def __init__(self, h):
        self.h = h

    def bump(self):
        self.TABLE[0] = self.TABLE[0] * self.h
        return np.sum(self.TABLE * self.h)


def class_array_written_by_a_method(h):
    c = Tabled(h)
    return c.bump()


@dataclass(frozen=True)
class FrozenArr:
    u: np.ndarray
    t: float


def entry_of_a_frozen_dataclass_array_written(u, a):
    s = FrozenArr(u.copy(), 0.5)
    s.u[0] = s.u[0] * a
    return np.sum(s.u ** 2) * s.t


def list_member_stepped_by_its_name(x, k):
    a = Model(x.copy(), 0.5)
    ms = [a, Model(2.0 * x, 0.7)]
    a.step(k)
    t = 0.0
    for m in ms:
        t = t + np.sum(m.u ** 2)
    return t


def make_holder(u):
    return Holder(u)


def factory_holding_the_callers_array(x, f):
    w = x * 1.0
    h = make_holder(w)
    h.damp(f)
    return np.sum(w ** 2) + np.sum(h.u)


class Made:
    def __init__(self, u):
        self.u = u

    @classmethod
    def of(cls, u):
        return cls(u)

    def scale(self, f):
        self.u *= f


def classmethod_holding_the_callers_array(x, f):
    w = x * 1.0
    m = Made.of(w)
    m.scale(f)
    return np.sum(w ** 2)


class Chain:
    def __init__(self, u):
        self.u = u.copy()

    def scale(self, f):
        self.u *= f
        return self


def chained_method_then_an_old_name(x, f):
    c = Chain(x)
    d = c.scale(f)
    v = d.u
    c.scale(0.5)
    return np.sum(v ** 2)


def damp_and_sum(h, f):
    h.damp(f)
    return np.sum(h.u)


def constructor_argument_holding_the_callers_array(x, f):
    w = x * 1.0
    s = damp_and_sum(Holder(w), f)
    return np.sum(w ** 2) + s


class Appender:
    def __init__(self, log):
        self.log = log

    def add(self, v):
        self.log.append(v)


def list_given_to_the_constructor_appended_by_a_method(x):
    log = []
    m = Appender(log)
    m.add(np.sum(x ** 2))
    return log[0]


class Logged:
    def __init__(self, u):
        self.log = []
        self.u = u

    def step(self, a):
        self.u = self.u + a * np.sin(self.u)
        self.log.append(np.sum(self.u ** 2))


def list_attribute_read_through_an_earlier_name(u, a):
    m = Logged(u.copy())
    log = m.log
    m.step(a)
    return log[0]


class SharedLog:
    def __init__(self, log, u):
        self.log = log
        self.u = u

    def step(self, a):
        self.u = self.u + a * np.sin(self.u)
        self.log.append(np.sum(self.u ** 2))


def list_attribute_appended_by_a_method(u, a):
    m = Logged(u.copy())
    m.step(a)
    m.step(a)
    return m.log[0] * m.log[1]


def one_log_for_two_models(u, a):
    log = []
    m1 = SharedLog(log, u.copy())
    m2 = SharedLog(log, 2.0 * u)
    for _ in range(4):
        m1.step(a)
        m2.step(a)
    return log[1] * log[6]


class DictState:
    def __init__(self, u):
        self.state = {"u": u.copy(), "t": 0.0}

    def step(self, a):
        self.state["u"] += a * np.sin(self.state["u"])
        self.state["t"] = self.state["t"] + a


def dict_of_state_in_an_attribute(u, a):
    m = DictState(u)
    for _ in range(3):
        m.step(a)
    return np.sum(m.state["u"] ** 2) + m.state["t"] ** 2


class Layers:
    def __init__(self, ws):
        self.ws = [w.copy() for w in ws]

    def decay(self, r):
        for i in range(len(self.ws)):
            self.ws[i] = self.ws[i] * r

    def forward(self, x):
        for w in self.ws:
            x = np.tanh(w @ x)
        return x


def ragged_layers_decayed(ws, x, r):
    n = Layers(ws)
    n.decay(r)
    return np.sum(n.forward(x) ** 2)


def annotated_model_stepped_in_a_loop(m: Model, a):
    for _ in range(4):
        m.step(a)
    return np.sum(m.u ** 2)


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
    # refused or crashing before, differentiated now
    (heat_cost, (U5, 0.3), (0, 1)),
    (writes_an_entry_of_an_attribute, (X3,), 0),
    (global_object_method, (X3,), 0),
    (list_of_objects_built_here, (np.array([1.0, 2.0]), np.array([0.5, 1.5])), (0, 1)),
    (method_of_a_returned_object, (1.5, 0.7), (0, 1)),
    (built_by_a_classmethod, (0.5, X3), (0, 1)),
    (private_attrs_and_new_objects, (X3, 0.3), (0, 1)),
    (property_energy, (1.5, 2.0), (0, 1)),
    (class_constant_array, (1.5,), 0),
    (constructor_as_an_argument, (0.5, X3), (0, 1)),
    (base_and_subclass_sharing_init, (0.5, X3), (0, 1)),
    (mlp_cost, (WS, X3), (0, 1)),
    (frozen_dataclass_built_here, (X3, 0.1), (0, 1)),
    # the caller's array copied before a method appends it, or changes a component
    (history_of_a_copy, (X3,), 0),
    (history_extended_of_a_copy, (X3,), 0),
    (component_refined_of_a_copy, (0.4, X3), (0, 1)),
    # `self.t += self.dt` next to the caller's array, which no method writes
    (clock_holding_the_callers_array, (X3, 0.3), (0, 1)),
    # a method writes in place into the caller's local array, not read again by the caller
    (heat_on_a_local_not_read_again, (U5, 0.3), (0, 1)),
    (property_with_a_setter_read, (1.5, 0.8), (0, 1)),
    # Sub.apply (the override) for every entry of a list of Sub objects
    (subclass_list, (0.5, X3), (0, 1)),
    (entry_of_a_list_read, (X3, 0.3), (0, 1)),
    (entries_of_a_list_read_in_a_loop, (X3, 0.3), (0, 1)),
    (component_given_to_the_constructor_read, (0.4, X3), (0, 1)),
    (loop_in_a_method, (U5, 0.3), (0, 1)),
    (loop_over_a_method, (U5, 0.3), (0, 1)),
    (loop_replacing_the_object, (X3, 0.3), (0, 1)),
    (loop_with_a_work_buffer, (X3, 0.3), (0, 1)),
    (list_attribute_appended_by_a_method, (X3, 0.3), (0, 1)),
    (ragged_layers_decayed, (WS, X3, 0.9), (0, 1, 2)),
    (object_called_with_dunder_call, (0.5, X3), (0, 1)),     # net(x): Net.__call__
    (mixed_list, (0.5, X3), (0, 1)),        # objects of two classes: each one's method, chosen when it runs
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


@pytest.mark.xfail(strict=True, raises=TypeError,
                   reason="nba.vjp's pullback of a function returning a KwModel takes a dict by attribute name "
                   "(above) but refuses a KwModel cotangent, 'the structure of out' by nba.vjp's docstring, with "
                   "\"TypeError: the adjoint of an object written by attribute is a KwModel\", which says neither "
                   "what is expected nor where")
def test_vjp_of_a_function_returning_an_object_with_a_cotangent_of_its_class():
    out, pullback = nba.vjp(returns_a_model, X3)
    (ct,) = pullback(KwModel(np.array([1.0, -2.0, 0.5])))
    assert np.allclose(ct, 2.0 * np.array([1.0, -2.0, 0.5]))


@pytest.mark.xfail(strict=True, raises=RuntimeError,
                   reason="a pullback called with a cotangent it refuses (a TypeError) is consumed all the same: "
                   "called again with a right cotangent it raises 'this pullback was already used: its tape is "
                   "consumed; call nba.vjp again'")
def test_a_pullback_refusing_a_cotangent_can_be_called_again():
    out, pullback = nba.vjp(returns_a_model, X3)
    with pytest.raises(TypeError):
        pullback(KwModel(np.array([1.0, -2.0, 0.5])))
    (ct,) = pullback({"u": np.array([1.0, -2.0, 0.5])})
    assert np.allclose(ct, 2.0 * np.array([1.0, -2.0, 0.5]))


def test_an_attribute_set_to_another_class_is_refused_when_the_method_runs():
    with pytest.raises(nba.TransformError, match="self.grid is a Grid2 here, but the code was differentiated "
                                                 "for a Grid") as info:
        nba.grad(swapped_grid)(X3, 0.5)
    assert f"line {source_line(Advect.step, 'self.grid.dx')}," in str(info.value)


# --------------------------------------------------------------------------- refused at the user's line

@pytest.mark.parametrize("f,args,fn,error,message,line_text", [
    (nested_attribute_write, (2.0, 0.5), Outer.rescale, nba.TransformError,
     r"only `name.attribute = value` writes", "self.g.dx = self.g.dx * f"),
    (copy_of_self, (X3, 0.5), Cp.moved, nba.TransformError, "writing the attribute `.x` of `c`, an object whose "
     "class is not known here", "c.x = c.x + d"),
    (getattr_of_self, (X3,), G.val, nba.TransformError, "no derivative rule for `getattr`",
     "getattr(self, 'x')"),
    (vars_of_self, (X3, 2.0), V.total, nba.TransformError, r"`vars\(...\)` reads the function's variables",
     "vars(self)"),
    (two_names_for_one_object, (X3,), None, nba.TransformError,
     "writing the attribute `.x` of `b`, an object whose class is not known here", "b.x = b.x + 1.0"),
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
    # a method writing in place into an array that another name still reads (wrong gradients before)
    (alias_taken_before_a_method_writes_in_place, (X3, 0.7), None, nba.AliasError,
     r"Holder.damp\(\) writes into the arrays held in `h` \(its parameter `self`\), and one of them is `v` "
     r"\(or shares its memory\), which is used afterwards", "h.damp(f)"),
    (array_given_to_the_constructor_then_written_by_a_method, (X3, 0.7), None, nba.AliasError,
     r"Holder.damp\(\) writes into the arrays held in `h` \(its parameter `self`\), and one of them is `w` ",
     "h.damp(f)"),
    (root_array_written_by_a_method, (X3, 0.7), None, nba.AliasError,
     r"Holder.damp\(\) writes into the arrays held in `h` \(its parameter `self`\), and one of them is the "
     r"argument `u` of root_array_written_by_a_method\(\): nbadjoint does not write into its caller's arrays",
     "h.damp(f)"),
    (accumulator_snapshot, (X3,), None, nba.AliasError,
     r"Acc.add\(\) writes into the arrays held in `acc` \(its parameter `self`\), and one of them is `snap` ",
     "acc.add(x ** 2)"),
    (helper_steps_a_model_whose_array_is_held, (X3, 0.2), None, nba.AliasError,
     r"run_stepper\(\) writes into the arrays held in `m` \(its parameter `m`\), and one of them is `u_view` ",
     "run_stepper(m, a, 2)"),
    (caller_writes_an_array_given_to_the_constructor, (X3,), None, nba.AliasError,
     "writing into `u` also changes `h`, which shares its memory and is used afterwards", "u[0] = 5.0 * u[1]"),
    (caller_scales_an_array_given_to_the_constructor, (X3,), None, nba.AliasError,
     "writing into `u` also changes `h`, which shares its memory and is used afterwards", "u *= 3.0"),
    (attribute_taken_from_another_object, (X3, 0.7), None, nba.AliasError,
     r"Holder.damp\(\) writes into the arrays held in `b` \(its parameter `self`\), and one of them is `a` ",
     "b.damp(f)"),
    (heat_on_a_local_read_again, (U5, 0.3), None, nba.AliasError,
     r"HeatN.step\(\) writes into the arrays held in `s` \(its parameter `self`\), and one of them is `u` ",
     "s.step()"),
    (heat_on_the_roots_argument, (U5, 0.3), None, nba.AliasError,
     r"HeatN.step\(\) writes into the arrays held in `s` \(its parameter `self`\), and one of them is the "
     r"argument `u0` of heat_on_the_roots_argument\(\)", "s.step()"),
    (callee_damps_the_callers_array, (X3, 0.7), holder_damped_in_a_callee, nba.AliasError,
     r"Holder.damp\(\) writes into the arrays held in `h` \(its parameter `self`\), and one of them is the "
     r"argument `u` of holder_damped_in_a_callee\(\)", "h.damp(f)"),
    (models_of_a_list_stepped, (X3, 0.3), None, nba.AliasError,
     "writing into `m` also changes `ms`, which shares its memory and is used afterwards", "m.step(a)"),
    (method_returning_self_then_written, (X3,), None, nba.AliasError,
     "writing into `r` also changes `r2`, which shares its memory and is used afterwards", "r.x = r.x + 1.0"),
    (global_object_method_writes, (X3,), None, nba.TransformError,
     r"`GLOBAL_ACC.add\(...\)` changes the global `GLOBAL_ACC`: differentiated code cannot change global state",
     "GLOBAL_ACC.add(x ** 2)"),
    (property_setter_called_by_a_method, (1.5, 0.8), Temp.cool, nba.TransformError,
     "`self.T = ...` assigns to a property of Temp, which is not supported", "self.T = self.T * r"),
    (list_member_stepped_by_its_name, (X3, 0.3), None, nba.AliasError,
     "writing into `a` also changes `ms`, which shares its memory and is used afterwards", "a.step(k)"),
    (factory_holding_the_callers_array, (X3, 0.7), None, nba.AliasError,
     r"Holder.damp\(\) writes into the arrays held in `h` \(its parameter `self`\), and one of them is `w` ",
     "h.damp(f)"),
    (classmethod_holding_the_callers_array, (X3, 0.7), None, nba.AliasError,
     r"Made.scale\(\) writes into the arrays held in `m` \(its parameter `self`\), and one of them is `w` ",
     "m.scale(f)"),
    (chained_method_then_an_old_name, (X3, 0.7), None, nba.AliasError,
     r"Chain.scale\(\) writes into the arrays held in `c` \(its parameter `self`\), and one of them is `v` ",
     "c.scale(0.5)"),
    # objects of two classes where one class is needed
    (two_classes_through_one_helper, (0.5, X3), use_model, nba.TransformError,
     r"`m.apply\(...\)`: `.apply\(\)` is not an array method, and the class of `m` is not known here",
     "return np.sum(m.apply(x))"),
    (list_of_models_argument, ([Sub(0.5), Sub(1.0)], X3), None, nba.TransformError,
     r"`.apply\(\)` is not an array method, and the class of `m` is not known here", "np.sum(m.apply(x))"),
    (list_of_models_in_an_attribute, (0.5, X3), Ensemble.total, nba.TransformError,
     r"`.apply\(\)` is not an array method, and the class of `m` is not known here", "np.sum(m.apply(x))"),
])
def test_refused_at_the_users_line(f, args, fn, error, message, line_text):
    refused_at(f, args, error, message, line_text, fn)


# Objects whose class cannot be known where a method is called (taken from a dict, unpacked from a
# tuple, chosen by a branch): refused at the call's line, naming the variable.
@pytest.mark.parametrize("f,args,name,line_text", [
    (object_in_a_dict, (0.5, X3), "m", "m.apply(x)"),
    (objects_unpacked_from_a_tuple, (0.5, X3), "m1", "m1.apply(x) + m2.apply(x)"),
    (class_chosen_by_a_branch, (0.5, X3), "m", "return np.sum(m.apply(x))"),
    (class_chosen_by_a_branch, (-0.5, X3), "m", "return np.sum(m.apply(x))"),
])
def test_a_method_of_an_object_of_unknown_class_is_refused_at_its_line(f, args, name, line_text):
    refused_at(f, args, nba.TransformError,
               rf"`{name}.apply\(...\)`: `.apply\(\)` is not an array method, and the class of `{name}` is not "
               r"known here", line_text)


# --------------------------------------------------------------------------- wrong gradients

# Two attributes of one object holding one array (or one holding a view of the other): a method's
# in-place write through one attribute changes the other: refused at the line, as below for a list
# an object holds that another name also holds.  (Writes
# through another name outside the object -- a local, the caller's array, another object's attribute --
# are refused above.)

@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("f, args, argnums", [
    (two_attributes_one_array, (X3, 0.7), (0, 1)),
    (interior_view_attribute, (X3, 0.3), (0, 1)),
    (work_buffer_set_to_the_state, (X3, 0.3), (0, 1)),
    (history_of_a_state_written_in_place, (X3, 0.3), (0, 1)),
    (list_given_to_the_constructor_appended_by_a_method, (X3,), 0),
    (list_attribute_read_through_an_earlier_name, (X3, 0.3), (0, 1)),
    (one_log_for_two_models, (X3, 0.3), (0, 1)),
], ids=lambda v: getattr(v, "__name__", None))
def test_a_write_another_name_or_attribute_still_sees_is_refused_at_the_line(f, args, argnums, which):
    with pytest.raises(nba.AliasError, match=r"the adjoint would miss that dependence \(.*, line \d+, in "):
        check_plain(f, args, argnums, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_class_array_written_by_a_method_is_refused(which):
    saved = Tabled.TABLE.copy()
    try:
        with pytest.raises((nba.TransformError, nba.AliasError)) as info:
            nba.grad(class_array_written_by_a_method,
                     placement=placement(class_array_written_by_a_method, which))(1.5)
        lines = (source_line(Tabled.bump, "self.TABLE[0] ="), source_line(class_array_written_by_a_method, "c.bump()"))
        assert any(f"line {n}," in str(info.value) for n in lines), str(info.value)
        assert np.array_equal(Tabled.TABLE, saved)
    finally:
        Tabled.TABLE[:] = saved


@pytest.mark.parametrize("which", PLACEMENTS)
def test_an_entry_of_a_frozen_dataclass_array_written(which):
    check_plain(entry_of_a_frozen_dataclass_array_written, (X3, 0.3), (0, 1), which)


# --------------------------------------------------------------------------- objects as arguments and gradients

@pytest.mark.parametrize("which", PLACEMENTS)
def test_the_gradient_of_a_dataclass_argument_is_a_dataclass(which):
    p = Params(0.5, np.array([0.1, 0.2, 0.3]))
    g = check_object_grad(dataclass_params, (p, X3), 0, [("a",), ("b",)], which)
    assert type(g) is Params, type(g)
    assert g.n is None                                   # an int field
    assert isinstance(g.a, float) and g.b.shape == (3,) and g.b.dtype == np.float64


@pytest.mark.parametrize("which", PLACEMENTS)
def test_the_gradient_of_a_namespace_argument_is_a_namespace(which):
    cfg = types.SimpleNamespace(phys=types.SimpleNamespace(k=2.0), scale=0.5)
    g = check_object_grad(namespace_config, (cfg, X3), 0, [("phys", "k"), ("scale",)], which)
    assert type(g) is types.SimpleNamespace and type(g.phys) is types.SimpleNamespace
    assert sorted(vars(g)) == ["phys", "scale"] and sorted(vars(g.phys)) == ["k"]


def namespace_with_flags(cfg, x):
    y = x * cfg.k
    if cfg.flag:
        y = y * 2.0
    for _ in range(cfg.n):
        y = np.sin(y)
    return np.sum(y)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_int_and_bool_fields_of_a_namespace_get_none(which):
    cfg = types.SimpleNamespace(k=0.5, flag=True, n=2)
    g = check_object_grad(namespace_with_flags, (cfg, X3), 0, [("k",)], which)
    assert g.flag is None and g.n is None


@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_dataclass_argument_with_a_default_factory(which):
    p = Affine(0.5, np.array([1.0, 2.0, 3.0]))
    g = check_object_grad(default_factory_dataclass_argument, (p, X3), 0, [("k",), ("w",)], which)
    assert type(g) is Affine
    check_plain(default_factory_dataclass_argument, (p, X3), 1, which)


@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_default_factory_returning_a_module_array_written_in_place(which):
    """`p.w *= k` writes into the module's W_SHARED: the function is not pure (each plain call scales
    W_SHARED again), so the gradient is that of the first call, and nba.grad leaves W_SHARED as it was."""
    before = W_SHARED.copy()
    g = nba.grad(default_factory_array_written, argnums=(0, 1),
                 placement=placement(default_factory_array_written, which))(2.0, X3)
    assert np.array_equal(W_SHARED, before)
    assert np.isclose(g[0], np.sum(before * X3)) and np.allclose(g[1], 2.0 * before)


@pytest.mark.parametrize("which", PLACEMENTS)
@pytest.mark.parametrize("m", [Base(2.0), Sub(2.0)], ids=["Base", "Sub"])
def test_a_method_of_an_unannotated_model_argument(m, which):
    g = check_object_grad(unannotated_model, (m, X3), 0, [("a",)], which)
    assert type(g) is type(m)
    grad_x = check_plain(unannotated_model, (m, X3), 1, which)
    assert np.allclose(grad_x, 2.0 * (2.0 * X3 if type(m) is Sub else 1.0))   # Sub.apply: a * x ** 2


@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_method_of_an_unannotated_dataclass_argument(which):
    p = Lin(np.array([1.0, 2.0, 0.5]), 0.3)
    g = check_object_grad(unannotated_dataclass_method, (p, X3), 0, [("w",), ("b",)], which)
    assert type(g) is Lin


@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="a method named `f` of an unannotated argument of the root, `obj.f(x)`, is taken for a "
                          "random draw: 'random numbers drawn by `obj.f(...)` with a parameter that carries a "
                          "derivative: no pathwise derivative is known for `f`' (the same class annotated, "
                          "`obj: HasF`, or built in the function, is differentiated)")
def test_a_method_named_f_of_an_unannotated_argument():
    check_object_grad(unannotated_method_named_f, (HasF(2.0), X3), 0, [("a",)], "default")


@pytest.mark.parametrize("which", PLACEMENTS)
def test_an_attribute_write_into_an_unannotated_namespace_argument(which):
    g = check_object_grad(unannotated_namespace_write, (types.SimpleNamespace(u=X3.copy()), 0.3), 0, [("u",)],
                          which)
    assert type(g) is types.SimpleNamespace


def test_a_method_named_f_of_an_annotated_argument():
    check_object_grad(annotated_method_named_f, (HasF(2.0), X3), 0, [("a",)], "default")


@pytest.mark.parametrize("which", ["split", "checkpointed"])
def test_placing_the_calls_of_a_subclass_argument(which):
    """The call sites of the classes of the arguments (`call_sites(f, args=...)`) place the call."""
    args = (Sub(2.0), X3)
    sites = nba.call_sites(annotated_model, args=args)
    assert any(s.endswith(":Sub.apply") for s in sites)
    g = nba.grad(annotated_model, argnums=(0, 1), placement={s: which == "checkpointed" for s in sites})(*args)
    assert type(g[0]) is Sub and np.isclose(g[0].a, np.sum(X3 ** 2)) and np.allclose(g[1], 4.0 * X3)
    # the sites of the annotation's class are not those of this call: refused when it runs, naming them
    base_sites = nba.call_sites(annotated_model)
    with pytest.raises(nba.PlacementError, match="Sub.apply"):
        nba.grad(annotated_model, placement={s: True for s in base_sites})(*args)


@pytest.mark.parametrize("which", ["split", "checkpointed"])
def test_placing_a_method_called_in_a_loop_on_an_unannotated_argument(which):
    check_object_grad(loop_over_a_method_of_an_argument, (Walker(X3.copy(), 0.5), 0.3), 0, [("u",), ("k",)],
                      which)


def test_a_method_called_in_a_loop_on_an_unannotated_argument():
    check_object_grad(loop_over_a_method_of_an_argument, (Walker(X3.copy(), 0.5), 0.3), 0, [("u",), ("k",)],
                      "default")
    check_plain(loop_over_a_method_of_an_argument, (Walker(X3.copy(), 0.5), 0.3), 1, "default")


def test_objects_of_two_classes_through_one_helper_are_refused_at_the_helpers_call():
    refused_at(two_classes_through_one_helper, (0.5, X3), nba.TransformError,
               r"`m.apply\(...\)`: `.apply\(\)` is not an array method, and the class of `m` is not known here",
               "return np.sum(m.apply(x))", use_model)


# --------------------------------------------------------------------------- loops keeping snapshots

@pytest.mark.parametrize("calls", ["default", "split", "checkpointed"])
@pytest.mark.parametrize("snapshots", [1, 2, {"ram": 1, "disk": 1}], ids=["S1", "S2", "ram1-disk1"])
@pytest.mark.parametrize("f,args", [
    (loop_in_a_method, (U5, 0.3)),                       # the loop in Rk.run, `self.u[1:-1] += ...`, append
    (loop_over_a_method, (U5, 0.3)),
    (aug_attribute_array, (X3, 0.3)),                    # `self.u += ...`, `self.t += a`
    (loop_replacing_the_object, (X3, 0.3)),              # `m = m.evolve(k)`
    (loop_with_a_work_buffer, (X3, 0.3)),                # `self.buf[:] = ...`
    (component_refined_of_a_copy, (0.4, X3)),            # `self.grid.refine()`
    (counter_object, (X3,)),
    (method_called_with_keywords, (X3, 0.7)),
], ids=lambda v: getattr(v, "__name__", None))
def test_loops_over_methods_writing_self_keep_snapshots(f, args, snapshots, calls):
    """Each loop of the tree keeps S snapshots of the state (objects included) and recomputes the rest:
    the gradient is the one of the default placement, bit for bit, and matches finite differences."""
    argnums = tuple(range(len(args)))
    loops = nba.loops(f)
    assert loops
    chosen = {loop: snapshots for loop in loops}
    chosen.update(placement(f, calls) or {})
    before = copy.deepcopy(args)
    call = copy.deepcopy(args)
    got = nba.grad(f, argnums=argnums, placement=chosen)(*call)
    assert_bitwise_equal(list(call), list(before), "arguments after nba.grad")
    reference = check_grad(f, args, argnums, rtol=1e-6, atol=1e-8)
    assert_bitwise_equal(list(got), list(reference), "gradient with snapshots")


@pytest.mark.parametrize("calls", ["default", "split", "checkpointed"])
@pytest.mark.parametrize("snapshots", [1, 2])
def test_a_loop_stepping_an_annotated_model_argument_keeps_snapshots(snapshots, calls):
    args = (Model(X3.copy(), 0.5), 0.3)
    (loop,) = nba.loops(annotated_model_stepped_in_a_loop, args=args)
    chosen = {loop: snapshots, **(placement(annotated_model_stepped_in_a_loop, calls, args) or {})}
    before = as_tree(copy.deepcopy(args))
    call = copy.deepcopy(args)
    g = nba.grad(annotated_model_stepped_in_a_loop, argnums=(0, 1), placement=chosen)(*call)
    assert_bitwise_equal(as_tree(call), before, "arguments after nba.grad")
    reference = check_object_grad(annotated_model_stepped_in_a_loop, args, 0, [("u",), ("k",)], "default")
    assert type(g[0]) is Model
    assert_bitwise_equal(as_tree(g[0]), as_tree(reference), "gradient with snapshots")
    check_grad(annotated_model_stepped_in_a_loop, args, 1, placement=chosen)


# --------------------------------------------------------------------------- refused though nothing is shared

def test_history_appended_to_an_attribute():
    check_plain(history_appended_to_an_attribute, (X3,), 0, "default")


def test_history_extended_with_plus_equals():
    check_plain(history_extended_with_plus_equals, (X3,), 0, "default")


def test_a_component_mutated_by_its_own_method():
    check_plain(component_mutated_by_its_own_method, (0.4, X3), (0, 1), "default")


COMPONENT = ("a method that hands a component built in __init__ (`self.body = Body(x.copy())`) to a helper "
             "writing it in place (`kick(self.body, a)`, `m.x += ...`) is refused at the helper's call with "
             "an AliasError \"writing into `self['body']` also changes `self` as the caller passed it to "
             "Sim.run()\" whose hint (\"self = self.copy() for an array, self = [v.copy() for v in self] for a "
             "list\") does not apply to an object")


@pytest.mark.xfail(strict=True, raises=nba.AliasError, reason=COMPONENT)
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_method_hands_a_component_to_a_helper_that_updates_it(which):
    check_plain(component_stepped_by_a_helper, (X3, 0.3), (0, 1), which)


@pytest.mark.xfail(strict=True, raises=nba.AliasError,
                   reason="`self.state[\"u\"] += ...` into a dict built in DictState.__init__ is refused with "
                   "\"writing into `self['state']['u']` also changes `self` as the caller passed it to "
                   "DictState.step()\" and the hint of COMPONENT, though the dict and its array are the object's "
                   "own")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_dict_of_state_in_an_attribute_written_in_place(which):
    check_plain(dict_of_state_in_an_attribute, (X3, 0.3), (0, 1), which)


def test_an_array_a_method_returned_then_written_by_the_next_call_is_refused():
    """`y = s.run(a, 2)` is `s.body.x`, which the next `s.run(a, 2)` writes in place: refused at that call."""
    refused_at(method_hands_a_component_to_a_helper, (X3, 0.3), nba.AliasError,
               r"Sim.run\(\) writes into the arrays held in `s` \(its parameter `self`\), and one of them is `y` "
               r"\(or shares its memory\), which is used afterwards", "z = s.run(a, 2)")


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="with the split placement the call is refused inside Sim.run, at "
                   "`kick(self.body, a)`, with the message and hint of COMPONENT, instead of "
                   "at the caller's `z = s.run(a, 2)` (the default and checkpointed "
                   "placements)")
def test_an_array_a_method_returned_then_written_by_the_next_call_is_refused_when_split():
    with pytest.raises(nba.AliasError, match="one of them is `y`") as info:
        nba.grad(method_hands_a_component_to_a_helper, argnums=(0, 1),
                 placement=all_split(method_hands_a_component_to_a_helper))(X3.copy(), 0.3)
    assert f"line {source_line(method_hands_a_component_to_a_helper, 'z = s.run(a, 2)')}," in str(info.value)


# --------------------------------------------------------------------------- unclear messages

@pytest.mark.xfail(strict=True, raises=nba.TransformError,
                   reason="a component given to the constructor (`OnMesh(Mesh(dx), u)`, `self.mesh = mesh`) and "
                          "changed by its own method (`self.mesh.refine()`) is refused with the message for NumPy "
                          "array methods: 'the method `.refine()` is not supported', hint 'the supported methods "
                          "are those of NumPy arrays (all, any, ...)' (reading `self.mesh.dx` is differentiated, "
                          "and so is `self.grid.refine()` for a component built in __init__)")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_component_given_to_the_constructor_refined_by_its_method(which):
    check_plain(component_given_to_the_constructor_refined, (0.4, X3), (0, 1), which)


@pytest.mark.xfail(strict=True, raises=nba.AliasError,
                   reason="`ms[0].step(a)` on a list of two new Model objects is refused with a message naming an "
                          "internal temporary: 'Model.step() writes into the arrays held in `_t8` (its parameter "
                          "`self`), and one of them is `ms` ...', hint 'put a copy in `_t8`, e.g. ms.copy()'")
@pytest.mark.parametrize("which", PLACEMENTS)
def test_a_method_of_an_entry_of_a_list(which):
    check_plain(entry_of_a_list_stepped, (X3, 0.3), (0, 1), which)


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="the refusal of `damp_and_sum(Holder(w), f)` (damp_and_sum writes into the arrays of the "
                   "Holder, one of them the caller's `w`, read afterwards) names an internal temporary: "
                   "'damp_and_sum() writes into the arrays held in `_t2` (its parameter `h`)', hint 'put a "
                   "copy in `_t2`, e.g. w.copy()'")
def test_a_constructor_argument_holding_the_callers_array_is_refused_naming_no_temporary():
    with pytest.raises(nba.AliasError, match=r"damp_and_sum\(\) writes into the arrays held in .* and one of "
                                             r"them is `w`") as info:
        nba.grad(constructor_argument_holding_the_callers_array, argnums=(0, 1))(X3.copy(), 0.7)
    line = source_line(constructor_argument_holding_the_callers_array, "damp_and_sum(Holder(w), f)")
    assert f"line {line}," in str(info.value)
    assert "`_t" not in str(info.value), str(info.value)
