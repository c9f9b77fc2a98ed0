r"""EU supply risk (SR) of the EU critical-raw-materials assessment, JRC 2017 method.

Pure Polars expressions and lazy frames; no I/O. The method is the one of Blengini et al.
(2017), *Methodology for establishing the EU list of critical raw materials: Guidelines*
and its background report (EUR 28654, doi:10.2760/73303), applied unchanged in the 2020
and 2023 exercises (Grohol & Veeh 2023, *Study on the Critical Raw Materials for the EU
2023 - Final report*, doi:10.2873/725585):

.. math::

    SR = \left[(HHI_{WGI,t})_{GS}\,\frac{IR}{2}
         + (HHI_{WGI,t})_{EU\,sourcing}\left(1 - \frac{IR}{2}\right)\right]
         (1 - EoL_{RIR})\; SI_{SR}

computed separately for the extraction and the processing stage; the material's SR is
the bottleneck (larger) stage.

Reference implementation read for every formula below: ``meyerdata/CritMAT`` (MIT),
``critmat/calculations/hhi_wgi_tp.py`` (commit e2acc47, the function ``supply_risk_eu``
calls; ``calc_hhi_wgi_tp.py`` at 0bd8977 is an older variant with the same term) and
``critmat/calculations/supply_risk_eu.py`` (commit 005b613); cross-checked against the
classroom Streamlit calculator named in the project's research notes (section A1). Line
numbers below refer to those commits.

Conventions
-----------
- Shares, import reliance and EoL-RIR are fractions in [0, 1] (CritMAT and the published
  tables use percent; ``x_pct = 100 * x``).
- ``HHI_WGI,t`` is on the 0-10 scale, i.e. the published 0-10 000 HHI weighted by
  :math:`WGI_{scaled}\cdot t` and divided by 10 000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from resilience.metrics.sums import stable_sum

__all__ = [
    "STAGE_ORDER",
    "bottleneck",
    "eu_supply_risk",
    "hhi_wgi_t",
    "import_reliance",
    "wgi_scaled_0_10",
]

#: Stage names of the EU method, in the order used to break ties in :func:`bottleneck`.
STAGE_ORDER: tuple[str, ...] = ("extraction", "processing")


def wgi_scaled_0_10(estimate_mean: pl.Expr) -> pl.Expr:
    r"""Rescale a WGI estimate (about -2.5 worst to +2.5 best) to 0-10, with 10 the worst.

    Parameters
    ----------
    estimate_mean
        The WGI governance estimate, in the EU method the mean of the six WGI dimensions
        (voice and accountability, political stability, government effectiveness,
        regulatory quality, rule of law, control of corruption) for the country and
        period; the raw scale runs from about -2.5 (worst) to +2.5 (best).

    Returns
    -------
    polars.Expr
        ``wgi_scaled_0_10``: 0 for an estimate of +2.5, 10 for -2.5. Null stays null.

    Notes
    -----
    .. math:: WGI_{scaled} = 2\,(2.5 - \overline{WGI}) = \frac{\overline{WGI} - 2.5}{-0.5}

    **Not clipped**, exactly as CritMAT ``hhi_wgi_tp.py`` line 43
    (``(mean - 2.5) * -2``) and ``calc_hhi_wgi_tp.py``: a mean outside [-2.5, 2.5] gives a
    value outside [0, 10]. For the six-indicator mean this does not happen in the WGI
    2024 update (1996-2023 range -2.41, Somalia 2008, to +1.95, Finland 2004), so the
    scaled value stays within [1.1, 9.8].
    """
    return ((pl.lit(2.5) - estimate_mean) * 2.0).alias("wgi_scaled_0_10")


def hhi_wgi_t(
    frame: pl.DataFrame | pl.LazyFrame,
    group: Sequence[str],
    share: str = "share",
    wgi_scaled: str = "wgi_scaled_0_10",
    trade_parameter: str | None = "trade_parameter",
    *,
    missing: Literal["propagate", "zero"] = "propagate",
) -> pl.LazyFrame:
    r"""Governance- and trade-weighted HHI, :math:`HHI_{WGI,t}` (0-10 scale), per group.

    Parameters
    ----------
    frame
        One row per (group, supplier country) with the country's supply share, its
        scaled WGI (:func:`wgi_scaled_0_10`) and its trade parameter.
    group
        Columns identifying one HHI, e.g. ``["commodity", "stage", "scope"]`` where scope is
        global supply (GS) or EU sourcing.
    share
        Country share of the group's supply, a fraction in [0, 1] (not percent). Shares
        are used as given (not renormalised): a rest-of-world row left out of ``frame``
        still counts in the denominators the caller used.
    wgi_scaled
        Scaled WGI, 0-10 with 10 the worst.
    trade_parameter
        The trade-related variable :math:`t_c` (1 baseline; 0.8 for EU member states
        and partners with an EU trade agreement, 1.1-1.5 for exporters with export
        taxes, quotas or bans). ``None`` means :math:`t_c = 1` for every country.
    missing
        What a null share, scaled WGI or trade parameter does. ``"propagate"`` (default):
        the group's ``hhi_wgi_t`` is null, and ``n_missing`` says how many rows caused it.
        ``"zero"``: the row contributes nothing, which is what CritMAT does implicitly
        (pandas ``sum`` skips the NaN left by its left joins, ``hhi_wgi_tp.py`` lines
        42-46 and 70) and which understates the risk of the ungoverned.

    Returns
    -------
    polars.LazyFrame
        ``*group, hhi_wgi_t, n_countries, n_missing``.

    Notes
    -----
    With :math:`S_c` the share in percent (as in the method) or :math:`s_c = S_c/100`:

    .. math::

        HHI_{WGI,t} = \frac{1}{10\,000}\sum_c S_c^2\, WGI_{scaled,c}\, t_c
                    = \sum_c s_c^2\, WGI_{scaled,c}\, t_c

    CritMAT ``hhi_wgi_tp.py`` line 68 computes the term
    ``(q_c / total * 100)**2 * WGI_scaled * parameter`` on the 0-10 000 scale and
    ``supply_risk_eu.py`` line 37 divides by 10 000. It also rounds the HHI to an integer
    (line 75), which is not done here. A monopolist (:math:`s = 1`) at the worst
    governance (:math:`\overline{WGI} = -2.5`) with :math:`t = 1` gives 10; the value
    can exceed 10 only through :math:`t_c > 1` (neither CritMAT nor the Streamlit
    calculator caps the product :math:`WGI_{scaled}\, t`).
    """
    s = pl.col(share)
    w = pl.col(wgi_scaled)
    t = pl.lit(1.0) if trade_parameter is None else pl.col(trade_parameter)
    term = s.pow(2) * w * t
    n_missing = term.null_count()
    total = stable_sum(term)
    if missing == "propagate":
        total = pl.when(n_missing == 0).then(total).otherwise(None)
    elif missing != "zero":
        raise ValueError(f"missing must be 'propagate' or 'zero', got {missing!r}")
    return (
        frame.lazy()
        .group_by(list(group), maintain_order=True)
        .agg(
            total.cast(pl.Float64).alias("hhi_wgi_t"),
            pl.len().alias("n_countries"),
            n_missing.alias("n_missing"),
        )
    )


def import_reliance(domestic_production: pl.Expr, imports: pl.Expr, exports: pl.Expr) -> pl.Expr:
    r"""EU import reliance of the JRC method, a fraction in [0, 1].

    Parameters
    ----------
    domestic_production
        Production in the assessed economy (EU), same unit as the trade flows (tonnes of
        the material at the assessed stage), usually a multi-year average.
    imports
        Imports from outside the economy.
    exports
        Exports to outside the economy.

    Returns
    -------
    polars.Expr
        ``import_reliance``: 0 for a net exporter, 1 when the economy produces nothing and
        is a net importer. Null if any input is null.

    Notes
    -----
    .. math::

        IR = \frac{M - X}{P + M - X}
        \quad\text{if } M > X, \qquad IR = 0 \quad\text{if } M \le X

    The denominator is apparent consumption. A net exporter (:math:`M \le X`, negative
    net imports) gets IR = 0 rather than a negative value: IR is a weight in
    :func:`eu_supply_risk` (:math:`IR/2 \in [0, 1/2]`), and the published 2023 tables
    (transcribed in CritMAT ``input_data/seeds/eureport_results.csv``) carry only values
    in 0-100 %, never a negative one (0 % e.g. for hafnium, krypton, neon and sulfur at
    the processing stage, sourced in the EU only). The sentence of the guidelines stating
    the bound was not retrieved, so the zero floor is inferred from those tables.
    :math:`M > X` with :math:`P \ge 0` keeps the result in (0, 1]; the upper clip only
    guards against negative production. CritMAT itself takes IR from the report
    rather than computing it.
    """
    net = imports - exports
    ratio = net / (domestic_production + net)
    return (
        pl.when(net.is_null() | domestic_production.is_null())
        .then(None)
        .when(net <= 0)
        .then(0.0)
        .otherwise(ratio.clip(0.0, 1.0))
        .cast(pl.Float64)
        .alias("import_reliance")
    )


def eu_supply_risk(
    hhi_wgi_t_global: pl.Expr,
    hhi_wgi_t_sourcing: pl.Expr,
    import_reliance: pl.Expr,
    eol_rir: pl.Expr,
    si_sr: pl.Expr,
) -> pl.Expr:
    r"""EU supply risk of one material at one stage (JRC 2017 formula).

    Parameters
    ----------
    hhi_wgi_t_global
        :math:`(HHI_{WGI,t})_{GS}` of global supply (world production shares), 0-10.
    hhi_wgi_t_sourcing
        :math:`(HHI_{WGI,t})_{EU\,sourcing}` of actual EU sourcing (EU production plus
        imports by origin), 0-10.
    import_reliance
        IR as a fraction in [0, 1] (:func:`import_reliance`), not percent.
    eol_rir
        End-of-life recycling input rate as a fraction in [0, 1], not percent.
    si_sr
        Substitution index for supply risk, in [0, 1] (1 = no substitute).

    Returns
    -------
    polars.Expr
        ``eu_supply_risk`` (dimensionless; the EU threshold for criticality is 1.0). Null
        if any input is null.

    Notes
    -----
    .. math::

        SR = \left[(HHI_{WGI,t})_{GS}\,\frac{IR}{2}
             + (HHI_{WGI,t})_{EU}\left(1 - \frac{IR}{2}\right)\right]
             (1 - EoL_{RIR})\, SI_{SR}

    CritMAT ``supply_risk_eu.py`` line 37, with HHIs on the 0-10 000 scale and IR and
    EoL in percent: ``(hhi_world/10000*(IR/100/2) + hhi_eu/10000*(1-IR/100/2))
    *(1-EoL/100)*si_sr``. CritMAT rounds the result to 3 decimals (line 41) and the
    published tables to 1; nothing is rounded here.

    When only one supply basis is used (the report's "GS only" / "EU only" rows, and
    the Streamlit calculator's fallback), pass the same value for both HHIs: the blend
    weights add up to 1, so :math:`SR = HHI \cdot (1-EoL)\,SI`. This function does not
    fall back silently.
    """
    half_ir = import_reliance / 2.0
    blend = hhi_wgi_t_global * half_ir + hhi_wgi_t_sourcing * (1.0 - half_ir)
    return (blend * (1.0 - eol_rir) * si_sr).alias("eu_supply_risk")


def bottleneck(
    frame: pl.DataFrame | pl.LazyFrame,
    group_without_stage: Sequence[str],
    sr_column: str = "eu_supply_risk",
    stage: str = "stage",
) -> pl.LazyFrame:
    r"""The material's SR: the stage (extraction or processing) with the larger SR.

    Parameters
    ----------
    frame
        One row per (group, stage) with the stage's SR.
    group_without_stage
        Columns identifying the material assessment, e.g. ``["commodity", "year"]``.
    sr_column
        Column holding the stage SR.
    stage
        Column holding the stage name.

    Returns
    -------
    polars.LazyFrame
        ``*group_without_stage, <stage>, <sr_column>, n_stages``: one row per group with
        the bottleneck stage and its SR. If any stage of the group has a null SR the
        result is null (stage and SR), never the maximum of the known stages alone.

    Notes
    -----
    .. math:: SR = \max(SR_{extraction},\ SR_{processing})

    over the stages assessed for the material (materials assessed at one stage only have
    one row). Ties go to the earlier stage of :data:`STAGE_ORDER` (extraction first; other
    stage names after it, alphabetically), which matches the published 2023 copper row
    (0.1 at both stages, reported as extraction).
    """
    keys = list(group_without_stage)
    rank = (
        pl.when(pl.col(stage) == STAGE_ORDER[0])
        .then(0)
        .when(pl.col(stage) == STAGE_ORDER[1])
        .then(1)
        .otherwise(2)
    )
    ranked = (
        frame.lazy()
        .with_columns(rank.alias("_stage_rank"))
        .sort(
            [*keys, sr_column, "_stage_rank", stage],
            descending=[False] * len(keys) + [True, False, False],
            nulls_last=True,
        )
    )
    any_null = pl.col(sr_column).null_count() > 0
    return ranked.group_by(keys, maintain_order=True).agg(
        pl.when(any_null).then(None).otherwise(pl.col(stage).first()).alias(stage),
        pl.when(any_null).then(None).otherwise(pl.col(sr_column).first()).alias(sr_column),
        pl.len().alias("n_stages"),
    )
