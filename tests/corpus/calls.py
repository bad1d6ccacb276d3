import numpy as np

from . import pde
from ._inputs import case, mat, vec
from .pde import rk4_step

DT = 0.05
GAIN = np.array([0.5, -1.0, 2.0, 0.25, 1.5])
ORDER = 3


# helper: square of a float or array
def sq(x):
    return x * x


# one call to a user function
def call_once(x):
    return sq(x) + x


# the same user function called from two call sites
def call_twice(x, y):
    return sq(x) * sq(y) + sq(x + y)


# nested call expression f(f(x))
def call_nested_expr(x):
    return sq(sq(x) + 1.0)


# level 3 of a call chain
def chain3(x):
    return np.sin(x) * x


# level 2 of a call chain, calling level 3 twice
def chain2(x):
    return chain3(x) + chain3(2.0 * x)


# level 1 of a call chain: three levels of user functions
def chain1(a):
    return np.sum(chain2(a) ** 2)


# callee returning a tuple
def polar(x, y):
    r = np.sqrt(x * x + y * y)
    return r, np.arctan2(y, x)


# tuple-returning callee unpacked at the call
def call_tuple_return(x, y):
    r, t = polar(x, y)
    return r * t


# tuple-returning callee kept as a tuple and subscripted
def call_tuple_subscript(x, y):
    p = polar(x, y)
    return p[0] + p[1] * p[0]


# callee with default parameters
def scaled(x, factor=2.0, shift=0.0):
    return factor * x + shift


# keyword arguments and defaults at several call sites
def call_kwargs(x):
    return scaled(x, shift=1.0) ** 2 + scaled(x) ** 2 + scaled(x, 0.5) * scaled(shift=x, x=x)


# an active value passed as a keyword argument
def call_active_kwarg(x, y):
    return scaled(x, factor=y, shift=x * y) ** 2


# explicit time step in a callee
def euler_step(u, dt):
    return u + dt * np.sin(u) * u


# callee applying augmented assignments to its float parameter
def relax(s, rate):
    s -= rate * np.sin(s)
    s *= 0.9
    return s


# float parameter of a callee updated by augmented assignment, called in a loop
def call_aug_float_param(x):
    for _ in range(3):
        x = relax(x, 0.2)
    return x * x


# callee inside a time loop
def integrate(u0, n):
    u = u0
    for _ in range(n):
        u = euler_step(u, 0.1)
    return np.sum(u * u)


# callee taking an integer argument that controls its loop
def power_loop(x, k):
    y = 1.0
    for _ in range(k):
        y = y * x
    return y


# integer argument forwarded to a callee
def call_int_arg(x, k):
    return power_loop(x, k) + power_loop(x, k + 1)


# module-level constants (float, array, int) read by a callee
def uses_globals(a):
    return np.sum(GAIN * a) * DT + a[0] ** ORDER


# module-level constants read through a call
def call_uses_globals(a):
    return uses_globals(a) * uses_globals(a * a)


# closure over a constant, returned by a factory
def make_poly(c):
    # cubic polynomial whose coefficient is a closure cell
    def poly(x):
        return c * x ** 3 + x
    return poly


cubic = make_poly(0.5)
steep = make_poly(2.0)


# a closure called directly
def closure_direct(x):
    return cubic(x) * x


# a closure called from a loop
def closure_in_loop(a):
    s = 0.0
    for v in a:
        s = s + cubic(v)
    return s


# two closures of the same code with different cell values in one call tree
def two_closures(x):
    return cubic(x) * steep(x) + steep(x * x)


# callee with an early return
def clipped_growth(x, limit):
    for k in range(10):
        x = x * 1.2
        if x > limit:
            return x + k
    return x


# call to a callee that returns early from a loop
def call_early_return(x):
    return clipped_growth(x, 3.0) * x


# left branch of a diamond call graph, calling the shared leaf
def diamond_left(x):
    return sq(x) + x


# right branch of a diamond call graph, calling the shared leaf
def diamond_right(x):
    return sq(np.sin(x))


# two callees that both call the same leaf (diamond call graph)
def call_diamond(a):
    return np.sum(diamond_left(a) * diamond_right(a))


# callee writing into a fresh local array
def build_vector(x, y):
    v = np.zeros(3)
    v[0] = x
    v[1] = x * y
    v[2] = y
    return v


# caller using a callee that writes into a fresh array
def call_build_vector(x, y):
    v = build_vector(x, y)
    return np.sum(v * v) + v[1]


# call sites inside a list comprehension
def call_in_comprehension(a):
    return sum([sq(a[i]) * i for i in range(len(a))])


# call site carrying a split directive comment
def call_with_directive(x):
    y = sq(x)  # nbadjoint: nocheckpoint
    return sq(y) + y


# call with the result of one callee as argument of another
def call_composed(a, b):
    return np.sum(euler_step(euler_step(a, 0.2), 0.3) * b)


# callee returning an array, reduced by the caller
def call_returns_array(A, x):
    return np.sum(euler_step(A @ x, 0.5))


# four call sites in a row with different arguments
def call_four_sites(x):
    a = sq(x)
    b = chain3(a)
    c = scaled(b, 3.0)
    d = sq(c)
    return a + b + c + d


# a longer chain of calls in a loop (many call instances)
def call_loop_chain(a, n):
    for i in range(n):
        a = chain2(a) * 0.5 + euler_step(a, 0.1)
    return np.sum(a)


# a local function sharing its name with a function of another corpus module
def ode_rhs(u):
    return np.cos(u) * u


# callees of the same name from two modules in one call tree, one reached as module.attribute
def call_same_name_two_modules(u):
    return np.sum(ode_rhs(u) * pde.ode_rhs(u))


# a callee imported from another module, which itself calls into its own module
def call_imported_function(u):
    return np.sum(rk4_step(u, 0.1) ** 2)


CASES = [
    case(call_once, lambda: (1.3,)),
    case(call_twice, lambda: (0.7, 1.2), (0, 1)),
    case(call_nested_expr, lambda: (0.7,)),
    case(chain1, lambda: (vec(4, 301),)),
    case(call_tuple_return, lambda: (0.8, 0.6), (0, 1)),
    case(call_tuple_subscript, lambda: (0.8, 0.6), (0, 1)),
    case(call_kwargs, lambda: (0.9,)),
    case(call_active_kwarg, lambda: (0.9, 1.7), (0, 1)),
    case(integrate, lambda: (vec(4, 302), 5)),
    case(call_aug_float_param, lambda: (0.8,)),
    case(call_int_arg, lambda: (1.1, 3)),
    case(call_int_arg, lambda: (1.1, 3), (0, 1), False),
    case(uses_globals, lambda: (vec(5, 303),)),
    case(call_uses_globals, lambda: (vec(5, 304),)),
    case(closure_direct, lambda: (0.9,)),
    case(closure_in_loop, lambda: (vec(4, 305),)),
    case(two_closures, lambda: (0.7,)),
    case(call_early_return, lambda: (0.9,)),
    case(call_diamond, lambda: (vec(4, 306),)),
    case(call_build_vector, lambda: (0.7, -0.4), (0, 1), False),
    case(call_in_comprehension, lambda: (vec(4, 307),)),
    case(call_with_directive, lambda: (0.8,)),
    case(call_composed, lambda: (vec(3, 308), vec(3, 309)), (0, 1)),
    case(call_returns_array, lambda: (mat(3, 3, 310), vec(3, 311)), (0, 1)),
    case(call_four_sites, lambda: (0.6,)),
    case(call_loop_chain, lambda: (vec(3, 312), 3)),
    case(call_same_name_two_modules, lambda: (vec(4, 313),), 0, False),
    case(call_imported_function, lambda: (vec(4, 314),), 0, False),
]
