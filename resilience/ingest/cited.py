"""Read a hand-compiled table of cited figures: complete, every column, every citation.

Tables compiled one figure per row (``datasets/sources/compiled_shares.csv``,
``datasets/sources/separated_rare_earths.csv``) share their first checks: the file is a
complete CSV, it has every required column, and no row leaves a citation column empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.completeness import check_csv_complete

__all__ = ["read_cited_csv"]


def read_cited_csv(
    path: Path, columns: Sequence[str], cited: Sequence[str]
) -> tuple[pl.DataFrame, list[DataProblem]]:
    """The table as text with ``source_row`` (its line in the file), and its citation gaps.

    Returns
    -------
    tuple[polars.DataFrame, list[DataProblem]]
        The frame, and one problem per row whose ``cited`` column is empty ("every figure
        needs a citation"), for the caller to raise with its own checks.

    Raises
    ------
    resilience.errors.DataError
        An incomplete file, or a required column missing (file, column).
    """
    check_csv_complete(path)
    raw = pl.read_csv(path, infer_schema=False)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataError(
            [DataProblem(path.name, None, c, None, "required column is missing") for c in missing]
        )
    frame = raw.with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    problems = [
        DataProblem(path.name, row, column, None, "every figure needs a citation")
        for column in cited
        for row in frame.filter(
            pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        )["source_row"].to_list()
    ]
    return frame, problems
