"""Shared test fixtures: the real public files in ../shared/data, when present."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No timing deadlines: tests assert values, never speed (speed lives in benchmarks/), and
# a 2-core machine shared with other jobs makes per-example timings meaningless.
settings.register_profile("resilience", deadline=None)
settings.load_profile("resilience")

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"


def _shared_data_dir() -> Path:
    env = os.environ.get("RESILIENCE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public downloads; integration tests skip when it is absent."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real public data not present at {path}")
    return path


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI points the root logger at CliRunner's stderr; put the handlers back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
