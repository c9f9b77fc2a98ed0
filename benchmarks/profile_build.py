"""Where the dependency build spends its time: the query cut into cumulative stages.

Runs each stage in one warm process (medians of ``--repeat`` interleaved runs, streaming
engine), so the differences between rows are the cost of each step:

    python benchmarks/profile_build.py --rows 10000000 --repeat 9

Stages ``a``-``d`` are ours (``scan_baci(validate=False)`` on the Parquet file);
``bare`` is the same two functions on a bare ``scan_parquet`` whose ``hs6_code`` is the
raw ``k`` column, so that the HS filter is pushed into the Parquet reader. Also times the
pieces of ``validate_baci`` (the duplicate-key check dominates).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from resilience.build.bilateral import bilateral_concentration, bilateral_shares
from resilience.ingest.baci import (
    _KEY,
    ROW_COLUMN,
    _scan_raw,
    _typed,
    read_baci_country_codes,
    scan_baci,
)
from resilience.reference.commodities import hs_to_commodity

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate_baci import _label  # noqa: E402

CODES = HERE / "out" / "country_codes_bench.csv"


def stages(path: Path) -> dict[str, Callable[[], pl.LazyFrame]]:
    codes = read_baci_country_codes(CODES)
    hs_map = hs_to_commodity("hs92")
    mapped = hs_map["hs6_code"].unique().implode()
    countries = codes.filter(pl.col("country_kind") == "country")
    old, new = countries["baci_code"].to_list(), countries["country_iso3"].to_list()
    aggregates = codes.filter(pl.col("country_kind") != "country")["baci_code"].implode()
    cols = ["year", "exporter_iso3", "importer_iso3", "hs6_code", "value_usd"]

    def bare() -> pl.LazyFrame:
        return (
            pl.scan_parquet(path)
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

    typed = ["_t", "_i", "_j", "_k", "_v"]
    not_aggregate = ~pl.col("_i").is_in(aggregates) & ~pl.col("_j").is_in(aggregates)
    return {
        "floor: t,i,j,k,v -> trivial aggregate": lambda: pl.scan_parquet(path).select(
            pl.col("t", "i", "j").cast(pl.Int64).sum(),
            pl.col("v").sum(),
            pl.col("k").str.len_bytes().sum(),
        ),
        "a  parse (_typed) + HS filter": lambda: (
            _typed(_scan_raw(path)).filter(pl.col("_k").is_in(mapped)).select(typed)
        ),
        "b  + aggregate-code filter": lambda: (
            _typed(_scan_raw(path))
            .filter(not_aggregate)
            .filter(pl.col("_k").is_in(mapped))
            .select(typed)
        ),
        "c  scan_baci + HS filter (+ ISO3 mapping)": lambda: (
            scan_baci(path, codes, validate=False)
            .filter(pl.col("hs6_code").is_in(mapped))
            .select(cols)
        ),
        "d  ours, whole query": lambda: bilateral_concentration(
            bilateral_shares(scan_baci(path, codes, validate=False), hs_map)
        ),
        "bare: scan + HS filter (pushed into the reader)": lambda: (
            bare().filter(pl.col("hs6_code").is_in(mapped)).select(cols)
        ),
        "bare: whole query": lambda: bilateral_concentration(bilateral_shares(bare(), hs_map)),
    }


def validation_pieces(path: Path) -> dict[str, Callable[[], pl.LazyFrame]]:
    lf = _typed(_scan_raw(path))
    return {
        "validate: row counts": lambda: lf.select(pl.len(), pl.col("_v").is_null().sum()),
        "validate: group_by i": lambda: lf.group_by("_i").agg(pl.col(ROW_COLUMN).min(), pl.len()),
        "validate: group_by k": lambda: lf.group_by("_k").agg(pl.col(ROW_COLUMN).min()),
        "validate: duplicate keys (group_by t,i,j,k)": lambda: (
            lf.group_by(*_KEY)
            .agg(pl.len().alias("n"), pl.col(ROW_COLUMN).min())
            .filter(pl.col("n") > 1)
        ),
    }


def timeit(queries: dict[str, Callable[[], pl.LazyFrame]], repeat: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(repeat):
        for name, query in queries.items():
            t0 = time.perf_counter()
            query().collect(engine="streaming")
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.3f} | {min(ts):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--no-validation", action="store_true")
    args = ap.parse_args()
    path = HERE / "out" / f"BACI_HS92_Y2022_V202401b_synth{_label(args.rows)}.parquet"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run generate_baci.py --rows {args.rows}")
    print("| stage | median s | min s |\n|---|---:|---:|")
    timeit(stages(path), args.repeat)
    if not args.no_validation:
        timeit(validation_pieces(path), max(3, args.repeat // 3))


if __name__ == "__main__":
    main()
