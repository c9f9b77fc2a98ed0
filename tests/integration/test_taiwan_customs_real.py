"""Taiwan's 8542 exports from the real customs extract: the checks an analyst would run.

Published figures the table is held against:

* annual totals: ``taiwan_customs_8542_exports/SOURCE.md`` (2022 184.1, 2023 166.6, 2024
  165.0 bn USD); the brief's band for 2023-2024 is USD 150-185 bn;
* the US in 2024: "integrated circuits (ICs), which had an export value of US$7.4 billion
  ... The US was Taiwan's seventh-largest IC export market last year" (Taipei Times,
  11 March 2025, citing a Ministry of Economic Affairs report on customs data,
  https://www.taipeitimes.com/News/biz/archives/2025/03/11/2003833210);
* China and Hong Kong the largest destinations (SOURCE.md: 2024 China 48.5, Hong Kong
  36.8 bn USD).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from resilience.data import load_taiwan_chip_exports
from resilience.ingest.taiwan_customs import build_taiwan_chip_exports, read_taiwan_exports

pytestmark = pytest.mark.integration

FILE = "taiwan_exports_8542_by_destination_2013_2025.csv"


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    return shared_data / "taiwan_customs_8542_exports"


@pytest.fixture(scope="module")
def exports(folder: Path) -> pl.DataFrame:
    return read_taiwan_exports(folder / FILE)


def _by_destination(exports: pl.DataFrame, year: int) -> pl.DataFrame:
    return (
        exports.filter(pl.col("year") == year)
        .group_by("importer_iso3")
        .agg((pl.col("value_usd").sum() / 1e9).alias("bn_usd"))
        .sort("bn_usd", descending=True)
    )


def test_every_row_is_kept_and_every_name_resolved(exports: pl.DataFrame, folder: Path) -> None:
    assert exports.height == 9683
    names = json.loads((folder / "country_name_map_zh_en.json").read_text(encoding="utf-8"))
    assert len(names) == 199
    # 198 destinations are countries or territories, one is "other countries"
    assert exports["importer_iso3"].n_unique() == 199
    assert exports.filter(pl.col("importer_iso3") == "ROW").height == 39


def test_annual_totals_match_the_published_extract(exports: pl.DataFrame) -> None:
    totals = dict(
        exports.group_by("year").agg(pl.col("value_usd").sum() / 1e9).sort("year").iter_rows()
    )
    assert totals[2022] == pytest.approx(184.1, abs=0.05)
    assert totals[2023] == pytest.approx(166.6, abs=0.05)
    assert totals[2024] == pytest.approx(165.0, abs=0.05)
    for year in (2023, 2024):
        assert 150 <= totals[year] <= 185
    assert totals[2013] == pytest.approx(62.8, abs=0.05)
    assert totals[2025] < totals[2024]  # a partial year


def test_china_and_hong_kong_lead_and_the_us_is_seventh_in_2024(exports: pl.DataFrame) -> None:
    ranked = _by_destination(exports, 2024)
    assert ranked["importer_iso3"].head(7).to_list() == [
        "CHN",
        "HKG",
        "SGP",
        "KOR",
        "JPN",
        "MYS",
        "USA",
    ]
    values = dict(ranked.iter_rows())
    assert values["CHN"] == pytest.approx(48.5, abs=0.05)
    assert values["HKG"] == pytest.approx(36.8, abs=0.05)
    assert values["USA"] == pytest.approx(7.4, abs=0.05)
    assert (values["CHN"] + values["HKG"]) / ranked["bn_usd"].sum() > 0.5


def test_other_ics_carry_most_of_the_value(exports: pl.DataFrame) -> None:
    shares = (
        exports.filter(pl.col("year") == 2024)
        .group_by("segment")
        .agg(pl.col("value_usd").sum())
        .with_columns(pl.col("value_usd") / pl.col("value_usd").sum())
    )
    share = dict(shares.iter_rows())
    assert share["other_integrated_circuits"] == pytest.approx(0.771, abs=0.005)
    assert share["memories"] == pytest.approx(0.124, abs=0.005)
    assert share["processors_controllers"] == pytest.approx(0.104, abs=0.005)
    assert share["parts_and_lead_frames"] < 0.001


def test_shipped_table_is_the_one_this_file_builds(exports: pl.DataFrame) -> None:
    assert load_taiwan_chip_exports().equals(build_taiwan_chip_exports(exports))
