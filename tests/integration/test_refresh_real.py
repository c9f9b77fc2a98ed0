"""`resilience data refresh` on the real downloads rebuilds the shipped tables exactly."""

import hashlib
from pathlib import Path

import pytest

from resilience.errors import DataError
from resilience.ingest.refresh import find_inputs, refresh
from resilience.paths import datasets_dir

TABLES = (
    "production.csv",
    "trade.parquet",
    "governance.csv",
    "alignment.csv",
    "recycling.csv",
    "published_hhi.csv",
    "manifest.json",
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.integration
def test_refresh_reproduces_the_shipped_tables_byte_for_byte(shared_data, tmp_path):
    report = refresh(shared_data, tmp_path)
    assert report.rows["production.csv"] > 10_000
    for name in TABLES:
        assert _digest(tmp_path / name) == _digest(datasets_dir() / name), name


def test_missing_inputs_are_listed_by_name(tmp_path):
    (tmp_path / "MCS2025_World_Data.csv").write_text("x\n")
    with pytest.raises(DataError) as info:
        find_inputs(tmp_path)
    message = str(info.value)
    assert "column 'wgi': input file not found (value: 'wgi_*long.csv')" in message
    assert "usgs_2025" not in message
