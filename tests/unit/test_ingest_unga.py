from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.unga import SOURCE, VINTAGE, cow_codes, read_unga_ideal_points

DATA = Path(__file__).resolve().parents[1] / "data" / "unga"
SMALL = DATA / "ideal_points_small.csv"


def _variant(tmp_path: Path, edit: dict[int, str | None]) -> Path:
    lines = SMALL.read_text(encoding="utf-8").splitlines()
    out = [edit.get(n, line) for n, line in enumerate(lines, start=1)]
    path = tmp_path / SMALL.name
    path.write_text("\n".join(x for x in out if x is not None) + "\n", encoding="utf-8")
    return path


def _line(number: int) -> str:
    return SMALL.read_text(encoding="utf-8").splitlines()[number - 1]


def _one(frame: pl.DataFrame, iso3: str, year: int) -> dict[str, object]:
    hit = frame.filter(pl.col("country_iso3") == iso3, pl.col("year") == year)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


def test_reads_fixture() -> None:
    frame = read_unga_ideal_points(SMALL)
    assert frame.height == 15
    assert frame["source_row"].to_list() == list(range(2, 17))
    assert set(frame["source"]) == {SOURCE}
    assert set(frame["vintage"]) == {VINTAGE}
    usa = _one(frame, "USA", 2023)  # session 78 = 1945 + 78
    assert usa["ideal_point"] == 2.500157
    assert usa["cow_code"] == 2
    assert usa["agree_with_usa_frac"] == 1.0
    assert usa["agree_with_china_frac"] == 0.1647059
    assert _one(frame, "CAN", 2023)["ideal_point"] == 1.436586
    assert _one(frame, "CUB", 2023)["ideal_point"] == -1.245315
    # NA is missing
    cambodia = _one(frame, "KHM", 1992)
    assert cambodia["agree_with_usa_frac"] is None
    assert cambodia["ideal_point"] == -0.543544
    assert _one(frame, "TWN", 1971)["agree_with_china_frac"] is None


def test_historic_states() -> None:
    frame = read_unga_ideal_points(SMALL)
    assert _one(frame, "DEU", 1990)["cow_code"] == 260  # German Federal Republic
    assert _one(frame, "DDR", 1989)["cow_code"] == 265
    # both Yemens carry iso3c "YAR" (not a code): resolved by name
    assert _one(frame, "YEM", 1989)["cow_code"] == 678
    assert _one(frame, "YMD", 1989)["cow_code"] == 680


def test_successions_split_one_cow_code() -> None:
    frame = read_unga_ideal_points(SMALL)
    assert _one(frame, "YUG", 2002)["ideal_point"] == 0.9975931
    assert _one(frame, "SCG", 2003)["ideal_point"] == 0.994973
    assert _one(frame, "SRB", 2006)["ideal_point"] == 0.9801978
    assert _one(frame, "SUN", 1991)["ideal_point"] == 0.7134383
    assert _one(frame, "RUS", 1992)["ideal_point"] == 1.146055
    as_labelled = read_unga_ideal_points(SMALL, successions={})
    assert set(as_labelled.filter(pl.col("cow_code") == 345)["country_iso3"]) == {"YUG"}


def test_cow_codes() -> None:
    table = cow_codes(SMALL)
    assert table.columns == ["cow_code", "country_iso3", "first_year", "last_year"]
    assert table.schema["cow_code"] == pl.Int32
    rows = {(c, i): (a, b) for c, i, a, b in table.iter_rows()}
    assert rows[(345, "YUG")] == (2002, 2002)
    assert rows[(345, "SRB")] == (2006, 2006)
    assert rows[(260, "DEU")] == (1990, 1990)
    assert rows[(2, "USA")] == (2023, 2023)


def test_unknown_country(tmp_path: Path) -> None:
    line = _line(12).replace('"YAR","Yemen Arab Republic"', '"YAR","Yemen Arab Rep."')
    bad = _variant(tmp_path, {12: line})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 12" in msg
    assert "'Countryname'" in msg
    assert "'Yemen Arab Rep.'" in msg


def test_iso3c_disagreeing_with_name(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {4: _line(4).replace('"CUB","Cuba"', '"CUW","Cuba"')})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 4" in msg
    assert "'iso3c'" in msg
    assert "'CUW'" in msg


def test_unparseable_number(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _line(3).replace(",1.436586,", ",1.43x,")})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'IdealPointAll'" in msg
    assert "'1.43x'" in msg


def test_unparseable_session(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _line(3).replace('"154",20,78,', '"154",20,78b,')})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert "row 3" in msg
    assert "'session'" in msg
    assert "'78b'" in msg


def test_missing_column(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {1: _line(1).replace('"ChinaAgree"', '"PRCAgree"')})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "'ChinaAgree'" in msg
    assert "required column is missing" in msg


def test_duplicate_key(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {16: _line(2).replace('"77"', '"99"')})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 16" in msg
    assert "duplicate key" in msg
    assert "USA" in msg


def test_share_above_one(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _line(3).replace(",0.6860465,", ",1.6860465,")})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert "row 3" in msg
    assert "'USAgree'" in msg
    assert "1.6860465" in msg


def test_negative_share(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _line(3).replace(",0.3411765,", ",-0.3411765,")})
    with pytest.raises(DataError) as err:
        read_unga_ideal_points(bad)
    msg = str(err.value)
    assert "row 3" in msg
    assert "'ChinaAgree'" in msg
    assert "-0.3411765" in msg
