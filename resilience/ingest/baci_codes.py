"""CEPII BACI's reference tables: country codes and product codes.

The country table resolves every BACI numeric code to an ISO3 code and marks aggregates;
the product table lists the HS6 codes of a release (:mod:`resilience.ingest.baci` reads
the flows; its docstring describes both formats).
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.completeness import check_csv_complete
from resilience.reference.countries import CountryResolver, clean_name
from resilience.schemas.validate import ROW_COLUMN

__all__ = ["read_baci_country_codes", "read_baci_product_codes"]

log = logging.getLogger(__name__)

#: How many offending rows a validation error lists per check.
MAX_LISTED = 50
_COUNTRY_LAYOUTS = (
    ("country_code", "country_name", "country_iso3"),
    ("country_code", "country_name_abbreviation", "iso_3digit_alpha"),
)


# -- reference tables -------------------------------------------------------------------
def read_baci_country_codes(
    path: Path | str, *, resolver: CountryResolver | None = None
) -> pl.DataFrame:
    """Read a BACI country-code table and resolve each code to ISO3.

    Parameters
    ----------
    path
        ``country_codes_V2024xx.csv`` (current or pre-2022 column layout).
    resolver
        Country resolver; defaults to :meth:`CountryResolver.default`.

    Returns
    -------
    polars.DataFrame
        ``baci_code`` (Int32), ``country_iso3`` (null for aggregates), ``country_kind``
        (``country`` or ``region``...), ``name`` (cleaned of mojibake), ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, non-integer or duplicate codes, unknown names, a ``country_iso3``
        that disagrees with the name.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    frame = _read_small_csv(path)
    layout = next((lay for lay in _COUNTRY_LAYOUTS if all(c in frame.columns for c in lay)), None)
    if layout is None:
        raise DataError(
            [
                DataProblem(str(path), None, c, None, "required column is missing")
                for c in _COUNTRY_LAYOUTS[0]
                if c not in frame.columns
            ]
        )
    code_col, name_col, iso3_col = layout
    codes = _parse_codes(frame, code_col, path)
    historic = _historic_codes(resolver)
    problems: list[DataProblem] = []
    out: list[tuple[int, str | None, str, str, int]] = []
    for code, raw_name, raw_iso3, row in zip(
        codes.to_list(),
        frame[name_col].to_list(),
        frame[iso3_col].to_list(),
        frame[ROW_COLUMN].to_list(),
        strict=True,
    ):
        name = clean_name(raw_name or "")
        iso3 = (raw_iso3 or "").strip().upper()
        hit = resolver.lookup(name) if name else None
        if iso3 and resolver.is_country(iso3):
            if hit is not None and hit.kind == "country" and hit.iso3 != iso3:
                if hit.iso3 in historic:
                    out.append((code, hit.iso3, "country", name, row))
                    continue
                problems.append(
                    DataProblem(
                        str(path),
                        row,
                        iso3_col,
                        raw_iso3,
                        f"ISO3 disagrees with the name {name!r} (= {hit.iso3})",
                    )
                )
                continue
            out.append((code, iso3, "country", name, row))
        elif hit is None:
            problems.append(
                DataProblem(
                    str(path),
                    row,
                    name_col,
                    raw_name,
                    f"unknown country name (and {iso3_col} {raw_iso3!r} is not an ISO3 code)",
                )
            )
        else:
            out.append((code, hit.iso3, hit.kind, name, row))
    if problems:
        raise DataError(problems)
    table = pl.DataFrame(
        out,
        schema={
            "baci_code": pl.Int32,
            "country_iso3": pl.String,
            "country_kind": pl.String,
            "name": pl.String,
            ROW_COLUMN: pl.Int64,
        },
        orient="row",
    )
    dup = table.filter(~pl.col("baci_code").is_first_distinct())
    if dup.height:
        raise DataError(
            [
                DataProblem(str(path), row, code_col, code, "duplicate country code")
                for code, row in dup.select("baci_code", ROW_COLUMN).iter_rows()
            ]
        )
    return table


def read_baci_product_codes(path: Path | str) -> pl.DataFrame:
    """Read ``product_codes_HS92_V202401b.csv`` (``code, description``).

    BACI's table ends with a legacy non-WCO code ``9999AA`` ("Commodities not specified
    according to kind"); six-character alphanumeric codes like it are kept as written
    (and logged). Flow files must still use numeric codes.

    Returns
    -------
    polars.DataFrame
        ``hs6_code`` (6 digits, zero-padded; or a 6-character legacy code),
        ``description``, ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, codes that are neither 1-6 digits nor 6 letters/digits,
        duplicate codes.
    """
    path = Path(path)
    frame = _read_small_csv(path)
    missing = [c for c in ("code", "description") if c not in frame.columns]
    if missing:
        raise DataError(
            [DataProblem(str(path), None, c, None, "required column is missing") for c in missing]
        )
    raw = pl.col("code").str.strip_chars()
    digits = raw.str.contains(r"^\d{1,6}$").fill_null(False)
    legacy = raw.str.contains(r"^[0-9A-Z]{6}$").fill_null(False) & ~digits
    bad = frame.filter(~digits & ~legacy)
    if bad.height:
        raise DataError(
            [
                DataProblem(str(path), row, "code", value, "not an HS6 code")
                for value, row in bad.select("code", ROW_COLUMN).head(MAX_LISTED).iter_rows()
            ]
        )
    kept = frame.filter(legacy)
    if kept.height:
        log.info(
            "%s: %d non-numeric legacy product codes kept as written: %s",
            path,
            kept.height,
            kept["code"].to_list(),
        )
    out = frame.select(
        pl.when(digits).then(raw.str.zfill(6)).otherwise(raw).alias("hs6_code"),
        pl.col("description"),
        pl.col(ROW_COLUMN),
    )
    dup = out.filter(pl.col("hs6_code").is_first_distinct().not_())
    if dup.height:
        raise DataError(
            [
                DataProblem(str(path), row, "code", code, "duplicate product code")
                for code, row in dup.select("hs6_code", ROW_COLUMN).head(MAX_LISTED).iter_rows()
            ]
        )
    return out


def _read_small_csv(path: Path) -> pl.DataFrame:
    check_csv_complete(path)
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise DataError.single(path, None, "(file)", None, f"not a readable CSV: {exc}") from exc
    return frame.with_row_index(ROW_COLUMN, offset=2).with_columns(
        pl.col(ROW_COLUMN).cast(pl.Int64)
    )


def _parse_codes(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    raw = pl.col(column).str.strip_chars()
    bad = frame.filter(~raw.str.contains(r"^\d+$").fill_null(False))
    if bad.height:
        raise DataError(
            [
                DataProblem(str(path), row, column, value, "not a numeric country code")
                for value, row in bad.select(column, ROW_COLUMN).head(MAX_LISTED).iter_rows()
            ]
        )
    return frame.select(raw.cast(pl.Int32))[column]


def _historic_codes(resolver: CountryResolver) -> set[str]:
    countries = resolver.countries
    if "is_historic" not in countries.columns:
        return set()
    flag = pl.col("is_historic").cast(pl.String).str.to_lowercase().is_in(["true", "1"])
    return set(countries.filter(flag)["iso3"].to_list())


# -- provenance ---------------------------------------------------------------------------
