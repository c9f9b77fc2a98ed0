"""Market parameters as data: cited elasticities, VOLL, frictions, ramps, prices and stocks.

The market core (DESIGN.md section 4) reads nine parameters per commodity and stage from
``datasets/market_parameters.csv`` and a reference price P0 from
``datasets/reference_prices.csv``. Every row carries its ``source`` and ``vintage``; the
data card in ``datasets/README.md`` says which numbers are published estimates and which
are modelling conventions with a cited basis.

Resolution order, per (commodity, stage) and parameter, first match wins:

1. an override (from a study, a scenario or code) for the good, then for the commodity,
   then for every good;
2. the exact row ``(commodity, stage)``;
3. the commodity row ``(commodity, *)`` (every stage of the commodity);
4. the sector default ``(*, *)`` of the commodity's sector.

A good for which none of these gives a value is an error naming the parameter, never a
silent zero. Bad values (a negative supply elasticity, a positive demand elasticity, a
VOLL multiple below 1, a ramp outside [0, 1], a share outside 0..1, negative working-stock
days), unknown commodities or
stages, unknown parameter names and duplicate keys are :class:`~resilience.errors.DataError`
naming file, row, column and value, whether they come from the table or from an override.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem, UnknownNameError
from resilience.paths import datasets_dir
from resilience.reference.alliances import bloc_ids, load_alliances
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import load_countries
from resilience.schemas.tables import (
    MARKET_PARAMETERS,
    GasInfrastructure,
    MarketParameters,
    ReferencePrices,
    StrategicStocks,
)
from resilience.schemas.validate import validate_frame

__all__ = [
    "Bound",
    "OVERRIDES_FILE",
    "PARAMETER_RULES",
    "ParameterRule",
    "load_gas_infrastructure",
    "load_market_parameters",
    "load_reference_prices",
    "load_strategic_stocks",
    "resolve_parameters",
]

logger = logging.getLogger(__name__)

#: Name used for overrides in error messages (they come from a study, scenario or code).
OVERRIDES_FILE = "overrides"
STAR = "*"
P0_COLUMN = "p0_usd_per_unit"
#: Which number of a parameter row to use: the value or an end of its published range.
Bound = Literal["value", "low", "high"]


@dataclass(frozen=True)
class ParameterRule:
    """What values a market parameter may take.

    Parameters
    ----------
    meaning
        One line saying what the parameter is, with its unit.
    is_valid
        Predicate on one value.
    requirement
        The requirement in words, used in error messages.
    """

    meaning: str
    is_valid: Callable[[float], bool]
    requirement: str


#: One rule per parameter of :data:`resilience.schemas.tables.MARKET_PARAMETERS`.
PARAMETER_RULES: dict[str, ParameterRule] = {
    "demand_elasticity": ParameterRule(
        "short-run own-price elasticity of demand", lambda v: v < 0, "must be negative (< 0)"
    ),
    "supply_elasticity": ParameterRule(
        "short-run own-price elasticity of supply", lambda v: v > 0, "must be positive (> 0)"
    ),
    "voll_multiple": ParameterRule(
        "value of the essential tranche, x reference price", lambda v: v >= 1, "must be >= 1"
    ),
    "essential_share": ParameterRule(
        "share of demand valued at VOLL", lambda v: 0 <= v <= 1, "must lie in 0..1"
    ),
    "friction_share": ParameterRule(
        "cost per unit of trade above observed flow or on a new arc, x reference price",
        lambda v: v >= 0,
        "must be >= 0",
    ),
    "ramp_share_per_month": ParameterRule(
        "monthly growth limit of an arc (0: no growth above observed flows, the policy "
        "spot=false)",
        lambda v: 0 <= v <= 1,
        "must lie in [0, 1]",
    ),
    "spare_capacity_share": ParameterRule(
        "share of output that can be added in the short run", lambda v: v >= 0, "must be >= 0"
    ),
    "holding_cost_share_per_month": ParameterRule(
        "cost of holding one unit for a month, x reference price",
        lambda v: v >= 0,
        "must be >= 0",
    ),
    "working_stock_days": ParameterRule(
        "working (commercial) inventory every consumer holds, days of its consumption",
        lambda v: v >= 0,
        "must be >= 0",
    ),
}
if set(PARAMETER_RULES) != set(MARKET_PARAMETERS):  # pragma: no cover - import-time guard
    raise RuntimeError("PARAMETER_RULES and MARKET_PARAMETERS name different parameters")

#: An override value for ``p0_usd_per_unit`` must be positive.
_P0_RULE = ParameterRule("reference price, USD per content unit", lambda v: v > 0, "must be > 0")


def _rule(parameter: str) -> ParameterRule:
    return _P0_RULE if parameter == P0_COLUMN else PARAMETER_RULES[parameter]


def _check_value(
    parameter: str, value: object, *, file: str, row: int | None, column: str
) -> list[DataProblem]:
    """Problems with one parameter value (empty list when it is fine)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [DataProblem(file, row, column, value, f"{parameter} must be a number")]
    if not math.isfinite(value):
        return [DataProblem(file, row, column, value, f"{parameter} must be finite")]
    rule = _rule(parameter)
    if not rule.is_valid(float(value)):
        return [DataProblem(file, row, column, value, f"{parameter} {rule.requirement}")]
    return []


def _read(schema: type[dy.Schema], path: Path) -> pl.DataFrame:
    """Validate ``path`` against ``schema``, keeping the 1-based ``source_row``."""
    raw = pl.read_csv(path, infer_schema=False)
    return validate_frame(schema, raw, file=path.name)


def _unknown_good_problems(
    frame: pl.DataFrame, commodities: pl.DataFrame, file: str
) -> list[DataProblem]:
    """Unknown commodity, unknown stage of a known commodity, or a sector that disagrees."""
    known = {c: s for c, s in commodities.select("commodity", "sector").unique().iter_rows()}
    stages = {(c, s) for c, s in commodities.select("commodity", "stage").iter_rows()}
    names = sorted(known)
    problems: list[DataProblem] = []
    for rec in frame.iter_rows(named=True):
        commodity, stage, row = rec["commodity"], rec["stage"], rec["source_row"]
        if commodity == STAR:
            if stage != STAR:
                problems.append(
                    DataProblem(
                        file,
                        row,
                        "stage",
                        stage,
                        "a sector default (commodity '*') must have stage '*'",
                    )
                )
            continue
        if commodity not in known:
            close = difflib.get_close_matches(commodity, names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            problems.append(
                DataProblem(file, row, "commodity", commodity, f"unknown commodity{hint}")
            )
            continue
        if stage != STAR and (commodity, stage) not in stages:
            have = sorted(s for c, s in stages if c == commodity)
            problems.append(
                DataProblem(
                    file,
                    row,
                    "stage",
                    stage,
                    f"{commodity} has no stage {stage!r} (known: {', '.join(have)})",
                )
            )
        if "sector" in rec and rec["sector"] != known[commodity]:
            problems.append(
                DataProblem(
                    file,
                    row,
                    "sector",
                    rec["sector"],
                    f"{commodity} belongs to sector {known[commodity]!r}",
                )
            )
    return problems


def _parameter_name_problems(path: Path) -> list[DataProblem]:
    """Unknown parameter names, with the closest known ones (before the schema's regex)."""
    raw = pl.read_csv(path, infer_schema=False)
    if "parameter" not in raw.columns:
        return []
    problems = []
    for row, name in enumerate(raw["parameter"].to_list(), start=2):
        if name is not None and name not in MARKET_PARAMETERS:
            close = difflib.get_close_matches(name, MARKET_PARAMETERS, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            problems.append(
                DataProblem(path.name, row, "parameter", name, f"unknown parameter{hint}")
            )
    return problems


@cache
def _load_parameters(path: Path) -> pl.DataFrame:
    unknown = _parameter_name_problems(path)
    if unknown:
        raise DataError(unknown)
    frame = _read(MarketParameters, path)
    problems = _unknown_good_problems(frame, load_commodities(), path.name)
    for rec in frame.iter_rows(named=True):
        for column in ("value", "low", "high"):
            if rec[column] is not None:
                problems += _check_value(
                    rec["parameter"],
                    rec[column],
                    file=path.name,
                    row=rec["source_row"],
                    column=column,
                )
    if problems:
        raise DataError(problems)
    return frame


def load_market_parameters(path: Path | None = None) -> pl.DataFrame:
    """Read and validate ``datasets/market_parameters.csv`` (one row per parameter).

    Parameters
    ----------
    path
        Another table with the same columns; default the shipped one.

    Returns
    -------
    polars.DataFrame
        Long frame: ``commodity``, ``stage``, ``sector``, ``parameter``, ``value``,
        ``low``, ``high``, ``unit``, ``source``, ``vintage``, ``url``, ``quote``, ``note``
        and ``source_row`` (the line in the file).

    Raises
    ------
    resilience.errors.DataError
        For every bad row: file, row, column, value and why.
    """
    return _load_parameters((path or datasets_dir() / "market_parameters.csv").resolve())


@cache
def _load_prices(path: Path) -> pl.DataFrame:
    frame = _read(ReferencePrices, path)
    problems = _unknown_good_problems(frame, load_commodities(), path.name)
    if problems:
        raise DataError(problems)
    return frame


def load_reference_prices(path: Path | None = None) -> pl.DataFrame:
    """Read and validate ``datasets/reference_prices.csv``: P0 per (commodity, stage, year).

    Returns
    -------
    polars.DataFrame
        ``p0_usd_per_unit`` in USD per the commodity's content unit (``unit``), with the
        source's own price, unit and the conversion factor, and ``source_row``.
    """
    return _load_prices((path or datasets_dir() / "reference_prices.csv").resolve())


def _holder_problems(frame: pl.DataFrame, file: str) -> list[DataProblem]:
    known = set(load_countries()["iso3"].to_list()) | set(bloc_ids(load_alliances()))
    problems = []
    for holder, row in frame.select("holder", "source_row").iter_rows():
        if holder not in known:
            close = difflib.get_close_matches(holder, sorted(known), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            problems.append(
                DataProblem(file, row, "holder", holder, f"not an ISO3 code or bloc id{hint}")
            )
    return problems


@cache
def _load_stocks(path: Path) -> pl.DataFrame:
    frame = _read(StrategicStocks, path)
    problems = _unknown_good_problems(frame, load_commodities(), path.name)
    problems += _holder_problems(frame, path.name)
    if problems:
        raise DataError(problems)
    return frame


def load_strategic_stocks(path: Path | None = None) -> pl.DataFrame:
    """Read and validate ``datasets/strategic_stocks.csv`` (obligations, targets, holdings).

    Returns
    -------
    polars.DataFrame
        One row per (``holder``, ``commodity``, ``stage``, ``item``) with ``basis``
        (days of net imports, days of consumption, share of storage capacity, share of
        annual consumption, USD or a quantity), ``value``, ``unit`` and citation columns.
    """
    return _load_stocks((path or datasets_dir() / "strategic_stocks.csv").resolve())


@cache
def _load_gas(path: Path) -> pl.DataFrame:
    frame = _read(GasInfrastructure, path)
    known = set(load_countries()["iso3"].to_list()) | set(bloc_ids(load_alliances()))
    known |= {"WLD", "EUROPE"}
    problems = [
        DataProblem(
            path.name,
            rec["source_row"],
            column,
            rec[column],
            f"region part {part!r} is not an ISO3 code, a bloc id, WLD or EUROPE",
        )
        for rec in frame.iter_rows(named=True)
        for column in ("from_region", "to_region")
        for part in rec[column].split("+")
        if part not in known
    ]
    if problems:
        raise DataError(problems)
    return frame


def load_gas_infrastructure(path: Path | None = None) -> pl.DataFrame:
    """Read and validate ``datasets/gas_infrastructure.csv`` (pipeline and LNG capacities).

    Returns
    -------
    polars.DataFrame
        One row per asset: ``kind`` (pipeline, lng_regas), ``from_region``/``to_region``
        (ISO3, bloc, ``WLD`` or ``EUROPE``; ``+`` joins several), ``capacity`` in the
        source's ``unit`` and ``capacity_bcm_per_year``.
    """
    return _load_gas((path or datasets_dir() / "gas_infrastructure.csv").resolve())


# --------------------------------------------------------------------------- resolution


def _good_key(key: object) -> tuple[str, str] | str | None:
    """``("cobalt", "refining")``/``"cobalt/refining"`` -> tuple; ``"cobalt"`` -> str."""
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
        return (key[0], key[1])
    if isinstance(key, str):
        if "/" in key:
            commodity, stage = key.split("/", 1)
            return (commodity, stage)
        return key
    return None


def _override_scope(key: object, goods: set[tuple[str, str]]) -> tuple[str, str] | DataProblem:
    """The scope ``(commodity, stage-or-*)`` an override key names, or why it is wrong."""
    good = _good_key(key)
    if good is None:
        return DataProblem(
            OVERRIDES_FILE,
            None,
            str(key),
            key,
            "an override is {parameter: value} or {good: {parameter: value}}",
        )
    commodity, stage = (good, STAR) if isinstance(good, str) else good
    known = sorted({c for c, _ in goods})
    if commodity not in known:
        close = difflib.get_close_matches(commodity, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return DataProblem(OVERRIDES_FILE, None, str(key), commodity, f"unknown commodity{hint}")
    if stage != STAR and (commodity, stage) not in goods:
        return DataProblem(
            OVERRIDES_FILE, None, str(key), stage, f"{commodity} has no stage {stage!r}"
        )
    return (commodity, stage)


def _parse_overrides(
    overrides: Mapping[object, object], commodities: pl.DataFrame
) -> dict[tuple[str, str], dict[str, float]]:
    """Overrides keyed by scope: ``("*","*")`` all goods, ``(c,"*")`` a commodity, ``(c,s)``.

    Accepted forms: ``{"demand_elasticity": -0.2}`` (every good),
    ``{"cobalt": {...}}`` (every stage of cobalt), ``{"cobalt/refining": {...}}`` or
    ``{("cobalt", "refining"): {...}}`` (one good).
    """
    names = (*MARKET_PARAMETERS, P0_COLUMN)
    goods = {(c, s) for c, s in commodities.select("commodity", "stage").iter_rows()}
    problems: list[DataProblem] = []
    scoped: dict[tuple[str, str], dict[str, float]] = {}

    def take(scope: tuple[str, str], parameter: object, value: object) -> None:
        where = str(parameter) if scope == (STAR, STAR) else f"{'/'.join(scope)}.{parameter}"
        if not isinstance(parameter, str) or parameter not in names:
            close = difflib.get_close_matches(str(parameter), names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            problems.append(
                DataProblem(
                    OVERRIDES_FILE, None, where, value, f"unknown parameter {parameter!r}{hint}"
                )
            )
            return
        bad = _check_value(parameter, value, file=OVERRIDES_FILE, row=None, column=where)
        problems.extend(bad)
        if not bad:
            scoped.setdefault(scope, {})[parameter] = float(value)  # type: ignore[arg-type]

    for key, value in overrides.items():
        if not isinstance(value, Mapping):
            take((STAR, STAR), key, value)
            continue
        scope = _override_scope(key, goods)
        if isinstance(scope, DataProblem):
            problems.append(scope)
            continue
        for parameter, v in value.items():
            take(scope, parameter, v)
    if problems:
        raise DataError(problems)
    return scoped


def _goods_frame(goods: Sequence[tuple[str, str]], commodities: pl.DataFrame) -> pl.DataFrame:
    known = commodities.select("commodity", "stage", "sector")
    names = sorted(set(known["commodity"].to_list()))
    stages = {(c, s) for c, s in known.select("commodity", "stage").iter_rows()}
    for commodity, stage in goods:
        if commodity not in names:
            raise UnknownNameError(
                "commodity", commodity, difflib.get_close_matches(commodity, names, n=3)
            )
        if (commodity, stage) not in stages:
            have = sorted(s for c, s in stages if c == commodity)
            raise UnknownNameError(f"stage of {commodity}", stage, have)
    frame = pl.DataFrame(
        {"commodity": [g[0] for g in goods], "stage": [g[1] for g in goods]},
        schema={"commodity": pl.String, "stage": pl.String},
    ).unique(maintain_order=True)
    return frame.join(known, on=["commodity", "stage"], how="left", maintain_order="left")


def _resolve_one(
    rows: dict[tuple[str, str, str], tuple[float, str]],
    scoped: dict[tuple[str, str], dict[str, float]],
    commodity: str,
    stage: str,
    sector: str,
    parameter: str,
) -> tuple[float, str] | None:
    """Value and source of one parameter for one good, in the documented order."""
    for scope in ((commodity, stage), (commodity, STAR), (STAR, STAR)):
        if parameter in scoped.get(scope, {}):
            return scoped[scope][parameter], f"override ({'/'.join(scope)})"
    candidates = (
        ((commodity, stage, parameter), f"{commodity}/{stage}"),
        ((commodity, STAR, parameter), f"{commodity}/*"),
        ((STAR, sector, parameter), f"{sector} sector default"),
    )
    for key, level in candidates:
        if key in rows:
            value, source = rows[key]
            return value, f"{source} [resolved from {level}]"
    return None


def _log_unmatched_overrides(
    scoped: dict[tuple[str, str], dict[str, float]], goods: pl.DataFrame
) -> None:
    """Say (at INFO) which commodity or good overrides match none of the goods asked."""
    asked = set(goods.select("commodity", "stage").iter_rows())
    for commodity, stage in scoped:
        if commodity != STAR and not any(c == commodity and stage in (STAR, s) for c, s in asked):
            logger.info("override for %s/%s matches none of the goods asked", commodity, stage)


def _rows_by_key(
    parameters: pl.DataFrame, bound: Bound
) -> dict[tuple[str, str, str], tuple[float, str]]:
    """``(commodity, stage, parameter)`` or ``("*", sector, parameter)`` -> (value, citation).

    ``bound`` picks the column: ``value``, or the published ``low``/``high`` end (a row
    without that end keeps its value, and its citation says so).
    """
    rows: dict[tuple[str, str, str], tuple[float, str]] = {}
    for rec in parameters.iter_rows(named=True):
        citation = f"{rec['source']} ({rec['vintage']})"
        value = rec["value"]
        if bound != "value":
            if rec[bound] is None:
                citation += f" {{no published {bound}: value kept}}"
            else:
                value = rec[bound]
                citation += f" {{{bound} end of the published range}}"
        middle = rec["sector"] if rec["commodity"] == STAR else rec["stage"]
        rows[(rec["commodity"], middle, rec["parameter"])] = (value, citation)
    return rows


def resolve_parameters(
    goods: Sequence[tuple[str, str]],
    overrides: Mapping[object, object] | None = None,
    *,
    year: int | None = None,
    parameters: pl.DataFrame | None = None,
    prices: pl.DataFrame | None = None,
    bound: Bound = "value",
) -> pl.DataFrame:
    """The full parameter set of each (commodity, stage), one wide row per good.

    Parameters
    ----------
    goods
        ``(commodity, stage)`` pairs, keys of ``datasets/commodities.csv``.
    overrides
        Values that replace the table's, validated like the table: ``{parameter: value}``
        for every good, ``{commodity: {parameter: value}}`` for every stage of a commodity,
        ``{"commodity/stage": {...}}`` or ``{(commodity, stage): {...}}`` for one good.
        ``p0_usd_per_unit`` may be overridden too.
    year
        Year of the reference price P0. ``None`` takes each good's latest year in
        ``reference_prices.csv`` (logged).
    parameters, prices
        Frames from :func:`load_market_parameters` / :func:`load_reference_prices`;
        default the shipped tables.
    bound
        ``"value"`` (default) or ``"low"``/``"high"``: the ends of each published range,
        for sensitivity runs (a row without that end keeps its value; the ``_source``
        column says which was used). Overrides always win.

    Returns
    -------
    polars.DataFrame
        ``commodity``, ``stage``, ``sector``, ``p0_usd_per_unit``, ``p0_year``,
        ``p0_source`` and, for each name in
        :data:`resilience.schemas.tables.MARKET_PARAMETERS`, a value column and a
        ``<parameter>_source`` column saying where the value came from (the citation and
        the level it was resolved from: the good, the commodity, the sector default, or an
        override). Resolution order: override (good > commodity > all) > exact
        (commodity, stage) > (commodity, ``*``) > sector default (``*``, ``*``).

    Raises
    ------
    resilience.errors.UnknownNameError
        A good that ``datasets/commodities.csv`` does not know (with close matches).
    resilience.errors.DataError
        A bad or unknown override; a good with no value for a parameter at any level; a
        good with no reference price for ``year`` (and no P0 override).
    """
    commodities = load_commodities()
    parameters = parameters if parameters is not None else load_market_parameters()
    prices = prices if prices is not None else load_reference_prices()
    scoped = _parse_overrides(overrides or {}, commodities)
    frame = _goods_frame(goods, commodities)
    _log_unmatched_overrides(scoped, frame)

    if bound not in ("value", "low", "high"):
        raise ValueError(f"bound must be 'value', 'low' or 'high', not {bound!r}")
    rows = _rows_by_key(parameters, bound)

    columns: dict[str, list[object]] = {}
    problems: list[DataProblem] = []
    for commodity, stage, sector in frame.iter_rows():
        for parameter in MARKET_PARAMETERS:
            found = _resolve_one(rows, scoped, commodity, stage, sector, parameter)
            if found is None:
                problems.append(
                    DataProblem(
                        "market_parameters.csv",
                        None,
                        parameter,
                        f"{commodity}/{stage}",
                        f"no value: no row for {commodity}/{stage}, {commodity}/* or the "
                        f"{sector} sector default, and no override",
                    )
                )
                found = (math.nan, "")
            columns.setdefault(parameter, []).append(found[0])
            columns.setdefault(f"{parameter}_source", []).append(found[1])
        p0 = _reference_price(prices, scoped, commodity, stage, year)
        if isinstance(p0, DataProblem):
            problems.append(p0)
            p0 = (math.nan, None, "")
        columns.setdefault(P0_COLUMN, []).append(p0[0])
        columns.setdefault("p0_year", []).append(p0[1])
        columns.setdefault("p0_source", []).append(p0[2])
    if problems:
        raise DataError(problems)

    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        P0_COLUMN: pl.Float64,
        "p0_year": pl.Int32,
        "p0_source": pl.String,
    }
    for parameter in MARKET_PARAMETERS:
        schema[parameter] = pl.Float64
        schema[f"{parameter}_source"] = pl.String
    wide = pl.DataFrame(columns, schema=schema)
    return pl.concat([frame, wide], how="horizontal")


def _reference_price(
    prices: pl.DataFrame,
    scoped: dict[tuple[str, str], dict[str, float]],
    commodity: str,
    stage: str,
    year: int | None,
) -> tuple[float, int | None, str] | DataProblem:
    for scope in ((commodity, stage), (commodity, STAR), (STAR, STAR)):
        if P0_COLUMN in scoped.get(scope, {}):
            return scoped[scope][P0_COLUMN], year, f"override ({'/'.join(scope)})"
    mine = prices.filter((pl.col("commodity") == commodity) & (pl.col("stage") == stage))
    years = sorted(mine["year"].to_list())
    if not years:
        return DataProblem(
            "reference_prices.csv",
            None,
            "commodity",
            f"{commodity}/{stage}",
            "no reference price for this good; add a row or override p0_usd_per_unit",
        )
    if year is None:
        year = years[-1]
        logger.info("reference price of %s/%s: latest year %d", commodity, stage, year)
    hit = mine.filter(pl.col("year") == year)
    if hit.height == 0:
        return DataProblem(
            "reference_prices.csv",
            None,
            "year",
            year,
            f"no reference price for {commodity}/{stage} in {year} "
            f"(years available: {', '.join(map(str, years))})",
        )
    rec = hit.row(0, named=True)
    return rec[P0_COLUMN], year, f"{rec['source']} ({rec['vintage']})"
