"""stable_sum: the same sum whatever the row order, nulls ignored, an empty group 0."""

from __future__ import annotations

import numpy as np
import polars as pl

from resilience.metrics.sums import stable_sum


def test_same_bits_whatever_the_row_order() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    frame = pl.DataFrame(
        {"g": rng.integers(0, 50, n), "x": rng.lognormal(3.0, 4.0, n)}  # wide magnitudes
    )
    runs = [
        frame.sample(fraction=1.0, shuffle=True, seed=seed)
        .group_by("g")
        .agg(stable_sum(pl.col("x")).alias("s"), pl.col("x").sum().alias("plain"))
        .sort("g")
        for seed in range(5)
    ]
    for run in runs[1:]:
        assert run["s"].equals(runs[0]["s"])  # bit for bit
    rel = ((runs[0]["s"] - runs[0]["plain"]).abs() / runs[0]["plain"].abs()).max()
    assert rel < 1e-12  # and the sum Polars gives, up to rounding


def test_nulls_are_ignored_and_an_empty_sum_is_zero() -> None:
    frame = pl.DataFrame({"g": [1, 1, 1, 2], "x": [1.5, None, 2.0, None]})
    out = frame.group_by("g").agg(stable_sum(pl.col("x")).alias("s")).sort("g")
    assert out["s"].to_list() == [3.5, 0.0]
