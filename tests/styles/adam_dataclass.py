"""A hyper-gradient through training with an optimizer object (a dataclass) whose moment estimates
are created lazily and replaced each step."""
import numpy as np
from dataclasses import dataclass, field


@dataclass
class Adam:
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    m: np.ndarray = None
    v: np.ndarray = None

    def update(self, w, g):
        if self.m is None:
            self.m = np.zeros_like(w)
            self.v = np.zeros_like(w)
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        mhat = self.m / (1 - self.beta1 ** self.t)
        vhat = self.v / (1 - self.beta2 ** self.t)
        return w - self.lr * mhat / (np.sqrt(vhat) + self.eps)


def train(lr, w0, X, y, steps=20):
    opt = Adam(lr=lr)
    w = w0
    for _ in range(steps):
        r = X @ w - y
        g = X.T @ r / len(y)
        w = opt.update(w, g)
    return 0.5 * np.mean((X @ w - y) ** 2)
