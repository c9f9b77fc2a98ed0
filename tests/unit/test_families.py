"""The model families on the market core: the registry, the policy hooks, the answers.

Tiny worlds (``resilience.optimize.market.testing``) check each hook against what can be
derived by hand; the registry is checked against the specs and the knob table.
"""

from __future__ import annotations

import polars as pl
import pytest

from resilience.optimize.families import FAMILIES, family
from resilience.optimize.market import MarketResult, build_market, solve_market
from resilience.optimize.market.policies import (
    EXPLANATIONS,
    pooled_stocks,
    sourcing_cap,
    stock_build,
)
from resilience.optimize.market.testing import GOOD, cut, world
from resilience.optimize.solve import SolverOptions
from resilience.specs import KNOBS

QUIET = SolverOptions(log_to="off")


def solved(inputs, hooks=()):  # type: ignore[no-untyped-def]
    model = build_market(inputs, extensions=list(hooks))
    return MarketResult(model, solve_market(model, QUIET))


def served(r: MarketResult, node: str) -> pl.DataFrame:
    return r.demand().filter(pl.col("node") == node)


# ----------------------------------------------------------------------------- registry
def test_every_family_is_registered_with_known_knobs() -> None:
    assert set(FAMILIES) == {"stress", "coercion", "pooling", "diversify"}
    for fam in FAMILIES.values():
        assert fam.description
        unknown = set(fam.knobs) - set(KNOBS)
        assert not unknown, (fam.name, unknown)
    with pytest.raises(KeyError, match="known: stress"):
        family("planning")


def test_every_policy_row_family_has_its_sentence() -> None:
    inputs = two_members()
    builds = pl.DataFrame(
        {"node": ["USA"], "good": [GOOD], "min_units": [10.0], "max_units": [None]},
        schema_overrides={"max_units": pl.Float64},
    )
    hooks = [
        stock_build(builds),
        sourcing_cap(["USA", "JPN"], ["AUS"], 0.6, "non_allied"),
        sourcing_cap(["USA", "JPN"], (), 0.9, "single"),
        pooled_stocks(["USA", "JPN"]),
    ]
    model = build_market(inputs, extensions=hooks)
    for name in model.constraints:
        sentence = model.explanations[name]
        assert sentence.strip(), name
    assert {"stock_floor", "sourcing_cap_non_allied", "sourcing_cap_single", "pool_release"} <= set(
        model.constraints
    )
    assert set(EXPLANATIONS) <= set(model.explanations)
    row = model.rows["sourcing_cap_single"].row(0)
    assert "max_single_supplier_share" in str(model.describe("sourcing_cap_single", row))


# ----------------------------------------------------------------------------- worlds
def two_members(**kw):  # type: ignore[no-untyped-def]
    """USA and JPN buy from CHN (non-allied) and AUS (allied); USA holds a stock."""
    return world(
        {("USA", GOOD): 100.0, ("JPN", GOOD): 50.0},
        {("CHN", GOOD): 110.0, ("AUS", GOOD): 40.0},
        {
            ("CHN", "USA", GOOD): 75.0,
            ("CHN", "JPN", GOOD): 35.0,
            ("AUS", "USA", GOOD): 25.0,
            ("AUS", "JPN", GOOD): 15.0,
        },
        stocks={("USA", GOOD): (60.0, 200.0, 60.0), ("JPN", GOOD): (0.0, 200.0, 50.0)},
        **kw,
    )


def test_a_non_allied_cap_binds_and_raises_the_members_price() -> None:
    inputs = two_members()
    free = solved(inputs.with_changes(stocks=inputs.stocks.clear()))
    capped = solved(
        inputs.with_changes(stocks=inputs.stocks.clear()),
        [sourcing_cap(["USA"], ["AUS"], 0.5, "non_allied")],
    )
    flows = capped.flows().filter(pl.col("destination") == "USA")
    from_chn = float(flows.filter(pl.col("origin") == "CHN")["flow_units"].sum())
    consumed = float(served(capped, "USA")["served_units"].sum())
    assert from_chn == pytest.approx(0.5 * 100.0, rel=1e-6)  # binding: half of q0 = 100
    p_free = free.prices().filter(pl.col("node") == "USA")["price_usd_per_unit"].max()
    p_cap = capped.prices().filter(pl.col("node") == "USA")["price_usd_per_unit"].max()
    assert p_cap > p_free * 1.01
    # observed: 75 of 100 from CHN; the cap makes the USA consume less
    assert consumed < 100.0


def test_a_single_supplier_cap_applies_to_every_origin() -> None:
    inputs = two_members()
    r = solved(
        inputs.with_changes(stocks=inputs.stocks.clear()),
        [sourcing_cap(["USA", "JPN"], (), 0.6, "single")],
    )
    flows = r.flows().join(
        inputs.demand.select(pl.col("node").alias("destination"), "q0_units_per_month"),
        on="destination",
    )
    assert (flows["flow_units"] <= 0.6 * flows["q0_units_per_month"] + 1e-6).all()
    usa_from_chn = flows.filter((pl.col("origin") == "CHN") & (pl.col("destination") == "USA"))
    assert float(usa_from_chn["flow_units"].sum()) == pytest.approx(60.0, rel=1e-6)


def test_a_stock_floor_is_built_before_the_crisis_and_paid_at_p0() -> None:
    inputs = two_members()
    builds = pl.DataFrame(
        {"node": ["JPN"], "good": [GOOD], "min_units": [30.0], "max_units": [80.0]}
    )
    r = solved(inputs, [stock_build(builds)])
    built = r.solved.values(r.market.variables["prebuilt_stock"])["value"][0]
    assert 30.0 - 1e-9 <= built <= 80.0 + 1e-9
    # no crisis: building above the floor only costs holding, so the floor binds
    assert built == pytest.approx(30.0, abs=1e-6)


def test_pooling_moves_a_members_released_stock_to_the_cut_member() -> None:
    # one month; CHN stops shipping to JPN only; USA holds 60 units, JPN none
    inputs = two_members(
        availability=cut("CHN", 0.0, [1], destination="JPN"),
        months=1,
    )
    alone = solved(inputs)
    pooled = solved(inputs, [pooled_stocks(["USA", "JPN"])])
    moved = pooled.solved.values(pooled.market.variables["pool_transfer"])
    to_jpn = float(moved.filter(pl.col("destination") == "JPN")["value"].sum())
    assert to_jpn > 1.0
    shed_alone = float(served(alone, "JPN")["shed_units"].sum())
    shed_pooled = float(served(pooled, "JPN")["shed_units"].sum())
    assert shed_pooled < shed_alone
    released = pooled.stocks().filter(pl.col("node") == "USA")["release_units"].sum()
    assert to_jpn <= released + 1e-6
