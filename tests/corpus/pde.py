import numpy as np

from ._inputs import case, vec

NU = 0.2


# explicit 1-D heat equation step writing the interior of a copy
def heat_step(u, nu):
    un = u.copy()
    un[1:-1] = u[1:-1] + nu * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return un


# time loop of heat steps, reduced to the final energy
def heat_run(u0, nu):
    u = u0
    for _ in range(8):
        u = heat_step(u, nu)
    return np.sum(u ** 2)


# periodic viscous Burgers step with np.roll and central differences
def burgers_step(u, dt, dx):
    ux = (np.roll(u, -1) - np.roll(u, 1)) / (2.0 * dx)
    uxx = (np.roll(u, -1) - 2.0 * u + np.roll(u, 1)) / (dx * dx)
    return u - dt * u * ux + dt * NU * uxx


# Burgers time loop, cost is a misfit against a target
def burgers_run(u0, target):
    u = u0
    for _ in range(10):
        u = burgers_step(u, 0.001, 0.1)
    return 0.5 * np.sum((u - target) ** 2)


# upwind advection with a scalar loop writing into a fresh array
def advect_upwind(u, c):
    v = np.zeros(len(u))
    v[0] = u[0]
    for i in range(1, len(u)):
        v[i] = u[i] - c * (u[i] - u[i - 1])
    return v


# several upwind steps with an active Courant number
def advect_run(u0, c):
    u = u0
    for _ in range(5):
        u = advect_upwind(u, c)
    return np.sum(u * np.arange(len(u)))


# right-hand side of the array ODE du/dt = -u**3 + sin(u)
def ode_rhs(u):
    return -u ** 3 + np.sin(u)


# classical RK4 step calling the right-hand side four times
def rk4_step(u, dt):
    k1 = ode_rhs(u)
    k2 = ode_rhs(u + 0.5 * dt * k1)
    k3 = ode_rhs(u + 0.5 * dt * k2)
    k4 = ode_rhs(u + dt * k3)
    return u + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


# RK4 time loop on an array state
def rk4_run(u0, dt):
    u = u0
    for _ in range(6):
        u = rk4_step(u, dt)
    return np.sum(u ** 2)


# 2-D diffusion step with slicing on both axes
def diffusion_2d(T):
    Tn = T.copy()
    Tn[1:-1, 1:-1] += 0.1 * (T[2:, 1:-1] + T[:-2, 1:-1] + T[1:-1, 2:] + T[1:-1, :-2]
                             - 4.0 * T[1:-1, 1:-1])
    return Tn


# 2-D diffusion time loop
def diffusion_2d_run(T0):
    T = T0
    for _ in range(4):
        T = diffusion_2d(T)
    return np.sum(T ** 2)


CASES = [
    case(heat_run, lambda: (vec(8, 601), 0.2), (0, 1), False),
    case(burgers_run, lambda: (np.sin(np.linspace(0.0, 2.0 * np.pi, 12, endpoint=False)) + 1.0,
                               vec(12, 602)), (0, 1)),
    case(advect_run, lambda: (vec(6, 603), 0.4), (0, 1), False),
    case(rk4_run, lambda: (vec(5, 604), 0.1), (0, 1)),
    case(diffusion_2d_run, lambda: (vec(25, 605).reshape(5, 5),), 0, False),
]
