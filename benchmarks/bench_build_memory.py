"""Peak memory of ``resilience build`` on the shipped input, against its I/O floor.

Two variants, each repetition of each in a fresh Python process:

``build``
    ``build(out, load_inputs())`` (:mod:`resilience.build.pipeline`): every importer and
    year of the shipped trade table (182 k rows) -> the dependency dataset and the
    metrics table, Parquet partitioned by year.
``floor``
    the same imports, then the built tables read back whole and written again with the
    same partitioning: the memory needed to hold and write the output, and nothing else.

The child reports the wall time of the work alone, its RSS before the work (interpreter,
libraries) and its peak RSS over its whole life (``VmHWM``, what ``/usr/bin/time -v``
reports as "Maximum resident set size").
``--code DIR`` (repeatable) also runs another checkout of the package, put first on
``PYTHONPATH`` (e.g. a ``git archive`` of an older commit): before and after with the
same interpreter and libraries, interleaved within each repetition so that the load of
the machine falls on both alike.

    python benchmarks/bench_build_memory.py --repeat 5
    git archive <commit> | tar -x -C /tmp/before
    python benchmarks/bench_build_memory.py --repeat 5 --code /tmp/before

Results are printed as a Markdown table and written to
``benchmarks/out/build_memory<tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import machine, status_kib  # benchmarks/ is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
VARIANTS = ("build", "floor")


def worker(variant: str, out_dir: Path, source_dir: Path | None) -> None:
    """Run one variant in this process and print one JSON line."""
    import polars as pl

    from resilience.build.pipeline import build, load_inputs, scan_built

    baseline = status_kib("VmRSS")
    start = time.perf_counter()
    if variant == "build":
        result = build(out_dir, load_inputs())
        rows = result.rows
    else:
        assert source_dir is not None
        rows = {}
        for table in ("dependency", "metrics"):
            frame = scan_built(source_dir, table).collect()
            rows[table] = frame.height
            for (year,), part in frame.partition_by("year", as_dict=True).items():
                folder = out_dir / table / f"year={year}"
                folder.mkdir(parents=True)
                part.drop("year").write_parquet(
                    folder / "part-0.parquet", compression="zstd", statistics=True
                )
            del frame
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "baseline_kib": baseline,
                "peak_rss_kib": status_kib("VmHWM"),
                "rows": rows,
                "polars": pl.__version__,
            }
        )
    )


def run_child(variant: str, code: Path | None, source_dir: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", variant]
        cmd += ["--out-dir", str(Path(tmp) / "built")]
        if source_dir is not None:
            cmd += ["--source-dir", str(source_dir)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{proc.stderr}")
    rec: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rec


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--code", type=Path, action="append", default=[], help="another checkout (repeatable)"
    )
    ap.add_argument("--tag", default="", help="suffix of the results file")
    ap.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--source-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.out_dir, args.source_dir)
        return

    OUT.mkdir(exist_ok=True)
    info = machine(("polars", "pyarrow", "numpy"))
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    codes: list[Path | None] = [None, *args.code]
    labels = ["this checkout", *[str(c) for c in args.code]]
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # the floor rewrites this checkout's build output (built once, not timed)
        reference = Path(tmp) / "reference"
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; "
                "from resilience.build.pipeline import build, load_inputs; "
                "build(Path(sys.argv[1]), load_inputs())",
                str(reference),
            ],
            check=True,
            capture_output=True,
        )
        for rep in range(args.repeat):
            for code, label in zip(codes, labels, strict=True):
                for variant in VARIANTS if code is None else ("build",):
                    key = f"{variant} ({label})"
                    runs.setdefault(key, []).append(run_child(variant, code, reference))
            print(f"  repetition {rep + 1}/{args.repeat} done")
    summary = {
        key: {
            "median_s": statistics.median(r["seconds"] for r in recs),
            "median_peak_rss_mib": statistics.median(r["peak_rss_kib"] / 1024 for r in recs),
            "min_peak_rss_mib": min(r["peak_rss_kib"] / 1024 for r in recs),
            "max_peak_rss_mib": max(r["peak_rss_kib"] / 1024 for r in recs),
            "median_baseline_mib": statistics.median(r["baseline_kib"] / 1024 for r in recs),
            "rows": recs[0]["rows"],
        }
        for key, recs in runs.items()
    }
    path = OUT / f"build_memory{args.tag}.json"
    report = {"machine": info, "repeat": args.repeat, "summary": summary, "runs": runs}
    path.write_text(json.dumps(report, indent=2))
    print(f"\nmedians of {args.repeat} runs (each a fresh process)\n")
    print("| variant | median s | peak RSS MiB (median) | min-max MiB | RSS before the work MiB |")
    print("|---|---:|---:|---:|---:|")
    for key, v in summary.items():
        print(
            f"| {key} | {v['median_s']:.2f} | {v['median_peak_rss_mib']:.0f} | "
            f"{v['min_peak_rss_mib']:.0f}-{v['max_peak_rss_mib']:.0f} | "
            f"{v['median_baseline_mib']:.0f} |"
        )
    print(f"written {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
