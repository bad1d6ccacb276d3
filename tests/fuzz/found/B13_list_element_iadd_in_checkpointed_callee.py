# checkpointed call (the default placement): wrong gradient; split: right. The callee writes
# into an array held in its list argument (acc[0] += ...); a dict argument (p["w"] += ...) too.
import numpy as np

def push(acc, s):
    acc[0] += s * np.sin(acc[0])

def main(x, s):
    acc = [x * 1.0]
    push(acc, s)
    return np.sum(acc[0] * acc[0])

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
