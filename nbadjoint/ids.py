"""Ids shared by the code generator, the profiler and the notebook front end (imports nothing)."""

ROOT_ID = "<root>"
"""The id of the root of a call tree: the recorder's bracket around a whole run and the id of the
root node in trees and profiles.  The root is not a call site (call sites are
``caller:lineno:callee``), so it cannot clash with one."""

MARKER_ATTRIBUTE = "__nbadjoint__"
"""The attribute ``@nba.adjoint`` sets (to True) on a function: it is part of the differentiated
call tree even where it is defined in an installed package."""

__all__ = ["ROOT_ID", "MARKER_ATTRIBUTE"]
