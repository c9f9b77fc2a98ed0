"""The model families: one registry entry each (:class:`ModelFamily`).

Adding a family is one entry in :data:`FAMILIES`: its name (the study's ``model:``), a
one-line description, the policy knobs it reads, whether a sweep may re-solve it
parametrically, and the function running it on the market core. Studies
(:func:`resilience.scenarios.load_study` checks ``model:`` against it), the run
(:func:`resilience.study.run_study`), the CLI and the sweeps read this table; nothing
else lists the families.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resilience.optimize.families.coercion import run_coercion
from resilience.optimize.families.common import FamilyContext, FamilyRun
from resilience.optimize.families.diversify import run_diversify
from resilience.optimize.families.pooling import run_pooling
from resilience.optimize.families.stress import run_stress

__all__ = ["FAMILIES", "ModelFamily", "family"]

_MARKET = (
    "value_of_lost_supply_multiple",
    "holding_cost_share",
    "spare_capacity",
    "spot",
    "spot_premium",
    "cvar_weight",
    "cvar_level",
)
_SOURCING = ("allies", "max_non_allied_share", "max_single_supplier_share")
_STOCKS = ("min_stock_days", "max_stock_days")
#: Knobs of the market's data, read by every family (:func:`.common.assemble`).
_DATA = ("capacity_map_year", "capacity_map_goods")


@dataclass(frozen=True)
class ModelFamily:
    """One model family on the market core.

    Attributes
    ----------
    name
        The study's ``model:`` value.
    description
        One line for help texts and tables.
    knobs
        Policy knobs (:data:`resilience.specs.KNOBS`) the family reads; setting another
        is noted as having no effect.
    parametric
        Whether a sweep may re-solve the family's LPs persistently
        (:mod:`resilience.optimize.persistent`: changed numbers sent to a kept HiGHS
        model where the LP's structure is unchanged; ``False``: every LP passed fresh).
    run
        ``FamilyContext -> FamilyRun``.
    """

    name: str
    description: str
    knobs: tuple[str, ...]
    parametric: bool
    run: Callable[[FamilyContext], FamilyRun]


FAMILIES: dict[str, ModelFamily] = {
    f.name: f
    for f in (
        ModelFamily(
            "stress",
            "two-stage: stocks built before the crisis, the market in each scenario",
            (*_MARKET, *_DATA, *_SOURCING, *_STOCKS, "pooling", "disruption_days"),
            True,
            run_stress,
        ),
        ModelFamily(
            "coercion",
            "the adversary's most damaging strike on the members, priced",
            (
                *_MARKET,
                *_DATA,
                *_SOURCING,
                *_STOCKS,
                "pooling",
                "coercion_gamma",
                "disruption_days",
            ),
            True,
            run_coercion,
        ),
        ModelFamily(
            "pooling",
            "members alone against members sharing stocks, with burden sharing",
            (*_MARKET, *_DATA, *_SOURCING, *_STOCKS, "burden_rule", "disruption_days"),
            True,
            run_pooling,
        ),
        ModelFamily(
            "diversify",
            "friend-shored sourcing caps and what they cost, with the cost curve",
            (*_MARKET, *_DATA, *_SOURCING, "disruption_days"),
            True,
            run_diversify,
        ),
    )
}


def family(name: str) -> ModelFamily:
    """The registered family ``name`` (``KeyError`` naming the known ones)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}") from None
