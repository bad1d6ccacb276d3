"""2-D linear shallow water on a periodic box, as a script with a configuration block, a while
loop on model time, and output every so often."""
import numpy as np

# --- configuration ---
nx, ny = 16, 12
Lx, Ly = 1.0e6, 8.0e5
g = 9.81
H = 100.0
f0 = 1.0e-4
dx, dy = Lx / nx, Ly / ny
dt = 0.5 * min(dx, dy) / np.sqrt(g * H)
t_end = 20 * dt
output_every = 5


def ddx(a):
    return (np.roll(a, -1, axis=1) - np.roll(a, 1, axis=1)) / (2 * dx)


def ddy(a):
    return (np.roll(a, -1, axis=0) - np.roll(a, 1, axis=0)) / (2 * dy)


def run(eta0, u0, v0, drag=1e-6):
    eta, u, v = eta0.copy(), u0.copy(), v0.copy()
    t = 0.0
    n = 0
    outputs = []
    while t < t_end - 1e-9:
        u_new = u + dt * (f0 * v - g * ddx(eta) - drag * u)
        v_new = v + dt * (-f0 * u - g * ddy(eta) - drag * v)
        eta = eta - dt * H * (ddx(u_new) + ddy(v_new))
        u, v = u_new, v_new
        t += dt
        n += 1
        if n % output_every == 0:
            outputs.append((t, float(np.max(np.abs(eta)))))
    return eta, u, v


def cost(eta0, drag):
    u0 = np.zeros_like(eta0)
    v0 = np.zeros_like(eta0)
    eta, u, v = run(eta0, u0, v0, drag)
    return 0.5 * np.mean(eta ** 2) + 0.5 * H / g * np.mean(u ** 2 + v ** 2)
