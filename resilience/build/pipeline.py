"""``resilience build``: canonical tables -> dependency dataset and metrics, as Parquet.

Output layout (hive-style partitions, one file per year)::

    OUT/dependency/year=2023/part-0.parquet
    OUT/metrics/year=2023/part-0.parquet

Each table is written to a staging folder beside ``OUT`` and renamed into place, so a
reader never sees a half-written table. The build runs one year at a time (every
quantity of the dataset is per year: shares, world markets, exports, governance as of
the year), so its peak memory is that of one year, not of all of them
(``benchmarks/README.md``, "Build memory"). Inputs are the shipped tables in ``datasets/``
or, for trade, a CEPII BACI file a user points to (streamed, never loaded whole).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from resilience import data
from resilience.build.bilateral import bilateral_shares
from resilience.build.blocs import add_blocs
from resilience.build.china_bilateral import label_build_tables
from resilience.build.dependency import (
    build_dependency,
    country_attributes,
    missing_attributes,
    trade_shares,
)
from resilience.build.metrics_table import metrics_table
from resilience.build.monthly import with_source_tables
from resilience.build.risk_indices import eu_crm_parameters
from resilience.build.screening import screen_trade
from resilience.build.sources import check_source, source_spread
from resilience.build.stage_rule import reassign_stages
from resilience.build.world_market import world_shares
from resilience.ingest import baci
from resilience.reference.alliances import load_alliances
from resilience.reference.chips import with_capacity_shares
from resilience.reference.commodities import load_commodities
from resilience.reference.content import content_map

__all__ = ["BuildResult", "Inputs", "build", "collect_year", "load_inputs", "world_and_dependency"]

log = logging.getLogger(__name__)


@dataclass
class Inputs:
    """Everything the build reads, as lazy frames where size matters."""

    years: list[int]
    bilateral: pl.LazyFrame
    production: pl.DataFrame
    governance: pl.DataFrame
    alignment: pl.DataFrame
    alliances: pl.DataFrame
    commodities: pl.DataFrame
    parameters: pl.DataFrame
    importers: list[str]
    trade_source: str
    #: Production source put first (``usgs``, ``wmd``, ``iea``); ``None``: the default
    #: ranking of :mod:`resilience.build.sources`.
    source: str | None = None
    blocs: pl.DataFrame | None = None


@dataclass
class BuildResult:
    """What a build wrote."""

    out_dir: Path
    years: list[int]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    trade_source: str = ""


def load_inputs(
    years: Iterable[int] | None = None,
    baci_path: Path | None = None,
    baci_codes: Path | None = None,
    extra_blocs: Iterable[Path] = (),
    source: str | None = None,
    blocs: Iterable[str] = (),
    bloc_files: Iterable[Path | str] = (),
) -> Inputs:
    """Gather the build inputs from ``datasets/`` (and a BACI file when given).

    Parameters
    ----------
    years
        Years to build; defaults to every year of the trade data.
    baci_path, baci_codes
        A BACI flow file (CSV or Parquet, ``t,i,j,k,v,q``) and its country-code table;
        when given they replace the shipped trade table.
    extra_blocs
        User bloc files (same columns as ``datasets/alliances.csv``).
    source
        Production source to put first (``usgs``, ``wmd``, ``iea``; default ranking if
        omitted): :mod:`resilience.build.sources`.
    blocs
        Blocs to add as importers (``EU27``, ``G7``, ``G7+EU``, a bloc of
        ``bloc_files``): extra-bloc imports, members' production
        (:mod:`resilience.build.blocs`).
    bloc_files
        A user's bloc files, CSV or YAML naming ISO3 members
        (:func:`resilience.reference.bloc_files.read_bloc_file`); every bloc they
        define is added as an importer, besides ``blocs``.

    Raises
    ------
    ValueError
        An unknown ``source``, a BACI file without its code table, or no trade data for
        the requested years.
    """
    check_source(source)
    commodities = load_commodities()
    if baci_path is not None:
        if baci_codes is None:
            raise ValueError("a BACI file needs its country-code table (--baci-codes)")
        codes = baci.read_baci_country_codes(baci_codes)
        hs_map = content_map("hs92", commodities)
        flows = baci.scan_baci(baci_path, codes, hs_codes=hs_map["hs6_code"].unique().to_list())
        # Screen the HS6 flows (unit-value bands; repairs counted in the log) and apply
        # the stage rule before aggregating, as the refresh does for the shipped table.
        production = data.load_production()
        screened = screen_trade(flows.collect(engine="streaming"), production, hs_map)
        staged = reassign_stages(screened.flows, hs_map, production)
        bilateral = bilateral_shares(staged.flows.lazy(), staged.hs_map)
        trade_source = f"CEPII BACI ({Path(baci_path).name})"
    else:
        bilateral = trade_shares(with_source_tables(data.scan_trade()))
        trade_source = "CEPII BACI HS92 V202401b (shipped extract)"
    available = (
        bilateral.select(pl.col("year").unique()).collect(engine="streaming")["year"].to_list()
    )
    chosen = sorted(set(years) & set(available)) if years is not None else sorted(available)
    if not chosen:
        raise ValueError(f"no trade data for the requested years; available: {sorted(available)}")
    bilateral = bilateral.filter(pl.col("year").is_in(chosen))
    importers = (
        bilateral.select(pl.col("importer_iso3").unique())
        .collect(engine="streaming")["importer_iso3"]
        .sort()
        .to_list()
    )
    inputs = Inputs(
        years=chosen,
        bilateral=bilateral,
        production=data.load_production(),
        governance=data.load_governance(),
        alignment=data.load_alignment(),
        alliances=load_alliances(extra=extra_blocs),
        commodities=commodities,
        parameters=eu_crm_parameters(commodities, data.load_recycling()),
        importers=importers,
        trade_source=trade_source,
        source=source,
    )
    return add_blocs(inputs, blocs, bloc_files)


def dependency_and_metrics(
    inputs: Inputs, years: Iterable[int] | None = None
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The two lazy queries of the build (nothing is collected here).

    ``years`` restricts both to those years (default: ``inputs.years``).
    """
    chosen = sorted(set(years)) if years is not None else inputs.years
    world, _chips, attributes, dependency = world_and_dependency(inputs, chosen, inputs.source)
    metrics = metrics_table(
        dependency, world, inputs.commodities, inputs.parameters, inputs.blocs, attributes
    )
    return dependency, metrics


def world_and_dependency(
    inputs: Inputs, years: list[int], source: str | None
) -> tuple[pl.LazyFrame, pl.DataFrame, pl.LazyFrame, pl.LazyFrame]:
    """World shares, the chip capacity rows, country attributes and the dependency rows.

    The bilateral flows of ``years`` and the world shares of the production ``source``
    (chip segments on their capacity or market basis:
    :func:`resilience.reference.chips.with_capacity_shares`).
    """
    bilateral = inputs.bilateral.filter(pl.col("year").is_in(years))
    world, chips = with_capacity_shares(
        world_shares(inputs.production, years, source), years, inputs.commodities
    )
    attributes = country_attributes(inputs.governance, inputs.alignment, inputs.alliances, years)
    dependency = build_dependency(
        bilateral,
        world,
        attributes,
        inputs.importers,
        inputs.commodities,
        inputs.blocs,
        capacity_basis=chips.select("commodity", "stage", "basis").unique(),
    )
    return world, chips, attributes, dependency


def collect_year(inputs: Inputs, year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The dependency and metrics tables of one year, computed and collected.

    Same tables as :func:`dependency_and_metrics` for ``[year]``, but the world shares
    and the dependency rows are collected before the metrics are computed from them:
    the metrics query reads the dependency rows about ten times, and a lazy plan would
    compute them again for each (about 3x slower).
    """
    shares, chips = with_capacity_shares(
        world_shares(inputs.production, [year], inputs.source), [year], inputs.commodities
    )
    world = shares.collect()
    attributes = country_attributes(inputs.governance, inputs.alignment, inputs.alliances, [year])
    bilateral = inputs.bilateral.filter(pl.col("year") == year)
    dependency = build_dependency(
        bilateral,
        world.lazy(),
        attributes,
        inputs.importers,
        inputs.commodities,
        inputs.blocs,
        capacity_basis=chips.select("commodity", "stage", "basis").unique(),
    ).collect(engine="streaming")
    metrics = metrics_table(
        dependency.lazy(),
        world.lazy(),
        inputs.commodities,
        inputs.parameters,
        inputs.blocs,
        attributes,
    ).collect()
    # China's export rows (local Comtrade table) are bilateral_china_only, with a note
    return label_build_tables(dependency, metrics)


_TABLES = ("dependency", "metrics", "source_spread")


def _check_targets(out_dir: Path) -> None:
    """Before any work: ``out_dir`` can be written and no table folder in it is a link.

    Raises
    ------
    resilience.outputs.OutputPathError
        The output folder cannot be written (path and cause), or ``out_dir/<table>`` is a
        symbolic link (never written through or replaced).
    """
    from resilience.outputs import OutputPathError, check_writable_dir, describe_link

    check_writable_dir(out_dir)
    for name in _TABLES:
        target = out_dir / name
        if target.is_symlink():
            raise OutputPathError(
                f"{describe_link(target)} where the build writes its {name} table; "
                "remove the link and re-run; nothing was written"
            )


def _write_year(frame: pl.DataFrame, staging: Path, year: int) -> None:
    """Write one year of a table as ``staging/year=Y/part-0.parquet`` (nothing if empty)."""
    if frame.height == 0:
        return
    folder = staging / f"year={year}"
    folder.mkdir()
    frame.drop("year").write_parquet(folder / "part-0.parquet", compression="zstd", statistics=True)


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by the finished ``staging`` folder with renames.

    A link left at the old table's backup name is removed, never followed.
    """
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.is_symlink():
            old.unlink()
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old)
    else:
        staging.rename(target)


def build(out_dir: Path, inputs: Inputs) -> BuildResult:
    """Build and write the dependency dataset and the metrics table, one year at a time.

    Each year's two tables are computed (streaming engine) and written into hidden
    staging folders beside ``out_dir/<table>`` (folders and files get the umask's mode,
    e.g. ``0755``/``0644``), then the ``source_spread`` table
    (:func:`resilience.build.sources.source_spread`) for the production years equal to
    the build's years; when everything is written the tables are swapped in by renames,
    so a reader never sees a half-written table. Countries without a
    governance score or an ideal point are named in one warning
    (:func:`resilience.build.dependency.missing_attributes`).

    Returns
    -------
    BuildResult
        Row counts per table and the wall time.

    Raises
    ------
    resilience.outputs.OutputPathError
        ``out_dir`` cannot be written, or a table folder in it is a symbolic link
        (checked before anything is computed; never written through or replaced).
    """
    from resilience.outputs import make_dir

    start = time.perf_counter()
    _check_targets(out_dir)
    staging = {name: make_dir(out_dir, f".{name}.") for name in _TABLES}
    rows = dict.fromkeys(_TABLES, 0)
    missing: dict[str, set[str]] = {"governance": set(), "ideal_point": set()}
    try:
        for year in inputs.years:
            frames = collect_year(inputs, year)
            for name, frame in zip(_TABLES[:2], frames, strict=True):
                _write_year(frame, staging[name], year)
                rows[name] += frame.height
            for kind, countries in missing_attributes(frames[0]).items():
                missing[kind].update(countries)
            del frames
        spread = source_spread(inputs.production, inputs.years).collect()
        for (year,), part in spread.partition_by("year", as_dict=True).items():
            _write_year(part, staging["source_spread"], int(year))
        rows["source_spread"] = spread.height
        for name in _TABLES:
            _swap_in(staging[name], out_dir / name)
    finally:
        for folder in staging.values():
            if folder.exists():
                shutil.rmtree(folder)
    _warn_missing(missing)
    result = BuildResult(
        out_dir=out_dir,
        years=inputs.years,
        rows=rows,
        seconds=time.perf_counter() - start,
        trade_source=inputs.trade_source,
    )
    log.info("build wrote %s in %.1f s", result.rows, result.seconds)
    return result


def _warn_missing(missing: dict[str, set[str]]) -> None:
    """One warning per kind naming the countries without governance or ideal point."""
    if missing["governance"]:
        log.warning(
            "no WGI governance score for %s: GeoPolRisk uses 0.5 for them and EU supply risk "
            "leaves them out (dependency rows flagged is_governance_imputed)",
            ", ".join(sorted(missing["governance"])),
        )
    if missing["ideal_point"]:
        log.warning(
            "no UNGA ideal point for %s: their alignment distance is null "
            "(dependency rows flagged is_ideal_point_missing)",
            ", ".join(sorted(missing["ideal_point"])),
        )


def scan_built(out_dir: Path, table: str) -> pl.LazyFrame:
    """Read a built table back (hive partitions: ``year`` comes from the folder name)."""
    return pl.scan_parquet(
        out_dir / table / "**" / "*.parquet", hive_partitioning=True, hive_schema={"year": pl.Int32}
    )
