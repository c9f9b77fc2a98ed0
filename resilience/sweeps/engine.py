"""Run a sweep: many knob vectors of one study, here, over local processes or on Dask.

:func:`sweep` expands a grid (:mod:`resilience.sweeps.knobs`), checks every point before
solving anything, and solves the points in chunks. Workers receive *parameters* — the
study spec, the scenario expression, the knob names and their chunk of points — never a
Pyomo model; each builds what it needs once and keeps it for the chunks that follow.

Methods
-------
Every point builds its market LP as a full :func:`~resilience.study.run_study` does and
compiles it to HiGHS arrays; its metrics (:data:`METRICS`) come from the run's totals and
summary. The methods differ in how each LP reaches HiGHS
(:mod:`resilience.optimize.persistent`):

``rebuild``
    Every LP is passed fresh to a new ``highspy.Highs`` (presolve, then simplex).
``persistent``
    Each worker keeps one HiGHS model per LP structure (columns and rows by family and
    index, sparsity pattern) for the whole sweep. A point whose LP has a kept structure
    sends only the changed column bounds, costs, row bounds and matrix values, and HiGHS
    re-solves warm from the previous optimal basis; a point whose LP has another
    structure is passed fresh (and kept for the points after it). Only for a family whose
    registry entry allows it (:attr:`resilience.optimize.families.ModelFamily.parametric`:
    all four market-core families).
``auto`` (default)
    ``persistent`` where the family allows it, otherwise ``rebuild``.

Per point, ``fresh_lps`` counts the LPs passed fresh (0: every LP of the point was
re-solved on a kept model; a fresh pass is also logged at INFO with its reason) and
``simplex_iterations`` sums HiGHS's iterations over them (the calm reference included
on the first point a worker solves, when it is not cached in that process).

Which knobs keep the structure, measured on the G7 study (graphite, a 2-month market,
``china_graphite_controls``; ``tests/unit/test_sweep_persistent.py``): ``availability``,
``probability``, ``disruption_days`` (the cut's months move numbers only: the horizon is
the settings'), ``spare_capacity``, ``spot_premium``, ``value_of_lost_supply_multiple``,
``holding_cost_share``, ``burden_rule`` (pooling), ``coercion_gamma`` (coercion), and
``max_non_allied_share`` / ``max_single_supplier_share`` strictly below 1, re-solve
persistently. These change the structure and are passed fresh: a sourcing cap going from
1 (no cap rows) to below 1; ``pooling`` on or off; another ``allies`` set (other arcs in
the cap rows); ``min_stock_days`` where a further member's floor rises above its
published stock (floor rows exist only where the floor binds: 0-15 days and 30-60 days
were one structure each, 75 another); a coefficient that becomes exactly 0 (the
hand-off drops it); the market settings (horizon, blocks, regions). A structure seen
before in the same worker is warm again (a worker keeps four).

Persistent and rebuild solve the same LP to optimality: objectives agree to 1e-9 and
prices and welfare losses to the solver's tolerance, except where the LP does not fix
the answer. Prices at a node trading at its observed quantity lie anywhere within the
calibration tie (:data:`~resilience.optimize.market.curves.CALIBRATION_TIE`, ±2e-6 of
P0), and the calm scenario's share of a loss moves with them; the split of flows among
suppliers at equal delivered prices, and of demand shed among nodes at equal block
values, has alternative optima, so ``non_allied_share`` and ``expected_shed_share`` can
differ between the methods (measured on the G7 graphite market at availability 0.25:
0.929 against 0.942, 5.4e-4 against 4.8e-4) and, with ``persistent``, with the points a
worker solved before. For bit-identical frames across backends, use ``rebuild``.

Backends
--------
``sequential`` (this process), ``processes`` (``workers`` fresh interpreters running
``python -m resilience.sweeps.worker``, :mod:`resilience.sweeps.pool`: they never import
the caller's ``__main__``, so a script needs no ``if __name__ == "__main__":`` guard) and
``dask`` (a ``distributed`` scheduler address or client: the optional ``dask`` extra).
With ``rebuild``, every point's answer is independent of where and after which other
points it ran, so all three give identical frames (but for ``fresh_lps`` and
``simplex_iterations``).
Neither parallel backend waits without a bound: a worker that cannot start or dies, a
scheduler that cannot be reached within :data:`DASK_TIMEOUT_S` or has no workers, is a
:class:`SweepWorkerError` naming the fix.

Before anything is solved, the grid's size is checked against ``max_points``
(:mod:`resilience.sweeps.knobs`), and a disruption knob (``availability``,
``probability``) swept on a run without any disruption event is refused: it would
return identical rows that look like an answer.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from resilience.errors import ResilienceError
from resilience.optimize.diagnostics import OptimizationError, status_of
from resilience.optimize.families import family
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.persistent import (
    ResolveRecord,
    close_sweep_session,
    persistent,
    sweep_session,
)
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import SpecError, SpecProblem, StudySpec, as_study
from resilience.study import check_run, run_study
from resilience.sweeps.knobs import (
    DEFAULT_MAX_POINTS,
    DISRUPTION_KNOBS,
    Point,
    grid_points,
    points_frame,
)
from resilience.sweeps.pool import SweepWorkerError, run_pool

__all__ = [
    "DASK_TIMEOUT_S",
    "METRICS",
    "NotParametricError",
    "SWEEP_SCHEMA",
    "Backend",
    "Method",
    "SweepTask",
    "SweepWorkerError",
    "run_chunk",
    "sweep",
]

log = logging.getLogger(__name__)

#: Seconds to reach a Dask scheduler, and for at least one of its workers to be there.
DASK_TIMEOUT_S = 30.0

Method = Literal["auto", "persistent", "rebuild"]
Backend = Literal["sequential", "processes", "dask"]
#: Metrics of every sweep point: the run's totals, and import shares and shedding
#: weighted by the members' consumption (summary).
METRICS = (
    "expected_welfare_loss_usd",
    "worst_welfare_loss_usd",
    "stock_build_usd",
    "policy_cost_usd",
    "pooling_gain_usd",
    "non_allied_share",
    "expected_shed_share",
    "price_rise_max_pct",
)
#: Columns of a sweep frame after ``point`` and the knob columns.
SWEEP_SCHEMA = pl.Schema(
    {
        "study": pl.String,
        "scenario": pl.String,
        "model": pl.String,
        "method": pl.String,
        "fresh_lps": pl.Int64,
        "simplex_iterations": pl.Int64,
        "status": pl.String,
        **dict.fromkeys(METRICS, pl.Float64),
        "reason": pl.String,
    }
)


class NotParametricError(ResilienceError, ValueError):
    """``method="persistent"`` asked of a family that does not re-solve parametrically."""


@dataclass(frozen=True)
class SweepTask:
    """What every worker of one sweep receives (picklable parameters only)."""

    study: StudySpec
    scenario: str | None
    knobs: tuple[str, ...]
    method: Literal["persistent", "rebuild"]
    trade: pl.DataFrame | None = None
    options: SolverOptions | None = None
    explain: bool = True
    settings: StudyMarketSettings | None = None
    session: str = ""  # names the sweep's persistent sessions in every worker


# ----------------------------------------------------------------------------- workers
def _weighted(summary: pl.DataFrame, column: str) -> float | None:
    """``column`` of the summary weighted by the members' consumption (value units)."""
    s = summary.filter(pl.col(column).is_not_null())
    if s.height == 0:
        return None
    w = s["demand_units_per_year"]
    total = float(w.sum())
    return float((s[column] * w).sum()) / total if total > 0 else None


def _resolves(records: Sequence[ResolveRecord]) -> dict[str, Any]:
    """How the point's LPs reached HiGHS: how many were passed fresh, and the iterations."""
    return {
        "fresh_lps": sum(r.method == "rebuild" for r in records),
        "simplex_iterations": sum(r.simplex_iterations for r in records),
    }


def _from_study(task: SweepTask, point: Point) -> dict[str, Any]:
    """One point: a full run on the market core (its LPs through the sweep's session)."""
    row: dict[str, Any] = {"status": "optimal", **dict.fromkeys(METRICS), "reason": None}
    session = sweep_session(task.session, keep=task.method == "persistent")
    session.drain()
    try:
        with persistent(session):
            r = run_study(
                task.study,
                task.scenario,
                policy=point.policy,
                disruption=point.disruption,
                trade=task.trade,
                options=task.options,
                settings=task.settings,
            )
    except OptimizationError as exc:
        return (
            row
            | _resolves(session.drain())
            | {"status": status_of(exc), "reason": str(exc) if task.explain else None}
        )
    row |= _resolves(session.drain())
    t, s = r.totals.row(0, named=True), r.summary
    row |= {k: t[k] for k in METRICS if k in t}
    row |= {
        "status": r.status,
        "non_allied_share": _weighted(s, "non_allied_share_after"),
        "expected_shed_share": _weighted(s, "expected_shed_share"),
        "price_rise_max_pct": s["price_rise_max_pct"].max(),
    }
    return row


def _solve(task: SweepTask, point: Point) -> dict[str, Any]:
    try:
        return _from_study(task, point)
    except SpecError as exc:  # found only with the data (e.g. the scenario cuts nothing)
        return {
            "fresh_lps": None,
            "simplex_iterations": None,
            "status": "invalid",
            **dict.fromkeys(METRICS),
            "reason": str(exc),
        }


def run_chunk(
    task: SweepTask, chunk: Sequence[tuple[int, Point]]
) -> list[tuple[int, dict[str, Any]]]:
    """Solve ``chunk`` (``(index, point)`` pairs); the entry point of every worker."""
    return [(i, _solve(task, p)) for i, p in chunk]


# ----------------------------------------------------------------------------- planning
def _resolve_method(study: StudySpec, method: Method) -> Literal["persistent", "rebuild"]:
    if method not in ("auto", "persistent", "rebuild"):
        raise ValueError(f"method must be 'auto', 'persistent' or 'rebuild', not {method!r}")
    parametric = family(study.model).parametric
    if method == "persistent" and not parametric:
        raise NotParametricError(
            f"method='persistent' is not possible here: the {study.model} family on the "
            "market core rebuilds every point (use method='rebuild' or 'auto')"
        )
    if method == "auto":
        return "persistent" if parametric else "rebuild"
    return method


def _check_effect(study: StudySpec, scenario: str | None, knobs: Sequence[str]) -> None:
    """A disruption knob is refused when the run has no disruption event to set it on.

    Sweeping ``availability`` or ``probability`` of a run without disruptions would
    return identical rows that look like an answer; an error says why and what to do.
    """
    swept = [k for k in knobs if k in DISRUPTION_KNOBS]
    if not swept or study.compose(scenario).events:
        return
    where = f"scenario {scenario!r}" if scenario else "the base case (no --scenario)"
    raise SpecError(
        [
            SpecProblem(
                "sweep grid",
                f"grid.{k}",
                k,
                f"has no effect: {where} of study {study.name!r} has no disruption event, "
                "so every point would give the same answer",
                "a scenario with disruptions (scenario= / --scenario, e.g. "
                "china_graphite_controls), or drop this knob",
            )
            for k in swept
        ]
    )


def _check_points(study: StudySpec, scenario: str | None, points: Sequence[Point]) -> None:
    """Every point passes the checks a run makes before reading data (once per distinct)."""
    problems: list[SpecProblem] = []
    seen: set[bytes] = set()
    for i, p in enumerate(points):
        key = pickle.dumps(p)
        if key in seen:
            continue
        seen.add(key)
        try:
            check_run(study, scenario, policy=p.policy, disruption=p.disruption)
        except SpecError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in p.values().items())
            problems += [
                SpecProblem(
                    q.file, q.key, q.value, f"{q.reason} (sweep point {i}: {shown})", q.allowed
                )
                for q in exc.problems
            ]
    if problems:
        raise SpecError(problems)


def _chunks(
    points: Sequence[Point], workers: int, chunk_size: int | None
) -> list[list[tuple[int, Point]]]:
    size = chunk_size or max(1, math.ceil(len(points) / (4 * workers)))
    indexed = list(enumerate(points))
    return [indexed[i : i + size] for i in range(0, len(indexed), size)]


@contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


# ----------------------------------------------------------------------------- backends
def _sequential(
    task: SweepTask, chunks: list[list[tuple[int, Point]]], advance: Callable[[int], None]
) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    for chunk in chunks:
        out += run_chunk(task, chunk)
        advance(len(chunk))
    return out


def _processes(
    task: SweepTask,
    chunks: list[list[tuple[int, Point]]],
    workers: int,
    advance: Callable[[int], None],
) -> list[tuple[int, dict[str, Any]]]:
    """Local worker processes started as ``python -m resilience.sweeps.worker`` (pool)."""
    return run_pool(task, chunks, workers, advance)


def _dask_client(distributed: Any, scheduler: Any) -> tuple[Any, bool]:
    """The client of ``scheduler`` (made here for an address) and whether it is ours.

    Raises
    ------
    SweepWorkerError
        The scheduler cannot be reached, or no worker joins it, within
        :data:`DASK_TIMEOUT_S`.
    """
    own = not isinstance(scheduler, distributed.Client)
    if own:
        try:
            client = distributed.Client(scheduler, timeout=f"{DASK_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise SweepWorkerError(
                f"cannot reach the Dask scheduler {scheduler!r} within {DASK_TIMEOUT_S:.0f} s "
                f"({type(exc).__name__}: {exc}); check the address (e.g. tcp://host:8786) and "
                "that the scheduler is running, or use backend='processes'"
            ) from exc
    else:
        client = scheduler
    try:
        client.wait_for_workers(1, timeout=DASK_TIMEOUT_S)
    except (TimeoutError, OSError) as exc:
        if own:
            client.close()
        raise SweepWorkerError(
            f"no Dask worker joined the scheduler {client.scheduler.address} within "
            f"{DASK_TIMEOUT_S:.0f} s; start workers (dask worker <address>) or use "
            "backend='processes'"
        ) from exc
    return client, own


def _dask(
    task: SweepTask,
    chunks: list[list[tuple[int, Point]]],
    scheduler: Any,
    advance: Callable[[int], None],
) -> list[tuple[int, dict[str, Any]]]:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "backend='dask' needs the optional dependency: pip install 'resilience[dask]'"
        ) from exc
    if scheduler is None:
        raise ValueError("backend='dask' needs scheduler= a scheduler address or a Client")
    client, own = _dask_client(distributed, scheduler)
    try:
        shared = client.scatter(task, broadcast=True)  # the task travels once
        futures = client.map(run_chunk, [shared] * len(chunks), chunks, pure=False)
        sizes = {f.key: len(c) for f, c in zip(futures, chunks, strict=True)}
        out: list[tuple[int, dict[str, Any]]] = []
        for future in distributed.as_completed(futures):
            try:
                out += future.result()
            except distributed.KilledWorker as exc:
                client.cancel(futures)
                raise SweepWorkerError(
                    f"Dask workers died while solving a chunk of this sweep ({exc}); if they "
                    "ran out of memory, give them more or use fewer threads per worker; or "
                    "use backend='processes'"
                ) from exc
            except ModuleNotFoundError as exc:
                client.cancel(futures)
                raise SweepWorkerError(
                    f"a Dask worker cannot import {exc.name!r}: install resilience (with the "
                    "same version as here) in every worker's environment"
                ) from exc
            advance(sizes[future.key])
        return out
    finally:
        if own:
            client.close()


# ----------------------------------------------------------------------------- sweep
def sweep(
    study: StudySpec | str | Path,
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame,
    *,
    scenario: str | None = None,
    method: Method = "auto",
    backend: Backend = "sequential",
    workers: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: bool = False,
    explain: bool = True,
    trade: pl.DataFrame | None = None,
    options: SolverOptions | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    settings: StudyMarketSettings | None = None,
) -> pl.DataFrame:
    """Solve ``study`` under ``scenario`` at every point of ``grid``.

    Parameters
    ----------
    study
        A study spec or the path of a study file.
    grid
        ``{knob: values}`` (Cartesian product) or a frame of points (one column per
        knob): policy knobs and the ``availability``/``probability`` of every event.
    scenario
        Catalogue scenario expression the points vary (``None``: the base case).
    method
        ``"auto"``, ``"persistent"`` or ``"rebuild"`` (module docstring).
    backend, workers, scheduler
        ``"sequential"``; ``"processes"`` with ``workers`` processes (default: CPU
        count); ``"dask"`` with ``scheduler`` a ``distributed`` address or client.
    chunk_size
        Points per task (default: a quarter of an even share per worker).
    progress
        Show a rich progress bar (the CLI turns it on when writing to a terminal).
    explain
        Give every point without an answer the run's explanation in ``reason``.
    trade, options
        Trade table (default: shipped) and solver options.
    max_points
        Refuse a grid of more points (checked before any point is built; default
        :data:`~resilience.sweeps.knobs.DEFAULT_MAX_POINTS`, 100,000).
    settings
        The market's horizon, regions and blocks for every point (default
        :class:`~resilience.optimize.market.StudyMarketSettings`).

    Returns
    -------
    polars.DataFrame
        One row per point in grid order: ``point``, the knob columns, then
        :data:`SWEEP_SCHEMA` — ``method`` (the sweep's: ``persistent`` or ``rebuild``),
        ``fresh_lps`` (the point's LPs passed fresh to HiGHS; 0: every one re-solved on
        a kept model) and ``simplex_iterations`` (HiGHS's, summed over the point's LPs;
        both null for an ``invalid`` point), ``status`` (``optimal``, ``infeasible``...),
        the
        :data:`METRICS` (welfare losses and stock builds in USD; ``non_allied_share`` and
        ``expected_shed_share`` weighted by the members' consumption;
        ``price_rise_max_pct`` the highest monthly price rise of any member and good) and
        ``reason`` for a point without an answer.

    Raises
    ------
    SpecError
        A bad grid, a grid above ``max_points``, a knob that changes nothing in this
        study and scenario (``availability``/``probability`` without a disruption), or a
        point a run would reject (named with its index and values).
    SweepWorkerError
        ``processes``/``dask``: a worker could not start, died, or the scheduler cannot
        be reached (within seconds, never a hang; the message names the fix).
    NotParametricError
        ``method="persistent"`` where the family does not allow it.
    """
    if backend not in ("sequential", "processes", "dask"):
        raise ValueError(f"backend must be sequential, processes or dask, not {backend!r}")
    spec = as_study(study)
    knobs, points = grid_points(grid, max_points=max_points)
    _check_effect(spec, scenario, knobs)
    _check_points(spec, scenario, points)
    chosen = _resolve_method(spec, method)
    workers = workers or os.cpu_count() or 1
    task = SweepTask(
        spec, scenario, tuple(knobs), chosen, trade, options, explain, settings, uuid.uuid4().hex
    )
    chunks = _chunks(points, 1 if backend == "sequential" else workers, chunk_size)
    label = f"{spec.name} {scenario or 'base'}: {len(points)} points ({task.method})"
    with _progress(progress, len(points), label) as advance:
        try:
            if backend == "sequential":
                results = _sequential(task, chunks, advance)
            elif backend == "processes":
                results = _processes(task, chunks, workers, advance)
            else:
                results = _dask(task, chunks, scheduler, advance)
        finally:
            close_sweep_session(task.session)  # this process's; workers' end with them
    rows = [row for _, row in sorted(results, key=lambda r: r[0])]
    label_scenario = scenario or "base"
    meta = {
        "study": spec.name,
        "scenario": label_scenario,
        "model": spec.model,
        "method": task.method,
    }
    body = pl.DataFrame([{**meta, **row} for row in rows], schema=SWEEP_SCHEMA, orient="row")
    index = pl.DataFrame({"point": range(len(points))}, schema={"point": pl.Int64})
    return pl.concat([index, points_frame(knobs, points), body], how="horizontal")
