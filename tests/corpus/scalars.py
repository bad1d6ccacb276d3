import math

import numpy as np

from ._inputs import case


# binary operators + - * / on Python floats
def arith_ops(x, y):
    return x * y + x / y - y + 2.0


# power operator with a constant integer exponent
def pow_int(x):
    return x ** 3 + 2.0 * x ** 2 - x ** 1


# power operator with a constant float exponent on a positive base
def pow_float(x):
    return x ** 2.5 + x ** 0.5


# power operator with an active exponent and an active base
def pow_active(x, y):
    return x ** y


# power operator with a constant base and an active exponent
def pow_const_base(x):
    return 2.0 ** x + 3 ** (x * x)


# negative integer exponent
def pow_negative(x):
    return x ** -2 + 1.0 / x ** 3


# unary minus and unary plus
def unary_ops(x, y):
    return -x * +y - (-y) * x + -(x * x)


# division by an active denominator
def div_active(x, y):
    return (x + 1.0) / (y * y + 1.0) / x


# integer argument used as a constant factor
def int_arg_scale(x, n):
    return x * n + x ** 2 / (n + 1)


# integer arithmetic (//, %) on an integer argument, no gradient flows through it
def int_arithmetic(x, n):
    k = n // 2 + n % 3
    return x ** k + k * x


# tuple unpacking from a tuple expression
def tuple_unpack(x, y):
    a, b = x * y, x + y
    return a * b


# swapping names via tuple unpacking
def tuple_swap(x, y):
    x, y = y, x * 2.0
    return x * y * y


# nested tuple unpacking
def nested_unpack(x, y):
    (a, b), c = (x, y), x * y
    return a * b + c * c


# chained assignment a = b = expr
def chained_assign(x):
    a = b = x * x
    return a * b + a


# rebinding the same name several times
def rebind(x):
    y = x * 2.0
    y = y * y
    y = y + x
    return y * x


# augmented assignment +=
def aug_add(x, y):
    s = x
    s += y * y
    s += x
    return s * s


# augmented assignment -=
def aug_sub(x, y):
    s = x * y
    s -= y
    s -= x * x
    return s * x


# augmented assignment *=
def aug_mul(x, y):
    s = x + 1.0
    s *= y
    s *= s
    return s


# augmented assignment /=
def aug_div(x, y):
    s = x * x + 1.0
    s /= y
    s /= x
    return s


# augmented assignment on float parameters (rebinding, nothing shared)
def aug_on_float_params(x, y):
    x += y * y
    y -= 0.5 * x
    x *= y
    return x * y


# augmented assignment **= on a float
def aug_pow(x):
    s = x + 1.0
    s **= 3
    return s


# math module functions on floats
def math_funcs(x):
    return (math.sin(x) * math.exp(x) + math.log(x + 2.0) - math.sqrt(x * x + 1.0)
            + math.tanh(x) + math.cos(x) ** 2)


# more math functions: atan, cosh, sinh, log10, pow
def math_funcs_more(x):
    return math.atan(x) + math.cosh(x) - math.sinh(0.5 * x) + math.log10(x + 3.0) + math.pow(x, 3)


# math and numpy constants
def constants(x):
    return math.pi * x * x + np.pi * x + math.e * np.e


# NumPy ufuncs applied to Python floats
def np_on_floats(x, y):
    return np.sin(x) * np.cos(y) + np.exp(-x * x) + np.arctan(y) + np.log1p(x * x)


# comparison of active values in an if (margin far from the switch)
def compare_branch(x, y):
    if x < y:
        return x * y
    else:
        return x + y


# chained comparison in an if
def chained_compare(x):
    if 0.0 < x < 2.0:
        return x * x * x
    return x


# conditional expression on an active comparison
def cond_expr(x, y):
    z = x * y if x > 0.5 else x - y
    return z * z


# boolean operators and / or / not in conditions
def bool_ops(x, y):
    if x > 0.0 and not y < 0.0:
        r = x * y
    else:
        r = x - y
    if x > 10.0 or y > 0.0:
        r = r + y * y
    return r


# builtin abs of a value away from zero
def abs_builtin(x, y):
    return abs(x) * y + abs(y - 2.0)


# builtin min and max away from ties
def builtin_minmax(x, y):
    return max(x, y) * min(x, y) + max(x * x, 0.1, y)


# float() cast of an integer and of an active float
def float_cast(x, n):
    return float(n) * x + float(x) ** 2


# logistic sigmoid with np.exp on a float
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# softplus: log(1 + exp(x))
def softplus(x):
    return np.log(1.0 + np.exp(x)) * x


# Horner evaluation of a polynomial with a loop over a list literal of coefficients
def horner(x):
    p = 0.0
    for c in [0.5, -1.0, 2.0, 0.25, 3.0]:
        p = p * x + c
    return p


# Newton iteration for sqrt with a fixed trip count
def newton_sqrt(a):
    x = a
    for _ in range(6):
        x = 0.5 * (x + a / x)
    return x


# np.float64 scalar argument
def np_float64_arg(x):
    return np.sqrt(x) * x + x ** 2


# right-hand side of Lorenz-63 as a tuple
def lorenz_rhs(x, y, z, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    return sigma * (y - x), x * (rho - z) - y, x * y - beta * z


# one RK4 step of Lorenz-63 on scalars, calling the right-hand side four times
def lorenz_rk4_step(x, y, z, dt):
    k1x, k1y, k1z = lorenz_rhs(x, y, z)
    k2x, k2y, k2z = lorenz_rhs(x + 0.5 * dt * k1x, y + 0.5 * dt * k1y, z + 0.5 * dt * k1z)
    k3x, k3y, k3z = lorenz_rhs(x + 0.5 * dt * k2x, y + 0.5 * dt * k2y, z + 0.5 * dt * k2z)
    k4x, k4y, k4z = lorenz_rhs(x + dt * k3x, y + dt * k3y, z + dt * k3z)
    x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
    y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
    z = z + dt / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z)
    return x, y, z


# one RK4 step reduced to a scalar, with an active time step
def lorenz_step_loss(x, y, z, dt):
    x, y, z = lorenz_rk4_step(x, y, z, dt)
    return x * y - z


# Lorenz-63 trajectory: a time loop of RK4 steps ending in a scalar
def lorenz_trajectory(x, y, z, n):
    for _ in range(n):
        x, y, z = lorenz_rk4_step(x, y, z, 0.01)
    return x * x + y * y + z


# keyword arguments overriding some defaults of the callee
def lorenz_rhs_kwargs(x, y, z):
    dx, dy, dz = lorenz_rhs(x, y, z, rho=20.0, beta=2.0)
    return dx * dy + dz


CASES = [
    case(arith_ops, lambda: (1.3, 0.7)),
    case(arith_ops, lambda: (1.3, 0.7), 1),
    case(pow_int, lambda: (1.7,)),
    case(pow_float, lambda: (1.4,)),
    case(pow_active, lambda: (1.6, 0.8), (0, 1)),
    case(pow_const_base, lambda: (0.9,)),
    case(pow_negative, lambda: (1.2,)),
    case(unary_ops, lambda: (0.6, -1.1), (0, 1), False),
    case(div_active, lambda: (0.8, 1.5), (0, 1)),
    case(int_arg_scale, lambda: (0.9, 4)),
    case(int_arg_scale, lambda: (0.9, 4), (0, 1), False),
    case(int_arithmetic, lambda: (1.1, 7)),
    case(tuple_unpack, lambda: (0.7, 1.9), (0, 1)),
    case(tuple_swap, lambda: (0.7, 1.9), (0, 1)),
    case(nested_unpack, lambda: (0.7, 1.9), (0, 1)),
    case(chained_assign, lambda: (1.3,)),
    case(rebind, lambda: (0.8,)),
    case(aug_add, lambda: (0.4, 1.2), (0, 1)),
    case(aug_sub, lambda: (0.4, 1.2), (0, 1)),
    case(aug_mul, lambda: (0.4, 1.2), (0, 1)),
    case(aug_div, lambda: (0.4, 1.2), (0, 1)),
    case(aug_pow, lambda: (0.4,)),
    case(aug_on_float_params, lambda: (0.4, 1.2), (0, 1)),
    case(math_funcs, lambda: (0.6,), 0, False),
    case(math_funcs_more, lambda: (0.6,), 0, False),
    case(constants, lambda: (0.6,)),
    case(np_on_floats, lambda: (0.6, -0.4), (0, 1)),
    case(compare_branch, lambda: (0.5, 1.5), (0, 1)),
    case(compare_branch, lambda: (2.5, 1.5), (0, 1)),
    case(chained_compare, lambda: (1.2,)),
    case(chained_compare, lambda: (2.7,)),
    case(cond_expr, lambda: (0.9, 1.3), (0, 1)),
    case(cond_expr, lambda: (0.2, 1.3), (0, 1)),
    case(bool_ops, lambda: (0.9, 1.3), (0, 1)),
    case(bool_ops, lambda: (0.9, -1.3), (0, 1)),
    case(abs_builtin, lambda: (-0.8, 0.6), (0, 1)),
    case(builtin_minmax, lambda: (0.8, 1.6), (0, 1)),
    case(float_cast, lambda: (0.8, 3), 0, False),
    case(sigmoid, lambda: (0.3,)),
    case(softplus, lambda: (0.3,)),
    case(horner, lambda: (0.7,)),
    case(newton_sqrt, lambda: (2.0,)),
    case(np_float64_arg, lambda: (np.float64(1.5),)),
    case(lorenz_rhs_kwargs, lambda: (1.0, 2.0, 15.0), (0, 1, 2)),
    case(lorenz_step_loss, lambda: (1.0, 2.0, 15.0, 0.01), (0, 1, 2, 3)),
    case(lorenz_trajectory, lambda: (1.0, 1.0, 20.0, 25), (0, 1, 2)),
]
