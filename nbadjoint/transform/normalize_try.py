"""``try`` blocks and ``global`` statements in the normaliser (normalize.py).

A ``try`` is differentiated as the path on which nothing is raised (its body, ``else`` and
``finally`` blocks); its handlers are not: a run that would take one stops with a refusal naming the
``try`` line (`TryRegion`).  A ``global`` statement is accepted where the function only reads the
names it declares.
"""

from __future__ import annotations

import ast
import sys

from ..errors import TransformError
from . import ir
from .normalize_expr import _HINTS
from .parse import resolve_static


class TryRegion:
    """A ``try`` block of the user's code.  Its body, ``else`` and ``finally`` blocks are
    differentiated as the path on which nothing is raised; its handlers are not.

    A run whose ``try`` body raises an exception one of the handlers catches stops with a refusal
    naming the ``try`` line: in the primal the handler's statements are replaced by a call of
    `HandlerTaken.throw`; the forward sweep has no handlers, so the runner asks the regions around
    the user's line that raised (see `nbadjoint.transform.runner.taken_handler`)."""

    def __init__(self, info, node: ast.Try, handlers: list):
        self.function, self.filename = info.name, info.filename
        self.lineno = node.lineno
        self.source_line = info.line_text(node.lineno)
        self.first = node.body[0].lineno                    # the lines of the body (not the else block:
        self.last = node.body[-1].end_lineno or node.body[-1].lineno   # its handlers do not catch there)
        # [(tuple of exception classes, the `except` line's text, its line, whether it only prints and
        # raises the exception again)]
        self.handlers = handlers

    def covers(self, lineno: int) -> bool:
        return self.first <= lineno <= self.last

    def catching(self, exc):
        """The handler (see ``handlers``) that catches ``exc``, the first that would, or None."""
        return next((h for h in self.handlers if isinstance(exc, h[0])), None)

    def refusal(self, exc, handler, raised_at=None) -> TransformError:
        what = type(exc).__name__ + (f" ({exc})" if str(exc) else "")
        if raised_at is None:
            where = "this `try` block"
        else:
            where = f"line {raised_at[0]}" + (f" (in {raised_at[1]}())" if raised_at[1] != self.function else "") \
                + ", in this `try` block,"
        return TransformError(
            f"{where} raised {what}, which its handler `{handler[1]}` (line {handler[2]}) would catch: `except` "
            "handlers are not differentiated, only the path on which nothing is raised",
            function=self.function, filename=self.filename, lineno=self.lineno, source_line=self.source_line,
            hint="test the condition before instead of catching the exception (e.g. `if den == 0: ...` or "
                 "`if not np.all(np.isfinite(u)): ...`): both branches of an `if` are differentiated")


class HandlerTaken:
    """Called by the primal where the user's code runs an ``except`` handler: raises the refusal of
    its `TryRegion` (an exception of nbadjoint's own, or one that is not an Exception, such as
    KeyboardInterrupt, goes on unchanged)."""

    def __init__(self, region: TryRegion, handler):
        self.region, self.handler = region, handler

    def throw(self):
        exc = sys.exc_info()[1]
        if not isinstance(exc, Exception) or type(exc).__module__.startswith("nbadjoint"):
            raise                   # (the exception being handled, unchanged)
        raise self.region.refusal(exc, self.handler) from exc


class TryLowering:
    """The part of the Normalizer that lowers ``try`` blocks."""

    def try_stmt(self, s, out, flags):
        """``try: BODY except ...: HANDLER else: ELSE finally: FINAL`` lowered as BODY, ELSE (unless
        BODY left by break, continue or return), FINAL: the path on which nothing is raised.  The
        handlers are not lowered; a run that would take one stops with the refusal of the block's
        `TryRegion` (the primal's handlers raise it; the runner raises it for the sweeps)."""
        from .normalize import _contains, position
        handlers = [(self._handler_classes(h), _except_text(h), h.lineno, self._reraises(h)) for h in s.handlers]
        for kind in (ast.Return, ast.Break, ast.Continue):
            if _contains(s.finalbody, kind):
                jump = next(n for n in ast.walk(ast.Module(s.finalbody, [])) if isinstance(n, kind))
                raise self.err(f"`{type(jump).__name__.lower()}` in a `finally` block is not supported", jump,
                               hint="leave the `finally` block at its end (Python 3.14 warns about such jumps)")
        region = TryRegion(self.info, s, handlers)
        for h, handler in zip(s.handlers, handlers):
            if handler[3]:
                continue            # (the primal runs it: it prints and raises the exception again)
            ref = self.program.callable_ref(self.info, HandlerTaken(region, handler))
            for st in h.body:       # the primal raises the refusal where a handler would run
                self.late[position(st)] = ref
                self.late_refusals[position(st)] = region.refusal(Exception(), handler)
        self.try_regions.append(region)
        j_body = self._sub_block(s.body, out, flags)
        j_else = False
        if s.orelse and j_body != "always":
            if j_body:              # the else block runs only when the body was not left by a jump
                live = [f for f in (flags.brk, flags.cnt, flags.ret) if f]
                guard = self.tmp()
                out.append(ir.Assign(guard, ir.Opaque("not (" + " or ".join(live) + ")", live),
                                     line=s.orelse[0].lineno))
                inner: list = []
                j_else = self._sub_block(s.orelse, inner, flags)
                out.append(ir.If(ir.Name(guard), inner, [], line=s.orelse[0].lineno))
            else:
                j_else = self._sub_block(s.orelse, out, flags)
        self._sub_block(s.finalbody, out, flags)      # (after a jump too, as Python runs it)
        if j_body == "always" or j_else == "always":
            return "always"
        return bool(j_body or j_else)

    def _reraises(self, h: ast.ExceptHandler) -> bool:
        """Does ``h`` only print (or pass) and raise the exception again (a bare ``raise``)?  Then the
        run fails with that exception as the user's code would; the sweeps leave out the prints."""
        *before, last = h.body
        return isinstance(last, ast.Raise) and last.exc is None and all(
            isinstance(st, ast.Pass) or isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)
            and resolve_static(st.value.func, self.info, self.locals) is print for st in before)

    def _handler_classes(self, h: ast.ExceptHandler) -> tuple:
        """The exception classes ``h`` catches, resolved when compiling (a bare ``except:``: all)."""
        if h.type is None:
            return (BaseException,)
        elts = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        classes = []
        for e in elts:
            obj = resolve_static(e, self.info, self.locals)
            if isinstance(obj, tuple) and all(isinstance(c, type) and issubclass(c, BaseException) for c in obj):
                classes.extend(obj)
            elif isinstance(obj, type) and issubclass(obj, BaseException):
                classes.append(obj)
            else:
                raise self.err(f"the exception type `{ast.unparse(e)}` of this `except` handler is not an exception "
                               "class nbadjoint can find when compiling", h,
                               hint="name the exception class (or a tuple of them) in the `except` line, "
                                    "e.g. `except (ValueError, np.linalg.LinAlgError):`")
        return tuple(classes)


def _except_text(h: ast.ExceptHandler) -> str:
    return "except" + (f" {ast.unparse(h.type)}" if h.type is not None else "") + (f" as {h.name}" if h.name else "")


def _refuse_global_writes(info, fn: ast.FunctionDef):
    """A ``global`` statement that only declares names the function reads is accepted (the name is
    the module's, as without it); one whose names the function assigns is refused at the first such
    assignment, and ``nonlocal`` at its line, before anything runs (wherever they stand, the
    declaration holds in the whole function)."""
    nodes = sorted(_own_scope(fn), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    declared = {}
    for n in nodes:
        if isinstance(n, ast.Nonlocal):
            raise info.error("`nonlocal` statements are not supported", n, hint=_HINTS.get(ast.Nonlocal))
        if isinstance(n, ast.Global):
            for name in n.names:
                declared.setdefault(name, n.lineno)
    if not declared:
        return
    for n in nodes:
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names = [n.id]
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [n.name]
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names = [n.name]
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).partition(".")[0] for a in n.names]
        else:
            continue
        for name in names:
            if name in declared:
                raise info.error(f"assigning to `{name}`, declared `global` on line {declared[name]}: differentiated "
                                 "code cannot change global state", n,
                                 hint=f"return the new value of `{name}` instead (and assign it to the global "
                                      "outside the differentiated function)")


def _own_scope(fn: ast.FunctionDef):
    """Nodes of ``fn``'s own scope: a function, lambda or class defined in it but not its inside,
    and not the targets of comprehensions (a comprehension's variable is its own)."""
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(n, ast.comprehension):
            todo.extend([n.iter] + list(n.ifs))
            continue
        todo.extend(ast.iter_child_nodes(n))
