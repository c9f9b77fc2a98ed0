"""A readable overview of the shipped dataset: what is in it and who supplies what."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from resilience.build.world_market import world_shares
from resilience.ingest.inputs import MANIFEST, TABLES
from resilience.manifest_check import verify_table
from resilience.metrics.concentration import concentration

__all__ = ["manifest_line", "supply_overview", "table_overview"]


def supply_overview(
    production: pl.DataFrame, commodities: pl.DataFrame, source: str | None = None
) -> pl.DataFrame:
    """One row per (commodity, stage): latest year, source, top supplier, HHI, top-3 share.

    The source and year follow :func:`resilience.build.world_market.world_shares` for the
    latest year in the table (``source``: the publisher put first, ``usgs``, ``wmd`` or
    ``iea``; default ranking if omitted). Sorted by sector, then by HHI (most
    concentrated first).
    """
    latest = int(production["year"].max())  # type: ignore[arg-type]
    world = world_shares(production, [latest], source).rename(
        {"world_share": "share", "production_source": "source"}
    )
    group = ["commodity", "stage", "source", "production_year"]
    conc = concentration(world, group).collect().rename({"production_year": "year"})
    return (
        commodities.select("commodity", "stage", "sector", "name")
        .join(conc, on=["commodity", "stage"], how="left")
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


def manifest_line(folder: Path) -> str:
    """One line saying whether every refreshed table in ``folder`` matches its manifest.

    Uses :func:`resilience.manifest_check.verify_table` (cached: the loaders have
    already hashed the tables), so the details are in the logged warnings.
    """
    checks = {name: verify_table(folder / name) for name in TABLES}
    bad = {name: status for name, status in checks.items() if status != "ok"}
    if not bad:
        return f"manifest: all {len(TABLES)} tables match {folder / MANIFEST} (SHA-256)"
    listed = ", ".join(f"{name} ({status})" for name, status in bad.items())
    return (
        f"manifest: {len(bad)} of {len(TABLES)} tables do not match {folder / MANIFEST}: "
        f"{listed}; see the warnings above"
    )
