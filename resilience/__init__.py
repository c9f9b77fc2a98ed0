"""resilience: exposure to the loss of foreign chips, energy and critical materials.

The notebook API (:mod:`resilience.api`) is reached as ``import resilience as rs``:
``rs.load_dataset``, ``rs.load_study``, ``rs.run``, ``rs.market``, ``rs.compare``, ``rs.scenario``,
``rs.sweep``, ``rs.frontier`` and ``rs.plots``; the errors a notebook catches are here too
(``rs.SpecError``, ``rs.InfeasibleModelError``). They are imported on first use, so that
``import resilience`` stays cheap. The command-line interface lives in
``resilience.cli`` and is never imported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from resilience.errors import DataError, DataProblem, ResilienceError, UnknownNameError

if TYPE_CHECKING:
    from resilience import plots
    from resilience.api import (
        Dataset,
        compare,
        frontier,
        load_catalogue,
        load_dataset,
        load_study,
        market,
        run,
        scenario,
        sweep,
    )
    from resilience.optimize.diagnostics import InfeasibleModelError, OptimizationError
    from resilience.scenarios import SpecError

__all__ = [
    "DataError",
    "DataProblem",
    "Dataset",
    "InfeasibleModelError",
    "OptimizationError",
    "ResilienceError",
    "UnknownNameError",
    "__version__",
    "compare",
    "frontier",
    "load_catalogue",
    "load_dataset",
    "load_study",
    "market",
    "plots",
    "run",
    "scenario",
    "SpecError",
    "sweep",
]

__version__ = "0.1.0"

_API = {
    "Dataset",
    "compare",
    "frontier",
    "load_catalogue",
    "load_dataset",
    "load_study",
    "market",
    "run",
    "scenario",
    "sweep",
}


_ERRORS = {
    "InfeasibleModelError": "resilience.optimize.diagnostics",
    "OptimizationError": "resilience.optimize.diagnostics",
    "SpecError": "resilience.scenarios",
}


def __getattr__(name: str) -> Any:
    """Import the notebook API on first use."""
    if name in _ERRORS:
        return getattr(importlib.import_module(_ERRORS[name]), name)
    if name in _API:
        return getattr(importlib.import_module("resilience.api"), name)
    if name == "plots":
        return importlib.import_module("resilience.plots")
    raise AttributeError(f"module 'resilience' has no attribute {name!r}")
