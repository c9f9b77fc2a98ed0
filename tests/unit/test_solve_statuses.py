"""A run made of several solves is only ``optimal`` if every solve was."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from resilience.optimize.solve import SolverOptions, record_statuses, solve, worst_status


def _lp() -> pyo.ConcreteModel:
    """max x + 2y + 1.5z s.t. three <= rows: optimum 5, two primal pivots from the origin."""
    m = pyo.ConcreteModel()
    m.x, m.y, m.z = (pyo.Var(bounds=(0, None)) for _ in range(3))
    m.c1 = pyo.Constraint(expr=m.x + m.y + m.z <= 4)
    m.c2 = pyo.Constraint(expr=m.x + 3 * m.y + 2 * m.z <= 6)
    m.c3 = pyo.Constraint(expr=2 * m.x + m.y + 3 * m.z <= 7)
    m.o = pyo.Objective(expr=m.x + 2 * m.y + 1.5 * m.z, sense=pyo.maximize)
    return m


def test_a_solve_stopped_at_a_limit_makes_the_run_not_optimal() -> None:
    cut_short = SolverOptions(
        presolve=False, extra={"simplex_strategy": 4, "simplex_iteration_limit": 1}
    )
    with record_statuses() as statuses:
        early = solve(_lp(), cut_short)  # primal simplex: feasible after one pivot
        full = solve(_lp(), SolverOptions())
    assert (early.status, full.status) == ("iteration_limit", "optimal")
    assert early.objective < full.objective == pytest.approx(5.0)
    assert statuses == ["iteration_limit", "optimal"]
    assert worst_status(statuses) == "iteration_limit"
    assert worst_status(["optimal", "optimal"]) == "optimal"
    with record_statuses() as inner:
        solve(_lp(), SolverOptions())
    assert inner == ["optimal"]  # a new block starts empty; nothing leaks outside one


_FRESH_PROCESS = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s: %(message)s")
import pyomo.environ as pyo
from resilience.optimize.solve import SolverOptions, solve
m = pyo.ConcreteModel()
m.x = pyo.Var(bounds=(0, 4))
m.o = pyo.Objective(expr=m.x, sense=pyo.maximize)
for handoff in ("pyomo", "direct"):
    print(handoff, solve(m, SolverOptions(), handoff=handoff).objective)
"""


def test_highs_banner_and_log_go_to_logging_never_to_stdout() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "pyomo 4.0\ndirect 4.0\n"  # nothing from HiGHS on stdout
    assert "resilience.optimize.highs: Running HiGHS" in done.stderr
