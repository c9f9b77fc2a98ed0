from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from resilience.errors import DataError
from resilience.ingest.iea import (
    OBSERVED_SOURCE,
    PROJECTION_SOURCE,
    SHEET,
    read_iea_critical_minerals,
)
from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.paths import datasets_dir

CSV = Path(__file__).resolve().parents[1] / "data" / "iea" / "iea_supply_small.csv"

# The cobalt blocks of sheet "2 Total supply for key minerals" in the real layout (sheet
# rows 1-17; values exactly as stored in the workbook): left block A-E (mining), right
# block G-K (refining), an empty row inside the mining block, the cobalt refining total
# labelled "Total clean technologies", top-3 shares, and notes below.
Y = ["2023", "2030", "2035", "2040"]
GRID: list[list[str | None]] = [
    [],
    ["Total supply for key energy transition minerals, base case (kt)"],
    [],
    [None, *Y, None, None, *Y],
    [],
    ["Cobalt - Mining", None, None, None, None, None, "Cobalt - Refining"],
    [
        "Democratic Republic of Congo",
        *["157", "215", "170.7", "134.69999999999999"],
        None,
        "China",
        *["171.7", "230.8", "228.4", "228.4"],
    ],
    [
        "Indonesia",
        *["19.600000000000001", "49.7", "50.2", "46.8"],
        None,
        "Finland",
        *["18.8", "19.899999999999999", "19.7", "19.7"],
    ],
    [
        "Russia",
        *["7.7", "8.1999999999999993", "8.1999999999999993", "8.1999999999999993"],
        None,
        "Japan",
        *["5.6", "12.6", "13", "11.6"],
    ],
    [
        "Australia",
        *["7.6", "6.4", "5.3", "5.0999999999999996"],
        None,
        "Indonesia",
        *["0", "8.9", "8.9", "8.9"],
    ],
    [None, None, None, None, None, None, "Canada", "6.9", "8.1999999999999993", "3.5", "3.5"],
    [
        "Rest of world",
        *["47.900000000000034", "47.000000000000057", "35.5", "30.100000000000023"],
        None,
        "Rest of world",
        *["20.800000000000011", "32.5", "33.100000000000023", "32.600000000000023"],
    ],
    [
        "Total",
        *["239.8", "326.3", "269.89999999999998", "224.9"],
        None,
        "Total clean technologies",
        *["223.8", "312.89999999999998", "306.60000000000002", "304.7"],
    ],
    [
        "Top 3 share",
        *["0.76855713094245193", "0.83634692001225852", "0.84883290107447196", "0.843485993775011"],
        None,
        "Top 3 share",
        *["0.88203753351206438", "0.8414829018855865", "0.85159817351598177", "0.8523137512307187"],
    ],
    [],
    ["Notes: Supply projections for the key energy transition minerals are built ..."],
    ["\u201cBase case\u201d is assessed through their project pipeline ..."],
]


def _col(index: int) -> str:
    return "ABCDEFGHIJKLMNOP"[index]


def write_xlsx(path: Path, grid: list[list[str | None]], sheet: str = SHEET) -> Path:
    """A minimal xlsx: numbers as numeric cells, other text as inline strings."""
    rows = []
    for r, cells in enumerate(grid, start=1):
        xml = []
        for c, value in enumerate(cells):
            if value is None:
                continue
            ref = f"{_col(c)}{r}"
            try:
                float(value)
            except ValueError:
                xml.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
            else:
                xml.append(f'<c r="{ref}"><v>{value}</v></c>')
        if xml:
            rows.append(f'<row r="{r}">{"".join(xml)}</row>')
    ns = "http://schemas.openxmlformats.org"
    files = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships '
            f'xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{ns}/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook '
            f'xmlns="{ns}/spreadsheetml/2006/main" '
            f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets>'
            f'<sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships '
            f'xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{ns}/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet '
            f'xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{"".join(rows)}</sheetData>'
            "</worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def _grid_with(edits: dict[tuple[int, int], str | None]) -> list[list[str | None]]:
    """GRID with (sheet row, 0-based column) cells replaced."""
    grid = [list(r) for r in GRID]
    for (row, col), value in edits.items():
        cells = grid[row - 1]
        cells.extend([None] * (col + 1 - len(cells)))
        cells[col] = value
    return grid


@pytest.fixture
def xlsx(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "cm_small.xlsx", GRID)


def _value(frame: pl.DataFrame, stage: str, iso3: str, year: int = 2023) -> float:
    hit = frame.filter(
        pl.col("source_stage") == stage, pl.col("country_iso3") == iso3, pl.col("year") == year
    )
    assert hit.height == 1, hit
    return float(hit["quantity"][0])


def test_workbook_reads_observed_year(xlsx: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        frame = read_iea_critical_minerals(xlsx)
    assert set(frame["year"]) == {2023}
    assert set(frame["source"]) == {OBSERVED_SOURCE}
    assert set(frame["unit"]) == {"kt"}
    assert frame.height == 13  # 4 + ROW + WLD mining; 5 + ROW + WLD refining
    assert _value(frame, "Refining", "CHN") == 171.7
    assert _value(frame, "Refining", "WLD") == 223.8  # "Total clean technologies"
    assert _value(frame, "Mining", "COD") == 157.0
    assert _value(frame, "Mining", "ROW") == pytest.approx(47.9)
    assert "Top 3 share" not in frame["country_name"].to_list()
    assert "Top 3 share" in caplog.text  # dropped explicitly
    assert "Total clean technologies" in caplog.text
    # Sheet rows: China on row 7, Canada on row 11 (below the empty mining row).
    rows = dict(zip(frame["country_name"], frame["source_row"], strict=False))
    assert rows["China"] == 7
    assert rows["Canada"] == 11
    assert _value(frame, "Refining", "IDN") == 0.0


def test_workbook_with_projections(xlsx: Path) -> None:
    frame = read_iea_critical_minerals(xlsx, include_projections=True)
    assert frame.height == 52
    projected = frame.filter(pl.col("year") > 2023)
    assert set(projected["source"]) == {PROJECTION_SOURCE}
    assert set(frame.filter(pl.col("year") == 2023)["source"]) == {OBSERVED_SOURCE}
    assert _value(frame, "Refining", "CHN", 2030) == 230.8
    assert _value(frame, "Mining", "WLD", 2040) == 224.9


@pytest.mark.parametrize("projections", [False, True])
def test_workbook_and_csv_give_identical_frames(xlsx: Path, projections: bool) -> None:
    a = read_iea_critical_minerals(xlsx, include_projections=projections)
    b = read_iea_critical_minerals(CSV, include_projections=projections)
    assert_frame_equal(a.drop("source_row"), b.drop("source_row"))


def test_csv_rows_are_file_lines() -> None:
    frame = read_iea_critical_minerals(CSV)
    china = frame.filter(pl.col("country_iso3") == "CHN")
    assert china["source_row"].to_list() == [6]


def test_map_converts_kt_to_t() -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    mapped = map_production(
        read_iea_critical_minerals(CSV), load_commodity_map("iea"), commodities, file=CSV.name
    )
    china = mapped.filter(pl.col("commodity") == "cobalt", pl.col("country_iso3") == "CHN")
    assert china["stage"].to_list() == ["refining"]
    assert china["quantity"].to_list() == [pytest.approx(171_700.0)]


# -- bad input: workbook -------------------------------------------------------------------
def test_workbook_unknown_country(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cm_bad.xlsx", _grid_with({(9, 6): "Japon"}))
    with pytest.raises(DataError) as exc:
        read_iea_critical_minerals(path)
    msg = str(exc.value)
    assert "cm_bad.xlsx, row 9, column 'G'" in msg  # the refining block's label column
    assert "'Japon'" in msg


def test_workbook_unparseable_number(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cm_bad.xlsx", _grid_with({(8, 7): "18.8 kt"}))
    with pytest.raises(DataError, match=r"cm_bad.xlsx, row 8, column 'H'.*'18.8 kt'"):
        read_iea_critical_minerals(path)


def test_workbook_negative_quantity(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cm_bad.xlsx", _grid_with({(10, 2): "-6.4"}))
    with pytest.raises(DataError, match=r"cm_bad.xlsx, row 10, column 'C'.*-6\.4"):
        read_iea_critical_minerals(path, include_projections=True)


def test_workbook_duplicate_country(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cm_bad.xlsx", _grid_with({(9, 6): "Finland"}))
    with pytest.raises(DataError) as exc:
        read_iea_critical_minerals(path)
    msg = str(exc.value)
    assert "cm_bad.xlsx, row 9, column 'G'" in msg
    assert "first on row 8" in msg
    assert "'Finland'" in msg


def test_workbook_missing_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cm_bad.xlsx", GRID, sheet="Sheet1")
    with pytest.raises(DataError, match=r"cm_bad.xlsx, column 'sheet'.*not found"):
        read_iea_critical_minerals(path)


def test_workbook_without_year_header(tmp_path: Path) -> None:
    grid = _grid_with({(4, c): None for c in range(11)})
    path = write_xlsx(tmp_path / "cm_bad.xlsx", grid)
    with pytest.raises(DataError, match=r"cm_bad.xlsx.*no header row of years"):
        read_iea_critical_minerals(path)


def test_workbook_value_without_country(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cm_bad.xlsx", _grid_with({(11, 1): "1.0"}))
    with pytest.raises(DataError, match=r"row 11, column 'B'.*without a country"):
        read_iea_critical_minerals(path)


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "cm_bad.xlsx"
    path.write_text("not a zip", encoding="utf-8")
    with pytest.raises(DataError, match=r"cm_bad.xlsx.*not a readable workbook"):
        read_iea_critical_minerals(path)


def test_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "cm.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match=r"cm.json.*unrecognised file format"):
        read_iea_critical_minerals(path)


# -- bad input: long CSV -------------------------------------------------------------------
def _csv_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = CSV.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "iea_bad.csv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_csv_unknown_country(tmp_path: Path) -> None:
    path = _csv_variant(
        tmp_path, "Cobalt,Refining,Finland,country,2023", "Cobalt,Refining,Finnland,country,2023"
    )
    with pytest.raises(DataError, match=r"iea_bad.csv, row 14, column 'country'.*'Finnland'"):
        read_iea_critical_minerals(path)


def test_csv_unparseable_number(tmp_path: Path) -> None:
    path = _csv_variant(tmp_path, "2023,base case,171.7,kt", "2023,base case,171,7,kt")
    with pytest.raises(DataError):
        read_iea_critical_minerals(path)
    path = _csv_variant(tmp_path, "2023,base case,171.7,kt", "2023,base case,n/a?,kt")
    with pytest.raises(DataError, match=r"iea_bad.csv, row 6, column 'value'.*'n/a\?'"):
        read_iea_critical_minerals(path)


def test_csv_negative_quantity(tmp_path: Path) -> None:
    path = _csv_variant(tmp_path, "2023,base case,171.7,kt", "2023,base case,-171.7,kt")
    with pytest.raises(DataError, match=r"iea_bad.csv, row 6, column 'value'.*-171\.7"):
        read_iea_critical_minerals(path)


def test_csv_missing_column(tmp_path: Path) -> None:
    path = _csv_variant(tmp_path, "row_type,year", "kind,year")
    with pytest.raises(DataError, match=r"iea_bad.csv, column 'row_type': required column"):
        read_iea_critical_minerals(path)


def test_csv_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "iea_bad.csv"
    path.write_text(
        CSV.read_text(encoding="utf-8") + "Cobalt,Refining,China,country,2023,base case,1,kt\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"iea_bad.csv, row 62, .*duplicate key \(first on row 6\)"):
        read_iea_critical_minerals(path)


def test_csv_row_type_contradicts_name(tmp_path: Path) -> None:
    path = _csv_variant(
        tmp_path, "Cobalt,Refining,China,country,2023", "Cobalt,Refining,China,total,2023"
    )
    with pytest.raises(DataError, match=r"iea_bad.csv, row 6, column 'row_type'.*'total'"):
        read_iea_critical_minerals(path)


def test_csv_other_scenario(tmp_path: Path) -> None:
    path = _csv_variant(tmp_path, "2023,base case,171.7", "2023,high case,171.7")
    with pytest.raises(DataError, match=r"iea_bad.csv, row 6, column 'scenario'.*'high case'"):
        read_iea_critical_minerals(path)
