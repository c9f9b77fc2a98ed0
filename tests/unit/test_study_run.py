"""`resilience run`: every catalogue scenario on the shipped data, with a property by hand.

Each test writes a small study (one or two members, one or two commodities) and runs one
catalogue scenario through the CLI, then checks something that follows from the
scenario's definition alone: a blockaded supplier delivers nothing, a cap holds in the
plan, pooling costs the alliance no more than going alone...

Notation: the model window is :math:`D` days (``totals.window_days``), :math:`\\varphi =
D/365`; a contract :math:`x` on an undisrupted arc delivers :math:`\\varphi x` in every
scenario, on an arc with availability :math:`a` at most :math:`a\\varphi x`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from resilience.build.monthly import (
    CHINA_EXPORTS_MONTHLY,
    build_china_exports_monthly,
    load_china_monthly_map,
)
from resilience.cli.app import app
from resilience.ingest.china_monthly import read_china_monthly_exports, read_tariff_lines
from resilience.scenarios import load_study
from resilience.study import run_study, write_study

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "models" / "scenarios.yaml"
runner = CliRunner()
TOL = 1e-6


pytestmark = pytest.mark.usefixtures("restore_logging")


def study_file(tmp_path: Path, **spec: Any) -> Path:
    body = {"name": "small", "year": 2023, "allies": "G7", "catalogue": str(CATALOGUE)} | spec
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def run(path: Path, scenario: str | None, out: Path) -> dict[str, pl.DataFrame]:
    args = ["run", str(path), "--out", str(out)]
    if scenario:
        args += ["--scenario", scenario]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Totals" in result.output
    return {p.stem: pl.read_parquet(p) for p in out.glob("*.parquet")}


def fail(path: Path, scenario: str | None) -> str:
    args = ["run", str(path)] + (["--scenario", scenario] if scenario else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    return " ".join(result.output.split())


def delivered(
    tables: dict[str, pl.DataFrame], event: str, member: str, availability: dict[str, float]
) -> tuple[float, float, float]:
    """(contracted deliveries of undisrupted arcs, the most that can arrive, what arrived)."""
    phi = float(tables["totals"]["window_days"][0]) / 365.0
    plan = tables["plan"].filter(pl.col("member_iso3") == member)
    full = phi * float(
        plan.filter(~pl.col("supplier_iso3").is_in(list(availability)))["quantity_t"].sum()
    )
    partial = sum(
        a * phi * float(plan.filter(pl.col("supplier_iso3") == s)["quantity_t"].sum())
        for s, a in availability.items()
    )
    got = tables["shortfall"].filter(
        (pl.col("scenario") == event) & (pl.col("member_iso3") == member)
    )
    assert got.height == 1
    return full, full + partial, float(got["delivered_t"][0])


def availabilities(tables: dict[str, pl.DataFrame], event: str) -> dict[tuple[str, str], float]:
    rows = tables["disruptions"].filter(pl.col("scenario") == event)
    return {
        (m, s): a for m, s, a in rows.select("member_iso3", "supplier_iso3", "availability").rows()
    }


# ----------------------------------------------------------------------------- disruptions
def test_taiwan_blockade_taiwan_delivers_nothing(tmp_path: Path) -> None:
    path = study_file(
        tmp_path, members=["KOR", "JPN"], commodities=["cobalt/refining"], model="stress"
    )
    tables = run(path, "taiwan_blockade", tmp_path / "out")
    assert float(tables["totals"]["window_days"][0]) == 180.0  # the blockade's duration
    cut = availabilities(tables, "taiwan_blockade")
    assert cut
    assert {s for _, s in cut} == {"TWN"}
    assert set(cut.values()) == {0.0}
    for member in ("KOR", "JPN"):
        full, _, got = delivered(tables, "taiwan_blockade", member, {"TWN": 0.0})
        assert got == pytest.approx(full, rel=TOL, abs=TOL)


def _datasets_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``datasets/`` without the local China table, used by the package."""
    copy = tmp_path / "datasets"
    shutil.copytree(
        REPO / "datasets",
        copy,
        ignore=shutil.ignore_patterns(CHINA_EXPORTS_MONTHLY, "_build", ".refresh*"),
    )
    monkeypatch.setenv("RESILIENCE_DATASETS", str(copy))
    return copy


def test_gallium_germanium_controls_cannot_run_without_china_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shipped data only (China's monthly exports are UN Comtrade data, not shipped)."""
    _datasets_copy(tmp_path, monkeypatch)
    path = study_file(tmp_path, members=["USA"], commodities=["germanium/refining"], model="stress")
    text = fail(path, "china_gallium_germanium_controls")
    assert "commodities[0]" in text
    assert "germanium/refining" in text
    assert "no bilateral import quantities in 2023" in text
    assert "811230" in text
    assert "China's monthly exports (UN Comtrade, not shipped)" in text
    path = study_file(tmp_path, members=["USA"], commodities=["graphite/mining"], model="stress")
    text = fail(path, "china_gallium_germanium_controls")
    assert "disrupts nothing in study 'small'" in text
    assert "graphite/mining" in text


def test_gallium_germanium_controls_run_on_china_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With China's exports table (here built from the fixture) the scenario runs.

    The fixture has China's 811292 exports of July 2023: 10 t to the US, 4 t to Japan;
    other producers are scaled from them by 2023 world production shares.
    """
    copy = _datasets_copy(tmp_path, monkeypatch)
    fixtures = REPO / "tests" / "data" / "comtrade_monthly"
    flows = fixtures / "china_exports_by_partner_hs6_monthly_2023_2023.csv"
    monthly = build_china_exports_monthly(
        read_china_monthly_exports(
            flows, read_tariff_lines(fixtures / "hs_map_china_tariff_lines.csv")
        ),
        load_china_monthly_map(),
        file=flows,
        source="UN Comtrade (fixture)",
        vintage="fixture",
    )
    monthly.write_parquet(copy / CHINA_EXPORTS_MONTHLY)
    path = study_file(
        tmp_path,
        members=["USA", "JPN"],
        commodities=["gallium/refining", "germanium/refining"],
        model="stress",
    )
    tables = run(path, "china_gallium_germanium_controls", tmp_path / "out")
    cut = availabilities(tables, "china_gallium_germanium_controls")
    assert cut == {("USA", "CHN"): 0.0, ("JPN", "CHN"): 0.0}
    assert float(tables["totals"]["window_days"][0]) == 60.0
    phi = 60.0 / 365.0
    shortfall = tables["shortfall"].filter(pl.col("scenario") == "china_gallium_germanium_controls")
    for member in ("USA", "JPN"):
        for commodity in ("gallium", "germanium"):
            plan = tables["plan"].filter(
                (pl.col("member_iso3") == member) & (pl.col("commodity") == commodity)
            )
            # China's arc is in the plan: the fixture's flows reach the model
            assert plan.filter(pl.col("supplier_iso3") == "CHN").height == 1
            others = float(plan.filter(pl.col("supplier_iso3") != "CHN")["quantity_t"].sum())
            got = shortfall.filter(
                (pl.col("member_iso3") == member) & (pl.col("commodity") == commodity)
            )
            assert got.height == 1
            # China delivers nothing for 60 days: only the other producers' contracts arrive
            assert float(got["delivered_t"][0]) == pytest.approx(phi * others, rel=TOL, abs=TOL)


def test_graphite_controls_china_delivers_at_most_thirty_percent(tmp_path: Path) -> None:
    path = study_file(
        tmp_path, members=["USA", "JPN"], commodities=["graphite/mining"], model="stress"
    )
    tables = run(path, "china_graphite_controls", tmp_path / "out")
    cut = availabilities(tables, "china_graphite_controls")
    assert {s for _, s in cut} == {"CHN"}
    assert list(cut.values()) == pytest.approx([0.3] * len(cut))  # 90 days, 90-day window
    for member in ("USA", "JPN"):
        low, high, got = delivered(tables, "china_graphite_controls", member, {"CHN": 0.3})
        assert low - TOL <= got <= high + TOL * max(1.0, high)


def test_rare_earth_embargo_hits_japan_only(tmp_path: Path) -> None:
    path = study_file(
        tmp_path, members=["JPN", "USA"], commodities=["rare_earths/mining"], model="stress"
    )
    tables = run(path, "china_rare_earth_embargo_2010", tmp_path / "out")
    cut = availabilities(tables, "china_rare_earth_embargo_2010")
    assert cut == {("JPN", "CHN"): 0.0}
    full, _, got = delivered(tables, "china_rare_earth_embargo_2010", "JPN", {"CHN": 0.0})
    assert got == pytest.approx(full, rel=TOL, abs=TOL)
    full, _, got = delivered(tables, "china_rare_earth_embargo_2010", "USA", {})
    assert got == pytest.approx(full, rel=TOL, abs=TOL)


def test_russian_gas_cutoff_plan_buys_no_russian_gas(tmp_path: Path) -> None:
    path = study_file(
        tmp_path,
        year=2021,
        members=["ITA", "FRA"],
        allies="EU",
        commodities=["natural_gas/mining"],
        model="diversify",
    )
    tables = run(path, "russian_gas_cutoff_2022", tmp_path / "out")
    cut = availabilities(tables, "russian_gas_cutoff_2022")
    assert cut == {("FRA", "RUS"): 0.0, ("ITA", "RUS"): 0.0}
    plan = tables["plan"]
    assert plan.filter(pl.col("supplier_iso3") == "RUS")["quantity_t"].sum() == 0
    met = plan.group_by("member_iso3").agg(pl.col("quantity_t").sum()).sort("member_iso3")
    demand = tables["summary"].sort("member_iso3")["demand_t"]
    assert met["quantity_t"].to_list() == pytest.approx(demand.to_list(), rel=TOL)
    # before: Italy bought a large share of its gas from Russia
    assert (
        tables["summary"].filter(pl.col("member_iso3") == "ITA")["non_allied_share_before"][0] > 0.3
    )


def test_hormuz_closure_gulf_suppliers_deliver_only_what_bypasses_the_strait(
    tmp_path: Path,
) -> None:
    path = study_file(tmp_path, members=["JPN"], commodities=["crude_oil/mining"], model="stress")
    tables = run(path, "hormuz_closure", tmp_path / "out")
    expected = {"SAU": 0.3, "ARE": 0.4, "KWT": 0.0, "IRQ": 0.0, "QAT": 0.0, "IRN": 0.0, "BHR": 0.0}
    cut = {s: a for (_, s), a in availabilities(tables, "hormuz_closure").items()}
    assert {"SAU", "ARE", "KWT", "QAT"} <= set(cut)
    assert "OMN" not in cut
    for supplier, a in cut.items():
        assert a == pytest.approx(expected[supplier])
    low, high, got = delivered(tables, "hormuz_closure", "JPN", cut)
    assert low - TOL * max(1.0, low) <= got <= high + TOL * max(1.0, high)


def test_drc_cobalt_suspension_congo_delivers_nothing(tmp_path: Path) -> None:
    path = study_file(tmp_path, members=["KOR"], commodities=["cobalt/refining"], model="stress")
    tables = run(path, "drc_cobalt_suspension", tmp_path / "out")
    assert float(tables["totals"]["window_days"][0]) == 210.0
    assert {s for _, s in availabilities(tables, "drc_cobalt_suspension")} == {"COD"}
    full, _, got = delivered(tables, "drc_cobalt_suspension", "KOR", {"COD": 0.0})
    assert got == pytest.approx(full, rel=TOL, abs=TOL)


def test_indonesia_nickel_ore_ban_plan_buys_no_indonesian_ore(tmp_path: Path) -> None:
    path = study_file(
        tmp_path, year=2019, members=["JPN"], commodities=["nickel/mining"], model="diversify"
    )
    tables = run(path, "indonesia_nickel_ore_ban", tmp_path / "out")
    plan = tables["plan"].filter(pl.col("supplier_iso3") == "IDN")
    assert plan["observed_t"].sum() > 0  # Japan did buy Indonesian ore in 2019
    assert plan["quantity_t"].sum() <= TOL
    notes = tables["notes"]["note"].to_list()
    assert any("in force for the whole year" in n for n in notes)


# ----------------------------------------------------------------------------- policies
def test_g7_friendshoring_alpha_holds_in_the_plan(tmp_path: Path) -> None:
    path = study_file(
        tmp_path, members=["FRA"], allies="EU", commodities=["graphite/mining"], model="diversify"
    )
    tables = run(path, "g7_friendshoring", tmp_path / "out")
    summary = tables["summary"]
    assert (summary["non_allied_share_after"] <= 0.5 + 1e-9).all()
    plan = tables["plan"]
    non_allied = plan.filter(~pl.col("is_ally"))["quantity_t"].sum()
    assert non_allied <= 0.5 * plan["quantity_t"].sum() + TOL
    assert set(plan.filter(pl.col("is_ally"))["supplier_iso3"].to_list()) <= {
        "CAN",
        "DEU",
        "GBR",
        "ITA",
        "JPN",
        "USA",
        "FRA",
    }
    policy = dict(tables["policy"].select("knob", "set_by").rows())
    assert policy["allies"] == "scenario g7_friendshoring"
    assert tables["totals"]["premium_usd"][0] >= -TOL


def test_msp_pooled_stocks_pooling_costs_no_more_than_going_alone(tmp_path: Path) -> None:
    path = study_file(
        tmp_path, members=["DEU", "FRA"], commodities=["graphite/mining"], model="pooling"
    )
    tables = run(path, "china_graphite_controls+msp_pooled_stocks", tmp_path / "out")
    summary = tables["model_summary"].row(0, named=True)
    assert summary["pooled_total_usd"] <= summary["alone_total_usd"] * (1 + 1e-7)
    assert tables["totals"]["pooling_gain_usd"][0] >= -1e-7 * summary["alone_total_usd"]
    # 90 days of stock held by every member, and the costs allocated add up
    assert (tables["summary"]["days_of_cover"] >= 90 - 1e-6).all()
    members = tables["members"]
    assert members["pooled_cost_usd"].sum() == pytest.approx(summary["pooled_total_usd"])


def test_eu_crma_cap_holds_in_the_plan(tmp_path: Path) -> None:
    path = study_file(
        tmp_path,
        members=["JPN"],
        commodities=["graphite/mining", "rare_earths/mining"],
        model="diversify",
    )
    tables = run(path, "eu_crma_cap", tmp_path / "out")
    summary = tables["summary"]
    assert (summary["max_single_share_after"] <= 0.65 + 1e-9).all()
    assert (tables["plan"]["share"] <= 0.65 + 1e-9).all()
    # Japan's graphite came 91 % from China: the cap binds
    before = summary.filter(pl.col("commodity") == "graphite")["max_single_share_before"][0]
    assert before > 0.65


# ----------------------------------------------------------------------------- families and files
def test_coercion_best_strike_is_the_worst_strategy(tmp_path: Path) -> None:
    path = study_file(
        tmp_path,
        members=["JPN", "USA"],
        commodities=["graphite/mining"],
        model="coercion",
        adversary="CHN+RUS",
    )
    tables = run(path, "china_graphite_controls", tmp_path / "out")
    strategies = tables["strategies"]
    assert {"any:CHN", "any:RUS", "bloc:CHN+RUS", "china_graphite_controls"} <= set(
        strategies["strategy"].to_list()
    )
    totals = tables["totals"].row(0, named=True)
    worst = strategies.sort("shortfall_usd", descending=True).row(0, named=True)
    assert totals["worst_case_shortfall_usd"] == pytest.approx(worst["shortfall_usd"], rel=1e-6)
    assert totals["best_strike"] in strategies.filter(pl.col("is_binding"))["strategy"].to_list()
    assert tables["summary"]["strike_shortfall_t"].is_not_null().all()


def test_shipped_study_runs_and_writes_every_table_atomically(tmp_path: Path) -> None:
    study = load_study(REPO / "models" / "g7_critical_minerals.yaml")
    result = run_study(study, "china_graphite_controls+eu_crma_cap")
    assert result.scenario == "china_graphite_controls+eu_crma_cap"
    assert set(result.summary["member_iso3"]) == {"CAN", "DEU", "FRA", "GBR", "ITA", "JPN", "USA"}
    written = write_study(result, tmp_path / "out")
    assert set(written) == set(result.tables)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{name}.parquet" for name in result.tables
    )
    for name, frame in result.tables.items():
        assert pl.read_parquet(written[name]).equals(frame), name
    # the cap holds for every member and commodity of the shipped study
    assert (result.summary["max_single_share_after"] <= 0.65 + 1e-9).all()


def test_run_errors_exit_non_zero_with_the_reason(tmp_path: Path) -> None:
    path = study_file(tmp_path, members=["JPN"], commodities=["graphite/mining"], model="stress")
    assert "unknown scenario" in fail(path, "taiwan_blokade")
    assert "close matches: taiwan_blockade" in fail(path, "taiwan_blokade")
    text = fail(path, "china_graphite_controls+indonesia_nickel_ore_ban")
    assert "probabilities sum above 1" in text
    text = fail(path, "g7_friendshoring+msp_pooled_stocks")
    assert "conflicts with scenarios.g7_friendshoring.policy.allies = 'G7'" in text
    # an infeasible plan prints the explanation sentences
    path = study_file(tmp_path, members=["JPN"], commodities=["graphite/mining"], model="diversify")
    text = fail(path, "g7_friendshoring")
    assert "no plan satisfies all the constraints" in text
    assert "member JPN needs" in text
    assert "from outside the alliance" in text


def test_named_disruptions_are_separate_events_and_duration_scales_availability(
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
                                "name": "taiwan",
                                "suppliers": "TWN",
                                "probability": 0.05,
                                "availability": 0.5,
                            },
                        ],
                    }
                }
            }
        )
    )
    path = study_file(
        tmp_path,
        members=["KOR"],
        commodities=["cobalt/refining"],
        model="stress",
        catalogue=str(catalogue),
    )
    tables = run(path, "two", tmp_path / "out")
    probabilities = dict(tables["scenarios"].select("scenario", "probability").rows())
    assert probabilities == pytest.approx({"two.congo": 0.1, "two.taiwan": 0.05, "calm": 0.85})
    assert float(tables["totals"]["window_days"][0]) == 365.0
    # a = 0 for 73 of 365 days loses a fifth of a year's deliveries: a_eff = 0.8
    assert availabilities(tables, "two.congo") == {("KOR", "COD"): pytest.approx(0.8)}
    assert availabilities(tables, "two.taiwan") == {("KOR", "TWN"): pytest.approx(0.5)}


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


def test_diversify_takes_composed_disruptions_together_whatever_their_probabilities(
    tmp_path: Path,
) -> None:
    path = study_file(
        tmp_path,
        year=2019,
        members=["JPN"],
        allies="G7",
        commodities=["nickel/mining", "cobalt/refining"],
        model="diversify",
    )
    tables = run(path, "indonesia_nickel_ore_ban+taiwan_blockade", tmp_path / "out")
    plan = tables["plan"]
    assert plan.filter(pl.col("supplier_iso3") == "IDN")["quantity_t"].sum() <= TOL
    # Taiwan's blockade lasts 180 days: in a one-year plan Taiwan keeps 1 - 180/365 of capacity
    twn = tables["disruptions"].filter(pl.col("supplier_iso3") == "TWN")
    assert twn.height > 0
    assert twn["availability"].to_list() == pytest.approx([1 - 180 / 365] * twn.height)
