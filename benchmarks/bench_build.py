"""Benchmark the BACI-scale dependency build against the I/O floor, pandas and DuckDB.

The query under test is ``bilateral_concentration(bilateral_shares(scan_baci(...), hs_map))``
(:mod:`resilience.build.bilateral`): HS6 flows -> importer x commodity x stage x supplier
value shares -> HHI, top supplier, top-1 and top-3 shares per importer x commodity x stage.
Every variant computes the same table from the same synthetic BACI year (see
``generate_baci.py``); before any timing is trusted, each variant's result is checked
against ours (same keys, every number within 1e-9 relative, same top supplier except
where two suppliers tie for the largest share).

Each repetition of each variant runs in a fresh Python process. The child reads the two
small code tables, then resets its peak resident set size (``/proc/self/clear_refs``) and
reports the wall time of the query alone, its RSS just before (the baseline: interpreter,
libraries, code tables) and its peak RSS during the query (``VmHWM``); the parent also
records the whole process's peak from ``os.wait4`` (``ru_maxrss``, in the JSON only: it
includes imports and setup, and on Linux it can inherit the parent's RSS at fork).
Variants are interleaved within a repetition and the flow file is read once (into the
page cache) before every run, so the numbers are warm-cache: decoding and compute, not
disk.

    python benchmarks/bench_build.py --rows 10000000 --repeat 5

Results are printed as a Markdown table and written to
``benchmarks/out/results_<rows>.json``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _machine import (  # benchmarks/ is on sys.path when a script runs
    machine,
    reset_peak_rss,
    status_kib,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CODES = OUT / "country_codes_bench.csv"
GROUP = ["year", "importer_iso3", "commodity", "stage"]
#: Columns the query needs (``q`` only feeds ``import_quantity_t``, which the
#: concentration table does not use: every engine prunes it).
NEEDED = ["t", "i", "j", "k", "v"]
RESULT_COLUMNS = [
    *GROUP,
    "hhi",
    "top_supplier_iso3",
    "top1_share",
    "top3_share",
    "import_value_usd",
    "n_suppliers",
]


# -- variants (run inside the worker process) -------------------------------------------
class Setup:
    """The small inputs every variant reads before the clock starts."""

    def __init__(self, parquet: Path, csv: Path) -> None:
        import polars as pl

        from resilience.ingest.baci import read_baci_country_codes
        from resilience.reference.commodities import hs_to_commodity

        self.parquet, self.csv = parquet, csv
        self.codes = read_baci_country_codes(CODES)
        self.hs_map = hs_to_commodity("hs92")
        self.countries = self.codes.filter(pl.col("country_kind") == "country").select(
            "baci_code", "country_iso3"
        )


def floor_stream(s: Setup) -> Any:
    """Stream the needed columns through a trivial aggregate that touches every value."""
    import polars as pl

    return (
        pl.scan_parquet(s.parquet)
        .select(
            pl.col("t", "i", "j").cast(pl.Int64).sum(),
            pl.col("v").sum(),
            pl.col("k").str.len_bytes().sum(),
        )
        .collect(engine="streaming")
    )


def floor_read(s: Setup) -> Any:
    """Read the needed columns into memory (no computation at all)."""
    import polars as pl

    return pl.read_parquet(s.parquet, columns=NEEDED)


def _ours(path_attr: str, *, validate: bool, engine: str) -> Callable[[Setup], Any]:
    def run(s: Setup) -> Any:
        from resilience.build.bilateral import bilateral_concentration, bilateral_shares
        from resilience.ingest.baci import scan_baci

        # As ``resilience build`` does: the HS filter runs on the raw k column.
        codes = s.hs_map["hs6_code"].unique().to_list()
        flows = scan_baci(getattr(s, path_attr), s.codes, validate=validate, hs_codes=codes)
        return bilateral_concentration(bilateral_shares(flows, s.hs_map)).collect(engine=engine)

    return run


def ours_bare(s: Setup) -> Any:
    """The same two functions on a bare ``scan_parquet`` (no ``scan_baci`` cleaning)."""
    import polars as pl

    from resilience.build.bilateral import bilateral_concentration, bilateral_shares

    old = s.countries["baci_code"].to_list()
    new = s.countries["country_iso3"].to_list()
    flows = (
        pl.scan_parquet(s.parquet)
        .filter(pl.col("i").is_in(old) & pl.col("j").is_in(old))
        .select(
            pl.col("t").alias("year"),
            pl.col("i").replace_strict(old, new, return_dtype=pl.String).alias("exporter_iso3"),
            pl.col("j").replace_strict(old, new, return_dtype=pl.String).alias("importer_iso3"),
            pl.col("k").alias("hs6_code"),
            (pl.col("v") * 1000.0).alias("value_usd"),
            pl.col("q").alias("quantity_t"),
        )
    )
    return bilateral_concentration(bilateral_shares(flows, s.hs_map)).collect(engine="streaming")


def _pandas_concentration(df: Any, s: Setup) -> Any:
    """Shares and concentration from a pandas frame with columns t, i, j, k, v."""
    import pandas as pd

    iso3 = pd.Series(
        s.countries["country_iso3"].to_list(), index=s.countries["baci_code"].to_list()
    )
    hs = s.hs_map.to_pandas()
    df = df.merge(hs, left_on="k", right_on="hs6_code", how="inner")
    df["supplier_iso3"] = df["i"].map(iso3)
    df["importer_iso3"] = df["j"].map(iso3)
    df = df.dropna(subset=["supplier_iso3", "importer_iso3"])  # aggregate codes
    df["import_value_usd"] = df["v"] * 1000.0
    df = df.rename(columns={"t": "year"})
    summed = df.groupby([*GROUP, "supplier_iso3"], sort=False, as_index=False)[
        "import_value_usd"
    ].sum()
    by = summed.groupby(GROUP, sort=False)["import_value_usd"]
    summed["import_share"] = summed["import_value_usd"] / by.transform("sum")
    summed["share2"] = summed["import_share"] ** 2
    ranked = summed.sort_values("import_share", ascending=False)
    grouped = ranked.groupby(GROUP, sort=False)
    out = grouped.agg(
        hhi=("share2", "sum"),
        top_supplier_iso3=("supplier_iso3", "first"),
        top1_share=("import_share", "first"),
        import_value_usd=("import_value_usd", "sum"),
        n_suppliers=("import_share", "size"),
    )
    out["top3_share"] = grouped.head(3).groupby(GROUP, sort=False)["import_share"].sum()
    return out.reset_index()


def pandas_read(s: Setup) -> Any:
    """pandas: read the needed columns with pyarrow, then merge / map / group in pandas."""
    import pyarrow.parquet as pq

    df = pq.read_table(s.parquet, columns=NEEDED).to_pandas()
    return _pandas_concentration(df, s)


def pandas_filtered(s: Setup) -> Any:
    """pandas, with the HS filter pushed into the pyarrow read (``filters=``)."""
    import pyarrow.parquet as pq

    codes = sorted(set(s.hs_map["hs6_code"].to_list()))
    df = pq.read_table(s.parquet, columns=NEEDED, filters=[("k", "in", codes)]).to_pandas()
    return _pandas_concentration(df, s)


_DUCK_SQL = """
with flows as (
  select f.t as year, ce.country_iso3 as supplier_iso3, ci.country_iso3 as importer_iso3,
         h.commodity, h.stage, f.v * 1000.0 as value_usd
  from (select t, i, j, {k} as k, v from read_parquet('{path}')) f
  join hs_map h on f.k = h.hs6_code
  join countries ce on f.i = ce.baci_code
  join countries ci on f.j = ci.baci_code
), summed as (
  select year, importer_iso3, commodity, stage, supplier_iso3,
         sum(value_usd) as import_value_usd
  from flows group by all
), shares as (
  select *, import_value_usd / sum(import_value_usd)
            over (partition by year, importer_iso3, commodity, stage) as import_share
  from summed
)
select year, importer_iso3, commodity, stage,
       sum(import_share * import_share) as hhi,
       arg_max(supplier_iso3, import_share) as top_supplier_iso3,
       max(import_share) as top1_share,
       list_sum(max(import_share, 3)) as top3_share,
       sum(import_value_usd) as import_value_usd,
       count(*) as n_suppliers
from shares group by all
"""
#: The k cleaning ``scan_baci`` applies (strip, 1-6 digits, left-pad with zeros), with the
#: same fast path for a code that is already six digits (DuckDB evaluates a CASE branch
#: only on the rows that reach it).
_DUCK_CLEAN_K = (
    "case when length(k) = 6 and ltrim(k, '0123456789') = '' then k "
    "when regexp_full_match(trim(k), '[0-9]{1,6}') then lpad(trim(k), 6, '0') end"
)


def _duck(clean_k: bool) -> Callable[[Setup], Any]:
    def prepare(s: Setup) -> Callable[[], Any]:
        import duckdb

        con = duckdb.connect()
        con.register("_c", s.countries.to_arrow())
        con.register("_h", s.hs_map.to_arrow())
        con.execute("create table countries as select * from _c")
        con.execute("create table hs_map as select * from _h")
        sql = _DUCK_SQL.format(path=s.parquet, k=_DUCK_CLEAN_K if clean_k else "k")
        return lambda: con.sql(sql).pl()

    return prepare


#: name -> (label, function of Setup, or a "prepare" returning the timed callable)
VARIANTS: dict[str, tuple[str, Callable[[Setup], Any], bool]] = {
    "floor_stream": ("floor: scan t,i,j,k,v -> trivial aggregate (streaming)", floor_stream, False),
    "floor_read": ("floor: read t,i,j,k,v into memory", floor_read, False),
    "ours": (
        "ours: scan_baci(validate=False) parquet, streaming",
        _ours("parquet", validate=False, engine="streaming"),
        False,
    ),
    "ours_inmem": (
        "ours: scan_baci(validate=False) parquet, in-memory engine",
        _ours("parquet", validate=False, engine="in-memory"),
        False,
    ),
    "ours_validated": (
        "ours: scan_baci(validate=True) parquet, streaming",
        _ours("parquet", validate=True, engine="streaming"),
        False,
    ),
    "ours_csv": (
        "ours: scan_baci(validate=False) CSV, streaming",
        _ours("csv", validate=False, engine="streaming"),
        False,
    ),
    "ours_csv_validated": (
        "ours: scan_baci(validate=True) CSV, streaming",
        _ours("csv", validate=True, engine="streaming"),
        False,
    ),
    "ours_bare": (
        "diagnostic: same query on a bare scan_parquet (no k cleaning)",
        ours_bare,
        False,
    ),
    "pandas": ("pandas + pyarrow: read, merge, group", pandas_read, False),
    "pandas_filtered": (
        "pandas + pyarrow: HS filter pushed into read_table",
        pandas_filtered,
        False,
    ),
    "duckdb": ("DuckDB: SQL over read_parquet -> Polars", _duck(clean_k=False), True),
    "duckdb_clean_k": (
        "DuckDB: same, with scan_baci's k cleaning",
        _duck(clean_k=True),
        True,
    ),
}
DEFAULT = list(VARIANTS)
REFERENCE = "ours"


def worker(name: str, parquet: Path, csv: Path, result: Path | None) -> None:
    """Run one variant once; print a JSON line with the query time and baseline RSS."""
    _, fn, prepared = VARIANTS[name]
    setup = Setup(parquet, csv)
    call = fn(setup) if prepared else (lambda: fn(setup))
    base = status_kib("VmRSS")
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - t0
    query_peak = status_kib("VmHWM") if reset else 0
    if result is not None:
        _to_polars(out).write_parquet(result)
    rec = {"seconds": seconds, "baseline_kib": base, "query_peak_kib": query_peak}
    print(json.dumps(rec))


def _to_polars(out: Any) -> Any:
    import polars as pl

    frame = out if isinstance(out, pl.DataFrame) else pl.from_pandas(out)
    return frame.select(RESULT_COLUMNS).with_columns(
        pl.col("year").cast(pl.Int32), pl.col("n_suppliers").cast(pl.Int64)
    )


# -- parent ---------------------------------------------------------------------------------
def run_child(name: str, parquet: Path, csv: Path, result: Path | None = None) -> dict[str, Any]:
    for path in (csv,) if name.startswith("ours_csv") else (parquet,):
        with path.open("rb") as f:  # warm the page cache: we time decoding, not the disk
            while f.read(1 << 24):
                pass
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
    cmd += ["--parquet", str(parquet), "--csv", str(csv)]
    if result is not None:
        cmd += ["--result", str(result)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"variant {name} failed:\n{stderr}")
    rec = json.loads(stdout.strip().splitlines()[-1])
    rec["peak_kib"] = usage.ru_maxrss  # KiB on Linux
    return rec


def check_results(names: list[str], files: dict[str, Path], parquet: Path) -> None:
    """Every variant's table equals ours (ties for the top supplier allowed)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from resilience.build.bilateral import bilateral_shares
    from resilience.ingest.baci import read_baci_country_codes, scan_baci
    from resilience.reference.commodities import hs_to_commodity

    ref = pl.read_parquet(files[REFERENCE]).sort(GROUP)
    shares = (
        bilateral_shares(
            scan_baci(parquet, read_baci_country_codes(CODES), validate=False),
            hs_to_commodity("hs92"),
        )
        .select(*GROUP, "supplier_iso3", "import_share")
        .collect(engine="streaming")
    )
    for name in names:
        if name == REFERENCE or name not in files:
            continue
        got = pl.read_parquet(files[name]).sort(GROUP)
        assert_frame_equal(
            ref.drop("top_supplier_iso3"),
            got.drop("top_supplier_iso3"),
            check_exact=False,
            rel_tol=1e-9,
            abs_tol=1e-12,
        )
        diff = ref.select(*GROUP, "top1_share", a="top_supplier_iso3").with_columns(
            b=got["top_supplier_iso3"]
        )
        diff = diff.filter(pl.col("a") != pl.col("b"))
        for col in ("a", "b"):  # both must hold the largest share: a tie
            tie = diff.join(
                shares.rename({"supplier_iso3": col}), on=[*GROUP, col], how="left"
            ).filter((pl.col("import_share") - pl.col("top1_share")).abs() > 1e-12)
            if tie.height:
                raise SystemExit(f"{name}: top supplier differs without a tie:\n{tie}")
        print(f"  {name}: same table as {REFERENCE} ({diff.height} tied top suppliers)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--variants", default=",".join(DEFAULT), help="comma-separated subset")
    ap.add_argument("--no-check", action="store_true", help="skip the result comparison")
    ap.add_argument("--tag", default="", help="suffix of the results file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.parquet, args.csv, args.result)
        return

    from generate_baci import _label

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    stem = OUT / f"BACI_HS92_Y2022_V202401b_synth{_label(args.rows)}"
    parquet, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    if not (parquet.exists() and csv.exists() and CODES.exists()):
        print(f"generating {args.rows:,} rows ...")
        subprocess.run(
            [sys.executable, str(HERE / "generate_baci.py"), "--rows", str(args.rows)], check=True
        )

    info = machine(("polars", "pyarrow", "pandas", "duckdb", "numpy"))
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    if not args.no_check:
        print("checking that every variant computes the same table ...")
        files: dict[str, Path] = {}
        for name in [REFERENCE, *[n for n in names if n != REFERENCE]]:
            if name.startswith("floor"):
                continue
            files[name] = OUT / f"check_{name}.parquet"
            run_child(name, parquet, csv, files[name])
        check_results(names, files, parquet)

    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for rep in range(args.repeat):
        for name in names:
            runs[name].append(run_child(name, parquet, csv))
        print(f"  repetition {rep + 1}/{args.repeat} done")

    summary = summarise(runs)
    report = {"rows": args.rows, "repeat": args.repeat, "machine": info, "summary": summary}
    report["runs"] = runs
    path = OUT / f"results_{_label(args.rows)}{args.tag}.json"
    path.write_text(json.dumps(report, indent=2))
    print(table(summary, args.rows, args.repeat))
    print(f"written {path}")


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, recs in runs.items():
        secs = [r["seconds"] for r in recs]
        peaks = [r["query_peak_kib"] / 1024 for r in recs]
        deltas = [(r["query_peak_kib"] - r["baseline_kib"]) / 1024 for r in recs]
        procs = [r["peak_kib"] / 1024 for r in recs]
        out[name] = {
            "median_s": statistics.median(secs),
            "min_s": min(secs),
            "max_s": max(secs),
            "median_peak_mib": statistics.median(peaks),
            "median_query_mib": statistics.median(deltas),
            "median_process_peak_mib": statistics.median(procs),
        }
    floors = [v for k, v in out.items() if k.startswith("floor")]
    if floors:
        floor = min(floors, key=lambda v: v["median_s"])
        for v in out.values():
            v["x_floor_time"] = v["median_s"] / floor["median_s"]
            v["x_floor_peak"] = v["median_peak_mib"] / floor["median_peak_mib"]
    return out


def table(summary: dict[str, dict[str, float]], rows: int, repeat: int) -> str:
    lines = [
        f"\n{rows:,} rows, medians of {repeat} runs (each a fresh process)\n",
        "| variant | median s | min-max s | x floor | peak RSS MiB | above baseline MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, v in summary.items():
        label = VARIANTS[name][0]
        ratio = f"{v['x_floor_time']:.2f}" if "x_floor_time" in v else ""
        lines.append(
            f"| {label} | {v['median_s']:.3f} | {v['min_s']:.3f}-{v['max_s']:.3f} | {ratio} "
            f"| {v['median_peak_mib']:.0f} | {v['median_query_mib']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
