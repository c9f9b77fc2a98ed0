"""China's 2023 germanium controls on the market core, on the shipped germanium balance.

The balance is ``datasets/market_balances.csv`` (germanium/refining, 2023): World Mining
Data's 163 t of refinery output (China 154, Russia 5, Japan 2, the US 2), US use 30 t
(USGS MCS 2025, 2021 estimate), China's use 91.51 t (its output less its January-July
2023 exports annualised, Reuters/GAC), the rest of the world the remainder. The price is
USGS's 2023 germanium metal price, USD 1,392 per kg (``reference_prices.csv``); the market
parameters are the critical-materials sector's (``market_parameters.csv``), as for gallium.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import polars as pl
import pytest

from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.disruptions import covered_months
from resilience.optimize.market.from_data import (
    StudyMarketResult,
    StudyMarketSettings,
    run_study_market,
)
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import load_study

MODELS = Path(__file__).resolve().parents[2] / "models"
CONTROLS = "china_gallium_germanium_controls"
GERMANIUM = "germanium/refining"
MONTHS = 3
#: Hand figures (t per year): WMD 2023 and the derivations in market_balances.csv.
#: China: 154 t less 36.45 t x 12/7 = 62.49 t (rounded to 10 kg in the derivation).
WORLD_T, CHINA_T, US_USE_T, CHINA_USE_T = 163.0, 154.0, 30.0, 154.0 - 62.49
P0_USD_PER_T = 1_392_000.0  # USGS MCS 2025: USD 1,392 per kg in 2023


@functools.cache
def _run() -> StudyMarketResult:
    spec = load_study(MODELS / "g7_critical_minerals.yaml")
    spec = dataclasses.replace(spec, commodities=(("germanium", "refining"),))
    return run_study_market(
        spec,
        CONTROLS,
        StudyMarketSettings(months=MONTHS, stocks=False),
        options=SolverOptions(log_to="off"),
    )


def _per_year(frame: pl.DataFrame, column: str, node: str | None = None) -> float:
    rows = frame.filter(pl.col("good") == GERMANIUM)
    if node is not None:
        rows = rows.filter(pl.col("node") == node)
    return 12 * float(rows[column].sum())


def test_the_shipped_balance_is_wmd_output_and_the_cited_uses() -> None:
    inputs = _run().market.inputs
    assert _per_year(inputs.supply, "output_units_per_month") == pytest.approx(WORLD_T, rel=1e-5)
    assert _per_year(inputs.supply, "output_units_per_month", "CHN") == pytest.approx(
        CHINA_T, rel=1e-5
    )
    assert _per_year(inputs.demand, "q0_units_per_month", "USA") == pytest.approx(
        US_USE_T, rel=1e-5
    )
    assert _per_year(inputs.demand, "q0_units_per_month", "CHN") == pytest.approx(
        CHINA_USE_T, rel=1e-5
    )
    assert _per_year(inputs.demand, "q0_units_per_month") == pytest.approx(WORLD_T, rel=1e-5)
    p0 = inputs.parameter_frame().filter(pl.col("good") == GERMANIUM)["p0_usd_per_unit"]
    assert p0.item() == pytest.approx(P0_USD_PER_T)


def test_the_calm_market_clears_at_p0_with_nothing_shed() -> None:
    r = _run()
    calm = r.base.prices().filter(pl.col("good") == GERMANIUM)
    assert calm.height == 5 * MONTHS  # CHN, JPN, RUS, USA, ROW
    for price in calm["price_usd_per_unit"]:
        assert price == pytest.approx(P0_USD_PER_T, rel=2.5 * CALIBRATION_TIE)
    shed = r.base.demand().filter(pl.col("good") == GERMANIUM)["shed_units"]
    assert shed.abs().max() == pytest.approx(0.0, abs=1e-9)


def test_the_controls_cut_china_s_exports_and_raise_the_us_price_within_a_hand_bound() -> None:
    r = _run()
    a1 = covered_months(60, 0.0, MONTHS)[0]
    assert 0.0 < a1 < 1.0
    arcs = r.market.inputs.arcs.filter(pl.col("good") == GERMANIUM)
    flow0 = {
        (o, d): f
        for o, d, f in arcs.select("origin", "destination", "flow0_units_per_month").iter_rows()
    }
    flows = r.result.flows().filter(
        (pl.col("good") == GERMANIUM) & (pl.col("scenario") == CONTROLS) & (pl.col("month") == 1)
    )
    out_of_china = flows.filter(pl.col("origin") == "CHN")
    assert out_of_china.height > 0
    # an arc carries at most availability x (base flow + one month's ramp of it):
    # resilience.optimize.market.trade (the ramp base is the arc's observed flow)
    ramp = r.market.inputs.parameter_frame().filter(pl.col("good") == GERMANIUM)[
        "ramp_share_per_month"
    ]
    for _, d, f in out_of_china.select("origin", "destination", "flow_units").iter_rows():
        cap = a1 * flow0[("CHN", d)] * (1.0 + ramp.item())
        assert f <= cap * (1 + 1e-7) + 1e-9
        assert f < 0.55 * flow0[("CHN", d)]  # about half of the month's flow is stopped
    # the US loses at most what China's arc did not carry; Japan and Russia ramp a little
    lost_t = (1.0 - a1) * flow0[("CHN", "USA")]
    shed = r.result.demand().filter(
        (pl.col("good") == GERMANIUM) & (pl.col("node") == "USA") & (pl.col("scenario") == CONTROLS)
    )
    by_month = dict(shed.select("month", "shed_units").iter_rows())
    assert 0.5 * lost_t < by_month[1] <= lost_t * (1 + 1e-7)
    assert by_month[2] == pytest.approx(0.0, abs=1e-9)
    rise = r.price_rise().filter(
        (pl.col("good") == GERMANIUM) & (pl.col("node") == "USA") & (pl.col("scenario") == CONTROLS)
    )
    month_rise = dict(rise.select("month", "rise_pct").iter_rows())
    assert month_rise[1] > 100.0  # short of germanium, the US bids far above P0
    assert month_rise[3] == pytest.approx(0.0, abs=1e-3)
    # China keeps what it cannot export: its own use is served in full
    china = r.result.demand().filter(
        (pl.col("good") == GERMANIUM) & (pl.col("node") == "CHN") & (pl.col("scenario") == CONTROLS)
    )
    assert china["shed_units"].max() == pytest.approx(0.0, abs=1e-9)
