"""Eurostat nrg_ti_gas adapter and the gas-by-origin table: rows of the real extract."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.build.monthly import build_eu_gas_imports_by_origin, load_gas_heat_content
from resilience.errors import DataError
from resilience.ingest.eurostat import read_nrg_ti_gas

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "eurostat"
    / "nrg_ti_gas_ru_total_2019_2020_tidy.csv"
)
GOOD = "Czechia,Russia,Natural gas,Terajoule (gross calorific value - GCV),2020,291223.427,"


def _write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / FIXTURE.name
    path.write_text(FIXTURE.read_text().splitlines()[0] + "\n" + "".join(r + "\n" for r in rows))
    return path


def test_reads_countries_drops_aggregates_keeps_not_available() -> None:
    frame = read_nrg_ti_gas(FIXTURE)
    # 15 data rows: 4 EU27 + 1 EU28 aggregates dropped
    assert frame.height == 10
    assert set(frame["importer_iso3"]) == {"CZE", "DEU", "EST"}
    assert set(frame["exporter_iso3"]) == {"RUS", "WLD"}
    deu = frame.filter(
        (pl.col("importer_iso3") == "DEU")
        & (pl.col("exporter_iso3") == "RUS")
        & (pl.col("year") == 2020)
    ).row(0, named=True)
    assert deu["value_tj_gcv"] == pytest.approx(2045449.486)
    assert deu["siec_code"] == "G3000"
    assert frame.filter(pl.col("siec_code") == "G3200")["product"].unique().to_list() == ["lng"]


def test_table_converts_tj_gcv_to_the_commodity_unit() -> None:
    table = build_eu_gas_imports_by_origin(
        read_nrg_ti_gas(FIXTURE),
        load_gas_heat_content(),
        commodity_unit="million m3",
        source="s",
        vintage="v",
    )
    deu = table.filter(
        (pl.col("importer_iso3") == "DEU")
        & (pl.col("exporter_iso3") == "RUS")
        & (pl.col("year") == 2020)
    ).row(0, named=True)
    # bp's 36 PJ per bcm: 2,045,449 TJ = 56,818 million m3
    assert deu["quantity"] == pytest.approx(2045449.486 / 36.0)
    assert deu["unit"] == "million m3"
    with pytest.raises(DataError, match="no conversion"):
        build_eu_gas_imports_by_origin(
            read_nrg_ti_gas(FIXTURE),
            load_gas_heat_content(),
            commodity_unit="t",
            source="s",
            vintage="v",
        )


@pytest.mark.parametrize(
    ("row", "column", "value", "reason"),
    [
        (
            GOOD.replace("Czechia", "Czechoslovakia Nova"),
            "reporter",
            "Czechoslovakia Nova",
            "unknown",
        ),
        (GOOD.replace("Russia", "Ruritania"), "partner", "Ruritania", "unknown"),
        (GOOD.replace("291223.427", "-4.0"), "value", "-4.0", "negative"),
        (GOOD.replace("291223.427", "n/a"), "value", "n/a", "not a number"),
        (GOOD.replace("291223.427,", ","), "value", "None", "without the ':'"),
        (GOOD.replace("Natural gas", "Biogas"), "siec", "Biogas", "unknown product"),
        (GOOD.replace("(gross calorific value - GCV)", "(net)"), "unit", "Terajoule (net)", "unit"),
        (GOOD.replace("2020", "2021"), "year", "2021", "file name"),
        (GOOD.replace("2020", "20x0"), "year", "20x0", "whole number"),
    ],
)
def test_bad_rows_name_file_row_column_value(
    tmp_path: Path, row: str, column: str, value: str, reason: str
) -> None:
    path = _write(tmp_path, GOOD.replace("2020", "2019"), row)
    with pytest.raises(DataError) as info:
        read_nrg_ti_gas(path)
    text = str(info.value)
    assert path.name in text
    assert "row 3" in text
    assert repr(column) in text
    assert value in text
    assert reason in text


def test_shipped_table_germany_from_russia_2020() -> None:
    """The shipped table against the file: DE imports from RU 2020 = 2,045,449.486 TJ GCV."""
    from resilience.data import load_eu_gas_imports_by_origin

    table = load_eu_gas_imports_by_origin()
    assert table["year"].min() == 2011
    assert table["year"].max() == 2020
    row = table.filter(
        (pl.col("importer_iso3") == "DEU")
        & (pl.col("exporter_iso3") == "RUS")
        & (pl.col("product") == "natural_gas")
        & (pl.col("year") == 2020)
    ).row(0, named=True)
    assert row["quantity_tj_gcv"] == pytest.approx(2045449.486, rel=0.02)
    assert row["quantity"] == pytest.approx(2045449.486 / 36.0, rel=0.02)
    assert row["source"] == "Eurostat (nrg_ti_gas)"


def _trade(rows: list[tuple[str, str, float, float | None]]) -> pl.DataFrame:
    """Trade rows (importer, exporter, value, tonnes) for natural gas in 2020."""
    return pl.DataFrame(
        [
            (2020, imp, "natural_gas", "mining", exp, "BACI", "V1", v, q, 1, 0, 0.0)
            for imp, exp, v, q in rows
        ]
        + [(2020, "CZE", "cobalt", "refining", "DEU", "BACI", "V1", 5.0, 1.0, 1, 0, 0.0)],
        schema={
            "year": pl.Int32,
            "importer_iso3": pl.String,
            "commodity": pl.String,
            "stage": pl.String,
            "exporter_iso3": pl.String,
            "source": pl.String,
            "vintage": pl.String,
            "value_usd": pl.Float64,
            "quantity_t": pl.Float64,
            "n_flows": pl.Int64,
            "n_flows_missing_quantity": pl.Int64,
            "value_usd_missing_quantity": pl.Float64,
        },
        orient="row",
    )


def _origin() -> pl.DataFrame:
    return build_eu_gas_imports_by_origin(
        read_nrg_ti_gas(FIXTURE),
        load_gas_heat_content(),
        commodity_unit="million m3",
        source="s",
        vintage="2022-03-23",
    )


def test_gas_origin_replaces_transit_partners() -> None:
    from resilience.build.gas_origin import gas_origin_trade

    trade = _trade(
        [
            ("DEU", "NOR", 600.0, 30.0),
            ("DEU", "NLD", 200.0, 20.0),
            ("CZE", "DEU", 100.0, 10.0),  # transit: Eurostat puts all of CZ on Russia
            ("CZE", "RUS", 300.0, 30.0),
            ("FRA", "NOR", 50.0, 5.0),  # not in the fixture: unchanged
        ]
    )
    out = gas_origin_trade(trade, _origin())
    gas = out.filter(pl.col("commodity") == "natural_gas")
    deu = {r["exporter_iso3"]: r for r in gas.filter(pl.col("importer_iso3") == "DEU").to_dicts()}
    s_rus = 2045449.486 / 3092272.826  # the file's 2020 Russia / total
    assert deu["RUS"]["value_usd"] == pytest.approx(800.0 * s_rus)
    assert deu["RUS"]["quantity_t"] == pytest.approx(50.0 * s_rus)
    assert deu["NOR"]["value_usd"] == pytest.approx(800.0 * (1 - s_rus) * 0.75)
    assert deu["NLD"]["quantity_t"] == pytest.approx(50.0 * (1 - s_rus) * 20.0 / 50.0)
    assert deu["RUS"]["source"].startswith("Eurostat (nrg_ti_gas)")
    assert deu["RUS"]["vintage"] == "2022-03-23; V1"
    # Czechia 2020: Russia = total in the file, so Germany (transit) drops out
    cze = gas.filter(pl.col("importer_iso3") == "CZE")
    assert cze["exporter_iso3"].to_list() == ["RUS"]
    assert cze["value_usd"][0] == pytest.approx(400.0)
    fra = gas.filter(pl.col("importer_iso3") == "FRA").row(0, named=True)
    assert (fra["value_usd"], fra["source"]) == (50.0, "BACI")
    # other commodities untouched
    cobalt = out.filter(pl.col("commodity") == "cobalt")
    assert cobalt.equals(trade.filter(pl.col("commodity") == "cobalt"))


def test_risk_germany_gas_2020_russia_share_from_eurostat() -> None:
    """Shipped data: Germany's 2020 gas from Russia within 2 % of the file (BACI has none)."""
    from resilience.risk import RiskQuery, risk_table

    table = risk_table(
        RiskQuery(importer="DEU", bloc="G7+EU", year=2020, commodities=["natural_gas"])
    )
    row = table.row(0, named=True)
    assert row["top_supplier_iso3"] == "RUS"
    assert row["top1_share"] == pytest.approx(2045449.486 / 3092272.826, rel=0.02)
    assert row["source"].startswith("Eurostat (nrg_ti_gas)")
