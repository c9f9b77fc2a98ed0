r"""The data a market run needs: :class:`MarketInputs` and :class:`MarketSettings`.

:class:`MarketInputs` holds Polars frames, validated; :class:`MarketSettings` block
counts and the horizon.

One job: hold and check the data of the spatial, multi-period market LP
(:mod:`resilience.optimize.market.core`); nothing here knows about Pyomo.

A *node* is a country (ISO3) or a named aggregate (``"ROW"``, a top-N importer); a
*good* is one commodity at one stage, named ``"<commodity>/<stage>"`` (e.g.
``"cobalt/refining"``), with ONE content unit (t of contained metal, bbl, ...). Every
quantity is in that unit per month, every price in USD per unit.

Tables (column names carry units; optional columns get the default shown)
------------------------------------------------------------------------
``parameters``  one row per good, EXACTLY the columns of :data:`PARAMETER_COLUMNS`.
``nodes``       ``node``.
``demand``      ``node, good, q0_units_per_month`` (observed consumption).
``supply``      ``node, good, output_units_per_month`` (observed primary output).
``arcs``        ``origin, destination, good, flow0_units_per_month`` (observed flow; 0 for
                a new arc), ``kind`` (``"trade"`` default, or ``"fixed"``: a pipeline or
                other fixed link, capped, no growth), ``capacity_units_per_month`` (fixed
                links only), ``ramp_base_units_per_month`` (trade arcs: growth may rise by
                ``ramp_share_per_month`` times this per month; default the observed flow,
                or for a new arc the destination's observed demand of the good).
``processes``   ``node, process, good_out, capacity_units_per_month``,
                ``cost_usd_per_unit`` (default 0): a refinery or factory.
``process_inputs`` ``node, process, good_in, input_per_output`` (Leontief coefficient;
                a refinery of yield y has ``1 / y``).
``stocks``      ``node, good, initial_units, capacity_units, draw_units_per_month``.
``scenarios``   ``scenario, probability`` (summing to 1).
``availability`` ``origin, destination, good, month, scenario, availability`` in [0, 1]:
                destination :data:`ALL` scales what ``origin`` can produce (primary
                output and process output of the good), a node scales what the arc
                ``origin -> destination`` can carry (embargo, blockade). Missing = 1.
                Optional ``growth_availability`` in [0, 1]: the share of the month the
                arc is fully open, scaling its growth capacity (default: the
                ``availability``; see :mod:`resilience.optimize.market.trade`).

Every rejected value raises :class:`resilience.errors.DataError` naming the table (or the
file it came from, see ``sources``), the row as a CSV of the frame would number it
(header = row 1, first data row = row 2), the column and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from resilience.errors import DataError
from resilience.optimize.market.schema import (
    ALL,
    DEFAULTS,
    PARAMETER_COLUMNS,
    SCHEMAS,
    empty,
)
from resilience.optimize.market.validate import Checker, check_parameter_columns, check_values

__all__ = [
    "ALL",
    "PARAMETER_COLUMNS",
    "MarketInputs",
    "MarketSettings",
    "good_name",
]


def good_name(commodity: str, stage: str) -> str:
    """The good id of a commodity at a stage: ``"<commodity>/<stage>"``."""
    return f"{commodity}/{stage}"


@dataclass(frozen=True)
class MarketSettings:
    """How finely the curves are cut, and the horizon.

    Parameters
    ----------
    months
        Months ``t = 1..months`` (default 12).
    demand_blocks
        Blocks between the essential tranche and the observed demand ``q0``.
    demand_blocks_above
        Blocks beyond ``q0`` (valued below P0, so that prices can fall).
    demand_extension_share
        How far beyond ``q0`` the demand curve goes, as a share of ``q0``.
    supply_blocks
        Blocks of observed output (costs below P0).
    spare_blocks
        Blocks of spare capacity (costs above P0).
    calibration_band
        Half-width (share of q0) of the demand block straddling q0, valued
        at exactly P0, and width of the narrow supply blocks on either side of observed
        output: with no disruption, prices at nodes with demand are exactly P0
        (:mod:`resilience.optimize.market.demand`). 0 leaves a block edge at q0 instead
        (prices then anywhere between the two blocks that meet there).
    """

    months: int = 12
    demand_blocks: int = 10
    demand_blocks_above: int = 4
    demand_extension_share: float = 0.5
    supply_blocks: int = 4
    spare_blocks: int = 4
    calibration_band: float = 0.01

    def __post_init__(self) -> None:
        for name in ("months", "demand_blocks", "supply_blocks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MarketSettings.{name} must be an integer >= 1, not {value!r}")
        for name in ("demand_blocks_above", "spare_blocks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"MarketSettings.{name} must be an integer >= 0, not {value!r}")
        band = self.calibration_band
        if not (math.isfinite(band) and 0 <= band < 1):
            raise ValueError(f"MarketSettings.calibration_band must lie in [0, 1), not {band!r}")
        ext = self.demand_extension_share
        if not (math.isfinite(ext) and ext >= 0):
            raise ValueError(f"MarketSettings.demand_extension_share must be >= 0, not {ext!r}")


@dataclass(frozen=True)
class MarketInputs:
    """Everything one market run needs, checked on construction (see module doc).

    Raises
    ------
    resilience.errors.DataError
        Listing every bad value with table, row, column and value.
    """

    parameters: pl.DataFrame
    nodes: pl.DataFrame
    demand: pl.DataFrame
    supply: pl.DataFrame
    arcs: pl.DataFrame = field(default_factory=lambda: empty("arcs"))
    processes: pl.DataFrame = field(default_factory=lambda: empty("processes"))
    process_inputs: pl.DataFrame = field(default_factory=lambda: empty("process_inputs"))
    stocks: pl.DataFrame = field(default_factory=lambda: empty("stocks"))
    scenarios: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame({"scenario": ["base"], "probability": [1.0]})
    )
    availability: pl.DataFrame = field(default_factory=lambda: empty("availability"))
    months: int = 12
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check = Checker(self.sources)
        if not isinstance(self.months, int) or self.months < 1:
            check.add("settings", None, "months", self.months, "must be an integer >= 1")
        check_parameter_columns(self, check)
        for table in SCHEMAS:
            object.__setattr__(self, table, self._conform(table, getattr(self, table), check))
        if check.problems:
            raise DataError(check.problems)
        check_values(self, check)
        if check.problems:
            raise DataError(check.problems)
        params = self.parameters.with_columns(
            pl.concat_str("commodity", pl.lit("/"), "stage").alias("good")
        )
        object.__setattr__(self, "parameters", params)

    # -- shape
    def _conform(self, table: str, frame: pl.DataFrame, check: Checker) -> pl.DataFrame:
        """Add optional columns with their defaults and cast to the documented dtypes."""
        schema = SCHEMAS[table]
        defaults = DEFAULTS.get(table, {})
        for col, default in defaults.items():
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(default, dtype=schema[col]).alias(col))
        for col in schema:
            if col not in frame.columns:
                check.add(table, None, col, None, "required column is missing")
        if any(c not in frame.columns for c in schema):
            return frame
        try:
            return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        except pl.exceptions.PolarsError as exc:
            check.add(table, None, ",".join(schema), None, f"columns of the wrong type: {exc}")
            return frame

    # -- values
    # -- helpers for the builders
    @property
    def goods(self) -> list[str]:
        """Good ids in parameter-table order."""
        return self.parameters["good"].to_list()

    def parameter_frame(self) -> pl.DataFrame:
        """The parameter table keyed by ``good`` (numbers as Float64)."""
        return self.parameters.select(
            "good", *[pl.col(c).cast(pl.Float64) for c in PARAMETER_COLUMNS[2:]]
        )

    def periods(self) -> pl.DataFrame:
        """Every ``month, scenario`` pair with the scenario's ``probability``."""
        months = pl.DataFrame(
            {"month": list(range(1, self.months + 1))}, schema={"month": pl.Int64}
        )
        return months.join(self.scenarios, how="cross")

    def production_availability(self) -> pl.DataFrame:
        """``node, good, month, scenario, availability`` rows that scale production."""
        return self.availability.filter(pl.col("destination") == ALL).select(
            pl.col("origin").alias("node"), "good", "month", "scenario", "availability"
        )

    def arc_availability(self) -> pl.DataFrame:
        """``origin, destination, good, month, scenario, availability`` rows on arcs."""
        return self.availability.filter(pl.col("destination") != ALL)

    def without_disruption(self) -> MarketInputs:
        """The same world with one scenario ``"base"`` (probability 1) and nothing cut.

        The reference run of :func:`resilience.optimize.market.results.welfare_loss`.
        """
        return self.with_changes(
            scenarios=pl.DataFrame({"scenario": ["base"], "probability": [1.0]}),
            availability=empty("availability"),
        )

    def with_changes(self, **changes: Any) -> MarketInputs:
        """A copy with some tables replaced (validated again)."""
        fields = {
            name: getattr(self, name) for name in (*SCHEMAS, "parameters", "months", "sources")
        }
        fields["parameters"] = fields["parameters"].drop("good")
        fields.update(changes)
        return MarketInputs(**fields)
