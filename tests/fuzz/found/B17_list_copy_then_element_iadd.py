# a callee copies its list argument (acc = acc + [...]) and then writes acc[0] += ...: the
# element is still the caller's array; wrong under every placement (no alias check).
import numpy as np

def push(acc, s):
    acc = acc + [s]
    acc[0] += s * np.sin(acc[0])   # acc[0] is still the caller's array

def main(x, s):
    acc = [x * 1.0]
    push(acc, s)
    return np.sum(acc[0] * acc[0])

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
