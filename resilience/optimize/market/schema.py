"""Names, columns, dtypes and keys of the market tables (see :mod:`.inputs`)."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["ALL", "DEFAULTS", "KEYS", "PARAMETER_COLUMNS", "SCHEMAS", "empty"]

#: ``destination`` of an availability row that scales production (to all destinations).
ALL = "*"
#: Exactly the columns of the per-good parameter table (another module ships the cited one).
PARAMETER_COLUMNS: tuple[str, ...] = (
    "commodity",
    "stage",
    "p0_usd_per_unit",
    "demand_elasticity",
    "supply_elasticity",
    "voll_multiple",
    "essential_share",
    "friction_share",
    "ramp_share_per_month",
    "spare_capacity_share",
    "holding_cost_share_per_month",
)
SCHEMAS: dict[str, dict[str, Any]] = {
    "nodes": {"node": pl.String},
    "demand": {"node": pl.String, "good": pl.String, "q0_units_per_month": pl.Float64},
    "supply": {"node": pl.String, "good": pl.String, "output_units_per_month": pl.Float64},
    "arcs": {
        "origin": pl.String,
        "destination": pl.String,
        "good": pl.String,
        "flow0_units_per_month": pl.Float64,
        "kind": pl.String,
        "capacity_units_per_month": pl.Float64,
        "ramp_base_units_per_month": pl.Float64,
    },
    "processes": {
        "node": pl.String,
        "process": pl.String,
        "good_out": pl.String,
        "capacity_units_per_month": pl.Float64,
        "cost_usd_per_unit": pl.Float64,
    },
    "process_inputs": {
        "node": pl.String,
        "process": pl.String,
        "good_in": pl.String,
        "input_per_output": pl.Float64,
    },
    "stocks": {
        "node": pl.String,
        "good": pl.String,
        "initial_units": pl.Float64,
        "capacity_units": pl.Float64,
        "draw_units_per_month": pl.Float64,
    },
    "scenarios": {"scenario": pl.String, "probability": pl.Float64},
    "availability": {
        "origin": pl.String,
        "destination": pl.String,
        "good": pl.String,
        "month": pl.Int64,
        "scenario": pl.String,
        "availability": pl.Float64,
        "growth_availability": pl.Float64,
    },
}
#: optional columns and their defaults (filled when the column is absent)
DEFAULTS: dict[str, dict[str, Any]] = {
    "arcs": {"kind": "trade", "capacity_units_per_month": None, "ramp_base_units_per_month": None},
    "processes": {"cost_usd_per_unit": 0.0},
    "availability": {"growth_availability": None},
}
KEYS: dict[str, list[str]] = {
    "nodes": ["node"],
    "demand": ["node", "good"],
    "supply": ["node", "good"],
    "arcs": ["origin", "destination", "good"],
    "processes": ["node", "process"],
    "process_inputs": ["node", "process", "good_in"],
    "stocks": ["node", "good"],
    "scenarios": ["scenario"],
    "availability": ["origin", "destination", "good", "month", "scenario"],
}


def empty(table: str) -> pl.DataFrame:
    """An empty frame of ``table`` with its documented columns and dtypes."""
    return pl.DataFrame(schema=SCHEMAS[table])
