"""One owner of the LP's numbers: every builder keeps its numbers in one ModelRecord.

The fast build and hand-off keep key frames, index owners and CSR rows beside the Pyomo
objects (``resilience/optimize/lp_record.py``). These tests check that a model built by the
market core carries exactly one such object, that it holds what the hand-off reads, and
that no module other than ``lp_record`` touches Pyomo's private storage.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyomo.environ as pyo

import resilience
from resilience.optimize.compile import compile_model
from resilience.optimize.lp_record import RECORD_ATTR, ModelRecord, model_record
from resilience.optimize.market import build_market
from resilience.optimize.market.testing import GOOD, cut, world

PRIVATE = re.compile(r"""(\._data\b|["']_data["']|\._lb\b|\._ub\b)""")


def _model() -> pyo.ConcreteModel:
    inputs = world(
        {("USA", GOOD): 100.0, ("JPN", GOOD): 50.0},
        {("CHN", GOOD): 120.0, ("AUS", GOOD): 30.0},
        {("CHN", "USA", GOOD): 80.0, ("AUS", "USA", GOOD): 20.0, ("CHN", "JPN", GOOD): 40.0},
        availability=cut("CHN", 0.0, [1]),
        months=2,
    )
    return build_market(inputs).model


def test_a_market_model_carries_one_record_and_nothing_else_of_ours() -> None:
    model = _model()
    ours = [name for name in vars(model) if name.startswith("_resilience")]
    assert ours == [RECORD_ATTR]
    record = model_record(model, create=False)
    assert isinstance(record, ModelRecord)
    constraints = list(model.component_objects(pyo.Constraint, active=True))
    # every constraint component was built in bulk, so its rows are on record ...
    assert {id(c) for c in constraints} <= set(record.rows)
    # ... and the variables' key frames too, row for row
    for var in model.component_objects(pyo.Var):
        assert record.index_frames[var.name].height == len(var)
    # the record's rows are what the hand-off assembles: same number of rows and nonzeros
    compiled = compile_model(model)
    rows = sum(len(r.datas) for r in record.rows.values() if r.row_lb is not None)
    assert compiled.lp.num_row_ == rows


def test_model_record_without_create_does_not_add_one() -> None:
    model = pyo.ConcreteModel()
    assert model_record(model, create=False) is None
    assert not hasattr(model, RECORD_ATTR)


def test_no_module_but_lp_record_touches_pyomo_private_storage() -> None:
    package = Path(resilience.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "lp_record.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line.split("#")[0])
    ]
    assert offenders == []
