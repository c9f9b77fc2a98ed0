"""Standard plots of study results, drawn headless with matplotlib's object API.

Every function takes Polars frames (or a :class:`~resilience.study.StudyResult`) and
returns a :class:`matplotlib.figure.Figure`; none touches ``pyplot``, so they render
without a display or backend set-up. Pass ``ax`` to draw into an existing axes (the
function then returns that axes' figure). :func:`save` writes a figure as PNG, SVG or PDF,
chosen from the file's suffix.

Every figure carries a sources-and-licences line at its foot
(:func:`resilience.credits.credits`).

The plotted data keep the units of the frames (USD, tonnes, shares in 0-1): only the tick
labels are scaled (``USD m``, ``USD bn``, per cent, HHI on 0-10 000), so that what is drawn
can be checked against the frames it came from.

==========================  ==============================================================
function                    shows
==========================  ==============================================================
:func:`frontier`            cost against the non-allied share cap ε (friend-shoring
                            frontier), infeasible caps as hollow markers on a shaded band
:func:`exposure`            non-allied share, largest-supplier share or HHI before
                            (observed trade) and after (the plan), per commodity
                            (demand-weighted over members) or per member and commodity
:func:`supplier_shares`     stacked supplier shares per commodity, observed and planned:
                            the top suppliers by name (allies marked), the rest as "other"
:func:`shortfall_by_scenario`  expected shortfall (t, USD or share) per scenario, sorted
==========================  ==============================================================
"""

from __future__ import annotations

import logging
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Literal

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from resilience.credits import credits
from resilience.plot_files import save
from resilience.study import StudyResult

__all__ = [
    "PALETTE",
    "exposure",
    "frontier",
    "save",
    "shortfall_by_scenario",
    "supplier_shares",
]

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
    "cost_usd": "contract cost",
    "objective_usd": "total expected cost (objective)",
    "holding_cost_usd": "stock holding cost",
    "premium_usd": "premium over the least-cost plan",
    "least_cost_usd": "least-cost plan",
    "expected_shortfall_t": "expected shortfall",
    "expected_shortfall_usd": "expected shortfall value",
    "expected_shortfall_share": "expected shortfall, share of the window's demand",
    "cvar_shortfall_usd": "CVaR of the shortfall value",
    "worst_case_shortfall_usd": "shortfall value under the best strike",
    "non_allied_share": "achieved non-allied share of supply",
    "max_non_allied_share": "cap on the non-allied share of supply, ε",
    "stock_days": "stock (days of demand)",
}

_EXPOSURE_METRICS = {
    "non_allied_share": "non-allied share of supply",
    "max_single_share": "largest single supplier's share",
    "hhi": "supplier concentration (HHI)",
}
_KEY = ["member_iso3", "commodity", "stage"]
_CAP = "max_non_allied_share"
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

    ``*_usd`` columns scale to USD thousand/m/bn, ``*_share`` columns show per cent,
    ``*_t`` tonnes, ``*_days`` days; values stay in the frame's units.
    """
    if column.endswith("_usd"):
        divisor, unit = _money(values)
        top = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
        decimals = 2 if top / divisor < 10 else 1 if top / divisor < 100 else 0
        return unit, lambda v: _number(v / divisor, decimals)
    if column.endswith("_share"):
        return "%", lambda v: _number(100 * v, 1).rstrip("0").rstrip(".") + "%"
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


def _only_member(frame: pl.DataFrame, member: str | None, func: str, what: str) -> pl.DataFrame:
    """``frame`` restricted to ``member`` (all rows when None); unknown member: ValueError."""
    if member is None:
        return frame
    out = frame.filter(pl.col("member_iso3") == member)
    if not out.height:
        present = ", ".join(sorted(frame["member_iso3"].unique().to_list()))
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
        w = pl.when(pl.col(col).is_not_null()).then(pl.col("demand_t"))
        return (pl.col(col) * pl.col("demand_t")).sum() / w.sum()

    rows = (
        summary.group_by("commodity", "stage")
        .agg(weighted(before).alias("before"), weighted(after).alias("after"))
        .sort("commodity", "stage")
    )
    return rows, [_commodity_label(c, s) for c, s in rows.select("commodity", "stage").rows()]


def _shade_infeasible(ax: Axes, frame: pl.DataFrame, caps: list[float]) -> None:
    """Shade the caps where every row is infeasible, half-way to the neighbouring caps."""
    cells = (
        frame.group_by("max_non_allied_share")
        .agg((pl.col("status") == "infeasible").all().alias("all_infeasible"))
        .filter("all_infeasible")["max_non_allied_share"]
        .sort()
        .to_list()
    )
    for j, cap in enumerate(cells):
        k = caps.index(cap)
        lo = (caps[k - 1] + cap) / 2 if k > 0 else cap
        hi = (caps[k + 1] + cap) / 2 if k + 1 < len(caps) else cap
        if hi - lo <= 0:
            lo, hi = cap - 0.005, cap + 0.005
        ax.axvspan(
            lo,
            hi,
            color=PALETTE["infeasible"],
            alpha=0.10,
            linewidth=0,
            label="no feasible plan" if j == 0 else None,
        )


def _mark_without_plan(
    ax: Axes, bad: pl.DataFrame, *, height: float, colour: str, suffix: str
) -> None:
    """Hollow markers at the bottom of the axes for grid points without a plan.

    Circles for ``infeasible``, squares (grey) for any other status; x is the cap.
    """
    for status in bad["status"].unique(maintain_order=True).to_list():
        rows = bad.filter(pl.col("status") == status)
        infeasible = status == "infeasible"
        ax.plot(
            rows["max_non_allied_share"].to_list(),
            [height] * rows.height,
            transform=ax.get_xaxis_transform(),
            linestyle="none",
            marker="o" if infeasible else "s",
            markersize=7,
            markerfacecolor="none",
            markeredgewidth=1.6,
            markeredgecolor=colour if infeasible else PALETTE["muted"],
            clip_on=False,
            label=(f"infeasible{suffix}" if infeasible else f"no plan ({status}){suffix}"),
        )


# ----------------------------------------------------------------------------- frontier
def frontier(
    frame: pl.DataFrame,
    *,
    x: Literal["max_non_allied_share", "non_allied_share"] = "max_non_allied_share",
    y: str = "cost_usd",
    ax: Axes | None = None,
) -> Figure:
    """Friend-shoring frontier: cost against the non-allied share cap ε.

    Optimal points are joined by a line (one per ``scenario`` when the frame holds
    several). Grid points without a plan are drawn as hollow markers along the bottom of
    the axes at their cap — circles for ``infeasible``, squares for any other status —
    and the caps found infeasible are shaded.

    Parameters
    ----------
    frame
        :func:`resilience.sweeps.frontier` output: ``max_non_allied_share``, ``status``
        (``"optimal"``, ``"infeasible"``...), the ``y`` column, optionally ``scenario``,
        ``study``, ``model`` and ``non_allied_share``.
    x
        ``"max_non_allied_share"`` (the cap ε, default) or ``"non_allied_share"`` (the
        share the plan achieves; points without a plan stay at their cap).
    y
        The cost column (USD): ``cost_usd`` (contract cost, default), ``objective_usd``...
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A needed column is missing, or ``x`` is not one of the two choices.
    """
    frame = _as_frame(frame, "frontier")
    if x not in ("max_non_allied_share", "non_allied_share"):
        raise ValueError(
            f"frontier: x={x!r} is not allowed; use 'max_non_allied_share' or 'non_allied_share'"
        )
    _require(frame, list(dict.fromkeys(["max_non_allied_share", "status", y, x])), "frontier")
    fig, ax = _axes(ax, (7.5, 4.5))
    ok = (pl.col("status") == "optimal") & pl.col(y).is_not_null() & pl.col(x).is_not_null()
    frame = frame.with_columns(_ok=ok).sort("max_non_allied_share")
    unit, fmt = _unit_formatter(y, frame.filter("_ok")[y].to_list())

    groups = (
        frame["scenario"].unique(maintain_order=True).to_list()
        if "scenario" in frame.columns and frame["scenario"].n_unique() > 1
        else [None]
    )
    caps = sorted(set(frame["max_non_allied_share"].drop_nulls().to_list()))
    if x == "max_non_allied_share":
        _shade_infeasible(ax, frame, caps)
    for i, group in enumerate(groups):
        part = frame if group is None else frame.filter(pl.col("scenario") == group)
        good = part.filter("_ok").sort(x)
        colour = SERIES[i % len(SERIES)]
        ax.plot(
            good[x].to_list(),
            good[y].to_list(),
            marker="o",
            markersize=5,
            linewidth=1.8,
            color=colour,
            label="optimal plan" if group is None else str(group),
        )
        _mark_without_plan(
            ax,
            part.filter(~pl.col("_ok")),
            height=0.04 + 0.05 * i,
            colour=PALETTE["infeasible"] if group is None else colour,
            suffix="" if group is None else f": {group}",
        )

    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    ax.set_xlabel(_label(x, "%"))
    ax.set_ylabel(_label(y, unit))
    drawn = frame.filter("_ok")[x].to_list() + frame.filter(~pl.col("_ok"))[_CAP].to_list()
    ax.set_xlim(min(drawn, default=0.0) - 0.02, max(drawn, default=1.0) + 0.02)
    if not frame.filter("_ok").height:
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "no feasible plan on this grid",
            transform=ax.transAxes,
            ha="center",
            color=PALETTE["infeasible"],
        )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9, frameon=False)
    subtitle = _subtitle(_one(frame, "study"), _one(frame, "scenario"), _one(frame, "model"))
    against = "non-allied share cap" if x == _CAP else "achieved non-allied share"
    _title(ax, f"Cost of friend-shoring against the {against}", subtitle)
    _credit(fig)
    return fig


# ----------------------------------------------------------------------------- exposure
def _summary_of(source: StudyResult | pl.DataFrame, func: str) -> tuple[pl.DataFrame, str]:
    if isinstance(source, StudyResult):
        return source.summary, _subtitle(source.study, source.scenario, source.model)
    return _as_frame(source, func), ""


def exposure(
    source: StudyResult | pl.DataFrame,
    *,
    metric: Literal["non_allied_share", "max_single_share", "hhi"] = "non_allied_share",
    by: Literal["commodity", "member"] = "commodity",
    member: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Exposure before (observed trade) and after (the plan), as paired horizontal bars.

    Parameters
    ----------
    source
        A :class:`~resilience.study.StudyResult` or its ``summary`` frame
        (``member_iso3, commodity, stage, demand_t`` and ``<metric>_before/_after``).
    metric
        ``non_allied_share`` (default), ``max_single_share`` or ``hhi`` (ticks on the
        0-10 000 scale; the bars keep the summary's 0-1 values).
    by
        ``"commodity"``: one pair per commodity, the members' values weighted by their
        demand (members with a null value left out); ``"member"``: one pair per member
        and commodity.
    member
        Only this member (ISO3).
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Two bar containers, labelled ``before (observed trade)`` and ``after (plan)``.

    Raises
    ------
    ValueError
        A needed column is missing, an unknown metric or grouping, or a member absent
        from the summary.
    """
    summary, subtitle = _summary_of(source, "exposure")
    _check_choice("exposure", "metric", metric, list(_EXPOSURE_METRICS))
    _check_choice("exposure", "by", by, ["commodity", "member"])
    _require(summary, [*_KEY, "demand_t", f"{metric}_before", f"{metric}_after"], "exposure")
    summary = _only_member(summary, member, "exposure", "summary")
    rows, labels = _exposure_rows(summary, metric, by)
    if by == "commodity":
        how = "members' demand-weighted mean" if member is None else f"member {member}"
    else:
        how = "per member and commodity"

    n = len(labels)
    fig, ax = _axes(ax, (7.5, 1.2 + 0.5 * n if by == "commodity" else 1.2 + 0.32 * n))
    pos = list(range(n))
    h = 0.38
    values = {
        "before": [float("nan") if v is None else v for v in rows["before"].to_list()],
        "after": [float("nan") if v is None else v for v in rows["after"].to_list()],
    }
    is_hhi = metric == "hhi"

    def show(v: float) -> str:
        if math.isnan(v):
            return "n/a"
        return f"{v * 10_000:,.0f}" if is_hhi else f"{100 * v:.0f}%"

    for offset, key, name in (
        (-h / 2, "before", "before (observed trade)"),
        (h / 2, "after", "after (plan)"),
    ):
        bars = ax.barh(
            [p + offset for p in pos],
            [0.0 if math.isnan(v) else v for v in values[key]],
            height=h,
            color=PALETTE[key],
            label=name,
        )
        ax.bar_label(bars, labels=[show(v) for v in values[key]], padding=2, fontsize=8)
    ax.set_yticks(pos, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    if is_hhi:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 10_000:,.0f}"))
        ax.set_xlabel("supplier concentration, HHI (0–10 000)")
    else:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.set_xlabel(f"{_EXPOSURE_METRICS[metric]} (%)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    name = _EXPOSURE_METRICS[metric]
    title = f"{name[0].upper()}{name[1:]}: before and after the plan"
    _title(ax, title, _subtitle(subtitle, how))
    _credit(fig)
    return fig


_BASES = {"observed": "observed_t", "plan": "quantity_t"}
_BAR = ["commodity", "stage", "basis"]
_PLAN_COLUMNS = ["member_iso3", "supplier_iso3", "commodity", "stage"]


def _plan_of(source: StudyResult | pl.DataFrame) -> tuple[pl.DataFrame, str]:
    if not isinstance(source, StudyResult):
        return _as_frame(source, "supplier_shares"), ""
    if "plan" not in source.tables:
        raise ValueError(
            f"supplier_shares: the result has no 'plan' table; tables: {', '.join(source.tables)}"
        )
    return source.tables["plan"], _subtitle(source.study, source.scenario)


def _supplier_long(plan: pl.DataFrame, bases: Sequence[str]) -> pl.DataFrame:
    """Per commodity, stage, basis and supplier: the supplier's positive share of tonnes."""
    long = pl.concat(
        [
            plan.group_by("commodity", "stage", "supplier_iso3")
            .agg(pl.col(_BASES[b]).sum().alias("q"))
            .with_columns(basis=pl.lit(b))
            for b in bases
        ]
    )
    total = pl.col("q").sum().over(_BAR)
    share = pl.when(total > 0).then(pl.col("q") / total).otherwise(0.0)
    return long.with_columns(share=share).filter(pl.col("share") > 0)


# ----------------------------------------------------------------------------- suppliers
def supplier_shares(
    source: StudyResult | pl.DataFrame,
    member: str | None = None,
    *,
    top: int = 5,
    basis: Literal["both", "observed", "plan"] = "both",
    ax: Axes | None = None,
) -> Figure:
    """Stacked supplier shares per commodity, observed trade and the plan.

    Each bar splits one commodity's supply (all members' summed, or ``member``'s) among
    suppliers. A supplier is named — in every bar — when it is among the ``top`` largest
    of any bar; the suppliers never among them are summed as ``other``. Colours follow
    the suppliers across bars; allied suppliers carry ``(ally)`` in the legend.

    Parameters
    ----------
    source
        A :class:`~resilience.study.StudyResult` (its ``plan`` table) or a plan frame:
        ``member_iso3, supplier_iso3, commodity, stage, quantity_t, observed_t`` and
        optionally ``is_ally``.
    member
        Only this member's supply (ISO3); all members when omitted.
    top
        Suppliers named per bar (at least 1).
    basis
        ``"both"`` (observed and planned bar per commodity, default), ``"observed"`` or
        ``"plan"``.
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        One bar container per named supplier (labelled with its ISO3 code) and one
        ``other``, each with one bar per row.

    Raises
    ------
    ValueError
        A needed column is missing, ``top < 1``, an unknown basis or member.
    """
    plan, subtitle = _plan_of(source)
    if top < 1:
        raise ValueError(f"supplier_shares: top={top} must be at least 1")
    _check_choice("supplier_shares", "basis", basis, ["both", "observed", "plan"])
    chosen = ["observed", "plan"] if basis == "both" else [basis]
    _require(plan, [*_PLAN_COLUMNS, *_BASES.values()], "supplier_shares")
    plan = _only_member(plan, member, "supplier_shares", "plan")
    long = _supplier_long(plan, chosen)
    rank = pl.col("share").rank("ordinal", descending=True).over(_BAR)
    named = (
        long.filter(rank <= top)
        .group_by("supplier_iso3")
        .agg(pl.col("share").sum())
        .sort(["share", "supplier_iso3"], descending=[True, False])["supplier_iso3"]
        .to_list()
    )
    allies: set[str] = set()
    if "is_ally" in plan.columns:
        allies = set(plan.filter(pl.col("is_ally"))["supplier_iso3"].unique().to_list())

    commodities = plan.select("commodity", "stage").unique().sort("commodity", "stage").rows()
    rows = [(c, s, b) for c, s in commodities for b in chosen]
    labels = [
        f"{_commodity_label(c, s)}, {b}" if len(chosen) > 1 else _commodity_label(c, s)
        for c, s, b in rows
    ]
    gap = 0.6 if len(chosen) > 1 else 0.0
    positions = [i + gap * (i // len(chosen)) for i in range(len(rows))]
    shares = {
        (c, s, b, sup): v
        for c, s, b, sup, v in long.select(*_BAR, "supplier_iso3", "share").iter_rows()
    }

    fig, ax = _axes(ax, (9.0, 1.4 + 0.42 * len(rows)))
    left = [0.0] * len(rows)
    for i, sup in enumerate(named):
        widths = [shares.get((c, s, b, sup), 0.0) for c, s, b in rows]
        ax.barh(
            positions,
            widths,
            left=left,
            height=0.8,
            color=SUPPLIER_COLOURS[i % len(SUPPLIER_COLOURS)],
            edgecolor="white",
            linewidth=0.5,
            label=f"{sup} (ally)" if sup in allies else sup,
        )
        left = [a + w for a, w in zip(left, widths, strict=True)]
    rest = [max(0.0, 1.0 - a) if a > 0 else 0.0 for a in left]
    ax.barh(
        positions,
        rest,
        left=left,
        height=0.8,
        color=PALETTE["other"],
        edgecolor="white",
        linewidth=0.5,
        label="other",
    )
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("share of supply (%, by tonnes)")
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, title="supplier"
    )
    who = f"member {member}" if member else "all members"
    what = {"both": "observed trade and the plan", "observed": "observed trade", "plan": "the plan"}
    _title(ax, f"Supplier shares by commodity: {what[basis]}", _subtitle(subtitle, who))
    _credit(fig)
    return fig


# ----------------------------------------------------------------------------- shortfall
def shortfall_by_scenario(
    source: pl.DataFrame | Sequence[StudyResult],
    *,
    value: str = "expected_shortfall_t",
    ax: Axes | None = None,
) -> Figure:
    """Expected shortfall per scenario as horizontal bars, largest on top.

    Parameters
    ----------
    source
        A frame with one row per ``scenario`` and the ``value`` column — e.g. the
        ``totals`` of several runs, ``pl.concat([r.totals for r in results])`` — or the
        results themselves.
    value
        ``expected_shortfall_t`` (default), ``expected_shortfall_usd``,
        ``expected_shortfall_share`` or any numeric column (unit from its suffix:
        ``_t``, ``_usd``, ``_share``). Null values (a model that does not estimate
        shortfall) are drawn as empty bars labelled ``n/a``; values within ``1e-6`` of
        zero (solver round-off such as ``-1e-14`` t) as zero.
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A needed column is missing, or a scenario appears more than once.
    """
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        frame = _as_frame(source, "shortfall_by_scenario")
    else:
        results = list(source)
        if not results:
            raise ValueError("shortfall_by_scenario: no results given")
        frame = pl.concat([r.totals for r in results], how="diagonal_relaxed")
    _require(frame, ["scenario", value], "shortfall_by_scenario")
    dupes = frame.filter(pl.col("scenario").is_duplicated())["scenario"].unique().to_list()
    if dupes:
        raise ValueError(
            f"shortfall_by_scenario: one row per scenario expected; repeated: "
            f"{', '.join(map(str, sorted(dupes)))}"
        )
    frame = frame.select("scenario", pl.col(value).cast(pl.Float64)).sort(
        value, descending=True, nulls_last=True
    )
    names = frame["scenario"].to_list()
    raw = [None if v is None else 0.0 if abs(v) < _ROUND_OFF else v for v in frame[value]]
    unit, fmt = _unit_formatter(value, raw)
    fig, ax = _axes(ax, (7.5, 1.4 + 0.45 * len(names)))
    bars = ax.barh(
        list(range(len(names))),
        [0.0 if v is None else v for v in raw],
        height=0.6,
        color=PALETTE["bar"],
        label=LABELS.get(value, value),
    )
    suffix = f" {unit}" if unit and unit != "%" and not unit.startswith("USD") else ""
    money = f" {unit.removeprefix('USD ')}" if unit.startswith("USD ") else ""
    ax.bar_label(
        bars,
        labels=["n/a" if v is None else f"{fmt(v)}{suffix}{money}" for v in raw],
        padding=3,
        fontsize=8,
    )
    ax.set_yticks(list(range(len(names))), names)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    ax.set_xlabel(_label(value, unit))
    top = max((v for v in raw if v is not None), default=0.0)
    ax.set_xlim(0, top * 1.18 if top > 0 else 1.0)
    ax.grid(True, axis="x", alpha=0.3)
    if top <= 0:
        ax.set_xticks([0.0])
        ax.text(
            0.98,
            0.02,
            "no shortfall in any scenario",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=9,
            color=PALETTE["muted"],
        )
    subtitle = _subtitle(_one(frame, "study"), _one(frame, "model"))
    name = LABELS.get(value, value)
    _title(ax, f"{name[0].upper()}{name[1:]} by scenario", subtitle)
    _credit(fig)
    return fig
