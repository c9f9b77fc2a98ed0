from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.baci import (
    aggregate_baci,
    read_baci_country_codes,
    read_baci_product_codes,
    scan_baci,
    validate_baci,
)
from resilience.reference.commodities import hs_to_commodity

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    return shared_data / "baci_raw_materials"


@pytest.fixture(scope="module")
def codes(folder: Path) -> pl.DataFrame:
    return read_baci_country_codes(folder / "country_codes_V202401b.csv")


@pytest.fixture(scope="module")
def parquet(folder: Path) -> Path:
    return folder / "baci_hs92_v202401b_raw_materials_1995_2024.parquet"


@pytest.fixture(scope="module")
def csv_2022(folder: Path) -> Path:
    return folder / "BACI_HS92_Y2022_V202401b_raw_materials.csv"


def test_country_tables(codes: pl.DataFrame, shared_data: Path) -> None:
    assert codes.height == 238
    newer = read_baci_country_codes(shared_data / "baci_codes" / "country_codes_V202501.csv")
    assert newer.drop("source_row").equals(codes.drop("source_row"))
    iso = dict(zip(codes["baci_code"].to_list(), codes["country_iso3"].to_list(), strict=True))
    assert (iso[490], iso[842], iso[251], iso[699], iso[757], iso[579]) == (
        "TWN",
        "USA",
        "FRA",
        "IND",
        "CHE",
        "NOR",
    )
    assert (iso[58], iso[849], iso[280], iso[810]) == ("BLX", "UMI", "DEU", "SUN")
    regions = codes.filter(pl.col("country_kind") == "region")["baci_code"].to_list()
    assert sorted(regions) == [697, 711]
    names = dict(zip(codes["baci_code"].to_list(), codes["name"].to_list(), strict=True))
    assert names[792] == "Türkiye"
    assert names[531] == "Curaçao"
    # every other code is a country; two ISO3 codes have a historic second code
    countries = codes.filter(pl.col("country_kind") == "country")
    assert countries.height == 236
    assert countries["country_iso3"].n_unique() == 234
    shared = countries.filter(pl.col("country_iso3").is_duplicated())
    assert sorted(shared.select("baci_code", "country_iso3").rows()) == [
        (276, "DEU"),
        (280, "DEU"),
        (729, "SDN"),
        (736, "SDN"),
    ]


def test_product_table(folder: Path) -> None:
    products = read_baci_product_codes(folder / "product_codes_HS92_V202401b.csv")
    assert products.height == 5022
    assert products["hs6_code"].str.len_chars().unique().to_list() == [6]


def test_validate_parquet_extract(parquet: Path, codes: pl.DataFrame, folder: Path) -> None:
    summary = validate_baci(parquet, codes, products=folder / "product_codes_HS92_V202401b.csv")
    assert summary.rows == 1_264_888
    assert summary.missing_quantity_rows == 61_682
    # Southern African Customs Union, reported as one area until 1999, is excluded
    assert summary.aggregate_codes == {711: 5796}
    assert summary.aggregate_rows == 5796


def test_scan_is_lazy_and_streams_an_aggregate(parquet: Path, codes: pl.DataFrame) -> None:
    lf = scan_baci(parquet, codes, validate=False)
    assert isinstance(lf, pl.LazyFrame)
    plan = lf.explain(engine="streaming")
    assert "Parquet SCAN" in plan  # a scan, not an in-memory frame
    per_year = (
        lf.group_by("year")
        .agg(pl.len().alias("flows"), pl.col("value_usd").sum())
        .sort("year")
        .collect(engine="streaming")
    )
    assert per_year.height == 30
    assert per_year["year"].to_list() == list(range(1995, 2025))
    assert per_year["flows"].sum() == 1_264_888 - 5796
    assert per_year.filter(pl.col("year") == 2022)["flows"][0] == 53_452


def test_2022_csv_values(csv_2022: Path, codes: pl.DataFrame, parquet: Path) -> None:
    flows = scan_baci(csv_2022, codes).collect(engine="streaming")
    assert flows.height == 53_452
    cod_chn = flows.filter(pl.col("exporter_iso3") == "COD", pl.col("importer_iso3") == "CHN")
    by_hs = dict(zip(cod_chn["hs6_code"].to_list(), cod_chn["value_usd"].to_list(), strict=True))
    # BACI v is in thousand USD: 4.122 -> 4,122 USD; 5,741,000.312 -> 5,741,000,312 USD
    assert by_hs["282200"] == 4.122 * 1000
    assert by_hs["810510"] == 5741000.312 * 1000
    row = cod_chn.filter(pl.col("hs6_code") == "810510").row(0, named=True)
    assert row["quantity_t"] == 355060.455
    assert row["source_row"] == 10365
    assert flows["quantity_t"].null_count() == 2783
    # the CSV slice and the Parquet extract hold the same 2022 flows
    cols = ["year", "exporter_iso3", "importer_iso3", "hs6_code", "value_usd", "quantity_t"]
    from_parquet = (
        scan_baci(parquet, codes, validate=False)
        .filter(pl.col("year") == 2022)
        .select(cols)
        .collect(engine="streaming")
    )
    assert from_parquet.sort(cols[:4]).equals(flows.select(cols).sort(cols[:4]))


def test_aggregate_real(parquet: Path, codes: pl.DataFrame) -> None:
    lf = scan_baci(parquet, codes, validate=False)
    table = aggregate_baci(lf, hs_to_commodity("hs92"), range(2018, 2025)).collect(
        engine="streaming"
    )
    assert (table["year"].min(), table["year"].max()) == (2018, 2024)
    cobalt = table.filter(
        pl.col("year") == 2022,
        pl.col("importer_iso3") == "CHN",
        pl.col("exporter_iso3") == "COD",
        pl.col("commodity") == "cobalt",
        pl.col("stage") == "refining",
    ).row(0, named=True)
    assert cobalt["value_usd"] == pytest.approx((4.122 + 5741000.312) * 1000)
    assert cobalt["quantity_t"] == pytest.approx(0.223 + 355060.455)
    assert cobalt["n_flows"] == 2
    # null-aware quantities: groups with every quantity missing have a null total
    all_missing = table.filter(pl.col("n_flows") == pl.col("n_flows_missing_quantity"))
    assert all_missing.height > 0
    assert all_missing["quantity_t"].null_count() == all_missing.height
    assert table.filter(pl.col("quantity_t").is_null()).height == all_missing.height
