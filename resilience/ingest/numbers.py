"""Parse numeric cells as statistical agencies write them, rejecting what is not a number.

Agencies write ``"1,900"`` (thousands separators), ``W`` (withheld to avoid disclosing
company data), ``NA`` / ``—`` / ``..`` (not available) and sometimes footnote marks. A
withheld value becomes null with a flag (never zero); a missing value becomes null; any
other text is an error naming the file, row, column and value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem

__all__ = ["MISSING_TOKENS", "WITHHELD_TOKENS", "parse_numbers"]

WITHHELD_TOKENS: tuple[str, ...] = ("W",)
MISSING_TOKENS: tuple[str, ...] = ("", "NA", "N/A", "na", "n.a.", "—", "–", "-", "--", "..", "XX")


def parse_numbers(
    frame: pl.DataFrame,
    column: str,
    *,
    file: str | Path,
    out: str | None = None,
    row_column: str = "source_row",
    withheld: Iterable[str] = WITHHELD_TOKENS,
    missing: Iterable[str] = MISSING_TOKENS,
) -> pl.DataFrame:
    """Add ``out`` (Float64) and ``out + "_withheld"`` (Bool) parsed from ``frame[column]``.

    Parameters
    ----------
    frame
        Frame whose ``column`` holds text as read from the file.
    column
        Column to parse (its name as in the file, used in messages).
    file
        File name for messages.
    out
        Name of the parsed column; defaults to ``column``.
    row_column
        Column holding the 1-based source line of each row.
    withheld, missing
        Tokens meaning "withheld" (null + flag) and "not available" (null).

    Raises
    ------
    resilience.errors.DataError
        For every cell that is none of: a number, a withheld token, a missing token.
    """
    out = out or column
    withheld = tuple(withheld)
    missing = tuple(missing)
    raw = pl.col(column).cast(pl.String).str.strip_chars()
    cleaned = raw.str.replace_all(",", "", literal=True).str.replace_all(" ", "", literal=True)
    parsed = frame.select(
        raw.alias("_raw"),
        cleaned.cast(pl.Float64, strict=False).alias("_num"),
        pl.col(row_column),
    )
    is_withheld = pl.col("_raw").is_in(list(withheld))
    is_missing = pl.col("_raw").is_null() | pl.col("_raw").is_in(list(missing))
    bad = parsed.filter(pl.col("_num").is_null() & ~is_withheld & ~is_missing)
    nonfinite = parsed.filter(
        pl.col("_num").is_not_null() & ~pl.col("_num").is_finite() & ~is_missing & ~is_withheld
    )
    bad = pl.concat([bad, nonfinite])
    if bad.height:
        raise DataError(
            [
                DataProblem(str(file), row, column, value, "not a number")
                for value, _, row in bad.head(50).iter_rows()
            ]
        )
    flags = parsed.select(
        pl.when(is_withheld | is_missing).then(None).otherwise(pl.col("_num")).alias(out),
        is_withheld.fill_null(False).alias(f"{out}_withheld"),
    )
    return frame.with_columns(flags)
