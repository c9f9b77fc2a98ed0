"""The ETO Advanced Semiconductor Supply Chain dataset (CSET "Chip Explorer"): an OPTIONAL input.

Licensed CC BY-NC 4.0 (non-commercial): never shipped. A user who has the files runs
``resilience data refresh --from DIR --eto ETO_DIR``; the refresh then writes the local
table ``datasets/eto_chip_supply_chain.parquet`` (gitignored, like China's monthly
exports) and :func:`resilience.data.load_eto_chip_supply_chain` reads it.

Upstream format
---------------
The five CSV files of georgetown-cset/eto-chip-explorer ``data/`` (UTF-8, quoted cells may
span lines):

* ``stages.csv``: ``stage_id`` (``S1``-``S3``), ``stage_name`` ...;
* ``inputs.csv``: ``input_id`` (``N0`` ...), ``input_name``, ``type`` (``process``,
  ``tool_resource``, ``material_resource``, ``design_resource``, ``ultimate_output``),
  ``stage_id`` (set for processes only) ...;
* ``providers.csv``: ``provider_name``, ``alias``, ``provider_id`` (``P1`` ...; one row
  per alias, so an id repeats), ``provider_type`` (``country`` or ``organization``),
  ``country`` (a firm's headquarters, ISO3). Country providers are named by ISO3 code;
  ``EUR`` (Europe) and ``Various countries`` are not countries and are kept with
  ``provider_kind`` ``region`` / ``unspecified`` and no ISO3 (:data:`NON_COUNTRIES`);
* ``provision.csv``: ``provider_name``, ``provider_id``, ``provided_name``,
  ``provided_id`` (an input or a stage), ``share_provided`` (percent of the global
  market; empty where only "provides" is known), ``year``, ``source``;
* ``sequence.csv``: ``input_id`` with ``goes_into_id`` and/or ``is_type_of_id``.

Errors name the file, row, column and value: a cut or header-only file, a missing column,
an unknown provider type, an unknown country code, a provider id with two names, types or
countries, a provision row naming an unknown provider or input, a share that is not a
number or outside 0-100, a year that is not a whole number, a duplicate (provider, input,
year), country shares of one input and year adding to more than 100 % beyond rounding
(0.5 point per share), a sequence edge to an unknown input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest.numbers import parse_numbers
from resilience.ingest.text import parse_whole_numbers, read_text_csv
from resilience.reference.countries import CountryResolver
from resilience.schemas.chip_trade import EtoChipSupplyChain
from resilience.schemas.validate import ROW_COLUMN, validate_frame

__all__ = [
    "ETO_CHIP_SUPPLY_CHAIN",
    "ETO_FILES",
    "LICENCE",
    "NON_COUNTRIES",
    "SOURCE",
    "VINTAGE",
    "EtoFiles",
    "eto_files",
    "read_eto",
]

log = logging.getLogger(__name__)

SOURCE = "CSET Emerging Technology Observatory, Advanced Semiconductor Supply Chain dataset"
LICENCE = "CC BY-NC 4.0"
#: Data last changed in georgetown-cset/eto-chip-explorer commit 9b72624 (August 2026).
VINTAGE = "2026-08"
#: File name of the local (never shipped) table in ``datasets/``.
ETO_CHIP_SUPPLY_CHAIN = "eto_chip_supply_chain.parquet"
ETO_FILES = ("stages.csv", "inputs.csv", "providers.csv", "provision.csv", "sequence.csv")
#: ETO provider or headquarters names that are not countries -> provider kind.
NON_COUNTRIES: dict[str, str] = {
    "EUR": "region",
    "Various countries": "unspecified",
}
_COUNTRY_BASIS = (
    "country as ETO states it (site location for fabrication and ATP capacity, "
    "firm nationality for design, tools and materials)"
)
_FIRM_BASIS = "firm headquarters"
#: Rounding allowance per country share when summing one input's shares.
_ROUNDING_PER_SHARE_PCT = 0.5
_MAX_LISTED = 50
_PROVISION_COLUMNS = (
    "provider_name",
    "provider_id",
    "provided_name",
    "provided_id",
    "share_provided",
    "year",
    "source",
)


@dataclass(frozen=True)
class EtoFiles:
    """The five ETO files of one folder."""

    stages: Path
    inputs: Path
    providers: Path
    provision: Path
    sequence: Path

    def all(self) -> list[Path]:
        """The files, in :data:`ETO_FILES` order."""
        return [self.stages, self.inputs, self.providers, self.provision, self.sequence]


def eto_files(folder: Path) -> EtoFiles:
    """The ETO files in ``folder`` (not searched recursively).

    Raises
    ------
    resilience.errors.DataError
        ``folder`` is not a folder, or one of :data:`ETO_FILES` is missing (each named).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError.single(str(folder), None, "--eto", str(folder), "not a folder")
    missing = [name for name in ETO_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(
            [
                DataProblem(str(folder / name), None, "(file)", name, "ETO file not found")
                for name in missing
            ]
        )
    return EtoFiles(*(folder / name for name in ETO_FILES))


def _problems(frame: pl.DataFrame, file: Path, column: str, reason: str) -> list[DataProblem]:
    return [
        DataProblem(str(file), row, column, value, reason)
        for value, row in frame.select(column, ROW_COLUMN).head(_MAX_LISTED).iter_rows()
    ]


def _country_kind(name: str, resolver: CountryResolver) -> tuple[str, str | None] | None:
    """(kind, ISO3) of an ETO country name or code; ``None`` when unknown."""
    if name in NON_COUNTRIES:
        return NON_COUNTRIES[name], None
    hit = resolver.lookup(name)
    if hit is None or hit.kind != "country" or hit.iso3 is None:
        return None
    return "country", hit.iso3


def _read_providers(path: Path, resolver: CountryResolver) -> pl.DataFrame:
    """One row per provider id: ``provider_kind``, ``country_iso3``, ``country_basis``."""
    raw = read_text_csv(path, required=("provider_name", "provider_id", "provider_type", "country"))
    problems = _problems(
        raw.filter(~pl.col("provider_type").is_in(["country", "organization"]).fill_null(False)),
        path,
        "provider_type",
        "not 'country' or 'organization'",
    )
    problems += _problems(
        raw.filter(~pl.col("provider_id").str.contains(r"^P\d+$").fill_null(False)),
        path,
        "provider_id",
        "not a provider id (P + digits)",
    )
    raw = raw.with_columns(
        pl.when(pl.col("provider_type") == "country")
        .then(pl.col("provider_name"))
        .otherwise(pl.col("country"))
        .alias("_place")
    )
    kinds: dict[str, tuple[str, str | None]] = {}
    for place, kind_of, row in raw.select("_place", "provider_type", ROW_COLUMN).iter_rows():
        if place is None:
            column = "provider_name" if kind_of == "country" else "country"
            problems.append(DataProblem(str(path), row, column, None, "country missing"))
            continue
        hit = _country_kind(place, resolver)
        if hit is None:
            column = "provider_name" if kind_of == "country" else "country"
            known = ", ".join(NON_COUNTRIES)
            problems.append(
                DataProblem(
                    str(path), row, column, place, f"not an ISO3 country code nor one of {known}"
                )
            )
            continue
        kinds[place] = hit
    if problems:
        raise DataError(problems)
    frame = raw.with_columns(
        pl.col("_place")
        .replace_strict({k: v[1] for k, v in kinds.items()}, return_dtype=pl.String)
        .alias("country_iso3"),
        pl.when(pl.col("provider_type") == "organization")
        .then(pl.lit("firm"))
        .otherwise(pl.col("_place").replace_strict({k: v[0] for k, v in kinds.items()}))
        .alias("provider_kind"),
        pl.when(pl.col("provider_type") == "organization")
        .then(pl.lit(_FIRM_BASIS))
        .otherwise(pl.lit(_COUNTRY_BASIS))
        .alias("country_basis"),
    )
    frame = frame.with_columns(
        pl.when(pl.col("country_iso3").is_null())
        .then(None)
        .otherwise(pl.col("country_basis"))
        .alias("country_basis")
    )
    per_id = ("provider_type", "_place")
    clash = frame.filter(
        pl.any_horizontal(pl.col(c).n_unique().over("provider_id") > 1 for c in per_id)
    )
    if clash.height:
        raise DataError(
            _problems(clash, path, "provider_id", "one provider id with two types or countries")
        )
    return frame.unique("provider_id", keep="first", maintain_order=True).select(
        "provider_id", "provider_kind", "country_iso3", "country_basis"
    )


def _read_items(files: EtoFiles) -> pl.DataFrame:
    """Inputs and stages: ``provided_id``, ``provided_type``, ``stage_id``, ``stage_name``."""
    stages = read_text_csv(files.stages, required=("stage_id", "stage_name"))
    inputs = read_text_csv(files.inputs, required=("input_id", "input_name", "type", "stage_id"))
    bad = inputs.filter(~pl.col("input_id").str.contains(r"^N\d+$").fill_null(False))
    problems = _problems(bad, files.inputs, "input_id", "not an input id (N + digits)")
    bad = stages.filter(~pl.col("stage_id").str.contains(r"^S\d+$").fill_null(False))
    problems += _problems(bad, files.stages, "stage_id", "not a stage id (S + digits)")
    known_stages = stages["stage_id"].to_list()
    bad = inputs.filter(pl.col("stage_id").is_not_null() & ~pl.col("stage_id").is_in(known_stages))
    problems += _problems(bad, files.inputs, "stage_id", "unknown stage (not in stages.csv)")
    problems += _problems(
        inputs.filter(pl.col("type").is_null()), files.inputs, "type", "input type missing"
    )
    for frame, file, column in (
        (inputs, files.inputs, "input_id"),
        (stages, files.stages, "stage_id"),
    ):
        problems += _problems(
            frame.filter(pl.col(column).is_duplicated()), file, column, "duplicate id"
        )
    if problems:
        raise DataError(problems)
    names = dict(stages.select("stage_id", "stage_name").iter_rows())
    return pl.concat(
        [
            inputs.select(
                pl.col("input_id").alias("provided_id"),
                pl.col("type").alias("provided_type"),
                "stage_id",
            ),
            stages.select(
                pl.col("stage_id").alias("provided_id"),
                pl.lit("stage").alias("provided_type"),
                "stage_id",
            ),
        ]
    ).with_columns(
        pl.col("stage_id")
        .replace_strict(names, default=None, return_dtype=pl.String)
        .alias("stage_name")
    )


def _read_edges(path: Path, known: list[str]) -> pl.DataFrame:
    """``sequence.csv`` -> per input: ``goes_into_ids``, ``is_type_of_ids`` (``;``-joined)."""
    raw = read_text_csv(path, required=("input_id", "goes_into_id", "is_type_of_id"))
    problems: list[DataProblem] = []
    for column in ("input_id", "goes_into_id", "is_type_of_id"):
        bad = raw.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(known))
        problems += _problems(bad, path, column, "unknown input (not in inputs.csv or stages.csv)")
    problems += _problems(
        raw.filter(pl.col("goes_into_id").is_null() & pl.col("is_type_of_id").is_null()),
        path,
        "goes_into_id",
        "an edge with neither goes_into_id nor is_type_of_id",
    )
    if problems:
        raise DataError(problems)
    return (
        raw.group_by("input_id", maintain_order=True)
        .agg(
            pl.col("goes_into_id").drop_nulls().unique(maintain_order=True).str.join(";"),
            pl.col("is_type_of_id").drop_nulls().unique(maintain_order=True).str.join(";"),
        )
        .select(
            pl.col("input_id").alias("provided_id"),
            pl.col("goes_into_id").replace("", None).alias("goes_into_ids"),
            pl.col("is_type_of_id").replace("", None).alias("is_type_of_ids"),
        )
    )


def _check_share_sums(frame: pl.DataFrame, path: Path) -> None:
    """Country shares of one input and year may exceed 100 % by rounding only."""
    sums = (
        frame.filter((pl.col("provider_kind") != "firm") & pl.col("share_pct").is_not_null())
        .group_by("provided_id", "year")
        .agg(
            pl.col("share_pct").sum().alias("total"),
            pl.len().alias("n"),
            pl.col(ROW_COLUMN).min().alias(ROW_COLUMN),
        )
        .filter(pl.col("total") > 100 + _ROUNDING_PER_SHARE_PCT * pl.col("n"))
        .sort(ROW_COLUMN)
    )
    if sums.height:
        raise DataError(
            [
                DataProblem(
                    str(path),
                    row,
                    "share_provided",
                    round(total, 3),
                    f"country shares of {item} in {year} add to more than 100 % "
                    f"(beyond {_ROUNDING_PER_SHARE_PCT} point of rounding per share)",
                )
                for item, year, total, _n, row in sums.head(_MAX_LISTED).iter_rows()
            ]
        )


def read_eto(folder: Path, *, resolver: CountryResolver | None = None) -> pl.DataFrame:
    """Read the ETO files of ``folder`` into the tidy provision table.

    Parameters
    ----------
    folder
        Folder holding :data:`ETO_FILES` (the dataset's ``data/`` folder).
    resolver
        Country resolver; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        :class:`~resilience.schemas.chip_trade.EtoChipSupplyChain`, one row per
        ``provision.csv`` row, plus ``source_row`` (its line in ``provision.csv``).

    Raises
    ------
    resilience.errors.DataError
        See the module docstring.
    """
    files = eto_files(folder)
    resolver = resolver or CountryResolver.default()
    providers = _read_providers(files.providers, resolver)
    items = _read_items(files)
    edges = _read_edges(files.sequence, items["provided_id"].to_list())
    path = files.provision
    raw = read_text_csv(path, required=_PROVISION_COLUMNS)
    raw = parse_whole_numbers(raw, "year", file=path)
    raw = parse_numbers(raw, "share_provided", file=path, out="share_pct", withheld=())
    problems = _problems(
        raw.filter(~pl.col("provider_id").is_in(providers["provider_id"].to_list())),
        path,
        "provider_id",
        "unknown provider (not in providers.csv)",
    )
    problems += _problems(
        raw.filter(~pl.col("provided_id").is_in(items["provided_id"].to_list())),
        path,
        "provided_id",
        "unknown input or stage (not in inputs.csv or stages.csv)",
    )
    problems += _problems(
        raw.filter(pl.col("share_pct") < 0), path, "share_provided", "negative share"
    )
    problems += _problems(
        raw.filter(pl.col("share_pct") > 100), path, "share_provided", "share above 100 %"
    )
    if problems:
        raise DataError(problems)
    frame = (
        raw.join(providers, on="provider_id", how="left")
        .join(items, on="provided_id", how="left")
        .join(edges, on="provided_id", how="left")
        .sort(ROW_COLUMN)
    )
    _check_share_sums(frame, path)
    out = frame.select(
        "year",
        "provided_id",
        "provider_id",
        "provided_name",
        "provided_type",
        "stage_id",
        "stage_name",
        "provider_name",
        "provider_kind",
        "country_iso3",
        "country_basis",
        "share_pct",
        "goes_into_ids",
        "is_type_of_ids",
        "source",
        pl.lit(LICENCE).alias("licence"),
        pl.lit(VINTAGE).alias("vintage"),
        pl.lit(path.name).alias("source_file"),
        ROW_COLUMN,
    )
    names = {"share_pct": "share_provided"}
    table = validate_frame(EtoChipSupplyChain, out, file=path, column_names=names)
    log.info(
        "%s: %d provision rows (%d with a share), %d providers, %d inputs and stages",
        path.name,
        table.height,
        table["share_pct"].is_not_null().sum(),
        providers.height,
        items.height,
    )
    return table
