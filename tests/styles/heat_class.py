# A heat-equation solver written as classes: a dataclass of parameters, a grid object held by the
# solver, the state in an attribute updated in place slice by slice, model time accumulated in an
# attribute, a property for the energy, a static method for the stencil, and a print now and then.
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class HeatParams:
    kappa: float
    dt: float = 2e-4
    n_steps: int = 40
    verbose: bool = False


class Grid:
    def __init__(self, n, length=1.0):
        self.n = n
        self.x = np.linspace(0.0, length, n)
        self.dx = self.x[1] - self.x[0]


class HeatSolver:
    """Explicit Euler for u_t = kappa u_xx with fixed ends."""

    def __init__(self, params, n=41):
        self.p = params
        self.grid = Grid(n)
        self.u = None
        self.t = 0.0

    @staticmethod
    def second_difference(u, dx):
        return (u[2:] - 2.0 * u[1:-1] + u[:-2]) / dx ** 2

    @property
    def energy(self):
        return 0.5 * np.sum(self.u ** 2) * self.grid.dx

    def step(self):
        self.u[1:-1] += self.p.dt * self.p.kappa * self.second_difference(self.u, self.grid.dx)
        self.t += self.p.dt

    def run(self, u0):
        self.u = u0.copy()
        start = time.perf_counter()
        for k in range(self.p.n_steps):
            self.step()
            if self.p.verbose and k % 10 == 0:
                print(f"t = {self.t:.4f}  energy = {self.energy:.6f}")
        if self.p.verbose:
            print(f"{self.p.n_steps} steps in {time.perf_counter() - start:.3f} s")
        return self.energy


def final_energy(kappa, u0):
    solver = HeatSolver(HeatParams(kappa))
    return solver.run(u0)


def final_energy_for(params, u0):
    """The same, with the parameters passed in (their gradient is a HeatParams)."""
    return HeatSolver(params).run(u0)
