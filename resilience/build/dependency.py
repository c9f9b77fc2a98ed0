r"""The dependency dataset: for each importer, commodity and stage, who supplies it.

One row per (year, importer, commodity, stage, supplier), on one of these bases, recorded in
``basis``:

``bilateral``
    the importer's own imports by partner (CEPII BACI), value shares;
``world_market``
    where the importer has no recorded imports of that commodity and stage (or the
    commodity has no HS code, as for chip design or magnet rare earths), the importer is
    assumed to buy on the world market in proportion to producers' shares, its own
    production excluded:

    .. math:: s_{m,c,p} = w_{c,p} / \sum_{p' \ne m} w_{c,p'} \quad (p \ne m)

``capacity_by_location``, ``market_by_headquarters``, ``supply_by_location``
    chip segments (``capacity_basis``, :mod:`resilience.reference.chips`): every holder's
    share of world capacity or of the market by headquarters, the importer's own share
    included, since design, EDA and capacity are not imports; trade is not used for them.

Stages chain through the commodity table: refining-stage rows come from refined-product
HS codes (the exporter is the refiner) or refining-stage production shares (the refiner's
country), never from the mine.

Every row carries the supplier's governance (WGI political stability and the mean of the
six indicators, latest year at or before the row's year), its UNGA ideal point and the
importer's, the absolute distance between the two, the supplier's share of world
production at that stage, and the blocs the supplier belonged to on 31 December.

Missing scores are named, not defaulted in silence. A supplier without a WGI score (New
Caledonia, French Polynesia, ...) has ``is_governance_imputed = true`` and a
``governance_note``; the metrics then use, as their methods do: GeoPolRisk a
political-stability score of 0.5 (geopolrisk-py's rule), EU supply risk nothing (the
supplier is left out of the WGI-weighted HHI and counted in ``n_missing_wgi_global``).
A supplier or importer without a UNGA ideal point (Taiwan, which does not vote) has
``is_ideal_point_missing = true``: its ``alignment_distance`` is null and the share-weighted
distance of ``resilience risk`` is taken over the suppliers that have one.
:func:`warn_missing_attributes` logs a warning naming the countries.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import polars as pl

from resilience.build.bilateral import DEPENDENCY_KEY
from resilience.build.content import unit_value_per_content
from resilience.build.hubs import trace_hubs
from resilience.build.materiality import flow_is_material
from resilience.metrics.sums import stable_sum
from resilience.reference.countries import REST_OF_WORLD

__all__ = [
    "build_dependency",
    "country_attributes",
    "missing_attributes",
    "trade_shares",
    "warn_missing_attributes",
]

log = logging.getLogger(__name__)

_GROUP = ["year", "importer_iso3", "commodity", "stage"]
#: Content columns a dependency row carries (null on the world-market basis).
_CONTENT = [
    "import_quantity_content",
    "content_unit",
    "content_basis",
    "unit_value_usd_per_content_unit",
]
_CONTENT_TYPES = [pl.Float64, pl.String, pl.String, pl.Float64]


def trade_shares(trade: pl.LazyFrame) -> pl.LazyFrame:
    """Turn shipped ``trade.parquet`` rows into bilateral shares.

    Same columns as :func:`resilience.build.bilateral.bilateral_shares` with a content
    map: gross tonnes and content quantities, the content unit and basis, and the unit
    value per content unit. A trade table written before content factors existed has
    no content columns; they are then null (and a warning says so).
    """
    names = trade.collect_schema().names()
    content: list[pl.Expr]
    if "quantity_content" in names:
        content = [
            pl.col("quantity_content").alias("import_quantity_content"),
            pl.col("content_unit"),
            pl.col("content_basis"),
            unit_value_per_content(
                pl.col("value_usd"),
                pl.col("value_usd_missing_quantity"),
                pl.col("quantity_content"),
            ),
        ]
    else:
        log.warning("trade table has no content columns: regenerate it with `data refresh`")
        content = [
            pl.lit(None, pl.Float64).alias("import_quantity_content"),
            pl.lit(None, pl.String).alias("content_unit"),
            pl.lit(None, pl.String).alias("content_basis"),
            pl.lit(None, pl.Float64).alias("unit_value_usd_per_content_unit"),
        ]
    return trade.select(
        *_GROUP,
        pl.col("exporter_iso3").alias("supplier_iso3"),
        pl.col("value_usd").alias("import_value_usd"),
        pl.col("quantity_t").alias("import_quantity_t"),
        *content,
    ).with_columns(
        (pl.col("import_value_usd") / stable_sum(pl.col("import_value_usd")).over(_GROUP)).alias(
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
            .then(stable_sum(pl.col("estimate")) / pl.col("estimate").count())
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
    blocs: pl.DataFrame | None = None,
    capacity_basis: pl.DataFrame | None = None,
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
    blocs
        Bloc membership (:func:`resilience.build.blocs.bloc_membership`) when bloc
        importers are in ``bilateral`` and ``importers``: a bloc's world-market rows
        leave out its members (not only itself), and ``importer_is_bloc`` is true on its
        rows. A bloc has no UNGA ideal point (``importer_ideal_point`` is null).
    capacity_basis
        ``commodity, stage, basis``: segments whose supply is a share of world capacity
        or of a market by headquarters (chip segments,
        :func:`resilience.reference.chips.supply_world_shares`), not imports. Their
        bilateral rows are not used; their rows are every holder's share of the world,
        the importer's own share (and its members') included, labelled ``basis``.

    Returns
    -------
    polars.LazyFrame
        Columns: ``year, importer_iso3, commodity, stage, supplier_iso3, basis,
        supply_share, import_value_usd, import_quantity_t, import_quantity_content,
        content_unit, content_basis, unit_value_usd_per_content_unit, world_production_share,
        production_year, production_source, supplier_wgi_pv, supplier_wgi_mean,
        supplier_ideal_point, importer_ideal_point, alignment_distance, supplier_blocs,
        is_governance_imputed, is_ideal_point_missing, governance_note, importer_is_bloc,
        is_hub, is_hub_traced, hub_traced_value_usd, is_material`` (the governance flags
        are false for the rest of world, which is not a country; re-export hubs traced to
        origin by :func:`resilience.build.hubs.trace_hubs`; materiality by
        :func:`resilience.build.materiality.flow_is_material`).
    """
    membership = (
        blocs.lazy().select("year", pl.col("bloc_iso3").alias("importer_iso3"), "member_iso3")
        if blocs is not None
        else pl.LazyFrame(
            schema={"year": pl.Int32, "importer_iso3": pl.String, "member_iso3": pl.String}
        )
    )
    held = (
        capacity_basis.lazy().select("commodity", "stage", pl.col("basis").alias("_held_basis"))
        if capacity_basis is not None
        else pl.LazyFrame(
            schema={"commodity": pl.String, "stage": pl.String, "_held_basis": pl.String}
        )
    )
    bilateral = bilateral.join(held, on=["commodity", "stage"], how="anti")
    bilateral = trace_hubs(bilateral, world, membership=membership)
    bloc_codes = (
        membership.select("importer_iso3")
        .unique()
        .with_columns(pl.lit(True).alias("importer_is_bloc"))
    )
    years = world.select("year").unique()
    pairs = commodities.lazy().select("commodity", "stage")
    grid = (
        pl.LazyFrame({"importer_iso3": sorted(set(importers))})
        .join(years, how="cross")
        .join(pairs, how="cross")
    )
    have = bilateral.select(_GROUP).unique()
    missing = grid.join(have, on=_GROUP, how="anti")
    on_market = missing.join(world, on=["year", "commodity", "stage"], how="inner").join(
        held, on=["commodity", "stage"], how="left"
    )
    bought = (
        on_market.filter(pl.col("_held_basis").is_null())
        .filter(pl.col("country_iso3") != pl.col("importer_iso3"))
        .join(
            membership.rename({"member_iso3": "country_iso3"}),
            on=["year", "importer_iso3", "country_iso3"],
            how="anti",
        )
    )
    market = (
        pl.concat([bought, on_market.filter(pl.col("_held_basis").is_not_null())])
        .with_columns(
            (pl.col("world_share") / stable_sum(pl.col("world_share")).over(_GROUP)).alias(
                "supply_share"
            ),
        )
        .select(
            *_GROUP,
            pl.col("country_iso3").alias("supplier_iso3"),
            pl.coalesce("_held_basis", pl.lit("world_market")).alias("basis"),
            "supply_share",
            pl.lit(None, pl.Float64).alias("import_value_usd"),
            pl.lit(None, pl.Float64).alias("import_quantity_t"),
            pl.lit(None, pl.Float64).alias("import_quantity_content"),
            pl.lit(None, pl.String).alias("content_unit"),
            pl.lit(None, pl.String).alias("content_basis"),
            pl.lit(None, pl.Float64).alias("unit_value_usd_per_content_unit"),
            pl.lit(False).alias("is_hub"),
            pl.lit(False).alias("is_hub_traced"),
            pl.lit(None, pl.Float64).alias("hub_traced_value_usd"),
        )
    )
    have_content = all(c in bilateral.collect_schema().names() for c in _CONTENT)
    trade_rows = bilateral.select(
        *_GROUP,
        "supplier_iso3",
        pl.lit("bilateral").alias("basis"),
        pl.col("import_share").alias("supply_share"),
        "import_value_usd",
        "import_quantity_t",
        *(
            _CONTENT
            if have_content
            else [
                pl.lit(None, dtype).alias(c)
                for c, dtype in zip(_CONTENT, _CONTENT_TYPES, strict=True)
            ]
        ),
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
        .join(bloc_codes, on="importer_iso3", how="left")
        .with_columns(
            pl.col("importer_is_bloc").fill_null(False),
            (pl.col("supplier_ideal_point") - pl.col("importer_ideal_point"))
            .abs()
            .alias("alignment_distance"),
            pl.col("supplier_blocs").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            *_attribute_flags(),
            flow_is_material().alias("is_material"),
        )
        .sort(DEPENDENCY_KEY)
    )


def _attribute_flags() -> list[pl.Expr]:
    """``is_governance_imputed``, ``is_ideal_point_missing`` and ``governance_note``."""
    country = pl.col("supplier_iso3") != REST_OF_WORLD
    no_wgi = country & (pl.col("supplier_wgi_pv").is_null() | pl.col("supplier_wgi_mean").is_null())
    no_ideal = country & (
        pl.col("supplier_ideal_point").is_null() | pl.col("importer_ideal_point").is_null()
    )
    notes = pl.concat_str(
        pl.when(no_wgi).then(
            pl.format(
                "no WGI score for {}: GeoPolRisk uses 0.5, EU SR leaves it out",
                pl.col("supplier_iso3"),
            )
        ),
        pl.when(no_ideal & pl.col("supplier_ideal_point").is_null()).then(
            pl.format("no UNGA ideal point for {}", pl.col("supplier_iso3"))
        ),
        pl.when(no_ideal & pl.col("importer_ideal_point").is_null()).then(
            pl.format("no UNGA ideal point for {}", pl.col("importer_iso3"))
        ),
        separator="; ",
        ignore_nulls=True,
    )
    return [
        no_wgi.alias("is_governance_imputed"),
        no_ideal.alias("is_ideal_point_missing"),
        pl.when(notes != "").then(notes).alias("governance_note"),
    ]


def missing_attributes(dependency: pl.DataFrame | pl.LazyFrame) -> dict[str, list[str]]:
    """Countries without a governance score or an ideal point among the dependency rows.

    Returns
    -------
    dict
        ``{"governance": [...], "ideal_point": [...]}``, ISO3 codes sorted (importers
        without an ideal point are listed under ``ideal_point`` too).
    """
    lf = dependency.lazy()
    gov = (
        lf.filter(pl.col("is_governance_imputed"))
        .select(pl.col("supplier_iso3").unique())
        .collect()["supplier_iso3"]
    )
    ideal = (
        lf.filter(pl.col("is_ideal_point_missing"))
        .select(
            pl.concat_list(
                pl.when(pl.col("supplier_ideal_point").is_null()).then("supplier_iso3"),
                pl.when(pl.col("importer_ideal_point").is_null()).then("importer_iso3"),
            )
            .explode()
            .drop_nulls()
            .unique()
            .alias("iso3")
        )
        .collect()["iso3"]
    )
    return {"governance": sorted(gov.to_list()), "ideal_point": sorted(ideal.to_list())}


def warn_missing_attributes(
    dependency: pl.DataFrame | pl.LazyFrame, level: int = logging.WARNING
) -> dict[str, list[str]]:
    """Log (at ``level``) the countries :func:`missing_attributes` finds; return them."""
    missing = missing_attributes(dependency)
    if missing["governance"]:
        log.log(
            level,
            "no WGI governance score for %s: GeoPolRisk uses 0.5 for them and EU supply risk "
            "leaves them out (rows flagged is_governance_imputed)",
            ", ".join(missing["governance"]),
        )
    if missing["ideal_point"]:
        log.log(
            level,
            "no UNGA ideal point for %s: their alignment distance is null "
            "(rows flagged is_ideal_point_missing)",
            ", ".join(missing["ideal_point"]),
        )
    return missing


def year_end(year: int) -> dt.date:
    """31 December of ``year``: the date bloc membership is read on."""
    return dt.date(year, 12, 31)
