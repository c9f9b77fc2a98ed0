"""The market LP written a second time, straight in highspy, gives the same answer.

The second implementation below builds the LP of :mod:`resilience.optimize.market` from
the documented math alone (module docstrings of demand, supply, trade, stages, stocks,
core), with plain Python loops and ``highspy.Highs.addVars/addRows``; only the block
tables (curve arithmetic, tested on their own) are shared. Objective, flows and prices
must agree to 1e-6.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import highspy
import numpy as np
import polars as pl
import pytest

from resilience.optimize.market import MarketInputs, MarketSettings, run_market
from resilience.optimize.market.demand import demand_blocks
from resilience.optimize.market.supply import supply_blocks
from resilience.optimize.market.testing import linked_world as shared_linked_world
from resilience.optimize.solve import SolverOptions


def tiny_world() -> MarketInputs:
    """The shared linked world (``resilience.optimize.market.testing.linked_world``)."""
    return shared_linked_world(
        production=(0.55, 0.7, 0.85), embargo=0.35, embargo_months=(1, 2, 3), ore=0.6
    )


class Lp:
    """Columns, rows and their bounds, filled by the functions below."""

    def __init__(self, inputs: MarketInputs) -> None:
        self.inputs = inputs
        self.params = {r["good"]: r for r in inputs.parameter_frame().iter_rows(named=True)}
        self.prob = dict(inputs.scenarios.iter_rows())
        self.avail = {
            (r["origin"], r["destination"], r["good"], r["month"], r["scenario"]): r["availability"]
            for r in inputs.availability.iter_rows(named=True)
        }
        self.periods = [(t, w) for t in range(1, inputs.months + 1) for w in self.prob]
        self.ub: list[float] = []
        self.cost: list[float] = []
        self.rows: dict[tuple[str, ...], dict[int, float]] = defaultdict(dict)
        self.rhs: dict[tuple[str, ...], tuple[float, float]] = {}
        self.names: dict[tuple[Any, ...], int] = {}

    def a(self, origin: str, destination: str, good: str, t: int, w: str) -> float:
        return self.avail.get((origin, destination, good, t, w), 1.0)

    def col(self, name: tuple[Any, ...], upper: float, c: float) -> int:
        self.names[name] = len(self.ub)
        self.ub.append(upper)
        self.cost.append(c)
        return self.names[name]

    def bal(self, node: str, good: str, t: int, w: str, j: int, coef: float) -> None:
        key = ("balance", node, good, str(t), w)
        self.rows[key][j] = self.rows[key].get(j, 0.0) + coef
        self.rhs[key] = (0.0, 0.0)


def blocks(lp: Lp, settings: MarketSettings) -> None:
    dem = demand_blocks(lp.inputs, settings)
    for n, g, q0 in lp.inputs.demand.iter_rows():
        for b in dem.filter(pl.col("good") == g).iter_rows(named=True):
            for t, w in lp.periods:
                width = q0 * (b["hi_share"] - b["lo_share"])
                j = lp.col(
                    ("served", n, g, b["block"], t, w), width, lp.prob[w] * b["value_usd_per_unit"]
                )
                lp.bal(n, g, t, w, j, 1.0)
    sup = supply_blocks(lp.inputs, settings)
    for n, g, s0 in lp.inputs.supply.iter_rows():
        for b in sup.filter(pl.col("good") == g).iter_rows(named=True):
            for t, w in lp.periods:
                width = lp.a(n, "*", g, t, w) * s0 * (b["hi_share"] - b["lo_share"])
                j = lp.col(
                    ("supply", n, g, b["block"], t, w), width, -lp.prob[w] * b["cost_usd_per_unit"]
                )
                lp.bal(n, g, t, w, j, -1.0)


def arcs(lp: Lp) -> None:
    q0 = {(n, g): q for n, g, q in lp.inputs.demand.iter_rows()}
    for arc in lp.inputs.arcs.iter_rows(named=True):
        o, d, g, f0 = arc["origin"], arc["destination"], arc["good"], arc["flow0_units_per_month"]
        p = lp.params[g]
        fixed = arc["kind"] == "fixed"
        ramp = f0 if f0 > 0 else q0[(d, g)]
        for t, w in lp.periods:
            a = lp.a(o, d, g, t, w)
            cap = arc["capacity_units_per_month"] if fixed else f0
            parts = [lp.col(("base", o, d, g, t, w), a * cap, 0.0)]
            if not fixed:
                friction = p["friction_share"] * p["p0_usd_per_unit"]
                growth_cap = a * p["ramp_share_per_month"] * ramp * t
                parts.append(lp.col(("growth", o, d, g, t, w), growth_cap, -lp.prob[w] * friction))
            for j in parts:
                lp.bal(o, g, t, w, j, 1.0)
                lp.bal(d, g, t, w, j, -1.0)


def processes(lp: Lp) -> None:
    ins = lp.inputs.process_inputs
    for n, proc, g_out, cap, c in lp.inputs.processes.iter_rows():
        for t, w in lp.periods:
            j = lp.col(("conv", n, proc, t, w), lp.a(n, "*", g_out, t, w) * cap, -lp.prob[w] * c)
            lp.bal(n, g_out, t, w, j, -1.0)
            for _, _, g_in, coef in ins.filter(pl.col("process") == proc).iter_rows():
                lp.bal(n, g_in, t, w, j, coef)


def stocks(lp: Lp) -> None:
    for n, g, k0, kmax, draw in lp.inputs.stocks.iter_rows():
        p0, h = lp.params[g]["p0_usd_per_unit"], lp.params[g]["holding_cost_share_per_month"]
        for t, w in lp.periods:
            last = t == lp.inputs.months
            k = lp.col(("k", n, g, t, w), kmax, lp.prob[w] * p0 if last else 0.0)
            r = lp.col(("r", n, g, t, w), draw, 0.0)
            b = lp.col(("b", n, g, t, w), np.inf, 0.0)
            e = lp.col(("e", n, g, t, w), np.inf, -lp.prob[w] * h * p0)
            flow = ("flow", n, g, str(t), w)
            lp.rows[flow] = {k: 1.0, b: -1.0, r: 1.0}
            if t > 1:
                lp.rows[flow][lp.names[("k", n, g, t - 1, w)]] = -1.0
            lp.rhs[flow] = (k0, k0) if t == 1 else (0.0, 0.0)
            lp.rows[("excess", n, g, str(t), w)] = {e: 1.0, k: -1.0}
            lp.rhs[("excess", n, g, str(t), w)] = (-k0, np.inf)
            lp.bal(n, g, t, w, r, -1.0)
            lp.bal(n, g, t, w, b, 1.0)


def highspy_market(inputs: MarketInputs, settings: MarketSettings) -> dict[str, Any]:
    lp = Lp(inputs)
    blocks(lp, settings)
    arcs(lp)
    processes(lp)
    stocks(lp)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    n = len(lp.ub)
    h.addVars(n, np.zeros(n), np.array(lp.ub))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(lp.cost))
    keys = list(lp.rows)
    for key in keys:
        idx = np.array(list(lp.rows[key]), dtype=np.int32)
        h.addRow(
            lp.rhs[key][0], lp.rhs[key][1], idx.size, idx, np.array(list(lp.rows[key].values()))
        )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    sol = h.getSolution()
    x, y = list(sol.col_value), list(sol.row_dual)
    flows: dict[tuple[Any, ...], float] = defaultdict(float)
    for name, j in lp.names.items():
        if name[0] in ("base", "growth"):
            flows[name[1:]] += x[j]
    prices = {
        (k[1], k[2], int(k[3]), k[4]): y[i] / lp.prob[k[4]]
        for i, k in enumerate(keys)
        if k[0] == "balance"
    }
    return {"objective": h.getInfo().objective_function_value, "flows": flows, "prices": prices}


def test_the_pyomo_market_and_a_highspy_rewrite_agree() -> None:
    inputs = tiny_world()
    settings = MarketSettings(months=3)
    ours = run_market(inputs, settings, options=SolverOptions(log_to="off"))
    theirs = highspy_market(inputs, settings)
    assert ours.solved.objective == pytest.approx(theirs["objective"], rel=1e-9)
    flows = ours.flows()
    assert flows.height == len(theirs["flows"]) == 6 * 3 * 2
    for r in flows.iter_rows(named=True):
        key = (r["origin"], r["destination"], r["good"], r["month"], r["scenario"])
        assert r["flow_units"] == pytest.approx(theirs["flows"][key], abs=1e-6)
    prices = ours.prices()
    assert prices.height == len(theirs["prices"])
    for r in prices.iter_rows(named=True):
        key = (r["node"], r["good"], r["month"], r["scenario"])
        assert r["price_usd_per_unit"] == pytest.approx(theirs["prices"][key], rel=1e-6), key
    # the world is disrupted enough for prices to move: the check is not on a flat market
    assert prices["price_usd_per_unit"].max() > 1.3 * 1000.0
