"""Regenerate ``datasets/market_balances.csv`` (chips) from cited figures, then review.

Run from the repository root with the package installed::

    .venv/bin/python datasets/_build/market_balances.py

It is not imported by the package; the package reads the committed CSV. It rewrites the
rows of the two chip goods and keeps every other good's rows as they are. Every number
below is a published figure quoted in the row it produces; the only computation is

* the leading-edge world value (TSMC's 2022 revenue x its 7 nm-and-below share / Taiwan's
  share of world < 10 nm capacity) and the rest-of-chips world value (WSTS 2022 world
  sales minus the leading-edge value), written out in ``derivation``;
* the split of WSTS's four billing regions into countries by each country's share of
  Taiwan's exports of integrated circuits (HS 854231/32/33/39) to that region in the same
  year (``datasets/taiwan_chip_exports.parquet``, Taiwan customs), written out in
  ``derivation`` per row. ``tests/unit/test_chip_market.py`` re-derives the split from
  the shipped Taiwan table and checks the CSV against it.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl

from resilience.data import load_taiwan_chip_exports
from resilience.reference.alliances import load_alliances, members
from resilience.reference.chips import load_chip_capacity

OUT = Path(__file__).resolve().parents[1] / "market_balances.csv"
COLUMNS = [
    "commodity",
    "stage",
    "year",
    "role",
    "country_iso3",
    "share_pct",
    "world_units_per_year",
    "unit",
    "basis",
    "is_projection",
    "derivation",
    "source",
    "vintage",
    "url",
    "quote",
    "note",
]
LEADING = ("wafer_fab_leading_edge", "manufacturing")
REST = ("wafer_fab_mature", "manufacturing")
UNIT = "USD m (2022 prices)"

# -- cited figures ---------------------------------------------------------------------
TSMC_REVENUE_2022_USD_M = 73_760.0
TSMC_ADVANCED_SHARE_2022 = 0.53
TWN_LT10NM_SHARE_2022 = 0.69
WSTS_WORLD_2022_USD_M = 574_100.0
TSMC = {
    "source": "TSMC report to shareholders 2022 (via Taipei Times, 8 May 2023)",
    "vintage": "2023-05",
    "url": "https://taipeitimes.com/News/front/archives/2023/05/08/2003799359",
    "quote": (
        "The company said it generated NT$2.26 trillion (US$73.76 billion) in consolidated "
        "sales last year ... Advanced technologies, meaning 7 nanometers and below, made up "
        "53 percent of TSMC's total wafer revenue last year"
    ),
}
WSTS_2022 = {
    "source": "WSTS (via TelecomLead), WSTS forecast June 2023",
    "vintage": "2023-06",
    "url": "https://telecomlead.com/?p=110723",
    "quote": "growth of 3.3 percent to $574.1 billion in 2022",
}
WSTS_2021 = {
    "source": "WSTS Spring 2022 forecast summary (via Evertiq, 8 Jun 2022): 2021 actuals",
    "vintage": "2022-06",
    "url": "https://evertiq.com/news/51970",
    "quote": (
        "Amounts in USD million ... 2021 ... Americas 121,481 ... Europe 47,757 ... Japan "
        "43,687 ... Asia Pacific 342,967 ... Total world - USD millions 555,893"
    ),
}
#: WSTS billing regions, 2021 actuals (USD m).
WSTS_REGIONS_2021 = {
    "Americas": 121_481.0,
    "Europe": 47_757.0,
    "Japan": 43_687.0,
    "Asia Pacific": 342_967.0,
}
DEMAND_YEAR = 2021
#: The split key pools Taiwan's exports over this many years up to DEMAND_YEAR: customs
#: lists small destinations irregularly (Cyprus: none in 2021, USD 0.3 m in 2017).
KEY_YEARS = 5
#: Integrated circuits in Taiwan's customs table (854290 = parts, left out).
IC_CODES = ["854231", "854232", "854233", "854239"]
#: A destination with at least this share of Taiwan's IC exports gets its own row.
OWN_ROW_PCT = 0.1


def _region(iso3: str, continent: str | None) -> str:
    if iso3 == "JPN":
        return "Japan"
    if continent == "America":
        return "Americas"
    if continent == "Europe":
        return "Europe"
    return "Asia Pacific"


def _row(**values: object) -> dict[str, object]:
    return {c: values.get(c, "") for c in COLUMNS}


def world_rows() -> list[dict[str, object]]:
    leading = TSMC_REVENUE_2022_USD_M * TSMC_ADVANCED_SHARE_2022 / TWN_LT10NM_SHARE_2022
    rest = WSTS_WORLD_2022_USD_M - leading
    return [
        _row(
            commodity=LEADING[0],
            stage=LEADING[1],
            year=2022,
            role="world",
            country_iso3="WLD",
            share_pct=100,
            world_units_per_year=round(leading, 2),
            unit=UNIT,
            basis="world_output_value",
            is_projection="false",
            derivation=(
                f"TSMC 2022 revenue USD {TSMC_REVENUE_2022_USD_M:,.0f} m x "
                f"{TSMC_ADVANCED_SHARE_2022:.2f} (7 nm and below, share of wafer revenue) / "
                f"{TWN_LT10NM_SHARE_2022:.2f} (Taiwan's share of world < 10 nm capacity 2022, "
                f"SIA/BCG 2024, chip_capacity.csv) = {leading:,.2f}"
            ),
            note=(
                "World < 10 nm logic output valued at TSMC's foundry prices: assumes TSMC is "
                "Taiwan's < 10 nm capacity, revenue shares equal wafer-revenue shares and "
                "Korea's < 10 nm output sells at TSMC's price per unit of capacity. Foundry "
                "wafer value, not the (higher) sales value of the finished chips."
            ),
            **TSMC,
        ),
        _row(
            commodity=REST[0],
            stage=REST[1],
            year=2022,
            role="world",
            country_iso3="WLD",
            share_pct=100,
            world_units_per_year=round(rest, 2),
            unit=UNIT,
            basis="world_output_value",
            is_projection="false",
            derivation=(
                f"WSTS world semiconductor sales 2022 USD {WSTS_WORLD_2022_USD_M:,.0f} m minus "
                f"the < 10 nm logic world value ({leading:,.2f}, row above) = {rest:,.2f}"
            ),
            note=(
                "In the market core this good is every chip other than < 10 nm logic "
                "('rest of chips': mature and 10-22 nm logic, memory, analog, discretes, "
                "opto, sensors), broader than the commodity's name in commodities.csv."
            ),
            **WSTS_2022,
        ),
    ]


def _capacity(segment: str, band: str, year: int, projection: bool) -> pl.DataFrame:
    return load_chip_capacity().filter(
        (pl.col("segment") == segment)
        & (pl.col("node_band") == band)
        & (pl.col("year") == year)
        & (pl.col("is_projection") == projection)
    )


def supply_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    # < 10 nm logic, 2022 (SIA/BCG 2024) and the 2032 projection (same report)
    for year, projection in ((2022, False), (2032, True)):
        cap = _capacity("wafer_fab_leading_edge", "lt_10nm", year, projection)
        europe = 0.0
        for rec in cap.sort("region").iter_rows(named=True):
            region, share = rec["region"], rec["share_pct"]
            if region == "europe":
                europe = share
                continue
            if region == "rest_of_world":
                continue
            rows.append(
                _row(
                    commodity=LEADING[0],
                    stage=LEADING[1],
                    year=year,
                    role="supply",
                    country_iso3=region,
                    share_pct=share,
                    basis="capacity_by_location",
                    is_projection=str(projection).lower(),
                    source=rec["title"],
                    vintage=rec["vintage"],
                    url=rec["url"],
                    quote=rec["quote"],
                    note=rec["note"],
                )
            )
        rest = cap.filter(pl.col("region") == "rest_of_world").row(0, named=True)
        rows.append(
            _row(
                commodity=LEADING[0],
                stage=LEADING[1],
                year=year,
                role="supply",
                country_iso3="ROW",
                share_pct=rest["share_pct"] + europe,
                basis="capacity_by_location",
                is_projection=str(projection).lower(),
                derivation=(
                    f"rest of world {rest['share_pct']:g}"
                    + (f" + Europe {europe:g} (no cited split into countries)" if europe else "")
                ),
                source=rest["title"],
                vintage=rest["vintage"],
                url=rest["url"],
                quote=rest["quote"],
                note=rest["note"],
            )
        )
    # rest of chips: SEMI 300 mm front-end capacity by location, 2021
    cap = _capacity("wafer_fab", "300mm_all_nodes", 2021, False)
    by_region = dict(zip(cap["region"].to_list(), cap["share_pct"].to_list(), strict=True))
    rec = cap.row(0, named=True)
    cite = {
        "source": rec["title"],
        "vintage": rec["vintage"],
        "url": rec["url"],
        "quote": rec["quote"],
    }
    proxy = (
        "PROXY: 300 mm front-end capacity by location (all nodes) stands for the location of "
        "all chip output other than < 10 nm logic; 200 mm and smaller fabs are not in it."
    )
    for iso3 in ("CHN", "JPN", "KOR", "TWN"):
        rows.append(
            _row(
                commodity=REST[0],
                stage=REST[1],
                year=2021,
                role="supply",
                country_iso3=iso3,
                share_pct=by_region[iso3],
                basis="capacity_by_location",
                is_projection="false",
                note=proxy,
                **cite,
            )
        )
    rows.append(
        _row(
            commodity=REST[0],
            stage=REST[1],
            year=2021,
            role="supply",
            country_iso3="USA",
            share_pct=by_region["americas"],
            basis="capacity_by_location",
            is_projection="false",
            derivation=f"SEMI Americas {by_region['americas']:g} assigned to the United States",
            note=proxy + " The Americas' 300 mm fabs are taken to be in the US.",
            **cite,
        )
    )
    other = by_region["europe_mideast"] + by_region["southeast_asia"] + by_region["rest_of_world"]
    rows.append(
        _row(
            commodity=REST[0],
            stage=REST[1],
            year=2021,
            role="supply",
            country_iso3="ROW",
            share_pct=other,
            basis="capacity_by_location",
            is_projection="false",
            derivation=(
                f"Europe/Mideast {by_region['europe_mideast']:g} + Southeast Asia "
                f"{by_region['southeast_asia']:g} + rest of world {by_region['rest_of_world']:g}"
                " (no cited split into countries)"
            ),
            note=proxy,
            **cite,
        )
    )
    return rows


def taiwan_split(year: int, years: int = KEY_YEARS) -> pl.DataFrame:
    """``country_iso3, region, value_usd, within_region`` of Taiwan's IC exports.

    Summed over the ``years`` years up to ``year``.
    """
    countries = pl.read_csv(
        Path(__file__).resolve().parents[1] / "countries.csv", infer_schema=False
    ).select(pl.col("iso3").alias("importer_iso3"), "continent")
    exports = (
        load_taiwan_chip_exports()
        .filter(
            pl.col("year").is_between(year - years + 1, year) & pl.col("hs6_code").is_in(IC_CODES)
        )
        .group_by("importer_iso3")
        .agg(pl.col("value_usd").sum())
        .join(countries, on="importer_iso3", how="left")
        .sort("importer_iso3")
    )
    regions = [_region(i, c) for i, c in exports.select("importer_iso3", "continent").iter_rows()]
    return (
        exports.with_columns(pl.Series("region", regions))
        .with_columns(
            (pl.col("value_usd") / pl.col("value_usd").sum().over("region")).alias("within_region"),
            (100 * pl.col("value_usd") / pl.col("value_usd").sum()).alias("pct_of_all"),
        )
        .rename({"importer_iso3": "country_iso3"})
    )


def demand_rows() -> list[dict[str, object]]:
    total = sum(WSTS_REGIONS_2021.values())
    split = taiwan_split(DEMAND_YEAR)
    g7_eu = set(members(load_alliances(), "G7+EU", dt.date(DEMAND_YEAR, 12, 31)))
    own = split.filter(
        (pl.col("pct_of_all") >= OWN_ROW_PCT) | pl.col("country_iso3").is_in(sorted(g7_eu))
    ).filter(pl.col("country_iso3") != "ROW")
    missing = sorted(g7_eu - set(own["country_iso3"].to_list()))
    if missing:
        raise SystemExit(f"G7+EU members without Taiwan IC exports: {missing}")
    rows: list[dict[str, object]] = []
    rest_pct = 100.0
    for good in (LEADING, REST):
        rest_pct = 100.0
        for iso3, region, within in own.select(
            "country_iso3", "region", "within_region"
        ).iter_rows():
            share = 100 * WSTS_REGIONS_2021[region] / total * within
            rest_pct -= round(share, 6)
            rows.append(
                _row(
                    commodity=good[0],
                    stage=good[1],
                    year=DEMAND_YEAR,
                    role="demand",
                    country_iso3=iso3,
                    share_pct=round(share, 6),
                    basis="consumption_by_region",
                    is_projection="false",
                    derivation=(
                        f"WSTS {region} {WSTS_REGIONS_2021[region]:,.0f} / sum of the four "
                        f"regions {total:,.0f} "
                        f"x {within:.8f} ({iso3}'s share of Taiwan's IC exports to {region}, "
                        f"{DEMAND_YEAR - KEY_YEARS + 1}-{DEMAND_YEAR} summed, "
                        f"HS {'/'.join(IC_CODES)}; taiwan_chip_exports.parquet)"
                    ),
                    note=(
                        "WSTS billings by region (where chips are delivered, not where "
                        "products are sold); the same regional split is used for < 10 nm logic "
                        "and the rest of chips."
                    ),
                    **WSTS_2021,
                )
            )
        rows.append(
            _row(
                commodity=good[0],
                stage=good[1],
                year=DEMAND_YEAR,
                role="demand",
                country_iso3="ROW",
                share_pct=round(rest_pct, 6),
                basis="consumption_by_region",
                is_projection="false",
                derivation=(
                    f"100 minus the rows above: destinations under {OWN_ROW_PCT:g} % of "
                    "Taiwan's IC exports (outside G7+EU), customs' 'other countries', and "
                    "Taiwan itself (not a destination of its own exports)"
                ),
                note="Taiwan's own chip purchases are not split out (no row for TWN).",
                **WSTS_2021,
            )
        )
    return rows


#: TSMC net revenue 2022 by customer headquarters (NT$ million), 20-F note "Net Revenue".
TSMC_HQ_2022_NTD_M = {
    "USA": 1_493_328.8,
    "CHN": 245_168.8,
    "TWN": 210_470.8,
    "EMEA": 123_767.1,
    "JPN": 119_099.3,
    "Others": 72_056.5,
}
TSMC_HQ = {
    "source": "TSMC Form 20-F 2022, note Net Revenue (disaggregation by geography)",
    "vintage": "2023-04",
    "url": "https://www.sec.gov/Archives/edgar/data/1046179/000119312523107214/",
    "quote": (
        "The Company categorized the net revenue mainly based on the countries where the "
        "customers are headquartered. ... United States 1,493,328.8 ... China 245,168.8 ... "
        "Taiwan 210,470.8 ... Europe, the Middle East and Africa 123,767.1 ... Japan "
        "119,099.3 ... Others 72,056.5 (NT$ million, 2022)"
    ),
}
HQ_YEAR = 2022


def hq_demand_rows() -> list[dict[str, object]]:
    """< 10 nm logic demand on a buyer-headquarters basis (who pays for the chips).

    TSMC's 2022 net revenue by customer headquarters is taken as the world's < 10 nm
    purchases by buyer HQ (TSMC holds Taiwan's < 10 nm capacity, 69 % of the world's;
    Samsung's buyers are assumed to have the same mix: no split of its sales found).
    EMEA is split over the European countries by their shares of Taiwan's IC exports to
    Europe (the key of :func:`demand_rows`; the Middle East and Africa are not separated
    by TSMC and go with Europe); "Others" is the rest of the world.
    """
    total = sum(TSMC_HQ_2022_NTD_M.values())
    g7_eu = set(members(load_alliances(), "G7+EU", dt.date(HQ_YEAR, 12, 31)))
    european = sorted(g7_eu - {"USA", "CAN", "JPN"})  # Cyprus is Asia in countries.csv
    split = taiwan_split(DEMAND_YEAR)
    own = split.filter(
        pl.col("country_iso3").is_in(european)
        | ((pl.col("region") == "Europe") & (pl.col("pct_of_all") >= OWN_ROW_PCT))
    ).with_columns((pl.col("value_usd") / pl.col("value_usd").sum()).alias("within_region"))
    kept = 1.0
    note = (
        "Buyer-headquarters basis (who pays), not ship-to: US fabless firms buy most "
        "leading-edge wafers although the chips are packaged and assembled in Asia. "
        "TSMC's company-wide split is applied to < 10 nm logic (TSMC publishes no split "
        "by node), an assumption."
    )
    rows: list[dict[str, object]] = []
    left = 100.0
    for iso3 in ("USA", "CHN", "TWN", "JPN"):
        share = round(100 * TSMC_HQ_2022_NTD_M[iso3] / total, 6)
        left -= share
        rows.append(
            _row(
                commodity=LEADING[0],
                stage=LEADING[1],
                year=HQ_YEAR,
                role="demand",
                country_iso3=iso3,
                share_pct=share,
                basis="purchases_by_buyer_hq",
                is_projection="false",
                derivation=(
                    f"TSMC 2022 net revenue from {iso3}-headquartered customers "
                    f"{TSMC_HQ_2022_NTD_M[iso3]:,.1f} / total {total:,.1f} (NT$ m)"
                ),
                note=note,
                **TSMC_HQ,
            )
        )
    emea = 100 * TSMC_HQ_2022_NTD_M["EMEA"] / total
    for iso3, within in own.select("country_iso3", "within_region").iter_rows():
        share = round(emea * within / kept, 6)
        left -= share
        rows.append(
            _row(
                commodity=LEADING[0],
                stage=LEADING[1],
                year=HQ_YEAR,
                role="demand",
                country_iso3=iso3,
                share_pct=share,
                basis="purchases_by_buyer_hq",
                is_projection="false",
                derivation=(
                    f"TSMC 2022 EMEA {TSMC_HQ_2022_NTD_M['EMEA']:,.1f} / total {total:,.1f} "
                    f"x {within / kept:.8f} ({iso3}'s share of Taiwan's IC exports to the "
                    f"European countries with a row (EU, UK, and others over "
                    f"{OWN_ROW_PCT:g} %), {DEMAND_YEAR - KEY_YEARS + 1}-"
                    f"{DEMAND_YEAR} summed; taiwan_chip_exports.parquet)"
                ),
                note=note,
                **TSMC_HQ,
            )
        )
    # "Others": every country TSMC does not itemise, split by the ship-to demand key of
    # demand_rows (WSTS region x Taiwan customs), the rest of the world included
    key = {
        str(r["country_iso3"]): float(r["share_pct"])  # type: ignore[arg-type]
        for r in demand_rows()
        if (r["commodity"], r["stage"]) == LEADING
        and r["country_iso3"] not in ("USA", "CHN", "TWN", "JPN", *own["country_iso3"].to_list())
    }
    others = 100 * TSMC_HQ_2022_NTD_M["Others"] / total
    pool = sum(key.values())
    for iso3 in sorted(k for k in key if k != "ROW"):
        share = round(others * key[iso3] / pool, 6)
        left -= share
        rows.append(
            _row(
                commodity=LEADING[0],
                stage=LEADING[1],
                year=HQ_YEAR,
                role="demand",
                country_iso3=iso3,
                share_pct=share,
                basis="purchases_by_buyer_hq",
                is_projection="false",
                derivation=(
                    f"TSMC 2022 Others {TSMC_HQ_2022_NTD_M['Others']:,.1f} / total "
                    f"{total:,.1f} x {key[iso3] / pool:.8f} ({iso3}'s share of the 2021 "
                    "ship-to demand of the countries TSMC does not itemise, rows of year "
                    f"{DEMAND_YEAR})"
                ),
                note=note,
                **TSMC_HQ,
            )
        )
    rows.append(
        _row(
            commodity=LEADING[0],
            stage=LEADING[1],
            year=HQ_YEAR,
            role="demand",
            country_iso3="ROW",
            share_pct=round(left, 6),
            basis="purchases_by_buyer_hq",
            is_projection="false",
            derivation=(
                f"TSMC 2022 Others {TSMC_HQ_2022_NTD_M['Others']:,.1f} / total {total:,.1f} "
                f"x {key.get('ROW', 0.0) / pool:.8f} (the rest of the world's share of the "
                "same key), plus rounding"
            ),
            note=note,
            **TSMC_HQ,
        )
    )
    return rows


def _other_rows() -> list[dict[str, str]]:
    """Rows of goods this script does not write (other goods' balances), kept as they are."""
    if not OUT.exists():
        return []
    with OUT.open(newline="", encoding="utf-8") as handle:
        return [
            r for r in csv.DictReader(handle) if (r["commodity"], r["stage"]) not in (LEADING, REST)
        ]


def main() -> None:
    rows: list[dict[str, object]] = [
        *world_rows(),
        *supply_rows(),
        *demand_rows(),
        *hq_demand_rows(),
    ]
    rows += _other_rows()
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
