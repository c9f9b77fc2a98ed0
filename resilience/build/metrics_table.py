"""The metrics table: one row per (year, importer, commodity, stage), bloc-independent.

Alliance and coercion metrics depend on the bloc and adversary a user names, so they are
computed at query time (:mod:`resilience.risk`) from the dependency dataset; everything
that does not depend on them is computed once here.
"""

from __future__ import annotations

import polars as pl

from resilience.build.bloc_indices import WORLD_SOURCING, bloc_risk_indices
from resilience.build.blocs import bloc_exports, bloc_production
from resilience.build.risk_indices import risk_indices
from resilience.metrics.concentration import concentration
from resilience.metrics.sums import stable_sum
from resilience.metrics.supply_risk import bottleneck

__all__ = ["COUNTRY_SOURCING", "importer_volumes", "metrics_table"]

_GROUP = ["year", "importer_iso3", "commodity", "stage"]
#: ``eu_sourcing_basis`` of a country importer: its import mix by value, no production.
COUNTRY_SOURCING = "imports (value shares)"
_BLOC_ONLY = ("eu_sourcing_basis", "n_sourcing_missing_quantity")


def importer_volumes(
    dependency: pl.LazyFrame, world: pl.LazyFrame, blocs: pl.DataFrame | None = None
) -> pl.LazyFrame:
    """Imports, exports and domestic production per (year, country, commodity, stage).

    Imports and exports are BACI quantities, in tonnes (gross weight of the traded
    product: ``imports_t``, ``exports_t``) and in the commodity's content unit
    (``imports_content``, ``exports_content``, converted per HS6 code; ``content_unit``);
    production is in the commodity's canonical unit from the chosen world-market
    source. A country's exports are what every country importer records buying from it
    (bloc importers' rows are not counted again). For a bloc (``blocs``,
    :func:`resilience.build.blocs.bloc_membership`) imports are its extra-bloc imports,
    exports what non-members record buying from its members, and production the
    members' sum.
    """
    bilateral = dependency.filter(pl.col("basis") == "bilateral")
    imports = bilateral.group_by(_GROUP).agg(
        stable_sum(pl.col("import_quantity_t")).alias("imports_t"),
        stable_sum(pl.col("import_quantity_content")).alias("imports_content"),
        pl.col("content_unit").drop_nulls().first(),
        stable_sum(pl.col("import_value_usd")).alias("import_value_usd"),
    )
    exports = (
        bilateral.filter(~pl.col("importer_is_bloc"))
        .group_by("year", pl.col("supplier_iso3").alias("importer_iso3"), "commodity", "stage")
        .agg(
            stable_sum(pl.col("import_quantity_t")).alias("exports_t"),
            stable_sum(pl.col("import_quantity_content")).alias("exports_content"),
        )
    )
    production = world.select(
        "year",
        pl.col("country_iso3").alias("importer_iso3"),
        "commodity",
        "stage",
        pl.col("production_quantity").alias("domestic_production"),
        pl.col("unit").alias("production_unit"),
    )
    if blocs is not None:
        exports = pl.concat([exports, bloc_exports(dependency, blocs)], how="vertical_relaxed")
        production = pl.concat(
            [production, bloc_production(world, blocs).drop("n_producing_members")],
            how="vertical_relaxed",
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
    blocs: pl.DataFrame | None = None,
    attributes: pl.LazyFrame | None = None,
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
        :func:`resilience.build.risk_indices.eu_crm_parameters`), ``importer_is_bloc``,
        and the material's SR of the JRC method, the larger of its stages' SR
        (:func:`resilience.metrics.supply_risk.bottleneck`): ``eu_supply_risk_material``
        and ``eu_bottleneck_stage`` (null when a stage's SR is null). With ``blocs``
        (bloc membership) and ``attributes``
        (:func:`resilience.build.dependency.country_attributes`), a bloc importer's
        volumes, EU SR and GeoPolRisk follow the methods' bloc rules
        (:func:`resilience.build.bloc_indices.bloc_risk_indices`) and
        ``eu_sourcing_basis`` says which sourcing term its EU SR uses.
    """
    own = concentration(dependency, _GROUP, share="supply_share", country="supplier_iso3").rename(
        {"top_country_iso3": "top_supplier_iso3", "n_countries": "n_suppliers"}
    )
    basis = dependency.group_by(_GROUP).agg(
        pl.col("basis").first(), pl.col("importer_is_bloc").first()
    )
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
    volumes = importer_volumes(dependency, world, blocs).drop("import_value_usd")
    world_hhi = world_conc.select(*world_group, "world_hhi")
    indices = risk_indices(dependency, world, volumes, world_hhi, parameters)
    if blocs is not None and attributes is not None:
        own_rules = bloc_risk_indices(
            dependency, world, volumes, world_hhi, parameters, blocs, attributes
        )
        shared = [
            c for c in own_rules.collect_schema().names() if c not in _GROUP and c not in _BLOC_ONLY
        ]
        is_bloc = pl.col("importer_iso3").is_in(blocs["bloc_iso3"].unique().to_list())
        indices = (
            indices.join(own_rules, on=_GROUP, how="left", suffix="_bloc")
            .with_columns(
                pl.when(is_bloc).then(pl.col(f"{c}_bloc")).otherwise(pl.col(c)).alias(c)
                for c in shared
            )
            .drop(f"{c}_bloc" for c in shared)
        )
    else:
        indices = indices.with_columns(
            pl.lit(None, pl.String).alias("eu_sourcing_basis"),
            pl.lit(None, pl.UInt32).alias("n_sourcing_missing_quantity"),
        )
    sourcing = pl.coalesce(
        pl.col("eu_sourcing_basis"),
        pl.when(pl.col("basis") == "world_market")
        .then(pl.lit(WORLD_SOURCING))
        .otherwise(pl.lit(COUNTRY_SOURCING)),
    ).alias("eu_sourcing_basis")
    material = bottleneck(
        indices.select(*_GROUP, "eu_supply_risk"), ["year", "importer_iso3", "commodity"]
    ).select(
        "year",
        "importer_iso3",
        "commodity",
        pl.col("stage").alias("eu_bottleneck_stage"),
        pl.col("eu_supply_risk").alias("eu_supply_risk_material"),
    )
    return (
        own.join(basis, on=_GROUP)
        .join(volumes, on=_GROUP, how="left")
        .join(indices, on=_GROUP, how="left")
        .join(material, on=["year", "importer_iso3", "commodity"], how="left")
        .with_columns(sourcing)
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
