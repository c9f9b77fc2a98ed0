"""Why ``pyomo>=6.10,<6.11`` is pinned: the Pyomo internals the fast LP build reads.

The market LP is built and handed to HiGHS without Pyomo's per-term expression walk
(``resilience/optimize/lp.py``, ``compile.py``, ``market/builder.py``). That relies on
Pyomo internals no public API promises:

- an indexed component keeps its data in a plain ``dict`` ``_data``, in index-set order
  (``lp_record.stored_data``, read by ``compile.data_objects`` and ``lp._registered_frame``);
- a ``VarData`` stores a float bound given to ``.lower``/``.upper`` unchanged in
  ``_lb``/``_ub`` (``lp_record.set_var_bounds`` then writes them directly);
- rows built from CSR arrays keep their records, so the hand-off takes the pre-compiled
  route (``compile._fast``) instead of walking every expression (7x slower).

Each has a fallback that keeps answers right, so a Pyomo that changes them would not
break a result: it would silently lose the speed. These tests fail loudly instead, naming
what changed; raise the pin only when they pass on the new Pyomo.
"""

from __future__ import annotations

import pyomo
import pyomo.environ as pyo
from pyomo.core.base.var import VarData

from resilience.optimize import compile as compile_mod
from resilience.optimize.compile import data_objects
from resilience.optimize.lp import _registered_frame
from resilience.optimize.lp_record import set_var_bounds
from resilience.optimize.market import build_market
from resilience.optimize.market.testing import GOOD, cut, world


def market_model():  # type: ignore[no-untyped-def]
    inputs = world(
        {("USA", GOOD): 100.0, ("JPN", GOOD): 50.0},
        {("CHN", GOOD): 120.0, ("AUS", GOOD): 30.0},
        {("CHN", "USA", GOOD): 80.0, ("AUS", "USA", GOOD): 20.0, ("CHN", "JPN", GOOD): 40.0},
        stocks={("USA", GOOD): (10.0, 100.0, 20.0)},
        availability=cut("CHN", 0.0, [1]),
        months=2,
    )
    return build_market(inputs).model


def test_the_pinned_pyomo_is_the_one_these_checks_were_written_for() -> None:
    major, minor = (int(x) for x in pyomo.version.version.split(".")[:2])
    assert (major, minor) == (6, 10), (
        f"Pyomo {pyomo.version.version}: re-run the checks of this file before widening the "
        "pin in pyproject.toml"
    )


def test_indexed_components_keep_their_data_in_an_ordered_dict() -> None:
    model = market_model()
    for var in model.component_objects(pyo.Var):
        assert type(var._data) is dict, f"{var.name}: _data is {type(var._data).__name__}"
        assert list(var._data) == list(var.index_set()), f"{var.name}: _data out of order"
        assert data_objects(var) == list(var.values())
        assert _registered_frame(var) is not None, f"{var.name}: key frame not recognised"


def test_a_float_bound_is_stored_unchanged_in_the_private_slot() -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var([0, 1, 2])
    datas = list(model.x.values())
    assert all(isinstance(v, VarData) for v in datas)
    bounds = [1.5, None, 3.25]
    set_var_bounds(datas, bounds, "upper")
    datas[0].lower = 0.5
    assert datas[0]._lb == 0.5
    assert [v._ub for v in datas] == bounds
    assert [v.ub for v in datas] == bounds  # what the public API reads back


def test_the_market_lp_takes_the_pre_compiled_hand_off() -> None:
    model = market_model()
    assert compile_mod._fast(model) is not None, (
        "the pre-compiled hand-off fell back to Pyomo's expression walk: a Pyomo internal "
        "it reads changed (see compile._fast's debug log)"
    )
