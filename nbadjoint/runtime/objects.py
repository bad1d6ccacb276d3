"""Runtime support for objects in differentiated code: instances of the user's classes,
dataclasses and ``SimpleNamespace`` records whose attributes hold numbers and arrays.

The adjoint of such an object is a dict from attribute name to the adjoint of that attribute
(attributes no adjoint reached are missing), as the adjoint of a dict is a dict (`tape.getattr_b`,
`tape.setattr_b`).  A namedtuple's fields are its entries: read by name, their adjoint is the
tuple's, entry by entry.
"""

from __future__ import annotations

import copy
import dataclasses
import types

from ..errors import TransformError

# classes whose instances are records: their attributes are the entries the adjoint follows,
# and a checkpointed call that writes into one gets a snapshot of them (registered when a
# program that uses the class is compiled; SimpleNamespace always)
RECORD_CLASSES = {types.SimpleNamespace}      # (a set: looked up at every attribute write checked)
MISSING_ATTR = object()


def register(cls):
    RECORD_CLASSES.add(cls)


def is_record(value) -> bool:
    return value.__class__ in RECORD_CLASSES or dataclasses.is_dataclass(value) and not isinstance(value, type)


def new_object(cls):
    """The object ``cls(...)`` builds, before its ``__init__`` runs (``object.__new__``)."""
    if cls is types.SimpleNamespace:
        return types.SimpleNamespace()
    return object.__new__(cls)


def built(obj, position, init, *args):
    """``obj`` after ``init(*args)`` with ``obj`` inserted at ``position`` among the arguments (the
    primal of ``Cls(...)``: a bare object, then its ``__init__``)."""
    init(*args[:position], obj, *args[position:])
    return obj


def check_class(value, cls, what, where):
    """Raise when ``value`` is not exactly of the class the code was compiled for: the methods
    and attributes the adjoint differentiates are those of ``cls``."""
    if value.__class__ is not cls:
        function, filename, lineno = where
        raise TransformError(f"{what} is a {type(value).__name__} here, but the code was differentiated for "
                             f"a {cls.__name__} (its methods and attributes are those of {cls.__name__})",
                             function=function, filename=filename, lineno=lineno,
                             hint="pass objects of one class to this function, or call a function "
                                  "written for each class")


def check_field(value, attr, where):
    """Raise unless ``value.attr`` is a value stored in the object (not a property, a method or
    a class attribute computed on reading): for an object whose class was not known when the
    code was compiled."""
    cls = value.__class__
    if isinstance(value, tuple) and hasattr(cls, "_fields") and attr in cls._fields:
        return
    d = getattr(value, "__dict__", None)
    if isinstance(d, dict) and attr in d:
        found = class_attribute(cls, attr)
        if found is MISSING_ATTR or not hasattr(type(found), "__set__"):
            return
    found = class_attribute(cls, attr)
    if found is not MISSING_ATTR and not hasattr(type(found), "__get__"):
        return          # a class-level constant
    function, filename, lineno = where
    raise TransformError(f"`.{attr}` of this {cls.__name__} is not a value stored in the object (a property, "
                         "a method or a computed attribute), and its class was not known when the code was "
                         "compiled", function=function, filename=filename, lineno=lineno,
                         hint="read attributes of objects built in the differentiated code or passed to "
                              "the function being differentiated, whose classes are known")


def class_attribute(cls, attr):
    """What the class (or the first of its bases that has it) holds under ``attr`` (MISSING_ATTR: none)."""
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass.__dict__[attr]
    return MISSING_ATTR


def old_attr(x, attr):
    """The value ``x.attr = ...`` is about to replace, for the undo log."""
    return x.__dict__.get(attr, MISSING_ATTR)


def restore_attr(x, attr, old):
    """Undo ``x.attr = ...``."""
    if old is MISSING_ATTR:
        x.__dict__.pop(attr, None)
    else:
        x.__dict__[attr] = old


def set_field(x, attr, value):
    """``x.attr = value`` for a frozen dataclass under construction (its own ``__init__`` writes
    fields the same way)."""
    object.__setattr__(x, attr, value)


def gradient_object(g, x, finish):
    """The gradient of an object argument: an object of its class (copied without running its
    ``__init__``) whose attributes are the gradients of ``x``'s (``finish`` shapes each)."""
    parts = g if isinstance(g, dict) else {}
    values = {k: finish(parts.get(k), v) for k, v in vars(x).items()}
    if type(x) is types.SimpleNamespace:
        return types.SimpleNamespace(**values)
    out = copy.copy(x)
    for k, v in values.items():
        object.__setattr__(out, k, v)
    return out
