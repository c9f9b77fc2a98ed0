"""Benchmark a sweep on the market core: persistent re-solves against rebuilds.

The G7 study (``models/g7_critical_minerals.yaml``, its default market: 12 months, every
commodity) under one scenario, swept over one knob (default: ``availability`` of
``china_graphite_controls``, ``--points`` values from ``--start`` = 0.2 in steps of
``--step`` = 0.05: 0.2 to 0.75). Each point runs as the
sweep engine runs it (:func:`resilience.sweeps.engine.run_chunk`, one point per call, in
this process, with the sweep's session kept between points), timed point by point; the
methods alternate within each repeat, and the calm-reference cache is emptied before
each method so both pay the calm solve once.

Reported per method: the sweep's wall time, the median time of a point (first point
apart: it builds the session), the simplex iterations in total, how many points were
re-solved warm; and between the methods, the largest difference of every metric.

    python benchmarks/bench_sweep_core.py --points 12 --repeats 2

Results are printed as Markdown and written to ``benchmarks/out/sweep_core.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from _machine import machine  # benchmarks/ is on sys.path when a script runs

from resilience.optimize.market.calm import clear_calm_cache
from resilience.optimize.persistent import close_sweep_session
from resilience.scenarios import load_study
from resilience.sweeps.engine import METRICS, SweepTask, run_chunk
from resilience.sweeps.knobs import grid_points

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent


def uptime() -> str:
    """The output of ``uptime`` (load averages), or the load from ``os``."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"load average {os.getloadavg()}"


def one_sweep(study: Any, scenario: str, knob: str, values: list[float], method: str) -> dict:
    """Every point of the sweep, timed; the rows the engine returns."""
    clear_calm_cache()
    knobs, points = grid_points({knob: values})
    task = SweepTask(study, scenario, tuple(knobs), method, session=f"bench-{method}")  # type: ignore[arg-type]
    rows, seconds = [], []
    began = time.perf_counter()
    try:
        for i, point in enumerate(points):
            t = time.perf_counter()
            [(_, row)] = run_chunk(task, [(i, point)])
            seconds.append(time.perf_counter() - t)
            rows.append(row)
    finally:
        close_sweep_session(task.session)
    return {"wall_s": time.perf_counter() - began, "point_s": seconds, "rows": rows}


def summary(runs: list[dict]) -> dict[str, Any]:
    """Medians over repeats of one method."""
    first = runs[0]["rows"]
    return {
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "first_point_s": statistics.median(r["point_s"][0] for r in runs),
        "later_point_s": statistics.median(s for r in runs for s in r["point_s"][1:]),
        "simplex_iterations": sum(row["simplex_iterations"] or 0 for row in first),
        "first_point_iterations": first[0]["simplex_iterations"],
        "warm_points": sum(row["fresh_lps"] == 0 for row in first),
        "statuses": sorted({row["status"] for row in first}),
    }


def differences(a: list[dict], b: list[dict]) -> dict[str, dict[str, float]]:
    """Per metric: the largest absolute difference and the largest relative to the value."""
    out = {}
    for m in METRICS:
        pairs = [(x[m], y[m]) for x, y in zip(a, b, strict=True) if x[m] is not None]
        if not pairs:
            continue
        absolute = max(abs(x - y) for x, y in pairs)
        relative = max(abs(x - y) / max(abs(x), abs(y), 1e-300) for x, y in pairs)
        out[m] = {"max_abs": absolute, "max_rel": relative}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(ROOT / "models" / "g7_critical_minerals.yaml"))
    parser.add_argument("--scenario", default="china_graphite_controls")
    parser.add_argument("--knob", default="availability")
    parser.add_argument("--points", type=int, default=12)
    parser.add_argument("--start", type=float, default=0.2)
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=str(OUT / "sweep_core.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    study = load_study(args.study)
    values = [round(args.start + i * args.step, 10) for i in range(args.points)]
    facts = {**machine(), "uptime_before": uptime()}
    runs: dict[str, list[dict]] = {"rebuild": [], "persistent": []}
    for r in range(args.repeats):
        order = ("rebuild", "persistent") if r % 2 == 0 else ("persistent", "rebuild")
        for method in order:
            runs[method].append(one_sweep(study, args.scenario, args.knob, values, method))
            logging.warning("repeat %d %s: %.1f s", r, method, runs[method][-1]["wall_s"])
    facts["uptime_after"] = uptime()
    result = {
        "study": Path(args.study).name,
        "scenario": args.scenario,
        "knob": args.knob,
        "values": values,
        "repeats": args.repeats,
        "machine": facts,
        "methods": {m: summary(v) for m, v in runs.items()},
        "differences": differences(runs["rebuild"][0]["rows"], runs["persistent"][0]["rows"]),
        "rows": {m: v[0]["rows"] for m, v in runs.items()},
        "point_s": {m: [r["point_s"] for r in v] for m, v in runs.items()},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    print(f"{result['study']} {args.scenario}: {args.knob} in {values}")
    print(f"before: {facts['uptime_before']}\nafter:  {facts['uptime_after']}")
    print(
        "| method | wall s | first point s | later points s (median) | simplex iterations "
        "| of which first point | warm points |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m, s in result["methods"].items():
        print(
            f"| {m} | {s['wall_s']:.1f} | {s['first_point_s']:.2f} | {s['later_point_s']:.2f} "
            f"| {s['simplex_iterations']:,} | {s['first_point_iterations']:,} "
            f"| {s['warm_points']} of {len(values)} |"
        )
    print("\n| metric | max abs difference | max relative difference |")
    print("|---|---:|---:|")
    for m, d in result["differences"].items():
        print(f"| {m} | {d['max_abs']:.4g} | {d['max_rel']:.3g} |")


if __name__ == "__main__":
    main()
