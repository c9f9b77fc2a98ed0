"""A user's bloc from a file: a CSV or YAML naming its ISO3 members.

Two formats, both read into the shape of ``datasets/alliances.csv`` (one row per bloc and
member, with ``joined``/``left`` dates) so a user bloc works wherever a shipped one does:

CSV
    A header row and one member per row. ``iso3`` is required; ``bloc`` names the bloc
    (one file may hold several); without a ``bloc`` column the bloc id is the file's stem
    in upper case (``my_bloc.csv`` -> ``MY_BLOC``). Optional ``joined`` and ``left``
    (``YYYY-MM-DD``), ``country``, ``kind`` and ``source`` columns, as in the shipped table.

YAML
    A mapping from bloc id to a list of ISO3 codes (``{CHIPS: [USA, JPN, KOR, TWN, NLD]}``).

A member without a ``joined`` date is a member in every year (``joined`` is written as
:data:`ALWAYS`, and the ``source`` names the file). Every problem is reported at once,
naming the file, the line, the column and the value: an unknown country code (with close
matches from the country table, its aliases and pycountry), an empty code, a bad date, a
bloc id that is not ``A-Z0-9_`` or that is already a shipped bloc or a country code, and a
member listed twice.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import yaml  # type: ignore[import-untyped]

from resilience.errors import DataError, DataProblem
from resilience.reference.countries import CountryResolver

__all__ = ["ALWAYS", "read_bloc_file"]

#: ``joined`` date given to a member listed without one: a member in every year.
ALWAYS = dt.date(1900, 1, 1)

_BLOC_ID = r"^[A-Z][A-Z0-9_]*$"
_COLUMNS = ("bloc", "iso3", "joined", "left", "country", "kind", "source")


def _suggest(value: str, resolver: CountryResolver) -> list[str]:
    """Close ISO3 codes for a value that is not one (a name, a 2-letter code, a typo)."""
    hit = resolver.lookup(value)
    if hit is not None and hit.kind == "country" and hit.iso3 is not None:
        return [hit.iso3]
    codes = resolver.countries["iso3"].to_list()
    names = dict(zip(resolver.countries["name"].to_list(), codes, strict=True))
    close = difflib.get_close_matches(value.upper(), codes, n=3, cutoff=0.6)
    close += [names[n] for n in difflib.get_close_matches(value, list(names), n=3, cutoff=0.6)]
    return list(dict.fromkeys(close))[:3]


def _yaml_rows(path: Path) -> list[dict[str, object]]:
    """``bloc, iso3, source_row`` rows from a YAML mapping, with each item's line number."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise DataError.single(path, None, "(file)", None, f"not valid YAML: {exc}") from exc
    if not isinstance(node, yaml.MappingNode):
        line = None if node is None else node.start_mark.line + 1
        raise DataError.single(
            path, line, "(file)", None, "a bloc file in YAML maps bloc ids to lists of ISO3 codes"
        )
    rows: list[dict[str, object]] = []
    problems: list[DataProblem] = []
    for key, value in node.value:
        bloc = str(key.value)
        if not isinstance(value, yaml.SequenceNode):
            problems.append(
                DataProblem(
                    str(path), key.start_mark.line + 1, bloc, None, "not a list of ISO3 codes"
                )
            )
            continue
        for item in value.value:
            text_value = item.value if isinstance(item, yaml.ScalarNode) else None
            rows.append({"bloc": bloc, "iso3": text_value, "source_row": item.start_mark.line + 1})
    if problems:
        raise DataError(problems)
    return rows


def _raw(path: Path) -> pl.DataFrame:
    """The file's rows as strings, with ``source_row`` (the line a person sees)."""
    if path.suffix.lower() in (".yaml", ".yml"):
        rows = _yaml_rows(path)
        if not rows:
            raise DataError.single(path, None, "iso3", None, "the file names no member")
        return pl.DataFrame(
            rows, schema={"bloc": pl.String, "iso3": pl.String, "source_row": pl.Int64}
        )
    raw = pl.read_csv(path, infer_schema=False)
    if "iso3" not in raw.columns:
        raise DataError.single(
            path, 1, "iso3", ",".join(raw.columns), "a bloc file needs an 'iso3' column"
        )
    if raw.height == 0:
        raise DataError.single(path, None, "iso3", None, "the file names no member")
    frame = raw.with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    if "bloc" not in frame.columns:
        frame = frame.with_columns(pl.lit(path.stem.upper()).alias("bloc"))
    return frame


def _check_codes(
    frame: pl.DataFrame, name: str, shipped_blocs: Sequence[str], resolver: CountryResolver
) -> list[DataProblem]:
    """Problems with the bloc ids and the member codes of ``frame``."""
    problems: list[DataProblem] = []
    for bloc, row in frame.select("bloc", "source_row").iter_rows():
        if bloc is None or not pl.Series([bloc]).str.contains(_BLOC_ID).item():
            problems.append(
                DataProblem(name, row, "bloc", bloc, "a bloc id is A-Z, 0-9 and _, starting A-Z")
            )
        elif bloc in shipped_blocs:
            problems.append(
                DataProblem(name, row, "bloc", bloc, "bloc id already exists in the shipped table")
            )
        elif resolver.is_country(bloc):
            problems.append(
                DataProblem(name, row, "bloc", bloc, "a bloc id may not be a country's ISO3 code")
            )
    for iso3, row in frame.select("iso3", "source_row").iter_rows():
        if iso3 is None or iso3 == "":
            problems.append(DataProblem(name, row, "iso3", iso3, "empty country code"))
        elif not resolver.is_country(iso3):
            close = _suggest(iso3, resolver)
            hint = f" (close matches: {', '.join(close)})" if close else ""
            problems.append(
                DataProblem(name, row, "iso3", iso3, "not a known ISO3 country code" + hint)
            )
    return problems


def read_bloc_file(
    path: Path | str,
    shipped_blocs: Sequence[str] = (),
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read a user's bloc file (CSV or YAML) into the alliance-table shape.

    Parameters
    ----------
    path
        The bloc file.
    shipped_blocs
        Bloc ids already defined (a user bloc may not reuse one).
    resolver
        Country table used to check the codes (default: the shipped one).

    Returns
    -------
    polars.DataFrame
        ``bloc, iso3, country, kind, joined, left, source, source_row, file``.

    Raises
    ------
    resilience.errors.DataError
        Every bad value, with file, line, column and value (unknown codes with close
        matches).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError.single(path, None, "(file)", str(path), "no such bloc file")
    resolver = resolver or CountryResolver.default()
    frame = _raw(path)
    for column in _COLUMNS:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    frame = frame.with_columns(pl.col("iso3").str.strip_chars(), pl.col("bloc").str.strip_chars())
    name = str(path)
    problems = _check_codes(frame, name, shipped_blocs, resolver)
    dates: dict[str, pl.Series] = {}
    for column in ("joined", "left"):
        text = frame[column].str.strip_chars()
        parsed = text.str.to_date("%Y-%m-%d", strict=False)
        bad = frame.filter(parsed.is_null() & text.is_not_null() & (text != ""))
        problems += [
            DataProblem(name, row, column, value, "not a date (YYYY-MM-DD)")
            for value, row in bad.select(column, "source_row").iter_rows()
        ]
        dates[column] = parsed
    frame = frame.with_columns(
        dates["joined"].fill_null(ALWAYS).alias("joined"), dates["left"].alias("left")
    )
    twice = frame.filter(pl.struct("bloc", "iso3", "joined").is_duplicated())
    problems += [
        DataProblem(name, row, "iso3", iso3, f"listed twice in bloc {bloc}")
        for bloc, iso3, row in twice.select("bloc", "iso3", "source_row").iter_rows()
    ]
    ends = frame.filter(pl.col("left").is_not_null() & (pl.col("left") <= pl.col("joined")))
    problems += [
        DataProblem(name, row, "left", str(left), "a membership ends after it begins")
        for left, row in ends.select("left", "source_row").iter_rows()
    ]
    if problems:
        raise DataError(problems)
    return frame.select(
        "bloc",
        "iso3",
        pl.coalesce(
            pl.col("country"),
            pl.col("iso3").map_elements(resolver.name_of, return_dtype=pl.String),
        ).alias("country"),
        pl.col("kind").fill_null("economic"),
        "joined",
        "left",
        pl.col("source").fill_null(f"user bloc file {path.name}"),
        "source_row",
        pl.lit(path.name).alias("file"),
    )
