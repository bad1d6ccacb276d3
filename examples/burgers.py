"""1-D viscous Burgers equation on a periodic domain, explicit time stepping.

    du/dt + d(u^2/2)/dx = nu d2u/dx2

Central differences in space, forward Euler in time. The cost is the squared misfit of the
final state to an observed profile; its gradient with respect to the initial condition ``u0`` is
the sensitivity of the misfit to every cell of the initial state.

Example::

    >>> import burgers
    >>> cost = burgers.run(n_cells=200, n_steps=20)
    >>> float(cost) > 0.0
    True
"""
import numpy as np

LENGTH = 1.0              # domain length


def burgers_step(u, dt, dx, nu):
    """One forward-Euler step of viscous Burgers with central fluxes."""
    flux = 0.5 * u * u
    advective = (np.roll(flux, -1) - np.roll(flux, 1)) / (2.0 * dx)
    diffusive = nu * (np.roll(u, -1) - 2.0 * u + np.roll(u, 1)) / (dx * dx)
    return u + dt * (diffusive - advective)


def misfit(u, u_obs):
    """Half the mean squared difference between the state and the observations."""
    d = u - u_obs
    return 0.5 * np.mean(d * d)


def burgers(u0, u_obs, n_steps, dt, dx, nu):
    """Integrate n_steps from u0 and return the misfit of the final state to u_obs."""
    u = u0
    for step in range(n_steps):
        u = burgers_step(u, dt, dx, nu)
    return misfit(u, u_obs)


def default_args(n_cells=10_000, n_steps=300):
    """Inputs of burgers(): a Gaussian bump steepening as it travels, observed a little later."""
    dx = LENGTH / n_cells
    x = (np.arange(n_cells) + 0.5) * dx
    u_max = 1.5
    nu = 0.75 * u_max * dx              # cell Reynolds number u_max dx / nu < 2
    dt = 0.4 * dx / u_max               # CFL 0.4, diffusion number nu dt / dx^2 = 0.3
    u0 = 0.5 + np.exp(-((x - 0.3) / 0.02) ** 2)
    u_obs = 0.5 + 0.9 * np.exp(-((x - 0.31) / 0.025) ** 2)
    return (u0, u_obs, n_steps, dt, dx, nu)


def grid(n_cells=10_000):
    """Cell centres of the default grid (for plotting)."""
    dx = LENGTH / n_cells
    return (np.arange(n_cells) + 0.5) * dx


def run(n_cells=10_000, n_steps=300):
    """Primal run on the default inputs; returns the misfit."""
    return burgers(*default_args(n_cells=n_cells, n_steps=n_steps))
