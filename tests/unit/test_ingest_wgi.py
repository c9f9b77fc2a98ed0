from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.wgi import (
    SOURCE,
    VINTAGE,
    WideErratum,
    read_wgi,
    read_wgi_pv_normalized,
    read_wgi_pv_wide,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "wgi"
LONG = DATA / "wgi_long_small.csv"
OFFICIAL = DATA / "wgi_long_official_small.csv"
WIDE = DATA / "wgi_pv_estimate_wide_small.csv"
NORMALIZED = DATA / "wgi_pv_normalized_wide_small.csv"


def _variant(tmp_path: Path, source: Path, edit: dict[int, str | None]) -> Path:
    """Copy ``source`` with 1-based lines replaced (str) or removed (None)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    out = [edit.get(n, line) for n, line in enumerate(lines, start=1)]
    path = tmp_path / source.name
    path.write_text("\n".join(x for x in out if x is not None) + "\n", encoding="utf-8")
    return path


def _one(frame: pl.DataFrame, **keys: object) -> dict[str, object]:
    hit = frame.filter(*(pl.col(k) == v for k, v in keys.items()))
    assert hit.height == 1, hit
    return hit.row(0, named=True)


# -- long file -----------------------------------------------------------------------------
def test_long_reads_fixture() -> None:
    frame = read_wgi(LONG)
    assert frame.height == 10
    assert frame["source_row"].to_list() == list(range(2, 12))
    assert frame.schema["year"] == pl.Int32
    assert set(frame["source"]) == {SOURCE}
    assert set(frame["vintage"]) == {VINTAGE}
    china = _one(frame, country_iso3="CHN", indicator="pv")
    assert china["estimate"] == -0.5131
    assert china["pctrank"] == 25.12
    assert china["stddev"] == 0.2081
    # World Bank spellings, a trailing space, an upper-case indicator
    assert _one(frame, country_iso3="KOR", indicator="pv")["estimate"] == 0.6098
    assert _one(frame, country_iso3="TWN", indicator="pv")["estimate"] == 0.7638
    assert _one(frame, country_iso3="HKG", indicator="pv")["estimate"] == 0.6731
    assert _one(frame, country_iso3="XKX", indicator="pv")["estimate"] == -0.3225
    assert _one(frame, country_iso3="PSE", indicator="pv")["source_row"] == 11
    # blank and ".." both mean missing
    for indicator in ("pv", "cc"):
        ant = _one(frame, country_iso3="ANT", indicator=indicator)
        assert ant["estimate"] is None
        assert ant["stddev"] is None
        assert ant["pctrank"] is None


def test_long_official_layout_checks_codes() -> None:
    frame = read_wgi(OFFICIAL)
    assert frame["country_iso3"].to_list() == ["AND", "COD", "ROU", "TLS", "PSE"]
    assert _one(frame, country_iso3="AND")["estimate"] == 1.586


def test_long_code_disagreeing_with_name(tmp_path: Path) -> None:
    bad = _variant(tmp_path, OFFICIAL, {4: "Romania,BGR,2022,pv,0.4311,0.2266,7,58.96,48.11,74.53"})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 4" in msg
    assert "'code'" in msg
    assert "'BGR'" in msg
    assert "ROU" in msg


def test_long_aggregate_rows_dropped_explicitly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = tmp_path / "wgi_with_world.csv"
    extra.write_text(
        LONG.read_text(encoding="utf-8") + "World,2023,pv,0.0,0.1,9,50,40,60\n", encoding="utf-8"
    )
    with caplog.at_level(logging.INFO, logger="resilience.ingest.wgi"):
        frame = read_wgi(extra)
    assert frame.height == 10
    assert "dropped 1 aggregate rows" in caplog.text
    assert "World" in caplog.text


def test_long_unknown_country(tmp_path: Path) -> None:
    bad = _variant(tmp_path, LONG, {5: '"Korea, Repp.",2023,pv,0.6098,0.2081,8,68.25,54.5,81.04'})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 5" in msg
    assert "'countryname'" in msg
    assert "'Korea, Repp.'" in msg


def test_long_unparseable_number(tmp_path: Path) -> None:
    bad = _variant(tmp_path, LONG, {3: "China,2023,pv,-0.51x,0.2081,8,25.12,16.59,40.28"})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'estimate'" in msg
    assert "'-0.51x'" in msg


def test_long_missing_column(tmp_path: Path) -> None:
    lines = LONG.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "no_pctrank.csv"
    bad.write_text(
        "\n".join(",".join(line.split(",")[:6]) for line in lines[:1]) + "\n", encoding="utf-8"
    )
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "'pctrank'" in msg
    assert "required column is missing" in msg


def test_long_duplicate_key(tmp_path: Path) -> None:
    bad = _variant(tmp_path, LONG, {9: "China,2023,pv,-0.5,0.2,8,25,16,40"})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 9" in msg
    assert "duplicate key" in msg
    assert "CHN" in msg


def test_long_negative_stddev(tmp_path: Path) -> None:
    bad = _variant(tmp_path, LONG, {2: "China,2023,cc,-0.0054,-0.1615,9,54.25,46.7,60.85"})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 2" in msg
    assert "'stddev'" in msg
    assert "-0.1615" in msg


def test_long_pctrank_above_100(tmp_path: Path) -> None:
    bad = _variant(tmp_path, LONG, {2: "China,2023,cc,-0.0054,0.1615,9,154.25,46.7,60.85"})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert "row 2" in msg
    assert "'pctrank'" in msg
    assert "154.25" in msg


def test_long_unknown_indicator(tmp_path: Path) -> None:
    bad = _variant(
        tmp_path, LONG, {4: '"Hong Kong SAR, China",2023,px,0.67,0.24,7,69.67,54.5,87.68'}
    )
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 4" in msg
    assert "'indicator'" in msg
    assert "'px'" in msg


def test_long_bad_year(tmp_path: Path) -> None:
    bad = _variant(tmp_path, LONG, {6: "Kosovo ,2023a,pv,-0.3225,0.2344,5,34.6,18.96,48.34"})
    with pytest.raises(DataError) as err:
        read_wgi(bad)
    assert "row 6" in str(err.value)
    assert "'year'" in str(err.value)
    assert "'2023a'" in str(err.value)


# -- wide files (GeoPolRisk) ------------------------------------------------------------------
def test_wide_reads_fixture_with_errata(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="resilience.ingest.wgi"):
        frame = read_wgi_pv_wide(WIDE)
    # PUS (line 6) is dropped by the errata; R20 (line 4) is Kosovo's series
    assert frame.height == 5 * 4
    assert set(frame["indicator"]) == {"pv"}
    assert frame["stddev"].null_count() == frame.height
    assert _one(frame, country_iso3="XKX", year=2008)["estimate"] == 1.012082815170288
    assert _one(frame, country_iso3="XKX", year=2008)["source_row"] == 4
    assert _one(frame, country_iso3="CHN", year=2022)["estimate"] == -0.44107362627983093
    assert _one(frame, country_iso3="SOM", year=2008)["estimate"] == -3.280517339706421
    assert _one(frame, country_iso3="ANT", year=2022)["estimate"] is None
    assert "UMI" not in frame["country_iso3"].to_list()
    assert "Kosovo" in caplog.text
    assert "dropped" in caplog.text


def test_wide_without_errata_resolves_as_labelled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="resilience.ingest.wgi"):
        frame = read_wgi_pv_wide(WIDE, errata=())
    assert "XKX" not in frame["country_iso3"].to_list()
    # the BACI aggregate code R20 is recognised as a region and dropped, with a log line
    assert "dropped 1 aggregate rows" in caplog.text
    assert "Europe EFTA, nes" in caplog.text
    # "None" is missing too; PUS resolves by its name
    assert _one(frame, country_iso3="UMI", year=2023)["estimate"] is None
    assert _one(frame, country_iso3="UMI", year=2022)["estimate"] == 1.619478702545166


def test_wide_erratum_on_a_given_line(tmp_path: Path) -> None:
    erratum = WideErratum("Somalia", "SOM", 5, "SSD", "test relabel")
    frame = read_wgi_pv_wide(WIDE, errata=(erratum,))
    assert "SSD" in frame["country_iso3"].to_list()
    assert "SOM" not in frame["country_iso3"]
    # an erratum whose line does not match is not applied
    frame = read_wgi_pv_wide(WIDE, errata=(WideErratum("Somalia", "SOM", 9, "SSD", "x"),))
    assert "SOM" in frame["country_iso3"].to_list()


def test_wide_duplicate_code(tmp_path: Path) -> None:
    bad = _variant(tmp_path, WIDE, {5: "China,CHN,-3.28,-2.48,-2.17,-2.26,706"})
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 5" in msg
    assert "duplicate key" in msg
    assert "CHN" in msg


def test_wide_code_disagreeing_with_name(tmp_path: Path) -> None:
    bad = _variant(tmp_path, WIDE, {5: "Somalia,SDN,-3.28,-2.48,-2.17,-2.26,706"})
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 5" in msg
    assert "'Code'" in msg
    assert "'SDN'" in msg


def test_wide_unknown_economy(tmp_path: Path) -> None:
    bad = _variant(tmp_path, WIDE, {5: "Somaliland,XSL,-3.28,-2.48,-2.17,-2.26,706"})
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 5" in msg
    assert "'Country/Territory'" in msg
    assert "'Somaliland'" in msg


def test_wide_unparseable_number(tmp_path: Path) -> None:
    bad = _variant(tmp_path, WIDE, {3: "China,CHN,-0.49,-0.44,n/a?,-0.15,156"})
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'2023'" in msg
    assert "'n/a?'" in msg


def test_wide_missing_column(tmp_path: Path) -> None:
    lines = WIDE.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "no_code.csv"
    bad.write_text(lines[0].replace(",Code,", ",ISO,") + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(bad)
    assert str(bad) in str(err.value)
    assert "'Code'" in str(err.value)


def test_wide_out_of_range(tmp_path: Path) -> None:
    bad = _variant(tmp_path, WIDE, {3: "China,CHN,-0.49,-0.44,-7.5,-0.15,156"})
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'2023'" in msg
    assert "'-7.5'" in msg


def test_normalized_reads_fixture() -> None:
    frame = read_wgi_pv_normalized(NORMALIZED)
    assert frame.columns == [
        "year",
        "country_iso3",
        "pv_normalized_0_1",
        "source",
        "vintage",
        "source_row",
    ]
    assert frame.height == 5 * 4
    assert _one(frame, country_iso3="SOM", year=2008)["pv_normalized_0_1"] == 1.0
    assert _one(frame, country_iso3="ANT", year=2022)["pv_normalized_0_1"] == 0.0
    assert _one(frame, country_iso3="ANT", year=2023)["pv_normalized_0_1"] is None


def test_normalized_matches_estimate_formula() -> None:
    est = read_wgi_pv_wide(WIDE)
    norm = read_wgi_pv_normalized(NORMALIZED)
    both = est.join(norm, on=["country_iso3", "year"]).filter(pl.col("estimate").is_not_null())
    expected = ((2.5 - both["estimate"]) / 5).clip(0.0, 1.0)
    assert (both["pv_normalized_0_1"] - expected).abs().max() < 1e-12


def test_normalized_out_of_range(tmp_path: Path) -> None:
    bad = _variant(tmp_path, NORMALIZED, {3: "China,CHN,0.59,0.58,1.5,0.53,156"})
    with pytest.raises(DataError) as err:
        read_wgi_pv_normalized(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 3" in msg
    assert "'2023'" in msg
    assert "'1.5'" in msg
