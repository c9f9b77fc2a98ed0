"""Content basis: factors table, per-HS6 conversion before aggregation, bad inputs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.build.bilateral import bilateral_shares
from resilience.build.content import check_content_map, unit_value_per_content
from resilience.errors import DataError
from resilience.ingest.baci import aggregate_baci
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.reference.content import content_map, load_content_factors

FACTORS = datasets_dir() / "content_factors.csv"


def _flows(rows: list[tuple[str, str, str, float, float | None]]) -> pl.LazyFrame:
    """HS6 flows of 2023 into JPN: (exporter, hs6, _, value_usd, quantity_t)."""
    return pl.LazyFrame(
        {
            "year": [2023] * len(rows),
            "exporter_iso3": [r[0] for r in rows],
            "importer_iso3": ["JPN"] * len(rows),
            "hs6_code": [r[1] for r in rows],
            "source": ["test"] * len(rows),
            "vintage": ["t"] * len(rows),
            "value_usd": [r[3] for r in rows],
            "quantity_t": [r[4] for r in rows],
        },
        schema_overrides={"year": pl.Int32, "quantity_t": pl.Float64},
    )


def _aggregated(rows: list[tuple[str, str, str, float, float | None]]) -> pl.DataFrame:
    return (
        aggregate_baci(_flows(rows), content_map("hs92"))
        .collect()
        .sort("commodity", "stage", "exporter_iso3")
    )


def _row(frame: pl.DataFrame, commodity: str, stage: str, exporter: str) -> dict[str, object]:
    hit = frame.filter(
        (pl.col("commodity") == commodity)
        & (pl.col("stage") == stage)
        & (pl.col("exporter_iso3") == exporter)
    )
    assert hit.height == 1
    return hit.row(0, named=True)


# -- conversion per class ---------------------------------------------------------------------
def test_ore_is_converted_to_metal_content() -> None:
    """Nickel laterite ore: 1.24 % Ni per gross tonne; gross tonnes kept beside it."""
    out = _aggregated([("PHL", "260400", "", 50_000_000.0, 1_000_000.0)])
    row = _row(out, "nickel", "mining", "PHL")
    assert row["quantity_t"] == pytest.approx(1_000_000.0)
    assert row["quantity_content"] == pytest.approx(12_400.0)
    assert row["content_unit"] == "t"
    assert row["content_basis"] == "t of Ni content"


def test_hydroxide_and_metal_are_converted_before_summing() -> None:
    """Zambia's cobalt refining exports mix hydroxide (35 % Co) and metal: convert, then sum."""
    out = _aggregated(
        [
            ("ZMB", "282200", "", 8_000_000.0, 1_000.0),
            ("ZMB", "810510", "", 4_500_000.0, 100.0),
        ]
    )
    row = _row(out, "cobalt", "refining", "ZMB")
    assert row["quantity_t"] == pytest.approx(1_100.0)
    assert row["quantity_content"] == pytest.approx(1_000.0 * 0.35 + 100.0)


def test_refiners_oxide_counts_at_co3o4_content() -> None:
    """Cobalt oxide from a refiner (Finland) is Co3O4, 73.4 % Co; DRC's is hydroxide."""
    out = _aggregated(
        [("FIN", "282200", "", 23_500_000.0, 1_000.0), ("COD", "282200", "", 10_000.0, 1.0)]
    )
    assert _row(out, "cobalt", "refining", "FIN")["quantity_content"] == pytest.approx(
        734.23, abs=0.01
    )
    assert _row(out, "cobalt", "refining", "COD")["quantity_content"] == pytest.approx(0.35)


def test_exporter_specific_factor_replaces_the_default() -> None:
    """DRC's hydroxide declared under 8105.10 counts at 35 % Co; Canada's metal at 100 %."""
    out = _aggregated(
        [
            ("COD", "810510", "", 6_200_000.0, 1_000.0),
            ("CAN", "810510", "", 45_500_000.0, 1_000.0),
        ]
    )
    assert _row(out, "cobalt", "refining", "COD")["quantity_content"] == pytest.approx(350.0)
    assert _row(out, "cobalt", "refining", "CAN")["quantity_content"] == pytest.approx(1_000.0)


def test_metal_and_oil_keep_their_tonnes() -> None:
    out = _aggregated(
        [
            ("AUS", "760110", "", 2_500_000.0, 1_000.0),
            ("SAU", "270900", "", 600_000.0, 1_000.0),
        ]
    )
    assert _row(out, "aluminium", "refining", "AUS")["quantity_content"] == pytest.approx(1_000.0)
    oil = _row(out, "crude_oil", "mining", "SAU")
    assert oil["quantity_content"] == pytest.approx(1_000.0)
    assert oil["content_unit"] == "t"


def test_gas_tonnes_become_million_cubic_metres() -> None:
    """bp: 1 bcm of natural gas = 0.73 Mt of LNG, so 730 t = 1 million m3."""
    out = _aggregated([("QAT", "271111", "", 400_000.0, 730.0), ("QAT", "271121", "", 1.0, 73.0)])
    gas = _row(out, "natural_gas", "mining", "QAT")
    assert gas["quantity_content"] == pytest.approx(1.1, rel=1e-5)
    assert gas["content_unit"] == "million m3"
    assert gas["content_basis"] == "million m3 of gas at standard conditions"


def test_missing_quantity_stays_null_and_unit_value_skips_its_value() -> None:
    frame = pl.DataFrame({"v": [10_000.0, 10_000.0], "vm": [4_000.0, None], "q": [3.0, 0.0]})
    uv = frame.select(unit_value_per_content(pl.col("v"), pl.col("vm"), pl.col("q")))
    assert uv.to_series().to_list() == [pytest.approx(2_000.0), None]
    out = _aggregated([("PHL", "260400", "", 1_000.0, None)])
    assert _row(out, "nickel", "mining", "PHL")["quantity_content"] is None


def test_baci_build_path_matches_the_refresh_path() -> None:
    rows = [
        ("COD", "282200", "", 8_000_000.0, 1_000.0),
        ("COD", "810510", "", 6_000_000.0, 1_000.0),
        ("CAN", "810510", "", 45_000_000.0, 1_000.0),
        ("PHL", "260400", "", 1_000.0, None),
    ]
    shares = bilateral_shares(_flows(rows), content_map("hs92")).collect()
    cobalt = shares.filter(pl.col("commodity") == "cobalt").sort("supplier_iso3")
    assert cobalt["import_quantity_content"].to_list() == pytest.approx([1_000.0, 700.0])
    assert cobalt["unit_value_usd_per_content_unit"].to_list() == pytest.approx(
        [45_000.0, 14_000_000.0 / 700.0]
    )
    nickel = shares.filter(pl.col("commodity") == "nickel")
    assert nickel["unit_value_usd_per_content_unit"].to_list() == [None]


# -- the table -------------------------------------------------------------------------------
def test_every_commodity_code_has_a_factor() -> None:
    factors = load_content_factors()
    commodities = load_commodities()
    for rev in ("hs92", "hs2017"):
        listed = {
            (code, c, s)
            for c, s, codes in commodities.select("commodity", "stage", f"{rev}_codes").iter_rows()
            if codes
            for code in codes.split(";")
        }
        have = set(
            factors.filter(pl.col("exporter_iso3").is_null())
            .select("hs6", "commodity", "stage")
            .iter_rows()
        )
        assert listed <= have
    assert factors["content_per_gross_t"].min() > 0
    assert factors["source"].null_count() == 0
    assert factors["vintage"].null_count() == 0


def test_stoichiometric_factors() -> None:
    f = load_content_factors()

    def factor(hs6: str, commodity: str) -> float:
        hit = f.filter(
            (pl.col("hs6") == hs6)
            & (pl.col("commodity") == commodity)
            & pl.col("exporter_iso3").is_null()
        )
        return float(hit["content_per_gross_t"].item())

    assert factor("283691", "lithium") == pytest.approx(0.1878, abs=5e-4)  # Li2CO3
    assert factor("282520", "lithium") == pytest.approx(0.1654, abs=5e-4)  # LiOH.H2O
    assert factor("282530", "vanadium") == pytest.approx(0.5602, abs=5e-4)  # V2O5
    assert factor("261100", "tungsten") == pytest.approx(0.65 * 0.7930, abs=5e-4)  # 65 % WO3
    assert factor("280480", "arsenic") == pytest.approx(1.3203, abs=5e-4)  # As -> As2O3


# -- bad inputs ------------------------------------------------------------------------------
def _edited(tmp_path: Path, edit: dict[int, str | None], extra: tuple[str, ...] = ()) -> Path:
    lines = FACTORS.read_text(encoding="utf-8").splitlines()
    out = [edit.get(n, line) for n, line in enumerate(lines, start=1)]
    path = tmp_path / "content_factors.csv"
    path.write_text("\n".join([x for x in out if x is not None] + list(extra)) + "\n")
    return path


def _line_of(hs6: str, commodity: str) -> int:
    for n, line in enumerate(FACTORS.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(f"{hs6},{commodity},"):
            return n
    raise AssertionError(f"{hs6} {commodity} not in the table")


def _commodity_row(commodity: str, stage: str) -> int:
    frame = load_commodities().with_row_index("n", offset=2)
    hit = frame.filter((pl.col("commodity") == commodity) & (pl.col("stage") == stage))
    return int(hit["n"].item())


def test_missing_factor_names_the_commodity_row_and_code(tmp_path: Path) -> None:
    path = _edited(tmp_path, {_line_of("260400", "nickel"): None})
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    problems = {(p.file, p.row, p.column, p.value) for p in err.value.problems}
    row = _commodity_row("nickel", "mining")
    assert problems == {
        ("commodities.csv", row, "hs92_codes", "260400"),
        ("commodities.csv", row, "hs2017_codes", "260400"),
    }


def test_negative_factor_names_file_row_column_value(tmp_path: Path) -> None:
    n = _line_of("260400", "nickel")
    line = FACTORS.read_text(encoding="utf-8").splitlines()[n - 1]
    path = _edited(tmp_path, {n: line.replace(",t,0.0124,", ",t,-0.0124,")})
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    p = err.value.problems[0]
    assert (p.file, p.row, p.column) == ("content_factors.csv", n, "content_per_gross_t")
    assert float(str(p.value)) == -0.0124


def test_empty_factor_is_an_error(tmp_path: Path) -> None:
    n = _line_of("260400", "nickel")
    line = FACTORS.read_text(encoding="utf-8").splitlines()[n - 1]
    path = _edited(tmp_path, {n: line.replace(",t,0.0124,", ",t,,")})
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    p = err.value.problems[0]
    assert (p.file, p.row, p.column, p.value) == (
        "content_factors.csv",
        n,
        "content_per_gross_t",
        None,
    )


def test_unknown_hs_code_names_file_row_column_value(tmp_path: Path) -> None:
    lines = FACTORS.read_text(encoding="utf-8").splitlines()
    extra = "999999,nickel,mining,,t,t,0.5,,,x,2026,,,"
    path = _edited(tmp_path, {}, (extra,))
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    p = err.value.problems[0]
    assert (p.file, p.row, p.column, p.value) == (
        "content_factors.csv",
        len(lines) + 1,
        "hs6",
        "999999",
    )


def test_unit_other_than_the_commodity_unit_is_an_error(tmp_path: Path) -> None:
    n = _line_of("271111", "natural_gas")
    line = FACTORS.read_text(encoding="utf-8").splitlines()[n - 1]
    path = _edited(tmp_path, {n: line.replace(",million m3,", ",t,")})
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    p = err.value.problems[0]
    assert (p.file, p.row, p.column, p.value) == ("content_factors.csv", n, "content_unit", "t")


def test_bad_factor_in_a_map_passed_to_the_aggregation() -> None:
    bad = content_map("hs92").with_columns(
        pl.when(pl.col("hs6_code") == "260400")
        .then(-1.0)
        .otherwise(pl.col("content_per_gross_t"))
        .alias("content_per_gross_t")
    )
    with pytest.raises(DataError) as err:
        check_content_map(bad, "hs_to_commodity")
    p = err.value.problems[0]
    assert (p.file, p.column, p.value) == ("hs_to_commodity", "content_per_gross_t", -1.0)
    assert p.row is not None
    assert bad.row(p.row - 1, named=True)["hs6_code"] == "260400"


def test_factor_outside_its_own_range_is_an_error(tmp_path: Path) -> None:
    n = _line_of("260400", "nickel")
    line = FACTORS.read_text(encoding="utf-8").splitlines()[n - 1]
    path = _edited(tmp_path, {n: line.replace(",t,0.0124,0.006,", ",t,0.0124,0.02,")})
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    p = err.value.problems[0]
    assert (p.file, p.row, p.column) == ("content_factors.csv", n, "range_holds_factor")


# -- the gas heat content lives in the same table ----------------------------------------------
def test_gas_heat_content_is_the_rows_without_hs6() -> None:
    from resilience.build.monthly import load_gas_heat_content

    heat = load_gas_heat_content()
    assert heat.select("commodity", "stage", "from_unit", "to_unit").rows() == [
        ("natural_gas", "mining", "TJ", "million m3")
    ]
    assert heat["factor"].item() == pytest.approx(1 / 36)  # bp's 36 PJ per bcm
    assert heat["source_row"].item() == _line_of("", "natural_gas")
    gas = content_map("hs92").filter(pl.col("commodity") == "natural_gas")
    assert sorted(gas["hs6_code"].to_list()) == ["271111", "271121"]  # no TJ row in trade


def test_row_without_hs6_must_not_convert_gross_tonnes(tmp_path: Path) -> None:
    n = _line_of("", "natural_gas")
    line = FACTORS.read_text(encoding="utf-8").splitlines()[n - 1]
    path = _edited(tmp_path, {n: line.replace(",,TJ,million m3,", ",,t,million m3,")})
    with pytest.raises(DataError) as err:
        load_content_factors(path)
    p = err.value.problems[0]
    assert (p.file, p.row, p.column) == ("content_factors.csv", n, "hs6_iff_gross_tonnes")
