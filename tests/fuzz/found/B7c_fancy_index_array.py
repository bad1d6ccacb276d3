import numpy as np

def main(x, s):
    a = x * 1.0
    a[np.array([2, 2])] += s * x[:2]
    return np.sum(a * a)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
