"""Bad downloads and bad options for `data refresh` and `build`: a clear error, nothing changed.

Every case runs the CLI (typer's CliRunner) on a copy of ``datasets/`` (through
``RESILIENCE_DATASETS``) and a copy of the small download folder
``tests/data/refresh_downloads``, spoils one thing, and asserts the exit code, the key
words of the message, and that neither folder changed (SHA-256 of every file before and
after). Fixtures live in this file (no conftest here).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.manifest_check import clear_cache
from resilience.paths import project_root

SHIPPED = project_root() / "datasets"
DOWNLOADS = project_root() / "tests" / "data" / "refresh_downloads"
WGI = "wgi_2024update_long.csv"
UNGA = "IdealpointestimatesAll_Jun2024.csv"
WNA = "uranium_production_2011_2020_tU.csv"
BACI = "BACI_HS92_Y2022_V202401b.csv"
CODES = "country_codes_V202401b.csv"

runner = CliRunner()


def _snapshot(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class Folders:
    """A datasets copy, a downloads copy and a scratch folder of the case."""

    datasets: Path
    downloads: Path
    scratch: Path


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Folders]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    datasets = tmp_path / "datasets"
    shutil.copytree(SHIPPED, datasets)
    downloads = tmp_path / "downloads"
    shutil.copytree(DOWNLOADS, downloads)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("RESILIENCE_DATASETS", str(datasets))
    clear_cache()
    yield Folders(datasets, downloads, scratch)
    clear_cache()
    root.handlers[:] = handlers
    root.setLevel(level)


def _edit(path: Path, change: Callable[[bytes], bytes]) -> None:
    path.write_bytes(change(path.read_bytes()))


def _cut_mid_last_record(data: bytes) -> bytes:
    body = data.rstrip(b"\r\n")
    last = body.rsplit(b"\n", 1)[-1]
    return body[: len(body) - len(last) // 2]


def _header_only(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0] + b"\n"


def _replace(old: str, new: str, count: int = 1) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        assert old.encode() in data, old
        return data.replace(old.encode(), new.encode(), count)

    return change


# (id, file in downloads, change, key words in the message)
REFRESH_CASES: list[tuple[str, str, Callable[[bytes], bytes], tuple[str, ...]]] = [
    ("wgi truncated mid-record", WGI, _cut_mid_last_record, (WGI, "cut")),
    ("wgi header only", WGI, _header_only, (WGI, "header only")),
    ("unga empty file", UNGA, lambda _: b"", (UNGA, "empty")),
    (
        "wna semicolon delimiter",
        WNA,
        lambda d: d.replace(b",", b";"),
        (WNA, "semicolon-separated"),
    ),
    (
        "wgi utf-16",
        WGI,
        lambda d: d.decode().encode("utf-16"),
        (WGI, "UTF-16"),
    ),
    ("baci year contradicts Y2022", BACI, _replace("\n2022,", "\n2031,"), (BACI, "2031", "Y2022")),
    ("wgi year after its edition", WGI, _replace(",2023,", ",2031,"), (WGI, "no year after 2024")),
    ("wna negative quantity", WNA, _replace(",3500", ",-3500"), (WNA, "negative quantity")),
    (
        "baci unknown country code",
        BACI,
        _replace("\n2022,156,", "\n2022,999,"),
        (BACI, "999", "unknown BACI country code"),
    ),
    ("wgi unknown economy", WGI, _replace("China,", "Chyna,"), (WGI, "Chyna")),
    ("baci cut at a byte count", BACI, lambda d: d[: len(d) - 9], (BACI, "cut short")),
    (
        "baci codes ends inside a quote",
        CODES,
        lambda d: d + b'999,"Atlantis, Republic of\n',
        (CODES, "quoted cell"),
    ),
    (
        "usgs row with a cell missing",
        "usgs/mcs2024-lithi_world.csv",
        _replace(",28000000,,,,", ",28000000"),
        ("mcs2024-lithi_world.csv", "7 of the header's 11 cells"),
    ),
]


@pytest.mark.parametrize(
    ("target", "change", "words"),
    [case[1:] for case in REFRESH_CASES],
    ids=[case[0] for case in REFRESH_CASES],
)
def test_bad_download_is_refused_and_nothing_changes(
    folders: Folders, target: str, change, words: tuple[str, ...]
) -> None:
    _edit(folders.downloads / target, change)
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(app, ["data", "refresh", "--from", str(folders.downloads)])
    assert result.exit_code == 1, result.output
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert "Traceback" not in result.output
    assert _snapshot(folders.datasets, folders.downloads) == before


def test_two_candidate_files_are_named_with_the_option(folders: Folders) -> None:
    newer = folders.downloads / "2025" / "wgi_2025update_long.csv"
    newer.parent.mkdir()
    shutil.copy(folders.downloads / WGI, newer)
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(app, ["data", "refresh", "--from", str(folders.downloads)])
    assert result.exit_code == 1
    assert WGI in result.stderr
    assert "wgi_2025update_long.csv" in result.stderr
    assert "--use wgi=PATH" in result.stderr
    assert _snapshot(folders.datasets, folders.downloads) == before


def test_shrink_is_refused_naming_the_table_and_counts(folders: Folders) -> None:
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(app, ["data", "refresh", "--from", str(folders.downloads)])
    assert result.exit_code == 1
    assert "governance.csv: rows 17,976 -> 10" in result.stderr
    assert "trade.parquet: rows 179,632 -> 6" in result.stderr
    assert "--allow-shrink" in result.stderr
    assert _snapshot(folders.datasets, folders.downloads) == before


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("wgi", ("--use takes KEY=PATH",)),
        ("wgii=x.csv", ("unknown source", "wgii")),
        ("wgi=does/not/exist.csv", ("file not found", "does/not/exist.csv")),
    ],
)
def test_bad_use_option(folders: Folders, value: str, words: tuple[str, ...]) -> None:
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(
        app, ["data", "refresh", "--from", str(folders.downloads), "--use", value]
    )
    assert result.exit_code == 1
    for word in words:
        assert word in result.stderr
    assert _snapshot(folders.datasets, folders.downloads) == before


@pytest.mark.parametrize(
    ("given", "missing"), [("--baci-codes", "--baci"), ("--baci", "--baci-codes")]
)
def test_build_baci_options_need_each_other(folders: Folders, given: str, missing: str) -> None:
    source = folders.downloads / (CODES if given == "--baci-codes" else BACI)
    before = _snapshot(folders.datasets, folders.downloads)
    out = folders.scratch / "build"
    result = runner.invoke(app, ["build", "--out", str(out), given, str(source)])
    assert result.exit_code == 1
    assert f"{given} needs {missing}" in result.stderr
    assert not out.exists()
    assert _snapshot(folders.datasets, folders.downloads) == before


def test_summary_warns_when_a_table_differs_from_the_manifest(folders: Folders) -> None:
    _edit(folders.datasets / "governance.csv", _replace("1.1213", "1.1214"))
    before = _snapshot(folders.datasets)
    result = runner.invoke(app, ["summary", "-c", "cobalt"])
    assert result.exit_code == 0, result.output
    assert "governance.csv differs from" in result.stderr
    assert "manifest" in result.stdout.lower()
    assert _snapshot(folders.datasets) == before


def test_help_says_what_refresh_reads_and_writes() -> None:
    result = runner.invoke(app, ["data", "refresh", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for pattern in ("wgi_*long.csv", "BACI_HS92_Y*_V*.csv", "MCS2025_World_Data.csv"):
        assert pattern in text
    assert "manifest.json" in text
    assert "datasets/" in text
    assert "--allow-shrink" in text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_replace("\n2022,", "\n2031,"), ("2031", "Y2022")),
        (lambda d: d[: len(d) - 9], ("cut short",)),
        (_replace("7538.989", "-7538.989"), ("negative value", "row 2")),
    ],
    ids=["year contradicts Y2022", "cut", "negative value"],
)
def test_build_refuses_a_bad_baci_file(folders: Folders, change, words: tuple[str, ...]) -> None:
    flows = folders.downloads / BACI
    _edit(flows, change)
    before = _snapshot(folders.datasets, folders.downloads)
    out = folders.scratch / "build"
    result = runner.invoke(
        app,
        [
            "build",
            "--out",
            str(out),
            "--baci",
            str(flows),
            "--baci-codes",
            str(folders.downloads / CODES),
        ],
    )
    assert result.exit_code == 1, result.output
    for word in words:
        assert word in result.stderr
    assert BACI in result.stderr
    assert not out.exists()
    assert _snapshot(folders.datasets, folders.downloads) == before


def test_wgi_cut_at_a_line_boundary_is_caught_by_the_shrink_guard(folders: Folders) -> None:
    seeded = runner.invoke(
        app, ["data", "refresh", "--from", str(folders.downloads), "--allow-shrink"]
    )
    assert seeded.exit_code == 0, seeded.output
    wgi = folders.downloads / WGI
    lines = wgi.read_bytes().splitlines(keepends=True)
    wgi.write_bytes(b"".join(lines[:4]))  # header + 3 whole records: no cut row to see
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(app, ["data", "refresh", "--from", str(folders.downloads)])
    assert result.exit_code == 1
    assert "governance.csv: rows 10 -> 3" in result.stderr
    assert "--allow-shrink" in result.stderr
    assert _snapshot(folders.datasets, folders.downloads) == before
