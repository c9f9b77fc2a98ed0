r"""Prepare a run: composition -> model data -> disruption frame (no model yet).

:func:`prepare_run` takes a :class:`~resilience.scenarios.StudySpec` and an optional
scenario expression (``taiwan_blockade+g7_friendshoring``), and

1. composes the policy and the disruptions (:meth:`StudySpec.compose`), with optional
   overrides on top (:func:`override`: knob values, and the availability/probability of
   every disruption event — what sweeps and notebooks vary);
2. builds :class:`~resilience.optimize.inputs.ModelData` from the shipped bilateral trade
   of the study's year for its members, allies and commodities — a commodity without
   bilateral trade that year, or that no member imports, is an error naming it and why;
3. turns every disruption event into rows of the scenario frame of
   :mod:`resilience.optimize.scenarios_data`. A disruption of :math:`d` days with
   availability :math:`a` inside a model window of :math:`D` days (the longest
   disruption, or the ``disruption_days`` knob) enters with

   .. math:: a_{\text{eff}} = 1 - (1 - a)\,d / D,

   which loses exactly the deliveries of the :math:`d` days over the window (the
   recourse model has no time steps inside its window). Events are mutually exclusive
   within the year; a calm scenario takes the remaining probability.

:mod:`resilience.study` runs the model families on what this returns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from resilience import data as shipped
from resilience.build.dependency import trade_shares
from resilience.build.monthly import (
    CHINA_EXPORTS_MONTHLY,
    EU_GAS_IMPORTS,
    load_china_monthly_map,
    with_source_tables,
)
from resilience.optimize import scenarios_data as sd
from resilience.optimize.inputs import COMMODITY_KEY, ModelData, apply_overrides, model_data
from resilience.optimize.recourse import DAYS_PER_YEAR
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.scenarios import Composition, DisruptionSpec, SpecError, SpecProblem, StudySpec

__all__ = [
    "DISRUPTION_OVERRIDES",
    "PreparedRun",
    "in_force",
    "override",
    "prepare_run",
    "scenario_frame",
    "window_days",
]

log = logging.getLogger(__name__)

ARC = ["member_iso3", "supplier_iso3", *COMMODITY_KEY]
SUPPLY = ["supplier_iso3", *COMMODITY_KEY]
CALM = "calm"


# ----------------------------------------------------------------------------- data
def _commodity_hint(commodity: str, stage: str) -> str:
    row = load_commodities().filter((pl.col("commodity") == commodity) & (pl.col("stage") == stage))
    codes = row["hs92_codes"][0] if row.height else None
    if not codes:
        return "it has no HS92 code, so bilateral trade data cannot represent it"
    hint = f"the trade table has no rows of its HS92 codes ({codes.replace(';', ', ')})"
    china = load_china_monthly_map().filter(
        (pl.col("commodity") == commodity) & (pl.col("stage") == stage)
    )
    if china.height and not (datasets_dir() / CHINA_EXPORTS_MONTHLY).exists():
        hint += (
            "; China's monthly exports (UN Comtrade, not shipped) would supply it: build "
            f"{CHINA_EXPORTS_MONTHLY} with `resilience data refresh`"
        )
    return hint


def _check_commodities(study: StudySpec, flows: pl.DataFrame) -> None:
    """Every study commodity has bilateral import quantities in the year."""
    traded = set(flows.select(COMMODITY_KEY).unique().iter_rows())
    missing = [(i, c, s) for i, (c, s) in enumerate(study.commodities) if (c, s) not in traded]
    if missing:
        allowed = ", ".join(sorted(f"{c}/{s}" for c, s in traded))
        raise SpecError(
            [
                SpecProblem(
                    str(study.path),
                    f"commodities[{i}]",
                    f"{c}/{s}",
                    f"no bilateral import quantities in {study.year}: {_commodity_hint(c, s)};"
                    " the models need them",
                    allowed,
                )
                for i, c, s in missing
            ]
        )


def _model_data(
    study: StudySpec, comp: Composition, bilateral: pl.LazyFrame, notes: list[str]
) -> ModelData:
    """Check coverage (year, commodities, members) and build the model data."""
    on, file = study.date, str(study.path)
    years = sorted(bilateral.select(pl.col("year").unique()).collect()["year"].to_list())
    if study.year not in years:
        span = f"{years[0]}-{years[-1]}" if years else "none"
        raise SpecError.single(file, "year", study.year, "no trade data for that year", span)
    flows = (
        bilateral.filter((pl.col("year") == study.year) & (pl.col("import_quantity_t") > 0))
        .select("importer_iso3", *COMMODITY_KEY)
        .unique()
        .collect()
    )
    _check_commodities(study, flows)
    wanted = pl.DataFrame(list(study.commodities), schema=COMMODITY_KEY, orient="row")
    flows = flows.join(wanted, on=COMMODITY_KEY, how="semi")
    importers = set(flows["importer_iso3"].to_list())
    members = study.members.resolve(on)
    idle = [m for m in members if m not in importers]
    need = "countries importing at least one of the study's commodities"
    explicit = [m for m in idle if m in study.members.countries]
    if explicit:
        reason = f"no recorded imports of the study's commodities in {study.year}"
        raise SpecError.single(file, "members", explicit, reason, need)
    if idle:
        notes.append(
            f"members of {study.members} without imports of these commodities in "
            f"{study.year} are left out: {', '.join(idle)}"
        )
    members = [m for m in members if m in importers]
    if not members:
        raise SpecError.single(file, "members", str(study.members), "none imports them", need)
    imported = set(
        flows.filter(pl.col("importer_iso3").is_in(members)).select(COMMODITY_KEY).rows()
    )
    for i, (c, s) in enumerate(study.commodities):
        if (c, s) not in imported:
            reason = f"no member imports it in {study.year}"
            raise SpecError.single(file, f"commodities[{i}]", f"{c}/{s}", reason, need)
    allies = (comp.policy.allies or study.allies).resolve(on)
    return model_data(
        bilateral,
        members,
        study.year,
        allies,
        list(study.commodities),
        spare_capacity_frac=comp.policy.spare_capacity,
    )


# ----------------------------------------------------------------------------- events
def _events(comp: Composition) -> list[tuple[str, list[DisruptionSpec]]]:
    """Disruptions grouped into events: per scenario, by name (unnamed ones together)."""
    groups: dict[tuple[str, str | None], list[DisruptionSpec]] = {}
    for scenario, d in comp.events:
        groups.setdefault((scenario, d.name), []).append(d)
    named = {sc for sc, name in groups if name is not None}
    return [
        (sc if name is None and sc not in named else f"{sc}.{name or 'main'}", ds)
        for (sc, name), ds in groups.items()
    ]


def window_days(study: StudySpec, comp: Composition) -> float:
    """Model window :math:`D` in days: the knob, else the longest disruption, else a year."""
    longest = max((d.duration_days for _, d in comp.events), default=DAYS_PER_YEAR)
    days = comp.policy.disruption_days
    if days is None:
        return longest
    if longest > days:
        raise SpecError.single(
            str(study.path),
            "policy.disruption_days",
            days,
            f"shorter than the longest disruption of the run ({longest:g} days)",
            f"a window of at least {longest:g} days",
        )
    return days


def scenario_frame(
    study: StudySpec, comp: Composition, window: float
) -> tuple[pl.DataFrame, list[str]]:
    r"""One scenario per event with :math:`a_\text{eff}`, plus a calm remainder.

    Probabilities must sum to at most one, except for ``diversify``, which ignores them.
    """
    rows: list[tuple[Any, ...]] = []
    labels: list[str] = []
    total = 0.0
    for label, group in _events(comp):
        p = group[0].probability
        labels.append(label)
        total += p
        rows.append((label, p, None, None, None, None, 1.0))  # kept even if it cuts nothing
        for d in group:
            a = 1.0 - (1.0 - d.availability) * d.duration_days / window
            targets: list[str | None] = list(d.targets.resolve(study.date)) if d.targets else [None]
            for s in d.suppliers.resolve(study.date):
                for t in targets:
                    rows += [
                        (label, p, s, t, c, st, a) for c, st in d.commodities or [(None, None)]
                    ]
    if total > 1.0 + sd.PROBABILITY_TOLERANCE and study.model != "diversify":
        probs = [(lab, g[0].probability) for lab, g in _events(comp)]
        raise SpecError.single(
            str(study.catalogue.path),
            "disruptions[*].probability",
            round(total, 12),
            f"the events {', '.join(f'{lab} ({p:g})' for lab, p in probs)} are mutually "
            "exclusive within a year, but their probabilities sum above 1",
            "a sum <= 1: compose fewer disruption scenarios",
        )
    frame = pl.DataFrame(rows, schema=sd.SCENARIO_SCHEMA, orient="row")
    if total < 1.0 - sd.PROBABILITY_TOLERANCE:
        frame = pl.concat([frame, sd.baseline(1.0 - total, CALM)])
    return frame, labels


def _restrict(
    study: StudySpec, data: ModelData, frame: pl.DataFrame, labels: list[str], notes: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Keep the rules that touch the data; an expression that touches nothing is an error.

    An event *touches* the study when its rules cover an arc of the data, whatever its
    availability (an override may set it to 1: the event then happens and cuts nothing).
    """
    restricted = sd.restrict_to_data(frame, data)
    arcs = sd.arc_availability(restricted, data)
    reach = restricted.with_columns(
        pl.when(pl.col("supplier_iso3").is_not_null())
        .then(0.0)
        .otherwise(pl.col("availability"))
        .alias("availability")
    )
    touched = set(sd.arc_availability(reach, data)["scenario"].to_list())
    quiet = [lab for lab in labels if lab not in touched]
    for lab in quiet:
        notes.append(
            f"{lab}: disrupts nothing in this study (none of its suppliers sells the "
            "modelled commodities to the members)"
        )
    if labels and len(quiet) == len(labels):
        raise SpecError.single(
            str(study.catalogue.path),
            "disruptions",
            labels,
            f"the scenario disrupts nothing in study {study.name!r}: its suppliers sell none of "
            f"{', '.join(f'{c}/{s}' for c, s in study.commodities)} to the members "
            f"({', '.join(data.members)}) in {study.year}",
            "a scenario whose suppliers and commodities meet the study's",
        )
    return restricted, arcs, [lab for lab in labels if lab in touched]


def in_force(data: ModelData, scenarios: pl.DataFrame, file: str) -> ModelData:
    """Diversify's data with every disruption in force: capacity scaled, embargoed arcs cut."""
    hit = scenarios.filter(pl.col("availability") < 1.0)
    out = data
    wide = sd.supplier_availability(hit, data).group_by(SUPPLY).agg(pl.col("availability").min())
    if wide.height:
        scaled = data.capacity.join(wide, on=SUPPLY).select(
            *SUPPLY, (pl.col("capacity_t") * pl.col("availability")).alias("capacity_t")
        )
        out = apply_overrides(out, capacity=scaled)
    aimed = hit.filter(pl.col("member_iso3").is_not_null())
    arcs = sd.arc_availability(aimed, data).group_by(ARC).agg(pl.col("availability").min())
    partial = arcs.filter(pl.col("availability") > 0)
    if partial.height:
        row = partial.row(0, named=True)
        raise SpecError.single(
            file,
            "disruptions",
            row,
            "diversify plans a year with every disruption in force and cannot cap one "
            "member's purchases from a supplier partially (availability after spreading the "
            "disruption's days over the year)",
            "targeted disruptions with availability 0 for 365 days, or model: stress",
        )
    return replace(out, arcs=out.arcs.join(arcs.select(ARC), on=ARC, how="anti"))


@dataclass(frozen=True)
class PreparedRun:
    """A run up to the model: composition, model data and the disruption frames.

    Attributes
    ----------
    study, comp, label
        The study, the composition in force (after overrides) and its label.
    data
        Model data of the study's members, allies and commodities in its year.
    window
        Model window :math:`D` in days.
    scenarios
        The scenario frame restricted to the data; ``disrupted``: the availability of
        every disrupted arc; ``touched``: labels of the events that disrupt something.
    notes
        Sentences about the run so far.
    """

    study: StudySpec
    comp: Composition
    label: str
    data: ModelData
    window: float
    scenarios: pl.DataFrame
    disrupted: pl.DataFrame
    touched: tuple[str, ...]
    notes: tuple[str, ...]


#: Disruption numbers an override may set for every event of a run.
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


def _shipped_shares() -> pl.DataFrame:
    """Bilateral shares of the shipped trade table, read once per version of the file.

    Sweeps build a run many times; the cache is keyed by the file's path, size and
    modification time (and those of China's exports and the EU gas-by-origin table, which
    :func:`~resilience.build.monthly.with_source_tables` applies), so a refreshed table is
    read again.
    """
    path = datasets_dir() / "trade.parquet"
    stat = path.stat()
    extra = tuple(
        (p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else None
        for p in (datasets_dir() / CHINA_EXPORTS_MONTHLY, datasets_dir() / EU_GAS_IMPORTS)
    )
    return _shares_of(str(path), stat.st_size, stat.st_mtime_ns, extra)


@lru_cache(maxsize=1)
def _shares_of(path: str, size: int, mtime_ns: int, extra: tuple[object, ...]) -> pl.DataFrame:
    return trade_shares(with_source_tables(shipped.scan_trade(Path(path)))).collect()


def prepare_run(
    study: StudySpec,
    scenario: str | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    disruption: Mapping[str, float] | None = None,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
) -> PreparedRun:
    """Steps 1-3 of a run (module docstring): compose, build the data, frame the events.

    ``policy`` and ``disruption`` are already validated overrides (see :func:`override`).
    """
    comp = override(study.compose(scenario), policy, disruption)
    label = "+".join(comp.names) or "base"
    notes: list[str] = []
    bilateral = _shipped_shares().lazy() if trade is None else trade_shares(trade.lazy())
    data = _model_data(study, comp, bilateral, notes)
    window = DAYS_PER_YEAR if study.model == "diversify" else window_days(study, comp)
    frame, labels = scenario_frame(study, comp, window)
    scenarios, disrupted, touched = _restrict(study, data, frame, labels, notes)
    return PreparedRun(
        study, comp, label, data, window, scenarios, disrupted, tuple(touched), tuple(notes)
    )
