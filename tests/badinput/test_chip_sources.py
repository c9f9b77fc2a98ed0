"""Bad Taiwan customs and ETO files for `data refresh`: an error naming file, row, column, value.

Every case runs the CLI (typer's CliRunner) on a copy of ``datasets/`` (through
``RESILIENCE_DATASETS``), a copy of the small download folder
``tests/data/refresh_downloads`` (which holds the Taiwan customs extract) and, for ETO, a
copy of ``tests/data/eto`` passed with ``--eto``; it spoils one thing and asserts the
exit code, the file, row, column and value in the message, and that no folder changed
(SHA-256 of every file before and after). Fixtures live in this file (no conftest here).
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
ETO = project_root() / "tests" / "data" / "eto"
TAIWAN = "taiwan_exports_8542_by_destination_2013_2025.csv"

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
    """A datasets copy, a downloads copy and an ETO copy of the case."""

    datasets: Path
    downloads: Path
    eto: Path


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Folders]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    datasets = tmp_path / "datasets"
    shutil.copytree(SHIPPED, datasets, ignore=shutil.ignore_patterns("_build", ".refresh*"))
    downloads = tmp_path / "downloads"
    shutil.copytree(DOWNLOADS, downloads)
    eto = tmp_path / "eto"
    shutil.copytree(ETO, eto)
    monkeypatch.setenv("RESILIENCE_DATASETS", str(datasets))
    clear_cache()
    yield Folders(datasets, downloads, eto)
    clear_cache()
    root.handlers[:] = handlers
    root.setLevel(level)


def _replace(old: str, new: str) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        assert old.encode() in data, old
        return data.replace(old.encode(), new.encode(), 1)

    return change


def _cut_mid_last_record(data: bytes) -> bytes:
    body = data.rstrip(b"\r\n")
    last = body.rsplit(b"\n", 1)[-1]
    return body[: len(body) - len(last) // 2]


# (id, change to the Taiwan file, words: file, row, column, value, reason)
TAIWAN_CASES: list[tuple[str, Callable[[bytes], bytes], tuple[str, ...]]] = [
    ("cut mid-record", _cut_mid_last_record, (TAIWAN, "row 15", "cut")),
    (
        "unknown destination",
        _replace("2024,德國,", "2024,德意志,"),
        (TAIWAN, "row 11", "'Country'", "'德意志'", "unknown country name"),
    ),
    (
        "negative value",
        _replace(",466000.0", ",-466000.0"),
        (TAIWAN, "row 9", "'Export Value (USD)'", "-466000.0", "negative"),
    ),
    (
        "value not a number",
        _replace(",466000.0", ",466k"),
        (TAIWAN, "row 9", "'Export Value (USD)'", "'466k'", "not a number"),
    ),
    (
        "wrong header",
        _replace("Export Value (USD)", "Export Value (NTD)"),
        (TAIWAN, "'Export Value (USD)'", "required column is missing"),
    ),
    (
        "code outside heading 8542",
        _replace("2024,日本,85423300000", "2024,日本,85414300000"),
        (TAIWAN, "row 9", "'HS Code'", "'85414300000'", "not under HS heading 8542"),
    ),
    (
        "code cut to ten digits",
        _replace("2024,日本,85423300000", "2024,日本,8542330000"),
        (TAIWAN, "row 9", "'HS Code'", "'8542330000'", "not an 11-digit CCC code"),
    ),
    (
        "year outside the file name",
        _replace("2016,古巴,", "2012,古巴,"),
        (TAIWAN, "row 12", "'Year'", "2012", "2013-2025"),
    ),
    (
        "duplicate destination and code",
        _replace("2024,德國,85429010008", "2024,日本,85423300000"),
        (TAIWAN, "row 9", "row 11", "'Year, Country, HS Code'", "'85423300000'", "duplicate key"),
    ),
]


@pytest.mark.parametrize(
    ("change", "words"),
    [case[1:] for case in TAIWAN_CASES],
    ids=[case[0] for case in TAIWAN_CASES],
)
def test_bad_taiwan_file_is_refused_and_nothing_changes(
    folders: Folders, change: Callable[[bytes], bytes], words: tuple[str, ...]
) -> None:
    path = folders.downloads / TAIWAN
    path.write_bytes(change(path.read_bytes()))
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(
        app, ["data", "refresh", "--from", str(folders.downloads), "--allow-shrink"]
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    for word in words:
        assert word in text, (word, result.stderr)
    assert "Traceback" not in result.output
    assert _snapshot(folders.datasets, folders.downloads) == before


# (id, ETO file, change, words: file, row, column, value, reason)
ETO_CASES: list[tuple[str, str, Callable[[bytes], bytes], tuple[str, ...]]] = [
    ("provision cut mid-record", "provision.csv", _cut_mid_last_record, ("provision.csv", "cut")),
    (
        "unknown provider id",
        "provision.csv",
        _replace("JPN,P7,Lithography tools", "JPN,P777,Lithography tools"),
        ("provision.csv", "row 6", "'provider_id'", "'P777'", "unknown provider"),
    ),
    (
        "negative share",
        "provision.csv",
        _replace("USA,P1,Lithography tools,N19,5.0", "USA,P1,Lithography tools,N19,-5.0"),
        ("provision.csv", "row 7", "'share_provided'", "-5.0", "negative share"),
    ),
    (
        "unknown input",
        "provision.csv",
        _replace("Wafer,N26,60.0", "Wafer,N99,60.0"),
        ("provision.csv", "row 14", "'provided_id'", "'N99'", "unknown input or stage"),
    ),
    (
        "shares add to more than 100",
        "provision.csv",
        _replace("Wafer,N26,41.0", "Wafer,N26,46.0"),
        ("provision.csv", "row 14", "'share_provided'", "106.0", "more than 100 %"),
    ),
    (
        "wrong header",
        "providers.csv",
        _replace("provider_type", "type"),
        ("providers.csv", "'provider_type'", "required column is missing"),
    ),
    (
        "unknown country code",
        "providers.csv",
        _replace("JPN,Japan,P7", "JPX,Japan,P7"),
        ("providers.csv", "row 5", "'provider_name'", "'JPX'", "not an ISO3 country code"),
    ),
    (
        "firm headquarters unknown",
        "providers.csv",
        _replace("Toolmaker A,,P88,organization,NLD", "Toolmaker A,,P88,organization,Holland"),
        ("providers.csv", "row 8", "'country'", "'Holland'", "not an ISO3 country code"),
    ),
    (
        "one provider id, two countries",
        "providers.csv",
        _replace(
            "Fab Firm B Old Name,P122,organization,TWN", "Fab Firm B Old Name,P122,organization,JPN"
        ),
        ("providers.csv", "'provider_id'", "'P122'", "two types or countries"),
    ),
    (
        "sequence edge to an unknown input",
        "sequence.csv",
        _replace("Photolithography,N25,,\nWafer", "Photolithography,N52,,\nWafer"),
        ("sequence.csv", "row 3", "'goes_into_id'", "'N52'", "unknown input"),
    ),
    (
        "stages header only",
        "stages.csv",
        lambda d: d.split(b"\n", 1)[0] + b"\n",
        ("stages.csv", "header only"),
    ),
]


@pytest.mark.parametrize(
    ("target", "change", "words"),
    [case[1:] for case in ETO_CASES],
    ids=[case[0] for case in ETO_CASES],
)
def test_bad_eto_file_is_refused_and_nothing_changes(
    folders: Folders, target: str, change: Callable[[bytes], bytes], words: tuple[str, ...]
) -> None:
    path = folders.eto / target
    path.write_bytes(change(path.read_bytes()))
    before = _snapshot(folders.datasets, folders.downloads, folders.eto)
    result = runner.invoke(
        app,
        [
            "data",
            "refresh",
            "--from",
            str(folders.downloads),
            "--allow-shrink",
            "--eto",
            str(folders.eto),
        ],
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    for word in words:
        assert word in text, (word, result.stderr)
    assert "Traceback" not in result.output
    assert _snapshot(folders.datasets, folders.downloads, folders.eto) == before


def test_eto_folder_without_a_file_names_it(folders: Folders) -> None:
    (folders.eto / "sequence.csv").unlink()
    before = _snapshot(folders.datasets, folders.downloads)
    result = runner.invoke(
        app, ["data", "refresh", "--from", str(folders.downloads), "--eto", str(folders.eto)]
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "sequence.csv" in text
    assert "ETO file not found" in text
    assert _snapshot(folders.datasets, folders.downloads) == before
