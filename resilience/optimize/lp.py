"""Bulk building of large linear models, and the fastest hand-off of a Pyomo model to HiGHS.

Model families build their Pyomo models here, from Polars frames or numpy arrays, one
whole indexed component at a time:

- :func:`add_variables` — one variable per row of an index frame (sparse: only the
  rows given, never a dense cross product), bounds from scalars or columns;
- :func:`add_constraints` — one constraint per row of a ``rows`` frame, its linear
  terms taken from a ``terms`` frame joined strictly on the keys (an unknown
  constraint or variable key raises :class:`ModelBuildError` naming it);
- :func:`add_constraints_from_arrays` — the same from CSR arrays;
- :func:`linear_expression` / :func:`expression_from_frame` — objective terms;
- :func:`build_lp_from_arrays` — a whole LP (``min/max c'x + c0`` subject to
  ``row_lb <= A x <= row_ub``, ``col_lb <= x <= col_ub``) as a Pyomo model.

and :func:`compile_model` (:mod:`resilience.optimize.compile`) turns any linear (MI)LP
Pyomo model into HiGHS arrays — for models built here, straight from the CSR arrays the
builders kept, as long as the model has not been changed since.

Expression route (measured)
---------------------------
Pyomo 6.10.1 on a 2-core VM shared with other jobs, building 50 000 rows of 4 nonzeros
over 100 000 variables: ``LinearExpression`` from ``MonomialTermExpression`` arguments
0.8 s; ``LinearExpression(linear_coefs=..., linear_vars=...)`` 0.9 s; ``sum(a * x ...)``
1.2 s; ``quicksum(..., linear=True)`` 3.2 s (and ``linear=`` is deprecated). The builders
here use the first, with three refinements measured on the 1 M-variable stress model of
``benchmarks/bench_stress.py`` (details in ``benchmarks/README.md``):

- a term with coefficient exactly 1 is the variable itself (``LinearExpression`` takes
  variables as terms): 81 % of that model's terms, whose row bodies then take 0.55 s
  and 87 MiB instead of 1.28 s and 274 MiB;
- Python's cycle collector is paused while the objects are made (``PauseGC``): it would
  otherwise walk every new object again and again (4 s of a 10 s build);
- index tuples share one ``str`` per distinct key value (155 instead of 312 MiB for
  600 000 keys of five strings, and 0.5 s faster to build the variables).

Rows built from CSR arrays make that expression only when something reads it
(:class:`resilience.optimize.lp_record.LazyRowData`: the same expression a rule would
give, made on first read); the pre-compiled hand-off reads the arrays instead, so a model
that is only solved never makes them (on the 1 M-column market LP of
``benchmarks/bench_core_scale.py``, 0.84 -> 0.2 s of CPU for its three row families).

Hand-off route (measured)
-------------------------
The same LP, after the Pyomo model exists (seconds; ranges over repeated runs):

==================================================================  =========
route                                                               seconds
==================================================================  =========
``pyomo.contrib.solver`` ``highs``: ``set_instance`` + first update  6.4-8.2
``appsi_highs`` ``set_instance``                                    6.4
:func:`compile_model` (``LinearRepnVisitor`` walk) + ``passModel``  0.9-1.3
the same CSR arrays straight into ``highspy`` ``passModel``         0.04-0.06
==================================================================  =========

(Since then :func:`compile_model` reuses the builders' CSR arrays instead of walking the
expressions: on the 1 M-variable stress model 1.4-2.4 s against 9-10 s for the walk.)

The HiGHS solve itself took 1.8-2.9 s (one thread). End to end: CSR arrays straight into
highspy 2.1-2.5 s; :func:`build_lp_from_arrays` (1.8-2.2 s) + ``solve(handoff="direct")``
5.0-6.4 s; the same with ``handoff="pyomo"`` 11-12 s. Pyomo's own standard-form compiler
(``pyomo.repn.plugins.standard_form``) uses the same visitor but needs scipy, which this
project does not depend on. :func:`compile_model` is therefore the default hand-off of
:func:`resilience.optimize.solve.solve`; the persistent Pyomo interface pays only when
one model is re-solved many times after changing mutable parameters (numbers in
:mod:`resilience.optimize.solve`).

Compilation conventions
-----------------------
- one HiGHS row per active ``ConstraintData`` with at least one finite bound, as a
  ranged row ``lb <= body - constant <= ub`` (constants move to the bounds, as Pyomo
  does); rows whose body has no variables are kept, so that an impossible one
  (e.g. ``0 >= 100`` when no supplier can deliver) is reported by HiGHS and named in
  an infeasibility explanation;
- one column per unfixed variable that appears in an active constraint or the
  objective (numbered in order of first appearance); fixed variables are constants;
  explicit zero coefficients are dropped;
- the objective constant is HiGHS's ``offset_``: objective values *include* it.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.core.expr.relational_expr import EqualityExpression

from resilience.optimize.compile import (
    CompiledModel,
    compile_model,
    data_objects,
    register_expression,
    register_rows,
)
from resilience.optimize.lp_keys import (
    MAX_LISTED,
    ModelBuildError,
    check_keys,
    fmt_keys,
    key_list,
)
from resilience.optimize.lp_record import (
    ModelRecord,
    fill_lazy_rows,
    model_record,
    set_var_bounds,
    stored_data,
)

__all__ = [
    "CompiledModel",
    "ModelBuildError",
    "add_constraints",
    "add_constraints_from_arrays",
    "add_variables",
    "build_lp_from_arrays",
    "compile_model",
    "csc_to_csr",
    "expression_from_frame",
    "index_frame",
    "index_names",
    "linear_expression",
]

log = logging.getLogger(__name__)

Domain = Literal["continuous", "integer", "binary"]
Bound = float | str | None
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DOMAINS = {"continuous": pyo.Reals, "integer": pyo.Integers, "binary": pyo.Binary}


# ----------------------------------------------------------------------------- index names
def _record(component: Any) -> ModelRecord:
    record = model_record(component.model())
    assert record is not None  # created on first use
    return record


def _register(component: Any, keys: pl.DataFrame) -> None:
    """Remember the key frame ``component`` was built from, row for row.

    :func:`index_frame` hands the frame back as long as the component still holds the
    same index objects in the same order (checked by identity, without rebuilding keys).
    """
    record = _record(component)
    record.index_frames[component.name] = keys
    record.index_owners[component.name] = (component, list(stored_data(component) or ()))


def _registered_frame(component: Any) -> pl.DataFrame | None:
    """The registered key frame, if it still describes ``component.keys()`` exactly."""
    record = _record(component)
    frame = record.index_frames.get(component.name)
    owner = record.index_owners.get(component.name)
    if frame is None or owner is None or owner[0] is not component:
        return None
    data, keys = stored_data(component), owner[1]
    if data is None or frame.height != len(keys) or len(data) != len(keys):
        return None
    iset = component.index_set()
    same = all(map(operator.is_, data, keys)) and len(iset) == len(keys)
    return frame if same and all(map(operator.is_, data, iset)) else None


def index_names(component: Any) -> list[str]:
    """Names of the index columns of an indexed Pyomo component.

    Components built here carry the key column names they were built from; otherwise the
    names of the declared one-dimensional sets they are indexed by (``m.x = Var(m.M, m.C)``
    gives ``["M", "C"]``); otherwise ``index`` / ``index_0, index_1, ...``. A scalar
    component has no index columns.
    """
    if not component.is_indexed():
        return []
    registered = _record(component).index_frames.get(component.name)
    if registered is not None:
        return list(registered.columns)
    iset = component.index_set()
    subsets = list(iset.subsets())
    names = [s.local_name for s in subsets]
    declared = all(
        s.dimen == 1
        and s.parent_block() is not None
        and s.parent_block().component(s.local_name) is s
        for s in subsets
    )
    if declared and len(set(names)) == len(names):
        return names
    dimen = iset.dimen
    if dimen == 1 or not isinstance(dimen, int):
        return ["index"]
    return [f"index_{i}" for i in range(dimen)]


def index_frame(component: Any) -> pl.DataFrame:
    """The index of ``component`` as a frame of key columns, in component order.

    Dtypes follow the frame a component built here came from; mixed types become strings.
    """
    names = index_names(component)
    if not names:
        return pl.DataFrame()
    registered_frame = _registered_frame(component)
    if registered_frame is not None:
        return registered_frame
    keys = list(component.keys())
    columns: list[Sequence[Any]] = [keys] if len(names) == 1 else list(zip(*keys, strict=True))
    if not columns:
        columns = [[] for _ in names]
    series = []
    for name, values in zip(names, columns, strict=True):
        try:
            series.append(pl.Series(name, list(values)))
        except (TypeError, pl.exceptions.PolarsError):
            series.append(pl.Series(name, [str(v) for v in values], dtype=pl.String))
    frame = pl.DataFrame(series)
    registered = _record(component).index_frames.get(component.name)
    if registered is not None and registered.columns == frame.columns:
        frame = frame.cast(registered.schema, strict=False)
    return frame


# ----------------------------------------------------------------------------- helpers
def _bound_values(
    frame: pl.DataFrame | None, bound: str | float | npt.ArrayLike, n: int, what: str
) -> FloatArray:
    """Bounds as floats; NaN marks a null in a bound column (no bound). NaN values raise."""
    if isinstance(bound, str):
        if frame is None or bound not in frame.columns:
            raise ModelBuildError(f"{what}: bound column {bound!r} not found")
        col = frame.get_column(bound).cast(pl.Float64)
        if col.is_nan().any():
            raise ModelBuildError(f"{what}: NaN in bound column {bound!r}")
        return col.to_numpy()
    if np.isscalar(bound):
        values = np.full(n, float(bound))  # type: ignore[arg-type]
    else:
        values = np.asarray(bound, dtype=np.float64)
        if values.shape != (n,):
            raise ModelBuildError(f"{what}: {values.shape[0]} bounds for {n} rows")
    if np.isnan(values).any():
        raise ModelBuildError(f"{what}: NaN bound")
    return values


def _bounds(
    frame: pl.DataFrame | None, bound: Bound | npt.ArrayLike, n: int, lower: bool, what: str
) -> list[float | None]:
    """Per-row bounds: ``None`` = no bound (``None``, null, or infinite in its direction)."""
    if bound is None:
        return [None] * n
    values = _bound_values(frame, bound, n, what)
    wrong_inf = values == (math.inf if lower else -math.inf)
    if wrong_inf.any():
        side = "lower" if lower else "upper"
        raise ModelBuildError(f"{what}: {side} bound of {values[wrong_inf][0]}")
    out: list[float | None] = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)):
        out[i] = None
    return out


# ----------------------------------------------------------------------------- variables
def add_variables(
    block: Any,
    name: str,
    index: pl.DataFrame,
    *,
    keys: Sequence[str] | None = None,
    lb: Bound = 0.0,
    ub: Bound = None,
    domain: Domain = "continuous",
) -> Any:
    """Add one variable per row of ``index`` as ``block.<name>[key...]``.

    Parameters
    ----------
    block
        Pyomo block (or model) to add the component to.
    name
        Component name (greppable: the model families use the names of their math).
    index
        One row per variable; only these keys exist (sparse).
    keys
        Key columns; default all columns not named by ``lb``/``ub``.
    lb, ub
        A number, ``None`` (unbounded), or the name of a column of ``index`` (null =
        unbounded in that direction).
    domain
        ``"continuous"``, ``"integer"`` or ``"binary"``.

    The new ``Var`` is returned; its key column names are remembered for result frames.
    """
    if domain not in _DOMAINS:
        raise ModelBuildError(f"variable {name!r}: unknown domain {domain!r}")
    bound_cols = {b for b in (lb, ub) if isinstance(b, str)}
    keys = list(keys) if keys is not None else [c for c in index.columns if c not in bound_cols]
    what = f"variable {name!r}"
    check_keys(index, keys, what)
    scalar_bounds = not isinstance(lb, str) and not isinstance(ub, str)
    scalar_lb = not isinstance(lb, str)
    with PauseGC():  # millions of new objects: no use looking for cycles among them
        idx = key_list(index, keys)
        lbs = _bounds(index, lb, index.height, True, what)
        ubs = _bounds(index, ub, index.height, False, what)
        var = pyo.Var(
            pyo.SetOf(idx),  # the checked keys as they are: no per-key Set insertion
            domain=_DOMAINS[domain],
            dense=True,
            bounds=(
                lbs[0] if scalar_lb and idx else None,
                ubs[0] if scalar_bounds and idx else None,
            ),
        )
        block.add_component(name, var)
        if not scalar_bounds:
            datas = data_objects(var)
            if not scalar_lb:
                set_var_bounds(datas, lbs, "lower")
            if isinstance(ub, str):
                set_var_bounds(datas, ubs, "upper")
        _register(var, index.select(keys))
    return var


# ----------------------------------------------------------------------------- expressions
def linear_expression(
    coefs: npt.ArrayLike,
    variables: Sequence[Any],
    constant: float = 0.0,
    *,
    cols: npt.ArrayLike | None = None,
) -> LinearExpression:
    """``constant + sum(coefs[i] * variables[i])`` as one flat ``LinearExpression``.

    With ``cols``, ``constant + sum(coefs[k] * variables[cols[k]])``: only the variables
    named (e.g. those with a nonzero cost), ``variables`` still being whole Var
    components in a row so that the expression is registered for the hand-off.
    """
    cf = np.asarray(coefs, dtype=np.float64)
    if cols is None:
        if cf.shape != (len(variables),):
            raise ModelBuildError(f"{cf.shape[0]} coefficients for {len(variables)} variables")
        return _linear(cf, np.arange(cf.size, dtype=np.int64), variables, constant)
    cl = np.asarray(cols, dtype=np.int64)
    if cf.shape != cl.shape or cf.ndim != 1:
        raise ModelBuildError(f"{cf.size} coefficients for {cl.size} column positions")
    if cl.size and (cl.min() < 0 or cl.max() >= len(variables)):
        raise ModelBuildError(f"column position out of range 0..{len(variables) - 1}")
    return _linear(cf, cl, variables, constant)


def _linear(
    coefs: FloatArray,
    cols: IntArray,
    variables: Sequence[Any],
    constant: float = 0.0,
    segments: Sequence[tuple[Any, Sequence[Any]]] | None = None,
) -> LinearExpression:
    """``constant + sum(coefs[k] * variables[cols[k]])``, registered for the hand-off.

    ``segments``: the whole Var components ``variables`` concatenates, if known
    (:func:`resilience.optimize.compile.register_expression`).
    """
    if not np.isfinite(coefs).all() or not math.isfinite(constant):
        raise ModelBuildError("non-finite coefficient in a linear expression")
    coefs, cols = coefs.copy(), cols.copy()  # kept for the hand-off: the caller's may change
    with PauseGC():
        args: list[Any] = [float(constant)] if constant else []
        chosen = map(variables.__getitem__, cols.tolist())
        args.extend(map(MonomialTermExpression, zip(coefs.tolist(), chosen, strict=True)))
        expr = LinearExpression(args)
        register_expression(expr, cols, coefs, variables, float(constant), segments)
    return expr


def _positions(
    var: Any, var_keys: Sequence[str], terms: pl.DataFrame, what: str
) -> npt.NDArray[np.int64]:
    """Position (in ``var.values()`` order) of the variable named by each terms row."""
    key_frame = index_frame(var).rename(dict(zip(index_names(var), var_keys, strict=True)))
    key_frame = key_frame.with_row_index("_col")
    t = terms.select(var_keys)
    try:
        t = t.cast({k: key_frame.schema[k] for k in var_keys})
    except pl.exceptions.PolarsError as exc:
        raise ModelBuildError(f"{what}: variable keys do not match {var.name!r}: {exc}") from exc
    joined = t.join(key_frame, on=list(var_keys), how="left", maintain_order="left")
    unknown = joined.filter(pl.col("_col").is_null()).unique(var_keys, maintain_order=True)
    if unknown.height:
        raise ModelBuildError(
            f"{what}: no variable {var.name!r} for keys {fmt_keys(unknown, var_keys)}"
        )
    return joined.get_column("_col").to_numpy().astype(np.int64)


def _coefs(terms: pl.DataFrame, coef: str | float, what: str) -> FloatArray:
    if isinstance(coef, str):
        if coef not in terms.columns:
            raise ModelBuildError(f"{what}: coefficient column {coef!r} not in {terms.columns}")
        values = terms.get_column(coef).cast(pl.Float64).to_numpy()
    else:
        values = np.full(terms.height, float(coef))
    if not np.isfinite(values).all():
        raise ModelBuildError(f"{what}: missing or non-finite coefficient in column {coef!r}")
    return values


def expression_from_frame(
    terms: pl.DataFrame,
    var: Any,
    var_keys: Sequence[str],
    coef: str | float = "coef",
    constant: float = 0.0,
) -> LinearExpression:
    """``constant + sum over rows of coef * var[keys]`` (e.g. an objective from a cost frame)."""
    what = f"expression over {var.name!r}"
    cols = _positions(var, var_keys, terms, what)
    values = data_objects(var)
    return _linear(_coefs(terms, coef, what), cols, values, constant, [(var, values)])


# ----------------------------------------------------------------------------- constraints
def add_constraints_from_arrays(
    block: Any,
    name: str,
    index: Sequence[Hashable],
    indptr: npt.ArrayLike,
    cols: npt.ArrayLike,
    coefs: npt.ArrayLike,
    variables: Sequence[Any],
    lb: npt.ArrayLike | float | None,
    ub: npt.ArrayLike | float | None,
) -> Any:
    """Add ``lb[i] <= sum_k coefs[k] * variables[cols[k]] <= ub[i]`` for rows ``i`` (CSR).

    Parameters
    ----------
    block, name
        Where the ``Constraint`` component goes, and its name.
    index
        One key per row (scalars or tuples), in row order.
    indptr, cols, coefs
        CSR arrays: row ``i`` has entries ``indptr[i]:indptr[i + 1]``.
    variables
        The variables ``cols`` refers to (e.g. ``list(m.x.values())``).
    lb, ub
        Per-row arrays or scalars; ``None``/infinite means no bound. ``lb == ub`` gives an
        equality. A row with neither bound is an error.
    """
    return _rows_from_arrays(block, name, index, indptr, cols, coefs, variables, lb, ub)


def _terms(coefs: FloatArray, cols: IntArray, variables: Sequence[Any]) -> list[Any]:
    """The terms ``coefs[k] * variables[cols[k]]`` as ``LinearExpression`` arguments.

    A coefficient of exactly 1 gives the variable itself (``LinearExpression`` takes
    variables as terms of coefficient 1), any other a ``MonomialTermExpression``; the lists
    are built by ``map`` in C, and only the other terms are visited in Python.
    """
    terms: list[Any] = list(map(variables.__getitem__, cols.tolist()))
    other = np.flatnonzero(coefs != 1.0).tolist()
    if other:
        picked = [terms[k] for k in other]
        monos = map(MonomialTermExpression, zip(coefs[other].tolist(), picked, strict=True))
        for k, mono in zip(other, monos, strict=True):
            terms[k] = mono
    return terms


def _check_csr(what: str, n: int, ip: IntArray, cl: IntArray, cf: FloatArray, n_vars: int) -> None:
    """CSR arrays of ``n`` rows over ``n_vars`` variables, or :class:`ModelBuildError`."""
    if ip.shape != (n + 1,) or ip[0] != 0 or (np.diff(ip) < 0).any() or ip[-1] != cl.size:
        raise ModelBuildError(f"{what}: indptr must rise from 0 to len(cols) over {n} rows")
    if cf.shape != cl.shape:
        raise ModelBuildError(f"{what}: {cf.size} coefficients for {cl.size} entries")
    if cl.size and (cl.min() < 0 or cl.max() >= n_vars):
        raise ModelBuildError(f"{what}: column index out of range 0..{n_vars - 1}")
    if not np.isfinite(cf).all():
        raise ModelBuildError(f"{what}: non-finite coefficient")


class _RowMaker:
    """``maker(i)``: row ``i``'s expression as a rule would give it (made on first use).

    A class, not a closure, so that a model holding lazy rows can be pickled.
    """

    __slots__ = ("cf", "cl", "ipl", "lbs", "ubs", "variables")

    def __init__(
        self,
        ip: IntArray,
        cl: IntArray,
        cf: FloatArray,
        variables: Sequence[Any],
        lbs: list[float | None],
        ubs: list[float | None],
    ) -> None:
        self.ipl: list[int] = ip.tolist()
        self.cl, self.cf, self.variables, self.lbs, self.ubs = cl, cf, variables, lbs, ubs

    def __call__(self, i: int) -> Any:
        a, b = self.ipl[i], self.ipl[i + 1]
        body = LinearExpression(_terms(self.cf[a:b], self.cl[a:b], self.variables))
        lo, hi = self.lbs[i], self.ubs[i]
        if lo is not None and lo == hi:
            return EqualityExpression((body, lo))  # what ``body == lo`` gives
        return (lo, body, hi)


def _rows_from_arrays(
    block: Any,
    name: str,
    index: Sequence[Hashable],
    indptr: npt.ArrayLike,
    cols: npt.ArrayLike,
    coefs: npt.ArrayLike,
    variables: Sequence[Any],
    lb: npt.ArrayLike | float | None,
    ub: npt.ArrayLike | float | None,
    segments: Sequence[tuple[Any, Sequence[Any]]] | None = None,
) -> Any:
    """:func:`add_constraints_from_arrays`, registering the arrays for the hand-off.

    ``segments``: the whole Var components ``variables`` concatenates, if known.
    """
    what = f"constraint {name!r}"
    n = len(index)
    # copies: kept for the hand-off, and the caller's arrays may change afterwards
    ip = np.array(indptr, dtype=np.int64)
    cl = np.array(cols, dtype=np.int64)
    cf = np.array(coefs, dtype=np.float64)
    _check_csr(what, n, ip, cl, cf, len(variables))
    lbs = _bounds(None, lb, n, True, what)
    ubs = _bounds(None, ub, n, False, what)
    free = [key for key, lo, hi in zip(index, lbs, ubs, strict=True) if lo is None and hi is None]
    if free:
        raise ModelBuildError(f"{what}: rows without any bound: {free[:MAX_LISTED]!r}")
    if log.isEnabledFor(logging.DEBUG):
        for i in np.flatnonzero(np.diff(ip) == 0).tolist():
            key = index[i]
            log.debug("%s[%r] has no variables: it holds only if its bounds allow 0", name, key)
    make = _RowMaker(ip, cl, cf, variables, lbs, ubs)
    with PauseGC():  # many new objects: no use looking for cycles among them
        keys = list(index)
        con = pyo.Constraint(pyo.SetOf(keys))  # the keys as they are, as for variables
        block.add_component(name, con)
        try:
            fill_lazy_rows(con, keys, make)
        except ValueError as exc:
            block.del_component(con)
            raise ModelBuildError(f"{what}: {exc}") from exc
        inf = math.inf
        row_lb = np.array([-inf if v is None else v for v in lbs], dtype=np.float64)
        row_ub = np.array([inf if v is None else v for v in ubs], dtype=np.float64)
        register_rows(con, ip, cl, cf, variables, row_lb, row_ub, segments)
    return con


def add_constraints(
    block: Any,
    name: str,
    rows: pl.DataFrame,
    *,
    keys: Sequence[str],
    terms: pl.DataFrame,
    var: Any,
    var_keys: Sequence[str],
    coef: str | float = "coef",
    lb: Bound = None,
    ub: Bound = None,
) -> Any:
    r"""Add one linear constraint per row of ``rows``; terms come from ``terms``.

    Row :math:`r` reads :math:`lb_r \le \sum_{t:\,keys(t) = keys(r)} coef_t\,
    var[var\_keys(t)] \le ub_r`.

    Parameters
    ----------
    block, name
        Where the ``Constraint`` component goes, and its name.
    rows
        One row per constraint: key columns plus optional bound columns.
    keys
        Constraint key columns (in ``rows`` and in ``terms``).
    terms
        Linear terms: ``keys`` + ``var_keys`` + a coefficient column. Duplicate
        (constraint, variable) pairs are summed by the solver hand-off.
    var
        The indexed variable the terms refer to.
    var_keys
        Columns of ``terms`` naming the variable index, in the variable's index order.
    coef
        Coefficient column of ``terms``, or one number for all terms.
    lb, ub
        Bound: number, ``None`` or column of ``rows`` (null = no bound). The same column
        for both gives equalities.

    Raises :class:`ModelBuildError` for duplicate or missing constraint keys, terms whose
    constraint or variable key is unknown (listing them), bad coefficients, unbounded rows.
    """
    keys = list(keys)
    what = f"constraint {name!r}"
    check_keys(rows, keys, what)
    missing = [k for k in [*keys, *var_keys] if k not in terms.columns]
    if missing:
        raise ModelBuildError(f"{what}: terms lack column(s) {missing}")
    row_pos = rows.select(keys).with_row_index("_row")
    try:
        t = terms.select(keys).cast({k: rows.schema[k] for k in keys})
    except pl.exceptions.PolarsError as exc:
        raise ModelBuildError(f"{what}: term keys do not match the rows: {exc}") from exc
    joined = t.join(row_pos, on=keys, how="left", maintain_order="left")
    unknown = joined.filter(pl.col("_row").is_null()).unique(keys, maintain_order=True)
    if unknown.height:
        raise ModelBuildError(
            f"{what}: terms for unknown constraint keys {fmt_keys(unknown, keys)}"
        )
    row_of_term = joined.get_column("_row").to_numpy().astype(np.int64)
    col_of_term = _positions(var, var_keys, terms, what)
    values = _coefs(terms, coef, what)
    order = np.argsort(row_of_term, kind="stable")
    counts = np.bincount(row_of_term, minlength=rows.height)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    variables = data_objects(var)
    con = _rows_from_arrays(
        block,
        name,
        key_list(rows, keys),
        indptr,
        col_of_term[order],
        values[order],
        variables,
        _bound_array(rows, lb, True, what),
        _bound_array(rows, ub, False, what),
        [(var, variables)],
    )
    _register(con, rows.select(keys))
    return con


def _bound_array(frame: pl.DataFrame, bound: Bound, lower: bool, what: str) -> FloatArray | None:
    if bound is None:
        return None
    values = _bounds(frame, bound, frame.height, lower, what)
    fill = -math.inf if lower else math.inf
    return np.array([fill if v is None else v for v in values], dtype=np.float64)


# ----------------------------------------------------------------------------- whole LPs
def csc_to_csr(
    start: npt.ArrayLike, index: npt.ArrayLike, value: npt.ArrayLike, num_row: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Column-wise (CSC, as ``highspy`` ``getLp().a_matrix_`` holds it) to row-wise arrays."""
    st = np.asarray(start, dtype=np.int64)
    ix = np.asarray(index, dtype=np.int64)
    vals = np.asarray(value, dtype=np.float64)
    cols = np.repeat(np.arange(st.size - 1, dtype=np.int64), np.diff(st))
    order = np.lexsort((cols, ix))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ix, minlength=num_row))]).astype(np.int64)
    return indptr, cols[order], vals[order]


def build_lp_from_arrays(
    c: npt.ArrayLike,
    A_csr: Any,  # noqa: N803 - the matrix is called A everywhere in LP texts
    row_lb: npt.ArrayLike,
    row_ub: npt.ArrayLike,
    col_lb: npt.ArrayLike,
    col_ub: npt.ArrayLike,
    obj_constant: float = 0.0,
    sense: Literal["minimize", "maximize"] = "minimize",
    names: tuple[Sequence[str], Sequence[str]] | None = None,
    integrality: npt.ArrayLike | None = None,
) -> pyo.ConcreteModel:
    """Build ``min/max c'x + obj_constant s.t. row_lb <= A x <= row_ub, col_lb <= x <= col_ub``.

    Parameters
    ----------
    c
        Objective coefficients, one per column.
    A_csr
        ``(indptr, indices, data)`` row-wise arrays, or an object with those attributes
        (a scipy CSR matrix).
    row_lb, row_ub, col_lb, col_ub
        Bounds; ``±inf`` means none. Rows free on both sides are left out.
    obj_constant
        Objective constant; objective values reported by :mod:`.solve` include it.
    sense
        ``"minimize"`` or ``"maximize"``.
    names
        ``(column names, row names)`` used as the indices of ``x`` and ``rows``;
        default ``0..n-1`` and ``0..m-1``.
    integrality
        Optional per-column flags (nonzero = integer).

    Returns
    -------
    ConcreteModel
        With components ``x`` (variables), ``rows`` (constraints) and ``objective``.
    """
    if isinstance(A_csr, tuple):
        indptr, indices, data = A_csr
    else:
        indptr, indices, data = A_csr.indptr, A_csr.indices, A_csr.data
    cost = np.asarray(c, dtype=np.float64)
    n = cost.size
    rlb = np.asarray(row_lb, dtype=np.float64)
    rub = np.asarray(row_ub, dtype=np.float64)
    col_names: list[Any] = list(names[0]) if names else list(range(n))
    row_names: list[Any] = list(names[1]) if names else list(range(rlb.size))
    if len(col_names) != n or len(row_names) != rlb.size:
        raise ModelBuildError("names must give one name per column and per row")
    m = pyo.ConcreteModel()
    cols = pl.DataFrame(
        {
            "column": col_names,
            "lb": np.asarray(col_lb, dtype=np.float64),
            "ub": np.asarray(col_ub, dtype=np.float64),
        }
    )
    x = add_variables(m, "x", cols, keys=["column"], lb="lb", ub="ub")
    if integrality is not None:
        for vd, flag in zip(data_objects(x), np.asarray(integrality).tolist(), strict=True):
            if flag:
                vd.domain = pyo.Integers
    ip = np.asarray(indptr, dtype=np.int64)
    keep = ~(np.isneginf(rlb) & np.isposinf(rub))
    if not keep.all():
        log.debug("build_lp_from_arrays: leaving out %d free rows", int((~keep).sum()))
        counts = np.diff(ip)
        sel = np.repeat(keep, counts)
        indices = np.asarray(indices)[sel]
        data = np.asarray(data)[sel]
        ip = np.concatenate([[0], np.cumsum(counts[keep])])
        row_names = [r for r, k in zip(row_names, keep.tolist(), strict=True) if k]
        rlb, rub = rlb[keep], rub[keep]
    xs = data_objects(x)
    segments = [(x, xs)]
    _rows_from_arrays(m, "rows", row_names, ip, indices, data, xs, rlb, rub, segments)
    expr = _linear(cost, np.arange(n, dtype=np.int64), xs, float(obj_constant), segments)
    m.objective = pyo.Objective(
        expr=expr, sense=pyo.maximize if sense == "maximize" else pyo.minimize
    )
    return m
