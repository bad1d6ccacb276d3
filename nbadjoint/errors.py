"""Every exception class of nbadjoint (this module imports nothing of nbadjoint).

The modules that raise them import them from here; the names stay importable where they were
raised first (``nbadjoint.runtime.tape.AliasError``, ``nbadjoint.profiling.ProfileError``...).
"""

from __future__ import annotations


class TransformError(Exception):
    """Code outside the supported subset, found before anything runs.

    The message names the construct, the function, the file or notebook cell and the line,
    and says what to do instead.
    """

    def __init__(self, message: str, *, function: str | None = None, filename: str | None = None,
                 lineno: int | None = None, source_line: str | None = None, hint: str | None = None):
        self.reason = message
        self.function = function
        self.filename = filename
        self.lineno = lineno
        self.source_line = source_line
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.filename:
            where.append(_pretty_filename(self.filename))
        if self.lineno is not None:
            where.append(f"line {self.lineno}")
        if self.function:
            where.append(f"in {self.function}()")
        text = self.reason
        if where:
            text = f"{text} ({', '.join(where)})"
        if self.source_line:
            text += f"\n    {self.lineno} | {self.source_line.strip()}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class AliasError(RuntimeError):
    """A write into an array that another name still in use (or the caller) would see.

    Raised by the forward sweep when the write is about to happen, with the file and line: the
    adjoint of that other name would miss the write's effect, so no gradient is returned.
    """


class PlacementError(ValueError, TypeError):
    """A placement that cannot be read: not a dict of call-site ids, a value that does not say
    checkpointed or not, or a call site the call tree does not have.

    It is a ValueError and a TypeError (what a bad value and a value of the wrong type raised
    before), so code catching either keeps working.
    """


class RuleError(Exception):
    """A call that the derivative rules cannot differentiate (raised while generating code)."""


class ProfileError(ValueError, RuntimeError):
    """A Profile cannot do what was asked: rerun a profile loaded from JSON, read a damaged or
    foreign JSON file (the message names the file and the field)."""


class ProbeError(RuntimeError):
    """The probe events of a run do not follow the bracketing protocol."""


class SearchLimitReached(RuntimeError):
    """The advisor's exact search visited more nodes than it was allowed."""


class UsageError(Exception):
    """A command-line mistake: printed without a traceback, exit status 2."""


class UserCodeError(Exception):
    """The user's code raised while the command line ran it: printed as one line (the traceback
    with --traceback), exit status 1."""


def _pretty_filename(filename: str) -> str:
    if filename.startswith("<ipython-input-") or "ipykernel_" in filename:
        return "notebook cell"
    return filename


class TemplateError(ValueError):
    """A code template of nbadjoint's own that is not valid or not given what it needs (a bug in
    nbadjoint, found while generating code)."""
