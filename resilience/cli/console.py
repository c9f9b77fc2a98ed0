"""Consoles and table rendering shared by the commands."""

from __future__ import annotations

import sys

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

__all__ = ["err", "fail", "frame_table", "out"]

# Outside a terminal (cron, CI, a pipe) rich would assume 80 columns and wrap the tables.
out = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True)


def fail(exc: Exception) -> typer.Exit:
    """Print ``exc`` as one error line on stderr; the exit (code 1) to raise."""
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code=1)


def frame_table(frame: pl.DataFrame, title: str, formats: dict[str, str] | None = None) -> Table:
    """A rich table of ``frame`` (numbers right-aligned, nulls as a dash, ``formats`` by column)."""
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
