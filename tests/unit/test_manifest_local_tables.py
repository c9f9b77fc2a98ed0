"""Local-only tables (built from inputs that may not be shipped) and the manifest check."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience.ingest.inputs import OPTIONAL_TABLES, TABLES
from resilience.manifest_check import LOCAL_TABLES, clear_cache, verify_table
from resilience.paths import project_root

SHIPPED = project_root() / "datasets"
CHINA = "china_exports_monthly.parquet"


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "datasets"
    folder.mkdir()
    for name in ("manifest.json", "recycling.csv", "published_hhi.csv"):
        shutil.copy(SHIPPED / name, folder / name)
    monkeypatch.setenv("RESILIENCE_DATASETS", str(folder))
    clear_cache()
    yield folder
    clear_cache()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_local_tables_are_the_refresh_s_optional_ones_and_never_shipped() -> None:
    assert set(OPTIONAL_TABLES) == LOCAL_TABLES
    assert not LOCAL_TABLES & set(TABLES)
    ignored = (project_root() / ".gitignore").read_text().splitlines()
    assert all(f"/datasets/{name}" in ignored for name in LOCAL_TABLES)


def test_an_absent_local_table_is_not_a_warning(copy: Path, caplog) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    assert CHINA in {**manifest["tables"], **manifest.get("local_tables", {})}
    with caplog.at_level(logging.DEBUG):
        assert verify_table(copy / CHINA) == "local-absent"
    assert _warnings(caplog) == []
    assert any("local-only table" in r.getMessage() for r in caplog.records)


def test_an_absent_shipped_table_still_is(copy: Path, caplog) -> None:
    (copy / "recycling.csv").unlink()
    with caplog.at_level(logging.WARNING):
        assert verify_table(copy / "recycling.csv") == "differs"
    (message,) = _warnings(caplog)
    assert "recycling.csv: listed in manifest.json but missing" in message


def _write_local(copy: Path, key: str) -> Path:
    """A stand-in local table recorded in the manifest under ``key``, as a refresh would."""
    table = copy / CHINA
    table.write_bytes(b"PAR1 local rows PAR1")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["tables"].pop(CHINA, None)
    entry = {"sha256": hashlib.sha256(table.read_bytes()).hexdigest()}
    manifest.setdefault(key, {})[CHINA] = entry | {"bytes": table.stat().st_size}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return table


@pytest.mark.parametrize("key", ["tables", "local_tables"])
def test_a_present_local_table_is_checked_like_any_other(copy: Path, caplog, key: str) -> None:
    table = _write_local(copy, key)
    assert verify_table(table) == "ok"
    table.write_bytes(b"PAR1 edited by hand PAR1")
    clear_cache()
    with caplog.at_level(logging.WARNING):
        assert verify_table(table) == "differs"
    (message,) = _warnings(caplog)
    assert f"{CHINA} differs from" in message
