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
# # The cost of friend-shoring: a cost–exposure frontier
#
# How much does it cost the G7 to buy less of its critical minerals from outside its
# allies? The study `models/g7_critical_minerals.yaml` plans 2023 supply of natural
# graphite, rare earths, refined cobalt and nickel ore for the seven G7 members, with the
# G7 and the EU as allies, in a two-stage `stress` model (contracts and stocks, then
# re-sourcing in each disruption scenario).
#
# `rs.frontier` applies the **ε-constraint method**: for a cap ε on every member's
# non-allied share of every commodity (the `max_non_allied_share` knob) it solves
#
# $$C(\varepsilon) = \min\{\text{cost}(x) : \text{non-allied supply}_{m,c} \le
#   \varepsilon\, d_{m,c}\ \forall m, c\}.$$
#
# $C$ can only rise as ε falls, and below some $\varepsilon_{\min}$ no plan exists. By
# default `rs.frontier` finds $\varepsilon_{\min}$ by bisection and solves 11 caps from
# 1 down to it, re-solving one model with only the cap changed.

# %%
# %matplotlib inline

from pathlib import Path

import polars as pl

import resilience as rs

pl.Config.set_tbl_rows(30)
pl.Config.set_tbl_width_chars(140)

# The repository root, whether the notebook runs from there or from examples/.
STUDY = "models/g7_critical_minerals.yaml"
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / STUDY).is_file())
g7 = rs.load_study(ROOT / STUDY)
front = rs.frontier(g7)
print(
    front.select(
        "max_non_allied_share",
        "status",
        "cost_usd",
        "objective_usd",
        "non_allied_share",
        "expected_shortfall_t",
    )
)

# %% [markdown]
# Each row is one cap: `cost_usd` is the contract cost of the optimal plan,
# `objective_usd` adds stock holding and expected re-sourcing costs (equal here: the plan
# holds no stock and never runs short in the base case), and `non_allied_share` is the
# share of all contracted tonnes that come from outside the allies — a tonnage-weighted
# aggregate dominated by Japan's 1.1 Mt of nickel ore, so it sits just below the cap,
# which binds member by member and commodity by commodity.
#
# To see where plans stop existing, add caps below $\varepsilon_{\min}$: they come back
# as rows with `status == "infeasible"`, which the plot marks along its bottom edge.

# %%
eps_min = front["max_non_allied_share"].min()
below = rs.frontier(g7, shares=[0.5, 0.6, 0.7, 0.8, 0.85, 0.9])
full = pl.concat([below, front])
cheapest = front.filter(pl.col("max_non_allied_share") == 1.0)["cost_usd"][0]
at_edge = front.filter(pl.col("max_non_allied_share") == eps_min)["cost_usd"][0]
print(f"smallest feasible cap: {eps_min:.3f}")
print(f"contract cost without a cap: USD {cheapest / 1e9:.3f} bn")
print(
    f"contract cost at the smallest cap: USD {at_edge / 1e9:.3f} bn "
    f"(premium {at_edge / cheapest - 1:.1%})"
)
rs.plots.frontier(full)

# %% [markdown]
# ## Reading the frontier
#
# - **Where it ends.** No plan exists below $\varepsilon_{\min}$ (about 91 %): the G7's
#   imports of these minerals come overwhelmingly from outside G7+EU — nickel ore from
#   New Caledonia and the Philippines, graphite and rare earths above all from China —
#   and allied capacity (observed exports plus 10 % spare) cannot supply even 9 % of
#   Japan's and Canada's nickel ore at once. The explanation printed below names the
#   requirements that clash just under the edge.
# - **How steep it is.** The first point below 100 % is cheap; after it each percentage
#   point of ε costs a similar amount, and the last ones cost the most, as the plan
#   moves from cheap non-allied ore to the dearest allied tonnes left (the range is
#   printed below).
# - **What it does not show.** Costs are contract costs at 2023 unit values; the
#   premium is a lower bound on what friend-shoring would cost, since allies' capacity
#   is held at observed exports plus 10 % and prices do not respond.

# %%
ok = front.sort("max_non_allied_share")
slope = ok.select(
    (-pl.col("cost_usd").diff() / pl.col("max_non_allied_share").diff() / 100 / 1e6)
    .drop_nulls()
    .alias("usd_m_per_point")
)["usd_m_per_point"]
print(f"cost of each percentage point of the cap: USD {slope.min():.0f}-{slope.max():.0f} m")

try:
    rs.run(g7, policy={"max_non_allied_share": round(eps_min - 0.01, 3)})
except rs.InfeasibleModelError as err:
    print("\n".join(str(err).splitlines()[:5]))

# %% [markdown]
# ## The frontier under a disruption
#
# The same frontier when China's graphite export controls may strike (the catalogue's
# `china_graphite_controls`: Chinese natural graphite at 30 % for 90 days, probability
# 10 %). Plotted against the *achieved* non-allied share instead of the cap.

# %%
controls = rs.frontier(g7, "china_graphite_controls")
both = pl.concat([front, controls])
gap = (
    front.select("max_non_allied_share", base="objective_usd")
    .join(
        controls.select("max_non_allied_share", controls="objective_usd"),
        on="max_non_allied_share",
        how="inner",
    )
    .with_columns(extra_usd=pl.col("controls") - pl.col("base"))
)
print(f"smallest feasible cap under the controls: {controls['max_non_allied_share'].min():.3f}")
print(gap)
rs.plots.frontier(both, x="non_allied_share", y="objective_usd")

# %% [markdown]
# The controls shift the frontier up by the expected cost of re-sourcing and stocking
# graphite, a few million dollars a year, small against the hundreds of millions that
# friend-shoring itself costs. On these data, the price of lower exposure is set by
# where allied capacity runs out, not by the disruptions in the catalogue.
