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
# # The price of friend-shoring: a welfare-exposure frontier
#
# How much does it cost the G7 to import less natural graphite from outside its allies
# (the G7 and the EU)? `rs.frontier` applies the **ε-constraint method** on the market
# core: for a cap ε on every member's imports from non-allied origins (at most ε times
# its consumption, in every month and scenario: the `max_non_allied_share` knob) it runs
# the study and records
#
# $$\varepsilon \mapsto \big(L(\varepsilon),\ \text{achieved non-allied share}\big),$$
#
# with $L$ the members' **expected welfare loss** (USD) against the calm market without
# policy. A cap never makes the market infeasible: where allied supply runs out, members
# consume less and prices rise, so every cap has an answer and its price shows as welfare
# lost, demand shed and higher prices.
#
# The study `models/g7_critical_minerals.yaml` is reduced to natural graphite
# (`graphite/mining`) so that each cap solves in about a second.

# %%
# %matplotlib inline

import dataclasses
from pathlib import Path

import polars as pl

import resilience as rs

pl.Config.set_tbl_rows(30)
pl.Config.set_tbl_width_chars(140)

# The repository root, whether the notebook runs from there or from examples/.
STUDY = "models/g7_critical_minerals.yaml"
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / STUDY).is_file())
g7 = rs.load_study(ROOT / STUDY)
graphite = dataclasses.replace(g7, commodities=(("graphite", "mining"),))
CAPS = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]
calm = rs.frontier(graphite, shares=CAPS)
columns = [
    "max_non_allied_share",
    "status",
    "expected_welfare_loss_usd",
    "non_allied_share",
    "expected_shed_share",
    "price_rise_max_pct",
]
print(calm.select(columns))
print(f"caps solved to optimality: {(calm['status'] == 'optimal').sum()} of {calm.height}")

# %% [markdown]
# Each row is one cap. Without a cap the loss is nil (the calm market without policy is
# the reference; what is left is solver tolerance).
# As the cap tightens, the members first re-route their imports to allied suppliers at
# little cost; past some point allied supply runs out and they shed demand, bidding
# prices up: the loss jumps. The tightest cap the members can meet without shedding any
# demand is where `expected_shed_share` leaves zero.

# %%
no_shed = calm.filter(pl.col("expected_shed_share") <= 1e-9)
edge = no_shed["max_non_allied_share"].min()
loose = calm.filter(pl.col("max_non_allied_share") == 1.0).row(0, named=True)
tight = calm.filter(pl.col("max_non_allied_share") == 0.5).row(0, named=True)
print(f"tightest cap without shedding demand: {edge:.2f}")
nil = round(loose["expected_welfare_loss_usd"] / 1e6, 3) + 0.0  # no "-0.000"
print(f"loss without a cap: USD {nil:.3f} m")
print(
    f"loss at a cap of 50%: USD {tight['expected_welfare_loss_usd'] / 1e6:.1f} m, "
    f"demand shed {100 * tight['expected_shed_share']:.1f}%, "
    f"price rise up to {tight['price_rise_max_pct']:.0f}%"
)
rs.plots.frontier(calm)

# %% [markdown]
# ## The frontier under a disruption
#
# The same frontier when China's graphite export controls may strike (the catalogue's
# `china_graphite_controls`: Chinese natural graphite at 30 % for 90 days, probability
# 10 %). Without a cap the controls cost the members their expected loss. A loose cap
# makes them dearer (the members have less room to re-route); a tight one makes them
# irrelevant: the cap already keeps the members off most Chinese graphite, so there is
# little left for the controls to cut.

# %%
controls = rs.frontier(graphite, "china_graphite_controls", shares=CAPS)
both = pl.concat([calm, controls])
gap = (
    calm.select("max_non_allied_share", calm_usd="expected_welfare_loss_usd")
    .join(
        controls.select("max_non_allied_share", controls_usd="expected_welfare_loss_usd"),
        on="max_non_allied_share",
    )
    .with_columns(extra_usd=pl.col("controls_usd") - pl.col("calm_usd"))
    .sort("max_non_allied_share", descending=True)
)
print(gap)
extra = gap.filter(pl.col("max_non_allied_share") == 1.0)["extra_usd"][0]
print(f"expected loss the controls add without a cap: USD {extra / 1e6:.3f} m")
late = gap.filter(pl.col("max_non_allied_share") == 0.5)["extra_usd"][0]
late = round(late / 1e6, 3) + 0.0  # no "-0.000"
print(f"expected loss the controls add at a cap of 50%: USD {late:.3f} m")
rs.plots.frontier(both)

# %% [markdown]
# Against the share the members actually import from outside the alliance, the frontier
# is much steeper than against the cap: the cap is on imports relative to *consumption*,
# and members meet it largely by consuming less, so the share of their (smaller) imports
# from non-allied origins hardly moves.

# %%
rs.plots.frontier(both, x="non_allied_share")

# %%
rs.plots.frontier(both, y="expected_shed_share")

# %% [markdown]
# **What it does not show.** Supply in the market is 2023 output plus the cited spare
# capacity; new mines, which take years, are not in it. The frontier is the price of
# friend-shoring *now*, not after investment.
