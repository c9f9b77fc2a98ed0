"""The market's arcs from a study's observed trade: pipeline links and new arcs.

Step 5 of :func:`resilience.optimize.market.from_data.study_market` (its module doc):
every observed flow between two nodes; pipeline gas links of
``datasets/gas_infrastructure.csv`` that match an observed arc become fixed links capped
at the pipeline's capacity; new arcs from every node holding at least
``min_output_share`` of world output of a good to every node with demand of it, with a
ramp base of the destination's :math:`q_0` times the origin's share of world output (so
that all new arcs into a node together grow at most by the ramp share of its demand a
month).
"""

from __future__ import annotations

import polars as pl

from resilience.optimize.market.regions import Regions
from resilience.reference.market_parameters import load_gas_infrastructure

__all__ = ["fixed_links", "market_arcs"]

_GAS = "natural_gas/mining"
_BCM_TO_MILLION_M3 = 1000.0
_MONTHS_PER_YEAR = 12.0


def fixed_links(
    arcs: pl.DataFrame, regions: Regions, goods: list[str], notes: list[str]
) -> pl.DataFrame:
    """``origin, destination, good, capacity_units_per_month`` of pipeline gas links."""
    schema = {
        "origin": pl.String,
        "destination": pl.String,
        "good": pl.String,
        "capacity_units_per_month": pl.Float64,
    }
    if _GAS not in goods:
        return pl.DataFrame(schema=schema)
    gas = load_gas_infrastructure().filter(
        (pl.col("kind") == "pipeline") & ~pl.col("status").str.contains("never")
    )
    rows: dict[tuple[str, str], float] = {}
    kept = set(regions.nodes[:-1])
    observed = set(arcs.filter(pl.col("good") == _GAS).select("origin", "destination").iter_rows())
    for asset, o, d, bcm in gas.select(
        "asset", "from_region", "to_region", "capacity_bcm_per_year"
    ).iter_rows():
        if o not in kept or d not in kept:
            notes.append(f"pipeline {asset} ({o}->{d}): an end is not a node; not modelled")
            continue
        if (o, d) not in observed:
            notes.append(
                f"pipeline {asset} ({o}->{d}): no observed {o}->{d} trade in the year (BACI "
                "may record it by the transit country); not added"
            )
            continue
        rows[(o, d)] = rows.get((o, d), 0.0) + bcm * _BCM_TO_MILLION_M3 / _MONTHS_PER_YEAR
    return pl.DataFrame(
        [(o, d, _GAS, cap) for (o, d), cap in rows.items()], schema=schema, orient="row"
    )


def market_arcs(
    arcs: pl.DataFrame,
    bal: pl.DataFrame,
    fixed: pl.DataFrame,
    new_arcs: bool,
    notes: list[str],
    min_output_share: float = 0.0,
) -> pl.DataFrame:
    """The core's ``arcs`` table (observed, fixed, new), monthly."""
    observed = (
        arcs.join(fixed, on=["origin", "destination", "good"], how="left")
        .with_columns(
            (pl.col("quantity_units_per_year") / _MONTHS_PER_YEAR).alias("flow0_units_per_month")
        )
        .with_columns(
            pl.when(pl.col("capacity_units_per_month").is_not_null())
            .then(pl.lit("fixed"))
            .otherwise(pl.lit("trade"))
            .alias("kind"),
            pl.max_horizontal("capacity_units_per_month", "flow0_units_per_month").alias("_cap"),
        )
    )
    above = observed.filter(
        pl.col("capacity_units_per_month").is_not_null()
        & (pl.col("flow0_units_per_month") > pl.col("capacity_units_per_month"))
    )
    for o, d, f, c in above.select(
        "origin", "destination", "flow0_units_per_month", "capacity_units_per_month"
    ).iter_rows():
        notes.append(
            f"pipeline {o}->{d}: observed flow {f:.6g} above the capacity {c:.6g} a month; "
            "capped at the observed flow"
        )
    observed = observed.select(
        "origin",
        "destination",
        "good",
        "flow0_units_per_month",
        "kind",
        pl.when(pl.col("kind") == "fixed")
        .then(pl.col("_cap"))
        .otherwise(None)
        .alias("capacity_units_per_month"),
        pl.lit(None, dtype=pl.Float64).alias("ramp_base_units_per_month"),
    )
    if not new_arcs:
        return observed
    output = bal.select(
        pl.col("node").alias("origin"),
        "good",
        (pl.col("production_units_per_year") + pl.col("output_raised_units_per_year")).alias("out"),
    ).filter(pl.col("out") > 0)
    output = output.with_columns((pl.col("out") / pl.col("out").sum().over("good")).alias("w"))
    slivers = output.filter(pl.col("w") < min_output_share)
    if slivers.height:
        notes.append(
            f"new arcs: none from {slivers.height} node-goods holding under "
            f"{min_output_share:.1%} of world output of the good (their observed arcs stay)"
        )
        output = output.filter(pl.col("w") >= min_output_share)
    demand = bal.filter(pl.col("q0_units_per_year") > 0).select(
        pl.col("node").alias("destination"), "good", "q0_units_per_year"
    )
    new = (
        output.join(demand, on="good")
        .filter(pl.col("origin") != pl.col("destination"))
        .join(observed, on=["origin", "destination", "good"], how="anti")
        .select(
            "origin",
            "destination",
            "good",
            pl.lit(0.0).alias("flow0_units_per_month"),
            pl.lit("trade").alias("kind"),
            pl.lit(None, dtype=pl.Float64).alias("capacity_units_per_month"),
            (pl.col("w") * pl.col("q0_units_per_year") / _MONTHS_PER_YEAR).alias(
                "ramp_base_units_per_month"
            ),
        )
        .filter(pl.col("ramp_base_units_per_month") > 0)
    )
    return pl.concat([observed, new]).sort("origin", "destination", "good")
