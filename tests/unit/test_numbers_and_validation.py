import dataframely as dy
import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.numbers import parse_numbers
from resilience.schemas.validate import validate_frame


def test_parse_numbers_handles_agency_conventions():
    frame = pl.DataFrame(
        {"Prod_t_2022": ["1,900", "W", "NA", " 12 ", None, "—"], "source_row": [2, 3, 4, 5, 6, 7]}
    )
    out = parse_numbers(frame, "Prod_t_2022", file="f.csv", out="q")
    assert out["q"].to_list() == [1900.0, None, None, 12.0, None, None]
    assert out["q_withheld"].to_list() == [False, True, False, False, False, False]


def test_parse_numbers_rejects_text_with_file_row_column_value():
    frame = pl.DataFrame({"v": ["1", "about 5", "inf"], "source_row": [2, 3, 4]})
    with pytest.raises(DataError) as info:
        parse_numbers(frame, "v", file="f.csv")
    assert "f.csv, row 3, column 'v': not a number (value: 'about 5')" in str(info.value)
    assert "row 4" in str(info.value)


class _Schema(dy.Schema):
    year = dy.Int32(nullable=False, primary_key=True)
    iso3 = dy.String(nullable=False, primary_key=True, regex=r"^[A-Z]{3}$")
    quantity = dy.Float64(nullable=True, min=0)


def test_validate_frame_reports_every_failure_with_its_source_row():
    frame = pl.DataFrame(
        {
            "year": [2019, 2020, 2020, 2021],
            "iso3": ["CHN", "USA", "USA", "xx"],
            "quantity": [3.0, 1.0, -2.0, None],
            "source_row": [10, 11, 12, 13],
        }
    )
    with pytest.raises(DataError) as info:
        validate_frame(_Schema, frame, file="f.csv", column_names={"quantity": "Prod_t"})
    message = str(info.value)
    assert (
        "f.csv, row 12, column 'Prod_t': value below the allowed minimum (value: -2.0)" in message
    )
    assert "f.csv, row 11, column 'year, iso3': duplicate key (year, iso3)" in message
    assert (
        "f.csv, row 13, column 'iso3': value does not match the expected pattern (value: 'xx')"
        in message
    )


def test_validate_frame_missing_column_is_named():
    with pytest.raises(DataError, match=r"f.csv, column 'quantity': required column is missing"):
        validate_frame(_Schema, pl.DataFrame({"year": [1], "iso3": ["USA"]}), file="f.csv")


def test_validate_frame_keeps_valid_rows_and_provenance():
    frame = pl.DataFrame({"year": [2019], "iso3": ["CHN"], "quantity": [3.0], "source_row": [7]})
    out = validate_frame(_Schema, frame, file="f.csv")
    assert out.schema["year"] == pl.Int32
    assert out["source_row"].to_list() == [7]
