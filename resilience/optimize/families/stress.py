r"""``stress``: two-stage planning against the run's disruptions, priced by the market.

First stage (decided before the crisis, shared by every scenario): each member's stock
build between ``min_stock_days`` and ``max_stock_days`` of consumption, bought at
:math:`P_0` and held at the cited holding cost. Every month of every scenario: the
sourcing caps of the policy (``max_non_allied_share``, ``max_single_supplier_share``)
and, with ``pooling``, stock releases shared among the members. Second stage: the market
of :mod:`resilience.optimize.market` in each scenario (the catalogue events plus
``calm`` with the remaining probability). The LP maximises expected world welfare, so a
unit of stock is built when its expected crisis value exceeds its price and holding cost.

Answers (:func:`resilience.optimize.families.common.answer`): welfare loss per member and
scenario against the calm market without policy, price rises, demand shed, stock builds
and releases, who gains, and the value of one more unit of capacity or stock.
"""

from __future__ import annotations

from resilience.optimize.families.common import (
    FamilyContext,
    FamilyRun,
    answer,
    assemble,
    solve_pair,
)

__all__ = ["run_stress"]


def run_stress(ctx: FamilyContext) -> FamilyRun:
    """Run the stress family (module doc)."""
    market = assemble(ctx)
    return answer(solve_pair(ctx, market), ctx)
