import numpy as np

from ._inputs import mat, vec


# array-valued elementwise function
def vector_sin(a):
    return np.sin(a) * a


# matrix-vector product, array-valued, with an integer argument
def matvec_power(A, x, k):
    for _ in range(k):
        x = np.tanh(A @ x)
    return x


# tuple of (array, float) as output
def tuple_output(a, s):
    return a * s, np.sum(a) * s * s


# dict of outputs
def dict_output(a, b):
    return {"sum": a + b, "prod": np.sum(a * b)}


# float-valued output of two floats
def float_output(x, y):
    return x * np.exp(y)


# explicit heat step on a fresh copy, array-valued
def heat_step_vector(u, nu):
    un = u.copy()
    un[1:-1] = u[1:-1] + nu * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return un


# list output built from a loop
def list_output(a):
    out = []
    for k in range(3):
        out.append(a[k] * a[k + 1])
    return out


# (function, args factory, cotangent factory)
VJP_CASES = [
    (vector_sin, lambda: (vec(5, 701),), lambda: vec(5, 702)),
    (matvec_power, lambda: (mat(3, 3, 703), vec(3, 704), 2), lambda: vec(3, 705)),
    (tuple_output, lambda: (vec(4, 706), 0.7), lambda: (vec(4, 707), 1.3)),
    (dict_output, lambda: (vec(3, 708), vec(3, 709)), lambda: {"sum": vec(3, 710), "prod": -0.8}),
    (float_output, lambda: (0.4, 0.3), lambda: 2.5),
    (heat_step_vector, lambda: (vec(6, 711), 0.2), lambda: vec(6, 712)),
    (list_output, lambda: (vec(4, 713),), lambda: [0.5, -1.0, 2.0]),
]
