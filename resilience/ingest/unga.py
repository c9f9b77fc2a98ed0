"""UN General Assembly ideal points (Bailey, Strezhnev and Voeten), June 2024 release.

Upstream format
---------------
``IdealpointestimatesAll_Jun2024.csv`` (Harvard Dataverse hdl:1902.1/12379, CC0): one
row per country and UNGA session, with columns ``"" (row number), ccode, session,
NVotesAll, IdealPointAll, QO%All ... Q100%All, iso3c, Countryname, USAgree, RUSSAgree,
BrazilAgree, ChinaAgree, IndiaAgree, IsraelAgree``. ``ccode`` is the Correlates of War
(COW) numeric state code; ``session`` the UNGA session, and the dataset's own convention is
``year = 1945 + session`` (session 78 = 2023). ``NA`` marks missing values (``ChinaAgree``
before the PRC took China's seat in 1971, ``IsraelAgree`` before 1949...).

Quirks and what this adapter does with them:

* Countries are identified by ``iso3c`` when it is a known ISO3 code, checked against
  ``Countryname`` (a disagreement is an error). ``iso3c`` is not always ISO: both Yemens
  carry ``YAR`` (not a code), so they are resolved from the name: "Yemen Arab Republic"
  (COW 678) -> YEM (continued by Yemen), "Yemen People's Republic" (680) -> YMD.
* Historic states: "German Federal Republic" (260) -> DEU (continued by Germany, 255,
  from 1991), "German Democratic Republic" (265) -> DDR, "Czechoslovakia" (315) -> CSK.
* Two COW codes keep one label across a change of state, which would mislabel later
  years; :data:`COW_SUCCESSIONS` splits them by year: 345 "Yugoslavia" is YUG to 2002,
  SCG (Serbia and Montenegro) 2003-2005 and SRB (Serbia) from 2006 (Montenegro, 341,
  votes from 2006); 365 "Russia" is SUN (USSR) to 1991 and RUS from 1992.
* ``USAgree``/``ChinaAgree`` are shares of votes agreeing with the USA/China, 0..1.

:func:`cow_codes` derives a COW code -> ISO3 table (with the years each pair is observed)
from this CC0 file, so the project does not need the COW codes file (non-commercial
terms).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import parse_numbers
from resilience.ingest.text import parse_whole_numbers, read_text_csv
from resilience.reference.countries import CountryResolver
from resilience.schemas.tables import Alignment
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = [
    "COW_SUCCESSIONS",
    "SESSION_YEAR_OFFSET",
    "SOURCE",
    "VINTAGE",
    "cow_codes",
    "read_unga_ideal_points",
]

log = logging.getLogger(__name__)

SOURCE = "Bailey, Strezhnev & Voeten UNGA ideal points"
VINTAGE = "Jun2024"
#: The dataset's convention: calendar year = 1945 + UNGA session.
SESSION_YEAR_OFFSET = 1945

#: COW code -> ((last year, ISO3), ...) in order; ``None`` = no end. Applied after name
#: resolution, and only when the row resolved to one of the listed codes.
COW_SUCCESSIONS: dict[int, tuple[tuple[int | None, str], ...]] = {
    345: ((2002, "YUG"), (2005, "SCG"), (None, "SRB")),
    365: ((1991, "SUN"), (None, "RUS")),
}

_REQUIRED = ("ccode", "session", "IdealPointAll", "iso3c", "Countryname", "USAgree", "ChinaAgree")
_NOT_COUNTRIES = ("world", "rest_of_world", "region", "statistic")


def _resolve_states(frame: pl.DataFrame, path: Path, resolver: CountryResolver) -> pl.DataFrame:
    """(ccode, iso3c, Countryname) -> ISO3 (or None for aggregates), checked both ways."""
    groups = (
        frame.group_by("_ccode", "iso3c", "Countryname", maintain_order=True)
        .agg(pl.col(ROW_COLUMN).min())
        .sort(ROW_COLUMN)
    )
    problems: list[DataProblem] = []
    rows: list[tuple[int, str | None, str | None, str | None, str]] = []
    for ccode, iso3c, name, row in groups.iter_rows():
        code = (iso3c or "").strip().upper()
        hit = resolver.lookup(name) if name else None
        if code and resolver.is_country(code):
            if hit is not None and hit.kind == "country" and hit.iso3 != code:
                problems.append(
                    DataProblem(
                        str(path),
                        row,
                        "iso3c",
                        iso3c,
                        f"iso3c disagrees with Countryname {name!r} (= {hit.iso3})",
                    )
                )
                continue
            rows.append((ccode, iso3c, name, code, "country"))
        elif hit is None:
            problems.append(
                DataProblem(
                    str(path),
                    row,
                    "Countryname",
                    name,
                    f"unknown country (iso3c {iso3c!r} is not an ISO3 code either)",
                )
            )
        else:
            rows.append((ccode, iso3c, name, hit.iso3, hit.kind))
    if problems:
        raise DataError(problems)
    return pl.DataFrame(
        rows,
        schema={
            "_ccode": pl.Int32,
            "iso3c": pl.String,
            "Countryname": pl.String,
            "country_iso3": pl.String,
            "country_kind": pl.String,
        },
        orient="row",
    )


def _apply_successions(
    frame: pl.DataFrame,
    successions: Mapping[int, Sequence[tuple[int | None, str]]],
    path: Path,
) -> pl.DataFrame:
    for ccode, spells in successions.items():
        codes = [iso3 for _, iso3 in spells]
        hit = pl.col("_ccode") == ccode
        wrong = frame.filter(hit & ~pl.col("country_iso3").is_in(codes))
        if wrong.height:
            rec = wrong.row(0, named=True)
            raise DataError.single(
                path,
                rec[ROW_COLUMN],
                "iso3c",
                rec["iso3c"],
                f"COW code {ccode} resolved to {rec['country_iso3']}, not one of {codes}",
            )
        expr: pl.Expr = pl.lit(spells[-1][1])
        for last, iso3 in reversed(spells[:-1]):
            expr = pl.when(pl.col("year") <= last).then(pl.lit(iso3)).otherwise(expr)
        frame = frame.with_columns(
            pl.when(hit).then(expr).otherwise(pl.col("country_iso3")).alias("country_iso3")
        )
    return frame


def read_unga_ideal_points(
    path: Path | str,
    *,
    successions: Mapping[int, Sequence[tuple[int | None, str]]] = COW_SUCCESSIONS,
    source: str = SOURCE,
    vintage: str = VINTAGE,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read the UNGA ideal-point file into a validated ``Alignment`` frame.

    Parameters
    ----------
    path
        ``IdealpointestimatesAll_Jun2024.csv`` (or another release with the same columns).
    successions
        COW codes whose state changed under one label, split by year (default
        :data:`COW_SUCCESSIONS`; pass ``{}`` to keep the file's labels).
    source, vintage
        Provenance written on every row.
    resolver
        Country resolver; defaults to :meth:`CountryResolver.default`.

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.Alignment` columns (year = 1945 + session,
        country_iso3, cow_code, ideal_point = ``IdealPointAll``, agree_with_usa_frac =
        ``USAgree``, agree_with_china_frac = ``ChinaAgree``, source, vintage) plus
        ``source_row``; ``NA`` is null.

    Raises
    ------
    resilience.errors.DataError
        Missing columns, non-integer ``ccode``/``session``, non-numeric values, unknown
        countries, ``iso3c`` disagreeing with ``Countryname``, duplicate (year, country)
        rows, agreement shares outside 0..1.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    frame = read_text_csv(path, required=_REQUIRED)
    frame = parse_whole_numbers(frame, "ccode", file=path, out="_ccode")
    frame = parse_whole_numbers(frame, "session", file=path, out="_session")
    frame = frame.with_columns((pl.col("_session") + SESSION_YEAR_OFFSET).alias("year"))
    check_name_years(frame, path, column="session (as year)")
    for column, parsed in (
        ("IdealPointAll", "ideal_point"),
        ("USAgree", "agree_with_usa_frac"),
        ("ChinaAgree", "agree_with_china_frac"),
    ):
        frame = parse_numbers(frame, column, file=path, out=parsed, withheld=())
    states = _resolve_states(frame, path, resolver)
    frame = frame.join(states, on=["_ccode", "iso3c", "Countryname"], how="left", nulls_equal=True)
    aggregates = frame.filter(pl.col("country_kind").is_in(_NOT_COUNTRIES))
    if aggregates.height:
        log.info(
            "%s: dropped %d rows that are not countries: %s",
            path,
            aggregates.height,
            sorted(aggregates["Countryname"].unique().to_list()),
        )
        frame = frame.filter(~pl.col("country_kind").is_in(_NOT_COUNTRIES))
    frame = _apply_successions(frame, successions, path)
    out = frame.select(
        pl.col("year"),
        pl.col("country_iso3"),
        pl.col("_ccode").alias("cow_code"),
        pl.col("ideal_point"),
        pl.col("agree_with_usa_frac"),
        pl.col("agree_with_china_frac"),
        pl.lit(source).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col(ROW_COLUMN),
    )
    return validate_frame(
        Alignment,
        out,
        file=path,
        column_names={
            "country_iso3": "iso3c",
            "cow_code": "ccode",
            "year": "session",
            "ideal_point": "IdealPointAll",
            "agree_with_usa_frac": "USAgree",
            "agree_with_china_frac": "ChinaAgree",
        },
    )


def cow_codes(
    path: Path | str,
    *,
    successions: Mapping[int, Sequence[tuple[int | None, str]]] = COW_SUCCESSIONS,
) -> pl.DataFrame:
    """COW state code -> ISO3, derived from the (CC0) UNGA ideal-point file.

    Parameters
    ----------
    path
        The ideal-point file read by :func:`read_unga_ideal_points`.
    successions
        As for :func:`read_unga_ideal_points`.

    Returns
    -------
    polars.DataFrame
        ``cow_code`` (Int32), ``country_iso3``, ``first_year``, ``last_year``: one row per
        (COW code, ISO3) pair, with the first and last UNGA year the pair appears in the
        file (not COW's own membership dates; gaps in between are possible). A code maps
        to several ISO3 codes when :data:`COW_SUCCESSIONS` splits it (345, 365), and two
        codes can map to one ISO3 (260 and 255 -> DEU). Sorted by code and first year.
    """
    alignment = read_unga_ideal_points(path, successions=successions)
    return (
        alignment.group_by("cow_code", "country_iso3")
        .agg(
            pl.col("year").min().alias("first_year"),
            pl.col("year").max().alias("last_year"),
        )
        .sort("cow_code", "first_year")
    )
