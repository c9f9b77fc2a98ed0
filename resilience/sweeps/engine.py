"""Run a sweep: many knob vectors of one study, here, over local processes or on Dask.

:func:`sweep` expands a grid (:mod:`resilience.sweeps.knobs`), checks every point before
solving anything, and solves the points in chunks. Workers receive *parameters* — the
study spec, the scenario expression, the knob names and their chunk of points — never a
Pyomo model; each builds what it needs once and keeps it for the chunks that follow.

Methods
-------
``persistent``
    One :class:`~resilience.sweeps.parametric.ParametricModel` per worker: the numbers of
    each point written into one HiGHS instance and re-solved from the reference basis.
``rebuild``
    Every point built and solved from scratch (diversify and stress: the same LP and
    metrics as the persistent route; pooling and coercion: a full
    :func:`~resilience.study.run_study`, metrics from its summary).
``auto`` (default)
    ``persistent`` where the family and knobs allow it, otherwise ``rebuild``.

Backends
--------
``sequential`` (this process), ``processes`` (``workers`` fresh interpreters running
``python -m resilience.sweeps.worker``, :mod:`resilience.sweeps.pool`: they never import
the caller's ``__main__``, so a script needs no ``if __name__ == "__main__":`` guard) and
``dask`` (a ``distributed`` scheduler address or client: the optional ``dask`` extra).
Every point's answer is independent of where and after which other points it ran, so all
three give identical frames. Neither parallel backend waits without a bound: a worker
that cannot start or dies, a scheduler that cannot be reached within
:data:`DASK_TIMEOUT_S` or has no workers, is a :class:`SweepWorkerError` naming the fix.

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
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import SpecError, SpecProblem, StudySpec, as_study
from resilience.study import check_run, run_study
from resilience.sweeps.knobs import (
    DEFAULT_MAX_POINTS,
    DISRUPTION_KNOBS,
    PARAMETRIC_KNOBS,
    Point,
    grid_points,
    points_frame,
)
from resilience.sweeps.parametric import (
    METRICS,
    PARAMETRIC_FAMILIES,
    NotParametricError,
    ParametricModel,
    build_point,
    solve_built,
)
from resilience.sweeps.pool import SweepWorkerError, run_pool

__all__ = [
    "DASK_TIMEOUT_S",
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
#: Columns of a sweep frame after ``point`` and the knob columns.
SWEEP_SCHEMA = pl.Schema(
    {
        "study": pl.String,
        "scenario": pl.String,
        "model": pl.String,
        "method": pl.String,
        "status": pl.String,
        **dict.fromkeys(METRICS, pl.Float64),
        "reason": pl.String,
    }
)


@dataclass(frozen=True)
class SweepTask:
    """What every worker of one sweep receives (picklable parameters only)."""

    study: StudySpec
    scenario: str | None
    knobs: tuple[str, ...]
    method: Literal["persistent", "rebuild"]
    reference: Point
    trade: pl.DataFrame | None = None
    options: SolverOptions | None = None
    explain: bool = True
    #: The learnt model itself (persistent method): workers start from it instead of
    #: learning it again from the recipe above.
    model: ParametricModel | None = None


# ----------------------------------------------------------------------------- workers
_MODELS: dict[str, ParametricModel] = {}


def _model(task: SweepTask) -> ParametricModel:
    """The learnt model ``task`` carries, cached per process by its token.

    The chunks after a worker's first reuse the instance (and its HiGHS) they installed.
    """
    if task.model is None:
        raise ValueError("a persistent sweep task carries its learnt model")
    token = task.model.token
    if token not in _MODELS:
        _MODELS.clear()
        _MODELS[token] = task.model
    return _MODELS[token]


def _learn(
    spec: StudySpec,
    scenario: str | None,
    knobs: Sequence[str],
    points: Sequence[Point],
    reference: Point,
    trade: pl.DataFrame | None,
    options: SolverOptions | None,
) -> ParametricModel:
    """The parametric model of a sweep, probed inside the grid and checked at its edges.

    Raises
    ------
    NotParametricError
        The knobs do not enter the model multilinearly, an edge of the grid solves
        differently from a rebuild, or a probe is a value a run rejects.
    """
    try:
        model = ParametricModel(
            spec,
            scenario,
            knobs,
            reference=reference,
            probes=_probes(knobs, points),
            trade=trade,
            options=options,
        )
        model.verify(_edges(reference, knobs, points))
    except NotParametricError:
        raise
    except ResilienceError as exc:
        raise NotParametricError(f"the model cannot be probed inside this grid: {exc}") from exc
    log.info("persistent sweep: setup %.2f s in %d builds", model.setup_s, model.builds)
    return model


def _from_study(task: SweepTask, point: Point) -> dict[str, Any]:
    """Rebuild route of the families without a single LP: a full run's summary."""
    row: dict[str, Any] = {"status": "optimal", **dict.fromkeys(METRICS), "reason": None}
    try:
        r = run_study(
            task.study,
            task.scenario,
            policy=point.policy,
            disruption=point.disruption,
            trade=task.trade,
            options=task.options,
        )
    except OptimizationError as exc:
        return row | {"status": status_of(exc), "reason": str(exc)}
    t, s = r.totals.row(0, named=True), r.summary
    demand = float(s["demand_t"].sum())
    row |= {
        "status": r.status,
        "objective_usd": t["objective_usd"],
        "cost_usd": t["cost_usd"],
        "holding_cost_usd": t["holding_cost_usd"],
        "expected_shortfall_t": t["expected_shortfall_t"],
        "expected_shortfall_usd": t["expected_shortfall_usd"],
        "non_allied_share": float((s["non_allied_share_after"] * s["demand_t"]).sum()) / demand,
    }
    if s["days_of_cover"].null_count() < s.height:
        row["stock_days"] = float((s["days_of_cover"].fill_null(0) * s["demand_t"]).sum()) / demand
    return row


def _solve(task: SweepTask, point: Point) -> dict[str, Any]:
    try:
        return _solve_point(task, point)
    except SpecError as exc:  # found only with the data (e.g. the scenario cuts nothing)
        return {"status": "invalid", **dict.fromkeys(METRICS), "reason": str(exc)}


def _solve_point(task: SweepTask, point: Point) -> dict[str, Any]:
    if task.method == "persistent":
        row = _model(task).solve(point)
    elif task.study.model in PARAMETRIC_FAMILIES:
        row = solve_built(build_point(task.study, task.scenario, point, task.trade), task.options)
    else:
        return _from_study(task, point)
    if task.explain and row["status"].startswith("infeasible"):
        # the run's own explanation: which member, commodity and policy conflict
        explained = _from_study(task, point)
        if explained["status"].startswith("infeasible"):
            row["reason"] = explained["reason"]
        else:  # never seen; were it to happen, the full run is the reference
            log.warning(
                "point %s: the sweep's model says %s, a full run says %s; keeping the run's",
                point.values(),
                row["status"],
                explained["status"],
            )
            row = explained
    return row


def run_chunk(
    task: SweepTask, chunk: Sequence[tuple[int, Point]]
) -> list[tuple[int, dict[str, Any]]]:
    """Solve ``chunk`` (``(index, point)`` pairs); the entry point of every worker."""
    return [(i, _solve(task, p)) for i, p in chunk]


# ----------------------------------------------------------------------------- planning
def _resolve_method(
    study: StudySpec, knobs: Sequence[str], points: Sequence[Point], method: Method
) -> Literal["persistent", "rebuild"]:
    numeric = all(
        isinstance(v, int | float) and not isinstance(v, bool)
        for p in points
        for v in p.values().values()
    )
    parametric = (
        numeric and study.model in PARAMETRIC_FAMILIES and all(k in PARAMETRIC_KNOBS for k in knobs)
    )
    if method == "persistent" and not parametric:
        others = [k for k in knobs if k not in PARAMETRIC_KNOBS]
        if study.model not in PARAMETRIC_FAMILIES:
            why = f"the {study.model} family solves several models per run"
        elif others:
            why = f"{', '.join(others)} change the model's structure or enter it non-linearly"
        else:
            why = "a knob takes a value that is not a number (e.g. null: no limit)"
        raise NotParametricError(f"method='persistent' is not possible here: {why}")
    if method == "auto":
        return "persistent" if parametric else "rebuild"
    if method not in ("persistent", "rebuild"):
        raise ValueError(f"method must be 'auto', 'persistent' or 'rebuild', not {method!r}")
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


def _reference(
    study: StudySpec, scenario: str | None, knobs: Sequence[str], points: Sequence[Point]
) -> Point:
    """The warm-start point: every knob at the middle of its grid values.

    Every point's solve starts from this point's optimal basis; from the middle of the
    grid, few simplex iterations reach any point (from a corner, hundreds). Falls back to
    the first point when that combination is one a run would reject.
    """
    middle: dict[str, Any] = {}
    for k in knobs:
        values = sorted({p.values()[k] for p in points})
        middle[k] = values[(len(values) - 1) // 2]
    centre = Point(
        {k: v for k, v in middle.items() if k in points[0].policy},
        {k: v for k, v in middle.items() if k in points[0].disruption},
    )
    try:
        check_run(study, scenario, policy=centre.policy, disruption=centre.disruption)
    except SpecError:
        return points[0]
    return centre


def _probes(knobs: Sequence[str], points: Sequence[Point]) -> dict[str, tuple[float, float]]:
    """Two probe values per knob inside the grid's range (the defaults for one value)."""
    out: dict[str, tuple[float, float]] = {}
    for k in knobs:
        values = [float(p.values()[k]) for p in points]
        low, high = min(values), max(values)
        out[k] = (
            (low + 0.37 * (high - low), low + 0.71 * (high - low))
            if high > low
            else (PARAMETRIC_KNOBS[k])
        )
    return out


def _edges(reference: Point, knobs: Sequence[str], points: Sequence[Point]) -> list[Point]:
    """The reference point with one knob at a time at its lowest and highest grid value."""
    out: list[Point] = []
    for k in knobs:
        values = sorted({p.values()[k] for p in points})
        for v in {values[0], values[-1]}:
            if k in reference.policy:
                out.append(Point({**reference.policy, k: v}, reference.disruption))
            else:
                out.append(Point(reference.policy, {**reference.disruption, k: v}))
    return out


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
        shared = client.scatter(task, broadcast=True)  # the learnt model travels once
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
        Give every infeasible point the run's explanation in ``reason`` (which member,
        commodity and policy conflict) — one full run per infeasible point; turn off for
        large sweeps that are mostly infeasible.
    trade, options
        Trade table (default: shipped) and solver options.
    max_points
        Refuse a grid of more points (checked before any point is built; default
        :data:`~resilience.sweeps.knobs.DEFAULT_MAX_POINTS`, 100,000).

    Returns
    -------
    polars.DataFrame
        One row per point in grid order: ``point``, the knob columns, then
        :data:`SWEEP_SCHEMA` — ``status`` (``optimal``, ``infeasible``...), ``objective_usd``,
        ``cost_usd`` (contracts), ``holding_cost_usd``, ``expected_shortfall_t`` and
        ``_usd``, ``non_allied_share`` (of contracted tonnes), ``stock_days`` (stock over
        annual demand, days) and ``reason`` for a point without a plan.

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
        ``method="persistent"`` where the family or knobs do not allow it.
    """
    if backend not in ("sequential", "processes", "dask"):
        raise ValueError(f"backend must be sequential, processes or dask, not {backend!r}")
    spec = as_study(study)
    knobs, points = grid_points(grid, max_points=max_points)
    _check_effect(spec, scenario, knobs)
    _check_points(spec, scenario, points)
    chosen = _resolve_method(spec, knobs, points, method)
    workers = workers or os.cpu_count() or 1
    reference = points[0]
    model: ParametricModel | None = None
    if chosen == "persistent":
        reference = _reference(spec, scenario, knobs, points)
        try:
            model = _learn(spec, scenario, knobs, points, reference, trade, options)
        except NotParametricError as exc:
            if method == "persistent":
                raise
            log.warning("rebuilding every point: %s", exc)
            chosen = "rebuild"
    task = SweepTask(
        spec,
        scenario,
        tuple(knobs),
        chosen,
        reference,
        trade,
        options,
        explain,
        model,
    )
    chunks = _chunks(points, 1 if backend == "sequential" else workers, chunk_size)
    label = f"{spec.name} {scenario or 'base'}: {len(points)} points ({task.method})"
    try:
        with _progress(progress, len(points), label) as advance:
            if backend == "sequential":
                results = _sequential(task, chunks, advance)
            elif backend == "processes":
                results = _processes(task, chunks, workers, advance)
            else:
                results = _dask(task, chunks, scheduler, advance)
    finally:
        _MODELS.clear()  # the learnt model (and its HiGHS) goes with the sweep
    rows = [row for _, row in sorted(results, key=lambda r: r[0])]
    label_scenario = scenario or "base"
    meta = {"study": spec.name, "scenario": label_scenario, "model": spec.model}
    body = pl.DataFrame(
        [{**meta, "method": task.method, **row} for row in rows], schema=SWEEP_SCHEMA, orient="row"
    )
    index = pl.DataFrame({"point": range(len(points))}, schema={"point": pl.Int64})
    return pl.concat([index, points_frame(knobs, points), body], how="horizontal")
