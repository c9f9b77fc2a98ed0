"""The market core at ~100 k and ~1 M variables against the highspy floor and linopy.

For each size, a synthetic world (:func:`resilience.optimize.market.testing.synthetic_world`:
N nodes x G commodities (ore and metal each) x T months x S scenarios, log-normal
sizes, refineries, stocks, cuts and embargoes) is solved three ways in one process,
the variants interleaved (their order rotates every repeat) and each phase's median
over ``--repeat`` runs reported:

``core``
    our market core: ``build`` = :func:`~resilience.optimize.market.build_market`
    (Polars frames -> Pyomo model through the builder), ``handoff`` = the direct
    route's compile to HiGHS arrays, ``passModel`` and reading the solution back
    (``wall_time_s - solve_time_s`` of :func:`~resilience.optimize.market.solve_market`),
    ``solve`` = HiGHS's ``run``;
``floor``
    the SAME LP built straight from the inputs with Polars/NumPy
    (:func:`~resilience.optimize.market.twin.highspy_twin`: no Pyomo) as one
    ``HighsLp``: ``build`` = the arrays, ``handoff`` = ``passModel`` + ``getSolution``,
    ``solve`` = ``run``, with the same HiGHS options;
``linopy``
    the same LP through linopy: ``build`` = the twin's arrays (from the inputs) + one
    linopy variable per variable family + the three constraint families from padded
    ``(coeffs, vars)`` term arrays + the objective (linopy's fastest, array-level
    route, the best case for linopy), ``handoff`` = ``linopy.io.to_highspy``. Solved
    once per size (not timed) to check its objective.

Every variant runs once on a tiny world first (imports and first calls untimed).

Checks (asserted): core and floor have the same rows, columns and nonzeros, the same
objective and the same prices (balance duals / probability) within 1e-6 relative;
linopy's objective equals them within 1e-6 relative.

Timing: wall-clock (``perf_counter``) for every phase, and CPU time (``process_time``,
all threads of the process) for build and hand-off, which is far less disturbed by
other jobs on a shared machine; the core's hand-off CPU is measured on one extra
compile + ``passModel`` of its built model. Totals and ratios of totals use wall time.

Peak RSS: the process's VmHWM is reset before each variant and read after it (Linux
``/proc/self/clear_refs``), so each number is that variant's own peak (the world's
frames, a few MiB, included).

    python benchmarks/bench_core_scale.py --repeat 3
    python benchmarks/bench_core_scale.py --sizes 100k --repeat 1 --profile

Results are printed as Markdown and written to ``benchmarks/out/core_scale.json``.

Before and after (``--code DIR``): the core's build and hand-off (compile +
``passModel``, no solve) of this checkout and of another checkout of the package (e.g.
``git archive <commit> | tar -x -C /tmp/before``, put first on ``PYTHONPATH``), each run
in a fresh process, the two alternating within every repeat so that the machine's load
falls on both alike. Each child reports CPU (``process_time``) and wall time and a
SHA-256 digest of the handed-off LP (costs, bounds, matrix, offset, sense); the script
asserts that both checkouts hand HiGHS the same LP, byte for byte.

    git archive 1c2a60b | tar -x -C /tmp/before
    python benchmarks/bench_core_scale.py --code /tmp/before --repeat 5

Results go to ``benchmarks/out/core_scale_code.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import logging
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import highspy
import linopy  # the benchmark's own dependency: pip install linopy
import numpy as np
import polars as pl
import xarray as xr
from _machine import machine, reset_peak_rss, status_kib  # benchmarks/ is on sys.path

from resilience.optimize.compile import compile_model
from resilience.optimize.market import MarketResult, MarketSettings, build_market, solve_market
from resilience.optimize.market.inputs import MarketInputs
from resilience.optimize.market.testing import synthetic_world
from resilience.optimize.market.twin import TwinLp, highspy_twin, read_twin
from resilience.optimize.solve import SolverOptions

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
#: size label -> synthetic_world(nodes, commodities, months, scenarios)
SIZES: dict[str, tuple[int, int, int, int]] = {
    "100k": (34, 2, 12, 4),
    "1M": (60, 4, 12, 11),
}
VARIANTS = ("core", "floor", "linopy")
OPTIONS = SolverOptions(log_to="off")
NGTW = ["node", "good", "month", "scenario"]
PACKAGES = ("highspy", "pyomo", "polars", "numpy", "linopy", "xarray", "scipy")


# ----------------------------------------------------------------------------- variants
class _Clock:
    """Wall (``perf_counter``) and CPU (``process_time``, all threads) time of a phase."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        """``(wall s, cpu s)`` since the last lap; starts the next."""
        wall, cpu = time.perf_counter(), time.process_time()
        out = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return out


def run_core(inputs: MarketInputs, settings: MarketSettings) -> dict[str, Any]:
    """Build, hand off and solve with our core; prices for the check.

    The hand-off's CPU time is measured on a separate compile + ``passModel`` of the
    built model (what :func:`solve_market` does first), then the solve is timed as is.
    """
    clock = _Clock()
    market = build_market(inputs, settings)
    build, build_cpu = clock.lap()
    _highs().passModel(compile_model(market.model).lp)
    _, handoff_cpu = clock.lap()
    solved = solve_market(market, OPTIONS)
    prices = MarketResult(market, solved).prices()
    return {
        "build_s": build,
        "handoff_s": solved.wall_time_s - solved.solve_time_s,
        "solve_s": solved.solve_time_s,
        "build_cpu_s": build_cpu,
        "handoff_cpu_s": handoff_cpu,
        "objective": solved.objective,
        "prices": prices,
    }


def _highs() -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in OPTIONS.highs_options().items():
        h.setOptionValue(name, value)
    return h


def run_floor(inputs: MarketInputs, settings: MarketSettings) -> dict[str, Any]:
    """The same LP as arrays straight into highspy."""
    clock = _Clock()
    twin = highspy_twin(inputs, settings)
    build, build_cpu = clock.lap()
    h = _highs()
    h.passModel(twin.lp)
    handoff, handoff_cpu = clock.lap()
    h.run()
    solve, solve_cpu = clock.lap()
    h.getSolution()
    wall, cpu = clock.lap()
    sol = read_twin(twin, h)
    lp = twin.lp
    return {
        "build_s": build,
        "handoff_s": handoff + wall,
        "solve_s": solve,
        "build_cpu_s": build_cpu,
        "handoff_cpu_s": handoff_cpu + cpu,
        "solve_cpu_s": solve_cpu,
        "objective": sol.objective,
        "prices": sol.prices,
        "size": {"rows": lp.num_row_, "cols": lp.num_col_, "nonzeros": len(lp.a_matrix_.value_)},
    }


def _csr(twin: TwinLp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise ``(indptr, cols, values)`` of the twin's column-wise matrix."""
    mat = twin.lp.a_matrix_
    start = np.asarray(mat.start_, dtype=np.int64)
    rows = np.asarray(mat.index_, dtype=np.int64)
    cols = np.repeat(np.arange(start.size - 1), np.diff(start))
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=twin.lp.num_row_))])
    return indptr, cols[order], np.asarray(mat.value_)[order]


def _terms(
    indptr: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: int, hi: int, label: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``lo:hi`` as padded ``(coeffs, labels)`` arrays (label -1 = no term)."""
    a, b = indptr[lo], indptr[hi]
    counts = np.diff(indptr[lo : hi + 1])
    width = max(int(counts.max(initial=0)), 1)
    row = np.repeat(np.arange(hi - lo), counts)
    slot = np.arange(b - a) - np.repeat(indptr[lo:hi] - a, counts)
    coeffs = np.zeros((hi - lo, width))
    labels = np.full((hi - lo, width), -1, dtype=np.int64)
    coeffs[row, slot] = vals[a:b]
    labels[row, slot] = label[cols[a:b]]
    return coeffs, labels


def linopy_model(twin: TwinLp) -> Any:
    """The twin's LP as a linopy model (one variable per family, three row families)."""
    lp = twin.lp
    m = linopy.Model()
    upper = np.asarray(lp.col_upper_)
    label = np.empty(lp.num_col_, dtype=np.int64)
    for name, frame in twin.columns.items():
        col = frame["_col"].to_numpy()
        dim = f"{name}_i"
        ub = xr.DataArray(upper[col], dims=[dim], coords={dim: np.arange(col.size)})
        var = m.add_variables(lower=0.0, upper=ub, name=name)
        label[col] = var.labels.values
    indptr, cols, vals = _csr(twin)
    row_lb, row_ub = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
    n_bal = twin.balance.height
    stock = (lp.num_row_ - n_bal) // 2
    families = [("balance", 0, n_bal), ("stock_flow", n_bal, n_bal + stock)]
    families.append(("stock_excess", n_bal + stock, lp.num_row_))
    for name, lo, hi in families:
        if hi == lo:
            continue
        coeffs, labels = _terms(indptr, cols, vals, lo, hi, label)
        dims = (f"{name}_i", "_term")
        expr = linopy.LinearExpression(
            xr.Dataset({"coeffs": (dims, coeffs), "vars": (dims, labels)}), m
        )
        rhs = xr.DataArray(row_lb[lo:hi], dims=[f"{name}_i"])
        equal = bool(np.array_equal(row_lb[lo:hi], row_ub[lo:hi]))
        m.add_constraints(expr == rhs if equal else expr >= rhs, name=name)
    cost = np.asarray(lp.col_cost_)
    objective = linopy.LinearExpression(
        xr.Dataset({"coeffs": (("_term",), cost), "vars": (("_term",), label)}), m
    )
    m.add_objective(objective, sense="max")
    return m


def run_linopy(inputs: MarketInputs, settings: MarketSettings, solve: bool) -> dict[str, Any]:
    """Build the same LP with linopy and hand it to highspy (``solve``: check objective)."""
    clock = _Clock()
    twin = highspy_twin(inputs, settings)
    arrays, arrays_cpu = clock.lap()
    model = linopy_model(twin)
    build, build_cpu = clock.lap()
    h = linopy.io.to_highspy(model)
    handoff, handoff_cpu = clock.lap()
    out: dict[str, Any] = {
        "build_s": arrays + build,
        "arrays_s": arrays,
        "handoff_s": handoff,
        "build_cpu_s": arrays_cpu + build_cpu,
        "handoff_cpu_s": handoff_cpu,
    }
    if solve:
        h.setOptionValue("output_flag", False)
        h.run()
        out["objective"] = h.getInfo().objective_function_value
        out["nonzeros"] = int(h.getLp().a_matrix_.value_.__len__())
    return out


# ----------------------------------------------------------------------------- driver
def one_size(label: str, repeat: int) -> dict[str, Any]:
    """Every variant ``repeat`` times, interleaved; checks; medians; peak RSS."""
    nodes, commodities, months, scenarios = SIZES[label]
    t = time.perf_counter()
    inputs = synthetic_world(nodes, commodities, months, scenarios)
    generate = time.perf_counter() - t
    settings = MarketSettings(months=months)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    peaks: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(repeat):
        order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
        for variant in order:
            gc.collect()
            reset_peak_rss()
            if variant == "core":
                out = run_core(inputs, settings)
            elif variant == "floor":
                out = run_floor(inputs, settings)
            else:
                out = run_linopy(inputs, settings, solve=r == 0)
            peaks[variant].append(status_kib("VmHWM") / 2**20)
            runs[variant].append(out)
            logging.getLogger("bench").info("%s %s run %d: %s", label, variant, r, _times(out))
    check = _check(runs)
    size = runs["floor"][0]["size"]
    medians = {
        v: {k: statistics.median(o[k] for o in runs[v]) for k in _times(runs[v][0])}
        for v in VARIANTS
    }
    return {
        "label": label,
        "world": {
            "nodes": nodes,
            "commodities": commodities,
            "months": months,
            "scenarios": scenarios,
            "arcs": inputs.arcs.height,
            "generate_s": generate,
        },
        "size": size,
        "medians_s": medians,
        "runs_s": {v: [_times(o) for o in runs[v]] for v in VARIANTS},
        "peak_rss_gib": {v: max(p) for v, p in peaks.items()},
        "check": check,
    }


def _times(out: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in out.items() if k.endswith("_s")}


def _check(runs: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Core vs floor: objective and prices within 1e-6 relative; linopy's objective."""
    core, floor, lin = runs["core"][0], runs["floor"][0], runs["linopy"][0]
    objective_gap = abs(core["objective"] - floor["objective"]) / abs(floor["objective"])
    linopy_gap = abs(lin["objective"] - floor["objective"]) / abs(floor["objective"])
    prices = core["prices"].join(floor["prices"], on=NGTW, how="full", suffix="_floor")
    if prices.height != core["prices"].height or prices.height != floor["prices"].height:
        raise AssertionError("core and floor have different balance rows")
    gap = prices.select(
        (
            (pl.col("price_usd_per_unit") - pl.col("price_usd_per_unit_floor")).abs()
            / pl.max_horizontal(pl.col("price_usd_per_unit_floor").abs(), pl.lit(1e-9))
        ).max()
    ).item()
    if objective_gap > 1e-6 or gap > 1e-6 or linopy_gap > 1e-6:
        raise AssertionError(f"answers differ: objective {objective_gap}, prices {gap}, linopy")
    if lin["nonzeros"] != floor["size"]["nonzeros"]:
        raise AssertionError(f"linopy has {lin['nonzeros']} nonzeros, the floor {floor['size']}")
    return {
        "objective_rel_gap": objective_gap,
        "max_price_rel_gap": float(gap),
        "linopy_objective_rel_gap": linopy_gap,
        "objective_usd": floor["objective"],
    }


def warm_up() -> None:
    """Run every variant once on a tiny world (first-call costs out of the timings)."""
    inputs = synthetic_world(8, 1, 2, 2)
    settings = MarketSettings(months=2)
    run_core(inputs, settings)
    run_floor(inputs, settings)
    run_linopy(inputs, settings, solve=True)


def markdown(results: list[dict[str, Any]]) -> str:
    """Tables of medians, per-nonzero costs and ratios."""
    lines = [
        "| size | rows | cols | nonzeros | variant | build s | hand-off s | solve s | "
        "total s | build+hand-off µs/nz (wall) | (CPU) | peak RSS GiB |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratio_lines = []
    for res in results:
        size, med = res["size"], res["medians_s"]
        nz = size["nonzeros"]
        for v in VARIANTS:
            m = med[v]
            solve, total = "–", "–"
            if "solve_s" in m:
                solve = f"{m['solve_s']:.2f}"
                total = f"{m['build_s'] + m['handoff_s'] + m['solve_s']:.2f}"
            per_nz = 1e6 * (m["build_s"] + m["handoff_s"]) / nz
            per_nz_cpu = 1e6 * (m["build_cpu_s"] + m["handoff_cpu_s"]) / nz
            lines.append(
                f"| {res['label']} | {size['rows']:,} | {size['cols']:,} | {nz:,} | {v} | "
                f"{m['build_s']:.2f} | {m['handoff_s']:.2f} | {solve} | {total} | "
                f"{per_nz:.2f} | {per_nz_cpu:.2f} | {res['peak_rss_gib'][v]:.2f} |"
            )
        c, f, li = med["core"], med["floor"], med["linopy"]
        bh = c["build_s"] + c["handoff_s"]
        cpu = c["build_cpu_s"] + c["handoff_cpu_s"]
        ratio_lines.append(
            f"| {res['label']} | {bh / (li['build_s'] + li['handoff_s']):.2f} | "
            f"{cpu / (li['build_cpu_s'] + li['handoff_cpu_s']):.2f} | "
            f"{(bh + c['solve_s']) / (f['build_s'] + f['handoff_s'] + f['solve_s']):.2f} | "
            f"{bh / (f['build_s'] + f['handoff_s']):.1f} | "
            f"{res['check']['max_price_rel_gap']:.1e} |"
        )
    lines += [
        "",
        "| size | core/linopy build+hand-off (wall) | (CPU) | core/floor total | "
        "core/floor build+hand-off | max price gap core-floor |",
        "|---|---:|---:|---:|---:|---:|",
        *ratio_lines,
    ]
    return "\n".join(lines)


def profile(label: str) -> str:
    """The 25 functions with the most cumulative time in one core build."""
    nodes, commodities, months, scenarios = SIZES[label]
    inputs = synthetic_world(nodes, commodities, months, scenarios)
    prof = cProfile.Profile()
    prof.enable()
    build_market(inputs, MarketSettings(months=months))
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
    return text.getvalue()


# ----------------------------------------------------------------------------- before/after
def lp_digest(lp: Any) -> str:
    """SHA-256 of everything a ``HighsLp`` hands HiGHS (two equal LPs, one digest)."""
    mat = lp.a_matrix_
    digest = hashlib.sha256()
    for part in (
        lp.col_cost_,
        lp.col_lower_,
        lp.col_upper_,
        lp.row_lower_,
        lp.row_upper_,
        mat.start_,
        mat.index_,
        mat.value_,
    ):
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(repr((lp.offset_, int(lp.sense_), int(mat.format_))).encode())
    return digest.hexdigest()


def build_worker(label: str) -> None:
    """One child: warm up, then build and hand off the core once; one JSON line."""
    import resilience

    warm = synthetic_world(8, 1, 2, 2)
    _highs().passModel(compile_model(build_market(warm, MarketSettings(months=2)).model).lp)
    nodes, commodities, months, scenarios = SIZES[label]
    inputs = synthetic_world(nodes, commodities, months, scenarios)
    gc.collect()
    clock = _Clock()
    market = build_market(inputs, MarketSettings(months=months))
    build, build_cpu = clock.lap()
    lp = compile_model(market.model).lp
    _highs().passModel(lp)
    handoff, handoff_cpu = clock.lap()
    out = {
        "build_s": build,
        "build_cpu_s": build_cpu,
        "handoff_s": handoff,
        "handoff_cpu_s": handoff_cpu,
        "nonzeros": len(lp.a_matrix_.value_),
        "digest": lp_digest(lp),
        "package": str(Path(resilience.__file__).parent),
        "peak_rss_gib": status_kib("VmHWM") / 2**20,
    }
    print(json.dumps(out))


def compare_code(codes: list[Path | None], sizes: list[str], repeat: int) -> dict[str, Any]:
    """Build + hand-off of each checkout in fresh processes, alternating; same LP asserted."""
    results: dict[str, Any] = {}
    for label in sizes:
        runs: dict[str, list[dict[str, Any]]] = {str(c or "this checkout"): [] for c in codes}
        for r in range(repeat):
            order = codes if r % 2 == 0 else codes[::-1]
            for code in order:
                env = dict(os.environ)
                if code is not None:
                    env["PYTHONPATH"] = os.pathsep.join(
                        filter(None, [str(code), env.get("PYTHONPATH")])
                    )
                cmd = [sys.executable, str(Path(__file__).resolve()), "--build-worker", label]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"{code or 'this checkout'} failed:\n{proc.stderr}")
                out = json.loads(proc.stdout.strip().splitlines()[-1])
                if code is not None and not out["package"].startswith(str(code)):
                    raise SystemExit(f"{code}: the child imported {out['package']}")
                runs[str(code or "this checkout")].append(out)
                logging.getLogger("bench").info("%s %s: %s", label, code or "this", out)
        digests = {o["digest"] for rs in runs.values() for o in rs}
        if len(digests) != 1:
            raise AssertionError(f"{label}: the checkouts hand off different LPs: {digests}")
        results[label] = {
            "runs": runs,
            "digest": digests.pop(),
            "medians": {
                name: {
                    k: statistics.median(o[k] for o in rs)
                    for k in (
                        "build_s",
                        "build_cpu_s",
                        "handoff_s",
                        "handoff_cpu_s",
                        "peak_rss_gib",
                    )
                }
                | {"nonzeros": rs[0]["nonzeros"]}
                for name, rs in runs.items()
            },
        }
    return results


def code_markdown(results: dict[str, Any]) -> str:
    """Medians per size and checkout: CPU and wall, and µs of CPU per nonzero."""
    lines = [
        "| size | checkout | build CPU s | hand-off CPU s | build+hand-off CPU µs/nz | "
        "build wall s | hand-off wall s | peak RSS GiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, res in results.items():
        for name, m in res["medians"].items():
            cpu = m["build_cpu_s"] + m["handoff_cpu_s"]
            lines.append(
                f"| {label} | {name} | {m['build_cpu_s']:.2f} | {m['handoff_cpu_s']:.2f} | "
                f"{1e6 * cpu / m['nonzeros']:.2f} | {m['build_s']:.2f} | {m['handoff_s']:.2f} | "
                f"{m['peak_rss_gib']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/out/...)")
    parser.add_argument(
        "--code", type=Path, action="append", default=[], help="another checkout (repeatable)"
    )
    parser.add_argument("--build-worker", choices=list(SIZES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_worker:
        build_worker(args.build_worker)
        return
    logging.basicConfig(level=logging.ERROR)
    if args.code:
        logging.getLogger("bench").setLevel(logging.INFO)
        compared = compare_code([None, *args.code], args.sizes, args.repeat)
        report = {"repeat": args.repeat, "machine": machine(PACKAGES), "results": compared}
        out = Path(args.out or OUT / "core_scale_code.json")
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str))
        print(code_markdown(compared))
        print(json.dumps(report["machine"]))
        return
    logging.getLogger("bench").setLevel(logging.INFO)
    warm_up()
    results = [one_size(label, args.repeat) for label in args.sizes]
    report = {
        "repeat": args.repeat,
        "machine": machine(PACKAGES),
        "results": results,
    }
    out = Path(args.out or OUT / "core_scale.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(markdown(results))
    print(json.dumps(report["machine"]))
    if args.profile:
        print(profile(args.sizes[0]))


if __name__ == "__main__":
    main()
