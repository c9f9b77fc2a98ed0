r"""``pooling``: members going alone against members sharing their stocks, priced.

Both runs build stocks as ``stress`` does (first stage) under the same scenarios; the
pooled run adds :func:`resilience.optimize.market.policies.pooled_stocks` (a member's
stock releases may go to any other member without friction). The pooling gain of a
member is its welfare loss alone minus its loss pooled.

Burden sharing (``burden_rule``): the members' stock builds (USD at :math:`P_0`) are
paid in shares — ``consumption`` (each member's share of the members' consumption of the
good, as the IEA oil system) or ``equal``. ``burden_transfer_usd`` is what a member pays
under the rule minus what its own builds cost; ``welfare_loss_after_burden_usd`` adds
it to the pooled loss (transfers sum to zero over members).
"""

from __future__ import annotations

import polars as pl

from resilience.metrics.sums import stable_sum
from resilience.optimize.families.common import (
    FamilyContext,
    FamilyRun,
    answer,
    assemble,
    built_stocks,
    member_losses,
    solve_pair,
)

__all__ = ["run_pooling"]


def _burden(ctx: FamilyContext, builds: pl.DataFrame, demand: pl.DataFrame) -> pl.DataFrame:
    """``member, burden_transfer_usd`` under the policy's rule."""
    members = ctx.members
    cost = (
        builds.sort(pl.all())
        .group_by("good", maintain_order=True)
        .agg(stable_sum(pl.col("stock_build_usd")).alias("pool_usd"))
    )
    own = (
        builds.sort(pl.all())
        .group_by(pl.col("node").alias("member"), maintain_order=True)
        .agg(stable_sum(pl.col("stock_build_usd")).alias("own_usd"))
    )
    d = demand.filter(pl.col("node").is_in(members)).select(
        pl.col("node").alias("member"), "good", "q0_units_per_month"
    )
    if ctx.comp.policy.burden_rule == "equal":
        d = d.with_columns((1.0 / pl.col("member").n_unique().over("good")).alias("burden_share"))
    else:
        d = d.with_columns(
            (pl.col("q0_units_per_month") / pl.col("q0_units_per_month").sum().over("good")).alias(
                "burden_share"
            )
        )
    pays = (
        d.join(cost, on="good")
        .sort(pl.all())
        .group_by("member", maintain_order=True)
        .agg(stable_sum(pl.col("burden_share") * pl.col("pool_usd")).alias("pays_usd"))
    )
    return (
        pl.DataFrame({"member": members})
        .join(pays, on="member", how="left")
        .join(own, on="member", how="left")
        .select(
            "member",
            (pl.col("pays_usd").fill_null(0.0) - pl.col("own_usd").fill_null(0.0)).alias(
                "burden_transfer_usd"
            ),
        )
    )


def run_pooling(ctx: FamilyContext) -> FamilyRun:
    """Run the pooling family (module doc)."""
    market = assemble(ctx)
    alone = solve_pair(ctx, market, pooling=False)
    pooled = solve_pair(ctx, market, pooling=True, base=alone.base)
    a = member_losses(alone, ctx.members)
    p = member_losses(pooled, ctx.members)
    builds = built_stocks(pooled)
    burden = _burden(ctx, builds, market.inputs.demand)
    gain = (
        a.select("member", "scenario", "probability", pl.col("welfare_loss_usd").alias("alone_usd"))
        .join(
            p.select("member", "scenario", pl.col("welfare_loss_usd").alias("pooled_usd")),
            on=["member", "scenario"],
        )
        .join(burden, on="member", how="left")
        .with_columns(
            (pl.col("alone_usd") - pl.col("pooled_usd")).alias("pooling_gain_usd"),
            (pl.col("pooled_usd") + pl.col("burden_transfer_usd")).alias(
                "welfare_loss_after_burden_usd"
            ),
        )
        .sort("member", "scenario")
    )
    expected_gain = float((gain["pooling_gain_usd"] * gain["probability"]).sum())
    expected_alone = float((a["welfare_loss_usd"] * a["probability"]).sum())
    return answer(
        pooled,
        ctx,
        totals={"pooling_gain_usd": expected_gain, "alone_welfare_loss_usd": expected_alone},
        tables={"pooling": gain, "alone_members": a},
    )
