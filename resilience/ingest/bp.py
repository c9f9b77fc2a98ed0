"""bp Statistical Review of World Energy 2021 and OWID fossil-fuel production (to 2020).

``bp_statreview_2021_energy_minerals_1990plus.csv`` (:func:`read_bp_statreview`)
    bp's country-year panel as reshaped by Our World in Data: ``Entity, Year`` and one
    column per series. Three production series are read, in bp's units (the header does
    not state them; bp 2021 conventions, checked against known values):

    - ``Oil Production - Tonnes`` -- million tonnes (crude oil, shale oil, oil sands,
      condensates and NGLs);
    - ``Gas Production - Bcm`` -- billion cubic metres (``bcm``);
    - ``Coal Production - Tonnes`` -- million tonnes (all ranks, commercial solid fuels).

    An empty cell means bp lists no value for that entity and series; such cells are
    skipped (counted in the log), not turned into rows. ``Entity`` mixes countries with
    bp's regional aggregates (``OECD``, ``Non-OECD``, ``European Union``, ``Other Asia
    Pacific`` ...). Those are recognised by the country resolver and dropped explicitly
    (logged); ``World`` is kept as ``WLD``. ``USSR`` resolves to the historic code ``SUN``
    and is kept (it has no production values from 1990 on in this slice).
    ``source_commodity`` is the column name, ``source_stage`` is ``"production"``.

``owid_fossil_fuel_production_bp_shift_2022_1990plus.csv`` (:func:`read_owid_fossil_production`)
    OWID's "Fossil fuel production (BP & Shift, 2022)": ``Country, Year`` and
    ``Coal production (TWh)``, ``Gas production (TWh)``, ``Oil production (TWh)``
    (primary energy, TWh); bp data completed with The Shift Data Portal for countries bp
    does not list. Same treatment of aggregates (incl. ``OPEC``, ``Persian Gulf``,
    ``Russian Federation & USSR``). Quantities stay in ``TWh``: there is no physical-unit
    conversion, so these rows are for history and validation, not for tonnes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from resilience.ingest._production_csv import (
    drop_aggregates,
    finish,
    parse_years,
    read_text_csv,
    reject_negative,
)
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import parse_numbers
from resilience.reference.countries import CountryResolver

__all__ = [
    "BP_SERIES",
    "OWID_SERIES",
    "read_bp_statreview",
    "read_owid_fossil_production",
]

log = logging.getLogger(__name__)

BP_SOURCE = "bp Statistical Review of World Energy 2021"
BP_VINTAGE = "2021"
OWID_SOURCE = "OWID fossil fuel production (bp & The Shift Data Portal)"
OWID_VINTAGE = "2022"
STAGE = "production"

#: bp column -> unit as bp states it for that series.
BP_SERIES: dict[str, str] = {
    "Oil Production - Tonnes": "million tonnes",
    "Gas Production - Bcm": "bcm",
    "Coal Production - Tonnes": "million tonnes",
}
#: OWID column -> unit.
OWID_SERIES: dict[str, str] = {
    "Coal production (TWh)": "TWh",
    "Gas production (TWh)": "TWh",
    "Oil production (TWh)": "TWh",
}


def read_bp_statreview(
    path: Path | str, *, resolver: CountryResolver | None = None
) -> pl.DataFrame:
    """Read oil (Mt), gas (bcm) and coal (Mt) production from the bp 2021 panel.

    Parameters
    ----------
    path
        ``bp_statreview_2021_energy_minerals_1990plus.csv``.
    resolver
        Country resolver (defaults to the shipped tables).

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` rows plus ``source_row``:
        one per (entity, year, series) with a value; ``World`` as ``WLD``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, unknown entity names, unparseable numbers or years, negative
        values, an (entity, year) listed twice.
    """
    return _read_panel(
        Path(path),
        entity="Entity",
        series=BP_SERIES,
        source=BP_SOURCE,
        vintage=BP_VINTAGE,
        resolver=resolver,
    )


def read_owid_fossil_production(
    path: Path | str, *, resolver: CountryResolver | None = None
) -> pl.DataFrame:
    """Read OWID coal, gas and oil production in TWh (bp + The Shift Data Portal).

    Parameters
    ----------
    path
        ``owid_fossil_fuel_production_bp_shift_2022_1990plus.csv``.
    resolver
        Country resolver (defaults to the shipped tables).

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` rows plus ``source_row``,
        ``unit`` = ``"TWh"``; ``World`` as ``WLD``. Not convertible to tonnes: for
        history and validation only.

    Raises
    ------
    resilience.errors.DataError
        As :func:`read_bp_statreview`.
    """
    return _read_panel(
        Path(path),
        entity="Country",
        series=OWID_SERIES,
        source=OWID_SOURCE,
        vintage=OWID_VINTAGE,
        resolver=resolver,
    )


def _read_panel(
    path: Path,
    *,
    entity: str,
    series: dict[str, str],
    source: str,
    vintage: str,
    resolver: CountryResolver | None,
) -> pl.DataFrame:
    file = path.name
    resolver = resolver or CountryResolver.default()
    frame = read_text_csv(path, required=(entity, "Year", *series))
    frame = parse_years(frame, "Year", file=file)
    check_name_years(frame, path, column="Year")
    parts = []
    for column, unit in series.items():
        part = parse_numbers(frame, column, file=file, out="quantity", withheld=())
        reject_negative(part, "quantity", file=file, column=column)
        parts.append(
            part.select(
                "year",
                pl.lit(column).alias("source_commodity"),
                entity,
                "quantity",
                pl.lit(unit).alias("unit"),
                "source_row",
            )
        )
    long = pl.concat(parts)
    empty = long.filter(pl.col("quantity").is_null())
    if empty.height:
        log.info("%s: %d empty series cells skipped (no value listed)", file, empty.height)
    long = long.filter(pl.col("quantity").is_not_null())
    long = resolver.resolve_column(long, entity, file=file).rename({entity: "country_name"})
    long = drop_aggregates(long, file=file, log=log)
    out = long.select(
        "year",
        "source_commodity",
        pl.lit(STAGE).alias("source_stage"),
        "country_name",
        "country_iso3",
        "quantity",
        "unit",
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        "source_row",
    )
    return finish(
        out,
        file=file,
        column_names={"country_name": entity, "country_iso3": entity, "year": "Year"},
        key_column=f"{entity}, Year",
        describe={entity: "country_name", "Year": "year", "series": "source_commodity"},
    ).sort("source_row", "source_commodity")
