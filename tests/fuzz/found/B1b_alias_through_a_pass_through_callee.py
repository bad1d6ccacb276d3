import numpy as np

def inner(a, b):
    a[0] = b[1] * 2.0
    return np.sum(a * b)

def outer(p, q):
    return inner(p, q)      # outer writes nothing itself

def main(x, s):
    y = x * 1.0
    return outer(y, y)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
