"""`resilience build --bloc` writes bloc importers' rows beside the countries'."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from resilience.cli.app import app


def test_build_with_blocs_writes_extra_bloc_rows(tmp_path: Path, restore_logging: None) -> None:
    out = tmp_path / "build"
    result = CliRunner().invoke(
        app, ["build", "--out", str(out), "--year", "2023", "--bloc", "EU27"]
    )
    assert result.exit_code == 0, result.output
    metrics = pl.read_parquet(out / "metrics" / "year=2023" / "part-0.parquet")
    eu = metrics.filter(pl.col("importer_iso3") == "EU27")
    assert eu.height > 0
    assert eu["importer_is_bloc"].all()
    assert not metrics.filter(pl.col("importer_iso3") == "DEU")["importer_is_bloc"].any()
    dependency = pl.read_parquet(out / "dependency" / "year=2023" / "part-0.parquet")
    eu_graphite = dependency.filter(
        (pl.col("importer_iso3") == "EU27")
        & (pl.col("commodity") == "graphite")
        & (pl.col("stage") == "mining")
        & (pl.col("basis") == "bilateral")
    )
    # Extra-bloc imports only: no EU member supplies the bloc itself.
    members = {"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU",
               "GRC", "HUN", "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT",
               "ROU", "SVK", "SVN", "ESP", "SWE"}  # fmt: skip
    assert eu_graphite.height > 0
    assert not set(eu_graphite["supplier_iso3"].to_list()) & members
    assert abs(eu_graphite["supply_share"].sum() - 1.0) < 1e-9
