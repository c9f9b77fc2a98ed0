"""Bad input, part "bounded work": YAML files and sweep grids that used to be silent,
eat memory or hang, and worker processes that fail to start.

Every case asserts the exit code (command line) or the exception type (notebook API),
the key words of the message, and that nothing outside the case's own folder changed
(the shipped models, reports and datasets, and the inputs the case wrote).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resilience as rs
from resilience.cli.app import app
from resilience.sweeps import engine
from resilience.sweeps.pool import SweepWorkerError

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
SCENARIO = "china_graphite_controls"
WATCHED = [REPO / "models", REPO / "reports", REPO / "datasets", REPO / "examples"]
runner = CliRunner()

pytestmark = pytest.mark.usefixtures("restore_logging")


def _state(roots: list[Path]) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@contextmanager
def nothing_changes(folder: Path) -> Iterator[None]:
    """Assert that the shipped folders and ``folder`` (the case's inputs) are untouched."""
    before = _state([*WATCHED, folder])
    yield
    assert _state([*WATCHED, folder]) == before


def cli(args: list[str], folder: Path) -> tuple[int, str]:
    with nothing_changes(folder):
        result = runner.invoke(app, args)
    flat = result.output.translate(str.maketrans(dict.fromkeys("│╭╮╰╯─", " ")))
    return result.exit_code, " ".join(flat.split())  # the console's lines and boxes unwrapped


STUDY = """\
name: small
year: 2023
members: [USA, Japan]
allies: G7+EU
commodities: [cobalt/refining]
model: stress
catalogue: cat.yaml
"""
CATALOGUE = """\
scenarios:
  half:
    description: China halves cobalt refining
    disruptions:
      - suppliers: [CHN]
        commodities: [cobalt]
        availability: 0.5
        probability: 0.1
        duration_days: 90
"""


def study_folder(tmp_path: Path, study: str = STUDY, catalogue: str = CATALOGUE) -> Path:
    (tmp_path / "study.yaml").write_text(study, encoding="utf-8")
    (tmp_path / "cat.yaml").write_text(catalogue, encoding="utf-8")
    return tmp_path / "study.yaml"


# ----------------------------------------------------------------------------- YAML
def test_study_with_year_twice(tmp_path: Path) -> None:
    path = study_folder(tmp_path, STUDY + "year: 2019\n")
    code, text = cli(["run", str(path)], tmp_path)
    assert code == 1
    assert (
        "study.yaml: line 8: year: duplicate key 'year': first at line 2, again at line 8" in text
    )


def test_catalogue_with_a_scenario_defined_twice(tmp_path: Path) -> None:
    path = study_folder(tmp_path, catalogue=CATALOGUE + CATALOGUE.removeprefix("scenarios:\n"))
    code, text = cli(["run", str(path), "-s", "half"], tmp_path)
    assert code == 1
    assert "cat.yaml: line 10: scenarios.half: duplicate key 'half'" in text
    assert "first at line 2" in text


def test_report_definition_with_tables_twice(tmp_path: Path) -> None:
    definition = tmp_path / "r.yaml"
    definition.write_text("name: r\ntables: [dependency]\ntables: [metrics]\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["report", "--as-of", "2026-11-20", "--out", str(out), "--definition", str(definition)]
    code, text = cli(args, tmp_path)
    assert code == 1
    assert (
        "r.yaml: line 3: tables: duplicate key 'tables': first at line 2, again at line 3" in text
    )
    assert not out.exists()


def test_billion_laughs_study(tmp_path: Path) -> None:
    lines = [STUDY, 'lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = study_folder(tmp_path, "\n".join(lines) + "\n")
    began = time.perf_counter()
    code, text = cli(["run", str(path)], tmp_path)
    assert time.perf_counter() - began < 10.0
    assert code == 1
    assert "study.yaml: line" in text
    assert "expands to more than 100,000 nodes" in text


def test_huge_study_document(tmp_path: Path) -> None:
    path = study_folder(tmp_path, STUDY + ("# padding\n" * 120_000))  # 1.2 MB
    code, text = cli(["run", str(path)], tmp_path)
    assert code == 1
    assert "study.yaml: (file): document too large" in text
    assert "at most 1,048,576 bytes" in text


def test_recursive_alias(tmp_path: Path) -> None:
    path = study_folder(tmp_path, STUDY + "policy: &p {nested: *p}\n")
    code, text = cli(["run", str(path)], tmp_path)
    assert code == 1
    assert "line 8: policy.nested: an alias refers to a node that contains it" in text


def test_exponent_read_as_a_number_then_checked(tmp_path: Path) -> None:
    """``1.0e300`` is a number (YAML 1.2), so the range check names it: not 'not a number'."""
    path = study_folder(tmp_path, catalogue=CATALOGUE.replace("0.5", "1.0e300"))
    code, text = cli(["run", str(path), "-s", "half"], tmp_path)
    assert code == 1
    assert "scenarios.half.disruptions[0].availability: out of range (value: 1e+300" in text
    assert "must be a number" not in text


def test_exponent_beyond_a_float(tmp_path: Path) -> None:
    path = study_folder(tmp_path, catalogue=CATALOGUE.replace("0.1", "1e400"))
    code, text = cli(["run", str(path), "-s", "half"], tmp_path)
    assert code == 1
    assert "cat.yaml: line 8: scenarios.half.disruptions[0].probability" in text
    assert "number too large for a 64-bit float (value: '1e400'" in text


def test_study_not_in_utf8(tmp_path: Path) -> None:
    path = study_folder(tmp_path)
    path.write_bytes(STUDY.replace("small", "caf\xe9").encode("latin-1"))
    code, text = cli(["run", str(path)], tmp_path)
    assert code == 1
    assert "study.yaml: line 1: not UTF-8 text" in text


# ----------------------------------------------------------------------------- sweep grids
def test_grid_too_large(tmp_path: Path) -> None:
    args = ["sweep", str(G7), "-s", SCENARIO, "-g", "min_stock_days=0:60:100000"]
    code, text = cli([*args, "-g", "availability=0:1:100000"], tmp_path)
    assert code == 1
    assert "the grid has 10,000,000,000 points, more than the limit of 100,000" in text
    assert "--max-points" in text


def test_grid_above_a_lowered_limit_and_a_bad_limit(tmp_path: Path) -> None:
    args = ["sweep", str(G7), "-s", SCENARIO, "-g", "min_stock_days=0,30", "-g", "spot=true,false"]
    code, text = cli([*args, "--max-points", "3"], tmp_path)
    assert code == 1
    assert "4 points, more than the limit of 3" in text
    code, text = cli([*args, "--max-points", "0"], tmp_path)
    assert code == 2
    assert "--max-points" in text


def test_frontier_with_ten_billion_caps(tmp_path: Path) -> None:
    began = time.perf_counter()
    code, text = cli(["frontier", str(G7), "--points", "10000000000"], tmp_path)
    assert time.perf_counter() - began < 10.0  # refused before the bisection or any array
    assert code == 1
    assert "frontier: points: the grid has 10,000,000,000 points" in text
    assert "--max-points" in text


def test_range_with_a_count_of_1e12(tmp_path: Path) -> None:
    code, text = cli(["sweep", str(G7), "-s", SCENARIO, "-g", "availability=0:1:1e12"], tmp_path)
    assert code == 2
    assert "'availability=0:1:1e12': the count '1e12' must be a whole number >= 2" in text
    assert "Traceback" not in text


def test_range_with_a_negative_count(tmp_path: Path) -> None:
    code, text = cli(["sweep", str(G7), "-s", SCENARIO, "-g", "availability=0:1:-4"], tmp_path)
    assert code == 2
    assert "the count '-4' must be a whole number >= 2" in text


def test_knob_given_twice(tmp_path: Path) -> None:
    args = ["sweep", str(G7), "-s", SCENARIO, "-g", "min_stock_days=1", "-g", "min_stock_days=2"]
    code, text = cli(args, tmp_path)
    assert code == 2
    assert "the knob 'min_stock_days' is given twice (first as 'min_stock_days=1')" in text


def test_availability_without_a_disruption(tmp_path: Path) -> None:
    code, text = cli(["sweep", str(G7), "-g", "availability=0:1:5"], tmp_path)
    assert code == 1
    assert "grid.availability: has no effect" in text
    assert "no disruption event" in text
    assert "--scenario" in text


# ----------------------------------------------------------------------------- workers
def test_worker_processes_that_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers whose interpreter cannot start: an error within seconds, never a hang."""
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "no-python-here"))
    began = time.perf_counter()
    with nothing_changes(tmp_path), pytest.raises(SweepWorkerError) as info:
        rs.sweep(
            G7,
            {"min_stock_days": [0.0, 30.0]},
            scenario=SCENARIO,
            method="rebuild",
            backend="processes",
            workers=2,
        )
    assert time.perf_counter() - began < 30.0
    text = str(info.value)
    assert "exited with code" in text
    assert "before it was ready" in text
    assert "backend='sequential'" in text
    assert "resilience.sweeps.worker" in text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore:.*:UserWarning")
def test_dask_scheduler_that_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(engine, "DASK_TIMEOUT_S", 2.0)
    args = ["sweep", str(G7), "-s", SCENARIO, "-g", "min_stock_days=0,30", "--method", "rebuild"]
    began = time.perf_counter()
    code, text = cli([*args, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"], tmp_path)
    assert time.perf_counter() - began < 30.0
    assert code == 1
    assert "cannot reach the Dask scheduler 'tcp://127.0.0.1:9' within 2 s" in text
    assert "check the address" in text


def _readme_snippet() -> str:
    """The README's notebook lines that load the G7 study and sweep it on processes."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("import resilience as rs")
    load = next(line for line in lines[start:] if line.startswith("g7 = rs.load_study("))
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("grid = rs.sweep("))
    call = [lines[first], lines[first + 1]]
    assert 'backend="processes"' in call[1]
    return "\n".join(["import resilience as rs", load, *call, ""])


def _run_script(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = folder / "sweep_script.py"
    assert "__main__" not in code
    script.write_text(code + 'print("points", grid.height, sorted(set(grid["status"])))\n')
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with nothing_changes(folder):
        return subprocess.run(
            [sys.executable, str(script)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )


def test_readme_sweep_snippet_runs_as_a_plain_script(tmp_path: Path) -> None:
    """The README's snippet saved as a script with no ``if __name__ == "__main__":`` guard.

    The workers never import this script, so it runs (it used to hang for ever).
    """
    done = _run_script(tmp_path, _readme_snippet())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "points 6 ['optimal']" in done.stdout
    assert "bootstrapping" not in done.stderr
