# A damped oscillator configured by a SimpleNamespace passed in (cfg.omega, cfg.gamma, cfg.dt),
# stepped by a function that reads the configuration by attribute.
from types import SimpleNamespace

import numpy as np


def default_config():
    return SimpleNamespace(omega=2.0, gamma=0.1, dt=0.01, n=200)


def step(cfg, x, v):
    a = -cfg.omega ** 2 * x - 2.0 * cfg.gamma * v
    v = v + cfg.dt * a
    x = x + cfg.dt * v
    return x, v


def final_displacement(cfg, x0, v0):
    x, v = x0, v0
    for _ in range(cfg.n):
        x, v = step(cfg, x, v)
    return x ** 2 + 0.1 * v ** 2
