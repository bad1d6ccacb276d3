"""A tiny two-level model for the tour: model -> step -> smooth, then the cost.

Example::

    >>> import quickstart
    >>> value = quickstart.run()
    >>> bool(value > 0.0)
    True
"""
import numpy as np


def smooth(u):
    """Three-point running mean on a periodic grid."""
    return (np.roll(u, 1) + u + np.roll(u, -1)) / 3.0


def step(u, dt):
    """One explicit step of du/dt = -sin(u^2), followed by smoothing."""
    v = u * u
    return smooth(u - dt * np.sin(v))


def cost(u):
    """Sum of squares of the final state."""
    return np.sum(u * u)


def model(u0, n_steps):
    """Run n_steps steps from u0 and return the cost."""
    u = u0
    for i in range(n_steps):
        u = step(u, 0.1)
    return cost(u)


def default_args(n=1000, n_steps=50):
    """Inputs of model(): a smooth initial state on n points."""
    x = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return (np.cos(x) + 0.5, n_steps)


def run(n=1000, n_steps=50):
    """Primal run on the default inputs; returns the cost."""
    return model(*default_args(n=n, n_steps=n_steps))
