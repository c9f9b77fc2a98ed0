"""``resilience report``: compute and publish one as-of partition of a scheduled report.

Registered on the main app with :func:`register`; ``python -m resilience.report`` runs
the same command on its own.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from resilience.cli.console import error_line
from resilience.errors import ResilienceError
from resilience.outputs import check_writable_dir

__all__ = ["register", "report"]

log = logging.getLogger(__name__)


def _message(exc: BaseException) -> str:
    """The error in as few lines as it allows: one per problem of a spec error."""
    problems = getattr(exc, "problems", None)
    if problems:
        return "\n".join(f"error: {p}" for p in problems)
    return f"error: {error_line(exc)}"


def report(
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="Report date, YYYY-MM-DD: the partition's name; trade tables use the "
            "latest year no later than its year.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output directory (partitions as_of=YYYY-MM-DD).")
    ] = Path("reports/out"),
    definition: Annotated[
        Path | None,
        typer.Option(
            "--definition",
            help="Report definition (YAML); default: reports/weekly.yaml.",
            dir_okay=False,
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0.0,
            help="Seconds to wait for a running report of the same as-of (default: fail at once).",
        ),
    ] = 0.0,
    rank_importer: Annotated[
        str | None,
        typer.Option(
            "--rank-importer",
            help="Add the table 'ranking': this importer's goods by expected annual welfare "
            "loss over the catalogue (as `resilience rank`), e.g. USA or G7.",
        ),
    ] = None,
) -> None:
    """Write the report tables of one as-of date as Parquet, with a manifest and summary.

    Tables go to OUT/as_of=YYYY-MM-DD/table=<name>/part-0.parquet, published atomically;
    re-running an as-of replaces it with identical content. Exits 1 with nothing
    published on any error.
    """
    from resilience.report.definition import load_definition, with_ranking
    from resilience.report.job import run_report

    try:
        check_writable_dir(out)
        loaded = load_definition(definition)
        if rank_importer is not None:
            loaded = with_ranking(loaded, rank_importer)
        result = run_report(as_of, out, loaded, wait_s=wait)
    except (ResilienceError, OSError) as exc:
        typer.echo(_message(exc), err=True)
        raise typer.Exit(code=1) from exc
    counts = result.manifest.get("solver_status_counts", {})
    runs = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no model runs"
    rows = ", ".join(f"{k} {v:,}" for k, v in result.rows.items())
    typer.echo(f"{result.partition}: {rows} rows; {runs}; {result.wall_time_s:.1f} s")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``report`` to a typer app."""
    app.command("report")(report)
