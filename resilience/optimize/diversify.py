r"""Diversify: meet members' demand at least cost under an alliance sourcing policy (LP).

Sets and data come from :class:`resilience.optimize.inputs.ModelData`: members
:math:`m`, commodity-stages :math:`c`, suppliers :math:`s`, arcs :math:`(m,s,c)`.

.. math::

   \min_{x \ge 0} \; \sum_{(m,s,c)} p_{s,c}\, x_{m,s,c}

subject to the constraint families built by the functions below (each docstring gives
its math). The *cost-only* plan solves the same model with :math:`\alpha = \beta = 1`; the
*cost premium* of the policy is the difference in objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyomo.environ as pyo

from resilience.optimize.inputs import COMMODITY_KEY, ModelData
from resilience.optimize.lp import add_constraints, add_variables, expression_from_frame
from resilience.optimize.solve import SolverOptions, solve

__all__ = ["DiversifyPolicy", "DiversifyResult", "build_diversify", "run_diversify"]

ARC = ["member_iso3", "supplier_iso3", *COMMODITY_KEY]
DEMAND = ["member_iso3", *COMMODITY_KEY]
SUPPLY = ["supplier_iso3", *COMMODITY_KEY]


@dataclass(frozen=True)
class DiversifyPolicy:
    r"""Alliance sourcing policy.

    Attributes
    ----------
    max_non_allied_share
        :math:`\alpha`: at most this fraction of each member's demand from outside the
        alliance (1 = no limit).
    max_single_supplier_share
        :math:`\beta`: at most this fraction from any one supplier (EU CRMA: 0.65).
    """

    max_non_allied_share: float = 1.0
    max_single_supplier_share: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_non_allied_share", "max_single_supplier_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")


def add_flows(model: Any, data: ModelData, policy: DiversifyPolicy) -> Any:
    r"""Sourcing variables :math:`0 \le x_{m,s,c} \le \beta\, d_{m,c}` (t), one per arc.

    The upper bound is the single-supplier cap: no supplier delivers more than
    :math:`\beta` of a member's demand.
    """
    arcs = data.arcs.join(data.demand, on=DEMAND).with_columns(
        (pl.col("demand_t") * policy.max_single_supplier_share).alias("ub")
    )
    return add_variables(model, "x", arcs.select(*ARC, "ub"), keys=ARC, lb=0.0, ub="ub")


def add_demand_balance(model: Any, data: ModelData) -> Any:
    r"""Demand met exactly: :math:`\sum_s x_{m,s,c} = d_{m,c}` for every member and commodity."""
    return add_constraints(
        model,
        "demand_balance",
        data.demand,
        keys=DEMAND,
        terms=data.arcs.select(*ARC),
        var=model.x,
        var_keys=ARC,
        coef=1.0,
        lb="demand_t",
        ub="demand_t",
    )


def add_supplier_capacity(model: Any, data: ModelData) -> Any:
    r"""Shared capacity: :math:`\sum_m x_{m,s,c} \le \mathrm{cap}_{s,c}` for every supplier."""
    used = data.capacity.join(data.arcs.select(SUPPLY).unique(), on=SUPPLY, how="semi")
    return add_constraints(
        model,
        "supplier_capacity",
        used,
        keys=SUPPLY,
        terms=data.arcs.select(*ARC),
        var=model.x,
        var_keys=ARC,
        coef=1.0,
        ub="capacity_t",
    )


def add_non_allied_cap(model: Any, data: ModelData, policy: DiversifyPolicy) -> Any:
    r"""Friend-shoring: :math:`\sum_{s \notin A} x_{m,s,c} \le \alpha\, d_{m,c}`.

    Only built when :math:`\alpha < 1`.
    """
    rows = data.demand.with_columns(
        (pl.col("demand_t") * policy.max_non_allied_share).alias("cap_t")
    )
    return add_constraints(
        model,
        "non_allied_cap",
        rows,
        keys=DEMAND,
        terms=data.arcs.filter(~pl.col("is_ally")).select(*ARC),
        var=model.x,
        var_keys=ARC,
        coef=1.0,
        ub="cap_t",
    )


def build_diversify(data: ModelData, policy: DiversifyPolicy) -> Any:
    """The Pyomo model: variables, the three constraint families and the cost objective."""
    model = pyo.ConcreteModel(name="diversify")
    add_flows(model, data, policy)
    add_demand_balance(model, data)
    add_supplier_capacity(model, data)
    if policy.max_non_allied_share < 1.0:
        add_non_allied_cap(model, data, policy)
    model.cost = pyo.Objective(
        expr=expression_from_frame(
            data.arcs.select(*ARC, "unit_cost_usd_per_t"), model.x, ARC, coef="unit_cost_usd_per_t"
        ),
        sense=pyo.minimize,
    )
    return model


def describer(
    data: ModelData, policy: DiversifyPolicy
) -> Callable[[str, tuple[Any, ...]], str | None]:
    """Turn an infeasible constraint or bound into a sentence in the user's terms."""
    demand = {tuple(r[:3]): r[3] for r in data.demand.select(*DEMAND, "demand_t").iter_rows()}
    capacity = {tuple(r[:3]): r[3] for r in data.capacity.select(*SUPPLY, "capacity_t").iter_rows()}

    def describe(family: str, index: tuple[Any, ...]) -> str | None:
        if family == "demand_balance":
            m, c, s = index
            return f"member {m} needs {demand.get((m, c, s), 0):,.0f} t of {c} ({s})"
        if family == "supplier_capacity":
            sup, c, s = index
            cap = capacity.get((sup, c, s), 0)
            return f"{sup} can supply the members at most {cap:,.0f} t of {c} ({s})"
        if family == "non_allied_cap":
            m, c, s = index
            return (
                f"policy: at most {policy.max_non_allied_share:.0%} of {m}'s {c} ({s}) "
                "may come from outside the alliance"
            )
        if family == "x":
            m, sup, c, s = index
            return (
                f"policy: at most {policy.max_single_supplier_share:.0%} of {m}'s {c} ({s}) "
                f"from any single supplier (here {sup})"
            )
        return None

    return describe


@dataclass(frozen=True)
class DiversifyResult:
    """Tidy results of a diversify run (Polars frames only).

    Attributes
    ----------
    plan
        ``member_iso3, supplier_iso3, commodity, stage, quantity_t, share, cost_usd,
        observed_t, is_ally``.
    summary
        Per member and commodity: cost under the policy and cost-only, premium, and
        exposure before (observed trade) and after (plan).
    capacity_value
        ``supplier_iso3, commodity, stage, marginal_value_usd_per_t``: objective saving of
        one more tonne of that supplier's capacity (>= 0; 0 where capacity is slack).
    objective_usd, cost_only_usd
        Total cost with and without the policy.
    """

    plan: pl.DataFrame
    summary: pl.DataFrame
    capacity_value: pl.DataFrame
    objective_usd: float
    cost_only_usd: float

    @property
    def premium_usd(self) -> float:
        """Cost of the policy over the cost-only plan."""
        return self.objective_usd - self.cost_only_usd


def _exposure(flows: pl.DataFrame, quantity: str) -> pl.DataFrame:
    share = pl.col(quantity) / pl.col(quantity).sum().over(DEMAND)
    return (
        flows.with_columns(share.alias("_s"))
        .group_by(DEMAND)
        .agg(
            pl.col("_s").filter(~pl.col("is_ally")).sum().alias("non_allied_share"),
            pl.col("_s").max().alias("max_single_share"),
            (pl.col("_s") ** 2).sum().alias("hhi"),
        )
    )


def _plan(data: ModelData, model: Any, result: Any) -> pl.DataFrame:
    values = result.values(model.x).rename({"value": "quantity_t"})
    return (
        data.arcs.join(values, on=ARC)
        .with_columns(
            (pl.col("quantity_t") / pl.col("quantity_t").sum().over(DEMAND)).alias("share"),
            (pl.col("quantity_t") * pl.col("unit_cost_usd_per_t")).alias("cost_usd"),
        )
        .select(*ARC, "quantity_t", "share", "cost_usd", "observed_t", "is_ally")
    )


def run_diversify(
    data: ModelData, policy: DiversifyPolicy, options: SolverOptions | None = None
) -> DiversifyResult:
    """Solve the policy plan and the cost-only plan and report cost and exposure.

    Raises
    ------
    resilience.optimize.solve.InfeasibleModelError
        With sentences naming the member, commodity, suppliers and policy in conflict.
    """
    model = build_diversify(data, policy)
    result = solve(model, options, explain=describer(data, policy))
    plan = _plan(data, model, result)
    free = DiversifyPolicy()
    base_model = build_diversify(data, free)
    base = solve(base_model, options, explain=describer(data, free))
    base_plan = _plan(data, base_model, base)
    cost = plan.group_by(DEMAND).agg(pl.col("cost_usd").sum())
    base_cost = base_plan.group_by(DEMAND).agg(pl.col("cost_usd").sum().alias("cost_only_usd"))
    before = _exposure(data.arcs.filter(pl.col("observed_t") > 0), "observed_t").rename(
        {
            "non_allied_share": "non_allied_share_before",
            "max_single_share": "max_single_share_before",
            "hhi": "hhi_before",
        }
    )
    after = _exposure(plan.filter(pl.col("quantity_t") > 1e-9), "quantity_t")
    summary = (
        data.demand.join(cost, on=DEMAND, how="left")
        .join(base_cost, on=DEMAND, how="left")
        .with_columns((pl.col("cost_usd") - pl.col("cost_only_usd")).alias("premium_usd"))
        .join(before, on=DEMAND, how="left")
        .join(after, on=DEMAND, how="left")
        .sort(DEMAND)
    )
    capacity_value = result.marginal_values(model.supplier_capacity).rename(
        {"marginal_value": "marginal_value_usd_per_t"}
    )
    return DiversifyResult(
        plan=plan.sort(ARC),
        summary=summary,
        capacity_value=capacity_value,
        objective_usd=float(result.objective),
        cost_only_usd=float(base.objective),
    )
