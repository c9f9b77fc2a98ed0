"""A readable overview of the shipped dataset: what is in it and who supplies what."""

from __future__ import annotations

import polars as pl

from resilience.metrics.concentration import concentration, shares

__all__ = ["SOURCE_PRIORITY", "supply_overview", "table_overview"]

#: When two sources report the same latest year, the first listed wins. Source names
#: are matched by prefix: the IEA separates refining, USGS is the most complete for
#: minerals, World Mining Data covers energy.
SOURCE_PRIORITY = ("IEA", "USGS MCS 2025", "USGS MCS 2024", "USGS MCS 2023", "World Mining Data")


def _priority(source: pl.Expr) -> pl.Expr:
    expr = pl.lit(len(SOURCE_PRIORITY))
    for rank, prefix in reversed(list(enumerate(SOURCE_PRIORITY))):
        expr = pl.when(source.str.starts_with(prefix)).then(pl.lit(rank)).otherwise(expr)
    return expr


def latest_by_commodity(production: pl.DataFrame) -> pl.DataFrame:
    """For each (commodity, stage): the rows of the latest year of the preferred source."""
    key = ["commodity", "stage"]
    with_data = production.filter(
        pl.col("quantity").is_not_null() & (pl.col("country_iso3") != "WLD")
    )
    pick = (
        with_data.group_by([*key, "source"])
        .agg(pl.col("year").max())
        .with_columns(_priority(pl.col("source")).alias("_rank"))
        .sort([*key, "year", "_rank"], descending=[False, False, True, False])
        .group_by(key, maintain_order=True)
        .first()
        .drop("_rank")
    )
    return production.join(pick, on=[*key, "source", "year"], how="inner")


def supply_overview(production: pl.DataFrame, commodities: pl.DataFrame) -> pl.DataFrame:
    """One row per (commodity, stage): latest year, source, top supplier, HHI, top-3 share.

    Sorted by sector, then by HHI (most concentrated first).
    """
    latest = latest_by_commodity(production)
    group = ["commodity", "stage", "source", "year"]
    conc = concentration(shares(latest, group), group).collect()
    return (
        commodities.select("commodity", pl.col("stage").cast(pl.String), "sector", "name")
        .join(
            conc.with_columns(pl.col("stage").cast(pl.String)),
            on=["commodity", "stage"],
            how="left",
        )
        .sort(["sector", "hhi_10000"], descending=[False, True], nulls_last=True)
    )


def table_overview(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Rows, year range and number of sources for each loaded table."""
    rows = []
    for name, frame in tables.items():
        years = frame["year"] if "year" in frame.columns else None
        rows.append(
            {
                "table": name,
                "rows": frame.height,
                "first_year": int(years.min()) if years is not None else None,  # type: ignore[arg-type]
                "last_year": int(years.max()) if years is not None else None,  # type: ignore[arg-type]
                "sources": frame["source"].n_unique() if "source" in frame.columns else None,
            }
        )
    return pl.DataFrame(rows)
