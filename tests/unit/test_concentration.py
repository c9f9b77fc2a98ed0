import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.metrics.concentration import concentration, shares

GROUP = ["commodity"]


def _frame(quantities, iso3s):
    return pl.DataFrame(
        {"commodity": ["x"] * len(iso3s), "country_iso3": iso3s, "quantity": quantities}
    )


def test_hhi_of_known_shares():
    # 50/30/20: HHI = 0.25 + 0.09 + 0.04 = 0.38 (3800 on the 0-10 000 scale)
    out = concentration(
        shares(_frame([50.0, 30.0, 20.0], ["CHN", "AUS", "CHL"]), GROUP), GROUP
    ).collect()
    assert out["hhi"][0] == pytest.approx(0.38)
    assert out["hhi_10000"][0] == pytest.approx(3800.0)
    assert out["top_country_iso3"][0] == "CHN"
    assert out["top3_share"][0] == pytest.approx(1.0)


def test_rest_of_world_in_denominator_not_in_hhi_and_world_ignored():
    frame = _frame([60.0, 20.0, 20.0, 100.0], ["CHN", "AUS", "ROW", "WLD"])
    out = concentration(shares(frame, GROUP), GROUP).collect()
    assert out["top1_share"][0] == pytest.approx(0.6)
    assert out["hhi"][0] == pytest.approx(0.36 + 0.04)
    assert out["n_countries"][0] == 2


def test_monopoly_has_hhi_one():
    out = concentration(shares(_frame([5.0], ["COD"]), GROUP), GROUP).collect()
    assert out["hhi"][0] == pytest.approx(1.0)


@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=30))
def test_shares_sum_to_one_and_hhi_between_1_over_n_and_1(quantities):
    iso3s = [f"C{i:02d}" for i in range(len(quantities))]
    frame = shares(_frame(quantities, iso3s), GROUP).collect()
    assert frame["share"].sum() == pytest.approx(1.0)
    hhi = concentration(frame, GROUP).collect()["hhi"][0]
    n = len(quantities)
    assert 1.0 / n - 1e-9 <= hhi <= 1.0 + 1e-9
