"""Content basis on the shipped tables (they need a trade.parquet regenerated with content).

These read ``datasets/`` only (no ``/work/shared``) and pass once ``data refresh`` has
written the content columns into ``trade.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience import data
from resilience.build.dependency import trade_shares
from resilience.build.pipeline import dependency_and_metrics, load_inputs


@pytest.fixture(scope="module")
def shares() -> pl.DataFrame:
    return trade_shares(data.scan_trade()).collect()


@pytest.fixture(scope="module")
def metrics_2023() -> pl.DataFrame:
    inputs = load_inputs(years=[2021, 2022, 2023])
    _, metrics = dependency_and_metrics(inputs)
    return metrics.filter(pl.col("importer_iso3").is_in(["USA", "DEU", "JPN", "FRA"])).collect()


def test_trade_carries_content_and_its_basis() -> None:
    trade = data.scan_trade().collect()
    assert {"quantity_t", "quantity_content", "content_unit", "content_basis"} <= set(trade.columns)
    has_q = trade.filter(pl.col("quantity_t").is_not_null())
    assert has_q["quantity_content"].null_count() == 0
    gas = trade.filter(pl.col("commodity") == "natural_gas")
    assert set(gas["content_unit"].unique()) == {"million m3"}


def test_drc_hydroxide_and_canadian_cobalt_within_a_factor_two(shares: pl.DataFrame) -> None:
    """The issue's 2023 example: USD 8.2 k/t gross (DRC) against 45.5 k/t (Canada)."""
    cobalt = shares.filter(
        (pl.col("year") == 2023)
        & (pl.col("commodity") == "cobalt")
        & (pl.col("stage") == "refining")
        & pl.col("supplier_iso3").is_in(["COD", "CAN"])
    )
    per = cobalt.group_by("supplier_iso3").agg(
        (pl.col("import_value_usd").sum() / pl.col("import_quantity_t").sum()).alias("gross"),
        (pl.col("import_value_usd").sum() / pl.col("import_quantity_content").sum()).alias(
            "content"
        ),
    )
    uv = {s: (g, c) for s, g, c in per.iter_rows()}
    assert uv["CAN"][1] / uv["COD"][1] <= 2.0
    assert uv["CAN"][0] / uv["COD"][0] > 4.0  # the gross-weight picture the issue reports


@pytest.mark.xfail(
    strict=True,
    reason="datasets/trade.parquet still carries quantity_content at the old nickel-ore "
    "factor (1.5 % Ni); content_factors.csv now says 1.24 % (Fastmarkets 2016). Rebuild it "
    "with `resilience data refresh` after the merge, then drop this marker (strict: an "
    "XPASS fails).",
)
def test_japan_nickel_demand_is_nickel_not_ore(shares: pl.DataFrame) -> None:
    import dataclasses

    from resilience.optimize.market.from_data import StudyMarketSettings, study_market
    from resilience.scenarios import load_study

    spec = load_study(Path(__file__).resolve().parents[2] / "models" / "g7_critical_minerals.yaml")
    spec = dataclasses.replace(spec, commodities=(("nickel", "mining"),))
    market = study_market(spec, None, StudyMarketSettings(months=2))
    japan = market.balances.filter(pl.col("node") == "JPN").row(0, named=True)
    gross = shares.filter(
        (pl.col("year") == 2023)
        & (pl.col("importer_iso3") == "JPN")
        & (pl.col("commodity") == "nickel")
        & (pl.col("stage") == "mining")
    )["import_quantity_t"].sum()
    assert gross > 1_000_000  # 1.12 Mt of ore, gross
    into = market.arcs.filter(pl.col("destination") == "JPN")
    assert set(into["quantity_basis"].to_list()) == {"content"}
    assert japan["imports_units_per_year"] < 50_000  # tonnes of Ni content
    assert japan["imports_units_per_year"] == pytest.approx(gross * 0.0124, rel=1e-6)


def test_gas_import_reliance_is_no_longer_blank(metrics_2023: pl.DataFrame) -> None:
    gas = metrics_2023.filter(
        (pl.col("importer_iso3") == "DEU") & (pl.col("commodity") == "natural_gas")
    )
    assert gas.height == 3
    assert gas["content_unit"].to_list() == ["million m3"] * 3
    assert gas["production_unit"].to_list() == ["million m3"] * 3
    # Germany imports most of its gas (domestic output ~5 bcm a year).
    assert gas["import_reliance"].min() > 0.7
    assert gas["eu_supply_risk"].null_count() == 0


@pytest.mark.xfail(
    strict=True,
    reason=(
        "HS92/HS2017 have no rare-earth ore line: rare_earths/mining is traded as compounds and "
        "metals (280530, 284610, 284690) but its production is mine output (42.5 kt REO for the "
        "US in 2022, exported as concentrate under 253090, outside the map), so IR = "
        "(M - X) / (P + M - X) stays near 10-35 %. USGS's >95 % is for compounds and metals; "
        "it needs a compounds-and-metals stage with its own production in commodities.csv."
    ),
)
def test_us_rare_earth_compounds_import_reliance(metrics_2023: pl.DataFrame) -> None:
    ree = metrics_2023.filter(
        (pl.col("importer_iso3") == "USA") & (pl.col("commodity") == "rare_earths")
    )
    assert ree["import_reliance"].min() > 0.9
