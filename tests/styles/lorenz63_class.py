# Lorenz-63 written as a class with methods, state in an attribute: methods calling methods, the
# parameters in attributes set by the constructor, the state replaced step by step.
import numpy as np


class Lorenz63:
    def __init__(self, sigma=10.0, rho=28.0, beta=8.0 / 3.0, dt=0.01):
        self.sigma, self.rho, self.beta, self.dt = sigma, rho, beta, dt
        self.x = None

    def rhs(self, s):
        x, y, z = s
        return np.array([self.sigma * (y - x), x * (self.rho - z) - y, x * y - self.beta * z])

    def step(self):
        self.x = self.x + self.dt * self.rhs(self.x)

    def integrate(self, x0, n):
        self.x = x0
        for _ in range(n):
            self.step()
        return self.x


def final_z(x0):
    model = Lorenz63()
    return model.integrate(x0, 30)[2]
