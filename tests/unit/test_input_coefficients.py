"""Cross-sector input coefficients: the shipped table, its loader and the process rows."""

from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.reference.input_coefficients import load_input_coefficients, process_table

SHIPPED = datasets_dir() / "input_coefficients.csv"


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return load_input_coefficients()


def test_every_row_is_cited_and_its_goods_exist(table):
    assert table.height >= 5
    for col in ("source", "url", "quote"):
        assert table[col].null_count() == 0
    known = set(load_commodities().select("commodity", "stage").iter_rows())
    for end in ("input", "output"):
        assert set(table.select(f"{end}_commodity", f"{end}_stage").iter_rows()) <= known


def test_coefficients_are_the_published_figures(table):
    def coef(good_in: str, good_out: str) -> dict:
        return table.filter(
            (pl.col("input_commodity") == good_in) & (pl.col("output_commodity") == good_out)
        ).row(0, named=True)

    gaas = coef("gallium", "gallium_arsenide")
    assert gaas["coefficient"] == pytest.approx(0.482)
    assert "Ga 48.20%" in gaas["quote"]
    assert coef("gallium", "gallium_nitride")["coefficient"] == pytest.approx(0.8327)
    neon = coef("neon", "semiconductors")
    assert neon["coefficient"] == pytest.approx(540 / 100)  # 540 t for the whole world
    assert "540 metric tons" in neon["quote"]
    graphite = coef("graphite", "battery_cells")
    # Adamas 2023: 631,821 t of graphite in 689.2 GWh of new EV batteries
    assert (graphite["coefficient"], graphite["unit"]) == (
        pytest.approx(631_821 / 689.2),
        "t per GWh",
    )
    pv = coef("polysilicon", "pv_wafers")
    # 2.2 g per W (2.0 in 2021) stated as t per GW: x 1e9 W per GW / 1e6 g per t
    assert (pv["low"], pv["coefficient"], pv["unit"]) == (2000.0, 2200.0, "t per GW")
    magnets = coef("magnet_rare_earths", "permanent_magnets")
    assert magnets["low"] <= magnets["coefficient"] <= magnets["high"]


def test_process_rows_convert_mass_units_and_flag_what_cannot_be_chained():
    rows = {r["good_in"] + ">" + r["good_out"]: r for r in process_table().iter_rows(named=True)}
    gaas = rows["gallium/refining>gallium_arsenide/manufacturing"]
    assert gaas["process"] == "gallium_arsenide/manufacturing"
    assert gaas["units_in_per_unit_out"] == pytest.approx(0.482)
    assert gaas["is_in_commodity_units"]
    graphite = rows["graphite/refining>battery_cells/manufacturing"]
    # t per GWh; the commodity table counts battery cells as a share of world capacity,
    # so the row is flagged here (the market core counts them in GWh: links_data)
    assert graphite["units_in_per_unit_out"] == pytest.approx(631_821 / 689.2)
    assert (graphite["unit_in"], graphite["unit_out"]) == ("t", "GWh")
    assert not graphite["is_in_commodity_units"]
    # rare-earth metal per tonne of magnet converted to REO (x Nd2O3 / 2 Nd): chains
    magnets = rows["magnet_rare_earths/refining>permanent_magnets/manufacturing"]
    assert magnets["is_in_commodity_units"]
    assert magnets["units_in_per_unit_out"] == pytest.approx(
        0.3075 * (2 * 144.242 + 3 * 15.999) / (2 * 144.242), rel=1e-5
    )


# --- bad input ---------------------------------------------------------------


def _write(tmp_path: Path, column: str, value: str, row: int = 0) -> tuple[Path, int]:
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    edited = raw.with_row_index("_i").with_columns(
        pl.when(pl.col("_i") == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    path = tmp_path / "input_coefficients.csv"
    edited.drop("_i").write_csv(path)
    return path, row + 2


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("coefficient", "0", "min_exclusive"),
        ("coefficient", "-1", "min_exclusive"),
        ("unit", "kilograms", "does not match"),
        ("input_commodity", "unobtainium", "no such commodity and stage"),
        ("output_stage", "mining", "no such commodity and stage"),
        ("url", "www.example.org", "does not match"),
    ],
)
def test_bad_values_are_named_by_file_row_column_value(tmp_path, column, value, reason):
    path, line = _write(tmp_path, column, value)
    with pytest.raises(DataError) as err:
        load_input_coefficients(path)
    problem = err.value.problems[0]
    assert problem.file == "input_coefficients.csv"
    assert problem.row == line
    assert problem.column in (column, column.replace("_stage", "_commodity"))
    assert reason in problem.reason or reason in str(err.value)


def test_a_range_that_excludes_the_coefficient_is_refused(tmp_path):
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    pv = int(raw.with_row_index("_i").filter(pl.col("output_commodity") == "pv_wafers")["_i"][0])
    path, line = _write(tmp_path, "low", "3000.0", row=pv)
    with pytest.raises(DataError) as err:
        load_input_coefficients(path)
    assert err.value.problems[0].row == line
    assert "range_holds_coefficient" in str(err.value)


def test_a_good_that_is_its_own_input_is_refused(tmp_path):
    path, line = _write(tmp_path, "output_commodity", "gallium")
    raw = pl.read_csv(path, infer_schema=False).with_columns(
        pl.when(pl.col("output_commodity") == "gallium")
        .then(pl.lit("refining"))
        .otherwise(pl.col("output_stage"))
        .alias("output_stage")
    )
    raw.write_csv(path)
    with pytest.raises(DataError, match="cannot be its own input"):
        load_input_coefficients(path)
