"""`data refresh` killed with SIGKILL at every step leaves datasets/ and its manifest consistent.

The refresh runs as a separate process on a copy of ``datasets/`` (``RESILIENCE_DATASETS``).
It is killed either at a named step through the documented test hook
``RESILIENCE_REFRESH_KILL_AT`` (:mod:`resilience.ingest.staging`), or at random delays.
After each kill the folder holds either exactly the old tables and manifest (no commit
record), or a commit record that the next table load completes; after that load, every
table matches the manifest's SHA-256 and the folder equals the old or the new state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience import data
from resilience.ingest.inputs import TABLES
from resilience.ingest.refresh import refresh
from resilience.ingest.staging import COMMIT_RECORD, KILL_AT_ENV
from resilience.manifest_check import clear_cache
from resilience.paths import project_root

SHIPPED = project_root() / "datasets"
DOWNLOADS = project_root() / "tests" / "data" / "refresh_downloads"
CLI = "from resilience.cli.app import main; main()"


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@contextlib.contextmanager
def _datasets_env(folder: Path) -> Iterator[None]:
    """``RESILIENCE_DATASETS`` pointed at ``folder`` for the block (then as it was)."""
    saved = os.environ.get("RESILIENCE_DATASETS")
    os.environ["RESILIENCE_DATASETS"] = str(folder)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["RESILIENCE_DATASETS"]
        else:
            os.environ["RESILIENCE_DATASETS"] = saved


def _consistent(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    now = _snapshot(folder)
    for name in TABLES:
        assert manifest["tables"][name]["sha256"] == now[name], name


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, dict]:
    """Old datasets (small tables), new downloads, and the snapshots of both outcomes."""
    root = tmp_path_factory.mktemp("kill")
    old = root / "old"
    shutil.copytree(SHIPPED, old)
    with _datasets_env(old):
        refresh(DOWNLOADS, old, allow_shrink=True)
        new_downloads = root / "downloads"
        shutil.copytree(DOWNLOADS, new_downloads)
        wgi = new_downloads / "wgi_2024update_long.csv"
        wgi.write_text(wgi.read_text().replace("-0.0054", "-0.0055"))
        new = root / "new"
        shutil.copytree(old, new)
        refresh(new_downloads, new)
    old_state, new_state = _snapshot(old), _snapshot(new)
    assert old_state["governance.csv"] != new_state["governance.csv"]
    return old, new_downloads, old_state, new_state


def _run(datasets: Path, downloads: Path, kill_at: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "RESILIENCE_DATASETS": str(datasets)}
    env.pop(KILL_AT_ENV, None)
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    cmd = [sys.executable, "-c", CLI, "data", "refresh", "--from", str(downloads)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check_after_kill(datasets: Path, old_state: dict, new_state: dict) -> str:
    """Assert the state the kill left, complete it through a table load; which state."""
    pending = (datasets / COMMIT_RECORD).exists()
    visible = {k: v for k, v in _snapshot(datasets).items() if not k.startswith(".")}
    if not pending:
        assert visible in (old_state, new_state)
    clear_cache()
    with _datasets_env(datasets):
        data.load_governance()  # any table load rolls a pending swap forward
    clear_cache()
    assert not (datasets / COMMIT_RECORD).exists()
    _consistent(datasets)
    after = {k: v for k, v in _snapshot(datasets).items() if not k.startswith(".")}
    assert after in (old_state, new_state)
    if pending:
        assert after == new_state  # a committed refresh is never lost
    return "new" if after == new_state else "old"


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("staged", "old"),
        ("committed", "new"),
        ("moved:production.csv", "new"),
        ("moved-all", "new"),
        ("uncommitted", "new"),
    ],
)
def test_killed_at_a_step(states, tmp_path: Path, step: str, expected: str) -> None:
    old, downloads, old_state, new_state = states
    datasets = tmp_path / "datasets"
    shutil.copytree(old, datasets)
    proc = _run(datasets, downloads, kill_at=step)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert _check_after_kill(datasets, old_state, new_state) == expected


@pytest.mark.slow  # about 10 s of kills on top of the named steps above
def test_killed_at_random_moments(states, tmp_path: Path) -> None:
    old, downloads, old_state, new_state = states
    rng = random.Random(13)
    outcomes = []
    for trial in range(5):
        datasets = tmp_path / f"datasets{trial}"
        shutil.copytree(old, datasets)
        proc = _run(datasets, downloads)
        time.sleep(rng.uniform(0.3, 3.0))
        proc.kill()
        proc.communicate(timeout=60)
        outcomes.append(_check_after_kill(datasets, old_state, new_state))
    assert set(outcomes) <= {"old", "new"}


def test_an_unkilled_refresh_reaches_the_new_state(states, tmp_path: Path) -> None:
    old, downloads, old_state, new_state = states
    datasets = tmp_path / "datasets"
    shutil.copytree(old, datasets)
    proc = _run(datasets, downloads)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()
    assert _snapshot(datasets) == new_state
