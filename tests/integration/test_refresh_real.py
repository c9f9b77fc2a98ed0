"""`resilience data refresh` on the real downloads rebuilds the shipped tables exactly."""

import hashlib
import shutil
from pathlib import Path

import pytest

from resilience.errors import DataError
from resilience.ingest import baci
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


def _codes(shared_data: Path) -> dict[str, list[Path]]:
    """The real folder holds two BACI country tables; the shipped tables use V202501."""
    return {"baci_codes": [shared_data / "baci_codes" / "country_codes_V202501.csv"]}


@pytest.mark.integration
def test_refresh_reproduces_the_shipped_tables_byte_for_byte(shared_data, tmp_path):
    report = refresh(shared_data, tmp_path, use=_codes(shared_data))
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


@pytest.mark.integration
def test_the_real_folder_holds_two_baci_country_tables(shared_data):
    with pytest.raises(DataError) as info:
        find_inputs(shared_data)
    message = str(info.value)
    assert "country_codes_V202501.csv" in message
    assert "country_codes_V202401b.csv" in message
    assert "--use baci_codes=PATH" in message


def _downloads(shared_data: Path, tmp_path: Path) -> Path:
    """A download folder of links to the real files (spoil one by replacing its link)."""
    folder = tmp_path / "downloads"
    for path in shared_data.rglob("*"):
        if path.is_file():
            link = folder / path.relative_to(shared_data)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return folder


@pytest.mark.integration
@pytest.mark.parametrize("cut", ["truncated", "header-only"])
def test_a_spoiled_real_wgi_file_changes_nothing(shared_data, tmp_path, cut):
    downloads = _downloads(shared_data, tmp_path)
    wgi = downloads / "wgi" / "wgi_2024update_long.csv"
    data = wgi.read_bytes()
    wgi.unlink()
    wgi.write_bytes(data[:200_000] if cut == "truncated" else data.split(b"\n", 1)[0] + b"\n")
    out = tmp_path / "datasets"
    shutil.copytree(datasets_dir(), out, ignore=shutil.ignore_patterns("_build"))
    before = {p.name: _digest(p) for p in out.iterdir() if p.is_file()}
    with pytest.raises(DataError) as info:
        refresh(downloads, out, use=_codes(shared_data))
    assert "wgi_2024update_long.csv" in str(info.value)
    assert ("cut" if cut == "truncated" else "header only") in str(info.value)
    assert {p.name: _digest(p) for p in out.iterdir() if p.is_file()} == before


@pytest.mark.integration
def test_a_real_baci_csv_cut_at_300_kb_is_rejected(shared_data, tmp_path):
    source = shared_data / "baci_raw_materials" / "BACI_HS92_Y2022_V202401b_raw_materials.csv"
    cut = tmp_path / source.name
    cut.write_bytes(source.read_bytes()[:300_000])
    codes = baci.read_baci_country_codes(shared_data / "baci_codes" / "country_codes_V202501.csv")
    with pytest.raises(DataError) as info:
        baci.validate_baci(cut, codes)
    (problem,) = info.value.problems
    assert problem.reason.startswith("last record has") or "line break" in problem.reason
    assert problem.row is not None
    assert problem.row > 1000
