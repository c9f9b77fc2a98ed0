"""Sweeps and the frontier on the market core: rows equal full runs, backends, errors.

The G7 study (stress model) reduced to natural graphite under China's graphite controls,
on a small market (2 months, coarse blocks, top 3 importers), keeps each point near a
second.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from resilience.optimize.families import FAMILIES
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import SpecError, load_study
from resilience.study import run_study
from resilience.sweeps import METRICS, NotParametricError, frontier, sweep
from resilience.sweeps.knobs import grid_points

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
SCENARIO = "china_graphite_controls"
SMALL = StudyMarketSettings(
    months=2,
    top_importers=3,
    producer_share_threshold=0.05,
    market=MarketSettings(
        months=2, demand_blocks=4, demand_blocks_above=2, supply_blocks=2, spare_blocks=2
    ),
)


@pytest.fixture(scope="module")
def g7() -> Any:
    spec = load_study(G7)
    return dataclasses.replace(spec, commodities=(("graphite", "mining"),))


def close(a: float | None, b: float | None, rtol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


def test_sweep_row_matches_the_full_study_run(g7: Any) -> None:
    """The sweep's metrics are the run's own totals and summary (same numbers)."""
    policy, disruption = {"min_stock_days": 30.0}, {"availability": 0.25}
    frame = sweep(
        g7, {"min_stock_days": [30.0], "availability": [0.25]}, scenario=SCENARIO, settings=SMALL
    )
    row = frame.row(0, named=True)
    result = run_study(g7, SCENARIO, policy=policy, disruption=disruption, settings=SMALL)
    totals, summary = result.totals.row(0, named=True), result.summary
    assert row["method"] == "persistent"  # auto: the stress family re-solves persistently
    assert row["fresh_lps"] >= 1  # but a sweep's first point passes its LPs fresh
    for key in ("expected_welfare_loss_usd", "worst_welfare_loss_usd", "stock_build_usd"):
        assert close(row[key], totals[key]), key
    assert row["stock_build_usd"] > 0  # 30 days had to be bought
    w = summary["demand_units_per_year"]
    assert close(
        row["expected_shed_share"], float((summary["expected_shed_share"] * w).sum() / w.sum())
    )
    assert close(row["price_rise_max_pct"], summary["price_rise_max_pct"].max())
    assert (summary["stock_days"] >= 30.0 - 1e-6).all()  # the minimum stock holds


#: The default regions and horizon with coarse blocks: the pruned 2-month market of SMALL
#: leaves the US with stocks that ride out any cut of 90 days.
COARSE = StudyMarketSettings(
    market=MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2)
)


def test_a_deeper_cut_never_lowers_the_loss_or_the_price(g7: Any) -> None:
    frame = sweep(g7, {"availability": [0.9, 0.5, 0.0]}, scenario=SCENARIO, settings=COARSE)
    assert (frame["status"] == "optimal").all()
    worst = frame["worst_welfare_loss_usd"].to_list()
    price = frame["price_rise_max_pct"].to_list()
    assert all(a <= b + 1e-6 * max(1.0, abs(b)) for a, b in zip(worst, worst[1:], strict=False))
    assert all(a <= b + 1e-9 for a, b in zip(price, price[1:], strict=False))
    assert worst[-1] > 0
    assert price[-1] > 0


def test_persistent_is_refused_where_the_family_rebuilds(
    g7: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every market-core family re-solves persistently; one that says not is refused."""
    assert all(f.parametric for f in FAMILIES.values())
    monkeypatch.setitem(
        FAMILIES, "stress", dataclasses.replace(FAMILIES["stress"], parametric=False)
    )
    with pytest.raises(NotParametricError, match="stress family .* rebuilds every point"):
        sweep(g7, {"min_stock_days": [0.0]}, scenario=SCENARIO, method="persistent")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore:.*:UserWarning")
def test_sequential_process_and_dask_sweeps_are_identical(g7: Any) -> None:
    """Identical with ``rebuild`` (a persistent re-solve depends on the points a worker
    solved before: test_sweep_persistent.py compares it with ``rebuild``), but for the
    LPs passed fresh and the simplex iterations: a worker's first point also solves its
    calm reference."""
    points = pl.DataFrame({"min_stock_days": [0.0, 20.0, 40.0], "availability": [0.0, 0.5, 0.2]})
    kw: dict[str, Any] = {"scenario": SCENARIO, "settings": SMALL, "method": "rebuild"}
    sequential = sweep(g7, points, **kw)
    assert (sequential["status"] == "optimal").all()
    processes = sweep(g7, points, backend="processes", workers=2, **kw)
    where = ("fresh_lps", "simplex_iterations")  # where a point ran, not its answer
    sequential, processes = sequential.drop(where), processes.drop(where)
    assert_frame_equal(sequential, processes, check_exact=False, rtol=1e-9)  # sums in any order
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = sweep(g7, points, backend="dask", scheduler=client, chunk_size=2, **kw)
    assert_frame_equal(sequential, on_dask.drop(where), check_exact=False, rtol=1e-9)


def test_thread_counts_change_between_sweeps(g7: Any) -> None:
    """HiGHS's thread pool is process-wide: a new count must reset it, not fail the solves."""
    for threads in (2, 1):
        frame = sweep(
            g7,
            {"min_stock_days": [0.0]},
            scenario=SCENARIO,
            options=SolverOptions(threads=threads),
            settings=SMALL,
        )
        assert frame["status"].to_list() == ["optimal"]


# ----------------------------------------------------------------------------- frontier
def test_frontier_caps_bind_and_cost_the_members(g7: Any) -> None:
    """diversify: no stocks to bridge a cap, so every cut of non-allied supply costs."""
    f = frontier(dataclasses.replace(g7, model="diversify"), None, points=3, settings=SMALL)
    assert f["max_non_allied_share"].to_list() == [1.0, 0.5, 0.0]
    assert (f["status"] == "optimal").all()
    # graphite comes mostly from China: the caps bind, demand is shed, prices rise
    shed = f["expected_shed_share"].to_list()
    assert shed[0] == pytest.approx(0.0, abs=1e-9)
    assert shed[0] < shed[1] < shed[2]
    assert f["price_rise_max_pct"][2] > f["price_rise_max_pct"][0]
    assert f["expected_welfare_loss_usd"][2] > 0
    assert f["non_allied_share"][2] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(SpecError, match="lowest"):
        frontier(g7, None, lowest=1.5)


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


def test_every_metric_is_a_column(g7: Any) -> None:
    frame = sweep(g7, {"min_stock_days": [0.0]}, settings=SMALL)
    assert set(METRICS) <= set(frame.columns)
    assert frame["pooling_gain_usd"][0] is None  # not a pooling run
