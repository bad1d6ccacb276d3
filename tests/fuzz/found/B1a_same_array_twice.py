import numpy as np

def g(a, b):
    a[0] = b[1] * 2.0
    return np.sum(a * b)

def main(x, s):
    y = x * 1.0
    return g(y, y)          # also g(y, y[::-1]), g(y[:], y), g(b=y, a=y)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
