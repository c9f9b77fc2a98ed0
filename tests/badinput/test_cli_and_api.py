"""Bad input to the command line and the notebook API: a clear error, no traceback, no damage.

Each case asserts the exit code (or the exception type), the key words of the message
(the argument, the value, what is allowed or the path and the cause), that no traceback
reaches the user, and that nothing outside the folder the case chose has changed (the
shipped ``datasets/`` and ``models/`` and the case's own temporary folder are hashed
before and after).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import resilience as rs
from resilience.cli.app import app
from resilience.scenarios import SpecError

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "models" / "g7_critical_minerals.yaml"
CLI = Path(sys.executable).parent / "resilience"

runner = CliRunner()


def _snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (path -> sha256), and every folder (path -> 'dir')."""
    state: dict[str, str] = {}
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or path.is_dir():
                state[str(path)] = "dir" if path.is_dir() else "link"
            elif path.is_file():
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture
def unchanged(tmp_path: Path, restore_logging: None) -> Iterator[Path]:
    """``tmp_path``; after the test, it and the shipped folders are as they were."""
    roots = (REPO / "datasets", REPO / "models", tmp_path)
    before = _snapshot(*roots)
    yield tmp_path
    assert _snapshot(*roots) == before


def _cli(*args: str) -> tuple[int, str]:
    # A wide terminal, so that rich's usage panel never splits a long temporary path.
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    return result.exit_code, result.output


def _clean(output: str, *words: str) -> None:
    """No traceback; every word present (usage-error panels unwrapped first)."""
    assert "Traceback" not in output
    assert 'File "' not in output
    flat = " ".join(output.replace("│", " ").split())
    for word in words:
        assert word in flat, f"{word!r} not in {output!r}"


# ----------------------------------------------------------------------------- API misuse
@pytest.fixture(scope="module")
def study() -> rs.scenarios.StudySpec:  # type: ignore[name-defined]
    return rs.load_study(STUDY)


@pytest.fixture(scope="module")
def result(study):  # one real run, for compare()
    return rs.run(study)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda s: rs.run(None), ["run(study=...)", "None", "StudySpec", "allowed"]),
        (lambda s: rs.run(s, 42), ["run(scenario=...)", "42", "wrong type int", "scenario name"]),
        (lambda s: rs.run(s, [42]), ["run(scenario=...)", "[42]", "ScenarioSpec"]),
        (lambda s: rs.run(s, policy=[1]), ["run(policy=...)", "[1]", "a dict"]),
        (lambda s: rs.run(s, options="fast"), ["run(options=...)", "'fast'", "SolverOptions"]),
        (lambda s: rs.run(s, trade=5), ["run(trade=...)", "5", "DataFrame or LazyFrame"]),
        (lambda s: rs.sweep(s, [0, 30]), ["sweep(grid=...)", "[0, 30]", "{knob: [values]}"]),
        (lambda s: rs.sweep(None, {"min_stock_days": [0]}), ["sweep(study=...)", "None"]),
        (lambda s: rs.frontier(s, points=1), ["frontier(points=...)", "1", "whole number >= 2"]),
        (lambda s: rs.frontier(s, 42), ["frontier(scenario=...)", "42"]),
        (lambda s: rs.load_dataset("2023"), ["load_dataset(years=...)", "'2023'", "[2022, 2023]"]),
        (lambda s: rs.load_dataset(2023), ["load_dataset(years=...)", "2023", "list of whole"]),
        (lambda s: rs.load_dataset(baci_path=3), ["load_dataset(baci_path=...)", "file path"]),
        (lambda s: rs.load_study(42), ["load_study(path=...)", "42", "file path"]),
        (lambda s: rs.load_catalogue(None), ["load_catalogue(path=...)", "None", "file path"]),
        (
            lambda s: rs.scenario("cut", description="d", disruptions={"suppliers": "IDN"}),
            ["scenario(disruptions=...)", "list of dicts"],
        ),
        (
            lambda s: rs.scenario("cut", description="d", assumptions="one text"),
            ["scenario(assumptions=...)", "'one text'", "list of texts"],
        ),
    ],
)
def test_api_misuse_raises_spec_error_naming_argument_value_and_allowed(
    study, unchanged, call, words
):
    with pytest.raises(SpecError) as info:
        call(study)
    message = str(info.value)
    _clean(message, "<python>", *words)


def test_api_compare_refuses_what_is_not_a_result(result, unchanged):
    with pytest.raises(SpecError) as info:
        rs.compare(result, "x")
    _clean(str(info.value), "compare(b=...)", "'x'", "StudyResult from rs.run")
    with pytest.raises(SpecError, match=r"compare\(a=\.\.\.\)"):
        rs.compare(None, result)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- risk parties
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-i", "USA", "-b", "G7", "-a", "USA"], ["--adversary 'USA'", "the importer USA"]),
        (["-i", "DEU", "-b", "EU", "-a", "FRA"], ["--adversary 'FRA'", "allied bloc 'EU'"]),
    ],
)
def test_cli_risk_refuses_adversary_equal_to_importer_or_in_its_bloc(unchanged, args, words):
    code, output = _cli("risk", *args)
    assert code == 1
    _clean(output, "error:", *words, "allowed:")
    assert "coercion" not in output.split("allowed:")[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-i", "Germny", "-b", "EU"], ["unknown importer 'Germny'", "'Germany'"]),
        (["-i", "DEU", "-b", "EU", "-c", "lithum"], ["lithum", "lithium"]),
        (["-i", "DEU", "-b", "G8"], ["unknown bloc 'G8'", "'G7'"]),
    ],
)
def test_cli_risk_unknown_names_list_close_matches(unchanged, args, words):
    code, output = _cli("risk", *args)
    assert code == 1
    _clean(output, "error:", *words)


def test_cli_risk_bad_format_lists_the_choices(unchanged):
    code, output = _cli("risk", "-i", "DEU", "-b", "EU", "--format", "xml")
    assert code == 2
    _clean(output, "--format", "'xml'", "'table', 'csv', 'json', 'parquet'")


def test_cli_risk_parquet_without_out_says_what_is_needed(unchanged):
    code, output = _cli("risk", "-i", "DEU", "-b", "EU", "--format", "parquet")
    assert code == 1
    _clean(output, "--format parquet needs --out FILE")


def test_cli_risk_out_with_the_screen_table_is_not_silently_ignored(unchanged):
    target = unchanged / "risk.txt"
    code, output = _cli("risk", "-i", "DEU", "-b", "EU", "--out", str(target))
    assert code == 1
    _clean(output, f"--out {target}", "add --format csv, json or parquet")
    assert not target.exists()


# ----------------------------------------------------------------------------- paths
RISK = ["risk", "-i", "DEU", "-b", "EU", "-c", "lithium", "--year", "2023", "-f", "csv"]


def test_cli_missing_input_directory_names_it(unchanged):
    study = unchanged / "no" / "such" / "study.yaml"
    code, output = _cli("run", str(study))
    assert code == 2
    _clean(output, "study_file", "does not exist")
    assert not (unchanged / "no").exists()


def test_cli_missing_output_folders_are_created_only_on_writing(unchanged):
    target = unchanged / "no" / "such" / "risk.csv"
    code, output = _cli(*RISK, "--out", str(target))
    assert code == 0, output
    assert target.is_file()
    target.unlink()
    for folder in (target.parent, target.parent.parent):
        folder.rmdir()


def test_cli_proc_path_is_refused_with_path_and_cause(unchanged):
    code, output = _cli(*RISK, "--out", "/proc/resilience-risk.csv")
    assert code == 1
    _clean(
        output,
        "error:",
        "cannot write to output file /proc/resilience-risk.csv",
        "no such file or directory",
    )


def test_cli_full_disk_names_path_and_cause(unchanged):
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is Linux-only")
    code, output = _cli(*RISK, "--out", "/dev/full")
    assert code == 1
    _clean(output, "error:", "cannot write /dev/full", "no space left on device")


def test_cli_directory_where_a_file_is_expected(unchanged):
    code, output = _cli(*RISK, "--out", str(unchanged))
    assert code == 2
    _clean(output, "--out", "is a directory")
    code, output = _cli("run", str(unchanged))
    assert code == 2
    _clean(output, "is a directory")


def test_cli_missing_study_file(unchanged):
    code, output = _cli("run", str(unchanged / "nope.yaml"))
    assert code == 2
    _clean(output, "nope.yaml", "does not exist")


def test_cli_run_out_under_proc_is_one_line(unchanged):
    code, output = _cli("run", str(STUDY), "--out", "/proc/resilience-run")
    assert code == 1
    _clean(output, "error:", "/proc/resilience-run")
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1


def _unprivileged() -> list[str]:
    """A command prefix that runs without the power to override file permissions."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be denied")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def test_cli_permission_denied_names_path_and_cause(unchanged):
    locked = unchanged / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        before = _snapshot(locked)
        done = subprocess.run(
            [*_unprivileged(), str(CLI), *RISK, "--out", str(locked / "risk.csv")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert _snapshot(locked) == before
    finally:
        locked.chmod(0o755)
        locked.rmdir()  # fails if anything was written into it
    assert done.returncode == 1, done.stderr
    _clean(
        done.stdout + done.stderr,
        f"cannot write to output file {locked / 'risk.csv'}",
        "permission denied",
    )
    assert done.stdout == ""


def test_cli_good_output_still_written(unchanged):
    # the counterpart of the cases above: the same command to a writable path works
    target = unchanged / "risk.csv"
    code, output = _cli(*RISK, "--out", str(target))
    assert code == 0, output
    frame = pl.read_csv(target)
    assert {"source", "vintage", "import_value_usd"} <= set(frame.columns)
    target.unlink()  # leave the folder as found
