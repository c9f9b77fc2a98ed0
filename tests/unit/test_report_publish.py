"""Publishing mechanics: lock, atomic swap, leftovers, readers ignoring unfinished folders."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from resilience.outputs import OutputPathError
from resilience.report import read_report
from resilience.report.publish import (
    MANIFEST,
    ReportLockedError,
    as_of_lock,
    check_partition,
    clean_stale,
    create_in,
    make_subdir,
    partitions,
    publish_dir,
    reuse_equal,
    staging_dir,
)

DAY = dt.date(2026, 11, 20)


def _partition(folder: Path, rows: int, *, manifest: bool = True, inputs: str = "x") -> Path:
    """A minimal partition: one scenarios file and (optionally) its manifest."""
    (folder / "table=scenarios").mkdir(parents=True)
    frame = pl.DataFrame({"study": ["s"] * rows, "scenario": [f"sc{i}" for i in range(rows)]})
    frame.write_parquet(folder / "table=scenarios" / "part-0.parquet")
    if manifest:
        entry = {"files": [{"path": "table=scenarios/part-0.parquet", "sha256": "?"}]}
        body = {"inputs_sha256": inputs, "tables": {"scenarios": entry}}
        (folder / MANIFEST).write_text(json.dumps(body), encoding="utf-8")
    return folder


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    with as_of_lock(tmp_path, DAY) as path:
        assert path.read_text().strip().isdigit()
        with (
            pytest.raises(ReportLockedError, match="another report run for as_of 2026-11-20"),
            as_of_lock(tmp_path, DAY, wait_s=0.2),
        ):
            pass
        with as_of_lock(tmp_path, DAY + dt.timedelta(days=1)):
            pass  # another as-of is independent


def test_lock_waits_for_the_holder(tmp_path: Path) -> None:
    held = threading.Event()

    def hold() -> None:
        with as_of_lock(tmp_path, DAY):
            held.set()
            time.sleep(0.4)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    start = time.monotonic()
    with as_of_lock(tmp_path, DAY, wait_s=30):
        waited = time.monotonic() - start
    thread.join()
    assert 0.1 < waited < 30


def test_publish_replaces_a_partition_whole(tmp_path: Path) -> None:
    target = tmp_path / "as_of=2026-11-20"
    _partition(target, 2)
    staging = staging_dir(tmp_path, DAY)
    _partition(staging, 5)
    publish_dir(staging, target)
    assert not staging.exists()
    assert pl.read_parquet(target / "table=scenarios" / "part-0.parquet").height == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["as_of=2026-11-20"]


def test_publish_refuses_a_folder_without_manifest(tmp_path: Path) -> None:
    staging = staging_dir(tmp_path, DAY)
    _partition(staging, 1, manifest=False)
    with pytest.raises(Exception, match="no _manifest.json"):
        publish_dir(staging, tmp_path / "as_of=2026-11-20")


def test_readers_skip_staging_trash_and_manifestless_folders(tmp_path: Path) -> None:
    _partition(tmp_path / "as_of=2026-11-13", 2)
    _partition(tmp_path / "as_of=2026-11-20", 3, manifest=False)  # half-written by hand
    _partition(tmp_path / ".staging-2026-11-27-123", 4)
    _partition(tmp_path / ".trash-2026-11-06-9", 5)
    _partition(tmp_path / "as_of=garbage", 6)
    assert [p.as_of for p in partitions(tmp_path)] == [dt.date(2026, 11, 13)]
    frame = read_report(tmp_path, "scenarios").collect()
    assert frame.height == 2
    assert frame["as_of"].unique().to_list() == [dt.date(2026, 11, 13)]
    assert frame["status"].null_count() == 2  # columns of the current schema, as nulls


def test_clean_stale_removes_leftovers_and_restores_an_interrupted_swap(tmp_path: Path) -> None:
    _partition(tmp_path / ".staging-2026-11-20-111", 1)
    _partition(tmp_path / ".trash-2026-11-13-222", 2)  # killed between the two renames
    _partition(tmp_path / ".staging-2026-11-27-333", 1)
    with as_of_lock(tmp_path, dt.date(2026, 11, 27)):  # a run of that date is going on
        removed = clean_stale(tmp_path, DAY)
    assert [p.name for p in removed] == [".staging-2026-11-20-111"]
    assert (tmp_path / "as_of=2026-11-13" / MANIFEST).is_file()
    assert (tmp_path / ".staging-2026-11-27-333").is_dir()
    assert [p.name for p in clean_stale(tmp_path)] == [".staging-2026-11-27-333"]


def test_reuse_keeps_published_bytes_only_for_noise(tmp_path: Path) -> None:
    folder = tmp_path / "as_of=2026-11-20" / "table=scenarios"
    folder.mkdir(parents=True)
    old = pl.DataFrame({"scenario": ["a", "b"], "cost_usd": [1.0e9, 0.1 + 0.2]})
    old.write_parquet(folder / "part-0.parquet")
    from resilience.report.manifest import sha256_file

    entry = {
        "path": "table=scenarios/part-0.parquet",
        "sha256": sha256_file(folder / "part-0.parquet"),
    }
    manifest = {"inputs_sha256": "abc", "tables": {"scenarios": {"files": [entry]}}}
    (tmp_path / "as_of=2026-11-20" / MANIFEST).write_text(json.dumps(manifest))
    [previous] = partitions(tmp_path)
    noisy = pl.DataFrame({"scenario": ["a", "b"], "cost_usd": [1.0e9 * (1 + 2e-16), 0.3]})
    changed = pl.DataFrame({"scenario": ["a", "b"], "cost_usd": [1.0e9 * (1 + 1e-6), 0.3]})
    assert reuse_equal(previous, {"scenarios": noisy}, "abc")["scenarios"].equals(old)
    assert reuse_equal(previous, {"scenarios": changed}, "abc")["scenarios"].equals(changed)
    assert reuse_equal(previous, {"scenarios": noisy}, "other inputs")["scenarios"].equals(noisy)


# ----------------------------------------------------------------------------- symlinks
def _victim(tmp_path: Path) -> tuple[Path, bytes, int]:
    """A file outside the output folder: its path, bytes and mtime (must never change)."""
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"root:x:0:0\n")
    return victim, victim.read_bytes(), victim.stat().st_mtime_ns


def _untouched(victim: Path, data: bytes, mtime: int) -> None:
    assert victim.read_bytes() == data
    assert victim.stat().st_mtime_ns == mtime


def test_lock_refuses_a_symlink_and_a_hard_link(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    victim, data, mtime = _victim(tmp_path)
    (root / ".lock-2026-11-20").symlink_to(victim)
    with (
        pytest.raises(OutputPathError, match=r"lock-2026-11-20 is a symbolic link \(to .*victim"),
        as_of_lock(root, DAY),
    ):
        pass
    _untouched(victim, data, mtime)
    (root / ".lock-2026-11-20").unlink()
    (root / ".lock-2026-11-20").hardlink_to(victim)
    with (
        pytest.raises(OutputPathError, match=r"has other names \(hard links\)"),
        as_of_lock(root, DAY),
    ):
        pass
    _untouched(victim, data, mtime)
    (root / ".lock-2026-11-20").unlink()
    (root / ".lock-2026-11-20").symlink_to(tmp_path / "dangling")  # O_CREAT would create it
    with pytest.raises(OutputPathError, match="symbolic link"), as_of_lock(root, DAY):
        pass
    assert not (tmp_path / "dangling").exists()


def test_staging_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    import os

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (tmp_path / f".staging-2026-11-20-{os.getpid()}").symlink_to(outside)
    with pytest.raises(OutputPathError, match=r"staging-2026-11-20-\d+ is a symbolic link"):
        staging_dir(tmp_path, DAY)
    assert (outside / "keep").read_text() == "x"
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]


def test_clean_stale_refuses_a_leftover_that_is_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _partition(outside, 2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".trash-2026-11-13-9").symlink_to(outside)
    with pytest.raises(OutputPathError, match=r"trash-2026-11-13-9 is a symbolic link"):
        clean_stale(tmp_path / "out", DAY)
    assert not (tmp_path / "out" / "as_of=2026-11-13").exists()  # not restored through it
    assert (outside / MANIFEST).is_file()


def test_publish_refuses_a_partition_that_is_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _partition(outside, 2)
    root = tmp_path / "out"
    root.mkdir()
    target = root / "as_of=2026-11-20"
    target.symlink_to(outside)
    with pytest.raises(OutputPathError, match=r"as_of=2026-11-20 is a symbolic link"):
        check_partition(root, DAY)
    staging = staging_dir(root, DAY)
    _partition(staging, 5)
    with pytest.raises(OutputPathError, match=r"as_of=2026-11-20 is a symbolic link"):
        publish_dir(staging, target)
    assert target.is_symlink()
    assert pl.read_parquet(outside / "table=scenarios" / "part-0.parquet").height == 2
    assert partitions(root) == []  # readers do not follow it either


@pytest.mark.parametrize("entry", ["table=scenarios", MANIFEST, "summary.html"])
def test_a_published_partition_holding_a_link_is_refused(tmp_path: Path, entry: str) -> None:
    root = tmp_path / "out"
    partition = _partition(root / "as_of=2026-11-20", 2)
    (partition / "summary.html").write_text("<html></html>")
    outside = tmp_path / "outside"
    outside.mkdir()
    moved = outside / entry
    (partition / entry).rename(moved)
    (partition / entry).symlink_to(moved)
    with pytest.raises(OutputPathError, match=rf"{entry} is a symbolic link \(to .*outside"):
        check_partition(root, DAY)


def test_check_partition_refuses_a_file_and_accepts_a_real_partition(tmp_path: Path) -> None:
    check_partition(tmp_path, DAY)  # nothing there: fine
    _partition(tmp_path / "as_of=2026-11-20", 2)
    check_partition(tmp_path, DAY)
    (tmp_path / "as_of=2026-11-27").write_text("x")
    with pytest.raises(OutputPathError, match=r"as_of=2026-11-27 is a file where .* a folder"):
        check_partition(tmp_path, DAY + dt.timedelta(days=7))


def test_files_in_staging_are_new_and_never_written_through_a_link(tmp_path: Path) -> None:
    victim, data, mtime = _victim(tmp_path)
    staging = staging_dir(tmp_path, DAY)
    (staging / "summary.html").symlink_to(victim)
    with (
        pytest.raises(OutputPathError, match=r"summary.html is a symbolic link"),
        create_in(staging, "summary.html") as handle,
    ):
        handle.write(b"pwned")
    _untouched(victim, data, mtime)
    (staging / "table=metrics").symlink_to(victim.parent)
    with pytest.raises(OutputPathError, match=r"table=metrics is a symbolic link"):
        make_subdir(staging, "table=metrics")
    folder = make_subdir(staging, "table=dependency")
    with create_in(folder, "part-0.parquet") as handle:
        handle.write(b"PAR1")
    assert (folder / "part-0.parquet").read_bytes() == b"PAR1"
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim.txt"]


def test_readers_never_read_outside_a_partition(tmp_path: Path) -> None:
    outside = tmp_path / "outside.parquet"
    pl.DataFrame({"study": ["secret"], "scenario": ["x"]}).write_parquet(outside)
    root = tmp_path / "out"
    partition = _partition(root / "as_of=2026-11-20", 2)
    (partition / "table=scenarios" / "link.parquet").symlink_to(outside)
    manifest = json.loads((partition / MANIFEST).read_text())
    manifest["tables"]["scenarios"]["files"] += [
        {"path": "../../outside.parquet"},
        {"path": str(outside)},
        {"path": "table=scenarios/link.parquet"},
    ]
    (partition / MANIFEST).write_text(json.dumps(manifest))
    [part] = partitions(root)
    assert part.files("scenarios") == [partition / "table=scenarios" / "part-0.parquet"]
    frame = read_report(root, "scenarios").collect()
    assert frame.height == 2
    assert "secret" not in frame["study"].to_list()


def test_reuse_never_reads_a_published_table_through_a_link(tmp_path: Path) -> None:
    from resilience.report.manifest import sha256_file

    secret = pl.DataFrame({"scenario": ["a", "b"], "cost_usd": [1.0, 2.0]})
    outside = tmp_path / "outside.parquet"
    secret.write_parquet(outside)
    folder = tmp_path / "out" / "as_of=2026-11-20" / "table=scenarios"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").symlink_to(outside)  # hash matches the manifest's
    entry = {"path": "table=scenarios/part-0.parquet", "sha256": sha256_file(outside)}
    manifest = {"inputs_sha256": "abc", "tables": {"scenarios": {"files": [entry]}}}
    (folder.parent / MANIFEST).write_text(json.dumps(manifest))
    [previous] = partitions(tmp_path / "out")
    fresh = pl.DataFrame({"scenario": ["a", "b"], "cost_usd": [1.0, 2.0 + 1e-15]})
    assert reuse_equal(previous, {"scenarios": fresh}, "abc")["scenarios"] is fresh
    (folder / "part-0.parquet").unlink()
    secret.write_parquet(folder / "part-0.parquet")  # a plain file: reused
    assert reuse_equal(previous, {"scenarios": fresh}, "abc")["scenarios"] is not fresh
