import numpy as np

from ._inputs import case, mat, vec


# for over range(n) with one argument, n an integer argument
def for_range1(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.5 + np.sin(x * i + 0.3)
    return s


# for over range(start, stop)
def for_range2(a):
    s = 0.0
    for i in range(1, 5):
        s = s + a[i] * a[i - 1]
    return s


# for over range(start, stop, step)
def for_range3(a):
    s = 1.0
    for i in range(0, 7, 3):
        s = s * (1.0 + a[i])
    return s


# for over a range with a negative step
def for_range_negative_step(a):
    s = 0.0
    for i in range(len(a) - 1, -1, -2):
        s = 0.8 * s + a[i] ** 2
    return s


# for over range(len(a)) reading a[i]
def for_range_len(a):
    s = 0.0
    for i in range(len(a)):
        s = s + (i + 1) * np.tanh(a[i])
    return s


# for over the rows of a 2-D array
def for_rows(A):
    s = 0.0
    for row in A:
        s = s + np.sum(row * row) * s + row[0]
    return s


# for over a list literal of floats
def for_list_literal(x):
    s = x
    for c in [0.5, 1.5, -0.25]:
        s = s * c + x
    return s


# for over a list of active arrays
def for_list_of_arrays(a, b):
    total = 0.0
    for v in [a, b, a * b]:
        total = total + np.sum(np.sin(v))
    return total


# for over a tuple of floats
def for_tuple(x, y):
    s = 0.0
    for v in (x, y, x * y):
        s = s + v * v
    return s


# enumerate over an array
def for_enumerate(a):
    s = 0.0
    for i, v in enumerate(a):
        s = s + i * v * v
    return s


# enumerate over a list with a start value
def for_enumerate_start(a):
    s = 0.0
    for k, v in enumerate([a[0], a[1] * a[2]], 1):
        s = s + k * v
    return s


# zip over two arrays
def for_zip(a, b):
    s = 0.0
    for u, v in zip(a, b):
        s = s + u * v * v
    return s


# zip over three lists with tuple unpacking
def for_zip3(a, b):
    s = 0.0
    for u, v, w in zip(a, b, [1.0, 2.0, 3.0]):
        s = s + w * np.exp(u - v)
    return s


# nested for loops
def nested_for(A):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s = s + A[i, j] * A[j % A.shape[0], i % A.shape[1]]
    return s


# loop-carried array state (time stepping)
def loop_carried_array(u):
    for _ in range(4):
        u = u + 0.1 * np.sin(u)
    return np.sum(u ** 2)


# loop variable used after the loop ends
def loop_variable_after(a):
    s = 0.0
    for i in range(3):
        s = s + a[i]
    return s * a[i]


# while loop with a counter
def while_counter(x):
    k = 0
    s = x
    while k < 4:
        s = s * np.cos(s) + x
        k += 1
    return s


# while loop whose trip count depends on an active value (locally constant)
def while_active_condition(x):
    y = x
    while y < 10.0:
        y = y * 1.5 + 0.1
    return y * x


# while True with break
def while_true_break(a):
    i = 0
    s = 0.0
    while True:
        s = s + a[i] * a[i]
        i += 1
        if i >= 3:
            break
    return s


# if / elif / else on an integer argument
def if_elif_else(x, n):
    if n == 0:
        y = x
    elif n == 1:
        y = x * x
    else:
        y = x * x * x
    return y


# if without else inside a loop, on index parity
def if_parity(a):
    s = 0.0
    for i in range(len(a)):
        if i % 2 == 0:
            s = s + a[i] ** 2
    return s


# if / else on index parity in a loop
def if_else_parity(a):
    s = 0.0
    for i in range(len(a)):
        if i % 2 == 0:
            s = s + np.sin(a[i])
        else:
            s = s * a[i]
    return s


# if on a comparison of constants
def if_constants(x):
    if 2 > 1:
        y = x * 3.0
    else:
        y = x
    return y * y


# break inside a for loop
def for_break(a):
    s = 0.0
    for i in range(len(a)):
        if i == 3:
            break
        s = s + a[i] * (i + 1)
    return s * s


# continue inside a for loop
def for_continue(a):
    s = 0.0
    for i in range(len(a)):
        if i % 3 == 1:
            continue
        s = s + np.exp(0.5 * a[i])
    return s


# break on an active comparison (far from the switch)
def for_break_active(a):
    s = 0.0
    for v in a:
        s = s + v * v
        if s > 1.0:
            break
    return s


# break and continue in a while loop
def while_break_continue(a):
    i = 0
    s = 0.0
    while i < len(a):
        i += 1
        if i == 2:
            continue
        if i == 5:
            break
        s = s + a[i - 1] ** 3
    return s


# break out of the inner of two nested loops
def nested_break(A):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            if j > i:
                break
            s = s + A[i, j] ** 2
    return s


# early return inside a for loop
def early_return_for(a):
    s = 0.0
    for i in range(len(a)):
        s = s + a[i] * a[i]
        if i == 2:
            return s * a[0]
    return s


# early return inside a while loop depending on an active value
def early_return_while(x):
    y = x
    k = 0
    while k < 100:
        y = y * 1.3
        k += 1
        if y > 5.0:
            return y * k
    return y


# early return inside nested loops
def early_return_nested(A):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s = s + A[i, j] * s + A[i, j]
            if i == 1 and j == 1:
                return s
    return -s


# return from both branches of an if
def return_in_branches(x, y):
    if y > x:
        return np.sin(x) * y
    else:
        return np.cos(y) * x


# conditional expression inside a loop body
def cond_expr_in_loop(a):
    s = 0.0
    for i in range(len(a)):
        s = s + (a[i] * a[i] if i % 2 else np.sin(a[i]))
    return s


# pass statement in a branch
def pass_branch(a):
    s = 0.0
    for i in range(len(a)):
        if i == 1:
            pass
        else:
            s = s + a[i] ** 2
    return s


# loop with an unused loop variable and an array accumulator
def accumulate_array(A):
    acc = A[0] * 0.0
    for row in A:
        acc = acc + np.sin(row) * row
    return np.sum(acc * acc)


CASES = [
    case(for_range1, lambda: (0.7, 5)),
    case(for_range2, lambda: (vec(6, 201),)),
    case(for_range3, lambda: (vec(8, 202),)),
    case(for_range_negative_step, lambda: (vec(7, 203),)),
    case(for_range_len, lambda: (vec(5, 204),)),
    case(for_rows, lambda: (mat(4, 3, 205, -0.5, 0.5),)),
    case(for_list_literal, lambda: (1.3,)),
    case(for_list_of_arrays, lambda: (vec(4, 206), vec(4, 207)), (0, 1)),
    case(for_tuple, lambda: (0.6, -1.4), (0, 1)),
    case(for_enumerate, lambda: (vec(5, 208),)),
    case(for_enumerate_start, lambda: (vec(3, 209),)),
    case(for_zip, lambda: (vec(5, 210), vec(5, 211)), (0, 1)),
    case(for_zip3, lambda: (vec(3, 212), vec(4, 213)), (0, 1)),
    case(nested_for, lambda: (mat(3, 2, 214),)),
    case(loop_carried_array, lambda: (vec(5, 215),)),
    case(loop_variable_after, lambda: (vec(4, 216),)),
    case(while_counter, lambda: (0.4,)),
    case(while_active_condition, lambda: (1.2,)),
    case(while_true_break, lambda: (vec(5, 217),)),
    case(if_elif_else, lambda: (0.8, 0)),
    case(if_elif_else, lambda: (0.8, 1)),
    case(if_elif_else, lambda: (0.8, 5)),
    case(if_parity, lambda: (vec(7, 218),)),
    case(if_else_parity, lambda: (vec(6, 219),)),
    case(if_constants, lambda: (0.9,)),
    case(for_break, lambda: (vec(6, 220),)),
    case(for_continue, lambda: (vec(7, 221),)),
    case(for_break_active, lambda: (np.array([0.5, 0.6, 0.7, 0.8, 0.9]),)),
    case(while_break_continue, lambda: (vec(7, 222),)),
    case(nested_break, lambda: (mat(3, 3, 223),)),
    case(early_return_for, lambda: (vec(5, 224),)),
    case(early_return_while, lambda: (0.7,)),
    case(early_return_nested, lambda: (mat(3, 3, 225, -0.5, 0.5),)),
    case(return_in_branches, lambda: (0.3, 1.1), (0, 1)),
    case(return_in_branches, lambda: (1.3, 0.1), (0, 1)),
    case(cond_expr_in_loop, lambda: (vec(5, 226),)),
    case(pass_branch, lambda: (vec(4, 227),)),
    case(accumulate_array, lambda: (mat(3, 4, 228),)),
]
