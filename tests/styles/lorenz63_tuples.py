# Lorenz-63 with RK4 on a tuple state of Python floats; the trajectory kept in a list, and the
# cost a misfit to observations taken every few steps.
SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0


def rhs(state, sigma):
    x, y, z = state
    return (sigma * (y - x), x * (RHO - z) - y, x * y - BETA * z)


def rk4(state, dt, sigma):
    k1 = rhs(state, sigma)
    k2 = rhs(tuple(s + 0.5 * dt * k for s, k in zip(state, k1)), sigma)
    k3 = rhs(tuple(s + 0.5 * dt * k for s, k in zip(state, k2)), sigma)
    k4 = rhs(tuple(s + dt * k for s, k in zip(state, k3)), sigma)
    return tuple(s + dt / 6.0 * (a + 2 * b + 2 * c + d) for s, a, b, c, d in zip(state, k1, k2, k3, k4))


def misfit(x0, y0, z0, sigma, obs, dt=0.01, every=5):
    state = (x0, y0, z0)
    trajectory = [state]
    for n in range(len(obs) * every):
        state = rk4(state, dt, sigma)
        trajectory.append(state)
    J = 0.0
    for k, o in enumerate(obs):
        x, y, z = trajectory[(k + 1) * every]
        J += (x - o) ** 2
    return J / len(obs)
