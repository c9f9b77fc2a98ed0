"""Standard plots: what is drawn equals what the frames say, headless, and saved files are valid.

The figures come from real runs of the shipped G7 study reduced to natural graphite
(stress model on the market core, China's graphite controls; about a second a run) and
from small hand-made frames in the schemas of ``resilience.sweeps.FRONTIER_COLUMNS``,
``StudyResult.summary`` and ``StudyResult.totals``.
"""

from __future__ import annotations

import ast
import dataclasses
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

from resilience import plots
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.scenarios import StudySpec, load_study
from resilience.study import StudyResult, run_study
from resilience.sweeps import FRONTIER_COLUMNS, frontier

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-9
SCENARIO = "china_graphite_controls"
GOOD = "graphite/mining"
#: A small market for the frontier's several runs (see tests/unit/test_sweep.py).
SMALL = StudyMarketSettings(
    months=2,
    top_importers=3,
    producer_share_threshold=0.05,
    market=MarketSettings(
        months=2, demand_blocks=4, demand_blocks_above=2, supply_blocks=2, spare_blocks=2
    ),
)


@pytest.fixture(scope="module")
def graphite() -> StudySpec:
    study = load_study(REPO / "models" / "g7_critical_minerals.yaml")
    return dataclasses.replace(study, commodities=(("graphite", "mining"),))


@pytest.fixture(scope="module")
def result(graphite: StudySpec) -> StudyResult:
    return run_study(graphite, SCENARIO)


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


def _frontier_frame() -> pl.DataFrame:
    caps = [0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
    status = ["optimal", "time_limit", "optimal", "optimal", "optimal", "optimal"]
    loss = [3.1e9, None, 2.6e9, 2.1e9, 1.8e9, 1.4e9]
    achieved = [0.58, None, 0.79, 0.88, 0.93, 0.99]
    n = len(caps)
    frame = pl.DataFrame(
        {
            "study": ["g7"] * n,
            "scenario": ["base"] * n,
            "model": ["stress"] * n,
            "max_non_allied_share": caps,
            "status": status,
            "expected_welfare_loss_usd": loss,
            "worst_welfare_loss_usd": [2 * v if v else None for v in loss],
            "non_allied_share": achieved,
            "expected_shed_share": [0.02, None, 0.01, 0.0, 0.0, 0.0],
            "price_rise_max_pct": [41.0, None, 30.5, 12.0, 8.0, 5.0],
            "reason": [None, "limit", None, None, None, None],
        }
    )
    assert frame.columns == FRONTIER_COLUMNS  # the hand frame keeps the sweep's schema
    return frame


# ----------------------------------------------------------------------------- exposure
def test_exposure_by_commodity_draws_the_demand_weighted_summary(result: StudyResult) -> None:
    ax = _ax(plots.exposure(result))
    summary = result.summary
    bars = _bars(ax)
    assert set(bars) == {"before (observed trade)", "after (the run)"}
    w = summary["demand_units_per_year"]
    for label, column in (
        ("before (observed trade)", "non_allied_share_before"),
        ("after (the run)", "non_allied_share_after"),
    ):
        expected = float((summary[column] * w).sum() / w.sum())
        assert _widths(bars[label]) == pytest.approx([expected], abs=TOL)
    assert _ticklabels(ax) == ["graphite (mining)"]
    assert ax.get_xlabel() == "non-allied share of supply (% of imports)"
    # Every bar carries its value as text, in per cent.
    texts = [t.get_text() for t in ax.texts]
    before = float((summary["non_allied_share_before"] * w).sum() / w.sum())
    assert f"{100 * before:.0f}%" in texts
    assert sum(t.endswith("%") for t in texts) == 2


def test_exposure_per_member_and_for_one_member(result: StudyResult) -> None:
    summary = result.summary.sort("member_iso3", "commodity", "stage")
    ax = _ax(plots.exposure(result, metric="hhi", by="member"))
    bars = _bars(ax)
    assert len(bars["after (the run)"]) == summary.height >= 5
    assert _widths(bars["before (observed trade)"]) == pytest.approx(
        summary["hhi_before"].to_list(), abs=TOL
    )
    assert _widths(bars["after (the run)"]) == pytest.approx(
        summary["hhi_after"].to_list(), abs=TOL
    )
    assert _ticklabels(ax)[0].startswith(summary["member_iso3"][0])
    # HHI keeps the 0-1 values; the ticks read on the 0-10 000 scale.
    assert ax.xaxis.get_major_formatter()(0.5, 0) == "5,000"
    assert "HHI" in ax.get_xlabel()

    usa = summary.filter(pl.col("member_iso3") == "USA")
    ax = _ax(plots.exposure(result.summary, member="USA", metric="max_single_share"))
    assert _widths(_bars(ax)["after (the run)"]) == pytest.approx(
        usa["max_single_share_after"].to_list(), abs=TOL
    )


def test_exposure_skips_null_values_in_the_weights() -> None:
    summary = pl.DataFrame(
        {
            "member_iso3": ["AAA", "BBB", "CCC"],
            "commodity": ["cobalt"] * 3,
            "stage": ["refining"] * 3,
            "demand_units_per_year": [100.0, 300.0, 600.0],
            "non_allied_share_before": [0.2, 0.6, None],
            "non_allied_share_after": [0.0, 0.4, 0.1],
        }
    )
    bars = _bars(_ax(plots.exposure(summary)))
    # (0.2*100 + 0.6*300) / 400 = 0.5: CCC's null is left out of numerator and weights.
    assert _widths(bars["before (observed trade)"]) == pytest.approx([0.5])
    assert _widths(bars["after (the run)"]) == pytest.approx([(0.4 * 300 + 0.1 * 600) / 1000])


def test_exposure_rejects_unknown_choices(result: StudyResult) -> None:
    with pytest.raises(ValueError, match="exposure: member 'XXX' is not in the summary"):
        plots.exposure(result, member="XXX")
    with pytest.raises(ValueError, match="exposure: metric='cost'"):
        plots.exposure(result, metric="cost")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exposure: by='supplier'"):
        plots.exposure(result, by="supplier")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- suppliers
def _shares_by_hand(flows: pl.DataFrame, column: str) -> dict[str, float]:
    total = float(flows[column].sum())
    out: dict[str, float] = {}
    for origin, q in flows.select("origin", column).iter_rows():
        out[origin] = out.get(origin, 0.0) + q / total
    return out


def test_supplier_flows_agree_with_the_exposure_table(result: StudyResult) -> None:
    """The per-origin table answer() adds sums to the members' non-allied shares."""
    flows = result.tables["supplier_flows"]
    assert flows.columns == [
        "member",
        "origin",
        "good",
        "observed_units_per_month",
        "after_units_per_month",
        "is_ally",
    ]
    summary = result.summary
    for row in summary.iter_rows(named=True):
        mine = flows.filter(pl.col("member") == row["member_iso3"])
        for basis, column in (("before", "observed"), ("after", "after")):
            q = mine[f"{column}_units_per_month"]
            non_allied = float(q.filter(~mine["is_ally"]).sum() / q.sum())
            assert non_allied == pytest.approx(row[f"non_allied_share_{basis}"], abs=1e-9)
    china = flows.filter(pl.col("origin") == "CHN")
    assert china.height >= summary.height  # China ships graphite to every member
    assert not china["is_ally"].any()
    assert flows.filter(pl.col("origin") == "CAN")["is_ally"].all()


def test_supplier_shares_stack_observed_and_run_imports(result: StudyResult) -> None:
    flows = result.tables["supplier_flows"]
    ax = _ax(plots.supplier_shares(result))
    bars = _bars(ax)
    assert all(len(container) == 2 for container in bars.values())
    assert _ticklabels(ax) == ["graphite (mining), observed", "graphite (mining), after"]
    # Every bar sums to 100 % of the good's imports.
    totals = [sum(ws) for ws in zip(*(_widths(c) for c in bars.values()), strict=True)]
    assert totals == pytest.approx([1.0, 1.0], abs=1e-9)
    # China's segment is its share of the members' imports, observed and in the run.
    china = _widths(bars["CHN"])
    assert china[0] == pytest.approx(_shares_by_hand(flows, "observed_units_per_month")["CHN"])
    assert china[1] == pytest.approx(_shares_by_hand(flows, "after_units_per_month")["CHN"])
    # Allies are marked in the legend, others not.
    allies = set(flows.filter(pl.col("is_ally"))["origin"].to_list())
    for label in bars:
        if label != "other":
            assert label.endswith("(ally)") == (label.split()[0] in allies), label
    assert ax.get_xlabel() == "share of imports (%, by units of the good)"


def test_supplier_shares_for_one_member_names_the_top_origin(result: StudyResult) -> None:
    flows = result.tables["supplier_flows"].filter(pl.col("member") == "USA")
    ax = _ax(plots.supplier_shares(result, "USA", top=1, basis="after"))
    bars = _bars(ax)
    shares = _shares_by_hand(flows, "after_units_per_month")
    leader = max(shares, key=lambda k: shares[k])
    assert [label.split()[0] for label in bars] == [leader, "other"]
    assert _widths(next(iter(bars.values()))) == pytest.approx([shares[leader]], abs=1e-12)
    assert _widths(bars["other"]) == pytest.approx([1 - shares[leader]], abs=1e-12)
    with pytest.raises(ValueError, match="supplier_shares: top=0"):
        plots.supplier_shares(result, top=0)
    with pytest.raises(ValueError, match="member 'XXX' is not in the supplier flows"):
        plots.supplier_shares(result, "XXX")
    with pytest.raises(ValueError, match="basis='plan'"):
        plots.supplier_shares(result, basis="plan")  # type: ignore[arg-type]
    bare = dataclasses.replace(result, tables={"summary": result.summary})
    with pytest.raises(ValueError, match="no 'supplier_flows' table; tables: summary"):
        plots.supplier_shares(bare)


# ----------------------------------------------------------------------------- losses
def test_loss_by_scenario_of_one_run_sums_the_members(result: StudyResult) -> None:
    ax = _ax(plots.loss_by_scenario(result))
    (bars,) = _bars(ax).values()
    per_scenario = dict(
        result.members.group_by("scenario").agg(pl.col("welfare_loss_usd").sum()).iter_rows()
    )
    names = _ticklabels(ax)
    assert sorted(names) == sorted(per_scenario) == sorted(["calm", SCENARIO])
    # the calm row sums members' losses of about +-1e-8 USD: equal to a micro-dollar
    assert _widths(bars) == pytest.approx([per_scenario[n] for n in names], rel=1e-12, abs=1e-6)
    assert _widths(bars) == sorted(_widths(bars), reverse=True)  # largest on top
    # The controls cost the members money; the label carries the scaled unit.
    assert per_scenario[SCENARIO] > 1e5
    assert ax.get_xlabel() in {"welfare loss (USD m)", "welfare loss (USD thousand)"}

    usa = result.members.filter(pl.col("member") == "USA")
    ax = _ax(plots.loss_by_scenario(result, member="USA"))
    (bars,) = _bars(ax).values()
    usa_loss = dict(usa.select("scenario", "welfare_loss_usd").iter_rows())
    assert _widths(bars) == pytest.approx(
        [usa_loss[n] for n in _ticklabels(ax)], rel=1e-12, abs=1e-6
    )
    with pytest.raises(ValueError, match="loss_by_scenario: member 'XXX' is not in the members"):
        plots.loss_by_scenario(result, member="XXX")
    with pytest.raises(ValueError, match="member='USA' needs a per-member frame"):
        plots.loss_by_scenario(result.totals, member="USA")


def test_loss_by_scenario_of_several_runs_draws_their_totals(
    graphite: StudySpec, result: StudyResult
) -> None:
    base = run_study(graphite)
    ax = _ax(plots.loss_by_scenario([result, base]))
    (bars,) = _bars(ax).values()
    expected = {r.scenario: r.totals["expected_welfare_loss_usd"][0] for r in (result, base)}
    assert sorted(_ticklabels(ax)) == sorted(["base", SCENARIO])
    assert _widths(bars) == pytest.approx([expected[s] for s in _ticklabels(ax)], abs=1e-6)
    assert ax.get_xlabel().startswith("members' expected welfare loss (USD")


def test_loss_by_scenario_sorts_labels_and_scales_money() -> None:
    frame = pl.DataFrame(
        {
            "scenario": ["a", "b", "c", "d", "e", "f"],
            "expected_welfare_loss_usd": [4.5e8, None, 3.2e9, 0.0, -1.4e-9, -2.0e8],
        }
    )
    ax = _ax(plots.loss_by_scenario(frame))
    (bars,) = _bars(ax).values()
    assert _ticklabels(ax) == ["c", "a", "d", "e", "f", "b"]  # largest on top, null last
    assert _widths(bars) == [3.2e9, 4.5e8, 0.0, 0.0, -2.0e8, 0.0]
    texts = [t.get_text() for t in ax.texts]
    assert texts[:6] == ["3.20 bn", "0.45 bn", "0.00 bn", "0.00 bn", "-0.20 bn", "n/a"]
    assert ax.get_xlabel() == "members' expected welfare loss (USD bn)"
    left, right = ax.get_xlim()
    assert left < -2.0e8  # the gain is drawn left of zero, inside the axes
    assert right > 3.2e9
    with pytest.raises(ValueError, match="one row per scenario expected; repeated: a"):
        plots.loss_by_scenario(pl.concat([frame, frame.head(1)]))
    none = pl.DataFrame({"scenario": ["x"], "expected_welfare_loss_usd": [0.0]})
    assert "no loss in any scenario" in [
        t.get_text() for t in _ax(plots.loss_by_scenario(none)).texts
    ]


# ----------------------------------------------------------------------------- prices
def test_price_paths_draw_each_members_monthly_price(result: StudyResult) -> None:
    fig = plots.price_paths(result)
    (ax,) = fig.axes
    prices = result.tables["prices"]
    members = sorted(result.members["member"].unique().to_list())
    lines = _lines(ax)
    assert set(lines) == {f"{m}, {s}" for m in members for s in ("calm", SCENARIO)}
    usa = prices.filter((pl.col("node") == "USA") & (pl.col("scenario") == SCENARIO)).sort("month")
    line = lines[f"USA, {SCENARIO}"]
    assert list(line.get_xdata()) == usa["month"].to_list() == list(range(1, 13))
    assert list(line.get_ydata()) == pytest.approx(usa["price_usd_per_unit"].to_list())
    # The controls lift the US price: its path peaks at the summary's highest rise.
    rise = result.summary.filter(pl.col("member_iso3") == "USA")["price_rise_max_pct"][0]
    calm = lines["USA, calm"]
    assert rise > 10
    assert max(line.get_ydata()) == pytest.approx(
        min(calm.get_ydata()) * (1 + rise / 100), rel=1e-3
    )
    assert ax.get_ylabel() == "price (USD per t)"
    assert ax.get_xlabel() == "month of the horizon"
    assert "CHN, calm" not in lines  # only the run's members

    one = _ax(plots.price_paths(result, "JPN", good=GOOD))
    assert set(_lines(one)) == {"JPN, calm", f"JPN, {SCENARIO}"}


def test_price_paths_reject_unknown_members_and_goods(result: StudyResult) -> None:
    with pytest.raises(ValueError, match="price_paths: member 'XXX' is not in the run's prices"):
        plots.price_paths(result, "XXX")
    with pytest.raises(ValueError, match="good 'cobalt/refining' is not in the run's prices"):
        plots.price_paths(result, good="cobalt/refining")
    prices = result.tables["prices"]
    two = dataclasses.replace(
        result,
        tables={
            **result.tables,
            "prices": pl.concat([prices, prices.with_columns(good=pl.lit("cobalt/refining"))]),
        },
    )
    assert len(plots.price_paths(two).axes) == 2  # one panel per good
    with pytest.raises(ValueError, match="one axes cannot hold 2 goods"):
        plots.price_paths(two, ax=Figure().add_subplot())


# ----------------------------------------------------------------------------- frontier
def test_frontier_draws_optimal_points_and_marks_the_others() -> None:
    ax = _ax(plots.frontier(_frontier_frame()))
    lines = _lines(ax)
    optimal = lines["optimal run"]
    assert list(optimal.get_xdata()) == [0.6, 0.8, 0.9, 0.95, 1.0]
    assert list(optimal.get_ydata()) == [3.1e9, 2.6e9, 2.1e9, 1.8e9, 1.4e9]
    assert optimal.get_markerfacecolor() != "none"
    other = lines["not optimal (time_limit)"]
    assert list(other.get_xdata()) == [0.7]
    assert other.get_marker() == "s"
    assert other.get_markerfacecolor() == "none"
    assert other.get_linestyle() == "None"
    assert not ax.patches  # no infeasible band: a cap never makes the market infeasible
    assert ax.get_ylabel() == "members' expected welfare loss (USD bn)"
    assert ax.yaxis.get_major_formatter()(1.5e9, 0) == "1.50"
    assert ax.xaxis.get_major_formatter()(0.9, 0) == "90%"
    assert ax.get_xlabel() == "cap on the non-allied share of consumption, ε (%)"


def test_frontier_against_achieved_share_other_metrics_and_several_scenarios() -> None:
    frame = _frontier_frame()
    ax = _ax(plots.frontier(frame, x="non_allied_share", y="price_rise_max_pct"))
    assert list(_lines(ax)["optimal run"].get_xdata()) == [0.58, 0.79, 0.88, 0.93, 0.99]
    assert "achieved" in ax.get_xlabel()
    assert "achieved" in ax.get_title(loc="left")
    assert ax.get_ylabel() == "highest monthly price rise over the reference price (%)"
    assert ax.yaxis.get_major_formatter()(12.5, 0) == "12.5%"  # _pct columns are per cent

    blockade = frame.with_columns(
        scenario=pl.lit("blockade"),
        expected_welfare_loss_usd=pl.col("expected_welfare_loss_usd") * 2,
        status=pl.when(pl.col("max_non_allied_share") < 0.85)
        .then(pl.lit("time_limit"))
        .otherwise("status"),
    )
    ax = _ax(plots.frontier(pl.concat([frame, blockade])))
    lines = _lines(ax)
    assert {"base", "blockade", "not optimal (time_limit): base"} <= set(lines)
    assert list(lines["not optimal (time_limit): blockade"].get_xdata()) == [0.6, 0.7, 0.8]
    assert list(lines["blockade"].get_ydata()) == [4.2e9, 3.6e9, 2.8e9]
    # The two scenarios' markers sit at different heights.
    heights = {
        lines[k].get_ydata()[0]
        for k in ("not optimal (time_limit): base", "not optimal (time_limit): blockade")
    }
    assert len(heights) == 2
    with pytest.raises(ValueError, match="frontier: x='cap'"):
        plots.frontier(frame, x="cap")  # type: ignore[arg-type]


def test_frontier_of_a_real_sweep(graphite: StudySpec) -> None:
    frame = frontier(graphite, SCENARIO, shares=[1.0, 0.8, 0.6], settings=SMALL)
    ax = _ax(plots.frontier(frame))
    line = _lines(ax)["optimal run"]
    ok = frame.filter(pl.col("status") == "optimal").sort("max_non_allied_share")
    assert ok.height == 3
    assert list(line.get_xdata()) == ok["max_non_allied_share"].to_list()
    assert list(line.get_ydata()) == ok["expected_welfare_loss_usd"].to_list()
    assert SCENARIO in ax.texts[0].get_text()  # the subtitle names the scenario


def test_frontier_without_any_optimal_point() -> None:
    frame = _frontier_frame().with_columns(status=pl.lit("time_limit"))
    ax = _ax(plots.frontier(frame))
    assert not len(_lines(ax)["optimal run"].get_xdata())
    assert len(_lines(ax)["not optimal (time_limit)"].get_xdata()) == 6
    assert "no optimal run on this grid" in [t.get_text() for t in ax.texts]


# ----------------------------------------------------------------------------- shared
@pytest.mark.parametrize(
    ("func", "frame", "missing"),
    [
        (plots.frontier, _frontier_frame().drop("status"), "status"),
        (
            plots.frontier,
            _frontier_frame().drop("expected_welfare_loss_usd"),
            "expected_welfare_loss_usd",
        ),
        (plots.exposure, pl.DataFrame({"member_iso3": ["A"], "commodity": ["x"]}), "stage"),
        (
            plots.supplier_shares,
            pl.DataFrame({"member": ["A"], "origin": ["B"]}),
            "good",
        ),
        (plots.loss_by_scenario, pl.DataFrame({"scenario": ["a"]}), "expected_welfare_loss_usd"),
        (
            plots.loss_by_scenario,
            pl.DataFrame({"member": ["A"], "scenario": ["a"]}),
            "welfare_loss_usd",
        ),
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
    left, middle, right = fig.subplots(1, 3)
    assert plots.exposure(result, ax=left) is fig
    assert plots.frontier(_frontier_frame(), ax=middle) is fig
    assert plots.price_paths(result, ax=right) is fig
    assert len(fig.axes) == 3
    assert _bars(left)
    assert _lines(middle)
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
        "f = p.loss_by_scenario(pl.DataFrame({'scenario': ['a'], "
        "'expected_welfare_loss_usd': [1.0]}))\n"
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
        "loss_by_scenario": plots.loss_by_scenario(result),
        "price_paths": plots.price_paths(result),
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
    unit, fmt = plots._unit_formatter("expected_welfare_loss_usd", [2.5e6, -1e-9])
    assert unit == "USD m"
    assert fmt(-1e-9) == "0.00"
    _, share = plots._unit_formatter("non_allied_share", [0.5])
    assert share(-1e-12) == "0%"
    _, plain = plots._unit_formatter("epsilon", [1e-10])
    assert plain(1e-10) == "0"
    assert plain(0.25) == "0.25"
    unit, pct = plots._unit_formatter("price_rise_max_pct", [23.1])
    assert unit == "%"
    assert pct(23.15) == "23.1%" or pct(23.15) == "23.2%"
    assert pct(-1e-12) == "0%"


def test_market_price_axes_use_the_market_core_unit_of_each_good() -> None:
    from resilience.plot_market import _unit_of

    assert _unit_of("wafer_fab_leading_edge/manufacturing") == "USD_m"  # not pct_of_world
    assert _unit_of("battery_cells/manufacturing") == "GWh"
    assert _unit_of("cobalt/refining") == "t"
