import numpy as np

def main(x, s):
    y = np.concatenate([x, [s]])            # also np.concatenate([[0.0], x])
    return np.sum(y * y)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
