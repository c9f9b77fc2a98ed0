r"""Disruption scenarios: one validated frame shared by the stress, coercion and pooling models.

A scenario set is a Polars frame with one row per disruption *rule*:

==============  ===========  ==========================================================
column          dtype        meaning
==============  ===========  ==========================================================
scenario        String       scenario (or adversary strategy) name
probability     Float64      :math:`\pi_w`, the same on every row of a scenario
supplier_iso3   String       the supplier whose deliveries are cut (null = every supplier)
member_iso3     String       towards which member (null = towards every member)
commodity       String       which commodity (null = all)
stage           String       which stage of it (null = all)
availability    Float64      fraction of the deliveries still arriving, in [0, 1]
==============  ===========  ==========================================================

Expanded to the model's arcs (:func:`arc_availability`) it gives
:math:`a_{s,m,c,w} \in [0, 1]`, *sparsely*: only disrupted arcs (:math:`a < 1`) get rows,
every other arc has availability 1. Where several rows of one scenario cover the same
arc, the **lowest** availability applies (rows are caps, not compounding cuts, so that
combining a scenario with itself changes nothing). A scenario without any disruption (a
calm year) is one row with every key null and availability 1 (:func:`baseline`).

Probabilities must each lie in (0, 1] and sum to 1 within 1e-9 (:func:`validate_scenarios`);
strategy sets of the coercion model carry uniform probabilities, which that model ignores.

Constructors return one-scenario frames; :func:`scenario_set` stacks them (optionally
filling the remaining probability with a calm baseline) and validates the result:

>>> s = scenario_set(blockade("CHN", probability=0.05), baseline_name="calm")  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.optimize.inputs import COMMODITY_KEY, ModelData

__all__ = [
    "PROBABILITY_TOLERANCE",
    "SCENARIO_SCHEMA",
    "CommoditySpec",
    "arc_availability",
    "baseline",
    "blockade",
    "check_names",
    "check_probabilities",
    "combine",
    "embargo",
    "outage",
    "probabilities",
    "restrict_to_data",
    "scenario_set",
    "supplier_availability",
    "uniform",
    "validate_scenarios",
]

log = logging.getLogger(__name__)

#: Column names and dtypes of a scenario frame.
SCENARIO_SCHEMA = pl.Schema(
    {
        "scenario": pl.String,
        "probability": pl.Float64,
        "supplier_iso3": pl.String,
        "member_iso3": pl.String,
        "commodity": pl.String,
        "stage": pl.String,
        "availability": pl.Float64,
    }
)
#: Probabilities must sum to one within this tolerance.
PROBABILITY_TOLERANCE = 1e-9
#: A commodity given as a name (all its stages) or a ``(commodity, stage)`` pair.
CommoditySpec = str | tuple[str, str]

_WILDCARDS = ["supplier_iso3", "member_iso3", "commodity", "stage"]
_ARC = ["member_iso3", "supplier_iso3", *COMMODITY_KEY]
_SUPPLY = ["supplier_iso3", *COMMODITY_KEY]


# ----------------------------------------------------------------------------- validation
def _problem(name: str, i: int, column: str, value: object, reason: str) -> DataProblem:
    return DataProblem(name, i + 2, column, value, reason)  # header = row 1


def check_probabilities(scenarios: pl.DataFrame, name: str = "scenarios") -> None:
    """Each probability in (0, 1], one per scenario, summing to 1 within 1e-9.

    Raises
    ------
    resilience.errors.DataError
        Naming the row, the column ``probability`` and the offending value.
    """
    problems: list[DataProblem] = []
    frame = scenarios.with_row_index("_i")
    for i, p in frame.select("_i", "probability").iter_rows():
        if p is None or not 0.0 < p <= 1.0:
            problems.append(_problem(name, i, "probability", p, "must lie in (0, 1]"))
    per = frame.group_by("scenario", maintain_order=True).agg(
        pl.col("probability").n_unique().alias("n"), pl.col("_i").first()
    )
    for sc, _, i in per.filter(pl.col("n") > 1).iter_rows():
        problems.append(
            _problem(name, i, "probability", sc, "differs between rows of the same scenario")
        )
    if problems:
        raise DataError(problems)
    total = float(frame.unique("scenario")["probability"].sum())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise DataError.single(
            name,
            None,
            "probability",
            total,
            "the scenarios' probabilities must sum to 1 (within 1e-9)",
        )


def validate_scenarios(scenarios: pl.DataFrame, name: str = "scenarios") -> pl.DataFrame:
    """Check columns, types, availabilities and probabilities; return the typed frame.

    Parameters
    ----------
    scenarios
        A scenario frame (see the module documentation).
    name
        What to call the frame in error messages.

    Raises
    ------
    resilience.errors.DataError
        Every problem found, each with row, column, value and reason.
    """
    missing = [c for c in SCENARIO_SCHEMA if c not in scenarios.columns]
    if missing:
        raise DataError(
            [DataProblem(name, None, c, None, "required column missing") for c in missing]
        )
    try:
        frame = scenarios.select(list(SCENARIO_SCHEMA)).cast(SCENARIO_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        raise DataError.single(name, None, "(columns)", None, f"wrong types: {exc}") from exc
    if frame.height == 0:
        raise DataError.single(name, None, "scenario", None, "no scenarios given")
    problems: list[DataProblem] = []
    for i, (sc, av) in enumerate(frame.select("scenario", "availability").iter_rows()):
        if sc is None or sc == "":
            problems.append(_problem(name, i, "scenario", sc, "scenario name missing"))
        if av is None or not 0.0 <= av <= 1.0:
            problems.append(_problem(name, i, "availability", av, "must lie in [0, 1]"))
    for i, (st, co) in enumerate(frame.select("stage", "commodity").iter_rows()):
        if st is not None and co is None:
            problems.append(_problem(name, i, "commodity", co, "a stage needs its commodity"))
    if problems:
        raise DataError(problems)
    check_probabilities(frame, name)
    return frame


def check_names(scenarios: pl.DataFrame, data: ModelData, name: str = "scenarios") -> None:
    """Every supplier, member, commodity and stage named in ``scenarios`` is in ``data``.

    A misspelt name would otherwise disrupt nothing, silently. Use
    :func:`restrict_to_members` or filter the frame to drop names on purpose.

    Raises
    ------
    resilience.errors.DataError
        One problem per offending row and column.
    """
    known = {
        "supplier_iso3": set(data.capacity["supplier_iso3"].to_list()),
        "member_iso3": set(data.members),
        "commodity": set(data.demand["commodity"].to_list()),
    }
    stages = set(data.demand.select(COMMODITY_KEY).unique().iter_rows())
    what = {
        "supplier_iso3": "no supplier of that name exports any modelled commodity",
        "member_iso3": "not a modelled member",
        "commodity": "no member imports that commodity",
    }
    problems: list[DataProblem] = []
    rows = scenarios.select("supplier_iso3", "member_iso3", "commodity", "stage").iter_rows()
    for i, (sup, mem, com, st) in enumerate(rows):
        for col, val in (("supplier_iso3", sup), ("member_iso3", mem), ("commodity", com)):
            if val is not None and val not in known[col]:
                problems.append(_problem(name, i, col, val, what[col]))
        if st is not None and com in known["commodity"] and (com, st) not in stages:
            problems.append(
                _problem(name, i, "stage", st, f"no member imports {com} at that stage")
            )
    if problems:
        raise DataError(problems)


# ----------------------------------------------------------------------------- expansion
def _expand(rules: pl.DataFrame, targets: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Match rules to target rows, a null rule key matching every value (sparse joins)."""
    parts: list[pl.DataFrame] = []
    wild = [k for k in _WILDCARDS if k in keys]
    for pattern in itertools.product((False, True), repeat=len(wild)):
        on = [k for k, is_null in zip(wild, pattern, strict=True) if not is_null]
        cond = [
            pl.col(k).is_null() if is_null else pl.col(k).is_not_null()
            for k, is_null in zip(wild, pattern, strict=True)
        ]
        part = rules.filter(*cond) if cond else rules
        if part.height == 0:
            continue
        part = part.drop([k for k in wild if k not in on])
        joined = part.join(targets, on=on) if on else part.join(targets, how="cross")
        parts.append(joined.select("scenario", *keys, "availability"))
    if not parts:
        schema = pl.Schema(
            [
                ("scenario", pl.String),
                *targets.select(keys).schema.items(),
                ("availability", pl.Float64),
            ]
        )
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(parts)
        .group_by("scenario", *keys)
        .agg(pl.col("availability").min())
        .filter(pl.col("availability") < 1.0)
        .sort("scenario", *keys)
    )


def arc_availability(scenarios: pl.DataFrame, data: ModelData) -> pl.DataFrame:
    r"""Availability :math:`a_{s,m,c,w}` of every *disrupted* arc (:math:`a < 1`).

    Returns
    -------
    polars.DataFrame
        ``scenario, member_iso3, supplier_iso3, commodity, stage, availability``; arcs
        not listed have availability 1. The lowest availability of the rows covering an
        arc applies.
    """
    rules = scenarios.select("scenario", *_WILDCARDS, "availability")
    return _expand(rules, data.arcs.select(_ARC), _ARC)


def supplier_availability(scenarios: pl.DataFrame, data: ModelData) -> pl.DataFrame:
    r"""Supplier-wide availability :math:`a_{s,c,w}` (rows towards every member), where < 1.

    This scales a supplier's spare capacity for spot purchases; rows aimed at one member
    (embargoes) act on that member's arcs only (:func:`arc_availability`).

    Returns
    -------
    polars.DataFrame
        ``scenario, supplier_iso3, commodity, stage, availability``.
    """
    rules = scenarios.filter(pl.col("member_iso3").is_null()).select(
        "scenario", "supplier_iso3", *COMMODITY_KEY, "availability"
    )
    return _expand(rules, data.capacity.select(_SUPPLY), _SUPPLY)


def probabilities(scenarios: pl.DataFrame) -> pl.DataFrame:
    """``scenario, probability``: one row per scenario, in order of first appearance."""
    return scenarios.select("scenario", "probability").unique("scenario", maintain_order=True)


def restrict_to_data(scenarios: pl.DataFrame, data: ModelData) -> pl.DataFrame:
    """Drop rules naming suppliers, members or commodities absent from ``data``.

    Every scenario and its probability is kept: one left without rules becomes calm (one
    all-null row, availability 1), e.g. an embargo on France seen by Germany going
    alone. Use it only on scenarios already checked against the full data
    (:func:`check_names`), since it hides misspelt names.
    """
    known_stage = data.demand.select(COMMODITY_KEY).unique()
    keep = scenarios.filter(
        (
            pl.col("supplier_iso3").is_null()
            | pl.col("supplier_iso3").is_in(data.capacity["supplier_iso3"].unique().to_list())
        )
        & (pl.col("member_iso3").is_null() | pl.col("member_iso3").is_in(list(data.members)))
        & (
            pl.col("commodity").is_null()
            | pl.col("commodity").is_in(known_stage["commodity"].unique().to_list())
        )
    )
    staged = keep.filter(pl.col("stage").is_not_null())
    keep = pl.concat(
        [
            keep.filter(pl.col("stage").is_null()),
            staged.join(known_stage, on=COMMODITY_KEY, how="semi"),
        ]
    )
    emptied = probabilities(scenarios).join(
        keep.select("scenario").unique(), on="scenario", how="anti"
    )
    calm = emptied.with_columns(
        *(pl.lit(None, dtype=pl.String).alias(k) for k in _WILDCARDS),
        pl.lit(1.0).alias("availability"),
    ).select(list(SCENARIO_SCHEMA))
    return pl.concat([keep.select(list(SCENARIO_SCHEMA)), calm])


# ----------------------------------------------------------------------------- constructors
def _commodity_rows(commodities: Iterable[CommoditySpec] | None) -> list[tuple[str | None, ...]]:
    if commodities is None:
        return [(None, None)]
    rows: list[tuple[str | None, ...]] = []
    for spec in commodities:
        if isinstance(spec, str):
            rows.append((spec, None))
        else:
            commodity, stage = spec
            rows.append((commodity, stage))
    if not rows:
        raise ValueError("commodities is empty; pass None for all commodities")
    return rows


def _frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCENARIO_SCHEMA, orient="row")


def _as_list(names: str | Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _check_share(what: str, value: float, low_open: bool = False) -> None:
    ok = (0.0 < value <= 1.0) if low_open else (0.0 <= value <= 1.0)
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{what} must lie in {interval}, got {value}")


def baseline(probability: float = 1.0, name: str = "baseline") -> pl.DataFrame:
    """A calm scenario: nothing disrupted."""
    _check_share("probability", probability, low_open=True)
    return _frame([(name, probability, None, None, None, None, 1.0)])


def blockade(
    supplier: str,
    commodities: Iterable[CommoditySpec] | None = None,
    availability: float = 0.0,
    *,
    probability: float = 1.0,
    name: str | None = None,
) -> pl.DataFrame:
    """A supplier's exports cut towards every member (e.g. a closed strait or export ban).

    Parameters
    ----------
    supplier
        ISO3 code of the blockaded supplier.
    commodities
        Commodity names (all stages) or ``(commodity, stage)`` pairs; ``None``: all.
    availability
        Fraction of its deliveries still arriving (0 = complete blockade).
    probability, name
        Scenario probability and name (default ``"blockade:<supplier>"``).
    """
    _check_share("availability", availability)
    _check_share("probability", probability, low_open=True)
    label = name or f"blockade:{supplier}"
    return _frame(
        [
            (label, probability, supplier, None, c, s, availability)
            for c, s in _commodity_rows(commodities)
        ]
    )


def embargo(
    adversary_members: str | Iterable[str],
    targets: str | Iterable[str] | None = None,
    commodities: Iterable[CommoditySpec] | None = None,
    *,
    availability: float = 0.0,
    probability: float = 1.0,
    name: str | None = None,
) -> pl.DataFrame:
    """A bloc of suppliers stops selling to chosen members (coercion).

    Parameters
    ----------
    adversary_members
        ISO3 codes of the embargoing suppliers (a bloc). List only suppliers present in
        the model data: unknown names are rejected when the model is built.
    targets
        Members embargoed; ``None``: every member.
    commodities
        Commodity names or ``(commodity, stage)`` pairs; ``None``: all.
    availability, probability, name
        Deliveries still arriving (default 0), scenario probability, scenario name
        (default ``"embargo:<bloc>-><targets>"``).
    """
    _check_share("availability", availability)
    _check_share("probability", probability, low_open=True)
    bloc = _as_list(adversary_members)
    if not bloc:
        raise ValueError("an embargo needs at least one adversary supplier")
    target_list: list[str | None] = [None] if targets is None else list(_as_list(targets))
    label = name or (
        f"embargo:{'+'.join(bloc)}->{'all' if targets is None else '+'.join(_as_list(targets))}"
    )
    return _frame(
        [
            (label, probability, sup, tgt, c, s, availability)
            for sup in bloc
            for tgt in target_list
            for c, s in _commodity_rows(commodities)
        ]
    )


def outage(
    suppliers: str | Iterable[str],
    commodities: Iterable[CommoditySpec] | None = None,
    availability: float = 0.5,
    *,
    probability: float = 1.0,
    name: str | None = None,
) -> pl.DataFrame:
    """A production outage: suppliers deliver only a fraction of their contracts and spare.

    Same shape as :func:`blockade` but for partial, accidental losses (a mine flood, a fab
    fire) at one or several suppliers; default availability 0.5.
    """
    _check_share("availability", availability)
    _check_share("probability", probability, low_open=True)
    sups = _as_list(suppliers)
    label = name or f"outage:{'+'.join(sups)}"
    return _frame(
        [
            (label, probability, sup, None, c, s, availability)
            for sup in sups
            for c, s in _commodity_rows(commodities)
        ]
    )


def combine(
    *frames: pl.DataFrame, name: str | None = None, probability: float = 1.0
) -> pl.DataFrame:
    """One scenario in which all the given one-scenario disruptions happen together.

    The joint scenario is named ``name`` (default the names joined by ``+``); an arc
    covered by several of them takes the lowest availability.
    """
    _check_share("probability", probability, low_open=True)
    names: list[str] = []
    for f in frames:
        got = f["scenario"].unique(maintain_order=True).to_list()
        if len(got) != 1:
            raise ValueError(f"combine takes one-scenario frames; got scenarios {got}")
        names.append(got[0])
    if not names:
        raise ValueError("combine needs at least one scenario")
    label = name or "+".join(names)
    return pl.concat([f.select(list(SCENARIO_SCHEMA)) for f in frames]).with_columns(
        pl.lit(label).alias("scenario"), pl.lit(probability).alias("probability")
    )


def scenario_set(*frames: pl.DataFrame, baseline_name: str | None = None) -> pl.DataFrame:
    """Stack scenario frames into one validated set.

    Parameters
    ----------
    frames
        Scenario frames; scenario names must not repeat across frames.
    baseline_name
        If given and the probabilities sum to less than 1, add a calm scenario of that
        name with the remaining probability.

    Raises
    ------
    resilience.errors.DataError
        Repeated names, bad probabilities or availabilities.
    """
    seen: dict[str, int] = {}
    for k, f in enumerate(frames):
        for sc in f["scenario"].unique().to_list():
            if sc in seen:
                raise DataError.single(
                    "scenarios", None, "scenario", sc, f"given in frames {seen[sc]} and {k}"
                )
            seen[sc] = k
    stacked = pl.concat([f.select(list(SCENARIO_SCHEMA)).cast(SCENARIO_SCHEMA) for f in frames])
    if baseline_name is not None:
        rest = 1.0 - float(probabilities(stacked)["probability"].sum())
        if rest > PROBABILITY_TOLERANCE:
            stacked = pl.concat([stacked, baseline(rest, baseline_name)])
    return validate_scenarios(stacked)


def uniform(*frames: pl.DataFrame) -> pl.DataFrame:
    """Stack frames and give every scenario the same probability (e.g. strategy sets)."""
    stacked = pl.concat([f.select(list(SCENARIO_SCHEMA)).cast(SCENARIO_SCHEMA) for f in frames])
    n = stacked["scenario"].n_unique()
    return validate_scenarios(stacked.with_columns(pl.lit(1.0 / n).alias("probability")))
