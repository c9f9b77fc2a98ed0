"""The build, one year at a time, writes what the whole lazy query computes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from resilience.build.pipeline import build, dependency_and_metrics, load_inputs, scan_built

KEYS = ["year", "importer_iso3", "commodity", "stage", "supplier_iso3"]


def test_build_by_year_equals_the_query_over_all_years(tmp_path: Path) -> None:
    inputs = load_inputs(years=[2022, 2023])
    few = pl.col("commodity").is_in(["cobalt", "nickel", "natural_gas", "graphite"])
    inputs = dataclasses.replace(
        inputs,
        bilateral=inputs.bilateral.filter(few),
        commodities=inputs.commodities.filter(few),
        parameters=inputs.parameters.filter(few),
    )
    result = build(tmp_path / "out", inputs)
    whole = pl.collect_all(list(dependency_and_metrics(inputs)), engine="streaming")
    for name, frame in zip(("dependency", "metrics"), whole, strict=True):
        assert result.rows[name] == frame.height
        keys = [k for k in KEYS if k in frame.columns]
        built = scan_built(tmp_path / "out", name).collect().select(frame.columns)
        assert_frame_equal(built.sort(keys), frame.sort(keys), check_exact=False, rel_tol=1e-12)
    years = sorted(p.name for p in (tmp_path / "out" / "dependency").iterdir())
    assert years == ["year=2022", "year=2023"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_build_writes_the_source_spread(tmp_path: Path) -> None:
    inputs = load_inputs(years=[2023])
    result = build(tmp_path / "out", inputs)
    spread = scan_built(tmp_path / "out", "source_spread").collect()
    assert result.rows["source_spread"] == spread.height
    assert spread["year"].unique().to_list() == [2023]
    cod = spread.filter(
        (pl.col("commodity") == "cobalt")
        & (pl.col("stage") == "mining")
        & (pl.col("country_iso3") == "COD")
    ).row(0, named=True)
    assert cod["min"] < 0.66 < 0.73 < cod["max"]
    assert cod["is_disputed"]
