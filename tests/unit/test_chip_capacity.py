"""Chip segments on a capacity basis: the shipped table, its loader, and the risk table."""

from pathlib import Path

import polars as pl
import pytest

from resilience.build.dependency import build_dependency, country_attributes
from resilience.build.pipeline import load_inputs
from resilience.build.world_market import world_shares
from resilience.errors import DataError
from resilience.paths import datasets_dir
from resilience.reference.chips import (
    GROUP,
    consumption_shares,
    load_chip_capacity,
    supply_world_shares,
)
from resilience.reference.commodities import load_commodities
from resilience.risk import RiskQuery, risk_table

SHIPPED = datasets_dir() / "chip_capacity.csv"


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return load_chip_capacity()


def test_every_group_names_the_rest_of_world_and_sums_to_100(table):
    groups = table.group_by(GROUP).agg(
        pl.col("share_pct").sum().alias("total"),
        (pl.col("region") == "rest_of_world").sum().alias("n_rest"),
    )
    assert groups.height >= 25
    assert groups["n_rest"].to_list() == [1] * groups.height
    off = groups.filter((pl.col("total") - 100).abs() > 1.5)
    assert off.height == 0, off


def test_no_row_rests_on_the_non_commercial_eto_dataset(table):
    text = pl.concat_str("source", "title", "url", "quote", separator=" ").str.to_lowercase()
    assert (
        not table.select(text.str.contains("cset|eto-chip|emerging technology observatory"))
        .to_series()
        .any()
    )


def test_bases_are_the_ones_each_segment_is_published_on(table):
    bases = dict(table.group_by("segment").agg(pl.col("basis").unique().sort()).iter_rows())
    assert bases["eda_software"] == ["market_by_headquarters"]
    assert bases["chip_design"] == ["market_by_headquarters"]
    assert bases["lithography_tools"] == ["market_by_headquarters"]
    assert bases["wafer_fab_leading_edge"] == ["capacity_by_location"]
    assert bases["semiconductors"] == ["consumption_by_region"]
    bands = set(table.filter(pl.col("segment").str.starts_with("wafer_fab"))["node_band"])
    assert {"lt_10nm", "10_22nm", "28_45nm", "gt_45nm"} <= bands


def test_taiwan_below_10nm_is_the_published_sia_bcg_share():
    shares = supply_world_shares([2024]).filter(pl.col("commodity") == "wafer_fab_leading_edge")
    twn = shares.filter(pl.col("country_iso3") == "TWN").row(0, named=True)
    assert twn["world_share"] == pytest.approx(0.69)
    assert twn["production_year"] == 2022
    assert twn["production_source"] == "SIA/BCG"
    assert twn["basis"] == "capacity_by_location"
    assert "69 per cent" in twn["quote"]
    # before the 2022 figure existed, the 2019 one (92 %) is used; projections never are
    early = supply_world_shares([2020]).filter(pl.col("country_iso3") == "TWN")
    assert early["world_share"].to_list() == pytest.approx([0.92])


def test_consumption_by_region_keeps_the_rest_of_world_explicit():
    demand = consumption_shares([2024])
    assert demand["share_pct"].sum() == pytest.approx(100.0)
    assert dict(zip(demand["country_iso3"], demand["share_pct"], strict=True))["USA"] == 34.0
    assert "ROW" in demand["country_iso3"].to_list()


# --- bad input ---------------------------------------------------------------


def _write(tmp_path: Path, edit) -> Path:
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    path = tmp_path / "chip_capacity.csv"
    edit(raw).write_csv(path)
    return path


def _row_of(raw: pl.DataFrame, **match) -> int:
    """1-based file line (header = 1) of the first row matching ``match``."""
    mask = pl.lit(True)
    for k, v in match.items():
        mask = mask & (pl.col(k) == v)
    return int(raw.with_row_index("i").filter(mask)["i"][0]) + 2


def _set(raw: pl.DataFrame, column: str, value: str, **match) -> pl.DataFrame:
    mask = pl.lit(True)
    for k, v in match.items():
        mask = mask & (pl.col(k) == v)
    return raw.with_columns(
        pl.when(mask).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


LT10_TWN = {"segment": "wafer_fab_leading_edge", "region": "TWN", "year": "2022"}


def test_a_group_that_does_not_sum_to_100_names_its_first_row(tmp_path):
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    path = _write(tmp_path, lambda r: _set(r, "share_pct", "79", **LT10_TWN))
    with pytest.raises(DataError) as err:
        load_chip_capacity(path)
    problem = err.value.problems[0]
    assert problem.file == "chip_capacity.csv"
    assert problem.row == _row_of(raw, segment="wafer_fab_leading_edge", year="2022")
    assert problem.column == "share_pct"
    assert problem.value == pytest.approx(110.0)
    assert "sum to 110" in str(err.value)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("share_pct", "120", "above the allowed maximum"),
        ("share_pct", "-3", "below the allowed minimum"),
        ("basis", "by_vibes", "does not match"),
        ("region", "Taiwan", "does not match"),
        ("region", "XYZ", "unknown country code"),
        ("segment", "quantum_chips", "not a chips commodity"),
        ("is_projection", "maybe", "must be true or false"),
        ("url", "semiconductors.org", "does not match"),
    ],
)
def test_bad_values_are_named_by_file_row_column_value(tmp_path, column, value, reason):
    raw = pl.read_csv(SHIPPED, infer_schema=False)
    path = _write(tmp_path, lambda r: _set(r, column, value, **LT10_TWN))
    with pytest.raises(DataError) as err:
        load_chip_capacity(path)
    hit = [p for p in err.value.problems if p.column == column]
    assert hit, err.value
    assert hit[0].file == "chip_capacity.csv"
    assert hit[0].row == _row_of(raw, **LT10_TWN)
    assert str(hit[0].value) == value
    assert reason in hit[0].reason


def test_a_group_without_rest_of_world_is_refused(tmp_path):
    def drop_rest(r: pl.DataFrame) -> pl.DataFrame:
        lt10 = (pl.col("segment") == "wafer_fab_leading_edge") & (pl.col("year") == "2022")
        return r.filter(~(lt10 & (pl.col("region") == "rest_of_world")))

    with pytest.raises(DataError, match="no explicit rest_of_world row"):
        load_chip_capacity(_write(tmp_path, drop_rest))


def test_a_duplicate_row_is_refused(tmp_path):
    def duplicate(r: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([r, r.head(1)])

    with pytest.raises(DataError, match="one_share_per_key"):
        load_chip_capacity(_write(tmp_path, duplicate))


def test_a_missing_column_is_named(tmp_path):
    with pytest.raises(DataError, match="'quote'.*required column is missing"):
        load_chip_capacity(_write(tmp_path, lambda r: r.drop("quote")))


# --- the dependency rows and the risk table -----------------------------------


def test_capacity_rows_keep_the_importers_own_share_and_ignore_trade():
    production = pl.DataFrame(
        {
            "year": [2021] * 3,
            "commodity": ["chip_design"] * 3,
            "stage": ["design"] * 3,
            "country_iso3": ["USA", "TWN", "ROW"],
            "source": ["IC Insights"] * 3,
            "quantity": [68.0, 30.0, 2.0],
            "unit": ["pct_of_world"] * 3,
        },
        schema_overrides={"year": pl.Int32},
    )
    world = world_shares(production, [2024])
    # a recorded import of "design" would otherwise make this row bilateral
    bilateral = pl.LazyFrame(
        {
            "year": [2024],
            "importer_iso3": ["USA"],
            "commodity": ["chip_design"],
            "stage": ["design"],
            "supplier_iso3": ["TWN"],
            "import_value_usd": [5e6],
            "import_quantity_t": [1.0],
            "import_share": [1.0],
        },
        schema_overrides={"year": pl.Int32},
    )
    attrs = country_attributes(
        pl.DataFrame(
            schema={
                "year": pl.Int64,
                "country_iso3": pl.String,
                "indicator": pl.String,
                "estimate": pl.Float64,
            }
        ),
        pl.DataFrame(
            schema={"year": pl.Int64, "country_iso3": pl.String, "ideal_point": pl.Float64}
        ),
        pl.DataFrame(
            schema={"bloc": pl.String, "iso3": pl.String, "joined": pl.Date, "left": pl.Date}
        ),
        [2024],
    )
    commodities = pl.DataFrame({"commodity": ["chip_design"], "stage": ["design"]})
    basis = pl.DataFrame(
        {"commodity": ["chip_design"], "stage": ["design"], "basis": ["market_by_headquarters"]}
    )
    held = build_dependency(
        bilateral, world, attrs, ["USA"], commodities, capacity_basis=basis
    ).collect()
    assert held["basis"].unique().to_list() == ["market_by_headquarters"]
    shares = dict(zip(held["supplier_iso3"], held["supply_share"], strict=True))
    assert shares == pytest.approx({"USA": 0.68, "TWN": 0.30, "ROW": 0.02})
    # without the capacity basis the same inputs give the old bilateral answer
    bought = build_dependency(bilateral, world, attrs, ["USA"], commodities).collect()
    assert bought["basis"].to_list() == ["bilateral"]


@pytest.fixture(scope="module")
def usa() -> pl.DataFrame:
    return risk_table(RiskQuery("USA", "G7", "CHN", 2024), load_inputs(years=[2024])).filter(
        pl.col("sector") == "chips"
    )


def test_risk_table_does_not_call_us_chip_design_non_allied(usa):
    design = usa.filter(pl.col("commodity") == "chip_design").row(0, named=True)
    assert design["basis"] == "market_by_headquarters"
    assert design["top_supplier_iso3"] == "USA"
    assert design["top1_share"] == pytest.approx(0.68)
    assert design["non_allied_share"] == pytest.approx(0.32)
    eda = usa.filter(pl.col("commodity") == "eda_software").row(0, named=True)
    assert eda["top_supplier_iso3"] == "USA"
    assert eda["non_allied_share"] == pytest.approx(0.28)


def test_risk_table_shows_taiwan_below_10nm_with_its_source(usa):
    lead = usa.filter(pl.col("commodity") == "wafer_fab_leading_edge").row(0, named=True)
    assert lead["basis"] == "capacity_by_location"
    assert lead["top_supplier_iso3"] == "TWN"
    assert lead["top1_share"] == pytest.approx(0.69)
    assert lead["source"] == "SIA/BCG"
    assert lead["vintage"] == "2024-05"
    assert lead["production_year"] == 2022
    assert lead["hhi"] == pytest.approx(0.69**2 + 0.31**2)
    # import reliance is not computable from trade on a capacity basis
    assert lead["import_reliance"] is None
    assert set(usa["basis"]) == {
        "capacity_by_location",
        "market_by_headquarters",
        "supply_by_location",  # semiconductor-grade neon (Ukraine 2021)
    }
    neon = usa.filter(pl.col("commodity") == "neon").row(0, named=True)
    assert (neon["top_supplier_iso3"], neon["top1_share"]) == ("UKR", pytest.approx(0.45))
    assert usa["is_material"].all()


def test_a_subset_of_commodities_gets_only_its_chip_rows():
    subset = load_commodities().filter(pl.col("commodity").is_in(["chip_design", "cobalt"]))
    shares = supply_world_shares([2024], commodities=subset)
    assert shares["commodity"].unique().to_list() == ["chip_design"]
