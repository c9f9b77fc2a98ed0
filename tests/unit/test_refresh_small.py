"""`data refresh` end to end on small downloads: all or nothing, shrink guard, candidates."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.ingest.coverage import ShrinkError
from resilience.ingest.inputs import TABLES
from resilience.ingest.refresh import find_inputs, refresh
from resilience.paths import project_root

SHIPPED = project_root() / "datasets"
DOWNLOADS = project_root() / "tests" / "data" / "refresh_downloads"


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "datasets"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("RESILIENCE_DATASETS", str(folder))
    return folder


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    shutil.copytree(DOWNLOADS, folder)
    return folder


def test_small_downloads_shrinking_the_shipped_tables_are_refused(datasets, downloads) -> None:
    before = _snapshot(datasets)
    with pytest.raises(ShrinkError) as info:
        refresh(downloads)
    message = str(info.value)
    assert "governance.csv: rows 17,976 -> 10" in message
    assert "production.csv: rows 18,794 -> 234" in message
    assert "--allow-shrink" in message
    assert "years lost: 2010" in message
    assert _snapshot(datasets) == before


def test_allow_shrink_writes_every_table_and_a_matching_manifest(datasets, downloads) -> None:
    hand_curated = {k: v for k, v in _snapshot(datasets).items() if k.split("/")[0] not in TABLES}
    hand_curated.pop("manifest.json")
    old_umask = os.umask(0o022)
    try:
        report = refresh(downloads, allow_shrink=True)
    finally:
        os.umask(old_umask)
    assert report.rows == {
        "production.csv": 234,  # 214 + the 20 rows of sources/separated_rare_earths.csv
        "trade.parquet": 6,
        "trade_repairs.parquet": 0,  # six flows: no band, nothing to repair
        "governance.csv": 10,
        "alignment.csv": 6,
        "recycling.csv": 4,
        "published_hhi.csv": 2,
        "eu_gas_imports_by_origin.csv": 10,
        "taiwan_chip_exports.parquet": 14,
    }
    assert any(s.startswith("governance.csv: rows 17,976 -> 10") for s in report.shrinks)
    manifest = json.loads((datasets / "manifest.json").read_text())
    after = _snapshot(datasets)
    for name in TABLES:
        assert manifest["tables"][name]["sha256"] == after[name], name
        assert (datasets / name).stat().st_mode & 0o777 == 0o644, name
    assert manifest["rows"] == report.rows
    assert {k: after[k] for k in hand_curated} == hand_curated
    assert not [p for p in datasets.iterdir() if p.name.startswith(".")]
    assert pl.read_csv(datasets / "governance.csv").height == 10


def test_a_second_refresh_of_the_same_downloads_is_identical(datasets, downloads) -> None:
    refresh(downloads, allow_shrink=True)
    first = _snapshot(datasets)
    refresh(downloads)  # no shrink now: same coverage
    assert _snapshot(datasets) == first


def test_a_failure_in_a_later_source_leaves_every_table_as_it_was(datasets, downloads) -> None:
    unga = downloads / "IdealpointestimatesAll_Jun2024.csv"
    unga.write_bytes(unga.read_bytes()[:-40])  # cut mid-record; production is built first
    before = _snapshot(datasets)
    with pytest.raises(DataError, match="IdealpointestimatesAll_Jun2024.csv"):
        refresh(downloads, allow_shrink=True)
    assert _snapshot(datasets) == before


def test_two_candidate_files_for_one_source_are_named(datasets, downloads) -> None:
    second = downloads / "newer" / "wgi_2025update_long.csv"
    second.parent.mkdir()
    shutil.copy(downloads / "wgi_2024update_long.csv", second)
    with pytest.raises(DataError) as info:
        find_inputs(downloads)
    message = str(info.value)
    assert "wgi_2024update_long.csv" in message
    assert "wgi_2025update_long.csv" in message
    assert "--use wgi=PATH" in message
    found = find_inputs(downloads, {"wgi": [second]})
    assert found["wgi"] == [second]


def test_two_files_for_one_usgs_commodity_clash(downloads) -> None:
    shutil.copy(
        downloads / "usgs" / "mcs2024-lithi_world.csv", downloads / "MCS2024-lithi_world.csv"
    )
    with pytest.raises(DataError, match="usgs_2024.*2 candidate files"):
        find_inputs(downloads)


def test_a_baci_csv_of_another_release_beside_the_extract_clashes(datasets, downloads) -> None:
    flows = pl.read_csv(downloads / "BACI_HS92_Y2022_V202401b.csv", infer_schema=False)
    flows.write_parquet(downloads / "baci_hs92_v202401b_raw_materials_1995_2024.parquet")
    (downloads / "BACI_HS92_Y2022_V202401b.csv").rename(downloads / "BACI_HS92_Y2022_V202501.csv")
    before = _snapshot(datasets)
    with pytest.raises(DataError, match="V202501.*differs from the extract"):
        refresh(downloads, allow_shrink=True)
    assert _snapshot(datasets) == before


def test_use_rejects_unknown_sources_and_missing_files(downloads) -> None:
    with pytest.raises(DataError) as info:
        find_inputs(downloads, {"wgii": [downloads / "x.csv"], "wgi": [downloads / "nope.csv"]})
    message = str(info.value)
    assert "column 'wgii': unknown source" in message
    assert "nope.csv" in message
    assert "file not found" in message


def test_refresh_to_another_folder_leaves_datasets_alone(datasets, downloads, tmp_path) -> None:
    before = _snapshot(datasets)
    target = tmp_path / "elsewhere"
    refresh(downloads, target)
    assert _snapshot(datasets) == before
    assert sorted(p.name for p in target.iterdir()) == sorted([*TABLES, "manifest.json"])
