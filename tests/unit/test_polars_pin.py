"""Sums the market relies on come out the same on every run, whatever Polars' threads do.

The market's inputs are sums over trade rows per node and good
(``from_data._balances``, ``allocated``, ``regions``) and its answers sums over months and
scenarios (``results``, ``families``); a degenerate LP picks other flows when an input
moves in its last bit, so the same study must give the same sums run after run (the
report byte-identity and ``run`` screen tests rely on it). A plain Polars
``group_by(...).agg(pl.col(x).sum())`` does not: it adds the partial sums of a group in
the order its threads finish (Polars 2.2.0: 30 different roundings in 30 runs on the G7
study's arcs; 2.1 less often). A window sum (``sum().over(...)``) and a group mean in a
lazy query do the same (Polars 2.1.0: 2 and 29 different results in 30 runs on a
200 k-row frame). Every such sum on the market path and in the build pipeline (the
dependency dataset, the metrics table and the shipped tables ``data refresh`` writes) is
:func:`resilience.metrics.sums.stable_sum`. With them, Polars 2.2.0 refreshes the shipped
tables with the same rows as 2.1.0, twice alike; the pin below 2.2 in ``pyproject.toml``
stays because 2.2 writes those rows into other Parquet bytes (its version in the footer, a
string column compressed differently), and ``data refresh`` is tested to reproduce the
shipped files byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from resilience.metrics.sums import stable_sum


def _frame() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    # rows of a group scattered through the frame, as the trade rows of one importer are
    return pl.DataFrame({"key": rng.integers(0, 50, 20_000), "value": rng.random(20_000) * 1e6})


def test_stable_group_sums_are_the_same_every_time_and_are_the_sums() -> None:
    frame = _frame()
    runs = {
        tuple(
            frame.group_by("key", maintain_order=True)
            .agg(stable_sum(pl.col("value")))["value"]
            .to_list()
        )
        for _ in range(20)
    }
    assert len(runs) == 1, f"polars {pl.__version__}: {len(runs)} different stable sums"
    keys = frame.group_by("key", maintain_order=True).agg(pl.col("value"))
    exact = [float(np.sum(np.sort(np.asarray(v)))) for v in keys["value"].to_list()]
    assert np.allclose(next(iter(runs)), exact, rtol=1e-12, atol=0)


def test_no_plain_group_sum_is_left_on_the_market_path() -> None:
    """The files that build the market's inputs and answers use stable_sum in aggregations."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "resilience"
    files = [
        "optimize/market/from_data.py",
        "optimize/market/allocated.py",
        "optimize/market/regions.py",
        "optimize/market/links_data.py",
        "optimize/market/results.py",
        "optimize/families/common.py",
        "optimize/families/pooling.py",
        "study.py",
        "ranking.py",
    ]
    plain = re.compile(r"pl\.col\([^()]*\)\.sum\(\)(?!\.over)")
    found = {f: plain.findall((root / f).read_text()) for f in files}
    assert not any(found.values()), found


#: The build pipeline: every ``.sum()`` or ``.mean()`` of an expression there is a group
#: or window aggregation feeding the dependency dataset, the metrics table or a shipped
#: table, so none may be a plain one (eager Series sums are not used in these files).
BUILD_FILES = sorted(
    str(p.relative_to(Path(__file__).resolve().parents[2] / "resilience"))
    for folder in ("build", "metrics")
    for p in (Path(__file__).resolve().parents[2] / "resilience" / folder).glob("*.py")
    if p.name != "sums.py"
)


def test_no_plain_sum_or_mean_is_left_in_the_build_pipeline() -> None:
    import re

    root = Path(__file__).resolve().parents[2] / "resilience"
    assert "build/bilateral.py" in BUILD_FILES
    assert "metrics/concentration.py" in BUILD_FILES
    plain = re.compile(r"\.(?:sum|mean)\(\)")
    found = {f: plain.findall((root / f).read_text()) for f in BUILD_FILES}
    assert not any(found.values()), {f: n for f, n in found.items() if n}


def test_stable_window_sums_are_the_same_every_time_and_are_the_sums() -> None:
    frame = _frame().lazy()
    runs = {
        frame.with_columns(stable_sum(pl.col("value")).over("key").alias("total"))
        .collect()["total"]
        .to_numpy()
        .tobytes()
        for _ in range(20)
    }
    assert len(runs) == 1, f"polars {pl.__version__}: {len(runs)} different window sums"
    values = frame.collect()
    keys, v = values["key"].to_numpy(), values["value"].to_numpy()
    got = values.with_columns(stable_sum(pl.col("value")).over("key").alias("total"))
    got = got.select("key", "total").unique().sort("key")
    exact = [float(np.sum(np.sort(v[keys == k]))) for k in got["key"].to_list()]
    assert np.allclose(got["total"].to_numpy(), exact, rtol=1e-12, atol=0)
