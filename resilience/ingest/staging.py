"""Swap a set of refreshed tables into a folder, all or nothing, even under SIGKILL.

Renaming one file over another is atomic; renaming seven is not. A refresh therefore goes
through a small write-ahead journal in the destination folder ``OUT`` (``datasets/``):

1. **Stage.** Every table and the new ``manifest.json`` (holding each table's SHA-256
   and size) are written into ``OUT/.refresh-staging-<pid>-<random>/``, each file
   flushed to disk, the folder too. ``OUT`` itself is not touched.
2. **Commit.** ``OUT/.refresh-commit.json`` is written (temporary file, ``fsync``,
   atomic rename, ``fsync`` of ``OUT``). It names the staging folder and the files in
   the order they will be moved, ``manifest.json`` last. From this instant the refresh
   has happened; before it, it has not.
3. **Roll forward.** Each staged file is renamed over its target (a file already moved
   is skipped, so this step can be repeated), then ``OUT`` is flushed, the commit
   record removed and the empty staging folder deleted.

A process killed at any point leaves one of two states:

* **no commit record**: ``OUT`` holds exactly the previous tables and manifest (a
  leftover staging folder is only litter: the next refresh deletes it);
* **a commit record**: the new tables are all staged or already in place;
  :func:`recover` (run by the next refresh, and by every table load through
  :mod:`resilience.manifest_check`) finishes step 3, idempotently, after which ``OUT``
  holds exactly the new tables and manifest.

So ``OUT``'s files always match a manifest once any reader has looked. A failure
(exception) before the commit removes the staging folder and leaves ``OUT`` byte-for-byte
as it was. Only the files a refresh writes are touched; the hand-curated files beside them
(``commodities.csv``, ``maps/``, ``sources/`` ...) are never staged, moved or deleted.

Concurrency: a refresh holds an exclusive ``flock`` on ``OUT`` itself (a directory file
descriptor, so no lock file is left behind) from start to finish; :func:`recover` takes
the same lock without waiting and leaves the work to whoever holds it. Files are created
with the process umask (``0o666 & ~umask``), not ``mkstemp``'s ``0o600``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from resilience.errors import ResilienceError

__all__ = [
    "COMMIT_RECORD",
    "STAGING_PREFIX",
    "RefreshBusyError",
    "Transaction",
    "create_file",
    "pending_commit",
    "recover",
    "transaction",
]

log = logging.getLogger(__name__)

#: Name of the commit record (write-ahead journal entry) in the destination folder.
COMMIT_RECORD = ".refresh-commit.json"
#: Prefix of staging folders in the destination folder.
STAGING_PREFIX = ".refresh-staging-"
#: Test hook: a comma-separated list of step names at which the process stops itself with
#: SIGKILL (``staged``, ``committed``, ``moved:<file>``, ``moved-all``, ``uncommitted``).
KILL_AT_ENV = "RESILIENCE_REFRESH_KILL_AT"


class RefreshBusyError(ResilienceError):
    """Another refresh holds the destination folder."""


def create_file(path: Path) -> None:
    """Create an empty file at ``path`` with the umask's permissions (fail if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    os.close(fd)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kill_point(step: str) -> None:
    """The documented test hook: SIGKILL this process at ``step`` when asked to."""
    wanted = os.environ.get(KILL_AT_ENV)
    if wanted and step in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def _locked(out: Path, *, wait: bool) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on the folder ``out``; yields whether it was obtained."""
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def pending_commit(out: Path) -> Path | None:
    """The commit record in ``out`` when a swap is unfinished, else ``None``."""
    record = out / COMMIT_RECORD
    return record if record.exists() else None


def _plain_name(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "/" not in value and value not in (".", "..")


def _read_plan(record: Path) -> tuple[str, list[str]]:
    """The commit record, checked: a staging folder here and plain file names only."""
    text = record.read_text()
    try:
        plan = json.loads(text)
        staging, files = plan["staging"], plan["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ResilienceError(
            f"{record}: not a valid commit record ({exc}); delete it and run "
            "`resilience data refresh` again"
        ) from exc
    if not (
        _plain_name(staging)
        and str(staging).startswith(STAGING_PREFIX)
        and isinstance(files, list)
        and all(_plain_name(f) and not str(f).startswith(".") for f in files)
    ):
        raise ResilienceError(
            f"{record}: names a staging folder or files outside the folder "
            f"({staging!r}, {files!r}); refusing to move anything"
        )
    return str(staging), [str(f) for f in files]


def _roll_forward(out: Path) -> bool:
    """Finish the swap a commit record describes (caller holds the lock). Idempotent."""
    record = out / COMMIT_RECORD
    try:
        staging_name, files = _read_plan(record)
    except FileNotFoundError:
        return False
    staging = out / staging_name
    for name in files:
        source = staging / name
        if source.exists():
            source.replace(out / name)
            _kill_point(f"moved:{name}")
        elif not (out / name).exists():
            raise ResilienceError(
                f"{record}: staged file {source} is missing and {out / name} does not exist; "
                "the refresh cannot be completed: run `resilience data refresh` again"
            )
    _kill_point("moved-all")
    _fsync_path(out)
    record.unlink()
    _fsync_path(out)
    _kill_point("uncommitted")
    shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: refresh committed (%d files)", out, len(files))
    return True


def recover(out: Path) -> bool:
    """Finish an interrupted refresh in ``out`` when a commit record is pending.

    Returns ``True`` when a swap was completed here; ``False`` when there was none, or
    another process holds the folder (it will finish the swap itself).

    Raises
    ------
    OSError
        When the folder cannot be written (a read-only copy): the caller warns.
    """
    if pending_commit(out) is None:
        return False
    with _locked(out, wait=False) as mine:
        if not mine:
            return False
        return _roll_forward(out)


def _discard_stale_staging(out: Path) -> None:
    """Delete what a refresh killed before its commit left: staging folders, record drafts."""
    for stale in sorted(out.glob(f"{STAGING_PREFIX}*")):
        log.info("%s: removing %s left by an interrupted refresh (never committed)", out, stale)
        shutil.rmtree(stale, ignore_errors=True)
    for draft in sorted(out.glob(f"{COMMIT_RECORD}.*.tmp")):
        log.info("%s: removing %s, an unfinished commit record", out, draft)
        draft.unlink(missing_ok=True)


@dataclass
class Transaction:
    """A staging folder and the files written into it (see the module docstring)."""

    out: Path
    staging: Path
    files: list[str] = field(default_factory=list)

    def path(self, name: str) -> Path:
        """Where to write table ``name`` (a fresh file with umask permissions)."""
        if "/" in name or name.startswith(".") or name in self.files:
            raise ValueError(f"bad or repeated staged file name {name!r}")
        target = self.staging / name
        create_file(target)
        self.files.append(name)
        return target

    def commit(self, manifest_name: str = "manifest.json") -> None:
        """Flush the staged files, write the commit record and roll forward.

        ``manifest_name`` (staged like any table) is moved last.
        """
        if manifest_name not in self.files:
            raise ValueError(f"{manifest_name} must be staged before commit")
        order = [n for n in self.files if n != manifest_name] + [manifest_name]
        for name in order:
            _fsync_path(self.staging / name)
        _fsync_path(self.staging)
        _kill_point("staged")
        record = self.out / COMMIT_RECORD
        tmp = self.out / f"{COMMIT_RECORD}.{os.getpid()}.tmp"
        create_file(tmp)
        with tmp.open("w") as f:
            json.dump({"staging": self.staging.name, "files": order}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(record)
        _fsync_path(self.out)
        _kill_point("committed")
        _roll_forward(self.out)


@contextlib.contextmanager
def transaction(out: Path) -> Iterator[Transaction]:
    """Stage files for ``out``; commit with :meth:`Transaction.commit` inside the block.

    On entry: take the folder's lock (or raise :class:`RefreshBusyError`), finish a
    pending swap, delete staging folders never committed. Leaving the block without a
    commit (an exception) deletes the staging folder and leaves ``out`` as it was.
    """
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out, wait=False) as mine:
        if not mine:
            raise RefreshBusyError(f"{out}: another refresh is writing this folder; try later")
        if pending_commit(out) is not None:
            log.warning("%s: finishing a refresh that was interrupted after its commit", out)
            _roll_forward(out)
        _discard_stale_staging(out)
        staging = out / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o777)  # umask applies
        txn = Transaction(out, staging)
        try:
            yield txn
        finally:
            if pending_commit(out) is None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
