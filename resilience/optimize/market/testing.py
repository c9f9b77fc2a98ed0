r"""Market worlds for tests, examples and benchmarks, and a second build of the LP.

- :func:`parameters` — a parameter table (columns of
  :data:`~resilience.optimize.market.inputs.PARAMETER_COLUMNS`) from
  :data:`DEFAULT_PARAMETERS` and overrides;
- :func:`world` — a :class:`~resilience.optimize.market.inputs.MarketInputs` from
  ``{(node, good): quantity}`` dictionaries;
- :func:`cut` — availability rows for a cut (production when ``destination`` is
  :data:`~resilience.optimize.market.inputs.ALL`, else one arc) over some months;
- :func:`synthetic_world` — a made-up world of any size (nodes x commodities x months x
  scenarios) with refineries, stocks, cuts and embargoes, calibrated to its observed
  flows;
- :func:`highspy_twin`, :func:`solve_twin`, :func:`read_twin` — the market LP built a
  second time from the inputs with Polars/NumPy straight into a ``highspy.HighsLp``
  (no Pyomo): the cross-check of the Pyomo model
  (``tests/unit/test_market_highspy_twin.py``) and the floor of
  ``benchmarks/bench_core_scale.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import polars as pl

from resilience.optimize.market.demand import demand_blocks
from resilience.optimize.market.inputs import ALL, MarketInputs, MarketSettings
from resilience.optimize.market.supply import supply_blocks

__all__ = [
    "DEFAULT_PARAMETERS",
    "GOOD",
    "SYNTHETIC_COMMODITIES",
    "TwinLp",
    "TwinSolution",
    "cut",
    "highspy_twin",
    "parameters",
    "read_twin",
    "solve_twin",
    "synthetic_world",
    "world",
]

#: The good of one-good worlds.
GOOD = "metal/refining"
#: Parameters of a made-up good: round numbers, not calibrated to anything.
DEFAULT_PARAMETERS: dict[str, float] = {
    "p0_usd_per_unit": 1000.0,
    "demand_elasticity": -0.5,
    "supply_elasticity": 0.5,
    "voll_multiple": 10.0,
    "essential_share": 0.2,
    "friction_share": 0.1,
    "ramp_share_per_month": 0.25,
    "spare_capacity_share": 0.0,
    "holding_cost_share_per_month": 0.005,
}


def parameters(goods: Mapping[str, Mapping[str, float]] | None = None) -> pl.DataFrame:
    """Parameter table: ``{good: {column: value}}`` over :data:`DEFAULT_PARAMETERS`.

    Default: one row for :data:`GOOD`.
    """
    goods = goods if goods is not None else {GOOD: {}}
    rows = []
    for good, overrides in goods.items():
        commodity, stage = good.split("/")
        rows.append({"commodity": commodity, "stage": stage, **DEFAULT_PARAMETERS, **overrides})
    return pl.DataFrame(rows)


def cut(
    origin: str,
    availability: float,
    months: Iterable[int],
    *,
    destination: str = ALL,
    good: str = GOOD,
    scenario: str = "cut",
) -> list[dict[str, Any]]:
    """Availability rows: ``origin`` (-> ``destination``) at ``availability`` in ``months``."""
    return [
        {
            "origin": origin,
            "destination": destination,
            "good": good,
            "month": m,
            "scenario": scenario,
            "availability": float(availability),
        }
        for m in months
    ]


def world(
    demand: Mapping[tuple[str, str], float],
    supply: Mapping[tuple[str, str], float],
    arcs: Mapping[tuple[str, str, str], float] = {},  # noqa: B006 - never mutated
    *,
    params: pl.DataFrame | None = None,
    fixed: Mapping[tuple[str, str, str], tuple[float, float]] = {},  # noqa: B006
    processes: Mapping[tuple[str, str], tuple[str, float, Mapping[str, float]]] = {},  # noqa: B006
    stocks: Mapping[tuple[str, str], tuple[float, float, float]] = {},  # noqa: B006
    scenarios: Mapping[str, float] | None = None,
    availability: Iterable[Mapping[str, Any]] = (),
    months: int = 1,
) -> MarketInputs:
    """A :class:`MarketInputs` from dictionaries.

    Parameters
    ----------
    demand, supply
        ``(node, good) -> q0`` and ``-> observed output`` (units per month).
    arcs
        ``(origin, destination, good) -> observed flow`` of trade arcs (0: a new arc).
    params
        Parameter table (default :func:`parameters`).
    fixed
        ``(origin, destination, good) -> (observed flow, capacity)`` of fixed links.
    processes
        ``(node, process) -> (good_out, capacity, {good_in: input_per_output})``.
    stocks
        ``(node, good) -> (initial, capacity, draw per month)``.
    scenarios
        ``{scenario: probability}`` (default ``{"cut": 1.0}`` if availability rows are
        given, else ``{"base": 1.0}``).
    availability
        Rows as :func:`cut` makes them.
    months
        Horizon.
    """
    availability = list(availability)
    if scenarios is None:
        scenarios = {"cut": 1.0} if availability else {"base": 1.0}
    nodes: set[str] = set()
    for key in [*demand, *supply, *stocks, *processes]:
        nodes.add(key[0])
    for o, d, _ in [*arcs, *fixed]:
        nodes.update((o, d))
    arc_rows = [
        {
            "origin": o,
            "destination": d,
            "good": g,
            "flow0_units_per_month": f,
            "kind": "trade",
            "capacity_units_per_month": None,
        }
        for (o, d, g), f in arcs.items()
    ] + [
        {
            "origin": o,
            "destination": d,
            "good": g,
            "flow0_units_per_month": f,
            "kind": "fixed",
            "capacity_units_per_month": cap,
        }
        for (o, d, g), (f, cap) in fixed.items()
    ]
    arc_schema = {
        "origin": pl.String,
        "destination": pl.String,
        "good": pl.String,
        "flow0_units_per_month": pl.Float64,
        "kind": pl.String,
        "capacity_units_per_month": pl.Float64,
    }
    proc = [
        {"node": n, "process": p, "good_out": out, "capacity_units_per_month": cap}
        for (n, p), (out, cap, _) in processes.items()
    ]
    proc_in = [
        {"node": n, "process": p, "good_in": g, "input_per_output": c}
        for (n, p), (_, _, ins) in processes.items()
        for g, c in ins.items()
    ]
    kwargs: dict[str, Any] = {}
    if proc:
        kwargs["processes"] = pl.DataFrame(proc)
        kwargs["process_inputs"] = pl.DataFrame(
            proc_in,
            schema={
                "node": pl.String,
                "process": pl.String,
                "good_in": pl.String,
                "input_per_output": pl.Float64,
            },
        )
    if stocks:
        kwargs["stocks"] = pl.DataFrame(
            [
                {
                    "node": n,
                    "good": g,
                    "initial_units": k0,
                    "capacity_units": kmax,
                    "draw_units_per_month": draw,
                }
                for (n, g), (k0, kmax, draw) in stocks.items()
            ]
        )
    if availability:
        kwargs["availability"] = pl.DataFrame(availability)
    return MarketInputs(
        parameters=params if params is not None else parameters(),
        nodes=pl.DataFrame({"node": sorted(nodes)}),
        demand=pl.DataFrame(
            [{"node": n, "good": g, "q0_units_per_month": q} for (n, g), q in demand.items()],
            schema={"node": pl.String, "good": pl.String, "q0_units_per_month": pl.Float64},
        ),
        supply=pl.DataFrame(
            [{"node": n, "good": g, "output_units_per_month": q} for (n, g), q in supply.items()],
            schema={"node": pl.String, "good": pl.String, "output_units_per_month": pl.Float64},
        ),
        arcs=pl.DataFrame(arc_rows, schema=arc_schema),
        scenarios=pl.DataFrame(
            {"scenario": list(scenarios), "probability": list(scenarios.values())}
        ),
        months=months,
        **kwargs,
    )


# ----------------------------------------------------------------------------- synthetic worlds
#: Commodities of :func:`synthetic_world`: refined reference price (USD per t, rounded
#: 2023-24 market levels, for scale only), the ore's share of it, refinery yield.
SYNTHETIC_COMMODITIES: tuple[tuple[str, float, float, float], ...] = (
    ("cobalt", 33_000.0, 0.55, 0.92),
    ("lithium", 15_000.0, 0.45, 0.88),
    ("nickel", 17_000.0, 0.6, 0.95),
    ("graphite", 1_200.0, 0.5, 0.9),
    ("rare_earths", 60_000.0, 0.4, 0.85),
    ("copper", 9_000.0, 0.7, 0.97),
    ("tungsten", 30_000.0, 0.5, 0.9),
    ("manganese", 2_000.0, 0.5, 0.93),
)


def _pick(rng: np.random.Generator, n: int, k: int, p: np.ndarray) -> np.ndarray:
    """``k`` distinct indices out of ``n`` drawn with probabilities ``p``."""
    return np.sort(rng.choice(n, size=min(k, n), replace=False, p=p / p.sum()))


def _sourcing(
    rng: np.random.Generator,
    buyers: list[str],
    needs: np.ndarray,
    sellers: list[str],
    weight: np.ndarray,
    observed: int,
    new: int,
    good: str,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Arcs of ``good``: each buyer gets ``needs`` from ``observed`` sellers (by weight).

    Returns the arc rows (observed flows, plus ``new`` arcs of flow 0 per buyer from
    sellers it does not buy from) and each seller's total sales (its own use included),
    so that the observed world balances exactly.
    """
    sold = dict.fromkeys(sellers, 0.0)
    rows: list[dict[str, Any]] = []
    for buyer, need in zip(buyers, needs.tolist(), strict=True):
        chosen = _pick(rng, len(sellers), observed, weight)
        share = weight[chosen] / weight[chosen].sum()
        for i, s in zip(chosen.tolist(), share.tolist(), strict=True):
            sold[sellers[i]] += need * s
            if sellers[i] != buyer:
                rows.append(_arc(sellers[i], buyer, good, need * s, None))
        others = [i for i in range(len(sellers)) if i not in set(chosen.tolist())]
        for i in rng.permutation(others)[:new].tolist():
            if sellers[i] != buyer:
                rows.append(_arc(sellers[i], buyer, good, 0.0, need))
    return rows, sold


def _arc(
    origin: str, destination: str, good: str, flow: float, ramp_base: float | None
) -> dict[str, Any]:
    """An arc row; a new arc's ramp base is the buyer's need (a refiner has no demand)."""
    return {
        "origin": origin,
        "destination": destination,
        "good": good,
        "flow0_units_per_month": flow,
        "ramp_base_units_per_month": ramp_base,
    }


def synthetic_world(
    nodes: int = 30,
    commodities: int = 2,
    months: int = 12,
    scenarios: int = 4,
    *,
    suppliers: int = 3,
    new_arcs: int = 2,
    seed: int = 0,
) -> MarketInputs:
    """A made-up world of ``nodes`` countries, sized for benchmarks and cross-checks.

    Each commodity (from :data:`SYNTHETIC_COMMODITIES`, in order) has two goods: ore
    (``<c>/mining``) mined by about a sixth of the nodes, and metal (``<c>/refining``)
    made from it by refineries at about a fifth of the nodes (Leontief input 1/yield)
    and consumed everywhere. Refining costs the margin of metal over ore at reference
    prices (treatment charges); refineries have 5-30 % spare capacity. Sizes are
    log-normal (a few large producers, a long tail). Every consumer buys metal from
    ``suppliers`` refiners and every refiner ore from ``suppliers`` miners (chosen by
    size; own production is used at home), and has ``new_arcs`` arcs of observed flow 0
    from other producers. The observed flows balance exactly, so with no disruption
    every consumer is served ``q0`` at ``P0``. A fifth of the nodes hold one to three
    months of metal in stock.

    Parameters are drawn per good in the ranges published for critical materials
    (short-run demand elasticity -0.1 to -0.6, supply 0.1 to 0.6, VOLL 5-20 times
    P0, frictions 5-20 % of P0, ramps 5-30 % a month). Scenario ``calm`` has no
    disruption; each of the other ``scenarios - 1`` (probability 2-8 % each) cuts the
    largest miner's or refiner's output of one commodity to 10-50 %, or embargoes its
    largest refiner's exports to a third of the nodes it ships to, for 3 to ``months`` months.

    The numbers are not calibrated to anything: they give the LP a realistic shape.
    """
    if not 1 <= commodities <= len(SYNTHETIC_COMMODITIES):
        raise ValueError(f"commodities must lie in 1..{len(SYNTHETIC_COMMODITIES)}")
    if nodes < 4 or scenarios < 1 or months < 1:
        raise ValueError("need nodes >= 4, scenarios >= 1, months >= 1")
    rng = np.random.default_rng(seed)
    names = [f"N{i:03d}" for i in range(nodes)]
    params: dict[str, dict[str, float]] = {}
    demand: dict[tuple[str, str], float] = {}
    supply: dict[tuple[str, str], float] = {}
    arcs: list[dict[str, Any]] = []
    processes: dict[tuple[str, str], tuple[str, float, Mapping[str, float]]] = {}
    stocks: dict[tuple[str, str], tuple[float, float, float]] = {}
    largest: dict[str, tuple[str, str]] = {}  # commodity -> (largest miner, largest refiner)
    refining_cost: dict[str, float] = {}  # metal -> USD per unit of output
    holders = [names[i] for i in _pick(rng, nodes, max(1, nodes // 5), np.ones(nodes))]
    for name, p0, ore_share, yield_ in SYNTHETIC_COMMODITIES[:commodities]:
        ore, metal = f"{name}/mining", f"{name}/refining"
        for good, price in ((ore, p0 * ore_share), (metal, p0)):
            params[good] = {
                "p0_usd_per_unit": price,
                "demand_elasticity": float(rng.uniform(-0.6, -0.1)),
                "supply_elasticity": float(rng.uniform(0.1, 0.6)),
                "voll_multiple": float(rng.uniform(5.0, 20.0)),
                "essential_share": float(rng.uniform(0.1, 0.3)),
                "friction_share": float(rng.uniform(0.05, 0.2)),
                "ramp_share_per_month": float(rng.uniform(0.05, 0.3)),
                "spare_capacity_share": float(rng.uniform(0.05, 0.2)),
                "holding_cost_share_per_month": float(rng.uniform(0.002, 0.01)),
            }
        q0 = rng.lognormal(np.log(1000.0), 1.2, nodes)
        for node, q in zip(names, q0.tolist(), strict=True):
            demand[(node, metal)] = q
        refiners = [names[i] for i in _pick(rng, nodes, max(2, nodes // 5), np.ones(nodes))]
        r_weight = rng.lognormal(0.0, 1.0, len(refiners))
        rows, made = _sourcing(rng, names, q0, refiners, r_weight, suppliers, new_arcs, metal)
        arcs += rows
        miners = [names[i] for i in _pick(rng, nodes, max(2, nodes // 6), np.ones(nodes))]
        m_weight = rng.lognormal(0.0, 1.0, len(miners))
        ore_need = np.array([made[r] / yield_ for r in refiners])
        rows, mined = _sourcing(rng, refiners, ore_need, miners, m_weight, suppliers, new_arcs, ore)
        arcs += rows
        for r in refiners:
            headroom = float(rng.uniform(1.05, 1.3))
            processes[(r, f"refine_{name}")] = (metal, made[r] * headroom, {ore: 1.0 / yield_})
        refining_cost[metal] = p0 * (1.0 - ore_share / yield_)  # the margin over the ore
        for m in miners:
            supply[(m, ore)] = mined[m]
        for h in holders:
            cover = float(rng.uniform(1.0, 3.0)) * demand[(h, metal)]
            stocks[(h, metal)] = (cover, 2.0 * cover, cover / 3.0)
        largest[name] = (max(mined, key=mined.__getitem__), max(made, key=made.__getitem__))
    availability, probs = _synthetic_scenarios(rng, arcs, largest, scenarios, months)
    return MarketInputs(
        parameters=parameters(params),
        nodes=pl.DataFrame({"node": names}),
        demand=_frame(demand, "q0_units_per_month"),
        supply=_frame(supply, "output_units_per_month"),
        arcs=pl.DataFrame(
            arcs,
            schema={
                "origin": pl.String,
                "destination": pl.String,
                "good": pl.String,
                "flow0_units_per_month": pl.Float64,
                "ramp_base_units_per_month": pl.Float64,
            },
        ),
        processes=pl.DataFrame(
            [
                {
                    "node": n,
                    "process": p,
                    "good_out": out,
                    "capacity_units_per_month": cap,
                    "cost_usd_per_unit": refining_cost[out],
                }
                for (n, p), (out, cap, _) in processes.items()
            ]
        ),
        process_inputs=pl.DataFrame(
            [
                {"node": n, "process": p, "good_in": g, "input_per_output": c}
                for (n, p), (_, _, ins) in processes.items()
                for g, c in ins.items()
            ]
        ),
        stocks=pl.DataFrame(
            [
                {
                    "node": n,
                    "good": g,
                    "initial_units": k0,
                    "capacity_units": kmax,
                    "draw_units_per_month": draw,
                }
                for (n, g), (k0, kmax, draw) in stocks.items()
            ]
        ),
        scenarios=pl.DataFrame({"scenario": list(probs), "probability": list(probs.values())}),
        availability=pl.DataFrame(
            availability,
            schema={
                **dict.fromkeys(("origin", "destination", "good", "scenario"), pl.String),
                "month": pl.Int64,
                "availability": pl.Float64,
            },
        ),
        months=months,
    )


def _frame(values: Mapping[tuple[str, str], float], column: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"node": n, "good": g, column: q} for (n, g), q in values.items()],
        schema={"node": pl.String, "good": pl.String, column: pl.Float64},
    )


def _synthetic_scenarios(
    rng: np.random.Generator,
    arcs: list[dict[str, Any]],
    largest: Mapping[str, tuple[str, str]],
    scenarios: int,
    months: int,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Availability rows and ``{scenario: probability}`` of :func:`synthetic_world`."""
    rows: list[dict[str, Any]] = []
    probs: dict[str, float] = {}
    commodities = list(largest)
    for s in range(1, scenarios):
        name = f"event_{s:03d}"
        probs[name] = float(rng.uniform(0.02, 0.08))
        commodity = commodities[int(rng.integers(len(commodities)))]
        miner, refiner = largest[commodity]
        length = int(rng.integers(min(3, months), months + 1))
        kind = int(rng.integers(3))
        level = float(rng.uniform(0.1, 0.5))
        metal = f"{commodity}/refining"
        buyers = sorted(
            {a["destination"] for a in arcs if (a["origin"], a["good"]) == (refiner, metal)}
        )
        if kind == 2 and buyers:  # embargo: no shipments to a third of its buyers
            targets = buyers[: max(1, len(buyers) // 3)]
            rows += [
                _avail(refiner, t, metal, m, name, 0.0)
                for t in targets
                for m in range(1, length + 1)
            ]
        else:
            node, stage = (miner, "mining") if kind == 0 else (refiner, "refining")  # a cut
            rows += [
                _avail(node, ALL, f"{commodity}/{stage}", m, name, level)
                for m in range(1, length + 1)
            ]
    probs = {"calm": 1.0 - sum(probs.values()), **probs}
    return rows, probs


def _avail(
    origin: str, destination: str, good: str, month: int, scenario: str, level: float
) -> dict[str, Any]:
    return {
        "origin": origin,
        "destination": destination,
        "good": good,
        "month": month,
        "scenario": scenario,
        "availability": level,
    }


# ----------------------------------------------------------------------------- highspy twin
_NGTW = ["node", "good", "month", "scenario"]
_ARC_KEYS = ["origin", "destination", "good", "month", "scenario"]


@dataclass(frozen=True)
class TwinLp:
    """The market LP as arrays, built straight from :class:`MarketInputs`.

    Attributes
    ----------
    lp
        ``highspy.HighsLp`` (column-wise matrix, maximise welfare in USD).
    columns
        ``{variable family: key frame}`` in column order, each with ``_col``.
    balance
        ``node, good, month, scenario, probability, _row`` of the balance rows.
    """

    lp: Any
    columns: dict[str, pl.DataFrame]
    balance: pl.DataFrame


@dataclass(frozen=True)
class TwinSolution:
    """Objective (USD), flows per arc and prices per balance row of a solved twin."""

    objective: float
    flows: pl.DataFrame  # origin, destination, good, month, scenario, flow_units
    prices: pl.DataFrame  # node, good, month, scenario, price_usd_per_unit


class _Columns:
    """Columns (upper bound, objective coefficient) and their balance terms, collected."""

    def __init__(self) -> None:
        self.n = 0
        self.ub: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.frames: dict[str, pl.DataFrame] = {}
        self.balance_terms: list[pl.DataFrame] = []  # node, good, month, scenario, _col, coef

    def add(self, name: str, frame: pl.DataFrame, ub: pl.Expr, cost: pl.Expr) -> pl.DataFrame:
        """Columns for the rows of ``frame``; returns it with ``_col``."""
        frame = frame.with_row_index("_col", offset=self.n).with_columns(
            pl.col("_col").cast(pl.Int64)
        )
        values = frame.with_columns(  # with_columns broadcasts literals to every row
            ub.cast(pl.Float64).alias("_ub"), cost.cast(pl.Float64).alias("_cost")
        )
        self.ub.append(values["_ub"].to_numpy())
        self.cost.append(values["_cost"].to_numpy())
        self.n += frame.height
        self.frames[name] = frame
        return frame

    def balance(self, frame: pl.DataFrame, node: str, good: str, coef: pl.Expr) -> None:
        """Terms ``coef * column`` in the balance row of ``(node, good, month, scenario)``."""
        self.balance_terms.append(
            frame.select(
                pl.col(node).alias("node"),
                pl.col(good).alias("good"),
                "month",
                "scenario",
                "_col",
                coef.cast(pl.Float64).alias("coef"),
            )
        )


def highspy_twin(inputs: MarketInputs, settings: MarketSettings | None = None) -> TwinLp:
    """The market LP of :mod:`resilience.optimize.market.core`, written a second time.

    Built from the documented math of the pieces (demand, supply, trade, stages, stocks)
    with Polars joins and NumPy arrays only — no Pyomo, no builder — and handed to
    HiGHS as one ``HighsLp``. Only the block tables (curve arithmetic) are shared. Used
    by the tests (same prices and flows as the Pyomo model) and by
    ``benchmarks/bench_core_scale.py`` (the floor: the same LP straight into highspy).
    """
    settings = settings or MarketSettings(months=inputs.months)
    params = inputs.parameter_frame()
    periods = inputs.periods()
    prod = inputs.production_availability()
    c = _Columns()
    served = c.add(
        "served",
        inputs.demand.filter(pl.col("q0_units_per_month") > 0)
        .join(demand_blocks(inputs, settings), on="good")
        .join(periods, how="cross")
        .sort("node", "good", "block", "month", "scenario"),
        pl.col("q0_units_per_month") * (pl.col("hi_share") - pl.col("lo_share")),
        pl.col("probability") * pl.col("value_usd_per_unit"),
    )
    c.balance(served, "node", "good", pl.lit(1.0))
    supply = c.add(
        "supply",
        inputs.supply.filter(pl.col("output_units_per_month") > 0)
        .join(supply_blocks(inputs, settings), on="good")
        .join(periods, how="cross")
        .join(prod, on=_NGTW, how="left")
        .sort("node", "good", "block", "month", "scenario"),
        pl.col("availability").fill_null(1.0)
        * pl.col("output_units_per_month")
        * (pl.col("hi_share") - pl.col("lo_share")),
        -pl.col("probability") * pl.col("cost_usd_per_unit"),
    )
    c.balance(supply, "node", "good", pl.lit(-1.0))
    q0 = inputs.demand.select(pl.col("node").alias("destination"), "good", "q0_units_per_month")
    arcs = (
        inputs.arcs.join(q0, on=["destination", "good"], how="left")
        .join(params, on="good")
        .join(periods, how="cross")
        .join(inputs.arc_availability(), on=_ARC_KEYS, how="left")
        .with_columns(pl.col("availability").fill_null(1.0))
        .sort(_ARC_KEYS)
    )
    fixed = pl.col("kind") == "fixed"
    base = c.add(
        "flow_base",
        arcs,
        pl.col("availability")
        * pl.when(fixed)
        .then(pl.col("capacity_units_per_month"))
        .otherwise(pl.col("flow0_units_per_month")),
        pl.lit(0.0),
    )
    ramp_base = pl.col("ramp_base_units_per_month").fill_null(
        pl.when(pl.col("flow0_units_per_month") > 0)
        .then(pl.col("flow0_units_per_month"))
        .otherwise(pl.col("q0_units_per_month"))
    )
    growth = c.add(
        "flow_growth",
        arcs.filter(~fixed),
        pl.col("availability") * pl.col("ramp_share_per_month") * ramp_base * pl.col("month"),
        -pl.col("probability") * pl.col("friction_share") * pl.col("p0_usd_per_unit"),
    )
    for frame in (base, growth):
        c.balance(frame, "origin", "good", pl.lit(1.0))
        c.balance(frame, "destination", "good", pl.lit(-1.0))
    if inputs.processes.height:
        conv = c.add(
            "conversion",
            inputs.processes.join(periods, how="cross")
            .join(
                prod.rename({"good": "good_out"}),
                on=["node", "good_out", "month", "scenario"],
                how="left",
            )
            .sort("node", "process", "month", "scenario"),
            pl.col("availability").fill_null(1.0) * pl.col("capacity_units_per_month"),
            -pl.col("probability") * pl.col("cost_usd_per_unit"),
        )
        c.balance(conv, "node", "good_out", pl.lit(-1.0))
        c.balance(
            conv.join(inputs.process_inputs, on=["node", "process"]),
            "node",
            "good_in",
            pl.col("input_per_output"),
        )
    stock_rows = _twin_stocks(c, inputs, params, periods)
    balance = _twin_balance_rows(inputs, periods)
    terms = pl.concat(c.balance_terms).join(balance.select(*_NGTW, "_row"), on=_NGTW, how="left")
    if terms["_row"].null_count():
        raise ValueError("a balance term names a node and good without a balance row")
    rows = [terms["_row"].to_numpy().astype(np.int64)]
    cols = [terms["_col"].to_numpy()]
    vals = [terms["coef"].to_numpy()]
    row_lb = [np.zeros(balance.height)]
    row_ub = [np.zeros(balance.height)]
    offset = balance.height
    for r, col, v, lo, hi in stock_rows:
        rows.append(r + offset)
        cols.append(col)
        vals.append(v)
        row_lb.append(lo)
        row_ub.append(hi)
        offset += lo.size
    row, col = np.concatenate(rows), np.concatenate(cols)
    number = _first_appearance(row, col, c.n)
    lp = _highs_lp(
        _permuted(np.concatenate(c.cost), number),
        _permuted(np.concatenate(c.ub), number),
        np.concatenate(row_lb),
        np.concatenate(row_ub),
        row,
        number[col],
        np.concatenate(vals),
    )
    frames = {
        name: f.with_columns(pl.Series("_col", number[f["_col"].to_numpy()]))
        for name, f in c.frames.items()
    }
    return TwinLp(lp=lp, columns=frames, balance=balance)


def _first_appearance(row: np.ndarray, col: np.ndarray, n: int) -> np.ndarray:
    """New number of each column: order of first appearance, rows in order.

    The convention of the hand-off (:mod:`resilience.optimize.compile`): the twin is
    then the same LP entry for entry, so HiGHS takes the same path on both.
    """
    scan = col[np.argsort(row, kind="stable")]
    seen, first = np.unique(scan, return_index=True)
    number = np.full(n, -1, dtype=np.int64)
    number[seen[np.argsort(first, kind="stable")]] = np.arange(seen.size)
    unused = number < 0  # columns in no row (none in the market LP): after the others
    number[unused] = seen.size + np.arange(int(unused.sum()))
    return number


def _permuted(values: np.ndarray, number: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[number] = values
    return out


def _twin_balance_rows(inputs: MarketInputs, periods: pl.DataFrame) -> pl.DataFrame:
    """Every node and good with anything to balance, times every month and scenario."""
    arcs = inputs.arcs
    pairs = pl.concat(
        [
            inputs.demand.filter(pl.col("q0_units_per_month") > 0).select("node", "good"),
            inputs.supply.filter(pl.col("output_units_per_month") > 0).select("node", "good"),
            arcs.select(pl.col("origin").alias("node"), "good"),
            arcs.select(pl.col("destination").alias("node"), "good"),
            inputs.processes.select("node", pl.col("good_out").alias("good")),
            inputs.process_inputs.select("node", pl.col("good_in").alias("good")),
            inputs.stocks.select("node", "good"),
        ]
    ).unique()
    return (
        pairs.join(periods, how="cross")
        .sort(_NGTW)
        .with_row_index("_row")
        .with_columns(pl.col("_row").cast(pl.Int64))
    )


def _twin_stocks(
    c: _Columns, inputs: MarketInputs, params: pl.DataFrame, periods: pl.DataFrame
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    r"""Stock columns and their rows (:mod:`.stocks`): ``(row, col, coef, lb, ub)`` blocks.

    ``stock_flow``: :math:`k_t - k_{t-1} - b_t + r_t = k_0 [t = 1]`; ``stock_excess``:
    :math:`e_t - k_t \ge -k_0`; objective :math:`-\pi h P_0 e_t`, :math:`+\pi P_0 k_T`.
    """
    if inputs.stocks.height == 0:
        return []
    grid = inputs.stocks.join(params, on="good").join(periods, how="cross").sort(_NGTW)
    last = pl.col("month") == inputs.months
    p = pl.col("probability")
    k = c.add(
        "stock",
        grid,
        pl.col("capacity_units"),
        pl.when(last).then(p * pl.col("p0_usd_per_unit")).otherwise(0.0),
    )
    r = c.add("release", grid, pl.col("draw_units_per_month"), pl.lit(0.0))
    b = c.add("build", grid, pl.lit(np.inf), pl.lit(0.0))
    e = c.add(
        "excess",
        grid,
        pl.lit(np.inf),
        -p * pl.col("holding_cost_share_per_month") * pl.col("p0_usd_per_unit"),
    )
    c.balance(r, "node", "good", pl.lit(-1.0))
    c.balance(b, "node", "good", pl.lit(1.0))
    n = grid.height
    row = np.arange(n, dtype=np.int64)
    kc, rc, bc, ec = (f["_col"].to_numpy() for f in (k, r, b, e))
    month = grid["month"].to_numpy()
    later = np.flatnonzero(month > 1)
    # k_{t-1} in the row of month t: the column of the same node, good, scenario at t - 1
    prev = (
        k.filter(pl.col("month") > 1)
        .select(*_NGTW)
        .with_columns(pl.col("month") - 1)
        .join(k.select(*_NGTW, "_col"), on=_NGTW, how="left", maintain_order="left")
    )["_col"].to_numpy()
    k0 = grid["initial_units"].to_numpy()
    first = np.where(month == 1, k0, 0.0)
    ones = np.ones(n)
    flow = (
        np.concatenate([row, row, row, row[later]]),
        np.concatenate([kc, bc, rc, prev]),
        np.concatenate([ones, -ones, ones, -np.ones(later.size)]),
        first,
        first,
    )
    excess = (
        np.concatenate([row, row]),
        np.concatenate([ec, kc]),
        np.concatenate([ones, -ones]),
        -k0,
        np.full(n, np.inf),
    )
    return [flow, excess]


def _highs_lp(
    cost: np.ndarray,
    col_ub: np.ndarray,
    row_lb: np.ndarray,
    row_ub: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    val: np.ndarray,
) -> Any:
    """``max cost'x, row_lb <= A x <= row_ub, 0 <= x <= col_ub`` as a column-wise HighsLp."""
    n, m = cost.size, row_lb.size
    order = np.lexsort((row, col))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = col_ub
    lp.row_lower_ = row_lb
    lp.row_upper_ = row_ub
    lp.sense_ = highspy.ObjSense.kMaximize
    mat = lp.a_matrix_
    mat.format_ = highspy.MatrixFormat.kColwise
    mat.num_col_, mat.num_row_ = n, m
    mat.start_ = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n))]).astype(np.int32)
    mat.index_ = row[order].astype(np.int32)
    mat.value_ = val[order]
    return lp


def solve_twin(twin: TwinLp, highs: Any | None = None) -> TwinSolution:
    """Solve the twin (``highs``: a ``highspy.Highs`` with options set; default quiet).

    Prices are balance duals over the scenario probability, as in :mod:`.results`.
    """
    h = highs if highs is not None else highspy.Highs()
    if highs is None:
        h.setOptionValue("output_flag", False)
    h.passModel(twin.lp)
    h.run()
    return read_twin(twin, h)


def read_twin(twin: TwinLp, h: Any) -> TwinSolution:
    """The :class:`TwinSolution` of ``twin`` from ``h``, a ``highspy.Highs`` that solved it."""
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"the highspy twin did not solve to optimality: {status}")
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    y = np.asarray(sol.row_dual)
    parts = []
    for name in ("flow_base", "flow_growth"):
        frame = twin.columns[name]
        parts.append(frame.select(*_ARC_KEYS, pl.Series("v", x[frame["_col"].to_numpy()])))
    flows = (
        pl.concat(parts)
        .group_by(_ARC_KEYS, maintain_order=True)
        .agg(pl.col("v").sum().alias("flow_units"))
    )
    bal = twin.balance
    prices = bal.select(
        *_NGTW,
        (pl.Series(y[bal["_row"].to_numpy()]) / pl.col("probability")).alias("price_usd_per_unit"),
    )
    return TwinSolution(h.getInfo().objective_function_value, flows, prices)
