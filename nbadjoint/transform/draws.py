"""Random draws inside the differentiated code: how a draw is lowered to the IR, and which random
generators a function draws from, directly or through the functions it calls.

A draw is a plain call (`np.random.*`, a method of a ``np.random.Generator`` or ``RandomState``,
the ``random`` module or a ``random.Random``).  Its result carries no derivative, except for the
location-scale draws, whose parameters get the pathwise (reparameterisation) derivative: they are
lowered to a standard draw and arithmetic, ``np.random.normal(mu, sigma)`` to
``mu + sigma * np.random.standard_normal(...)``, which draws the same numbers from the generator
and computes the value as the library does.  Other draws with a parameter that carries a
derivative are refused there (the refusal waits for activity, as for calls without a rule).

A checkpointed call runs its callee twice (the primal, then the recomputation that tapes it); so
that both draw the same numbers, the sweeps save the state of every generator the callee draws
from before the primal call and set it back before the recomputation (sweep_calls.py, with the
helpers of nbadjoint.runtime.random_state).  `generators` says which generators those are.
"""

from __future__ import annotations

import ast
import math
import random
import weakref
from dataclasses import dataclass

import numpy as np

from ..runtime import random_state
from . import ir, rules

_LEGACY = np.random.mtrand._rand            # the generator behind np.random.normal, np.random.seed, ...
_GENERATORS = (np.random.Generator, np.random.RandomState, random.Random)

# methods of np.random.Generator, np.random.RandomState and random.Random (they draw, or set the state)
DRAW_METHODS = frozenset(n for cls in _GENERATORS for n in dir(cls)
                         if not n.startswith("_") and callable(getattr(cls, n)) and n != "spawn")

# draws whose arguments are sizes, bounds of integers or states: nothing to differentiate
_NO_PARAMETERS = frozenset(
    "standard_normal standard_exponential standard_cauchy random random_sample rand randn integers randint "
    "random_integers tomaxint bytes randbytes getrandbits randrange seed set_state setstate get_state "
    "getstate".split())

# location-scale draws: parameter names, defaults (None: required), the standard draw, the value
_NUMPY_PATHWISE = {
    "normal": (("loc", "scale", "size"), (0.0, 1.0, None), "standard_normal", "loc_scale"),
    "lognormal": (("mean", "sigma", "size"), (0.0, 1.0, None), "standard_normal", "exp_loc_scale"),
    "uniform": (("low", "high", "size"), (0.0, 1.0, None), "random", "low_high"),
    "exponential": (("scale", "size"), (1.0, None), "standard_exponential", "scale"),
}
_STDLIB_PATHWISE = {
    "gauss": (("mu", "sigma"), (0.0, 1.0), "gauss", "loc_scale"),
    "normalvariate": (("mu", "sigma"), (0.0, 1.0), "normalvariate", "loc_scale"),
    "lognormvariate": (("mu", "sigma"), (None, None), "normalvariate", "exp_loc_scale"),
    "uniform": (("a", "b"), (None, None), "random", "low_high"),
    "expovariate": (("lambd",), (1.0,), "expovariate", "rate"),
}
# NumPy's draws that raise ValueError for a negative scale
_CHECKS_SCALE = frozenset({"normal", "lognormal", "exponential"})
# functions that create or reseed a generator, and the argument that seeds it
_SEEDED_BY = {"default_rng": "seed", "RandomState": "seed", "Random": "x", "seed": "seed", "PCG64": "seed",
              "PCG64DXSM": "seed", "MT19937": "seed", "Philox": "seed", "SFC64": "seed",
              "SeedSequence": "entropy", "Generator": "bit_generator"}


@dataclass
class Draw(ir.Prim):
    """A call that draws random numbers, or creates or reseeds a generator.

    ``gen`` is the generator it uses: ``("obj", text)`` a module-level generator (the one behind
    ``np.random.*`` or ``random.*``, or a global) named by ``text`` in generated code;
    ``("local", name)`` a local value or parameter; ``("new", seeded)`` a generator it creates."""
    gen: tuple = ()
    line: int = 0


def lower(norm, obj, node, out) -> ir.Atom:
    """Lower the call ``node`` of the random function ``obj`` (None: a method of a local value,
    such as a generator passed in) into the IR statements ``out``; return its value."""
    func = node.func
    written = ast.unparse(func)
    if obj is None:
        target = norm.expr(func.value, out)
        gen = ("local", target.id) if isinstance(target, ir.Name) else ("obj", target.text())
        return _Lowering(norm, node, out, written, gen, target=target).draw(func.attr, None)
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, _GENERATORS) or name == "seed":
        seeded = _seeded(node, name)
        gen = ("new", seeded)
        if isinstance(owner, _GENERATORS) and seeded:          # reseeding a module-level generator
            gen = ("obj", norm.program.callable_ref(norm.info, owner))
        return _Lowering(norm, node, out, written, gen, func=obj).plain(name, _arguments(norm, node, out))
    ref = norm.program.callable_ref(norm.info, owner)
    if owner is _LEGACY:                    # np.random.normal(...): called as written
        return _Lowering(norm, node, out, written, ("obj", ref), func=obj).draw(name, _NUMPY_PATHWISE)
    kind = _STDLIB_PATHWISE if isinstance(owner, random.Random) else _NUMPY_PATHWISE
    return _Lowering(norm, node, out, written, ("obj", ref), target=ir.Const(ref)).draw(name, kind)


def _seeded(node, name) -> bool:
    """Whether a call creating or reseeding a generator gives it a seed (not the OS's entropy)."""
    key = _SEEDED_BY.get(name)
    if key is None:
        return True
    value = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == key), None)
    return value is not None and not (isinstance(value, ast.Constant) and value.value is None)


def _arguments(norm, node, out):
    return [norm.expr(a, out) for a in node.args], {k.arg: norm.expr(k.value, out) for k in node.keywords}


class _Lowering:
    """One draw: called as a function (``func``, the legacy ``np.random.*``) or as a method of
    ``target`` (a generator)."""

    def __init__(self, norm, node, out, written, gen, func=None, target=None):
        self.norm, self.node, self.out, self.written, self.gen = norm, node, out, written, gen
        self.func, self.target, self.line = func, target, node.lineno

    def emit(self, expr):
        return self.norm.emit(expr, self.out, self.line)

    def call(self, name, args, kwargs, **flags):
        """The Draw calling ``name`` of the generator with the atoms ``args`` and ``kwargs``."""
        from .normalize import position        # (normalize imports this module)
        common = dict(written=self.written, gen=self.gen, line=self.line, where=position(self.node))
        if self.target is not None:
            return self.emit(Draw(None, name, [self.target] + args, kwargs, method=name, **common, **flags))
        func = self.func if self.func.__name__ == name else getattr(np.random, name)
        text = rules.canonical_name(func) or self.norm.program.callable_ref(self.norm.info, func)
        return self.emit(Draw(func, text, args, kwargs, **common, **flags))

    def plain(self, name, arguments, parameters=False):
        """The call as written: no derivative; refused where an argument carries one into it
        (``parameters``: some argument may be a parameter of the distribution)."""
        args, kwargs = arguments
        refusal = None
        if parameters and any(isinstance(a, ir.Name) for a in args + list(kwargs.values())):
            refusal = self.norm.err(
                f"random numbers drawn by `{self.written}(...)` with a parameter that carries a derivative: "
                f"no pathwise derivative is known for `{name}`", self.node,
                hint="the parameters of normal, lognormal, uniform and exponential draws (gauss, "
                     "normalvariate, lognormvariate, uniform and expovariate of the random module) are "
                     "differentiated: draw a standard variate and transform it yourself, or pass the "
                     "draws in as an argument")
        mutates = "out" in kwargs
        if refusal is None and mutates:
            refusal = self.norm.err(f"`{self.written}(...)` writes random numbers into an array that carries a "
                                    "derivative", self.node, hint="draw into a new array instead")
        return self.call(name, args, kwargs, nondiff=refusal is None, norule=refusal, mutates=mutates)

    def draw(self, name, table):
        """``name(...)``: as written, or as a standard draw and arithmetic where a location or a
        scale may carry a derivative.  ``table``: the location-scale draws of this kind of
        generator (None: not known, a local value)."""
        if name == "shuffle":
            return self.shuffle()
        spec = self._spec(name, table)
        atoms = self._bind(spec) if spec else None
        if atoms is None:
            return self.plain(name, _arguments(self.norm, self.node, self.out),
                              parameters=name not in _NO_PARAMETERS)
        names, _, base, form = spec
        params = [atoms[n] for n in names if n != "size"]
        if not any(isinstance(a, ir.Name) for a in params):     # constant parameters: as written
            args = params + ([atoms["size"]] if "size" in atoms else [])
            return self.call(name, args, {}, nondiff=True)
        if base in ("gauss", "normalvariate"):
            z = self.call(base, [ir.Const("0.0"), ir.Const("1.0")], {}, nondiff=True)
        elif base == "expovariate":
            z = self.call(base, [ir.Const("1.0")], {}, nondiff=True)
        elif "size" in names:
            size = atoms.get("size")
            if size is None:                # the shape the parameters broadcast to
                ref = self.norm.program.callable_ref(self.norm.info, random_state.draw_size)
                size = self.emit(ir.Prim(random_state.draw_size, ref, params, {}, nondiff=True))
            if base == "random" and self.gen[0] == "local" and "size" not in atoms:
                z = self._standard_uniform(size)
            else:
                z = self.call(base, [size], {}, nondiff=True)
        else:
            z = self.call(base, [], {}, nondiff=True)
        return self._value(form, name, params, z)

    def shuffle(self):
        """``shuffle(x)`` of a local array: ``x[...] = x[order]``, ``order`` drawn as the shuffle
        draws it (so the write is seen by the alias checks and snapshots, and the gather is
        differentiated)."""
        node = self.node
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Name) \
                or node.args[0].id not in self.norm.locals:
            raise self.norm.err(f"`{self.written}(...)` is supported on a local array only", node,
                                hint="shuffle a local array, or index with a permutation: "
                                     "`x = x[rng.permutation(len(x))]`")
        x = self.norm.expr(node.args[0], self.out)
        ref = self.norm.program.callable_ref(self.norm.info, random_state.shuffle_order)
        generator = self.target if self.target is not None else ir.Const(self.gen[1])
        order = self.emit(Draw(random_state.shuffle_order, ref, [generator, x], {}, nondiff=True,
                               written=self.written, gen=self.gen, line=self.line))
        shuffled = self.emit(ir.GetItem(x, ir.Index(order.id, [order.id], order.id)))
        return self.norm.write_out(node.args[0], shuffled, self.out, self.line)

    def _standard_uniform(self, size):
        """``rng.random()`` of a generator of unknown kind (numpy's takes a size, random's does not)."""
        ref = self.norm.program.callable_ref(self.norm.info, random_state.standard_uniform)
        return self.emit(Draw(random_state.standard_uniform, ref, [self.target, size], {}, nondiff=True,
                              written=self.written, gen=self.gen, line=self.line))

    def _spec(self, name, table):
        keywords = {k.arg for k in self.node.keywords}
        if table is not None:
            return table.get(name)
        if name == "uniform":           # a local generator: numpy's (low, high, size) or random's (a, b)
            return _STDLIB_PATHWISE[name] if keywords & {"a", "b"} else _NUMPY_PATHWISE[name]
        return _NUMPY_PATHWISE.get(name) or _STDLIB_PATHWISE.get(name)

    def _bind(self, spec):
        """The draw's arguments by parameter name (atoms; a missing size is left out), or None
        when they do not fit ``spec``."""
        names, defaults = spec[0], spec[1]
        node = self.node
        if len(node.args) > len(names) or any(k.arg not in names for k in node.keywords):
            return None
        given = dict(zip(names, node.args))
        for k in node.keywords:
            if k.arg in given:
                return None
            given[k.arg] = k.value
        if any(d is None and n != "size" and n not in given for n, d in zip(names, defaults)):
            return None
        atoms = {}
        for n, d in zip(names, defaults):
            if n in given:
                atoms[n] = self.norm.expr(given[n], self.out)
            elif n != "size":
                atoms[n] = ir.Const(repr(d))
        if "size" in atoms and atoms["size"].text() == "None":
            del atoms["size"]
        return atoms

    def _value(self, form, name, params, z):
        """The draw's value from the standard draw ``z``, as the library computes it."""
        if name in _CHECKS_SCALE:           # NumPy refuses a negative scale: so does the rewrite
            check = self.norm.program.callable_ref(self.norm.info, random_state.check_scale)
            scale = params[-1]
            self.out.append(ir.Effect(f"{check}({scale.text()}, {name!r})", ir.names_in([scale]), line=self.line))
        if form in ("loc_scale", "exp_loc_scale"):
            loc, scale = params
            value = self.emit(ir.BinOp(ast.Add, loc, self.emit(ir.BinOp(ast.Mult, scale, z))))
            if form == "exp_loc_scale":
                exp = math.exp if name == "lognormvariate" else np.exp
                value = self.emit(self.norm._prim(exp, [value], {}, self.node))
            return value
        if form == "low_high":
            low, high = params
            width = self.emit(ir.BinOp(ast.Sub, high, low))
            return self.emit(ir.BinOp(ast.Add, low, self.emit(ir.BinOp(ast.Mult, width, z))))
        if form == "scale":
            return self.emit(ir.BinOp(ast.Mult, params[0], z))
        return self.emit(ir.BinOp(ast.Div, z, params[0]))            # "rate": expovariate(lambd)



# ---------------------------------------------------------------------------------------------------
# which generators a function draws from
# ---------------------------------------------------------------------------------------------------
_GENERATORS_OF: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()     # program -> {key: sources}
_DISPLAY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()     # program -> {text: name as written}


def generators(program, key) -> tuple:
    """The generators function ``key`` draws from (or reseeds), directly or through the functions
    it calls, sorted: ``("obj", text)`` a module-level generator named by ``text`` in generated
    code, ``("param", k)`` the generator passed as its k-th parameter, ``("unseeded", line,
    function)`` a generator it creates from the operating system's entropy (at that line of that
    function), ``("unknown", line, function, what)`` one reached otherwise (``p["rng"]``): the
    last two cannot be replayed.  Generators the function creates with a seed
    need nothing: a recomputation creates them again, in the same state."""
    known = _GENERATORS_OF.setdefault(program, {})
    if key not in known:
        fc = program.functions[key]
        origins = _origins(fc)
        found = set()
        for s in ir.walk(fc.body):
            e = getattr(s, "expr", None)
            if isinstance(e, Draw):
                if e.gen[0] == "obj":
                    found.add(e.gen)
                    _DISPLAY.setdefault(program, {}).setdefault(e.gen[1], e.written.rpartition(".")[0])
                elif e.gen[0] == "local":
                    found |= _resolve(fc, origins, ir.Name(e.gen[1]), e.line, f"`{e.written.rpartition('.')[0]}`")
                elif not e.gen[1]:
                    found.add(("unseeded", e.line, fc.info.name))
                else:
                    # default_rng(rng), Generator(bit_generator): a generator or bit generator passed
                    # in as the "seed" is the one drawn from (default_rng returns it as it is)
                    key_arg = _SEEDED_BY.get(getattr(e.func, "__name__", ""))
                    seed = e.args[0] if e.args else e.kwargs.get(key_arg)
                    if isinstance(seed, ir.Name):
                        found |= {o for o in _resolve(fc, origins, seed, e.line, "") if o[0] in ("param", "obj")}
            elif isinstance(s, ir.Assign) and isinstance(e, ir.UserCall):
                callee = program.functions[e.callee]
                for src in generators(program, e.callee):
                    what = f"the argument `{callee.params[src[1]] if src[0] == 'param' else ''}` of " \
                           f"{callee.info.name}()"
                    found |= _resolve(fc, origins, e.args[src[1]], s.line, what) if src[0] == "param" else {src}
        known[key] = tuple(sorted(found, key=repr))
    return known[key]


def _origins(fc) -> dict:
    """Local name -> where its value may come from: ``("param", k)``, ``("new",)`` (a generator
    created here), ``("obj", text)`` (a module-level value), ``("other",)``."""
    origin = {p: {("param", k)} for k, p in enumerate(fc.params)}
    stmts = list(ir.walk(fc.body))
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if isinstance(s, ir.Assign):
                e = s.expr
                if isinstance(e, Draw) and e.gen[0] == "new":
                    new = {("new",)}
                elif isinstance(e, ir.Copy):
                    new = set(origin.get(e.a.id, ())) if isinstance(e.a, ir.Name) else {("obj", e.a.src)}
                else:
                    new = {("other",)}
                targets = [s.target]
            elif isinstance(s, (ir.Unpack, ir.ForRange)):
                new, targets = {("other",)}, list(getattr(s, "targets", None) or [s.target])
            else:
                continue
            for t in targets:
                if not new <= origin.get(t, set()):
                    origin[t] = origin.get(t, set()) | new
                    changed = True
    return origin


def _resolve(fc, origins, atom, line, what) -> set:
    """The generators ``atom`` (a generator used at ``line`` of ``fc``, ``what`` the user sees
    there) may be, as sources (see `generators`)."""
    if isinstance(atom, ir.Const):
        return set() if atom.src == "None" else {("obj", atom.src)}
    found = set()
    for o in origins.get(atom.id, {("other",)}):
        if o[0] in ("param", "obj"):
            found.add(o)
        elif o[0] == "other":
            found.add(("unknown", line, fc.info.name, what))
    return found


def call_generators(code, expr, line):
    """At the call ``expr`` (an ir.UserCall, at ``line``) in ``code``: (the atoms naming the
    generators the callee draws from, their names as the user writes them, the TransformError
    refusing to recompute the call, or None)."""
    atoms, names, texts, refusal = [], [], set(), None
    for src in generators(code.program, expr.callee):
        if src[0] == "unknown":
            _, where, name, what = src
            refusal = refusal or code.info.error(
                f"{name}() draws random numbers from {what} (its line {where}), a generator that is neither a "
                "parameter, a global nor created in the function: its state could not be replayed when this "
                "checkpointed call is recomputed", lineno=line,
                hint="pass the generator as a parameter, or mark the call `# nbadjoint: nocheckpoint`")
            continue
        if src[0] == "unseeded":
            _, where, name = src
            refusal = refusal or code.info.error(
                f"{name}() creates a random generator without a seed (its line {where}): recomputing this "
                "checkpointed call would draw other numbers than the run did", lineno=line,
                hint="give the generator a seed, create it in the caller and pass it in, or mark the call "
                     "`# nbadjoint: nocheckpoint`")
            continue
        atom = ir.Const(src[1]) if src[0] == "obj" else expr.args[src[1]]
        if atom.text() not in texts and atom.text() != "None":
            texts.add(atom.text())
            atoms.append(atom)
            shown = _DISPLAY.get(code.program, {}).get(atom.text()) if isinstance(atom, ir.Const) else atom.id
            names.append(shown or atom.text())
    return atoms, names, refusal



def kept_generators(program, values, namespace, key=None):
    """A function that returns the generators a run of ``program``'s function ``key`` (the root
    by default) with the arguments ``values`` draws from to the state they have now: called after
    a backward sweep (whose recomputations rewind them) and after a profiled run (every run of a
    profile draws the same numbers, and the profile leaves them as it found them, as it does the
    arrays).  ``namespace``: the generated module's, where module-level generators are named.
    (Generators created unseeded or reached through a container are not kept: see `generators`.)"""
    gens = []
    for src in generators(program, program.root_key if key is None else key):
        if src[0] == "param":
            gens.append(values[src[1]])
        elif src[0] == "obj":
            gens.append(eval(src[1], namespace))        # a constant's reference: _K[3], _G0['RNG']
    states = random_state.capture(gens)
    return lambda: random_state.restore(gens, states)


__all__ = ["DRAW_METHODS", "Draw", "call_generators", "generators", "kept_generators", "lower"]
