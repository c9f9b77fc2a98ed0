r"""Persistent re-solves: one HiGHS model kept per LP structure, only changed numbers sent.

A sweep builds and compiles every point's LP as a single run does
(:func:`~resilience.optimize.compile.compile_model`), then, inside
:func:`persistent`, every direct-route solve (:func:`resilience.optimize.solve.solve`)
goes through a :class:`PersistentSession` instead of a fresh ``highspy.Highs``:

1. The compiled LP's **structure** is taken: its columns and rows in order, each named by
   its Pyomo family and index (``x[USA, graphite/mining, 1, calm]``), the sparsity pattern
   of the matrix (row starts and column indices, explicit zeros dropped as the hand-off
   drops them), integrality and objective sense, all hashed into one BLAKE2b digest.
2. If the session keeps a HiGHS model of that structure, solved to optimality under the
   same solver options, only the numbers that differ are sent to it — column bounds
   (``changeColsBounds``), costs (``changeColsCost``), row bounds (``changeRowsBounds``),
   matrix values (``changeCoeff``) and the objective offset — and ``run()`` re-solves
   from the previous optimal basis. HiGHS then skips presolve and runs the simplex on
   the original LP from that basis (HiGHS guide, "Presolve": "the only exception occurs
   when there is a valid basis for an LP and the simplex solver is used"). This is a
   ``"persistent"`` re-solve.
3. Otherwise (a knob that adds or removes columns or rows — a policy hook switched on, a
   longer horizon — or a first solve) the LP is passed fresh to a new ``highspy.Highs``
   (a ``"rebuild"``), logged at INFO with the reason, and kept for the next LP of its
   structure if it ends optimal.

The comparison is generic: no table maps knobs to coefficients, so nothing can drift when
a family adds a term. A session keeps at most ``max_kept`` structures (least recently
used dropped first), so a run made of several LPs (the calm reference and the run,
pooling's members alone and pooled, coercion's strikes) keeps each warm. A session with
``keep=False`` passes every LP fresh (the ``rebuild`` method) and records the same
counts, so both methods are measured the same way.

The results are built exactly as on the direct route (:func:`~resilience.optimize.solve.
raw_outcome` and :class:`~resilience.optimize.solve.Solver`'s classification): a
persistent re-solve returns the same kind of :class:`~resilience.optimize.result.SolveResult`
and raises the same typed errors. The optimum is the same LP's (objectives agree to
1e-9 in ``tests/unit/test_sweep_persistent.py``); where the LP has several optimal
vertices, a warm start may stop at a different one than a fresh solve with presolve:
prices within the market's calibration tie, flow splits at equal delivered prices
(what that means for a sweep's metrics: :mod:`resilience.sweeps.engine`).

Every solve appends a :class:`ResolveRecord` (method, reason, simplex iterations,
numbers sent) to :attr:`PersistentSession.records`; :meth:`PersistentSession.drain`
hands them out. A session belongs to one thread at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import operator
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import highspy
import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from resilience.optimize.compile import CompiledModel
from resilience.optimize.lp_record import ModelRecord, model_record, stored_data
from resilience.optimize.solve import (
    DIRECT_RUNNER,
    SolverOptions,
    _LogForwarder,
    _Raw,
    loaded_highs,
    timed_run,
)

__all__ = [
    "MAX_KEPT",
    "MAX_SESSIONS",
    "PersistentSession",
    "ResolveMethod",
    "ResolveRecord",
    "close_sweep_session",
    "persistent",
    "sweep_session",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ResolveMethod = Literal["persistent", "rebuild"]

#: LP structures a session keeps warm (least recently used dropped first).
MAX_KEPT = 4
#: Sweep sessions a process keeps (:func:`sweep_session`; least recently used dropped).
MAX_SESSIONS = 2


@dataclass(frozen=True)
class ResolveRecord:
    """One solve of a session.

    Attributes
    ----------
    method
        ``"persistent"`` (changed numbers sent to a kept model, warm re-solve) or
        ``"rebuild"`` (the LP passed fresh).
    reason
        Why a rebuild was needed (empty for a persistent re-solve).
    simplex_iterations
        HiGHS's ``simplex_iteration_count`` of this run (deterministic for one input).
    changed
        Numbers sent: column bounds, costs, row bounds and matrix values changed (0 for
        a rebuild).
    objective
        Objective value found (``None``: no feasible point).
    columns, rows
        Size of the LP.
    seconds
        Wall time of the hand-off and ``run()``.
    """

    method: ResolveMethod
    reason: str
    simplex_iterations: int
    changed: int
    objective: float | None
    columns: int
    rows: int
    seconds: float


@dataclass(frozen=True)
class _Numbers:
    """The numbers of one compiled LP that a re-solve may change."""

    cost: FloatArray
    col_lb: FloatArray
    col_ub: FloatArray
    row_lb: FloatArray
    row_ub: FloatArray
    value: FloatArray
    offset: float


@dataclass
class _Kept:
    """A HiGHS model kept for one structure, and the numbers it holds now."""

    highs: Any
    forwarder: _LogForwarder
    options: SolverOptions
    numbers: _Numbers
    entry_rows: IntArray  # row of every matrix entry (to address changeCoeff)
    entry_cols: IntArray


def _keys(objects: Sequence[Any]) -> list[tuple[str, Any]]:
    """``(family name, index)`` of every Pyomo variable or constraint object, in order.

    The slow route of :func:`structure_digest` (a Python call per object), for objects
    outside the model's own components.
    """
    names: dict[int, str] = {}
    out: list[tuple[str, Any]] = []
    for obj in objects:
        parent = obj.parent_component()
        name = names.get(id(parent))
        if name is None:
            name = names[id(parent)] = parent.name
        out.append((name, obj.index()))
    return out


def _pattern(compiled: CompiledModel) -> tuple[IntArray, IntArray]:
    """Row starts and column indices of the compiled (row-wise) matrix."""
    mat = compiled.lp.a_matrix_
    return np.asarray(mat.start_, dtype=np.int64), np.asarray(mat.index_, dtype=np.int64)


def _key_bytes(record: ModelRecord | None, comp: Any, data: dict[Any, Any] | None) -> bytes:
    """The keys of ``comp`` in the order of ``data`` (its stored objects), as bytes.

    The key frame the builder registered when the stored keys are still those very
    objects in that order (IPC bytes of the frame); otherwise the keys themselves,
    pickled.
    """
    if record is not None and data is not None:
        frame = record.index_frames.get(comp.name)
        owner = record.index_owners.get(comp.name)
        if (
            frame is not None
            and owner is not None
            and owner[0] is comp
            and len(data) == len(owner[1]) == frame.height
            and all(map(operator.is_, data, owner[1]))
        ):
            buffer = io.BytesIO()
            frame.write_ipc(buffer, compression="uncompressed")
            return buffer.getvalue()
    return pickle.dumps(list(data) if data is not None else list(comp.keys()), protocol=5)


def _family_positions(
    digest: Any, model: Any, ctype: Any, objects: Sequence[Any]
) -> IntArray | None:
    """Hash the families of ``ctype`` (name, size, keys); each object's position.

    Positions count over the families' stored objects in model order; ``None`` if an
    object belongs to none of them.
    """
    position: dict[int, int] = {}
    record = model_record(model, create=False)
    for comp in model.component_objects(ctype, descend_into=True):
        if comp.is_reference():
            continue
        data = stored_data(comp)
        datas = list(data.values()) if data is not None else list(comp.values())
        first = len(position)
        position.update(zip(map(id, datas), range(first, first + len(datas)), strict=True))
        digest.update(f"{comp.name}:{len(datas)}:".encode())
        digest.update(_key_bytes(record, comp, data))
    try:
        return np.fromiter(map(position.__getitem__, map(id, objects)), np.int64, len(objects))
    except KeyError:
        return None


def structure_digest(model: Any, compiled: CompiledModel) -> str:
    """The digest of everything a persistent re-solve keeps (module doc, step 1).

    Columns and rows are named by family and index: each family's keys are hashed once
    (the key frame the builder registered, :mod:`resilience.optimize.lp_record`), and
    each column or row by its position among the families' objects. Garbage collection
    is paused meanwhile: on the G7 study's run LP a collection over the model's heap made
    this 0.7-2.8 s instead of 0.3-0.4 s.
    """
    starts, index = _pattern(compiled)
    digest = hashlib.blake2b(digest_size=32)
    digest.update(compiled.sense.encode())
    digest.update(b"mip" if compiled.is_mip else b"lp")
    with PauseGC():  # many small objects: no collections over the model's heap meanwhile
        for ctype, objects in ((pyo.Var, compiled.columns), (pyo.Constraint, compiled.rows)):
            positions = _family_positions(digest, model, ctype, objects)
            if positions is None:
                digest.update(pickle.dumps(_keys(objects), protocol=5))
            else:
                digest.update(positions.tobytes())
    digest.update(starts.tobytes())
    digest.update(index.tobytes())
    return digest.hexdigest()


def _numbers(compiled: CompiledModel) -> _Numbers:
    lp = compiled.lp
    return _Numbers(
        cost=np.asarray(lp.col_cost_, dtype=np.float64),
        col_lb=np.asarray(lp.col_lower_, dtype=np.float64),
        col_ub=np.asarray(lp.col_upper_, dtype=np.float64),
        row_lb=np.asarray(lp.row_lower_, dtype=np.float64),
        row_ub=np.asarray(lp.row_upper_, dtype=np.float64),
        value=np.asarray(lp.a_matrix_.value_, dtype=np.float64),
        offset=float(lp.offset_),
    )


def _check(status: Any, what: str) -> None:
    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS refused {what} on a kept model")


def _send_changes(kept: _Kept, new: _Numbers) -> int:
    """Send what differs between ``kept.numbers`` and ``new`` to the kept model."""
    h, old = kept.highs, kept.numbers
    cols = np.flatnonzero((new.col_lb != old.col_lb) | (new.col_ub != old.col_ub))
    if cols.size:
        idx = cols.astype(np.int32)
        _check(
            h.changeColsBounds(idx.size, idx, new.col_lb[cols], new.col_ub[cols]),
            "column bounds",
        )
    cost = np.flatnonzero(new.cost != old.cost)
    if cost.size:
        _check(h.changeColsCost(cost.size, cost.astype(np.int32), new.cost[cost]), "costs")
    rows = np.flatnonzero((new.row_lb != old.row_lb) | (new.row_ub != old.row_ub))
    if rows.size:
        idx = rows.astype(np.int32)
        _check(h.changeRowsBounds(idx.size, idx, new.row_lb[rows], new.row_ub[rows]), "row bounds")
    entries = np.flatnonzero(new.value != old.value)
    for k in entries.tolist():
        _check(
            h.changeCoeff(int(kept.entry_rows[k]), int(kept.entry_cols[k]), float(new.value[k])),
            "a matrix value",
        )
    if new.offset != old.offset:
        _check(h.changeObjectiveOffset(new.offset), "the objective offset")
    sent = int(cols.size + cost.size + rows.size + entries.size)
    kept.numbers = new
    return sent


class PersistentSession:
    """Kept HiGHS models, one per LP structure (module doc).

    Parameters
    ----------
    keep
        ``True``: re-solve LPs of a kept structure persistently; ``False``: pass every LP
        fresh (records are still taken).
    max_kept
        Structures kept at once (:data:`MAX_KEPT`).
    """

    def __init__(self, *, keep: bool = True, max_kept: int = MAX_KEPT) -> None:
        if max_kept < 1:
            raise ValueError(f"max_kept must be >= 1, not {max_kept!r}")
        self.keep = keep
        self.max_kept = max_kept
        self.records: list[ResolveRecord] = []
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def drain(self) -> list[ResolveRecord]:
        """The records taken since the last call (and forget them)."""
        out, self.records = self.records, []
        return out

    def close(self) -> None:
        """Drop every kept model."""
        self._kept.clear()

    def run(self, model: Any, compiled: CompiledModel, options: SolverOptions) -> _Raw:
        """Solve ``compiled`` (of ``model``) on a kept model of its structure, or fresh."""
        t0 = time.perf_counter()
        digest = structure_digest(model, compiled) if self.keep else ""
        kept = self._kept.pop(digest, None)
        reason = ""
        if kept is not None and kept.options != options:
            kept, reason = None, "the solver options changed"
        method: ResolveMethod
        if kept is not None:
            method, changed = "persistent", _send_changes(kept, _numbers(compiled))
            h, forwarder = kept.highs, kept.forwarder
            forwarder.lines.clear()
            log.debug("persistent re-solve: %d numbers sent", changed)
        else:
            method, changed = "rebuild", 0
            reason = reason or (
                "method rebuild"
                if not self.keep
                else "no kept LP of this structure "
                f"({compiled.num_cols} columns, {len(compiled.rows)} rows)"
            )
            log.info("rebuild: LP passed fresh to HiGHS (%s)", reason)
            h, forwarder = loaded_highs(compiled, options)
        raw = timed_run(h, compiled, forwarder)
        if self.keep and h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            if kept is None:
                kept = _kept(h, forwarder, compiled, options)
            self._kept[digest] = kept
            while len(self._kept) > self.max_kept:
                self._kept.popitem(last=False)
        self.records.append(
            ResolveRecord(
                method,
                reason,
                int(h.getInfo().simplex_iteration_count),
                changed,
                raw.objective,
                compiled.num_cols,
                len(compiled.rows),
                time.perf_counter() - t0,
            )
        )
        return raw


def _kept(
    h: Any, forwarder: _LogForwarder, compiled: CompiledModel, options: SolverOptions
) -> _Kept:
    """Keep ``h``, which holds ``compiled`` solved to optimality."""
    starts, index = _pattern(compiled)
    return _Kept(
        highs=h,
        forwarder=forwarder,
        options=options,
        numbers=_numbers(compiled),
        entry_rows=np.repeat(np.arange(starts.size - 1, dtype=np.int64), np.diff(starts)),
        entry_cols=index,
    )


@contextlib.contextmanager
def persistent(session: PersistentSession) -> Iterator[PersistentSession]:
    """Route every direct-route solve inside the ``with`` block through ``session``."""
    token = DIRECT_RUNNER.set(session)
    try:
        yield session
    finally:
        DIRECT_RUNNER.reset(token)


_sessions_lock = threading.Lock()
_sessions: OrderedDict[tuple[Hashable, int], PersistentSession] = OrderedDict()


def sweep_session(key: Hashable, *, keep: bool) -> PersistentSession:
    """The calling thread's session for sweep ``key``, made on first use (kept across chunks).

    A process keeps at most :data:`MAX_SESSIONS` (a Dask worker serves many sweeps);
    :func:`close_sweep_session` drops one when its sweep ends.
    """
    full = (key, threading.get_ident())
    with _sessions_lock:
        session = _sessions.pop(full, None)
        if session is None or session.keep != keep:
            session = PersistentSession(keep=keep)
        _sessions[full] = session
        while len(_sessions) > MAX_SESSIONS:
            _, dropped = _sessions.popitem(last=False)
            dropped.close()
        return session


def close_sweep_session(key: Hashable) -> None:
    """Drop every thread's session of sweep ``key`` in this process."""
    with _sessions_lock:
        for full in [k for k in _sessions if k[0] == key]:
            _sessions.pop(full).close()
