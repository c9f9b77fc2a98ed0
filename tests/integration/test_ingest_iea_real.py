from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from resilience.ingest.iea import (
    OBSERVED_SOURCE,
    PROJECTION_SOURCE,
    read_iea_critical_minerals,
)
from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.paths import datasets_dir

pytestmark = pytest.mark.integration

XLSX = "CM_Data_Explorer_May2024.xlsx"
CSV = "iea_cm_supply_by_country_base_case_long.csv"


def _path(shared_data: Path, name: str) -> Path:
    path = shared_data / "iea_critical_minerals" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def workbook(shared_data: Path) -> pl.DataFrame:
    return read_iea_critical_minerals(_path(shared_data, XLSX), include_projections=True)


def _value(frame: pl.DataFrame, mineral: str, stage: str, iso3: str, year: int = 2023) -> float:
    hit = frame.filter(
        pl.col("source_commodity") == mineral,
        pl.col("source_stage") == stage,
        pl.col("country_iso3") == iso3,
        pl.col("year") == year,
    )
    assert hit.height == 1, hit
    return float(hit["quantity"][0])


@pytest.mark.parametrize("projections", [False, True])
def test_workbook_and_csv_are_identical(shared_data: Path, projections: bool) -> None:
    a = read_iea_critical_minerals(_path(shared_data, XLSX), include_projections=projections)
    b = read_iea_critical_minerals(_path(shared_data, CSV), include_projections=projections)
    assert a.height == (340 if projections else 85)
    assert_frame_equal(a.drop("source_row"), b.drop("source_row"))


def test_check_values(workbook: pl.DataFrame) -> None:
    assert _value(workbook, "Cobalt", "Refining", "CHN") == 171.7
    assert _value(workbook, "Cobalt", "Refining", "WLD") == 223.8
    assert _value(workbook, "Copper", "Mining", "CHL") == 5311.3
    assert _value(workbook, "Lithium", "Chemicals", "CHN") == 113.9
    assert _value(workbook, "Graphite", "Battery grade", "CHN") == 1851.9
    assert _value(workbook, "Magnet rare earth elements", "Refining", "CHN", 2040) == 85.7
    observed = workbook.filter(pl.col("year") == 2023)
    assert set(observed["source"]) == {OBSERVED_SOURCE}
    assert set(workbook.filter(pl.col("year") > 2023)["source"]) == {PROJECTION_SOURCE}
    assert set(workbook["unit"]) == {"kt"}
    # 12 blocks x (countries + ROW + WLD): no top-3 rows left.
    assert observed.group_by("source_commodity", "source_stage").len().height == 12
    assert (observed.filter(pl.col("country_iso3") == "WLD").height) == 12
    assert (observed.filter(pl.col("country_iso3") == "ROW").height) == 12


def _top3(frame: pl.DataFrame, mineral: str, stage: str, year: int) -> tuple[float, float]:
    """(largest three countries, first three listed) as shares of the block total."""
    block = frame.filter(
        pl.col("source_commodity") == mineral,
        pl.col("source_stage") == stage,
        pl.col("year") == year,
    )
    world = block.filter(pl.col("country_iso3") == "WLD")["quantity"][0]
    countries = block.filter(~pl.col("country_iso3").is_in(["WLD", "ROW"])).sort("source_row")
    quantity = countries["quantity"]
    return quantity.sort(descending=True).head(3).sum() / world, quantity.head(3).sum() / world


@pytest.mark.parametrize(
    ("mineral", "stage", "top3"),
    [("Cobalt", "Refining", 0.882), ("Lithium", "Chemicals", 0.961)],
)
def test_top3_shares_recomputed(
    workbook: pl.DataFrame, mineral: str, stage: str, top3: float
) -> None:
    largest, _ = _top3(workbook, mineral, stage, 2023)
    assert largest == pytest.approx(top3, abs=5e-4)


def test_graphite_top3_is_the_first_three_listed(workbook: pl.DataFrame) -> None:
    # IEA prints 0.978 for battery-grade graphite 2023: China + Japan + United States
    # (1851.9 + 123.5 + 16.5 of 2037.2), although Germany (28.2) is larger than the US;
    # the three largest give 0.984.
    largest, first_three = _top3(workbook, "Graphite", "Battery grade", 2023)
    assert first_three == pytest.approx(0.978, abs=5e-4)
    assert largest == pytest.approx(0.9835, abs=5e-4)


def test_top3_shares_match_the_dropped_rows(shared_data: Path, workbook: pl.DataFrame) -> None:
    raw = pl.read_csv(_path(shared_data, CSV), infer_schema=False).filter(
        pl.col("row_type") == "top3_share"
    )
    assert raw.height == 48
    mismatches = []
    for mineral, stage, year, value in raw.select("mineral", "stage", "year", "value").iter_rows():
        largest, _ = _top3(workbook, mineral, stage, int(year))
        if largest != pytest.approx(float(value), abs=1e-6):
            mismatches.append((mineral, stage, int(year)))
    # The IEA's own top-3 rows are the three largest countries, except one block-year.
    assert mismatches == [("Graphite", "Battery grade", 2023)]


def test_map_covers_every_block(workbook: pl.DataFrame) -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    mapped = map_production(workbook, load_commodity_map("iea"), commodities, file=XLSX)
    assert mapped.height == workbook.height
    refined_co = mapped.filter(
        pl.col("commodity") == "cobalt",
        pl.col("stage") == "refining",
        pl.col("country_iso3") == "CHN",
        pl.col("year") == 2023,
    )
    assert refined_co["quantity"][0] == pytest.approx(171_700.0)
    assert set(mapped["stage"]) == {"mining", "refining"}
