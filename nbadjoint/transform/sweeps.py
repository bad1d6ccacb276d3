"""The forward and backward sweeps of one user function, built as trees and printed once.

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

Each sweep is a list of ``ast`` statements (see sweep_ast.py); nothing here reads generated code
back as text.
"""

from __future__ import annotations

import ast
import re
import textwrap

from . import cleanup, cleanup_exprs, cleanup_none, ir, shapes
from .plans import _OLD
from .templates import clone
from .sweep_calls import CallSweeps
from .sweep_loops import LoopSweeps
from .sweep_state import DEAD, LIVE, UNKNOWN, _const, _int_literal, _merge, _name, _single_index
from .sweep_ast import LIMIT, Comment, expr as E, if_, stmt as S

_AST_OP = {ast.Add: ast.Add, ast.Sub: ast.Sub, ast.Mult: ast.Mult, ast.Div: ast.Div, ast.Pow: ast.Pow,
           ast.MatMult: ast.MatMult, ast.FloorDiv: ast.FloorDiv, ast.Mod: ast.Mod}
_AST_UNARY = {ast.USub: ast.USub, ast.UAdd: ast.UAdd}


class SweepBuilder(LoopSweeps, CallSweeps):
    """Builds the forward and backward sweeps of one analysed function (a FunctionCode)."""

    def __init__(self, code, probes: bool, spec: bool = False, suffix: str = ""):
        self.code = code
        self.probes = probes
        self.spec = spec               # the guards of code.shapes hold (the specialised body)
        self.suffix = suffix           # of the sweeps' names ("_general" for the general body)
        self.tmp_counter = 0
        self.used = set(code.used_names)
        self._dense: set = set()       # lists whose adjoint entries are known to be numbers (see _dense_lists)
        self._fresh_each_iteration: set = set()   # adjoints that need no reset after use (see _emit_for)
        self._owned: set = set()       # names whose adjoint is a list only this loop touches (see _emit_for)
        self.fwd_def = self.bwd_def = None
        self.passes_live: dict = {}    # callee key -> every call of it gets an adjoint that is not None
        self.returns_live: tuple = ()  # per parameter: its adjoint is certainly not None at the end
        self.specialised = False       # the guards removed a shape marker or a float test

    def build(self, tidy_trees: bool = True):
        """Build the two sweeps as ``ast.FunctionDef`` nodes (``self.fwd_def``, ``self.bwd_def``);
        ``tidy_trees=False`` skips the cleanup passes (for analyses that read only the state)."""
        code = self.code
        fwd_body, bwd_body, state = self._emit_block(code.body, {}, top=True)
        self.returns_live = tuple(state.get(p) == LIVE and p not in code.maybe_mutated and p in code.active
                                  for p in code.params)
        self.fwd_def = self._fwd_def(fwd_body)
        self.bwd_def = self._bwd_def(bwd_body, state)
        if tidy_trees:
            for fdef in (self.fwd_def, self.bwd_def):
                tidy(fdef, *code.generated_adjoints(), backward=fdef is self.bwd_def)
        return self

    def _marker_free(self, operands, target) -> bool:
        """In the specialised body: every operand has the shape of the result (no marker needed)."""
        return self.spec and self.code._marker_free(operands, target)

    def _known_shape(self, operand, target):
        """In the specialised body: "same" when ``operand`` has the shape of ``target``, "scalar"
        when it is a scalar (a contribution sums to one), None when the guards do not tell."""
        if not self.spec:
            return None
        if self.code._marker_free([operand], target):
            return "same"
        if self.code.shapes.rank0(ir.Name(operand)):
            return "scalar"
        return None

    def _number_like(self, name) -> bool:
        """In the specialised body: ``name`` holds a number or an array, so do its adjoint and
        contributions to it (they add with ``+``, never as containers)."""
        return self.spec and self.code.shapes.shape_class(ir.Name(name)) is not None

    def _array_like(self, name) -> bool:
        """In the specialised body: ``name`` holds an array (its adjoint is never a float)."""
        if not self.spec:
            return False
        cls = self.code.shapes.shape_class(ir.Name(name))
        return cls is not None and cls != "()"

    def _def(self, name, params, doc, body):
        args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], vararg=None, kwonlyargs=[],
                             kw_defaults=[], kwarg=None, defaults=[])
        doc = "\n    ".join(textwrap.wrap(doc, 92)) if "\n" not in doc else doc
        return ast.FunctionDef(name, args, [ast.Expr(ast.Constant(doc))] + body, [], None)

    def _fwd_def(self, body: list):
        code = self.code
        out = [S("_push = _c.tape.append")]
        if code.sites:
            out.append(S("_ck = _c.ck"))
            if self.probes:
                out.append(S("_rec = _c.rec"))
        for p, ref in code.entry_refs.items():
            out.append(S("{r} = {p}", r=ref, p=p, comment=f"checked against writes that may reach the caller's {p}"))
        inits = [n for n in code.needed_locals if n not in code.params and n not in code.first_def_names]
        inits += sorted(n for n in code.maybe_unbound if n not in inits and n not in code.params)
        out += _none_inits(inits)
        out += body
        for n in code.needed_locals:
            out.append(S("_push({n})", n=n))
        if code.split and not code._flag_is_recomputed():
            out.append(S("_push({v})", v=_const(self.spec)))       # which body ran, for the backward sweep
        out.append(ast.Return(ir.node(code.ret)))
        if self.suffix:
            doc = f"Forward sweep of {code.info.name} where its guards fail (see {code.key}_fwd)."
        else:
            doc = f"Forward sweep of {code.info.name}: runs it and tapes what {code.key}_bwd reads."
        return self._def(f"{code.key}_fwd{self.suffix}", ["_c"] + list(code.params), doc, out)

    def _bwd_def(self, body: list, state):
        code = self.code
        incoming = [code.adj(p) + ("_in" if p in code.maybe_mutated else "") for p in code.mutated]
        doc = (f"Backward sweep of {code.info.name}: pops the tape of {code.key}_fwd and returns the "
               "adjoints of its parameters.")
        if code.mutated:
            doc += ("\n\n    It writes into " + ", ".join(code.mutated) + f": {', '.join(code.adj(p) for p in code.mutated)} "
                    "come in as the adjoints after the call\n    and go out as the adjoints before it.")
        out = [S("_pop = _c.tape.pop")]
        if code.sites:
            out.append(S("_ck = _c.ck"))
            if self.probes:
                out.append(S("_rec = _c.rec"))
        for n in reversed(code.needed_locals):
            out.append(S("{n} = _pop()", n=n))
        for st in code.prologue:
            out.append(S("{t} = {v}", t=st.target, v=self._render_expr(st.expr), comment="recomputed, not taped"))
        adjs = sorted({code.adj(n) for n in code.active | set(code.params)} -
                      {code.adj(p) for p in code.mutated if p not in code.maybe_mutated})
        out += _none_inits(adjs)
        for p in code.mutated:
            if p in code.maybe_mutated:
                # `p op= v` wrote into p only if it is an array; otherwise the caller's adjoint passes through
                out.append(if_(E("{p}.__class__ is np.ndarray", p=p),
                               [S("{a}, {a_in} = {a_in}, None", a=code.adj(p), a_in=code.adj(p) + "_in")]))
        if isinstance(code.ret, ir.Name) and code.ret.id in code.active:
            r = code.adj(code.ret.id)
            out.append(S("{r} = _rt.add({r}, _rv_b)", r=r) if code.ret.id in code.mutated else S("{r} = _rv_b", r=r))
        out += body
        rets = [E("_rt.add({a}, {a_in})", a=code.adj(p), a_in=code.adj(p) + "_in") if p in code.maybe_mutated
                else _const(None) if state.get(p, DEAD) == DEAD and p not in code.mutated
                else _name(code.adj(p)) for p in code.params]
        out.append(ast.Return(ast.Tuple(rets, ast.Load())))
        if self.suffix:
            doc = f"Backward sweep of {code.info.name} where its guards fail (see {code.key}_bwd)."
        return self._def(f"{code.key}_bwd{self.suffix}", ["_c", "_rv_b"] + list(code.params) + incoming, doc, out)

    def _emit_block(self, stmts, state_after, top=False):
        """Emit forward and backward statements for a block.

        ``state_after`` is the adjoint state at the END of the block (the start of its backward
        sweep); returns (fwd, bwd, state at the start of the block).
        """
        code = self.code
        if top:
            state_after = {n: DEAD for n in code.active}
            for p in code.mutated:
                if p in code.active:
                    state_after[p] = UNKNOWN
            if isinstance(code.ret, ir.Name) and code.ret.id in code.active:
                state_after[code.ret.id] = LIVE if code.rv_live else UNKNOWN
        fwd_parts = [s for s in stmts if not isinstance(s, ir.Return)]
        # backward: reverse order, state flows backwards
        state = dict(state_after)
        bwd_chunks, fwd_chunks = [], []
        for s in reversed(fwd_parts):
            f, b, state = self._emit_stmt(s, state)
            fwd_chunks.append(f)
            bwd_chunks.append(b)
        fwd = self._join(zip(reversed(fwd_chunks), fwd_parts), "")
        bwd = self._join(zip(bwd_chunks, reversed(fwd_parts)), "adjoint of ")
        return fwd, bwd, state

    def _join(self, chunks, prefix: str) -> list:
        """The chunks in order, each run of statements from one source line under a comment quoting it."""
        out = []
        last_line = None
        for stmts, s in chunks:
            if not stmts:
                continue
            if isinstance(s, (ir.If, ir.ForRange, ir.Loop)):
                last_line = None
            elif s.line != last_line:
                out.append(Comment(prefix + self._line_comment(s.line)))
                last_line = s.line
            out.extend(stmts)
        return out

    def _line_comment(self, line):
        text = self.code.info.line_text(line).strip()
        if len(text) > 60:
            text = text[:57].rstrip() + "..."
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
            return ir.stmt_nodes(s.src), [], state
        if isinstance(s, ir.If):
            return self._emit_if(s, state)
        if isinstance(s, ir.ForRange):
            return self._emit_for(s, state)
        if isinstance(s, ir.Loop):
            return self._emit_loop(s, state)
        if isinstance(s, ir.LoopExit):
            return [if_(ir.node(s.test), [ast.Break()])], [], state
        raise AssertionError(f"unexpected statement {s!r}")

    def _render_expr(self, expr) -> ast.expr:
        """The primal expression of an IR right-hand side."""
        if isinstance(expr, ir.Copy):
            return ir.node(expr.a)
        if isinstance(expr, ir.BinOp):
            return ast.BinOp(ir.node(expr.a), _AST_OP[expr.op](), ir.node(expr.b))
        if isinstance(expr, ir.UnOp):
            return ast.UnaryOp(_AST_UNARY[expr.op](), ir.node(expr.a))
        if isinstance(expr, ir.Prim):
            args = [ir.node(a) for a in expr.args]
            keywords = [ast.keyword(k, ir.node(a)) for k, a in expr.kwargs.items()]
            if expr.method:
                return ast.Call(ast.Attribute(args[0], expr.method, ast.Load()), args[1:], keywords)
            return ast.Call(ir.src_node(expr.name), args, keywords)
        if isinstance(expr, ir.GetItem):
            if expr.index.attr:
                return ast.Attribute(ir.node(expr.a), expr.index.attr, ast.Load())
            return ast.Subscript(ir.node(expr.a), ir.slice_node(expr.index), ast.Load())
        if isinstance(expr, ir.Build):
            elts = [ir.node(a) for a in expr.elts]
            return ast.Tuple(elts, ast.Load()) if expr.kind == "tuple" else ast.List(elts, ast.Load())
        if isinstance(expr, ir.BuildDict):
            return ast.Dict([ir.src_node(k) for k in expr.keys], [ir.node(v) for v in expr.values])
        if isinstance(expr, ir.Opaque):
            return ir.src_node(expr.src)
        raise AssertionError(expr)

    def _emit_assign(self, s, state):
        code = self.code
        expr = s.expr
        f, b = [], []
        pushes = s.target in code.needed and id(s) not in code.first_defs
        if isinstance(expr, ir.UserCall):
            return self._emit_call(s, state, f, b, pushes)
        if pushes:
            f.append(S("_push({t})", t=s.target))
        plan = code.plans[id(s)]
        bmarkers, smarkers = {}, {}
        # markers: shapes of operands the backward sweep does not keep
        for (name, _, mode) in plan.contribs:
            if mode == "bplus" and name not in code.needed and not code._free(name) and name not in bmarkers \
                    and self._known_shape(name, s.target) is None:
                bmarkers[name] = self.tmp("_m")
        for n in sorted(plan.shape_only):
            if n == _OLD:
                # the shape of the target's old value: read from the old value itself when it is
                # kept, else from a marker taken before the name is rebound
                if not pushes:
                    smarkers[n] = self.tmp("_m")
            elif n not in code.needed and not code._free(n):
                smarkers[n] = self.tmp("_m")
        result = s.target
        meta_of_old = plan.getitem == s.target and s.target not in code.needed and not code._free(s.target)
        if s.target in bmarkers or s.target in smarkers or _OLD in smarkers or meta_of_old:
            # the old value's shape is taken before the name is rebound
            result = self.tmp("_n")
        f.append(S("{r} = {v}", r=result, v=self._render_expr(expr)))
        getitem_meta = None
        if plan.getitem is not None and plan.getitem not in code.needed and not code._free(plan.getitem):
            getitem_meta = self.tmp("_m")
        bm = None
        push = None
        if len(bmarkers) == 1:
            (name, bm), = bmarkers.items()
            push = S("_push(None if {r}.__class__ is float else _rt.bshape({n}, {r}))", r=result, n=name)
        elif bmarkers:
            bm = self.tmp("_m")
            marks = ast.Tuple([E("_rt.bshape({n}, {r})", n=name, r=result) for name in bmarkers], ast.Load())
            push = S("_push(None if {r}.__class__ is float else {m})", r=result, m=marks)
        if push is not None:
            f.append(push)
        for name, m in smarkers.items():
            f.append(S("_push(_vjp.shape_of({n}))", n=s.target if name == _OLD else name))
        if getitem_meta and meta_of_old:
            f.append(S("_push(_rt.meta({n}))", n=plan.getitem))
        if result != s.target:
            f.append(S("{t} = {r}", t=s.target, r=result))
        if getitem_meta and not meta_of_old:
            f.append(S("_push(_rt.meta({n}))", n=plan.getitem))
        # backward
        if getitem_meta:
            b.append(S("{m} = _pop()", m=getitem_meta))
        for name, m in reversed(list(smarkers.items())):
            b.append(S("{m} = _pop()", m=m))
        # in a loop variant that runs only when the guards hold, skipped markers are simply absent
        if bm is not None:
            b.append(S("{m} = _pop()", m=bm))
        g = code.adj(s.target)
        tstate = state.get(s.target, DEAD) if s.target in code.active else DEAD
        new_state = dict(state)
        old = None
        operands = ir.operands(expr) if not isinstance(expr, ir.Opaque) else set()
        if pushes and s.target in operands:
            old = self.tmp("_o")
            b.append(S("{o} = _pop()", o=old))
        body = []
        if tstate != DEAD and (plan.contribs or plan.getitem is not None):
            inner_state = dict(state)
            contribs = []
            split = [c for c in plan.contribs if c[2] == "split"]
            if split:
                parts = self.tmp("_e")
                if isinstance(expr, ir.BuildDict):
                    keys = ast.Tuple([ir.src_node(k) for k in expr.keys], ast.Load())
                    body.append(S("{p} = _rt.dict_b({g}, {k})", p=parts, g=g, k=keys))
                else:
                    body.append(S("{p} = _rt.container_b({g}, {n})", p=parts, g=g, n=_const(len(expr.elts))))
            for (name, text, mode) in _merge_repeated(expr, plan.contribs):
                if mode == "split":
                    contribs.append((name, E("{p}[{k}]", p=parts, k=_const(text)), "add"))
                    continue
                if old is not None:
                    text = cleanup.ReplaceReads(_OLD, ast.Name(old, ast.Load())).visit(clone(text))
                text = _subst_markers(text, smarkers)
                known = self._known_shape(name, s.target) if mode == "bplus" else None
                if known is not None:
                    self.specialised = True          # no marker, no float test: the guards tell
                if known == "same":
                    mode = "plus"
                elif known == "scalar":
                    text, mode = E("_rt.summed({t})", t=text), "plus"
                elif mode == "add" and not _maybe_none(text):
                    mode = "plus" if self._number_like(name) else "set"
                elif mode == "bplus":
                    seq = _seq_side(expr, name, contribs)
                    if name in bmarkers:
                        m = _name(bmarkers[name]) if len(bmarkers) == 1 else \
                            E("{bm}[{k}]", bm=bm, k=_const(list(bmarkers).index(name)))

                        def ub(marker):
                            if seq in ("l", "r"):
                                return E("_vjp.ub_seq({t}, {m}, {s})", t=text, m=marker, s=_const(seq))
                            return E("_rt.ub({t}, {m})", t=text, m=marker)
                        text = E("{t} if {bm} is None else {u}", t=text, bm=bm, u=ub(m)) if _is_short(text) \
                            else ub(_name(bm) if len(bmarkers) == 1 else E("{bm} and {m}", bm=bm, m=m))
                    else:
                        src = old if (name == s.target and old) else name
                        ubl = E("_vjp.ubl_seq({t}, {x}, {s})", t=text, x=src, s=_const(seq)) if seq \
                            else E("_rt.ubl({t}, {x})", t=text, x=src)
                        text = E("{t} if {g}.__class__ is float else {u}", t=text, g=g, u=ubl) \
                            if _is_short(text) and not self._array_like(s.target) else ubl
                        self.specialised |= _is_short(text) and self._array_like(s.target)
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
                ab = code.adj(base)
                index_value = ir.src_node(expr.index.value)
                if expr.index.attr:
                    # an object's attribute: its adjoint is a dict by attribute (a namedtuple's, by entry)
                    like = getitem_meta or (old if base == s.target else base)
                    body.append(S("{ab} = _rt.getattr_b({x}, {like}, {i}, {g})", ab=ab, like=like, i=index_value, g=g,
                                  x=_const(None) if base == s.target else ab))
                    inner_state[base] = UNKNOWN
                    handled = base == s.target
                elif base == s.target:
                    like = getitem_meta or old
                    body.append(S("{ab} = _rt.getitem_b(None, {like}, {i}, {g})", ab=ab, like=like, i=index_value, g=g))
                    inner_state[base] = UNKNOWN
                    handled = True
                else:
                    like = getitem_meta or base
                    idx = expr.index.src
                    entry = E("{ab}[{i}]", ab=ab, i=ir.slice_node(expr.index))
                    if base in self._owned:
                        # a list of this loop's own (see _emit_for), at an int index
                        old_entry = self.tmp("_e")
                        body.append(S("{e} = {g} if ({o} := {e}) is None else {o} + {g}", e=entry, g=g, o=old_entry))
                    elif _single_index(expr.index):
                        # a list of floats read entry by entry: add into the list in place when nothing
                        # else refers to it (the common case), else through the general helper
                        test = E("_rt.sole_list({ab})", ab=ab)
                        if not _int_literal(idx) and not code._certainly_int(idx):
                            test = E("{t} and {i}.__class__ is int", t=test, i=ir.slice_node(expr.index))
                        old_entry = self.tmp("_e")
                        body.append(if_(test, [S("{o} = {e}", o=old_entry, e=entry),
                                               S("{e} = {g} if {o} is None else {o} + {g}", e=entry, g=g, o=old_entry)],
                                        [S("{ab} = _rt.getitem_b({ab}, {like}, {i}, {g})", ab=ab, like=like,
                                           i=index_value, g=g)]))
                    else:
                        body.append(S("{ab} = _rt.getitem_b({ab}, {like}, {i}, {g})", ab=ab, like=like, i=index_value, g=g))
                    inner_state[base] = LIVE if inner_state.get(base) == LIVE else UNKNOWN
            if self_parts:
                total = self_parts[0][1]
                for _, t, _ in self_parts[1:]:
                    total = ast.BinOp(total, ast.Add(), t)
                body.append(S("{g} = {v}", g=g, v=total))
                inner_state[s.target] = LIVE if all(m != "add" for _, _, m in self_parts) else UNKNOWN
            elif not handled:
                if self._reread(s.target):
                    body.append(S("{g} = None", g=g))
                inner_state[s.target] = DEAD
            if tstate == UNKNOWN:
                b.append(if_(E("{g} is not None", g=g), body))
                new_state = _merge(inner_state, state)
                if not self_parts and not handled:
                    new_state[s.target] = DEAD
            else:
                b.extend(body)
                new_state = inner_state
        elif s.target in code.active and tstate != DEAD:
            if self._reread(s.target):
                b.append(S("{g} = None", g=g))
            new_state[s.target] = DEAD
        if pushes:
            b.append(S("{t} = {o}", t=s.target, o=old) if old is not None else S("{t} = _pop()", t=s.target))
        return f, b, new_state

    def _reread(self, name) -> bool:
        """Can the adjoint of ``name`` be read again after its definition is reversed?"""
        if name in self._fresh_each_iteration:
            return False
        return self.code.def_counts.get(name, 0) != 1 or name in self.code.loop_defined

    def _accumulate(self, body: list, state, name, text, mode):
        ab = self.code.adj(name)
        st = state.get(name, DEAD)
        if mode in ("add", "set"):
            # "add": text may be None; "set": it is not, but may be a container (added entry by entry)
            if st == DEAD:
                body.append(S("{a} = {t}", a=ab, t=text))
                state[name] = UNKNOWN if mode == "add" else LIVE
            else:
                body.append(S("{a} = _rt.add({a}, {t})", a=ab, t=text))
                if mode == "set":
                    state[name] = LIVE
            return
        # "plus": text is certainly not None
        if st == DEAD:
            body.append(S("{a} = {t}", a=ab, t=text))
        elif st == LIVE:
            body.append(S("{a} = {a} + {t}", a=ab, t=text))
        else:
            body.append(S("{a} = {t} if {a} is None else {a} + {t}", a=ab, t=text) if _is_simple(text)
                        else S("{a} = _rt.add({a}, {t})", a=ab, t=text))
        state[name] = LIVE

    def _emit_setitem(self, s, state):
        code = self.code
        f, b = [], []
        self._emit_alias_checks(f, s, s.target)
        plan = code.plans[id(s)]
        index_value = ir.src_node(s.index.value)
        undo = s.target not in code.no_undo
        attr = s.index.attr
        self._emit_own_entry_check(f, s)
        if undo:
            f.append(S("_push(_rt.old_attr({t}, {i}))" if attr else "_push(_rt.old_item({t}, {i}))",
                       t=s.target, i=index_value))
        contributes = bool(plan.contribs)
        marker = None
        # in the specialised body, a number written into a list of numbers needs no shape marker
        scalar_write = contributes and self.spec and self.code.shapes.types.get(s.target) in shapes._SEQUENCES \
            and self.code.shapes.rank0(s.value)
        scalar_write = scalar_write or (contributes and bool(attr))     # (an attribute holds the value as it is)
        if contributes and not scalar_write:
            marker = self.tmp("_m")
            f.append(S("_push(_rt.write_shape({t}, {v}))", t=s.target, v=ir.node(s.value)))
        if attr and s.index.frozen:
            f.append(S("_rt.set_field({t}, {i}, {v})", t=s.target, i=index_value, v=ir.node(s.value)))
        elif attr:
            f.append(ast.Assign([ast.Attribute(_name(s.target), attr, ast.Store())], ir.node(s.value)))
        else:
            f.append(S("{t}[{i}] = {v}", t=s.target, i=ir.slice_node(s.index), v=ir.node(s.value)))
        new_state = dict(state)
        if marker is not None:
            b.append(S("{m} = _pop()", m=marker))
        if s.target in code.active and state.get(s.target, DEAD) != DEAD:
            ab = code.adj(s.target)
            part = self.tmp("_p")
            b.append(S("{p}, {ab} = _rt.setattr_b({ab}, {i})" if attr else "{p}, {ab} = _rt.setitem_b({ab}, {i})",
                       p=part, ab=ab, i=index_value))
            new_state[s.target] = UNKNOWN         # None when the write covered all of it
            if scalar_write:
                self._accumulate(b, new_state, s.value.id, _name(part), "add")
            elif contributes:
                self._accumulate(b, new_state, s.value.id, E("_rt.fit({p}, {m})", p=part, m=marker), "add")
        if undo:
            b.append(S("_rt.restore_attr({t}, {i}, _pop())" if attr else "_rt.restore_item({t}, {i}, _pop())",
                       t=s.target, i=index_value))
        return f, b, new_state

    def _emit_unpack(self, s, state):
        code = self.code
        f, b = [], []
        pushed = [t for t in s.targets if t in code.needed and (id(s), t) not in code.first_defs]
        for t in pushed:
            f.append(S("_push({t})", t=t))
        lhs = ast.Tuple([ast.Name(t, ast.Store()) for t in s.targets], ast.Store())
        f.append(ast.Assign([lhs], ir.node(s.value)))
        new_state = dict(state)
        plan = code.plans[id(s)]
        like = None
        if plan.contribs:
            v = s.value.id
            if v in code.needed or code._free(v):
                like = v
            else:
                like = self.tmp("_m")
                f.append(S("_push(_rt.array_meta({v}))", v=v))
                b.append(S("{m} = _pop()", m=like))
        live = [t for t in s.targets if t in code.active and state.get(t, DEAD) != DEAD]
        if plan.contribs and live:
            parts = ast.Tuple([_name(code.adj(t)) if t in live else _const(None) for t in s.targets], ast.Load())
            # (unpack_b never gives None: a tuple of the parts, or an array)
            self._accumulate(b, new_state, s.value.id, E("_rt.unpack_b({p}, {m})", p=parts, m=like), "set")
            for t in live:
                b.append(S("{a} = None", a=code.adj(t)))
                new_state[t] = DEAD
        for t in reversed(pushed):
            b.append(S("{t} = _pop()", t=t))
        return f, b, new_state

    def _emit_alias_checks(self, f, s, target):
        for other, message in self.code.alias_checks.get((id(s), target), ()):
            f.append(S("_rt.check_alias({t}, {o}, {m})", t=target, o=ir.src_node(other), m=_const(message)))

    def _emit_own_entry_check(self, f, s):
        """A write into the value an object's attribute holds: the object's own, held once."""
        entry = getattr(s, "entry", ())
        if entry and not entry[2:]:     # (a write deeper in, into what the value holds: checked with it)
            info = self.code.info
            where = self.code.program._const((info.name, info.filename, s.line))
            f.append(S("_rt.check_own_entry({o}, {a}, {w})", o=entry[0], a=_const(entry[1]), w=ir.src_node(where)))

    def _emit_append(self, s, state):
        code = self.code
        f, b = [], []
        self._emit_alias_checks(f, s, s.target)
        self._emit_own_entry_check(f, s)
        plan = code.plans[id(s)]
        f.append(S("{t}.append({v})", t=s.target, v=ir.node(s.value)))
        new_state = dict(state)
        if s.target not in code.no_undo:
            b.append(S("{t}.pop()", t=s.target))
        if plan.contribs and state.get(s.target, DEAD) != DEAD:
            ab = code.adj(s.target)
            part = self.tmp("_p")
            if s.target in self._owned:
                b.append(S("{p} = {ab}.pop()", p=part, ab=ab))
            else:
                b.append(if_(E("_rt.sole_list({ab})", ab=ab),
                             [S("{p} = {ab}.pop()", p=part, ab=ab)],
                             [S("{p}, {ab} = _rt.append_b({ab})", p=part, ab=ab)]))
            self._accumulate(b, new_state, s.value.id, _name(part), "plus" if s.target in self._dense else "add")
        return f, b, new_state


    def _emit_if(self, s, state):
        fb, bb, sb = self._emit_block(s.body, state)
        fo, bo, so = self._emit_block(s.orelse, state)
        f, b = [], []
        needs_flag = bool(bb or bo)
        body = fb + ([S("_push(True)")] if needs_flag else [])
        orelse = fo + ([S("_push(False)")] if needs_flag else []) if (fo or needs_flag) else []
        f.append(if_(ir.node(s.test), body, orelse))
        if not needs_flag:
            return f, b, state
        b.append(if_(E("_pop()"), bb, bo))
        return f, b, _merge(sb, so)


    def tmp(self, prefix):
        while True:
            self.tmp_counter += 1
            name = f"{prefix}{self.tmp_counter}"
            if name not in self.used:
                self.used.add(name)
                return name


_MAYBE_NONE = {"_vjp.seq_cast_grad", "_vjp.sorted_grad", "_vjp.dict_grad", "_vjp.reversed_grad",
               "_vjp.extremum_seq_grad", "_vjp.cast_grad", "_vjp.zeros_like_adjoint", "_vjp.autograd_vjp"}


def _maybe_none(node) -> bool:
    """May a contribution evaluate to None (no adjoint)? Those of the runtime helpers that return
    None for some arguments, and of every ``_rt`` helper but the unbroadcasts, may."""
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    for n in ast.walk(node):
        if isinstance(n, ast.IfExp) and any(isinstance(x, ast.Constant) and x.value is None
                                            for x in (n.body, n.orelse)):
            return True
        if isinstance(n, ast.Call):
            f = cleanup._dotted(n.func)
            if f in _MAYBE_NONE or (f.startswith("_rt.") and f not in ("_rt.ub", "_rt.ubl", "_rt.summed")) or \
                    not (f.startswith(("_vjp.", "np.", "math.", "_rt.")) or f in ("abs", "float", "complex")):
                return True
    return False


def _merge_repeated(expr, contribs) -> list:
    """``a * a`` contributes twice the same to ``a``: once, doubled (exactly the same sum)."""
    if isinstance(expr, ir.BinOp) and expr.op is ast.Mult and expr.a == expr.b and len(contribs) == 2:
        (n1, t1, m1), (n2, t2, m2) = contribs
        if n1 == n2 and m1 == m2 and isinstance(t1, ast.AST) and ast.dump(t1) == ast.dump(t2):
            return [(n1, E("2.0 * {t}", t=t1), m1)]
    return contribs


def tidy(fdef, temporaries, adjoints, backward: bool = False) -> None:
    """The cleanup passes (cleanup.py) on one sweep. ``temporaries``: the adjoints of the
    normaliser's temporaries; its temporaries themselves (``_t3``) are generated names too."""
    def generated(name):
        return temporaries(name) or _PRIMAL_TEMP.fullmatch(name) is not None or name in _HANDLES
    # in a backward sweep every store is the generator's (recomputed values, restored variables)
    droppable = (lambda name: True) if backward else adjoints
    cleanup.prune_inits(fdef)
    cleanup.remove_dead_stores(fdef, droppable)
    cleanup_none.nest_guarded_chains(fdef, _never_none, adjoints)
    cleanup_none.drop_settled_none_tests(fdef, _never_none, adjoints)
    cleanup.prune_inits(fdef)
    cleanup.propagate_copies(fdef, generated, returned=adjoints)
    cleanup.name_temporaries(fdef, generated)
    cleanup.remove_dead_stores(fdef, droppable)
    cleanup.inline_call_results(fdef)
    cleanup_exprs.drop_default_arguments(fdef)
    cleanup.inline_single_uses(fdef, generated, _fits, plain=adjoints)
    cleanup_exprs.fold_negations(fdef, adjoints)
    cleanup.merge_accumulations(fdef, _fits_line, adjoints)
    cleanup_exprs.merge_repeated_products(fdef, adjoints)
    cleanup.merge_accumulations(fdef, _fits_line, adjoints)
    cleanup_none.nest_guarded_chains(fdef, _never_none, adjoints)      # (joined sums leave more to nest,
    cleanup_none.drop_settled_none_tests(fdef, _never_none, adjoints)  # and nested tests, copies and
    cleanup.prune_inits(fdef)                                          # resets to drop)
    cleanup.remove_dead_stores(fdef, droppable)
    cleanup.propagate_copies(fdef, generated, returned=adjoints)
    cleanup.merge_accumulations(fdef, _fits_line, adjoints)
    cleanup.inline_handles(fdef, _HANDLES)
    cleanup.prune_inits(fdef)
    fdef.body = cleanup.drop_orphan_comments(fdef.body)


_PRIMAL_TEMP = re.compile(r"_t\d+")
_HANDLES = {"_pop", "_push", "_ck", "_rec"}     # ``_pop = _c.tape.pop``: read once, it is inlined


def _fits(st) -> bool:
    """A statement short enough to read on one line (after a temporary was inlined into it)."""
    return len(ast.unparse(ast.fix_missing_locations(st))) <= 80     # (ast.unparse reads the line of an Assign)


def _never_none(call) -> bool:
    """A runtime helper's call that never evaluates to None (given adjoints that are not None)."""
    f = cleanup._dotted(call.func)
    return (f.startswith("_vjp.") or f in ("_rt.ub", "_rt.ubl", "_rt.summed")) and not _maybe_none(call)


def _fits_line(st, depth: int) -> bool:
    """A statement that fits on one line at ``depth`` (a sum of contributions, merged)."""
    return 4 * depth + len(ast.unparse(ast.fix_missing_locations(st))) <= LIMIT


def _none_inits(names) -> list:
    """``a = b = c = None`` at the top of a sweep (see cleanup.prune_inits)."""
    return cleanup.init_statements(list(names))


def _subst_markers(node, markers: dict):
    """A copy of ``node`` with ``_vjp.shape_of(x)`` replaced by the marker taped for ``x``."""
    if not markers:
        return node

    class R(ast.NodeTransformer):
        def visit_Call(self, n):
            self.generic_visit(n)
            f = n.func
            if (isinstance(f, ast.Attribute) and f.attr == "shape_of" and isinstance(f.value, ast.Name)
                    and f.value.id == "_vjp" and len(n.args) == 1 and isinstance(n.args[0], ast.Name)
                    and n.args[0].id in markers):
                return ast.Name(markers[n.args[0].id], ast.Load())
            return n
    return R().visit(clone(node))


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


def _is_short(node) -> bool:
    text = ast.unparse(node)
    return len(text) < 40 and "(" not in text


def _is_simple(node) -> bool:
    return len(ast.unparse(node)) < 60


