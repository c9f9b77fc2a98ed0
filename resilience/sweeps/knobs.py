r"""Sweep grids: which knobs a sweep may vary, their validation, and the points.

A sweep varies *knobs*: the policy knobs of a study (:data:`resilience.scenarios.KNOBS`)
and two numbers of every disruption event of the run (:data:`DISRUPTION_KNOBS`:
``availability`` and ``probability``). A grid is either a mapping ``knob -> values``
(the Cartesian product, in the order given, last knob fastest) or a Polars frame whose
rows are the points. Every value is checked as in a spec file: a bad one raises
:class:`~resilience.scenarios.SpecError` naming the source, the key (``grid.<knob>[i]``
or ``points[row].<knob>``), the value and what is allowed.

A grid's size is computed from the lengths of its value lists and checked against
``max_points`` (:data:`DEFAULT_MAX_POINTS`, 100,000 points: on the G7 study's full
market a point took 6.7 s re-solved persistently and 14.6 s rebuilt on a loaded 2-core
machine, ``benchmarks/README.md``, so that many points are days of work) *before* a
single point is built; a larger grid is refused with its size, the limit and how to
raise it (``max_points=`` in Python, ``--max-points`` on the command line).

"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resilience.scenarios import KNOBS, SpecError, SpecReader
from resilience.specs import KNOB_TABLE

__all__ = [
    "DEFAULT_MAX_POINTS",
    "DISRUPTION_KNOBS",
    "Point",
    "check_grid_size",
    "grid_points",
    "parse_overrides",
    "points_frame",
]

#: Knob kinds (:data:`resilience.specs.KNOB_TABLE`) whose values are whole numbers.
WHOLE_NUMBER_KINDS = frozenset({"count", "year_or_null"})

#: Most points a sweep grid may have unless the caller raises the limit.
DEFAULT_MAX_POINTS = 100_000

#: Disruption numbers a sweep may set for every event: name -> (kind, allowed), from
#: :data:`resilience.specs.KNOB_TABLE` (its ``sweepable`` disruption knobs).
DISRUPTION_KNOBS: dict[str, tuple[str, str]] = {
    k.name: (k.kind, k.allowed) for k in KNOB_TABLE if k.scope == "disruption" and k.sweepable
}


@dataclass(frozen=True)
class Point:
    """One point of a sweep: policy knob overrides and disruption overrides (validated)."""

    policy: Mapping[str, Any]
    disruption: Mapping[str, float]

    def values(self) -> dict[str, Any]:
        """Every knob of the point by name."""
        return {**self.policy, **self.disruption}


def _check(reader: Any, knob: str, raw: object, where: str) -> tuple[bool, Any]:
    if knob in DISRUPTION_KNOBS:
        kind, allowed = DISRUPTION_KNOBS[knob]
        x = reader.number(raw, where, kind, allowed)
        return x is not None, x
    ok, value = reader.knob(knob, raw, where)
    return ok, value


def _known(reader: Any, knobs: Sequence[str], key: str) -> list[str]:
    allowed = [*KNOBS, *DISRUPTION_KNOBS]
    reader.mapping(dict.fromkeys(knobs), key, allowed)
    return [k for k in knobs if k in allowed]


def _point(values: Mapping[str, Any]) -> Point:
    policy = {k: v for k, v in values.items() if k not in DISRUPTION_KNOBS}
    disruption = {k: float(v) for k, v in values.items() if k in DISRUPTION_KNOBS}
    return Point(policy, disruption)


def parse_overrides(values: Mapping[str, Any], *, source: str, key: str) -> Point:
    """One set of knob overrides (``{knob: value}``), validated like a spec file.

    Raises
    ------
    SpecError
        Unknown knobs (with close matches) and bad values, named ``<key>.<knob>``.
    """
    reader = SpecReader(Path(source))
    knobs = _known(reader, list(values), key)
    parsed: dict[str, Any] = {}
    for k in knobs:
        ok, value = _check(reader, k, values[k], f"{key}.{k}")
        if ok:
            parsed[k] = value
    reader.raise_if_any()
    return _point(parsed)


def check_grid_size(size: int, max_points: int, *, source: str, key: str = "grid") -> None:
    """Refuse a grid of ``size`` points above ``max_points`` (before building any point).

    Raises
    ------
    SpecError
        Naming the size, the limit and the option that raises it; also for a
        ``max_points`` that is not a whole number >= 1.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise SpecError.single(
            source, "max_points", max_points, "must be a whole number >= 1", "e.g. 100000"
        )
    if size > max_points:
        raise SpecError.single(
            source,
            key,
            f"{size:,} points",
            f"the grid has {size:,} points, more than the limit of {max_points:,}",
            f"at most {max_points:,} points: use fewer values per knob, or raise the limit "
            "with max_points= (command line: --max-points)",
        )


def grid_points(
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame,
    *,
    source: str = "sweep grid",
    max_points: int = DEFAULT_MAX_POINTS,
) -> tuple[list[str], list[Point]]:
    """The knob names and validated points of ``grid``.

    Parameters
    ----------
    grid
        ``{knob: [values...]}`` (Cartesian product, last knob fastest) or a frame with one
        column per knob and one row per point.
    source
        What the errors call the grid (e.g. a file name).
    max_points
        Largest number of points accepted (:data:`DEFAULT_MAX_POINTS`).

    Raises
    ------
    SpecError
        Unknown knobs (with close matches), values out of range or of the wrong type, an
        empty grid, a grid of more than ``max_points`` points (checked before the points
        are built).
    """
    reader = SpecReader(Path(source))
    if isinstance(grid, pl.DataFrame):
        check_grid_size(grid.height, max_points, source=source, key="points")
        knobs = _known(reader, grid.columns, "points")
        rows = grid.select(knobs).rows(named=True) if knobs else []
        wheres = [[f"points[{i}].{k}" for k in knobs] for i in range(len(rows))]
    else:
        knobs = _known(reader, list(grid), "grid")
        for k in knobs:
            if isinstance(grid[k], str | bytes) or not isinstance(grid[k], Sequence):
                reader.fail(
                    f"grid.{k}", grid[k], "must be a list of values", KNOBS.get(k, ("", ""))[1]
                )
        reader.raise_if_any()
        check_grid_size(math.prod(len(grid[k]) for k in knobs), max_points, source=source)
        combos = list(itertools.product(*(enumerate(grid[k]) for k in knobs)))
        rows = [{k: v for k, (_, v) in zip(knobs, c, strict=True)} for c in combos]
        wheres = [[f"grid.{k}[{i}]" for k, (i, _) in zip(knobs, c, strict=True)] for c in combos]
    if not knobs or not rows:
        reader.fail(
            "grid" if not isinstance(grid, pl.DataFrame) else "points",
            None,
            "the sweep has no points",
            "at least one knob with at least one value",
        )
    points: list[Point] = []
    for row, where in zip(rows, wheres, strict=True):
        parsed: dict[str, Any] = {}
        for k, w in zip(knobs, where, strict=True):
            ok, value = _check(reader, k, row[k], w)
            if ok:
                parsed[k] = value
        points.append(_point(parsed))
    reader.raise_if_any()
    return knobs, points


def points_frame(knobs: Sequence[str], points: Sequence[Point]) -> pl.DataFrame:
    """The knob columns of a sweep's result.

    Whole-number knobs (:data:`WHOLE_NUMBER_KINDS`: a count, a year) as Int64, other
    numbers as Float64, anything else as text.
    """
    columns: dict[str, pl.Series] = {}
    kinds = {k.name: k.kind for k in KNOB_TABLE}
    for k in knobs:
        values = [p.values()[k] for p in points]
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) or v is None for v in values
        )
        if numbers and kinds.get(k) in WHOLE_NUMBER_KINDS:
            columns[k] = pl.Series(k, values, pl.Int64)
        elif numbers:
            columns[k] = pl.Series(k, [None if v is None else float(v) for v in values], pl.Float64)
        else:
            columns[k] = pl.Series(k, [None if v is None else str(v) for v in values], pl.String)
    return pl.DataFrame(columns)
