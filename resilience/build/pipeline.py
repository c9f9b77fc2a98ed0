"""``resilience build``: canonical tables -> dependency dataset and metrics, as Parquet.

Output layout (hive-style partitions, one file per year)::

    OUT/dependency/year=2023/part-0.parquet
    OUT/metrics/year=2023/part-0.parquet

Each table is written to a staging folder beside ``OUT`` and renamed into place, so a
reader never sees a half-written table. Inputs are the shipped tables in ``datasets/``
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
from resilience.build.dependency import build_dependency, country_attributes, trade_shares
from resilience.build.metrics_table import metrics_table
from resilience.build.risk_indices import eu_crm_parameters
from resilience.build.screening import screen_trade
from resilience.build.world_market import world_shares
from resilience.ingest import baci
from resilience.reference.alliances import load_alliances
from resilience.reference.commodities import hs_to_commodity, load_commodities

__all__ = ["BuildResult", "Inputs", "build", "load_inputs"]

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
    """
    commodities = load_commodities()
    if baci_path is not None:
        if baci_codes is None:
            raise ValueError("a BACI file needs its country-code table (--baci-codes)")
        codes = baci.read_baci_country_codes(baci_codes)
        hs_map = hs_to_commodity("hs92", commodities)
        flows = baci.scan_baci(baci_path, codes, hs_codes=hs_map["hs6_code"].unique().to_list())
        # Screen the HS6 flows (unit-value bands; repairs counted in the log) before
        # aggregating, as the refresh does for the shipped table.
        screened = screen_trade(flows.collect(engine="streaming"), data.load_production(), hs_map)
        bilateral = bilateral_shares(screened.flows.lazy(), hs_map)
        source = f"CEPII BACI ({Path(baci_path).name})"
    else:
        bilateral = trade_shares(data.scan_trade())
        source = "CEPII BACI HS92 V202401b (shipped extract)"
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
    return Inputs(
        years=chosen,
        bilateral=bilateral,
        production=data.load_production(),
        governance=data.load_governance(),
        alignment=data.load_alignment(),
        alliances=load_alliances(extra=extra_blocs),
        commodities=commodities,
        parameters=eu_crm_parameters(commodities, data.load_recycling()),
        importers=importers,
        trade_source=source,
    )


def dependency_and_metrics(inputs: Inputs) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The two lazy queries of the build (nothing is collected here)."""
    world = world_shares(inputs.production, inputs.years)
    attributes = country_attributes(
        inputs.governance, inputs.alignment, inputs.alliances, inputs.years
    )
    dependency = build_dependency(
        inputs.bilateral, world, attributes, inputs.importers, inputs.commodities
    )
    metrics = metrics_table(dependency, world, inputs.commodities, inputs.parameters)
    return dependency, metrics


_TABLES = ("dependency", "metrics")


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


def _write_partitioned(frame: pl.DataFrame, target: Path) -> None:
    """Write ``frame`` as ``target/year=Y/part-0.parquet``, atomically for the table.

    The table is written into a fresh hidden folder beside ``target`` (folders and files
    get the umask's mode, e.g. ``0755``/``0644``) and swapped in by renames. A symbolic
    link at ``target`` is an error: it is never written through or replaced.

    Raises
    ------
    resilience.outputs.OutputPathError
        The output folder cannot be written, or ``target`` is a symbolic link.
    """
    from resilience.outputs import make_dir

    _check_targets(target.parent)
    staging = make_dir(target.parent, f".{target.name}.")
    try:
        for (year,), part in (
            frame.sort("year").partition_by("year", as_dict=True, maintain_order=True).items()
        ):
            folder = staging / f"year={year}"
            folder.mkdir()
            part.drop("year").write_parquet(
                folder / "part-0.parquet", compression="zstd", statistics=True
            )
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.is_symlink():
                old.unlink()  # a link left there is removed, never followed
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old)
        else:
            staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def build(out_dir: Path, inputs: Inputs) -> BuildResult:
    """Build and write the dependency dataset and the metrics table.

    Returns
    -------
    BuildResult
        Row counts per table and the wall time.

    Raises
    ------
    resilience.outputs.OutputPathError
        ``out_dir`` cannot be written, or a table folder in it is a symbolic link
        (checked before anything is computed).
    """
    start = time.perf_counter()
    _check_targets(out_dir)
    dependency, metrics = dependency_and_metrics(inputs)
    dep, met = pl.collect_all([dependency, metrics], engine="streaming")
    _write_partitioned(dep, out_dir / "dependency")
    _write_partitioned(met, out_dir / "metrics")
    result = BuildResult(
        out_dir=out_dir,
        years=inputs.years,
        rows={"dependency": dep.height, "metrics": met.height},
        seconds=time.perf_counter() - start,
        trade_source=inputs.trade_source,
    )
    log.info("build wrote %s in %.1f s", result.rows, result.seconds)
    return result


def scan_built(out_dir: Path, table: str) -> pl.LazyFrame:
    """Read a built table back (hive partitions: ``year`` comes from the folder name)."""
    return pl.scan_parquet(
        out_dir / table / "**" / "*.parquet", hive_partitioning=True, hive_schema={"year": pl.Int32}
    )
