"""The pre-compiled hand-off gives exactly the arrays of the general (visitor) route.

Every test compiles a model twice — through :func:`compile_model` as it is, and with the
pre-compiled route switched off — and requires identical HiGHS arrays, the same column
and row objects in the same order, and the same objective data. The models cover what
the fast route has to reproduce (repeated terms summed in order, zero sums dropped,
columns numbered by first appearance, rows without terms, sub-blocks) and what must send
it back to the general route (fixed variables, deactivated rows, replaced expressions,
constraints written by hand).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyomo.environ as pyo
import pytest

from resilience.optimize import compile as compile_mod
from resilience.optimize import lp
from resilience.optimize.compile import CompiledModel, compile_model, data_objects
from resilience.optimize.lp import (
    add_constraints,
    add_constraints_from_arrays,
    add_variables,
    build_lp_from_arrays,
    expression_from_frame,
    index_frame,
    linear_expression,
)
from resilience.optimize.lp_keys import key_list
from resilience.optimize.solve import SolverOptions, solve

QUIET = SolverOptions(log_to="off")


def arrays(c: CompiledModel) -> dict[str, Any]:
    lp_ = c.lp
    mat = lp_.a_matrix_
    return {
        "start": np.asarray(mat.start_),
        "index": np.asarray(mat.index_),
        "value": np.asarray(mat.value_),
        "cost": np.asarray(lp_.col_cost_),
        "col_lower": np.asarray(lp_.col_lower_),
        "col_upper": np.asarray(lp_.col_upper_),
        "row_lower": np.asarray(lp_.row_lower_),
        "row_upper": np.asarray(lp_.row_upper_),
        "offset": lp_.offset_,
        "integrality": list(lp_.integrality_),
    }


def general(model: Any, monkeypatch: pytest.MonkeyPatch) -> CompiledModel:
    with monkeypatch.context() as mp:
        mp.setattr(compile_mod, "_fast", lambda m: None)
        return compile_model(model)


def assert_same(model: Any, monkeypatch: pytest.MonkeyPatch, *, fast: bool) -> CompiledModel:
    """Both routes give the same compiled model; ``fast``: the pre-compiled route applies."""
    assert (compile_mod._fast(model) is not None) is fast
    got, want = compile_model(model), general(model, monkeypatch)
    a, b = arrays(got), arrays(want)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert a[key] == b[key], key
    assert len(got.columns) == len(want.columns)
    assert all(x is y for x, y in zip(got.columns, want.columns, strict=True))
    assert len(got.rows) == len(want.rows)
    assert all(x is y for x, y in zip(got.rows, want.rows, strict=True))
    assert got.column_of == want.column_of
    assert got.row_of == want.row_of
    assert (got.sense, got.objective_constant, got.objective_name, got.is_mip) == (
        want.sense,
        want.objective_constant,
        want.objective_name,
        want.is_mip,
    )
    return got


# ----------------------------------------------------------------------------- models
def market_model(*, caps: bool = True) -> Any:
    """A small market-core LP with every kind of row: trade, stocks, a cut, policy hooks."""
    from resilience.optimize.market import build_market
    from resilience.optimize.market.policies import pooled_stocks, sourcing_cap, stock_build
    from resilience.optimize.market.testing import GOOD, cut, world

    inputs = world(
        {("USA", GOOD): 100.0, ("JPN", GOOD): 60.0},
        {("CHN", GOOD): 120.0, ("AUS", GOOD): 50.0},
        {
            ("CHN", "USA", GOOD): 70.0,
            ("CHN", "JPN", GOOD): 50.0,
            ("AUS", "USA", GOOD): 30.0,
            ("AUS", "JPN", GOOD): 10.0,
        },
        stocks={("USA", GOOD): (20.0, 200.0, 50.0), ("JPN", GOOD): (0.0, 200.0, 50.0)},
        scenarios={"cut": 0.2, "calm": 0.8},
        availability=cut("CHN", 0.0, [1, 2], scenario="cut"),
        months=3,
    )
    builds = pl.DataFrame(
        {
            "node": ["USA", "JPN"],
            "good": [GOOD, GOOD],
            "min_units": [5.0, 0.0],
            "max_units": [50.0, None],
        }
    )
    hooks = [stock_build(builds), pooled_stocks(["USA", "JPN"])]
    if caps:
        hooks += [
            sourcing_cap(["USA", "JPN"], ["AUS", "USA", "JPN"], 0.8, "non_allied"),
            sourcing_cap(["USA", "JPN"], (), 0.9, "single"),
        ]
    return build_market(inputs, extensions=hooks).model  # fmt: skip


def messy_model() -> Any:
    """Repeated terms, zero coefficients, cancelling terms, empty rows, objective repeats."""
    m = pyo.ConcreteModel()
    keys = pl.DataFrame({"i": [0, 1, 2, 3, 4]})
    add_variables(m, "x", keys, lb=0.0, ub=10.0)
    add_variables(m, "y", pl.DataFrame({"j": ["a", "b"]}), lb=None)
    rows = pl.DataFrame({"r": ["r0", "r1", "r2", "r3", "r4"], "lo": [1.0, 0.0, -5.0, 0.0, 0.0]})
    terms = pl.DataFrame(
        {
            "r": ["r0", "r0", "r0", "r1", "r1", "r1", "r2", "r2", "r3", "r3", "r3"],
            "i": [3, 1, 3, 0, 0, 2, 4, 4, 2, 1, 2],
            "coef": [1.0, 2.0, 1.5, 0.0, 4.0, 1.0, 2.0, -2.0, 0.0, 1.0, 0.0],
        }
    )
    # r0: x3 appears twice (summed, kept at its first place); r1: x0 first with 0, then 4;
    # r2: x4 cancels (row left empty); r3: x2 only with zeros; r4: no terms at all
    add_constraints(m, "c", rows, keys=["r"], terms=terms, var=m.x, var_keys=["i"], lb="lo")
    add_constraints_from_arrays(
        m, "d", ["d0", "d1"], [0, 2, 3], [1, 0, 1], [1.0, -1.0, 3.0], data_objects(m.y),
        [-np.inf, 2.0], [4.0, 2.0],
    )  # fmt: skip
    cost = pl.DataFrame({"i": [4, 0, 4, 1], "coef": [1.0, 2.0, 0.5, 0.0]})
    m.obj = pyo.Objective(expr=expression_from_frame(cost, m.x, ["i"], constant=7.0))
    return m


# ----------------------------------------------------------------------------- same arrays
def test_market_model_compiles_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    c = assert_same(market_model(), monkeypatch, fast=True)
    assert c.num_rows > 20
    assert c.num_cols > 50


def test_market_model_without_caps_compiles_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(market_model(caps=False), monkeypatch, fast=True)


def test_repeats_zeros_and_empty_rows_compile_identically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = messy_model()
    c = assert_same(m, monkeypatch, fast=True)
    # r0: x3 (1 + 1.5) then x1; r1: x0 (4) then x2; r2 and r4 empty; r3: x1
    assert np.diff(np.asarray(c.lp.a_matrix_.start_)).tolist()[:5] == [2, 2, 0, 1, 0]
    assert c.objective_constant == 7.0
    assert any(v is m.x[1] for v in c.columns)
    assert not any(v is m.x[2] for v in c.columns[:2])


def test_arrays_lp_with_free_rows_and_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    m = build_lp_from_arrays(
        c=[1.0, -2.0, 0.0],
        A_csr=([0, 2, 3, 5], [0, 1, 2, 0, 2], [1.0, 1.0, 1.0, 2.0, -1.0]),
        row_lb=[-np.inf, 1.0, -np.inf],
        row_ub=[4.0, 1.0, np.inf],
        col_lb=[0.0, 0.0, -1.0],
        col_ub=[np.inf, 3.0, 5.0],
        obj_constant=2.5,
        sense="maximize",
        integrality=[0, 1, 0],
    )
    c = assert_same(m, monkeypatch, fast=True)
    assert c.is_mip
    assert c.num_rows == 2  # the free row is left out


def test_sub_block_rows_keep_their_place(monkeypatch: pytest.MonkeyPatch) -> None:
    m = messy_model()
    m.b = pyo.Block()
    rows = pl.DataFrame({"r": ["s0"], "hi": [3.0]})
    terms = pl.DataFrame({"r": ["s0", "s0"], "i": [4, 0], "coef": [1.0, 1.0]})
    add_constraints(m.b, "e", rows, keys=["r"], terms=terms, var=m.x, var_keys=["i"], ub="hi")
    add_constraints(m, "f", rows, keys=["r"], terms=terms, var=m.x, var_keys=["i"], ub="hi")
    assert_same(m, monkeypatch, fast=True)


# ----------------------------------------------------------------------------- falling back
def test_changes_after_the_build_send_the_model_down_the_general_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = messy_model()
    m.x[3].setub(2.0)  # bounds are read at compile time: still pre-compiled
    m.y["b"].domain = pyo.Reals
    assert_same(m, monkeypatch, fast=True)
    m.x[2].fix(1.5)  # a constant now
    assert_same(m, monkeypatch, fast=False)
    m.x[2].unfix()
    assert_same(m, monkeypatch, fast=True)
    m.c["r1"].deactivate()
    assert_same(m, monkeypatch, fast=False)
    m.c["r1"].activate()
    m.c["r3"].set_value(m.x[0] + m.y["a"] >= 1)
    assert_same(m, monkeypatch, fast=False)


def test_hand_made_constraints_and_objectives_use_the_general_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = messy_model()
    m.extra = pyo.Constraint(expr=m.x[0] + 2 * m.x[4] <= 9)
    assert_same(m, monkeypatch, fast=False)
    m.del_component(m.extra)
    assert_same(m, monkeypatch, fast=True)
    m.obj.deactivate()
    m.obj2 = pyo.Objective(expr=m.x[0] - m.y["b"], sense=pyo.maximize)
    assert_same(m, monkeypatch, fast=False)
    m.del_component(m.obj2)
    assert_same(m, monkeypatch, fast=True)  # no objective at all


def test_linear_expression_of_loose_variables_is_not_pre_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = messy_model()
    m.obj.set_value(linear_expression([1.0, 1.0, 2.0], [m.x[1], m.x[1], m.y["a"]], 3.0))
    assert_same(m, monkeypatch, fast=False)


def test_pre_compiled_solve_gives_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    m = market_model()
    got = solve(m, QUIET)
    with monkeypatch.context() as mp:
        mp.setattr(compile_mod, "_fast", lambda model: None)
        want = solve(m, QUIET)
    assert got.objective == want.objective
    for var in m.component_objects(pyo.Var):
        assert got.values(var).equals(want.values(var))
    for con in m.component_objects(pyo.Constraint):
        assert got.duals(con).equals(want.duals(con))


# ----------------------------------------------------------------------------- helpers
def test_data_objects_is_values(monkeypatch: pytest.MonkeyPatch) -> None:
    m = messy_model()
    m.M = pyo.Set(initialize=["b", "a"])
    m.C = pyo.Set(initialize=[2, 1])
    m.p = pyo.Var(m.M, m.C)
    m.s = pyo.Var()
    for comp in (m.x, m.y, m.c, m.d, m.p, m.s):
        got = data_objects(comp)
        assert len(got) == len(list(comp.values()))
        assert all(a is b for a, b in zip(got, comp.values(), strict=True))
    del m.x[2]
    assert data_objects(m.x) == list(m.x.values())


def test_index_frame_from_registered_keys_matches_the_slow_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = market_model()
    comps = [*m.component_objects(pyo.Var), *m.component_objects(pyo.Constraint)]
    fast = {c.name: index_frame(c) for c in comps}
    with monkeypatch.context() as mp:
        mp.setattr(lp, "_registered_frame", lambda component: None)
        for c in comps:
            assert fast[c.name].equals(index_frame(c)), c.name
            assert fast[c.name].schema == index_frame(c).schema
    first = next(iter(m.served.keys()))
    del m.served[first]
    assert lp._registered_frame(m.served) is None  # no longer describes m.served
    assert index_frame(m.served).height == len(m.served)


def test_key_lists_share_values_but_equal_rows() -> None:
    n = 5000
    frame = pl.DataFrame(
        {
            "s": [f"w{i % 7}" for i in range(n)],
            "k": [1000 + i % 3 for i in range(n)],
            "f": [i / 7 for i in range(n)],
            "u": [f"u{i}" for i in range(n)],
        }
    )
    keys = key_list(frame, ["s", "k", "f", "u"])
    assert keys == frame.rows()
    assert keys[0][0] is keys[7][0]  # one object per distinct string
    assert key_list(frame, ["k"]) == frame["k"].to_list()


def test_values_of_fixed_variables_are_their_values() -> None:
    m = messy_model()
    m.x[2].fix(1.5)
    r = solve(m, QUIET)
    values = dict(r.values(m.x).iter_rows())
    assert values[2] == 1.5
    assert values[2] == r.value(m.x[2])
    assert all(values[i] == r.value(m.x[i]) for i in values)


def test_callers_arrays_changed_after_the_build_do_not_leak_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cost = np.array([1.0, 2.0])
    indptr, cols, vals = np.array([0, 2]), np.array([0, 1]), np.array([3.0, 4.0])
    m = build_lp_from_arrays(cost, (indptr, cols, vals), [1.0], [5.0], [0.0, 0.0], [9.0, 9.0])
    add_constraints_from_arrays(
        m, "more", ["a"], indptr, cols, vals, data_objects(m.x), 0.0, None
    )  # fmt: skip
    cost[:] = 0.0
    vals[:] = -1.0
    cols[:] = 0
    c = assert_same(m, monkeypatch, fast=True)
    assert np.asarray(c.lp.a_matrix_.value_).tolist() == [3.0, 4.0, 3.0, 4.0]
    assert np.asarray(c.lp.col_cost_).tolist() == [1.0, 2.0]
