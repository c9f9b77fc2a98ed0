"""What the bulk builders remember about a Pyomo model: one object, one attribute.

The fast build (:mod:`resilience.optimize.lp`) and the fast hand-off
(:mod:`resilience.optimize.compile`) keep numbers beside the Pyomo objects they make, so
that nothing has to be read back term by term:

``index_frames``
    ``{component name: key frame}`` — the Polars frame each indexed component was built
    from, row for row (its index names and dtypes; :func:`lp.index_frame` hands it back);
``index_owners``
    ``{component name: (component, its data objects when built)}`` — what tells whether a
    registered key frame still describes the component (checked by identity);
``rows``
    ``{id(owner): RowsRecord}`` — the CSR arrays a constraint component or an expression
    (the objective) was built from, and the variable objects its columns refer to; the
    pre-compiled hand-off assembles the HiGHS matrix from these.

All three live in one :class:`ModelRecord` on the model (attribute :data:`RECORD_ATTR`),
created on first use and going wherever the model goes (a copied or pickled model takes
its record along; a record whose objects changed is detected and ignored by the checks of
``lp._registered_frame`` and ``compile._fast``).

This module is also the one place that touches Pyomo's private storage: it reads an
indexed component's ``_data`` dict (:func:`stored_data`), writes a variable's
``_lb``/``_ub`` (:func:`set_var_bounds`), and fills a constraint component with rows whose
expression is made on first use (:func:`fill_lazy_rows`, :class:`LazyRowData`, reading and
writing a ``ConstraintData``'s ``_expr`` slot). None is a public API; they are why
``pyomo`` is pinned to 6.10 (``tests/unit/test_pyomo_pin.py`` fails loudly on a Pyomo that
changes them, and ``tests/unit/test_lp_record.py`` that no other module touches them).

Lazy rows
---------
A row built from CSR arrays is a :class:`LazyRowData`: a ``ConstraintData`` whose
``_expr`` slot holds a :class:`PendingRow` (the row's number and the function that makes
its expression) until something reads it. Every reader of a ``ConstraintData`` (``expr``,
``body``, ``lower``, ``upper``, ``equality``, ``to_bounded_expression``, printing,
copying, pickling, Pyomo's writers and solver interfaces) goes through ``self._expr``,
which :class:`LazyRowData` turns into a property: the first read makes the expression
exactly as ``Constraint(rule=...)`` would have (through ``ConstraintData.set_value``) and
turns the object into a plain ``ConstraintData``; a write does the same with the value
written. The pre-compiled hand-off never reads the expression, so a model that is only
solved never makes its row expressions (1.4 M terms on the 1 M-column market LP).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from pyomo.core.base.constraint import ConstraintData

__all__ = [
    "RECORD_ATTR",
    "LazyRowData",
    "ModelRecord",
    "PendingRow",
    "RowsRecord",
    "fill_lazy_rows",
    "model_record",
    "row_expressions",
    "rows_unchanged",
    "set_var_bounds",
    "stored_data",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The one attribute the builders set on a Pyomo model.
RECORD_ATTR = "_resilience_lp_record"


@dataclass(eq=False)
class RowsRecord:
    """CSR arrays a constraint component (or an expression) was built from.

    Row ``r`` is ``row_lb[r] <= sum_k vals[k] * x[cols[k]] (+ constant) <= row_ub[r]`` for
    ``k`` in ``indptr[r]:indptr[r+1]``; ``cols`` index the concatenation of the variable
    lists in ``segments``. An expression (``row_lb is None``) is one row with a constant.
    """

    owner: Any  # Constraint component, or the expression object
    indptr: IntArray  # rows + 1 (one row for an expression)
    cols: IntArray  # positions into the concatenated segment lists
    vals: FloatArray
    segments: tuple[tuple[Any, Any], ...]  # (Var component, its data objects)
    datas: tuple[Any, ...] = ()  # ConstraintData in component order
    exprs: tuple[Any, ...] = ()  # what each held when built (row_expressions)
    row_lb: FloatArray | None = None  # -inf: none
    row_ub: FloatArray | None = None  # +inf: none
    constant: float = 0.0
    sizes: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.sizes = tuple(len(objs) for _, objs in self.segments)


@dataclass(eq=False)
class ModelRecord:
    """Everything the bulk builders keep about one model (module doc)."""

    index_frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    index_owners: dict[str, tuple[Any, list[Any]]] = field(default_factory=dict)
    rows: dict[int, RowsRecord] = field(default_factory=dict)


def model_record(model: Any, *, create: bool = True) -> ModelRecord | None:
    """The record of ``model`` (the top block), made on first use unless ``create=False``."""
    record = getattr(model, RECORD_ATTR, None)
    if record is None and create:
        record = ModelRecord()
        setattr(model, RECORD_ATTR, record)
    return record


def stored_data(component: Any) -> dict[Any, Any] | None:
    """Pyomo's private ``{index: data object}`` dict of an indexed component, or ``None``.

    ``None`` when the component does not keep a plain dict (a reference, a scalar, a
    Pyomo that stores data otherwise); callers then take Pyomo's public, slower route.
    """
    data = getattr(component, "_data", None)
    return data if type(data) is dict else None


def set_var_bounds(datas: Sequence[Any], values: Sequence[float | None], side: str) -> None:
    """``vd.lower = value`` (or ``upper``) for every variable, fast.

    The values are Python floats or ``None`` (from :func:`_bounds`), which Pyomo's
    setter stores unchanged in ``_lb``/``_ub`` after a type check; the first variable
    goes through the public setter, and if Pyomo stored the value there as expected the
    rest are stored directly (4 µs -> 0.3 µs a variable), else through the setter too.
    """
    if not datas:
        return
    attr = "_lb" if side == "lower" else "_ub"
    setattr(datas[0], side, values[0])
    if getattr(datas[0], attr, object()) is not values[0]:
        for vd, value in zip(datas, values, strict=True):
            setattr(vd, side, value)
        return
    if side == "lower":
        for vd, value in zip(datas, values, strict=True):
            vd._lb = value
    else:
        for vd, value in zip(datas, values, strict=True):
            vd._ub = value


# ----------------------------------------------------------------------------- lazy rows
#: the slot descriptor a ``ConstraintData`` keeps its expression in
_EXPR_SLOT: Any = ConstraintData.__dict__["_expr"]


class PendingRow:
    """What a :class:`LazyRowData` holds until read: ``make(row)`` gives its expression.

    ``make(row)`` returns what ``ConstraintData.set_value`` takes (a relational
    expression or an ``(lb, body, ub)`` tuple); ``built`` is the normalised expression
    once made (``None`` before).
    """

    __slots__ = ("built", "make", "row")

    def __init__(self, make: Callable[[int], Any], row: int) -> None:
        self.make = make
        self.row = row
        self.built: Any = None


class LazyRowData(ConstraintData):
    """A ``ConstraintData`` whose expression is made on first use (module doc)."""

    __slots__ = ()

    @property
    def _expr(self) -> Any:
        raw = _EXPR_SLOT.__get__(self, ConstraintData)
        if type(raw) is not PendingRow:
            return raw
        value = raw.make(raw.row)
        self.__class__ = ConstraintData  # a plain row from now on (same slots)
        ConstraintData.set_value(self, value)
        raw.built = _EXPR_SLOT.__get__(self, ConstraintData)
        return raw.built

    @_expr.setter
    def _expr(self, value: Any) -> None:
        self.__class__ = ConstraintData
        _EXPR_SLOT.__set__(self, value)


def fill_lazy_rows(
    con: Any, keys: Sequence[Hashable], make: Callable[[int], Any]
) -> tuple[PendingRow, ...]:
    """Fill the empty indexed ``Constraint`` ``con`` with one :class:`LazyRowData` per key.

    Row ``i`` (index ``keys[i]``) gets its expression from ``make(i)`` when first read.
    ``con`` must be constructed, indexed by exactly ``keys`` (in order) and hold no data
    yet. Returns the pending rows, in order (what :func:`rows_unchanged` compares with).
    """
    data = stored_data(con)
    if data is None or data:
        raise ValueError(f"{con.name}: lazy rows go into an empty, plainly stored component")
    comp = weakref.ref(con)
    new = LazyRowData.__new__
    set_expr = _EXPR_SLOT.__set__
    pending = tuple(PendingRow(make, i) for i in range(len(keys)))
    for key, row in zip(keys, pending, strict=True):
        obj = new(LazyRowData)
        obj._component = comp
        obj._index = key
        obj._active = True
        set_expr(obj, row)
        data[key] = obj
    if len(data) != len(keys):
        data.clear()
        raise ValueError(f"{con.name}: duplicate row keys")
    return pending


def row_expressions(datas: Sequence[Any]) -> tuple[Any, ...]:
    """What each ``ConstraintData`` holds now, without making a lazy row's expression."""
    get = _EXPR_SLOT.__get__
    return tuple(get(d, ConstraintData) for d in datas)


def rows_unchanged(datas: Sequence[Any], held: Sequence[Any]) -> bool:
    """Whether every row still holds what :func:`row_expressions` gave when built.

    A lazy row whose expression was made since (read, not replaced) counts as unchanged.
    """
    get = _EXPR_SLOT.__get__
    for d, was in zip(datas, held, strict=True):
        now = get(d, ConstraintData)
        made = type(was) is PendingRow and was.built is not None and now is was.built
        if now is not was and not made:
            return False
    return True
