r"""Catalogue disruptions -> the market core's scenarios and availability by month.

A composition (:meth:`resilience.specs.StudySpec.compose`) holds disruption *events*
(the disruptions of one catalogue scenario, grouped by their name as in
:mod:`resilience.prepare`). Each event becomes one market scenario with its annual
probability; a ``"calm"`` scenario takes the remaining probability (events are mutually
exclusive within the year; probabilities summing above 1 are an error).

Each disruption ``(suppliers, commodities, availability a, duration d days, targets)``
cuts **arcs**, not production: the supplier's deliveries of the goods named
(``commodities: null`` = every good of the study; a commodity without a stage = every
stage) to the targets (``targets: null`` = to every destination: an export stop or a
blockade) arrive at ``a``. A supplier's own consumption is not cut. A targeted embargo
cuts only the arcs to its targets, so the supplier's goods can still reach the targets
through third countries, as far as frictions and ramps allow.

Months: the horizon has ``T`` months of :math:`365/T` days each. A disruption of
:math:`d` days starts on day 1 and covers :math:`m = d\,T/365` months: months
:math:`1..\lfloor m \rfloor` at availability :math:`a`, and the month after at
:math:`1 - (1 - a)(m - \lfloor m \rfloor)` (the share of that month it lasts). With
``T = 12``, 180 days cover months 1-5 and 92 % of month 6. A disruption longer than the
horizon is cut at the horizon (logged).

Where several rules cover the same arc and month, the lowest availability applies.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from resilience.specs import Composition, DisruptionSpec, SpecError

__all__ = [
    "CALM",
    "Event",
    "availability_rows",
    "covered_months",
    "covered_shares",
    "events",
    "goods_hit",
    "scenario_table",
]

log = logging.getLogger(__name__)

#: Name of the scenario that takes the probability no event takes.
CALM = "calm"
_DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Event:
    """One market scenario: a catalogue event (its disruptions happen together)."""

    label: str
    probability: float
    rules: tuple[DisruptionSpec, ...]


def events(comp: Composition) -> list[Event]:
    """Events of a composition: per scenario, disruptions grouped by name (unnamed together)."""
    groups: dict[tuple[str, str | None], list[DisruptionSpec]] = {}
    for scenario, d in comp.events:
        groups.setdefault((scenario, d.name), []).append(d)
    named = {sc for sc, name in groups if name is not None}
    return [
        Event(
            sc if name is None and sc not in named else f"{sc}.{name or 'main'}",
            ds[0].probability,
            tuple(ds),
        )
        for (sc, name), ds in groups.items()
    ]


def covered_shares(duration_days: float, months: int) -> list[float]:
    """Share of each month ``1..months`` that a disruption starting on day 1 covers."""
    span = duration_days * months / _DAYS_PER_YEAR
    if span > months + 1e-9:
        log.info(
            "a disruption of %g days is longer than the %d-month horizon; cut at the horizon",
            duration_days,
            months,
        )
    return [min(max(span - (m - 1), 0.0), 1.0) for m in range(1, months + 1)]


def covered_months(duration_days: float, availability: float, months: int) -> list[float]:
    r"""Availability of months ``1..months`` under a disruption starting on day 1.

    A month covered for a share :math:`s` of its days at availability :math:`a` has
    :math:`\alpha = 1 - (1 - a)\,s`; its growth availability (the share of the month
    the arc is open, :mod:`resilience.optimize.market.trade`) is :math:`1 - s`.
    """
    return [1.0 - (1.0 - availability) * s for s in covered_shares(duration_days, months)]


def goods_hit(rule: DisruptionSpec, goods: Sequence[str]) -> list[str]:
    """The study goods (``commodity/stage``) a disruption names."""
    if rule.commodities is None:
        return list(goods)
    hit = []
    for good in goods:
        commodity, stage = good.split("/", 1)
        if any(c == commodity and s in (None, stage) for c, s in rule.commodities):
            hit.append(good)
    return hit


def availability_rows(
    chosen: Sequence[Event],
    arcs: pl.DataFrame,
    on: dt.date,
    months: int,
    *,
    nodes: Callable[[Iterable[str]], list[str]] | None = None,
) -> pl.DataFrame:
    """Availability of the arcs the events cut: the core's ``availability`` table.

    Parameters
    ----------
    chosen
        Events (each a scenario named by its label).
    arcs
        ``origin, destination, good`` of the market (nodes: ISO3 or aggregates).
    on
        Date on which blocs are resolved (the study's).
    months
        Horizon ``T``.
    nodes
        Market nodes of ISO3 codes (a study's ``as_one`` blocs,
        :meth:`resilience.specs.StudySpec.to_nodes`); default the codes themselves.

    Returns
    -------
    polars.DataFrame
        ``origin, destination, good, month, scenario, availability,
        growth_availability`` where the availability is < 1 (growth availability: the
        share of the month no event covers, :func:`covered_months`).
    """
    goods = sorted(set(arcs["good"].to_list()))
    parts: list[pl.DataFrame] = []
    for event in chosen:
        for rule in event.rules:
            hit = goods_hit(rule, goods)
            node = nodes or list
            suppliers = node(rule.suppliers.resolve(on))
            cut = arcs.filter(pl.col("origin").is_in(suppliers) & pl.col("good").is_in(hit))
            if rule.targets is not None:
                cut = cut.filter(pl.col("destination").is_in(node(rule.targets.resolve(on))))
            if cut.height == 0:
                continue
            shares = covered_shares(rule.duration_days, months)
            by_month = pl.DataFrame(
                {
                    "month": list(range(1, months + 1)),
                    "availability": covered_months(rule.duration_days, rule.availability, months),
                    "growth_availability": [1.0 - s for s in shares],
                    "scenario": [event.label] * months,
                },
                schema={
                    "month": pl.Int64,
                    "availability": pl.Float64,
                    "growth_availability": pl.Float64,
                    "scenario": pl.String,
                },
            ).filter(pl.col("availability") < 1.0)
            parts.append(cut.select("origin", "destination", "good").join(by_month, how="cross"))
    keys = ["origin", "destination", "good", "month", "scenario"]
    if not parts:
        return pl.DataFrame(
            schema={
                "origin": pl.String,
                "destination": pl.String,
                "good": pl.String,
                "month": pl.Int64,
                "scenario": pl.String,
                "availability": pl.Float64,
                "growth_availability": pl.Float64,
            }
        )
    return (
        pl.concat(parts)
        .group_by(keys)
        .agg(pl.col("availability").min(), pl.col("growth_availability").min())
        .select(*keys, "availability", "growth_availability")
        .sort(keys)
    )


def scenario_table(chosen: Sequence[Event], file: str) -> pl.DataFrame:
    """``scenario, probability``: the events, then ``"calm"`` with the rest (if any).

    Raises
    ------
    resilience.specs.SpecError
        When the events' probabilities sum above 1.
    """
    total = math.fsum(e.probability for e in chosen)
    if total > 1.0 + 1e-9:
        raise SpecError.single(
            file,
            "disruptions[*].probability",
            round(total, 12),
            "the events "
            + ", ".join(f"{e.label} ({e.probability:g})" for e in chosen)
            + " are mutually exclusive within a year, but their probabilities sum above 1",
            "a sum <= 1: compose fewer disruption scenarios",
        )
    rows = [(e.label, e.probability) for e in chosen]
    if total < 1.0 - 1e-9:
        rows.append((CALM, 1.0 - total))
    return pl.DataFrame(
        rows, schema={"scenario": pl.String, "probability": pl.Float64}, orient="row"
    )
