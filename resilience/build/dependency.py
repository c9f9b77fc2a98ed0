r"""The dependency dataset: for each importer, commodity and stage, who supplies it.

One row per (year, importer, commodity, stage, supplier), on one of two bases, recorded in
``basis``:

``bilateral``
    the importer's own imports by partner (CEPII BACI), value shares;
``world_market``
    where the importer has no recorded imports of that commodity and stage (or the
    commodity has no HS code, as for chip design or magnet rare earths), the importer is
    assumed to buy on the world market in proportion to producers' shares, its own
    production excluded:

    .. math:: s_{m,c,p} = w_{c,p} / \sum_{p' \ne m} w_{c,p'} \quad (p \ne m)

Stages chain through the commodity table: refining-stage rows come from refined-product
HS codes (the exporter is the refiner) or refining-stage production shares (the refiner's
country), never from the mine.

Every row carries the supplier's governance (WGI political stability and the mean of the
six indicators, latest year at or before the row's year), its UNGA ideal point and the
importer's, the absolute distance between the two, the supplier's share of world
production at that stage, and the blocs the supplier belonged to on 31 December.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl

from resilience.build.bilateral import DEPENDENCY_KEY
from resilience.build.hubs import trace_hubs
from resilience.build.materiality import flow_is_material

__all__ = ["build_dependency", "country_attributes", "trade_shares"]

_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def trade_shares(trade: pl.LazyFrame) -> pl.LazyFrame:
    """Turn shipped ``trade.parquet`` rows into bilateral shares.

    Same columns as :func:`resilience.build.bilateral.bilateral_shares`.
    """
    return trade.select(
        *_GROUP,
        pl.col("exporter_iso3").alias("supplier_iso3"),
        pl.col("value_usd").alias("import_value_usd"),
        pl.col("quantity_t").alias("import_quantity_t"),
    ).with_columns(
        (pl.col("import_value_usd") / pl.col("import_value_usd").sum().over(_GROUP)).alias(
            "import_share"
        )
    )


def country_attributes(
    governance: pl.DataFrame,
    alignment: pl.DataFrame,
    alliances: pl.DataFrame,
    years: Iterable[int],
) -> pl.LazyFrame:
    """Per (year, country): WGI political stability and six-indicator mean, ideal point, blocs.

    Governance and alignment take the latest year at or before the target year (WGI
    ends a year before trade does). ``blocs`` lists the blocs the country belonged to on
    31 December of the year, sorted.
    """
    target = sorted(set(years))
    wgi = (
        governance.lazy()
        .group_by("year", "country_iso3")
        .agg(
            pl.col("estimate").filter(pl.col("indicator") == "pv").first().alias("wgi_pv"),
            pl.when(pl.col("estimate").count() == 6)
            .then(pl.col("estimate").mean())
            .alias("wgi_mean"),
        )
        .rename({"year": "data_year"})
    )
    ideal = alignment.lazy().select(
        pl.col("year").alias("data_year"), "country_iso3", "ideal_point"
    )
    grid = (
        pl.LazyFrame({"year": target}, schema={"year": pl.Int32})
        .join(
            pl.concat(
                [
                    wgi.select("country_iso3"),
                    ideal.select("country_iso3"),
                    alliances.lazy().select(pl.col("iso3").alias("country_iso3")),
                ]
            ).unique(),
            how="cross",
        )
        .sort("year")
    )

    def asof(values: pl.LazyFrame) -> pl.LazyFrame:
        # Both sides are sorted on the year here; polars cannot verify sortedness within
        # ``by`` groups, so the check is switched off rather than warned about.
        return grid.join_asof(
            values.with_columns(pl.col("data_year").cast(pl.Int32)).sort("data_year"),
            left_on="year",
            right_on="data_year",
            by="country_iso3",
            strategy="backward",
            check_sortedness=False,
        ).drop("data_year")

    blocs = (
        pl.LazyFrame({"year": target}, schema={"year": pl.Int32})
        .join(alliances.lazy().select("bloc", "iso3", "joined", "left"), how="cross")
        .with_columns(pl.date(pl.col("year"), 12, 31).alias("_on"))
        .filter(
            (pl.col("joined") <= pl.col("_on"))
            & (pl.col("left").is_null() | (pl.col("left") > pl.col("_on")))
        )
        .group_by("year", pl.col("iso3").alias("country_iso3"))
        .agg(pl.col("bloc").unique().sort().alias("blocs"))
    )
    return (
        asof(wgi)
        .join(asof(ideal), on=["year", "country_iso3"], how="left")
        .join(blocs, on=["year", "country_iso3"], how="left")
        .with_columns(pl.col("blocs").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    )


def build_dependency(
    bilateral: pl.LazyFrame,
    world: pl.LazyFrame,
    attributes: pl.LazyFrame,
    importers: Iterable[str],
    commodities: pl.DataFrame,
) -> pl.LazyFrame:
    """Combine bilateral and world-market rows and attach supplier attributes.

    Parameters
    ----------
    bilateral
        Bilateral shares (:func:`trade_shares` or
        :func:`resilience.build.bilateral.bilateral_shares`).
    world
        World shares (:func:`resilience.build.world_market.world_shares`).
    attributes
        :func:`country_attributes` for the same years.
    importers
        Importers to cover on the world-market basis where their bilateral data are
        missing (normally every importer present in the trade data).
    commodities
        The commodity table (every commodity-stage gets rows where data allow).

    Returns
    -------
    polars.LazyFrame
        Columns: ``year, importer_iso3, commodity, stage, supplier_iso3, basis,
        supply_share, import_value_usd, import_quantity_t, world_production_share,
        production_year, production_source, supplier_wgi_pv, supplier_wgi_mean,
        supplier_ideal_point, importer_ideal_point, alignment_distance, supplier_blocs,
        is_hub, is_hub_traced, hub_traced_value_usd`` (re-export hubs traced to origin by
        :func:`resilience.build.hubs.trace_hubs`), ``is_material``
        (:func:`resilience.build.materiality.flow_is_material`).
    """
    bilateral = trace_hubs(bilateral, world)
    years = world.select("year").unique()
    pairs = commodities.lazy().select("commodity", "stage")
    grid = (
        pl.LazyFrame({"importer_iso3": sorted(set(importers))})
        .join(years, how="cross")
        .join(pairs, how="cross")
    )
    have = bilateral.select(_GROUP).unique()
    missing = grid.join(have, on=_GROUP, how="anti")
    market = (
        missing.join(world, on=["year", "commodity", "stage"], how="inner")
        .filter(pl.col("country_iso3") != pl.col("importer_iso3"))
        .with_columns(
            (pl.col("world_share") / pl.col("world_share").sum().over(_GROUP)).alias(
                "supply_share"
            ),
        )
        .select(
            *_GROUP,
            pl.col("country_iso3").alias("supplier_iso3"),
            pl.lit("world_market").alias("basis"),
            "supply_share",
            pl.lit(None, pl.Float64).alias("import_value_usd"),
            pl.lit(None, pl.Float64).alias("import_quantity_t"),
            pl.lit(False).alias("is_hub"),
            pl.lit(False).alias("is_hub_traced"),
            pl.lit(None, pl.Float64).alias("hub_traced_value_usd"),
        )
    )
    trade_rows = bilateral.select(
        *_GROUP,
        "supplier_iso3",
        pl.lit("bilateral").alias("basis"),
        pl.col("import_share").alias("supply_share"),
        "import_value_usd",
        "import_quantity_t",
        "is_hub",
        "is_hub_traced",
        "hub_traced_value_usd",
    )
    rows = pl.concat([trade_rows, market], how="vertical_relaxed")
    world_cols = world.select(
        "year",
        "commodity",
        "stage",
        pl.col("country_iso3").alias("supplier_iso3"),
        pl.col("world_share").alias("world_production_share"),
    )
    provenance = world.select(
        "year", "commodity", "stage", "production_year", "production_source"
    ).unique()
    supplier = attributes.select(
        "year",
        pl.col("country_iso3").alias("supplier_iso3"),
        pl.col("wgi_pv").alias("supplier_wgi_pv"),
        pl.col("wgi_mean").alias("supplier_wgi_mean"),
        pl.col("ideal_point").alias("supplier_ideal_point"),
        pl.col("blocs").alias("supplier_blocs"),
    )
    importer = attributes.select(
        "year",
        pl.col("country_iso3").alias("importer_iso3"),
        pl.col("ideal_point").alias("importer_ideal_point"),
    )
    return (
        rows.join(world_cols, on=["year", "commodity", "stage", "supplier_iso3"], how="left")
        .join(provenance, on=["year", "commodity", "stage"], how="left")
        .join(supplier, on=["year", "supplier_iso3"], how="left")
        .join(importer, on=["year", "importer_iso3"], how="left")
        .with_columns(
            (pl.col("supplier_ideal_point") - pl.col("importer_ideal_point"))
            .abs()
            .alias("alignment_distance"),
            pl.col("supplier_blocs").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            flow_is_material().alias("is_material"),
        )
        .sort(DEPENDENCY_KEY)
    )


def year_end(year: int) -> dt.date:
    """31 December of ``year``: the date bloc membership is read on."""
    return dt.date(year, 12, 31)
