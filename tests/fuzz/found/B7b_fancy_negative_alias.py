import numpy as np

def main(x, s):
    a = x * 1.0
    a[[-1, 4]] = np.sin(x[:2])              # -1 and 4 are the same entry: the last write wins
    return np.sum(a * a)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
