"""GeoPolRisk (geopolrisk-py 2.0.1 assessment rules), with hand-computed expected values.

The reference formula as the package computes it (core.py ``GeoPolRisk``, utils.py
``aggregateTrade``), written out:

    Numerator  = sum_i g_i * q_i            (g missing -> 0.5; partner in the unit -> 0)
    TotalTrade = sum_i q_i                  (tonnes; qty NA -> 0)
    Price      = sum_i v_i / sum_i q_i      (v in kUSD -> USD/kg; 0 if sum q == 0)
    WTA        = Numerator / (TotalTrade + ProdQty)   (0 if the denominator is 0)
    Score      = HHI * WTA
    CF         = Score * Price / 0.409412948
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.metrics.geopolrisk import (
    CF_COPPER,
    MISSING_G,
    geopolrisk_score,
    pv_normalized,
)

KEYS = {"year": 2022, "commodity": "cobalt"}


def _pv(values: list[float | None], **kwargs) -> list[float | None]:
    frame = pl.DataFrame({"pv": values}, schema={"pv": pl.Float64})
    return frame.select(pv_normalized(pl.col("pv"), **kwargs))["pv_normalized_0_1"].to_list()


def _imports(rows: list[tuple], with_internal: bool = False) -> pl.DataFrame:
    """rows = (importer, supplier, quantity_t, value_usd, pv_estimate[, internal])."""
    data = {
        "importer_iso3": [r[0] for r in rows],
        "year": [KEYS["year"]] * len(rows),
        "commodity": [KEYS["commodity"]] * len(rows),
        "supplier_iso3": [r[1] for r in rows],
        "import_quantity_t": [r[2] for r in rows],
        "import_value_usd": [r[3] for r in rows],
        "pv": [r[4] for r in rows],
    }
    schema = {
        "importer_iso3": pl.String,
        "year": pl.Int32,
        "commodity": pl.String,
        "supplier_iso3": pl.String,
        "import_quantity_t": pl.Float64,
        "import_value_usd": pl.Float64,
        "pv": pl.Float64,
    }
    if with_internal:
        data["internal"] = [r[5] for r in rows]
        schema["internal"] = pl.Boolean
    return pl.DataFrame(data, schema=schema).with_columns(pv_normalized(pl.col("pv")))


def _production(rows: list[tuple[str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "importer_iso3": [r[0] for r in rows],
            "year": [KEYS["year"]] * len(rows),
            "commodity": [KEYS["commodity"]] * len(rows),
            "production_t": [r[1] for r in rows],
        },
        schema={
            "importer_iso3": pl.String,
            "year": pl.Int32,
            "commodity": pl.String,
            "production_t": pl.Float64,
        },
    )


def _hhi(value: float = 0.5) -> pl.DataFrame:
    return pl.DataFrame(
        {"year": [KEYS["year"]], "commodity": [KEYS["commodity"]], "hhi": [value]},
        schema={"year": pl.Int32, "commodity": pl.String, "hhi": pl.Float64},
    )


def _score(imports, production, hhi=None, **kwargs) -> dict[str, dict]:
    out = geopolrisk_score(imports, production, _hhi() if hhi is None else hhi, **kwargs)
    return {row["importer_iso3"]: row for row in out.collect().iter_rows(named=True)}


# --- g: political (in)stability --------------------------------------------------------


def test_pv_normalized_scale_and_clip():
    # (2.5 - PV) / 5 clipped to [0, 1]: -2.5 -> 1 (least stable), 2.5 -> 0, 0 -> 0.5,
    # 1.0 -> 0.3, -1.5 -> 0.8; -3.313 (Somalia's low) -> 1.0626 -> clipped to 1; 3 -> 0
    assert _pv([-2.5, 2.5, 0.0, 1.0, -1.5, -3.313, 3.0]) == pytest.approx(
        [1.0, 0.0, 0.5, 0.3, 0.8, 1.0, 0.0]
    )


def test_pv_missing_gets_the_reference_default_half():
    assert MISSING_G == 0.5
    assert _pv([None, float("nan")]) == [0.5, 0.5]
    # the published 2.0.1 table's artefact (0.0 for missing 1996-2022) can be reproduced
    assert _pv([None], missing=0.0) == [0.0]
    assert _pv([None], missing=None) == [None]


# --- the score -------------------------------------------------------------------------


def test_worked_example_matches_the_reference_formula():
    # DEU imports cobalt: COD 60 t (PV -1.5 -> g 0.8), AUS 30 t (PV 1.0 -> g 0.3),
    # an exporter without a PV score 10 t (g 0.5); domestic production 100 t; HHI 0.5.
    # Numerator = 0.8*60 + 0.3*30 + 0.5*10 = 48 + 9 + 5 = 62;  F = 100;  p = 100
    # WTA = 62 / (100 + 100) = 0.31;  Score = 0.5 * 0.31 = 0.155
    # values 600 000 + 300 000 + 100 000 USD = 1 000 kUSD over 100 t -> 10 USD/kg
    # CF = 0.155 * 10 / 0.409412948 = 1.55 / 0.409412948 = 3.7859086
    imports = _imports(
        [
            ("DEU", "COD", 60.0, 600_000.0, -1.5),
            ("DEU", "AUS", 30.0, 300_000.0, 1.0),
            ("DEU", "XXA", 10.0, 100_000.0, None),
        ]
    )
    row = _score(imports, _production([("DEU", 100.0)]))["DEU"]
    assert row["weighted_imports_t"] == pytest.approx(62.0)
    assert row["imports_t"] == pytest.approx(100.0)
    assert row["production_t"] == pytest.approx(100.0)
    assert row["import_risk"] == pytest.approx(0.31)
    assert row["geopolrisk_score"] == pytest.approx(0.155)
    assert row["price_usd_per_kg"] == pytest.approx(10.0)
    assert CF_COPPER == 0.409412948
    assert row["geopolrisk_cf_cu_eq"] == pytest.approx(0.155 * 10.0 / 0.409412948)
    assert row["geopolrisk_cf_cu_eq"] == pytest.approx(3.7859086, rel=1e-7)


def test_missing_wgi_counts_as_half_not_zero_or_dropped():
    # one supplier without a score: Numerator = 0.5 * 40 = 20; WTA = 20 / 40 = 0.5;
    # Score = 0.5 * 0.5 = 0.25 (a 0.0 default would give 0, dropping the row 0/0)
    imports = _imports([("JPN", "XXA", 40.0, 1.0, None)])
    row = _score(imports, _production([]))["JPN"]
    assert row["geopolrisk_score"] == pytest.approx(0.25)


def test_g_given_as_an_expression_with_nulls():
    imports = _imports([("JPN", "XXA", 40.0, 1.0, 0.0)]).with_columns(
        pl.lit(None, pl.Float64).alias("raw_g")
    )
    row = _score(imports, _production([]), g=pl.col("raw_g"))["JPN"]
    assert row["weighted_imports_t"] == pytest.approx(20.0)


def test_no_domestic_production_divides_by_imports_only():
    # p = 0: WTA = (1.0*50 + 0.0*50) / (100 + 0) = 0.5 -> Score = 0.5 * 0.5 = 0.25
    imports = _imports([("KOR", "AAA", 50.0, 1.0, -2.5), ("KOR", "BBB", 50.0, 1.0, 2.5)])
    row = _score(imports, _production([("KOR", 0.0)]))["KOR"]
    assert row["import_risk"] == pytest.approx(0.5)
    assert row["geopolrisk_score"] == pytest.approx(0.25)


def test_importer_missing_from_production_has_p_zero():
    imports = _imports([("KOR", "AAA", 50.0, 1.0, -2.5)])
    row = _score(imports, _production([("USA", 10.0)]))["KOR"]
    assert row["production_t"] == 0.0
    assert row["import_risk"] == pytest.approx(1.0)


def test_importer_with_no_imports_scores_zero():
    # USA produces 10 t and imports nothing: WTA = 0 / (0 + 10) = 0.
    # FRA neither imports nor produces: 0 / 0 is caught as WTA = 0 in the reference,
    # and the price (0 / 0) is 0 as well. No NaN either way.
    rows = _score(_imports([]), _production([("USA", 10.0), ("FRA", 0.0)]))
    for iso3 in ("USA", "FRA"):
        row = rows[iso3]
        assert row["import_risk"] == 0.0
        assert row["geopolrisk_score"] == 0.0
        assert row["price_usd_per_kg"] == 0.0
        assert row["geopolrisk_cf_cu_eq"] == 0.0
        assert not math.isnan(row["geopolrisk_score"])


def test_missing_quantity_counts_as_zero_but_its_value_stays_in_the_price():
    # qty NA -> 0 (reference replace_func), value kept: price = (1000 + 1000) / (1000 * 10)
    imports = _imports([("ITA", "AAA", 10.0, 1000.0, 0.0), ("ITA", "BBB", None, 1000.0, -2.5)])
    row = _score(imports, _production([]))["ITA"]
    assert row["imports_t"] == pytest.approx(10.0)
    assert row["weighted_imports_t"] == pytest.approx(5.0)  # g(PV 0) = 0.5 * 10 t
    assert row["price_usd_per_kg"] == pytest.approx(0.2)


def test_bloc_members_trade_counts_in_imports_with_zero_risk():
    # Bloc "EU": imports 30 t from FRA (a member, PV -2.5 but g forced to 0) and 70 t
    # from CHN (PV -0.5 -> g 0.6); members produce 50 + 50 t (rows summed).
    # WTA = 0.6*70 / (100 + 100) = 42 / 200 = 0.21; Score = 0.5 * 0.21 = 0.105
    imports = _imports(
        [("EU", "FRA", 30.0, 1.0, -2.5, True), ("EU", "CHN", 70.0, 1.0, -0.5, False)],
        with_internal=True,
    )
    production = _production([("EU", 50.0), ("EU", 50.0)])
    row = _score(imports, production, internal="internal")["EU"]
    assert row["production_t"] == pytest.approx(100.0)
    assert row["weighted_imports_t"] == pytest.approx(42.0)
    assert row["geopolrisk_score"] == pytest.approx(0.105)


def test_missing_hhi_gives_null_score_not_zero():
    imports = _imports([("DEU", "COD", 60.0, 1.0, -1.5)])
    hhi = _hhi().with_columns(pl.lit("nickel").alias("commodity"))
    row = _score(imports, _production([]), hhi=hhi)["DEU"]
    assert row["hhi"] is None
    assert row["geopolrisk_score"] is None


def test_without_values_there_is_no_price_or_cf():
    imports = _imports([("DEU", "COD", 60.0, 1.0, -1.5)])
    out = geopolrisk_score(imports, _production([]), _hhi(), value_usd=None).collect()
    assert "price_usd_per_kg" not in out.columns
    assert "geopolrisk_cf_cu_eq" not in out.columns
    assert out["geopolrisk_score"][0] == pytest.approx(0.5 * 0.8)


# --- property --------------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=1e6),  # quantity_t
            st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),  # g
        ),
        max_size=20,
    ),
    st.floats(min_value=0.0, max_value=1e6),  # domestic production
    st.floats(min_value=0.0, max_value=1.0),  # HHI
)
def test_score_between_zero_and_one(flows, production, hhi):
    imports = pl.DataFrame(
        {
            "importer_iso3": ["DEU"] * len(flows),
            "year": [KEYS["year"]] * len(flows),
            "commodity": [KEYS["commodity"]] * len(flows),
            "import_quantity_t": [f[0] for f in flows],
            "g": [f[1] for f in flows],
        },
        schema={
            "importer_iso3": pl.String,
            "year": pl.Int32,
            "commodity": pl.String,
            "import_quantity_t": pl.Float64,
            "g": pl.Float64,
        },
    )
    out = geopolrisk_score(
        imports, _production([("DEU", production)]), _hhi(hhi), g="g", value_usd=None
    ).collect()
    score = out["geopolrisk_score"][0]
    assert -1e-12 <= score <= 1.0 + 1e-12
    assert out["import_risk"][0] <= 1.0 + 1e-12
