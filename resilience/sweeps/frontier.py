r"""The cost–exposure frontier of a study (ε-constraint method on the market core).

For a cap :math:`\varepsilon` on every member's non-allied import share of every good
(the ``max_non_allied_share`` knob: imports from non-allied origins at most
:math:`\varepsilon` times consumption, in every month and scenario), the study's family
runs on the market core; the frontier is the curve

.. math:: \varepsilon \mapsto (L(\varepsilon), \text{achieved non-allied share}),

with :math:`L` the members' expected welfare loss against the calm market without policy.
A cap never makes the market infeasible (members consume less where allied supply runs
out), so every cap in :math:`[0, 1]` has an answer; its price shows as welfare lost,
demand shed (``expected_shed_share``) and prices up. The tightest share reachable without
shedding demand is where ``expected_shed_share`` leaves zero. :math:`L` is the members'
loss net of their producers' gains, so it need not be monotone in :math:`\varepsilon`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.solve import SolverOptions
from resilience.scenarios import SpecError, StudySpec, as_study
from resilience.sweeps.engine import Backend, sweep
from resilience.sweeps.knobs import DEFAULT_MAX_POINTS, check_grid_size

__all__ = ["FRONTIER_COLUMNS", "frontier"]

log = logging.getLogger(__name__)

KNOB = "max_non_allied_share"
#: Columns of a frontier frame.
FRONTIER_COLUMNS = [
    "study",
    "scenario",
    "model",
    KNOB,
    "status",
    "expected_welfare_loss_usd",
    "worst_welfare_loss_usd",
    "non_allied_share",
    "expected_shed_share",
    "price_rise_max_pct",
    "reason",
]


def frontier(
    study: StudySpec | str | Path,
    scenario: str | None = None,
    *,
    shares: Sequence[float] | None = None,
    points: int = 11,
    lowest: float = 0.0,
    backend: Backend = "sequential",
    options: SolverOptions | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    settings: StudyMarketSettings | None = None,
) -> pl.DataFrame:
    r"""Welfare loss against exposure: the study's run for each cap on the non-allied share.

    Parameters
    ----------
    study, scenario
        Study (spec or file) and scenario expression.
    shares
        Caps :math:`\varepsilon` to solve (default: ``points`` caps evenly from 1 down
        to ``lowest``).
    points, lowest
        The default grid.
    backend, options, max_points, settings
        As for :func:`~resilience.sweeps.engine.sweep` (the number of caps is checked
        against ``max_points`` before anything is solved).

    Returns
    -------
    polars.DataFrame
        :data:`FRONTIER_COLUMNS`, one row per cap.

    Raises
    ------
    SpecError
        More caps than ``max_points``, ``lowest`` outside [0, 1], or as for
        :func:`~resilience.sweeps.engine.sweep`.
    """
    count, key = (max(points, 2), "points") if shares is None else (len(shares), "shares")
    check_grid_size(count, max_points, source="frontier", key=key)
    spec = as_study(study)
    if not 0.0 <= lowest <= 1.0:
        raise SpecError.single("frontier", "lowest", lowest, "outside [0, 1]", "a share in [0, 1]")
    if shares is None:
        shares = [float(x) for x in np.linspace(1.0, lowest, max(points, 2))]
    frame = sweep(
        spec,
        {KNOB: list(shares)},
        scenario=scenario,
        backend=backend,
        options=options,
        max_points=max_points,
        settings=settings,
    )
    return frame.select(FRONTIER_COLUMNS)
