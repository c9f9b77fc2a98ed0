"""The report tables' schemas: explicit, versioned, one per table.

=====================  ===================================================================
table                  rows
=====================  ===================================================================
``dependency``         the dependency dataset of the data year (one row per importer,
                       commodity, stage, supplier and basis), filtered to the definition's
                       importers and commodities
``metrics``            the metrics table of the same year and rows (HHI, import reliance,
                       EU supply risk, GeoPolRisk, ...)
``scenarios``          one row per study and scenario expression: ``status`` (``optimal``,
                       ``infeasible``, ``not_applicable``, ...), ``reason`` and the run's
                       totals on the market core (welfare losses in USD; null where the run
                       has no answer)
``scenario_summary``   per study, scenario, member and good: exposure before and after,
                       highest price rise, demand shed, stock cover (optimal runs only)
``scenario_members``   per study, scenario, member and event (a scenario of the run's
                       market, ``calm`` included): welfare loss in USD and its parts
``frontier``           the welfare-exposure frontier of each study
                       (:func:`resilience.sweeps.frontier`)
``ranking``            an importer's goods by probability-weighted welfare loss over the
                       catalogue (:func:`resilience.ranking.rank_commodities`), when the
                       definition has a ``ranking`` section or ``--rank-importer`` is given
=====================  ===================================================================

Schema evolution is additive within a version: a new column is appended to a table's
schema as a nullable column and the table's ``version`` goes up; readers
(:func:`resilience.report.read_report`) read older partitions under the current schema
with nulls in the new column. Version 2 of ``scenarios``, ``scenario_summary`` and
``frontier`` is a new major format (the market core replaced the contract plans: welfare
losses instead of contract costs and shortfall tonnes).

The columns are written out here rather than taken from the producers, so that a change
upstream (a column dropped or renamed in the build or the study runner) stops the report
with a message (:func:`conform`) instead of changing the published schema silently. Rows
are sorted on every sortable column so that the same frames give the same Parquet bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import dataframely as dy
import polars as pl

from resilience.errors import ResilienceError
from resilience.ranking import RANK_SCHEMA
from resilience.schemas.tables import MetricsTable
from resilience.schemas.validate import validate_frame
from resilience.study import SUMMARY_COLUMNS, TOTALS_SCHEMA
from resilience.sweeps.frontier import FRONTIER_COLUMNS

__all__ = [
    "ROW_RULES",
    "SCENARIOS",
    "TABLES",
    "TOTALS",
    "ReportError",
    "TableSpec",
    "conform",
    "empty",
    "status_counts",
]

log = logging.getLogger(__name__)


class ReportError(ResilienceError, RuntimeError):
    """A report could not be made; nothing was published."""


@dataclass(frozen=True)
class TableSpec:
    """A report table: name, schema version, columns and their types, sort keys."""

    name: str
    version: int
    schema: pl.Schema
    description: str
    key: tuple[str, ...] = field(default=())

    def schema_json(self) -> dict[str, str]:
        """The columns and their Polars types as text (for the manifest)."""
        return {c: str(t) for c, t in self.schema.items()}


_F, _S, _I32, _I64 = pl.Float64(), pl.String(), pl.Int32(), pl.Int64()

_DEPENDENCY = pl.Schema(
    {
        "year": _I32,
        "importer_iso3": _S,
        "commodity": _S,
        "stage": _S,
        "supplier_iso3": _S,
        "basis": _S,
        "supply_share": _F,
        "import_value_usd": _F,
        "import_quantity_t": _F,
        "world_production_share": _F,
        "production_year": _I32,
        "production_source": _S,
        "supplier_wgi_pv": _F,
        "supplier_wgi_mean": _F,
        "supplier_ideal_point": _F,
        "supplier_blocs": pl.List(_S),
        "importer_ideal_point": _F,
        "alignment_distance": _F,
    }
)
_METRICS = pl.Schema(
    {
        "year": _I32,
        "importer_iso3": _S,
        "commodity": _S,
        "stage": _S,
        "basis": _S,
        "sector": _S,
        "hhi": _F,
        "hhi_10000": _F,
        "top_supplier_iso3": _S,
        "top1_share": _F,
        "top3_share": _F,
        "n_suppliers": pl.UInt32(),
        "imports_t": _F,
        "exports_t": _F,
        "domestic_production": _F,
        "production_unit": _S,
        "import_value_usd": _F,
        "import_reliance": _F,
        "import_reliance_assumed": pl.Boolean(),
        "hhi_wgi_t_sourcing": _F,
        "hhi_wgi_t_global": _F,
        "n_missing_wgi_global": pl.UInt32(),
        "si_sr": _F,
        "si_sr_source": _S,
        "eol_rir_frac": _F,
        "eol_rir_source": _S,
        "eu_supply_risk": _F,
        "geopolrisk_score": _F,
        "geopolrisk_import_risk": _F,
        "world_hhi": _F,
        "world_top_producer_iso3": _S,
        "world_top1_share": _F,
        "production_year": _I32,
        "production_source": _S,
        "is_material": pl.Boolean(),
        # version 3: blocs as importers (resilience.build.blocs), content basis, JRC sourcing
        "importer_is_bloc": pl.Boolean(),
        "imports_content": _F,
        "exports_content": _F,
        "content_unit": _S,
        "eu_sourcing_basis": _S,
        "n_sourcing_missing_quantity": pl.UInt32(),
        "eu_bottleneck_stage": _S,
        "eu_supply_risk_material": _F,
        "geopolrisk_price_usd_per_kg": _F,
        "geopolrisk_cf_cu_eq": _F,
    }
)
#: The run's totals (:data:`resilience.study.TOTALS_SCHEMA`) after its keys.
TOTALS: dict[str, pl.DataType] = {
    k: t for k, t in TOTALS_SCHEMA.items() if k not in ("model", "scenario", "year")
}
SCENARIOS = pl.Schema(
    {
        "study": _S,
        "year": _I64,
        "model": _S,
        "scenario": _S,
        "composed": _S,
        "status": _S,
        "reason": _S,
        **TOTALS,
    }
)
_SCENARIO_SUMMARY = pl.Schema(
    {
        "study": _S,
        "scenario": _S,
        "member_iso3": _S,
        "commodity": _S,
        "stage": _S,
        **dict.fromkeys(SUMMARY_COLUMNS, _F),
    }
)
_SCENARIO_MEMBERS = pl.Schema(
    {
        "study": _S,
        "scenario": _S,
        "member": _S,
        "event": _S,
        "probability": _F,
        "welfare_loss_usd": _F,
        "consumer_loss_usd": _F,
        "producer_gain_usd": _F,
        "stock_build_usd": _F,
    }
)
_FRONTIER = pl.Schema(
    {
        c: (_S if c in ("study", "scenario", "model", "status", "reason") else _F)
        for c in FRONTIER_COLUMNS
    }
)

#: Every table a report can hold, with its current schema.
TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "dependency",
            1,
            _DEPENDENCY,
            "who supplies each importer, commodity and stage, with supplier attributes",
            ("year", "importer_iso3", "commodity", "stage", "supplier_iso3", "basis"),
        ),
        TableSpec(
            "metrics",
            3,
            _METRICS,
            "concentration, import reliance, EU supply risk and GeoPolRisk per importer",
            ("year", "importer_iso3", "commodity", "stage", "basis"),
        ),
        TableSpec(
            "scenarios",
            2,
            SCENARIOS,
            "one row per study and scenario: solver status, reason and the run's totals "
            "(welfare losses on the market core)",
            ("study", "scenario"),
        ),
        TableSpec(
            "scenario_summary",
            2,
            _SCENARIO_SUMMARY,
            "per study, scenario, member and good: exposure, price rise, demand shed, stock",
            ("study", "scenario", "member_iso3", "commodity", "stage"),
        ),
        TableSpec(
            "scenario_members",
            1,
            _SCENARIO_MEMBERS,
            "per study, scenario, member and event: welfare loss (USD) and its parts",
            ("study", "scenario", "member", "event"),
        ),
        TableSpec(
            "frontier",
            2,
            _FRONTIER,
            "members' welfare loss against the cap on the non-allied share (epsilon "
            "constraint on the market core)",
            ("study", "scenario", "max_non_allied_share"),
        ),
        TableSpec(
            "ranking",
            1,
            RANK_SCHEMA,
            "an importer's goods ranked by expected annual welfare loss over the catalogue's "
            "risk events (alternatives of one event counted once), with the goods left "
            "unranked and why",
            ("importer", "rank", "commodity", "stage"),
        ),
    )
}


#: The dataframely schema each row of a table must satisfy (types, nullability, ranges),
#: checked by :func:`conform` before a table is written.
ROW_RULES: dict[str, type[dy.Schema]] = {"metrics": MetricsTable}


def _sortable(dtype: pl.DataType) -> bool:
    return not isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object)


def conform(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """``frame`` in the table's schema: its columns in order, cast strictly, sorted.

    Columns of ``frame`` outside the schema are left out (a new column enters a report
    only through a new schema version). A missing column is an error: the producer of
    the table changed without the schema. A table with row rules (:data:`ROW_RULES`) is
    validated against them.

    Raises
    ------
    ReportError
        A column of the schema is missing.
    resilience.errors.DataError
        A row breaks its table's rules (naming the table, row, column and value).
    """
    missing = [c for c in spec.schema if c not in frame.columns]
    if missing:
        raise ReportError(
            f"table {spec.name}: the computed frame lacks the columns {missing} of schema "
            f"version {spec.version}"
        )
    extra = [c for c in frame.columns if c not in spec.schema]
    if extra:
        log.debug("table %s: columns outside the schema left out: %s", spec.name, extra)
    out = frame.select([pl.col(c).cast(t, strict=True) for c, t in spec.schema.items()])
    rules = ROW_RULES.get(spec.name)
    if rules is not None:
        validate_frame(rules, out, file=f"report table {spec.name}")
    order = list(spec.key) + [
        c for c, t in spec.schema.items() if c not in spec.key and _sortable(t)
    ]
    return out.sort(order, nulls_last=True, maintain_order=True)


def empty(spec: TableSpec) -> pl.DataFrame:
    """A frame with no rows in the table's schema."""
    return pl.DataFrame(schema=spec.schema)


def status_counts(tables: Mapping[str, pl.DataFrame]) -> dict[str, dict[str, int]]:
    """Rows per ``status`` of every table that has one (scenario runs, frontier points)."""
    out: dict[str, dict[str, int]] = {}
    for name, frame in tables.items():
        if "status" in frame.columns:
            counts = frame.group_by("status").len().sort("status")
            out[name] = {str(s): int(n) for s, n in counts.iter_rows()}
    return out
