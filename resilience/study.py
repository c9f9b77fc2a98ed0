r"""Run a study: spec -> composition -> the model family on the market core -> tidy tables.

:func:`run_study` takes a :class:`~resilience.scenarios.StudySpec` (from
:func:`~resilience.scenarios.load_study`) and an optional scenario expression
(``china_graphite_controls+eu_crma_cap``), and

1. composes the policy and the disruptions (overrides on top: :func:`override`);
2. runs the study's model family from the registry
   (:data:`resilience.optimize.families.FAMILIES`: ``stress``, ``coercion``, ``pooling``,
   ``diversify``), each on the market core (DESIGN §4): the members, the top other
   importers, producers and the rest of the world trade month by month; the scenario's
   events cut arcs; prices are the market's;
3. answers in Polars frames: a per member and good ``summary`` (exposure before and
   after, the highest price rise, demand shed expected and in the worst scenario, stock
   cover), a ``members`` table (welfare loss per member and scenario, USD), a one-row
   ``totals``, the ``policy`` in force with who set each knob, the ``notes`` of the run
   and the family's own tables (``prices``, ``shed``, ``gains``, ``cost_curve``...).

:func:`write_study` writes every table as Parquet, each atomically.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from resilience.metrics.sums import stable_sum
from resilience.optimize.families import FamilyContext, FamilyRun, family
from resilience.optimize.families.common import DAYS_PER_MONTH
from resilience.optimize.market import disruptions as dis
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.solve import SolverOptions, record_statuses, worst_status
from resilience.outputs import atomic_write, check_writable_dir
from resilience.scenarios import Composition, Policy, SpecError, StudySpec

__all__ = [
    "DISRUPTION_OVERRIDES",
    "SUMMARY_COLUMNS",
    "TOTALS_SCHEMA",
    "StudyResult",
    "check_run",
    "override",
    "run_study",
    "write_study",
]

log = logging.getLogger(__name__)

KEYS = ["member_iso3", "commodity", "stage"]
#: Columns of :attr:`StudyResult.summary` after the member and commodity keys.
SUMMARY_COLUMNS = [
    "demand_units_per_year",
    "non_allied_share_before",
    "non_allied_share_after",
    "max_single_share_before",
    "max_single_share_after",
    "hhi_before",
    "hhi_after",
    "price_rise_max_pct",
    "expected_shed_share",
    "worst_shed_share",
    "stock_days",
]
#: Columns of :attr:`StudyResult.totals`.
TOTALS_SCHEMA = pl.Schema(
    {
        "model": pl.String,
        "scenario": pl.String,
        "year": pl.Int64,
        "members": pl.String,
        "months": pl.Int64,
        "expected_welfare_loss_usd": pl.Float64,
        "worst_scenario": pl.String,
        "worst_welfare_loss_usd": pl.Float64,
        "stock_build_usd": pl.Float64,
        "policy_cost_usd": pl.Float64,
        "best_strike": pl.String,
        "pooling_gain_usd": pl.Float64,
    }
)


@dataclass(frozen=True)
class StudyResult:
    """What a study run answers (Polars frames only).

    Attributes
    ----------
    study, scenario, model, year
        Study name, the scenarios composed (``"base"`` without any), model family, year.
    summary
        Per member and good (content units of ``datasets/commodities.csv``):
        ``demand_units_per_year``; ``non_allied_share``, ``max_single_share`` and ``hhi``
        (0-1) of its imports before (observed) and after (the run, expected);
        ``price_rise_max_pct`` (highest monthly price over the reference price, any
        scenario); ``expected_shed_share`` (demand shed, probability-weighted) and
        ``worst_shed_share`` (largest over scenarios); ``stock_days`` (published stock
        plus the pre-crisis build, in days of consumption).
    members
        Per member and scenario: ``probability``, ``welfare_loss_usd`` (against the calm
        market without policy), ``consumer_loss_usd``, ``producer_gain_usd``,
        ``stock_build_usd``.
    totals
        One row (:data:`TOTALS_SCHEMA`): expected and worst welfare loss of the members,
        stock builds, the policy's cost in calm (``diversify``), the best strike
        (``coercion``), the pooling gain (``pooling``).
    tables
        Every table by name: ``summary``, ``members``, ``totals``, ``policy`` (knob,
        value, set_by), ``notes`` and the family's own tables.
    notes
        Sentences about the run.
    status
        ``optimal`` when every solve of the run was proven optimal.
    """

    study: str
    scenario: str
    model: str
    year: int
    summary: pl.DataFrame
    members: pl.DataFrame
    totals: pl.DataFrame
    tables: Mapping[str, pl.DataFrame]
    notes: tuple[str, ...] = ()
    status: str = "optimal"


DISRUPTION_OVERRIDES = ("availability", "probability")


def override(
    comp: Composition,
    policy: Mapping[str, Any] | None = None,
    disruption: Mapping[str, float] | None = None,
) -> Composition:
    """``comp`` with validated knob overrides on top (``set_by`` = ``"override"``).

    ``disruption`` sets ``availability`` and/or ``probability`` of every disruption event
    of the run (what-if severity and likelihood).
    """
    policy = dict(policy or {})
    disruption = dict(disruption or {})
    unknown = sorted(set(disruption) - set(DISRUPTION_OVERRIDES))
    if unknown:
        raise ValueError(
            f"disruption overrides {unknown} unknown; allowed: {', '.join(DISRUPTION_OVERRIDES)}"
        )
    events = comp.events
    if disruption:
        numbers: dict[str, Any] = disruption
        events = tuple((sc, replace(d, **numbers)) for sc, d in events)
    return Composition(
        comp.names,
        events,
        replace(comp.policy, **policy),
        {**comp.set_by, **dict.fromkeys(policy, "override")},
    )


def _check_stock(study: StudySpec, comp: Composition) -> None:
    p, set_by = comp.policy, comp.set_by
    if p.max_stock_days is not None and p.max_stock_days < p.min_stock_days:
        raise SpecError.single(
            str(study.path),
            "policy.max_stock_days",
            p.max_stock_days,
            f"below min_stock_days = {p.min_stock_days:g} (max from "
            f"{set_by.get('max_stock_days', 'default')}, min from "
            f"{set_by.get('min_stock_days', 'default')})",
            "max_stock_days >= min_stock_days",
        )


def _with_days(comp: Composition) -> Composition:
    """Every event lasting ``disruption_days`` when that knob is set."""
    days = comp.policy.disruption_days
    if days is None:
        return comp
    events = tuple((sc, dataclasses.replace(d, duration_days=days)) for sc, d in comp.events)
    return Composition(comp.names, events, comp.policy, comp.set_by)


def _policy_table(study: StudySpec, comp: Composition) -> pl.DataFrame:
    rows = [("members", str(study.members), "study")]
    for f in dataclasses.fields(Policy):
        value = getattr(comp.policy, f.name)
        if f.name == "allies" and value is None:
            value = study.allies
        shown = "—" if value is None else str(value)
        rows.append(
            (f.name, shown, comp.set_by.get(f.name, "study" if f.name == "allies" else "default"))
        )
    return pl.DataFrame(rows, schema=["knob", "value", "set_by"], orient="row")


def _summary(run: FamilyRun, builds: pl.DataFrame, stocks: pl.DataFrame) -> pl.DataFrame:
    goods = run.goods.join(
        run.members.select("member", "scenario", "probability"), on=["member", "scenario"]
    )
    per_good = (
        goods.sort(pl.all())
        .group_by("member", "good", maintain_order=True)
        .agg(
            pl.col("price_rise_max_pct").max(),
            stable_sum(pl.col("shed_share") * pl.col("probability")).alias("expected_shed_share"),
            pl.col("shed_share").max().alias("worst_shed_share"),
        )
    )
    held = stocks.select(pl.col("node").alias("member"), "good", "initial_units")
    built = builds.select(pl.col("node").alias("member"), "good", "built_units")
    frame = (
        run.exposure.join(per_good, on=["member", "good"], how="left")
        .join(held, on=["member", "good"], how="left")
        .join(built, on=["member", "good"], how="left")
        .with_columns(
            (pl.col("q0_units_per_month") * 12.0).alias("demand_units_per_year"),
            (
                (pl.col("initial_units").fill_null(0.0) + pl.col("built_units").fill_null(0.0))
                / (pl.col("q0_units_per_month") / DAYS_PER_MONTH)
            ).alias("stock_days"),
            pl.col("good").str.split_exact("/", 1).struct.rename_fields(["commodity", "stage"]),
        )
        .unnest("good")
        .rename({"member": "member_iso3"})
    )
    return frame.select(*KEYS, *[pl.col(c).cast(pl.Float64) for c in SUMMARY_COLUMNS]).sort(KEYS)


def check_run(
    study: StudySpec,
    scenario: str | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    disruption: Mapping[str, float] | None = None,
) -> None:
    """Raise the :class:`SpecError` a run would raise before it reads any data.

    Conflicting scenarios, event probabilities summing above one, ``max_stock_days``
    below ``min_stock_days``: cheap checks, so that a sweep rejects a bad point before
    it solves anything.
    """
    comp = override(study.compose(scenario), policy, disruption)
    dis.scenario_table(dis.events(comp), str(study.catalogue.path))
    _check_stock(study, comp)


def run_study(
    study: StudySpec,
    scenario: str | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    disruption: Mapping[str, float] | None = None,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
    options: SolverOptions | None = None,
    settings: StudyMarketSettings | None = None,
) -> StudyResult:
    """Run ``study`` under ``scenario`` (an ``a+b`` expression; ``None``: the base case).

    Parameters
    ----------
    study
        A validated study (:func:`resilience.scenarios.load_study`).
    scenario
        Catalogue scenarios to compose on top of the study's base scenario.
    policy, disruption
        Validated overrides on top of the composition (:func:`override`): knob values,
        and ``availability``/``probability`` of every disruption event.
    trade
        Bilateral trade in the schema of ``datasets/trade.parquet`` (default: the shipped
        table).
    options
        Solver options.
    settings
        The market's horizon, regions and blocks (default
        :class:`~resilience.optimize.market.StudyMarketSettings`).

    Raises
    ------
    resilience.scenarios.SpecError
        Unknown or conflicting scenarios, a good without bilateral trade that year,
        events out of the market's scope, probabilities summing above one.
    resilience.optimize.solve.InfeasibleModelError
        With sentences naming the member, good and policy in conflict.
    """
    comp = _with_days(override(study.compose(scenario), policy, disruption))
    _check_stock(study, comp)
    label = "+".join(comp.names) or "base"
    fam = family(study.model)
    log.info("study %s, scenario %s: %s model on the market core", study.name, label, fam.name)
    ctx = FamilyContext(
        study,
        comp,
        label,
        settings or StudyMarketSettings(),
        options,
        None if trade is None else trade,
    )
    unread = sorted(k for k in comp.set_by if k not in fam.knobs)
    with record_statuses() as statuses:
        run = fam.run(ctx)
    notes = list(run.notes)
    notes += [
        f"{knob} (set by {comp.set_by[knob]}) has no effect in the {fam.name} model"
        for knob in unread
    ]
    summary = _summary(run, run.tables["stock_builds"], run.tables["stock_rows"])
    totals_row = dict.fromkeys(TOTALS_SCHEMA) | {
        k: v for k, v in run.totals.items() if k in TOTALS_SCHEMA
    }
    totals_row |= {
        "model": fam.name,
        "scenario": label,
        "year": study.year,
        "members": ", ".join(ctx.members),
        "months": ctx.settings.months,
    }
    totals = pl.DataFrame([totals_row], schema=TOTALS_SCHEMA, orient="row")
    for note in notes:
        log.info("note: %s", note)
    everything = {
        "summary": summary,
        "members": run.members,
        "totals": totals,
        "policy": _policy_table(study, comp),
        "notes": pl.DataFrame({"note": notes}, schema={"note": pl.String}),
        "goods": run.goods,
        "exposure": run.exposure,
        **run.tables,
    }
    return StudyResult(
        study.name,
        label,
        fam.name,
        study.year,
        summary,
        run.members,
        totals,
        everything,
        tuple(notes),
        worst_status(statuses),
    )


def write_study(result: StudyResult, out_dir: str | Path) -> dict[str, Path]:
    """Write every table of ``result`` to ``out_dir/<name>.parquet``, each atomically.

    Each file is written to a temporary file in ``out_dir`` and renamed over the target,
    so a reader never sees a half-written table; files get the mode a plain ``open``
    gives (``0o666`` less the umask, e.g. ``0644``), never through a symbolic link.

    Returns
    -------
    dict
        Table name -> path written.

    Raises
    ------
    resilience.outputs.OutputPathError
        ``out_dir`` cannot be created or written (path and cause).
    """
    out = Path(out_dir)
    check_writable_dir(out)
    written: dict[str, Path] = {}
    for name, frame in result.tables.items():
        target = out / f"{name}.parquet"
        with atomic_write(target) as handle:
            frame.write_parquet(handle)
        written[name] = target
    log.info("wrote %d tables to %s", len(written), out)
    return written
