"""A 1-D diffusive energy balance model on latitude bands (Budyko-Sellers style): an ice-albedo
feedback through tanh, diffusion with np.gradient, and the global mean by np.trapezoid."""
import numpy as np

N_BANDS = 24
phi = np.linspace(-np.pi / 2, np.pi / 2, N_BANDS)
x = np.sin(phi)
S0 = 1365.0
A, B = 210.0, 2.0


def insolation(x):
    return S0 / 4.0 * (1.0 - 0.482 * 0.5 * (3 * x ** 2 - 1))


def albedo(T, T_ice=-10.0):
    return 0.45 - 0.15 * np.tanh((T - T_ice) / 5.0)


def step(T, D, dt=0.05):
    Q = insolation(x)
    dTdx = np.gradient(T, x)
    transport = np.gradient(D * (1 - x ** 2) * dTdx, x)
    return T + dt * ((1 - albedo(T)) * Q - (A + B * T) + transport) / 10.0


def global_mean_temperature(T0, D, n_steps=40):
    T = T0
    for _ in range(n_steps):
        T = step(T, D)
    return np.trapezoid(T * np.ones_like(x), x) / 2.0
