"""The shortcuts of the bulk build give what the plain routes give.

Each shortcut (benchmarks/README.md, "The market core at scale") skips work only when
its result is known: these tests pin that the answer is the one the long way gives.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyomo.environ as pyo
import pytest

from resilience.optimize.compile import IdPositions, compile_model, data_objects
from resilience.optimize.lp import ModelBuildError, add_variables, linear_expression
from resilience.optimize.lp_keys import key_list, shared_list
from resilience.optimize.market import build_market
from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.testing import GOOD, cut, world


def test_id_positions_iterate_in_order_and_look_up_like_a_dict() -> None:
    objs = [object(), object(), object()]
    pos = IdPositions(objs)
    assert list(pos) == [id(o) for o in objs]
    assert len(pos) == 3
    assert pos[id(objs[2])] == 2
    assert dict(pos) == {id(o): k for k, o in enumerate(objs)}
    with pytest.raises(KeyError):
        pos[id(pos)]


@pytest.mark.parametrize(
    "values",
    [
        [3, 250, -5, 3] * 400,  # small ints: Python shares them already
        [3, 10_000, -7, 3] * 400,  # larger ints: shared through a join
        ["USA", "JPN", "USA", "DEU"] * 400,  # strings: shared through an Enum
    ],
)
def test_shared_lists_equal_to_list_and_share_objects(values: list[object]) -> None:
    col = pl.Series("k", values)
    got = shared_list(col)
    assert got == values
    assert got[1] is got[5]  # one object per distinct value (10_000 and "JPN" too)


def test_key_tuples_follow_the_rows() -> None:
    frame = pl.DataFrame({"a": ["x", "y"] * 600, "b": list(range(1200))})
    assert key_list(frame, ["a", "b"]) == frame.rows()


def test_linear_expression_over_chosen_columns() -> None:
    m = pyo.ConcreteModel()
    add_variables(m, "x", pl.DataFrame({"i": [0, 1, 2]}), ub=1.0)
    xs = data_objects(m.x)
    expr = linear_expression([2.0, -1.0], xs, 0.5, cols=[2, 0])
    assert str(expr) == "0.5 + 2.0*x[2] - x[0]"
    m.obj = pyo.Objective(expr=expr, sense=pyo.maximize)
    c = compile_model(m)
    assert [v.name for v in c.columns] == ["x[2]", "x[0]"]
    with pytest.raises(ModelBuildError, match="out of range"):
        linear_expression([1.0], xs, cols=[3])
    with pytest.raises(ModelBuildError, match="2 coefficients for 1"):
        linear_expression([1.0, 2.0], xs, cols=[0])


def market_inputs():  # type: ignore[no-untyped-def]
    return world(
        {("USA", GOOD): 100.0, ("JPN", GOOD): 50.0},
        {("CHN", GOOD): 120.0, ("AUS", GOOD): 30.0},
        {("CHN", "USA", GOOD): 80.0, ("AUS", "USA", GOOD): 20.0, ("CHN", "JPN", GOOD): 40.0},
        stocks={("USA", GOOD): (10.0, 100.0, 20.0)},
        availability=cut("CHN", 0.5, [1]),
        months=2,
    )


def test_market_objective_leaves_zero_cost_columns_out() -> None:
    market = build_market(market_inputs())
    objective_vars = {id(v) for v in market.model.welfare.expr.linear_vars}
    base = data_objects(market.variables["flow_base"])
    assert base
    assert not any(id(v) in objective_vars for v in base)  # free up to observed flow
    supply = data_objects(market.variables["supply"])
    assert all(id(v) in objective_vars for v in supply)  # every supply block is costed
    assert compile_model(market.model).num_cols == sum(len(v) for v in market.variables.values())


def test_terms_out_of_the_variables_order_take_the_join() -> None:
    b = MarketBuilder()
    x = b.add_variables("x", pl.DataFrame({"k": ["a", "b", "c"]}), ["k"])
    b.add_rows(
        "r", pl.DataFrame({"k": ["a", "b", "c"], "lb": [0.0] * 3, "ub": [5.0] * 3}), ["k"], "{k}"
    )
    # in the variables' order (the shortcut) and reversed (the join)
    b.add_terms("r", x, pl.DataFrame({"k": ["a", "b", "c"], "coef": [1.0, 2.0, 3.0]}), ["k"])
    b.add_terms("r", x, pl.DataFrame({"k": ["c", "b", "a"], "coef": [10.0, 20.0, 30.0]}), ["k"])
    b.add_objective(x, pl.DataFrame({"k": ["a", "b", "c"], "coef": [1.0, 1.0, 1.0]}), ["k"])
    b.finish()
    c = compile_model(b.model)
    mat = c.lp.a_matrix_
    dense = np.zeros((3, 3))
    for r in range(3):
        for p in range(mat.start_[r], mat.start_[r + 1]):
            dense[r, mat.index_[p]] = mat.value_[p]
    assert dense.tolist() == [[31.0, 0, 0], [0, 22.0, 0], [0, 0, 13.0]]
    b2 = MarketBuilder()
    y = b2.add_variables("y", pl.DataFrame({"k": ["a", "b"]}), ["k"])
    b2.add_rows("r", pl.DataFrame({"k": ["a"], "lb": [0.0], "ub": [1.0]}), ["k"], "{k}")
    b2.add_terms(
        "r", y, pl.DataFrame({"k": ["a"], "coef": [1.0]}).with_columns(k=pl.lit("z")), ["k"]
    )
    with pytest.raises(ModelBuildError, match="unknown rows|no variable"):
        b2.finish()
