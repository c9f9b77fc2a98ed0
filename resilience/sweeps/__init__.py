"""Sweeps over knob grids and the cost–exposure frontier.

- :mod:`~resilience.sweeps.knobs` — which knobs a sweep varies, validated grids;
- :mod:`~resilience.sweeps.engine` — :func:`sweep` here, over processes or on Dask;
- :mod:`~resilience.sweeps.frontier` — :func:`frontier` (ε-constraint).
"""

from resilience.sweeps.engine import METRICS, SWEEP_SCHEMA, NotParametricError, sweep
from resilience.sweeps.frontier import FRONTIER_COLUMNS, frontier

__all__ = [
    "FRONTIER_COLUMNS",
    "METRICS",
    "SWEEP_SCHEMA",
    "NotParametricError",
    "frontier",
    "sweep",
]
