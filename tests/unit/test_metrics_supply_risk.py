"""EU CRM supply risk (JRC 2017): formula-level tests with hand-computed values.

Reference formula (CritMAT ``critmat/calculations/supply_risk_eu.py`` line 37, HHIs on the
0-10 000 scale, IR and EoL in percent):

    SR = (HHI_GS/10000 * IR/100/2 + HHI_EU/10000 * (1 - IR/100/2)) * (1 - EoL/100) * SI_SR

    HHI_WGI,t = sum_c (share_pct_c)^2 * 2 * (2.5 - WGI_mean_c) * t_c     (hhi_wgi_tp.py l.68)
"""

from __future__ import annotations

import csv

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.metrics.supply_risk import (
    bottleneck,
    eu_supply_risk,
    hhi_wgi_t,
    import_reliance,
    wgi_scaled_0_10,
)
from resilience.paths import datasets_dir

PARAMETERS_CSV = datasets_dir() / "sources" / "eu_crm_2023_parameters.csv"


def _scaled(means: list[float | None]) -> list[float | None]:
    frame = pl.DataFrame({"m": means}, schema={"m": pl.Float64})
    return frame.select(wgi_scaled_0_10(pl.col("m")))["wgi_scaled_0_10"].to_list()


def _hhi(rows: list[tuple[str, float, float, float | None]], **kwargs) -> pl.DataFrame:
    """rows = (scope, share, wgi_mean, t)."""
    frame = pl.DataFrame(
        {
            "scope": [r[0] for r in rows],
            "share": [r[1] for r in rows],
            "wgi_mean": [r[2] for r in rows],
            "trade_parameter": [r[3] for r in rows],
        },
        schema={
            "scope": pl.String,
            "share": pl.Float64,
            "wgi_mean": pl.Float64,
            "trade_parameter": pl.Float64,
        },
    ).with_columns(wgi_scaled_0_10(pl.col("wgi_mean")))
    return hhi_wgi_t(frame, ["scope"], **kwargs).collect()


# --- WGI rescaling ---------------------------------------------------------------------


def test_wgi_scaled_endpoints_midpoint_and_no_clipping():
    # 2 * (2.5 - m): -2.5 -> 10 (worst), 2.5 -> 0 (best), 0 -> 5, 1.0 -> 3.0;
    # -3.0 -> 11 and 3.0 -> -1: CritMAT does not clip, neither do we.
    assert _scaled([-2.5, 2.5, 0.0, 1.0, -3.0, 3.0, None]) == pytest.approx(
        [10.0, 0.0, 5.0, 3.0, 11.0, -1.0, None]
    )


# --- HHI_WGI,t -------------------------------------------------------------------------


def test_monopoly_at_worst_governance_gives_ten():
    # one supplier at 100 % (100^2 = 10 000), WGI mean -2.5 -> scaled 10, t = 1:
    # 10 000 * 10 * 1 / 10 000 = 10
    out = _hhi([("GS", 1.0, -2.5, 1.0)])
    assert out["hhi_wgi_t"][0] == pytest.approx(10.0)
    assert out["n_countries"][0] == 1


def test_hhi_wgi_t_worked_example_percent_scale():
    # CHN 60 %, mean -0.5 -> scaled 6.0, t 1.1: 3600 * 6.0 * 1.1 = 23 760
    # AUS 30 %, mean  1.5 -> scaled 2.0, t 1.0:  900 * 2.0 * 1.0 =  1 800
    # CHL 10 %, mean  1.0 -> scaled 3.0, t 1.0:  100 * 3.0 * 1.0 =    300
    # sum 25 860 / 10 000 = 2.586
    out = _hhi([("GS", 0.6, -0.5, 1.1), ("GS", 0.3, 1.5, 1.0), ("GS", 0.1, 1.0, 1.0)])
    assert out["hhi_wgi_t"][0] == pytest.approx(2.586)


def test_trade_parameter_none_means_one():
    frame = pl.DataFrame({"scope": ["GS", "GS"], "share": [0.5, 0.5], "w": [6.0, 2.0]})
    # 0.25 * 6 + 0.25 * 2 = 2.0
    out = hhi_wgi_t(frame, ["scope"], wgi_scaled="w", trade_parameter=None).collect()
    assert out["hhi_wgi_t"][0] == pytest.approx(2.0)


def test_missing_wgi_propagates_by_default_and_zero_matches_critmat():
    rows = [("GS", 0.5, 0.5, 1.0), ("GS", 0.5, None, 1.0)]
    out = _hhi(rows)
    assert out["hhi_wgi_t"][0] is None
    assert out["n_missing"][0] == 1
    # CritMAT's pandas sum skips the NaN row: 0.25 * 2 * (2.5 - 0.5) * 1 = 1.0
    assert _hhi(rows, missing="zero")["hhi_wgi_t"][0] == pytest.approx(1.0)


def test_missing_option_is_checked():
    with pytest.raises(ValueError, match="missing"):
        _hhi([("GS", 1.0, 0.0, 1.0)], missing="skip")


# --- import reliance -------------------------------------------------------------------


def _ir(p: float | None, m: float | None, x: float | None) -> float | None:
    frame = pl.DataFrame({"p": [p], "m": [m], "x": [x]}, schema=dict.fromkeys("pmx", pl.Float64))
    return frame.select(import_reliance(pl.col("p"), pl.col("m"), pl.col("x")))["import_reliance"][
        0
    ]


def test_import_reliance_definition():
    # (M - X) / (P + M - X) = (100 - 20) / (20 + 100 - 20) = 80 / 100
    assert _ir(20.0, 100.0, 20.0) == pytest.approx(0.8)
    # no domestic production, net importer -> 1
    assert _ir(0.0, 10.0, 0.0) == pytest.approx(1.0)


def test_net_exporter_has_zero_import_reliance():
    # M - X = 10 - 30 = -20 < 0: the raw ratio -20 / 30 would be negative; IR = 0
    assert _ir(50.0, 10.0, 30.0) == 0.0
    # nothing produced or traded: 0 / 0 must not become NaN
    assert _ir(0.0, 0.0, 0.0) == 0.0
    assert _ir(None, 10.0, 0.0) is None


# --- SR --------------------------------------------------------------------------------


def _sr(hg, hs, ir, eol, si):
    frame = pl.DataFrame(
        {"hg": [hg], "hs": [hs], "ir": [ir], "eol": [eol], "si": [si]},
        schema=dict.fromkeys(["hg", "hs", "ir", "eol", "si"], pl.Float64),
    )
    expr = eu_supply_risk(pl.col("hg"), pl.col("hs"), pl.col("ir"), pl.col("eol"), pl.col("si"))
    return frame.select(expr)["eu_supply_risk"][0]


def test_eu_supply_risk_worked_example():
    # HHI_GS = 2.586 (example above); EU sourcing FRA 50 % (mean 1.0 -> 3.0, t 0.8) and
    # CHN 50 % (6.0, t 1.1): 2500*3*0.8 + 2500*6*1.1 = 6000 + 16 500 = 22 500 -> 2.25.
    hs = _hhi([("EU", 0.5, 1.0, 0.8), ("EU", 0.5, -0.5, 1.1)])["hhi_wgi_t"][0]
    assert hs == pytest.approx(2.25)
    # IR = 0.8 -> IR/2 = 0.4: 2.586*0.4 + 2.25*0.6 = 1.0344 + 1.35 = 2.3844
    # * (1 - 0.10) * 0.9 = 2.3844 * 0.81 = 1.931364
    assert _sr(2.586, hs, 0.8, 0.10, 0.9) == pytest.approx(1.931364)


def test_critmat_percent_formula_gives_same_number():
    # supply_risk_eu.py line 37 with HHIs 25 860 / 22 500, IR 80 %, EoL 10 %, SI 0.9
    critmat = (
        (25860 / 10000 * (80 / 100 / 2) + 22500 / 10000 * (1 - 80 / 100 / 2)) * (1 - 10 / 100) * 0.9
    )
    assert _sr(2.586, 2.25, 0.8, 0.10, 0.9) == pytest.approx(critmat)


def test_net_exporter_uses_sourcing_hhi_only():
    # IR = 0 (net exporter): SR = HHI_EU * (1 - EoL) * SI = 2.0 * 0.8 * 1.0 = 1.6,
    # whatever the global HHI is
    assert _sr(9.0, 2.0, 0.0, 0.2, 1.0) == pytest.approx(1.6)
    # IR = 1 (fully import-reliant): half global, half sourcing: (9 + 2) / 2 = 5.5
    assert _sr(9.0, 2.0, 1.0, 0.0, 1.0) == pytest.approx(5.5)


def test_end_of_life_recycling_and_substitution_reduce_sr():
    base = _sr(4.0, 4.0, 0.5, 0.0, 1.0)
    assert base == pytest.approx(4.0)
    # 25 % of input from end-of-life scrap: 4 * 0.75 = 3.0
    assert _sr(4.0, 4.0, 0.5, 0.25, 1.0) == pytest.approx(3.0)
    # fully recycled: no supply risk left
    assert _sr(4.0, 4.0, 0.5, 1.0, 1.0) == pytest.approx(0.0)
    # SI_SR 0.7 (substitutes exist): 4 * 0.7 = 2.8
    assert _sr(4.0, 4.0, 0.5, 0.0, 0.7) == pytest.approx(2.8)


def test_single_basis_by_passing_the_same_hhi_twice():
    # "GS only": blend weights add to 1 -> SR = 3.0 * (1 - 0.1) * 0.9 = 2.43 for any IR
    assert _sr(3.0, 3.0, 0.37, 0.1, 0.9) == pytest.approx(2.43)


def test_null_input_gives_null_not_a_fallback():
    assert _sr(3.0, None, 0.5, 0.1, 0.9) is None


# --- bottleneck ------------------------------------------------------------------------


def test_bottleneck_picks_the_larger_stage_and_keeps_it():
    frame = pl.DataFrame(
        {
            "commodity": ["al", "al", "ni", "ni", "cu", "cu", "ga"],
            "stage": [
                "extraction",
                "processing",
                "extraction",
                "processing",
                "processing",
                "extraction",
                "processing",
            ],
            "eu_supply_risk": [1.2, 0.5, 0.4, 0.5, 0.1, 0.1, 3.9],
        }
    )
    out = bottleneck(frame, ["commodity"]).collect().sort("commodity")
    assert out.rows() == [
        ("al", "extraction", 1.2, 2),
        ("cu", "extraction", 0.1, 2),  # tie -> extraction, as published for copper
        ("ga", "processing", 3.9, 1),
        ("ni", "processing", 0.5, 2),
    ]


def test_bottleneck_with_an_unknown_stage_is_unknown():
    frame = pl.DataFrame(
        {"commodity": ["pr", "pr"], "stage": ["extraction", "processing"], "sr": [1.8, None]},
        schema={"commodity": pl.String, "stage": pl.String, "sr": pl.Float64},
    )
    out = bottleneck(frame, ["commodity"], sr_column="sr").collect()
    assert out["sr"][0] is None
    assert out["stage"][0] is None


# --- the published 2023 parameters -----------------------------------------------------


def _parameters() -> pl.DataFrame:
    return pl.read_csv(PARAMETERS_CSV)


def _quoted(row: dict) -> dict:
    """The CritMAT seed row quoted in the CSV, parsed with its header."""
    header = [
        "material_name",
        "supply_risk",
        "economic_importance",
        "eu_used_stage",
        "eu_stages",
        "eu_used_supply_primary",
        "supply_risk_primary",
        "eu_used_supply_refined",
        "supply_risk_refined",
        "si_ei",
        "si_sr",
        "import_reliance_primary",
        "import_reliance_refined",
        "end_of_life",
        "source_name",
        "publish_year",
        "date_year",
    ]
    return dict(zip(header, next(csv.reader([row["quote"]])), strict=True))


def test_parameters_file_rows_match_their_quotes():
    frame = _parameters()
    assert frame.columns == [
        "material",
        "stage",
        "si_sr",
        "eol_rir",
        "sr_published",
        "source",
        "url",
        "quote",
    ]
    assert frame.select("material", "stage").is_unique().all()
    for row in frame.iter_rows(named=True):
        q = _quoted(row)
        assert q["material_name"] == row["material"]
        sr_col = "supply_risk_primary" if row["stage"] == "extraction" else "supply_risk_refined"
        assert float(q[sr_col]) == pytest.approx(row["sr_published"])
        assert float(q["si_sr"]) == pytest.approx(row["si_sr"])
        assert float(q["end_of_life"]) / 100 == pytest.approx(row["eol_rir"])  # percent -> frac
        assert 0.0 <= row["eol_rir"] <= 1.0
        assert 0.0 < row["si_sr"] <= 1.0


def test_spot_values_of_the_parameters_file():
    frame = _parameters()

    def get(material: str, stage: str) -> tuple[float, float, float]:
        row = frame.filter((pl.col("material") == material) & (pl.col("stage") == stage))
        return row.select("si_sr", "eol_rir", "sr_published").row(0)

    assert get("Gallium", "processing") == pytest.approx((0.98, 0.0, 3.9))
    assert get("Aluminium", "extraction") == pytest.approx((0.86, 0.32, 1.2))
    assert get("Aluminium", "processing") == pytest.approx((0.86, 0.32, 0.5))
    assert get("Lead", "extraction") == pytest.approx((0.99, 0.83, 0.1))


def test_bottleneck_reproduces_published_overall_sr_and_stage():
    # The report gives each stage's SR and the material's SR with its stage; the material
    # SR must be the larger stage (copper: 0.1 / 0.1 reported as extraction).
    frame = _parameters()
    both = frame.filter(pl.len().over("material") == 2)
    assert both["material"].n_unique() >= 30
    out = bottleneck(both, ["material"], sr_column="sr_published").collect()
    published = {
        row["material"]: (_quoted(row)["eu_used_stage"].lower(), float(_quoted(row)["supply_risk"]))
        for row in both.iter_rows(named=True)
    }
    for material, stage, sr, _ in out.iter_rows():
        assert (stage, sr) == (published[material][0], pytest.approx(published[material][1]))


# --- properties ------------------------------------------------------------------------

_countries = st.lists(
    st.tuples(
        st.floats(min_value=0.001, max_value=1.0),  # relative weight -> share
        st.floats(min_value=-2.5, max_value=2.5),  # WGI mean
        st.floats(min_value=0.0, max_value=1.0),  # trade parameter
    ),
    min_size=1,
    max_size=25,
)


@given(_countries)
def test_hhi_wgi_t_between_zero_and_ten(countries):
    total = sum(c[0] for c in countries)
    rows = [("GS", w / total, m, t) for w, m, t in countries]
    value = _hhi(rows)["hhi_wgi_t"][0]
    assert -1e-9 <= value <= 10.0 + 1e-9


_unit = st.floats(min_value=0.0, max_value=1.0)


@given(
    st.floats(min_value=0.0, max_value=10.0),
    st.floats(min_value=0.0, max_value=10.0),
    _unit,
    _unit,
    _unit,
    st.floats(min_value=0.01, max_value=1.0),
)
def test_sr_is_monotone_in_ir_when_global_is_riskier(h1, h2, ir1, ir2, eol, si):
    hg, hs = max(h1, h2), min(h1, h2)
    lo, hi = min(ir1, ir2), max(ir1, ir2)
    assert _sr(hg, hs, lo, eol, si) <= _sr(hg, hs, hi, eol, si) + 1e-12
