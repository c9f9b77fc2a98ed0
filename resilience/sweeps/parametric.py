r"""Re-solve one built model with only its changed numbers (persistent HiGHS, warm start).

A sweep solves the same model many times for different knob values. Rebuilding the
Pyomo model for every point costs far more than HiGHS takes to re-solve it, so a
:class:`ParametricModel` builds the model a few times up front, learns how every number
of the linear programme depends on the swept knobs, keeps *one* HiGHS instance, and per
point only writes the numbers that move and re-solves from a fixed starting basis.

How the numbers are learnt
--------------------------
Write :math:`N(v) \in \mathbb{R}^E` for every number of the LP built at knob values
:math:`v` — column costs, column bounds, row bounds, matrix coefficients (over the union
of the sparsity patterns), the objective offset — plus the auxiliary numbers the metrics
need (the probability :math:`\pi_w` of each shortfall column). Every swept knob
:math:`k` enters the model through products of affine functions of one knob each
(:math:`\alpha d`, :math:`\pi_w v_c u`, :math:`(1 + \text{premium}) p`...), so :math:`N`
is *multilinear* in :math:`t_k = (v_k - a_k)/(b_k - a_k)` for two interior probe values
:math:`a_k \ne b_k` (:data:`resilience.sweeps.knobs.PARAMETRIC_KNOBS`):

.. math::

   N(t) = \sum_{S \subseteq K} c_S \prod_{k \in S} t_k,
   \qquad c_S = \sum_{T \subseteq S} (-1)^{|S| - |T|}\, N(\mathbb{1}_T),

where :math:`N(\mathbb{1}_T)` is the build with the knobs of :math:`T` at :math:`b` and
the others at :math:`a` (Möbius inversion over the corners of the unit cube). Only the
corners an entry needs are built: entry :math:`e` depends on the knobs
:math:`D_e = \{k : N_e(\mathbb{1}_{\{k\}}) \ne N_e(\mathbb{1}_\emptyset)\}` and needs the
corners :math:`T \subseteq D_e`; in the shipped families no entry depends on more than
two knobs. The result is then *checked* against one more build at a random interior
point: a knob that enters non-linearly, or a change of the model's structure (a row or
column that appears or disappears), raises :class:`NotParametricError`, and the sweep
rebuilds every point instead.

Knob values at the edge of a knob's range may build a model with fewer rows or columns
than the interior ones (no friend-shoring row at :math:`\alpha = 1`, no partial-delivery
variable at availability 0 or 1); the interpolated model keeps them with numbers that
make them inactive (:math:`\sum_{s \notin A} x \le d`, :math:`y \le 0 \cdot x`), which
has the same optimal value: the test suite checks this against rebuilds over random knob
vectors.

Warm start and determinism
--------------------------
Every point starts from the optimal basis of the sweep's *reference point* (every knob at
the middle of its grid values), never from the previous point's, so a point's answer
does not depend on which points were solved before it on the same worker: sequential,
process-parallel and Dask sweeps give identical frames.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import polars as pl

from resilience.errors import ResilienceError
from resilience.optimize.compile import CompiledModel, compile_model
from resilience.optimize.diversify import DiversifyPolicy, build_diversify
from resilience.optimize.lp import index_frame
from resilience.optimize.solve import SolverOptions, _ensure_threads
from resilience.optimize.stress import StressSettings, build_stress
from resilience.prepare import prepare_run
from resilience.scenarios import StudySpec
from resilience.study import family_inputs
from resilience.sweeps.knobs import DISRUPTION_KNOBS, PARAMETRIC_KNOBS, Point

__all__ = [
    "PARAMETRIC_FAMILIES",
    "BuiltPoint",
    "NotParametricError",
    "ParametricModel",
    "build_point",
    "solve_built",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
#: Model families whose model is one LP a sweep can re-solve persistently.
PARAMETRIC_FAMILIES = ("diversify", "stress")
#: Metrics every sweep row carries (USD, t, share, days).
METRICS = (
    "objective_usd",
    "cost_usd",
    "holding_cost_usd",
    "expected_shortfall_t",
    "expected_shortfall_usd",
    "non_allied_share",
    "stock_days",
)
_CHECK_RTOL = 1e-9
_MAX_CORNERS = 64


class NotParametricError(ResilienceError, ValueError):
    """The swept knobs change the model's structure or enter it non-linearly."""


# ----------------------------------------------------------------------------- one build
@dataclass(frozen=True)
class BuiltPoint:
    r"""The LP of one point, with what the metrics need.

    ``col_keys``/``row_keys`` name every column and row as ``(component, index)``;
    ``masks`` mark the columns of the contracts ``x`` (and the non-allied ones), stock
    ``k`` and shortfall ``u``; ``u_probability`` is :math:`\pi_w` on the shortfall
    columns; ``k_demand_t`` the annual demand behind each stock column.
    """

    compiled: CompiledModel | None  # None once shipped to a worker (no Pyomo objects)
    col_keys: list[tuple[str, Any]]
    row_keys: list[tuple[str, Any]]
    masks: Mapping[str, npt.NDArray[np.bool_]]
    u_probability: FloatArray
    k_demand_t: FloatArray
    build_s: float


def _keys(objects: Iterable[Any]) -> list[tuple[str, Any]]:
    return [(o.parent_component().local_name, o.index()) for o in objects]


def _column_values(
    compiled: CompiledModel, component: Any, frame: pl.DataFrame, column: str
) -> FloatArray:
    """``frame[column]`` joined to ``component``'s index, placed at its columns."""
    out = np.zeros(compiled.num_cols)
    keys = index_frame(component)
    on = [c for c in keys.columns if c in frame.columns]
    joined = keys.with_row_index("_i").join(frame.select(*on, column), on=on, how="left")
    joined = joined.sort("_i")
    for data, value in zip(component.values(), joined[column].to_list(), strict=True):
        col = compiled.column_of.get(id(data))
        if col is not None and value is not None:
            out[col] = value
    return out


def _mask(compiled: CompiledModel, objects: Iterable[Any]) -> npt.NDArray[np.bool_]:
    out = np.zeros(compiled.num_cols, dtype=bool)
    cols = [compiled.column_of[id(o)] for o in objects if id(o) in compiled.column_of]
    out[cols] = True
    return out


def build_point(
    study: StudySpec,
    scenario: str | None,
    point: Point,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
) -> BuiltPoint:
    """Build and compile the model of ``study`` under ``scenario`` at ``point``."""
    if study.model not in PARAMETRIC_FAMILIES:
        raise NotParametricError(
            f"the {study.model} family solves several models per run; only "
            f"{' and '.join(PARAMETRIC_FAMILIES)} can be re-solved persistently"
        )
    t0 = time.perf_counter()
    prep = prepare_run(
        study, scenario, policy=point.policy, disruption=point.disruption, trade=trade
    )
    data, inputs = family_inputs(prep)
    if isinstance(inputs, DiversifyPolicy):
        model = build_diversify(data, inputs)
        compiled = compile_model(model)
        u_probability = np.zeros(compiled.num_cols)
        k_demand = np.zeros(compiled.num_cols)
        stocks: list[Any] = []
        shortfalls: list[Any] = []
    else:
        assert isinstance(inputs, StressSettings)
        model, sets = build_stress(data, prep.scenarios, inputs)
        compiled = compile_model(model)
        u_probability = _column_values(compiled, model.u, sets.probabilities, "probability")
        k_demand = _column_values(compiled, model.k, data.demand, "demand_t")
        stocks, shortfalls = list(model.k.values()), list(model.u.values())
    allies = set(
        data.arcs.filter(pl.col("is_ally"))
        .select("member_iso3", "supplier_iso3", "commodity", "stage")
        .iter_rows()
    )
    arcs = list(model.x.items())
    masks = {
        "x": _mask(compiled, (v for _, v in arcs)),
        "x_non_allied": _mask(compiled, (v for i, v in arcs if tuple(i) not in allies)),
        "k": _mask(compiled, stocks),
        "u": _mask(compiled, shortfalls),
    }
    return BuiltPoint(
        compiled,
        _keys(compiled.columns),
        _keys(compiled.rows),
        masks,
        u_probability,
        k_demand,
        time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- metrics
def metrics(
    built: BuiltPoint,
    col_value: FloatArray,
    col_cost: FloatArray,
    u_probability: FloatArray,
    objective: float,
) -> dict[str, float | None]:
    """The sweep metrics of a solution (USD, t, share of tonnes, days of demand)."""
    m = built.masks
    x = col_value[m["x"]]
    total = float(x.sum())
    out: dict[str, float | None] = dict.fromkeys(METRICS)
    out["objective_usd"] = objective
    out["cost_usd"] = float(col_cost[m["x"]] @ x)
    out["non_allied_share"] = float(col_value[m["x_non_allied"]].sum()) / total if total else None
    if m["k"].any():
        k = col_value[m["k"]]
        out["holding_cost_usd"] = float(col_cost[m["k"]] @ k)
        demand = float(built.k_demand_t[m["k"]].sum())
        out["stock_days"] = float(k.sum()) / demand * 365.0 if demand else None
    if m["u"].any():
        u = col_value[m["u"]]
        out["expected_shortfall_usd"] = float(col_cost[m["u"]] @ u)
        out["expected_shortfall_t"] = float(u_probability[m["u"]] @ u)
    return out


_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
}


def _highs(options: SolverOptions | None) -> highspy.Highs:
    options = options or SolverOptions()
    _ensure_threads(options.threads)  # HiGHS's thread pool is process-wide
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in options.highs_options().items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS rejected option {name}={value!r}")
    return h


def _outcome(
    h: highspy.Highs, built: BuiltPoint, cost: FloatArray, u_probability: FloatArray
) -> dict[str, Any]:
    status = h.getModelStatus()
    name = _STATUS.get(status, h.modelStatusToString(status).lower().replace(" ", "_"))
    row: dict[str, Any] = {"status": name, **dict.fromkeys(METRICS), "reason": None}
    if name == "optimal":
        value = np.asarray(h.getSolution().col_value, dtype=float)
        objective = float(h.getInfo().objective_function_value)
        row |= metrics(built, value, cost, u_probability, objective)
    else:
        row["reason"] = f"HiGHS: {h.modelStatusToString(status)}"
    return row


def solve_built(built: BuiltPoint, options: SolverOptions | None = None) -> dict[str, Any]:
    """Solve one freshly built point cold (the *rebuild* route of a sweep)."""
    assert built.compiled is not None
    lp = built.compiled.lp
    if built.compiled.num_cols == 0:
        raise NotParametricError("the model has no columns")
    h = _highs(options)
    h.passModel(lp)
    h.run()
    return _outcome(h, built, np.asarray(lp.col_cost_, dtype=float), built.u_probability)


# ----------------------------------------------------------------------------- numbers
@dataclass(frozen=True)
class _Layout:
    n: int
    m: int
    pattern: npt.NDArray[np.int64]  # sorted linear keys row * n + col of the union pattern

    @property
    def size(self) -> int:
        return 3 * self.n + 2 * self.m + len(self.pattern) + 1 + self.n


def _triplets(lp: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
    starts = np.asarray(lp.a_matrix_.start_, dtype=np.int64)
    rows = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
    cols = np.asarray(lp.a_matrix_.index_, dtype=np.int64)
    return rows, cols, np.asarray(lp.a_matrix_.value_, dtype=float)


class _Aligner:
    """Places the numbers of any build in the base build's column and row order."""

    def __init__(self, base: BuiltPoint) -> None:
        self.base = base
        self.col_pos = {k: i for i, k in enumerate(base.col_keys)}
        self.row_pos = {k: i for i, k in enumerate(base.row_keys)}

    def _perm(self, keys: list[tuple[str, Any]], pos: dict[Any, int], what: str) -> Any:
        if len(keys) != len(pos):
            raise NotParametricError(f"the number of {what} changes ({len(pos)} -> {len(keys)})")
        try:
            return np.fromiter((pos[k] for k in keys), dtype=np.int64, count=len(keys))
        except KeyError as exc:
            raise NotParametricError(f"{what[:-1]} {exc.args[0]} appears") from exc

    def linear_keys(self, built: BuiltPoint) -> tuple[Any, Any, npt.NDArray[np.int64], FloatArray]:
        pc = self._perm(built.col_keys, self.col_pos, "columns")
        pr = self._perm(built.row_keys, self.row_pos, "rows")
        assert built.compiled is not None
        r, c, v = _triplets(built.compiled.lp)
        return pc, pr, pr[r] * len(self.col_pos) + pc[c], v

    def numbers(self, built: BuiltPoint, layout: _Layout) -> FloatArray:
        pc, pr, keys, vals = self.linear_keys(built)
        assert built.compiled is not None
        lp = built.compiled.lp
        n, m = layout.n, layout.m
        out = np.zeros(layout.size)
        for j, arr in enumerate((lp.col_cost_, lp.col_lower_, lp.col_upper_)):
            out[j * n + pc] = np.asarray(arr, dtype=float)
        for j, arr in enumerate((lp.row_lower_, lp.row_upper_)):
            out[3 * n + j * m + pr] = np.asarray(arr, dtype=float)
        a0 = 3 * n + 2 * m
        out[a0 + np.searchsorted(layout.pattern, keys)] = vals
        out[a0 + len(layout.pattern)] = float(lp.offset_)
        out[a0 + len(layout.pattern) + 1 + pc] = built.u_probability
        return out


# ----------------------------------------------------------------------------- the model
class ParametricModel:
    """One model, many knob values: persistent HiGHS with only changed numbers re-sent.

    Parameters
    ----------
    study, scenario
        The study and scenario expression the sweep runs.
    knobs
        The swept knob names (each in :data:`~resilience.sweeps.knobs.PARAMETRIC_KNOBS`).
    reference
        The point whose optimal basis starts every solve (the sweep engine takes the
        middle of the grid).
    probes
        Two distinct values per knob at which the model is built (default:
        :data:`~resilience.sweeps.knobs.PARAMETRIC_KNOBS`; the engine takes them inside
        the grid's range, where every build is one a run accepts).
    trade, options
        Trade table (default: shipped) and solver options.

    Raises
    ------
    NotParametricError
        A knob outside :data:`PARAMETRIC_KNOBS`, a family other than diversify/stress,
        or numbers that the multilinear model does not reproduce at the check point.
    """

    def __init__(
        self,
        study: StudySpec,
        scenario: str | None,
        knobs: Sequence[str],
        *,
        reference: Point,
        probes: Mapping[str, tuple[float, float]] | None = None,
        trade: pl.LazyFrame | pl.DataFrame | None = None,
        options: SolverOptions | None = None,
        seed: int = 20261122,
    ) -> None:
        bad = [k for k in knobs if k not in PARAMETRIC_KNOBS]
        if bad:
            raise NotParametricError(
                f"knobs {', '.join(bad)} change the model's structure or enter it "
                f"non-linearly; persistent re-solves take {', '.join(PARAMETRIC_KNOBS)}"
            )
        t0 = time.perf_counter()
        self.study, self.scenario, self.knobs = study, scenario, list(knobs)
        self.trade, self.options = trade, options
        chosen = {k: (probes or {}).get(k, PARAMETRIC_KNOBS[k]) for k in knobs}
        if any(a == b for a, b in chosen.values()):
            raise ValueError(f"probe values must differ: {chosen}")
        self.low = np.array([chosen[k][0] for k in knobs])
        self.high = np.array([chosen[k][1] for k in knobs])
        builds: dict[frozenset[int], BuiltPoint] = {frozenset(): self._build(self.low)}
        self.base = builds[frozenset()]
        assert self.base.compiled is not None
        self._sense = self.base.compiled.sense
        align = _Aligner(self.base)
        for j in range(len(knobs)):
            builds[frozenset([j])] = self._build(self._corner({j}))
        layout = self._layout(align, builds.values())
        numbers = {s: align.numbers(b, layout) for s, b in builds.items()}
        depends = self._dependencies(numbers, len(knobs))
        for corner in self._corners(depends):
            if corner not in builds:
                builds[corner] = self._build(self._corner(corner))
        layout = self._layout(align, builds.values())
        numbers = {s: align.numbers(b, layout) for s, b in builds.items()}
        self.layout, self._align = layout, align
        self._fit(numbers, depends)
        self._check(seed)
        self._plan_pushes()
        self._presolve = "on" if (options or SolverOptions()).presolve else "off"
        self._reference = self._base_numbers.copy()
        self._reference[self._varying] = self.evaluate(self._t(reference))
        self._start()
        self.token = uuid.uuid4().hex  # names this learnt model in the workers' caches
        self.setup_s = time.perf_counter() - t0
        self.builds = len(builds) + 1
        log.info(
            "parametric %s model: %d builds, %d of %d numbers move with %s (%.2f s)",
            study.model,
            self.builds,
            len(self._varying),
            layout.size,
            ", ".join(knobs),
            self.setup_s,
        )

    # -- building
    def _corner(self, ones: Iterable[int]) -> FloatArray:
        v = self.low.copy()
        for j in ones:
            v[j] = self.high[j]
        return v

    def _point(self, values: FloatArray) -> Point:
        named = dict(zip(self.knobs, (float(x) for x in values), strict=True))
        policy = {k: v for k, v in named.items() if k not in DISRUPTION_KNOBS}
        return Point(policy, {k: v for k, v in named.items() if k in DISRUPTION_KNOBS})

    def _build(self, values: FloatArray) -> BuiltPoint:
        return build_point(self.study, self.scenario, self._point(values), self.trade)

    def _layout(self, align: _Aligner, builds: Iterable[BuiltPoint]) -> _Layout:
        keys = [align.linear_keys(b)[2] for b in builds]
        return _Layout(len(align.col_pos), len(align.row_pos), np.unique(np.concatenate(keys)))

    @staticmethod
    def _dependencies(
        numbers: Mapping[frozenset[int], FloatArray], k: int
    ) -> npt.NDArray[np.bool_]:
        base = numbers[frozenset()]
        depends = np.zeros((k, base.size), dtype=bool)
        for j in range(k):
            other = numbers[frozenset([j])]
            both_inf = np.isinf(base) & np.isinf(other) & (np.sign(base) == np.sign(other))
            depends[j] = (other != base) & ~both_inf
        return depends

    @staticmethod
    def _corners(depends: npt.NDArray[np.bool_]) -> list[frozenset[int]]:
        sets = {frozenset(np.flatnonzero(col).tolist()) for col in depends.T if col.sum() > 1}
        corners: set[frozenset[int]] = set()
        for s in sets:
            for r in range(2, len(s) + 1):
                corners.update(frozenset(c) for c in itertools.combinations(sorted(s), r))
        if len(corners) > _MAX_CORNERS:
            raise NotParametricError(f"{len(corners)} knob interactions: too many to learn")
        return sorted(corners, key=lambda c: (len(c), sorted(c)))

    def _fit(
        self, numbers: Mapping[frozenset[int], FloatArray], depends: npt.NDArray[np.bool_]
    ) -> None:
        base = numbers[frozenset()]
        varying = np.flatnonzero(depends.any(axis=0))
        if not np.isfinite(base[varying]).all() or not all(
            np.isfinite(numbers[s][varying]).all() for s in numbers
        ):
            raise NotParametricError("a bound moves between finite and infinite")
        self._base_numbers = base
        self._varying = varying
        self._terms: list[tuple[list[int], FloatArray]] = []
        for s in sorted(numbers, key=lambda c: (len(c), sorted(c))):
            if not s:
                continue
            need = depends[sorted(s)][:, varying].all(axis=0)
            coef = np.zeros(len(varying))
            for r in range(len(s) + 1):
                for t in itertools.combinations(sorted(s), r):
                    sign = (-1.0) ** (len(s) - r)
                    coef += sign * numbers[frozenset(t)][varying]
            coef[~need] = 0.0
            if coef.any():
                self._terms.append((sorted(s), coef))

    def _t(self, point: Point | Mapping[str, float]) -> FloatArray:
        values = point.values() if isinstance(point, Point) else point
        v = np.array([float(values[k]) for k in self.knobs])
        return (v - self.low) / (self.high - self.low)

    def evaluate(self, t: FloatArray) -> FloatArray:
        r"""The varying numbers at :math:`t` (:math:`\sum_S c_S \prod_{k\in S} t_k`)."""
        out = self._base_numbers[self._varying].copy()
        for s, coef in self._terms:
            out += coef * math.prod(float(t[j]) for j in s)
        return out

    def _check(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        t = rng.uniform(0.25, 0.75, size=len(self.knobs))
        built = self._build(self.low + t * (self.high - self.low))
        actual = self._align.numbers(built, self.layout)
        predicted = self._base_numbers.copy()
        predicted[self._varying] = self.evaluate(t)
        finite = np.isfinite(actual) & np.isfinite(predicted)
        same_inf = ~finite & (actual == predicted)
        diff = np.abs(np.where(finite, actual, 0.0) - np.where(finite, predicted, 0.0))
        err = diff > _CHECK_RTOL * (1.0 + np.abs(np.where(finite, actual, 0.0)))
        bad = np.flatnonzero((finite & err) | (~finite & ~same_inf))
        if bad.size:
            raise NotParametricError(
                f"{', '.join(self.knobs)} do not enter the {self.study.model} model "
                f"multilinearly: {bad.size} numbers differ from a rebuild at the check point "
                f"(first: {self._describe(int(bad[0]))})"
            )

    def _describe(self, e: int) -> str:
        n, m = self.layout.n, self.layout.m
        cols, rows = self.base.col_keys, self.base.row_keys
        if e < 3 * n:
            return f"{('cost', 'lower bound', 'upper bound')[e // n]} of {cols[e % n]}"
        e -= 3 * n
        if e < 2 * m:
            return f"{('lower', 'upper')[e // m]} bound of row {rows[e % m]}"
        e -= 2 * m
        if e < len(self.layout.pattern):
            r, c = divmod(int(self.layout.pattern[e]), n)
            return f"coefficient of {cols[c]} in {rows[r]}"
        return "objective offset" if e == len(self.layout.pattern) else "a shortfall probability"

    def verify(self, points: Iterable[Point], *, rtol: float = 1e-7) -> None:
        """Solve ``points`` here and rebuilt; a different status or optimum raises.

        The multilinear check covers the interior of the probes; the sweep engine calls
        this at every knob's extreme grid values, where a rebuilt model may differ in
        more than its numbers (a supplier whose capacity runs out, a row left out).
        """
        for point in points:
            warm = self.solve(point)
            try:
                built = build_point(self.study, self.scenario, point, self.trade)
            except ResilienceError as exc:
                raise NotParametricError(f"a rebuild at an edge of the grid fails: {exc}") from exc
            cold = solve_built(built, self.options)
            same = warm["status"] == cold["status"]
            if same and cold["status"] == "optimal":
                a, b = warm["objective_usd"], cold["objective_usd"]
                same = abs(a - b) <= rtol * max(1.0, abs(a), abs(b))
            if not same:
                shown = ", ".join(f"{k}={v:g}" for k, v in point.values().items())
                raise NotParametricError(
                    f"at {shown} the re-solved model ({warm['status']}, "
                    f"{warm['objective_usd']}) differs from a rebuild ({cold['status']}, "
                    f"{cold['objective_usd']})"
                )

    # -- solving
    def _highs_lp(self, numbers: FloatArray) -> Any:
        """A HiGHS LP of ``numbers`` (the union pattern, row-wise)."""
        n, m, pattern = self.layout.n, self.layout.m, self.layout.pattern
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = (
            numbers[:n],
            numbers[n : 2 * n],
            numbers[2 * n : 3 * n],
        )
        lp.row_lower_, lp.row_upper_ = (
            numbers[3 * n : 3 * n + m],
            numbers[3 * n + m : 3 * n + 2 * m],
        )
        a0 = 3 * n + 2 * m
        rows, cols = np.divmod(pattern, n)  # pattern is sorted by row, then column
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
        lp.a_matrix_.start_ = np.searchsorted(rows, np.arange(m + 1)).astype(np.int32)
        lp.a_matrix_.index_ = cols.astype(np.int32)
        lp.a_matrix_.value_ = numbers[a0 : a0 + len(pattern)]
        lp.offset_ = float(numbers[a0 + len(pattern)])
        if self._sense == "maximize":
            lp.sense_ = highspy.ObjSense.kMaximize
        return lp

    def _start(self) -> None:
        """HiGHS holding the reference point's LP, solved once for its basis."""
        self._h = _highs(self.options)
        self._h.passModel(self._highs_lp(self._reference))
        self._h.run()
        self._basis = None
        if self._h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            self._basis = self._h.getBasis()
        else:
            log.info("reference point not optimal: every point of the sweep starts cold")

    def __getstate__(self) -> dict[str, Any]:
        """What a worker needs (no Pyomo model, no HiGHS instance: a few hundred kB)."""
        state = self.__dict__.copy()
        state["base"] = dataclasses.replace(self.base, compiled=None)
        for name in ("_h", "_basis", "_align"):
            state[name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; HiGHS starts on the first solve (same reference solve as here)."""
        self.__dict__.update(state)

    def solve(self, point: Point | Mapping[str, float]) -> dict[str, Any]:
        """Write the point's numbers into HiGHS, start from the reference basis, solve."""
        if self._h is None:
            self._start()
        numbers = self._base_numbers.copy()
        numbers[self._varying] = self.evaluate(self._t(point))
        self._push(numbers)
        if self._basis is not None:
            self._h.setBasis(self._basis)
        else:
            self._h.clearSolver()
        self._h.run()
        if self._h.getModelStatus() == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            self._h.clearSolver()
            self._h.setOptionValue("presolve", "off")
            self._h.run()
            self._h.setOptionValue("presolve", self._presolve)
        n = self.layout.n
        a0 = 3 * n + 2 * self.layout.m + len(self.layout.pattern)
        return _outcome(self._h, self.base, numbers[:n], numbers[a0 + 1 :])

    def _plan_pushes(self) -> None:
        """Which columns, rows and coefficients move (fixed for the sweep)."""
        n, m, pattern = self.layout.n, self.layout.m, self.layout.pattern
        idx = self._varying
        a0 = 3 * n + 2 * m
        self._cost_cols = idx[idx < n].astype(np.int32)
        self._bound_cols = np.unique(idx[(idx >= n) & (idx < 3 * n)] % n).astype(np.int32)
        self._bound_rows = np.unique((idx[(idx >= 3 * n) & (idx < a0)] - 3 * n) % m).astype(
            np.int32
        )
        coef = idx[(idx >= a0) & (idx < a0 + len(pattern))]
        r, c = np.divmod(pattern[coef - a0], n)
        self._coefs = list(zip(r.tolist(), c.tolist(), coef.tolist(), strict=True))
        self._offset_at = a0 + len(pattern) if a0 + len(pattern) in set(idx.tolist()) else None

    def _push(self, numbers: FloatArray) -> None:
        """Send the varying numbers to HiGHS, grouped by kind."""
        n, m, h = self.layout.n, self.layout.m, self._h
        if self._cost_cols.size:
            h.changeColsCost(self._cost_cols.size, self._cost_cols, numbers[self._cost_cols])
        cols = self._bound_cols
        if cols.size:
            h.changeColsBounds(cols.size, cols, numbers[n + cols], numbers[2 * n + cols])
        rows = self._bound_rows
        if rows.size:
            lower, upper = numbers[3 * n + rows], numbers[3 * n + m + rows]
            h.changeRowsBounds(rows.size, rows, lower, upper)  # type: ignore[attr-defined]
        for r, c, e in self._coefs:
            h.changeCoeff(r, c, float(numbers[e]))
        if self._offset_at is not None:
            h.changeObjectiveOffset(float(numbers[self._offset_at]))
