from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.mapping import load_commodity_map, map_production
from resilience.ingest.wmd import (
    PRODUCTION_SOURCE,
    SHARES_SOURCE,
    read_wmd_production,
    read_wmd_published_hhi,
    read_wmd_recycling,
    read_wmd_shares,
)
from resilience.paths import datasets_dir

DATA = Path(__file__).resolve().parents[1] / "data" / "wmd"
PRODUCTION = DATA / "wmd_production_small.csv"
SHARES = DATA / "wmd_shares_small_2022.csv"
RECYCLING = DATA / "wmd_eol_rir_small.csv"


def _variant(tmp_path: Path, source: Path, name: str, edit: dict[int, str | None]) -> Path:
    """Copy ``source`` with 1-based lines replaced (str) or removed (None)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        new = edit.get(number, line)
        if new is not None:
            out.append(new)
    path = tmp_path / name
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _append(tmp_path: Path, source: Path, name: str, line: str) -> Path:
    path = tmp_path / name
    path.write_text(source.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    return path


def _row(frame: pl.DataFrame, commodity: str, iso3: str) -> dict[str, object]:
    hit = frame.filter(pl.col("source_commodity") == commodity, pl.col("country_iso3") == iso3)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


# -- production ----------------------------------------------------------------------------
def test_production_reads_fixture(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        frame = read_wmd_production(PRODUCTION)
    assert frame.height == 15
    assert frame["source_row"].to_list() == list(range(2, 17))
    assert set(frame["source"]) == {PRODUCTION_SOURCE}
    assert set(frame["source_stage"]) == {"production"}
    assert frame.schema["year"] == pl.Int32

    drc = _row(frame, "Cobalt", "COD")
    assert drc["quantity"] == 115371.0
    assert drc["country_name"] == "Congo, D.R."
    assert drc["is_estimated"] is False
    china = _row(frame, "Cobalt", "CHN")
    assert china["is_estimated"] is True  # flag 'e'
    total = _row(frame, "Cobalt", "WLD")
    assert total["quantity"] == 166030.0
    assert total["is_estimated"] is False  # flag 'nan'
    # Non-ISO codes: resolved from the name.
    assert _row(frame, "Cobalt", "TWN")["quantity"] is None  # empty cell -> null, not 0
    kosovo = _row(frame, "Lithium (Li2O)", "XKX")
    assert kosovo["quantity"] == 0.0
    assert kosovo["is_estimated"] is False  # flag 'p' is provisional, not estimated
    assert _row(frame, "Lithium (Li2O)", "CHL")["quantity"] == 83950.0  # "83,950.0"
    palladium = _row(frame, "Palladium", "RUS")  # "Russia " with a trailing space
    assert (palladium["unit"], palladium["quantity"]) == ("kg", 88000.0)
    assert _row(frame, "Natural Gas", "TUR")["unit"] == "Mio m3"
    # The upstream French Guiana -> GUY slip is corrected, explicitly and loudly.
    assert _row(frame, "Gold", "GUF")["quantity"] == 916.0
    assert _row(frame, "Gold", "GUY")["quantity"] == 15129.0
    assert "French Guiana" in caplog.text
    assert "GUF" in caplog.text


def test_production_without_errata_reports_the_iso_clash(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        read_wmd_production(PRODUCTION, iso_errata={})
    msg = str(exc.value)
    assert "wmd_production_small.csv, row 12, column 'Country_ISO'" in msg
    assert "'GUY'" in msg
    assert "French Guiana" in msg


def test_production_iso_disagreeing_with_name(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, PRODUCTION, "wmd_iso.csv", {3: "Cobalt,China,156,CAN,2022,1750.0,metr. t,e"}
    )
    with pytest.raises(DataError) as exc:
        read_wmd_production(path)
    msg = str(exc.value)
    assert "wmd_iso.csv, row 3, column 'Country_ISO'" in msg
    assert "'CAN'" in msg
    assert "CHN" in msg


def test_production_unknown_country(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, PRODUCTION, "wmd_bad.csv", {4: "Cobalt,Atlantis,999,ATL,2022,5.0,metr. t,r"}
    )
    with pytest.raises(DataError) as exc:
        read_wmd_production(path)
    msg = str(exc.value)
    assert "wmd_bad.csv, row 4, column 'Country'" in msg
    assert "'Atlantis'" in msg


def test_production_unparseable_number(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        PRODUCTION,
        "wmd_bad.csv",
        {7: "Lithium (Li2O),Chile,152,CHL,2022,83x950,metr. t,e"},
    )
    with pytest.raises(DataError) as exc:
        read_wmd_production(path)
    msg = str(exc.value)
    assert "wmd_bad.csv, row 7, column 'production'" in msg
    assert "'83x950'" in msg


def test_production_unparseable_year(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, PRODUCTION, "wmd_bad.csv", {2: "Cobalt,Australia,36,AUS,20x2,5793.0,metr. t,r"}
    )
    with pytest.raises(DataError, match=r"wmd_bad.csv, row 2, column 'year'.*'20x2'"):
        read_wmd_production(path)


def test_production_unknown_flag(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, PRODUCTION, "wmd_bad.csv", {2: "Cobalt,Australia,36,AUS,2022,5793.0,metr. t,x"}
    )
    with pytest.raises(DataError, match=r"wmd_bad.csv, row 2, column 'data_source'.*'x'"):
        read_wmd_production(path)


def test_production_missing_column(tmp_path: Path) -> None:
    text = PRODUCTION.read_text(encoding="utf-8").replace("production,unit", "prod,unit", 1)
    path = tmp_path / "wmd_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_wmd_production(path)
    msg = str(exc.value)
    assert "wmd_bad.csv, column 'production'" in msg
    assert "required column is missing" in msg


def test_production_duplicate_key(tmp_path: Path) -> None:
    path = _append(tmp_path, PRODUCTION, "wmd_bad.csv", "Cobalt,China,156,CHN,2022,99.0,metr. t,r")
    with pytest.raises(DataError) as exc:
        read_wmd_production(path)
    msg = str(exc.value)
    assert "wmd_bad.csv, row 17, column 'commodity, year, Country'" in msg
    assert "duplicate key (first on row 3)" in msg
    assert "'China'" in msg


def test_production_negative_quantity(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        PRODUCTION,
        "wmd_bad.csv",
        {14: "Natural Gas,Türkiye,792,TUR,2022,-361.0,Mio m3,e"},
    )
    with pytest.raises(DataError) as exc:
        read_wmd_production(path)
    msg = str(exc.value)
    assert "wmd_bad.csv, row 14, column 'production'" in msg
    assert "-361.0" in msg


def test_production_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "wmd_bad.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="wmd_bad.csv"):
        read_wmd_production(path)


# -- shares and published HHI --------------------------------------------------------------
def test_shares_read_fixture() -> None:
    frame = read_wmd_shares(SHARES)
    assert frame.height == 9
    assert set(frame["year"]) == {2022}
    assert set(frame["source"]) == {SHARES_SOURCE}
    assert set(frame["vintage"]) == {"WMD 2024"}
    assert _row(frame, "Gallium", "CHN")["quantity"] == 606.0
    assert _row(frame, "Gallium", "WLD")["quantity"] == 616.0
    talc = "Talc, Steatite & Pyrophyllite"  # a sheet name with commas
    assert _row(frame, talc, "COD")["country_name"] == "Democratic Republic of the Congo"
    assert _row(frame, talc, "TUR")["quantity"] == 500000.0  # "Turkey " trailing space


def test_published_hhi() -> None:
    hhi = read_wmd_published_hhi(SHARES)
    assert hhi.columns == [
        "year",
        "source_commodity",
        "hhi_published",
        "source",
        "vintage",
        "source_row",
    ]
    values = dict(zip(hhi["source_commodity"], hhi["hhi_published"], strict=True))
    assert values["Gallium"] == pytest.approx(9678.9614606173036)
    assert values["Talc, Steatite & Pyrophyllite"] == pytest.approx(3888.888888888889)
    assert hhi["source_row"].to_list() == [6, 10]
    # The published HHI is Σ share² of the country rows (here, of our quantities).
    shares = read_wmd_shares(SHARES)
    world = shares.filter(pl.col("country_iso3") == "WLD").select(
        "source_commodity", pl.col("quantity").alias("world")
    )
    recomputed = (
        shares.filter(pl.col("country_iso3") != "WLD")
        .join(world, on="source_commodity")
        .group_by("source_commodity")
        .agg(((pl.col("quantity") / pl.col("world") * 100) ** 2).sum().alias("hhi"))
    )
    for commodity, value in recomputed.iter_rows():
        assert value == pytest.approx(values[commodity], abs=1e-6)


def test_shares_need_exactly_one_production_year_column(tmp_path: Path) -> None:
    text = SHARES.read_text(encoding="utf-8").replace("production_2022", "production", 1)
    path = tmp_path / "wmd_shares_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"wmd_shares_bad.csv, column 'production_<YEAR>'"):
        read_wmd_shares(path)


def test_shares_unknown_country(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        SHARES,
        "wmd_shares_bad.csv",
        {3: "Gallium,2,(  2),Narnia,metr. t,5,0.81,99.19,0.66"},
    )
    with pytest.raises(DataError, match=r"wmd_shares_bad.csv, row 3, column 'country'.*'Narnia'"):
        read_wmd_shares(path)


def test_shares_unparseable_number(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        SHARES,
        "wmd_shares_bad.csv",
        {4: "Gallium,3,(  3),Japan,metr. t,3 t,0.48,99.67,0.23"},
    )
    with pytest.raises(DataError, match=r"row 4, column 'production_2022'.*'3 t'"):
        read_wmd_shares(path)


def test_shares_negative_quantity(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        SHARES,
        "wmd_shares_bad.csv",
        {4: "Gallium,3,(  3),Japan,metr. t,-3,0.48,99.67,0.23"},
    )
    with pytest.raises(DataError, match=r"row 4, column 'production_2022'.*-3\.0"):
        read_wmd_shares(path)


def test_shares_duplicate_country(tmp_path: Path) -> None:
    path = _append(
        tmp_path, SHARES, "wmd_shares_bad.csv", "Gallium,5,(  5),Japan,metr. t,1,0.1,100,0.01"
    )
    with pytest.raises(DataError) as exc:
        read_wmd_shares(path)
    msg = str(exc.value)
    assert "wmd_shares_bad.csv, row 11, column 'commodity, country'" in msg
    assert "first on row 4" in msg


def test_published_hhi_requires_a_total_row(tmp_path: Path) -> None:
    path = _variant(tmp_path, SHARES, "wmd_shares_bad.csv", {6: None})
    with pytest.raises(DataError, match=r"row 2, column 'country'.*no 'Total' row.*'Gallium'"):
        read_wmd_published_hhi(path)


def test_published_hhi_out_of_range(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, SHARES, "wmd_shares_bad.csv", {6: "Gallium,,,Total,metr. t,616,100,,12000"}
    )
    with pytest.raises(DataError, match=r"row 6, column 'hhi_contribution'.*outside.*'12000'"):
        read_wmd_published_hhi(path)


# -- recycling ------------------------------------------------------------------------------
def test_recycling_reads_fixture() -> None:
    frame = read_wmd_recycling(RECYCLING)
    assert frame.columns == [
        "source_commodity",
        "wmd_stage",
        "eol_rir_frac",
        "reference_url",
        "hs_codes",
        "source",
        "vintage",
        "source_row",
    ]
    rows = {r["source_commodity"]: r for r in frame.iter_rows(named=True)}
    assert rows["Cobalt"]["eol_rir_frac"] == 0.22
    assert rows["Cobalt"]["hs_codes"] == "282200;810510"  # HS Code, then complementary
    assert rows["Cobalt"]["wmd_stage"] == "Processing"
    assert rows["Platinum"]["hs_codes"] == "711011;711019;711510"
    assert rows["Lead"]["eol_rir_frac"] == 0.83
    assert rows["Natural Gas"]["reference_url"] is None  # "Not Available"
    assert rows["Diamonds (Gem)"]["wmd_stage"] is None
    assert rows["Diamonds (Gem)"]["hs_codes"] is None
    assert rows["Diamonds (Gem)"]["eol_rir_frac"] == 0.0  # kept as written
    assert rows["Rhenium"]["eol_rir_frac"] is None  # "Not Available"
    assert rows["Rhenium"]["source_row"] == 7


def test_recycling_rows_are_lines_even_with_a_multiline_cell(tmp_path: Path) -> None:
    text = RECYCLING.read_text(encoding="utf-8").replace(
        "Lead ores and concentrates", '"Lead ores\nand concentrates"', 1
    )
    path = tmp_path / "eol_multiline.csv"
    path.write_text(text, encoding="utf-8")
    frame = read_wmd_recycling(path)
    rows = dict(zip(frame["source_commodity"], frame["source_row"], strict=True))
    assert rows["Lead"] == 4
    assert rows["Natural Gas"] == 6  # one line further down
    assert rows["Rhenium"] == 8


def test_recycling_rate_out_of_range(tmp_path: Path) -> None:
    text = RECYCLING.read_text(encoding="utf-8").replace(",0.83,", ",83,", 1)
    path = tmp_path / "eol_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"eol_bad.csv, row 4, column 'EoL-RIR \(2023\)'.*83\.0"):
        read_wmd_recycling(path)


def test_recycling_rate_not_a_number(tmp_path: Path) -> None:
    text = RECYCLING.read_text(encoding="utf-8").replace(",0.83,", ",83%,", 1)
    path = tmp_path / "eol_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"eol_bad.csv, row 4, column 'EoL-RIR \(2023\)'.*'83%'"):
        read_wmd_recycling(path)


def test_recycling_bad_hs_code(tmp_path: Path) -> None:
    text = RECYCLING.read_text(encoding="utf-8").replace(",260700,", ",2607,", 1)
    path = tmp_path / "eol_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"eol_bad.csv, row 4, column 'HS Code'.*'2607'"):
        read_wmd_recycling(path)


def test_recycling_unknown_stage(tmp_path: Path) -> None:
    text = RECYCLING.read_text(encoding="utf-8").replace(",Extraction,Pb,", ",Mining,Pb,", 1)
    path = tmp_path / "eol_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError, match=r"eol_bad.csv, row 4, column 'Supply Chain Stage': unknown stage.*'Mining'"
    ):
        read_wmd_recycling(path)


def test_recycling_reference_not_a_url(tmp_path: Path) -> None:
    text = RECYCLING.read_text(encoding="utf-8").replace(
        "https://scrreen.eu/wp-content/uploads/2023/08/SCRREEN2-factsheets_LEAD.pdf", "see web", 1
    )
    path = tmp_path / "eol_bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"eol_bad.csv, row 4, column 'Reference'.*'see web'"):
        read_wmd_recycling(path)


def test_recycling_duplicate_sheet(tmp_path: Path) -> None:
    line = RECYCLING.read_text(encoding="utf-8").splitlines()[3]
    path = _append(tmp_path, RECYCLING, "eol_bad.csv", line)
    with pytest.raises(DataError, match=r"eol_bad.csv, row 8, column 'Sheet_name'.*duplicate"):
        read_wmd_recycling(path)


# -- the commodity map ----------------------------------------------------------------------
def test_map_covers_fixture_and_converts_units_and_bases() -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    frame = read_wmd_production(PRODUCTION)
    mapped = map_production(frame, load_commodity_map("wmd"), commodities, file=PRODUCTION.name)
    rows = {(r["commodity"], r["country_iso3"]): r for r in mapped.iter_rows(named=True)}
    assert rows[("lithium", "CHL")]["quantity"] == pytest.approx(83950 * 0.46458)
    assert rows[("palladium", "RUS")]["quantity"] == pytest.approx(88.0)  # kg -> t
    assert rows[("natural_gas", "TUR")]["unit"] == "million m3"
    assert ("gold", "GUF") not in rows  # out of scope
    coal = mapped.filter(pl.col("commodity") == "coal", pl.col("country_iso3") == "DEU")
    assert coal.height == 1  # steam coal + lignite, summed onto one key
    assert coal["quantity"][0] == pytest.approx(4000.0 + 102000000.0)


def test_map_rows_point_at_known_commodities() -> None:
    commodities = pl.read_csv(datasets_dir() / "commodities.csv")
    known = set(commodities.select("commodity", "stage").iter_rows())
    wmd_map = load_commodity_map("wmd")
    assert wmd_map.height == 65
    assert wmd_map["source_commodity"].n_unique() == 65
    assert wmd_map["basis_factor"].null_count() == 0
    for commodity, stage in wmd_map.select("commodity", "stage").drop_nulls().iter_rows():
        assert (commodity, stage) in known
    factors = dict(zip(wmd_map["source_commodity"], wmd_map["basis_factor"], strict=True))
    assert factors["Lithium (Li2O)"] == pytest.approx(2 * 6.941 / (2 * 6.941 + 15.999), abs=1e-5)
    assert factors["Niobium (Nb2O5)"] == pytest.approx(2 * 92.906 / 265.807, abs=1e-5)
    assert factors["Tantalum (Ta2O5)"] == pytest.approx(2 * 180.948 / 441.891, abs=1e-5)
    assert factors["Uranium (U3O8)"] == 1.0
    assert factors["Rare Earths (REO)"] == 1.0
