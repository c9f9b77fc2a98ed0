"""The ``resilience`` command: thin typer wrappers over the package's functions.

Kept out of ``import resilience``; logging handlers are configured here and nowhere else.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from resilience.errors import ResilienceError

app = typer.Typer(
    name="resilience",
    help="Exposure to the loss of foreign chips, energy and critical materials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Shipped default tables: rebuild them from downloads.", no_args_is_help=True
)
app.add_typer(data_app, name="data")

# Outside a terminal (cron, CI, a pipe) rich would assume 80 columns and wrap the tables.
out = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress and details.")
    ] = False,
) -> None:
    """Exposure to the loss of foreign chips, energy and critical materials."""
    handler: logging.Handler = (
        RichHandler(console=err, show_path=False)
        if err.is_terminal
        else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True
    )


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code=1)


def _frame_table(frame: pl.DataFrame, title: str, formats: dict[str, str] | None = None) -> Table:
    formats = formats or {}
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in frame.columns:
        numeric = frame[column].dtype.is_numeric()
        table.add_column(
            column,
            justify="right" if numeric else "left",
            no_wrap=not numeric,
            overflow="ellipsis",
            max_width=None if numeric else 34,
        )
    for row in frame.iter_rows(named=True):
        cells = []
        for column, value in row.items():
            if value is None:
                cells.append("—")
            elif column in formats:
                cells.append(format(value, formats[column]))
            else:
                cells.append(str(value))
        table.add_row(*cells)
    return table


@app.command()
def summary(
    commodity: Annotated[
        list[str] | None, typer.Option("--commodity", "-c", help="Only these commodity ids.")
    ] = None,
) -> None:
    """Validate the shipped dataset and print who supplies each commodity and stage."""
    from resilience import data
    from resilience.reference.commodities import check_commodities, load_commodities
    from resilience.reference.countries import CountryResolver
    from resilience.summary import supply_overview, table_overview

    try:
        commodities = load_commodities()
        if commodity:
            check_commodities(commodity, commodities)
            commodities = commodities.filter(pl.col("commodity").is_in(commodity))
        production = data.load_production()
        tables = {
            "production": production,
            "trade": data.load_trade(),
            "governance": data.load_governance(),
            "alignment": data.load_alignment(),
            "recycling": data.load_recycling(),
        }
    except ResilienceError as exc:
        raise _fail(exc) from exc
    resolver = CountryResolver.default()
    out.print(_frame_table(table_overview(tables), "Shipped tables (datasets/)"))
    overview = supply_overview(production, commodities).with_columns(
        pl.col("top_country_iso3")
        .map_elements(resolver.name_of, return_dtype=pl.String, skip_nulls=True)
        .alias("top supplier"),
        (pl.col("top1_share") * 100).alias("top %"),
        (pl.col("top3_share") * 100).alias("top-3 %"),
        pl.col("hhi_10000").alias("HHI"),
    )
    for sector in ("critical_materials", "energy", "chips"):
        part = overview.filter(pl.col("sector") == sector).select(
            "commodity",
            "stage",
            "year",
            "source",
            "top supplier",
            "top %",
            "top-3 %",
            "HHI",
            "n_countries",
        )
        if part.height:
            out.print(
                _frame_table(
                    part,
                    f"{sector.replace('_', ' ').title()}: supply concentration, latest year "
                    "(shares of world production or capacity; HHI on 0–10 000, "
                    "rest of world excluded)",
                    {"top %": ".1f", "top-3 %": ".1f", "HHI": ".0f"},
                )
            )


@data_app.command("refresh")
def data_refresh(
    source_dir: Annotated[
        Path,
        typer.Option(
            "--from", exists=True, file_okay=False, help="Folder holding the downloaded files."
        ),
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", file_okay=False, help="Write here instead of datasets/.")
    ] = None,
) -> None:
    """Rebuild the shipped tables from a folder of publishers' downloads."""
    from resilience.ingest.refresh import refresh

    try:
        report = refresh(source_dir, out_dir, progress=lambda msg: err.print(f"[cyan]•[/] {msg}"))
    except ResilienceError as exc:
        raise _fail(exc) from exc
    table = Table(title="Tables written", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.rows.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
