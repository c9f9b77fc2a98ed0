"""World Nuclear Association: uranium mine production by country, 2011-2020, tonnes U.

Upstream: WNA's "World Uranium Mining Production" table as a small CSV
(``uranium_production_2011_2020_tU.csv``): ``Country, Year, Uranium Produced``.

Quirks and what the adapter does:

- quantities are tonnes of uranium (U), not U3O8; the unit is written ``"t U"`` (the
  map ``datasets/maps/wna_commodities.csv`` converts to our U3O8 basis, x 1.1792);
- truncated names: ``South`` (South Africa; resolved by the alias scoped to ``wna``),
  ``Czech`` (Czech Republic); ``USA``;
- zeros for producers that stopped (Czechia, France, Germany, Malawi, Romania in 2020)
  are real zeros and kept;
- no world total: the 20 listed countries are every producer (2020 sums to WNA's world
  figure 47 731 tU), so no ``WLD`` row is made up;
- estimates (e.g. Uzbekistan 2020) are not marked in the file, so ``is_estimated`` is
  false throughout.
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

__all__ = ["SERIES", "SOURCE", "UNIT", "VINTAGE", "read_wna_uranium"]

log = logging.getLogger(__name__)

SOURCE = "World Nuclear Association"
#: The WNA table edition carrying 2011-2020 (published 2021).
VINTAGE = "WNA 2021"
SERIES = "Uranium Produced"
UNIT = "t U"
STAGE = "production"
SCOPE = "wna"


def read_wna_uranium(path: Path | str, *, resolver: CountryResolver | None = None) -> pl.DataFrame:
    """Read WNA uranium production (t U) by country and year.

    Parameters
    ----------
    path
        ``uranium_production_2011_2020_tU.csv``.
    resolver
        Country resolver (defaults to the shipped tables); names are resolved with the
        ``wna`` scope (``South`` = South Africa).

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` rows plus ``source_row``;
        ``source_commodity`` = ``"Uranium Produced"``, ``unit`` = ``"t U"``.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, unknown countries, unparseable numbers or years, negative
        quantities, a (country, year) listed twice.
    """
    path = Path(path)
    file = path.name
    resolver = resolver or CountryResolver.default()
    frame = read_text_csv(path, required=("Country", "Year", SERIES))
    frame = parse_years(frame, "Year", file=file)
    check_name_years(frame, path, column="Year")
    frame = parse_numbers(frame, SERIES, file=file, out="quantity", withheld=())
    reject_negative(frame, "quantity", file=file, column=SERIES)
    frame = resolver.resolve_column(frame, "Country", file=file, scope=SCOPE)
    frame = frame.rename({"Country": "country_name"})
    frame = drop_aggregates(frame, file=file, log=log)
    out = frame.select(
        "year",
        pl.lit(SERIES).alias("source_commodity"),
        pl.lit(STAGE).alias("source_stage"),
        "country_name",
        "country_iso3",
        "quantity",
        pl.lit(UNIT).alias("unit"),
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.lit(SOURCE).alias("source"),
        pl.lit(VINTAGE).alias("vintage"),
        "source_row",
    )
    return finish(
        out,
        file=file,
        column_names={
            "country_name": "Country",
            "country_iso3": "Country",
            "quantity": SERIES,
            "year": "Year",
        },
        key_column="Country, Year",
        describe={"Country": "country_name", "Year": "year"},
    )
