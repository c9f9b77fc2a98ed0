"""CHIPS-Act capacity as a catalogue policy: the projected capacity map in a study of today.

``chips_act_capacity`` (models/scenarios.yaml) sets ``capacity_map_year: 2032`` for
< 10 nm logic: SIA/BCG's 2032 supply shares replace the study year's on the study year's
world level (:func:`resilience.optimize.market.policies.capacity_map_years`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market.from_data import run_study_market, study_market
from resilience.optimize.market.policies import capacity_map_years
from resilience.paths import datasets_dir
from resilience.scenarios import SpecError, load_catalogue, load_study
from resilience.specs import KNOBS, Policy

LE = "wafer_fab_leading_edge/manufacturing"
REST = "wafer_fab_mature/manufacturing"
REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "tests" / "data" / "chips_g7_2022.yaml"
CATALOGUE = REPO / "models" / "scenarios.yaml"
G7 = ["CAN", "DEU", "FRA", "GBR", "ITA", "JPN", "USA"]
BLOCKADE = "taiwan_blockade_6m"
POLICY = "chips_act_capacity"


def _rows(**match: str) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of market_balances.csv rows matching ``match`` (header = 1)."""
    with (datasets_dir() / "market_balances.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [(i + 2, r) for i, r in enumerate(rows) if all(r[k] == v for k, v in match.items())]


def _world_le() -> float:
    (_, row), *_ = _rows(commodity="wafer_fab_leading_edge", role="world", year="2022")
    return float(row["world_units_per_year"])


def _share_2032(iso3: str) -> float:
    (_, row), *_ = _rows(
        commodity="wafer_fab_leading_edge", role="supply", year="2032", country_iso3=iso3
    )
    return float(row["share_pct"]) / 100.0


def _study(tmp_path: Path, catalogue: Path | None = None):
    text = STUDY.read_text()
    if catalogue is not None:
        text = text.replace("model: stress\n", f"model: stress\ncatalogue: {catalogue}\n")
    path = tmp_path / "chips.yaml"
    path.write_text(text)
    return load_study(path)


def test_the_knob_is_in_the_one_table_with_its_default_and_wording():
    assert Policy().capacity_map_year is None
    assert Policy().capacity_map_goods is None
    assert KNOBS["capacity_map_year"][0] == "year_or_null"
    assert "market_balances.csv" in KNOBS["capacity_map_year"][1]
    entry = load_catalogue(CATALOGUE).scenarios[POLICY]
    assert dict(entry.policy) == {"capacity_map_year": 2032, "capacity_map_goods": (LE,)}
    assert not entry.disruptions
    assert any("CHIPS and Science Act" in s for s in entry.sources)
    assert any("2032" in a and "6-month" not in a for a in entry.assumptions)


def test_with_the_policy_us_leading_edge_supply_is_the_projected_share_of_the_world():
    m = study_market(load_study(STUDY), f"{BLOCKADE}+{POLICY}")
    out = dict(
        m.balances.filter(pl.col("good") == LE)
        .select("node", "production_units_per_year")
        .iter_rows()
    )
    w = _world_le()
    # by hand: 0.28 x USD 56,656.23 m = USD 15,863.74 m a year of US < 10 nm output
    assert out["USA"] == pytest.approx(0.28 * 56_656.23, rel=1e-9)
    assert out["USA"] == pytest.approx(_share_2032("USA") * w, rel=1e-9)
    assert out["TWN"] == pytest.approx(_share_2032("TWN") * w, rel=1e-9)
    assert out["JPN"] == pytest.approx(_share_2032("JPN") * w, rel=1e-9)
    assert sum(out.values()) == pytest.approx(w, rel=1e-9)  # the map, not additions
    usa = m.balances.filter((pl.col("good") == LE) & (pl.col("node") == "USA")).row(0, named=True)
    assert usa["production_year"] == 2032
    assert "projection" in usa["production_source"]
    # the rest of chips keeps today's map (SEMI 2021: USA 8 %)
    rest = m.balances.filter((pl.col("good") == REST) & (pl.col("node") == "USA")).row(
        0, named=True
    )
    assert rest["production_year"] == 2021
    assert any("capacity map of 2032" in n for n in m.notes)
    # without the policy the US holds no < 10 nm capacity (SIA/BCG 2022: 0 %)
    today = study_market(load_study(STUDY), BLOCKADE)
    usa_today = today.balances.filter((pl.col("good") == LE) & (pl.col("node") == "USA"))
    assert usa_today["production_units_per_year"].item() == 0.0


def test_the_policy_equals_a_study_of_2032_on_the_leading_edge(tmp_path):
    text = STUDY.read_text().replace("year: 2022\n", "year: 2032\n")
    (tmp_path / "y2032.yaml").write_text(text)
    by_year = study_market(load_study(tmp_path / "y2032.yaml"), BLOCKADE)
    by_policy = study_market(load_study(STUDY), f"{BLOCKADE}+{POLICY}")

    def le(m):
        return (
            m.balances.filter(pl.col("good") == LE)
            .select("node", "production_units_per_year", "q0_units_per_year")
            .sort("node")
        )

    assert le(by_policy).equals(le(by_year))


def test_the_policy_lowers_the_g7_loss_of_a_six_month_taiwan_blockade():
    study = load_study(STUDY)
    losses = {}
    for expression in (BLOCKADE, f"{BLOCKADE}+{POLICY}"):
        r = run_study_market(study, expression)
        loss = r.losses().filter((pl.col("scenario") == BLOCKADE) & pl.col("node").is_in(G7))
        losses[expression] = dict(loss.select("node", "net_loss_usd").iter_rows())
        # the calm market of either map reproduces P0 (the map keeps supply = demand)
        calm = r.base.prices().filter(pl.col("good") == LE)["price_usd_per_unit"]
        assert calm.min() == pytest.approx(1e6, rel=1e-5)
        assert calm.max() == pytest.approx(1e6, rel=1e-5)
    before = sum(losses[BLOCKADE].values())
    after = sum(losses[f"{BLOCKADE}+{POLICY}"].values())
    assert before > 0
    assert 0 < after < 0.5 * before  # US fabs keep producing through the blockade
    assert losses[f"{BLOCKADE}+{POLICY}"]["USA"] < losses[BLOCKADE]["USA"]


def test_a_map_for_a_good_without_projection_rows_names_file_row_column_value():
    mature = _rows(commodity="wafer_fab_mature", role="supply", year="2021")
    first = min(line for line, _ in mature)
    with pytest.raises(DataError) as exc:
        capacity_map_years([LE, REST], 2032, [REST], set_by="scenario chips_act_capacity")
    problem = exc.value.problems[0]
    assert problem.file == "market_balances.csv"
    assert problem.row == first
    assert problem.column == "year"
    assert problem.value == 2032
    assert "wafer_fab_mature/manufacturing" in problem.reason
    assert "scenario chips_act_capacity" in problem.reason
    # capacity_map_goods null: the goods with rows of that year; the others keep theirs
    assert capacity_map_years([LE, REST], 2032, None) == {LE: 2032}
    # ... but a year no good of the study has is the same error
    with pytest.raises(DataError, match=r"wafer_fab_mature.*supply years of this good: 2021"):
        capacity_map_years([REST], 2032, None)
    # a named good not in the study is left alone; no year, no map
    assert capacity_map_years([LE], 2032, [LE, REST]) == {LE: 2032}
    assert capacity_map_years([LE, REST], None, [REST]) == {}


def test_the_error_reaches_a_study_run(tmp_path):
    catalogue = tmp_path / "scenarios.yaml"
    text = CATALOGUE.read_text().replace(
        "      capacity_map_goods: [wafer_fab_leading_edge/manufacturing]\n",
        "      capacity_map_goods: [wafer_fab_mature/manufacturing]\n",
    )
    assert text != CATALOGUE.read_text()
    catalogue.write_text(text)
    with pytest.raises(DataError, match=r"market_balances\.csv, row \d+.*year.*2032"):
        study_market(_study(tmp_path, catalogue), f"{BLOCKADE}+{POLICY}")


@pytest.mark.parametrize(
    ("knob", "value", "reason"),
    [
        ("capacity_map_year", "2032", "must be a whole number"),
        ("capacity_map_year", 2032.5, "must be a whole number"),
        ("capacity_map_year", 1850, "out of range"),
        ("capacity_map_goods", ["wafer_fab_leading_edge"], "a stage is required"),
        ("capacity_map_goods", ["unobtainium/mining"], "unknown commodity"),
        ("capacity_map_goods", [], "non-empty list"),
    ],
)
def test_bad_knob_values_are_spec_errors(tmp_path, knob, value, reason):
    catalogue = tmp_path / "scenarios.yaml"
    catalogue.write_text(
        "scenarios:\n  bad:\n    description: a bad map\n    policy:\n"
        f"      {knob}: {value!r}\n".replace("'", '"')
    )
    with pytest.raises(SpecError) as exc:
        load_catalogue(catalogue)
    text = str(exc.value)
    assert f"scenarios.bad.policy.{knob}" in text
    assert reason in text


def test_world_balance_refuses_a_map_year_without_rows_of_its_own():
    from resilience.optimize.market.allocated import world_balance

    mature = _rows(commodity="wafer_fab_mature", role="supply", year="2021")
    with pytest.raises(DataError) as exc:
        world_balance([REST], 2022, supply_year={REST: 2032})
    problem = exc.value.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "market_balances.csv",
        min(line for line, _ in mature),
        "year",
        2032,
    )
    mapped = world_balance([LE], 2022, supply_year={LE: 2032})
    usa = mapped.filter((pl.col("role") == "supply") & (pl.col("country_iso3") == "USA"))
    assert usa["units_per_year"].item() == pytest.approx(0.28 * _world_le(), rel=1e-12)
    assert usa["year"].item() == 2032
