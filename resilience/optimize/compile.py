"""Hand-off of a linear Pyomo model to HiGHS arrays, with a pre-compiled fast path.

:func:`compile_model` (re-exported by :mod:`resilience.optimize.lp`, whose docstring
gives the compilation conventions) turns a linear (MI)LP Pyomo model into a
``highspy.HighsLp``. Two routes produce the *same* arrays, entry for entry:

general route
    every active constraint and the objective are walked with Pyomo's
    ``LinearRepnVisitor``, one Python call per term.
pre-compiled route
    the bulk builders of :mod:`resilience.optimize.lp` register, for each constraint
    component and each expression they build, the CSR arrays and the variables the
    Pyomo objects were made from (:func:`register_rows`, :func:`register_expression`).
    When every active constraint component and the active objective of the model has
    such a record and nothing it describes has changed since — the component still
    holds the same constraint objects, each active and holding the expression it was
    built with, the objective holds the registered expression, no variable in them is
    fixed, and every copy of a variable list still names the same variable objects —
    the matrix is assembled from the records with NumPy, doing what the visitor does
    (terms on the same variable in a row summed in order, zero sums dropped, columns
    numbered in order of first appearance). Otherwise the general route compiles the
    whole model.

The records hold references to the constraint, expression and variable objects; they
live on the model, in its one :class:`~resilience.optimize.lp_record.ModelRecord`
(``rows``), and go with it.

Measured on the 1 M-variable stress model of ``benchmarks/bench_stress.py`` (2-core VM,
3.6 M nonzeros): :func:`compile_model` took 9.6 s by the general route and 1.4 s by the
pre-compiled one in a warm process (1.6-2.4 s in fresh ones), keeping 119 instead of
189 MiB of Python objects.
"""

from __future__ import annotations

import itertools
import logging
import operator
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import highspy
import numpy as np
import numpy.typing as npt
import polars as pl
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.repn.linear import LinearRepnVisitor

from resilience.optimize.lp_record import (
    RowsRecord,
    model_record,
    row_expressions,
    rows_unchanged,
    stored_data,
)

__all__ = [
    "CompiledModel",
    "IdPositions",
    "compile_model",
    "data_objects",
    "register_expression",
    "register_rows",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _error(message: str) -> Exception:
    from resilience.optimize.lp import ModelBuildError  # lp imports this module

    return ModelBuildError(message)


# ----------------------------------------------------------------------------- data objects
def data_objects(component: Any) -> list[Any]:
    """``list(component.values())``, fast when the component is fully populated in order.

    Pyomo's ``values()`` looks every index up again; a component whose stored data
    follow its index set key by key (every component built here) is read directly.
    """
    data = stored_data(component)
    if component.is_indexed() and not component.is_reference() and data is not None:
        iset = component.index_set()
        if len(data) == len(iset) and all(map(operator.is_, data, iset)):
            return list(data.values())
    return list(component.values())


# ----------------------------------------------------------------------------- records
def _records(model: Any) -> dict[int, RowsRecord]:
    record = model_record(model)
    assert record is not None  # created on first use
    return record.rows


def _segments(
    variables: Sequence[Any], segments: Sequence[tuple[Any, Sequence[Any]]] | None
) -> tuple[tuple[Any, Sequence[Any]], ...] | None:
    """``variables`` as whole Var components in a row (``None`` if it is not)."""
    if segments is not None:
        return tuple(segments)
    out: list[tuple[Any, Sequence[Any]]] = []
    pos, n = 0, len(variables)
    while pos < n:
        comp = variables[pos].parent_component()
        objs = data_objects(comp)
        k = len(objs)
        if k == 0 or pos + k > n:
            return None
        if not all(map(operator.is_, itertools.islice(variables, pos, pos + k), objs)):
            return None
        out.append((comp, objs))
        pos += k
    return tuple(out)


def register_rows(
    con: Any,
    indptr: IntArray,
    cols: IntArray,
    vals: FloatArray,
    variables: Sequence[Any],
    row_lb: FloatArray,
    row_ub: FloatArray,
    segments: Sequence[tuple[Any, Sequence[Any]]] | None = None,
) -> None:
    """Remember the CSR arrays constraint component ``con`` was just built from.

    ``row_lb``/``row_ub`` hold the bounds as Pyomo reports them (``∓inf``: none);
    ``segments`` says which whole Var components ``variables`` concatenates (found out
    here if not given; nothing is registered if it is not such a concatenation). The
    arrays are kept as given: pass arrays nobody will change afterwards.
    """
    segs = _segments(variables, segments)
    if segs is None or not con.is_indexed():
        return
    datas = tuple(data_objects(con))
    rec = RowsRecord(
        owner=con,
        indptr=indptr,
        cols=cols,
        vals=vals,
        segments=segs,
        datas=datas,
        exprs=row_expressions(datas),
        row_lb=row_lb,
        row_ub=row_ub,
    )
    records = _records(con.model())
    gone = [
        k for k, r in records.items() if r.row_lb is not None and r.owner.parent_block() is None
    ]
    for key in gone:
        del records[key]  # components deleted from the model since
    records[id(con)] = rec


def register_expression(
    expr: Any,
    cols: IntArray,
    vals: FloatArray,
    variables: Sequence[Any],
    constant: float,
    segments: Sequence[tuple[Any, Sequence[Any]]] | None = None,
) -> None:
    """Remember the terms a linear expression was just built from (e.g. an objective).

    As :func:`register_rows`, for one row; the arrays are kept as given.
    """
    if not len(variables):
        return
    segs = _segments(variables, segments)
    if segs is None:
        return
    rec = RowsRecord(
        owner=expr,
        indptr=np.array([0, cols.size], dtype=np.int64),
        cols=cols,
        vals=vals,
        segments=segs,
        constant=constant,
    )
    reg = _records(segs[0][0].model())
    reg[id(expr)] = rec


# ----------------------------------------------------------------------------- result
class IdPositions(Mapping[int, int]):
    """``{id(objects[k]): k}``, iterated in position order; the dict is made on first lookup.

    The solver hand-off only iterates the ids in order (one per column), which needs no
    dict; building one for a million columns would cost about 0.4 s.
    """

    __slots__ = ("_dict", "_objects")

    def __init__(self, objects: Sequence[Any]) -> None:
        self._objects = objects
        self._dict: dict[int, int] | None = None

    def __iter__(self) -> Iterator[int]:
        return map(id, self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def __getitem__(self, key: int) -> int:
        if self._dict is None:
            self._dict = dict(zip(map(id, self._objects), range(len(self._objects)), strict=True))
        return self._dict[key]


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A linear (MI)LP Pyomo model as HiGHS arrays, with the maps back to Pyomo."""

    lp: Any  # highspy.HighsLp, row-wise matrix
    columns: tuple[Any, ...]  # VarData per column
    rows: tuple[Any, ...]  # ConstraintData per row
    column_of: Mapping[int, int]  # id(VarData) -> column (an :class:`IdPositions`)
    row_of: Mapping[int, int]  # id(ConstraintData) -> row (an :class:`IdPositions`)
    sense: Literal["minimize", "maximize"]
    objective_constant: float
    objective_name: str | None
    is_mip: bool
    seconds: float  # time taken to compile

    @property
    def num_cols(self) -> int:
        """Number of columns."""
        return len(self.columns)

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return len(self.rows)


@dataclass
class _Arrays:
    """Everything :func:`_highs_lp` needs, whichever route produced it."""

    rows: list[Any]
    columns: list[Any]
    starts: IntArray
    index: IntArray  # column per entry
    value: FloatArray
    row_lb: FloatArray
    row_ub: FloatArray
    cost: FloatArray
    offset: float
    sense: Literal["minimize", "maximize"]
    objective_name: str | None


def _objective(model: Any) -> Any:
    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) > 1:
        names = ", ".join(o.name for o in objectives)
        raise _error(f"the model has {len(objectives)} active objectives ({names})")
    return objectives[0] if objectives else None


def _sense(obj: Any) -> Literal["minimize", "maximize"]:
    return "maximize" if obj is not None and obj.sense == pyo.maximize else "minimize"


# ----------------------------------------------------------------------------- general route
class _Compiler:
    """Walks rows and objective with ``LinearRepnVisitor``; numbers columns in one pass."""

    def __init__(self) -> None:
        self.visitor = LinearRepnVisitor({})
        self.rows: list[Any] = []
        self.starts: list[int] = [0]
        self.ids: list[int] = []
        self.value: list[float] = []
        self.row_lb: list[float] = []
        self.row_ub: list[float] = []
        self.obj_ids: list[int] = []
        self.obj_value: list[float] = []
        self.offset = 0.0

    def add_row(self, con: Any) -> None:
        lb, body, ub = con.to_bounded_expression(evaluate_bounds=True)
        if lb is None and ub is None:
            return
        repn = self.visitor.walk_expression(body)
        if repn.nonlinear is not None:
            raise _error(f"constraint {con.name} is not linear; HiGHS takes (MI)LPs")
        linear = repn.linear
        self.ids.extend(linear.keys())
        self.value.extend(linear.values())
        self.starts.append(len(self.ids))
        const = float(repn.constant)
        inf = highspy.kHighsInf
        self.row_lb.append(-inf if lb is None else lb - const)
        self.row_ub.append(inf if ub is None else ub - const)
        self.rows.append(con)

    def set_objective(self, obj: Any) -> None:
        repn = self.visitor.walk_expression(obj.expr)
        if repn.nonlinear is not None:
            raise _error(f"objective {obj.name} is not linear; use handoff='pyomo'")
        self.obj_ids.extend(repn.linear.keys())
        self.obj_value.extend(repn.linear.values())
        self.offset = float(repn.constant)

    def arrays(self, obj: Any) -> _Arrays:
        order = dict.fromkeys(self.ids)
        order.update(dict.fromkeys(self.obj_ids))
        column_of = {vid: j for j, vid in enumerate(order)}
        var_map = self.visitor.var_map
        columns = [var_map[vid] for vid in order]
        index = np.fromiter(map(column_of.__getitem__, self.ids), np.int64, len(self.ids))
        cost = np.zeros(len(columns))
        if self.obj_ids:
            obj_cols = np.fromiter(map(column_of.__getitem__, self.obj_ids), np.int64)
            cost[obj_cols] = np.asarray(self.obj_value, dtype=np.float64)
        return _Arrays(
            rows=self.rows,
            columns=columns,
            starts=np.asarray(self.starts, dtype=np.int64),
            index=index,
            value=np.asarray(self.value, dtype=np.float64),
            row_lb=np.asarray(self.row_lb, dtype=np.float64),
            row_ub=np.asarray(self.row_ub, dtype=np.float64),
            cost=cost,
            offset=self.offset,
            sense=_sense(obj),
            objective_name=None if obj is None else obj.name,
        )


def _general(model: Any) -> _Arrays:
    comp = _Compiler()
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        comp.add_row(con)
    obj = _objective(model)
    if obj is not None:
        comp.set_objective(obj)
    return comp.arrays(obj)


# ----------------------------------------------------------------------------- fast route
def _valid_rows(con: Any, rec: RowsRecord) -> bool:
    datas = rec.datas
    return (
        len(con) == len(datas)
        and all(map(operator.is_, data_objects(con), datas))
        and all(map(operator.attrgetter("active"), datas))
        and rows_unchanged(datas, rec.exprs)
    )


class _Numbering:
    """One dense number per variable object: its Var component's offset + its position."""

    def __init__(self) -> None:
        self.lists: dict[int, Sequence[Any]] = {}  # id(Var component) -> data objects
        self.offsets: dict[int, int] = {}
        self.total = 0

    def dense(self, rec: RowsRecord) -> IntArray | None:
        """Per position of the record's variable list, the dense number (None: mismatch)."""
        parts = []
        for (comp, objs), size in zip(rec.segments, rec.sizes, strict=True):
            key = id(comp)
            known = self.lists.get(key)
            if known is None:
                self.lists[key] = objs
                self.offsets[key] = self.total
                self.total += size
            elif known is not objs and not (
                len(known) == size and all(map(operator.is_, known, objs))
            ):
                return None  # the component changed between two builds
            parts.append(np.arange(size, dtype=np.int64) + self.offsets[key])
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def objects(self) -> npt.NDArray[np.object_]:
        chain = itertools.chain.from_iterable(self.lists.values())
        return np.fromiter(chain, dtype=object, count=self.total)


def _canonical_row(ids: Sequence[int], vals: Sequence[float]) -> tuple[list[int], list[float]]:
    """What ``LinearRepnVisitor`` makes of one row's terms: sums in order, zeros dropped."""
    linear: dict[int, float] = {}
    for i, c in zip(ids, vals, strict=True):
        if i in linear:
            linear[i] += c
        elif c:
            linear[i] = c
    keep = [(i, c) for i, c in linear.items() if c]
    return [i for i, _ in keep], [c for _, c in keep]


def _canonical(
    starts: IntArray, dense: IntArray, vals: FloatArray, n_dense: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Rows with a zero or a repeated variable redone term by term; the others kept."""
    nrows = starts.size - 1
    counts = np.diff(starts)
    row = np.repeat(np.arange(nrows, dtype=np.int64), counts)
    bad = np.zeros(nrows, dtype=bool)
    zero = vals == 0
    if zero.any():
        bad[row[zero]] = True
    key = row * max(n_dense, 1) + dense
    if dense.size and pl.Series(key).n_unique() < key.size:
        order = np.argsort(key, kind="stable")
        dup = np.flatnonzero(np.diff(key[order]) == 0)
        bad[row[order[dup]]] = True
    if not bad.any():
        return starts, dense, vals
    keep = ~bad[row]
    new_dense, new_vals = [dense[keep]], [vals[keep]]
    new_counts = counts.copy()
    fixed_rows = []
    for r in np.flatnonzero(bad).tolist():
        a, b = int(starts[r]), int(starts[r + 1])
        ids, cs = _canonical_row(dense[a:b].tolist(), vals[a:b].tolist())
        new_counts[r] = len(ids)
        fixed_rows.append((r, ids, cs))
    # splice: entries of good rows keep their order; each bad row's new entries go where
    # the row starts
    out_starts = np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int64)
    out_dense = np.empty(int(out_starts[-1]), dtype=np.int64)
    out_vals = np.empty(int(out_starts[-1]), dtype=np.float64)
    good = np.repeat(~bad, new_counts)
    out_dense[good], out_vals[good] = new_dense[0], new_vals[0]
    for r, ids, cs in fixed_rows:
        a = int(out_starts[r])
        out_dense[a : a + len(ids)] = ids
        out_vals[a : a + len(ids)] = cs
    return out_starts, out_dense, out_vals


def _fast(model: Any) -> _Arrays | None:
    """The pre-compiled route, or ``None`` where the general route must run."""
    record = model_record(model, create=False)
    records = record.rows if record is not None else None
    if not records:
        return None
    obj = _objective(model)
    recs: list[RowsRecord] = []
    for con in model.component_objects(pyo.Constraint, active=True, descend_into=True):
        rec = records.get(id(con))
        if rec is None or rec.owner is not con or not _valid_rows(con, rec):
            log.debug("compile: general route (constraint %s not pre-compiled)", con.name)
            return None
        recs.append(rec)
    obj_rec = None
    if obj is not None:
        obj_rec = records.get(id(obj.expr))
        if obj_rec is None or obj_rec.owner is not obj.expr:
            log.debug("compile: general route (objective %s not pre-compiled)", obj.name)
            return None
    numbering = _Numbering()
    starts_parts, dense_parts, val_parts = [], [], []
    row_base = 0
    for rec in [*recs, *([obj_rec] if obj_rec is not None else [])]:
        shift = numbering.dense(rec)
        if shift is None:
            log.debug("compile: general route (a variable component changed)")
            return None
        starts_parts.append(rec.indptr[1:] + row_base)
        dense_parts.append(shift[rec.cols])
        val_parts.append(rec.vals)
        row_base += int(rec.indptr[-1])
    objects = numbering.objects()
    dense = np.concatenate(dense_parts) if dense_parts else np.zeros(0, np.int64)
    referenced = np.zeros(numbering.total, dtype=bool)
    referenced[dense] = True
    if any(map(operator.attrgetter("fixed"), objects[referenced])):
        log.debug("compile: general route (a variable is fixed)")
        return None
    starts = np.concatenate([[0], *starts_parts]).astype(np.int64)
    vals = np.concatenate(val_parts) if val_parts else np.zeros(0)
    starts, dense, vals = _canonical(starts, dense, vals, numbering.total)
    n_con_rows = sum(len(r.datas) for r in recs)
    n_con_entries = int(starts[n_con_rows])
    # columns in order of first appearance over the rows, then the objective
    first = np.full(numbering.total, dense.size, dtype=np.int64)
    np.minimum.at(first, dense, np.arange(dense.size, dtype=np.int64))
    is_first = np.zeros(dense.size, dtype=bool)
    is_first[first[first < dense.size]] = True
    order = dense[is_first]
    column = np.full(numbering.total, -1, dtype=np.int64)
    column[order] = np.arange(order.size, dtype=np.int64)
    index = column[dense]
    cost = np.zeros(order.size)
    offset = 0.0
    if obj_rec is not None:
        cost[index[n_con_entries:]] = vals[n_con_entries:]
        offset = float(obj_rec.constant)
    empty = np.zeros(0)
    return _Arrays(
        rows=[d for r in recs for d in r.datas],
        columns=objects[order].tolist(),
        starts=starts[: n_con_rows + 1],
        index=index[:n_con_entries],
        value=vals[:n_con_entries],
        row_lb=np.concatenate([empty, *(r.row_lb for r in recs if r.row_lb is not None)]),
        row_ub=np.concatenate([empty, *(r.row_ub for r in recs if r.row_ub is not None)]),
        cost=cost,
        offset=offset,
        sense=_sense(obj),
        objective_name=None if obj is None else obj.name,
    )


# ----------------------------------------------------------------------------- HiGHS arrays
def _column_arrays(columns: list[Any]) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    n = len(columns)
    inf = highspy.kHighsInf
    col_lb, col_ub = np.empty(n), np.empty(n)
    integer = np.zeros(n, dtype=bool)
    steps: dict[int, int] = {}
    for j, v in enumerate(columns):
        domain = v.domain
        step = steps.get(id(domain))
        if step is None:
            step = steps[id(domain)] = domain.get_interval()[2]
            if step not in (0, 1):
                raise _error(f"variable {v.name}: domain {domain} is not reals/integers")
        integer[j] = step == 1
        vlb, vub = v.bounds
        col_lb[j] = -inf if vlb is None else vlb
        col_ub[j] = inf if vub is None else vub
    return col_lb, col_ub, integer


def _plain_bounds(values: list[Any], fill: float) -> FloatArray | None:
    """Finite floats (``None`` -> ``fill``) as an array; ``None`` if any is anything else."""
    kinds = set(map(type, values))
    if not kinds <= {float, int, type(None)}:
        return None
    if int in kinds:  # any size of int, as NumPy converts it
        arr = np.array([fill if v is None else v for v in values], dtype=np.float64)
    else:  # floats and None only (checked above): the conversion turns None into null
        arr = pl.Series(values, dtype=pl.Float64, strict=False).fill_null(fill).to_numpy()
    if not np.isfinite(arr[arr != fill]).all():
        return None
    return arr


def _column_arrays_fast(
    columns: list[Any],
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """:func:`_column_arrays` for columns sharing one domain with plain-number bounds."""
    inf = highspy.kHighsInf
    if not columns:
        return _column_arrays(columns)
    try:
        domains = list(map(operator.attrgetter("_domain"), columns))
        lbs = list(map(operator.attrgetter("_lb"), columns))
        ubs = list(map(operator.attrgetter("_ub"), columns))
    except AttributeError:
        return _column_arrays(columns)
    domain = domains[0]
    if not all(map(operator.is_, domains, itertools.repeat(domain))):
        return _column_arrays(columns)
    if domain is None or domain.bounds() != (None, None):
        return _column_arrays(columns)
    step = domain.get_interval()[2]
    lb, ub = _plain_bounds(lbs, -inf), _plain_bounds(ubs, inf)
    if step not in (0, 1) or lb is None or ub is None:
        return _column_arrays(columns)
    return lb, ub, np.full(len(columns), step == 1)


def _highs_lp(a: _Arrays) -> tuple[Any, bool]:
    col_lb, col_ub, integer = _column_arrays_fast(a.columns)
    n, m = len(a.columns), len(a.rows)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = a.cost
    lp.col_lower_ = col_lb
    lp.col_upper_ = col_ub
    lp.row_lower_ = a.row_lb
    lp.row_upper_ = a.row_ub
    lp.offset_ = a.offset
    maximize = a.sense == "maximize"
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    index, value, starts = a.index, a.value, a.starts
    keep = value != 0
    if not keep.all():  # drop explicit zeros (e.g. a Param that is 0 in this scenario)
        row_of_entry = np.repeat(np.arange(m), np.diff(starts))
        counts = np.bincount(row_of_entry[keep], minlength=m)
        starts = np.concatenate([[0], np.cumsum(counts)])
        index, value = index[keep], value[keep]
    mat = lp.a_matrix_
    mat.format_ = highspy.MatrixFormat.kRowwise
    mat.num_col_ = n
    mat.num_row_ = m
    mat.start_ = starts.astype(np.int32)
    mat.index_ = index.astype(np.int32)
    mat.value_ = value
    is_mip = bool(integer.any())
    if is_mip:
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        lp.integrality_ = [kinds[int(f)] for f in integer]
    return lp, is_mip


def compile_model(model: Any) -> CompiledModel:
    """Compile the active parts of a linear Pyomo model into a ``highspy.HighsLp``.

    Uses the pre-compiled route when it applies (module docstring); both routes give the
    same arrays.

    Raises
    ------
    ModelBuildError
        Nonlinear terms, more than one active objective, or a variable domain that is
        neither continuous nor integer.
    """
    t0 = time.perf_counter()
    with PauseGC():
        arrays = _fast(model)
        if arrays is None:
            arrays = _general(model)
        lp, is_mip = _highs_lp(arrays)
        columns = tuple(arrays.columns)
        rows = tuple(arrays.rows)
        compiled = CompiledModel(
            lp=lp,
            columns=columns,
            rows=rows,
            column_of=IdPositions(columns),
            row_of=IdPositions(rows),
            sense=arrays.sense,
            objective_constant=arrays.offset,
            objective_name=arrays.objective_name,
            is_mip=is_mip,
            seconds=time.perf_counter() - t0,
        )
    return compiled
