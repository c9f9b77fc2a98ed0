"""Stage links from the shipped input coefficients: a cut upstream reaches the chip."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market import MarketSettings, run_market
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.links_data import link_stages, study_links
from resilience.optimize.market.testing import DEFAULT_PARAMETERS, GAAS, GALLIUM, gallium_world
from resilience.optimize.solve import SolverOptions
from resilience.paths import datasets_dir

QUIET = SolverOptions(log_to="off")
P0 = DEFAULT_PARAMETERS["p0_usd_per_unit"]
GAN = "gallium_nitride/manufacturing"
SHIPPED = datasets_dir() / "input_coefficients.csv"


def _c() -> float:
    return float(study_links([GALLIUM, GAAS])["input_per_output"].item())


# ----------------------------------------------------------------------------- which rows chain
def test_shipped_gallium_rows_chain_with_the_merck_composition() -> None:
    links = study_links([GALLIUM, GAAS, GAN, "cobalt/refining"])
    got = dict(links.select("good_out", "input_per_output").iter_rows())
    assert got == {GAAS: pytest.approx(0.482), GAN: pytest.approx(0.8327)}
    assert set(links["good_in"]) == {GALLIUM}
    assert set(links["source_row"]) == {2, 3}


def test_neon_chains_to_world_chip_output_only() -> None:
    links = study_links(["neon/refining", "semiconductors/manufacturing"])
    assert links["input_per_output"].item() == pytest.approx(5.4)
    # the chip segments are other goods: the neon row names none of them
    assert study_links(["neon/refining", "wafer_fab_leading_edge/manufacturing"]).height == 0


def test_a_row_whose_units_do_not_chain_is_named_by_file_row_column_value() -> None:
    with pytest.raises(DataError) as err:
        study_links(["magnet_rare_earths/refining", "permanent_magnets/manufacturing"])
    (problem,) = err.value.problems
    assert problem.file == "input_coefficients.csv"
    assert problem.row == 7
    assert problem.column == "unit"
    assert problem.value == "t per t"
    assert "REO" in problem.reason
    assert "does not chain" in problem.reason


def test_an_edited_unit_that_does_not_chain_is_refused(tmp_path: Path) -> None:
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    edited = raw.with_columns(
        pl.when(pl.col("output_commodity") == "gallium_nitride")
        .then(pl.lit("kg per kWh"))
        .otherwise(pl.col("unit"))
        .alias("unit")
    )
    path = tmp_path / "my_coefficients.csv"
    edited.write_csv(path)
    assert study_links([GALLIUM, GAAS], path=path).height == 1  # the GaN row is not asked for
    with pytest.raises(DataError) as err:
        study_links([GALLIUM, GAN], path=path)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "my_coefficients.csv",
        3,
        "unit",
        "kg per kWh",
    )


# ----------------------------------------------------------------------------- balances
def _frames(
    use: dict[tuple[str, str], float], output: dict[tuple[str, str], float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    demand = pl.DataFrame(
        [(n, g, q) for (n, g), q in use.items()],
        schema={"node": pl.String, "good": pl.String, "q0_units_per_month": pl.Float64},
        orient="row",
    )
    supply = pl.DataFrame(
        [(n, g, q) for (n, g), q in output.items()],
        schema={"node": pl.String, "good": pl.String, "output_units_per_month": pl.Float64},
        orient="row",
    )
    return demand, supply


def test_two_processes_share_a_node_s_gallium_and_leave_final_use_in_q0() -> None:
    demand, supply = _frames(
        {("J", GALLIUM): 100.0, ("J", GAAS): 10.0},
        {("J", GAAS): 50.0, ("J", GAN): 20.0, ("C", GALLIUM): 100.0},
    )
    out = link_stages(demand, supply, study_links([GALLIUM, GAAS, GAN]))
    caps = dict(out.processes.select("process", "capacity_units_per_month").iter_rows())
    assert caps == {GAAS: 50.0, GAN: 20.0}
    # final gallium use = 100 - 0.482 * 50 - 0.8327 * 20
    q0 = dict(out.demand.select("good", "q0_units_per_month").iter_rows())
    assert q0[GALLIUM] == pytest.approx(100.0 - 24.1 - 16.654)
    assert q0[GAAS] == 10.0  # a downstream good's own demand is untouched
    assert out.supply.rows() == [("C", GALLIUM, 100.0)]  # GaAs and GaN come from processes
    assert out.notes == ()


def test_a_node_making_more_than_its_gallium_can_feed_links_the_share_it_can() -> None:
    demand, supply = _frames({("J", GALLIUM): 24.1 / 2}, {("J", GAAS): 50.0})
    out = link_stages(demand, supply, study_links([GALLIUM, GAAS]))
    assert out.processes["capacity_units_per_month"].item() == pytest.approx(25.0)
    assert out.supply["output_units_per_month"].item() == pytest.approx(25.0)
    assert out.demand.height == 0  # all of J's gallium goes into GaAs
    assert out.table["linked_share"].item() == pytest.approx(0.5)
    assert "50.0%" in out.notes[0]
    assert "J" in out.notes[0]


def test_a_process_losing_money_at_reference_prices_is_refused() -> None:
    demand, supply = _frames({("J", GALLIUM): 24.1}, {("J", GAAS): 50.0})
    with pytest.raises(DataError) as err:
        link_stages(demand, supply, study_links([GALLIUM, GAAS]), {GALLIUM: 1000.0, GAAS: 400.0})
    (problem,) = err.value.problems
    assert problem.column == "p0_usd_per_unit"
    assert problem.value == 400.0
    assert "482" in problem.reason


# ----------------------------------------------------------------------------- tiny world
def test_without_disruption_prices_are_p0_and_flows_observed() -> None:
    w = gallium_world(months=2)
    r = run_market(w, MarketSettings(months=2), options=QUIET)
    c = _c()
    demanded = r.prices().join(w.demand.select("node", "good"), on=["node", "good"])
    assert demanded.height == 4  # C's gallium and U's GaAs, two months
    for price in demanded["price_usd_per_unit"]:
        assert price == pytest.approx(P0, rel=2.5 * CALIBRATION_TIE)
    flows = dict(r.flows().filter(pl.col("month") == 2).select("good", "flow_units").iter_rows())
    assert flows == {GALLIUM: pytest.approx(c * 100.0), GAAS: pytest.approx(100.0)}
    assert r.conversion()["output_units"].to_list() == pytest.approx([100.0, 100.0])
    assert r.demand()["shed_units"].max() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("availability", [0.0, 0.3, 0.5, 0.7])
def test_a_gallium_cut_of_x_lowers_gaas_output_by_x_over_the_coefficient(
    availability: float,
) -> None:
    c = _c()
    assert c == pytest.approx(0.482)  # Merck Index: Ga 48.20 % of GaAs
    r = run_market(gallium_world(availability), MarketSettings(months=1), options=QUIET)
    delivered = r.flows().filter(pl.col("good") == GALLIUM)["flow_units"].item()
    x = c * 100.0 - delivered
    assert x > 0.05 * c * 100.0 * (1.0 - availability)  # the cut bites
    made = r.conversion()["output_units"].item()
    assert 100.0 - made == pytest.approx(x / c, rel=1e-9, abs=1e-9)


def test_the_gallium_cut_raises_the_gaas_price_downstream() -> None:
    r = run_market(gallium_world(0.5), MarketSettings(months=1), options=QUIET)
    prices = {(n, g): p for n, g, _, _, p in r.prices().iter_rows()}
    assert prices[("U", GAAS)] > 1.5 * P0
    assert prices[("J", GALLIUM)] > P0 > prices[("C", GALLIUM)]  # stranded at C, short at J
    shed = r.demand().filter(pl.col("node") == "U")["shed_units"].item()
    assert shed == pytest.approx(100.0 - r.conversion()["output_units"].item())
