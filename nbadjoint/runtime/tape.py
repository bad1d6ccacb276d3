"""Runtime support for generated adjoint code: the tape, byte accounting and undo helpers.

Generated forward sweeps push onto ``Context.tape`` (a plain Python list, so a push is one
``append``); backward sweeps pop.  Adjoint values start as ``None`` ("no adjoint yet").
"""

from __future__ import annotations

import operator
import sys

import numpy as np

from ..errors import AliasError
from .memory import keep_freed_memory as _keep_freed_memory
from .objects import RECORD_CLASSES as _RECORD_CLASSES, is_record as _is_record
# (generated code calls these as _rt.<name>)
from .objects import (built, check_class, check_field, new_object, old_attr, restore_attr,  # noqa: F401
                      set_field)
from .vjp import real_for as _real_for
from .vjp import seq_marker as _seq_marker
from .vjp import unbroadcast as _unbroadcast

_ndarray = np.ndarray
_float = float
_getrefcount = sys.getrefcount


def _refs_held_once() -> int:
    """What ``sys.getrefcount`` says, inside a helper, of an object its caller holds in one local
    name and passes to it: 3 on CPython 3.8-3.13 (the caller's name, the helper's parameter,
    getrefcount's argument). The one place the reference-count trick is calibrated: a helper may
    write into an adjoint in place only when nothing else refers to it."""
    def helper(value):
        return _getrefcount(value)
    held = []
    return helper(held)


REFS_HELD_ONCE = _refs_held_once()
_operator_add = operator.add
_TooHardError = getattr(np, "exceptions", np).TooHardError


class Context:
    """State shared by every generated function during one run."""

    __slots__ = ("tape", "ck", "rec", "loops")

    def __init__(self, ck: dict[str, bool], rec=None):
        _keep_freed_memory()
        self.tape: list = []
        self.ck = ck
        self.rec = rec
        self.loops: dict = {}        # loop id -> [LoopRun] (see runtime/loop_checkpoint.py)


# Classes of the scalars a guarded parameter may hold (arithmetic among them gives shape ()).
SCALARS = frozenset({float, int, bool, np.float64, np.float32, np.int64, np.int32, np.bool_})


_SCALARS_SUPERSET = SCALARS.issuperset


def scalars(*values) -> bool:
    """True when every argument is a scalar (see ``SCALARS``): the guard of scalar parameters."""
    return _SCALARS_SUPERSET(map(type, values))


def scalar_items(x) -> bool:
    """True when ``x`` is a list or tuple of scalars (see ``SCALARS``)."""
    cls = x.__class__
    return (cls is list or cls is tuple) and SCALARS.issuperset(map(type, x))


def float_vector(x) -> bool:
    """True when ``x`` is exactly a 1-D ``np.ndarray`` of floats (its entries are NumPy scalars)."""
    return x.__class__ is _ndarray and x.ndim == 1 and x.dtype.kind == "f"


def same_shape(*arrays) -> bool:
    """True when every argument is exactly an ``np.ndarray`` and all have one shape."""
    first = arrays[0]
    if first.__class__ is not _ndarray:
        return False
    shape = first.shape
    for a in arrays[1:]:
        if a.__class__ is not _ndarray or a.shape != shape:
            return False
    return True


def nbytes_of(value) -> int:
    """Bytes a tape entry accounts for: array nbytes, 8 per scalar, 0 for None."""
    if value is None:
        return 0
    if isinstance(value, _ndarray):
        return int(value.nbytes)
    if isinstance(value, (tuple, list)):
        return sum(nbytes_of(v) for v in value)
    if isinstance(value, dict):
        return sum(nbytes_of(v) for v in value.values())
    if value.__class__ in _RECORD_CLASSES:
        return sum(nbytes_of(v) for v in value.__dict__.values())
    if isinstance(value, _ContainerSnapshot):
        return 8 * len(value.items) + nbytes_of(value.inner)    # the entries themselves are not copied
    return 8


# ---------------------------------------------------------------------------------------------
# adjoint accumulation
# ---------------------------------------------------------------------------------------------

def add(a, b):
    """Sum of two adjoints, either of which may be None; containers add entry by entry."""
    if a is None:
        return b
    if b is None:
        return a
    if a.__class__ is _ndarray:
        # a is this sum's only reference and owns its data: accumulate in place (no new array)
        if a.base is None and _getrefcount(a) <= REFS_HELD_ONCE and b.__class__ is _ndarray and b.shape == a.shape \
                and b.dtype == a.dtype:
            a += b
            return a
        return a + b
    if a.__class__ is _float:
        return a + b
    if a.__class__ is list and b.__class__ is list and len(a) == len(b) and _SCALARS_SUPERSET(map(type, a)) \
            and _SCALARS_SUPERSET(map(type, b)):
        return list(map(_operator_add, a, b))      # lists of scalars (no None entries)
    if isinstance(a, (list, tuple)):
        return type(a)(add(x, y) for x, y in zip(a, b)) if isinstance(a, tuple) else [add(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = add(out.get(k), v)
        return out
    return a + b


def meta(value):
    """What a backward sweep needs to know of a value it does not keep: its shape or length."""
    if isinstance(value, _ndarray):
        return (value.shape, value.dtype)
    if isinstance(value, list):
        return [None] * len(value)
    if isinstance(value, tuple):
        make = getattr(value.__class__, "_make", None)
        return make((None,) * len(value)) if make is not None else (None,) * len(value)
    if isinstance(value, dict):
        return dict.fromkeys(value)
    return None


def _zero_container(value):
    """A fresh adjoint container shaped like ``value`` (an array, list, tuple, dict or meta)."""
    if isinstance(value, _ndarray):
        return np.zeros(value.shape, dtype=np.result_type(value.dtype, np.float64))
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple) and isinstance(value[1], np.dtype):
        return np.zeros(value[0], dtype=np.result_type(value[1], np.float64))
    if isinstance(value, list):
        return [None] * len(value)
    if isinstance(value, tuple):
        return [None] * len(value)
    if isinstance(value, dict):
        return dict.fromkeys(value)
    raise TypeError(f"cannot build an adjoint for a value of type {type(value).__name__}")


def _own(x_b, shared_refs: int):
    """Return ``x_b`` if nothing else refers to it, else a copy (so it may be written in place)."""
    if _getrefcount(x_b) > shared_refs:
        return x_b.copy()
    return x_b


def sole_list(x_b) -> bool:
    """``x_b`` is a list nothing but the caller's one name refers to: it may be changed in place."""
    return x_b.__class__ is list and _getrefcount(x_b) <= REFS_HELD_ONCE


def own_list(x_b, like):
    """``x_b`` as a list that only the caller refers to: a new list of None for None, a copy
    when anything else may refer to it (so that it can be added into in place)."""
    if x_b is None:
        return [None] * len(like)
    if x_b.__class__ is list and _getrefcount(x_b) <= REFS_HELD_ONCE:
        return x_b
    return list(x_b)


def getitem_b(x_b, like, index, y_b):
    """Adjoint of ``y = x[index]``: add ``y_b`` into ``x_b`` at ``index``.

    ``like`` is ``x`` itself or its ``meta``.  ``x_b`` is written in place only when no other
    name refers to it.
    """
    if y_b is None:
        return x_b
    if index.__class__ is int and (x_b.__class__ is list or (x_b is None and like.__class__ is list)):
        if x_b is None:
            x_b = [None] * len(like)
        elif _getrefcount(x_b) > REFS_HELD_ONCE:
            x_b = list(x_b)
        old = x_b[index]
        x_b[index] = y_b if old is None else old + y_b
        return x_b
    if x_b is None:
        x_b = _zero_container(like)
        if isinstance(x_b, (list, dict)):
            if isinstance(index, slice):
                x_b[index] = list(y_b)
            else:
                x_b[index] = y_b
            return x_b
        _scatter_add(x_b, index, y_b)
        return x_b
    if isinstance(x_b, _ndarray):
        x_b = _own(x_b, REFS_HELD_ONCE + 1)     # (one more: _own's own parameter)
        _scatter_add(x_b, index, y_b)
        return x_b
    if isinstance(x_b, tuple):
        x_b = list(x_b)
    else:
        x_b = _own(x_b, REFS_HELD_ONCE + 1)
    if isinstance(index, slice):
        x_b[index] = [add(a, b) for a, b in zip(x_b[index], y_b)]
    else:
        x_b[index] = add(x_b[index], y_b)
    return x_b


_BASIC = (int, slice, type(None), type(Ellipsis), np.integer)


def _is_basic(index) -> bool:
    if isinstance(index, tuple):
        return all(isinstance(i, _BASIC) for i in index)
    return isinstance(index, _BASIC)


def _scatter_add(x_b, index, y_b):
    """x_b[index] += y_b, adding repeated entries of a fancy index once each."""
    y_b = _real_for(x_b, y_b)
    if _is_basic(index):
        x_b[index] += y_b
    else:
        np.add.at(x_b, index, y_b)


def setitem_b(x_b, index):
    """Adjoint of ``x[index] = v``: return (adjoint flowing to ``v``, ``x_b`` zeroed at index)."""
    if x_b is None:
        return None, None
    if isinstance(x_b, _ndarray):
        part = x_b[index]
        part = part.copy() if isinstance(part, _ndarray) else part
        if not _is_basic(index):
            _drop_overwritten(part, x_b.shape, index)
        x_b = _own(x_b, REFS_HELD_ONCE + 1)
        x_b[index] = 0
        return part, x_b
    if not isinstance(x_b, (tuple, list, dict)):
        # a number: the adjoint of a 0-d array (x[...] = v, x[()] = v) takes the scalar form
        if index is Ellipsis or index == ():
            return x_b, None
        raise TypeError(f"the adjoint of a write into an array is a number ({type(x_b).__name__}), "
                        f"but the write has the index {index!r}")
    if isinstance(x_b, tuple):
        x_b = list(x_b)
    else:
        x_b = _own(x_b, REFS_HELD_ONCE + 1)
    part = x_b[index]
    x_b[index] = [None] * len(part) if isinstance(index, slice) else None
    return part, x_b


def _drop_overwritten(part, shape, index):
    """Zero the entries of ``part`` (the adjoint flowing to ``v`` in ``x[index] = v``) whose place
    a later entry of the same fancy index writes again: NumPy keeps the last write only."""
    if index.__class__ is list or index.__class__ is _ndarray:
        rows = np.asarray(index)
        if rows.dtype == bool or rows.size < 2:
            return                          # a mask names each place once
        if rows.dtype.kind in "iu" and shape:
            # one integer index on the first axis: a repeated entry repeats a whole row
            _zero_all_but_last(part.reshape(rows.size, -1), rows.ravel() % shape[0])
            return
    size = 1
    for n in shape:
        size *= n
    places = np.arange(size, dtype=np.intp).reshape(shape)[index].ravel()
    _zero_all_but_last(part.reshape(-1), places)


def _zero_all_but_last(rows, places):
    """rows[k] = 0 wherever places[k] occurs again later in ``places``."""
    _, last_from_end = np.unique(places[::-1], return_index=True)
    if last_from_end.size == places.size:
        return                              # no place written twice
    keep = np.zeros(places.size, dtype=bool)
    keep[places.size - 1 - last_from_end] = True
    rows[~keep] = 0                         # rows is a view of part, a fresh copy


def old_item(x, index):
    """The entries ``x[index] = ...`` is about to overwrite (a copy), for the undo log."""
    if isinstance(x, _ndarray):
        part = x[index]
        return part.copy() if isinstance(part, _ndarray) else part
    if isinstance(x, dict) and index not in x:
        return _MISSING
    part = x[index]
    return list(part) if isinstance(index, slice) else part


class _Missing:
    __slots__ = ()

    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def restore_item(x, index, old):
    """Undo ``x[index] = ...`` in place."""
    if old is _MISSING:
        del x[index]
    else:
        x[index] = old


# -- objects (see runtime/objects.py): the adjoint of an object is a dict by attribute ---------------

def _position(like, attr):
    """The entry of a namedtuple (or its meta) that the field ``attr`` is, else None."""
    fields = getattr(like.__class__, "_fields", None)
    if isinstance(like, tuple) and fields is not None:
        return fields.index(attr)
    return None


def getattr_b(x_b, like, attr, y_b):
    """Adjoint of ``y = x.attr``: add ``y_b`` into ``x_b['attr']`` (a namedtuple: at the field's
    entry).  ``x_b`` is changed in place only when it is a dict built here."""
    if y_b is None:
        return x_b
    k = _position(like, attr) if like is not None else None
    if k is not None:
        parts = [None] * len(like) if x_b is None else list(x_b)
        old = parts[k]
        parts[k] = y_b if old is None else add(old, y_b)
        return parts
    if x_b is None:
        return {attr: y_b}
    out = _own(x_b, REFS_HELD_ONCE + 1)        # (in place when nothing else refers to it)
    old = out.get(attr)
    out[attr] = y_b if old is None else add(old, y_b)
    return out


def setattr_b(x_b, attr):
    """Adjoint of ``x.attr = v``: (adjoint flowing to ``v``, ``x_b`` without the attribute)."""
    if x_b is None:
        return None, None
    if not isinstance(x_b, dict):
        raise TypeError(f"the adjoint of an object written by attribute is a {type(x_b).__name__}")
    if attr not in x_b:
        return None, x_b
    out = _own(x_b, REFS_HELD_ONCE + 1)
    return out.pop(attr), out



def append_b(x_b):
    """Adjoint of ``x.append(v)``: return (adjoint flowing to ``v``, ``x_b`` without its last entry)."""
    if x_b is None:
        return None, None
    if x_b.__class__ is not list or _getrefcount(x_b) > REFS_HELD_ONCE:
        x_b = list(x_b)
    v_b = x_b.pop()
    return v_b, x_b


def container_b(x_b, n):
    """Split the adjoint of a tuple or list literal of ``n`` entries into its entries."""
    if x_b is None:
        return (None,) * n
    if isinstance(x_b, _ndarray):
        return tuple(x_b[i] for i in range(n))
    return tuple(x_b)


def array_meta(value):
    """Shape and dtype of an array being unpacked (None for tuples and lists)."""
    if value.__class__ is _ndarray:
        return (value.shape, value.dtype)
    return None


def unpack_b(parts, like):
    """Adjoint of ``a, b, ... = value`` from the adjoints of the parts (None: no adjoint)."""
    if like.__class__ is _ndarray:
        shape, dtype = like.shape, like.dtype
    elif like.__class__ is tuple and len(like) == 2 and like[0].__class__ is tuple \
            and isinstance(like[1], np.dtype):
        shape, dtype = like            # array_meta of an array
    else:
        return parts
    out = np.zeros(shape, dtype=np.result_type(dtype, np.float64))
    for k, p in enumerate(parts):
        if p is not None:
            out[k] = p
    return out


def dict_b(x_b, keys):
    if x_b is None:
        return (None,) * len(keys)
    return tuple(x_b.get(k) for k in keys)


# ---------------------------------------------------------------------------------------------
# broadcasting
# ---------------------------------------------------------------------------------------------



def bshape(x, result):
    """Shape marker of operand ``x`` of a broadcasting operation: None when no sum-back is needed."""
    if result.__class__ is _float:
        return None
    if result.__class__ is list or result.__class__ is tuple:
        return _seq_marker(x, result)       # list/tuple + and *: where x sits in the result
    sx = x.shape if x.__class__ is _ndarray else np.shape(x)
    sr = result.shape if result.__class__ is _ndarray else np.shape(result)
    if sx == sr:
        return None
    return sx


def ub(contribution, marker):
    """Sum a broadcast contribution back to the operand's shape (``marker`` from ``bshape``)."""
    if marker is None:
        return contribution
    return _sum_to(contribution, marker)


def summed(contribution):
    """Sum a contribution to a scalar operand (its adjoint is the total of the broadcast one)."""
    if contribution.__class__ is _ndarray:
        return contribution.sum()
    return _sum_to(contribution, ())


def ubl(contribution, x):
    """Sum a broadcast contribution back to the shape of ``x`` (a value the sweep kept)."""
    if contribution.__class__ is _float:
        return contribution
    sx = x.shape if x.__class__ is _ndarray else np.shape(x)
    sc = contribution.shape if contribution.__class__ is _ndarray else np.shape(contribution)
    if sc == sx:
        return contribution
    return _sum_to(contribution, sx)


def _sum_to(c, shape):
    """Sum ``c`` back to ``shape`` (``()`` for a scalar)."""
    return _unbroadcast(c, None if shape == () else shape)


def fit(part, marker):
    """Adjoint flowing to ``v`` in ``x[index] = v``: sum back when ``v`` was broadcast; none when
    ``x`` holds integers or booleans (the value is cut to them: piecewise constant)."""
    if part is None or marker is _DISCRETE:
        return None
    if part.__class__ is list:                     # x[a:b] = [...] on a list: entry by entry
        if not marker or marker[0] != len(part):
            raise TypeError("assigning a sequence of another length to a slice of a list (x[a:b] = ...) is "
                            "not differentiated; build a new list instead, e.g. x = x[:a] + [...] + x[b:]")
        return part
    return _sum_to(part, marker)


def shape(x):
    """Shape marker for the value written by ``x[index] = v``."""
    if x.__class__ is _float:
        return ()
    return np.shape(x)


class _Discrete:
    __slots__ = ()

    def __repr__(self):
        return "<written into integers>"


_DISCRETE = _Discrete()


def write_shape(target, x):
    """Marker for the value ``x`` written by ``target[index] = x``: its shape, or _DISCRETE when
    ``target`` is an integer or boolean array (nothing of ``x`` flows through the write)."""
    if target.__class__ is _ndarray and target.dtype.kind in "biu":
        return _DISCRETE
    if x.__class__ is _float:
        return ()
    return np.shape(x)


def snapshot(value, _depth=0):
    """A copy of an argument a checkpointed callee writes into (its state before the call).

    A container's snapshot also holds copies of the arrays in it (the callee may write into
    them: ``acc[0] += ...``), so that restoring puts their contents back too."""
    if isinstance(value, _ndarray):
        return value.copy() if value.flags.writeable else None
    if _depth > 3:
        return None
    if isinstance(value, list):
        return _ContainerSnapshot(list(value), [snapshot(v, _depth + 1) for v in value])
    if isinstance(value, dict):
        return _ContainerSnapshot(dict(value), {k: snapshot(v, _depth + 1) for k, v in value.items()})
    if isinstance(value, tuple):
        return _ContainerSnapshot(value, [snapshot(v, _depth + 1) for v in value])
    if _is_record(value):            # an object: its attributes
        items = dict(value.__dict__)
        return _ContainerSnapshot(items, {k: snapshot(v, _depth + 1) for k, v in items.items()})
    return None                      # immutable: nothing can change it


class _ContainerSnapshot:
    """A list, dict or tuple argument before a call: its entries, and copies of the arrays among them."""
    __slots__ = ("items", "inner")

    def __init__(self, items, inner):
        self.items = items
        self.inner = inner


def restore_snapshot(value, snap):
    """Put an argument back in the state the snapshot recorded, in place (the arrays a container
    held before the call get their contents back)."""
    if snap is None:
        return
    if isinstance(value, _ndarray):
        np.copyto(value, snap)
        return
    items, inner = snap.items, snap.inner
    if isinstance(value, list):
        value[:] = items
        for item, sub in zip(items, inner):
            restore_snapshot(item, sub)
    elif isinstance(value, dict):
        value.clear()
        value.update(items)
        for key, sub in inner.items():
            restore_snapshot(items[key], sub)
    elif isinstance(value, tuple):
        for item, sub in zip(items, inner):
            restore_snapshot(item, sub)
    else:                            # an object (see snapshot)
        state = value.__dict__
        state.clear()
        state.update(items)
        for key, sub in inner.items():
            restore_snapshot(items[key], sub)


def check_alias(written, other, message):
    """Raise AliasError if writing into ``written`` would also change ``other``."""
    if overlaps(written, other):
        raise AliasError(message)


def check_own_entry(obj, attr, where):
    """Before a write into the value ``obj.attr`` holds (``self.u[1:] += ...``, ``self.log.append``):
    it must be the object's own, held by no other attribute of it (the adjoint follows the write
    through ``obj.attr`` only), and not a class attribute (state every object shares)."""
    state = getattr(obj, "__dict__", None)
    if state is None:
        return
    value = state.get(attr, state)
    function, filename, lineno = where
    if value is state:          # not the object's own: found on the class
        shared = getattr(type(obj), attr, None)
        if isinstance(shared, (_ndarray, list, dict)) or _is_record(shared):
            from ..errors import TransformError
            raise TransformError(f"writing into `.{attr}`, an attribute of the class {type(obj).__name__} that all "
                                 "its objects share (global state): differentiated code never changes it",
                                 function=function, filename=filename, lineno=lineno,
                                 hint=f"give each object its own copy in __init__, e.g. "
                                      f"self.{attr} = {type(obj).__name__}.{attr}.copy()")
        return
    if not isinstance(value, (_ndarray, list, dict)) and value.__class__ not in _RECORD_CLASSES:
        return
    for other_attr, other in state.items():
        if other_attr != attr and overlaps(value, other):
            raise AliasError(f"writing into `.{attr}` also changes `.{other_attr}` of the same "
                             f"{type(obj).__name__}, which holds the same {type(value).__name__} (or part of it): "
                             f"the adjoint would miss that dependence ({filename}, line {lineno}, in {function}())"
                             f"\n  hint: keep a copy in one of them, e.g. self.{other_attr} = self.{attr}.copy()")


def check_entry_alias(container, other, message, attributes=None, deep=()):
    """Raise AliasError if writing into the arrays ``container`` holds would also change ``other``
    (with ``attributes``: the values an object holds in those attributes, and for those in
    ``deep`` what these values hold)."""
    if other is None:
        return
    if attributes is not None and _is_record(container):
        held = container.__dict__
        if any(a in held and (overlaps(held[a], other) or a in deep and _entry_overlaps(held[a], other, 1))
               for a in attributes):
            raise AliasError(message)
        return
    if _entry_overlaps(container, other, 0):
        raise AliasError(message)


def _entry_overlaps(container, other, depth) -> bool:
    if depth > 3:
        return False
    if isinstance(container, (list, tuple)):
        items = container
    elif isinstance(container, dict):
        items = container.values()
    elif _is_record(container):
        items = container.__dict__.values()
    else:
        return False
    for item in items:
        if item is other and (isinstance(other, (list, dict)) or other.__class__ in _RECORD_CLASSES) \
                or isinstance(item, _ndarray) and overlaps(item, other):
            return True         # (a list, dict or object held is changed in place too)
        if _entry_overlaps(item, other, depth + 1):
            return True
    return False


def overlaps(written, other, _depth=0) -> bool:
    """Would writing into ``written`` also change ``other`` (the same object, memory they share,
    or an entry of ``other`` if it is a container)?"""
    if not isinstance(written, (_ndarray, list, dict)) and written.__class__ not in _RECORD_CLASSES:
        return False                        # numbers are never written in place
    if other is written:
        return True
    if other.__class__ is _ndarray and written.__class__ is _ndarray:
        return np.may_share_memory(other, written) and _shares_memory(other, written)
    if _depth < 3 and isinstance(other, (list, tuple)):
        return any(overlaps(written, item, _depth + 1) for item in other)
    if _depth < 3 and isinstance(other, dict):
        return any(overlaps(written, item, _depth + 1) for item in other.values())
    if _depth < 3 and other.__class__ in _RECORD_CLASSES:
        return any(overlaps(written, item, _depth + 1) for item in other.__dict__.values())
    return False


def _shares_memory(a, b) -> bool:
    """Exact test for arrays whose bounds overlap (interleaved slices share nothing); when the
    exact answer is too costly to find, assume they share."""
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except _TooHardError:
        return True


def probe_call(rec, site, phase, fn, *args):
    """Call ``fn`` inside a recorder bracket (used by the probed variant of generated code)."""
    rec.enter(site, phase)
    result = fn(*args)
    rec.leave(site, phase)
    return result
