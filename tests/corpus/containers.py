import numpy as np

from ._inputs import case, mat, vec


# list literal of active floats, then indexing
def list_literal(x, y):
    xs = [x, y, x * y]
    return xs[0] * xs[2] + xs[-1] ** 2


# tuple literal of active arrays, then unpacking
def tuple_literal(a, b):
    t = (a * b, a + b)
    u, v = t
    return np.sum(u * v)


# dict literal with string keys
def dict_literal(x, y):
    d = {"a": x * y, "b": x + y}
    return d["a"] * d["b"] + d["a"]


# dict literal of arrays, updated by key assignment
def dict_setitem(a):
    d = {"u": a, "v": a * a}
    d["u"] = d["u"] * 2.0 + d["v"]
    return np.sum(d["u"] * d["v"])


# list comprehension over a range
def list_comprehension(a):
    squares = [a[i] ** 2 for i in range(len(a))]
    return sum(squares)


# list comprehension with a condition on the index
def list_comprehension_if(a):
    return sum([np.sin(a[i]) for i in range(len(a)) if i % 2 == 0])


# list comprehension over the elements of an array
def list_comprehension_elements(a):
    return np.sum(np.array([v * v * v for v in a]))


# nested list comprehension building a matrix
def nested_comprehension(a, b):
    M = np.array([[u * v for v in b] for u in a])
    return np.sum(M ** 2)


# list append in a loop, then np.stack
def list_append(a):
    rows = []
    for k in range(3):
        rows.append(a * (k + 1.0) + np.sin(a))
    return np.sum(np.stack(rows) ** 2)


# builtin sum and len of a list
def sum_len_list(x, y):
    xs = [x, y, x * y, y * y]
    return sum(xs) / len(xs)


# tuple argument: the gradient is a tuple
def tuple_arg(p):
    a, b = p
    return a * b + np.sin(a)


# list argument of floats: the gradient is a list
def list_arg(xs):
    s = 0.0
    for x in xs:
        s = s + x * x * x
    return s


# dict argument of arrays: the gradient is a dict
def dict_arg(params):
    return np.sum(params["w"] * params["b"]) + np.sum(np.tanh(params["w"]) ** 2)


# nested dict/tuple argument with an integer leaf (gradient None there)
def nested_arg(cfg):
    w, scale = cfg["pair"]
    n = cfg["steps"]
    s = 0.0
    for _ in range(n):
        s = s + np.sum(w * w) * scale
    return s


# list of arrays argument
def list_of_arrays_arg(arrays):
    return np.sum(arrays[0] * arrays[1]) + np.sum(arrays[2] ** 3)


# tuple of (array, float) returned by a literal and unpacked again
def tuple_roundtrip(a, s):
    pair = (a * s, s * s)
    b, t = pair
    return np.sum(b) * t


# iterating over dict keys given as a tuple literal
def dict_by_keys(d):
    total = 0.0
    for key in ("x", "y"):
        total = total + np.sum(d[key] ** 2)
    return total


# list of lists of floats argument
def nested_list_arg(rows):
    s = 0.0
    for row in rows:
        for v in row:
            s = s + v * s + v
    return s


# list with negative indexing and slicing
def list_slice(a):
    xs = [a[0], a[1] * 2.0, a[2] ** 2, np.sin(a[3])]
    head = xs[:2]
    return head[0] * head[1] + xs[-1] * xs[-2]


CASES = [
    case(list_literal, lambda: (0.7, 1.4), (0, 1)),
    case(tuple_literal, lambda: (vec(3, 401), vec(3, 402)), (0, 1)),
    case(dict_literal, lambda: (0.7, 1.4), (0, 1)),
    case(dict_setitem, lambda: (vec(4, 403),)),
    case(list_comprehension, lambda: (vec(5, 404),)),
    case(list_comprehension_if, lambda: (vec(6, 405),)),
    case(list_comprehension_elements, lambda: (vec(4, 406),)),
    case(nested_comprehension, lambda: (vec(3, 407), vec(2, 408)), (0, 1)),
    case(list_append, lambda: (vec(4, 409),)),
    case(sum_len_list, lambda: (0.4, 1.2), (0, 1)),
    case(tuple_arg, lambda: ((0.4, 1.2),)),
    case(list_arg, lambda: ([0.4, -1.2, 0.8],)),
    case(dict_arg, lambda: ({"w": vec(3, 410), "b": vec(3, 411)},)),
    case(nested_arg, lambda: ({"pair": (vec(3, 412), 0.8), "steps": 3},), 0, False),
    case(list_of_arrays_arg, lambda: ([vec(3, 413), vec(3, 414), vec(3, 415)],)),
    case(tuple_roundtrip, lambda: (vec(3, 416), 1.3), (0, 1)),
    case(dict_by_keys, lambda: ({"x": vec(2, 417), "y": mat(2, 2, 418)},)),
    case(nested_list_arg, lambda: ([[0.3, -0.2], [0.5, 0.1, -0.4]],)),
    case(list_slice, lambda: (vec(4, 419),)),
]
