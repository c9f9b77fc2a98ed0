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
from collections.abc import Sequence
from typing import Literal

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from resilience.plot_files import save
from resilience.plot_market import loss_by_scenario, price_paths
from resilience.plot_style import (
    _CAP,
    _DEMAND,
    _EXPOSURE_METRICS,
    _KEY,
    LABELS,
    PALETTE,
    SERIES,
    SUPPLIER_COLOURS,
    _as_frame,
    _axes,
    _check_choice,
    _credit,
    _exposure_rows,
    _good_label,
    _label,
    _mark_not_optimal,
    _one,
    _only_member,
    _require,
    _subtitle,
    _title,
    _unit_formatter,
)
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
