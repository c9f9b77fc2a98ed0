"""Refuse a refreshed table that covers less than the table it replaces.

A truncated or mixed-up download can pass every per-row check and still lose most of a
table (17,976 governance rows becoming 2,139). Before a refresh commits, each new table
is compared with the one in place. **The threshold:** a table is refused when

* its row count falls by more than :data:`MAX_ROW_LOSS_FRAC` (10 %), or
* any year present in the old table is absent from the new one, or
* any commodity (or WGI indicator, or WMD commodity name) is absent, or
* more than :data:`MAX_COUNTRY_LOSS_FRAC` (10 %) of the old table's countries are absent.

``resilience data refresh --allow-shrink`` accepts such a table (a new release may
legitimately drop an old year); the shrink is then logged. Growth is always accepted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import polars as pl

from resilience.errors import ResilienceError

__all__ = [
    "MAX_COUNTRY_LOSS_FRAC",
    "MAX_ROW_LOSS_FRAC",
    "Coverage",
    "ShrinkError",
    "coverage",
    "shrink_problems",
]

log = logging.getLogger(__name__)

#: Largest accepted fall in row count, as a fraction of the old table's rows.
MAX_ROW_LOSS_FRAC = 0.10
#: Largest accepted fall in the number of distinct countries.
MAX_COUNTRY_LOSS_FRAC = 0.10

_COUNTRY_COLUMNS = ("country_iso3", "importer_iso3", "exporter_iso3")
_CATEGORY_COLUMNS = ("commodity", "indicator", "source_commodity")
_CATEGORY_LABELS = {
    "commodity": "commodities",
    "indicator": "indicators",
    "source_commodity": "commodities (as the source names them)",
}
#: Shown in messages: at most this many lost items are listed.
_MAX_NAMED = 12


class ShrinkError(ResilienceError):
    """A refreshed table covers less than the one it would replace."""


@dataclass(frozen=True)
class Coverage:
    """Rows and the distinct years, categories and countries of one table."""

    rows: int
    years: frozenset[int]
    categories: frozenset[str]
    countries: frozenset[str]
    category_label: str = "commodities"


def coverage(frame: pl.DataFrame | pl.LazyFrame) -> Coverage:
    """Row count and distinct years / commodities (or indicators) / countries."""
    lazy = frame.lazy()
    columns = lazy.collect_schema().names()
    rows = int(lazy.select(pl.len()).collect().item())

    def distinct(names: tuple[str, ...]) -> frozenset[str]:
        present = [c for c in names if c in columns]
        if not present:
            return frozenset()
        values = pl.concat(
            [lazy.select(pl.col(c).cast(pl.String).alias("v")) for c in present]
        ).unique()
        return frozenset(values.collect()["v"].drop_nulls().to_list())

    years = (
        frozenset(int(y) for y in lazy.select(pl.col("year").unique()).collect()["year"])
        if "year" in columns
        else frozenset()
    )
    label = next((_CATEGORY_LABELS[c] for c in _CATEGORY_COLUMNS if c in columns), "")
    return Coverage(
        rows, years, distinct(_CATEGORY_COLUMNS), distinct(_COUNTRY_COLUMNS), label or "categories"
    )


def _named(items: frozenset[str] | frozenset[int]) -> str:
    shown = sorted(items, key=str)
    more = len(shown) - _MAX_NAMED
    text = ", ".join(str(x) for x in shown[:_MAX_NAMED])
    return text + (f" and {more} more" if more > 0 else "")


def shrink_problems(table: str, old: Coverage, new: Coverage) -> list[str]:
    """Why ``new`` is refused as a replacement of ``old`` (empty: accepted)."""
    problems: list[str] = []
    if old.rows and new.rows < old.rows * (1 - MAX_ROW_LOSS_FRAC):
        problems.append(
            f"{table}: rows {old.rows:,} -> {new.rows:,} "
            f"({(new.rows - old.rows) / old.rows:+.1%}; limit -{MAX_ROW_LOSS_FRAC:.0%})"
        )
    lost_years = old.years - new.years
    if lost_years:
        problems.append(f"{table}: years lost: {_named(lost_years)}")
    lost_categories = old.categories - new.categories
    if lost_categories:
        problems.append(
            f"{table}: {old.category_label} lost ({len(old.categories)} -> "
            f"{len(new.categories)}): {_named(lost_categories)}"
        )
    lost_countries = old.countries - new.countries
    if old.countries and len(lost_countries) > len(old.countries) * MAX_COUNTRY_LOSS_FRAC:
        problems.append(
            f"{table}: countries {len(old.countries)} -> {len(new.countries)} "
            f"(limit -{MAX_COUNTRY_LOSS_FRAC:.0%}); lost: {_named(lost_countries)}"
        )
    return problems
