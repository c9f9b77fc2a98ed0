"""Generate one synthetic BACI-shaped year for the dependency-build benchmark.

Writes, to ``benchmarks/out/`` (gitignored):

* ``BACI_HS92_Y2022_V202401b_synth<N>.csv`` -- BACI's CSV layout ``t,i,j,k,v,q``
  (``v`` thousand USD, ``q`` metric tons, both with 3 decimals, ``NA`` for a missing
  quantity, ``k`` 6 digits with leading zeros), sorted by ``i, j, k`` like BACI's files;
* ``BACI_HS92_Y2022_V202401b_synth<N>.parquet`` -- the same rows, typed as a user who
  converted the CSV would keep them (``t, i, j`` Int32, ``k`` String, ``v, q`` Float64 with
  ``q`` null where missing), zstd, row groups of 262 144 rows (Polars' defaults);
* ``country_codes_bench.csv`` -- a BACI-layout country table (``country_code,
  country_name, country_iso2, country_iso3``) built from ``datasets/countries.csv``: ISO
  numeric codes, except BACI's own codes 842 USA, 251 France, 699 India, 757 Switzerland,
  579 Norway and 490 "Other Asia, nes" (``S19``, Taiwan), plus BACI's two aggregate rows
  (697, 711) that never trade in recent years;
* ``product_codes_bench.csv`` -- ``code, description`` for the generated HS6 codes.

Shape (defaults): 10 M unique ``(t, i, j, k)`` flows, 5 000 HS6 products (every HS92 code
of ``hs_to_commodity("hs92")`` among them), 220 countries. Exporters, importers and
products are drawn independently from Zipf-like weights (parameters below, fitted so that
the realised exporter/importer concentration is close to real BACI 2022) and duplicate
keys are redrawn, so the most popular exporter x importer x product cells saturate as in
the real data. Values are log-normal with exporter, importer and product effects
(median about 20 thousand USD, like BACI 2022); quantities follow from a log-normal unit
value, 5.2 % are missing and 10 % are whole tons.

Everything is drawn from one seeded NumPy generator: the same arguments give the same
files byte for byte. Run ``python benchmarks/generate_baci.py --rows 10000000``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from resilience.paths import datasets_dir
from resilience.reference.commodities import hs_to_commodity

OUT = Path(__file__).resolve().parent / "out"
YEAR = 2022
#: BACI's own numeric codes where they differ from ISO 3166 numeric.
BACI_CODES = {"USA": 842, "FRA": 251, "IND": 699, "CHE": 757, "NOR": 579, "TWN": 490}
#: BACI aggregate rows kept in the code table (no flows use them after 1999).
BACI_AGGREGATES = [
    (697, "Europe EFTA, nes", "", "R20"),
    (711, "Southern African Customs Union (...1999)", "", "ZA1"),
]
#: The largest traders first (BACI 2022 order, roughly); the rest are ranked at random.
MAJOR = [
    "CHN", "USA", "DEU", "ITA", "NLD", "GBR", "FRA", "ESP", "IND", "TUR", "JPN", "KOR",
    "BEL", "CAN", "POL", "THA", "MYS", "VNM", "SGP", "AUS", "BRA", "MEX", "CHE", "TWN",
    "ZAF", "SWE", "AUT", "ARE", "IDN", "CZE",
]  # fmt: skip
#: Zipf-Mandelbrot row-frequency weights ``(rank + r0) ** -s`` as ``(s, r0)``; exporters and
#: importers fitted to the top-10 / top-50 row shares of real BACI 2022 (raw-materials
#: extract: exporters 41 % / 84 %, importers 27 % / 72 %) after duplicate keys are redrawn.
EXPORTER = (2.4, 18.5)
IMPORTER = (2.1, 29.0)
PRODUCT = (0.55, 0.0)
#: Share of flows without a quantity (BACI 2022, raw-materials extract: 5.2 %).
MISSING_Q = 0.052
ROW_GROUP = 262_144


def country_table(n_countries: int, rng: np.random.Generator) -> pl.DataFrame:
    """``n_countries`` current countries in BACI's layout, ordered by trade rank."""
    countries = pl.read_csv(datasets_dir() / "countries.csv", infer_schema=False).filter(
        (pl.col("is_historic") != "true") & pl.col("iso_numeric").is_not_null()
    )
    iso3 = countries["iso3"].to_list()
    rest = sorted(set(iso3) - set(MAJOR))
    rng.shuffle(rest)
    ranked = [c for c in MAJOR if c in iso3] + rest
    ranked = ranked[:n_countries]
    if len(ranked) < n_countries:
        raise SystemExit(f"only {len(ranked)} countries available, asked for {n_countries}")
    info = {r["iso3"]: r for r in countries.iter_rows(named=True)}
    rows = []
    for code3 in ranked:
        rec = info[code3]
        if code3 == "TWN":
            rows.append((490, "Other Asia, nes", "", "S19"))
            continue
        code = BACI_CODES.get(code3, int(rec["iso_numeric"]))
        rows.append((code, rec["name"], rec["iso2"] or "", code3))
    return pl.DataFrame(
        rows,
        schema={
            "country_code": pl.Int32,
            "country_name": pl.String,
            "country_iso2": pl.String,
            "country_iso3": pl.String,
        },
        orient="row",
    )


def product_codes(n_products: int, rng: np.random.Generator) -> list[str]:
    """``n_products`` distinct HS6 codes, every mapped HS92 code among them, in random order."""
    mapped = sorted(set(hs_to_commodity("hs92")["hs6_code"].to_list()))
    if n_products < len(mapped):
        raise SystemExit(f"--products must be at least {len(mapped)} (the mapped HS92 codes)")
    codes = set(mapped)
    chapters = np.array([c for c in range(1, 98) if c != 77])
    while len(codes) < n_products:
        need = n_products - len(codes)
        ch = rng.choice(chapters, size=2 * need)
        rest = rng.integers(100, 10_000, size=2 * need)
        for c, r in zip(ch.tolist(), rest.tolist(), strict=True):
            codes.add(f"{c:02d}{r:04d}")
            if len(codes) == n_products:
                break
    ordered = sorted(codes)
    rng.shuffle(ordered)  # frequency rank is random: mapped codes get no special treatment
    return ordered


def zipf_weights(n: int, shape: tuple[float, float]) -> np.ndarray:
    s, r0 = shape
    w = (np.arange(1, n + 1, dtype=np.float64) + r0) ** -s
    return w / w.sum()


def draw_keys(
    rows: int, pe: np.ndarray, pi: np.ndarray, pp: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` unique (exporter, importer, product) index triples, exporter != importer.

    Indices are drawn with probabilities ``pe, pi, pp``; a duplicate is redrawn (a bitmap
    of the whole key space, 242 MB at the defaults, marks the keys already drawn). The
    triples come back sorted by (exporter, importer, product) index.
    """
    n_c, n_p = pe.size, pp.size
    space = n_c * n_c * n_p
    if rows > n_c * (n_c - 1) * n_p // 2:
        raise SystemExit("too many rows for so few countries and products")
    if space > 2_000_000_000:
        raise SystemExit("key space too large for the bitmap: fewer countries or products")
    seen = np.zeros(space, dtype=np.bool_)
    have, rate = 0, 1.0
    while have < rows:
        m = min(int((rows - have) / rate * 1.05) + 1000, 4_000_000)
        i = rng.choice(n_c, size=m, p=pe)
        j = rng.choice(n_c, size=m, p=pi)
        k = rng.choice(n_p, size=m, p=pp)
        ok = i != j
        seen[(i[ok].astype(np.int64) * n_c + j[ok]) * n_p + k[ok]] = True
        now = int(np.count_nonzero(seen))
        rate, have = max((now - have) / m, 1e-3), now
    keys = np.flatnonzero(seen)
    del seen
    if keys.size > rows:  # drop the overshoot at random
        keys = keys[np.sort(rng.choice(keys.size, size=rows, replace=False))]
    k = keys % n_p
    ij = keys // n_p
    return (ij // n_c).astype(np.int32), (ij % n_c).astype(np.int32), k.astype(np.int32)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--products", type=int, default=5_000)
    ap.add_argument("--countries", type=int, default=220)
    ap.add_argument("--seed", type=int, default=20220)
    ap.add_argument("--chunk", type=int, default=1_000_000, help="rows written per chunk")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    table = country_table(args.countries, rng)
    codes_out = pl.concat(
        [
            table,
            pl.DataFrame(
                BACI_AGGREGATES,
                schema=table.schema,
                orient="row",
            ),
        ]
    ).sort("country_code")
    codes_out.write_csv(out / "country_codes_bench.csv")
    products = product_codes(args.products, rng)
    pl.DataFrame(
        {
            "code": sorted(products),
            "description": [f"synthetic product {p}" for p in sorted(products)],
        }
    ).write_csv(out / "product_codes_bench.csv")

    n_c, n_p = table.height, len(products)
    # Keys are drawn over code-ordered indices (so that sorted keys follow BACI's i, j, k
    # order) with each country's / product's weight taken from its (random) trade rank.
    rank_codes = table["country_code"].to_numpy()
    by_code = np.argsort(rank_codes, kind="stable")  # position in code order -> rank
    prod_by_code = np.argsort(np.array(products), kind="stable")
    i_pos, j_pos, k_pos = draw_keys(
        args.rows,
        zipf_weights(n_c, EXPORTER)[by_code],
        zipf_weights(n_c, IMPORTER)[by_code],
        zipf_weights(n_p, PRODUCT)[prod_by_code],
        rng,
    )
    i_rank, j_rank, k_rank = by_code[i_pos], by_code[j_pos], prod_by_code[k_pos]
    del i_pos, j_pos, k_pos
    t_keys = time.perf_counter() - t0

    # Effects on log10 value: bigger traders and popular products trade more per flow.
    size_e = 0.35 * np.log10(zipf_weights(n_c, EXPORTER) * n_c)
    size_i = 0.25 * np.log10(zipf_weights(n_c, IMPORTER) * n_c)
    prod_e = rng.normal(0.0, 0.45, size=n_p)
    unit_value = rng.normal(0.75, 0.9, size=n_p)  # log10 USD per kg, per product

    stem = f"BACI_HS92_Y{YEAR}_V202401b_synth{_label(args.rows)}"
    csv_path, pq_path = out / f"{stem}.csv", out / f"{stem}.parquet"
    schema = pa.schema(
        [
            ("t", pa.int32()),
            ("i", pa.int32()),
            ("j", pa.int32()),
            ("k", pa.string()),
            ("v", pa.float64()),
            ("q", pa.float64()),
        ]
    )
    k_text = pl.Series("k", products, dtype=pl.String)
    with csv_path.open("wb") as fcsv, pq.ParquetWriter(pq_path, schema, compression="zstd") as pw:
        for start in range(0, args.rows, args.chunk):
            sl = slice(start, min(start + args.chunk, args.rows))
            ir, jr, kr = i_rank[sl], j_rank[sl], k_rank[sl]
            n = ir.size
            logv = 1.1 + size_e[ir] + size_i[jr] + prod_e[kr] + rng.normal(0.0, 1.75, size=n)
            v = np.maximum(np.round(10.0**logv, 3), 0.001)
            logq = np.log10(v) - unit_value[kr] + rng.normal(0.0, 0.9, size=n)
            q = np.maximum(np.round(10.0**logq, 3), 0.001)
            whole = rng.random(n) < 0.10
            q[whole] = np.maximum(np.round(q[whole]), 1.0)
            missing = rng.random(n) < MISSING_Q
            chunk = pl.DataFrame(
                {
                    "t": np.full(n, YEAR, dtype=np.int32),
                    "i": rank_codes[ir].astype(np.int32),
                    "j": rank_codes[jr].astype(np.int32),
                    "k": k_text.gather(kr),
                    "v": v,
                    "q": pl.Series(q).scatter(np.flatnonzero(missing), None),
                }
            )
            chunk.write_csv(fcsv, include_header=start == 0, float_precision=3, null_value="NA")
            pw.write_table(
                pa.Table.from_batches(chunk.to_arrow().cast(schema).to_batches()),
                row_group_size=ROW_GROUP,
            )
    elapsed = time.perf_counter() - t0
    _report(pq_path, csv_path, t_keys, elapsed)


def _label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def _report(pq_path: Path, csv_path: Path, t_keys: float, elapsed: float) -> None:
    lf = pl.scan_parquet(pq_path)
    mapped = hs_to_commodity("hs92")["hs6_code"].unique().implode()
    n = lf.select(pl.len()).collect(engine="streaming").item()
    stats = lf.select(
        pl.col("k").n_unique().alias("products"),
        pl.col("i").n_unique().alias("exporters"),
        pl.col("j").n_unique().alias("importers"),
        pl.col("k").is_in(mapped).mean().alias("share_rows_mapped_hs"),
        pl.col("q").is_null().mean().alias("share_q_missing"),
        pl.col("v").median().alias("median_v"),
    ).collect(engine="streaming")
    conc = {}
    for c in ("i", "j", "k"):
        s = lf.group_by(c).len().sort("len", descending=True).collect(engine="streaming")["len"]
        conc[c] = (s.head(10).sum() / n, s.head(50).sum() / n)
    # One year, sorted by (i, j, k): keys are unique iff the packed key strictly increases
    # (a check in constant memory per row, unlike a group-by over 10 M keys).
    key = (pl.col("i").cast(pl.Int64) * 1000 + pl.col("j")) * 1_000_000 + pl.col("k").cast(pl.Int64)
    not_increasing = (
        lf.select(key.alias("key"), pl.col("t"))
        .select(((pl.col("key").diff() <= 0) | (pl.col("t") != YEAR)).sum())
        .collect(engine="streaming")
        .item()
    )
    print(f"wrote {n:,} rows in {elapsed:.1f} s (keys {t_keys:.1f} s)")
    print(f"  {csv_path} ({csv_path.stat().st_size / 2**20:.0f} MiB)")
    print(f"  {pq_path} ({pq_path.stat().st_size / 2**20:.0f} MiB)")
    for name, value in stats.row(0, named=True).items():
        print(f"  {name}: {value:.4g}" if isinstance(value, float) else f"  {name}: {value}")
    for c, (t10, t50) in conc.items():
        print(f"  rows by {c}: top-10 {t10:.1%}, top-50 {t50:.1%}")
    print(f"  rows not strictly after the previous (t, i, j, k) key: {not_increasing}")


if __name__ == "__main__":
    main()
