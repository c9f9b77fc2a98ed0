r"""Rank an importer's commodities by probability-weighted welfare loss (the USGS way).

For an importer (a country or a bloc) and each commodity-stage, the catalogue's
disruption scenarios that touch it (not the certain replays of history) become the
scenarios of one market (the ``stress``
family on the market core, with no policy: the importer holds its published and working
stocks and builds none), each with its annual probability and ``calm`` with the rest.
The importer's welfare loss in each scenario against the calm market, weighted by the
probabilities, is the commodity's **expected annual welfare loss**:

.. math:: \mathbb{E}[L_c] = \sum_w \pi_w\, L_{c,w},

and the commodities are ranked by it (ties by the loss if the worst event happens). This
is how the US critical-minerals list (USGS Open-File Report 2025-1047) ranks minerals:
post-disruption equilibrium prices and quantities from elasticities over many one-year
scenarios, weighted by their likelihood; here the scenarios are the catalogue's events and
the market has regions, months and stocks. A commodity that no catalogue event touches,
or whose events are all out of the market's scope, is listed with its status and no loss
(it is not ranked as riskless).

**Alternatives count once.** Catalogue entries marked ``alternative_of: <group>`` with a
``weight`` :math:`w_k` are views of one event (the Taiwan Strait crisis at 3, 6 and 12
months); each carries the group's probability :math:`p_g`. Added as separate risks they
would count it once per view. The ranking weighs view :math:`k` by :math:`p_g w_k`
(:func:`weighted_catalogue`), so a group adds

.. math:: p_g \sum_k w_k L_{c,k}

to :math:`\mathbb{E}[L_c]`, and its probability counts once in the ``probability``
column. A view of weight 0 is left out of the market.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from resilience.errors import DataError
from resilience.metrics.sums import stable_sum
from resilience.optimize.market.disruptions import goods_hit
from resilience.optimize.market.from_data import OutOfScopeError, StudyMarketSettings
from resilience.optimize.solve import SolverOptions
from resilience.specs import (
    Catalogue,
    CountrySet,
    ScenarioSpec,
    SpecError,
    StudySpec,
    weighed,
)
from resilience.study import run_study

__all__ = [
    "RANK_SCHEMA",
    "named_goods",
    "rank_commodities",
    "risk_scenarios",
    "weighted_catalogue",
]

log = logging.getLogger(__name__)

#: Columns of a ranking.
RANK_SCHEMA = pl.Schema(
    {
        "rank": pl.Int64,
        "importer": pl.String,
        "commodity": pl.String,
        "stage": pl.String,
        "status": pl.String,
        "scenarios": pl.String,
        "probability": pl.Float64,
        "expected_welfare_loss_usd": pl.Float64,
        "worst_scenario": pl.String,
        "worst_welfare_loss_usd": pl.Float64,
        "price_rise_max_pct": pl.Float64,
        "worst_shed_share": pl.Float64,
        "reason": pl.String,
    }
)


def risk_scenarios(catalogue: Catalogue) -> list[ScenarioSpec]:
    """Catalogue scenarios a ranking weighs: disruptions, no policy, not certain.

    Scenarios whose disruptions are certain (probability 1) are left out: they replay
    history (the back-test episodes), they are not risks of a year to come.
    """
    return [
        sc
        for sc in catalogue.scenarios.values()
        if sc.disruptions
        and not sc.policy
        and not all(d.probability >= 1.0 for d in sc.disruptions)
    ]


def weighted_catalogue(catalogue: Catalogue) -> Catalogue:
    """``catalogue`` with each alternative weighed by its group (module doc).

    An entry with ``alternative_of`` gets disruptions of probability :math:`p_g w_k`
    (``p_g`` the probability it carries, validated equal across its group by
    :func:`resilience.scenarios.load_catalogue`) by :func:`resilience.specs.weighed`, the
    rule a run composing several alternatives applies too
    (:func:`resilience.specs.weigh_alternatives`); the weighed entry stands alone, so the
    run does not weigh it again. An entry of weight 0 is dropped. Other entries are
    unchanged.
    """
    out: dict[str, ScenarioSpec] = {}
    for name, sc in catalogue.scenarios.items():
        if sc.alternative_of is None or sc.weight is None:
            out[name] = sc
        elif sc.weight > 0:
            out[name] = weighed(sc)
    return replace(catalogue, scenarios=out)


def named_goods(catalogue: Catalogue, goods: Sequence[str]) -> list[str]:
    """The ``goods`` (``commodity/stage``) a risk scenario names explicitly, sorted.

    A disruption of every commodity (``commodities: null``, e.g. a blockade) names none.
    """
    return sorted(
        {
            g
            for sc in risk_scenarios(catalogue)
            for d in sc.disruptions
            if d.commodities is not None
            for g in goods_hit(d, goods)
        }
    )


def _events_touching(catalogue: Catalogue, good: tuple[str, str]) -> list[str]:
    """Risk scenarios (:func:`risk_scenarios`) that name ``good``, or every good."""
    name = f"{good[0]}/{good[1]}"
    return sorted(
        sc.name
        for sc in risk_scenarios(catalogue)
        if any(goods_hit(d, [name]) for d in sc.disruptions)
    )


def rank_commodities(
    importer: CountrySet,
    commodities: Sequence[tuple[str, str]],
    *,
    year: int,
    catalogue: Catalogue,
    allies: CountrySet | None = None,
    label: str | None = None,
    settings: StudyMarketSettings | None = None,
    options: SolverOptions | None = None,
) -> pl.DataFrame:
    """Rank ``commodities`` for ``importer`` by expected annual welfare loss (module doc).

    Parameters
    ----------
    importer
        A country or bloc (its members are the market's member nodes; their losses add).
    commodities
        ``(commodity, stage)`` pairs with bilateral trade in ``year``.
    year
        Trade year.
    catalogue
        The scenario catalogue (disruptions with probabilities).
    allies
        Allies of the importer (only labels; no policy is applied). Default: the importer.
    label
        The importer's name in the output (default: ``str(importer)``).
    settings, options
        Market settings and solver options.

    Returns
    -------
    polars.DataFrame
        :data:`RANK_SCHEMA`, ranked rows first (``status`` ``ranked``), then commodities
        without a priced answer: ``no_event`` (no catalogue event names it),
        ``out_of_scope`` (its events' suppliers hold too little of world exports),
        ``no_data`` (no reference price or parameters), ``invalid`` (no bilateral trade
        that year, or its events' probabilities sum above one), each with the reason.
    """
    who = label or str(importer)
    catalogue = weighted_catalogue(catalogue)
    rows: list[dict[str, object]] = []
    for good in commodities:
        base: dict[str, object] = {"importer": who, "commodity": good[0], "stage": good[1]}
        events = _events_touching(catalogue, good)
        if not events:
            rows.append(base | {"status": "no_event", "reason": "no catalogue event names it"})
            continue
        spec = StudySpec(
            path=catalogue.path,
            name=f"rank_{who}_{good[0]}_{good[1]}",
            description="ranking run",
            year=year,
            members=importer,
            allies=allies or importer,
            commodities=(good,),
            model="stress",
            catalogue=catalogue,
            policy={"max_stock_days": 0.0},
        )
        expression = "+".join(events)
        try:
            result = run_study(spec, expression, settings=settings, options=options)
        except OutOfScopeError as exc:
            rows.append(
                base | {"status": "out_of_scope", "scenarios": expression, "reason": str(exc)}
            )
            continue
        except DataError as exc:  # no reference price, no parameters: no market to solve
            rows.append(base | {"status": "no_data", "scenarios": expression, "reason": str(exc)})
            continue
        except SpecError as exc:  # e.g. no trade that year; probabilities summing above one
            rows.append(base | {"status": "invalid", "scenarios": expression, "reason": str(exc)})
            continue
        loss = result.members.group_by("scenario", "probability").agg(
            stable_sum(pl.col("welfare_loss_usd"))
        )
        events_only = loss.filter(pl.col("scenario") != "calm").sort(
            "welfare_loss_usd", descending=True
        )
        summary = result.summary
        rows.append(
            base
            | {
                "status": "ranked",
                "scenarios": ", ".join(events_only["scenario"].to_list()),
                "probability": float(events_only["probability"].sum()),
                "expected_welfare_loss_usd": float(
                    (loss["welfare_loss_usd"] * loss["probability"]).sum()
                ),
                "worst_scenario": events_only["scenario"][0] if events_only.height else None,
                "worst_welfare_loss_usd": (
                    float(events_only["welfare_loss_usd"][0]) if events_only.height else None
                ),
                "price_rise_max_pct": summary["price_rise_max_pct"].max(),
                "worst_shed_share": summary["worst_shed_share"].max(),
            }
        )
    frame = pl.DataFrame(rows, schema={k: v for k, v in RANK_SCHEMA.items() if k != "rank"})
    ranked = frame.filter(pl.col("status") == "ranked").sort(
        ["expected_welfare_loss_usd", "worst_welfare_loss_usd"], descending=True
    )
    rest = frame.filter(pl.col("status") != "ranked").sort("commodity", "stage")
    ranked = ranked.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))
    rest = rest.with_columns(pl.lit(None, dtype=pl.Int64).alias("rank")).select(ranked.columns)
    return pl.concat([ranked, rest]).select(list(RANK_SCHEMA))
