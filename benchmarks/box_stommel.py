"""Stommel's two-box model of the thermohaline circulation, written with scalar writes into
preallocated arrays, as box models often are.

Temperature and salinity of two boxes relax to their restoring values; the flow between them
is driven by their density difference. The cost is the flow at the end of the run; its gradient
with respect to the initial state and the parameters is the model's sensitivity.
"""
import numpy as np


def stommel(T_init, S_init, params, n_steps):
    """Integrate n_steps of forward Euler and return the final overturning flow q."""
    k, alpha, beta, forcing = params[0], params[1], params[2], params[3]
    T = np.zeros(2)
    S = np.zeros(2)
    T[0], T[1] = T_init[0], T_init[1]
    S[0], S[1] = S_init[0], S_init[1]
    dt = 0.01
    for n in range(n_steps):
        q = k * (alpha * (T[1] - T[0]) - beta * (S[1] - S[0]))
        flow = abs(q)
        dT0 = flow * (T[1] - T[0]) + (1.0 - T[0])
        dT1 = flow * (T[0] - T[1]) + (0.0 - T[1])
        dS0 = flow * (S[1] - S[0]) + forcing
        dS1 = flow * (S[0] - S[1]) - forcing
        T[0] = T[0] + dt * dT0
        T[1] = T[1] + dt * dT1
        S[0] = S[0] + dt * dS0
        S[1] = S[1] + dt * dS1
    return k * (alpha * (T[1] - T[0]) - beta * (S[1] - S[0]))


def default_args(n_steps=20_000):
    return (np.array([1.0, 0.2]), np.array([0.3, 0.1]), np.array([2.0, 1.5, 0.8, 0.05]), n_steps)
