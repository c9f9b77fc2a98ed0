"""Read upstream CSV files as text, with the line number of every record.

Every adapter reads its CSV with all cells as text and parses each column explicitly, so
that a bad cell becomes our :class:`~resilience.errors.DataError` naming the file, the
line, the column and the value, never a polars exception.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.completeness import check_csv_complete, check_text_bytes

__all__ = ["ROW_COLUMN", "parse_whole_numbers", "read_text_csv"]

#: Provenance column: the 1-based line of each record in its file (header = line 1).
ROW_COLUMN = "source_row"


def read_text_csv(path: Path, *, required: Sequence[str]) -> pl.DataFrame:
    """Read a CSV with every cell as stripped text (empty -> null) plus ``source_row``.

    ``source_row`` is the 1-based line number of each record (header = line 1), also when
    a quoted cell spans several lines. Wholly empty lines are dropped (they hold no data).

    Raises
    ------
    resilience.errors.DataError
        When the file is empty, header-only, UTF-16, cut short (see
        :func:`resilience.ingest.completeness.check_csv_complete`) or not readable as CSV
        (naming the file), or a required column is missing from the header (naming the
        file and each missing column; a header read as one cell holding ``;`` or a tab
        says which separator the file seems to use).
    """
    path = Path(path)
    with path.open("rb") as f:
        check_text_bytes(path, f.read(4096))
    try:
        raw = pl.read_csv(path, infer_schema=False, raise_if_empty=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        check_csv_complete(path)  # a cut or header-only file: the clearer message
        with path.open("rb") as f:
            first = f.readline().decode("utf-8-sig", errors="replace").strip()
        hint = _separator_hint([first]) if "," not in first else ""
        raise DataError.single(
            str(path), 1 if hint else None, "(file)", None, f"not a readable CSV file{hint} ({exc})"
        ) from exc
    raw = raw.rename({c: c.strip() for c in raw.columns})
    missing = [c for c in required if c not in raw.columns]
    if missing:
        hint = _separator_hint(raw.columns)
        raise DataError(
            [
                DataProblem(str(path), None, c, None, "required column is missing" + hint)
                for c in missing
            ]
        )
    check_csv_complete(path)
    frame = raw.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in raw.columns
    ).with_columns(pl.Series(ROW_COLUMN, _line_numbers(path, raw.height), dtype=pl.Int64))
    empty = pl.all_horizontal(pl.col(c).is_null() for c in raw.columns)
    return frame.filter(~empty)


def _separator_hint(columns: Sequence[str]) -> str:
    """`` (the header reads as one cell holding ';': ...)`` for a wrong separator."""
    if len(columns) != 1:
        return ""
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if sep in columns[0]:
            return (
                f" (the header reads as one cell {columns[0][:60]!r}: the file seems "
                f"{name}-separated; a comma-separated CSV is expected)"
            )
    return ""


def _line_numbers(path: Path, height: int) -> list[int]:
    """Line on which each CSV record starts (header on line 1)."""
    data = path.read_bytes()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if lines == height + 1:
        return list(range(2, height + 2))
    # A quoted cell holds a line break: let the csv module count physical lines.
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    starts: list[int] = []
    previous_end = 0
    for i, _record in enumerate(reader):
        if i > 0:
            starts.append(previous_end + 1)
        previous_end = reader.line_num
    if len(starts) != height:
        raise DataError.single(
            str(path), None, "(file)", None, "could not align CSV records with line numbers"
        )
    return starts


def parse_whole_numbers(
    frame: pl.DataFrame,
    column: str,
    *,
    file: str | Path,
    out: str | None = None,
    pattern: str = r"^\d+$",
    reason: str = "not a whole number",
) -> pl.DataFrame:
    """Add ``out`` (Int32, default: replace ``column``) from a text column of whole numbers.

    Every cell not matching ``pattern`` (after stripping) is reported with its line.
    """
    raw = pl.col(column).str.strip_chars()
    bad = frame.filter(~raw.str.contains(pattern).fill_null(False))
    if bad.height:
        raise DataError(
            [
                DataProblem(str(file), row, column, value, reason)
                for value, row in bad.select(column, ROW_COLUMN).head(50).iter_rows()
            ]
        )
    return frame.with_columns(raw.cast(pl.Int32).alias(out or column))
