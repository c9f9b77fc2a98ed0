"""Standard plots of study results, drawn headless with matplotlib's object API.

Every function takes Polars frames (or a :class:`~resilience.study.StudyResult`) and
returns a :class:`matplotlib.figure.Figure`; none touches ``pyplot``, so they render
without a display or backend set-up. Pass ``ax`` to draw into an existing axes (the
function then returns that axes' figure). :func:`save` writes a figure as PNG, SVG or PDF,
chosen from the file's suffix.

Every figure carries a sources-and-licences line at its foot
(:func:`resilience.credits.credits`).

The plotted data keep the units of the frames (USD, units of the good, shares in 0-1,
per cent where the column ends in ``_pct``): only the tick labels are scaled (``USD m``,
``USD bn``, per cent, HHI on 0-10 000), so that what is drawn can be checked against the
frames it came from.

==========================  ==============================================================
function                    shows
==========================  ==============================================================
:func:`frontier`            the members' expected welfare loss against the cap ε on the
                            non-allied share (or the share achieved); runs that did not
                            solve to optimality as hollow markers
:func:`exposure`            non-allied share, largest-supplier share or HHI of imports
                            before (observed trade) and after (the run), per commodity
                            (demand-weighted over members) or per member and commodity
:func:`supplier_shares`     stacked shares of each origin in the members' imports per
                            good, observed and in the run: the top origins by name (allies
                            marked), the rest as "other"
:func:`loss_by_scenario`    welfare loss (USD) per scenario: of one run's scenarios (its
                            ``members`` table) or of several runs (their ``totals``)
:func:`price_paths`         monthly price per member, good and scenario, as lines
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
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from resilience.credits import credits
from resilience.plot_files import save
from resilience.reference.commodities import load_commodities
from resilience.study import StudyResult

__all__ = [
    "LABELS",
    "PALETTE",
    "exposure",
    "frontier",
    "loss_by_scenario",
    "price_paths",
    "save",
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


# ----------------------------------------------------------------------------- frontier
def frontier(
    frame: pl.DataFrame,
    *,
    x: Literal["max_non_allied_share", "non_allied_share"] = "max_non_allied_share",
    y: str = "expected_welfare_loss_usd",
    ax: Axes | None = None,
) -> Figure:
    """Friend-shoring frontier: the members' welfare loss against the non-allied share cap ε.

    Points proven optimal are joined by a line (one per ``scenario`` when the frame holds
    several). A cap never makes the market infeasible (members consume less instead), but
    a run can still stop short of optimality (a time limit...): such points are drawn as
    hollow squares along the bottom of the axes at their cap, labelled with their status.

    Parameters
    ----------
    frame
        :func:`resilience.sweeps.frontier` output (:data:`~resilience.sweeps.frontier.
        FRONTIER_COLUMNS`): ``max_non_allied_share``, ``status``, the ``y`` column,
        optionally ``scenario``, ``study``, ``model`` and ``non_allied_share``.
    x
        ``"max_non_allied_share"`` (the cap ε, default) or ``"non_allied_share"`` (the
        share the run achieves; points not optimal stay at their cap).
    y
        The column on the y axis: ``expected_welfare_loss_usd`` (default),
        ``worst_welfare_loss_usd``, ``expected_shed_share``, ``price_rise_max_pct``...
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
    _check_choice("frontier", "x", x, [_CAP, "non_allied_share"])
    _require(frame, list(dict.fromkeys([_CAP, "status", y, x])), "frontier")
    fig, ax = _axes(ax, (7.5, 4.5))
    ok = (pl.col("status") == "optimal") & pl.col(y).is_not_null() & pl.col(x).is_not_null()
    frame = frame.with_columns(_ok=ok).sort(_CAP)
    unit, fmt = _unit_formatter(y, frame.filter("_ok")[y].to_list())

    groups = (
        frame["scenario"].unique(maintain_order=True).to_list()
        if "scenario" in frame.columns and frame["scenario"].n_unique() > 1
        else [None]
    )
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
            label="optimal run" if group is None else str(group),
        )
        _mark_not_optimal(
            ax,
            part.filter(~pl.col("_ok")),
            height=0.04 + 0.05 * i,
            colour=PALETTE["muted"] if group is None else colour,
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
            "no optimal run on this grid",
            transform=ax.transAxes,
            ha="center",
            color=PALETTE["infeasible"],
        )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9, frameon=False)
    subtitle = _subtitle(_one(frame, "study"), _one(frame, "scenario"), _one(frame, "model"))
    against = "non-allied share cap" if x == _CAP else "achieved non-allied share"
    _title(ax, f"Friend-shoring frontier against the {against}", subtitle)
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
    """Import exposure before (observed trade) and after (the run), as paired bars.

    Parameters
    ----------
    source
        A :class:`~resilience.study.StudyResult` or its ``summary`` frame
        (``member_iso3, commodity, stage, demand_units_per_year`` and
        ``<metric>_before/_after``).
    metric
        ``non_allied_share`` (default), ``max_single_share`` or ``hhi`` (ticks on the
        0-10 000 scale; the bars keep the summary's 0-1 values).
    by
        ``"commodity"``: one pair per commodity, the members' values weighted by their
        demand (``demand_units_per_year``; members with a null value left out);
        ``"member"``: one pair per member and commodity.
    member
        Only this member (ISO3).
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Two bar containers, labelled ``before (observed trade)`` and ``after (the run)``.

    Raises
    ------
    ValueError
        A needed column is missing, an unknown metric or grouping, or a member absent
        from the summary.
    """
    summary, subtitle = _summary_of(source, "exposure")
    _check_choice("exposure", "metric", metric, list(_EXPOSURE_METRICS))
    _check_choice("exposure", "by", by, ["commodity", "member"])
    _require(summary, [*_KEY, _DEMAND, f"{metric}_before", f"{metric}_after"], "exposure")
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
        (h / 2, "after", "after (the run)"),
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
        ax.set_xlabel("supplier concentration of imports, HHI (0–10 000)")
    else:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.set_xlabel(f"{_EXPOSURE_METRICS[metric]} (% of imports)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    name = _EXPOSURE_METRICS[metric]
    title = f"{name[0].upper()}{name[1:]}: observed and in the run"
    _title(ax, title, _subtitle(subtitle, how))
    _credit(fig)
    return fig


# ----------------------------------------------------------------------------- suppliers
_BASES = {"observed": "observed_units_per_month", "after": "after_units_per_month"}
_BAR = ["good", "basis"]
_FLOW_COLUMNS = ["member", "origin", "good"]


def _flows_of(source: StudyResult | pl.DataFrame) -> tuple[pl.DataFrame, str]:
    if not isinstance(source, StudyResult):
        return _as_frame(source, "supplier_shares"), ""
    if "supplier_flows" not in source.tables:
        raise ValueError(
            "supplier_shares: the result has no 'supplier_flows' table; tables: "
            f"{', '.join(source.tables)}"
        )
    return source.tables["supplier_flows"], _subtitle(source.study, source.scenario)


def _good_label(good: str) -> str:
    """``graphite/mining`` -> ``graphite (mining)``."""
    commodity, _, stage = good.partition("/")
    return _commodity_label(commodity, stage) if stage else commodity


def _supplier_long(flows: pl.DataFrame, bases: Sequence[str]) -> pl.DataFrame:
    """Per good, basis and origin: the origin's positive share of the imports."""
    long = pl.concat(
        [
            flows.group_by("good", "origin")
            .agg(pl.col(_BASES[b]).sum().alias("q"))
            .with_columns(basis=pl.lit(b))
            for b in bases
        ]
    )
    total = pl.col("q").sum().over(_BAR)
    share = pl.when(total > 0).then(pl.col("q") / total).otherwise(0.0)
    return long.with_columns(share=share).filter(pl.col("share") > 0)


def supplier_shares(
    source: StudyResult | pl.DataFrame,
    member: str | None = None,
    *,
    top: int = 5,
    basis: Literal["both", "observed", "after"] = "both",
    ax: Axes | None = None,
) -> Figure:
    """Stacked shares of each origin in the imports per good, observed and in the run.

    Each bar splits one good's imports (all members' summed, or ``member``'s) among
    origins. An origin is named — in every bar — when it is among the ``top`` largest of
    any bar; the others are summed as ``other``. Colours follow the origins across bars;
    allied origins carry ``(ally)`` in the legend.

    Parameters
    ----------
    source
        A :class:`~resilience.study.StudyResult` (its ``supplier_flows`` table) or such a
        frame: ``member, origin, good, observed_units_per_month, after_units_per_month``
        and optionally ``is_ally``.
    member
        Only this member's imports (ISO3); all members when omitted.
    top
        Origins named per bar (at least 1).
    basis
        ``"both"`` (observed and after bar per good, default), ``"observed"`` or
        ``"after"``.
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        One bar container per named origin (labelled with its ISO3 code) and one
        ``other``, each with one bar per row.

    Raises
    ------
    ValueError
        A needed column is missing, ``top < 1``, an unknown basis or member.
    """
    flows, subtitle = _flows_of(source)
    if top < 1:
        raise ValueError(f"supplier_shares: top={top} must be at least 1")
    _check_choice("supplier_shares", "basis", basis, ["both", "observed", "after"])
    chosen = ["observed", "after"] if basis == "both" else [basis]
    _require(flows, [*_FLOW_COLUMNS, *_BASES.values()], "supplier_shares")
    flows = _only_member(flows, member, "supplier_shares", "supplier flows", column="member")
    long = _supplier_long(flows, chosen)
    rank = pl.col("share").rank("ordinal", descending=True).over(_BAR)
    named = (
        long.filter(rank <= top)
        .group_by("origin")
        .agg(pl.col("share").sum())
        .sort(["share", "origin"], descending=[True, False])["origin"]
        .to_list()
    )
    allies: set[str] = set()
    if "is_ally" in flows.columns:
        allies = set(flows.filter(pl.col("is_ally"))["origin"].unique().to_list())

    goods = sorted(flows["good"].unique().to_list())
    rows = [(g, b) for g in goods for b in chosen]
    labels = [f"{_good_label(g)}, {b}" if len(chosen) > 1 else _good_label(g) for g, b in rows]
    gap = 0.6 if len(chosen) > 1 else 0.0
    positions = [i + gap * (i // len(chosen)) for i in range(len(rows))]
    shares = {(g, b, o): v for g, b, o, v in long.select(*_BAR, "origin", "share").iter_rows()}

    fig, ax = _axes(ax, (9.0, 1.4 + 0.42 * len(rows)))
    left = [0.0] * len(rows)
    for i, origin in enumerate(named):
        widths = [shares.get((g, b, origin), 0.0) for g, b in rows]
        ax.barh(
            positions,
            widths,
            left=left,
            height=0.8,
            color=SUPPLIER_COLOURS[i % len(SUPPLIER_COLOURS)],
            edgecolor="white",
            linewidth=0.5,
            label=f"{origin} (ally)" if origin in allies else origin,
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
    ax.set_xlabel("share of imports (%, by units of the good)")
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, title="origin"
    )
    who = f"member {member}" if member else "all members"
    what = {"both": "observed and in the run", "observed": "observed", "after": "in the run"}
    _title(ax, f"Origins of the imports by good: {what[basis]}", _subtitle(subtitle, who))
    _credit(fig)
    return fig


# ----------------------------------------------------------------------------- losses
def _loss_frame(
    source: StudyResult | pl.DataFrame | Sequence[StudyResult],
    value: str | None,
    member: str | None,
) -> tuple[pl.DataFrame, str, str]:
    """One row per scenario (``scenario``, ``value``), the value column and a subtitle."""
    func = "loss_by_scenario"
    if isinstance(source, StudyResult):
        frame, subtitle = source.members, _subtitle(source.study, source.scenario, source.model)
    elif isinstance(source, pl.DataFrame | pl.LazyFrame):
        frame, subtitle = _as_frame(source, func), ""
    else:
        results = list(source)
        if not results:
            raise ValueError(f"{func}: no results given")
        frame = pl.concat([r.totals for r in results], how="diagonal_relaxed")
        subtitle = _subtitle(*sorted({r.study for r in results}))
    per_member = "member" in frame.columns
    column = value or ("welfare_loss_usd" if per_member else "expected_welfare_loss_usd")
    _require(frame, ["scenario", column], func)
    if per_member:
        frame = _only_member(frame, member, func, "members table", column="member")
        frame = frame.group_by("scenario", maintain_order=True).agg(
            pl.when(pl.col(column).is_null().all())
            .then(None)
            .otherwise(pl.col(column).sum())
            .alias(column)
        )
        subtitle = _subtitle(subtitle, f"member {member}" if member else "all members")
    elif member is not None:
        raise ValueError(
            f"{func}: member={member!r} needs a per-member frame (a 'member' column, as in "
            f"StudyResult.members); columns present: {', '.join(frame.columns)}"
        )
    dupes = frame.filter(pl.col("scenario").is_duplicated())["scenario"].unique().to_list()
    if dupes:
        raise ValueError(
            f"{func}: one row per scenario expected; repeated: {', '.join(map(str, sorted(dupes)))}"
        )
    return frame.select("scenario", pl.col(column).cast(pl.Float64)), column, subtitle


def loss_by_scenario(
    source: StudyResult | pl.DataFrame | Sequence[StudyResult],
    *,
    value: str | None = None,
    member: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Welfare loss (USD) per scenario as horizontal bars, largest on top.

    Parameters
    ----------
    source
        - a :class:`~resilience.study.StudyResult`, or its ``members`` frame (a ``member``
          column): the loss in each scenario of the run (``calm`` included), summed over
          the members (or ``member``'s);
        - several results, or a frame with one row per ``scenario`` (their ``totals``,
          ``pl.concat([r.totals for r in results])``): one bar per run.
    value
        The column drawn: default ``welfare_loss_usd`` for a members frame and
        ``expected_welfare_loss_usd`` for totals; any numeric column otherwise (unit
        from its suffix: ``_usd``, ``_share``, ``_pct``...). Null values are drawn as
        empty bars labelled ``n/a``; values within ``1e-6`` of zero (solver round-off)
        as zero. Negative values (the members gain) are drawn to the left of zero.
    member
        Only this member's loss (ISO3; a members frame only).
    ax
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A needed column is missing, a scenario appears more than once in a totals
        frame, ``member`` is not in the members table (or the frame has no members).
    """
    frame, value, subtitle = _loss_frame(source, value, member)
    frame = frame.sort(value, descending=True, nulls_last=True)
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
    finite = [v for v in raw if v is not None]
    top, bottom = max(finite, default=0.0), min(finite, default=0.0)
    if top <= 0 and bottom >= 0:
        ax.set_xlim(0, 1.0)
        ax.set_xticks([0.0])
        ax.text(
            0.98,
            0.02,
            "no loss in any scenario",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=9,
            color=PALETTE["muted"],
        )
    else:
        span = top - min(bottom, 0.0)
        ax.set_xlim(min(bottom, 0.0) - 0.18 * span * (bottom < 0), max(top, 0.0) + 0.18 * span)
        ax.axvline(0.0, color=PALETTE["muted"], linewidth=0.8)
    ax.grid(True, axis="x", alpha=0.3)
    name = LABELS.get(value, value)
    _title(ax, f"{name[0].upper()}{name[1:]} by scenario", subtitle)
    _credit(fig)
    return fig


# ----------------------------------------------------------------------------- prices
_LINESTYLES = ("-", "--", ":", "-.")
#: Price paths moving less than this share of their level get a y range of that share.
_FLAT = 0.02


def _unit_of(good: str) -> str:
    """The content unit of ``good`` (``commodity/stage``) in ``datasets/commodities.csv``."""
    commodity, _, stage = good.partition("/")
    table = load_commodities()
    found = table.filter((pl.col("commodity") == commodity) & (pl.col("stage") == stage))
    return str(found["unit"][0]) if found.height else "unit"


def _price_panel(panel: Axes, part: pl.DataFrame, good: str) -> None:
    """Lines of one good's prices: a colour per node, a line style per scenario."""
    scenarios = sorted(part["scenario"].unique().to_list(), key=lambda s: (s != "calm", s))
    for i, node in enumerate(sorted(part["node"].unique().to_list())):
        for j, scenario in enumerate(scenarios):
            line = part.filter((pl.col("node") == node) & (pl.col("scenario") == scenario))
            if not line.height:
                continue
            line = line.sort("month")
            panel.plot(
                line["month"].to_list(),
                line["price_usd_per_unit"].to_list(),
                color=SUPPLIER_COLOURS[i % len(SUPPLIER_COLOURS)],
                linestyle=_LINESTYLES[j % len(_LINESTYLES)],
                marker="o",
                markersize=3,
                linewidth=1.5,
                label=f"{node}, {scenario}",
            )
    values = part["price_usd_per_unit"].to_list()
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    if hi - lo < _FLAT * abs(hi):  # a flat path is drawn flat, not magnified noise
        pad = _FLAT * max(abs(hi), 1.0)
        panel.set_ylim(lo - pad, hi + pad)
    panel.set_ylabel(f"price (USD per {_unit_of(good)})")
    panel.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _number(v, 0)))
    panel.set_xlabel("month of the horizon")
    panel.xaxis.set_major_locator(MaxNLocator(integer=True))
    panel.grid(True, alpha=0.3)
    panel.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def price_paths(
    result: StudyResult,
    member: str | None = None,
    *,
    good: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Monthly price per member, good and scenario as lines (``tables["prices"]``).

    One panel per good (prices of different goods differ by orders of magnitude and are
    in their own content units); within a panel, a colour per member and a line style
    per scenario of the run (``calm`` included).

    Parameters
    ----------
    result
        A study run with a ``prices`` table (``node, good, month, scenario,
        price_usd_per_unit``); only the run's members are drawn.
    member
        Only this member (ISO3).
    good
        Only this good (``commodity/stage``, e.g. ``graphite/mining``); needed when
        ``ax`` is given and the run has several goods.
    ax
        Axes to draw into (one good only); a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        One line per member and scenario in each good's axes, labelled
        ``"<member>, <scenario>"``.

    Raises
    ------
    ValueError
        The result has no ``prices`` table, an unknown member or good, or ``ax`` given
        for several goods.
    """
    func = "price_paths"
    if "prices" not in result.tables:
        raise ValueError(
            f"{func}: the result has no 'prices' table; tables: {', '.join(result.tables)}"
        )
    prices = result.tables["prices"]
    _require(prices, ["node", "good", "month", "scenario", "price_usd_per_unit"], func)
    members = sorted(result.members["member"].unique().to_list())
    prices = prices.filter(pl.col("node").is_in(members))
    prices = _only_member(prices, member, func, "run's prices", column="node")
    if good is not None:
        known = sorted(prices["good"].unique().to_list())
        if good not in known:
            raise ValueError(
                f"{func}: good {good!r} is not in the run's prices; goods: {', '.join(known)}"
            )
        prices = prices.filter(pl.col("good") == good)
    goods = sorted(prices["good"].unique().to_list())
    if ax is not None and len(goods) > 1:
        raise ValueError(
            f"{func}: one axes cannot hold {len(goods)} goods ({', '.join(goods)}); "
            "pass good= or no ax"
        )
    if ax is None:
        fig = Figure(figsize=(8.0, 0.6 + 2.8 * len(goods)), layout="constrained")
        axes = list(fig.subplots(len(goods), 1, squeeze=False)[:, 0])
    else:
        fig, only = _axes(ax, (8.0, 3.4))
        axes = [only]
    who = f"member {member}" if member else "members"
    for panel, g in zip(axes, goods, strict=True):
        _price_panel(panel, prices.filter(pl.col("good") == g), g)
        _title(
            panel,
            f"Monthly price of {_good_label(g)}",
            _subtitle(result.study, result.scenario, who),
        )
    _credit(fig)
    return fig
