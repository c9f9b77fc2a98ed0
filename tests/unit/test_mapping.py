import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.mapping import complete_rest_of_world, map_production
from resilience.reference.commodities import load_commodities


def _source(rows):
    cols = [
        "year",
        "source_commodity",
        "source_stage",
        "country_name",
        "country_iso3",
        "quantity",
        "unit",
    ]
    frame = pl.DataFrame(rows, schema=cols, orient="row")
    return frame.with_columns(
        pl.col("year").cast(pl.Int32),
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.lit("TEST 2025").alias("source"),
        pl.lit("T2025").alias("vintage"),
        pl.int_range(2, pl.len() + 2).cast(pl.Int64).alias("source_row"),
    )


MAP = pl.DataFrame(
    {
        "source_commodity": ["Lithium (Li2O)", "Lithium (Li2O)", "Gold"],
        "source_stage": ["production", "production refinery", "production"],
        "commodity": ["lithium", None, None],
        "stage": ["mining", None, None],
        "basis_factor": [0.4645, None, None],
        "note": ["Li2O -> Li", "", "out of scope"],
    }
)


def test_map_converts_units_and_basis_and_skips_out_of_scope():
    frame = _source(
        [
            (2023, "Lithium (Li2O)", "production", "Chile", "CHL", 100.0, "kt"),
            (2023, "Gold", "production", "Chile", "CHL", 5.0, "kg"),
        ]
    )
    out = map_production(frame, MAP, load_commodities(), file="f.csv")
    assert out.height == 1
    row = out.row(0, named=True)
    assert row["commodity"] == "lithium"
    assert row["quantity"] == pytest.approx(100.0 * 1000 * 0.4645)
    assert row["conversion_factor"] == pytest.approx(464.5)
    assert (row["source_quantity"], row["source_unit"], row["unit"]) == (100.0, "kt", "t")


def test_unknown_product_is_an_error_naming_row_and_value():
    frame = _source(
        [
            (2023, "Lithium", "production", "Chile", "CHL", 1.0, "t"),
            (2023, "Unobtainium", "production", "Chile", "CHL", 1.0, "t"),
        ]
    )
    with pytest.raises(DataError) as info:
        map_production(frame, MAP, load_commodities(), file="f.csv")
    assert "f.csv, row 2, column 'commodity': unknown product" in str(info.value)
    assert "f.csv, row 3" in str(info.value)
    assert "'Unobtainium / production'" in str(info.value)


def test_unit_that_cannot_convert_is_an_error():
    frame = _source([(2023, "Lithium (Li2O)", "production", "Chile", "CHL", 1.0, "TWh")])
    with pytest.raises(
        DataError,
        match=r"f.csv, row 2, column 'unit': unit cannot be converted to 't' \(value: 'TWh'\)",
    ):
        map_production(frame, MAP, load_commodities(), file="f.csv")


def _mapped(rows):
    frame = _source([(2023, "Lithium (Li2O)", "production", n, iso, q, "t") for n, iso, q in rows])
    return map_production(frame, MAP, load_commodities(), file="f.csv")


def test_rest_of_world_derived_from_world_total():
    out = complete_rest_of_world(
        _mapped([("Chile", "CHL", 60.0), ("China", "CHN", 20.0), ("World", "WLD", 100.0)])
    )
    row = out.filter(pl.col("country_iso3") == "ROW").row(0, named=True)
    assert row["quantity"] == pytest.approx(20.0 * 0.4645)
    assert row["is_derived"] is True
    assert out.filter(pl.col("country_iso3") == "WLD").height == 1


def test_rest_of_world_given_by_source_is_kept_and_summed():
    out = complete_rest_of_world(
        _mapped(
            [
                ("Chile", "CHL", 60.0),
                ("Other countries6", "ROW", 5.0),
                ("Other countries", "ROW", 7.0),
            ]
        )
    )
    rows = out.filter(pl.col("country_iso3") == "ROW")
    assert rows.height == 1
    assert rows["quantity"][0] == pytest.approx(12.0 * 0.4645)
    assert rows["is_derived"][0] is False


def test_rest_of_world_zero_when_source_lists_every_producer():
    out = complete_rest_of_world(_mapped([("Chile", "CHL", 60.0), ("China", "CHN", 40.0)]))
    rows = out.filter(pl.col("country_iso3") == "ROW")
    assert rows["quantity"].to_list() == [0.0]
    assert rows["is_derived"].to_list() == [True]


def test_rest_of_world_floor_at_zero_when_rounding_exceeds_total():
    out = complete_rest_of_world(
        _mapped([("Chile", "CHL", 60.0), ("China", "CHN", 41.0), ("World", "WLD", 100.0)])
    )
    assert out.filter(pl.col("country_iso3") == "ROW")["quantity"].to_list() == [0.0]
