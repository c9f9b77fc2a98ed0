"""Publishing a report partition atomically, and reading published partitions back.

Layout of a report folder ``ROOT`` (``--out``, or its ``output`` sub-folder)::

    ROOT/as_of=2026-11-20/table=dependency/part-0.parquet
    ROOT/as_of=2026-11-20/table=metrics/part-0.parquet
    ROOT/as_of=2026-11-20/table=scenarios/part-0.parquet
    ROOT/as_of=2026-11-20/table=scenario_summary/part-0.parquet
    ROOT/as_of=2026-11-20/table=frontier/part-0.parquet
    ROOT/as_of=2026-11-20/summary.html
    ROOT/as_of=2026-11-20/_manifest.json           (written last)
    ROOT/.lock-2026-11-20                          (the as-of's lock file, kept)
    ROOT/.staging-2026-11-20-<pid>/                (while a run writes; never read)

Guarantees
----------
* **Atomic publish.** A run writes everything into ``ROOT/.staging-<as_of>-<pid>/``,
  flushes every file to disk (``fsync``), writes ``_manifest.json`` last, flushes the
  folders, then moves the staging folder to ``ROOT/as_of=<as_of>`` with one rename. An
  existing partition of the same as-of is swapped out in one step where the kernel
  allows it (Linux ``renameat2(RENAME_EXCHANGE)``), else it is renamed aside to
  ``ROOT/.trash-<as_of>-<pid>`` just before the new one is renamed in (a reader can
  then find no partition for that as-of for an instant, never a partial one; a run
  killed between the two renames is repaired by the next run, which puts the old
  partition back before doing anything else). The replaced partition is deleted after.
* **Readers see whole partitions only.** A partition is a folder named
  ``as_of=YYYY-MM-DD`` holding a ``_manifest.json``; :func:`partitions` and
  :func:`read_report` skip anything else (dot-folders, staging and trash folders,
  folders without a manifest) and read only the files the manifest lists.
* **One run per as-of at a time.** :func:`as_of_lock` takes an exclusive ``flock`` on
  ``ROOT/.lock-<as_of>`` for the whole run (computing, writing, publishing). A second run
  of the same as-of waits up to ``wait_s`` seconds (default 0: it fails at once) and
  then fails with :class:`ReportLockedError` naming the process holding the lock. The
  lock is released by the kernel when its holder exits, even on SIGKILL. Runs of other
  as-of dates are independent; other partitions are never touched.
* **Failure leaves nothing visible.** An exception removes the staging folder; a killed
  run leaves a dot-folder that readers ignore and the next run (of any as-of whose lock
  is free) deletes.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resilience.errors import ResilienceError

__all__ = [
    "MANIFEST",
    "ReportLockedError",
    "as_of_lock",
    "clean_stale",
    "fsync_tree",
    "partitions",
    "publish_dir",
    "read_manifest",
    "staging_dir",
]

log = logging.getLogger(__name__)

#: File name of a partition's manifest; a partition without it does not exist.
MANIFEST = "_manifest.json"
_PARTITION = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})$")
_LEFTOVER = re.compile(r"^\.(staging|trash)-(\d{4}-\d{2}-\d{2})-\d+$")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class ReportLockedError(ResilienceError, RuntimeError):
    """Another run of the same as-of holds the lock."""


def partition_name(as_of: dt.date) -> str:
    """``as_of=YYYY-MM-DD``."""
    return f"as_of={as_of.isoformat()}"


def lock_path(root: Path, as_of: dt.date) -> Path:
    """The lock file of one as-of."""
    return root / f".lock-{as_of.isoformat()}"


def staging_dir(root: Path, as_of: dt.date) -> Path:
    """The staging folder of ``as_of`` for the current process (created empty)."""
    path = root / f".staging-{as_of.isoformat()}-{os.getpid()}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ----------------------------------------------------------------------------- lock
def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


@contextlib.contextmanager
def as_of_lock(root: Path, as_of: dt.date, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold the exclusive lock of ``as_of`` in ``root`` for the ``with`` block.

    Parameters
    ----------
    wait_s
        Seconds to wait for a running report of the same as-of (0: fail at once).

    Raises
    ------
    ReportLockedError
        The lock is still held after ``wait_s`` seconds.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = lock_path(root, as_of)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(wait_s, 0.0)
        logged = False
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                holder = path.read_text(encoding="utf-8").strip() or "unknown"
                raise ReportLockedError(
                    f"another report run for as_of {as_of.isoformat()} is in progress "
                    f"(process {holder}, lock {path}); nothing was written. Retry later or "
                    "pass --wait SECONDS to wait for it"
                )
            if not logged:
                log.warning("waiting up to %.0f s for the report lock %s", wait_s, path)
                logged = True
            time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        log.info("lock %s taken", path)
        yield path
    finally:
        os.close(fd)  # releases the flock


# ----------------------------------------------------------------------------- disk
def fsync_file(path: Path) -> None:
    """Flush one file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new and renamed names) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (the folders bottom-up)."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_dir(Path(folder))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2``); ``False`` if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def publish_dir(staging: Path, target: Path) -> None:
    """Move the complete ``staging`` folder to ``target``, replacing it atomically.

    ``staging`` must hold its manifest already and be flushed (:func:`fsync_tree`).
    """
    if not (staging / MANIFEST).is_file():
        raise ResilienceError(f"refusing to publish {staging}: it has no {MANIFEST}")
    parent = target.parent
    if not target.exists():
        staging.rename(target)
        fsync_dir(parent)
    elif _exchange(staging, target):
        fsync_dir(parent)
        shutil.rmtree(staging)  # now holds the replaced partition
    else:
        trash = parent / f".trash-{staging.name.removeprefix('.staging-')}"
        target.rename(trash)
        staging.rename(target)
        fsync_dir(parent)
        shutil.rmtree(trash)
    log.info("published %s", target)


def clean_stale(root: Path, as_of: dt.date | None = None) -> list[Path]:
    """Delete staging and trash folders that no running report owns.

    The folders of ``as_of`` are the caller's to clean (it holds that lock); those of
    other dates are cleaned only when their lock is free. A trash folder whose partition
    is missing (a run killed between the two renames of :func:`publish_dir`) is put
    back in place instead.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in sorted(root.iterdir()):
        m = _LEFTOVER.match(path.name)
        if m is None or not path.is_dir():
            continue
        date = dt.date.fromisoformat(m.group(2))
        if date != as_of:
            fd = os.open(lock_path(root, date), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not _try_lock(fd):
                    continue
                removed += _clean_one(root, path, m.group(1), date)
            finally:
                os.close(fd)
        else:
            removed += _clean_one(root, path, m.group(1), date)
    return removed


def _clean_one(root: Path, path: Path, kind: str, date: dt.date) -> list[Path]:
    target = root / partition_name(date)
    if kind == "trash" and not target.exists() and (path / MANIFEST).is_file():
        log.warning("restoring %s from %s (a run was killed while publishing)", target, path)
        path.rename(target)
        return []
    log.info("removing leftover %s", path)
    shutil.rmtree(path, ignore_errors=True)
    return [path]


# ----------------------------------------------------------------------------- reading
def read_manifest(partition: Path) -> dict[str, Any] | None:
    """The manifest of a partition folder, or ``None`` if it has none (or a broken one)."""
    path = partition / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


@dataclass(frozen=True)
class Partition:
    """A published partition: its as-of date, folder and manifest."""

    as_of: dt.date
    path: Path
    manifest: Mapping[str, Any]

    def files(self, table: str) -> list[Path]:
        """The Parquet files of ``table`` this partition's manifest lists (may be none)."""
        entry = self.manifest.get("tables", {}).get(table)
        if not entry:
            return []
        return [self.path / f["path"] for f in entry.get("files", [])]


def partitions(root: str | Path) -> list[Partition]:
    """Every published partition under ``root``, oldest first.

    Only folders named ``as_of=YYYY-MM-DD`` with a readable ``_manifest.json`` count:
    staging, trash and other dot-folders and folders without a manifest are skipped.
    """
    base = Path(root)
    found: list[Partition] = []
    if not base.is_dir():
        return found
    for path in sorted(base.iterdir()):
        m = _PARTITION.match(path.name)
        if m is None or not path.is_dir():
            continue
        try:
            date = dt.date.fromisoformat(m.group(1))
        except ValueError:
            continue
        manifest = read_manifest(path)
        if manifest is None:
            log.info("skipping %s: no %s", path, MANIFEST)
            continue
        found.append(Partition(date, path, manifest))
    return found


def scan_partition(part: Partition, table: str, schema: pl.Schema) -> pl.LazyFrame | None:
    """One partition's ``table`` under ``schema`` (missing columns read as nulls)."""
    files = part.files(table)
    if not files:
        return None
    return pl.scan_parquet(
        files,
        schema=schema,
        missing_columns="insert",
        extra_columns="ignore",
        hive_partitioning=False,
    ).with_columns(pl.lit(part.as_of, dtype=pl.Date).alias("as_of"))


def reuse_equal(
    previous: Partition | None,
    tables: Mapping[str, pl.DataFrame],
    inputs_sha256: str,
    *,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-9,
) -> dict[str, pl.DataFrame]:
    """Tables equal to the published ones of the same as-of, read back from its files.

    Polars' parallel group-by sums can differ in their last bits from one process to
    the next (the order of a float sum varies, pola-rs/polars#25163). The metrics build
    sums in a fixed order (:func:`resilience.metrics.sums.stable_sum`); this is the
    guard for any other float that a re-run on the same inputs computes differently. A table
    is taken back from ``previous`` (so its bytes, and the partition's hashes, stay the
    same) only when the previous partition was made from the same inputs
    (``inputs_sha256``), its file still has the hash its manifest records, it has the
    same columns and types, and every value is equal — floats within ``rel_tol`` and
    ``abs_tol``, everything else exactly.
    """
    from polars.testing import assert_frame_equal

    from resilience.report.manifest import sha256_file

    out = dict(tables)
    if previous is None or previous.manifest.get("inputs_sha256") != inputs_sha256:
        return out
    for name, frame in tables.items():
        entry = previous.manifest.get("tables", {}).get(name) or {}
        files = entry.get("files", [])
        if len(files) != 1 or not (previous.path / files[0]["path"]).is_file():
            continue
        path = previous.path / files[0]["path"]
        if sha256_file(path) != files[0].get("sha256"):
            log.warning("%s does not match its manifest; not reused", path)
            continue
        old = pl.read_parquet(path)
        if old.schema != frame.schema:
            continue
        try:
            assert_frame_equal(old, frame, check_exact=False, rel_tol=rel_tol, abs_tol=abs_tol)
        except AssertionError:
            continue
        log.info("table %s equals the published one: its file is kept", name)
        out[name] = old
    return out
