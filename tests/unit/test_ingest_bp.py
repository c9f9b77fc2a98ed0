from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.bp import read_bp_statreview, read_owid_fossil_production
from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.paths import datasets_dir

DATA = Path(__file__).resolve().parents[1] / "data" / "bp"
BP = DATA / "bp_statreview_small.csv"
OWID = DATA / "owid_fossil_small.csv"
OIL, GAS, COAL = "Oil Production - Tonnes", "Gas Production - Bcm", "Coal Production - Tonnes"


def _value(frame: pl.DataFrame, series: str, iso3: str, year: int) -> dict[str, object]:
    hit = frame.filter(
        pl.col("source_commodity") == series,
        pl.col("country_iso3") == iso3,
        pl.col("year") == year,
    )
    assert hit.height == 1, hit
    return hit.row(0, named=True)


def _edit(tmp_path: Path, source: Path, old: str, new: str, name: str = "bp_bad.csv") -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_bp_reads_fixture(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        frame = read_bp_statreview(BP)
    us = _value(frame, OIL, "USA", 2020)
    assert us["quantity"] == 712.7285316
    assert us["unit"] == "million tonnes"
    assert us["source_row"] == 9
    assert _value(frame, GAS, "WLD", 2020)["quantity"] == 3853.662832
    assert _value(frame, GAS, "WLD", 2020)["unit"] == "bcm"
    assert _value(frame, COAL, "USA", 2019)["unit"] == "million tonnes"
    assert _value(frame, OIL, "COG", 2020)["quantity"] == 15.75547334  # bp "Congo"
    assert _value(frame, GAS, "RUS", 2020)["country_name"] == "Russia"  # "Russia " stripped
    # Congo has no gas/coal: empty cells are not rows; OECD is dropped explicitly.
    assert frame.filter(pl.col("country_iso3") == "COG").height == 2
    assert "OECD" not in frame["country_name"].to_list()
    assert "OECD" in caplog.text
    # USSR 1990 has no production values in this slice.
    assert frame.filter(pl.col("country_iso3") == "SUN").height == 0
    assert set(frame["source_stage"]) == {"production"}
    assert frame.height == 2 + 3 * 4 + 3 * 2  # Congo, Russia/US (x2 years), World


def test_bp_maps_to_canonical_units() -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    mapped = map_production(
        read_bp_statreview(BP), load_commodity_map("bp"), commodities, file=BP.name
    )
    us = mapped.filter(pl.col("country_iso3") == "USA", pl.col("year") == 2020)
    values = dict(zip(us["commodity"], us["quantity"], strict=True))
    assert values["crude_oil"] == pytest.approx(712.7285316e6)  # t
    assert values["natural_gas"] == pytest.approx(914.6209553e3)  # million m3
    assert values["coal"] == pytest.approx(484.7108872e6)


def test_bp_unknown_country(tmp_path: Path) -> None:
    path = _edit(tmp_path, BP, "United States,2019,", "Untied States,2019,")
    with pytest.raises(DataError, match=r"bp_bad.csv, row 8, column 'Entity'.*'Untied States'"):
        read_bp_statreview(path)


def test_bp_unparseable_number(tmp_path: Path) -> None:
    path = _edit(tmp_path, BP, ",712.7285316,", ",712.72x,")
    with pytest.raises(DataError, match=r"bp_bad.csv, row 9, column 'Oil Production - Tonnes'"):
        read_bp_statreview(path)


def test_bp_negative_quantity(tmp_path: Path) -> None:
    path = _edit(tmp_path, BP, ",914.6209553,", ",-914.6209553,")
    with pytest.raises(
        DataError, match=r"bp_bad.csv, row 9, column 'Gas Production - Bcm'.*-914\.6209553"
    ):
        read_bp_statreview(path)


def test_bp_unparseable_year(tmp_path: Path) -> None:
    path = _edit(tmp_path, BP, "World,2019,", "World,2019a,")
    with pytest.raises(DataError, match=r"bp_bad.csv, row 10, column 'Year'.*'2019a'"):
        read_bp_statreview(path)


def test_bp_missing_column(tmp_path: Path) -> None:
    path = _edit(tmp_path, BP, "Coal Production - Tonnes,", "Coal Production,")
    with pytest.raises(DataError, match=r"bp_bad.csv, column 'Coal Production - Tonnes'"):
        read_bp_statreview(path)


def test_bp_duplicate_key(tmp_path: Path) -> None:
    text = BP.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("World,2020,"))
    path = tmp_path / "bp_bad.csv"
    path.write_text(text + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_bp_statreview(path)
    msg = str(exc.value)
    assert "bp_bad.csv, row 13, column 'Entity, Year'" in msg
    assert "duplicate key (first on row 11)" in msg
    assert "'World'" in msg


def test_owid_reads_fixture(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        frame = read_owid_fossil_production(OWID)
    assert set(frame["unit"]) == {"TWh"}
    assert _value(frame, "Oil production (TWh)", "USA", 2020)["quantity"] == 8289.033
    assert _value(frame, "Coal production (TWh)", "WLD", 1991)["quantity"] == 25617.117
    assert _value(frame, "Coal production (TWh)", "YUG", 1991)["source_row"] == 10
    assert "OPEC" in caplog.text
    assert frame.filter(pl.col("country_name") == "OPEC").height == 0


def test_owid_twh_series_are_known_but_out_of_scope_in_the_map() -> None:
    bp_map = load_commodity_map("bp")
    owid = bp_map.filter(pl.col("source_commodity").str.ends_with("(TWh)"))
    frame = read_owid_fossil_production(OWID)
    assert set(frame["source_commodity"]) == set(owid["source_commodity"])
    assert owid["commodity"].null_count() == 3  # TWh has no physical-unit conversion
    assert owid["basis_factor"].null_count() == 0


def test_owid_unknown_country(tmp_path: Path) -> None:
    path = _edit(tmp_path, OWID, "Serbia,2020", "Servia,2020", name="owid_bad.csv")
    with pytest.raises(DataError, match=r"owid_bad.csv, row 5, column 'Country'.*'Servia'"):
        read_owid_fossil_production(path)
