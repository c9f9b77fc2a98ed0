"""Schemas of the chip-capacity and input-coefficient tables (``datasets/*.csv``).

Kept apart from :mod:`resilience.schemas.tables` (the canonical tables) because both
tables are hand-curated reference facts, each row cited by ``source``, ``vintage``,
``url`` and ``quote``.
"""

from __future__ import annotations

import dataframely as dy
import polars as pl

__all__ = [
    "CHIP_BASES",
    "CHIP_KEY",
    "CHIP_REGION_AGGREGATES",
    "NODE_BANDS",
    "ChipCapacity",
    "InputCoefficients",
]

#: How a share is measured. ``capacity_by_location``: production capacity where the plant
#: is; ``market_by_headquarters``: sales of firms by the country of their headquarters
#: (EDA, design, tools: not production sites, not imports); ``consumption_by_region``:
#: chip purchases by the buyer's region; ``supply_by_location``: output where it is made
#: (an input such as semiconductor-grade neon).
CHIP_BASES = (
    "capacity_by_location",
    "market_by_headquarters",
    "consumption_by_region",
    "supply_by_location",
)
#: Wafer-fabrication node bands as published (nanometres). ``ge_28nm`` is "28 nm and
#: above"; ``300mm_all_nodes`` all nodes on 300 mm wafers only.
NODE_BANDS = (
    "lt_10nm",
    "10_22nm",
    "28_45nm",
    "gt_45nm",
    "ge_28nm",
    "all_nodes",
    "300mm_all_nodes",
)
#: Regions that are not one country, as the publishers name them. ``rest_of_world`` is the
#: explicit remainder of a published group (it makes the group sum to 100).
CHIP_REGION_AGGREGATES = (
    "rest_of_world",
    "europe",
    "americas",
    "europe_mideast",
    "southeast_asia",
)


#: The key of a chip-capacity row (``node_band`` may be empty).
CHIP_KEY = ("segment", "node_band", "region", "year", "basis", "source")


def _one_of(values: tuple[str, ...]) -> str:
    return "^(" + "|".join(values) + ")$"


class ChipCapacity(dy.Schema):
    """One published share of a chip segment held by a country or region.

    A *group* is (``segment``, ``node_band``, ``year``, ``basis``, ``source``): the shares
    one publisher gives for one segment and year, with an explicit ``rest_of_world`` row,
    summing to 100 (checked by :func:`resilience.reference.chips.check_chip_capacity`).
    ``source`` is the publisher, as in ``datasets/sources/compiled_shares.csv``; ``title``
    the report or release and, where it was read second-hand, through whom.
    ``value``/``unit`` hold the published level where the figure is a level (the share is
    then derived from it, said in ``note``).
    """

    segment = dy.String(nullable=False, regex=r"^[a-z][a-z0-9_]*$")
    node_band = dy.String(nullable=True, regex=_one_of(NODE_BANDS))
    region = dy.String(
        nullable=False,
        regex=r"^([A-Z]{3}|" + "|".join(CHIP_REGION_AGGREGATES) + ")$",
    )
    share_pct = dy.Float64(nullable=False, min=0, max=100)
    value = dy.Float64(nullable=True, min=0)
    unit = dy.String(nullable=True)
    year = dy.Int32(nullable=False, min=1990, max=2100)
    is_projection = dy.Bool(nullable=False)
    basis = dy.String(nullable=False, regex=_one_of(CHIP_BASES))
    source = dy.String(nullable=False)
    title = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=False, regex=r"^https?://")
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)

    @dy.rule()
    def level_has_unit(cls) -> pl.Expr:
        """A published level carries its unit, and a unit needs a level."""
        return pl.col("value").is_null() == pl.col("unit").is_null()

    @dy.rule()
    def one_share_per_key(cls) -> pl.Expr:
        """One row per (segment, node_band, region, year, basis, source)."""
        return ~pl.struct(*CHIP_KEY).is_duplicated()


class InputCoefficients(dy.Schema):
    """What one unit of a downstream good needs of an upstream good.

    ``input_commodity``/``input_stage`` and ``output_commodity``/``output_stage`` are
    (commodity, stage) pairs of ``datasets/commodities.csv``; ``coefficient`` is in
    ``unit`` (e.g. ``kg per kWh``: kilograms of input per kWh of output), with
    ``low``/``high`` bounding it where the source gives a range. ``input_basis`` and
    ``output_basis`` say what is counted (``t of Ga``, ``kWh of cell capacity``).
    ``year`` and ``vintage`` are empty for constants (a compound's composition) and for
    pages that carry no date.
    """

    input_commodity = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    input_stage = dy.String(nullable=False, primary_key=True)
    output_commodity = dy.String(nullable=False, primary_key=True, regex=r"^[a-z][a-z0-9_]*$")
    output_stage = dy.String(nullable=False, primary_key=True)
    coefficient = dy.Float64(nullable=False, min_exclusive=0)
    unit = dy.String(nullable=False, regex=r"^\S+ per \S+$")
    low = dy.Float64(nullable=True, min_exclusive=0)
    high = dy.Float64(nullable=True, min_exclusive=0)
    input_basis = dy.String(nullable=False)
    output_basis = dy.String(nullable=False)
    year = dy.Int32(nullable=True, min=1990, max=2100)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=True)
    url = dy.String(nullable=False, regex=r"^https?://")
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)

    @dy.rule()
    def range_holds_coefficient(cls) -> pl.Expr:
        """``low <= coefficient <= high`` where the bounds are given."""
        c = pl.col("coefficient")
        return (pl.col("low").is_null() | (pl.col("low") <= c)) & (
            pl.col("high").is_null() | (c <= pl.col("high"))
        )
