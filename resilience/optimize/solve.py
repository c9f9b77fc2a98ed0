r"""Solve a Pyomo model with HiGHS; every outcome becomes a result or a typed error.

Use :func:`solve` for one solve, or :class:`Solver` to re-solve one model many times
(after changing mutable ``Param`` values). Both return a
:class:`~resilience.optimize.result.SolveResult` (re-exported here) whose accessors give
Polars frames, never Pyomo objects (except its ``model``); its conventions for objective
values, duals, marginal values and reduced costs are set out in
:mod:`resilience.optimize.result`. This module hands the model to HiGHS, sets HiGHS's
options, threads and log, and turns the termination condition into a result or an error.

Hand-off routes
---------------
``handoff="direct"`` (default of :func:`solve`)
    :func:`resilience.optimize.lp.compile_model` turns the model into HiGHS arrays and a
    fresh ``highspy.Highs`` solves them. 6-8x faster to hand over than Pyomo's
    persistent interface for large LPs (0.9-1.3 s against 6.4-8.2 s for 50 000 rows,
    see :mod:`resilience.optimize.lp`); models made by the bulk builders are compiled
    from the arrays the builders kept (:mod:`resilience.optimize.compile`), several
    times faster again. Linear objectives only.
``handoff="pyomo"`` (default of :class:`Solver`)
    Pyomo's ``pyomo.contrib.solver`` ``highs`` interface (persistent), always called with
    ``load_solutions=False`` and ``raise_exception_on_nonoptimal_result=False``. The
    first solve pays ``set_instance``; later solves of the same model send only what
    changed. Accepts quadratic objectives.

Measured (2-core VM, one thread): a 300-variable alliance LP re-solved 100 times after
changing a demand ``Param`` took 4.4-5.5 ms per solve either way (first solve 29 ms
"pyomo", 6 ms "direct"); a 10 000-variable one took 100-136 ms per re-solve with "pyomo"
(HiGHS warm-starts from the previous basis) against 146-179 ms with "direct", after a
first solve of 0.93 s against 0.21 s. The persistent route pays after ~15 re-solves.

Outcomes
--------
=================================================  ===========================================
termination condition                              outcome
=================================================  ===========================================
``convergenceCriteriaSatisfied``                   result, ``status="optimal"``
``maxTimeLimit`` / ``iterationLimit`` /            result flagged ``status="time_limit"`` ...
``objectiveLimit`` / ``interrupted``               if a feasible point exists, else
                                                   :class:`SolverLimitError`
``provenInfeasible`` / ``locallyInfeasible``       :class:`InfeasibleModelError`
``unbounded``                                      :class:`UnboundedModelError`
``infeasibleOrUnbounded``                          re-solved without presolve to decide;
                                                   if still open,
                                                   :class:`InfeasibleOrUnboundedModelError`
``error`` / ``unknown`` / ``emptyModel`` /         :class:`SolverError`
``licensingProblems`` / ``minStepLength``
=================================================  ===========================================

A model with no variables is evaluated here (HiGHS calls it "empty" even when a
constant constraint such as ``0 >= 5`` makes it infeasible).

Time limits
-----------
``time_limit_s`` is passed on every solve (``time_limit=`` to Pyomo, the HiGHS option on
the direct route) and reset to infinity when ``None``, because HiGHS options persist on a
re-used solver. In highspy 1.15.1 the limit applies to each run (measured: three runs
of a hard MIP with a 1 s limit each took 1.0 s), but ``Highs.getRunTime()`` — which
Pyomo reports as ``timing_info.highs_time`` — accumulates over runs, so solve times
here are measured per solve. HiGHS's thread pool is global to the process and fixed by
the first run; asking a later run for a different ``threads`` makes HiGHS refuse to run
(status ``kNotset``), so a change of ``threads`` resets the global scheduler first.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import dataclasses
import functools
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Protocol

import highspy
import pyomo.environ as pyo
from pyomo.common.log import LogStream
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.common.util import NoDualsError, NoReducedCostsError

from resilience.optimize.compile import CompiledModel, compile_model
from resilience.optimize.diagnostics import (
    Describe,
    DualsUnavailableError,
    InfeasibleModelError,
    InfeasibleOrUnboundedModelError,
    OptimizationError,
    SolverError,
    SolverLimitError,
    UnboundedModelError,
    explain_infeasible,
    hint_for,
)
from resilience.optimize.result import Handoff, SolveResult, Status, _Solution

__all__ = [
    "DualsUnavailableError",
    "InfeasibleModelError",
    "InfeasibleOrUnboundedModelError",
    "OptimizationError",
    "SolveResult",
    "Solver",
    "SolverError",
    "SolverLimitError",
    "SolverOptions",
    "UnboundedModelError",
    "record_statuses",
    "solve",
    "worst_status",
]

log = logging.getLogger("resilience.optimize")
highs_log = logging.getLogger("resilience.optimize.highs")


def _route_banner_to_logging() -> None:
    """Construct the process's first ``highspy.Highs`` with the C-level stdout captured.

    HiGHS prints its banner ("Running HiGHS ... Copyright ...") from C++ straight to file
    descriptor 1 when the first ``Highs`` object of a process is built, before any option
    (``output_flag``, ``log_to_console``) can be set, and never again in that process. So
    it is built here, at import and before any solver, with descriptor 1 pointed at a
    temporary file; the text goes to logger ``resilience.optimize.highs`` at DEBUG (shown
    on stderr by ``resilience --verbose``), never to stdout or a cron log. (Anything another
    thread writes to descriptor 1 in that instant is logged the same way, not lost.)
    """
    if sys.stdout is not None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 at all: nothing can reach stdout
        highspy.Highs()
        return
    try:
        flush = ctypes.CDLL(None).fflush  # C stdio buffers, where HiGHS prints
    except (OSError, AttributeError):  # no C library by that route (Windows)
        flush = None
    with tempfile.TemporaryFile() as captured:
        if flush is not None:
            flush(None)
        os.dup2(captured.fileno(), 1)
        try:
            highspy.Highs()
            if flush is not None:
                flush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode("utf-8", errors="replace")
    for line in text.splitlines():
        highs_log.debug(line)


_route_banner_to_logging()

TC = TerminationCondition

_LIMIT_STATUS: dict[TerminationCondition, Status] = {
    TC.maxTimeLimit: "time_limit",
    TC.iterationLimit: "iteration_limit",
    TC.objectiveLimit: "objective_limit",
    TC.interrupted: "interrupted",
}
_INFEASIBLE = frozenset({TC.provenInfeasible, TC.locallyInfeasible})
_ERRORS = frozenset({TC.error, TC.unknown, TC.emptyModel, TC.licensingProblems, TC.minStepLength})
#: HiGHS model status → Pyomo termination condition, for the direct route (same table
#: as Pyomo's highs interface, plus the statuses it leaves unmapped).
_HIGHS_STATUS: dict[Any, TerminationCondition] = {
    getattr(highspy.HighsModelStatus, name): tc
    for names, tc in (
        (("kNotset", "kUnknown"), TC.unknown),
        (("kLoadError", "kModelError", "kPresolveError", "kSolveError"), TC.error),
        (("kPostsolveError", "kMemoryLimit"), TC.error),
        (("kModelEmpty",), TC.emptyModel),
        (("kOptimal",), TC.convergenceCriteriaSatisfied),
        (("kInfeasible",), TC.provenInfeasible),
        (("kUnboundedOrInfeasible",), TC.infeasibleOrUnbounded),
        (("kUnbounded",), TC.unbounded),
        (("kObjectiveBound", "kObjectiveTarget"), TC.objectiveLimit),
        (("kTimeLimit",), TC.maxTimeLimit),
        (("kIterationLimit", "kSolutionLimit"), TC.iterationLimit),
        (("kInterrupt", "kHighsInterrupt"), TC.interrupted),
    )
    for name in names
}

# ----------------------------------------------------------------------------- options

_NAMED_OPTIONS = frozenset(
    ["time_limit", "threads", "mip_rel_gap", "presolve", "output_flag", "log_to_console"]
)


@dataclass(frozen=True)
class SolverOptions:
    """How HiGHS should solve.

    Parameters
    ----------
    time_limit_s
        Wall-clock limit per solve, seconds (``None``: none).
    threads
        HiGHS threads (``None``: HiGHS's choice). Global to the process in HiGHS.
    mip_gap
        Relative MIP gap at which to stop (``None``: HiGHS default 1e-4).
    presolve
        Run HiGHS presolve.
    log_to
        ``"logging"``: the HiGHS log goes line by line to logger
        ``resilience.optimize.highs`` at DEBUG, never to stdout; ``"off"``: dropped (it is
        still kept in :attr:`SolveResult.log`).
    extra
        Further HiGHS options by their HiGHS names (e.g. ``{"mip_max_nodes": 1000}``).
    """

    time_limit_s: float | None = None
    threads: int | None = None
    mip_gap: float | None = None
    presolve: bool = True
    log_to: Literal["logging", "off"] = "logging"
    extra: Mapping[str, bool | int | float | str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        t = self.time_limit_s
        if t is not None and not (math.isfinite(t) and t > 0):
            raise ValueError(f"time_limit_s must be a positive number of seconds, not {t!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a positive integer, not {self.threads!r}")
        if self.mip_gap is not None and not (math.isfinite(self.mip_gap) and self.mip_gap >= 0):
            raise ValueError(f"mip_gap must be >= 0, not {self.mip_gap!r}")
        if self.log_to not in ("logging", "off"):
            raise ValueError(f"log_to must be 'logging' or 'off', not {self.log_to!r}")
        clash = sorted(set(self.extra) & set(_NAMED_OPTIONS))
        if clash:
            raise ValueError(f"set {clash} through the SolverOptions fields, not extra")
        object.__setattr__(self, "extra", dict(self.extra))  # a private copy; picklable

    def highs_options(self) -> dict[str, bool | int | float | str]:
        """The HiGHS options these settings stand for (unset ones left out)."""
        opts: dict[str, bool | int | float | str] = {"presolve": "on" if self.presolve else "off"}
        if self.time_limit_s is not None:
            opts["time_limit"] = float(self.time_limit_s)
        if self.threads is not None:
            opts["threads"] = int(self.threads)
        if self.mip_gap is not None:
            opts["mip_rel_gap"] = float(self.mip_gap)
        opts.update(self.extra)
        return opts


_scheduler_lock = threading.Lock()
_scheduler_threads: int | None = None


_STATUSES: contextvars.ContextVar[list[Status] | None] = contextvars.ContextVar(
    "resilience_solve_statuses", default=None
)


@contextlib.contextmanager
def record_statuses() -> Iterator[list[Status]]:
    """Collect the status of every solve that returns a plan inside the ``with`` block.

    A run made of several solves (a study: the plan, the least-cost plan, pooling's
    members alone...) reports ``optimal`` only if every one of them was.
    """
    token = _STATUSES.set([])
    try:
        recorded = _STATUSES.get()
        assert recorded is not None
        yield recorded
    finally:
        _STATUSES.reset(token)


def worst_status(statuses: Iterable[Status]) -> Status:
    """The first status that is not ``optimal`` (a limit hit), else ``optimal``."""
    return next((s for s in statuses if s != "optimal"), "optimal")


def _ensure_threads(threads: int | None) -> None:
    """Reset HiGHS's process-wide thread pool when a different thread count is asked for."""
    global _scheduler_threads
    if threads is None:
        return
    with _scheduler_lock:
        if _scheduler_threads != threads:
            highspy.Highs.resetGlobalScheduler(True)
            _scheduler_threads = threads


@functools.cache
def _highs_default(name: str) -> Any:
    status, value = highspy.Highs().getOptionValue(name)
    if status != highspy.HighsStatus.kOk:
        raise ValueError(f"unknown HiGHS option {name!r}")
    return value


class _LogForwarder:
    """Collects HiGHS log text; forwards complete lines to the highs logger at DEBUG."""

    def __init__(self, enabled: bool, keep: int = 5000) -> None:
        self.enabled = enabled
        self.lines: deque[str] = deque(maxlen=keep)
        self._buffer = ""

    def __call__(self, event: Any) -> None:
        self.write(str(event.message))

    def write(self, text: str) -> None:
        *complete, self._buffer = (self._buffer + text).split("\n")
        for line in complete:
            self.lines.append(line)
            if self.enabled:
                highs_log.debug(line)

    def flush(self) -> None:
        if self._buffer:
            self.write("\n")


# ----------------------------------------------------------------------------- raw outcome
@dataclass
class _Raw:
    tc: TerminationCondition
    has_solution: bool
    objective: float | None
    bound: float | None
    solution: _Solution
    is_mip: bool
    sense: Literal["minimize", "maximize"]
    solve_time: float
    log: str


def _no_solution() -> _Solution:
    return _Solution({}, None, None, ())


# ----------------------------------------------------------------------------- direct route
class DirectRunner(Protocol):
    """Runs the direct hand-off of a compiled model (a persistent session)."""

    def run(self, model: Any, compiled: CompiledModel, options: SolverOptions) -> _Raw:
        """Solve ``compiled`` (made from ``model``) with ``options``; the raw outcome."""
        ...


#: The runner every direct-route solve in this context goes through (``None``: a fresh
#: ``highspy.Highs`` per solve); set by :func:`resilience.optimize.persistent.persistent`.
DIRECT_RUNNER: contextvars.ContextVar[DirectRunner | None] = contextvars.ContextVar(
    "resilience_direct_runner", default=None
)


def configured_highs(options: SolverOptions, forwarder: _LogForwarder) -> Any:
    """A fresh ``highspy.Highs`` with ``options`` set and its log sent to ``forwarder``."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", False)
    h.cbLogging.subscribe(forwarder)
    for name, val in options.highs_options().items():
        if h.setOptionValue(name, val) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS rejected option {name}={val!r}")
    h.HandleKeyboardInterrupt = True
    return h


def rejected(forwarder: _LogForwarder) -> NoReturn:
    """Raise the error of a model HiGHS refused to take."""
    forwarder.flush()
    raise SolverError(
        "HiGHS rejected the compiled model",
        termination_condition=TC.error.name,
        hint=hint_for(TC.error.name),
        log_tail="\n".join(list(forwarder.lines)[-10:]),
    )


def loaded_highs(compiled: CompiledModel, options: SolverOptions) -> tuple[Any, _LogForwarder]:
    """A fresh ``highspy.Highs`` set up by ``options`` with ``compiled`` passed in."""
    forwarder = _LogForwarder(options.log_to == "logging")
    h = configured_highs(options, forwarder)
    if h.passModel(compiled.lp) == highspy.HighsStatus.kError:
        rejected(forwarder)
    return h, forwarder


def timed_run(h: Any, compiled: CompiledModel, forwarder: _LogForwarder) -> _Raw:
    """``h.run()``, timed, and its outcome (:func:`raw_outcome`)."""
    t = time.perf_counter()
    h.run()
    return raw_outcome(h, compiled, forwarder, time.perf_counter() - t)


def raw_outcome(h: Any, compiled: CompiledModel, forwarder: _LogForwarder, elapsed: float) -> _Raw:
    """What ``h`` found for ``compiled`` after ``run()`` (``elapsed`` seconds)."""
    forwarder.flush()
    info = h.getInfo()
    tc = _HIGHS_STATUS.get(h.getModelStatus(), TC.unknown)
    has_solution = info.primal_solution_status == highspy.kSolutionStatusFeasible
    sol = h.getSolution()
    solution = _no_solution()
    if has_solution:
        ids = list(compiled.column_of)  # id() of each column, in column order
        row_ids = list(compiled.row_of)
        dual_ok = sol.dual_valid and not compiled.is_mip
        solution = _Solution(
            values=dict(zip(ids, sol.col_value, strict=True)),
            duals=dict(zip(row_ids, sol.row_dual, strict=True)) if dual_ok else None,
            reduced_costs=dict(zip(ids, sol.col_dual, strict=True)) if dual_ok else None,
            keepalive=compiled.columns + compiled.rows,
        )
    bound = None
    if has_solution:
        bound = info.mip_dual_bound if compiled.is_mip else info.objective_function_value
    return _Raw(
        tc=tc,
        has_solution=has_solution,
        objective=float(info.objective_function_value) if has_solution else None,
        bound=None if bound is None else float(bound),
        solution=solution,
        is_mip=compiled.is_mip,
        sense=compiled.sense,
        solve_time=elapsed,
        log="\n".join(forwarder.lines),
    )


# ----------------------------------------------------------------------------- solver


class Solver:
    """Solves one model, possibly many times (parameter sweeps).

    Parameters
    ----------
    model
        A linear (or, with ``handoff="pyomo"``, quadratic-objective) Pyomo model.
    handoff
        ``"pyomo"`` (default here): Pyomo's persistent HiGHS interface, which sends only
        changes on re-solves. ``"direct"``: recompile with
        :func:`resilience.optimize.lp.compile_model` every solve.
    """

    def __init__(self, model: Any, *, handoff: Handoff = "pyomo") -> None:
        if handoff not in ("direct", "pyomo"):
            raise ValueError(f"handoff must be 'direct' or 'pyomo', not {handoff!r}")
        self.model = model
        self.handoff: Handoff = handoff
        self._pyomo: Any = None
        self._pyomo_extra_keys: set[str] = set()

    def solve(
        self, options: SolverOptions | None = None, *, explain: Describe | bool | None = None
    ) -> SolveResult:
        """Solve and classify the outcome.

        Parameters
        ----------
        options
            Solver settings; default :class:`SolverOptions()`.
        explain
            On infeasibility, compute HiGHS's irreducible infeasible subsystem and attach
            it to the :class:`InfeasibleModelError`: a callable ``(constraint family,
            index tuple) -> sentence`` (return ``None`` for the default wording), or
            ``True`` for default wording only.

        Raises
        ------
        InfeasibleModelError, UnboundedModelError, SolverLimitError, SolverError
            See the module documentation for which termination condition raises what.
        """
        options = options or SolverOptions()
        t0 = time.perf_counter()
        _ensure_threads(options.threads)
        raw = self._run(options)
        if raw.tc == TC.infeasibleOrUnbounded and options.presolve:
            log.info("HiGHS found the model infeasible or unbounded; re-solving without presolve")
            raw = self._run(dataclasses.replace(options, presolve=False))
        return self._finish(raw, explain, time.perf_counter() - t0)

    # -- routes
    def _run(self, options: SolverOptions) -> _Raw:
        if self.handoff == "direct":
            return self._run_direct(options)
        return self._run_pyomo(options)

    def _run_direct(self, options: SolverOptions) -> _Raw:
        compiled = compile_model(self.model)
        if compiled.num_cols == 0:
            return _evaluate_constant_model(compiled)
        runner = DIRECT_RUNNER.get()
        if runner is not None:  # a persistent session (resilience.optimize.persistent)
            return runner.run(self.model, compiled, options)
        h, forwarder = loaded_highs(compiled, options)
        return timed_run(h, compiled, forwarder)

    def _pyomo_kwargs(self, options: SolverOptions) -> dict[str, Any]:
        opts = options.highs_options()
        log_to_logging = options.log_to == "logging"
        kwargs: dict[str, Any] = {
            "load_solutions": False,
            "raise_exception_on_nonoptimal_result": False,
            "tee": [LogStream(logging.DEBUG, highs_log)] if log_to_logging else False,
            "time_limit": opts.pop("time_limit", None),
            "threads": opts.pop("threads", None),
            "rel_gap": opts.pop("mip_rel_gap", None),
        }
        # HiGHS options persist on the persistent solver: reset what this solve leaves unset
        if kwargs["time_limit"] is None:
            opts["time_limit"] = highspy.kHighsInf
        if kwargs["threads"] is None:
            opts["threads"] = 0
        if kwargs["rel_gap"] is None:
            opts["mip_rel_gap"] = _highs_default("mip_rel_gap")
        for name in self._pyomo_extra_keys - set(opts):
            opts[name] = _highs_default(name)
        self._pyomo_extra_keys = set(options.extra)
        kwargs["solver_options"] = opts
        return kwargs

    def _run_pyomo(self, options: SolverOptions) -> _Raw:
        if self._pyomo is None:
            self._pyomo = SolverFactory("highs")
        kwargs = self._pyomo_kwargs(options)
        t = time.perf_counter()
        res = self._pyomo.solve(self.model, **kwargs)
        elapsed = time.perf_counter() - t
        with contextlib.suppress(AttributeError, KeyError, ValueError):
            elapsed = res.timing_info.timer.get_total_time("optimize")
        tc = res.termination_condition
        if tc == TC.unknown:  # e.g. HiGHS "model empty": decide here, as on the direct route
            compiled = compile_model(self.model)
            if compiled.num_cols == 0:
                return _evaluate_constant_model(compiled)
        has_solution = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
        is_mip = _has_integers(self.model)
        solution = _pyomo_solution(res.solution_loader, is_mip) if has_solution else _no_solution()
        objective = res.incumbent_objective if has_solution else None
        return _Raw(
            tc=tc,
            has_solution=has_solution,
            objective=None if objective is None else float(objective),
            bound=None if res.objective_bound is None else float(res.objective_bound),
            solution=solution,
            is_mip=is_mip,
            sense=_sense(self.model),
            solve_time=elapsed,
            log=res.solver_log or "",
        )

    # -- classification
    def _finish(self, raw: _Raw, explain: Describe | bool | None, wall: float) -> SolveResult:
        if raw.has_solution and (
            raw.tc == TC.convergenceCriteriaSatisfied or raw.tc in _LIMIT_STATUS
        ):
            return self._result(raw, wall)
        self._raise(raw, explain)

    def _result(self, raw: _Raw, wall: float) -> SolveResult:
        tc = raw.tc
        assert raw.objective is not None  # a feasible point has an objective value
        name = _model_name(self.model)
        status: Status = "optimal" if tc == TC.convergenceCriteriaSatisfied else _LIMIT_STATUS[tc]
        recorded = _STATUSES.get()
        if recorded is not None:
            recorded.append(status)
        gap = None
        if raw.is_mip and raw.objective is not None and raw.bound is not None:
            gap = abs(raw.objective - raw.bound) / max(abs(raw.objective), 1e-10)
        if status == "optimal":
            log.debug("%s: optimal, objective %.10g (%.3f s)", name, raw.objective, wall)
        else:
            log.warning(
                "%s: stopped at a %s with a feasible plan (objective %.10g, bound %s, gap %s), "
                "not proven optimal",
                *(name, status.replace("_", " "), raw.objective, raw.bound, gap),
            )
        return SolveResult(
            status=status,
            termination_condition=tc.name,
            has_solution=True,
            objective=raw.objective,
            objective_bound=raw.bound,
            mip_gap=gap,
            sense=raw.sense,
            is_mip=raw.is_mip,
            solve_time_s=raw.solve_time,
            wall_time_s=wall,
            handoff=self.handoff,
            log=raw.log,
            _solution=raw.solution,
            _model=self.model,
        )

    def _raise(self, raw: _Raw, explain: Describe | bool | None) -> NoReturn:
        tc = raw.tc
        name = _model_name(self.model)
        common: dict[str, Any] = {
            "termination_condition": tc.name,
            "hint": hint_for(tc.name),
            "log_tail": "\n".join(raw.log.splitlines()[-10:]),
        }
        if tc in _LIMIT_STATUS:
            limit = _LIMIT_STATUS[tc].replace("_", " ")
            raise SolverLimitError(
                f"{name}: HiGHS stopped at its {limit} before finding any feasible plan", **common
            )
        if tc in _INFEASIBLE or tc == TC.infeasibleOrUnbounded:
            explanation = None
            if explain:
                describe = explain if callable(explain) else None
                explanation = explain_infeasible(self.model, describe)
                if explanation.members:
                    common["hint"] = hint_for(tc.name, explained=True)
            if tc == TC.infeasibleOrUnbounded:
                raise InfeasibleOrUnboundedModelError(
                    f"{name}: the model is infeasible or unbounded",
                    explanation=explanation,
                    **common,
                )
            raise InfeasibleModelError(
                f"{name}: no plan satisfies all the constraints", explanation=explanation, **common
            )
        if tc == TC.unbounded:
            raise UnboundedModelError(f"{name}: the objective is unbounded", **common)
        if tc == TC.convergenceCriteriaSatisfied:
            raise SolverError(f"{name}: HiGHS reported optimal but returned no solution", **common)
        if tc not in _ERRORS:  # pragma: no cover - every TerminationCondition is classified
            log.error("unclassified termination condition %s", tc)
        raise SolverError(f"{name}: HiGHS ended with termination condition {tc.name}", **common)


def _pyomo_solution(loader: Any, is_mip: bool) -> _Solution:
    """Snapshot values, duals and reduced costs through Pyomo's public solution loader."""
    primals = loader.get_vars()
    values = {id(v): float(x) for v, x in primals.items()}
    duals: dict[int, float] | None = None
    rcs: dict[int, float] | None = None
    cons: list[Any] = []
    if not is_mip:
        try:
            raw_duals = loader.get_duals()
            rcs = {id(v): float(r) for v, r in loader.get_reduced_costs().items()}
        except (NoDualsError, NoReducedCostsError):
            log.debug("the solver returned no duals or reduced costs for this solution")
        else:
            duals = {id(c): float(d) for c, d in raw_duals.items()}
            cons = list(raw_duals)
    return _Solution(values, duals, rcs, tuple(primals.keys()) + tuple(cons))


def _model_name(model: Any) -> str:
    name = getattr(model, "name", None)
    return f"Model {name!r}" if name and name != "unknown" else "The model"


def _sense(model: Any) -> Literal["minimize", "maximize"]:
    obj = next(
        iter(model.component_data_objects(pyo.Objective, active=True, descend_into=True)), None
    )
    return "maximize" if obj is not None and obj.sense == pyo.maximize else "minimize"


def _has_integers(model: Any) -> bool:
    return any(
        not v.fixed and v.domain.get_interval()[2] == 1
        for v in model.component_data_objects(pyo.Var, descend_into=True)
    )


def _evaluate_constant_model(compiled: CompiledModel, tol: float = 1e-9) -> _Raw:
    """A model without variables: feasible iff every constant row allows 0."""
    lp = compiled.lp
    lo, hi = list(lp.row_lower_), list(lp.row_upper_)
    feasible = all(lb <= tol and ub >= -tol for lb, ub in zip(lo, hi, strict=True))
    log.info(
        "the model has no variables; %s",
        "all constraints hold" if feasible else "a constraint fails",
    )
    return _Raw(
        tc=TC.convergenceCriteriaSatisfied if feasible else TC.provenInfeasible,
        has_solution=feasible,
        objective=compiled.objective_constant if feasible else None,
        bound=compiled.objective_constant if feasible else None,
        solution=_Solution({}, {id(c): 0.0 for c in compiled.rows}, {}, compiled.rows)
        if feasible
        else _no_solution(),
        is_mip=False,
        sense=compiled.sense,
        solve_time=0.0,
        log="",
    )


def solve(
    model: Any,
    options: SolverOptions | None = None,
    *,
    explain: Describe | bool | None = None,
    handoff: Handoff = "direct",
) -> SolveResult:
    """Solve ``model`` once with HiGHS and classify the outcome.

    Parameters
    ----------
    model
        A linear (MI)LP Pyomo model with one active objective.
    options
        :class:`SolverOptions` (time limit, threads, MIP gap, presolve, extra HiGHS options).
    explain
        On infeasibility attach an explanation (see :meth:`Solver.solve`).
    handoff
        ``"direct"`` (default, fastest for one solve) or ``"pyomo"``.

    Returns
    -------
    SolveResult
        ``status == "optimal"``, or a flagged result for a limit hit with a feasible plan.

    Raises
    ------
    InfeasibleModelError, UnboundedModelError, SolverLimitError, SolverError
    """
    return Solver(model, handoff=handoff).solve(options, explain=explain)
