"""A MITgcm-flavoured box ocean: a reduced-gravity channel with temperature and salinity.

The call tree mirrors MITgcm's::

    the_main_loop
      forward_step                      (once per time step)
        external_forcing                surface relaxation of T, virtual salt flux
        dynamics
          find_rho                      linear equation of state
          pressure_gradient             free surface + baroclinic pressure
          momentum -> laplacian (x2)    Coriolis, wind, drag, viscosity
          continuity                    free-surface tendency
          solve_for_eta                 implicit free-surface correction (Jacobi sweeps)
        thermodynamics
          calc_gt -> advection, diffusion -> laplacian
          calc_gs -> advection, diffusion -> laplacian
      cost_function -> cost_misfit (x2)

The grid is Arakawa C: u sits on the west face of a cell, v on its south face. The channel is
periodic in x and closed by walls in y (``wet_v`` is 0 on the southern wall's v faces).

Calls differ in what their checkpoint costs (a rerun) and saves (tape): linear calls
(``laplacian``, ``diffusion``, ``find_rho``) leave almost no tape, so splitting them is free in
memory; ``advection`` is cheap but tapes products of the state; ``solve_for_eta`` (a dozen Jacobi
sweeps) is the most expensive call of a step. The trade-off differs per call site, as in the paper.

Example::

    >>> import ocean_box
    >>> cost = ocean_box.run(nx=16, ny=16, n_steps=4)
    >>> float(cost) > 0.0
    True
"""
import numpy as np

GRAV = 9.81             # gravity (m s-2)
G_REDUCED = 0.02        # reduced gravity of the upper layer (m s-2)
RHO0 = 1025.0           # reference density (kg m-3)
ALPHA_T = 2.0e-4        # thermal expansion (K-1)
BETA_S = 7.6e-4         # haline contraction (psu-1)
T_REF = 10.0            # reference temperature (deg C)
S_REF = 35.0            # reference salinity (psu)
DEPTH = 500.0           # upper-layer depth (m)
H_MIXED = 50.0          # depth over which density anomalies drive the flow (m)
F_CORIOLIS = 1.0e-4     # Coriolis parameter (s-1)
DX = 20.0e3             # grid spacing (m)
DT = 1800.0             # time step (s)
DRAG = 2.0e-6           # linear drag (s-1)
VISCOSITY = 2000.0      # lateral viscosity (m2 s-1)
KAPPA = 1000.0          # lateral tracer diffusivity (m2 s-1)
RELAX_T = 1.0 / (20.0 * 86400.0)   # surface temperature relaxation rate (s-1)
C_IMPLICIT = 0.25       # strength of the implicit free-surface smoothing (grid units)
N_JACOBI = 12           # Jacobi sweeps in solve_for_eta
SIGMA_T = 0.5           # temperature observation error (deg C)
SIGMA_S = 0.1           # salinity observation error (psu)


def laplacian(q, wet_v):
    """Five-point Laplacian (m-2) with a periodic x direction and no-flux walls in y."""
    flux_x = q - np.roll(q, 1, 1)
    flux_y = (q - np.roll(q, 1, 0)) * wet_v
    return (np.roll(flux_x, -1, 1) - flux_x + np.roll(flux_y, -1, 0) - flux_y) / (DX * DX)


def find_rho(T, S):
    """Density anomaly (kg m-3) from a linear equation of state."""
    return RHO0 * (BETA_S * (S - S_REF) - ALPHA_T * (T - T_REF))


def pressure_gradient(eta, rho_anom, wet_v):
    """Pressure gradient per unit mass (m s-2) at u and v points, from eta and the density anomaly."""
    p = G_REDUCED * eta + GRAV * H_MIXED * rho_anom / RHO0
    dpdx = (p - np.roll(p, 1, 1)) / DX
    dpdy = (p - np.roll(p, 1, 0)) * wet_v / DX
    return dpdx, dpdy


def momentum(u, v, dpdx, dpdy, taux, wet_v):
    """Forward-backward momentum step: Coriolis, pressure gradient, wind stress, drag, viscosity."""
    v_at_u = 0.25 * (v + np.roll(v, 1, 1) + np.roll(v, -1, 0) + np.roll(np.roll(v, 1, 1), -1, 0))
    u_tend = F_CORIOLIS * v_at_u - dpdx + taux / (RHO0 * DEPTH) - DRAG * u
    u_new = u + DT * (u_tend + VISCOSITY * laplacian(u, wet_v))
    u_at_v = 0.25 * (u_new + np.roll(u_new, -1, 1) + np.roll(u_new, 1, 0)
                     + np.roll(np.roll(u_new, -1, 1), 1, 0))
    v_tend = -F_CORIOLIS * u_at_v - dpdy - DRAG * v
    v_new = (v + DT * (v_tend + VISCOSITY * laplacian(v, wet_v))) * wet_v
    return u_new, v_new


def continuity(eta, u, v):
    """Free surface after one step of d(eta)/dt = -div((H + eta) u)."""
    h_u = DEPTH + 0.5 * (eta + np.roll(eta, 1, 1))
    h_v = DEPTH + 0.5 * (eta + np.roll(eta, 1, 0))
    flux_x = h_u * u
    flux_y = h_v * v
    div = (np.roll(flux_x, -1, 1) - flux_x + np.roll(flux_y, -1, 0) - flux_y) / DX
    return eta - DT * div


def solve_for_eta(eta_star, wet_v):
    """Implicit free-surface correction: Jacobi sweeps for (1 - c dx^2 Laplacian) eta = eta_star."""
    eta = eta_star
    diagonal = 1.0 + 4.0 * C_IMPLICIT
    for sweep in range(N_JACOBI):
        flux_x = eta - np.roll(eta, 1, 1)
        flux_y = (eta - np.roll(eta, 1, 0)) * wet_v
        lap = np.roll(flux_x, -1, 1) - flux_x + np.roll(flux_y, -1, 0) - flux_y
        eta = eta + (eta_star - eta + C_IMPLICIT * lap) / diagonal
    return eta


def dynamics(u, v, eta, T, S, taux, wet_v):
    """Momentum and free surface for one step, driven by density from the current tracers."""
    rho_anom = find_rho(T, S)
    dpdx, dpdy = pressure_gradient(eta, rho_anom, wet_v)
    u_new, v_new = momentum(u, v, dpdx, dpdy, taux, wet_v)
    eta_star = continuity(eta, u_new, v_new)
    eta_new = solve_for_eta(eta_star, wet_v)
    return u_new, v_new, eta_new


def advection(q, u, v):
    """Tracer tendency (units s-1) from first-order upwind fluxes in flux form."""
    flux_x = np.maximum(u, 0.0) * np.roll(q, 1, 1) + np.minimum(u, 0.0) * q
    flux_y = np.maximum(v, 0.0) * np.roll(q, 1, 0) + np.minimum(v, 0.0) * q
    return -(np.roll(flux_x, -1, 1) - flux_x + np.roll(flux_y, -1, 0) - flux_y) / DX


def diffusion(q, wet_v):
    """Tracer tendency from lateral Laplacian diffusion."""
    return KAPPA * laplacian(q, wet_v)


def calc_gt(T, u, v, t_forcing, wet_v):
    """Temperature tendency: advection + diffusion + surface forcing."""
    return advection(T, u, v) + diffusion(T, wet_v) + t_forcing


def calc_gs(S, u, v, s_forcing, wet_v):
    """Salinity tendency: advection + diffusion + surface forcing."""
    return advection(S, u, v) + diffusion(S, wet_v) + s_forcing


def thermodynamics(T, S, u, v, t_forcing, s_forcing, wet_v):
    """Step temperature and salinity forward with the new velocities."""
    T_new = T + DT * calc_gt(T, u, v, t_forcing, wet_v)
    S_new = S + DT * calc_gs(S, u, v, s_forcing, wet_v)
    return T_new, S_new


def external_forcing(T, t_star, s_flux):
    """Surface forcing tendencies: relaxation of T towards t_star and a virtual salt flux."""
    t_forcing = RELAX_T * (t_star - T)
    s_forcing = s_flux / DEPTH
    return t_forcing, s_forcing


def forward_step(T, S, u, v, eta, taux, t_star, s_flux, wet_v):
    """One model time step: forcing, dynamics, then thermodynamics."""
    t_forcing, s_forcing = external_forcing(T, t_star, s_flux)
    u, v, eta = dynamics(u, v, eta, T, S, taux, wet_v)
    T, S = thermodynamics(T, S, u, v, t_forcing, s_forcing, wet_v)
    return T, S, u, v, eta


def cost_misfit(q, q_obs, sigma):
    """Mean squared model-data misfit, normalised by the observation error."""
    d = (q - q_obs) / sigma
    return np.mean(d * d)


def cost_function(T, S, t_obs, s_obs):
    """Model-data misfit of the final temperature and salinity."""
    return 0.5 * (cost_misfit(T, t_obs, SIGMA_T) + cost_misfit(S, s_obs, SIGMA_S))


def the_main_loop(T0, S0, u0, v0, eta0, taux, t_star, s_flux, t_obs, s_obs, wet_v, n_steps):
    """Run n_steps model steps from the initial state and return the cost."""
    T, S, u, v, eta = T0, S0, u0, v0, eta0
    for step in range(n_steps):
        T, S, u, v, eta = forward_step(T, S, u, v, eta, taux, t_star, s_flux, wet_v)
    return cost_function(T, S, t_obs, s_obs)


ARG_NAMES = ("T0", "S0", "u0", "v0", "eta0", "taux", "t_star", "s_flux", "t_obs", "s_obs",
             "wet_v", "n_steps")


def default_args(nx=64, ny=64, n_steps=100, seed=0):
    """Inputs of the_main_loop, in order (see ARG_NAMES): a warm-south channel under a zonal wind."""
    rng = np.random.default_rng(seed)
    y = (np.arange(ny) + 0.5) / ny
    x = (np.arange(nx) + 0.5) / nx
    Y, X = np.meshgrid(y, x, indexing="ij")
    T0 = 18.0 - 10.0 * Y + 0.5 * np.sin(2 * np.pi * X) * np.sin(np.pi * Y)
    S0 = 35.0 + 0.4 * Y - 0.2 * np.cos(2 * np.pi * X) * np.sin(np.pi * Y)
    u0 = np.zeros((ny, nx))
    v0 = np.zeros((ny, nx))
    eta0 = 0.2 * np.exp(-((X - 0.5) ** 2 + (Y - 0.5) ** 2) / 0.02)
    taux = 0.1 * np.cos(2 * np.pi * Y)
    t_star = 20.0 - 12.0 * Y
    s_flux = 1.0e-5 * np.sin(2 * np.pi * Y)
    t_obs = T0 + 0.3 * rng.standard_normal((ny, nx))
    s_obs = S0 + 0.05 * rng.standard_normal((ny, nx))
    wet_v = (np.arange(ny) > 0).astype(float)[:, None] * np.ones((1, nx))
    return (T0, S0, u0, v0, eta0, taux, t_star, s_flux, t_obs, s_obs, wet_v, n_steps)


def run(nx=64, ny=64, n_steps=100):
    """Primal run on the default inputs; returns the cost (see the module docstring's example)."""
    return the_main_loop(*default_args(nx=nx, ny=ny, n_steps=n_steps))
