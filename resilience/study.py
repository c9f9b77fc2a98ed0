r"""Run a study: spec -> model data -> disruption frame -> model family -> tidy tables.

:func:`run_study` takes a :class:`~resilience.scenarios.StudySpec` (from
:func:`~resilience.scenarios.load_study`) and an optional scenario expression
(``taiwan_blockade+g7_friendshoring``), and

1-3. composes the policy and the disruptions, builds the model data and frames the
   disruption events (:func:`resilience.prepare.prepare_run`: coverage errors, the
   effective availability of a disruption inside the model window);
4. runs the model family: ``diversify`` (every disruption in force for the whole year —
   probabilities ignored — supplier-wide cuts scale the supplier's capacity, member-
   targeted cuts remove the arcs), ``stress``, ``coercion`` (strategies: any
   ``coercion_gamma`` of the adversary's suppliers embargoing every member, the whole
   adversary together, and each disruption event of the run) or ``pooling``;
5. answers in Polars frames: a per member and commodity ``summary`` (exposure before
   and after, cost and premium over the least-cost plan, expected shortfall, days of
   cover, the shortfall under the adversary's best strike), a one-row ``totals``, the
   ``policy`` in force with who set each knob, the ``disruptions`` the model saw, the
   ``notes`` of the run and the model family's own tables.

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

from resilience.optimize import scenarios_data as sd
from resilience.optimize.coercion import MAX_STOCK_DAYS, CoercionSettings, run_coercion
from resilience.optimize.diversify import DiversifyPolicy, build_diversify, run_diversify
from resilience.optimize.inputs import COMMODITY_KEY, ModelData
from resilience.optimize.pooling import run_pooling
from resilience.optimize.recourse import DAYS_PER_YEAR, RecourseSettings, commodity_costs
from resilience.optimize.solve import SolverOptions, record_statuses, solve, worst_status
from resilience.optimize.stress import StockPolicy, StressSettings, run_stress
from resilience.outputs import atomic_write, check_writable_dir
from resilience.prepare import (
    PreparedRun,
    in_force,
    override,
    prepare_run,
    scenario_frame,
    window_days,
)
from resilience.scenarios import Composition, Policy, SpecError, StudySpec

__all__ = ["StudyResult", "check_run", "family_inputs", "run_study", "write_study"]

log = logging.getLogger(__name__)

DEMAND = ["member_iso3", *COMMODITY_KEY]
ARC = ["member_iso3", "supplier_iso3", *COMMODITY_KEY]
#: Columns of :attr:`StudyResult.summary` after the member and commodity keys.
SUMMARY_COLUMNS = [
    "demand_t",
    "non_allied_share_before",
    "non_allied_share_after",
    "max_single_share_before",
    "max_single_share_after",
    "hhi_before",
    "hhi_after",
    "cost_usd",
    "least_cost_usd",
    "premium_usd",
    "expected_shortfall_t",
    "expected_shortfall_share",
    "days_of_cover",
    "strike_shortfall_t",
    "strike_shortfall_share",
]


@dataclass(frozen=True)
class StudyResult:
    """What a study run answers (Polars frames only).

    Attributes
    ----------
    study, scenario, model, year
        Study name, the scenarios composed (``"base"`` without any), model family, year.
    summary
        Per member and commodity: ``demand_t``; ``non_allied_share``, ``max_single_share``
        and ``hhi`` (0-1) before (observed trade) and after (the plan); ``cost_usd`` of the
        plan's contracts, ``least_cost_usd`` of the cheapest plan without policy or
        disruption, ``premium_usd``; ``expected_shortfall_t`` and its share of the
        window's demand (stress, pooling); ``days_of_cover`` of the stock;
        ``strike_shortfall_t`` and share under the adversary's best strike (coercion).
        Columns that do not apply to the model are null.
    totals
        One row: model, scenario, year, members, costs (USD), expected shortfall (t,
        USD), CVaR, best strike and its valued shortfall, pooling gain.
    tables
        Every table by name: ``summary``, ``totals``, ``policy`` (knob, value, set_by),
        ``disruptions`` (the availability of every disrupted arc per scenario),
        ``notes``, and the model family's own result tables (``plan``, ``stock``...).
    notes
        Sentences about the run: dropped members, disruptions that touch nothing...
    status
        ``optimal`` when every solve of the run was proven optimal, else the first limit
        one stopped at with a feasible plan (``time_limit``, ``iteration_limit``...).
    """

    study: str
    scenario: str
    model: str
    year: int
    summary: pl.DataFrame
    totals: pl.DataFrame
    tables: Mapping[str, pl.DataFrame]
    notes: tuple[str, ...] = ()
    status: str = "optimal"


# ----------------------------------------------------------------------------- settings
def _stock(study: StudySpec, comp: Composition) -> StockPolicy:
    policy, set_by = comp.policy, comp.set_by
    cap = policy.max_stock_days
    default_cap = study.model == "coercion" and "max_stock_days" not in set_by
    if default_cap:
        cap = MAX_STOCK_DAYS
    if cap is not None and cap < policy.min_stock_days:
        who = "the coercion default" if default_cap else set_by.get("max_stock_days", "default")
        raise SpecError.single(
            str(study.path),
            "policy.max_stock_days",
            cap,
            f"below min_stock_days = {policy.min_stock_days:g} (max from {who}, min from "
            f"{set_by.get('min_stock_days', 'default')})",
            "max_stock_days >= min_stock_days",
        )
    return StockPolicy(min_stock_days=policy.min_stock_days, max_stock_days=cap)


def _stress_settings(
    study: StudySpec, comp: Composition, window: float, data: ModelData
) -> StressSettings:
    r"""Settings of the stress-based families.

    The unit values :math:`\bar p_c` (from which holding, shortfall and transfer costs
    follow) are pinned from the full data, so that members going alone in ``pooling``
    price a tonne exactly as the pooled run does (computed from a member's own arcs they
    would leave out that member as a supplier).
    """
    p = comp.policy
    recourse = RecourseSettings(
        spot_premium_share=p.spot_premium,
        value_of_lost_supply_multiple=p.value_of_lost_supply_multiple,
        holding_cost_share_per_year=p.holding_cost_share,
        disruption_days=window,
        allow_spot=p.spot,
        allow_transfers=p.pooling,
    )
    values = commodity_costs(data, recourse).select(*COMMODITY_KEY, "unit_value_usd_per_t")
    return StressSettings(
        policy=DiversifyPolicy(p.max_non_allied_share, p.max_single_supplier_share),
        recourse=replace(recourse, unit_value_usd_per_t=values),
        stock=_stock(study, comp),
        cvar_weight=p.cvar_weight,
        cvar_level=p.cvar_level,
    )


def _strategies(
    study: StudySpec,
    comp: Composition,
    data: ModelData,
    scenarios: pl.DataFrame,
    touched: list[str],
    notes: list[str],
) -> pl.DataFrame:
    """The adversary's options: any Γ of its suppliers, all of them, and each event."""
    from resilience.optimize.coercion import gamma_strategies

    frames: list[pl.DataFrame] = []
    sellers = set(data.arcs["supplier_iso3"].to_list())
    adversary = study.adversary.resolve(study.date) if study.adversary else []
    adv = [s for s in adversary if s in sellers]
    if study.adversary and not adv:
        notes.append(f"adversary {study.adversary} sells none of the commodities to the members")
    if adv:
        gamma = min(comp.policy.coercion_gamma, len(adv))
        try:
            frames.append(gamma_strategies(adv, gamma))
        except ValueError as exc:
            allowed = "a smaller coercion_gamma"
            raise SpecError.single(
                str(study.path), "policy.coercion_gamma", gamma, str(exc), allowed
            ) from exc
        if len(adv) > gamma:
            frames.append(sd.embargo(adv, name=f"bloc:{study.adversary}"))
    if touched:
        frames.append(scenarios.filter(pl.col("scenario").is_in(touched)))
    if not frames:
        raise SpecError.single(
            str(study.path),
            "adversary",
            str(study.adversary) if study.adversary else None,
            "the coercion model has no strategy: no adversary supplier sells to the members "
            "and no disruption of the run touches the study",
            "an adversary (bloc or countries) that supplies the members, or a scenario",
        )
    return sd.uniform(*frames)


# ----------------------------------------------------------------------------- results
def _exposure(flows: pl.DataFrame, quantity: str, suffix: str) -> pl.DataFrame:
    share = pl.col(quantity) / pl.col(quantity).sum().over(DEMAND)
    return (
        flows.with_columns(share.alias("_s"))
        .group_by(DEMAND)
        .agg(
            pl.col("_s").filter(~pl.col("is_ally")).sum().alias(f"non_allied_share_{suffix}"),
            pl.col("_s").max().alias(f"max_single_share_{suffix}"),
            (pl.col("_s") ** 2).sum().alias(f"hhi_{suffix}"),
        )
    )


def _least_cost(data: ModelData, options: SolverOptions | None) -> pl.DataFrame:
    """Per member and commodity: contract cost of the cheapest plan without any policy."""
    model = build_diversify(data, DiversifyPolicy())
    result = solve(model, options)
    x = result.values(model.x).rename({"value": "_q"})
    return (
        data.arcs.join(x, on=ARC)
        .group_by(DEMAND)
        .agg((pl.col("_q") * pl.col("unit_cost_usd_per_t")).sum().alias("least_cost_usd"))
    )


def _summary(
    data: ModelData, plan: pl.DataFrame, least: pl.DataFrame, extra: list[pl.DataFrame]
) -> pl.DataFrame:
    before = _exposure(data.arcs.filter(pl.col("observed_t") > 0), "observed_t", "before")
    after = _exposure(plan.filter(pl.col("quantity_t") > 1e-9), "quantity_t", "after")
    cost = plan.group_by(DEMAND).agg(pl.col("cost_usd").sum())
    frame = data.demand.select(*DEMAND, "demand_t")
    for part in (before, after, cost, least, *extra):
        frame = frame.join(part, on=DEMAND, how="left")
    frame = frame.with_columns((pl.col("cost_usd") - pl.col("least_cost_usd")).alias("premium_usd"))
    fill = [pl.lit(None, pl.Float64).alias(c) for c in SUMMARY_COLUMNS if c not in frame.columns]
    return (
        frame.with_columns(fill)
        .select(*DEMAND, *[pl.col(c).cast(pl.Float64) for c in SUMMARY_COLUMNS])
        .sort(DEMAND)
    )


def _expected(flows: pl.DataFrame) -> pl.DataFrame:
    """Probability-weighted shortfall per member and commodity from recourse flows."""
    return (
        flows.group_by(DEMAND)
        .agg(
            (pl.col("shortfall_t") * pl.col("probability")).sum().alias("expected_shortfall_t"),
            (pl.col("window_demand_t") * pl.col("probability")).sum().alias("_d"),
        )
        .with_columns(
            (pl.col("expected_shortfall_t") / pl.col("_d")).alias("expected_shortfall_share")
        )
        .drop("_d")
    )


_TOTALS_SCHEMA = pl.Schema(
    {
        "model": pl.String,
        "scenario": pl.String,
        "year": pl.Int64,
        "members": pl.String,
        "window_days": pl.Float64,
        "cost_usd": pl.Float64,
        "least_cost_usd": pl.Float64,
        "premium_usd": pl.Float64,
        "holding_cost_usd": pl.Float64,
        "objective_usd": pl.Float64,
        "expected_shortfall_t": pl.Float64,
        "expected_shortfall_usd": pl.Float64,
        "cvar_shortfall_usd": pl.Float64,
        "cvar_level": pl.Float64,
        "best_strike": pl.String,
        "worst_case_shortfall_usd": pl.Float64,
        "pooling_gain_usd": pl.Float64,
    }
)


def _run_family(
    study: StudySpec,
    comp: Composition,
    data: ModelData,
    scenarios: pl.DataFrame,
    touched: list[str],
    window: float,
    notes: list[str],
    options: SolverOptions | None,
) -> tuple[pl.DataFrame, dict[str, Any], dict[str, pl.DataFrame]]:
    """Run the model family; return the summary, totals values and the family's tables."""
    p = comp.policy
    if study.model == "diversify":
        if touched:
            notes.append(
                "diversify: every disruption is taken as in force for the whole year "
                "(probabilities ignored)"
            )
        forced = in_force(data, scenarios, str(study.catalogue.path))
        policy = DiversifyPolicy(p.max_non_allied_share, p.max_single_supplier_share)
        d = run_diversify(forced, policy, options)
        least = _least_cost(data, options)
        totals = {"cost_usd": d.objective_usd, "objective_usd": d.objective_usd}
        return (
            _summary(data, d.plan, least, []),
            totals,
            {"plan": d.plan, "capacity_value": d.capacity_value},
        )
    settings = _stress_settings(study, comp, window, data)
    least = _least_cost(data, options)
    if study.model == "stress":
        r = run_stress(data, scenarios, settings, options)
        extra = [
            r.expected_shortfall.drop("expected_shortfall_usd"),
            r.stock.select(*DEMAND, "days_of_cover"),
        ]
        row = r.summary.row(0, named=True)
        totals = {"cost_usd": row["contract_cost_usd"], "holding_cost_usd": row["holding_cost_usd"]}
        totals |= {
            k: row[k]
            for k in (
                "objective_usd",
                "expected_shortfall_t",
                "expected_shortfall_usd",
                "cvar_shortfall_usd",
                "cvar_level",
            )
        }
        tables = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
        tables["model_summary"] = tables.pop("summary")
        return _summary(data, r.plan, least, extra), totals, tables
    if study.model == "pooling":
        if "pooling" in comp.set_by:
            notes.append(
                "pooling: the family always compares going alone with pooling; the "
                "pooling knob does not apply"
            )
        rule = None
        if p.burden_rule == "equal":
            n = len(data.members)
            rule = pl.DataFrame({"member_iso3": list(data.members), "cost_share": [1.0 / n] * n})
        pr = run_pooling(data, scenarios, settings, rule, options)
        extra = [_expected(pr.pooled_shortfall), pr.pooled_stock.select(*DEMAND, "days_of_cover")]
        row = pr.summary.row(0, named=True)
        totals = {
            "cost_usd": float(pr.pooled_plan["cost_usd"].sum()),
            "holding_cost_usd": float(pr.pooled_stock["holding_cost_usd"].sum()),
            "objective_usd": row["pooled_total_usd"],
            "expected_shortfall_t": row["pooled_expected_shortfall_t"],
            "pooling_gain_usd": row["gain_usd"],
        }
        tables = {f.name: getattr(pr, f.name) for f in dataclasses.fields(pr)}
        tables["model_summary"] = tables.pop("summary")
        return _summary(data, pr.pooled_plan, least, extra), totals, tables
    strategies = _strategies(study, comp, data, scenarios, touched, notes)
    cs = CoercionSettings(policy=settings.policy, recourse=settings.recourse, stock=settings.stock)
    c = run_coercion(data, strategies, cs, options)
    strike = c.concessions.select(
        *DEMAND,
        pl.col("shortfall_t").alias("strike_shortfall_t"),
        pl.col("shortfall_share").alias("strike_shortfall_share"),
    )
    row = c.summary.row(0, named=True)
    totals = {
        k: row[k]
        for k in (
            "objective_usd",
            "contract_cost_usd",
            "holding_cost_usd",
            "best_strike",
            "worst_case_shortfall_usd",
        )
    }
    totals["cost_usd"] = totals.pop("contract_cost_usd")
    tables = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    tables["model_summary"] = tables.pop("summary")
    extra = [strike, c.stock.select(*DEMAND, "days_of_cover")]
    return _summary(data, c.plan, least, extra), totals, tables


def _policy_table(study: StudySpec, comp: Composition, window: float) -> pl.DataFrame:
    rows = [("members", str(study.members), "study")]
    for f in dataclasses.fields(Policy):
        value = getattr(comp.policy, f.name)
        if f.name == "allies" and value is None:
            value = study.allies
        shown = "—" if value is None else str(value)
        rows.append(
            (f.name, shown, comp.set_by.get(f.name, "study" if f.name == "allies" else "default"))
        )
    rows.append(("window_days", f"{window:g}", comp.set_by.get("disruption_days", "derived")))
    return pl.DataFrame(rows, schema=["knob", "value", "set_by"], orient="row")


def family_inputs(prep: PreparedRun) -> tuple[ModelData, DiversifyPolicy | StressSettings]:
    """What ``diversify`` or ``stress`` builds its model from.

    ``diversify``: the data with every disruption in force and its policy; ``stress``: the
    data and its settings.
    """
    p = prep.comp.policy
    if prep.study.model == "diversify":
        forced = in_force(prep.data, prep.scenarios, str(prep.study.catalogue.path))
        return forced, DiversifyPolicy(p.max_non_allied_share, p.max_single_supplier_share)
    return prep.data, _stress_settings(prep.study, prep.comp, prep.window, prep.data)


def check_run(
    study: StudySpec,
    scenario: str | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    disruption: Mapping[str, float] | None = None,
) -> None:
    """Raise the :class:`SpecError` a run would raise before it reads any data.

    Conflicting scenarios, event probabilities summing above one, a window shorter than
    a disruption, ``max_stock_days`` below ``min_stock_days``: cheap checks, so that a
    sweep rejects a bad point before it solves anything.
    """
    comp = override(study.compose(scenario), policy, disruption)
    window = DAYS_PER_YEAR if study.model == "diversify" else window_days(study, comp)
    scenario_frame(study, comp, window)
    if study.model != "diversify":
        _stock(study, comp)


def run_study(
    study: StudySpec,
    scenario: str | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    disruption: Mapping[str, float] | None = None,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
    options: SolverOptions | None = None,
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
        table), e.g. a full BACI build with chips.
    options
        Solver options.

    Raises
    ------
    resilience.scenarios.SpecError
        Unknown or conflicting scenarios, a commodity without bilateral trade that year
        (naming it and why), members without imports, disruptions that touch nothing,
        probabilities summing above one.
    resilience.optimize.solve.InfeasibleModelError
        With sentences naming the member, commodity and policy in conflict.
    """
    prep = prepare_run(study, scenario, policy=policy, disruption=disruption, trade=trade)
    comp, data, window = prep.comp, prep.data, prep.window
    log.info("study %s, scenario %s: %s model", study.name, prep.label, study.model)
    notes = list(prep.notes)
    with record_statuses() as statuses:
        summary, values, tables = _run_family(
            study, comp, data, prep.scenarios, list(prep.touched), window, notes, options
        )
    totals_row = {k: None for k in _TOTALS_SCHEMA} | values
    totals_row |= {
        "model": study.model,
        "scenario": prep.label,
        "year": study.year,
        "members": ", ".join(data.members),
        "window_days": window,
    }
    if totals_row["least_cost_usd"] is None:
        totals_row["least_cost_usd"] = float(summary["least_cost_usd"].sum())
    if totals_row["cost_usd"] is not None:
        totals_row["premium_usd"] = totals_row["cost_usd"] - totals_row["least_cost_usd"]
    totals = pl.DataFrame([totals_row], schema=_TOTALS_SCHEMA, orient="row")
    for note in notes:
        log.info("note: %s", note)
    everything = {
        "summary": summary,
        "totals": totals,
        "policy": _policy_table(study, comp, window),
        "disruptions": prep.disrupted,
        "notes": pl.DataFrame({"note": notes}, schema={"note": pl.String}),
        **tables,
    }
    return StudyResult(
        study.name,
        prep.label,
        study.model,
        study.year,
        summary,
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
