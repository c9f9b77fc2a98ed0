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
lower bound on the stock. Capacity = the initial level; the draw rate is not published
for these stocks, so a stock can be drawn down in one month.
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
#: content unit of the good -> {unit of a quantity row: factor}
_UNIT_FACTORS = {"million m3": {"bcm": 1000.0}}
_STOCK_COLUMNS = {
    "node": pl.String,
    "good": pl.String,
    "item": pl.String,
    "basis": pl.String,
    "value": pl.Float64,
    "initial_units": pl.Float64,
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

    Returns
    -------
    tuple of polars.DataFrame
        The ``stocks`` table of the core (every node with demand holds its working stock;
        members also their strategic stocks; the largest row applies) and the detail
        table (``node, good, item, basis, value, initial_units, used, why, source,
        chosen``).
    """
    working = working_stock_days(study, overrides)
    table = load_strategic_stocks()
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
                units_, why = _units(
                    rec, member, good, q0, net, table, balances, regions, units, membership
                )
                rows.append(
                    {
                        "node": member,
                        "good": good,
                        "item": rec["item"],
                        "basis": rec["basis"],
                        "value": float(rec["value"]),
                        "initial_units": units_,
                        "used": units_ is not None and units_ > 0,
                        "why": why,
                        "source": f"{rec['source']} ({rec['vintage']}), row {rec['source_row']}",
                    }
                )
    rows += _working_rows(balances, working)
    detail = pl.DataFrame(rows, schema=_STOCK_COLUMNS)
    used = detail.filter(pl.col("used"))
    best = (
        used.sort("initial_units", descending=True)
        .group_by("node", "good", maintain_order=True)
        .first()
    )
    detail = detail.join(
        best.select("node", "good", "item", pl.lit(True).alias("chosen")),
        on=["node", "good", "item"],
        how="left",
    ).with_columns(pl.col("chosen").fill_null(False))
    chosen = detail.filter(pl.col("chosen"))
    for rec in chosen.filter(pl.col("item") != WORKING_ITEM).iter_rows(named=True):
        notes.append(
            f"stock: {rec['node']} holds {rec['initial_units']:.6g} units of {rec['good']} "
            f"({rec['item']}: {rec['why']})"
        )
    held = chosen.filter(pl.col("item") == WORKING_ITEM)
    for (good, why), group in held.group_by("good", "why", maintain_order=True):
        notes.append(
            f"stock: {group.height} nodes hold a working stock of {good} ({why}); listed in "
            "StudyMarket.stocks"
        )
    stocks = best.select(
        "node",
        "good",
        "initial_units",
        pl.col("initial_units").alias("capacity_units"),
        pl.col("initial_units").alias("draw_units_per_month"),
    )
    return stocks, detail.sort("node", "good", "item")


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
        nodes = [m for m in regions.members if m in membership.get(holder, set())]
        share_q = balances.filter(pl.col("node").is_in(nodes) & (pl.col("good") == good))
        denom = float(share_q["q0_units_per_year"].sum())
        if denom <= 0:
            return None, "the holder's members consume none of the good"
        share = q0 / denom
        return total * share, (
            f"{value:g} x {holder} storage of {float(cap['value'][0]):g} {cap['unit'][0]}, "
            f"{share:.1%} of it by {member}'s share of the {holder} members' consumption"
        )
    return None, f"basis {basis!r} does not say how many units of which good (not used)"
