"""EU supply risk and GeoPolRisk per (year, importer, commodity, stage), from the dataset.

Wires the published formulas (:mod:`resilience.metrics.supply_risk`,
:mod:`resilience.metrics.geopolrisk`) to our tables. Choices where the dataset differs
from the methods' own inputs, all visible in the output columns:

- **Global supply** (EU SR's GS term, GeoPolRisk's HHI): world production shares of the
  stage (:func:`resilience.build.world_market.world_shares`). The unnamed rest of world
  carries no governance score; it is left out of the WGI-weighted HHI (as CritMAT's
  sum skips a missing WGI) and ``n_missing_wgi_global`` counts the producers skipped.
- **Sourcing** (EU SR's "EU sourcing" term): the importer's import mix (bilateral
  value shares, or the world-market mix when its imports are not recorded). Domestic
  production is not in the mix (a value-share mix has no production term).
- **Import reliance** :math:`IR = (M - X) / (P + M - X)` on the content basis: BACI
  quantities converted per HS6 code to the commodity's content unit
  (``datasets/content_factors.csv``: t of Co content, t REO, million m3 of gas...) and
  production in the same unit; null where the two units differ (shares of capacity).
  The factors are typical grades: read IR within their ``low``-``high`` range. On the
  world-market basis (no recorded
  imports) the SR uses IR = 1, consistent with that basis, and
  ``import_reliance_assumed`` is true.
- **SI_SR and EoL-RIR**: the EU 2023 assessment values
  (``datasets/sources/eu_crm_2023_parameters.csv``) where published, else EoL-RIR from
  the SCRREEN factsheets (``recycling.csv``) and SI_SR = 1 (no substitute: the
  conservative end); ``si_sr_source`` and ``eol_rir_source`` say which.
- **Trade parameter** :math:`t = 1` for every exporter (the method's baseline; export
  restrictions would raise it).
- **GeoPolRisk** uses import quantities on the content basis (with production in the
  same unit), the exporters' normalised political
  stability (missing -> 0.5, as the reference code does) and domestic production; the
  score is null on the world-market basis, where no quantities are known.
"""

from __future__ import annotations

import polars as pl

from resilience.metrics.geopolrisk import geopolrisk_score, pv_normalized
from resilience.metrics.supply_risk import (
    eu_supply_risk,
    hhi_wgi_t,
    import_reliance,
    wgi_scaled_0_10,
)
from resilience.paths import datasets_dir
from resilience.reference.countries import REST_OF_WORLD

__all__ = ["content_reliance", "eu_crm_parameters", "reliance_used", "risk_indices"]

_GROUP = ["year", "importer_iso3", "commodity", "stage"]
_STAGE_TO_EU = {"mining": "extraction", "refining": "processing", "manufacturing": "processing"}


def eu_crm_parameters(commodities: pl.DataFrame, recycling: pl.DataFrame) -> pl.DataFrame:
    """SI_SR and EoL-RIR per (commodity, stage), with the source of each value."""
    base = datasets_dir()
    params = pl.read_csv(base / "sources" / "eu_crm_2023_parameters.csv")
    names = pl.read_csv(base / "maps" / "eu_crm_materials.csv")
    per_material = (
        params.group_by("material")
        .agg(pl.col("si_sr").drop_nulls().first(), pl.col("eol_rir").drop_nulls().first())
        .join(names.select("material", "commodity"), on="material", how="inner")
        .select("commodity", "si_sr", pl.col("eol_rir").alias("eol_rir_eu"))
    )
    scrreen = recycling.select(
        "commodity", "stage", pl.col("eol_rir_frac").alias("eol_rir_scrreen")
    )
    return (
        commodities.select("commodity", "stage")
        .join(per_material, on="commodity", how="left")
        .join(scrreen, on=["commodity", "stage"], how="left")
        .select(
            "commodity",
            "stage",
            pl.col("si_sr").fill_null(1.0).alias("si_sr"),
            pl.when(pl.col("si_sr").is_not_null())
            .then(pl.lit("EU CRM 2023"))
            .otherwise(pl.lit("default 1 (no published value)"))
            .alias("si_sr_source"),
            pl.coalesce("eol_rir_eu", "eol_rir_scrreen", pl.lit(0.0)).alias("eol_rir_frac"),
            pl.when(pl.col("eol_rir_eu").is_not_null())
            .then(pl.lit("EU CRM 2023"))
            .when(pl.col("eol_rir_scrreen").is_not_null())
            .then(pl.lit("SCRREEN factsheet"))
            .otherwise(pl.lit("default 0 (no published value)"))
            .alias("eol_rir_source"),
        )
    )


def content_reliance(volumes: pl.LazyFrame) -> pl.LazyFrame:
    r"""Import reliance per importer row on the content basis.

    :math:`IR = (M - X) / (P + M - X)` with imports :math:`M` and exports :math:`X` in
    the commodity's content unit (:func:`resilience.build.metrics_table.importer_volumes`)
    and production :math:`P` (0 when unknown); null where production is in another unit
    than the content (the two would not add up). Volumes without content columns (a
    trade table written before content factors) use gross tonnes against production in t.
    """
    if "imports_content" in volumes.collect_schema().names():
        unit, imports, exports = pl.col("content_unit"), "imports_content", "exports_content"
    else:
        unit, imports, exports = pl.lit("t"), "imports_t", "exports_t"
    same_unit = pl.col("production_unit").is_null() | (pl.col("production_unit") == unit)
    return volumes.select(
        *_GROUP,
        pl.when(same_unit)
        .then(
            import_reliance(
                pl.col("domestic_production").fill_null(0.0),
                pl.col(imports),
                pl.col(exports),
            )
        )
        .alias("import_reliance"),
    )


def reliance_used() -> pl.Expr:
    """The IR that enters EU SR: measured, else 1 on the world-market basis (no trade)."""
    return pl.coalesce(
        pl.col("import_reliance"),
        pl.when(pl.col("basis") == "world_market").then(pl.lit(1.0)),
    )


def risk_indices(
    dependency: pl.LazyFrame,
    world: pl.LazyFrame,
    volumes: pl.LazyFrame,
    world_hhi: pl.LazyFrame,
    parameters: pl.DataFrame,
) -> pl.LazyFrame:
    """EU SR (with its two HHI_WGI,t terms and IR) and the GeoPolRisk score.

    Parameters
    ----------
    dependency
        Dependency rows (supplier WGI and shares).
    world
        World shares with ``country_iso3, world_share``.
    volumes
        :func:`resilience.build.metrics_table.importer_volumes` output.
    world_hhi
        ``year, commodity, stage, world_hhi`` (0-1).
    parameters
        :func:`eu_crm_parameters` output.

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, hhi_wgi_t_global, hhi_wgi_t_sourcing,
        import_reliance, import_reliance_assumed, eol_rir_frac, si_sr, eu_supply_risk,
        geopolrisk_score, geopolrisk_import_risk, geopolrisk_price_usd_per_kg (total CIF
        value over total tonnes), geopolrisk_cf_cu_eq (kg Cu-eq/kg),
        n_missing_wgi_global, si_sr_source, eol_rir_source``.
    """
    wgi = dependency.select(
        "year",
        pl.col("supplier_iso3").alias("country_iso3"),
        pl.col("supplier_wgi_mean").alias("wgi_mean"),
    ).unique(["year", "country_iso3"])
    global_terms = hhi_wgi_t(
        world.filter(pl.col("country_iso3") != REST_OF_WORLD)
        .join(wgi, on=["year", "country_iso3"], how="left")
        .with_columns(wgi_scaled_0_10(pl.col("wgi_mean")), pl.col("world_share").alias("share")),
        ["year", "commodity", "stage"],
        trade_parameter=None,
        missing="zero",
    ).select(
        "year",
        "commodity",
        "stage",
        pl.col("hhi_wgi_t").alias("hhi_wgi_t_global"),
        pl.col("n_missing").alias("n_missing_wgi_global"),
    )
    sourcing = hhi_wgi_t(
        dependency.filter(pl.col("supplier_iso3") != REST_OF_WORLD).with_columns(
            wgi_scaled_0_10(pl.col("supplier_wgi_mean")), pl.col("supply_share").alias("share")
        ),
        _GROUP,
        trade_parameter=None,
        missing="zero",
    ).select(*_GROUP, pl.col("hhi_wgi_t").alias("hhi_wgi_t_sourcing"))
    reliance = content_reliance(volumes)
    basis = dependency.group_by(_GROUP).agg(pl.col("basis").first())
    ir_used = reliance_used()
    sr = (
        sourcing.join(reliance, on=_GROUP, how="left")
        .join(basis, on=_GROUP, how="left")
        .join(global_terms, on=["year", "commodity", "stage"], how="left")
        .join(parameters.lazy(), on=["commodity", "stage"], how="left")
        .with_columns(
            eu_supply_risk(
                pl.col("hhi_wgi_t_global"),
                pl.col("hhi_wgi_t_sourcing"),
                ir_used,
                pl.col("eol_rir_frac"),
                pl.col("si_sr"),
            ),
            (pl.col("import_reliance").is_null() & (pl.col("basis") == "world_market")).alias(
                "import_reliance_assumed"
            ),
        )
        .drop("basis")
    )
    imports = dependency.filter(pl.col("basis") == "bilateral").with_columns(
        pv_normalized(pl.col("supplier_wgi_pv"))
    )
    production = volumes.filter(pl.col("production_unit") == pl.col("content_unit")).select(
        *_GROUP, pl.col("domestic_production").alias("production_t")
    )
    geo = geopolrisk_score(
        imports,
        production,
        world_hhi.rename({"world_hhi": "hhi"}),
        keys=("year", "commodity", "stage"),
        quantity_t="import_quantity_content",
    ).select(
        *_GROUP,
        "geopolrisk_score",
        pl.col("import_risk").alias("geopolrisk_import_risk"),
        pl.col("price_usd_per_kg").alias("geopolrisk_price_usd_per_kg"),
        "geopolrisk_cf_cu_eq",
    )
    return sr.join(geo, on=_GROUP, how="left")
