"""Loaders verify the shipped tables against manifest.json, warn on a mismatch, stay fast."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience import data
from resilience.ingest.inputs import OPTIONAL_TABLES, TABLES
from resilience.ingest.staging import COMMIT_RECORD, STAGING_PREFIX
from resilience.manifest_check import clear_cache, verify_table
from resilience.paths import project_root

SHIPPED = project_root() / "datasets"


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "datasets"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("RESILIENCE_DATASETS", str(folder))
    clear_cache()
    yield folder
    clear_cache()


def test_every_shipped_table_matches_the_shipped_manifest() -> None:
    clear_cache()
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    # China's monthly exports are built locally and never shipped (datasets/README.md)
    assert sorted(set(manifest["tables"]) - set(OPTIONAL_TABLES)) == sorted(TABLES)
    assert {name: verify_table(SHIPPED / name) for name in TABLES} == dict.fromkeys(TABLES, "ok")


def test_an_edited_table_is_reported_on_load(copy: Path, caplog) -> None:
    path = copy / "governance.csv"
    text = path.read_text()
    path.write_text(text.replace("1.1213", "1.1214", 1))  # same size, different bytes
    with caplog.at_level(logging.WARNING):
        frame = data.load_governance()
    assert frame.height == 17_976  # still loaded
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "governance.csv differs from" in warnings[0]
    assert "manifest.json" in warnings[0]
    assert verify_table(path) == "differs"
    assert verify_table(copy / "production.csv") == "ok"


def test_the_same_problem_is_reported_once_per_process(copy: Path, caplog) -> None:
    path = copy / "recycling.csv"
    path.write_text(path.read_text().replace(",0.32,", ",0.33,", 1))
    with caplog.at_level(logging.WARNING):
        data.load_recycling()
        data.load_recycling()
    assert sum("recycling.csv differs" in r.getMessage() for r in caplog.records) == 1


def test_a_pending_commit_is_rolled_forward_by_a_load(copy: Path, caplog) -> None:
    # a refresh killed after its commit record and before the manifest was moved
    staging = copy / f"{STAGING_PREFIX}1-feed"
    staging.mkdir()
    manifest = json.loads((copy / "manifest.json").read_text())
    (staging / "manifest.json").write_text(json.dumps(manifest))
    plan = {"staging": staging.name, "files": ["manifest.json"]}
    (copy / COMMIT_RECORD).write_text(json.dumps(plan))
    with caplog.at_level(logging.WARNING):
        data.load_alignment()
    assert not (copy / COMMIT_RECORD).exists()
    assert not staging.exists()
    assert any("completed an interrupted refresh" in r.getMessage() for r in caplog.records)


def test_a_pending_commit_that_cannot_be_completed_is_reported(copy: Path, caplog) -> None:
    plan = {"staging": f"{STAGING_PREFIX}gone", "files": ["alignment.csv"]}
    (copy / COMMIT_RECORD).write_text(json.dumps(plan))
    (copy / "alignment.csv").unlink()
    with caplog.at_level(logging.WARNING):
        assert verify_table(copy / "governance.csv") == "pending"
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert COMMIT_RECORD in message
    assert "cannot be completed" in message


def test_hashing_is_cached_by_size_and_mtime(copy: Path) -> None:
    path = copy / "production.csv"
    start = time.perf_counter()
    assert verify_table(path) == "ok"
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100):
        verify_table(path)
    repeat = (time.perf_counter() - start) / 100
    # a cached check is a few stat() calls; the first one reads and hashes 2.3 MB
    assert repeat < first
    assert repeat < 0.002


def test_a_missing_manifest_is_reported_for_the_datasets_folder_only(copy, tmp_path, caplog):
    (copy / "manifest.json").unlink()
    other = tmp_path / "mine"
    other.mkdir()
    shutil.copy(copy / "alignment.csv", other / "alignment.csv")
    with caplog.at_level(logging.WARNING):
        assert verify_table(other / "alignment.csv") == "no-manifest"
        assert caplog.records == []
        assert verify_table(copy / "alignment.csv") == "no-manifest"
    (record,) = caplog.records
    assert "no manifest.json" in record.getMessage()
