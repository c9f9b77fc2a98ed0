r"""Linear rows and sums whose terms span several variable components, built in bulk.

One job: turn frames of linear terms into Pyomo rows and expressions without a Python
loop per term. A :class:`Terms` names terms :math:`coef_t\,v[keys(t)]` on one variable
component :math:`v`: a frame of row keys, the variable's keys and a coefficient (a column
or one number). From several of them

- :func:`add_rows` builds one constraint per row of a ``rows`` frame,
  :math:`lb_r \le \sum_{\text{parts}} \sum_{t:\,keys(t)=keys(r)} coef_t\,v[keys(t)] \le
  ub_r`, as CSR arrays handed to the bulk builders of :mod:`resilience.optimize.lp`
  (which keep them for :mod:`resilience.optimize.compile`);
- :func:`linear_sum` builds one flat expression :math:`c_0 + \sum_t coef_t\,v_t`
  (objective and epigraph terms).

Keys are joined strictly: a term whose row or variable key is unknown raises
:class:`~resilience.optimize.lp.ModelBuildError` naming it. Column positions of each
variable's index are cached on the model, and a part whose keys already are the rows (or
the variable's index) in order skips the join. The second stage
(:mod:`resilience.optimize.recourse`) and the models built on it (stress, coercion,
pooling) assemble their families with these.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from resilience.optimize.compile import data_objects
from resilience.optimize.lp import (
    ModelBuildError,
    _key_list,
    _linear,
    _register,
    _rows_from_arrays,
    index_frame,
    linear_expression,
)

__all__ = ["Terms", "add_rows", "linear_sum"]


@dataclass(frozen=True)
class Terms:
    """Linear terms on one variable component.

    ``frame`` holds the constraint (or row) key columns, the ``var_keys`` naming the
    variable, and ``coef`` (a column name or one number for all terms).
    """

    frame: pl.DataFrame
    var: Any
    var_keys: Sequence[str]
    coef: str | float = "coef"


_POSITIONS_ATTR = "_resilience_position_frames"


def _key_frame(var: Any, var_keys: Sequence[str]) -> pl.DataFrame:
    """Index of ``var`` with its column positions, cached on the model (indices never change)."""
    model = var.model()
    cache = getattr(model, _POSITIONS_ATTR, None)
    if cache is None:
        cache = {}
        setattr(model, _POSITIONS_ATTR, cache)
    frame = cache.get(var.name)
    if frame is None or frame.height != len(var):
        frame = index_frame(var).with_row_index("_col")
        cache[var.name] = frame
    return frame.rename(dict(zip(frame.columns[1:], var_keys, strict=True)))


def _same_rows(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Whether two key frames hold the same rows in the same order (no join needed)."""
    return a.height == b.height and a.schema == b.schema and a.equals(b)


def _positions(t: Terms, what: str) -> npt.NDArray[np.int64]:
    keys = _key_frame(t.var, t.var_keys)
    try:
        sel = t.frame.select(t.var_keys).cast({k: keys.schema[k] for k in t.var_keys})
    except pl.exceptions.PolarsError as exc:
        raise ModelBuildError(f"{what}: keys do not match {t.var.name!r}: {exc}") from exc
    if _same_rows(sel, keys.drop("_col")):  # terms on every variable in its own order
        return np.arange(sel.height, dtype=np.int64)
    joined = sel.join(keys, on=list(t.var_keys), how="left", maintain_order="left")
    unknown = joined.filter(pl.col("_col").is_null())
    if unknown.height:
        shown = unknown.select(t.var_keys).unique().head(5).rows()
        raise ModelBuildError(f"{what}: no variable {t.var.name!r} for keys {shown}")
    return joined["_col"].to_numpy().astype(np.int64)


def _coefs(t: Terms, what: str) -> npt.NDArray[np.float64]:
    if isinstance(t.coef, str):
        values = t.frame[t.coef].cast(pl.Float64).to_numpy()
    else:
        values = np.full(t.frame.height, float(t.coef))
    if not np.isfinite(values).all():
        raise ModelBuildError(f"{what}: missing or non-finite coefficient {t.coef!r}")
    return values


def _columns(
    parts: Sequence[Terms], what: str
) -> tuple[list[Any], list[Any], list[Any], list[tuple[Any, list[Any]]]]:
    """Global column and coefficient per term, and the variable list they index.

    Also returned: the whole Var components that list concatenates (for the hand-off).
    """
    offsets: dict[int, int] = {}
    segments: list[tuple[Any, list[Any]]] = []
    size = 0
    cols: list[Any] = []
    coefs: list[Any] = []
    for t in parts:
        if t.frame.height == 0:
            continue
        if id(t.var) not in offsets:
            offsets[id(t.var)] = size
            objs = data_objects(t.var)
            segments.append((t.var, objs))
            size += len(objs)
        cols.append(_positions(t, what) + offsets[id(t.var)])
        coefs.append(_coefs(t, what))
    variables = list(itertools.chain.from_iterable(objs for _, objs in segments))
    return variables, cols, coefs, segments


def add_rows(
    block: Any,
    name: str,
    rows: pl.DataFrame,
    keys: Sequence[str],
    parts: Sequence[Terms],
    *,
    lb: str | float | None = None,
    ub: str | float | None = None,
) -> Any:
    r"""One linear constraint per row of ``rows``, its terms on *several* variables.

    Row :math:`r` reads :math:`lb_r \le \sum_{\text{parts}} \sum_{t:\,keys(t)=keys(r)}
    coef_t\, var[var\_keys(t)] \le ub_r`. Terms are joined strictly: a term whose row or
    variable key is unknown raises :class:`~resilience.optimize.lp.ModelBuildError`. Built
    in bulk (CSR arrays into :func:`~resilience.optimize.lp.add_constraints_from_arrays`);
    the key column names are kept for result frames.
    """
    what = f"constraint {name!r}"
    keys = list(keys)
    if rows.select(keys).is_duplicated().any():
        raise ModelBuildError(f"{what}: duplicate row keys")
    row_pos = rows.select(keys).with_row_index("_row")
    row_parts: list[Any] = []
    for t in parts:
        if t.frame.height == 0:
            continue
        try:
            sel = t.frame.select(keys).cast({k: rows.schema[k] for k in keys})
        except pl.exceptions.PolarsError as exc:
            raise ModelBuildError(f"{what}: term keys do not match the rows: {exc}") from exc
        if _same_rows(sel, row_pos.drop("_row")):  # one term per row, in row order
            row_parts.append(np.arange(sel.height, dtype=np.int64))
            continue
        joined = sel.join(row_pos, on=keys, how="left", maintain_order="left")
        if joined["_row"].null_count():
            bad = joined.filter(pl.col("_row").is_null()).select(keys).unique().head(5).rows()
            raise ModelBuildError(f"{what}: terms for unknown rows {bad}")
        row_parts.append(joined["_row"].to_numpy().astype(np.int64))
    variables, col_parts, coef_parts, segments = _columns(parts, what)
    row_of = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
    col_of = np.concatenate(col_parts) if col_parts else np.zeros(0, np.int64)
    coef = np.concatenate(coef_parts) if coef_parts else np.zeros(0)
    order = np.argsort(row_of, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=rows.height))])

    def bound(b: str | float | None) -> Any:
        return rows[b].cast(pl.Float64).to_numpy() if isinstance(b, str) else b

    index = _key_list(rows, keys)
    con = _rows_from_arrays(
        block,
        name,
        index,
        indptr,
        col_of[order],
        coef[order],
        variables,
        bound(lb),
        bound(ub),
        segments,
    )
    _register(con, rows.select(keys))
    return con


def linear_sum(parts: Sequence[Terms], constant: float = 0.0) -> Any:
    """``constant + sum of coef * var`` over all parts as one flat linear expression."""
    variables, col_parts, coef_parts, segments = _columns(parts, "linear sum")
    if not col_parts:
        return linear_expression([], [], constant)
    cols = np.concatenate(col_parts)
    return _linear(np.concatenate(coef_parts), cols, variables, constant, segments)
