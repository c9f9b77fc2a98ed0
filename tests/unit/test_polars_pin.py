"""Sums the market relies on come out the same on every run, whatever Polars' threads do.

The market's inputs are sums over trade rows per node and good
(``from_data._balances``, ``allocated``, ``regions``) and its answers sums over months and
scenarios (``results``, ``families``); a degenerate LP picks other flows when an input
moves in its last bit, so the same study must give the same sums run after run (the
report byte-identity and ``run`` screen tests rely on it). A plain Polars
``group_by(...).agg(pl.col(x).sum())`` does not: it adds the partial sums of a group in
the order its threads finish (Polars 2.2.0: 30 different roundings in 30 runs on the G7
study's arcs; 2.1 less often). Every such sum on the market path is
:func:`resilience.metrics.sums.stable_sum`. Polars is pinned below 2.2 in
``pyproject.toml`` as well, until the build pipeline's sums are moved too (the shipped
tables are rebuilt byte for byte by ``data refresh``).
"""

from __future__ import annotations

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
