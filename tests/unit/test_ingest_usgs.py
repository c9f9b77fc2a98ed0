from __future__ import annotations

import logging
import re
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.mapping import (
    complete_rest_of_world,
    load_commodity_map,
    map_production,
)
from resilience.ingest.usgs import read_usgs_world
from resilience.paths import datasets_dir
from resilience.schemas.tables import SourceProduction

DATA = Path(__file__).resolve().parents[1] / "data" / "usgs"
LONG = DATA / "mcs2025" / "MCS2025_World_Data_small.csv"
DIR_2024 = DATA / "mcs2024"
DIR_2023 = DATA / "mcs2023"
LITHIUM_2024 = DIR_2024 / "mcs2024-lithi_world.csv"

COLUMNS = [*SourceProduction.column_names(), "source_row", "source_file"]


def _variant(tmp_path: Path, source: Path, edit: dict[int, str | None], name: str = "") -> Path:
    """Copy ``source`` (same file name unless ``name``) with 1-based lines replaced/removed."""
    text = source.read_bytes().decode("utf-8-sig")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        new = edit.get(number, line)
        if new is not None:
            out.append(new)
    path = tmp_path / (name or source.name)
    path.write_text("\ufeff" + "\r\n".join(out) + "\r\n", encoding="utf-8")
    return path


def _one(frame: pl.DataFrame, **where: object) -> dict[str, object]:
    hit = frame.filter(**where)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


# -- MCS 2025 long layout --------------------------------------------------------------------
@pytest.fixture(scope="module")
def long() -> pl.DataFrame:
    return read_usgs_world(LONG)


def test_long_layout_shape_and_provenance(long: pl.DataFrame) -> None:
    assert long.columns == COLUMNS
    # 21 data lines, one regional aggregate dropped, one blank line: 19 lines x 2 years
    assert long.height == 38
    assert set(long["year"]) == {2023, 2024}
    assert set(long["source"]) == {"USGS MCS 2025"}
    assert set(long["vintage"]) == {"MCS2025"}
    assert set(long["source_file"]) == {"MCS2025_World_Data_small.csv"}
    # line 2 is the dropped region, line 19 is blank: Russia sits on line 20
    assert sorted(set(long["source_row"])) == [*range(3, 19), 20, 21, 22]
    assert _one(long, country_iso3="RUS", year=2023)["source_row"] == 20


def test_long_layout_values_and_flags(long: pl.DataFrame) -> None:
    li = long.filter(source_commodity="Lithium")  # "Lithium " stripped
    us = li.filter(country_iso3="USA")
    assert us["quantity"].to_list() == [None, None]
    assert us["is_withheld"].to_list() == [True, True]  # blank + "W for 23-24"
    aus23 = _one(li, country_iso3="AUS", year=2023)
    assert (aus23["quantity"], aus23["is_estimated"], aus23["unit"]) == (
        91700.0,
        False,
        "metric tons",
    )
    assert _one(li, country_iso3="AUS", year=2024)["is_estimated"] is True
    assert _one(li, country_iso3="BRA", year=2023)["is_estimated"] is True  # "estimated 2023"
    assert _one(li, country_iso3="CAN", year=2023)["country_name"] == "Canada"
    row = _one(li, country_iso3="ROW", year=2023)
    assert (row["quantity"], row["is_withheld"]) == (None, False)  # blank, no W note
    assert _one(li, country_iso3="WLD", year=2023)["quantity"] == 204000.0
    assert li["source_stage"].unique().to_list() == ["Mine production, lithium content"]


def test_long_layout_typos_units_and_types(long: pl.DataFrame) -> None:
    ge = long.filter(source_commodity="Germanium")  # COMMODITY 'Gemanium'
    assert ge.height == 2
    assert ge["quantity"].null_count() == 2
    assert not ge["is_withheld"].any()
    # the type says "estimated": both years are estimates
    co = long.filter(source_commodity="Cobalt", country_iso3="USA")
    assert co["is_estimated"].to_list() == [True, True]
    assert co["source_stage"][0] == "Mine production, estimated"
    # ... unless the row note says "reported"
    talc = _one(long, source_commodity="Talc and Pyrophyllite", year=2023)
    assert (talc["country_iso3"], talc["is_estimated"]) == ("USA", False)
    assert talc["source_stage"] == "Mine production, estimated | crude"
    assert talc["quantity"] == 508.0
    assert _one(long, country_name="Côte d'Ivoire", year=2023)["country_iso3"] == "CIV"


def test_long_layout_titanium_unit_erratum_and_world_totals(
    long: pl.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    ti = long.filter(source_commodity="Titanium Mineral Concentrates")
    assert set(ti["unit"]) == {"thousand metric tons"}  # stated "metric tons": erratum
    sle = _one(ti, country_iso3="SLE", year=2023)  # blank UNIT_MEAS filled, then corrected
    assert (sle["quantity"], sle["unit"]) == (110.0, "thousand metric tons")
    ilmenite = "Mine production, ilmentite, titanium dioxide (TiO2) content"
    assert _one(ti, country_iso3="CHN", year=2023)["source_stage"] == ilmenite
    rutile = "Mine production, rutile, titanium dioxide (TiO2) content"
    world = ti.filter(country_iso3="WLD", year=2023).sort("source_row")
    assert world["source_stage"].to_list() == [
        ilmenite + " | ilmenite",
        ilmenite + " | ilmenite and rutile",
        rutile + " | rutile",  # an aggregate keeps its qualifier even when the type says it
    ]
    assert world["quantity"].to_list() == [8840.0, 9430.0, 590.0]
    aus = ti.filter(country_iso3="AUS", year=2023).sort("source_row")
    assert aus["source_stage"].to_list() == [rutile, ilmenite]
    with caplog.at_level(logging.INFO, logger="resilience.ingest.usgs"):
        read_usgs_world(LONG)
    assert "corrected to 'thousand metric tons' for 14 values" in caplog.text
    assert "2 rows of regional aggregates dropped (United States and Canada)" in caplog.text


# -- MCS 2024 per-commodity files ------------------------------------------------------------
@pytest.fixture(scope="module")
def wide() -> pl.DataFrame:
    return read_usgs_world(DIR_2024)


def test_directory_reads_every_csv(wide: pl.DataFrame) -> None:
    assert wide.columns == COLUMNS
    assert set(wide["source_file"]) == {
        "MCS2024-bismu_world.csv",  # upper-case name
        "mcs2024-boron_world.csv",
        "mcs2024-fluor_world.csv",
        "mcs2024-lithi_world.csv",
    }  # mcs2024-abras_world.csv holds capacity only: no rows
    assert set(wide["source_commodity"]) == {"Bismuth", "Boron", "Fluorspar", "Lithium"}
    assert set(wide["vintage"]) == {"MCS2024"}
    assert set(wide["source"]) == {"USGS MCS 2024"}
    single = read_usgs_world(LITHIUM_2024)
    assert single.equals(wide.filter(source_file="mcs2024-lithi_world.csv"))
    listed = read_usgs_world([DIR_2024 / "mcs2024-fluor_world.csv", LITHIUM_2024])
    assert listed.equals(wide.filter(pl.col("source_commodity").is_in(["Lithium", "Fluorspar"])))


def test_wide_lithium_quirks(wide: pl.DataFrame) -> None:
    li = wide.filter(source_commodity="Lithium")
    assert li.height == 14  # 7 lines x 2 years; trailing empty rows skipped
    assert li["source_row"].unique().sort().to_list() == list(range(2, 9))
    assert set(li["unit"]) == {"t"}
    us = li.filter(country_iso3="USA")  # "United\xa0States1"
    assert us["country_name"][0] == "United States1"
    assert us["quantity"].to_list() == [None, None]
    assert us["is_withheld"].to_list() == [True, True]
    aus = li.filter(country_iso3="AUS").sort("year")
    assert aus["quantity"].to_list() == [74700.0, 86000.0]
    assert aus["is_estimated"].to_list() == [False, True]
    arg = li.filter(country_name="Argentinae").sort("year")  # trailing 'e' estimate mark
    assert arg["country_iso3"].to_list() == ["ARG", "ARG"]
    assert arg["is_estimated"].to_list() == [True, True]
    assert arg["quantity"].to_list() == [6590.0, 9600.0]
    assert _one(li, country_iso3="BRA", year=2022)["is_estimated"] is True  # note
    kor = li.filter(country_iso3="KOR").sort("year")  # "Korea, Republic ofe", "—", "   NA"
    assert kor["quantity"].to_list() == [None, None]
    assert kor["is_withheld"].to_list() == [False, False]
    assert kor["is_estimated"].to_list() == [True, True]
    assert _one(li, country_iso3="ROW", year=2022)["quantity"] == 0.0  # Other countries6
    assert _one(li, country_iso3="WLD", year=2022)["quantity"] == 146000.0


def test_wide_other_files(wide: pl.DataFrame) -> None:
    laos = wide.filter(country_iso3="LAO").sort("year")  # " e1,000"
    assert laos["quantity"].to_list() == [1000.0, 1000.0]
    assert laos["is_estimated"].to_list() == [True, True]
    assert (
        _one(wide, source_commodity="Bismuth", country_iso3="WLD", year=2022)["quantity"] == 19400.0
    )  # "World total (rounded)10"
    assert (
        _one(wide, country_iso3="CHN", source_commodity="Bismuth", year=2022)["quantity"] == 16000.0
    )
    boron = wide.filter(source_commodity="Boron", year=2022)
    assert _one(boron, country_iso3="BOL")["source_stage"] == "ulexite"  # qualifier in type
    assert _one(boron, country_iso3="CHN")["source_stage"] == (
        "boric oxide eqivalent | boric oxide equivalent"
    )
    assert _one(boron, country_iso3="WLD")["quantity"] is None  # XX
    fluor = wide.filter(source_commodity="Fluorspar", country_iso3="MEX").sort("year")
    assert fluor["source_stage"].to_list() == ["Mine production, fluorspar"] * 2
    assert fluor["is_estimated"].to_list() == [False, True]  # Prod_kt_Est_2023
    assert fluor["unit"].to_list() == ["kt", "kt"]


def test_capacity_only_file_gives_no_rows() -> None:
    frame = read_usgs_world(DIR_2024 / "mcs2024-abras_world.csv")
    assert frame.height == 0
    assert frame.columns == COLUMNS


# -- MCS 2023 per-commodity files ------------------------------------------------------------
def test_2023_quirks(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="resilience.ingest.usgs"):
        frame = read_usgs_world(DIR_2023)
    assert set(frame["vintage"]) == {"MCS2023"}
    assert set(frame["year"]) == {2021, 2022}
    chrom = frame.filter(source_commodity="Chromium", country_iso3="ZAF").sort("year")
    assert chrom["unit"].to_list() == ["kt", "kt"]  # header says t; notes say thousand t
    assert chrom["quantity"].to_list() == [18600.0, 18000.0]
    assert "MCS2023 Chromium unit 't' corrected to 'kt'" in caplog.text
    zr = frame.filter(source_commodity="Zirconium and Hafnium", country_iso3="USA")
    assert zr["quantity"].to_list() == [None, None]  # "<100"
    assert zr["is_withheld"].to_list() == [True, True]
    assert zr["is_estimated"].to_list() == [True, True]  # Prod_kt_est_2021, Prod_kt_est_2022
    rutile = frame.filter(source_stage="Mine production: rutile")  # "Included with ilmenite"
    assert rutile["quantity"].to_list() == [None, None]
    assert not rutile["is_withheld"].any()
    world = _one(
        frame, source_commodity="Titanium Mineral Concentrates", country_iso3="WLD", year=2021
    )
    assert world["source_stage"] == (
        "World total mine production: ilmentite and rutile (rounded) | ilmenite and rutile"
    )
    mex = frame.filter(source_commodity="Vermiculite", country_iso3="MEX")  # "Less than ½ unit."
    assert mex["quantity"].to_list() == [None, None]
    assert not mex["is_withheld"].any()
    zwe = frame.filter(source_commodity="Vermiculite", country_iso3="ZWE").sort("year")
    assert zwe["is_estimated"].to_list() == [True, True]  # "Production in 2021 is also ..."


def test_estimate_mark_is_only_stripped_when_needed(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        LITHIUM_2024,
        {
            3: 'MCS2024,Greece,"Mine production, lithium content",1,2,,,,,,',
            4: 'MCS2024,Greecee,"Mine production, lithium content",1,2,,,,,,',
            5: 'MCS2024,Mozambique,"Mine production, lithium content",1,2,,,,,,',
            6: 'MCS2024,Other countriese,"Mine production, lithium content",1,2,,,,,,',
            7: None,
            8: None,
        },
        name="mcs2024-lithi_world.csv",
    )
    with pytest.raises(DataError, match="duplicate key") as exc:
        read_usgs_world(path)
    # Greece and Greecee are the same country: the second is a duplicate, named exactly
    assert "mcs2024-lithi_world.csv, row 4, column 'Country'" in str(exc.value)
    assert "(value: 'Greecee')" in str(exc.value)
    frame = read_usgs_world(_variant(tmp_path, path, {4: None}))
    flags = dict(
        zip(
            frame.filter(year=2022)["country_name"],
            frame.filter(year=2022)["is_estimated"],
            strict=True,
        )
    )
    assert flags == {
        "United States1": False,
        "Greece": False,
        "Mozambique": False,
        "Other countriese": True,
    }
    assert _one(frame, country_name="Other countriese", year=2022)["country_iso3"] == "ROW"


# -- bad input: one test per class, both layouts ----------------------------------------------
BAD_WIDE = [
    (
        "unknown country",
        {5: 'MCS2024,Atlantis,"Mine production, lithium content",2630,4900,,390000,,,,'},
        (5, "Country", "Atlantis"),
        "unknown country name",
    ),
    (
        "unparseable number",
        {4: 'MCS2024,Australia,"Mine production, lithium content",74700,86k,,6200000,,,,'},
        (4, "Prod_t_est_2023", "86k"),
        "not a number",
    ),
    (
        "negative quantity",
        {5: 'MCS2024,Brazil,"Mine production, lithium content",-2630,4900,,390000,,,,'},
        (5, "Prod_t_2022", "-2630"),
        "negative quantity",
    ),
    (
        "duplicate key",
        {6: 'MCS2024,Australia,"Mine production, lithium content",1,2,,,,,,'},
        (6, "Country", "Australia"),
        "duplicate key",
    ),
]

LI = "MCS2025,Lithium "  # the real file's trailing space in COMMODITY
BAD_LONG = [
    (
        "unknown country",
        {5: f'{LI},Brasil,"Mine production, lithium content",metric tons,5260,10000,,,,,,'},
        (5, "COUNTRY", "Brasil"),
        "unknown country name",
    ),
    (
        "unparseable number",
        {4: f'{LI},Australia,"Mine production, lithium content",metric tons,91700,88 000t,,,,,,'},
        (4, "PROD_EST_ 2024", "88 000t"),
        "not a number",
    ),
    (
        "negative quantity",
        {6: f'{LI},Canada ,"Mine production, lithium content",metric tons,-3240,4300,,,,,,'},
        (6, "PROD_2023", "-3240"),
        "negative quantity",
    ),
    (
        "duplicate key",
        {7: f'{LI},Australia ,"Mine production, lithium content",metric tons,1,2,,,,,,'},
        (7, "COUNTRY", "Australia"),
        "duplicate key",
    ),
]


def _assert_names(exc: DataError, file: str, row: int, column: str, value: str) -> None:
    message = str(exc)
    assert f"{file}, row {row}, column {column!r}:" in message, message
    assert f"(value: {value!r})" in message, message
    line = next(line for line in message.splitlines() if f"row {row}," in line)
    assert file in line
    assert column in line
    assert repr(value) in line


@pytest.mark.parametrize(
    ("case", "edit", "where", "reason"), BAD_WIDE, ids=[c[0] for c in BAD_WIDE]
)
def test_bad_input_per_commodity(
    tmp_path: Path, case: str, edit: dict[int, str | None], where: tuple[int, str, str], reason: str
) -> None:
    path = _variant(tmp_path, LITHIUM_2024, edit)
    with pytest.raises(DataError, match=reason) as exc:
        read_usgs_world(path)
    _assert_names(exc.value, "mcs2024-lithi_world.csv", *where)
    assert len(exc.value.problems) == 1


@pytest.mark.parametrize(
    ("case", "edit", "where", "reason"), BAD_LONG, ids=[c[0] for c in BAD_LONG]
)
def test_bad_input_long(
    tmp_path: Path, case: str, edit: dict[int, str | None], where: tuple[int, str, str], reason: str
) -> None:
    path = _variant(tmp_path, LONG, edit)
    with pytest.raises(DataError, match=reason) as exc:
        read_usgs_world(path)
    _assert_names(exc.value, "MCS2025_World_Data_small.csv", *where)
    assert len(exc.value.problems) == 1


def test_bad_input_missing_column(tmp_path: Path) -> None:
    wide = _variant(
        tmp_path,
        LITHIUM_2024,
        {1: "Source,Nation,Type,Prod_t_2022,Prod_t_est_2023,Prod_notes,Reserves_t,,,"},
    )
    with pytest.raises(DataError, match="required column is missing") as exc:
        read_usgs_world(wide)
    assert "mcs2024-lithi_world.csv, column 'Country': required column is missing" in str(exc.value)
    long = _variant(
        tmp_path,
        LONG,
        {1: "SOURCE,COMMODITY,COUNTRY,KIND,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES"},
    )
    with pytest.raises(DataError) as exc:
        read_usgs_world(long)
    assert "MCS2025_World_Data_small.csv, column 'TYPE': required column is missing" in str(
        exc.value
    )


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        LITHIUM_2024,
        {
            3: 'MCS2024,Argentinae,"Mine production, lithium content",x,9600,,,,,,',
            5: 'MCS2024,Brazil,"Mine production, lithium content",2630,y,,,,,,',
        },
    )
    with pytest.raises(DataError) as exc:
        read_usgs_world(path)
    assert [(p.row, p.column, p.value) for p in exc.value.problems] == [
        (3, "Prod_t_2022", "x"),
        (5, "Prod_t_est_2023", "y"),
    ]


def test_unrecognised_file_is_named(tmp_path: Path) -> None:
    salient = tmp_path / "mcs2024-lithi_salient.csv"
    salient.write_text("DataSource,Commodity,Year,USprod_t\nMCS2024,Lithium,2022,W\n")
    with pytest.raises(DataError, match="not a USGS MCS world production table") as exc:
        read_usgs_world(salient)
    assert str(exc.value).count("mcs2024-lithi_salient.csv") == 1
    renamed = tmp_path / "lithium.csv"
    renamed.write_bytes(LITHIUM_2024.read_bytes())
    with pytest.raises(DataError, match=re.escape("must be named mcsYYYY-<code>_world.csv")):
        read_usgs_world(renamed)
    stale = _variant(tmp_path, LITHIUM_2024, {}, name="mcs2023-lithi_world.csv")
    with pytest.raises(DataError, match="does not fit the release MCS2023") as exc:
        read_usgs_world(stale)
    assert "column 'Prod_t_est_2023'" in str(exc.value)
    with pytest.raises(FileNotFoundError):
        read_usgs_world(tmp_path / "absent.csv")


def test_directory_error_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a CSV, ignored")
    _variant(
        folder,
        LITHIUM_2024,
        {5: 'MCS2024,Atlantis,"Mine production, lithium content",2630,4900,,,,,,'},
    )
    (folder / "MCS2024-bismu_world.csv").write_bytes(
        (DIR_2024 / "MCS2024-bismu_world.csv").read_bytes()
    )
    with pytest.raises(DataError) as exc:
        read_usgs_world(folder)
    _assert_names(exc.value, "mcs2024-lithi_world.csv", 5, "Country", "Atlantis")


# -- the commodity map ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def commodity_map() -> pl.DataFrame:
    return load_commodity_map("usgs")


@pytest.fixture(scope="module")
def commodities() -> pl.DataFrame:
    return pl.read_csv(datasets_dir() / "commodities.csv", infer_schema=False)


def test_map_is_consistent(commodity_map: pl.DataFrame, commodities: pl.DataFrame) -> None:
    keys = commodity_map.select("source_commodity", "source_stage")
    assert keys.is_unique().all(), keys.filter(keys.is_duplicated())
    assert commodity_map["basis_factor"].null_count() == 0
    assert (commodity_map["basis_factor"] > 0).all()
    mapped = commodity_map.filter(pl.col("commodity").is_not_null())
    unknown = mapped.join(commodities, on=["commodity", "stage"], how="anti")
    assert unknown.height == 0, unknown
    out = commodity_map.filter(pl.col("commodity").is_null())
    assert out["note"].null_count() == 0  # every out-of-scope series says why
    assert {"Mercury", "Boron", "Gold"} <= set(out["source_commodity"])


def test_fixtures_map_to_canonical_units(
    long: pl.DataFrame, commodity_map: pl.DataFrame, commodities: pl.DataFrame
) -> None:
    mapped = map_production(long, commodity_map, commodities, file=LONG.name)
    ti = mapped.filter(commodity="titanium", stage="mining", year=2023).sort("source_row")
    # ilmenite + rutile per country (Australia's two rows summed), t TiO2; the world total
    # is USGS's combined one (the ilmenite-only and rutile-only totals are out of scope)
    assert dict(zip(ti["country_iso3"], ti["quantity"], strict=True)) == {
        "CHN": 3_250_000.0,
        "SLE": 110_000.0,
        "AUS": 600_000.0,
        "WLD": 9_430_000.0,
    }
    li = complete_rest_of_world(mapped).filter(commodity="lithium", year=2023)
    assert _one(li, country_iso3="AUS")["quantity"] == 91700.0
    assert _one(li, country_iso3="USA")["is_withheld"] is True
    ge = mapped.filter(commodity="germanium")
    assert ge["unit"].unique().to_list() == ["t"]
