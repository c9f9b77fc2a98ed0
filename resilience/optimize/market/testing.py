r"""Tiny market worlds for tests and examples, built from dictionaries.

- :func:`parameters` — a parameter table (columns of
  :data:`~resilience.optimize.market.inputs.PARAMETER_COLUMNS`) from
  :data:`DEFAULT_PARAMETERS` and overrides;
- :func:`world` — a :class:`~resilience.optimize.market.inputs.MarketInputs` from
  ``{(node, good): quantity}`` dictionaries;
- :func:`cut` — availability rows for a cut (production when ``destination`` is
  :data:`~resilience.optimize.market.inputs.ALL`, else one arc) over some months.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from resilience.optimize.market.inputs import ALL, MarketInputs

__all__ = ["DEFAULT_PARAMETERS", "GOOD", "cut", "parameters", "world"]

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
