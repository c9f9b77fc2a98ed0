"""China's monthly exports reader and table: fixture files in the real format."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.build.monthly import (
    build_china_exports_monthly,
    load_china_monthly_map,
)
from resilience.errors import DataError
from resilience.ingest.china_monthly import read_china_monthly_exports, read_tariff_lines

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "comtrade_monthly"
FLOWS = FIXTURES / "china_exports_by_partner_hs6_monthly_2023_2023.csv"
LINES = FIXTURES / "hs_map_china_tariff_lines.csv"
HEADER = "period_dt,partner_name,hs6,val,qty,uv\n"


@pytest.fixture(scope="module")
def lines() -> pl.DataFrame:
    return read_tariff_lines(LINES)


def _write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "china_exports_by_partner_hs6_monthly_2023_2023.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def _error(path: Path, lines: pl.DataFrame) -> str:
    with pytest.raises(DataError) as info:
        read_china_monthly_exports(path, lines)
    return str(info.value)


def test_reads_partners_months_and_unreported_weights(lines: pl.DataFrame) -> None:
    flows = read_china_monthly_exports(FLOWS, lines)
    assert flows.height == 7
    assert set(flows["importer_iso3"]) == {"USA", "JPN", "ARE", "DEU", "KOR"}
    uae = flows.filter(pl.col("importer_iso3") == "ARE").row(0, named=True)
    assert (uae["year"], uae["month"], uae["hs6_code"]) == (2023, 7, "250410")
    assert uae["quantity_kg"] == 8000.0
    # weight 0 on a positive value = "not reported": null, never 0
    germany_ga = flows.filter((pl.col("importer_iso3") == "DEU") & (pl.col("month") == 8))
    assert germany_ga["quantity_kg"].to_list() == [None]
    assert germany_ga["value_usd"].to_list() == [87500.0]
    assert set(flows["exporter_iso3"]) == {"CHN"}


def test_table_maps_lines_to_commodities_on_a_content_basis(lines: pl.DataFrame) -> None:
    flows = read_china_monthly_exports(FLOWS, lines)
    table = build_china_exports_monthly(
        flows, load_china_monthly_map(), file=FLOWS, source="s", vintage="v"
    )
    # 811292 serves gallium and germanium: 3 rows of it -> 6; 4 graphite rows stay 4
    assert table.height == 10
    usa_ga = table.filter(
        (pl.col("importer_iso3") == "USA") & (pl.col("commodity") == "gallium")
    ).row(0, named=True)
    assert usa_ga["period"] == "2023-07"
    assert usa_ga["quantity_t"] == pytest.approx(10.0)
    assert usa_ga["content_quantity_t"] == pytest.approx(10.0)
    assert usa_ga["stage"] == "refining"
    synthetic = table.filter(pl.col("hs6_code") == "380110")
    assert synthetic.select("commodity", "stage").row(0) == ("graphite", "refining")
    assert table.filter(pl.col("hs6_code") == "250410")["stage"].unique().to_list() == ["mining"]


@pytest.mark.parametrize(
    ("row", "column", "value", "reason"),
    [
        ("2023-13-01,USA,811292,1.0,1.0,1.0", "period_dt", "2023-13-01", "month outside 1-12"),
        ("2023-00-01,USA,811292,1.0,1.0,1.0", "period_dt", "2023-00-01", "month outside 1-12"),
        ("2023/07,USA,811292,1.0,1.0,1.0", "period_dt", "2023/07", "not a month"),
        ("2023-07-15,USA,811292,1.0,1.0,1.0", "period_dt", "2023-07-15", "not a month"),
        ("2023-07-01,Atlantis,811292,1.0,1.0,1.0", "partner_name", "Atlantis", "unknown country"),
        ("2023-07-01,World,811292,1.0,1.0,1.0", "partner_name", "World", "an aggregate"),
        ("2023-07-01,USA,811291,1.0,1.0,1.0", "hs6", "811291", "no tariff line"),
        ("2023-07-01,USA,811292,1.0,-5.0,1.0", "qty", "-5.0", "negative"),
        ("2023-07-01,USA,811292,-1.0,5.0,1.0", "val", "-1.0", "negative"),
        ("2023-07-01,USA,811292,abc,5.0,1.0", "val", "abc", "not a number"),
        ("2024-07-01,USA,811292,1.0,1.0,1.0", "period_dt", "2024", "file name"),
    ],
)
def test_bad_rows_name_file_row_column_value(
    tmp_path: Path, lines: pl.DataFrame, row: str, column: str, value: str, reason: str
) -> None:
    path = _write(tmp_path, "2023-07-01,Japan,811292,10.0,1.0,10.0", row)
    text = _error(path, lines)
    assert path.name in text
    assert "row 3" in text
    assert repr(column) in text
    assert value in text
    assert reason in text


def test_duplicate_month_partner_line_is_an_error(tmp_path: Path, lines: pl.DataFrame) -> None:
    row = "2023-07-01,USA,811292,1.0,1.0,1.0"
    text = _error(_write(tmp_path, row, row), lines)
    assert "china_exports_by_partner_hs6_monthly_2023_2023.csv" in text


def test_missing_content_factor_is_an_error(tmp_path: Path, lines: pl.DataFrame) -> None:
    flows = read_china_monthly_exports(FLOWS, lines)
    cmap = load_china_monthly_map().filter(pl.col("hs6_code") != "380110")
    with pytest.raises(DataError) as info:
        build_china_exports_monthly(flows, cmap, file=FLOWS, source="s", vintage="v")
    text = str(info.value)
    assert "380110" in text
    assert "row 7" in text
    assert "no content factor" in text


def test_negative_content_factor_is_an_error(tmp_path: Path) -> None:
    text = (
        Path(__file__).resolve().parents[2] / "datasets" / "maps" / "comtrade_china_monthly.csv"
    ).read_text()
    bad = tmp_path / "map.csv"
    bad.write_text(text.replace("380110,graphite,refining,1.0,", "380110,graphite,refining,-1.0,"))
    with pytest.raises(DataError) as info:
        load_china_monthly_map(bad)
    message = str(info.value)
    assert "content_factor" in message
    assert "-1.0" in message
    assert "row 3" in message


def test_tariff_line_that_is_not_eight_digits(tmp_path: Path) -> None:
    path = tmp_path / "hs_map_china_tariff_lines.csv"
    path.write_text("hs6,material,group,notes\n8112921,gallium_unwrought,gallium,x\n")
    with pytest.raises(DataError) as info:
        read_tariff_lines(path)
    assert "row 2" in str(info.value)
    assert "8112921" in str(info.value)


def test_risk_gallium_from_china_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: pl.DataFrame
) -> None:
    """With China's exports table (built from the fixture) gallium is bilateral in `risk`."""
    import shutil

    from resilience.build.monthly import CHINA_EXPORTS_MONTHLY
    from resilience.risk import RiskQuery, risk_table

    repo = Path(__file__).resolve().parents[2]
    copy = tmp_path / "datasets"
    shutil.copytree(
        repo / "datasets", copy, ignore=shutil.ignore_patterns(CHINA_EXPORTS_MONTHLY, "_build")
    )
    monkeypatch.setenv("RESILIENCE_DATASETS", str(copy))
    query = RiskQuery(importer="USA", bloc="G7", year=2023, commodities=["gallium"])
    before = risk_table(query).row(0, named=True)
    assert before["basis"] == "world_market"
    build_china_exports_monthly(
        read_china_monthly_exports(FLOWS, lines),
        load_china_monthly_map(),
        file=FLOWS,
        source="UN Comtrade (fixture)",
        vintage="fixture",
    ).write_parquet(copy / CHINA_EXPORTS_MONTHLY)
    after = risk_table(query).row(0, named=True)
    assert after["basis"] == "bilateral_china_only"  # resilience.build.china_bilateral
    assert "HS 811292" in after["basis_note"]
    assert after["top_supplier_iso3"] == "CHN"
    # the fixture's USD 0.5 m to the US plus the other producers scaled from it
    assert after["import_value_usd"] > 500_000.0
    assert after["top1_value_usd"] == pytest.approx(500_000.0)
    assert after["source"].startswith("UN Comtrade (fixture); other producers")
    assert after["vintage"] == "fixture"


def test_monthly_dependency_fills_months_and_keeps_yearly_shares(lines: pl.DataFrame) -> None:
    from resilience.build.monthly import build_monthly_dependency

    table = build_china_exports_monthly(
        read_china_monthly_exports(FLOWS, lines),
        load_china_monthly_map(),
        file=FLOWS,
        source="s",
        vintage="v",
    )
    yearly = pl.DataFrame(
        {
            "year": [2023],
            "importer_iso3": ["USA"],
            "commodity": ["gallium"],
            "stage": ["refining"],
            "supplier_iso3": ["CHN"],
            "supply_share": [0.75],
        }
    )
    out = build_monthly_dependency(table, yearly)
    usa = out.filter((pl.col("importer_iso3") == "USA") & (pl.col("commodity") == "gallium"))
    assert usa.select("period", "import_quantity_t", "annual_supply_share").rows() == [
        ("2023-07", 10.0, 0.75)
    ]
    # Germany's gallium: one month (August), its weight not reported: null, not 0
    deu_ga = out.filter((pl.col("importer_iso3") == "DEU") & (pl.col("commodity") == "gallium"))
    assert deu_ga["import_quantity_t"].to_list() == [None]
    assert deu_ga["import_value_usd"].to_list() == [87500.0]
    assert set(out["basis"]) == {"bilateral_monthly"}
    assert out["trailing_12m_mean_t"].null_count() == out.height  # under 12 months of history
    assert out.filter(pl.col("importer_iso3") == "DEU")["annual_supply_share"].null_count() == 3
