import numpy as np

def main(x, s):
    u = x * 1.0
    a = np.ones(5)
    np.add(a, u, out=a)     # refused: "`np.add(...)` changes the global `np`"
    return np.sum(a * a)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
