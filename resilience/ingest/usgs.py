"""USGS Mineral Commodity Summaries (MCS) world production tables -> ``SourceProduction``.

The U.S. Geological Survey publishes, with each yearly MCS, a data release holding the
"World mine production" tables of the printed summaries. Two layouts exist; both are read
here and give the same output.

**MCS 2025: one long CSV** (``MCS2025_World_Data.csv``)::

    SOURCE, COMMODITY, COUNTRY, TYPE, UNIT_MEAS, PROD_2023, "PROD_EST_ 2024", PROD_NOTES,
    CAP_2023, "CAP_EST_ 2024", CAP_NOTES, RESERVES_2024, RESERVE_NOTES

**MCS 2023 and 2024: one CSV per commodity** (``mcs2024-lithi_world.csv``; the file name
carries the release year and a short commodity code)::

    Source, Country, Type, Prod_t_2022, Prod_t_est_2023, Prod_notes, Reserves_t, ...

Quirks and what the adapter does with each:

- *Encoding*: UTF-8 with a byte-order mark, CRLF line ends. Files are read with the
  :mod:`csv` module (every cell a string) so that ``source_row`` is the exact line
  number even if a quoted cell ever spans lines. A file that is not UTF-8 is decoded as
  cp1252 with a warning.
- *Format detection* is by header: ``COMMODITY`` or ``UNIT_MEAS`` -> long (2025) layout;
  ``Prod_``/``Cap_``/``Reserves_`` columns -> per-commodity layout (then the required
  columns are checked); anything else is a :class:`~resilience.errors.DataError` naming
  the file. A directory is read file by file (every ``*.csv`` in it; other files are
  ignored), as is a list of files.
- *Header names*: ``PROD_EST_ 2024`` has a literal space; the 2023/24 production
  columns carry the unit and the estimate mark in their names (``Prod_t_2022``,
  ``Prod_kt_est_2023``, ``Prod_kt_Est_2022``, ``Prod_Sponge_t_Est_2021``; units ``t``,
  ``kt``, ``kg``, ``Mt``, ``mmt``, ``mct``, ``kct``, ``mcm``). Each production column
  becomes one row per line with its ``year``; the unit is kept as written in the name
  (``"kt"``), or as ``UNIT_MEAS`` states it in 2025 (``"thousand metric tons"``).
  Capacity, reserves and unnamed trailing columns are not production and are ignored
  (non-empty unnamed cells are counted in the log). In ``mcs2024-fluor_world.csv`` the
  ``Type`` header is replaced by the type text itself: a third column that is not a
  data column is taken as the type column.
- *Years and estimates*: the ``<Y-1>`` column is the reported year and the ``est``
  column (``PROD_EST_``, ``_est_``, ``_Est_``) the estimated one (``is_estimated``).
  The earlier year is also ``is_estimated`` when the row's notes say "estimated" /
  "estimates" ("Production in 2021 is also estimated.", "estimated 2023"; but not
  "estimated to still have ..."), when its type says so ("Mine production, estimated")
  and its notes do not say "reported", when the value carries a leading ``e``
  (``"e5,000"``) or when the country name carries a trailing ``e`` estimate mark.
- *Values*: ``"1,900"`` -> 1900; ``W`` -> null with ``is_withheld``; ``NA``, ``—``,
  ``XX``, blank -> null; ``"e5,000"`` -> 5000, estimated; ``"<100"`` (an upper bound
  printed instead of the proprietary figure) -> null with ``is_withheld``;
  ``"Less than ½ unit."`` and ``"Included with ilmenite"`` (the quantity is counted in
  another row) -> null. Any other text is an error naming file, row, column and value;
  a negative number is an error too.
- *Withheld in 2025*: the 2025 file leaves withheld production **blank** and says so in
  ``PROD_NOTES`` (``"W for 23-24"``). A blank production cell whose ``PROD_NOTES``
  holds a stand-alone ``W`` is withheld (null + ``is_withheld``); any other blank is
  simply not available (null). So U.S. lithium is withheld, never 0; germanium, which
  USGS does not publish by country, is null throughout.
- *Units by row (2025)*: ``UNIT_MEAS`` varies per row; a blank ``UNIT_MEAS`` (one rutile
  row) takes the unit the other rows of the same commodity and type state, logged.
  Known unit errors upstream are corrected, logged, from :data:`UNIT_ERRATA` (only
  when the stated unit is exactly the known wrong one).
- *Commodity names*: 2025 ``COMMODITY`` is stripped of trailing spaces and the typo
  ``Gemanium`` is read as ``Germanium`` (:data:`COMMODITY_TYPOS`). For 2023/24 the
  file's code (``lithi``, ``timin``, ``zirco-hafni``) is turned into the name the 2025
  file uses (:data:`CODE_NAMES`), so that one commodity map serves all three releases.
  An unknown code is kept as is (warning); the commodity map then rejects it.
- *Country names* (kept in ``country_name`` after whitespace clean-up: trailing spaces,
  non-breaking spaces) are resolved with :class:`CountryResolver` in this order:
  trailing footnote digits are dropped (``Other countries6``, ``New Caledonia11``,
  ``World total (rounded) 10``); the name is looked up; a trailing ``e`` (MCS2024
  estimate mark: ``Argentinae``, ``Russiae``, ``Korea, Republic ofe``) is removed only
  when the name without it resolves and the name with it does not (or resolves to the
  same aggregate, ``Other countriese``), and the row is then ``is_estimated``; a
  qualifier in parentheses or after a comma (``Brazil (beneficiated)``,
  ``Bolivia, ulexite``, ``United States (crude)``) is split off only when the full name
  does not resolve and the base does. Names that still match nothing are errors.
- *Qualifiers* say what the number measures, so they become part of the stage:
  ``source_stage = TYPE`` plus ``" | <qualifier>"`` (``"Mine production, estimated |
  crude"``), unless a country's type already says it (``Bolivia, ulexite`` under type
  ``ulexite``); the commodity map then maps or drops each such series explicitly. World
  total / other-countries rows always keep their qualifier, minus the words that do not
  change the series (``rounded``, ``excluding U.S. production``): e.g. 2025's
  ``World total (ilmenite and rutile, rounded)`` and ``World total (rutile, rounded)``
  rows, filed under the ilmenite and rutile types, become ``"... | ilmenite and
  rutile"`` and ``"... | rutile"`` instead of second world totals of those series.
  A blank type is read as ``"production"``.
- *Aggregates*: ``World total ...`` -> ``WLD`` (the 2023/24 variants
  ``World total (rounded), excluding U.S. production`` included; several USGS world
  totals exclude a withheld U.S. figure), ``Other countries``/``Other`` -> ``ROW``.
  Regional rows (``United States and Canada``) are dropped explicitly and counted in
  the log.
- *Blank lines* and all-blank rows are skipped. Two rows with the same
  (release, year, commodity, stage, country) are an error (several ``ROW`` rows are
  allowed: they are summed downstream).

The result is a validated :class:`~resilience.schemas.tables.SourceProduction` frame plus
``source_row`` (line in the file) and ``source_file`` (file name). Which series map to
our commodities, and on which basis, is decided in ``datasets/maps/usgs_commodities.csv``
(every (source_commodity, source_stage) of the 2023-2025 releases is listed there), not
here.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.completeness import check_csv_complete
from resilience.ingest.name_years import check_name_years
from resilience.ingest.numbers import parse_numbers
from resilience.reference.countries import REST_OF_WORLD, CountryResolver, Resolution, clean_name
from resilience.schemas.tables import SourceProduction
from resilience.schemas.validate import validate_frame

__all__ = ["CODE_NAMES", "COMMODITY_TYPOS", "UNIT_ERRATA", "read_usgs_world"]

log = logging.getLogger(__name__)

#: Separator between a row's type and the qualifier taken from its country name.
STAGE_SEPARATOR = " | "
#: Stage used when the source gives no type.
DEFAULT_STAGE = "production"

#: MCS 2023/2024 file codes -> the commodity names of the MCS 2025 long file (``code=name;``).
_CODE_TABLE = """
abras=Abrasives; alumi=Aluminum; antim=Antimony; arsen=Arsenic; asbes=Asbestos; barit=Barite;
bauxi=Bauxite; beryl=Beryllium; bismu=Bismuth; boron=Boron; bromi=Bromine; cadmi=Cadmium;
cemen=Cement; chrom=Chromium; clays=Clays; cobal=Cobalt; coppe=Copper;
diamo=Diamond (industrial); diato=Diatomite; felds=Feldspar; feore=Iron Ore;
fepig=Iron oxide pigments; feste=Iron and Steel; fluor=Fluorspar; galli=Gallium;
garne=Garnet (industrial); gemst=Gemstones; germa=Germanium; gold=Gold; graph=Graphite;
gypsu=Gypsum; heliu=Helium; indiu=Indium; iodin=Iodine; kyani=Kyanite and Related Minerals;
lead=Lead; lime=Lime; lithi=Lithium; manga=Manganese; mercu=Mercury;
mgcomp=Magnesium Compounds; mgmet=Magnesium metal; mica=Mica (Natural); molyb=Molybdenum;
nicke=Nickel; niobi=Niobium; nitro=Nitrogen(fixed) - Ammonia; peat=Peat; perli=Perlite;
phosp=Phosphate rock; plati=Platinum-Group metals; potas=Potash; pumic=Pumice & Pumicite;
raree=Rare earths; rheni=Rhenium; salt=Salt; sandi=Sand and gravel (industrial);
selen=Selenium; silve=Silver; simet=Silicon; sodaa=Soda ash; stond=Stone (dimension);
stron=Strontium; sulfu=Sulfur; talc=Talc and Pyrophyllite; tanta=Tantalum; tellu=Tellurium;
timin=Titanium Mineral Concentrates; tin=Tin; titan=Titanium & titanium dioxide;
tungs=Tungsten; vanad=Vanadium; vermi=Vermiculite; wolla=Wollastonite;
zeoli=Zeolites (natural); zinc=Zinc; zirco=Zirconium and Hafnium;
zirco-hafni=Zirconium and Hafnium
"""
CODE_NAMES: dict[str, str] = dict(
    item.strip().split("=", 1) for item in _CODE_TABLE.split(";") if item.strip()
)

#: Misspelt 2025 ``COMMODITY`` values -> the name used elsewhere.
COMMODITY_TYPOS: dict[str, str] = {"Gemanium": "Germanium"}

#: Known unit errors upstream: (vintage, source_commodity) -> (stated unit, true unit, why).
UNIT_ERRATA: dict[tuple[str, str], tuple[str, str, str]] = {
    ("MCS2023", "Chromium"): (
        "t",
        "kt",
        "header says Prod_t_ but every Prod_notes cell says 'Units are thousand metric tons, "
        "gross weight'; MCS2024 changed the header to kt for the same numbers",
    ),
    ("MCS2025", "Titanium Mineral Concentrates"): (
        "metric tons",
        "thousand metric tons",
        "UNIT_MEAS says metric tons but the values are MCS2024's thousand metric tons "
        "(China ilmenite 3,250 for 2023 vs 3,140 kt for 2022 in MCS2024)",
    ),
    ("MCS2025", "Sand and gravel (industrial)"): (
        "metric tons",
        "thousand metric tons",
        "UNIT_MEAS says metric tons but the values are MCS2024's thousand metric tons "
        "(United States 133,000 for 2023, i.e. 133 million tons)",
    ),
}

_FILE_NAME = re.compile(r"^mcs(?P<year>\d{4})-?(?P<code>[a-z][a-z-]*?)_world\.csv$", re.IGNORECASE)
_WIDE_PROD = re.compile(
    r"^prod_(?:(?P<what>[a-z]+)_)??(?P<unit>[a-z]+)_(?P<est>est_)?(?P<year>\d{4})$"
)
_LONG_PROD = re.compile(r"^prod_(?P<est>est_)?\s*(?P<year>\d{4})$")
_NOTES = re.compile(r"^prod_notes?$")
_DATA_COLUMN = re.compile(r"^(prod|cap|reserves)_", re.IGNORECASE)
#: "estimated", "estimates" in notes or type -- but "estimated to (still have ...)" is not.
_ESTIMATED = r"(?i)\bestimate[ds]?\b"
_NOT_ESTIMATED = r"(?i)\bestimated\s+to\b"
#: A row note "reported" overrides a type-level "estimated" (2025: "Mine production, estimated").
_REPORTED = r"(?i)\breported\b"
_WITHHELD_NOTE = r"(?:^|\s)W(?:\s|$)"
_FOOTNOTE = re.compile(r"\s*\d+$")
_PAREN = re.compile(r"^(?P<base>.+?)\s*\((?P<qual>[^()]*)\)$")
_NOISE = re.compile(r"^(rounded|exclud(es|ing)\b.*)$", re.IGNORECASE)

_COUNTRY_KINDS_KEPT = ("country", "world", "rest_of_world")
_LONG = "long"
_WIDE = "per_commodity"


# -- public API ----------------------------------------------------------------------------
def read_usgs_world(path: Path | str | Sequence[Path | str]) -> pl.DataFrame:
    """Read USGS MCS world production (2025 long CSV, or 2023/2024 per-commodity CSVs).

    Parameters
    ----------
    path
        One CSV file of either layout; a directory, of which every ``*.csv`` is read
        (layout detected per file); or a list of such files. Results are stacked.

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` columns (``year``,
        ``source_commodity``, ``source_stage``, ``country_name``, ``country_iso3``,
        ``quantity``, ``unit``, ``is_withheld``, ``is_estimated``, ``source`` such as
        ``"USGS MCS 2024"``, ``vintage`` such as ``"MCS2024"``) plus ``source_row``
        (1-based line in the file) and ``source_file`` (file name). One row per file
        line and production year; regional aggregates are dropped (logged).

    Raises
    ------
    resilience.errors.DataError
        Unrecognised file layout, missing columns, unparseable or negative numbers,
        unknown country names, duplicate (release, year, commodity, stage, country)
        rows -- each naming the file, row, column and value.
    FileNotFoundError
        When ``path`` (or a listed file) does not exist.
    """
    frame = pl.concat([_read_file(p) for p in _files(path)], how="vertical")
    _check_duplicates(frame)
    return frame.drop("_country_column")


def _files(path: Path | str | Sequence[Path | str]) -> list[Path]:
    if not isinstance(path, (str, Path)):
        files = [Path(p) for p in path]
        missing = [p for p in files if not p.is_file()]
        if missing:
            raise FileNotFoundError(missing[0])
        if not files:
            raise ValueError("no USGS file given")
        return files
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise DataError.single(path, None, "(files)", None, "no CSV file in the directory")
    return files


# -- reading -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Table:
    """A CSV as strings: header cells and (line number, cells) per non-blank row."""

    name: str
    header: list[str]
    rows: list[tuple[int, list[str]]]

    def column(self, wanted: str) -> int | None:
        """Index of the header cell equal to ``wanted`` (case-insensitive, stripped)."""
        for i, h in enumerate(self.header):
            if h.strip().casefold() == wanted.casefold():
                return i
        return None

    def require(self, *wanted: str) -> list[int]:
        """Indexes of ``wanted`` columns; one error naming every missing one."""
        found = [self.column(c) for c in wanted]
        absent = [c for c, i in zip(wanted, found, strict=True) if i is None]
        if absent:
            raise DataError(
                [
                    DataProblem(self.name, None, c, None, "required column is missing")
                    for c in absent
                ]
            )
        return [i for i in found if i is not None]


def _read_table(path: Path) -> _Table:
    raw = path.read_bytes()
    check_csv_complete(path, raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8; decoding it as cp1252", path.name)
        text = raw.decode("cp1252")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise DataError.single(path.name, None, "(header)", None, "file is empty")
    rows: list[tuple[int, list[str]]] = []
    start = reader.line_num + 1
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append((start, cells))
        start = reader.line_num + 1
    return _Table(path.name, header, rows)


def _layout(table: _Table) -> str | None:
    """Which layout the header shows (required columns are checked afterwards).

    Long: the 2025 upper-case ``COMMODITY`` or ``UNIT_MEAS``; per-commodity: ``Prod_``,
    ``Cap_`` or ``Reserves_`` columns; otherwise ``None``.
    """
    names = {h.strip() for h in table.header}
    if names & {"COMMODITY", "UNIT_MEAS"}:
        return _LONG
    if any(_DATA_COLUMN.match(n) for n in names):
        return _WIDE
    return None


def _read_file(path: Path) -> pl.DataFrame:
    table = _read_table(path)
    layout = _layout(table)
    if layout is None:
        raise DataError.single(
            table.name,
            None,
            "(header)",
            ",".join(table.header[:6]),
            "not a USGS MCS world production table (neither the 2025 long layout nor the "
            "2023/2024 per-commodity layout)",
        )
    raw = _long_rows(table) if layout == _LONG else _wide_rows(table)
    if raw.height == 0:
        log.info("%s: no production values (capacity or reserves only)", table.name)
        return _empty()
    out = _finish(raw, table.name)
    check_name_years(out, path, column="year (in the header)")
    return out


def _cell(cells: list[str], index: int | None) -> str | None:
    if index is None or index >= len(cells):
        return None
    value = cells[index]
    return value if value.strip() else None


_RAW_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "year": pl.Int32(),
    "source_commodity": pl.String(),
    "type": pl.String(),
    "country_raw": pl.String(),
    "unit": pl.String(),
    "value_raw": pl.String(),
    "value_column": pl.String(),
    "notes": pl.String(),
    "est_column": pl.Boolean(),
    "vintage": pl.String(),
    "_country_column": pl.String(),
}


def _long_rows(table: _Table) -> pl.DataFrame:
    """2025 layout: one line per (commodity, country, type); PROD_<Y-1> and PROD_EST_ <Y>."""
    i_com, i_cty, i_typ, i_unit = table.require("COMMODITY", "COUNTRY", "TYPE", "UNIT_MEAS")
    i_notes = table.column("PROD_NOTES")
    prod = [
        (i, h.strip(), int(m["year"]), m["est"] is not None)
        for i, h in enumerate(table.header)
        if (m := _LONG_PROD.match(h.strip().casefold()))
    ]
    if not prod:
        raise DataError.single(table.name, None, "PROD_<year>", None, "required column is missing")
    vintage = f"MCS{max(y for _, _, y, _ in prod) + 1}"
    country_column = table.header[i_cty].strip()
    recs = []
    typos = 0
    for line, cells in table.rows:
        commodity = _cell(cells, i_com)
        if commodity is None:
            raise DataError.single(table.name, line, "COMMODITY", None, "commodity is empty")
        commodity = commodity.strip()
        if commodity in COMMODITY_TYPOS:
            typos += 1
            commodity = COMMODITY_TYPOS[commodity]
        for i, _name, year, est in prod:
            recs.append(
                (
                    line,
                    year,
                    commodity,
                    _cell(cells, i_typ),
                    _cell(cells, i_cty),
                    _cell(cells, i_unit),
                    _cell(cells, i),
                    table.header[i].strip(),
                    _cell(cells, i_notes),
                    est,
                    vintage,
                    country_column,
                )
            )
    if typos:
        log.info(
            "%s: %d rows with a misspelt COMMODITY corrected %s", table.name, typos, COMMODITY_TYPOS
        )
    frame = pl.DataFrame(recs, schema=_RAW_SCHEMA, orient="row")
    return _fill_units(frame, table.name)


def _fill_units(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """A blank UNIT_MEAS takes the one unit the rest of its (commodity, type) states."""
    if frame["unit"].null_count() == 0:
        return frame
    units = (
        frame.filter(pl.col("unit").is_not_null())
        .group_by("source_commodity", "type")
        .agg(pl.col("unit").unique().alias("_units"))
    )
    frame = frame.join(units, on=["source_commodity", "type"], how="left", nulls_equal=True)
    problems = []
    blank = frame.filter(pl.col("unit").is_null()).unique("source_row", keep="first")
    for rec in blank.sort("source_row").iter_rows(named=True):
        choices = rec["_units"] or []
        if len(choices) != 1:
            problems.append(
                DataProblem(file, rec["source_row"], "UNIT_MEAS", None, "unit is empty")
            )
            continue
        log.info(
            "%s, row %d: blank UNIT_MEAS read as %r, the unit of the other %s / %s rows",
            file,
            rec["source_row"],
            choices[0],
            rec["source_commodity"],
            rec["type"],
        )
    if problems:
        raise DataError(problems)
    return frame.with_columns(pl.col("unit").fill_null(pl.col("_units").list.first())).drop(
        "_units"
    )


def _wide_rows(table: _Table) -> pl.DataFrame:
    """2023/2024 layout: one file per commodity, unit and estimate mark in column names."""
    m = _FILE_NAME.match(table.name)
    if m is None:
        raise DataError.single(
            table.name,
            None,
            "(file name)",
            table.name,
            "a per-commodity USGS file must be named mcsYYYY-<code>_world.csv (the code "
            "says the commodity)",
        )
    release = int(m["year"])
    code = m["code"].lower()
    commodity = CODE_NAMES.get(code)
    if commodity is None:
        log.warning("%s: unknown USGS commodity code %r kept as the commodity", table.name, code)
        commodity = code
    (i_cty,) = table.require("Country")
    i_typ = table.column("Type")
    third = table.header[2].strip() if len(table.header) > 2 else ""
    if i_typ is None and third and not _DATA_COLUMN.match(third) and third.casefold() != "source":
        log.info("%s: no 'Type' column; the third column (%r) holds the type", table.name, third)
        i_typ = 2
    i_notes = next(
        (i for i, h in enumerate(table.header) if _NOTES.match(h.strip().casefold())), None
    )
    prod = []
    for i, h in enumerate(table.header):
        name = h.strip()
        if not name.casefold().startswith("prod_") or _NOTES.match(name.casefold()):
            continue
        p = _WIDE_PROD.match(name.casefold())
        if p is None:
            raise DataError.single(table.name, None, name, None, "production column not understood")
        unit = name[p.start("unit") : p.end("unit")]
        prod.append((i, name, int(p["year"]), p["est"] is not None, unit))
    if not prod:
        return pl.DataFrame(schema=_RAW_SCHEMA)
    last = max(y for _, _, y, _, _ in prod)
    if last != release - 1:
        raise DataError.single(
            table.name,
            None,
            next(n for _, n, y, _, _ in prod if y == last),
            last,
            f"production year does not fit the release MCS{release} (expected {release - 1})",
        )
    ignored = sum(
        1
        for _, cells in table.rows
        for j, v in enumerate(cells)
        if v.strip() and (j >= len(table.header) or not table.header[j].strip())
    )
    if ignored:
        log.info("%s: %d non-empty cells in unnamed columns ignored", table.name, ignored)
    country_column = table.header[i_cty].strip()
    recs = [
        (
            line,
            year,
            commodity,
            _cell(cells, i_typ),
            _cell(cells, i_cty),
            unit,
            _cell(cells, i),
            name,
            _cell(cells, i_notes),
            est,
            f"MCS{release}",
            country_column,
        )
        for line, cells in table.rows
        for i, name, year, est, unit in prod
    ]
    return pl.DataFrame(recs, schema=_RAW_SCHEMA, orient="row")


# -- cleaning ------------------------------------------------------------------------------
def _finish(raw: pl.DataFrame, file: str) -> pl.DataFrame:
    """Raw strings -> validated SourceProduction rows (+ source_row, source_file)."""
    frame = _apply_errata(raw, file)
    frame = _parse_values(frame, file)
    frame = _resolve_countries(frame, file)
    regions = frame.filter(~pl.col("country_kind").is_in(_COUNTRY_KINDS_KEPT))
    if regions.height:
        log.info(
            "%s: %d rows of regional aggregates dropped (%s)",
            file,
            regions.height,
            ", ".join(sorted(set(regions["country_name"].to_list()))),
        )
        frame = frame.filter(pl.col("country_kind").is_in(_COUNTRY_KINDS_KEPT))
    frame = frame.with_columns(
        pl.concat_str(pl.lit("USGS MCS "), pl.col("vintage").str.slice(3)).alias("source")
    )
    country_column = raw["_country_column"][0]
    validated = validate_frame(
        SourceProduction, frame, file=file, column_names={"country_name": country_column}
    )
    return validated.with_columns(
        pl.lit(file).alias("source_file"), pl.lit(country_column).alias("_country_column")
    )


def _apply_errata(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    for (vintage, commodity), (stated, true, why) in UNIT_ERRATA.items():
        hit = (
            (pl.col("vintage") == vintage)
            & (pl.col("source_commodity") == commodity)
            & (pl.col("unit") == stated)
        )
        n = frame.filter(hit).height
        if n:
            log.warning(
                "%s: %s %s unit %r corrected to %r for %d values: %s",
                file,
                vintage,
                commodity,
                stated,
                true,
                n,
                why,
            )
            frame = frame.with_columns(
                pl.when(hit).then(pl.lit(true)).otherwise(pl.col("unit")).alias("unit")
            )
    return frame


def _parse_values(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """Numbers, withheld and estimate flags; one error listing every bad cell."""
    raw = pl.col("value_raw").str.replace_all("\xa0", " ", literal=True).str.strip_chars()
    low = raw.str.to_lowercase()
    e_mark = raw.str.contains(r"^e\s*[\d.,]+$").fill_null(False)
    bound = raw.str.contains(r"^<\s*[\d.,]+$").fill_null(False)
    no_figure = (low.str.starts_with("less than") | low.str.starts_with("included with")).fill_null(
        False
    )
    blank_withheld = raw.is_null() & pl.col("notes").fill_null("").str.contains(_WITHHELD_NOTE)
    frame = frame.with_columns(
        pl.when(e_mark)
        .then(raw.str.replace(r"^e\s*", ""))
        .when(bound | blank_withheld)
        .then(pl.lit("W"))
        .when(no_figure)
        .then(pl.lit("NA"))
        .otherwise(raw)
        .alias("_value"),
        e_mark.alias("_e_mark"),
    )
    parts: list[pl.DataFrame] = []
    problems: list[DataProblem] = []
    for part in frame.partition_by("value_column", maintain_order=True):
        column = part["value_column"][0]
        try:
            parsed = parse_numbers(
                part.rename({"_value": column}), column, file=file, out="quantity"
            ).drop(column)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(
            DataProblem(file, row, column, value, "negative quantity")
            for row, value in parsed.filter(pl.col("quantity") < 0)
            .select("source_row", "value_raw")
            .iter_rows()
        )
        parts.append(parsed)
    if problems:
        raise DataError(sorted(problems, key=lambda p: (p.row or 0, p.column)))

    def says(column: str, pattern: str) -> pl.Expr:
        text = pl.col(column).fill_null("").str.replace_all(_NOT_ESTIMATED, "")
        return text.str.contains(pattern)

    said_estimated = says("notes", _ESTIMATED) | (
        says("type", _ESTIMATED) & ~says("notes", _REPORTED)
    )
    return (
        pl.concat(parts, how="vertical")
        .rename({"quantity_withheld": "is_withheld"})
        .with_columns(
            (pl.col("est_column") | pl.col("_e_mark") | said_estimated).alias("is_estimated")
        )
        .sort("source_row", "year")
    )


@dataclass(frozen=True)
class _Name:
    """What one country cell stands for."""

    iso3: str | None
    kind: str
    qualifier: str
    marked_estimate: bool


def _lookup_marked(name: str, resolver: CountryResolver) -> tuple[Resolution | None, bool]:
    """Look ``name`` up; a trailing 'e' estimate mark is removed only when that is the fit."""
    hit = resolver.lookup(name)
    if len(name) > 2 and name.endswith("e"):
        bare = resolver.lookup(name[:-1])
        if bare is not None and (hit is None or (hit.kind != "country" and hit == bare)):
            return bare, True
    return hit, False


def _splits(name: str) -> Iterator[tuple[str, str]]:
    """(base, qualifier) candidates: '(...)' suffix first, then comma tails (longest base)."""
    m = _PAREN.match(name)
    if m:
        yield m["base"].strip(), m["qual"].strip()
    for i in reversed([i for i, c in enumerate(name) if c == ","]):
        yield name[:i].strip(), name[i + 1 :].strip()


def _aggregate_qualifier(name: str) -> str:
    """'World total (ilmenite, rounded)' -> 'ilmenite'; '(rounded), excluding ...' -> ''."""
    parts: list[str] = []
    for m in re.finditer(r"\(([^()]*)\)", name):
        parts.extend(m[1].split(","))
    parts.extend(re.sub(r"\([^()]*\)", "", name).split(",")[1:])
    return ", ".join(p.strip() for p in parts if p.strip() and not _NOISE.match(p.strip()))


def _resolve_name(name: str, resolver: CountryResolver) -> _Name | None:
    s = _FOOTNOTE.sub("", clean_name(name))
    hit, marked = _lookup_marked(s, resolver)
    if hit is not None:
        qualifier = _aggregate_qualifier(s) if hit.kind in ("world", "rest_of_world") else ""
        return _Name(hit.iso3, hit.kind, qualifier, marked)
    for base, qualifier in _splits(s):
        hit, marked = _lookup_marked(base, resolver)
        if hit is not None:
            return _Name(hit.iso3, hit.kind, qualifier, marked)
    return None


def _resolve_countries(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """Add country_name/iso3/kind; move qualifiers into source_stage; one error for unknowns."""
    resolver = CountryResolver.default()
    firsts = frame.group_by("country_raw", maintain_order=True).agg(
        pl.col("source_row").min(), pl.col("_country_column").first()
    )
    resolved: dict[str, _Name] = {}
    problems: list[DataProblem] = []
    for name, row, column in firsts.sort("source_row").iter_rows():
        if name is None:
            problems.append(DataProblem(file, row, column, None, "country name is empty"))
            continue
        hit = _resolve_name(name, resolver)
        if hit is None:
            hint = resolver.suggest(_FOOTNOTE.sub("", clean_name(name)))
            close = f" (close matches: {', '.join(hint)})" if hint else ""
            problems.append(DataProblem(file, row, column, name, "unknown country name" + close))
            continue
        resolved[name] = hit
    if problems:
        raise DataError(problems)
    names = list(resolved)
    lookup = pl.DataFrame(
        {
            "country_raw": names,
            "country_name": [clean_name(n) for n in names],
            "country_iso3": [resolved[n].iso3 for n in names],
            "country_kind": [resolved[n].kind for n in names],
            "_qualifier": [resolved[n].qualifier for n in names],
            "_marked": [resolved[n].marked_estimate for n in names],
        },
        schema={
            "country_raw": pl.String,
            "country_name": pl.String,
            "country_iso3": pl.String,
            "country_kind": pl.String,
            "_qualifier": pl.String,
            "_marked": pl.Boolean,
        },
    )
    frame = frame.join(lookup, on="country_raw", how="left")
    stage = pl.col("type").str.replace_all(r"\s+", " ").str.strip_chars()
    stage = pl.when(stage.is_null() | (stage == "")).then(pl.lit(DEFAULT_STAGE)).otherwise(stage)
    # a country's qualifier the type already states adds nothing; an aggregate's always
    # says which total it is (2025 files the rutile world total under the rutile type)
    already = (pl.col("country_kind") == "country") & stage.str.to_lowercase().str.contains(
        pl.col("_qualifier").str.to_lowercase(), literal=True
    )
    return frame.with_columns(
        pl.when((pl.col("_qualifier") == "") | already)
        .then(stage)
        .otherwise(pl.concat_str(stage, pl.lit(STAGE_SEPARATOR), pl.col("_qualifier")))
        .alias("source_stage"),
        (pl.col("is_estimated") | pl.col("_marked")).alias("is_estimated"),
    )


def _check_duplicates(frame: pl.DataFrame) -> None:
    """Two lines for one (release, year, commodity, stage, country) are an error (ROW aside).

    One problem per offending line (not per year), naming the line it repeats.
    """
    key = ["source", "year", "source_commodity", "source_stage", "country_iso3"]
    rows = frame.filter(pl.col("country_iso3") != REST_OF_WORLD).with_row_index("_i")
    dup = rows.filter(pl.len().over(key) > 1)
    if not dup.height:
        return
    first = (
        dup.sort("_i")
        .group_by(key)
        .agg(
            pl.col("source_file").first().alias("_first_file"),
            pl.col("source_row").first().alias("_first_row"),
            pl.col("_i").first().alias("_first_i"),
        )
    )
    dup = (
        dup.join(first, on=key)
        .filter(pl.col("_i") != pl.col("_first_i"))
        .sort("_i")
        .unique(["source_file", "source_row"], keep="first", maintain_order=True)
    )
    raise DataError(
        [
            DataProblem(
                rec["source_file"],
                rec["source_row"],
                rec["_country_column"],
                rec["country_name"],
                f"duplicate key ({rec['source_commodity']} / {rec['source_stage']}, "
                f"{rec['country_iso3']}): same as {rec['_first_file']} row {rec['_first_row']}",
            )
            for rec in dup.iter_rows(named=True)
        ]
    )


def _empty() -> pl.DataFrame:
    return SourceProduction.create_empty().with_columns(
        pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit(None, pl.String).alias("source_file"),
        pl.lit(None, pl.String).alias("_country_column"),
    )
