"""Rebuild the shipped default tables in ``datasets/`` from a folder of downloads.

``resilience data refresh --from DIR`` finds each upstream file in ``DIR`` (searched
recursively, by the file names the publishers use), runs its adapter, maps it onto our
commodities and writes compact, cited tables, each row with ``source`` and ``vintage``:

=====================  ====================================================================
table                  built from
=====================  ====================================================================
production.csv         USGS MCS 2023-2025, World Mining Data 2018-2024, IEA Critical
                       Minerals (2023), bp Statistical Review 2021 (to 2020), WNA uranium,
                       ``sources/compiled_shares.csv`` (chips, PV, batteries)
trade.parquet          CEPII BACI (HS92) aggregated to importer x commodity x supplier
governance.csv         World Bank WGI (six indicators)
alignment.csv          UNGA ideal points (Bailey, Strezhnev and Voeten)
recycling.csv          EoL recycling input rates (SCRREEN via the WMD commodity map)
published_hhi.csv      HHI printed by World Mining Data (validation target)
manifest.json          input files (name, SHA-256, bytes) and row counts per table
=====================  ====================================================================

Every table is written to a temporary file and renamed into place, so a failed refresh
leaves the previous tables untouched.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.ingest import baci, bp, iea, unga, usgs, wgi, wmd, wna
from resilience.ingest.compiled import read_compiled_shares
from resilience.ingest.mapping import complete_rest_of_world, load_commodity_map, map_production
from resilience.paths import datasets_dir, sha256_file
from resilience.reference.commodities import hs_to_commodity, load_commodities
from resilience.schemas.tables import Production
from resilience.schemas.validate import validate_frame

__all__ = ["RefreshReport", "TRADE_YEARS", "find_inputs", "refresh"]

log = logging.getLogger(__name__)

#: Years of bilateral trade shipped by default (the BACI extract runs 1995-2024).
TRADE_YEARS = tuple(range(2018, 2025))
#: First year of governance and alignment shipped by default.
GOVERNANCE_FROM = 2010
ALIGNMENT_FROM = 1995


@dataclass(frozen=True)
class InputSpec:
    """Where an upstream file sits in a download folder."""

    key: str
    patterns: tuple[str, ...]
    required: bool = True
    many: bool = False


INPUTS: tuple[InputSpec, ...] = (
    InputSpec("usgs_2025", ("MCS2025_World_Data.csv",)),
    InputSpec("usgs_2024", ("mcs2024-*_world.csv", "MCS2024-*_world.csv"), many=True),
    InputSpec("usgs_2023", ("mcs2023-*_world.csv", "MCS2023-*_world.csv"), many=True),
    InputSpec("wmd_production", ("wmd_production_by_country_*_long.csv",)),
    InputSpec("wmd_shares", ("wmd_share_of_world_production_*_long.csv",), many=True),
    InputSpec("wmd_map", ("wmd_commodity_hs_map_eol_rir.csv",)),
    InputSpec("iea", ("CM_Data_Explorer*.xlsx", "iea_cm_supply_by_country_base_case_long.csv")),
    InputSpec("bp", ("bp_statreview_*_energy_minerals_*.csv",)),
    InputSpec("wna", ("uranium_production_*_tU.csv",)),
    InputSpec("wgi", ("wgi_*long.csv",)),
    InputSpec("unga", ("IdealpointestimatesAll_*.csv",)),
    InputSpec(
        "baci_flows", ("baci_hs92_*raw_materials*.parquet", "BACI_HS92_Y*_V*.csv"), many=True
    ),
    InputSpec("baci_codes", ("country_codes_V*.csv",)),
)


@dataclass
class RefreshReport:
    """What a refresh read and wrote."""

    inputs: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def find_inputs(root: Path) -> dict[str, list[Path]]:
    """Locate every upstream file under ``root``.

    Raises
    ------
    resilience.errors.DataError
        Listing each required input that is missing (with the file names searched for).
    """
    found: dict[str, list[Path]] = {}
    problems: list[DataProblem] = []
    for spec in INPUTS:
        hits: list[Path] = []
        for pattern in spec.patterns:
            hits += sorted(p for p in root.rglob(pattern) if p.is_file())
            if hits and not spec.many:
                break
        hits = sorted(set(hits))
        if not hits and spec.required:
            problems.append(
                DataProblem(
                    str(root), None, spec.key, " or ".join(spec.patterns), "input file not found"
                )
            )
        found[spec.key] = hits if spec.many else hits[:1]
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
    production = pl.concat(parts, how="vertical_relaxed")
    return validate_frame(Production, production, file="production (built)").drop("source_row")


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    finally:
        if Path(tmp).exists():
            Path(tmp).unlink()


def _write_csv(frame: pl.DataFrame, path: Path) -> None:
    with _atomic(path) as tmp:
        frame.write_csv(tmp)


def refresh(
    root: Path, out: Path | None = None, progress: Callable[[str], None] | None = None
) -> RefreshReport:
    """Rebuild every shipped table from the downloads under ``root`` into ``out``.

    Parameters
    ----------
    root
        Folder holding the publishers' files (any layout; searched recursively).
    out
        Destination folder; defaults to :func:`resilience.paths.datasets_dir`.
    progress
        Called with a short message before each step (the CLI shows it).
    """
    out = out or datasets_dir()
    say = progress or (lambda msg: log.info("%s", msg))
    inputs = find_inputs(root)
    report = RefreshReport(inputs=inputs)

    say("production: USGS, World Mining Data, IEA, bp, WNA, compiled shares")
    production = build_production(inputs, datasets_dir() / "sources" / "compiled_shares.csv")
    _write_csv(production, out / "production.csv")
    report.rows["production.csv"] = production.height

    say("bilateral trade: CEPII BACI")
    codes = baci.read_baci_country_codes(inputs["baci_codes"][0])
    hs_map = hs_to_commodity("hs92")
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
    trade = (
        baci.aggregate_baci(selected.lazy(), hs_map, list(TRADE_YEARS))
        .sort("year", "importer_iso3", "commodity", "stage", "exporter_iso3")
        .collect(engine="in-memory")
    )
    with _atomic(out / "trade.parquet") as tmp:
        trade.write_parquet(tmp, compression="zstd", statistics=True)
    report.rows["trade.parquet"] = trade.height

    say("governance: World Bank WGI")
    governance = (
        wgi.read_wgi(inputs["wgi"][0]).filter(pl.col("year") >= GOVERNANCE_FROM).drop("source_row")
    )
    _write_csv(governance.sort("year", "country_iso3", "indicator"), out / "governance.csv")
    report.rows["governance.csv"] = governance.height

    say("alignment: UNGA ideal points")
    alignment = (
        unga.read_unga_ideal_points(inputs["unga"][0])
        .filter(pl.col("year") >= ALIGNMENT_FROM)
        .drop("source_row")
    )
    _write_csv(alignment.sort("year", "country_iso3"), out / "alignment.csv")
    report.rows["alignment.csv"] = alignment.height

    say("recycling rates and published HHI: World Mining Data")
    recycling = _recycling(inputs["wmd_map"][0])
    _write_csv(recycling, out / "recycling.csv")
    report.rows["recycling.csv"] = recycling.height
    hhi = pl.concat([wmd.read_wmd_published_hhi(p) for p in inputs["wmd_shares"]])
    _write_csv(hhi.drop("source_row", strict=False), out / "published_hhi.csv")
    report.rows["published_hhi.csv"] = hhi.height

    manifest = {
        "inputs": [
            {"key": key, "file": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size}
            for key, paths in inputs.items()
            for p in paths
        ],
        "compiled_shares_sha256": sha256_file(datasets_dir() / "sources" / "compiled_shares.csv"),
        "rows": report.rows,
    }
    with _atomic(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return report


def _baci_inputs(paths: list[Path]) -> list[Path]:
    """The BACI flow files to read: the Parquet extract when present, else the CSVs.

    A download folder may hold the same flows twice (the multi-year Parquet extract and a
    single-year CSV slice of it); reading both would double-count.
    """
    parquet = [p for p in paths if p.suffix == ".parquet"]
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
