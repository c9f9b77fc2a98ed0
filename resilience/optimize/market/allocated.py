r"""Goods without bilateral trade: production and arcs from world balances.

The market core (:mod:`.from_data`) needs, per good, production by country and
bilateral trade. BACI (``datasets/trade.parquet``) has neither for chips. For every good
with rows in ``datasets/market_balances.csv``
(:mod:`resilience.reference.market_balances`) this module builds both, in exactly the
shapes :mod:`.from_data` uses, from cited world figures:

1. **World level and shares**, per good, of the study's year or the latest before it
   (separately for the ``world`` row, the ``supply`` group and the ``demand`` group):
   supply :math:`S_i = W \cdot s_i / \sum s` and demand :math:`D_j = W \cdot d_j /
   \sum d` (shares divided by their sum, which published rounding puts within 0.5 of
   100; the division is logged when the sum is not 100). :math:`S_i` is country
   :math:`i`'s production (``production_units_per_year``). A published projection
   (``is_projection``, e.g. the 2032 capacity map) is used by a study of its year or
   later like any other row; ``production_source`` then says "projection".
2. **Observed arcs first.** Where a shipped observed source gives an exporter's
   exports by destination (:data:`OBSERVED_EXPORTERS`: Taiwan customs, HS 8542 by
   destination, ``datasets/taiwan_chip_exports.parquet``), that exporter serves its own
   demand from its output first and exports the rest, :math:`X_e = \max(S_e - D_e, 0)`,
   split by its observed destination shares :math:`w_{ej}` of the study's year or the
   latest full year before it, summed over the good's HS 2017 codes in
   ``datasets/commodities.csv``: :math:`F_{ej} = X_e w_{ej}` (``quantity_basis``
   ``observed_destination_shares``). The observed source gives the *pattern*; the
   level is the cited world balance. Destinations without a demand row of their own
   are the rest of the world (``ROW``). Where the observed pattern would send a
   destination more than its cited demand (the pattern and the demand come from
   different publishers: customs by HS code and year, WSTS billings by region), the
   destination gets exactly its demand and the excess goes to the exporter's other
   destinations in proportion to their observed shares (water-filling; every cap is
   logged). Exports that no destination can take are an error.
3. **Proportional allocation for everyone else** (the integrated-market assumption):
   every other supplier ships to every consumer in proportion to its output and the
   consumer's demand left after the observed arcs,
   :math:`f_{ij} = S_i D'_j / W'` with :math:`D'_j = D_j - \sum_e F_{ej}` (and
   :math:`D'_e = \max(D_e - S_e, 0)` for an observed exporter) and
   :math:`W' = \sum_{i \notin E} S_i = \sum_j D'_j` (``quantity_basis``
   ``proportional_allocation``). With no observed exporter this is
   :math:`f_{ij} = S_i D_j / W`. Flows from a country to itself are not trade and are
   left out.

**Demand by buyer headquarters.** Where a good's demand rows count purchases by the
buying firm's headquarters (``basis`` :data:`BUYER_HQ_BASIS`: TSMC's revenue by customer
HQ for < 10 nm logic), a customs pattern of where the goods are *delivered* (Asian
assembly hubs) would contradict it; every supplier of that good is then allocated in
proportion (step 3), and a cut of one supplier hits each buyer by its share of that
supplier in world output.

With these flows every country's apparent consumption ``production + imports -
exports`` equals its demand :math:`D_j` (``tests/unit/test_market_allocated.py``), so the
market core calibrates to the cited balance. ``value_usd`` of an arc is its quantity
at the reference price P0 (it ranks importers; no customs value stands behind it).

What the assumption means: a consumer's non-observed suppliers are the world's
non-observed suppliers in proportion to their output; no preferred partners, no
contracts. A cut of one supplier therefore hits every consumer in proportion to what
it buys from the market, before the market reallocates. Rows are summed in a fixed
order (sorted, ``maintain_order=True``), so the same study gives the same LP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.metrics.sums import stable_sum
from resilience.optimize.market.inputs import good_name
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import REST_OF_WORLD
from resilience.reference.market_balances import BALANCE_FILE, load_market_balances

__all__ = [
    "ALLOCATED_BASES",
    "BUYER_HQ_BASIS",
    "OBSERVED_EXPORTERS",
    "TRADE_COLUMNS",
    "allocate",
    "allocated_goods",
    "allocated_production",
    "allocated_trade",
    "taiwan_destination_shares",
    "world_balance",
]

log = logging.getLogger(__name__)

#: ``quantity_basis`` of the arcs this module makes.
ALLOCATED_BASES = ("observed_destination_shares", "proportional_allocation")
#: ``basis`` of demand rows counted by the buying firm's headquarters (who pays), not by
#: where the goods are delivered: no ship-to pattern (customs) may split them.
BUYER_HQ_BASIS = "purchases_by_buyer_hq"
#: Columns of a trade frame (as ``from_data._trade`` returns it).
TRADE_COLUMNS = (
    "exporter_iso3",
    "importer_iso3",
    "good",
    "value_usd",
    "quantity_units_per_year",
    "quantity_basis",
)
#: Tolerance (share of world output) below which a negative residual is rounding.
_RESIDUAL_TOLERANCE = 1e-9

_TRADE_SCHEMA = {
    "exporter_iso3": pl.String,
    "importer_iso3": pl.String,
    "good": pl.String,
    "quantity_units_per_year": pl.Float64,
    "quantity_basis": pl.String,
}


def taiwan_destination_shares(goods: Sequence[str], year: int) -> pl.DataFrame:
    """Taiwan's export shares by destination for ``goods`` (module doc, step 2).

    Parameters
    ----------
    goods
        Good ids (``commodity/stage``); those without HS 2017 codes get no rows.
    year
        The study's year: the latest full (not partial) year at or before it is used.

    Returns
    -------
    polars.DataFrame
        ``exporter_iso3`` (``TWN``), ``importer_iso3``, ``good``, ``weight`` (summing to
        1 per good), ``observed_year``.
    """
    from resilience.data import load_taiwan_chip_exports

    codes = (
        load_commodities()
        .select(
            pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"),
            pl.col("hs2017_codes").str.split(";").alias("hs6_code"),
        )
        .filter(pl.col("good").is_in(list(goods)))
        .explode("hs6_code")
        .filter(pl.col("hs6_code").is_not_null() & (pl.col("hs6_code") != ""))
    )
    schema = {
        "exporter_iso3": pl.String,
        "importer_iso3": pl.String,
        "good": pl.String,
        "weight": pl.Float64,
        "observed_year": pl.Int32,
    }
    if codes.height == 0:
        return pl.DataFrame(schema=schema)
    exports = load_taiwan_chip_exports().filter(
        ~pl.col("is_partial_year") & (pl.col("year") <= year)
    )
    if exports.height == 0:
        return pl.DataFrame(schema=schema)
    latest = int(exports["year"].max())  # type: ignore[arg-type]
    by_destination = (
        exports.filter((pl.col("year") == latest) & (pl.col("importer_iso3") != "TWN"))
        .join(codes, on="hs6_code")
        .sort("good", "importer_iso3", "ccc_code")
        .group_by("good", "importer_iso3", maintain_order=True)
        .agg(stable_sum(pl.col("value_usd")))
        .filter(pl.col("value_usd") > 0)
    )
    return by_destination.select(
        pl.lit("TWN").alias("exporter_iso3"),
        "importer_iso3",
        "good",
        (pl.col("value_usd") / pl.col("value_usd").sum().over("good")).alias("weight"),
        pl.lit(latest, dtype=pl.Int32).alias("observed_year"),
    )


#: Exporters with a shipped observed source of exports by destination, and its reader
#: ``(goods, year) -> exporter_iso3, importer_iso3, good, weight, observed_year``.
OBSERVED_EXPORTERS: dict[str, Callable[[Sequence[str], int], pl.DataFrame]] = {
    "TWN": taiwan_destination_shares,
}


def _latest_group(rows: pl.DataFrame, role: str, good: str, year: int) -> pl.DataFrame:
    mine = rows.filter((pl.col("good") == good) & (pl.col("role") == role))
    before = mine.filter(pl.col("year") <= year)
    if before.height == 0:
        have = ", ".join(str(y) for y in sorted(set(mine["year"].to_list()))) or "none"
        raise DataError.single(
            BALANCE_FILE,
            None,
            "year",
            year,
            f"{good}: no {role} rows at or before {year} (years with {role} rows: {have})",
        )
    return before.filter(pl.col("year") == before["year"].max())


def world_balance(
    goods: Sequence[str],
    year: int,
    table: pl.DataFrame | None = None,
    supply_year: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Supply and demand per country in units per year (module doc, step 1).

    Parameters
    ----------
    goods
        Good ids; those without rows in ``market_balances.csv`` are skipped.
    year
        The study's year.
    table
        Rows of :func:`~resilience.reference.market_balances.load_market_balances`
        (default the shipped table).
    supply_year
        ``good -> year`` of a capacity map (the ``capacity_map_year`` policy,
        :func:`~resilience.optimize.market.policies.capacity_map_years`): the supply
        group of exactly that year, on the world level and demand of ``year``.

    Returns
    -------
    polars.DataFrame
        ``good, role (supply|demand), country_iso3, units_per_year, year, basis,
        source, source_row``, sorted by good, role and country.
    """
    table = (load_market_balances() if table is None else table).with_columns(
        pl.concat_str("commodity", pl.lit("/"), "stage").alias("good")
    )
    frames = []
    for good in sorted(set(goods) & set(table["good"].to_list())):
        world = _latest_group(table, "world", good, year).row(0, named=True)
        for role in ("supply", "demand"):
            mapped = (supply_year or {}).get(good) if role == "supply" else None
            group = _latest_group(table, role, good, year if mapped is None else mapped)
            if mapped is not None and int(group["year"][0]) != mapped:
                rows: list[int] = group["source_row"].to_list()
                raise DataError.single(
                    BALANCE_FILE,
                    min(rows),
                    "year",
                    mapped,
                    f"{good}: no supply rows of {mapped} for the capacity map (latest "
                    f"before it: {int(group['year'][0])})",
                )
            total = float(group["share_pct"].sum())
            if total != 100.0:
                log.info(
                    "%s %s %d: shares sum to %.4g; each divided by the sum",
                    good,
                    role,
                    int(group["year"][0]),
                    total,
                )
            frames.append(
                group.sort("country_iso3").select(
                    "good",
                    pl.lit(role).alias("role"),
                    "country_iso3",
                    (pl.col("share_pct") / total * world["world_units_per_year"]).alias(
                        "units_per_year"
                    ),
                    "year",
                    "basis",
                    pl.concat_str(
                        "source",
                        pl.lit(" ("),
                        "vintage",
                        pl.when(pl.col("is_projection"))
                        .then(pl.lit(", projection"))
                        .otherwise(pl.lit("")),
                        pl.lit("); world: "),
                        pl.lit(world["source"]),
                    ).alias("source"),
                    "source_row",
                )
            )
    if not frames:
        return pl.DataFrame(
            schema={
                "good": pl.String,
                "role": pl.String,
                "country_iso3": pl.String,
                "units_per_year": pl.Float64,
                "year": pl.Int32,
                "basis": pl.String,
                "source": pl.String,
                "source_row": pl.Int64,
            }
        )
    return pl.concat(frames).sort("good", "role", "country_iso3", maintain_order=True)


def allocate(
    supply: pl.DataFrame, demand: pl.DataFrame, observed: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Bilateral flows from supply, demand and observed destination shares (module doc).

    Parameters
    ----------
    supply, demand
        ``country_iso3, good, units_per_year`` (world supply and demand of a good are
        equal); ``demand`` may carry ``source_row`` (named in errors).
    observed
        ``exporter_iso3, importer_iso3, good, weight``: an exporter's destination shares
        of a good (summing to 1); importers without a demand row are :data:`ROW
        <resilience.reference.countries.REST_OF_WORLD>`.

    Returns
    -------
    polars.DataFrame
        ``exporter_iso3, importer_iso3, good, quantity_units_per_year, quantity_basis``
        (flows > 0 between different countries), sorted.

    Raises
    ------
    resilience.errors.DataError
        An observed exporter whose exports exceed the demand of all its destinations.
    """
    frames: list[pl.DataFrame] = []
    problems: list[DataProblem] = []
    for good in sorted(set(supply["good"].to_list())):
        flows, bad = _allocate_good(
            good,
            supply.filter(pl.col("good") == good).sort("country_iso3"),
            demand.filter(pl.col("good") == good).sort("country_iso3"),
            observed.filter(pl.col("good") == good) if observed is not None else None,
        )
        frames.append(pl.DataFrame(flows, schema=_TRADE_SCHEMA, orient="row"))
        problems += bad
    if problems:
        raise DataError(problems)
    if not frames:
        return pl.DataFrame(schema=_TRADE_SCHEMA)
    return (
        pl.concat(frames)
        .filter(pl.col("quantity_units_per_year") > 0)
        .sort("exporter_iso3", "importer_iso3", "good")
    )


_Flow = tuple[str, str, str, float, str]


def _destinations(seen: pl.DataFrame, exporter: str, consumers: list[str]) -> pl.DataFrame:
    """``to, weight`` of one exporter (destinations without demand rows -> ROW)."""
    return (
        seen.filter(pl.col("exporter_iso3") == exporter)
        .with_columns(
            pl.when(pl.col("importer_iso3").is_in(consumers))
            .then(pl.col("importer_iso3"))
            .otherwise(pl.lit(REST_OF_WORLD))
            .alias("to")
        )
        .filter(pl.col("to") != exporter)
        .group_by("to", maintain_order=True)
        .agg(stable_sum(pl.col("weight")))
        .sort("to")
    )


def _fill(
    exports: float, weights: dict[str, float], room: dict[str, float]
) -> tuple[dict[str, float], float]:
    """Split ``exports`` by ``weights``, no destination above its ``room`` (water-filling).

    A destination whose share would exceed the demand it has left gets exactly that
    demand; the excess goes to the other destinations in proportion to their weights,
    until none is over (each cap logged). Returns the amounts placed and what could not
    be placed (every destination full).
    """
    placed: dict[str, float] = {}
    active = {j: w for j, w in sorted(weights.items()) if w > 0}
    left = exports
    while active and left > 0:
        total = sum(active.values())
        over = {
            j: max(room.get(j, 0.0), 0.0)
            for j, w in active.items()
            if left * w / total > max(room.get(j, 0.0), 0.0)
        }
        if not over:
            for j, w in active.items():
                placed[j] = left * w / total
            return placed, 0.0
        for j, cap in sorted(over.items()):
            log.info(
                "observed destination %s capped at its demand: %.6g of %.6g units a year; "
                "the excess goes to the other destinations by their observed shares",
                j,
                cap,
                left * active[j] / total,
            )
            placed[j] = cap
            left -= cap
            del active[j]
    return placed, max(left, 0.0)


def _allocate_good(
    good: str, s: pl.DataFrame, d: pl.DataFrame, observed: pl.DataFrame | None
) -> tuple[list[_Flow], list[DataProblem]]:
    """Flows of one good: observed exporters first, then proportional (module doc)."""
    s_of = dict(zip(s["country_iso3"].to_list(), s["units_per_year"].to_list(), strict=True))
    d_of = dict(zip(d["country_iso3"].to_list(), d["units_per_year"].to_list(), strict=True))
    rows = (
        dict(zip(d["country_iso3"].to_list(), d["source_row"].to_list(), strict=True))
        if "source_row" in d.columns
        else {}
    )
    seen = (
        observed.filter(pl.col("exporter_iso3").is_in(list(s_of)))
        if observed is not None
        else pl.DataFrame(schema={"exporter_iso3": pl.String})
    )
    exporters = sorted(set(seen["exporter_iso3"].to_list()))
    residual = dict(d_of)
    flows: list[_Flow] = []
    problems: list[DataProblem] = []
    for e in exporters:
        own = min(d_of.get(e, 0.0), s_of[e])
        residual[e] = residual.get(e, 0.0) - own
        dest = _destinations(seen, e, list(d_of))
        weights = dict(zip(dest["to"].to_list(), dest["weight"].to_list(), strict=True))
        placed, left = _fill(s_of[e] - own, weights, residual)
        for to in sorted(placed):
            residual[to] -= placed[to]
            flows.append((e, to, good, placed[to], ALLOCATED_BASES[0]))
        if left > _RESIDUAL_TOLERANCE * sum(s_of.values()):
            problems.append(
                DataProblem(
                    BALANCE_FILE,
                    rows.get(e),
                    "share_pct",
                    e,
                    f"{good}: {e}'s exports ({s_of[e] - own:.6g} units a year) exceed the "
                    f"demand of every destination it ships to (by {left:.6g})",
                )
            )
    others = {i: q for i, q in s_of.items() if i not in exporters}
    rest = sum(others.values())
    for i in sorted(others) if rest > 0 else []:
        for j in sorted(residual):
            q = others[i] * max(residual[j], 0.0) / rest
            if i != j and q > 0:
                flows.append((i, j, good, q, ALLOCATED_BASES[1]))
    return flows, problems


def allocated_goods(commodities: Sequence[tuple[str, str]]) -> list[str]:
    """The goods of ``commodities`` that have rows in ``market_balances.csv``."""
    table = load_market_balances()
    have = set(table.select("commodity", "stage").iter_rows())
    return [good_name(c, s) for c, s in commodities if (c, s) in have]


def allocated_production(
    commodities: Sequence[tuple[str, str]],
    year: int,
    supply_year: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """``country_iso3, good, production_units_per_year, production_year/source``.

    The shape of :func:`resilience.optimize.market.from_data._production`: each
    country's cited share of world output times the world level (module doc, step 1);
    ``supply_year`` as in :func:`world_balance`.
    """
    goods = allocated_goods(commodities)
    supply = world_balance(goods, year, supply_year=supply_year).filter(pl.col("role") == "supply")
    return supply.select(
        "country_iso3",
        "good",
        pl.col("units_per_year").alias("production_units_per_year"),
        pl.col("year").alias("production_year"),
        pl.col("source").alias("production_source"),
    )


def allocated_trade(
    commodities: Sequence[tuple[str, str]],
    year: int,
    p0: pl.DataFrame,
    supply_year: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Arcs of the allocated goods in the shape of ``from_data._trade`` (module doc).

    Parameters
    ----------
    commodities
        The study's (commodity, stage) pairs.
    year
        The study's year.
    p0
        ``good, p0_usd_per_unit`` (``value_usd`` = quantity x P0).
    supply_year
        ``good -> year`` of a capacity map, as in :func:`world_balance`.

    Returns
    -------
    polars.DataFrame
        ``exporter_iso3, importer_iso3, good, value_usd, quantity_units_per_year,
        quantity_basis``.
    """
    goods = allocated_goods(commodities)
    balance = world_balance(goods, year, supply_year=supply_year)
    supply = balance.filter(pl.col("role") == "supply")
    demand = balance.filter(pl.col("role") == "demand")
    suppliers = set(supply["country_iso3"].to_list())
    # a ship-to pattern (customs by destination) cannot split demand counted by buyer HQ
    ship_to = sorted(set(demand.filter(pl.col("basis") != BUYER_HQ_BASIS)["good"].to_list()))
    for good in sorted(set(goods) - set(ship_to)):
        log.info("%s: demand by buyer headquarters; every supplier allocated in proportion", good)
    observed = [
        reader(ship_to, year)
        for e, reader in sorted(OBSERVED_EXPORTERS.items())
        if e in suppliers and ship_to
    ]
    for frame in observed:
        for e, good, y in (
            frame.select("exporter_iso3", "good", "observed_year").unique().sort("good").iter_rows()
        ):
            log.info("%s: arcs out of %s split by its observed exports of %d", good, e, y)
    flows = allocate(supply, demand, pl.concat(observed) if observed else None)
    return (
        flows.join(p0, on="good", how="left", maintain_order="left")
        .with_columns(
            (pl.col("quantity_units_per_year") * pl.col("p0_usd_per_unit")).alias("value_usd")
        )
        .select(TRADE_COLUMNS)
    )
