# SEIR epidemic model integrated with scipy's odeint; the cost is the misfit of the infected
# curve to data, and we want its sensitivity to the rates.
import numpy as np
from scipy.integrate import odeint


def seir_rhs(y, t, beta, sigma, gamma):
    S, E, I, R = y
    N = S + E + I + R
    dS = -beta * S * I / N
    dE = beta * S * I / N - sigma * E
    dI = sigma * E - gamma * I
    dR = gamma * I
    return [dS, dE, dI, dR]


def misfit(params, data, y0):
    beta, sigma, gamma = params[0], params[1], params[2]
    t = np.linspace(0.0, 30.0, 16)
    sol = odeint(seir_rhs, y0, t, args=(beta, sigma, gamma))
    infected = sol[:, 2]
    return np.sum((infected - data) ** 2)
