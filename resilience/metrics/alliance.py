r"""Alliance exposure and coercion metrics over the dependency dataset.

All functions take dependency rows (:func:`resilience.build.dependency.build_dependency`)
and sets of ISO3 codes (bloc members on the year's 31 December, from
:func:`resilience.reference.alliances.members`), and return one row per
(year, importer, commodity, stage).

Definitions
-----------
Let :math:`s_p` be the share of supplier :math:`p` in the importer's supply of a commodity
at a stage, :math:`A` the allied set and :math:`V` the adversary set.

- non-allied share :math:`N = \sum_{p \notin A} s_p`; the rest-of-world remainder
  (``ROW``, unnamed producers) counts as non-allied: it cannot be vouched for.
- largest single non-allied supplier :math:`\max_{p \notin A} s_p`; the EU Critical Raw
  Materials Act benchmark flags it above 65 % (``crma_65_breach``).
- share-weighted alignment distance :math:`\sum_p s_p |x_m - x_p| / \sum_p s_p` over
  suppliers with a UNGA ideal point :math:`x`.
- coercion: at this stage the adversary controls its direct share
  :math:`c_0 = \sum_{p \in V} s_p`; at each later stage :math:`k` of the same commodity
  (mining -> refining -> manufacturing) it controls its world share :math:`c_k = w_{V,k}`,
  because the importer's material must pass through that stage somewhere. Allied spare
  capacity, a fraction :math:`\phi` of allied output (default 10 %), replaces a part
  :math:`r_k = \min(1, \phi\, w_{A,k} / w_{V,k})` of what the adversary withholds,
  shared pro rata among all importers. Then

  .. math::

     \text{controlled} = 1 - \prod_k (1 - c_k), \qquad
     \text{coercion exposure} = 1 - \prod_k \bigl(1 - c_k (1 - r_k)\bigr)

  with the products over this stage and every later one (stages treated as independent
  routes). ``coercion_replaceable`` is their difference.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from resilience.metrics.sums import stable_sum
from resilience.reference.countries import REST_OF_WORLD

__all__ = [
    "CRMA_SINGLE_SUPPLIER_CAP",
    "DEFAULT_SPARE_CAPACITY_FRAC",
    "STAGE_ORDER",
    "alliance_exposure",
    "coercion_exposure",
]

#: EU CRMA (Regulation 2024/1252) benchmark: at most 65 % from a single third country.
CRMA_SINGLE_SUPPLIER_CAP = 0.65
#: Fraction of allied output assumed available at short notice (spare capacity).
DEFAULT_SPARE_CAPACITY_FRAC = 0.10
#: Order of the chained stages; design and equipment do not chain.
STAGE_ORDER = {"mining": 0, "refining": 1, "manufacturing": 2}

_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def alliance_exposure(
    dependency: pl.LazyFrame | pl.DataFrame, allies: Collection[str]
) -> pl.LazyFrame:
    """Non-allied share, largest non-allied supplier, CRMA flag, alignment distance.

    Parameters
    ----------
    dependency
        Dependency rows (``supply_share``, ``supplier_iso3``, ``alignment_distance``).
    allies
        ISO3 codes of the allied set (the importer need not be in it).

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, non_allied_share,
        max_non_allied_share, max_non_allied_supplier_iso3, crma_65_breach,
        alignment_distance``.
    """
    allied = pl.col("supplier_iso3").is_in(sorted(allies)) & (
        pl.col("supplier_iso3") != REST_OF_WORLD
    )
    share = pl.col("supply_share")
    known = pl.col("alignment_distance").is_not_null() & share.is_not_null()
    rows = dependency.lazy()
    totals = rows.group_by(_GROUP).agg(
        stable_sum(share.filter(~allied)).alias("non_allied_share"),
        (
            stable_sum((share * pl.col("alignment_distance")).filter(known))
            / stable_sum(share.filter(known))
        ).alias("alignment_distance"),
    )
    # The largest named non-allied supplier (ties broken by ISO3 for a stable answer).
    largest = (
        rows.filter(~allied & (pl.col("supplier_iso3") != REST_OF_WORLD) & share.is_not_null())
        .sort([*_GROUP, "supply_share", "supplier_iso3"], descending=[False] * 4 + [True, False])
        .group_by(_GROUP, maintain_order=True)
        .agg(
            pl.col("supplier_iso3").first().alias("max_non_allied_supplier_iso3"),
            pl.col("supply_share").first().alias("max_non_allied_share"),
        )
    )
    return (
        totals.join(largest, on=_GROUP, how="left")
        .with_columns(pl.col("max_non_allied_share").fill_null(0.0))
        .with_columns(
            (pl.col("max_non_allied_share") > CRMA_SINGLE_SUPPLIER_CAP).alias("crma_65_breach")
        )
    )


def coercion_exposure(
    dependency: pl.LazyFrame | pl.DataFrame,
    world: pl.LazyFrame | pl.DataFrame,
    adversary: Collection[str],
    allies: Collection[str],
    spare_capacity_frac: float = DEFAULT_SPARE_CAPACITY_FRAC,
) -> pl.LazyFrame:
    r"""Share of supply an adversary controls, directly or via a later stage; what allies replace.

    See the module notes for the formula.

    Parameters
    ----------
    dependency
        Dependency rows.
    world
        World shares (:func:`resilience.build.world_market.world_shares`) for the same
        years: ``year, commodity, stage, country_iso3, world_share``.
    adversary, allies
        ISO3 sets; an adversary member is never counted as an ally.
    spare_capacity_frac
        :math:`\phi`, the fraction of allied output available at short notice.

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3, commodity, stage, coercion_direct_share,
        coercion_controlled_share, coercion_replaceable_share, coercion_exposure``.
    """
    if not 0 <= spare_capacity_frac <= 1:
        raise ValueError(f"spare_capacity_frac must lie in [0, 1], got {spare_capacity_frac}")
    adv = sorted(adversary)
    ally = sorted(set(allies) - set(adversary))
    w = world.lazy().filter(pl.col("country_iso3") != REST_OF_WORLD)
    stage_world = w.group_by("year", "commodity", "stage").agg(
        stable_sum(pl.col("world_share").filter(pl.col("country_iso3").is_in(adv))).alias(
            "adv_world"
        ),
        stable_sum(pl.col("world_share").filter(pl.col("country_iso3").is_in(ally))).alias(
            "ally_world"
        ),
    )
    replace = (
        pl.when(pl.col("adv_world") > 0)
        .then(
            pl.min_horizontal(
                pl.lit(1.0), spare_capacity_frac * pl.col("ally_world") / pl.col("adv_world")
            )
        )
        .otherwise(pl.lit(1.0))
    )
    stage_world = stage_world.with_columns(replace.alias("replace_frac"))
    order = pl.col("stage").replace_strict(STAGE_ORDER, default=None, return_dtype=pl.Int32)

    direct = (
        dependency.lazy()
        .group_by(_GROUP)
        .agg(
            stable_sum(pl.col("supply_share").filter(pl.col("supplier_iso3").is_in(adv))).alias("c")
        )
        .join(
            stage_world.select("year", "commodity", "stage", "replace_frac"),
            on=["year", "commodity", "stage"],
            how="left",
        )
        .with_columns(pl.col("replace_frac").fill_null(1.0), order.alias("_order"))
    )
    later = (
        direct.select(*_GROUP, "_order")
        .join(
            stage_world.with_columns(order.alias("_later_order")).rename({"stage": "_later_stage"}),
            on=["year", "commodity"],
            how="inner",
        )
        .filter(pl.col("_order").is_not_null() & (pl.col("_later_order") > pl.col("_order")))
        .select(
            *_GROUP, pl.col("adv_world").alias("c"), "replace_frac", pl.lit(False).alias("_direct")
        )
    )
    terms = pl.concat(
        [direct.select(*_GROUP, "c", "replace_frac", pl.lit(True).alias("_direct")), later]
    )
    return (
        terms.group_by(_GROUP)
        .agg(
            pl.col("c").filter(pl.col("_direct")).first().alias("coercion_direct_share"),
            (1 - (1 - pl.col("c")).product()).alias("coercion_controlled_share"),
            (1 - (1 - pl.col("c") * (1 - pl.col("replace_frac"))).product()).alias(
                "coercion_exposure"
            ),
        )
        .with_columns(
            (pl.col("coercion_controlled_share") - pl.col("coercion_exposure")).alias(
                "coercion_replaceable_share"
            )
        )
    )
