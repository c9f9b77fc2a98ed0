"""Suppliers without a WGI score or a UNGA ideal point are named, never defaulted in silence."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.build.dependency import (
    build_dependency,
    country_attributes,
    missing_attributes,
    warn_missing_attributes,
)
from resilience.build.pipeline import build, load_inputs
from resilience.build.world_market import world_shares
from resilience.cli.app import app
from resilience.risk import RiskQuery, risk_table

PRODUCTION = pl.DataFrame(
    {
        "year": [2023] * 4,
        "commodity": ["nickel"] * 4,
        "stage": ["mining"] * 4,
        "country_iso3": ["IDN", "NCL", "ROW", "WLD"],
        "source": ["USGS MCS 2025"] * 4,
        "quantity": [60.0, 10.0, 30.0, 100.0],
        "unit": ["t"] * 4,
    },
    schema_overrides={"year": pl.Int32},
)
# IDN has all six indicators and an ideal point; NCL has neither; TWN (an importer) has
# governance but no ideal point.
GOVERNANCE = pl.DataFrame(
    {
        "year": [2023] * 12,
        "country_iso3": ["IDN"] * 6 + ["TWN"] * 6,
        "indicator": ["va", "pv", "ge", "rq", "rl", "cc"] * 2,
        "estimate": [0.1, -0.4, 0.6, 0.2, -0.3, -0.4, 0.9, 0.8, 1.5, 1.5, 1.2, 1.0],
    },
    schema_overrides={"year": pl.Int32},
)
ALIGNMENT = pl.DataFrame(
    {"year": [2023, 2023], "country_iso3": ["IDN", "JPN"], "ideal_point": [-0.3, 1.1]},
    schema_overrides={"year": pl.Int32},
)
ALLIANCES = pl.DataFrame(
    {"bloc": ["G7"], "iso3": ["JPN"], "joined": [dt.date(1975, 1, 1)], "left": [None]},
    schema_overrides={"left": pl.Date},
)
COMMODITIES = pl.DataFrame({"commodity": ["nickel"], "stage": ["mining"]})


def _dependency() -> pl.DataFrame:
    bilateral = pl.LazyFrame(
        {
            "year": [2023, 2023],
            "importer_iso3": ["JPN", "JPN"],
            "commodity": ["nickel", "nickel"],
            "stage": ["mining", "mining"],
            "supplier_iso3": ["IDN", "NCL"],
            "import_value_usd": [70.0, 30.0],
            "import_quantity_t": [7.0, 3.0],
            "import_share": [0.7, 0.3],
        },
        schema_overrides={"year": pl.Int32},
    )
    world = world_shares(PRODUCTION, [2023])
    attrs = country_attributes(GOVERNANCE, ALIGNMENT, ALLIANCES, [2023])
    return build_dependency(bilateral, world, attrs, ["JPN", "TWN"], COMMODITIES).collect()


def test_flags_and_notes_name_the_countries():
    dep = _dependency()
    jpn = {r["supplier_iso3"]: r for r in dep.filter(pl.col("importer_iso3") == "JPN").to_dicts()}
    assert not jpn["IDN"]["is_governance_imputed"]
    assert not jpn["IDN"]["is_ideal_point_missing"]
    assert jpn["IDN"]["governance_note"] is None
    assert jpn["NCL"]["is_governance_imputed"]
    assert jpn["NCL"]["is_ideal_point_missing"]
    assert jpn["NCL"]["governance_note"] == (
        "no WGI score for NCL: GeoPolRisk uses 0.5, EU SR leaves it out; "
        "no UNGA ideal point for NCL"
    )
    assert jpn["NCL"]["alignment_distance"] is None
    # Taiwan buys on the world market: its own ideal point is missing on every row
    twn = dep.filter(pl.col("importer_iso3") == "TWN")
    assert set(twn["supplier_iso3"]) == {"IDN", "NCL", "ROW"}
    idn = twn.filter(pl.col("supplier_iso3") == "IDN").row(0, named=True)
    assert idn["is_ideal_point_missing"]
    assert not idn["is_governance_imputed"]
    assert idn["governance_note"] == "no UNGA ideal point for TWN"
    # the rest of world is not a country: never flagged
    row = twn.filter(pl.col("supplier_iso3") == "ROW").row(0, named=True)
    assert not row["is_governance_imputed"]
    assert not row["is_ideal_point_missing"]


def test_warning_names_the_countries(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="resilience.build.dependency"):
        missing = warn_missing_attributes(_dependency())
    assert missing == {"governance": ["NCL"], "ideal_point": ["NCL", "TWN"]}
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "no WGI governance score for NCL" in text
    assert "no UNGA ideal point for NCL, TWN" in text


def test_shipped_japan_nickel_names_new_caledonia():
    table = risk_table(RiskQuery("JPN", "G7", None, 2023, ["nickel"]))
    mining = table.filter(pl.col("stage") == "mining").row(0, named=True)
    assert mining["is_governance_imputed"]
    assert "no WGI score for NCL" in mining["governance_note"]
    assert "no UNGA ideal point for NCL" in mining["governance_note"]


def test_build_warns_once_naming_the_countries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inputs = load_inputs(years=[2023])
    with caplog.at_level(logging.WARNING, logger="resilience.build.pipeline"):
        result = build(tmp_path / "out", inputs)
    assert result.rows["dependency"] > 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    governance = [w for w in warnings if w.startswith("no WGI governance score")]
    ideal = [w for w in warnings if w.startswith("no UNGA ideal point")]
    assert len(governance) == 1
    assert len(ideal) == 1
    assert "NCL" in governance[0]
    assert "PYF" in governance[0]
    assert "TWN" in ideal[0]
    built = pl.scan_parquet(tmp_path / "out" / "dependency" / "**" / "*.parquet")
    flagged = (
        built.filter(pl.col("is_governance_imputed"))
        .select(pl.col("supplier_iso3").unique())
        .collect()["supplier_iso3"]
        .to_list()
    )
    assert "NCL" in flagged


def test_cli_risk_screen_names_missing_scores(restore_logging: None) -> None:
    result = CliRunner().invoke(
        app, ["risk", "-i", "JPN", "-b", "G7", "-c", "nickel", "--year", "2023"]
    )
    assert result.exit_code == 0, result.output
    assert "Missing scores" in result.output
    assert "no WGI score for NCL" in result.output


def test_cli_source_option_changes_the_world_share(restore_logging: None) -> None:
    def top_share(source: str) -> float:
        result = CliRunner().invoke(
            app,
            ["risk", "-i", "USA", "-b", "G7", "-c", "cobalt", "--year", "2023"]
            + ["--source", source, "-f", "csv"],
        )
        assert result.exit_code == 0, result.output
        frame = pl.read_csv(io.StringIO(result.stdout))
        row = frame.filter(pl.col("stage") == "mining").row(0, named=True)
        assert row["world_top_producer_iso3"] == "COD"
        return float(row["world_top1_share"])

    # DRC cobalt 2023: IEA 157 of 239.8 kt; USGS MCS 2025 175 of 238 kt
    assert top_share("iea") == pytest.approx(157 / 239.8)
    assert top_share("usgs") == pytest.approx(175 / 238)


def test_cli_unknown_source_is_refused(restore_logging: None) -> None:
    result = CliRunner().invoke(app, ["risk", "-i", "USA", "-b", "G7", "--source", "bgs"])
    assert result.exit_code == 2
    assert "bgs" in result.output


def test_missing_attributes_on_an_empty_frame():
    assert missing_attributes(_dependency().head(0)) == {"governance": [], "ideal_point": []}


def test_cli_summary_source_option(restore_logging: None) -> None:
    def mining_line(*extra: str) -> str:
        result = CliRunner().invoke(app, ["summary", "-c", "cobalt", *extra])
        assert result.exit_code == 0, result.output
        lines = [line for line in result.output.splitlines() if "│ mining" in line]
        assert len(lines) == 1, result.output
        return lines[0]

    # the latest production year is 2024: USGS MCS 2025 by default and with usgs; with
    # iea the IEA's 2023 figures (its only year: DR Congo 157 of 239.8 kt = 65.5 %)
    assert "USGS MCS 2025" in mining_line()
    assert "USGS MCS 2025" in mining_line("--source", "usgs")
    iea = mining_line("--source", "iea")
    assert "IEA Critical" in iea
    assert "65.5" in iea
    assert "World Mining Data" in mining_line("--source", "wmd")
