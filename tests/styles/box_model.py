# Stommel-like two-box model with scalar element writes into preallocated arrays.
import numpy as np


def box_model(T_init, S_init, params, nsteps=200):
    k, alpha, beta, forcing = params[0], params[1], params[2], params[3]
    T = np.zeros(2)
    S = np.zeros(2)
    T[0], T[1] = T_init[0], T_init[1]
    S[0], S[1] = S_init[0], S_init[1]
    dt = 0.01
    for n in range(nsteps):
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
