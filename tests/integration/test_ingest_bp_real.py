from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.bp import read_bp_statreview, read_owid_fossil_production
from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.paths import datasets_dir

pytestmark = pytest.mark.integration

OIL, GAS, COAL = "Oil Production - Tonnes", "Gas Production - Bcm", "Coal Production - Tonnes"


def _path(shared_data: Path, name: str) -> Path:
    path = shared_data / "bp_statreview_2021" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def bp(shared_data: Path) -> pl.DataFrame:
    return read_bp_statreview(_path(shared_data, "bp_statreview_2021_energy_minerals_1990plus.csv"))


def _value(frame: pl.DataFrame, series: str, iso3: str, year: int) -> float:
    hit = frame.filter(
        pl.col("source_commodity") == series, pl.col("country_iso3") == iso3, pl.col("year") == year
    )
    assert hit.height == 1, hit
    return float(hit["quantity"][0])


def test_bp_check_values(bp: pl.DataFrame) -> None:
    assert _value(bp, OIL, "USA", 2020) == 712.7285316  # million tonnes
    assert _value(bp, GAS, "WLD", 2020) == pytest.approx(3853.662832)  # bcm
    assert _value(bp, COAL, "CHN", 2020) == 3902.0  # million tonnes
    assert _value(bp, OIL, "RUS", 2020) == pytest.approx(524.4042173)
    assert sorted(bp["year"].unique().to_list()) == list(range(1990, 2021))
    assert set(bp["unit"]) == {"million tonnes", "bcm"}


def test_bp_aggregates_are_gone(bp: pl.DataFrame) -> None:
    names = set(bp["country_name"])
    for aggregate in ("OECD", "Non-OECD", "European Union", "Asia Pacific", "CIS", "Africa"):
        assert aggregate not in names
    assert "World" in names
    codes = set(bp["country_iso3"])
    assert "SUN" not in codes  # USSR rows carry no production values after 1990
    # Countries (+ bp's unlisted residual) add up to World: listed never exceed the total.
    world = bp.filter(pl.col("country_iso3") == "WLD").select(
        "year", "source_commodity", pl.col("quantity").alias("world")
    )
    listed = (
        bp.filter(pl.col("country_iso3") != "WLD")
        .group_by("year", "source_commodity")
        .agg(pl.col("quantity").sum().alias("listed"))
        .join(world, on=["year", "source_commodity"])
    )
    assert listed.height == 93
    ratio = listed["listed"] / listed["world"]
    assert ratio.max() < 1.0001
    assert ratio.min() > 0.95


def test_bp_maps_to_canonical_units(bp: pl.DataFrame) -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    mapped = map_production(bp, load_commodity_map("bp"), commodities, file="bp")
    us = mapped.filter(pl.col("country_iso3") == "USA", pl.col("year") == 2020)
    values = dict(zip(us["commodity"], us["quantity"], strict=True))
    assert values["crude_oil"] == pytest.approx(712.7285316e6)
    assert values["natural_gas"] == pytest.approx(914.6209553e3)


def test_owid_check_values(shared_data: Path) -> None:
    frame = read_owid_fossil_production(
        _path(shared_data, "owid_fossil_fuel_production_bp_shift_2022_1990plus.csv")
    )
    assert set(frame["unit"]) == {"TWh"}
    oil = "Oil production (TWh)"
    assert _value(frame, oil, "USA", 2020) == 8289.033
    assert _value(frame, oil, "WLD", 2020) == 48440.483
    assert _value(frame, "Coal production (TWh)", "WLD", 2020) == 44335.18
    for aggregate in ("OPEC", "Persian Gulf", "Russian Federation & USSR", "Eurasia"):
        assert aggregate not in set(frame["country_name"])
    assert "YUG" in set(frame["country_iso3"])  # historic Yugoslavia kept as a country
