"""Scheduled Parquet reports: partitioned tables, a manifest, an HTML summary, safe re-runs.

``resilience report --as-of 2026-11-20 --out reports/out`` (or :func:`run_report`)
writes one partition per as-of date::

    OUT/as_of=2026-11-20/table=<name>/part-0.parquet   dependency, metrics, scenarios,
                                                       scenario_summary, frontier
    OUT/as_of=2026-11-20/summary.html                  one page: top risks, scenarios,
                                                       frontier (self-contained)
    OUT/as_of=2026-11-20/_manifest.json                written last

What goes in is set by a report definition (``reports/*.yaml``,
:mod:`resilience.report.definition`); the publish guarantees (atomic rename, lock,
idempotent re-runs, leftovers ignored and cleaned) are in
:mod:`resilience.report.publish`; the manifest's keys in
:mod:`resilience.report.manifest`.

Read every published partition of a table, old ones included, under the current schema
with :func:`read_report`; Polars, DuckDB and pandas also read the files directly::

    pl.scan_parquet("OUT/as_of=*/table=metrics/*.parquet", hive_partitioning=True)
    duckdb.sql("select * from read_parquet('OUT/as_of=*/table=metrics/*.parquet', "
               "hive_partitioning=true, union_by_name=true)")
    pd.read_parquet("OUT/as_of=2026-11-20/table=metrics")

(a direct glob also matches a partition whose manifest is missing only if someone put it
there by hand: runs never leave one; :func:`read_report` checks.)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from resilience.report.definition import (
    ALL_TABLES,
    TABLE_NAMES,
    ReportDefinition,
    load_definition,
    report_root,
)
from resilience.report.job import ReportResult, parse_as_of, run_report
from resilience.report.publish import Partition, ReportLockedError, partitions, scan_partition
from resilience.report.schemas import TABLES, ReportError

__all__ = [
    "TABLES",
    "TABLE_NAMES",
    "Partition",
    "ReportDefinition",
    "ReportError",
    "ReportLockedError",
    "ReportResult",
    "load_definition",
    "partitions",
    "read_report",
    "report_root",
    "run_report",
]


def read_report(
    out_dir: str | Path,
    table: str,
    *,
    as_of: str | dt.date | None = None,
) -> pl.LazyFrame:
    """Every published partition of ``table`` under the current schema, plus ``as_of``.

    Partitions written under an older schema version read with nulls in the columns
    added since; columns a newer version added are left out. Only partitions with a
    manifest are read, and only the files the manifest lists.

    Parameters
    ----------
    out_dir
        The report folder (``--out``, plus the definition's ``output`` folder if any).
    table
        One of :data:`~resilience.report.definition.ALL_TABLES` (the default tables and
        the optional ones, e.g. ``ranking``).
    as_of
        Only this as-of date.

    Raises
    ------
    ReportError
        Unknown table.
    """
    if table not in TABLES:
        raise ReportError(f"unknown report table {table!r}; allowed: {', '.join(ALL_TABLES)}")
    schema = TABLES[table].schema
    wanted = parse_as_of(as_of) if as_of is not None else None
    frames = [
        lf
        for part in partitions(out_dir)
        if wanted is None or part.as_of == wanted
        for lf in [scan_partition(part, table, schema)]
        if lf is not None
    ]
    if not frames:
        return pl.LazyFrame(schema={**schema, "as_of": pl.Date})
    return pl.concat(frames, how="vertical")
