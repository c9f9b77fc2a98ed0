r"""Trade arcs: observed flow free, growth paying a friction and limited by a ramp.

An arc :math:`a = (o \to d, g)` of kind ``"trade"`` carries

- ``flow_base`` :math:`\le \alpha_{a,t,w}\,f_{0,a}`: up to its observed flow, at no
  extra cost (the observed pattern is already paid for in :math:`P_0`);
- ``flow_growth`` :math:`\le \gamma_{a,t,w}\,\rho_g\,r_a\,t`: growth above the observed
  flow, and every unit on a new arc (:math:`f_0 = 0`), paying the friction
  :math:`\tau_g P_{0,g}` per unit (switching, qualification, freight). Growth capacity
  ramps up by :math:`\rho_g r_a` per month since the start of the horizon (the crisis
  starts at month 1; new supply takes time), where :math:`r_a` is the arc's ramp base
  (its observed flow, or for a new arc the destination's observed demand).
  :math:`\gamma_{a,t,w}` is the share of the month in which the arc is fully open
  (``growth_availability``; default :math:`\alpha`): a cut arc carries at most
  :math:`\alpha f_0` while the cut lasts, with no growth on top. For an embargo
  (:math:`\alpha = 0` while it lasts) :math:`\gamma = \alpha`; for a partial cut (a
  quota, a bypass pipeline: Saudi crude at 30 %) growth on top of the cut would let the
  supplier ship more than the cut allows (:math:`\alpha f_0 (1 + \rho t)`), so
  :math:`\gamma` is the uncovered share of the month
  (:func:`resilience.optimize.market.disruptions.availability_rows`).

An arc of kind ``"fixed"`` (pipeline, fixed link) carries only ``flow_base``
:math:`\le \alpha\,\text{capacity}`: no growth. :math:`\alpha \in [0, 1]` is the arc
availability (0 = embargo or blockade towards :math:`d`; 1 when not given).

Spatial equilibrium (KKT of the LP): on an arc whose growth is positive and below its
ramp limit, :math:`P_d - P_o = \tau_g P_{0,g}`; wherever growth could rise,
:math:`P_d - P_o \le \tau_g P_{0,g}`; an arc carrying base flow below its cap has
:math:`P_d = P_o`.

Balance terms: :math:`+` flow at the origin (a use), :math:`-` flow at the destination
(a source). Objective: :math:`-\pi_w\,\tau_g P_{0,g}\,\text{flow\_growth}`.
"""

from __future__ import annotations

import polars as pl

from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.inputs import MarketInputs

__all__ = ["EXPLANATIONS", "add_trade", "arc_table"]

#: trade adds no constraint family of its own (caps and ramps are bounds)
EXPLANATIONS: dict[str, str] = {}

_ARC = ["origin", "destination", "good"]
_KEYS = [*_ARC, "month", "scenario"]


def arc_table(inputs: MarketInputs) -> pl.DataFrame:
    """Arcs with the ramp base filled in: ``ramp_base_units_per_month`` (see module doc)."""
    demand = inputs.demand.select(
        pl.col("node").alias("destination"), "good", pl.col("q0_units_per_month").alias("_q0")
    )
    return (
        inputs.arcs.join(demand, on=["destination", "good"], how="left")
        .with_columns(
            pl.col("ramp_base_units_per_month").fill_null(
                pl.when(pl.col("flow0_units_per_month") > 0)
                .then(pl.col("flow0_units_per_month"))
                .otherwise(pl.col("_q0"))
            )
        )
        .drop("_q0")
    )


def add_trade(builder: MarketBuilder, inputs: MarketInputs) -> None:
    r"""Add ``flow_base`` and ``flow_growth`` (see module doc for the math).

    Math: :math:`0 \le \text{flow\_base} \le \alpha f_0` (trade) or
    :math:`\alpha\,\text{cap}` (fixed); :math:`0 \le \text{flow\_growth} \le
    \gamma\,\rho\,r\,t` (trade only). All are bounds, so trade never makes a run
    infeasible (no explanation needed).
    """
    params = inputs.parameter_frame().select(
        "good", "p0_usd_per_unit", "friction_share", "ramp_share_per_month"
    )
    grid = (
        arc_table(inputs)
        .join(params, on="good")
        .join(inputs.periods(), how="cross")
        .join(inputs.arc_availability(), on=_KEYS, how="left")
        .with_columns(
            pl.col("availability").fill_null(1.0),
            pl.coalesce("growth_availability", "availability").fill_null(1.0),
        )
        .sort(_KEYS)
    )
    base = grid.with_columns(
        (
            pl.col("availability")
            * pl.when(pl.col("kind") == "fixed")
            .then(pl.col("capacity_units_per_month"))
            .otherwise(pl.col("flow0_units_per_month"))
        ).alias("cap_units")
    )
    growth = grid.filter(pl.col("kind") == "trade").with_columns(
        (
            pl.col("growth_availability")
            * pl.col("ramp_share_per_month")
            * pl.col("ramp_base_units_per_month")
            * pl.col("month").cast(pl.Float64)
        ).alias("cap_units"),
        (pl.col("probability") * pl.col("friction_share") * pl.col("p0_usd_per_unit")).alias(
            "friction_usd"
        ),
    )
    for name, frame in (("flow_base", base), ("flow_growth", growth)):
        var = builder.add_variables(name, frame, _KEYS, ub="cap_units")
        out = frame.select(*_KEYS, pl.col("origin").alias("node"), pl.lit(1.0).alias("coef"))
        into = frame.select(*_KEYS, pl.col("destination").alias("node"), pl.lit(-1.0).alias("coef"))
        builder.add_terms("balance", var, out, _KEYS)
        builder.add_terms("balance", var, into, _KEYS)
        if name == "flow_growth":
            builder.add_objective(
                var, frame.select(*_KEYS, (-pl.col("friction_usd")).alias("coef")), _KEYS
            )
