import numpy as np

def g(x, s):
    x = np.sum(x)
    return np.sum(x)

def main(x, s):
    return g(x, s) + s

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
