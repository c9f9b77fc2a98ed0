"""`resilience build` and `resilience risk` on the shipped default data."""

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.build.pipeline import build, load_inputs, scan_built
from resilience.errors import UnknownNameError
from resilience.risk import RiskQuery, risk_table

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs():
    return load_inputs()


@pytest.fixture(scope="module")
def built(tmp_path_factory, inputs):
    out = tmp_path_factory.mktemp("build")
    subset = load_inputs(years=[2022, 2023])
    result = build(out, subset)
    return out, result


def test_build_writes_year_partitions_readable_back(built):
    out, result = built
    assert result.years == [2022, 2023]
    assert sorted(p.name for p in (out / "dependency").iterdir()) == ["year=2022", "year=2023"]
    dep = scan_built(out, "dependency").collect()
    assert dep.height == result.rows["dependency"]
    assert set(dep["basis"].unique()) == {"bilateral", "world_market"}


def test_supply_shares_sum_to_one_per_importer_commodity_stage(built):
    out, _ = built
    dep = scan_built(out, "dependency").collect()
    sums = dep.group_by("year", "importer_iso3", "commodity", "stage").agg(
        pl.col("supply_share").sum()
    )
    known = sums.filter(pl.col("supply_share") > 0)
    assert known["supply_share"].to_numpy() == pytest.approx(1.0, abs=1e-9)


def test_hhi_lies_between_one_over_n_and_one(built):
    out, _ = built
    metrics = scan_built(out, "metrics").collect()
    assert (metrics["hhi"] <= 1 + 1e-12).all()
    # On the world-market basis the unnamed rest of world sits in the denominator but
    # not in the HHI (a lower bound), so the 1/n floor holds for named suppliers only.
    metrics = metrics.filter(pl.col("basis") == "bilateral")
    assert (metrics["hhi"] >= 1 / metrics["n_suppliers"] - 1e-12).all()


def test_rebuild_replaces_tables_whole(built, inputs):
    out, _ = built
    build(out, load_inputs(years=[2023]))
    assert sorted(p.name for p in (out / "metrics").iterdir()) == ["year=2023"]
    assert not list(out.glob(".*"))  # no staging folders left behind


def test_risk_usa_g7_china(inputs):
    table = risk_table(RiskQuery("USA", "G7", "CHN", 2023), inputs)
    gallium = table.filter(pl.col("commodity") == "gallium").row(0, named=True)
    assert gallium["top_supplier_iso3"] == "CHN"
    assert gallium["coercion_direct_share"] > 0.9
    assert gallium["crma_65_breach"] is True
    # ranked by coercion exposure
    exposure = table["coercion_exposure"].drop_nulls().to_list()
    assert exposure == sorted(exposure, reverse=True)
    # a G7 member supplying is never counted as non-allied
    rows = table.filter(
        pl.col("max_non_allied_supplier_iso3").is_in(["CAN", "JPN", "DEU", "FRA", "GBR", "ITA"])
    )
    assert rows.height == 0


def test_widening_the_bloc_never_raises_non_allied_share(inputs):
    g7 = risk_table(RiskQuery("DEU", "G7", None, 2023), inputs).select(
        "commodity", "stage", "non_allied_share"
    )
    wide = risk_table(RiskQuery("DEU", "G7+EU+OECD", None, 2023), inputs).select(
        "commodity", "stage", pl.col("non_allied_share").alias("wide")
    )
    both = g7.join(wide, on=["commodity", "stage"])
    assert (both["wide"] <= both["non_allied_share"] + 1e-12).all()
    assert (both["wide"] < both["non_allied_share"] - 1e-6).any()


def test_eu_supply_risk_and_geopolrisk_are_wired_to_their_inputs(inputs):
    table = risk_table(RiskQuery("USA", "G7", None, 2023), inputs)
    rows = table.filter(pl.col("eu_supply_risk").is_not_null())
    assert rows.height > 40
    ir = pl.when(pl.col("import_reliance_assumed")).then(1.0).otherwise(pl.col("import_reliance"))
    expected = (
        (pl.col("hhi_wgi_t_global") * ir / 2 + pl.col("hhi_wgi_t_sourcing") * (1 - ir / 2))
        * (1 - pl.col("eol_rir_frac"))
        * pl.col("si_sr")
    )
    check = rows.select(pl.col("eu_supply_risk"), expected.alias("expected"))
    got, want = check["eu_supply_risk"].to_numpy(), check["expected"].to_numpy()
    assert got == pytest.approx(want, rel=1e-12)
    assert (rows["eu_supply_risk"] >= 0).all()
    # gallium: EU 2023 publishes SI_SR 0.98 for gallium; WGI-weighted world HHI is in 0..10
    gallium = table.filter(pl.col("commodity") == "gallium").row(0, named=True)
    assert gallium["si_sr"] == pytest.approx(0.98)
    assert gallium["si_sr_source"] == "EU CRM 2023"
    assert 0 < gallium["hhi_wgi_t_global"] <= 10
    geo = table.filter(pl.col("geopolrisk_score").is_not_null())
    assert geo.height > 20
    assert geo["geopolrisk_score"].is_between(0, 1).all()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (RiskQuery("Atlantis", "G7"), "unknown importer 'Atlantis'"),
        (RiskQuery("USA", "G8"), "unknown bloc 'G8'; did you mean 'G7'"),
        (RiskQuery("USA", "G7", "Chine"), "unknown adversary 'Chine'; did you mean"),
        (
            RiskQuery("USA", "G7", commodities=["galium"]),
            "unknown commodity 'galium'; did you mean 'gallium'",
        ),
        (RiskQuery("USA", "G7", year=1990), "unknown year '1990'; did you mean '2018'"),
    ],
)
def test_risk_bad_names_list_close_matches(inputs, query, message):
    with pytest.raises(UnknownNameError) as info:
        risk_table(query, inputs)
    assert message in str(info.value)


def test_cli_help_lists_commands_with_one_line_help():
    from resilience.cli.app import app

    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("summary", "data", "build", "risk"):
        assert command in result.output


def test_cli_risk_json_has_the_table_columns(tmp_path: Path):
    from resilience.cli.app import app

    out = tmp_path / "risk.json"
    result = runner.invoke(
        app,
        [
            "risk",
            "--importer",
            "JPN",
            "--bloc",
            "QUAD",
            "--adversary",
            "CHN",
            "--format",
            "json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert {
        "commodity",
        "stage",
        "hhi",
        "non_allied_share",
        "coercion_exposure",
        "top_supplier_iso3",
    } <= set(rows[0])
    assert all(r["importer_iso3"] == "JPN" for r in rows)


def test_cli_risk_unknown_importer_exits_nonzero_with_message():
    from resilience.cli.app import app

    result = runner.invoke(app, ["risk", "--importer", "Narnia", "--bloc", "G7"])
    assert result.exit_code == 1
    assert "unknown importer 'Narnia'" in result.output


def test_cli_risk_table_is_titled_and_sourced():
    from resilience.cli.app import app

    result = runner.invoke(
        app, ["risk", "--importer", "USA", "--bloc", "G7", "--adversary", "CHN", "--year", "2023"]
    )
    assert result.exit_code == 0, result.output
    assert "Supply risk for United States, 2023: bloc G7, adversary CHN" in result.output
    assert "sources: production" in result.output
    assert "gallium" in result.output
