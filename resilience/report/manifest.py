"""The manifest of a report partition: what it holds, from what, made by what.

``_manifest.json`` is the last file written into a partition; its presence is what makes
the partition exist for readers. It records

* ``as_of``, ``data_year`` and the rule linking them (``as_of_rule``);
* the report ``definition`` (name, path, SHA-256);
* ``package`` (resilience version, Python) and ``dependencies`` (versions), ``git_revision``
  of the source tree where known (``null`` otherwise);
* ``inputs``: SHA-256 and size of every input file (the shipped tables, the study and
  catalogue files, the definition) and ``inputs_sha256`` over all of them;
* ``tables``: per table the schema version, columns and types, row count and files with
  their SHA-256 and size; ``files``: the same for the other files (``summary.html``);
* ``content_sha256`` over every file's hash;
* ``solver_status_counts``: runs per status over the scenarios and the frontier, and
  ``solver_status_counts_by_table``;
* ``written_at`` (UTC) and ``wall_time_s`` — the only keys that differ between two runs
  of the same as-of on the same inputs (:data:`VOLATILE`).

JSON is written with sorted keys and a fixed indent, so equal content gives equal text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from resilience.paths import datasets_dir, project_root, sha256_file

__all__ = [
    "AS_OF_RULE",
    "FORMAT",
    "VOLATILE",
    "dependency_versions",
    "file_entry",
    "git_revision",
    "input_files",
    "inputs_entry",
    "manifest_bytes",
    "sha256_file",
    "shown_path",
    "stable_view",
]

log = logging.getLogger(__name__)

#: Format tag of the manifest and the layout it describes.
FORMAT = "resilience-report/1"
#: Manifest keys that change on every run (everything else is a function of the inputs).
VOLATILE = ("written_at", "wall_time_s")
#: What ``as_of`` means for the data, as recorded in every manifest.
AS_OF_RULE = (
    "dependency and metrics use the latest trade year no later than the as_of year that "
    "the shipped trade table holds; studies keep their own year, which may not be later "
    "than the as_of year. The shipped tables are not vintaged: a report for a past as_of "
    "uses today's tables, and the inputs' hashes say which"
)
_DEPENDENCIES = (
    "polars",
    "pyarrow",
    "pyomo",
    "highspy",
    "dataframely",
    "numpy",
    "matplotlib",
    "pyyaml",
    "pycountry",
)
_TABLE_SUFFIXES = (".csv", ".parquet", ".json")


def shown_path(path: Path) -> str:
    """A path relative to the project (or the datasets folder) where it is inside it."""
    resolved = path.resolve()
    for base, prefix in ((project_root(), ""), (datasets_dir().resolve(), "$RESILIENCE_DATASETS/")):
        if resolved.is_relative_to(base):
            return prefix + resolved.relative_to(base).as_posix()
    return resolved.as_posix()


def input_files(extra: Iterable[Path] = ()) -> list[Path]:
    """Every input file of a report: the shipped tables, then ``extra`` (spec files).

    The shipped tables are every ``.csv``, ``.parquet`` and ``.json`` file of the datasets
    folder (``RESILIENCE_DATASETS`` or ``datasets/``), sub-folders included: the build and
    the models read their tables from there, so no input can change unseen.
    """
    base = datasets_dir()
    tables = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in _TABLE_SUFFIXES)
    return list(dict.fromkeys([*tables, *(Path(p).resolve() for p in extra)]))


def file_entry(path: Path, shown: str) -> dict[str, Any]:
    """``{"path", "sha256", "bytes"}`` of one file."""
    return {"path": shown, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def inputs_entry(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], str]:
    """Entries of the input files and the SHA-256 over all of them (order-independent)."""
    entries = sorted((file_entry(p, shown_path(p)) for p in paths), key=lambda e: e["path"])
    return entries, combined(entries)


def combined(entries: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over ``path  sha256`` lines, sorted by path."""
    lines = sorted(f"{e['path']}  {e['sha256']}\n" for e in entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def dependency_versions() -> dict[str, str | None]:
    """Installed versions of the packages a report's numbers depend on."""
    out: dict[str, str | None] = {}
    for name in _DEPENDENCIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def package_versions() -> dict[str, str | None]:
    """The version of resilience and of the Python running it."""
    try:
        version: str | None = importlib.metadata.version("resilience")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"resilience": version, "python": platform.python_version()}


def git_revision() -> str | None:
    """The commit of the source tree (``git rev-parse HEAD``), ``None`` outside a checkout."""
    root = project_root()
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and revision else None


def now_utc() -> str:
    """The current time, UTC, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The manifest as JSON text: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def stable_view(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without its :data:`VOLATILE` keys (equal for equal runs)."""
    return {k: v for k, v in manifest.items() if k not in VOLATILE}
