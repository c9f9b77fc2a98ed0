"""China's monthly exports and Eurostat gas imports from the real downloads.

China's table is built locally by ``data refresh`` (UN Comtrade data is not shipped), so
these tests read the real file under ``shared_data`` (skipped when it is absent).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.build.monthly import (
    build_china_exports_monthly,
    build_eu_gas_imports_by_origin,
    load_china_monthly_map,
    load_gas_heat_content,
)
from resilience.data import load_eu_gas_imports_by_origin
from resilience.ingest.china_monthly import read_china_monthly_exports, read_tariff_lines
from resilience.ingest.eurostat import read_nrg_ti_gas

pytestmark = pytest.mark.integration

#: EU members and the other destinations the 2023 Ga/Ge controls were aimed at.
CONTROLLED = ("USA", "JPN", "DEU", "NLD", "BEL", "FRA", "ITA", "ESP", "AUT", "SWE", "POL")


@pytest.fixture(scope="module")
def china(shared_data: Path) -> pl.DataFrame:
    folder = shared_data / "china_cm_exports_comtrade"
    lines = read_tariff_lines(folder / "hs_map_china_tariff_lines.csv")
    path = folder / "china_exports_by_partner_hs6_monthly_2017_2024.csv"
    flows = read_china_monthly_exports(path, lines)
    return build_china_exports_monthly(
        flows, load_china_monthly_map(), file=path, source="s", vintage="v"
    )


def _monthly(frame: pl.DataFrame, column: str) -> dict[str, float]:
    sums = frame.group_by("period").agg(pl.col(column).sum()).sort("period")
    return dict(zip(sums["period"].to_list(), sums[column].to_list(), strict=True))


def test_every_row_reads_and_covers_2017_to_2024(china: pl.DataFrame) -> None:
    # 6,442 rows; the 1,181 rows of 811292 stand for gallium and for germanium
    assert china.height == 6442 + 1181
    assert china["period"].min() == "2017-01"
    assert china["period"].max() == "2024-12"
    assert china["importer_iso3"].n_unique() == 39
    for metal in ("gallium", "germanium"):
        years = china.filter(pl.col("commodity") == metal)["year"].unique().sort().to_list()
        assert years == list(range(2017, 2025))


def test_december_2023_natural_graphite_controls(china: pl.DataFrame) -> None:
    """Announcement No. 39 (effective 1 Dec 2023): front-loading, then a collapse."""
    natural = _monthly(china.filter(pl.col("hs6_code") == "250410"), "quantity_t")
    jan_oct = sum(natural[f"2023-{m:02d}"] for m in range(1, 11)) / 10
    assert jan_oct == pytest.approx(12_309, rel=0.01)  # ~12.3 kt a month
    assert natural["2023-11"] > 3 * jan_oct  # 40.5 kt shipped before the licences
    assert natural["2023-12"] < 0.25 * jan_oct  # 2.7 kt
    assert natural["2024-01"] < 0.5 * jan_oct


def test_gallium_germanium_controls_from_august_2023(china: pl.DataFrame) -> None:
    """Announcement No. 23 (effective 1 Aug 2023) in HS 811292 to the targeted buyers.

    811292 mixes Ga, Ge, In, Nb and V, so the all-partner total does not fall (it rises
    late in 2023); the drop shows in the value shipped to the US, Japan and EU members:
    August 2023 at about a third of July.
    """
    gallium = china.filter(pl.col("commodity") == "gallium")
    targeted = _monthly(gallium.filter(pl.col("importer_iso3").is_in(CONTROLLED)), "value_usd")
    assert targeted["2023-08"] < 0.4 * targeted["2023-07"]
    us = _monthly(gallium.filter(pl.col("importer_iso3") == "USA"), "value_usd")
    # the December 2024 ban on exports to the US: no month after July 2024 reaches USD 0.7 m
    after = [us.get(f"2024-{m:02d}", 0.0) for m in range(8, 13)]
    assert max(after) < 0.7e6
    assert us.get("2024-10", 0.0) == 0.0


def test_germany_imports_from_russia_2020_within_two_percent(shared_data: Path) -> None:
    path = shared_data / "eurostat_gas_imports_ru" / "nrg_ti_gas_ru_total_2011_2020_tidy.csv"
    raw = pl.read_csv(path).filter(
        pl.col("reporter").str.starts_with("Germany")
        & (pl.col("partner") == "Russia")
        & (pl.col("siec") == "Natural gas")
        & (pl.col("year") == 2020)
    )
    in_file = float(raw["value"][0])
    for table in (
        build_eu_gas_imports_by_origin(
            read_nrg_ti_gas(path),
            load_gas_heat_content(),
            commodity_unit="million m3",
            source="s",
            vintage="v",
        ),
        load_eu_gas_imports_by_origin(),  # the shipped table
    ):
        row = table.filter(
            (pl.col("importer_iso3") == "DEU")
            & (pl.col("exporter_iso3") == "RUS")
            & (pl.col("product") == "natural_gas")
            & (pl.col("year") == 2020)
        ).row(0, named=True)
        assert row["quantity_tj_gcv"] == pytest.approx(in_file, rel=0.02)
        assert row["quantity"] / row["conversion_factor"] == pytest.approx(in_file, rel=0.02)
        # about 57 bcm from Russia, two thirds of Germany's recorded imports
        assert 50_000 < row["quantity"] < 62_000


def test_monthly_dependency_shows_december_2023_for_the_us(china: pl.DataFrame) -> None:
    from resilience.build.monthly import build_monthly_dependency

    monthly = build_monthly_dependency(china)
    us = monthly.filter(
        (pl.col("importer_iso3") == "USA")
        & (pl.col("commodity") == "graphite")
        & (pl.col("stage") == "mining")
    )
    row = us.filter(pl.col("period") == "2023-12").row(0, named=True)
    assert row["trailing_12m_mean_t"] == pytest.approx(1668.8, rel=0.001)
    assert row["vs_trailing_12m"] < 0.001  # 25 kg against ~1.7 kt a month
    assert us["period"].min() == "2017-01"
    assert us["period"].max() == "2024-12"
    assert us.height == 96  # every month, gaps filled
