"""`resilience build` from a BACI file a user downloaded gives the same dependency rows."""

import polars as pl
import pytest

from resilience.build.pipeline import build, load_inputs, scan_built


@pytest.mark.integration
def test_build_from_user_baci_csv_matches_the_shipped_trade(shared_data, tmp_path):
    folder = shared_data / "baci_raw_materials"
    user = load_inputs(
        baci_path=folder / "BACI_HS92_Y2022_V202401b_raw_materials.csv",
        baci_codes=folder / "country_codes_V202401b.csv",
    )
    assert user.years == [2022]
    build(tmp_path / "user", user)
    build(tmp_path / "shipped", load_inputs(years=[2022]))
    key = ["year", "importer_iso3", "commodity", "stage", "supplier_iso3"]
    bilateral = pl.col("basis") == "bilateral"
    ours = scan_built(tmp_path / "user", "dependency").filter(bilateral).collect().sort(key)
    ref = scan_built(tmp_path / "shipped", "dependency").filter(bilateral).collect().sort(key)
    assert ours.height == ref.height > 20_000
    assert ours.select(key).equals(ref.select(key))
    for column in ("supply_share", "import_value_usd"):
        assert ours[column].to_numpy() == pytest.approx(ref[column].to_numpy(), rel=1e-9)
