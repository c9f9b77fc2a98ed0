"""Draw rates of strategic stocks: published where a row exists, the stated rule otherwise."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from resilience.errors import DataError
from resilience.optimize.market import run_market
from resilience.optimize.market.from_data import study_market
from resilience.optimize.market.regions import Regions
from resilience.optimize.market.stocks_data import BBL_PER_TONNE, member_stocks
from resilience.optimize.market.testing import GOOD, cut, world
from resilience.optimize.solve import SolverOptions
from resilience.reference.market_parameters import load_strategic_stocks
from resilience.scenarios import load_catalogue, load_study
from resilience.specs import CountrySet, StudySpec

REPO = Path(__file__).resolve().parents[2]
QUIET = SolverOptions(log_to="off")
HEADER = "holder,commodity,stage,item,basis,value,unit,source,vintage,url,quote,note"
CRUDE = "crude_oil/mining"
GAS = "natural_gas/mining"
#: Every member consumes 1,200 units a year (100 a month) of each good.
Q0_PER_YEAR = 1200.0
#: USA's published rate in the table below, million bbl a day.
US_RATE = 0.001
#: The stated rule in the table below: share of the stock a month.
RULE = 0.05


def _table(path: Path, rows: list[str]) -> pl.DataFrame:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return load_strategic_stocks(path)


def _row(holder: str, good: str, item: str, basis: str, value: str, unit: str) -> str:
    commodity, stage = good.split("/")
    return f"{holder},{commodity},{stage},{item},{basis},{value},{unit},S,2024,https://x,q,"


def _stocks(table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Stocks of JPN, USA and GBR, each consuming and importing 1,200 units of each good."""
    members = ("GBR", "JPN", "USA")
    study = StudySpec(
        path=REPO / "models" / "scenarios.yaml",
        name="draw_rates",
        description="draw rates",
        year=2023,
        members=CountrySet(countries=members),
        allies=CountrySet(countries=members),
        commodities=(("crude_oil", "mining"), ("natural_gas", "mining")),
        model="stress",
        catalogue=load_catalogue(REPO / "models" / "scenarios.yaml"),
    )
    balances = pl.DataFrame(
        [(m, g, Q0_PER_YEAR, Q0_PER_YEAR, 0.0) for m in members for g in (CRUDE, GAS)],
        schema=[
            "node",
            "good",
            "q0_units_per_year",
            "imports_units_per_year",
            "exports_units_per_year",
        ],
        orient="row",
    )
    notes: list[str] = []
    stocks, detail = member_stocks(
        study,
        Regions(members=members, importers=(), producers=(), forced=()),
        balances,
        notes,
        overrides={"working_stock_days": 0.0},
        table=table,
    )
    return stocks, detail, notes


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame, list]:
    table = _table(
        tmp_path_factory.mktemp("stocks") / "stocks.csv",
        [
            # one year of consumption for every IEA member's crude, and of JPN's gas
            _row("IEA", CRUDE, "obligation", "days_of_consumption", "365", "days"),
            _row("JPN", GAS, "gas_stock", "days_of_consumption", "365", "days"),
            _row("IEA", CRUDE, "rule", "share_of_stock_per_month", str(RULE), "share"),
            _row(
                "USA",
                CRUDE,
                "max_drawdown_rate",
                "quantity_per_day",
                str(US_RATE),
                "million bbl/day",
            ),
            _row("USA", CRUDE, "observed_pace", "quantity_per_day", "0.0001", "million bbl/day"),
        ],
    )
    return _stocks(table)


def _draw(stocks: pl.DataFrame, node: str, good: str) -> float:
    hit = stocks.filter((pl.col("node") == node) & (pl.col("good") == good))
    assert hit.height == 1, (node, good)
    return float(hit["draw_units_per_month"][0])


def test_the_published_rate_applies_where_a_row_exists(drawn):
    stocks, detail, notes = drawn
    # 0.001 million bbl/day in tonnes (7.33 bbl/t), times 365/12 days
    assert _draw(stocks, "USA", CRUDE) == pytest.approx(1000.0 / BBL_PER_TONNE * 365.0 / 12.0)
    assert BBL_PER_TONNE == 7.33
    chosen = detail.filter(pl.col("chosen") & (pl.col("node") == "USA"))
    assert set(chosen["item"]) == {"obligation", "max_drawdown_rate"}
    pace = detail.filter((pl.col("node") == "USA") & (pl.col("item") == "observed_pace"))
    assert pace["used"].to_list() == [False]
    assert "not used" in pace["why"][0]
    assert any("USA may release at most 4149.6" in n for n in notes)


def test_the_stated_rule_applies_to_members_without_a_published_rate(drawn):
    stocks, detail, _ = drawn
    for member in ("GBR", "JPN"):
        assert _draw(stocks, member, CRUDE) == pytest.approx(RULE * Q0_PER_YEAR)  # 60 a month
    rule = detail.filter(pl.col("chosen") & (pl.col("item") == "rule"))
    assert sorted(rule["node"]) == ["GBR", "JPN"]
    assert rule["draw_units_per_month"].to_list() == pytest.approx([60.0, 60.0])


def test_a_stock_without_a_rate_row_can_be_drawn_in_one_month(drawn):
    stocks, _, _ = drawn
    assert _draw(stocks, "JPN", GAS) == pytest.approx(Q0_PER_YEAR)


def test_a_member_whose_draw_rate_is_below_the_cut_sheds_the_difference(drawn):
    """JPN holds 1,200 units (a year) but may release 60 a month; its only supplier
    stops for two months: 200 units are cut, well under the stock, yet JPN goes without
    100 - 60 = 40 units in each of the two months and nothing after."""
    stocks, _, _ = drawn
    held = stocks.filter((pl.col("node") == "JPN") & (pl.col("good") == CRUDE)).row(0, named=True)
    assert held["initial_units"] == pytest.approx(Q0_PER_YEAR)
    result = run_market(
        world(
            {("M", GOOD): 100.0},
            {("S", GOOD): 100.0},
            {("S", "M", GOOD): 100.0},
            stocks={
                ("M", GOOD): (
                    held["initial_units"],
                    held["capacity_units"],
                    held["draw_units_per_month"],
                )
            },
            availability=cut("S", 0.0, [1, 2]),
            scenarios={"cut": 1.0},
            months=4,
        ),
        options=QUIET,
    )
    shed = result.demand().filter(pl.col("node") == "M").sort("month")["shed_units"]
    assert shed.to_list() == pytest.approx([40.0, 40.0, 0.0, 0.0], abs=1e-6)


@pytest.mark.parametrize(("value", "reason"), [("-4.4", "min"), ("fast", "")])
def test_a_negative_or_non_numeric_rate_names_file_row_column_and_value(
    tmp_path: Path, value: str, reason: str
) -> None:
    path = tmp_path / "stocks.csv"
    path.write_text(
        HEADER
        + "\n"
        + _row("IEA", CRUDE, "obligation", "days_of_net_imports", "90", "days")
        + "\n"
        + _row("USA", CRUDE, "max_drawdown_rate", "quantity_per_day", value, "million bbl/day")
        + "\n"
    )
    with pytest.raises(DataError) as exc:
        load_strategic_stocks(path)
    problem = exc.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("stocks.csv", 3, "value")
    assert str(value) in str(problem.value)
    assert reason in problem.reason


def test_a_rule_share_above_one_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="shares_are_fractions"):
        _table(
            tmp_path / "stocks.csv",
            [_row("IEA", CRUDE, "rule", "share_of_stock_per_month", "1.5", "share")],
        )


def test_the_shipped_rule_is_the_spr_design_rate_per_barrel_of_storage() -> None:
    table = load_strategic_stocks()

    def value(holder: str, item: str) -> float:
        hit = table.filter((pl.col("holder") == holder) & (pl.col("item") == item))
        assert hit.height == 1, (holder, item)
        return float(hit["value"][0])

    rate = value("USA", "max_drawdown_rate")
    storage = value("USA", "spr_storage_capacity")
    assert (rate, storage) == (4.4, 726.6)  # CRS R42460
    assert value("IEA", "drawdown_rule_spr_ratio") == pytest.approx(
        rate / storage * 365.0 / 12.0, rel=1e-5
    )


def test_the_shipped_crude_stocks_of_the_members_carry_their_draw_rates(tmp_path: Path) -> None:
    """On the shipped data: the US stock at the SPR's 4.4 million bbl/day, Japan's and the
    UK's at the stated rule (0.184191 of the stock a month)."""
    path = tmp_path / "crude.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "crude",
                "year": 2023,
                "members": "GBR+JPN+USA",
                "allies": "GBR+JPN+USA",
                "commodities": [CRUDE],
                "model": "stress",
                "catalogue": str(REPO / "models" / "scenarios.yaml"),
            }
        )
    )
    market = study_market(load_study(path))
    stocks = market.inputs.stocks.filter(pl.col("good") == CRUDE)
    us = stocks.filter(pl.col("node") == "USA").row(0, named=True)
    assert us["draw_units_per_month"] == pytest.approx(4.4e6 / 7.33 * 365.0 / 12.0)
    assert us["draw_units_per_month"] < us["initial_units"]  # the rate binds a large draw
    for member in ("GBR", "JPN"):
        held = stocks.filter(pl.col("node") == member).row(0, named=True)
        assert held["draw_units_per_month"] == pytest.approx(0.184191 * held["initial_units"])
    applied = market.stocks.filter(pl.col("chosen") & pl.col("draw_units_per_month").is_not_null())
    assert sorted(applied.select("node", "item").iter_rows()) == [
        ("GBR", "drawdown_rule_spr_ratio"),
        ("JPN", "drawdown_rule_spr_ratio"),
        ("USA", "max_drawdown_rate"),
    ]
