r"""``coercion``: the adversary's most damaging strike among its strike set, priced.

The strike set (each strike one scenario of one market LP, equally weighted, so the
first-stage stock builds hedge against all of them):

- for each study good, the adversary (the study's ``adversary``, resolved on its date)
  stops exports of that good to every member;
- all goods at once;
- when the adversary is several countries and ``coercion_gamma`` is below their number,
  every ``coercion_gamma`` of them stopping all goods (at most :data:`MAX_SUBSET_STRIKES`);
- every disruption event of the run, as the catalogue defines it.

A strike lasts ``disruption_days`` (365 days when unset) at availability 0 and targets
the members only: the adversary keeps selling to everyone else, so a targeted embargo
leaks through third countries as far as frictions and ramps allow (``leakage`` table:
:func:`resilience.optimize.market.results.leak_free_share` per member and good of each
targeted strike). The **best strike** is the one with the largest welfare loss summed
over the members. Strikes whose adversary holds less than the market's scope share of
world exports of every good they name are out of scope (listed, not solved).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging

import polars as pl

from resilience.optimize.families.common import (
    FamilyContext,
    FamilyRun,
    PolicyRun,
    answer,
    assemble,
    solve_pair,
)
from resilience.optimize.market import disruptions as dis
from resilience.optimize.market.results import leak_free_share
from resilience.specs import CountrySet, DisruptionSpec, SpecError

__all__ = ["MAX_SUBSET_STRIKES", "run_coercion", "strikes"]

log = logging.getLogger(__name__)

#: Most country-subset strikes enumerated (``coercion_gamma`` of a large adversary bloc).
MAX_SUBSET_STRIKES = 20
_DAYS_PER_YEAR = 365.0


def strikes(ctx: FamilyContext) -> list[dis.Event]:
    """The strike set (module doc) as market events."""
    study, p = ctx.study, ctx.comp.policy
    if study.adversary is None:
        raise SpecError.single(
            str(study.path),
            "adversary",
            None,
            "the coercion model needs an adversary",
            "a country or bloc, e.g. CHN",
        )
    adversary = study.adversary.resolve(study.date)
    targets = CountrySet(countries=tuple(ctx.members))
    days = p.disruption_days or _DAYS_PER_YEAR

    def cut(who: list[str], goods: tuple[tuple[str, str | None], ...] | None) -> DisruptionSpec:
        return DisruptionSpec(
            suppliers=CountrySet(countries=tuple(who)),
            probability=1.0,
            availability=0.0,
            duration_days=days,
            targets=targets,
            commodities=goods,
        )

    name = "+".join(adversary)
    plan: list[tuple[str, tuple[DisruptionSpec, ...]]] = [
        (f"strike_{name}_{c}_{s}", (cut(adversary, ((c, s),)),)) for c, s in study.commodities
    ]
    plan.append((f"strike_{name}_all", (cut(adversary, None),)))
    gamma = min(p.coercion_gamma, len(adversary))
    if gamma < len(adversary):
        subsets = list(itertools.combinations(adversary, gamma))
        if len(subsets) > MAX_SUBSET_STRIKES:
            raise SpecError.single(
                str(study.path),
                "policy.coercion_gamma",
                p.coercion_gamma,
                f"{len(subsets)} strikes of {gamma} of the adversary's {len(adversary)} "
                f"countries; at most {MAX_SUBSET_STRIKES} are enumerated",
                f"a coercion_gamma with at most {MAX_SUBSET_STRIKES} subsets",
            )
        plan += [(f"strike_{'+'.join(sub)}_all", (cut(list(sub), None),)) for sub in subsets]
    plan += [(e.label, e.rules) for e in dis.events(ctx.comp)]
    weight = 1.0 / len(plan)
    return [dis.Event(label, weight, rules) for label, rules in plan]


def _leakage(ctx: FamilyContext, run: PolicyRun, events: list[dis.Event]) -> pl.DataFrame:
    """Leak-free share of every targeted strike, member and good with an observed arc."""
    rows = []
    arcs = run.result.market.inputs.arcs
    solved = set(run.result.market.inputs.scenarios["scenario"].to_list())
    for event in events:
        if event.label not in solved:
            continue
        for rule in event.rules:
            if rule.targets is None:
                continue
            origins = ctx.study.to_nodes(rule.suppliers.resolve(ctx.study.date))
            aimed = ctx.study.to_nodes(rule.targets.resolve(ctx.study.date))
            for o, d, g in (
                arcs.filter(
                    pl.col("origin").is_in(origins)
                    & pl.col("destination").is_in(aimed)
                    & (pl.col("flow0_units_per_month") > 0)
                )
                .select("origin", "destination", "good")
                .iter_rows()
            ):
                try:
                    share = leak_free_share(run.result, d, o, g, event.label)
                except ValueError:
                    continue
                rows.append((event.label, d, o, g, share))
    return pl.DataFrame(
        rows,
        schema={
            "scenario": pl.String,
            "member": pl.String,
            "origin": pl.String,
            "good": pl.String,
            "leak_free_share": pl.Float64,
        },
        orient="row",
    )


def run_coercion(ctx: FamilyContext) -> FamilyRun:
    """Run the coercion family (module doc)."""
    events = strikes(ctx)
    market = assemble(ctx, events)
    run = solve_pair(ctx, market)
    out = answer(run, ctx, tables={"leakage": _leakage(ctx, run, events)})
    return dataclasses.replace(
        out, totals={**out.totals, "best_strike": out.totals["worst_scenario"]}
    )
