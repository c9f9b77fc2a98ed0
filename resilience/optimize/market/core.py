r"""The spatial, multi-period market equilibrium LP (DESIGN §4): build it and solve it.

Sets: nodes :math:`n` (countries or aggregates), goods :math:`g` (commodity/stage, one
content unit each), months :math:`t = 1..T`, scenarios :math:`w` with probability
:math:`\pi_w`. The pieces, each in its own module with its math:

- demand blocks (:mod:`.demand`), supply blocks (:mod:`.supply`), trade arcs
  (:mod:`.trade`), stage links (:mod:`.stages`), stocks (:mod:`.stocks`);
- the **balance** of every node, good, month and scenario (this module):

  .. math:: \underbrace{\text{served} + \text{exports} + \text{build} + \text{inputs
     to processes}}_{\text{uses}} - \underbrace{(\text{supply} + \text{imports} +
     \text{release} + \text{process output})}_{\text{sources}} = 0.

Objective (maximised): expected welfare
:math:`\sum_w \pi_w \sum_t [\text{value of demand blocks served} - \text{supply cost} -
\text{friction on growth} - \text{processing cost} - \text{holding cost}] +
\sum_w \pi_w P_0 k_T`, plus whatever first-stage terms a family adds (unweighted: they
are decided once, before the scenario is known).

Prices: the dual of a balance row is :math:`\partial\,\text{welfare} /
\partial\,\text{rhs}`; raising the rhs by one means uses may exceed sources by one, i.e.
one more unit is available at that node, so the dual is :math:`\pi_w` times the value of
one more unit there. **price_usd_per_unit = dual / π_w** (>= 0 for goods people value;
tested against the isoelastic closed form in ``tests/unit/test_market_core.py``).

Every family a model adds carries the sentence that explains it when it makes a run
infeasible (:data:`EXPLANATIONS`, merged from the modules; tested).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from resilience.optimize.market import demand, stages, stocks, supply, trade
from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.inputs import MarketInputs, MarketSettings
from resilience.optimize.solve import SolveResult, SolverOptions, solve

__all__ = [
    "EXPLANATIONS",
    "Extension",
    "MarketModel",
    "balance_rows",
    "build_market",
    "solve_market",
]

log = logging.getLogger(__name__)

_BALANCE = (
    "{good} at {node} in month {month} of scenario {scenario}: what is used (consumption, "
    "exports, stock builds, inputs to processes) must equal what is available (output, "
    "imports, stock releases, process output)"
)
#: constraint family -> sentence shown when it makes a run infeasible (fields: row keys)
EXPLANATIONS: dict[str, str] = {
    "balance": _BALANCE,
    **demand.EXPLANATIONS,
    **supply.EXPLANATIONS,
    **trade.EXPLANATIONS,
    **stages.EXPLANATIONS,
    **stocks.EXPLANATIONS,
}

#: A family's hook: called with the builder after the market's variables and rows exist
#: and before they are built, to add first-stage variables, rows, terms and objective.
Extension = Callable[[MarketBuilder, MarketInputs], None]


@dataclass(frozen=True)
class MarketModel:
    """A built market LP and the handles to read it.

    Attributes
    ----------
    model
        The Pyomo model (objective ``welfare``, maximised, USD).
    inputs, settings
        What it was built from.
    variables
        ``{name: Var}``: ``served``, ``supply``, ``flow_base``, ``flow_growth``,
        ``conversion``, ``stock``, ``release``, ``build``, ``excess`` (those that
        exist) and the variables extensions added.
    constraints
        ``{family: Constraint}``.
    rows
        ``{family: key frame}`` in the constraint's row order (to align duals).
    explanations
        ``{family: sentence template}`` for every constraint family.
    """

    model: Any
    inputs: MarketInputs
    settings: MarketSettings
    variables: Mapping[str, Any]
    constraints: Mapping[str, Any]
    rows: Mapping[str, pl.DataFrame]
    explanations: Mapping[str, str] = field(default_factory=dict)

    def describe(self, family: str, index: tuple[Any, ...]) -> str | None:
        """The user's-words sentence for one constraint row (``None``: not ours)."""
        template = self.explanations.get(family)
        rows = self.rows.get(family)
        if template is None or rows is None:
            return None
        idx = index if isinstance(index, tuple) else (index,)
        return template.format(**dict(zip(rows.columns, idx, strict=False)))


def balance_rows(inputs: MarketInputs) -> pl.DataFrame:
    """Every ``node, good`` that has anything to balance, times every month and scenario."""
    pairs = pl.concat(
        [
            inputs.demand.filter(pl.col("q0_units_per_month") > 0).select("node", "good"),
            inputs.supply.filter(pl.col("output_units_per_month") > 0).select("node", "good"),
            inputs.arcs.select(pl.col("origin").alias("node"), "good"),
            inputs.arcs.select(pl.col("destination").alias("node"), "good"),
            inputs.processes.select("node", pl.col("good_out").alias("good")),
            inputs.process_inputs.select("node", pl.col("good_in").alias("good")),
            inputs.stocks.select("node", "good"),
        ]
    ).unique()
    return (
        pairs.join(inputs.periods().select("month", "scenario"), how="cross")
        .sort("node", "good", "month", "scenario")
        .with_columns(pl.lit(0.0).alias("lb"), pl.lit(0.0).alias("ub"))
    )


def build_market(
    inputs: MarketInputs,
    settings: MarketSettings | None = None,
    extensions: Sequence[Extension] = (),
) -> MarketModel:
    """Build the market LP (module doc), with the families' first-stage ``extensions``.

    Parameters
    ----------
    inputs
        Validated data; ``inputs.months`` must equal ``settings.months``.
    settings
        Block counts; default :class:`MarketSettings` with ``months=inputs.months``.
    extensions
        Hooks ``(builder, inputs) -> None`` adding first-stage variables (shared across
        scenarios), rows, terms in the market's rows (``balance``, ``stock_flow``,
        ``stock_excess``; handles: ``builder.index(name)``) and objective terms. Each
        row family they declare must carry its explanation.
    """
    settings = settings or MarketSettings(months=inputs.months)
    if settings.months != inputs.months:
        raise ValueError(
            f"settings.months ({settings.months}) differs from inputs.months ({inputs.months})"
        )
    builder = MarketBuilder(name="market")
    builder.add_rows(
        "balance", balance_rows(inputs), ["node", "good", "month", "scenario"], _BALANCE
    )
    demand.add_demand(builder, inputs, settings)
    supply.add_supply(builder, inputs, settings)
    trade.add_trade(builder, inputs)
    stages.add_stages(builder, inputs)
    stocks.add_stocks(builder, inputs)
    for extend in extensions:
        extend(builder, inputs)
    constraints = builder.finish()
    log.debug(
        "market LP: %d variable families, %d constraint families",
        len(builder.variables),
        len(constraints),
    )
    return MarketModel(
        model=builder.model,
        inputs=inputs,
        settings=settings,
        variables=dict(builder.variables),
        constraints=constraints,
        rows={name: fam.rows.select(fam.keys) for name, fam in builder.families.items()},
        explanations={name: fam.explanation for name, fam in builder.families.items()},
    )


def solve_market(market: MarketModel, options: SolverOptions | None = None) -> SolveResult:
    """Solve with HiGHS; a non-optimal outcome raises the typed error in the user's words.

    Infeasibility raises :class:`resilience.optimize.solve.InfeasibleModelError` with the
    conflicting rows explained by :meth:`MarketModel.describe`; a solve stopped at a limit
    raises :class:`resilience.optimize.solve.SolverLimitError` (the market's prices are
    only meaningful at an optimum).
    """
    return solve(market.model, options, explain=market.describe).ensure_optimal()
