# An integrator base class with an abstract right-hand side, a subclass calling super().__init__,
# a classmethod building a default model, and a list of objects, one per species.
import numpy as np


class Integrator:
    order = 2

    def __init__(self, dt):
        self.dt = dt
        self.steps_taken = 0

    def rhs(self, y):
        raise NotImplementedError("subclasses define the right-hand side")

    def step(self, y):
        k1 = self.rhs(y)
        k2 = self.rhs(y + 0.5 * self.dt * k1)
        self.steps_taken += 1
        return y + self.dt * k2


class Decay(Integrator):
    def __init__(self, dt, rate, carrying=10.0):
        super().__init__(dt)
        self.rate = rate
        self.carrying = carrying

    @classmethod
    def default(cls, rate):
        return cls(0.05, rate)

    def rhs(self, y):
        return -self.rate * y * (1.0 - y / self.carrying)


def total_after(rate, y0, n=20):
    model = Decay.default(rate)
    y = y0
    for _ in range(n):
        y = model.step(y)
    return np.sum(y) + 0.0 * model.order


def two_species(rates, y0):
    models = [Decay(0.05, rates[0]), Decay(0.05, rates[1])]
    total = 0.0
    for k in range(2):
        y = y0[k]
        for _ in range(10):
            y = models[k].step(y)
        total = total + y
    return total
