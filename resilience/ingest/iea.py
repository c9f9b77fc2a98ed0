"""IEA Critical Minerals Data Explorer (May 2024): mining and refining supply by country.

Upstream: the workbook ``CM_Data_Explorer_May2024.xlsx`` (CC BY 4.0, "IEA (2024),
Critical Minerals Data Explorer"), sheet ``2 Total supply for key minerals`` titled
"Total supply for key energy transition minerals, base case (kt)". Layout:

- one header row of years (2023, 2030, 2035, 2040) over two side-by-side blocks: left
  block = label column A + year columns B-E (mining), right block = label column G +
  year columns H-K (refining; ``Chemicals`` for lithium, ``Battery grade`` for graphite);
- each block starts with a title cell ``"<Mineral> - <Stage>"`` (e.g. ``Graphite - Mining
  (natural)``), then the top 4-6 countries, ``Rest of world``, ``Total`` and
  ``Top 3 share`` (a fraction). The two blocks of a mineral have different numbers of
  country rows, so a block may have empty rows in the middle (cobalt mining);
- quirk: the cobalt refining total is labelled ``Total clean technologies``; it is the
  block total (the listed countries plus rest of world add up to it: 223.8 kt) and is
  read as the world total (``WLD``), logged;
- quirk: in three blocks the ``Rest of world`` row counts the last-named country a
  second time (it is the total minus the other named countries): nickel mining
  (Australia, 111.4 kt in 2023), nickel refining (Canada, 135.9 kt) and battery-grade
  graphite (Germany, 28.2 kt; the same in the projections, and Tanzania in natural
  graphite mining after 2023). Where the named countries plus rest of world exceed the
  block total by one named country's figure (within :data:`ROW_TOLERANCE_KT`), rest of
  world is set to total minus the named countries, with a warning naming the block, the
  country and both numbers (:func:`fix_rest_of_world_double_count`); any other gap
  larger than the tolerance is an error;
- notes follow the last block (``Notes: ...``) and are not data;
- 2023 is observed; 2030-2040 are IEA base-case projections. The first (earliest) year
  column is taken as the observed year.

The derived long CSV ``iea_cm_supply_by_country_base_case_long.csv`` (``mineral, stage,
country, row_type, year, scenario, value, unit``) is the same sheet unpivoted; it is read
to the identical frame (apart from ``source_row``). There ``row_type`` must agree with
what the country name resolves to (``country`` / ``rest_of_world`` / ``total`` /
``top3_share``), ``scenario`` must be ``base case`` and ``unit`` ``kt`` (``fraction`` on
top-3 rows).

What the adapter returns: :class:`~resilience.schemas.tables.SourceProduction` rows with
``source_commodity`` = mineral, ``source_stage`` = the IEA stage name, ``unit`` = ``kt``;
``Rest of world`` -> ``ROW``, ``Total`` -> ``WLD``; ``Top 3 share`` rows are dropped
explicitly (a statistic; logged). Projections are returned only when asked
(``include_projections=True``) and then carry their own ``source``
(:data:`PROJECTION_SOURCE`), so they never mix with observed rows downstream.
Row numbers in errors are sheet rows (xlsx) or CSV lines; columns are sheet column
letters (xlsx) or CSV header names.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import fastexcel
import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest._production_csv import (
    drop_aggregates,
    finish,
    parse_years,
    read_text_csv,
    reject_negative,
)
from resilience.ingest.numbers import parse_numbers
from resilience.reference.countries import REST_OF_WORLD, WORLD, CountryResolver

__all__ = [
    "OBSERVED_SOURCE",
    "PROJECTION_SOURCE",
    "SHEET",
    "VINTAGE",
    "ROW_TOLERANCE_KT",
    "fix_rest_of_world_double_count",
    "read_iea_critical_minerals",
]

log = logging.getLogger(__name__)

SHEET = "2 Total supply for key minerals"
OBSERVED_SOURCE = "IEA Critical Minerals Data Explorer 2024"
PROJECTION_SOURCE = "IEA Critical Minerals Data Explorer 2024 (base case projection)"
VINTAGE = "2024-05"
UNIT = "kt"
SCENARIO = "base case"
#: Largest gap (kt) between named countries + rest of world and the block total read as
#: rounding (the sheet's figures have one decimal).
ROW_TOLERANCE_KT = 0.05

#: Block-total labels: ``Total`` everywhere, ``Total clean technologies`` on cobalt refining.
_TOTAL_LABELS = ("Total", "Total clean technologies")
_TITLE = re.compile(r"^(?P<mineral>[^-]+?)\s+-\s+(?P<stage>.+)$")
_ROW_TYPES = {
    "country": "country",
    "world": "total",
    "rest_of_world": "rest_of_world",
    "statistic": "top3_share",
}
#: One cell: mineral, stage, label column, country label, sheet row, year, cell column, text.
Record = tuple[str, str, str, str, int, int, str, str | None]
_CSV_COLUMNS = ("mineral", "stage", "country", "row_type", "year", "scenario", "value", "unit")


def read_iea_critical_minerals(
    path: Path | str,
    *,
    include_projections: bool = False,
    resolver: CountryResolver | None = None,
) -> pl.DataFrame:
    """Read IEA supply by country from the workbook or from the derived long CSV.

    Parameters
    ----------
    path
        ``CM_Data_Explorer_May2024.xlsx`` (``.xlsx``) or
        ``iea_cm_supply_by_country_base_case_long.csv`` (``.csv``).
    include_projections
        Also return the 2030/2035/2040 base-case projections, with ``source`` =
        :data:`PROJECTION_SOURCE` (observed 2023 rows keep :data:`OBSERVED_SOURCE`).
    resolver
        Country resolver (defaults to the shipped tables).

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.tables.SourceProduction` rows plus ``source_row``,
        in kt, sorted by year, mineral, stage and source row.

    Raises
    ------
    resilience.errors.DataError
        Unknown file type or layout, missing sheet or column, unknown country, a cell
        that is not a number, a negative quantity, a country listed twice in a block,
        a ``row_type`` that contradicts the name, an unknown scenario or unit.
    """
    path = Path(path)
    resolver = resolver or CountryResolver.default()
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        long, column_names = _read_workbook(path, resolver)
    elif suffix == ".csv":
        long, column_names = _read_long_csv(path, resolver)
    else:
        raise DataError.single(
            path.name, None, "", None, "unrecognised file format (expected .xlsx or .csv)"
        )
    file = path.name
    total = pl.col("country_name").is_in(_TOTAL_LABELS)
    relabelled = long.filter(total & (pl.col("country_name") != "Total"))
    if relabelled.height:
        log.info(
            "%s: %d rows labelled %s read as block totals (WLD)",
            file,
            relabelled.height,
            sorted(relabelled["country_name"].unique().to_list()),
        )
    long = long.with_columns(
        pl.when(total).then(pl.lit(WORLD)).otherwise("country_iso3").alias("country_iso3"),
        pl.when(total).then(pl.lit("world")).otherwise("country_kind").alias("country_kind"),
    )
    if "row_type" in long.columns:
        _check_row_types(long, file=file)
    long = drop_aggregates(long, file=file, log=log)
    base_year = long["year"].min()
    projected = pl.col("year") > pl.lit(base_year)
    if not include_projections:
        n = long.filter(projected).height
        if n:
            log.info("%s: %d projection rows (after %s) not requested; skipped", file, n, base_year)
        long = long.filter(~projected)
    long = fix_rest_of_world_double_count(long, file=file)
    out = long.select(
        pl.col("year").cast(pl.Int32),
        pl.col("mineral").alias("source_commodity"),
        pl.col("stage").alias("source_stage"),
        "country_name",
        "country_iso3",
        "quantity",
        pl.lit(UNIT).alias("unit"),
        pl.lit(False).alias("is_withheld"),
        pl.lit(False).alias("is_estimated"),
        pl.when(projected)
        .then(pl.lit(PROJECTION_SOURCE))
        .otherwise(pl.lit(OBSERVED_SOURCE))
        .alias("source"),
        pl.lit(VINTAGE).alias("vintage"),
        "source_row",
    )
    label = column_names["country_name"]
    return finish(
        out,
        file=file,
        column_names=column_names,
        key_column=f"{label} (country within a mineral-stage block and year)",
        describe={
            "mineral": "source_commodity",
            "stage": "source_stage",
            "year": "year",
            label: "country_name",
        },
    ).sort("year", "source_commodity", "source_stage", "source_row")


def fix_rest_of_world_double_count(frame: pl.DataFrame, *, file: str) -> pl.DataFrame:
    """Take out of ``Rest of world`` a named country it counts a second time.

    Per (mineral, stage, year) block with a total (``WLD``) and a rest of world (``ROW``):
    the gap ``sum(named) + ROW - total`` is compared with each named country's figure.
    A gap equal to one country's figure (within :data:`ROW_TOLERANCE_KT`) means that
    country is inside ``ROW`` too; ``ROW`` becomes ``total - sum(named)`` and a warning
    names the block, the country and the old and new figures. The new figure is rounded
    to 1e-6 kt (the sheet's figures have one decimal; the rounding drops float noise).

    Parameters
    ----------
    frame
        Long rows with ``mineral, stage, year, country_name, country_iso3, quantity,
        source_row`` (and ``cell_column`` when read from the workbook).
    file
        File name for messages.

    Raises
    ------
    resilience.errors.DataError
        A gap larger than the tolerance that no named country explains (the ``Rest of
        world`` row, its column and value).
    """
    keys = ["mineral", "stage", "year"]
    named = pl.col("country_kind") == "country"
    rest = pl.col("country_iso3") == REST_OF_WORLD
    world = pl.col("country_iso3") == WORLD
    sums = frame.group_by(keys).agg(
        pl.col("quantity").filter(named).sum().alias("_named"),
        pl.col("quantity").filter(rest).first().alias("_rest"),
        pl.col("quantity").filter(world).first().alias("_total"),
        pl.col("country_name").filter(named).alias("_names"),
        pl.col("quantity").filter(named).alias("_values"),
    )
    gaps = sums.filter(
        pl.col("_rest").is_not_null()
        & pl.col("_total").is_not_null()
        & ((pl.col("_named") + pl.col("_rest") - pl.col("_total")).abs() > ROW_TOLERANCE_KT)
    )
    if not gaps.height:
        return frame
    cell = "cell_column" if "cell_column" in frame.columns else None
    fixes: list[tuple[str, str, int, float]] = []
    problems: list[DataProblem] = []
    for rec in gaps.iter_rows(named=True):
        gap = rec["_named"] + rec["_rest"] - rec["_total"]
        twice = [
            name
            for name, value in zip(rec["_names"], rec["_values"], strict=True)
            if value is not None and value > 0 and abs(value - gap) <= ROW_TOLERANCE_KT
        ]
        row = frame.filter(
            (pl.col("mineral") == rec["mineral"])
            & (pl.col("stage") == rec["stage"])
            & (pl.col("year") == rec["year"])
            & rest
        ).row(0, named=True)
        block = f"{rec['mineral']} - {rec['stage']} {rec['year']}"
        if len(twice) != 1:
            problems.append(
                DataProblem(
                    file,
                    row["source_row"],
                    row[cell] if cell else "value",
                    f"{rec['_rest']:g}",
                    f"block '{block}': named countries ({rec['_named']:g} kt) plus rest of "
                    f"world exceed or fall short of the total ({rec['_total']:g} kt) by "
                    f"{gap:g} kt, which no named country explains",
                ),
            )
            continue
        new = round(rec["_total"] - rec["_named"], 6)  # kt; the sheet has one decimal
        log.warning(
            "%s: block '%s': 'Rest of world' (%g kt) also counts %s (%g kt); "
            "rest of world set to total - named countries = %g kt",
            file,
            block,
            rec["_rest"],
            twice[0],
            gap,
            new,
        )
        fixes.append((rec["mineral"], rec["stage"], rec["year"], new))
    if problems:
        raise DataError(problems)
    fixed = pl.DataFrame(
        fixes,
        schema={
            "mineral": pl.String,
            "stage": pl.String,
            "year": frame.schema["year"],
            "_fixed": pl.Float64,
        },
        orient="row",
    )
    return (
        frame.join(fixed, on=keys, how="left")
        .with_columns(
            pl.when(rest & pl.col("_fixed").is_not_null())
            .then(pl.col("_fixed"))
            .otherwise(pl.col("quantity"))
            .alias("quantity")
        )
        .drop("_fixed")
    )


def _check_row_types(frame: pl.DataFrame, *, file: str) -> None:
    expected = pl.col("country_kind").replace_strict(_ROW_TYPES, default=None)
    bad = frame.filter(expected.is_null() | (pl.col("row_type") != expected))
    if bad.height:
        raise DataError(
            [
                DataProblem(
                    file,
                    row,
                    "row_type",
                    value,
                    f"row type contradicts the name {name!r} (a {kind} row)",
                )
                for value, name, kind, row in bad.select(
                    "row_type", "country_name", "country_kind", "source_row"
                )
                .head(50)
                .iter_rows()
            ]
        )


# -- the long CSV ---------------------------------------------------------------------
def _read_long_csv(path: Path, resolver: CountryResolver) -> tuple[pl.DataFrame, dict[str, str]]:
    file = path.name
    frame = read_text_csv(path, required=_CSV_COLUMNS)
    problems = [
        DataProblem(file, row, column, None, "value is missing")
        for column in ("mineral", "stage", "row_type", "scenario", "unit")
        for row in frame.filter(pl.col(column).is_null())["source_row"].head(20)
    ]
    bad_scenario = frame.filter(pl.col("scenario").is_not_null() & (pl.col("scenario") != SCENARIO))
    problems += [
        DataProblem(file, row, "scenario", value, f"only the {SCENARIO!r} is supported")
        for value, row in bad_scenario.select("scenario", "source_row").head(20).iter_rows()
    ]
    expected_unit = pl.when(pl.col("row_type") == "top3_share").then(pl.lit("fraction"))
    bad_unit = frame.filter(
        pl.col("unit").is_not_null() & (pl.col("unit") != expected_unit.otherwise(pl.lit(UNIT)))
    )
    problems += [
        DataProblem(file, row, "unit", value, "unexpected unit (kt, or fraction for top-3 rows)")
        for value, row in bad_unit.select("unit", "source_row").head(20).iter_rows()
    ]
    if problems:
        raise DataError(problems)
    frame = parse_years(frame, "year", file=file)
    frame = parse_numbers(frame, "value", file=file, out="quantity", withheld=())
    reject_negative(frame, "quantity", file=file, column="value")
    frame = resolver.resolve_column(frame, "country", file=file)
    frame = frame.rename({"country": "country_name"})
    names = {
        "source_commodity": "mineral",
        "source_stage": "stage",
        "country_name": "country",
        "country_iso3": "country",
        "quantity": "value",
    }
    return frame, names


# -- the workbook ---------------------------------------------------------------------
def _letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _read_workbook(path: Path, resolver: CountryResolver) -> tuple[pl.DataFrame, dict[str, str]]:
    file = path.name
    try:
        reader = fastexcel.read_excel(path)
    except fastexcel.FastExcelError as exc:
        raise DataError.single(
            str(path),
            None,
            "(file)",
            None,
            f"not a readable workbook: empty, cut short (an interrupted download) or not "
            f".xlsx ({exc})",
        ) from exc
    if SHEET not in reader.sheet_names:
        raise DataError.single(file, None, "sheet", SHEET, "sheet not found in the workbook")
    # header_row=None with skip_rows=0 keeps leading empty rows: frame row i = sheet row i+1.
    sheet = reader.load_sheet_by_name(SHEET, header_row=None, skip_rows=0, dtypes="string")
    grid = sheet.to_polars()
    grid = grid.rename({c: _letter(i) for i, c in enumerate(grid.columns)})
    grid = grid.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in grid.columns)
    rows = grid.rows()
    letters = grid.columns

    header, blocks = _find_layout(rows, letters, file=file)
    title = next((c for r in rows[:header] for c in r if c), "")
    if f"({UNIT})" not in title:
        raise DataError.single(
            file, None, "A", title or None, f"sheet title does not state the unit ({UNIT})"
        )
    records: list[Record] = []
    for label_col, year_cols in blocks:
        records += _read_block(rows, header, label_col, year_cols, letters, file=file)
    long = pl.DataFrame(
        records,
        schema={
            "mineral": pl.String,
            "stage": pl.String,
            "label_column": pl.String,
            "country_name": pl.String,
            "source_row": pl.Int64,
            "year": pl.Int32,
            "cell_column": pl.String,
            "raw": pl.String,
        },
        orient="row",
    )
    # Parse and resolve per sheet column, so that messages name the column a user sees.
    parts = []
    for letter in long["cell_column"].unique(maintain_order=True):
        part = long.filter(pl.col("cell_column") == letter).rename({"raw": letter})
        part = parse_numbers(part, letter, file=file, out="quantity", withheld=())
        reject_negative(part, "quantity", file=file, column=letter)
        parts.append(part.drop(letter, "quantity_withheld"))
    long = pl.concat(parts)
    parts = []
    for letter in long["label_column"].unique(maintain_order=True):
        part = long.filter(pl.col("label_column") == letter).rename({"country_name": letter})
        part = resolver.resolve_column(part, letter, file=file)
        parts.append(part.rename({letter: "country_name"}))
    long = pl.concat(parts)
    label = "/".join(letters[col] for col, _ in blocks)
    return long, {"country_name": label, "country_iso3": label}


def _find_layout(
    rows: list[tuple[str | None, ...]], letters: list[str], *, file: str
) -> tuple[int, list[tuple[int, list[tuple[int, int]]]]]:
    """Locate the row of years and the blocks: (label column, [(year column, year)])."""
    for r, row in enumerate(rows):
        years = {i: _as_year(v) for i, v in enumerate(row)}
        cols = [i for i, y in years.items() if y is not None]
        if len(cols) < 2:
            continue
        blocks: list[tuple[int, list[tuple[int, int]]]] = []
        for i in cols:
            if blocks and blocks[-1][1][-1][0] == i - 1:
                blocks[-1][1].append((i, years[i] or 0))
            else:
                if i == 0:
                    break
                blocks.append((i - 1, [(i, years[i] or 0)]))
        else:
            return r, blocks
    raise DataError.single(file, None, SHEET, None, "unrecognised layout: no header row of years")


def _as_year(value: str | None) -> int | None:
    if value is None or not re.fullmatch(r"\d{4}(\.0+)?", value):
        return None
    year = int(float(value))
    return year if 1990 <= year <= 2100 else None


def _read_block(
    rows: list[tuple[str | None, ...]],
    header: int,
    label_col: int,
    year_cols: list[tuple[int, int]],
    letters: list[str],
    *,
    file: str,
) -> list[Record]:
    """Cells of one side-by-side block, one :data:`Record` per (country, year)."""
    out: list[Record] = []
    current: tuple[str, str] | None = None
    seen: dict[tuple[str, str, str], int] = {}
    for r in range(header + 1, len(rows)):
        sheet_row = r + 1
        first = rows[r][0]
        if first is not None and first.lower().startswith("note"):
            break  # notes below the last block
        label = rows[r][label_col]
        values = [(c, y, rows[r][c]) for c, y in year_cols]
        filled = [v for v in values if v[2] is not None]
        if label is None and not filled:
            continue
        if label is None:
            c, _, v = filled[0]
            raise DataError.single(file, sheet_row, letters[c], v, "value without a country name")
        if not filled:
            match = _TITLE.match(label)
            if match is None:
                raise DataError.single(
                    file,
                    sheet_row,
                    letters[label_col],
                    label,
                    "row has a label but no values and is not a '<mineral> - <stage>' title",
                )
            current = (match["mineral"].strip(), match["stage"].strip())
            continue
        if current is None:
            raise DataError.single(
                file, sheet_row, letters[label_col], label, "row before any block title"
            )
        first_row = seen.setdefault((*current, label), sheet_row)
        if first_row != sheet_row:
            raise DataError.single(
                file,
                sheet_row,
                letters[label_col],
                label,
                f"listed twice in block '{current[0]} - {current[1]}' (first on row {first_row})",
            )
        label_letter = letters[label_col]
        out += [(*current, label_letter, label, sheet_row, y, letters[c], v) for c, y, v in values]
    return out
