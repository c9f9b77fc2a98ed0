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
* **Nothing is written through a symbolic link.** ``ROOT`` (``--out`` resolved, links
  in it followed: that path is the operator's choice) is opened once per step as a
  folder descriptor, its last component not followed; the lock, the staging folder,
  its ``table=`` folders and files, ``summary.html``, the manifest and the partition are
  created, renamed and deleted relative to descriptors, with ``O_NOFOLLOW``/``O_EXCL``
  and ``lstat`` checks. A symbolic link where one of them is expected (or a hard-linked
  lock file, or a published partition holding a link) is an
  :class:`~resilience.outputs.OutputPathError` naming the path and its target, raised
  before anything is computed or published; the link and its target are left as they
  were. Trees are deleted with :func:`shutil.rmtree` relative to a descriptor, which
  unlinks links instead of following them. Readers skip partitions that are links and
  manifest entries that leave the partition.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resilience.errors import ResilienceError
from resilience.outputs import DIR_MODE, OutputPathError, create_file_at, describe_link

__all__ = [
    "MANIFEST",
    "ReportLockedError",
    "as_of_lock",
    "check_partition",
    "clean_stale",
    "create_in",
    "fsync_tree",
    "make_subdir",
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
_RENAME_EXCHANGE = 2
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class ReportLockedError(ResilienceError, RuntimeError):
    """Another run of the same as-of holds the lock."""


def partition_name(as_of: dt.date) -> str:
    """``as_of=YYYY-MM-DD``."""
    return f"as_of={as_of.isoformat()}"


def lock_path(root: Path, as_of: dt.date) -> Path:
    """The lock file of one as-of."""
    return root / f".lock-{as_of.isoformat()}"


def _refuse_link(folder: Path, name: str, dir_fd: int, expected: str) -> os.stat_result | None:
    """``lstat`` of ``folder/name``; an error if it is a symbolic link (or not ``expected``).

    ``expected`` is ``"a folder"`` or ``"a file"``. ``None`` when nothing is there.
    """
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    path = folder / name
    if stat.S_ISLNK(st.st_mode):
        raise OutputPathError(
            f"{describe_link(path, dir_fd)} where the report expects {expected}; a report "
            "never writes or publishes through a link in its output folder. Remove the link "
            "and re-run; nothing was published"
        )
    is_dir = stat.S_ISDIR(st.st_mode)
    if (expected == "a folder") != is_dir:
        raise OutputPathError(
            f"{path} is {'a folder' if is_dir else 'a file'} where the report expects "
            f"{expected}; nothing was published"
        )
    return st


def _names(dir_fd: int) -> list[str]:
    """The entry names of the folder open as ``dir_fd``, sorted."""
    return sorted(os.listdir(dir_fd))  # noqa: PTH208 (a descriptor: no path to iterate)


@contextlib.contextmanager
def _open_dir(path: Path, dir_fd: int | None = None) -> Iterator[int]:
    """A descriptor of the folder ``path`` (``path.name`` inside ``dir_fd`` if given).

    The last component is never followed if it is a symbolic link; every later operation
    is made relative to the descriptor, so a folder swapped for a link mid-run is not
    written through.
    """
    name: str | Path = path.name if dir_fd is not None else path
    try:
        fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and path.is_symlink():
            raise OutputPathError(
                f"{describe_link(path)} where the report expects a folder; nothing was published"
            ) from exc
        raise
    try:
        yield fd
    finally:
        os.close(fd)


def staging_dir(root: Path, as_of: dt.date) -> Path:
    """The staging folder of ``as_of`` for the current process (created empty).

    Created with the umask's mode, without following a link at its name (an error).
    """
    name = f".staging-{as_of.isoformat()}-{os.getpid()}"
    with _open_dir(root) as fd:
        if _refuse_link(root, name, fd, "a folder") is not None:
            shutil.rmtree(name, dir_fd=fd)
        os.mkdir(name, DIR_MODE, dir_fd=fd)
    return root / name


def make_subdir(folder: Path, name: str) -> Path:
    """Create the new folder ``folder/name`` (never through a link); its path."""
    with _open_dir(folder) as fd:
        try:
            os.mkdir(name, DIR_MODE, dir_fd=fd)
        except FileExistsError:
            _refuse_link(folder, name, fd, "a new folder")
            raise
    return folder / name


@contextlib.contextmanager
def create_in(folder: Path, name: str) -> Iterator[Any]:
    """A binary handle on the new file ``folder/name``, flushed to disk when closed.

    The file must not exist and is never opened through a symbolic link (``O_EXCL``,
    ``O_NOFOLLOW``, relative to a descriptor of ``folder``); its mode is ``0o666`` less
    the umask.
    """
    with _open_dir(folder) as dir_fd:
        try:
            fd = create_file_at(name, dir_fd)
        except FileExistsError:
            _refuse_link(folder, name, dir_fd, "a new file")
            raise OutputPathError(f"{folder / name} exists already; nothing published") from None
    with os.fdopen(fd, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def check_partition(root: Path, as_of: dt.date) -> None:
    """Refuse a published partition of ``as_of`` that is, or holds, a symbolic link.

    Checked before anything is computed: ``as_of=<date>`` must be a folder (or absent),
    and its ``table=*`` folders, their files, ``_manifest.json`` and ``summary.html``
    must not be links (a run reads the published tables back and then replaces them).

    Raises
    ------
    OutputPathError
        Naming the path and where the link points.
    """
    name = partition_name(as_of)
    with _open_dir(root) as fd:
        if _refuse_link(root, name, fd, "a folder") is None:
            return
        partition = root / name
        with _open_dir(partition, fd) as part_fd:
            for entry in _names(part_fd):
                if entry.startswith("table="):
                    _refuse_link(partition, entry, part_fd, "a folder")
                    with _open_dir(partition / entry, part_fd) as table_fd:
                        for file in _names(table_fd):
                            _refuse_link(partition / entry, file, table_fd, "a file")
                elif entry in (MANIFEST, "summary.html"):
                    _refuse_link(partition, entry, part_fd, "a file")


# ----------------------------------------------------------------------------- lock
def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _open_lock(root: Path, root_fd: int, as_of: dt.date) -> int:
    """Open (or create) the lock file of ``as_of``: a plain file of its own, never a link.

    ``O_NOFOLLOW`` refuses a symbolic link at the lock's name; a hard link (more than one
    name for the file) or anything but a regular file is refused too, so the pid written
    into the lock can never land in a file outside the output folder.
    """
    name = lock_path(root, as_of).name
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
    try:
        fd = os.open(name, flags, 0o644, dir_fd=root_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputPathError(
                f"{describe_link(root / name, root_fd)} where the report expects its lock "
                "file; a report never writes through a link in its output folder. Remove "
                "the link and re-run; nothing was written"
            ) from exc
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        what = "has other names (hard links)" if stat.S_ISREG(st.st_mode) else "is not a file"
        raise OutputPathError(
            f"{root / name} {what} where the report expects its own lock file; remove it "
            "and re-run; nothing was written"
        )
    return fd


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
    with _open_dir(root) as root_fd:
        fd = _open_lock(root, root_fd, as_of)
    try:
        deadline = time.monotonic() + max(wait_s, 0.0)
        logged = False
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 64, 0).decode("utf-8", "replace").strip() or "unknown"
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
    """Flush one file's data to disk (never through a symbolic link)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new and renamed names) to disk."""
    with _open_dir(path) as fd:
        os.fsync(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (the folders bottom-up; links skipped)."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            if not (Path(folder) / name).is_symlink():
                fsync_file(Path(folder) / name)
        fsync_dir(Path(folder))


def _exchange(dir_fd: int, a: str, b: str) -> bool:
    """Swap two entries of one folder in one step (``renameat2``); ``False`` if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(dir_fd, os.fsencode(a), dir_fd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def _remove(folder: Path, name: str, dir_fd: int) -> None:
    """Delete ``folder/name``, a folder tree (its links unlinked, never followed) or a link."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        log.warning("removing %s (not a folder) instead of following it", folder / name)
        os.unlink(name, dir_fd=dir_fd)


def publish_dir(staging: Path, target: Path) -> None:
    """Move the complete ``staging`` folder to ``target``, replacing it atomically.

    ``staging`` must hold its manifest already and be flushed (:func:`fsync_tree`); both
    must be entries of one folder. Every step is relative to a descriptor of that folder
    and follows no link: a link at ``target`` (or at ``staging``, or at its manifest) is
    an error before anything moves.
    """
    parent = target.parent
    if staging.parent != parent:
        raise ResilienceError(f"refusing to publish {staging} to {target}: not in one folder")
    with _open_dir(parent) as fd:
        _refuse_link(parent, staging.name, fd, "a folder")
        with _open_dir(staging, fd) as staging_fd:
            if _refuse_link(staging, MANIFEST, staging_fd, "a file") is None:
                raise ResilienceError(f"refusing to publish {staging}: it has no {MANIFEST}")
        if _refuse_link(parent, target.name, fd, "a folder") is None:
            os.rename(staging.name, target.name, src_dir_fd=fd, dst_dir_fd=fd)
            os.fsync(fd)
        elif _exchange(fd, staging.name, target.name):
            os.fsync(fd)
            _remove(parent, staging.name, fd)  # now holds the replaced partition
        else:
            trash = f".trash-{staging.name.removeprefix('.staging-')}"
            os.rename(target.name, trash, src_dir_fd=fd, dst_dir_fd=fd)
            os.rename(staging.name, target.name, src_dir_fd=fd, dst_dir_fd=fd)
            os.fsync(fd)
            _remove(parent, trash, fd)
    log.info("published %s", target)


def clean_stale(root: Path, as_of: dt.date | None = None) -> list[Path]:
    """Delete staging and trash folders that no running report owns.

    The folders of ``as_of`` are the caller's to clean (it holds that lock); those of
    other dates are cleaned only when their lock is free. A trash folder whose partition
    is missing (a run killed between the two renames of :func:`publish_dir`) is put
    back in place instead. A symbolic link named like a staging or trash folder is an
    error (nothing is followed or deleted through it).

    Raises
    ------
    OutputPathError
        A leftover's name is a symbolic link, or another as-of's lock is not a plain file.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    with _open_dir(root) as fd:
        for name in _names(fd):
            m = _LEFTOVER.match(name)
            if m is None:
                continue
            if _refuse_link(root, name, fd, "a folder") is None:
                continue
            date = dt.date.fromisoformat(m.group(2))
            if date != as_of:
                lock_fd = _open_lock(root, fd, date)
                try:
                    if not _try_lock(lock_fd):
                        continue
                    removed += _clean_one(root, fd, name, m.group(1), date)
                finally:
                    os.close(lock_fd)
            else:
                removed += _clean_one(root, fd, name, m.group(1), date)
    return removed


def _clean_one(root: Path, fd: int, name: str, kind: str, date: dt.date) -> list[Path]:
    target = partition_name(date)
    if kind == "trash" and _refuse_link(root, target, fd, "a folder") is None:
        with _open_dir(root / name, fd) as trash_fd:
            whole = _refuse_link(root / name, MANIFEST, trash_fd, "a file") is not None
        if whole:
            log.warning(
                "restoring %s from %s (a run was killed while publishing)", root / target, name
            )
            os.rename(name, target, src_dir_fd=fd, dst_dir_fd=fd)
            return []
    log.info("removing leftover %s", root / name)
    shutil.rmtree(name, dir_fd=fd, ignore_errors=True)
    return [root / name]


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
        """The Parquet files of ``table`` this partition's manifest lists (may be none).

        A listed path that leaves the partition (absolute, ``..``) or goes through a
        symbolic link is skipped with a warning: a reader never reads outside it.
        """
        entry = self.manifest.get("tables", {}).get(table)
        if not entry:
            return []
        found: list[Path] = []
        for listed in entry.get("files", []):
            relative = str(listed.get("path", ""))
            if _plain_file(self.path, relative):
                found.append(self.path / relative)
            else:
                log.warning(
                    "%s: %s lists %r, not a plain file inside the partition; skipped",
                    self.path,
                    MANIFEST,
                    relative,
                )
        return found


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
        if path.is_symlink():
            log.warning("skipping %s: a symbolic link is not a partition", describe_link(path))
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


def _plain_file(base: Path, relative: str) -> bool:
    """Whether ``base/relative`` is a regular file reached through no link below ``base``."""
    if not relative or Path(relative).is_absolute():
        return False
    path = base
    for part in Path(relative).parts:
        if part == "..":
            return False
        path = path / part
        if path.is_symlink():
            return False
    return path.is_file()


def _read_plain(base: Path, relative: str) -> bytes | None:
    """The bytes of ``base/relative``, or ``None`` if it leaves ``base`` or crosses a link.

    Every folder on the way and the file are opened with ``O_NOFOLLOW``, each relative to
    the previous one, so a link swapped in after a check is not followed either.
    """
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or ".." in parts:
        return None
    try:
        with contextlib.ExitStack() as stack:
            fd = stack.enter_context(_open_dir(base))
            for part in parts[:-1]:
                fd = stack.enter_context(_open_dir(Path(part), fd))
            file_fd = os.open(
                parts[-1], os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=fd
            )
            with os.fdopen(file_fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return None
                return handle.read()
    except (OSError, OutputPathError):
        return None


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

    out = dict(tables)
    if previous is None or previous.manifest.get("inputs_sha256") != inputs_sha256:
        return out
    for name, frame in tables.items():
        entry = previous.manifest.get("tables", {}).get(name) or {}
        files = entry.get("files", [])
        data = _read_plain(previous.path, files[0]["path"]) if len(files) == 1 else None
        if data is None:
            continue
        if hashlib.sha256(data).hexdigest() != files[0].get("sha256"):
            log.warning(
                "%s does not match its manifest; not reused", previous.path / files[0]["path"]
            )
            continue
        old = pl.read_parquet(io.BytesIO(data))
        if old.schema != frame.schema:
            continue
        try:
            assert_frame_equal(old, frame, check_exact=False, rel_tol=rel_tol, abs_tol=abs_tol)
        except AssertionError:
            continue
        log.info("table %s equals the published one: its file is kept", name)
        out[name] = old
    return out
