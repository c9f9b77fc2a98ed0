"""One report run: definition -> tables -> staging folder -> manifest -> publish.

:func:`run_report` is what ``resilience report`` calls. In order, under the as-of's lock
(:func:`resilience.report.publish.as_of_lock`):

1. delete leftovers of killed runs (:func:`~resilience.report.publish.clean_stale`);
2. hash the inputs (shipped tables, definition, study and catalogue files);
3. compute the tables the definition asks for (:mod:`resilience.report.tables`);
4. keep the published bytes of tables equal to those of an earlier run of the same
   as-of on the same inputs (:func:`~resilience.report.publish.reuse_equal`: a guard,
   as parallel float sums may differ in their last bits across processes), then write each as
   ``table=<name>/part-0.parquet`` into the staging folder, then ``summary.html``;
5. write ``_manifest.json`` last, flush everything to disk and rename the staging folder
   into place (:func:`~resilience.report.publish.publish_dir`).

Any exception removes the staging folder and propagates: nothing is published.

Output confinement: the output folder is checked for writability before anything is
computed (:func:`resilience.outputs.check_writable_dir`); the lock, the staging folder,
its files and the partition are created and renamed relative to a descriptor of the
output folder, never through a symbolic link; a link where the report expects one of
them (or a ``table=`` folder or file of the published partition) is an error before
anything is computed or published (:func:`~resilience.report.publish.check_partition`).

Test hook: with ``RESILIENCE_REPORT_PAUSE_BEFORE_PUBLISH=<seconds>`` in the environment a
run sleeps that long after writing its tables and ``summary.html`` and before writing
the manifest, so that a test can kill it mid-write at a known point (or start a second
run while it holds the lock). With ``RESILIENCE_REPORT_RESUME_FILE=<path>`` as well, the
pause ends as soon as that file exists. Meant for tests only; a warning is logged when
set.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from resilience.outputs import check_writable_dir
from resilience.report import manifest as mf
from resilience.report.definition import ReportDefinition, load_definition, report_root
from resilience.report.publish import (
    MANIFEST,
    as_of_lock,
    check_partition,
    clean_stale,
    create_in,
    fsync_tree,
    make_subdir,
    partition_name,
    partitions,
    publish_dir,
    reuse_equal,
    staging_dir,
)
from resilience.report.schemas import TABLES, ReportError, status_counts

__all__ = ["PAUSE_ENV", "RESUME_ENV", "ReportResult", "parse_as_of", "run_report"]

log = logging.getLogger(__name__)

#: Environment variable of the test hook (seconds to pause before the manifest).
PAUSE_ENV = "RESILIENCE_REPORT_PAUSE_BEFORE_PUBLISH"
#: Environment variable of the test hook: a file whose existence ends the pause early.
RESUME_ENV = "RESILIENCE_REPORT_RESUME_FILE"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Parquet settings of every table file (fixed, so equal frames give equal bytes).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3}


@dataclass(frozen=True)
class ReportResult:
    """What a run published."""

    as_of: dt.date
    root: Path
    partition: Path
    manifest: Mapping[str, Any]
    rows: Mapping[str, int] = field(default_factory=dict)
    wall_time_s: float = 0.0


def parse_as_of(value: str | dt.date) -> dt.date:
    """A calendar date from ``YYYY-MM-DD`` text.

    Raises
    ------
    ReportError
        Not a date in that form.
    """
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"--as-of {value!r} is not a date; allowed: YYYY-MM-DD, e.g. 2026-11-20"
        ) from None


def _check_years(definition: ReportDefinition, as_of: dt.date) -> None:
    for i, entry in enumerate(definition.studies):
        if entry.study.year > as_of.year:
            raise ReportError(
                f"{definition.path}: studies[{i}]: study {entry.study.name!r} models "
                f"{entry.study.year}, after the as_of year {as_of.year}; a report holds "
                "nothing later than its as_of"
            )


def _compute(
    definition: ReportDefinition, as_of: dt.date
) -> tuple[int | None, dict[str, pl.DataFrame]]:
    """The data year (if the report has trade tables) and every table it holds."""
    from resilience.report.tables import (
        dependency_tables,
        frontier_table,
        ranking_table,
        scenario_tables,
    )

    tables: dict[str, pl.DataFrame] = {}
    year: int | None = None
    if definition.has("dependency") or definition.has("metrics"):
        year, dependency, metrics = dependency_tables(definition, as_of.year)
        tables |= {"dependency": dependency, "metrics": metrics}
    if any(definition.has(t) for t in ("scenarios", "scenario_summary", "scenario_members")):
        runs = scenario_tables(definition.studies)
        tables |= {
            "scenarios": runs.scenarios,
            "scenario_summary": runs.summary,
            "scenario_members": runs.members,
        }
    if definition.has("frontier"):
        tables["frontier"] = frontier_table(definition.studies)
    if definition.has("ranking") and definition.ranking is not None:
        tables["ranking"] = ranking_table(definition.ranking, as_of.year)
    return year, {name: tables[name] for name in definition.tables}


def _write_table(staging: Path, name: str, frame: pl.DataFrame) -> dict[str, Any]:
    spec = TABLES[name]
    folder = make_subdir(staging, f"table={name}")
    with create_in(folder, "part-0.parquet") as handle:
        frame.write_parquet(
            handle,
            **PARQUET_OPTIONS,
            statistics=True,
            metadata={"resilience.table": name, "resilience.schema_version": str(spec.version)},
        )
    path = folder / "part-0.parquet"
    return {
        "version": spec.version,
        "description": spec.description,
        "columns": spec.schema_json(),
        "rows": frame.height,
        "files": [mf.file_entry(path, path.relative_to(staging).as_posix())],
    }


def _definition_entry(definition: ReportDefinition, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    path = mf.shown_path(definition.path)
    return {
        "name": definition.name,
        "path": path,
        "sha256": next(e["sha256"] for e in inputs if e["path"] == path),
        "tables": list(definition.tables),
        "studies": [
            {
                "name": e.study.name,
                "year": e.study.year,
                "model": e.study.model,
                "scenarios": list(e.scenarios),
                "frontier": None
                if e.frontier is None
                else {
                    "scenario": e.frontier.scenario,
                    "shares": None if e.frontier.shares is None else list(e.frontier.shares),
                    "points": e.frontier.points,
                },
            }
            for e in definition.studies
        ],
        "ranking": None
        if definition.ranking is None
        else {
            "importer": definition.ranking.label,
            "catalogue": mf.shown_path(definition.ranking.catalogue),
            "commodities": None
            if definition.ranking.commodities is None
            else [f"{c}/{s}" for c, s in definition.ranking.commodities],
        },
    }


def _pause_hook(staging: Path) -> None:
    raw = os.environ.get(PAUSE_ENV)
    if not raw:
        return
    seconds = float(raw)
    resume = os.environ.get(RESUME_ENV)
    log.warning("%s=%s: pausing %.1f s before publishing %s", PAUSE_ENV, raw, seconds, staging)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (resume and Path(resume).exists()):
        time.sleep(0.05)


def _folder_identity(path: Path) -> tuple[int, int]:
    """Device and inode of a folder (the same path naming another folder differs)."""
    st = path.stat()
    return st.st_dev, st.st_ino


def _check_same_folder(root: Path, identity: tuple[int, int]) -> None:
    """Fail if ``root`` was moved, removed or replaced (by a link...) since the lock."""
    try:
        same = _folder_identity(root) == identity and not root.is_symlink()
    except OSError:
        same = False
    if not same:
        raise ReportError(
            f"the output folder {root} was moved, removed or replaced during the run; "
            "nothing was published"
        )


def run_report(
    as_of: str | dt.date,
    out_dir: str | Path,
    definition: str | Path | ReportDefinition | None = None,
    *,
    wait_s: float = 0.0,
) -> ReportResult:
    """Compute and publish the report partition of ``as_of`` under ``out_dir``.

    Parameters
    ----------
    as_of
        The report date (``YYYY-MM-DD``). Dependency and metrics use the latest trade
        year no later than its year; studies keep their own year.
    out_dir
        The output directory; the definition's ``output`` folder is confined to it.
    definition
        A definition file or a loaded definition (default: ``reports/weekly.yaml``).
    wait_s
        Seconds to wait for a running report of the same as-of before failing.

    Raises
    ------
    resilience.scenarios.SpecError
        The definition (or a study it names) is invalid.
    ReportError, resilience.report.publish.ReportLockedError
        No usable data year, a study later than the as-of, the lock is held, a table
        cannot be computed.
    resilience.outputs.OutputPathError
        ``out_dir`` cannot be written (checked before anything is computed), or a
        symbolic link (or a file) sits where the report expects its lock, a staging
        folder, the partition or one of its files: nothing is published and the link's
        target is not touched.
    """
    start = time.perf_counter()
    date = parse_as_of(as_of)
    check_writable_dir(out_dir)
    if not isinstance(definition, ReportDefinition):
        definition = load_definition(definition)
    root = report_root(definition, out_dir)
    check_writable_dir(root)
    _check_years(definition, date)
    with as_of_lock(root, date, wait_s):
        identity = _folder_identity(root)
        for path in clean_stale(root, date):
            log.warning("removed the leftover of an interrupted run: %s", path)
        check_partition(root, date)
        inputs, inputs_sha = mf.inputs_entry(mf.input_files(definition.input_files))
        year, tables = _compute(definition, date)
        previous = next((p for p in partitions(root) if p.as_of == date), None)
        tables = reuse_equal(previous, tables, inputs_sha)
        counts = status_counts(tables)
        total: dict[str, int] = {}
        for per_table in counts.values():
            for status, n in per_table.items():
                total[status] = total.get(status, 0) + n
        staging = staging_dir(root, date)
        try:
            entries = {name: _write_table(staging, name, frame) for name, frame in tables.items()}
            versions = mf.dependency_versions()
            from resilience.report.page import PageContext, render_page

            page = render_page(
                PageContext(
                    report=definition.name,
                    description=definition.description,
                    as_of=date.isoformat(),
                    data_year=year,
                    status_counts=total,
                    inputs_sha256=inputs_sha,
                    versions=mf.package_versions() | versions,
                    top_n=definition.top_risks,
                ),
                tables,
            )
            with create_in(staging, "summary.html") as handle:
                handle.write(page)
            files = [mf.file_entry(staging / "summary.html", "summary.html")]
            _pause_hook(staging)
            _check_same_folder(root, identity)
            every = [f for e in entries.values() for f in e["files"]] + files
            manifest: dict[str, Any] = {
                "format": mf.FORMAT,
                "report": definition.name,
                "as_of": date.isoformat(),
                "data_year": year,
                "as_of_rule": mf.AS_OF_RULE,
                "definition": _definition_entry(definition, inputs),
                "package": mf.package_versions(),
                "dependencies": versions,
                "git_revision": mf.git_revision(),
                "inputs": inputs,
                "inputs_sha256": inputs_sha,
                "tables": entries,
                "files": files,
                "content_sha256": mf.combined(every),
                "solver_status_counts": dict(sorted(total.items())),
                "solver_status_counts_by_table": counts,
                "written_at": mf.now_utc(),
                "wall_time_s": round(time.perf_counter() - start, 3),
            }
            with create_in(staging, MANIFEST) as handle:
                handle.write(mf.manifest_bytes(manifest))
            fsync_tree(staging)
            _check_same_folder(root, identity)
            if report_root(definition, out_dir) != root:
                raise ReportError(f"the output folder {root} moved during the run")
            target = root / partition_name(date)
            publish_dir(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    wall = time.perf_counter() - start
    rows = {name: int(e["rows"]) for name, e in entries.items()}
    log.info("report %s as of %s: %s in %.1f s", definition.name, date, rows, wall)
    return ReportResult(date, root, target, manifest, rows, wall)
