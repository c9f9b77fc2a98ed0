"""Map a source's own commodity names and units onto our (commodity, stage) and units.

Each production source has a map in ``datasets/maps/<source>_commodities.csv`` with
columns ``source_commodity, source_stage, commodity, stage, basis_factor, note``.
A row with an empty ``commodity`` says "known, out of scope" (dropped, and counted in the
log); a (source_commodity, source_stage) pair absent from the map is an *unknown product*
and an error, so a new upstream release cannot slip a renamed series past us.

``quantity = source_quantity * unit_factor(source_unit -> canonical unit) * basis_factor``;
``basis_factor`` converts the chemical basis (e.g. Li2O -> Li content = 0.4645) and is 1
when the source already uses our basis. Both factors are recorded per row as
``conversion_factor``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.paths import datasets_dir
from resilience.reference.countries import REST_OF_WORLD, WORLD
from resilience.schemas.tables import Production

__all__ = ["UNIT_FACTORS", "complete_rest_of_world", "load_commodity_map", "map_production"]

log = logging.getLogger(__name__)

#: Source unit (normalised: lower case, single spaces) -> (canonical unit, factor).
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "t": ("t", 1.0),
    "metric tons": ("t", 1.0),
    "metric ton": ("t", 1.0),
    "metr. t": ("t", 1.0),
    "tonnes": ("t", 1.0),
    "metric dry tons": ("t", 1.0),
    "kt": ("t", 1e3),
    "thousand metric tons": ("t", 1e3),
    "thousand metric dry tons": ("t", 1e3),
    "thousand tonnes": ("t", 1e3),
    "mt": ("t", 1e6),
    "million metric tons": ("t", 1e6),
    "million tonnes": ("t", 1e6),
    "kg": ("t", 1e-3),
    "kilograms": ("t", 1e-3),
    "t u": ("t", 1.0),
    "million m3": ("million m3", 1.0),
    "mio m3": ("million m3", 1.0),
    "million cubic meters": ("million m3", 1.0),
    "bcm": ("million m3", 1e3),
    "pct_of_world": ("pct_of_world", 1.0),
    "percent": ("pct_of_world", 1.0),
}

MAP_COLUMNS = ("source_commodity", "source_stage", "commodity", "stage", "basis_factor", "note")


def _norm_unit(unit: str) -> str:
    return " ".join(unit.strip().lower().split())


def load_commodity_map(source: str, path: Path | None = None) -> pl.DataFrame:
    """Read ``datasets/maps/<source>_commodities.csv`` (or ``path``)."""
    path = path or datasets_dir() / "maps" / f"{source}_commodities.csv"
    frame = pl.read_csv(path, infer_schema=False)
    missing = [c for c in MAP_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            [DataProblem(path.name, None, c, None, "required column is missing") for c in missing]
        )
    return frame.with_columns(
        pl.col("basis_factor").cast(pl.Float64),
        pl.col("commodity").replace("", None),
    )


def map_production(
    frame: pl.DataFrame,
    commodity_map: pl.DataFrame,
    commodities: pl.DataFrame,
    *,
    file: str | Path,
) -> pl.DataFrame:
    """Turn adapter output into canonical production rows (before rest-of-world completion).

    ``frame`` is a validated :class:`~resilience.schemas.tables.SourceProduction` frame.

    Parameters
    ----------
    frame
        Adapter output (``SourceProduction`` columns plus ``source_row``).
    commodity_map
        The source's map (:func:`load_commodity_map`).
    commodities
        ``datasets/commodities.csv`` (for canonical units).
    file
        Source file name for messages.

    Raises
    ------
    resilience.errors.DataError
        Unknown (source_commodity, source_stage) pairs, unknown units, map rows that
        point at a (commodity, stage) not in the commodity table, or units that cannot be
        converted to the commodity's canonical unit.
    """
    keys = ["source_commodity", "source_stage"]
    in_map = commodity_map.select(*keys, "commodity", "stage", "basis_factor").with_columns(
        pl.lit(True).alias("_in_map")
    )
    joined = frame.join(in_map, on=keys, how="left")
    unmapped = joined.filter(pl.col("_in_map").is_null())
    if unmapped.height:
        firsts = unmapped.group_by(keys).agg(pl.col("source_row").min()).sort("source_row")
        raise DataError(
            [
                DataProblem(
                    str(file),
                    row,
                    "commodity",
                    f"{c} / {s}",
                    "unknown product: not in the commodity map",
                )
                for c, s, row in firsts.iter_rows()
            ]
        )
    out_of_scope = joined.filter(pl.col("commodity").is_null())
    if out_of_scope.height:
        log.info(
            "%s: %d rows of out-of-scope commodities skipped (listed in the map)",
            file,
            out_of_scope.height,
        )
    joined = joined.filter(pl.col("commodity").is_not_null()).drop("_in_map")
    canon = commodities.select(
        "commodity", pl.col("stage").cast(pl.String), pl.col("unit").alias("canonical_unit")
    )
    joined = joined.join(canon, on=["commodity", "stage"], how="left")
    problems: list[DataProblem] = []
    for c, s in (
        joined.filter(pl.col("canonical_unit").is_null())
        .select("commodity", "stage")
        .unique()
        .iter_rows()
    ):
        problems.append(
            DataProblem(
                "commodity map", None, "commodity", f"{c}/{s}", "not in datasets/commodities.csv"
            )
        )
    factors: dict[str, float] = {}
    for unit, canonical, row in (
        joined.group_by("unit", "canonical_unit").agg(pl.col("source_row").min()).iter_rows()
    ):
        hit = UNIT_FACTORS.get(_norm_unit(unit))
        if hit is None or hit[0] != canonical:
            problems.append(
                DataProblem(
                    str(file), row, "unit", unit, f"unit cannot be converted to {canonical!r}"
                )
            )
            continue
        factors[unit] = hit[1]
    if problems:
        raise DataError(problems)
    factor_frame = pl.DataFrame(
        {"unit": list(factors), "_unit_factor": list(factors.values())},
        schema={"unit": pl.String, "_unit_factor": pl.Float64},
    )
    mapped = (
        joined.join(factor_frame, on="unit", how="left")
        .with_columns(
            (pl.col("_unit_factor") * pl.col("basis_factor")).alias("conversion_factor"),
            pl.col("quantity").alias("source_quantity"),
            pl.col("unit").alias("source_unit"),
        )
        .with_columns(
            (pl.col("source_quantity") * pl.col("conversion_factor")).alias("quantity"),
            pl.col("canonical_unit").alias("unit"),
            pl.lit(False).alias("is_derived"),
        )
    )
    return _sum_same_key(mapped)


def _sum_or_null(column: str) -> pl.Expr:
    """Sum of a group, null when every value is null (unknown stays unknown, not 0)."""
    return (
        pl.when(pl.col(column).is_null().all())
        .then(None)
        .otherwise(pl.col(column).sum())
        .cast(pl.Float64)
        .alias(column)
    )


def _sum_same_key(frame: pl.DataFrame) -> pl.DataFrame:
    """Sum rows that land on the same canonical key.

    Several source series can map onto one of ours (World Mining Data's steam coal and
    lignite are both ``coal``; USGS lists footnoted "Other countries" lines separately).
    The sum is null when every part is null or any part is withheld (a total with a
    withheld part is unknown, not smaller); ``source_row`` keeps the
    first line, ``source_quantity`` the summed source quantity.
    """
    key = ["year", "commodity", "stage", "country_iso3", "source"]
    if frame.height == frame.select(key).unique().height:
        return frame
    return (
        frame.group_by(key, maintain_order=True)
        .agg(
            pl.when(pl.col("quantity").is_null().all() | pl.col("is_withheld").any())
            .then(None)
            .otherwise(pl.col("quantity").sum())
            .alias("quantity"),
            _sum_or_null("source_quantity"),
            pl.col("is_withheld").any(),
            pl.col("is_estimated").any(),
            pl.col("conversion_factor").first(),
            pl.all()
            .exclude(
                "quantity", "source_quantity", "is_withheld", "is_estimated", "conversion_factor"
            )
            .first(),
        )
        .with_columns(
            pl.col("quantity").cast(pl.Float64), pl.col("source_quantity").cast(pl.Float64)
        )
    )


def complete_rest_of_world(frame: pl.DataFrame) -> pl.DataFrame:
    """Make the rest of the world explicit: one ``ROW`` row per group, nothing lost.

    Per (year, commodity, stage, source):

    - a ``ROW`` row the source gave is kept as is;
    - otherwise, with a ``WLD`` total, ``ROW = WLD - sum(countries)`` (``is_derived``);
      when rounding makes the listed countries exceed the total the remainder is 0 and
      the gap is logged;
    - otherwise ``ROW = 0`` (``is_derived``): the source lists every producer; unless
      the source gives no figure at all for the group (USGS germanium), when the
      remainder is unknown (null).

    ``WLD`` rows stay in the table as the source's stated total. Several ``ROW`` rows in a
    group (e.g. footnoted "Other countries" lines) are summed first.
    """
    group = ["year", "commodity", "stage", "source"]
    rows = frame.filter(pl.col("country_iso3") == REST_OF_WORLD)
    if rows.height:
        rows = rows.group_by(group, maintain_order=True).agg(
            _sum_or_null("quantity"),
            _sum_or_null("source_quantity"),
            pl.all().exclude("quantity", "source_quantity").first(),
        )
    countries = frame.filter(~pl.col("country_iso3").is_in([REST_OF_WORLD, WORLD]))
    world = frame.filter(pl.col("country_iso3") == WORLD)
    sums = countries.group_by(group).agg(
        pl.col("quantity").sum().alias("_listed"),
        pl.col("quantity").count().alias("_known"),
        pl.col("vintage").first(),
    )
    have_row = rows.select(group).unique()
    need = sums.join(have_row, on=group, how="anti")
    need = need.join(
        world.select(
            *group, pl.col("quantity").alias("_world"), "conversion_factor", "unit", "source_unit"
        ),
        on=group,
        how="left",
    )
    over = need.filter(
        pl.col("_world").is_not_null() & (pl.col("_listed") > pl.col("_world") * 1.0001)
    )
    for rec in over.iter_rows(named=True):
        log.info(
            "%s %s %s %s: listed countries sum to %.6g, above the stated world total %.6g; "
            "rest of world set to 0",
            rec["source"],
            rec["year"],
            rec["commodity"],
            rec["stage"],
            rec["_listed"],
            rec["_world"],
        )
    units = frame.select("commodity", "stage", "unit").unique(["commodity", "stage"])
    derived = (
        need.drop("unit")
        .join(units, on=["commodity", "stage"], how="left")
        .select(
            *group,
            pl.lit(REST_OF_WORLD).alias("country_iso3"),
            pl.when(pl.col("_world").is_null() & (pl.col("_known") == 0))
            .then(None)
            .when(pl.col("_world").is_null())
            .then(0.0)
            .otherwise((pl.col("_world") - pl.col("_listed")).clip(lower_bound=0.0))
            .alias("quantity"),
            "unit",
            pl.lit(None, pl.Float64).alias("source_quantity"),
            pl.col("source_unit").fill_null(pl.col("unit")),
            pl.col("conversion_factor").fill_null(1.0),
            pl.lit(False).alias("is_withheld"),
            pl.lit(False).alias("is_estimated"),
            pl.lit(True).alias("is_derived"),
            "vintage",
        )
    )
    cols = Production.column_names()
    return pl.concat(
        [countries.select(cols), world.select(cols), rows.select(cols), derived.select(cols)],
        how="vertical_relaxed",
    ).sort(group + ["country_iso3"])
