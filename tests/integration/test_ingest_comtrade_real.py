from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.comtrade import read_comtrade

pytestmark = pytest.mark.integration

#: rows per sample file after dropping the mode-of-transport breakdown rows
EXPECTED_ROWS = {
    "cobalt_trade_data.csv": 86,
    "copper_trade_data.csv": 75,
    "gallium_trade_data.csv": 40,
    "graphite_trade_data.csv": 80,
    "heavy_ree_trade_data.csv": 80,
    "light_ree_trade_data.csv": 80,
    "lithium_trade_data.csv": 175 - 33,
    "nickel_trade_data.csv": 104 - 20,
}


@pytest.fixture(scope="module")
def flows(shared_data: Path) -> dict[str, pl.DataFrame]:
    folder = shared_data / "comtrade_api_samples"
    return {name: read_comtrade(folder / name, vintage="2025-12-28") for name in EXPECTED_ROWS}


def _one(frame: pl.DataFrame, **keys: object) -> dict[str, object]:
    hit = frame.filter(*(pl.col(k) == v for k, v in keys.items()))
    assert hit.height == 1, hit
    return hit.row(0, named=True)


def test_every_sample_file_reads(flows: dict[str, pl.DataFrame]) -> None:
    assert {name: frame.height for name, frame in flows.items()} == EXPECTED_ROWS
    for frame in flows.values():
        assert set(frame["reporter_iso3"]) <= {"USA", "CHN", "AUS", "IDN", "COD"}
        assert set(frame["partner_iso3"]) <= {"USA", "CHN", "WLD"}
        assert set(frame["hs_revision"]) <= {"HS2012", "HS2017", "HS2022"}
    # the two REE files of the collector hold the same records (in another order)
    heavy, light = (
        flows[f"{n}_ree_trade_data.csv"].drop("source_row").sort(pl.all())
        for n in ("heavy", "light")
    )
    assert heavy.equals(light)


def test_gallium_usa_imports_from_china(flows: dict[str, pl.DataFrame]) -> None:
    gallium = flows["gallium_trade_data.csv"]
    usa = _one(gallium, year=2020, reporter_iso3="USA", partner_iso3="CHN", flow="import")
    assert (usa["exporter_iso3"], usa["importer_iso3"], usa["hs_code"]) == ("CHN", "USA", "811292")
    assert usa["value_usd"] == 12_636_598.0
    assert usa["net_weight_t"] == 35.97
    mirror = _one(gallium, year=2020, reporter_iso3="CHN", partner_iso3="USA", flow="export")
    assert (mirror["exporter_iso3"], mirror["importer_iso3"]) == ("CHN", "USA")
    assert mirror["value_usd"] == 5_997_660.0
    assert mirror["net_weight_t"] == 19.167
    world = _one(gallium, year=2024, reporter_iso3="USA", partner_iso3="WLD", flow="import")
    assert world["value_usd"] == 274_927_348.0
    assert world["exporter_iso3"] == "WLD"


def test_mirror_flows_are_comparable(flows: dict[str, pl.DataFrame]) -> None:
    """Importer-reported (CIF) and exporter-reported (FOB) values of the same flows."""
    keys = ["year", "hs_code", "exporter_iso3", "importer_iso3"]
    gallium = flows["gallium_trade_data.csv"].filter(pl.col("partner_iso3") != "WLD")
    pairs = gallium.filter(pl.col("flow") == "import").join(
        gallium.filter(pl.col("flow") == "export"), on=keys, suffix="_mirror"
    )
    assert pairs.height == 10  # 5 years x both directions between USA and China
    ratio = pairs["value_usd"] / pairs["value_usd_mirror"]
    assert ratio.min() > 0.5
    assert ratio.max() < 7
    unique_files = [f for n, f in flows.items() if n != "light_ree_trade_data.csv"]
    everything = pl.concat(unique_files).filter(pl.col("partner_iso3") != "WLD")
    all_pairs = everything.filter(pl.col("flow") == "import").join(
        everything.filter(pl.col("flow") == "export"), on=keys, suffix="_mirror"
    )
    median = (all_pairs["value_usd"] / all_pairs["value_usd_mirror"]).median()
    assert median is not None
    assert 0.5 < median < 2


def test_four_digit_codes_and_transport_totals(flows: dict[str, pl.DataFrame]) -> None:
    cobalt = flows["cobalt_trade_data.csv"]
    drc = cobalt.filter(pl.col("reporter_iso3") == "COD")
    assert set(drc["hs_revision"]) == {"HS2012"}
    assert "8105" in drc["hs_code"].to_list()
    lithium = flows["lithium_trade_data.csv"]
    # Australia's 2020 imports of 253090 from China: the all-modes total, not air + sea
    aus = _one(lithium, year=2020, reporter_iso3="AUS", hs_code="253090", flow="import")
    assert aus["value_usd"] == 560_807.859
