"""Rebuild the shipped default tables in ``datasets/`` from a folder of downloads.

``resilience data refresh --from DIR`` finds each upstream file in ``DIR`` (searched
recursively, by the file names the publishers use), runs its adapter, maps it onto our
commodities and writes compact, cited tables, each row with ``source`` and ``vintage``:

=====================  ====================================================================
table                  built from
=====================  ====================================================================
production.csv         USGS MCS 2023-2025, World Mining Data 2018-2024, IEA Critical
                       Minerals (2023), bp Statistical Review 2021 (to 2020), WNA uranium,
                       ``sources/compiled_shares.csv`` (chips, PV, batteries),
                       ``sources/separated_rare_earths.csv`` (rare_earths/refining)
trade.parquet          CEPII BACI (HS92) aggregated to importer x commodity x supplier
                       (HS6 flows screened first: :mod:`resilience.build.screening`, then
                       the stage rule: :mod:`resilience.build.stage_rule`), gross
                       tonnes and content (``content_factors.csv``, per HS6)
trade_repairs.parquet  every flow the screening re-derived or quarantined, and every
                       flow the stage rule moved upstream (:mod:`resilience.build.stage_rule`)
governance.csv         World Bank WGI (six indicators)
alignment.csv          UNGA ideal points (Bailey, Strezhnev and Voeten)
recycling.csv          EoL recycling input rates (SCRREEN via the WMD commodity map)
published_hhi.csv      HHI printed by World Mining Data (validation target)
eu_gas_imports_by_     Eurostat nrg_ti_gas, imports from Russia and in total
origin.csv
china_exports_         China's monthly exports by partner, UN Comtrade (when present; a
monthly.parquet        local table: not redistributable, see datasets/README.md)
taiwan_chip_           Taiwan customs: exports of HS 8542 by destination and CCC code
exports.parquet        (``datasets/sources/taiwan_customs.md``)
eto_chip_supply_       CSET/ETO chip supply chain, only with ``--eto DIR`` (a local table:
chain.parquet          CC BY-NC 4.0, never shipped; ``datasets/sources/eto.md``)
manifest.json          input files (name, SHA-256, bytes), row counts per table and each
                       table's SHA-256 and size (checked by every table load)
=====================  ====================================================================

All or nothing
--------------
Every table is built and checked in memory first; then each is compared with the table
it replaces (:mod:`resilience.ingest.coverage`: more than 10 % fewer rows, a lost year or
commodity, or more than 10 % fewer countries is refused unless ``allow_shrink``); then
the tables and the manifest (which records each table's SHA-256) are written into a
staging folder and swapped in through a write-ahead commit record
(:mod:`resilience.ingest.staging`). An error at any step leaves the destination byte-for-
byte as it was; a process killed at any point leaves either the old tables or, once the
commit record exists, a swap that the next refresh or table load completes.

Inputs
------
Each source is one file (or, for USGS 2023/2024, WMD shares and BACI, one file per
commodity / year). Two candidate files for one source (two WGI long files, two BACI
country tables) is an error naming both; ``use={"wgi": [path]}`` (CLI: ``--use
wgi=PATH``) picks. Each adapter rejects truncated, header-only, UTF-16 files and years
that contradict the file name (:mod:`resilience.ingest.completeness`,
:mod:`resilience.ingest.name_years`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from resilience.build.screening import screen_trade
from resilience.build.stage_rule import reassign_stages
from resilience.errors import DataError, DataProblem
from resilience.ingest import baci, bp, eto, iea, taiwan_customs, unga, usgs, wgi, wmd, wna
from resilience.ingest.compiled import read_compiled_shares
from resilience.ingest.completeness import check_csv_complete, check_csv_tail
from resilience.ingest.coverage import (
    MAX_COUNTRY_LOSS_FRAC,
    MAX_ROW_LOSS_FRAC,
    Coverage,
    ShrinkError,
    coverage,
    shrink_problems,
)
from resilience.ingest.inputs import INPUTS, MANIFEST, TABLES, InputSpec, describe_inputs
from resilience.ingest.mapping import complete_rest_of_world, load_commodity_map, map_production
from resilience.ingest.monthly_refresh import monthly_tables
from resilience.ingest.separated_rare_earths import read_separated_rare_earths
from resilience.ingest.staging import transaction
from resilience.paths import datasets_dir, sha256_file
from resilience.reference.commodities import load_commodities
from resilience.reference.content import content_map
from resilience.schemas.tables import Production
from resilience.schemas.validate import validate_frame

__all__ = [
    "INPUTS",
    "TABLES",
    "TRADE_YEARS",
    "RefreshReport",
    "build_tables",
    "check_shrink",
    "describe_inputs",
    "find_inputs",
    "preflight",
    "refresh",
]

log = logging.getLogger(__name__)

#: Years of bilateral trade shipped by default (the BACI extract runs 1995-2024).
TRADE_YEARS = tuple(range(2018, 2025))
#: Tables that can legitimately be empty or shrink (no flow needed a repair).
_MAY_BE_EMPTY = frozenset({"trade_repairs.parquet"})
#: First year of governance and alignment shipped by default.
GOVERNANCE_FROM = 2010
ALIGNMENT_FROM = 1995


@dataclass
class RefreshReport:
    """What a refresh read and wrote."""

    inputs: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    shrinks: list[str] = field(default_factory=list)


def _identity(key: str, path: Path) -> str:
    """What a file of a ``many`` source stands for; two files with one identity clash."""
    name = path.name.lower()
    if key == "wmd_shares":
        match = re.search(r"_(\d{4})_long", name)
        return match.group(1) if match else name
    if key == "baci_flows":
        if path.suffix.lower() == ".parquet":
            return "multi-year extract"
        match = re.search(r"_y(\d{4})_", name)
        return f"year {match.group(1)}" if match else name
    return name


def _conflict(root: Path, key: str, hits: list[Path]) -> DataProblem:
    shown = " and ".join(str(p) for p in hits[:4]) + (" ..." if len(hits) > 4 else "")
    return DataProblem(
        str(root),
        None,
        key,
        [str(p) for p in hits],
        f"{len(hits)} candidate files for one source: {shown}; pick one with "
        f"--use {key}=PATH (repeatable)",
    )


def _check_use(use: Mapping[str, Sequence[Path]]) -> list[DataProblem]:
    keys = {spec.key for spec in INPUTS}
    problems = [
        DataProblem("--use", None, key, key, f"unknown source; one of {', '.join(sorted(keys))}")
        for key in use
        if key not in keys
    ]
    problems += [
        DataProblem("--use", None, key, str(p), "file not found")
        for key, paths in use.items()
        for p in paths
        if not Path(p).is_file()
    ]
    single = {spec.key for spec in INPUTS if not spec.many}
    problems += [
        DataProblem("--use", None, key, [str(p) for p in paths], "one file only for this source")
        for key, paths in use.items()
        if key in single and len(paths) > 1
    ]
    return problems


def _search(root: Path, spec: InputSpec) -> list[Path]:
    """Files under ``root`` matching ``spec`` (a single source: the first pattern's hits)."""
    hits: list[Path] = []
    for pattern in spec.patterns:
        matched = sorted(p for p in root.rglob(pattern) if p.is_file())
        if matched and hits and not spec.many:
            log.info(
                "%s: using %s; %s is an alternative format of the same data, not read",
                spec.key,
                hits[0],
                ", ".join(map(str, matched)),
            )
            break
        hits += matched
    return sorted(set(hits))


def find_inputs(
    root: Path, use: Mapping[str, Sequence[Path]] | None = None
) -> dict[str, list[Path]]:
    """Locate every upstream file under ``root``.

    Parameters
    ----------
    root
        Download folder, searched recursively by the file names in :data:`INPUTS`.
    use
        ``{source key: [paths]}`` chosen by the user (``--use KEY=PATH``): these replace
        the search for that source.

    Raises
    ------
    resilience.errors.DataError
        Listing each required input that is missing (with the file names searched for),
        and each source with two candidate files (naming both and the ``--use`` option).
    """
    use = dict(use or {})
    problems: list[DataProblem] = _check_use(use)
    if problems:
        raise DataError(problems)
    found: dict[str, list[Path]] = {}
    for spec in INPUTS:
        if spec.key in use:
            found[spec.key] = sorted(Path(p) for p in use[spec.key])
            continue
        hits = _search(root, spec)
        if not hits and spec.required:
            problems.append(
                DataProblem(
                    str(root), None, spec.key, " or ".join(spec.patterns), "input file not found"
                )
            )
        if spec.many:
            groups: dict[str, list[Path]] = {}
            for p in hits:
                groups.setdefault(_identity(spec.key, p), []).append(p)
            problems += [_conflict(root, spec.key, g) for g in groups.values() if len(g) > 1]
        elif len(hits) > 1:
            problems.append(_conflict(root, spec.key, hits))
        found[spec.key] = hits
    if problems:
        raise DataError(problems)
    return found


def _production(
    source: str,
    frame: pl.DataFrame,
    commodities: pl.DataFrame,
    file: str,
    commodity_map: pl.DataFrame | None = None,
) -> pl.DataFrame:
    cmap = commodity_map if commodity_map is not None else load_commodity_map(source)
    mapped = map_production(frame, cmap, commodities, file=file)
    return complete_rest_of_world(mapped)


def _identity_map(commodities: pl.DataFrame) -> pl.DataFrame:
    return commodities.select(
        pl.col("commodity").alias("source_commodity"),
        pl.col("stage").alias("source_stage"),
        "commodity",
        pl.col("stage").cast(pl.String),
        pl.lit(1.0).alias("basis_factor"),
        pl.lit("").alias("note"),
    )


def build_production(inputs: dict[str, list[Path]], compiled: Path) -> pl.DataFrame:
    """Run every production adapter and stack the canonical, completed rows."""
    commodities = load_commodities()
    parts: list[pl.DataFrame] = []
    for key in ("usgs_2025", "usgs_2024", "usgs_2023"):
        paths = inputs[key]
        name = paths[0].name if len(paths) == 1 else f"{paths[0].parent.name}/ ({len(paths)} files)"
        parts.append(_production("usgs", usgs.read_usgs_world(paths), commodities, name))
    wmd_path = inputs["wmd_production"][0]
    parts.append(_production("wmd", wmd.read_wmd_production(wmd_path), commodities, wmd_path.name))
    for shares_path in inputs["wmd_shares"]:
        frame = wmd.read_wmd_shares(shares_path)
        parts.append(_production("wmd", frame, commodities, shares_path.name))
    iea_path = inputs["iea"][0]
    parts.append(
        _production("iea", iea.read_iea_critical_minerals(iea_path), commodities, iea_path.name)
    )
    bp_path = inputs["bp"][0]
    parts.append(_production("bp", bp.read_bp_statreview(bp_path), commodities, bp_path.name))
    wna_path = inputs["wna"][0]
    parts.append(_production("wna", wna.read_wna_uranium(wna_path), commodities, wna_path.name))
    parts.append(
        _production(
            "compiled",
            read_compiled_shares(compiled),
            commodities,
            compiled.name,
            _identity_map(commodities),
        )
    )
    # Separated rare earths (t REO): the cited table beside the compiled shares.
    separated = compiled.parent / "separated_rare_earths.csv"
    parts.append(
        _production(
            "separated_rare_earths",
            read_separated_rare_earths(separated),
            commodities,
            separated.name,
            _identity_map(commodities),
        )
    )
    production = pl.concat(parts, how="vertical_relaxed")
    return validate_frame(Production, production, file="production (built)").drop("source_row")


#: CSV inputs up to this size get the full completeness check up front, larger ones the
#: tail check (their adapter reads them in full anyway).
_PREFLIGHT_FULL_BYTES = 50 * 1024 * 1024


def preflight(inputs: Mapping[str, Sequence[Path]]) -> None:
    """Reject cut, empty, header-only or UTF-16 CSV inputs before any slow step.

    The adapters run the same checks; doing it first makes a spoiled WGI file fail in
    a second instead of after the trade aggregation.
    """
    for paths in inputs.values():
        for path in paths:
            if path.suffix.lower() != ".csv":
                continue
            if path.stat().st_size <= _PREFLIGHT_FULL_BYTES:
                check_csv_complete(path)
            else:
                check_csv_tail(path)


def _build_trade(
    inputs: dict[str, list[Path]], production: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Trade aggregated to commodity-stage, screened first; and the ``trade_repairs`` rows."""
    codes = baci.read_baci_country_codes(inputs["baci_codes"][0])
    hs_map = content_map("hs92")  # converts each HS6 flow to content before summing
    flows = pl.concat([baci.scan_baci(p, codes) for p in _baci_inputs(inputs["baci_flows"])])
    # Stream the (possibly 10 M-row) flows down to our HS codes and years, then sum in
    # a fixed row order: float sums are bit-for-bit reproducible, so a refresh of the
    # same downloads rewrites identical files.
    selected = (
        flows.filter(
            pl.col("year").is_in(list(TRADE_YEARS))
            & pl.col("hs6_code").is_in(hs_map["hs6_code"].unique().to_list())
        )
        .collect(engine="streaming")
        .sort("year", "importer_iso3", "exporter_iso3", "hs6_code")
    )
    screened = screen_trade(selected, production, hs_map)
    # A downstream HS line carrying the upstream stage (concentrate, hydroxide).
    staged = reassign_stages(screened.flows, hs_map, production)
    trade = (
        baci.aggregate_baci(staged.flows.lazy(), staged.hs_map, list(TRADE_YEARS))
        .sort("year", "importer_iso3", "commodity", "stage", "exporter_iso3")
        .collect(engine="in-memory")
    )
    repairs = pl.concat([screened.repairs, staged.repairs]).sort(
        "year", "hs6_code", "exporter_iso3", "importer_iso3", "action", maintain_order=True
    )
    return trade, repairs


def build_tables(
    inputs: dict[str, list[Path]], say: Callable[[str], None]
) -> dict[str, pl.DataFrame]:
    """Run every adapter; the tables by file name (nothing is written)."""
    tables: dict[str, pl.DataFrame] = {}
    say("production: USGS, World Mining Data, IEA, bp, WNA, compiled shares")
    tables["production.csv"] = build_production(
        inputs, datasets_dir() / "sources" / "compiled_shares.csv"
    )
    say("bilateral trade: CEPII BACI")
    tables["trade.parquet"], tables["trade_repairs.parquet"] = _build_trade(
        inputs, tables["production.csv"]
    )
    say("governance: World Bank WGI")
    governance = (
        wgi.read_wgi(inputs["wgi"][0]).filter(pl.col("year") >= GOVERNANCE_FROM).drop("source_row")
    )
    tables["governance.csv"] = governance.sort("year", "country_iso3", "indicator")
    say("alignment: UNGA ideal points")
    alignment = (
        unga.read_unga_ideal_points(inputs["unga"][0])
        .filter(pl.col("year") >= ALIGNMENT_FROM)
        .drop("source_row")
    )
    tables["alignment.csv"] = alignment.sort("year", "country_iso3")
    say("recycling rates and published HHI: World Mining Data")
    tables["recycling.csv"] = _recycling(inputs["wmd_map"][0])
    hhi = pl.concat([wmd.read_wmd_published_hhi(p) for p in inputs["wmd_shares"]])
    tables["published_hhi.csv"] = hhi.drop("source_row", strict=False)
    tables.update(monthly_tables(inputs, say))
    say("Taiwan's IC exports by destination: Taiwan customs")
    tables[taiwan_customs.TAIWAN_CHIP_EXPORTS] = taiwan_customs.build_taiwan_chip_exports(
        taiwan_customs.read_taiwan_exports(inputs["taiwan_customs"][0])
    )
    empty = [
        DataProblem(name, None, "(table)", 0, "the refresh built an empty table")
        for name, frame in tables.items()
        if frame.height == 0 and name not in _MAY_BE_EMPTY
    ]
    if empty:
        raise DataError(empty)
    return tables


def _old_coverage(path: Path) -> Coverage | None:
    """Coverage of the table in place (``None``: absent or unreadable, logged)."""
    if not path.exists():
        return None
    try:
        frame = pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path)
        return coverage(frame)
    except (pl.exceptions.PolarsError, OSError) as exc:
        log.warning("%s: the table in place is unreadable (%s); not compared", path, exc)
        return None


def check_shrink(tables: Mapping[str, pl.DataFrame], out: Path, *, allow_shrink: bool) -> list[str]:
    """Compare each new table with the one in ``out`` (see :mod:`resilience.ingest.coverage`).

    Returns
    -------
    list[str]
        The shrinks found (accepted because ``allow_shrink``).

    Raises
    ------
    resilience.ingest.coverage.ShrinkError
        Naming each table, old vs new counts and what is lost, unless ``allow_shrink``.
    """
    problems: list[str] = []
    for name, frame in tables.items():
        if name in _MAY_BE_EMPTY:
            continue  # fewer repairs is not a loss of coverage
        old = _old_coverage(out / name)
        if old is not None:
            problems += shrink_problems(name, old, coverage(frame))
    if problems and not allow_shrink:
        raise ShrinkError(
            "refusing to replace tables that would shrink beyond the limits "
            f"(rows -{MAX_ROW_LOSS_FRAC:.0%}, any year or commodity, countries "
            f"-{MAX_COUNTRY_LOSS_FRAC:.0%}); nothing was written. A truncated or wrong "
            "download is the usual cause; if the shrink is intended, pass --allow-shrink:\n  "
            + "\n  ".join(problems)
        )
    for problem in problems:
        log.warning("accepted with --allow-shrink: %s", problem)
    return problems


def _write(name: str, frame: pl.DataFrame, path: Path) -> None:
    if name.endswith(".parquet"):
        frame.write_parquet(path, compression="zstd", statistics=True)
    else:
        frame.write_csv(path)


def refresh(
    root: Path,
    out: Path | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    allow_shrink: bool = False,
    use: Mapping[str, Sequence[Path]] | None = None,
    eto_dir: Path | None = None,
) -> RefreshReport:
    """Rebuild every shipped table from the downloads under ``root`` into ``out``.

    All or nothing: every table is built and checked in memory, compared with the table
    it replaces, written into a staging folder with the manifest last, and swapped in
    through the journal of :mod:`resilience.ingest.staging`. Any error leaves ``out``
    byte-for-byte as it was.

    Parameters
    ----------
    root
        Folder holding the publishers' files (any layout; searched recursively).
    out
        Destination folder; defaults to :func:`resilience.paths.datasets_dir`.
    progress
        Called with a short message before each step (the CLI shows it).
    allow_shrink
        Accept tables that cover less than the ones they replace
        (:mod:`resilience.ingest.coverage`).
    use
        ``{source key: [paths]}``: files chosen by the user instead of searched for.
    eto_dir
        Folder holding the ETO chip-supply-chain files (CC BY-NC 4.0): builds the local,
        never-shipped ``eto_chip_supply_chain.parquet`` (:mod:`resilience.ingest.eto`).
        Without it a local ETO table in ``out`` is left as it is.

    Raises
    ------
    resilience.errors.DataError
        Missing or clashing inputs, and any rejected value in them.
    resilience.ingest.coverage.ShrinkError
        A table shrinks beyond the limits and ``allow_shrink`` is off.
    resilience.ingest.staging.RefreshBusyError
        Another refresh is writing ``out``.
    """
    out = out or datasets_dir()
    say = progress or (lambda msg: log.info("%s", msg))
    inputs = find_inputs(root, use)
    if eto_dir is not None:
        inputs["eto"] = eto.eto_files(eto_dir).all()
    preflight(inputs)
    report = RefreshReport(inputs=inputs)
    tables = build_tables(inputs, say)
    if eto_dir is not None:
        say("chip supply chain (local, not shipped): CSET/ETO")
        tables[eto.ETO_CHIP_SUPPLY_CHAIN] = eto.read_eto(eto_dir)
    report.rows = {name: frame.height for name, frame in tables.items()}
    with transaction(out) as txn:
        report.shrinks = check_shrink(tables, out, allow_shrink=allow_shrink)
        say(f"writing {len(tables)} tables to {out} (staged, then swapped in)")
        written: dict[str, dict[str, object]] = {}
        for name, frame in tables.items():
            path = txn.path(name)
            _write(name, frame, path)
            written[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        manifest = {
            "inputs": [
                {"key": key, "file": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size}
                for key, paths in inputs.items()
                for p in paths
            ],
            "compiled_shares_sha256": sha256_file(
                datasets_dir() / "sources" / "compiled_shares.csv"
            ),
            "rows": report.rows,
            "tables": written,
        }
        txn.path(MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        txn.commit(MANIFEST)
    return report


def _baci_inputs(paths: list[Path]) -> list[Path]:
    """The BACI flow files to read: the Parquet extract when present, else the CSVs.

    A download folder may hold the same flows twice (the multi-year Parquet extract and a
    single-year CSV slice of it); reading both would double-count, so the CSV slices are
    skipped (logged) -- unless they come from another BACI release than the extract,
    which is two candidate files for one source: an error naming both.
    """
    parquet = [p for p in paths if p.suffix == ".parquet"]
    csvs = [p for p in paths if p.suffix != ".parquet"]
    if parquet and csvs:
        release = baci.baci_provenance(parquet[0])[1]
        other = [p for p in csvs if baci.baci_provenance(p)[1] != release]
        if other:
            raise DataError(
                [
                    DataProblem(
                        str(p),
                        None,
                        "baci_flows",
                        baci.baci_provenance(p)[1],
                        f"BACI release differs from the extract {parquet[0]} ({release}): "
                        "two candidate files for one source; pick with --use baci_flows=PATH",
                    )
                    for p in other
                ]
            )
        log.info(
            "BACI: reading %s; %s are slices of it (same release), not read",
            parquet[0].name,
            ", ".join(p.name for p in csvs),
        )
    return parquet or paths


def _recycling(path: Path) -> pl.DataFrame:
    """EoL-RIR per (commodity, stage) through the WMD map; one value per commodity."""
    rates = wmd.read_wmd_recycling(path)
    cmap = load_commodity_map("wmd").filter(pl.col("commodity").is_not_null())
    joined = rates.join(
        cmap.select("source_commodity", "commodity", "stage"), on="source_commodity", how="inner"
    )
    return (
        joined.select(
            "commodity",
            "stage",
            "eol_rir_frac",
            pl.col("source"),
            pl.col("vintage"),
        )
        .unique(["commodity", "stage"], keep="first")
        .sort("commodity", "stage")
    )
