"""The notebook API (``import resilience as rs``) and the sweep/frontier/run --all commands."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

import resilience as rs
from resilience.cli.app import app
from resilience.cli.sweep_cmd import parse_grid
from resilience.scenarios import SpecError, StudySpec, load_catalogue
from resilience.study import SUMMARY_COLUMNS

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def g7() -> StudySpec:
    """The flagship study on one good (a run takes a few seconds)."""
    return dataclasses.replace(rs.load_study(G7), commodities=(("graphite", "mining"),))


def test_import_resilience_stays_cheap() -> None:
    code = "import sys, resilience; print('pyomo' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_scenario_built_in_code_runs_like_its_catalogue_twin(g7: StudySpec) -> None:
    entry = load_catalogue(REPO / "models" / "scenarios.yaml").scenarios["china_graphite_controls"]
    twin = rs.scenario(
        "graphite_in_code",
        description="the catalogue's graphite controls, typed in a notebook",
        disruptions=[
            {
                "suppliers": "CHN",
                "commodities": [f"{c}/{s}" if s else c for c, s in d.commodities or []],
                "availability": d.availability,
                "probability": d.probability,
                "duration_days": d.duration_days,
            }
            for d in entry.disruptions
        ],
    )
    ours, theirs = rs.run(g7, twin), rs.run(g7, "china_graphite_controls")
    assert ours.scenario == "graphite_in_code"
    for key in ("expected_welfare_loss_usd", "worst_welfare_loss_usd", "stock_build_usd"):
        assert ours.totals[key][0] == pytest.approx(theirs.totals[key][0], rel=1e-9), key
    assert ours.totals["worst_welfare_loss_usd"][0] > 0  # the cut costs the members


def test_in_code_scenarios_compose_with_catalogue_ones_and_policy_overrides(g7: StudySpec) -> None:
    cut = rs.scenario(
        "chn_half",
        description="China delivers half its natural graphite for 180 days",
        disruptions=[
            {
                "suppliers": "CHN",
                "commodities": ["graphite/mining"],
                "availability": 0.5,
                "duration_days": 180,
                "probability": 0.1,
            }
        ],
    )
    r = rs.run(g7, [cut, "eu_crma_cap"], policy={"min_stock_days": 30})
    assert r.scenario == "chn_half+eu_crma_cap"
    policy = dict(r.tables["policy"].select("knob", "set_by").iter_rows())
    assert policy["min_stock_days"] == "override"
    assert policy["max_single_supplier_share"] == "scenario eu_crma_cap"
    assert (r.summary["stock_days"] >= 30 - 1e-6).all()
    # the CRMA cap holds: no single foreign origin above 65 % of a member's consumption
    q0 = r.tables["exposure"].select("member", "q0_units_per_month")
    flows = r.tables["flows"].join(q0, left_on="destination", right_on="member")
    assert (flows["flow_units"] <= 0.65 * flows["q0_units_per_month"] + 1e-6).all()


def test_bad_code_scenarios_and_overrides_name_the_key(g7: StudySpec) -> None:
    with pytest.raises(SpecError, match=r"<python>: scenarios.x.disruptions\[0\].suppliers.*china"):
        rs.scenario("x", description="d", disruptions=[{"suppliers": "CHNA", "probability": 0.1}])
    with pytest.raises(SpecError, match=r"policy.min_stock_dayz.*did you mean min_stock_days"):
        rs.run(g7, policy={"min_stock_dayz": 3})
    with pytest.raises(SpecError, match=r"policy.availability: out of range"):
        rs.run(g7, "china_graphite_controls", policy={"availability": 1.5})


def test_compare_is_b_minus_a_per_member_commodity_and_metric(g7: StudySpec) -> None:
    a = rs.run(g7)
    b = rs.run(g7, "china_graphite_controls", policy={"min_stock_days": 20})
    diff = rs.compare(a, b)
    assert diff.height == a.summary.height * len(SUMMARY_COLUMNS)
    cover = diff.filter(pl.col("metric") == "stock_days").drop_nulls("change")
    assert (cover["change"] - (cover["value_b"] - cover["value_a"])).abs().max() < 1e-9
    assert (cover["value_b"] >= 20 - 1e-6).all()
    assert diff["scenario_b"].unique().to_list() == ["china_graphite_controls"]


def test_load_dataset_builds_dependency_and_metrics_for_a_year() -> None:
    ds = rs.load_dataset([2023])
    dep = ds.dependency.collect()
    assert dep["year"].unique().to_list() == [2023]
    shares = dep.group_by("importer_iso3", "commodity", "stage", "basis").agg(
        pl.col("supply_share").sum()
    )
    assert (shares["supply_share"] - 1).abs().max() < 1e-9  # each importer's shares sum to 1
    assert ds.metrics.collect().filter(pl.col("hhi") > 1 + 1e-12).height == 0


# ----------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    ("specs", "grid"),
    [
        (["min_stock_days=0,30"], {"min_stock_days": [0, 30]}),
        (["availability=0:1:3"], {"availability": [0.0, 0.5, 1.0]}),
        (["spot=true,false", "allies=G7"], {"spot": [True, False], "allies": ["G7"]}),
    ],
)
def test_parse_grid(specs: list[str], grid: dict[str, list[object]]) -> None:
    assert parse_grid(specs) == grid


@pytest.mark.parametrize("spec", ["min_stock_days", "=1", "availability=0:1:x"])
def test_parse_grid_rejects(spec: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_grid([spec])


def test_cli_sweep_writes_the_frame_and_fails_clearly(tmp_path: Path) -> None:
    target = tmp_path / "sweep.parquet"
    args = ["sweep", str(G7), "-s", "china_graphite_controls", "-g", "min_stock_days=0,30"]
    result = runner.invoke(app, [*args, "-g", "availability=0,0.5", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "4 points (persistent)" in result.output  # auto: the stress family re-solves
    frame = pl.read_parquet(target)
    assert frame.height == 4
    assert (frame["status"] == "optimal").all()
    # more stock never costs the members more when the cut is total, less when there is none
    full = frame.filter(pl.col("availability") == 0.0).sort("min_stock_days")
    assert full["stock_build_usd"][1] > full["stock_build_usd"][0]
    bad = runner.invoke(app, ["sweep", str(G7), "-g", "min_stock_dayz=1"])
    assert bad.exit_code == 1
    assert "did you mean min_stock_days" in bad.output


def test_cli_frontier_prints_and_plots(tmp_path: Path) -> None:
    png = tmp_path / "frontier.png"
    result = runner.invoke(
        app,
        [
            "frontier",
            str(REPO / "models" / "eu_gas_2022.yaml"),
            "--points",
            "4",
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "welfare–exposure frontier" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_run_all_compares_every_listed_scenario(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(G7), "--all", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(tmp_path / "scenarios.parquet")
    study = rs.load_study(G7)
    assert frame["scenario"].to_list() == ["base", *study.scenarios]
    assert (tmp_path / "china_graphite_controls" / "members.parquet").is_file()
    status = dict(frame.select("scenario", "status").rows())
    assert status["taiwan_blockade"] == "out of scope"  # a finding, not a failure
    hit = frame.filter(pl.col("scenario") == "china_graphite_controls")
    assert hit["worst_welfare_loss_usd"][0] > 0  # the disruption costs the members
    assert "Welfare loss per member if the run's worst event happens" in result.output
    both = runner.invoke(app, ["run", str(G7), "--all", "--scenario", "taiwan_blockade"])
    assert both.exit_code == 1
    assert "drop --scenario" in both.output


def test_cli_run_all_in_worker_processes_answers_as_in_one(tmp_path: Path) -> None:
    text = G7.read_text()
    head, _, _ = text.partition("commodities:\n")
    _, _, tail = text.partition("model: stress\n")
    small = tmp_path / "small.yaml"
    small.write_text(
        head
        + "commodities:\n  - graphite/mining\nmodel: stress\n"
        + "catalogue: "
        + str(REPO / "models" / "scenarios.yaml")
        + "\nscenarios:\n  - china_graphite_controls\n  - china_graphite_controls+eu_crma_cap\n"
    )
    assert "taiwan" not in small.read_text()
    frames = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        done = runner.invoke(app, ["run", str(small), "--all", "--jobs", jobs, "--out", str(out)])
        assert done.exit_code == 0, done.output
        assert "largest monthly price rise" in done.output
        frames.append(pl.read_parquet(out / "scenarios.parquet").drop("note"))
    assert frames[0]["scenario"].to_list() == [
        "base",
        "china_graphite_controls",
        "china_graphite_controls+eu_crma_cap",
    ]
    assert frames[0]["worst_welfare_loss_usd"][1] > 0
    assert frames[0].equals(frames[1])  # the same answers, run by run, in the same order
    bad = runner.invoke(app, ["run", str(small), "--all", "--jobs", "-1"])
    assert bad.exit_code != 0
    assert "--jobs" in bad.output


def test_load_dataset_reads_years_once_from_any_iterable() -> None:
    ds = rs.load_dataset(y for y in (2022, 2023))
    assert ds.inputs.years == [2022, 2023]
    with pytest.raises(rs.SpecError, match=r"load_dataset\(years=\.\.\.\).*'2023'.*allowed"):
        rs.load_dataset(["2023"])
