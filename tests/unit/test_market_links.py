"""Stage links from the shipped input coefficients: a cut upstream reaches the chip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market import MarketSettings, run_market
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.disruptions import covered_months
from resilience.optimize.market.from_data import StudyMarketSettings, study_market
from resilience.optimize.market.inputs import MarketInputs
from resilience.optimize.market.links_data import link_stages, study_links
from resilience.optimize.market.testing import (
    DEFAULT_PARAMETERS,
    GAAS,
    GALLIUM,
    gallium_world,
    net_received,
)
from resilience.optimize.solve import SolverOptions
from resilience.paths import datasets_dir
from resilience.scenarios import load_study

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


def test_neon_chains_to_world_chip_output_and_to_the_chip_segments_in_usd_m() -> None:
    links = study_links(["neon/refining", "semiconductors/manufacturing"])
    assert links["input_per_output"].item() == pytest.approx(5.4)
    # the chip segments are counted in USD m of output: their own row, 540 t / USD 574,100 m
    # (tests/unit/test_market_neon.py)
    segment = study_links(["neon/refining", "wafer_fab_leading_edge/manufacturing"])
    assert segment["input_per_output"].item() == pytest.approx(540 / 574_100)


def test_a_row_whose_units_do_not_chain_is_named_by_file_row_column_value(
    tmp_path: Path,
) -> None:
    # the magnet row as published (rare-earth METAL per t of magnet), before its REO factor
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    metal = raw.with_columns(
        pl.when(pl.col("output_commodity") == "permanent_magnets")
        .then(pl.lit("t of rare-earth metal (Nd, Pr, Dy, Tb)"))
        .otherwise(pl.col("input_basis"))
        .alias("input_basis")
    )
    path = tmp_path / "input_coefficients.csv"
    metal.write_csv(path)
    with pytest.raises(DataError) as err:
        study_links(["magnet_rare_earths/refining", "permanent_magnets/manufacturing"], path=path)
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


# ----------------------------------------------------------------------------- shipped data
MODELS = Path(__file__).resolve().parents[2] / "models"
CONTROLS = "china_gallium_germanium_controls"


def _gallium_study():  # type: ignore[no-untyped-def]
    spec = load_study(MODELS / "g7_critical_minerals.yaml")
    return dataclasses.replace(spec, commodities=(("gallium", "refining"),))


def _with_gaas_at_japan(inputs: MarketInputs) -> tuple[MarketInputs, float]:
    """Japan turns all its gallium into GaAs (made-up GaAs parameters, see below).

    GaAs is given gallium's parameter row (same P0 per tonne, so that the process
    covers its gallium cost, 0.482 x P0 < P0): a test assumption, not a price. Japan's
    observed GaAs output is what its observed gallium use makes, ``A / c``, and Japan
    uses it all at home (no GaAs trade).
    """
    c = _c()
    use = float(
        inputs.demand.filter((pl.col("node") == "JPN") & (pl.col("good") == GALLIUM))[
            "q0_units_per_month"
        ].item()
    )
    made = use / c
    params = inputs.parameters.drop("good")
    gaas = params.filter(pl.col("commodity") == "gallium").with_columns(
        pl.lit("gallium_arsenide").alias("commodity"), pl.lit("manufacturing").alias("stage")
    )
    demand = pl.concat(
        [
            inputs.demand,
            pl.DataFrame({"node": ["JPN"], "good": [GAAS], "q0_units_per_month": [made]}),
        ]
    )
    supply = pl.concat(
        [
            inputs.supply,
            pl.DataFrame({"node": ["JPN"], "good": [GAAS], "output_units_per_month": [made]}),
        ]
    )
    p0_gallium = float(
        inputs.parameter_frame().filter(pl.col("good") == GALLIUM)["p0_usd_per_unit"].item()
    )
    p0 = {GALLIUM: p0_gallium, GAAS: p0_gallium}
    linked = link_stages(demand, supply, study_links([GALLIUM, GAAS]), p0)
    return (
        inputs.with_changes(
            parameters=pl.concat([params, gaas]),
            demand=linked.demand,
            supply=linked.supply,
            processes=linked.processes,
            process_inputs=linked.process_inputs,
        ),
        made,
    )


def _net_gallium_into_japan(r, scenario: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Gallium Japan gets a month in ``scenario``: imports - exports + own output."""
    return net_received(r, GALLIUM, "JPN", scenario)


def test_shipped_gallium_balance_is_usgs_production_and_calibrates() -> None:
    market = study_market(_gallium_study(), CONTROLS, StudyMarketSettings(months=3, stocks=False))
    supply = market.inputs.supply.filter(pl.col("good") == GALLIUM)
    # USGS MCS 2025: 633 t of primary gallium in 2023, 621 t of it in China
    assert float(supply["output_units_per_month"].sum()) * 12 == pytest.approx(633.0)
    china = supply.filter(pl.col("node") == "CHN")["output_units_per_month"].item()
    assert china * 12 == pytest.approx(621.0)
    linked, made = _with_gaas_at_japan(market.inputs)
    assert linked.processes.rows() == [("JPN", GAAS, GAAS, pytest.approx(made), 0.0)]
    assert linked.demand.filter(pl.col("node") == "JPN").rows() == [
        ("JPN", GAAS, pytest.approx(made))
    ]
    r = run_market(linked.without_disruption(), MarketSettings(months=3), options=QUIET)
    assert r.conversion()["output_units"].to_list() == pytest.approx([made] * 3, rel=1e-9)
    p0 = linked.parameter_frame().select("good", "p0_usd_per_unit")
    demanded = (
        r.prices()
        .join(linked.demand.select("node", "good"), on=["node", "good"])
        .join(p0, on="good")
    )
    assert demanded.height > 0
    for price, ref in demanded.select("price_usd_per_unit", "p0_usd_per_unit").iter_rows():
        assert price == pytest.approx(ref, rel=2.5 * CALIBRATION_TIE)


def test_china_s_gallium_stop_lowers_japanese_gaas_by_the_lost_gallium_over_0_482() -> None:
    market = study_market(_gallium_study(), CONTROLS, StudyMarketSettings(months=3, stocks=False))
    linked, made = _with_gaas_at_japan(market.inputs)
    settings = MarketSettings(months=3)
    base = run_market(linked.without_disruption(), settings, options=QUIET)
    cut = run_market(linked, settings, options=QUIET)
    c = _c()
    before = _net_gallium_into_japan(base, "base")
    assert before == pytest.approx([made * c] * 3, rel=1e-9)
    after = _net_gallium_into_japan(cut, CONTROLS)
    output = cut.conversion().filter(pl.col("scenario") == CONTROLS).sort("month")["output_units"]
    for b, a, y in zip(before, after, output.to_list(), strict=True):
        assert made - y == pytest.approx((b - a) / c, rel=1e-7, abs=1e-9)
    # 60 days of a 3-month horizon: part of month 1; China's arc to Japan carries a1
    a1 = covered_months(60, 0.0, 3)[0]
    china = linked.arcs.filter(
        (pl.col("origin") == "CHN") & (pl.col("destination") == "JPN") & (pl.col("good") == GALLIUM)
    )["flow0_units_per_month"].item()
    # Korea and Russia can ramp up a little in a month: most of the stop is lost
    assert made - output[0] > 0.9 * (1.0 - a1) * china / c
    assert output[1:].to_list() == pytest.approx([made, made], rel=1e-9)
    price = cut.prices().filter(
        (pl.col("node") == "JPN") & (pl.col("good") == GAAS) & (pl.col("scenario") == CONTROLS)
    )
    p0 = linked.parameter_frame().filter(pl.col("good") == GAAS)["p0_usd_per_unit"].item()
    assert float(price["price_usd_per_unit"].max()) > 1.5 * float(p0)


def _user_datasets(tmp_path: Path, extra_balance_rows: list[dict[str, object]]) -> Path:
    """The shipped datasets with rows added to market_balances.csv (a user's own data)."""
    root = tmp_path / "datasets"
    root.mkdir()
    for item in datasets_dir().iterdir():
        if item.name != "market_balances.csv":
            (root / item.name).symlink_to(item)
    shipped = pl.read_csv(datasets_dir() / "market_balances.csv", infer_schema=False)
    extra = pl.DataFrame(
        [
            {c: (None if r.get(c) is None else str(r[c])) for c in shipped.columns}
            for r in extra_balance_rows
        ],
        schema=dict.fromkeys(shipped.columns, pl.String),
    )
    pl.concat([shipped, extra]).write_csv(root / "market_balances.csv")
    return root


GAAS_WORLD_T = 0.10 * 633 / 0.482 / 0.65  # market_balances.csv, the GaAs world row's derivation


def _gaas_study():  # type: ignore[no-untyped-def]
    return dataclasses.replace(
        _gallium_study(),
        commodities=(("gallium", "refining"), ("gallium_arsenide", "manufacturing")),
    )


def test_shipped_gaas_balance_links_germany_s_gallium_and_calibrates() -> None:
    """Gallium + GaAs from the shipped tables only: no node or row added by the test.

    Germany (Freiberger) makes 65 % of the derived world GaAs level and uses 10 % of
    world gallium (Reuters, 2023), exactly the gallium content of its GaAs (0.482 t Ga
    per t), so all of Germany's gallium goes into GaAs; the rest of the world makes 35 %
    with part of its gallium. All GaAs is bought by ROW (no demand split published).
    """
    market = study_market(_gaas_study(), CONTROLS, StudyMarketSettings(months=3, stocks=False))
    inputs = market.inputs
    c = _c()
    deu, row = 0.65 * GAAS_WORLD_T / 12, 0.35 * GAAS_WORLD_T / 12
    assert pytest.approx(202.0428, rel=1e-6) == GAAS_WORLD_T
    assert inputs.processes.sort("node").rows() == [
        ("DEU", GAAS, GAAS, pytest.approx(deu), 0.0),
        ("ROW", GAAS, GAAS, pytest.approx(row), 0.0),
    ]
    assert inputs.process_inputs["input_per_output"].to_list() == pytest.approx([c, c])
    assert inputs.supply.filter(pl.col("good") == GAAS).height == 0  # from the processes only
    # Germany's 63.3 t of gallium (10 % of 633 t) all go into its GaAs
    assert deu * c * 12 == pytest.approx(0.10 * 633)
    assert inputs.demand.filter((pl.col("node") == "DEU") & (pl.col("good") == GALLIUM)).height == 0
    rest = inputs.demand.filter((pl.col("node") == "ROW") & (pl.col("good") == GALLIUM))
    assert rest["q0_units_per_month"].item() * 12 == pytest.approx(
        0.209668 * 633 - 0.35 * GAAS_WORLD_T * c
    )
    # Germany's apparent GaAs use (output - exports) is 0 up to floating-point noise (~1e-15)
    gaas_use = inputs.demand.filter(pl.col("good") == GAAS)
    assert gaas_use.filter(pl.col("node") != "ROW")["q0_units_per_month"].abs().max() < 1e-12
    assert gaas_use.filter(pl.col("node") == "ROW").rows() == [
        ("ROW", GAAS, pytest.approx(GAAS_WORLD_T / 12))
    ]
    p0 = dict(inputs.parameter_frame().select("good", "p0_usd_per_unit").iter_rows())
    # USGS: US imports of GaAs wafers, USD 200 m for 550 t in 2022
    assert p0 == {GALLIUM: 288_000.0, GAAS: pytest.approx(200e6 / 550, abs=0.01)}
    r = run_market(inputs.without_disruption(), MarketSettings(months=3), options=QUIET)
    made = dict(r.conversion().group_by("node").agg(pl.col("output_units").sum()).iter_rows())
    assert made == {
        "DEU": pytest.approx(3 * deu, rel=1e-9),
        "ROW": pytest.approx(3 * row, rel=1e-9),
    }
    demanded = (
        r.prices()
        .join(
            inputs.demand.filter(pl.col("q0_units_per_month") > 1e-12).select("node", "good"),
            on=["node", "good"],
        )
        .join(inputs.parameter_frame().select("good", "p0_usd_per_unit"), on="good")
    )
    assert set(demanded["good"]) == {GALLIUM, GAAS}
    # Germany exports all its GaAs: its price is P0 less the trade friction (6 %)
    for price, ref in demanded.select("price_usd_per_unit", "p0_usd_per_unit").iter_rows():
        assert price == pytest.approx(ref, rel=2.5 * CALIBRATION_TIE)


def test_china_s_gallium_stop_lowers_german_gaas_by_the_lost_gallium_over_0_482() -> None:
    market = study_market(_gaas_study(), CONTROLS, StudyMarketSettings(months=3, stocks=False))
    inputs = market.inputs
    settings = MarketSettings(months=3)
    base = run_market(inputs.without_disruption(), settings, options=QUIET)
    cut = run_market(inputs, settings, options=QUIET)
    c = _c()
    made = 0.65 * GAAS_WORLD_T / 12
    before = net_received(base, GALLIUM, "DEU", "base")
    assert before == pytest.approx([made * c] * 3, rel=1e-9)
    after = net_received(cut, GALLIUM, "DEU", CONTROLS)
    output = (
        cut.conversion()
        .filter((pl.col("scenario") == CONTROLS) & (pl.col("node") == "DEU"))
        .sort("month")["output_units"]
    )
    for b, a, y in zip(before, after, output.to_list(), strict=True):
        assert made - y == pytest.approx((b - a) / c, rel=1e-7, abs=1e-9)
    # 60 days of a 3-month horizon cut part of month 1; China's arc to Germany carries a1
    a1 = covered_months(60, 0.0, 3)[0]
    china = inputs.arcs.filter(
        (pl.col("origin") == "CHN") & (pl.col("destination") == "DEU") & (pl.col("good") == GALLIUM)
    )["flow0_units_per_month"].item()
    assert china / (made * c) == pytest.approx(0.981043, rel=1e-4)  # China's share of world output
    assert made - output[0] > 0.9 * (1.0 - a1) * china / c
    assert output[1:].to_list() == pytest.approx([made, made], rel=1e-9)
    price = cut.prices().filter(
        (pl.col("node") == "ROW") & (pl.col("good") == GAAS) & (pl.col("scenario") == CONTROLS)
    )
    p0 = inputs.parameter_frame().filter(pl.col("good") == GAAS)["p0_usd_per_unit"].item()
    assert float(price["price_usd_per_unit"].max()) > 1.5 * float(p0)


def test_a_gaas_share_group_not_summing_to_100_is_named(tmp_path, monkeypatch) -> None:
    shipped = pl.read_csv(datasets_dir() / "market_balances.csv", infer_schema=False)
    deu = (
        shipped.with_row_index("i")
        .filter(
            (pl.col("commodity") == "gallium_arsenide")
            & (pl.col("role") == "supply")
            & (pl.col("country_iso3") == "DEU")
        )["i"]
        .item()
    )
    edited = shipped.with_columns(
        pl.when(pl.int_range(pl.len()) == deu)
        .then(pl.lit("75"))
        .otherwise(pl.col("share_pct"))
        .alias("share_pct")
    )
    root = _user_datasets(tmp_path, [])
    edited.write_csv(root / "market_balances.csv")
    monkeypatch.setenv("RESILIENCE_DATASETS", str(root))
    with pytest.raises(DataError) as err:
        study_market(_gaas_study(), CONTROLS, StudyMarketSettings(months=3, stocks=False))
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "market_balances.csv",
        deu + 2,  # header = row 1
        "share_pct",
        110.0,
    )
    assert "gallium_arsenide/manufacturing supply 2023" in problem.reason
