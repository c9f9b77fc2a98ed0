"""Where resilience finds its shipped tables and writes its caches."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "datasets_dir", "project_root"]


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
