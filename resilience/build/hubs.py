r"""Re-export hubs: exporters of what they do not produce, traced to the origin.

Customs record the country a good was shipped from. Rotterdam and Antwerp ship
manganese ore and ferro-niobium that were mined in South Africa, Gabon or Brazil, so on
the raw trade the Netherlands is Germany's top supplier of both. For supply risk the
origin matters, not the port.

Rule
----
A supplier :math:`h` is a **hub** for a commodity-stage :math:`c` in a year when it
exports :math:`c` (recorded quantity or value) and produces none of it: it has no row, or
only zero quantities, in the chosen world-production table for that commodity-stage and
year (``world_shares``: the source-year the build uses). Exports above production plus a
margin (:data:`HUB_MARGIN` of production) make a producing country a hub as well, but
that test needs trade and production on one basis (shipped trade is in gross tonnes,
production in content): it is applied only where ``same_basis`` says so. A
commodity-stage with no production data that year is not judged, and a producer whose
quantity is withheld (null) is a producer.

Tracing
-------
Where the hub itself imports :math:`c` that year, the value each importer :math:`m` buys
from it is re-attributed to the hub's suppliers :math:`s` pro rata to the hub's imports:

.. math:: v_{m,s} \mathrel{+}= v_{m,h} \cdot v_{h,s} / \sum_{s'} v_{h,s'}

one level deep (a supplier that is itself a hub is not traced again). Value shares, and
so every concentration and alliance metric, then describe origins. Quantities stay with
the exporter of record, so that imports, exports and import reliance keep matching
customs tonnes: the hub's row keeps its quantity with a value of zero (``is_hub``), the
origin rows carry the traced value in ``hub_traced_value_usd`` (``is_hub_traced``). The
part a hub re-exports back to the importer's own country (a round trip) has no foreign
origin and is dropped from the importer's value, counted in the log.
"""

from __future__ import annotations

import logging

import polars as pl

from resilience.metrics.sums import stable_sum

__all__ = ["HUB_MARGIN", "hub_suppliers", "trace_hubs"]

log = logging.getLogger(__name__)

#: Exports may exceed production by this fraction (stock draws, timing) before a
#: producing country counts as a hub (only with ``same_basis``).
HUB_MARGIN = 0.25

_CS = ["year", "commodity", "stage"]
_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def hub_suppliers(
    bilateral: pl.LazyFrame, world: pl.LazyFrame, *, same_basis: bool = False
) -> pl.LazyFrame:
    """Suppliers that are hubs: ``year, commodity, stage, hub_iso3``.

    Parameters
    ----------
    bilateral
        Bilateral rows (``year, importer_iso3, commodity, stage, supplier_iso3,
        import_value_usd, import_quantity_t``), every importer of the year.
    world
        :func:`resilience.build.world_market.world_shares` for the same years.
    same_basis
        Trade quantities and ``production_quantity`` are on one basis: a producer
        exporting more than ``(1 + HUB_MARGIN)`` times its production is a hub too.
    """
    exports = bilateral.group_by(*_CS, pl.col("supplier_iso3").alias("hub_iso3")).agg(
        stable_sum(pl.col("import_value_usd")).alias("_exports_usd"),
        stable_sum(pl.col("import_quantity_t")).alias("_exports_t"),
    )
    covered = world.filter(pl.col("country_iso3") != "ROW").select(_CS).unique()
    production = (
        world.filter(pl.col("country_iso3") != "ROW")
        .group_by(*_CS, pl.col("country_iso3").alias("hub_iso3"))
        .agg(
            pl.col("production_quantity").is_null().any().alias("_withheld"),
            stable_sum(pl.col("production_quantity")).alias("_production"),
        )
    )
    joined = (
        exports.join(covered, on=_CS, how="semi")
        .join(production, on=[*_CS, "hub_iso3"], how="left")
        .with_columns(pl.col("_production").fill_null(0.0), pl.col("_withheld").fill_null(False))
    )
    none = ~pl.col("_withheld") & (pl.col("_production") <= 0) & (pl.col("_exports_usd") > 0)
    over = (
        ~pl.col("_withheld")
        & (pl.col("_production") > 0)
        & (pl.col("_exports_t") > (1.0 + HUB_MARGIN) * pl.col("_production"))
    )
    return joined.filter(none | over if same_basis else none).select(*_CS, "hub_iso3")


def trace_hubs(
    bilateral: pl.LazyFrame,
    world: pl.LazyFrame,
    *,
    same_basis: bool = False,
    membership: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Re-attribute hubs' export values to the hubs' own suppliers.

    Parameters
    ----------
    bilateral
        Bilateral share rows (:func:`resilience.build.dependency.trade_shares`).
    world
        World production shares for the same years.
    same_basis
        As for :func:`hub_suppliers`.
    membership
        Bloc importers' members (``year, importer_iso3`` = the bloc, ``member_iso3``):
        for a bloc, an origin inside the bloc is a round trip like the importer itself
        (a bloc's imports are extra-bloc flows, also after tracing).

    Returns
    -------
    polars.LazyFrame
        The same columns with ``import_value_usd`` and ``import_share`` on the traced
        basis, plus ``is_hub`` (the supplier is a traced hub: value 0, quantity kept),
        ``is_hub_traced`` (the row's value includes value traced through a hub) and
        ``hub_traced_value_usd``. Rows of hubs that import nothing stay as they are
        (``is_hub`` false: they cannot be traced).
    """
    # Collected once: the plan below reads the rows five times, and the caller's query
    # (a parquet scan, filters, shares) would otherwise run for each read.
    bilateral, world = (f.lazy() for f in pl.collect_all([bilateral, world]))
    columns = bilateral.collect_schema().names()
    hubs = hub_suppliers(bilateral, world, same_basis=same_basis)
    hub_imports = (
        bilateral.join(
            hubs.rename({"hub_iso3": "importer_iso3"}), on=[*_CS, "importer_iso3"], how="semi"
        )
        .filter(pl.col("import_value_usd") > 0)
        .select(
            *_CS,
            pl.col("importer_iso3").alias("hub_iso3"),
            pl.col("supplier_iso3").alias("origin_iso3"),
            (
                pl.col("import_value_usd")
                / stable_sum(pl.col("import_value_usd")).over(*_CS, "importer_iso3")
            ).alias("_weight"),
        )
    )
    hubs_with_imports = hub_imports.select(*_CS, pl.col("hub_iso3").alias("supplier_iso3"))
    pairs = (
        bilateral.filter(pl.col("import_value_usd") > 0)
        .join(hubs_with_imports.unique(), on=[*_CS, "supplier_iso3"], how="semi")
        .select(*_GROUP, pl.col("supplier_iso3").alias("hub_iso3"), "import_value_usd")
        .join(hub_imports, on=[*_CS, "hub_iso3"], how="inner")
        .with_columns((pl.col("origin_iso3") == pl.col("importer_iso3")).alias("_round"))
    )
    if membership is not None:
        inside = membership.select(
            "year",
            "importer_iso3",
            pl.col("member_iso3").alias("origin_iso3"),
            pl.lit(True).alias("_inside"),
        ).unique()
        pairs = (
            pairs.join(inside, on=["year", "importer_iso3", "origin_iso3"], how="left")
            .with_columns((pl.col("_round") | pl.col("_inside").fill_null(False)).alias("_round"))
            .drop("_inside")
        )
    # An importer whose hub buys only from the importer itself has nothing foreign to
    # trace to: that pair stays as recorded.
    traceable = (
        pairs.group_by(*_GROUP, "hub_iso3")
        .agg((~pl.col("_round")).any().alias("_foreign"))
        .filter(pl.col("_foreign"))
        .select(*_GROUP, "hub_iso3")
    )
    pairs = pairs.join(traceable, on=[*_GROUP, "hub_iso3"], how="semi")
    round_trip = pairs.filter(pl.col("_round"))
    traced = (
        pairs.filter(~pl.col("_round"))
        .group_by(*_GROUP, pl.col("origin_iso3").alias("supplier_iso3"))
        .agg(
            stable_sum(pl.col("import_value_usd") * pl.col("_weight")).alias("hub_traced_value_usd")
        )
    )
    flags = traceable.select(
        *_GROUP, pl.col("hub_iso3").alias("supplier_iso3"), pl.lit(True).alias("is_hub")
    )
    direct = (
        bilateral.join(flags, on=[*_GROUP, "supplier_iso3"], how="left")
        .with_columns(pl.col("is_hub").fill_null(False))
        .with_columns(
            pl.when(pl.col("is_hub"))
            .then(0.0)
            .otherwise(pl.col("import_value_usd"))
            .alias("import_value_usd")
        )
    )
    new_pairs = traced.join(direct, on=[*_GROUP, "supplier_iso3"], how="anti").select(
        *_GROUP,
        "supplier_iso3",
        pl.lit(0.0).alias("import_value_usd"),
        pl.lit(None, pl.Float64).alias("import_quantity_t"),
        pl.lit(False).alias("is_hub"),
    )
    rows = pl.concat([direct, new_pairs], how="diagonal_relaxed")
    out = (
        rows.join(traced, on=[*_GROUP, "supplier_iso3"], how="left")
        .with_columns(
            pl.col("hub_traced_value_usd").fill_null(0.0),
            (pl.col("hub_traced_value_usd").fill_null(0.0) > 0).alias("is_hub_traced"),
        )
        .with_columns(
            (pl.col("import_value_usd") + pl.col("hub_traced_value_usd")).alias("import_value_usd")
        )
        .with_columns(
            (
                pl.col("import_value_usd") / stable_sum(pl.col("import_value_usd")).over(_GROUP)
            ).alias("import_share")
        )
    )
    n_round = round_trip.select(pl.len()).collect().item()
    if n_round:
        log.info("hub tracing: %d re-exports back to the importer's own country dropped", n_round)
    return out.select(*columns, "is_hub", "is_hub_traced", "hub_traced_value_usd").collect().lazy()
