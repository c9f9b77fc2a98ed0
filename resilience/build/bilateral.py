r"""Bilateral dependency: who supplies each importer, from trade flows (lazy, streaming).

This is the hot path of ``resilience build`` on a full BACI year (about 10 M flows):
one lazy query from HS6 flows to importer x commodity x stage x supplier shares and
their concentration. Nothing here collects; callers choose the engine (streaming for
BACI-scale inputs).

Shares
------
For importer :math:`m`, commodity-stage :math:`c` and year :math:`y`, the import share of
supplier :math:`s` is

.. math:: s_{m,c,s} = v_{m,c,s} / \sum_{s'} v_{m,c,s'}

with :math:`v` the import value in USD (values are complete in BACI; quantities are
missing for some flows, so shares are value-based). An HS code that serves two
commodity-stage rows contributes to both.
"""

from __future__ import annotations

import polars as pl

from resilience.build.content import (
    CONTENT_COLUMNS,
    check_content_map,
    content_aggregations,
    join_content,
    unit_value_per_content,
)
from resilience.metrics.sums import stable_sum

__all__ = ["DEPENDENCY_KEY", "bilateral_concentration", "bilateral_shares"]

#: Key of a bilateral dependency row.
DEPENDENCY_KEY = ["year", "importer_iso3", "commodity", "stage", "supplier_iso3"]
_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def bilateral_shares(flows: pl.LazyFrame, hs_map: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Aggregate HS6 flows to (year, importer, commodity, stage, supplier) with shares.

    Parameters
    ----------
    flows
        ``TradeFlows`` columns: ``year, exporter_iso3, importer_iso3, hs6_code,
        value_usd, quantity_t`` (e.g. :func:`resilience.ingest.baci.scan_baci`).
    hs_map
        ``hs6_code, commodity, stage`` (:func:`resilience.reference.commodities.hs_to_commodity`).

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, supplier_iso3, import_value_usd,
        import_quantity_t, import_share``; ``import_quantity_t`` is null when no flow of
        the group reports a quantity. A map (DataFrame) with content columns
        (:func:`resilience.reference.content.content_map`) adds
        ``import_quantity_content, content_unit, content_basis,
        unit_value_usd_per_content_unit``, converted per HS6 code before the sum.
    """
    content = hs_map if isinstance(hs_map, pl.DataFrame) else None
    with_content = content is not None and all(c in content.columns for c in CONTENT_COLUMNS)
    if content is not None and with_content and "exporter_iso3" in content.columns:
        hs_map = content.filter(pl.col("exporter_iso3").is_null())
    mapping = hs_map.lazy().select("hs6_code", "commodity", "stage")
    if isinstance(hs_map, pl.DataFrame):
        # The join keeps only mapped codes (about 1-2 % of a BACI year); filtering on them
        # first lets the optimiser place the filter right above the scan, so that the
        # country-code mapping, projections and join run on the few mapped flows only
        # (1.7x faster on a 10 M-row year, 4x with scan_baci's fast parsing; see
        # benchmarks/README.md). Same rows as the inner join alone: a null or unmapped
        # code is dropped by both.
        flows = flows.filter(pl.col("hs6_code").is_in(hs_map["hs6_code"].unique().implode()))
    # Flows that already carry their commodity-stage (the stage rule,
    # resilience.build.stage_rule) join on it; others get every map row of their code.
    staged = {"commodity", "stage"} <= set(flows.collect_schema().names())
    key = ["hs6_code", "commodity", "stage"] if staged else ["hs6_code"]
    joined = flows.select(
        "year",
        "importer_iso3",
        "exporter_iso3",
        *key,
        "value_usd",
        "quantity_t",
    ).join(mapping, on=key, how="inner")
    if content is not None and with_content:
        joined = join_content(joined, check_content_map(content, "hs_map"))
    summed = joined.group_by(*_GROUP, pl.col("exporter_iso3").alias("supplier_iso3")).agg(
        stable_sum(pl.col("value_usd")).alias("import_value_usd"),
        pl.when(pl.col("quantity_t").count() > 0)
        .then(stable_sum(pl.col("quantity_t")))
        .alias("import_quantity_t"),
        *(
            [
                *content_aggregations(),
                stable_sum(pl.col("value_usd").filter(pl.col("quantity_t").is_null())).alias(
                    "_value_no_q"
                ),
            ]
            if with_content
            else []
        ),
    )
    if with_content:
        summed = (
            summed.with_columns(
                unit_value_per_content(
                    pl.col("import_value_usd"), pl.col("_value_no_q"), pl.col("quantity_content")
                )
            )
            .rename({"quantity_content": "import_quantity_content"})
            .drop("_value_no_q")
        )
    return summed.with_columns(
        (pl.col("import_value_usd") / stable_sum(pl.col("import_value_usd")).over(_GROUP)).alias(
            "import_share"
        )
    )


def bilateral_concentration(shares: pl.LazyFrame) -> pl.LazyFrame:
    r"""Per (year, importer, commodity, stage): HHI, top supplier, top-1 and top-3 shares.

    Notes
    -----
    .. math:: HHI_{m,c} = \sum_s s_{m,c,s}^2 \in [1/n, 1]

    ``top3_share`` is the sum of the three largest shares.
    """
    return shares.group_by(_GROUP).agg(
        stable_sum(pl.col("import_share") ** 2).alias("hhi"),
        pl.col("supplier_iso3")
        .sort_by("import_share", descending=True)
        .first()
        .alias("top_supplier_iso3"),
        pl.col("import_share").max().alias("top1_share"),
        stable_sum(pl.col("import_share").top_k(3)).alias("top3_share"),
        stable_sum(pl.col("import_value_usd")).alias("import_value_usd"),
        pl.len().alias("n_suppliers"),
    )
