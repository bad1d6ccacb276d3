"""Calls between user functions in the sweeps: checkpointed or split, recomputed or not, and the
adjoints they return."""

from __future__ import annotations

import ast

from ..runtime import random_state
from . import draws, ir, shapes
from .normalize import LateRefusal
from .sweep_ast import Comment, expr as E, if_, stmt as S
from .sweep_state import DEAD, LIVE, UNKNOWN, _const, _name


class CallSweeps:
    """The call statements of a SweepBuilder (see sweeps.py)."""

    def _emit_call(self, s, state, f, b, pushes):
        code = self.code
        expr: ir.UserCall = s.expr
        site = _const(expr.site)
        callee = code.program.functions[expr.callee]
        atoms = list(expr.args)
        self_arg = pushes and s.target in ir.names_in(expr.args)
        if pushes and not self_arg:
            f.append(S("_push({t})", t=s.target))
        out = self.tmp("_r") if self_arg else s.target
        mutated = [(k, a.id) for k, (p, a) in enumerate(zip(callee.params, expr.args))
                   if p in callee.mutated and isinstance(a, ir.Name)]
        primal, fwd, bwd = callee.key + "_primal", callee.key + "_fwd", callee.key + "_bwd"

        def call(func, atoms):
            return E("{f}(_c, *{a})", f=func, a=[ir.node(a) for a in atoms])

        def snaps():
            return [S("_push(_rt.snapshot({n}))", n=name, comment=f"{callee.info.name}() writes into it")
                    for _, name in mutated]
        # the generators the callee draws from: saved before a checkpointed call, replayed when recomputing
        gens, gen_names, gen_refusal = draws.call_generators(code, expr, s.line)
        save_gens = self._save_generators(gens, gen_names, gen_refusal)
        for _, name in mutated:
            self._emit_alias_checks(f, s, name)
        for name, other, message, entries in code.entry_checks.get(id(s), ()):
            if entries is None:
                f.append(S("_rt.check_entry_alias({n}, {o}, {m})", n=name, o=ir.src_node(other), m=_const(message)))
            else:       # the callee writes into the values of these attributes only (deep: or what they hold)
                names = sorted(a for a, _ in entries)
                deep = sorted(a for a, d in entries if d)
                args = [_const(a) for a in names]
                f.append(S("_rt.check_entry_alias({n}, {o}, {m}, {e}" + (", {d})" if deep else ")"), n=name,
                           o=ir.src_node(other), m=_const(message), e=ast.Tuple(args, ast.Load()),
                           d=ast.Tuple([_const(a) for a in deep], ast.Load())))
        self._emit_overlap_checks(f, s, callee, mutated)
        if not self_arg and not mutated and self._result_unused(s, state):
            return self._emit_unused_call(s, state, f, b, pushes, out, call(primal, atoms))
        if self.probes:
            f.append(if_(E("_ck[{s}]", s=site),
                         [S("_rec.enter({s}, 'P')", s=site)] + snaps() + save_gens +
                         [S("{o} = {c}", o=out, c=call(primal, atoms)), S("_rec.leave({s}, 'P')", s=site)],
                         [S("_rec.enter({s}, 'F')", s=site), S("{o} = {c}", o=out, c=call(fwd, atoms)),
                          S("_rec.leave({s}, 'F')", s=site)]))
        else:
            f.append(if_(E("_ck[{s}]", s=site),
                         snaps() + save_gens +
                         [S("{o} = {c}", o=out, c=call(primal, atoms), comment="checkpointed: primal only")],
                         [S("{o} = {c}", o=out, c=call(fwd, atoms),
                            comment="split: its tape stays until this call is reversed")]))
        if self_arg:
            # the argument's old value goes on top of the callee's tape: it is read first when reversing
            f.append(S("_push({t})", t=s.target))
            f.append(S("{t} = {o}", t=s.target, o=out))
        # backward
        old = None
        if pushes and s.target in ir.names_in(expr.args):
            old = self.tmp("_o")
            b.append(S("{o} = _pop()", o=old))
            atoms = [ir.Name(old) if isinstance(a, ir.Name) and a.id == s.target else a for a in atoms]
        g = code.adj(s.target) if s.target in code.active else None
        tstate = state.get(s.target, DEAD) if s.target in code.active else DEAD
        if tstate == DEAD:
            g = None
        self.passes_live[callee.key] = self.passes_live.get(callee.key, True) and tstate == LIVE
        returns_live = callee.returns_live or (False,) * len(callee.params)
        res = self.tmp("_r")

        def restores(comment=None):
            return [S("_rt.restore_snapshot({a}, _pop())", a=ir.node(atoms[k]), comment=comment)
                    for k, _ in reversed(mutated)]
        # the adjoint after the call of each array the callee writes into (None when the call rebinds the name)
        mut_adj = [_name(code.adj(name)) if name in code.active and state.get(name, DEAD) != DEAD
                   and name != s.target else _const(None) for _, name in mutated]
        # a callee that tapes nothing when its guards hold needs no recomputation then
        skip = callee.shape_guard(dict(zip(callee.params, atoms))) if callee.tape_free_when_guarded() and not gens \
            else None
        rewind = self._rewind_generators(_in_backward(gens, expr.args, atoms), gen_names)
        skip_always = isinstance(skip, ast.Constant) and skip.value is True
        bwd_call = S("{r} = {f}(_c, {g}, *{a})", r=res, f=bwd, g=_name(g) if g else _const(None),
                     a=[ir.node(a) for a in atoms] + mut_adj)
        if self.probes:
            inner = []
            if skip is not None:
                skipped = [S("_rec.enter({s}, 'K')", s=site, comment="recomputation skipped: nothing to tape"),
                           S("_rec.leave({s}, 'K')", s=site)]
            recompute = [S("_rec.enter({s}, 'F')", s=site), S("{c}", c=call(fwd, atoms)), S("_rec.leave({s}, 'F')", s=site)]
            if skip_always:
                inner = skipped
            elif skip is not None:
                inner = [if_(skip, skipped, recompute)]
            else:
                if mutated or gens:
                    inner = [S("_rec.enter({s}, 'S')", s=site)] + rewind + restores() + \
                        [S("_rec.leave({s}, 'S')", s=site)]
                inner += recompute
            b.append(if_(E("_ck[{s}]", s=site), inner))
            b += [S("_rec.enter({s}, 'B')", s=site), bwd_call, S("_rec.leave({s}, 'B')", s=site)]
        else:
            if skip_always:
                b.append(Comment(f"{callee.info.name}() tapes nothing here: no recomputation, checkpointed or not"))
            elif skip is not None:
                b.append(if_(E("_ck[{s}] and not {g}", s=site, g=skip),
                             [S("{c}", c=call(fwd, atoms),
                                comment="recompute where its guards fail")]))
            else:
                b.append(if_(E("_ck[{s}]", s=site),
                             rewind + restores("the snapshot: its state before the call") +
                             [S("{c}", c=call(fwd, atoms), comment="recompute, taping")]))
            b.append(bwd_call)
        new_state = dict(state)
        if s.target in code.active and tstate != DEAD:
            if s.target not in ir.names_in(expr.args):
                b.append(S("{a} = None", a=code.adj(s.target)))
            new_state[s.target] = DEAD
        target_gets = False
        replaced = set()
        for k, name in mutated:
            if name in code.active and name not in replaced and name != s.target:
                # the callee took this adjoint (after the call) and returns it before the call
                b.append(S("{a} = {r}[{k}]", a=code.adj(name), r=res, k=_const(k)))
                new_state[name] = UNKNOWN
                replaced.add(name)
        for k, atom in enumerate(expr.args):
            if (k, getattr(atom, "id", None)) in mutated and atom.id != s.target:
                continue
            if isinstance(atom, ir.Name) and atom.id in code.active:
                if atom.id == s.target and not target_gets:
                    b.append(S("{a} = {r}[{k}]", a=code.adj(s.target), r=res, k=_const(k)))
                    target_gets = True
                    new_state[s.target] = LIVE if returns_live[k] else UNKNOWN
                else:
                    self._accumulate(b, new_state, atom.id, E("{r}[{k}]", r=res, k=_const(k)),
                                     ("plus" if self._number_like(atom.id) else "set") if returns_live[k]
                                     else "add")
        if pushes:
            b.append(S("{t} = {o}", t=s.target, o=old) if old else S("{t} = _pop()", t=s.target))
        return f, b, new_state

    def _result_unused(self, s, state) -> bool:
        """No adjoint ever reaches the result of call ``s`` (a diagnostic, an energy nobody
        differentiates), and the callee writes into nothing it did not build: its backward sweep
        would only return zeros, and its forward sweep's checks would find nothing to refuse."""
        code = self.code
        unused = s.target not in code.active or state.get(s.target, DEAD) == DEAD
        return unused and writes_nothing(code.program, s.expr.callee)

    def _emit_unused_call(self, s, state, f, b, pushes, out, primal_call):
        """A call whose result no adjoint reaches runs as its primal, checkpointed or split alike,
        and is absent from the backward sweep."""
        site = _const(s.expr.site)
        if self.probes:
            f += [S("_rec.enter({s}, 'P')", s=site), S("{o} = {c}", o=out, c=primal_call),
                  S("_rec.leave({s}, 'P')", s=site)]
            b.append(if_(E("_ck[{s}]", s=site),
                         [S("_rec.enter({s}, 'K')", s=site, comment="recomputation skipped: nothing to reverse"),
                          S("_rec.leave({s}, 'K')", s=site)]))
            b += [S("_rec.enter({s}, 'B')", s=site), S("_rec.leave({s}, 'B')", s=site)]
        else:
            f.append(S("{o} = {c}", o=out, c=primal_call, comment="its result reaches no adjoint: primal only"))
        if pushes:
            b.append(S("{t} = _pop()", t=s.target))
        return f, b, dict(state)

    def _save_generators(self, gens, names, refusal):
        """Forward sweep, checkpointed call: tape the state of the generators the callee draws from
        (or raise ``refusal``: a generator it creates unseeded could not be replayed)."""
        program, info = self.code.program, self.code.info
        if refusal is not None:
            return [S("raise {r}()", r=ir.src_node(program.callable_ref(info, LateRefusal(refusal))))]
        if not gens:
            return []
        return [S("_push({f}({g}))", f=ir.src_node(program.callable_ref(info, random_state.capture)), g=_tuple(gens),
                  comment=f"the state of {', '.join(names)}, to replay its draws")]

    def _rewind_generators(self, gens, names):
        """Backward sweep, checkpointed call: set the generators back to the state taped before
        the call, so that recomputing it draws the same numbers.  (Nothing else in a backward
        sweep draws: the run returns the generators to where the forward sweep left them once,
        at its end, see runner.py.)"""
        if not gens:
            return []
        program, info = self.code.program, self.code.info
        return [S("{f}({g}, _pop())", f=ir.src_node(program.callable_ref(info, random_state.restore)), g=_tuple(gens),
                  comment=f"{', '.join(names)} as before the call: the same draws")]

    def _emit_overlap_checks(self, f, s, callee, mutated):
        """A callee that writes into one argument must get no other argument sharing its memory:
        its adjoint treats its parameters as distinct arrays."""
        args = s.expr.args
        for k, name in mutated:
            if k == 0 and getattr(s.expr, "constructing", False):
                continue            # an __init__'s object, just built, shares memory with nothing
            for j, atom in enumerate(args):
                if (callee.params[k], callee.params[j]) not in callee.overlap_pairs or \
                        (isinstance(atom, ir.Const) and shapes.literal_type(atom.src) is not None):
                    continue
                message = callee.overlap_message(callee.params[k], callee.params[j], self.code.info, s.line,
                                                 [a.text() for a in args], self.code.norm.user_names)
                f.append(S("_rt.check_alias({n}, {a}, {m})", n=name, a=ir.node(atom), m=_const(message)))


# array methods that write into nothing (the others, and every ``out=``, may write into an argument)
_READING_METHODS = frozenset({
    "copy", "sum", "mean", "max", "min", "prod", "std", "var", "dot", "reshape", "ravel", "flatten",
    "transpose", "conj", "conjugate", "astype", "item", "tolist", "cumsum", "cumprod", "all", "any",
    "round", "clip", "squeeze", "argmax", "argmin", "trace", "diagonal", "swapaxes", "nonzero"})


def writes_nothing(program, key, _seen=None) -> bool:
    """Function ``key`` (and every function it calls) writes into no object it did not build
    itself: no write into a parameter or into what a parameter holds, no append to a list it was
    given, no ``out=``, no method that may write, no library call run for its effect."""
    code = program.functions[key]
    cached = getattr(code, "_writes_nothing", None)
    if cached is not None:
        return cached
    seen = set() if _seen is None else _seen
    if key in seen:
        return True                     # (a recursive call: decided by the rest of the cycle)
    seen.add(key)
    stmts = list(ir.walk(code.body))
    built = shapes._new_sequences(stmts, code.params, vectors=True)
    result = True
    for st in stmts:
        if isinstance(st, (ir.SetItem, ir.Append)) and st.target not in built:
            result = False
        elif isinstance(st, ir.Assign) and isinstance(st.expr, ir.Prim):
            e = st.expr
            if (e.method and e.method not in _READING_METHODS) or e.mutates or e.effect or "out" in e.kwargs:
                result = False
        elif isinstance(st, ir.Assign) and isinstance(st.expr, ir.UserCall):
            result = writes_nothing(program, st.expr.callee, seen)
        if not result:
            break
    if _seen is None or result is False:
        code._writes_nothing = result
    return result

def _tuple(atoms) -> ast.Tuple:
    return ast.Tuple([ir.node(a) for a in atoms], ast.Load())


def _in_backward(gens, args, atoms):
    """The generator atoms ``gens`` (some of the call's ``args``) as the backward sweep names the
    arguments (``atoms``)."""
    index = {id(a): k for k, a in enumerate(args)}
    return [atoms[index[id(g)]] if id(g) in index else g for g in gens]
