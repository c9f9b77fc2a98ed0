r"""Stress: a two-stage stochastic LP — contract and stock now, respond once disruption strikes.

First stage (before knowing the scenario): contracts :math:`x_{m,s,c}` under the
:class:`~resilience.optimize.diversify.DiversifyPolicy` (the diversify constraints:
demand met, shared capacity, friend-shoring and single-supplier caps) and stocks
:math:`k_{m,c}` (t). Second stage per scenario :math:`w` with probability
:math:`\pi_w`: the recourse of :mod:`resilience.optimize.recourse` (delivered contracts,
spot from spare allied capacity, stock releases, transfers between members, shortfall).

.. math::

   \min\; \sum p_{s,c}\,x_{m,s,c} + \sum h_c\,k_{m,c} + \sum_w \pi_w R_w
   + \lambda\,\mathrm{CVaR}_\beta(L)

with :math:`R_w` the second-stage cost (spot, transfers, :math:`v_c u`) and
:math:`L_w = \sum_{m,c} v_c\,u_{m,c,w}` the valued shortfall (USD) of scenario :math:`w`.
CVaR is linearised after Rockafellar and Uryasev (2000) (:func:`add_cvar`). Defaults:
:math:`\lambda = 0` (risk neutral), :math:`\beta` = :data:`CVAR_LEVEL` = 0.95 (the worst
5 % of outcomes, the usual choice); cost defaults in :mod:`resilience.optimize.recourse`.

"Expected shortfall" in this package is the probability-weighted supply shortfall in
tonnes (and its value in USD), not the risk measure of the same name, which is reported
as CVaR.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from resilience.errors import DataError, DataProblem
from resilience.optimize import diversify
from resilience.optimize.diversify import DiversifyPolicy
from resilience.optimize.inputs import COMMODITY_KEY, ModelData
from resilience.optimize.lp import add_variables
from resilience.optimize.recourse import (
    ARC,
    DAYS_PER_YEAR,
    DEMAND,
    SUPPLY,
    RecourseSets,
    RecourseSettings,
    Terms,
    W,
    add_recourse,
    add_rows,
    clean_zeros,
    describe_recourse,
    linear_sum,
    recourse_cost_terms,
    recourse_flows,
    recourse_sets,
    shortfall_value_terms,
)
from resilience.optimize.scenarios_data import validate_scenarios
from resilience.optimize.solve import SolveResult, SolverOptions, solve

__all__ = [
    "CVAR_LEVEL",
    "StockPolicy",
    "StressResult",
    "StressSettings",
    "add_contracts",
    "add_cvar",
    "add_stock",
    "build_stress",
    "capacity_values",
    "cvar",
    "describer",
    "first_stage_cost_terms",
    "run_stress",
]

log = logging.getLogger(__name__)

#: Default CVaR level :math:`\beta`: the mean of the worst 5 % of outcomes.
CVAR_LEVEL = 0.95


@dataclass(frozen=True)
class StockPolicy:
    r"""Bounds on the first-stage stock :math:`k_{m,c}`.

    Attributes
    ----------
    min_stock_days, max_stock_days
        Stock of at least / at most this many days of the member's demand,
        :math:`k \ge \text{days}\, d/365` (IEA oil rule: 90 days of net imports).
        ``max_stock_days=None``: no upper limit.
    min_stock_t
        Optional ``member_iso3, commodity, stage, min_stock_t``: lower bounds in tonnes
        (the larger of this and the days rule applies).
    fixed_stock_t
        Optional ``member_iso3, commodity, stage, stock_t``: the stock is given (missing
        rows: none), e.g. to evaluate today's stocks.
    """

    min_stock_days: float = 0.0
    max_stock_days: float | None = None
    min_stock_t: pl.DataFrame | None = field(default=None, compare=False)
    fixed_stock_t: pl.DataFrame | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.min_stock_days >= 0:
            raise ValueError(f"min_stock_days must be >= 0, got {self.min_stock_days}")
        if self.max_stock_days is not None and not self.max_stock_days >= self.min_stock_days:
            # kept to a ValueError: both are the user's own numbers, no data involved
            raise ValueError(
                f"max_stock_days ({self.max_stock_days}) is below min_stock_days "
                f"({self.min_stock_days})"
            )


@dataclass(frozen=True)
class StressSettings:
    r"""Everything a stress run needs besides data and scenarios.

    Attributes
    ----------
    policy
        First-stage sourcing policy (friend-shoring and single-supplier caps).
    recourse
        Second-stage options and cost parameters.
    stock
        Stock bounds.
    cvar_weight, cvar_level
        :math:`\lambda \ge 0` and :math:`\beta \in [0, 1)` of the CVaR term.
    fixed_plan
        Optional ``member_iso3, supplier_iso3, commodity, stage, quantity_t``: evaluate
        these contracts instead of choosing them (arcs not listed: 0).
    """

    policy: DiversifyPolicy = field(default_factory=DiversifyPolicy)
    recourse: RecourseSettings = field(default_factory=RecourseSettings)
    stock: StockPolicy = field(default_factory=StockPolicy)
    cvar_weight: float = 0.0
    cvar_level: float = CVAR_LEVEL
    fixed_plan: pl.DataFrame | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.cvar_weight >= 0:
            raise ValueError(f"cvar_weight must be >= 0, got {self.cvar_weight}")
        if not 0 <= self.cvar_level < 1:
            raise ValueError(f"cvar_level must lie in [0, 1), got {self.cvar_level}")


# ----------------------------------------------------------------------------- helpers
def _given(
    base: pl.DataFrame, given: pl.DataFrame, keys: list[str], column: str, name: str
) -> pl.DataFrame:
    """``base`` with ``column`` from ``given`` (strict keys, values >= 0, missing = 0)."""
    problems: list[DataProblem] = []
    frame = given.with_row_index("_i")
    if column not in given.columns:
        raise DataError.single(name, None, column, None, "required column missing")
    unknown = frame.join(base.select(keys), on=keys, how="anti")
    for row in unknown.select("_i", *keys).iter_rows():
        problems.append(DataProblem(name, row[0] + 2, ", ".join(keys), row[1:], "not in the data"))
    for i, v in frame.select("_i", column).iter_rows():
        if v is None or not v >= 0:
            problems.append(DataProblem(name, i + 2, column, v, "must be a number >= 0"))
    if frame.select(keys).is_duplicated().any():
        problems.append(DataProblem(name, None, ", ".join(keys), None, "repeated keys"))
    if problems:
        raise DataError(problems)
    return base.join(given.select(*keys, column), on=keys, how="left").with_columns(
        pl.col(column).fill_null(0.0)
    )


def cvar(losses: Any, probabilities: Any, level: float) -> float:
    r"""Exact :math:`\mathrm{CVaR}_\beta` of a discrete loss: the mean of its worst :math:`1-\beta`.

    .. math::

       \mathrm{CVaR}_\beta(L) = \min_\eta\; \eta + \frac{1}{1-\beta}\sum_w \pi_w (L_w - \eta)^+
    """
    loss = np.asarray(losses, dtype=float)
    prob = np.asarray(probabilities, dtype=float)
    if not 0 <= level < 1:
        raise ValueError(f"level must lie in [0, 1), got {level}")
    order = np.argsort(-loss, kind="stable")
    tail, total = 1.0 - level, 0.0
    for i in order:
        take = min(prob[i], tail)
        total += take * loss[i]
        tail -= take
        if tail <= 1e-15:
            break
    return total / (1.0 - level)


# ----------------------------------------------------------------------------- families
def add_contracts(
    model: Any, data: ModelData, policy: DiversifyPolicy, fixed_plan: pl.DataFrame | None = None
) -> None:
    r"""First-stage contracts: the diversify families (see :mod:`resilience.optimize.diversify`).

    :math:`0 \le x_{m,s,c} \le \beta d_{m,c}`, :math:`\sum_s x_{m,s,c} = d_{m,c}`,
    :math:`\sum_m x_{m,s,c} \le \mathrm{cap}_{s,c}`, and, when :math:`\alpha < 1`,
    :math:`\sum_{s\notin A} x_{m,s,c} \le \alpha d_{m,c}`. A fixed plan sets
    :math:`x = \hat x` through both bounds.
    """
    arcs = data.arcs.join(data.demand, on=DEMAND).with_columns(
        (pl.col("demand_t") * policy.max_single_supplier_share).alias("ub"),
        pl.lit(0.0).alias("lb"),
    )
    if fixed_plan is not None:
        arcs = _given(arcs, fixed_plan, ARC, "quantity_t", "fixed plan").with_columns(
            pl.col("quantity_t").alias("lb"), pl.col("quantity_t").alias("ub")
        )
    add_variables(model, "x", arcs.select(*ARC, "lb", "ub"), keys=ARC, lb="lb", ub="ub")
    diversify.add_demand_balance(model, data)
    diversify.add_supplier_capacity(model, data)
    if policy.max_non_allied_share < 1.0:
        diversify.add_non_allied_cap(model, data, policy)


def stock_bounds(data: ModelData, stock: StockPolicy) -> pl.DataFrame:
    """``member_iso3, commodity, stage, demand_t, lb_t, ub_t`` of the stock (null ub: none)."""
    per_day = pl.col("demand_t") / DAYS_PER_YEAR
    frame = data.demand.with_columns(
        (per_day * stock.min_stock_days).alias("lb_t"),
        (per_day * stock.max_stock_days if stock.max_stock_days is not None else pl.lit(None))
        .cast(pl.Float64)
        .alias("ub_t"),
    )
    if stock.min_stock_t is not None:
        frame = _given(frame, stock.min_stock_t, DEMAND, "min_stock_t", "minimum stock")
        frame = frame.with_columns(pl.max_horizontal("lb_t", "min_stock_t").alias("lb_t"))
    if stock.fixed_stock_t is not None:
        frame = _given(frame, stock.fixed_stock_t, DEMAND, "stock_t", "fixed stock")
        frame = frame.with_columns(pl.col("stock_t").alias("lb_t"), pl.col("stock_t").alias("ub_t"))
    return frame.select(*DEMAND, "demand_t", "lb_t", "ub_t")


def add_stock(model: Any, data: ModelData, stock: StockPolicy) -> None:
    r"""First-stage stock :math:`\ell_{m,c} \le k_{m,c} \le \bar u_{m,c}` (t), component ``k``.

    :math:`\ell = \max(\text{min days}\cdot d/365,\ \text{min t})`,
    :math:`\bar u = \text{max days}\cdot d/365` (none by default); a fixed stock sets both.
    """
    bounds = stock_bounds(data, stock)
    add_variables(
        model, "k", bounds.select(*DEMAND, "lb_t", "ub_t"), keys=DEMAND, lb="lb_t", ub="ub_t"
    )


def add_cvar(model: Any, sets: RecourseSets) -> None:
    r"""Rockafellar–Uryasev auxiliaries for :math:`\mathrm{CVaR}_\beta(L)` (``cvar_excess``).

    .. math::

       \mathrm{CVaR}_\beta(L) = \min\; \eta + \frac{1}{1-\beta}\sum_w \pi_w \xi_w,
       \qquad \xi_w \ge L_w - \eta,\quad \xi_w \ge 0,

    with :math:`L_w = \sum_{m,c} v_c u_{m,c,w}` (USD) and :math:`\eta` free (at the
    optimum, the value at risk). Components ``eta`` (one, keyed ``measure``), ``xi``.
    """
    add_variables(model, "eta", pl.DataFrame({"measure": ["shortfall_usd"]}), lb=None)
    rows = sets.probabilities.select(W)
    add_variables(model, "xi", rows, keys=[W], lb=0.0)
    eta = rows.with_columns(pl.lit("shortfall_usd").alias("measure"))
    add_rows(
        model,
        "cvar_excess",
        rows,
        [W],
        [
            Terms(rows, model.xi, [W], 1.0),
            Terms(eta, model.eta, ["measure"], 1.0),
            shortfall_value_terms(model, sets, sign=-1.0),
        ],
        lb=0.0,
    )


def first_stage_cost_terms(model: Any, data: ModelData, sets: RecourseSets) -> list[Terms]:
    r"""Terms of :math:`\sum p_{s,c} x_{m,s,c} + \sum h_c k_{m,c}` (USD per year)."""
    holding = data.demand.join(sets.costs, on=COMMODITY_KEY)
    return [
        Terms(data.arcs, model.x, ARC, "unit_cost_usd_per_t"),
        Terms(holding, model.k, DEMAND, "holding_cost_usd_per_t_year"),
    ]


def build_stress(
    data: ModelData, scenarios: pl.DataFrame, settings: StressSettings
) -> tuple[Any, RecourseSets]:
    """The Pyomo model (first stage, recourse per scenario, CVaR if weighted) and its sets."""
    with PauseGC():  # millions of new objects: no use looking for cycles among them
        return _build_stress(data, scenarios, settings)


def _build_stress(
    data: ModelData, scenarios: pl.DataFrame, settings: StressSettings
) -> tuple[Any, RecourseSets]:
    scenarios = validate_scenarios(scenarios)
    sets = recourse_sets(data, scenarios, settings.recourse)
    model = pyo.ConcreteModel(name="stress")
    add_contracts(model, data, settings.policy, settings.fixed_plan)
    add_stock(model, data, settings.stock)
    add_recourse(model, sets)
    weight = sets.probabilities.rename({"probability": "weight"})
    parts = first_stage_cost_terms(model, data, sets) + recourse_cost_terms(model, sets, weight)
    lam = settings.cvar_weight
    if lam > 0:
        add_cvar(model, sets)
        tail = sets.probabilities.with_columns(
            (pl.col("probability") * lam / (1.0 - settings.cvar_level)).alias("coef")
        )
        parts += [
            Terms(pl.DataFrame({"measure": ["shortfall_usd"]}), model.eta, ["measure"], lam),
            Terms(tail, model.xi, [W]),
        ]
    model.cost = pyo.Objective(expr=linear_sum(parts), sense=pyo.minimize)
    return model, sets


def describer(
    data: ModelData,
    settings: StressSettings,
    sets: RecourseSets | None = None,
    what: str = "scenario",
) -> Callable[[str, tuple[Any, ...]], str | None]:
    """Turn an infeasible constraint or bound into a sentence in the user's terms.

    ``what`` names a second-stage case in the sentences ("scenario", or "strike" for the
    coercion model).
    """
    first = diversify.describer(data, settings.policy)
    second = describe_recourse(sets, what) if sets is not None else (lambda f, i: None)
    bounds = {
        tuple(r[:3]): r[3:] for r in stock_bounds(data, settings.stock).drop("demand_t").iter_rows()
    }
    stock = settings.stock

    def describe(family: str, index: tuple[Any, ...]) -> str | None:
        if family == "k":
            m, c, s = index
            lo, hi = bounds.get((m, c, s), (0.0, None))
            if stock.fixed_stock_t is not None:
                return f"the given stock fixes {m}'s {c} ({s}) stock at {lo:,.0f} t"
            hi_text = "no limit" if hi is None else f"{hi:,.0f} t ({stock.max_stock_days:g} days)"
            return (
                f"stock policy: {m} holds at least {lo:,.0f} t of {c} ({s}) "
                f"({stock.min_stock_days:g} days or the tonnes given) and at most {hi_text}"
            )
        if family == "x" and settings.fixed_plan is not None:
            m, sup, c, s = index
            return f"the given plan fixes {m}'s purchases of {c} ({s}) from {sup}"
        return first(family, index) or second(family, index)

    return describe


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class StressResult:
    r"""Tidy results of a stress run (Polars frames only).

    Attributes
    ----------
    plan
        ``member_iso3, supplier_iso3, commodity, stage, quantity_t, share, cost_usd,
        observed_t, is_ally``: the first-stage contracts.
    stock
        ``member_iso3, commodity, stage, demand_t, stock_t, days_of_cover,
        holding_cost_usd, marginal_value_usd_per_t``. Days of cover
        :math:`= k / (d/365)`. The marginal value is the expected second-stage saving of
        one more tonne of stock given free to that member, :math:`\sum_w` of the
        ``release_limit`` marginal values (>= 0); where it exceeds the holding cost a
        stock limit binds, where it is below it the stock is at its lower bound.
    shortfall
        :func:`~resilience.optimize.recourse.recourse_flows` plus ``probability``: per
        scenario, member and commodity (window quantities in t, costs in USD).
    expected_shortfall
        ``member_iso3, commodity, stage, expected_shortfall_t, expected_shortfall_usd,
        expected_shortfall_share`` (of the window demand).
    scenarios
        ``scenario, probability, shortfall_t, shortfall_usd, spot_cost_usd,
        transfer_cost_usd, recourse_cost_usd, tail_weight`` (risk-adjusted probability
        from the CVaR duals when ``cvar_weight > 0``, else null).
    capacity_value
        :func:`capacity_values`: value of one more tonne of each supplier's capacity.
    summary
        One row: ``objective_usd, contract_cost_usd, holding_cost_usd,
        expected_recourse_cost_usd, expected_shortfall_t, expected_shortfall_usd,
        var_shortfall_usd, cvar_shortfall_usd, cvar_level``.
    """

    plan: pl.DataFrame
    stock: pl.DataFrame
    shortfall: pl.DataFrame
    expected_shortfall: pl.DataFrame
    scenarios: pl.DataFrame
    capacity_value: pl.DataFrame
    summary: pl.DataFrame

    def _get(self, column: str) -> float:
        return float(self.summary[column][0])

    @property
    def objective_usd(self) -> float:
        """Optimal objective (USD)."""
        return self._get("objective_usd")

    @property
    def expected_shortfall_t(self) -> float:
        """Probability-weighted shortfall over all members and commodities (t)."""
        return self._get("expected_shortfall_t")

    @property
    def expected_shortfall_usd(self) -> float:
        """Its value at the value of lost supply (USD)."""
        return self._get("expected_shortfall_usd")

    @property
    def cvar_shortfall_usd(self) -> float:
        """CVaR at ``cvar_level`` of the valued shortfall (USD)."""
        return self._get("cvar_shortfall_usd")


def capacity_values(
    result: SolveResult, model: Any, data: ModelData, sets: RecourseSets
) -> pl.DataFrame:
    r"""Value of one more tonne of a supplier's capacity (USD/t, >= 0 when minimising).

    Capacity enters the contracts row (``supplier_capacity``) and, for allied suppliers,
    every scenario's spare-capacity row with coefficient :math:`\varphi a_{s,c,w}` and
    every member-targeted spot limit with :math:`\varphi a_{s,m,c,w}`, so

    .. math::

       \mathrm{value}_{s,c} = \mu^{\text{contract}}_{s,c}
       + \sum_w \varphi\, a_{s,c,w}\, \mu^{\text{spare}}_{s,c,w}
       + \sum_{w,m} \varphi\, a_{s,m,c,w}\, \mu^{\text{arc}}_{s,m,c,w}

    with :math:`\mu` the marginal values (``-dual``) of :meth:`SolveResult.marginal_values`.

    Returns
    -------
    polars.DataFrame
        ``supplier_iso3, commodity, stage, is_ally, contract_value_usd_per_t,
        spot_value_usd_per_t, marginal_value_usd_per_t``.
    """
    contract = result.marginal_values(model.supplier_capacity).rename(
        {"marginal_value": "contract_value_usd_per_t"}
    )
    parts = [pl.DataFrame(schema={**contract.select(SUPPLY).schema, "_v": pl.Float64})]
    for name, rows, keys in (
        ("spare_capacity", sets.spare, [W, *SUPPLY]),
        ("spot_arc_limit", sets.spot_arc_limits, [W, "member_iso3", *SUPPLY]),
    ):
        if hasattr(model, name):
            mv = result.marginal_values(getattr(model, name)).join(
                rows.select(*keys, "availability"), on=keys
            )
            parts.append(
                mv.select(*SUPPLY, (pl.col("marginal_value") * pl.col("availability")).alias("_v"))
            )
    spot = (
        pl.concat(parts)
        .group_by(SUPPLY)
        .agg((pl.col("_v").sum() * sets.window_share).alias("spot_value_usd_per_t"))
    )
    frame = contract.join(spot, on=SUPPLY, how="left")
    ally = data.arcs.select(*SUPPLY, "is_ally").unique(SUPPLY)
    return (
        frame.join(ally, on=SUPPLY, how="left")
        .with_columns(pl.col("spot_value_usd_per_t").fill_null(0.0))
        .with_columns(
            (pl.col("contract_value_usd_per_t") + pl.col("spot_value_usd_per_t")).alias(
                "marginal_value_usd_per_t"
            )
        )
        .select(
            *SUPPLY,
            "is_ally",
            "contract_value_usd_per_t",
            "spot_value_usd_per_t",
            "marginal_value_usd_per_t",
        )
        .sort(SUPPLY)
        .pipe(clean_zeros)
    )


def plan_frame(result: SolveResult, model: Any, data: ModelData) -> pl.DataFrame:
    """The first-stage contracts with shares and costs (see :class:`StressResult`)."""
    values = result.values(model.x).rename({"value": "quantity_t"})
    return (
        data.arcs.join(values, on=ARC)
        .with_columns(
            (pl.col("quantity_t") / pl.col("quantity_t").sum().over(DEMAND)).alias("share"),
            (pl.col("quantity_t") * pl.col("unit_cost_usd_per_t")).alias("cost_usd"),
        )
        .select(*ARC, "quantity_t", "share", "cost_usd", "observed_t", "is_ally")
        .sort(ARC)
        .pipe(clean_zeros)
    )


def stock_frame(
    result: SolveResult, model: Any, data: ModelData, sets: RecourseSets
) -> pl.DataFrame:
    """Stocks with days of cover, holding cost and marginal value (see :class:`StressResult`)."""
    k = result.values(model.k).rename({"value": "stock_t"})
    value = (
        result.marginal_values(model.release_limit)
        .group_by(DEMAND)
        .agg(pl.col("marginal_value").sum().alias("marginal_value_usd_per_t"))
    )
    return (
        data.demand.join(k, on=DEMAND)
        .join(sets.costs.select(*COMMODITY_KEY, "holding_cost_usd_per_t_year"), on=COMMODITY_KEY)
        .join(value, on=DEMAND, how="left")
        .with_columns(
            (pl.col("stock_t") / (pl.col("demand_t") / DAYS_PER_YEAR)).alias("days_of_cover"),
            (pl.col("stock_t") * pl.col("holding_cost_usd_per_t_year")).alias("holding_cost_usd"),
        )
        .select(
            *DEMAND,
            "demand_t",
            "stock_t",
            "days_of_cover",
            "holding_cost_usd",
            "marginal_value_usd_per_t",
        )
        .sort(DEMAND)
        .pipe(clean_zeros)
    )


def scenario_losses(flows: pl.DataFrame, sets: RecourseSets) -> pl.DataFrame:
    """Per scenario: probability, shortfall (t, USD) and recourse costs (USD)."""
    return (
        flows.group_by(W)
        .agg(
            pl.col("shortfall_t").sum(),
            pl.col("shortfall_cost_usd").sum().alias("shortfall_usd"),
            pl.col("spot_cost_usd").sum(),
            pl.col("transfer_cost_usd").sum(),
        )
        .with_columns(
            (pl.col("shortfall_usd") + pl.col("spot_cost_usd") + pl.col("transfer_cost_usd")).alias(
                "recourse_cost_usd"
            )
        )
        .join(sets.probabilities, on=W)
        .select(
            W,
            "probability",
            "shortfall_t",
            "shortfall_usd",
            "spot_cost_usd",
            "transfer_cost_usd",
            "recourse_cost_usd",
        )
    )


def run_stress(
    data: ModelData,
    scenarios: pl.DataFrame,
    settings: StressSettings | None = None,
    options: SolverOptions | None = None,
) -> StressResult:
    """Solve the two-stage stress model and report plan, stock, shortfall, CVaR and duals.

    Raises
    ------
    resilience.errors.DataError
        Bad scenarios, or a fixed plan / stock naming keys not in the data.
    resilience.optimize.solve.InfeasibleModelError
        With sentences naming the member, commodity, suppliers and policy in conflict.
    """
    # The model holds millions of small objects; Python's cycle collector would walk all
    # of them again and again while they are made and read (a third of the run time at
    # a million variables), and none of them is cyclic garbage.
    with PauseGC():
        return _run_stress(data, scenarios, settings or StressSettings(), options)


def _run_stress(
    data: ModelData,
    scenarios: pl.DataFrame,
    settings: StressSettings,
    options: SolverOptions | None,
) -> StressResult:
    model, sets = build_stress(data, scenarios, settings)
    result = solve(model, options, explain=describer(data, settings, sets))
    flows = recourse_flows(result, model, sets).join(sets.probabilities, on=W)
    per_w = scenario_losses(flows, sets)
    if settings.cvar_weight > 0:
        tail = result.duals(model.cvar_excess).select(
            W, (pl.col("dual") / settings.cvar_weight).alias("tail_weight")
        )
        per_w = per_w.join(tail, on=W, how="left")
    else:
        per_w = per_w.with_columns(pl.lit(None, dtype=pl.Float64).alias("tail_weight"))
    per_w = (
        per_w.join(sets.probabilities.with_row_index("_o"), on=[W, "probability"])
        .sort("_o")
        .drop("_o")
    )
    expected = (
        flows.group_by(DEMAND)
        .agg(
            (pl.col("shortfall_t") * pl.col("probability")).sum().alias("expected_shortfall_t"),
            (pl.col("shortfall_cost_usd") * pl.col("probability"))
            .sum()
            .alias("expected_shortfall_usd"),
            (pl.col("window_demand_t") * pl.col("probability")).sum().alias("_d"),
        )
        .with_columns(
            (pl.col("expected_shortfall_t") / pl.col("_d")).alias("expected_shortfall_share")
        )
        .drop("_d")
        .sort(DEMAND)
    )
    plan = plan_frame(result, model, data)
    stock = stock_frame(result, model, data, sets)
    losses, probs = per_w["shortfall_usd"].to_numpy(), per_w["probability"].to_numpy()
    level = settings.cvar_level
    var_usd = _value_at_risk(losses, probs, level)
    summary = pl.DataFrame(
        {
            "objective_usd": [float(result.objective)],
            "contract_cost_usd": [float(plan["cost_usd"].sum())],
            "holding_cost_usd": [float(stock["holding_cost_usd"].sum())],
            "expected_recourse_cost_usd": [
                float((per_w["recourse_cost_usd"] * per_w["probability"]).sum())
            ],
            "expected_shortfall_t": [float(expected["expected_shortfall_t"].sum())],
            "expected_shortfall_usd": [float(expected["expected_shortfall_usd"].sum())],
            "var_shortfall_usd": [var_usd],
            "cvar_shortfall_usd": [cvar(losses, probs, level)],
            "cvar_level": [level],
        }
    )
    log.info(
        "stress: objective %.6g USD, expected shortfall %.6g t, CVaR%.0f %.6g USD",
        result.objective,
        summary["expected_shortfall_t"][0],
        100 * level,
        summary["cvar_shortfall_usd"][0],
    )
    return StressResult(
        plan=plan,
        stock=stock,
        shortfall=flows.select(W, "probability", *flows.columns[1:-1]),
        expected_shortfall=expected,
        scenarios=per_w,
        capacity_value=capacity_values(result, model, data, sets),
        summary=summary,
    )


def _value_at_risk(losses: Any, probabilities: Any, level: float) -> float:
    r"""Smallest loss :math:`\eta` with :math:`P(L \le \eta) \ge \beta`."""
    loss = np.asarray(losses, dtype=float)
    prob = np.asarray(probabilities, dtype=float)
    order = np.argsort(loss, kind="stable")
    cum = np.cumsum(prob[order])
    idx = int(np.searchsorted(cum, level - 1e-12, side="left"))
    return float(loss[order][min(idx, len(loss) - 1)]) if len(loss) else math.nan
