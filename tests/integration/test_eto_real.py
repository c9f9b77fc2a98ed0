"""The ETO chip supply-chain dataset from the real files (CC BY-NC 4.0: read, never shipped).

Expected shares are the ones ``eto_chip_explorer/SOURCE.md`` quotes from the dataset:
fabrication capacity 2022 CHN 24, TWN 18, JPN 17, KOR 17, USA 10, EUR 8 %; ATP 2022 CHN
30, TWN 28 %; EUV lithography tools 2025 NLD 100 %; EDA software 2019 USA 96 %; wafers
2019 JPN 56, TWN 16, DEU 14, KOR 10, CHN 4 %.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.ingest.eto import read_eto

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def eto(shared_data: Path) -> pl.DataFrame:
    return read_eto(shared_data / "eto_chip_explorer")


def _country_shares(eto: pl.DataFrame, name: str, year: int) -> dict[str | None, float]:
    rows = eto.filter(
        (pl.col("provided_name") == name)
        & (pl.col("year") == year)
        & (pl.col("provider_kind") != "firm")
    )
    return {
        (iso3 if iso3 is not None else provider): share
        for iso3, provider, share in rows.select(
            "country_iso3", "provider_name", "share_pct"
        ).iter_rows()
    }


def test_every_provision_row_is_read(eto: pl.DataFrame) -> None:
    assert eto.height == 1300
    assert eto["share_pct"].is_not_null().sum() == 1054
    assert dict(eto.group_by("year").len().iter_rows()) == {
        2019: 264,
        2021: 16,
        2022: 43,
        2025: 977,
    }
    kinds = dict(eto.group_by("provider_kind").len().iter_rows())
    assert kinds["country"] + kinds["region"] + kinds["unspecified"] == 580
    no_country = eto.filter((pl.col("provider_kind") == "firm") & pl.col("country_iso3").is_null())
    assert set(no_country["provider_name"]) == {"Various companies"}  # HQ "Various countries"
    assert no_country.height == 70


def test_fabrication_and_atp_capacity_by_location(eto: pl.DataFrame) -> None:
    fab = _country_shares(eto, "Fabrication", 2022)
    assert {k: fab[k] for k in ("CHN", "TWN", "JPN", "KOR", "USA", "EUR")} == {
        "CHN": 24.0,
        "TWN": 18.0,
        "JPN": 17.0,
        "KOR": 17.0,
        "USA": 10.0,
        "EUR": 8.0,
    }
    atp = _country_shares(eto, "Assembly, testing, and packaging (ATP)", 2022)
    assert (atp["CHN"], atp["TWN"]) == (30.0, 28.0)


def test_tools_design_and_wafers(eto: pl.DataFrame) -> None:
    assert _country_shares(eto, "EUV lithography tools", 2025) == {"NLD": 100.0}
    assert _country_shares(eto, "Electronic design automation software", 2019)["USA"] == 96.0
    wafers = _country_shares(eto, "Wafer", 2019)
    assert {k: wafers[k] for k in ("JPN", "TWN", "DEU", "KOR", "CHN")} == {
        "JPN": 56.0,
        "TWN": 16.0,
        "DEU": 14.0,
        "KOR": 10.0,
        "CHN": 4.0,
    }
    asml = eto.filter(
        (pl.col("provider_name") == "ASML") & (pl.col("provided_name") == "EUV lithography tools")
    )
    assert asml.select("country_iso3", "share_pct", "is_type_of_ids").row(0) == (
        "NLD",
        100.0,
        "N19",
    )
