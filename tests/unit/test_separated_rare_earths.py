"""The cited table of separated rare earths (rare_earths/refining, t REO)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.separated_rare_earths import SOURCE, read_separated_rare_earths
from resilience.paths import datasets_dir

SHIPPED = datasets_dir() / "sources" / "separated_rare_earths.csv"
HEADER = "year,country,quantity_t_reo,method,publisher,title,url,quote\n"


def test_shipped_rows_follow_their_stated_derivation() -> None:
    rows = read_separated_rare_earths(SHIPPED)
    q = {(y, c): v for y, c, v in rows.select("year", "country_iso3", "quantity").iter_rows()}
    assert q[(2023, "CHN")] == 243_850.0  # MIIT quota, Reuters 15 Dec 2023
    assert q[(2021, "CHN")] == 162_000.0
    assert q[(2022, "CHN")] == pytest.approx(243_850 / 1.207, abs=1.0)
    for year in (2021, 2022, 2023):
        # IEA 2023 magnet rare-earth refining, kt: China 70.3, Malaysia 4.0, rest 1.8
        assert q[(year, "MYS")] == pytest.approx(q[(year, "CHN")] * 4.0 / 70.3, abs=0.5)
        assert q[(year, "ROW")] == pytest.approx(q[(year, "CHN")] * 1.8 / 70.3, abs=0.5)
        total = sum(v for (y, _), v in q.items() if y == year)
        assert 0.92 < q[(year, "CHN")] / total < 0.93
    assert [q[(y, "USA")] for y in (2021, 2022, 2023)] == [120.0, 95.0, 250.0]  # USGS MCS 2025
    assert set(rows["source"]) == {SOURCE}
    estimated = dict(rows.select("country_iso3", "is_estimated").unique().iter_rows())
    assert estimated == {"CHN": True, "MYS": True, "AUS": True, "ROW": True, "USA": False}


def test_shipped_production_carries_the_refining_stage() -> None:
    production = pl.read_csv(datasets_dir() / "production.csv")
    ree = production.filter(
        (pl.col("commodity") == "rare_earths") & (pl.col("stage") == "refining")
    )
    assert set(ree["source"]) == {SOURCE}
    assert ree.filter((pl.col("year") == 2023) & (pl.col("country_iso3") == "USA"))[
        "quantity"
    ].to_list() == [250.0]


@pytest.mark.parametrize(
    ("line", "column", "value"),
    [
        ("2023,China,-5,published,MIIT,t,http://x,q\n", "quantity_t_reo", "-5"),
        ("2023,Atlantis,5,published,MIIT,t,http://x,q\n", "country", "Atlantis"),
        ("2023,China,5,published,MIIT,t,,q\n", "url", None),
    ],
)
def test_bad_rows_name_file_row_column_value(
    tmp_path: Path, line: str, column: str, value: str | None
) -> None:
    path = tmp_path / "separated_rare_earths.csv"
    path.write_text(HEADER + line)
    with pytest.raises(DataError) as err:
        read_separated_rare_earths(path)
    problem = err.value.problems[0]
    assert (problem.file, problem.row, problem.column) == (path.name, 2, column)
    if value is not None:
        assert str(problem.value) == value


def test_two_figures_for_one_country_and_year_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "separated_rare_earths.csv"
    row = "2023,China,5,published,MIIT,t,http://x,q\n"
    path.write_text(HEADER + row + row)
    with pytest.raises(DataError, match="two figures"):
        read_separated_rare_earths(path)
