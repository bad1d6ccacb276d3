import numpy as np

def main(x, s):
    acc = [x * 1.0, np.cos(x) * s]
    acc = acc + [np.sin(x)]
    total = 0.0
    for a in acc:
        total = total + np.sum(np.sin(a))
    return total

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
