"""CEPII BACI bilateral trade flows (HS6), read lazily and validated with aggregate queries.

Upstream formats
----------------
Flow files ``BACI_HS92_Y2022_V202401b.csv`` (one per year, about 10 M rows / 300 MB):
columns ``t, i, j, k, v, q`` = year, exporter, importer (BACI numeric country codes),
HS6 product, value in **thousand** current USD, quantity in **metric tons**. BACI writes
``NA`` for a missing quantity (some copies leave the cell empty), and may pad numbers
with spaces. ``k`` is a 6-character code with leading zeros (``010121``); tools that
rewrite the CSV (Excel, pandas with inferred types) drop the zeros (``10121``), so ``k``
is left-padded to 6 digits. The same columns in Parquet are accepted too: the shipped
extract ``baci_hs92_v202401b_raw_materials_1995_2024.parquet`` has ``t, i, j`` as
integers and ``k, v, q`` as strings (``q`` null where missing).

Country table ``country_codes_V202401b.csv`` / ``V202501`` (``country_code,
country_name, country_iso2, country_iso3``; releases before 2022 used
``country_name_abbreviation, country_name_full, iso_2digit_alpha, iso_3digit_alpha``).
BACI codes are UN Comtrade's: mostly ISO numeric, but 251 France, 579 Norway, 699 India,
757 Switzerland, 842 USA, 58 Belgium-Luxembourg (to 1998), 490 "Other Asia, nes"
(pseudo-ISO3 ``S19``, Taiwan in practice), 697 "Europe EFTA, nes" (``R20``) and 711
"Southern African Customs Union (...1999)" (``ZA1``), which are aggregates, and 849 "US
Misc. Pacific Isds" (``PUS``). Some copies carry UTF-8 read as Latin-1 (``TÃ¼rkiye``),
repaired by :func:`~resilience.reference.countries.clean_name`; Namibia's ISO2 ``NA`` is
often blank because CSV readers take it for "missing".

What this adapter does
----------------------
* :func:`read_baci_country_codes` resolves every code to an ISO3 (by the ``country_iso3``
  column when it is a real ISO3 code, otherwise by name: ``S19`` -> TWN, ``PUS`` -> UMI),
  checks code and name agree, and marks aggregates (``country_kind = "region"``, ISO3
  null). Where BACI labels a historic entity with its successor's ISO3 (58
  Belgium-Luxembourg = ``BEL``), the historic code wins (``BLX``) so that 1995-1998
  Belgium-Luxembourg is not mistaken for Belgium.
* :func:`scan_baci` returns a :class:`polars.LazyFrame` in ``TradeFlows`` columns
  (``value_usd = v * 1000``, ``quantity_t = q``, null when missing), never reading the
  whole file. Rows with an aggregate exporter or importer are excluded explicitly (and
  counted in the log when validated).
* :func:`validate_baci` checks a flow file with a handful of streaming aggregate queries
  (no row-by-row Python): unknown country codes, unknown products, unparseable or missing
  numbers, negative values, duplicate ``(t, i, j, k)`` keys. Row numbers are the file's
  line numbers for CSV (header = 1, so the first record is row 2) and 1-based record
  numbers for Parquet.
* :func:`aggregate_baci` sums flows to importer x commodity x stage x exporter per year.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from resilience.build.content import (
    CONTENT_COLUMNS,
    check_content_map,
    content_aggregations,
    join_content,
)
from resilience.errors import DataError, DataProblem
from resilience.ingest.baci_codes import (
    MAX_LISTED,
    read_baci_country_codes,
    read_baci_product_codes,
)
from resilience.ingest.completeness import check_csv_tail
from resilience.ingest.name_years import check_name_years, name_years
from resilience.schemas.tables import STAGES, TradeFlows
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = [
    "BaciSummary",
    "aggregate_baci",
    "baci_provenance",
    "read_baci",
    "read_baci_country_codes",
    "read_baci_product_codes",
    "scan_baci",
    "validate_baci",
]

log = logging.getLogger(__name__)

FLOW_COLUMNS = ("t", "i", "j", "k", "v", "q")
_KEY = ("_t", "_i", "_j", "_k")
#: Tokens BACI (or a tool that rewrote its CSV) uses for a missing number.
MISSING_TOKENS = ("NA", "")

_NAME_RE = re.compile(r"baci_(hs\d{2})_(?:y\d{4}_)?v(\d{6}[a-z]?)", re.IGNORECASE)


def baci_provenance(
    path: Path | str, *, hs_revision: str | None = None, release: str | None = None
) -> tuple[str, str]:
    """``(source, vintage)`` for a BACI file, e.g. ``("CEPII BACI HS92 V202401b", "V202401b")``.

    Taken from the file name (``BACI_HS92_Y2022_V202401b.csv``,
    ``baci_hs92_v202401b_....parquet``) unless given.

    Raises
    ------
    resilience.errors.DataError
        When the name does not say and no parameter was given.
    """
    path = Path(path)
    match = _NAME_RE.search(path.name)
    if match is not None:
        hs_revision = hs_revision or match.group(1).upper()
        release = release or f"V{match.group(2)}"
    if hs_revision is None or release is None:
        raise DataError.single(
            path,
            None,
            "(file name)",
            path.name,
            "cannot tell the BACI HS revision and release from the file name: "
            "pass hs_revision='HS92' and release='V202401b'",
        )
    return f"CEPII BACI {hs_revision} {release}", release


# -- lazy scan ----------------------------------------------------------------------------
def _scan_raw(path: Path) -> pl.LazyFrame:
    """The flow file as a LazyFrame with ``source_row`` (CSV: line number; Parquet: 1-based)."""
    if not path.exists():
        raise DataError.single(path, None, "(file)", None, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        check_csv_tail(path)
        lf = pl.scan_csv(path, infer_schema=False, row_index_name=ROW_COLUMN, row_index_offset=2)
    elif suffix in (".parquet", ".pq"):
        lf = pl.scan_parquet(path, row_index_name=ROW_COLUMN, row_index_offset=1)
    else:
        raise DataError.single(
            path, None, "(file)", path.name, "not a BACI flow file: expected .csv or .parquet"
        )
    try:
        schema = lf.collect_schema()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise DataError.single(path, None, "(file)", None, f"unreadable: {exc}") from exc
    missing = [c for c in FLOW_COLUMNS if c not in schema]
    if missing:
        raise DataError(
            [DataProblem(str(path), None, c, None, "required column is missing") for c in missing]
        )
    return lf.select(ROW_COLUMN, *FLOW_COLUMNS)


def _typed(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add parsed columns ``_t _i _j _k _v _q`` (null where the text does not parse).

    Text columns take a fast path: each value is first parsed as written, and the slower
    strip / pad / missing-token handling applies only where that fails. Both give the same
    value wherever the fast path applies (a text that parses as written has no surrounding
    whitespace, and a 6-digit code needs no padding), and Polars skips the slow branch of a
    ``when`` for any batch where the fast condition holds on every row, which is every
    batch of a clean BACI file (on a 10 M-row year the ``k`` cleaning drops from about
    0.5 s to 0.1 s; see benchmarks/README.md).
    """
    schema = lf.collect_schema()

    def as_int(c: str) -> pl.Expr:
        if schema[c] == pl.String:
            raw = pl.col(c).cast(pl.Int32, strict=False)
            slow = pl.col(c).str.strip_chars().cast(pl.Int32, strict=False)
            return pl.when(raw.is_not_null() | pl.col(c).is_null()).then(raw).otherwise(slow)
        return pl.col(c).cast(pl.Int32, strict=False)

    def as_float(c: str) -> pl.Expr:
        if schema[c] == pl.String:
            raw = pl.col(c).cast(pl.Float64, strict=False)
            text = pl.col(c).str.strip_chars()
            slow = (
                pl.when(text.is_in(MISSING_TOKENS))
                .then(None)
                .otherwise(text.cast(pl.Float64, strict=False))
            )
            # "NA" and "" do not parse: raw is null there, as the slow path says
            clean = raw.is_not_null() | pl.col(c).is_null() | pl.col(c).is_in(MISSING_TOKENS)
            return pl.when(clean).then(raw).otherwise(slow)
        return pl.col(c).cast(pl.Float64, strict=False)

    k = pl.col("k").cast(pl.String).str.strip_chars()
    hs6: pl.Expr = pl.when(k.str.contains(r"^\d{1,6}$")).then(k.str.zfill(6))
    if schema["k"] == pl.String:
        raw_k = pl.col("k")
        # exactly six ASCII digits (the UInt32 parse accepts digits and a leading "+")
        canonical = (
            (raw_k.str.len_bytes() == 6)
            & raw_k.cast(pl.UInt32, strict=False).is_not_null()
            & ~raw_k.str.starts_with("+")
        )
        hs6 = pl.when(canonical).then(raw_k).otherwise(hs6)
    return lf.with_columns(
        as_int("t").alias("_t"),
        as_int("i").alias("_i"),
        as_int("j").alias("_j"),
        hs6.alias("_k"),
        as_float("v").alias("_v"),
        as_float("q").alias("_q"),
    )


def _is_missing(c: str) -> pl.Expr:
    return pl.col(c).is_null() | pl.col(c).cast(pl.String).str.strip_chars().is_in(MISSING_TOKENS)


@dataclass(frozen=True)
class BaciSummary:
    """What :func:`validate_baci` found in a valid file."""

    rows: int
    aggregate_rows: int
    missing_quantity_rows: int
    aggregate_codes: dict[int, int] = field(default_factory=dict)


def _coerce_products(products: pl.DataFrame | Path | str | None) -> pl.DataFrame | None:
    if products is None or isinstance(products, pl.DataFrame):
        return products
    return read_baci_product_codes(products)


def validate_baci(
    path: Path | str,
    country_codes: pl.DataFrame,
    *,
    products: pl.DataFrame | Path | str | None = None,
) -> BaciSummary:
    """Check a BACI flow file with streaming aggregate queries; raise on any bad row.

    Parameters
    ----------
    path
        Flow file (``.csv`` or ``.parquet``, columns ``t, i, j, k, v, q``).
    country_codes
        :func:`read_baci_country_codes` output.
    products
        Optional HS product table (:func:`read_baci_product_codes` output or its path);
        when given, every ``k`` must be in it.

    Returns
    -------
    BaciSummary
        Row count, rows excluded for involving an aggregate code (by code), rows with a
        missing quantity.

    Raises
    ------
    resilience.errors.DataError
        Naming the file, row, column and value of (up to 50 per check): unknown ``i``/``j``
        codes (first row each), unknown ``k`` (first row each), unparseable or missing
        ``t``/``i``/``j``/``k``/``v``, unparseable ``q``, negative ``v``/``q``, duplicate
        ``(t, i, j, k)`` keys (the repeated row, naming the first), a ``t`` the file name
        contradicts (``..._Y2022_...`` holding 2031; see
        :mod:`resilience.ingest.name_years`); for a CSV, a file that is empty,
        header-only or cut short (:func:`resilience.ingest.completeness.check_csv_tail`).
    """
    path = Path(path)
    products_table = _coerce_products(products)
    lf = _typed(_scan_raw(path))
    known = country_codes.select("baci_code", "country_kind")
    aggregates = known.filter(pl.col("country_kind") != "country")["baci_code"].to_list()

    bad_t = pl.col("_t").is_null() | ~pl.col("_t").is_between(1900, 2100)
    bad_v = pl.col("_v").is_null() | ~pl.col("_v").is_finite() | (pl.col("_v") < 0)
    bad_q = ~_is_missing("q") & (
        pl.col("_q").is_null() | ~pl.col("_q").is_finite() | (pl.col("_q") < 0)
    )
    bad_row = (
        bad_t
        | pl.col("_i").is_null()
        | pl.col("_j").is_null()
        | pl.col("_k").is_null()
        | bad_v
        | bad_q
    )
    queries = [
        lf.select(
            pl.len().alias("rows"),
            bad_row.sum().alias("bad_rows"),
            (_is_missing("q")).sum().alias("missing_q"),
            (pl.col("_i").is_in(aggregates) | pl.col("_j").is_in(aggregates))
            .sum()
            .alias("aggregate_rows"),
            pl.col("_t").filter(~bad_row).min().alias("t_min"),
            pl.col("_t").filter(~bad_row).max().alias("t_max"),
        ),
        lf.filter(bad_row).bottom_k(MAX_LISTED, by=ROW_COLUMN),
        lf.filter(pl.col("_i").is_not_null())
        .group_by("_i")
        .agg(pl.col(ROW_COLUMN).min().alias("first"), pl.len().alias("n")),
        lf.filter(pl.col("_j").is_not_null())
        .group_by("_j")
        .agg(pl.col(ROW_COLUMN).min().alias("first"), pl.len().alias("n")),
        lf.filter(pl.col("_k").is_not_null())
        .group_by("_k")
        .agg(pl.col(ROW_COLUMN).min().alias("first")),
        lf.filter(~bad_row)
        .group_by(*_KEY)
        .agg(pl.len().alias("n"), pl.col(ROW_COLUMN).min().alias("first"))
        .filter(pl.col("n") > 1),
    ]
    counts, bad, by_i, by_j, by_k, dups = pl.collect_all(queries, engine="streaming")
    file = str(path)
    problems = _row_problems(bad, file)
    known_codes = set(known["baci_code"].to_list())
    for column, table in (("i", by_i), ("j", by_j)):
        unknown = table.filter(~pl.col(f"_{column}").is_in(known_codes)).sort("first")
        problems += [
            DataProblem(file, row, column, code, "unknown BACI country code (not in the table)")
            for code, row, _ in unknown.head(MAX_LISTED).iter_rows()
        ]
    if products_table is not None:
        unknown_k = by_k.filter(~pl.col("_k").is_in(products_table["hs6_code"].implode()))
        problems += [
            DataProblem(file, row, "k", code, "unknown product code (not in the HS table)")
            for code, row in unknown_k.sort("first").head(MAX_LISTED).iter_rows()
        ]
    if dups.height:
        problems += _duplicate_problems(lf.filter(~bad_row), dups, file)
    if counts["rows"][0] == 0:
        problems.append(DataProblem(file, None, "(file)", None, "no data rows (header only)"))
    if problems:
        raise DataError(problems)
    rule = name_years(path.name)
    t_min, t_max = counts["t_min"][0], counts["t_max"][0]
    outside = rule is not None and (
        (rule.first is not None and t_min is not None and t_min < rule.first)
        or (rule.last is not None and t_max is not None and t_max > rule.last)
    )
    if outside:  # a second pass, only on failure, to name the rows
        check_name_years(lf.filter(~bad_row), path, year="_t", column="t")
    agg_codes: dict[int, int] = {}
    for column, table in (("i", by_i), ("j", by_j)):
        for code, _, n in table.filter(pl.col(f"_{column}").is_in(aggregates)).iter_rows():
            agg_codes[code] = agg_codes.get(code, 0) + n
    summary = BaciSummary(
        rows=counts["rows"][0],
        aggregate_rows=counts["aggregate_rows"][0],
        missing_quantity_rows=counts["missing_q"][0],
        aggregate_codes=agg_codes,
    )
    log.info(
        "%s: %d rows valid; %d rows with an aggregate exporter/importer excluded (%s); "
        "%d rows with missing quantity",
        path,
        summary.rows,
        summary.aggregate_rows,
        ", ".join(f"code {c}: {n}" for c, n in sorted(agg_codes.items())) or "none",
        summary.missing_quantity_rows,
    )
    return summary


def _duplicate_problems(lf: pl.LazyFrame, dups: pl.DataFrame, file: str) -> list[DataProblem]:
    """Name the second row of each duplicated key (a second, small pass over the file)."""
    seconds = (
        lf.join(dups.lazy(), on=list(_KEY), how="inner")
        .filter(pl.col(ROW_COLUMN) > pl.col("first"))
        .group_by(*_KEY, "n", "first")
        .agg(pl.col(ROW_COLUMN).min().alias("second"))
        .bottom_k(MAX_LISTED, by="second")
        .collect(engine="streaming")
        .sort("second")
    )
    return [
        DataProblem(
            file,
            second,
            "t, i, j, k",
            f"{t}, {i}, {j}, {k}",
            f"duplicate key (t, i, j, k): {n} rows, first on row {first}",
        )
        for t, i, j, k, n, first, second in seconds.iter_rows()
    ]


def _row_problems(bad: pl.DataFrame, file: str) -> list[DataProblem]:
    """Explain each offending row: which column, what value, why."""
    problems: list[DataProblem] = []
    for rec in bad.sort(ROW_COLUMN).iter_rows(named=True):
        row = rec[ROW_COLUMN]
        for column in ("t", "i", "j"):
            if rec[f"_{column}"] is None:
                problems.append(DataProblem(file, row, column, rec[column], "not a whole number"))
        if rec["_t"] is not None and not 1900 <= rec["_t"] <= 2100:
            problems.append(DataProblem(file, row, "t", rec["t"], "year outside 1900-2100"))
        if rec["_k"] is None:
            problems.append(DataProblem(file, row, "k", rec["k"], "not an HS6 code"))
        for column in ("v", "q"):
            reason = _number_problem(rec[column], rec[f"_{column}"], required=column == "v")
            if reason is not None:
                problems.append(DataProblem(file, row, column, rec[column], reason))
    return problems


def _number_problem(value: object, parsed: float | None, *, required: bool) -> str | None:
    """Why a v/q cell was rejected (``None`` when it is fine)."""
    text = None if value is None else str(value).strip()
    if text is None or text in MISSING_TOKENS:
        return "trade value is missing" if required else None
    if parsed is None or not math.isfinite(parsed):
        return "not a number"
    if parsed < 0:
        return "negative value"
    return None


def scan_baci(
    path: Path | str,
    country_codes: pl.DataFrame,
    *,
    products: pl.DataFrame | Path | str | None = None,
    validate: bool = True,
    hs_revision: str | None = None,
    release: str | None = None,
    hs_codes: Collection[str] | None = None,
) -> pl.LazyFrame:
    """Scan a BACI flow file lazily into ``TradeFlows`` columns.

    Parameters
    ----------
    path
        Flow file: BACI's CSV layout or Parquet with the same columns.
    country_codes
        :func:`read_baci_country_codes` output.
    products
        Optional HS product table (or its path) for :func:`validate_baci`.
    validate
        Run :func:`validate_baci` first (one streaming pass over the file); with
        ``False`` nothing is checked and unknown country codes come out as null ISO3.
    hs_revision, release
        Override what the file name says (``HS92``, ``V202401b``).
    hs_codes
        Keep only these six-digit HS codes. The filter runs on the raw ``k`` column
        (each code as written and without leading zeros, which is every way BACI or a
        tool that rewrote the file spells it), so the reader skips the other rows'
        columns instead of decoding and cleaning them. Validation, when on, still
        covers every row of the file.

    Returns
    -------
    polars.LazyFrame
        ``year, exporter_iso3, importer_iso3, hs6_code, value_usd (= v * 1000),
        quantity_t (null when missing), source, vintage, source_row``. Flows whose
        exporter or importer is an aggregate code are excluded. Nothing has been read
        beyond the header (and the validation pass); collect with
        ``.collect(engine="streaming")``.
    """
    path = Path(path)
    source, vintage = baci_provenance(path, hs_revision=hs_revision, release=release)
    if validate:
        validate_baci(path, country_codes, products=products)
    else:
        log.debug("%s: not validated; aggregate-code rows excluded without counting", path)
    countries = country_codes.filter(pl.col("country_kind") == "country")
    aggregates = country_codes.filter(pl.col("country_kind") != "country")["baci_code"]
    old = countries["baci_code"].to_list()
    new = countries["country_iso3"].to_list()
    raw = _scan_raw(path)
    if hs_codes is not None:
        spellings = sorted({c for code in hs_codes for c in (code, code.lstrip("0") or "0")})
        raw = raw.filter(pl.col("k").cast(pl.String).is_in(spellings))
    lf = _typed(raw)
    return lf.filter(
        ~pl.col("_i").is_in(aggregates.implode()) & ~pl.col("_j").is_in(aggregates.implode())
    ).select(
        pl.col("_t").alias("year"),
        pl.col("_i")
        .replace_strict(old, new, default=None, return_dtype=pl.String)
        .alias("exporter_iso3"),
        pl.col("_j")
        .replace_strict(old, new, default=None, return_dtype=pl.String)
        .alias("importer_iso3"),
        pl.col("_k").alias("hs6_code"),
        (pl.col("_v") * 1000.0).alias("value_usd"),
        pl.col("_q").alias("quantity_t"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col(ROW_COLUMN).cast(pl.Int64),
    )


def read_baci(
    path: Path | str,
    country_codes: pl.DataFrame,
    *,
    products: pl.DataFrame | Path | str | None = None,
    hs_revision: str | None = None,
    release: str | None = None,
) -> pl.DataFrame:
    """Read a whole (small) BACI flow file into a validated ``TradeFlows`` frame.

    For a full BACI year prefer :func:`scan_baci` and aggregate before collecting.
    Parameters as for :func:`scan_baci`.
    """
    path = Path(path)
    lf = scan_baci(path, country_codes, products=products, hs_revision=hs_revision, release=release)
    frame = lf.collect(engine="streaming")
    return validate_frame(
        TradeFlows,
        frame,
        file=path,
        column_names={
            "year": "t",
            "exporter_iso3": "i",
            "importer_iso3": "j",
            "hs6_code": "k",
            "value_usd": "v",
            "quantity_t": "q",
        },
    )


# -- aggregation --------------------------------------------------------------------------
def _check_hs_map(hs_to_commodity: pl.DataFrame) -> pl.DataFrame:
    name = "hs_to_commodity"
    missing = [c for c in ("hs6_code", "commodity", "stage") if c not in hs_to_commodity.columns]
    if missing:
        raise DataError(
            [DataProblem(name, None, c, None, "required column is missing") for c in missing]
        )
    m = hs_to_commodity.select(
        pl.col("hs6_code").cast(pl.String), pl.col("commodity"), pl.col("stage").cast(pl.String)
    ).with_row_index("_row", offset=1)
    problems = [
        DataProblem(name, row, "hs6_code", code, "not a 6-digit HS code")
        for row, code in m.filter(~pl.col("hs6_code").str.contains(r"^\d{6}$").fill_null(False))
        .select("_row", "hs6_code")
        .iter_rows()
    ]
    problems += [
        DataProblem(name, row, "stage", stage, f"unknown stage (not one of {STAGES})")
        for row, stage in m.filter(~pl.col("stage").is_in(STAGES).fill_null(False))
        .select("_row", "stage")
        .iter_rows()
    ]
    problems += [
        DataProblem(name, row, "commodity", None, "commodity is missing")
        for (row,) in m.filter(pl.col("commodity").is_null()).select("_row").iter_rows()
    ]
    dup = m.filter(~pl.struct("hs6_code", "commodity", "stage").is_first_distinct())
    problems += [
        DataProblem(name, row, "hs6_code, commodity, stage", f"{h}, {c}, {s}", "duplicate row")
        for row, h, c, s in dup.select("_row", "hs6_code", "commodity", "stage").iter_rows()
    ]
    if problems:
        raise DataError(problems)
    return m.drop("_row")


def aggregate_baci(
    lf: pl.LazyFrame,
    hs_to_commodity: pl.DataFrame,
    years: Iterable[int] | None = None,
) -> pl.LazyFrame:
    """Sum flows to (year, importer, commodity, stage, exporter): one lazy query.

    Parameters
    ----------
    lf
        :func:`scan_baci` output (``TradeFlows`` columns).
    hs_to_commodity
        ``hs6_code, commodity, stage``; an HS code may feed several (commodity, stage)
        pairs, each getting the full flow (unless ``lf`` already carries ``commodity,
        stage``: then each flow joins its own row). HS codes absent from the map are out
        of scope and not aggregated. When the map also carries ``content_per_gross_t,
        content_unit, content_basis`` (:func:`resilience.reference.content.content_map`),
        each HS6 flow is converted to content before the sum and the output gains
        ``quantity_content, content_unit, content_basis``
        (:mod:`resilience.build.content`).
    years
        Keep only these years (pushed down to the scan); ``None`` keeps all.

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, exporter_iso3, source, vintage,
        value_usd, quantity_t, n_flows, n_flows_missing_quantity,
        value_usd_missing_quantity``: ``quantity_t`` sums the known quantities (null
        when every flow of the group lacks one); the two last columns count the flows
        without a quantity and their value, so that a caller can tell a partial
        quantity from a complete one. Not sorted; collect with
        ``.collect(engine="streaming")``.

    Raises
    ------
    resilience.errors.DataError
        A malformed map (missing columns, non-6-digit codes, unknown stages, duplicates).
    """
    with_content = any(c in hs_to_commodity.columns for c in CONTENT_COLUMNS)
    if with_content:
        content = check_content_map(hs_to_commodity, "hs_to_commodity")
        if "exporter_iso3" in content.columns:
            hs_to_commodity = content.filter(pl.col("exporter_iso3").is_null())
    mapping = _check_hs_map(hs_to_commodity)
    if years is not None:
        lf = lf.filter(pl.col("year").is_in(list(years)))
    q_missing = pl.col("quantity_t").is_null()
    # Flows that already carry their commodity-stage (the stage rule,
    # resilience.build.stage_rule) join on it; others get every map row of their code.
    names = set(lf.collect_schema().names())
    key = ["hs6_code", "commodity", "stage"] if {"commodity", "stage"} <= names else ["hs6_code"]
    joined = lf.join(mapping.lazy(), on=key, how="inner")
    if with_content:
        joined = join_content(joined, content)
    return joined.group_by(
        "year", "importer_iso3", "commodity", "stage", "exporter_iso3", "source", "vintage"
    ).agg(
        pl.col("value_usd").sum(),
        pl.when(pl.col("quantity_t").count() > 0)
        .then(pl.col("quantity_t").sum())
        .otherwise(None)
        .alias("quantity_t"),
        pl.len().cast(pl.Int64).alias("n_flows"),
        q_missing.sum().cast(pl.Int64).alias("n_flows_missing_quantity"),
        pl.col("value_usd").filter(q_missing).sum().alias("value_usd_missing_quantity"),
        *(content_aggregations() if with_content else []),
    )
