from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.ingest.wna import read_wna_uranium
from resilience.paths import datasets_dir

WNA = Path(__file__).resolve().parents[1] / "data" / "wna" / "wna_uranium_small.csv"


def _edit(tmp_path: Path, old: str, new: str) -> Path:
    text = WNA.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "wna_bad.csv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _value(frame: pl.DataFrame, iso3: str, year: int) -> dict[str, object]:
    hit = frame.filter(pl.col("country_iso3") == iso3, pl.col("year") == year)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


def test_reads_fixture() -> None:
    frame = read_wna_uranium(WNA)
    assert frame.height == 10
    assert set(frame["unit"]) == {"t U"}
    assert set(frame["source_commodity"]) == {"Uranium Produced"}
    assert _value(frame, "KAZ", 2020)["quantity"] == 19477.0
    assert _value(frame, "KAZ", 2019)["quantity"] == 22808.0  # "22,808"
    south = _value(frame, "ZAF", 2020)  # truncated "South", alias scoped to WNA
    assert (south["country_name"], south["quantity"], south["source_row"]) == ("South", 250.0, 9)
    assert _value(frame, "CZE", 2020)["quantity"] == 0.0  # a real zero
    assert _value(frame, "USA", 2020)["quantity"] == 6.0
    assert frame.filter(pl.col("country_iso3") == "WLD").height == 0


def test_map_converts_u_to_u3o8() -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    mapped = map_production(
        read_wna_uranium(WNA), load_commodity_map("wna"), commodities, file=WNA.name
    )
    kaz = mapped.filter(pl.col("country_iso3") == "KAZ", pl.col("year") == 2020)
    assert kaz["commodity"].to_list() == ["uranium"]
    assert kaz["quantity"][0] == pytest.approx(19477 * 1.17924)


def test_unknown_country(tmp_path: Path) -> None:
    path = _edit(tmp_path, "Czech,2020,0", "Bohemia,2020,0")
    with pytest.raises(DataError, match=r"wna_bad.csv, row 11, column 'Country'.*'Bohemia'"):
        read_wna_uranium(path)


def test_south_is_only_south_africa_for_wna() -> None:
    from resilience.reference.countries import CountryResolver

    assert CountryResolver.default().lookup("South") is None


def test_unparseable_number(tmp_path: Path) -> None:
    path = _edit(tmp_path, "USA,2020,6", "USA,2020,6 (est.)")
    with pytest.raises(
        DataError, match=r"wna_bad.csv, row 10, column 'Uranium Produced'.*'6 \(est.\)'"
    ):
        read_wna_uranium(path)


def test_negative_quantity(tmp_path: Path) -> None:
    path = _edit(tmp_path, "USA,2020,6", "USA,2020,-6")
    with pytest.raises(DataError, match=r"wna_bad.csv, row 10, column 'Uranium Produced'.*-6\.0"):
        read_wna_uranium(path)


def test_missing_column(tmp_path: Path) -> None:
    path = _edit(tmp_path, "Uranium Produced", "Uranium")
    with pytest.raises(DataError, match=r"wna_bad.csv, column 'Uranium Produced'.*missing"):
        read_wna_uranium(path)


def test_duplicate_key(tmp_path: Path) -> None:
    path = _edit(tmp_path, "Czech,2020,0", "Czech Republic,2020,0\nCzech,2020,0")
    with pytest.raises(DataError) as exc:
        read_wna_uranium(path)
    msg = str(exc.value)
    assert "wna_bad.csv, row 12, column 'Country, Year'" in msg
    assert "duplicate key (first on row 11)" in msg
