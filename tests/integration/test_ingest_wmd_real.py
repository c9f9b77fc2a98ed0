from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.ingest.wmd import (
    read_wmd_production,
    read_wmd_published_hhi,
    read_wmd_recycling,
    read_wmd_shares,
)
from resilience.paths import datasets_dir

pytestmark = pytest.mark.integration

#: WMD 2024 (data 2022), as printed in the Total rows (SOURCE.md check values).
PUBLISHED_2022 = {
    "Cobalt": 4929,
    "Gallium": 9679,
    "Germanium": 8764,
    "Rare Earths (REO)": 5283,
    "Graphite": 4707,
    "Lithium (Li2O)": 3198,
    "Uranium (U3O8)": 2470,
    "Natural Gas": 1038,
    "Petroleum": 837,
}


@pytest.fixture(scope="module")
def production(shared_data: Path) -> pl.DataFrame:
    path = (
        shared_data / "world_mining_data_2018_2024" / "wmd_production_by_country_2018_2024_long.csv"
    )
    if not path.exists():
        pytest.skip(f"{path} not present")
    return read_wmd_production(path)


def _shares_path(shared_data: Path, year: int) -> Path:
    path = shared_data / "world_mining_data" / f"wmd_share_of_world_production_{year}_long.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def _value(frame: pl.DataFrame, commodity: str, iso3: str, year: int) -> float | None:
    hit = frame.filter(
        pl.col("source_commodity") == commodity,
        pl.col("country_iso3") == iso3,
        pl.col("year") == year,
    )
    assert hit.height == 1, hit
    return hit["quantity"][0]


def test_production_file(production: pl.DataFrame) -> None:
    assert production.height == 14_133  # every row kept: no aggregates in this file
    assert production["source_commodity"].n_unique() == 65
    assert sorted(production["year"].unique().to_list()) == list(range(2018, 2025))
    assert production["is_estimated"].sum() == 3_038  # flag 'e'
    assert production["quantity"].null_count() == 271  # empty cells stay null
    assert _value(production, "Cobalt", "COD", 2022) == 115_371.0  # "Congo, D.R."
    assert _value(production, "Cobalt", "WLD", 2022) == 166_030.0
    assert _value(production, "Lithium (Li2O)", "CHL", 2022) is not None
    # Non-ISO codes (R20, S19) resolved from names; the French Guiana slip corrected.
    assert production.filter(pl.col("country_iso3") == "XKX").height == 28
    assert production.filter(pl.col("country_iso3") == "TWN").height == 49
    assert production.filter(pl.col("country_iso3") == "GUF").height == 7
    assert set(production.filter(pl.col("country_name") == "Total")["country_iso3"]) == {"WLD"}


@pytest.mark.parametrize("year", [2021, 2022])
def test_published_hhi_equals_sum_of_squared_shares(shared_data: Path, year: int) -> None:
    path = _shares_path(shared_data, year)
    published = read_wmd_published_hhi(path)
    assert published.height == 65
    raw = pl.read_csv(path, infer_schema=False)
    from_shares = (
        raw.filter(pl.col("country") != "Total")
        .group_by("commodity")
        .agg((pl.col("share_pct").cast(pl.Float64) ** 2).sum().alias("hhi_shares"))
    )
    shares = read_wmd_shares(path)
    world = shares.filter(pl.col("country_iso3") == "WLD").select(
        "source_commodity", pl.col("quantity").alias("world")
    )
    from_quantities = (
        shares.filter(pl.col("country_iso3") != "WLD")
        .join(world, on="source_commodity")
        .group_by("source_commodity")
        .agg(((pl.col("quantity") / pl.col("world") * 100) ** 2).sum().alias("hhi_quantities"))
    )
    check = published.join(
        from_shares.rename({"commodity": "source_commodity"}), on="source_commodity"
    ).join(from_quantities, on="source_commodity")
    assert check.height == 65
    # Every commodity: the published HHI is Σ share_pct² of the country rows, and the
    # shares are production / world total (so our quantities reproduce it too).
    for name, hhi, by_share, by_quantity in check.select(
        "source_commodity", "hhi_published", "hhi_shares", "hhi_quantities"
    ).iter_rows():
        assert by_share == pytest.approx(hhi, abs=1e-6), name
        assert by_quantity == pytest.approx(hhi, abs=1e-6), name


def test_published_hhi_2022_check_values(shared_data: Path) -> None:
    published = read_wmd_published_hhi(_shares_path(shared_data, 2022))
    values = dict(zip(published["source_commodity"], published["hhi_published"], strict=True))
    for commodity, hhi in PUBLISHED_2022.items():
        assert round(values[commodity]) == hhi, commodity
    assert set(published["vintage"]) == {"WMD 2024"}


def test_shares_2022_agree_with_the_2018_2024_file(
    shared_data: Path, production: pl.DataFrame
) -> None:
    shares = read_wmd_shares(_shares_path(shared_data, 2022))
    assert shares.height == 1_869
    keys = ["source_commodity", "country_iso3"]
    joined = shares.select(*keys, "quantity").join(
        production.filter(pl.col("year") == 2022).select(*keys, pl.col("quantity").alias("p")),
        on=keys,
    )
    # World totals are identical; the 2018-2024 file lists a few more small producers.
    totals = joined.filter(pl.col("country_iso3") == "WLD")
    assert totals.height == 65
    assert (totals["quantity"] == totals["p"]).all()
    assert _value(shares, "Cobalt", "COD", 2022) == 115_371.0
    assert _value(shares, "Gallium", "CHN", 2022) == 606.0


def test_every_sheet_is_in_the_map(shared_data: Path, production: pl.DataFrame) -> None:
    wmd_map = load_commodity_map("wmd")
    mapped = set(wmd_map["source_commodity"])
    assert set(production["source_commodity"]) == mapped
    for year in (2021, 2022):
        assert set(read_wmd_shares(_shares_path(shared_data, year))["source_commodity"]) == mapped
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    out = map_production(production, wmd_map, commodities, file="wmd")
    lithium = out.filter(
        pl.col("commodity") == "lithium", pl.col("country_iso3") == "WLD", pl.col("year") == 2022
    )
    li2o = _value(production, "Lithium (Li2O)", "WLD", 2022)
    assert li2o is not None
    assert lithium["quantity"][0] == pytest.approx(li2o * 0.46458)


def test_recycling_file(shared_data: Path, production: pl.DataFrame) -> None:
    path = shared_data / "world_mining_data_2018_2024" / "wmd_commodity_hs_map_eol_rir.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    frame = read_wmd_recycling(path)
    assert frame.height == 65
    assert set(frame["source_commodity"]) == set(production["source_commodity"])
    rows = {r["source_commodity"]: r for r in frame.iter_rows(named=True)}
    assert rows["Copper"]["eol_rir_frac"] == 0.55
    assert rows["Lead"]["eol_rir_frac"] == 0.83
    assert rows["Cobalt"]["eol_rir_frac"] == 0.22
    assert rows["Cobalt"]["hs_codes"] == "282200;810510"
    assert rows["Lithium (Li2O)"]["wmd_stage"] == "Processing"
    assert rows["Gallium"]["hs_codes"] is None
    assert rows["Petroleum"]["reference_url"] is None
    assert frame["eol_rir_frac"].null_count() == 0
