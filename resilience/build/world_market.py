r"""World-market supply shares: who produces each commodity and stage, per year.

Used twice: as the *world market* basis of an importer's dependency when its bilateral
trade is not known (it buys in proportion to producers' shares), and as the global term
of the EU supply-risk and GeoPolRisk methods.

Source choice
-------------
Several releases report the same commodity, stage and year (USGS MCS 2024 and 2025 both
give 2023; World Mining Data too). For a target year :math:`y` we take, per commodity and
stage, the latest year :math:`\le y` that any source reports with at least one country
figure, and among sources reporting that year the first in
:data:`resilience.summary.SOURCE_PRIORITY` (IEA, the newest USGS release, then World
Mining Data, then the rest alphabetically). ``production_year`` and ``production_source``
record the choice on every row.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from resilience.reference.countries import REST_OF_WORLD, WORLD

__all__ = ["SOURCE_PRIORITY", "world_shares"]

SOURCE_PRIORITY = (
    "IEA Critical Minerals",
    "USGS MCS 2025",
    "USGS MCS 2024",
    "USGS MCS 2023",
    "World Mining Data",
)


def _rank(source: pl.Expr) -> pl.Expr:
    expr = pl.lit(len(SOURCE_PRIORITY), dtype=pl.Int32)
    for rank, prefix in reversed(list(enumerate(SOURCE_PRIORITY))):
        expr = (
            pl.when(source.str.starts_with(prefix))
            .then(pl.lit(rank, dtype=pl.Int32))
            .otherwise(expr)
        )
    return expr


def world_shares(production: pl.DataFrame | pl.LazyFrame, years: Iterable[int]) -> pl.LazyFrame:
    r"""Producer shares per (year, commodity, stage, country) for each target year.

    Parameters
    ----------
    production
        Canonical production (``resilience.data.load_production``).
    years
        Target years; each gets the latest data at or before it.

    Returns
    -------
    polars.LazyFrame
        ``year, commodity, stage, country_iso3, production_quantity, unit, world_share,
        production_year, production_source``. ``country_iso3`` includes ``ROW`` (the
        explicit remainder); ``WLD`` rows are dropped. Withheld producers keep a null share.

    Notes
    -----
    .. math:: w_{c,s} = q_{c,s} / \sum_{s'} q_{c,s'}

    over the countries and the rest-of-world row of the chosen source-year.
    """
    lf = production.lazy().filter(pl.col("country_iso3") != WORLD)
    reported = (
        lf.filter(pl.col("quantity").is_not_null() & (pl.col("country_iso3") != REST_OF_WORLD))
        .select("commodity", "stage", "source", pl.col("year").alias("production_year"))
        .unique()
        .with_columns(_rank(pl.col("source")).alias("_rank"))
    )
    targets = pl.LazyFrame({"year": sorted(set(years))}, schema={"year": pl.Int32})
    choice = (
        targets.join(reported, how="cross")
        .filter(pl.col("production_year") <= pl.col("year"))
        .sort(
            ["year", "commodity", "stage", "production_year", "_rank", "source"],
            descending=[False, False, False, True, False, False],
        )
        .group_by("year", "commodity", "stage", maintain_order=True)
        .first()
        .select(
            "year",
            "commodity",
            "stage",
            "production_year",
            pl.col("source").alias("production_source"),
        )
    )
    rows = lf.select(
        "commodity",
        "stage",
        pl.col("year").alias("production_year"),
        pl.col("source").alias("production_source"),
        "country_iso3",
        pl.col("quantity").alias("production_quantity"),
        "unit",
    )
    chosen = choice.join(
        rows, on=["commodity", "stage", "production_year", "production_source"], how="inner"
    )
    group = ["year", "commodity", "stage"]
    return chosen.with_columns(
        (pl.col("production_quantity") / pl.col("production_quantity").sum().over(group)).alias(
            "world_share"
        )
    ).select(
        "year",
        "commodity",
        "stage",
        "country_iso3",
        "production_quantity",
        "unit",
        "world_share",
        "production_year",
        "production_source",
    )
