"""Benchmark a 1 000-scenario sweep: persistent re-solve vs rebuild vs the highspy floor.

The shipped study ``models/g7_critical_minerals.yaml`` (stress model) under the scenario
``china_graphite_controls`` is solved at every point of a grid of parametric knobs
(default 10 x 10 x 10 over ``min_stock_days``, ``availability`` and ``probability``).
Four per-point variants run in one warm process, interleaved point by point (each repeat
visits the points in a fresh random order and rotates the order of the variants):

``persistent``
    :class:`resilience.sweeps.ParametricModel` set up once (setup time and number of
    builds reported apart), then ``model.solve(point)``: evaluate the multilinear
    numbers, push the changed ones into the one HiGHS instance, set the reference
    basis, run, read the solution and compute the sweep metrics.
``persistent (split)``
    The same steps called one by one with ``time.perf_counter`` between them
    (evaluate, push, setBasis, run, outcome), to show where the time goes.
``floor``
    The same LP straight in ``highspy``: a second ``Highs`` instance gets the reference
    LP once and solves it for its optimal basis; each point's changed numbers are
    computed *before* the clock starts (from ``model.evaluate`` and the push plan the
    model made); timed are only HiGHS's calls for a warm bound-change re-solve:
    ``changeColsCost``/``changeColsBounds``/``changeRowsBounds``/``changeCoeff``,
    ``setBasis(reference basis)``, ``run``, ``getSolution`` (primal values to NumPy) and
    the objective value. Its objective must equal the persistent one at every point.
``rebuild``
    ``solve_built(build_point(study, scenario, point))`` on a fixed random sample of the
    points (default 50: all 1 000 would take two to three minutes per repeat).

Then the engine end to end, full grid, wall time including process start and every
worker's setup: ``sweep(..., backend="sequential")``, ``backend="processes"`` with
``workers=1`` and with ``workers=2`` (alternated, repeated; the engine's model cache is
cleared before each call so every call pays its setup).

    python benchmarks/bench_sweep.py --points 1000 --repeats 5 --json out/sweep.json
    python benchmarks/bench_sweep.py --quick          # smoke run: 27 points, 1 repeat
    python benchmarks/bench_sweep.py --reference center --no-engine   # warm start mid-grid

No timing is asserted anywhere; the benchmark stops only if the floor and the persistent
model disagree (status, or objective beyond ``--rtol``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
from _machine import machine  # benchmarks/ is on sys.path when a script runs

from resilience.optimize.solve import SolverOptions
from resilience.scenarios import StudySpec, load_study
from resilience.sweeps import engine, sweep
from resilience.sweeps.knobs import Point, grid_points
from resilience.sweeps.parametric import (
    ParametricModel,
    _outcome,
    build_point,
    solve_built,
)

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "models" / "g7_critical_minerals.yaml"
SCENARIO = "china_graphite_controls"
#: Knob -> (lowest, highest) value of the grid; each axis gets ``side`` evenly spaced values
#: (both ends included: availability 0 and 1 are the edges where the rebuilt model loses
#: its partial-delivery rows). ``probability`` is the annual probability of the scenario's
#: one event (the calm year gets the rest).
AXES: dict[str, tuple[float, float]] = {
    "min_stock_days": (0.0, 90.0),
    "availability": (0.0, 1.0),
    "probability": (0.02, 0.5),
}
REBUILD_ATOL = 1e-6  # relative objective difference above which a rebuild "disagrees"
SPLITS = ("evaluate", "push", "set_basis", "run", "outcome")
PER_POINT = ("persistent", "split", "floor")
BACKENDS = ("sequential", "processes_1", "processes_2")

FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------- grid
def make_grid(points: int) -> dict[str, list[float]]:
    """A cube grid of about ``points`` points (side = round(cube root), at least 2)."""
    side = max(2, round(points ** (1 / 3)))
    return {
        k: [round(float(x), 6) for x in np.linspace(lo, hi, side)] for k, (lo, hi) in AXES.items()
    }


# ----------------------------------------------------------------------------- floor
@dataclass
class FloorPoint:
    """One point's changed numbers, ready for HiGHS (computed before the clock)."""

    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    coefs: list[tuple[int, int, float]]
    offset: float | None


@dataclass
class Floor:
    """The reference LP in a bare ``highspy.Highs`` with its optimal basis."""

    h: highspy.Highs
    basis: Any
    cost_cols: npt.NDArray[np.int32]
    bound_cols: npt.NDArray[np.int32]
    bound_rows: npt.NDArray[np.int32]
    points: list[FloorPoint] = field(default_factory=list)


def make_floor(model: ParametricModel, reference: Point, points: list[Point]) -> Floor:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in SolverOptions().highs_options().items():
        h.setOptionValue(name, value)
    numbers = model._base_numbers.copy()
    numbers[model._varying] = model.evaluate(model._t(reference))
    h.passModel(model._highs_lp(numbers))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SystemExit("the reference point is not optimal: no warm basis for the floor")
    floor = Floor(h, h.getBasis(), model._cost_cols, model._bound_cols, model._bound_rows)
    ours = model._basis
    if ours is None or list(ours.col_status) != list(floor.basis.col_status):
        raise SystemExit("the floor's reference basis differs from the persistent model's")
    n, m = model.layout.n, model.layout.m
    for p in points:
        numbers = model._base_numbers.copy()
        numbers[model._varying] = model.evaluate(model._t(p))
        bc, br = floor.bound_cols, floor.bound_rows
        floor.points.append(
            FloorPoint(
                cost=numbers[floor.cost_cols].copy(),
                col_lower=numbers[n + bc].copy(),
                col_upper=numbers[2 * n + bc].copy(),
                row_lower=numbers[3 * n + br].copy(),
                row_upper=numbers[3 * n + m + br].copy(),
                coefs=[(r, c, float(numbers[e])) for r, c, e in model._coefs],
                offset=None if model._offset_at is None else float(numbers[model._offset_at]),
            )
        )
    return floor


def solve_floor(floor: Floor, q: FloorPoint) -> tuple[str, float | None]:
    """HiGHS's own work for a warm re-solve after a bound change (the timed part)."""
    h = floor.h
    if floor.cost_cols.size:
        h.changeColsCost(floor.cost_cols.size, floor.cost_cols, q.cost)
    if floor.bound_cols.size:
        h.changeColsBounds(floor.bound_cols.size, floor.bound_cols, q.col_lower, q.col_upper)
    if floor.bound_rows.size:
        h.changeRowsBounds(  # type: ignore[attr-defined]
            floor.bound_rows.size, floor.bound_rows, q.row_lower, q.row_upper
        )
    for r, c, v in q.coefs:
        h.changeCoeff(r, c, v)
    if q.offset is not None:
        h.changeObjectiveOffset(q.offset)
    h.setBasis(floor.basis)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return h.modelStatusToString(h.getModelStatus()), None
    np.asarray(h.getSolution().col_value, dtype=float)
    return "optimal", float(h.getInfo().objective_function_value)


# ----------------------------------------------------------------------------- persistent
def solve_split(model: ParametricModel, point: Point, into: dict[str, list[float]]) -> Any:
    """``model.solve(point)`` step by step, appending each step's seconds to ``into``."""
    t0 = time.perf_counter()
    numbers = model._base_numbers.copy()
    numbers[model._varying] = model.evaluate(model._t(point))
    t1 = time.perf_counter()
    model._push(numbers)
    t2 = time.perf_counter()
    assert model._basis is not None
    model._h.setBasis(model._basis)
    t3 = time.perf_counter()
    model._h.run()
    if model._h.getModelStatus() == highspy.HighsModelStatus.kUnboundedOrInfeasible:
        model._h.clearSolver()
        model._h.setOptionValue("presolve", "off")
        model._h.run()
        model._h.setOptionValue("presolve", model._presolve)
    t4 = time.perf_counter()
    n = model.layout.n
    a0 = 3 * n + 2 * model.layout.m + len(model.layout.pattern)
    row = _outcome(model._h, model.base, numbers[:n], numbers[a0 + 1 :])
    t5 = time.perf_counter()
    for name, dt in zip(SPLITS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
        into[name].append(dt)
    return row


# ----------------------------------------------------------------------------- one repeat
@dataclass
class Repeat:
    times: dict[str, list[float]]
    splits: dict[str, list[float]]
    rebuild: list[float]
    max_rel_floor: float
    max_rel_rebuild: float
    rebuild_disagree: int
    iterations: list[int]
    iteration_mismatch: int
    objectives: dict[int, float | None]


def _rel(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return 0.0 if a is b else float("inf")
    return abs(a - b) / max(abs(b), 1.0)


def per_point_repeat(ctx: Context, rep: int, sample: set[int]) -> Repeat:
    """One pass over every point in a random order, the variants interleaved."""
    rng = np.random.default_rng(1000 + rep)
    order = rng.permutation(len(ctx.points))
    times: dict[str, list[float]] = {k: [] for k in PER_POINT}
    splits: dict[str, list[float]] = {k: [] for k in SPLITS}
    rebuild: list[float] = []
    worst_floor = worst_rebuild = 0.0
    disagree = mismatch = 0
    iterations: list[int] = []
    objectives: dict[int, float | None] = {}
    for step, i in enumerate(order.tolist()):
        p, q = ctx.points[i], ctx.floor.points[i]
        variants: list[tuple[str, Callable[[], Any]]] = [
            ("persistent", partial(ctx.model.solve, p)),
            ("split", partial(solve_split, ctx.model, p, splits)),
            ("floor", partial(solve_floor, ctx.floor, q)),
        ]
        shift = step % len(variants)
        got: dict[str, Any] = {}
        its: dict[str, int] = {}
        for name, fn in variants[shift:] + variants[:shift]:
            t = time.perf_counter()
            got[name] = fn()
            times[name].append(time.perf_counter() - t)
            h = ctx.floor.h if name == "floor" else ctx.model._h
            its[name] = int(h.getInfo().simplex_iteration_count)
        iterations.append(its["persistent"])
        mismatch += its["persistent"] != its["floor"]
        ours = got["persistent"]
        status, floor_obj = got["floor"]
        if ours["status"] != status or got["split"]["objective_usd"] != ours["objective_usd"]:
            raise SystemExit(f"point {i}: persistent {ours['status']}, floor {status}")
        worst_floor = max(worst_floor, _rel(ours["objective_usd"], floor_obj))
        objectives[i] = ours["objective_usd"]
        if i in sample:
            t = time.perf_counter()
            cold = solve_built(build_point(ctx.study, SCENARIO, p))
            rebuild.append(time.perf_counter() - t)
            gap = _rel(cold["objective_usd"], ours["objective_usd"])
            worst_rebuild = max(worst_rebuild, gap)
            disagree += gap > REBUILD_ATOL
    if worst_floor > ctx.rtol:
        raise SystemExit(f"floor and persistent objectives differ by {worst_floor:.2e} (rel.)")
    return Repeat(
        times,
        splits,
        rebuild,
        worst_floor,
        worst_rebuild,
        disagree,
        iterations,
        mismatch,
        objectives,
    )


@dataclass
class Context:
    study: StudySpec
    grid: dict[str, list[float]]
    knobs: list[str]
    points: list[Point]
    model: ParametricModel
    floor: Floor
    rtol: float


# ----------------------------------------------------------------------------- engine
def engine_run(ctx: Context, backend: str) -> tuple[float, list[float | None], int]:
    """One ``sweep`` call end to end; wall seconds, objectives, optimal points."""
    engine._MODELS.clear()  # every call pays its own setup, as a fresh sweep would
    gc.collect()
    kind, _, workers = backend.partition("_")
    t = time.perf_counter()
    frame = sweep(
        ctx.study,
        ctx.grid,
        scenario=SCENARIO,
        method="persistent",
        backend=kind,  # type: ignore[arg-type]
        workers=int(workers) if workers else None,
    )
    seconds = time.perf_counter() - t
    optimal = int((frame["status"] == "optimal").sum())
    return seconds, frame["objective_usd"].to_list(), optimal


def overheads(ctx: Context, repeats: int = 3) -> dict[str, float]:
    """What a ``sweep`` call pays besides the solves: point checks, a worker's imports."""
    checks, imports = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        engine._check_points(ctx.study, SCENARIO, ctx.points)
        checks.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import resilience.sweeps.engine"], check=True)
        imports.append(time.perf_counter() - t)
    return {
        "check_points_s": statistics.median(checks),
        "fresh_process_import_s": statistics.median(imports),
    }


# ----------------------------------------------------------------------------- report
def spread(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values)
    return {
        "median": float(np.median(arr)),
        "p10": float(np.percentile(arr, 10)),
        "p90": float(np.percentile(arr, 90)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": int(arr.size),
    }


def summarise(reps: list[Repeat], engine_times: dict[str, list[float]]) -> dict[str, Any]:
    per_point: dict[str, Any] = {}
    for name in PER_POINT:
        medians = [statistics.median(r.times[name]) for r in reps]
        pooled = [t for r in reps for t in r.times[name]]
        per_point[name] = {"repeat_medians_s": medians, **spread(pooled)}
    rebuild_medians = [statistics.median(r.rebuild) for r in reps if r.rebuild]
    per_point["rebuild"] = {
        "repeat_medians_s": rebuild_medians,
        **spread([t for r in reps for t in r.rebuild]),
    }
    paired = [
        a / b for r in reps for a, b in zip(r.times["persistent"], r.times["floor"], strict=True)
    ]
    splits = {k: statistics.median(t for r in reps for t in r.splits[k]) for k in SPLITS}
    eng: dict[str, dict[str, Any]] = {
        k: {"runs_s": v, **spread(v)} for k, v in engine_times.items() if v
    }
    out: dict[str, Any] = {
        "per_point": per_point,
        "splits_median_s": splits,
        "persistent_over_floor": per_point["persistent"]["median"] / per_point["floor"]["median"],
        "persistent_over_floor_paired_median": statistics.median(paired),
        "rebuild_over_persistent": per_point["rebuild"]["median"]
        / per_point["persistent"]["median"],
        "max_rel_diff_floor": max(r.max_rel_floor for r in reps),
        "max_rel_diff_rebuild": max(r.max_rel_rebuild for r in reps),
        "rebuild_points_disagreeing": max(r.rebuild_disagree for r in reps),
        "iterations_per_point": spread([float(i) for i in reps[0].iterations]),
        "iteration_mismatches_floor": sum(r.iteration_mismatch for r in reps),
        "engine": eng,
    }
    if eng.get("processes_1") and eng.get("processes_2"):
        out["speedup_2_over_1"] = eng["processes_1"]["median"] / eng["processes_2"]["median"]
    return out


def print_tables(res: dict[str, Any], n_points: int) -> None:
    pp = res["per_point"]
    labels = {
        "persistent": "persistent: ParametricModel.solve(point)",
        "split": "persistent, step by step (sum of splits)",
        "floor": "floor: raw highspy change* + setBasis + run + getSolution",
        "rebuild": "rebuild: solve_built(build_point(...))",
    }
    print("\n| variant | points timed | median ms/point | p10-p90 ms | repeat medians ms |")
    print("|---|---:|---:|---:|---|")
    for name, label in labels.items():
        v = pp[name]
        reps = ", ".join(f"{x * 1e3:.2f}" for x in v["repeat_medians_s"])
        print(
            f"| {label} | {v['n']:,} | **{v['median'] * 1e3:.2f}** "
            f"| {v['p10'] * 1e3:.2f}-{v['p90'] * 1e3:.2f} | {reps} |"
        )
    print(
        f"\npersistent / floor: {res['persistent_over_floor']:.3f} (ratio of medians), "
        f"{res['persistent_over_floor_paired_median']:.3f} (median of per-point ratios)"
    )
    print(f"rebuild / persistent: {res['rebuild_over_persistent']:.1f}")
    print(
        f"max rel. objective difference: floor vs persistent {res['max_rel_diff_floor']:.2e}, "
        f"rebuild vs persistent {res['max_rel_diff_rebuild']:.2e} "
        f"({res['rebuild_points_disagreeing']} sample points above {REBUILD_ATOL:g})"
    )
    it = res["iterations_per_point"]
    print(
        f"simplex iterations per point from the reference basis: median {it['median']:.0f}, "
        f"p10-p90 {it['p10']:.0f}-{it['p90']:.0f}, max {it['max']:.0f}; "
        f"points where the floor's count differs: {res['iteration_mismatches_floor']}"
    )
    print("\n| step of persistent solve | median ms |")
    print("|---|---:|")
    for k, v in res["splits_median_s"].items():
        print(f"| {k} | {v * 1e3:.3f} |")
    if res["engine"]:
        print(f"\n| sweep backend ({n_points:,} points) | runs | median s | min-max s | ms/point |")
        print("|---|---:|---:|---:|---:|")
        for k, v in res["engine"].items():
            print(
                f"| {k} | {v['n']} | **{v['median']:.2f}** | {v['min']:.2f}-{v['max']:.2f} "
                f"| {v['median'] / n_points * 1e3:.2f} |"
            )
        if "speedup_2_over_1" in res:
            print(f"\nspeed-up, 2 processes over 1: {res['speedup_2_over_1']:.2f}x")


def profile(ctx: Context, n: int) -> str:
    """cProfile of ``n`` persistent solves (top functions by own time)."""
    prof = cProfile.Profile()
    prof.enable()
    for p in ctx.points[:n]:
        ctx.model.solve(p)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
    return buf.getvalue()


# ----------------------------------------------------------------------------- main
def setup(args: argparse.Namespace) -> tuple[Context, dict[str, Any]]:
    study = load_study(STUDY)
    grid = make_grid(args.points)
    knobs, points = grid_points(grid)
    ref = (
        points[0]
        if args.reference == "first"
        else engine._reference(study, SCENARIO, knobs, points)
    )
    setups, builds = [], 0
    model: ParametricModel | None = None
    for _ in range(args.setup_repeats):
        t = time.perf_counter()
        model = ParametricModel(
            study, SCENARIO, knobs, reference=ref, probes=engine._probes(knobs, points)
        )
        setups.append(time.perf_counter() - t)
        builds = model.builds
    assert model is not None
    lay = model.layout
    info = {
        "grid": grid,
        "points": len(points),
        "reference": {"kind": args.reference, **ref.values()},
        "setup_s": setups,
        "setup_median_s": statistics.median(setups),
        "builds": builds,
        "lp": {"columns": lay.n, "rows": lay.m, "nonzeros": int(len(lay.pattern))},
        "moving": {
            "numbers": int(len(model._varying)),
            "numbers_total": lay.size,
            "cost_cols": int(model._cost_cols.size),
            "bound_cols": int(model._bound_cols.size),
            "bound_rows": int(model._bound_rows.size),
            "coefficients": len(model._coefs),
            "offset": model._offset_at is not None,
        },
    }
    floor = make_floor(model, ref, points)
    return Context(study, grid, knobs, points, model, floor, args.rtol), info


def run_engine(
    ctx: Context, repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any], list[float | None] | None]:
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    check: dict[str, Any] = {}
    reference: list[float | None] | None = None
    for rep in range(repeats):
        shift = rep % len(BACKENDS)
        for backend in BACKENDS[shift:] + BACKENDS[:shift]:
            seconds, objectives, optimal = engine_run(ctx, backend)
            times[backend].append(seconds)
            reference = reference or objectives
            same = check.get(backend, {}).get("identical_to_first", True)
            check[backend] = {
                "optimal": optimal,
                "identical_to_first": same and objectives == reference,
            }
            print(f"  engine rep {rep + 1}/{repeats} {backend}: {seconds:.2f} s")
    return times, check, reference


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000, help="grid size (a cube: 10^3)")
    ap.add_argument("--repeats", type=int, default=5, help="passes over every point")
    ap.add_argument(
        "--rebuild-sample", type=int, default=None, help="points rebuilt per pass (default 50)"
    )
    ap.add_argument("--engine-repeats", type=int, default=None, help="default: --repeats")
    ap.add_argument("--setup-repeats", type=int, default=3)
    ap.add_argument(
        "--reference",
        choices=("first", "center"),
        default="center",
        help="warm-start point of the per-point variants: the grid's centre (what sweep() "
        "uses) or its first point",
    )
    ap.add_argument("--no-engine", action="store_true", help="skip the sweep() scaling runs")
    ap.add_argument("--profile", type=int, default=0, help="cProfile this many solves")
    ap.add_argument("--rtol", type=float, default=1e-9, help="floor vs persistent objective")
    ap.add_argument("--quick", action="store_true", help="smoke run: 27 points, 1 repeat")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args(argv)
    if args.quick:
        args.points, args.repeats, args.setup_repeats = 27, 1, 1
        args.rebuild_sample = 5 if args.rebuild_sample is None else args.rebuild_sample
    elif args.rebuild_sample is None:
        args.rebuild_sample = 50
    info = machine()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    ctx, setup_info = setup(args)
    lp, mv = setup_info["lp"], setup_info["moving"]
    print(
        f"{STUDY.name} / {SCENARIO}: {len(ctx.points):,} points over {', '.join(ctx.knobs)}; "
        f"LP {lp['columns']:,} columns, {lp['rows']:,} rows, {lp['nonzeros']:,} nonzeros; "
        f"{mv['numbers']} of {mv['numbers_total']:,} numbers move ({mv['cost_cols']} costs, "
        f"{mv['bound_cols']} column bounds, {mv['bound_rows']} row bounds, "
        f"{mv['coefficients']} coefficients)"
    )
    print(
        f"setup: {setup_info['builds']} builds, median {setup_info['setup_median_s']:.2f} s "
        f"({', '.join(f'{s:.2f}' for s in setup_info['setup_s'])}); warm start from "
        f"{setup_info['reference']}"
    )
    rng = np.random.default_rng(7)
    k = min(args.rebuild_sample, len(ctx.points))
    sample = set(rng.choice(len(ctx.points), size=k, replace=False).tolist())
    reps: list[Repeat] = []
    for rep in range(args.repeats):
        r = per_point_repeat(ctx, rep, sample)
        reps.append(r)
        med = {n: statistics.median(v) * 1e3 for n, v in r.times.items()}
        print(
            f"  pass {rep + 1}/{args.repeats}: "
            + ", ".join(f"{n} {v:.2f} ms" for n, v in med.items())
            + f", rebuild {statistics.median(r.rebuild) * 1e3:.1f} ms"
        )
    optimal = sum(v is not None for v in reps[0].objectives.values())
    engine_times: dict[str, list[float]] = {}
    engine_check: dict[str, Any] = {}
    if not args.no_engine:
        engine_times, engine_check, objectives = run_engine(
            ctx, args.engine_repeats or args.repeats
        )
        ours = [reps[0].objectives[i] for i in range(len(ctx.points))]
        engine_check["matches_per_point_pass"] = ours == objectives
        engine_check["overheads"] = overheads(ctx)
    res = summarise(reps, engine_times)
    res |= {"setup": setup_info, "optimal_points": optimal, "engine_check": engine_check}
    info["loadavg_end"] = os.getloadavg()
    print(f"\noptimal points: {optimal} of {len(ctx.points)}; engine checks: {engine_check}")
    print_tables(res, len(ctx.points))
    if args.profile:
        print(profile(ctx, args.profile))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "results": res}, indent=2))
        print(f"written {args.json}")


if __name__ == "__main__":
    main()
