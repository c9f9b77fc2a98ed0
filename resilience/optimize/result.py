r"""What one HiGHS solve found: :class:`SolveResult`, read as Polars frames.

One job: hold the snapshot of a solve (values, duals and reduced costs keyed by the Pyomo
objects, which are kept alive) and hand it out as frames of index columns plus a value,
never as Pyomo objects (except :attr:`SolveResult.model`). Results are made by
:func:`resilience.optimize.solve.solve` and :class:`resilience.optimize.solve.Solver`.

Conventions
-----------
objective
    The value of the active objective expression at the solution, **constant included**
    (HiGHS's objective offset; an MPS objective-row RHS of ``r`` is an offset of ``-r``).
dual
    :math:`\partial\,\text{objective} / \partial\,\text{rhs}` of the constraint as written,
    where the rhs is its active bound (Pyomo normalises ``a <= body <= b`` and moves body
    constants to the bounds). Verified with finite differences on Pyomo 6.10.1 / HiGHS
    1.15.1 for both senses: minimising, a binding ``x <= cap`` has dual ``<= 0`` and a
    binding ``demand >= d`` dual ``>= 0``; maximising, a binding ``x <= cap`` has dual
    ``>= 0``. Both routes return HiGHS's row duals unchanged.
marginal value
    Value of one more unit of the right-hand side (e.g. allied capacity): the objective
    *improvement*, ``-dual`` when minimising and ``+dual`` when maximising, so that more
    capacity in a min-cost model has marginal value ``>= 0``.
reduced cost
    :math:`\partial\,\text{objective} / \partial\,\text{bound}` of a variable, same sign
    convention as duals.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
import pyomo.environ as pyo

from resilience.optimize.compile import data_objects
from resilience.optimize.diagnostics import DualsUnavailableError, SolverLimitError, hint_for
from resilience.optimize.lp import index_frame

__all__ = ["Handoff", "SolveResult", "Status"]

#: How a solve ended when it returned a plan: proven optimal, or stopped at a limit.
Status = Literal["optimal", "time_limit", "iteration_limit", "objective_limit", "interrupted"]
#: The route by which the model reached HiGHS (see :mod:`resilience.optimize.solve`).
Handoff = Literal["direct", "pyomo"]

_is_fixed = operator.attrgetter("fixed")


@dataclass(frozen=True, eq=False)
class _Solution:
    """Snapshot of one solve, keyed by ``id()`` of Pyomo data objects (kept alive)."""

    values: dict[int, float]
    duals: dict[int, float] | None
    reduced_costs: dict[int, float] | None
    keepalive: tuple[Any, ...]


def _frame(
    component: Any, column: str, values_of: Callable[[list[Any]], list[float | None]]
) -> pl.DataFrame:
    """Index columns of ``component`` plus ``column`` holding ``values_of(data objects)``."""
    if not component.is_indexed():
        return pl.DataFrame([pl.Series(column, values_of([component]), dtype=pl.Float64)])
    values = pl.Series(column, values_of(data_objects(component)), dtype=pl.Float64)
    return index_frame(component).with_columns(values)


def _lookup(table: dict[int, float]) -> Callable[[list[Any]], list[float | None]]:
    """``[table.get(id(obj)) for obj in objs]``, the loop run by ``map`` in C."""
    return lambda objs: list(map(table.get, map(id, objs)))


@dataclass(frozen=True, eq=False)
class SolveResult:
    """What one solve found. Accessors return Polars frames (index columns + a value).

    Attributes
    ----------
    status
        ``"optimal"``, or the limit that stopped a solve with a feasible but unproven plan:
        ``"time_limit"``, ``"iteration_limit"``, ``"objective_limit"``, ``"interrupted"``.
    termination_condition
        Pyomo ``TerminationCondition`` name.
    has_solution
        A feasible primal point is available (always true when a result is returned).
    objective
        Objective at that point, constant included.
    objective_bound
        Best proven bound (MIP dual bound; equals ``objective`` for an optimal LP).
    mip_gap
        ``|objective - bound| / |objective|`` for MIPs, ``None`` for LPs.
    solve_time_s
        Time HiGHS spent in this solve; ``wall_time_s`` adds the hand-off.
    """

    status: Status
    termination_condition: str
    has_solution: bool
    objective: float
    objective_bound: float | None
    mip_gap: float | None
    sense: Literal["minimize", "maximize"]
    is_mip: bool
    solve_time_s: float
    wall_time_s: float
    handoff: Handoff
    log: str = field(repr=False)
    _solution: _Solution = field(repr=False)
    _model: Any = field(repr=False)

    @property
    def optimal(self) -> bool:
        """Whether HiGHS proved optimality."""
        return self.status == "optimal"

    @property
    def model(self) -> Any:
        """The Pyomo model that was solved (the only Pyomo object handed out)."""
        return self._model

    def ensure_optimal(self) -> SolveResult:
        """Return ``self`` if optimal, else raise :class:`SolverLimitError`."""
        if not self.optimal:
            raise SolverLimitError(
                f"the solve stopped at a {self.status.replace('_', ' ')} with a feasible plan "
                f"(objective {self.objective}, bound {self.objective_bound}) not proven optimal",
                termination_condition=self.termination_condition,
                hint=hint_for(self.termination_condition),
            )
        return self

    # -- primal values
    def value(self, var: Any) -> float | None:
        """Value of one variable (``VarData``); fixed variables give their fixed value."""
        if var.fixed:
            return None if var.value is None else float(var.value)
        return self._solution.values.get(id(var))

    def values(self, var: Any) -> pl.DataFrame:
        """Values of a variable component: its index columns and ``value``.

        Null marks a variable that was not part of the solved model.
        """
        table = self._solution.values

        def values_of(objs: list[Any]) -> list[float | None]:
            out: list[float | None] = list(map(table.get, map(id, objs)))
            for i in itertools.compress(itertools.count(), map(_is_fixed, objs)):
                out[i] = self.value(objs[i])  # fixed: its own value, as value() says
            return out

        return _frame(var, "value", values_of)

    # -- duals
    def _require(self, table: dict[int, float] | None, what: str) -> dict[int, float]:
        if table is None:
            why = "a MIP has none" if self.is_mip else "HiGHS did not return valid ones"
            raise DualsUnavailableError(
                f"{what} are not available for this solve: {why}",
                termination_condition=self.termination_condition,
                hint=(
                    "fix the integer variables at their solution values and re-solve as an LP "
                    "to price constraints"
                    if self.is_mip
                    else "only an optimal LP solve has duals"
                ),
            )
        return table

    def dual(self, constraint: Any) -> float | None:
        """Dual of one constraint (``ConstraintData``): ∂objective/∂rhs (see module doc)."""
        return self._require(self._solution.duals, "duals").get(id(constraint))

    def duals(self, constraint: Any) -> pl.DataFrame:
        """Duals of a constraint component: index columns and ``dual`` = ∂objective/∂rhs.

        Null for constraints that were not in the solved model (inactive, or no bound).
        """
        table = self._require(self._solution.duals, "duals")
        return _frame(constraint, "dual", _lookup(table))

    def marginal_value(self, constraint: Any) -> float | None:
        """Value of one more unit of the right-hand side (e.g. allied capacity).

        The objective improvement per unit: ``-dual`` when minimising, ``+dual`` when
        maximising; more capacity in a min-cost model is worth ``>= 0``.
        """
        d = self.dual(constraint)
        return None if d is None else (-d if self.sense == "minimize" else d)

    def marginal_values(self, constraint: Any) -> pl.DataFrame:
        """:meth:`marginal_value` for every index of a constraint component."""
        sign = -1.0 if self.sense == "minimize" else 1.0
        return self.duals(constraint).select(
            pl.exclude("dual"), (sign * pl.col("dual") + 0.0).alias("marginal_value")
        )

    def reduced_costs(self, var: Any) -> pl.DataFrame:
        """Reduced costs of a variable component: index columns and ``reduced_cost``."""
        table = self._require(self._solution.reduced_costs, "reduced costs")
        return _frame(var, "reduced_cost", _lookup(table))

    def load_into_model(self) -> None:
        """Write the primal values into the model's variables (e.g. to evaluate expressions)."""
        for obj in self._solution.keepalive:
            if obj.ctype is pyo.Var and not obj.fixed:
                val = self._solution.values.get(id(obj))
                if val is not None:
                    obj.set_value(val, skip_validation=True)
