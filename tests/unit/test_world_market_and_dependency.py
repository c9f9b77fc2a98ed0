"""World-market shares and the dependency dataset on a tiny world worked out by hand."""

import datetime as dt

import polars as pl
import pytest

from resilience.build.dependency import build_dependency, country_attributes
from resilience.build.world_market import world_shares


def _production(rows):
    cols = ["year", "commodity", "stage", "country_iso3", "source", "quantity"]
    return pl.DataFrame(rows, schema=cols, orient="row").with_columns(
        pl.col("year").cast(pl.Int32), pl.lit("t").alias("unit")
    )


PRODUCTION = _production(
    [
        # cobalt refining: IEA 2023 and USGS 2023 both report; IEA has priority
        (2023, "cobalt", "refining", "CHN", "IEA Critical Minerals Data Explorer 2024", 75.0),
        (2023, "cobalt", "refining", "FIN", "IEA Critical Minerals Data Explorer 2024", 15.0),
        (2023, "cobalt", "refining", "ROW", "IEA Critical Minerals Data Explorer 2024", 10.0),
        (2023, "cobalt", "refining", "WLD", "IEA Critical Minerals Data Explorer 2024", 100.0),
        (2023, "cobalt", "refining", "CHN", "USGS MCS 2025", 50.0),
        (2023, "cobalt", "refining", "FIN", "USGS MCS 2025", 50.0),
        # cobalt mining: only 2022 data, so 2023 falls back to it
        (2022, "cobalt", "mining", "COD", "World Mining Data (BMF) 2018-2024", 70.0),
        (2022, "cobalt", "mining", "AUS", "World Mining Data (BMF) 2018-2024", 20.0),
        (2022, "cobalt", "mining", "USA", "World Mining Data (BMF) 2018-2024", 10.0),
        (2022, "cobalt", "mining", "ROW", "World Mining Data (BMF) 2018-2024", 0.0),
    ]
)


def test_world_shares_prefer_latest_year_then_source_priority():
    world = world_shares(PRODUCTION, [2023]).collect()
    refining = world.filter(pl.col("stage") == "refining").sort("country_iso3")
    assert refining["production_source"].unique().to_list() == [
        "IEA Critical Minerals Data Explorer 2024"
    ]
    assert dict(
        zip(refining["country_iso3"], refining["world_share"], strict=True)
    ) == pytest.approx({"CHN": 0.75, "FIN": 0.15, "ROW": 0.10})
    mining = world.filter(pl.col("stage") == "mining")
    assert mining["production_year"].unique().to_list() == [2022]
    assert mining["world_share"].sum() == pytest.approx(1.0)


def test_no_data_before_the_first_year():
    assert world_shares(PRODUCTION, [2021]).collect().height == 0


COMMODITIES = pl.DataFrame({"commodity": ["cobalt", "cobalt"], "stage": ["mining", "refining"]})
ALLIANCES = pl.DataFrame(
    {
        "bloc": ["G7", "G7", "EU", "EU"],
        "iso3": ["USA", "JPN", "FIN", "GBR"],
        "joined": [
            dt.date(1975, 1, 1),
            dt.date(1975, 1, 1),
            dt.date(1995, 1, 1),
            dt.date(1973, 1, 1),
        ],
        "left": [None, None, None, dt.date(2020, 1, 31)],
    }
)
GOVERNANCE = pl.DataFrame(
    {
        "year": [2022] * 6 + [2023],
        "country_iso3": ["CHN"] * 6 + ["FIN"],
        "indicator": ["va", "pv", "ge", "rq", "rl", "cc", "pv"],
        "estimate": [-1.5, -0.5, 0.5, -0.2, -0.3, -0.1, 0.7],
    }
)
ALIGNMENT = pl.DataFrame(
    {
        "year": [2023, 2023, 2023],
        "country_iso3": ["USA", "CHN", "FIN"],
        "ideal_point": [2.5, -0.8, 1.2],
    }
)


def test_dependency_bases_and_attributes():
    world = world_shares(PRODUCTION, [2023])
    bilateral = pl.LazyFrame(
        {
            "year": [2023, 2023],
            "importer_iso3": ["USA", "USA"],
            "commodity": ["cobalt", "cobalt"],
            "stage": ["refining", "refining"],
            "supplier_iso3": ["FIN", "CHN"],
            "import_value_usd": [300.0, 100.0],
            "import_quantity_t": [3.0, None],
            "import_share": [0.75, 0.25],
        },
        schema_overrides={"year": pl.Int32},
    )
    attrs = country_attributes(GOVERNANCE, ALIGNMENT, ALLIANCES, [2023])
    dep = build_dependency(bilateral, world, attrs, ["USA"], COMMODITIES).collect()
    refining = dep.filter(pl.col("stage") == "refining").sort("supplier_iso3")
    assert refining["basis"].unique().to_list() == ["bilateral"]
    assert refining["supply_share"].to_list() == [0.25, 0.75]
    assert refining["world_production_share"].to_list() == pytest.approx([0.75, 0.15])
    # governance falls back to the latest year available (CHN 2022); FIN has only pv
    chn = refining.row(0, named=True)
    assert chn["supplier_wgi_pv"] == pytest.approx(-0.5)
    assert chn["supplier_wgi_mean"] == pytest.approx((-1.5 - 0.5 + 0.5 - 0.2 - 0.3 - 0.1) / 6)
    assert refining.row(1, named=True)["supplier_wgi_mean"] is None
    assert chn["alignment_distance"] == pytest.approx(3.3)
    assert refining.row(1, named=True)["supplier_blocs"] == ["EU"]
    # no bilateral mining data: world market, the importer's own mines excluded
    mining = dep.filter(pl.col("stage") == "mining").sort("supplier_iso3")
    assert mining["basis"].unique().to_list() == ["world_market"]
    assert "USA" not in mining["supplier_iso3"].to_list()
    shares = dict(zip(mining["supplier_iso3"], mining["supply_share"], strict=True))
    assert shares == pytest.approx({"AUS": 0.2 / 0.9, "COD": 0.7 / 0.9, "ROW": 0.0})


def test_blocs_are_read_on_year_end():
    attrs = country_attributes(GOVERNANCE, ALIGNMENT, ALLIANCES, [2019, 2020]).collect()
    gbr = attrs.filter(pl.col("country_iso3") == "GBR").sort("year")
    assert gbr["blocs"].to_list() == [["EU"], []]
