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

from resilience.errors import DataError, DataProblem

__all__ = [
    "ALL",
    "PARAMETER_COLUMNS",
    "MarketInputs",
    "MarketSettings",
    "good_name",
]

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
        (pl.col("ramp_share_per_month") > 0) & (pl.col("ramp_share_per_month") <= 1),
        "the monthly ramp share must lie in (0, 1]",
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


_SCHEMAS: dict[str, dict[str, Any]] = {
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
    },
}
#: optional columns and their defaults (filled when the column is absent)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "arcs": {"kind": "trade", "capacity_units_per_month": None, "ramp_base_units_per_month": None},
    "processes": {"cost_usd_per_unit": 0.0},
}
_KEYS: dict[str, list[str]] = {
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


def _empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=_SCHEMAS[table])


class _Checker:
    """Collects :class:`DataProblem` s for the frames of one :class:`MarketInputs`."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources
        self.problems: list[DataProblem] = []

    def name(self, table: str) -> str:
        return self.sources.get(table, table)

    def add(self, table: str, row: int | None, column: str, value: object, reason: str) -> None:
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
        keys = _KEYS[table]
        dup = frame.with_row_index("_i").filter(pl.struct(keys).is_duplicated())
        for row in dup.iter_rows(named=True):
            value = tuple(row[k] for k in keys)
            self.add(table, row["_i"] + 2, keys[-1], value, f"duplicate key {keys}")


def _numeric(frame: pl.DataFrame, column: str) -> bool:
    return frame.schema[column].is_numeric()


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
    arcs: pl.DataFrame = field(default_factory=lambda: _empty("arcs"))
    processes: pl.DataFrame = field(default_factory=lambda: _empty("processes"))
    process_inputs: pl.DataFrame = field(default_factory=lambda: _empty("process_inputs"))
    stocks: pl.DataFrame = field(default_factory=lambda: _empty("stocks"))
    scenarios: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame({"scenario": ["base"], "probability": [1.0]})
    )
    availability: pl.DataFrame = field(default_factory=lambda: _empty("availability"))
    months: int = 12
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check = _Checker(self.sources)
        if not isinstance(self.months, int) or self.months < 1:
            check.add("settings", None, "months", self.months, "must be an integer >= 1")
        self._check_parameters(check)
        for table in _SCHEMAS:
            object.__setattr__(self, table, self._conform(table, getattr(self, table), check))
        if check.problems:
            raise DataError(check.problems)
        self._check_values(check)
        if check.problems:
            raise DataError(check.problems)
        params = self.parameters.with_columns(
            pl.concat_str("commodity", pl.lit("/"), "stage").alias("good")
        )
        object.__setattr__(self, "parameters", params)

    # -- shape
    def _check_parameters(self, check: _Checker) -> None:
        cols = self.parameters.columns
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

    def _conform(self, table: str, frame: pl.DataFrame, check: _Checker) -> pl.DataFrame:
        """Add optional columns with their defaults and cast to the documented dtypes."""
        schema = _SCHEMAS[table]
        defaults = _DEFAULTS.get(table, {})
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
    def _check_values(self, check: _Checker) -> None:
        p = self.parameters
        for col in PARAMETER_COLUMNS[2:]:
            p = p.with_columns(pl.col(col).cast(pl.Float64, strict=False))
        for col, ok, why in _PARAMETER_RULES:
            check.rule("parameters", p, col, ok, why)
        goods_frame = p.select(pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"))
        dup = goods_frame.with_row_index("_i").filter(pl.col("good").is_duplicated())
        for i, g in zip(dup["_i"].to_list(), dup["good"].to_list(), strict=True):
            check.add("parameters", i + 2, "stage", g, "duplicate commodity/stage")
        goods = set(goods_frame["good"].drop_nulls().to_list())
        nodes = set(self.nodes["node"].drop_nulls().to_list())
        for table in _KEYS:
            check.unique(table, getattr(self, table))
        check.rule("nodes", self.nodes, "node", pl.col("node").str.len_chars() > 0, "empty name")
        for table, qty in (("demand", "q0_units_per_month"), ("supply", "output_units_per_month")):
            frame = getattr(self, table)
            check.member(table, frame, "node", nodes, "node")
            check.member(table, frame, "good", goods, "good (not in the parameter table)")
            check.rule(table, frame, qty, pl.col(qty) >= 0, "must be a number >= 0")
        self._check_arcs(check, nodes, goods)
        self._check_processes(check, nodes, goods)
        s = self.stocks
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
        self._check_scenarios(check)
        self._check_availability(check, nodes, goods)

    def _check_arcs(self, check: _Checker, nodes: set[str], goods: set[str]) -> None:
        a = self.arcs
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
        demanded = self.demand.filter(pl.col("q0_units_per_month") > 0).select(
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

    def _check_processes(self, check: _Checker, nodes: set[str], goods: set[str]) -> None:
        pr, pi = self.processes, self.process_inputs
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
            pr.with_row_index("_i")
            .join(pi, on=["node", "process"], how="anti")
            .iter_rows(named=True)
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

    def _check_scenarios(self, check: _Checker) -> None:
        s = self.scenarios
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

    def _check_availability(self, check: _Checker, nodes: set[str], goods: set[str]) -> None:
        av = self.availability
        check.member("availability", av, "origin", nodes, "node")
        check.member("availability", av, "destination", nodes, "node", frozenset({ALL}))
        check.member("availability", av, "good", goods, "good (not in the parameter table)")
        check.member(
            "availability", av, "scenario", set(self.scenarios["scenario"].to_list()), "scenario"
        )
        check.rule(
            "availability",
            av,
            "month",
            (pl.col("month") >= 1) & (pl.col("month") <= self.months),
            f"the month must lie in 1..{self.months}",
        )
        check.rule(
            "availability",
            av,
            "availability",
            (pl.col("availability") >= 0) & (pl.col("availability") <= 1),
            "an availability must lie in [0, 1]",
        )
        arcs = self.arcs.select("origin", "destination", "good")
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
                self.supply.select("node", "good"),
                self.processes.select("node", pl.col("good_out").alias("good")),
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
            availability=_empty("availability"),
        )

    def with_changes(self, **changes: Any) -> MarketInputs:
        """A copy with some tables replaced (validated again)."""
        fields = {
            name: getattr(self, name) for name in (*_SCHEMAS, "parameters", "months", "sources")
        }
        fields["parameters"] = fields["parameters"].drop("good")
        fields.update(changes)
        return MarketInputs(**fields)
