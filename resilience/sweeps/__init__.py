"""Sweeps over knob grids and the cost–exposure frontier.

- :mod:`~resilience.sweeps.knobs` — which knobs a sweep varies, validated grids;
- :mod:`~resilience.sweeps.parametric` — one model re-solved with only changed numbers;
- :mod:`~resilience.sweeps.engine` — :func:`sweep` here, over processes or on Dask;
- :mod:`~resilience.sweeps.frontier` — :func:`frontier` (ε-constraint).
"""

from resilience.sweeps.engine import SWEEP_SCHEMA, sweep
from resilience.sweeps.frontier import FRONTIER_COLUMNS, frontier, min_feasible_share
from resilience.sweeps.parametric import NotParametricError, ParametricModel

__all__ = [
    "FRONTIER_COLUMNS",
    "SWEEP_SCHEMA",
    "NotParametricError",
    "ParametricModel",
    "frontier",
    "min_feasible_share",
    "sweep",
]
