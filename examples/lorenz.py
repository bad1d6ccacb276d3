"""Lorenz-96 integrated with classical RK4, written as scalar Python (lists of floats).

    dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F,   i = 0 .. n-1 (cyclic)

Every operation is on a Python float: this is the kind of code where a tape of per-operation
closures (operator overloading) costs hundreds of times the primal, and generated adjoint code
stays within a small factor of it.

Example::

    >>> import lorenz
    >>> energy = lorenz.run(n_vars=8, n_steps=50)
    >>> energy > 0.0
    True
"""

FORCING = 8.0     # the classic chaotic forcing


def l96_rhs(x, forcing):
    """Lorenz-96 tendencies of the list of floats x."""
    n = len(x)
    return [(x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + forcing for i in range(n)]


def axpy(x, a, k):
    """The list x + a * k, element by element."""
    return [x[i] + a * k[i] for i in range(len(x))]


def rk4_step(x, dt, forcing):
    """One classical fourth-order Runge-Kutta step."""
    k1 = l96_rhs(x, forcing)
    k2 = l96_rhs(axpy(x, 0.5 * dt, k1), forcing)
    k3 = l96_rhs(axpy(x, 0.5 * dt, k2), forcing)
    k4 = l96_rhs(axpy(x, dt, k3), forcing)
    return [x[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) for i in range(len(x))]


def energy(x):
    """Mean of x_i^2 / 2 over the variables."""
    total = 0.0
    for xi in x:
        total = total + 0.5 * xi * xi
    return total / len(x)


def lorenz96(x0, n_steps, dt=0.005, forcing=FORCING):
    """Integrate n_steps RK4 steps from the list x0 and return the final energy."""
    x = x0
    for step in range(n_steps):
        x = rk4_step(x, dt, forcing)
    return energy(x)


def default_args(n_vars=10, n_steps=3000):
    """Inputs of lorenz96(): the rest state F with a small perturbation of one variable."""
    x0 = [FORCING] * n_vars
    x0[0] = FORCING + 0.01
    return (x0, n_steps)


def run(n_vars=10, n_steps=3000):
    """Primal run on the default inputs; returns the final energy."""
    return lorenz96(*default_args(n_vars=n_vars, n_steps=n_steps))
