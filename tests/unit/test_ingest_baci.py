from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.baci import (
    aggregate_baci,
    baci_provenance,
    read_baci,
    read_baci_country_codes,
    read_baci_product_codes,
    scan_baci,
    validate_baci,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "baci"
CODES = DATA / "country_codes_V202401b_small.csv"
PRODUCTS = DATA / "product_codes_HS92_V202401b_small.csv"
FLOWS = DATA / "BACI_HS92_Y2022_V202401b_small.csv"


@pytest.fixture(scope="module")
def codes() -> pl.DataFrame:
    return read_baci_country_codes(CODES)


def _variant(tmp_path: Path, source: Path, edit: dict[int, str | None]) -> Path:
    lines = source.read_text(encoding="utf-8").splitlines()
    out = [edit.get(n, line) for n, line in enumerate(lines, start=1)]
    path = tmp_path / source.name
    path.write_text("\n".join(x for x in out if x is not None) + "\n", encoding="utf-8")
    return path


def _parquet(tmp_path: Path, edit: dict[int, str | None] | None = None) -> Path:
    """The CSV fixture as Parquet in the shipped extract's types (t, i, j int; k, v, q text)."""
    source = _variant(tmp_path, FLOWS, edit or {})
    frame = pl.read_csv(source, infer_schema=False).with_columns(
        pl.col("t", "i", "j").cast(pl.Int32),
        pl.col("k").str.zfill(6),
        pl.col("v", "q").str.strip_chars().replace("NA", None),
    )
    path = tmp_path / "baci_hs92_v202401b_small.parquet"
    frame.write_parquet(path)
    return path


# -- country and product tables -------------------------------------------------------------
def test_country_codes(codes: pl.DataFrame) -> None:
    assert codes.columns == ["baci_code", "country_iso3", "country_kind", "name", "source_row"]
    assert codes.schema["baci_code"] == pl.Int32
    iso = dict(zip(codes["baci_code"].to_list(), codes["country_iso3"].to_list(), strict=True))
    assert iso[842] == "USA"
    assert iso[251] == "FRA"
    assert iso[156] == "CHN"
    assert iso[490] == "TWN"  # "Other Asia, nes", pseudo-ISO3 S19
    assert iso[58] == "BLX"  # BACI says BEL; the historic customs union wins
    assert iso[384] == "CIV"  # blank ISO3, mojibake name
    assert iso[697] is None
    assert iso[711] is None
    kinds = dict(zip(codes["baci_code"].to_list(), codes["country_kind"].to_list(), strict=True))
    assert kinds[697] == kinds[711] == "region"
    assert kinds[490] == "country"
    names = dict(zip(codes["baci_code"].to_list(), codes["name"].to_list(), strict=True))
    assert names[792] == "Türkiye"
    assert names[384] == "Côte d'Ivoire"


def test_country_codes_old_layout(tmp_path: Path) -> None:
    old = tmp_path / "country_codes_V202001.csv"
    old.write_text(
        "country_code,country_name_abbreviation,country_name_full,iso_2digit_alpha,"
        "iso_3digit_alpha\n"
        "842,USA,United States of America,US,USA\n"
        '490,"Other Asia, nes","Other Asia, not elsewhere specified",,\n',
        encoding="utf-8",
    )
    table = read_baci_country_codes(old)
    assert table["country_iso3"].to_list() == ["USA", "TWN"]


def test_country_codes_unknown_name(tmp_path: Path) -> None:
    bad = _variant(tmp_path, CODES, {7: "384,Ivory Coastt,CI,"})
    with pytest.raises(DataError) as err:
        read_baci_country_codes(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "row 7" in msg
    assert "'country_name'" in msg
    assert "'Ivory Coastt'" in msg


def test_country_codes_iso3_disagreeing_with_name(tmp_path: Path) -> None:
    bad = _variant(tmp_path, CODES, {4: "156,China,CN,TWN"})
    with pytest.raises(DataError) as err:
        read_baci_country_codes(bad)
    msg = str(err.value)
    assert "row 4" in msg
    assert "'country_iso3'" in msg
    assert "'TWN'" in msg
    assert "CHN" in msg


def test_country_codes_duplicate_and_bad_code(tmp_path: Path) -> None:
    bad = _variant(tmp_path, CODES, {13: "156,USA,US,USA"})
    with pytest.raises(DataError) as err:
        read_baci_country_codes(bad)
    assert "row 13" in str(err.value)
    assert "duplicate country code" in str(err.value)
    bad = _variant(tmp_path, CODES, {13: "84x,USA,US,USA"})
    with pytest.raises(DataError) as err:
        read_baci_country_codes(bad)
    assert "row 13" in str(err.value)
    assert "'country_code'" in str(err.value)
    assert "'84x'" in str(err.value)


def test_country_codes_missing_column(tmp_path: Path) -> None:
    bad = _variant(tmp_path, CODES, {1: "country_code,country_name,country_iso2,iso3"})
    with pytest.raises(DataError) as err:
        read_baci_country_codes(bad)
    assert str(bad) in str(err.value)
    assert "'country_iso3'" in str(err.value)


def test_product_codes(tmp_path: Path) -> None:
    products = read_baci_product_codes(PRODUCTS)
    assert products["hs6_code"].to_list()[:2] == ["010111", "260300"]
    assert "9999AA" in products["hs6_code"].to_list()
    unpadded = _variant(tmp_path, PRODUCTS, {2: '10111,"Horses"'})
    assert read_baci_product_codes(unpadded)["hs6_code"][0] == "010111"
    bad = _variant(tmp_path, PRODUCTS, {3: "2603.00,Copper ores and concentrates"})
    with pytest.raises(DataError) as err:
        read_baci_product_codes(bad)
    assert "row 3" in str(err.value)
    assert "'code'" in str(err.value)
    assert "'2603.00'" in str(err.value)
    dup = _variant(tmp_path, PRODUCTS, {4: "260300,again"})
    with pytest.raises(DataError) as err:
        read_baci_product_codes(dup)
    assert "row 4" in str(err.value)
    assert "duplicate product code" in str(err.value)


# -- scanning -----------------------------------------------------------------------------
def test_provenance_from_file_names(tmp_path: Path) -> None:
    assert baci_provenance("BACI_HS92_Y2022_V202401b.csv") == (
        "CEPII BACI HS92 V202401b",
        "V202401b",
    )
    assert baci_provenance("baci_hs92_v202401b_raw_materials_1995_2024.parquet") == (
        "CEPII BACI HS92 V202401b",
        "V202401b",
    )
    assert baci_provenance("BACI_HS17_Y2023_V202501.csv")[1] == "V202501"
    with pytest.raises(DataError) as err:
        baci_provenance("flows.csv")
    assert "flows.csv" in str(err.value)
    assert "hs_revision" in str(err.value)
    assert baci_provenance("flows.csv", hs_revision="HS12", release="V202401") == (
        "CEPII BACI HS12 V202401",
        "V202401",
    )


def test_scan_csv(codes: pl.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="resilience.ingest.baci"):
        lf = scan_baci(FLOWS, codes, products=PRODUCTS)
    assert isinstance(lf, pl.LazyFrame)
    assert "1 rows with an aggregate exporter/importer excluded (code 697: 1)" in caplog.text
    assert "2 rows with missing quantity" in caplog.text
    frame = lf.collect(engine="streaming")
    assert frame.columns == [
        "year",
        "exporter_iso3",
        "importer_iso3",
        "hs6_code",
        "value_usd",
        "quantity_t",
        "source",
        "vintage",
        "source_row",
    ]
    assert frame["source_row"].to_list() == [2, 3, 4, 5, 6, 7, 9, 10, 11]
    rows = {r["source_row"]: r for r in frame.iter_rows(named=True)}
    assert rows[4]["exporter_iso3"] == "COD"
    assert rows[4]["importer_iso3"] == "CHN"
    assert rows[4]["hs6_code"] == "282200"
    assert rows[4]["value_usd"] == 4.122 * 1000
    assert rows[4]["quantity_t"] == 0.223
    assert rows[7]["exporter_iso3"] == "TWN"  # 490 "Other Asia, nes"
    assert rows[7]["value_usd"] == 15.2 * 1000
    assert rows[7]["quantity_t"] is None
    assert rows[10]["hs6_code"] == "010111"
    assert rows[10]["quantity_t"] is None
    assert rows[11]["importer_iso3"] == "TUR"
    assert set(frame["source"]) == {"CEPII BACI HS92 V202401b"}
    assert set(frame["vintage"]) == {"V202401b"}


def test_scan_parquet_matches_csv(codes: pl.DataFrame, tmp_path: Path) -> None:
    from_csv = scan_baci(FLOWS, codes).collect(engine="streaming")
    from_parquet = scan_baci(_parquet(tmp_path), codes).collect(engine="streaming")
    cols = ["year", "exporter_iso3", "importer_iso3", "hs6_code", "value_usd", "quantity_t"]
    assert from_parquet.select(cols).equals(from_csv.select(cols))
    # Parquet rows are numbered from 1 (no header line)
    assert from_parquet["source_row"].to_list() == [1, 2, 3, 4, 5, 6, 8, 9, 10]


def test_read_baci_validates_trade_flows(codes: pl.DataFrame) -> None:
    frame = read_baci(FLOWS, codes)
    assert frame.height == 9
    assert frame.schema["year"] == pl.Int32


def test_unvalidated_scan_keeps_unknown_codes_visible(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(tmp_path, FLOWS, {3: "2022,999,156,260300,1352877.486,315284.187"})
    frame = scan_baci(bad, codes, validate=False).collect()
    assert frame.filter(pl.col("source_row") == 3)["exporter_iso3"][0] is None


# -- validation: one test per class of bad input ------------------------------------------
def _error(path: Path, codes: pl.DataFrame, products: Path | None = None) -> str:
    with pytest.raises(DataError) as err:
        validate_baci(path, codes, products=products)
    return str(err.value)


def test_unknown_exporter_and_importer(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(
        tmp_path,
        FLOWS,
        {
            4: "2022,180,999,282200,4.122,0.223",
            5: "2022,180,999,810510,5741000.312,355060.455",
            9: "2022,843,156,282200,122.709,2.722",
        },
    )
    msg = _error(bad, codes)
    assert str(bad) in msg
    assert "row 9, column 'i': unknown BACI country code" in msg
    assert "(value: 843)" in msg
    # reported once, on the first row it appears
    assert "row 4, column 'j': unknown BACI country code" in msg
    assert "(value: 999)" in msg
    assert "row 5, column 'j'" not in msg


def test_unknown_product(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(tmp_path, FLOWS, {6: "2022,251,842,710813,29885.418,0.506"})
    msg = _error(bad, codes, PRODUCTS)
    assert str(bad) in msg
    assert "row 6, column 'k'" in msg
    assert "'710813'" in msg
    assert "unknown product code" in msg
    validate_baci(bad, codes)  # without a product table k is only checked for its form


def test_unparseable_value_and_quantity(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(
        tmp_path,
        FLOWS,
        {3: "2022,180,156,260300,1352877.4.86,315284.187", 11: "2022,842,792,282200,2.5,0.1t"},
    )
    msg = _error(bad, codes)
    assert "row 3, column 'v': not a number (value: '1352877.4.86')" in msg
    assert "row 11, column 'q': not a number (value: '0.1t')" in msg


def test_negative_value_and_quantity(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(
        tmp_path,
        FLOWS,
        {2: "2022,156,842,280530,-7538.989,370.204", 6: "2022,251,842,710812,29885.418,-0.506"},
    )
    msg = _error(bad, codes)
    assert str(bad) in msg
    assert "row 2, column 'v': negative value (value: '-7538.989')" in msg
    assert "row 6, column 'q': negative value (value: '-0.506')" in msg


def test_missing_value(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(tmp_path, FLOWS, {5: "2022,180,156,810510,NA,355060.455"})
    assert "row 5, column 'v': trade value is missing (value: 'NA')" in _error(bad, codes)


def test_bad_year_and_product_code(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(
        tmp_path,
        FLOWS,
        {2: "22x,156,842,280530,7538.989,370.204", 3: "2022,180,156,26030A,1.0,1.0"},
    )
    msg = _error(bad, codes)
    assert "row 2, column 't': not a whole number (value: '22x')" in msg
    assert "row 3, column 'k': not an HS6 code (value: '26030A')" in msg


def test_duplicate_key(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(tmp_path, FLOWS, {10: "2022,842,156,282200,1.0,1.0"})
    msg = _error(bad, codes)
    assert str(bad) in msg
    assert "row 10, column 't, i, j, k'" in msg
    assert "'2022, 842, 156, 282200'" in msg
    assert "first on row 9" in msg


def test_duplicate_key_after_padding(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(tmp_path, FLOWS, {11: "2022,842,156,010111,1.0,1.0"})
    assert "row 11, column 't, i, j, k'" in _error(bad, codes)


def test_missing_column(codes: pl.DataFrame, tmp_path: Path) -> None:
    bad = _variant(tmp_path, FLOWS, {1: "t,i,j,k,value,q"})
    msg = _error(bad, codes)
    assert str(bad) in msg
    assert "column 'v': required column is missing" in msg


def test_parquet_rows_are_record_numbers(codes: pl.DataFrame, tmp_path: Path) -> None:
    path = _parquet(tmp_path, {4: "2022,180,156,282200,-4.122,0.223"})
    msg = _error(path, codes)
    assert str(path) in msg
    assert "row 3, column 'v': negative value (value: '-4.122')" in msg


def test_unsupported_file(codes: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "BACI_HS92_Y2022_V202401b.xlsx"
    path.write_text("nope", encoding="utf-8")
    with pytest.raises(DataError) as err:
        scan_baci(path, codes)
    assert str(path) in str(err.value)
    assert "expected .csv or .parquet" in str(err.value)


# -- aggregation --------------------------------------------------------------------------
HS_MAP = pl.DataFrame(
    {
        "hs6_code": ["282200", "810510", "010111", "260300", "811230"],
        "commodity": ["cobalt", "cobalt", "cobalt", "copper", "germanium"],
        "stage": ["refining", "refining", "refining", "mining", "refining"],
    }
)


def test_aggregate(codes: pl.DataFrame) -> None:
    lf = aggregate_baci(scan_baci(FLOWS, codes, validate=False), HS_MAP, [2022])
    assert isinstance(lf, pl.LazyFrame)
    out = lf.collect(engine="streaming")

    def group(importer: str, exporter: str, commodity: str) -> dict[str, object]:
        hit = out.filter(
            pl.col("importer_iso3") == importer,
            pl.col("exporter_iso3") == exporter,
            pl.col("commodity") == commodity,
        )
        assert hit.height == 1, hit
        return hit.row(0, named=True)

    cod = group("CHN", "COD", "cobalt")
    assert cod["value_usd"] == pytest.approx((4.122 + 5741000.312) * 1000)
    assert cod["quantity_t"] == pytest.approx(0.223 + 355060.455)
    assert (cod["n_flows"], cod["n_flows_missing_quantity"]) == (2, 0)
    usa = group("CHN", "USA", "cobalt")  # one flow with, one without a quantity
    assert usa["quantity_t"] == pytest.approx(2.722)
    assert (usa["n_flows"], usa["n_flows_missing_quantity"]) == (2, 1)
    assert usa["value_usd_missing_quantity"] == pytest.approx(9876.0)
    twn = group("USA", "TWN", "germanium")  # every flow lacks a quantity -> null
    assert twn["quantity_t"] is None
    assert twn["n_flows_missing_quantity"] == 1
    # the aggregate exporter 697 never reaches the table; unmapped products are out of scope
    assert out.filter(pl.col("commodity") == "copper").height == 1
    assert set(out["stage"]) == {"refining", "mining"}
    assert out.height == 5  # COD-CHN cobalt and copper, USA-CHN, USA-TUR, TWN-USA
    assert aggregate_baci(scan_baci(FLOWS, codes), HS_MAP, [2021]).collect().height == 0


def test_aggregate_rejects_bad_map(codes: pl.DataFrame) -> None:
    lf = scan_baci(FLOWS, codes, validate=False)
    bad = HS_MAP.with_columns(pl.Series("stage", ["refining"] * 4 + ["smelting"]))
    with pytest.raises(DataError) as err:
        aggregate_baci(lf, bad)
    assert "row 5, column 'stage'" in str(err.value)
    assert "'smelting'" in str(err.value)
    bad = HS_MAP.with_columns(pl.Series("hs6_code", ["2822", *HS_MAP["hs6_code"][1:]]))
    with pytest.raises(DataError) as err:
        aggregate_baci(lf, bad)
    assert "row 1, column 'hs6_code'" in str(err.value)
    assert "'2822'" in str(err.value)
