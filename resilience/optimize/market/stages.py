r"""Stage links: refineries and factories turning input goods into an output good.

A process :math:`p` at node :math:`n` makes good :math:`g_{out}` from inputs with fixed
(Leontief) coefficients :math:`c_{p,g}` (units of input :math:`g` per unit of output;
a refinery of yield :math:`y` has :math:`c = 1/y`):

.. math:: \text{input of } g \text{ used} = c_{p,g}\ \text{conversion}_{n,p,t,w},
   \qquad 0 \le \text{conversion}_{n,p,t,w} \le a_{n,*,g_{out},t,w}\ \text{capacity}_{n,p}.

Because inputs enter the node's balance as uses, output is at most
:math:`\text{input received} / c = y \times` contained input received: a cut at the
mine reaches the refinery, and a cut of gallium reaches GaAs devices, in proportion to
the coefficient. Processing costs ``cost_usd_per_unit`` of output (default 0: the
margin over input costs is a rent on capacity).

Balance terms: :math:`-\text{conversion}` at :math:`(n, g_{out})` (a source),
:math:`+c\,\text{conversion}` at each :math:`(n, g_{in})` (a use). Objective:
:math:`-\pi_w\,\text{cost}\,\text{conversion}`.
"""

from __future__ import annotations

import polars as pl

from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.inputs import MarketInputs

__all__ = ["EXPLANATIONS", "add_stages"]

#: stages add no constraint family of their own (links go through the balance)
EXPLANATIONS: dict[str, str] = {}

_KEYS = ["node", "process", "month", "scenario"]


def add_stages(builder: MarketBuilder, inputs: MarketInputs) -> None:
    r"""Add ``conversion`` and its balance terms (see module doc for the math).

    Math: :math:`0 \le \text{conversion} \le a\,\text{capacity}`; balance terms
    :math:`-\text{conversion}` (output) and :math:`+c\,\text{conversion}` (inputs).
    Bounds only, so stage links never make a run infeasible by themselves.
    """
    if inputs.processes.height == 0:
        return
    avail = inputs.production_availability().rename({"good": "good_out"})
    index = (
        inputs.processes.join(inputs.periods(), how="cross")
        .join(avail, on=["node", "good_out", "month", "scenario"], how="left")
        .with_columns(
            (pl.col("availability").fill_null(1.0) * pl.col("capacity_units_per_month")).alias(
                "cap_units"
            )
        )
        .sort(_KEYS)
    )
    var = builder.add_variables("conversion", index, _KEYS, ub="cap_units")
    out = index.select(*_KEYS, pl.col("good_out").alias("good"), pl.lit(-1.0).alias("coef"))
    ins = (
        index.select(*_KEYS)
        .join(inputs.process_inputs, on=["node", "process"])
        .select(*_KEYS, pl.col("good_in").alias("good"), pl.col("input_per_output").alias("coef"))
    )
    builder.add_terms("balance", var, out, _KEYS)
    builder.add_terms("balance", var, ins, _KEYS)
    builder.add_objective(
        var,
        index.select(*_KEYS, (-pl.col("probability") * pl.col("cost_usd_per_unit")).alias("coef")),
        _KEYS,
    )
