"""The metrics table: one row per (year, importer, commodity, stage), bloc-independent.

Alliance and coercion metrics depend on the bloc and adversary a user names, so they are
computed at query time (:mod:`resilience.risk`) from the dependency dataset; everything
that does not depend on them is computed once here.
"""

from __future__ import annotations

import polars as pl

from resilience.build.risk_indices import risk_indices
from resilience.metrics.concentration import concentration
from resilience.metrics.sums import stable_sum

__all__ = ["importer_volumes", "metrics_table"]

_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def importer_volumes(dependency: pl.LazyFrame, world: pl.LazyFrame) -> pl.LazyFrame:
    """Imports, exports and domestic production per (year, country, commodity, stage).

    Imports and exports are BACI quantities, in tonnes (gross weight of the traded
    product: ``imports_t``, ``exports_t``) and in the commodity's content unit
    (``imports_content``, ``exports_content``, converted per HS6 code; ``content_unit``);
    production is in the commodity's canonical unit from the chosen world-market
    source. A country's exports are what every importer records buying from it.
    """
    bilateral = dependency.filter(pl.col("basis") == "bilateral")
    imports = bilateral.group_by(_GROUP).agg(
        stable_sum(pl.col("import_quantity_t")).alias("imports_t"),
        stable_sum(pl.col("import_quantity_content")).alias("imports_content"),
        pl.col("content_unit").drop_nulls().first(),
        stable_sum(pl.col("import_value_usd")).alias("import_value_usd"),
    )
    exports = bilateral.group_by(
        "year", pl.col("supplier_iso3").alias("importer_iso3"), "commodity", "stage"
    ).agg(
        stable_sum(pl.col("import_quantity_t")).alias("exports_t"),
        stable_sum(pl.col("import_quantity_content")).alias("exports_content"),
    )
    production = world.select(
        "year",
        pl.col("country_iso3").alias("importer_iso3"),
        "commodity",
        "stage",
        pl.col("production_quantity").alias("domestic_production"),
        pl.col("unit").alias("production_unit"),
    )
    return (
        imports.join(exports, on=_GROUP, how="left")
        .join(production, on=_GROUP, how="left")
        .with_columns(pl.col("exports_t").fill_null(0.0), pl.col("exports_content").fill_null(0.0))
    )


def metrics_table(
    dependency: pl.LazyFrame,
    world: pl.LazyFrame,
    commodities: pl.DataFrame,
    parameters: pl.DataFrame,
) -> pl.LazyFrame:
    """Concentration of each importer's supply and of world production.

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, sector, basis, n_suppliers, hhi,
        hhi_10000, top_supplier_iso3, top1_share, top3_share, import_value_usd,
        imports_t, exports_t, imports_content, content_unit, exports_content,
        domestic_production, production_unit, world_hhi,
        world_top_producer_iso3, world_top1_share, production_year,
        production_source`` and the EU supply risk and GeoPolRisk columns of
        :func:`resilience.build.risk_indices.risk_indices` (``parameters`` is
        :func:`resilience.build.risk_indices.eu_crm_parameters`).
    """
    own = concentration(dependency, _GROUP, share="supply_share", country="supplier_iso3").rename(
        {"top_country_iso3": "top_supplier_iso3", "n_countries": "n_suppliers"}
    )
    basis = dependency.group_by(_GROUP).agg(pl.col("basis").first())
    world_group = ["year", "commodity", "stage"]
    world_conc = (
        concentration(world.rename({"world_share": "share"}), world_group)
        .select(
            *world_group,
            pl.col("hhi").alias("world_hhi"),
            pl.col("top_country_iso3").alias("world_top_producer_iso3"),
            pl.col("top1_share").alias("world_top1_share"),
        )
        .join(
            world.select(*world_group, "production_year", "production_source").unique(),
            on=world_group,
        )
    )
    volumes = importer_volumes(dependency, world).drop("import_value_usd")
    indices = risk_indices(
        dependency, world, volumes, world_conc.select(*world_group, "world_hhi"), parameters
    )
    return (
        own.join(basis, on=_GROUP)
        .join(volumes, on=_GROUP, how="left")
        .join(indices, on=_GROUP, how="left")
        .join(world_conc, on=world_group, how="left")
        .join(
            commodities.lazy().select("commodity", "stage", "sector"),
            on=["commodity", "stage"],
            how="left",
        )
        .join(
            dependency.group_by(_GROUP).agg(
                pl.when(pl.col("import_value_usd").count() > 0).then(
                    stable_sum(pl.col("import_value_usd"))
                )
            ),
            on=_GROUP,
            how="left",
        )
        .sort(_GROUP)
    )
