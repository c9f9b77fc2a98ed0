"""Materiality: a flow too small to matter cannot make a commodity an importer's top risk.

A single USD 4 uranium flow from Colombia is 100 % of Germany's recorded uranium-ore
imports in 2024, so on shares alone it ranks first. A bilateral flow is **material**
when both

* its value is at least :data:`MATERIAL_MIN_VALUE_USD` (USD 100 000 a year: below that a
  flow is a parcel, a sample or a reporting artefact, and its unit value is the noisiest
  in BACI; the same floor keeps small parcels out of the unit-value bands of
  :mod:`resilience.build.screening`), and
* it is at least :data:`MATERIAL_MIN_SHARE` (1 %) of the importer's recorded imports of
  that commodity-stage.

An importer's commodity-stage row is material when at least one of its flows is (or when
it rests on world shares — ``basis = world_market``, or a chip segment's capacity or
headquarters basis — which no single flow drives). Rankings put material rows first;
immaterial rows are still shown, with ``is_material`` false.
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "MATERIAL_MIN_SHARE",
    "MATERIAL_MIN_VALUE_USD",
    "flow_is_material",
    "row_is_material",
]

#: Smallest material flow, USD per year.
MATERIAL_MIN_VALUE_USD = 100_000.0
#: Smallest material share of the importer's imports of the commodity-stage.
MATERIAL_MIN_SHARE = 0.01

_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def flow_is_material(
    value: str = "import_value_usd", share: str = "supply_share", basis: str = "basis"
) -> pl.Expr:
    """True for a material flow (or a row on world shares); see the module docstring."""
    return (pl.col(basis) != "bilateral") | (
        (pl.col(value).fill_null(0.0) >= MATERIAL_MIN_VALUE_USD)
        & (pl.col(share).fill_null(0.0) >= MATERIAL_MIN_SHARE)
    )


def row_is_material(dependency: pl.LazyFrame) -> pl.LazyFrame:
    """``year, importer_iso3, commodity, stage, is_material`` from dependency rows.

    Each dependency row carries its own flow's ``is_material`` too
    (:func:`resilience.build.dependency.build_dependency`); this is the row-level rule.
    """
    return dependency.group_by(_GROUP).agg(flow_is_material().any().alias("is_material"))
