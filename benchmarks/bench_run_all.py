"""Benchmark the README's main job: ``resilience run STUDY --all``, one process or several.

Two comparisons, each run side by side (alternating, so that load changes hit both):

1. **Workers.** ``resilience run STUDY --all --jobs 1`` against ``--jobs 2`` (and more with
   ``--jobs``), each a fresh process timed from start to exit (wall time, as a user waits
   for it). The runs of ``--all`` are independent, so two workers should approach half
   the time on two cores, less the start-up of the workers and the longest single run.
2. **New-arc pruning.** One run of ``--scenario`` (default the study's first) in this
   process with ``StudyMarketSettings(new_arc_min_output_share=0)`` (every producer opens
   a new arc to every consumer) against the default (only producers with at least 1 % of
   world output of the good): LP columns of the policy run and wall time.

Medians over ``--repeat``; the machine, its load and the package versions are recorded.

    python benchmarks/bench_run_all.py --repeat 3
    python benchmarks/bench_run_all.py --study models/g7_critical_minerals.yaml --repeat 3

Results are printed as Markdown and written to ``benchmarks/out/run_all_<study>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _machine import machine  # benchmarks/ is on sys.path when a script runs

from resilience.optimize.families.common import FamilyContext, policy_hooks, policy_stocks
from resilience.optimize.lp import compile_model
from resilience.optimize.market import build_market
from resilience.optimize.market.from_data import StudyMarketSettings, study_market
from resilience.scenarios import load_study
from resilience.study import run_study

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent
CLI = Path(sys.executable).with_name("resilience")


def run_all_wall_s(study: Path, jobs: int) -> float:
    """Wall time of ``resilience run STUDY --all --jobs JOBS`` in a fresh process."""
    t = time.perf_counter()
    done = subprocess.run(
        [str(CLI), "run", str(study), "--all", "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"run --all --jobs {jobs} failed:\n{done.stderr[-2000:]}")
    return elapsed


def policy_columns(study: Any, scenario: str, settings: StudyMarketSettings) -> int:
    """Columns of the policy run's LP (the stress family's second solve)."""
    comp = study.compose(scenario)
    ctx = FamilyContext(study, comp, scenario, settings)
    market = study_market(study, scenario, settings, composition=comp)
    inputs, builds = policy_stocks(market, ctx)
    model = build_market(inputs, settings.market_settings(), policy_hooks(ctx, builds))
    return int(compile_model(model.model).lp.num_col_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="models/g7_eu_three_sectors.yaml")
    parser.add_argument("--scenario", default=None, help="default: the study's first")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    path = (ROOT / args.study).resolve()
    study = load_study(path)
    scenario = args.scenario or study.scenarios[0]

    walls: dict[int, list[float]] = {j: [] for j in args.jobs}
    for _ in range(args.repeat):
        for jobs in args.jobs:
            walls[jobs].append(run_all_wall_s(path, jobs))

    prune = {"all new arcs (share 0)": 0.0, "default (share 0.01)": 0.01}
    single: dict[str, list[float]] = {k: [] for k in prune}
    cols: dict[str, int] = {}
    for _ in range(args.repeat):
        for label, share in prune.items():
            settings = StudyMarketSettings(new_arc_min_output_share=share)
            t = time.perf_counter()
            run_study(study, scenario, settings=settings)
            single[label].append(time.perf_counter() - t)
    for label, share in prune.items():
        cols[label] = policy_columns(
            study, scenario, StudyMarketSettings(new_arc_min_output_share=share)
        )

    base = statistics.median(walls[args.jobs[0]])
    print(
        f"## `run --all` on {path.name} ({len(study.scenarios) + 1} runs), "
        f"medians of {args.repeat}\n"
    )
    print("| workers | wall s | ratio to the first |")
    print("|---:|---:|---:|")
    for jobs, times in walls.items():
        med = statistics.median(times)
        print(f"| {jobs} | {med:.1f} | {med / base:.2f} |")
    first = next(iter(single))
    print(f"\n## One run, `{scenario}`: new-arc pruning\n")
    print("| new arcs | policy-run LP columns | wall s | ratio |")
    print("|---|---:|---:|---:|")
    for label, times in single.items():
        med = statistics.median(times)
        ref = statistics.median(single[first])
        print(f"| {label} | {cols[label]:,} | {med:.1f} | {med / ref:.2f} |")
    record = {
        "study": str(path.relative_to(ROOT)),
        "scenario": scenario,
        "repeat": args.repeat,
        "run_all_wall_s": {str(j): t for j, t in walls.items()},
        "single_run_wall_s": single,
        "policy_run_columns": cols,
        "machine": machine(),
    }
    OUT.mkdir(exist_ok=True)
    out = OUT / f"run_all_{path.stem}.json"
    out.write_text(json.dumps(record, indent=2))
    print(f"\nmachine: {record['machine']}\nwrote {out}")


if __name__ == "__main__":
    main()
