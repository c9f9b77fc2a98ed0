"""``summary.html``: a one-page, self-contained summary of a report partition.

For people who would rather look than read: the top risks of the metrics table, the
scenario findings (including the runs that did not solve, with the reason's first line),
and three pictures — the top risks, the members' welfare loss per scenario and the
welfare-loss frontier of friend-shoring — as PNG embedded in the page (base64), so the
file can be mailed or opened from any folder. Figures are drawn with
:class:`matplotlib.figure.Figure` (no pyplot, no display); PNGs are written without a
timestamp or software tag and the page holds no clock time, so the same tables give the
same bytes.

Top risks are ranked by the GeoPolRisk score (Koyamparambath et al. 2024: concentration
times governance-weighted import shares), highest first.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from resilience import plots
from resilience.credits import credits

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PageContext", "render_page", "top_risks"]

log = logging.getLogger(__name__)

_BLUE, _RED, _GREY, _ORANGE = "#1f5a96", "#c0392b", "#8a8f98", "#e08e0b"
_STATUS_COLOUR = {"optimal": "#2e7d32", "infeasible": _RED, "not_applicable": _GREY}
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2430;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #dde2e8;padding-bottom:.3rem}
.meta{color:#5a6270;font-size:.9rem}.badges span{display:inline-block;margin:.2rem .4rem
.2rem 0;padding:.15rem .6rem;border-radius:1rem;color:#fff;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin-top:.5rem}
th,td{padding:.3rem .5rem;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top}
th{background:#f5f7fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;margin:.5rem 0}.note{color:#5a6270;font-size:.85rem}
footer{margin-top:2.5rem;color:#5a6270;font-size:.8rem;word-break:break-all}
"""


@dataclass(frozen=True)
class PageContext:
    """What the page says about the partition besides its tables."""

    report: str
    description: str
    as_of: str
    data_year: int | None
    status_counts: Mapping[str, int]
    inputs_sha256: str
    versions: Mapping[str, str | None]
    top_n: int = 15


# ----------------------------------------------------------------------------- format
_NEGATIVE_ZERO = re.compile(r"^-(?=[$0.,]*[TBMk]?$)")


def _money(x: float | None) -> str:
    """USD with a T/B/M/k suffix, the sign before the dollar (``-$1.2M``), never ``$-0``."""
    if x is None:
        return "—"
    sign = "-" if x < 0 else ""
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return _NEGATIVE_ZERO.sub("", f"{sign}${abs(x) / size:,.1f}{unit}")
    return _NEGATIVE_ZERO.sub("", f"{sign}${abs(x):,.0f}")


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "—" if x is None else _NEGATIVE_ZERO.sub("", format(x, fmt))


def _esc(value: object) -> str:
    return html.escape("—" if value is None else str(value))


def _figure(width: float, height: float) -> Figure:
    """A new figure (matplotlib is imported here: the page is its only user)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ----------------------------------------------------------------------------- content
def top_risks(metrics: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` importer-commodity-stage rows with the highest GeoPolRisk score.

    Material rows first (``is_material``, :mod:`resilience.build.materiality`): a row
    whose recorded imports are all tiny flows cannot top the list.
    """
    return (
        metrics.filter(pl.col("geopolrisk_score").is_not_null())
        .sort(
            ["is_material", "geopolrisk_score", "importer_iso3", "commodity", "stage"],
            descending=[True, True, False, False, False],
            nulls_last=True,
        )
        .head(n)
    )


def _risk_figure(risks: pl.DataFrame) -> str:
    labels = [
        f"{r['importer_iso3']} · {r['commodity']}/{r['stage']}" for r in risks.iter_rows(named=True)
    ][::-1]
    scores = risks["geopolrisk_score"].to_list()[::-1]
    fig = _figure(8, 0.32 * len(labels) + 1.1)
    ax = fig.add_subplot()
    ax.barh(labels, scores, color=_BLUE)
    ax.set_xlabel("GeoPolRisk score")
    ax.set_title("Top risks", loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def _bars(ax: Any, labels: list[str], values: list[float | None], statuses: list[str]) -> None:
    """Horizontal bars from zero; runs without a plan are labelled instead."""
    shown = [v or 0.0 for v in values]
    colours = [_STATUS_COLOUR.get(s, _ORANGE) for s in statuses]
    ax.barh(labels, shown, color=colours)
    peak = max(shown, default=0.0)
    ax.set_xlim(0, peak * 1.25 if peak > 0 else 1.0)
    if peak <= 0:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "zero in every run", transform=ax.transAxes, ha="center", color=_GREY)
    for i, status in enumerate(statuses):
        if status != "optimal":
            ax.text(0, i, "  " + status.replace("_", " "), va="center", fontsize=8)
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _money(x)))
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="both", labelsize=8)


def _scenario_figure(scenarios: pl.DataFrame) -> str:
    studies = scenarios["study"].unique(maintain_order=True).to_list()
    heights = [scenarios.filter(pl.col("study") == s).height for s in studies]
    fig = _figure(10, 0.28 * sum(heights) + 0.9 * len(studies) + 0.3)
    axes = fig.subplots(
        len(studies), 2, squeeze=False, sharey="row", height_ratios=[h + 2 for h in heights]
    )
    for row, study in zip(axes, studies, strict=True):
        rows = scenarios.filter(pl.col("study") == study).reverse()
        labels, statuses = rows["scenario"].to_list(), rows["status"].to_list()
        _bars(row[0], labels, rows["worst_welfare_loss_usd"].to_list(), statuses)
        _bars(row[1], labels, rows["expected_welfare_loss_usd"].to_list(), statuses)
        row[0].set_title(f"{study}: members' loss if it happens", loc="left", fontsize=10)
        row[1].set_title("expected welfare loss (probability-weighted)", loc="left", fontsize=10)
    return _png(fig)


def _frontier_figure(frontier: pl.DataFrame) -> str:
    """One frontier panel per study and scenario (:func:`resilience.plots.frontier`)."""
    keys = frontier.select("study", "scenario").unique(maintain_order=True).rows()
    fig = _figure(4.2 * min(len(keys), 2), 3.4 * ((len(keys) + 1) // 2))
    axes = fig.subplots((len(keys) + 1) // 2, min(len(keys), 2), squeeze=False).ravel()
    for ax, (study, scenario) in zip(axes, keys, strict=False):
        rows = frontier.filter((pl.col("study") == study) & (pl.col("scenario") == scenario))
        plots.frontier(rows, ax=ax)  # its subtitle names the study, scenario and model
        ax.set_title(
            "Welfare cost of friend-shoring", loc="left", fontsize=10, fontweight="bold", pad=16
        )
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    return _png(fig)


def _risk_table(risks: pl.DataFrame) -> str:
    rows = [
        [
            _esc(r["importer_iso3"]),
            _esc(f"{r['commodity']}/{r['stage']}"),
            _esc(r["basis"]),
            _esc(r["top_supplier_iso3"]),
            _num(r["top1_share"] * 100 if r["top1_share"] is not None else None, ".0f"),
            _num(r["hhi_10000"], ",.0f"),
            _money(r["import_value_usd"]),
            _num(r["import_reliance"] * 100 if r["import_reliance"] is not None else None, ".0f"),
            _num(r["eu_supply_risk"]),
            _num(r["geopolrisk_score"], ".3f"),
        ]
        for r in risks.iter_rows(named=True)
    ]
    header = [
        "importer",
        "commodity/stage",
        "basis",
        "top supplier",
        "top %",
        "HHI",
        "imports",
        "import reliance %",
        "EU supply risk",
        "GeoPolRisk",
    ]
    return _table(header, rows, {4, 5, 6, 7, 8, 9})


def _reason(lines: list[str]) -> str:
    """The first line of a reason; the whole of it folded underneath when longer."""
    if not lines:
        return ""
    if len(lines) == 1:
        return _esc(lines[0])
    body = html.escape("\n".join(lines))
    return (
        f"<details><summary>{_esc(lines[0])}</summary>"
        f'<pre style="white-space:pre-wrap;font-size:.8rem">{body}</pre></details>'
    )


def _scenario_table(scenarios: pl.DataFrame) -> str:
    rows = []
    for r in scenarios.iter_rows(named=True):
        reason = (r["reason"] or "").strip().splitlines()
        colour = _STATUS_COLOUR.get(r["status"], _ORANGE)
        rows.append(
            [
                _esc(r["study"]),
                _esc(r["scenario"]),
                f'<span style="color:{colour}">{_esc(r["status"])}</span>',
                _esc(r["worst_scenario"] or ""),
                _money(r["worst_welfare_loss_usd"]),
                _money(r["expected_welfare_loss_usd"]),
                _reason(reason),
            ]
        )
    header = [
        "study",
        "scenario",
        "status",
        "worst event",
        "loss if it happens",
        "expected loss",
        "reason",
    ]
    return _table(header, rows, {3, 4, 5})


def render_page(ctx: PageContext, tables: Mapping[str, pl.DataFrame]) -> bytes:
    """The HTML page of a partition (UTF-8 bytes), from the tables it holds."""
    parts: list[str] = []
    title = f"{ctx.report} — report as of {ctx.as_of}"
    parts.append(f"<h1>{_esc(title)}</h1>")
    year = f"; trade data year {ctx.data_year}" if ctx.data_year is not None else ""
    parts.append(f'<p class="meta">{_esc(ctx.description)}{_esc(year)}</p>')
    if ctx.status_counts:
        badges = "".join(
            f'<span style="background:{_STATUS_COLOUR.get(s, _ORANGE)}">'
            f"{_esc(s.replace('_', ' '))}: {n}</span>"
            for s, n in sorted(ctx.status_counts.items())
        )
        parts.append(f'<div class="badges">Model runs: {badges}</div>')
    metrics = tables.get("metrics")
    if metrics is not None and metrics.height:
        risks = top_risks(metrics, ctx.top_n)
        parts.append("<h2>Top risks</h2>")
        parts.append(
            '<p class="note">Importer, commodity and stage with the highest GeoPolRisk '
            "score (concentration × governance-weighted import shares).</p>"
        )
        if risks.height:
            parts.append(_risk_figure(risks))
            parts.append(_risk_table(risks))
    scenarios = tables.get("scenarios")
    if scenarios is not None and scenarios.height:
        parts.append("<h2>Scenarios</h2>")
        parts.append(_scenario_figure(scenarios))
        parts.append(_scenario_table(scenarios))
    frontier = tables.get("frontier")
    if frontier is not None and frontier.height:
        parts.append("<h2>Cost–exposure frontier</h2>")
        parts.append(
            '<p class="note">Members\' expected welfare loss (USD, against the calm market '
            "without policy) as the cap on the share of consumption imported from outside "
            "the alliance tightens (right to left).</p>"
        )
        parts.append(_frontier_figure(frontier))
    versions = ", ".join(f"{k} {v}" for k, v in sorted(ctx.versions.items()) if v)
    parts.append(
        f'<footer><p class="sources">{_esc(credits())}</p>'
        f"inputs sha256 {_esc(ctx.inputs_sha256)}<br>{_esc(versions)}<br>"
        "tables, schemas and hashes: _manifest.json</footer>"
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    return page.encode("utf-8")
