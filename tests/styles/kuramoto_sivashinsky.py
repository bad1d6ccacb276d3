"""Kuramoto-Sivashinsky equation u_t = -u u_x - u_xx - u_xxxx on a periodic domain, solved the
way the spectral-methods textbooks do: Fourier in space, ETDRK4 in time (Kassam & Trefethen),
with complex intermediates and a contour-integral evaluation of the phi functions."""
import numpy as np

N = 32
L = 22.0


def setup(h):
    k = 2 * np.pi / L * np.fft.fftfreq(N, 1.0 / N)
    lin = k ** 2 - k ** 4
    E = np.exp(h * lin)
    E2 = np.exp(h * lin / 2)
    M = 16
    r = np.exp(1j * np.pi * (np.arange(1, M + 1) - 0.5) / M)
    LR = h * lin[:, None] + r[None, :]
    Q = h * np.real(np.mean((np.exp(LR / 2) - 1) / LR, axis=1))
    f1 = h * np.real(np.mean((-4 - LR + np.exp(LR) * (4 - 3 * LR + LR ** 2)) / LR ** 3, axis=1))
    f2 = h * np.real(np.mean((2 + LR + np.exp(LR) * (-2 + LR)) / LR ** 3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * LR - LR ** 2 + np.exp(LR) * (4 - LR)) / LR ** 3, axis=1))
    g = -0.5j * k
    return E, E2, Q, f1, f2, f3, g


def nonlinear(v, g):
    u = np.real(np.fft.ifft(v))
    return g * np.fft.fft(u * u)


def etdrk4_step(v, coeffs):
    E, E2, Q, f1, f2, f3, g = coeffs
    Nv = nonlinear(v, g)
    a = E2 * v + Q * Nv
    Na = nonlinear(a, g)
    b = E2 * v + Q * Na
    Nb = nonlinear(b, g)
    c = E2 * a + Q * (2 * Nb - Nv)
    Nc = nonlinear(c, g)
    return E * v + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3


def energy_after(u0, n_steps=20, h=0.05):
    coeffs = setup(h)
    v = np.fft.fft(u0)
    for n in range(n_steps):
        v = etdrk4_step(v, coeffs)
    u = np.real(np.fft.ifft(v))
    return np.mean(u ** 2)
