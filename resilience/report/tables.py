"""The report's tables computed as Polars frames, in the schemas of :mod:`.schemas`.

* ``dependency`` and ``metrics``: the build (:mod:`resilience.build.pipeline`) for the
  data year — the latest trade year no later than the as-of year — filtered to the
  definition's importers and commodities;
* ``scenarios`` and ``scenario_summary``: :func:`resilience.study.run_study` for every
  scenario of every study; an infeasible run is a row (a finding), not a failure;
* ``frontier``: :func:`resilience.sweeps.frontier` for every study that asks for one;
* ``ranking``: :func:`resilience.ranking.rank_commodities` for the definition's
  ``ranking`` importer (or ``--rank-importer``) on the data year.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from resilience import data as shipped
from resilience.build.materiality import row_is_material
from resilience.build.pipeline import dependency_and_metrics, load_inputs
from resilience.optimize.diagnostics import (
    InfeasibleModelError,
    InfeasibleOrUnboundedModelError,
    OptimizationError,
    SolverLimitError,
)
from resilience.report.definition import BASE, RankingSpec, ReportDefinition, StudyEntry
from resilience.report.schemas import SCENARIOS, TABLES, TOTALS, ReportError, conform, empty
from resilience.scenarios import SpecError
from resilience.study import run_study
from resilience.sweeps import frontier

__all__ = [
    "FINDINGS",
    "ScenarioTables",
    "data_year",
    "dependency_tables",
    "frontier_table",
    "scenario_tables",
]

log = logging.getLogger(__name__)

#: Outcomes of a scenario run recorded as findings (a row with its status and reason),
#: not as a failure of the report. Base-case spec errors, solver failures and unbounded
#: models fail the report.
FINDINGS: dict[type[Exception], str] = {
    InfeasibleOrUnboundedModelError: "infeasible_or_unbounded",
    InfeasibleModelError: "infeasible",
    SolverLimitError: "limit",  # as optimize.diagnostics.status_of names it
    SpecError: "not_applicable",
}


# ----------------------------------------------------------------------------- data
def data_year(as_of_year: int, years: Iterable[int]) -> int:
    """The latest trade year no later than the as-of year.

    Raises
    ------
    ReportError
        No trade year is that early.
    """
    available = sorted(set(years))
    eligible = [y for y in available if y <= as_of_year]
    if not eligible:
        span = f"{available[0]}-{available[-1]}" if available else "none"
        raise ReportError(
            f"no trade data for {as_of_year} or earlier (trade years available: {span}); "
            "choose a later --as-of"
        )
    return eligible[-1]


def dependency_tables(
    definition: ReportDefinition, as_of_year: int
) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    """The data year and the dependency and metrics tables of the report.

    Returns
    -------
    tuple
        ``(year, dependency, metrics)``, both frames conformed to their schemas.
    """
    years = shipped.scan_trade().select(pl.col("year").unique()).collect()["year"].to_list()
    year = data_year(as_of_year, years)
    inputs = load_inputs(years=[year])
    dependency, metrics = dependency_and_metrics(inputs)
    keys = ["year", "importer_iso3", "commodity", "stage"]
    metrics = metrics.join(row_is_material(dependency), on=keys, how="left")
    if definition.importers is not None:
        keep = definition.importers.resolve(dt.date(year, 12, 31))
        dependency = dependency.filter(pl.col("importer_iso3").is_in(keep))
        metrics = metrics.filter(pl.col("importer_iso3").is_in(keep))
    if definition.commodities is not None:
        wanted = pl.lit(False)
        for commodity, stage in definition.commodities:
            hit = pl.col("commodity") == commodity
            wanted = wanted | (hit if stage is None else hit & (pl.col("stage") == stage))
        dependency, metrics = dependency.filter(wanted), metrics.filter(wanted)
    dep, met = pl.collect_all([dependency, metrics])
    log.info("data year %d: %d dependency rows, %d metrics rows", year, dep.height, met.height)
    return year, conform(dep, TABLES["dependency"]), conform(met, TABLES["metrics"])


# ----------------------------------------------------------------------------- studies
@dataclass(frozen=True)
class ScenarioTables:
    """The ``scenarios`` and ``scenario_summary`` tables of a report."""

    scenarios: pl.DataFrame
    summary: pl.DataFrame
    members: pl.DataFrame


def _finding(exc: Exception) -> str | None:
    for kind, status in FINDINGS.items():
        if isinstance(exc, kind):
            return status
    return None


def _run(
    entry: StudyEntry, expr: str
) -> tuple[dict[str, object], tuple[pl.DataFrame, pl.DataFrame] | None]:
    """One scenario of one study: its ``scenarios`` row, summary and members (or ``None``)."""
    study = entry.study
    scenario = None if expr == BASE else expr
    composed = "+".join(study.compose(scenario).names) or BASE
    row: dict[str, object] = dict.fromkeys(SCENARIOS)
    row |= {"study": study.name, "year": study.year, "model": study.model}
    row |= {"scenario": expr, "composed": composed}
    try:
        result = run_study(study, scenario)
    except (OptimizationError, SpecError) as exc:
        status = _finding(exc)
        if status is None or (scenario is None and isinstance(exc, SpecError)):
            raise  # a solver failure, or a study whose base case cannot run
        log.info("study %s, scenario %s: %s", study.name, expr, status)
        return row | {"status": status, "reason": str(exc)}, None
    totals = result.totals.row(0, named=True)
    row |= {k: totals[k] for k in TOTALS} | {"status": result.status}
    keys = (pl.lit(study.name).alias("study"), pl.lit(expr).alias("scenario"))
    members = result.members.rename({"scenario": "event"}).with_columns(*keys)
    return row, (result.summary.with_columns(*keys), members)


def scenario_tables(entries: Iterable[StudyEntry]) -> ScenarioTables:
    """Run every scenario of every study; infeasible runs are rows, not failures.

    Raises
    ------
    resilience.scenarios.SpecError
        A study's base case cannot run (no trade that year, members without imports...).
    resilience.optimize.diagnostics.OptimizationError
        HiGHS failed, or a model is unbounded.
    """
    rows: list[dict[str, object]] = []
    summaries: list[pl.DataFrame] = []
    members: list[pl.DataFrame] = []
    for entry in entries:
        for expr in entry.scenarios:
            row, frames = _run(entry, expr)
            rows.append(row)
            if frames is not None:
                summaries.append(conform(frames[0], TABLES["scenario_summary"]))
                members.append(conform(frames[1], TABLES["scenario_members"]))
    scenarios = pl.DataFrame(rows, schema=SCENARIOS, orient="row")
    summary = pl.concat(summaries) if summaries else empty(TABLES["scenario_summary"])
    member = pl.concat(members) if members else empty(TABLES["scenario_members"])
    return ScenarioTables(
        conform(scenarios, TABLES["scenarios"]),
        conform(summary, TABLES["scenario_summary"]),
        conform(member, TABLES["scenario_members"]),
    )


def frontier_table(entries: Iterable[StudyEntry]) -> pl.DataFrame:
    """The cost-exposure frontier (:func:`resilience.sweeps.frontier`) of each study.

    Only the studies whose definition entry asks for one.
    """
    frames: list[pl.DataFrame] = []
    for entry in entries:
        if entry.frontier is None:
            continue
        spec = entry.frontier
        shares = list(spec.shares) if spec.shares is not None else None
        log.info("frontier of %s (%s)", entry.study.name, spec.scenario or BASE)
        frame = frontier(entry.study, spec.scenario, shares=shares, points=spec.points)
        frames.append(conform(frame, TABLES["frontier"]))
    return conform(pl.concat(frames), TABLES["frontier"]) if frames else empty(TABLES["frontier"])


# ----------------------------------------------------------------------------- ranking
def ranking_table(spec: RankingSpec, as_of_year: int) -> pl.DataFrame:
    """The ``ranking`` table: ``spec.importer``'s goods by expected annual welfare loss.

    The trade year is the report's data year (the latest no later than ``as_of_year``);
    the goods are ``spec.commodities`` or every good a risk event of the catalogue names.
    """
    from resilience.ranking import named_goods, rank_commodities
    from resilience.reference.commodities import load_commodities
    from resilience.scenarios import load_catalogue

    years = shipped.scan_trade().select(pl.col("year").unique()).collect()["year"].to_list()
    year = data_year(as_of_year, years)
    catalogue = load_catalogue(spec.catalogue)
    goods = spec.commodities
    if goods is None:
        known = [f"{c}/{s}" for c, s in load_commodities().select("commodity", "stage").rows()]
        goods = tuple(
            (g.partition("/")[0], g.partition("/")[2]) for g in named_goods(catalogue, known)
        )
    frame = rank_commodities(
        spec.importer, list(goods), year=year, catalogue=catalogue, label=spec.label
    )
    log.info("ranking of %s, %d: %d goods", spec.label, year, frame.height)
    return conform(frame, TABLES["ranking"])
