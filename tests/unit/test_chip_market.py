"""Chips on the market core, on the shipped data (datasets/market_balances.csv).

A Taiwan blockade must cost every member something, leave leading-edge (< 10 nm) logic
unserved, and do so by at least what the shipped table implies by hand: Taiwan's lost
output over the blockade, less every other producer's spare capacity over the whole
horizon and every consumer's working stock.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from resilience.data import load_taiwan_chip_exports
from resilience.optimize.market.disruptions import covered_months
from resilience.optimize.market.from_data import run_study_market, study_market
from resilience.paths import datasets_dir
from resilience.reference.market_balances import load_market_balances
from resilience.reference.market_parameters import resolve_parameters
from resilience.scenarios import load_study

LE = "wafer_fab_leading_edge/manufacturing"
REST = "wafer_fab_mature/manufacturing"
REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "tests" / "data" / "chips_g7_2022.yaml"
G7 = ["CAN", "DEU", "FRA", "GBR", "ITA", "JPN", "USA"]


def _study(tmp_path: Path, members: str, year: int = 2022, goods: tuple[str, ...] = (LE, REST)):
    text = STUDY.read_text().replace("members: G7\n", f"members: {members}\n")
    text = text.replace("year: 2022\n", f"year: {year}\n")
    text = text.replace(
        "  - wafer_fab_leading_edge/manufacturing\n  - wafer_fab_mature/manufacturing\n",
        "".join(f"  - {g}\n" for g in goods),
    )
    path = tmp_path / f"chips_{members.replace('+', '_')}_{year}.yaml"
    path.write_text(text)
    return load_study(path)


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return load_market_balances()


@pytest.fixture(scope="module")
def g7_6m():
    return run_study_market(load_study(STUDY), "taiwan_blockade_6m")


# ----------------------------------------------------------------------------- the table
def test_world_values_are_the_cited_figures_combined_as_stated(table):
    world = dict(
        table.filter(pl.col("role") == "world")
        .select("commodity", "world_units_per_year")
        .iter_rows()
    )
    leading = 73_760 * 0.53 / 0.69  # TSMC revenue x 7 nm-and-below share / TWN < 10 nm share
    assert world["wafer_fab_leading_edge"] == pytest.approx(leading, abs=0.01)
    assert world["wafer_fab_mature"] == pytest.approx(574_100 - leading, abs=0.01)


def test_leading_edge_supply_is_the_sia_bcg_split(table):
    supply = dict(
        table.filter(
            (pl.col("commodity") == "wafer_fab_leading_edge")
            & (pl.col("role") == "supply")
            & (pl.col("year") == 2022)
        )
        .select("country_iso3", "share_pct")
        .iter_rows()
    )
    assert supply == {"TWN": 69.0, "KOR": 31.0, "USA": 0.0, "ROW": 0.0}


def test_demand_split_rederives_from_taiwan_customs(table):
    # WSTS 2021 regions, split by each country's share of Taiwan's IC exports to the
    # region, 2017-2021 summed (the derivation column says so row by row)
    regions = {"Americas": 121_481, "Europe": 47_757, "Japan": 43_687, "Asia Pacific": 342_967}
    continent = dict(
        pl.read_csv(datasets_dir() / "countries.csv", infer_schema=False)
        .select("iso3", "continent")
        .iter_rows()
    )

    def region(iso3: str) -> str:
        if iso3 == "JPN":
            return "Japan"
        c = continent.get(iso3)
        return {"America": "Americas", "Europe": "Europe"}.get(c or "", "Asia Pacific")

    exports = (
        load_taiwan_chip_exports()
        .filter(
            pl.col("year").is_between(2017, 2021)
            & pl.col("hs6_code").is_in(["854231", "854232", "854233", "854239"])
        )
        .group_by("importer_iso3")
        .agg(pl.col("value_usd").sum())
    )
    value = dict(exports.iter_rows())
    by_region: dict[str, float] = {}
    for iso3, v in value.items():
        by_region[region(iso3)] = by_region.get(region(iso3), 0.0) + v
    rows = table.filter(
        (pl.col("role") == "demand")
        & (pl.col("commodity") == "wafer_fab_leading_edge")
        & (pl.col("country_iso3") != "ROW")
        & (pl.col("basis") == "consumption_by_region")
    )
    assert rows.height >= 40
    for iso3, share in rows.select("country_iso3", "share_pct").iter_rows():
        r = region(iso3)
        expected = 100 * regions[r] / sum(regions.values()) * value[iso3] / by_region[r]
        assert share == pytest.approx(expected, abs=1e-6), iso3
    # every G7 and EU member has demand of its own
    eu = [
        "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC",
        "HUN", "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK",
        "SVN", "ESP", "SWE",
    ]  # fmt: skip
    have = set(rows.filter(pl.col("share_pct") > 0)["country_iso3"].to_list())
    assert set(G7) | set(eu) <= have


def test_leading_edge_buyers_are_tsmc_customers_by_headquarters(table):
    """< 10 nm demand of 2022 is TSMC's revenue by customer HQ (20-F 2022, NT$ m)."""
    ntd = {"USA": 1_493_328.8, "CHN": 245_168.8, "TWN": 210_470.8, "JPN": 119_099.3}
    emea, others, total = 123_767.1, 72_056.5, 2_263_891.3
    assert sum(ntd.values()) + emea + others == pytest.approx(total, abs=0.05)
    rows = table.filter(
        (pl.col("role") == "demand")
        & (pl.col("commodity") == "wafer_fab_leading_edge")
        & (pl.col("year") == 2022)
    )
    assert set(rows["basis"].to_list()) == {"purchases_by_buyer_hq"}
    share = dict(rows.select("country_iso3", "share_pct").iter_rows())
    for iso3, v in ntd.items():
        assert share[iso3] == pytest.approx(100 * v / total, abs=1e-6), iso3
    assert share["USA"] == pytest.approx(65.963, abs=1e-3)  # two-thirds: US fabless buyers
    part = rows.with_columns(
        pl.col("derivation").str.extract(r"TSMC 2022 (EMEA|Others)").alias("part")
    )
    split = dict(part.group_by("part").agg(pl.col("share_pct").sum()).drop_nulls().iter_rows())
    assert split["EMEA"] == pytest.approx(100 * emea / total, abs=1e-4)  # over Europe
    assert split["Others"] == pytest.approx(100 * others / total, abs=1e-4)  # the rest
    assert rows["share_pct"].sum() == pytest.approx(100.0, abs=1e-6)
    eu = {"DEU", "FRA", "ITA", "NLD", "CYP", "MLT", "GBR", "CAN"}
    assert eu <= {k for k, v in share.items() if v > 0}


def test_no_row_rests_on_the_non_commercial_eto_dataset(table):
    text = pl.concat_str("source", "url", "quote", "note", separator=" ", ignore_nulls=True)
    hits = table.select(text.str.to_lowercase().str.contains("cset|eto-chip|emerging tech"))
    assert not hits.to_series().any()


# ----------------------------------------------------------------------------- the market
def test_the_calm_market_reproduces_the_cited_balance(g7_6m):
    bal = g7_6m.market.balances.filter(pl.col("good") == LE)
    # the shipped world level is the derivation rounded to the cent of a USD m
    assert bal["q0_units_per_year"].sum() == pytest.approx(73_760 * 0.53 / 0.69, rel=1e-7)
    assert bal.filter(pl.col("node") == "TWN")["production_units_per_year"].item() == (
        pytest.approx(73_760 * 0.53, rel=1e-7)
    )
    prices = g7_6m.base.prices().filter(pl.col("good") == LE)
    demanders = bal.filter(pl.col("q0_units_per_year") > 0)["node"].to_list()
    calm = prices.filter(pl.col("node").is_in(demanders))["price_usd_per_unit"]
    assert calm.min() == pytest.approx(1e6, rel=1e-5)
    assert calm.max() == pytest.approx(1e6, rel=1e-5)


def test_six_month_blockade_costs_every_g7_member_and_sheds_at_least_the_hand_bound(table, g7_6m):
    world = table.filter(
        (pl.col("role") == "world") & (pl.col("commodity") == "wafer_fab_leading_edge")
    )
    w = world["world_units_per_year"].item()
    shares = dict(
        table.filter(
            (pl.col("commodity") == "wafer_fab_leading_edge")
            & (pl.col("role") == "supply")
            & (pl.col("year") == 2022)
        )
        .select("country_iso3", "share_pct")
        .iter_rows()
    )
    params = resolve_parameters([("wafer_fab_leading_edge", "manufacturing")], year=2022).row(
        0, named=True
    )
    buyers = dict(
        table.filter(
            (pl.col("commodity") == "wafer_fab_leading_edge")
            & (pl.col("role") == "demand")
            & (pl.col("year") == 2022)
        )
        .select("country_iso3", "share_pct")
        .iter_rows()
    )
    months = 12
    blockaded = sum(1.0 - a for a in covered_months(182, 0.0, months))  # 5.98 months
    # a blockade stops Taiwan's exports: its output less what its own buyers take
    lost = w / months * (shares["TWN"] - buyers["TWN"]) / 100 * blockaded
    spare = params["spare_capacity_share"] * w / months * (100 - shares["TWN"]) / 100 * months
    stocks = params["working_stock_days"] / 365 * w
    bound = lost - spare - stocks
    assert bound > 0.15 * w  # over a seventh of a year's world demand

    inputs = g7_6m.market.inputs
    initial = inputs.stocks.filter(pl.col("good") == LE)["initial_units"].sum()
    assert initial <= stocks * (1 + 1e-9)  # no stock the bound does not count

    demand = g7_6m.result.demand().filter(
        (pl.col("good") == LE) & (pl.col("scenario") == "taiwan_blockade_6m")
    )
    shed = demand["shed_units"].sum()
    assert shed >= bound
    assert shed <= lost + 1e-6  # and never more than Taiwan's lost output

    losses = g7_6m.losses().filter(pl.col("scenario") == "taiwan_blockade_6m")
    net = dict(losses.select("node", "net_loss_usd").iter_rows())
    consumer = dict(losses.select("node", "consumer_loss_usd").iter_rows())
    member_shed = dict(demand.group_by("node").agg(pl.col("shed_units").sum()).iter_rows())
    p0 = params["p0_usd_per_unit"]
    for member in G7:
        assert net[member] > 0, member
        # consumers lose at least the value at P0 of the leading-edge chips they go without
        assert consumer[member] >= p0 * member_shed[member] * (1 - 1e-6), member
    # the world's consumers lose at least P0 x the world's shed
    assert sum(consumer.values()) >= p0 * shed
    rise = g7_6m.price_rise().filter(
        (pl.col("good") == LE) & (pl.col("scenario") == "taiwan_blockade_6m")
    )
    assert rise["rise_pct"].max() > 100.0


def test_longer_blockades_shed_more(tmp_path):
    study = load_study(STUDY)
    shed = {}
    for scenario in ("taiwan_blockade_3m", "taiwan_blockade_12m"):
        r = run_study_market(study, scenario)
        d = r.result.demand().filter((pl.col("good") == LE) & (pl.col("scenario") == scenario))
        shed[scenario] = d["shed_units"].sum()
    assert 0 < shed["taiwan_blockade_3m"] < shed["taiwan_blockade_12m"]


def test_every_g7_and_eu_member_loses_in_a_six_month_blockade(tmp_path):
    r = run_study_market(_study(tmp_path, "G7+EU"), "taiwan_blockade_6m")
    members = r.market.members
    assert len(members) == 27 + 4  # the EU27 (DEU, FRA, ITA among them) + CAN, GBR, JPN, USA
    losses = r.losses().filter(
        (pl.col("scenario") == "taiwan_blockade_6m") & pl.col("node").is_in(members)
    )
    assert losses.height == len(members)
    positive = losses.filter(pl.col("net_loss_usd") > 0)
    assert positive.height == len(members), losses.filter(pl.col("net_loss_usd") <= 0)


def test_chips_act_capacity_map_of_2032_halves_taiwans_hold(tmp_path):
    # the 2022 market on SIA/BCG's projected 2032 < 10 nm capacity map (a study of 2032)
    m2032 = study_market(_study(tmp_path, "G7", 2032, (LE,)), "taiwan_blockade_6m")
    out = dict(
        m2032.balances.filter(pl.col("good") == LE)
        .select("node", "production_units_per_year")
        .iter_rows()
    )
    w = sum(out.values())
    assert out["TWN"] / w == pytest.approx(0.47)
    assert out["USA"] / w == pytest.approx(0.28)
    assert out["JPN"] / w == pytest.approx(0.05)
    assert math.isclose(w, 73_760 * 0.53 / 0.69, rel_tol=1e-7)
    sources = m2032.balances.filter((pl.col("good") == LE) & (pl.col("node") == "USA"))
    assert "projection" in sources["production_source"].item()


def test_the_same_study_gives_the_same_market_to_the_last_bit():
    study = load_study(STUDY)
    a = study_market(study, "taiwan_blockade_6m")
    b = study_market(study, "taiwan_blockade_6m")
    assert a.inputs.arcs.equals(b.inputs.arcs)
    assert a.balances.equals(b.balances)
    assert a.arcs.equals(b.arcs)


@pytest.mark.integration
def test_wsts_figures_are_the_compiled_ones(shared_data, table):
    figures = pl.read_csv(shared_data / "market_parameters_cited" / "figures.csv")
    wsts = figures.filter(pl.col("publisher").str.starts_with("WSTS"))
    regions = dict(
        wsts.filter(pl.col("parameter") == "semiconductor sales 2021")
        .select("region", "value")
        .iter_rows()
    )
    demand = table.filter(pl.col("role") == "demand")
    for region in ("Americas", "Europe", "Japan", "Asia Pacific"):
        said = f"WSTS {region} {regions[region]:,.0f} / sum of the four regions"
        assert demand["derivation"].str.contains(said, literal=True).any(), region
    world = table.filter(pl.col("role") == "world")
    quote = wsts.filter(pl.col("parameter") == "semiconductor sales 2022")["quote"].item()
    assert quote in world["quote"].to_list()
    assert "574,100" in world.filter(pl.col("commodity") == "wafer_fab_mature")["derivation"].item()
