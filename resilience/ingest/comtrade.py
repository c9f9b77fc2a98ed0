"""UN Comtrade (Comtrade+ API v1 / bulk) commodity trade records.

Upstream format
---------------
One CSV row per Comtrade+ record (47 native fields; API extracts may add their own), e.g.
``comtrade_api_samples/*.csv``. The fields this adapter reads:

* ``refYear`` (year), ``freqCode`` (``A`` annual; monthly records are rejected),
  ``typeCode`` (``C`` commodities);
* ``reporterCode``, ``partnerCode``: Comtrade numeric area codes. Mostly ISO 3166
  numeric, but 251 France, 579 Norway, 699 India, 757 Switzerland, 842 USA, 490 "Other
  Asia, nes" (Taiwan in practice), 58 Belgium-Luxembourg, 280 Fed. Rep. of Germany, 736
  Sudan before 2011, 849 US Misc. Pacific Islands; ``0`` is the World (partner totals);
  97 EU and the "... nes" areas (129, 221, 290, 471-473, 492, 527, 568, 577, 636, 637,
  697, 711, 838, 839, 879, 899) are aggregates; 837 "Bunkers" is not a country either.
  These are the codes BACI uses (its country table is a complete reference, and can be
  passed as ``country_codes``). ``reporterISO``/``partnerISO`` are empty unless the API
  was called with descriptions; when filled they are checked against the codes.
* ``flowCode``: ``M`` imports, ``X`` exports (kept); ``RM``/``RX`` re-imports/re-exports
  and ``DX``/``FM`` (domestic exports / foreign imports) are other views of trade and
  are dropped with a logged count; anything else is an error.
* ``classificationCode`` (``H0``..``H6`` = HS 1992..2022) and ``cmdCode``: the HS code as
  text, 2, 4 or 6 digits (``TOTAL`` and non-HS classifications are rejected). The code
  is kept as a string with its revision.
* ``partner2Code``, ``customsCode``, ``motCode``, ``mosCode``: breakdowns of a flow by
  second partner, customs procedure, mode of transport and mode of supply. ``0`` /
  ``C00`` are totals; the API returns breakdown rows *next to* the total (e.g. Australia's
  lithium imports by air, ``motCode`` 1000, and by sea, 2100, beside the all-modes
  total), so breakdown rows are dropped (with a logged count) to avoid double counting;
  a breakdown without its total is an error.
* ``primaryValue`` (USD; CIF for imports, FOB for exports as reported), ``netWgt`` (kg;
  empty or ``0`` when not reported: a zero weight on a positive value is read as
  "not reported"), ``isAggregate``/``isReported`` (whether Comtrade estimated the
  record; kept as ``is_reported``).

What comes out is :class:`ComtradeFlows`: one row per (year, reporter, partner, flow,
HS code, revision), with ``exporter_iso3``/``importer_iso3`` derived from the reporter's
point of view (imports: exporter = partner; exports: exporter = reporter). World partner
rows are kept as totals with partner ``WLD``.
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

__all__ = [
    "COMTRADE_AREA_CODES",
    "HS_REVISIONS",
    "SOURCE",
    "ComtradeFlows",
    "read_comtrade",
]

log = logging.getLogger(__name__)

SOURCE = "UN Comtrade"

#: Comtrade ``classificationCode`` -> HS edition.
HS_REVISIONS: dict[str, str] = {
    "H0": "HS1992",
    "H1": "HS1996",
    "H2": "HS2002",
    "H3": "HS2007",
    "H4": "HS2012",
    "H5": "HS2017",
    "H6": "HS2022",
}

#: Comtrade area codes that are not the ISO 3166 numeric code of what they stand for:
#: code -> (ISO3 or pseudo-code, kind, Comtrade's name). Everything else is looked up as
#: an ISO 3166 numeric code.
COMTRADE_AREA_CODES: dict[int, tuple[str | None, str, str]] = {
    0: (WORLD, "world", "World"),
    58: ("BLX", "country", "Belgium-Luxembourg (...1998)"),
    251: ("FRA", "country", "France"),
    280: ("DEU", "country", "Fed. Rep. of Germany (...1990)"),
    490: ("TWN", "country", "Other Asia, nes"),
    579: ("NOR", "country", "Norway"),
    699: ("IND", "country", "India"),
    736: ("SDN", "country", "Sudan (...2011)"),
    757: ("CHE", "country", "Switzerland"),
    842: ("USA", "country", "USA"),
    849: ("UMI", "country", "US Misc. Pacific Isds"),
    97: (None, "region", "EU"),
    129: (None, "region", "Caribbean, nes"),
    221: (None, "region", "Eastern Europe, nes"),
    290: (None, "region", "Northern Africa, nes"),
    471: (None, "region", "CACM, nes"),
    472: (None, "region", "Africa CAMEU region, nes"),
    473: (None, "region", "LAIA, nes"),
    492: (None, "region", "Europe EU, nes"),
    527: (None, "region", "Oceania, nes"),
    568: (None, "region", "Other Europe, nes"),
    577: (None, "region", "Other Africa, nes"),
    636: (None, "region", "Rest of America, nes"),
    637: (None, "region", "North America and Central America, nes"),
    697: (None, "region", "Europe EFTA, nes"),
    711: (None, "region", "Southern African Customs Union (...1999)"),
    837: (None, "statistic", "Bunkers"),
    838: (None, "statistic", "Free Zones"),
    839: (None, "statistic", "Special Categories"),
    879: (None, "region", "Western Asia, nes"),
    899: (None, "region", "Areas, nes"),
}

_REQUIRED = (
    "refYear",
    "freqCode",
    "reporterCode",
    "flowCode",
    "partnerCode",
    "classificationCode",
    "cmdCode",
    "netWgt",
    "primaryValue",
)
_FLOWS = {"M": "import", "X": "export"}
_OTHER_FLOWS = ("RM", "RX", "DX", "FM")
#: Breakdown columns and the value meaning "total".
_TOTALS = {"partner2Code": "0", "customsCode": "C00", "motCode": "0", "mosCode": "0"}
_NOT_COUNTRIES = ("region", "statistic", "rest_of_world")


class ComtradeFlows(dy.Schema):
    """Comtrade records as reported: reporter's view, HS code at any level (2-6 digits)."""

    year = dy.Int32(nullable=False, primary_key=True, min=1900, max=2100)
    reporter_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    partner_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    flow = dy.Enum(("import", "export"), nullable=False, primary_key=True)
    hs_code = dy.String(nullable=False, primary_key=True, regex=r"^(\d{2}|\d{4}|\d{6})$")
    hs_revision = dy.String(nullable=False, primary_key=True)
    exporter_iso3 = dy.String(nullable=False, regex=ISO3_PATTERN)
    importer_iso3 = dy.String(nullable=False, regex=ISO3_PATTERN)
    value_usd = dy.Float64(nullable=False, min=0)
    net_weight_t = dy.Float64(nullable=True, min=0)
    is_reported = dy.Bool(nullable=True)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


def _code_map(
    codes: list[int],
    country_codes: pl.DataFrame | None,
    resolver: CountryResolver,
) -> dict[int, tuple[str | None, str] | None]:
    """Resolve each distinct Comtrade code (``None`` when unknown)."""
    given: dict[int, tuple[str | None, str]] = {}
    if country_codes is not None:
        code_col = "baci_code" if "baci_code" in country_codes.columns else "code"
        for code, iso3, kind in country_codes.select(
            code_col, "country_iso3", "country_kind"
        ).iter_rows():
            given[int(code)] = (iso3, kind)
    out: dict[int, tuple[str | None, str] | None] = {}
    for code in codes:
        if code == 0:
            out[code] = (WORLD, "world")
        elif code in given:
            out[code] = given[code]
        elif code in COMTRADE_AREA_CODES:
            iso3, kind, _ = COMTRADE_AREA_CODES[code]
            out[code] = (iso3, kind)
        else:
            iso3 = resolver.iso3_from_numeric(code)
            out[code] = None if iso3 is None else (iso3, "country")
    return out


def _drop_breakdowns(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Keep total rows; drop breakdown rows that sit beside their total."""
    present = {c: v for c, v in _TOTALS.items() if c in frame.columns}
    if not present:
        return frame
    is_total = pl.all_horizontal(
        pl.col(c).str.strip_chars().fill_null(v) == v for c, v in present.items()
    )
    key = ["refYear", "reporterCode", "flowCode", "partnerCode", "classificationCode", "cmdCode"]
    totals = frame.filter(is_total)
    parts = frame.filter(~is_total)
    if not parts.height:
        return frame
    orphans = parts.join(totals.select(key), on=key, how="anti", nulls_equal=True)
    if orphans.height:
        rec = orphans.row(0, named=True)
        column = next(c for c, v in present.items() if (rec[c] or v).strip() != v)
        raise DataError.single(
            path,
            rec[ROW_COLUMN],
            column,
            rec[column],
            "breakdown row without its total row (partner2/customs/transport/supply = total)",
        )
    log.info("%s: dropped %d breakdown rows (their totals are kept)", path, parts.height)
    return totals


def read_comtrade(
    path: Path | str,
    *,
    vintage: str = "Comtrade+ API",
    source: str = SOURCE,
    country_codes: pl.DataFrame | None = None,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read a Comtrade+ CSV (API or bulk) into a validated :class:`ComtradeFlows` frame.

    Parameters
    ----------
    path
        CSV with the native Comtrade+ v1 fields (see the module docstring).
    vintage
        Retrieval date or release of the extract (Comtrade revises data continuously and
        the records do not say); e.g. ``"2025-12-28"``.
    source
        Provenance written on every row.
    country_codes
        Optional code table (``baci_code`` or ``code``, ``country_iso3``,
        ``country_kind``), e.g. :func:`resilience.ingest.baci.read_baci_country_codes`
        output; defaults to :data:`COMTRADE_AREA_CODES` plus ISO numeric codes.
    resolver
        Country resolver; defaults to :meth:`CountryResolver.default`.

    Returns
    -------
    polars.DataFrame
        :class:`ComtradeFlows` columns plus ``source_row``, in file order; partner
        ``WLD`` rows are the reporter's totals. ``value_usd`` is ``primaryValue``,
        ``net_weight_t`` is ``netWgt / 1000``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, non-annual records, unknown flow codes, classifications other than
        HS, malformed HS codes, unknown area codes, reporter codes that are not
        countries, ISO columns that disagree with the codes, unparseable or negative
        numbers, breakdown rows without totals, duplicate keys.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    frame = read_text_csv(path, required=_REQUIRED)
    _check_values(frame, "freqCode", ("A",), path, "only annual records (A) are supported")
    _check_values(
        frame, "flowCode", (*_FLOWS, *_OTHER_FLOWS), path, "unknown flow code (M, X, RM, RX...)"
    )
    other = frame.filter(pl.col("flowCode").is_in(_OTHER_FLOWS))
    if other.height:
        log.info(
            "%s: dropped %d re-import/re-export/domestic/foreign flow rows (%s)",
            path,
            other.height,
            sorted(other["flowCode"].unique().to_list()),
        )
        frame = frame.filter(~pl.col("flowCode").is_in(_OTHER_FLOWS))
    _check_values(frame, "classificationCode", tuple(HS_REVISIONS), path, "not an HS revision")
    bad_cmd = frame.filter(
        ~pl.col("cmdCode").str.strip_chars().str.contains(r"^(\d{2}|\d{4}|\d{6})$").fill_null(False)
    )
    if bad_cmd.height:
        raise DataError(
            [
                DataProblem(str(path), row, "cmdCode", value, "not an HS code of 2, 4 or 6 digits")
                for value, row in bad_cmd.select("cmdCode", ROW_COLUMN).head(50).iter_rows()
            ]
        )
    frame = _drop_breakdowns(frame, path)
    frame = parse_whole_numbers(frame, "refYear", file=path, out="year")
    check_name_years(frame, path, column="refYear")
    frame = parse_whole_numbers(frame, "reporterCode", file=path, out="_reporter")
    frame = parse_whole_numbers(frame, "partnerCode", file=path, out="_partner")
    frame = parse_numbers(frame, "primaryValue", file=path, out="value_usd", withheld=())
    frame = parse_numbers(frame, "netWgt", file=path, out="_net_kg", withheld=())
    negative = [
        DataProblem(str(path), row, column, value, "negative value")
        for column, parsed in (("primaryValue", "value_usd"), ("netWgt", "_net_kg"))
        for value, row in frame.filter(pl.col(parsed) < 0).select(column, ROW_COLUMN).iter_rows()
    ]
    if negative:
        raise DataError(negative)
    frame = _resolve_areas(frame, path, country_codes, resolver)
    zero_weight = (pl.col("_net_kg") == 0) & (pl.col("value_usd") > 0)
    n_zero = frame.filter(zero_weight).height
    if n_zero:
        log.info("%s: %d rows with netWgt 0 on a positive value read as not reported", path, n_zero)
    is_import = pl.col("flowCode") == "M"
    reported = (
        pl.col("isReported")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict({"true": True, "false": False}, default=None, return_dtype=pl.Boolean)
        if "isReported" in frame.columns
        else pl.lit(None, dtype=pl.Boolean)
    )
    out = frame.select(
        pl.col("year"),
        pl.col("reporter_iso3"),
        pl.col("partner_iso3"),
        pl.col("flowCode").replace_strict(_FLOWS, return_dtype=pl.String).alias("flow"),
        pl.col("cmdCode").str.strip_chars().alias("hs_code"),
        pl.col("classificationCode")
        .replace_strict(HS_REVISIONS, return_dtype=pl.String)
        .alias("hs_revision"),
        pl.when(is_import)
        .then(pl.col("partner_iso3"))
        .otherwise(pl.col("reporter_iso3"))
        .alias("exporter_iso3"),
        pl.when(is_import)
        .then(pl.col("reporter_iso3"))
        .otherwise(pl.col("partner_iso3"))
        .alias("importer_iso3"),
        pl.col("value_usd"),
        pl.when(zero_weight).then(None).otherwise(pl.col("_net_kg") / 1000.0).alias("net_weight_t"),
        reported.alias("is_reported"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col(ROW_COLUMN),
    )
    return validate_frame(
        ComtradeFlows,
        out,
        file=path,
        column_names={
            "year": "refYear",
            "reporter_iso3": "reporterCode",
            "partner_iso3": "partnerCode",
            "flow": "flowCode",
            "hs_code": "cmdCode",
            "hs_revision": "classificationCode",
            "value_usd": "primaryValue",
            "net_weight_t": "netWgt",
        },
    )


def _check_values(
    frame: pl.DataFrame, column: str, allowed: tuple[str, ...], path: Path, reason: str
) -> None:
    bad = frame.filter(~pl.col(column).is_in(allowed).fill_null(False))
    if bad.height:
        raise DataError(
            [
                DataProblem(str(path), row, column, value, reason)
                for value, row in bad.select(column, ROW_COLUMN).head(50).iter_rows()
            ]
        )


def _resolve_areas(
    frame: pl.DataFrame,
    path: Path,
    country_codes: pl.DataFrame | None,
    resolver: CountryResolver,
) -> pl.DataFrame:
    """Add ``reporter_iso3``/``partner_iso3``; drop rows whose partner is an aggregate."""
    codes = sorted(set(frame["_reporter"].to_list()) | set(frame["_partner"].to_list()))
    mapping = _code_map(codes, country_codes, resolver)
    problems: list[DataProblem] = []
    for role, column in (("_reporter", "reporterCode"), ("_partner", "partnerCode")):
        firsts = frame.group_by(role, column).agg(pl.col(ROW_COLUMN).min()).sort(ROW_COLUMN)
        for code, raw, row in firsts.iter_rows():
            hit = mapping[code]
            if hit is None:
                problems.append(
                    DataProblem(str(path), row, column, raw, "unknown Comtrade area code")
                )
            elif role == "_reporter" and hit[1] != "country":
                problems.append(
                    DataProblem(
                        str(path), row, column, raw, f"a reporter must be a country, not {hit[1]}"
                    )
                )
    if problems:
        raise DataError(problems)
    iso = {c: (m[0] if m else None) for c, m in mapping.items()}
    kind = {c: (m[1] if m else None) for c, m in mapping.items()}
    frame = frame.with_columns(
        pl.col("_reporter").replace_strict(iso, return_dtype=pl.String).alias("reporter_iso3"),
        pl.col("_partner").replace_strict(iso, return_dtype=pl.String).alias("partner_iso3"),
        pl.col("_partner").replace_strict(kind, return_dtype=pl.String).alias("_partner_kind"),
    )
    _check_iso_columns(frame, path, resolver)
    aggregates = frame.filter(pl.col("_partner_kind").is_in(_NOT_COUNTRIES))
    if aggregates.height:
        log.info(
            "%s: dropped %d rows whose partner is an aggregate area (codes %s)",
            path,
            aggregates.height,
            sorted(set(aggregates["_partner"].to_list())),
        )
    return frame.filter(~pl.col("_partner_kind").is_in(_NOT_COUNTRIES))


def _check_iso_columns(frame: pl.DataFrame, path: Path, resolver: CountryResolver) -> None:
    """When ``reporterISO``/``partnerISO`` are filled with ISO3 codes, they must agree."""
    problems: list[DataProblem] = []
    for iso_col, ours in (("reporterISO", "reporter_iso3"), ("partnerISO", "partner_iso3")):
        if iso_col not in frame.columns:
            continue
        given = pl.col(iso_col).str.strip_chars().str.to_uppercase()
        pairs = (
            frame.filter(given.is_not_null() & (given != ""))
            .group_by(iso_col, ours)
            .agg(pl.col(ROW_COLUMN).min())
            .sort(ROW_COLUMN)
        )
        for raw, iso3, row in pairs.iter_rows():
            code = raw.strip().upper()
            if code in ("W00", WORLD) and iso3 == WORLD:
                continue
            if resolver.is_country(code) and code != iso3:
                problems.append(
                    DataProblem(str(path), row, iso_col, raw, f"disagrees with the code (= {iso3})")
                )
    if problems:
        raise DataError(problems)
