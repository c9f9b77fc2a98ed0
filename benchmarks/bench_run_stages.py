"""Where one run of ``run --all`` spends its time: the stages of a stress run, timed apart.

For each ``--scenario`` (``base`` for the base case), in a fresh process each time, the
stages of :func:`resilience.study.run_study` on the stress family, in the order it does
them:

1. ``load``: the study spec and the shipped tables (parameters, trade, production,
   balances) read for the first time (:func:`study_market` on the composition; the
   process's first call also pays the reads);
2. ``market``: :func:`study_market` again, tables now loaded (nodes, arcs, allocated
   goods, stocks: what every run repeats);
3. ``calm build`` / ``calm solve``: the calm reference LP (no disruption, no policy)
   built with :func:`build_market` and solved (hand-off + HiGHS);
4. ``policy build`` / ``policy solve``: the run's LP (its scenarios, stock builds and
   policy hooks);
5. ``answer``: the result tables (:func:`resilience.optimize.families.common.answer`).

and the size of each LP (rows, columns, nonzeros as compiled for HiGHS) with HiGHS's own
run time and simplex iterations. One HiGHS thread, as a ``run --all`` worker uses.

    python benchmarks/bench_run_stages.py --scenario base taiwan_blockade_6m --repeat 3

Medians over ``--repeat``; printed as Markdown and written to
``benchmarks/out/run_stages_<study>.json`` with the machine and its load.
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

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent
STAGES = (
    "load",
    "market",
    "calm build",
    "calm solve",
    "policy build",
    "policy solve",
    "answer",
)


def one(study_path: str, label: str) -> dict[str, Any]:
    """Time the stages of one run in this process (call in a fresh process)."""
    from resilience.optimize.compile import compile_model
    from resilience.optimize.families.common import (
        FamilyContext,
        PolicyRun,
        answer,
        assemble,
        policy_hooks,
        policy_stocks,
    )
    from resilience.optimize.market import build_market, solve_market
    from resilience.optimize.market.from_data import StudyMarketSettings
    from resilience.optimize.market.results import MarketResult
    from resilience.optimize.solve import SolverOptions
    from resilience.scenarios import load_study
    from resilience.study import _with_days, override

    options = SolverOptions(threads=1)
    times: dict[str, float] = {}
    sizes: dict[str, dict[str, float]] = {}
    t = time.perf_counter()
    study = load_study(ROOT / study_path)
    scenario = None if label == "base" else label
    comp = _with_days(override(study.compose(scenario)))
    ctx = FamilyContext(study, comp, label, StudyMarketSettings(), options)
    assemble(ctx)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    market = assemble(ctx)
    times["market"] = time.perf_counter() - t
    ms = market.settings.market_settings()

    def solved(kind: str, model: Any) -> MarketResult:
        lp = compile_model(model.model).lp
        t0 = time.perf_counter()
        result = MarketResult(model, solve_market(model, options))
        times[f"{kind} solve"] = time.perf_counter() - t0
        iterations = next(
            (
                int(line.split(":")[1])
                for line in result.solved.log.splitlines()
                if line.startswith("Simplex   iterations")
            ),
            -1,
        )
        sizes[kind] = {
            "rows": lp.num_row_,
            "cols": lp.num_col_,
            "nonzeros": len(lp.a_matrix_.value_),
            "highs_s": result.solved.solve_time_s,
            "simplex_iterations": iterations,
        }
        return result

    t = time.perf_counter()
    calm_model = build_market(market.inputs.without_disruption(), ms)
    times["calm build"] = time.perf_counter() - t
    base = solved("calm", calm_model)
    t = time.perf_counter()
    inputs, builds = policy_stocks(market, ctx)
    model = build_market(inputs, ms, policy_hooks(ctx, builds))
    times["policy build"] = time.perf_counter() - t
    result = solved("policy", model)
    t = time.perf_counter()
    answer(PolicyRun(market, base, result, builds), ctx)
    times["answer"] = time.perf_counter() - t
    return {"times_s": times, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="models/g7_eu_three_sectors.yaml")
    parser.add_argument("--scenario", nargs="+", default=["base", "taiwan_blockade_6m"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # study, label: a child
    args = parser.parse_args()
    if args.one:
        logging.disable(logging.WARNING)
        print(json.dumps(one(*args.one)))
        return
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in args.scenario}
    loads = [list(machine()["loadavg"])]
    for _ in range(args.repeat):
        for label in args.scenario:
            done = subprocess.run(
                [sys.executable, __file__, "--one", args.study, label],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
            loads.append(list(machine()["loadavg"]))
    print(f"## Stages of one stress run on {args.study}, medians of {args.repeat} (s)\n")
    print("| run | " + " | ".join(STAGES) + " | total |")
    print("|---|" + "---:|" * (len(STAGES) + 1))
    for label, found in runs.items():
        med = {s: statistics.median(r["times_s"][s] for r in found) for s in STAGES}
        cells = " | ".join(f"{med[s]:.1f}" for s in STAGES)
        print(f"| {label} | {cells} | {sum(med.values()):.1f} |")
    print("\n| run | LP | rows | columns | nonzeros | HiGHS s (median) | simplex iterations |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, found in runs.items():
        for kind in ("calm", "policy"):
            size = found[0]["sizes"][kind]
            highs = statistics.median(r["sizes"][kind]["highs_s"] for r in found)
            print(
                f"| {label} | {kind} | {size['rows']:,} | {size['cols']:,} | "
                f"{size['nonzeros']:,} | {highs:.1f} | {size['simplex_iterations']:,} |"
            )
    record = {
        "study": args.study,
        "repeat": args.repeat,
        "runs": runs,
        "loadavg_during": loads,
        "machine": machine(),
    }
    OUT.mkdir(exist_ok=True)
    out = OUT / f"run_stages_{Path(args.study).stem}.json"
    out.write_text(json.dumps(record, indent=2))
    print(f"\nmachine: {record['machine']}\nwrote {out}")


if __name__ == "__main__":
    main()
