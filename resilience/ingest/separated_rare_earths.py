"""Separated rare earths by country (``rare_earths/refining``), t REO, from a cited table.

No open release publishes production of separated rare-earth compounds and metals by
country in tonnes: USGS MCS gives mine output by country and, for the United States
only, "production of compounds and metals"; the IEA Critical Minerals Data Explorer
gives refining for the magnet rare earths (Nd, Pr, Dy, Tb) only.
``datasets/sources/separated_rare_earths.csv`` therefore holds one cited figure per
country and year (China: the MIIT smelting-and-separation quota; Malaysia, Australia and
the rest of the world: China's figure times the IEA's 2023 refining ratio to China; the
United States: USGS MCS 2025), each row with its method, publisher, title, URL and quote.

Format: ``year, country, quantity_t_reo, method, publisher, title, url, quote``. All rows
form one source (:data:`SOURCE`), so a year's shares come from one table.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.cited import read_cited_csv
from resilience.ingest.numbers import parse_numbers
from resilience.reference.countries import CountryResolver
from resilience.schemas.tables import SourceProduction
from resilience.schemas.validate import validate_frame

__all__ = ["COLUMNS", "SOURCE", "read_separated_rare_earths"]

#: Columns of ``sources/separated_rare_earths.csv``.
COLUMNS = ("year", "country", "quantity_t_reo", "method", "publisher", "title", "url", "quote")
#: ``source`` of every production row this table gives.
SOURCE = "Separated rare earths (MIIT quota, IEA 2024 ratios, USGS MCS 2025)"


def read_separated_rare_earths(path: Path | str) -> pl.DataFrame:
    """Read the table as ``SourceProduction`` rows of ``rare_earths/refining`` in t REO.

    ``source_commodity``/``source_stage`` carry our own ids (the identity map); every row
    whose ``method`` does not start with ``published`` (a quota taken as output, a
    figure derived from other rows) is flagged ``is_estimated``.

    Raises
    ------
    resilience.errors.DataError
        A missing column, a row without method, publisher, URL or quote, a quantity that
        is not a non-negative number, an unknown country or a region other than the rest
        of the world, or two figures for one country and year; each names the file, row,
        column and value.
    """
    path = Path(path)
    frame, problems = read_cited_csv(path, COLUMNS, ("method", "publisher", "url", "quote"))
    if problems:
        raise DataError(problems)
    frame = parse_numbers(frame, "quantity_t_reo", file=path.name, out="quantity")
    frame = parse_numbers(frame, "year", file=path.name, out="year_num")
    negative = frame.filter(pl.col("quantity") < 0)
    if negative.height:
        raise DataError(
            [
                DataProblem(path.name, row, "quantity_t_reo", v, "a production cannot be negative")
                for v, row in negative.select("quantity_t_reo", "source_row").iter_rows()
            ]
        )
    frame = CountryResolver.default().resolve_column(frame, "country", file=path.name)
    regions = frame.filter(~pl.col("country_kind").is_in(["country", "rest_of_world"]))
    if regions.height:
        raise DataError(
            [
                DataProblem(path.name, row, "country", name, "a region or total is not a producer")
                for name, row in regions.select("country", "source_row").iter_rows()
            ]
        )
    dup = frame.filter(pl.struct("year_num", "country_iso3").is_duplicated())
    if dup.height:
        raise DataError(
            [
                DataProblem(path.name, row, "country", name, "two figures for one country and year")
                for name, row in dup.select("country", "source_row").iter_rows()
            ]
        )
    out = frame.select(
        pl.col("year_num").cast(pl.Int32).alias("year"),
        pl.lit("rare_earths").alias("source_commodity"),
        pl.lit("refining").alias("source_stage"),
        pl.col("country").alias("country_name"),
        "country_iso3",
        "quantity",
        pl.lit("t").alias("unit"),
        pl.lit(False).alias("is_withheld"),
        ~pl.col("method").str.strip_chars().str.starts_with("published").alias("is_estimated"),
        pl.lit(SOURCE).alias("source"),
        pl.lit(f"sources/{path.name}").alias("vintage"),
        "source_row",
    )
    return validate_frame(
        SourceProduction, out, file=path.name, column_names={"quantity": "quantity_t_reo"}
    )
