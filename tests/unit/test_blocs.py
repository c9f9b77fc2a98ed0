"""Blocs as importers: extra-bloc flows, summed production, bloc files, ``risk --importer EU``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience import data
from resilience.build.bloc_indices import bloc_risk_indices
from resilience.build.blocs import (
    EU27,
    bloc_bilateral,
    bloc_exports,
    bloc_membership,
    bloc_production,
    intra_bloc_flows,
)
from resilience.errors import DataError
from resilience.reference.alliances import load_alliances
from resilience.reference.bloc_files import read_bloc_file

runner = CliRunner()


def _alliances() -> pl.DataFrame:
    """A bloc TST of Germany and France since 2000, and FRA leaving at the end of 2021."""
    return pl.DataFrame(
        {
            "bloc": ["TST", "TST"],
            "iso3": ["DEU", "FRA"],
            "country": ["Germany", "France"],
            "kind": ["economic", "economic"],
            "joined": [dt.date(2000, 1, 1), dt.date(2000, 1, 1)],
            "left": [None, dt.date(2022, 1, 1)],
            "source": ["test", "test"],
        }
    )


def _bilateral() -> pl.LazyFrame:
    rows = [
        # importer, supplier, value USD, tonnes
        ("DEU", "FRA", 100.0, 10.0),  # intra-bloc: removed
        ("DEU", "CHN", 50.0, 5.0),
        ("FRA", "CHN", 30.0, 3.0),
        ("FRA", "USA", 40.0, 2.0),
        ("FRA", "DEU", 7.0, 1.0),  # intra-bloc: removed
        ("USA", "DEU", 20.0, 4.0),  # exports of the bloc to the outside
        ("CHN", "FRA", 9.0, None),  # export without a quantity
    ]
    frame = pl.DataFrame(
        {
            "year": [2020] * len(rows),
            "importer_iso3": [r[0] for r in rows],
            "commodity": ["cobalt"] * len(rows),
            "stage": ["refining"] * len(rows),
            "supplier_iso3": [r[1] for r in rows],
            "import_value_usd": [r[2] for r in rows],
            "import_quantity_t": [r[3] for r in rows],
        },
        schema_overrides={"year": pl.Int32},
    )
    return frame.lazy().with_columns(
        (
            pl.col("import_value_usd")
            / pl.col("import_value_usd").sum().over("year", "importer_iso3", "commodity", "stage")
        ).alias("import_share")
    )


def test_bloc_imports_are_extra_bloc_flows_summed_per_supplier():
    membership = bloc_membership(_alliances(), ["TST"], [2020])
    rows = bloc_bilateral(_bilateral(), membership).collect().sort("supplier_iso3")
    assert rows["importer_iso3"].to_list() == ["TST", "TST"]
    assert rows["supplier_iso3"].to_list() == ["CHN", "USA"]  # no FRA, no DEU
    assert rows["import_value_usd"].to_list() == [80.0, 40.0]
    assert rows["import_quantity_t"].to_list() == [8.0, 2.0]
    assert rows["import_share"].to_list() == pytest.approx([80 / 120, 40 / 120])


def test_membership_follows_the_year_and_eu27_is_fixed():
    after = bloc_membership(_alliances(), ["TST"], [2022])
    assert after["member_iso3"].to_list() == ["DEU"]
    eu = load_alliances()
    eu27 = bloc_membership(eu, [EU27, "EU"], [2018])
    counts = dict(eu27.group_by("bloc_iso3").len().iter_rows())
    assert counts == {EU27: 27, "EU": 28}  # the UK was in the EU on 31 Dec 2018
    assert "GBR" not in eu27.filter(pl.col("bloc_iso3") == EU27)["member_iso3"].to_list()


def test_bloc_production_is_the_members_sum_and_exports_leave_the_bloc():
    membership = bloc_membership(_alliances(), ["TST"], [2020])
    world = pl.LazyFrame(
        {
            "year": [2020, 2020, 2020],
            "commodity": ["cobalt"] * 3,
            "stage": ["refining"] * 3,
            "country_iso3": ["DEU", "FRA", "CHN"],
            "production_quantity": [100.0, 50.0, 1000.0],
            "unit": ["t"] * 3,
        },
        schema_overrides={"year": pl.Int32},
    )
    produced = bloc_production(world, membership).collect()
    assert produced["domestic_production"].to_list() == [150.0]
    assert produced["n_producing_members"].to_list() == [2]
    dependency = _bilateral().with_columns(
        pl.lit("bilateral").alias("basis"),
        pl.lit(False).alias("importer_is_bloc"),
        pl.lit(0.0).alias("supplier_wgi_pv"),
    )
    exports = bloc_exports(dependency, membership).collect()
    # USA buys 4 t from DEU; CHN's purchase from FRA has no quantity; intra flows don't count
    assert exports["exports_t"].to_list() == [4.0]
    intra = intra_bloc_flows(dependency, membership).collect().sort("supplier_iso3")
    assert intra["supplier_iso3"].to_list() == ["DEU", "FRA"]
    assert intra["import_quantity_t"].to_list() == [1.0, 10.0]


def test_jrc_sourcing_adds_members_production_to_extra_bloc_imports():
    """EU sourcing = production + extra-bloc imports in tonnes, each with its own WGI."""
    membership = bloc_membership(_alliances(), ["TST"], [2020])
    key = {"year": [2020], "commodity": ["cobalt"], "stage": ["refining"]}
    world = pl.LazyFrame(
        {
            **{k: v * 2 for k, v in key.items()},
            "country_iso3": ["DEU", "CHN"],
            "production_quantity": [10.0, 90.0],
            "unit": ["t", "t"],
            "world_share": [0.1, 0.9],
        },
        schema_overrides={"year": pl.Int32},
    )
    dependency = pl.LazyFrame(
        {
            **{k: v * 2 for k, v in key.items()},
            "importer_iso3": ["TST", "TST"],
            "supplier_iso3": ["CHN", "USA"],
            "basis": ["bilateral", "bilateral"],
            "supply_share": [0.75, 0.25],
            "import_value_usd": [75.0, 25.0],
            "import_quantity_t": [30.0, 10.0],
            "supplier_wgi_mean": [-0.5, 1.0],
            "supplier_wgi_pv": [-0.5, 0.0],
            "importer_is_bloc": [True, True],
        },
        schema_overrides={"year": pl.Int32},
    )
    attributes = pl.LazyFrame(
        {
            "year": [2020] * 4,
            "country_iso3": ["DEU", "FRA", "CHN", "USA"],
            "wgi_mean": [1.5, 1.0, -0.5, 1.0],
            "wgi_pv": [0.5, 0.0, -0.5, 0.0],
        },
        schema_overrides={"year": pl.Int32},
    )
    volumes = pl.LazyFrame(
        {
            **key,
            "importer_iso3": ["TST"],
            "imports_t": [40.0],
            "exports_t": [0.0],
            "domestic_production": [10.0],
            "production_unit": ["t"],
        },
        schema_overrides={"year": pl.Int32},
    )
    parameters = pl.DataFrame(
        {"commodity": ["cobalt"], "stage": ["refining"], "eol_rir_frac": [0.2], "si_sr": [0.9]}
    )
    trade_parameters = pl.DataFrame(
        {
            "commodity": ["cobalt"],
            "stage": ["refining"],
            "scope": ["global_supply"],
            "exporter_iso3": ["CHN"],
            "trade_parameter": [1.1],
        }
    )
    world_hhi = pl.LazyFrame({**key, "world_hhi": [0.82]}, schema_overrides={"year": pl.Int32})
    out = bloc_risk_indices(
        dependency,
        world,
        volumes,
        world_hhi,
        parameters,
        membership,
        attributes,
        trade_parameters,
    ).collect()
    row = out.row(0, named=True)
    # shares of 50 t: DEU 10 (WGI 1.5 -> 2), CHN 30 (-0.5 -> 6, t 1.1), USA 10 (1.0 -> 3)
    sourcing = 0.2**2 * 2 + 0.6**2 * 6 * 1.1 + 0.2**2 * 3
    global_ = 0.1**2 * 2 + 0.9**2 * 6 * 1.1
    ir = 40 / 50
    assert row["hhi_wgi_t_sourcing"] == pytest.approx(sourcing)
    assert row["hhi_wgi_t_global"] == pytest.approx(global_)
    assert row["import_reliance"] == pytest.approx(ir)
    assert row["eu_supply_risk"] == pytest.approx(
        (global_ * ir / 2 + sourcing * (1 - ir / 2)) * 0.8 * 0.9
    )
    assert row["eu_sourcing_basis"].startswith("members' production")
    # GeoPolRisk: no intra flows here, so WTA = sum(g f) / (p + F)
    g_chn, g_usa = (2.5 + 0.5) / 5, (2.5 - 0.0) / 5
    assert row["geopolrisk_score"] == pytest.approx(0.82 * (g_chn * 30 + g_usa * 10) / (10 + 40))
    assert row["geopolrisk_price_usd_per_kg"] == pytest.approx(100 / 40_000)


def test_geopolrisk_counts_intra_bloc_imports_with_zero_instability():
    """geopolrisk-py ``internal``: intra-bloc tonnes raise F but add nothing to sum g f."""
    membership = bloc_membership(_alliances(), ["TST"], [2020])
    dependency = pl.concat(
        [
            _bilateral().with_columns(pl.lit(False).alias("importer_is_bloc")),
            bloc_bilateral(_bilateral(), membership).with_columns(
                pl.lit(True).alias("importer_is_bloc")
            ),
        ]
    ).with_columns(
        pl.lit("bilateral").alias("basis"),
        pl.col("import_share").alias("supply_share"),
        pl.lit(0.0).alias("supplier_wgi_mean"),
        pl.lit(0.0).alias("supplier_wgi_pv"),  # g = 0.5 for everyone outside
    )
    empty_world = pl.LazyFrame(
        schema={
            "year": pl.Int32,
            "commodity": pl.String,
            "stage": pl.String,
            "country_iso3": pl.String,
            "production_quantity": pl.Float64,
            "unit": pl.String,
            "world_share": pl.Float64,
        }
    )
    volumes = pl.LazyFrame(
        schema={
            "year": pl.Int32,
            "importer_iso3": pl.String,
            "commodity": pl.String,
            "stage": pl.String,
            "imports_t": pl.Float64,
            "exports_t": pl.Float64,
            "domestic_production": pl.Float64,
            "production_unit": pl.String,
        }
    )
    out = bloc_risk_indices(
        dependency,
        empty_world,
        volumes,
        pl.LazyFrame(
            {"year": [2020], "commodity": ["cobalt"], "stage": ["refining"], "world_hhi": [1.0]},
            schema_overrides={"year": pl.Int32},
        ),
        pl.DataFrame(
            {"commodity": ["cobalt"], "stage": ["refining"], "eol_rir_frac": [0.0], "si_sr": [1.0]}
        ),
        membership,
        pl.LazyFrame(
            schema={
                "year": pl.Int32,
                "country_iso3": pl.String,
                "wgi_mean": pl.Float64,
                "wgi_pv": pl.Float64,
            }
        ),
        pl.DataFrame(
            schema={
                "commodity": pl.String,
                "stage": pl.String,
                "scope": pl.String,
                "exporter_iso3": pl.String,
                "trade_parameter": pl.Float64,
            }
        ),
    ).collect()
    row = out.row(0, named=True)
    extra_t, intra_t = 8.0 + 2.0, 10.0 + 1.0
    assert row["geopolrisk_import_risk"] == pytest.approx(0.5 * extra_t / (extra_t + intra_t))
    assert row["geopolrisk_price_usd_per_kg"] == pytest.approx(
        (80 + 40 + 100 + 7) / ((extra_t + intra_t) * 1000)
    )


def test_bloc_csv_naming_an_unknown_country_names_file_row_column_value(tmp_path: Path):
    path = tmp_path / "my_bloc.csv"
    path.write_text("iso3\nUSA\nGermany\nFRX\n")
    with pytest.raises(DataError) as caught:
        read_bloc_file(path)
    problems = caught.value.problems
    assert [(p.row, p.column, p.value) for p in problems] == [
        (3, "iso3", "Germany"),
        (4, "iso3", "FRX"),
    ]
    assert problems[0].file == str(path)
    assert "close matches: DEU" in problems[0].reason
    assert "FRA" in problems[1].reason


def test_bloc_yaml_reports_the_line_of_the_unknown_member(tmp_path: Path):
    path = tmp_path / "blocs.yaml"
    path.write_text("CHIPS:\n  - USA\n  - JPN\n  - XYZ\n")
    with pytest.raises(DataError) as caught:
        read_bloc_file(path)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "iso3", "XYZ")


def test_bloc_file_reads_members_and_refuses_a_shipped_bloc_id(tmp_path: Path):
    good = tmp_path / "chips.csv"
    good.write_text("iso3\nUSA\nJPN\nKOR\nTWN\n")
    frame = read_bloc_file(good)
    assert frame["bloc"].unique().to_list() == ["CHIPS"]
    assert sorted(frame["iso3"].to_list()) == ["JPN", "KOR", "TWN", "USA"]
    clash = tmp_path / "g7.csv"
    clash.write_text("bloc,iso3\nG7,USA\n")
    with pytest.raises(DataError, match="already exists"):
        read_bloc_file(clash, shipped_blocs=["G7"])


def test_cli_risk_importer_eu_answers_with_extra_eu_imports(tmp_path: Path):
    from resilience.cli.app import app

    out = tmp_path / "eu.json"
    result = runner.invoke(
        app,
        ["risk", "--importer", "EU", "--bloc", "G7", "-c", "lithium", "-f", "json", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = pl.DataFrame(json.loads(out.read_text()))
    assert set(rows["importer_iso3"]) == {"EU"}
    assert rows["importer_is_bloc"].all()
    year = int(rows["year"][0])
    members = bloc_membership(load_alliances(), ["EU"], [year])["member_iso3"].to_list()
    refining = rows.filter(pl.col("stage") == "refining").row(0, named=True)
    expected = (
        data.scan_trade()
        .filter(
            (pl.col("year") == year)
            & (pl.col("commodity") == "lithium")
            & (pl.col("stage") == "refining")
            & pl.col("importer_iso3").is_in(members)
            & ~pl.col("exporter_iso3").is_in(members)
        )
        .select(pl.col("value_usd").sum())
        .collect()
        .item()
    )
    # Extra-EU imports, less what non-member hubs re-export of members' own goods: a
    # round trip through a hub is traced back inside the bloc and dropped (hubs.py).
    assert 0.95 * expected <= refining["import_value_usd"] <= expected * (1 + 1e-9)
    assert refining["top_supplier_iso3"] not in members


def test_cli_risk_importer_file_with_unknown_country_fails_naming_it(tmp_path: Path):
    from resilience.cli.app import app

    path = tmp_path / "my_bloc.csv"
    path.write_text("bloc,iso3\nMYB,USA\nMYB,XXA\n")
    result = runner.invoke(
        app, ["risk", "--importer", "MYB", "--importer-file", str(path), "--bloc", "G7"]
    )
    assert result.exit_code != 0
    assert "my_bloc.csv, row 3, column 'iso3'" in result.output
    assert "'XXA'" in result.output


def _study(tmp_path: Path, bloc_file: str, allies: str) -> Path:
    from resilience.paths import project_root

    study = tmp_path / "study.yaml"
    study.write_text(
        "name: chips_allies\n"
        "year: 2023\n"
        "members: [USA]\n"
        f"allies: {allies}\n"
        "adversary: CHN\n"
        "commodities: [gallium/refining]\n"
        "model: stress\n"
        f"bloc_files: [{bloc_file}]\n"
        f"catalogue: {project_root() / 'models' / 'scenarios.yaml'}\n"
    )
    return study


def test_study_bloc_file_names_a_users_bloc_in_allies(tmp_path: Path):
    from resilience.scenarios import load_study

    (tmp_path / "chips.csv").write_text("bloc,iso3\nCHIPS,JPN\nCHIPS,KOR\nCHIPS,TWN\n")
    study = load_study(_study(tmp_path, "chips.csv", "CHIPS+EU"))
    allies = study.allies.resolve(study.date)
    assert {"JPN", "KOR", "TWN", "DEU", "FRA"} <= set(allies)
    assert "USA" not in allies
    assert "GBR" not in allies
    assert study.bloc_files == ((tmp_path / "chips.csv").resolve(),)


def test_study_bloc_file_with_unknown_country_names_file_row_column_value(tmp_path: Path):
    from resilience.scenarios import load_study

    (tmp_path / "chips.yaml").write_text("CHIPS:\n  - JPN\n  - KOR\n  - TAIWAN\n")
    with pytest.raises(DataError) as caught:
        load_study(_study(tmp_path, "chips.yaml", "CHIPS"))
    (problem,) = caught.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "iso3", "TAIWAN")
    assert problem.file.endswith("chips.yaml")
    assert "TWN" in problem.reason


def test_trade_parameter_table_rejects_bad_rows(tmp_path: Path):
    from resilience.build.bloc_indices import load_trade_parameters

    shipped = load_trade_parameters()
    assert shipped.filter(
        (pl.col("commodity") == "cobalt")
        & (pl.col("stage") == "mining")
        & (pl.col("exporter_iso3") == "COD")
    )["trade_parameter"].to_list() == [1.1]
    bad = tmp_path / "tp.csv"
    bad.write_text(
        "commodity,stage,scope,exporter_iso3,trade_parameter\n"
        "tin,refining,global_supply,CHN,-1.5\n"
        "tin,refining,world,CHN,1.5\n"
    )
    with pytest.raises(DataError) as caught:
        load_trade_parameters(bad)
    found = {(p.row, p.column, p.value) for p in caught.value.problems}
    assert found == {(2, "trade_parameter", "-1.5"), (3, "scope", "world")}


def test_risk_refuses_an_adversary_inside_the_importing_bloc():
    from resilience.errors import ArgumentError, UnknownNameError
    from resilience.risk import RiskQuery, risk_table

    with pytest.raises(ArgumentError, match="DEU is a member of the importing bloc EU27"):
        risk_table(RiskQuery("EU27", "QUAD", "DEU", commodities=["cobalt"]))
    with pytest.raises(UnknownNameError, match="'EU27'"):
        risk_table(RiskQuery("EU28", "G7", commodities=["cobalt"]))
