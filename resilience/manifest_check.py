"""Check a shipped table against the SHA-256 its folder's ``manifest.json`` records.

Every loader in :mod:`resilience.data` calls :func:`verify_table` before reading. It

* finishes an interrupted refresh first when a commit record is pending
  (:func:`resilience.ingest.staging.recover`), or warns when it cannot (a read-only
  folder, or a refresh running right now);
* warns when the file's size or SHA-256 differs from the manifest's (a hand edit, a copy
  gone wrong, a refresh from an older version that wrote tables without the manifest).

Local-only tables (:data:`LOCAL_TABLES`: China's monthly Comtrade exports, the ETO chip
supply chain) are built by a refresh from inputs whose terms forbid shipping them; the
manifest of the refresh that built them records them (under ``tables``, or under
``local_tables``), but a clone never has them. An absent local-only table is therefore
``"local-absent"`` and says nothing; a present one is checked like any other.

Warnings go to :mod:`logging` (the CLI shows them on stderr); nothing is raised: the
table is still loaded and validated against its schema, so the user keeps working and
knows. Each distinct problem is reported once per process.

Hashing is cached in-process by ``(path, size, mtime_ns, inode)``: the first load of a
table hashes it, later loads of the same, unchanged file cost a few ``stat`` calls.
Measured on the 2-core test machine: 7.5 ms to hash the 2.3 MB ``production.csv`` the
first time (its ``load_production`` takes about 170 ms), 0.26 ms per cached check
(``tests/unit/test_refresh_manifest_check.py`` asserts the cached check stays under 2 ms).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from resilience.errors import ResilienceError
from resilience.ingest.inputs import OPTIONAL_TABLES
from resilience.ingest.staging import COMMIT_RECORD, pending_commit, recover
from resilience.paths import datasets_dir, sha256_file

__all__ = ["LOCAL_TABLES", "MANIFEST", "TableCheck", "clear_cache", "verify_table"]

log = logging.getLogger(__name__)

#: Manifest file name, beside the tables.
MANIFEST = "manifest.json"

_digests: dict[tuple[str, int, int, int], str] = {}
_manifests: dict[tuple[str, int, int, int], dict[str, object]] = {}
_said: set[str] = set()

#: Tables a refresh builds only from local inputs, never shipped (``datasets/README.md``).
LOCAL_TABLES = frozenset(OPTIONAL_TABLES)

#: What :func:`verify_table` found.
TableCheck = Literal["ok", "unlisted", "no-manifest", "differs", "pending", "local-absent"]


def clear_cache() -> None:
    """Forget cached digests and the warnings already given (tests use this)."""
    _digests.clear()
    _manifests.clear()
    _said.clear()


def _key(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def _digest(path: Path) -> str:
    key = _key(path)
    found = _digests.get(key)
    if found is None:
        found = sha256_file(path)
        _digests[key] = found
    return found


def _manifest(path: Path) -> dict[str, object] | None:
    try:
        key = _key(path)
    except FileNotFoundError:
        return None
    found = _manifests.get(key)
    if found is None:
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            _warn(f"{path}: unreadable manifest ({exc}); tables cannot be verified")
            return None
        if not isinstance(found, dict):
            _warn(f"{path}: not a manifest (expected a JSON object)")
            return None
        _manifests[key] = found
    return found


def _warn(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning("%s", message)


def _settle(folder: Path) -> bool:
    """Finish a pending refresh in ``folder``; ``True`` when none is left pending."""
    if pending_commit(folder) is None:
        return True
    try:
        if recover(folder):
            log.warning("%s: completed an interrupted refresh (commit record found)", folder)
            return True
    except (OSError, ResilienceError) as exc:
        _warn(
            f"{folder}: a refresh was interrupted after its commit ({COMMIT_RECORD} is "
            f"pending) and cannot be completed here ({exc}); tables may be a mix of old "
            "and new: run `resilience data refresh` with write access"
        )
        return False
    if pending_commit(folder) is not None:
        _warn(
            f"{folder}: a refresh is swapping tables in right now ({COMMIT_RECORD} "
            "pending); this load may mix old and new tables"
        )
        return False
    return True


def verify_table(path: Path) -> TableCheck:
    """Compare ``path`` with the manifest in its folder; warn (log) on any mismatch.

    Parameters
    ----------
    path
        A table file (``production.csv``, ``trade.parquet`` ...).

    Returns
    -------
    str
        ``"ok"`` (hash matches), ``"differs"`` (size or hash differ, or a shipped file
        is missing), ``"local-absent"`` (a local-only table, :data:`LOCAL_TABLES`, that
        was not built here: no warning), ``"pending"`` (a commit record could not be
        completed), ``"unlisted"`` (the manifest does not list the file) or
        ``"no-manifest"``.
    """
    folder = path.parent
    if not _settle(folder):
        return "pending"
    manifest = _manifest(folder / MANIFEST)
    if manifest is None:
        if folder.resolve() == datasets_dir().resolve():
            _warn(f"{folder}: no {MANIFEST}; the shipped tables cannot be verified")
        else:
            log.debug("%s: no %s beside it; not verified", path, MANIFEST)
        return "no-manifest"
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        _warn(
            f"{folder / MANIFEST} records no table hashes (written by an older refresh); "
            "tables cannot be verified: run `resilience data refresh`"
        )
        return "unlisted"
    local = manifest.get("local_tables")
    entry = tables.get(path.name)
    if entry is None and isinstance(local, dict):
        entry = local.get(path.name)
    if not isinstance(entry, dict):
        return "unlisted"
    expected_sha, expected_bytes = entry.get("sha256"), entry.get("bytes")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if path.name in LOCAL_TABLES:
            log.debug("%s: local-only table, not built here (never shipped)", path)
            return "local-absent"
        _warn(f"{path}: listed in {MANIFEST} but missing")
        return "differs"
    if size != expected_bytes or _digest(path) != expected_sha:
        _warn(
            f"{path} differs from {folder / MANIFEST} (expected {expected_bytes} bytes, "
            f"sha256 {str(expected_sha)[:12]}…; found {size} bytes, sha256 "
            f"{_digest(path)[:12]}…): edited by hand or not written by the refresh that "
            "wrote the manifest; results may not match the cited sources"
        )
        return "differs"
    return "ok"
