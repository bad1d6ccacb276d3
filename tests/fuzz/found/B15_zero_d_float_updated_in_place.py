# the float argument given as a 0-d array (np.array(0.4)): `s += ...` in a callee crashes the
# sweeps (TypeError in tape.setitem_b; in main: AttributeError in tape._own). Plain floats work.
import numpy as np

def f1(a, s):
    s += 0.1 * np.sin(np.sum(a))
    return a * s

def main(x, s):
    return np.sum(f1(x, s))

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
