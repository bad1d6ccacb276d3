import numpy as np

def main(x, s):
    u = x * 1.0
    a = np.ones(5)
    np.sin(u, out=a)        # same for multiply/cumsum/maximum/subtract/exp(u, out=u)/cos(u[1:], out=a[1:])
    return np.sum(a * a) + np.sum(u * u)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
