"""One dataframely schema per canonical table (DESIGN.md section 2).

Column names carry units (``_t``, ``_usd``, ``_frac``, ``_pct``); ``source`` and
``vintage`` on every fact row say where it came from. Country codes are ISO 3166-1
alpha-3 (plus ``XKX`` Kosovo and historic codes listed in ``datasets/countries.csv``);
the pseudo-codes ``WLD`` (world total) and ``ROW`` (rest of world) appear only where a
schema says so.
"""

from __future__ import annotations

import dataframely as dy
import polars as pl

from resilience.schemas.chips import CHIP_BASES

__all__ = [
    "ISO3_OR_PSEUDO",
    "ISO3_PATTERN",
    "STAGES",
    "Alignment",
    "Alliances",
    "Commodities",
    "ContentFactors",
    "GasInfrastructure",
    "Governance",
    "IMPORTER_PATTERN",
    "MARKET_PARAMETERS",
    "METRICS_BASES",
    "MarketParameters",
    "MetricsTable",
    "Production",
    "Recycling",
    "ReferencePrices",
    "SourceProduction",
    "StrategicStocks",
    "TradeFlows",
]

#: Three upper-case letters: ISO3, XKX, historic codes, WLD, ROW.
ISO3_PATTERN = r"^[A-Z]{3}$"
ISO3_OR_PSEUDO = ISO3_PATTERN

#: Supply-chain stages. Extraction from wells (oil, gas) counts as ``mining``.
STAGES = ("mining", "refining", "manufacturing", "design", "equipment")
SECTORS = ("critical_materials", "energy", "chips")
WGI_INDICATORS = ("va", "pv", "ge", "rq", "rl", "cc")


def _one_of(values: tuple[str, ...]) -> str:
    """Anchored regex accepting exactly ``values`` (kept as plain strings: joins stay simple)."""
    return "^(" + "|".join(values) + ")$"


class SourceProduction(dy.Schema):
    """Production as one upstream source states it, before mapping to our commodity ids.

    Every production adapter returns this (plus a ``source_row`` column). ``quantity`` is
    in ``unit`` exactly as the source gives it; withheld values ("W") are null with
    ``is_withheld`` set, never zero. ``country_iso3`` is an ISO3 code, ``WLD`` for a world
    total row or ``ROW`` for "Other countries" / "Rest of world".
    """

    year = dy.Int32(nullable=False, min=1900, max=2100)
    source_commodity = dy.String(nullable=False)
    source_stage = dy.String(nullable=False)
    country_name = dy.String(nullable=False)
    country_iso3 = dy.String(nullable=False, regex=ISO3_OR_PSEUDO)
    quantity = dy.Float64(nullable=True, min=0)
    unit = dy.String(nullable=False)
    is_withheld = dy.Bool(nullable=False)
    is_estimated = dy.Bool(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class Production(dy.Schema):
    """Canonical production: (year, commodity, stage, country, source) -> quantity.

    ``quantity`` is in the commodity's canonical ``unit`` (``datasets/commodities.csv``);
    ``source_quantity``/``source_unit``/``conversion_factor`` record the conversion
    (``quantity = source_quantity * conversion_factor``). One ``ROW`` row per
    (year, commodity, stage, source) holds the rest of the world explicitly;
    ``is_derived`` marks rows we computed (a ROW remainder from a world total) rather
    than read.
    """

    year = dy.Int32(nullable=False, primary_key=True, min=1900, max=2100)
    commodity = dy.String(nullable=False, primary_key=True)
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of(STAGES))
    country_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_OR_PSEUDO)
    source = dy.String(nullable=False, primary_key=True)
    quantity = dy.Float64(nullable=True, min=0)
    unit = dy.String(nullable=False)
    source_quantity = dy.Float64(nullable=True, min=0)
    source_unit = dy.String(nullable=False)
    conversion_factor = dy.Float64(nullable=False, min=0)
    is_withheld = dy.Bool(nullable=False)
    is_estimated = dy.Bool(nullable=False)
    is_derived = dy.Bool(nullable=False)
    vintage = dy.String(nullable=False)

    @dy.rule()
    def withheld_is_null(cls) -> pl.Expr:
        """A withheld value is null, never a number."""
        return ~pl.col("is_withheld") | pl.col("quantity").is_null()


class TradeFlows(dy.Schema):
    """Bilateral trade at HS6 level: exporter -> importer, value and quantity."""

    year = dy.Int32(nullable=False, primary_key=True, min=1900, max=2100)
    exporter_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    hs6_code = dy.String(nullable=False, primary_key=True, regex=r"^\d{6}$")
    value_usd = dy.Float64(nullable=False, min=0)
    quantity_t = dy.Float64(nullable=True, min=0)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class Governance(dy.Schema):
    """World Bank WGI: one row per (year, country, indicator); estimate in -2.5..2.5."""

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    country_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    indicator = dy.String(nullable=False, primary_key=True, regex=_one_of(WGI_INDICATORS))
    estimate = dy.Float64(nullable=True, min=-5.0, max=5.0)
    stddev = dy.Float64(nullable=True, min=0)
    pctrank = dy.Float64(nullable=True, min=0, max=100)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class Alignment(dy.Schema):
    """UN General Assembly ideal points (Bailey, Strezhnev and Voeten), one per country-year."""

    year = dy.Int32(nullable=False, primary_key=True, min=1946, max=2100)
    country_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    cow_code = dy.Int32(nullable=False)
    ideal_point = dy.Float64(nullable=True, min=-10, max=10)
    agree_with_usa_frac = dy.Float64(nullable=True, min=0, max=1)
    agree_with_china_frac = dy.Float64(nullable=True, min=0, max=1)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class Recycling(dy.Schema):
    """End-of-life recycling input rate per commodity (EU SCRREEN factsheets via WMD map)."""

    commodity = dy.String(nullable=False, primary_key=True)
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of(STAGES))
    eol_rir_frac = dy.Float64(nullable=True, min=0, max=1)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class Commodities(dy.Schema):
    """Reference table: what each (commodity, stage) is, its unit and HS6 codes."""

    commodity = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of(STAGES))
    sector = dy.String(nullable=False, regex=_one_of(SECTORS))
    name = dy.String(nullable=False)
    unit = dy.String(nullable=False)
    content_basis = dy.String(nullable=False)
    eu_sr_stage = dy.String(nullable=False, regex=_one_of(("extraction", "processing")))
    hs92_codes = dy.String(nullable=True, regex=r"^\d{6}(;\d{6})*$")
    hs2017_codes = dy.String(nullable=True, regex=r"^\d{6}(;\d{6})*$")
    note = dy.String(nullable=True)


class Alliances(dy.Schema):
    """Dated bloc membership: one row per (bloc, member, spell)."""

    bloc = dy.String(nullable=False, primary_key=True, regex=r"^[A-Z][A-Z0-9_]*$")
    iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    joined = dy.Date(nullable=False, primary_key=True)
    left = dy.Date(nullable=True)
    country = dy.String(nullable=False)
    kind = dy.String(
        nullable=False,
        regex=_one_of(
            ("security", "economic", "minerals", "technology", "energy", "trade", "intelligence")
        ),
    )
    source = dy.String(nullable=False)

    @dy.rule()
    def left_after_joined(cls) -> pl.Expr:
        """A membership ends after it begins."""
        return pl.col("left").is_null() | (pl.col("left") > pl.col("joined"))


#: The market-core parameters (names are an interface: the market model reads them).
MARKET_PARAMETERS = (
    "demand_elasticity",
    "supply_elasticity",
    "voll_multiple",
    "essential_share",
    "friction_share",
    "ramp_share_per_month",
    "spare_capacity_share",
    "holding_cost_share_per_month",
    "working_stock_days",
)
#: A commodity id, or ``*`` for a sector default.
_COMMODITY_OR_STAR = r"^([a-z][a-z0-9_]*|\*)$"


class MarketParameters(dy.Schema):
    """Cited market parameters: (commodity, stage, parameter) -> value, with its range.

    ``commodity`` and ``stage`` may be ``*``: ``(commodity, *)`` applies to every stage of
    the commodity, ``(*, *)`` is the default of ``sector``. The bounds each parameter must
    respect are checked in :mod:`resilience.reference.market_parameters`.
    """

    commodity = dy.String(nullable=False, primary_key=True, regex=_COMMODITY_OR_STAR)
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of((*STAGES, r"\*")))
    sector = dy.String(nullable=False, primary_key=True, regex=_one_of(SECTORS))
    parameter = dy.String(nullable=False, primary_key=True, regex=_one_of(MARKET_PARAMETERS))
    value = dy.Float64(nullable=False)
    low = dy.Float64(nullable=True)
    high = dy.Float64(nullable=True)
    unit = dy.String(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=False)
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)

    @dy.rule()
    def low_not_above_value(cls) -> pl.Expr:
        """The published range holds the value: low <= value."""
        return pl.col("low").is_null() | (pl.col("low") <= pl.col("value"))

    @dy.rule()
    def high_not_below_value(cls) -> pl.Expr:
        """The published range holds the value: value <= high."""
        return pl.col("high").is_null() | (pl.col("value") <= pl.col("high"))


class ReferencePrices(dy.Schema):
    """Reference price P0 per (commodity, stage, year) in USD per content unit.

    ``p0_usd_per_unit = source_price * conversion_factor`` (to the cent): the source's own
    price and unit are kept beside the converted one.
    """

    commodity = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of(STAGES))
    year = dy.Int32(nullable=False, primary_key=True, min=1900, max=2100)
    p0_usd_per_unit = dy.Float64(nullable=False, min_exclusive=0)
    unit = dy.String(nullable=False)
    source_price = dy.Float64(nullable=False, min_exclusive=0)
    source_unit = dy.String(nullable=False)
    conversion_factor = dy.Float64(nullable=False, min_exclusive=0)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=False)
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)

    @dy.rule()
    def converted_price_matches(cls) -> pl.Expr:
        """``p0_usd_per_unit`` is the source price times the conversion factor (to 0.01)."""
        return (
            pl.col("p0_usd_per_unit") - pl.col("source_price") * pl.col("conversion_factor")
        ).abs() <= 0.01


#: How a stock is expressed.
STOCK_BASES = (
    "days_of_net_imports",
    "days_of_consumption",
    "share_of_storage_capacity",
    "share_of_annual_consumption",
    "usd",
    "quantity",
    "quantity_per_day",
    "share_of_stock_per_month",
)


class StrategicStocks(dy.Schema):
    """Published strategic stocks, obligations and targets: one row per holder and item.

    ``holder`` is an ISO3 code or a bloc id of ``datasets/alliances.csv`` (``EU``,
    ``IEA``); ``commodity``/``stage`` may be ``*`` for a group named in ``note``.
    """

    holder = dy.String(nullable=False, primary_key=True, regex=r"^[A-Z][A-Z0-9_]*$")
    commodity = dy.String(nullable=False, primary_key=True, regex=_COMMODITY_OR_STAR)
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of((*STAGES, r"\*")))
    item = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    basis = dy.String(nullable=False, regex=_one_of(STOCK_BASES))
    value = dy.Float64(nullable=False, min=0)
    unit = dy.String(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=False)
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)

    @dy.rule()
    def shares_are_fractions(cls) -> pl.Expr:
        """A share basis holds a fraction in 0..1."""
        return ~pl.col("basis").str.starts_with("share_") | (pl.col("value") <= 1)


class GasInfrastructure(dy.Schema):
    """Gas pipeline and LNG import capacities where public, in the source's unit and bcm/yr."""

    asset = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    kind = dy.String(nullable=False, regex=_one_of(("pipeline", "lng_regas")))
    from_region = dy.String(nullable=False, regex=r"^[A-Z]+(\+[A-Z]+)*$")
    to_region = dy.String(nullable=False, regex=r"^[A-Z]+(\+[A-Z]+)*$")
    capacity = dy.Float64(nullable=False, min_exclusive=0)
    unit = dy.String(nullable=False)
    capacity_bcm_per_year = dy.Float64(nullable=False, min_exclusive=0)
    status = dy.String(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=False)
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)


class ContentFactors(dy.Schema):
    """Metal, oxide or energy content per gross tonne of a traded HS6 product.

    One row per (hs6, commodity, stage) of ``datasets/commodities.csv`` with an empty
    ``exporter_iso3`` (the default), plus optional rows for one exporter whose product
    under that code differs (DRC's cobalt hydroxide declared as a cobalt intermediate):
    ``quantity_content = quantity_t * content_per_gross_t`` in ``content_unit`` (the
    commodity's unit: tonnes of content, or million m3 for natural gas). ``low`` and
    ``high`` bound the factor where a range is known. ``from_unit`` is ``t`` (gross
    tonnes of the traded good) on every HS6 row; a row without ``hs6`` converts another
    unit of the commodity (natural gas: ``TJ`` -> ``million m3``, the heat content used
    for Eurostat's energy units), so that one table holds every gas unit conversion.
    """

    hs6 = dy.String(nullable=True, regex=r"^\d{6}$")
    commodity = dy.String(nullable=False, regex=r"^[a-z][a-z0-9_]*$")
    stage = dy.String(nullable=False, regex=_one_of(STAGES))
    exporter_iso3 = dy.String(nullable=True, regex=ISO3_PATTERN)
    from_unit = dy.String(nullable=False)
    content_unit = dy.String(nullable=False)
    content_per_gross_t = dy.Float64(nullable=False, min_exclusive=0)
    low = dy.Float64(nullable=True, min_exclusive=0)
    high = dy.Float64(nullable=True, min_exclusive=0)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=True)
    quote = dy.String(nullable=True)
    note = dy.String(nullable=True)

    @dy.rule()
    def one_factor_per_key(cls) -> pl.Expr:
        """One row per (hs6, commodity, stage, exporter_iso3, from_unit).

        An empty ``exporter_iso3`` is the default factor.
        """
        return ~pl.struct("hs6", "commodity", "stage", "exporter_iso3", "from_unit").is_duplicated()

    @dy.rule()
    def hs6_iff_gross_tonnes(cls) -> pl.Expr:
        """An HS6 row converts gross tonnes (``from_unit`` ``t``).

        A row without ``hs6`` converts another unit of the commodity (gas ``TJ``).
        """
        return pl.col("hs6").is_not_null() == (pl.col("from_unit") == "t")

    @dy.rule()
    def range_holds_factor(cls) -> pl.Expr:
        """``low <= content_per_gross_t <= high`` where bounds and a positive factor exist."""
        f = pl.col("content_per_gross_t")
        return (f <= 0) | (pl.col("low").is_null() | (pl.col("low") <= f)) & (
            pl.col("high").is_null() | (f <= pl.col("high"))
        )


#: An importer: an ISO3 code, or a bloc id (``EU27``, ``G7``, a union ``G7+EU``, a bloc
#: of a user's file; :mod:`resilience.build.blocs`).
IMPORTER_PATTERN = r"^[A-Z][A-Z0-9_]*(\+[A-Z][A-Z0-9_]*)*$"
#: Bases of a metrics row: bilateral trade, the world-market mix, or a chip basis.
METRICS_BASES = ("bilateral", "world_market", *CHIP_BASES)
#: Shares summed in floating point may pass 1 by a few ulps (``top3_share`` 1 + 2e-16).
_SHARE_MAX = 1.0 + 1e-9


class MetricsTable(dy.Schema):
    """The metrics table (:func:`resilience.build.pipeline.dependency_and_metrics`).

    One row per year, importer (a country or a bloc), commodity, stage and basis. A bloc
    row (``importer_is_bloc``) carries the bloc's extra-bloc imports, its members' summed
    production, the EU supply-risk sourcing it used (``eu_sourcing_basis``,
    ``n_sourcing_missing_quantity``), its material-level EU supply risk and bottleneck
    stage, and GeoPolRisk's price and characterisation factor (intra-bloc flows enter
    GeoPolRisk with a zero governance term, geopolrisk-py's ``internal``). Quantities are
    null where the row has no recorded trade (world-market basis); ``imports_content`` and
    ``exports_content`` are on the commodity's content basis (``content_unit``).
    """

    year = dy.Int32(nullable=False, primary_key=True, min=1900, max=2100)
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=IMPORTER_PATTERN)
    commodity = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    stage = dy.String(nullable=False, primary_key=True, regex=_one_of(STAGES))
    basis = dy.String(nullable=False, primary_key=True, regex=_one_of(METRICS_BASES))
    sector = dy.String(nullable=False, regex=_one_of(SECTORS))
    importer_is_bloc = dy.Bool(nullable=False)
    hhi = dy.Float64(nullable=False, min=0, max=_SHARE_MAX)
    hhi_10000 = dy.Float64(nullable=False, min=0, max=10_000 * _SHARE_MAX)
    top_supplier_iso3 = dy.String(nullable=False, regex=ISO3_PATTERN)
    top1_share = dy.Float64(nullable=False, min=0, max=_SHARE_MAX)
    top3_share = dy.Float64(nullable=False, min=0, max=_SHARE_MAX)
    n_suppliers = dy.UInt32(nullable=False, min=1)
    imports_t = dy.Float64(nullable=True, min=0)
    imports_content = dy.Float64(nullable=True, min=0)
    content_unit = dy.String(nullable=True)
    exports_t = dy.Float64(nullable=True, min=0)
    exports_content = dy.Float64(nullable=True, min=0)
    domestic_production = dy.Float64(nullable=True, min=0)
    production_unit = dy.String(nullable=True)
    import_value_usd = dy.Float64(nullable=True, min=0)
    import_reliance = dy.Float64(nullable=True, min=0, max=1)
    import_reliance_assumed = dy.Bool(nullable=False)
    hhi_wgi_t_sourcing = dy.Float64(nullable=True, min=0)
    hhi_wgi_t_global = dy.Float64(nullable=True, min=0)
    n_missing_wgi_global = dy.UInt32(nullable=True)
    si_sr = dy.Float64(nullable=False, min=0, max=1)
    si_sr_source = dy.String(nullable=False)
    eol_rir_frac = dy.Float64(nullable=False, min=0, max=1)
    eol_rir_source = dy.String(nullable=False)
    eu_supply_risk = dy.Float64(nullable=True, min=0)
    eu_sourcing_basis = dy.String(nullable=False)
    n_sourcing_missing_quantity = dy.UInt32(nullable=True)
    eu_bottleneck_stage = dy.String(nullable=True, regex=_one_of(STAGES))
    eu_supply_risk_material = dy.Float64(nullable=True, min=0)
    geopolrisk_score = dy.Float64(nullable=True, min=0, max=1)
    geopolrisk_import_risk = dy.Float64(nullable=True, min=0, max=1)
    geopolrisk_price_usd_per_kg = dy.Float64(nullable=True, min=0)
    geopolrisk_cf_cu_eq = dy.Float64(nullable=True, min=0)
    world_hhi = dy.Float64(nullable=True, min=0, max=_SHARE_MAX)
    world_top_producer_iso3 = dy.String(nullable=True, regex=ISO3_PATTERN)
    world_top1_share = dy.Float64(nullable=True, min=0, max=_SHARE_MAX)
    production_year = dy.Int32(nullable=True, min=1900, max=2100)
    production_source = dy.String(nullable=True)

    @dy.rule()
    def country_importer_is_iso3(cls) -> pl.Expr:
        """A country importer is three letters; a longer id must be a bloc."""
        return pl.col("importer_is_bloc") | pl.col("importer_iso3").str.contains(ISO3_PATTERN)

    @dy.rule()
    def top1_within_top3(cls) -> pl.Expr:
        """The top supplier's share is part of the top three's."""
        return pl.col("top1_share") <= pl.col("top3_share") + 1e-9
