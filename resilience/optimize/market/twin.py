r"""The market LP built a second time, straight into highspy (no Pyomo).

:func:`highspy_twin`, :func:`solve_twin`, :func:`read_twin` build the LP of
:func:`~resilience.optimize.market.core.build_market` from the same
:class:`~resilience.optimize.market.inputs.MarketInputs` with Polars/NumPy into one
``highspy.HighsLp``, columns numbered as :func:`resilience.optimize.compile.compile_model`
numbers them: the cross-check of the Pyomo model
(``tests/unit/test_market_highspy_twin.py``) and the floor of
``benchmarks/bench_core_scale.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import polars as pl

from resilience.optimize.market.demand import demand_blocks
from resilience.optimize.market.inputs import MarketInputs, MarketSettings
from resilience.optimize.market.supply import supply_blocks

__all__ = ["TwinLp", "TwinSolution", "highspy_twin", "read_twin", "solve_twin"]

_NGTW = ["node", "good", "month", "scenario"]
_ARC_KEYS = ["origin", "destination", "good", "month", "scenario"]


@dataclass(frozen=True)
class TwinLp:
    """The market LP as arrays, built straight from :class:`MarketInputs`.

    Attributes
    ----------
    lp
        ``highspy.HighsLp`` (column-wise matrix, maximise welfare in USD).
    columns
        ``{variable family: key frame}`` in column order, each with ``_col``.
    balance
        ``node, good, month, scenario, probability, _row`` of the balance rows.
    """

    lp: Any
    columns: dict[str, pl.DataFrame]
    balance: pl.DataFrame


@dataclass(frozen=True)
class TwinSolution:
    """Objective (USD), flows per arc and prices per balance row of a solved twin."""

    objective: float
    flows: pl.DataFrame  # origin, destination, good, month, scenario, flow_units
    prices: pl.DataFrame  # node, good, month, scenario, price_usd_per_unit


class _Columns:
    """Columns (upper bound, objective coefficient) and their balance terms, collected."""

    def __init__(self) -> None:
        self.n = 0
        self.ub: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.frames: dict[str, pl.DataFrame] = {}
        self.balance_terms: list[pl.DataFrame] = []  # node, good, month, scenario, _col, coef

    def add(self, name: str, frame: pl.DataFrame, ub: pl.Expr, cost: pl.Expr) -> pl.DataFrame:
        """Columns for the rows of ``frame``; returns it with ``_col``."""
        frame = frame.with_row_index("_col", offset=self.n).with_columns(
            pl.col("_col").cast(pl.Int64)
        )
        values = frame.with_columns(  # with_columns broadcasts literals to every row
            ub.cast(pl.Float64).alias("_ub"), cost.cast(pl.Float64).alias("_cost")
        )
        self.ub.append(values["_ub"].to_numpy())
        self.cost.append(values["_cost"].to_numpy())
        self.n += frame.height
        self.frames[name] = frame
        return frame

    def balance(self, frame: pl.DataFrame, node: str, good: str, coef: pl.Expr) -> None:
        """Terms ``coef * column`` in the balance row of ``(node, good, month, scenario)``."""
        self.balance_terms.append(
            frame.select(
                pl.col(node).alias("node"),
                pl.col(good).alias("good"),
                "month",
                "scenario",
                "_col",
                coef.cast(pl.Float64).alias("coef"),
            )
        )


def highspy_twin(inputs: MarketInputs, settings: MarketSettings | None = None) -> TwinLp:
    """The market LP of :mod:`resilience.optimize.market.core`, written a second time.

    Built from the documented math of the pieces (demand, supply, trade, stages, stocks)
    with Polars joins and NumPy arrays only — no Pyomo, no builder — and handed to
    HiGHS as one ``HighsLp``. Only the block tables (curve arithmetic) are shared. Used
    by the tests (same prices and flows as the Pyomo model) and by
    ``benchmarks/bench_core_scale.py`` (the floor: the same LP straight into highspy).
    """
    settings = settings or MarketSettings(months=inputs.months)
    params = inputs.parameter_frame()
    periods = inputs.periods()
    prod = inputs.production_availability()
    c = _Columns()
    served = c.add(
        "served",
        inputs.demand.filter(pl.col("q0_units_per_month") > 0)
        .join(demand_blocks(inputs, settings), on="good")
        .join(periods, how="cross")
        .sort("node", "good", "block", "month", "scenario"),
        pl.col("q0_units_per_month") * (pl.col("hi_share") - pl.col("lo_share")),
        pl.col("probability") * pl.col("value_usd_per_unit"),
    )
    c.balance(served, "node", "good", pl.lit(1.0))
    supply = c.add(
        "supply",
        inputs.supply.filter(pl.col("output_units_per_month") > 0)
        .join(supply_blocks(inputs, settings), on="good")
        .join(periods, how="cross")
        .join(prod, on=_NGTW, how="left")
        .sort("node", "good", "block", "month", "scenario"),
        pl.col("availability").fill_null(1.0)
        * pl.col("output_units_per_month")
        * (pl.col("hi_share") - pl.col("lo_share")),
        -pl.col("probability") * pl.col("cost_usd_per_unit"),
    )
    c.balance(supply, "node", "good", pl.lit(-1.0))
    q0 = inputs.demand.select(pl.col("node").alias("destination"), "good", "q0_units_per_month")
    arcs = (
        inputs.arcs.join(q0, on=["destination", "good"], how="left")
        .join(params, on="good")
        .join(periods, how="cross")
        .join(inputs.arc_availability(), on=_ARC_KEYS, how="left")
        .with_columns(
            pl.col("availability").fill_null(1.0),
            pl.coalesce("growth_availability", "availability").fill_null(1.0),
        )
        .sort(_ARC_KEYS)
    )
    fixed = pl.col("kind") == "fixed"
    base = c.add(
        "flow_base",
        arcs,
        pl.col("availability")
        * pl.when(fixed)
        .then(pl.col("capacity_units_per_month"))
        .otherwise(pl.col("flow0_units_per_month")),
        pl.lit(0.0),
    )
    ramp_base = pl.col("ramp_base_units_per_month").fill_null(
        pl.when(pl.col("flow0_units_per_month") > 0)
        .then(pl.col("flow0_units_per_month"))
        .otherwise(pl.col("q0_units_per_month"))
    )
    growth = c.add(
        "flow_growth",
        arcs.filter(~fixed),
        pl.col("growth_availability")
        * pl.col("ramp_share_per_month")
        * ramp_base
        * pl.col("month"),
        -pl.col("probability") * pl.col("friction_share") * pl.col("p0_usd_per_unit"),
    )
    for frame in (base, growth):
        c.balance(frame, "origin", "good", pl.lit(1.0))
        c.balance(frame, "destination", "good", pl.lit(-1.0))
    if inputs.processes.height:
        conv = c.add(
            "conversion",
            inputs.processes.join(periods, how="cross")
            .join(
                prod.rename({"good": "good_out"}),
                on=["node", "good_out", "month", "scenario"],
                how="left",
            )
            .sort("node", "process", "month", "scenario"),
            pl.col("availability").fill_null(1.0) * pl.col("capacity_units_per_month"),
            -pl.col("probability") * pl.col("cost_usd_per_unit"),
        )
        c.balance(conv, "node", "good_out", pl.lit(-1.0))
        c.balance(
            conv.join(inputs.process_inputs, on=["node", "process"]),
            "node",
            "good_in",
            pl.col("input_per_output"),
        )
    stock_rows = _twin_stocks(c, inputs, params, periods)
    balance = _twin_balance_rows(inputs, periods)
    terms = pl.concat(c.balance_terms).join(balance.select(*_NGTW, "_row"), on=_NGTW, how="left")
    if terms["_row"].null_count():
        raise ValueError("a balance term names a node and good without a balance row")
    rows = [terms["_row"].to_numpy().astype(np.int64)]
    cols = [terms["_col"].to_numpy()]
    vals = [terms["coef"].to_numpy()]
    row_lb = [np.zeros(balance.height)]
    row_ub = [np.zeros(balance.height)]
    offset = balance.height
    for r, col, v, lo, hi in stock_rows:
        rows.append(r + offset)
        cols.append(col)
        vals.append(v)
        row_lb.append(lo)
        row_ub.append(hi)
        offset += lo.size
    row, col = np.concatenate(rows), np.concatenate(cols)
    number = _first_appearance(row, col, c.n)
    lp = _highs_lp(
        _permuted(np.concatenate(c.cost), number),
        _permuted(np.concatenate(c.ub), number),
        np.concatenate(row_lb),
        np.concatenate(row_ub),
        row,
        number[col],
        np.concatenate(vals),
    )
    frames = {
        name: f.with_columns(pl.Series("_col", number[f["_col"].to_numpy()]))
        for name, f in c.frames.items()
    }
    return TwinLp(lp=lp, columns=frames, balance=balance)


def _first_appearance(row: np.ndarray, col: np.ndarray, n: int) -> np.ndarray:
    """New number of each column: order of first appearance, rows in order.

    The convention of the hand-off (:mod:`resilience.optimize.compile`): the twin is
    then the same LP entry for entry, so HiGHS takes the same path on both.
    """
    scan = col[np.argsort(row, kind="stable")]
    seen, first = np.unique(scan, return_index=True)
    number = np.full(n, -1, dtype=np.int64)
    number[seen[np.argsort(first, kind="stable")]] = np.arange(seen.size)
    unused = number < 0  # columns in no row (none in the market LP): after the others
    number[unused] = seen.size + np.arange(int(unused.sum()))
    return number


def _permuted(values: np.ndarray, number: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[number] = values
    return out


def _twin_balance_rows(inputs: MarketInputs, periods: pl.DataFrame) -> pl.DataFrame:
    """Every node and good with anything to balance, times every month and scenario."""
    arcs = inputs.arcs
    pairs = pl.concat(
        [
            inputs.demand.filter(pl.col("q0_units_per_month") > 0).select("node", "good"),
            inputs.supply.filter(pl.col("output_units_per_month") > 0).select("node", "good"),
            arcs.select(pl.col("origin").alias("node"), "good"),
            arcs.select(pl.col("destination").alias("node"), "good"),
            inputs.processes.select("node", pl.col("good_out").alias("good")),
            inputs.process_inputs.select("node", pl.col("good_in").alias("good")),
            inputs.stocks.select("node", "good"),
        ]
    ).unique()
    return (
        pairs.join(periods, how="cross")
        .sort(_NGTW)
        .with_row_index("_row")
        .with_columns(pl.col("_row").cast(pl.Int64))
    )


def _twin_stocks(
    c: _Columns, inputs: MarketInputs, params: pl.DataFrame, periods: pl.DataFrame
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    r"""Stock columns and their rows (:mod:`.stocks`): ``(row, col, coef, lb, ub)`` blocks.

    ``stock_flow``: :math:`k_t - k_{t-1} - b_t + r_t = k_0 [t = 1]`; ``stock_excess``:
    :math:`e_t - k_t \ge -k_0`; objective :math:`-\pi h P_0 e_t`, :math:`+\pi P_0 k_T`.
    """
    if inputs.stocks.height == 0:
        return []
    grid = inputs.stocks.join(params, on="good").join(periods, how="cross").sort(_NGTW)
    last = pl.col("month") == inputs.months
    p = pl.col("probability")
    k = c.add(
        "stock",
        grid,
        pl.col("capacity_units"),
        pl.when(last).then(p * pl.col("p0_usd_per_unit")).otherwise(0.0),
    )
    r = c.add("release", grid, pl.col("draw_units_per_month"), pl.lit(0.0))
    b = c.add("build", grid, pl.lit(np.inf), pl.lit(0.0))
    e = c.add(
        "excess",
        grid,
        pl.lit(np.inf),
        -p * pl.col("holding_cost_share_per_month") * pl.col("p0_usd_per_unit"),
    )
    c.balance(r, "node", "good", pl.lit(-1.0))
    c.balance(b, "node", "good", pl.lit(1.0))
    n = grid.height
    row = np.arange(n, dtype=np.int64)
    kc, rc, bc, ec = (f["_col"].to_numpy() for f in (k, r, b, e))
    month = grid["month"].to_numpy()
    later = np.flatnonzero(month > 1)
    # k_{t-1} in the row of month t: the column of the same node, good, scenario at t - 1
    prev = (
        k.filter(pl.col("month") > 1)
        .select(*_NGTW)
        .with_columns(pl.col("month") - 1)
        .join(k.select(*_NGTW, "_col"), on=_NGTW, how="left", maintain_order="left")
    )["_col"].to_numpy()
    k0 = grid["initial_units"].to_numpy()
    first = np.where(month == 1, k0, 0.0)
    ones = np.ones(n)
    flow = (
        np.concatenate([row, row, row, row[later]]),
        np.concatenate([kc, bc, rc, prev]),
        np.concatenate([ones, -ones, ones, -np.ones(later.size)]),
        first,
        first,
    )
    excess = (
        np.concatenate([row, row]),
        np.concatenate([ec, kc]),
        np.concatenate([ones, -ones]),
        -k0,
        np.full(n, np.inf),
    )
    return [flow, excess]


def _highs_lp(
    cost: np.ndarray,
    col_ub: np.ndarray,
    row_lb: np.ndarray,
    row_ub: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    val: np.ndarray,
) -> Any:
    """``max cost'x, row_lb <= A x <= row_ub, 0 <= x <= col_ub`` as a column-wise HighsLp."""
    n, m = cost.size, row_lb.size
    order = np.lexsort((row, col))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = col_ub
    lp.row_lower_ = row_lb
    lp.row_upper_ = row_ub
    lp.sense_ = highspy.ObjSense.kMaximize
    mat = lp.a_matrix_
    mat.format_ = highspy.MatrixFormat.kColwise
    mat.num_col_, mat.num_row_ = n, m
    mat.start_ = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n))]).astype(np.int32)
    mat.index_ = row[order].astype(np.int32)
    mat.value_ = val[order]
    return lp


def solve_twin(twin: TwinLp, highs: Any | None = None) -> TwinSolution:
    """Solve the twin (``highs``: a ``highspy.Highs`` with options set; default quiet).

    Prices are balance duals over the scenario probability, as in :mod:`.results`.
    """
    h = highs if highs is not None else highspy.Highs()
    if highs is None:
        h.setOptionValue("output_flag", False)
    h.passModel(twin.lp)
    h.run()
    return read_twin(twin, h)


def read_twin(twin: TwinLp, h: Any) -> TwinSolution:
    """The :class:`TwinSolution` of ``twin`` from ``h``, a ``highspy.Highs`` that solved it."""
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"the highspy twin did not solve to optimality: {status}")
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    y = np.asarray(sol.row_dual)
    parts = []
    for name in ("flow_base", "flow_growth"):
        frame = twin.columns[name]
        parts.append(frame.select(*_ARC_KEYS, pl.Series("v", x[frame["_col"].to_numpy()])))
    flows = (
        pl.concat(parts)
        .group_by(_ARC_KEYS, maintain_order=True)
        .agg(pl.col("v").sum().alias("flow_units"))
    )
    bal = twin.balance
    prices = bal.select(
        *_NGTW,
        (pl.Series(y[bal["_row"].to_numpy()]) / pl.col("probability")).alias("price_usd_per_unit"),
    )
    return TwinSolution(h.getInfo().objective_function_value, flows, prices)
