"""Benchmark the market core on the flagship study: assemble, build, hand-off, solve, LP size.

The flagship study (``models/g7_critical_minerals.yaml``: G7 members, the top 10 other
importers, producers above 1 % of world output or exports, rest of world; its four
commodities; 12 months) under all of its disruption scenarios at once (one LP: every
in-scope event as a scenario with its probability, plus the calm remainder), and the
same market without disruption (the reference run of the welfare loss).

Phases, each timed on its own (``time.perf_counter``), medians over ``--repeat`` runs in
one process (the shipped tables are cached after the first run; the first run is
included):

- ``assemble``: :func:`resilience.optimize.market.study_market` (tables -> inputs);
- ``build``: :func:`resilience.optimize.market.build_market` (inputs -> Pyomo model);
- ``handoff``: the direct route's compile of the Pyomo model to HiGHS arrays and
  ``passModel`` (``wall_time_s - solve_time_s`` of the solve);
- ``solve``: HiGHS's own time (``solve_time_s``).

LP size (rows, columns, nonzeros) is read from the compiled model. ``--profile`` prints
the 20 functions with the most cumulative time in one build (cProfile).

    python benchmarks/bench_market.py --repeat 3
    python benchmarks/bench_market.py --repeat 1 --profile

Results are printed as Markdown and written to ``benchmarks/out/market_<study>.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

from _machine import machine  # benchmarks/ is on sys.path when a script runs

from resilience.optimize.lp import compile_model
from resilience.optimize.market import build_market, solve_market, study_market
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.scenarios import load_study

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent


def disruption_expression(study: Any) -> str:
    """Every scenario of the study's list that carries disruptions, joined by ``+``."""
    names = []
    for expr in study.scenarios:
        for name in expr.split("+"):
            if study.catalogue.scenarios[name].disruptions and name not in names:
                names.append(name)
    return "+".join(names)


def lp_size(model: Any) -> dict[str, int]:
    """Rows, columns and nonzeros of the compiled LP."""
    lp = compile_model(model).lp
    return {"rows": lp.num_row_, "cols": lp.num_col_, "nonzeros": len(lp.a_matrix_.value_)}


def one_run(study: Any, expression: str, settings: StudyMarketSettings) -> dict[str, Any]:
    """Time every phase of the disrupted and the calm market once."""
    t = time.perf_counter()
    market = study_market(study, expression, settings)
    out: dict[str, Any] = {"assemble_s": time.perf_counter() - t}
    ms = settings.market_settings()
    for label, inputs in (
        ("scenarios", market.inputs),
        ("calm", market.inputs.without_disruption()),
    ):
        t = time.perf_counter()
        model = build_market(inputs, ms)
        out[f"{label}_build_s"] = time.perf_counter() - t
        solved = solve_market(model)
        out[f"{label}_handoff_s"] = solved.wall_time_s - solved.solve_time_s
        out[f"{label}_solve_s"] = solved.solve_time_s
        out[f"{label}_size"] = lp_size(model.model)
    out["nodes"] = len(market.regions.nodes)
    out["arcs"] = market.inputs.arcs.height
    out["scenarios"] = market.inputs.scenarios["scenario"].to_list()
    out["out_of_scope"] = sorted(set(market.out_of_scope["event"].to_list()))
    return out


def profile_build(study: Any, expression: str, settings: StudyMarketSettings) -> str:
    """The 20 functions with the most cumulative time in one build."""
    market = study_market(study, expression, settings)
    prof = cProfile.Profile()
    prof.enable()
    build_market(market.inputs, settings.market_settings())
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(20)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(ROOT / "models" / "g7_critical_minerals.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    study = load_study(args.study)
    expression = disruption_expression(study)
    settings = StudyMarketSettings(months=args.months)
    runs = [one_run(study, expression, settings) for _ in range(args.repeat)]
    timed = [k for k in runs[0] if k.endswith("_s")]
    medians = {k: statistics.median(r[k] for r in runs) for k in timed}
    first = runs[0]
    report = {
        "study": study.name,
        "expression": expression,
        "months": args.months,
        "repeat": args.repeat,
        "machine": machine(),
        "medians_s": medians,
        "runs": runs,
    }
    OUT.mkdir(exist_ok=True)
    path = OUT / f"market_{study.name}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"study {study.name}: {expression}; {first['nodes']} nodes, {first['arcs']} arcs")
    print(f"scenarios: {first['scenarios']}; out of scope: {first['out_of_scope']}")
    print("| LP | rows | cols | nonzeros | build s | hand-off s | solve s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label in ("scenarios", "calm"):
        size = first[f"{label}_size"]
        print(
            f"| {label} | {size['rows']:,} | {size['cols']:,} | {size['nonzeros']:,} | "
            f"{medians[f'{label}_build_s']:.2f} | {medians[f'{label}_handoff_s']:.2f} | "
            f"{medians[f'{label}_solve_s']:.2f} |"
        )
    print(f"assemble (both LPs' inputs): {medians['assemble_s']:.2f} s")
    print(json.dumps(report["machine"]))
    if args.profile:
        print(profile_build(study, expression, settings))


if __name__ == "__main__":
    main()
