"""Check that the years inside a download agree with the years its file name states.

Publishers put years in their file names, and a renamed or mixed-up file (a BACI file
named ``..._Y2022_...`` holding ``t = 2031``) would otherwise build tables for the wrong
year. Each adapter states how its names carry years with a :class:`NameYears` rule:

=============================================  ============================================
file name                                      rule
=============================================  ============================================
``BACI_HS92_Y2022_V202401b.csv``               every year is 2022 (``exact``)
``baci_hs92_..._1995_2024.parquet``            every year in 1995-2024 (``span``)
``wmd_production_by_country_2018_2024_...``    every year in 2018-2024 (``span``)
``wmd_share_of_world_production_2022_...``     every year is 2022 (``exact``)
``uranium_production_2011_2020_tU.csv``        every year in 2011-2020 (``span``)
``MCS2025_World_Data.csv``, ``mcs2024-...``    no year after the edition (``edition``)
``bp_statreview_2021_..._1990plus.csv``        1990 to the edition year
``wgi_2024update_long.csv``                    no year after 2024 (``edition``)
``IdealpointestimatesAll_Jun2024.csv``         no year after 2024 (``edition``)
=============================================  ============================================

The IEA outlook (``CM_Data_Explorer_May2024.xlsx``) carries its projections to 2050 by
design, so its name year bounds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem

__all__ = ["NameYears", "check_name_years", "name_years"]

#: Offending rows listed per error.
_MAX_LISTED = 20


@dataclass(frozen=True)
class NameYears:
    """The years a file name allows: ``first <= year <= last`` (``None``: unbounded)."""

    first: int | None
    last: int | None
    said: str

    def describe(self) -> str:
        """The rule in words, for messages."""
        if self.first == self.last:
            return f"the file name says {self.said}: every year must be {self.first}"
        if self.first is None:
            return f"the file name says {self.said}: no year after {self.last}"
        if self.last is None:
            return f"the file name says {self.said}: no year before {self.first}"
        return f"the file name says {self.said}: years {self.first}-{self.last}"


#: (pattern, kind) tried in order; kind: exact, span, edition, from, edition+from.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"_Y(\d{4})_", re.IGNORECASE), "exact"),
    (re.compile(r"statreview_(\d{4})_.*?_(\d{4})plus", re.IGNORECASE), "edition+from"),
    (re.compile(r"_((?:19|20)\d{2})_((?:19|20)\d{2})(?:_|\.)", re.IGNORECASE), "span"),
    (re.compile(r"wmd_share_of_world_production_(\d{4})_", re.IGNORECASE), "exact"),
    (re.compile(r"^mcs(\d{4})[-_]", re.IGNORECASE), "edition"),
    (re.compile(r"^wgi_(\d{4})update", re.IGNORECASE), "edition"),
    (re.compile(r"^IdealpointestimatesAll_[A-Za-z]{3}(\d{4})", re.IGNORECASE), "edition"),
)


def name_years(name: str) -> NameYears | None:
    """The rule a publisher's file name implies (see the module table), or ``None``."""
    for pattern, kind in _RULES:
        match = pattern.search(name)
        if match is None:
            continue
        said = match.group(0).strip("_.")
        a = int(match.group(1))
        if kind == "exact":
            return NameYears(a, a, said)
        if kind == "span":
            b = int(match.group(2))
            return NameYears(min(a, b), max(a, b), said)
        if kind == "edition":
            return NameYears(None, a, said)
        if kind == "edition+from":
            return NameYears(int(match.group(2)), a, said)
    return None


def check_name_years(
    frame: pl.DataFrame | pl.LazyFrame,
    path: Path | str,
    *,
    year: str = "year",
    column: str | None = None,
    row: str = "source_row",
) -> None:
    """Raise when a year in ``frame`` contradicts the file name of ``path``.

    Parameters
    ----------
    frame
        Parsed rows (eager, or lazy: then only the offending rows are collected).
    path
        The file the rows came from.
    year
        Column of parsed integer years.
    column
        The file's own name for that column, for messages (default: ``year``).
    row
        Column with each record's 1-based line number.

    Raises
    ------
    resilience.errors.DataError
        Naming the file, row, column and year of each contradicting record.
    """
    path = Path(path)
    rule = name_years(path.name)
    if rule is None:
        return
    y = pl.col(year)
    bad_expr = pl.lit(False)
    if rule.first is not None:
        bad_expr = bad_expr | (y < rule.first)
    if rule.last is not None:
        bad_expr = bad_expr | (y > rule.last)
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    bad = lazy.filter(bad_expr.fill_null(False)).select(row, year).head(_MAX_LISTED).collect()
    if bad.height:
        raise DataError(
            [
                DataProblem(
                    str(path),
                    int(r) if r is not None else None,
                    column or year,
                    value,
                    f"year contradicts the file name ({rule.describe()})",
                )
                for r, value in bad.iter_rows()
            ]
        )
