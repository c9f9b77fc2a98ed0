"""Coercion: the enumerated worst-strike LP and its budgeted (dualised) form, by hand."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.optimize import scenarios_data as sd
from resilience.optimize.coercion import (
    CoercionSettings,
    bloc_strategies,
    gamma_strategies,
    run_budgeted,
    run_coercion,
    top_supplier_strategies,
)
from resilience.optimize.diversify import DiversifyPolicy
from resilience.optimize.inputs import ModelData
from resilience.optimize.recourse import RecourseSettings
from resilience.optimize.solve import InfeasibleModelError
from resilience.optimize.stress import StockPolicy
from resilience.testing import QUIET, value, world

# ----------------------------------------------------------------------------- the world
# JPN needs 100 t of refined lithium. CHN (10 USD/t, 100 t) and RUS (11 USD/t, 40 t) are not
# allied; AUS (15 USD/t, 30 t) is. Unit value median(10, 11, 15) = 11: v = 55 USD/t, AUS
# spot price 1.5 x 15 = 22.5. The adversary embargoes JPN either with CHN or with RUS.
# No stock (cap 0 days), so a strike costs (contracts it cuts - AUS spare capacity)+.
# x_RUS <= 40 forces x_CHN >= 60 - x_AUS, and AUS contracts use up AUS spare 1:1, so the
# CHN strike always leaves (x_CHN - (30 - x_AUS)) >= 30 t short: theta* = 30 x 55 = 1650.
# Among plans reaching it (x_AUS = a in [0, 20], x_RUS = 40, x_CHN = 60 - a) the cost tie
# break picks a = 0: contracts 600 + 440 = 1040.
# Recourse costs: CHN strike 30 t AUS spot (675) + 30 t short (1650) = 2325;
#                 RUS strike 30 t AUS spot (675) + 10 t short (550) = 1225; mean 1775.
# objective = theta + eps x (1040 + 1775) = 1650 + 0.001 x 2815 = 1652.815
JAPAN = world(
    {("JPN", "lithium"): 100},
    {("CHN", "lithium"): (10, 100), ("RUS", "lithium"): (11, 40), ("AUS", "lithium"): (15, 30)},
    allies={"AUS"},
)
BLOCS = bloc_strategies({"china": ["CHN"], "russia": ["RUS"]}, data=JAPAN)
NO_STOCK = CoercionSettings(stock=StockPolicy(max_stock_days=0))


def test_coercion_hand_worked() -> None:
    r = run_coercion(JAPAN, BLOCS, NO_STOCK, QUIET)
    assert r.worst_case_shortfall_usd == pytest.approx(1650)
    assert r.objective_usd == pytest.approx(1652.815)
    assert value(r.plan, "quantity_t", supplier_iso3="CHN") == pytest.approx(60)
    assert value(r.plan, "quantity_t", supplier_iso3="RUS") == pytest.approx(40)
    assert value(r.plan, "quantity_t", supplier_iso3="AUS") == pytest.approx(0)
    # The adversary's best strike is China's: it binds, with the whole dual weight.
    assert r.best_strike == "bloc:china"
    strat = r.strategies
    assert value(strat, "adversary_weight", strategy="bloc:china") == pytest.approx(1.0)
    assert value(strat, "adversary_weight", strategy="bloc:russia") == pytest.approx(0.0)
    assert strat.filter("is_binding")["strategy"].to_list() == ["bloc:china"]
    assert value(strat, "shortfall_t", strategy="bloc:russia") == pytest.approx(10)
    # What the plan concedes to it: 30 t of JPN's lithium, 30 % of demand, 1650 USD.
    (row,) = r.concessions.iter_rows(named=True)
    assert (row["member_iso3"], row["commodity"]) == ("JPN", "lithium")
    assert row["shortfall_t"] == pytest.approx(30)
    assert row["shortfall_share"] == pytest.approx(0.3)
    assert row["shortfall_usd"] == pytest.approx(1650)
    # Dual: one more tonne of AUS capacity is one more spot tonne under both strikes:
    # CHN strike: theta falls by v = 55, plus eps/2 x (55 - 22.5); RUS strike eps/2 x
    # (55 - 22.5) -> 55 + 0.001 x 32.5 = 55.0325 USD/t.
    assert value(r.capacity_value, "marginal_value_usd_per_t", supplier_iso3="AUS") == (
        pytest.approx(55.0325)
    )


def test_coercion_with_a_stock_cap() -> None:
    # Up to 36.5 days = 10 t of stock: the CHN strike now leaves 60 - 30 - 10 = 20 t short,
    # theta = 20 x 55 = 1100, stock at its cap (36.5 days of cover).
    s = CoercionSettings(stock=StockPolicy(max_stock_days=36.5))
    r = run_coercion(JAPAN, BLOCS, s, QUIET)
    assert r.worst_case_shortfall_usd == pytest.approx(1100)
    assert value(r.stock, "stock_t", member_iso3="JPN") == pytest.approx(10)
    assert value(r.stock, "days_of_cover", member_iso3="JPN") == pytest.approx(36.5)
    assert r.best_strike == "bloc:china"


# Four suppliers of 100 t each (10, 11, 12, 13 USD/t; unit value 11.5, v = 57.5), JPN needs
# 100 t, stock up to 10 t, no spot. The adversary cuts any Gamma suppliers.
# Gamma = 1: min over plans of max_s x_s - 10 -> 25 each, theta = (25 - 10) x 57.5 = 862.5.
# Gamma = 2: min of (two largest) - 10 -> 25 each, theta = (50 - 10) x 57.5 = 2300.
FOUR = world(
    {("JPN", "lithium"): 100},
    {(s, "lithium"): (p, 100) for s, p in [("CHN", 10), ("RUS", 11), ("KAZ", 12), ("AUS", 13)]},
    allies={"AUS"},
)
NO_SPOT = CoercionSettings(
    stock=StockPolicy(max_stock_days=36.5), recourse=RecourseSettings(allow_spot=False)
)


@pytest.mark.parametrize(("gamma", "theta"), [(1, 862.5), (2, 2300.0)])
def test_budgeted_form_matches_enumeration(gamma: int, theta: float) -> None:
    # One target, one commodity, integer Gamma and no spot: the cases where the dualised
    # no-spot-recourse bound is exact (see the coercion module docstring).
    strategies = gamma_strategies(["CHN", "RUS", "KAZ", "AUS"], gamma)
    assert strategies["scenario"].n_unique() == len(list(itertools.combinations(range(4), gamma)))
    enumerated = run_coercion(FOUR, strategies, NO_SPOT, QUIET)
    budgeted = run_budgeted(FOUR, gamma, settings=NO_SPOT, options=QUIET)
    assert enumerated.worst_case_shortfall_usd == pytest.approx(theta)
    assert budgeted.worst_case_shortfall_usd == pytest.approx(theta)
    for r in (enumerated, budgeted):
        assert r.plan["quantity_t"].to_list() == pytest.approx([25.0] * 4)
    assert value(budgeted.stock, "stock_t", member_iso3="JPN") == pytest.approx(10)
    # The strike recovered from the duals spreads the budget: sum of delta = Gamma.
    assert budgeted.strike["strike_share"].sum() == pytest.approx(gamma, abs=1e-6)
    (loss,) = budgeted.losses.iter_rows(named=True)
    assert loss["lost_deliveries_t"] == pytest.approx(25 * gamma)
    assert loss["worst_shortfall_t"] == pytest.approx(25 * gamma - 10)


def test_budgeted_form_bounds_the_enumeration_with_spot() -> None:
    # With allied spare capacity the enumerated model re-sources; the dualised bound
    # ignores spot, so it can only be higher (relaxation 1 of the module docstring).
    strategies = gamma_strategies(["CHN", "RUS", "KAZ", "AUS"], 1)
    s = CoercionSettings(stock=StockPolicy(max_stock_days=36.5))
    enumerated = run_coercion(FOUR, strategies, s, QUIET)
    budgeted = run_budgeted(FOUR, 1, settings=s, options=QUIET)
    assert budgeted.worst_case_shortfall_usd >= enumerated.worst_case_shortfall_usd - 1e-6


def test_strategy_generators() -> None:
    blocs = bloc_strategies({"east": ["CHN", "RUS", "PRK"], "none": ["PRK"]}, "JPN", data=FOUR)
    assert blocs["scenario"].unique().to_list() == ["bloc:east"]
    assert sorted(blocs["supplier_iso3"].to_list()) == ["CHN", "RUS"]  # PRK supplies nothing
    top = top_supplier_strategies(JAPAN, n=1)
    assert top["scenario"].to_list() == ["supplier:CHN"]  # largest non-allied capacity
    top2 = top_supplier_strategies(JAPAN, n=3)
    assert sorted(top2["scenario"].to_list()) == ["supplier:CHN", "supplier:RUS"]
    with pytest.raises(ValueError, match="gamma"):
        gamma_strategies(["CHN"], 2)


def test_infeasible_policy_names_member_commodity_and_policy() -> None:
    # Only AUS (30 t) is allied; JPN needs 100 t with no non-allied supply allowed.
    s = CoercionSettings(policy=DiversifyPolicy(max_non_allied_share=0.0))
    with pytest.raises(InfeasibleModelError) as err:
        run_coercion(JAPAN, BLOCS, s, QUIET)
    text = " ".join(err.value.explanation.sentences)
    assert "JPN" in text
    assert "lithium" in text
    assert "policy: at most 0% of JPN's lithium" in text


# ----------------------------------------------------------------------------- property
@st.composite
def coercion_cases(draw: st.DrawFn) -> tuple[ModelData, pl.DataFrame]:
    members = draw(st.sampled_from([("USA",), ("USA", "JPN")]))
    sups = ["CHN", "RUS", "AUS", "CAN"][: draw(st.integers(2, 4))]
    demand = {(m, "lithium"): draw(st.integers(10, 100)) for m in members}
    total = sum(demand.values())
    weights = [draw(st.integers(1, 5)) for _ in sups]
    suppliers = {
        (s, "lithium"): (draw(st.integers(8, 12)), 1.5 * total * w / sum(weights))
        for s, w in zip(sups, weights, strict=True)
    }
    allies = {s for s in sups if draw(st.booleans())}
    frames = []
    for i in range(draw(st.integers(2, 3))):
        bloc = draw(st.lists(st.sampled_from(sups), min_size=1, max_size=2, unique=True))
        target = draw(st.sampled_from([None, *members]))
        a = draw(st.sampled_from([0.0, 0.5]))
        frames.append(sd.embargo(bloc, target, availability=a, name=f"sigma{i}"))
    return world(demand, suppliers, allies), sd.uniform(*frames)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coercion_cases(), st.sampled_from([0.0, 36.5]))
def test_worst_case_is_at_least_any_single_strategy(
    case: tuple[ModelData, pl.DataFrame], stock_days: float
) -> None:
    # min_x max_sigma V_sigma(x) >= max_sigma min_x V_sigma(x): the enumerated optimum is at
    # least the shortfall-minimising optimum of any one strategy taken alone (pure minimax,
    # eps = 0, so that no cost trade-off blurs the comparison).
    data, strategies = case
    s = CoercionSettings(stock=StockPolicy(max_stock_days=stock_days), cost_weight=0.0)
    worst = run_coercion(data, strategies, s, QUIET).worst_case_shortfall_usd
    for name in strategies["scenario"].unique().to_list():
        alone = run_coercion(data, strategies.filter(pl.col("scenario") == name), s, QUIET)
        assert worst >= alone.worst_case_shortfall_usd - 1e-6 * max(1.0, worst)
