"""Benchmark the stress model end to end against the same LP passed straight to highspy.

For each size of the synthetic world (``stress_world.py``: about 10 k, 100 k and 1 M
variables) two variants run side by side, each repetition in a fresh Python process:

``ours``
    :func:`resilience.optimize.stress.run_stress` end to end (validate scenarios, sparse
    sets, Pyomo build through :mod:`resilience.optimize.lp`, hand-off, HiGHS solve,
    result frames), unchanged. The stages are timed by wrapping, in the child process
    only, ``stress.build_stress`` (build), ``solve.compile_model`` and
    ``highspy.Highs.passModel`` (hand-off) and ``highspy.Highs.run`` (solve); "results"
    is the rest (solution read-back and every result frame).
``floor``
    The *same* LP — extracted once per benchmark run from our compiled model
    (``compile_model(model).lp``) into ``benchmarks/out/stress_<size>.npz`` — loaded with
    NumPy, passed to ``highspy`` as CSR arrays (``passModel``), solved, and its primal
    values, row duals and reduced costs read into NumPy arrays.

Both use the same HiGHS options (presolve on, default threads, no console log). Before
any timing is reported, every run's objective must agree with the extracted model's
within 1e-6 relative. Time is wall time from the first call to the last result; memory
is the child's peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` just before
the clock starts) and that peak above the RSS at the start (interpreter, libraries and,
for ours, the input frames).

    python benchmarks/bench_stress.py --sizes 10k,100k,1M --repeat 5 --repeat-large 3

Results are printed as Markdown tables and written to
``benchmarks/out/stress_results<tag>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import (  # benchmarks/ is on sys.path when a script runs
    machine,
    reset_peak_rss,
    status_kib,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
VARIANTS = {
    "floor": "floor: same LP as CSR arrays -> highspy passModel + run + solution to numpy",
    "ours": "ours: run_stress (build + hand-off + solve + result frames)",
}
STAGES = ("build", "handoff", "solve", "results")
LARGE = "1M"
REL_TOL = 1e-6


# -- shared ---------------------------------------------------------------------------------
def npz_path(size: str) -> Path:
    return OUT / f"stress_{size}.npz"


def _world(size: str) -> tuple[Any, Any, Any]:
    sys.path.insert(0, str(HERE))
    import stress_world as sw

    data, scenarios = sw.world(*sw.SIZES[size])
    return data, scenarios, sw.settings()


# -- children -------------------------------------------------------------------------------
def extract(size: str) -> dict[str, Any]:
    """Build and compile our model once; save its HiGHS arrays; return counts and a hash."""
    import numpy as np

    from resilience.optimize.lp import compile_model
    from resilience.optimize.stress import build_stress

    data, scenarios, settings = _world(size)
    model, _ = build_stress(data, scenarios, settings)
    lp = compile_model(model).lp
    mat = lp.a_matrix_
    arrays = {
        "start": np.asarray(mat.start_, dtype=np.int32),
        "index": np.asarray(mat.index_, dtype=np.int32),
        "value": np.asarray(mat.value_, dtype=np.float64),
        "col_cost": np.asarray(lp.col_cost_, dtype=np.float64),
        "col_lower": np.asarray(lp.col_lower_, dtype=np.float64),
        "col_upper": np.asarray(lp.col_upper_, dtype=np.float64),
        "row_lower": np.asarray(lp.row_lower_, dtype=np.float64),
        "row_upper": np.asarray(lp.row_upper_, dtype=np.float64),
        "offset": np.asarray([lp.offset_], dtype=np.float64),
    }
    OUT.mkdir(exist_ok=True)
    np.savez(npz_path(size), **arrays)
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return {
        "num_col": int(lp.num_col_),
        "num_row": int(lp.num_row_),
        "nnz": int(arrays["value"].size),
        "lp_sha256": digest.hexdigest(),
    }


def floor_child(size: str) -> dict[str, Any]:
    import highspy
    import numpy as np

    base = status_kib("VmRSS")
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    z = np.load(npz_path(size))
    lp = highspy.HighsLp()
    n, m = int(z["col_cost"].size), int(z["row_lower"].size)
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = z["col_cost"]
    lp.col_lower_, lp.col_upper_ = z["col_lower"], z["col_upper"]
    lp.row_lower_, lp.row_upper_ = z["row_lower"], z["row_upper"]
    lp.offset_ = float(z["offset"][0])
    lp.sense_ = highspy.ObjSense.kMinimize
    mat = lp.a_matrix_
    mat.format_ = highspy.MatrixFormat.kRowwise
    mat.num_col_, mat.num_row_ = n, m
    mat.start_, mat.index_, mat.value_ = z["start"], z["index"], z["value"]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "on")
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    duals = np.asarray(sol.row_dual)
    rc = np.asarray(sol.col_dual)
    objective = float(h.getInfo().objective_function_value)
    t3 = time.perf_counter()
    assert x.size == n
    assert rc.size == n
    assert duals.size == m
    status = h.modelStatusToString(h.getModelStatus())
    return {
        "seconds": t3 - t0,
        "stages": {"build": 0.0, "handoff": t1 - t0, "solve": t2 - t1, "results": t3 - t2},
        "objective": objective,
        "status": status,
        "baseline_kib": base,
        "peak_kib": status_kib("VmHWM") if reset else 0,
    }


#: What ``--without`` can switch off in the ours child (``ablate_stress.py``), each by
#: putting back the plain code path it replaced.
OPTIMISATIONS = (
    "gc_pause",  # PauseGC around bulk building, compiling and run_stress
    "precompiled",  # compile_model reuses the builders' CSR arrays
    "bare_vars",  # coefficient-1 terms are the variable itself, not a monomial
    "shared_keys",  # index tuples share one str object per distinct key value
    "join_shortcut",  # terms already in the variable's / rows' order skip the join
    "key_frames",  # index_frame returns the registered key frame
    "data_objects",  # component.values() read from the component's dict
    "column_arrays",  # column bounds read in bulk
)


def switch_off(names: list[str]) -> None:
    """Put the plain code path back for each named optimisation (child process only)."""
    import contextlib

    from pyomo.core.expr.numeric_expr import MonomialTermExpression

    import resilience.optimize.compile as compile_mod
    import resilience.optimize.lp as lp_mod
    import resilience.optimize.result as result_mod
    import resilience.optimize.stress as stress_mod
    import resilience.optimize.terms as terms_mod

    def monomials(coefs: Any, cols: Any, variables: Any) -> list[Any]:
        chosen = map(variables.__getitem__, cols.tolist())
        return list(map(MonomialTermExpression, zip(coefs.tolist(), chosen, strict=True)))

    def values(component: Any) -> list[Any]:
        return list(component.values())

    patches: dict[str, list[tuple[Any, str, Any]]] = {
        "gc_pause": [
            (m, "PauseGC", contextlib.nullcontext) for m in (compile_mod, lp_mod, stress_mod)
        ],
        "precompiled": [(compile_mod, "_fast", lambda model: None)],
        "bare_vars": [(lp_mod, "_terms", monomials)],
        "shared_keys": [(lp_mod, "_shared_list", lambda col: col.to_list())],
        "join_shortcut": [(terms_mod, "_same_rows", lambda a, b: False)],
        "key_frames": [(lp_mod, "_registered_frame", lambda component: None)],
        "data_objects": [
            (m, "data_objects", values) for m in (compile_mod, lp_mod, terms_mod, result_mod)
        ],
        "column_arrays": [(compile_mod, "_column_arrays_fast", compile_mod._column_arrays)],
    }
    unknown = set(names) - set(patches)
    if unknown:
        raise SystemExit(f"unknown optimisations {sorted(unknown)}; known: {list(patches)}")
    for name in names:
        for mod, attr, value in patches[name]:
            setattr(mod, attr, value)


def ours_child(size: str) -> dict[str, Any]:
    import highspy

    import resilience.optimize.solve as solve_mod
    import resilience.optimize.stress as stress_mod
    from resilience.optimize.solve import SolverOptions

    data, scenarios, settings = _world(size)
    without = [n for n in os.environ.get("RESILIENCE_BENCH_WITHOUT", "").split(",") if n]
    switch_off(without)
    spent = dict.fromkeys(("build", "compile", "pass", "run"), 0.0)

    def timed(key: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        return wrapper

    class TimedHighs(highspy.Highs):  # type: ignore[misc]
        def passModel(self, *args: Any) -> Any:  # noqa: N802 - highspy's name
            return timed("pass", super().passModel)(*args)

        def run(self) -> Any:
            return timed("run", super().run)()

    stress_mod.build_stress = timed("build", stress_mod.build_stress)
    solve_mod.compile_model = timed("compile", solve_mod.compile_model)
    highspy.Highs = TimedHighs
    options = SolverOptions(log_to="off")

    base = status_kib("VmRSS")
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    result = stress_mod.run_stress(data, scenarios, settings, options)
    seconds = time.perf_counter() - t0
    handoff = spent["compile"] + spent["pass"]
    stages = {
        "build": spent["build"],
        "handoff": handoff,
        "solve": spent["run"],
        "results": seconds - spent["build"] - handoff - spent["run"],
    }
    return {
        "seconds": seconds,
        "stages": stages,
        "compile_s": spent["compile"],
        "objective": result.objective_usd,
        "status": "Optimal",
        "baseline_kib": base,
        "peak_kib": status_kib("VmHWM") if reset else 0,
    }


# -- parent ---------------------------------------------------------------------------------
def run_child(mode: str, size: str, without: list[str] | None = None) -> dict[str, Any]:
    if mode == "floor":  # warm the page cache: we time loading, not the disk
        npz_path(size).read_bytes()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--size", size]
    env = {**os.environ, "RESILIENCE_BENCH_WITHOUT": ",".join(without or [])}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise SystemExit(f"{mode} at {size} failed:\n{stderr}")
    rec: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    rec["process_peak_kib"] = usage.ru_maxrss
    return rec


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, recs in runs.items():
        secs = [r["seconds"] for r in recs]
        out[name] = {
            "median_s": statistics.median(secs),
            "min_s": min(secs),
            "max_s": max(secs),
            "stages": {s: statistics.median(r["stages"][s] for r in recs) for s in STAGES},
            "peak_mib": statistics.median(r["peak_kib"] / 1024 for r in recs),
            "above_mib": statistics.median(
                (r["peak_kib"] - r["baseline_kib"]) / 1024 for r in recs
            ),
        }
    floor = out["floor"]
    for v in out.values():
        v["x_floor_time"] = v["median_s"] / floor["median_s"]
        v["x_floor_peak"] = v["peak_mib"] / floor["peak_mib"]
        v["x_floor_above"] = v["above_mib"] / max(floor["above_mib"], 1e-9)
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        "| size | variables | rows | nonzeros | variant | runs | median s | min-max s "
        "| build s | hand-off s | solve s | results s | x floor | peak RSS MiB "
        "| x floor | above start MiB | x floor |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, res in results.items():
        info = res["lp"]
        for name, v in res["summary"].items():
            st = v["stages"]
            lines.append(
                f"| {size} | {info['num_col']:,} | {info['num_row']:,} | {info['nnz']:,} "
                f"| {name} | {res['repeat']} | {v['median_s']:.2f} "
                f"| {v['min_s']:.2f}-{v['max_s']:.2f} | {st['build']:.2f} "
                f"| {st['handoff']:.2f} | {st['solve']:.2f} | {st['results']:.2f} "
                f"| **{v['x_floor_time']:.2f}** | {v['peak_mib']:.0f} | {v['x_floor_peak']:.2f} "
                f"| {v['above_mib']:.0f} | {v['x_floor_above']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions below 1M")
    ap.add_argument("--repeat-large", type=int, default=3, help="repetitions at 1M")
    ap.add_argument("--variants", default="floor,ours")
    ap.add_argument("--tag", default="", help="suffix of the results file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        fn = {"extract": extract, "floor": floor_child, "ours": ours_child}[args.worker]
        print(json.dumps(fn(args.size)))
        return

    sys.path.insert(0, str(HERE))
    import stress_world as sw

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in sw.SIZES]
    if unknown:
        raise SystemExit(f"unknown sizes {unknown}; known: {list(sw.SIZES)}")
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if "floor" not in names:
        raise SystemExit("the floor variant is needed for the ratios")
    info = machine()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    results: dict[str, Any] = {}
    for size in sizes:
        lp = run_child("extract", size)
        print(f"{size}: {lp['num_col']:,} columns, {lp['num_row']:,} rows, {lp['nnz']:,} nnz")
        repeat = args.repeat_large if size == LARGE else args.repeat
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for rep in range(repeat):
            for name in names:
                rec = run_child(name, size)
                runs[name].append(rec)
                ref = runs["floor"][0]["objective"] if runs["floor"] else rec["objective"]
                gap = abs(rec["objective"] - ref) / max(abs(ref), 1.0)
                if rec["status"] != "Optimal" or gap > REL_TOL:
                    raise SystemExit(
                        f"{name} at {size}: status {rec['status']}, objective "
                        f"{rec['objective']!r} vs floor {ref!r} (rel. gap {gap:.2e})"
                    )
                print(f"  {size} rep {rep + 1}/{repeat} {name}: {rec['seconds']:.2f} s")
        summary = summarise(runs)
        results[size] = {"lp": lp, "repeat": repeat, "summary": summary, "runs": runs}
        print(f"  objectives agree within {REL_TOL:g} ({runs['floor'][0]['objective']:.10g})")
    path = OUT / f"stress_results{args.tag}.json"
    path.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print()
    print(table(results))
    print(f"written {path}")


if __name__ == "__main__":
    main()
