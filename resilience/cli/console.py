"""Consoles, error lines and the one place where numbers become text on the screen.

Every CLI table goes through :func:`frame_table`, and every number in it through
:func:`number`, so the rules hold on every screen:

- no negative zero: a value that rounds to zero at the shown precision prints without a
  sign (``0.00``, never ``-0.00``);
- numerical noise is shown as 0: a value whose magnitude is below :data:`NOISE_REL` (1e-6)
  times the largest magnitude in its column (the solver's feasibility tolerance is 1e-7
  relative to the model's scale) is printed as 0;
- no scientific notation: floats without an explicit format get a fixed-point one chosen
  from the column's magnitude (:func:`auto_format`);
- money: :func:`usd_m` (USD million, thousands separators); column headers carry units;
- names are never cut: text columns wrap (``overflow="fold"``) instead of ending in "…".
"""

from __future__ import annotations

import contextlib
import errno
import math
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from resilience.errors import OutputError, ResilienceError

__all__ = [
    "NOISE_REL",
    "auto_format",
    "err",
    "error_line",
    "fail",
    "frame_table",
    "number",
    "out",
    "usd_m",
    "with_units",
    "writing",
]

# Outside a terminal (cron, CI, a pipe) rich would assume 80 columns and wrap the tables.
out = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True)

#: Below this fraction of the largest magnitude in a column, a value is solver noise (shown 0).
NOISE_REL = 1e-6
_SCIENTIFIC = re.compile(r"[eEgGn%]$")
_ZERO_TEXT = re.compile(r"^-(?=[0.,\s]*$)")


def fail(exc: BaseException | str) -> typer.Exit:
    """Print ``exc`` as one error line on stderr; the exit (code 1) to raise."""
    err.print(
        f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True
    )
    return typer.Exit(code=1)


def _os_cause(exc: OSError, path: str | Path | None = None) -> str:
    """The cause of an OS error on ``path`` in plain words (what to do where obvious)."""
    name = exc.filename if exc.filename is not None else path
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory; give a file path"
    if isinstance(exc, NotADirectoryError):
        return "a part of the path is not a directory"
    if isinstance(exc, FileNotFoundError):
        if name is not None and not Path(str(name)).parent.is_dir():
            return f"no such directory: {Path(str(name)).parent}"
        return "no such file or directory"
    return exc.strerror or str(exc)


def error_line(exc: BaseException) -> str:
    """What went wrong, for the ``error:`` line: the path and the cause, no traceback."""
    if isinstance(exc, ResilienceError):
        return str(exc)
    if isinstance(exc, OSError):
        if exc.filename is not None:
            target = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
            return f"{target}: {_os_cause(exc)}"
        return str(exc)
    if isinstance(exc, MemoryError):
        return (
            "out of memory: the machine could not hold the data or model this run needs "
            "(fewer years, commodities, members or grid points need less)"
        )
    return (
        f"internal error: {type(exc).__name__}: {exc} "
        "(a bug in resilience: rerun with --debug and report the traceback)"
    )


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn any failure to write ``path`` into an :class:`~resilience.errors.OutputError`.

    Polars' writers report some OS failures without the path (``Invalid argument (os
    error 22)`` for ``/proc/self/status``); this names it.
    """
    try:
        yield
    except OSError as exc:
        raise OutputError(path, _os_cause(exc, path)) from exc
    except pl.exceptions.PolarsError as exc:
        raise OutputError(path, str(exc).splitlines()[0]) from exc


def number(value: float | int | None, fmt: str = ",.2f", *, noise: float = 0.0) -> str:
    """``value`` as text with format ``fmt``: a dash for null/NaN, no ``-0``, noise as 0.

    Parameters
    ----------
    value
        The number (``None`` or NaN print as an em dash).
    fmt
        A fixed-point :func:`format` spec such as ``",.2f"`` or ``".0f"``; ``e``/``g``
        (scientific) specs are refused.
    noise
        Magnitudes strictly below this are printed as 0 (absolute, in ``value``'s unit).

    Raises
    ------
    ValueError
        If ``fmt`` is a scientific or general format.
    """
    if _SCIENTIFIC.search(fmt):
        raise ValueError(f"format {fmt!r} may print scientific notation; use a fixed-point one")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if abs(value) < noise:
        value = 0.0
    return _ZERO_TEXT.sub("", format(value, fmt))


def usd_m(value_usd: float | None, decimals: int = 2) -> str:
    """A USD amount shown in USD million with thousands separators (``1,234.56``)."""
    return number(None if value_usd is None else value_usd / 1e6, f",.{decimals}f")


def auto_format(values: Iterable[float | int | None]) -> str:
    """A fixed-point format for a column: whole numbers for large values, 2-6 decimals else."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    largest = max(finite, default=0.0)
    if largest >= 100:
        return ",.0f"
    if largest >= 1 or largest == 0:
        return ",.2f"
    return f",.{min(6, 2 - math.floor(math.log10(largest)))}f"


#: Column-name suffix -> (factor, unit shown in the header, format) for :func:`with_units`.
UNITS: dict[str, tuple[float, str, str]] = {
    "_usd": (1e-6, "USD m", ",.2f"),
    "_share": (100.0, "%", ".1f"),
    "_frac": (100.0, "%", ".1f"),
    "_t": (1.0, "t", ",.0f"),
    "_days": (1.0, "days", ",.1f"),
}


def with_units(
    frame: pl.DataFrame, columns: Iterable[str] | None = None
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Scale and rename result columns by their unit suffix, for a screen.

    ``objective_usd`` becomes ``objective USD m`` (USD million), ``non_allied_share``
    ``non allied %``, ``expected_shortfall_t`` ``expected shortfall t``; other columns
    are kept as they are. Returns the frame and the formats of the renamed columns.

    Parameters
    ----------
    frame
        A result frame with unit-suffixed column names.
    columns
        Only these columns (default: every column).
    """
    chosen = set(frame.columns if columns is None else columns)
    exprs: list[pl.Expr] = []
    formats: dict[str, str] = {}
    for column in frame.columns:
        suffix = next(
            (s for s in UNITS if column.endswith(s) and frame[column].dtype.is_numeric()), None
        )
        if column not in chosen or suffix is None:
            exprs.append(pl.col(column))
            continue
        factor, unit, fmt = UNITS[suffix]
        label = f"{column[: -len(suffix)].replace('_', ' ')} {unit}"
        exprs.append((pl.col(column) * factor).alias(label))
        formats[label] = fmt
    return frame.select(exprs), formats


def _column_noise(series: pl.Series) -> float:
    """The absolute noise floor of a float column: :data:`NOISE_REL` times its largest |value|."""
    finite = series.filter(series.is_finite()) if series.dtype.is_float() else series
    largest = finite.abs().max() if finite.len() else None
    return NOISE_REL * float(largest) if largest is not None else 0.0  # type: ignore[arg-type]


def frame_table(frame: pl.DataFrame, title: str, formats: dict[str, str] | None = None) -> Table:
    """A rich table of ``frame``: numbers right-aligned through :func:`number`, text wrapped.

    Float columns without an entry in ``formats`` get :func:`auto_format`; integer
    columns print as they are (years stay ``2023``) unless ``formats`` says otherwise;
    nulls print as a dash.
    """
    formats = dict(formats or {})
    table = Table(title=title, title_justify="left", header_style="bold")
    noise: dict[str, float] = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        numeric = dtype.is_numeric()
        if dtype.is_float():
            noise[column] = _column_noise(frame[column])
            formats.setdefault(column, auto_format(frame[column].to_list()))
        table.add_column(
            column,
            justify="right" if numeric else "left",
            no_wrap=numeric,
            overflow="fold",
        )
    for row in frame.iter_rows(named=True):
        cells = []
        for column, value in row.items():
            if value is None:
                cells.append("—")
            elif (
                column in formats and isinstance(value, int | float) and not isinstance(value, bool)
            ):
                cells.append(number(value, formats[column], noise=noise.get(column, 0.0)))
            else:
                cells.append(escape(str(value)))
        table.add_row(*cells)
    return table
