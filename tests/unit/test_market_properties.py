"""Monotonicity of the market core under hypothesis (tiny worlds, exact LP answers)."""

from __future__ import annotations

import functools

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.optimize.market import MarketResult, leak_free_share, run_market, welfare_loss
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.testing import GOOD, cut, parameters, world
from resilience.optimize.solve import SolverOptions

QUIET = SolverOptions(log_to="off")
MONTHS = 4
TOL = 1e-6
# each example solves 2-4 tiny LPs (~0.2 s each with Polars overhead): 12 examples keep
# every test under ~10 s on the shared 2-core machine
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def two_supplier(depth: float, months: int, k0: float = 0.0) -> MarketResult:
    """M buys 70 from S1 and 30 from S2 (spare 30 %); S1's output is cut by ``depth``."""
    rows = cut("S1", 1.0 - depth, range(1, months + 1)) if months else []
    return run_market(
        world(
            {("M", GOOD): 100.0, ("S2", GOOD): 20.0},
            {("S1", GOOD): 70.0, ("S2", GOOD): 50.0},
            {("S1", "M", GOOD): 70.0, ("S2", "M", GOOD): 30.0},
            params=parameters({GOOD: {"spare_capacity_share": 0.3}}),
            stocks={("M", GOOD): (k0, 400.0, 25.0)},
            availability=rows,
            scenarios={"cut": 1.0},
            months=MONTHS,
        ),
        options=QUIET,
    )


@functools.cache
def no_cut() -> MarketResult:
    return two_supplier(0.0, 0)


def member(result: MarketResult, base: MarketResult) -> tuple[list[float], float]:
    prices = result.prices().filter(pl.col("node") == "M").sort("month")["price_usd_per_unit"]
    loss = welfare_loss(base, result).filter(pl.col("node") == "M")["consumer_loss_usd"][0]
    return prices.to_list(), float(loss)


@PROPERTY
@given(
    st.floats(0.0, 0.95),
    st.floats(0.0, 0.95),
    st.integers(1, MONTHS),
    st.integers(1, MONTHS),
)
def test_a_deeper_or_longer_cut_never_lowers_the_price_or_the_loss(
    d1: float, d2: float, m1: int, m2: int
) -> None:
    (d1, d2), (m1, m2) = sorted((d1, d2)), sorted((m1, m2))
    base = no_cut()
    p1, loss1 = member(two_supplier(d1, m1), base)
    p2, loss2 = member(two_supplier(d2, m2), base)
    for a, b in zip(p1, p2, strict=True):  # prices are unique up to the calibration tie
        assert b >= a - (2 * CALIBRATION_TIE + TOL) * a
    assert loss2 >= loss1 - TOL * max(1.0, abs(loss1))


@PROPERTY
@given(st.floats(0.0, 300.0), st.floats(0.0, 300.0), st.floats(0.2, 0.9))
def test_more_initial_stock_never_raises_the_members_loss(
    k1: float, k2: float, depth: float
) -> None:
    k1, k2 = sorted((k1, k2))
    losses = []
    for k0 in (k1, k2):
        base = two_supplier(0.0, 0, k0)
        losses.append(member(two_supplier(depth, MONTHS, k0), base)[1])
    # up to the calibration tie: P0 * CALIBRATION_TIE per unit of stock or monthly demand
    tie = 2 * CALIBRATION_TIE * 1000.0 * (k2 + 100.0 * MONTHS)
    assert losses[1] <= losses[0] + tie + TOL * abs(losses[0])


def embargo(tau: float, ramp: float) -> MarketResult:
    """A embargoes M; T (which buys from A) may re-export to M over a new arc."""
    rows = cut("A", 0.0, range(1, MONTHS + 1), destination="M")
    return run_market(
        world(
            {("M", GOOD): 100.0, ("T", GOOD): 60.0},
            {("A", GOOD): 120.0, ("B", GOOD): 40.0},
            {
                ("A", "M", GOOD): 70.0,
                ("A", "T", GOOD): 50.0,
                ("B", "M", GOOD): 30.0,
                ("B", "T", GOOD): 10.0,
                ("T", "M", GOOD): 0.0,
            },
            params=parameters(
                {
                    GOOD: {
                        "friction_share": tau,
                        "ramp_share_per_month": ramp,
                        "spare_capacity_share": 0.2,
                    }
                }
            ),
            availability=rows,
            months=MONTHS,
        ),
        options=QUIET,
    )


@PROPERTY
@given(st.floats(0.0, 1.5), st.floats(0.0, 1.5), st.floats(0.05, 1.0))
def test_a_higher_friction_never_lowers_the_leak_free_share_of_an_embargo(
    t1: float, t2: float, ramp: float
) -> None:
    t1, t2 = sorted((t1, t2))
    s1 = leak_free_share(embargo(t1, ramp), "M", "A", GOOD, "cut")
    s2 = leak_free_share(embargo(t2, ramp), "M", "A", GOOD, "cut")
    assert s2 >= s1 - 1e-9


def test_an_embargo_leaks_only_as_far_as_friction_and_ramp_allow() -> None:
    free = leak_free_share(embargo(0.0, 1.0), "M", "A", GOOD, "cut")
    slow = leak_free_share(embargo(0.0, 0.05), "M", "A", GOOD, "cut")
    costly = leak_free_share(embargo(2.0, 1.0), "M", "A", GOOD, "cut")
    assert free < 0.5  # with no friction and a fast ramp, most of it leaks
    assert slow > free  # a slow ramp holds the leak back ...
    assert costly == 1.0  # ... and a friction above the price gap stops it
    # the leak is bounded by the ramp: growth on T -> M is at most rho * q0_M * t
    r = embargo(0.0, 0.05)
    tm = r.flows().filter((pl.col("origin") == "T") & (pl.col("destination") == "M"))
    for row in tm.iter_rows(named=True):
        assert row["growth_units"] <= 0.05 * 100.0 * row["month"] + 1e-9
