import numpy as np

def main(x, s):
    a = x * 1.0
    a[[3, 3]] -= 0.5 * s * np.ones(2)       # NumPy subtracts once
    return np.sum(a * a)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
