from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.mapping import complete_rest_of_world, load_commodity_map, map_production
from resilience.ingest.usgs import read_usgs_world
from resilience.paths import datasets_dir

pytestmark = pytest.mark.integration

RELEASES = {"MCS2023": "mcs2023_world", "MCS2024": "mcs2024_world", "MCS2025": "mcs2025_world"}


@pytest.fixture(scope="module")
def releases(shared_data: Path) -> dict[str, pl.DataFrame]:
    folder = shared_data / "usgs_mcs"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return {vintage: read_usgs_world(folder / sub) for vintage, sub in RELEASES.items()}


def _value(frame: pl.DataFrame, **where: object) -> dict[str, object]:
    hit = frame.filter(**where)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


def test_every_release_reads_and_every_name_resolves(releases: dict[str, pl.DataFrame]) -> None:
    # reading raises on any unknown country name, bad number or duplicate row
    heights = {vintage: frame.height for vintage, frame in releases.items()}
    assert heights == {"MCS2023": 2346, "MCS2024": 2394, "MCS2025": 2496}
    for vintage, frame in releases.items():
        assert set(frame["vintage"]) == {vintage}
        assert set(frame["source"]) == {f"USGS MCS {vintage[3:]}"}
        assert frame["country_iso3"].null_count() == 0
        release = int(vintage[3:])
        assert set(frame["year"]) == {release - 2, release - 1}
    assert releases["MCS2023"]["source_file"].n_unique() == 76  # 77 files, abrasives: capacity
    assert releases["MCS2024"]["source_file"].n_unique() == 76
    assert set(releases["MCS2025"]["source_file"]) == {"MCS2025_World_Data.csv"}


def test_mcs2024_check_values(releases: dict[str, pl.DataFrame]) -> None:
    li = releases["MCS2024"].filter(source_commodity="Lithium")
    aus = _value(li, country_iso3="AUS", year=2022)
    assert (aus["quantity"], aus["unit"], aus["is_estimated"]) == (74700.0, "t", False)
    assert _value(li, country_iso3="AUS", year=2023)["quantity"] == 86000.0
    assert _value(li, country_iso3="WLD", year=2022)["quantity"] == 146000.0
    assert _value(li, country_iso3="ROW", year=2022)["country_name"] == "Other countries6"
    # 'Argentinae' (perlite): the trailing e is the estimate mark
    arg = _value(
        releases["MCS2024"], source_commodity="Perlite", country_name="Argentinae", year=2022
    )
    assert (arg["country_iso3"], arg["quantity"], arg["is_estimated"]) == ("ARG", 18.0, True)
    ru = _value(
        releases["MCS2024"],
        source_commodity="Platinum-Group metals",
        source_stage="Mine production: Palladium",
        country_name="Russiae",
        year=2022,
    )
    assert (ru["country_iso3"], ru["quantity"], ru["unit"]) == ("RUS", 87000.0, "kg")
    # "e5,000": value with a leading estimate mark
    sand = _value(
        releases["MCS2024"],
        source_commodity="Sand and gravel (industrial)",
        country_iso3="AUS",
        year=2022,
    )
    assert (sand["quantity"], sand["is_estimated"]) == (5000.0, True)
    fluor = releases["MCS2024"].filter(source_commodity="Fluorspar")
    assert set(fluor["source_stage"]) == {"Mine production, fluorspar"}  # header = type text


def test_withheld_us_lithium_is_null_never_zero(releases: dict[str, pl.DataFrame]) -> None:
    for frame in releases.values():
        us = frame.filter(source_commodity="Lithium", country_iso3="USA")
        assert us.height == 2
        assert us["quantity"].to_list() == [None, None]
        assert us["is_withheld"].to_list() == [True, True]


def test_mcs2025_check_values(releases: dict[str, pl.DataFrame]) -> None:
    f = releases["MCS2025"]
    li = f.filter(source_commodity="Lithium")  # "Lithium " in the file
    aus = _value(li, country_iso3="AUS", year=2023)
    assert (aus["quantity"], aus["unit"], aus["is_estimated"]) == (91700.0, "metric tons", False)
    assert aus["source_row"] == 630
    assert _value(li, country_iso3="BRA", year=2023)["is_estimated"] is True  # estimated 2023
    assert _value(li, country_iso3="WLD", year=2024)["quantity"] == 240000.0
    ga = _value(f, source_commodity="Gallium", country_iso3="CHN", year=2023)
    assert (ga["quantity"], ga["unit"]) == (621000.0, "kilograms")
    ge = f.filter(source_commodity="Germanium")  # 'Gemanium' in the file, all blank
    assert ge.height == 16
    assert ge["quantity"].null_count() == 16
    cn = _value(
        f,
        source_commodity="Titanium Mineral Concentrates",
        country_iso3="CHN",
        year=2023,
    )
    assert (cn["quantity"], cn["unit"]) == (3250.0, "thousand metric tons")  # unit erratum
    sle = _value(f, source_commodity="Titanium Mineral Concentrates", country_iso3="SLE", year=2023)
    assert (sle["quantity"], sle["unit"], sle["source_row"]) == (
        110.0,
        "thousand metric tons",
        1132,
    )
    assert f.filter(country_name="United States and Canada").height == 0  # region dropped


def test_mcs2023_check_values(releases: dict[str, pl.DataFrame]) -> None:
    f = releases["MCS2023"]
    zaf = _value(f, source_commodity="Chromium", country_iso3="ZAF", year=2021)
    assert (zaf["quantity"], zaf["unit"]) == (18600.0, "kt")  # header says t: erratum
    us_zr = f.filter(source_commodity="Zirconium and Hafnium", country_iso3="USA")
    assert us_zr["is_withheld"].to_list() == [True, True]  # "<100"
    wld = _value(f, source_commodity="Lithium", country_iso3="WLD", year=2021)
    assert wld["country_name"] == "World total (rounded), excluding U.S. production"
    assert wld["quantity"] == 107000.0
    bra = _value(f, source_commodity="Lithium", country_iso3="BRA", year=2021)
    assert (bra["quantity"], bra["is_estimated"]) == (1700.0, True)  # "1,700" + note


@pytest.fixture(scope="module")
def mapped(releases: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    cmap = load_commodity_map("usgs")
    commodities = pl.read_csv(datasets_dir() / "commodities.csv", infer_schema=False)
    return {
        vintage: complete_rest_of_world(map_production(frame, cmap, commodities, file=vintage))
        for vintage, frame in releases.items()
    }


def test_map_lists_exactly_the_released_series(releases: dict[str, pl.DataFrame]) -> None:
    cmap = load_commodity_map("usgs")
    in_map = set(cmap.select("source_commodity", "source_stage").iter_rows())
    seen: set[tuple[str, str]] = set()
    for frame in releases.values():
        seen |= set(frame.select("source_commodity", "source_stage").unique().iter_rows())
    assert in_map == seen


def test_lithium_shares_mcs2025(mapped: dict[str, pl.DataFrame]) -> None:
    li = mapped["MCS2025"].filter(commodity="lithium", stage="mining", year=2023)
    world = _value(li, country_iso3="WLD")["quantity"]
    assert world == 204000.0  # t Li, excludes the withheld U.S.
    share = {
        r["country_iso3"]: round(100 * r["quantity"] / world, 1)
        for r in li.filter(pl.col("quantity").is_not_null()).iter_rows(named=True)
    }
    assert share["AUS"] == 45.0
    assert share["CHL"] == 20.3
    assert share["CHN"] == 17.5
    assert _value(li, country_iso3="USA")["is_withheld"] is True


def test_countries_and_rest_of_world_match_world_totals(mapped: dict[str, pl.DataFrame]) -> None:
    group = ["year", "commodity", "stage", "source"]
    for vintage, prod in mapped.items():
        listed = (
            prod.filter(pl.col("country_iso3") != "WLD")
            .group_by(group)
            .agg(pl.col("quantity").sum().alias("listed"))
        )
        world = prod.filter(
            pl.col("country_iso3") == "WLD",
            pl.col("commodity").is_in(["lithium", "titanium", "silicon_metal", "cobalt"]),
        ).select(*group, pl.col("quantity").alias("world"))
        gap = listed.join(world, on=group).with_columns(
            ((pl.col("listed") / pl.col("world")) - 1).abs().alias("gap")
        )
        assert gap.height == 10  # 2 years x (lithium, cobalt, silicon, titanium x 2 stages)
        # USGS rounds its world totals: countries + ROW are within 3 % of them
        assert gap["gap"].max() < 0.03, (vintage, gap)
    # titanium mining = ilmenite + rutile (summed by map_production), t TiO2
    ti = mapped["MCS2025"].filter(commodity="titanium", stage="mining", year=2023)
    assert _value(ti, country_iso3="WLD")["quantity"] == 9_430_000.0
    assert _value(ti, country_iso3="AUS")["quantity"] == 600_000.0  # 400 ilmenite + 200 rutile
    si = mapped["MCS2024"].filter(commodity="silicon_metal", year=2022)
    assert _value(si, country_iso3="CHN")["quantity"] == 6_670_000.0  # 3,770 FeSi + 2,900 Si
    assert _value(si, country_iso3="USA")["is_withheld"] is True
