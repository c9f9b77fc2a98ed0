"""Rows built from CSR arrays make their expressions on first use, as a rule would.

``resilience.optimize.lp_record.LazyRowData``: the pre-compiled hand-off never reads a
row's expression, so a model that is only solved never makes them; anything else that
reads a row (``body``, bounds, printing, cloning, pickling, Pyomo's own hand-off) gets
exactly what ``Constraint(rule=...)`` would have built.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import polars as pl
import pyomo.environ as pyo
import pytest
from pyomo.core.base.constraint import ConstraintData

from resilience.optimize import compile as compile_mod
from resilience.optimize.compile import compile_model, data_objects
from resilience.optimize.lp import (
    ModelBuildError,
    add_constraints_from_arrays,
    add_variables,
    linear_expression,
)
from resilience.optimize.lp_record import LazyRowData
from resilience.optimize.market import build_market
from resilience.optimize.market.testing import GOOD, cut, world
from resilience.optimize.solve import SolverOptions, solve

QUIET = SolverOptions(log_to="off")
# rows: x0 + 2 x1 <= 4;  x1 - x2 == 1;  -3 <= -x0 + x2 (+ x0 again, 0.5) <= 5
INDPTR = [0, 2, 4, 7]
COLS = [0, 1, 1, 2, 0, 2, 0]
VALS = [1.0, 2.0, 1.0, -1.0, -1.0, 1.0, 0.5]
LB = [-np.inf, 1.0, -3.0]
UB = [4.0, 1.0, 5.0]


def arrays_model() -> Any:
    m = pyo.ConcreteModel()
    add_variables(m, "x", pl.DataFrame({"i": [0, 1, 2]}), lb=0.0, ub=10.0)
    xs = data_objects(m.x)
    add_constraints_from_arrays(m, "c", ["a", "b", "c"], INDPTR, COLS, VALS, xs, LB, UB)
    m.obj = pyo.Objective(expr=linear_expression([1.0, 1.0, 1.0], xs), sense=pyo.maximize)
    return m


def rule_model() -> Any:
    """The same rows written by hand with a rule."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], bounds=(0.0, 10.0))
    x = m.x
    rows = {
        "a": (None, x[0] + 2.0 * x[1], 4.0),
        "b": x[1] - x[2] == 1.0,
        "c": (-3.0, -x[0] + x[2] + 0.5 * x[0], 5.0),
    }
    m.c = pyo.Constraint(["a", "b", "c"], rule=lambda _, k: rows[k])
    m.obj = pyo.Objective(expr=m.x[0] + m.x[1] + m.x[2], sense=pyo.maximize)
    return m


def test_rows_stay_pending_through_build_and_pre_compiled_hand_off() -> None:
    m = arrays_model()
    assert all(type(d) is LazyRowData for d in m.c.values())
    assert compile_mod._fast(m) is not None
    compile_model(m)
    assert all(type(d) is LazyRowData for d in m.c.values())


def test_a_read_row_is_what_the_rule_gives_and_stays_pre_compiled() -> None:
    m, want = arrays_model(), rule_model()
    for key in ["a", "b", "c"]:
        got, ref = m.c[key], want.c[key]
        assert str(got.body) == str(ref.body)
        assert (got.lower, got.upper, got.equality) == (ref.lower, ref.upper, ref.equality)
        assert type(got) is ConstraintData  # a plain row once read
    assert m.c["c"].body.args[2].args[0] == 0.5
    assert compile_mod._fast(m) is not None  # read, not replaced: still the arrays' rows


def test_a_replaced_row_sends_the_hand_off_down_the_general_route() -> None:
    m = arrays_model()
    m.c["b"].set_value(m.x[1] + m.x[2] <= 7.0)
    assert type(m.c["b"]) is ConstraintData
    assert m.c["b"].upper == 7.0
    assert not m.c["b"].equality
    assert compile_mod._fast(m) is None
    assert compile_model(m).lp.row_upper_[1] == 7.0


@pytest.mark.parametrize("handoff", ["direct", "pyomo"])
def test_both_hand_offs_solve_the_lazy_rows_like_the_rule_rows(handoff: str) -> None:
    got = solve(arrays_model(), QUIET, handoff=handoff)  # type: ignore[arg-type]
    want = solve(rule_model(), QUIET, handoff=handoff)  # type: ignore[arg-type]
    # x1 = 1 + x2 <= 10 and x0 + 2 x1 <= 4: x1 = 1, x2 = 0, x0 = 2, objective 3
    assert got.objective == pytest.approx(3.0)
    assert got.objective == pytest.approx(want.objective)


def test_clone_and_pickle_carry_the_rows() -> None:
    m = arrays_model()
    for copy in (m.clone(), pickle.loads(pickle.dumps(m))):
        assert str(copy.c["c"].body) == "- x[0] + x[2] + 0.5*x[0]"
        assert copy.c["b"].equality
        assert solve(copy, QUIET).objective == pytest.approx(3.0)


def test_duplicate_row_keys_are_refused() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0])
    with pytest.raises((ModelBuildError, ValueError)):
        add_constraints_from_arrays(
            m, "c", ["a", "a"], [0, 1, 2], [0, 0], [1.0, 1.0], [m.x[0]], 0.0, 1.0
        )


def test_market_rows_are_pending_until_read() -> None:
    inputs = world(
        {("USA", GOOD): 100.0},
        {("CHN", GOOD): 120.0},
        {("CHN", "USA", GOOD): 100.0},
        stocks={("USA", GOOD): (10.0, 100.0, 20.0)},
        availability=cut("CHN", 0.5, [1]),
        months=2,
    )
    market = build_market(inputs)
    row = next(iter(market.constraints["balance"].values()))
    assert type(row) is LazyRowData
    assert row.equality
    assert row.upper == 0.0
    assert "supply" in str(row.body) or "flow" in str(row.body)
