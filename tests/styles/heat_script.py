# 1-D heat equation, written as a quick research script: timers, prints, an option flag,
# a diagnostic nobody differentiates, and a branch for an option that is off.
import time

import numpy as np

NX = 40
ALPHA = 0.01
USE_SOURCE = False


def run_heat(T0, kappa, nsteps=25, verbose=False, save_every=0):
    t_start = time.perf_counter()
    dx = 1.0 / (NX - 1)
    dt = 0.2 * dx * dx / ALPHA
    x, y = np.meshgrid(np.linspace(0, 1, NX), np.zeros(1))
    T = T0.copy()
    history = []
    for n in range(nsteps):
        lap = np.zeros_like(T)
        lap[1:-1] = (T[2:] - 2 * T[1:-1] + T[:-2]) / dx**2
        if USE_SOURCE:
            lap = lap + source_term(x[0], n * dt)
        T = T + dt * ALPHA * kappa * lap
        if save_every and n % save_every == 0:
            history.append(T.copy())
        if verbose:
            print(f"step {n}: max T = {T.max():.4f}, corr = {np.corrcoef(T, x[0])[0, 1]:.3f}")
    if verbose:
        print("elapsed", time.perf_counter() - t_start, "s,", len(history), "snapshots")
    return T


def source_term(x, t):
    return np.exp(-((x - 0.5) ** 2) / 0.01) * np.sin(t)


def cost(T0, kappa, verbose=False):
    T = run_heat(T0, kappa, verbose=verbose, save_every=5)
    return np.sum((T - 0.5) ** 2) / NX
