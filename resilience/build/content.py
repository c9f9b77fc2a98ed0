r"""Gross trade tonnes to content: the conversion applied per HS6 code before aggregating.

Trade is reported in gross shipping weight; production in the commodity's unit (tonnes
of metal or oxide content, million m3 of gas...). Each HS6 flow is converted with its
factor from :func:`resilience.reference.content.content_map` *before* flows of several
HS codes are summed to a commodity, since one commodity mixes products of very
different grades (cobalt hydroxide at about 35 % Co and refined cobalt at 100 %):

.. math:: q^{content}_{m,c,s} = \sum_{k \in c} q^{gross}_{m,s,k} \, f_{k,c}

The unit value on that basis divides only the value of flows that report a quantity:

.. math:: uv_{m,c,s} = (v_{m,c,s} - v^{no\,q}_{m,c,s}) / q^{content}_{m,c,s}
"""

from __future__ import annotations

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.metrics.sums import stable_sum

__all__ = [
    "CONTENT_COLUMNS",
    "check_content_map",
    "content_aggregations",
    "join_content",
    "unit_value_per_content",
]

#: Columns a content map adds to the ``hs6_code, commodity, stage`` map.
CONTENT_COLUMNS = ("content_per_gross_t", "content_unit", "content_basis")


def check_content_map(mapping: pl.DataFrame, name: str = "content map") -> pl.DataFrame:
    """Reject a map row without a positive factor, naming row, column and value.

    Parameters
    ----------
    mapping
        ``hs6_code, commodity, stage`` plus :data:`CONTENT_COLUMNS`.
    name
        Name used in messages.

    Returns
    -------
    polars.DataFrame
        ``mapping`` unchanged.

    Raises
    ------
    resilience.errors.DataError
        A missing content column, or a factor that is missing, zero, negative or not
        finite, or a missing unit or basis.
    """
    missing = [c for c in CONTENT_COLUMNS if c not in mapping.columns]
    if missing:
        raise DataError(
            [DataProblem(name, None, c, None, "required column is missing") for c in missing]
        )
    numbered = mapping.with_row_index("_row", offset=1)
    factor = pl.col("content_per_gross_t")
    problems = [
        DataProblem(name, row, "content_per_gross_t", value, f"no valid content factor for {hs6}")
        for row, hs6, value in numbered.filter(
            (factor.is_null() | ~factor.is_finite() | (factor <= 0)).fill_null(True)
        )
        .select("_row", "hs6_code", "content_per_gross_t")
        .iter_rows()
    ]
    for column in ("content_unit", "content_basis"):
        problems += [
            DataProblem(name, row, column, None, f"missing for {hs6}")
            for row, hs6 in numbered.filter(pl.col(column).is_null())
            .select("_row", "hs6_code")
            .iter_rows()
        ]
    if problems:
        raise DataError(problems)
    return mapping


def join_content(flows: pl.LazyFrame, mapping: pl.DataFrame) -> pl.LazyFrame:
    """Attach each flow's content factor, unit and basis (exporter-specific where listed).

    Parameters
    ----------
    flows
        HS6 flows already mapped to commodities: ``hs6_code, commodity, stage,
        exporter_iso3`` and the quantities.
    mapping
        :func:`resilience.reference.content.content_map` output (checked by
        :func:`check_content_map`); rows with an ``exporter_iso3`` override the default
        factor for that exporter's flows.

    Returns
    -------
    polars.LazyFrame
        ``flows`` plus :data:`CONTENT_COLUMNS`.
    """
    key = ["hs6_code", "commodity", "stage"]
    by_exporter = "exporter_iso3" in mapping.columns
    default = mapping.filter(pl.col("exporter_iso3").is_null()) if by_exporter else mapping
    out = flows.join(default.lazy().select(*key, *CONTENT_COLUMNS), on=key, how="left")
    if not by_exporter:
        return out
    override = mapping.filter(pl.col("exporter_iso3").is_not_null()).select(
        *key, "exporter_iso3", pl.col("content_per_gross_t").alias("_factor_exporter")
    )
    return (
        out.join(override.lazy(), on=[*key, "exporter_iso3"], how="left")
        .with_columns(
            pl.coalesce("_factor_exporter", "content_per_gross_t").alias("content_per_gross_t")
        )
        .drop("_factor_exporter")
    )


def content_aggregations(quantity_t: str = "quantity_t") -> list[pl.Expr]:
    """Aggregations turning HS6 rows (with a content map joined) into content columns.

    Parameters
    ----------
    quantity_t
        Gross-quantity column of the flows, in tonnes.

    Returns
    -------
    list of polars.Expr
        ``quantity_content`` (sum of gross tonnes times the factor; null when no flow
        of the group reports a quantity), ``content_unit`` and ``content_basis`` (one
        per commodity-stage, so the first of the group).
    """
    q = pl.col(quantity_t)
    return [
        pl.when(q.count() > 0)
        .then(stable_sum(q * pl.col("content_per_gross_t")))
        .alias("quantity_content"),
        pl.col("content_unit").first(),
        pl.col("content_basis").first(),
    ]


def unit_value_per_content(
    value_usd: pl.Expr, value_usd_missing_quantity: pl.Expr, quantity_content: pl.Expr
) -> pl.Expr:
    """USD per content unit over the flows that report a quantity (null without one).

    Parameters
    ----------
    value_usd
        Value of all flows.
    value_usd_missing_quantity
        Value of the flows without a quantity (null counts as 0).
    quantity_content
        Content quantity of the flows with one.
    """
    priced = value_usd - value_usd_missing_quantity.fill_null(0.0)
    return (
        pl.when(quantity_content > 0)
        .then(priced / quantity_content)
        .otherwise(None)
        .alias("unit_value_usd_per_content_unit")
    )
