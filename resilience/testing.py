r"""Small hand-checkable worlds for tests and examples.

A *world* here is a :class:`~resilience.optimize.inputs.ModelData` small enough to solve
by hand: a few members, each needing a few tonnes of one or two commodities, and a few
suppliers, each with one unit cost and one capacity. The stress, coercion and pooling
tests work their optima out in comments next to the world and then check the solver
against that arithmetic; examples use the same worlds to show a model on something a
reader can follow.

- :func:`world` builds the :class:`~resilience.optimize.inputs.ModelData`;
- :func:`value` and :func:`row` read one cell or one member's row back out of a result
  frame, failing loudly when the keys do not pick exactly one row;
- :data:`QUIET` solves without HiGHS's log, :data:`STAGE` is the stage of every
  commodity in these worlds.

Scenario frames for these worlds come straight from
:mod:`resilience.optimize.scenarios_data` (``blockade``, ``embargo``, ``scenario_set``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from resilience.optimize.inputs import ModelData
from resilience.optimize.solve import SolverOptions

__all__ = ["QUIET", "STAGE", "row", "value", "world"]

#: Solver options that keep HiGHS's log out of the test output (it is still kept on the
#: result).
QUIET = SolverOptions(log_to="off")
#: Stage of every commodity in a :func:`world`.
STAGE = "refining"


def world(
    demand: dict[tuple[str, str], float],
    suppliers: dict[tuple[str, str], tuple[float, float]],
    allies: set[str],
) -> ModelData:
    r"""A hand-made world in which members buy from every supplier of their commodity.

    Every member :math:`m` needing commodity :math:`c` gets an arc from every supplier
    :math:`s \ne m` of :math:`c`, at that supplier's unit cost :math:`p_{s,c}`; the
    supplier's capacity :math:`\mathrm{cap}_{s,c}` is also its observed exports, and no
    trade is observed on the arcs. All commodities are at stage :data:`STAGE`; the data
    year is 2023.

    Parameters
    ----------
    demand
        ``(member, commodity) -> demand`` :math:`d_{m,c}` in t/year.
    suppliers
        ``(supplier, commodity) -> (unit cost in USD/t, capacity in t/year)``.
    allies
        ISO3 codes of the allied suppliers (``is_ally`` on their arcs).

    Returns
    -------
    ModelData
        Members (sorted) are the members named in ``demand``; ``demand`` sorted by member
        and commodity; ``capacity`` and ``arcs`` in the order of ``suppliers``.

    Examples
    --------
    USA needs 100 t of lithium; CHN sells at 10 USD/t (200 t), ally AUS at 12 USD/t (50 t):

    >>> data = world(
    ...     {("USA", "lithium"): 100},
    ...     {("CHN", "lithium"): (10, 200), ("AUS", "lithium"): (12, 50)},
    ...     allies={"AUS"},
    ... )
    >>> data.arcs.select("supplier_iso3", "is_ally").rows()
    [('CHN', False), ('AUS', True)]
    """
    dem = pl.DataFrame(
        [(m, c, STAGE, float(d)) for (m, c), d in demand.items()],
        schema=["member_iso3", "commodity", "stage", "demand_t"],
        orient="row",
    ).sort("member_iso3", "commodity")
    cap = pl.DataFrame(
        [(s, c, STAGE, float(k), float(k)) for (s, c), (_, k) in suppliers.items()],
        schema=["supplier_iso3", "commodity", "stage", "capacity_t", "observed_exports_t"],
        orient="row",
    )
    arcs = pl.DataFrame(
        [
            (m, s, c, STAGE, float(p), 0.0, s in allies)
            for (m, c) in demand
            for (s, c2), (p, _) in suppliers.items()
            if c2 == c and s != m
        ],
        schema=[
            "member_iso3",
            "supplier_iso3",
            "commodity",
            "stage",
            "unit_cost_usd_per_t",
            "observed_t",
            "is_ally",
        ],
        orient="row",
    )
    members = tuple(sorted({m for m, _ in demand}))
    return ModelData(year=2023, members=members, demand=dem, capacity=cap, arcs=arcs)


def value(frame: pl.DataFrame, column: str, **keys: str) -> float:
    """``column`` of the one row of ``frame`` whose key columns equal ``keys``.

    Parameters
    ----------
    frame
        A result frame (plan, stock, capacity values, ...).
    column
        The column to read.
    **keys
        ``column name = value`` filters, e.g. ``supplier_iso3="CHN"``.

    Returns
    -------
    float
        The cell, as a float.

    Raises
    ------
    AssertionError
        The filters do not pick exactly one row (the frame is shown).
    """
    rows = frame.filter(*(pl.col(k) == v for k, v in keys.items()))
    if rows.height != 1:
        raise AssertionError(f"expected one row for {keys}, found {rows.height}:\n{rows}")
    return float(rows[column][0])


def row(frame: pl.DataFrame, member: str) -> dict[str, Any]:
    """The one row of ``frame`` with ``member_iso3 == member``, as a dict by column.

    Raises
    ------
    ValueError
        ``frame`` has no row or several rows for ``member``.
    """
    (r,) = frame.filter(pl.col("member_iso3") == member).iter_rows(named=True)
    return r
