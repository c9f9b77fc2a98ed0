# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What a disruption costs the G7, and what stocks, pooling and friend-shoring buy
#
# China's export licensing of natural graphite (the catalogue's `china_graphite_controls`:
# Chinese natural graphite arrives at 30 % for 90 days, with an annual probability of
# 10 %) hits the G7 members of `models/g7_critical_minerals.yaml`. Each run solves the
# **market core**: the members, the largest other importers, the producers and the rest
# of the world trade month by month over a year; the disruption cuts China's arcs;
# prices clear the market; a member that cannot pay the price sheds demand. The run
# answers in money (welfare lost against the calm market without policy, USD), in
# prices (the highest monthly price over the 2023 reference) and in demand shed.
#
# To keep the notebook quick the study is reduced to its one good the controls touch,
# natural graphite (`graphite/mining`); each run then takes about a second.

# %%
# %matplotlib inline

import dataclasses
from pathlib import Path

import polars as pl

import resilience as rs

pl.Config.set_tbl_rows(30)
pl.Config.set_tbl_width_chars(140)
pl.Config.set_float_precision(4)

# The repository root, whether the notebook runs from there or from examples/.
STUDY = "models/g7_critical_minerals.yaml"
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / STUDY).is_file())
g7 = rs.load_study(ROOT / STUDY)
graphite = dataclasses.replace(g7, commodities=(("graphite", "mining"),))
SCENARIO = "china_graphite_controls"
controls = rs.run(graphite, SCENARIO)
totals = controls.totals.row(0, named=True)
print(f"run status: {controls.status}")
print(
    f"expected welfare loss of the members: USD {totals['expected_welfare_loss_usd'] / 1e6:.3f} m"
)
print(
    f"worst scenario: {totals['worst_scenario']}, "
    f"welfare loss USD {totals['worst_welfare_loss_usd'] / 1e6:.3f} m"
)

# %% [markdown]
# The **expected** loss weighs the year without controls (`calm`, probability 90 %) and
# the year with them (10 %); the loss **if it happens** is the second. Per member, the
# `members` table splits it into what consumers lose (value of demand shed plus the extra
# paid on what is still bought) and what the member's producers gain from higher prices:

# %%
hit = controls.members.filter(pl.col("scenario") == SCENARIO).sort("welfare_loss_usd")
print(hit.select("member", "welfare_loss_usd", "consumer_loss_usd", "producer_gain_usd"))
usa = controls.summary.filter(pl.col("member_iso3") == "USA").row(0, named=True)
print(f"highest US price rise: {usa['price_rise_max_pct']:.1f}%")
rs.plots.loss_by_scenario(controls)

# %% [markdown]
# The United States carries nearly all of it: its graphite price rises by about a fifth
# for the months of the controls, while Canada's graphite mines gain (a negative loss).
# The other members hold working stocks (Japan 60 days under JOGMEC's target) that
# carry them through with almost no price change. Month by month:

# %%
shed = controls.tables["shed"].filter(pl.col("scenario") == SCENARIO)
by_month = (
    shed.with_columns(share=pl.col("shed_units") / pl.col("q0_units"))
    .pivot(on="month", index="node", values="share", sort_columns=True)
    .sort("node")
)
print("share of demand shed per member and month (controls):")
print(by_month)
worst = controls.summary.sort("worst_shed_share", descending=True).row(0, named=True)
print(
    f"largest share of demand shed: {worst['member_iso3']}, "
    f"{100 * worst['worst_shed_share']:.2f}% of its annual demand"
)
rs.plots.price_paths(controls, "USA")

# %% [markdown]
# ## What policies buy against it
#
# Each policy below runs the same market and the same disruption, with a knob set on
# top (the catalogue's `msp_pooled_stocks` is a scenario carrying its own policy):
#
# - **30 days of stock**: every member builds stock up to 30 days of its consumption
#   before the year starts, paying the purchase and the holding cost whatever happens;
# - **pooling**: members share their stocks in a disruption;
# - **MSP pooled stocks**: the Minerals Security Partnership's partners as allies, 90
#   days of stock, shared;
# - **friend-shoring cap 50 %**: at most half of each member's consumption imported from
#   outside the allies (G7 and the EU), in every month.

# %%
policies = {
    "no policy": controls,
    "30 days of stock": rs.run(graphite, SCENARIO, policy={"min_stock_days": 30}),
    "pooling": rs.run(graphite, SCENARIO, policy={"pooling": True}),
    "MSP pooled stocks": rs.run(graphite, f"{SCENARIO}+msp_pooled_stocks"),
    "friend-shoring cap 50 %": rs.run(graphite, SCENARIO, policy={"max_non_allied_share": 0.5}),
}
rows = []
for name, result in policies.items():
    t = result.totals.row(0, named=True)
    s = result.summary
    w = s["demand_units_per_year"]
    rows.append(
        {
            "policy": name,
            "status": result.status,
            "expected_welfare_loss_usd": t["expected_welfare_loss_usd"],
            "worst_welfare_loss_usd": t["worst_welfare_loss_usd"],
            "stock_build_usd": t["stock_build_usd"],
            "price_rise_max_pct": s["price_rise_max_pct"].max(),
            "expected_shed_share": float((s["expected_shed_share"] * w).sum() / w.sum()),
        }
    )
table = pl.DataFrame(rows)
print(table)
row = {r["policy"]: r for r in table.iter_rows(named=True)}
base, stock, pooled, cap = (
    row["no policy"],
    row["30 days of stock"],
    row["pooling"],
    row["friend-shoring cap 50 %"],
)
print(
    f"30 days of stock: worst-case loss USD {stock['worst_welfare_loss_usd'] / 1e6:.3f} m "
    f"(no policy: USD {base['worst_welfare_loss_usd'] / 1e6:.3f} m), "
    f"stock bought for USD {stock['stock_build_usd'] / 1e6:.3f} m"
)
print(
    f"pooling: worst-case loss USD {pooled['worst_welfare_loss_usd'] / 1e6:.3f} m, "
    f"expected USD {pooled['expected_welfare_loss_usd'] / 1e6:.3f} m"
)
print(
    f"friend-shoring cap 50 %: expected welfare loss USD "
    f"{cap['expected_welfare_loss_usd'] / 1e6:.1f} m, "
    f"demand shed {100 * cap['expected_shed_share']:.1f}%, "
    f"price rise up to {cap['price_rise_max_pct']:.0f}%"
)
rs.plots.loss_by_scenario(table.rename({"policy": "scenario"}), value="worst_welfare_loss_usd")

# %% [markdown]
# - **Stocks are insurance.** Thirty days of stock remove the price rise and the demand
#   shed when the controls strike, so the loss if it happens falls well below the
#   no-policy loss. But the stock is bought whether or not the controls come, so the
#   *expected* loss rises: at a 10 % probability the premium exceeds the expected
#   payout. The MSP's 90 days cost more still.
# - **Pooling spreads the shock.** Shared stocks flow to where the price is highest:
#   the US price rise falls to a few per cent, every member feels a little of it, and
#   both the expected and the worst-case loss fall without buying anything.
# - **Friend-shoring is the dear option here.** The G7 and the EU do not mine enough
#   natural graphite: capping non-allied imports at half of consumption forces the
#   members to shed a large part of their demand and bid prices up in every month,
#   calm or not, at a cost far above the disruption's.
#
# Where the cap's imports come from, before and after:

# %%
capped = policies["friend-shoring cap 50 %"]
rs.plots.exposure(capped, by="member")

# %%
rs.plots.supplier_shares(capped, top=6)
