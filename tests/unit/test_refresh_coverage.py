"""The shrink guard's documented thresholds, at their edges."""

from __future__ import annotations

import polars as pl

from resilience.ingest.coverage import coverage, shrink_problems


def _table(rows: int, years: range, countries: int, commodities: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [years[i % len(years)] for i in range(rows)],
            "country_iso3": [f"C{i % countries:02d}" for i in range(rows)],
            "commodity": [f"m{i % commodities}" for i in range(rows)],
        }
    )


OLD = coverage(_table(1000, range(2018, 2023), 20, 4))


def test_ten_percent_fewer_rows_is_accepted_and_more_is_refused() -> None:
    assert shrink_problems("t", OLD, coverage(_table(900, range(2018, 2023), 20, 4))) == []
    (problem,) = shrink_problems("t", OLD, coverage(_table(899, range(2018, 2023), 20, 4)))
    assert problem == "t: rows 1,000 -> 899 (-10.1%; limit -10%)"


def test_any_lost_year_or_commodity_is_refused() -> None:
    (year,) = shrink_problems("t", OLD, coverage(_table(1000, range(2019, 2023), 20, 4)))
    assert year == "t: years lost: 2018"
    (commodity,) = shrink_problems("t", OLD, coverage(_table(1000, range(2018, 2023), 20, 3)))
    assert commodity == "t: commodities lost (4 -> 3): m3"


def test_countries_may_fall_by_ten_percent() -> None:
    assert shrink_problems("t", OLD, coverage(_table(1000, range(2018, 2023), 18, 4))) == []
    (problem,) = shrink_problems("t", OLD, coverage(_table(1000, range(2018, 2023), 17, 4)))
    assert problem.startswith("t: countries 20 -> 17 (limit -10%); lost: C17, C18, C19")


def test_growth_is_always_accepted() -> None:
    assert shrink_problems("t", OLD, coverage(_table(5000, range(2010, 2025), 40, 9))) == []


def test_indicators_are_named_as_such() -> None:
    old = coverage(pl.DataFrame({"year": [2020, 2020], "indicator": ["pv", "cc"]}))
    new = coverage(pl.DataFrame({"year": [2020, 2020], "indicator": ["pv", "pv"]}))
    assert shrink_problems("g", old, new) == ["g: indicators lost (2 -> 1): cc"]
