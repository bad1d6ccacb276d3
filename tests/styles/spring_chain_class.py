"""A spring-mass chain written as a class: a parameter dict in an attribute, positions and velocities
updated in place, model time and an energy log kept in attributes, a timer and a print."""
import numpy as np
import time


class Chain:
    def __init__(self, n, params):
        self.n = n
        self.params = dict(params)
        self.pos = np.linspace(0.0, 1.0, n)
        self.vel = np.zeros(n)
        self.time = 0.0
        self.energies = []

    def forces(self):
        k = self.params["k"]
        d = np.diff(self.pos) - self.params["rest"]
        f = np.zeros(self.n)
        f[:-1] += k * d
        f[1:] -= k * d
        return f - self.params["damping"] * self.vel

    def kinetic(self):
        return 0.5 * np.sum(self.vel ** 2)

    def step(self, dt):
        a = self.forces()
        self.vel += dt * a
        self.pos += dt * self.vel
        self.time += dt
        self.energies.append(self.kinetic())

    def run(self, steps, dt=0.01):
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step(dt)
        elapsed = time.perf_counter() - t0
        if elapsed > 10:
            print("slow run", elapsed)
        return self.pos


def loss(k, pos0, target):
    chain = Chain(len(pos0), {"k": k, "rest": 0.2, "damping": 0.1})
    chain.pos = pos0.copy()
    final = chain.run(50)
    return np.sum((final - target) ** 2)
