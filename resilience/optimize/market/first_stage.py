r"""First-stage decisions shared by every scenario: the families' hook, with one example.

A first-stage variable is decided once, before the crisis is known, and appears in the
rows of every scenario. :func:`prebuilt_stock` is the example: a member's pre-crisis
stock build :math:`z_{n,g} \ge 0`, bought at :math:`P_0` before month 1 and then held
like the rest of the stock:

.. math:: k_{1,w} - b_{1,w} + r_{1,w} - z_{n,g} = k_0 \quad \forall w
   \qquad(\text{the month-1 ``stock_flow`` row}),

objective :math:`-(1 + h T) P_0\,z` (unweighted: paid in every scenario): the purchase
and its holding cost :math:`h P_0` per unit and month over the horizon, paid whether or
not the stock is drawn (the reference level of ``stock_excess`` becomes
:math:`k_0 + z`, so the build pays no second holding cost):

.. math:: e_{t,w} - k_{t,w} + z_{n,g} \ge -k_0 \quad \forall t, w.

What is left at the end is worth :math:`P_0` per unit, so a unit drawn in month
:math:`t` earns :math:`P_{t,w} - P_0`: it is never sold in a calm month at the
reference price (the stock cannot flood the market it was bought from), and it is built
when the expected gain of drawing it in a crisis, :math:`\sum_w \pi_w \sum_t
(P_{t,w} - P_0)^+`, exceeds :math:`h T P_0`.
"""

from __future__ import annotations

import polars as pl

from resilience.errors import DataError
from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.core import Extension
from resilience.optimize.market.inputs import MarketInputs

__all__ = ["prebuilt_stock"]


def prebuilt_stock(builds: pl.DataFrame, table: str = "prebuilt stock") -> Extension:
    """The hook adding a pre-crisis stock build per row of ``builds``.

    Parameters
    ----------
    builds
        ``node, good, max_units`` (null: no limit other than the stock's capacity). Each
        ``(node, good)`` must have a row in ``inputs.stocks``.
    table
        Name used for ``builds`` in error messages.

    Returns
    -------
    Extension
        For :func:`resilience.optimize.market.core.build_market`; adds the variable
        ``prebuilt_stock[node, good]``.
    """

    def extend(builder: MarketBuilder, inputs: MarketInputs) -> None:
        known = inputs.stocks.select("node", "good")
        missing = builds.with_row_index("_i").join(known, on=["node", "good"], how="anti")
        if missing.height:
            row = missing.row(0, named=True)
            raise DataError.single(
                table,
                row["_i"] + 2,
                "good",
                row["good"],
                f"no stock of this good at node {row['node']!r} to add to",
            )
        index = builds.select("node", "good", pl.col("max_units").cast(pl.Float64))
        var = builder.add_variables("prebuilt_stock", index, ["node", "good"], ub="max_units")
        first = builder.families["stock_flow"].rows.filter(pl.col("month") == 1)
        terms = first.join(index.select("node", "good"), on=["node", "good"]).select(
            "node", "good", "month", "scenario", pl.lit(-1.0).alias("coef")
        )
        builder.add_terms("stock_flow", var, terms, ["node", "good"])
        excess = builder.families["stock_excess"].rows.join(
            index.select("node", "good"), on=["node", "good"]
        )
        builder.add_terms(
            "stock_excess",
            var,
            excess.select("node", "good", "month", "scenario", pl.lit(1.0).alias("coef")),
            ["node", "good"],
        )
        p0 = inputs.parameter_frame().select(
            "good", "p0_usd_per_unit", "holding_cost_share_per_month"
        )
        cost = index.join(p0, on="good").select(
            "node",
            "good",
            (
                -pl.col("p0_usd_per_unit")
                * (1.0 + pl.col("holding_cost_share_per_month") * inputs.months)
            ).alias("coef"),
        )
        builder.add_objective(var, cost, ["node", "good"])

    return extend
