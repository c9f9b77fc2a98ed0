from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.ingest.wna import read_wna_uranium
from resilience.paths import datasets_dir

pytestmark = pytest.mark.integration

#: WNA 2020 (tonnes U), as in SOURCE.md.
CHECK_2020 = {
    "KAZ": 19_477,
    "AUS": 6_203,
    "NAM": 5_413,
    "CAN": 3_885,
    "UZB": 3_500,
    "NER": 2_991,
    "RUS": 2_846,
    "CHN": 1_885,
}


@pytest.fixture(scope="module")
def wna(shared_data: Path) -> pl.DataFrame:
    path = shared_data / "uranium_wna" / "uranium_production_2011_2020_tU.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return read_wna_uranium(path)


def test_check_values(wna: pl.DataFrame) -> None:
    assert wna.height == 200
    y2020 = wna.filter(pl.col("year") == 2020)
    values = dict(zip(y2020["country_iso3"], y2020["quantity"], strict=True))
    for iso3, tonnes in CHECK_2020.items():
        assert values[iso3] == tonnes, iso3
    assert values["ZAF"] == 250  # "South"
    assert values["CZE"] == 0  # "Czech"
    assert values["USA"] == 6
    assert y2020["quantity"].sum() == 47_731  # WNA's world total for 2020


def test_u3o8_basis(wna: pl.DataFrame) -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    mapped = map_production(wna, load_commodity_map("wna"), commodities, file="wna")
    kaz = mapped.filter(pl.col("country_iso3") == "KAZ", pl.col("year") == 2020)
    assert kaz["quantity"][0] == pytest.approx(19_477 * 1.17924)
    assert kaz["unit"][0] == "t"
