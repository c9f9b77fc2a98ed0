"""The metrics table's dataframely schema covers bloc rows (blocs as importers)."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from resilience.build.pipeline import dependency_and_metrics, load_inputs
from resilience.errors import DataError
from resilience.report.schemas import TABLES, conform
from resilience.schemas.tables import MetricsTable
from resilience.schemas.validate import validate_frame

GOODS = ["cobalt", "rare_earths"]


@pytest.fixture(scope="module")
def metrics() -> pl.DataFrame:
    """2023 metrics of the EU27 and Germany for cobalt and rare earths (every flow kept)."""
    inputs = load_inputs(years=[2023], blocs=["EU27"])
    inputs = dataclasses.replace(
        inputs,
        bilateral=inputs.bilateral.filter(pl.col("commodity").is_in(GOODS)),
        commodities=inputs.commodities.filter(pl.col("commodity").is_in(GOODS)),
        importers=["EU27", "DEU"],
    )
    _, table = dependency_and_metrics(inputs)
    return table.filter(pl.col("importer_iso3").is_in(["EU27", "DEU"])).collect()


def test_a_bloc_metrics_table_validates(metrics: pl.DataFrame) -> None:
    bloc = metrics.filter(pl.col("importer_is_bloc"))
    assert set(bloc["importer_iso3"]) == {"EU27"}
    assert bloc.height >= 3  # cobalt mining and refining, rare-earth refining at least
    checked = validate_frame(MetricsTable, metrics, file="metrics")
    assert checked.height == metrics.height
    # the bloc columns are filled where the method defines them
    eu = bloc.filter((pl.col("commodity") == "cobalt") & (pl.col("basis") == "bilateral"))
    assert eu["geopolrisk_cf_cu_eq"].drop_nulls().len() > 0
    assert eu["geopolrisk_price_usd_per_kg"].drop_nulls().min() > 0
    assert set(eu["eu_sourcing_basis"]) <= {
        "members' production + extra-bloc imports (t)",
        "extra-bloc imports (value shares)",
    }


def test_the_report_keeps_and_checks_the_bloc_columns(metrics: pl.DataFrame) -> None:
    spec = TABLES["metrics"]
    assert spec.version == 3
    out = conform(metrics.with_columns(pl.lit(True).alias("is_material")), spec)
    for column in ("importer_is_bloc", "geopolrisk_cf_cu_eq", "eu_supply_risk_material"):
        assert column in out.columns
    assert out.filter(pl.col("importer_is_bloc")).height == metrics["importer_is_bloc"].sum()


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("import_reliance", 1.7, "max"),
        ("geopolrisk_cf_cu_eq", -3.5, "min"),
        ("importer_is_bloc", None, "nullability"),
        ("eu_bottleneck_stage", "smelting", "regex"),
    ],
)
def test_a_malformed_bloc_row_names_column_and_value(
    metrics: pl.DataFrame, column: str, value: object, reason: str
) -> None:
    dtype = metrics.schema[column]
    first_bloc = pl.int_range(pl.len()) == pl.col("importer_is_bloc").arg_true().first()
    bad = metrics.with_columns(
        pl.when(first_bloc).then(pl.lit(value, dtype)).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(DataError) as info:
        validate_frame(MetricsTable, bad, file="metrics")
    message = str(info.value)
    assert column in message, message
    if value is not None:
        assert str(value) in message, message
    with pytest.raises(DataError):
        conform(bad.with_columns(pl.lit(True).alias("is_material")), TABLES["metrics"])


def test_a_country_row_with_a_bloc_id_is_refused(metrics: pl.DataFrame) -> None:
    bad = metrics.with_columns(
        pl.when(pl.col("importer_is_bloc"))
        .then(pl.lit(False))
        .otherwise(pl.col("importer_is_bloc"))
        .alias("importer_is_bloc")
    )
    with pytest.raises(DataError) as info:
        validate_frame(MetricsTable, bad, file="metrics")
    assert "country_importer_is_iso3" in str(info.value)


@pytest.mark.slow
def test_risk_rows_for_the_eu_are_metrics_rows() -> None:
    """``resilience risk --importer EU`` carries every metrics column, valid for a bloc."""
    from resilience.risk import RiskQuery, risk_table

    rows = risk_table(
        RiskQuery(importer="EU", bloc="G7", adversary="CHN", year=2023, commodities=GOODS)
    )
    assert set(rows["importer_iso3"]) == {"EU"}
    assert rows["importer_is_bloc"].all()
    checked = validate_frame(MetricsTable, rows, file="risk EU")
    assert checked.height == rows.height >= 4
