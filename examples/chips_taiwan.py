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
# # A Taiwan blockade: what the G7 and the EU lose in chips, and what stocks buy
#
# The flagship study `models/g7_eu_three_sectors.yaml` reduced to its two chip goods:
# **< 10 nm logic** (`wafer_fab_leading_edge/manufacturing`, world output USD 56.7 bn in
# 2022: Taiwan 69 %, Korea 31 % of the capacity, SIA/BCG) and **every other chip**
# (`wafer_fab_mature/manufacturing`, USD 517 bn). One unit is USD 1 m of output at 2022
# prices. Who buys < 10 nm logic is counted by the buying firm's headquarters — TSMC's
# revenue by customer HQ: two-thirds US firms — and every supplier serves every buyer in
# proportion (no buyer is shielded from Taiwan's share). The rest of chips are billed by
# region (WSTS) with Taiwan's own customs exports by destination.
#
# The catalogue's blockades stop everything Taiwan ships for 3, 6 or 12 months. Nothing
# replaces < 10 nm capacity inside a year (a fab takes 682 days to build, CSET; spare
# capacity elsewhere is at most 11 %, US Commerce); buyers hold 40 days of inventory (the
# 2019 median, US Commerce).

# %%
# %matplotlib inline

import dataclasses
from pathlib import Path

import polars as pl

import resilience as rs
from resilience.optimize.market.disruptions import covered_months
from resilience.optimize.market.from_data import run_study_market
from resilience.reference.market_balances import load_market_balances
from resilience.reference.market_parameters import resolve_parameters

pl.Config.set_tbl_rows(30)
pl.Config.set_tbl_width_chars(140)
pl.Config.set_float_precision(2)

STUDY = "models/g7_eu_three_sectors.yaml"
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / STUDY).is_file())
LE = "wafer_fab_leading_edge/manufacturing"
flagship = rs.load_study(ROOT / STUDY)
chips = dataclasses.replace(
    flagship,
    commodities=(
        ("wafer_fab_leading_edge", "manufacturing"),
        ("wafer_fab_mature", "manufacturing"),
    ),
)
print("members:", ", ".join(chips.member_nodes()))

# %% [markdown]
# ## Three lengths of blockade
#
# Each run is the stress model on the market core: before the year starts the members
# may build stock (up to 90 days, paid at the reference price plus the holding cost
# whatever happens); then the blockade cuts Taiwan's arcs month by month, prices clear
# the market, and buyers who cannot pay the price go without.

# %%
runs = {m: rs.run(chips, f"taiwan_blockade_{m}m") for m in (3, 6, 12)}
rows = []
for months, result in runs.items():
    event = f"taiwan_blockade_{months}m"
    loss = result.members.filter(pl.col("scenario") == event)
    le = result.summary.filter(pl.col("commodity") == "wafer_fab_leading_edge")
    for member, usd in loss.select("member", "welfare_loss_usd").iter_rows():
        rise = le.filter(pl.col("member_iso3") == member)["price_rise_max_pct"]
        shed = le.filter(pl.col("member_iso3") == member)["worst_shed_share"]
        rows.append(
            {
                "months": months,
                "member": member,
                "loss_usd_m": usd / 1e6,
                "le_price_rise_pct": rise.item() if rise.len() else 0.0,
                "le_shed_pct": 100 * shed.item() if shed.len() else 0.0,
            }
        )
table = pl.DataFrame(rows)
print(table.pivot(on="months", index="member", values="loss_usd_m").sort("member"))
for months in (3, 6, 12):
    part = table.filter(pl.col("months") == months)
    print(
        f"{months}-month blockade: members lose USD {part['loss_usd_m'].sum():,.0f} m, "
        f"< 10 nm price up to +{part['le_price_rise_pct'].max():,.0f}%, "
        f"shortfall up to {part['le_shed_pct'].max():.1f}% of a year's demand"
    )
usa6 = table.filter((pl.col("months") == 6) & (pl.col("member") == "USA")).row(0, named=True)
print(f"USA, 6 months: loss USD {usa6['loss_usd_m']:,.0f} m")
jpn12 = runs[12].summary.filter(
    (pl.col("member_iso3") == "JPN") & (pl.col("commodity") == "wafer_fab_mature")
)
jpn12_loss = table.filter((pl.col("months") == 12) & (pl.col("member") == "JPN"))["loss_usd_m"]
print(
    f"JPN, 12 months: every-other-chip price up to +{jpn12['price_rise_max_pct'].item():.0f}%, "
    f"net loss USD {jpn12_loss.item():,.0f} m"
)

# %% [markdown]
# The United States carries most of it: its firms buy two-thirds of TSMC's output. The
# loss is consumer surplus — the value of the < 10 nm chips the members go without
# (valued up to 33.6 × the reference price, the car revenue lost per dollar of chips in
# 2021, AlixPartners and S&P Global) plus the higher price paid on those still bought.
# Three months are mostly covered by the 40 days of stock and Korea's spare output;
# beyond that the shortfall grows with every month. At twelve months the stocks of every
# other chip run out too and its price rises; Japan's fabs (15 % of the world's 300 mm
# capacity, SEMI) then earn more from it than Japanese buyers lose: a net gain for Japan.
# The welfare loss is net of the member's own producers' gains.
#
# ## A bound by hand
#
# The world cannot go without less than Taiwan's lost exports, less what Korea's spare
# capacity and every buyer's 40 days of stock can replace. From the shipped tables alone:

# %%
table_mb = load_market_balances().filter(
    (pl.col("commodity") == "wafer_fab_leading_edge") & (pl.col("year") == 2022)
)
world = table_mb.filter(pl.col("role") == "world")["world_units_per_year"].item()
twn_supply = table_mb.filter((pl.col("role") == "supply") & (pl.col("country_iso3") == "TWN"))
twn_buyers = table_mb.filter((pl.col("role") == "demand") & (pl.col("country_iso3") == "TWN"))
params = resolve_parameters([("wafer_fab_leading_edge", "manufacturing")], year=2023).row(
    0, named=True
)
months_cut = sum(1.0 - a for a in covered_months(182, 0.0, 12))
lost = world / 12 * (twn_supply["share_pct"].item() - twn_buyers["share_pct"].item()) / 100
lost *= months_cut
spare = params["spare_capacity_share"] * world * (1 - twn_supply["share_pct"].item() / 100)
stock = params["working_stock_days"] / 365 * world
bound = lost - spare - stock
print(f"hand bound on the world's < 10 nm shortfall, 6 months: USD {bound:,.0f} m of chips")
market = run_study_market(chips, "taiwan_blockade_6m")  # the core alone, no stock build
world_shed = (
    market.result.demand()
    .filter((pl.col("good") == LE) & (pl.col("scenario") == "taiwan_blockade_6m"))["shed_units"]
    .sum()
)
print(f"the market core's world shortfall (no pre-built stock): USD {world_shed:,.0f} m")
rs.plots.price_paths(runs[6], "USA")

# %% [markdown]
# The core's shortfall clears the bound: the market moves what it can (Korea's spare
# output to the highest bidders, stocks drawn down) and still leaves the world about a
# fifth of a year's < 10 nm chips short. The price path shows the months of the
# blockade: prices reach the value of the lost car and device output and fall back when
# Taiwan's ships sail again.
#
# ## What pooled inventories and the CHIPS Acts' capacity buy
#
# `chip_pooled_inventories` makes every member hold at least 40 days and share releases
# in a crisis. `chips_act_capacity` (a catalogue policy: knob `capacity_map_year: 2032`)
# puts SIA/BCG's projected < 10 nm map in place — the CHIPS Acts' fabs landed: the US
# 28 %, Europe 6 %, Japan 5 %, Taiwan 47 %, Korea 9 % — with today's buyers and prices.

# %%
pooled = rs.run(chips, "taiwan_blockade_6m+chip_pooled_inventories")
chips_act = rs.run(chips, "taiwan_blockade_6m+chips_act_capacity")
for name, result in {
    "no policy": runs[6],
    "pooled inventories": pooled,
    "CHIPS-Act capacity": chips_act,
}.items():
    t = result.totals.row(0, named=True)
    print(
        f"{name}: members lose USD {t['worst_welfare_loss_usd'] / 1e6:,.0f} m if the blockade "
        f"comes, USD {t['expected_welfare_loss_usd'] / 1e6:,.0f} m expected, stock built "
        f"USD {t['stock_build_usd'] / 1e6:,.0f} m"
    )
rs.plots.loss_by_scenario(pooled)

# %% [markdown]
# - **Pooling moves the loss, it does not shrink it.** Every member faces the same world
#   price for < 10 nm logic, so shared releases have nowhere cheaper to go; the 40-day
#   floor is below what the stress model builds anyway. The members' total is unchanged;
#   the US carries a little less, Europe and Japan a little more.
# - **Capacity at home is what cuts the loss.** With the CHIPS Acts' fabs in place, US
#   fabs keep producing through the blockade: the members' consumers still pay a blockade
#   price, but their own producers earn it — the net loss falls to a fraction of today's.
