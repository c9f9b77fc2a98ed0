"""Eurostat ``nrg_ti_gas``: imports of natural gas by partner country (tidy CSV extract).

Upstream format
---------------
``nrg_ti_gas_ru_total_2011_2020_tidy.csv``: the four data sheets of the Eurostat Data
Browser custom extract ``NRG_TI_GAS__custom_2437435`` (extracted 5 April 2022, data of
23 March 2022) flattened to one row per value, nothing changed. Columns:

* ``reporter``: Eurostat English geo label (``Germany (until 1990 former territory of the
  FRG)``, ``Czechia``, ``European Union - 27 countries (from 2020)`` ...). Countries are
  resolved to ISO3 through :class:`resilience.reference.countries.CountryResolver` (aliases
  scoped ``eurostat``); the EU27/EU28/euro-area aggregates are dropped with a logged count;
  an unknown label is an error;
* ``partner``: ``Russia`` or ``Total`` (-> ``RUS`` / ``WLD``); any other partner name must
  resolve to a country, an unknown one is an error;
* ``siec``: ``Natural gas`` (G3000, which includes LNG) or ``Liquefied natural gas``
  (G3200); anything else is an error;
* ``unit``: must be ``Terajoule (gross calorific value - GCV)``;
* ``year``: whole number, within the years of the file name;
* ``value``: TJ GCV, ``>= 0``; empty with ``flag`` ``:`` is "not available" (kept as null,
  never zero); a negative or non-numeric value is an error;
* ``flag``: Eurostat flag, kept as text (``:`` not available, ``c`` confidential...).

What comes out is :class:`EurostatGasImports`: one row per (year, importer, partner,
product).
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
from resilience.reference.countries import WORLD, CountryResolver
from resilience.schemas.tables import ISO3_PATTERN
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = ["SOURCE", "SIEC", "UNIT_TJ_GCV", "EurostatGasImports", "read_nrg_ti_gas"]

log = logging.getLogger(__name__)

SOURCE = "Eurostat (nrg_ti_gas)"
ALIAS_SCOPE = "eurostat"
UNIT_TJ_GCV = "Terajoule (gross calorific value - GCV)"
#: Eurostat SIEC label -> (code, our product name).
SIEC: dict[str, tuple[str, str]] = {
    "Natural gas": ("G3000", "natural_gas"),
    "Liquefied natural gas": ("G3200", "lng"),
}
_MAX_LISTED = 50


class EurostatGasImports(dy.Schema):
    """Gas imports by reporter and partner (``WLD`` = all partners), TJ GCV."""

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    exporter_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    siec_code = dy.Enum(("G3000", "G3200"), nullable=False, primary_key=True)
    product = dy.Enum(("natural_gas", "lng"), nullable=False)
    value_tj_gcv = dy.Float64(nullable=True, min=0)
    flag = dy.String(nullable=True)


def _problems(frame: pl.DataFrame, file: Path, column: str, reason: str) -> list[DataProblem]:
    return [
        DataProblem(str(file), row, column, value, reason)
        for value, row in frame.select(column, ROW_COLUMN).head(_MAX_LISTED).iter_rows()
    ]


def _check_labels(raw: pl.DataFrame, path: Path) -> None:
    problems = _problems(
        raw.filter(pl.col("unit") != UNIT_TJ_GCV), path, "unit", f"unit is not {UNIT_TJ_GCV!r}"
    )
    problems += _problems(
        raw.filter(~pl.col("siec").is_in(list(SIEC))),
        path,
        "siec",
        f"unknown product (known: {', '.join(SIEC)})",
    )
    if problems:
        raise DataError(problems)


def _resolve(raw: pl.DataFrame, path: Path, resolver: CountryResolver) -> pl.DataFrame:
    frame = resolver.resolve_column(
        raw,
        "reporter",
        file=path,
        scope=ALIAS_SCOPE,
        iso3_column="importer_iso3",
        kind_column="reporter_kind",
    )
    frame = resolver.resolve_column(
        frame,
        "partner",
        file=path,
        scope=ALIAS_SCOPE,
        iso3_column="exporter_iso3",
        kind_column="partner_kind",
    )
    bad = frame.filter(~pl.col("partner_kind").is_in(["country", "world"]))
    problems = _problems(bad, path, "partner", "a region, not a partner country or the total")
    bad = frame.filter(~pl.col("reporter_kind").is_in(["country", "region"]))
    problems += _problems(bad, path, "reporter", "not a reporting country")
    if problems:
        raise DataError(problems)
    regions = frame.filter(pl.col("reporter_kind") == "region")
    if regions.height:
        log.info(
            "%s: %d rows of aggregate reporters dropped (%s)",
            path.name,
            regions.height,
            "; ".join(sorted(set(regions["reporter"].to_list()))),
        )
    return frame.filter(pl.col("reporter_kind") == "country")


def read_nrg_ti_gas(path: Path, *, resolver: CountryResolver | None = None) -> pl.DataFrame:
    """Read the tidy ``nrg_ti_gas`` extract (see the module docstring).

    Parameters
    ----------
    path
        ``nrg_ti_gas_*_tidy.csv``.
    resolver
        Country resolver; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        :class:`EurostatGasImports` plus ``source_row``; partner ``Total`` is ``WLD``.

    Raises
    ------
    resilience.errors.DataError
        Every rejected value, naming the file, row, column and value: an unknown reporter
        or partner, an unknown product or unit, a bad or out-of-range year, a negative or
        non-numeric value, a missing value without the ``:`` flag, a duplicate key.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    raw = read_text_csv(
        path, required=("reporter", "partner", "siec", "unit", "year", "value", "flag")
    )
    _check_labels(raw, path)
    raw = parse_whole_numbers(raw, "year", file=path)
    check_name_years(raw, path)
    raw = parse_numbers(raw, "value", file=path, out="value_tj_gcv", missing=("", ":"))
    problems = _problems(raw.filter(pl.col("value_tj_gcv") < 0), path, "value", "negative")
    unflagged = raw.filter(pl.col("value_tj_gcv").is_null() & (pl.col("flag").fill_null("") != ":"))
    problems += _problems(unflagged, path, "value", "empty without the ':' (not available) flag")
    if problems:
        raise DataError(problems)
    frame = _resolve(raw, path, resolver)
    out = frame.select(
        "year",
        "importer_iso3",
        pl.col("exporter_iso3").fill_null(WORLD),
        pl.col("siec").replace_strict({k: v[0] for k, v in SIEC.items()}).alias("siec_code"),
        pl.col("siec").replace_strict({k: v[1] for k, v in SIEC.items()}).alias("product"),
        "value_tj_gcv",
        "flag",
        ROW_COLUMN,
    )
    return validate_frame(EurostatGasImports, out, file=path.name)
