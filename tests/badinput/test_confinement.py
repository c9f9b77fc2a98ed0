"""Bad input, output side: symbolic links in a report folder, unwritable ``--out``, the umask.

Every case runs the real command (typer's ``CliRunner``, in process) and asserts the exit
code, the key words of the one-line error, and that nothing outside the chosen output
folder changed: every file, folder and link under the test's folder but the output folder
is hashed (bytes, mtime, mode, link target) before and after.

Tests run as root here and in CI, and root ignores permission bits: a ``chmod 0555``
folder is writable for root. The read-only cases therefore use folders that are
unwritable for root too — an immutable folder (``chattr +i``, skipped where the file
system or the capabilities do not allow it), paths under a file, and ``/proc`` — and
skip the ``chmod``-only case under root, saying why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from resilience.cli.app import app

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "models" / "g7_critical_minerals.yaml"
AS_OF = "2026-11-20"
DEFINITION = (
    "name: tiny\ntables: [metrics]\ndependency:\n  importers: [USA]\n  commodities: [cobalt]\n"
)

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("restore_logging")


# ----------------------------------------------------------------------------- helpers
def _snapshot(base: Path, skip: Path | None = None) -> dict[str, tuple[object, ...]]:
    """Every entry under ``base`` (links not followed) but ``skip``: what could change."""
    seen: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(base):
        here = Path(folder)
        if skip is not None and (here == skip or skip in here.parents):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = here / name
            if skip is not None and path == skip:
                continue
            st = path.lstat()
            key = path.relative_to(base).as_posix()
            if stat.S_ISLNK(st.st_mode):
                seen[key] = ("link", str(path.readlink()))
            elif stat.S_ISDIR(st.st_mode):
                seen[key] = ("dir", st.st_mode)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen[key] = ("file", digest, st.st_mtime_ns, st.st_mode)
    return seen


def _invoke(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def _assert_error(result: Result, *words: str) -> None:
    """Exit code 1, one ``error:`` line holding every word, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in result.output


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """``tmp_path`` with a sentinel file and folder outside the output folder, and a definition."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "sentinel.txt").write_bytes(b"must never change\n")
    (outside / "folder" / "kept.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "tiny.yaml").write_text(DEFINITION, encoding="utf-8")
    return tmp_path


def _report(world: Path, out: Path) -> Result:
    return _invoke("report", "--as-of", AS_OF, "--out", out, "--definition", world / "tiny.yaml")


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith((".staging", ".trash")))


# ----------------------------------------------------------------------------- report symlinks
def test_report_lock_symlink_to_an_outside_file_is_refused(world: Path) -> None:
    out = world / "out"
    out.mkdir()
    sentinel = world / "outside" / "sentinel.txt"
    (out / f".lock-{AS_OF}").symlink_to(sentinel)
    before = _snapshot(world, skip=out)
    result = _report(world, out)
    _assert_error(result, f".lock-{AS_OF}", "symbolic link", str(sentinel), "nothing was written")
    assert _snapshot(world, skip=out) == before  # the sentinel's bytes and mtime
    assert sentinel.read_bytes() == b"must never change\n"
    assert sorted(p.name for p in out.iterdir()) == [f".lock-{AS_OF}"]  # no partition


def test_report_as_of_symlink_is_refused_before_publishing(world: Path) -> None:
    out = world / "out"
    out.mkdir()
    elsewhere = world / "outside" / "folder"
    (out / f"as_of={AS_OF}").symlink_to(elsewhere)
    before = _snapshot(world, skip=out)
    result = _report(world, out)
    _assert_error(
        result, f"as_of={AS_OF}", "symbolic link", str(elsewhere), "nothing was published"
    )
    assert _snapshot(world, skip=out) == before
    assert sorted(p.name for p in elsewhere.iterdir()) == ["kept.parquet"]
    assert (out / f"as_of={AS_OF}").is_symlink()  # left as it was, for the operator to see
    assert _leftovers(out) == []  # no staging folder left behind


@pytest.mark.parametrize(
    "name",
    [f".staging-{AS_OF}-{os.getpid()}", ".staging-2026-11-13-4242", ".trash-2026-11-13-4242"],
    ids=["own-staging", "other-staging", "trash"],
)
def test_report_staging_or_trash_symlink_is_refused(world: Path, name: str) -> None:
    out = world / "out"
    out.mkdir()
    elsewhere = world / "outside" / "folder"
    (out / name).symlink_to(elsewhere)
    before = _snapshot(world, skip=out)
    result = _report(world, out)
    _assert_error(result, name, "symbolic link", str(elsewhere), "nothing was published")
    assert _snapshot(world, skip=out) == before  # nothing deleted or restored through it
    assert not (out / f"as_of={AS_OF}").exists()
    assert not (out / "as_of=2026-11-13").exists()


@pytest.mark.parametrize("entry", ["table=metrics", "summary.html", "_manifest.json"])
def test_report_partition_holding_a_symlink_is_refused(world: Path, entry: str) -> None:
    out = world / "out"
    assert _report(world, out).exit_code == 0
    partition = out / f"as_of={AS_OF}"
    moved = world / "outside" / entry
    (partition / entry).rename(moved)
    (partition / entry).symlink_to(moved)
    before = _snapshot(world, skip=out)
    published = _snapshot(partition)
    result = _report(world, out)
    _assert_error(result, entry, "symbolic link", str(moved), "nothing was published")
    assert _snapshot(world, skip=out) == before
    assert _snapshot(partition) == published  # the partition was not replaced
    assert _leftovers(out) == []


@pytest.mark.parametrize("table", ["dependency", "metrics"])
def test_build_table_folder_symlink_is_refused_before_building(world: Path, table: str) -> None:
    out = world / "out"
    out.mkdir()
    elsewhere = world / "outside" / "folder"
    (out / table).symlink_to(elsewhere)
    before = _snapshot(world, skip=out)
    result = _invoke("build", "--out", out, "--year", "2024")
    _assert_error(result, f"{out / table}", "symbolic link", str(elsewhere), "nothing was written")
    assert _snapshot(world, skip=out) == before
    assert sorted(p.name for p in out.iterdir()) == [table]  # the other table not written either


# ----------------------------------------------------------------------------- unwritable --out
@pytest.fixture(params=["immutable", "chmod"])
def read_only(request: pytest.FixtureRequest, world: Path) -> Iterator[Path]:
    """An empty folder that the current user, root included, cannot write into."""
    folder = world / "frozen"
    folder.mkdir()
    if request.param == "chmod":
        if os.geteuid() == 0:
            pytest.skip(
                "running as root: root ignores permission bits, a 0555 folder stays writable"
            )
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    done = (
        subprocess.run([chattr, "+i", str(folder)], capture_output=True, check=False)
        if chattr
        else None
    )
    if done is None or done.returncode != 0:
        pytest.skip(
            "`chattr +i` is not available here (no chattr, a file system without the "
            "immutable flag, or no CAP_LINUX_IMMUTABLE): no folder is read-only for root"
        )
    try:
        yield folder
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


COMMANDS = {
    "run": lambda o: ["run", STUDY, "--out", o / "results"],
    "run-all": lambda o: ["run", STUDY, "--all", "--out", o],
    "sweep": lambda o: [
        "sweep",
        STUDY,
        "-s",
        "china_graphite_controls",
        "-g",
        "availability=0:1:5000",
        "--out",
        o / "sweep.parquet",
    ],  # fmt: skip
    "frontier-plot": lambda o: ["frontier", STUDY, "--points", "2", "--plot", o / "f.png"],
    "build": lambda o: ["build", "--out", o, "--year", "2024"],
    "risk": lambda o: ["risk", "-i", "USA", "-b", "G7", "-f", "csv", "--out", o / "risk.csv"],
}


@pytest.mark.parametrize("command", [*COMMANDS, "report"])
def test_read_only_out_fails_before_any_work(world: Path, read_only: Path, command: str) -> None:
    before = _snapshot(world, skip=read_only)
    if command == "report":
        result = _report(world, read_only)
    else:
        result = _invoke(*COMMANDS[command](read_only))
    cause = "not permitted" if os.geteuid() == 0 else "permission denied"
    _assert_error(result, "cannot write to output", str(read_only), cause)
    assert "wrote" not in result.stdout  # nothing computed, nothing written
    assert result.stdout.strip() == ""
    assert list(read_only.iterdir()) == []
    assert _snapshot(world, skip=read_only) == before


# A later, cheaper error in the same command line: if the output were checked after the
# inputs (or after solving), this error would be the one reported.
ORDER = {
    "run": ["run", STUDY, "--scenario", "no_such_scenario", "--out"],
    "sweep": ["sweep", STUDY, "-g", "no_such_knob=1,2", "--out"],
    "build": ["build", "--year", "1800", "--out"],
    "risk": ["risk", "-i", "NO_SUCH_COUNTRY", "-b", "G7", "-f", "parquet", "--out"],
}


@pytest.mark.parametrize("command", [*ORDER, "report"])
def test_the_output_is_checked_before_the_inputs(world: Path, command: str) -> None:
    blocker = world / "blocker"
    blocker.write_text("a file\n")
    target = blocker / "sub" / ("x.parquet" if command in ("sweep", "risk") else "folder")
    before = _snapshot(world)
    if command == "report":
        (world / "bad.yaml").write_text("name: bad\ntables: [metricz]\n", encoding="utf-8")
        before = _snapshot(world)
        result = _invoke(
            "report", "--as-of", AS_OF, "--out", target, "--definition", world / "bad.yaml"
        )
    else:
        result = _invoke(*ORDER[command], target)
    _assert_error(result, "cannot write to output", str(target), "not a directory", str(blocker))
    assert _snapshot(world) == before


def test_report_out_that_is_a_file(world: Path) -> None:
    blocker = world / "reports.out"
    blocker.write_text("a file\n")
    before = _snapshot(world)
    _assert_error(_report(world, blocker), str(blocker), "a file is in the way")
    assert _snapshot(world) == before


def test_proc_paths_fail_with_the_path_and_the_cause(world: Path) -> None:
    if not Path("/proc/version").is_file():
        pytest.skip("no /proc on this system")
    before = _snapshot(world)
    _assert_error(
        _report(world, "/proc/resilience-report"), "/proc/resilience-report", "cannot create"
    )
    result = _invoke("build", "--out", "/proc/version/build")
    _assert_error(result, "/proc/version/build", "not a directory", "/proc/version is a file")
    assert _snapshot(world) == before


def test_missing_parents_are_created_and_get_the_umask(world: Path) -> None:
    target = world / "new" / "deeper" / "risk.csv"
    before = _snapshot(world)
    old = os.umask(0o022)
    try:
        result = _invoke("risk", "-i", "USA", "-b", "G7", "-f", "csv", "--out", target)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    header, *rows = target.read_text().splitlines()
    assert "importer_iso3" in header.split(",")
    assert rows
    assert all(",USA," in row for row in rows)
    assert stat.S_IMODE((world / "new").stat().st_mode) == 0o755
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    after = _snapshot(world)
    assert {k: v for k, v in after.items() if not k.startswith("new")} == before


# ----------------------------------------------------------------------------- umask
WRITERS = {
    "run": lambda o, w: ["run", STUDY, "--out", o],
    "report": lambda o, w: [
        "report",
        "--as-of",
        AS_OF,
        "--out",
        o,
        "--definition",
        w / "tiny.yaml",
    ],
    "build": lambda o, w: ["build", "--out", o, "--year", "2024"],
    "sweep": lambda o, w: ["sweep", STUDY, "-g", "min_stock_days=0,30", "--out", o / "s.parquet"],
    "frontier": lambda o, w: [
        "frontier",
        STUDY,
        "--points",
        "2",
        "--out",
        o / "f.parquet",
        "--plot",
        o / "f.svg",
    ],  # fmt: skip
}


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o077, 0o600)])
@pytest.mark.parametrize("command", list(WRITERS))
def test_written_files_follow_the_umask(
    world: Path, command: str, mask: int, file_mode: int
) -> None:
    out = world / "out"
    before = _snapshot(world)
    old = os.umask(mask)
    try:
        result = _invoke(*WRITERS[command](out, world))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    files = [p for p in out.rglob("*") if p.is_file() and not p.is_symlink()]
    folders = [out, *(p for p in out.rglob("*") if p.is_dir())]
    assert any(p.suffix == ".parquet" for p in files)
    assert {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in files} == {
        p.relative_to(out).as_posix(): file_mode for p in files
    }
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o777 & ~mask}
    assert not [p for p in out.rglob(".*") if p.name.endswith(".tmp") or ".staging" in p.name]
    assert _snapshot(world, skip=out) == before
