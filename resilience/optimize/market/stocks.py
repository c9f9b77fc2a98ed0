r"""Stocks: initial level, capacity, draw rate, holding cost, and a terminal value.

For a stock of good :math:`g` at node :math:`n` (initial level :math:`k_0`, capacity
:math:`k_{max}`, draw rate :math:`\delta` per month), in every scenario :math:`w`:

.. math::
   k_t = k_{t-1} + b_t - r_t \ (k_0 \text{ before month 1}),\qquad
   0 \le k_t \le k_{max},\quad 0 \le r_t \le \delta,\quad b_t \ge 0,

   e_t \ge k_t - k_0,\ e_t \ge 0 \quad\text{(stock above the initial level)}.

Objective: :math:`-\pi_w\,h_g P_{0,g}\,e_t` (holding cost on stock above the initial
level; the initial stock is held anyway, its cost is sunk) and
:math:`+\pi_w\,P_{0,g}\,k_T` (stock left at the end is worth its replacement cost at the
pre-crisis price). Hence with no disruption nothing is drawn (a release would earn at
most :math:`P_0` and lose :math:`P_0` at the end), and in a shortage the stock is drawn
while the price exceeds :math:`P_0`; when the draw is unconstrained the price is held at
:math:`P_0`. When :math:`\delta` binds (a cut deeper than the draw rate, however large
the stock) the price rises and the node goes without what the release cannot cover.
:math:`\delta` is ``draw_units_per_month`` of the ``stocks`` table: for members' strategic
stocks a published maximum drawdown or the stated rule of
``datasets/strategic_stocks.csv``, else the initial level (:mod:`.stocks_data`).

Balance terms: :math:`-r_t` (a source) and :math:`+b_t` (a use).

A first-stage build (a family's hook) adds :math:`-z` to the month-1 ``stock_flow`` row
of every scenario (:func:`resilience.optimize.market.first_stage.prebuilt_stock`).
"""

from __future__ import annotations

import polars as pl

from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.inputs import MarketInputs

__all__ = ["EXPLANATIONS", "add_stocks"]

#: constraint family -> sentence shown when it makes a run infeasible (fields: row keys)
EXPLANATIONS: dict[str, str] = {
    "stock_flow": (
        "the stock of {good} at {node} in month {month} of scenario {scenario} must equal "
        "the previous month's stock plus builds minus releases, within its capacity and "
        "draw rate; these cannot all hold"
    ),
    "stock_excess": (
        "the holding cost of {good} stock at {node} in month {month} of scenario "
        "{scenario} is charged on the stock above its initial level; the stock cannot "
        "stay within the levels required"
    ),
}

_KEYS = ["node", "good", "month", "scenario"]


def add_stocks(builder: MarketBuilder, inputs: MarketInputs) -> None:
    r"""Add ``stock``, ``release``, ``build``, ``excess`` and the rows of the stocks.

    ``excess`` is the stock above the initial level; the rows are ``stock_flow`` and
    ``stock_excess``.

    Math: ``stock_flow``: :math:`k_t - k_{t-1} - b_t + r_t = k_0 [t = 1]`;
    ``stock_excess``: :math:`e_t - k_t \ge -k_0`; bounds
    :math:`k \le k_{max}`, :math:`r \le \delta`. Infeasible only when a family's hook
    asks for a stock level the capacity or draw rate cannot give: sentences in
    :data:`EXPLANATIONS`.
    """
    if inputs.stocks.height == 0:
        return
    params = inputs.parameter_frame().select(
        "good", "p0_usd_per_unit", "holding_cost_share_per_month"
    )
    grid = inputs.stocks.join(params, on="good").join(inputs.periods(), how="cross").sort(_KEYS)
    stock = builder.add_variables("stock", grid, _KEYS, ub="capacity_units")
    release = builder.add_variables("release", grid, _KEYS, ub="draw_units_per_month")
    build = builder.add_variables("build", grid, _KEYS)
    excess = builder.add_variables("excess", grid, _KEYS)
    first = pl.col("month") == 1
    builder.add_rows(
        "stock_flow",
        grid.select(
            *_KEYS,
            pl.when(first).then(pl.col("initial_units")).otherwise(0.0).alias("lb"),
            pl.when(first).then(pl.col("initial_units")).otherwise(0.0).alias("ub"),
        ),
        _KEYS,
        EXPLANATIONS["stock_flow"],
    )
    one = pl.lit(1.0).alias("coef")
    builder.add_terms("stock_flow", stock, grid.select(*_KEYS, one), _KEYS)
    # k_{t-1} in the row of month t: the row keys name month t, the variable keys t - 1
    previous = grid.filter(~first).select(
        *_KEYS, (pl.col("month") - 1).alias("previous_month"), pl.lit(-1.0).alias("coef")
    )
    builder.add_terms("stock_flow", stock, previous, ["node", "good", "previous_month", "scenario"])
    builder.add_terms("stock_flow", build, grid.select(*_KEYS, (-one).alias("coef")), _KEYS)
    builder.add_terms("stock_flow", release, grid.select(*_KEYS, one), _KEYS)
    builder.add_rows(
        "stock_excess",
        grid.select(
            *_KEYS,
            (-pl.col("initial_units")).alias("lb"),
            pl.lit(None, dtype=pl.Float64).alias("ub"),
        ),
        _KEYS,
        EXPLANATIONS["stock_excess"],
    )
    builder.add_terms("stock_excess", excess, grid.select(*_KEYS, one), _KEYS)
    builder.add_terms("stock_excess", stock, grid.select(*_KEYS, (-one).alias("coef")), _KEYS)
    builder.add_terms("balance", release, grid.select(*_KEYS, (-one).alias("coef")), _KEYS)
    builder.add_terms("balance", build, grid.select(*_KEYS, one), _KEYS)
    hold = (
        pl.col("probability") * pl.col("holding_cost_share_per_month") * pl.col("p0_usd_per_unit")
    )
    builder.add_objective(excess, grid.select(*_KEYS, (-hold).alias("coef")), _KEYS)
    last = grid.filter(pl.col("month") == inputs.months)
    builder.add_objective(
        stock,
        last.select(*_KEYS, (pl.col("probability") * pl.col("p0_usd_per_unit")).alias("coef")),
        _KEYS,
    )
