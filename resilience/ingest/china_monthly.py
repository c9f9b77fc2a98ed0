"""China's monthly exports by partner and HS6 line (UN Comtrade, as aggregated by Q. Ennis).

Upstream format
---------------
``china_exports_by_partner_hs6_monthly_2017_2024.csv`` (qennis/ChinaCriticalMineralComtrade,
``data_output/tables/deep_dive_hs6_monthly.csv``): one row per month, partner and HS6
subheading of China's exports, pulled from the Comtrade+ API (monthly, reporter China,
flow X) and summed by the collector. Columns:

* ``period_dt``: first day of the month, ``YYYY-MM-01`` (a day other than 01, a month
  outside 1-12 or any other text is an error);
* ``partner_name``: English partner name (``USA``, ``South Korea``, ``UAE`` ...), resolved
  to ISO3 through :class:`resilience.reference.countries.CountryResolver` and the shipped
  aliases; an unknown name, or a name that is an aggregate rather than a country, is an
  error;
* ``hs6``: HS 2017/2022 subheading (250410 natural graphite, 380110 artificial graphite,
  811292 unwrought Ga/Ge/In/Nb/V); a subheading that no line of the tariff-line list
  (``hs_map_china_tariff_lines.csv``, 8-digit Chinese lines) falls under is an error;
* ``val`` (USD, Comtrade ``primaryValue``), ``qty`` (kg, net weight): negative values are
  errors; a zero weight on a positive value is Comtrade's "weight not reported" and
  becomes a null ``quantity_kg`` (counted in the log, never a zero);
* ``uv`` (USD/kg): the collector's ``val / qty``; not read (``inf`` where ``qty`` is 0).

``hs_map_china_tariff_lines.csv`` (``notes/hs_map.csv``; its ``hs6`` column holds 8-digit
codes): ``hs6, material, group, notes``.

What comes out is :class:`ChinaMonthlyExports`, one row per (month, partner, HS6).
"""

from __future__ import annotations

import logging
from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import parse_numbers
from resilience.ingest.text import read_text_csv
from resilience.reference.countries import CountryResolver
from resilience.schemas.tables import ISO3_PATTERN
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = [
    "SOURCE",
    "ChinaMonthlyExports",
    "TariffLines",
    "read_china_monthly_exports",
    "read_tariff_lines",
]

log = logging.getLogger(__name__)

SOURCE = "UN Comtrade (China monthly exports, via qennis/ChinaCriticalMineralComtrade)"
#: Country-resolver scope for aliases used only by this file.
ALIAS_SCOPE = "comtrade_china_monthly"

_PERIOD = r"^(\d{4})-(\d{2})-01$"
_MAX_LISTED = 50


class TariffLines(dy.Schema):
    """China's 8-digit tariff lines for the export-controlled goods."""

    tariff_line = dy.String(nullable=False, primary_key=True, regex=r"^\d{8}$")
    hs6_code = dy.String(nullable=False, regex=r"^\d{6}$")
    material = dy.String(nullable=False)
    group = dy.String(nullable=False)
    note = dy.String(nullable=True)


class ChinaMonthlyExports(dy.Schema):
    """China's exports by (month, partner, HS6) as reported (gross weight)."""

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    month = dy.Int8(nullable=False, primary_key=True, min=1, max=12)
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    hs6_code = dy.String(nullable=False, primary_key=True, regex=r"^\d{6}$")
    exporter_iso3 = dy.String(nullable=False, regex=ISO3_PATTERN)
    value_usd = dy.Float64(nullable=False, min=0)
    quantity_kg = dy.Float64(nullable=True, min=0)


def _problems(frame: pl.DataFrame, file: Path, column: str, reason: str) -> list[DataProblem]:
    return [
        DataProblem(str(file), row, column, value, reason)
        for value, row in frame.select(column, ROW_COLUMN).head(_MAX_LISTED).iter_rows()
    ]


def read_tariff_lines(path: Path) -> pl.DataFrame:
    """Read the list of Chinese 8-digit tariff lines (:class:`TariffLines`).

    Raises
    ------
    resilience.errors.DataError
        A code that is not 8 digits, a missing material or group, or a duplicate line,
        naming the file, row, column and value.
    """
    path = Path(path)
    raw = read_text_csv(path, required=("hs6", "material", "group"))
    bad = raw.filter(~pl.col("hs6").str.contains(r"^\d{8}$").fill_null(False))
    if bad.height:
        raise DataError(_problems(bad, path, "hs6", "not an 8-digit tariff line"))
    frame = raw.select(
        pl.col("hs6").alias("tariff_line"),
        pl.col("hs6").str.slice(0, 6).alias("hs6_code"),
        "material",
        "group",
        pl.col("notes").alias("note") if "notes" in raw.columns else pl.lit(None, pl.String),
        ROW_COLUMN,
    )
    return validate_frame(TariffLines, frame, file=path.name).drop(ROW_COLUMN)


def _parse_period(raw: pl.DataFrame, path: Path) -> pl.DataFrame:
    parts = pl.col("period_dt").str.extract_groups(_PERIOD)
    frame = raw.with_columns(
        parts.struct.field("1").cast(pl.Int32).alias("year"),
        parts.struct.field("2").cast(pl.Int8).alias("month"),
    )
    bad = frame.filter(pl.col("year").is_null())
    problems = _problems(bad, path, "period_dt", "not a month (YYYY-MM-01)")
    bad_month = frame.filter(pl.col("year").is_not_null() & ~pl.col("month").is_between(1, 12))
    problems += _problems(bad_month, path, "period_dt", "month outside 1-12")
    if problems:
        raise DataError(problems)
    return frame


def _check_quantities(frame: pl.DataFrame, path: Path) -> None:
    problems: list[DataProblem] = []
    for column, parsed in (("val", "value_usd"), ("qty", "quantity_kg")):
        problems += _problems(frame.filter(pl.col(parsed) < 0), path, column, "negative")
    problems += _problems(
        frame.filter(pl.col("value_usd").is_null()), path, "val", "trade value missing"
    )
    if problems:
        raise DataError(problems)


def read_china_monthly_exports(
    path: Path,
    tariff_lines: pl.DataFrame,
    *,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read China's monthly exports by partner and HS6 (see the module docstring).

    Parameters
    ----------
    path
        ``china_exports_by_partner_hs6_monthly_*.csv``.
    tariff_lines
        :func:`read_tariff_lines` of the tariff-line list; every HS6 of ``path`` must
        have a line under it.
    resolver
        Country resolver; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        :class:`ChinaMonthlyExports` plus ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        Every rejected value, naming the file, row, column and value: a bad period or
        month 13, an unknown or non-country partner, an HS6 with no tariff line, a
        negative or non-numeric value or quantity, a duplicate (month, partner, HS6), a
        year outside the years of the file name.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    raw = read_text_csv(path, required=("period_dt", "partner_name", "hs6", "val", "qty"))
    frame = _parse_period(raw, path)
    check_name_years(frame, path, column="period_dt")
    known = set(tariff_lines["hs6_code"].to_list())
    unknown = frame.filter(~pl.col("hs6").is_in(sorted(known)))
    if unknown.height:
        raise DataError(
            _problems(
                unknown,
                path,
                "hs6",
                f"no tariff line under this HS6 (known: {', '.join(sorted(known))})",
            )
        )
    frame = parse_numbers(frame, "val", file=path, out="value_usd")
    frame = parse_numbers(frame, "qty", file=path, out="quantity_kg")
    _check_quantities(frame, path)
    frame = resolver.resolve_column(
        frame,
        "partner_name",
        file=path,
        scope=ALIAS_SCOPE,
        iso3_column="importer_iso3",
        kind_column="partner_kind",
    )
    not_country = frame.filter(pl.col("partner_kind") != "country")
    if not_country.height:
        raise DataError(
            _problems(not_country, path, "partner_name", "an aggregate, not a partner country")
        )
    unreported = frame.filter((pl.col("quantity_kg") == 0) & (pl.col("value_usd") > 0)).height
    if unreported:
        log.info(
            "%s: %d rows with a value and weight 0 (weight not reported): quantity left null",
            path.name,
            unreported,
        )
    out = frame.select(
        "year",
        "month",
        "importer_iso3",
        pl.col("hs6").alias("hs6_code"),
        pl.lit("CHN").alias("exporter_iso3"),
        "value_usd",
        pl.when((pl.col("quantity_kg") == 0) & (pl.col("value_usd") > 0))
        .then(None)
        .otherwise(pl.col("quantity_kg"))
        .alias("quantity_kg"),
        ROW_COLUMN,
    )
    return validate_frame(ChinaMonthlyExports, out, file=path.name)
