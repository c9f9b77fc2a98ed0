"""Stress (two-stage stochastic LP) and the scenario frames it reads: tiny worlds solved by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.errors import DataError
from resilience.optimize import scenarios_data as sd
from resilience.optimize.diversify import DiversifyPolicy
from resilience.optimize.inputs import ModelData
from resilience.optimize.recourse import RecourseSettings
from resilience.optimize.solve import InfeasibleModelError
from resilience.optimize.stress import StockPolicy, StressResult, StressSettings, cvar, run_stress
from resilience.testing import QUIET, STAGE, value, world

# ----------------------------------------------------------------------------- the world
# USA needs 100 t of refined lithium a year. CHN (not allied) sells at 10 USD/t with 200 t
# of capacity; allies AUS (12 USD/t, 50 t) and CAN (14 USD/t, 30 t).
# Unit value = median(10, 12, 14) = 12 USD/t, so with the defaults
#   holding cost h = 10 % x 12 = 1.2 USD/t/yr, value of lost supply v = 5 x 12 = 60 USD/t,
#   spot price AUS = 1.5 x 12 = 18, CAN = 1.5 x 14 = 21 USD/t.
# Scenarios: CHN blockaded (availability 0) with probability 0.05, calm otherwise.
# Expected cost of each way to cover one tonne of demand:
#   contract AUS 12; contract CAN 14;
#   CHN + AUS spot in the blockade: 10 + 0.05 x 18 = 10.90 (uses a tonne of AUS capacity)
#   CHN + CAN spot:                10 + 0.05 x 21 = 11.05 (uses a tonne of CAN capacity)
#   CHN + a tonne of stock:        10 + 1.2       = 11.20
#   CHN + shortfall:               10 + 0.05 x 60 = 13.00
LITHIUM = world(
    {("USA", "lithium"): 100},
    {("CHN", "lithium"): (10, 200), ("AUS", "lithium"): (12, 50), ("CAN", "lithium"): (14, 30)},
    allies={"AUS", "CAN"},
)
BLOCKADE = sd.scenario_set(sd.blockade("CHN", probability=0.05), baseline_name="calm")


def test_stress_hand_worked_stock_free() -> None:
    # Cheapest first: all 100 t from CHN, backed by 50 t AUS spot (10.90), 30 t CAN spot
    # (11.05) and 20 t of stock (11.20 < 12 for an AUS contract).
    # objective = 100 x 10 + 20 x 1.2 + 0.05 x (50 x 18 + 30 x 21) = 1000 + 24 + 76.5 = 1100.5
    r = run_stress(LITHIUM, BLOCKADE, StressSettings(), QUIET)
    assert r.objective_usd == pytest.approx(1100.5)
    assert value(r.plan, "quantity_t", supplier_iso3="CHN") == pytest.approx(100)
    assert r.plan.filter(pl.col("supplier_iso3") != "CHN")["quantity_t"].sum() == pytest.approx(0)
    assert value(r.stock, "stock_t", member_iso3="USA") == pytest.approx(20)
    assert value(r.stock, "days_of_cover", member_iso3="USA") == pytest.approx(20 / (100 / 365))
    assert r.expected_shortfall_t == pytest.approx(0)
    hit = r.shortfall.filter(pl.col("scenario") == "blockade:CHN")
    assert hit["spot_t"][0] == pytest.approx(80)
    assert hit["released_t"][0] == pytest.approx(20)
    # Duals. The stock is interior, so a free tonne of stock saves exactly h = 1.2.
    # One more tonne of AUS capacity is one more spot tonne in the blockade replacing a
    # tonne of stock: 1.2 - 0.05 x 18 = 0.30; for CAN 1.2 - 0.05 x 21 = 0.15; CHN 0.
    assert value(r.stock, "marginal_value_usd_per_t", member_iso3="USA") == pytest.approx(1.2)
    cap = r.capacity_value
    assert value(cap, "marginal_value_usd_per_t", supplier_iso3="AUS") == pytest.approx(0.30)
    assert value(cap, "marginal_value_usd_per_t", supplier_iso3="CAN") == pytest.approx(0.15)
    assert value(cap, "marginal_value_usd_per_t", supplier_iso3="CHN") == pytest.approx(0.0)


CAPPED = StressSettings(stock=StockPolicy(max_stock_days=36.5))  # at most 36.5/365 x 100 = 10 t


def test_stress_hand_worked_stock_capped_with_shortfall() -> None:
    # Stock limited to 10 t. In the blockade AUS spot 50 + CAN spot 30 + stock 10 = 90 t:
    # 10 t short whatever the plan, because AUS and CAN capacity serves either contracts or
    # spot (an extra AUS contract tonne costs 12 + (13 - 10.90) = 14.1 > 13).
    # objective = 1000 + 10 x 1.2 + 0.05 x (900 + 630 + 10 x 60) = 1012 + 106.5 = 1118.5
    r = run_stress(LITHIUM, BLOCKADE, CAPPED, QUIET)
    assert r.objective_usd == pytest.approx(1118.5)
    assert value(r.plan, "quantity_t", supplier_iso3="CHN") == pytest.approx(100)
    assert value(r.stock, "stock_t", member_iso3="USA") == pytest.approx(10)
    assert value(r.stock, "days_of_cover", member_iso3="USA") == pytest.approx(36.5)
    # expected shortfall = 0.05 x 10 = 0.5 t, valued 0.5 x 60 = 30 USD
    assert r.expected_shortfall_t == pytest.approx(0.5)
    assert r.expected_shortfall_usd == pytest.approx(30)
    assert value(r.expected_shortfall, "expected_shortfall_share", member_iso3="USA") == (
        pytest.approx(0.005)
    )
    hit = r.shortfall.filter(pl.col("scenario") == "blockade:CHN")
    assert hit["shortfall_t"][0] == pytest.approx(10)
    assert hit["shortfall_share"][0] == pytest.approx(0.1)
    # Duals: a shortfall tonne in the blockade costs 0.05 x 60 = 3, so a free tonne of stock
    # is worth 3 (> h = 1.2: the cap binds); a tonne of AUS capacity replaces a shortfall
    # tonne by spot: 0.05 x (60 - 18) = 2.10; CAN: 0.05 x (60 - 21) = 1.95.
    assert value(r.stock, "marginal_value_usd_per_t", member_iso3="USA") == pytest.approx(3.0)
    cap = r.capacity_value
    assert value(cap, "marginal_value_usd_per_t", supplier_iso3="AUS") == pytest.approx(2.10)
    assert value(cap, "marginal_value_usd_per_t", supplier_iso3="CAN") == pytest.approx(1.95)
    # CVaR_0.95 of the valued shortfall {600 w.p. 0.05, 0 w.p. 0.95}: the worst 5 % is the
    # blockade alone, so 600; VaR_0.95 = 0 (P(L <= 0) = 0.95).
    assert r.cvar_shortfall_usd == pytest.approx(600)
    assert r.summary["var_shortfall_usd"][0] == pytest.approx(0)


def test_unit_value_override_rescales_holding_cost_and_lost_supply() -> None:
    # Unit value 20 instead of 12: h = 2, v = 100 (spot prices still follow unit costs).
    # Same plan (CHN 100, stock at its 10 t cap: 12 < 15 = CHN + shortfall);
    # objective = 1000 + 10 x 2 + 0.05 x (900 + 630 + 10 x 100) = 1146.5
    uv = pl.DataFrame({"commodity": ["lithium"], "stage": [STAGE], "unit_value_usd_per_t": [20.0]})
    s = StressSettings(
        stock=StockPolicy(max_stock_days=36.5),
        recourse=RecourseSettings(unit_value_usd_per_t=uv),
    )
    r = run_stress(LITHIUM, BLOCKADE, s, QUIET)
    assert r.objective_usd == pytest.approx(1146.5)
    assert r.expected_shortfall_usd == pytest.approx(0.05 * 10 * 100)


def test_cvar_two_scenarios_by_hand_in_the_objective() -> None:
    # lambda = 1, beta = 0.9. Losses L = {600 w.p. 0.05, 0 w.p. 0.95} (the shortfall cannot
    # be avoided, see above). RU: min_eta eta + (1/0.1) (0.05 (600 - eta)+ + 0.95 (0 - eta)+);
    # on [0, 600] it is 300 + 0.5 eta, so eta = 0 and CVaR_0.9 = 300 = mean of the worst
    # 10 % (half blockade at 600, half calm at 0).
    # objective = 1118.5 + 1 x 300 = 1418.5; the plan does not change.
    r = run_stress(
        LITHIUM,
        BLOCKADE,
        StressSettings(stock=StockPolicy(max_stock_days=36.5), cvar_weight=1.0, cvar_level=0.9),
        QUIET,
    )
    assert r.objective_usd == pytest.approx(1418.5)
    assert r.cvar_shortfall_usd == pytest.approx(300)
    assert value(r.plan, "quantity_t", supplier_iso3="CHN") == pytest.approx(100)
    # risk-adjusted probabilities (CVaR duals / lambda): 0.05/0.1 on each scenario
    weights = dict(r.scenarios.select("scenario", "tail_weight").iter_rows())
    assert weights["blockade:CHN"] == pytest.approx(0.5)
    assert weights["calm"] == pytest.approx(0.5)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_cvar_function() -> None:
    # worst 25 % of {100 w.p. 0.1, 40 w.p. 0.3, 0 w.p. 0.6}: 0.1 x 100 + 0.15 x 40 = 16 -> 64
    assert cvar([100, 40, 0], [0.1, 0.3, 0.6], 0.75) == pytest.approx(64)
    assert cvar([100, 40, 0], [0.1, 0.3, 0.6], 0.0) == pytest.approx(22)  # the mean
    with pytest.raises(ValueError, match="level"):
        cvar([1.0], [1.0], 1.0)


def test_days_of_cover_follow_a_minimum_stock_rule() -> None:
    # IEA-style floor of 90 days: k >= 90/365 x 100 = 24.66 t (> the 20 t chosen freely)
    r = run_stress(LITHIUM, BLOCKADE, StressSettings(stock=StockPolicy(min_stock_days=90)), QUIET)
    assert value(r.stock, "stock_t", member_iso3="USA") == pytest.approx(9000 / 365)
    assert value(r.stock, "days_of_cover", member_iso3="USA") == pytest.approx(90)


def test_partial_embargo_by_an_ally_limits_its_spot_sales() -> None:
    # JPN needs 100 t; allies AUS (10 USD/t, 120 t) and KOR (12 USD/t, 200 t). AUS delivers
    # only half of what it sends to JPN (availability 0.5) with probability 0.1; holding cost
    # is prohibitive (100 % of the unit value 11). AUS contracts: 10 + 0.1 x 0.5 x spot < 12,
    # so x_AUS = 100; in the embargo 50 t arrive, AUS may sell JPN spot only 0.5 x (120 - 100)
    # = 10 t (at 15), KOR the other 40 t (at 18).
    # objective = 1000 + 0.1 x (10 x 15 + 40 x 18) = 1087. One more tonne of AUS capacity
    # moves 0.5 t from KOR to AUS spot: 0.1 x 0.5 x (18 - 15) = 0.15.
    data = world(
        {("JPN", "lithium"): 100},
        {("AUS", "lithium"): (10, 120), ("KOR", "lithium"): (12, 200)},
        {"AUS", "KOR"},
    )
    scen = sd.scenario_set(
        sd.embargo("AUS", "JPN", availability=0.5, probability=0.1), baseline_name="calm"
    )
    s = StressSettings(recourse=RecourseSettings(holding_cost_share_per_year=1.0))
    r = run_stress(data, scen, s, QUIET)
    assert r.objective_usd == pytest.approx(1087)
    hit = r.shortfall.filter(pl.col("scenario") == "embargo:AUS->JPN")
    assert hit["delivered_t"][0] == pytest.approx(50)
    assert hit["spot_cost_usd"][0] == pytest.approx(870)
    assert value(r.capacity_value, "marginal_value_usd_per_t", supplier_iso3="AUS") == (
        pytest.approx(0.15)
    )


def test_a_fixed_plan_is_evaluated_not_chosen() -> None:
    # Contract the allies' whole 80 t and 20 t from CHN: in the blockade there is no spare
    # allied capacity, so stock covers the 20 t (1.2 x 20 = 24 < 0.05 x 60 x 20 = 60).
    # objective = 50 x 12 + 30 x 14 + 20 x 10 + 24 = 1244
    plan = pl.DataFrame(
        {
            "member_iso3": ["USA"] * 3,
            "supplier_iso3": ["AUS", "CAN", "CHN"],
            "commodity": ["lithium"] * 3,
            "stage": [STAGE] * 3,
            "quantity_t": [50.0, 30.0, 20.0],
        }
    )
    r = run_stress(LITHIUM, BLOCKADE, StressSettings(fixed_plan=plan), QUIET)
    assert r.objective_usd == pytest.approx(1244)
    assert value(r.stock, "stock_t", member_iso3="USA") == pytest.approx(20)
    with pytest.raises(DataError, match="not in the data"):
        run_stress(
            LITHIUM,
            BLOCKADE,
            StressSettings(fixed_plan=plan.with_columns(pl.lit("RUS").alias("supplier_iso3"))),
            QUIET,
        )


def test_infeasible_policy_names_member_commodity_and_policy() -> None:
    # No non-allied lithium at all, but the allies have only 50 + 30 = 80 t for 100 t.
    s = StressSettings(policy=DiversifyPolicy(max_non_allied_share=0.0))
    with pytest.raises(InfeasibleModelError) as err:
        run_stress(LITHIUM, BLOCKADE, s, QUIET)
    text = " ".join(err.value.explanation.sentences)
    assert "USA" in text
    assert "lithium" in text
    assert "policy: at most 0% of USA's lithium" in text


def test_infeasible_stock_policy_is_worded() -> None:
    floor = pl.DataFrame(
        {"member_iso3": ["USA"], "commodity": ["lithium"], "stage": [STAGE], "min_stock_t": [50.0]}
    )
    s = StressSettings(stock=StockPolicy(max_stock_days=36.5, min_stock_t=floor))
    with pytest.raises(InfeasibleModelError) as err:
        run_stress(LITHIUM, BLOCKADE, s, QUIET)
    (sentence,) = err.value.explanation.sentences
    assert sentence.startswith("stock policy: USA holds at least 50 t of lithium")


# ----------------------------------------------------------------------------- scenario frames
def test_scenario_validation_names_row_column_and_value() -> None:
    with pytest.raises(DataError, match="sum to 1"):
        sd.scenario_set(sd.blockade("CHN", probability=0.05))
    bad = sd.blockade("CHN", probability=0.5).with_columns(pl.lit(1.5).alias("availability"))
    with pytest.raises(DataError) as err:
        sd.validate_scenarios(pl.concat([bad, sd.baseline(0.5)]))
    (problem,) = err.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "availability", 1.5)
    two = pl.concat([sd.blockade("CHN", probability=0.5), sd.blockade("CHN", probability=0.4)])
    with pytest.raises(DataError, match="differs between rows"):
        sd.validate_scenarios(pl.concat([two, sd.baseline(0.1)]))
    with pytest.raises(DataError, match="'CNH'"):
        run_stress(
            LITHIUM,
            sd.scenario_set(sd.blockade("CNH", probability=0.1), baseline_name="calm"),
            options=QUIET,
        )


def test_arc_availability_is_sparse_and_takes_the_lowest_rule() -> None:
    data = world(
        {("USA", "lithium"): 10, ("JPN", "lithium"): 10, ("USA", "cobalt"): 5},
        {("CHN", "lithium"): (1, 50), ("AUS", "lithium"): (1, 50), ("CHN", "cobalt"): (1, 50)},
        {"AUS"},
    )
    joint = sd.combine(
        sd.outage("CHN", ["lithium"], availability=0.5),
        sd.embargo("CHN", "JPN", availability=0.2),
        name="both",
        probability=1.0,
    )
    a = sd.arc_availability(sd.validate_scenarios(joint), data)
    got = {(m, s, c): v for _, m, s, c, _, v in a.iter_rows()}
    # CHN->USA lithium 0.5 (outage), CHN->JPN lithium min(0.5, 0.2), CHN->USA cobalt untouched
    assert got == {("USA", "CHN", "lithium"): 0.5, ("JPN", "CHN", "lithium"): 0.2}
    assert sd.supplier_availability(sd.validate_scenarios(joint), data).height == 1


def test_uniform_and_baseline_helpers() -> None:
    u = sd.uniform(sd.blockade("CHN"), sd.blockade("AUS"), sd.baseline())
    assert sd.probabilities(u)["probability"].to_list() == pytest.approx([1 / 3] * 3)
    s = sd.scenario_set(sd.outage("CHN", probability=0.2), baseline_name="calm")
    assert dict(sd.probabilities(s).iter_rows())["calm"] == pytest.approx(0.8)


# ----------------------------------------------------------------------------- properties
SUPPLIERS = ["CHN", "AUS", "CAN", "KOR"]


@st.composite
def random_worlds(draw: st.DrawFn) -> tuple[ModelData, pl.DataFrame]:
    """1-2 members, 1-2 commodities, 2-4 suppliers with capacity 1.6x demand, 1-3 shocks.

    Unit costs 8-12 USD/t keep v = 5 x unit value (>= 40) above every spot price (<= 18)
    plus transfer cost, so the second stage never prefers a shortfall to a purchase.
    """
    members = draw(st.sampled_from([("USA",), ("USA", "JPN")]))
    comms = draw(st.sampled_from([("lithium",), ("lithium", "cobalt")]))
    sups = SUPPLIERS[: draw(st.integers(2, 4))]
    demand = {(m, c): draw(st.integers(10, 100)) for m in members for c in comms}
    suppliers: dict[tuple[str, str], tuple[float, float]] = {}
    for c in comms:
        total = sum(d for (_, cc), d in demand.items() if cc == c)
        weights = [draw(st.integers(1, 5)) for _ in sups]
        for s, w in zip(sups, weights, strict=True):
            suppliers[(s, c)] = (draw(st.integers(8, 12)), 1.6 * total * w / sum(weights))
    allies = {s for s in sups if draw(st.booleans())}
    shocks = []
    for i in range(draw(st.integers(1, 3))):
        sup = draw(st.sampled_from(sups))
        a = draw(st.sampled_from([0.0, 0.3, 0.5]))
        p = draw(st.integers(2, 20)) / 100
        target = draw(st.sampled_from([None, *members]))
        shocks.append(sd.embargo(sup, target, availability=a, probability=p, name=f"s{i}"))
    return world(demand, suppliers, allies), sd.scenario_set(*shocks, baseline_name="calm")


def _fixed(r: StressResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    plan = r.plan.select("member_iso3", "supplier_iso3", "commodity", "stage", "quantity_t")
    stock = r.stock.select("member_iso3", "commodity", "stage", "stock_t")
    return plan.with_columns(pl.col("quantity_t").clip(0)), stock.with_columns(
        pl.col("stock_t").clip(0)
    )


PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(random_worlds(), st.data())
def test_adding_an_ally_never_raises_expected_shortfall(
    case: tuple[ModelData, pl.DataFrame], data: st.DataObject
) -> None:
    # With the first stage held fixed (the same contracts and stocks), an extra ally only
    # adds spot options, and v > every spot price + transfer cost, so the optimal shortfall
    # cannot rise; re-optimising everything, the objective cannot rise either.
    # (With stocks re-optimised the expected shortfall CAN rise: see the next test.)
    world_, scen = case
    outsiders = sorted(set(world_.arcs.filter(~pl.col("is_ally"))["supplier_iso3"]))
    if not outsiders:
        return
    new = data.draw(st.sampled_from(outsiders))
    allies = set(world_.arcs.filter("is_ally")["supplier_iso3"]) | {new}
    base = run_stress(world_, scen, StressSettings(), QUIET)
    wider = run_stress(world_.with_allies(allies), scen, StressSettings(), QUIET)
    assert wider.objective_usd <= base.objective_usd + 1e-6 * max(1.0, base.objective_usd)
    plan, stock = _fixed(base)
    fixed = StressSettings(fixed_plan=plan, stock=StockPolicy(fixed_stock_t=stock))
    before = run_stress(world_, scen, fixed, QUIET)
    after = run_stress(world_.with_allies(allies), scen, fixed, QUIET)
    assert after.expected_shortfall_t <= before.expected_shortfall_t + 1e-6


def test_an_ally_can_rationally_lower_stock_and_raise_expected_shortfall() -> None:
    # Why the property above holds the stock fixed. USA buys 10 t from CHN, 10 t from RUS and
    # 80 t from AUS (fixed plan); CAN (12 USD/t, 10 t spare) sells nothing under contract.
    # Unit value median(10, 10, 12, 12) = 11: v = 55, spot CAN 18; holding cost set to
    # 200 % = 22 USD/t. Scenarios: CHN cut (0.3), RUS and CAN cut together (0.3), calm (0.4).
    # CAN not allied: each tonne of stock (up to 10) saves 0.6 x 55 = 33 > 22, so k = 10,
    #   no shortfall; objective = 100 + 100 + 960 + 220 = 1380.
    # CAN allied: CAN spot covers the CHN cut, a tonne of stock now saves only 0.3 x 55 =
    #   16.5 < 22, so k = 0 and the RUS cut leaves 10 t short: expected shortfall 3 t;
    #   objective = 1160 + 0.3 x 10 x 18 + 0.3 x 10 x 55 = 1379 (lower, as it must be).
    data = world(
        {("USA", "lithium"): 100},
        {
            ("CHN", "lithium"): (10, 10),
            ("RUS", "lithium"): (10, 10),
            ("AUS", "lithium"): (12, 80),
            ("CAN", "lithium"): (12, 10),
        },
        {"AUS"},
    )
    scen = sd.scenario_set(
        sd.blockade("CHN", probability=0.3),
        sd.combine(sd.blockade("RUS"), sd.blockade("CAN"), name="RUS+CAN", probability=0.3),
        baseline_name="calm",
    )
    plan = pl.DataFrame(
        {
            "member_iso3": ["USA"] * 3,
            "supplier_iso3": ["CHN", "RUS", "AUS"],
            "commodity": ["lithium"] * 3,
            "stage": [STAGE] * 3,
            "quantity_t": [10.0, 10.0, 80.0],
        }
    )
    s = StressSettings(recourse=RecourseSettings(holding_cost_share_per_year=2.0), fixed_plan=plan)
    before = run_stress(data, scen, s, QUIET)
    after = run_stress(data.with_allies({"AUS", "CAN"}), scen, s, QUIET)
    assert before.objective_usd == pytest.approx(1380)
    assert before.expected_shortfall_t == pytest.approx(0)
    assert after.objective_usd == pytest.approx(1379)
    assert after.expected_shortfall_t == pytest.approx(3)


@PROPERTY
@given(random_worlds(), st.integers(0, 60), st.integers(0, 120))
def test_more_stock_never_raises_expected_shortfall(
    case: tuple[ModelData, pl.DataFrame], low_days: int, extra_days: int
) -> None:
    # Same contracts (the cost-optimal plan, held fixed), stock floor raised from low_days
    # to low_days + extra_days: the expected shortfall cannot rise.
    world_, scen = case
    plan, _ = _fixed(run_stress(world_, scen, StressSettings(), QUIET))
    lo = run_stress(
        world_,
        scen,
        StressSettings(fixed_plan=plan, stock=StockPolicy(min_stock_days=low_days)),
        QUIET,
    )
    hi = run_stress(
        world_,
        scen,
        StressSettings(fixed_plan=plan, stock=StockPolicy(min_stock_days=low_days + extra_days)),
        QUIET,
    )
    assert hi.expected_shortfall_t <= lo.expected_shortfall_t + 1e-6
    assert math.isfinite(hi.cvar_shortfall_usd)
