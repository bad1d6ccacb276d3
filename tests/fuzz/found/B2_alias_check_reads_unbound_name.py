import numpy as np

def f2(a, s):
    a[0] += 0.3 * np.sin(s)
    return a[1]             # or `return a`, `return a[::-1]`

def main(x, s):
    x = x * 1.0
    for i in range(3):
        t2 = f2(x, s)       # UnboundLocalError: t2 read by check_alias before it exists
        s = s + t2
    return np.sum(x * x) + s

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
