"""Exceptions raised by resilience, each naming where a problem sits in the user's terms.

Bad input never disappears: every rejected value raises a :class:`DataError` that
names the file, the row, the column and the value. Row numbers are the 1-based line
numbers a person sees when opening the file (the header is line 1, so the first data
row of a CSV is row 2); for a spreadsheet, the sheet's own row number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ArgumentError",
    "DataError",
    "DataProblem",
    "OutputError",
    "ResilienceError",
    "UnknownNameError",
]


class ResilienceError(Exception):
    """Base class for every error resilience raises on purpose."""


@dataclass(frozen=True)
class DataProblem:
    """One rejected value: where it is, what it is, and why it was rejected.

    Parameters
    ----------
    file
        Path (or name) of the file the value came from.
    row
        1-based line number in that file (header = 1), or ``None`` for a whole-file
        problem such as a missing column.
    column
        Column name as written in the file.
    value
        The offending value as read (``None`` when the cell is missing).
    reason
        Why it was rejected, in plain words.
    """

    file: str
    row: int | None
    column: str
    value: object
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}" + (f", row {self.row}" if self.row is not None else "")
        return f"{where}, column {self.column!r}: {self.reason} (value: {self.value!r})"


class DataError(ResilienceError, ValueError):
    """Input data was rejected; carries every :class:`DataProblem` found.

    The message lists the first problems in full (file, row, column, value, reason)
    and counts the rest, so that a user can fix the file without a debugger.
    """

    max_listed = 20

    def __init__(self, problems: Sequence[DataProblem]) -> None:
        if not problems:
            raise ValueError("DataError needs at least one problem")
        self.problems: tuple[DataProblem, ...] = tuple(problems)
        lines = [str(p) for p in self.problems[: self.max_listed]]
        more = len(self.problems) - self.max_listed
        if more > 0:
            lines.append(f"... and {more} more problem(s)")
        head = (
            "1 problem in input data"
            if len(self.problems) == 1
            else f"{len(self.problems)} problems in input data"
        )
        super().__init__(head + ":\n  " + "\n  ".join(lines))

    @classmethod
    def single(
        cls,
        file: str | Path,
        row: int | None,
        column: str,
        value: object,
        reason: str,
    ) -> DataError:
        """Build an error holding one problem."""
        return cls([DataProblem(str(file), row, column, value, reason)])


class UnknownNameError(ResilienceError, KeyError):
    """A user-facing name (importer, bloc, commodity, scenario) is not known.

    The message lists the closest known names.
    """

    def __init__(self, kind: str, name: str, suggestions: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ArgumentError(ResilienceError, ValueError):
    """An argument of a command or function is not acceptable.

    The message names the argument, the value given, why it was refused and what is
    allowed, e.g. ``--adversary 'FRA': a member of the allied bloc 'EU' ...``.
    """

    def __init__(self, argument: str, value: object, reason: str, allowed: str = "") -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        self.allowed = allowed
        text = f"{argument} {value!r}: {reason}"
        super().__init__(text + (f"; allowed: {allowed}" if allowed else ""))


class OutputError(ResilienceError):
    """A result could not be written where the user asked; names the path and the cause."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"cannot write {path}: {cause}")
