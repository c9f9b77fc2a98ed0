"""The shipped default tables: complete, cited, and internally consistent (no ../shared needed)."""

import polars as pl
import pytest

from resilience import data
from resilience.reference.chips import load_chip_capacity
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import CountryResolver
from resilience.reference.input_coefficients import load_input_coefficients


@pytest.fixture(scope="module")
def production() -> pl.DataFrame:
    return data.load_production()


def test_every_commodity_and_stage_has_production(production):
    commodities = load_commodities()
    have = production.filter(pl.col("quantity").is_not_null()).select("commodity", "stage").unique()
    # goods that only a process makes (outputs of input_coefficients.csv) and chip inputs
    # whose supply is a share in chip_capacity.csv have no production rows by design
    made = load_input_coefficients().select(
        pl.col("output_commodity").alias("commodity"), pl.col("output_stage").alias("stage")
    )
    shares = load_chip_capacity().select(pl.col("segment").alias("commodity")).unique()
    missing = (
        commodities.join(have, on=["commodity", "stage"], how="anti")
        .join(made, on=["commodity", "stage"], how="anti")
        .join(shares, on="commodity", how="anti")
    )
    assert missing.height == 0, missing.select("commodity", "stage").rows()
    covered = (
        commodities.join(have, on=["commodity", "stage"])
        .group_by("sector")
        .agg(pl.col("commodity").n_unique())
    )
    counts = dict(covered.iter_rows())
    assert sum(counts.values()) >= 40
    assert counts["chips"] >= 6
    assert counts["energy"] >= 8


def test_latest_year_shares_sum_to_one_with_explicit_rest_of_world(production):
    group = ["commodity", "stage", "source"]
    latest = (
        production.filter(pl.col("quantity").is_not_null() & (pl.col("country_iso3") != "WLD"))
        .group_by(group)
        .agg(pl.col("year").max())
    )
    rows = production.join(latest, on=[*group, "year"]).filter(pl.col("country_iso3") != "WLD")
    per_group = rows.group_by([*group, "year"]).agg(
        (pl.col("country_iso3") == "ROW").sum().alias("n_row"),
        pl.col("quantity").sum().alias("total"),
        (pl.col("quantity") / pl.col("quantity").sum()).sum().alias("share_sum"),
    )
    assert (per_group["n_row"] == 1).all(), per_group.filter(pl.col("n_row") != 1)
    assert per_group["share_sum"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert (per_group["total"] > 0).all()


def test_rest_of_world_closes_the_gap_to_the_stated_world_total(production):
    group = ["year", "commodity", "stage", "source"]
    world = production.filter(pl.col("country_iso3") == "WLD").select(
        *group, pl.col("quantity").alias("world")
    )
    listed = (
        production.filter(pl.col("country_iso3") != "WLD")
        .group_by(group)
        .agg(
            pl.col("quantity").sum().alias("listed"), pl.col("is_withheld").any().alias("withheld")
        )
    )
    both = world.join(listed, on=group).filter(pl.col("world") > 0, ~pl.col("withheld"))
    gap = both.with_columns(((pl.col("listed") - pl.col("world")) / pl.col("world")).alias("gap"))
    # Sources round their totals; 5 % bounds the largest rounding gap seen in the releases.
    assert gap.height > 300
    assert gap["gap"].abs().max() < 0.05, gap.sort(pl.col("gap").abs(), descending=True).head(5)


def test_rows_carry_source_and_vintage_and_withheld_is_never_zero(production):
    assert production["source"].null_count() == 0
    assert production["vintage"].null_count() == 0
    withheld = production.filter(pl.col("is_withheld"))
    assert withheld.height > 0
    assert withheld["quantity"].null_count() == withheld.height


def test_known_values_survive_the_pipeline(production):
    def value(commodity, stage, iso3, year, source):
        return production.filter(
            pl.col("commodity") == commodity,
            pl.col("stage") == stage,
            pl.col("country_iso3") == iso3,
            pl.col("year") == year,
            pl.col("source") == source,
        )["quantity"].item()

    # USGS MCS 2024: Australia lithium mine production 2022 = 74,700 t Li
    assert value("lithium", "mining", "AUS", 2022, "USGS MCS 2024") == 74_700
    # IEA: China refined cobalt 2023 = 171.7 kt
    iea = "IEA Critical Minerals Data Explorer 2024"
    assert value("cobalt", "refining", "CHN", 2023, iea) == pytest.approx(171_700)
    # WNA: Kazakhstan 2020 = 19,477 t U = 22,967.6 t U3O8 (x 1.17924)
    assert value("uranium", "mining", "KAZ", 2020, "World Nuclear Association") == pytest.approx(
        19_477 * 1.17924, rel=1e-5
    )
    # USGS withholds US lithium: null and flagged, not zero
    us = production.filter(
        pl.col("commodity") == "lithium",
        pl.col("stage") == "mining",
        pl.col("country_iso3") == "USA",
        pl.col("source").str.starts_with("USGS"),
    )
    assert us.height > 0
    assert us["quantity"].null_count() == us.height


def test_trade_table_is_bilateral_for_every_importer():
    trade = data.load_trade()
    assert trade["year"].min() == 2018
    assert trade["year"].max() == 2024
    assert trade.filter(pl.col("year") == 2022)["importer_iso3"].n_unique() > 180
    assert (trade["value_usd"] >= 0).all()
    resolver = CountryResolver.default()
    codes = set(trade["importer_iso3"].unique().to_list()) | set(
        trade["exporter_iso3"].unique().to_list()
    )
    assert all(resolver.is_country(c) for c in codes)
    # China's imports of cobalt (refining-stage HS codes) in 2022 come mostly from DR Congo
    cobalt = trade.filter(
        pl.col("year") == 2022, pl.col("importer_iso3") == "CHN", pl.col("commodity") == "cobalt"
    )
    top = cobalt.sort("value_usd", descending=True)["exporter_iso3"][0]
    assert top == "COD"


def test_governance_and_alignment_check_values():
    governance = data.load_governance()
    china = governance.filter(
        pl.col("year") == 2023, pl.col("country_iso3") == "CHN", pl.col("indicator") == "pv"
    )
    assert china["estimate"].item() == pytest.approx(-0.5131)
    assert set(governance["indicator"].unique()) == {"va", "pv", "ge", "rq", "rl", "cc"}
    alignment = data.load_alignment()
    usa = alignment.filter(pl.col("year") == 2023, pl.col("country_iso3") == "USA")
    assert usa["ideal_point"].item() == pytest.approx(2.500157, abs=1e-6)


def test_recycling_rates_are_fractions():
    recycling = data.load_recycling()
    assert recycling.height >= 30
    cobalt = recycling.filter(pl.col("commodity") == "cobalt")
    assert cobalt.height >= 1
    assert recycling["eol_rir_frac"].drop_nulls().is_between(0, 1).all()
