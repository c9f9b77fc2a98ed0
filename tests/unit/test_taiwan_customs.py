"""Taiwan customs 8542 exports: the adapter on a real-format extract, the table, the loader."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import polars as pl
import pytest

from resilience.data import load_taiwan_chip_exports
from resilience.errors import DataError
from resilience.ingest.taiwan_customs import (
    SEGMENT_BY_HS6,
    SOURCE,
    TAIWAN_CHIP_EXPORTS,
    build_taiwan_chip_exports,
    read_taiwan_exports,
)
from resilience.manifest_check import clear_cache
from resilience.paths import project_root
from resilience.schemas.chip_trade import CHIP_SEGMENTS

FIXTURE = (
    project_root()
    / "tests"
    / "data"
    / "taiwan_customs"
    / "taiwan_exports_8542_by_destination_2013_2025.csv"
)


@pytest.fixture(scope="module")
def exports() -> pl.DataFrame:
    return read_taiwan_exports(FIXTURE)


def _row(frame: pl.DataFrame, year: int, iso3: str, code: str) -> dict[str, object]:
    rows = frame.filter(
        (pl.col("year") == year) & (pl.col("importer_iso3") == iso3) & (pl.col("ccc_code") == code)
    )
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_every_row_is_read_with_its_line(exports: pl.DataFrame) -> None:
    assert exports.height == 14
    assert exports["source_row"].to_list() == list(range(2, 16))


def test_chinese_destination_names_resolve_through_the_aliases(exports: pl.DataFrame) -> None:
    by_line = dict(zip(exports["source_row"], exports["importer_iso3"], strict=True))
    # 中國大陸, 香港, 美國, 日本, 其他國家, 德國, 古巴, 荷屬安地列斯, 象牙海岸
    assert [by_line[n] for n in (2, 3, 4, 9, 10, 11, 12, 13, 14)] == [
        "CHN",
        "HKG",
        "USA",
        "JPN",
        "ROW",
        "DEU",
        "CUB",
        "ANT",
        "CIV",
    ]


def test_values_codes_and_segments_as_published(exports: pl.DataFrame) -> None:
    wafers = _row(exports, 2024, "CHN", "85423900120")
    assert wafers["value_usd"] == pytest.approx(12_874_186_000.0)
    assert wafers["hs6_code"] == "854239"
    assert wafers["segment"] == "other_integrated_circuits"
    assert wafers["ccc_description"] == "Wafers of other monolithic digital integrated circuits"
    dram = _row(exports, 2023, "USA", "85423200234")
    assert (dram["segment"], dram["value_usd"]) == ("memories", pytest.approx(126_606_000.0))
    assert _row(exports, 2024, "JPN", "85423300000")["segment"] == "amplifiers"
    assert _row(exports, 2024, "DEU", "85429010008")["segment"] == "parts_and_lead_frames"
    assert _row(exports, 2024, "USA", "85423100002")["segment"] == "processors_controllers"
    assert _row(exports, 2016, "CUB", "85423100002")["value_usd"] == 0.0  # kept, not dropped


def test_other_countries_are_kept_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="resilience.ingest.taiwan_customs"):
        frame = read_taiwan_exports(FIXTURE)
    assert frame.filter(pl.col("importer_iso3") == "ROW")["value_usd"].to_list() == [27000.0]
    assert "1 rows of non-country destinations (其他國家) kept as ROW, USD 27000" in caplog.text


def test_segment_map_covers_every_segment_once() -> None:
    assert sorted(SEGMENT_BY_HS6.values()) == sorted(CHIP_SEGMENTS)


def test_table_adds_exporter_source_vintage_and_partial_year(exports: pl.DataFrame) -> None:
    table = build_taiwan_chip_exports(exports, vintage="2025-09-02")
    assert table.columns == [
        "year",
        "exporter_iso3",
        "importer_iso3",
        "ccc_code",
        "hs6_code",
        "segment",
        "ccc_description",
        "value_usd",
        "is_partial_year",
        "source",
        "vintage",
    ]
    assert set(table["exporter_iso3"]) == {"TWN"}
    assert set(table["source"]) == {SOURCE}
    partial = table.filter(pl.col("is_partial_year"))
    assert partial.select("year", "importer_iso3").rows() == [(2025, "CHN")]
    assert table["year"].is_sorted()
    assert table["value_usd"].sum() == pytest.approx(exports["value_usd"].sum())


def test_shipped_table_loads_and_holds_every_year() -> None:
    table = load_taiwan_chip_exports()
    assert table.height == 9683
    assert sorted(set(table["year"])) == list(range(2013, 2026))
    assert table.filter(pl.col("is_partial_year"))["year"].unique().to_list() == [2025]


def test_loader_rejects_a_hand_edited_negative_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = project_root() / "datasets" / TAIWAN_CHIP_EXPORTS
    copy = tmp_path / TAIWAN_CHIP_EXPORTS
    shutil.copy(shipped, copy)
    frame = pl.read_parquet(copy)
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(-1.0)
        .otherwise(pl.col("value_usd"))
        .alias("value_usd")
    ).write_parquet(copy)
    clear_cache()
    with pytest.raises(DataError) as info:
        load_taiwan_chip_exports(copy)
    problem = info.value.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == (
        TAIWAN_CHIP_EXPORTS,
        5,
        "value_usd",
        -1.0,
    )
