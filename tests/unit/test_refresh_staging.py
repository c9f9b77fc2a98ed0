"""The refresh's write-ahead journal: commit, failure, roll-forward, stale staging, umask."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from resilience.errors import ResilienceError
from resilience.ingest.staging import (
    COMMIT_RECORD,
    STAGING_PREFIX,
    RefreshBusyError,
    _locked,
    pending_commit,
    recover,
    transaction,
)
from resilience.paths import current_umask


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "datasets"
    (folder / "maps").mkdir(parents=True)
    (folder / "maps" / "usgs_commodities.csv").write_text("hand,curated\n")
    (folder / "a.csv").write_text("old a\n")
    (folder / "b.csv").write_text("old b\n")
    (folder / "manifest.json").write_text('{"old": true}\n')
    return folder


def test_commit_swaps_every_file_and_leaves_nothing_behind(out: Path) -> None:
    with transaction(out) as txn:
        txn.path("a.csv").write_text("new a\n")
        txn.path("b.csv").write_text("new b\n")
        txn.path("manifest.json").write_text('{"new": true}\n')
        txn.commit()
    assert (out / "a.csv").read_text() == "new a\n"
    assert (out / "b.csv").read_text() == "new b\n"
    assert json.loads((out / "manifest.json").read_text()) == {"new": True}
    assert (out / "maps" / "usgs_commodities.csv").read_text() == "hand,curated\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "manifest.json", "maps"]


def test_an_exception_before_commit_leaves_the_folder_byte_identical(out: Path) -> None:
    before = _snapshot(out)
    listing = sorted(p.name for p in out.iterdir())

    def fail_half_way() -> None:
        with transaction(out) as txn:
            txn.path("a.csv").write_text("new a\n")
            raise RuntimeError("adapter failed")

    with pytest.raises(RuntimeError):
        fail_half_way()
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == listing


def test_files_respect_the_umask(out: Path) -> None:
    old = os.umask(0o027)
    try:
        with transaction(out) as txn:
            txn.path("a.csv").write_text("new a\n")
            txn.path("manifest.json").write_text("{}\n")
            txn.commit()
    finally:
        os.umask(old)
    assert (out / "a.csv").stat().st_mode & 0o777 == 0o640
    assert (out / "manifest.json").stat().st_mode & 0o777 == 0o640


def _half_done(out: Path) -> Path:
    """A swap interrupted after its commit record and the first rename."""
    staging = out / f"{STAGING_PREFIX}123-abcd"
    staging.mkdir()
    (staging / "b.csv").write_text("new b\n")
    (staging / "manifest.json").write_text('{"new": true}\n')
    (out / "a.csv").write_text("new a\n")  # already moved
    record = {"staging": staging.name, "files": ["a.csv", "b.csv", "manifest.json"]}
    (out / COMMIT_RECORD).write_text(json.dumps(record))
    return staging


def test_recover_rolls_a_committed_swap_forward_idempotently(out: Path) -> None:
    staging = _half_done(out)
    assert pending_commit(out) is not None
    assert recover(out) is True
    assert (out / "b.csv").read_text() == "new b\n"
    assert json.loads((out / "manifest.json").read_text()) == {"new": True}
    assert pending_commit(out) is None
    assert not staging.exists()
    assert recover(out) is False  # nothing left to do


def test_the_next_refresh_finishes_a_pending_swap_then_discards_stale_staging(out: Path) -> None:
    _half_done(out)
    stale = out / f"{STAGING_PREFIX}999-dead"
    stale.mkdir()
    (stale / "a.csv").write_text("never committed\n")
    draft = out / f"{COMMIT_RECORD}.999.tmp"
    draft.write_text('{"staging": "')
    with transaction(out) as txn:
        assert (out / "b.csv").read_text() == "new b\n"
        assert not stale.exists()
        assert not draft.exists()
        txn.path("a.csv").write_text("third a\n")
        txn.path("manifest.json").write_text("{}\n")
        txn.commit()
    assert (out / "a.csv").read_text() == "third a\n"
    assert (out / "b.csv").read_text() == "new b\n"


def test_a_second_refresh_on_the_same_folder_is_refused(out: Path) -> None:
    with _locked(out, wait=False) as mine:
        assert mine
        with pytest.raises(RefreshBusyError, match="another refresh"), transaction(out):
            pass


def test_commit_needs_the_manifest_staged(out: Path) -> None:
    before = _snapshot(out)

    def commit_without_manifest() -> None:
        with transaction(out) as txn:
            txn.path("a.csv").write_text("new a\n")
            txn.commit()

    with pytest.raises(ValueError, match=r"manifest\.json must be staged"):
        commit_without_manifest()
    assert _snapshot(out) == before


def test_current_umask_reads_without_changing_it() -> None:
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert current_umask() == 0o027
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ('{"staging": "../elsewhere", "files": ["a.csv"]}', "refusing to move"),
        ('{"staging": ".refresh-staging-1", "files": ["../../etc/passwd"]}', "refusing to move"),
        ('{"staging": ', "not a valid commit record"),
    ],
)
def test_a_forged_or_broken_commit_record_moves_nothing(out: Path, record: str, words: str):
    (out / COMMIT_RECORD).write_text(record)
    before = _snapshot(out)
    with pytest.raises(ResilienceError, match=words):
        recover(out)
    assert _snapshot(out) == before
