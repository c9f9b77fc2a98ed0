"""The ranking of an importer's goods by probability-weighted welfare loss."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.ranking import RANK_SCHEMA, rank_commodities
from resilience.scenarios import load_catalogue
from resilience.specs import CountrySet

REPO = Path(__file__).resolve().parents[2]
#: The default horizon and regions (pruning to 3 importers and 5 % producers leaves the
#: graphite cut to countries outside the US's market); coarse blocks.
SMALL = StudyMarketSettings(
    market=MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2),
)


@pytest.fixture(scope="module")
def ranked() -> pl.DataFrame:
    return rank_commodities(
        CountrySet(countries=("USA",)),
        [
            ("graphite", "mining"),
            ("cobalt", "refining"),
            ("nickel", "mining"),
            ("copper", "mining"),
        ],
        year=2023,
        catalogue=load_catalogue(REPO / "models" / "scenarios.yaml"),
        settings=SMALL,
    )


def test_ranked_goods_carry_the_probability_weighted_loss(ranked: pl.DataFrame) -> None:
    assert ranked.schema == RANK_SCHEMA
    status = dict(zip(ranked["commodity"], ranked["status"], strict=True))
    # graphite (China's controls) and cobalt (DRC suspension) are priced; Indonesia's ore
    # ban is already in the 2023 trade (its ore exports are near zero): out of scope;
    # copper is touched only by the Taiwan blockade (every good) and has no reference price
    assert status == {
        "graphite": "ranked",
        "cobalt": "ranked",
        "nickel": "out_of_scope",
        "copper": "no_data",
    }
    reason = ranked.filter(pl.col("commodity") == "copper")["reason"][0]
    assert "reference price" in reason
    top = ranked.filter(pl.col("status") == "ranked")
    assert top["rank"].to_list() == [1, 2]
    losses = top["expected_welfare_loss_usd"].to_list()
    assert losses[0] >= losses[1]
    for row in top.iter_rows(named=True):
        # one event each: expected = probability x loss if it happens (calm costs ~nothing)
        assert row["expected_welfare_loss_usd"] == pytest.approx(
            row["probability"] * row["worst_welfare_loss_usd"], rel=1e-4
        )
        assert row["worst_welfare_loss_usd"] > 0
        assert row["price_rise_max_pct"] > 0
    assert ranked.filter(pl.col("status") != "ranked")["rank"].null_count() == 2


def test_the_rank_command_refuses_an_unknown_good_and_importer() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["rank", "--importer", "USA", "--commodity", "unobtainium/mining"])
    assert bad.exit_code != 0
    assert "unobtainium/mining" in bad.output
    nobody = runner.invoke(
        app, ["rank", "--importer", "Atlantis", "--commodity", "graphite/mining"]
    )
    assert nobody.exit_code != 0
    assert "Atlantis" in nobody.output
