# a refusal that contradicts itself: "writing into `a` also changes `a`" (a callee writes its
# parameter, rebinds the name, writes again; the program is in the documented subset).
import numpy as np

def scatter(a, x, s):
    a[0] = s
    a = a + 0.1
    a[1] = s
    return np.sum(a * a)

def main(x, s):
    a = x * 1.0
    return scatter(a, x, s)

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
