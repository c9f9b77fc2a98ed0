r"""World balances of goods without bilateral trade: ``datasets/market_balances.csv``.

Some goods of the market core have no bilateral trade in ``datasets/trade.parquet``
(BACI has no chips: a wafer made in Taiwan is packaged in Malaysia and billed from
Singapore). For them the table states, one cited fact per row:

* ``role = world``: the world's output of the good in a year (``world_units_per_year``
  in ``unit``), ``country_iso3 = WLD``, ``share_pct = 100``;
* ``role = supply``: each country's share of world output (``basis`` e.g.
  ``capacity_by_location``), the rest of the world as an explicit ``ROW`` row;
* ``role = demand``: each country's share of world consumption (``basis`` e.g.
  ``consumption_by_region``), ``ROW`` explicit.

``is_projection`` marks a published projection (e.g. SIA/BCG's 2032 capacity map): a
study of that year or later uses it, like any other year.

A *group* is (``commodity``, ``stage``, ``year``, ``role``): its shares sum to 100
(tolerance :data:`SUM_TOLERANCE_PCT`, published rounding) with a ``ROW`` row. Where a
published regional figure was split into countries, ``derivation`` says how (the split
key and its numbers). :mod:`resilience.optimize.market.allocated` turns the rows into
production and trade for the market core.

Every rejected value raises :class:`~resilience.errors.DataError` naming file, row,
column and value.
"""

from __future__ import annotations

from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.paths import datasets_dir
from resilience.reference.chips import read_projection_table
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import REST_OF_WORLD, CountryResolver

__all__ = [
    "BALANCE_FILE",
    "GROUP",
    "ROLES",
    "SUM_TOLERANCE_PCT",
    "WORLD",
    "MarketBalances",
    "check_market_balances",
    "load_market_balances",
]

BALANCE_FILE = "market_balances.csv"
#: Shares of a group may miss 100 by published rounding, at most this much.
SUM_TOLERANCE_PCT = 0.5
#: The country code of a ``world`` row.
WORLD = "WLD"
#: What a row states.
ROLES = ("world", "supply", "demand")
#: One group of shares.
GROUP = ["commodity", "stage", "year", "role"]
_BASES = (
    "world_output_value",
    "capacity_by_location",
    "consumption_by_region",
    "purchases_by_buyer_hq",
)


def _one_of(values: tuple[str, ...]) -> str:
    return "^(" + "|".join(values) + ")$"


class MarketBalances(dy.Schema):
    """One cited fact about a good's world balance (module doc)."""

    commodity = dy.String(nullable=False, regex=r"^[a-z][a-z0-9_]*$")
    stage = dy.String(nullable=False, regex=r"^[a-z][a-z0-9_]*$")
    year = dy.Int32(nullable=False, min=1990, max=2100)
    role = dy.String(nullable=False, regex=_one_of(ROLES))
    country_iso3 = dy.String(nullable=False, regex=r"^[A-Z]{3}$")
    share_pct = dy.Float64(nullable=False, min=0, max=100)
    world_units_per_year = dy.Float64(nullable=True, min_exclusive=0)
    unit = dy.String(nullable=True)
    basis = dy.String(nullable=False, regex=_one_of(_BASES))
    is_projection = dy.Bool(nullable=False)
    derivation = dy.String(nullable=True)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    url = dy.String(nullable=False, regex=r"^https?://")
    quote = dy.String(nullable=False)
    note = dy.String(nullable=True)

    @dy.rule()
    def world_rows_carry_the_level(cls) -> pl.Expr:
        """A ``world`` row has a level and its unit; a share row has neither."""
        is_world = pl.col("role") == "world"
        level = pl.col("world_units_per_year").is_not_null() & pl.col("unit").is_not_null()
        none = pl.col("world_units_per_year").is_null() & pl.col("unit").is_null()
        return pl.when(is_world).then(level).otherwise(none)

    @dy.rule()
    def world_rows_are_the_world(cls) -> pl.Expr:
        """A ``world`` row is ``WLD`` at 100 %; a share row names a country or ``ROW``."""
        is_world = pl.col("role") == "world"
        world = (pl.col("country_iso3") == WORLD) & (pl.col("share_pct") == 100.0)
        return pl.when(is_world).then(world).otherwise(pl.col("country_iso3") != WORLD)

    @dy.rule()
    def one_row_per_key(cls) -> pl.Expr:
        """One row per (commodity, stage, year, role, country_iso3)."""
        return ~pl.struct(*GROUP, "country_iso3").is_duplicated()


def check_market_balances(
    table: pl.DataFrame, commodities: pl.DataFrame, *, file: str = BALANCE_FILE
) -> None:
    """Raise :class:`~resilience.errors.DataError` unless the rows fit together.

    Checks, each problem named by file, row, column and value: a (commodity, stage)
    unknown to ``commodities``; a ``country_iso3`` that is neither a known country nor
    ``ROW``; a share group (supply or demand) without a ``ROW`` row or whose shares do
    not sum to 100 within :data:`SUM_TOLERANCE_PCT`; a good with shares but no ``world``
    row. (Which years fit a study is decided when a study asks:
    :func:`resilience.optimize.market.allocated.world_balance`.)

    Parameters
    ----------
    table
        Validated rows with their ``source_row``.
    commodities
        The commodity table (``commodity, stage``).
    file
        File name used in the messages.
    """
    goods = set(commodities.select("commodity", "stage").iter_rows())
    known = {c for c, _ in goods}
    problems: list[DataProblem] = []
    for row, c, s in table.select("source_row", "commodity", "stage").iter_rows():
        if c not in known:
            problems.append(DataProblem(file, row, "commodity", c, "unknown commodity"))
        elif (c, s) not in goods:
            problems.append(DataProblem(file, row, "stage", s, f"{c} has no stage {s!r}"))
    resolver = CountryResolver.default()
    problems += [
        DataProblem(file, row, "country_iso3", code, "neither a known ISO3 country code nor ROW")
        for row, role, code in table.select("source_row", "role", "country_iso3").iter_rows()
        if role != "world" and code != REST_OF_WORLD and not resolver.is_country(code)
    ]
    shares = table.filter(pl.col("role") != "world")
    groups = shares.group_by(GROUP, maintain_order=True).agg(
        pl.col("source_row").min().alias("first_row"),
        pl.col("share_pct").sum().alias("total_pct"),
        (pl.col("country_iso3") == REST_OF_WORLD).any().alias("has_row"),
    )
    for c, s, year, role, row, total, has_row in groups.iter_rows():
        where = f"{c}/{s} {role} {year}"
        if not has_row:
            problems.append(
                DataProblem(file, row, "country_iso3", None, f"{where}: no explicit ROW row")
            )
        if abs(total - 100.0) > SUM_TOLERANCE_PCT:
            problems.append(
                DataProblem(
                    file,
                    row,
                    "share_pct",
                    round(total, 6),
                    f"{where}: shares sum to {total:g}, not 100 (tolerance {SUM_TOLERANCE_PCT:g})",
                )
            )
    worlds = set(table.filter(pl.col("role") == "world").select("commodity", "stage").iter_rows())
    named: set[tuple[str, str]] = set()
    for c, s, _year, _role, row, _total, _has in groups.iter_rows():
        if (c, s) not in worlds and (c, s) not in named:
            named.add((c, s))
            problems.append(DataProblem(file, row, "role", "world", f"{c}/{s}: no world row"))
    if problems:
        raise DataError(sorted(problems, key=lambda p: (p.row or 0, p.column)))


def load_market_balances(
    path: Path | None = None, commodities: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Read, validate and cross-check ``datasets/market_balances.csv`` (module doc).

    Parameters
    ----------
    path
        The table; the shipped one by default.
    commodities
        The commodity table to check goods against; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        The :class:`MarketBalances` columns and ``source_row``, in file order.

    Raises
    ------
    resilience.errors.DataError
        A missing column, a bad value, a duplicate key or a failed
        :func:`check_market_balances`; each named by file, row, column and value.
    """
    path = (path or datasets_dir() / BALANCE_FILE).resolve()
    table = read_projection_table(MarketBalances, path)
    check_market_balances(
        table, commodities if commodities is not None else load_commodities(), file=path.name
    )
    return table
