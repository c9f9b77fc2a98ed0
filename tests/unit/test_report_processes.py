"""Report runs as separate processes: killed mid-write, and two at once for one as-of.

The runs pause before writing their manifest through the documented test hook
``RESILIENCE_REPORT_PAUSE_BEFORE_PUBLISH`` (seconds; ``RESILIENCE_REPORT_RESUME_FILE``
ends the pause early), so that the test acts at a known point: every table and
``summary.html`` written into the staging folder, nothing published yet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from resilience.report import read_report, run_report
from resilience.report.job import PAUSE_ENV, RESUME_ENV
from resilience.report.manifest import sha256_file, stable_view
from resilience.report.publish import MANIFEST, partitions

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
DEFINITION = f"""
name: tiny
tables: [scenarios]
studies:
  - study: {G7}
    scenarios: [g7_friendshoring]
"""


def _hashes(partition: Path) -> dict[str, str]:
    return {
        p.relative_to(partition).as_posix(): sha256_file(p)
        for p in sorted(partition.rglob("*"))
        if p.is_file()
    }


def _start(
    out: Path,
    definition: Path,
    as_of: str,
    *extra: str,
    pause: float = 0,
    resume: Path | None = None,
) -> subprocess.Popen:
    env = dict(os.environ)
    for name in (PAUSE_ENV, RESUME_ENV, "RESILIENCE_DATASETS"):
        env.pop(name, None)
    if pause:
        env[PAUSE_ENV] = str(pause)
    if resume is not None:
        env[RESUME_ENV] = str(resume)
    cmd = [sys.executable, "-m", "resilience.report", "--as-of", as_of, "--out", str(out)]
    return subprocess.Popen(
        [*cmd, "--definition", str(definition), *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_staging(out: Path, as_of: str, proc: subprocess.Popen, timeout: float = 60) -> Path:
    """The staging folder of ``proc`` once it holds every file but the manifest."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(out.glob(f".staging-{as_of}-{proc.pid}/summary.html"))
        if found:
            return found[0].parent
        if proc.poll() is not None:
            pytest.fail(f"the run ended early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run never reached the pause before publishing")


@pytest.fixture
def definition(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(DEFINITION, encoding="utf-8")
    return path


def test_sigkill_mid_write_leaves_nothing_visible(tmp_path: Path, definition: Path) -> None:
    out = tmp_path / "out"
    run_report("2026-11-13", out, definition)
    previous = out / "as_of=2026-11-13"
    before = _hashes(previous)

    proc = _start(out, definition, "2026-11-20", pause=60)
    staging = _wait_for_staging(out, "2026-11-20", proc)
    assert list(staging.glob("table=*/part-0.parquet"))  # tables were written...
    assert not (staging / MANIFEST).exists()  # ...the manifest was not
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert _hashes(previous) == before  # the previous as-of is intact
    assert not (out / "as_of=2026-11-20").exists()  # no half-written partition
    assert staging.is_dir()  # the leftover is there, and every reader ignores it
    assert [p.as_of.isoformat() for p in partitions(out)] == ["2026-11-13"]
    scenarios = read_report(out, "scenarios").collect()
    assert scenarios["as_of"].unique().to_list() == [pl.Series(["2026-11-13"]).str.to_date()[0]]
    glob = pl.scan_parquet(f"{out}/as_of=*/table=scenarios/*.parquet", hive_partitioning=True)
    assert glob.collect().height == scenarios.height

    # the lock died with the process: the next run goes ahead and cleans the leftover
    done = run_report("2026-11-20", out, definition)
    assert not staging.exists()
    assert (done.partition / MANIFEST).is_file()
    assert _hashes(previous) == before
    assert [p.as_of.isoformat() for p in partitions(out)] == ["2026-11-13", "2026-11-20"]


def test_two_runs_of_one_as_of_wait_or_fail_and_output_is_whole(
    tmp_path: Path, definition: Path
) -> None:
    out, resume = tmp_path / "out", tmp_path / "resume"
    first = _start(out, definition, "2026-11-20", pause=90, resume=resume)
    _wait_for_staging(out, "2026-11-20", first)
    refused = _start(out, definition, "2026-11-20")
    waiting = _start(out, definition, "2026-11-20", "--wait", "120")

    _, err = refused.communicate(timeout=60)
    resume.touch()  # the first run holds the lock until now
    assert refused.returncode == 1
    assert "another report run for as_of 2026-11-20 is in progress" in err
    assert f"process {first.pid}" in err
    assert err.strip().count("\n") == 0  # one line

    out_first, err_first = first.communicate(timeout=120)
    assert first.returncode == 0, err_first
    manifest_first = (out / "as_of=2026-11-20" / MANIFEST).read_text()
    out_waiting, err_waiting = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err_waiting
    assert "as_of=2026-11-20" in out_first
    assert "as_of=2026-11-20" in out_waiting

    partition = out / "as_of=2026-11-20"
    manifest = json.loads((partition / MANIFEST).read_text())
    listed = {f["path"]: f["sha256"] for e in manifest["tables"].values() for f in e["files"]}
    listed |= {f["path"]: f["sha256"] for f in manifest["files"]}
    assert listed == {k: v for k, v in _hashes(partition).items() if k != MANIFEST}
    # the second run, in another process, published the same content
    assert stable_view(manifest) == stable_view(json.loads(manifest_first))
    assert read_report(out, "scenarios").collect().height == manifest["tables"]["scenarios"]["rows"]
    assert sorted(p.name for p in out.iterdir()) == [".lock-2026-11-20", "as_of=2026-11-20"]


def test_output_folder_swapped_for_a_link_mid_run_publishes_nothing(
    tmp_path: Path, definition: Path
) -> None:
    out, resume, elsewhere = tmp_path / "out", tmp_path / "resume", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep\n")
    proc = _start(out, definition, "2026-11-20", pause=90, resume=resume)
    _wait_for_staging(out, "2026-11-20", proc)
    out.rename(tmp_path / "out.old")  # the folder the run locked is moved away...
    out.symlink_to(elsewhere)  # ...and its name now leads somewhere else
    resume.touch()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"the output folder {out} was moved, removed or replaced during the run" in err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]  # nothing written there
    assert (elsewhere / "keep.txt").read_text() == "keep\n"
    assert not (tmp_path / "out.old" / "as_of=2026-11-20").exists()  # nor published here
    assert partitions(tmp_path / "out.old") == []
