"""Standard plots: what is drawn equals what the frames say, headless, and saved files are valid.

The figures come from a real run of the shipped G7 study (stress model, Chinese graphite
controls) and from small hand-made frames in the schemas of ``resilience.sweeps`` and
``StudyResult.totals``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from resilience import plots
from resilience.scenarios import load_study
from resilience.study import StudyResult, run_study

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-9


@pytest.fixture(scope="module")
def result() -> StudyResult:
    study = load_study(REPO / "models" / "g7_critical_minerals.yaml")
    return run_study(study, "china_graphite_controls")


def _ax(fig: Figure) -> Axes:
    assert isinstance(fig, Figure)
    return fig.axes[0]


def _bars(ax: Axes) -> dict[str, BarContainer]:
    return {str(c.get_label()): c for c in ax.containers if isinstance(c, BarContainer)}


def _widths(container: BarContainer) -> list[float]:
    return [patch.get_width() for patch in container.patches]


def _ticklabels(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def _lines(ax: Axes) -> dict[str, Line2D]:
    return {str(line.get_label()): line for line in ax.lines}


def _spans(ax: Axes) -> list[tuple[float, float]]:
    """Horizontal extents of the shaded bands (axvspan rectangles) in data units."""
    return sorted(
        (round(p.get_x(), 9), round(p.get_x() + p.get_width(), 9))
        for p in ax.patches
        if isinstance(p, Rectangle)
    )


def _frontier_frame() -> pl.DataFrame:
    caps = [0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
    status = ["infeasible", "infeasible", "time_limit", "optimal", "optimal", "optimal"]
    cost = [None, None, None, 2.1e9, 1.8e9, 1.4e9]
    achieved = [None, None, None, 0.88, 0.93, 0.99]
    n = len(caps)
    return pl.DataFrame(
        {
            "study": ["g7"] * n,
            "scenario": ["base"] * n,
            "model": ["stress"] * n,
            "max_non_allied_share": caps,
            "status": status,
            "objective_usd": cost,
            "cost_usd": cost,
            "non_allied_share": achieved,
            "expected_shortfall_t": [None, None, None, 0.0, 0.0, 0.0],
            "reason": ["JPN nickel", "JPN nickel", "limit", None, None, None],
        }
    )


# ----------------------------------------------------------------------------- exposure
def test_exposure_by_commodity_draws_the_demand_weighted_summary(result: StudyResult) -> None:
    ax = _ax(plots.exposure(result))
    summary = result.summary
    commodities = sorted(set(summary.select("commodity", "stage").rows()))
    bars = _bars(ax)
    assert set(bars) == {"before (observed trade)", "after (plan)"}
    for label, column in (
        ("before (observed trade)", "non_allied_share_before"),
        ("after (plan)", "non_allied_share_after"),
    ):
        assert len(bars[label]) == len(commodities) == 4
        for (c, s), width in zip(commodities, _widths(bars[label]), strict=True):
            rows = [
                r for r in summary.iter_rows(named=True) if (r["commodity"], r["stage"]) == (c, s)
            ]
            expected = sum(r[column] * r["demand_t"] for r in rows) / sum(
                r["demand_t"] for r in rows
            )
            assert width == pytest.approx(expected, abs=TOL)
    labels = _ticklabels(ax)
    for (c, s), label in zip(commodities, labels, strict=True):
        assert c in label
        assert s in label
    assert "%" in ax.get_xlabel()
    # Every bar carries its value as text, in per cent.
    texts = [t.get_text() for t in ax.texts]
    assert sum(t.endswith("%") for t in texts) == 8


def test_exposure_per_member_and_for_one_member(result: StudyResult) -> None:
    summary = result.summary.sort("member_iso3", "commodity", "stage")
    ax = _ax(plots.exposure(result, metric="hhi", by="member"))
    bars = _bars(ax)
    assert len(bars["after (plan)"]) == summary.height == 28
    assert _widths(bars["before (observed trade)"]) == pytest.approx(
        summary["hhi_before"].to_list(), abs=TOL
    )
    assert _widths(bars["after (plan)"]) == pytest.approx(summary["hhi_after"].to_list(), abs=TOL)
    assert _ticklabels(ax)[0].startswith("CAN")
    # HHI keeps the 0-1 values; the ticks read on the 0-10 000 scale.
    assert ax.xaxis.get_major_formatter()(0.5, 0) == "5,000"
    assert "HHI" in ax.get_xlabel()

    usa = summary.filter(pl.col("member_iso3") == "USA")
    ax = _ax(plots.exposure(result.summary, member="USA", metric="max_single_share"))
    bars = _bars(ax)
    assert _widths(bars["after (plan)"]) == pytest.approx(
        usa["max_single_share_after"].to_list(), abs=TOL
    )


def test_exposure_skips_null_values_in_the_weights() -> None:
    summary = pl.DataFrame(
        {
            "member_iso3": ["AAA", "BBB", "CCC"],
            "commodity": ["cobalt"] * 3,
            "stage": ["refining"] * 3,
            "demand_t": [100.0, 300.0, 600.0],
            "non_allied_share_before": [0.2, 0.6, None],
            "non_allied_share_after": [0.0, 0.4, 0.1],
        }
    )
    bars = _bars(_ax(plots.exposure(summary)))
    # (0.2*100 + 0.6*300) / 400 = 0.5: CCC's null is left out of numerator and weights.
    assert _widths(bars["before (observed trade)"]) == pytest.approx([0.5])
    assert _widths(bars["after (plan)"]) == pytest.approx([(0.4 * 300 + 0.1 * 600) / 1000])


def test_exposure_rejects_unknown_choices(result: StudyResult) -> None:
    with pytest.raises(ValueError, match="exposure: member 'XXX' is not in the summary"):
        plots.exposure(result, member="XXX")
    with pytest.raises(ValueError, match="exposure: metric='cost'"):
        plots.exposure(result, metric="cost")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exposure: by='supplier'"):
        plots.exposure(result, by="supplier")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- suppliers
def _shares_by_hand(plan: pl.DataFrame, column: str, commodity: str) -> dict[str, float]:
    rows = plan.filter(pl.col("commodity") == commodity)
    total = float(rows[column].sum())
    out: dict[str, float] = {}
    for sup, q in rows.select("supplier_iso3", column).iter_rows():
        out[sup] = out.get(sup, 0.0) + q / total
    return out


def test_supplier_shares_stack_the_plan_and_observed_trade(result: StudyResult) -> None:
    plan = result.tables["plan"]
    ax = _ax(plots.supplier_shares(result))
    commodities = sorted(set(plan.select("commodity", "stage").rows()))
    bars = _bars(ax)
    rows = [(c, b) for c, _ in commodities for b in ("observed", "plan")]
    assert all(len(container) == len(rows) == 8 for container in bars.values())
    labels = _ticklabels(ax)
    for (c, b), label in zip(rows, labels, strict=True):
        assert c in label
        assert label.endswith(b)
    # Every bar sums to 100 % of the commodity's supply.
    totals = [sum(ws) for ws in zip(*(_widths(c) for c in bars.values()), strict=True)]
    assert totals == pytest.approx([1.0] * len(rows), abs=1e-9)
    # China's segment is its share of the members' graphite, observed and planned.
    china = _widths(bars["CHN"])
    g = rows.index(("graphite", "observed"))
    assert china[g] == pytest.approx(_shares_by_hand(plan, "observed_t", "graphite")["CHN"])
    assert china[g + 1] == pytest.approx(_shares_by_hand(plan, "quantity_t", "graphite")["CHN"])
    # Allies are marked in the legend, others not.
    allies = set(plan.filter(pl.col("is_ally"))["supplier_iso3"].to_list())
    for label in bars:
        code = label.split()[0]
        if label != "other":
            assert label.endswith("(ally)") == (code in allies), label


def test_supplier_shares_for_one_member_names_each_bars_top_suppliers(
    result: StudyResult,
) -> None:
    plan = result.tables["plan"].filter(pl.col("member_iso3") == "USA")
    ax = _ax(plots.supplier_shares(result, "USA", top=1, basis="plan"))
    bars = _bars(ax)
    commodities = sorted(set(plan.select("commodity", "stage").rows()))
    assert all(len(c) == len(commodities) for c in bars.values())
    leaders = set()
    for c, _ in commodities:
        shares = _shares_by_hand(plan, "quantity_t", c)
        leaders.add(max(shares, key=lambda k: shares[k]))
    named = {label.split()[0] for label in bars if label != "other"}
    assert named == leaders
    for i, (c, _) in enumerate(commodities):
        shares = _shares_by_hand(plan, "quantity_t", c)
        for label, container in bars.items():
            code = label.split()[0]
            if label != "other":
                assert _widths(container)[i] == pytest.approx(shares.get(code, 0.0), abs=1e-12)
    with pytest.raises(ValueError, match="supplier_shares: top=0"):
        plots.supplier_shares(result, top=0)
    with pytest.raises(ValueError, match="member 'XXX' is not in the plan"):
        plots.supplier_shares(result, "XXX")


# ----------------------------------------------------------------------------- shortfall
def test_shortfall_by_scenario_sorts_bars_and_labels_missing_values() -> None:
    frame = pl.DataFrame(
        {
            "scenario": ["a", "b", "c", "d", "e"],
            "expected_shortfall_t": [5.0, None, 20.0, 0.0, -1.4e-14],
        }
    )
    ax = _ax(plots.shortfall_by_scenario(frame))
    (bars,) = _bars(ax).values()
    assert _ticklabels(ax) == ["c", "a", "d", "e", "b"]  # largest on top, null last
    assert _widths(bars) == [20.0, 5.0, 0.0, 0.0, 0.0]
    texts = [t.get_text() for t in ax.texts]
    assert texts[:5] == ["20 t", "5.00 t", "0 t", "0 t", "n/a"]  # round-off shown as 0
    assert ax.get_xlabel() == "expected shortfall (t)"


def test_shortfall_by_scenario_from_runs_and_money_units(result: StudyResult) -> None:
    study = load_study(REPO / "models" / "g7_critical_minerals.yaml")
    other = run_study(study, "china_rare_earth_embargo_2010")
    ax = _ax(plots.shortfall_by_scenario([result, other]))
    assert sorted(_ticklabels(ax)) == sorted([result.scenario, other.scenario])
    (bars,) = _bars(ax).values()
    expected = {r.scenario: r.totals["expected_shortfall_t"][0] for r in (result, other)}
    assert _widths(bars) == pytest.approx([expected[s] for s in _ticklabels(ax)])

    money = pl.DataFrame(
        {"scenario": ["x", "y"], "expected_shortfall_usd": [3.2e9, 4.5e8]},
    )
    ax = _ax(plots.shortfall_by_scenario(money, value="expected_shortfall_usd"))
    assert ax.get_xlabel() == "expected shortfall value (USD bn)"
    assert [t.get_text() for t in ax.texts] == ["3.20 bn", "0.45 bn"]
    with pytest.raises(ValueError, match="one row per scenario expected; repeated: x"):
        plots.shortfall_by_scenario(
            pl.concat([money, money.head(1)]), value="expected_shortfall_usd"
        )


# ----------------------------------------------------------------------------- frontier
def test_frontier_draws_optimal_points_and_marks_infeasible_caps_distinctly() -> None:
    frame = _frontier_frame()
    ax = _ax(plots.frontier(frame))
    lines = _lines(ax)
    optimal = lines["optimal plan"]
    assert list(optimal.get_xdata()) == [0.9, 0.95, 1.0]
    assert list(optimal.get_ydata()) == [2.1e9, 1.8e9, 1.4e9]
    assert optimal.get_markerfacecolor() != "none"

    infeasible = lines["infeasible"]
    assert list(infeasible.get_xdata()) == [0.6, 0.7]
    assert infeasible.get_markerfacecolor() == "none"
    assert infeasible.get_marker() == "o"
    assert infeasible.get_linestyle() == "None"
    other = lines["no plan (time_limit)"]
    assert list(other.get_xdata()) == [0.8]
    assert other.get_marker() == "s"
    assert other.get_markerfacecolor() == "none"

    # The shaded band covers exactly the infeasible caps, half-way to their neighbours.
    assert _spans(ax) == [(0.6, 0.65), (0.65, 0.75)]
    assert [p.get_label() for p in ax.patches][0] == "no feasible plan"
    assert "USD bn" in ax.get_ylabel()
    assert ax.yaxis.get_major_formatter()(1.5e9, 0) == "1.50"
    assert ax.xaxis.get_major_formatter()(0.9, 0) == "90%"


def test_frontier_against_achieved_share_and_several_scenarios() -> None:
    frame = _frontier_frame()
    ax = _ax(plots.frontier(frame, x="non_allied_share", y="objective_usd"))
    assert list(_lines(ax)["optimal plan"].get_xdata()) == [0.88, 0.93, 0.99]
    assert "achieved" in ax.get_xlabel()
    assert "achieved" in ax.get_title(loc="left")
    feasible_only = _ax(
        plots.frontier(frame.filter(pl.col("status") == "optimal"), x="non_allied_share")
    )
    assert feasible_only.get_xlim() == pytest.approx((0.86, 1.01))  # the achieved shares drawn
    assert _spans(ax) == []  # caps are not on this axis

    blockade = frame.with_columns(
        scenario=pl.lit("blockade"),
        cost_usd=pl.col("cost_usd") / 1000,
        status=pl.when(pl.col("max_non_allied_share") < 0.91)
        .then(pl.lit("infeasible"))
        .otherwise("status"),
    )
    ax = _ax(plots.frontier(pl.concat([frame, blockade])))
    lines = _lines(ax)
    assert {"base", "blockade", "infeasible: base", "infeasible: blockade"} <= set(lines)
    assert list(lines["infeasible: blockade"].get_xdata()) == [0.6, 0.7, 0.8, 0.9]
    assert list(lines["infeasible: base"].get_xdata()) == [0.6, 0.7]
    # Shaded: the caps infeasible in both scenarios (0.8 ran out of time in the base case).
    assert _spans(ax) == [(0.6, 0.65), (0.65, 0.75)]
    # The two scenarios' markers sit at different heights.
    heights = {lines[k].get_ydata()[0] for k in ("infeasible: base", "infeasible: blockade")}
    assert len(heights) == 2


def test_frontier_without_any_feasible_point() -> None:
    frame = _frontier_frame().with_columns(status=pl.lit("infeasible"), cost_usd=None)
    ax = _ax(plots.frontier(frame))
    assert not len(_lines(ax)["optimal plan"].get_xdata())
    assert len(_lines(ax)["infeasible"].get_xdata()) == 6
    assert "no feasible plan on this grid" in [t.get_text() for t in ax.texts]


# ----------------------------------------------------------------------------- shared
@pytest.mark.parametrize(
    ("func", "frame", "missing"),
    [
        (plots.frontier, _frontier_frame().drop("status"), "status"),
        (plots.frontier, _frontier_frame().drop("cost_usd"), "cost_usd"),
        (plots.exposure, pl.DataFrame({"member_iso3": ["A"], "commodity": ["x"]}), "stage"),
        (
            plots.supplier_shares,
            pl.DataFrame({"member_iso3": ["A"], "supplier_iso3": ["B"]}),
            "commodity",
        ),
        (plots.shortfall_by_scenario, pl.DataFrame({"scenario": ["a"]}), "expected_shortfall_t"),
    ],
)
def test_missing_column_names_function_column_and_columns_present(
    func: object, frame: pl.DataFrame, missing: str
) -> None:
    name = getattr(func, "__name__", "")
    with pytest.raises(ValueError, match=rf"{name}: the frame has no column .*'{missing}'") as err:
        func(frame)  # type: ignore[operator]
    assert "columns present: " + ", ".join(frame.columns) in str(err.value)


def test_draws_into_a_given_axes(result: StudyResult) -> None:
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plots.exposure(result, ax=left) is fig
    assert plots.frontier(_frontier_frame(), ax=right) is fig
    assert len(fig.axes) == 2
    assert _bars(left)
    assert _lines(right)


def test_save_writes_the_format_of_the_suffix(tmp_path: Path, result: StudyResult) -> None:
    svg = plots.save(plots.exposure(result), tmp_path / "exposure.svg")
    text = svg.read_text()
    assert text.startswith("<?xml")
    assert "<svg" in text
    # No creation date: the same figure drawn again writes the same bytes.
    assert plots.save(plots.exposure(result), tmp_path / "again.svg").read_text() == text
    fig = plots.exposure(result)
    png = plots.save(fig, tmp_path / "out" / "exposure.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = plots.save(fig, tmp_path / "exposure.PDF")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match=r"save: cannot tell the format .*'\.jpg'"):
        plots.save(fig, tmp_path / "exposure.jpg")


def test_module_uses_no_pyplot_and_renders_headless(tmp_path: Path) -> None:
    """No pyplot state machine in the module; a figure renders with no display or backend.

    (Pyomo imports pyplot itself once matplotlib is loaded, so the check is on our source.)
    """
    tree = ast.parse((REPO / "resilience" / "plots.py").read_text())
    imported = [
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert "matplotlib.figure.Figure" in imported
    assert not [name for name in imported if "pyplot" in name or "pylab" in name]

    target = tmp_path / "headless.png"
    code = (
        "import sys, polars as pl, resilience.plots as p\n"
        "f = p.shortfall_by_scenario(pl.DataFrame({'scenario': ['a'], "
        "'expected_shortfall_t': [1.0]}))\n"
        f"p.save(f, {str(target)!r})\n"
        "print(type(f).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Figure"
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- credits
def test_every_plot_carries_the_sources_and_licences_line(result: StudyResult) -> None:
    figures = {
        "frontier": plots.frontier(_frontier_frame()),
        "exposure": plots.exposure(result),
        "supplier_shares": plots.supplier_shares(result),
        "shortfall_by_scenario": plots.shortfall_by_scenario([result]),
    }
    for name, fig in figures.items():
        footer = " ".join(fig.get_supxlabel().split())
        assert footer.startswith("Sources and licences: "), name
        for licence in ("CEPII BACI (Etalab Licence Ouverte 2.0)", "World Bank WGI (CC BY 4.0)"):
            assert licence in footer, name
        assert "licence not recorded" not in footer


def test_a_footer_the_caller_set_is_kept() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    fig.supxlabel("my own footer")
    plots.frontier(_frontier_frame(), ax=ax)
    assert fig.get_supxlabel() == "my own footer"


def test_tick_text_has_no_negative_zero_or_scientific_notation() -> None:
    unit, fmt = plots._unit_formatter("expected_shortfall_usd", [2.5e6, -1e-9])
    assert unit == "USD m"
    assert fmt(-1e-9) == "0.00"
    _, share = plots._unit_formatter("non_allied_share", [0.5])
    assert share(-1e-12) == "0%"
    _, plain = plots._unit_formatter("epsilon", [1e-10])
    assert plain(1e-10) == "0"
    assert plain(0.25) == "0.25"
