"""A partial cut (a quota, a bypass pipeline) caps what the supplier ships: no growth on top.

Before ``growth_availability``, a supplier cut to availability ``a`` could add growth on
each cut arc (``a * ramp * f0 * t``), so Saudi crude "at 30 %" in the Hormuz closure
shipped 68 % of its usual flow in month 1. These tests pin the rule of
:mod:`resilience.optimize.market.trade`: while a cut lasts the arc carries at most
``a * f0``; growth comes back in the uncovered share of a month.
"""

from __future__ import annotations

import pytest

from resilience.errors import DataError
from resilience.optimize.market import run_market
from resilience.optimize.market.disruptions import covered_months, covered_shares
from resilience.optimize.market.testing import GOOD, cut, net_received, parameters, world


def _world(growth_availability: float | None, months: int = 2):  # type: ignore[no-untyped-def]
    """S ships M 60 and N 40 a month; T ships Z 50 and could grow into M and N."""
    rows = cut("S", 0.3, [1], destination="M") + cut("S", 0.3, [1], destination="N")
    if growth_availability is not None:
        rows = [{**r, "growth_availability": growth_availability} for r in rows]
    return world(
        {("M", GOOD): 60.0, ("N", GOOD): 40.0, ("Z", GOOD): 50.0},
        {("S", GOOD): 100.0, ("T", GOOD): 50.0},
        {
            ("S", "M", GOOD): 60.0,
            ("S", "N", GOOD): 40.0,
            ("T", "Z", GOOD): 50.0,
            ("T", "M", GOOD): 0.0,
        },
        # a fast ramp, as crude's (1.0 a month): growth could double an arc in month 1
        params=parameters({GOOD: {"ramp_share_per_month": 1.0, "spare_capacity_share": 0.2}}),
        scenarios={"calm": 0.5, "cut": 0.5},
        availability=rows,
        months=months,
    )


def _shipped_by_s(result, month: int) -> float:  # type: ignore[no-untyped-def]
    flows = result.flows()
    rows = flows.filter(
        (flows["origin"] == "S") & (flows["scenario"] == "cut") & (flows["month"] == month)
    )
    return float(rows["flow_units"].sum())


def test_a_supplier_cut_to_30_percent_ships_30_percent_while_the_cut_lasts() -> None:
    result = run_market(_world(growth_availability=0.0))
    assert _shipped_by_s(result, 1) == pytest.approx(30.0, abs=1e-6)
    # month 2 is open again: the observed 100 flow back
    assert _shipped_by_s(result, 2) == pytest.approx(100.0, abs=1e-6)


def test_without_growth_availability_growth_scales_with_availability_as_before() -> None:
    """The default (growth availability = availability) is exact for embargoes only.

    With a ramp of 1 a month, S may add 0.3 x 1 x f0 on each arc in month 1: up to 60.
    The shortage in M and N bids that up, so S ships more than its 30 % cap.
    """
    result = run_market(_world(growth_availability=None))
    assert _shipped_by_s(result, 1) > 30.0 + 1.0


def test_the_cut_raises_the_price_more_when_growth_cannot_undo_it() -> None:
    capped = run_market(_world(growth_availability=0.0)).prices()
    leaky = run_market(_world(growth_availability=None)).prices()

    def m1(prices) -> float:  # type: ignore[no-untyped-def]
        row = prices.filter(
            (prices["node"] == "M") & (prices["scenario"] == "cut") & (prices["month"] == 1)
        )
        return float(row["price_usd_per_unit"][0])

    assert m1(capped) > m1(leaky) + 1.0
    # T's growth into M still leaks (T is not cut): M gets more than S's 30 % of its flow
    assert net_received(run_market(_world(0.0)), GOOD, "M", "cut")[0] > 0.3 * 60.0


def test_a_partial_month_opens_growth_for_its_uncovered_share() -> None:
    shares = covered_shares(45, 12)  # 45 days = 1.48 months
    assert shares[0] == 1.0
    assert shares[1] == pytest.approx(45 * 12 / 365 - 1)
    alpha = covered_months(45, 0.3, 12)
    assert alpha[1] == pytest.approx(1 - 0.7 * shares[1])
    assert shares[2:] == [0.0] * 10


def test_a_growth_availability_outside_0_1_is_named() -> None:
    with pytest.raises(DataError, match=r"growth_availability.*1\.5"):
        _world(growth_availability=1.5)


def test_a_ramp_of_zero_is_spot_false_no_growth_anywhere() -> None:
    """``spot: false`` sets the ramp to 0: every arc carries at most its observed flow."""
    inputs = _world(growth_availability=0.0).with_changes(
        parameters=parameters({GOOD: {"ramp_share_per_month": 0.0, "spare_capacity_share": 0.2}})
    )
    flows = run_market(inputs).flows()
    assert float(flows["growth_units"].abs().max()) <= 1e-9  # type: ignore[arg-type]
    # T's new arc into M carries nothing, so M gets only S's 30 % in month 1
    assert net_received(run_market(inputs), GOOD, "M", "cut")[0] == pytest.approx(18.0, abs=1e-6)


def test_the_spot_false_override_is_accepted_by_the_parameter_rules() -> None:
    from resilience.reference.market_parameters import resolve_parameters

    frame = resolve_parameters([("graphite", "mining")], {"ramp_share_per_month": 0.0}, year=2021)
    assert frame["ramp_share_per_month"].to_list() == [0.0]
