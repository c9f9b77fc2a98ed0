"""Taiwan customs: exports of electronic integrated circuits (HS 8542) by destination.

Upstream format
---------------
``taiwan_exports_8542_by_destination_2013_2025.csv`` (an extract of the trade-statistics
database of the Customs Administration, Ministry of Finance, R.O.C. (Taiwan), collected
in a0013333j-png/data-visualization-labs; ``datasets/sources/taiwan_customs.md``):
UTF-8 with a byte-order mark, one row per (year, destination, CCC code). Columns:

* ``Year``: whole number, within the years of the file name;
* ``Country``: destination in Traditional Chinese (``中國大陸``, ``香港``, ``美國`` ...),
  resolved to ISO3 through the shipped aliases (``datasets/country_aliases.csv``, scope
  ``taiwan_customs``). ``其他國家`` ("other countries") is not a country: its rows are kept
  with ``importer_iso3`` ``ROW`` and counted in the log. Any other unknown name is an
  error;
* ``HS Code``: the 11-digit Taiwan CCC code (10-digit tariff code + check digit), under
  heading 8542; its first six digits pick the segment (:data:`SEGMENT_BY_HS6`). Another
  length, a heading other than 8542 or an HS6 not in the table is an error;
* ``Description``: English CCC description (kept as ``ccc_description``);
* ``Export Value (USD)``: FOB value in US dollars, ``>= 0``; a negative, empty or
  non-numeric value is an error.

What comes out is :class:`TaiwanCustomsExports` (one row per year, destination and CCC
code, plus ``source_row``); :func:`build_taiwan_chip_exports` adds the exporter, source,
vintage and the partial-year flag of :class:`~resilience.schemas.chip_trade.TaiwanChipExports`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import parse_numbers
from resilience.ingest.text import parse_whole_numbers, read_text_csv
from resilience.reference.countries import REST_OF_WORLD, CountryResolver
from resilience.schemas.chip_trade import CHIP_SEGMENTS, TaiwanChipExports
from resilience.schemas.tables import ISO3_PATTERN
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = [
    "ALIAS_SCOPE",
    "NON_COUNTRY_DESTINATIONS",
    "SEGMENT_BY_HS6",
    "SOURCE",
    "TAIWAN_CHIP_EXPORTS",
    "VINTAGE",
    "TaiwanCustomsExports",
    "build_taiwan_chip_exports",
    "read_taiwan_exports",
]

log = logging.getLogger(__name__)

#: The attribution the Customs Administration asks for.
SOURCE = "Customs Administration, Ministry of Finance, R.O.C. (Taiwan)"
#: The collector's file was last changed on 2 September 2025 (SOURCE.md).
VINTAGE = "2025-09-02"
#: Country-resolver scope of the Traditional-Chinese destination names.
ALIAS_SCOPE = "taiwan_customs"
#: File name of the shipped table in ``datasets/``.
TAIWAN_CHIP_EXPORTS = "taiwan_chip_exports.parquet"
#: Destination names that are not countries -> what their rows become.
NON_COUNTRY_DESTINATIONS: dict[str, str] = {"其他國家": REST_OF_WORLD}
#: HS 2017/2022 subheading -> segment (the HS6 under every CCC code of the file).
SEGMENT_BY_HS6: dict[str, str] = {
    "854231": "processors_controllers",
    "854232": "memories",
    "854233": "amplifiers",
    "854239": "other_integrated_circuits",
    "854290": "parts_and_lead_frames",
}

_COLUMNS = ("Year", "Country", "HS Code", "Description", "Export Value (USD)")
_MAX_LISTED = 50


class TaiwanCustomsExports(dy.Schema):
    """Taiwan's 8542 exports as read: (year, destination, CCC code) -> FOB USD."""

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    ccc_code = dy.String(nullable=False, primary_key=True, regex=r"^8542\d{7}$")
    hs6_code = dy.String(nullable=False, regex=r"^8542\d{2}$")
    segment = dy.Enum(CHIP_SEGMENTS, nullable=False)
    ccc_description = dy.String(nullable=False)
    value_usd = dy.Float64(nullable=False, min=0)


def _problems(frame: pl.DataFrame, file: Path, column: str, reason: str) -> list[DataProblem]:
    return [
        DataProblem(str(file), row, column, value, reason)
        for value, row in frame.select(column, ROW_COLUMN).head(_MAX_LISTED).iter_rows()
    ]


def _check_codes(raw: pl.DataFrame, path: Path) -> None:
    code = pl.col("HS Code")
    bad = raw.filter(~code.str.contains(r"^\d{11}$").fill_null(False))
    problems = _problems(bad, path, "HS Code", "not an 11-digit CCC code")
    wrong = raw.filter(code.str.contains(r"^\d{11}$") & ~code.str.starts_with("8542"))
    problems += _problems(wrong, path, "HS Code", "not under HS heading 8542 (integrated circuits)")
    unknown = raw.filter(
        code.str.contains(r"^8542\d{7}$") & ~code.str.slice(0, 6).is_in(list(SEGMENT_BY_HS6))
    )
    problems += _problems(
        unknown,
        path,
        "HS Code",
        f"HS6 subheading not mapped to a segment (known: {', '.join(SEGMENT_BY_HS6)})",
    )
    problems += _problems(
        raw.filter(pl.col("Description").is_null()), path, "Description", "description missing"
    )
    if problems:
        raise DataError(problems)


def _resolve(frame: pl.DataFrame, path: Path, resolver: CountryResolver) -> pl.DataFrame:
    special = pl.col("Country").is_in(list(NON_COUNTRY_DESTINATIONS))
    countries = resolver.resolve_column(
        frame.filter(~special),
        "Country",
        file=path,
        scope=ALIAS_SCOPE,
        iso3_column="importer_iso3",
        kind_column="importer_kind",
    )
    not_country = countries.filter(pl.col("importer_kind") != "country")
    if not_country.height:
        raise DataError(_problems(not_country, path, "Country", "not a destination country"))
    others = frame.filter(special)
    if others.height:
        value = others["value_usd"].sum()
        log.info(
            "%s: %d rows of non-country destinations (%s) kept as %s, USD %.0f in all",
            path.name,
            others.height,
            "; ".join(sorted(set(others["Country"].to_list()))),
            REST_OF_WORLD,
            value,
        )
    others = others.with_columns(
        pl.col("Country")
        .replace_strict(NON_COUNTRY_DESTINATIONS, return_dtype=pl.String)
        .alias("importer_iso3"),
        pl.lit("rest_of_world").alias("importer_kind"),
    )
    return pl.concat([countries, others]).sort(ROW_COLUMN)


def read_taiwan_exports(path: Path, *, resolver: CountryResolver | None = None) -> pl.DataFrame:
    """Read Taiwan's 8542 exports by destination and CCC code (see the module docstring).

    Parameters
    ----------
    path
        ``taiwan_exports_8542_by_destination_*.csv``.
    resolver
        Country resolver; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        :class:`TaiwanCustomsExports` plus ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        Every rejected value, naming the file, row, column and value: a cut, empty,
        header-only or UTF-16 file, a missing column, a bad or out-of-range year, an
        unknown destination name, a code that is not an 11-digit CCC code under 8542 or
        whose HS6 has no segment, a negative, empty or non-numeric value, a duplicate
        (year, destination, code).
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    raw = read_text_csv(path, required=_COLUMNS)
    raw = parse_whole_numbers(raw, "Year", file=path, out="year")
    check_name_years(raw, path, column="Year")
    _check_codes(raw, path)
    raw = parse_numbers(raw, "Export Value (USD)", file=path, out="value_usd")
    problems = _problems(
        raw.filter(pl.col("value_usd").is_null()), path, "Export Value (USD)", "value missing"
    )
    problems += _problems(
        raw.filter(pl.col("value_usd") < 0), path, "Export Value (USD)", "negative"
    )
    if problems:
        raise DataError(problems)
    frame = _resolve(raw, path, resolver)
    out = frame.select(
        "year",
        "importer_iso3",
        pl.col("HS Code").alias("ccc_code"),
        pl.col("HS Code").str.slice(0, 6).alias("hs6_code"),
        pl.col("HS Code").str.slice(0, 6).replace_strict(SEGMENT_BY_HS6).alias("segment"),
        pl.col("Description").alias("ccc_description"),
        "value_usd",
        ROW_COLUMN,
    )
    names = {"year": "Year", "importer_iso3": "Country", "ccc_code": "HS Code"}
    names |= {"value_usd": "Export Value (USD)", "ccc_description": "Description"}
    names["year, importer_iso3, ccc_code"] = "Year, Country, HS Code"  # the key, for duplicates
    return validate_frame(TaiwanCustomsExports, out, file=path, column_names=names)


def build_taiwan_chip_exports(
    exports: pl.DataFrame, *, source: str = SOURCE, vintage: str = VINTAGE
) -> pl.DataFrame:
    """The shipped table (:class:`~resilience.schemas.chip_trade.TaiwanChipExports`).

    Parameters
    ----------
    exports
        :func:`read_taiwan_exports`'s rows.
    source, vintage
        Attribution and vintage (``YYYY-MM-DD``, the day the extract was taken): a year
        not before the vintage's year was not over and is flagged ``is_partial_year``.

    Returns
    -------
    polars.DataFrame
        Sorted by year, destination and code; without ``source_row``.
    """
    extract_year = int(vintage[:4])
    out = exports.select(
        "year",
        pl.lit("TWN").alias("exporter_iso3"),
        "importer_iso3",
        "ccc_code",
        "hs6_code",
        "segment",
        "ccc_description",
        "value_usd",
        (pl.col("year") >= extract_year).alias("is_partial_year"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        ROW_COLUMN,
    ).sort("year", "importer_iso3", "ccc_code")
    return validate_frame(TaiwanChipExports, out, file=TAIWAN_CHIP_EXPORTS).drop(ROW_COLUMN)
