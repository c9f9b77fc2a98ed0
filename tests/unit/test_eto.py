"""The ETO chip supply-chain adapter on real-format fixtures, `data refresh --eto`, the loader."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.data import eto_chip_supply_chain_available, load_eto_chip_supply_chain
from resilience.errors import DataError
from resilience.ingest.eto import ETO_CHIP_SUPPLY_CHAIN, LICENCE, read_eto
from resilience.manifest_check import clear_cache
from resilience.paths import project_root

ETO = project_root() / "tests" / "data" / "eto"
DOWNLOADS = project_root() / "tests" / "data" / "refresh_downloads"
runner = CliRunner()


@pytest.fixture(scope="module")
def eto() -> pl.DataFrame:
    return read_eto(ETO)


def _one(frame: pl.DataFrame, provided: str, provider: str) -> dict[str, object]:
    rows = frame.filter((pl.col("provided_id") == provided) & (pl.col("provider_id") == provider))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_one_row_per_provision_row_with_its_line(eto: pl.DataFrame) -> None:
    assert eto.height == 14
    assert eto["source_row"].to_list() == list(range(2, 16))
    assert set(eto["licence"]) == {LICENCE}
    assert set(eto["source_file"]) == {"provision.csv"}


def test_countries_firms_regions_and_unnamed_groups(eto: pl.DataFrame) -> None:
    country = _one(eto, "S2", "P8")
    assert (country["provider_kind"], country["country_iso3"], country["share_pct"]) == (
        "country",
        "TWN",
        20.0,
    )
    assert "site location for fabrication" in str(country["country_basis"])
    firm = _one(eto, "N20", "P88")
    assert (firm["provider_kind"], firm["country_iso3"], firm["country_basis"]) == (
        "firm",
        "NLD",
        "firm headquarters",
    )
    region = _one(eto, "S2", "P312")
    assert (region["provider_kind"], region["country_iso3"], region["country_basis"]) == (
        "region",
        None,
        None,
    )
    assert _one(eto, "S2", "P5")["provider_kind"] == "unspecified"


def test_provides_without_a_share_is_null_and_names_stay_as_listed(eto: pl.DataFrame) -> None:
    row = _one(eto, "S2", "P122")
    assert row["share_pct"] is None
    assert row["provider_name"] == "Fab Firm B Old Name"  # as provision.csv lists it
    assert row["country_iso3"] == "TWN"


def test_inputs_carry_their_type_stage_and_edges(eto: pl.DataFrame) -> None:
    stage = _one(eto, "S2", "P1")
    assert (stage["provided_type"], stage["stage_id"], stage["stage_name"]) == (
        "stage",
        "S2",
        "Fabrication",
    )
    euv = _one(eto, "N20", "P45")
    assert (euv["provided_type"], euv["is_type_of_ids"], euv["goes_into_ids"]) == (
        "tool_resource",
        "N19",
        None,
    )
    assert _one(eto, "N26", "P7")["goes_into_ids"] == "N25;N0"


def _tmp_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    datasets = tmp_path / "datasets"
    shutil.copytree(
        project_root() / "datasets",
        datasets,
        ignore=shutil.ignore_patterns(ETO_CHIP_SUPPLY_CHAIN, "_build", ".refresh*"),
    )
    monkeypatch.setenv("RESILIENCE_DATASETS", str(datasets))
    clear_cache()
    return datasets


def test_refresh_with_eto_writes_the_local_table_and_without_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    datasets = _tmp_datasets(tmp_path, monkeypatch)
    assert not eto_chip_supply_chain_available()
    args = ["data", "refresh", "--from", str(DOWNLOADS), "--allow-shrink"]
    result = runner.invoke(app, [*args, "--eto", str(ETO)])
    assert result.exit_code == 0, result.output
    assert ETO_CHIP_SUPPLY_CHAIN in result.stdout
    table = load_eto_chip_supply_chain()
    assert table.equals(read_eto(ETO))
    manifest = json.loads((datasets / "manifest.json").read_text())
    assert manifest["rows"][ETO_CHIP_SUPPLY_CHAIN] == 14
    assert sorted(i["file"] for i in manifest["inputs"] if i["key"] == "eto") == [
        "inputs.csv",
        "providers.csv",
        "provision.csv",
        "sequence.csv",
        "stages.csv",
    ]
    before = (datasets / ETO_CHIP_SUPPLY_CHAIN).read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert (datasets / ETO_CHIP_SUPPLY_CHAIN).read_bytes() == before


def test_loader_says_how_to_build_the_absent_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tmp_datasets(tmp_path, monkeypatch)
    with pytest.raises(DataError) as info:
        load_eto_chip_supply_chain()
    message = str(info.value)
    assert "CC BY-NC 4.0" in message
    assert "--eto" in message
    assert ETO_CHIP_SUPPLY_CHAIN in message


def test_the_local_table_is_gitignored() -> None:
    root = project_root()
    if not (root / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"datasets/{ETO_CHIP_SUPPLY_CHAIN}"],
        cwd=root,
        check=False,
    )
    assert ignored.returncode == 0
