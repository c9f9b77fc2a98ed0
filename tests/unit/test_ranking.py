"""The ranking of an importer's goods by probability-weighted welfare loss."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.ranking import RANK_SCHEMA, rank_commodities, weighted_catalogue
from resilience.scenarios import SpecError, load_catalogue
from resilience.specs import CountrySet

REPO = Path(__file__).resolve().parents[2]
#: The default horizon and regions (pruning to 3 importers and 5 % producers leaves the
#: graphite cut to countries outside the US's market); coarse blocks.
SMALL = StudyMarketSettings(
    market=MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2),
)


@pytest.fixture(scope="module")
def ranked() -> pl.DataFrame:
    return rank_commodities(
        CountrySet(countries=("USA",)),
        [
            ("graphite", "mining"),
            ("cobalt", "refining"),
            ("nickel", "mining"),
            ("copper", "mining"),
        ],
        year=2023,
        catalogue=load_catalogue(REPO / "models" / "scenarios.yaml"),
        settings=SMALL,
    )


def test_ranked_goods_carry_the_probability_weighted_loss(ranked: pl.DataFrame) -> None:
    assert ranked.schema == RANK_SCHEMA
    status = dict(zip(ranked["commodity"], ranked["status"], strict=True))
    # graphite (China's controls) and cobalt (DRC suspension) are priced; Indonesia's ore
    # ban is already in the 2023 trade (its ore exports are near zero): out of scope;
    # copper is touched only by the Taiwan blockade (every good) and has no reference price
    assert status == {
        "graphite": "ranked",
        "cobalt": "ranked",
        "nickel": "out_of_scope",
        "copper": "no_data",
    }
    reason = ranked.filter(pl.col("commodity") == "copper")["reason"][0]
    assert "reference price" in reason
    top = ranked.filter(pl.col("status") == "ranked")
    assert top["rank"].to_list() == [1, 2]
    losses = top["expected_welfare_loss_usd"].to_list()
    assert losses[0] >= losses[1]
    for row in top.iter_rows(named=True):
        # one event each: expected = probability x loss if it happens (calm costs ~nothing)
        assert row["expected_welfare_loss_usd"] == pytest.approx(
            row["probability"] * row["worst_welfare_loss_usd"], rel=1e-4
        )
        assert row["worst_welfare_loss_usd"] > 0
        assert row["price_rise_max_pct"] > 0
    assert ranked.filter(pl.col("status") != "ranked")["rank"].null_count() == 2


def test_the_rank_command_refuses_an_unknown_good_and_importer() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["rank", "--importer", "USA", "--commodity", "unobtainium/mining"])
    assert bad.exit_code != 0
    assert "unobtainium/mining" in bad.output
    nobody = runner.invoke(
        app, ["rank", "--importer", "Atlantis", "--commodity", "graphite/mining"]
    )
    assert nobody.exit_code != 0
    assert "Atlantis" in nobody.output


# ----------------------------------------------------------------------------- alternatives
def _graphite_catalogue(path: Path, entries: dict[str, tuple[int, str | None]]) -> Path:
    """A catalogue of China graphite cuts (availability 0.3, probability 0.1): ``name ->
    (days, weight)``; a weight makes the entry an alternative of ``graphite_stop``."""
    text = "scenarios:\n"
    for name, (days, weight) in entries.items():
        text += (
            f"  {name}:\n    description: China's natural graphite at 30 % for {days} days\n"
            "    disruptions:\n      - suppliers: [CHN]\n        commodities: [graphite/mining]\n"
            f"        availability: 0.3\n        probability: 0.1\n        duration_days: {days}\n"
        )
        if weight is not None:
            text += f"    alternative_of: graphite_stop\n    weight: {weight}\n"
    path.write_text(text)
    return path


def _rank_graphite(catalogue: Path) -> dict[str, object]:
    frame = rank_commodities(
        CountrySet(countries=("USA",)),
        [("graphite", "mining")],
        year=2023,
        catalogue=load_catalogue(catalogue),
        settings=SMALL,
    )
    return frame.row(0, named=True)


def test_a_group_of_two_alternatives_counts_its_probability_once(tmp_path: Path) -> None:
    short = _rank_graphite(_graphite_catalogue(tmp_path / "a.yaml", {"short": (45, None)}))
    group = _rank_graphite(
        _graphite_catalogue(tmp_path / "g.yaml", {"short": (45, "1/4"), "long": (90, "0.75")})
    )
    assert short["status"] == group["status"] == "ranked"
    loss_short = short["worst_welfare_loss_usd"]
    loss_long = group["worst_welfare_loss_usd"]  # the longer cut is the worse view
    assert group["worst_scenario"] == "long"
    assert 0 < loss_short < loss_long
    # one event of probability 0.1, seen at two lengths: p x (w_1 L_1 + w_2 L_2)
    assert group["probability"] == pytest.approx(0.1)
    assert group["expected_welfare_loss_usd"] == pytest.approx(
        0.1 * (0.25 * loss_short + 0.75 * loss_long), rel=1e-4
    )
    # the same two entries as separate risks would count the event twice
    assert group["expected_welfare_loss_usd"] < 0.1 * (loss_short + loss_long) * 0.9


def test_the_shipped_taiwan_views_are_one_crisis_in_the_ranking() -> None:
    cat = load_catalogue(REPO / "models" / "scenarios.yaml")
    views = [s for s in cat.scenarios.values() if s.alternative_of == "taiwan_strait_crisis"]
    assert {s.name for s in views} == {
        "taiwan_blockade",
        "taiwan_blockade_3m",
        "taiwan_blockade_6m",
        "taiwan_blockade_12m",
    }
    weighted = weighted_catalogue(cat).scenarios
    assert "taiwan_blockade" not in weighted  # weight 0: the 6-month view's duplicate
    total = sum(weighted[s.name].disruptions[0].probability for s in views if s.name in weighted)
    assert total == pytest.approx(0.056)
    assert weighted["taiwan_blockade_3m"].disruptions[0].probability == pytest.approx(0.056 / 3)


@pytest.mark.parametrize(
    ("second", "field", "fragment"),
    [
        ("    alternative_of: g\n    weight: 0.5\n", "scenarios.b.weight", "sum to 0.8"),
        ("    alternative_of: g\n    weight: 1.5\n", "scenarios.b.weight", "weight in [0, 1]"),
        ("    alternative_of: g\n    weight: one\n", "scenarios.b.weight", "weight in [0, 1]"),
        ("    alternative_of: g\n", "scenarios.b.weight", "required with the other key"),
        ("    alternative_of: G!\n    weight: 0.7\n", "scenarios.b.alternative_of", "bad group"),
    ],
)
def test_bad_alternatives_name_file_entry_field_and_value(
    tmp_path: Path, second: str, field: str, fragment: str
) -> None:
    event = (
        "    description: x\n    disruptions:\n      - suppliers: [CHN]\n"
        "        commodities: [graphite/mining]\n        probability: {p}\n"
    )
    path = tmp_path / "cat.yaml"
    path.write_text(
        "scenarios:\n  a:\n"
        + event.format(p=0.1)
        + "    alternative_of: g\n    weight: 0.3\n  b:\n"
        + event.format(p=0.1)
        + second
    )
    with pytest.raises(SpecError) as exc:
        load_catalogue(path)
    text = str(exc.value)
    assert "cat.yaml" in text
    assert field in text
    assert fragment in text


def test_alternatives_of_one_group_share_one_probability(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    event = (
        "    description: x\n    disruptions:\n      - suppliers: [CHN]\n"
        "        commodities: [graphite/mining]\n        probability: {p}\n"
        "    alternative_of: g\n    weight: 1/2\n"
    )
    path.write_text("scenarios:\n  a:\n" + event.format(p=0.1) + "  b:\n" + event.format(p=0.2))
    with pytest.raises(SpecError) as exc:
        load_catalogue(path)
    assert "scenarios.b.disruptions[0].probability" in str(exc.value)
    assert "(value: 0.2" in str(exc.value)


# ----------------------------------------------------------------------------- report table
def test_the_report_holds_the_ranking_table_when_asked(tmp_path: Path) -> None:
    from resilience.report import read_report
    from resilience.report.publish import MANIFEST
    from resilience.report.schemas import TABLES

    definition = tmp_path / "rank.yaml"
    definition.write_text(
        "name: rank\ntables: [ranking]\nranking:\n  importer: USA\n"
        "  commodities: [graphite/mining]\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    # as of the end of 2023: trade and reference prices of 2023 (graphite has no P0 for 2024)
    args = ["report", "--as-of", "2023-12-31", "--out", str(out), "--definition", str(definition)]
    result = CliRunner().invoke(app, [*args, "--rank-importer", "JPN"])
    assert result.exit_code == 0, result.output
    table = read_report(out, "ranking").collect()
    assert TABLES["ranking"].schema == RANK_SCHEMA
    assert table.drop("as_of").schema == RANK_SCHEMA
    row = table.row(0, named=True)
    # --rank-importer replaces the definition's importer and keeps its goods
    assert (row["importer"], row["commodity"], row["stage"]) == ("JPN", "graphite", "mining")
    assert row["status"] == "ranked"
    assert row["rank"] == 1
    assert row["expected_welfare_loss_usd"] > 0
    assert "china_graphite_controls" in row["scenarios"]
    manifest = json.loads(next(out.rglob(MANIFEST)).read_text(encoding="utf-8"))
    assert manifest["tables"]["ranking"]["version"] == 1
    assert manifest["definition"]["ranking"]["importer"] == "JPN"
    assert manifest["definition"]["ranking"]["commodities"] == ["graphite/mining"]


def test_a_ranking_table_without_its_section_is_a_spec_error(tmp_path: Path) -> None:
    from resilience.report.definition import load_definition, with_ranking

    definition = tmp_path / "rank.yaml"
    definition.write_text("name: rank\ntables: [ranking]\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"rank\.yaml: ranking: required by the table ranking"):
        load_definition(definition)
    definition.write_text(
        "name: rank\ntables: [ranking]\nranking:\n  importer: Atlantis\n", encoding="utf-8"
    )
    with pytest.raises(SpecError, match=r"ranking\.importer.*Atlantis"):
        load_definition(definition)
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        f"name: plain\ntables: [scenarios]\nstudies:\n  - study: "
        f"{REPO / 'models' / 'g7_critical_minerals.yaml'}\n    scenarios: []\n",
        encoding="utf-8",
    )
    added = with_ranking(load_definition(plain), "G7")
    assert added.tables == ("scenarios", "ranking")
    assert added.ranking is not None
    assert added.ranking.commodities is None
    assert added.ranking.catalogue in added.input_files
    with pytest.raises(SpecError, match="Atlantis"):
        with_ranking(load_definition(plain), "Atlantis")


def test_rank_out_writes_the_ranking_as_parquet(tmp_path: Path) -> None:
    out = tmp_path / "ranking.parquet"
    result = CliRunner().invoke(
        app,
        [
            "rank",
            "--importer",
            "USA",
            "--commodity",
            "graphite/mining",
            "--year",
            "2023",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.schema == RANK_SCHEMA
    assert frame.select("importer", "commodity", "stage", "status").row(0) == (
        "USA",
        "graphite",
        "mining",
        "ranked",
    )
    assert frame["expected_welfare_loss_usd"][0] > 0
