"""Netlib LPs read with highspy, rebuilt as Pyomo models through the lp layer, solved via solve().

Published optima and file provenance: tests/data/netlib/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pytest

from resilience.optimize.lp import build_lp_from_arrays, compile_model, csc_to_csr
from resilience.optimize.solve import SolverOptions, solve

NETLIB = Path(__file__).resolve().parents[1] / "data" / "netlib"

# Netlib lp/data/readme (D. M. Gay, MINOS 5.3 optima); see tests/data/netlib/README.md
PUBLISHED = {
    "afiro": -4.6475314286e02,
    "sc50a": -6.4575077059e01,
    "kb2": -1.7499001299e03,
    "blend": -3.0812149846e01,
}
# the published values carry 11 significant digits
REL_TOL = 1e-8


def read_lp(path: Path) -> Any:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    return h.getLp()


def rebuild(lp: Any) -> Any:
    a = lp.a_matrix_
    assert a.format_ == highspy.MatrixFormat.kColwise
    csr = csc_to_csr(a.start_, a.index_, a.value_, lp.num_row_)
    sense = "maximize" if lp.sense_ == highspy.ObjSense.kMaximize else "minimize"
    return build_lp_from_arrays(
        lp.col_cost_,
        csr,
        lp.row_lower_,
        lp.row_upper_,
        lp.col_lower_,
        lp.col_upper_,
        obj_constant=lp.offset_,
        sense=sense,
        names=(list(lp.col_names_), list(lp.row_names_)),
    )


@pytest.mark.parametrize("handoff", ["direct", "pyomo"])
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_rebuilt_netlib_lp_reproduces_published_optimum(name: str, handoff: str) -> None:
    lp = read_lp(NETLIB / f"{name}.mps")
    model = rebuild(lp)
    result = solve(model, SolverOptions(log_to="off"), handoff=handoff)
    assert result.status == "optimal"
    published = PUBLISHED[name]
    assert abs(result.objective - published) / abs(published) <= REL_TOL


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_rebuilt_model_has_the_mps_structure(name: str) -> None:
    """The Pyomo model compiles back to the same matrix, bounds and costs as the MPS file."""
    lp = read_lp(NETLIB / f"{name}.mps")
    compiled = compile_model(rebuild(lp))
    assert compiled.num_rows == lp.num_row_
    assert compiled.num_cols == lp.num_col_
    # columns come back in first-appearance order: compare through the variable names
    names = [v.index() for v in compiled.columns]
    order = np.array([list(lp.col_names_).index(n) for n in names])
    out = compiled.lp
    np.testing.assert_array_equal(np.asarray(out.col_cost_), np.asarray(lp.col_cost_)[order])
    np.testing.assert_array_equal(np.asarray(out.col_lower_), np.asarray(lp.col_lower_)[order])
    np.testing.assert_array_equal(np.asarray(out.col_upper_), np.asarray(lp.col_upper_)[order])
    np.testing.assert_array_equal(np.asarray(out.row_lower_), np.asarray(lp.row_lower_))
    np.testing.assert_array_equal(np.asarray(out.row_upper_), np.asarray(lp.row_upper_))
    assert len(out.a_matrix_.value_) == len(lp.a_matrix_.value_)


OFFSET_MPS = """\
NAME          OFFSET
ROWS
 N  COST
 G  LIM
COLUMNS
    X         COST               1.0   LIM                1.0
    Y         COST               2.0   LIM                1.0
RHS
    RHS       COST              -7.5   LIM                4.0
BOUNDS
 UP BND       X                  3.0
ENDATA
"""


@pytest.mark.parametrize("handoff", ["direct", "pyomo"])
def test_objective_constant_convention(tmp_path: Path, handoff: str) -> None:
    """An MPS objective-row RHS r is an objective offset of -r; reported objectives include it.

    min x + 2y s.t. x + y >= 4, 0 <= x <= 3, y >= 0 has optimum 5 at (3, 1); the RHS of -7.5
    on the objective row makes HiGHS report 12.5 (the e226 trap: its quoted Netlib optimum
    leaves the constant out).
    """
    path = tmp_path / "offset.mps"
    path.write_text(OFFSET_MPS)
    lp = read_lp(path)
    assert lp.offset_ == pytest.approx(7.5)

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(path))
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(12.5)

    model = rebuild(lp)
    result = solve(model, SolverOptions(log_to="off"), handoff=handoff)
    assert result.objective == pytest.approx(12.5, rel=1e-12)
    assert result.objective - lp.offset_ == pytest.approx(5.0, rel=1e-12)
    values = dict(result.values(model.x).iter_rows())
    assert values == pytest.approx({"X": 3.0, "Y": 1.0})
