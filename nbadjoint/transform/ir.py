"""The normalised form a user function is lowered to before it is differentiated.

Three-address statements whose operands are atoms (a variable or an inactive constant), with
structured control flow: ``break``, ``continue`` and early ``return`` are already replaced by
flags, so every loop exits only at the end of its body (``LoopExit``).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any, Union

from .templates import clone


@dataclass(frozen=True)
class Name:
    id: str

    def text(self) -> str:
        return self.id


@dataclass(frozen=True)
class Const:
    """An inactive value: a literal, or a reference to a global or closure constant."""
    src: str

    def text(self) -> str:
        return self.src


Atom = Union[Name, Const]


def names_in(atoms) -> list[str]:
    return [a.id for a in atoms if isinstance(a, Name)]


# --- right-hand sides ---------------------------------------------------------------------------

@dataclass
class Copy:
    a: Atom


@dataclass
class BinOp:
    op: type
    a: Atom
    b: Atom


@dataclass
class UnOp:
    op: type
    a: Atom


@dataclass
class Prim:
    """A call of a NumPy / math / builtin function (a primitive of the adjoint)."""
    func: Any
    name: str                 # text that calls it in generated code
    args: list
    kwargs: dict
    rule: Any = None          # rules.Rule, or None when not differentiable
    nondiff: bool = False
    method: str = ""          # called as args[0].method(...) (array methods keep their own semantics)
    norule: Any = None        # no derivative rule: the TransformError refusing it where it is active
    written: str = ""         # the callee as the user wrote it (for messages)
    mutates: bool = False     # (no rule) it may write into its arguments: refused where any is active
    where: tuple = ()         # (no rule) the call's position in the user's source (normalize.position)
    effect: bool = False      # (no rule) called for its effect (its value is dropped): it may write
                              # one argument into another


@dataclass
class UserCall:
    """A call between user functions: a call site of the call tree."""
    callee: str               # key of the callee in the program
    site: str                 # call-site id "caller:lineno:callee"
    args: list                # atoms, bound to the callee's positional parameters


@dataclass
class GetItem:
    a: Atom
    index: "Index"


@dataclass
class Build:
    kind: str                 # "tuple" or "list"
    elts: list


@dataclass
class BuildDict:
    keys: list                # key source texts (inactive)
    values: list


@dataclass
class Opaque:
    """An inactive expression kept as text: comparisons, ``not``, f-strings..."""
    src: str
    reads: list
    kind: str = "passive"     # "boolop" when its operands would pass through


@dataclass
class Index:
    src: str                  # index text with atoms substituted, e.g. "_t1:-1, None"
    reads: list               # variable names it reads
    value: str = ""           # the same index as a value, e.g. "(slice(_t1, -1), None)"
    attr: str = ""            # an object's attribute (``obj.attr``): src and value are its name quoted
    frozen: bool = False      # (attr) a field a frozen dataclass's construction writes

    def __post_init__(self):
        if not self.value:
            self.value = self.src


# --- statements ---------------------------------------------------------------------------------

@dataclass
class Stmt:
    line: int = field(default=0, kw_only=True)


@dataclass
class Assign(Stmt):
    target: str
    expr: Any
    aug_rebind: bool = False      # the rebinding half of `x op= v` (x is not an array)


@dataclass
class Unpack(Stmt):
    """``a, b, c = value``: a tuple, list or array of known length taken apart."""
    targets: list
    value: Atom


@dataclass
class SetItem(Stmt):
    target: str
    index: Index
    value: Atom
    aug: bool = False             # the in-place half of `x op= v` (x is an array)
    exclude: tuple = ()           # names this write cannot surprise (rewritten right after)
    entry: tuple = ()             # (name, attribute): the write goes into what `name.attribute` holds


@dataclass
class Append(Stmt):
    target: str
    value: Atom


@dataclass
class Effect(Stmt):
    """A statement with no value for the adjoint (``print``, ``assert``, ``raise``)."""
    src: str
    reads: list
    refusal: Any = None       # a refusal deferred to run time: raised here if this is reached


@dataclass
class If(Stmt):
    test: Atom
    body: list
    orelse: list


@dataclass
class ForRange(Stmt):
    target: str
    range_args: list          # atoms of range(...)
    body: list
    counted: bool = False     # the body may exit early: count trips
    schedule: Any = None      # loops.LoopPlan: run by a checkpointing schedule (see loops.py)


@dataclass
class Loop(Stmt):
    """``while True`` whose body ends with a LoopExit."""
    body: list


@dataclass
class LoopExit(Stmt):
    test: Atom


@dataclass
class Return(Stmt):
    value: Atom


def defined(s) -> list:
    """Names statement ``s`` binds (not counting writes into containers)."""
    if isinstance(s, Assign):
        return [s.target]
    if isinstance(s, Unpack):
        return list(s.targets)
    if isinstance(s, ForRange):
        return [s.target]
    return []


def walk(stmts):
    """Every statement, nested ones included, in order."""
    for s in stmts:
        yield s
        if isinstance(s, If):
            yield from walk(s.body)
            yield from walk(s.orelse)
        elif isinstance(s, (ForRange, Loop)):
            yield from walk(s.body)


# -- what statements read and write: the one place these are defined ------------------------------

def operands(e) -> set:
    """Names an expression reads as operands (the base of a subscript, not its index)."""
    if isinstance(e, Copy):
        return set(names_in([e.a]))
    if isinstance(e, BinOp):
        return set(names_in([e.a, e.b]))
    if isinstance(e, UnOp):
        return set(names_in([e.a]))
    if isinstance(e, Prim):
        return set(names_in(list(e.args) + list(e.kwargs.values())))
    if isinstance(e, GetItem):
        return set(names_in([e.a]))
    if isinstance(e, Build):
        return set(names_in(e.elts))
    if isinstance(e, BuildDict):
        return set(names_in(e.values))
    if isinstance(e, Opaque):
        return set(e.reads)
    if isinstance(e, UserCall):
        return set(names_in(e.args))
    return set()


def reads(s) -> set:
    """Names statement ``s`` reads (not those of nested statements, but a loop's range and a
    branch's test)."""
    if isinstance(s, Assign):
        e = s.expr
        if isinstance(e, GetItem):
            return set(names_in([e.a])) | set(e.index.reads)
        return operands(e)
    if isinstance(s, SetItem):
        return {s.target} | set(s.index.reads) | set(names_in([s.value]))
    if isinstance(s, Append):
        return {s.target} | set(names_in([s.value]))
    if isinstance(s, Effect):
        return set(s.reads)
    if isinstance(s, (LoopExit, If)):
        return set(names_in([s.test]))
    if isinstance(s, Return):
        return set(names_in([s.value]))
    if isinstance(s, ForRange):
        return set(names_in(s.range_args))
    return set()


def written(s) -> set:
    """Names whose value statement ``s`` changes in place (writes into them)."""
    if isinstance(s, (SetItem, Append)):
        return {s.target}
    return set()


def assigned(body) -> set:
    """Names bound anywhere in ``body``, nested statements included."""
    return {t for s in walk(body) for t in defined(s)}


# -- the IR's atoms and inactive texts as ast nodes (for the generated code) ----------------------

@functools.lru_cache(maxsize=None)
def _parsed_expr(src: str):
    return ast.parse(src, mode="eval").body


@functools.lru_cache(maxsize=None)
def _parsed_stmts(src: str):
    return ast.parse(src).body


def src_node(src: str) -> ast.expr:
    """A fresh node of an inactive expression the IR keeps as source (a literal, a constant's
    reference, a comparison, an index value)."""
    return clone(_parsed_expr(src))


def node(atom) -> ast.expr:
    """A fresh expression node of an atom."""
    if isinstance(atom, Name):
        return ast.Name(atom.id, ast.Load())
    return src_node(atom.src)


def slice_node(index: Index) -> ast.expr:
    """A fresh node of ``index`` as written between brackets."""
    return clone(_parsed_expr(f"_[{index.src}]").slice)


def stmt_nodes(src: str) -> list:
    """Fresh nodes of a statement the IR keeps as source (``print(...)``, ``assert ...``)."""
    return clone(list(_parsed_stmts(src)))


def replace_stmt(body, old, new) -> bool:
    """Replace statement ``old`` (found by identity, at any depth of ``body``) by ``new``."""
    for k, s in enumerate(body):
        if s is old:
            body[k] = new
            return True
        if isinstance(s, If) and (replace_stmt(s.body, old, new) or replace_stmt(s.orelse, old, new)):
            return True
        if isinstance(s, (ForRange, Loop)) and replace_stmt(s.body, old, new):
            return True
    return False
