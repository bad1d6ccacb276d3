"""Immutable states (each step returns a new object) read from a module-level SimpleNamespace
configuration, and a Kalman filter class with matrices in attributes."""
import numpy as np
from types import SimpleNamespace

CONFIG = SimpleNamespace(dt=0.05, steps=40, verbose=False)


class State:
    """An immutable oscillator state: each step returns a new State."""
    def __init__(self, x, v):
        self.x = x
        self.v = v

    def step(self, omega):
        dt = CONFIG.dt
        v = self.v - dt * omega ** 2 * self.x
        return State(self.x + dt * v, v)

    def energy(self, omega):
        return 0.5 * (self.v ** 2 + omega ** 2 * self.x ** 2)


def final_energy(omega, x0, v0):
    s = State(x0, v0)
    for _ in range(CONFIG.steps):
        s = s.step(omega)
    if CONFIG.verbose:
        print(s.x, s.v)
    return s.energy(omega) + s.x


class Kalman:
    def __init__(self, F, H, Q, R):
        self.F, self.H, self.Q, self.R = F, H, Q, R

    def filter(self, x, P, zs):
        nll = 0.0
        for z in zs:
            x = self.F @ x
            P = self.F @ P @ self.F.T + self.Q
            S = self.H @ P @ self.H.T + self.R
            K = np.linalg.solve(S, self.H @ P).T
            r = z - self.H @ x
            nll = nll + 0.5 * (r @ np.linalg.solve(S, r) + np.log(np.linalg.det(S)))
            x = x + K @ r
            P = P - K @ self.H @ P
        return nll


def kalman_nll(q, x0, zs):
    F = np.array([[1.0, 0.1], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    kf = Kalman(F, H, q * np.eye(2), np.array([[0.5]]))
    return kf.filter(x0, np.eye(2), zs)
