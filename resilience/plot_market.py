"""Market plots of study results: welfare loss per scenario and monthly price paths.

:func:`loss_by_scenario` and :func:`price_paths`, re-exported by :mod:`resilience.plots`;
styles and helpers from :mod:`resilience.plot_style`.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from resilience.metrics.sums import stable_sum
from resilience.plot_style import (
    _ROUND_OFF,
    LABELS,
    PALETTE,
    SUPPLIER_COLOURS,
    _as_frame,
    _axes,
    _credit,
    _good_label,
    _label,
    _number,
    _only_member,
    _require,
    _subtitle,
    _title,
    _unit_formatter,
)
from resilience.reference.commodities import load_commodities
from resilience.study import StudyResult

__all__ = ["loss_by_scenario", "price_paths"]


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
            .otherwise(stable_sum(pl.col(column)))
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
    """The unit the market core counts ``good`` (``commodity/stage``) in.

    ``datasets/commodities.csv``'s unit, or the unit of the good's world row in
    ``datasets/market_balances.csv`` where it has one (chips: USD m of output; battery
    cells: GWh), as :func:`~resilience.optimize.market.links_data.in_market_units` says.
    """
    from resilience.optimize.market.links_data import in_market_units

    commodity, _, stage = good.partition("/")
    table = in_market_units(load_commodities())
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
