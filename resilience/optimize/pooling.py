r"""Pooling: members share stocks under a burden-sharing rule; compare with going alone.

Two runs of the stress model (:mod:`resilience.optimize.stress`) with the same
scenarios, policy and cost parameters:

*alone*
    each member :math:`m` solves the stress model for itself: its own contracts and its
    own stock, no transfers, and a share :math:`\gamma_{m,s,c}` of every supplier's
    capacity (contracts and spare capacity for spot), pro rata to its demand among the
    members that buy from that supplier:

    .. math::

       \gamma_{m,s,c} = \frac{d_{m,c}}{\sum_{m' :\,(m',s,c)\text{ an arc}} d_{m',c}},
       \qquad \sum_m \gamma_{m,s,c} = 1;

*pooled*
    one joint stress model of all members with transfers of released stock between them
    (mutual assistance); stock holding cost is shared by the rule.

**Pooling never leaves the alliance worse off, by construction.** Put the members' alone
solutions side by side: contracts respect the full capacities (each used at most its
share, and the shares sum to one), spot purchases respect every spare-capacity row and
every member-targeted spot limit (the same argument on :math:`\varphi
a(\mathrm{cap} - \sum x)`), per-member policies and
stock bounds are the same, and transfers are zero. So the union is feasible for the
pooled model, where it costs the sum of the alone costs — less, with a CVaR term,
because CVaR is subadditive: :math:`\mathrm{CVaR}(\sum_m L_m) \le \sum_m
\mathrm{CVaR}(L_m)`. The pooled optimum is no higher:

.. math::

   z^{\text{pooled}} \le \sum_m z^{\text{alone}}_m .

Individual members can still lose: that depends on how the pooled cost is shared.

Burden sharing (:func:`sharing_rule`): the pooled stock-holding cost of each commodity,
:math:`H_c = \sum_m h_c k_{m,c}`, is split by shares :math:`b_{m,c}` (summing to one);
by default in proportion to consumption, :math:`b_{m,c} = d_{m,c} / \sum_{m'} d_{m',c}`,
as the IEA splits a collective action by shares of oil consumption. Every other cost
stays with the member that incurs it (its contracts, its spot purchases, transfers it
receives, its shortfall); a CVaR term is allocated by the members' risk contributions
:math:`\lambda\sum_w q_w L_{m,w}`, with :math:`q_w` the risk-adjusted probabilities
(duals of the CVaR rows), which add up to :math:`\lambda\,\mathrm{CVaR}`. The allocated
costs add up to the pooled objective, so the rule shifts gains between members but never
changes the alliance total (nor the pooled plan, which does not depend on the rule).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.optimize.inputs import COMMODITY_KEY, ModelData
from resilience.optimize.recourse import ARC, DEMAND, SUPPLY, W, commodity_costs
from resilience.optimize.scenarios_data import restrict_to_data, validate_scenarios
from resilience.optimize.solve import SolverOptions
from resilience.optimize.stress import StressResult, StressSettings, run_stress

__all__ = [
    "SHARE_TOLERANCE",
    "PoolingResult",
    "capacity_shares",
    "member_data",
    "run_pooling",
    "sharing_rule",
]

log = logging.getLogger(__name__)

#: Burden shares of a commodity must sum to one within this tolerance.
SHARE_TOLERANCE = 1e-9


def capacity_shares(data: ModelData) -> pl.DataFrame:
    r"""``member_iso3, supplier_iso3, commodity, stage, capacity_share``: :math:`\gamma_{m,s,c}`."""
    return (
        data.arcs.select(ARC)
        .join(data.demand, on=DEMAND)
        .with_columns(
            (pl.col("demand_t") / pl.col("demand_t").sum().over(SUPPLY)).alias("capacity_share")
        )
        .select(*ARC, "capacity_share")
        .sort(ARC)
    )


def member_data(data: ModelData, member: str, shares: pl.DataFrame | None = None) -> ModelData:
    """The data one member sees going alone: its demand, its arcs, its share of capacity."""
    shares = capacity_shares(data) if shares is None else shares
    mine = shares.filter(pl.col("member_iso3") == member)
    capacity = data.capacity.join(mine.select(*SUPPLY, "capacity_share"), on=SUPPLY).with_columns(
        (pl.col("capacity_t") * pl.col("capacity_share")).alias("capacity_t")
    )
    return ModelData(
        year=data.year,
        members=(member,),
        demand=data.demand.filter(pl.col("member_iso3") == member),
        capacity=capacity.drop("capacity_share"),
        arcs=data.arcs.filter(pl.col("member_iso3") == member),
    )


def sharing_rule(data: ModelData, rule: pl.DataFrame | None = None) -> pl.DataFrame:
    """Burden shares :math:`b_{m,c}` of the pooled stock-holding cost.

    Parameters
    ----------
    data
        Model data.
    rule
        ``None``: IEA style, in proportion to demand (consumption). Otherwise a frame
        ``member_iso3, cost_share`` (the same shares for every commodity) or
        ``member_iso3, commodity, stage, cost_share``; the shares of each commodity must
        be >= 0 and sum to 1.

    Returns
    -------
    polars.DataFrame
        ``member_iso3, commodity, stage, cost_share``.

    Raises
    ------
    resilience.errors.DataError
        Unknown members, negative shares, a commodity missing or not summing to 1.
    """
    comms = data.demand.select(COMMODITY_KEY).unique().sort(COMMODITY_KEY)
    if rule is None:
        return data.demand.with_columns(
            (pl.col("demand_t") / pl.col("demand_t").sum().over(COMMODITY_KEY)).alias("cost_share")
        ).select(*DEMAND, "cost_share")
    _check_rule(data, rule)
    if "commodity" not in rule.columns:
        rule = rule.select("member_iso3", "cost_share").join(comms, how="cross")
    rule = rule.select(*DEMAND, pl.col("cost_share").cast(pl.Float64))
    sums = comms.join(
        rule.group_by(COMMODITY_KEY).agg(pl.col("cost_share").sum().alias("total")),
        on=COMMODITY_KEY,
        how="left",
    )
    problems = [
        DataProblem("sharing rule", None, "cost_share", total, f"shares of {c} ({s}) must sum to 1")
        for c, s, total in sums.iter_rows()
        if total is None or abs(total - 1.0) > SHARE_TOLERANCE
    ]
    if problems:
        raise DataError(problems)
    return rule.sort(DEMAND)


def _check_rule(data: ModelData, rule: pl.DataFrame) -> None:
    """Columns present, members known, shares numbers >= 0 (DataError otherwise)."""
    name = "sharing rule"
    problems = [
        DataProblem(name, None, col, None, "required column missing")
        for col in ("member_iso3", "cost_share")
        if col not in rule.columns
    ]
    if problems:
        raise DataError(problems)
    for i, (m, b) in enumerate(rule.select("member_iso3", "cost_share").iter_rows()):
        if m not in data.members:
            problems.append(DataProblem(name, i + 2, "member_iso3", m, "not a modelled member"))
        if b is None or not b >= 0:
            problems.append(DataProblem(name, i + 2, "cost_share", b, "must be a number >= 0"))
    if problems:
        raise DataError(problems)


@dataclass(frozen=True)
class PoolingResult:
    """Member-by-member comparison of going alone and pooling (Polars frames only).

    Attributes
    ----------
    members
        Per member: ``alone_cost_usd, pooled_cost_usd, gain_usd`` (alone − pooled, the
        pooled cost allocated by the rule), ``alone_expected_shortfall_t,
        pooled_expected_shortfall_t, alone_expected_shortfall_usd,
        pooled_expected_shortfall_usd, alone_stock_t, pooled_stock_held_t,
        pooled_holding_cost_paid_usd``.
    summary
        One row: ``alone_total_usd, pooled_total_usd, gain_usd,
        alone_expected_shortfall_t, pooled_expected_shortfall_t``.
    sharing
        The burden shares used (``member_iso3, commodity, stage, cost_share``).
    pooled_plan, pooled_stock, pooled_shortfall
        Plan, stock and shortfall by scenario of the pooled run.
    alone_plan, alone_stock, alone_shortfall
        The same for the members going alone, stacked.
    """

    members: pl.DataFrame
    summary: pl.DataFrame
    sharing: pl.DataFrame
    pooled_plan: pl.DataFrame
    pooled_stock: pl.DataFrame
    pooled_shortfall: pl.DataFrame
    alone_plan: pl.DataFrame
    alone_stock: pl.DataFrame
    alone_shortfall: pl.DataFrame

    @property
    def gain_usd(self) -> float:
        """Alliance-wide gain of pooling (>= 0 up to solver tolerance)."""
        return float(self.summary["gain_usd"][0])


def _member_settings(settings: StressSettings, member: str) -> StressSettings:
    """The settings one member uses going alone: no transfers, its own given frames."""

    def mine(frame: pl.DataFrame | None) -> pl.DataFrame | None:
        return None if frame is None else frame.filter(pl.col("member_iso3") == member)

    stock = replace(
        settings.stock,
        min_stock_t=mine(settings.stock.min_stock_t),
        fixed_stock_t=mine(settings.stock.fixed_stock_t),
    )
    return replace(
        settings,
        recourse=replace(settings.recourse, allow_transfers=False),
        stock=stock,
        fixed_plan=mine(settings.fixed_plan),
    )


def _pooled_costs(
    pooled: StressResult, sharing: pl.DataFrame, settings: StressSettings
) -> pl.DataFrame:
    """Each member's share of the pooled objective: own costs plus the ruled stock cost."""
    contracts = pooled.plan.group_by("member_iso3").agg(pl.col("cost_usd").sum().alias("_c"))
    holding = (
        pooled.stock.group_by(COMMODITY_KEY)
        .agg(pl.col("holding_cost_usd").sum().alias("_h"))
        .join(sharing, on=COMMODITY_KEY)
        .group_by("member_iso3")
        .agg((pl.col("_h") * pl.col("cost_share")).sum().alias("pooled_holding_cost_paid_usd"))
    )
    flows = pooled.shortfall.with_columns(
        (
            pl.col("spot_cost_usd") + pl.col("transfer_cost_usd") + pl.col("shortfall_cost_usd")
        ).alias("_r")
    )
    recourse = flows.group_by("member_iso3").agg(
        (pl.col("_r") * pl.col("probability")).sum().alias("_e"),
        (pl.col("shortfall_t") * pl.col("probability")).sum().alias("pooled_expected_shortfall_t"),
        (pl.col("shortfall_cost_usd") * pl.col("probability"))
        .sum()
        .alias("pooled_expected_shortfall_usd"),
    )
    lam = settings.cvar_weight
    if lam > 0:
        q = pooled.scenarios.select(W, "tail_weight")
        risk = (
            flows.group_by(W, "member_iso3")
            .agg(pl.col("shortfall_cost_usd").sum().alias("_l"))
            .join(q, on=W)
            .group_by("member_iso3")
            .agg((lam * pl.col("_l") * pl.col("tail_weight")).sum().alias("_risk"))
        )
    else:
        risk = contracts.select("member_iso3", pl.lit(0.0).alias("_risk"))
    held = pooled.stock.group_by("member_iso3").agg(
        pl.col("stock_t").sum().alias("pooled_stock_held_t")
    )
    out = contracts
    for part in (holding, recourse, risk, held):
        out = out.join(part, on="member_iso3", how="left")
    return out.with_columns(pl.exclude("member_iso3").fill_null(0.0)).with_columns(
        (
            pl.col("_c") + pl.col("pooled_holding_cost_paid_usd") + pl.col("_e") + pl.col("_risk")
        ).alias("pooled_cost_usd")
    )


def run_pooling(
    data: ModelData,
    scenarios: pl.DataFrame,
    settings: StressSettings | None = None,
    rule: pl.DataFrame | None = None,
    options: SolverOptions | None = None,
) -> PoolingResult:
    """Solve pooled and alone stress models and report who gains what.

    Parameters
    ----------
    data, scenarios
        Model data and a validated scenario set.
    settings
        Stress settings used for both runs (transfers are switched on for the pooled run
        and off for the alone runs).
    rule
        Burden-sharing rule (:func:`sharing_rule`; default IEA-style by consumption).
    options
        Solver options.

    Raises
    ------
    resilience.optimize.solve.InfeasibleModelError
        The pooled model, or a member alone (its capacity share cannot meet its demand
        under the policy); the sentences name the member, commodity and policy.
    """
    settings = settings or StressSettings()
    # Unit values (and so holding, shortfall and transfer costs) come from the whole
    # alliance's data once: a member alone sees fewer suppliers (never itself), and costs
    # priced differently would break "pooled <= sum of alone".
    values = commodity_costs(data, settings.recourse).select(*COMMODITY_KEY, "unit_value_usd_per_t")
    settings = replace(settings, recourse=replace(settings.recourse, unit_value_usd_per_t=values))
    scenarios = validate_scenarios(scenarios)
    sharing = sharing_rule(data, rule)
    pooled_settings = replace(settings, recourse=replace(settings.recourse, allow_transfers=True))
    pooled = run_stress(data, scenarios, pooled_settings, options)
    shares = capacity_shares(data)
    alone: dict[str, StressResult] = {}
    for m in data.members:
        sub = member_data(data, m, shares)
        log.info("pooling: %s going alone", m)
        alone[m] = run_stress(
            sub, restrict_to_data(scenarios, sub), _member_settings(settings, m), options
        )
    alone_rows = pl.DataFrame(
        {
            "member_iso3": list(alone),
            "alone_cost_usd": [r.objective_usd for r in alone.values()],
            "alone_expected_shortfall_t": [r.expected_shortfall_t for r in alone.values()],
            "alone_expected_shortfall_usd": [r.expected_shortfall_usd for r in alone.values()],
            "alone_stock_t": [float(r.stock["stock_t"].sum()) for r in alone.values()],
        }
    )
    members = (
        alone_rows.join(_pooled_costs(pooled, sharing, settings), on="member_iso3", how="left")
        .with_columns((pl.col("alone_cost_usd") - pl.col("pooled_cost_usd")).alias("gain_usd"))
        .select(
            "member_iso3",
            "alone_cost_usd",
            "pooled_cost_usd",
            "gain_usd",
            "alone_expected_shortfall_t",
            "pooled_expected_shortfall_t",
            "alone_expected_shortfall_usd",
            "pooled_expected_shortfall_usd",
            "alone_stock_t",
            "pooled_stock_held_t",
            "pooled_holding_cost_paid_usd",
        )
        .sort("member_iso3")
    )
    alone_total = float(members["alone_cost_usd"].sum())
    summary = pl.DataFrame(
        {
            "alone_total_usd": [alone_total],
            "pooled_total_usd": [pooled.objective_usd],
            "gain_usd": [alone_total - pooled.objective_usd],
            "alone_expected_shortfall_t": [float(members["alone_expected_shortfall_t"].sum())],
            "pooled_expected_shortfall_t": [pooled.expected_shortfall_t],
        }
    )
    gap = float(summary["gain_usd"][0])
    if gap < -1e-6 * max(1.0, alone_total):
        log.warning("pooling costs %.6g USD more than going alone: check solver tolerances", -gap)
    return PoolingResult(
        members=members,
        summary=summary,
        sharing=sharing,
        pooled_plan=pooled.plan,
        pooled_stock=pooled.stock,
        pooled_shortfall=pooled.shortfall,
        alone_plan=pl.concat([r.plan for r in alone.values()]),
        alone_stock=pl.concat([r.stock for r in alone.values()]),
        alone_shortfall=pl.concat([r.shortfall for r in alone.values()]),
    )
