"""Where an importer stands: a ranked risk table by commodity and stage.

:func:`risk_table` answers the first question every user asks: for each commodity and
stage, who supplies us, how concentrated and how well governed that supply is, how much of
it sits outside our alliance, and how much a given adversary controls. It builds the
dependency rows for one year from the shipped tables (about a second) and adds the
alliance and coercion metrics for the bloc and adversary named.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from resilience.build.dependency import build_dependency, country_attributes, year_end
from resilience.build.metrics_table import metrics_table
from resilience.build.pipeline import Inputs, load_inputs
from resilience.build.world_market import world_shares
from resilience.errors import UnknownNameError
from resilience.metrics.alliance import (
    DEFAULT_SPARE_CAPACITY_FRAC,
    alliance_exposure,
    coercion_exposure,
)
from resilience.reference.alliances import bloc_ids, members
from resilience.reference.commodities import check_commodities
from resilience.reference.countries import CountryResolver

__all__ = ["RiskQuery", "resolve_party", "risk_table"]

_GROUP = ["year", "importer_iso3", "commodity", "stage"]


@dataclass(frozen=True)
class RiskQuery:
    """What a user asked: importer, allied bloc(s), optional adversary, year, commodities."""

    importer: str
    bloc: str
    adversary: str | None = None
    year: int | None = None
    commodities: Sequence[str] | None = None
    spare_capacity_frac: float = DEFAULT_SPARE_CAPACITY_FRAC


def resolve_party(name: str, alliances: pl.DataFrame, on: dt.date, kind: str) -> list[str]:
    """ISO3 members for a country (code or name) or a bloc expression such as ``G7+EU``.

    Raises
    ------
    resilience.errors.UnknownNameError
        Listing close bloc ids and country names.
    """
    known_blocs = bloc_ids(alliances)
    parts = name.split("+")
    if all(p in known_blocs for p in parts):
        return members(alliances, parts, on)
    resolver = CountryResolver.default()
    hit = resolver.lookup(name)
    if hit is not None and hit.kind == "country" and hit.iso3 is not None:
        return [hit.iso3]
    vocabulary = (
        known_blocs + resolver.countries["iso3"].to_list() + resolver.countries["name"].to_list()
    )
    raise UnknownNameError(kind, name, difflib.get_close_matches(name, vocabulary, n=4, cutoff=0.5))


def _importer(name: str, importers: list[str]) -> str:
    resolver = CountryResolver.default()
    hit = resolver.lookup(name)
    if hit is None or hit.kind != "country" or hit.iso3 is None:
        vocabulary = importers + [resolver.name_of(i) for i in importers if resolver.is_country(i)]
        raise UnknownNameError(
            "importer", name, difflib.get_close_matches(name, vocabulary, n=4, cutoff=0.5)
        )
    return hit.iso3


def risk_table(query: RiskQuery, inputs: Inputs | None = None) -> pl.DataFrame:
    """Ranked risk table for one importer and year.

    Parameters
    ----------
    query
        Importer, bloc expression (``"G7"``, ``"G7+EU"``), optional adversary (a country
        or bloc), year (default: latest trade year), commodity ids (default: all).
    inputs
        Pre-loaded build inputs (for repeated queries); loaded from ``datasets/`` if
        omitted.

    Returns
    -------
    polars.DataFrame
        One row per (commodity, stage), sorted by coercion exposure (when an adversary is
        given), then non-allied share, then HHI, all descending. Shares are fractions;
        ``hhi_10000`` is on the 0-10 000 scale.
    """
    if query.commodities:
        check_commodities(list(query.commodities))
    inputs = inputs or load_inputs()
    year = query.year if query.year is not None else max(inputs.years)
    if year not in inputs.years:
        raise UnknownNameError("year", str(year), [str(y) for y in inputs.years])
    importer = _importer(query.importer, inputs.importers)
    on = year_end(year)
    allies = resolve_party(query.bloc, inputs.alliances, on, "bloc")
    adversary = (
        resolve_party(query.adversary, inputs.alliances, on, "adversary") if query.adversary else []
    )

    world = world_shares(inputs.production, [year])
    attributes = country_attributes(inputs.governance, inputs.alignment, inputs.alliances, [year])
    bilateral = inputs.bilateral.filter(pl.col("year") == year)
    dependency = build_dependency(
        bilateral, world, attributes, inputs.importers, inputs.commodities
    )
    if query.commodities:
        dependency = dependency.filter(pl.col("commodity").is_in(list(query.commodities)))
    metrics = metrics_table(dependency, world, inputs.commodities, inputs.parameters).filter(
        pl.col("importer_iso3") == importer
    )
    mine = dependency.filter(pl.col("importer_iso3") == importer)
    table = metrics.join(alliance_exposure(mine, allies), on=_GROUP, how="left")
    if adversary:
        table = table.join(
            coercion_exposure(mine, world, adversary, allies, query.spare_capacity_frac),
            on=_GROUP,
            how="left",
        )
    out = table.collect()
    if out.height == 0:
        raise UnknownNameError("importer", query.importer, [])
    order = (["coercion_exposure"] if adversary else []) + ["non_allied_share", "hhi"]
    return out.sort(order, descending=True, nulls_last=True).with_columns(
        pl.lit(inputs.trade_source).alias("trade_source")
    )
