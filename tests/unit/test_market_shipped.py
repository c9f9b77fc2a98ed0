"""The market core on the shipped studies (``resilience.optimize.market.from_data``).

Small settings keep each solve under a second or two: 4 months, coarse blocks, the top 5
other importers, producers above 5 % of world output or exports, one study good at a
time. What is checked holds at any setting: calibration, bounds derived by hand, the
leak of a targeted embargo, the price of pruning small producers.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market import run_market
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.disruptions import covered_months
from resilience.optimize.market.from_data import (
    QUANTITY_BASES,
    StudyMarketResult,
    StudyMarketSettings,
    run_study_market,
    study_market,
)
from resilience.optimize.market.inputs import MarketSettings
from resilience.scenarios import SpecError, load_study
from resilience.specs import CountrySet, DisruptionSpec, ScenarioSpec

MODELS = Path(__file__).resolve().parents[2] / "models"
MONTHS = 4


def small(months: int) -> StudyMarketSettings:
    """Test settings: few months, coarse blocks, top 5 importers, producers above 5 %."""
    blocks = MarketSettings(
        months=months, demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2
    )
    return StudyMarketSettings(
        months=months, top_importers=5, producer_share_threshold=0.05, market=blocks
    )


SMALL = small(MONTHS)
#: strategic stocks only: the hand bounds below assume no working stocks (those are
#: tested in tests/unit/test_stocks_data.py)
NO_WORKING_STOCKS = {"working_stock_days": 0.0}
#: calibration: observed quantities to 1e-6 of the flow, prices to 1e-5 of P0
FLOW_TOL, PRICE_TOL = 1e-6, 1e-5


@cache
def study(name: str, *goods: tuple[str, str]):  # type: ignore[no-untyped-def]
    spec = load_study(MODELS / f"{name}.yaml")
    return dataclasses.replace(spec, commodities=goods) if goods else spec


def with_scenario(spec, scenario: ScenarioSpec):  # type: ignore[no-untyped-def]
    catalogue = dataclasses.replace(
        spec.catalogue, scenarios={**spec.catalogue.scenarios, scenario.name: scenario}
    )
    return dataclasses.replace(spec, catalogue=catalogue)


def p0_and_voll(r: StudyMarketResult) -> pl.DataFrame:
    return r.market.inputs.parameter_frame().select(
        "good",
        "p0_usd_per_unit",
        (pl.col("p0_usd_per_unit") * pl.col("voll_multiple")).alias("voll"),
    )


# ----------------------------------------------------------------------------- calibration
@pytest.mark.parametrize(
    ("name", "good"),
    [
        ("g7_critical_minerals", ("graphite", "mining")),
        ("g7_critical_minerals", ("cobalt", "refining")),
        ("eu_gas_2022", ("natural_gas", "mining")),
    ],
)
def test_no_disruption_reproduces_observed_positions_and_reference_prices(name, good) -> None:
    """Calibration: output, consumption, net imports of every node and P0.

    Gross arc flows are identified only up to circulations: observed flow is free up
    to f0, so a cross-haul (DEU -> ROW and ROW -> DEU) can shrink at no cost and the
    solver may return less on both arcs. What each node produces, consumes and nets
    from trade is what the data pins down, and the model reproduces it.
    """
    market = study_market(study(name, good), None, SMALL)
    calm = market.inputs.without_disruption()
    result = run_market(calm, SMALL.market_settings())
    flows = result.flows()
    assert float(flows["growth_units"].max()) <= FLOW_TOL  # no new trade without a cause
    net = (
        pl.concat(
            [
                flows.select(pl.col("destination").alias("node"), "month", "flow_units"),
                flows.select(pl.col("origin").alias("node"), "month", -pl.col("flow_units")),
            ]
        )
        .group_by("node", "month")
        .agg(pl.col("flow_units").sum().alias("net"))
    )
    observed = market.balances.select(
        "node",
        ((pl.col("imports_units_per_year") - pl.col("exports_units_per_year")) / 12).alias("obs"),
    )
    both = net.join(observed, on="node")
    scale = float(market.balances["q0_units_per_year"].max()) / 12
    assert float((both["net"] - both["obs"]).abs().max()) <= FLOW_TOL * scale
    supply = result.supply().join(calm.supply, on=["node", "good"])
    assert (
        float((supply["output_units"] - supply["output_units_per_month"]).abs().max())
        <= FLOW_TOL * scale
    )
    p0 = calm.parameter_frame().select("good", "p0_usd_per_unit")
    priced = (
        result.prices()
        .join(calm.demand.select("node", "good"), on=["node", "good"], how="semi")
        .join(p0, on="good")
    )
    rel = (priced["price_usd_per_unit"] / priced["p0_usd_per_unit"] - 1.0).abs()
    assert float(rel.max()) <= PRICE_TOL
    demand = result.demand()
    assert float((demand["served_units"] - demand["q0_units"]).abs().max()) <= FLOW_TOL * scale


def test_balances_are_apparent_consumption_and_every_raise_is_recorded() -> None:
    market = study_market(study("g7_critical_minerals", ("graphite", "mining")), None, SMALL)
    bal = market.balances
    lhs = bal["q0_units_per_year"] + bal["exports_units_per_year"]
    rhs = (
        bal["production_units_per_year"]
        + bal["output_raised_units_per_year"]
        + bal["imports_units_per_year"]
    )
    assert float((lhs - rhs).abs().max()) < 1e-6 * float(rhs.max())
    assert float(bal["q0_units_per_year"].min()) >= 0.0
    # trade.parquet carries quantity_content: arcs are on the content basis, an arc mixing
    # in a flow without content (its quantity value-implied) says so ("content+value...")
    bases = set(market.arcs["quantity_basis"].unique())
    assert "content" in bases
    assert {p for b in bases for p in b.split("+")} <= set(QUANTITY_BASES)
    # q0 per month is a twelfth of the year whatever the horizon
    q0 = market.inputs.demand.join(bal, on=["node", "good"])
    assert math.isclose(
        float(q0["q0_units_per_month"].sum()), float(q0["q0_units_per_year"].sum()) / 12.0
    )


def test_content_quantities_are_used_when_trade_carries_them() -> None:
    spec = study("g7_critical_minerals", ("graphite", "mining"))
    trade = pl.read_parquet(Path(__file__).resolve().parents[2] / "datasets" / "trade.parquet")
    # a content column (here: twice the quantity the value buys at P0, 1080 USD/t in 2023)
    trade = trade.with_columns((2.0 * pl.col("value_usd") / 1080.0).alias("quantity_content"))
    market = study_market(spec, None, SMALL, trade=trade)
    # the same table without a content column: every quantity is value / P0
    implied = study_market(spec, None, SMALL, trade=trade.drop("quantity_content"))
    assert set(implied.arcs["quantity_basis"].unique()) == {"value_at_reference_price"}
    assert set(market.arcs["quantity_basis"].unique()) == {"content"}
    both = market.arcs.join(implied.arcs, on=["origin", "destination", "good"], suffix="_v")
    ratio = both["quantity_units_per_year"] / both["quantity_units_per_year_v"]
    assert float((ratio - 2.0).abs().max()) < 1e-9


# ----------------------------------------------------------------------------- disruptions
def test_a_disruption_of_180_days_covers_months_one_to_six() -> None:
    path = covered_months(180, 0.0, 12)
    assert path[:5] == [0.0] * 5
    assert math.isclose(path[5], 1.0 - (180 * 12 / 365 - 5))
    assert path[6:] == [1.0] * 6


@pytest.mark.parametrize(
    ("scenario", "good", "supplier", "availability"),
    [
        ("china_graphite_controls", ("graphite", "mining"), "CHN", 0.3),
        ("drc_cobalt_suspension", ("cobalt", "refining"), "COD", 0.0),
    ],
)
def test_catalogue_disruptions_cost_the_members_they_hit_within_hand_bounds(
    scenario, good, supplier, availability
) -> None:
    r = run_study_market(
        study("g7_critical_minerals", good), scenario, SMALL, overrides=NO_WORKING_STOCKS
    )
    g = f"{good[0]}/{good[1]}"
    members = r.members().filter(pl.col("scenario") == scenario)
    hit = [m for m in members["member"].to_list() if m != "JPN"]  # JPN: stock, below
    inputs = r.market.inputs
    # members cut with no stock: a real loss and a price rise; except a member whose own
    # output exceeds its consumption (on the content basis Canada refines 6.9 kt of cobalt
    # and consumes about 0.6 kt): at any price P above P0 its producers gain about
    # (P - P0) x output while its consumers lose at most (P - P0) x q0, so it gains
    output = inputs.supply.filter(pl.col("good") == g)
    for m in hit:
        row = members.filter((pl.col("member") == m) & (pl.col("good") == g)).row(0, named=True)
        q0 = inputs.demand.filter((pl.col("node") == m) & (pl.col("good") == g))
        if q0.height == 0:
            continue  # a pure exporter of the good gains (below)
        assert row["price_rise_max_pct"] > 0.0, m
        own = output.filter(pl.col("node") == m)["output_units_per_month"].sum()
        if own > float(q0["q0_units_per_month"][0]):
            assert row["welfare_loss_usd"] < 0.0, m  # a net producer gains
            assert row["producer_gain_usd"] > row["consumer_loss_usd"] > 0.0, m
        else:
            assert row["welfare_loss_usd"] > 0.0, m
        # bound: at most the whole of its consumption lost at VOLL over the horizon
        voll = p0_and_voll(r).row(0, named=True)["voll"]
        assert row["consumer_loss_usd"] <= float(q0["q0_units_per_month"][0]) * voll * MONTHS
    # no price above VOLL anywhere, ever (VOLL + a rounding hair)
    prices = r.result.prices().join(p0_and_voll(r), on="good")
    assert (prices["price_usd_per_unit"] <= prices["voll"] * (1 + 1e-6)).all()
    # the cut supplier delivers at most a of its observed flow on every cut arc and month
    cut = inputs.availability.filter(pl.col("scenario") == scenario)
    flows = r.result.flows().join(cut, on=["origin", "destination", "good", "month", "scenario"])
    arcs = inputs.arcs.select("origin", "destination", "good", "flow0_units_per_month")
    flows = flows.join(arcs, on=["origin", "destination", "good"])
    base = flows["flow_units"] - flows["growth_units"]
    assert (base <= flows["availability"] * flows["flow0_units_per_month"] + 1e-9).all()
    if availability == 0.0:
        full = flows.filter(pl.col("availability") == 0.0)
        assert full.height > 0
        assert float(full["flow_units"].abs().max()) <= 1e-9
    assert set(cut["origin"].unique()) == {supplier}
    # someone gains: a producer outside the cut sells more at the higher price
    assert r.gains().filter(pl.col("scenario") == scenario).height > 0


def test_a_stock_above_the_cut_protects_the_member_and_without_it_the_member_pays() -> None:
    spec = study("g7_critical_minerals", ("rare_earths", "refining"))
    name = "china_rare_earth_embargo_2010"
    with_stock = run_study_market(spec, name, SMALL, overrides=NO_WORKING_STOCKS)
    jpn = with_stock.members().filter((pl.col("member") == "JPN") & (pl.col("scenario") == name))
    stock = with_stock.market.stocks.filter(pl.col("chosen") & (pl.col("node") == "JPN"))
    # JOGMEC: 60 days of consumption >= 60 days of the Chinese share of it
    assert stock["item"].to_list() == ["jogmec_rare_metal_target"]
    q0 = with_stock.market.inputs.demand.filter(pl.col("node") == "JPN")["q0_units_per_month"][0]
    assert math.isclose(float(stock["initial_units"][0]), 60 / 365 * 12 * float(q0), rel_tol=1e-9)
    row = jpn.row(0, named=True)
    assert row["shed_units"] <= 1e-6 * float(q0)
    assert row["price_rise_max_pct"] <= 1e-3
    assert row["stock_drawdown_max_units"] > 0.0
    no_stock = dataclasses.replace(SMALL, stocks=False)
    bare = run_study_market(spec, name, no_stock).members()
    row = bare.filter((pl.col("member") == "JPN") & (pl.col("scenario") == name)).row(0, named=True)
    assert row["welfare_loss_usd"] > 1e6  # USD: without its stock Japan pays
    assert row["price_rise_max_pct"] > 0.0


def test_a_targeted_embargo_leaks_through_third_countries() -> None:
    """China delivers 10 % of its rare earths for 60 days, to Japan only or to everyone.

    Aimed at Japan, the rest of China's exports still flow and third countries send
    Japan more, so the other members' prices rise less than when China stops for
    everyone (they do rise: Japan, at VOLL, bids away the non-Chinese supply, and China's
    freed tonnes reach them only at its ramp, 3.3 % of its flows a month; before the
    stage rule moved Myanmar's carbonate to the mining stage, a non-Chinese "refined"
    pool 27 % of world exports kept their rise under the friction). Japan pays either
    way, at most as much aimed as stopped for everyone.

    Japan's own price is not bounded by the friction: on the content basis China sends
    Japan 12.7 kt of its 21.6 kt of imports (1.06 kt a month), so month 1 of 4 (60 days
    = 0.66 of it at availability 0.1) loses 0.9 x 0.66 x 1.06 = 0.63 kt, 46 % of Japan's
    1.37 kt of consumption; cutting its own exports (0.43 kt a month) and third
    countries' ramps (3.3 % of their flows a month) cannot cover that, so its price
    reaches VOLL in month 1 of either embargo.
    """
    spec = study("g7_critical_minerals", ("rare_earths", "refining"))
    settings = dataclasses.replace(SMALL, stocks=False)

    def event(name: str, targets: CountrySet | None) -> ScenarioSpec:
        return ScenarioSpec(
            name,
            "test",
            disruptions=(
                DisruptionSpec(
                    suppliers=CountrySet(("CHN",)),
                    probability=0.05,
                    availability=0.1,
                    duration_days=60,
                    targets=targets,
                    commodities=(("rare_earths", None),),
                ),
            ),
        )

    aimed = event("aimed", CountrySet(("JPN",)))
    full = event("full", None)
    spec = with_scenario(with_scenario(spec, aimed), full)
    loss, rise, others = {}, {}, {}
    for name in ("aimed", "full"):
        r = run_study_market(spec, name, settings)
        mine = r.members().filter(pl.col("scenario") == name)
        others[name] = mine.filter(pl.col("member") != "JPN")["price_rise_max_pct"].to_list()
        row = mine.filter(pl.col("member") == "JPN")
        loss[name] = float(row["welfare_loss_usd"][0])
        rise[name] = float(row["price_rise_max_pct"][0])
        if name == "aimed":
            into = r.result.flows().filter(
                (pl.col("destination") == "JPN")
                & (pl.col("origin") != "CHN")
                & (pl.col("scenario") == name)
            )
            assert float(into["growth_units"].sum()) > 0.0  # third countries step in
    # up to the calibration tie (prices are unique to 2 x CALIBRATION_TIE of P0)
    assert 0.0 < loss["aimed"] <= loss["full"] * (1 + 2 * CALIBRATION_TIE)
    friction_pct = 100 * r.market.inputs.parameter_frame()["friction_share"][0]
    assert rise["aimed"] > 0.0
    assert rise["full"] > 0.0
    # the leak: China's other exports flow, so the others pay less than under a full stop
    assert max(others["aimed"]) < max(others["full"]) - friction_pct
    assert max(others["full"]) > friction_pct


def test_the_taiwan_blockade_is_out_of_scope_for_critical_minerals() -> None:
    # Taiwan's share of world rare-earth exports (0.3 % value-implied, 0.21 % on the content
    # basis in 2023) is below the 1 % scope share; any share below 1 % must give this error
    share = r"out of scope.*hold 0\.\d{3}% of world exports of rare_earths"
    with pytest.raises(SpecError, match=share):
        study_market(study("g7_critical_minerals"), "taiwan_blockade", SMALL)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "content basis: keeping every producer (91 nodes) the members' price peaks at +25 % "
        "against VOLL (+294 %) pruned, losses a tenth: one good holds both the DRC's "
        "hydroxide (feedstock) and refined cobalt, so a raised output ignores where its "
        "feedstock came from. The stage rule's cobalt rule (resilience/build/stage_rule.py, "
        "defined, not applied) moves the hydroxide to cobalt/mining; then cobalt/refining "
        "alone sees no DRC cut, and with cobalt/mining added and linked "
        "(input_coefficients.csv) the world shortfall agrees pruned and unpruned (refined "
        "shed 63.5 vs 62.9 kt, 12 months, P0 of cobalt/mining overridden at 68.25 % of "
        "LME: no cited row) but the members' price peaks do not (+11.3 % vs +18.1 %, "
        "losses about 60 % apart). Needs a modelling decision, not a tolerance"
    ),
)
def test_pruning_small_producers_moves_member_prices_and_losses_little() -> None:
    """Folding producers under 5 % into the rest of the world vs keeping every one.

    Tolerance: each member's welfare loss within 5 % and the highest price of each
    member that consumes the good within 1 percentage point (DRC cobalt suspension;
    measured over 4 months: at most 4.3 % and 0 pp). Keeping every producer adds substitutes (their
    spare capacity and new arcs), so the pruned market overstates losses slightly.
    """
    spec = study("g7_critical_minerals", ("cobalt", "refining"))
    name = "drc_cobalt_suspension"
    two = small(2)
    pruned = run_study_market(spec, name, two).members()
    full = run_study_market(
        spec, name, dataclasses.replace(two, producer_share_threshold=0.0)
    ).members()
    both = pruned.join(full, on=["member", "scenario", "good"], suffix="_all").filter(
        pl.col("scenario") == name
    )
    hit = both.filter(pl.col("welfare_loss_usd_all") > 1e6)
    assert hit.height >= 4
    rel = (hit["welfare_loss_usd"] / hit["welfare_loss_usd_all"] - 1.0).abs()
    assert float(rel.max()) <= 0.05
    # prices of members that consume the good (a pure exporter's price is not unique)
    buyers = study_market(spec, name, two).inputs.demand["node"].to_list()
    priced = both.filter(pl.col("member").is_in(buyers))
    assert priced.height >= 5
    gap = (priced["price_rise_max_pct"] - priced["price_rise_max_pct_all"]).abs()
    assert float(gap.max()) <= 1.0


def test_eu_gas_stocks_share_the_eu_storage_target_by_consumption() -> None:
    market = study_market(study("eu_gas_2022"), None, SMALL, overrides=NO_WORKING_STOCKS)
    chosen = market.stocks.filter(pl.col("chosen"))
    assert set(chosen["item"]) == {"storage_filling_target_nov1"}
    # 90 % of 105 bcm = 94 500 million m3 over the EU members that consume gas
    assert math.isclose(float(chosen["initial_units"].sum()), 0.9 * 105 * 1000, rel_tol=1e-9)


def test_bad_market_overrides_name_the_parameter_and_value() -> None:
    with pytest.raises(DataError, match="ramp_share_per_month"):
        study_market(
            study("g7_critical_minerals", ("graphite", "mining")),
            None,
            SMALL,
            overrides={"graphite": {"ramp_share_per_month": 2.0}},
        )


def test_a_russian_gas_cutoff_costs_the_members_whose_cut_exceeds_their_stock() -> None:
    """Russian gas to the EU stops (the study's base scenario, 4 months here).

    Hand-derivable: a member whose Russian imports over the horizon exceed its storage
    share plus its own exports cannot cover the cut from its stock or by exporting
    less, and its neighbours' extra deliveries ramp up by at most 5 % of observed flow
    a month (and pay the friction): it pays (loss and price above P0), and no more than
    its whole consumption at VOLL. (A member whose stock exceeds its own Russian imports
    can still pay: Finland's gas comes partly through Latvia and Estonia, cut too.)
    """
    r = run_study_market(study("eu_gas_2022"), None, SMALL)
    name = "russian_gas_cutoff_2022"
    inputs = r.market.inputs
    russian = (
        inputs.arcs.filter(pl.col("origin") == "RUS")
        .select(pl.col("destination").alias("member"), "flow0_units_per_month")
        .join(
            inputs.stocks.select(pl.col("node").alias("member"), "initial_units"),
            on="member",
            how="left",
        )
        .with_columns(pl.col("initial_units").fill_null(0.0))
    )
    members = r.members().filter(pl.col("scenario") == name)
    rows = members.join(russian, on="member").join(
        inputs.demand.select(pl.col("node").alias("member"), "q0_units_per_month"), on="member"
    )
    voll = p0_and_voll(r).row(0, named=True)["voll"]
    exports = r.market.balances.select(
        pl.col("node").alias("member"), (pl.col("exports_units_per_year") / 12).alias("x")
    )
    rows = rows.join(exports, on="member")
    short = rows.filter(
        pl.col("flow0_units_per_month") * MONTHS > pl.col("initial_units") + pl.col("x") * MONTHS
    )
    # on the content basis (2023) Czechia and Slovakia: Russian gas above 700 million m3
    # a month against storage shares of 2.5-2.7 bcm; at least two keep the check non-empty
    assert set(short["member"]) >= {"CZE", "SVK"}
    assert (short["welfare_loss_usd"] > 0).all()
    assert (short["price_rise_max_pct"] > 0).all()
    assert (rows["consumer_loss_usd"] <= rows["q0_units_per_month"] * voll * MONTHS).all()


def test_rs_market_answers_in_frames_and_refuses_bad_arguments() -> None:
    import resilience as rs

    spec = study("g7_critical_minerals", ("cobalt", "refining"))
    out = rs.market(spec, "drc_cobalt_suspension", settings=SMALL, overrides=NO_WORKING_STOCKS)
    members = out["members"].filter(pl.col("scenario") == "drc_cobalt_suspension")
    assert set(members["member"]) == {"CAN", "DEU", "FRA", "GBR", "ITA", "JPN", "USA"}
    usa = members.filter((pl.col("member") == "USA") & (pl.col("good") == "cobalt/refining"))
    assert float(usa["welfare_loss_usd"][0]) > 0.0
    assert {"shed", "prices", "gains", "stocks", "out_of_scope"} <= set(out)
    assert "CAN" in out["gains"]["node"].to_list()  # Canada's cobalt refiners gain
    with pytest.raises(SpecError, match="overrides"):
        rs.market(spec, overrides=[("graphite", 1)])  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="settings"):
        rs.market(spec, settings={"months": 3})
