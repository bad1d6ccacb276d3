import numpy as np

def main(u, s):
    v = u[:1] + u[2:]                        # also u + u, u + [s], acc + [array]
    return v[0] * v[-1] + v[1]

ARGS = ([0.3, -0.7, 0.5, 0.9, -0.2], 0.4)
ARGNUMS = (0, 1)
