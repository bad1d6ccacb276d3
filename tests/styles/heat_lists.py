# Heat equation on plain Python lists, the way it is taught in a first numerics course.
def step(T, r):
    n = len(T)
    new = [0.0] * n
    new[0] = T[0]
    new[n - 1] = T[n - 1]
    for i in range(1, n - 1):
        new[i] = T[i] + r * (T[i + 1] - 2.0 * T[i] + T[i - 1])
    return new


def simulate(T, r, steps=30):
    for _ in range(steps):
        T = step(T, r)
    total = 0.0
    for v in T:
        total += v * v
    return total
