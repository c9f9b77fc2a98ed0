"""Working (commercial) stocks: every consuming node holds its cited days of consumption."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.optimize.market import run_market, welfare_loss
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.stocks_data import working_stocks
from resilience.optimize.market.testing import GOOD, cut, world
from resilience.optimize.solve import SolverOptions

QUIET = SolverOptions(log_to="off")
MONTHS = 4
#: M consumes 100 units a month, all bought from S; S's output is cut to zero.
Q0_PER_MONTH = 100.0
P0 = 1000.0  # DEFAULT_PARAMETERS of the testing module
PROPERTY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def balances(q0_per_year: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "node": list(q0_per_year),
            "good": [GOOD] * len(q0_per_year),
            "q0_units_per_year": list(q0_per_year.values()),
        }
    )


def test_working_stock_is_days_of_each_consuming_nodes_own_consumption():
    frame = working_stocks(
        balances({"M": 1200.0, "R": 365.0, "S": 0.0}), {GOOD: (30.0, "a source (2020)")}
    )
    stock = {n: v for n, v in frame.select("node", "initial_units").iter_rows()}
    assert stock == pytest.approx({"M": 30.0 / 365.0 * 1200.0, "R": 30.0})  # S consumes none
    assert (frame["capacity_units"] == frame["initial_units"]).all()
    assert (frame["draw_units_per_month"] == frame["initial_units"]).all()


def test_zero_working_days_give_no_stock():
    assert working_stocks(balances({"M": 1200.0}), {GOOD: (0.0, "s")}).height == 0


def solve(days: float, cut_months: int):
    """M's market with ``days`` of working stock; S cut to zero in months 1..cut_months."""
    stocks = working_stocks(balances({"M": Q0_PER_MONTH * 12}), {GOOD: (days, "s")})
    held = {
        (n, g): (k0, cap, draw)
        for n, g, k0, cap, draw in stocks.select(
            "node", "good", "initial_units", "capacity_units", "draw_units_per_month"
        ).iter_rows()
    }

    def run(rows):
        return run_market(
            world(
                {("M", GOOD): Q0_PER_MONTH},
                {("S", GOOD): Q0_PER_MONTH},
                {("S", "M", GOOD): Q0_PER_MONTH},
                stocks=held,
                availability=rows,
                scenarios={"cut": 1.0},
                months=MONTHS,
            ),
            options=QUIET,
        )

    return run([]), run(cut("S", 0.0, range(1, cut_months + 1)))


def shed_units(result) -> float:
    return float(result.demand().filter(pl.col("node") == "M")["shed_units"].sum())


def test_a_node_with_working_stock_above_the_cut_sheds_nothing():
    # a two-month total cut takes 200 units; 61 days of 1,200 a year are 200.5 units
    _, covered = solve(61.0, 2)
    assert shed_units(covered) == pytest.approx(0.0, abs=1e-6)
    # 30 days (98.6 units) do not cover it: M sheds, so the test can fail
    _, short = solve(30.0, 2)
    assert shed_units(short) > 50.0


@PROPERTY
@given(st.floats(0.0, 150.0), st.floats(0.0, 150.0), st.integers(1, MONTHS))
def test_more_working_stock_never_raises_the_members_loss(
    d1: float, d2: float, months: int
) -> None:
    d1, d2 = sorted((d1, d2))
    losses = []
    for days in (d1, d2):
        base, result = solve(days, months)
        loss = welfare_loss(base, result).filter(pl.col("node") == "M")["consumer_loss_usd"][0]
        losses.append(float(loss))
    # up to the calibration tie: P0 * CALIBRATION_TIE per unit of stock or demand
    stock2 = d2 / 365.0 * Q0_PER_MONTH * 12
    tie = 2 * CALIBRATION_TIE * P0 * (stock2 + Q0_PER_MONTH * MONTHS)
    assert losses[1] <= losses[0] + tie + 1e-6 * abs(losses[0])
