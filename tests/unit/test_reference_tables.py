import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError, UnknownNameError
from resilience.ingest.compiled import read_compiled_shares
from resilience.paths import datasets_dir
from resilience.reference.alliances import load_alliances, members
from resilience.reference.commodities import check_commodities, hs_to_commodity, load_commodities
from resilience.reference.input_coefficients import load_input_coefficients


def test_commodity_table_covers_three_sectors_and_required_materials():
    commodities = load_commodities()
    per_sector = commodities.group_by("sector").agg(pl.col("commodity").n_unique())
    counts = dict(per_sector.iter_rows())
    assert sum(counts.values()) >= 40
    assert set(counts) == {"critical_materials", "energy", "chips"}
    required = {
        "lithium",
        "cobalt",
        "nickel",
        "graphite",
        "rare_earths",
        "magnet_rare_earths",
        "gallium",
        "germanium",
        "tungsten",
        "antimony",
        "manganese",
        "platinum",
        "palladium",
        "copper",
        "magnesium",
        "niobium",
        "vanadium",
        "silicon_metal",
        "titanium",
        "crude_oil",
        "natural_gas",
        "coal",
        "uranium",
        "polysilicon",
        "pv_wafers",
        "pv_cells",
        "pv_modules",
        "battery_cells",
        "eda_software",
        "wafer_fab_leading_edge",
        "wafer_fab_mature",
        "assembly_test_packaging",
        "lithography_tools",
        "silicon_wafers",
    }
    assert required <= set(commodities["commodity"].to_list())
    both = (
        commodities.group_by("commodity")
        .agg(pl.col("stage"))
        .filter(pl.col("stage").list.len() == 2)
    )
    assert {"lithium", "cobalt", "nickel", "graphite", "copper"} <= set(both["commodity"].to_list())


def test_hs_map_explodes_codes():
    hs = hs_to_commodity("hs92")
    lithium = hs.filter(pl.col("commodity") == "lithium")
    assert sorted(lithium["hs6_code"].to_list()) == ["282520", "283691"]
    assert (lithium["stage"] == "refining").all()


def test_unknown_commodity_suggests_close_matches():
    with pytest.raises(
        UnknownNameError, match=r"unknown commodity 'lithum'; did you mean 'lithium'"
    ):
        check_commodities(["lithum"])


def test_alliance_membership_is_dated():
    alliances = load_alliances()
    assert "GBR" in members(alliances, "EU", dt.date(2019, 6, 1))
    assert "GBR" not in members(alliances, "EU", dt.date(2021, 1, 1))
    assert "FIN" not in members(alliances, "NATO", dt.date(2022, 1, 1))
    assert "FIN" in members(alliances, "NATO", dt.date(2023, 5, 1))
    brics = members(alliances, "BRICS", dt.date(2024, 6, 1))
    assert {"BRA", "RUS", "IND", "CHN", "ZAF", "EGY", "ETH", "IRN", "ARE"} <= set(brics)
    assert members(alliances, "G7", dt.date(2024, 1, 1)) == [
        "CAN",
        "DEU",
        "FRA",
        "GBR",
        "ITA",
        "JPN",
        "USA",
    ]
    union = members(alliances, "QUAD+AUKUS", dt.date(2024, 1, 1))
    assert union == ["AUS", "GBR", "IND", "JPN", "USA"]


def test_unknown_bloc_lists_close_matches():
    with pytest.raises(UnknownNameError, match=r"unknown bloc 'NAT0'; did you mean 'NATO'"):
        members(load_alliances(), "NAT0", dt.date(2024, 1, 1))


def _user_bloc(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_blocs.csv"
    path.write_text("bloc,iso3,country,kind,joined,left,source\n" + body)
    return path


def test_user_bloc_from_file(tmp_path):
    path = _user_bloc(
        tmp_path,
        "LITHIUM_CLUB,AUS,Australia,minerals,2024-01-01,,analyst\nLITHIUM_CLUB,CHL,Chile,minerals,2024-01-01,,analyst\n",
    )
    alliances = load_alliances(extra=[path])
    assert members(alliances, "LITHIUM_CLUB+QUAD", dt.date(2024, 6, 1)) == [
        "AUS",
        "CHL",
        "IND",
        "JPN",
        "USA",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "X,ATL,Atlantis,minerals,2024-01-01,,me\n",
            "my_blocs.csv, row 2, column 'iso3': not a known ISO3 country code (value: 'ATL')",
        ),
        (
            "X,AUS,Australia,minerals,2024-13-01,,me\n",
            "my_blocs.csv, row 2, column 'joined': not a date (YYYY-MM-DD) (value: '2024-13-01')",
        ),
        (
            "X,AUS,Australia,minerals,2024-01-01,2023-01-01,me\n",
            "my_blocs.csv, row 2, column 'left_after_joined'",
        ),
        (
            "X,AUS,Australia,minerals,2024-01-01,,me\nX,AUS,Australia,minerals,2024-01-01,,me\n",
            "my_blocs.csv, row 3, column 'bloc, iso3, joined': duplicate key",
        ),
        (
            "NATO,AUS,Australia,security,2024-01-01,,me\n",
            "my_blocs.csv, row 2, column 'bloc': bloc id already exists in the shipped table"
            " (value: 'NATO')",
        ),
    ],
)
def test_bad_user_bloc_rows_are_named(tmp_path, body, expected):
    with pytest.raises(DataError) as info:
        load_alliances(extra=[_user_bloc(tmp_path, body)])
    assert expected in str(info.value)


def test_compiled_shares_are_cited_and_cover_chips_and_pv():
    frame = read_compiled_shares(datasets_dir() / "sources" / "compiled_shares.csv")
    pairs = set(frame.select("source_commodity", "source_stage").unique().iter_rows())
    made = load_input_coefficients().select(
        pl.col("output_commodity").alias("commodity"), pl.col("output_stage").alias("stage")
    )
    chips_pv = (
        load_commodities()
        .filter(pl.col("unit") == "pct_of_world")
        .select("commodity", "stage")
        .join(made, on=["commodity", "stage"], how="anti")  # made by a process, no shares
    )
    assert set(chips_pv.iter_rows()) <= pairs
    leading = frame.filter(pl.col("source_commodity") == "wafer_fab_leading_edge")
    assert leading.filter(pl.col("country_iso3") == "TWN")["quantity"].item() > 60


def test_compiled_shares_reject_sums_above_100(tmp_path):
    path = tmp_path / "shares.csv"
    header = (
        "commodity,stage,year,country,share_pct,metric,publisher,title,url,quote,licence_note\n"
    )
    path.write_text(
        header
        + "pv_modules,manufacturing,2022,China,80,cap,IEA,t,https://x,q,l\n"
        + "pv_modules,manufacturing,2022,India,30,cap,IEA,t,https://x,q,l\n"
    )
    with pytest.raises(
        DataError,
        match=r"shares.csv, row 2, column 'share_pct': shares of pv_modules/manufacturing 2022"
        r" sum above 100 % \(value: 110.0\)",
    ):
        read_compiled_shares(path)


def test_compiled_shares_reject_region_as_country(tmp_path):
    path = tmp_path / "shares.csv"
    header = (
        "commodity,stage,year,country,share_pct,metric,publisher,title,url,quote,licence_note\n"
    )
    path.write_text(header + "pv_modules,manufacturing,2022,Europe,3,cap,IEA,t,https://x,q,l\n")
    with pytest.raises(
        DataError,
        match=r"shares.csv, row 2, column 'country': a region or total is not a country share"
        r" \(value: 'Europe'\)",
    ):
        read_compiled_shares(path)


HEADER = "commodity,stage,year,country,share_pct,metric,publisher,title,url,quote,licence_note\n"
GOOD = "pv_modules,manufacturing,2022,China,80,cap,IEA,t,https://x,q,l\n"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            GOOD + "pv_modules,manufacturing,2022,Atlantis,3,cap,IEA,t,https://x,q,l\n",
            "shares.csv, row 3, column 'country': unknown country name",
        ),
        (
            GOOD + "pv_modules,manufacturing,2022,India,about 3,cap,IEA,t,https://x,q,l\n",
            "shares.csv, row 3, column 'share_pct': not a number (value: 'about 3')",
        ),
        (
            GOOD + "pv_modules,manufacturing,2022,India,-3,cap,IEA,t,https://x,q,l\n",
            "shares.csv, row 3, column 'share_pct': value below the allowed minimum (value: -3.0)",
        ),
        (
            GOOD + "pv_modules,manufacturing,2022,China,5,cap,IEA,t,https://x,q,l\n",
            "shares.csv, row 3, column 'country': duplicate figure for this country"
            " (value: 'China')",
        ),
        (
            GOOD + "pv_modules,manufacturing,2022,India,3,cap,IEA,t,,q,l\n",
            "shares.csv, row 3, column 'url': every figure needs a citation",
        ),
    ],
)
def test_compiled_shares_bad_rows_are_named(tmp_path, rows, expected):
    path = tmp_path / "shares.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(DataError) as info:
        read_compiled_shares(path)
    assert expected in str(info.value)


def test_compiled_shares_missing_column(tmp_path):
    path = tmp_path / "shares.csv"
    path.write_text(
        HEADER.replace(",quote", "")
        + "pv_modules,manufacturing,2022,China,80,cap,IEA,t,https://x,l\n"
    )
    with pytest.raises(DataError, match=r"shares.csv, column 'quote': required column is missing"):
        read_compiled_shares(path)
