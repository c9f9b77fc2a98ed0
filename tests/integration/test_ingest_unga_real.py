from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.unga import cow_codes, read_unga_ideal_points

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def path(shared_data: Path) -> Path:
    return shared_data / "unga_ideal_points" / "IdealpointestimatesAll_Jun2024.csv"


@pytest.fixture(scope="module")
def alignment(path: Path) -> pl.DataFrame:
    return read_unga_ideal_points(path)


def _point(frame: pl.DataFrame, iso3: str, year: int) -> float:
    hit = frame.filter(pl.col("country_iso3") == iso3, pl.col("year") == year)
    assert hit.height == 1
    return float(hit["ideal_point"][0])


def test_shape_and_check_values(alignment: pl.DataFrame) -> None:
    assert alignment.height == 11_238  # every row kept
    assert (alignment["year"].min(), alignment["year"].max()) == (1946, 2023)
    # session 78 = 2023 (SOURCE.md check values, exact values from the file)
    assert _point(alignment, "USA", 2023) == 2.500157
    assert _point(alignment, "CAN", 2023) == 1.436586
    assert _point(alignment, "CUB", 2023) == -1.245315
    china = alignment.filter(pl.col("country_iso3") == "CHN", pl.col("year") == 2023)
    assert china["agree_with_china_frac"][0] == 1.0
    assert alignment["agree_with_china_frac"].null_count() == 2089


def test_historic_states_and_successions(alignment: pl.DataFrame) -> None:
    by_code = alignment.group_by("cow_code").agg(pl.col("country_iso3").unique().sort())
    codes = {c: tuple(i) for c, i in by_code.iter_rows()}
    assert codes[260] == ("DEU",)
    assert codes[265] == ("DDR",)
    assert codes[315] == ("CSK",)
    assert codes[678] == ("YEM",)
    assert codes[680] == ("YMD",)
    assert codes[345] == ("SCG", "SRB", "YUG")
    assert codes[365] == ("RUS", "SUN")
    assert codes[713] == ("TWN",)
    # Germany: West Germany to 1990, Germany from 1991, never both in one year
    deu = alignment.filter(pl.col("country_iso3") == "DEU")
    assert deu.filter(pl.col("cow_code") == 260)["year"].max() == 1990
    assert deu.filter(pl.col("cow_code") == 255)["year"].min() == 1991


def test_cow_codes_table(path: Path) -> None:
    table = cow_codes(path)
    assert table.height == 202  # 199 codes; 345 and 365 split into spells
    assert table["cow_code"].n_unique() == 199
    spells = table.filter(pl.col("cow_code") == 345).select(
        "country_iso3", "first_year", "last_year"
    )
    assert spells.rows() == [("YUG", 1946, 2002), ("SCG", 2003, 2005), ("SRB", 2006, 2023)]
    usa = table.filter(pl.col("cow_code") == 2).row(0, named=True)
    assert (usa["country_iso3"], usa["first_year"], usa["last_year"]) == ("USA", 1946, 2023)
    assert table.filter(pl.col("cow_code") == 710)["country_iso3"].to_list() == ["CHN"]
