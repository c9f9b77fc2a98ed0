from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.comtrade import SOURCE, read_comtrade

DATA = Path(__file__).resolve().parents[1] / "data" / "comtrade"
SMALL = DATA / "comtrade_api_small.csv"
HEADER = SMALL.read_text(encoding="utf-8").splitlines()[0].split(",")


def _line(number: int) -> list[str]:
    return SMALL.read_text(encoding="utf-8").splitlines()[number - 1].split(",")


def _set(number: int, **cells: str) -> str:
    """Line ``number`` of the fixture with some cells (by column name) replaced."""
    fields = _line(number)
    for column, value in cells.items():
        fields[HEADER.index(column)] = value
    return ",".join(fields)


def _variant(tmp_path: Path, edit: dict[int, str | None]) -> Path:
    lines = SMALL.read_text(encoding="utf-8").splitlines()
    out = [edit.get(n, line) for n, line in enumerate(lines, start=1)]
    path = tmp_path / SMALL.name
    path.write_text("\n".join(x for x in out if x is not None) + "\n", encoding="utf-8")
    return path


def _row(frame: pl.DataFrame, source_row: int) -> dict[str, object]:
    hit = frame.filter(pl.col("source_row") == source_row)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


def test_reads_fixture(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="resilience.ingest.comtrade"):
        frame = read_comtrade(SMALL, vintage="2025-12-28")
    assert "dropped 2 breakdown rows" in caplog.text
    assert frame["source_row"].to_list() == [2, 3, 4, 7, 8, 9, 10]
    assert set(frame["source"]) == {SOURCE}
    assert set(frame["vintage"]) == {"2025-12-28"}
    usa_imports = _row(frame, 2)
    assert (usa_imports["reporter_iso3"], usa_imports["partner_iso3"]) == ("USA", "CHN")
    assert usa_imports["flow"] == "import"
    assert usa_imports["hs_code"] == "811292"
    assert (usa_imports["exporter_iso3"], usa_imports["importer_iso3"]) == ("CHN", "USA")
    assert usa_imports["value_usd"] == 12636598.0
    assert usa_imports["net_weight_t"] == 35.97
    assert usa_imports["hs_revision"] == "HS2017"
    assert usa_imports["is_reported"] is True
    usa_exports = _row(frame, 3)
    assert (usa_exports["exporter_iso3"], usa_exports["importer_iso3"]) == ("USA", "CHN")
    assert usa_exports["value_usd"] == 714021.0
    world = _row(frame, 4)  # partner 0 = World, kept as the reporter's total
    assert world["partner_iso3"] == "WLD"
    assert world["exporter_iso3"] == "WLD"
    assert world["importer_iso3"] == "CHN"
    assert world["is_reported"] is False
    # the all-modes total is kept, the air and sea breakdowns are dropped
    assert _row(frame, 7)["value_usd"] == 560807.859
    assert _row(frame, 7)["reporter_iso3"] == "AUS"
    cod = _row(frame, 8)  # a 4-digit code in HS2012
    assert cod["hs_code"] == "8105"
    assert cod["hs_revision"] == "HS2012"
    assert cod["exporter_iso3"] == "COD"
    assert _row(frame, 9)["net_weight_t"] is None  # netWgt 0 on 43.6 M USD: not reported
    assert _row(frame, 10)["net_weight_t"] is None  # netWgt empty


def test_comtrade_specific_codes(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _set(3, partnerCode="490"), 2: _set(2, partnerCode="251")})
    frame = read_comtrade(bad)
    assert _row(frame, 2)["partner_iso3"] == "FRA"
    assert _row(frame, 3)["partner_iso3"] == "TWN"


def test_code_table_can_be_given(tmp_path: Path) -> None:
    table = pl.DataFrame(
        {"baci_code": [842, 156, 0, 36, 180], "country_iso3": ["USA", "CHN", "WLD", "AUS", "COD"]}
    ).with_columns(pl.lit("country").alias("country_kind"))
    assert read_comtrade(SMALL, country_codes=table).height == 7


def test_aggregate_partner_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _variant(tmp_path, {3: _set(3, partnerCode="899")})
    with caplog.at_level(logging.INFO, logger="resilience.ingest.comtrade"):
        frame = read_comtrade(path)
    assert 3 not in frame["source_row"].to_list()
    assert "dropped 1 rows whose partner is an aggregate area (codes [899])" in caplog.text


def test_unknown_area_code(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _set(3, partnerCode="123")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'partnerCode'" in msg
    assert "'123'" in msg


def test_reporter_must_be_a_country(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {2: _set(2, reporterCode="0")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert "row 2" in str(err.value)
    assert "'reporterCode'" in str(err.value)


def test_iso_column_disagreeing_with_code(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {2: _set(2, reporterISO="CAN"), 3: _set(3, reporterISO="USA")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    msg = str(err.value)
    assert "row 2" in msg
    assert "'reporterISO'" in msg
    assert "'CAN'" in msg
    assert "row 3" not in msg


def test_unparseable_value(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {3: _set(3, primaryValue='"714,021.0x"')})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'primaryValue'" in msg
    assert "'714,021.0x'" in msg


def test_missing_column(tmp_path: Path) -> None:
    header = ",".join("netWeight" if c == "netWgt" else c for c in HEADER)
    bad = _variant(tmp_path, {1: header})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert str(bad) in str(err.value)
    assert "'netWgt'" in str(err.value)


def test_duplicate_key(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {10: _set(2, primaryValue="1.0")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 10" in msg
    assert "duplicate key" in msg
    assert "USA" in msg


def test_negative_value_and_weight(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {2: _set(2, primaryValue="-12636598.0")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    msg = str(err.value)
    assert "row 2" in msg
    assert "'primaryValue'" in msg
    assert "-12636598.0" in msg
    bad = _variant(tmp_path, {3: _set(3, netWgt="-3241.0")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert "row 3, column 'netWgt': negative value (value: '-3241.0')" in str(err.value)


def test_breakdown_without_total(tmp_path: Path) -> None:
    bad = _variant(tmp_path, {7: None})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    msg = str(err.value)
    assert "row 5" in msg
    assert "'motCode'" in msg
    assert "'1000'" in msg


def test_other_flows_and_classifications(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _variant(tmp_path, {3: _set(3, flowCode="RX")})
    with caplog.at_level(logging.INFO, logger="resilience.ingest.comtrade"):
        assert 3 not in read_comtrade(path)["source_row"].to_list()
    assert "dropped 1 re-import/re-export" in caplog.text
    bad = _variant(tmp_path, {3: _set(3, flowCode="Q")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert "row 3" in str(err.value)
    assert "'flowCode'" in str(err.value)
    bad = _variant(tmp_path, {4: _set(4, classificationCode="S4")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert "row 4" in str(err.value)
    assert "'classificationCode'" in str(err.value)
    bad = _variant(tmp_path, {4: _set(4, cmdCode="81129")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert "row 4" in str(err.value)
    assert "'cmdCode'" in str(err.value)
    assert "'81129'" in str(err.value)
    bad = _variant(tmp_path, {4: _set(4, freqCode="M")})
    with pytest.raises(DataError) as err:
        read_comtrade(bad)
    assert "row 4" in str(err.value)
    assert "'freqCode'" in str(err.value)
