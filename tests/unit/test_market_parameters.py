"""Market parameters as data: the shipped tables are cited and valid; resolution and errors."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
import yaml

from resilience.errors import DataError, UnknownNameError
from resilience.paths import datasets_dir, project_root
from resilience.reference.market_parameters import (
    PARAMETER_RULES,
    load_gas_infrastructure,
    load_market_parameters,
    load_reference_prices,
    load_strategic_stocks,
    resolve_parameters,
)
from resilience.schemas.tables import MARKET_PARAMETERS

LOADERS = {
    "market_parameters.csv": load_market_parameters,
    "reference_prices.csv": load_reference_prices,
    "strategic_stocks.csv": load_strategic_stocks,
    "gas_infrastructure.csv": load_gas_infrastructure,
}
HEADER = "commodity,stage,sector,parameter,value,low,high,unit,source,vintage,url,quote,note"
GOOD_ROW = "crude_oil,mining,energy,demand_elasticity,-0.26,,,elasticity,S,2014,https://x,q,"


def _study_goods() -> list[tuple[int, list[tuple[str, str]]]]:
    studies = []
    for path in sorted((project_root() / "models").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        if not isinstance(spec, dict) or "commodities" not in spec:
            continue  # the scenario catalogue
        goods = [tuple(item.split("/", 1)) for item in spec["commodities"]]
        studies.append((int(spec["year"]), goods))
    return studies


# ----------------------------------------------------------------------- shipped tables


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_shipped_table_validates_and_every_row_is_cited(name):
    frame = LOADERS[name]()
    raw = pl.read_csv(datasets_dir() / name, infer_schema=False)
    assert frame.height == raw.height > 0
    for column in ("source", "vintage", "url", "quote"):
        assert frame[column].null_count() == 0, column
        assert (frame[column].str.strip_chars().str.len_chars() > 0).all(), column


def test_every_sector_default_for_materials_and_energy_is_complete():
    table = load_market_parameters()
    defaults = table.filter(pl.col("commodity") == "*")
    for sector in ("critical_materials", "energy"):
        have = set(defaults.filter(pl.col("sector") == sector)["parameter"].to_list())
        assert have == set(MARKET_PARAMETERS), sector


def test_every_commodity_and_stage_of_the_shipped_studies_resolves_to_a_full_set():
    studies = _study_goods()
    assert {g for _, goods in studies for g in goods} >= {
        ("graphite", "mining"),
        ("natural_gas", "mining"),
    }
    for year, goods in studies:
        wide = resolve_parameters(goods, year=year)
        assert wide.height == len(set(goods))
        for parameter in (*MARKET_PARAMETERS, "p0_usd_per_unit"):
            values = wide[parameter].to_list()
            assert all(v is not None and math.isfinite(v) for v in values), parameter
        assert (wide["p0_usd_per_unit"] > 0).all()
        for parameter in MARKET_PARAMETERS:
            assert (wide[f"{parameter}_source"].str.len_chars() > 0).all()


def test_oil_short_run_elasticities_are_kilian_and_murphy():
    wide = resolve_parameters([("crude_oil", "mining")], year=2021)
    row = wide.row(0, named=True)
    assert row["demand_elasticity"] == pytest.approx(-0.26)
    assert row["supply_elasticity"] == pytest.approx(0.015)
    assert "Kilian & Murphy" in row["demand_elasticity_source"]
    assert row["demand_elasticity_source"].endswith("[resolved from crude_oil/mining]")
    # Brent 2021 70.4 USD/bbl at 7.33 bbl/t
    assert row["p0_usd_per_unit"] == pytest.approx(70.4 * 7.33, abs=0.01)


def test_reference_prices_are_converted_to_content_units():
    prices = load_reference_prices()
    cobalt = prices.filter(
        (pl.col("commodity") == "cobalt")
        & (pl.col("stage") == "refining")
        & (pl.col("year") == 2021)
    ).row(0, named=True)
    # USGS MCS 2025: LME cobalt 23.17 USD/lb in 2021 -> USD per tonne of cobalt
    assert cobalt["p0_usd_per_unit"] == pytest.approx(23.17 * 2204.62262, abs=0.01)
    gas = prices.filter((pl.col("commodity") == "natural_gas") & (pl.col("year") == 2021))
    assert gas["p0_usd_per_unit"].to_list() == [280_000.0]  # 280 USD per 1000 m3


def test_published_stocks_and_gas_capacities():
    stocks = load_strategic_stocks()

    def value(holder: str, item: str) -> float:
        hit = stocks.filter((pl.col("holder") == holder) & (pl.col("item") == item))
        assert hit.height == 1, (holder, item)
        return hit["value"][0]

    assert value("IEA", "emergency_stock_obligation") == 90
    assert value("EU", "storage_filling_target_nov1") == pytest.approx(0.90)
    assert value("EU", "underground_storage_capacity") == 105
    assert value("JPN", "jogmec_rare_metal_target") == 60
    assert value("KOR", "komir_rare_metal_target") == 100
    gas = load_gas_infrastructure()
    capacity = dict(gas.select("asset", "capacity_bcm_per_year").iter_rows())
    assert capacity["nord_stream_1"] == 55
    assert capacity["turkstream"] == pytest.approx(31.5)
    assert capacity["eu_uk_lng_regas_2021"] == pytest.approx(20.2 * 365 / 35.315, abs=0.05)


def test_working_stock_days_are_cited_per_commodity_then_sector():
    wide = resolve_parameters(
        [("cobalt", "refining"), ("rare_earths", "refining"), ("graphite", "mining")], year=2023
    )
    days = dict(wide.select("commodity", "working_stock_days").iter_rows())
    # Japan Times 2011: Japanese consumers' rare earths ~three months; Argus 2020: Japan's
    # private rare-metal stocks 18 days (sector default, cobalt included: the Cobalt
    # Institute's four months are world stocks, mostly at producers and traders)
    assert days == pytest.approx({"cobalt": 18, "rare_earths": 3 * 30.4375, "graphite": 18})
    source = dict(wide.select("commodity", "working_stock_days_source").iter_rows())
    assert source["graphite"].endswith("[resolved from critical_materials sector default]")
    assert source["cobalt"].endswith("[resolved from critical_materials sector default]")
    gas = resolve_parameters([("natural_gas", "mining")], year=2021).row(0, named=True)
    # EU storage = one third of annual demand; midpoint of empty and the 90 % target
    assert gas["working_stock_days"] == pytest.approx(0.5 * 0.9 * 365 / 3)


def test_materials_have_no_separate_essential_tranche_and_a_squeeze_bounded_voll():
    wide = resolve_parameters([("cobalt", "refining")], year=2023).row(0, named=True)
    assert wide["essential_share"] == 0.0
    # midpoint of the settled LME close (48,078) and the cancelled print (100,000) / 25,400
    assert wide["voll_multiple"] == pytest.approx((48078 / 25400 + 100000 / 25400) / 2, abs=1e-3)
    high = resolve_parameters([("cobalt", "refining")], year=2023, bound="high").row(0, named=True)
    assert high["essential_share"] == pytest.approx(0.955)  # the EU SI reading, for sensitivity


def test_parameter_rules_name_exactly_the_market_parameters():
    assert set(PARAMETER_RULES) == set(MARKET_PARAMETERS)
    assert len(MARKET_PARAMETERS) == 9


# --------------------------------------------------------------------------- resolution


def _write(tmp_path: Path, name: str, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def _sector_defaults(value_of: dict[str, float] | None = None) -> list[str]:
    value_of = value_of or {}
    defaults = {
        "demand_elasticity": -0.2,
        "supply_elasticity": 0.2,
        "voll_multiple": 5.0,
        "essential_share": 0.5,
        "friction_share": 0.05,
        "ramp_share_per_month": 0.1,
        "spare_capacity_share": 0.1,
        "holding_cost_share_per_month": 0.01,
        "working_stock_days": 20.0,
    }
    defaults.update(value_of)
    return [
        f"*,*,critical_materials,{name},{value},,,u,Sector S,2020,https://x,q,"
        for name, value in defaults.items()
    ]


def test_resolution_order_good_then_commodity_then_sector_then_overrides(tmp_path):
    path = _write(
        tmp_path,
        "params.csv",
        [
            *_sector_defaults(),
            "cobalt,*,critical_materials,demand_elasticity,-0.3,,,u,Cobalt S,2021,https://x,q,",
            "cobalt,refining,critical_materials,demand_elasticity,-0.4,,,u,Refined S,2022,https://x,q,",
        ],
    )
    table = load_market_parameters(path)
    goods = [("cobalt", "refining"), ("cobalt", "mining"), ("nickel", "mining")]
    no_price = {"cobalt/mining": {"p0_usd_per_unit": 1.0}}  # no cited P0 for cobalt ore
    wide = resolve_parameters(goods, no_price, parameters=table, year=2021)
    demand = dict(
        zip(wide["commodity"] + "/" + wide["stage"], wide["demand_elasticity"], strict=True)
    )
    assert demand == {"cobalt/refining": -0.4, "cobalt/mining": -0.3, "nickel/mining": -0.2}
    sources = wide["demand_elasticity_source"].to_list()
    assert sources[0] == "Refined S (2022) [resolved from cobalt/refining]"
    assert sources[1] == "Cobalt S (2021) [resolved from cobalt/*]"
    assert sources[2] == "Sector S (2020) [resolved from critical_materials sector default]"

    overridden = resolve_parameters(
        goods,
        {
            "demand_elasticity": -0.9,
            "cobalt": {"demand_elasticity": -0.7},
            "cobalt/refining": {"demand_elasticity": -0.5, "p0_usd_per_unit": 1234.0},
            "cobalt/mining": {"p0_usd_per_unit": 1.0},
        },
        parameters=table,
        year=2021,
    )
    assert overridden["demand_elasticity"].to_list() == [-0.5, -0.7, -0.9]
    assert overridden["demand_elasticity_source"].to_list() == [
        "override (cobalt/refining)",
        "override (cobalt/*)",
        "override (*/*)",
    ]
    assert overridden["p0_usd_per_unit"][0] == 1234.0
    assert overridden["supply_elasticity"].to_list() == [0.2, 0.2, 0.2]  # untouched


def test_a_good_without_a_value_at_any_level_is_an_error(tmp_path):
    # no sector default for holding costs
    lines = [r for r in _sector_defaults() if "holding_cost" not in r]
    table = load_market_parameters(_write(tmp_path, "partial.csv", lines))
    with pytest.raises(DataError) as err:
        resolve_parameters([("graphite", "mining")], parameters=table, year=2021)
    problem = err.value.problems[0]
    assert problem.column == "holding_cost_share_per_month"
    assert problem.value == "graphite/mining"


def test_missing_reference_price_names_the_year_and_what_exists():
    with pytest.raises(DataError) as err:
        resolve_parameters([("graphite", "mining")], year=2019)
    problem = err.value.problems[0]
    assert (problem.file, problem.column, problem.value) == ("reference_prices.csv", "year", 2019)
    assert "2021, 2022, 2023" in problem.reason


def test_latest_reference_year_when_none_given():
    wide = resolve_parameters([("graphite", "mining")])
    assert wide["p0_year"][0] == 2023
    assert wide["p0_usd_per_unit"][0] == 1080.0  # USGS MCS 2025, flake graphite 2023


def test_unknown_good_suggests_close_names():
    with pytest.raises(UnknownNameError, match="cobalt"):
        resolve_parameters([("coblat", "refining")], year=2021)
    with pytest.raises(UnknownNameError, match="refining"):
        resolve_parameters([("cobalt", "smelting")], year=2021)


@pytest.mark.parametrize(
    ("overrides", "column", "value", "reason"),
    [
        ({"supply_elastcity": 0.2}, "supply_elastcity", 0.2, "did you mean 'supply_elasticity'"),
        (
            {"cobalt/refining": {"supply_elasticity": -0.1}},
            "cobalt/refining.supply_elasticity",
            -0.1,
            "positive",
        ),
        ({"voll_multiple": 0.5}, "voll_multiple", 0.5, ">= 1"),
        ({"cobalt": {"working_stock_days": -1}}, "cobalt/*.working_stock_days", -1, ">= 0"),
        ({"ramp_share_per_month": 1.5}, "ramp_share_per_month", 1.5, "[0, 1]"),
        ({"graphyte": {"essential_share": 0.5}}, "graphyte", "graphyte", "did you mean 'graphite'"),
        ({"essential_share": "high"}, "essential_share", "high", "must be a number"),
    ],
)
def test_bad_overrides_are_rejected_like_the_table(overrides, column, value, reason):
    with pytest.raises(DataError) as err:
        resolve_parameters([("graphite", "mining")], overrides, year=2021)
    problem = err.value.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "overrides",
        None,
        column,
        value,
    )
    assert reason in problem.reason


# --------------------------------------------------------------------- bad shipped rows

BAD_ROWS = [
    (
        "negative supply elasticity",
        "cobalt,*,critical_materials,supply_elasticity,-0.3,,,u,S,2020,https://x,q,",
        "value",
        -0.3,
        "positive",
    ),
    (
        "positive demand elasticity",
        "cobalt,*,critical_materials,demand_elasticity,0.3,,,u,S,2020,https://x,q,",
        "value",
        0.3,
        "negative",
    ),
    (
        "VOLL below P0",
        "cobalt,*,critical_materials,voll_multiple,0.8,,,u,S,2020,https://x,q,",
        "value",
        0.8,
        ">= 1",
    ),
    (
        "ramp above one",
        "cobalt,*,critical_materials,ramp_share_per_month,1.2,,,u,S,2020,https://x,q,",
        "value",
        1.2,
        "[0, 1]",
    ),
    (
        "negative ramp",  # 0 is allowed: no growth (the policy spot: false)
        "cobalt,*,critical_materials,ramp_share_per_month,-0.1,,,u,S,2020,https://x,q,",
        "value",
        -0.1,
        "[0, 1]",
    ),
    (
        "negative working-stock days",
        "cobalt,*,critical_materials,working_stock_days,-5,,,days,S,2020,https://x,q,",
        "value",
        -5.0,
        ">= 0",
    ),
    (
        "share above one",
        "cobalt,*,critical_materials,essential_share,1.2,,,u,S,2020,https://x,q,",
        "value",
        1.2,
        "0..1",
    ),
    (
        "range bound breaks the rule",
        "cobalt,*,critical_materials,demand_elasticity,-0.2,-0.5,0.1,u,S,2020,https://x,q,",
        "high",
        0.1,
        "negative",
    ),
    (
        "unknown commodity",
        "cobalte,*,critical_materials,demand_elasticity,-0.2,,,u,S,2020,https://x,q,",
        "commodity",
        "cobalte",
        "did you mean 'cobalt'",
    ),
    (
        "unknown stage",
        "cobalt,smelting,critical_materials,demand_elasticity,-0.2,,,u,S,2020,https://x,q,",
        "stage",
        "smelting",
        "expected pattern",
    ),
    (
        "stage the commodity does not have",
        "graphite,manufacturing,critical_materials,demand_elasticity,-0.2,,,u,S,2020,https://x,q,",
        "stage",
        "manufacturing",
        "known: mining, refining",
    ),
    (
        "sector that disagrees",
        "cobalt,*,energy,demand_elasticity,-0.2,,,u,S,2020,https://x,q,",
        "sector",
        "energy",
        "critical_materials",
    ),
    (
        "unknown parameter",
        "cobalt,*,critical_materials,demand_elastcity,-0.2,,,u,S,2020,https://x,q,",
        "parameter",
        "demand_elastcity",
        "did you mean 'demand_elasticity'",
    ),
    (
        "missing source",
        "cobalt,*,critical_materials,demand_elasticity,-0.2,,,u,,2020,https://x,q,",
        "source",
        None,
        "missing",
    ),
    (
        "missing vintage",
        "cobalt,*,critical_materials,demand_elasticity,-0.2,,,u,S,,https://x,q,",
        "vintage",
        None,
        "missing",
    ),
    (
        "value outside its range",
        "cobalt,*,critical_materials,demand_elasticity,-0.2,-0.1,,u,S,2020,https://x,q,",
        "low_not_above_value",
        None,
        "low_not_above_value",
    ),
]


@pytest.mark.parametrize(
    ("label", "line", "column", "value", "reason"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS]
)
def test_bad_parameter_rows_name_file_row_column_and_value(
    tmp_path, label, line, column, value, reason
):
    path = _write(tmp_path, "bad.csv", [GOOD_ROW, line])
    with pytest.raises(DataError) as err:
        load_market_parameters(path)
    problem = err.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("bad.csv", 3, column)
    if value is not None or column in ("source", "vintage"):
        assert problem.value == value
    assert reason in problem.reason
    assert "bad.csv, row 3" in str(err.value)


def test_duplicate_parameter_key_is_an_error(tmp_path):
    path = _write(tmp_path, "dup.csv", [GOOD_ROW, GOOD_ROW.replace("-0.26", "-0.3")])
    with pytest.raises(DataError, match="duplicate key") as err:
        load_market_parameters(path)
    assert {p.row for p in err.value.problems} == {2, 3}


def test_bad_reference_price_conversion_is_an_error(tmp_path):
    header = (
        "commodity,stage,year,p0_usd_per_unit,unit,source_price,source_unit,"
        "conversion_factor,source,vintage,url,quote,note"
    )
    path = _write(
        tmp_path,
        "prices.csv",
        ["cobalt,refining,2021,50000,USD/t,23.17,USD/lb,2204.62262,S,2025,https://x,q,"],
        header=header,
    )
    with pytest.raises(DataError, match="converted_price_matches") as err:
        load_reference_prices(path)
    assert err.value.problems[0].row == 2


def test_unknown_stock_holder_is_an_error(tmp_path):
    header = "holder,commodity,stage,item,basis,value,unit,source,vintage,url,quote,note"
    path = _write(
        tmp_path,
        "stocks.csv",
        ["JPX,crude_oil,mining,target,days_of_net_imports,90,days,S,2024,https://x,q,"],
        header=header,
    )
    with pytest.raises(DataError) as err:
        load_strategic_stocks(path)
    problem = err.value.problems[0]
    assert (problem.row, problem.column, problem.value) == (2, "holder", "JPX")
    assert "JPN" in problem.reason


# ------------------------------------------------- cross-checks against the real downloads


@pytest.mark.integration
def test_usgs_reference_prices_match_the_salient_statistics_files(shared_data):
    prices = load_reference_prices().filter(pl.col("vintage") == "MCS 2025")
    assert prices.height >= 30
    folder = shared_data / "usgs_mcs" / "mcs2025_salient"
    for rec in prices.iter_rows(named=True):
        column, line = rec["quote"].split(": ", 1)
        file = rec["source"].split("(")[-1].rstrip(")")
        table = pl.read_csv(folder / file, infer_schema=False)
        row = table.filter(pl.col("Year") == str(rec["year"]))
        assert row.height == 1, (file, rec["year"])
        assert float(row[column][0]) == rec["source_price"], (file, column, rec["year"])
        assert ",".join(v or "" for v in row.row(0)) == line


@pytest.mark.integration
def test_stock_and_gas_quotes_are_verbatim_in_the_cited_figures(shared_data):
    figures = pl.read_csv(shared_data / "market_parameters_cited" / "figures.csv")
    quotes: dict[str, list[str]] = {}
    for url, quote in figures.select("url", "quote").iter_rows():
        quotes.setdefault(url, []).append(quote)
    # draw rates: excerpts of the stored pages shipped with the table (not in figures.csv)
    rates = pl.read_csv(datasets_dir() / "sources" / "strategic_stock_rates.csv")
    for url, excerpt in rates.select("url", "excerpt").iter_rows():
        quotes.setdefault(url, []).append(excerpt)
    tables = [load_strategic_stocks(), load_gas_infrastructure()]
    oil = load_market_parameters().filter(pl.col("source").str.contains("Kilian & Murphy"))
    for table in [*tables, oil]:
        for url, quote in table.select("url", "quote").iter_rows():
            assert url in quotes, url
            assert any(quote in q for q in quotes[url]), (url, quote)


def test_materials_essential_share_is_zero_with_the_eu_substitution_index_as_upper_bound():
    eu = pl.read_csv(datasets_dir() / "sources" / "eu_crm_2023_parameters.csv")
    materials = pl.read_csv(datasets_dir() / "maps" / "eu_crm_materials.csv")
    table = load_market_parameters()
    essential = table.filter(
        (pl.col("parameter") == "essential_share") & (pl.col("sector") == "critical_materials")
    )
    # one sector row: the SI is not read as a tonnage share any more (datasets/README.md)
    assert essential["commodity"].to_list() == ["*"]
    row = essential.row(0, named=True)
    assert row["value"] == 0.0
    # the SI reading survives as the upper end: median over the 40 EU materials mapped
    mapped = eu.unique("material").join(materials.unique("material"), on="material")
    assert mapped.height == 40
    assert row["high"] == pytest.approx(mapped["si_sr"].median())


@pytest.mark.integration
def test_materials_spare_capacity_is_usgs_aluminium_capacity_over_production(shared_data):
    world = pl.read_csv(
        shared_data / "usgs_mcs" / "mcs2025_world" / "MCS2025_World_Data.csv",
        infer_schema=False,
        encoding="utf8-lossy",
    )
    total = world.filter(
        (pl.col("COMMODITY").str.strip_chars() == "Aluminum")
        & pl.col("COUNTRY").str.starts_with("World total")
    ).row(0, named=True)
    expected = float(total["CAP_2023"]) / float(total["PROD_2023"]) - 1
    row = load_market_parameters().filter(
        (pl.col("commodity") == "*")
        & (pl.col("sector") == "critical_materials")
        & (pl.col("parameter") == "spare_capacity_share")
    )
    assert row["value"][0] == pytest.approx(expected, abs=5e-5)


def test_published_range_ends_for_sensitivity_runs():
    goods = [("crude_oil", "mining"), ("graphite", "mining")]
    low = resolve_parameters(goods, year=2021, bound="low")
    high = resolve_parameters(goods, year=2021, bound="high")
    # oil demand: Baumeister & Hamilton -0.35 ... Caldara et al. -0.13 (Kilian & Murphy -0.26)
    assert low["demand_elasticity"][0] == pytest.approx(-0.35)
    assert high["demand_elasticity"][0] == pytest.approx(-0.13)
    assert "{low end of the published range}" in low["demand_elasticity_source"][0]
    # graphite's essential share: 0, no low end (the value stays), high = the EU SI median
    assert low["essential_share"][1] == 0.0
    assert "{no published low: value kept}" in low["essential_share_source"][1]
    assert high["essential_share"][1] == pytest.approx(0.955)
    # overrides win whatever the bound
    pinned = resolve_parameters(goods, {"demand_elasticity": -0.5}, year=2021, bound="low")
    assert pinned["demand_elasticity"].to_list() == [-0.5, -0.5]
    with pytest.raises(ValueError, match="bound"):
        resolve_parameters(goods, year=2021, bound="mid")  # type: ignore[arg-type]
