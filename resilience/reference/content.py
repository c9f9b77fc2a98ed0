"""Content factors: metal, oxide or energy content per gross tonne of each traded HS6 code.

``datasets/content_factors.csv`` holds one cited factor per (HS6 code, commodity, stage)
of ``datasets/commodities.csv`` (HS92 and HS2017 codes alike). Trade is reported in
gross shipping weight; the factor turns it into the commodity's unit, the basis on which
production is reported (tonnes of Co content, REO, U3O8, million m3 of natural gas...).

The loader checks the table against the commodity table both ways: every HS code of a
commodity needs a factor (a missing one names ``commodities.csv``, its row, the
``hs92_codes``/``hs2017_codes`` column and the code), and every factor must belong to a
code of the commodity table (an unknown one names ``content_factors.csv``, its row, the
``hs6`` column and the code). A factor's ``content_unit`` must be the commodity's
``unit`` (manufactured goods measured as a share of world capacity keep gross tonnes).
A row with an ``exporter_iso3`` replaces the default factor for that exporter's flows
only (its product under the code differs, e.g. DRC's cobalt hydroxide under 8105.10).
A row without ``hs6`` converts a unit other than gross tonnes (``from_unit``; natural
gas ``TJ`` -> ``million m3``): it is not a trade factor and :func:`content_map` leaves it
out (:func:`resilience.build.monthly.load_gas_heat_content` reads it).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.schemas.tables import ContentFactors
from resilience.schemas.validate import validate_frame

__all__ = ["GOODS_UNIT", "check_content_factors", "content_map", "load_content_factors"]

#: ``unit`` of commodities measured as a share of world capacity (chips, PV, batteries):
#: their trade stays in gross tonnes of the good.
GOODS_UNIT = "pct_of_world"
_REVISIONS = ("hs92", "hs2017")


@cache
def _read(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False)
    return validate_frame(ContentFactors, raw, file=path.name)


def _commodity_codes(commodities: pl.DataFrame) -> pl.DataFrame:
    """``row, column, hs6, commodity, stage, unit, content_basis`` per listed HS code."""
    numbered = commodities.with_row_index("row", offset=2).with_columns(
        pl.col("row").cast(pl.Int64)
    )
    parts = [
        numbered.select(
            "row",
            pl.lit(f"{rev}_codes").alias("column"),
            pl.col(f"{rev}_codes").str.split(";").alias("hs6"),
            "commodity",
            "stage",
            "unit",
            "content_basis",
        )
        .explode("hs6")
        .filter(pl.col("hs6").is_not_null() & (pl.col("hs6") != ""))
        for rev in _REVISIONS
    ]
    return pl.concat(parts)


def check_content_factors(
    factors: pl.DataFrame,
    commodities: pl.DataFrame,
    *,
    factors_file: str = "content_factors.csv",
    commodities_file: str = "commodities.csv",
) -> None:
    """Raise :class:`~resilience.errors.DataError` unless ``factors`` covers ``commodities``.

    Parameters
    ----------
    factors
        Validated content factors with their ``source_row``.
    commodities
        The commodity table in file order (row numbers are counted from it).
    factors_file, commodities_file
        File names used in the messages.

    Raises
    ------
    resilience.errors.DataError
        A commodity HS code without a factor, a factor for an HS code the commodity does
        not list, or a ``content_unit`` that is not the commodity's unit.
    """
    codes = _commodity_codes(commodities)
    key = ["hs6", "commodity", "stage"]
    defaults = factors.filter(pl.col("exporter_iso3").is_null())
    problems = [
        DataProblem(
            commodities_file,
            row,
            column,
            hs6,
            f"no content factor for {commodity}/{stage} in {factors_file}",
        )
        for row, column, hs6, commodity, stage in codes.join(defaults, on=key, how="anti")
        .select("row", "column", *key)
        .iter_rows()
    ]
    problems += [
        DataProblem(
            factors_file,
            row,
            "hs6",
            hs6,
            f"unknown HS code: {commodities_file} lists no such code for {commodity}/{stage}",
        )
        for row, hs6, commodity, stage in factors.filter(pl.col("hs6").is_not_null())
        .join(codes.unique(key), on=key, how="anti")
        .select("source_row", *key)
        .iter_rows()
    ]
    units = factors.join(
        commodities.select("commodity", "stage", "unit"), on=["commodity", "stage"], how="inner"
    ).with_columns(
        pl.when(pl.col("unit") == GOODS_UNIT)
        .then(pl.lit("t"))
        .otherwise(pl.col("unit"))
        .alias("_expected")
    )
    problems += [
        DataProblem(
            factors_file, row, "content_unit", unit, f"must be {expected!r} (the commodity's unit)"
        )
        for row, unit, expected in units.filter(pl.col("content_unit") != pl.col("_expected"))
        .select("source_row", "content_unit", "_expected")
        .iter_rows()
    ]
    if problems:
        raise DataError(sorted(problems, key=lambda p: (p.file, p.row or 0)))


def load_content_factors(
    path: Path | None = None, commodities: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Read, validate and cross-check ``datasets/content_factors.csv``.

    Parameters
    ----------
    path
        The factor table; the shipped one by default.
    commodities
        The commodity table to check against; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        The :class:`~resilience.schemas.tables.ContentFactors` columns and ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        A missing, zero or negative factor, a malformed code, a duplicate key (each named
        by file, row, column and value), or a mismatch with the commodity table
        (:func:`check_content_factors`).
    """
    path = path or datasets_dir() / "content_factors.csv"
    factors = _read(path)
    check_content_factors(
        factors,
        commodities if commodities is not None else load_commodities(),
        factors_file=path.name,
    )
    return factors


def content_map(
    revision: str = "hs92",
    commodities: pl.DataFrame | None = None,
    factors: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (hs6_code, commodity, stage) of a revision, with its content factor.

    Parameters
    ----------
    revision
        ``hs92`` or ``hs2017``.
    commodities, factors
        The commodity and content-factor tables (shipped ones by default).

    Returns
    -------
    polars.DataFrame
        ``hs6_code, commodity, stage, exporter_iso3, content_per_gross_t, content_unit,
        content_basis``: one default row per code (``exporter_iso3`` null) and the
        exporter-specific rows; ``content_basis`` reads e.g. ``"t of Co content"`` or
        ``"million m3 of gas at standard conditions"``.
    """
    if revision not in _REVISIONS:
        raise ValueError(f"revision must be one of {_REVISIONS}, got {revision!r}")
    commodities = commodities if commodities is not None else load_commodities()
    factors = factors if factors is not None else load_content_factors(commodities=commodities)
    codes = _commodity_codes(commodities).filter(pl.col("column") == f"{revision}_codes")
    traded = factors.filter(pl.col("from_unit") == "t")
    return (
        codes.join(traded, on=["hs6", "commodity", "stage"], how="inner")
        .select(
            pl.col("hs6").alias("hs6_code"),
            "commodity",
            "stage",
            "exporter_iso3",
            "content_per_gross_t",
            "content_unit",
            pl.format("{} of {}", "content_unit", "content_basis").alias("content_basis"),
        )
        .sort("hs6_code", "commodity", "stage", "exporter_iso3", nulls_last=False)
    )
