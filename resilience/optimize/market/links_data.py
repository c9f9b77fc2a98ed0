r"""Stage links of a study from the shipped input coefficients.

``datasets/input_coefficients.csv`` says what one unit of a downstream good needs of an
upstream good (gallium per tonne of GaAs, neon per percentage point of world chip
output, ...). For a study whose goods include both ends of a row, this module turns the
row into the market core's Leontief processes (:mod:`.stages`) at every node that makes
the downstream good, so that a cut upstream reaches the downstream good's output and
price.

Which rows chain
----------------
A row chains when both of its goods are in the study and its coefficient is in the
units of ``datasets/commodities.csv`` at both ends
(:func:`resilience.reference.input_coefficients.process_table`: mass units are converted
to tonnes where the input is counted in tonnes of the content the row names). A row with
both goods in the study whose units do not chain (g of polysilicon per W while PV
wafers are counted as a share of world capacity; rare-earth *metal* per tonne of magnet
while the input is counted in t REO) is refused with a
:class:`~resilience.errors.DataError` naming the file, row, column ``unit`` and value:
the table cites no factor that would convert it. A good that ``datasets/market_balances.csv``
counts in USD m of output (the chip goods) is counted so here too: a row ``t per USD_m``
(neon per USD 1 m of chip output) chains to it; one it counts in another unit than
``commodities.csv`` (battery cells in GWh) is counted in that unit: ``t per GWh`` (graphite
per GWh of cells) chains to it.

The math
--------
Write :math:`Y_{n,o}` for the observed output of the downstream good :math:`o` at node
:math:`n` and :math:`A_{n,i}` for the observed use (apparent consumption, production
plus imports minus exports) of an input good :math:`i` there, both per month, and
:math:`c_{o,i}` for the coefficient (units of :math:`i` per unit of :math:`o`).
Observed use already contains what the node's factories take, so the input a node's
observed output needs must fit in it:

.. math:: R_{n,i} = \sum_o c_{o,i}\,Y_{n,o}, \qquad
   s_{n,i} = \min\{1,\ A_{n,i} / R_{n,i}\}, \qquad
   s_{n,o} = \min_{i \in \text{inputs}(o)} s_{n,i}.

Node :math:`n` gets a process making :math:`o` with capacity (and observed output)

.. math:: L_{n,o} = s_{n,o}\,Y_{n,o},

inputs :math:`c_{o,i}` per unit and no processing cost (the margin over input costs is a
rent on capacity, :mod:`.stages`); the core's tables become

.. math:: \text{supply}_{n,o} = Y_{n,o} - L_{n,o}, \qquad
   q_{0,n,i} = A_{n,i} - \sum_o c_{o,i}\,L_{n,o} \ \ge 0,

so the node's balance of :math:`i` at observed quantities is unchanged
(:math:`\text{supply} + \text{imports} - \text{exports} = q_0 + \text{process use}`)
and, with no disruption, prices are :math:`P_0` and flows the observed ones as long as
every process covers its input costs at reference prices,

.. math:: P_{0,o} \ge \sum_i c_{o,i}\,P_{0,i},

which :func:`link_stages` checks (a process losing money at :math:`P_0` would not run,
and the calibration would fail). Where :math:`s_{n,o} < 1` (the node makes more of
:math:`o` than its observed use of :math:`i` can feed: production or trade the tables
miss) the part :math:`Y - L` stays primary supply that no cut of :math:`i` reaches; the
node, the shortfall and the share are logged and kept in :attr:`StageLinks.table`.

**The P0 block.** Primary supply sells its last ``calibration_band`` of observed output
at :math:`P_0 (1 - 2\eta)` (:mod:`.supply`), which pins a producing node's price at
:math:`P_0` from below; a node's demand pins it from both sides (:mod:`.demand`). A
process costing nothing pins nothing: at a node whose linked output has no final demand
of its own (a pure exporter, Taiwan's rest of chips in the neon study) the price could
sit anywhere between the cheapest destination's price less the trade friction and
:math:`P_0` without changing a flow (it sat 6 % below :math:`P_0`). There,
:func:`link_stages` splits the process the way primary supply is split: a process of
capacity :math:`(1 - \delta) L` at no cost and a *P0 block*
``<process> (P0 block)`` of capacity :math:`\delta L` (same inputs) costing

.. math:: k = P_{0,o} (1 - 2\eta) - \textstyle\sum_i c_{o,i} P_{0,i} \ \ge 0,

so the block runs only at a price of at least :math:`P_0 (1 - 2\eta)`, and the calm
market reproduces :math:`P_0` at every node (:math:`\delta` = ``calibration_band``,
:math:`\eta` = :data:`~resilience.optimize.market.curves.CALIBRATION_TIE`). Nodes that
consume their linked output keep one process (their demand pins the price).

A cut of :math:`x` units of input at a node whose input all goes into one process (no
final demand of the input there, no stock, no other supplier within reach) lowers that
process's output by exactly :math:`x / c` (tested on a tiny world and on the shipped
data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.metrics.sums import stable_sum
from resilience.optimize.market.schema import empty
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.reference.input_coefficients import (
    COEFFICIENT_FILE,
    load_input_coefficients,
    process_table,
)
from resilience.reference.market_balances import BALANCE_FILE, load_market_balances

__all__ = [
    "LINK_COLUMNS",
    "P0_BLOCK",
    "USD_M_UNIT",
    "StageLinks",
    "in_market_units",
    "link_stages",
    "study_links",
]

#: Columns of :func:`study_links`.
LINK_COLUMNS: dict[str, type[pl.DataType]] = {
    "process": pl.String,
    "good_out": pl.String,
    "good_in": pl.String,
    "input_per_output": pl.Float64,
    "source_row": pl.Int64,
}
#: Unit token of a coefficient's output counted in USD 1 m of output (``t per USD_m``).
USD_M_UNIT = "USD_m"
#: How ``market_balances.csv`` writes a world level counted in USD m of output.
_USD_M_LEVEL = "USD m"
#: Relative gap below which two quantities are equal up to floating-point noise: what is
#: left of a node's input use after its processes (:math:`A - s R`) is then exactly 0,
#: and a node whose use falls short of its processes' need by less links all its output.
_ROUNDING = 1e-12


def study_links(
    goods: Sequence[str],
    *,
    path: Path | None = None,
    commodities: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The coefficient rows that chain two of ``goods`` (module doc, "Which rows chain").

    Parameters
    ----------
    goods
        The study's goods, ``"commodity/stage"``.
    path
        The coefficient table (default ``datasets/input_coefficients.csv``).
    commodities
        The commodity table (default the shipped one).

    Returns
    -------
    polars.DataFrame
        ``process`` (= ``good_out``), ``good_out``, ``good_in``, ``input_per_output``
        (units of the input per unit of the output, in the commodity table's units) and
        ``source_row`` (the row in the file, header = 1); empty when no row has both
        ends in ``goods``.

    Raises
    ------
    resilience.errors.DataError
        A row with both goods in ``goods`` whose units do not chain (file, row, column
        ``unit``, value), or any problem of the table itself
        (:func:`~resilience.reference.input_coefficients.load_input_coefficients`).
    """
    path = path or datasets_dir() / COEFFICIENT_FILE
    commodities = commodities if commodities is not None else load_commodities()
    table = load_input_coefficients(path, commodities=commodities)
    commodities = in_market_units(commodities)
    rows = table.select(
        pl.concat_str("input_commodity", pl.lit("/"), "input_stage").alias("good_in"),
        pl.concat_str("output_commodity", pl.lit("/"), "output_stage").alias("good_out"),
        "unit",
        "input_basis",
        "output_basis",
        "source_row",
    )
    made = process_table(table, commodities).join(rows, on=["good_in", "good_out"])
    wanted = set(goods)
    mine = made.filter(pl.col("good_in").is_in(wanted) & pl.col("good_out").is_in(wanted))
    units = {
        f"{c}/{s}": f"{u} ({b})"
        for c, s, u, b in commodities.select(
            "commodity", "stage", "unit", "content_basis"
        ).iter_rows()
    }
    problems = [
        DataProblem(
            path.name,
            rec["source_row"],
            "unit",
            rec["unit"],
            f"{rec['input_basis']} per {rec['output_basis']} does not chain "
            f"{rec['good_in']} (counted in {units[rec['good_in']]}) to {rec['good_out']} "
            f"(counted in {units[rec['good_out']]}): the table cites no factor converting it; "
            "leave one of the two goods out of the study or add a row in the commodities' units",
        )
        for rec in mine.filter(~pl.col("is_in_commodity_units")).iter_rows(named=True)
    ]
    if problems:
        raise DataError(problems)
    return mine.select(
        "process",
        "good_out",
        "good_in",
        pl.col("units_in_per_unit_out").alias("input_per_output"),
        pl.col("source_row").cast(pl.Int64),
    ).sort("good_out", "good_in")


def in_market_units(commodities: pl.DataFrame) -> pl.DataFrame:
    """The commodity table with each good counted as the market core counts it.

    A good with a world row in ``datasets/market_balances.csv`` is counted on the market
    core in that row's unit, whatever share basis ``commodities.csv`` gives it. A unit of
    USD m of output (the chip goods: one unit is USD 1 m of output) becomes
    :data:`USD_M_UNIT`, so a coefficient ``t per USD_m`` chains to it and one per
    percentage point of world output does not; a physical unit other than the commodity
    table's (``GWh`` of battery cells, counted there as a share of world capacity)
    replaces it, with the commodity itself as content basis (``t of polysilicon``), so
    ``t per GWh`` and ``t per GW`` chain.
    A good whose world rows disagree on the unit is refused (file, row, column, value).
    """
    balances = load_market_balances()
    world = balances.filter(pl.col("role") == "world").select(
        pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"),
        pl.when(pl.col("unit").str.starts_with(_USD_M_LEVEL))
        .then(pl.lit(USD_M_UNIT))
        .otherwise(pl.col("unit"))
        .alias("_unit"),
        "unit",
        "source_row",
    )
    mixed = world.filter(pl.col("_unit").n_unique().over("good") > 1)
    if mixed.height:
        raise DataError(
            [
                DataProblem(
                    BALANCE_FILE,
                    row,
                    "unit",
                    unit,
                    f"{good}: the world rows give different units; one good has one unit",
                )
                for good, unit, row in mixed.select("good", "unit", "source_row").iter_rows()
            ]
        )
    market_unit = dict(world.select("good", "_unit").unique().iter_rows())
    good = pl.concat_str("commodity", pl.lit("/"), "stage")
    in_balance = good.replace_strict(market_unit, default=None)
    changed = in_balance.is_not_null() & (in_balance != pl.col("unit"))
    return commodities.with_columns(
        pl.when(changed).then(in_balance).otherwise("unit").alias("unit"),
        pl.when(changed & (in_balance == USD_M_UNIT))
        .then(pl.lit("USD 1 m of output"))
        .when(changed)
        .then(pl.col("commodity"))
        .otherwise("content_basis")
        .alias("content_basis"),
    )


@dataclass(frozen=True)
class StageLinks:
    r"""A market's quantities with its stage links taken out of primary supply.

    Attributes
    ----------
    demand
        ``node, good, q0_units_per_month``: final demand (observed use minus the
        processes' input use; rows of 0 dropped).
    supply
        ``node, good, output_units_per_month``: primary output (observed output minus
        what the node's processes make; rows of 0 dropped).
    processes, process_inputs
        The core's tables (:mod:`.inputs`).
    table
        One row per node, process and input: ``output_observed_units_per_month``
        (:math:`Y`), ``output_linked_units_per_month`` (:math:`L`), ``linked_share``
        (:math:`s`), ``input_per_output``, ``input_use_units_per_month``
        (:math:`c\,L`), ``input_observed_use_units_per_month`` (:math:`A`, the node's
        whole observed use of the input), ``source_row``.
    notes
        Sentences about links that could not carry all observed output.
    """

    demand: pl.DataFrame
    supply: pl.DataFrame
    processes: pl.DataFrame
    process_inputs: pl.DataFrame
    table: pl.DataFrame
    notes: tuple[str, ...] = ()


def _check_margins(links: pl.DataFrame, p0_usd_per_unit: Mapping[str, float]) -> None:
    """Raise unless every process covers its input costs at reference prices."""
    problems = []
    for process, frame in links.group_by("process", maintain_order=True):
        good_out = frame["good_out"][0]
        costs = [
            (g, c, p0_usd_per_unit[g])
            for g, c in frame.select("good_in", "input_per_output").iter_rows()
        ]
        cost = sum(c * p for _, c, p in costs)
        if p0_usd_per_unit[good_out] < cost:
            problems.append(
                DataProblem(
                    "reference_prices.csv",
                    None,
                    "p0_usd_per_unit",
                    p0_usd_per_unit[good_out],
                    f"P0 of {good_out} is below the cost of its inputs at P0 ("
                    + " + ".join(f"{c:g} x {p:g} USD ({g})" for g, c, p in costs)
                    + f" = {cost:.6g} USD per unit): the process {process[0]} would not run "
                    "at reference prices, so the market could not reproduce observed output",
                )
            )
    if problems:
        raise DataError(problems)


def link_stages(
    demand: pl.DataFrame,
    supply: pl.DataFrame,
    links: pl.DataFrame,
    p0_usd_per_unit: Mapping[str, float] | None = None,
    calibration_band: float = 0.0,
) -> StageLinks:
    r"""Processes at every node with observed output of a linked good (module doc).

    Parameters
    ----------
    demand
        ``node, good, q0_units_per_month``: observed use :math:`A` (apparent
        consumption, including what the node's factories take).
    supply
        ``node, good, output_units_per_month``: observed output :math:`Y` (including
        what the node's factories make).
    links
        :func:`study_links` rows (or any frame with its columns).
    p0_usd_per_unit
        ``{good: P0}``; when given, every process must cover its input costs at P0.
    calibration_band
        :math:`\delta` of the market (``MarketSettings.calibration_band``); with
        ``p0_usd_per_unit`` and :math:`\delta > 0`, a process at a node without final
        demand of its output gets its P0 block (module doc, "The P0 block").

    Returns
    -------
    StageLinks
        Demand and supply without the linked quantities, the core's process tables, a
        record per node and link, and notes for the caller to log.

    Raises
    ------
    resilience.errors.DataError
        A process whose output is worth less than its inputs at P0.
    """
    if p0_usd_per_unit is not None and links.height:
        _check_margins(links, p0_usd_per_unit)
    out_goods = links.select("process", "good_out").unique(maintain_order=True)
    made = supply.join(out_goods, left_on="good", right_on="good_out").filter(
        pl.col("output_units_per_month") > 0
    )
    if made.height == 0:
        return StageLinks(
            demand, supply, empty("processes"), empty("process_inputs"), _empty_table()
        )
    use = demand.select(
        "node", pl.col("good").alias("good_in"), pl.col("q0_units_per_month").alias("_a")
    )
    need = (
        made.select("node", "process", pl.col("good").alias("good_out"), "output_units_per_month")
        .join(links.select("process", "good_in", "input_per_output", "source_row"), on="process")
        .join(use, on=["node", "good_in"], how="left")
        .with_columns(pl.col("_a").fill_null(0.0))
        .with_columns(
            stable_sum(pl.col("input_per_output") * pl.col("output_units_per_month"))
            .over("node", "good_in")
            .alias("_r")
        )
        .with_columns(
            pl.when(pl.col("_a") >= (1.0 - _ROUNDING) * pl.col("_r"))
            .then(1.0)
            .otherwise(pl.col("_a") / pl.col("_r"))
            .alias("_s_in"),
        )
        .with_columns(pl.col("_s_in").min().over("node", "process").alias("linked_share"))
        .with_columns(
            (pl.col("linked_share") * pl.col("output_units_per_month")).alias(
                "output_linked_units_per_month"
            )
        )
        .with_columns(
            (pl.col("input_per_output") * pl.col("output_linked_units_per_month")).alias(
                "input_use_units_per_month"
            )
        )
        .sort("node", "process", "good_in")
    )
    table = need.select(
        "node",
        "process",
        "good_out",
        "good_in",
        pl.col("output_units_per_month").alias("output_observed_units_per_month"),
        "output_linked_units_per_month",
        "linked_share",
        "input_per_output",
        "input_use_units_per_month",
        pl.col("_a").alias("input_observed_use_units_per_month"),
        "source_row",
    )
    notes = _notes(table)
    per_process = table.unique(["node", "process"], maintain_order=True)
    processes = per_process.select(
        "node",
        "process",
        "good_out",
        pl.col("output_linked_units_per_month").alias("capacity_units_per_month"),
        pl.lit(0.0).alias("cost_usd_per_unit"),
    ).filter(pl.col("capacity_units_per_month") > 0)
    process_inputs = table.join(processes.select("node", "process"), on=["node", "process"]).select(
        "node", "process", "good_in", "input_per_output"
    )
    linked_out = per_process.group_by("node", pl.col("good_out").alias("good")).agg(
        stable_sum(pl.col("output_linked_units_per_month")).alias("_l")
    )
    new_supply = (
        supply.join(linked_out, on=["node", "good"], how="left")
        .with_columns(
            (pl.col("output_units_per_month") - pl.col("_l").fill_null(0.0)).alias(
                "output_units_per_month"
            )
        )
        .drop("_l")
        .filter(pl.col("output_units_per_month") > 0)
    )
    used = table.group_by("node", pl.col("good_in").alias("good")).agg(
        stable_sum(pl.col("input_use_units_per_month")).alias("_u")
    )
    left = pl.col("q0_units_per_month") - pl.col("_u").fill_null(0.0)
    new_demand = (
        demand.join(used, on=["node", "good"], how="left")
        .with_columns(
            pl.when(left.abs() <= _ROUNDING * pl.col("q0_units_per_month"))
            .then(0.0)
            .otherwise(left)
            .alias("q0_units_per_month")
        )
        .drop("_u")
        .filter(pl.col("q0_units_per_month") > 0)
    )
    if p0_usd_per_unit is not None and calibration_band > 0:
        processes, process_inputs = _p0_blocks(
            processes, process_inputs, new_demand, p0_usd_per_unit, calibration_band
        )
    return StageLinks(
        new_demand.select(demand.columns),
        new_supply.select(supply.columns),
        processes,
        process_inputs,
        table,
        tuple(notes),
    )


#: Name of a process's P0 block: ``<process> (P0 block)``.
P0_BLOCK = "{process} (P0 block)"


def _p0_blocks(
    processes: pl.DataFrame,
    process_inputs: pl.DataFrame,
    demand: pl.DataFrame,
    p0_usd_per_unit: Mapping[str, float],
    band: float,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split the processes of nodes without final demand of their output (module doc)."""
    from resilience.optimize.market.curves import CALIBRATION_TIE

    consumed = demand.filter(pl.col("q0_units_per_month") > 0).select(
        "node", pl.col("good").alias("good_out")
    )
    bare = processes.join(consumed, on=["node", "good_out"], how="anti")
    if bare.height == 0:
        return processes, process_inputs
    p0_in = pl.col("good_in").replace_strict(dict(p0_usd_per_unit), return_dtype=pl.Float64)
    input_cost = (
        process_inputs.sort("node", "process", "good_in")
        .group_by("node", "process", maintain_order=True)
        .agg(stable_sum(pl.col("input_per_output") * p0_in).alias("_input_cost"))
    )
    p0_out = pl.col("good_out").replace_strict(dict(p0_usd_per_unit), return_dtype=pl.Float64)
    blocks = bare.join(input_cost, on=["node", "process"]).with_columns(
        pl.format(P0_BLOCK.replace("{process}", "{}"), pl.col("process")).alias("_block"),
        (band * pl.col("capacity_units_per_month")).alias("capacity_units_per_month"),
        (p0_out * (1.0 - 2.0 * CALIBRATION_TIE) - pl.col("_input_cost"))
        .clip(lower_bound=0.0)
        .alias("cost_usd_per_unit"),
    )
    split = pl.struct("node", "process").is_in(
        bare.select(pl.struct("node", "process")).to_series().implode()
    )
    kept = processes.with_columns(
        pl.when(split)
        .then((1.0 - band) * pl.col("capacity_units_per_month"))
        .otherwise(pl.col("capacity_units_per_month"))
        .alias("capacity_units_per_month")
    )
    new_processes = pl.concat(
        [kept, blocks.select("node", pl.col("_block").alias("process"), *kept.columns[2:])]
    ).sort("node", "process")
    block_inputs = process_inputs.join(
        blocks.select("node", "process", "_block"), on=["node", "process"]
    ).select("node", pl.col("_block").alias("process"), "good_in", "input_per_output")
    new_inputs = pl.concat([process_inputs, block_inputs]).sort("node", "process", "good_in")
    return new_processes.select(processes.columns), new_inputs.select(process_inputs.columns)


def _notes(table: pl.DataFrame) -> list[str]:
    """One sentence per node and process that links less than its observed output."""
    out = []
    short = table.filter(pl.col("linked_share") < 1.0)
    for rec in short.unique(["node", "process"], maintain_order=True).iter_rows(named=True):
        inputs = table.filter(
            (pl.col("node") == rec["node"]) & (pl.col("process") == rec["process"])
        )
        detail = "; ".join(
            f"{g}: uses {a:.6g} a month, needs {c * rec['output_observed_units_per_month']:.6g}"
            for g, c, a in inputs.select(
                "good_in", "input_per_output", "input_observed_use_units_per_month"
            ).iter_rows()
        )
        out.append(
            f"{rec['good_out']} at {rec['node']}: observed output "
            f"{rec['output_observed_units_per_month']:.6g} a month needs more input than the "
            f"node's observed use ({detail}); the link carries {rec['linked_share']:.1%} of it "
            "and the rest stays primary supply, which no input cut reaches"
        )
    return out


def _empty_table() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "node": pl.String,
            "process": pl.String,
            "good_out": pl.String,
            "good_in": pl.String,
            "output_observed_units_per_month": pl.Float64,
            "output_linked_units_per_month": pl.Float64,
            "linked_share": pl.Float64,
            "input_per_output": pl.Float64,
            "input_use_units_per_month": pl.Float64,
            "input_observed_use_units_per_month": pl.Float64,
            "source_row": pl.Int64,
        }
    )
