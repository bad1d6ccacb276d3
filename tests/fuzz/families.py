"""Program generators, one per family of issue 9.

Every generator takes a chooser ``r`` (see chooser.py) and returns a ``Program``: the source text
of a module whose ``main`` returns a float, with its inputs (``ARGS``) and the arguments to
differentiate (``ARGNUMS``) written into the module itself, so that a saved program reproduces on
its own. Programs are smooth where differentiated (bounded terms, no ties, no branch cuts), so
finite differences are a reliable reference.

The code is written the way people write it: classes with methods, lists of floats, flags and dead
branches, calls that write into their arguments, rebinding of parameters.
"""

from dataclasses import dataclass

import numpy as np

import test_random_programs          # tests/ is on sys.path (see __init__.py)

N = 5
COEFFS = ("0.1", "0.2", "0.3", "0.5", "-0.2", "-0.4", "1.5")
BOUNDED = ("np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(-0.5 * ({0}) * ({0}))")


@dataclass
class Program:
    family: str
    source: str
    autograd: bool          # worth trying autograd on (no in-place writes)


# ------------------------------------------------------------------------------------ helpers

def coef(r):
    return r.choice(COEFFS)


def bounded(r, inner):
    return r.choice(BOUNDED).format(inner)


def arr_expr(r, names, depth=1):
    """A smooth array expression over ``names`` (all of the same shape)."""
    kind = r.choice(["var", "bounded", "scale", "add", "mul"] if depth > 0 else ["var"])
    if kind == "var":
        return r.choice(names)
    if kind == "bounded":
        return bounded(r, arr_expr(r, names, depth - 1))
    if kind == "scale":
        return f"{coef(r)} * {arr_expr(r, names, depth - 1)}"
    if kind == "add":
        return f"({arr_expr(r, names, depth - 1)} {r.choice('+-')} {arr_expr(r, names, depth - 1)})"
    return f"{arr_expr(r, names, depth - 1)} * {bounded(r, r.choice(names))}"


def fresh_copy(r, src):
    """A new array computed from ``src`` (never the caller's array itself)."""
    return r.choice([f"{src} * 1.0", f"{src}.copy()", f"np.sin({src})", f"0.5 * {src} + 0.1",
                     f"np.array({src})", f"{src} + 0.0"])


def cost(r, arrays, scalars=()):
    """A float of the arrays (and scalars) that uses each of them."""
    terms = []
    for a in arrays:
        terms.append(r.choice([f"np.sum({a} * {a})", f"np.sum(np.sin({a}))",
                               f"0.3 * np.sum({a} * np.cos({a}))", f"np.sum(np.tanh({a}) ** 2)",
                               f"{a}[0] * {a}[-1]"]))
    for t in scalars:
        terms.append(r.choice([f"{t}", f"np.sin({t})", f"{t} * {t}"]))
    return " + ".join(terms)


def header(r, extra_imports=()):
    lines = ["import numpy as np"] + list(extra_imports)
    if r.flip(1, 3):
        lines += ["", "DEBUG = False", f"SCALE = {coef(r)}"]
    return lines + ["", ""]


def debug_lines(r, indent, name):
    """A dead branch, as real code has: a flag that is off, a print that never runs."""
    pad = "    " * indent
    form = r.choice(["none", "none", "flag", "false", "const"])
    if form == "flag":
        return [f"{pad}if DEBUG:", f"{pad}    print('{name}', {name})"]
    if form == "false":
        return [f"{pad}if False:", f"{pad}    {name} = {name} * 0.0"]
    if form == "const":
        return [f"{pad}verbose = 0", f"{pad}if verbose > 1:", f"{pad}    print({name})"]
    return []


def uses_debug(lines):
    return any("DEBUG" in line for line in lines)


def array_args(r, argnums="(0, 1)"):
    rng = np.random.default_rng(r.int(0, 2 ** 31))
    x = ", ".join(repr(float(v)) for v in rng.uniform(-1.0, 1.0, N))
    s = repr(float(rng.uniform(-1.0, 1.0)))
    return ["", "", f"ARGS = (np.array([{x}]), {s})", f"ARGNUMS = {argnums}", ""]


def list_args(r, shortest=4):
    """A list of ``shortest`` to 6 floats and a float (the length varies: list adjoints of the
    wrong length broadcast silently when the lengths happen to fit)."""
    rng = np.random.default_rng(r.int(0, 2 ** 31))
    u = ", ".join(repr(float(v)) for v in rng.uniform(-1.0, 1.0, r.int(shortest, 6)))
    s = repr(float(rng.uniform(-1.0, 1.0)))
    return ["", "", f"ARGS = ([{u}], {s})", "ARGNUMS = (0, 1)", ""]


def module(r, lines, args):
    head = header(r)
    if uses_debug(lines) and "DEBUG = False" not in head:
        head = head[:1] + ["", "DEBUG = False"] + head[1:]
    return "\n".join(head + lines + args)


# ------------------------------------------------------------------------------------ families

WRITES = (
    "{a}[0] = {b}[1] * 2.0",
    "{a}[-1] = np.sin({b}[0]) + {a}[0]",
    "{a}[1:] = {a}[1:] + 0.5 * np.sin({b}[:-1])",
    "{a}[1:] += 0.3 * np.tanh({b}[:-1])",
    "{a} += 0.3 * np.tanh({b})",
    "{a} *= np.cos({b})",
    "{a}[:] = np.sin({b})",
    "{a}[::2] = 0.5 * {b}[::2]",
    "{a}[:-1] = 0.5 * ({a}[1:] + {b}[:-1])",
)
# pairs of arguments of equal length that overlap (or, for control, do not)
PAIRS = (("y", "y"), ("y", "y[::-1]"), ("y[1:]", "y[:-1]"), ("y[:-1]", "y[1:]"), ("y[1:]", "y[1:]"),
         ("y[::2]", "y[::-2]"), ("y[::-1]", "y"), ("y", "z"), ("z", "y"), ("y[1:]", "z[1:]"),
         ("y[:]", "y"))


def alias_args(r):
    """One array passed twice, or views of it, to a callee that writes one argument."""
    first, second = r.choice(PAIRS)
    writes = [r.choice(WRITES).format(a="a", b="b") for _ in range(r.int(1, 2))]
    if r.flip(1, 3):                                    # the callee writes its second argument
        writes = [w.replace("a", "@").replace("b", "a").replace("@", "b") for w in writes]
        writes = [w.replace("np.tbnh", "np.tanh") for w in writes]
    ret = r.choice(["np.sum(a * b)", "np.sum(np.sin(a)) + np.sum(b * b)", "a[0] * b[-1] + np.sum(a)",
                    "np.sum(a) - 0.5 * np.sum(np.cos(b))"])
    lines = ["def update(a, b):"] + [f"    {w}" for w in writes] + [f"    return {ret}", "", ""]
    call = f"update({first}, {second})"
    if r.flip(1, 4):
        lines = ["def inner(a, b):"] + [f"    {w}" for w in writes] + [f"    return {ret}", "", "",
                 "def update(p, q):", f"    return {r.choice(['inner(p, q)', 'inner(p, q) + 0.1', '2.0 * inner(p, q)'])}",
                 "", ""]
    if r.flip(1, 4):
        call = f"update(b={second}, a={first})" if "inner" not in lines[0] else call
    main = ["def main(x, s):", f"    y = {fresh_copy(r, 'x')}", f"    z = {fresh_copy(r, 'x')} * s"]
    main += debug_lines(r, 1, "y")
    if r.flip(1, 3):
        main += ["    total = 0.0", f"    for i in range({r.int(1, 3)}):", f"        total = total + {call}"]
        tail = "total"
    else:
        main += [f"    t = {call}"]
        tail = "t"
    main += [f"    return {tail} + {cost(r, ['y', 'z'], ['s'])}"]
    return Program("alias_args", module(r, lines + main, array_args(r)), autograd=False)


OUT_STATEMENTS = (
    "np.sin({u}, out={a})",
    "np.multiply({u}, {u}, out={a})",
    "np.multiply({u}, s, out={a})",
    "np.exp(0.5 * {u}, out={a})",
    "np.tanh({u}, out={a})",
    "np.cumsum({u}, out={a})",
    "np.maximum({u}, 0.05, out={a})",
    "np.add({u}, s, out={a})",
    "np.exp({a}, out={a})",
    "np.sin({a}, out={a})",
    "np.multiply({a}, {u}, out={a})",
    "np.add({a}, {u}, out={a})",
    "np.cos({u}[1:], out={a}[1:])",
    "r = np.sin({u}, out={a})",
    "np.negative({u}, out={a})",
    "np.square({u}, out={a})",
    "np.subtract({u}, {a}, out={a})",
    "np.sqrt({u} * {u} + 1.0, out={a})",
)


def out_kw(r):
    """``out=`` used as a statement (and once as an expression)."""
    lines = ["def main(x, s):", f"    u = {fresh_copy(r, 'x')}"]
    lines.append("    a = " + r.choice(["np.empty_like(u)", "np.zeros(5)", "np.empty(5)", "u * 0.0",
                                        "np.ones_like(u)", "np.zeros_like(x)"]))
    if "np.empty" in lines[-1]:                       # empty memory: fill it before any in-place op
        lines.append(f"    {OUT_STATEMENTS[0].format(u='u', a='a')}")
    used_r = False
    for _ in range(r.int(1, 3)):
        stmt = r.choice(OUT_STATEMENTS).format(u=r.choice(["u", "x"]) if r.flip(1, 4) else "u", a="a")
        used_r = used_r or stmt.startswith("r =")
        lines.append(f"    {stmt}")
        if r.flip(1, 3):
            lines.append(f"    u = u + {coef(r)} * {bounded(r, 'a')}")
    lines += debug_lines(r, 1, "a")
    extra = " + np.sum(r)" if used_r else ""
    lines.append(f"    return {cost(r, ['a', 'u'], ['s'])}{extra}")
    if r.flip(1, 3):                                  # the out= lives in a callee
        body = lines[1:]
        lines = ["def work(x, s):"] + body + ["", "", "def main(x, s):",
                 f"    return {r.choice(['work(x, s)', 'work(x * 1.0, s) + s', '0.5 * work(np.sin(x), s)'])}"]
    return Program("out_kw", module(r, lines, array_args(r)), autograd=False)


COMPLEX_START = (
    "np.fft.fft(x)", "np.fft.fft(x * s)", "np.fft.ifft(x)", "np.fft.rfft(x)",
    "(1.5 + x) * np.exp(0.5j * x)", "x + 1j * np.sin(x)", "np.exp(1j * s * x)",
    "np.fft.fft(np.sin(x))", "x * (0.6 + 0.8j)", "(x + 2.0) + 1j * s",
)
COMPLEX_STEPS = (
    "z = z * np.conj(z)", "z = z * (0.5 + 0.3j)", "z = z * w", "z = z / (1.5 + 0.5j)",
    "z = z ** 2", "z = np.conj(z)", "z = z.conj()", "z = z + w", "z = z * w.conj()",
    "z = np.fft.ifft(z)", "z = np.fft.fft(z)", "z = z * 1j", "z = z - 0.5 * w", "z = z / w",
    "z = np.exp(0.3j * z)", "z = z * np.abs(w)",
)
COMPLEX_END = (
    "np.sum(np.abs(z) ** 2)", "np.sum(np.abs(z))", "np.sum(np.real(z))", "np.sum(np.imag(z))",
    "np.sum(z.real * z.imag)", "np.sum(np.angle(w))", "np.real(np.sum(z * np.conj(z)))",
    "np.sum(np.abs(z * w))", "np.sum(np.real(z) ** 2 + np.imag(z) ** 2)", "np.abs(z[1])",
    "np.sum(np.abs(np.fft.fft(z)) ** 2)", "np.sum(np.real(np.fft.ifft(z)))",
)


def complex_values(r):
    """Complex intermediates: fft, abs, real/imag, angle, conj, complex products."""
    lines = ["def main(x, s):",
             f"    z = {r.choice(COMPLEX_START)}",
             # w is bounded away from zero with an angle in (-1, 1): angle and division are smooth
             "    w = (1.5 + 0.5 * np.tanh(x)) * np.exp(0.5j * np.sin(x))"]
    shape_changing = "rfft" in lines[1]
    if shape_changing:                  # rfft of 5 entries has 3: w is made of as many
        lines[2] = lines[2].replace("(x)", "(x[:3])")
    for _ in range(r.int(0, 3)):
        step = r.choice(COMPLEX_STEPS)
        if shape_changing and "fft" in step:
            continue
        lines.append(f"    {step}")
    lines += debug_lines(r, 1, "z")
    end = r.choice(COMPLEX_END)
    lines.append(f"    return {end} + {cost(r, [], ['s'])}")
    if r.flip(1, 3):
        lines = ["def spectrum(x, s):"] + lines[1:] + ["", "", "def main(x, s):",
                 f"    return {r.choice(['spectrum(x, s)', 'spectrum(np.sin(x), s) + s', 'spectrum(x, 0.5 * s) * 2.0'])}"]
    return Program("complex_values", module(r, lines, array_args(r)), autograd=True)


FANCY_WRITES = (
    "a[[0, 0]] += x[1]", "a[[1, 1, 2]] = {v3}", "a[[0, 2, 0]] = {v3}", "a[[3, 3]] -= 0.5 * {v2}",
    "a[[4, 0, 4, 1]] += {v4}", "a[np.array([2, 2])] += s * {v2}", "a[[1, 1]] *= np.cos({v2})",
    "a[[0, 1]] = {v2}", "a[[-1, 4]] = {v2}", "a[[2, 2, 2]] += {v3}",
    "a[a > 0.2] = s", "a[a < 0.0] *= np.cos(s)", "a[np.array([True, False, True, False, True])] += {v3}",
    "np.add.at(a, [0, 0], {v2})", "a[x > 0.0] = 0.5 * a[x > 0.0]",
)
FANCY_READS = ("x[[0, 0, 1]]", "x[[3, 1, 3, 3]]", "a[[2, 2]]", "x[[4, 0]] * s", "np.sin(x[[1, 1, 1]])",
               "x[np.array([0, 0])]", "a[[-1, -1, 0]]", "x[x > 0.0]", "a[np.array([True, False, True, True, False])]",
               "np.take(x, [1, 1, 3])")


def fancy_dup(r):
    """Fancy indices with duplicates, in reads and in writes."""
    def vec(k):
        return r.choice([f"np.sin(x[:{k}])", f"0.5 * x[{5 - k}:]", f"s * np.ones({k})",
                         f"np.tanh(x[::-1][:{k}])"])
    lines = ["def main(x, s):", f"    a = {fresh_copy(r, 'x')}"]
    wrote = False
    for _ in range(r.int(1, 3)):
        if r.flip(2, 3):
            stmt = r.choice(FANCY_WRITES).format(v2=vec(2), v3=vec(3), v4=vec(4))
            wrote = True
            lines.append(f"    {stmt}")
        else:
            lines.append(f"    b = {r.choice(FANCY_READS)}")
            lines.append(f"    a = a + {coef(r)} * np.sum(b * b)")
    lines += debug_lines(r, 1, "a")
    lines.append(f"    return {cost(r, ['a'], ['s'])}")
    if r.flip(1, 3):
        lines = ["def scatter(a, x, s):"] + [l.replace("    a = ", "    a = ", 1) for l in lines[2:]] + [
            "", "", "def main(x, s):", f"    a = {fresh_copy(r, 'x')}", "    return scatter(a, x, s)"]
    return Program("fancy_dup", module(r, lines, array_args(r)), autograd=not wrote)


LIST_FORMS = (
    "u[:1] + u[2:]", "u * 2", "2 * u[:3]", "[u[0]] + u[1:]", "[u[0]] + [u[1], u[2]]", "u[:2] + u[1:]",
    "u + [1.0]", "u + [s]", "u[::-1]", "list(u)", "u[1:] + u[:1]", "[s] * 3 + u", "u[:]",
    "u + u", "[t * s for t in u] + u[:2]",
)
LIST_COSTS = (
    "sum([t * t for t in v])", "sum(t * t for t in v)", "np.sum(np.sin(np.array(v)))",
    "v[0] * v[-1] + v[1]", "sum(v) * s", "np.sum(np.array(v) ** 2)",
)


def list_concat(r):
    """Lists of floats: concatenation, repetition, slices."""
    lines = ["def main(u, s):", f"    v = {r.choice(LIST_FORMS)}"]
    for _ in range(r.int(0, 2)):
        form = r.choice(LIST_FORMS).replace("u", "v")
        lines.append(f"    v = {form}")
    if r.flip(1, 3):
        lines += ["    total = 0.0", "    for t in v:", f"        total = total + {r.choice(['t * t', 'np.sin(t)', 't * s'])}",
                  "    return total"]
    else:
        lines.append(f"    return {r.choice(LIST_COSTS)}")
    if r.flip(1, 3):
        lines = ["def build(u, s):"] + lines[1:-1] + ["    return v", "", "",
                 "def main(u, s):", "    v = build(u, s)", f"    return {r.choice(LIST_COSTS)}"]
    if r.flip(1, 4):
        lines = ["class Pack:", "    def __init__(self, scale):", "        self.scale = scale", "",
                 "    def total(self, v):", "        return self.scale * sum([t * t for t in v])", "", ""] + \
                [l.replace("    return ", "    return Pack(1.5).total(v) + ", 1) if l == lines[-1] else l
                 for l in lines]
    return Program("list_concat", module(r, lines, list_args(r, shortest=3)), autograd=True)


def sorting(r):
    """np.sort and sorted() of lists, with weights that tell the entries apart."""
    use_list = r.flip(1, 3)
    if use_list:
        sort = r.choice(["sorted(u)", "sorted(u, reverse=True)", "sorted([t * s for t in u])",
                         "sorted(u + [s])", "list(reversed(sorted(u)))"])
        lines = ["def main(u, s):", f"    v = {sort}"]
        lines.append(f"    return {r.choice(['v[0] * 2.0 + v[-1] * s', 'sum([k * t for k, t in enumerate(v)])', 'v[1] * v[2]'])}")
        return Program("sorting", module(r, lines, list_args(r)), autograd=True)
    sort = r.choice(["np.sort(x)", "np.sort(np.sin(x) * s)", "-np.sort(-x)", "np.sort(x)[::-1]",
                     "x[np.argsort(x)]", "np.sort(x * x + 0.1 * x)", "np.sort(np.concatenate([x, [s]]))",
                     "np.sort(x)[1:]"])
    lines = ["def main(x, s):", f"    y = {sort}", "    w = 0.1 * np.arange(1, len(y) + 1)"]
    if r.flip(1, 3):
        lines.append(f"    y = np.sort(y * {r.choice(['np.cos(y)', 's', '-1.0'])})")
    lines.append(f"    return {r.choice(['np.sum(w * y)', 'np.sum(w * np.sin(y))', 'y[0] * y[-1] + np.sum(w * y)', 'y[1] - y[0]'])}")
    if r.flip(1, 3):
        lines = ["def ranked(x, s):"] + lines[1:] + ["", "", "def main(x, s):", "    return ranked(x, s) + s * s"]
    return Program("sorting", module(r, lines, array_args(r)), autograd=True)


CHAIN_VIEWS = ("a[1:]", "a[::-1]", "a[:-1]", "a[::2]", "a[1:4]", "a[:]", "a.reshape(5)")
CHAIN_WRITES = ("w[0] = {t}", "w[0] += {t}", "w[-1] = {t}", "w *= np.cos({t})", "w[:] = {t}", "w += {t}",
                "v[1] = {t}", "v[1:] = 0.5 * v[1:]")


def slice_chains(r):
    """In-place writes through chains of views: v = a[1:]; w = v[::2]; w[0] = ..."""
    lines = ["def main(x, s):", f"    a = {fresh_copy(r, 'x')}", f"    v = {r.choice(CHAIN_VIEWS)}"]
    lines.append(f"    w = {r.choice(['v[::2]', 'v[1:]', 'v[::-1]', 'v', 'v[:2]'])}")
    for _ in range(r.int(1, 3)):
        t = r.choice(["s * x[0]", "np.sin(s)", "np.tanh(x[1]) * 0.5", "x[2] * x[3]", "s"])
        lines.append(f"    {r.choice(CHAIN_WRITES).format(t=t)}")
    lines += debug_lines(r, 1, "a")
    lines.append(f"    return {cost(r, r.choice([['a'], ['a', 'v'], ['a', 'w'], ['v']]), ['s'])}")
    if r.flip(1, 3):
        lines = ["def fill(a, x, s):"] + lines[2:] + ["", "", "def main(x, s):", f"    a = {fresh_copy(r, 'x')}",
                 f"    c = fill(a, x, s)", f"    return c + {cost(r, ['a'])}"]
    return Program("slice_chains", module(r, lines, array_args(r)), autograd=False)


def nested_writes(r):
    """Calls two or three deep whose callees write into the array they are passed."""
    depth = r.int(2, 3)
    lines = []
    for level in range(depth, 0, -1):
        name, deeper = f"f{level}", f"f{level + 1}"
        body = [f"def {name}(a, s):"]
        if level < depth:
            call = r.choice([f"t = {deeper}(a, s)", f"t = {deeper}(a, s * 0.5)", f"t = {deeper}(a[1:], s)",
                             f"t = {deeper}(a, s) + {deeper}(a, s)"])
            if r.flip():
                body += [f"    {r.choice(WRITES).format(a='a', b='a')}", f"    {call}"]
            else:
                body += [f"    {call}", f"    {r.choice(WRITES).format(a='a', b='a')}"]
            body.append(f"    return t + {r.choice(['np.sum(a)', 's', 'np.sum(np.sin(a))', 'a[0]'])}")
        else:
            body += [f"    {r.choice(WRITES).format(a='a', b='a').replace('a[1]', 's * a[1]')}",
                     f"    a[0] += 0.3 * np.sin(s)",
                     f"    return {r.choice(['np.sum(a * a)', 's * a[-1]', 'np.sum(np.cos(a))'])}"]
        lines += body + ["", ""]
    main = ["def main(x, s):", f"    y = {fresh_copy(r, 'x')}"]
    if r.flip(1, 3):
        main += [f"    for i in range({r.int(1, 3)}):", "        s = s + 0.1 * f1(y, s)"]
    else:
        main += ["    t = f1(y, s)", "    s = s + t"]
    main.append(f"    return {cost(r, ['y'], ['s'])}")
    return Program("nested_writes", module(r, lines + main, array_args(r)), autograd=False)


def rebind_params(r):
    """Parameters rebound: x = np.sum(x); x = x * x; swaps; augmented assignments."""
    forms = [["x = np.sum(x)", "x = x * x"], ["x = x * 2.0", "x = np.sin(x)", "x = np.sum(x)"],
             ["s = s * np.tanh(np.sum(x))", "x = x + s"], ["x, s = s, np.sum(x)"], ["x = x[1:]", "x = x * x"],
             ["x = np.tanh(np.sum(x * x))", "s = s + x", "x = s * x"], ["x = x + 1.0", "x = x ** 2"],
             ["y = x", "x = x * 2.0", "x = x + y"], ["x = np.tanh(x)", "x = np.sum(x) + x"]]
    lines = ["def g(x, s):"]
    first = r.choice(forms)
    lines += [f"    {step}" for step in first]
    if r.flip() and "x = x[1:]" not in first:
        lines += [f"    {step}" for step in r.choice([f for f in forms if "x = x[1:]" not in f])]
    lines += debug_lines(r, 1, "x")
    lines.append(f"    return {r.choice(['np.sum(x)', 'np.sum(x) * s', 'np.sum(np.sin(x)) + s'])}")
    main = ["def main(x, s):"]
    if r.flip(1, 3):
        main += ["    x = g(x, s) + x", "    s = g(x, s)", f"    return {cost(r, ['x'], ['s'])}"]
    elif r.flip(1, 2):
        main += ["    x = np.sum(x) * s", "    x = x * x", "    return x + g(np.ones(5) * s, s)"]
    else:
        main += [f"    return g(x, s) + {cost(r, [], ['s'])}"]
    if r.flip(1, 4):
        main = [main[0], "    x = x * 1.0", "    x *= np.cos(s)"] + main[1:]
    return Program("rebind_params", module(r, lines + ["", ""] + main, array_args(r)), autograd=True)


def loop_callee_write(r):
    """Loops whose body writes into an array through a callee and assigns the callee's result on
    the same line (the name first bound there)."""
    write = r.choice(["a[m % 5] += 0.3 * np.sin(s)", "a[m % 5] = np.tanh(s + a[m % 5])",
                      "a += 0.1 * np.sin(s)", "a[1:] += 0.2 * np.tanh(a[:-1])", "a *= np.cos(s)"])
    ret = r.choice(["0.1 * np.sum(a)", "np.sin(a[0])", "s * a[-1]", "a * 0.5", "np.sum(a * a) * 0.1",
                    "a[1]", "a[m % 5]", "a", "a[1:]", "a[::-1]"])
    returns_array = ret in ("a * 0.5", "a", "a[1:]", "a[::-1]")
    lines = ["def f2(a, s, m):", f"    {write}", f"    return {ret}", "", "",
             "def main(x, s):", f"    y = {fresh_copy(r, 'x')}"]
    loop = r.choice([f"for i in range({r.int(1, 4)}):", "i = 0\n    while i < 3:"])
    lines.append(f"    {loop}")
    if loop.startswith("i = 0"):
        lines.append("        i += 1")
    if returns_array:
        form = r.choice(["z = f2(y, s, i)", "y2 = f2(y, s, i)", "s = s + np.sum(f2(y, s, i))",
                         "s = s + 0.1 * np.sum(f2(y, s, i) ** 2)"])
        lines.append(f"        {form}")
        used = ["z"] if form.startswith("z") else (["y2"] if form.startswith("y2") else [])
    else:
        form = r.choice(["t2 = f2(y, s, i)", "s = s + 0.1 * f2(y, s, i)", "t2 = f2(y, s, i) + 0.5",
                         "y[i % 5] = f2(y, s, i)", "s = f2(y, s, i)"])
        lines.append(f"        {form}")
        if form.startswith("t2"):
            lines.append("        s = s + 0.1 * t2")
        used = []
    if r.flip(1, 3):
        lines += [f"        if i == {r.int(0, 2)}:", f"            {r.choice(['break', 'continue'])}"]
    if used:
        lines.append(f"    return {cost(r, ['y'] + used, ['s'])}" if loop.startswith("for") and "1)" not in loop
                     else f"    return {cost(r, ['y'], ['s'])}")
    else:
        lines.append(f"    return {cost(r, ['y'], ['s'])}")
    return Program("loop_callee_write", module(r, lines, array_args(r)), autograd=False)


def early_exit(r):
    """Early return and break, in loops of callees and of main."""
    lines = ["def step(a, s, n):", "    for k in range(n):",
             f"        a = a + {coef(r)} * {bounded(r, 'a * s')}"]
    lines += [f"        if k == {r.int(0, 2)}:", f"            {r.choice(['return a', 'break', 'return a * 0.5', 'continue'])}"]
    if r.flip():
        lines += ["    if n > 2:", "        return a + 0.1"]
    lines += ["    return a", "", ""]
    main = ["def main(x, s):", "    y = x"]
    loop = r.choice(["for", "while", "whiletrue"])
    if loop == "for":
        main += [f"    for i in range({r.int(1, 4)}):", "        y = step(y, s, i + 1)",
                 f"        if i == {r.int(0, 2)}:", f"            {r.choice(['break', 'return np.sum(y * y) + s'])}"]
    elif loop == "while":
        main += ["    i = 0", f"    while i < {r.int(1, 4)}:", "        i += 1", "        y = step(y, s, i)",
                 f"        if i > {r.int(1, 2)}:", "            break"]
    else:
        main += ["    i = 0", "    while True:", "        y = step(y, s, 2)", "        i += 1",
                 f"        if i >= {r.int(1, 3)}:", "            break"]
    main += debug_lines(r, 1, "y")
    main.append(f"    return {cost(r, ['y'], ['s'])}")
    return Program("early_exit", module(r, lines + main, array_args(r)), autograd=True)


def classes(r):
    """A class with methods, attributes set in __init__, a flag and a dead branch, lists of floats;
    or the same model as functions with keyword flags and a dict of settings."""
    if r.flip(2, 3):
        return flags_and_settings(r)
    flag = r.choice(["True", "False"])
    lines = ["class Model:", "    def __init__(self, rate, smooth=" + flag + "):", "        self.rate = rate",
             "        self.smooth = smooth", f"        self.weights = [{coef(r)}, {coef(r)}, {coef(r)}]", "",
             "    def layer(self, x):",
             "        if self.smooth:", f"            return {bounded(r, 'x * self.rate')}",
             "        else:", f"            return x * {r.choice(['self.rate', 'self.weights[0]', '0.5'])}", "",
             "    def forward(self, x):", "        h = x"]
    for _ in range(r.int(1, 3)):
        lines.append(f"        h = self.layer(h) + {r.choice(['x', 'h', '0.1 * x'])} * self.weights[{r.int(0, 2)}]")
    lines += ["        return h", "", "    def loss(self, x):", "        h = self.forward(x)",
              f"        return {cost(r, ['h'])}", "", ""]
    main = ["def main(x, s):", f"    model = Model(s{r.choice(['', ', smooth=True', ', smooth=False', ', False'])})"]
    main += debug_lines(r, 1, "s")
    main.append(f"    return {r.choice(['model.loss(x)', 'model.loss(x) + s * s', 'Model(0.5).loss(x * s)'])}")
    return Program("classes", module(r, lines + main, array_args(r)), autograd=True)


def flags_and_settings(r):
    lines = [f"SETTINGS = {{'rate': {coef(r)}, 'smooth': {r.choice(['True', 'False'])}, 'weights': [{coef(r)}, {coef(r)}, {coef(r)}]}}",
             "", "",
             f"def layer(x, rate, smooth=True, weights=None):",
             "    if weights is None:", "        weights = [1.0, 1.0, 1.0]",
             "    if smooth:", f"        return {bounded(r, 'x * rate')} * weights[0]",
             "    else:", "        return x * rate + weights[1]", "", "",
             "def forward(x, s, cfg):", "    h = x"]
    for _ in range(r.int(1, 3)):
        call = r.choice(["layer(h, cfg['rate'])", "layer(h, s, smooth=cfg['smooth'])",
                         "layer(h, cfg['rate'], weights=cfg['weights'])", "layer(h, s, False)",
                         "layer(h, rate=s * cfg['rate'])"])
        lines.append(f"    h = {call} + {r.choice(['x', 'h', '0.1 * x'])} * cfg['weights'][{r.int(0, 2)}]")
    lines += debug_lines(r, 1, "h")
    lines += ["    return h", "", "",
              "def main(x, s):", f"    cfg = {r.choice(['SETTINGS', 'dict(SETTINGS)'])}"]
    if r.flip():
        lines.append(f"    cfg['rate'] = s")
    lines.append(f"    h = forward(x, s, cfg)")
    lines.append(f"    return {cost(r, ['h'], ['s'])}")
    return Program("classes", module(r, lines, array_args(r)), autograd=True)


def general(r):
    """The project's original generator: loops, lists, calls, mutators."""
    source = test_random_programs.program_source(r)
    return Program("general", source + "\n".join(array_args(r)), autograd=False)


def scalar_lists(r):
    """Lists of floats through list comprehensions and a time loop (math functions)."""
    body = []
    for k in range(r.int(1, 3)):
        term = r.choice(["x[i]", "x[(i + 1) % n]", "x[i - 1]", "x[(i + 2) % n]"] if k == 0 else
                        ["x[i]", "x[(i + 1) % n]", "x[i - 1]", "c"])
        if r.flip():
            term = f"{term} * {r.choice(['x[i]', 'c', 'x[i - 1]'])}"
        body.append(r.choice(["{}", "math.sin({})", "math.tanh({})"]).format(f"{r.choice(['0.5', '-0.3', 'c'])} * {term}"))
    lines = ["import math", "", "", "def rhs(x, c):", "    n = len(x)", f"    return [{' + '.join(body)} for i in range(n)]",
             "", "", "def main(x0, c):", "    x = x0", f"    for step_index in range({r.int(1, 3)}):",
             "        k = rhs(x, c)", "        x = [x[i] + 0.1 * k[i] for i in range(len(x))]",
             f"    return {r.choice(['x[0] * x[-1] + c * x[2]', 'x[1] + math.sin(x[3]) * x[0]', 'sum([t * t for t in x])'])}"]
    args = list_args(r)
    return Program("scalar_lists", "import numpy as np\n" + "\n".join(lines + args), autograd=False)


FAMILIES = {f.__name__: f for f in (
    alias_args, out_kw, complex_values, fancy_dup, list_concat, sorting, slice_chains, nested_writes,
    rebind_params, loop_callee_write, early_exit, classes, general, scalar_lists)}


def generate(family, r):
    return FAMILIES[family](r)


def hypothesis_programs(family):
    """A hypothesis strategy of Programs of ``family``."""
    from hypothesis import strategies as st

    from .chooser import HypothesisChooser

    @st.composite
    def strategy(draw):
        return generate(family, HypothesisChooser(draw))
    return strategy()


# ------------------------------------------------------------------------------------ more families

class Typed:
    """Random NumPy expressions of a given kind: 'v' (5 entries), 'w' (3 entries), 'm' (3 x 5),
    's' (a float). Arguments stay in the domain where each function is smooth."""

    def __init__(self, r):
        self.r = r

    def gen(self, kind, depth):
        r = self.r
        if depth <= 0:
            text = {"v": r.choice(["x", "np.sin(x)", "x * s"]), "w": "x[:3]", "s": r.choice(["s", "x[1]"]),
                    "m": "np.stack([x, np.cos(x), x * s])"}[kind]
        else:
            text = getattr(self, kind)(depth - 1)
        return f"({text})" if " " in text else text

    def v(self, d):
        g, r = self.gen, self.r
        return r.choice([
            lambda: f"np.{r.choice(['sin', 'cos', 'tanh', 'arctan', 'sinh', 'expm1', 'cbrt', 'square', 'negative'])}({g('v', d)})",
            lambda: f"np.{r.choice(['sqrt', 'log', 'reciprocal', 'log2', 'log10'])}(1.5 + np.cos({g('v', d)}))",
            lambda: f"np.{r.choice(['arcsin', 'arccos', 'arctanh'])}(0.5 * np.tanh({g('v', d)}))",
            lambda: f"np.arccosh(2.0 + {g('v', d)} ** 2)",
            lambda: f"({g('v', d)} {r.choice(['+', '-', '*'])} {g('v', d)})",
            lambda: f"{g('v', d)} / (2.0 + np.cos({g('v', d)}))",
            lambda: f"np.divide({g('v', d)}, 1.5 + np.sin({g('v', d)}) ** 2)",
            lambda: f"(1.2 + np.sin({g('v', d)})) ** {r.choice(['2', '1.5', '0.5', '-1', '3'])}",
            lambda: f"np.power(1.2 + np.tanh({g('v', d)}), {g('s', d)})",
            lambda: f"np.maximum({g('v', d)}, {g('v', d)} + 0.25)",
            lambda: f"np.minimum({g('v', d)}, 0.1 * {g('v', d)} + 0.3)",
            lambda: f"np.where(np.array([True, False, True, True, False]), {g('v', d)}, {g('v', d)})",
            lambda: f"np.clip({g('v', d)}, -2.5, 2.5)",
            lambda: f"np.cumsum({g('v', d)})", lambda: f"np.cumprod(1.0 + 0.1 * np.sin({g('v', d)}))",
            lambda: f"np.roll({g('v', d)}, {r.int(-2, 2)})", lambda: f"np.flip({g('v', d)})",
            lambda: f"{g('v', d)}[::-1]",
            lambda: f"np.{r.choice(['sum', 'mean', 'max', 'min', 'prod'])}({g('m', d)}, axis=0)",
            lambda: f"{g('m', d)}.{r.choice(['sum', 'mean'])}(axis=0)",
            lambda: f"{g('m', d)}[{r.int(0, 2)}]", lambda: f"{g('w', d)} @ {g('m', d)}",
            lambda: f"np.dot({g('w', d)}, {g('m', d)})",
            lambda: f"{g('v', d)} * {g('s', d)}", lambda: f"{g('s', d)} - {g('v', d)}",
            lambda: f"np.diff(np.concatenate([[0.0], {g('v', d)}]))",
            lambda: f"np.concatenate([{g('w', d)}, {g('v', d)}[:2]])",
            lambda: f"np.hstack([{g('v', d)}[:1], {g('v', d)}[1:]])",
            lambda: f"np.take({g('v', d)}, [4, 0, 1, 2, 3])",
            lambda: f"np.arctan2({g('v', d)}, 1.5 + np.cos({g('v', d)}))",
            lambda: f"np.hypot({g('v', d)}, 0.5 + {g('v', d)} ** 2)",
            lambda: f"np.abs({g('v', d)}) + 0.1",
            lambda: f"np.reshape({g('m', d)}.ravel()[:5], (5,))",
            lambda: f"np.squeeze(np.expand_dims({g('v', d)}, 0))",
            lambda: f"np.full(5, {g('s', d)}) + {g('v', d)}",
            lambda: f"np.array({g('v', d)}) * 1.0", lambda: f"np.copy({g('v', d)})",
            lambda: f"{g('v', d)}.astype(float)", lambda: f"np.asarray({g('v', d)})",
            lambda: f"np.diag(np.outer({g('v', d)}, {g('v', d)}))",
        ])()

    def w(self, d):
        g, r = self.gen, self.r
        return r.choice([
            lambda: f"{g('m', d)} @ {g('v', d)}", lambda: f"np.{r.choice(['sum', 'mean', 'std', 'var'])}({g('m', d)}, axis=1)",
            lambda: f"{g('m', d)}[:, {r.int(0, 4)}]", lambda: f"{g('v', d)}[1:4]",
            lambda: f"np.linalg.solve(3.0 * np.eye(3) + 0.1 * np.outer({g('w', d)}, {g('w', d)}), {g('w', d)})",
            lambda: f"np.tanh({g('w', d)})", lambda: f"({g('w', d)} * {g('w', d)})",
            lambda: f"np.max({g('m', d)}, axis=1)", lambda: f"{g('m', d)}.dot({g('v', d)})",
            lambda: f"np.diag(np.outer({g('w', d)}, {g('w', d)}) + np.eye(3))",
            lambda: f"np.trace(np.outer({g('w', d)}, {g('w', d)})) * {g('w', d)}",
        ])()

    def m(self, d):
        g, r = self.gen, self.r
        return r.choice([
            lambda: f"np.stack([{g('v', d)}, {g('v', d)}, {g('v', d)}])",
            lambda: f"np.vstack([{g('v', d)}, {g('m', d)}[1:]])",
            lambda: f"np.outer({g('w', d)}, {g('v', d)})", lambda: f"{g('m', d)} * {g('v', d)}",
            lambda: f"{g('m', d)} * {g('w', d)}[:, None]", lambda: f"{g('m', d)}.T.T",
            lambda: f"np.transpose(np.transpose({g('m', d)}))", lambda: f"np.sin({g('m', d)})",
            lambda: f"np.reshape(np.ravel({g('m', d)}), (3, 5))", lambda: f"{g('m', d)}.reshape(3, 5)",
            lambda: f"np.concatenate([{g('m', d)}[:1], {g('m', d)}[1:]], axis=0)",
            lambda: f"({g('m', d)} - np.mean({g('m', d)}, axis=1, keepdims=True))",
            lambda: f"{g('m', d)} / (1.0 + np.sum({g('m', d)} ** 2, axis=0))",
            lambda: f"np.flip({g('m', d)}, axis=1)", lambda: f"np.roll({g('m', d)}, 1, axis=1)",
            lambda: f"np.where({g('m', d)} > 10.0, 0.0, {g('m', d)})",
        ])()

    def s(self, d):
        g, r = self.gen, self.r
        return r.choice([
            lambda: f"np.{r.choice(['sum', 'mean', 'var', 'std', 'max', 'min'])}({g('v', d)})",
            lambda: f"np.linalg.norm({g('v', d)})", lambda: f"np.linalg.norm({g('m', d)})",
            lambda: f"np.prod(1.0 + 0.1 * np.sin({g('v', d)}))", lambda: f"({g('v', d)} @ {g('v', d)})",
            lambda: f"np.dot({g('v', d)}, {g('v', d)})", lambda: f"np.inner({g('w', d)}, {g('w', d)})",
            lambda: f"np.trace(np.outer({g('w', d)}, {g('w', d)}))", lambda: f"float({g('v', d)}[{r.int(0, 4)}])",
            lambda: f"{g('v', d)}[{r.int(-5, 4)}]", lambda: f"{g('m', d)}[{r.int(0, 2)}, {r.int(0, 4)}]",
            lambda: f"np.sum({g('m', d)})", lambda: f"{g('m', d)}.sum()", lambda: f"{g('v', d)}.mean()",
            lambda: f"max({g('s', d)}, {g('s', d)} + 0.3)", lambda: f"abs({g('s', d)}) + 0.1",
            lambda: f"np.{r.choice(['sin', 'exp', 'tanh'])}({g('s', d)})",
            lambda: f"({g('s', d)} * {g('s', d)})", lambda: f"{g('v', d)}.item({r.int(0, 4)})",
        ])()


def numpy_rules(r):
    """Compositions of many NumPy functions on vectors, matrices and floats (the rules)."""
    t = Typed(r)
    lines = ["def main(x, s):"]
    names = []
    for k in range(r.int(1, 4)):
        kind = r.choice("vvwms")
        name = f"{kind}{k}"
        lines.append(f"    {name} = {t.gen(kind, r.int(1, 3))}")
        names.append((name, kind))
    parts = []
    for name, kind in names:
        parts.append({"v": f"np.sum(np.sin({name}))", "w": f"np.sum({name} * {name})",
                      "m": f"0.1 * np.sum(np.tanh({name}))", "s": f"np.sin({name})"}[kind])
    lines.append(f"    return {' + '.join(parts)} + 0.1 * {t.gen('s', 1)}")
    if r.flip(1, 3):
        lines = ["def model(x, s):"] + lines[1:] + ["", "", "def main(x, s):", "    return model(x, s) * 0.5 + s"]
    return Program("numpy_rules", module(r, lines, array_args(r)), autograd=True)


def param_writes(r):
    """The primal writes into the caller's own arrays (a parameter of main, or a callee writing
    into what main was given): gradients must still be right and the inputs end up as the primal
    leaves them."""
    write = r.choice(["x[0] = s * x[1]", "x[1:] += 0.1 * np.sin(x[:-1])", "x *= np.cos(s)",
                      "x[-1] = np.tanh(x[0])", "x[:] = np.sin(x)", "x += s", "x[[0, 2]] = 0.5 * x[[1, 3]]"])
    where = r.choice(["main", "callee", "callee_twice"])
    if where == "main":
        lines = ["def main(x, s):", f"    t = {cost(r, ['x'])}", f"    {write}",
                 f"    return t + {cost(r, ['x'], ['s'])}"]
    else:
        after = []
        if r.flip(1, 3):                # the callee then rebinds its parameter and writes the new array
            after = ["    x = x + 0.1", f"    x[{r.int(0, 4)}] = s"]
        lines = ["def touch(x, s):", f"    {write}"] + after + [
                 f"    return {r.choice(['np.sum(x)', 's * x[0]', '0.0'])}", "", "",
                 "def main(x, s):", f"    t = touch(x, s)"]
        if where == "callee_twice":
            lines.append("    t = t + touch(x, s * 0.5)")
        lines.append(f"    return t + {cost(r, ['x'], ['s'])}")
    return Program("param_writes", module(r, lines, array_args(r)), autograd=False)


def containers(r):
    """Parameters in a dict, lists of arrays, tuples: unpacking, zip, enumerate, items."""
    rng = np.random.default_rng(r.int(0, 2 ** 31))

    def vec(k=N):
        return "np.array([" + ", ".join(repr(float(v)) for v in rng.uniform(-1, 1, k)) + "])"
    kind = r.choice(["dict", "list", "tuple"])
    if kind == "dict":
        args = f"ARGS = ({{'w': {vec()}, 'b': {float(rng.uniform(-1, 1))!r}, 'layers': [{vec()}, {vec()}]}}, {vec()})"
        body = ["def main(p, x):", "    h = x",
                r.choice(["    for layer in p['layers']:", "    for k, layer in enumerate(p['layers']):"]),
                f"        h = np.tanh(layer * h + p['b'])",
                f"    h = h * p['w']" if r.flip() else "    w, b = p['w'], p['b']\n    h = h * w + b"]
        body.append(f"    return {cost(r, ['h'])}")
    elif kind == "list":
        args = f"ARGS = ([{vec()}, {vec()}, {vec()}], {vec()})"
        body = ["def main(ws, x):", "    h = x"]
        body += [r.choice(["    for w in ws:", "    for w in ws[::-1]:", "    for w, v in zip(ws, ws[1:] + ws[:1]):"]),
                 f"        h = {r.choice(['np.sin(w * h)', 'h + 0.5 * np.tanh(w)', 'np.cos(h) * w'])}"]
        if r.flip():
            body += ["    total = 0.0", "    for i, w in enumerate(ws):", "        total = total + i * np.sum(w * h)",
                     f"    return total + {cost(r, ['h'])}"]
        else:
            body.append(f"    return {cost(r, ['h'])} + np.sum(np.stack(ws) ** 2)")
    else:
        args = f"ARGS = (({vec()}, {float(rng.uniform(-1, 1))!r}), {vec()})"
        body = ["def layer(params, x):", "    w, b = params", "    return np.tanh(w * x + b), b * b", "", "",
                "def main(params, x):", "    h, c = layer(params, x)", "    h2, c2 = layer((h, c), x)",
                f"    return {cost(r, ['h', 'h2'], ['c', 'c2'])}"]
    return Program("containers", module(r, body, ["", "", args, "ARGNUMS = (0, 1)", ""]), autograd=True)


def python_scalars(r):
    """Plain Python floats: math functions, min/max, abs, pow, conditionals on values."""
    def e(d):
        if d <= 0:
            return r.choice(["u[0]", "u[1]", "u[2]", "s", "u[-1]", "t"])
        return r.choice([
            lambda: f"math.{r.choice(['sin', 'cos', 'tanh', 'atan', 'exp', 'erf', 'sinh'])}({e(d - 1)})",
            lambda: f"math.sqrt(1.0 + {e(d - 1)} ** 2)", lambda: f"math.log(2.0 + math.sin({e(d - 1)}))",
            lambda: f"({e(d - 1)} {r.choice(['+', '-', '*'])} {e(d - 1)})", lambda: f"{e(d - 1)} / (2.0 + math.cos({e(d - 1)}))",
            lambda: f"max({e(d - 1)}, {e(d - 1)} + 0.2)", lambda: f"min({e(d - 1)}, 0.3)", lambda: f"abs({e(d - 1)}) + 0.1",
            lambda: f"pow(1.5 + math.sin({e(d - 1)}), 2.5)", lambda: f"math.pow(1.5 + math.cos({e(d - 1)}), {e(0)})",
            lambda: f"math.hypot({e(d - 1)}, 0.5)", lambda: f"math.atan2({e(d - 1)}, 2.0)",
            lambda: f"({e(d - 1)} if {e(0)} > 0.0 else {e(d - 1)})", lambda: f"float({e(d - 1)})",
            lambda: f"sum([{e(d - 1)}, {e(d - 1)}])", lambda: f"{e(d - 1)} ** 2",
        ])()
    lines = ["def main(u, s):", "    t = 0.5"]
    for _ in range(r.int(1, 4)):
        form = r.choice(["    t = {}", "    t += {}", "    t = t * math.cos({})", "    if {} > 0.0:\n        t = t + {}\n    else:\n        t = t - {}"])
        lines.append(form.format(*(e(2) for _ in range(form.count("{}")))))
    lines.append(f"    return t + {e(1)}")
    return Program("python_scalars", "import math\n" + module(r, lines, list_args(r)), autograd=False)


FAMILIES.update({f.__name__: f for f in (numpy_rules, param_writes, containers, python_scalars)})


LIST_WRITES = (
    "acc.append({v})", "acc[0] = acc[0] * {c}", "acc[-1] = {v}", "acc.extend([{v}, {v}])",
    "acc.insert(0, {v})", "acc2 = acc\n    acc2.append({v})", "last = acc[-1]\n    last += {c} * np.sin(s)",
    "acc[0] += {c} * {v}", "acc.reverse()", "del acc[0]", "acc = acc + [{v}]", "acc.pop()",
)


def list_writes(r):
    """Lists of arrays written in place: append / insert / extend / pop in callees and loops, an
    alias of the list, an element taken out and written in place."""
    def stmt():
        form = r.choice(LIST_WRITES)
        return form.format(v=r.choice(["np.sin(x * s)", "x * s", "np.tanh(acc[0])", "acc[-1] * 0.5", "x + 0.0"]),
                           c=coef(r))
    callee = ["def push(acc, x, s):"] + [f"    {stmt()}" for _ in range(r.int(1, 2))] + \
             [f"    return {r.choice(['len(acc)', 'np.sum(acc[0])', 's', 'acc[-1][0]'])}", "", ""]
    main = ["def main(x, s):", f"    acc = [{r.choice(['x * 1.0', 'np.sin(x)', 'x', 'x.copy()'])}, np.cos(x) * s]"]
    for _ in range(r.int(1, 3)):
        where = r.choice(["here", "call", "loop"])
        if where == "here":
            main.append(f"    {stmt()}")
        elif where == "call":
            main.append(f"    t = push(acc, x, s)")
        else:
            main += [f"    for i in range({r.int(1, 3)}):", f"        {r.choice(['t = push(acc, x, s)', 'acc.append(np.sin(acc[-1]) * s)'])}"]
    main += ["    total = 0.0", "    for a in acc:", f"        total = total + {r.choice(['np.sum(a * a)', 'np.sum(np.sin(a))', 'a[0] * a[-1]'])}",
             f"    return total + {cost(r, ['x'], ['s'])}"]
    lines = (callee if any("push(" in m for m in main) else []) + main
    return Program("list_writes", module(r, lines, array_args(r)), autograd=False)


def active_branches(r):
    """Control flow on differentiated values: if / while on array values, max / min / abs,
    np.where with a value mask, early exits taken by value."""
    lines = ["def main(x, s):", "    y = x * 1.0"]
    for _ in range(r.int(1, 3)):
        form = r.choice([
            f"    if np.sum(y) > {r.choice(['0.0', '0.5', '-0.5'])}:\n        y = y * np.cos(s)\n    else:\n        y = np.sin(y) + s",
            f"    if y[{r.int(0, 4)}] > s:\n        s = s * y[0]",
            "    y = np.where(y > 0.1, y * s, np.sin(y))",
            "    y = np.maximum(y, 0.2 * s) + np.minimum(y, -0.3)",
            "    s = max(s, float(np.max(y))) + min(s, y[1])",
            "    y = np.abs(y - 0.05) + y",
            "    k = 0\n    while np.sum(y * y) < 4.0 and k < 3:\n        y = y * 1.3 + 0.1\n        k += 1",
            "    y = np.clip(y, -0.4, 0.6) * s",
            "    s = s if s > 0.0 else -s",
            "    t = np.max(y)\n    y = y - t",
            "    y = np.sort(y)[::-1] * np.linspace(0.5, 1.5, 5)",
            "    i = int(np.argmax(y))\n    y = y * y[i]",
        ])
        lines.append(form)
    lines.append(f"    return {cost(r, ['y'], ['s'])}")
    if r.flip(1, 3):
        lines = ["def branchy(x, s):"] + lines[1:] + ["", "", "def main(x, s):", "    return branchy(x, s) + branchy(x * 0.5, s)"]
    return Program("active_branches", module(r, lines, array_args(r)), autograd=True)


def matrix_inputs(r):
    """A 3 x 4 input: row and column writes, axis reductions, transposes, broadcasting."""
    rng = np.random.default_rng(r.int(0, 2 ** 31))
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in rng.uniform(-1, 1, (3, 4)))
    args = ["", "", f"ARGS = (np.array([{rows}]), {float(rng.uniform(-1, 1))!r})", "ARGNUMS = (0, 1)", ""]
    lines = ["def main(X, s):", f"    A = {r.choice(['X * 1.0', 'np.sin(X)', 'X.copy()', 'X + s'])}"]
    writes = 0
    for _ in range(r.int(1, 4)):
        form = r.choice([
            "A[0] = A[1] * s", "A[:, 1] += np.tanh(A[:, 0])", "A[1:, :2] *= np.cos(s)", "A = A - np.mean(A, axis=0)",
            "A = A / (1.0 + np.sum(A * A, axis=1, keepdims=True))", "A = A.T @ A", "A = A @ A.T",
            "A[-1, -1] = np.sum(A[0])", "A = A * np.arange(1, A.shape[1] + 1)", "A = np.tanh(A) + A[0]",
            "A[:, ::2] = 0.5 * A[:, 1::2]", "A = A.reshape(-1)[:12].reshape(A.shape)", "A = np.flip(A, axis=0)",
            "row = A[1]\n    row += s", "A[[0, 2]] = A[[2, 0]]", "A = np.vstack([A, A[:1]])[1:]",
        ])
        writes += ("=" in form.split("(")[0] and not form.startswith("A = ")) or "row" in form
        lines.append(f"    {form}")
    lines.append(f"    return np.sum(np.sin(A)) + 0.1 * np.sum(A * A) + {cost(r, [], ['s'])}")
    return Program("matrix_inputs", module(r, lines, args), autograd=not writes)


FAMILIES.update({f.__name__: f for f in (list_writes, active_branches, matrix_inputs)})


def scoping(r):
    """Module-level arrays and constants, default arguments, nested functions and closures,
    functions passed and returned, keyword-only parameters."""
    rng = np.random.default_rng(r.int(0, 2 ** 31))
    weights = ", ".join(repr(float(v)) for v in rng.uniform(-1, 1, N))
    lines = [f"WEIGHTS = np.array([{weights}])", f"RATE = {coef(r)}", "", ""]
    form = r.choice(["global", "default", "closure", "kwonly", "passed"])
    if form == "global":
        lines += ["def layer(x, s):", f"    return np.tanh(WEIGHTS * x + RATE * s)", "", "",
                  "def main(x, s):", f"    h = layer(x, s)", f"    return {cost(r, ['h'], ['s'])}"]
    elif form == "default":
        lines += [f"def layer(x, s, w=WEIGHTS, rate={coef(r)}):", "    return np.sin(w * x) * rate + s", "", "",
                  "def main(x, s):", f"    h = {r.choice(['layer(x, s)', 'layer(x, s, rate=s)', 'layer(x, s, x * 0.5)'])}",
                  f"    return {cost(r, ['h'], ['s'])}"]
    elif form == "closure":
        lines += ["def main(x, s):", f"    scale = {r.choice(['s', 'RATE', 'np.sum(x)'])}", "",
                  "    def inner(v):", "        return np.sin(v * scale)", "",
                  f"    h = inner(x) + inner({r.choice(['x * s', 'WEIGHTS'])})",
                  f"    return {cost(r, ['h'], ['s'])}"]
    elif form == "kwonly":
        lines += ["def layer(x, *, s, bias=0.1):", "    return np.tanh(x * s + bias)", "", "",
                  "def main(x, s):", f"    h = {r.choice(['layer(x, s=s)', 'layer(x, s=s, bias=s)', 'layer(x, bias=0.2, s=s * 2.0)'])}",
                  f"    return {cost(r, ['h'], ['s'])}"]
    else:
        lines += ["def apply(f, x):", "    return f(x)", "", "",
                  "def main(x, s):", f"    h = apply({r.choice(['np.sin', 'np.tanh', 'lambda v: v * s'])}, x) * s",
                  f"    return {cost(r, ['h'], ['s'])}"]
    return Program("scoping", module(r, lines, array_args(r)), autograd=True)


FAMILIES["scoping"] = scoping


# ------------------------------------------------------------------------------------ element writes

ELEMENT_TERMS = ("k * (T[{j}] - T[{i}])", "a * np.sin(T[{j}])", "abs(T[{j}] - T[{i}]) * k", "s * T[{j}]",
                 "math.tanh(T[{j}]) * p[1]", "rate(p, T[{j}], T[{i}])", "(1.0 - T[{i}]) * a")


def element_writes(r):
    """Box models in preallocated state: a parameter vector read entry by entry, a state built as
    ``np.zeros(n)`` or ``[0.0] * n`` and written entry by entry with numbers in a time loop. The
    traps: an array written into a list state, the state handed to a helper that writes into it,
    an alias of the state written, an integer state, the parameters passed as a list, as a tuple
    or as integers."""
    n = r.int(2, 4)
    alloc = r.choice([f"np.zeros({n})", f"[0.0] * {n}", f"np.ones({n})", f"np.empty({n})", f"[0.0 for _ in range({n})]"])
    lines = ["import math", "", "", "def rate(p, x, y):", "    return p[0] * (x - y)", "", "",
             "def main(p, s):", "    k, a = p[0], p[1]", f"    T = {alloc}"]
    for i in range(n):
        lines.append(f"    T[{i}] = {r.choice([f'p[{i % 2}]', 's * p[0]', f'k + 0.1 * {i}', 's'])}")
    trap = r.choice(["none", "none", "none", "array_in_list", "helper", "alias", "int_state"])
    if trap == "int_state":
        lines[-n - 1] = f"    T = np.zeros({n}, dtype=int)"
    lines.append(f"    for it in range({r.int(1, 4)}):")
    for i in range(n):
        j = (i + 1) % n
        term = r.choice(ELEMENT_TERMS).format(i=i, j=j)
        lines.append(f"        T[{i}] = T[{i}] + 0.1 * {term}")
    if trap == "helper":
        lines = lines[:3] + ["def nudge(v, c):", "    v[0] = v[0] + c * v[-1]", "", ""] + lines[3:]
        lines.append("        nudge(T, 0.2 * s)")
    elif trap == "alias":
        lines += ["    U = T", "    U[1] = U[1] * 0.5"]
    costs = ["T[0] * T[-1] + s * T[1]", "sum(T) * s", "T[1] - T[0] * a", "math.sin(T[0]) + T[-1] * T[-1]"]
    if trap == "array_in_list" and alloc.startswith("["):
        lines.append("    T[0] = T[0] * np.array([1.0, s])")
        costs = ["np.sum(T[0]) + T[1] * s", "np.sum(T[0] * T[-1])"]
    lines.append(f"    return {r.choice(costs)}")
    rng = np.random.default_rng(r.int(0, 2 ** 31))
    values = [float(v) for v in rng.uniform(0.2, 1.0, 3)]
    p = r.choice([f"np.array({values!r})", f"{values!r}", f"tuple({values!r})",
                  f"np.array({values!r})", "np.array([1, 2, 3])"])
    argnums = "(1,)" if "1, 2, 3" in p else "(0, 1)"
    args = ["", "", f"ARGS = ({p}, {float(rng.uniform(0.2, 1.0))!r})", f"ARGNUMS = {argnums}", ""]
    return Program("element_writes", module(r, lines, args), autograd=False)


FAMILIES["element_writes"] = element_writes


def objects(r):
    """Models as classes: state in attributes replaced or written in place (whole, slices, entries,
    `+=`), a subclass overriding the right-hand side and calling super().__init__, a property, a
    class constant, a diagnostic list, an object passed to a function, objects in a list, and a
    name still holding the state array while the object changes it."""
    in_place = r.flip()
    copy_in = fresh_copy(r, "u") if in_place or r.flip() else "u"
    lines = ["class Base:", f"    coef = {coef(r)}", "", "    def __init__(self, u, k):", f"        self.u = {copy_in}",
             "        self.k = k", "        self.t = 0.0", "        self.log = []", "",
             "    def rhs(self, v):", f"        return -self.k * {bounded(r, 'v')}", "",
             "    @property", "    def energy(self):", f"        return {cost(r, ['self.u'])}", "",
             "    def step(self, dt):"]
    if in_place:
        lines.append(r.choice(["        self.u += dt * self.rhs(self.u)",
                               "        self.u[1:] = self.u[1:] + dt * self.rhs(self.u[1:])",
                               "        self.u[0] = self.u[0] * 0.9 + dt * self.k",
                               "        self.u[:] = self.u + dt * self.rhs(self.u) * self.coef"]))
    else:
        lines.append(r.choice(["        self.u = self.u + dt * self.rhs(self.u)",
                               "        self.u = np.concatenate([self.u[:1], self.u[1:] * (1.0 - dt * self.k)])"]))
    lines += [r.choice(["        self.t += dt", "        self.t = self.t + dt"])]
    if r.flip():
        lines.append("        self.log.append(float(self.u[0]))")
    lines += ["", "", "class Sub(Base):", "    def __init__(self, u, k, c):", "        super().__init__(u, k)",
              "        self.c = c", "", "    def rhs(self, v):",
              f"        return -self.k * {bounded(r, 'v')} + self.c * self.coef", "", "",
              "def advance(model, n, dt):", "    for _ in range(n):", "        model.step(dt)",
              "    return model.energy", "", ""]
    main = ["def main(x, s):"]
    cls = r.choice(["Base(x, s)", "Sub(x, s, 0.2)", "Sub(x * 0.5, s, s)"])
    main.append(f"    m = {cls}")
    keep = r.flip(1, 3)
    if keep:
        main.append("    held = m.u")
    form = r.choice(["advance", "steps", "list"])
    if form == "advance":
        main.append(f"    e = advance(m, {r.int(1, 3)}, 0.1)")
    elif form == "steps":
        main += ["    m.step(0.1)", "    m.step(0.05)", "    e = m.energy"]
    else:
        main += ["    models = [m, Base(x * s, 0.3)]", "    e = 0.0", "    for mm in models:",
                 "        mm.step(0.1)", "        e = e + mm.energy"]
    main += debug_lines(r, 1, "e")
    terms = ["e", cost(r, ["m.u"], ["m.t * s"])]
    if keep:
        terms.append("np.sum(held * held)")
    main.append(f"    return {' + '.join(terms)}")
    return Program("objects", module(r, lines + main, array_args(r)), autograd=not in_place)


FAMILIES["objects"] = objects
