# Gravitational N-body with a leapfrog integrator, written the way a physics student writes it:
# positions and velocities as (N, 2) arrays, a double loop over pairs with scalar writes, an
# energy diagnostic every step that nobody differentiates, and a print now and then.
import numpy as np

G = 1.0
SOFTENING = 0.1


def accelerations(pos, mass):
    n = pos.shape[0]
    acc = np.zeros((n, 2))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            r2 = dx * dx + dy * dy + SOFTENING ** 2
            inv_r3 = r2 ** (-1.5)
            acc[i, 0] += G * mass[j] * dx * inv_r3
            acc[i, 1] += G * mass[j] * dy * inv_r3
    return acc


def energy(pos, vel, mass):
    kinetic = 0.5 * np.sum(mass[:, None] * vel ** 2)
    potential = 0.0
    n = pos.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            r = np.sqrt(np.sum((pos[i] - pos[j]) ** 2) + SOFTENING ** 2)
            potential -= G * mass[i] * mass[j] / r
    return kinetic + potential


def simulate(pos0, vel0, mass, n_steps=20, dt=0.01, verbose=False):
    pos = pos0.copy()
    vel = vel0.copy()
    energies = []
    acc = accelerations(pos, mass)
    for step in range(n_steps):
        vel += 0.5 * dt * acc
        pos += dt * vel
        acc = accelerations(pos, mass)
        vel += 0.5 * dt * acc
        energies.append(energy(pos, vel, mass))
        if verbose and step % 10 == 0:
            print(f"step {step}: E = {energies[-1]:.6f}")
    drift = abs(energies[-1] - energies[0]) / abs(energies[0])
    if verbose:
        print("relative energy drift", drift)
    return pos, vel


def final_spread(pos0, vel0, mass):
    pos, vel = simulate(pos0, vel0, mass)
    centre = np.sum(mass[:, None] * pos, axis=0) / np.sum(mass)
    return np.sum((pos - centre) ** 2)
