import numpy as np

def main(x, s):
    return np.sum(np.imag(np.fft.rfft(x)))  # x of 5 entries: NotImplementedError from autograd's rfft vjp

ARGS = (np.array([0.3, -0.7, 0.5, 0.9, -0.2]), 0.4)
ARGNUMS = (0, 1)
