"""Magnet rare earths -> sintered NdFeB magnets on the market core (issue 12, item 4).

The link is the shipped row of ``datasets/input_coefficients.csv``: 0.3075 t of
rare-earth metal per t of magnet, converted to t REO (the unit of
``magnet_rare_earths``) with Nd2O3 / 2 Nd = 1.16638 (IUPAC 2021 atomic weights). The
market runs on a tiny world (C separates magnet rare earths, J makes magnets, U buys
them) with made-up prices and elasticities (:data:`DEFAULT_PARAMETERS`): no cited world
balance of magnets is shipped (``datasets/sources/market_balances.md``, "Permanent
magnets: not shipped").
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market import MarketSettings, run_market
from resilience.optimize.market.curves import CALIBRATION_TIE
from resilience.optimize.market.inputs import MarketInputs
from resilience.optimize.market.links_data import study_links
from resilience.optimize.market.testing import DEFAULT_PARAMETERS, linked_pair_world
from resilience.optimize.solve import SolverOptions
from resilience.paths import datasets_dir

QUIET = SolverOptions(log_to="off")
P0 = DEFAULT_PARAMETERS["p0_usd_per_unit"]
REE = "magnet_rare_earths/refining"
MAGNETS = "permanent_magnets/manufacturing"
SHIPPED = datasets_dir() / "input_coefficients.csv"
#: t Nd2O3 per t Nd, from IUPAC 2021 standard atomic weights (Nd 144.242, O 15.999).
ND2O3_PER_ND = (2 * 144.242 + 3 * 15.999) / (2 * 144.242)
MADE_T_PER_MONTH = 100.0


def _c() -> float:
    return float(study_links([REE, MAGNETS])["input_per_output"].item())


def magnet_world(availability: float = 1.0, months: int = 1) -> MarketInputs:
    """C ships J the REO its magnets need; J sells every magnet to U; C -> J cut."""
    return linked_pair_world(REE, MAGNETS, availability, months, made_per_month=MADE_T_PER_MONTH)


def test_the_shipped_coefficient_is_the_metal_content_in_reo() -> None:
    assert _c() == pytest.approx(0.3075 * ND2O3_PER_ND, rel=1e-5)
    assert _c() == pytest.approx(0.35866, abs=5e-6)


def test_a_calm_market_reproduces_the_balance_and_p0() -> None:
    w = magnet_world(months=2)
    r = run_market(w, MarketSettings(months=2), options=QUIET)
    demanded = r.prices().join(w.demand.select("node", "good"), on=["node", "good"])
    assert demanded.height == 4  # C's rare earths and U's magnets, two months
    for price in demanded["price_usd_per_unit"]:
        assert price == pytest.approx(P0, rel=2.5 * CALIBRATION_TIE)
    flows = dict(r.flows().filter(pl.col("month") == 2).select("good", "flow_units").iter_rows())
    assert flows == {REE: pytest.approx(_c() * MADE_T_PER_MONTH), MAGNETS: pytest.approx(100.0)}
    assert r.conversion()["output_units"].to_list() == pytest.approx([100.0, 100.0])
    assert r.demand()["shed_units"].max() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("availability", [0.0, 0.3, 0.6])
def test_a_cut_of_x_t_reo_lowers_magnet_output_by_x_over_the_coefficient(
    availability: float,
) -> None:
    r = run_market(magnet_world(availability), MarketSettings(months=1), options=QUIET)
    delivered = r.flows().filter(pl.col("good") == REE)["flow_units"].item()
    x = _c() * MADE_T_PER_MONTH - delivered
    assert x > 0.05 * _c() * MADE_T_PER_MONTH * (1.0 - availability)  # the cut bites
    made = r.conversion()["output_units"].item()
    # x / 0.35866 t of magnet: 2.79 t of magnet per t REO lost (not 1 / 0.3075 = 3.25)
    assert MADE_T_PER_MONTH - made == pytest.approx(x / _c(), rel=1e-9, abs=1e-9)


def test_the_cut_raises_the_magnet_price() -> None:
    r = run_market(magnet_world(0.5), MarketSettings(months=1), options=QUIET)
    prices = {(n, g): p for n, g, _, _, p in r.prices().iter_rows()}
    assert prices[("U", MAGNETS)] > 1.5 * P0
    assert prices[("J", REE)] > P0 > prices[("C", REE)]  # short at J, stranded at C


def test_a_magnet_row_per_kwh_does_not_chain_and_is_named(tmp_path: Path) -> None:
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    edited = raw.with_columns(
        pl.when(pl.col("output_commodity") == "permanent_magnets")
        .then(pl.lit("t per kWh"))
        .otherwise(pl.col("unit"))
        .alias("unit")
    )
    path = tmp_path / "input_coefficients.csv"
    edited.write_csv(path)
    row = raw.with_row_index("i").filter(pl.col("output_commodity") == "permanent_magnets")
    with pytest.raises(DataError) as err:
        study_links([REE, MAGNETS], path=path)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "input_coefficients.csv",
        int(row["i"].item()) + 2,
        "unit",
        "t per kWh",
    )
    assert "does not chain" in problem.reason
