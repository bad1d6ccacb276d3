"""Errors raised by nbadjoint."""

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


def _pretty_filename(filename: str) -> str:
    if filename.startswith("<ipython-input-") or "ipykernel_" in filename:
        return "notebook cell"
    return filename
