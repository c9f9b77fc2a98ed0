"""Checks of the market tables: every bad value becomes a :class:`DataProblem`.

One job: look at the frames of a :class:`~.inputs.MarketInputs` and say, for each bad
value, the table (or the file it came from), the row as a CSV of the frame would number
it (header = row 1), the column, the value and why; :class:`~.inputs.MarketInputs` raises
them together as one :class:`resilience.errors.DataError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from resilience.errors import DataProblem
from resilience.optimize.market.schema import ALL, KEYS, PARAMETER_COLUMNS

if TYPE_CHECKING:
    from resilience.optimize.market.inputs import MarketInputs

__all__ = ["Checker", "check_parameter_columns", "check_values"]

_TOL_PROBABILITY = 1e-9

# (column, test on finite values, reason) for the parameter table
_PARAMETER_RULES: tuple[tuple[str, pl.Expr, str], ...] = (
    ("p0_usd_per_unit", pl.col("p0_usd_per_unit") > 0, "the reference price must be > 0"),
    (
        "demand_elasticity",
        pl.col("demand_elasticity") < 0,
        "the demand elasticity must be < 0 (demand falls as the price rises)",
    ),
    (
        "supply_elasticity",
        pl.col("supply_elasticity") > 0,
        "the supply elasticity must be > 0 (supply rises with the price)",
    ),
    (
        "voll_multiple",
        pl.col("voll_multiple") >= 1,
        "the value of lost load must be at least the reference price (multiple >= 1)",
    ),
    (
        "essential_share",
        (pl.col("essential_share") >= 0) & (pl.col("essential_share") < 1),
        "the essential share must lie in [0, 1)",
    ),
    ("friction_share", pl.col("friction_share") >= 0, "the friction share must be >= 0"),
    (
        "ramp_share_per_month",
        (pl.col("ramp_share_per_month") >= 0) & (pl.col("ramp_share_per_month") <= 1),
        "the monthly ramp share must lie in [0, 1] (0: no growth, spot=false)",
    ),
    (
        "spare_capacity_share",
        pl.col("spare_capacity_share") >= 0,
        "the spare capacity share must be >= 0",
    ),
    (
        "holding_cost_share_per_month",
        pl.col("holding_cost_share_per_month") >= 0,
        "the monthly holding cost share must be >= 0",
    ),
)


class Checker:
    """Collects :class:`DataProblem` s for the frames of one :class:`MarketInputs`."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources
        self.problems: list[DataProblem] = []

    def name(self, table: str) -> str:
        """The name shown for ``table``: its source file if given, else the table name."""
        return self.sources.get(table, table)

    def add(self, table: str, row: int | None, column: str, value: object, reason: str) -> None:
        """Record one problem."""
        self.problems.append(DataProblem(self.name(table), row, column, value, reason))

    def rule(self, table: str, frame: pl.DataFrame, column: str, ok: pl.Expr, why: str) -> None:
        """Flag every row whose ``column`` is null/NaN or fails ``ok``."""
        col = pl.col(column)
        bad_value = col.is_null() | (
            col.cast(pl.Float64).is_nan() if _numeric(frame, column) else pl.lit(False)
        )
        bad = frame.with_row_index("_i").filter(bad_value | ~ok.fill_null(False))
        for i, value in zip(bad["_i"].to_list(), bad[column].to_list(), strict=True):
            self.add(table, i + 2, column, value, why)

    def member(
        self,
        table: str,
        frame: pl.DataFrame,
        column: str,
        known: set[str],
        what: str,
        extra: frozenset[str] = frozenset(),
    ) -> None:
        """Flag every row whose ``column`` is not one of ``known`` (or ``extra``)."""
        values = frame[column].to_list()
        for i, value in enumerate(values):
            if value not in known and value not in extra:
                self.add(table, i + 2, column, value, f"unknown {what}")

    def unique(self, table: str, frame: pl.DataFrame) -> None:
        """Flag every row whose key repeats an earlier row's."""
        keys = KEYS[table]
        dup = frame.with_row_index("_i").filter(pl.struct(keys).is_duplicated())
        for row in dup.iter_rows(named=True):
            value = tuple(row[k] for k in keys)
            self.add(table, row["_i"] + 2, keys[-1], value, f"duplicate key {keys}")


def _numeric(frame: pl.DataFrame, column: str) -> bool:
    return frame.schema[column].is_numeric()


def check_parameter_columns(inp: MarketInputs, check: Checker) -> None:
    """The parameter table has exactly :data:`~.schema.PARAMETER_COLUMNS`."""
    cols = inp.parameters.columns
    missing = [c for c in PARAMETER_COLUMNS if c not in cols]
    extra = [c for c in cols if c not in PARAMETER_COLUMNS and c != "good"]
    for c in missing:
        check.add("parameters", None, c, None, "required column is missing")
    for c in extra:
        check.add(
            "parameters",
            None,
            c,
            None,
            f"unexpected column (expected exactly {list(PARAMETER_COLUMNS)})",
        )


def check_values(inp: MarketInputs, check: Checker) -> None:
    """Every value of every table (after the columns were checked and cast)."""
    p = inp.parameters
    for col in PARAMETER_COLUMNS[2:]:
        p = p.with_columns(pl.col(col).cast(pl.Float64, strict=False))
    for col, ok, why in _PARAMETER_RULES:
        check.rule("parameters", p, col, ok, why)
    goods_frame = p.select(pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"))
    dup = goods_frame.with_row_index("_i").filter(pl.col("good").is_duplicated())
    for i, g in zip(dup["_i"].to_list(), dup["good"].to_list(), strict=True):
        check.add("parameters", i + 2, "stage", g, "duplicate commodity/stage")
    goods = set(goods_frame["good"].drop_nulls().to_list())
    nodes = set(inp.nodes["node"].drop_nulls().to_list())
    for table in KEYS:
        check.unique(table, getattr(inp, table))
    check.rule("nodes", inp.nodes, "node", pl.col("node").str.len_chars() > 0, "empty name")
    for table, qty in (("demand", "q0_units_per_month"), ("supply", "output_units_per_month")):
        frame = getattr(inp, table)
        check.member(table, frame, "node", nodes, "node")
        check.member(table, frame, "good", goods, "good (not in the parameter table)")
        check.rule(table, frame, qty, pl.col(qty) >= 0, "must be a number >= 0")
    check_arcs(inp, check, nodes, goods)
    check_processes(inp, check, nodes, goods)
    s = inp.stocks
    check.member("stocks", s, "node", nodes, "node")
    check.member("stocks", s, "good", goods, "good (not in the parameter table)")
    check.rule("stocks", s, "capacity_units", pl.col("capacity_units") >= 0, "must be >= 0")
    check.rule(
        "stocks",
        s,
        "initial_units",
        (pl.col("initial_units") >= 0) & (pl.col("initial_units") <= pl.col("capacity_units")),
        "the initial stock must lie in [0, capacity_units]",
    )
    check.rule(
        "stocks", s, "draw_units_per_month", pl.col("draw_units_per_month") >= 0, "must be >= 0"
    )
    check_scenarios(inp, check)
    check_availability(inp, check, nodes, goods)


def check_arcs(inp: MarketInputs, check: Checker, nodes: set[str], goods: set[str]) -> None:
    a = inp.arcs
    check.member("arcs", a, "origin", nodes, "node")
    check.member("arcs", a, "destination", nodes, "node")
    check.member("arcs", a, "good", goods, "good (not in the parameter table)")
    check.rule(
        "arcs",
        a,
        "destination",
        pl.col("destination") != pl.col("origin"),
        "an arc must join two different nodes",
    )
    check.rule(
        "arcs",
        a,
        "flow0_units_per_month",
        pl.col("flow0_units_per_month") >= 0,
        "must be a number >= 0",
    )
    check.rule(
        "arcs",
        a,
        "kind",
        pl.col("kind").is_in(["trade", "fixed"]),
        "kind must be 'trade' or 'fixed'",
    )
    fixed = a.with_row_index("_i").filter(pl.col("kind") == "fixed")
    cap = pl.col("capacity_units_per_month")
    for row in fixed.filter(
        cap.is_null() | cap.is_nan() | (cap < pl.col("flow0_units_per_month"))
    ).iter_rows(named=True):
        check.add(
            "arcs",
            row["_i"] + 2,
            "capacity_units_per_month",
            row["capacity_units_per_month"],
            "a fixed link needs a capacity >= its observed flow",
        )
    base = pl.col("ramp_base_units_per_month")
    for row in (
        a.with_row_index("_i").filter(base.is_not_null() & ~(base >= 0)).iter_rows(named=True)
    ):
        check.add(
            "arcs",
            row["_i"] + 2,
            "ramp_base_units_per_month",
            row["ramp_base_units_per_month"],
            "must be >= 0",
        )
    new = a.with_row_index("_i").filter(
        (pl.col("kind") == "trade") & (pl.col("flow0_units_per_month") == 0) & base.is_null()
    )
    demanded = inp.demand.filter(pl.col("q0_units_per_month") > 0).select(
        pl.col("node").alias("destination"), "good"
    )
    orphan = new.join(demanded, on=["destination", "good"], how="anti")
    for row in orphan.iter_rows(named=True):
        check.add(
            "arcs",
            row["_i"] + 2,
            "ramp_base_units_per_month",
            None,
            "a new trade arc to a node without demand for the good needs a ramp base",
        )


def check_processes(inp: MarketInputs, check: Checker, nodes: set[str], goods: set[str]) -> None:
    pr, pi = inp.processes, inp.process_inputs
    check.member("processes", pr, "node", nodes, "node")
    check.member("processes", pr, "good_out", goods, "good (not in the parameter table)")
    check.rule(
        "processes",
        pr,
        "capacity_units_per_month",
        pl.col("capacity_units_per_month") >= 0,
        "must be a number >= 0",
    )
    check.rule(
        "processes",
        pr,
        "cost_usd_per_unit",
        pl.col("cost_usd_per_unit") >= 0,
        "must be a number >= 0",
    )
    check.member("process_inputs", pi, "good_in", goods, "good (not in the parameter table)")
    check.rule(
        "process_inputs",
        pi,
        "input_per_output",
        pl.col("input_per_output") > 0,
        "must be a number > 0",
    )
    known = pr.select("node", "process")
    for row in (
        pi.with_row_index("_i")
        .join(known, on=["node", "process"], how="anti")
        .iter_rows(named=True)
    ):
        check.add(
            "process_inputs",
            row["_i"] + 2,
            "process",
            row["process"],
            f"unknown process at node {row['node']!r}",
        )
    for row in (
        pr.with_row_index("_i").join(pi, on=["node", "process"], how="anti").iter_rows(named=True)
    ):
        check.add(
            "processes",
            row["_i"] + 2,
            "process",
            row["process"],
            "a process needs at least one row in process_inputs",
        )
    loops = pi.join(pr, on=["node", "process"]).filter(pl.col("good_in") == pl.col("good_out"))
    for row in loops.iter_rows(named=True):
        check.add(
            "process_inputs",
            None,
            "good_in",
            row["good_in"],
            f"process {row['process']!r} uses its own output",
        )


def check_scenarios(inp: MarketInputs, check: Checker) -> None:
    s = inp.scenarios
    check.rule(
        "scenarios",
        s,
        "probability",
        (pl.col("probability") > 0) & (pl.col("probability") <= 1),
        "a probability must lie in (0, 1]",
    )
    total = float(s["probability"].fill_nan(0.0).fill_null(0.0).sum())
    if s.height == 0:
        check.add("scenarios", None, "scenario", None, "at least one scenario is needed")
    elif abs(total - 1.0) > _TOL_PROBABILITY:
        check.add("scenarios", None, "probability", total, "probabilities must sum to 1")


def check_availability(inp: MarketInputs, check: Checker, nodes: set[str], goods: set[str]) -> None:
    av = inp.availability
    check.member("availability", av, "origin", nodes, "node")
    check.member("availability", av, "destination", nodes, "node", frozenset({ALL}))
    check.member("availability", av, "good", goods, "good (not in the parameter table)")
    check.member(
        "availability", av, "scenario", set(inp.scenarios["scenario"].to_list()), "scenario"
    )
    check.rule(
        "availability",
        av,
        "month",
        (pl.col("month") >= 1) & (pl.col("month") <= inp.months),
        f"the month must lie in 1..{inp.months}",
    )
    check.rule(
        "availability",
        av,
        "availability",
        (pl.col("availability") >= 0) & (pl.col("availability") <= 1),
        "an availability must lie in [0, 1]",
    )
    check.rule(  # optional: a null means "as the availability"
        "availability",
        av.with_columns(pl.col("growth_availability").fill_null(1.0)),
        "growth_availability",
        pl.col("growth_availability").is_between(0.0, 1.0),
        "a growth availability (share of the month the arc is open) must lie in [0, 1]",
    )
    arcs = inp.arcs.select("origin", "destination", "good")
    on_arcs = av.with_row_index("_i").filter(pl.col("destination") != ALL)
    for row in on_arcs.join(arcs, on=["origin", "destination", "good"], how="anti").iter_rows(
        named=True
    ):
        check.add(
            "availability",
            row["_i"] + 2,
            "destination",
            row["destination"],
            f"no arc {row['origin']} -> {row['destination']} for {row['good']}",
        )
    producers = pl.concat(
        [
            inp.supply.select("node", "good"),
            inp.processes.select("node", pl.col("good_out").alias("good")),
        ]
    ).rename({"node": "origin"})
    on_prod = av.with_row_index("_i").filter(pl.col("destination") == ALL)
    for row in on_prod.join(producers, on=["origin", "good"], how="anti").iter_rows(named=True):
        check.add(
            "availability",
            row["_i"] + 2,
            "origin",
            row["origin"],
            f"the node produces no {row['good']} to scale",
        )
