"""Commodities: what each (commodity, stage) is, its sector, canonical unit and HS6 codes."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

import polars as pl

from resilience.errors import UnknownNameError
from resilience.paths import datasets_dir
from resilience.schemas.tables import Commodities
from resilience.schemas.validate import validate_frame

__all__ = ["check_commodities", "hs_to_commodity", "load_commodities"]


@cache
def _load(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False)
    return validate_frame(Commodities, raw, file=path.name).drop("source_row")


def load_commodities(path: Path | None = None) -> pl.DataFrame:
    """Read and validate ``datasets/commodities.csv`` (one row per commodity and stage)."""
    return _load(path or datasets_dir() / "commodities.csv")


def check_commodities(names: list[str], commodities: pl.DataFrame | None = None) -> None:
    """Raise :class:`~resilience.errors.UnknownNameError` for a commodity id we do not know."""
    commodities = commodities if commodities is not None else load_commodities()
    known = sorted(set(commodities["commodity"].to_list()))
    for name in names:
        if name not in known:
            raise UnknownNameError("commodity", name, difflib.get_close_matches(name, known, n=3))


def hs_to_commodity(
    revision: str = "hs92", commodities: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per (hs6_code, commodity, stage) for the given HS revision (``hs92``/``hs2017``).

    A code may serve several (commodity, stage) pairs (e.g. 854140 for PV cells and
    modules); callers that sum trade over commodities must keep that in mind.
    """
    commodities = commodities if commodities is not None else load_commodities()
    column = f"{revision}_codes"
    return (
        commodities.select("commodity", "stage", pl.col(column).str.split(";").alias("hs6_code"))
        .explode("hs6_code")
        .filter(pl.col("hs6_code").is_not_null() & (pl.col("hs6_code") != ""))
        .select("hs6_code", "commodity", "stage")
        .sort("hs6_code", "commodity", "stage")
    )
