"""``resilience sweep`` and ``resilience frontier``: knob grids and the cost–exposure curve.

Registered on the main app by :func:`register`. Progress bars show on a terminal only.
"""

from __future__ import annotations

import enum
import math
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import polars as pl
import typer

from resilience.cli.console import err, out, with_units
from resilience.cli.console import fail as _fail
from resilience.cli.console import frame_table as _frame_table
from resilience.errors import ResilienceError
from resilience.outputs import check_writable_file

__all__ = ["parse_grid", "register"]


class SweepMethod(enum.StrEnum):
    """How a sweep solves its points (``resilience sweep --method``)."""

    auto = "auto"
    persistent = "persistent"
    rebuild = "rebuild"


class SweepBackend(enum.StrEnum):
    """Where a sweep runs its points (``resilience sweep --backend``)."""

    sequential = "sequential"
    processes = "processes"
    dask = "dask"


def _value(text: str) -> Any:
    """A grid value from the command line: number, true/false, null, or text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    try:
        number = float(text)
    except ValueError:
        return text.strip()
    return int(number) if number.is_integer() and "." not in text and "e" not in low else number


def _bad(spec: str, reason: str) -> typer.BadParameter:
    return typer.BadParameter(f"{spec!r}: {reason}", param_hint="--grid")


def _range(spec: str, parts: list[str]) -> tuple[float, float, int]:
    """``start``, ``stop`` and ``count`` of ``knob=start:stop:count``, each checked."""
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise _bad(spec, "start:stop:count needs two numbers and a whole count") from exc
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise _bad(spec, "start and stop must be finite numbers")
    count = parts[2].strip()
    if not re.fullmatch(r"[0-9]+", count) or int(count) < 2:
        raise _bad(
            spec,
            f"the count {count!r} must be a whole number >= 2 written in digits "
            "(for one value write knob=value)",
        )
    return start, stop, int(count)


def parse_grid(specs: list[str], max_points: int | None = None) -> dict[str, list[Any]]:
    """``knob=v1,v2,...`` or ``knob=start:stop:count`` (evenly spaced) per option.

    The grid's size is checked against ``max_points`` (default:
    :data:`~resilience.sweeps.knobs.DEFAULT_MAX_POINTS`) before any range is expanded.

    Raises
    ------
    typer.BadParameter
        Naming the option text and the expected forms: a malformed option, a range
        whose count is not a whole number >= 2, a knob given twice.
    SpecError
        A grid of more than ``max_points`` points (size, limit and ``--max-points``).
    """
    given: dict[str, tuple[str, list[Any] | tuple[float, float, int]]] = {}
    for spec in specs:
        knob, sep, values = spec.partition("=")
        knob = knob.strip()
        if not sep or not knob or not values.strip():
            raise _bad(spec, "expected knob=v1,v2,... or knob=start:stop:count")
        if knob in given:
            raise _bad(
                spec,
                f"the knob {knob!r} is given twice (first as {given[knob][0]!r}); "
                "give each knob once, with all its values",
            )
        parts = values.split(":")
        if len(parts) == 3:
            given[knob] = (spec, _range(spec, parts))
        elif len(parts) == 1:
            given[knob] = (spec, [_value(v) for v in values.split(",")])
        else:
            raise _bad(spec, "expected knob=v1,v2,... or knob=start:stop:count")
    from resilience.sweeps.knobs import DEFAULT_MAX_POINTS, check_grid_size

    sizes = [v[2] if isinstance(v, tuple) else len(v) for _, v in given.values()]
    check_grid_size(
        math.prod(sizes), DEFAULT_MAX_POINTS if max_points is None else max_points, source="--grid"
    )
    return {
        knob: [float(x) for x in np.linspace(*v)] if isinstance(v, tuple) else v
        for knob, (_, v) in given.items()
    }


def sweep_cmd(
    study_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A study spec (models/*.yaml).")
    ],
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            "-g",
            help="knob=v1,v2,... or knob=start:stop:count; repeat for a Cartesian product.",
        ),
    ],
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="Catalogue scenarios, e.g. a+b.")
    ] = None,
    method: Annotated[
        SweepMethod,
        typer.Option(help="auto, persistent (families that re-solve one model) or rebuild."),
    ] = SweepMethod.auto,
    backend: Annotated[
        SweepBackend, typer.Option(help="sequential, processes or dask.")
    ] = SweepBackend.sequential,
    workers: Annotated[int | None, typer.Option(help="Processes (default: CPU count).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (backend dask).")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="Write the frame (Parquet).")
    ] = None,
    max_points: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Refuse a grid of more points than this, checked before solving "
            "(default 100,000).",
        ),
    ] = None,
) -> None:
    """Solve a study at every point of a knob grid; print and write one row per point."""
    from resilience.sweeps import sweep
    from resilience.sweeps.knobs import DEFAULT_MAX_POINTS

    try:
        check_writable_file(out_file)
        frame = sweep(
            study_file,
            parse_grid(grid, max_points),
            scenario=scenario,
            method=method.value,
            backend=backend.value,
            workers=workers,
            scheduler=scheduler,
            progress=err.is_terminal,
            max_points=DEFAULT_MAX_POINTS if max_points is None else max_points,
        )
        if out_file is not None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(out_file)
    except (ResilienceError, ValueError, OSError, ImportError) as exc:
        raise _fail(exc) from exc
    shown = frame.drop("study", "scenario", "model", "reason")
    results = shown.columns[shown.columns.index("status") + 1 :]  # knobs keep their names
    shown, formats = with_units(shown, results)
    title = (
        f"{frame['study'][0]} — scenario {frame['scenario'][0]}, {frame['model'][0]} model, "
        f"{frame.height} points ({frame['method'][0]})"
    )
    out.print(_frame_table(shown.drop("method"), title, formats))
    counts = frame.group_by("status").len().sort("status").rows()
    out.print("status: " + ", ".join(f"{s} {n}" for s, n in counts), highlight=False)
    if out_file is not None:
        out.print(f"wrote {out_file}")


def frontier_cmd(
    study_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A study spec (models/*.yaml).")
    ],
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="Catalogue scenarios, e.g. a+b.")
    ] = None,
    points: Annotated[int, typer.Option(min=2, help="Caps from 1 down to --lowest.")] = 11,
    lowest: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The tightest cap of the grid.")
    ] = 0.0,
    max_points: Annotated[
        int | None,
        typer.Option(
            min=1, help="Refuse more caps than this, checked before solving (default 100,000)."
        ),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="Write the frame (Parquet).")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Save the frontier plot (png/svg/pdf).")
    ] = None,
) -> None:
    """Welfare loss against exposure: the study run for caps on the non-allied share."""
    from resilience.sweeps import frontier
    from resilience.sweeps.knobs import DEFAULT_MAX_POINTS

    try:
        check_writable_file(out_file, plot)
        with err.status("tracing the frontier ..."):
            frame = frontier(
                study_file,
                scenario,
                points=points,
                lowest=lowest,
                max_points=DEFAULT_MAX_POINTS if max_points is None else max_points,
            )
        if out_file is not None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(out_file)
        if plot is not None:
            from resilience import plots

            plots.save(plots.frontier(frame), plot)
    except (ResilienceError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    shown = frame.select(
        (pl.col("max_non_allied_share") * 100).alias("cap on non-allied share %"),
        "status",
        (pl.col("expected_welfare_loss_usd") / 1e6).alias("expected welfare loss USD m"),
        (pl.col("non_allied_share") * 100).alias("achieved non-allied share %"),
        (pl.col("expected_shed_share") * 100).alias("expected demand shed %"),
        pl.col("price_rise_max_pct").alias("max price rise %"),
    )
    formats = {
        "cap on non-allied share %": ".1f",
        "expected welfare loss USD m": ",.2f",
        "achieved non-allied share %": ".1f",
        "expected demand shed %": ".2f",
        "max price rise %": ",.1f",
    }
    title = f"{frame['study'][0]} — scenario {frame['scenario'][0]}: welfare–exposure frontier"
    out.print(_frame_table(shown, title, formats))
    for target in (out_file, plot):
        if target is not None:
            out.print(f"wrote {target}")


def register(app: typer.Typer) -> None:
    """Add ``sweep`` and ``frontier`` to ``app``."""
    app.command("sweep")(sweep_cmd)
    app.command("frontier")(frontier_cmd)
