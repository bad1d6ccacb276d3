import numpy as np

from ._inputs import case, mat, vec

GRAVITY = 9.81
DEPTH = 1.0


# shallow-water tendencies on a periodic grid, returned as a tuple
def sw_tendencies(h, u, dx):
    dh = -DEPTH * (np.roll(u, -1) - np.roll(u, 1)) / (2.0 * dx)
    du = -GRAVITY * (np.roll(h, -1) - np.roll(h, 1)) / (2.0 * dx) - 0.1 * u
    return dh, du


# Heun (RK2) step calling the tendencies twice
def sw_step(h, u, dt, dx):
    dh1, du1 = sw_tendencies(h, u, dx)
    dh2, du2 = sw_tendencies(h + dt * dh1, u + dt * du1, dx)
    return h + 0.5 * dt * (dh1 + dh2), u + 0.5 * dt * (du1 + du2)


# shallow-water run with a misfit cost every other step
def shallow_water_cost(h0, u0, obs):
    h, u = h0, u0
    cost = 0.0
    for k in range(6):
        h, u = sw_step(h, u, 0.01, 0.5)
        if k % 2 == 1:
            cost = cost + 0.5 * np.sum((h - obs) ** 2)
    return cost


# one dense layer with tanh activation
def dense(x, W, b):
    return np.tanh(W @ x + b)


# multilayer perceptron over a list of (W, b) tuples
def mlp(params, x):
    for W, b in params[:-1]:
        x = dense(x, W, b)
    W, b = params[-1]
    return W @ x + b


# softmax cross-entropy of one sample
def cross_entropy(logits, label):
    z = logits - np.max(logits)
    return np.log(np.sum(np.exp(z))) - z[label]


# mean loss over a batch, looping over samples; the gradient is a list of tuples
def mlp_loss(params, X, labels):
    total = 0.0
    for i in range(X.shape[0]):
        total = total + cross_entropy(mlp(params, X[i]), labels[i])
    return total / X.shape[0]


# Lorenz-96 tendency with np.roll
def l96_rhs(x):
    return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + 8.0


# RK4 step of Lorenz-96
def l96_step(x, dt):
    k1 = l96_rhs(x)
    k2 = l96_rhs(x + 0.5 * dt * k1)
    k3 = l96_rhs(x + 0.5 * dt * k2)
    k4 = l96_rhs(x + dt * k3)
    return x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


# strong-constraint 4D-Var cost: background term with a solve, observations every other step
def fourdvar_cost(x0, xb, B, obs):
    d = x0 - xb
    cost = 0.5 * d @ np.linalg.solve(B, d)
    x = x0
    for k in range(obs.shape[0]):
        x = l96_step(x, 0.01)
        x = l96_step(x, 0.01)
        cost = cost + 0.5 * np.sum((x[::2] - obs[k]) ** 2)
    return cost


# 2-D heat step with a source term, on a fresh array
def heat2d_step(T, source, kappa):
    Tn = T.copy()
    Tn[1:-1, 1:-1] = T[1:-1, 1:-1] + kappa * (T[2:, 1:-1] + T[:-2, 1:-1] + T[1:-1, 2:]
                                              + T[1:-1, :-2] - 4.0 * T[1:-1, 1:-1])
    Tn[1:-1, 1:-1] += 0.01 * source
    return Tn


# 2-D heat run with boundary rows written after every step
def heat2d_run(T0, source, kappa):
    T = T0.copy()
    for _ in range(4):
        T = heat2d_step(T, source, kappa)
        T[0, :] = 1.0
        T[-1, :] = T[-2, :]
    return np.sum(T[1:-1, 1:-1] ** 2)


# Stommel-like two-box model tendencies on Python floats
def box_tendencies(t1, t2, s1, s2, forcing):
    q = 1.5 * ((t1 - t2) - 0.8 * (s1 - s2))
    flow = q * q + 0.1
    return (forcing - t1) - flow * (t1 - t2), (1.0 - t2) - flow * (t2 - t1), \
        -flow * (s1 - s2) + 0.2, -flow * (s2 - s1) - 0.2


# box model integrated with a float time and a while loop
def box_model(t1, s1, forcing):
    t2, s2 = 0.5, 0.3
    time = 0.0
    while time < 1.0 - 1e-9:
        d1, d2, e1, e2 = box_tendencies(t1, t2, s1, s2, forcing)
        t1, t2 = t1 + 0.1 * d1, t2 + 0.1 * d2
        s1, s2 = s1 + 0.1 * e1, s2 + 0.1 * e2
        time = time + 0.1
    return t1 * t2 + s1 - s2


# linear interpolation at particle positions with a floor-computed cell index
def interpolate(field, x):
    out = np.zeros(len(x))
    for p in range(len(x)):
        i = int(np.floor(x[p]))
        w = x[p] - i
        out[p] = (1.0 - w) * field[i] + w * field[i + 1]
    return out


# particles advected by an interpolated velocity field
def particle_run(field, x0):
    x = x0
    for _ in range(3):
        x = x + 0.05 * interpolate(field, x)
    return np.sum(x ** 2)


CASES = [
    case(shallow_water_cost,
         lambda: (1.0 + 0.1 * vec(8, 1001), 0.1 * vec(8, 1002), 1.0 + 0.1 * vec(8, 1003)), (0, 1)),
    case(mlp_loss, lambda: ([(mat(4, 3, 1004), vec(4, 1005)), (mat(4, 4, 1006), vec(4, 1007)),
                             (mat(3, 4, 1008), vec(3, 1009))],
                            mat(3, 3, 1010), np.array([0, 2, 1]))),
    case(fourdvar_cost, lambda: (vec(6, 1011, 0.0, 2.0), vec(6, 1012, 0.0, 2.0),
                                 np.eye(6) + 0.1 * np.ones((6, 6)), mat(3, 3, 1013)), (0, 1, 2)),
    case(heat2d_run, lambda: (vec(25, 1014).reshape(5, 5), mat(3, 3, 1015), 0.15), (0, 1, 2),
         False),
    case(box_model, lambda: (0.9, 0.6, 1.2), (0, 1, 2)),
    case(particle_run, lambda: (vec(6, 1016), np.array([0.3, 1.6, 2.4, 3.7])), (0, 1), False),
]
