r"""China's exports as bilateral rows of the yearly dependency: what the share means.

Where the trade table has no flows of a (year, commodity, stage) (gallium and germanium:
no HS92 code in the BACI extract; synthetic graphite only if ``trade.parquet`` lacks
``graphite/refining``) and the local table ``datasets/china_exports_monthly.parquet``
exists (built by ``resilience data refresh``, never shipped: UN Comtrade's terms),
:func:`resilience.build.monthly.with_china_exports` adds, per importer :math:`m` and
year, China's exports of the year (the sum of the months, content basis) as the
importer's CHN row, and a row per other producer :math:`p` scaled from it by world
production shares :math:`w`. A (year, commodity, stage) the trade table already has is
never added again (no flow counted twice).

Only China's side is known: the collector's file holds China's exports, not the other
producers' exports to :math:`m`. With :math:`X_m` China's exports to :math:`m` (tonnes
of content, observed) the rows are

.. math::

    q_{m,\mathrm{CHN}} = X_m, \qquad
    q_{m,p} = X_m \, w_p / w_{\mathrm{CHN}} \quad (p \ne \mathrm{CHN}, m),

so China's share of the importer's supply is

.. math::

    s_{m,\mathrm{CHN}} = \frac{X_m}{X_m + \sum_{p \ne \mathrm{CHN}, m} q_{m,p}}
                      = \frac{w_{\mathrm{CHN}}}{\sum_{p \ne m} w_p},

China's share of world production without the importer: the share is **not observed**,
it is the world-market share. What the bilateral rows add is observed: the volume, value
and unit value China shipped to the importer each year, and how they moved (the 2023
controls). This is the definition kept (``basis = bilateral_china_only``) because the
alternatives would put a number on what the file cannot tell: China's exports over the
importer's total imports (its imports from others are unknown; taking them as zero makes
every share 100 %), or over the importer's apparent use (no country's use is in the
data). A share that fell after the controls would read as less dependence, when the
importer got less of the same dependence.

What it cannot tell
-------------------
* whether the importer buys from other producers more or less than their world share
  (USGS names the United Kingdom and Germany beside China as US gallium sources in 2020,
  countries with no primary output: re-refined and recycled metal; recycled germanium is
  about 30 % of world use, USGS MCS);
* re-exports (a partner re-selling Chinese metal is counted as its own imports);
* HS 811292 mixes gallium, germanium, indium, niobium and vanadium (unwrought; powders)
  and the file has no 8-digit split, so the same tonnes stand for gallium and germanium:
  an upper bound for each metal (``basis_note`` says so on every row concerned);
* partners the collector did not pull (39 in the file), and months whose weight
  Comtrade did not report (their value counts, their tonnes are null).

:func:`china_only_groups` finds those rows in a dependency table (by the
``content_basis`` :data:`CHINA_CONTENT_BASIS` they carry) and :func:`label_china_only`
relabels their ``basis`` and adds ``basis_note``; :func:`label_build_tables` does both for
the dependency and metrics tables of a year (``resilience build``).
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "BASIS_NOTE",
    "CHINA_CONTENT_BASIS",
    "CHINA_ONLY_BASIS",
    "china_only_groups",
    "label_build_tables",
    "label_china_only",
    "mixed_line_notes",
]

#: ``basis`` of the rows of an importer whose supply comes from China's exports.
CHINA_ONLY_BASIS = "bilateral_china_only"
#: ``content_basis`` written on the trade rows made from China's exports.
CHINA_CONTENT_BASIS = "content (UN Comtrade tariff lines, maps/comtrade_china_monthly.csv)"
#: Column added by :func:`label_china_only`.
BASIS_NOTE = "basis_note"

_GROUP = ["year", "importer_iso3", "commodity", "stage"]
_SHARE_NOTE = (
    "China's exports to the importer are observed (UN Comtrade, China's side only); the "
    "other producers' rows are China's scaled by world production shares, so the shares "
    "are world-market shares, not observed import shares"
)


def mixed_line_notes(content_map: pl.DataFrame) -> pl.DataFrame:
    """Per (commodity, stage): a note naming each HS line that also stands for other goods.

    Parameters
    ----------
    content_map
        :func:`resilience.build.monthly.load_china_monthly_map` (``hs6_code, commodity,
        stage, content_basis``).

    Returns
    -------
    polars.DataFrame
        ``commodity, stage, mixed_note``: e.g. for gallium/refining "HS 811292 (Ga+Ge+In+Nb+V
        metal) also counts for germanium/refining: China's tonnes and value are an upper
        bound for gallium"; only (commodity, stage) with such a line.
    """
    shared = content_map.with_columns(
        pl.format("{}/{}", "commodity", "stage").alias("_good"),
        pl.len().over("hs6_code").alias("_n"),
    ).filter(pl.col("_n") > 1)
    others = shared.select("hs6_code", pl.col("_good").alias("_other"))
    return (
        shared.join(others, on="hs6_code")
        .filter(pl.col("_other") != pl.col("_good"))
        .group_by("commodity", "stage", "hs6_code", "content_basis")
        .agg(pl.col("_other").unique().sort().str.join(", "))
        .select(
            "commodity",
            "stage",
            pl.format(
                "HS {} ({}) also counts for {}: China's tonnes and value are an upper bound for {}",
                "hs6_code",
                "content_basis",
                "_other",
                "commodity",
            ).alias("mixed_note"),
        )
        .group_by("commodity", "stage")
        .agg(pl.col("mixed_note").sort().str.join("; "))
    )


def china_only_groups(
    dependency: pl.DataFrame | pl.LazyFrame, mixed: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The (year, importer, commodity, stage) whose rows come from China's exports.

    Parameters
    ----------
    dependency
        Dependency rows (``year, importer_iso3, commodity, stage, content_basis``).
    mixed
        :func:`mixed_line_notes`; the shipped map's when omitted.

    Returns
    -------
    polars.DataFrame
        ``year, importer_iso3, commodity, stage, basis_note``.
    """
    if mixed is None:
        from resilience.build.monthly import load_china_monthly_map

        mixed = mixed_line_notes(load_china_monthly_map())
    rows = dependency.lazy() if isinstance(dependency, pl.DataFrame) else dependency
    groups = (
        rows.filter(pl.col("content_basis") == CHINA_CONTENT_BASIS)
        .select(_GROUP)
        .unique()
        .collect()
    )
    return groups.join(mixed, on=["commodity", "stage"], how="left").select(
        *_GROUP,
        pl.when(pl.col("mixed_note").is_not_null())
        .then(pl.format("{}; {}", pl.lit(_SHARE_NOTE), "mixed_note"))
        .otherwise(pl.lit(_SHARE_NOTE))
        .alias(BASIS_NOTE),
    )


def label_china_only(frame: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Relabel the ``bilateral`` rows of ``groups`` as ``bilateral_china_only``.

    ``frame`` has ``year, importer_iso3, commodity, stage, basis`` (a dependency, metrics
    or risk table). Rows of those groups on the ``bilateral`` basis get
    :data:`CHINA_ONLY_BASIS` and the group's ``basis_note``; every other row keeps its
    basis and gets a null ``basis_note``. Call it after the metrics are computed: they
    select the imports by ``basis == "bilateral"``.
    """
    key = [c for c in _GROUP if c in frame.columns]
    hit = groups.select(*key, BASIS_NOTE).unique(key).cast({"year": frame.schema["year"]})
    out = frame.drop(BASIS_NOTE, strict=False).join(hit, on=key, how="left", nulls_equal=True)
    china = pl.col(BASIS_NOTE).is_not_null() & (pl.col("basis") == "bilateral")
    return out.with_columns(
        pl.when(china).then(pl.lit(CHINA_ONLY_BASIS)).otherwise(pl.col("basis")).alias("basis"),
        pl.when(china).then(pl.col(BASIS_NOTE)).alias(BASIS_NOTE),
    )


def label_build_tables(
    dependency: pl.DataFrame, metrics: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`label_china_only` on one year's dependency and metrics tables.

    Without China's rows (no local China table, or a user's BACI file) both tables come
    back with a null ``basis_note`` column and their bases unchanged.
    """
    groups = china_only_groups(dependency)
    return label_china_only(dependency, groups), label_china_only(metrics, groups)
