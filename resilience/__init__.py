"""resilience: exposure to the loss of foreign chips, energy and critical materials.

The public API grows issue by issue; the command-line interface lives in
``resilience.cli`` and is never imported here.
"""

from resilience.errors import DataError, DataProblem, ResilienceError, UnknownNameError

__all__ = ["DataError", "DataProblem", "ResilienceError", "UnknownNameError", "__version__"]

__version__ = "0.1.0"
