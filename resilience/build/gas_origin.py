r"""Gas by origin: Eurostat's imports from Russia replace BACI's transit-country split.

BACI records pipeline gas under the country it last crossed (Czechia "imports" from
Germany gas that came from Russia) and misses Germany's confidential imports from Russia
altogether. Eurostat ``nrg_ti_gas`` reports imports by country of origin. For an importer
and year that Eurostat covers (EU/EFTA/candidate reporters, 2011-2020) the natural-gas
supplier split is rebuilt:

.. math::

    s_{\mathrm{RUS}} = R / T, \qquad
    s_p = (1 - s_{\mathrm{RUS}}) \, v_p / \sum_{p' \ne \mathrm{RUS}} v_{p'}

with :math:`R` and :math:`T` Eurostat's imports from Russia and in total (TJ GCV, natural
gas G3000 incl. LNG) and :math:`v_p` BACI's import values from the other partners. The
importer's BACI totals are kept and re-split: values by these shares, tonnes likewise with
BACI's tonnes in place of values for the other partners (so each keeps its unit value);
only the split changes. Russia gets a row when BACI has none (Germany); a partner whose
share becomes 0 (Germany as Czechia's "supplier" when Eurostat puts all of Czechia's
imports on Russia) is dropped, counted in the log. Where Eurostat lacks either number
(``:``), or its total is 0, or BACI has no gas imports for the importer and year, BACI's
rows stay as they are. Eurostat's other partners (Norway, Algeria, Qatar...) are not in
the extract, so the non-Russian remainder keeps BACI's (transit-country) split.
"""

from __future__ import annotations

import logging

import polars as pl

from resilience.metrics.sums import stable_sum

__all__ = ["GAS", "gas_origin_provenance", "gas_origin_trade", "with_gas_origin"]

log = logging.getLogger(__name__)

#: The (commodity, stage) the replacement applies to.
GAS = ("natural_gas", "mining")
_KEY = ["year", "importer_iso3"]


def gas_origin_trade(trade: pl.DataFrame, gas: pl.DataFrame) -> pl.DataFrame:
    """``trade`` (``trade.parquet`` columns) with gas rows re-split by origin.

    Parameters
    ----------
    trade
        Bilateral trade rows.
    gas
        :func:`resilience.data.load_eu_gas_imports_by_origin`.

    Returns
    -------
    polars.DataFrame
        Same columns; the rebuilt groups carry ``source`` "Eurostat (nrg_ti_gas) ...".
    """
    origin = (
        gas.filter(pl.col("product") == "natural_gas")
        .pivot("exporter_iso3", index=_KEY, values="quantity_tj_gcv")
        .select(*_KEY, pl.col("RUS").alias("_r"), pl.col("WLD").alias("_t"))
        .filter(pl.col("_r").is_not_null() & pl.col("_t").is_not_null() & (pl.col("_t") > 0))
        .with_columns((pl.col("_r") / pl.col("_t")).clip(0.0, 1.0).alias("_s_rus"))
        .with_columns(pl.col("year").cast(pl.Int32))
    )
    is_gas = (pl.col("commodity") == GAS[0]) & (pl.col("stage") == GAS[1])
    gas_rows = trade.filter(is_gas).join(origin.select(_KEY), on=_KEY, how="semi")
    if gas_rows.height == 0:
        return trade
    vintage = str(gas["vintage"][0])
    totals = gas_rows.group_by(_KEY).agg(
        stable_sum(pl.col("value_usd")).alias("_v"),
        stable_sum(pl.col("quantity_t")).alias("_q"),
        stable_sum(pl.col("value_usd").filter(pl.col("exporter_iso3") != "RUS")).alias("_v_other"),
        stable_sum(pl.col("quantity_t").filter(pl.col("exporter_iso3") != "RUS")).alias("_q_other"),
        pl.col("source").first().alias("_baci_source"),
        pl.col("vintage").first().alias("_baci_vintage"),
    )
    frame = totals.join(origin, on=_KEY, how="inner")
    others = (
        gas_rows.filter(pl.col("exporter_iso3") != "RUS")
        .join(frame, on=_KEY, how="inner")
        .with_columns(
            pl.when(pl.col("_v_other") > 0)
            .then((1.0 - pl.col("_s_rus")) * pl.col("value_usd") / pl.col("_v_other"))
            .otherwise(0.0)
            .alias("_share"),
            pl.when(pl.col("_q_other") > 0)
            .then((1.0 - pl.col("_s_rus")) * pl.col("quantity_t") / pl.col("_q_other"))
            .alias("_q_share"),
        )
    )
    russia = (
        frame.with_columns(
            pl.lit(GAS[0]).alias("commodity"),
            pl.lit(GAS[1]).alias("stage"),
            pl.lit("RUS").alias("exporter_iso3"),
            pl.col("_s_rus").alias("_share"),
            pl.col("_s_rus").alias("_q_share"),
        )
        .join(
            gas_rows.filter(pl.col("exporter_iso3") == "RUS").select(
                *_KEY, "n_flows", "n_flows_missing_quantity"
            ),
            on=_KEY,
            how="left",
        )
        .with_columns(
            pl.col("n_flows").fill_null(0),
            pl.col("n_flows_missing_quantity").fill_null(0),
            pl.lit(0.0).alias("value_usd_missing_quantity"),
        )
    )
    columns = trade.columns
    rebuilt = (
        pl.concat([others, russia], how="diagonal_relaxed")
        .with_columns(
            (pl.col("_v") * pl.col("_share")).alias("value_usd"),
            (pl.col("_q") * pl.col("_q_share")).alias("quantity_t"),
            pl.format(
                "Eurostat (nrg_ti_gas) shares by origin, Russia and total; totals {}",
                "_baci_source",
            ).alias("source"),
            pl.format("{}; {}", pl.lit(vintage), "_baci_vintage").alias("vintage"),
        )
        .filter(pl.col("_share") > 0)
    )
    dropped = others.filter(pl.col("_share") <= 0).height
    if dropped:
        log.info(
            "gas by origin: %d transit-partner rows get share 0 from Eurostat and are dropped",
            dropped,
        )
    log.info("gas by origin: %d importer-years re-split by Eurostat nrg_ti_gas", frame.height)
    kept = trade.join(frame.select(_KEY).with_columns(_gas=pl.lit(True)), on=_KEY, how="left")
    kept = kept.filter(~(is_gas & pl.col("_gas").fill_null(False))).drop("_gas")
    return (
        pl.concat([kept, rebuilt.select(columns)], how="vertical_relaxed")
        .select(columns)
        .sort("year", "importer_iso3", "commodity", "stage", "exporter_iso3")
    )


def _gas_table() -> pl.DataFrame | None:
    from resilience import data
    from resilience.build.monthly import EU_GAS_IMPORTS
    from resilience.paths import datasets_dir

    path = datasets_dir() / EU_GAS_IMPORTS
    if not path.exists():
        log.warning("%s absent: gas stays on BACI's transit-country split", path)
        return None
    return data.load_eu_gas_imports_by_origin(path)


def with_gas_origin(trade: pl.LazyFrame) -> pl.LazyFrame:
    """``trade`` with its natural-gas rows re-split by origin (:func:`gas_origin_trade`).

    Only the gas rows are collected; the rest stays lazy.
    """
    gas = _gas_table()
    if gas is None:
        return trade
    is_gas = (pl.col("commodity") == GAS[0]) & (pl.col("stage") == GAS[1])
    rebuilt = gas_origin_trade(trade.filter(is_gas).collect(), gas)
    return pl.concat([trade.filter(~is_gas), rebuilt.lazy()], how="vertical_relaxed")


def gas_origin_provenance(table: pl.DataFrame) -> pl.DataFrame:
    """Name Eurostat as the source of re-split gas rows of a risk table.

    ``table`` has ``year, importer_iso3, commodity, stage, basis, source, vintage``.
    """
    gas = _gas_table()
    if gas is None or table.height == 0:
        return table
    covered = (
        gas.filter(pl.col("product") == "natural_gas")
        .pivot("exporter_iso3", index=_KEY, values="quantity_tj_gcv")
        .filter(pl.col("RUS").is_not_null() & (pl.col("WLD") > 0))
        .select(pl.col("year").cast(table.schema["year"]), "importer_iso3")
        .with_columns(pl.lit(True).alias("_eurostat"), pl.lit(str(gas["vintage"][0])).alias("_v"))
    )
    hit = (
        pl.col("_eurostat").fill_null(False)
        & (pl.col("commodity") == GAS[0])
        & (pl.col("stage") == GAS[1])
        & (pl.col("basis") == "bilateral")
    )
    return (
        table.join(covered, on=_KEY, how="left")
        .with_columns(
            pl.when(hit)
            .then(pl.format("Eurostat (nrg_ti_gas) shares by origin; totals {}", "source"))
            .otherwise(pl.col("source"))
            .alias("source"),
            pl.when(hit)
            .then(pl.format("{}; {}", "_v", "vintage"))
            .otherwise(pl.col("vintage"))
            .alias("vintage"),
        )
        .drop("_eurostat", "_v")
    )
