r"""Final demand: stepwise isoelastic blocks with an essential tranche at VOLL.

For a node :math:`n` consuming good :math:`g` (observed :math:`q_0` per month, reference
price :math:`P_0`, elasticity :math:`\varepsilon_d < 0`, VOLL :math:`V = m\,P_0`,
essential share :math:`e`), inverse demand is

.. math:: P(x) = V \ (x < e), \qquad P(x) = \min\{V,\ P_0\,x^{1/\varepsilon_d}\}\ (x \ge e),
   \qquad x = q / q_0,

cut into blocks: the essential tranche :math:`[0, e]` valued at :math:`V`;
``demand_blocks`` equal blocks on :math:`[e, 1]` and ``demand_blocks_above`` on
:math:`[1, 1 + \text{extension}]`, each valued at ``min(V, average of the curve over the
block)`` (:mod:`resilience.optimize.market.curves`), except the two narrow
*calibration blocks* :math:`[1 - \delta, 1]` and :math:`[1, 1 + \delta]`
(``calibration_band`` :math:`\delta`), valued at :math:`P_0 (1 \pm \eta)`,
:math:`\eta` = :data:`~resilience.optimize.market.curves.CALIBRATION_TIE` (1e-6): the
steps are then within about :math:`|k|\delta/2` of the curve near :math:`q_0`
(:math:`k = 1/\varepsilon_d`), and no further than the step error anywhere.

Calibration: supply has its narrow blocks at :math:`P_0 (1 \mp 2\eta)` on either side of
observed output (:mod:`.supply`) and observed trade is free only up to its observed flow
(:mod:`.trade`), so with no disruption every quantity is the observed one and every
price is :math:`P_0` within :math:`2\eta` (relative; tested). Without a band
(``calibration_band = 0``) the price may be anywhere between the values of the two
blocks that meet at :math:`q_0` (:func:`price_bracket` at :math:`x = 1`).

Step error: at a served share :math:`x` inside a block the LP price is that block's value,
which lies between the curve at the block's ends; at an edge the price may be anything
between the two blocks' values. :func:`price_bracket` returns that interval, which
contains both the LP price and the closed form :math:`P(x)`.

Variables ``served[node, good, block, month, scenario]`` in ``[0, width]``; each enters
the node's balance as a use (coefficient +1) and the objective at
:math:`\pi_w \times` its value.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.curves import (
    CALIBRATION_TIE,
    block_average,
    edges,
    power_curve,
)
from resilience.optimize.market.inputs import MarketInputs, MarketSettings

__all__ = ["EXPLANATIONS", "add_demand", "demand_blocks", "inverse_demand", "price_bracket"]

#: demand adds no constraint family of its own (its blocks are bounds)
EXPLANATIONS: dict[str, str] = {}


def _shares(essential: float, settings: MarketSettings) -> np.ndarray:
    """Block edges in shares of q0: ``[0, e, ..., 1 - band, 1, 1 + band, ..., 1 + ext]``."""
    band = settings.calibration_band
    below = edges(essential, 1.0, settings.demand_blocks, 1.0 - band)
    above = edges(
        1.0, 1.0 + settings.demand_extension_share, settings.demand_blocks_above, 1.0 + band
    )
    out = (
        np.concatenate([[0.0], below, above[1:]])
        if essential > 0
        else np.concatenate([below, above[1:]])
    )
    return out


def _values(
    p0: float,
    eps: float,
    voll_multiple: float,
    essential: float,
    lo: np.ndarray,
    hi: np.ndarray,
    band: float,
) -> np.ndarray:
    voll = voll_multiple * p0
    avg = block_average(np.full(lo.shape, p0), np.full(lo.shape, 1.0 / eps), lo, hi)
    values = np.minimum(voll, avg)
    if band > 0:  # the calibration blocks either side of q0
        values = np.where(hi == 1.0, min(voll, p0 * (1 + CALIBRATION_TIE)), values)
        values = np.where(lo == 1.0, p0 * (1 - CALIBRATION_TIE), values)
    return np.where(hi <= essential, voll, values)


def demand_blocks(inputs: MarketInputs, settings: MarketSettings) -> pl.DataFrame:
    """Blocks per good: ``good, block, lo_share, hi_share, value_usd_per_unit``."""
    parts = []
    for row in inputs.parameter_frame().iter_rows(named=True):
        shares = _shares(row["essential_share"], settings)
        lo, hi = shares[:-1], shares[1:]
        keep = hi > lo
        lo, hi = lo[keep], hi[keep]
        values = _values(
            row["p0_usd_per_unit"],
            row["demand_elasticity"],
            row["voll_multiple"],
            row["essential_share"],
            lo,
            hi,
            settings.calibration_band,
        )
        parts.append(
            pl.DataFrame(
                {
                    "good": [row["good"]] * lo.size,
                    "block": np.arange(lo.size, dtype=np.int64),
                    "lo_share": lo,
                    "hi_share": hi,
                    "value_usd_per_unit": values,
                }
            )
        )
    return pl.concat(parts)


def inverse_demand(
    p0: float, eps: float, voll_multiple: float, essential: float, share: float
) -> float:
    """The (un-stepped) inverse demand :math:`P(x)` of the module doc, USD per unit."""
    voll = voll_multiple * p0
    if share < essential:
        return voll
    return float(min(voll, power_curve(p0, 1.0 / eps, share)))


def price_bracket(
    p0: float,
    eps: float,
    voll_multiple: float,
    essential: float,
    share: float,
    settings: MarketSettings,
) -> tuple[float, float]:
    """Interval holding the LP's price at served share ``share`` and :math:`P(share)`.

    The union, over the blocks whose closed range contains ``share``, of the block
    values and the curve at the block ends (the step error of the module doc).
    """
    shares = _shares(essential, settings)
    lo, hi = shares[:-1], shares[1:]
    touch = (lo <= share + 1e-12) & (share - 1e-12 <= hi) & (hi > lo)
    values = _values(p0, eps, voll_multiple, essential, lo, hi, settings.calibration_band)[touch]
    ends = [
        inverse_demand(p0, eps, voll_multiple, essential, float(v))
        for v in np.concatenate([lo[touch], hi[touch]])
    ]
    # the curve just below an edge (the essential tranche ends with a jump to VOLL)
    ends += [
        inverse_demand(p0, eps, voll_multiple, essential, float(v) - 1e-12)
        for v in hi[touch]
        if v > 0
    ]
    finite = [v for v in [*values.tolist(), *ends] if np.isfinite(v)]
    return min(finite), max(finite)


def add_demand(builder: MarketBuilder, inputs: MarketInputs, settings: MarketSettings) -> None:
    r"""Add ``served`` (uses in the balance, valued in the objective).

    Math: :math:`0 \le \text{served}_{n,g,b,t,w} \le q_{0,n,g}\,(hi_b - lo_b)`; balance
    term :math:`+\text{served}`; objective :math:`+\pi_w\,v_{g,b}\,\text{served}`.
    Blocks are bounds, so demand never makes a run infeasible (no explanation needed).
    """
    blocks = demand_blocks(inputs, settings)
    index = (
        inputs.demand.filter(pl.col("q0_units_per_month") > 0)
        .join(blocks, on="good")
        .with_columns(
            ((pl.col("hi_share") - pl.col("lo_share")) * pl.col("q0_units_per_month")).alias(
                "width_units"
            )
        )
        .join(inputs.periods(), how="cross")
        .sort("node", "good", "block", "month", "scenario")
    )
    keys = ["node", "good", "block", "month", "scenario"]
    var = builder.add_variables("served", index, keys, ub="width_units")
    builder.add_terms(
        "balance",
        var,
        index.select("node", "good", "month", "scenario", "block", pl.lit(1.0).alias("coef")),
        keys,
    )
    builder.add_objective(
        var,
        index.select(*keys, (pl.col("probability") * pl.col("value_usd_per_unit")).alias("coef")),
        keys,
    )
