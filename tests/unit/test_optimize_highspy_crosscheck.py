"""One tiny stress case written a second time, straight against highspy arrays.

The Pyomo model (``resilience.optimize.stress``) and this hand-written extensive form must
agree on the objective and the first-stage plan. The second formulation is deliberately
different in form: a delivered variable ``y`` on *every* arc (``y <= a x``), capacity as
rows, the CVaR term written out, and no bulk builders.
"""

from __future__ import annotations

import highspy
import numpy as np
import polars as pl
import pytest

from resilience.optimize import scenarios_data as sd
from resilience.optimize.inputs import ModelData
from resilience.optimize.solve import SolverOptions
from resilience.optimize.stress import StockPolicy, StressSettings, run_stress

INF = highspy.kHighsInf

# USA needs 100 t; CHN (10 USD/t, 200 t, not allied), AUS (12, 50, ally), CAN (14, 30, ally).
# Unit value 12: h = 1.2, v = 60, spot = 1.5 x unit cost. Stock <= 10 t. CVaR_0.9 weight 1.
SUPPLIERS = ["CHN", "AUS", "CAN"]
COST = np.array([10.0, 12.0, 14.0])
CAP = np.array([200.0, 50.0, 30.0])
ALLY = np.array([False, True, True])
DEMAND, H, V, SPOT_PREMIUM, K_MAX, LAM, BETA = 100.0, 1.2, 60.0, 0.5, 10.0, 1.0, 0.9
SCENARIOS = [("blockade:CHN", 0.05, np.array([0.0, 1.0, 1.0])), ("calm", 0.95, np.ones(3))]


def highspy_extensive_form() -> tuple[float, np.ndarray, float]:
    """Build and solve the deterministic equivalent with plain arrays; return obj, x, k."""
    names: list[str] = []
    cost: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def col(name: str, c: float, lo: float = 0.0, hi: float = INF) -> int:
        names.append(name)
        cost.append(c)
        lower.append(lo)
        upper.append(hi)
        return len(names) - 1

    x = [col(f"x_{s}", COST[i]) for i, s in enumerate(SUPPLIERS)]
    k = col("k", H, 0.0, K_MAX)
    eta = col("eta", LAM, -INF, INF)
    rows: list[tuple[dict[int, float], float, float]] = []
    rows.append(({j: 1.0 for j in x}, DEMAND, DEMAND))  # contracts meet demand
    rows += [({x[i]: 1.0}, -INF, CAP[i]) for i in range(3)]  # shared capacity
    for w, (_, prob, a) in enumerate(SCENARIOS):
        y = [col(f"y_{s}_{w}", 0.0) for s in SUPPLIERS]
        z = {
            i: col(f"z_{SUPPLIERS[i]}_{w}", prob * COST[i] * (1 + SPOT_PREMIUM))
            for i in range(3)
            if ALLY[i]
        }
        r = col(f"r_{w}", 0.0)
        u = col(f"u_{w}", prob * V)
        xi = col(f"xi_{w}", LAM * prob / (1 - BETA))
        rows += [({y[i]: 1.0, x[i]: -a[i]}, -INF, 0.0) for i in range(3)]  # y <= a x
        rows += [({z[i]: 1.0, x[i]: a[i]}, -INF, a[i] * CAP[i]) for i in z]  # spare capacity
        rows.append(({r: 1.0, k: -1.0}, -INF, 0.0))  # release <= stock
        balance = {j: 1.0 for j in [*y, *z.values(), r, u]}
        rows.append((balance, DEMAND, DEMAND))
        rows.append(({xi: 1.0, eta: 1.0, u: -V}, 0.0, INF))  # xi >= v u - eta
    lp = highspy.HighsLp()
    lp.num_col_ = len(names)
    lp.num_row_ = len(rows)
    lp.col_cost_ = np.array(cost)
    lp.col_lower_ = np.array(lower)
    lp.col_upper_ = np.array(upper)
    lp.row_lower_ = np.array([lo for _, lo, _ in rows])
    lp.row_upper_ = np.array([hi for _, _, hi in rows])
    starts, index, value = [0], [], []
    for coefs, _, _ in rows:
        index += list(coefs)
        value += list(coefs.values())
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = len(names)
    lp.a_matrix_.num_row_ = len(rows)
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.passModel(lp) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    sol = np.array(h.getSolution().col_value)
    return float(h.getInfo().objective_function_value), sol[x], float(sol[k])


def pyomo_case() -> tuple[float, np.ndarray, float]:
    demand = pl.DataFrame(
        {
            "member_iso3": ["USA"],
            "commodity": ["lithium"],
            "stage": ["refining"],
            "demand_t": [DEMAND],
        }
    )
    capacity = pl.DataFrame(
        {
            "supplier_iso3": SUPPLIERS,
            "commodity": ["lithium"] * 3,
            "stage": ["refining"] * 3,
            "capacity_t": CAP,
            "observed_exports_t": CAP,
        }
    )
    arcs = pl.DataFrame(
        {
            "member_iso3": ["USA"] * 3,
            "supplier_iso3": SUPPLIERS,
            "commodity": ["lithium"] * 3,
            "stage": ["refining"] * 3,
            "unit_cost_usd_per_t": COST,
            "observed_t": [0.0] * 3,
            "is_ally": ALLY,
        }
    )
    data = ModelData(2023, ("USA",), demand, capacity, arcs)
    scen = sd.scenario_set(sd.blockade("CHN", probability=0.05), baseline_name="calm")
    s = StressSettings(
        stock=StockPolicy(max_stock_days=K_MAX / DEMAND * 365), cvar_weight=LAM, cvar_level=BETA
    )
    r = run_stress(data, scen, s, SolverOptions(log_to="off"))
    x = r.plan.sort(pl.col("supplier_iso3").replace_strict({s: i for i, s in enumerate(SUPPLIERS)}))
    return r.objective_usd, x["quantity_t"].to_numpy(), float(r.stock["stock_t"][0])


def test_pyomo_and_highspy_agree() -> None:
    obj_h, x_h, k_h = highspy_extensive_form()
    obj_p, x_p, k_p = pyomo_case()
    assert obj_h == pytest.approx(obj_p, rel=1e-9)
    assert x_h == pytest.approx(x_p, abs=1e-7)
    assert k_h == pytest.approx(k_p, abs=1e-7)
    # and both equal the hand-worked value of tests/unit/test_optimize_stress.py
    assert obj_p == pytest.approx(1418.5)
    assert x_p == pytest.approx([100.0, 0.0, 0.0])
