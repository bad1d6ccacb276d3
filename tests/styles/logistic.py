# Logistic regression trained by a few steps of full-batch gradient descent written by hand
# (the gradient of the training loss w.r.t. the learning rate and the initial weights is a
# hyper-gradient); np.clip, np.log1p, a regularisation flag and a learning-rate schedule.
import numpy as np

REGULARISE = True


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss(w, X, y, lam=1e-2):
    z = X @ w
    p = np.clip(sigmoid(z), 1e-12, 1 - 1e-12)
    data = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    if REGULARISE:
        data = data + 0.5 * lam * np.dot(w, w)
    return data


def train(w0, lr, X, y, epochs=8):
    w = w0.copy()
    history = []
    for epoch in range(epochs):
        p = sigmoid(X @ w)
        g = X.T @ (p - y) / len(y) + 1e-2 * w
        w = w - lr / (1.0 + 0.1 * epoch) * g
        history.append(loss(w, X, y))
    return w, history


def validation_loss(w0, lr, X, y, Xv, yv):
    w, history = train(w0, lr, X, y)
    return loss(w, Xv, yv)
