"""The solve layer: status matrix, time limits, duals, IIS explanations, logging, lp builders."""

from __future__ import annotations

import logging
import pickle
import time
from typing import Any

import highspy
import numpy as np
import polars as pl
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.results import TerminationCondition

from resilience.errors import ResilienceError
from resilience.optimize import solve as solve_mod
from resilience.optimize.diagnostics import explain_infeasible
from resilience.optimize.lp import (
    ModelBuildError,
    add_constraints,
    add_variables,
    expression_from_frame,
    index_names,
    linear_expression,
)
from resilience.optimize.solve import (
    DualsUnavailableError,
    InfeasibleModelError,
    InfeasibleOrUnboundedModelError,
    OptimizationError,
    Solver,
    SolverError,
    SolverLimitError,
    SolverOptions,
    UnboundedModelError,
    solve,
)

HANDOFFS = ["direct", "pyomo"]
QUIET = SolverOptions(log_to="off")

# ----------------------------------------------------------------------------- toy alliance
# One member (USA) buys 100 t of lithium. Allies KOR, JPN, AUS; CHN is outside the alliance.
ARCS = pl.DataFrame(
    {
        "member": ["USA"] * 4,
        "supplier": ["KOR", "JPN", "AUS", "CHN"],
        "commodity": ["lithium"] * 4,
        "cost_usd_per_t": [3.0, 2.5, 4.0, 1.0],
        "is_ally": [True, True, True, False],
    }
)
CAPACITY = pl.DataFrame(
    {
        "supplier": ["KOR", "JPN", "AUS", "CHN"],
        "commodity": ["lithium"] * 4,
        "cap_t": [26.0, 30.0, 20.0, 1000.0],
    }
)
X_KEYS = ["member", "supplier", "commodity"]


def alliance_model(min_allied_share: float) -> Any:
    """min cost s.t. demand met, supplier capacities, allied share >= min_allied_share."""
    m = pyo.ConcreteModel(name="alliance")
    add_variables(m, "x", ARCS.select(X_KEYS), lb=0.0)
    demand = pl.DataFrame({"member": ["USA"], "commodity": ["lithium"], "demand_t": [100.0]})
    add_constraints(
        m, "demand", demand, keys=["member", "commodity"], terms=ARCS, var=m.x,
        var_keys=X_KEYS, coef=1.0, lb="demand_t", ub="demand_t",
    )  # fmt: skip
    add_constraints(
        m, "capacity", CAPACITY, keys=["supplier", "commodity"], terms=ARCS, var=m.x,
        var_keys=X_KEYS, coef=1.0, ub="cap_t",
    )  # fmt: skip
    share = demand.with_columns(min_allied_t=pl.col("demand_t") * min_allied_share)
    add_constraints(
        m, "ally_share", share, keys=["member", "commodity"], terms=ARCS.filter("is_ally"),
        var=m.x, var_keys=X_KEYS, coef=1.0, lb="min_allied_t",
    )  # fmt: skip
    m.cost = pyo.Objective(expr=expression_from_frame(ARCS, m.x, X_KEYS, coef="cost_usd_per_t"))
    return m


def describe(family: str, index: tuple[Any, ...]) -> str | None:
    if family == "capacity":
        supplier, commodity = index
        cap = CAPACITY.filter(pl.col("supplier") == supplier)["cap_t"].item()
        return f"{supplier} can export at most {cap:g} t of {commodity}"
    if family == "ally_share":
        member, commodity = index
        return f"member {member} must buy at least 99 % of its {commodity} from allies"
    return None


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_optimal_plan_values_duals_and_marginal_values(handoff: str) -> None:
    # allied share >= 50 %: JPN 30 t at 2.5 and KOR 20 t at 3 cover it; CHN supplies 50 t at 1
    r = solve(alliance_model(0.5), QUIET, handoff=handoff)  # type: ignore[arg-type]
    assert (r.status, r.termination_condition) == ("optimal", "convergenceCriteriaSatisfied")
    assert r.has_solution
    assert r.optimal
    assert not r.is_mip
    assert r.objective == pytest.approx(30 * 2.5 + 20 * 3 + 50 * 1)
    m = r.model
    x = r.values(m.x)
    assert x.columns == [*X_KEYS, "value"]
    assert dict(zip(x["supplier"], x["value"], strict=True)) == pytest.approx(
        {"KOR": 20.0, "JPN": 30.0, "AUS": 0.0, "CHN": 50.0}
    )
    assert r.dual(m.demand["USA", "lithium"]) == pytest.approx(1.0)
    assert r.dual(m.ally_share["USA", "lithium"]) == pytest.approx(2.0)  # KOR 3 instead of CHN 1
    caps = r.duals(m.capacity)
    assert caps.columns == ["supplier", "commodity", "dual"]
    assert dict(zip(caps["supplier"], caps["dual"], strict=True)) == pytest.approx(
        {"KOR": 0.0, "JPN": -0.5, "AUS": 0.0, "CHN": 0.0}
    )
    mv = r.marginal_values(m.capacity)
    assert dict(zip(mv["supplier"], mv["marginal_value"], strict=True)) == pytest.approx(
        {"KOR": 0.0, "JPN": 0.5, "AUS": 0.0, "CHN": 0.0}
    )
    assert r.marginal_value(m.capacity["JPN", "lithium"]) == pytest.approx(0.5)
    rc = r.reduced_costs(m.x)
    assert rc.filter(pl.col("supplier") == "AUS")["reduced_cost"].item() == pytest.approx(1.0)


def test_both_handoffs_agree() -> None:
    a = solve(alliance_model(0.5), QUIET, handoff="direct")
    b = solve(alliance_model(0.5), QUIET, handoff="pyomo")
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    for comp in ("demand", "capacity", "ally_share"):
        da = a.duals(getattr(a.model, comp))
        db = b.duals(getattr(b.model, comp))
        assert da.drop("dual").equals(db.drop("dual"))
        np.testing.assert_allclose(da["dual"].to_numpy(), db["dual"].to_numpy(), atol=1e-9)


def test_highspy_direct_second_implementation_agrees() -> None:
    """The same tiny LP written straight in highspy: same objective and row duals."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    cost = ARCS["cost_usd_per_t"].to_numpy()
    h.addVars(4, np.zeros(4), np.full(4, inf))
    h.changeColsCost(4, np.arange(4, dtype=np.int32), cost)
    h.addRow(100.0, 100.0, 4, np.arange(4, dtype=np.int32), np.ones(4))  # demand
    for j, cap in enumerate(CAPACITY["cap_t"]):  # capacity
        h.addRow(-inf, cap, 1, np.array([j], dtype=np.int32), np.array([1.0]))
    h.addRow(50.0, inf, 3, np.arange(3, dtype=np.int32), np.ones(3))  # ally share
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    row_dual = list(h.getSolution().row_dual)
    for handoff in HANDOFFS:
        r = solve(alliance_model(0.5), QUIET, handoff=handoff)  # type: ignore[arg-type]
        m = r.model
        assert r.objective == pytest.approx(h.getInfo().objective_function_value, rel=1e-12)
        ours = [r.dual(m.demand["USA", "lithium"])]
        ours += [r.dual(m.capacity[s, "lithium"]) for s in CAPACITY["supplier"]]
        ours += [r.dual(m.ally_share["USA", "lithium"])]
        assert ours == pytest.approx(row_dual, abs=1e-9)


# ----------------------------------------------------------------------------- infeasibility
EXPECTED_IIS = {
    ("capacity", ("KOR", "lithium")),
    ("capacity", ("JPN", "lithium")),
    ("capacity", ("AUS", "lithium")),
    ("ally_share", ("USA", "lithium")),
}


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_infeasible_raises_with_irreducible_explanation(handoff: str) -> None:
    # 99 % allied needs 99 t, the allies can export 26 + 30 + 20 = 76 t
    with pytest.raises(InfeasibleModelError) as info:
        solve(alliance_model(0.99), QUIET, explain=describe, handoff=handoff)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, ResilienceError)
    assert err.termination_condition == "provenInfeasible"
    ex = err.explanation
    assert ex is not None
    assert ex.is_irreducible
    assert ex.strategy == 6
    assert set(ex.constraints) == EXPECTED_IIS
    assert ex.variables == ()
    assert set(ex.sentences) == {
        "KOR can export at most 26 t of lithium",
        "JPN can export at most 30 t of lithium",
        "AUS can export at most 20 t of lithium",
        "member USA must buy at least 99 % of its lithium from allies",
    }
    assert {m.bound for m in ex.members if m.family == "capacity"} == {"upper"}
    assert "member USA must buy at least 99 %" in str(err)
    assert ex.to_frame().height == 4


def test_infeasible_without_explain_and_default_wording() -> None:
    with pytest.raises(InfeasibleModelError) as info:
        solve(alliance_model(0.99), QUIET)
    assert info.value.explanation is None
    assert "explain=" in info.value.hint
    ex = explain_infeasible(alliance_model(0.99))  # no describe: default sentences
    assert "constraint ally_share[USA,lithium] must be at least 99" in ex.sentences
    assert "constraint capacity[JPN,lithium] must be at most 30" in ex.sentences


def test_faulty_describe_falls_back_to_default_wording() -> None:
    def broken(family: str, index: tuple[Any, ...]) -> str:
        raise KeyError(family)

    ex = explain_infeasible(alliance_model(0.99), broken)
    assert set(ex.constraints) == EXPECTED_IIS
    assert all(s.startswith("constraint ") for s in ex.sentences)


def test_explanations_of_feasible_model_and_of_integrality() -> None:
    assert explain_infeasible(alliance_model(0.5)).members == ()
    m = pyo.ConcreteModel()
    m.n = pyo.Var(domain=pyo.Integers)
    m.half = pyo.Constraint(expr=2 * m.n == 1)  # LP relaxation feasible, MIP infeasible
    m.o = pyo.Objective(expr=m.n)
    with pytest.raises(InfeasibleModelError) as info:
        solve(m, QUIET, explain=True)
    assert "integrality" in info.value.explanation.message  # type: ignore[union-attr]


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_unbounded(handoff: str) -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.c = pyo.Constraint(expr=m.x <= 4)
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(UnboundedModelError) as info:
        solve(m, QUIET, handoff=handoff)  # type: ignore[arg-type]
    assert info.value.termination_condition == "unbounded"
    assert "bound" in info.value.hint


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_models_without_variables(handoff: str) -> None:
    m = pyo.ConcreteModel()
    m.y = pyo.Var()
    m.y.fix(3.0)
    m.ok = pyo.Constraint(expr=m.y >= 1)
    m.o = pyo.Objective(expr=m.y + 2)
    r = solve(m, QUIET, handoff=handoff)  # type: ignore[arg-type]
    assert (r.status, r.objective, r.value(m.y)) == ("optimal", 5.0, 3.0)
    m.bad = pyo.Constraint(expr=m.y >= 4)
    with pytest.raises(InfeasibleModelError):
        solve(m, QUIET, handoff=handoff)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- limits
def knapsack(n: int = 300, rows: int = 10, seed: int = 1) -> Any:
    """A multi-dimensional 0-1 knapsack HiGHS cannot close in a second (max)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(10, 100, (rows, n)).astype(float)
    value = w.sum(0) / rows + rng.integers(0, 10, n)
    m = pyo.ConcreteModel(name="knapsack")
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    xs = list(m.x.values())
    m.cap = pyo.Constraint(
        range(rows), rule=lambda m, i: linear_expression(w[i], xs) <= w[i].sum() / 2
    )
    m.o = pyo.Objective(expr=linear_expression(value, xs), sense=pyo.maximize)
    return m


def market_split(rows: int = 5, n: int = 40, seed: int = 3) -> Any:
    """Cornuejols-Dawande market split: feasible points are very hard to find."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, (rows, n)).astype(float)
    m = pyo.ConcreteModel(name="market_split")
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    xs = list(m.x.values())
    m.split = pyo.Constraint(
        range(rows), rule=lambda m, i: linear_expression(a[i], xs) == np.floor(a[i].sum() / 2)
    )
    m.o = pyo.Objective(expr=0.0)
    return m


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_time_limit_on_mip_gives_flagged_result_within_wall_clock(handoff: str) -> None:
    solver = Solver(knapsack(), handoff=handoff)  # type: ignore[arg-type]
    for _ in range(2):  # a re-solve must get its own second, not a spent cumulative clock
        t0 = time.perf_counter()
        r = solver.solve(SolverOptions(time_limit_s=1, threads=1, log_to="off"))
        wall = time.perf_counter() - t0
        assert 0.8 < wall < 5.0
        assert (r.status, r.termination_condition) == ("time_limit", "maxTimeLimit")
        assert r.has_solution
        assert not r.optimal
        assert r.is_mip
        assert r.objective_bound >= r.objective > 0  # type: ignore[operator]
        assert r.mip_gap is not None
        assert r.mip_gap > 0
        x = r.values(r.model.x)["value"]
        assert (x - x.round()).abs().max() < 1e-6
    with pytest.raises(SolverLimitError):
        r.ensure_optimal()
    with pytest.raises(DualsUnavailableError):
        r.duals(r.model.cap)


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_time_limit_without_feasible_point_raises(handoff: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(SolverLimitError) as info:
        solve(
            market_split(), SolverOptions(time_limit_s=1, threads=1, log_to="off"), handoff=handoff
        )  # type: ignore[arg-type]
    assert time.perf_counter() - t0 < 5.0
    assert info.value.termination_condition == "maxTimeLimit"
    assert "time_limit_s" in info.value.hint


def test_iteration_limit_without_feasible_point_raises() -> None:
    opts = SolverOptions(presolve=False, log_to="off", extra={"simplex_iteration_limit": 0})
    with pytest.raises(SolverLimitError) as info:
        solve(alliance_model(0.5), opts)
    assert info.value.termination_condition == "iterationLimit"


# ----------------------------------------------------------------------------- status matrix
def _raw(tc: TerminationCondition, has_solution: bool) -> Any:
    sol = solve_mod._Solution({}, None, None, ())
    return solve_mod._Raw(tc, has_solution, 1.0 if has_solution else None, 1.0, sol, False,
                          "minimize", 0.0, "")  # fmt: skip


EXPECTED_OUTCOME: dict[str, tuple[Any, Any]] = {
    # termination condition: (with a feasible point, without one)
    "convergenceCriteriaSatisfied": ("optimal", SolverError),
    "maxTimeLimit": ("time_limit", SolverLimitError),
    "iterationLimit": ("iteration_limit", SolverLimitError),
    "objectiveLimit": ("objective_limit", SolverLimitError),
    "interrupted": ("interrupted", SolverLimitError),
    "minStepLength": (SolverError, SolverError),
    "unbounded": (UnboundedModelError, UnboundedModelError),
    "provenInfeasible": (InfeasibleModelError, InfeasibleModelError),
    "locallyInfeasible": (InfeasibleModelError, InfeasibleModelError),
    "infeasibleOrUnbounded": (InfeasibleOrUnboundedModelError, InfeasibleOrUnboundedModelError),
    "error": (SolverError, SolverError),
    "licensingProblems": (SolverError, SolverError),
    "emptyModel": (SolverError, SolverError),
    "unknown": (SolverError, SolverError),
}


def test_status_matrix_covers_every_termination_condition() -> None:
    assert set(EXPECTED_OUTCOME) == set(TerminationCondition.__members__)
    solver = Solver(pyo.ConcreteModel())
    for name, outcomes in EXPECTED_OUTCOME.items():
        for has_solution, expected in zip((True, False), outcomes, strict=True):
            raw = _raw(TerminationCondition[name], has_solution)
            if isinstance(expected, str):
                assert solver._finish(raw, None, 0.0).status == expected
            else:
                with pytest.raises(expected) as info:
                    solver._finish(raw, None, 0.0)
                assert isinstance(info.value, OptimizationError)
                assert info.value.termination_condition == name
                assert info.value.hint


def test_every_highs_model_status_is_mapped() -> None:
    assert set(solve_mod._HIGHS_STATUS) == set(highspy.HighsModelStatus.__members__.values())


def test_infeasible_or_unbounded_is_resolved_without_presolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool] = []

    def fake_run(self: Solver, options: SolverOptions) -> Any:
        calls.append(options.presolve)
        tc = (
            TerminationCondition.infeasibleOrUnbounded
            if options.presolve
            else TerminationCondition.unbounded
        )
        return _raw(tc, False)

    monkeypatch.setattr(Solver, "_run", fake_run)
    with pytest.raises(UnboundedModelError):
        solve(pyo.ConcreteModel(), QUIET)
    assert calls == [True, False]


# ----------------------------------------------------------------------------- duals
def supply_model(sense: str) -> Any:
    """Two suppliers; min: cost of meeting demand; max: margin from selling at most `limit`."""
    m = pyo.ConcreteModel()
    m.S = pyo.Set(initialize=["s1", "s2"])
    m.cap = pyo.Param(m.S, initialize={"s1": 5.0, "s2": 10.0}, mutable=True)
    m.rhs = pyo.Param(initialize=8.0, mutable=True)
    m.x = pyo.Var(m.S, bounds=(0, None))
    m.capacity = pyo.Constraint(m.S, rule=lambda m, s: m.x[s] <= m.cap[s])
    if sense == "min":
        m.demand = pyo.Constraint(expr=m.x["s1"] + m.x["s2"] >= m.rhs)
        m.o = pyo.Objective(expr=m.x["s1"] + 3 * m.x["s2"] + 100)
    else:
        m.demand = pyo.Constraint(expr=m.x["s1"] + m.x["s2"] <= m.rhs)
        m.o = pyo.Objective(expr=9 * m.x["s1"] + 7 * m.x["s2"], sense=pyo.maximize)
    return m


@pytest.mark.parametrize("handoff", HANDOFFS)
@pytest.mark.parametrize("sense", ["min", "max"])
def test_duals_are_finite_differences_of_the_objective(sense: str, handoff: str) -> None:
    eps = 1e-3
    m = supply_model(sense)
    solver = Solver(m, handoff=handoff)  # type: ignore[arg-type]
    base = solver.solve(QUIET)
    checks = [(m.cap["s1"], m.capacity["s1"]), (m.cap["s2"], m.capacity["s2"]), (m.rhs, m.demand)]
    for param, con in checks:
        param.value += eps
        bumped = solver.solve(QUIET).objective
        param.value -= eps
        fd = (bumped - base.objective) / eps  # type: ignore[operator]
        assert base.dual(con) == pytest.approx(fd, abs=1e-6)
    # more capacity at the binding cheap/profitable supplier s1 is worth 2 per t either way
    assert base.marginal_value(m.capacity["s1"]) == pytest.approx(2.0)
    assert base.dual(m.capacity["s1"]) == pytest.approx(-2.0 if sense == "min" else 2.0)
    assert (base.marginal_values(m.capacity)["marginal_value"] >= 0).all()


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_presolve_on_and_off_agree_and_issue_3043_mip(handoff: str) -> None:
    """HiGHS #3043: min 2x + 3z s.t. x + z >= 4.5, z integer has optimum 9 (1.14.0 gave 15)."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.z = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.c = pyo.Constraint(expr=m.x + m.z >= 4.5)
    m.o = pyo.Objective(expr=2 * m.x + 3 * m.z)
    for presolve in (True, False):
        r = solve(m, SolverOptions(presolve=presolve, log_to="off"), handoff=handoff)  # type: ignore[arg-type]
        assert r.objective == pytest.approx(9.0)
        assert r.is_mip
        with pytest.raises(DualsUnavailableError, match="MIP"):
            r.duals(m.c)
    on = solve(alliance_model(0.5), SolverOptions(presolve=True, log_to="off"), handoff=handoff)  # type: ignore[arg-type]
    off = solve(alliance_model(0.5), SolverOptions(presolve=False, log_to="off"), handoff=handoff)  # type: ignore[arg-type]
    assert on.objective == pytest.approx(off.objective, rel=1e-12)


# ----------------------------------------------------------------------------- logging & options
@pytest.mark.parametrize("handoff", HANDOFFS)
def test_solver_log_goes_to_logging_never_stdout(
    handoff: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # CLI tests run earlier leave a root handler on CliRunner's closed stderr; drop it here
    root = logging.getLogger()
    alive = [
        h
        for h in root.handlers
        if not (isinstance(h, logging.StreamHandler) and getattr(h.stream, "closed", False))
    ]
    monkeypatch.setattr(root, "handlers", alive)
    caplog.set_level(logging.DEBUG, logger="resilience.optimize.highs")
    r = solve(alliance_model(0.5), handoff=handoff)  # type: ignore[arg-type]
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "resilience.optimize.highs"]
    assert any("HiGHS" in line for line in lines)
    assert any("Optimal" in line for line in lines)
    assert "HiGHS" in r.log


def test_threads_can_change_between_solves() -> None:
    """HiGHS refuses to run when threads differs from its global scheduler; we reset it."""
    for threads in (1, 2, 1):
        r = solve(alliance_model(0.5), SolverOptions(threads=threads, log_to="off"))
        assert r.status == "optimal"


def test_persistent_solver_resets_options_between_solves() -> None:
    solver = Solver(alliance_model(0.5), handoff="pyomo")
    first = solver._pyomo_kwargs(
        SolverOptions(time_limit_s=2, mip_gap=0.1, extra={"mip_max_nodes": 5})
    )
    assert (first["time_limit"], first["rel_gap"]) == (2.0, 0.1)
    assert first["solver_options"]["mip_max_nodes"] == 5
    second = solver._pyomo_kwargs(SolverOptions())["solver_options"]
    assert second["time_limit"] == highspy.kHighsInf
    assert second["mip_rel_gap"] == pytest.approx(1e-4)
    assert second["threads"] == 0
    assert second["mip_max_nodes"] == highspy.Highs().getOptionValue("mip_max_nodes")[1]


@pytest.mark.parametrize(
    "kwargs",
    [{"time_limit_s": 0}, {"time_limit_s": float("nan")}, {"threads": 0}, {"mip_gap": -1.0},
     {"log_to": "stdout"}, {"extra": {"time_limit": 5.0}}],
)  # fmt: skip
def test_solver_options_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SolverOptions(**kwargs)


def test_solver_options_map_to_highs_names() -> None:
    opts = SolverOptions(
        time_limit_s=3, threads=2, mip_gap=0.01, presolve=False, extra={"random_seed": 7}
    )
    assert opts.highs_options() == {
        "presolve": "off", "time_limit": 3.0, "threads": 2, "mip_rel_gap": 0.01, "random_seed": 7,
    }  # fmt: skip
    # sent to worker processes in sweeps: picklable and hashable
    assert pickle.loads(pickle.dumps(opts)) == opts
    assert hash(opts) == hash(
        SolverOptions(time_limit_s=3, threads=2, mip_gap=0.01, presolve=False)
    )


# ----------------------------------------------------------------------------- model building
def test_add_constraints_rejects_unknown_and_duplicate_keys() -> None:
    m = pyo.ConcreteModel()
    add_variables(m, "x", ARCS.select(X_KEYS))
    rows = pl.DataFrame(
        {"supplier": ["KOR", "JPN"], "commodity": ["lithium"] * 2, "cap_t": [1.0, 2.0]}
    )
    unknown = r"unknown constraint keys \('AUS', 'lithium'\), \('CHN', 'lithium'\)"
    with pytest.raises(ModelBuildError, match=unknown):
        add_constraints(m, "c1", rows, keys=["supplier", "commodity"], terms=ARCS, var=m.x,
                        var_keys=X_KEYS, coef=1.0, ub="cap_t")  # fmt: skip
    bad_terms = ARCS.with_columns(commodity=pl.lit("cobalt"))
    cobalt_rows = rows.with_columns(commodity=pl.lit("cobalt"))
    with pytest.raises(ModelBuildError, match="no variable 'x' for keys"):
        add_constraints(m, "c2", cobalt_rows, keys=["supplier", "commodity"],
                        terms=bad_terms.filter(pl.col("supplier").is_in(["KOR", "JPN"])), var=m.x,
                        var_keys=X_KEYS, coef=1.0, ub="cap_t")  # fmt: skip
    with pytest.raises(ModelBuildError, match="duplicate keys"):
        add_variables(m, "y", pl.DataFrame({"k": ["a", "a"]}))
    kor_jpn = ARCS.filter(pl.col("supplier").is_in(["KOR", "JPN"]))
    with pytest.raises(ModelBuildError, match="coefficient column 'coef'"):
        add_constraints(m, "c3", rows, keys=["supplier", "commodity"], terms=kor_jpn, var=m.x,
                        var_keys=X_KEYS, ub="cap_t")  # fmt: skip
    with pytest.raises(ModelBuildError, match="without any bound"):
        add_constraints(m, "c4", rows, keys=["supplier", "commodity"], terms=kor_jpn, var=m.x,
                        var_keys=X_KEYS, coef=1.0)  # fmt: skip


def test_index_names_and_unused_variables() -> None:
    m = alliance_model(0.5)
    assert index_names(m.x) == X_KEYS
    assert index_names(m.capacity) == ["supplier", "commodity"]
    m.S = pyo.Set(initialize=["a", "b"])
    m.unused = pyo.Var(m.S)
    m.plain = pyo.Var([(1, "p"), (2, "q")])
    assert index_names(m.unused) == ["S"]
    assert index_names(m.plain) == ["index_0", "index_1"]
    r = solve(m, QUIET)
    assert r.values(m.unused)["value"].null_count() == 2  # not part of the solved model
    assert r.values(m.plain).columns == ["index_0", "index_1", "value"]


def test_load_into_model() -> None:
    r = solve(alliance_model(0.5), QUIET)
    r.load_into_model()
    assert pyo.value(r.model.cost) == pytest.approx(r.objective)


@pytest.mark.parametrize("handoff", HANDOFFS)
def test_constraint_without_any_term_is_named_in_the_explanation(handoff: str) -> None:
    """A demand no supplier can serve is a row with no variables; it must not vanish."""
    arcs = ARCS.filter(pl.col("supplier") == "AUS")
    demand = pl.DataFrame(
        {"member": ["USA", "JPN"], "commodity": ["lithium"] * 2, "demand_t": [10.0, 5.0]}
    )
    m = pyo.ConcreteModel()
    add_variables(m, "x", arcs.select(X_KEYS))
    add_constraints(m, "demand", demand, keys=["member", "commodity"], terms=arcs, var=m.x,
                    var_keys=X_KEYS, coef=1.0, lb="demand_t", ub="demand_t")  # fmt: skip
    m.cost = pyo.Objective(expr=expression_from_frame(arcs, m.x, X_KEYS, "cost_usd_per_t"))

    def words(family: str, index: tuple[Any, ...]) -> str | None:
        return f"member {index[0]} needs {index[1]} but no supplier can deliver it"

    with pytest.raises(InfeasibleModelError) as info:
        solve(m, QUIET, explain=words, handoff=handoff)  # type: ignore[arg-type]
    assert info.value.explanation.constraints == (("demand", ("JPN", "lithium")),)  # type: ignore[union-attr]
    assert "member JPN needs lithium but no supplier can deliver it" in str(info.value)
