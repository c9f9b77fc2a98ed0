"""Compact tables from the monthly and by-origin sources: China's exports, EU gas imports.

* :func:`build_china_exports_monthly`: China's monthly exports by partner for the
  export-controlled HS lines, mapped to our (commodity, stage) through
  ``datasets/maps/comtrade_china_monthly.csv`` with a content factor per line
  (``content_quantity_t = quantity_t x content_factor``).
* :func:`build_eu_gas_imports_by_origin`: Eurostat ``nrg_ti_gas`` imports from Russia and
  in total, in TJ GCV and in the gas unit of ``commodities.csv`` (million m3) through the
  cited heat content in ``datasets/content_factors.csv`` (its ``TJ`` row for natural gas).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.build.china_bilateral import CHINA_CONTENT_BASIS
from resilience.errors import DataError, DataProblem
from resilience.metrics.sums import stable_sum
from resilience.paths import datasets_dir
from resilience.reference.content import load_content_factors
from resilience.schemas.tables import ISO3_PATTERN
from resilience.schemas.validate import validate_frame

__all__ = [
    "CHINA_EXPORTS_MONTHLY",
    "CHINA_MONTHLY_MAP",
    "EU_GAS_IMPORTS",
    "GAS_HEAT_CONTENT",
    "ChinaExportsMonthly",
    "ContentMap",
    "EuGasImports",
    "GasHeatContent",
    "build_china_exports_monthly",
    "build_eu_gas_imports_by_origin",
    "build_monthly_dependency",
    "china_export_trade_rows",
    "load_china_monthly_map",
    "load_gas_heat_content",
    "with_china_exports",
    "with_china_provenance",
    "with_source_provenance",
    "with_source_tables",
]

log = logging.getLogger(__name__)

CHINA_MONTHLY_MAP = Path("maps") / "comtrade_china_monthly.csv"
#: The table holding the gas heat content (its row without ``hs6``, ``from_unit`` TJ).
GAS_HEAT_CONTENT = Path("content_factors.csv")
KG_PER_T = 1000.0
#: File names of the two tables in ``datasets/``.
CHINA_EXPORTS_MONTHLY = "china_exports_monthly.parquet"
EU_GAS_IMPORTS = "eu_gas_imports_by_origin.csv"


class ContentMap(dy.Schema):
    """HS6 line -> (commodity, stage) with the content per gross tonne."""

    hs6_code = dy.String(nullable=False, primary_key=True, regex=r"^\d{6}$")
    commodity = dy.String(nullable=False, primary_key=True)
    stage = dy.String(nullable=False, primary_key=True)
    content_factor = dy.Float64(nullable=False, min_exclusive=0, max=1)
    content_basis = dy.String(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    note = dy.String(nullable=True)


class GasHeatContent(dy.Schema):
    """Unit conversion of gas quantities (``to = from x factor``)."""

    commodity = dy.String(nullable=False, primary_key=True)
    stage = dy.String(nullable=False, primary_key=True)
    from_unit = dy.String(nullable=False, primary_key=True)
    to_unit = dy.String(nullable=False, primary_key=True)
    factor = dy.Float64(nullable=False, min_exclusive=0)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=True)
    quote = dy.String(nullable=True)
    note = dy.String(nullable=True)


class ChinaExportsMonthly(dy.Schema):
    """``datasets/china_exports_monthly.parquet``."""

    period = dy.String(nullable=False, primary_key=True, regex=r"^\d{4}-(0[1-9]|1[0-2])$")
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    commodity = dy.String(nullable=False, primary_key=True)
    stage = dy.String(nullable=False, primary_key=True)
    hs6_code = dy.String(nullable=False, primary_key=True, regex=r"^\d{6}$")
    year = dy.Int32(nullable=False, min=1990, max=2100)
    month = dy.Int8(nullable=False, min=1, max=12)
    exporter_iso3 = dy.String(nullable=False, regex=ISO3_PATTERN)
    value_usd = dy.Float64(nullable=False, min=0)
    quantity_t = dy.Float64(nullable=True, min=0)
    content_factor = dy.Float64(nullable=False, min_exclusive=0, max=1)
    content_quantity_t = dy.Float64(nullable=True, min=0)
    content_basis = dy.String(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class EuGasImports(dy.Schema):
    """``datasets/eu_gas_imports_by_origin.csv``."""

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    exporter_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    product = dy.Enum(("natural_gas", "lng"), nullable=False, primary_key=True)
    commodity = dy.String(nullable=False)
    stage = dy.String(nullable=False)
    quantity_tj_gcv = dy.Float64(nullable=True, min=0)
    quantity = dy.Float64(nullable=True, min=0)
    unit = dy.String(nullable=False)
    conversion_factor = dy.Float64(nullable=False, min_exclusive=0)
    flag = dy.String(nullable=True)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


def _read_reference(schema: type[dy.Schema], path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False).with_row_index("source_row", offset=2)
    numeric = [c for c in ("content_factor", "factor") if c in raw.columns]
    bad = raw.filter(
        pl.any_horizontal(pl.col(c).cast(pl.Float64, strict=False).is_null() for c in numeric)
    )
    if bad.height:
        raise DataError(
            [
                DataProblem(str(path), int(row[0]), c, row[1], "not a number")
                for c in numeric
                for row in bad.select("source_row", c).iter_rows()
                if row[1] is None or _not_float(row[1])
            ]
        )
    frame = raw.with_columns(pl.col(numeric).cast(pl.Float64))
    return validate_frame(schema, frame.cast({"source_row": pl.Int64}), file=path).drop(
        "source_row"
    )


def _not_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def load_china_monthly_map(path: Path | None = None) -> pl.DataFrame:
    """The HS line map of China's monthly exports (:class:`ContentMap`); validated."""
    return _read_reference(ContentMap, path or datasets_dir() / CHINA_MONTHLY_MAP)


def load_gas_heat_content(path: Path | None = None) -> pl.DataFrame:
    """The cited non-tonne unit conversions of ``content_factors.csv`` (:class:`GasHeatContent`).

    Parameters
    ----------
    path
        The content-factor table; the shipped ``datasets/content_factors.csv`` by default.

    Returns
    -------
    polars.DataFrame
        ``commodity, stage, from_unit, to_unit, factor, source, vintage, url, quote, note``
        (``to = from x factor``) for every row without ``hs6`` (natural gas TJ -> million
        m3), validated and cross-checked as content factors
        (:func:`resilience.reference.content.load_content_factors`).
    """
    factors = load_content_factors(path or datasets_dir() / GAS_HEAT_CONTENT)
    conversions = factors.filter(pl.col("hs6").is_null()).select(
        "commodity",
        "stage",
        "from_unit",
        pl.col("content_unit").alias("to_unit"),
        pl.col("content_per_gross_t").alias("factor"),
        "source",
        "vintage",
        "url",
        "quote",
        "note",
        "source_row",
    )
    return validate_frame(GasHeatContent, conversions, file=str(GAS_HEAT_CONTENT))


def build_china_exports_monthly(
    flows: pl.DataFrame,
    content_map: pl.DataFrame,
    *,
    file: str | Path,
    source: str,
    vintage: str,
) -> pl.DataFrame:
    """China's monthly exports by partner, (commodity, stage) and HS6 on a content basis.

    Parameters
    ----------
    flows
        :func:`resilience.ingest.china_monthly.read_china_monthly_exports` (with
        ``source_row``).
    content_map
        :func:`load_china_monthly_map`.
    file
        The flows' file, for messages.
    source, vintage
        Written on every row.

    Raises
    ------
    resilience.errors.DataError
        An HS6 of ``flows`` with no row in the content map (a missing content factor),
        naming the file, row, column and value.
    """
    missing = flows.join(content_map.select("hs6_code").unique(), on="hs6_code", how="anti")
    if missing.height:
        raise DataError(
            [
                DataProblem(str(file), row, "hs6", code, f"no content factor ({CHINA_MONTHLY_MAP})")
                for code, row in missing.select("hs6_code", "source_row").head(50).iter_rows()
            ]
        )
    joined = flows.join(content_map, on="hs6_code", how="inner")
    quantity_t = pl.col("quantity_kg") / KG_PER_T
    out = joined.select(
        pl.format("{}-{}", "year", pl.col("month").cast(pl.String).str.zfill(2)).alias("period"),
        "importer_iso3",
        "commodity",
        "stage",
        "hs6_code",
        "year",
        "month",
        "exporter_iso3",
        "value_usd",
        quantity_t.alias("quantity_t"),
        "content_factor",
        (quantity_t * pl.col("content_factor")).alias("content_quantity_t"),
        "content_basis",
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
    ).sort("period", "commodity", "stage", "hs6_code", "importer_iso3")
    checked = validate_frame(ChinaExportsMonthly, out, file=CHINA_EXPORTS_MONTHLY)
    return checked.drop("source_row", strict=False)


def build_eu_gas_imports_by_origin(
    imports: pl.DataFrame,
    heat_content: pl.DataFrame,
    *,
    commodity_unit: str,
    source: str,
    vintage: str,
) -> pl.DataFrame:
    """Eurostat gas imports by origin in TJ GCV and in ``commodity_unit``.

    Parameters
    ----------
    imports
        :func:`resilience.ingest.eurostat.read_nrg_ti_gas`.
    heat_content
        :func:`load_gas_heat_content`; must hold natural_gas/mining ``TJ`` ->
        ``commodity_unit``.
    commodity_unit
        The unit of natural_gas/mining in ``commodities.csv`` (``million m3``).
    source, vintage
        Written on every row.

    Raises
    ------
    resilience.errors.DataError
        No conversion from TJ to ``commodity_unit`` in the heat-content table.
    """
    hit = heat_content.filter(
        (pl.col("commodity") == "natural_gas")
        & (pl.col("stage") == "mining")
        & (pl.col("from_unit") == "TJ")
        & (pl.col("to_unit") == commodity_unit)
    )
    if hit.height != 1:
        raise DataError.single(
            str(GAS_HEAT_CONTENT),
            None,
            "to_unit",
            commodity_unit,
            "no conversion natural_gas/mining TJ -> the commodity's unit",
        )
    factor = float(hit["factor"][0])
    out = imports.select(
        "year",
        "importer_iso3",
        "exporter_iso3",
        pl.col("product").cast(pl.String),
        pl.lit("natural_gas").alias("commodity"),
        pl.lit("mining").alias("stage"),
        pl.col("value_tj_gcv").alias("quantity_tj_gcv"),
        (pl.col("value_tj_gcv") * factor).alias("quantity"),
        pl.lit(commodity_unit).alias("unit"),
        pl.lit(factor).alias("conversion_factor"),
        "flag",
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
    ).sort("year", "importer_iso3", "exporter_iso3", "product")
    checked = validate_frame(EuGasImports, out, file=EU_GAS_IMPORTS)
    return checked.drop("source_row", strict=False)


def china_export_trade_rows(
    monthly: pl.DataFrame,
    world: pl.DataFrame,
    *,
    skip: pl.DataFrame,
    years: list[int],
) -> pl.DataFrame:
    r"""Annual trade rows (``trade.parquet`` columns) from China's monthly exports.

    For each (year, importer, commodity, stage) of ``monthly`` that the trade table does
    not cover (``skip``: its ``year, commodity, stage`` rows), China's exports to the
    importer in the year, on a content basis, become China's row; every other producer
    :math:`p` (not the importer) gets a row scaled from China's by world production
    shares:

    .. math:: q_{m,p} = q_{m,\mathrm{CHN}} \, w_p / w_{\mathrm{CHN}}

    at China's unit value (so value shares equal quantity shares). The importer's imports
    from other producers are not in the data (gallium and germanium have no HS92 code in
    BACI), so the split follows world production: China's bilateral volume sets the scale,
    not China's share. Those rows' ``source`` says so and ``n_flows`` is 0.

    Parameters
    ----------
    monthly
        :func:`load <resilience.data.load_china_exports_monthly>`'s table.
    world
        :func:`resilience.build.world_market.world_shares` for ``years`` (collected).
    skip
        ``year, commodity, stage`` already in the trade table (their rows are not added).
    years
        Years to produce.

    Returns
    -------
    polars.DataFrame
        Columns of ``trade.parquet``; empty when nothing applies.
    """
    key = ["year", "importer_iso3", "commodity", "stage"]
    own = (
        monthly.filter(pl.col("year").is_in(years))
        .join(
            skip.select("year", "commodity", "stage").unique(),
            on=["year", "commodity", "stage"],
            how="anti",
        )
        .group_by(*key, "exporter_iso3", "source", "vintage")
        .agg(
            stable_sum(pl.col("value_usd")),
            pl.when(pl.col("content_quantity_t").count() > 0)
            .then(stable_sum(pl.col("content_quantity_t")))
            .alias("quantity_t"),
            pl.len().cast(pl.Int64).alias("n_flows"),
            pl.col("content_quantity_t")
            .null_count()
            .cast(pl.Int64)
            .alias("n_flows_missing_quantity"),
            stable_sum(pl.col("value_usd").filter(pl.col("content_quantity_t").is_null())).alias(
                "value_usd_missing_quantity"
            ),
        )
    )
    shares = world.filter(pl.col("world_share").is_not_null() & (pl.col("world_share") > 0))
    china = shares.filter(pl.col("country_iso3") == "CHN").select(
        "year", "commodity", "stage", pl.col("world_share").alias("_w_chn")
    )
    others = (
        own.join(china, on=["year", "commodity", "stage"], how="inner")
        .join(
            shares.filter(pl.col("country_iso3") != "CHN").select(
                "year", "commodity", "stage", "country_iso3", "world_share", "production_source"
            ),
            on=["year", "commodity", "stage"],
            how="inner",
        )
        .filter(pl.col("country_iso3") != pl.col("importer_iso3"))
        .select(
            *key,
            pl.col("country_iso3").alias("exporter_iso3"),
            pl.format(
                "world production share ({}) scaled to China's exports (UN Comtrade)",
                "production_source",
            ).alias("source"),
            pl.col("vintage"),
            pl.col("value_usd") * pl.col("world_share") / pl.col("_w_chn"),
            pl.col("quantity_t") * pl.col("world_share") / pl.col("_w_chn"),
            pl.lit(0, pl.Int64).alias("n_flows"),
            pl.lit(0, pl.Int64).alias("n_flows_missing_quantity"),
            pl.lit(0.0).alias("value_usd_missing_quantity"),
        )
    )
    columns = [
        *key[:4],
        "exporter_iso3",
        "source",
        "vintage",
        "value_usd",
        "quantity_t",
        "n_flows",
        "n_flows_missing_quantity",
        "value_usd_missing_quantity",
    ]
    return (
        pl.concat([own.select(columns), others.select(columns)])
        .with_columns(pl.col("year").cast(pl.Int32))
        .sort("year", "importer_iso3", "commodity", "stage", "exporter_iso3")
    )


def with_china_exports(trade: pl.LazyFrame) -> pl.LazyFrame:
    """``trade`` plus :func:`china_export_trade_rows` when the local China table exists.

    The table is built by ``resilience data refresh`` from UN Comtrade data and is not
    shipped; without it ``trade`` is returned unchanged (logged once per process).
    """
    from resilience import data
    from resilience.build.world_market import world_shares

    path = datasets_dir() / CHINA_EXPORTS_MONTHLY
    if not path.exists():
        _say_absent(str(path))
        return trade
    monthly = data.load_china_exports_monthly(path)
    covered = trade.select("year", "commodity", "stage").unique().collect()
    years = sorted(covered["year"].unique().to_list())
    world = world_shares(data.load_production(), years)
    world_frame = world.collect() if isinstance(world, pl.LazyFrame) else world
    extra = china_export_trade_rows(monthly, world_frame, skip=covered, years=years)
    if extra.height == 0:
        return trade
    if "quantity_content" in trade.collect_schema().names():
        # China's rows are already in content tonnes (maps/comtrade_china_monthly.csv).
        extra = extra.with_columns(
            pl.col("quantity_t").alias("quantity_content"),
            pl.lit("t").alias("content_unit"),
            pl.lit(CHINA_CONTENT_BASIS).alias("content_basis"),
        )
    return pl.concat([trade, extra.lazy()], how="diagonal_relaxed")


@cache
def _say_absent(path: str) -> None:
    log.info("%s absent: gallium and germanium have no bilateral rows (not shipped)", path)


def with_china_provenance(table: pl.DataFrame) -> pl.DataFrame:
    """Name China's monthly exports as the source of the bilateral rows they supply.

    ``table`` has ``commodity, stage, basis, source, vintage`` (the risk table). Rows on a
    bilateral basis of a (commodity, stage) that the trade table lacks and the local China
    table holds (gallium and germanium) get that table's source, plus the world
    production scaling of :func:`china_export_trade_rows`, and its vintage.
    """
    from resilience import data

    path = datasets_dir() / CHINA_EXPORTS_MONTHLY
    if not path.exists() or table.height == 0:
        return table
    pairs = (
        data.load_china_exports_monthly(path)
        .select("commodity", "stage", "source", "vintage")
        .unique(["commodity", "stage"])
        .join(
            data.scan_trade().select("commodity", "stage").unique().collect(),
            on=["commodity", "stage"],
            how="anti",
        )
        .rename({"source": "_china_source", "vintage": "_china_vintage"})
    )
    hit = pl.col("_china_source").is_not_null() & (pl.col("basis") == "bilateral")
    return (
        table.join(pairs, on=["commodity", "stage"], how="left")
        .with_columns(
            pl.when(hit)
            .then(pl.format("{}; other producers: world production shares", "_china_source"))
            .otherwise(pl.col("source"))
            .alias("source"),
            pl.when(hit)
            .then(pl.col("_china_vintage"))
            .otherwise(pl.col("vintage"))
            .alias("vintage"),
        )
        .drop("_china_source", "_china_vintage")
    )


def with_source_tables(trade: pl.LazyFrame) -> pl.LazyFrame:
    """The trade the metrics and models use, from ``trade`` and the source tables.

    China's exports (:func:`with_china_exports`) are added and gas is re-split by origin
    (:func:`resilience.build.gas_origin.with_gas_origin`).
    """
    from resilience.build.gas_origin import with_gas_origin

    return with_gas_origin(with_china_exports(trade))


def with_source_provenance(table: pl.DataFrame) -> pl.DataFrame:
    """A risk table's ``source``/``vintage`` for the rows :func:`with_source_tables` changed."""
    from resilience.build.gas_origin import gas_origin_provenance

    return gas_origin_provenance(with_china_provenance(table))


def build_monthly_dependency(
    monthly: pl.DataFrame, dependency: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The monthly dependency table: China's supply to each importer by month.

    A table beside the yearly dependency dataset (whose consumers it leaves alone), keyed
    by ``period`` as well as the yearly key: one row per (period, importer, commodity,
    stage, supplier = CHN) from the first to the last month the importer appears for
    that good, months without a record being 0 t (the collector's file lists a partner's
    months with trade); a month whose records all lack a weight has a null quantity.
    Columns: ``year, month, period, importer_iso3, commodity, stage,
    supplier_iso3, basis`` (``bilateral_monthly``), ``import_value_usd``,
    ``import_quantity_t`` (content basis), ``trailing_12m_mean_t`` (mean of the 12
    previous months; null before 12 months of history), ``vs_trailing_12m`` (the month
    over that mean) and, when the yearly ``dependency`` is given, ``annual_supply_share``
    (China's share of the importer's supply that year).

    Parameters
    ----------
    monthly
        China's monthly exports (:func:`resilience.data.load_china_exports_monthly`).
    dependency
        Yearly dependency rows (``year, importer_iso3, commodity, stage, supplier_iso3,
        supply_share``), optional.
    """
    key = ["importer_iso3", "commodity", "stage"]
    sums = monthly.group_by("year", "month", *key).agg(
        stable_sum(pl.col("value_usd")).alias("import_value_usd"),
        pl.when(pl.col("content_quantity_t").count() > 0)
        .then(stable_sum(pl.col("content_quantity_t")))
        .alias("import_quantity_t"),
        pl.lit(True).alias("_seen"),
    )
    sums = sums.with_columns(pl.date(pl.col("year"), pl.col("month"), 1).alias("_date"))
    spans = sums.group_by(key).agg(
        pl.date_ranges(pl.col("_date").min(), pl.col("_date").max(), interval="1mo").alias("_date")
    )
    grid = spans.explode("_date").join(sums.drop("year", "month"), on=[*key, "_date"], how="left")
    out = (
        grid.with_columns(
            pl.col("import_value_usd").fill_null(0.0),
            pl.when(pl.col("_seen").is_null())
            .then(0.0)
            .otherwise(pl.col("import_quantity_t"))
            .alias("import_quantity_t"),
        )
        .sort(*key, "_date")
        .with_columns(
            pl.col("import_quantity_t")
            .shift(1)
            .rolling_mean(window_size=12, min_samples=12)
            .over(key)
            .alias("trailing_12m_mean_t")
        )
        .with_columns(
            pl.when(pl.col("trailing_12m_mean_t") > 0)
            .then(pl.col("import_quantity_t") / pl.col("trailing_12m_mean_t"))
            .alias("vs_trailing_12m"),
            pl.col("_date").dt.year().cast(pl.Int32).alias("year"),
            pl.col("_date").dt.month().cast(pl.Int8).alias("month"),
            pl.col("_date").dt.strftime("%Y-%m").alias("period"),
            pl.lit("CHN").alias("supplier_iso3"),
            pl.lit("bilateral_monthly").alias("basis"),
        )
        .drop("_date", "_seen")
    )
    if dependency is not None:
        out = out.join(
            dependency.select(
                pl.col("year").cast(pl.Int32),
                *key,
                "supplier_iso3",
                pl.col("supply_share").alias("annual_supply_share"),
            ),
            on=["year", *key, "supplier_iso3"],
            how="left",
        )
    first = ["year", "month", "period", *key, "supplier_iso3", "basis"]
    return out.select(*first, pl.exclude(first)).sort("period", *key)
