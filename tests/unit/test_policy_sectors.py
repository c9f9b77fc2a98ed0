"""The ``sectors`` knob: a policy's stock floor, caps and pooling bind only its sectors.

The MSP and the CRMA are raw-material policies: in a study with oil or chips they must
not force 90 days of crude oil into stock or cap a member's chip suppliers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from resilience.optimize.families.common import (
    FamilyContext,
    policy_goods,
    policy_stocks,
    sector_goods,
)
from resilience.optimize.market.from_data import study_market
from resilience.scenarios import load_study
from resilience.specs import SpecError

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "models" / "scenarios.yaml"

pytestmark = pytest.mark.usefixtures("restore_logging")


def study_file(tmp_path: Path, **spec: Any) -> Path:
    body = {
        "name": "two_sectors",
        "year": 2023,
        "members": "G7",
        "allies": "G7",
        "commodities": ["graphite/mining", "crude_oil/mining"],
        "model": "stress",
        "catalogue": str(CATALOGUE),
    } | spec
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_a_bad_sector_names_the_knob_and_the_value(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_study(study_file(tmp_path, policy={"sectors": ["chip"]}))
    text = str(err.value)
    assert "policy.sectors" in text
    assert "'chip'" in text
    assert "did you mean chips" in text
    with pytest.raises(SpecError, match="non-empty list of sectors"):
        load_study(study_file(tmp_path, policy={"sectors": "energy"}))


def test_the_msp_stock_floor_binds_critical_materials_not_oil(tmp_path: Path) -> None:
    study = load_study(study_file(tmp_path))
    assert sector_goods(study, ["critical_materials"]) == ["graphite/mining"]
    assert sector_goods(study, ["energy", "chips"]) == ["crude_oil/mining"]
    comp = study.compose("msp_pooled_stocks")
    assert comp.policy.sectors == ("critical_materials",)
    ctx = FamilyContext(study, comp, "msp_pooled_stocks")
    assert policy_goods(ctx) == ["graphite/mining"]
    market = study_market(study, None, composition=comp)
    _, builds = policy_stocks(market, ctx)
    oil = builds.filter(pl.col("good") == "crude_oil/mining")
    graphite = builds.filter(pl.col("good") == "graphite/mining")
    assert oil.height == 7  # every G7 member consumes oil
    assert graphite.height == 6  # ... and all but Canada graphite (a net exporter: q0 = 0)
    assert oil["min_units"].max() == 0.0  # no forced oil stock
    # graphite: at least 90 days less what the member already holds, for somebody > 0
    assert graphite["min_units"].max() > 0.0
    daily = market.inputs.demand.filter(pl.col("good") == "graphite/mining").select(
        "node", (pl.col("q0_units_per_month") / (365.0 / 12)).alias("daily")
    )
    held = market.inputs.stocks.filter(pl.col("good") == "graphite/mining").select(
        "node", "initial_units"
    )
    want = (
        daily.join(held, on="node", how="left")
        .with_columns(
            (90 * pl.col("daily") - pl.col("initial_units").fill_null(0.0))
            .clip(lower_bound=0.0)
            .alias("want")
        )
        .join(graphite.select("node", "min_units"), on="node")
    )
    assert want["min_units"].to_list() == pytest.approx(want["want"].to_list(), rel=1e-9)
    # without the knob the floor binds oil too
    every = study.compose("g7_friendshoring")
    assert every.policy.sectors is None
