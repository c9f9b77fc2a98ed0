"""Where resilience finds its shipped tables and writes its caches; file fingerprints."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["cache_dir", "current_umask", "datasets_dir", "project_root", "sha256_file"]


def project_root() -> Path:
    """The repository root (the folder holding ``datasets/`` and ``models/``)."""
    return Path(__file__).resolve().parent.parent


def datasets_dir() -> Path:
    """Folder of shipped reference and source tables.

    Overridable with the ``RESILIENCE_DATASETS`` environment variable, so that a user can
    point the package at a refreshed copy without touching the installed one.
    """
    env = os.environ.get("RESILIENCE_DATASETS")
    return Path(env) if env else project_root() / "datasets"


def cache_dir() -> Path:
    """Folder for built Parquet (gitignored); ``RESILIENCE_CACHE`` overrides it."""
    env = os.environ.get("RESILIENCE_CACHE")
    return Path(env) if env else project_root() / ".cache"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and
    restoring it (not thread-safe for that instant).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
