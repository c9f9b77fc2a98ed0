"""A report run end to end (in process): tables, manifest, readers, idempotency, evolution."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from resilience.report import TABLE_NAMES, TABLES, read_report, run_report
from resilience.report.manifest import VOLATILE, sha256_file, stable_view
from resilience.report.publish import MANIFEST, partitions
from resilience.report.schemas import TableSpec, conform
from resilience.report.tables import ScenarioTables

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
AS_OF = "2026-11-20"
FULL = f"""
name: small
description: One study, two scenarios, a three-point frontier.
tables: [dependency, metrics, scenarios, scenario_summary, scenario_members, frontier]
dependency:
  importers: [USA, JPN]
  commodities: [cobalt, graphite/mining]
studies:
  - study: {G7}
    scenarios: [china_graphite_controls, g7_friendshoring]
    frontier:
      shares: [1.0, 0.95, 0.5]
top_risks: 3
"""


def _tiny(study: Path) -> str:
    return f"name: tiny\ntables: [scenarios]\nstudies:\n  - study: {study}\n    scenarios: []\n"


def _hashes(partition: Path) -> dict[str, str]:
    """SHA-256 of every file but the manifest (its timestamps differ between runs)."""
    return {
        p.relative_to(partition).as_posix(): sha256_file(p)
        for p in sorted(partition.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """One full run of the small definition: (definition, output folder, manifest)."""
    base = tmp_path_factory.mktemp("report")
    definition = base / "small.yaml"
    definition.write_text(FULL, encoding="utf-8")
    out = base / "out"
    result = run_report(AS_OF, out, definition)
    return definition, out, dict(result.manifest)


def test_layout_and_manifest(published: tuple[Path, Path, dict]) -> None:
    _, out, manifest = published
    partition = out / f"as_of={AS_OF}"
    names = sorted(p.relative_to(partition).as_posix() for p in partition.rglob("*.parquet"))
    # every table a report holds by default (the optional ranking is asked for apart)
    assert names == [f"table={t}/part-0.parquet" for t in sorted(TABLE_NAMES)]
    assert manifest["as_of"] == AS_OF
    assert manifest["data_year"] == 2024  # the latest trade year <= 2026
    assert manifest["package"]["resilience"]
    assert manifest["dependencies"]["polars"] == pl.__version__
    assert set(manifest) >= {"git_revision", "inputs", "inputs_sha256", "wall_time_s"}
    shown = {e["path"] for e in manifest["inputs"]}
    assert {"datasets/trade.parquet", "models/g7_critical_minerals.yaml"} <= shown
    assert "models/scenarios.yaml" in shown
    assert manifest["definition"]["sha256"] == sha256_file(published[0])
    for name, entry in manifest["tables"].items():
        assert entry["columns"] == TABLES[name].schema_json()
        assert entry["version"] == TABLES[name].version
        [file] = entry["files"]
        assert sha256_file(partition / file["path"]) == file["sha256"]
        assert pl.read_parquet(partition / file["path"]).height == entry["rows"]
        assert pl.read_parquet_schema(partition / file["path"]) == TABLES[name].schema
    assert json.loads((partition / MANIFEST).read_text()) == manifest


def test_every_scenario_is_an_answer_with_its_welfare_loss(
    published: tuple[Path, Path, dict],
) -> None:
    """On the market core a friend-shoring cap is never infeasible: members shed demand."""
    _, out, manifest = published
    scenarios = read_report(out, "scenarios").collect()
    status = dict(zip(scenarios["scenario"], scenarios["status"], strict=True))
    assert status == {
        "base": "optimal",
        "china_graphite_controls": "optimal",
        "g7_friendshoring": "optimal",
    }
    loss = dict(zip(scenarios["scenario"], scenarios["expected_welfare_loss_usd"], strict=True))
    # Capping non-G7 supply at half costs the members more than China's graphite controls.
    assert loss["g7_friendshoring"] > loss["china_graphite_controls"] > 0
    members = read_report(out, "scenario_members").collect()
    for scenario, expected in loss.items():
        mine = members.filter(pl.col("scenario") == scenario)
        weighted = float((mine["welfare_loss_usd"] * mine["probability"]).sum())
        assert weighted == pytest.approx(expected, rel=1e-9, abs=1e-3), scenario
    frontier = read_report(out, "frontier").collect()
    assert frontier["max_non_allied_share"].to_list() == [0.5, 0.95, 1.0]
    assert frontier["expected_welfare_loss_usd"].null_count() == 0
    by_table = manifest["solver_status_counts_by_table"]
    assert by_table["scenarios"] == {"optimal": 3}
    assert sum(by_table["frontier"].values()) == 3
    total = manifest["solver_status_counts"]
    assert total["optimal"] == 3 + by_table["frontier"].get("optimal", 0)
    summary = read_report(out, "scenario_summary").collect()
    assert set(summary["scenario"]) == set(status)


def test_polars_duckdb_and_pandas_read_the_output_as_is(
    published: tuple[Path, Path, dict],
) -> None:
    _, out, manifest = published
    rows = manifest["tables"]["metrics"]["rows"]
    glob = f"{out}/as_of=*/table=metrics/*.parquet"
    lazy = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert lazy.height == rows
    assert lazy["as_of"].dtype == pl.Date
    con = duckdb.connect()
    count = con.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)")
    assert count.fetchall() == [(rows,)]
    frame = pd.read_parquet(out / f"as_of={AS_OF}" / "table=metrics")
    assert len(frame) == rows
    assert set(frame["importer_iso3"]) <= {"USA", "JPN"}
    assert pd.read_parquet(out / f"as_of={AS_OF}" / "table=dependency").shape[0] > 0


def test_summary_page(published: tuple[Path, Path, dict]) -> None:
    _, out, _ = published
    page = (out / f"as_of={AS_OF}" / "summary.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") == 3  # top risks, scenarios, frontier
    assert "Members' expected welfare loss (USD" in page  # the frontier's note
    assert "g7_friendshoring" in page
    assert "<script" not in page


def test_same_as_of_twice_gives_identical_content(published: tuple[Path, Path, dict]) -> None:
    definition, out, manifest = published
    partition = out / f"as_of={AS_OF}"
    before = _hashes(partition)
    again = run_report(AS_OF, out, definition)
    assert _hashes(partition) == before
    assert len(before) == len(TABLE_NAMES) + 1  # the default tables and summary.html
    assert stable_view(again.manifest) == stable_view(manifest)
    assert set(manifest) - set(stable_view(manifest)) == set(VOLATILE)
    assert [p.as_of for p in partitions(out)] == [dt.date(2026, 11, 20)]
    rows = read_report(out, "dependency").collect()
    assert rows.height == manifest["tables"]["dependency"]["rows"]  # no duplicated rows
    assert not [p for p in out.iterdir() if p.name.startswith((".staging", ".trash"))]


def test_changed_input_changes_the_input_hash(tmp_path: Path) -> None:
    study = tmp_path / "g7.yaml"
    study.write_text(G7.read_text(encoding="utf-8"), encoding="utf-8")
    definition = tmp_path / "tiny.yaml"
    definition.write_text(_tiny(study), encoding="utf-8")
    first = run_report(AS_OF, tmp_path / "out", definition).manifest
    study.write_text(study.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    second = run_report(AS_OF, tmp_path / "out", definition).manifest
    assert first["inputs_sha256"] != second["inputs_sha256"]
    changed = {e["path"]: e["sha256"] for e in first["inputs"]}.items() ^ {
        e["path"]: e["sha256"] for e in second["inputs"]
    }.items()
    assert {path for path, _ in changed} == {study.resolve().as_posix()}


def test_other_as_of_untouched_and_schema_evolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old partition without a new nullable column reads with the new one, with nulls."""
    definition = tmp_path / "tiny.yaml"
    definition.write_text(_tiny(G7), encoding="utf-8")
    out = tmp_path / "out"
    run_report("2026-11-13", out, definition)
    old_partition = out / "as_of=2026-11-13"
    old_hashes = _hashes(old_partition)
    old_manifest = (old_partition / MANIFEST).read_bytes()

    current = TABLES["scenarios"]
    v2 = TableSpec(
        "scenarios",
        current.version + 1,
        pl.Schema({**current.schema, "analyst_note": pl.String()}),
        current.description,
        current.key,
    )
    monkeypatch.setitem(TABLES, "scenarios", v2)
    import resilience.report.tables as producers

    original: Callable[..., ScenarioTables] = producers.scenario_tables

    def with_note(entries: object) -> ScenarioTables:
        """The scenario tables as a newer version of the package makes them."""
        TABLES["scenarios"] = current
        try:
            runs = original(entries)
        finally:
            TABLES["scenarios"] = v2
        noted = runs.scenarios.with_columns(pl.lit("checked").alias("analyst_note"))
        return ScenarioTables(conform(noted, v2), runs.summary, runs.members)

    monkeypatch.setattr(producers, "scenario_tables", with_note)
    new = run_report(AS_OF, out, definition).manifest
    assert new["tables"]["scenarios"]["version"] == current.version + 1
    assert "analyst_note" in new["tables"]["scenarios"]["columns"]
    assert _hashes(old_partition) == old_hashes  # the other as-of is untouched
    assert (old_partition / MANIFEST).read_bytes() == old_manifest

    both = read_report(out, "scenarios").collect()
    assert both.columns == [*v2.schema, "as_of"]
    notes = dict(
        both.group_by("as_of").agg(pl.col("analyst_note").drop_nulls().unique()).iter_rows()
    )
    assert notes == {dt.date(2026, 11, 13): [], dt.date(2026, 11, 20): ["checked"]}
    assert both.filter(pl.col("as_of") == dt.date(2026, 11, 13))["analyst_note"].null_count() == 1

    con = duckdb.connect()
    glob = f"{out}/as_of=*/table=scenarios/*.parquet"
    union = con.sql(
        f"select as_of, count(analyst_note) as n from read_parquet('{glob}', "
        "hive_partitioning=true, union_by_name=true) group by as_of order by as_of"
    ).fetchall()
    assert union == [(dt.date(2026, 11, 13), 0), (dt.date(2026, 11, 20), 1)]


def test_read_report_names_every_table_it_knows_on_an_unknown_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from resilience.report import ReportError

    with pytest.raises(ReportError, match=r"unknown report table 'rankings'.*ranking"):
        read_report(tmp_path, "rankings")
