import numpy as np

def main(x, s):
    return x.item(3) * s                    # refused: "call it as np.ndarray.item(a, /)"

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
