r"""What every model family shares: the study's market, the policy hooks, the answer.

A family run (:class:`FamilyContext`) is a study, its composition (scenarios and
policy, overrides applied) and the market settings. :func:`assemble` turns it into the
market core's inputs (:func:`~resilience.optimize.market.from_data.study_market`),
with the policy knobs that are market parameters mapped onto the cited table
(:data:`KNOB_PARAMETERS`); :func:`policy_hooks` adds the knobs that are decisions or
limits (stock builds, sourcing caps, pooling: :mod:`resilience.optimize.market.policies`);
:func:`solve_pair` solves the calm reference (no disruption, no policy) and the run;
:func:`answer` turns the pair into the tables every family reports:

- ``members``: per member and scenario, ``welfare_loss_usd`` (node welfare lost against
  the calm reference: consumer value lost plus extra expenditure, net of producer gains,
  plus the pre-crisis stock build paid at :math:`P_0`), ``consumer_loss_usd``,
  ``producer_gain_usd``, ``stock_build_usd``, with the scenario's ``probability``;
- ``goods``: per member, good and scenario, ``price_rise_max_pct`` (highest monthly price
  over :math:`P_0`), ``shed_units`` and ``shed_share`` (demand shed over the horizon),
  ``stock_released_units`` (net of the month's builds, :math:`\sum_t \max(0, r_t - b_t)`:
  the LP may release and rebuild within a month at no cost, a tie that says nothing);
- ``exposure`` (:func:`exposure`): per member and good, import shares before (observed
  flows) and after (the run's flows, probability-weighted over scenarios and months);
- and the market's own tables: ``prices`` and ``flows`` per node or arc, month and
  scenario (``flows`` with the arc's observed ``flow0_units_per_month``), ``shed``,
  ``stock_builds``, ``gains``, ``capacity_values``, ``stock_values``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from resilience.metrics.concentration import concentration
from resilience.metrics.sums import stable_sum
from resilience.optimize.market import disruptions as dis
from resilience.optimize.market.calm import calm_reference
from resilience.optimize.market.core import Extension, build_market, solve_market
from resilience.optimize.market.from_data import StudyMarket, StudyMarketSettings, study_market
from resilience.optimize.market.inputs import MarketInputs
from resilience.optimize.market.policies import pooled_stocks, sourcing_cap, stock_build
from resilience.optimize.market.results import MarketResult, welfare_loss
from resilience.optimize.solve import SolverOptions
from resilience.reference.commodities import load_commodities
from resilience.specs import Composition, SpecError, StudySpec

__all__ = [
    "DAYS_PER_MONTH",
    "KNOB_PARAMETERS",
    "FamilyContext",
    "FamilyRun",
    "PolicyRun",
    "answer",
    "built_stocks",
    "assemble",
    "exposure",
    "policy_hooks",
    "solve_pair",
    "supplier_flows",
]

log = logging.getLogger(__name__)

DAYS_PER_MONTH = 365.0 / 12.0
#: Stock ceiling of a member without ``max_stock_days`` (days of its consumption): the
#: IEA's 90 days of net imports, the benchmark of strategic stock policy ("no less than
#: 90 days of net imports", IEA, Oil Stocks of IEA Countries, 2024: the first row of
#: ``datasets/strategic_stocks.csv``).
DEFAULT_MAX_STOCK_DAYS = 90.0

#: Policy knobs that are market parameters: knob -> (parameter, factor). Applied to every
#: good only when the knob was set (study, scenario or override); otherwise the cited
#: value of ``datasets/market_parameters.csv`` stands.
KNOB_PARAMETERS: dict[str, tuple[str, float]] = {
    "value_of_lost_supply_multiple": ("voll_multiple", 1.0),
    "holding_cost_share": ("holding_cost_share_per_month", 1.0 / 12.0),
    "spare_capacity": ("spare_capacity_share", 1.0),
    "spot_premium": ("friction_share", 1.0),
}


@dataclass(frozen=True)
class FamilyContext:
    """One run of a family: the study, its composition and how to solve."""

    study: StudySpec
    comp: Composition
    label: str
    settings: StudyMarketSettings = field(default_factory=StudyMarketSettings)
    options: SolverOptions | None = None
    trade: pl.DataFrame | pl.LazyFrame | None = None

    @property
    def members(self) -> list[str]:
        """The study's members as market nodes on its date (ISO3, or an ``as_one`` bloc)."""
        return self.study.member_nodes()

    @property
    def allies(self) -> list[str]:
        """Allied nodes in force (the policy's allies, else the study's), members included."""
        chosen = self.comp.policy.allies or self.study.allies
        return sorted(set(self.study.allied_nodes(chosen)) | set(self.members))


@dataclass(frozen=True)
class FamilyRun:
    """What a family answers (see the module doc for the tables)."""

    members: pl.DataFrame
    goods: pl.DataFrame
    exposure: pl.DataFrame
    totals: Mapping[str, Any]
    tables: Mapping[str, pl.DataFrame]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyRun:
    """A solved pair: the calm reference and the run, on one assembled market."""

    market: StudyMarket
    base: MarketResult
    result: MarketResult
    builds: pl.DataFrame


# ----------------------------------------------------------------------------- assembly
def _market_overrides(ctx: FamilyContext) -> dict[object, object]:
    p, set_by = ctx.comp.policy, ctx.comp.set_by
    if p.cvar_weight > 0:
        raise SpecError.single(
            str(ctx.study.path),
            "policy.cvar_weight",
            p.cvar_weight,
            "the market-core families weigh scenarios by probability (expected welfare); a "
            "CVaR term is not part of the market core",
            "0 (read the worst scenario in the members table instead)",
        )
    out: dict[object, object] = {
        parameter: float(getattr(p, knob)) * factor
        for knob, (parameter, factor) in KNOB_PARAMETERS.items()
        if knob in set_by
    }
    if "spot" in set_by and not p.spot:
        out["ramp_share_per_month"] = 0.0
    return out


def assemble(ctx: FamilyContext, events: Sequence[dis.Event] | None = None) -> StudyMarket:
    """The study's market under the run's composition (or ``events``), knobs mapped."""
    return study_market(
        ctx.study,
        settings=ctx.settings,
        overrides=_market_overrides(ctx) or None,
        trade=ctx.trade,
        composition=ctx.comp,
        events=events,
    )


def _member_demand(market: StudyMarket, members: Sequence[str]) -> pl.DataFrame:
    return market.inputs.demand.filter(pl.col("node").is_in(list(members)))


def policy_stocks(market: StudyMarket, ctx: FamilyContext) -> tuple[MarketInputs, pl.DataFrame]:
    r"""Stock rows for every member and good with demand, and the build bounds.

    The stock a member may hold after its pre-crisis build is
    :math:`\text{days} \times q_0 / (365/12)` for ``max_stock_days``
    (:data:`DEFAULT_MAX_STOCK_DAYS` when unset); the build must lift it to
    ``min_stock_days`` (the published strategic stock
    counts towards both). A member without a published stock gets one starting empty,
    drawable at its monthly consumption.
    """
    p = ctx.comp.policy
    max_days = DEFAULT_MAX_STOCK_DAYS if p.max_stock_days is None else p.max_stock_days
    demand = _member_demand(market, ctx.members).with_columns(
        (pl.col("q0_units_per_month") / DAYS_PER_MONTH).alias("daily")
    )
    have = market.inputs.stocks
    rows = demand.join(have, on=["node", "good"], how="left").with_columns(
        pl.col("initial_units").fill_null(0.0),
        pl.max_horizontal(
            pl.col("capacity_units").fill_null(0.0),
            pl.col("initial_units").fill_null(0.0) + max_days * pl.col("daily"),
        ).alias("capacity_units"),
        pl.col("draw_units_per_month").fill_null(pl.col("q0_units_per_month")),
    )
    scoped = policy_goods(ctx)
    floor_days = pl.lit(p.min_stock_days)
    if scoped is not None:  # the floor binds the policy's sectors only
        floor_days = pl.when(pl.col("good").is_in(scoped)).then(floor_days).otherwise(0.0)
    builds = rows.select(
        "node",
        "good",
        (floor_days * pl.col("daily") - pl.col("initial_units"))
        .clip(lower_bound=0.0)
        .alias("min_units"),
        (max_days * pl.col("daily") - pl.col("initial_units"))
        .clip(lower_bound=0.0)
        .alias("max_units"),
    )
    others = have.join(rows.select("node", "good"), on=["node", "good"], how="anti")
    stocks = pl.concat(
        [
            others,
            rows.select("node", "good", "initial_units", "capacity_units", "draw_units_per_month"),
        ]
    ).sort("node", "good")
    return market.inputs.with_changes(stocks=stocks), builds


def policy_hooks(
    ctx: FamilyContext, builds: pl.DataFrame | None, *, pooling: bool | None = None
) -> list[Extension]:
    """The hooks of the composition's policy: stock builds, sourcing caps, pooling."""
    p = ctx.comp.policy
    goods = None if p.sectors is None else sector_goods(ctx.study, p.sectors)
    hooks: list[Extension] = []
    if builds is not None and builds.height:
        hooks.append(stock_build(builds))
    if p.max_non_allied_share < 1.0:
        hooks.append(
            sourcing_cap(ctx.members, ctx.allies, p.max_non_allied_share, "non_allied", goods)
        )
    if p.max_single_supplier_share < 1.0:
        hooks.append(sourcing_cap(ctx.members, (), p.max_single_supplier_share, "single", goods))
    if p.pooling if pooling is None else pooling:
        hooks.append(pooled_stocks(ctx.members, goods))
    return hooks


def sector_goods(study: StudySpec, sectors: Sequence[str]) -> list[str]:
    """The study's goods (``commodity/stage``) whose commodity is in one of ``sectors``."""
    sector = dict(load_commodities().select("commodity", "sector").unique().iter_rows())
    return [f"{c}/{s}" for c, s in study.commodities if sector.get(c) in set(sectors)]


def policy_goods(ctx: FamilyContext) -> list[str] | None:
    """The goods the policy's floor, caps and pooling bind (``None``: every good)."""
    sectors = ctx.comp.policy.sectors
    return None if sectors is None else sector_goods(ctx.study, sectors)


def solve_pair(
    ctx: FamilyContext,
    market: StudyMarket,
    *,
    with_stocks: bool = True,
    pooling: bool | None = None,
    base: MarketResult | None = None,
) -> PolicyRun:
    """Solve the calm reference (unless given) and the run with the policy's hooks.

    The calm reference comes from :func:`~resilience.optimize.market.calm.calm_reference`,
    solved once per process for every run whose calm market is the same.
    """
    ms = market.settings.market_settings()
    if base is None:
        base = calm_reference(market.inputs, ms, ctx.options)
    inputs, builds = market.inputs, pl.DataFrame()
    if with_stocks:
        inputs, builds = policy_stocks(market, ctx)
    model = build_market(inputs, ms, policy_hooks(ctx, builds, pooling=pooling))
    result = MarketResult(model, solve_market(model, ctx.options))
    return PolicyRun(market, base, result, builds)


# ----------------------------------------------------------------------------- answers
def built_stocks(run: PolicyRun) -> pl.DataFrame:
    """``node, good, built_units, stock_build_usd`` of the first-stage builds.

    ``stock_build_usd`` is what the build costs whatever happens: the purchase at
    :math:`P_0` and the holding cost over the horizon (:mod:`~resilience.optimize.market.
    first_stage`); the stock left at the end is valued in the market's stock surplus.
    """
    var = run.result.market.variables.get("prebuilt_stock")
    schema = {
        "node": pl.String,
        "good": pl.String,
        "built_units": pl.Float64,
        "stock_build_usd": pl.Float64,
    }
    if var is None:
        return pl.DataFrame(schema=schema)
    inputs = run.result.market.inputs
    p0 = inputs.parameter_frame().select("good", "p0_usd_per_unit", "holding_cost_share_per_month")
    unit = pl.col("p0_usd_per_unit") * (
        1.0 + pl.col("holding_cost_share_per_month") * inputs.months
    )
    return (
        run.result.solved.values(var)
        .rename({"value": "built_units"})
        .join(p0, on="good")
        .select(
            "node", "good", "built_units", (pl.col("built_units") * unit).alias("stock_build_usd")
        )
    )


def member_losses(run: PolicyRun, members: Sequence[str]) -> pl.DataFrame:
    """``members`` table (module doc) of one solved pair."""
    built = (
        built_stocks(run)
        .sort(pl.all())
        .group_by("node", maintain_order=True)
        .agg(stable_sum(pl.col("stock_build_usd")))
    )
    loss = welfare_loss(run.base, run.result).filter(pl.col("node").is_in(list(members)))
    return (
        loss.join(built, on="node", how="left")
        .join(run.result.market.inputs.scenarios, on="scenario")
        .with_columns(pl.col("stock_build_usd").fill_null(0.0))
        .select(
            pl.col("node").alias("member"),
            "scenario",
            "probability",
            (pl.col("net_loss_usd") + pl.col("stock_build_usd")).alias("welfare_loss_usd"),
            "consumer_loss_usd",
            "producer_gain_usd",
            "stock_build_usd",
        )
        .sort("member", "scenario")
    )


def member_goods(run: PolicyRun, members: Sequence[str]) -> pl.DataFrame:
    """``goods`` table (module doc) of one solved pair."""
    r = run.result
    p0 = r.market.inputs.parameter_frame().select("good", "p0_usd_per_unit")
    price = (
        r.prices()
        .filter(pl.col("node").is_in(list(members)))
        .join(p0, on="good")
        .sort(pl.all())
        .group_by("node", "good", "scenario", maintain_order=True)
        .agg(
            (100.0 * (pl.col("price_usd_per_unit") / pl.col("p0_usd_per_unit") - 1.0))
            .max()
            .alias("price_rise_max_pct")
        )
    )
    shed = (
        r.demand()
        .filter(pl.col("node").is_in(list(members)))
        .sort(pl.all())
        .group_by("node", "good", "scenario", maintain_order=True)
        .agg(
            stable_sum(pl.col("shed_units")),
            (stable_sum(pl.col("shed_units")) / stable_sum(pl.col("q0_units"))).alias("shed_share"),
        )
    )
    out = price.join(shed, on=["node", "good", "scenario"], how="left")
    stocks = r.stocks()
    if stocks.is_empty():
        out = out.with_columns(pl.lit(0.0).alias("stock_released_units"))
    else:
        released = (
            stocks.sort(pl.all())
            .group_by("node", "good", "scenario", maintain_order=True)
            .agg(
                stable_sum(
                    (pl.col("release_units") - pl.col("build_units")).clip(lower_bound=0.0)
                ).alias("stock_released_units")
            )
        )
        out = out.join(released, on=["node", "good", "scenario"], how="left")
    return (
        out.with_columns(pl.col("shed_units", "shed_share", "stock_released_units").fill_null(0.0))
        .rename({"node": "member"})
        .sort("member", "good", "scenario")
    )


def exposure(run: PolicyRun, members: Sequence[str], allies: Sequence[str]) -> pl.DataFrame:
    r"""Per member and good: import shares before (observed) and after (the run).

    Shares are of the member's imports :math:`s_o = f_{o \to m} / \sum_{o'} f_{o' \to m}`;
    ``non_allied_share`` sums :math:`s_o` over non-allied origins (the rest-of-world node
    counts as non-allied); ``max_single_share`` and ``hhi`` come from
    :func:`resilience.metrics.concentration.concentration` (rest of world in the total,
    not a supplier). "After" weighs the run's flows by scenario probability and averages
    the months.
    """
    inputs = run.result.market.inputs
    before = inputs.arcs.select(
        "origin", "destination", "good", pl.col("flow0_units_per_month").alias("q")
    )
    # sums in a fixed row order: the same run gives the same bits (report byte identity)
    after = (
        run.result.flows()
        .join(inputs.scenarios, on="scenario")
        .sort("origin", "destination", "good", "month", "scenario")
        .group_by("origin", "destination", "good", maintain_order=True)
        .agg(stable_sum(pl.col("flow_units") * pl.col("probability")).alias("q"))
        .with_columns(pl.col("q") / inputs.months)
    )
    parts = []
    for suffix, flows in (("before", before), ("after", after)):
        into = (
            flows.filter(pl.col("destination").is_in(list(members)) & (pl.col("q") > 0)).sort(
                "destination", "good", "origin"
            )
        ).with_columns(
            (pl.col("q") / pl.col("q").sum().over("destination", "good")).alias("share"),
            pl.col("origin").is_in(list(allies)).alias("_ally"),
        )
        non_allied = into.group_by("destination", "good", maintain_order=True).agg(
            stable_sum(pl.col("share").filter(~pl.col("_ally"))).alias(
                f"non_allied_share_{suffix}"
            ),
            stable_sum(pl.col("q")).alias(f"imports_units_per_month_{suffix}"),
        )
        conc = (
            concentration(into, ["destination", "good"], country="origin")
            .select(
                "destination",
                "good",
                pl.col("top1_share").alias(f"max_single_share_{suffix}"),
                pl.col("hhi").alias(f"hhi_{suffix}"),
            )
            .collect()
        )
        parts.append(non_allied.join(conc, on=["destination", "good"], how="left"))
    grid = inputs.demand.filter(pl.col("node").is_in(list(members))).select(
        pl.col("node").alias("destination"), "good", "q0_units_per_month"
    )
    out = grid
    for part in parts:
        out = out.join(part, on=["destination", "good"], how="left")
    return out.rename({"destination": "member"}).sort("member", "good")


def supplier_flows(run: PolicyRun, members: Sequence[str], allies: Sequence[str]) -> pl.DataFrame:
    """``member, origin, good, observed_units_per_month, after_units_per_month, is_ally``.

    Every origin shipping to a member, observed (the reference flows) or in the run
    (probability-weighted over scenarios, averaged over the months), as :func:`exposure`
    weighs them; ``is_ally`` marks the allied origins.
    """
    inputs = run.result.market.inputs
    keys = ["origin", "destination", "good"]
    observed = inputs.arcs.group_by(keys, maintain_order=True).agg(
        stable_sum(pl.col("flow0_units_per_month")).alias("observed_units_per_month")
    )
    after = (
        run.result.flows()
        .join(inputs.scenarios, on="scenario")
        .sort([*keys, "month", "scenario"])  # sums in one order: the same bits every run
        .group_by(keys, maintain_order=True)
        .agg(
            stable_sum(pl.col("flow_units") * pl.col("probability")).alias("after_units_per_month")
        )
        .with_columns(pl.col("after_units_per_month") / inputs.months)
    )
    return (
        observed.join(after, on=keys, how="full", coalesce=True)
        .filter(pl.col("destination").is_in(list(members)))
        .with_columns(pl.col("observed_units_per_month", "after_units_per_month").fill_null(0.0))
        .filter((pl.col("observed_units_per_month") > 0) | (pl.col("after_units_per_month") > 0))
        .select(
            pl.col("destination").alias("member"),
            "origin",
            "good",
            "observed_units_per_month",
            "after_units_per_month",
            pl.col("origin").is_in(list(allies)).alias("is_ally"),
        )
        .sort("member", "good", "origin")
    )


def answer(
    run: PolicyRun,
    ctx: FamilyContext,
    totals: Mapping[str, Any] | None = None,
    tables: Mapping[str, pl.DataFrame] | None = None,
    notes: Sequence[str] = (),
) -> FamilyRun:
    """The tables of one solved pair, with the family's totals and extra tables."""
    members = member_losses(run, ctx.members)
    expected = float((members["welfare_loss_usd"] * members["probability"]).sum())
    events = members.filter(pl.col("scenario") != dis.CALM)
    worst = (
        (events if events.height else members)
        .sort(pl.all())
        .group_by("scenario", maintain_order=True)
        .agg(stable_sum(pl.col("welfare_loss_usd")))
        .sort("welfare_loss_usd", "scenario", descending=[True, False])
    )
    base_totals: dict[str, Any] = {
        "expected_welfare_loss_usd": expected,
        "worst_scenario": worst["scenario"][0] if worst.height else None,
        "worst_welfare_loss_usd": float(worst["welfare_loss_usd"][0]) if worst.height else None,
        "stock_build_usd": float(built_stocks(run)["stock_build_usd"].sum()),
    }
    extra = {
        "prices": run.result.prices(),
        "flows": run.result.flows().join(
            run.result.market.inputs.arcs.select(
                "origin", "destination", "good", "flow0_units_per_month"
            ),
            on=["origin", "destination", "good"],
            how="left",
        ),
        "shed": run.result.demand().filter(pl.col("node").is_in(ctx.members)),
        "stock_builds": built_stocks(run),
        "gains": welfare_loss(run.base, run.result)
        .filter(pl.col("producer_gain_usd") > 0)
        .sort(["scenario", "producer_gain_usd"], descending=[False, True]),
        "capacity_values": run.result.capacity_values(),
        "stock_values": run.result.stock_values(),
        "stock_sources": run.market.stocks,
        "stock_rows": run.result.market.inputs.stocks,
        "out_of_scope": run.market.out_of_scope,
        "supplier_flows": supplier_flows(run, ctx.members, ctx.allies),
    }
    return FamilyRun(
        members=members,
        goods=member_goods(run, ctx.members),
        exposure=exposure(run, ctx.members, ctx.allies),
        totals={**base_totals, **(totals or {})},
        tables={**extra, **(tables or {})},
        notes=(*run.market.notes, *notes),
    )


def with_policy(ctx: FamilyContext, **knobs: Any) -> FamilyContext:
    """``ctx`` with policy knobs replaced (``set_by = "family"``)."""
    comp = ctx.comp
    policy = replace(comp.policy, **knobs)
    set_by = {**comp.set_by, **dict.fromkeys(knobs, "family")}
    return replace(ctx, comp=Composition(comp.names, comp.events, policy, set_by))
