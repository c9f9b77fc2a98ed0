"""Ukraine's neon stop of 2022 on the market core, through the neon -> chip stage link.

The study is ``tests/data/chips_neon_2022.yaml`` (G7 + EU as one, 2022, neon/refining and
both chip goods); the data are the shipped ones: neon per USD m of chip output
(``input_coefficients.csv``), the neon and chip world balances (``market_balances.csv``),
the neon price (``reference_prices.csv``) and stock days (``market_parameters.csv``).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.errors import DataError
from resilience.optimize.market.from_data import StudyMarketResult, run_study_market
from resilience.optimize.market.links_data import study_links
from resilience.paths import datasets_dir
from resilience.scenarios import load_study

STUDY = Path(__file__).resolve().parents[1] / "data" / "chips_neon_2022.yaml"
SCENARIO = "ukraine_neon_2022"
NEON = "neon/refining"
LEADING = "wafer_fab_leading_edge/manufacturing"
MATURE = "wafer_fab_mature/manufacturing"
CHIPS = (LEADING, MATURE)
#: Hand figures: Techcet's 540 t of neon for 2021 chip making; WSTS's USD 574,100 m of
#: 2022 world chip output; Ukraine's 45 % of the neon (Reuters/Techcet, low end).
NEON_T_PER_YEAR = 540.0
CHIPS_USD_M_PER_YEAR = 574_100.0
UKRAINE_SHARE = 0.45
NEON_STOCK_DAYS = 60.875  # CFRA's "up to two months" at the fabs
SIX_MONTHS_DAYS = 182.625  # Linx Consulting: fabs and the gas supply chain


@functools.cache
def _run(neon_stock_days: float | None = None) -> StudyMarketResult:
    overrides = (
        None if neon_stock_days is None else {"neon": {"working_stock_days": neon_stock_days}}
    )
    return run_study_market(load_study(STUDY), SCENARIO, overrides=overrides)


def _chip_output_usd_m(result: StudyMarketResult, scenario: str) -> float:
    made = result.result.conversion().filter(pl.col("scenario") == scenario)
    return float(made["output_units"].sum())


# ----------------------------------------------------------------------------- the row chains
def test_neon_chains_to_both_chip_goods_in_usd_m_with_the_same_coefficient() -> None:
    links = study_links([NEON, *CHIPS])
    got = dict(links.select("good_out", "input_per_output").iter_rows())
    coefficient = NEON_T_PER_YEAR / CHIPS_USD_M_PER_YEAR  # 0.00094 t per USD m
    assert got == {LEADING: pytest.approx(coefficient, rel=1e-12), MATURE: got[LEADING]}
    assert set(links["good_in"]) == {NEON}
    # the old row per percentage point of world chip output is another good: it does not
    # chain to the chip segments, and they do not chain to it (no double count)
    assert "semiconductors/manufacturing" not in set(links["good_out"])


def test_a_neon_coefficient_whose_unit_does_not_chain_names_file_row_column_value(
    tmp_path: Path,
) -> None:
    shipped = datasets_dir() / "input_coefficients.csv"
    with shipped.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    row_no = next(
        i + 1
        for i, r in enumerate(rows)
        if r[header.index("input_commodity")] == "neon"
        and r[header.index("output_commodity")] == "wafer_fab_mature"
    )
    # per percentage point of world output, as the commodity table's share basis would
    # suggest: the market counts this good in USD m, so it must not chain
    rows[row_no - 1][header.index("unit")] = "t per pct_of_world"
    bad = tmp_path / "input_coefficients.csv"
    with bad.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    with pytest.raises(DataError) as err:
        study_links([NEON, MATURE], path=bad)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "input_coefficients.csv",
        row_no,
        "unit",
        "t per pct_of_world",
    )
    assert "USD_m" in problem.reason
    assert "does not chain" in problem.reason


# ----------------------------------------------------------------------------- calm market
def test_the_neon_market_calibrates_at_p0() -> None:
    r = _run()
    calm = r.price_rise().filter(pl.col("scenario") == "calm")
    assert set(calm["good"]) == {NEON, *CHIPS}
    # within the solver's tolerance (1e-3 %: the duals are exact to about 2e-6 of P0)
    neon = calm.filter(pl.col("good") == NEON)["rise_pct"]
    assert neon.abs().max() == pytest.approx(0.0, abs=1e-3)
    members = calm.filter(pl.col("node").is_in(["CAN", "EU", "GBR", "JPN", "USA"]))
    assert members["rise_pct"].abs().max() == pytest.approx(0.0, abs=1e-3)
    # every node's chip price is P0 too, Taiwan's rest of chips included: its whole output
    # comes from its neon process and it buys none itself, so only the process's P0 block
    # (links_data, "The P0 block") pins its price; without it the price sat 6 % below P0
    # (the chips' trade friction, market_parameters.csv) with every flow unchanged
    chips = calm.filter(pl.col("good").is_in(CHIPS))
    assert chips["rise_pct"].abs().max() == pytest.approx(0.0, abs=1e-3)
    taiwan = chips.filter((pl.col("node") == "TWN") & (pl.col("good") == MATURE))
    assert taiwan.height == 12
    assert taiwan["rise_pct"].abs().max() == pytest.approx(0.0, abs=1e-3)
    blocks = r.market.inputs.processes.filter(pl.col("process").str.ends_with("(P0 block)"))
    assert blocks.select("node", "good_out").rows() == [("TWN", MATURE)]
    # every tonne of neon goes into the fabs, which make the whole observed chip output
    assert _chip_output_usd_m(r, "calm") == pytest.approx(CHIPS_USD_M_PER_YEAR, rel=1e-9)
    neon_final = r.result.demand().filter(pl.col("good") == NEON)["q0_units"].sum()
    assert neon_final == pytest.approx(0.0, abs=1e-9)
    calm_loss = r.losses().filter(
        (pl.col("scenario") == "calm") & pl.col("node").is_in(["CAN", "EU", "GBR", "JPN", "USA"])
    )["net_loss_usd"]
    assert calm_loss.abs().max() < 1e5  # USD: solver noise on a USD 574 bn market


# ----------------------------------------------------------------------------- the stop
def test_the_stop_runs_and_chip_output_falls_within_the_hand_bound() -> None:
    r = _run()
    c = NEON_T_PER_YEAR / CHIPS_USD_M_PER_YEAR
    lost_t = UKRAINE_SHARE * NEON_T_PER_YEAR  # 243 t over the 12-month horizon
    stocks_t = float(r.market.inputs.stocks.filter(pl.col("good") == NEON)["initial_units"].sum())
    assert stocks_t == pytest.approx(NEON_STOCK_DAYS / 365 * NEON_T_PER_YEAR, rel=1e-3)
    fall_usd_m = _chip_output_usd_m(r, "calm") - _chip_output_usd_m(r, SCENARIO)
    assert 0 < fall_usd_m <= (lost_t - stocks_t) / c * (1 + 1e-9)
    # the link is exact: what the fabs do not make is the neon that is missing
    supplied = r.result.supply().filter(pl.col("good") == NEON)
    short_t = float(
        supplied.filter(pl.col("scenario") == "calm")["output_units"].sum()
        - supplied.filter(pl.col("scenario") == SCENARIO)["output_units"].sum()
    )
    drawn_t = float(
        r.result.stocks()
        .filter((pl.col("good") == NEON) & (pl.col("scenario") == SCENARIO))
        .group_by("node")
        .agg(pl.col("drawdown_units").max())["drawdown_units"]
        .sum()
    )
    assert fall_usd_m * c == pytest.approx(short_t - drawn_t, rel=1e-6)
    # neon is short, so chips cost more and neon far more
    rise = r.price_rise().filter(pl.col("scenario") == SCENARIO)
    chip_rise = rise.filter(pl.col("good").is_in(CHIPS))["rise_pct"].max()
    neon_rise = rise.filter(pl.col("good") == NEON)["rise_pct"].max()
    assert chip_rise > 0
    assert neon_rise > chip_rise


def test_six_months_of_neon_in_the_supply_chain_cover_the_stop() -> None:
    """Linx's six months (fabs and gas suppliers) exceed the 243 t lost less spare output."""
    r = _run(SIX_MONTHS_DAYS)
    assert _chip_output_usd_m(r, SCENARIO) == pytest.approx(CHIPS_USD_M_PER_YEAR, rel=1e-9)
    rise = r.price_rise().filter(pl.col("scenario") == SCENARIO)["rise_pct"]
    assert rise.max() == pytest.approx(0.0, abs=1e-6)


def test_the_cli_prints_an_answer() -> None:
    out = CliRunner().invoke(app, ["run", str(STUDY), "--scenario", SCENARIO])
    assert out.exit_code == 0, out.output
    assert SCENARIO in out.output
    assert "wafer_fab_mature" in out.output
