"""Hand-compiled, cited country shares (chips, solar PV, battery cells).

No open dataset publishes country shares for chip design, wafer fabrication or PV
manufacturing under a licence we can ship (the ETO Chip Explorer is CC BY-NC), so
``datasets/sources/compiled_shares.csv`` holds published figures transcribed one per row,
each with publisher, title, URL and the quoted sentence. This adapter validates that file
and turns it into :class:`~resilience.schemas.tables.SourceProduction` rows in
``pct_of_world``.

Format: ``commodity, stage, year, country, share_pct, metric, publisher, title, url, quote,
licence_note``. ``commodity, stage`` are our ids (no map needed). A group (commodity,
stage, year, publisher) whose shares exceed 100 % (+0.5 for rounding) is rejected; a
``Rest of world`` row is optional (the remainder is derived explicitly downstream).
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.cited import read_cited_csv
from resilience.ingest.numbers import parse_numbers
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import WORLD, CountryResolver
from resilience.schemas.tables import SourceProduction
from resilience.schemas.validate import validate_frame

__all__ = ["COMPILED_COLUMNS", "read_compiled_shares"]

log = logging.getLogger(__name__)

COMPILED_COLUMNS = (
    "commodity",
    "stage",
    "year",
    "country",
    "share_pct",
    "metric",
    "publisher",
    "title",
    "url",
    "quote",
    "licence_note",
)


def read_compiled_shares(path: Path | str) -> pl.DataFrame:
    """Read the compiled share table as ``SourceProduction`` rows (unit ``pct_of_world``).

    ``source_commodity``/``source_stage`` carry our own ids (the identity map), ``source``
    is the publisher and ``vintage`` the publication title, so every row stays cited.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, unknown commodity/stage pairs, unknown countries, shares outside
        0-100, group sums above 100.5, or a row without a URL or quote.
    """
    path = Path(path)
    frame, problems = read_cited_csv(path, COMPILED_COLUMNS, ("url", "quote", "publisher"))
    known = load_commodities().select("commodity", "stage")
    unknown = frame.join(known, on=["commodity", "stage"], how="anti")
    problems += [
        DataProblem(path.name, row, "commodity", f"{c}/{s}", "unknown commodity and stage")
        for c, s, row in unknown.select("commodity", "stage", "source_row").iter_rows()
    ]
    if problems:
        raise DataError(problems)
    frame = parse_numbers(frame, "share_pct", file=path.name, out="quantity")
    frame = parse_numbers(frame, "year", file=path.name, out="year_num")
    over = frame.filter(pl.col("quantity") > 100)
    if over.height:
        raise DataError(
            [
                DataProblem(path.name, row, "share_pct", v, "a share cannot exceed 100 %")
                for v, row in over.select("share_pct", "source_row").iter_rows()
            ]
        )
    frame = CountryResolver.default().resolve_column(frame, "country", file=path.name)
    key = ["commodity", "stage", "year", "publisher", "country_iso3"]
    dup = frame.filter(pl.struct(key).is_duplicated())
    if dup.height:
        raise DataError(
            [
                DataProblem(path.name, row, "country", name, "duplicate figure for this country")
                for name, row in dup.select("country", "source_row").iter_rows()
            ]
        )
    regions = frame.filter(pl.col("country_kind").is_in(["region", "statistic", "world"]))
    if regions.height:
        raise DataError(
            [
                DataProblem(
                    path.name, row, "country", name, "a region or total is not a country share"
                )
                for name, row in regions.select("country", "source_row").iter_rows()
            ]
        )
    sums = (
        frame.group_by("commodity", "stage", "year", "publisher")
        .agg(pl.col("quantity").sum(), pl.col("source_row").min())
        .filter(pl.col("quantity") > 100.5)
    )
    if sums.height:
        raise DataError(
            [
                DataProblem(
                    path.name,
                    row,
                    "share_pct",
                    round(total, 2),
                    f"shares of {c}/{s} {y} sum above 100 %",
                )
                for c, s, y, _, total, row in sums.iter_rows()
            ]
        )
    out = frame.select(
        pl.col("year_num").cast(pl.Int32).alias("year"),
        pl.col("commodity").alias("source_commodity"),
        pl.col("stage").alias("source_stage"),
        pl.col("country").alias("country_name"),
        "country_iso3",
        "quantity",
        pl.lit("pct_of_world").alias("unit"),
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.col("publisher").alias("source"),
        pl.col("title").alias("vintage"),
        "source_row",
    )
    # Shares are of the world by definition: a WLD row of 100 per group lets the
    # rest-of-world remainder (100 - listed) be derived explicitly downstream.
    world = out.group_by(
        "year", "source_commodity", "source_stage", "source", maintain_order=True
    ).agg(
        pl.lit("World (100 % by definition)").alias("country_name"),
        pl.lit(WORLD).alias("country_iso3"),
        pl.lit(100.0).alias("quantity"),
        pl.col("unit").first(),
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.col("vintage").first(),
        pl.col("source_row").min(),
    )
    out = pl.concat([out, world.select(out.columns)])
    return validate_frame(
        SourceProduction, out, file=path.name, column_names={"quantity": "share_pct"}
    )
