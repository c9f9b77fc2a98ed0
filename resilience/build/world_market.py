r"""World-market supply shares: who produces each commodity and stage, per year.

Used twice: as the *world market* basis of an importer's dependency when its bilateral
trade is not known (it buys in proportion to producers' shares), and as the global term
of the EU supply-risk and GeoPolRisk methods.

Source choice
-------------
Several releases report the same commodity, stage and year. Which one a share comes from
follows the ranking defined in :mod:`resilience.build.sources` (documented there: the
latest year first, then IEA, the newest USGS release, World Mining Data; or the
publisher a user chooses with ``source=``). ``production_year`` and
``production_source`` record the choice on every row, ``world_total_basis`` the
denominator (the publisher's stated world total where it gives one).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from resilience.build.sources import (
    DEFAULT_RANKING,
    check_source,
    preference_rank,
    shares_by_source,
    source_rank,
)

__all__ = ["SOURCE_PRIORITY", "world_shares"]

#: The default ranking (kept under its old name; defined in :mod:`resilience.build.sources`).
SOURCE_PRIORITY = DEFAULT_RANKING


def world_shares(
    production: pl.DataFrame | pl.LazyFrame,
    years: Iterable[int],
    source: str | None = None,
) -> pl.LazyFrame:
    r"""Producer shares per (year, commodity, stage, country) for each target year.

    Parameters
    ----------
    production
        Canonical production (``resilience.data.load_production``).
    years
        Target years; each gets the latest data at or before it.
    source
        ``"usgs"``, ``"wmd"`` or ``"iea"``: that publisher first wherever it reports the
        commodity and stage (:mod:`resilience.build.sources`); ``None``: the default
        ranking.

    Returns
    -------
    polars.LazyFrame
        ``year, commodity, stage, country_iso3, production_quantity, unit, world_share,
        production_year, production_source, world_total_quantity, world_total_basis``.
        ``country_iso3`` includes ``ROW`` (the explicit remainder); ``WLD`` rows are not
        rows (their quantity is ``world_total_quantity``). Withheld producers keep a
        null share.

    Raises
    ------
    ValueError
        An unknown ``source``.

    Notes
    -----
    .. math:: w_{c,s} = q_{c,s} / Q

    with :math:`Q` the chosen source-year's stated world total where it gives one, else
    the sum over its countries and rest-of-world row
    (:func:`resilience.build.sources.shares_by_source`).
    """
    check_source(source)
    per_source = shares_by_source(production).rename(
        {"year": "production_year", "source": "production_source"}
    )
    reported = (
        per_source.select("commodity", "stage", "production_source", "production_year")
        .unique()
        .with_columns(
            source_rank(pl.col("production_source")).alias("_rank"),
            preference_rank(pl.col("production_source"), source).alias("_preferred"),
        )
    )
    targets = pl.LazyFrame({"year": sorted(set(years))}, schema={"year": pl.Int32})
    choice = (
        targets.join(reported, how="cross")
        .filter(pl.col("production_year") <= pl.col("year"))
        .sort(
            [
                "year",
                "commodity",
                "stage",
                "_preferred",
                "production_year",
                "_rank",
                "production_source",
            ],
            descending=[False, False, False, False, True, False, False],
        )
        .group_by("year", "commodity", "stage", maintain_order=True)
        .first()
        .select("year", "commodity", "stage", "production_year", "production_source")
    )
    return choice.join(
        per_source,
        on=["commodity", "stage", "production_year", "production_source"],
        how="inner",
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
        "world_total_quantity",
        "world_total_basis",
    )
