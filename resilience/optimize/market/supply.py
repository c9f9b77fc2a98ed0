r"""Primary supply: observed output plus spare-capacity blocks, scaled by availability.

For a node producing good :math:`g` (observed output :math:`s_0` per month, supply
elasticity :math:`\varepsilon_s > 0`, spare share :math:`\sigma`), the supply curve is
:math:`P(x) = P_0\,x^{1/\varepsilon_s}` in :math:`x = q / s_0`. It is cut into
``supply_blocks`` equal blocks on :math:`[0, 1]` (observed output, each at the curve's
average over the block, so below :math:`P_0`) and ``spare_blocks`` on
:math:`[1, 1 + \sigma]` (spare capacity, above :math:`P_0`), with one more edge at
:math:`1 \pm` the ``calibration_band``: those two narrow blocks cost
:math:`P_0 (1 \mp 2\eta)` (:data:`~resilience.optimize.market.curves.CALIBRATION_TIE`),
so with no disruption producers sell exactly their observed output and prices are
:math:`P_0` (see :mod:`.demand`).

A block whose cost is below :data:`COST_FLOOR_SHARE` of :math:`P_0` costs 0: with a
small elasticity the curve's lowest blocks are astronomically cheap (crude oil,
:math:`\varepsilon_s = 0.015`: :math:`P_0 \cdot 10^{-40}` on :math:`[0, 0.25]`), numbers
that change no answer but spread the LP's costs over 48 orders of magnitude, which HiGHS
reports as bad scaling. The objective moves by at most ``COST_FLOOR_SHARE`` x P0 x the
block's quantity.

A disruption scales every block by the production availability
:math:`a_{n,*,g,t,w} \in [0, 1]` (1 when not given): a mine closed for a month has
:math:`a = 0` that month. Output can always fall.

Variables ``supply[node, good, block, month, scenario]`` in
:math:`[0, a\,s_0\,(hi_b - lo_b)]`; balance term :math:`-\text{supply}` (a source);
objective :math:`-\pi_w\,c_{g,b}\,\text{supply}`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.curves import CALIBRATION_TIE, block_average, edges
from resilience.optimize.market.inputs import MarketInputs, MarketSettings

__all__ = ["COST_FLOOR_SHARE", "EXPLANATIONS", "add_supply", "supply_blocks"]

#: Supply blocks costing less than this share of P0 cost 0 (module doc).
COST_FLOOR_SHARE = 1e-9

#: supply adds no constraint family of its own (its blocks are bounds)
EXPLANATIONS: dict[str, str] = {}


def supply_blocks(inputs: MarketInputs, settings: MarketSettings) -> pl.DataFrame:
    """Blocks per good: ``good, block, lo_share, hi_share, cost_usd_per_unit``."""
    parts = []
    for row in inputs.parameter_frame().iter_rows(named=True):
        spare = row["spare_capacity_share"]
        band = settings.calibration_band
        shares = edges(0.0, 1.0, settings.supply_blocks, 1.0 - band)
        if spare > 0 and settings.spare_blocks:
            spare_edges = edges(1.0, 1.0 + spare, settings.spare_blocks, 1.0 + band)
            shares = np.concatenate([shares, spare_edges[1:]])
        lo, hi = shares[:-1], shares[1:]
        cost = block_average(
            np.full(lo.shape, row["p0_usd_per_unit"]),
            np.full(lo.shape, 1.0 / row["supply_elasticity"]),
            lo,
            hi,
        )
        p0 = row["p0_usd_per_unit"]
        cost = np.where(cost < COST_FLOOR_SHARE * p0, 0.0, cost)
        if band > 0:  # the calibration blocks either side of observed output
            cost = np.where(hi == 1.0, p0 * (1 - 2 * CALIBRATION_TIE), cost)
            cost = np.where(lo == 1.0, p0 * (1 + 2 * CALIBRATION_TIE), cost)
        parts.append(
            pl.DataFrame(
                {
                    "good": [row["good"]] * lo.size,
                    "block": np.arange(lo.size, dtype=np.int64),
                    "lo_share": lo,
                    "hi_share": hi,
                    "cost_usd_per_unit": cost,
                }
            )
        )
    return pl.concat(parts)


def add_supply(builder: MarketBuilder, inputs: MarketInputs, settings: MarketSettings) -> None:
    r"""Add ``supply`` (sources in the balance, costed in the objective).

    Math: :math:`0 \le \text{supply}_{n,g,b,t,w} \le a_{n,*,g,t,w}\,s_{0,n,g}\,
    (hi_b - lo_b)`; balance term :math:`-\text{supply}`; objective
    :math:`-\pi_w\,c_{g,b}\,\text{supply}`. Blocks are bounds, so supply never makes
    a run infeasible (no explanation needed).
    """
    avail = inputs.production_availability()
    index = (
        inputs.supply.filter(pl.col("output_units_per_month") > 0)
        .join(supply_blocks(inputs, settings), on="good")
        .join(inputs.periods(), how="cross")
        .join(avail, on=["node", "good", "month", "scenario"], how="left")
        .with_columns(
            (
                pl.col("availability").fill_null(1.0)
                * pl.col("output_units_per_month")
                * (pl.col("hi_share") - pl.col("lo_share"))
            ).alias("cap_units")
        )
        .sort("node", "good", "block", "month", "scenario")
    )
    keys = ["node", "good", "block", "month", "scenario"]
    var = builder.add_variables("supply", index, keys, ub="cap_units")
    builder.add_terms("balance", var, index.select(*keys, pl.lit(-1.0).alias("coef")), keys)
    builder.add_objective(
        var,
        index.select(*keys, (-pl.col("probability") * pl.col("cost_usd_per_unit")).alias("coef")),
        keys,
    )
