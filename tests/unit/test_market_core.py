"""The market core on tiny worlds: closed forms, calibration, equilibrium, hooks, words."""

from __future__ import annotations

import dataclasses
import logging
import math

import polars as pl
import pytest

from resilience.optimize.compile import compile_model
from resilience.optimize.market import (
    EXPLANATIONS,
    MarketResult,
    MarketSettings,
    build_market,
    expected_loss,
    prebuilt_stock,
    run_market,
    solve_market,
    welfare_loss,
)
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.demand import demand_blocks, inverse_demand, price_bracket
from resilience.optimize.market.supply import supply_blocks
from resilience.optimize.market.testing import DEFAULT_PARAMETERS, GOOD, cut, parameters, world
from resilience.optimize.solve import InfeasibleModelError, SolverOptions

QUIET = SolverOptions(log_to="off")
P0 = DEFAULT_PARAMETERS["p0_usd_per_unit"]
EPS = DEFAULT_PARAMETERS["demand_elasticity"]
VOLL = DEFAULT_PARAMETERS["voll_multiple"]
ESS = DEFAULT_PARAMETERS["essential_share"]


def one(frame: pl.DataFrame, column: str, **keys: object) -> float:
    rows = frame.filter(*[pl.col(k) == v for k, v in keys.items()])
    assert rows.height == 1, (keys, rows)
    return float(rows[column][0])


def single_supplier(x: float, settings: MarketSettings | None = None) -> MarketResult:
    """S ships its whole output q0 = 100 to M; S's output is cut by x units."""
    w = world(
        {("M", GOOD): 100.0},
        {("S", GOOD): 100.0},
        {("S", "M", GOOD): 100.0},
        availability=cut("S", (100.0 - x) / 100.0, [1]),
    )
    return run_market(w, settings, options=QUIET)


# ----------------------------------------------------------------------------- closed form
@pytest.mark.parametrize("x", [5.0, 25.0, 37.0, 55.0, 65.0])
def test_cut_gives_the_isoelastic_price_within_the_step_error_and_sheds_the_cut(x: float) -> None:
    r = single_supplier(x)
    share = (100.0 - x) / 100.0
    closed = P0 * share ** (1.0 / EPS)
    low, high = price_bracket(P0, EPS, VOLL, ESS, share, r.market.settings)
    price = one(r.prices(), "price_usd_per_unit", node="M")
    # the bracket is the derived step error: both the LP price and the curve lie in it
    assert low - 1e-6 <= price <= high + 1e-6
    assert low - 1e-6 <= closed <= high + 1e-6
    assert abs(price - closed) <= high - low + 1e-6
    assert (high - low) / closed < 0.45  # the bound is informative, not vacuous
    assert one(r.demand(), "shed_units", node="M") == pytest.approx(x, abs=1e-7)


def test_finer_blocks_converge_to_the_closed_form() -> None:
    fine = MarketSettings(months=1, demand_blocks=400)
    for x in (25.0, 55.0):
        price = one(single_supplier(x, fine).prices(), "price_usd_per_unit", node="M")
        assert price == pytest.approx(P0 * ((100 - x) / 100) ** (1 / EPS), rel=0.01)


def test_a_cut_into_the_essential_tranche_is_priced_at_voll() -> None:
    r = single_supplier(90.0)
    assert one(r.prices(), "price_usd_per_unit", node="M") == pytest.approx(VOLL * P0)
    assert one(r.demand(), "shed_units", node="M") == pytest.approx(90.0)
    assert inverse_demand(P0, EPS, VOLL, ESS, 0.1) == VOLL * P0


# ----------------------------------------------------------------------------- blockade, stock
def test_a_blockaded_producer_delivers_nothing() -> None:
    rows = [
        *cut("S1", 0.0, range(1, 4), destination="M"),
        *cut("S1", 0.0, range(1, 4), destination="N"),
    ]
    w = world(
        {("M", GOOD): 100.0, ("N", GOOD): 50.0},
        {("S1", GOOD): 90.0, ("S2", GOOD): 60.0},
        {
            ("S1", "M", GOOD): 60.0,
            ("S1", "N", GOOD): 30.0,
            ("S2", "M", GOOD): 40.0,
            ("S2", "N", GOOD): 20.0,
        },
        params=parameters({GOOD: {"spare_capacity_share": 0.3}}),
        availability=rows,
        months=3,
    )
    r = run_market(w, options=QUIET)
    out_of_s1 = r.flows().filter(pl.col("origin") == "S1")
    assert out_of_s1.height == 6
    assert out_of_s1["flow_units"].abs().max() == pytest.approx(0.0, abs=1e-9)
    assert r.supply().filter(pl.col("node") == "S1")["output_units"].max() == pytest.approx(0.0)
    for node in ("M", "N"):
        assert r.prices().filter(pl.col("node") == node)["price_usd_per_unit"].min() > 1.5 * P0
    # S2 raises output into its spare capacity (above 60) at rising prices
    assert r.supply().filter(pl.col("node") == "S2")["output_units"].min() > 60.0 + 1e-6


def test_a_member_whose_stock_covers_the_cut_sheds_nothing_and_pays_p0() -> None:
    months = 3
    w = world(
        {("M", GOOD): 100.0},
        {("S", GOOD): 100.0},
        {("S", "M", GOOD): 100.0},
        stocks={("M", GOOD): (500.0, 600.0, 40.0)},
        availability=cut("S", 0.7, range(1, months + 1)),
        months=months,
    )
    r = run_market(w, options=QUIET)
    assert r.demand()["shed_units"].max() == pytest.approx(0.0, abs=1e-7)
    prices = r.prices().filter(pl.col("node") == "M")["price_usd_per_unit"]
    assert prices.to_list() == pytest.approx([P0] * months, rel=2 * CALIBRATION_TIE)
    st = r.stocks()
    net = (st["release_units"] - st["build_units"]).to_list()
    assert net == pytest.approx([30.0] * months)
    assert one(st, "drawdown_units", month=3) == pytest.approx(90.0)
    # a draw rate below the cut: the member sheds what the draw cannot cover
    slow = run_market(
        w.with_changes(stocks=w.stocks.with_columns(pl.lit(20.0).alias("draw_units_per_month"))),
        options=QUIET,
    )
    assert slow.demand()["shed_units"].to_list() == pytest.approx([10.0] * months)


# ----------------------------------------------------------------------------- calibration
def calibration_world(**kwargs: object) -> object:
    return world(
        {("A", GOOD): 100.0, ("B", GOOD): 100.0, ("C", GOOD): 50.0},
        {("S1", GOOD): 150.0, ("S2", GOOD): 100.0},
        {
            ("S1", "A", GOOD): 100.0,
            ("S1", "B", GOOD): 50.0,
            ("S2", "B", GOOD): 50.0,
            ("S2", "C", GOOD): 50.0,
            ("S2", "A", GOOD): 0.0,
            ("S1", "C", GOOD): 0.0,
        },
        params=parameters({GOOD: {"spare_capacity_share": 0.2}}),
        months=2,
        **kwargs,  # type: ignore[arg-type]
    )


def test_with_no_disruption_the_market_reproduces_observed_flows_and_p0() -> None:
    w = calibration_world()
    r = run_market(w, options=QUIET)
    flows = r.flows().join(w.arcs, on=["origin", "destination", "good"])
    assert (flows["flow_units"] - flows["flow0_units_per_month"]).abs().max() < 1e-7
    assert r.demand()["shed_units"].max() < 1e-7
    assert (r.demand()["served_units"] - r.demand()["q0_units"]).abs().max() < 1e-7
    # every price is P0 within 2 * CALIBRATION_TIE (the stated tolerance)
    prices = r.prices()["price_usd_per_unit"]
    assert prices.len() == 10
    assert ((prices - P0).abs() / P0).max() <= 2 * CALIBRATION_TIE + 1e-12
    # no calibration band: an edge at q0 and the price anywhere between two block values
    coarse = run_market(w, MarketSettings(months=2, calibration_band=0.0), options=QUIET)
    low, high = price_bracket(P0, EPS, VOLL, ESS, 1.0, coarse.market.settings)
    p = coarse.prices().filter(pl.col("node") == "A")["price_usd_per_unit"]
    assert low - 1e-9 <= p.min()
    assert p.max() <= high + 1e-9
    assert high / low > 1.1


# ----------------------------------------------------------------------------- equilibrium
def equilibrium_world(tau: float, avail: float) -> MarketResult:
    w = world(
        {("M", GOOD): 100.0, ("T", GOOD): 80.0, ("A", GOOD): 30.0},
        {("A", GOOD): 150.0, ("B", GOOD): 60.0},
        {
            ("A", "M", GOOD): 70.0,
            ("A", "T", GOOD): 50.0,
            ("B", "M", GOOD): 30.0,
            ("B", "T", GOOD): 30.0,
            ("T", "M", GOOD): 0.0,
        },
        params=parameters(
            {
                GOOD: {
                    "friction_share": tau,
                    "spare_capacity_share": 0.3,
                    "ramp_share_per_month": 1.0,
                }
            }
        ),
        availability=cut("A", avail, [1], destination="M"),
    )
    return run_market(w, options=QUIET)


@pytest.mark.parametrize(("tau", "avail"), [(0.05, 0.0), (0.1, 0.3), (0.3, 0.0), (0.02, 0.6)])
def test_price_gaps_never_exceed_the_friction_and_equal_it_where_growth_is_interior(
    tau: float, avail: float
) -> None:
    r = equilibrium_world(tau, avail)
    prices = r.prices().select("node", "price_usd_per_unit")
    growth_ub = r.solved.values(r.market.variables["flow_growth"])
    caps = r.market.variables["flow_growth"]
    ub = {k: v.ub for k, v in caps.items()}
    f = (
        r.flows()
        .join(prices.rename({"node": "origin", "price_usd_per_unit": "p_o"}), on="origin")
        .join(prices.rename({"node": "destination", "price_usd_per_unit": "p_d"}), on="destination")
        .with_columns((pl.col("p_d") - pl.col("p_o")).alias("gap"))
    )
    friction = tau * P0
    interior = 0
    for row in f.iter_rows(named=True):
        key = (row["origin"], row["destination"], row["good"], row["month"], row["scenario"])
        cap = ub[key]
        if row["growth_units"] < cap - 1e-7:  # growth could still rise
            assert row["gap"] <= friction + 1e-6, row
        if 1e-7 < row["growth_units"] < cap - 1e-7:
            interior += 1
            assert row["gap"] == pytest.approx(friction, abs=1e-6), row
    assert growth_ub.height == 5
    assert interior >= 1  # the check bites: some arc carries growth below its limit


# ----------------------------------------------------------------------------- stages
def test_a_cut_upstream_lowers_downstream_output_in_proportion_to_the_coefficient() -> None:
    ore, metal = "cobalt/mining", "cobalt/refining"
    params = parameters({ore: {"p0_usd_per_unit": 1000.0}, metal: {"p0_usd_per_unit": 2000.0}})
    yield_ = 0.8

    def run(avail: float) -> MarketResult:
        w = world(
            {("M", metal): 80.0},
            {("X", ore): 100.0},
            {("X", "R", ore): 100.0, ("R", "M", metal): 80.0},
            params=params,
            processes={("R", "refine"): (metal, 80.0, {ore: 1.0 / yield_})},
            availability=cut("X", avail, [1], good=ore),
        )
        return run_market(w, options=QUIET)

    base = one(run(1.0).conversion(), "output_units", process="refine")
    assert base == pytest.approx(80.0)
    for x in (10.0, 35.0):
        out = one(run((100.0 - x) / 100.0).conversion(), "output_units", process="refine")
        assert base - out == pytest.approx(yield_ * x, abs=1e-7)


# ----------------------------------------------------------------------------- welfare, duals
def rich_world(scenarios: dict[str, float] | None = None) -> object:
    ore, metal = "cobalt/mining", GOOD
    return world(
        {("M", metal): 100.0, ("N", metal): 40.0, ("X", ore): 10.0},
        {("X", ore): 150.0, ("S", metal): 20.0},
        {
            ("X", "R", ore): 140.0,
            ("R", "M", metal): 90.0,
            ("R", "N", metal): 22.0,
            ("S", "M", metal): 10.0,
            ("S", "N", metal): 10.0,
            ("N", "M", metal): 0.0,
        },
        params=parameters({ore: {"spare_capacity_share": 0.2}, metal: {"friction_share": 0.05}}),
        processes={("R", "refine"): (metal, 120.0, {ore: 1.25})},
        stocks={("M", metal): (50.0, 100.0, 20.0)},
        scenarios=scenarios or {"cut": 0.6, "mild": 0.4},
        availability=[
            *cut("X", 0.5, [1, 2], good=ore),
            *cut("X", 0.8, [2, 3], good=ore, scenario="mild"),
        ],
        months=3,
    )


def test_surpluses_and_trade_rent_add_up_to_the_objective() -> None:
    r = run_market(rich_world(), options=QUIET)
    surplus = r.surplus().group_by("scenario").agg(pl.col("welfare_usd").sum())
    total = surplus.join(r.trade_rent(), on="scenario").join(
        r.market.inputs.scenarios, on="scenario"
    )
    expected = (total["probability"] * (total["welfare_usd"] + total["trade_rent_usd"])).sum()
    assert expected == pytest.approx(r.solved.objective, rel=1e-9)


def test_welfare_loss_is_positive_for_the_member_hit_and_producers_gain() -> None:
    hit = single_supplier(30.0)
    base = run_market(hit.market.inputs.without_disruption(), options=QUIET)
    loss = welfare_loss(base, hit)
    m = loss.filter(pl.col("node") == "M").row(0, named=True)
    s = loss.filter(pl.col("node") == "S").row(0, named=True)
    assert m["consumer_loss_usd"] > 0
    assert s["producer_gain_usd"] > 0
    # consumer value lost (the demand steps between 70 and 100) plus the extra cost
    # of the 70 units still bought, less the base cost of the 30 no longer bought
    p_base = one(base.prices(), "price_usd_per_unit", node="M")
    p_hit = one(hit.prices(), "price_usd_per_unit", node="M")
    value_lost = one(base.surplus(), "consumer_value_usd", node="M") - one(
        hit.surplus(), "consumer_value_usd", node="M"
    )
    overlap = (
        pl.min_horizontal("hi_share", pl.lit(1.0)) - pl.max_horizontal("lo_share", pl.lit(0.7))
    ).clip(lower_bound=0.0)
    blocks = demand_blocks(hit.market.inputs, hit.market.settings)
    by_hand = blocks.select((100.0 * overlap * pl.col("value_usd_per_unit")).sum()).item()
    assert value_lost == pytest.approx(by_hand, rel=1e-9)
    assert m["consumer_loss_usd"] == pytest.approx(
        value_lost + 70.0 * p_hit - 100.0 * p_base, rel=1e-9
    )
    assert m["net_loss_usd"] == pytest.approx(m["consumer_loss_usd"])
    two = run_market(rich_world(), options=QUIET)
    losses = welfare_loss(run_market(two.market.inputs.without_disruption(), options=QUIET), two)
    expected = expected_loss(losses, two.market.inputs.scenarios)
    cut_m = one(losses, "net_loss_usd", node="M", scenario="cut")
    mild_m = one(losses, "net_loss_usd", node="M", scenario="mild")
    assert one(expected, "net_loss_usd", node="M") == pytest.approx(0.6 * cut_m + 0.4 * mild_m)
    assert cut_m > mild_m > 0


def test_the_market_takes_the_pre_compiled_hand_off(caplog: pytest.LogCaptureFixture) -> None:
    market = build_market(rich_world())
    with caplog.at_level(logging.DEBUG, logger="resilience.optimize.compile"):
        compiled = compile_model(market.model)
    assert "general route" not in caplog.text
    assert compiled.lp.num_col_ == sum(len(v) for v in market.variables.values())


def test_marginal_values_of_capacity_and_stock_have_the_documented_sign() -> None:
    r = single_supplier(30.0)
    price = one(r.prices(), "price_usd_per_unit", node="S")
    blocks = supply_blocks(r.market.inputs, r.market.settings)
    top_cost = float(blocks["cost_usd_per_unit"][-1])
    cap = r.capacity_values().filter(pl.col("kind") == "supply")
    assert one(cap, "value_usd_per_unit", origin="S") == pytest.approx(price - top_cost)
    # a small stock fully drawn in a one-month shortage: one more unit is worth the price
    w = world(
        {("M", GOOD): 100.0},
        {("S", GOOD): 100.0},
        {("S", "M", GOOD): 100.0},
        stocks={("M", GOOD): (10.0, 100.0, 100.0)},
        availability=cut("S", 0.7, [1]),
    )
    rs = run_market(w, options=QUIET)
    p_m = one(rs.prices(), "price_usd_per_unit", node="M")
    assert p_m > 1.2 * P0
    assert one(rs.stock_values(), "value_usd_per_unit", node="M") == pytest.approx(p_m)
    # a stock that is not used: one more unit is only worth P0 at the end
    big = run_market(
        w.with_changes(stocks=w.stocks.with_columns(pl.lit(80.0).alias("initial_units"))),
        options=QUIET,
    )
    assert one(big.stock_values(), "value_usd_per_unit", node="M") == pytest.approx(P0)


# ----------------------------------------------------------------------------- first stage
def crisis_world(p_crisis: float) -> object:
    if p_crisis == 0.0:
        return world(
            {("M", GOOD): 100.0},
            {("S", GOOD): 100.0},
            {("S", "M", GOOD): 100.0},
            stocks={("M", GOOD): (0.0, 1000.0, 1000.0)},
            months=3,
        )
    return world(
        {("M", GOOD): 100.0},
        {("S", GOOD): 100.0},
        {("S", "M", GOOD): 100.0},
        stocks={("M", GOOD): (0.0, 1000.0, 1000.0)},
        scenarios={"calm": 1.0 - p_crisis, "crisis": p_crisis},
        availability=cut("S", 0.5, [1, 2, 3], scenario="crisis"),
        months=3,
    )


def built(p_crisis: float) -> float:
    hook = prebuilt_stock(pl.DataFrame({"node": ["M"], "good": [GOOD], "max_units": [None]}))
    r = run_market(crisis_world(p_crisis), extensions=[hook], options=QUIET)
    return float(r.solved.values(r.market.variables["prebuilt_stock"])["value"][0])


def test_a_pre_crisis_stock_build_is_chosen_once_for_all_scenarios() -> None:
    hook = prebuilt_stock(pl.DataFrame({"node": ["M"], "good": [GOOD], "max_units": [None]}))
    w = crisis_world(0.5)
    with_hook = run_market(w, extensions=[hook], options=QUIET)
    without = run_market(w, options=QUIET)
    z = with_hook.solved.values(with_hook.market.variables["prebuilt_stock"])
    assert z.height == 1
    assert z["value"][0] > 1.0
    # it enters month 1 of every scenario
    st = with_hook.stocks().filter(pl.col("month") == 1)
    for s in ("calm", "crisis"):
        row = st.filter(pl.col("scenario") == s).row(0, named=True)
        assert row["stock_units"] == pytest.approx(
            z["value"][0] + row["build_units"] - row["release_units"], abs=1e-7
        )
    assert with_hook.solved.objective > without.solved.objective + 1.0
    crisis = pl.col("scenario") == "crisis"
    assert (
        with_hook.demand().filter(crisis)["shed_units"].sum()
        < without.demand().filter(crisis)["shed_units"].sum()
    )
    # bought at P0, it is never worth building without a crisis; more of it the likelier
    assert built(0.0) == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < built(0.02) <= built(0.2) <= built(0.5) + 1e-9


# ----------------------------------------------------------------------------- words
def test_every_constraint_family_has_an_explanation_in_users_words() -> None:
    market = build_market(rich_world())
    import pyomo.environ as pyo

    names = {c.name for c in market.model.component_objects(pyo.Constraint, active=True)}
    assert names == {"balance", "stock_flow", "stock_excess"}
    for name in names:
        assert name in EXPLANATIONS
        assert name in market.explanations
        first = market.rows[name].row(0)
        sentence = market.describe(name, first)
        assert sentence is not None
        assert str(first[0]) in sentence
        assert "{" not in sentence


def test_an_impossible_requirement_is_explained_in_users_words() -> None:
    def floor(builder, inputs) -> None:  # type: ignore[no-untyped-def]
        rows = (
            builder.families["stock_flow"]
            .rows.filter(pl.col("month") == 2)
            .select(
                "node",
                "good",
                "month",
                "scenario",
                pl.lit(150.0).alias("lb"),
                pl.lit(None, dtype=pl.Float64).alias("ub"),
            )
        )
        builder.add_rows(
            "reserve_floor",
            rows,
            ["node", "good", "month", "scenario"],
            "the reserve of {good} at {node} must hold 150 units in month {month}",
        )
        builder.add_terms(
            "reserve_floor",
            builder.variables["stock"],
            rows.select("node", "good", "month", "scenario", pl.lit(1.0).alias("coef")),
            ["node", "good", "month", "scenario"],
        )

    w = world(
        {("M", GOOD): 100.0},
        {("S", GOOD): 100.0},
        {("S", "M", GOOD): 100.0},
        stocks={("M", GOOD): (10.0, 100.0, 100.0)},
        months=2,
    )
    market = build_market(w, extensions=[floor])
    with pytest.raises(InfeasibleModelError) as info:
        solve_market(market, QUIET)
    sentences = " ".join(info.value.explanation.sentences)  # type: ignore[union-attr]
    assert "must hold 150 units in month 2" in sentences
    assert math.isfinite(len(sentences))


def test_supply_blocks_below_the_cost_floor_cost_nothing() -> None:
    """Crude oil's supply elasticity (0.015) makes its lowest blocks cost ~P0 x 1e-40."""
    from resilience.optimize.market.supply import COST_FLOOR_SHARE, supply_blocks
    from resilience.optimize.market.testing import GOOD, world

    inputs = world({("USA", GOOD): 100.0}, {("CAN", GOOD): 100.0}, {("CAN", "USA", GOOD): 100.0})
    inputs = dataclasses.replace(
        inputs,
        parameters=inputs.parameters.with_columns(pl.lit(0.015).alias("supply_elasticity")),
    )
    blocks = supply_blocks(inputs, MarketSettings())
    p0 = inputs.parameter_frame()["p0_usd_per_unit"][0]
    cost = blocks["cost_usd_per_unit"].to_numpy()
    assert cost[0] == 0.0  # P0 x 0.25^66.7 / 67.7 is about P0 x 1e-42: floored
    assert ((cost == 0.0) | (cost >= COST_FLOOR_SHARE * p0)).all()
    # the block just below observed output keeps its curve value (not floored)
    assert 0.0 < cost[blocks["hi_share"].to_numpy() < 1.0].max() < p0
