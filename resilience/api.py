"""The notebook API: ``import resilience as rs``.

Everything answers in Polars frames::

    import resilience as rs

    ds = rs.load_dataset()                       # dependency and metrics (lazy)
    g7 = rs.load_study("models/g7_critical_minerals.yaml")
    base = rs.run(g7)
    hit = rs.run(g7, "china_graphite_controls", policy={"min_stock_days": 30})
    rs.compare(base, hit)                        # per member, commodity and metric
    cut = rs.scenario(
        "indonesia_halves_nickel",
        description="Indonesia delivers half its nickel ore for 180 days",
        disruptions=[{"suppliers": "IDN", "commodities": ["nickel/mining"],
                      "availability": 0.5, "duration_days": 180, "probability": 0.1}],
    )
    rs.run(g7, [cut, "eu_crma_cap"])             # scenarios built in code compose too
    rs.sweep(g7, {"min_stock_days": [0, 30, 60], "availability": [0, 0.5]},
             scenario="china_graphite_controls")
    rs.frontier(g7, "china_graphite_controls")
    rs.plots.frontier(rs.frontier(g7))

Scenarios built in code go through the same validation as the catalogue file (errors
name ``<python>`` as the file); policy overrides through the same knob checks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resilience.build.pipeline import Inputs, dependency_and_metrics, load_inputs
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import (
    Catalogue,
    ScenarioSpec,
    SpecReader,
    StudySpec,
    as_study,
    load_catalogue,
    load_study,
    parse_scenario,
)
from resilience.study import SUMMARY_COLUMNS, StudyResult, run_study
from resilience.sweeps import frontier, sweep
from resilience.sweeps.knobs import parse_overrides

__all__ = [
    "Dataset",
    "compare",
    "frontier",
    "load_catalogue",
    "load_dataset",
    "load_study",
    "run",
    "scenario",
    "sweep",
]

log = logging.getLogger(__name__)

CODE = "<python>"
KEYS = ["member_iso3", "commodity", "stage"]


@dataclass(frozen=True)
class Dataset:
    """The supplier-country dependency dataset (lazy frames; ``.collect()`` to read)."""

    inputs: Inputs
    dependency: pl.LazyFrame
    metrics: pl.LazyFrame


def load_dataset(
    years: Iterable[int] | None = None,
    *,
    baci_path: str | Path | None = None,
    baci_codes: str | Path | None = None,
) -> Dataset:
    """Dependency and metrics tables built from the shipped data (or a BACI file).

    See :func:`resilience.build.pipeline.load_inputs` for the parameters.
    """
    inputs = load_inputs(
        years,
        Path(baci_path) if baci_path is not None else None,
        Path(baci_codes) if baci_codes is not None else None,
    )
    dependency, metrics = dependency_and_metrics(inputs)
    return Dataset(inputs, dependency, metrics)


def scenario(
    name: str,
    *,
    description: str,
    disruptions: Sequence[Mapping[str, Any]] = (),
    policy: Mapping[str, Any] | None = None,
    assumptions: Sequence[str] = (),
    sources: Sequence[str] = (),
) -> ScenarioSpec:
    """A scenario built in code, validated exactly like an entry of ``models/scenarios.yaml``.

    Raises
    ------
    resilience.scenarios.SpecError
        Naming ``<python>``, the key (``scenarios.<name>.disruptions[0].suppliers``...),
        the value and what is allowed.
    """
    entry: dict[str, Any] = {"description": description}
    if disruptions:
        entry["disruptions"] = [dict(d) for d in disruptions]
    if policy:
        entry["policy"] = dict(policy)
    if assumptions:
        entry["assumptions"] = list(assumptions)
    if sources:
        entry["sources"] = list(sources)
    reader = SpecReader(Path(CODE))
    spec = parse_scenario(reader, name, entry)
    reader.raise_if_any()
    assert spec is not None
    return spec


def _with_scenarios(
    study: StudySpec, chosen: str | ScenarioSpec | Sequence[str | ScenarioSpec] | None
) -> tuple[StudySpec, str | None]:
    """The study with in-code scenarios added to its catalogue, and the expression."""
    if chosen is None or isinstance(chosen, str):
        return study, chosen
    items = [chosen] if isinstance(chosen, ScenarioSpec) else list(chosen)
    extra = {s.name: s for s in items if isinstance(s, ScenarioSpec)}
    names = [s.name if isinstance(s, ScenarioSpec) else s for s in items]
    if not names:
        return study, None
    if extra:
        catalogue = Catalogue(study.catalogue.path, {**study.catalogue.scenarios, **extra})
        study = dataclasses.replace(study, catalogue=catalogue)
    return study, "+".join(names)


def run(
    study: StudySpec | str | Path,
    scenario: str | ScenarioSpec | Sequence[str | ScenarioSpec] | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
    options: SolverOptions | None = None,
) -> StudyResult:
    """Run a study (spec or file) under catalogue and/or in-code scenarios.

    Parameters
    ----------
    study
        A :class:`~resilience.scenarios.StudySpec` or the path of a study file.
    scenario
        ``"a+b"``, a :class:`~resilience.scenarios.ScenarioSpec` from :func:`scenario`,
        or a list of both (composed in order).
    policy
        Knob overrides on top of everything (``{"min_stock_days": 30}``); also
        ``availability`` and ``probability`` of every disruption event.
    trade, options
        Trade table (default: shipped) and solver options.
    """
    spec, expression = _with_scenarios(as_study(study), scenario)
    point = parse_overrides(policy or {}, source=CODE, key="policy")
    return run_study(
        spec,
        expression,
        policy=point.policy,
        disruption=point.disruption,
        trade=trade,
        options=options,
    )


def compare(a: StudyResult, b: StudyResult) -> pl.DataFrame:
    """Two runs side by side, one row per member, commodity and summary metric.

    Columns ``member_iso3, commodity, stage, metric, value_a, value_b, change`` (``b - a``),
    ``scenario_a, scenario_b``. Rows present in only one run (a member dropped by a
    scenario) keep nulls on the other side.
    """

    def long(result: StudyResult, side: str) -> pl.DataFrame:
        return result.summary.unpivot(
            index=KEYS, on=SUMMARY_COLUMNS, variable_name="metric", value_name=side
        )

    order = {m: i for i, m in enumerate(SUMMARY_COLUMNS)}
    return (
        long(a, "value_a")
        .join(long(b, "value_b"), on=[*KEYS, "metric"], how="full", coalesce=True)
        .with_columns(
            (pl.col("value_b") - pl.col("value_a")).alias("change"),
            pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_o"),
        )
        .sort([*KEYS, "_o"])
        .drop("_o")
        .with_columns(
            pl.lit(a.scenario).alias("scenario_a"), pl.lit(b.scenario).alias("scenario_b")
        )
    )
