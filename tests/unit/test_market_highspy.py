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
from resilience.optimize.market.testing import GOOD, cut, parameters, world
from resilience.optimize.solve import SolverOptions

ORE = "cobalt/mining"


def tiny_world() -> MarketInputs:
    avail = [
        *[{**r, "availability": a} for r, a in zip(cut("A", 1, [1, 2, 3]), (0.55, 0.7, 0.85),
                                                    strict=True)],
        *cut("A", 0.35, [1, 2, 3], destination="M", scenario="arc"),
        *cut("X", 0.6, [1, 2, 3], good=ORE, scenario="arc"),
    ]
    return world(
        {("M", GOOD): 100.0, ("N", GOOD): 50.0},
        {("A", GOOD): 90.0, ("B", GOOD): 60.0, ("X", ORE): 50.0},
        {("A", "M", GOOD): 60.0, ("B", "M", GOOD): 20.0, ("B", "N", GOOD): 40.0,
         ("X", "B", ORE): 50.0, ("M", "N", GOOD): 0.0},
        fixed={("A", "N", GOOD): (30.0, 35.0)},
        params=parameters({
            GOOD: {"spare_capacity_share": 0.25, "ramp_share_per_month": 0.3},
            ORE: {"p0_usd_per_unit": 400.0, "demand_elasticity": -0.3},
        }),
        processes={("B", "refine"): (GOOD, 60.0, {ORE: 0.8})},
        stocks={("M", GOOD): (30.0, 60.0, 12.0)},
        scenarios={"cut": 0.7, "arc": 0.3},
        availability=avail,
        months=3,
    )


def highspy_market(inputs: MarketInputs, settings: MarketSettings) -> dict[str, Any]:
    params = {r["good"]: r for r in inputs.parameter_frame().iter_rows(named=True)}
    prob = dict(inputs.scenarios.iter_rows())
    avail = {(r["origin"], r["destination"], r["good"], r["month"], r["scenario"]):
             r["availability"] for r in inputs.availability.iter_rows(named=True)}
    periods = [(t, w) for t in range(1, inputs.months + 1) for w in prob]
    lb: list[float] = []
    ub: list[float] = []
    cost: list[float] = []
    rows: dict[tuple[str, ...], dict[int, float]] = defaultdict(dict)
    rhs: dict[tuple[str, ...], tuple[float, float]] = {}
    names: dict[tuple[Any, ...], int] = {}

    def col(name: tuple[Any, ...], upper: float, c: float) -> int:
        names[name] = len(lb)
        lb.append(0.0)
        ub.append(upper)
        cost.append(c)
        return names[name]

    def bal(node: str, good: str, t: int, w: str, j: int, coef: float) -> None:
        key = ("balance", node, good, str(t), w)
        rows[key][j] = rows[key].get(j, 0.0) + coef
        rhs[key] = (0.0, 0.0)

    dem = demand_blocks(inputs, settings)
    for n, g, q0 in inputs.demand.iter_rows():
        for b in dem.filter(pl.col("good") == g).iter_rows(named=True):
            for t, w in periods:
                j = col(("served", n, g, b["block"], t, w), q0 * (b["hi_share"] - b["lo_share"]),
                        prob[w] * b["value_usd_per_unit"])
                bal(n, g, t, w, j, 1.0)
    sup = supply_blocks(inputs, settings)
    for n, g, s0 in inputs.supply.iter_rows():
        for b in sup.filter(pl.col("good") == g).iter_rows(named=True):
            for t, w in periods:
                a = avail.get((n, "*", g, t, w), 1.0)
                j = col(("supply", n, g, b["block"], t, w),
                        a * s0 * (b["hi_share"] - b["lo_share"]), -prob[w] * b["cost_usd_per_unit"])
                bal(n, g, t, w, j, -1.0)
    q0 = {(n, g): q for n, g, q in inputs.demand.iter_rows()}
    for arc in inputs.arcs.iter_rows(named=True):
        o, d, g, f0 = arc["origin"], arc["destination"], arc["good"], arc["flow0_units_per_month"]
        p = params[g]
        ramp = f0 if f0 > 0 else q0[(d, g)]
        for t, w in periods:
            a = avail.get((o, d, g, t, w), 1.0)
            fixed = arc["kind"] == "fixed"
            j = col(("base", o, d, g, t, w), a * (arc["capacity_units_per_month"] if fixed
                                                    else f0), 0.0)
            bal(o, g, t, w, j, 1.0)
            bal(d, g, t, w, j, -1.0)
            if not fixed:
                j = col(("growth", o, d, g, t, w), a * p["ramp_share_per_month"] * ramp * t,
                        -prob[w] * p["friction_share"] * p["p0_usd_per_unit"])
                bal(o, g, t, w, j, 1.0)
                bal(d, g, t, w, j, -1.0)
    ins = inputs.process_inputs
    for n, proc, g_out, cap, c in inputs.processes.iter_rows():
        for t, w in periods:
            j = col(("conv", n, proc, t, w), avail.get((n, "*", g_out, t, w), 1.0) * cap,
                    -prob[w] * c)
            bal(n, g_out, t, w, j, -1.0)
            for _, _, g_in, coef in ins.filter(pl.col("process") == proc).iter_rows():
                bal(n, g_in, t, w, j, coef)
    for n, g, k0, kmax, draw in inputs.stocks.iter_rows():
        p0, h = params[g]["p0_usd_per_unit"], params[g]["holding_cost_share_per_month"]
        for t, w in periods:
            k = col(("k", n, g, t, w), kmax, prob[w] * p0 if t == inputs.months else 0.0)
            r = col(("r", n, g, t, w), draw, 0.0)
            b = col(("b", n, g, t, w), np.inf, 0.0)
            e = col(("e", n, g, t, w), np.inf, -prob[w] * h * p0)
            flow = ("flow", n, g, str(t), w)
            rows[flow] = {k: 1.0, b: -1.0, r: 1.0}
            if t > 1:
                rows[flow][names[("k", n, g, t - 1, w)]] = -1.0
            rhs[flow] = (k0, k0) if t == 1 else (0.0, 0.0)
            rows[("excess", n, g, str(t), w)] = {e: 1.0, k: -1.0}
            rhs[("excess", n, g, str(t), w)] = (-k0, np.inf)
            bal(n, g, t, w, r, -1.0)
            bal(n, g, t, w, b, 1.0)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(len(lb), np.array(lb), np.array(ub))
    h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), np.array(cost))
    keys = list(rows)
    for key in keys:
        idx = np.array(list(rows[key]), dtype=np.int32)
        val = np.array(list(rows[key].values()))
        h.addRow(rhs[key][0], rhs[key][1], idx.size, idx, val)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    sol = h.getSolution()
    x, y = list(sol.col_value), list(sol.row_dual)
    flows: dict[tuple[Any, ...], float] = defaultdict(float)
    for name, j in names.items():
        if name[0] in ("base", "growth"):
            flows[name[1:]] += x[j]
    prices = {(k[1], k[2], int(k[3]), k[4]): y[i] / prob[k[4]]
              for i, k in enumerate(keys) if k[0] == "balance"}
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
