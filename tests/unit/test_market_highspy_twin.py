"""The market LP built a second time with Polars/NumPy straight into highspy (the twin).

:func:`resilience.optimize.market.twin.highspy_twin` builds the LP of
:mod:`resilience.optimize.market` from the documented math (no Pyomo, no builder); it is
the floor of ``benchmarks/bench_core_scale.py``. Here it must be the *same* LP as the
Pyomo model handed to HiGHS (entry for entry), and give the same objective, prices and
flows (issue 10: "a tiny world solved both by the Pyomo model and by a second
implementation straight in highspy gives the same prices and flows").
"""

from __future__ import annotations

import highspy
import numpy as np
import polars as pl
import pyomo.environ as pyo
import pytest

from resilience.optimize.compile import compile_model
from resilience.optimize.lp import add_variables
from resilience.optimize.market import MarketInputs, MarketSettings, build_market, run_market
from resilience.optimize.market.testing import GOOD, cut, synthetic_world, world
from resilience.optimize.market.testing import linked_world as shared_linked_world
from resilience.optimize.market.twin import highspy_twin, solve_twin
from resilience.optimize.solve import SolverOptions

QUIET = SolverOptions(log_to="off")

NGTW = ["node", "good", "month", "scenario"]
ARC = ["origin", "destination", "good", "month", "scenario"]


def linked_world() -> MarketInputs:
    """The shared linked world (``resilience.optimize.market.testing.linked_world``)."""
    return shared_linked_world()


def single_supplier() -> MarketInputs:
    """One supplier, one consumer, no process, no stock; output cut to 60 % in month 1."""
    return world(
        {("M", GOOD): 100.0},
        {("S", GOOD): 100.0},
        {("S", "M", GOOD): 100.0},
        availability=cut("S", 0.6, [1]),
    )


WORLDS = {
    "linked": linked_world,
    "single": single_supplier,
    "synthetic": lambda: synthetic_world(10, 2, 3, 3, seed=3),
}


def _coo(lp: highspy.HighsLp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, col, value)`` of a HighsLp's matrix, sorted by row then column."""
    mat = lp.a_matrix_
    start = np.asarray(mat.start_, dtype=np.int64)
    index = np.asarray(mat.index_, dtype=np.int64)
    outer = np.repeat(np.arange(start.size - 1), np.diff(start))
    if mat.format_ == highspy.MatrixFormat.kColwise:
        row, col = index, outer
    else:
        row, col = outer, index
    order = np.lexsort((col, row))
    return row[order], col[order], np.asarray(mat.value_)[order]


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_the_twin_is_the_handed_off_lp_entry_for_entry(name: str) -> None:
    inputs = WORLDS[name]()
    settings = MarketSettings(months=inputs.months)
    ours = compile_model(build_market(inputs, settings).model).lp
    twin = highspy_twin(inputs, settings).lp
    assert (twin.num_row_, twin.num_col_) == (ours.num_row_, ours.num_col_)
    assert ours.sense_ == twin.sense_ == highspy.ObjSense.kMaximize
    for attr in ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_"):
        np.testing.assert_allclose(
            np.asarray(getattr(twin, attr)), np.asarray(getattr(ours, attr)), rtol=1e-12
        )
    for a, b in zip(_coo(twin), _coo(ours), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_the_pyomo_market_and_the_twin_give_the_same_prices_and_flows(name: str) -> None:
    inputs = WORLDS[name]()
    settings = MarketSettings(months=inputs.months)
    ours = run_market(inputs, settings, options=QUIET)
    twin = solve_twin(highspy_twin(inputs, settings))
    assert ours.solved.objective == pytest.approx(twin.objective, rel=1e-9)
    prices = ours.prices().join(twin.prices, on=NGTW, how="full", suffix="_twin")
    assert prices.height == ours.prices().height == twin.prices.height
    ref = prices["price_usd_per_unit"].abs().max()
    for ourp, theirs in prices.select("price_usd_per_unit", "price_usd_per_unit_twin").rows():
        assert ourp == pytest.approx(theirs, rel=1e-6, abs=1e-9 * ref)
    flows = ours.flows().join(twin.flows, on=ARC, how="full", suffix="_twin")
    assert (
        flows.height
        == ours.flows().height
        == twin.flows.height
        == inputs.arcs.height * (inputs.months * inputs.scenarios.height)
    )
    np.testing.assert_allclose(flows["flow_units"], flows["flow_units_twin"], rtol=1e-7, atol=1e-6)
    # the worlds are disrupted: the check is not on a flat market at reference prices
    p0 = inputs.parameter_frame().select("good", "p0_usd_per_unit")
    rel = prices.join(p0, on="good").select(
        pl.col("price_usd_per_unit") / pl.col("p0_usd_per_unit")
    )
    assert rel.to_series().max() > 1.3


def test_the_twin_names_a_twin_that_is_not_optimal() -> None:
    twin = highspy_twin(single_supplier())
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("simplex_iteration_limit", 0)
    h.setOptionValue("presolve", "off")
    with pytest.raises(RuntimeError, match="did not solve to optimality"):
        solve_twin(twin, h)


# ----------------------------------------------------------------------------- the generator
def test_a_synthetic_world_without_disruption_is_the_observed_market() -> None:
    inputs = synthetic_world(16, 3, 2, 4, seed=7)
    r = run_market(inputs, MarketSettings(months=2), options=QUIET)
    calm = r.demand().filter(pl.col("scenario") == "calm")
    assert calm["shed_units"].max() < 1e-6
    np.testing.assert_allclose(calm["served_units"], calm["q0_units"], rtol=1e-9)
    p0 = inputs.parameter_frame().select("good", "p0_usd_per_unit")
    prices = r.prices().join(p0, on="good")
    metal = prices.filter(
        (pl.col("scenario") == "calm") & pl.col("good").str.ends_with("/refining")
    ).join(inputs.demand.select("node", "good"), on=["node", "good"])
    assert metal.height == 16 * 3 * 2
    np.testing.assert_allclose(metal["price_usd_per_unit"], metal["p0_usd_per_unit"], rtol=1e-5)
    events = prices.filter(pl.col("scenario") != "calm")
    rel = events["price_usd_per_unit"] / events["p0_usd_per_unit"]
    assert rel.max() > 1.2  # the events are felt


def test_a_synthetic_world_has_the_asked_shape_and_is_reproducible() -> None:
    a = synthetic_world(12, 2, 5, 3, seed=11)
    b = synthetic_world(12, 2, 5, 3, seed=11)
    c = synthetic_world(12, 2, 5, 3, seed=12)
    assert a.nodes.height == 12
    assert a.months == 5
    assert sorted(a.goods) == [
        "cobalt/mining",
        "cobalt/refining",
        "lithium/mining",
        "lithium/refining",
    ]
    assert a.scenarios["scenario"].to_list() == ["calm", "event_001", "event_002"]
    assert a.scenarios["probability"].sum() == pytest.approx(1.0)
    assert a.arcs.equals(b.arcs)
    assert a.availability.equals(b.availability)
    assert not a.arcs.equals(c.arcs)
    # observed metal shipments plus own refining cover every consumer's demand exactly
    metal = a.arcs.filter(pl.col("good") == "cobalt/refining")
    received = metal.group_by("destination").agg(pl.col("flow0_units_per_month").sum())
    q0 = a.demand.filter(pl.col("good") == "cobalt/refining")
    refiners = set(a.processes.filter(pl.col("good_out") == "cobalt/refining")["node"])
    check = q0.join(received, left_on="node", right_on="destination", how="left")
    for node, need, got in check.select(
        "node", "q0_units_per_month", "flow0_units_per_month"
    ).rows():
        if node not in refiners:
            assert got == pytest.approx(need, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [((12, 0, 2, 2), "commodities"), ((12, 9, 2, 2), "commodities"), ((3, 1, 2, 2), "nodes")],
)
def test_a_synthetic_world_refuses_impossible_sizes(args: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthetic_world(*args)


# ----------------------------------------------------------------------------- the fast bounds
def test_column_bounds_stored_directly_read_back_through_pyomo() -> None:
    """``lp.add_variables`` stores bounds past Pyomo's setter (``lp_record.set_var_bounds``)."""
    frame = pl.DataFrame(
        {"k": ["a", "b", "c"], "lo": [1.5, None, -2.0], "hi": [3.0, 4.0, None]},
        schema={"k": pl.String, "lo": pl.Float64, "hi": pl.Float64},
    )
    m = pyo.ConcreteModel()
    x = add_variables(m, "x", frame, keys=["k"], lb="lo", ub="hi")
    assert [(x[k].lb, x[k].ub) for k in "abc"] == [(1.5, 3.0), (None, 4.0), (-2.0, None)]
    y = add_variables(m, "y", frame, keys=["k"], lb=0.0, ub="hi")
    assert [(y[k].lb, y[k].ub) for k in "abc"] == [(0.0, 3.0), (0.0, 4.0), (0.0, None)]
    assert list(x.index_set()) == ["a", "b", "c"]  # the keys, in frame order
    with pytest.raises(KeyError):
        x["d"]
