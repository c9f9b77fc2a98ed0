r"""Trade screening: robust unit-value bands per HS6 and year, and the ``trade_repairs`` list.

CEPII BACI values are reconciled from both declarations of a flow and are the more
reliable field; quantities are the weak one (missing for some flows, and in error by
orders of magnitude for others: kilograms keyed as tonnes, a product mis-coded). A wrong
quantity passes straight into import reliance and content volumes, so every HS6 flow is
screened on its unit value before it is aggregated. Nothing is changed in silence: every
flagged flow becomes one row of the ``trade_repairs`` table (shipped as
``datasets/trade_repairs.parquet``) with the original and the repaired numbers.

The band
--------
For each HS6 code and year, on the flows that have a positive quantity and a value of at
least :data:`BAND_MIN_VALUE_USD` (small parcels and samples have the noisiest unit values
and would widen the band for everyone), with :math:`u = \ln(\text{value}/\text{quantity})`:

.. math:: \tilde u = \operatorname{median}(u), \qquad
          \text{MAD}_n = 1.4826 \cdot \operatorname{median}|u - \tilde u|, \qquad
          \text{band} = \tilde u \pm k \cdot \max(\text{MAD}_n, \text{MAD}_{min})

the median absolute deviation scaled to a normal standard deviation (Leys, Ley, Klein,
Bernard and Licata 2013, "Detecting outliers: Do not use standard deviation around the
mean, use absolute deviation around the median", J. Exp. Soc. Psychol. 49(4): 764-766;
also Rousseeuw and Croux 1993). ``k`` = :data:`K_MAD` = 3 is Leys et al.'s "very
conservative" criterion. The band is per HS6 and year because a unit value is only
comparable within one product and period. An HS6-year with fewer than
:data:`MIN_BAND_FLOWS` band flows uses the band of the HS6 pooled over all screened
years (``band_basis = hs6_pooled``); with fewer still it has no band and its flows are
not screened (logged with the count).

Where the mass balance says the quantity cannot be right, a weaker statistical signal is
enough: an exporter that produces none of a commodity-stage (no production row, or zero,
in ``production.csv``) and exports more than ``1 + MASS_BALANCE_MARGIN`` times what it
imports of it cannot have shipped that tonnage; its flows below the band are judged at
``k`` = :data:`K_MAD_MASS_BALANCE` = 2 (Leys et al.'s "poorly conservative" criterion,
used only with this independent evidence). This is what catches the US "natural
graphite" exports of 170 kt (2020) and 493 kt (2021) to the Dominican Republic at USD
94 and 75 per tonne, in an HS code whose unit values are dispersed.

The rule: re-derive, quarantine or keep
---------------------------------------
A flow outside its band is

``quantity_rederived``
    the value stands and the quantity becomes ``value / band median unit value``: the
    usual case, and always for a unit value below the band (too many tonnes for the
    money: the quantity is what is wrong; the value still counts in shares);
``quarantined``
    when the unit value is more than :data:`QUARANTINE_FACTOR` (100) times the band
    median: the value itself is suspect (a value keyed in the wrong unit inflates a
    supplier's share) and the flow is excluded from the aggregation, shares and
    quantities alike.
``kept``
    flagged and listed, but left as recorded, when the flow is within
    :data:`PAIR_TOLERANCE` (2x) of the same exporter-importer-HS6 pair's median unit
    value in at least :data:`PAIR_MIN_OTHER_YEARS` other screened years and within
    :data:`PAIR_MAX_FACTOR` (10x) of the band median: a price that a pair pays year
    after year is a contract or regional price (Mozambique's pipeline gas to South
    Africa, recorded as 271111, at USD 90-145/t against LNG's USD 360-1 200/t), not a
    one-off quantity error. Beyond 10x no price difference is plausible and the rule
    above applies.

Mirror fill
-----------
BACI is itself a mirror reconciliation (Gaulier and Zignago 2010): each flow is one
figure built from the exporter's and the importer's declarations, and its quantity is
missing only where neither declared one. The shipped BACI extract therefore has no
"partner figure" left to fill from. :func:`mirror_fill` fills a missing quantity from a
second source that reports the same flow (e.g. UN Comtrade records, reporter and
partner), counted as ``mirror_filled`` repairs. The refresh does not call it: the
shipped inputs hold no second source at flow level (see the data card).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.metrics.sums import stable_sum

__all__ = [
    "BAND_MIN_VALUE_USD",
    "K_MAD",
    "K_MAD_MASS_BALANCE",
    "MASS_BALANCE_MARGIN",
    "MIN_BAND_FLOWS",
    "PAIR_MAX_FACTOR",
    "PAIR_MIN_OTHER_YEARS",
    "PAIR_TOLERANCE",
    "QUARANTINE_FACTOR",
    "REPAIRS_SCHEMA",
    "ScreenResult",
    "mirror_fill",
    "no_production_exporters",
    "screen_flows",
    "screen_trade",
    "unit_value_bands",
]

log = logging.getLogger(__name__)

#: Half-width of the band in scaled MADs (Leys et al. 2013: 3 = "very conservative").
K_MAD = 3.0
#: Half-width where the mass balance independently rules the quantity out (Leys: 2).
K_MAD_MASS_BALANCE = 2.0
#: Scaling of the MAD to a normal standard deviation (1 / Phi^-1(3/4)).
MAD_TO_SD = 1.4826
#: Floor of the scaled MAD of log unit values (a band never narrower than +/- k * 0.1).
MIN_LOG_MAD = 0.1
#: Flows below this value (USD) are screened but do not shape the band.
BAND_MIN_VALUE_USD = 100_000.0
#: Fewest band flows for an HS6-year band (else the HS6 pooled over the years).
MIN_BAND_FLOWS = 20
#: A unit value this many times the band median makes the value itself suspect.
QUARANTINE_FACTOR = 100.0
#: A flagged flow within this factor of its own pair's unit value in other years ...
PAIR_TOLERANCE = 2.0
#: ... with at least this many other years of the pair ...
PAIR_MIN_OTHER_YEARS = 2
#: ... and within this factor of the band median is kept (a contract or regional price).
PAIR_MAX_FACTOR = 10.0
#: Exports above (1 + margin) x imports, with no production, fail the mass balance.
MASS_BALANCE_MARGIN = 0.25

REQUIRED = ("year", "exporter_iso3", "importer_iso3", "hs6_code", "value_usd", "quantity_t")

#: Columns of the ``trade_repairs`` table.
REPAIRS_SCHEMA = pl.Schema(
    {
        "year": pl.Int32(),
        "hs6_code": pl.String(),
        "exporter_iso3": pl.String(),
        "importer_iso3": pl.String(),
        "value_usd": pl.Float64(),
        "quantity_t_original": pl.Float64(),
        "quantity_t_repaired": pl.Float64(),
        "action": pl.String(),
        "reason": pl.String(),
        "unit_value_usd_per_t": pl.Float64(),
        "band_low_usd_per_t": pl.Float64(),
        "band_median_usd_per_t": pl.Float64(),
        "band_high_usd_per_t": pl.Float64(),
        "band_basis": pl.String(),
        "k_mad": pl.Float64(),
        "source": pl.String(),
        "vintage": pl.String(),
        # stage_reassigned rows only (resilience.build.stage_rule); null otherwise
        "commodity": pl.String(),
        "stage_original": pl.String(),
        "stage_repaired": pl.String(),
        "value_usd_reassigned": pl.Float64(),
    }
)

#: Columns only a ``stage_reassigned`` repair fills (null in the screening's rows).
STAGE_COLUMNS = ("commodity", "stage_original", "stage_repaired", "value_usd_reassigned")


def _no_stage() -> list[pl.Expr]:
    return [pl.lit(None, REPAIRS_SCHEMA[c]).alias(c) for c in STAGE_COLUMNS]


@dataclass(frozen=True)
class ScreenResult:
    """Screened flows and the repairs made to them.

    Attributes
    ----------
    flows
        The input flows without the quarantined ones, quantities re-derived where
        repaired; same columns as the input.
    repairs
        One row per repaired or quarantined flow (:data:`REPAIRS_SCHEMA`).
    bands
        The unit-value band of each HS6-year (:func:`unit_value_bands`).
    """

    flows: pl.DataFrame
    repairs: pl.DataFrame
    bands: pl.DataFrame


def _check(flows: pl.DataFrame, name: str) -> None:
    missing = [c for c in REQUIRED if c not in flows.columns]
    if missing:
        raise DataError(
            [DataProblem(name, None, c, None, "required column is missing") for c in missing]
        )
    bad = flows.with_row_index("_row", offset=1).filter(
        (pl.col("value_usd") < 0) | (pl.col("quantity_t") < 0)
    )
    if bad.height:
        raise DataError(
            [
                DataProblem(name, row, "value_usd, quantity_t", f"{v}, {q}", "negative number")
                for row, v, q in bad.select("_row", "value_usd", "quantity_t").head(50).iter_rows()
            ]
        )


def _log_uv() -> pl.Expr:
    return (pl.col("value_usd") / pl.col("quantity_t")).log()


def _band_stats(frame: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    u = pl.col("_u")
    return frame.group_by(group).agg(
        pl.len().cast(pl.Int64).alias("n_band_flows"),
        u.median().alias("log_median"),
        ((u - u.median()).abs().median() * MAD_TO_SD).alias("log_mad"),
    )


def unit_value_bands(flows: pl.DataFrame) -> pl.DataFrame:
    """The unit-value band of every HS6-year present in ``flows``.

    Parameters
    ----------
    flows
        HS6 flows (``year, exporter_iso3, importer_iso3, hs6_code, value_usd,
        quantity_t``).

    Returns
    -------
    polars.DataFrame
        ``year, hs6_code, band_basis`` (``hs6_year``, ``hs6_pooled`` or null where no
        band can be set), ``n_band_flows, log_median, log_mad`` (scaled, floored at
        :data:`MIN_LOG_MAD`).
    """
    usable = flows.filter(
        (pl.col("quantity_t") > 0)
        & (pl.col("value_usd") > 0)
        & (pl.col("value_usd") >= BAND_MIN_VALUE_USD)
    ).with_columns(_log_uv().alias("_u"))
    yearly = _band_stats(usable, ["year", "hs6_code"])
    pooled = _band_stats(usable, ["hs6_code"]).rename(
        {"n_band_flows": "_n_pool", "log_median": "_med_pool", "log_mad": "_mad_pool"}
    )
    cells = flows.select("year", "hs6_code").unique()
    yearly_ok = pl.col("n_band_flows").fill_null(0) >= MIN_BAND_FLOWS
    pooled_ok = pl.col("_n_pool").fill_null(0) >= MIN_BAND_FLOWS
    return (
        cells.join(yearly, on=["year", "hs6_code"], how="left")
        .join(pooled, on="hs6_code", how="left")
        .select(
            "year",
            "hs6_code",
            pl.when(yearly_ok)
            .then(pl.lit("hs6_year"))
            .when(pooled_ok)
            .then(pl.lit("hs6_pooled"))
            .alias("band_basis"),
            pl.when(yearly_ok)
            .then(pl.col("n_band_flows"))
            .when(pooled_ok)
            .then(pl.col("_n_pool"))
            .alias("n_band_flows"),
            pl.when(yearly_ok)
            .then(pl.col("log_median"))
            .when(pooled_ok)
            .then(pl.col("_med_pool"))
            .alias("log_median"),
            pl.when(yearly_ok)
            .then(pl.col("log_mad"))
            .when(pooled_ok)
            .then(pl.col("_mad_pool"))
            .clip(lower_bound=MIN_LOG_MAD)
            .alias("log_mad"),
        )
        .sort("year", "hs6_code")
    )


def no_production_exporters(
    flows: pl.DataFrame, production: pl.DataFrame, hs_map: pl.DataFrame
) -> pl.DataFrame:
    """Exporters that fail the mass balance: no production, exports > imports x (1 + margin).

    Parameters
    ----------
    flows
        HS6 flows.
    production
        ``year, commodity, stage, country_iso3, quantity`` (``production.csv``). A
        country with no row, or only zero quantities, for a commodity-stage and year
        produces none; a null (withheld) quantity is not "none". A commodity-stage with
        no production rows at all that year is not judged.
    hs_map
        ``hs6_code, commodity, stage``.

    Returns
    -------
    polars.DataFrame
        ``year, exporter_iso3, hs6_code`` of the flows to judge at
        :data:`K_MAD_MASS_BALANCE`.
    """
    mapping = hs_map.select("hs6_code", "commodity", "stage").unique()
    tonnes = flows.filter(pl.col("quantity_t").is_not_null()).join(mapping, on="hs6_code")
    keys = ["year", "commodity", "stage"]
    exports = tonnes.group_by(*keys, pl.col("exporter_iso3").alias("country_iso3")).agg(
        stable_sum(pl.col("quantity_t")).alias("_exports_t")
    )
    imports = tonnes.group_by(*keys, pl.col("importer_iso3").alias("country_iso3")).agg(
        stable_sum(pl.col("quantity_t")).alias("_imports_t")
    )
    prod = production.select(
        pl.col("year").cast(pl.Int32), "commodity", "stage", "country_iso3", "quantity"
    )
    covered = prod.select(keys).unique()
    producing = (
        prod.filter(pl.col("quantity").is_null() | (pl.col("quantity") > 0))
        .select(*keys, "country_iso3")
        .unique()
    )
    failing = (
        exports.with_columns(pl.col("year").cast(pl.Int32))
        .join(covered, on=keys, how="semi")
        .join(producing, on=[*keys, "country_iso3"], how="anti")
        .join(
            imports.with_columns(pl.col("year").cast(pl.Int32)),
            on=[*keys, "country_iso3"],
            how="left",
        )
        .filter(
            pl.col("_exports_t") > (1.0 + MASS_BALANCE_MARGIN) * pl.col("_imports_t").fill_null(0.0)
        )
    )
    return (
        failing.join(mapping, on=["commodity", "stage"])
        .select(
            pl.col("year").cast(flows.schema["year"]),
            pl.col("country_iso3").alias("exporter_iso3"),
            "hs6_code",
        )
        .unique()
        .sort("year", "exporter_iso3", "hs6_code")
    )


def _reason(action: str) -> pl.Expr:
    factor = (pl.col("_u") - pl.col("log_median")).exp()
    side = pl.when(factor < 1).then(pl.lit("below")).otherwise(pl.lit("above"))
    times = pl.when(factor < 1).then(1.0 / factor).otherwise(factor)
    base = pl.format(
        "unit value USD {}/t is {}x {} the band median USD {}/t ({} band, k={})",
        pl.col("_uv").round_sig_figs(4),
        times.round_sig_figs(3),
        side,
        pl.col("log_median").exp().round_sig_figs(4),
        pl.col("band_basis"),
        pl.col("_k"),
    )
    if action == "kept":
        return pl.format(
            "{}; kept: within {}x of the same exporter-importer pair's unit value in {} other "
            "years (a contract or regional price, not a quantity error)",
            base,
            pl.lit(PAIR_TOLERANCE),
            pl.col("_n_pair_other"),
        )
    if action == "quarantined":
        return pl.format(
            "{}; above {}x the median the value itself is suspect",
            base,
            pl.lit(int(QUARANTINE_FACTOR)),
        )
    return pl.concat_str(
        base,
        pl.when(pl.col("_mass"))
        .then(pl.lit("; exporter produces none and exports exceed its imports"))
        .otherwise(pl.lit("")),
    )


def _with_pair_history(flagged: pl.DataFrame, marked: pl.DataFrame) -> pl.DataFrame:
    """Add ``_pair_u`` (median log unit value of the pair's other years) and its count."""
    pair = ["exporter_iso3", "importer_iso3", "hs6_code"]
    history = marked.filter(pl.col("_u").is_not_null()).select(
        *pair, pl.col("year").alias("_other_year"), pl.col("_u").alias("_other_u")
    )
    stats = (
        flagged.select("_idx", "year", *pair)
        .join(history, on=pair, how="inner")
        .filter(pl.col("_other_year") != pl.col("year"))
        .group_by("_idx")
        .agg(
            pl.col("_other_u").median().alias("_pair_u"),
            pl.len().cast(pl.Int64).alias("_n_pair_other"),
        )
    )
    return flagged.join(stats, on="_idx", how="left").with_columns(
        pl.col("_n_pair_other").fill_null(0)
    )


def screen_flows(
    flows: pl.DataFrame,
    *,
    mass_balance: pl.DataFrame | None = None,
    name: str = "trade flows",
) -> ScreenResult:
    """Flag flows outside their unit-value band; re-derive, quarantine or keep each one.

    Parameters
    ----------
    flows
        HS6 flows: ``year, exporter_iso3, importer_iso3, hs6_code, value_usd,
        quantity_t`` (null where missing) and optionally ``source, vintage``.
    mass_balance
        :func:`no_production_exporters` output: these exporters' flows of these codes
        are judged at :data:`K_MAD_MASS_BALANCE` below the band.
    name
        What ``flows`` is, for error messages.

    Returns
    -------
    ScreenResult
        Screened flows, the repairs and the bands.

    Raises
    ------
    resilience.errors.DataError
        A required column is missing, or a value or quantity is negative (file, row,
        column and value named).
    """
    _check(flows, name)
    bands = unit_value_bands(flows)
    columns = flows.columns
    marked = flows.with_row_index("_idx").join(bands, on=["year", "hs6_code"], how="left")
    if mass_balance is not None and mass_balance.height:
        marked = marked.join(
            mass_balance.select("year", "exporter_iso3", "hs6_code").with_columns(
                pl.lit(True).alias("_mass")
            ),
            on=["year", "exporter_iso3", "hs6_code"],
            how="left",
        )
    else:
        marked = marked.with_columns(pl.lit(None, pl.Boolean).alias("_mass"))
    has_q = (pl.col("quantity_t") > 0) & (pl.col("value_usd") > 0)
    marked = marked.with_columns(
        pl.col("_mass").fill_null(False),
        pl.when(has_q).then(_log_uv()).alias("_u"),
        pl.when(has_q).then(pl.col("value_usd") / pl.col("quantity_t")).alias("_uv"),
    ).with_columns(
        pl.when(pl.col("_mass") & (pl.col("_u") < pl.col("log_median")))
        .then(pl.lit(K_MAD_MASS_BALANCE))
        .otherwise(pl.lit(K_MAD))
        .alias("_k")
    )
    z = (pl.col("_u") - pl.col("log_median")) / pl.col("log_mad")
    outside = (z.abs() > pl.col("_k")).fill_null(False)
    off = pl.col("_u") - pl.col("log_median")
    quarantine = off > math.log(QUARANTINE_FACTOR)
    kept = (
        (pl.col("_n_pair_other") >= PAIR_MIN_OTHER_YEARS)
        & ((pl.col("_u") - pl.col("_pair_u")).abs() <= math.log(PAIR_TOLERANCE))
        & (off.abs() <= math.log(PAIR_MAX_FACTOR))
    )
    flagged = (
        _with_pair_history(marked.filter(outside), marked)
        .with_columns(
            pl.when(quarantine)
            .then(pl.lit("quarantined"))
            .when(kept.fill_null(False))
            .then(pl.lit("kept"))
            .otherwise(pl.lit("quantity_rederived"))
            .alias("action")
        )
        .with_columns(
            pl.when(pl.col("action") == "quarantined")
            .then(_reason("quarantined"))
            .when(pl.col("action") == "kept")
            .then(_reason("kept"))
            .otherwise(_reason("quantity_rederived"))
            .alias("reason"),
            pl.when(pl.col("action") == "quantity_rederived")
            .then(pl.col("value_usd") / pl.col("log_median").exp())
            .when(pl.col("action") == "kept")
            .then(pl.col("quantity_t"))
            .alias("quantity_t_repaired"),
        )
    )
    repairs = _repairs_rows(flagged)
    no_band = marked.filter(pl.col("band_basis").is_null()).height
    if no_band:
        log.info("%s: %d flows in HS6-years without a unit-value band, not screened", name, no_band)
    quarantined = flagged.filter(pl.col("action") == "quarantined").select("_idx")
    rederived = flagged.filter(pl.col("action") == "quantity_rederived").select(
        "_idx", "quantity_t_repaired"
    )
    screened = (
        marked.select("_idx", *columns)
        .join(quarantined, on="_idx", how="anti")
        .join(rederived, on="_idx", how="left")
        .with_columns(pl.coalesce("quantity_t_repaired", "quantity_t").alias("quantity_t"))
        .sort("_idx")
        .select(columns)
    )
    report = log.warning if flagged.height else log.info
    report(
        "%s: %d flows screened against unit-value bands: %d quantities re-derived, "
        "%d quarantined, %d flagged and kept",
        name,
        flows.height,
        rederived.height,
        quarantined.height,
        flagged.filter(pl.col("action") == "kept").height,
    )
    return ScreenResult(flows=screened, repairs=repairs, bands=bands)


def _repairs_rows(flagged: pl.DataFrame) -> pl.DataFrame:
    """``flagged`` (with band columns, ``action``, ``reason``) as :data:`REPAIRS_SCHEMA`."""
    k = pl.col("_k")
    opt = {c: pl.col(c) if c in flagged.columns else pl.lit(None) for c in ("source", "vintage")}
    return flagged.select(
        pl.col("year").cast(pl.Int32),
        "hs6_code",
        "exporter_iso3",
        "importer_iso3",
        "value_usd",
        pl.col("quantity_t").alias("quantity_t_original"),
        "quantity_t_repaired",
        "action",
        "reason",
        pl.col("_uv").alias("unit_value_usd_per_t"),
        (pl.col("log_median") - k * pl.col("log_mad")).exp().alias("band_low_usd_per_t"),
        pl.col("log_median").exp().alias("band_median_usd_per_t"),
        (pl.col("log_median") + k * pl.col("log_mad")).exp().alias("band_high_usd_per_t"),
        "band_basis",
        k.alias("k_mad"),
        opt["source"].cast(pl.String).alias("source"),
        opt["vintage"].cast(pl.String).alias("vintage"),
        *_no_stage(),
    ).cast(dict(REPAIRS_SCHEMA))  # type: ignore[arg-type]


def mirror_fill(
    flows: pl.DataFrame,
    mirror: pl.DataFrame,
    *,
    mirror_source: str,
    keys: Collection[str] = ("year", "exporter_iso3", "importer_iso3", "hs6_code"),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fill missing quantities from a second source's figure for the same flow.

    Parameters
    ----------
    flows
        HS6 flows (``quantity_t`` null where the source has none).
    mirror
        The same flows as another source reports them (``keys`` + ``quantity_t``), e.g.
        the partner's declaration in UN Comtrade. Duplicate keys are an error.
    mirror_source
        Name of that source, for the repair rows.

    Returns
    -------
    tuple
        ``(flows, repairs)``: flows with the filled quantities, and one
        ``mirror_filled`` repair row per filled flow (:data:`REPAIRS_SCHEMA`, band
        columns null).

    Raises
    ------
    resilience.errors.DataError
        Duplicate keys or negative quantities in ``mirror``.
    """
    key = list(keys)
    dup = mirror.with_row_index("_row", offset=1).filter(pl.struct(key).is_duplicated())
    problems = [
        DataProblem(mirror_source, row, ", ".join(key), str(vals), "duplicate flow in the mirror")
        for row, *vals in dup.select("_row", *key).head(50).iter_rows()
    ]
    neg = mirror.with_row_index("_row", offset=1).filter(pl.col("quantity_t") < 0)
    problems += [
        DataProblem(mirror_source, row, "quantity_t", q, "negative quantity")
        for row, q in neg.select("_row", "quantity_t").head(50).iter_rows()
    ]
    if problems:
        raise DataError(problems)
    other = mirror.select(*key, pl.col("quantity_t").alias("_mirror_t")).filter(
        pl.col("_mirror_t").is_not_null()
    )
    joined = flows.with_row_index("_idx").join(other, on=key, how="left")
    fill = pl.col("quantity_t").is_null() & pl.col("_mirror_t").is_not_null()
    filled = joined.filter(fill)
    repairs = filled.select(
        pl.col("year").cast(pl.Int32),
        "hs6_code",
        "exporter_iso3",
        "importer_iso3",
        "value_usd",
        pl.lit(None, pl.Float64).alias("quantity_t_original"),
        pl.col("_mirror_t").alias("quantity_t_repaired"),
        pl.lit("mirror_filled").alias("action"),
        pl.lit(f"quantity missing in the source; the figure {mirror_source} reports").alias(
            "reason"
        ),
        (pl.col("value_usd") / pl.col("_mirror_t")).alias("unit_value_usd_per_t"),
        *(
            pl.lit(None, pl.Float64).alias(c)
            for c in ("band_low_usd_per_t", "band_median_usd_per_t", "band_high_usd_per_t")
        ),
        pl.lit(None, pl.String).alias("band_basis"),
        pl.lit(None, pl.Float64).alias("k_mad"),
        pl.lit(mirror_source).alias("source"),
        pl.lit(None, pl.String).alias("vintage"),
        *_no_stage(),
    ).cast(dict(REPAIRS_SCHEMA))  # type: ignore[arg-type]
    out = (
        joined.with_columns(
            pl.when(fill)
            .then(pl.col("_mirror_t"))
            .otherwise(pl.col("quantity_t"))
            .alias("quantity_t")
        )
        .sort("_idx")
        .select(flows.columns)
    )
    log.info("mirror fill from %s: %d quantities filled", mirror_source, repairs.height)
    return out, repairs


def screen_trade(
    flows: pl.DataFrame, production: pl.DataFrame, hs_map: pl.DataFrame
) -> ScreenResult:
    """The trade path's one call: mass balance, unit-value bands, repairs.

    Parameters
    ----------
    flows
        HS6 flows restricted to the mapped codes and the years wanted
        (:func:`resilience.ingest.baci.scan_baci` columns).
    production
        ``production.csv`` rows (for :func:`no_production_exporters`).
    hs_map
        ``hs6_code, commodity, stage``.

    Returns
    -------
    ScreenResult
        As :func:`screen_flows`; ``repairs`` sorted by year, HS6, exporter, importer.
    """
    mass = no_production_exporters(flows, production, hs_map)
    result = screen_flows(flows, mass_balance=mass)
    repairs = result.repairs.sort("year", "hs6_code", "exporter_iso3", "importer_iso3")
    return ScreenResult(flows=result.flows, repairs=repairs, bands=result.bands)
