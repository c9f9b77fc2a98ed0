r"""Which countries are nodes of a study's market, and which go into the rest of the world.

DESIGN §4: every member is its own node, then the ``top_importers`` other largest
importers of the study's goods by value, then every producer or exporter that *matters*:
its share of world output or of world exports of at least one study good is at least
``producer_share_threshold``. Every other country is folded into one rest-of-world node
:data:`REST_OF_WORLD` (its production, consumption and trade summed; trade between two
rest-of-world countries nets out of its balance). ``keep`` forces more countries in
(suppliers and targets of the disruptions studied, so that a cut never lands on a whole
aggregate).

The pruning is tested: folding small producers into the rest of the world moves the
members' prices and welfare losses by less than a stated tolerance
(``tests/unit/test_market_shipped.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from resilience.metrics.sums import stable_sum
from resilience.reference.countries import REST_OF_WORLD

__all__ = ["REST_OF_WORLD", "Regions", "choose_regions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Regions:
    """The node of every country.

    Attributes
    ----------
    members
        Member ISO3 codes (each its own node).
    importers
        The top other importers kept (by value of the study's goods).
    producers
        Producers or exporters kept for their share (not members or top importers).
    forced
        Countries kept because a disruption names them.
    """

    members: tuple[str, ...]
    importers: tuple[str, ...]
    producers: tuple[str, ...]
    forced: tuple[str, ...]

    @property
    def nodes(self) -> list[str]:
        """Every node: the kept countries, then :data:`REST_OF_WORLD`."""
        kept = dict.fromkeys([*self.members, *self.importers, *self.producers, *self.forced])
        return [*kept, REST_OF_WORLD]

    def node_of(self, country: pl.Expr) -> pl.Expr:
        """Polars expression: the node of an ISO3 column (rest of world if not kept)."""
        kept = self.nodes[:-1]
        return pl.when(country.is_in(kept)).then(country).otherwise(pl.lit(REST_OF_WORLD))

    def table(self) -> pl.DataFrame:
        """``node, role``: member, importer, producer, forced or rest_of_world."""
        rows = [(m, "member") for m in self.members]
        rows += [(c, "importer") for c in self.importers]
        rows += [(c, "producer") for c in self.producers]
        rows += [(c, "forced") for c in self.forced]
        rows.append((REST_OF_WORLD, "rest_of_world"))
        return pl.DataFrame(rows, schema={"node": pl.String, "role": pl.String}, orient="row")


def choose_regions(
    members: Sequence[str],
    trade: pl.DataFrame,
    production: pl.DataFrame,
    *,
    top_importers: int = 10,
    producer_share_threshold: float = 0.01,
    keep: Iterable[str] = (),
) -> Regions:
    r"""Members, top importers, material producers and forced countries (module doc).

    Parameters
    ----------
    members
        The study's members (ISO3).
    trade
        ``exporter_iso3, importer_iso3, good, value_usd, quantity_units_per_year``.
    production
        ``country_iso3, good, production_units_per_year``.
    top_importers
        How many other importers to keep, by value summed over the goods (>= 0).
    producer_share_threshold
        A country whose share of world output or of world exports of some good reaches
        this is kept; 0 keeps every producer and exporter.
    keep
        More countries to keep (if they appear in the data).
    """
    if top_importers < 0:
        raise ValueError(f"top_importers must be >= 0, not {top_importers!r}")
    if not 0.0 <= producer_share_threshold <= 1.0:
        raise ValueError(
            f"producer_share_threshold must lie in [0, 1], not {producer_share_threshold!r}"
        )
    member_set = set(members)
    by_value = (
        trade.filter(~pl.col("importer_iso3").is_in(list(member_set)))
        .group_by("importer_iso3")
        .agg(stable_sum(pl.col("value_usd")))
        .sort(["value_usd", "importer_iso3"], descending=[True, False])
    )
    importers = [c for c in by_value["importer_iso3"].to_list() if c != REST_OF_WORLD]
    importers = importers[:top_importers]
    exports = trade.group_by("exporter_iso3", "good", maintain_order=True).agg(
        stable_sum(pl.col("quantity_units_per_year")).alias("q")
    )
    exports = exports.rename({"exporter_iso3": "country_iso3"})
    output = production.select(
        "country_iso3", "good", pl.col("production_units_per_year").alias("q")
    )
    # a share of world exports or of world output, each measured on its own
    exp_share = exports.with_columns(
        (pl.col("q") / pl.col("q").sum().over("good")).alias("share")
    ).select("country_iso3", "good", "share")
    out_share = output.with_columns(
        (pl.col("q") / pl.col("q").sum().over("good")).alias("share")
    ).select("country_iso3", "good", "share")
    material = (
        pl.concat([exp_share, out_share])
        .filter(
            (pl.col("share") >= producer_share_threshold)
            & (pl.col("share") > 0)
            & (pl.col("country_iso3") != REST_OF_WORLD)
        )
        .get_column("country_iso3")
        .unique()
        .sort()
        .to_list()
    )
    taken = member_set | set(importers)
    producers = [c for c in material if c not in taken]
    present = set(trade["exporter_iso3"]) | set(trade["importer_iso3"])
    present |= set(production["country_iso3"])
    forced = sorted(
        c
        for c in set(keep)
        if c in present and c not in taken | set(producers) and c != REST_OF_WORLD
    )
    regions = Regions(tuple(members), tuple(importers), tuple(producers), tuple(forced))
    log.info(
        "market regions: %d members, %d top importers, %d producers (share >= %g), "
        "%d forced, 1 rest of world",
        len(members),
        len(importers),
        len(producers),
        producer_share_threshold,
        len(forced),
    )
    return regions
