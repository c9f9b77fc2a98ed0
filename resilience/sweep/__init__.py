"""Sweeps over knob grids and the cost–exposure frontier.

- :mod:`~resilience.sweep.knobs` — which knobs a sweep varies, validated grids;
- :mod:`~resilience.sweep.parametric` — one model re-solved with only changed numbers;
- :mod:`~resilience.sweep.engine` — :func:`sweep` here, over processes or on Dask;
- :mod:`~resilience.sweep.frontier` — :func:`frontier` (ε-constraint).
"""

from resilience.sweep.engine import SWEEP_SCHEMA, sweep
from resilience.sweep.frontier import FRONTIER_COLUMNS, frontier, min_feasible_share
from resilience.sweep.parametric import NotParametricError, ParametricModel

__all__ = [
    "FRONTIER_COLUMNS",
    "SWEEP_SCHEMA",
    "NotParametricError",
    "ParametricModel",
    "frontier",
    "min_feasible_share",
    "sweep",
]
