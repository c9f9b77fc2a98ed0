r"""Per-flow stage rule: a downstream HS line that carries the upstream stage.

Two HS6 lines hold two stages of one commodity:

* **284690** (rare-earth compounds other than cerium) carries Mountain Pass
  *concentrate* shipped by the United States to China (2023: 10.7 kt gross at USD 9.7/kg,
  CEPII BACI HS92 V202401b) beside separated compounds. USGS nets none of it from the
  compounds it counts: "rare-earth ores and compounds" exports include concentrate
  (USGS MCS 2019, rare earths: 15,000 t of compounds exported in 2018, when the United
  States produced only concentrate; https://doi.org/10.3133/70202434).
* **282200** (cobalt oxides and hydroxides) and **810510** (cobalt mattes and other
  intermediate products) carry the Congolese and Zambian cobalt *hydroxide*, the
  feedstock of Chinese refiners (the content factors already read it as hydroxide,
  ``datasets/content_factors.csv``), beside refined oxide and metal.

Mapped by HS code alone, these flows sit at the refining stage, so an exporter that
refines little looks like a refiner: US import reliance on separated rare earths reads
83 % in 2023 (USGS: > 95 %), and a cut of the DRC's cobalt does not reach the refiners
that process its hydroxide.

Rule
----
For each :class:`StageRule` (a commodity, its downstream stage :math:`D`, its upstream
stage :math:`U` and the HS lines that can carry :math:`U`), exporter :math:`e` and year,
with :math:`E` its exports of :math:`D` on the content basis (every HS line of
:math:`D`, flows that report a quantity) and :math:`P_D, P_U` its production of each
stage (the world-production rows the hub screen uses:
:func:`resilience.build.world_market.world_shares`, default source ranking), the
exporter **cannot have produced at stage D** the part

.. math:: X = E - (1 + m) P_D \quad \text{when } X > 0 \text{ and } P_U > 0

with the margin :math:`m` = :data:`STAGE_MARGIN` (the hub screen's margin for stock
draws and timing, :data:`resilience.build.hubs.HUB_MARGIN`). Of the exporter's flows of
the rule's lines, those whose gross unit value is at most the rule's cited ceiling
(:attr:`StageRule.max_unit_value_usd_per_t`: the price gap between the upstream and the
downstream good) are *eligible*; each eligible flow moves the share

.. math:: f = \min\left(1, X / E_{eligible}\right)

of its value and quantity to stage :math:`U` (the whole flow when :math:`f = 1`, else it
is split). So the exporter's own production of :math:`D` is credited first to its
dearer flows, and cheap flows move only as far as the mass balance requires. The moved
part keeps the content factor of its HS line (the physical good does not change: the
Congolese hydroxide keeps its hydroxide factor). Not judged: a year with no production
data for :math:`D`, an exporter whose :math:`P_D` or :math:`P_U` is withheld (null:
it may produce), and flows without a quantity (their unit value is unknown).

Each moved flow is one ``stage_reassigned`` row of ``trade_repairs``
(:data:`resilience.build.screening.REPAIRS_SCHEMA`): commodity, original and new stage,
the flow's value and gross quantity and the value and quantity moved, and the numbers
that triggered it in ``reason``. Nothing moves in silence.

Applied
-------
The refresh and ``resilience build --baci`` apply :data:`STAGE_RULES`: the rare-earth
rule only. :data:`COBALT_HYDROXIDE_RULE` is defined and tested but not applied yet (see
:data:`STAGE_RULES` for what it changes and what it needs first).

Ceilings
--------
Rare earths: the log midpoint of the price gap between Mountain Pass concentrate (at
most USD 11,636 per t REO: MP Materials' realized concentrate price, Q3 2022, the
highest of 2022-2023 in its results deck) and separated neodymium oxide (at least
USD 78,000/t: USGS MCS 2025, 2023, ``datasets/reference_prices.csv``):
:math:`\sqrt{11\,636 \cdot 78\,000}` = USD 30,127 per gross t. A concentrate's gross
unit value is below its price per t REO (its REO content is below 1). Cheap separated
cerium and lanthanum compounds pass this test too, which is why the mass balance must
fail first.

Cobalt: hydroxide holds at most 40 % Co (``content_factors.csv``, the hydroxide rows'
high) and is paid at most 100 % of the metal price; the highest LME cobalt price of
2021-2023 is USD 63,559/t (2022, USGS MCS 2025, ``reference_prices.csv``), so hydroxide
is worth at most 0.40 x 63,559 = USD 25,424 per gross t. Refined cobalt metal
(100 % Co) traded above that in 2021-2023; in 2024 (LME about USD 25-33 k/t) the gap
narrows, so the mass balance again carries the decision.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import polars as pl

from resilience.build.content import join_content
from resilience.build.hubs import HUB_MARGIN
from resilience.build.screening import REPAIRS_SCHEMA
from resilience.build.world_market import world_shares
from resilience.errors import DataError, DataProblem
from resilience.metrics.sums import stable_sum

__all__ = [
    "ALL_STAGE_RULES",
    "COBALT_HYDROXIDE_RULE",
    "REE_CONCENTRATE_RULE",
    "STAGE_MARGIN",
    "STAGE_RULES",
    "StageResult",
    "StageRule",
    "reassign_stages",
]

log = logging.getLogger(__name__)

#: Exports may exceed own production of the downstream stage by this fraction.
STAGE_MARGIN = HUB_MARGIN

#: Highest cited concentrate price (USD/t REO, MP Materials Q3 2022) and lowest cited
#: separated Nd-oxide price (USD/t, USGS MCS 2025, 2023).
_REE_CONCENTRATE_MAX_USD_PER_T = 11_636.0
_ND_OXIDE_MIN_USD_PER_T = 78_000.0
#: Highest Co content of hydroxide (content_factors.csv) and LME cobalt 2021-2023 (USGS).
_HYDROXIDE_MAX_CO = 0.40
_LME_COBALT_MAX_USD_PER_T = 63_559.27


@dataclass(frozen=True)
class StageRule:
    """One commodity's downstream HS lines that can carry its upstream stage.

    Attributes
    ----------
    commodity
        Commodity of ``datasets/commodities.csv``.
    from_stage, to_stage
        Downstream stage the HS lines map to, upstream stage a moved flow goes to.
    hs6_codes
        HS6 lines (of ``from_stage``) whose flows may move.
    max_unit_value_usd_per_t
        Cited gross unit value above which a flow cannot be the upstream good.
    evidence
        Citation of the rule (shown in every repair row's reason).
    """

    commodity: str
    from_stage: str
    to_stage: str
    hs6_codes: tuple[str, ...]
    max_unit_value_usd_per_t: float
    evidence: str


#: Mountain Pass concentrate (and other mixed REE products) under 284690.
REE_CONCENTRATE_RULE = StageRule(
    "rare_earths",
    "refining",
    "mining",
    ("284690",),
    math.sqrt(_REE_CONCENTRATE_MAX_USD_PER_T * _ND_OXIDE_MIN_USD_PER_T),
    "concentrate ships under the compound lines (USGS MCS 2019, rare earths)",
)
#: Copperbelt cobalt hydroxide under 282200 and 810510.
COBALT_HYDROXIDE_RULE = StageRule(
    "cobalt",
    "refining",
    "mining",
    ("282200", "810510"),
    _HYDROXIDE_MAX_CO * _LME_COBALT_MAX_USD_PER_T,
    "mine hydroxide ships under 2822.00 and 8105.10 (content_factors.csv, COD and ZMB)",
)

#: The rules the refresh and ``build --baci`` apply. The cobalt rule is defined and
#: tested but not applied yet: with it the DRC's hydroxide leaves cobalt/refining, and
#: the shipped studies (cobalt/refining only; cobalt/mining has no reference price in
#: ``reference_prices.csv``) no longer see a DRC cut, Taiwan's share of world refined
#: cobalt exports rises from 0.5 % to 1.9 % (above the 1 % scope threshold) and the
#: EU27 cobalt supply risk moves from 2.8 +/- 0.5 (JRC 2023) to 4.6. Applying it needs
#: those studies, a cited cobalt/mining price and the EU check revisited first.
STAGE_RULES: tuple[StageRule, ...] = (REE_CONCENTRATE_RULE,)
#: Every rule defined here.
ALL_STAGE_RULES: tuple[StageRule, ...] = (REE_CONCENTRATE_RULE, COBALT_HYDROXIDE_RULE)


@dataclass(frozen=True)
class StageResult:
    """Flows with their stage, the repairs, and the map that aggregates them.

    Attributes
    ----------
    flows
        The input flows joined to their ``commodity, stage`` (one row per map row of the
        HS code); a moved flow has its upstream stage, a split one two rows.
    repairs
        One ``stage_reassigned`` row per moved flow (:data:`REPAIRS_SCHEMA`).
    hs_map
        The content map plus a row per rule line at its upstream stage (same factor,
        unit and basis), for :func:`resilience.ingest.baci.aggregate_baci`.
    """

    flows: pl.DataFrame
    repairs: pl.DataFrame
    hs_map: pl.DataFrame


_KEY = ["year", "commodity", "stage"]


def _eligible(rule: StageRule) -> pl.Expr:
    """A flow of the rule's lines priced at most at the rule's ceiling (with a quantity)."""
    return (
        (pl.col("commodity") == rule.commodity)
        & (pl.col("stage") == rule.from_stage)
        & pl.col("hs6_code").is_in(list(rule.hs6_codes))
        & (pl.col("quantity_t") > 0)
        & (pl.col("value_usd") / pl.col("quantity_t") <= rule.max_unit_value_usd_per_t)
    )


def _check_rules(rules: tuple[StageRule, ...], hs_map: pl.DataFrame) -> None:
    """Each rule's lines must map to its commodity's downstream stage; ceilings positive."""
    pairs = set(hs_map.select("hs6_code", "commodity", "stage").iter_rows())
    problems = []
    for i, rule in enumerate(rules, start=1):
        problems += [
            DataProblem(
                "stage rules",
                i,
                "hs6_codes",
                code,
                f"not an HS line of {rule.commodity}/{rule.from_stage} in the map",
            )
            for code in rule.hs6_codes
            if (code, rule.commodity, rule.from_stage) not in pairs
        ]
        if rule.from_stage == rule.to_stage:
            problems.append(
                DataProblem("stage rules", i, "to_stage", rule.to_stage, "same as from_stage")
            )
        ceiling = rule.max_unit_value_usd_per_t
        if not (math.isfinite(ceiling) and ceiling > 0):
            problems.append(
                DataProblem(
                    "stage rules", i, "max_unit_value_usd_per_t", ceiling, "must be positive"
                )
            )
    if problems:
        raise DataError(problems)


def _check_production(production: pl.DataFrame) -> None:
    need = ("year", "commodity", "stage", "country_iso3", "quantity", "unit", "source")
    missing = [c for c in need if c not in production.columns]
    if missing:
        raise DataError(
            [
                DataProblem("production", None, c, None, "required column is missing")
                for c in missing
            ]
        )
    bad = production.with_row_index("_row", offset=2).filter(pl.col("quantity") < 0)
    if bad.height:
        raise DataError(
            [
                DataProblem("production", row, "quantity", q, "negative production")
                for row, q in bad.select("_row", "quantity").head(50).iter_rows()
            ]
        )


def _stage_production(production: pl.DataFrame, years: list[int]) -> pl.DataFrame:
    """``year, commodity, stage, country_iso3, withheld, production`` (``ROW`` left out)."""
    world = (
        world_shares(production, years)
        .filter(pl.col("country_iso3") != "ROW")
        .group_by(*_KEY, "country_iso3")
        .agg(
            pl.col("production_quantity").is_null().any().alias("withheld"),
            stable_sum(pl.col("production_quantity")).alias("production"),
        )
        .collect()
    )
    return world.with_columns(pl.col("year").cast(pl.Int32))


def _mapped_content(flows: pl.DataFrame, hs_map: pl.DataFrame) -> pl.DataFrame:
    """Flows joined to every map row of their code, with ``_content`` (null without q)."""
    default = (
        hs_map.filter(pl.col("exporter_iso3").is_null())
        if "exporter_iso3" in hs_map.columns
        else hs_map
    )
    mapped = flows.with_row_index("_row").join(
        default.select("hs6_code", "commodity", "stage"), on="hs6_code"
    )
    # Joins do not keep row order: sorted back, so that every sum below adds in one
    # order and a refresh of the same downloads rewrites identical files.
    return (
        join_content(mapped.lazy(), hs_map)
        .with_columns((pl.col("quantity_t") * pl.col("content_per_gross_t")).alias("_content"))
        .sort("_row", "commodity", "stage")
        .drop("_row")
        .collect()
    )


def _judged(rule: StageRule, mapped: pl.DataFrame, production: pl.DataFrame) -> pl.DataFrame:
    """Exporter-years of ``rule`` whose exports of the downstream stage fail the balance.

    Returns ``year, exporter_iso3, _exports, _p_down, _p_up, _excess, _eligible``.
    """
    down = (rule.commodity, rule.from_stage)
    exports = (
        mapped.filter((pl.col("commodity") == down[0]) & (pl.col("stage") == down[1]))
        .group_by("year", "exporter_iso3")
        .agg(stable_sum(pl.col("_content")).alias("_exports"))
    )
    eligible = (
        mapped.filter(_eligible(rule))
        .group_by("year", "exporter_iso3")
        .agg(stable_sum(pl.col("_content")).alias("_eligible"))
    )

    def stage(name: str, alias: str) -> pl.DataFrame:
        rows = production.filter(
            (pl.col("commodity") == rule.commodity) & (pl.col("stage") == name)
        )
        return rows.select(
            "year",
            pl.col("country_iso3").alias("exporter_iso3"),
            pl.col("production").alias(alias),
            pl.col("withheld").alias(f"{alias}_withheld"),
        )

    covered = (
        production.filter(
            (pl.col("commodity") == rule.commodity) & (pl.col("stage") == rule.from_stage)
        )
        .select("year")
        .unique()
    )
    cast_year = pl.col("year").cast(pl.Int32)
    withheld = pl.col("_p_down_withheld").fill_null(False) | pl.col("_p_up_withheld").fill_null(
        False
    )
    return (
        exports.with_columns(cast_year)
        .join(eligible.with_columns(cast_year), on=["year", "exporter_iso3"], how="inner")
        .join(covered, on="year", how="semi")
        .join(stage(rule.from_stage, "_p_down"), on=["year", "exporter_iso3"], how="left")
        .join(stage(rule.to_stage, "_p_up"), on=["year", "exporter_iso3"], how="left")
        # No row: produces none. A withheld (null) quantity: not judged.
        .filter(~withheld)
        .with_columns(pl.col("_p_down").fill_null(0.0), pl.col("_p_up").fill_null(0.0))
        .with_columns(
            (pl.col("_exports") - (1.0 + STAGE_MARGIN) * pl.col("_p_down")).alias("_excess")
        )
        .filter((pl.col("_excess") > 0) & (pl.col("_p_up") > 0) & (pl.col("_eligible") > 0))
        .select("year", "exporter_iso3", "_exports", "_p_down", "_p_up", "_excess", "_eligible")
    )


def _reason(rule: StageRule) -> pl.Expr:
    return pl.format(
        "{} exports {} t of {}/{} content in {} against its own production of {} t "
        "(+{} % margin) and produces {}/{} ({} t): {} % of its flows at most USD {}/t "
        "gross re-attributed to {} ({})",
        pl.col("exporter_iso3"),
        pl.col("_exports").round_sig_figs(4),
        pl.lit(rule.commodity),
        pl.lit(rule.from_stage),
        pl.col("year"),
        pl.col("_p_down").round_sig_figs(4),
        pl.lit(round(STAGE_MARGIN * 100)),
        pl.lit(rule.commodity),
        pl.lit(rule.to_stage),
        pl.col("_p_up").round_sig_figs(4),
        (pl.col("_share") * 100).round_sig_figs(4),
        pl.lit(round(rule.max_unit_value_usd_per_t)),
        pl.lit(rule.to_stage),
        pl.lit(rule.evidence),
    )


def reassign_stages(
    flows: pl.DataFrame,
    hs_map: pl.DataFrame,
    production: pl.DataFrame,
    rules: tuple[StageRule, ...] = STAGE_RULES,
) -> StageResult:
    """Apply the stage rules to screened HS6 flows (see the module docstring).

    Parameters
    ----------
    flows
        Screened HS6 flows: ``year, exporter_iso3, importer_iso3, hs6_code, value_usd,
        quantity_t`` (and optionally ``source, vintage``).
    hs_map
        :func:`resilience.reference.content.content_map` output (default and
        exporter-specific factors).
    production
        ``production.csv`` rows (``year, commodity, stage, country_iso3, quantity, unit,
        source`` ...), as the hub screen reads them.
    rules
        The rules to apply (default :data:`STAGE_RULES`).

    Returns
    -------
    StageResult
        Mapped flows, ``stage_reassigned`` repairs and the map extended to the upstream
        stages.

    Raises
    ------
    resilience.errors.DataError
        A rule naming an HS line its commodity-stage does not have, a rule with equal
        stages or a non-positive ceiling, a production table without a needed column or
        with a negative quantity.
    """
    _check_rules(rules, hs_map)
    _check_production(production)
    years = sorted(flows["year"].unique().to_list())
    stage_production = _stage_production(production, years) if years else None
    columns = [*flows.columns, "commodity", "stage"]
    mapped = _mapped_content(flows, hs_map).with_row_index("_idx")
    moves: list[pl.DataFrame] = []
    for rule in rules:
        if stage_production is None:
            break
        judged = _judged(rule, mapped, stage_production)
        eligible = (
            mapped.filter(_eligible(rule))
            .with_columns(pl.col("year").cast(pl.Int32).alias("_y"))
            .join(
                judged.rename({"year": "_y"}),
                on=["_y", "exporter_iso3"],
                how="inner",
            )
            .with_columns(
                pl.min_horizontal(pl.lit(1.0), pl.col("_excess") / pl.col("_eligible")).alias(
                    "_share"
                ),
                pl.lit(rule.to_stage).alias("_to"),
            )
            .with_columns(_reason(rule).alias("_reason"))
        )
        moves.append(eligible)
    moved = (
        pl.concat(moves)
        if moves
        else mapped.clear().with_columns(
            pl.lit(None, pl.Float64).alias("_share"),
            pl.lit(None, pl.String).alias("_to"),
            pl.lit(None, pl.String).alias("_reason"),
        )
    )
    moved = moved.select(*mapped.columns, "_share", "_to", "_reason")
    repairs = _repairs(moved)
    share = moved.select("_idx", "_share", "_to")
    staying = (
        mapped.join(share, on="_idx", how="left")
        .with_columns((1.0 - pl.col("_share").fill_null(0.0)).alias("_keep"))
        .filter(pl.col("_keep") > 0)
        .with_columns(
            (pl.col("value_usd") * pl.col("_keep")).alias("value_usd"),
            (pl.col("quantity_t") * pl.col("_keep")).alias("quantity_t"),
        )
    )
    going = moved.with_columns(
        pl.col("_to").alias("stage"),
        (pl.col("value_usd") * pl.col("_share")).alias("value_usd"),
        (pl.col("quantity_t") * pl.col("_share")).alias("quantity_t"),
    )
    out = (
        pl.concat([staying.select("_idx", *columns), going.select("_idx", *columns)])
        .sort("_idx", "stage")
        .select(columns)
    )
    if repairs.height:
        log.warning(
            "stage rule: %d flows re-attributed upstream (USD %.4g): %s",
            repairs.height,
            repairs.select(stable_sum(pl.col("value_usd_reassigned"))).item(),
            ", ".join(
                f"{c} {a}->{b} {n}"
                for c, a, b, n in repairs.group_by("commodity", "stage_original", "stage_repaired")
                .len()
                .sort("commodity")
                .iter_rows()
            ),
        )
    return StageResult(flows=out, repairs=repairs, hs_map=_extended_map(hs_map, rules))


def _repairs(moved: pl.DataFrame) -> pl.DataFrame:
    opt = {c: pl.col(c) if c in moved.columns else pl.lit(None) for c in ("source", "vintage")}
    nulls = ("band_low_usd_per_t", "band_median_usd_per_t", "band_high_usd_per_t", "k_mad")
    return (
        moved.select(
            pl.col("year").cast(pl.Int32),
            "hs6_code",
            "exporter_iso3",
            "importer_iso3",
            "value_usd",
            pl.col("quantity_t").alias("quantity_t_original"),
            (pl.col("quantity_t") * pl.col("_share")).alias("quantity_t_repaired"),
            pl.lit("stage_reassigned").alias("action"),
            pl.col("_reason").alias("reason"),
            (pl.col("value_usd") / pl.col("quantity_t")).alias("unit_value_usd_per_t"),
            *(pl.lit(None, pl.Float64).alias(c) for c in nulls[:3]),
            pl.lit(None, pl.String).alias("band_basis"),
            pl.lit(None, pl.Float64).alias(nulls[3]),
            opt["source"].cast(pl.String).alias("source"),
            opt["vintage"].cast(pl.String).alias("vintage"),
            "commodity",
            pl.col("stage").alias("stage_original"),
            pl.col("_to").alias("stage_repaired"),
            (pl.col("value_usd") * pl.col("_share")).alias("value_usd_reassigned"),
        )
        .cast(dict(REPAIRS_SCHEMA))  # type: ignore[arg-type]
        .select(REPAIRS_SCHEMA.names())
        .sort("year", "hs6_code", "exporter_iso3", "importer_iso3")
    )


def _extended_map(hs_map: pl.DataFrame, rules: tuple[StageRule, ...]) -> pl.DataFrame:
    """``hs_map`` plus each rule line at its upstream stage (same factor, unit, basis)."""
    extra = [
        hs_map.filter(
            (pl.col("commodity") == rule.commodity)
            & (pl.col("stage") == rule.from_stage)
            & pl.col("hs6_code").is_in(list(rule.hs6_codes))
        ).with_columns(pl.lit(rule.to_stage).alias("stage"))
        for rule in rules
    ]
    return pl.concat([hs_map, *extra], how="vertical_relaxed") if extra else hs_map
