"""One user function of the call tree: its normalised IR, its analyses and its generated code.

The passes, in order: normalisation (normalize.py: the IR), the alias analysis (alias.py),
activity and adjoint plans (here and plans.py), shape facts (shapes.py), then code: the primal
(primal.py) and the two sweeps (sweeps.py).
"""

from __future__ import annotations

import ast
import os

import numpy

from ..runtime import tape as _rt
from .alias import _VIEW_FUNCS
from . import ir, shapes
from .sweep_ast import expr as E
from . import plans
from .normalize import LateRefusal, Normalizer
from .parse import FunctionInfo
from . import liveness, sweeps
from .primal import primal_lines
from .sweep_ast import same_tree, to_source


# modules whose functions, called for their effect, read their arguments and write none of them
_READ_ONLY_MODULES = frozenset({"logging", "warnings", "time", "builtins", "matplotlib", "json", "pickle", "numpy",
                                "tqdm", "IPython", "pprint", "textwrap"})


class FunctionCode:
    """Analysis and code generation for one user function of the call tree."""

    def __init__(self, program, info: FunctionInfo):
        self.program = program
        self.info = info
        norm = Normalizer(info, program)
        self.norm = norm
        self.body = norm.run()
        self.params = norm.params
        self.sites = norm.sites
        self.used_names = norm.used_names
        self.key = info.key
        self.tmp_counter = 0
        self.assigned = ir.assigned(self.body)
        self.assigned_strict = {st.target for st in ir.walk(self.body)
                                if isinstance(st, ir.Assign) and not st.aug_rebind} | \
            {t for st in ir.walk(self.body) if isinstance(st, ir.Unpack) for t in st.targets} | \
            {st.target for st in ir.walk(self.body) if isinstance(st, ir.ForRange)}
        self.mutated: list = []       # parameters this function writes into (set by the alias check)
        self.maybe_mutated: set = set()  # ... only by `x op= v`, so only when they are arrays
        self.touched: frozenset = frozenset()  # parameters a write through another name may reach
        self.unsafe_pairs: frozenset = frozenset()  # (p, q): the arguments for p and q must not overlap
        self.maybe_unbound: set = set()  # names an alias check reads where they may not be bound yet
        self.call_params: dict = {}     # id(call) -> (callee key, [parameters each argument may be])
        self.returned_globals: frozenset = frozenset()  # module or closure arrays its result may be
        self._overlap_pairs = None
        self.alias_checks: dict = {}    # (id(stmt), name) -> [(other live name, message)] checked at run time
        self.entry_checks: dict = {}    # id(call) -> [(container, other, message)]: the callee writes
                                        # into arrays the container holds; none may be `other`
        self.entry_refs: dict = {}      # parameter -> name holding its value on entry
        self.split = False              # a specialised body where the shape guards hold (see sweeps.py)
        self.rv_live = False            # every call passes an adjoint of the result that is not None
        self.returns_live: tuple = ()   # per parameter: the adjoint returned is certainly not None

    @property
    def copied_params(self) -> set:
        """Parameters whose arguments a run of the call tree may write into: the root works on
        copies of those, so that the caller's arrays stay as they are whatever happens."""
        return set(self.mutated) | self.touched

    @property
    def overlap_pairs(self) -> frozenset:
        """(p, q): the arguments for p and q must not share memory, because of this function's own
        writes or of those of the calls it makes with them."""
        if self._overlap_pairs is None:
            pairs = set(self.unsafe_pairs)
            for callee_key, arg_params in self.call_params.values():
                callee = self.program.functions[callee_key]
                index = {p: k for k, p in enumerate(callee.params)}
                for p, q in callee.overlap_pairs:
                    pairs.update((a, b) for a in arg_params[index[p]] for b in arg_params[index[q]] if a != b)
            self._overlap_pairs = frozenset(pairs)
        return self._overlap_pairs

    def entry_ref(self, param) -> str:
        if param not in self.entry_refs:
            name = f"_{param}_on_entry"
            while name in self.used_names:
                name += "_"
            self.used_names.add(name)
            self.entry_refs[param] = name
        return self.entry_refs[param]

    def analyze(self, varied_params, result_useful=True):
        """Run the analyses, given which parameters may carry a derivative in from the callers.

        A call without a derivative rule is refused only where it is active: its value depends on
        the inputs and reaches the output (or it writes into an active argument).  Refused at
        compile time where every run reaches it, else replaced by a statement raising the refusal
        when reached, and the analyses run again without it."""
        self.result_useful = result_useful      # some caller's output depends on the returned value
        while True:
            self._analyze(set(varied_params))
            refused = [s for s in ir.walk(self.body) if self._refused(s)]
            if not refused:
                return
            top = {id(s) for s in self.body}
            for s in refused:
                if id(s) in top and self.key in getattr(self.program, "certain", ()):
                    raise s.expr.norule
            for s in refused:
                ref = self.program.callable_ref(self.info, LateRefusal(s.expr.norule))
                ir.replace_stmt(self.body, s, ir.Effect(f"raise {ref}()", [], refusal=s.expr.norule, line=s.line))
                self.norm.late[s.expr.where] = ref      # the primal raises there too
                self.norm.late_refusals[s.expr.where] = s.expr.norule
            self.assigned = ir.assigned(self.body)
            self.assigned_strict = {st.target for st in ir.walk(self.body)
                                    if isinstance(st, ir.Assign) and not st.aug_rebind} | \
                {t for st in ir.walk(self.body) if isinstance(st, ir.Unpack) for t in st.targets} | \
                {st.target for st in ir.walk(self.body) if isinstance(st, ir.ForRange)}

    def _refused(self, s) -> bool:
        """``s`` calls a function without a derivative rule where that matters for the gradient."""
        if not (isinstance(s, ir.Assign) and isinstance(s.expr, ir.Prim) and s.expr.norule is not None):
            return False
        if s.target in self.active:
            return True
        operands = ir.operands(s.expr)
        if s.expr.mutates:          # it writes into an argument: one the caller may hold counts as useful
            globals_written = any(isinstance(a, ir.Const) and a.src.startswith("_G")
                                  for a in list(s.expr.args) + list(s.expr.kwargs.values()))
            return any(n in self.varied for n in operands) and (globals_written or any(
                n in self.useful or not self._made_here(n) for n in operands))
        if s.expr.effect:           # called for its effect: it may write one argument into another
            if any(a in self.useful and b in self.varied and a != b for a in operands for b in operands):
                return True
            # ... or into an argument the caller holds (heapq.heappush(L, v), operator.setitem(a, 0, v)),
            # unless its module only reads what it is given (logging, warnings, plotting, saving)
            module = (getattr(s.expr.func, "__module__", None) or "").split(".")[0]
            return module not in _READ_ONLY_MODULES and any(n in self.varied for n in operands) and any(
                not self._made_here(n) for n in operands)
        return False

    def _made_here(self, name) -> bool:
        """Every value ``name`` holds is a new object this function computed (an arithmetic
        result, a display, a NumPy call that is not a view): nothing outside can hold it."""
        defs = [st for st in ir.walk(self.body) if name in ir.defined(st)]
        return name not in self.params and bool(defs) and all(
            isinstance(st, ir.Assign) and not st.aug_rebind and (
                isinstance(st.expr, (ir.BinOp, ir.UnOp, ir.Build)) or (
                    isinstance(st.expr, ir.Prim) and not st.expr.method and st.expr.func not in _VIEW_FUNCS
                    and isinstance(st.expr.func, numpy.ufunc)))
            for st in defs)

    # ---------------------------------------------------------------------------------------------
    # analysis
    # ---------------------------------------------------------------------------------------------
    def adj(self, name: str) -> str:
        """Name of the adjoint of variable ``name``."""
        cached = self._adj_names.get(name)
        if cached is None:
            cached = name + "_b"
            while cached in self.used_names:
                cached += "_"
            self.used_names.add(cached)
            self._adj_names[name] = cached
        return cached

    def _analyze(self, varied_params):
        self._adj_names: dict = {}
        stmts = list(ir.walk(self.body))
        self.ret = self.body[-1].value
        # varied: depends on a parameter through differentiable operations
        varied = set(varied_params)
        changed = True
        while changed:
            changed = False
            for s in stmts:
                for tgt, reads in plans.flows(self, s):
                    if tgt not in varied and any(r in varied for r in reads):
                        varied.add(tgt)
                        changed = True
        # useful: influences the returned value
        useful = (set(ir.names_in([self.ret])) if self.result_useful else set()) | set(self.mutated)
        changed = True
        while changed:
            changed = False
            for s in stmts:
                for tgt, reads in plans.flows(self, s):
                    if tgt in useful:
                        for r in reads:
                            if r not in useful:
                                useful.add(r)
                                changed = True
        self.active = varied & useful
        self.varied = varied
        self.useful = useful
        self.primal_names = set(self.params) | ir.assigned(self.body)
        for s in stmts:
            if isinstance(s, ir.Assign) and isinstance(s.expr, ir.Opaque) and s.expr.kind == "boolop":
                if any(r in self.active for r in s.expr.reads):
                    raise self.info.error("`and` / `or` on a differentiated value is not supported",
                                          lineno=s.line, hint="use an if statement or a conditional expression")
        # adjoint plans: contributions per statement, and what they read
        self.plans = {}
        reads: set = set()
        for s in stmts:
            plan = plans.plan_statement(self, s)
            self.plans[id(s)] = plan
            reads |= plan.reads
        self.needed = reads
        self.assigned = ir.assigned(self.body)
        self.def_counts = {}
        for st in stmts:
            for t in ir.defined(st):
                self.def_counts[t] = self.def_counts.get(t, 0) + 1
        for p in self.params:
            self.def_counts[p] = self.def_counts.get(p, 0) + 1
        plans.plan_recomputation(self, stmts, varied)
        plans.plan_prologue(self, stmts)
        self.no_undo = plans.lists_without_undo(self, stmts)
        self.needed -= self.no_undo
        # which assignments push the old value of their target
        self.first_defs = _first_top_level_defs(self.body, set(self.params))
        self.first_def_names = {s.target for s in self.body if id(s) in self.first_defs} | \
            {k[1] for k in self.first_defs if isinstance(k, tuple)}
        self.needed_locals = sorted(n for n in self.needed if n in self.assigned)
        self.loop_defined = set()
        for st in stmts:
            if isinstance(st, (ir.ForRange, ir.Loop)):
                for inner in ir.walk(st.body):
                    self.loop_defined.update(ir.defined(inner))

    def shape_guard(self, args=None):
        """The guards as an expression node (on ``args``, a parameter -> IR atom map, if given);
        None when an argument is a literal that fails its guard; the constant True when there is
        nothing to check."""
        facts = self.shapes
        atom = (lambda p: ir.Name(p)) if args is None else args.__getitem__

        def literal(a):
            return isinstance(a, ir.Const) and shapes.literal_type(a.src) is not None
        parts, scalars = [], []
        for p, kind in facts.guards.items():
            a = atom(p)
            if kind == shapes.SCALAR and literal(a):
                continue                        # a number literal is a scalar
            if literal(a):
                return None
            if kind == shapes.LIST:
                parts.append(E("_rt.scalar_items({x})", x=ir.node(a)))
            elif kind == shapes.VECTOR:
                parts.append(E("_rt.float_vector({x})", x=ir.node(a)))
            elif kind == shapes.SCALAR:
                scalars.append(ir.node(a))
        if len(scalars) == 1:
            parts.insert(0, E("{x}.__class__ in _rt.SCALARS", x=scalars[0]))
        elif scalars:
            parts.insert(0, E("_rt.scalars(*{xs})", xs=scalars))
        for members in facts.array_classes():
            if any(literal(atom(m)) for m in members):
                return None
            if len(members) == 1:
                parts.append(E("{x}.__class__ is np.ndarray", x=ir.node(atom(members[0]))))
            else:
                parts.append(E("_rt.same_shape(*{xs})", xs=[ir.node(atom(m)) for m in members]))
        if not parts:
            return ast.Constant(True)
        return parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)

    def emit(self, probes: bool) -> str:
        """The generated code of this function: its primal, forward sweep and backward sweep."""
        self._solve_program()
        defs = liveness.build_sweeps(self, probes)
        texts = [to_source([d]) for d in defs]
        if os.environ.get("NBADJOINT_CHECK_PRINT"):        # the tests check the printer on every sweep
            for d, text in zip(defs, texts):
                if not same_tree([d], text):
                    raise AssertionError(f"the printed {d.name} does not parse back to its tree:\n{text}")
        return "\n\n".join(["\n".join(primal_lines(self, probes))] + texts)

    def _solve_program(self):
        """Which adjoints cross calls set, and which functions get a specialised body: decided
        once for the whole call tree (see liveness.solve_liveness) before any code is emitted."""
        program = self.program
        if getattr(program, "_adjoint_liveness", None) is not program.functions:
            program._adjoint_liveness = program.functions      # (builds inside the solve ask again)
            try:
                liveness.solve_liveness(program)
            except BaseException:
                program._adjoint_liveness = None
                raise

    def generated_adjoints(self):
        """Predicates (temporaries' adjoints, all adjoints) the cleanup passes may rename or drop."""
        temps = {a for n, a in self._adj_names.items() if n.startswith("_")}
        every = set(self._adj_names.values()) | {"_push", "_pop", "_ck", "_rec"}     # (helpers unused)
        return temps.__contains__, every.__contains__

    def tape_free_when_guarded(self) -> bool:
        """Its specialised forward sweep tapes nothing at all: a checkpointed call of it needs no
        recomputation where its guards hold (its backward sweep reads only its arguments)."""
        self._solve_program()
        cached = getattr(self, "_tape_free", None)
        if cached is None:
            cached = False
            if self.split and not self.sites and not self.mutated and self._flag_is_recomputed():
                fwd = sweeps.SweepBuilder(self, False, spec=True).build(tidy_trees=False).fwd_def
                cached = not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_push"
                                 for n in ast.walk(fwd))
            self._tape_free = cached
        return cached

    def _flag_is_recomputed(self) -> bool:
        """The backward sweep evaluates the guards again (cheap, and on parameters never
        rebound) instead of popping the flag."""
        return shapes.LIST not in self.shapes.guards.values()

    def _certainly_int(self, name) -> bool:
        """``name`` always holds an int (a range index, a length, int arithmetic on those)."""
        facts = getattr(self, "shapes", None)
        return facts is not None and facts.types.get(name) == shapes.INT

    def _marker_free(self, operands, target) -> bool:
        """Every operand has the shape of the result wherever the guards hold (no marker needed)."""
        facts = getattr(self, "shapes", None)
        if facts is None or not facts.guards:
            return False
        cls = facts.shape_class(ir.Name(target))
        return cls is not None and all(facts.shape_class(ir.Name(n)) == cls for n in operands)

    def _free(self, name) -> bool:
        """A parameter never rebound: the caller passes its value to the backward sweep."""
        return name in self.params and name not in self.assigned

    def overlap_message(self, written, other, where=None, line=None, args=None, user_names=()):
        """Why arguments sharing memory are refused, at the call in ``where`` (a caller's
        FunctionInfo) or, for the root, at its definition."""
        name = self.info.name
        reason = (f"{name}() writes into its parameter `{written}`, and the arguments passed for `{written}` and "
                  f"`{other}` share memory: the adjoint would miss that the write also changes `{other}`")
        pick = None
        if args is not None:
            texts = dict(zip(self.params, args))
            pick = next((texts[p] for p in (other, written) if texts[p] in user_names), None)
        hint = f"pass a copy of one of them, e.g. {pick}.copy()" if pick else "pass a copy of one of them"
        if where is None:
            hint = f"call {name}() with separate arrays: pass a copy (x.copy()) for `{other}` or `{written}`"
            return str(self.info.error(reason, lineno=self.info.node.lineno, hint=hint))
        return str(where.error(reason, lineno=line, hint=hint))

    def check_arguments(self, named: dict):
        """Run-time check of a root's arguments (``named``: parameter -> value): none may share
        memory with one it writes into."""
        for p, q in sorted(self.overlap_pairs):
            if _rt.overlaps(named[p], named[q]):
                raise _rt.AliasError(self.overlap_message(p, q))


def _first_top_level_defs(body, params) -> set:
    """ids of top-level assignments that are the first binding of their target anywhere."""
    seen = set(params)
    firsts = set()
    for s in body:
        if isinstance(s, ir.Assign):
            if s.target not in seen:
                firsts.add(id(s))
            seen.add(s.target)
        elif isinstance(s, ir.Unpack):
            for t in s.targets:
                if t not in seen:
                    firsts.add((id(s), t))
                seen.add(t)
        else:
            for inner in ir.walk([s]):
                if isinstance(inner, ir.Assign):
                    seen.add(inner.target)
                elif isinstance(inner, ir.Unpack):
                    seen.update(inner.targets)
                elif isinstance(inner, ir.ForRange):
                    seen.add(inner.target)
    return firsts

