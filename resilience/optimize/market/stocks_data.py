r"""Initial stocks of every consuming node, in content units: working and strategic.

**Working (commercial) stocks.** Every node with demand (members, other importers,
producers, rest of world) holds ``working_stock_days`` of its own consumption of each good
(``datasets/market_parameters.csv``, cited per commodity or sector, overridable like every
market parameter): :math:`k_0 = d / 365 \times q_0`. Real consumers hold pipeline and
commercial inventories (metals: weeks to months; gas: storage; chips: days), and they
buffer a cut of a few months. No rebuild obligation is imposed (no source found for one):
the core values a unit left at the end at :math:`P_0` (:mod:`.stocks`).

**Strategic stocks** of members from ``datasets/strategic_stocks.csv``. Which rows apply
to a member node :math:`m` and good :math:`g` (commodity :math:`c`,
stage :math:`s`, sector :math:`k`):

- the holder is :math:`m` or a bloc :math:`m` belongs to on the study's date (IEA, EU);
  a node that is a whole bloc (a study's ``as_one``, e.g. the EU) takes the rows of the
  holders of any of its countries, applied to the bloc's own consumption and net imports;
- the row names :math:`c` with stage :math:`s` or ``*``; or it names every commodity
  (``*``) and its ``item`` is in :data:`SECTOR_ITEMS` for sector :math:`k` (e.g. Japan's
  JOGMEC 60-day rare-metal target covers critical materials; a US chip inventory covers
  chips). Other ``*`` rows are not used: they do not say which goods they hold.

How a row becomes units (``q0``, net imports: the study's balances, per year):

==============================  ==========================================================
``basis``                       initial stock
==============================  ==========================================================
days_of_net_imports             value / 365 x max(imports - exports, 0)
days_of_consumption             value / 365 x q0
share_of_storage_capacity       value x the holder's ``quantity`` row of the same good
                                (e.g. the EU's 90 % filling target x 105 bcm of storage),
                                shared among the holder's member nodes by q0
==============================  ==========================================================

Rows in USD, as bare quantities or as shares of annual consumption are not used (a USD
total does not say which goods; a share "for members without storage" does not say
which members have none); every unused row that would apply is listed with its reason.

Several rows for one node and good describe the same stock in different ways, and the
working stock is one of them: the largest applies (no double counting; e.g. the JOGMEC
60 days include 18 days of private stocks, IEA oil obligations may be held by industry,
EU gas storage is the commercial storage). Taking the largest rather than the sum is a
lower bound on the stock. Capacity = the initial level.

**Draw rates** (the bound :math:`r_t \le \delta` of :mod:`.stocks`). Rows whose
``basis`` is in :data:`RATE_BASES` say how fast a member's stock can be released, not how
much it holds; they apply to the member's chosen stock of the good, first match wins:

==========================  ================================================================
row                         :math:`\delta` (units per month)
==========================  ================================================================
``item`` max_drawdown_rate  value x (units per row unit) x 365/12: a published maximum
basis quantity_per_day      (the US SPR's 4.4 million bbl/day, CRS R42460); a bloc holder's
                            rate is shared among its member nodes by q0
basis                       value x the stock's initial level: the stated rule for members
share_of_stock_per_month    without a published rate (the SPR's design rate per barrel of its
                            storage, 4.4 / 726.6 x 365/12 = 0.184 a month)
none                        the initial level: the stock can be drawn down in one month
==========================  ================================================================

Other ``quantity_per_day`` rows (an observed or effective pace) are listed, not used.
Non-members' working stocks, and members' stocks of goods without a rate row (gas
storage, minerals, chips), can be drawn in one month: no source in the table gives a
draw rate for them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

import polars as pl

from resilience.optimize.market.regions import Regions
from resilience.reference.alliances import bloc_ids, load_alliances
from resilience.reference.alliances import members as bloc_members
from resilience.reference.commodities import load_commodities
from resilience.reference.market_parameters import load_strategic_stocks, resolve_parameters
from resilience.specs import StudySpec

__all__ = [
    "BBL_PER_TONNE",
    "MAX_DRAWDOWN_ITEM",
    "RATE_BASES",
    "SECTOR_ITEMS",
    "WORKING_ITEM",
    "member_stocks",
    "working_stock_days",
    "working_stocks",
]

log = logging.getLogger(__name__)

#: ``item`` of a row naming every commodity -> the sector whose goods it covers.
SECTOR_ITEMS: dict[str, str] = {
    "jogmec_rare_metal_target": "critical_materials",
    "komir_rare_metal_target": "critical_materials",
    "pps_non_ferrous_target": "critical_materials",
    "chip_consumer_inventory_2019": "chips",
    "chip_consumer_inventory_2021": "chips",
}
_DAYS = 365.0
#: ``item`` of the stock rows made from ``working_stock_days``.
WORKING_ITEM = "working_stock"
#: Barrels of crude oil per tonne: bp Statistical Review, approximate conversion factors
#: (worldwide average gravity), the factor of ``datasets/reference_prices.csv`` and
#: ``datasets/content_factors.csv``.
BBL_PER_TONNE = 7.33
#: content unit of the good -> {unit of a quantity row: factor}
_UNIT_FACTORS = {"million m3": {"bcm": 1000.0}, "t": {"million bbl": 1e6 / BBL_PER_TONNE}}
#: ``basis`` of the rows that give a draw rate rather than a stock level.
RATE_BASES = ("quantity_per_day", "share_of_stock_per_month")
#: ``item`` of a published maximum drawdown rate (a ``quantity_per_day`` row).
MAX_DRAWDOWN_ITEM = "max_drawdown_rate"
#: rate unit suffix of a ``quantity_per_day`` row (``"million bbl/day"``)
_PER_DAY = "/day"
_STOCK_COLUMNS = {
    "node": pl.String,
    "good": pl.String,
    "item": pl.String,
    "basis": pl.String,
    "value": pl.Float64,
    "initial_units": pl.Float64,
    "draw_units_per_month": pl.Float64,
    "used": pl.Boolean,
    "why": pl.String,
    "source": pl.String,
}


def _holders_of(member: str, membership: dict[str, set[str]]) -> list[str]:
    """Holders whose rows apply to ``member``: itself and the blocs it belongs to."""
    return [h for h, who in membership.items() if member in who]


def _membership(holders: list[str], on: dt.date) -> dict[str, set[str]]:
    """``holder -> member countries`` on ``on`` (a country holds for itself)."""
    alliances = load_alliances()
    blocs = set(bloc_ids(alliances))
    return {h: set(bloc_members(alliances, [h], on)) if h in blocs else {h} for h in holders}


def working_stock_days(
    study: StudySpec, overrides: Mapping[object, object] | None = None
) -> dict[str, tuple[float, str]]:
    """``good -> (working_stock_days, source)`` of the study's goods, overrides applied.

    Resolved like every market parameter
    (:func:`resilience.reference.market_parameters.resolve_parameters`).
    """
    resolved = resolve_parameters(list(study.commodities), overrides, year=study.year)
    return {
        f"{c}/{s}": (float(d), str(src))
        for c, s, d, src in resolved.select(
            "commodity", "stage", "working_stock_days", "working_stock_days_source"
        ).iter_rows()
    }


def _working_rows(
    balances: pl.DataFrame, working: Mapping[str, tuple[float, str]]
) -> list[dict[str, object]]:
    """One ``working_stock`` row per node with demand and good (module doc)."""
    rows: list[dict[str, object]] = []
    for node, good, q0 in (
        balances.filter(pl.col("q0_units_per_year") > 0)
        .select("node", "good", "q0_units_per_year")
        .iter_rows()
    ):
        days, source = working[good]
        units = days / _DAYS * q0
        rows.append(
            {
                "node": node,
                "good": good,
                "item": WORKING_ITEM,
                "basis": "days_of_consumption",
                "value": days,
                "initial_units": units,
                "draw_units_per_month": None,
                "used": units > 0,
                "why": f"{days:g} days of consumption (working stock)",
                "source": source,
            }
        )
    return rows


def working_stocks(
    balances: pl.DataFrame, working: Mapping[str, tuple[float, str]]
) -> pl.DataFrame:
    """The working stocks alone, as the core's ``stocks`` table.

    Parameters
    ----------
    balances
        ``node, good, q0_units_per_year`` (other columns ignored).
    working
        ``good -> (working_stock_days, source)`` (:func:`working_stock_days`).

    Returns
    -------
    polars.DataFrame
        ``node, good, initial_units, capacity_units, draw_units_per_month`` of every node
        with demand and a positive stock: ``days / 365 x q0``, drawable in one month.
    """
    rows = [r for r in _working_rows(balances, working) if r["used"]]
    frame = pl.DataFrame(rows, schema=_STOCK_COLUMNS)
    return frame.select(
        "node",
        "good",
        "initial_units",
        pl.col("initial_units").alias("capacity_units"),
        pl.col("initial_units").alias("draw_units_per_month"),
    )


def member_stocks(
    study: StudySpec,
    regions: Regions,
    balances: pl.DataFrame,
    notes: list[str],
    *,
    overrides: Mapping[object, object] | None = None,
    table: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The core's ``stocks`` table and the table of which row gave which stock and why.

    Parameters
    ----------
    study, regions
        Members and date.
    balances
        ``node, good, q0_units_per_year, imports_units_per_year, exports_units_per_year``.
    notes
        Sentences appended here.
    overrides
        Market-parameter overrides (as for
        :func:`~resilience.reference.market_parameters.resolve_parameters`); they may set
        ``working_stock_days`` per good, commodity or for every good.
    table
        The validated strategic-stock rows
        (:func:`~resilience.reference.market_parameters.load_strategic_stocks`); default
        ``datasets/strategic_stocks.csv``.

    Returns
    -------
    tuple of polars.DataFrame
        The ``stocks`` table of the core (every node with demand holds its working stock;
        members also their strategic stocks; the largest row applies, released at most
        ``draw_units_per_month``, module doc) and the detail table (``node, good, item,
        basis, value, initial_units, draw_units_per_month, used, why, source, chosen``;
        a rate row's ``used`` says it applies, ``chosen`` that it sets the draw).
    """
    working = working_stock_days(study, overrides)
    table = load_strategic_stocks() if table is None else table
    sectors = dict(load_commodities().select("commodity", "sector").unique().iter_rows())
    units = {
        f"{c}/{s}": u
        for c, s, u in load_commodities().select("commodity", "stage", "unit").iter_rows()
    }
    goods = balances["good"].unique().sort().to_list()
    membership = _membership(table["holder"].unique().to_list(), study.date)
    # an as_one bloc's node holds what a holder of any of its countries holds
    for bloc, countries in study.merged_blocs().items():
        for who in membership.values():
            if who & set(countries):
                who.add(bloc)
    q = {
        (n, g): (q0, imp - exp)
        for n, g, q0, imp, exp in balances.select(
            "node", "good", "q0_units_per_year", "imports_units_per_year", "exports_units_per_year"
        ).iter_rows()
    }
    rows: list[dict[str, object]] = []
    for member in regions.members:
        mine = _holders_of(member, membership)
        for good in goods:
            commodity, stage = good.split("/", 1)
            sector = sectors.get(commodity)
            q0, net = q.get((member, good), (0.0, 0.0))
            apply = table.filter(pl.col("holder").is_in(mine)).filter(
                ((pl.col("commodity") == commodity) & pl.col("stage").is_in([stage, "*"]))
                | (
                    (pl.col("commodity") == "*")
                    & pl.col("item").is_in([i for i, k in SECTOR_ITEMS.items() if k == sector])
                )
            )
            for rec in apply.iter_rows(named=True):
                source = f"{rec['source']} ({rec['vintage']}), row {rec['source_row']}"
                if rec["basis"] in RATE_BASES:
                    draw, applies, why = _rate(
                        rec, member, good, q0, balances, regions, units, membership
                    )
                    units_ = None
                else:
                    units_, why = _units(
                        rec, member, good, q0, net, table, balances, regions, units, membership
                    )
                    draw, applies = None, units_ is not None and units_ > 0
                rows.append(
                    {
                        "node": member,
                        "good": good,
                        "item": rec["item"],
                        "basis": rec["basis"],
                        "value": float(rec["value"]),
                        "initial_units": units_,
                        "draw_units_per_month": draw,
                        "used": applies,
                        "why": why,
                        "source": source,
                    }
                )
    rows += _working_rows(balances, working)
    detail = pl.DataFrame(rows, schema=_STOCK_COLUMNS)
    best, detail = _choose(detail)
    _stock_notes(detail, notes)
    stocks = best.select(
        "node",
        "good",
        "initial_units",
        pl.col("initial_units").alias("capacity_units"),
        "draw_units_per_month",
    )
    return stocks, detail.sort("node", "good", "item")


def _choose(detail: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stock of each node and good (largest level row) with its draw rate.

    Returns the chosen rows (``node, good, item, initial_units, draw_units_per_month``,
    ...) and ``detail`` with ``chosen`` marking the level row and the rate row applied;
    a chosen rate row carries the draw it gives (module doc).
    """
    is_rate = pl.col("basis").is_in(list(RATE_BASES))
    best = (
        detail.filter(pl.col("used") & ~is_rate)
        .sort("initial_units", descending=True)
        .group_by("node", "good", maintain_order=True)
        .first()
    )
    rates = detail.filter(is_rate & pl.col("used"))
    draws: list[float] = []
    chosen_rates: list[tuple[str, str, str]] = []
    for node, good, initial in best.select("node", "good", "initial_units").iter_rows():
        rate = _chosen_rate(rates, node, good)
        if rate is None:
            draws.append(initial)  # no rate row: drawable in one month (module doc)
            continue
        chosen_rates.append((node, good, str(rate["item"])))
        if rate["basis"] == "share_of_stock_per_month":
            draws.append(float(rate["value"]) * initial)  # type: ignore[arg-type]
        else:
            draws.append(float(rate["draw_units_per_month"]))  # type: ignore[arg-type]
    best = best.with_columns(pl.Series("draw_units_per_month", draws, dtype=pl.Float64))
    chosen_keys = pl.concat(
        [
            best.select("node", "good", "item"),
            pl.DataFrame(
                chosen_rates,
                schema={"node": pl.String, "good": pl.String, "item": pl.String},
                orient="row",
            ),
        ]
    )
    detail = (
        detail.join(
            chosen_keys.with_columns(pl.lit(True).alias("chosen")),
            on=["node", "good", "item"],
            how="left",
        )
        .with_columns(pl.col("chosen").fill_null(False))
        .join(
            best.select("node", "good", pl.col("draw_units_per_month").alias("_draw")),
            on=["node", "good"],
            how="left",
        )
        .with_columns(
            pl.when(pl.col("chosen") & is_rate)
            .then(pl.col("_draw"))
            .otherwise(pl.col("draw_units_per_month"))
            .alias("draw_units_per_month")
        )
        .drop("_draw")
    )
    return best, detail


def _stock_notes(detail: pl.DataFrame, notes: list[str]) -> None:
    """Sentences on the chosen stocks and draw rates, appended to ``notes``."""
    is_rate = pl.col("basis").is_in(list(RATE_BASES))
    chosen = detail.filter(pl.col("chosen") & ~is_rate)
    for rec in chosen.filter(pl.col("item") != WORKING_ITEM).iter_rows(named=True):
        notes.append(
            f"stock: {rec['node']} holds {rec['initial_units']:.6g} units of {rec['good']} "
            f"({rec['item']}: {rec['why']})"
        )
    for rec in detail.filter(pl.col("chosen") & is_rate).iter_rows(named=True):
        notes.append(
            f"stock: {rec['node']} may release at most {rec['draw_units_per_month']:.6g} units "
            f"of {rec['good']} a month ({rec['item']}: {rec['why']})"
        )
    held = chosen.filter(pl.col("item") == WORKING_ITEM)
    for (good, why), group in held.group_by("good", "why", maintain_order=True):
        notes.append(
            f"stock: {group.height} nodes hold a working stock of {good} ({why}); listed in "
            "StudyMarket.stocks"
        )


def _chosen_rate(rates: pl.DataFrame, node: str, good: str) -> dict[str, object] | None:
    """The rate row that bounds ``node``'s release of ``good``: published maximum first."""
    mine = rates.filter((pl.col("node") == node) & (pl.col("good") == good))
    published = mine.filter(pl.col("item") == MAX_DRAWDOWN_ITEM)
    rule = mine.filter(pl.col("basis") == "share_of_stock_per_month")
    for pick in (published, rule):
        if pick.height:
            return pick.row(0, named=True)
    return None


def _holder_nodes(holder: str, regions: Regions, membership: dict[str, set[str]]) -> list[str]:
    """Member nodes of ``holder`` (itself, or the members of a bloc)."""
    return [m for m in regions.members if m in membership.get(holder, set())]


def _consumption_share(
    member: str, good: str, q0: float, nodes: list[str], balances: pl.DataFrame
) -> float | None:
    """``member``'s share of the consumption of ``good`` by ``nodes`` (None if they use none)."""
    share_q = balances.filter(pl.col("node").is_in(nodes) & (pl.col("good") == good))
    denom = float(share_q["q0_units_per_year"].sum())
    return None if denom <= 0 else q0 / denom


def _rate(
    rec: dict[str, object],
    member: str,
    good: str,
    q0: float,
    balances: pl.DataFrame,
    regions: Regions,
    units: dict[str, str],
    membership: dict[str, set[str]],
) -> tuple[float | None, bool, str]:
    """One draw-rate row for one member and good: units per month, whether it applies, why.

    A ``share_of_stock_per_month`` row's units depend on the chosen stock and are filled
    in by :func:`member_stocks`.
    """
    value = float(rec["value"])  # type: ignore[arg-type]
    if rec["basis"] == "share_of_stock_per_month":
        return None, True, f"{value:g} of the stock a month (stated rule)"
    if rec["item"] != MAX_DRAWDOWN_ITEM:
        return None, False, f"a reported pace, not the {MAX_DRAWDOWN_ITEM!r} row (not used)"
    unit = str(rec["unit"])
    factor = _UNIT_FACTORS.get(units[good], {}).get(unit.removesuffix(_PER_DAY))
    if not unit.endswith(_PER_DAY) or factor is None:
        return None, False, f"rate unit {unit!r} does not convert to {units[good]!r} a day"
    holder = str(rec["holder"])
    share = _consumption_share(
        member, good, q0, _holder_nodes(holder, regions, membership), balances
    )
    if share is None:
        return None, False, "the holder's members consume none of the good"
    monthly = value * factor * _DAYS / 12.0 * share
    return (
        monthly,
        True,
        (
            f"{value:g} {unit} x 365/12 days"
            + ("" if share == 1.0 else f", {share:.1%} of it by {member}'s share of consumption")
        ),
    )


def _units(
    rec: dict[str, object],
    member: str,
    good: str,
    q0: float,
    net_imports: float,
    table: pl.DataFrame,
    balances: pl.DataFrame,
    regions: Regions,
    units: dict[str, str],
    membership: dict[str, set[str]],
) -> tuple[float | None, str]:
    """Initial units of one row for one member and good, and why (module doc)."""
    value = float(rec["value"])  # type: ignore[arg-type]
    basis = rec["basis"]
    if basis == "days_of_net_imports":
        return value / _DAYS * max(net_imports, 0.0), f"{value:g} days of net imports"
    if basis == "days_of_consumption":
        return value / _DAYS * q0, f"{value:g} days of consumption"
    if basis == "share_of_storage_capacity":
        cap = table.filter(
            (pl.col("holder") == rec["holder"])
            & (pl.col("commodity") == rec["commodity"])
            & (pl.col("stage") == rec["stage"])
            & (pl.col("basis") == "quantity")
        )
        if cap.height != 1:
            return None, "no single storage-capacity quantity row of the same holder and good"
        factor = _UNIT_FACTORS.get(units[good], {}).get(cap["unit"][0])
        if factor is None:
            return None, f"capacity unit {cap['unit'][0]!r} does not convert to {units[good]!r}"
        total = value * float(cap["value"][0]) * factor
        holder = str(rec["holder"])
        nodes = _holder_nodes(holder, regions, membership)
        share = _consumption_share(member, good, q0, nodes, balances)
        if share is None:
            return None, "the holder's members consume none of the good"
        return total * share, (
            f"{value:g} x {holder} storage of {float(cap['value'][0]):g} {cap['unit'][0]}, "
            f"{share:.1%} of it by {member}'s share of the {holder} members' consumption"
        )
    return None, f"basis {basis!r} does not say how many units of which good (not used)"
