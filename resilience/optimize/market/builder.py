r"""Assemble the market LP from frames: :class:`MarketBuilder`.

One job: collect, per constraint family, the linear terms every module contributes
(each term names its row by key columns and its variable by the variable's own key
columns), then build each family as ONE Pyomo component from CSR arrays
(:func:`resilience.optimize.lp.add_constraints_from_arrays`) and the objective as ONE
registered linear expression (:func:`resilience.optimize.lp.linear_expression`), so the
hand-off to HiGHS takes the pre-compiled route. Only rows and terms that exist are built
(sparse joins on keys, never dense cross products).

Model families reach the LP through the same builder (the first-stage hook of
:func:`resilience.optimize.market.core.build_market`): they add variables, rows, terms in
existing rows (e.g. the stock balance) and objective terms before :meth:`finish`.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from resilience.optimize.compile import data_objects
from resilience.optimize.lp import (
    ModelBuildError,
    add_constraints_from_arrays,
    add_variables,
    index_frame,
    linear_expression,
)

__all__ = ["MarketBuilder", "RowFamily"]


@dataclass
class RowFamily:
    """One constraint family: its rows (keys + ``lb``/``ub``), terms, and explanation."""

    name: str
    keys: list[str]
    rows: pl.DataFrame
    explanation: str
    terms: list[tuple[Any, pl.DataFrame, list[str]]] = field(default_factory=list)


class MarketBuilder:
    """Collects variables, constraint rows, terms and objective terms, then builds.

    Parameters
    ----------
    name
        Name of the Pyomo model.
    """

    def __init__(self, name: str = "market") -> None:
        self.model = pyo.ConcreteModel(name=name)
        self.variables: dict[str, Any] = {}
        self.families: dict[str, RowFamily] = {}
        self._objective: list[tuple[Any, pl.DataFrame, list[str]]] = []
        self._finished = False
        # per id(Var) made here: (the Var, its key frame as built); read by finish()
        self._keys: dict[int, tuple[Any, pl.DataFrame]] = {}
        self._datas: dict[int, list[Any]] = {}  # per id(Var): its data objects, in finish()

    # -- variables
    def add_variables(
        self, name: str, index: pl.DataFrame, keys: Sequence[str], ub: str | None = None
    ) -> Any:
        """Non-negative variables ``name[keys]``, one per row of ``index``; ``ub`` a column."""
        self._open()
        var = add_variables(self.model, name, index, keys=list(keys), lb=0.0, ub=ub)
        self.variables[name] = var
        self._keys[id(var)] = (var, index.select(keys))
        return var

    def index(self, name: str) -> pl.DataFrame:
        """Key frame of variable ``name`` (in variable order): the handle families join on."""
        return index_frame(self.variables[name])

    # -- rows and terms
    def add_rows(
        self,
        name: str,
        rows: pl.DataFrame,
        keys: Sequence[str],
        explanation: str,
    ) -> None:
        """Declare constraint family ``name``: ``lb <= sum of its terms <= ub`` per row.

        ``rows`` holds ``keys`` and Float64 columns ``lb`` and ``ub`` (null: no bound);
        ``explanation`` is the sentence shown when this family makes a run infeasible
        (``{index}`` is replaced by the row's keys).
        """
        self._open()
        if name in self.families:
            raise ModelBuildError(f"constraint family {name!r} declared twice")
        if not explanation.strip():
            raise ModelBuildError(f"constraint family {name!r} needs an explanation")
        fields = {f for _, f, _, _ in string.Formatter().parse(explanation) if f is not None}
        unknown = sorted(fields - set(keys))
        if unknown:
            raise ModelBuildError(
                f"constraint family {name!r}: the explanation names {unknown}, not row keys {keys}"
            )
        missing = [c for c in [*keys, "lb", "ub"] if c not in rows.columns]
        if missing:
            raise ModelBuildError(f"constraint family {name!r}: rows lack {missing}")
        self.families[name] = RowFamily(name, list(keys), rows, explanation)

    def add_terms(
        self, family: str, var: Any, terms: pl.DataFrame, var_keys: Sequence[str]
    ) -> None:
        """Add ``coef * var[var_keys]`` to the rows of ``family`` named by its key columns.

        ``terms`` holds the family's key columns, ``var_keys`` (the variable's key
        columns, in its order) and ``coef``.
        """
        self._open()
        if family not in self.families:
            raise ModelBuildError(f"terms for undeclared constraint family {family!r}")
        self.families[family].terms.append((var, terms, list(var_keys)))

    def add_objective(self, var: Any, terms: pl.DataFrame, var_keys: Sequence[str]) -> None:
        """Add ``sum coef * var[var_keys]`` to the objective (maximised welfare, USD)."""
        self._open()
        self._objective.append((var, terms, list(var_keys)))

    # -- build
    def finish(self) -> dict[str, Any]:
        """Build every constraint family and the objective; return ``{family: component}``."""
        self._open()
        with PauseGC():  # millions of new objects: no use looking for cycles among them
            try:
                built = {name: self._build_family(fam) for name, fam in self.families.items()}
                self._build_objective()
            finally:
                self._datas.clear()
        self._finished = True
        return built

    def _open(self) -> None:
        if self._finished:
            raise ModelBuildError("the market model is already built")

    def _segments(
        self, parts: Sequence[tuple[Any, pl.DataFrame, list[str]]], what: str
    ) -> tuple[list[Any], list[np.ndarray[Any, Any]], list[np.ndarray[Any, Any]]]:
        """Concatenated variable lists, and per part the column positions and coefs."""
        variables: list[Any] = []
        offsets: dict[int, int] = {}
        cols, coefs = [], []
        for var, terms, keys in parts:
            if id(var) not in offsets:
                offsets[id(var)] = len(variables)
                variables.extend(self._data_objects(var))
            cols.append(_positions(self._key_frame(var), var, keys, terms, what) + offsets[id(var)])
            coef = terms.get_column("coef").cast(pl.Float64).to_numpy()
            if not np.isfinite(coef).all():
                raise ModelBuildError(f"{what}: non-finite coefficient for {var.name!r}")
            coefs.append(coef)
        return variables, cols, coefs

    def _data_objects(self, var: Any) -> list[Any]:
        """``data_objects(var)``, once per variable while :meth:`finish` runs."""
        datas = self._datas.get(id(var))
        if datas is None:
            datas = self._datas[id(var)] = data_objects(var)
        return datas

    def _key_frame(self, var: Any) -> pl.DataFrame:
        """Key frame of ``var`` in its order: as built here, else :func:`index_frame`.

        A variable made by :meth:`add_variables` has exactly the rows of its key frame (it
        was built from them and the builder is not finished), so the frame is taken as
        built instead of being checked against the variable object by object per part.
        """
        known = self._keys.get(id(var))
        if known is not None and known[0] is var and len(var) == known[1].height:
            return known[1]
        return index_frame(var)

    def _build_family(self, fam: RowFamily) -> Any:
        what = f"constraint {fam.name!r}"
        row_pos = fam.rows.select(fam.keys).with_row_index("_row")
        variables, cols, coefs = self._segments(fam.terms, what)
        rows_of = []
        for _, terms, _ in fam.terms:
            joined = terms.select(fam.keys).join(
                row_pos, on=fam.keys, how="left", maintain_order="left"
            )
            if joined["_row"].null_count():
                bad = joined.filter(pl.col("_row").is_null()).head(5).rows()
                raise ModelBuildError(f"{what}: terms for unknown rows {bad}")
            rows_of.append(joined["_row"].to_numpy().astype(np.int64))
        row = np.concatenate(rows_of) if rows_of else np.zeros(0, dtype=np.int64)
        col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        val = np.concatenate(coefs) if coefs else np.zeros(0)
        order = np.argsort(row, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=fam.rows.height))])
        keys = fam.rows.select(fam.keys).rows() if len(fam.keys) > 1 else fam.rows[fam.keys[0]]
        lb = fam.rows["lb"].cast(pl.Float64).fill_null(-np.inf).to_numpy()
        ub = fam.rows["ub"].cast(pl.Float64).fill_null(np.inf).to_numpy()
        return add_constraints_from_arrays(
            self.model, fam.name, list(keys), indptr, col[order], val[order], variables, lb, ub
        )

    def _build_objective(self) -> None:
        variables, cols, coefs = self._segments(self._objective, "objective")
        dense = np.zeros(len(variables))
        if cols:
            np.add.at(dense, np.concatenate(cols), np.concatenate(coefs))
        # zero-cost columns (base flows, most stock columns) add no term: the hand-off
        # would drop them anyway, so the LP is the same
        used = np.flatnonzero(dense)
        self.model.welfare = pyo.Objective(
            expr=linear_expression(dense[used], variables, cols=used), sense=pyo.maximize
        )


def _positions(
    frame: pl.DataFrame, var: Any, keys: Sequence[str], terms: pl.DataFrame, what: str
) -> np.ndarray[Any, Any]:
    """Position of each terms row's variable in ``var``'s order (unknown keys raise).

    ``frame`` is the key frame of ``var``. Terms that name the variables one for one, in
    the variable's order (most of the market's terms), skip the join.
    """
    frame = frame.rename(dict(zip(frame.columns, keys, strict=True)))
    t = terms.select(keys).cast({k: frame.schema[k] for k in keys})
    if t.height == frame.height and t.equals(frame):
        return np.arange(t.height, dtype=np.int64)
    frame = frame.with_row_index("_col")
    joined = t.join(frame, on=list(keys), how="left", maintain_order="left")
    if joined["_col"].null_count():
        bad = joined.filter(pl.col("_col").is_null()).head(5).rows()
        raise ModelBuildError(f"{what}: no variable {var.name!r} for keys {bad}")
    return joined["_col"].to_numpy().astype(np.int64)
