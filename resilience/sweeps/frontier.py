r"""The cost–exposure frontier of a study (ε-constraint method).

For a cap :math:`\varepsilon` on every member's non-allied share of every commodity
(the ``max_non_allied_share`` knob),

.. math::

   C(\varepsilon) = \min \{\, \text{cost}(x) :
       \textstyle\sum_{s \notin A} x_{m,s,c} \le \varepsilon\, d_{m,c}\ \forall m, c,
       \ x \text{ feasible} \,\},

the objective of the study's model family (contracts for ``diversify``; contracts,
stock and expected recourse for ``stress``). :math:`C` is non-increasing in
:math:`\varepsilon`, and the feasible caps form an interval
:math:`[\varepsilon_{\min}, 1]`: the frontier is the curve
:math:`\varepsilon \mapsto (C(\varepsilon), \text{achieved non-allied share})` over it.

By default the grid runs evenly from 1 (no cap) down to :math:`\varepsilon_{\min}`,
found by bisection on feasibility (feasibility is monotone in :math:`\varepsilon`) to
within ``tolerance``; the persistent route makes each probe a warm re-solve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from resilience.optimize.solve import SolverOptions
from resilience.scenarios import StudySpec, as_study
from resilience.sweeps import engine
from resilience.sweeps.engine import Backend, sweep
from resilience.sweeps.knobs import DEFAULT_MAX_POINTS, Point, check_grid_size
from resilience.sweeps.parametric import PARAMETRIC_FAMILIES, NotParametricError

__all__ = ["FRONTIER_COLUMNS", "frontier", "min_feasible_share"]

log = logging.getLogger(__name__)

KNOB = "max_non_allied_share"
#: Columns of a frontier frame.
FRONTIER_COLUMNS = [
    "study",
    "scenario",
    "model",
    KNOB,
    "status",
    "objective_usd",
    "cost_usd",
    "non_allied_share",
    "expected_shortfall_t",
    "reason",
]


def _feasible_at(
    study: StudySpec, scenario: str | None, options: SolverOptions | None
) -> Callable[[float], bool]:
    """A function ``share -> feasible?``: warm re-solves where the family allows.

    The parametric model is checked against rebuilds at both ends, 0 and 1 (the first
    caps the bisection tries); where it cannot be used, every probe is a full run.
    """
    if study.model in PARAMETRIC_FAMILIES:
        ends = [Point({KNOB: 1.0}, {}), Point({KNOB: 0.0}, {})]
        try:
            model = engine._learn(study, scenario, [KNOB], ends, ends[0], None, options)
        except NotParametricError as exc:
            log.warning("bisection by full runs: %s", exc)
        else:
            return lambda share: model.solve(Point({KNOB: share}, {}))["status"] == "optimal"

    def rebuild(share: float) -> bool:
        frame = sweep(study, {KNOB: [share]}, scenario=scenario, options=options, explain=False)
        return bool(frame["status"][0] == "optimal")

    return rebuild


def min_feasible_share(
    study: StudySpec | str | Path,
    scenario: str | None = None,
    *,
    tolerance: float = 1e-3,
    options: SolverOptions | None = None,
) -> float | None:
    r"""Smallest feasible cap :math:`\varepsilon_{\min}` (within ``tolerance``, rounded up).

    ``None`` when even :math:`\varepsilon = 1` is infeasible.
    """
    spec = as_study(study)
    feasible = _feasible_at(spec, scenario, options)
    if not feasible(1.0):
        return None
    if feasible(0.0):
        return 0.0
    low, high = 0.0, 1.0  # infeasible, feasible
    while high - low > tolerance:
        mid = 0.5 * (low + high)
        low, high = (low, mid) if feasible(mid) else (mid, high)
    return high


def frontier(
    study: StudySpec | str | Path,
    scenario: str | None = None,
    *,
    shares: Sequence[float] | None = None,
    points: int = 11,
    backend: Backend = "sequential",
    options: SolverOptions | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pl.DataFrame:
    r"""Cost against exposure: the study's optimum for each cap on the non-allied share.

    Parameters
    ----------
    study, scenario
        Study (spec or file) and scenario expression.
    shares
        Caps :math:`\varepsilon` to solve (default: ``points`` caps evenly from 1 down
        to :func:`min_feasible_share`).
    points
        Number of caps of the default grid.
    backend, options, max_points
        As for :func:`~resilience.sweeps.engine.sweep` (the number of caps is checked
        against ``max_points`` before anything is solved or allocated).

    Returns
    -------
    polars.DataFrame
        :data:`FRONTIER_COLUMNS`, one row per cap (``status`` tells infeasible caps).

    Raises
    ------
    SpecError
        More caps than ``max_points``, or as for :func:`~resilience.sweeps.engine.sweep`.
    """
    count, key = (max(points, 2), "points") if shares is None else (len(shares), "shares")
    check_grid_size(count, max_points, source="frontier", key=key)
    spec = as_study(study)
    if shares is None:
        low = min_feasible_share(spec, scenario, options=options)
        if low is None:
            log.warning("%s: infeasible even without a cap on non-allied supply", spec.name)
            low = 1.0
        shares = [float(x) for x in np.linspace(1.0, low, max(points, 2))] if low < 1 else [1.0]
    frame = sweep(
        spec,
        {KNOB: list(shares)},
        scenario=scenario,
        backend=backend,
        options=options,
        max_points=max_points,
    )
    return frame.select(FRONTIER_COLUMNS)
