"""Supply shares and concentration (HHI, top-k shares) as Polars expressions.

Conventions
-----------
- A *share* is a fraction in [0, 1] of the group total, where the total counts every
  country row and the explicit rest-of-world (``ROW``) row, never the stated world total
  (``WLD``), which stays a reference.
- ``hhi`` is on the 0-1 scale (``sum s_i**2``); ``hhi_10000`` is the same index on the
  0-10 000 scale that World Mining Data and competition authorities print.
- The rest-of-world remainder is many small producers, not one: it is *excluded* from the
  HHI sum and from top-k ranks (so the HHI is a lower bound when a source lumps producers
  into "Other countries"), but it stays in the denominator of every share.
"""

from __future__ import annotations

import polars as pl

from resilience.metrics.sums import stable_sum
from resilience.reference.countries import REST_OF_WORLD, WORLD

__all__ = ["concentration", "shares"]


def shares(
    frame: pl.DataFrame | pl.LazyFrame, group: list[str], value: str = "quantity"
) -> pl.LazyFrame:
    """Add ``share`` = value / group total (countries + ``ROW``; ``WLD`` rows dropped).

    Rows whose value is null (withheld) get a null share and add nothing to the total.
    """
    lf = frame.lazy().filter(pl.col("country_iso3") != WORLD)
    return lf.with_columns((pl.col(value) / stable_sum(pl.col(value)).over(group)).alias("share"))


def concentration(
    frame: pl.DataFrame | pl.LazyFrame,
    group: list[str],
    share: str = "share",
    country: str = "country_iso3",
) -> pl.LazyFrame:
    r"""HHI (0-1 and 0-10 000), top-1 and top-3 shares and the top country per group.

    ``frame`` must carry a country column and a share column (from :func:`shares`, or
    the dependency dataset's ``supplier_iso3`` and ``supply_share``).

    Notes
    -----
    .. math:: HHI = \sum_i s_i^2, \\quad s_i = q_i / \sum_j q_j

    with :math:`i` over countries (``ROW`` excluded from the sum, included in the total).
    """
    countries = frame.lazy().filter(~pl.col(country).is_in([REST_OF_WORLD, WORLD]))
    ranked = countries.filter(pl.col(share).is_not_null()).sort(
        [*group, share, country], descending=[False] * len(group) + [True, False]
    )
    return ranked.group_by(group, maintain_order=True).agg(
        stable_sum(pl.col(share) ** 2).alias("hhi"),
        stable_sum((pl.col(share) * 100) ** 2).alias("hhi_10000"),
        pl.col(country).first().alias("top_country_iso3"),
        pl.col(share).first().alias("top1_share"),
        stable_sum(pl.col(share).head(3)).alias("top3_share"),
        pl.len().alias("n_countries"),
    )
