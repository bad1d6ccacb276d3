"""Classes in differentiated code: which objects are records, what their attributes are, and how
their constructors and methods are called.

An object of a class of the user's (or a dataclass, or a ``SimpleNamespace``) is a record: its
attributes are entries, read and written as a dict's are, and its adjoint is a dict from attribute
name to adjoint (see runtime/objects.py).  Its methods, its properties and its ``__init__`` are
user functions of the call tree, called with the object as their first argument, so each call is
a call site (``Lorenz63.step``).  The class of each object must be known where a method is called
or an attribute is read: that of an object built in the function (``m = Model(...)``), of
``self`` in a method, of an argument of the root (the program is compiled per class), of an
argument every caller passes an object of one class (checked when the function is entered), or of
an attribute every method of the class sets to objects of one class (checked at the call).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import sys
import types
import weakref

from ..runtime.objects import MISSING_ATTR, class_attribute, register
from .parse import _LIBRARY_DIRS, is_user_function, load_function, resolve_static

_LIBRARY_MODULES = ("numpy", "scipy", "builtins", "collections", "types", "dataclasses", "abc", "enum",
                    "functools", "typing")
_ATTRIBUTE_HOOKS = ("__getattr__", "__getattribute__", "__setattr__", "__delattr__")


_USER_CLASSES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def is_user_class(cls) -> bool:
    """A class written by the user (in a module file or a notebook cell: it has a method of its
    own, or is a dataclass), or SimpleNamespace."""
    if cls is types.SimpleNamespace:
        return True
    if not isinstance(cls, type):
        return False
    try:
        return _USER_CLASSES[cls]
    except (KeyError, TypeError):
        pass
    found = _user_class(cls)
    try:
        _USER_CLASSES[cls] = found
    except TypeError:
        pass
    return found


def _user_class(cls) -> bool:
    module = cls.__module__ or ""
    if module.split(".")[0] in _LIBRARY_MODULES or module == "nbadjoint" or module.startswith("nbadjoint."):
        return False
    if any(is_user_function(v.__func__ if isinstance(v, (staticmethod, classmethod)) else
                            v.fget if isinstance(v, property) else v)
           for k in cls.__mro__[:-1] for v in vars(k).values()):
        return True
    if not dataclasses.is_dataclass(cls):
        return False
    mod = sys.modules.get(module)
    filename = getattr(mod, "__file__", None)
    if module == "__main__" or filename is None:
        return True
    norm = os.path.normcase(os.path.abspath(filename))
    return not norm.startswith(_LIBRARY_DIRS)


def is_namedtuple(cls) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def record_problem(cls) -> str | None:
    """Why objects of ``cls`` cannot be followed as records (None: they can)."""
    if cls is types.SimpleNamespace:
        return None
    for base in cls.__mro__[1:-1]:
        if base.__module__.split(".")[0] in ("numpy", "builtins", "collections") and base is not object:
            return f"it derives from {base.__module__}.{base.__qualname__}"
    frozen = dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    for hook in _ATTRIBUTE_HOOKS:
        found = _lookup_raw(cls, hook)
        if frozen and hook in ("__setattr__", "__delattr__") and hook in vars(cls) and not is_user_function(found):
            continue            # a frozen dataclass's own (attributes are set once, by its construction)
        if found is not getattr(object, hook, None):
            return f"it defines {hook}"
    if "__slots__" in vars(cls) and "__dict__" not in getattr(cls, "__slots__", ()):
        return "it uses __slots__"
    if type(cls) is not type and type(cls).__module__ != "abc":
        return f"its metaclass is {type(cls).__name__}"
    return None


def raw_attribute(cls, name):
    """What the class (or the first of its bases that has it) holds under ``name`` (None: none)."""
    return _lookup_raw(cls, name)


def _lookup_raw(cls, name):
    found = class_attribute(cls, name)
    return None if found is MISSING_ATTR else found


def lookup(cls, attr):
    """What reading ``obj.attr`` finds on the class: ("method", function), ("property", getter),
    ("static", function), ("classmethod", function), ("other", value) for another descriptor,
    ("constant", value) for a class-level value, or ("field", None) for an instance attribute."""
    value = _lookup_raw(cls, attr) if attr not in ("__class__", "__dict__") else object
    if value is None:
        for klass in cls.__mro__:
            if attr in vars(klass):
                return "constant", None
        return "field", None
    if isinstance(value, staticmethod):
        return "static", value.__func__
    if isinstance(value, classmethod):
        return "classmethod", value.__func__
    if isinstance(value, property):
        return "property", value.fget
    if isinstance(value, types.FunctionType):
        return "method", value
    if hasattr(type(value), "__get__"):
        return "other", value
    return "constant", value


def constructor(cls):
    """How ``cls(...)`` builds its object: ("init", __init__ function), ("fields", [(name,
    default)]) for a dataclass's own ``__init__`` or SimpleNamespace, or ("none", None) when the
    class has no ``__init__`` of its own."""
    if cls is types.SimpleNamespace:
        return "namespace", None
    if _lookup_raw(cls, "__new__") not in (None, object.__new__):
        return "refuse", "it defines __new__"
    init = _lookup_raw(cls, "__init__")
    if dataclasses.is_dataclass(cls) and init is not None and not is_user_function(init):
        fields = [f for f in dataclasses.fields(cls) if f.init]
        return "fields", fields
    if init is None or init is object.__init__:
        return "none", None
    if is_user_function(init):
        return "init", init
    return "refuse", f"its __init__ is {getattr(init, '__qualname__', init)!r}, not Python code nbadjoint can read"


def defining_class(cls, func):
    """The class in ``cls``'s MRO whose namespace holds ``func`` (for ``super()``)."""
    for klass in cls.__mro__:
        if any(v is func or isinstance(v, (staticmethod, classmethod)) and v.__func__ is func
               or isinstance(v, property) and v.fget is func for v in vars(klass).values()):
            return klass
    return cls


def attribute_classes(cls) -> dict:
    """attribute -> class, for attributes every method of ``cls`` (and its bases) sets, as
    ``self.attr = C(...)``, to objects of one user class C (and never to anything else)."""
    found: dict = {}
    other: set = set()
    for klass in cls.__mro__[:-1]:
        for value in vars(klass).values():
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if not is_user_function(func):
                continue
            try:
                info = load_function(func, "_")
            except Exception:       # (its source may be unavailable: nothing is known of it then)
                continue
            self_name = info.node.args.args[0].arg if info.node.args.args else None
            for node in ast.walk(info.node):
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
                for t in targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == self_name:
                        value_node = node.value
                        made = None
                        if isinstance(value_node, ast.Call) and isinstance(node, (ast.Assign, ast.AnnAssign)):
                            made = resolve_static(value_node.func, info, set())
                        if isinstance(made, type) and is_user_class(made) and found.get(t.attr, made) is made:
                            found[t.attr] = made
                        else:
                            other.add(t.attr)
    return {k: v for k, v in found.items() if k not in other}


def returned_class(func, self_class=None):
    """The class of the objects ``func`` returns when every ``return`` of it builds one of one user
    class (``return cls(...)`` in a classmethod: the class it is called on; ``return self`` in a
    method of objects of ``self_class``), else None."""
    cls_param = None
    owner = getattr(func, "__self__", None)
    if isinstance(owner, type):             # a classmethod bound to its class
        func = func.__func__
        cls_param = owner
    if not is_user_function(func):
        return None
    try:
        info = load_function(func, "_")
    except Exception:       # (its source may be unavailable: nothing is known of it then)
        return None
    first = info.node.args.args[0].arg if info.node.args.args else None
    found = set()
    for node in ast.walk(info.node):
        if isinstance(node, ast.Return):
            value = node.value
            if self_class is not None and isinstance(value, ast.Name) and value.id == first:
                found.add(self_class)
                continue
            if not isinstance(value, ast.Call):
                return None
            if cls_param is not None and isinstance(value.func, ast.Name) and value.func.id == first:
                found.add(cls_param)
                continue
            made = resolve_static(value.func, info, set())
            if not (isinstance(made, type) and is_user_class(made)):
                return None
            found.add(made)
    return found.pop() if len(found) == 1 else None


def use(cls):
    """Note that compiled code reads and writes objects of ``cls`` as records."""
    register(cls)
