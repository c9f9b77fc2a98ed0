"""`resilience build` and `resilience risk` on the shipped default data."""

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.build.pipeline import build, load_inputs, scan_built
from resilience.errors import ArgumentError, UnknownNameError
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
    assert set(dep["basis"].unique()) == {
        "bilateral",
        "world_market",
        # chip segments (datasets/chip_capacity.csv)
        "capacity_by_location",
        "market_by_headquarters",
        "supply_by_location",
    }


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
    # material rows first, each part ranked by coercion exposure
    assert table["is_material"].to_list() == sorted(table["is_material"], reverse=True)
    for part in table.partition_by("is_material"):
        exposure = part["coercion_exposure"].drop_nulls().to_list()
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
    assert "Sources and licences:" in result.output
    assert "CEPII BACI (Etalab Licence Ouverte 2.0)" in result.output
    assert "World Bank WGI (CC BY 4.0)" in result.output
    assert "gallium" in result.output


@pytest.mark.parametrize(
    ("importer", "bloc", "adversary", "words"),
    [
        ("USA", "G7", "USA", ["--adversary", "'USA'", "the importer USA itself"]),
        ("USA", "G7", "United States", ["--adversary", "the importer USA itself"]),
        ("DEU", "EU", "FRA", ["--adversary", "'FRA'", "FRA is also in the allied bloc 'EU'"]),
        ("USA", "G7+EU", "FRA", ["--adversary", "also in the allied bloc 'G7+EU'"]),
    ],
)
def test_risk_refuses_an_adversary_that_is_the_importer_or_an_ally(
    inputs, importer, bloc, adversary, words
):
    with pytest.raises(ArgumentError) as info:
        risk_table(RiskQuery(importer, bloc, adversary, 2023), inputs)
    for word in words:
        assert word in str(info.value)
    assert "allowed:" in str(info.value)


def test_risk_carries_source_vintage_and_the_trade_value_behind_each_share(inputs):
    frame = risk_table(RiskQuery("DEU", "G7+EU", "CHN", 2023), inputs)
    bilateral = frame.filter(pl.col("basis") == "bilateral")
    world = frame.filter(pl.col("basis") == "world_market")
    assert bilateral.height > 10
    assert world.height > 5
    # shares of recorded imports: the BACI release (or, where a local China exports table
    # supplies goods BACI lacks, that table); shares of world production: its source
    china = pl.col("source").str.starts_with("UN Comtrade (China monthly exports")
    baci = bilateral.filter(~china)
    assert set(baci["vintage"]) == {"V202401b"}
    assert all(s.startswith("CEPII BACI HS92 V202401b") for s in baci["source"])
    assert set(bilateral.filter(china)["commodity"]) <= {"gallium", "germanium", "graphite"}
    assert world["source"].to_list() == world["production_source"].to_list()
    assert world["vintage"].null_count() == 0
    assert (
        world.select(pl.col("top1_value_usd", "non_allied_value_usd", "max_non_allied_value_usd"))
        .null_count()
        .row(0)
        == (world.height,) * 3
    )
    # each value divided by the importer's total is the share printed beside it
    for value, share in [
        ("top1_value_usd", "top1_share"),
        ("non_allied_value_usd", "non_allied_share"),
        ("max_non_allied_value_usd", "max_non_allied_share"),
    ]:
        rows = bilateral.filter(pl.col(share).is_not_null() & (pl.col(share) > 0))
        ratio = rows[value] / rows["import_value_usd"]
        assert (ratio - rows[share]).abs().max() < 1e-9, value
    lithium = bilateral.filter((pl.col("commodity") == "lithium") & (pl.col("stage") == "refining"))
    assert lithium["import_value_usd"][0] > lithium["non_allied_value_usd"][0] > 0


def test_cli_risk_csv_has_source_vintage_and_values():
    from resilience.cli.app import app

    result = runner.invoke(
        app,
        ["risk", "-i", "DEU", "-b", "EU", "-c", "lithium", "--year", "2023", "--format", "csv"],
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(result.stdout.encode())
    for column in ("source", "vintage", "import_value_usd", "top1_value_usd"):
        assert column in frame.columns
    assert "non_allied_value_usd" in frame.columns
    assert "V202401b" in frame["vintage"].to_list()
