"""`resilience run` on the market core: catalogue scenarios on the shipped data, by hand.

Each test writes a small study (a few members, one good) and runs one catalogue scenario,
then checks something that follows from the scenario's definition alone: a blockaded
supplier delivers nothing while the cut lasts, a supplier at availability a delivers at
most a of its observed flow, a cap holds every month, pooling costs the alliance no more
than going alone, the best strike is the costliest, an out-of-scope event is refused.

Notation: the base part of an arc's flow (``flow_units - growth_units``) is bounded by
:math:`a_{t,w} f_0` (DESIGN §4), :math:`f_0` the observed flow (``flow0_units_per_month``
of the ``flows`` table); growth on a cut arc is bounded by the same :math:`a_{t,w}`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.optimize.market.disruptions import covered_months
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.scenarios import load_study
from resilience.specs import CountrySet
from resilience.study import StudyResult, run_study, write_study

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "models" / "scenarios.yaml"
runner = CliRunner()
TOL = 1e-6
#: The default regions and horizon, coarse blocks (a second or two per run).
COARSE = StudyMarketSettings(
    market=MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2)
)

pytestmark = pytest.mark.usefixtures("restore_logging")


def study_file(tmp_path: Path, **spec: Any) -> Path:
    body = {"name": "small", "year": 2023, "allies": "G7", "catalogue": str(CATALOGUE)} | spec
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def run(tmp_path: Path, scenario: str | None, **spec: Any) -> StudyResult:
    return run_study(load_study(study_file(tmp_path, **spec)), scenario, settings=COARSE)


def fail(path: Path, scenario: str | None) -> str:
    args = ["run", str(path)] + (["--scenario", scenario] if scenario else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    return " ".join(result.output.split())


def base_flows(r: StudyResult, origins: list[str], event: str) -> pl.DataFrame:
    """Per arc from ``origins`` and month of ``event``: base flow ``hit``, observed ``calm``."""
    f = r.tables["flows"].filter(pl.col("origin").is_in(origins) & (pl.col("scenario") == event))
    return f.select(
        "origin",
        "destination",
        "good",
        "month",
        (pl.col("flow_units") - pl.col("growth_units")).alias("hit"),
        pl.col("flow0_units_per_month").fill_null(0.0).alias("calm"),
    )


# ----------------------------------------------------------------------------- disruptions
def test_drc_cobalt_suspension_congo_delivers_nothing_and_prices_rise(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        "drc_cobalt_suspension",
        members=["USA", "JPN", "DEU"],
        commodities=["cobalt/refining"],
        model="stress",
        policy={"max_stock_days": 0},
    )
    flows = base_flows(r, ["COD"], "drc_cobalt_suspension")
    cut = covered_months(120, 0.0, 12)  # the catalogue: 120 days at availability 0
    assert flows.height > 0
    for month, a in enumerate(cut, start=1):
        rows = flows.filter(pl.col("month") == month)
        assert (rows["hit"] <= a * rows["calm"] * (1 + 1e-9) + TOL).all(), month
    whole = flows.filter(pl.col("month") <= 3)
    assert float(whole["hit"].sum()) == pytest.approx(0.0, abs=TOL)
    goods = r.tables["goods"].filter(pl.col("scenario") == "drc_cobalt_suspension")
    assert (goods["price_rise_max_pct"] > 1.0).all()  # every member pays more
    loss = r.members.filter(pl.col("scenario") == "drc_cobalt_suspension")
    assert float(loss["welfare_loss_usd"].sum()) > 1e6


def test_graphite_controls_china_delivers_at_most_thirty_percent(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        "china_graphite_controls",
        members=["USA", "JPN"],
        commodities=["graphite/mining"],
        model="stress",
    )
    flows = base_flows(r, ["CHN"], "china_graphite_controls")
    path = covered_months(90, 0.3, 12)
    assert path[0] == pytest.approx(0.3)
    for month, a in enumerate(path, start=1):
        rows = flows.filter(pl.col("month") == month)
        assert (rows["hit"] <= a * rows["calm"] * (1 + 1e-9) + TOL).all(), month
    assert r.totals["worst_scenario"][0] == "china_graphite_controls"
    assert r.totals["worst_welfare_loss_usd"][0] > 0


def test_rare_earth_embargo_cuts_japan_only(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        "china_rare_earth_embargo_2010",
        members=["JPN", "USA"],
        commodities=["rare_earths/refining"],
        model="stress",
    )
    flows = base_flows(r, ["CHN"], "china_rare_earth_embargo_2010").filter(pl.col("month") == 1)
    to_japan = flows.filter(pl.col("destination") == "JPN")
    assert to_japan.height == 1
    assert float(to_japan["hit"][0]) == pytest.approx(0.0, abs=TOL)
    others = flows.filter(pl.col("destination") != "JPN")
    assert (others["calm"] > 0).any()
    # China keeps selling to everyone else at its observed flows
    assert (others["hit"] >= others["calm"] - 1e-6 * others["calm"].abs().max()).any()


def test_hormuz_closure_gulf_crude_delivers_only_what_bypasses_the_strait(
    tmp_path: Path,
) -> None:
    r = run(
        tmp_path, "hormuz_closure", members=["JPN", "KOR"], commodities=["crude_oil/mining"],
        model="stress",
    )  # fmt: skip
    flows = base_flows(r, ["KWT", "IRQ", "SAU", "ARE", "QAT", "IRN"], "hormuz_closure")
    first = flows.filter(pl.col("month") == 1)
    closed = first.filter(pl.col("origin").is_in(["KWT", "IRQ", "QAT", "IRN"]))
    assert float(closed["hit"].sum()) == pytest.approx(0.0, abs=TOL)
    saudi = first.filter(pl.col("origin") == "SAU")
    assert saudi.height > 0
    assert (saudi["hit"] <= 0.3 * saudi["calm"] * (1 + 1e-9) + TOL).all()
    # Japan and Korea hold IEA stocks (90+ days of net imports) and draw them, no faster
    # than the SPR's rate per barrel held (18 % of the stock a month, strategic_stocks.csv):
    # Japan's 232 days cover its Gulf crude, Korea's 90 days drawn at that pace do not
    # (most of its crude imports in BACI are Gulf crude), so Korea sheds and Japan does not
    calm = r.tables["goods"].filter(pl.col("scenario") == "calm")
    # net of the month's rebuilds: nothing in calm (gross, the LP's free release-and-rebuild
    # in one month made the EU "release" 255.8 Mt of crude in the flagship's calm scenario)
    assert (calm["stock_released_units"] <= 1.0).all()
    goods = r.tables["goods"].filter(pl.col("scenario") == "hormuz_closure")
    assert (goods["stock_released_units"] > 1e6).all()
    shed = dict(goods.select("member", "shed_units").iter_rows())
    assert shed["JPN"] <= TOL
    assert shed["KOR"] > 0.01 * float(
        goods.filter(pl.col("member") == "KOR")["stock_released_units"][0]
    )
    prices = r.tables["prices"].filter(pl.col("scenario") == "hormuz_closure")
    p0 = float(
        r.tables["prices"].filter(pl.col("scenario") == "calm")["price_usd_per_unit"].median()
    )
    assert float(prices["price_usd_per_unit"].max()) > 1.01 * p0


def test_russian_gas_cutoff_stops_russian_gas_to_the_members(tmp_path: Path) -> None:
    study = load_study(REPO / "models" / "eu_gas_2022.yaml")
    r = run_study(study, None, settings=COARSE)  # the cut-off is the study's base scenario
    flows = base_flows(r, ["RUS"], "russian_gas_cutoff_2022")
    members = set(study.members.resolve(study.date))
    into = flows.filter(pl.col("destination").is_in(list(members)))
    assert into.height > 0
    assert float(into["hit"].sum()) == pytest.approx(0.0, abs=1e-3)
    assert r.totals["worst_welfare_loss_usd"][0] > 0


def test_an_event_out_of_the_markets_scope_is_refused_with_its_share(tmp_path: Path) -> None:
    path = study_file(tmp_path, members=["JPN"], commodities=["nickel/mining"], model="stress")
    # Indonesia's ore ban has been in force since 2020: its 2023 ore exports are tiny
    text = fail(path, "indonesia_nickel_ore_ban")
    assert "out of scope" in text
    assert "indonesia_nickel_ore_ban" in text
    assert "% of world exports of nickel/mining" in text


# ----------------------------------------------------------------------------- policies
def test_g7_friendshoring_quota_holds_every_month(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        "g7_friendshoring",
        members=["USA", "DEU"],
        commodities=["graphite/mining"],
        model="diversify",
    )
    allies = set(CountrySet(blocs=("G7",)).resolve(dt.date(2023, 12, 31)))
    q0 = r.tables["exposure"].select("member", "q0_units_per_month")
    f = (
        r.tables["flows"]
        .filter(~pl.col("origin").is_in(list(allies | {"USA", "DEU"})))
        .filter(pl.col("destination").is_in(["USA", "DEU"]))
        .group_by("destination", "month", "scenario")
        .agg(pl.col("flow_units").sum())
        .join(q0, left_on="destination", right_on="member")
    )
    assert f.height > 0
    assert (f["flow_units"] <= 0.5 * f["q0_units_per_month"] + TOL).all()
    assert r.totals["policy_cost_usd"][0] > 0  # the quota costs something in calm
    assert "cost_curve" in r.tables


def test_eu_crma_cap_holds_for_every_single_supplier(tmp_path: Path) -> None:
    r = run(
        tmp_path, "eu_crma_cap", members=["DEU", "FRA"], commodities=["graphite/mining"],
        model="stress",
    )  # fmt: skip
    q0 = r.tables["exposure"].select("member", "q0_units_per_month")
    f = (
        r.tables["flows"]
        .filter(pl.col("destination").is_in(["DEU", "FRA"]))
        .join(q0, left_on="destination", right_on="member")
    )
    assert (f["flow_units"] <= 0.65 * f["q0_units_per_month"] + TOL).all()


def test_msp_pooled_stocks_cost_the_alliance_no_more_than_going_alone(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        "drc_cobalt_suspension+msp_pooled_stocks",
        members=["USA", "JPN", "DEU"],
        commodities=["cobalt/refining"],
        model="pooling",
    )
    pool = r.tables["pooling"]
    expected = pool.group_by("member").agg(
        (pl.col("alone_usd") * pl.col("probability")).sum().alias("alone"),
        (pl.col("pooled_usd") * pl.col("probability")).sum().alias("pooled"),
    )
    # the pooled LP can always choose not to ship: the alliance does not lose by pooling
    # (its members' welfare, not the LP's objective: equal within 1e-4)
    alone = float(expected["alone"].sum())
    assert float(expected["pooled"].sum()) <= alone + 1e-4 * abs(alone)
    assert r.totals["pooling_gain_usd"][0] == pytest.approx(
        float(expected["alone"].sum() - expected["pooled"].sum()), rel=1e-6, abs=1.0
    )
    # burden transfers move money between members and sum to zero
    transfers = pool.group_by("member").agg(pl.col("burden_transfer_usd").first())
    assert float(transfers["burden_transfer_usd"].sum()) == pytest.approx(0.0, abs=1.0)


def test_coercion_best_strike_is_the_costliest_for_the_members(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        None,
        members=["USA", "JPN"],
        adversary="CHN",
        commodities=["graphite/mining", "rare_earths/refining"],
        model="coercion",
    )
    per = r.members.group_by("scenario").agg(pl.col("welfare_loss_usd").sum())
    worst = per.sort("welfare_loss_usd", descending=True)["scenario"][0]
    assert r.totals["best_strike"][0] == worst
    strikes = set(per["scenario"].to_list())
    assert {"strike_CHN_graphite_mining", "strike_CHN_rare_earths_refining", "strike_CHN_all"} <= (
        strikes
    )
    # cutting everything costs the members at least as much as cutting one good
    loss = dict(per.rows())
    assert loss["strike_CHN_all"] >= max(
        loss["strike_CHN_graphite_mining"], loss["strike_CHN_rare_earths_refining"]
    ) - 1e-6 * abs(loss["strike_CHN_all"])
    leak = r.tables["leakage"]
    assert leak.height > 0
    assert ((leak["leak_free_share"] >= 0) & (leak["leak_free_share"] <= 1)).all()


# ----------------------------------------------------------------------------- files
def test_shipped_study_runs_and_writes_every_table_atomically(tmp_path: Path) -> None:
    study = load_study(REPO / "models" / "g7_critical_minerals.yaml")
    result = run_study(study, "china_graphite_controls+eu_crma_cap", settings=COARSE)
    assert result.scenario == "china_graphite_controls+eu_crma_cap"
    assert set(result.summary["member_iso3"]) == {"CAN", "DEU", "FRA", "GBR", "ITA", "JPN", "USA"}
    written = write_study(result, tmp_path / "out")
    assert set(written) == set(result.tables)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{name}.parquet" for name in result.tables
    )
    for name, frame in result.tables.items():
        assert pl.read_parquet(written[name]).equals(frame), name


def test_run_prints_losses_and_errors_exit_non_zero_with_the_reason(tmp_path: Path) -> None:
    path = study_file(tmp_path, members=["JPN"], commodities=["graphite/mining"], model="stress")
    assert "unknown scenario" in fail(path, "taiwan_blokade")
    assert "close matches: taiwan_blockade" in fail(path, "taiwan_blokade")
    text = fail(path, "g7_friendshoring+msp_pooled_stocks")
    assert "conflicts with scenarios.g7_friendshoring.policy.allies = 'G7'" in text
    ok = runner.invoke(app, ["run", str(path), "--scenario", "china_graphite_controls"])
    assert ok.exit_code == 0, ok.output
    assert "Welfare loss per member and scenario" in ok.output
    assert "china_graphite_controls" in ok.output


def test_named_disruptions_are_separate_events_and_duration_sets_the_months(
    tmp_path: Path,
) -> None:
    catalogue = tmp_path / "cat.yaml"
    catalogue.write_text(
        yaml.safe_dump(
            {
                "scenarios": {
                    "two": {
                        "description": "Two events.",
                        "disruptions": [
                            {
                                "name": "congo",
                                "suppliers": ["COD"],
                                "probability": 0.1,
                                "duration_days": 73,
                            },
                            {
                                "name": "china",
                                "suppliers": "CHN",
                                "probability": 0.05,
                                "availability": 0.5,
                            },
                        ],
                    }
                }
            }
        )
    )
    r = run(
        tmp_path,
        "two",
        members=["KOR"],
        commodities=["cobalt/refining"],
        model="stress",
        catalogue=str(catalogue),
    )
    probabilities = dict(r.members.select("scenario", "probability").unique().rows())
    assert probabilities == pytest.approx({"two.congo": 0.1, "two.china": 0.05, "calm": 0.85})
    congo = base_flows(r, ["COD"], "two.congo")
    # 73 days = 2.4 months at availability 0: months 1-2 closed, month 3 at 60 %
    for month, a in enumerate(covered_months(73, 0.0, 12), start=1):
        rows = congo.filter(pl.col("month") == month)
        assert (rows["hit"] <= a * rows["calm"] * (1 + 1e-9) + TOL).all(), month
    assert covered_months(73, 0.0, 12)[2] == pytest.approx(0.6)


def test_quoted_norway_and_the_yaml_boolean_trap(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: n\nyear: 2023\nmembers: [NO]\nallies: G7\ncommodities: [cobalt/refining]\n"
        f"model: stress\ncatalogue: {CATALOGUE}\n"
    )
    text = fail(path, None)
    assert "study.yaml: members: must be a bloc expression" in text
    assert "quote it" in text
    path.write_text(path.read_text().replace("[NO]", "['NO']"))
    assert load_study(path).members.countries == ("NOR",)


def test_a_good_without_trade_in_the_year_is_refused_naming_it(tmp_path: Path) -> None:
    """Refined copper: no bilateral rows in the shipped BACI extract and no world balance.

    (Germanium was this example until it got a world balance in market_balances.csv.)
    """
    path = study_file(tmp_path, members=["USA"], commodities=["copper/refining"], model="stress")
    text = fail(path, "china_gallium_germanium_controls")
    assert "commodities[0]" in text
    assert "copper/refining" in text
