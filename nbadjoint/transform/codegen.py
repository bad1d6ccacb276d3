"""Generate the primal, forward sweep and backward sweep of one user function.

The forward sweep runs the normalised statements and keeps what the backward sweep reads:
before a statement rebinds a variable the backward sweep reads, the old value is pushed
(references: NumPy results are new arrays), and it is popped back after the statement is reversed;
writes into arrays push the overwritten entries.  So while the backward sweep reverses statement
k, every variable it reads holds the value it had right after statement k ran forward.  Branches
push which way they went, loops their trip counts.  Values needed only for their shape (to sum
a broadcast adjoint back) are kept as small shape markers instead.

Adjoints are named ``x_b`` and start as "no adjoint yet" (None); a static analysis of the
backward sweep knows, statement by statement, which adjoints are certainly None (nothing to do),
certainly set (plain ``+``) or unknown (a None test).
"""

from __future__ import annotations

import ast
import inspect
import re
import types

import numpy as np

from ..runtime import tape as _rt
from . import ir, rules, shapes
from .normalize import Normalizer, bind_call
from .parse import FunctionInfo, is_user_function, resolve_static, _NOT_FOUND, MODULE_TEXT

DEAD, LIVE, UNKNOWN = "dead", "live", "unknown"
_OLD = "_OLD_"      # stands for the value a statement's target had before it ran
_OP_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@",
            ast.FloorDiv: "//", ast.Mod: "%"}
_UNARY_TEXT = {ast.USub: "-", ast.UAdd: "+"}
_HELPER_NAMES = {"np", "math", "_vjp", "_rt", "_ub", "_ubl", "_add", "None", "True", "False"}


def _reads_of_text(text: str) -> tuple[set, set]:
    """(names read, names read only for their shape via _vjp.shape_of(name)) by an expression."""
    tree = ast.parse(text, mode="eval")
    shape_only = set()
    plain = set()

    class V(ast.NodeVisitor):
        def visit_Call(self, node):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == "shape_of" and isinstance(f.value, ast.Name)
                    and f.value.id == "_vjp" and len(node.args) == 1 and isinstance(node.args[0], ast.Name)):
                shape_only.add(node.args[0].id)
                return
            self.generic_visit(node)

        def visit_Name(self, node):
            plain.add(node.id)

    V().visit(tree)
    return plain, shape_only - plain


class Lines:
    def __init__(self):
        self.items: list = []

    def add(self, indent: int, text: str):
        self.items.append((indent, text))

    def extend(self, other: "Lines", extra: int = 0):
        self.items.extend((i + extra, t) for i, t in other.items)

    def __bool__(self):
        return bool(self.items)

    def render(self, base: int) -> list:
        return ["    " * (base + i) + t for i, t in self.items]


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
        self.assigned = _assigned(self.body)
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

    def analyze(self, varied_params):
        """Run the analyses, given which parameters may carry a derivative in from the callers."""
        self._analyze(set(varied_params))

    # ---------------------------------------------------------------------------------------------
    # analysis
    # ---------------------------------------------------------------------------------------------
    def tmp(self, prefix):
        while True:
            self.tmp_counter += 1
            name = f"{prefix}{self.tmp_counter}"
            if name not in self.used_names:
                self.used_names.add(name)
                return name

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
                for tgt, reads in self._flows(s):
                    if tgt not in varied and any(r in varied for r in reads):
                        varied.add(tgt)
                        changed = True
        # useful: influences the returned value
        useful = set(ir.names_in([self.ret])) | set(self.mutated)
        changed = True
        while changed:
            changed = False
            for s in stmts:
                for tgt, reads in self._flows(s):
                    if tgt in useful:
                        for r in reads:
                            if r not in useful:
                                useful.add(r)
                                changed = True
        self.active = varied & useful
        self.varied = varied
        self.primal_names = set(self.params) | _assigned(self.body)
        for s in stmts:
            if isinstance(s, ir.Assign) and isinstance(s.expr, ir.Opaque) and s.expr.kind == "boolop":
                if any(r in self.active for r in s.expr.reads):
                    raise self.info.error("`and` / `or` on a differentiated value is not supported",
                                          lineno=s.line, hint="use an if statement or a conditional expression")
        # adjoint plans: contributions per statement, and what they read
        self.plans = {}
        reads: set = set()
        for s in stmts:
            plan = self._plan(s)
            self.plans[id(s)] = plan
            reads |= plan.reads
        self.needed = reads
        self.assigned = _assigned(self.body)
        self.def_counts = {}
        for st in stmts:
            for t in ir.defined(st):
                self.def_counts[t] = self.def_counts.get(t, 0) + 1
        for p in self.params:
            self.def_counts[p] = self.def_counts.get(p, 0) + 1
        self._plan_recomputation(stmts, varied)
        self._plan_prologue_recomputation(stmts)
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

    def _plan_recomputation(self, stmts, varied):
        """Cheap inactive values computed at the top of a loop body (indices like ``i + 1``) are
        recomputed at the top of each reversed iteration instead of being taped."""
        counts = self.def_counts
        self.recompute = {}
        for loop in stmts:
            if not isinstance(loop, ir.ForRange):
                continue
            inside = {id(x) for x in ir.walk(loop.body)}
            in_loop = {t for x in ir.walk(loop.body) for t in ir.defined(x)} | {loop.target}
            read_outside = set()
            for x in stmts:
                if id(x) not in inside and x is not loop:
                    read_outside |= _stmt_reads(x)
            written = self._maybe_written_in(loop)
            chosen, avail = [], set()
            for st in loop.body:
                if not (isinstance(st, ir.Assign) and isinstance(st.expr, (ir.BinOp, ir.UnOp, ir.Opaque))
                        and st.target not in varied and counts.get(st.target) == 1
                        and st.target not in read_outside
                        and st.target not in self.params):
                    continue
                operands = _operand_names(st.expr) if not isinstance(st.expr, ir.Opaque) else set(st.expr.reads)
                if all(op == loop.target or op in avail or (op not in in_loop and op not in written)
                       for op in operands):
                    chosen.append(st)
                    avail.add(st.target)
            keep, wanted = [], set(self.needed)
            for st in reversed(chosen):         # only what the backward sweep reads, directly or not
                if st.target in wanted:
                    keep.append(st)
                    wanted |= _operand_names(st.expr) if not isinstance(st.expr, ir.Opaque) else set(st.expr.reads)
            chosen = keep[::-1]
            avail = {st.target for st in chosen}
            if chosen:
                self.recompute[id(loop)] = chosen
                invariants = {op for st in chosen for op in
                              (_operand_names(st.expr) if not isinstance(st.expr, ir.Opaque) else st.expr.reads)}
                self.needed -= avail
                self.needed |= (invariants - avail)

    def _maybe_written_in(self, loop) -> set:
        """Names whose value loop ``loop`` may change in place: the targets of its writes (its own
        and its callees'), and every name that may share memory with one of those."""
        written = set()
        for st in ir.walk(loop.body):
            if isinstance(st, (ir.SetItem, ir.Append)):
                written.add(st.target)
            elif isinstance(st, ir.Assign) and isinstance(st.expr, ir.UserCall):
                callee = self.program.functions[st.expr.callee]
                written.update(a.id for p, a in zip(callee.params, st.expr.args)
                               if p in callee.mutated and isinstance(a, ir.Name))
        if not written:
            return written
        links = {}
        for st in ir.walk(self.body):
            for a, b in _sharing_links(st):
                links.setdefault(a, set()).add(b)
                links.setdefault(b, set()).add(a)
        todo = list(written)
        while todo:
            for other in links.get(todo.pop(), ()):
                if other not in written:
                    written.add(other)
                    todo.append(other)
        return written

    def _plan_prologue_recomputation(self, stmts):
        """Values computed once, at the top level, from unmodified parameters and constants by one
        arithmetic operation (``0.5 * u``, ``dx * dx``) are recomputed at the start of the backward
        sweep instead of being taped."""
        counts = self.def_counts
        fixed = {p for p in self.params if p not in self.assigned and p not in self.mutated}
        # only values used as plain operands: never written in place, never aliased by another name
        other_uses = set()
        for st in stmts:
            e = getattr(st, "expr", None)
            if isinstance(st, ir.Assign) and (isinstance(e, (ir.BinOp, ir.UnOp)) or
                                              (isinstance(e, ir.Prim) and e.func not in _VIEW_FUNCS)):
                continue
            other_uses |= _stmt_reads(st)
            if isinstance(st, (ir.SetItem, ir.Append)):
                other_uses.add(st.target)
        self.prologue = []
        for st in self.body:
            if (isinstance(st, ir.Assign) and isinstance(st.expr, (ir.BinOp, ir.UnOp))
                    and counts.get(st.target) == 1 and st.target not in self.params
                    and st.target not in other_uses and _operand_names(st.expr) <= fixed):
                self.prologue.append(st)
                fixed.add(st.target)
        wanted = set(self.needed)
        keep = []
        for st in reversed(self.prologue):
            if st.target in wanted:
                keep.append(st)
                wanted |= _operand_names(st.expr)
        self.prologue = keep[::-1]
        self.needed -= {st.target for st in self.prologue}
        # recomputed when the backward sweep starts, after every write into the parameters: an
        # argument read there must not share memory with one this function writes into
        read = {n for st in self.prologue for n in _operand_names(st.expr)} & set(self.params)
        self.unsafe_pairs = self.unsafe_pairs | {(p, q) for p in self.mutated for q in read if q != p}

    def _flows(self, s):
        pairs = _flows(s)
        if isinstance(s, ir.Assign) and isinstance(s.expr, ir.UserCall):
            callee = self.program.functions[s.expr.callee]
            reads = ir.names_in(s.expr.args)
            for param, atom in zip(callee.params, s.expr.args):
                if param in callee.mutated and isinstance(atom, ir.Name):
                    pairs.append((atom.id, reads))       # the callee writes into this argument
        return pairs

    def _plan(self, s) -> "Plan":
        plan = Plan()
        if isinstance(s, ir.Assign):
            expr = s.expr
            if isinstance(expr, ir.UserCall):
                plan.call = True
                plan.reads |= set(ir.names_in(expr.args))
                return plan
            if s.target not in self.active:
                return plan
            self._plan_assign(s, expr, plan)
        elif isinstance(s, ir.SetItem):
            plan.reads |= set(s.index.reads)
            plan.reads.add(s.target)        # the undo of the write
            if s.target in self.active and isinstance(s.value, ir.Name) and s.value.id in self.active:
                plan.contribs.append((s.value.id, "part", "fit"))
        elif isinstance(s, ir.Append):
            plan.reads.add(s.target)
            if s.target in self.active and isinstance(s.value, ir.Name) and s.value.id in self.active:
                plan.contribs.append((s.value.id, "part", "add"))
        elif isinstance(s, ir.Unpack):
            if isinstance(s.value, ir.Name) and s.value.id in self.active and \
                    any(t in self.active for t in s.targets):
                plan.contribs.append((s.value.id, "unpack", "add"))
        elif isinstance(s, ir.Effect):
            pass
        return plan

    def _plan_assign(self, s, expr, plan):
        g = self.adj(s.target)
        ans = s.target
        if isinstance(expr, ir.Copy):
            if isinstance(expr.a, ir.Name) and expr.a.id in self.active:
                plan.contribs.append((expr.a.id, g, "add"))
        elif isinstance(expr, (ir.BinOp, ir.UnOp)):
            if isinstance(expr, ir.BinOp):
                rule = rules.BINOP_RULES.get(expr.op)
                operands = [expr.a, expr.b]
            else:
                rule = rules.UNARYOP_RULES.get(expr.op)
                operands = [expr.a]
            if rule is None:
                return
            texts = [_OLD if (isinstance(a, ir.Name) and a.id == s.target) else a.text() for a in operands]
            for i, atom in enumerate(operands):
                if isinstance(atom, ir.Name) and atom.id in self.active:
                    text = rule.grads[i](g, ans, *texts)
                    if text is not None:
                        self._add_contrib(plan, atom.id, text, rule.broadcast, s, "plus")
        elif isinstance(expr, ir.Prim):
            if expr.rule is None:
                return
            self._plan_prim(s, expr, g, ans, plan)
        elif isinstance(expr, ir.GetItem):
            if isinstance(expr.a, ir.Name) and expr.a.id in self.active:
                plan.reads |= set(expr.index.reads)
                plan.getitem = expr.a.id
        elif isinstance(expr, ir.Build):
            for k, atom in enumerate(expr.elts):
                if isinstance(atom, ir.Name) and atom.id in self.active:
                    plan.contribs.append((atom.id, k, "split"))
        elif isinstance(expr, ir.BuildDict):
            for k, atom in enumerate(expr.values):
                if isinstance(atom, ir.Name) and atom.id in self.active:
                    plan.contribs.append((atom.id, k, "split"))

    def _plan_prim(self, s, expr, g, ans, plan):
        rule = expr.rule
        def txt(a):
            return _OLD if (isinstance(a, ir.Name) and a.id == s.target) else a.text()
        pos = [txt(a) for a in expr.args]
        kw = {k: txt(a) for k, a in expr.kwargs.items()}
        param_of_kw = {}
        if any(isinstance(a, ir.Name) and a.id in self.active for a in expr.kwargs.values()):
            try:
                names = [p.name for p in inspect.signature(expr.func).parameters.values()
                         if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            except (TypeError, ValueError):
                names = []
            for k, a in expr.kwargs.items():
                if isinstance(a, ir.Name) and a.id in self.active:
                    if k not in names:
                        raise self.info.error(f"pass `{a.id}` to {expr.name}() by position (as {k}=... its "
                                              "derivative cannot be taken)", lineno=s.line)
                    param_of_kw[names.index(k)] = a
        plus = rule.broadcast or isinstance(expr.func, np.ufunc) or \
            getattr(expr.func, "__module__", None) == "math" or expr.name.startswith("math.")
        for i, grad in enumerate(rule.grads):
            if i < len(expr.args):
                atom = expr.args[i]
            elif i in param_of_kw:
                atom = param_of_kw[i]
            else:
                continue
            if not (isinstance(atom, ir.Name) and atom.id in self.active):
                continue
            try:
                text = grad(g, ans, *pos, **kw)
            except rules.RuleError as exc:
                raise self.info.error(str(exc), lineno=s.line) from None
            if text is None:
                continue
            self._add_contrib(plan, atom.id, text, rule.broadcast, s, "plus" if plus else "add")

    def _add_contrib(self, plan, name, text, broadcast, s, mode):
        plain, shape_only = _reads_of_text(text)
        plan.reads |= {n for n in plain if n in self.primal_names}
        if _OLD in plain:
            plan.reads.add(s.target)
        plan.shape_only |= shape_only
        plan.contribs.append((name, text, "bplus" if broadcast else mode))

    # ---------------------------------------------------------------------------------------------
    # emission
    # ---------------------------------------------------------------------------------------------
    def emit(self, probes: bool) -> str:
        self.probes = probes
        self.tmp_counter = 0
        self.flag_used = False
        self._dense: set = set()       # lists whose adjoint entries are known to be numbers (see _dense_lists)
        self._fresh_each_iteration: set = set()   # adjoints that need no reset after use (see _emit_for)
        self._owned: set = set()       # names whose adjoint is a list only this loop touches (see _emit_for)
        fwd_body, bwd_body, state = self._emit_block(self.body, {}, top=True)
        return "\n".join(self._primal_text(probes) + [""] + self._fwd_text(fwd_body) + [""] +
                         self._bwd_text(bwd_body, state))

    def _fwd_text(self, body: Lines) -> list:
        name = f"{self.key}_fwd"
        out = [f"def {name}(_c, {', '.join(self.params)}):" if self.params else f"def {name}(_c):",
               f'    """Forward sweep of {self.info.name}: runs it and tapes what {self.key}_bwd reads."""',
               "    _push = _c.tape.append"]
        if self.sites:
            out.append("    _ck = _c.ck")
            if self.probes:
                out.append("    _rec = _c.rec")
        for p, ref in self.entry_refs.items():
            out.append(f"    {ref} = {p}    # checked against writes that may reach the caller's {p}")
        if self.flag_used:
            out.append(f"    {self.shape_flag()} = {self.shape_guard()}    # then operands of the result's shape tape no marker")
        inits = [n for n in self.needed_locals if n not in self.params and n not in self.first_def_names]
        inits += sorted(n for n in self.maybe_unbound if n not in inits and n not in self.params)
        for k in range(0, len(inits), 6):
            out.append("    " + " = ".join(inits[k:k + 6]) + " = None")
        out += body.render(1)
        finals = self.needed_locals
        for n in finals:
            out.append(f"    _push({n})")
        if self.flag_used and not self._flag_is_recomputed():
            out.append(f"    _push({self.shape_flag()})")
        out.append(f"    return {self.ret.text()}")
        return out

    def _bwd_text(self, body: Lines, state) -> list:
        name = f"{self.key}_bwd"
        incoming = [self.adj(p) + ("_in" if p in self.maybe_mutated else "") for p in self.mutated]
        params = ", ".join(["_c", "_rv_b"] + self.params + incoming)
        doc = (f'    """Backward sweep of {self.info.name}: pops the tape of {self.key}_fwd and returns the '
               'adjoints of its parameters.')
        if self.mutated:
            doc += ("\n\n    It writes into " + ", ".join(self.mutated) + f": {', '.join(self.adj(p) for p in self.mutated)} "
                    "come in as the adjoints after the call\n    and go out as the adjoints before it.")
        out = [f"def {name}({params}):", doc + '"""',
               "    _pop = _c.tape.pop"]
        if self.sites:
            out.append("    _ck = _c.ck")
            if self.probes:
                out.append("    _rec = _c.rec")
        if self.flag_used:
            out.append(f"    {self.shape_flag()} = {self.shape_guard()}" if self._flag_is_recomputed()
                       else f"    {self.shape_flag()} = _pop()")
        for n in reversed(self.needed_locals):
            out.append(f"    {n} = _pop()")
        for st in self.prologue:
            out.append(f"    {st.target} = {self._render_expr(st.expr)}    # recomputed, not taped")
        adjs = sorted({self.adj(n) for n in self.active | set(self.params)} -
                      {self.adj(p) for p in self.mutated if p not in self.maybe_mutated})
        for k in range(0, len(adjs), 6):
            out.append("    " + " = ".join(adjs[k:k + 6]) + " = None")
        for p in self.mutated:
            if p in self.maybe_mutated:
                # `p op= v` wrote into p only if it is an array; otherwise the caller's adjoint passes through
                out.append(f"    if {p}.__class__ is np.ndarray:")
                out.append(f"        {self.adj(p)}, {self.adj(p)}_in = {self.adj(p)}_in, None")
        if isinstance(self.ret, ir.Name) and self.ret.id in self.active:
            r = self.adj(self.ret.id)
            out.append(f"    {r} = _rt.add({r}, _rv_b)" if self.ret.id in self.mutated else f"    {r} = _rv_b")
        out += body.render(1)
        rets = ", ".join(f"_rt.add({self.adj(p)}, {self.adj(p)}_in)" if p in self.maybe_mutated else self.adj(p)
                         for p in self.params)
        out.append(f"    return ({rets},)" if len(self.params) == 1 else f"    return ({rets})")
        return out

    def _emit_block(self, stmts, state_after, top=False):
        """Emit forward lines and backward lines for a block.

        ``state_after`` is the adjoint state at the END of the block (the start of its backward
        sweep); returns (fwd, bwd, state at the start of the block).
        """
        if top:
            state_after = {n: DEAD for n in self.active}
            for p in self.mutated:
                if p in self.active:
                    state_after[p] = UNKNOWN
            if isinstance(self.ret, ir.Name) and self.ret.id in self.active:
                state_after[self.ret.id] = UNKNOWN
        fwd = Lines()
        fwd_parts = []
        for s in stmts:
            if isinstance(s, ir.Return):
                continue
            fwd_parts.append(s)
        # backward: reverse order, state flows backwards
        bwd = Lines()
        state = dict(state_after)
        bwd_chunks = []
        fwd_chunks = []
        for s in reversed(fwd_parts):
            f, b, state = self._emit_stmt(s, state)
            fwd_chunks.append(f)
            bwd_chunks.append(b)
        self._join(fwd, zip(reversed(fwd_chunks), fwd_parts), "# ")
        self._join(bwd, zip(bwd_chunks, reversed(fwd_parts)), "# adjoint of ")
        return fwd, bwd, state

    def _join(self, out: Lines, chunks, prefix: str):
        """Append code chunks, each run of statements from one source line under a comment quoting it."""
        last_line = None
        for lines, s in chunks:
            if not lines:
                continue
            if isinstance(s, (ir.If, ir.ForRange, ir.Loop)):
                last_line = None
            elif s.line != last_line:
                out.add(0, prefix + self._line_comment(s.line))
                last_line = s.line
            out.extend(lines)

    def _line_comment(self, line):
        text = self.info.line_text(line).strip()
        return f"line {line}: {text}" if text else f"line {line}"

    def _dry(self, stmts, state):
        saved = self.tmp_counter
        _, _, st = self._emit_block(stmts, state)
        self.tmp_counter = saved
        return st

    # -- one statement ------------------------------------------------------------------------------
    def _emit_stmt(self, s, state):
        if isinstance(s, ir.Assign):
            return self._emit_assign(s, state)
        if isinstance(s, ir.SetItem):
            return self._emit_setitem(s, state)
        if isinstance(s, ir.Unpack):
            return self._emit_unpack(s, state)
        if isinstance(s, ir.Append):
            return self._emit_append(s, state)
        if isinstance(s, ir.Effect):
            f = Lines()
            f.add(0, s.src)
            return f, Lines(), state
        if isinstance(s, ir.If):
            return self._emit_if(s, state)
        if isinstance(s, ir.ForRange):
            return self._emit_for(s, state)
        if isinstance(s, ir.Loop):
            return self._emit_loop(s, state)
        if isinstance(s, ir.LoopExit):
            f = Lines()
            f.add(0, f"if {s.test.text()}:")
            f.add(1, "break")
            return f, Lines(), state
        raise AssertionError(f"unexpected statement {s!r}")

    def _render_expr(self, expr) -> str:
        if isinstance(expr, ir.Copy):
            return expr.a.text()
        if isinstance(expr, ir.BinOp):
            return f"{expr.a.text()} {_OP_TEXT[expr.op]} {expr.b.text()}"
        if isinstance(expr, ir.UnOp):
            return f"{_UNARY_TEXT[expr.op]}{expr.a.text()}"
        if isinstance(expr, ir.Prim):
            args = [a.text() for a in expr.args] + [f"{k}={a.text()}" for k, a in expr.kwargs.items()]
            if expr.method:
                return f"{args[0]}.{expr.method}({', '.join(args[1:])})"
            return f"{expr.name}({', '.join(args)})"
        if isinstance(expr, ir.GetItem):
            return f"{expr.a.text()}[{expr.index.src}]"
        if isinstance(expr, ir.Build):
            items = ", ".join(a.text() for a in expr.elts)
            if expr.kind == "tuple":
                return f"({items},)" if len(expr.elts) == 1 else f"({items})"
            return f"[{items}]"
        if isinstance(expr, ir.BuildDict):
            return "{" + ", ".join(f"{k}: {v.text()}" for k, v in zip(expr.keys, expr.values)) + "}"
        if isinstance(expr, ir.Opaque):
            return expr.src
        raise AssertionError(expr)

    def _emit_assign(self, s, state):
        expr = s.expr
        f, b = Lines(), Lines()
        pushes = s.target in self.needed and id(s) not in self.first_defs
        if isinstance(expr, ir.UserCall):
            return self._emit_call(s, state, f, b, pushes)
        if pushes:
            f.add(0, f"_push({s.target})")
        plan = self.plans[id(s)]
        bmarkers, smarkers = {}, {}
        # markers: shapes of operands the backward sweep does not keep
        for (name, text, mode) in plan.contribs:
            if mode == "bplus" and name not in self.needed and not self._free(name) and name not in bmarkers:
                bmarkers[name] = self.tmp("_m")
        for n in sorted(plan.shape_only):
            if n == _OLD:
                # the shape of the target's old value: read from the old value itself when it is
                # kept, else from a marker taken before the name is rebound
                if not pushes:
                    smarkers[n] = self.tmp("_m")
            elif n not in self.needed and not self._free(n):
                smarkers[n] = self.tmp("_m")
        result = s.target
        meta_of_old = plan.getitem == s.target and s.target not in self.needed and not self._free(s.target)
        if s.target in bmarkers or s.target in smarkers or _OLD in smarkers or meta_of_old:
            # the old value's shape is taken before the name is rebound
            result = self.tmp("_n")
        f.add(0, f"{result} = {self._render_expr(expr)}")
        getitem_meta = None
        if plan.getitem is not None and plan.getitem not in self.needed and not self._free(plan.getitem):
            getitem_meta = self.tmp("_m")
        bm = None
        push = None
        if len(bmarkers) == 1:
            (name, bm), = bmarkers.items()
            push = f"_push(None if {result}.__class__ is float else _rt.bshape({name}, {result}))"
        elif bmarkers:
            bm = self.tmp("_m")
            shapes = ", ".join(f"_rt.bshape({name}, {result})" for name in bmarkers)
            push = f"_push(None if {result}.__class__ is float else ({shapes}))"
        skip_marker = push is not None and self._marker_free(list(bmarkers), s.target)
        if skip_marker:
            self.flag_used = True
            f.add(0, f"if not {self.shape_flag()}:")
            f.add(1, push)
        elif push is not None:
            f.add(0, push)
        for name, m in smarkers.items():
            f.add(0, f"_push(_vjp.shape_of({s.target if name == _OLD else name}))")
        if getitem_meta and meta_of_old:
            f.add(0, f"_push(_rt.meta({plan.getitem}))")
        if result != s.target:
            f.add(0, f"{s.target} = {result}")
        if getitem_meta and not meta_of_old:
            f.add(0, f"_push(_rt.meta({plan.getitem}))")
        # backward
        if getitem_meta:
            b.add(0, f"{getitem_meta} = _pop()")
        for name, m in reversed(list(smarkers.items())):
            b.add(0, f"{m} = _pop()")
        # in a loop variant that runs only when the guards hold, skipped markers are simply absent
        known_shapes = skip_marker and bool(self._dense)
        if bm is not None and not known_shapes:
            b.add(0, f"{bm} = None if {self.shape_flag()} else _pop()" if skip_marker else f"{bm} = _pop()")
        g = self.adj(s.target)
        tstate = state.get(s.target, DEAD) if s.target in self.active else DEAD
        new_state = dict(state)
        old = None
        operands = _operand_names(expr)
        if pushes and s.target in operands:
            old = self.tmp("_o")
            b.add(0, f"{old} = _pop()")
        body = Lines()
        if tstate != DEAD and (plan.contribs or plan.getitem is not None):
            inner_state = dict(state)
            contribs = []
            split = [c for c in plan.contribs if c[2] == "split"]
            if split:
                parts = self.tmp("_e")
                if isinstance(expr, ir.BuildDict):
                    body.add(0, f"{parts} = _rt.dict_b({g}, ({', '.join(expr.keys)},))")
                else:
                    body.add(0, f"{parts} = _rt.container_b({g}, {len(expr.elts)})")
            for (name, text, mode) in plan.contribs:
                if mode == "split":
                    contribs.append((name, f"{parts}[{text}]", "add"))
                    continue
                if old is not None:
                    text = text.replace(_OLD, old)
                text = _subst_markers(text, smarkers)
                if mode == "bplus" and known_shapes and name in bmarkers:
                    mode = "plus"
                elif mode == "bplus" and self._dense and name not in bmarkers \
                        and self._marker_free([name], s.target):
                    mode = "plus"
                elif mode == "bplus":
                    if name in bmarkers:
                        m = bmarkers[name] if len(bmarkers) == 1 else \
                            f"{bm}[{list(bmarkers).index(name)}]"
                        seq = _seq_side(expr, name, contribs)
                        ub = f"_vjp.ub_seq({{}}, {{}}, {seq!r})" if seq in ("l", "r") else "_rt.ub({}, {})"
                        text = f"({text} if {bm} is None else {ub.format(text, m)})" if _is_short(text) \
                            else ub.format(text, bm if m == bm else f"{bm} and {m}")
                    else:
                        src = old if (name == s.target and old) else name
                        seq = _seq_side(expr, name, contribs)
                        ubl = f"_vjp.ubl_seq({text}, {src}, {seq!r})" if seq else f"_rt.ubl({text}, {src})"
                        text = f"({text} if {g}.__class__ is float else {ubl})" if _is_short(text) else ubl
                    mode = "plus"
                contribs.append((name, text, mode))
            # contributions to other names first, then to the target itself (which they replace)
            self_parts = [c for c in contribs if c[0] == s.target]
            others = [c for c in contribs if c[0] != s.target]
            for name, text, mode in others:
                self._accumulate(body, inner_state, name, text, mode)
            handled = False
            if plan.getitem is not None:
                base = plan.getitem
                ab = self.adj(base)
                if base == s.target:
                    like = getitem_meta or old
                    body.add(0, f"{ab} = _rt.getitem_b(None, {like}, {expr.index.value}, {g})")
                    inner_state[base] = UNKNOWN
                    handled = True
                else:
                    like = getitem_meta or base
                    idx = expr.index.src
                    if base in self._owned:
                        # a list of this loop's own (see _emit_for), at an int index
                        old_entry = self.tmp("_e")
                        body.add(0, f"{ab}[{idx}] = {g} if ({old_entry} := {ab}[{idx}]) is None else {old_entry} + {g}")
                    elif _single_index(expr.index):
                        # a list of floats read entry by entry: add into the list in place when nothing
                        # else refers to it (the common case), else through the general helper
                        test = f"{ab}.__class__ is list and _rc({ab}) == 2"
                        if not _int_literal(idx) and not self._certainly_int(idx):
                            test += f" and {idx}.__class__ is int"
                        old_entry = self.tmp("_e")
                        body.add(0, f"if {test}:")
                        body.add(1, f"{old_entry} = {ab}[{idx}]")
                        body.add(1, f"{ab}[{idx}] = {g} if {old_entry} is None else {old_entry} + {g}")
                        body.add(0, "else:")
                        body.add(1, f"{ab} = _rt.getitem_b({ab}, {like}, {expr.index.value}, {g})")
                    else:
                        body.add(0, f"{ab} = _rt.getitem_b({ab}, {like}, {expr.index.value}, {g})")
                    inner_state[base] = LIVE if inner_state.get(base) == LIVE else UNKNOWN
            if self_parts:
                total = " + ".join(f"({t})" if mode != "add" else t for _, t, mode in self_parts)
                body.add(0, f"{g} = {total}")
                inner_state[s.target] = LIVE if all(m != "add" for _, _, m in self_parts) else UNKNOWN
            elif not handled:
                if self._reread(s.target):
                    body.add(0, f"{g} = None")
                inner_state[s.target] = DEAD
            if tstate == UNKNOWN:
                b.add(0, f"if {g} is not None:")
                b.extend(body, 1)
                new_state = _merge(inner_state, state)
                if not self_parts and not handled:
                    new_state[s.target] = DEAD
            else:
                b.extend(body)
                new_state = inner_state
        elif s.target in self.active and tstate != DEAD:
            if self._reread(s.target):
                b.add(0, f"{g} = None")
            new_state[s.target] = DEAD
        if pushes:
            if old is not None:
                b.add(0, f"{s.target} = {old}")
            else:
                b.add(0, f"{s.target} = _pop()")
        return f, b, new_state

    def _reread(self, name) -> bool:
        """Can the adjoint of ``name`` be read again after its definition is reversed?"""
        if name in self._fresh_each_iteration:
            return False
        return self.def_counts.get(name, 0) != 1 or name in self.loop_defined

    def shape_flag(self) -> str:
        """Name of the flag: the guards of ``self.shapes`` hold for this call."""
        if getattr(self, "_shape_flag", None) is None:
            name = "_guards_hold"
            while name in self.used_names:
                name += "_"
            self.used_names.add(name)
            self._shape_flag = name
        return self._shape_flag

    def shape_guard(self, args=None):
        """The guards as an expression (on ``args``, a parameter -> atom text map, if given);
        None when an argument is a literal that fails its guard."""
        facts = self.shapes
        text = (lambda p: p) if args is None else args.__getitem__
        parts = []
        for p, kind in facts.guards.items():
            literal = shapes.literal_type(text(p)) is not None
            if kind == shapes.SCALAR and literal:
                continue                        # a number literal is a scalar
            if literal:
                return None
            if kind == shapes.LIST:
                parts.append(f"_rt.scalar_items({text(p)})")
            elif kind == shapes.SCALAR:
                parts.append(f"{text(p)}.__class__ in _rt.SCALARS")
        for members in facts.array_classes():
            if any(shapes.literal_type(text(m)) is not None for m in members):
                return None
            if len(members) == 1:
                parts.append(f"{text(members[0])}.__class__ is np.ndarray")
            else:
                parts.append(f"_rt.same_shape({', '.join(text(m) for m in members)})")
        return " and ".join(parts) or "True"

    def tape_free_when_guarded(self) -> bool:
        """Its forward sweep tapes nothing at all when its guards hold: a checkpointed call of it
        then needs no recomputation (its backward sweep reads only its arguments)."""
        cached = getattr(self, "_tape_free", None)
        if cached is None:
            cached = False
            if not self.sites and not self.mutated and self.shapes.guards and self._flag_is_recomputed():
                flag = self.shape_flag()
                names = set(self.used_names)
                text = self.emit(False)
                self.used_names.clear()      # the real emission gets the same temporary names
                self.used_names.update(names)
                lines = text[text.index(f"def {self.key}_fwd("):text.index(f"def {self.key}_bwd(")].splitlines()
                cached = self.flag_used and all(
                    k > 0 and lines[k - 1].strip() == f"if not {flag}:"
                    for k, line in enumerate(lines) if "_push(" in line and "_push = " not in line)
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

    def _accumulate(self, body: Lines, state, name, text, mode):
        ab = self.adj(name)
        st = state.get(name, DEAD)
        if mode == "add":
            if st == DEAD:
                body.add(0, f"{ab} = {text}")
                state[name] = UNKNOWN
            else:
                body.add(0, f"{ab} = _rt.add({ab}, {text})")
            return
        # "plus": text is certainly not None
        if st == DEAD:
            body.add(0, f"{ab} = {text}")
        elif st == LIVE:
            body.add(0, f"{ab} = {ab} + {text}")
        else:
            body.add(0, f"{ab} = {text} if {ab} is None else {ab} + {text}"
                     if _is_simple(text) else f"{ab} = _rt.add({ab}, {text})")
        state[name] = LIVE

    def _emit_setitem(self, s, state):
        f, b = Lines(), Lines()
        self._emit_alias_checks(f, s, s.target)
        plan = self.plans[id(s)]
        f.add(0, f"_push(_rt.old_item({s.target}, {s.index.value}))")
        contributes = bool(plan.contribs)
        marker = None
        if contributes:
            marker = self.tmp("_m")
            f.add(0, f"_push(_rt.write_shape({s.target}, {s.value.text()}))")
        f.add(0, f"{s.target}[{s.index.src}] = {s.value.text()}")
        new_state = dict(state)
        if contributes:
            b.add(0, f"{marker} = _pop()")
        if s.target in self.active and state.get(s.target, DEAD) != DEAD:
            ab = self.adj(s.target)
            part = self.tmp("_p")
            b.add(0, f"{part}, {ab} = _rt.setitem_b({ab}, {s.index.value})")
            if contributes:
                name = s.value.id
                self._accumulate(b, new_state, name, f"_rt.fit({part}, {marker})", "add")
        b.add(0, f"_rt.restore_item({s.target}, {s.index.value}, _pop())")
        return f, b, new_state

    def _emit_unpack(self, s, state):
        f, b = Lines(), Lines()
        pushed = [t for t in s.targets if t in self.needed and (id(s), t) not in self.first_defs]
        for t in pushed:
            f.add(0, f"_push({t})")
        lhs = ", ".join(s.targets) + ("," if len(s.targets) == 1 else "")
        f.add(0, f"{lhs} = {s.value.text()}")
        new_state = dict(state)
        plan = self.plans[id(s)]
        like = None
        if plan.contribs:
            v = s.value.id
            if v in self.needed or self._free(v):
                like = v
            else:
                like = self.tmp("_m")
                f.add(0, f"_push(_rt.array_meta({v}))")
                b.add(0, f"{like} = _pop()")
        live = [t for t in s.targets if t in self.active and state.get(t, DEAD) != DEAD]
        if plan.contribs and live:
            parts = ", ".join(self.adj(t) if t in live else "None" for t in s.targets)
            parts += "," if len(s.targets) == 1 else ""
            self._accumulate(b, new_state, s.value.id, f"_rt.unpack_b(({parts}), {like})", "add")
            for t in live:
                b.add(0, f"{self.adj(t)} = None")
                new_state[t] = DEAD
        for t in reversed(pushed):
            b.add(0, f"{t} = _pop()")
        return f, b, new_state

    def _emit_alias_checks(self, f, s, target):
        for other, message in self.alias_checks.get((id(s), target), ()):
            f.add(0, f"_rt.check_alias({target}, {other}, {message!r})")

    def _emit_append(self, s, state):
        f, b = Lines(), Lines()
        self._emit_alias_checks(f, s, s.target)
        plan = self.plans[id(s)]
        f.add(0, f"{s.target}.append({s.value.text()})")
        new_state = dict(state)
        b.add(0, f"{s.target}.pop()")
        if plan.contribs and state.get(s.target, DEAD) != DEAD:
            ab = self.adj(s.target)
            part = self.tmp("_p")
            if s.target in self._owned:
                b.add(0, f"{part} = {ab}.pop()")
            else:
                b.add(0, f"if {ab}.__class__ is list and _rc({ab}) == 2:")
                b.add(1, f"{part} = {ab}.pop()")
                b.add(0, "else:")
                b.add(1, f"{part}, {ab} = _rt.append_b({ab})")
            self._accumulate(b, new_state, s.value.id, part, "plus" if s.target in self._dense else "add")
        return f, b, new_state

    def _emit_call(self, s, state, f, b, pushes):
        expr: ir.UserCall = s.expr
        site = expr.site
        callee = self.program.functions[expr.callee]
        args = [a.text() for a in expr.args]
        arglist = ", ".join(["_c"] + args)
        self_arg = pushes and s.target in ir.names_in(expr.args)
        if pushes and not self_arg:
            f.add(0, f"_push({s.target})")
        out = self.tmp("_r") if self_arg else s.target
        mutated = [(k, a.id) for k, (p, a) in enumerate(zip(callee.params, expr.args))
                   if p in callee.mutated and isinstance(a, ir.Name)]
        snaps = [f"_push(_rt.snapshot({name}))    # {callee.info.name}() writes into it" for _, name in mutated]
        for _, name in mutated:
            self._emit_alias_checks(f, s, name)
        for name, other, message in self.entry_checks.get(id(s), ()):
            f.add(0, f"_rt.check_entry_alias({name}, {other}, {message!r})")
        self._emit_overlap_checks(f, s, callee, mutated)
        if self.probes:
            f.add(0, f"if _ck[{site!r}]:")
            f.add(1, f"_rec.enter({site!r}, 'P')")
            for line in snaps:
                f.add(1, line)
            f.add(1, f"{out} = {callee.key}_primal({arglist})")
            f.add(1, f"_rec.leave({site!r}, 'P')")
            f.add(0, "else:")
            f.add(1, f"_rec.enter({site!r}, 'F')")
            f.add(1, f"{out} = {callee.key}_fwd({arglist})")
            f.add(1, f"_rec.leave({site!r}, 'F')")
        else:
            f.add(0, f"if _ck[{site!r}]:")
            for line in snaps:
                f.add(1, line)
            f.add(1, f"{out} = {callee.key}_primal({arglist})    # checkpointed: primal only")
            f.add(0, "else:")
            f.add(1, f"{out} = {callee.key}_fwd({arglist})    # split: its tape stays until this call is reversed")
        if self_arg:
            # the argument's old value goes on top of the callee's tape: it is read first when reversing
            f.add(0, f"_push({s.target})")
            f.add(0, f"{s.target} = {out}")
        # backward
        old = None
        if pushes and s.target in ir.names_in(expr.args):
            old = self.tmp("_o")
            b.add(0, f"{old} = _pop()")
            args = [old if a == s.target else a for a in args]
            arglist = ", ".join(["_c"] + args)
        g = self.adj(s.target) if s.target in self.active else "None"
        tstate = state.get(s.target, DEAD) if s.target in self.active else DEAD
        if tstate == DEAD:
            g = "None"
        res = self.tmp("_r")
        restores = [f"_rt.restore_snapshot({args[k]}, _pop())" for k, _ in reversed(mutated)]
        # the adjoint after the call of each array the callee writes into (None when the call rebinds the name)
        mut_adj = "".join(", " + (self.adj(name) if name in self.active and state.get(name, DEAD) != DEAD
                                  and name != s.target else "None") for _, name in mutated)
        # a callee that tapes nothing when its guards hold needs no recomputation then
        skip = callee.shape_guard(dict(zip(callee.params, args))) if callee.tape_free_when_guarded() else None
        bwd_call = f"{res} = {callee.key}_bwd(_c, {g}{''.join(', ' + a for a in args)}{mut_adj})"
        if self.probes:
            b.add(0, f"if _ck[{site!r}]:")
            if skip is not None:
                inner = 1 if skip == "True" else 2
                if skip != "True":
                    b.add(1, f"if {skip}:")
                b.add(inner, f"_rec.enter({site!r}, 'K')    # recomputation skipped: nothing to tape")
                b.add(inner, f"_rec.leave({site!r}, 'K')")
            if skip != "True":
                if skip is not None:
                    b.add(1, "else:")
                elif restores:
                    b.add(1, f"_rec.enter({site!r}, 'S')")
                    for line in restores:
                        b.add(1, line)
                    b.add(1, f"_rec.leave({site!r}, 'S')")
                inner = 1 if skip is None else 2
                b.add(inner, f"_rec.enter({site!r}, 'F')")
                b.add(inner, f"{callee.key}_fwd({arglist})")
                b.add(inner, f"_rec.leave({site!r}, 'F')")
            b.add(0, f"_rec.enter({site!r}, 'B')")
            b.add(0, bwd_call)
            b.add(0, f"_rec.leave({site!r}, 'B')")
        else:
            if skip == "True":
                b.add(0, f"# {callee.info.name}() tapes nothing here: no recomputation, checkpointed or not")
            elif skip is not None:
                b.add(0, f"if _ck[{site!r}] and not ({skip}):")
                b.add(1, f"{callee.key}_fwd({arglist})    # recompute, taping (its tape is empty when its guards hold)")
            else:
                b.add(0, f"if _ck[{site!r}]:")
                for line in restores:
                    b.add(1, line + "    # the snapshot: its state before the call")
                b.add(1, f"{callee.key}_fwd({arglist})    # recompute, taping")
            b.add(0, bwd_call)
        new_state = dict(state)
        if s.target in self.active and tstate != DEAD:
            if s.target in ir.names_in(expr.args):
                pass
            else:
                b.add(0, f"{self.adj(s.target)} = None")
            new_state[s.target] = DEAD
        target_gets = False
        replaced = set()
        for k, name in mutated:
            if name in self.active and name not in replaced and name != s.target:
                # the callee took this adjoint (after the call) and returns it before the call
                b.add(0, f"{self.adj(name)} = {res}[{k}]")
                new_state[name] = UNKNOWN
                replaced.add(name)
        for k, atom in enumerate(expr.args):
            if (k, getattr(atom, "id", None)) in mutated and atom.id != s.target:
                continue
            if isinstance(atom, ir.Name) and atom.id in self.active:
                if atom.id == s.target and not target_gets:
                    b.add(0, f"{self.adj(s.target)} = {res}[{k}]")
                    target_gets = True
                    new_state[s.target] = UNKNOWN
                else:
                    self._accumulate(b, new_state, atom.id, f"{res}[{k}]", "add")
        if pushes:
            b.add(0, f"{s.target} = {old}" if old else f"{s.target} = _pop()")
        return f, b, new_state

    def _emit_overlap_checks(self, f, s, callee, mutated):
        """A callee that writes into one argument must get no other argument sharing its memory:
        its adjoint treats its parameters as distinct arrays."""
        args = s.expr.args
        for k, name in mutated:
            for j, atom in enumerate(args):
                if (callee.params[k], callee.params[j]) not in callee.overlap_pairs or \
                        (isinstance(atom, ir.Const) and shapes.literal_type(atom.src) is not None):
                    continue
                message = callee.overlap_message(callee.params[k], callee.params[j], self.info, s.line,
                                                 [a.text() for a in args], self.norm.user_names)
                f.add(0, f"_rt.check_alias({name}, {atom.text()}, {message!r})")

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

    def _emit_if(self, s, state):
        fb, bb, sb = self._emit_block(s.body, state)
        fo, bo, so = self._emit_block(s.orelse, state)
        f, b = Lines(), Lines()
        needs_flag = bool(bb or bo)
        f.add(0, f"if {s.test.text()}:")
        if fb or needs_flag:
            f.extend(fb, 1)
            if needs_flag:
                f.add(1, "_push(True)")
        else:
            f.add(1, "pass")
        if fo or needs_flag:
            f.add(0, "else:")
            f.extend(fo, 1)
            if needs_flag:
                f.add(1, "_push(False)")
        if not needs_flag:
            return f, b, state
        b.add(0, "if _pop():")
        if bb:
            b.extend(bb, 1)
        else:
            b.add(1, "pass")
        if bo:
            b.add(0, "else:")
            b.extend(bo, 1)
        return f, b, _merge(sb, so)

    def _loop_state(self, body, state):
        """Adjoint state at the start of each backward iteration (a fixpoint over iterations)."""
        entry = dict(state)
        for _ in range(8):
            out = self._dry(body, entry)
            new = _merge(state, out)
            if new == entry:
                break
            entry = new
        else:
            entry = {k: (UNKNOWN if v != DEAD or state.get(k) != DEAD else DEAD) for k, v in entry.items()}
        return entry

    def _dense_lists(self, s, state) -> list:
        """Lists of scalars appended to in loop ``s`` whose adjoints come in with the loop's
        backward sweep: where every entry of those adjoints is a scalar (checked once), the
        adjoints popped from them are never None, and the body needs no None checks."""
        facts = getattr(self, "shapes", None)
        if facts is None or shapes.LIST not in facts.guards.values():
            return []
        inside = {t for st in ir.walk(s.body) for t in ir.defined(st)}
        out = []
        for st in ir.walk(s.body):
            if isinstance(st, ir.Append) and st.target not in inside and state.get(st.target, DEAD) != DEAD \
                    and facts.types.get(st.target) == shapes.LIST and facts.rank0(st.value) \
                    and st.target not in out:
                out.append(st.target)
        return out

    def _indexed_lists(self, s) -> list:
        """Lists of scalars that loop ``s`` only reads entry by entry, at int indices: their
        adjoints are touched in the loop by those reads alone."""
        facts = self.shapes
        inside = {t for st in ir.walk(s.body) for t in ir.defined(st)}
        read, other = [], set()
        for st in ir.walk(s.body):
            e = st.expr if isinstance(st, ir.Assign) else None
            if isinstance(e, ir.GetItem) and isinstance(e.a, ir.Name) and _single_index(e.index) \
                    and (_int_literal(e.index.src) or self._certainly_int(e.index.src)):
                if e.a.id not in read:
                    read.append(e.a.id)
                other.update(e.index.reads)
            else:
                other.update(_stmt_reads(st))
        return [n for n in read if n not in other and n not in inside and facts.types.get(n) == shapes.LIST
                and n in self.active and (n in self.needed or self._free(n))]

    def _emit_for(self, s, state):
        dense = self._dense_lists(s, state) if not self._dense else []
        owned_bases = []
        if dense:
            self._dense = set(dense)
            owned_bases = self._indexed_lists(s)
            self._owned = set(dense) | set(owned_bases)
            if all(isinstance(st, (ir.Assign, ir.Append, ir.SetItem, ir.Unpack)) for st in s.body):
                # straight-line body: the adjoint of a name defined once in it, with no adjoint
                # coming in from after the loop, is assigned before it is read in every iteration
                self._fresh_each_iteration = {
                    n for st in s.body for n in ir.defined(st)
                    if self.def_counts.get(n, 0) == 1 and state.get(n, DEAD) == DEAD}
            entry = self._loop_state(s.body, state)
            _, dense_bb, dense_out = self._emit_block(s.body, entry)
            self._dense = set()
            self._fresh_each_iteration = set()
            self._owned = set()
        entry = self._loop_state(s.body, state)
        fb, bb, out_state = self._emit_block(s.body, entry)
        f, b = Lines(), Lines()
        rng = self.tmp("_range")
        f.add(0, f"{rng} = range({', '.join(a.text() for a in s.range_args)})")
        loop_var_needed = s.target in self.needed
        if not bb:
            f.add(0, f"for {s.target} in {rng}:")
            f.extend(fb or _pass(), 1)
            return f, b, state
        if loop_var_needed:
            f.add(0, f"_push({s.target})")
        if s.counted:
            trips = self.tmp("_trips")
            f.add(0, f"{trips} = 0")
            f.add(0, f"for {s.target} in {rng}:")
            f.add(1, f"{trips} += 1")
            f.extend(fb, 1)
            f.add(0, f"_push({rng}[:{trips}])")
        else:
            f.add(0, f"for {s.target} in {rng}:")
            f.extend(fb, 1)
            f.add(0, f"_push({rng})")
        def reversed_loop(body, indent):
            b.add(indent, f"for {s.target} in reversed(_pop()):")
            for st in self.recompute.get(id(s), ()):
                b.add(indent + 1, f"{st.target} = {self._render_expr(st.expr)}    # recomputed, not taped")
            b.extend(body, indent + 1)

        if dense:
            self.flag_used = True
            test = " and ".join([self.shape_flag()] + [f"_rt.scalar_items({self.adj(t)})" for t in dense])
            b.add(0, f"if {test}:    # every adjoint in the loop is a number: no None checks")
            for t in dense:
                b.add(1, f"{self.adj(t)} = list({self.adj(t)})    # a copy of its own, popped in place")
            for base in owned_bases:
                b.add(1, f"{self.adj(base)} = _rt.own_list({self.adj(base)}, {base})    # added into in place")
            reversed_loop(dense_bb, 1)
            b.add(0, "else:")
            reversed_loop(bb, 1)
            out_state = _merge(out_state, dense_out)
        else:
            reversed_loop(bb, 0)
        if loop_var_needed:
            b.add(0, f"{s.target} = _pop()")
        return f, b, _merge(state, out_state)

    def _emit_loop(self, s, state):
        entry = self._loop_state(s.body, state)
        fb, bb, out_state = self._emit_block(s.body, entry)
        f, b = Lines(), Lines()
        if not bb:
            f.add(0, "while True:")
            f.extend(fb, 1)
            return f, b, state
        trips = self.tmp("_trips")
        f.add(0, f"{trips} = 0")
        f.add(0, "while True:")
        f.add(1, f"{trips} += 1")
        f.extend(fb, 1)
        f.add(0, f"_push({trips})")
        b.add(0, "for _ in range(_pop()):")
        b.extend(bb, 1)
        return f, b, _merge(state, out_state)

    # ---------------------------------------------------------------------------------------------
    # primal
    # ---------------------------------------------------------------------------------------------
    def _primal_text(self, probes: bool) -> list:
        node = _PrimalRewriter(self, probes).visit(_deepcopy(self.info.node))
        node.name = f"{self.key}_primal"
        node.decorator_list = []
        params = [ast.arg("_c")] + [ast.arg(p) for p in self.params]
        node.args = ast.arguments(posonlyargs=[], args=params, vararg=None, kwonlyargs=[], kw_defaults=[],
                                  kwarg=None, defaults=[])
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        doc = ast.Expr(ast.Constant(f"Primal of {self.info.name} (the user's code; calls go to primals)."))
        prologue = []
        if probes and self.sites:
            prologue.append(ast.parse("_rec = _c.rec").body[0])
        node.body = [doc] + prologue + body
        ast.fix_missing_locations(node)
        text = ast.unparse(node)
        return text.split("\n")


class Plan:
    __slots__ = ("contribs", "reads", "shape_only", "getitem", "call")

    def __init__(self):
        self.contribs = []          # (name, text, mode)
        self.reads = set()
        self.shape_only = set()
        self.getitem = None
        self.call = False


def _single_index(index) -> bool:
    """One plain index (a name or an integer), no slice, tuple or ellipsis."""
    src = index.src
    return ":" not in src and "," not in src and "..." not in src and src.isidentifier() or _int_literal(src)


def _int_literal(text: str) -> bool:
    return text.lstrip("-(").rstrip(")").isdigit()


def _seq_side(expr, name, done):
    """Where operand ``name`` sits in ``+`` or ``*``, which concatenate or repeat lists and tuples:
    "l" / "r" (left / right of +; for ``u + u`` its first contribution is the left one) or "*";
    None for other expressions.  ``done``: the contributions of the statement already emitted."""
    if not isinstance(expr, ir.BinOp) or expr.op not in (ast.Add, ast.Mult):
        return None
    if expr.op is ast.Mult:
        return "*"
    left = isinstance(expr.a, ir.Name) and expr.a.id == name
    right = isinstance(expr.b, ir.Name) and expr.b.id == name
    if left and right:
        return "r" if any(c[0] == name for c in done) else "l"
    return "l" if left else "r"


def _is_short(text: str) -> bool:
    return len(text) < 40 and "(" not in text


def _is_simple(text: str) -> bool:
    return len(text) < 60


def _pass():
    p = Lines()
    p.add(0, "pass")
    return p


def _merge(a: dict, b: dict) -> dict:
    out = {}
    for k in set(a) | set(b):
        x, y = a.get(k, DEAD), b.get(k, DEAD)
        out[k] = x if x == y else UNKNOWN
    return out


def _subst_markers(text: str, markers: dict) -> str:
    for name, m in markers.items():
        text = text.replace(f"_vjp.shape_of({name})", m)
    return text


def _operand_names(expr) -> set:
    if isinstance(expr, ir.Copy):
        return set(ir.names_in([expr.a]))
    if isinstance(expr, ir.BinOp):
        return set(ir.names_in([expr.a, expr.b]))
    if isinstance(expr, ir.UnOp):
        return set(ir.names_in([expr.a]))
    if isinstance(expr, ir.Prim):
        return set(ir.names_in(list(expr.args) + list(expr.kwargs.values())))
    if isinstance(expr, ir.GetItem):
        return set(ir.names_in([expr.a]))
    if isinstance(expr, ir.Build):
        return set(ir.names_in(expr.elts))
    if isinstance(expr, ir.BuildDict):
        return set(ir.names_in(expr.values))
    return set()


def _flows(s):
    """(target, names whose derivative flows into it) pairs of one IR statement."""
    if isinstance(s, ir.Unpack):
        return [(t, ir.names_in([s.value])) for t in s.targets]
    tgt, reads = _flow(s)
    return [] if tgt is None else [(tgt, reads)]


def _flow(s):
    """(target, names whose derivative flows into it) of one IR statement."""
    if isinstance(s, ir.Assign):
        e = s.expr
        if isinstance(e, ir.BinOp):
            rule = rules.BINOP_RULES.get(e.op)
            if rule is None or all(g is rules._no_grad for g in rule.grads):
                return s.target, []
        elif isinstance(e, ir.Prim) and e.rule is None:
            return s.target, []
        elif isinstance(e, ir.UserCall):
            return s.target, ir.names_in(e.args)
        elif isinstance(e, ir.Opaque):
            return s.target, list(e.reads) if e.kind == "boolop" else []
        return s.target, sorted(_operand_names(e))
    if isinstance(s, (ir.SetItem, ir.Append)):
        return s.target, ir.names_in([s.value])
    return None, []


def _assigned(body) -> set:
    out = set()
    for s in ir.walk(body):
        if isinstance(s, ir.Assign):
            out.add(s.target)
        elif isinstance(s, ir.Unpack):
            out.update(s.targets)
        elif isinstance(s, ir.ForRange):
            out.add(s.target)
    return out


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


def _deepcopy(node):
    import copy
    return copy.deepcopy(node)


class _PrimalRewriter(ast.NodeTransformer):
    """The user's function body with calls redirected to primals and free names made explicit."""

    def __init__(self, code: FunctionCode, probes: bool):
        self.code = code
        self.info = code.info
        self.probes = probes
        self.locals = code.norm.locals
        self.global_checks = _global_checks(code)

    # writes that may reach a module or closure array are checked here too: a checkpointed call
    # runs the primal, and the user's arrays must not be written before the AliasError
    def _checked(self, node):
        node = self.generic_visit(node)
        read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        checks = [ast.parse(f"_rt.check_alias({target}, {ref}, {message!r})").body[0]
                  for target, ref, message in self.global_checks.get(node.lineno, ()) if target in read]
        return [ast.copy_location(c, node) for c in checks] + [node] if checks else node

    visit_Assign = visit_AugAssign = visit_AnnAssign = visit_Expr = _checked

    def visit_Call(self, node):
        func = node.func
        obj = resolve_static(func, self.info, self.locals)
        if obj is not _NOT_FOUND and is_user_function(obj):
            key = self.code.program.key_of(obj)
            args = [self.visit(a) for a in node.args]
            kws = {k.arg: self.visit(k.value) for k in node.keywords}
            call_args = [args[v] if kind == "pos" else kws[v] if kind == "kw" else
                         ast.parse(self.code.program.constant_ref_default(obj, name, v), mode="eval").body
                         for name, kind, v in bind_call(obj, len(args), list(kws))]
            site = f"{self.info.name}:{node.lineno}:{obj.__name__}"
            if self.probes:
                new = ast.Call(ast.Attribute(ast.Name("_rt", ast.Load()), "probe_call", ast.Load()),
                               [ast.Name("_rec", ast.Load()), ast.Constant(site), ast.Constant("P"),
                                ast.Name(f"{key}_primal", ast.Load()), ast.Name("_c", ast.Load())] + call_args, [])
            else:
                new = ast.Call(ast.Name(f"{key}_primal", ast.Load()), [ast.Name("_c", ast.Load())] + call_args, [])
            return ast.copy_location(new, node)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node):
        obj = resolve_static(node, self.info, self.locals)
        if obj is not _NOT_FOUND:
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                base = resolve_static(root, self.info, self.locals)
                if isinstance(base, types.ModuleType) and id(base) in MODULE_TEXT:
                    text = ast.unparse(node)
                    text = MODULE_TEXT[id(base)] + text[len(root.id):]
                    return ast.copy_location(ast.parse(text, mode="eval").body, node)
            name = rules.canonical_name(obj) if callable(obj) else None
            if name:
                return ast.copy_location(ast.parse(name, mode="eval").body, node)
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        if node.id in self.locals or not isinstance(node.ctx, ast.Load):
            return node
        value = resolve_static(node, self.info, self.locals)
        if value is _NOT_FOUND:
            return node
        if isinstance(value, types.ModuleType) and id(value) in MODULE_TEXT:
            return ast.copy_location(ast.Name(MODULE_TEXT[id(value)], ast.Load()), node)
        import builtins
        if getattr(builtins, node.id, _NOT_FOUND) is value:
            return node
        if callable(value) and not isinstance(value, np.ndarray):
            name = rules.canonical_name(value)
            if name:
                return ast.copy_location(ast.parse(name, mode="eval").body, node)
        ref = self.code.program.constant_ref(self.info, node.id, value)
        return ast.copy_location(ast.parse(ref, mode="eval").body, node)


# -------------------------------------------------------------------------------------------------
# aliasing: writes into an array another live name (or a parameter) may share
# -------------------------------------------------------------------------------------------------

def _view_funcs():
    names = ["transpose", "reshape", "ravel", "squeeze", "expand_dims", "asarray", "asanyarray", "real", "imag",
             "swapaxes", "diagonal", "broadcast_to", "atleast_1d", "atleast_2d", "atleast_3d", "flip", "fliplr",
             "flipud", "moveaxis", "rollaxis"]
    out = {getattr(np, n) for n in names if hasattr(np, n)}
    out |= {np.ndarray.reshape, np.ndarray.transpose, np.ndarray.view, np.ndarray.squeeze, np.ndarray.ravel}
    return out


_VIEW_FUNCS = _view_funcs()


class AliasChecker:
    """Reject in-place writes whose effect another live name would see (its adjoint would be lost)."""

    def __init__(self, code: "FunctionCode", returns_fresh: dict):
        self.code = code
        self.returns_fresh = returns_fresh
        self.user_names = code.norm.user_names
        self.live_after: dict = {}
        self.contents: dict = {}        # container object -> objects it may hold
        self.sequences: set = set()     # objects that are lists or tuples built here
        self.mutated: set = set()       # parameters written in place (the caller's arrays)
        self.touched: set = set()       # parameters a write through another name may reach
        self.unsafe: set = set()        # (p, q): q (or a name that may share its memory) is read after
                                        # a write into parameter p, so their arguments must not overlap
        self.strict_mutated: set = set()  # ... by writes that happen whatever their type

    def run(self) -> bool:
        """Check the function; returns True when its result never shares memory with a parameter."""
        body = self.code.body
        self._live(body, set())
        self.bound_before: dict = {}
        _bound_before(body, frozenset(self.code.params), self.bound_before)
        self.checking = False          # a first pass collects what containers may hold
        self._pts_block(body, {p: frozenset({("param", p)}) for p in self.code.params})
        self.checking = True
        self._pts_block(body, {p: frozenset({("param", p)}) for p in self.code.params})
        self.code.touched = frozenset(self.touched)
        self.code.unsafe_pairs = frozenset(self.unsafe) | frozenset(
            (p, q) for p in self.mutated for q in self.mutated if p != q)
        ret = self.code.body[-1].value
        returned = self._pts(ret, self._final_env)
        returned |= self._held_deep(returned)     # `return out, s`: a fresh tuple may hold a parameter
        self.code.returned_globals = frozenset(obj for obj in returned if obj[0] == "global")
        return not any(obj[0] in ("param", "global") for obj in returned)

    # -- liveness ---------------------------------------------------------------------------------
    def _live(self, stmts, live_out: set) -> set:
        live = set(live_out)
        for s in reversed(stmts):
            if isinstance(s, ir.Assign):
                if isinstance(s.expr, ir.UserCall):
                    self.live_after[id(s)] = set(live)
                live = (live - {s.target}) | _stmt_reads(s)
            elif isinstance(s, ir.Unpack):
                live = (live - set(s.targets)) | set(ir.names_in([s.value]))
            elif isinstance(s, (ir.SetItem, ir.Append)):
                self.live_after[id(s)] = set(live)
                live |= _stmt_reads(s)
            elif isinstance(s, ir.If):
                live = self._live(s.body, live) | self._live(s.orelse, live) | set(ir.names_in([s.test]))
            elif isinstance(s, (ir.ForRange, ir.Loop)):
                extra = set(ir.names_in(s.range_args)) if isinstance(s, ir.ForRange) else set()
                entry = set(live)
                for _ in range(50):
                    new = self._live(s.body, live | entry) | live
                    if new == entry:
                        break
                    entry = new
                live = entry | extra
            else:
                live |= _stmt_reads(s)
        return live

    # -- points-to ---------------------------------------------------------------------------------
    def _pts_block(self, stmts, env: dict) -> dict:
        env = dict(env)
        for s in stmts:
            if isinstance(s, ir.Assign):
                if not s.aug_rebind:       # rebinding only happens to values that are not arrays
                    env[s.target] = self._transfer(s, env)
            elif isinstance(s, ir.Unpack):
                base = self._pts(s.value, env)
                inner = self._held(base)
                params = frozenset(o for o in base if o[0] == "param")
                for k, t in enumerate(s.targets):
                    # an entry of an entry stands for the entry itself (more sharing assumed, never less;
                    # keeps the objects finite when a loop unpacks what it unpacked before)
                    env[t] = inner | params | frozenset(o if o[0] == "elem" else ("elem", o, k) for o in base)
            elif isinstance(s, (ir.SetItem, ir.Append)):
                self._check_write(s, s.target, env)
                for obj in env.get(s.target, frozenset()):
                    self.contents[obj] = self.contents.get(obj, frozenset()) | self._pts(s.value, env)
            elif isinstance(s, ir.If):
                env = _union_env(self._pts_block(s.body, env), self._pts_block(s.orelse, env))
            elif isinstance(s, (ir.ForRange, ir.Loop)):
                checking = self.checking
                self.checking = False
                entry = dict(env)
                if isinstance(s, ir.ForRange):
                    entry[s.target] = frozenset()
                for _ in range(50):
                    new = _union_env(env, self._pts_block(s.body, entry))
                    if isinstance(s, ir.ForRange):
                        new[s.target] = frozenset()
                    if new == entry:
                        break
                    entry = new
                self.checking = checking
                if checking:
                    self._pts_block(s.body, entry)
                env = entry
        self._final_env = env
        return env

    def _held(self, objs) -> frozenset:
        """The objects the containers among ``objs`` may hold."""
        out = frozenset()
        for obj in objs:
            out |= self.contents.get(obj, frozenset())
        return out

    def _pts(self, atom, env):
        if isinstance(atom, ir.Name):
            return env.get(atom.id, frozenset())
        if isinstance(atom, ir.Const) and _GLOBAL_REF.fullmatch(atom.src):
            return frozenset({("global", atom.src)})     # an array of the module or a closure
        return frozenset()

    def _transfer(self, s, env):
        e = s.expr
        site = frozenset({("site", id(s))})
        if isinstance(e, ir.Copy):
            return self._pts(e.a, env)
        if isinstance(e, ir.GetItem):
            base = self._pts(e.a, env)
            return base | self._held(base) | site
        if isinstance(e, ir.Prim):
            if e.func in _VIEW_FUNCS and e.args:
                return self._pts(e.args[0], env) | site
            return site
        if isinstance(e, ir.UserCall):
            callee = self.code.program.functions[e.callee]
            if self.checking:
                _, known = self.code.call_params.get(id(s), (e.callee, [set() for _ in e.args]))
                for k, atom in enumerate(e.args):
                    known[k] |= self._params_in(self._pts(atom, env))
                self.code.call_params[id(s)] = (e.callee, known)
            for param, atom in zip(callee.params, e.args):
                if param in callee.touched and isinstance(atom, ir.Name):
                    self.touched.update(obj[1] for obj in env.get(atom.id, ()) if obj[0] == "param")
                    self._check_entries(s, callee, param, atom.id, env)
                if param in getattr(callee, "mutated", ()):
                    if not isinstance(atom, ir.Name):
                        raise self._nonlocal_write(s, callee, param, atom)
                    self._check_write(s, atom.id, env, deferred=param in callee.maybe_mutated)
            if self.returns_fresh.get(e.callee, False):
                return site
            out = site | callee.returned_globals
            for a in e.args:
                out |= self._pts(a, env)
            return out
        if isinstance(e, ir.BinOp) and e.op in (ast.Add, ast.Mult):
            # `acc + [v]`, `acc * 2` on lists: a new list holding the same arrays as the operands; `a + b` of
            # two parameters may be one too (what the caller passes decides)
            pts_a, pts_b = self._pts(e.a, env), self._pts(e.b, env)
            operands = pts_a | pts_b
            two_params = e.op is ast.Add and all(isinstance(x, ir.Name) and len(pts) == 1 and next(iter(pts))[0] == "param"
                                                 for x, pts in ((e.a, pts_a), (e.b, pts_b)))
            if operands & self.sequences or two_params:
                key = ("site", id(s))
                self.sequences.add(key)
                self.contents[key] = self.contents.get(key, frozenset()) | operands | self._held(operands)
            return site
        if isinstance(e, ir.Opaque):
            # an inactive expression may be a view of a module or closure array (W[1:], W.T)
            return site | frozenset(("global", m.group(0)) for m in _GLOBAL_REF.finditer(e.src))
        if isinstance(e, (ir.Build, ir.BuildDict)):
            inner = frozenset()
            for a in (e.elts if isinstance(e, ir.Build) else e.values):
                inner |= self._pts(a, env)
            key = ("site", id(s))
            self.contents[key] = self.contents.get(key, frozenset()) | inner
            if isinstance(e, ir.Build):
                self.sequences.add(key)
            return site
        return site

    def _held_deep(self, objs) -> frozenset:
        """The objects containers ``objs`` may hold, at any depth."""
        out, todo = frozenset(), objs
        for _ in range(4):
            todo = self._held(todo) - out
            if not todo:
                break
            out |= todo
        return out

    def _check_entries(self, s, callee, param, name, env):
        """A callee writes into arrays its container argument ``name`` holds: none of them may be
        the caller's own argument, or an array another live name still reads."""
        if not self.checking:
            return
        held = self._held_deep(env.get(name, frozenset()))
        if not held:
            return
        checks = self.code.entry_checks.setdefault(id(s), [])
        info, fname = self.code.info, callee.info.name
        what = f"{fname}() writes into the arrays held in `{name}` (its parameter `{param}`)"
        for p in sorted(self._params_in(held)):
            ref = p if p not in self.code.assigned_strict else self.code.entry_ref(p)
            self.touched.add(p)
            err = info.error(f"{what}, and one of them is the argument `{p}` of {self.code.info.name}(): "
                             "nbadjoint does not write into its caller's arrays through another name",
                             lineno=s.line, hint=f"put a copy in `{name}`, e.g. {p}.copy()")
            checks.append((name, ref, str(err)))
        for other in sorted(self.live_after.get(id(s), ())):
            if other in (name, s.target) or other not in self.user_names:
                continue
            if self._conflict(env.get(other, frozenset()), held) or self._conflict(held, env.get(other, frozenset())):
                if other not in self.bound_before.get(id(s), ()):
                    self.code.maybe_unbound.add(other)
                err = info.error(f"{what}, and one of them is `{other}` (or shares its memory), which is used "
                                 "afterwards; the adjoint would miss that dependence",
                                 lineno=s.line, hint=f"put a copy in `{name}`, e.g. {other}.copy()")
                checks.append((name, other, str(err)))
        if not checks:
            del self.code.entry_checks[id(s)]

    def _nonlocal_write(self, s, callee, param, atom):
        """The error for a callee writing into an argument that is no local variable."""
        name = _global_name(atom.text())
        if name:
            return self.code.info.error(
                f"{callee.info.name}() writes into its parameter `{param}`, and the argument `{name}` is a global "
                "or closure variable: differentiated code never writes into those", lineno=s.line,
                hint=f"pass a local copy, e.g. {name.lower()}_local = {name}.copy()")
        return self.code.info.error(f"{callee.info.name}() writes into its parameter `{param}`: "
                                    "pass it a variable, not an expression", lineno=s.line)

    def _check_write(self, s, target, env, deferred=None):
        if not self.checking:
            return
        if deferred is None:
            deferred = getattr(s, "aug", False)
        self._check_write_now(s, target, env, deferred, exclude=getattr(s, "exclude", ()))

    def _check_write_now(self, s, target, env, deferred=False, exclude=()):
        objs = env.get(target, frozenset())
        info = self.code.info
        own_param = target in self.code.params and target not in self.code.assigned_strict \
            and objs == frozenset({("param", target)})
        what = self._describe(target)
        checks = self.code.alias_checks.setdefault((id(s), target), [])

        def check(other_ref, other_name, hint, reason=None):
            if other_ref == other_name and other_name not in self.bound_before.get(id(s), ()):
                self.code.maybe_unbound.add(other_name)   # None until bound: a check of None passes
            reason = reason or (f"writing into {what} also changes `{other_name}`, which shares its memory and is "
                                "used afterwards; the adjoint would miss that dependence")
            err = info.error(reason, lineno=s.line, hint=hint)
            if all(ref != other_ref for ref, _ in checks):
                checks.append((other_ref, str(err)))

        def objs_of(name):       # a name excluded from the check still holds the parameter itself
            return env.get(name, frozenset())

        if own_param:
            self.mutated.add(target)      # the caller's array is written: callers snapshot it
            for name in self.live_after.get(id(s), ()):
                self.unsafe.update((target, q) for q in self._params_in(env.get(name, frozenset())) if q != target)
            if not deferred:
                self.strict_mutated.add(target)
        else:
            self.touched.update(obj[1] for obj in objs if obj[0] == "param")
            for obj in sorted(objs, key=repr):
                if obj[0] == "param" and not (obj[1] in exclude and objs_of(obj[1]) == {obj}):
                    p = obj[1]
                    ref = p if p not in self.code.assigned_strict else self.code.entry_ref(p)
                    check(ref, p, *self._param_write_text(target, p, what, objs))
        for obj in sorted(objs, key=repr):
            if obj[0] == "global":
                name = _global_name(obj[1])
                label = f"`{name}`" if name else "it was taken from"
                check(obj[1], name, "work on a copy, e.g. " + (f"{name.lower()}_local = {name}.copy()" if name
                                                              else f"{target} = {target}.copy()"),
                      reason=f"writing into {what} also changes the module or closure array {label}: "
                             "differentiated code never writes into those (its adjoint would miss the write)")
        rebound = s.target if isinstance(s, ir.Assign) else None    # its old value is not used again
        for name in sorted(self.live_after.get(id(s), ())):
            if name in (target, rebound) or name not in self.user_names or name in exclude:
                continue
            if self._conflict(env.get(name, frozenset()), objs):
                # may share: checked when the write happens (a float taken from an array shares nothing)
                check(name, name, f"make one of them a copy, e.g. {name} = {name}.copy()")
        if not checks:
            del self.code.alias_checks[(id(s), target)]

    def _param_write_text(self, target, p, what, objs):
        """(hint, reason) of the run-time check of a write that may reach the caller's array
        passed for parameter ``p``."""
        fname = self.code.info.name
        if target == p and objs == frozenset({("param", p)}):
            # the parameter itself, in a function that rebinds its name elsewhere
            return (f"give the new value another name (e.g. {p}_new = ...), or start from a copy: {p} = {p}.copy()",
                    f"{fname}() writes into its parameter `{p}` (the caller's array) and also rebinds the name "
                    f"`{p}`: nbadjoint follows a write into the caller's array only through a parameter name "
                    "that is never rebound")
        hint = (f"work on a copy, e.g. {target} = {target}.copy(), or write into `{p}` itself"
                if target in self.user_names else
                f"work on copies, e.g. {p} = {p}.copy() for an array, {p} = [v.copy() for v in {p}] for a list")
        return (hint, f"writing into {what} also changes `{p}` as the caller passed it to {fname}(): nbadjoint "
                      "does not write into its caller's arrays through another name")

    def _params_in(self, objs) -> set:
        """The parameters whose arguments objects ``objs`` may be (or be entries of)."""
        out = set()
        for obj in list(objs) + list(self._held(objs)):
            while obj[0] == "elem":
                obj = obj[1]
            if obj[0] == "param":
                out.add(obj[1])
        return out

    def _describe(self, name) -> str:
        """How a message names what is written: the user's variable, or the expression of a temporary."""
        if name in self.user_names:
            return f"`{name}`"
        for st in ir.walk(self.code.body):
            if isinstance(st, ir.Assign) and st.target == name and isinstance(st.expr, ir.GetItem):
                return f"`{self._describe(st.expr.a.text()).strip('`')}[{st.expr.index.src}]`"
        return "an argument"

    def _conflict(self, a, b) -> bool:
        if _conflict(a, b):
            return True
        for obj in a:                      # a container that holds one of b's objects
            held = self.contents.get(obj)
            if held and _conflict(held, b):
                return True
        return False


def _conflict(a, b) -> bool:
    """May objects ``a`` and ``b`` share memory? ("elem", o, k) is entry k of container o."""
    if a & b:
        return True
    for x, y in ((a, b), (b, a)):
        for obj in x:
            if obj[0] == "elem":
                if obj[1] in y:
                    return True
                if any(o[0] == "elem" and o[1] == obj[1] and (o[2] == obj[2] or "*" in (o[2], obj[2]))
                       for o in y):
                    return True
    return False


def _global_checks(code) -> dict:
    """line -> [(user's name written, module or closure array, message)] of the run-time alias
    checks of ``code`` against arrays that are not the function's own."""
    out: dict = {}
    lines = {id(st): st.line for st in ir.walk(code.body)}
    for (sid, target), checks in code.alias_checks.items():
        if target not in code.norm.user_names:
            continue
        for ref, message in checks:
            if _GLOBAL_REF.fullmatch(ref):
                out.setdefault(lines.get(sid), []).append((target, ref, message))
    return out


_GLOBAL_REF = re.compile(r"_(?:G\d+|C_\w+)\['(\w+)'\]|_K\[\d+\]")


def _global_name(ref: str) -> str:
    """The user's name of a module or closure variable from its reference in generated code."""
    found = _GLOBAL_REF.fullmatch(ref)
    return found.group(1) if found and found.group(1) else ""


def _bound_before(stmts, bound: frozenset, out: dict) -> frozenset:
    """Record in ``out`` (statement id -> names) the names certainly bound before each statement
    runs; returns those certainly bound after the block."""
    for s in stmts:
        out[id(s)] = bound
        if isinstance(s, ir.If):
            bound = _bound_before(s.body, bound, out) & _bound_before(s.orelse, bound, out)
        elif isinstance(s, ir.ForRange):
            _bound_before(s.body, bound | {s.target}, out)      # the body may not run at all
        elif isinstance(s, ir.Loop):
            _bound_before(s.body, bound, out)                   # it may exit before any name is bound
        else:
            bound = bound | frozenset(ir.defined(s))
    return bound


def _sharing_links(st) -> list:
    """(name, name) pairs statement ``st`` may leave sharing memory (or one holding the other)."""
    if isinstance(st, ir.Unpack):
        return [(t, n) for t in st.targets for n in ir.names_in([st.value])]
    if isinstance(st, (ir.SetItem, ir.Append)):
        return [(st.target, n) for n in ir.names_in([st.value])]
    if not isinstance(st, ir.Assign):
        return []
    e = st.expr
    if isinstance(e, (ir.Copy, ir.GetItem)):
        names = ir.names_in([e.a])
    elif isinstance(e, ir.Prim):
        names = ir.names_in(e.args[:1]) if e.func in _VIEW_FUNCS or e.method else []
    elif isinstance(e, ir.UserCall):
        names = ir.names_in(e.args)
    elif isinstance(e, ir.Build):
        names = ir.names_in(e.elts)
    elif isinstance(e, ir.BuildDict):
        names = ir.names_in(e.values)
    else:
        names = []
    return [(st.target, n) for n in names]


def _union_env(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, frozenset()) | v
    return out


def _stmt_reads(s) -> set:
    if isinstance(s, ir.Assign):
        e = s.expr
        if isinstance(e, ir.Opaque):
            return set(e.reads)
        if isinstance(e, ir.GetItem):
            return set(ir.names_in([e.a])) | set(e.index.reads)
        if isinstance(e, ir.UserCall):
            return set(ir.names_in(e.args))
        return _operand_names(e)
    if isinstance(s, ir.SetItem):
        return {s.target} | set(s.index.reads) | set(ir.names_in([s.value]))
    if isinstance(s, ir.Append):
        return {s.target} | set(ir.names_in([s.value]))
    if isinstance(s, ir.Effect):
        return set(s.reads)
    if isinstance(s, ir.LoopExit):
        return set(ir.names_in([s.test]))
    if isinstance(s, ir.Return):
        return set(ir.names_in([s.value]))
    return set()
