"""The BACI scan's fast paths give exactly what the careful path gives."""

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from resilience.ingest.baci import read_baci_country_codes, scan_baci

DATA = Path(__file__).resolve().parents[1] / "data" / "baci"
FLOWS = DATA / "BACI_HS92_Y2022_V202401b_small.csv"
CODES = DATA / "country_codes_V202401b_small.csv"


def test_hs_code_prefilter_equals_filtering_afterwards():
    codes = read_baci_country_codes(CODES)
    everything = scan_baci(FLOWS, codes).collect()
    wanted = sorted(everything["hs6_code"].unique().to_list())[:2]
    pre = scan_baci(FLOWS, codes, hs_codes=wanted).collect()
    post = everything.filter(pl.col("hs6_code").is_in(wanted))
    assert pre.height == post.height > 0
    assert_frame_equal(pre.sort("source_row"), post.sort("source_row"))


def test_codes_written_without_leading_zeros_are_kept_and_padded(tmp_path):
    codes = read_baci_country_codes(CODES)
    exporter, importer = (
        codes.filter(pl.col("country_kind") == "country")["baci_code"].head(2).to_list()
    )
    path = tmp_path / "BACI_HS92_Y2022_V202401b_zeros.csv"
    path.write_text(
        "t,i,j,k,v,q\n"
        f"2022,{exporter},{importer},10121,1.5,2\n"  # 010121 as a spreadsheet rewrites it
        f"2022,{exporter},{importer},260300,2.5,NA\n"
    )
    out = scan_baci(path, codes, hs_codes=["010121"]).collect()
    assert out["hs6_code"].to_list() == ["010121"]
    assert out["value_usd"].to_list() == [1500.0]
    assert out["source_row"].to_list() == [2]
    full = scan_baci(path, codes).collect().sort("source_row")
    assert full["hs6_code"].to_list() == ["010121", "260300"]
    assert full["quantity_t"].to_list() == [2.0, None]
