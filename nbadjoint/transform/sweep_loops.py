"""The sweeps of loops: trip counts taped, bodies reversed, and a loop variant where every adjoint
of a list of scalars is a number (no None tests)."""

from __future__ import annotations

import ast

from . import ir, shapes
from .sweep_ast import Comment, expr as E, for_, if_, stmt as S, while_true
from .sweep_state import DEAD, UNKNOWN, _const, _int_literal, _merge, _single_index


class LoopSweeps:
    """The loop statements of a SweepBuilder (see sweeps.py)."""

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
        facts = getattr(self.code, "shapes", None)
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
        facts = self.code.shapes
        inside = {t for st in ir.walk(s.body) for t in ir.defined(st)}
        read, other = [], set()
        for st in ir.walk(s.body):
            e = st.expr if isinstance(st, ir.Assign) else None
            if isinstance(e, ir.GetItem) and isinstance(e.a, ir.Name) and _single_index(e.index) \
                    and (_int_literal(e.index.src) or self.code._certainly_int(e.index.src)):
                if e.a.id not in read:
                    read.append(e.a.id)
                other.update(e.index.reads)
            else:
                other.update(ir.reads(st))
        return [n for n in read if n not in other and n not in inside and facts.types.get(n) == shapes.LIST
                and n in self.code.active and (n in self.code.needed or self.code._free(n))]

    def _emit_for(self, s, state):
        code = self.code
        if s.schedule is not None and any(n in code.active for n in s.schedule.outputs):
            return self._emit_scheduled(s, state)
        dense = self._dense_lists(s, state) if self.spec and not self._dense else []
        owned_bases = []
        if dense:
            self.specialised = True
            self._dense = set(dense)
            owned_bases = self._indexed_lists(s)
            self._owned = set(dense) | set(owned_bases)
            if all(isinstance(st, (ir.Assign, ir.Append, ir.SetItem, ir.Unpack)) for st in s.body):
                # straight-line body: the adjoint of a name defined once in it, with no adjoint
                # coming in from after the loop, is assigned before it is read in every iteration
                self._fresh_each_iteration = {
                    n for st in s.body for n in ir.defined(st)
                    if code.def_counts.get(n, 0) == 1 and state.get(n, DEAD) == DEAD}
            entry = self._loop_state(s.body, state)
            _, dense_bb, dense_out = self._emit_block(s.body, entry)
            self._dense = set()
            self._fresh_each_iteration = set()
            self._owned = set()
        # lists of numbers the loop reads entry by entry: their adjoints are made lists of the
        # loop's own once, before it, and added into in place (no test of who else holds them)
        owned_only = self._indexed_lists(s) if self.spec and not dense and not self._owned else []
        self._owned = set(owned_only) or self._owned
        entry = self._loop_state(s.body, state)
        fb, bb, out_state = self._emit_block(s.body, entry)
        if owned_only:
            self._owned = set()
        f, b = [], []
        rng = self.tmp("_range")
        f.append(S("{r} = range(*{a})", r=rng, a=[ir.node(a) for a in s.range_args]))
        loop_var_needed = s.target in code.needed
        if not bb:
            f.append(for_(s.target, rng, fb))
            return f, b, state
        if loop_var_needed:
            f.append(S("_push({t})", t=s.target))
        if s.counted:
            trips = self.tmp("_trips")
            f.append(S("{n} = 0", n=trips))
            f.append(for_(s.target, rng, [S("{n} += 1", n=trips)] + fb))
            f.append(S("_push({r}[:{n}])", r=rng, n=trips))
        else:
            f.append(for_(s.target, rng, fb))
            f.append(S("_push({r})", r=rng))

        def reversed_loop(body):
            recomputed = [S("{t} = {v}", t=st.target, v=self._render_expr(st.expr), comment="recomputed, not taped")
                          for st in code.recompute.get(id(s), ())]
            return for_(s.target, E("reversed(_pop())"), recomputed + body)

        if dense:
            tests = [E("_rt.scalar_items({a})", a=code.adj(t)) for t in dense]
            test = tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)
            setup = [S("{a} = list({a})", a=code.adj(t), comment="a copy of its own, popped in place") for t in dense]
            setup += [S("{a} = _rt.own_list({a}, {x})", a=code.adj(base), x=base, comment="added into in place")
                      for base in owned_bases]
            b.append(Comment("every adjoint in the loop is a number: no None checks (else: the general case)"))
            b.append(if_(test, setup + [reversed_loop(dense_bb)], [reversed_loop(bb)]))
            out_state = _merge(out_state, dense_out)
        else:
            b += [S("{a} = _rt.own_list({a}, {x})", a=code.adj(base), x=base, comment="added into in place")
                  for base in owned_only]
            b.append(reversed_loop(bb))
        if loop_var_needed:
            b.append(S("{t} = _pop()", t=s.target))
        return f, b, _merge(state, out_state)

    def _emit_scheduled(self, s, state):
        """A loop run by a checkpointing schedule (see loops.py): its forward sweep runs the
        schedule up to the end of the loop, its backward sweep the rest, both in
        `nbadjoint.runtime.loop_checkpoint`, with the sweeps of the loop's body function."""
        code, plan = self.code, s.schedule
        body = code.program.functions[plan.body_key]
        self.passes_live[plan.body_key] = False         # (adjoints of some outputs come in as None)
        site = _const(plan.id)
        saved = [n for n in plan.rebound if n in code.needed]
        f = [Comment(f"line {s.line}: the loop runs by a checkpointing schedule ({plan.id})")]
        f += [S("_push({n})", n=n, comment="its value before the loop") for n in saved]
        f += self._outside_alias_checks(s, body)
        rng = self.tmp("_range")
        out = self.tmp("_lo")
        f.append(S("{r} = range(*{a})", r=rng, a=[ir.node(a) for a in s.range_args]))
        copied = [k for k, p in enumerate(body.params[1:]) if p in body.copied_params]
        fixed = [k for k, p in enumerate(plan.params) if p not in plan.rebound and k not in copied]
        checks = []
        for p, q in sorted(body.overlap_pairs):
            if p in body.copied_params and p in plan.params and q in plan.params:
                message = str(code.info.error(
                    f"the loop writes into `{p}`, which shares memory with `{q}` when an iteration starts: the "
                    f"adjoint would miss that the write also changes `{q}`", lineno=s.line,
                    hint=f"make `{q}` a copy (e.g. {q} = {q}.copy()), or leave this loop out of the placement"))
                checks.append(ast.Tuple([_const(plan.params.index(p)), _const(plan.params.index(q)),
                                         _const(message)], ast.Load()))
        call = E("_loops.forward(_c, {site}, {r}, {st}, {p}, {fw}, {bw}, copied={cp}, mutated={m}, "
                 "n_outputs={no}, fixed={fx}, names={nm}, checks={ch})",
                 site=site, r=rng,
                 st=ast.Tuple([ast.Name(n, ast.Load()) for n in plan.params], ast.Load()),
                 p=f"{plan.body_key}_primal", fw=f"{plan.body_key}_fwd", bw=f"{plan.body_key}_bwd",
                 cp=ast.Tuple([_const(k) for k in copied], ast.Load()), m=_const(len(body.mutated)),
                 no=_const(len(plan.outputs)), fx=ast.Tuple([_const(k) for k in fixed], ast.Load()),
                 nm=ast.Tuple([_const(n) for n in plan.params], ast.Load()), ch=ast.Tuple(checks, ast.Load()))
        f.append(S("{o} = {c}", o=out, c=call))
        f.append(S("_push({o})", o=out, comment="the schedule's state, for the backward sweep"))
        f += [S("{n} = {o}.outputs[{k}]", n=n, o=out, k=_const(plan.outputs.index(n))) for n in plan.rebound]
        incoming = [ast.Name(code.adj(n), ast.Load()) if n in code.active and state.get(n, DEAD) != DEAD
                    else _const(None) for n in plan.outputs]
        res = self.tmp("_lb")
        backward = E("_loops.backward(_c, _pop(), {a})", a=ast.Tuple(incoming, ast.Load()))
        active = [(k, n) for k, n in enumerate(plan.params) if n in code.active]
        b = [S("{r} = {c}", r=res, c=backward) if active else S("{c}", c=backward)]
        new_state = dict(state)
        for k, n in active:
            b.append(S("{a} = {r}[{k}]", a=code.adj(n), r=res, k=_const(k)))
            new_state[n] = UNKNOWN
        inside = {t for st in ir.walk(s.body) for t in ir.defined(st)} | {s.target}
        for n in sorted(inside - set(plan.params)):
            if n in code.active and state.get(n, DEAD) != DEAD:
                b.append(S("{a} = None", a=code.adj(n)))
            if n in code.active:
                new_state[n] = DEAD
        b += [S("{n} = _pop()", n=n) for n in reversed(saved)]
        return f, b, new_state

    def _outside_alias_checks(self, s, body) -> list:
        """The run-time alias checks the loop's statements carry in this function whose other name
        lives outside the loop (the body function cannot see it): checked once before the loop,
        against every value the body writes into."""
        code = self.code
        inside = {id(st) for st in ir.walk(s.body)}
        local = set(body.params) | {t for st in ir.walk(s.body) for t in ir.defined(st)}
        others = []
        for (sid, _), checks in code.alias_checks.items():
            if sid in inside:
                others += checks
        for sid, checks in code.entry_checks.items():
            if sid in inside:
                others += [(other, message) for _, other, message, _ in checks]
        written = [p for p in body.params[1:] if p in body.copied_params]
        out, done = [], set()
        for other, message in others:
            if not other.isidentifier() or other in local:
                continue
            for name in written:
                if (name, other) not in done:
                    done.add((name, other))
                    out.append(S("_rt.check_alias({t}, {o}, {m})", t=name, o=other, m=_const(message)))
        return out

    def _emit_loop(self, s, state):
        entry = self._loop_state(s.body, state)
        fb, bb, out_state = self._emit_block(s.body, entry)
        f, b = [], []
        if not bb:
            f.append(while_true(fb))
            return f, b, state
        trips = self.tmp("_trips")
        f.append(S("{n} = 0", n=trips))
        f.append(while_true([S("{n} += 1", n=trips)] + fb))
        f.append(S("_push({n})", n=trips))
        b.append(for_("_", E("range(_pop())"), bb))
        return f, b, _merge(state, out_state)
