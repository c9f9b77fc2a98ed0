"""Shared plumbing for the production adapters (WMD, IEA, bp/OWID, WNA).

Private helpers, no business logic: read a CSV as text with the 1-based line number of
each record, parse integer years, reject negative numbers in the column the user sees,
report duplicate keys with both rows, drop recognised aggregates explicitly (logged), and
validate the final :class:`~resilience.schemas.tables.SourceProduction` frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.text import read_text_csv
from resilience.schemas.tables import SourceProduction
from resilience.schemas.validate import validate_frame

__all__ = [
    "KEY",
    "check_unique",
    "drop_aggregates",
    "finish",
    "parse_years",
    "read_text_csv",
    "reject_negative",
]

#: Key of a production row as a source states it.
KEY = ("year", "source_commodity", "source_stage", "country_iso3")


def parse_years(frame: pl.DataFrame, column: str, *, file: str, out: str = "year") -> pl.DataFrame:
    """Add ``out`` (Int32) parsed from a text column of whole years; reject anything else."""
    text = pl.col(column).str.strip_chars()
    parsed = frame.with_columns(
        text.str.replace(r"\.0+$", "").cast(pl.Int32, strict=False).alias("_year")
    )
    bad = parsed.filter(pl.col("_year").is_null() | ~pl.col("_year").is_between(1900, 2100))
    if bad.height:
        raise DataError(
            [
                DataProblem(file, row, column, value, "not a year")
                for value, row in bad.select(column, "source_row").head(50).iter_rows()
            ]
        )
    return parsed.drop(out, strict=False).rename({"_year": out})


def reject_negative(frame: pl.DataFrame, parsed: str, *, file: str, column: str) -> None:
    """Raise naming file/row/column/value for each negative value in ``parsed``."""
    bad = frame.filter(pl.col(parsed) < 0)
    if bad.height:
        raise DataError(
            [
                DataProblem(file, row, column, value, "negative quantity")
                for value, row in bad.select(parsed, "source_row").head(50).iter_rows()
            ]
        )


def check_unique(
    frame: pl.DataFrame,
    keys: Sequence[str],
    *,
    file: str,
    column: str,
    describe: Mapping[str, str] | None = None,
) -> None:
    """Raise one problem per repeated key, naming the repeat's row and the first row.

    Parameters
    ----------
    frame
        Frame with ``keys`` and ``source_row``.
    keys
        Columns forming the key.
    file
        File name for messages.
    column
        Column(s) to name in the message, as the user sees them in the file.
    describe
        ``{label: column}``: values that describe the key in the message, labelled as
        the user sees them in the file (defaults to the key columns).
    """
    describe = dict(describe or {k: k for k in keys})
    dup = frame.filter(pl.struct(*keys).is_duplicated())
    if not dup.height:
        return
    first = dup.group_by(*keys).agg(pl.col("source_row").min().alias("_first"))
    repeats = (
        dup.join(first, on=list(keys), how="left", nulls_equal=True)
        .filter(pl.col("source_row") != pl.col("_first"))
        .sort("source_row")
    )
    raise DataError(
        [
            DataProblem(
                file,
                rec["source_row"],
                column,
                {label: rec[c] for label, c in describe.items()},
                f"duplicate key (first on row {rec['_first']})",
            )
            for rec in repeats.head(50).iter_rows(named=True)
        ]
    )


def drop_aggregates(
    frame: pl.DataFrame, *, file: str, log: logging.Logger, kind: str = "country_kind"
) -> pl.DataFrame:
    """Drop rows resolved as regional aggregates or statistics, logging what went."""
    dropped = frame.filter(pl.col(kind).is_in(["region", "statistic"]))
    if dropped.height:
        names = sorted(dropped["country_name"].unique().to_list())
        log.info(
            "%s: %d rows of regional aggregates / statistics dropped (%s)",
            file,
            dropped.height,
            ", ".join(names),
        )
    return frame.filter(~pl.col(kind).is_in(["region", "statistic"]))


def finish(
    frame: pl.DataFrame,
    *,
    file: str,
    column_names: dict[str, str],
    key_column: str,
    describe: Mapping[str, str],
) -> pl.DataFrame:
    """Check the key is unique, then validate as :class:`SourceProduction` (+ source_row).

    Parameters
    ----------
    frame
        SourceProduction columns plus ``source_row``.
    file
        File name for messages.
    column_names
        Our column -> the file's column, for validation messages.
    key_column
        How to name the key columns in a duplicate-key message (file's names).
    describe
        ``{label: column}`` values quoted in a duplicate-key message.
    """
    check_unique(frame, KEY, file=file, column=key_column, describe=describe)
    out = validate_frame(SourceProduction, frame, file=file, column_names=column_names)
    return out.sort("source_row")
