"""Battery-grade graphite -> lithium-ion cells on the market core (issue 12, item 4).

The study is ``tests/data/graphite_cells.yaml`` (G7 + EU as one, 2023,
graphite/refining and battery_cells/manufacturing) under a hypothetical halving of
China's battery-grade graphite deliveries for 90 days
(``tests/data/energy_chains_scenarios.yaml``). The data are the shipped ones: the world
balances of both goods (``market_balances.csv``), their reference prices
(``reference_prices.csv``) and the graphite coefficient (``input_coefficients.csv``,
Adamas 2023: 631,821 t of graphite in 689.2 GWh of EV batteries). The hand figures below
are the published ones, so a test fails when a shipped row moves.
"""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market.allocated import world_balance
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.from_data import (
    StudyMarketResult,
    StudyMarketSettings,
    run_study_market,
)
from resilience.optimize.market.links_data import study_links
from resilience.optimize.market.testing import net_received
from resilience.optimize.solve import SolverOptions
from resilience.paths import datasets_dir
from resilience.scenarios import load_catalogue, load_study

DATA = Path(__file__).resolve().parents[1] / "data"
STUDY = DATA / "graphite_cells.yaml"
SCENARIO = "china_battery_graphite_half_test"
GRAPHITE = "graphite/refining"
CELLS = "battery_cells/manufacturing"
QUIET = SolverOptions(log_to="off")
#: Hand figures. Adamas: graphite in the batteries of 2023's new EVs over their GWh.
GRAPHITE_T = 631_821.0
EV_GWH = 689.2
#: BNEF: 950 GWh of battery demand in 2023 (taken as cell output); cell capacity
#: shares 2022: China 77 %, Poland 6, US 6, Hungary 3, Germany 3, Sweden 1, rest 4.
WORLD_GWH = 950.0
CELL_SHARE = {"CHN": 77, "POL": 6, "USA": 6, "HUN": 3, "DEU": 3, "SWE": 1, "ROW": 4}
#: IEA: 2,037.2 kt of battery-grade graphite in 2023, 1,851.9 kt of it in China.
WORLD_GRAPHITE_T = 2_037_200.0
CHINA_GRAPHITE_T = 1_851_900.0
#: Adamas Q3 2023, GWh deployed in new EVs: US 27.4 of 182.6 worldwide.
US_Q3_GWH, WORLD_Q3_GWH = 27.4, 182.6
#: Reference prices: BNEF BEV cell USD 89/kWh; China's HS 380110 exports 2023,
#: USD 1,266,370,020 for 543,898,793 kg.
CELL_P0_USD_PER_GWH = 89e6
GRAPHITE_P0_USD_PER_T = 1_266_370_020 / 543_898_793 * 1000
EU_CELL_MAKERS = ("POL", "HUN", "DEU", "SWE")
#: PV: 2.2 g of polysilicon per W (Fraunhofer ISE / BNEF, 2022); TrendForce/EnergyTrend
#: 2023: 681.5 GW of wafers, 668.3 GW in China, 70.3 GW exported by China for USD 4.86
#: bn; 1.608 Mt of polysilicon, 38,800 t of it electronic grade, 1.472 Mt in China;
#: Daqo's 2023 sales (t) and average prices (USD/kg) by quarter.
POLY, WAFERS = "polysilicon/manufacturing", "pv_wafers/manufacturing"
PV_STUDY = DATA / "polysilicon_pv.yaml"
PV_SCENARIO = "china_polysilicon_half_test"
POLY_G_PER_W = 2.2
WORLD_WAFER_GW, CHINA_WAFER_GW, CHINA_WAFER_EXPORT_GW = 681.5, 668.3, 70.3
WAFER_EXPORT_USD = 4.86e9
WORLD_POLY_T, ELECTRONIC_T, CHINA_POLY_T = 1_608_000.0, 38_800.0, 1_472_000.0
DAQO_2023 = ((25_284, 27.83), (51_550, 12.33), (63_263, 7.68), (59_906, 7.97))


def _c() -> float:
    return GRAPHITE_T / EV_GWH


@functools.cache
def _run() -> StudyMarketResult:
    """Zero stocks: the cut meets the cell makers without a buffer."""
    return run_study_market(
        load_study(STUDY), SCENARIO, StudyMarketSettings(stocks=False), options=QUIET
    )


# ----------------------------------------------------------------------------- the row chains
def test_graphite_chains_to_cells_in_t_per_gwh_with_the_adamas_ratio() -> None:
    links = study_links([GRAPHITE, CELLS])
    assert links.select("good_out", "good_in").row(0) == (CELLS, GRAPHITE)
    # 631,821 t / 689.2 GWh = 916.75 t per GWh = 0.917 kg per kWh
    assert links["input_per_output"].item() == pytest.approx(_c(), rel=1e-12)
    assert links["input_per_output"].item() == pytest.approx(916.7455, abs=1e-4)


def test_a_graphite_unit_that_does_not_chain_names_file_row_column_value(
    tmp_path: Path,
) -> None:
    raw = pl.read_csv(datasets_dir() / "input_coefficients.csv", infer_schema=False)
    assert raw.row(3, named=True)["output_commodity"] == "battery_cells"  # file row 5
    edited = raw.with_columns(
        pl.when(pl.col("output_commodity") == "battery_cells")
        .then(pl.lit("kg per kWh"))
        .otherwise(pl.col("unit"))
        .alias("unit")
    )
    path = tmp_path / "my_coefficients.csv"
    edited.write_csv(path)
    with pytest.raises(DataError) as err:
        study_links([GRAPHITE, CELLS], path=path)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "my_coefficients.csv",
        5,
        "unit",
        "kg per kWh",
    )
    # the cells are counted in GWh on the market core (their world row), not kWh
    assert "GWh" in problem.reason
    assert "does not chain" in problem.reason


def test_polysilicon_chains_to_wafers_in_t_per_gw_with_the_stated_factor() -> None:
    links = study_links([POLY, WAFERS])
    assert links.select("good_out", "good_in").row(0) == (WAFERS, POLY)
    # 2.2 g per W x 1e9 W per GW / 1e6 g per t = 2,200 t per GW
    assert links["input_per_output"].item() == pytest.approx(POLY_G_PER_W * 1e9 / 1e6, rel=1e-12)


# ----------------------------------------------------------------------------- balances
def test_the_battery_balances_are_the_cited_figures() -> None:
    rows = world_balance([GRAPHITE, CELLS], 2023)
    got = {
        (g, r, n): q
        for g, r, n, q in rows.select("good", "role", "country_iso3", "units_per_year").iter_rows()
    }
    for iso, pct in CELL_SHARE.items():
        assert got[(CELLS, "supply", iso)] == pytest.approx(WORLD_GWH * pct / 100, rel=1e-12)
    assert got[(CELLS, "demand", "USA")] == pytest.approx(
        WORLD_GWH * US_Q3_GWH / WORLD_Q3_GWH, rel=1e-12
    )
    assert got[(GRAPHITE, "supply", "CHN")] == pytest.approx(CHINA_GRAPHITE_T, rel=1e-12)
    # graphite use where cells are made is the cells' need at the coefficient...
    for iso in ("USA", *EU_CELL_MAKERS, "ROW"):
        need = _c() * WORLD_GWH * CELL_SHARE[iso] / 100
        assert got[(GRAPHITE, "demand", iso)] == pytest.approx(need, rel=1e-9)
    # ... and China takes the rest of the world's output (an assumption, data card)
    others = sum(_c() * WORLD_GWH * CELL_SHARE[i] / 100 for i in CELL_SHARE if i != "CHN")
    assert got[(GRAPHITE, "demand", "CHN")] == pytest.approx(WORLD_GRAPHITE_T - others, rel=1e-9)


def test_the_calm_market_reproduces_the_balances_and_p0() -> None:
    r = _run()
    made = r.base.conversion().filter(pl.col("process") == CELLS)
    by_node = dict(made.group_by("node").agg(pl.col("output_units").mean()).iter_rows())
    assert by_node["USA"] == pytest.approx(WORLD_GWH * 0.06 / 12, rel=1e-6)
    eu = sum(CELL_SHARE[i] for i in EU_CELL_MAKERS) / 100
    assert by_node["EU"] == pytest.approx(WORLD_GWH * eu / 12, rel=1e-6)
    assert by_node["CHN"] == pytest.approx(WORLD_GWH * 0.77 / 12, rel=1e-6)
    # every link carries all observed output: no cell is primary supply
    supply = r.market.inputs.supply
    assert supply.filter(pl.col("good") == CELLS).height == 0
    prices = r.base.prices().join(
        r.market.inputs.demand.select("node", "good"), on=["node", "good"]
    )
    p0 = {CELLS: CELL_P0_USD_PER_GWH, GRAPHITE: GRAPHITE_P0_USD_PER_T}
    assert prices.height > 0
    for good, price in prices.select("good", "price_usd_per_unit").iter_rows():
        assert price == pytest.approx(p0[good], rel=2.5 * CALIBRATION_TIE)


# ----------------------------------------------------------------------------- the cut
def _net_graphite_into(r, node: str, scenario: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Graphite a node gets a month: imports - exports + own output."""
    return net_received(r, GRAPHITE, node, scenario)


def _cells(r, node: str, scenario: str) -> list[float]:  # type: ignore[no-untyped-def]
    made = r.conversion().filter(
        (pl.col("node") == node) & (pl.col("process") == CELLS) & (pl.col("scenario") == scenario)
    )
    return made.sort("month")["output_units"].to_list()


@pytest.mark.parametrize("node", ["USA", "EU"])
def test_a_graphite_cut_lowers_cells_by_the_lost_graphite_over_the_coefficient(node: str) -> None:
    r = _run()
    c = _c()
    before = _net_graphite_into(r.base, node, "base")
    after = _net_graphite_into(r.result, node, SCENARIO)
    made_before = _cells(r.base, node, "base")
    made_after = _cells(r.result, node, SCENARIO)
    # calm: the node's graphite is exactly what its cells need (no other use there)
    assert before == pytest.approx([c * y for y in made_before], rel=1e-7)
    for b, a, y0, y in zip(before, after, made_before, made_after, strict=True):
        assert y0 - y == pytest.approx((b - a) / c, rel=1e-6, abs=1e-9)
    # the cut bites in its first month: China held 90.9 % of world output
    assert made_after[0] < 0.95 * made_before[0]
    # after the 90 days, output is back
    assert made_after[4:] == pytest.approx(made_before[4:], rel=1e-6)


def test_the_cell_price_rises_and_the_graphite_price_takes_the_cell_value() -> None:
    r = _run()
    prices = r.result.prices().filter((pl.col("node") == "USA") & (pl.col("scenario") == SCENARIO))
    cell = prices.filter(pl.col("good") == CELLS).sort("month")["price_usd_per_unit"].to_list()
    graphite = (
        prices.filter(pl.col("good") == GRAPHITE).sort("month")["price_usd_per_unit"].to_list()
    )
    assert cell[0] > 1.05 * CELL_P0_USD_PER_GWH
    # month 1, cells rationed by graphite: the cell maker's margin is bid away, so a tonne
    # of graphite is worth the cells it makes, P_cell / c (no other processing cost)
    assert graphite[0] == pytest.approx(cell[0] / _c(), rel=1e-4)
    assert graphite[0] > 20 * GRAPHITE_P0_USD_PER_T


def test_the_shipped_catalogue_graphite_controls_do_not_reach_a_cells_study() -> None:
    """``china_graphite_controls`` cuts natural graphite only (battery-grade exports held)."""
    shipped = load_catalogue(Path(__file__).resolve().parents[2] / "models" / "scenarios.yaml")
    event = shipped.scenarios["china_graphite_controls"]
    goods = {(c, s) for d in event.disruptions for c, s in (d.commodities or ())}
    assert goods == {("graphite", "mining")}


# --------------------------------------------------------------------- polysilicon -> wafers
@functools.cache
def _pv_run() -> StudyMarketResult:
    return run_study_market(
        load_study(PV_STUDY), PV_SCENARIO, StudyMarketSettings(stocks=False), options=QUIET
    )


def test_the_pv_balances_are_the_cited_figures() -> None:
    rows = world_balance([POLY, WAFERS], 2023)
    got = {
        (g, r, n): q
        for g, r, n, q in rows.select("good", "role", "country_iso3", "units_per_year").iter_rows()
    }
    assert got[(WAFERS, "supply", "CHN")] == pytest.approx(CHINA_WAFER_GW, rel=1e-12)
    assert got[(WAFERS, "supply", "ROW")] == pytest.approx(WORLD_WAFER_GW - CHINA_WAFER_GW)
    kept = CHINA_WAFER_GW - CHINA_WAFER_EXPORT_GW
    assert got[(WAFERS, "demand", "CHN")] == pytest.approx(kept, rel=1e-12)
    solar = WORLD_POLY_T - ELECTRONIC_T
    assert got[(POLY, "supply", "CHN")] == pytest.approx(CHINA_POLY_T, rel=1e-12)
    assert got[(POLY, "supply", "ROW")] == pytest.approx(solar - CHINA_POLY_T, rel=1e-9)
    c = POLY_G_PER_W * 1e3  # t per GW
    assert got[(POLY, "demand", "ROW")] == pytest.approx(
        c * (WORLD_WAFER_GW - CHINA_WAFER_GW), rel=1e-9
    )
    assert got[(POLY, "demand", "CHN")] == pytest.approx(
        solar - c * (WORLD_WAFER_GW - CHINA_WAFER_GW), rel=1e-9
    )


def test_the_pv_reference_prices_are_the_cited_unit_values() -> None:
    r = _pv_run()
    p0 = dict(r.market.inputs.parameter_frame().select("good", "p0_usd_per_unit").iter_rows())
    assert p0[WAFERS] == pytest.approx(WAFER_EXPORT_USD / (CHINA_WAFER_EXPORT_GW * 1e9) * 1e9)
    tonnes = sum(t for t, _ in DAQO_2023)
    asp_usd_per_kg = sum(t * p for t, p in DAQO_2023) / tonnes
    assert p0[POLY] == pytest.approx(asp_usd_per_kg * 1000, abs=0.01)


def test_the_calm_pv_market_makes_every_wafer_by_process_at_p0() -> None:
    r = _pv_run()
    made = r.base.conversion().filter(pl.col("process") == WAFERS)
    by_node = dict(made.group_by("node").agg(pl.col("output_units").mean()).iter_rows())
    assert by_node["CHN"] == pytest.approx(CHINA_WAFER_GW / 12, rel=1e-6)
    assert by_node["ROW"] == pytest.approx((WORLD_WAFER_GW - CHINA_WAFER_GW) / 12, rel=1e-6)
    assert r.market.inputs.supply.filter(pl.col("good") == WAFERS).height == 0
    p0 = dict(r.market.inputs.parameter_frame().select("good", "p0_usd_per_unit").iter_rows())
    prices = r.base.prices().join(
        r.market.inputs.demand.select("node", "good"), on=["node", "good"]
    )
    assert prices.height > 0
    for good, price in prices.select("good", "price_usd_per_unit").iter_rows():
        assert price == pytest.approx(p0[good], rel=2.5 * CALIBRATION_TIE)


def test_china_s_polysilicon_cut_leaves_wafers_outside_china_whole() -> None:
    """The polysilicon made outside China (97,200 t) exceeds what wafers there need.

    Hand bound: 13.2 GW x 2,200 t per GW = 29,040 t a year; in calm the proportional
    allocation ships most non-Chinese polysilicon to China, and when China cuts it stays
    home, so the wafers outside China lose nothing, even with no stocks.
    """
    c = POLY_G_PER_W * 1e3
    solar = WORLD_POLY_T - ELECTRONIC_T
    assert solar - CHINA_POLY_T > c * (WORLD_WAFER_GW - CHINA_WAFER_GW)
    r = _pv_run()
    made = r.result.conversion().filter(
        (pl.col("node") == "ROW")
        & (pl.col("process") == WAFERS)
        & (pl.col("scenario") == PV_SCENARIO)
    )
    assert made["output_units"].to_list() == pytest.approx(
        [(WORLD_WAFER_GW - CHINA_WAFER_GW) / 12] * 12, rel=1e-6
    )
    # ROW's own polysilicon stayed home: its net intake is its wafers' need
    net = net_received(r.result, POLY, "ROW", PV_SCENARIO)
    assert net[0] == pytest.approx(c * (WORLD_WAFER_GW - CHINA_WAFER_GW) / 12, rel=1e-6)


# ----------------------------------------------------------------------------- bad balances
def test_world_rows_that_disagree_on_a_goods_unit_are_refused(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A user's 2022 world row of cells in MWh next to the shipped 2023 row in GWh."""
    root = tmp_path / "datasets"
    root.mkdir()
    for item in datasets_dir().iterdir():
        if item.name != "market_balances.csv":
            (root / item.name).symlink_to(item)
    shipped = datasets_dir() / "market_balances.csv"
    lines = shipped.read_text().splitlines()
    world = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("battery_cells,manufacturing,2023,world,")
    )
    extra = (
        lines[world]
        .replace(",2023,world,", ",2022,world,", 1)
        .replace(",950,GWh,", ",900000,MWh,", 1)
    )
    assert extra != lines[world]
    (root / "market_balances.csv").write_text("\n".join([*lines, extra]) + "\n")
    monkeypatch.setenv("RESILIENCE_DATASETS", str(root))
    with pytest.raises(DataError) as err:
        study_links([GRAPHITE, CELLS])
    problems = {(p.file, p.row, p.column, p.value) for p in err.value.problems}
    assert problems == {
        ("market_balances.csv", world + 1, "unit", "GWh"),
        ("market_balances.csv", len(lines) + 1, "unit", "MWh"),
    }
