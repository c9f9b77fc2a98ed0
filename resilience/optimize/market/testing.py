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
- :func:`gallium_world` — a mine-to-chip chain (gallium -> GaAs) whose process comes
  from observed quantities through :func:`~.links_data.link_stages`;
- the second build of the LP straight in highspy is :mod:`.twin`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl

from resilience.optimize.market.inputs import ALL, MarketInputs
from resilience.optimize.market.links_data import link_stages, study_links

__all__ = [
    "DEFAULT_PARAMETERS",
    "GALLIUM",
    "GAAS",
    "GOOD",
    "ORE",
    "gallium_world",
    "linked_pair_world",
    "net_received",
    "linked_world",
    "SYNTHETIC_COMMODITIES",
    "cut",
    "parameters",
    "synthetic_world",
    "world",
]

#: The good of one-good worlds.
GOOD = "metal/refining"
#: The feedstock of :func:`linked_world`'s refinery.
ORE = "cobalt/mining"
#: The input and output goods of :func:`gallium_world`.
GALLIUM = "gallium/refining"
GAAS = "gallium_arsenide/manufacturing"
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


def linked_world(
    production: tuple[float, float, float] = (0.5, 0.7, 0.9),
    embargo: float = 0.3,
    embargo_months: tuple[int, ...] = (1, 2),
    ore: float = 0.5,
) -> MarketInputs:
    """Every piece of the core in one small world (cross-checks and the twin's tests).

    Two consumers (M, N) of ``GOOD``; producers A and B; B refines ``ORE`` from X
    (0.8 ore a unit, capacity 60); a fixed link A -> N (30 observed, capacity 35); a new
    arc M -> N; M's stock (30, capacity 60, draw 12). Scenario ``cut`` (0.7): A produces
    at ``production`` in months 1-3; scenario ``arc`` (0.3): A -> M embargoed to
    ``embargo`` in ``embargo_months`` and X's ore at ``ore`` in months 1-3.
    """
    avail = [
        *[
            {**r, "availability": a}
            for r, a in zip(cut("A", 1, [1, 2, 3]), production, strict=True)
        ],
        *cut("A", embargo, list(embargo_months), destination="M", scenario="arc"),
        *cut("X", ore, [1, 2, 3], good=ORE, scenario="arc"),
    ]
    return world(
        {("M", GOOD): 100.0, ("N", GOOD): 50.0},
        {("A", GOOD): 90.0, ("B", GOOD): 60.0, ("X", ORE): 50.0},
        {
            ("A", "M", GOOD): 60.0,
            ("B", "M", GOOD): 20.0,
            ("B", "N", GOOD): 40.0,
            ("X", "B", ORE): 50.0,
            ("M", "N", GOOD): 0.0,
        },
        fixed={("A", "N", GOOD): (30.0, 35.0)},
        params=parameters(
            {
                GOOD: {"spare_capacity_share": 0.25, "ramp_share_per_month": 0.3},
                ORE: {"p0_usd_per_unit": 400.0, "demand_elasticity": -0.3},
            }
        ),
        processes={("B", "refine"): (GOOD, 60.0, {ORE: 0.8})},
        stocks={("M", GOOD): (30.0, 60.0, 12.0)},
        scenarios={"cut": 0.7, "arc": 0.3},
        availability=avail,
        months=3,
    )


def gallium_world(
    availability: float = 1.0,
    months: int = 1,
    *,
    input_per_output: float | None = None,
    gaas_made_t_per_month: float = 100.0,
    china_use_t_per_month: float = 30.0,
) -> MarketInputs:
    """Gallium from C made into GaAs at J and sold to U; C -> J cut to ``availability``.

    Observed, per month: C refines gallium and uses ``china_use_t_per_month`` itself;
    it ships J exactly what J's GaAs output needs (``input_per_output`` t of Ga per t
    of GaAs, default the shipped coefficient of ``datasets/input_coefficients.csv``);
    J makes ``gaas_made_t_per_month`` of GaAs and ships it all to U, which uses it.
    J has no other use of gallium, no stock, no other supplier and no spare capacity
    (made-up :data:`DEFAULT_PARAMETERS`), so whatever gallium J no longer receives (x t:
    the cut arc still carries ``availability`` of its observed flow and of its ramp,
    :mod:`.trade`) lowers GaAs output by exactly ``x / input_per_output``. The process is built from
    these observed quantities by :func:`~.links_data.link_stages`. Scenario ``cut``
    (the only one) has C -> J at ``availability`` in every month; 1 leaves the world
    undisturbed.
    """
    return linked_pair_world(
        GALLIUM,
        GAAS,
        availability,
        months,
        input_per_output=input_per_output,
        made_per_month=gaas_made_t_per_month,
        upstream_own_use_per_month=china_use_t_per_month,
    )


def linked_pair_world(
    upstream: str,
    downstream: str,
    availability: float = 1.0,
    months: int = 1,
    *,
    input_per_output: float | None = None,
    made_per_month: float = 100.0,
    upstream_own_use_per_month: float = 30.0,
) -> MarketInputs:
    """``upstream`` from C made into ``downstream`` at J and sold to U; C -> J cut.

    The world of :func:`gallium_world` for any pair of goods with a row in
    ``datasets/input_coefficients.csv`` (``input_per_output`` overrides its coefficient):
    C makes ``upstream`` and uses ``upstream_own_use_per_month`` itself, ships J what J's
    ``made_per_month`` of ``downstream`` needs, J sells it all to U; scenario ``cut`` has
    C -> J at ``availability`` in every month.
    """
    links = study_links([upstream, downstream])
    if input_per_output is not None:
        links = links.with_columns(pl.lit(float(input_per_output)).alias("input_per_output"))
    c = float(links["input_per_output"].item())
    shipped = c * made_per_month
    observed = world(
        {
            ("C", upstream): upstream_own_use_per_month,
            ("J", upstream): shipped,
            ("U", downstream): made_per_month,
        },
        {("C", upstream): upstream_own_use_per_month + shipped, ("J", downstream): made_per_month},
        {("C", "J", upstream): shipped, ("J", "U", downstream): made_per_month},
        params=parameters({upstream: {}, downstream: {}}),
        scenarios={"cut": 1.0},
        availability=cut("C", availability, range(1, months + 1), destination="J", good=upstream)
        if availability < 1.0
        else (),
        months=months,
    )
    p0 = dict(observed.parameter_frame().select("good", "p0_usd_per_unit").iter_rows())
    linked = link_stages(observed.demand, observed.supply, links, p0)
    return observed.with_changes(
        demand=linked.demand,
        supply=linked.supply,
        processes=linked.processes,
        process_inputs=linked.process_inputs,
    )


def net_received(result: Any, good: str, node: str, scenario: str) -> list[float]:
    r"""What ``node`` gets of ``good`` a month in ``scenario``: imports - exports + output.

    ``result`` is a solved :class:`~.results.MarketResult`; one value per month in which
    the node imports, in month order.
    """
    flows = result.flows().filter((pl.col("good") == good) & (pl.col("scenario") == scenario))
    into = (
        flows.filter(pl.col("destination") == node)
        .group_by("month")
        .agg(pl.col("flow_units").sum().alias("in"))
    )
    out = (
        flows.filter(pl.col("origin") == node)
        .group_by("month")
        .agg(pl.col("flow_units").sum().alias("out"))
    )
    own = (
        result.supply()
        .filter(
            (pl.col("node") == node) & (pl.col("good") == good) & (pl.col("scenario") == scenario)
        )
        .select("month", "output_units")
    )
    net = (
        into.join(out, on="month", how="left")
        .join(own, on="month", how="left")
        .select(
            "month",
            (
                pl.col("in") - pl.col("out").fill_null(0.0) + pl.col("output_units").fill_null(0.0)
            ).alias("net"),
        )
        .sort("month")
    )
    return [float(x) for x in net["net"].to_list()]
