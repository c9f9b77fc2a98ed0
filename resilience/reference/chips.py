r"""Chip segments on a capacity basis: who holds each segment, and on what basis.

``datasets/chip_capacity.csv`` holds cited shares of each chip segment by country or
region (data card ``datasets/sources/chip_capacity.md``). Most chip segments have no
bilateral trade that says where the chip came from: a wafer made in Taiwan is packaged in
Malaysia and sold from Singapore, and chip design or EDA software is not shipped at all.
Their supply is therefore described by *where the capacity is*
(``capacity_by_location``: wafer fabrication by node, assembly-test-packaging) or *where
the firms are headquartered* (``market_by_headquarters``: EDA, design, lithography tools,
and where no location figure exists, silicon wafers and ATP). Demand is
``consumption_by_region``. The basis is a column on every row and travels to the risk
table.

A *group* is the shares one publisher gives for one segment, node band, year and basis.
Every group carries an explicit ``rest_of_world`` row and sums to 100 (published
rounding allowed: :data:`SUM_TOLERANCE_PCT`).

:func:`supply_world_shares` picks, per chip commodity of ``datasets/commodities.csv``
and target year, the group the risk table uses, in the shape of
:func:`resilience.build.world_market.world_shares` (the country holding the share is
the supplier; the importer's own share is *not* removed, because design, EDA and
capacity are not imports).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import REST_OF_WORLD, CountryResolver
from resilience.schemas.chips import ChipCapacity
from resilience.schemas.validate import validate_frame

__all__ = [
    "CHIP_FILE",
    "EXTRA_SEGMENTS",
    "GROUP",
    "SUM_TOLERANCE_PCT",
    "check_chip_capacity",
    "consumption_shares",
    "load_chip_capacity",
    "read_bools",
    "read_projection_table",
    "supply_world_shares",
    "with_capacity_shares",
]

CHIP_FILE = "chip_capacity.csv"
#: Published shares may miss 100 by rounding (e.g. 31 + 9 + 23 + 36 = 99).
SUM_TOLERANCE_PCT = 1.5
#: A group of shares: one publisher, segment, node band, year and basis.
GROUP = ["segment", "node_band", "year", "basis", "source"]
#: Segments that are not a commodity id of ``datasets/commodities.csv``: wafer
#: fabrication at other node bands, semiconductors as a whole (demand), and
#: semiconductor-grade neon (an input).
EXTRA_SEGMENTS = ("wafer_fab", "semiconductors", "neon_semiconductor_grade")
_ROW_REGION = "rest_of_world"


def read_bools(raw: pl.DataFrame, column: str, file: str) -> pl.DataFrame:
    """Turn a ``true``/``false`` text column into booleans; anything else is an error.

    Raises
    ------
    resilience.errors.DataError
        Naming file, row, column and value of each cell that is neither.
    """
    text = pl.col(column).str.strip_chars().str.to_lowercase()
    numbered = raw.with_row_index("_row", offset=2)
    bad = numbered.filter(text.is_null() | ~text.is_in(["true", "false"]))
    if bad.height:
        raise DataError(
            [
                DataProblem(file, int(row), column, value, "must be true or false")
                for row, value in bad.select("_row", column).iter_rows()
            ]
        )
    return raw.with_columns((text == "true").alias(column))


def _describe(key: list[object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(GROUP, key, strict=True))


def check_chip_capacity(
    table: pl.DataFrame, commodities: pl.DataFrame, *, file: str = CHIP_FILE
) -> None:
    """Raise :class:`~resilience.errors.DataError` unless the table is consistent.

    Checks, each problem named by file, row, column and value: a ``segment`` that is
    neither a chips commodity of ``commodities`` nor one of :data:`EXTRA_SEGMENTS`; a
    three-letter ``region`` that is not a known country code; a group without an
    explicit ``rest_of_world`` row; a group whose shares do not sum to 100 (within
    :data:`SUM_TOLERANCE_PCT`; the problem names the group's first row and the sum).

    Parameters
    ----------
    table
        Validated rows with their ``source_row``.
    commodities
        The commodity table.
    file
        File name used in the messages.
    """
    chip_ids = set(commodities.filter(pl.col("sector") == "chips")["commodity"].to_list()) | set(
        EXTRA_SEGMENTS
    )
    problems = [
        DataProblem(file, row, "segment", seg, "not a chips commodity nor a known segment")
        for row, seg in table.select("source_row", "segment").iter_rows()
        if seg not in chip_ids
    ]
    resolver = CountryResolver.default()
    problems += [
        DataProblem(file, row, "region", region, "unknown country code")
        for row, region in table.select("source_row", "region").iter_rows()
        if len(region) == 3 and region.isupper() and not resolver.is_country(region)
    ]
    groups = table.group_by(GROUP, maintain_order=True).agg(
        pl.col("source_row").min().alias("first_row"),
        pl.col("share_pct").sum().alias("total_pct"),
        (pl.col("region") == _ROW_REGION).any().alias("has_row"),
    )
    problems += [
        DataProblem(file, row, "region", None, "group has no explicit rest_of_world row")
        for row, has_row in groups.select("first_row", "has_row").iter_rows()
        if not has_row
    ]
    problems += [
        DataProblem(
            file,
            row,
            "share_pct",
            total,
            f"shares of the group ({_describe(key)}) sum to {total:g}, not 100"
            f" (tolerance {SUM_TOLERANCE_PCT:g})",
        )
        for *key, row, total in groups.select(*GROUP, "first_row", "total_pct").iter_rows()
        if abs(total - 100.0) > SUM_TOLERANCE_PCT
    ]
    if problems:
        raise DataError(sorted(problems, key=lambda p: (p.row or 0, p.column)))


@cache
def read_projection_table(schema: type[dy.Schema], path: Path) -> pl.DataFrame:
    """A cited table with an ``is_projection`` flag, read as text and validated.

    The flag is turned into booleans first (:func:`read_bools`), then every column is
    checked against ``schema`` (errors name file, row, column and value). Cached per
    schema and path.
    """
    raw = pl.read_csv(path, infer_schema=False)
    if "is_projection" in raw.columns:
        raw = read_bools(raw, "is_projection", path.name)
    return validate_frame(schema, raw, file=path.name)


def load_chip_capacity(
    path: Path | None = None, commodities: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Read, validate and cross-check ``datasets/chip_capacity.csv``.

    Parameters
    ----------
    path
        The table; the shipped one by default.
    commodities
        The commodity table to check segments against; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        The :class:`~resilience.schemas.chips.ChipCapacity` columns and ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        A missing column, a bad value (share outside 0-100, unknown basis or node band,
        malformed region, missing source, url or quote, a level without its unit), a
        duplicate key, or a failed :func:`check_chip_capacity`; each named by file, row,
        column and value.
    """
    path = path or datasets_dir() / CHIP_FILE
    table = read_projection_table(ChipCapacity, path)
    check_chip_capacity(
        table, commodities if commodities is not None else load_commodities(), file=path.name
    )
    return table


def _usable_groups(table: pl.DataFrame, years: Iterable[int], basis: pl.Expr) -> pl.DataFrame:
    """Per target year and segment: the group used (latest year at or before the target).

    Only observed (not projected) groups whose regions are all countries or
    ``rest_of_world`` qualify (a region such as ``europe`` is not a supplier the
    dependency rows can name). Ties in year go to the group with the smallest
    ``rest_of_world`` share (the most countries named), then the source name.
    """
    rows = table.filter(basis & ~pl.col("is_projection"))
    named = (
        rows.group_by(GROUP)
        .agg(
            (pl.col("region").str.contains(r"^[A-Z]{3}$") | (pl.col("region") == _ROW_REGION))
            .all()
            .alias("_countries"),
            pl.col("share_pct").filter(pl.col("region") == _ROW_REGION).sum().alias("_rest"),
        )
        .filter(pl.col("_countries"))
    )
    targets = pl.DataFrame({"target_year": sorted(set(years))}, schema={"target_year": pl.Int32})
    return (
        targets.join(named, how="cross")
        .filter(pl.col("year") <= pl.col("target_year"))
        .sort(
            ["target_year", "segment", "year", "_rest", "source"],
            descending=[False, False, True, False, False],
            nulls_last=True,
        )
        .group_by("target_year", "segment", maintain_order=True)
        .first()
        .select("target_year", *GROUP)
    )


def supply_world_shares(
    years: Iterable[int],
    table: pl.DataFrame | None = None,
    commodities: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Supply shares of each chip commodity per target year, as world-market rows.

    Parameters
    ----------
    years
        Target years; each gets the latest observed group at or before it.
    table, commodities
        The chip-capacity and commodity tables (the shipped ones by default); only the
        chip commodities of ``commodities`` get rows.

    Returns
    -------
    polars.DataFrame
        The columns of :func:`resilience.build.world_market.world_shares` (``year,
        commodity, stage, country_iso3, production_quantity, unit, world_share,
        production_year, production_source, world_total_quantity, world_total_basis``;
        ``world_share`` a fraction, ``country_iso3`` ``ROW`` for the rest of the world,
        ``production_quantity`` the share in % of world, ``unit`` ``pct_of_world``) plus
        ``basis``, ``vintage``, ``url`` and ``quote`` of the group. Only segments that
        are chip commodities and only the supply bases (not ``consumption_by_region``).
    """
    commodities = commodities if commodities is not None else load_commodities()
    # checked against the shipped commodity table: ``commodities`` may be a subset
    table = table if table is not None else load_chip_capacity()
    stages = commodities.filter(pl.col("sector") == "chips").select(
        pl.col("commodity").alias("segment"), "stage"
    )
    supply = table.join(stages.select("segment"), on="segment", how="semi")
    chosen = _usable_groups(supply, years, pl.col("basis") != "consumption_by_region")
    return (
        chosen.join(supply, on=GROUP, how="inner", nulls_equal=True)
        .join(stages, on="segment", how="inner")
        .select(
            pl.col("target_year").alias("year"),
            pl.col("segment").alias("commodity"),
            "stage",
            pl.when(pl.col("region") == _ROW_REGION)
            .then(pl.lit(REST_OF_WORLD))
            .otherwise(pl.col("region"))
            .alias("country_iso3"),
            pl.col("share_pct").alias("production_quantity"),
            pl.lit("pct_of_world").alias("unit"),
            (pl.col("share_pct") / pl.col("share_pct").sum().over("target_year", "segment")).alias(
                "world_share"
            ),
            pl.col("year").alias("production_year"),
            pl.col("source").alias("production_source"),
            pl.col("share_pct").sum().over("target_year", "segment").alias("world_total_quantity"),
            pl.lit("sum_of_shares").alias("world_total_basis"),
            "basis",
            "vintage",
            "url",
            "quote",
        )
        .sort("year", "commodity", "country_iso3")
    )


#: The columns of :func:`resilience.build.world_market.world_shares`.
WORLD_COLUMNS = (
    "year",
    "commodity",
    "stage",
    "country_iso3",
    "production_quantity",
    "unit",
    "world_share",
    "production_year",
    "production_source",
    "world_total_quantity",
    "world_total_basis",
)


def with_capacity_shares(
    world: pl.LazyFrame,
    years: Iterable[int],
    commodities: pl.DataFrame | None = None,
    table: pl.DataFrame | None = None,
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """World shares with each chip segment's rows replaced by its capacity-basis group.

    Parameters
    ----------
    world
        :func:`resilience.build.world_market.world_shares` output.
    years
        The target years of ``world``.
    commodities, table
        The commodity and chip-capacity tables (the shipped ones by default).

    Returns
    -------
    tuple of polars.LazyFrame and polars.DataFrame
        The world shares (same columns, chip segments from ``chip_capacity.csv`` where
        a usable group exists, production rows kept for the others) and the chip rows
        used (:func:`supply_world_shares`), whose ``commodity, stage, basis`` go to
        :func:`resilience.build.dependency.build_dependency` as ``capacity_basis``.
    """
    chips = supply_world_shares(years, table=table, commodities=commodities)
    replaced = chips.select("year", "commodity", "stage").unique().lazy()
    world_cols = world.collect_schema()
    ours = chips.lazy().select(pl.col(c).cast(world_cols[c]) for c in WORLD_COLUMNS)
    kept = world.join(replaced, on=["year", "commodity", "stage"], how="anti").select(WORLD_COLUMNS)
    return pl.concat([kept, ours]), chips


def consumption_shares(years: Iterable[int], table: pl.DataFrame | None = None) -> pl.DataFrame:
    """Demand side: chip consumption by region per target year (latest group at or before).

    Returns
    -------
    polars.DataFrame
        ``year, country_iso3, share_pct, consumption_year, source, vintage, url, quote``;
        ``country_iso3`` ``ROW`` for the rest of the world.
    """
    table = table if table is not None else load_chip_capacity()
    demand = table.filter(pl.col("segment") == "semiconductors")
    chosen = _usable_groups(demand, years, pl.col("basis") == "consumption_by_region")
    return (
        chosen.join(demand, on=GROUP, how="inner", nulls_equal=True)
        .select(
            pl.col("target_year").alias("year"),
            pl.when(pl.col("region") == _ROW_REGION)
            .then(pl.lit(REST_OF_WORLD))
            .otherwise(pl.col("region"))
            .alias("country_iso3"),
            "share_pct",
            pl.col("year").alias("consumption_year"),
            "source",
            "vintage",
            "url",
            "quote",
        )
        .sort("year", "country_iso3")
    )
