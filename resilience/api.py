"""The notebook API: ``import resilience as rs``.

Everything answers in Polars frames::

    import resilience as rs

    ds = rs.load_dataset()                       # dependency and metrics (lazy)
    g7 = rs.load_study("models/g7_critical_minerals.yaml")
    base = rs.run(g7)
    priced = rs.market(g7, "china_graphite_controls")  # welfare loss in USD, prices
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
name ``<python>`` as the file); policy overrides through the same knob checks. An argument
of the wrong kind (``rs.run(None)``, ``rs.sweep(study, [0, 30])``, ``rs.load_dataset("2023")``)
raises :class:`~resilience.scenarios.SpecError` naming the function, the argument, the
value and what is allowed, before any work is done.
"""

from __future__ import annotations

import dataclasses
import logging
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resilience import scenarios as _scenarios
from resilience import sweeps as _sweeps
from resilience.build.pipeline import Inputs, dependency_and_metrics, load_inputs
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import (
    Catalogue,
    ScenarioSpec,
    SpecError,
    SpecReader,
    StudySpec,
    as_study,
    parse_scenario,
)
from resilience.study import SUMMARY_COLUMNS, StudyResult, run_study
from resilience.sweeps.knobs import parse_overrides

__all__ = [
    "Dataset",
    "compare",
    "frontier",
    "load_catalogue",
    "load_dataset",
    "load_study",
    "market",
    "run",
    "scenario",
    "sweep",
]

log = logging.getLogger(__name__)

CODE = "<python>"
KEYS = ["member_iso3", "commodity", "stage"]

_PATH = "a file path (str or pathlib.Path)"
_STUDY = "a StudySpec from rs.load_study(...) or the path of a study file (str or Path)"
_SCENARIOS = (
    "None, a scenario name or 'a+b' (str), a ScenarioSpec from rs.scenario(...), "
    "or a list of names and ScenarioSpecs"
)


# ----------------------------------------------------------------------------- argument checks
class _Shown:
    """A value as the error shows it: its repr, cut to a readable length."""

    def __init__(self, value: object) -> None:
        self.text = reprlib.repr(value)

    def __repr__(self) -> str:
        return self.text


def _refuse(func: str, argument: str, value: object, allowed: str) -> SpecError:
    """The error for ``func(argument=value)`` of the wrong kind: names all four."""
    return SpecError.single(
        CODE,
        f"{func}({argument}=...)",
        _Shown(value),
        f"wrong type {type(value).__name__}",
        allowed,
    )


def _is_text_list(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _check_path(func: str, argument: str, value: object, *, optional: bool = False) -> None:
    if (value is None and optional) or isinstance(value, str | Path):
        return
    raise _refuse(func, argument, value, _PATH + (" or None" if optional else ""))


def _check_study(func: str, study: object) -> None:
    if not isinstance(study, StudySpec | str | Path):
        raise _refuse(func, "study", study, _STUDY)


def _check_scenarios(func: str, chosen: object) -> None:
    if chosen is None or isinstance(chosen, str | ScenarioSpec):
        return
    if isinstance(chosen, list | tuple) and all(isinstance(c, str | ScenarioSpec) for c in chosen):
        return
    raise _refuse(func, "scenario", chosen, _SCENARIOS)


def _check_mapping(func: str, argument: str, value: object, example: str) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise _refuse(func, argument, value, f"a dict such as {example}, or None")


def _check_run_extras(func: str, trade: object, options: object) -> None:
    if trade is not None and not isinstance(trade, pl.DataFrame | pl.LazyFrame):
        raise _refuse(func, "trade", trade, "a polars DataFrame or LazyFrame, or None")
    if options is not None and not isinstance(options, SolverOptions):
        raise _refuse(func, "options", options, "a resilience.optimize.solve.SolverOptions")


def _check_years(years: object) -> list[int] | None:
    """``years`` as a list of whole years (read once: a generator is fine)."""
    if years is None:
        return None
    allowed = "None or a list of whole years such as [2022, 2023]"
    if isinstance(years, str | bytes | int | float | Mapping) or not isinstance(years, Iterable):
        raise _refuse("load_dataset", "years", years, allowed)
    chosen = list(years)
    for year in chosen:
        if isinstance(year, bool) or not isinstance(year, int):
            raise _refuse("load_dataset", "years", year, allowed)
    return chosen


def load_study(path: str | Path, catalogue: Catalogue | str | Path | None = None) -> StudySpec:
    """Read and validate a study file (see :func:`resilience.scenarios.load_study`)."""
    _check_path("load_study", "path", path)
    if catalogue is not None and not isinstance(catalogue, Catalogue):
        _check_path("load_study", "catalogue", catalogue, optional=True)
    return _scenarios.load_study(path, catalogue)


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a scenario catalogue (see :func:`resilience.scenarios.load_catalogue`)."""
    _check_path("load_catalogue", "path", path)
    return _scenarios.load_catalogue(path)


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

    Raises
    ------
    resilience.scenarios.SpecError
        If ``years`` is not a list of whole years (``"2023"`` or ``2023`` alone are
        refused: write ``[2023]``) or a path is not a path.
    """
    chosen = _check_years(years)
    _check_path("load_dataset", "baci_path", baci_path, optional=True)
    _check_path("load_dataset", "baci_codes", baci_codes, optional=True)
    inputs = load_inputs(
        chosen,
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
    if not isinstance(name, str):
        raise _refuse("scenario", "name", name, "a scenario name (str)")
    if not isinstance(description, str):
        raise _refuse("scenario", "description", description, "a text (str)")
    if isinstance(disruptions, Mapping | str) or not all(
        isinstance(d, Mapping) for d in disruptions
    ):
        raise _refuse(
            "scenario", "disruptions", disruptions, "a list of dicts, one per disruption event"
        )
    _check_mapping("scenario", "policy", policy, "{'min_stock_days': 30}")
    for argument, value in (("assumptions", assumptions), ("sources", sources)):
        if not _is_text_list(value):
            raise _refuse("scenario", argument, value, "a list of texts (str)")
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
    settings: Any = None,
) -> StudyResult:
    """Run a study (spec or file) under catalogue and/or in-code scenarios, on the market core.

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
    settings
        A :class:`resilience.optimize.market.StudyMarketSettings` (horizon, regions,
        blocks); default 12 months, the top 10 other importers, producers above 1 %.

    Raises
    ------
    resilience.scenarios.SpecError
        If an argument is of the wrong kind (naming it, the value and what is allowed),
        or the study, scenarios or policy are invalid.
    """
    from resilience.optimize.market.from_data import StudyMarketSettings

    if settings is not None and not isinstance(settings, StudyMarketSettings):
        raise _refuse("run", "settings", settings, "a StudyMarketSettings, or None")
    _check_study("run", study)
    _check_scenarios("run", scenario)
    _check_mapping("run", "policy", policy, "{'min_stock_days': 30}")
    _check_run_extras("run", trade, options)
    spec, expression = _with_scenarios(as_study(study), scenario)
    point = parse_overrides(policy or {}, source=CODE, key="policy")
    return run_study(
        spec,
        expression,
        policy=point.policy,
        disruption=point.disruption,
        trade=trade,
        options=options,
        settings=settings,
    )


def market(
    study: StudySpec | str | Path,
    scenario: str | ScenarioSpec | Sequence[str | ScenarioSpec] | None = None,
    *,
    overrides: Mapping[object, object] | None = None,
    settings: Any = None,
    options: SolverOptions | None = None,
) -> dict[str, pl.DataFrame]:
    """What a disruption costs on the market core (DESIGN §4), as Polars frames.

    The study's members, top importers, producers and rest of world trade month by
    month; the scenario's events cut arcs; prices are the market's
    (:func:`resilience.optimize.market.run_study_market`).

    Parameters
    ----------
    study, scenario
        As in :func:`run` (the study's ``base_scenario`` is always in).
    overrides
        Market parameters replacing the cited ones (``{"graphite": {"demand_elasticity":
        -0.1}}``), validated like ``datasets/market_parameters.csv``.
    settings
        A :class:`resilience.optimize.market.StudyMarketSettings` (horizon, regions,
        blocks); default 12 months, the top 10 other importers, producers above 1 %.
    options
        Solver options.

    Returns
    -------
    dict[str, polars.DataFrame]
        ``"members"``: per member, scenario and good, ``welfare_loss_usd``,
        ``consumer_loss_usd``, ``producer_gain_usd``, ``price_rise_max_pct``,
        ``shed_units``, ``shed_pct``, ``stock_drawdown_max_units``; ``"shed"``: demand
        shed per member, good, month and scenario; ``"prices"``: every node's price path
        with ``rise_pct``; ``"gains"``: who gains (producer surplus up); ``"stocks"``:
        which member holds which stock and why; ``"out_of_scope"``: events the market
        cannot resolve.
    """
    from resilience.optimize.market.from_data import StudyMarketSettings, run_study_market

    if settings is not None and not isinstance(settings, StudyMarketSettings):
        raise _refuse("market", "settings", settings, "a StudyMarketSettings, or None")
    _check_study("market", study)
    _check_scenarios("market", scenario)
    _check_mapping("market", "overrides", overrides, "{'graphite': {'demand_elasticity': -0.1}}")
    spec, expression = _with_scenarios(as_study(study), scenario)
    result = run_study_market(
        spec,
        expression,
        settings,
        overrides=overrides,
        options=options,
    )
    return {
        "members": result.members(),
        "shed": result.shed(),
        "prices": result.price_rise(),
        "gains": result.gains(),
        "stocks": result.market.stocks,
        "out_of_scope": result.market.out_of_scope,
    }


def compare(a: StudyResult, b: StudyResult) -> pl.DataFrame:
    """Two runs side by side, one row per member, commodity and summary metric.

    Columns ``member_iso3, commodity, stage, metric, value_a, value_b, change`` (``b - a``),
    ``scenario_a, scenario_b``. Rows present in only one run (a member dropped by a
    scenario) keep nulls on the other side.

    Raises
    ------
    resilience.scenarios.SpecError
        If ``a`` or ``b`` is not a result of :func:`run`.
    """
    for argument, value in (("a", a), ("b", b)):
        if not isinstance(value, StudyResult):
            raise _refuse("compare", argument, value, "a StudyResult from rs.run(...)")

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


def sweep(
    study: StudySpec | str | Path,
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame,
    **kwargs: Any,
) -> pl.DataFrame:
    """Solve ``study`` at every point of a knob grid; see :func:`resilience.sweeps.sweep`.

    Raises
    ------
    resilience.scenarios.SpecError
        If ``study``, ``grid`` (a dict ``{knob: [values]}`` or a frame of points),
        ``scenario``, ``trade`` or ``options`` is of the wrong kind, or the grid is invalid.
    """
    _check_study("sweep", study)
    if not isinstance(grid, Mapping | pl.DataFrame):
        raise _refuse(
            "sweep",
            "grid",
            grid,
            "a dict {knob: [values]} such as {'min_stock_days': [0, 30]}, or a polars "
            "DataFrame of points (one column per knob)",
        )
    scenario = kwargs.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        raise _refuse("sweep", "scenario", scenario, "a scenario name or 'a+b' (str), or None")
    _check_run_extras("sweep", kwargs.get("trade"), kwargs.get("options"))
    return _sweeps.sweep(study, grid, **kwargs)


def frontier(
    study: StudySpec | str | Path, scenario: str | None = None, **kwargs: Any
) -> pl.DataFrame:
    """Cost against exposure for ``study``; see :func:`resilience.sweeps.frontier`.

    Raises
    ------
    resilience.scenarios.SpecError
        If ``study``, ``scenario``, ``points`` (a whole number >= 2), ``shares`` (a list of
        numbers in [0, 1]) or ``options`` is of the wrong kind.
    """
    _check_study("frontier", study)
    if scenario is not None and not isinstance(scenario, str):
        raise _refuse("frontier", "scenario", scenario, "a scenario name or 'a+b' (str), or None")
    points = kwargs.get("points", 11)
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise _refuse("frontier", "points", points, "a whole number >= 2")
    shares = kwargs.get("shares")
    if shares is not None and (
        isinstance(shares, str | Mapping)
        or not isinstance(shares, Iterable)
        or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x <= 1 for x in shares
        )
    ):
        raise _refuse("frontier", "shares", shares, "a list of numbers in [0, 1], or None")
    _check_run_extras("frontier", None, kwargs.get("options"))
    return _sweeps.frontier(study, scenario, **kwargs)
