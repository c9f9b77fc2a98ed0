"""Alliances and blocs: dated membership, user blocs from a file, and set algebra.

The shipped table ``datasets/alliances.csv`` has one row per (bloc, member, spell) with
``joined`` and ``left`` dates and a source per row. Users add their own blocs from a CSV
with the same columns (:func:`load_alliances` with ``extra=``); a user bloc whose id
collides with a shipped one is an error, not a silent override.

Expressions such as ``"G7+EU"`` name the union of blocs.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem, UnknownNameError
from resilience.paths import datasets_dir
from resilience.reference.countries import CountryResolver
from resilience.schemas.tables import Alliances
from resilience.schemas.validate import validate_frame

__all__ = ["bloc_ids", "load_alliances", "members"]


def _read(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False)
    parsed = raw.with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    problems: list[DataProblem] = []
    for column in ("joined", "left"):
        if column not in raw.columns:
            continue
        as_date = parsed[column].str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        bad = parsed.filter(
            as_date.is_null() & parsed[column].is_not_null() & (parsed[column] != "")
        )
        problems += [
            DataProblem(path.name, row, column, value, "not a date (YYYY-MM-DD)")
            for value, row in bad.select(column, "source_row").iter_rows()
        ]
        parsed = parsed.with_columns(as_date.alias(column))
    if problems:
        raise DataError(problems)
    frame = validate_frame(Alliances, parsed, file=path.name)
    resolver = CountryResolver.default()
    unknown = frame.filter(
        ~pl.col("iso3").map_elements(resolver.is_country, return_dtype=pl.Boolean)
    )
    if unknown.height:
        raise DataError(
            [
                DataProblem(path.name, row, "iso3", iso3, "not a known ISO3 country code")
                for iso3, row in unknown.select("iso3", "source_row").iter_rows()
            ]
        )
    return frame


def load_alliances(extra: Iterable[Path | str] = (), path: Path | None = None) -> pl.DataFrame:
    """The shipped alliance table, plus user blocs from ``extra`` CSV files.

    Raises
    ------
    resilience.errors.DataError
        Bad dates, unknown countries, duplicate (bloc, iso3, joined) rows, or a user bloc
        id that is already shipped (naming the file, row, column and value).
    """
    base = _read(path or datasets_dir() / "alliances.csv").with_columns(
        pl.lit("alliances.csv").alias("file")
    )
    frames = [base]
    shipped = set(base["bloc"].to_list())
    for extra_path in extra:
        p = Path(extra_path)
        user = _read(p)
        clash = user.filter(pl.col("bloc").is_in(sorted(shipped)))
        if clash.height:
            raise DataError(
                [
                    DataProblem(
                        p.name, row, "bloc", bloc, "bloc id already exists in the shipped table"
                    )
                    for bloc, row in clash.select("bloc", "source_row").head(20).iter_rows()
                ]
            )
        frames.append(user.with_columns(pl.lit(p.name).alias("file")))
    return pl.concat(frames)


def bloc_ids(alliances: pl.DataFrame) -> list[str]:
    """Sorted bloc ids present in ``alliances``."""
    return sorted(set(alliances["bloc"].to_list()))


def members(alliances: pl.DataFrame, blocs: str | Iterable[str], on: dt.date) -> list[str]:
    """ISO3 codes of the members of a bloc (or union of blocs) on a date.

    Parameters
    ----------
    alliances
        Table from :func:`load_alliances`.
    blocs
        A bloc id, a ``+``-joined union (``"G7+EU"``), or an iterable of ids.
    on
        Membership date: a member counts when ``joined <= on`` and (``left`` is empty or
        ``on < left``).

    Raises
    ------
    resilience.errors.UnknownNameError
        For an unknown bloc id, listing close matches.
    """
    ids = blocs.split("+") if isinstance(blocs, str) else list(blocs)
    known = bloc_ids(alliances)
    for bloc in ids:
        if bloc not in known:
            raise UnknownNameError("bloc", bloc, difflib.get_close_matches(bloc, known, n=3))
    active = alliances.filter(
        pl.col("bloc").is_in(ids)
        & (pl.col("joined") <= on)
        & (pl.col("left").is_null() | (pl.col("left") > on))
    )
    return sorted(set(active["iso3"].to_list()))
