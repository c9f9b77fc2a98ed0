"""Countries: ISO 3166 codes, the name variants every source uses, and aggregates.

pycountry is the authority for ISO 3166-1 names and codes. ``datasets/countries.csv``
adds continent and UN M49 region (and a few non-ISO entities the sources use: Kosovo,
historic states), ``datasets/country_aliases.csv`` lists the spellings sources use that
pycountry does not know ("Congo (Kinshasa)", "Korea, Rep.", "Other Asia, nes" = Taiwan),
and ``datasets/country_aggregates.csv`` recognises rows that are not countries at all
("World total (rounded)", "Other countries", "OECD").

Resolution order for a name: the alias table (scoped aliases first), then the aggregate
patterns, then pycountry's exact (case-insensitive) lookup of codes and names. There is
no fuzzy matching: a name that matches nothing is an error naming the file, row and name,
with close matches offered as a hint.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import polars as pl
import pycountry

from resilience.errors import DataError, DataProblem
from resilience.paths import datasets_dir

__all__ = [
    "REST_OF_WORLD",
    "WORLD",
    "CountryKind",
    "CountryResolver",
    "Resolution",
    "clean_name",
    "load_countries",
]

log = logging.getLogger(__name__)

CountryKind = Literal["country", "world", "rest_of_world", "region", "statistic"]

#: Pseudo-code for a world total row (World Bank usage; not an ISO 3166 code).
WORLD = "WLD"
#: Pseudo-code for "Other countries" / "Rest of world" remainders (not an ISO 3166 code).
REST_OF_WORLD = "ROW"


@dataclass(frozen=True)
class Resolution:
    """What a name in a source file stands for.

    ``iso3`` is an ISO 3166-1 alpha-3 code for a country (or a pseudo-code listed in
    ``datasets/countries.csv`` such as ``XKX``), ``WLD`` for a world total, ``ROW`` for a
    rest-of-world remainder, and ``None`` for regional aggregates and statistics rows,
    which are recognised but are never countries.
    """

    kind: CountryKind
    iso3: str | None


_MOJIBAKE = re.compile("[ÃÂ][\x80-\xbf\u0100-\u024f\u2018-\u203a]")


def clean_name(name: str) -> str:
    """Normalise a country name as written in a file, without changing what it names.

    Repairs UTF-8 read as Latin-1 ("TÃ¼rkiye" -> "Türkiye"), turns non-breaking spaces
    into spaces, typographic apostrophes into ASCII ones, and collapses whitespace.
    """
    s = name
    if _MOJIBAKE.search(s):
        try:
            s = s.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                s = s.encode("cp1252").decode("utf-8")
    s = unicodedata.normalize("NFC", s).replace("\xa0", " ").replace("’", "'")
    return " ".join(s.split())


def _key(name: str) -> str:
    return clean_name(name).casefold()


def load_countries(path: Path | None = None) -> pl.DataFrame:
    """Read the country table (``iso3, iso2, iso_numeric, name, continent, un_region``).

    Parameters
    ----------
    path
        Alternative CSV with the same columns; defaults to ``datasets/countries.csv``.
    """
    path = path or datasets_dir() / "countries.csv"
    return pl.read_csv(
        path,
        schema_overrides={"iso_numeric": pl.String, "iso2": pl.String},
        try_parse_dates=False,
    )


class CountryResolver:
    """Map source country names to ISO3 codes and recognise aggregates.

    Parameters
    ----------
    countries
        Frame with at least ``iso3`` and ``name`` columns.
    aliases
        Frame with ``alias, iso3, scope``; a non-empty ``scope`` limits an alias to one
        source (e.g. WNA's truncated ``South`` = South Africa).
    aggregates
        Frame with ``pattern, kind``: case-insensitive regular expressions matched
        against the whole cleaned name.
    """

    def __init__(
        self, countries: pl.DataFrame, aliases: pl.DataFrame, aggregates: pl.DataFrame
    ) -> None:
        self.countries = countries
        self._names: dict[str, str] = dict(
            zip(countries["iso3"].to_list(), countries["name"].to_list(), strict=True)
        )
        self._known = set(self._names)
        self._global: dict[str, str] = {}
        self._scoped: dict[tuple[str, str], str] = {}
        for alias, iso3, scope in aliases.select("alias", "iso3", "scope").iter_rows():
            if iso3 not in self._known:
                raise DataError.single(
                    "country_aliases.csv", None, "iso3", iso3, "alias points to an unknown ISO3"
                )
            if scope:
                self._scoped[(scope, _key(alias))] = iso3
            else:
                self._global[_key(alias)] = iso3
        self._aggregates: list[tuple[re.Pattern[str], CountryKind]] = [
            (re.compile(p, re.IGNORECASE), kind)
            for p, kind in aggregates.select("pattern", "kind").iter_rows()
        ]
        self._by_numeric: dict[int, str] = {
            int(n): iso3
            for iso3, n in countries.select("iso3", "iso_numeric").iter_rows()
            if n not in (None, "")
        }

    @classmethod
    def default(cls) -> CountryResolver:
        """The resolver built from the shipped tables in ``datasets/`` (cached)."""
        return _default_resolver()

    # -- lookups ---------------------------------------------------------------------
    def lookup(self, name: str, *, scope: str | None = None) -> Resolution | None:
        """Resolve ``name``; ``None`` when it matches nothing (never guesses)."""
        key = _key(name)
        if not key:
            return None
        if scope is not None and (scope, key) in self._scoped:
            return Resolution("country", self._scoped[(scope, key)])
        if key in self._global:
            return Resolution("country", self._global[key])
        cleaned = clean_name(name)
        for pattern, kind in self._aggregates:
            if pattern.fullmatch(cleaned):
                iso3 = (
                    WORLD if kind == "world" else REST_OF_WORLD if kind == "rest_of_world" else None
                )
                return Resolution(kind, iso3)
        if cleaned.upper() in self._known and len(cleaned) == 3:
            return Resolution("country", cleaned.upper())
        try:
            hit = pycountry.countries.lookup(cleaned)
        except LookupError:
            return None
        return Resolution("country", hit.alpha_3)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Close matches among known names and aliases, for error messages."""
        vocabulary = {v: v for v in self._names.values()}
        vocabulary.update({k: k for k in self._global})
        matches = difflib.get_close_matches(_key(name), [k.casefold() for k in vocabulary], n=n)
        return matches

    def resolve(
        self,
        name: str,
        *,
        file: str | Path,
        row: int | None,
        column: str,
        scope: str | None = None,
    ) -> Resolution:
        """Like :meth:`lookup` but raise :class:`~resilience.errors.DataError` if unknown."""
        hit = self.lookup(name, scope=scope)
        if hit is None:
            raise DataError([self._problem(name, file, row, column)])
        return hit

    def _problem(self, name: str, file: str | Path, row: int | None, column: str) -> DataProblem:
        hint = self.suggest(name)
        reason = "unknown country name" + (f" (close matches: {', '.join(hint)})" if hint else "")
        return DataProblem(str(file), row, column, name, reason)

    def resolve_column(
        self,
        frame: pl.DataFrame,
        column: str,
        *,
        file: str | Path,
        row_column: str = "source_row",
        scope: str | None = None,
        iso3_column: str = "country_iso3",
        kind_column: str = "country_kind",
    ) -> pl.DataFrame:
        """Add ``iso3_column`` and ``kind_column`` resolved from ``frame[column]``.

        Each distinct name is resolved once. Every unknown name is reported (with the
        first row it appears on, taken from ``row_column``) in one
        :class:`~resilience.errors.DataError`.
        """
        firsts = (
            frame.select(column, row_column)
            .filter(pl.col(column).is_not_null())
            .group_by(column, maintain_order=True)
            .agg(pl.col(row_column).min())
        )
        mapping_iso: dict[str, str | None] = {}
        mapping_kind: dict[str, str] = {}
        problems: list[DataProblem] = []
        for name, row in firsts.iter_rows():
            hit = self.lookup(name, scope=scope)
            if hit is None:
                problems.append(self._problem(name, file, row, column))
                continue
            mapping_iso[name] = hit.iso3
            mapping_kind[name] = hit.kind
        nulls = frame.filter(pl.col(column).is_null())
        if nulls.height:
            problems.append(
                DataProblem(str(file), nulls[row_column][0], column, None, "country name is empty")
            )
        if problems:
            raise DataError(problems)
        return frame.with_columns(
            pl.col(column).replace_strict(mapping_iso, return_dtype=pl.String).alias(iso3_column),
            pl.col(column).replace_strict(mapping_kind, return_dtype=pl.String).alias(kind_column),
        )

    def name_of(self, iso3: str) -> str:
        """Display name for an ISO3 code (``WLD`` and ``ROW`` included)."""
        if iso3 == WORLD:
            return "World"
        if iso3 == REST_OF_WORLD:
            return "Rest of world"
        return self._names[iso3]

    def is_country(self, iso3: str) -> bool:
        """Whether ``iso3`` is in the country table (pseudo-codes WLD/ROW are not)."""
        return iso3 in self._known

    def iso3_from_numeric(self, code: int) -> str | None:
        """ISO3 for an ISO 3166-1 numeric code (``None`` when not a known country)."""
        return self._by_numeric.get(int(code))


@cache
def _default_resolver() -> CountryResolver:
    base = datasets_dir()
    aliases = pl.read_csv(base / "country_aliases.csv", schema_overrides={"scope": pl.String})
    aggregates = pl.read_csv(base / "country_aggregates.csv")
    return CountryResolver(load_countries(), aliases, aggregates)
