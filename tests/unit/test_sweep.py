"""Sweeps on the shipped data: persistent re-solves against rebuilds, backends, errors.

The G7 study (stress model) under China's graphite controls is the workhorse; a small
diversify study checks the other parametric family.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from resilience.optimize.solve import SolverOptions
from resilience.scenarios import SpecError, load_study
from resilience.study import run_study
from resilience.sweeps import NotParametricError, ParametricModel, engine, frontier, sweep
from resilience.sweeps import knobs as knobs_mod
from resilience.sweeps.knobs import Point, grid_points
from resilience.sweeps.parametric import build_point, solve_built

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
SCENARIO = "china_graphite_controls"
KNOBS = ["min_stock_days", "availability", "spot_premium", "max_non_allied_share", "cvar_weight"]
RTOL = 1e-7


@pytest.fixture(scope="module")
def g7() -> Any:
    return load_study(G7)


@pytest.fixture(scope="module")
def parametric(g7: Any) -> ParametricModel:
    reference = Point(
        {
            "min_stock_days": 0.0,
            "spot_premium": 0.5,
            "max_non_allied_share": 1.0,
            "cvar_weight": 0.0,
        },
        {"availability": 0.0},
    )
    return ParametricModel(g7, SCENARIO, KNOBS, reference=reference)


def _point(values: dict[str, float]) -> Point:
    disruption = {k: v for k, v in values.items() if k in ("availability", "probability")}
    return Point({k: v for k, v in values.items() if k not in disruption}, disruption)


def close(a: float | None, b: float | None, rtol: float = RTOL) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


# ----------------------------------------------------------------------------- persistent
knob_vectors = st.fixed_dictionaries(
    {
        "min_stock_days": st.floats(0, 60),
        "availability": st.floats(0, 1),
        "spot_premium": st.floats(0, 2),
        "max_non_allied_share": st.sampled_from([1.0, 0.99, 0.97, 0.95, 0.9, 0.5]),
        "cvar_weight": st.floats(0, 2),
    }
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=knob_vectors)
def test_persistent_resolve_equals_rebuild(
    parametric: ParametricModel, g7: Any, values: dict[str, float]
) -> None:
    point = _point(values)
    warm = parametric.solve(point)
    cold = solve_built(build_point(g7, SCENARIO, point))
    assert warm["status"] == cold["status"]
    if cold["status"] == "optimal":
        assert close(warm["objective_usd"], cold["objective_usd"]), (warm, cold)


def test_edge_values_interpolate_to_the_rebuilt_optimum(
    parametric: ParametricModel, g7: Any
) -> None:
    """Edges where a rebuild has fewer rows/columns (no cap at 1, no y at a = 0 or 1)."""
    for values in (
        {
            "min_stock_days": 0,
            "availability": 1.0,
            "spot_premium": 0.0,
            "max_non_allied_share": 1.0,
            "cvar_weight": 0.0,
        },
        {
            "min_stock_days": 90,
            "availability": 0.0,
            "spot_premium": 2.0,
            "max_non_allied_share": 0.98,
            "cvar_weight": 1.0,
        },
    ):
        point = _point(values)
        warm, cold = parametric.solve(point), solve_built(build_point(g7, SCENARIO, point))
        assert warm["status"] == cold["status"] == "optimal"
        assert close(warm["objective_usd"], cold["objective_usd"])


def test_sweep_row_matches_the_full_study_run(g7: Any) -> None:
    """The sweep's metrics are the run's own totals (different code, same numbers)."""
    policy, disruption = {"min_stock_days": 30.0, "spot_premium": 0.8}, {"availability": 0.25}
    frame = sweep(
        g7, {**{k: [v] for k, v in policy.items()}, "availability": [0.25]}, scenario=SCENARIO
    )
    row = frame.row(0, named=True)
    result = run_study(g7, SCENARIO, policy=policy, disruption=disruption)
    totals, summary = result.totals.row(0, named=True), result.summary
    assert row["method"] == "persistent"
    for key in ("objective_usd", "holding_cost_usd", "expected_shortfall_t"):
        assert close(row[key], totals[key], 1e-6), key
    assert close(row["cost_usd"], totals["cost_usd"], 1e-6)
    demand = summary["demand_t"].sum()
    stock_days = (summary["days_of_cover"] * summary["demand_t"]).sum() / demand
    assert close(row["stock_days"], stock_days, 1e-6)
    assert row["stock_days"] >= 30.0 - 1e-6  # the minimum stock holds


def test_rebuild_and_persistent_sweeps_agree_and_stocks_follow_the_floor(g7: Any) -> None:
    grid = {"min_stock_days": [0.0, 15.0, 45.0], "availability": [0.0, 0.6]}
    fast = sweep(g7, grid, scenario=SCENARIO, method="persistent")
    slow = sweep(g7, grid, scenario=SCENARIO, method="rebuild")
    assert fast["method"].unique().to_list() == ["persistent"]
    assert slow["method"].unique().to_list() == ["rebuild"]
    for a, b in zip(fast["objective_usd"], slow["objective_usd"], strict=True):
        assert close(a, b)
    # the objective never falls when the minimum stock rises (same availability)
    for _avail, group in fast.group_by("availability"):
        ordered = group.sort("min_stock_days")["objective_usd"].to_list()
        assert all(x <= y + 1e-6 * abs(y) for x, y in zip(ordered, ordered[1:], strict=False))
    assert (fast["stock_days"] >= fast["min_stock_days"] - 1e-6).all()


def test_non_linear_knob_is_detected(g7: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """cvar_level enters as 1/(1 - level): the check against a rebuild must catch it."""
    monkeypatch.setitem(knobs_mod.PARAMETRIC_KNOBS, "cvar_level", (0.5, 0.9))
    ref = Point({"cvar_weight": 1.0, "cvar_level": 0.9}, {})
    with pytest.raises(NotParametricError, match="multilinearly"):
        ParametricModel(g7, SCENARIO, ["cvar_weight", "cvar_level"], reference=ref)


def test_spare_capacity_is_rebuilt_because_suppliers_run_out(g7: Any) -> None:
    """Capacity max(0, exports (1 + s) - others) is piecewise: never interpolated."""
    frame = sweep(g7, {"spare_capacity": [0.0, 0.3]}, scenario=SCENARIO)
    assert frame["method"].to_list() == ["rebuild", "rebuild"]
    for s, objective in zip(frame["spare_capacity"], frame["objective_usd"], strict=True):
        run = run_study(g7, SCENARIO, policy={"spare_capacity": s})
        assert close(objective, run.totals["objective_usd"][0], 1e-6)


def test_edge_values_are_checked_against_a_rebuild(
    g7: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spare capacity, if it were interpolated: exact inside, wrong at 0 where a supplier's
    capacity runs out; the check at the grid's edges catches it before any point."""
    monkeypatch.setitem(knobs_mod.PARAMETRIC_KNOBS, "spare_capacity", (0.13, 0.29))
    with pytest.raises(NotParametricError, match="spare_capacity=0 .* differs from a rebuild"):
        sweep(g7, {"spare_capacity": [0.0, 0.2]}, scenario=SCENARIO, method="persistent")
    frame = sweep(g7, {"spare_capacity": [0.0, 0.2]}, scenario=SCENARIO)
    assert frame["method"].to_list() == ["rebuild", "rebuild"]


def test_structural_knob_is_refused_for_persistent_and_rebuilt_on_auto(g7: Any) -> None:
    with pytest.raises(NotParametricError, match="spot"):
        sweep(g7, {"spot": [True, False]}, scenario=SCENARIO, method="persistent")
    frame = sweep(g7, {"spot": [True, False]}, scenario=SCENARIO)
    assert frame["method"].to_list() == ["rebuild", "rebuild"]
    assert frame["spot"].to_list() == ["True", "False"]
    with_spot, without = frame["objective_usd"].to_list()
    assert without >= with_spot - 1e-6 * abs(with_spot)  # losing an option never helps


def test_no_limit_values_rebuild_and_probes_stay_inside_the_grid(tmp_path: Path) -> None:
    """null (no limit) is not a number: rebuilt. A study whose minimum stock is 120 days
    sweeps the maximum over 150-200 persistently: the probes lie inside the grid."""
    frame = sweep(G7, {"max_stock_days": [None, 120.0]}, scenario=SCENARIO)
    assert frame["method"].to_list() == ["rebuild", "rebuild"]
    assert frame["max_stock_days"].to_list() == [None, 120.0]
    spec = yaml.safe_load(G7.read_text()) | {"catalogue": str(REPO / "models" / "scenarios.yaml")}
    spec["policy"] = {**spec["policy"], "min_stock_days": 120}
    path = tmp_path / "deep_stocks.yaml"
    path.write_text(yaml.safe_dump(spec))
    deep = sweep(path, {"max_stock_days": [150.0, 200.0]}, scenario=SCENARIO)
    assert deep["method"].to_list() == ["persistent", "persistent"]
    assert (deep["stock_days"] >= 120 - 1e-6).all()
    assert (deep["stock_days"] <= deep["max_stock_days"] + 1e-6).all()


def test_thread_counts_change_between_sweeps(g7: Any) -> None:
    """HiGHS's thread pool is process-wide: a new count must reset it, not fail the solves."""
    for threads in (2, 1):
        frame = sweep(
            g7,
            {"min_stock_days": [0.0, 30.0]},
            scenario=SCENARIO,
            options=SolverOptions(threads=threads),
        )
        assert frame["status"].to_list() == ["optimal", "optimal"]
    assert not engine._MODELS  # the learnt model does not outlive its sweep


# ----------------------------------------------------------------------------- backends
def _fifty() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    return pl.DataFrame(
        {
            "min_stock_days": rng.uniform(0, 60, 50).round(3),
            "availability": rng.uniform(0, 1, 50).round(3),
            "spot_premium": rng.uniform(0, 1.5, 50).round(3),
        }
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore:.*:UserWarning")
def test_sequential_process_and_dask_sweeps_are_identical(g7: Any) -> None:
    distributed = pytest.importorskip("distributed")
    points = _fifty()
    sequential = sweep(g7, points, scenario=SCENARIO)
    assert sequential.height == 50
    assert (sequential["status"] == "optimal").all()
    processes = sweep(g7, points, scenario=SCENARIO, backend="processes", workers=2)
    assert_frame_equal(sequential, processes, check_exact=True)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = sweep(
            g7, points, scenario=SCENARIO, backend="dask", scheduler=client, chunk_size=7
        )
    assert_frame_equal(sequential, on_dask, check_exact=True)
    rebuilt = sweep(g7, points.head(5), scenario=SCENARIO, method="rebuild")
    for a, b in zip(sequential["objective_usd"].head(5), rebuilt["objective_usd"], strict=True):
        assert close(a, b)


# ----------------------------------------------------------------------------- frontier
def test_frontier_is_monotone_and_ends_at_the_tightest_feasible_cap(g7: Any) -> None:
    f = frontier(g7, SCENARIO, points=6)
    assert f.height == 6
    assert (f["status"] == "optimal").all()
    caps = f["max_non_allied_share"].to_list()
    assert caps[0] == 1.0
    assert caps == sorted(caps, reverse=True)
    costs = f["objective_usd"].to_list()
    assert all(a <= b + 1e-6 * abs(b) for a, b in zip(costs, costs[1:], strict=False))
    assert (f["non_allied_share"] <= f["max_non_allied_share"] + 1e-9).all()
    tightest = caps[-1]
    beyond = sweep(g7, {"max_non_allied_share": [tightest - 2e-3]}, scenario=SCENARIO)
    assert beyond["status"][0] == "infeasible"


def test_frontier_of_a_diversify_study(tmp_path: Path) -> None:
    path = tmp_path / "div.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "eu_nickel",
                "year": 2023,
                "members": ["DEU", "FRA"],
                "allies": "G7+EU",
                "commodities": ["nickel/mining", "cobalt/refining"],
                "model": "diversify",
                "catalogue": str(REPO / "models" / "scenarios.yaml"),
            }
        )
    )
    f = frontier(path, shares=[1.0, 0.5, 0.2, 0.0])
    assert f["model"].unique().to_list() == ["diversify"]
    ok = f.filter(pl.col("status") == "optimal")
    assert ok.height >= 1
    assert (ok["non_allied_share"] <= ok["max_non_allied_share"] + 1e-9).all()
    # diversify's objective is the contract cost itself
    assert all(
        math.isclose(a, b, rel_tol=1e-9)
        for a, b in zip(ok["objective_usd"], ok["cost_usd"], strict=True)
    )


# ----------------------------------------------------------------------------- errors
def test_bad_grids_name_the_key_and_value(g7: Any) -> None:
    with pytest.raises(SpecError, match=r"grid.min_stock_dayz.*did you mean min_stock_days"):
        grid_points({"min_stock_dayz": [1]})
    with pytest.raises(SpecError, match=r"grid.availability\[1\].*out of range.*value: 1.5"):
        grid_points({"availability": [0.5, 1.5]})
    with pytest.raises(SpecError, match=r"points\[0\].spot.*true or false"):
        grid_points(pl.DataFrame({"spot": ["yes"]}))
    with pytest.raises(SpecError, match="no points"):
        grid_points({"min_stock_days": []})
    with pytest.raises(SpecError, match="must be a list"):
        grid_points({"min_stock_days": 3})  # type: ignore[dict-item]


def test_a_point_a_run_would_reject_is_named_before_solving(g7: Any) -> None:
    with pytest.raises(SpecError, match=r"sweep point 1: max_stock_days=5.0.*min_stock_days"):
        sweep(g7, {"max_stock_days": [60.0, 5.0], "min_stock_days": [10.0]}, scenario=SCENARIO)
    with pytest.raises(SpecError, match=r"probabilities sum above 1.*sweep point 0"):
        sweep(g7, {"probability": [0.6]}, scenario="china_graphite_controls+drc_cobalt_suspension")


def test_bad_method_and_backend(g7: Any) -> None:
    with pytest.raises(ValueError, match="method"):
        sweep(g7, {"min_stock_days": [1.0]}, method="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        sweep(g7, {"min_stock_days": [1.0]}, backend="threads")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scheduler"):
        sweep(g7, {"min_stock_days": [1.0]}, backend="dask")
