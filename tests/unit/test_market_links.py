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
from resilience.optimize.market.testing import DEFAULT_PARAMETERS, GAAS, GALLIUM, gallium_world
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
    flows = r.flows().filter((pl.col("good") == GALLIUM) & (pl.col("scenario") == scenario))
    into = (
        flows.filter(pl.col("destination") == "JPN")
        .group_by("month")
        .agg(pl.col("flow_units").sum().alias("in"))
    )
    out = (
        flows.filter(pl.col("origin") == "JPN")
        .group_by("month")
        .agg(pl.col("flow_units").sum().alias("out"))
    )
    own = (
        r.supply()
        .filter(
            (pl.col("node") == "JPN")
            & (pl.col("good") == GALLIUM)
            & (pl.col("scenario") == scenario)
        )
        .select("month", "output_units")
    )
    net = (
        into.join(out, on="month", how="left")
        .join(own, on="month", how="left")
        .select(
            "month",
            (
                pl.col("in") - pl.col("out").fill_null(0.0) + pl.col("output_units").fill_null(0.0)
            ).alias("net"),
        )
        .sort("month")
    )
    return net["net"].to_list()


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


def _gaas_rows(world_t: float) -> list[dict[str, object]]:
    """Made-up GaAs balance for a test: Japan makes it all, Japan uses 60 %, the US 40 %."""
    cite = {
        "commodity": "gallium_arsenide",
        "stage": "manufacturing",
        "year": 2023,
        "is_projection": "false",
        "source": "test world (made up)",
        "vintage": "test",
        "url": "https://example.org/test",
        "quote": "made up for a test",
    }
    rows: list[dict[str, object]] = [
        {
            **cite,
            "role": "world",
            "country_iso3": "WLD",
            "share_pct": 100,
            "unit": "t",
            "world_units_per_year": repr(world_t),
            "basis": "world_output_value",
        },
    ]
    for role, shares, basis in (
        ("supply", {"JPN": 100, "ROW": 0}, "capacity_by_location"),
        ("demand", {"JPN": 60, "USA": 40, "ROW": 0}, "consumption_by_region"),
    ):
        rows += [
            {**cite, "role": role, "country_iso3": iso, "share_pct": pct, "basis": basis}
            for iso, pct in shares.items()
        ]
    return rows


def test_study_market_links_a_study_holding_gallium_and_gaas(tmp_path, monkeypatch) -> None:
    """End to end through study_market: shipped gallium, a user's GaAs balance.

    Japan's GaAs output is what its allocated gallium use makes (``A / 0.482``), so all
    of Japan's gallium goes into GaAs; GaAs gets gallium's parameters (a test
    assumption, passed as overrides).
    """
    spec = dataclasses.replace(
        _gallium_study(),
        commodities=(("gallium", "refining"), ("gallium_arsenide", "manufacturing")),
    )
    settings = StudyMarketSettings(months=3, stocks=False)
    shipped = study_market(_gallium_study(), CONTROLS, settings)
    c = _c()
    use_t = (
        12
        * shipped.inputs.demand.filter((pl.col("node") == "JPN") & (pl.col("good") == GALLIUM))[
            "q0_units_per_month"
        ].item()
    )
    monkeypatch.setenv("RESILIENCE_DATASETS", str(_user_datasets(tmp_path, _gaas_rows(use_t / c))))
    gallium = (
        shipped.inputs.parameter_frame()
        .filter(pl.col("good") == GALLIUM)
        .drop("good")
        .row(0, named=True)
    )
    market = study_market(spec, CONTROLS, settings, overrides={GAAS: gallium})
    made = use_t / c / 12
    inputs = market.inputs
    assert inputs.processes.rows() == [("JPN", GAAS, GAAS, pytest.approx(made), 0.0)]
    assert inputs.process_inputs.rows() == [("JPN", GAAS, GALLIUM, pytest.approx(c))]
    assert inputs.supply.filter(pl.col("good") == GAAS).height == 0  # from the process only
    assert inputs.demand.filter((pl.col("node") == "JPN") & (pl.col("good") == GALLIUM)).height == 0
    gaas_demand = dict(
        inputs.demand.filter(pl.col("good") == GAAS)
        .select("node", "q0_units_per_month")
        .iter_rows()
    )
    assert gaas_demand == {"JPN": pytest.approx(0.6 * made), "USA": pytest.approx(0.4 * made)}
    ms = MarketSettings(months=3)
    base = run_market(inputs.without_disruption(), ms, options=QUIET)
    assert base.conversion()["output_units"].to_list() == pytest.approx([made] * 3, rel=1e-9)
    cut = run_market(inputs, ms, options=QUIET)
    before = _net_gallium_into_japan(base, "base")
    after = _net_gallium_into_japan(cut, CONTROLS)
    output = cut.conversion().filter(pl.col("scenario") == CONTROLS).sort("month")["output_units"]
    assert made - output[0] > 0.25 * made
    for b, a, y in zip(before, after, output.to_list(), strict=True):
        assert made - y == pytest.approx((b - a) / c, rel=1e-7, abs=1e-9)
    us = cut.prices().filter(
        (pl.col("node") == "USA") & (pl.col("good") == GAAS) & (pl.col("scenario") == CONTROLS)
    )
    assert float(us["price_usd_per_unit"].max()) > 1.5 * gallium["p0_usd_per_unit"]
