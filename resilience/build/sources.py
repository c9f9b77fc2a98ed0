r"""Production sources: which one a share comes from, and how far the sources disagree.

The one place that defines the **source ranking** used for world production shares
(:func:`resilience.build.world_market.world_shares`, and through it the dependency
dataset, the metrics table, ``resilience risk`` and ``resilience summary``).

Default ranking
---------------
Several releases report the same commodity, stage and year (USGS MCS 2024 and 2025 both
give 2023; World Mining Data and the IEA too). For a target year :math:`y`, per commodity
and stage:

1. the **latest production year** :math:`\le y` that any source reports with at least one
   country figure;
2. among the sources reporting that year, the first in :data:`DEFAULT_RANKING`: the IEA
   Critical Minerals Data Explorer (the only source with refining by country, observed
   2023), then the newest USGS Mineral Commodity Summaries release, then World Mining
   Data; any other source (bp, WNA, the chip and PV compilations) after these,
   alphabetically.

Choosing a source
-----------------
``source="usgs" | "wmd" | "iea"`` (``--source`` on ``risk``, ``build`` and ``summary``)
puts that publisher first **before the year rule**: its latest year :math:`\le y` is used
wherever it reports the commodity and stage, even when another source has a later year
(the IEA has 2023 only: ``--source iea`` shows the IEA's 2023 shares for a 2024 query).
Where it does not report the commodity and stage the default ranking applies, and
``production_source`` on every row says which source was used.

Source spread
-------------
:func:`source_spread` computes every source's shares for the same commodity, stage and
production year and reports, per producing country, the smallest and largest share, how
many sources report it and which, and per commodity-stage-year the same for the world
HHI. A share is *disputed* when the sources differ by more than
:data:`SPREAD_THRESHOLD_SHARE` (5 percentage points: DRC cobalt 2023 is 65.5 % in the IEA,
73.9 % in USGS MCS 2024), an HHI when the largest exceeds the smallest by more than
:data:`SPREAD_THRESHOLD_HHI_REL` (20 %).

Denominators
------------
A share divides by the publisher's **stated world total** (USGS "World total" rows, World
Mining Data and IEA totals: ``WLD`` rows) where the source-year gives one, else by the
sum of the listed countries and the rest of world; ``world_total_basis`` says which
(``stated`` or ``sum_of_listed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import polars as pl

from resilience.metrics.concentration import concentration
from resilience.metrics.sums import stable_sum
from resilience.reference.countries import REST_OF_WORLD, WORLD

__all__ = [
    "DEFAULT_RANKING",
    "SOURCE_CHOICES",
    "SOURCE_FAMILIES",
    "SPREAD_THRESHOLD_HHI_REL",
    "SPREAD_THRESHOLD_SHARE",
    "SourceChoice",
    "check_source",
    "disputed_share_note",
    "preference_rank",
    "shares_by_source",
    "source_rank",
    "source_spread",
    "with_source_spread",
]

#: Source-name prefixes in the default order (first wins among sources of the same year).
DEFAULT_RANKING: tuple[str, ...] = (
    "IEA Critical Minerals",
    "USGS MCS 2025",
    "USGS MCS 2024",
    "USGS MCS 2023",
    "World Mining Data",
)

#: The publishers a user can put first: option value -> source-name prefix.
SOURCE_FAMILIES: dict[str, str] = {
    "usgs": "USGS MCS",
    "wmd": "World Mining Data",
    "iea": "IEA Critical Minerals",
}
SOURCE_CHOICES: tuple[str, ...] = tuple(SOURCE_FAMILIES)
SourceChoice = Literal["usgs", "wmd", "iea"]

#: Two sources disagree on a country's share when max - min exceeds this (share points).
SPREAD_THRESHOLD_SHARE = 0.05
#: Two sources disagree on a world HHI when max / min - 1 exceeds this.
SPREAD_THRESHOLD_HHI_REL = 0.20


def check_source(source: str | None) -> str | None:
    """Validate a source choice (``None`` = the default ranking).

    Raises
    ------
    ValueError
        Naming the value and the accepted ones.
    """
    if source is None or source in SOURCE_FAMILIES:
        return source
    raise ValueError(
        f"source {source!r} is not a production source one can choose; "
        f"use one of {', '.join(SOURCE_CHOICES)} (or leave it out for the default ranking)"
    )


def source_rank(source: pl.Expr) -> pl.Expr:
    """Position of a source name in :data:`DEFAULT_RANKING` (others: after all of them)."""
    expr = pl.lit(len(DEFAULT_RANKING), dtype=pl.Int32)
    for rank, prefix in reversed(list(enumerate(DEFAULT_RANKING))):
        expr = (
            pl.when(source.str.starts_with(prefix))
            .then(pl.lit(rank, dtype=pl.Int32))
            .otherwise(expr)
        )
    return expr


def preference_rank(source: pl.Expr, preferred: str | None) -> pl.Expr:
    """0 for the chosen publisher's sources (and for every source without a choice), else 1."""
    if check_source(preferred) is None:
        return pl.lit(0, dtype=pl.Int32)
    prefix = SOURCE_FAMILIES[str(preferred)]
    return pl.when(source.str.starts_with(prefix)).then(0).otherwise(1).cast(pl.Int32)


def shares_by_source(production: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Every source's shares: one row per (year, commodity, stage, source, country).

    Returns
    -------
    polars.LazyFrame
        ``year, commodity, stage, source, country_iso3, production_quantity, unit,
        world_total_quantity, world_total_basis, world_share``; ``WLD`` rows are not
        rows of the output (their quantity is ``world_total_quantity``). Groups where no
        country has a figure are left out.

    Notes
    -----
    .. math:: w_{c,s} = q_{c,s} / Q_s

    where :math:`Q_s` is the source's stated world total when it has one, else the sum
    over its listed countries and rest of world.
    """
    lf = production.lazy()
    group = ["year", "commodity", "stage", "source"]
    reported = (
        lf.filter(
            pl.col("quantity").is_not_null() & ~pl.col("country_iso3").is_in([REST_OF_WORLD, WORLD])
        )
        .select(group)
        .unique()
    )
    totals = (
        lf.filter((pl.col("country_iso3") == WORLD) & pl.col("quantity").is_not_null())
        .group_by(group)
        .agg(pl.col("quantity").first().alias("_stated"))
    )
    rows = (
        lf.filter(pl.col("country_iso3") != WORLD)
        .join(reported, on=group, how="semi")
        .join(totals, on=group, how="left")
        .with_columns(stable_sum(pl.col("quantity")).over(group).alias("_listed"))
    )
    stated = pl.col("_stated").is_not_null() & (pl.col("_stated") > 0)
    return rows.select(
        *group,
        "country_iso3",
        pl.col("quantity").alias("production_quantity"),
        "unit",
        pl.when(stated).then("_stated").otherwise("_listed").alias("world_total_quantity"),
        pl.when(stated)
        .then(pl.lit("stated"))
        .otherwise(pl.lit("sum_of_listed"))
        .alias("world_total_basis"),
    ).with_columns(
        (pl.col("production_quantity") / pl.col("world_total_quantity")).alias("world_share")
    )


def source_spread(
    production: pl.DataFrame | pl.LazyFrame, years: Iterable[int] | None = None
) -> pl.LazyFrame:
    """How far the sources disagree, per commodity-stage-year (and producing country).

    Parameters
    ----------
    production
        Canonical production (``resilience.data.load_production``).
    years
        Production years to keep (default: all).

    Returns
    -------
    polars.LazyFrame
        ``year, commodity, stage, measure, country_iso3, min, max, n_sources, sources,
        is_disputed``. ``measure`` is ``world_share`` (one row per producing country,
        shares 0-1 of :func:`shares_by_source`) or ``world_hhi`` (one row per
        commodity-stage-year, ``country_iso3`` null, HHI 0-1 over the named countries as
        :func:`resilience.metrics.concentration.concentration` computes it). ``sources``
        lists the sources reporting, sorted, joined by ``"; "``. A row with one source
        has ``min = max`` and is never disputed. The rest of world is not a country and
        has no row.
    """
    per_source = shares_by_source(production)
    if years is not None:
        per_source = per_source.filter(pl.col("year").is_in(sorted(set(years))))
    countries = per_source.filter(
        (pl.col("country_iso3") != REST_OF_WORLD) & pl.col("world_share").is_not_null()
    )
    keys = ["year", "commodity", "stage"]
    share_rows = countries.group_by(*keys, "country_iso3").agg(
        pl.col("world_share").min().alias("min"),
        pl.col("world_share").max().alias("max"),
        pl.col("source").n_unique().cast(pl.UInt32).alias("n_sources"),
        pl.col("source").unique().sort().str.join("; ").alias("sources"),
    )
    hhi = concentration(per_source.rename({"world_share": "share"}), [*keys, "source"])
    hhi_rows = hhi.group_by(keys).agg(
        pl.col("hhi").min().alias("min"),
        pl.col("hhi").max().alias("max"),
        pl.col("source").n_unique().cast(pl.UInt32).alias("n_sources"),
        pl.col("source").unique().sort().str.join("; ").alias("sources"),
    )
    columns = ["year", "commodity", "stage", "measure", "country_iso3", "min", "max"]
    columns += ["n_sources", "sources", "is_disputed"]
    shares = share_rows.with_columns(
        pl.lit("world_share").alias("measure"),
        ((pl.col("max") - pl.col("min")) > SPREAD_THRESHOLD_SHARE).alias("is_disputed"),
    ).select(columns)
    hhis = hhi_rows.with_columns(
        pl.lit("world_hhi").alias("measure"),
        pl.lit(None, pl.String).alias("country_iso3"),
        (
            (pl.col("min") > 0) & (pl.col("max") / pl.col("min") - 1 > SPREAD_THRESHOLD_HHI_REL)
        ).alias("is_disputed"),
    ).select(columns)
    return pl.concat([shares, hhis]).sort(
        ["year", "commodity", "stage", "measure", "country_iso3"], nulls_last=True
    )


def disputed_share_note(
    spread: pl.DataFrame, keys: Sequence[str] = ("year", "commodity", "stage", "country_iso3")
) -> pl.DataFrame:
    """``keys`` + ``share_range`` text (e.g. ``"65.5–73.9 % (4 sources)"``) of disputed shares."""
    return spread.filter((pl.col("measure") == "world_share") & pl.col("is_disputed")).select(
        *keys,
        pl.format(
            "{}–{} % ({} sources)",
            (pl.col("min") * 100).round(1),
            (pl.col("max") * 100).round(1),
            pl.col("n_sources"),
        ).alias("share_range"),
    )


def with_source_spread(table: pl.DataFrame, production: pl.DataFrame) -> pl.DataFrame:
    """Add to metrics rows how far the sources disagree on the world top producer and HHI.

    ``table`` has ``production_year, commodity, stage, world_top_producer_iso3`` (the
    metrics table or ``resilience risk``'s frame).

    ``world_top1_share_min``/``_max`` and ``world_top1_n_sources``: the top producer's
    share in every source reporting the same production year; ``world_hhi_min``/``_max``
    likewise; ``is_source_disputed`` when either spread passes its threshold
    (:mod:`resilience.build.sources`); ``source_spread_note`` says it in words
    (e.g. ``"COD 65.5–73.9 % (4 sources)"``), null when the sources agree.
    """
    years = table["production_year"].drop_nulls().unique().to_list()
    spread = source_spread(production, years).collect()
    keys = ["production_year", "commodity", "stage"]
    shares = spread.filter(pl.col("measure") == "world_share").select(
        pl.col("year").alias("production_year"),
        "commodity",
        "stage",
        pl.col("country_iso3").alias("world_top_producer_iso3"),
        pl.col("min").alias("world_top1_share_min"),
        pl.col("max").alias("world_top1_share_max"),
        pl.col("n_sources").alias("world_top1_n_sources"),
        pl.col("is_disputed").alias("_share_disputed"),
    )
    hhi = spread.filter(pl.col("measure") == "world_hhi").select(
        pl.col("year").alias("production_year"),
        "commodity",
        "stage",
        pl.col("min").alias("world_hhi_min"),
        pl.col("max").alias("world_hhi_max"),
        pl.col("is_disputed").alias("_hhi_disputed"),
    )
    notes = disputed_share_note(spread).rename(
        {"year": "production_year", "country_iso3": "world_top_producer_iso3"}
    )
    joined = (
        table.join(shares, on=[*keys, "world_top_producer_iso3"], how="left")
        .join(hhi, on=keys, how="left")
        .join(notes, on=[*keys, "world_top_producer_iso3"], how="left")
    )
    disputed = pl.col("_share_disputed").fill_null(False) | pl.col("_hhi_disputed").fill_null(False)
    hhi_note = pl.format(
        "world HHI {}–{}",
        (pl.col("world_hhi_min") * 1e4).round(0).cast(pl.Int64),
        (pl.col("world_hhi_max") * 1e4).round(0).cast(pl.Int64),
    )
    return (
        joined.with_columns(
            disputed.alias("is_source_disputed"),
            pl.concat_str(
                pl.when(pl.col("_share_disputed").fill_null(False)).then(
                    pl.format("{} {}", pl.col("world_top_producer_iso3"), pl.col("share_range"))
                ),
                pl.when(pl.col("_hhi_disputed").fill_null(False)).then(hhi_note),
                separator="; ",
                ignore_nulls=True,
            ).alias("source_spread_note"),
        )
        .with_columns(
            pl.when(pl.col("is_source_disputed"))
            .then(pl.col("source_spread_note"))
            .alias("source_spread_note")
        )
        .drop("_share_disputed", "_hhi_disputed", "share_range")
    )
