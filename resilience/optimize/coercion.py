r"""Coercion: the adversary strikes where it hurts most; the alliance plans for the worst strike.

Enumerated form (:func:`run_coercion`)
--------------------------------------
The adversary picks one strategy :math:`\sigma` from a finite set :math:`\Sigma` (an
embargo of a bloc, of a top supplier, of any :math:`\Gamma` suppliers, towards chosen
targets: :func:`bloc_strategies`, :func:`top_supplier_strategies`,
:func:`gamma_strategies`). The alliance fixes contracts :math:`x` and stocks :math:`k`
once (the first stage of :mod:`resilience.optimize.stress`); every strategy gets its own
recourse block (:mod:`resilience.optimize.recourse`). Epigraph LP:

.. math::

   \min\; \theta + \epsilon\Bigl(\sum p\,x + \sum h\,k + \frac{1}{|\Sigma|}\sum_\sigma
   R_\sigma\Bigr)
   \quad\text{s.t.}\quad \theta \ge V_\sigma = \sum_{m,c} v_c\,u_{m,c,\sigma}
   \quad\forall \sigma

:math:`\theta` is the worst-case valued shortfall (USD); :math:`R_\sigma` the
second-stage cost (spot, transfers, :math:`v u`). The weight :math:`\epsilon` =
:data:`COST_WEIGHT` = 1e-3 makes cost a tie-break: the plan minimises the worst strike
first and, among such plans, the cost and the average damage over all strategies
(without the average term a plan could leave needless shortfall under strategies that
do not bind). Read :math:`1/\epsilon` as the dollars of cost the alliance would pay to
lower the worst case by one dollar; :math:`\epsilon = 0` gives the pure minimax (plan
not unique), :math:`\epsilon = 1` a robust two-stage cost trade-off.

The duals :math:`\mu_\sigma \ge 0` of the epigraph rows sum to one (the coefficient of
:math:`\theta`): they are the adversary's optimal *mixed* strategy. The best strike is the
strategy with the largest shortfall under the plan (ties: largest :math:`\mu_\sigma`);
the plan concedes its shortfall per member and commodity.

Without a bound on stocks the minimax answer is simply "stock whatever the worst strike
removes" (holding cost is far below :math:`v`); the default therefore caps stocks at
:data:`MAX_STOCK_DAYS` = 90 days of demand, the IEA obligation for oil.

Budgeted (dualised) form (:func:`run_budgeted`)
-----------------------------------------------
For "any :math:`\Gamma` suppliers" with too many combinations to enumerate, after
Bertsimas and Sim (2004). Lost deliveries of commodity :math:`c` to the targets
:math:`T` when the adversary cuts a fraction :math:`\delta_s` of supplier :math:`s`:

.. math::

   L_c(x) = \max_{\delta \in [0,1]^S,\ \sum_s \delta_s \le \Gamma}\ \sum_s \delta_s D_{s,c},
   \qquad D_{s,c} = \varphi \sum_{m \in T} x_{m,s,c}

whose LP dual gives :math:`L_c = \min_{\rho_c \ge 0, q \ge 0} \Gamma\rho_c + \sum_s
q_{s,c}` s.t. :math:`q_{s,c} \ge D_{s,c} - \rho_c`. It is applied to the
*no-spot-recourse* shortfall bound

.. math::

   \min\; \sum_c w_c + \epsilon\Bigl(\sum p\,x + \sum h\,k\Bigr), \qquad
   w_c \ge v_c\Bigl(\Gamma\rho_c + \sum_s q_{s,c} - \sum_{m\in T} k_{m,c}\Bigr),\ w_c \ge 0.

Exactly which relaxation this is, against the enumerated form over all
:math:`\Gamma`-subsets:

1. no spot re-sourcing (allied spare capacity is ignored): an upper bound on the loss;
2. the adversary chooses its :math:`\Gamma` suppliers separately for each commodity-stage
   (a stronger adversary: an upper bound when there are several commodities);
3. :math:`\delta` may be fractional: no effect for integer :math:`\Gamma` (the maximum
   of a linear function over that polytope is at an integral vertex); a fractional
   :math:`\Gamma` means cutting part of one more supplier;
4. the targets' stocks of a commodity are pooled (free, unlimited transfers): a lower
   bound on the loss when several members are targeted and transfers are limited.

With one target member, one commodity, integer :math:`\Gamma` and spot switched off in
the enumerated model, both forms give the same worst case (tested).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyomo.environ as pyo

from resilience.optimize.diversify import DiversifyPolicy
from resilience.optimize.inputs import COMMODITY_KEY, ModelData
from resilience.optimize.lp import add_variables
from resilience.optimize.recourse import (
    ARC,
    DEMAND,
    SUPPLY,
    RecourseSets,
    RecourseSettings,
    Terms,
    W,
    add_recourse,
    add_rows,
    linear_sum,
    recourse_cost_terms,
    recourse_flows,
    recourse_sets,
    shortfall_value_terms,
)
from resilience.optimize.scenarios_data import CommoditySpec, embargo, uniform, validate_scenarios
from resilience.optimize.solve import SolverOptions, solve
from resilience.optimize.stress import (
    StockPolicy,
    StressSettings,
    add_contracts,
    add_stock,
    capacity_values,
    first_stage_cost_terms,
    plan_frame,
    scenario_losses,
    stock_frame,
)
from resilience.optimize.stress import describer as stress_describer

__all__ = [
    "COST_WEIGHT",
    "MAX_ENUMERATED_STRATEGIES",
    "MAX_STOCK_DAYS",
    "BudgetedResult",
    "CoercionResult",
    "CoercionSettings",
    "add_budgeted_loss",
    "add_worst_case",
    "bloc_strategies",
    "build_budgeted",
    "build_coercion",
    "describer",
    "gamma_strategies",
    "run_budgeted",
    "run_coercion",
    "top_supplier_strategies",
]

log = logging.getLogger(__name__)

#: :math:`\epsilon`: weight of cost against the worst-case valued shortfall.
COST_WEIGHT = 1e-3
#: Default stock cap of the coercion models, days of demand (IEA oil obligation).
MAX_STOCK_DAYS = 90.0
#: Above this many strategies :func:`gamma_strategies` refuses (use :func:`run_budgeted`).
MAX_ENUMERATED_STRATEGIES = 5000


@dataclass(frozen=True)
class CoercionSettings:
    r"""Options of the coercion models.

    Attributes
    ----------
    policy
        First-stage sourcing policy.
    recourse
        Second-stage options and costs (:mod:`resilience.optimize.recourse`).
    stock
        Stock bounds; default at most :data:`MAX_STOCK_DAYS` days of demand.
    cost_weight
        :math:`\epsilon \ge 0` (module docstring).
    """

    policy: DiversifyPolicy = field(default_factory=DiversifyPolicy)
    recourse: RecourseSettings = field(default_factory=RecourseSettings)
    stock: StockPolicy = field(default_factory=lambda: StockPolicy(max_stock_days=MAX_STOCK_DAYS))
    cost_weight: float = COST_WEIGHT

    def __post_init__(self) -> None:
        if not self.cost_weight >= 0:
            raise ValueError(f"cost_weight must be >= 0, got {self.cost_weight}")

    def as_stress(self) -> StressSettings:
        """The same first stage as a :class:`~resilience.optimize.stress.StressSettings`."""
        return StressSettings(policy=self.policy, recourse=self.recourse, stock=self.stock)


# ----------------------------------------------------------------------------- strategies
def _targets(targets: str | Iterable[str] | None) -> list[str] | None:
    if targets is None or isinstance(targets, str):
        return None if targets is None else [targets]
    return list(targets)


def bloc_strategies(
    blocs: Mapping[str, Collection[str]],
    targets: str | Iterable[str] | None = None,
    commodities: Iterable[CommoditySpec] | None = None,
    data: ModelData | None = None,
) -> pl.DataFrame:
    """One strategy per bloc: all its members embargo the targets.

    ``data`` drops bloc members that supply nothing in the model (a bloc left empty is
    dropped with a log message).
    """
    known = set(data.capacity["supplier_iso3"].to_list()) if data is not None else None
    frames = []
    for name, bloc in blocs.items():
        members = sorted(s for s in bloc if known is None or s in known)
        if not members:
            log.info("bloc %s supplies nothing in the model; no strategy", name)
            continue
        frames.append(embargo(members, _targets(targets), commodities, name=f"bloc:{name}"))
    if not frames:
        raise ValueError("no bloc supplies anything in the model")
    return uniform(*frames)


def top_supplier_strategies(
    data: ModelData,
    n: int = 3,
    targets: str | Iterable[str] | None = None,
    exclude_allies: bool = True,
    by: str = "capacity_t",
) -> pl.DataFrame:
    """One strategy per supplier among the top ``n`` of any commodity: it embargoes everything.

    Parameters
    ----------
    data
        Model data.
    n
        Suppliers kept per commodity-stage, ranked by ``by``: ``"capacity_t"`` or
        ``"observed_exports_t"`` (column of ``data.capacity``).
    targets
        Members embargoed (default all).
    exclude_allies
        Leave allied suppliers out of the adversary's options.
    """
    if by not in ("capacity_t", "observed_exports_t"):
        raise ValueError(f"by must be 'capacity_t' or 'observed_exports_t', not {by!r}")
    cap = data.capacity
    if exclude_allies:
        allies = data.arcs.filter(pl.col("is_ally"))["supplier_iso3"].unique()
        cap = cap.filter(~pl.col("supplier_iso3").is_in(allies.to_list()))
    cap = cap.filter(~pl.col("supplier_iso3").is_in(list(data.members)))
    top = (
        cap.with_columns(
            pl.col(by).rank("ordinal", descending=True).over(COMMODITY_KEY).alias("_r")
        )
        .filter(pl.col("_r") <= n)["supplier_iso3"]
        .unique()
        .sort()
        .to_list()
    )
    if not top:
        raise ValueError("no supplier qualifies as a top supplier")
    return uniform(*(embargo(s, _targets(targets), name=f"supplier:{s}") for s in top))


def gamma_strategies(
    suppliers: Iterable[str],
    gamma: int,
    targets: str | Iterable[str] | None = None,
    commodities: Iterable[CommoditySpec] | None = None,
) -> pl.DataFrame:
    """Every set of ``gamma`` suppliers embargoing together (all combinations).

    Raises
    ------
    ValueError
        More than :data:`MAX_ENUMERATED_STRATEGIES` combinations: use :func:`run_budgeted`.
    """
    pool = sorted(set(suppliers))
    if not 1 <= gamma <= len(pool):
        raise ValueError(f"gamma must lie in 1..{len(pool)}, got {gamma}")
    combos = list(
        itertools.islice(itertools.combinations(pool, gamma), MAX_ENUMERATED_STRATEGIES + 1)
    )
    if len(combos) > MAX_ENUMERATED_STRATEGIES:
        raise ValueError(
            f"more than {MAX_ENUMERATED_STRATEGIES} combinations of {gamma} among "
            f"{len(pool)} suppliers; use run_budgeted (the dualised form) instead"
        )
    return uniform(
        *(
            embargo(list(c), _targets(targets), commodities, name="any:" + "+".join(c))
            for c in combos
        )
    )


# ----------------------------------------------------------------------------- enumerated
def add_worst_case(model: Any, sets: RecourseSets) -> None:
    r"""Epigraph rows ``worst_case``: :math:`\theta \ge V_\sigma = \sum v_c u_{m,c,\sigma}`.

    Written :math:`\theta - \sum_{m,c} v_c u_{m,c,\sigma} \ge 0`; :math:`\theta` is the
    component ``theta`` (one, keyed ``measure``).
    """
    add_variables(model, "theta", pl.DataFrame({"measure": ["worst_shortfall_usd"]}), lb=0.0)
    rows = sets.probabilities.select(W)
    theta = rows.with_columns(pl.lit("worst_shortfall_usd").alias("measure"))
    add_rows(
        model,
        "worst_case",
        rows,
        [W],
        [
            Terms(theta, model.theta, ["measure"], 1.0),
            shortfall_value_terms(model, sets, sign=-1.0),
        ],
        lb=0.0,
    )


def _strategy_frame(strategies: pl.DataFrame) -> pl.DataFrame:
    """Strategies with uniform probabilities (ignored by the model), validated."""
    n = strategies["scenario"].n_unique()
    return validate_scenarios(
        strategies.with_columns(pl.lit(1.0 / n).alias("probability")), name="strategies"
    )


def build_coercion(
    data: ModelData, strategies: pl.DataFrame, settings: CoercionSettings
) -> tuple[Any, RecourseSets]:
    """The epigraph LP over the enumerated strategies, and its sets."""
    sets = recourse_sets(data, _strategy_frame(strategies), settings.recourse)
    model = pyo.ConcreteModel(name="coercion")
    add_contracts(model, data, settings.policy)
    add_stock(model, data, settings.stock)
    add_recourse(model, sets)
    add_worst_case(model, sets)
    eps = settings.cost_weight
    n = sets.probabilities.height
    parts = [
        Terms(pl.DataFrame({"measure": ["worst_shortfall_usd"]}), model.theta, ["measure"], 1.0)
    ]
    if eps > 0:
        weight = sets.probabilities.select(W, pl.lit(eps / n).alias("weight"))
        first = [
            Terms(
                t.frame.with_columns((pl.col(str(t.coef)) * eps).alias("_eps")),
                t.var,
                t.var_keys,
                "_eps",
            )
            for t in first_stage_cost_terms(model, data, sets)
        ]
        parts += first + recourse_cost_terms(model, sets, weight)
    model.objective = pyo.Objective(expr=linear_sum(parts), sense=pyo.minimize)
    return model, sets


def describer(
    data: ModelData, settings: CoercionSettings, sets: RecourseSets | None = None
) -> Callable[[str, tuple[Any, ...]], str | None]:
    """Sentences for infeasibility explanations (first stage and strikes)."""
    return stress_describer(data, settings.as_stress(), sets, what="strike")


@dataclass(frozen=True)
class CoercionResult:
    r"""Tidy results of the enumerated coercion model (Polars frames only).

    Attributes
    ----------
    plan, stock
        First-stage contracts and stocks (as in :class:`~resilience.optimize.stress.StressResult`;
        the stock's marginal value sums over strategies).
    strategies
        ``strategy, shortfall_t, shortfall_usd, spot_cost_usd, transfer_cost_usd,
        recourse_cost_usd, adversary_weight, is_binding``: ``adversary_weight`` is the
        marginal value of the epigraph row (the adversary's optimal mixed strategy;
        weights sum to 1), ``is_binding`` whether :math:`V_\sigma = \theta`.
    concessions
        Under the best strike: ``member_iso3, commodity, stage, window_demand_t,
        shortfall_t, shortfall_share, shortfall_usd``.
    flows
        Recourse flows under every strategy (:func:`~resilience.optimize.recourse.recourse_flows`).
    capacity_value
        Value of one more tonne of capacity (objective units: worst-case USD plus
        :math:`\epsilon`-weighted cost).
    summary
        One row: ``worst_case_shortfall_usd, worst_case_shortfall_t, best_strike,
        adversary_weight, objective_usd, contract_cost_usd, holding_cost_usd,
        cost_weight``.
    """

    plan: pl.DataFrame
    stock: pl.DataFrame
    strategies: pl.DataFrame
    concessions: pl.DataFrame
    flows: pl.DataFrame
    capacity_value: pl.DataFrame
    summary: pl.DataFrame

    @property
    def best_strike(self) -> str:
        """Name of the adversary's most damaging strategy against the plan."""
        return str(self.summary["best_strike"][0])

    @property
    def worst_case_shortfall_usd(self) -> float:
        r""":math:`\theta`: the valued shortfall under the best strike (USD)."""
        return float(self.summary["worst_case_shortfall_usd"][0])

    @property
    def objective_usd(self) -> float:
        r"""Optimal objective: :math:`\theta` + :math:`\epsilon` x cost."""
        return float(self.summary["objective_usd"][0])


def run_coercion(
    data: ModelData,
    strategies: pl.DataFrame,
    settings: CoercionSettings | None = None,
    options: SolverOptions | None = None,
) -> CoercionResult:
    """Plan against the worst of the enumerated strategies; report the best strike.

    Parameters
    ----------
    data
        Model data.
    strategies
        A scenario frame (:mod:`resilience.optimize.scenarios_data`) whose scenarios are
        the adversary's strategies; probabilities are ignored.
    settings, options
        Model and solver options.

    Raises
    ------
    resilience.optimize.solve.InfeasibleModelError
        With sentences naming member, commodity and policy.
    """
    settings = settings or CoercionSettings()
    model, sets = build_coercion(data, strategies, settings)
    result = solve(model, options, explain=describer(data, settings, sets))
    flows = recourse_flows(result, model, sets)
    theta = float(result.values(model.theta)["value"][0])
    weights = result.marginal_values(model.worst_case).select(
        W, (0.0 - pl.col("marginal_value")).alias("adversary_weight")
    )  # the epigraph row is theta - V >= 0: raising its rhs costs, so weight = dual >= 0
    per = (
        scenario_losses(flows, sets)
        .drop("probability")
        .join(weights, on=W)
        .with_columns(
            (pl.col("shortfall_usd") >= theta - 1e-6 * max(1.0, abs(theta))).alias("is_binding")
        )
        .join(sets.probabilities.with_row_index("_o").select(W, "_o"), on=W)
        .sort("_o")
        .drop("_o")
    )
    best = per.sort(["shortfall_usd", "adversary_weight"], descending=True).row(0, named=True)
    concessions = (
        flows.filter(pl.col(W) == best[W])
        .select(
            *DEMAND,
            "window_demand_t",
            "shortfall_t",
            "shortfall_share",
            pl.col("shortfall_cost_usd").alias("shortfall_usd"),
        )
        .sort(DEMAND)
    )
    plan = plan_frame(result, model, data)
    stock = stock_frame(result, model, data, sets)
    summary = pl.DataFrame(
        {
            "worst_case_shortfall_usd": [theta],
            "worst_case_shortfall_t": [float(best["shortfall_t"])],
            "best_strike": [str(best[W])],
            "adversary_weight": [float(best["adversary_weight"])],
            "objective_usd": [float(result.objective)],
            "contract_cost_usd": [float(plan["cost_usd"].sum())],
            "holding_cost_usd": [float(stock["holding_cost_usd"].sum())],
            "cost_weight": [settings.cost_weight],
        }
    )
    log.info("coercion: worst strike %s costs %.6g USD of shortfall", best[W], theta)
    return CoercionResult(
        plan=plan,
        stock=stock,
        strategies=per.rename({W: "strategy"}),
        concessions=concessions,
        flows=flows.rename({W: "strategy"}),
        capacity_value=capacity_values(result, model, data, sets),
        summary=summary,
    )


# ----------------------------------------------------------------------------- budgeted
def add_budgeted_loss(
    model: Any,
    data: ModelData,
    gamma: float,
    suppliers: Collection[str],
    targets: Collection[str],
    window_share: float,
    costs: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    r"""The dualised worst loss per commodity (module docstring, "Budgeted form").

    Variables ``rho[c]``, ``q[s,c]``, ``w[c]`` (all :math:`\ge 0`); rows

    - ``budget_excess[s,c]``: :math:`q_{s,c} + \rho_c - \varphi\sum_{m\in T} x_{m,s,c} \ge 0`;
    - ``budgeted_loss[c]``: :math:`w_c - v_c\Gamma\rho_c - v_c\sum_s q_{s,c}
      + v_c\sum_{m\in T} k_{m,c} \ge 0`.

    Returns the index frames of ``q`` (supplier, commodity, stage) and ``w`` (commodity,
    stage).
    """
    at_risk = data.arcs.filter(
        pl.col("member_iso3").is_in(sorted(targets))
        & pl.col("supplier_iso3").is_in(sorted(suppliers))
    )
    pairs = at_risk.select(SUPPLY).unique().sort(SUPPLY)
    comms = (
        data.demand.filter(pl.col("member_iso3").is_in(sorted(targets)))
        .select(COMMODITY_KEY)
        .unique()
        .sort(COMMODITY_KEY)
        .join(costs, on=COMMODITY_KEY)
    )
    add_variables(model, "rho", comms.select(COMMODITY_KEY), lb=0.0)
    add_variables(model, "q", pairs, lb=0.0)
    add_variables(model, "w", comms.select(COMMODITY_KEY), lb=0.0)
    add_rows(
        model,
        "budget_excess",
        pairs,
        SUPPLY,
        [
            Terms(pairs, model.q, SUPPLY, 1.0),
            Terms(pairs, model.rho, COMMODITY_KEY, 1.0),
            Terms(at_risk, model.x, ARC, -window_share),
        ],
        lb=0.0,
    )
    v = comms.with_columns(
        (-pl.col("lost_supply_value_usd_per_t") * gamma).alias("_rho"),
        (-pl.col("lost_supply_value_usd_per_t")).alias("_q"),
    )
    stocks = data.demand.filter(pl.col("member_iso3").is_in(sorted(targets))).join(
        costs, on=COMMODITY_KEY
    )
    add_rows(
        model,
        "budgeted_loss",
        comms,
        COMMODITY_KEY,
        [
            Terms(comms, model.w, COMMODITY_KEY, 1.0),
            Terms(v, model.rho, COMMODITY_KEY, "_rho"),
            Terms(pairs.join(v, on=COMMODITY_KEY), model.q, SUPPLY, "_q"),
            Terms(stocks, model.k, DEMAND, "lost_supply_value_usd_per_t"),
        ],
        lb=0.0,
    )
    return pairs, comms.select(COMMODITY_KEY)


def build_budgeted(
    data: ModelData,
    gamma: float,
    suppliers: Collection[str] | None = None,
    targets: Collection[str] | None = None,
    settings: CoercionSettings | None = None,
) -> tuple[Any, RecourseSets]:
    """The Bertsimas–Sim budgeted model (no second-stage blocks) and its cost sets."""
    settings = settings or CoercionSettings()
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    targets = list(targets) if targets is not None else list(data.members)
    if suppliers is None:
        suppliers = (
            data.arcs.filter(pl.col("member_iso3").is_in(targets))["supplier_iso3"]
            .unique()
            .to_list()
        )
    calm = pl.DataFrame(
        [("calm", 1.0, None, None, None, None, 1.0)],
        schema=[
            "scenario",
            "probability",
            "supplier_iso3",
            "member_iso3",
            "commodity",
            "stage",
            "availability",
        ],
        orient="row",
    )
    sets = recourse_sets(data, validate_scenarios(calm), settings.recourse)
    model = pyo.ConcreteModel(name="coercion_budgeted")
    add_contracts(model, data, settings.policy)
    add_stock(model, data, settings.stock)
    _, comms = add_budgeted_loss(
        model, data, gamma, suppliers, targets, settings.recourse.window_share, sets.costs
    )
    eps = settings.cost_weight
    first = [
        Terms(
            t.frame.with_columns((pl.col(str(t.coef)) * eps).alias("_eps")),
            t.var,
            t.var_keys,
            "_eps",
        )
        for t in first_stage_cost_terms(model, data, sets)
    ]
    loss = Terms(comms, model.w, COMMODITY_KEY, 1.0)
    model.objective = pyo.Objective(expr=linear_sum([loss, *first]), sense=pyo.minimize)
    return model, sets


@dataclass(frozen=True)
class BudgetedResult:
    r"""Results of the budgeted (dualised) coercion model (Polars frames only).

    Attributes
    ----------
    plan, stock
        First-stage contracts and stocks.
    strike
        ``supplier_iso3, commodity, stage, deliveries_at_risk_t, strike_share``: the
        worst-case :math:`\delta_{s,c}` recovered from the duals of ``budget_excess``
        (null for a commodity whose worst loss the stocks cover).
    losses
        ``commodity, stage, lost_deliveries_t, stock_t, worst_shortfall_t,
        worst_shortfall_usd``.
    summary
        One row: ``worst_case_shortfall_usd, objective_usd, gamma, cost_weight``.
    """

    plan: pl.DataFrame
    stock: pl.DataFrame
    strike: pl.DataFrame
    losses: pl.DataFrame
    summary: pl.DataFrame

    @property
    def worst_case_shortfall_usd(self) -> float:
        r""":math:`\sum_c w_c` (USD)."""
        return float(self.summary["worst_case_shortfall_usd"][0])


def run_budgeted(
    data: ModelData,
    gamma: float,
    suppliers: Collection[str] | None = None,
    targets: Collection[str] | None = None,
    settings: CoercionSettings | None = None,
    options: SolverOptions | None = None,
) -> BudgetedResult:
    """Plan against any ``gamma`` of ``suppliers`` cutting the ``targets`` (dualised form).

    ``suppliers`` defaults to every supplier of the targets, ``targets`` to all members.
    """
    settings = settings or CoercionSettings()
    targets = list(targets) if targets is not None else list(data.members)
    model, sets = build_budgeted(data, gamma, suppliers, targets, settings)
    result = solve(model, options, explain=describer(data, settings))
    x = result.values(model.x).rename({"value": "q_t"})
    phi = settings.recourse.window_share
    at_risk = (
        x.join(result.values(model.q).select(SUPPLY), on=SUPPLY)
        .filter(pl.col("member_iso3").is_in(targets))
        .group_by(SUPPLY)
        .agg((pl.col("q_t").sum() * phi).alias("deliveries_at_risk_t"))
    )
    mu = result.duals(model.budgeted_loss).rename({"dual": "_mu"})
    strike = (
        result.duals(model.budget_excess)
        .join(at_risk, on=SUPPLY)
        .join(mu, on=COMMODITY_KEY)
        .join(sets.costs.select(*COMMODITY_KEY, "lost_supply_value_usd_per_t"), on=COMMODITY_KEY)
        .with_columns(
            pl.when(pl.col("_mu") > 1e-9)
            .then(pl.col("dual") / (pl.col("_mu") * pl.col("lost_supply_value_usd_per_t")))
            .alias("strike_share")
        )
        .select(*SUPPLY, "deliveries_at_risk_t", "strike_share")
        .sort(SUPPLY)
    )
    w = result.values(model.w).rename({"value": "worst_shortfall_usd"})
    lost = (
        result.values(model.rho)
        .rename({"value": "_rho"})
        .join(
            result.values(model.q).group_by(COMMODITY_KEY).agg(pl.col("value").sum()),
            on=COMMODITY_KEY,
            how="left",
        )
        .with_columns(
            (pl.col("_rho") * gamma + pl.col("value").fill_null(0.0)).alias("lost_deliveries_t")
        )
    )
    k = (
        result.values(model.k)
        .filter(pl.col("member_iso3").is_in(targets))
        .group_by(COMMODITY_KEY)
        .agg(pl.col("value").sum().alias("stock_t"))
    )
    losses = (
        lost.select(*COMMODITY_KEY, "lost_deliveries_t")
        .join(k, on=COMMODITY_KEY, how="left")
        .join(w, on=COMMODITY_KEY)
        .join(sets.costs.select(*COMMODITY_KEY, "lost_supply_value_usd_per_t"), on=COMMODITY_KEY)
        .with_columns(
            (pl.col("worst_shortfall_usd") / pl.col("lost_supply_value_usd_per_t")).alias(
                "worst_shortfall_t"
            )
        )
        .select(
            *COMMODITY_KEY,
            "lost_deliveries_t",
            "stock_t",
            "worst_shortfall_t",
            "worst_shortfall_usd",
        )
        .sort(COMMODITY_KEY)
    )
    summary = pl.DataFrame(
        {
            "worst_case_shortfall_usd": [float(losses["worst_shortfall_usd"].sum())],
            "objective_usd": [float(result.objective)],
            "gamma": [float(gamma)],
            "cost_weight": [settings.cost_weight],
        }
    )
    return BudgetedResult(
        plan=plan_frame(result, model, data),
        stock=stock_frame_no_recourse(result, model, data, sets),
        strike=strike,
        losses=losses,
        summary=summary,
    )


def stock_frame_no_recourse(
    result: Any, model: Any, data: ModelData, sets: RecourseSets
) -> pl.DataFrame:
    """Stocks with days of cover and holding cost (no per-scenario release rows here)."""
    k = result.values(model.k).rename({"value": "stock_t"})
    return (
        data.demand.join(k, on=DEMAND)
        .join(sets.costs.select(*COMMODITY_KEY, "holding_cost_usd_per_t_year"), on=COMMODITY_KEY)
        .with_columns(
            (pl.col("stock_t") / (pl.col("demand_t") / 365.0)).alias("days_of_cover"),
            (pl.col("stock_t") * pl.col("holding_cost_usd_per_t_year")).alias("holding_cost_usd"),
        )
        .select(*DEMAND, "demand_t", "stock_t", "days_of_cover", "holding_cost_usd")
        .sort(DEMAND)
    )
