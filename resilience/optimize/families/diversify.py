r"""``diversify``: friend-shored sourcing and what it costs, priced by the market.

The policy's sourcing caps (``max_non_allied_share``: imports from non-allied origins at
most that share of a member's consumption; ``max_single_supplier_share``: from any single
foreign origin) bind in every month of every scenario of the run; no stocks are built
(that is ``stress``). The market reallocates: members bid allied supply away from
others, consume less where allied supply runs out, and prices rise. The welfare loss of
the calm scenario is the price of the policy; the loss in a disruption scenario is what
remains of the disruption with the policy in force.

A cap never makes the run infeasible (consumption can always fall to what allied
suppliers give), so instead of an error the family reports the **cost curve**
(``cost_curve`` table): the calm-market welfare loss of the members (their producers'
gains netted, so it need not rise monotonically) and of the world, their demand shed
and their non-allied import share at ``max_non_allied_share`` from 1 down to the
policy's value in :data:`CURVE_POINTS` steps — the tightest share reachable without
shedding demand is where ``shed_share`` leaves zero.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from resilience.optimize.families.common import (
    FamilyContext,
    FamilyRun,
    answer,
    assemble,
    exposure,
    member_goods,
    member_losses,
    solve_pair,
    with_policy,
)
from resilience.optimize.market.disruptions import CALM
from resilience.optimize.market.results import welfare_loss

__all__ = ["CURVE_POINTS", "run_diversify"]

#: Points of the cost curve (1 and the policy's share included).
CURVE_POINTS = 5


def _curve(ctx: FamilyContext) -> pl.DataFrame:
    """The calm market's cost of friend-shoring at shares from 1 to the policy's."""
    target = ctx.comp.policy.max_non_allied_share
    calm_ctx = replace(ctx, comp=replace(ctx.comp, events=()))
    market = assemble(calm_ctx)
    reference = None
    rows = []
    for i in range(CURVE_POINTS):
        share = 1.0 - (1.0 - target) * i / (CURVE_POINTS - 1)
        run = solve_pair(
            with_policy(calm_ctx, max_non_allied_share=share),
            market,
            with_stocks=False,
            base=reference,
        )
        reference = run.base
        loss = member_losses(run, ctx.members)
        world = welfare_loss(run.base, run.result)
        goods = member_goods(run, ctx.members)
        exp = exposure(run, ctx.members, ctx.allies)
        rows.append(
            {
                "max_non_allied_share": share,
                "welfare_loss_usd": float(loss["welfare_loss_usd"].sum()),
                "world_welfare_loss_usd": float(world["net_loss_usd"].sum()),
                "shed_share": float(goods["shed_share"].fill_null(0.0).sum())
                / max(goods.height, 1),
                "non_allied_share_after": float(exp["non_allied_share_after"].fill_null(0.0).sum())
                / max(exp.height, 1),
            }
        )
    return pl.DataFrame(rows)


def run_diversify(ctx: FamilyContext) -> FamilyRun:
    """Run the diversify family (module doc)."""
    market = assemble(ctx)
    run = solve_pair(ctx, market, with_stocks=False)
    tables = {}
    if ctx.comp.policy.max_non_allied_share < 1.0:
        tables["cost_curve"] = _curve(ctx)
    calm = member_losses(run, ctx.members)
    quiet = calm.filter(pl.col("scenario").is_in([CALM, "base"]))
    policy_cost = float(quiet["welfare_loss_usd"].sum())
    return answer(run, ctx, totals={"policy_cost_usd": policy_cost}, tables=tables)
