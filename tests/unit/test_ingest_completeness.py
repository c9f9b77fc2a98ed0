"""Every adapter rejects a cut, empty, header-only or UTF-16 file, and years its name denies."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest import baci, bp, iea, unga, usgs, wgi, wmd, wna
from resilience.ingest.completeness import check_csv_complete, check_csv_tail
from resilience.ingest.comtrade import read_comtrade
from resilience.ingest.name_years import name_years
from resilience.ingest.text import read_text_csv

DATA = Path(__file__).resolve().parents[1] / "data"
CODES = DATA / "baci" / "country_codes_V202401b_small.csv"


def _baci_flows(path: Path) -> object:
    return baci.validate_baci(path, baci.read_baci_country_codes(CODES))


#: (fixture, reader, the publisher's file name) for each adapter reading a CSV.
ADAPTERS: list[tuple[Path, Callable[[Path], object], str]] = [
    (DATA / "wgi" / "wgi_long_small.csv", wgi.read_wgi, "wgi_2024update_long.csv"),
    (DATA / "unga" / "ideal_points_small.csv", unga.read_unga_ideal_points, "Ideal_Jun2024.csv"),
    (DATA / "wmd" / "wmd_production_small.csv", wmd.read_wmd_production, "wmd_prod.csv"),
    (DATA / "wmd" / "wmd_shares_small_2022.csv", wmd.read_wmd_shares, "wmd_shares.csv"),
    (DATA / "wmd" / "wmd_eol_rir_small.csv", wmd.read_wmd_recycling, "wmd_map.csv"),
    (DATA / "iea" / "iea_supply_small.csv", iea.read_iea_critical_minerals, "iea.csv"),
    (DATA / "bp" / "bp_statreview_small.csv", bp.read_bp_statreview, "bp.csv"),
    (DATA / "wna" / "wna_uranium_small.csv", wna.read_wna_uranium, "wna.csv"),
    (
        DATA / "usgs" / "mcs2024" / "mcs2024-lithi_world.csv",
        usgs.read_usgs_world,
        "mcs2024-lithi_world.csv",
    ),
    (DATA / "usgs" / "mcs2025" / "MCS2025_World_Data_small.csv", usgs.read_usgs_world, "u.csv"),
    (DATA / "comtrade" / "comtrade_api_small.csv", read_comtrade, "comtrade.csv"),
    (CODES, baci.read_baci_country_codes, "country_codes.csv"),
    (DATA / "baci" / "BACI_HS92_Y2022_V202401b_small.csv", _baci_flows, "BACI_HS92_V202401b.csv"),
]
IDS = [a[2] for a in ADAPTERS]


def _copy(tmp_path: Path, source: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("source", "reader", "name"), ADAPTERS, ids=IDS)
def test_each_adapter_reads_its_fixture(source: Path, reader, name: str, tmp_path: Path) -> None:
    reader(_copy(tmp_path, source, name, source.read_bytes()))


@pytest.mark.parametrize(("source", "reader", "name"), ADAPTERS, ids=IDS)
def test_a_file_cut_mid_record_is_rejected(source: Path, reader, name: str, tmp_path: Path):
    data = source.read_bytes().rstrip(b"\r\n")
    last_line = data.rsplit(b"\n", 1)[-1]
    cut = data[: len(data) - len(last_line) // 2]  # half the last record, no line break
    path = _copy(tmp_path, source, name, cut)
    with pytest.raises(DataError) as info:
        reader(path)
    message = str(info.value)
    assert str(path) in message or path.name in message
    assert "cut" in message


@pytest.mark.parametrize(("source", "reader", "name"), ADAPTERS, ids=IDS)
def test_a_header_only_file_is_rejected(source: Path, reader, name: str, tmp_path: Path):
    header = source.read_bytes().split(b"\n", 1)[0] + b"\n"
    path = _copy(tmp_path, source, name, header)
    with pytest.raises(DataError, match="header only|no data rows"):
        reader(path)


@pytest.mark.parametrize(("source", "reader", "name"), ADAPTERS, ids=IDS)
def test_an_empty_file_is_rejected(source: Path, reader, name: str, tmp_path: Path):
    with pytest.raises(DataError, match="empty"):
        reader(_copy(tmp_path, source, name, b""))


@pytest.mark.parametrize(("source", "reader", "name"), ADAPTERS, ids=IDS)
def test_a_utf16_file_is_rejected(source: Path, reader, name: str, tmp_path: Path):
    text = source.read_bytes().decode("utf-8-sig")
    path = _copy(tmp_path, source, name, text.encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16"):
        reader(path)


def test_a_row_with_fewer_cells_is_named_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(DataError) as info:
        check_csv_complete(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (3, "c")
    assert "2 of the header's 3 cells" in problem.reason


def test_a_file_ending_inside_a_quoted_cell_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"two\n3,thr')
    with pytest.raises(DataError, match="quoted cell"):
        check_csv_complete(path)


def test_a_complete_file_without_final_line_break_passes_when_quoted(tmp_path: Path) -> None:
    quoted = tmp_path / "q.csv"
    quoted.write_text('a,b\n1,"x"')
    check_csv_complete(quoted)
    bare = tmp_path / "b.csv"
    bare.write_text("a,b\n1,23")
    with pytest.raises(DataError, match="line break") as info:
        check_csv_complete(bare)
    assert info.value.problems[0].row == 2


def test_semicolon_separated_file_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "wgi_2024update_long.csv"
    text = (DATA / "wgi" / "wgi_long_small.csv").read_text().replace(",", ";")
    path.write_text(text)
    with pytest.raises(DataError, match="semicolon-separated"):
        read_text_csv(path, required=("countryname",))


def test_large_file_tail_check_names_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "BACI_HS92_Y2022_V202401b.csv"
    rows = "".join(f"2022,4,156,26030{i % 10},{i}.5,1.0\n" for i in range(20_000))
    path.write_text("t,i,j,k,v,q\n" + rows + "2022,4,842,2603")
    with pytest.raises(DataError) as info:
        check_csv_tail(path)
    (problem,) = info.value.problems
    assert problem.row == 20_002
    assert problem.column == "v"


# -- years in file names ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("BACI_HS92_Y2022_V202401b.csv", 2022, 2022),
        ("baci_hs92_v202401b_raw_materials_1995_2024.parquet", 1995, 2024),
        ("wmd_production_by_country_2018_2024_long.csv", 2018, 2024),
        ("wmd_share_of_world_production_2021_long.csv", 2021, 2021),
        ("uranium_production_2011_2020_tU.csv", 2011, 2020),
        ("MCS2025_World_Data.csv", None, 2025),
        ("mcs2024-lithi_world.csv", None, 2024),
        ("bp_statreview_2021_energy_minerals_1990plus.csv", 1990, 2021),
        ("wgi_2024update_long.csv", None, 2024),
        ("IdealpointestimatesAll_Jun2024.csv", None, 2024),
    ],
)
def test_name_years_rules(name: str, first: int | None, last: int | None) -> None:
    rule = name_years(name)
    assert rule is not None
    assert (rule.first, rule.last) == (first, last)


def test_names_without_years_carry_no_rule() -> None:
    assert name_years("country_codes_V202401b.csv") is None
    assert name_years("CM_Data_Explorer_May2024.xlsx") is None


def test_baci_year_contradicting_the_file_name(tmp_path: Path) -> None:
    source = DATA / "baci" / "BACI_HS92_Y2022_V202401b_small.csv"
    path = tmp_path / source.name
    path.write_text(source.read_text().replace("\n2022,", "\n2031,", 1))
    with pytest.raises(DataError) as info:
        _baci_flows(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "t", 2031)
    assert "Y2022" in problem.reason


def test_baci_header_only_parquet_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "baci_hs92_v202401b_x_1995_2024.parquet"
    pl.DataFrame(schema={c: pl.String for c in "tijkvq"}).write_parquet(path)
    with pytest.raises(DataError, match="no data rows"):
        _baci_flows(path)


def test_wgi_year_after_the_edition(tmp_path: Path) -> None:
    path = tmp_path / "wgi_2024update_long.csv"
    path.write_text((DATA / "wgi" / "wgi_long_small.csv").read_text().replace(",2023,", ",2031,"))
    with pytest.raises(DataError) as info:
        wgi.read_wgi(path)
    assert info.value.problems[0].column == "year"
    assert info.value.problems[0].value == 2031
    assert "no year after 2024" in str(info.value)


def test_wmd_shares_column_year_contradicting_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "wmd_share_of_world_production_2021_long.csv"
    path.write_bytes((DATA / "wmd" / "wmd_shares_small_2022.csv").read_bytes())
    with pytest.raises(DataError) as info:
        wmd.read_wmd_shares(path)
    assert info.value.problems[0].column == "production_2022"
    assert "every year must be 2021" in str(info.value)


def test_usgs_year_after_the_edition(tmp_path: Path) -> None:
    path = tmp_path / "MCS2023_World_Data.csv"
    path.write_bytes((DATA / "usgs" / "mcs2025" / "MCS2025_World_Data_small.csv").read_bytes())
    with pytest.raises(DataError) as info:
        usgs.read_usgs_world(path)
    assert "no year after 2023" in str(info.value)
    assert {p.value for p in info.value.problems} == {2024}


def test_wna_year_outside_the_span(tmp_path: Path) -> None:
    path = tmp_path / "uranium_production_2011_2018_tU.csv"
    path.write_bytes((DATA / "wna" / "wna_uranium_small.csv").read_bytes())
    with pytest.raises(DataError, match="years 2011-2018"):
        wna.read_wna_uranium(path)


def test_comtrade_year_outside_the_span_of_its_name(tmp_path: Path) -> None:
    path = tmp_path / "cobalt_exports_2010_2015.csv"
    path.write_bytes((DATA / "comtrade" / "comtrade_api_small.csv").read_bytes())
    with pytest.raises(DataError) as info:
        read_comtrade(path)
    assert info.value.problems[0].column == "refYear"
    assert "years 2010-2015" in str(info.value)


@pytest.mark.parametrize("size", [0, 2_000])
def test_iea_workbook_cut_short(tmp_path: Path, size: int) -> None:
    whole = tmp_path / "whole.xlsx"
    with zipfile.ZipFile(whole, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook>" + "x" * 10_000 + "</workbook>")
    path = tmp_path / "CM_Data_Explorer_May2024.xlsx"
    path.write_bytes(whole.read_bytes()[:size])
    with pytest.raises(DataError) as info:
        iea.read_iea_critical_minerals(path)
    assert str(path) in str(info.value)
    assert "cut short" in str(info.value)
