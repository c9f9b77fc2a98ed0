"""Run a dataframely schema and turn its failures into file/row/column/value problems."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem

__all__ = ["validate_frame"]

S = TypeVar("S", bound=dy.Schema)

#: Provenance column every adapter output carries: the 1-based line in the source file.
ROW_COLUMN = "source_row"


def _rule_column(rule: str, columns: list[str]) -> str:
    """``"quantity|min"`` -> ``"quantity"``; table rules name their own columns."""
    head = rule.split("|", 1)[0]
    return head if head in columns else rule


def validate_frame(
    schema: type[S],
    frame: pl.DataFrame,
    *,
    file: str | Path,
    row_column: str = ROW_COLUMN,
    column_names: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Validate ``frame`` against ``schema``; raise one error listing every bad value.

    Parameters
    ----------
    schema
        A :class:`dataframely.Schema` subclass.
    frame
        The frame to check; extra columns (such as ``source_row``) are kept aside and
        used to say where each problem is.
    file
        Name of the file the rows came from, for the message.
    row_column
        Column holding the 1-based source line of each row.
    column_names
        Map from our column names back to the names used in the file, so that the
        message names the column the user can see.

    Returns
    -------
    polars.DataFrame
        The frame restricted and cast to the schema's columns (plus ``row_column`` when
        present), in the original row order.

    Raises
    ------
    resilience.errors.DataError
        Naming file, row, column and value for each failed rule and row.
    """
    column_names = column_names or {}
    cols = schema.column_names()
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(
            [
                DataProblem(
                    str(file), None, column_names.get(c, c), None, "required column is missing"
                )
                for c in missing
            ]
        )
    if row_column not in frame.columns:
        frame = frame.with_row_index(row_column, offset=2).with_columns(
            pl.col(row_column).cast(pl.Int64)
        )
    keep = frame.select(*cols)
    _, failure = schema.filter(keep, cast=True)
    counts = failure.counts()
    if not counts:
        return schema.validate(keep, cast=True).with_columns(frame[row_column])

    with_rows = _with_row_column(schema, row_column)
    _, failure = with_rows.filter(frame.select(*cols, row_column), cast=True)
    details = failure.details()
    problems: list[DataProblem] = []
    for rule in counts:
        bad = details.filter(pl.col(rule) == "invalid")
        key = schema.primary_key()
        column = ", ".join(key) if rule == "primary_key" else _rule_column(rule, cols)
        reason = _reason(rule, schema)
        for rec in bad.head(50).iter_rows(named=True):
            value = {c: rec[c] for c in key} if rule == "primary_key" else rec.get(column)
            problems.append(
                DataProblem(
                    str(file), rec[row_column], column_names.get(column, column), value, reason
                )
            )
    raise DataError(problems)


def _with_row_column(schema: type[S], row_column: str) -> type[S]:
    """The same schema plus the provenance column, so failures keep their source row."""
    return type(schema.__name__, (schema,), {row_column: dy.Int64(nullable=True)})


def _reason(rule: str, schema: type[dy.Schema]) -> str:
    if rule == "primary_key":
        return f"duplicate key ({', '.join(schema.primary_key())})"
    if "|" in rule:
        col, check = rule.split("|", 1)
        return {
            "min": "value below the allowed minimum",
            "max": "value above the allowed maximum",
            "nullability": "value is missing",
            "regex": "value does not match the expected pattern",
            "dtype": "value has the wrong type",
            "check": "value fails the column check",
        }.get(check, f"failed rule {check!r}")
    return f"failed rule {rule!r}"
