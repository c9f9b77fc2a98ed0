"""The IEA 'Rest of world' that counts a named country a second time is taken apart."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from resilience import data
from resilience.errors import DataError
from resilience.ingest.iea import read_iea_critical_minerals

HEADER = "mineral,stage,country,row_type,year,scenario,value,unit\n"


def _block(rest: str, total: str = "2000") -> str:
    """A nickel mining block whose rest of world is ``rest`` (true remainder: 100 kt).

    Indonesia 1500 + Philippines 300 + Australia 100 = 1900 named, total 2000: rest of
    world is 100; the IEA sheet's 200 is 2000 - 1500 - 300, Australia counted twice.
    """
    rows = [
        ("Indonesia", "country", "1500"),
        ("Philippines", "country", "300"),
        ("Australia", "country", "100"),
        ("Rest of world", "rest_of_world", rest),
        ("Total", "total", total),
    ]
    return "".join(
        f"Nickel,Mining,{name},{kind},2023,base case,{value},kt\n" for name, kind, value in rows
    )


# A block that adds up (cobalt refining: 150 + 30 + rest 20 = 200) is left alone.
GOOD_BLOCK = (
    "Cobalt,Refining,China,country,2023,base case,150,kt\n"
    "Cobalt,Refining,Finland,country,2023,base case,30,kt\n"
    "Cobalt,Refining,Rest of world,rest_of_world,2023,base case,20,kt\n"
    "Cobalt,Refining,Total,total,2023,base case,200,kt\n"
)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "iea_row.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _quantity(frame: pl.DataFrame, mineral: str, iso3: str) -> float:
    return frame.filter((pl.col("source_commodity") == mineral) & (pl.col("country_iso3") == iso3))[
        "quantity"
    ].item()


def test_rest_of_world_counting_a_named_country_is_corrected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, _block("200") + GOOD_BLOCK)
    with caplog.at_level(logging.WARNING, logger="resilience.ingest.iea"):
        frame = read_iea_critical_minerals(path)
    assert _quantity(frame, "Nickel", "ROW") == pytest.approx(100.0)
    assert _quantity(frame, "Nickel", "AUS") == pytest.approx(100.0)  # the country stays
    assert _quantity(frame, "Cobalt", "ROW") == pytest.approx(20.0)
    named = frame.filter(~pl.col("country_iso3").is_in(["ROW", "WLD"]))
    nickel = frame.filter(pl.col("source_commodity") == "Nickel")
    assert named.filter(pl.col("source_commodity") == "Nickel")["quantity"].sum() + _quantity(
        frame, "Nickel", "ROW"
    ) == pytest.approx(_quantity(nickel, "Nickel", "WLD"))
    warned = [r.getMessage() for r in caplog.records if "Rest of world" in r.getMessage()]
    assert len(warned) == 1
    assert "Nickel - Mining 2023" in warned[0]
    assert "Australia" in warned[0]
    assert "set to total - named countries = 100 kt" in warned[0]


def test_rounding_gap_is_not_a_double_count(tmp_path: Path) -> None:
    path = _write(tmp_path, _block("100.04"))
    frame = read_iea_critical_minerals(path)
    assert _quantity(frame, "Nickel", "ROW") == pytest.approx(100.04)


def test_unexplained_gap_is_an_error_naming_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path, _block("250"))  # 150 kt too many: no named country has 150
    with pytest.raises(
        DataError,
        match=r"iea_row\.csv, row 5, column 'value'.*Nickel - Mining 2023.*150 kt.*no named",
    ):
        read_iea_critical_minerals(path)


@pytest.mark.integration
def test_the_three_iea_blocks_on_the_real_file(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = shared_data / "iea_critical_minerals" / "iea_cm_supply_by_country_base_case_long.csv"
    with caplog.at_level(logging.WARNING, logger="resilience.ingest.iea"):
        frame = read_iea_critical_minerals(path)
    rest = {
        (m, s): q
        for m, s, q in frame.filter(pl.col("country_iso3") == "ROW")
        .select("source_commodity", "source_stage", "quantity")
        .iter_rows()
    }
    # 3450.5 - (1787 + 390.7 + 210 + 193.8 + 193.7 + 111.4) = 563.9 (the sheet: 675.3)
    assert rest[("Nickel", "Mining")] == pytest.approx(563.9, abs=1e-6)
    # 3796.1 - 3042.3 = 753.8 (the sheet: 889.7, Canada's 135.9 twice)
    assert rest[("Nickel", "Refining")] == pytest.approx(753.8, abs=1e-6)
    # 2037.2 - 2020.5 = 16.7 (the sheet: 44.9, Germany's 28.2 twice)
    assert rest[("Graphite", "Battery grade")] == pytest.approx(16.7, abs=1e-6)
    assert rest[("Cobalt", "Mining")] == pytest.approx(47.9, abs=1e-6)  # untouched
    warned = " ".join(r.getMessage() for r in caplog.records)
    for country in ("Australia", "Canada", "Germany"):
        assert country in warned


def test_shipped_iea_blocks_add_up_to_their_totals() -> None:
    """Needs the tables regenerated after the fix (``resilience data refresh``)."""
    iea = data.load_production().filter(pl.col("source").str.starts_with("IEA Critical"))
    sums = iea.group_by("commodity", "stage", "year").agg(
        pl.col("quantity").filter(pl.col("country_iso3") != "WLD").sum().alias("parts"),
        pl.col("quantity").filter(pl.col("country_iso3") == "WLD").first().alias("total"),
    )
    gaps = sums.filter((pl.col("parts") - pl.col("total")).abs() > 1.0)  # tonnes
    assert gaps.height == 0, gaps
    nickel = iea.filter(
        (pl.col("commodity") == "nickel")
        & (pl.col("stage") == "mining")
        & (pl.col("country_iso3") == "ROW")
    )
    assert nickel["quantity"].item() == pytest.approx(563_900.0, rel=1e-6)
