# the list holds the caller's own x: no AliasError (the same write in main is refused), and
# both placements give different wrong gradients.
import numpy as np

def push(acc, s):
    acc[0] += s * np.sin(acc[0])      # acc[0] is the caller's x

def main(x, s):
    acc = [x, np.cos(x)]
    push(acc, s)
    return np.sum(acc[0] * acc[1]) + np.sum(x * x)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
