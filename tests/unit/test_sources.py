"""Production sources: the ranking, a chosen source, stated world totals, the spread."""

import polars as pl
import pytest

from resilience import data
from resilience.build.sources import (
    SPREAD_THRESHOLD_SHARE,
    check_source,
    shares_by_source,
    source_spread,
)
from resilience.build.world_market import world_shares

IEA = "IEA Critical Minerals Data Explorer 2024"
USGS = "USGS MCS 2024"
WMD = "World Mining Data (BMF) 2018-2024"


def _production(rows):
    cols = ["year", "commodity", "stage", "country_iso3", "source", "quantity"]
    return pl.DataFrame(rows, schema=cols, orient="row").with_columns(
        pl.col("year").cast(pl.Int32), pl.lit("t").alias("unit")
    )


# Cobalt mining 2023 in three sources, worked by hand (shares of the stated world total):
#   IEA  COD 157 / 240 = 0.654167   AUS 8 / 240
#   USGS COD 170 / 230 = 0.739130   AUS 5 / 230   (listed + ROW = 195: the total is 230)
#   WMD  COD 140 / 200 = 0.7        AUS 10 / 200
# WMD alone also reports 2024 (COD 150 of 200); lithium mining only in USGS and WMD, 2023.
PRODUCTION = _production(
    [
        (2023, "cobalt", "mining", "COD", IEA, 157.0),
        (2023, "cobalt", "mining", "AUS", IEA, 8.0),
        (2023, "cobalt", "mining", "ROW", IEA, 75.0),
        (2023, "cobalt", "mining", "WLD", IEA, 240.0),
        (2023, "cobalt", "mining", "COD", USGS, 170.0),
        (2023, "cobalt", "mining", "AUS", USGS, 5.0),
        (2023, "cobalt", "mining", "ROW", USGS, 20.0),
        (2023, "cobalt", "mining", "WLD", USGS, 230.0),
        (2023, "cobalt", "mining", "COD", WMD, 140.0),
        (2023, "cobalt", "mining", "AUS", WMD, 10.0),
        (2023, "cobalt", "mining", "ROW", WMD, 50.0),
        (2023, "cobalt", "mining", "WLD", WMD, 200.0),
        (2024, "cobalt", "mining", "COD", WMD, 150.0),
        (2024, "cobalt", "mining", "ROW", WMD, 50.0),
        (2024, "cobalt", "mining", "WLD", WMD, 200.0),
        (2023, "lithium", "mining", "AUS", USGS, 60.0),
        (2023, "lithium", "mining", "CHL", USGS, 40.0),
        (2023, "lithium", "mining", "AUS", WMD, 45.0),
        (2023, "lithium", "mining", "CHL", WMD, 45.0),
        (2023, "lithium", "mining", "ROW", WMD, 10.0),
    ]
)


def _share(world: pl.DataFrame, commodity: str, country: str) -> tuple[float, str, int]:
    row = world.filter(
        (pl.col("commodity") == commodity) & (pl.col("country_iso3") == country)
    ).row(0, named=True)
    return row["world_share"], row["production_source"], row["production_year"]


def test_default_ranking_prefers_iea_then_usgs_in_the_same_year():
    world = world_shares(PRODUCTION, [2023]).collect()
    assert _share(world, "cobalt", "COD") == (pytest.approx(157 / 240), IEA, 2023)
    # lithium: no IEA figure, USGS before World Mining Data
    assert _share(world, "lithium", "AUS") == (pytest.approx(0.6), USGS, 2023)


@pytest.mark.parametrize(
    ("source", "cod_share", "expected_source"),
    [(None, 157 / 240, IEA), ("usgs", 170 / 230, USGS), ("wmd", 0.7, WMD), ("iea", 157 / 240, IEA)],
)
def test_a_chosen_source_changes_the_shares(source, cod_share, expected_source):
    world = world_shares(PRODUCTION, [2023], source).collect()
    share, used, year = _share(world, "cobalt", "COD")
    assert (share, used, year) == (pytest.approx(cod_share), expected_source, 2023)


def test_a_chosen_source_wins_over_a_later_year_and_falls_back_where_absent():
    # 2024: the default takes WMD's 2024 figures; with iea the IEA's 2023 ones
    default = world_shares(PRODUCTION, [2024]).collect()
    assert _share(default, "cobalt", "COD") == (pytest.approx(0.75), WMD, 2024)
    chosen = world_shares(PRODUCTION, [2024], "iea").collect()
    assert _share(chosen, "cobalt", "COD") == (pytest.approx(157 / 240), IEA, 2023)
    # the IEA has no lithium: the default ranking applies (USGS 2023)
    assert _share(chosen, "lithium", "CHL") == (pytest.approx(0.4), USGS, 2023)


def test_shares_divide_by_the_stated_world_total_not_the_listed_sum():
    world = world_shares(PRODUCTION, [2023], "usgs").collect()
    cobalt = world.filter(pl.col("commodity") == "cobalt")
    # 170 / 230, not 170 / (170 + 5 + 20) = 0.8718
    assert _share(world, "cobalt", "COD")[0] == pytest.approx(0.7391304)
    assert cobalt["world_total_quantity"].unique().to_list() == [230.0]
    assert cobalt["world_total_basis"].unique().to_list() == ["stated"]
    assert cobalt["world_share"].sum() == pytest.approx(195 / 230)
    # no WLD row (USGS lithium): the listed countries are the world
    lithium = world.filter(pl.col("commodity") == "lithium")
    assert lithium["world_total_basis"].unique().to_list() == ["sum_of_listed"]
    assert lithium["world_share"].sum() == pytest.approx(1.0)
    assert "WLD" not in world["country_iso3"].to_list()


def test_unknown_source_is_an_error_naming_the_value():
    with pytest.raises(ValueError, match=r"'bgs'.*usgs, wmd, iea"):
        world_shares(PRODUCTION, [2023], "bgs")
    assert check_source("wmd") == "wmd"
    assert check_source(None) is None


def test_source_spread_on_the_fixture():
    spread = source_spread(PRODUCTION).collect()
    cod = spread.filter(
        (pl.col("year") == 2023)
        & (pl.col("commodity") == "cobalt")
        & (pl.col("country_iso3") == "COD")
    ).row(0, named=True)
    assert cod["measure"] == "world_share"
    assert cod["min"] == pytest.approx(157 / 240)
    assert cod["max"] == pytest.approx(170 / 230)
    assert cod["n_sources"] == 3
    assert cod["sources"] == f"{IEA}; {USGS}; {WMD}"
    assert cod["is_disputed"]  # 0.739 - 0.654 = 0.085 > 0.05
    aus = spread.filter(
        (pl.col("year") == 2023)
        & (pl.col("commodity") == "cobalt")
        & (pl.col("country_iso3") == "AUS")
    ).row(0, named=True)
    assert (aus["min"], aus["max"]) == (pytest.approx(5 / 230), pytest.approx(0.05))
    assert not aus["is_disputed"]
    # one source, one figure: never disputed
    single = spread.filter((pl.col("year") == 2024) & (pl.col("country_iso3") == "COD"))
    assert single.select("min", "max", "n_sources", "is_disputed").row(0) == (0.75, 0.75, 1, False)
    # HHI over the named countries of each source: IEA (157/240)^2 + (8/240)^2 = 0.4290,
    # WMD 0.7^2 + 0.05^2 = 0.4925, USGS (170/230)^2 + (5/230)^2 = 0.5468
    hhi = spread.filter(
        (pl.col("measure") == "world_hhi")
        & (pl.col("year") == 2023)
        & (pl.col("commodity") == "cobalt")
    ).row(0, named=True)
    assert hhi["country_iso3"] is None
    assert hhi["min"] == pytest.approx((157 / 240) ** 2 + (8 / 240) ** 2)
    assert hhi["max"] == pytest.approx((170 / 230) ** 2 + (5 / 230) ** 2)
    assert hhi["n_sources"] == 3
    assert hhi["is_disputed"]  # 0.5468 / 0.4290 - 1 = 27 % > 20 %
    assert "ROW" not in spread["country_iso3"].drop_nulls().to_list()


def test_hhi_spread_threshold_is_relative():
    spread = source_spread(PRODUCTION).collect()
    hhi = spread.filter(
        (pl.col("measure") == "world_hhi") & (pl.col("commodity") == "lithium")
    ).row(0, named=True)
    # USGS 0.6^2 + 0.4^2 = 0.52 ; WMD 0.45^2 + 0.45^2 = 0.405 ; 0.52 / 0.405 - 1 = 28 % > 20 %
    assert (hhi["min"], hhi["max"]) == (pytest.approx(0.405), pytest.approx(0.52))
    assert hhi["is_disputed"]


def test_shares_by_source_keeps_every_source():
    per_source = shares_by_source(PRODUCTION).collect()
    assert (
        per_source.filter((pl.col("commodity") == "cobalt") & (pl.col("year") == 2023))[
            "source"
        ].n_unique()
        == 3
    )


def test_drc_cobalt_spread_on_the_shipped_table_spans_iea_and_usgs():
    """IEA 65.5 % (157 of 239.8 kt) and USGS MCS 2024 73.9 % (170 of 230 kt), 2023."""
    spread = source_spread(data.load_production(), [2023]).collect()
    cod = spread.filter(
        (pl.col("commodity") == "cobalt")
        & (pl.col("stage") == "mining")
        & (pl.col("country_iso3") == "COD")
    ).row(0, named=True)
    assert cod["min"] == pytest.approx(0.655, abs=0.001)
    assert cod["max"] == pytest.approx(0.739, abs=0.001)
    assert cod["max"] - cod["min"] > SPREAD_THRESHOLD_SHARE
    assert cod["is_disputed"]
    assert "IEA Critical Minerals" in cod["sources"]
    assert "USGS MCS 2024" in cod["sources"]


def test_risk_shows_the_spread_beside_the_world_share():
    from resilience.risk import RiskQuery, risk_table

    table = risk_table(RiskQuery("USA", "G7", None, 2023, ["cobalt"]))
    mining = table.filter(pl.col("stage") == "mining").row(0, named=True)
    assert mining["world_top_producer_iso3"] == "COD"
    assert mining["world_top1_share"] == pytest.approx(157 / 239.8)  # IEA, the default
    assert mining["world_top1_share_min"] == pytest.approx(157 / 239.8)
    assert mining["world_top1_share_max"] == pytest.approx(170 / 230)
    assert mining["world_top1_n_sources"] == 4
    assert mining["is_source_disputed"]
    assert mining["source_spread_note"].startswith("COD 65.5–73.9 % (4 sources)")
    # IEA refining is the only refining source: nothing to dispute
    refining = table.filter(pl.col("stage") == "refining").row(0, named=True)
    assert refining["world_top1_n_sources"] == 1
    assert not refining["is_source_disputed"]
    assert refining["source_spread_note"] is None
