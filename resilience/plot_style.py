"""Shared styles and helpers of the study plots.

Used by :mod:`resilience.plots` and :mod:`resilience.plot_market`: colours, readable
labels, unit formatters, titles, the sources-and-licences footer, argument checks.
"""

from __future__ import annotations

import logging
import math
import re
import textwrap
from collections.abc import Callable, Sequence

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from resilience.credits import credits

log = logging.getLogger(__name__)

#: Colours shared by every plot: before/after, feasible/infeasible, series, "other".
PALETTE: dict[str, str] = {
    "before": "#9aa9b8",
    "after": "#1f4e79",
    "feasible": "#1f4e79",
    "infeasible": "#c0392b",
    "other": "#cfcfcf",
    "bar": "#1f4e79",
    "muted": "#7f8c8d",
}
#: Series colours (scenarios of a frontier), in order.
SERIES = ("#1f4e79", "#e08a1e", "#2e8b57", "#8e44ad", "#c0392b", "#7f8c8d", "#17becf")
#: Supplier colours (``tab20`` order), cycled when more suppliers are named.
SUPPLIER_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
)

#: Readable names of the numeric columns the plots draw.
LABELS: dict[str, str] = {
    "expected_welfare_loss_usd": "members' expected welfare loss",
    "worst_welfare_loss_usd": "members' welfare loss in the worst scenario",
    "welfare_loss_usd": "welfare loss",
    "consumer_loss_usd": "consumer loss",
    "producer_gain_usd": "producer gain",
    "stock_build_usd": "stock build (purchase and holding)",
    "policy_cost_usd": "cost of the policy in calm",
    "pooling_gain_usd": "gain from pooling stocks",
    "non_allied_share": "achieved non-allied share of imports",
    "max_non_allied_share": "cap on the non-allied share of consumption, ε",
    "expected_shed_share": "expected demand shed, share of demand",
    "worst_shed_share": "demand shed in the worst scenario, share of demand",
    "price_rise_max_pct": "highest monthly price rise over the reference price",
    "price_usd_per_unit": "price",
    "stock_days": "stock (days of consumption)",
}

_EXPOSURE_METRICS = {
    "non_allied_share": "non-allied share of supply",
    "max_single_share": "largest single supplier's share",
    "hhi": "supplier concentration (HHI)",
}
_KEY = ["member_iso3", "commodity", "stage"]
_CAP = "max_non_allied_share"
_DEMAND = "demand_units_per_year"
#: Values closer to zero than this are solver round-off, drawn as zero.
_ROUND_OFF = 1e-6


# ----------------------------------------------------------------------------- helpers
def _require(frame: pl.DataFrame, columns: Sequence[str], func: str) -> None:
    """Raise ValueError naming ``func``, the missing columns and the columns present."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        present = ", ".join(frame.columns) or "none"
        raise ValueError(
            f"{func}: the frame has no column {names} (needs {', '.join(columns)}); "
            f"columns present: {present}"
        )


def _as_frame(obj: object, func: str) -> pl.DataFrame:
    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    if isinstance(obj, pl.DataFrame):
        return obj
    raise TypeError(f"{func}: expected a polars DataFrame, got {type(obj).__name__}")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """A new constrained-layout figure with one axes, or ``ax`` and its root figure."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    fig_or_none = ax.get_figure(root=True)
    if fig_or_none is None:  # pragma: no cover - an axes always belongs to a figure
        raise ValueError("the axes given belongs to no figure")
    return fig_or_none, ax


def _money(values: Sequence[float | None]) -> tuple[float, str]:
    """Divisor and unit for USD amounts: USD, USD thousand, USD m or USD bn."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    for divisor, unit in ((1e9, "USD bn"), (1e6, "USD m"), (1e3, "USD thousand")):
        if top >= divisor:
            return divisor, unit
    return 1.0, "USD"


_NEGATIVE_ZERO = re.compile(r"^-(?=[0.,]*%?$)")


def _number(value: float, decimals: int) -> str:
    """``value`` with thousands separators and ``decimals`` places; never ``-0``."""
    return _NEGATIVE_ZERO.sub("", f"{value:,.{decimals}f}")


def _credit(fig: Figure) -> None:
    """Write the sources-and-licences line under ``fig`` (unless it has a footer already)."""
    if fig.get_supxlabel():
        return
    text = textwrap.fill(credits(compact=True), width=max(60, int(fig.get_figwidth() * 21)))
    fig.supxlabel(text, x=0.01, ha="left", fontsize=5.5, color=PALETTE["muted"])


def _unit_formatter(
    column: str, values: Sequence[float | None]
) -> tuple[str, Callable[[float], str]]:
    """Unit shown in the axis label and a tick/value formatter for ``column``.

    ``*_usd`` columns scale to USD thousand/m/bn, ``*_share`` columns show per cent of
    their 0-1 values, ``*_pct`` columns are per cent already, ``*_t`` tonnes, ``*_days``
    days; values stay in the frame's units.
    """
    if column.endswith("_usd"):
        divisor, unit = _money(values)
        top = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
        decimals = 2 if top / divisor < 10 else 1 if top / divisor < 100 else 0
        return unit, lambda v: _number(v / divisor, decimals)
    if column.endswith("_share"):
        return "%", lambda v: _number(100 * v, 1).rstrip("0").rstrip(".") + "%"
    if column.endswith("_pct"):
        return "%", lambda v: _number(v, 1).rstrip("0").rstrip(".") + "%"
    if column.endswith("_t"):
        return "t", lambda v: _number(v, 0 if abs(v) >= 10 or v == 0 else 2)
    if column.endswith("_days"):
        return "days", lambda v: _number(v, 0)
    return "", lambda v: _number(v, 6).rstrip("0").rstrip(".")  # plain: no 1e-10


def _label(column: str, unit: str) -> str:
    name = LABELS.get(column, column.replace("_", " "))
    return f"{name} ({unit})" if unit else name


def _commodity_label(commodity: str, stage: str) -> str:
    return f"{commodity} ({stage})"


def _subtitle(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def _title(ax: Axes, title: str, subtitle: str) -> None:
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold", pad=16 if subtitle else 6)
    if subtitle:
        ax.text(
            0.0,
            1.01,
            subtitle,
            transform=ax.transAxes,
            fontsize=9,
            color=PALETTE["muted"],
            va="bottom",
        )


def _one(frame: pl.DataFrame, column: str) -> str | None:
    """The single value of a text column, if the frame has it and it is unique."""
    if column not in frame.columns:
        return None
    values = frame[column].drop_nulls().unique().to_list()
    return str(values[0]) if len(values) == 1 else None


def _check_choice(func: str, name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(
            f"{func}: {name}={value!r} is not allowed; use one of {', '.join(map(repr, allowed))}"
        )


def _only_member(
    frame: pl.DataFrame, member: str | None, func: str, what: str, column: str = "member_iso3"
) -> pl.DataFrame:
    """``frame`` restricted to ``member`` (all rows when None); unknown member: ValueError."""
    if member is None:
        return frame
    out = frame.filter(pl.col(column) == member)
    if not out.height:
        present = ", ".join(sorted(frame[column].unique().to_list()))
        raise ValueError(f"{func}: member {member!r} is not in the {what}; members: {present}")
    return out


def _exposure_rows(summary: pl.DataFrame, metric: str, by: str) -> tuple[pl.DataFrame, list[str]]:
    """``before``/``after`` per commodity (demand-weighted) or per member and commodity."""
    before, after = f"{metric}_before", f"{metric}_after"
    if by == "member":
        rows = summary.sort(_KEY).select(*_KEY, pl.col(before).alias("before"), after=after)
        labels = [f"{m}  {_commodity_label(c, s)}" for m, c, s in rows.select(_KEY).rows()]
        return rows, labels

    def weighted(col: str) -> pl.Expr:
        w = pl.when(pl.col(col).is_not_null()).then(pl.col(_DEMAND))
        return (pl.col(col) * pl.col(_DEMAND)).sum() / w.sum()

    rows = (
        summary.group_by("commodity", "stage")
        .agg(weighted(before).alias("before"), weighted(after).alias("after"))
        .sort("commodity", "stage")
    )
    return rows, [_commodity_label(c, s) for c, s in rows.select("commodity", "stage").rows()]


def _mark_not_optimal(
    ax: Axes, bad: pl.DataFrame, *, height: float, colour: str, suffix: str
) -> None:
    """Hollow squares at the bottom of the axes, at their cap, for runs not proven optimal."""
    for status in bad["status"].unique(maintain_order=True).to_list():
        rows = bad.filter(pl.col("status") == status)
        ax.plot(
            rows[_CAP].to_list(),
            [height] * rows.height,
            transform=ax.get_xaxis_transform(),
            linestyle="none",
            marker="s",
            markersize=7,
            markerfacecolor="none",
            markeredgewidth=1.6,
            markeredgecolor=colour,
            clip_on=False,
            label=f"not optimal ({status}){suffix}",
        )


def _good_label(good: str) -> str:
    """``graphite/mining`` -> ``graphite (mining)``."""
    commodity, _, stage = good.partition("/")
    return _commodity_label(commodity, stage) if stage else commodity
