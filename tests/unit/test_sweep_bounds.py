"""Bounded sweeps: grid size before allocation, strict ranges, repeated and idle knobs,
and worker processes that fail loudly instead of hanging."""

from __future__ import annotations

import logging
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.cli.sweep_cmd import parse_grid
from resilience.scenarios import SpecError, StudySpec, load_study
from resilience.sweeps import engine, sweep
from resilience.sweeps.knobs import DEFAULT_MAX_POINTS, Point, grid_points
from resilience.sweeps.pool import SweepWorkerError, run_pool

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"


@pytest.fixture(scope="module")
def g7() -> StudySpec:
    return load_study(G7)


def _ignore(_: int) -> None:
    """A progress callback that shows nothing."""


# ----------------------------------------------------------------------------- grid size
def test_a_huge_grid_is_refused_before_any_point_is_built() -> None:
    huge = {"min_stock_days": range(100_000), "spot_premium": range(100_000)}
    began = time.perf_counter()
    with pytest.raises(SpecError) as info:
        grid_points(huge)
    assert time.perf_counter() - began < 1.0  # nothing of size 10**10 was built
    text = str(info.value)
    assert "10,000,000,000 points" in text
    assert f"limit of {DEFAULT_MAX_POINTS:,}" in text
    assert "max_points=" in text
    assert "--max-points" in text


def test_the_limit_is_inclusive_and_can_be_raised() -> None:
    grid: dict[str, list[float]] = {"min_stock_days": [0, 10, 20], "spot_premium": [0.1, 0.2]}
    with pytest.raises(SpecError, match="the grid has 6 points, more than the limit of 5"):
        grid_points(grid, max_points=5)
    knobs, points = grid_points(grid, max_points=6)
    assert knobs == ["min_stock_days", "spot_premium"]
    assert points[-1] == Point({"min_stock_days": 20, "spot_premium": 0.2}, {})
    frame = pl.DataFrame({"min_stock_days": [1.0, 2.0, 3.0]})
    with pytest.raises(SpecError, match=r"points: the grid has 3 points"):
        grid_points(frame, max_points=2)


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_max_points_must_be_a_positive_whole_number(bad: Any) -> None:
    with pytest.raises(SpecError, match=r"max_points: must be a whole number >= 1"):
        grid_points({"min_stock_days": [1]}, max_points=bad)


# ----------------------------------------------------------------------------- command line
@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("availability=0:1:1e12", "count '1e12' must be a whole number >= 2"),
        ("availability=0:1:-3", "count '-3'"),
        ("availability=0:1:2.5", "count '2.5'"),
        ("availability=0:1:1", "count '1'"),
        ("availability=nan:1:3", "finite"),
        ("availability=0:inf:3", "finite"),
        ("availability=0:1", "expected knob=v1,v2,... or knob=start:stop:count"),
        ("availability=0:1:2:3", "expected knob=v1"),
    ],
)
def test_bad_ranges_are_named(spec: str, words: str) -> None:
    with pytest.raises(typer.BadParameter) as info:
        parse_grid([spec])
    assert words in str(info.value)
    assert repr(spec) in str(info.value)


def test_a_huge_range_is_refused_before_it_is_expanded() -> None:
    began = time.perf_counter()
    with pytest.raises(SpecError, match="1,000,000,000,000 points, more than the limit"):
        parse_grid(["availability=0:1:1000000000000"])
    assert time.perf_counter() - began < 1.0
    with pytest.raises(SpecError, match="200,000 points"):
        parse_grid(["availability=0:1:1000", "min_stock_days=0:60:200"])
    assert len(parse_grid(["availability=0:1:1000", "min_stock_days=0:60:200"], 200_000)) == 2


def test_a_knob_given_twice_is_an_error_naming_it() -> None:
    with pytest.raises(typer.BadParameter) as info:
        parse_grid(["min_stock_days=1", "availability=0,1", "min_stock_days=2"])
    text = str(info.value)
    assert "'min_stock_days' is given twice" in text
    assert "first as 'min_stock_days=1'" in text


@pytest.mark.usefixtures("restore_logging")
def test_the_max_points_help_shows_the_limit_in_force() -> None:
    result = CliRunner().invoke(app, ["sweep", "--help"])
    assert result.exit_code == 0
    assert "--max-points" in result.output
    flat = result.output.translate(str.maketrans(dict.fromkeys("│╭╮╰╯─", " ")))
    assert f"(default {DEFAULT_MAX_POINTS:,})" in " ".join(flat.split())


# ----------------------------------------------------------------------------- idle knobs
def test_a_disruption_knob_without_a_disruption_is_an_error(g7: StudySpec) -> None:
    with pytest.raises(SpecError) as info:
        sweep(g7, {"availability": [0.0, 0.5], "min_stock_days": [0.0]})
    text = str(info.value)
    assert "grid.availability: has no effect" in text
    assert "the base case (no --scenario)" in text
    assert "no disruption event" in text
    with pytest.raises(SpecError, match=r"grid.probability: has no effect: scenario 'eu_crma_cap'"):
        sweep(g7, {"probability": [0.1]}, scenario="eu_crma_cap")


# ----------------------------------------------------------------------------- workers
def _chunks(n: int = 3) -> list[list[tuple[int, Point]]]:
    return [[(i, Point({"min_stock_days": float(i)}, {})) for i in range(n)]]


def _script(body: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(body)]


def test_a_worker_that_exits_at_start_is_reported_at_once() -> None:
    command = _script("import sys; sys.stderr.write('boom while importing\\n'); sys.exit(3)")
    began = time.perf_counter()
    with pytest.raises(SweepWorkerError) as info:
        run_pool("task", _chunks(), 2, _ignore, command=command)
    assert time.perf_counter() - began < 15.0
    text = str(info.value)
    assert "exited with code 3 before it was ready" in text
    assert "boom while importing" in text
    assert "backend='sequential'" in text


def test_a_workers_log_records_reach_the_callers_logging(caplog: pytest.LogCaptureFixture) -> None:
    line = "WARNING resilience.sweeps.engine: point 3: the full run differs"
    command = _script(f"import sys; sys.stderr.write({line!r} + '\\n'); sys.exit(0)")
    with (
        caplog.at_level(logging.WARNING, logger="resilience.sweeps.engine"),
        pytest.raises(SweepWorkerError, match="exited with code 0 before it was ready"),
    ):
        run_pool("task", _chunks(), 1, _ignore, command=command)
    records = [r for r in caplog.records if r.name == "resilience.sweeps.engine"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].getMessage() == "[sweep worker 0] point 3: the full run differs"


def test_a_worker_that_never_answers_times_out() -> None:
    command = _script("import time; time.sleep(60)")
    began = time.perf_counter()
    with pytest.raises(SweepWorkerError, match="2 of 2 sweep workers did not start within 1 s"):
        run_pool("task", _chunks(1) * 2, 2, _ignore, command=command, start_timeout_s=1.0)
    assert time.perf_counter() - began < 15.0  # killed, not waited for


KILLED_MID_CHUNK = """
import os, signal, sys
from resilience.sweeps.wire import receive, send
channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
send(channel_out, "ready", os.getpid())
while (message := receive(channel_in)) is not None:
    if message[0] == "install":
        send(channel_out, "installed")
    else:
        sys.stderr.write("solving a chunk\\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_worker_killed_while_solving_names_the_signal_and_points() -> None:
    with pytest.raises(SweepWorkerError) as info:
        run_pool("task", _chunks(), 1, _ignore, command=_script(KILLED_MID_CHUNK))
    text = str(info.value)
    assert "was killed by SIGKILL while solving points 0-2" in text
    assert "solving a chunk" in text
    assert "fewer workers" in text


def test_an_exception_in_a_real_worker_is_raised_here_as_itself() -> None:
    """The shipped worker module runs the chunk; what it raises comes back typed."""
    with pytest.raises(AttributeError) as info:
        run_pool("not a sweep task", _chunks(1), 1, _ignore)
    assert "'str' object has no attribute" in str(info.value)
    assert any("raised in sweep worker 0" in note for note in info.value.__notes__)


# ----------------------------------------------------------------------------- dask
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore:.*:UserWarning")
def test_an_unreachable_dask_scheduler_is_an_error_not_a_hang(
    g7: StudySpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(engine, "DASK_TIMEOUT_S", 2.0)
    began = time.perf_counter()
    with pytest.raises(SweepWorkerError, match=r"cannot reach the Dask scheduler 'tcp://127"):
        sweep(
            g7,
            {"min_stock_days": [0.0]},
            method="rebuild",
            backend="dask",
            scheduler="tcp://127.0.0.1:9",
        )
    assert time.perf_counter() - began < 20.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore:.*:UserWarning")
def test_a_dask_cluster_without_workers_is_an_error_not_a_hang(
    g7: StudySpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(engine, "DASK_TIMEOUT_S", 2.0)
    with (
        distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(SweepWorkerError, match="no Dask worker joined the scheduler"),
    ):
        sweep(g7, {"min_stock_days": [0.0]}, method="rebuild", backend="dask", scheduler=client)
