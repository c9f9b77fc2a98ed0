"""What each build-path optimisation buys: the stress benchmark with one switched off.

Runs ``run_stress`` (the ``ours`` child of ``bench_stress.py``) at one size with all
optimisations on, then with each of them switched off in turn (the child puts the plain
code path back, see ``bench_stress.OPTIMISATIONS``), every run in a fresh process,
variants interleaved within each repetition. Prints medians of the total and of each
stage, and the cost of switching each optimisation off.

    python benchmarks/ablate_stress.py --size 1M --repeat 3

Results go to ``benchmarks/out/stress_ablation_<size><tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_stress as bs  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1M")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default=",".join(bs.OPTIMISATIONS), help="optimisations to test")
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    variants: dict[str, list[str]] = {"all on": [], **{f"without {n}": [n] for n in names}}
    lp = bs.run_child("extract", args.size)
    print(f"{args.size}: {lp['num_col']:,} columns, {lp['num_row']:,} rows, {lp['nnz']:,} nnz")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    objective = None
    for rep in range(args.repeat):
        for label, without in variants.items():
            rec = bs.run_child("ours", args.size, without)
            objective = rec["objective"] if objective is None else objective
            if abs(rec["objective"] - objective) > bs.REL_TOL * max(abs(objective), 1.0):
                raise SystemExit(f"{label}: objective {rec['objective']} != {objective}")
            runs[label].append(rec)
            print(f"  rep {rep + 1}/{args.repeat} {label}: {rec['seconds']:.2f} s")
    base = statistics.median(r["seconds"] for r in runs["all on"])
    lines = [
        f"\n{args.size}, medians of {args.repeat} runs (each a fresh process)\n",
        "| variant | median s | build s | hand-off s | solve s | results s | peak RSS MiB "
        "| cost of switching off s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, recs in runs.items():
        med = statistics.median(r["seconds"] for r in recs)
        st = {s: statistics.median(r["stages"][s] for r in recs) for s in bs.STAGES}
        peak = statistics.median(r["peak_kib"] / 1024 for r in recs)
        lines.append(
            f"| {label} | {med:.2f} | {st['build']:.2f} | {st['handoff']:.2f} | "
            f"{st['solve']:.2f} | {st['results']:.2f} | {peak:.0f} | "
            f"{'' if label == 'all on' else f'{med - base:+.2f}'} |"
        )
    path = bs.OUT / f"stress_ablation_{args.size}{args.tag}.json"
    path.write_text(json.dumps({"lp": lp, "runs": runs}, indent=2))
    print("\n".join(lines))
    print(f"written {path}")


if __name__ == "__main__":
    main()
