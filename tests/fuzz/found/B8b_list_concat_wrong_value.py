import numpy as np

def main(u, s):
    v = u[:1] + u[2:]
    return sum([t * t for t in v])

ARGS = ([1.0, 2.0, 3.0], 0.4)
ARGNUMS = 0
