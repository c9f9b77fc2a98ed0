"""Trade screening, hub tracing and materiality: one fixture per repair class."""

from __future__ import annotations

import math

import polars as pl
import pytest

from resilience.build.hubs import trace_hubs
from resilience.build.materiality import MATERIAL_MIN_VALUE_USD, row_is_material
from resilience.build.screening import (
    K_MAD,
    REPAIRS_SCHEMA,
    mirror_fill,
    no_production_exporters,
    screen_flows,
    unit_value_bands,
)
from resilience.errors import DataError


def _market(n: int = 45, year: int = 2021, hs6: str = "250410") -> pl.DataFrame:
    """``n`` ordinary flows of one HS6-year at unit values spread around USD 1 000/t."""
    uv = [1000.0 * math.exp(0.2 * ((i % 9) - 4)) for i in range(n)]  # 0.45x .. 2.2x
    return pl.DataFrame(
        {
            "year": [year] * n,
            "exporter_iso3": [f"X{i:02d}" for i in range(n)],
            "importer_iso3": ["DEU"] * n,
            "hs6_code": [hs6] * n,
            "value_usd": [1e6] * n,
            "quantity_t": [1e6 / u for u in uv],
        },
        schema_overrides={"year": pl.Int32},
    )


def _flow(exporter: str, value: float, quantity: float | None, year: int = 2021) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [year],
            "exporter_iso3": [exporter],
            "importer_iso3": ["DEU"],
            "hs6_code": ["250410"],
            "value_usd": [value],
            "quantity_t": [quantity],
        },
        schema={
            "year": pl.Int32,
            "exporter_iso3": pl.String,
            "importer_iso3": pl.String,
            "hs6_code": pl.String,
            "value_usd": pl.Float64,
            "quantity_t": pl.Float64,
        },
    )


def test_band_is_median_and_scaled_mad_of_log_unit_values() -> None:
    bands = unit_value_bands(_market())
    row = bands.row(0, named=True)
    assert row["band_basis"] == "hs6_year"
    assert row["n_band_flows"] == 45
    assert math.exp(row["log_median"]) == pytest.approx(1000.0, rel=1e-9)
    # offsets 0.2 * (-4..4), five times: median |offset| 0.4, x 1.4826
    assert row["log_mad"] == pytest.approx(0.4 * 1.4826, rel=1e-6)


def test_low_unit_value_outlier_has_its_quantity_rederived() -> None:
    # USD 16 m for 170 kt: USD 94/t, 10.6x below the median, outside +/- 3 x 0.593.
    flows = pl.concat([_market(), _flow("USA", 16e6, 170_000.0)])
    result = screen_flows(flows)
    assert result.repairs.height == 1
    rep = result.repairs.row(0, named=True)
    assert rep["action"] == "quantity_rederived"
    assert rep["exporter_iso3"] == "USA"
    assert rep["quantity_t_original"] == 170_000.0
    assert rep["quantity_t_repaired"] == pytest.approx(16_000.0, rel=1e-6)
    assert rep["band_median_usd_per_t"] == pytest.approx(1000.0)
    assert rep["band_low_usd_per_t"] == pytest.approx(1000.0 * math.exp(-K_MAD * 0.4 * 1.4826))
    assert "below" in rep["reason"]
    usa = result.flows.filter(pl.col("exporter_iso3") == "USA")
    assert usa["quantity_t"].item() == pytest.approx(16_000.0)
    assert usa["value_usd"].item() == 16e6  # the value stands
    assert result.flows.height == flows.height
    assert result.repairs.schema == REPAIRS_SCHEMA


def test_unit_value_more_than_100x_above_is_quarantined() -> None:
    flows = pl.concat([_market(), _flow("COL", 5e6, 0.01)])  # USD 500 m/t
    result = screen_flows(flows)
    rep = result.repairs.row(0, named=True)
    assert rep["action"] == "quarantined"
    assert rep["quantity_t_repaired"] is None
    assert "COL" not in result.flows["exporter_iso3"].to_list()
    assert result.flows.height == flows.height - 1


def test_moderate_high_outlier_is_rederived_not_quarantined() -> None:
    flows = pl.concat([_market(), _flow("JPN", 1e6, 1e6 / 30_000.0)])  # 30x above
    rep = screen_flows(flows).repairs.row(0, named=True)
    assert rep["action"] == "quantity_rederived"
    assert rep["quantity_t_repaired"] == pytest.approx(1000.0)


def test_flows_inside_the_band_and_without_quantity_are_untouched() -> None:
    flows = pl.concat([_market(), _flow("BRA", 2e6, None)])
    result = screen_flows(flows)
    assert result.repairs.height == 0
    assert result.flows.equals(flows)


def test_mass_balance_tightens_the_band_for_a_non_producer() -> None:
    # 5x below the median: inside k=3 (band low 0.17x), outside k=2 (0.31x).
    odd = _flow("USA", 1e6, 5000.0)
    flows = pl.concat([_market(), odd])
    assert screen_flows(flows).repairs.height == 0
    hs_map = pl.DataFrame({"hs6_code": ["250410"], "commodity": ["graphite"], "stage": ["mining"]})
    production = pl.DataFrame(
        {
            "year": [2021, 2021],
            "commodity": ["graphite", "graphite"],
            "stage": ["mining", "mining"],
            "country_iso3": ["CHN", "USA"],
            "quantity": [800_000.0, 0.0],
        }
    )
    mass = no_production_exporters(flows, production, hs_map)
    # the X.. exporters have no production row either: all fail the mass balance
    assert "USA" in mass["exporter_iso3"].to_list()
    result = screen_flows(flows, mass_balance=mass)
    assert result.repairs["exporter_iso3"].to_list() == ["USA"]
    assert result.repairs["k_mad"].item() == 2.0


def test_negative_value_is_an_error_naming_row_and_column() -> None:
    flows = pl.concat([_market(3), _flow("USA", -5.0, 1.0)])
    with pytest.raises(DataError) as err:
        screen_flows(flows, name="flows.csv")
    assert "flows.csv" in str(err.value)
    assert "row 4" in str(err.value)


def test_mirror_fill_fills_only_missing_quantities_and_lists_them() -> None:
    flows = pl.concat([_flow("BRA", 2e6, None), _flow("CHN", 1e6, 500.0)])
    mirror = pl.concat([_flow("BRA", 2.1e6, 2000.0), _flow("CHN", 1e6, 999.0)]).select(
        "year", "exporter_iso3", "importer_iso3", "hs6_code", "quantity_t"
    )
    out, repairs = mirror_fill(flows, mirror, mirror_source="UN Comtrade (partner)")
    assert out["quantity_t"].to_list() == [2000.0, 500.0]
    assert repairs.height == 1
    rep = repairs.row(0, named=True)
    assert (rep["exporter_iso3"], rep["action"]) == ("BRA", "mirror_filled")
    assert rep["quantity_t_original"] is None
    assert rep["quantity_t_repaired"] == 2000.0
    assert repairs.schema == REPAIRS_SCHEMA
    with pytest.raises(DataError, match="duplicate flow"):
        mirror_fill(flows, pl.concat([mirror, mirror]), mirror_source="m")


def _bilateral(rows: list[tuple[str, str, float, float]]) -> pl.LazyFrame:
    frame = pl.DataFrame(
        rows,
        schema=["importer_iso3", "supplier_iso3", "import_value_usd", "import_quantity_t"],
        orient="row",
    ).with_columns(
        pl.lit(2022, pl.Int32).alias("year"),
        pl.lit("niobium").alias("commodity"),
        pl.lit("mining").alias("stage"),
    )
    return frame.lazy().with_columns(
        (pl.col("import_value_usd") / pl.col("import_value_usd").sum().over("importer_iso3")).alias(
            "import_share"
        )
    )


def _world(producers: dict[str, float]) -> pl.LazyFrame:
    return pl.DataFrame(
        {
            "year": [2022] * len(producers),
            "commodity": ["niobium"] * len(producers),
            "stage": ["mining"] * len(producers),
            "country_iso3": list(producers),
            "production_quantity": list(producers.values()),
        },
        schema_overrides={"year": pl.Int32},
    ).lazy()


def test_hub_exports_are_traced_to_the_hubs_suppliers() -> None:
    bilateral = _bilateral(
        [
            ("DEU", "NLD", 80.0, 8.0),  # the hub
            ("DEU", "CAN", 20.0, 2.0),
            ("NLD", "BRA", 90.0, 9.0),  # what the hub buys
            ("NLD", "CAN", 10.0, 1.0),
        ]
    )
    out = trace_hubs(bilateral, _world({"BRA": 60_000.0, "CAN": 7_000.0})).collect()
    deu = {r["supplier_iso3"]: r for r in out.filter(pl.col("importer_iso3") == "DEU").to_dicts()}
    assert set(deu) == {"NLD", "CAN", "BRA"}
    assert deu["BRA"]["import_value_usd"] == pytest.approx(72.0)  # 80 x 0.9
    assert deu["CAN"]["import_value_usd"] == pytest.approx(28.0)  # 20 + 80 x 0.1
    assert deu["NLD"]["import_value_usd"] == 0.0
    assert deu["NLD"]["is_hub"]
    assert deu["NLD"]["import_quantity_t"] == 8.0  # tonnes stay with the exporter of record
    assert deu["BRA"]["is_hub_traced"]
    assert deu["BRA"]["hub_traced_value_usd"] == pytest.approx(72)
    assert deu["BRA"]["import_share"] == pytest.approx(0.72)
    top = max(deu.values(), key=lambda r: r["import_share"])
    assert top["supplier_iso3"] == "BRA"
    # a producer is never a hub; the hub's own imports are untouched
    nld = out.filter(pl.col("importer_iso3") == "NLD")
    assert not nld["is_hub"].any()
    assert not nld["is_hub_traced"].any()


def test_hub_without_imports_is_left_alone() -> None:
    bilateral = _bilateral([("DEU", "NLD", 80.0, 8.0), ("DEU", "CAN", 20.0, 2.0)])
    out = trace_hubs(bilateral, _world({"BRA": 1.0, "CAN": 1.0})).collect()
    assert out.filter(pl.col("supplier_iso3") == "NLD")["import_share"].item() == 0.8
    assert not out["is_hub"].any()


def test_immaterial_flow_cannot_rank_first() -> None:
    dependency = pl.DataFrame(
        {
            "year": [2024] * 3,
            "importer_iso3": ["DEU"] * 3,
            "commodity": ["uranium", "cobalt", "cobalt"],
            "stage": ["mining", "refining", "refining"],
            "supplier_iso3": ["COL", "FIN", "COD"],
            "basis": ["bilateral"] * 3,
            "supply_share": [1.0, 0.6, 0.4],
            "import_value_usd": [4.0, 6e7, 4e7],
        }
    ).lazy()
    material = row_is_material(dependency).collect()
    flags = dict(zip(material["commodity"], material["is_material"], strict=True))
    assert flags == {"uranium": False, "cobalt": True}
    ranked = (
        pl.DataFrame({"commodity": ["uranium", "cobalt"], "hhi": [1.0, 0.52]})
        .join(material, on="commodity")
        .sort(["is_material", "hhi"], descending=True)
    )
    assert ranked["commodity"].to_list() == ["cobalt", "uranium"]
    assert MATERIAL_MIN_VALUE_USD > 4.0


def test_round_trip_through_a_hub_is_dropped_and_a_pure_one_kept() -> None:
    bilateral = _bilateral(
        [
            ("DEU", "NLD", 50.0, 5.0),
            ("DEU", "BRA", 50.0, 5.0),
            ("NLD", "DEU", 20.0, 2.0),  # a fifth of the hub's supply is German
            ("NLD", "BRA", 80.0, 8.0),
            ("USA", "BEL", 10.0, 1.0),  # BEL re-exports only what the USA sold it
            ("BEL", "USA", 10.0, 1.0),
        ]
    )
    out = trace_hubs(bilateral, _world({"BRA": 1.0})).collect()
    deu = out.filter(pl.col("importer_iso3") == "DEU")
    assert deu["import_value_usd"].sum() == pytest.approx(90.0)  # 50 + 40 traced
    assert "DEU" not in deu["supplier_iso3"].to_list()
    usa = out.filter(pl.col("importer_iso3") == "USA")
    assert usa["supplier_iso3"].to_list() == ["BEL"]
    assert usa["import_share"].item() == 1.0
    assert not usa["is_hub"].item()


def test_a_pair_paying_the_same_low_price_every_year_is_kept_not_repaired() -> None:
    years = [2019, 2020, 2021, 2022]
    flows = pl.concat(
        [_market(year=y) for y in years] + [_flow("MOZ", 1e6, 8000.0, year=y) for y in years]
    )
    result = screen_flows(flows)  # USD 125/t: 8x below the median, outside k=3 x 0.593
    moz = result.repairs.filter(pl.col("exporter_iso3") == "MOZ")
    assert moz["action"].to_list() == ["kept"] * 4
    assert moz["quantity_t_repaired"].to_list() == pytest.approx([8000.0] * 4)
    assert "3 other years" in moz["reason"][0]
    assert result.flows.filter(pl.col("exporter_iso3") == "MOZ")["quantity_t"].to_list() == (
        pytest.approx([8000.0] * 4)
    )
    # the same price in one year only is a quantity error
    once = screen_flows(pl.concat([_market(year=y) for y in years] + [_flow("MOZ", 1e6, 8000.0)]))
    assert once.repairs["action"].to_list() == ["quantity_rederived"]
