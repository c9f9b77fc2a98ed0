from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.wgi import read_wgi, read_wgi_pv_normalized, read_wgi_pv_wide

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def long(shared_data: Path) -> pl.DataFrame:
    return read_wgi(shared_data / "wgi" / "wgi_2024update_long.csv")


@pytest.fixture(scope="module")
def wide(shared_data: Path) -> pl.DataFrame:
    return read_wgi_pv_wide(
        shared_data / "wgi_political_stability_iso3" / "wgi_pv_estimate_wide.csv"
    )


@pytest.fixture(scope="module")
def normalized(shared_data: Path) -> pl.DataFrame:
    return read_wgi_pv_normalized(
        shared_data / "wgi_political_stability_iso3" / "wgi_pv_normalized_wide.csv"
    )


def test_long_shape_and_check_value(long: pl.DataFrame) -> None:
    # 214 economies x 25 years x 6 indicators, nothing dropped
    assert long.height == 32_100
    assert long["country_iso3"].n_unique() == 214
    assert sorted(long["year"].unique().to_list()) == [1996, 1998, 2000, *range(2002, 2024)]
    china = long.filter(
        pl.col("country_iso3") == "CHN", pl.col("year") == 2023, pl.col("indicator") == "pv"
    ).row(0, named=True)
    assert china["estimate"] == -0.5131
    assert china["pctrank"] == 25.12
    # missing cells stay missing (1,126 per numeric column in this release)
    assert long["estimate"].null_count() == 1126


def test_long_territories_and_historic_entities(long: pl.DataFrame) -> None:
    codes = set(long["country_iso3"].to_list())
    # economies that are not sovereign states keep their own codes
    assert {"TWN", "HKG", "MAC", "PSE", "XKX", "JEY", "PRI", "ANT"} <= codes
    ant = long.filter(pl.col("country_iso3") == "ANT", pl.col("estimate").is_not_null())
    assert (ant["year"].min(), ant["year"].max()) == (2004, 2013)


def test_wide_matches_long_file_after_errata(long: pl.DataFrame, wide: pl.DataFrame) -> None:
    """The relabelled rows (GUF, VIR, XKX) carry exactly the WGI 2024 series to 2016."""
    pv = long.filter(pl.col("indicator") == "pv").select("country_iso3", "year", "estimate")
    both = wide.join(pv, on=["country_iso3", "year"], suffix="_long").filter(
        pl.col("year") <= 2016, pl.col("country_iso3") != "JEY"
    )
    assert (both["estimate"].is_null() == both["estimate_long"].is_null()).all()
    diff = (both["estimate"] - both["estimate_long"]).abs().max()
    assert diff is not None
    assert diff <= 5.1e-5
    for iso3 in ("GUF", "VIR", "XKX", "GUY"):
        assert both.filter(pl.col("country_iso3") == iso3).height >= 15
    assert "UMI" not in wide["country_iso3"].to_list()


def test_wide_as_labelled_fails_on_the_duplicated_guyana(shared_data: Path) -> None:
    path = shared_data / "wgi_political_stability_iso3" / "wgi_pv_estimate_wide.csv"
    with pytest.raises(DataError) as err:
        read_wgi_pv_wide(path, errata=())
    assert "row 81" in str(err.value)
    assert "GUY" in str(err.value)


def test_normalized_is_inverted_clipped_fixed_range(
    wide: pl.DataFrame, normalized: pl.DataFrame
) -> None:
    """pv_normalized_0_1 = clip((2.5 - estimate) / 5, 0, 1); missing -> 0.0 (158 cells)."""
    both = wide.join(normalized, on=["country_iso3", "year"], how="full", coalesce=True)
    assert both.height == wide.height == normalized.height
    known = both.filter(pl.col("estimate").is_not_null())
    expected = ((2.5 - known["estimate"]) / 5).clip(0.0, 1.0)
    err = (known["pv_normalized_0_1"] - expected).abs().max()
    assert err is not None
    assert err <= 2e-16
    # not a min-max over the countries of a year: below -2.5 saturates at exactly 1
    below = known.filter(pl.col("estimate") < -2.5)
    assert below.height == 72
    assert set(below["pv_normalized_0_1"]) == {1.0}
    assert known.filter(pl.col("pv_normalized_0_1") == 0.0).height == 0
    somalia = known.filter(pl.col("country_iso3") == "SOM", pl.col("year") == 2009)
    assert somalia["estimate"][0] == pytest.approx(-3.312951, abs=1e-6)
    # missing estimates are written 0.0 ("perfectly stable") up to 2022, null after (170
    # cells in the raw file, 12 of them on the PUS row the errata drop)
    missing = both.filter(pl.col("estimate").is_null())
    zero = missing.filter(pl.col("pv_normalized_0_1") == 0.0)
    assert zero.height == 158
    assert zero["year"].max() == 2022
    assert missing.filter(pl.col("pv_normalized_0_1").is_not_null()).height == 158
