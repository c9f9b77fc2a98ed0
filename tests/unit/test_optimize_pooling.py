"""Pooling: shared stocks under a burden-sharing rule against going alone, by hand."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.errors import DataError
from resilience.optimize import scenarios_data as sd
from resilience.optimize.diversify import DiversifyPolicy
from resilience.optimize.inputs import ModelData
from resilience.optimize.pooling import capacity_shares, member_data, run_pooling, sharing_rule
from resilience.optimize.recourse import RecourseSettings
from resilience.optimize.solve import InfeasibleModelError
from resilience.optimize.stress import StressSettings, run_stress
from resilience.testing import QUIET, row, world

# ----------------------------------------------------------------------------- the world
# DEU needs 60 t and FRA 40 t of lithium. CHN sells at 10 USD/t, BRA at 14 (1000 t each,
# neither allied: no spot). Unit value median(10, 14) = 12: v = 60, transfer cost 0.12,
# holding cost set to 40 % = 4.8 USD/t/yr. CHN embargoes DEU (prob. 0.06) or FRA (0.04).
# Going alone, per tonne: CHN + stock 14.8, BRA 14, CHN + shortfall: DEU 10 + 0.06 x 60 =
#   13.6, FRA 10 + 0.04 x 60 = 12.4 -> both buy from CHN and accept the shortfall.
#   DEU: 600 + 0.06 x 60 x 60 = 816 (exp. shortfall 3.6 t); FRA: 400 + 0.04 x 40 x 60 = 496
#   (1.6 t). Total 1312.
# Pooled, one tonne of stock (up to 40 t) serves both embargoes: it saves 0.06 x 60 +
#   0.04 x (60 - 0.12) = 5.9952 > 4.8; beyond 40 t only DEU's: 3.6 < 4.8. So k = 40 t, held
#   by DEU (the transfer is then needed only in FRA's rarer embargo). DEU's embargo leaves
#   20 t short. Pooled cost = 1000 + 40 x 4.8 + 0.06 x 20 x 60 + 0.04 x 40 x 0.12
#   = 1000 + 192 + 72 + 0.192 = 1264.192; the alliance gains 1312 - 1264.192 = 47.808.
# IEA rule: holding cost 192 split 60/40 by consumption: DEU 115.2, FRA 76.8.
#   DEU pooled = 600 + 115.2 + 72 = 787.2 (gains 28.8);
#   FRA pooled = 400 + 76.8 + 0.192 = 476.992 (gains 19.008).
EUROPE = world(
    {("DEU", "lithium"): 60, ("FRA", "lithium"): 40},
    {("CHN", "lithium"): (10, 1000), ("BRA", "lithium"): (14, 1000)},
    allies=set(),
)
EMBARGOES = sd.scenario_set(
    sd.embargo("CHN", "DEU", probability=0.06),
    sd.embargo("CHN", "FRA", probability=0.04),
    baseline_name="calm",
)
COSTLY_STOCK = StressSettings(recourse=RecourseSettings(holding_cost_share_per_year=0.4))


def test_pooling_hand_worked_iea_rule() -> None:
    r = run_pooling(EUROPE, EMBARGOES, COSTLY_STOCK, options=QUIET)
    deu, fra = row(r.members, "DEU"), row(r.members, "FRA")
    assert deu["alone_cost_usd"] == pytest.approx(816)
    assert fra["alone_cost_usd"] == pytest.approx(496)
    assert deu["pooled_cost_usd"] == pytest.approx(787.2)
    assert fra["pooled_cost_usd"] == pytest.approx(476.992)
    assert deu["gain_usd"] == pytest.approx(28.8)
    assert fra["gain_usd"] == pytest.approx(19.008)
    assert deu["pooled_holding_cost_paid_usd"] == pytest.approx(115.2)
    assert deu["alone_expected_shortfall_t"] == pytest.approx(3.6)
    assert deu["pooled_expected_shortfall_t"] == pytest.approx(0.06 * 20)
    assert fra["pooled_expected_shortfall_t"] == pytest.approx(0)
    assert deu["pooled_stock_held_t"] == pytest.approx(40)
    assert deu["alone_stock_t"] == pytest.approx(0)
    assert r.summary["pooled_total_usd"][0] == pytest.approx(1264.192)
    assert r.gain_usd == pytest.approx(47.808)
    assert r.members["pooled_cost_usd"].sum() == pytest.approx(1264.192)
    # Dual: DEU's stock is interior (40 t, no bound binds), so one more free tonne is worth
    # exactly the holding cost it would otherwise pay: 4.8 USD/t.
    stock = r.pooled_stock.filter(pl.col("member_iso3") == "DEU")
    assert stock["marginal_value_usd_per_t"][0] == pytest.approx(4.8)
    # FRA's embargo is met by 40 t passed on from DEU's stock.
    hit = r.pooled_shortfall.filter(
        (pl.col("scenario") == "embargo:CHN->FRA") & (pl.col("member_iso3") == "FRA")
    )
    assert hit["transfers_in_t"][0] == pytest.approx(40)


def test_a_user_rule_moves_gains_not_the_total() -> None:
    # Split 50/50: DEU pays 96 (gains 816 - 768 = 48), FRA pays 96 and ends up 0.192 worse
    # off than alone (496.192 - 496), while the alliance still gains 47.808.
    rule = pl.DataFrame({"member_iso3": ["DEU", "FRA"], "cost_share": [0.5, 0.5]})
    r = run_pooling(EUROPE, EMBARGOES, COSTLY_STOCK, rule=rule, options=QUIET)
    assert row(r.members, "DEU")["gain_usd"] == pytest.approx(48)
    assert row(r.members, "FRA")["gain_usd"] == pytest.approx(-0.192)
    assert r.gain_usd == pytest.approx(47.808)


def test_sharing_rules_are_checked() -> None:
    iea = sharing_rule(EUROPE)
    assert dict(iea.select("member_iso3", "cost_share").iter_rows()) == pytest.approx(
        {"DEU": 0.6, "FRA": 0.4}
    )
    with pytest.raises(DataError, match="must sum to 1"):
        sharing_rule(EUROPE, pl.DataFrame({"member_iso3": ["DEU"], "cost_share": [0.7]}))
    with pytest.raises(DataError, match="not a modelled member"):
        sharing_rule(
            EUROPE, pl.DataFrame({"member_iso3": ["DEU", "ITA"], "cost_share": [0.5, 0.5]})
        )


def test_capacity_is_split_pro_rata_to_demand() -> None:
    shares = capacity_shares(EUROPE)
    per_supplier = shares.group_by("supplier_iso3").agg(pl.col("capacity_share").sum())
    assert per_supplier["capacity_share"].to_list() == pytest.approx([1.0, 1.0])
    alone = member_data(EUROPE, "DEU")
    assert alone.members == ("DEU",)
    assert alone.capacity["capacity_t"].to_list() == pytest.approx([600.0, 600.0])


def test_infeasible_pooled_policy_names_member_and_policy() -> None:
    s = StressSettings(policy=DiversifyPolicy(max_single_supplier_share=0.4))
    # two suppliers at most 40 % each cannot cover 100 % of anyone's demand
    with pytest.raises(InfeasibleModelError) as err:
        run_pooling(EUROPE, EMBARGOES, s, options=QUIET)
    text = " ".join(err.value.explanation.sentences)
    assert "lithium" in text
    assert "from any single supplier" in text


# ----------------------------------------------------------------------------- property
@st.composite
def pooling_cases(draw: st.DrawFn) -> tuple[ModelData, pl.DataFrame]:
    members = ("DEU", "FRA", "ITA")[: draw(st.integers(2, 3))]
    comms = draw(st.sampled_from([("lithium",), ("lithium", "cobalt")]))
    sups = ["CHN", "BRA", "AUS", "CAN"][: draw(st.integers(2, 4))]
    demand = {(m, c): draw(st.integers(10, 100)) for m in members for c in comms}
    suppliers: dict[tuple[str, str], tuple[float, float]] = {}
    for c in comms:
        total = sum(d for (_, cc), d in demand.items() if cc == c)
        weights = [draw(st.integers(1, 5)) for _ in sups]
        for s, w in zip(sups, weights, strict=True):
            suppliers[(s, c)] = (draw(st.integers(8, 12)), 1.5 * total * w / sum(weights))
    allies = {s for s in sups if draw(st.booleans())}
    shocks = []
    for i in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([None, *members]))
        a = draw(st.sampled_from([0.0, 0.5]))
        p = draw(st.integers(2, 25)) / 100
        shocks.append(
            sd.embargo(
                draw(st.sampled_from(sups)), target, availability=a, probability=p, name=f"s{i}"
            )
        )
    return world(demand, suppliers, allies), sd.scenario_set(*shocks, baseline_name="calm")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pooling_cases(), st.sampled_from([0.0, 0.5]), st.sampled_from([0.1, 0.4]))
def test_pooling_never_leaves_the_alliance_worse_off(
    case: tuple[ModelData, pl.DataFrame], cvar_weight: float, holding_share: float
) -> None:
    # The members' alone solutions together are feasible for the pooled model (capacity
    # split pro rata, no transfers), and CVaR is subadditive: pooled <= sum of alone.
    data, scen = case
    s = StressSettings(
        recourse=RecourseSettings(holding_cost_share_per_year=holding_share),
        cvar_weight=cvar_weight,
    )
    r = run_pooling(data, scen, s, options=QUIET)
    alone = r.summary["alone_total_usd"][0]
    assert r.summary["pooled_total_usd"][0] <= alone + 1e-6 * max(1.0, alone)
    # the allocated member costs add up to the pooled objective, whatever the members gain
    assert r.members["pooled_cost_usd"].sum() == pytest.approx(
        r.summary["pooled_total_usd"][0], rel=1e-6
    )
    # and the pooled run is the joint stress model itself
    joint = run_stress(data, scen, s, QUIET)
    assert joint.objective_usd == pytest.approx(r.summary["pooled_total_usd"][0], rel=1e-6)


def test_pooling_on_real_data_never_costs_the_alliance_more():
    """Regression: JPN + KOR natural graphite 2023 under a Chinese blockade (shipped data).

    Members going alone see fewer suppliers than the alliance (never themselves); their
    costs must still be priced from the alliance's unit values, or pooling looked
    66,140 USD dearer than going alone.
    """
    from resilience import data as shipped
    from resilience.build.dependency import trade_shares
    from resilience.optimize.inputs import model_data
    from resilience.optimize.pooling import run_pooling
    from resilience.optimize.scenarios_data import blockade, scenario_set

    members = ["JPN", "KOR"]
    md = model_data(
        trade_shares(shipped.scan_trade()), members, 2023, members, [("graphite", "mining")]
    )
    scenarios = scenario_set(
        blockade("CHN", [("graphite", "mining")], probability=0.3, name="china_blockade"),
        baseline_name="calm",
    )
    result = run_pooling(md, scenarios)
    summary = result.summary.row(0, named=True)
    assert summary["pooled_total_usd"] <= summary["alone_total_usd"] * (1 + 1e-9)
