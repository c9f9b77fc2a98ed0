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
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from resilience import data
from resilience.build.blocs import EU27, add_blocs, is_bloc_name
from resilience.build.china_bilateral import china_only_groups, label_china_only
from resilience.build.dependency import (
    warn_missing_attributes,
    year_end,
)
from resilience.build.materiality import row_is_material
from resilience.build.metrics_table import metrics_table
from resilience.build.monthly import with_source_provenance
from resilience.build.pipeline import Inputs, load_inputs, world_and_dependency
from resilience.build.sources import check_source, with_source_spread
from resilience.errors import ArgumentError, UnknownNameError
from resilience.metrics.alliance import (
    DEFAULT_SPARE_CAPACITY_FRAC,
    REST_OF_WORLD,
    alliance_exposure,
    coercion_exposure,
)
from resilience.reference.alliances import bloc_ids, members
from resilience.reference.commodities import check_commodities
from resilience.reference.countries import CountryResolver

__all__ = ["RiskQuery", "check_bloc_adversary", "check_parties", "resolve_party", "risk_table"]

_GROUP = ["year", "importer_iso3", "commodity", "stage"]
_BACI_VERSION = re.compile(r"V\d{6}[a-z]?")


@dataclass(frozen=True)
class RiskQuery:
    """What a user asked: importer, allied bloc(s), optional adversary, year, commodities."""

    importer: str
    bloc: str
    adversary: str | None = None
    year: int | None = None
    commodities: Sequence[str] | None = None
    spare_capacity_frac: float = DEFAULT_SPARE_CAPACITY_FRAC
    #: Production source put first (``usgs``, ``wmd``, ``iea``); ``None``: the inputs'
    #: choice (the default ranking unless ``load_inputs(source=)`` set one).
    source: str | None = None
    importer_files: Sequence[Path] = ()


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


def _importer(name: str, importers: list[str], blocs: Sequence[str] = ()) -> str:
    resolver = CountryResolver.default()
    hit = resolver.lookup(name)
    if hit is None or hit.kind != "country" or hit.iso3 is None:
        vocabulary = [*blocs, *importers] + [
            resolver.name_of(i) for i in importers if resolver.is_country(i)
        ]
        raise UnknownNameError(
            "importer", name, difflib.get_close_matches(name, vocabulary, n=4, cutoff=0.5)
        )
    return hit.iso3


def _bloc_importer(query: RiskQuery, inputs: Inputs) -> tuple[Inputs, list[str] | None]:
    """Inputs with the importer added when it is a bloc (shipped, ``EU27`` or from a file).

    Returns the inputs and the bloc's members on 31 December of the query year (``None``
    when the importer is a country).
    """
    with_files = add_blocs(inputs, (), query.importer_files)
    if not is_bloc_name(query.importer, with_files.alliances):
        return with_files, None
    inputs = add_blocs(with_files, [query.importer])
    year = query.year if query.year is not None else max(inputs.years)
    blocs = inputs.blocs if inputs.blocs is not None else pl.DataFrame()
    members = blocs.filter((pl.col("bloc_iso3") == query.importer) & (pl.col("year") == year))[
        "member_iso3"
    ].to_list()
    return inputs, members


def check_parties(
    importer: str, allies: Sequence[str], adversary: Sequence[str], query: RiskQuery
) -> None:
    """Refuse an adversary that is the importer itself or one of its allies.

    Coercion by oneself or by an ally is not a question the table can answer (it would
    print a meaningless ``coercion 0.0``).

    Raises
    ------
    resilience.errors.ArgumentError
        Naming ``--adversary``, the value, the countries in conflict and what is allowed.
    """
    if not adversary:
        return
    if importer in adversary:
        raise ArgumentError(
            "--adversary",
            query.adversary,
            f"includes the importer {importer} itself",
            "a country or bloc other than the importer and its allies",
        )
    shared = sorted(set(adversary) & set(allies))
    if shared:
        raise ArgumentError(
            "--adversary",
            query.adversary,
            f"{', '.join(shared)} {'is' if len(shared) == 1 else 'are'} also in the allied "
            f"bloc {query.bloc!r}",
            "a country or bloc outside the allied bloc (or drop it from --bloc)",
        )


def check_bloc_adversary(
    bloc: str, members: Sequence[str], adversary: Sequence[str], query: RiskQuery
) -> None:
    """Refuse an adversary that is a member of the importing bloc.

    Raises
    ------
    resilience.errors.ArgumentError
        Naming ``--adversary``, the value and the members in conflict.
    """
    inside = sorted(set(adversary) & set(members))
    if inside:
        raise ArgumentError(
            "--adversary",
            query.adversary,
            f"{', '.join(inside)} {'is' if len(inside) == 1 else 'are'} a member of the "
            f"importing bloc {bloc}",
            "a country or bloc outside the importing bloc",
        )


def _trade_vintage(trade_source: str, year: int) -> str | None:
    """The release of the trade table behind ``trade_source`` (e.g. ``V202401b``)."""
    shipped = (
        data.scan_trade()
        .filter(pl.col("year") == year)
        .select("source", "vintage")
        .unique()
        .collect()
    )
    for source, vintage in shipped.iter_rows():
        if trade_source.startswith(source):
            return str(vintage)
    found = _BACI_VERSION.search(trade_source)  # a user's BACI file: its release in the name
    return found.group(0) if found else None


def _values_behind_shares(mine: pl.LazyFrame, allies: Sequence[str]) -> pl.LazyFrame:
    """Import value (USD) of the top supplier, of all non-allied and of the largest one."""
    allied = pl.col("supplier_iso3").is_in(sorted(allies)) & (
        pl.col("supplier_iso3") != REST_OF_WORLD
    )
    return mine.group_by(_GROUP).agg(
        pl.col("import_value_usd").filter(~allied).sum().alias("non_allied_value_usd"),
        pl.col("import_value_usd").is_not_null().any().alias("_has_value"),
    )


def _with_values(table: pl.DataFrame, mine: pl.DataFrame, allies: Sequence[str]) -> pl.DataFrame:
    """Add ``top1_value_usd``, ``non_allied_value_usd``, ``max_non_allied_value_usd``.

    Each is the recorded import value behind the share of the same name; null where the
    row has no recorded imports (``basis = world_market``: shares of world production).
    """
    by_supplier = mine.select(*_GROUP, "supplier_iso3", "import_value_usd")
    totals = _values_behind_shares(mine.lazy(), allies).collect()
    return (
        table.join(totals, on=_GROUP, how="left")
        .with_columns(
            pl.when(pl.col("_has_value"))
            .then(pl.col("non_allied_value_usd"))
            .alias("non_allied_value_usd")
        )
        .drop("_has_value")
        .join(
            by_supplier.rename(
                {"supplier_iso3": "top_supplier_iso3", "import_value_usd": "top1_value_usd"}
            ),
            on=[*_GROUP, "top_supplier_iso3"],
            how="left",
        )
        .join(
            by_supplier.rename(
                {
                    "supplier_iso3": "max_non_allied_supplier_iso3",
                    "import_value_usd": "max_non_allied_value_usd",
                }
            ),
            on=[*_GROUP, "max_non_allied_supplier_iso3"],
            how="left",
        )
    )


def _with_provenance(
    table: pl.DataFrame, production: pl.DataFrame, trade_source: str, year: int
) -> pl.DataFrame:
    """Add ``source`` and ``vintage``: where the row's shares come from, and which release.

    Shares of recorded imports (``basis = bilateral``) come from the trade table; shares
    of world production (``world_market``) from the production source named in
    ``production_source`` (its ``vintage`` column, for the production year used).
    """
    vintages = (
        production.select(
            pl.col("commodity"),
            pl.col("stage"),
            pl.col("source").alias("production_source"),
            pl.col("year").cast(pl.Int64).alias("_py"),
            pl.col("vintage").cast(pl.String),
        )
        .unique()
        .group_by("commodity", "stage", "production_source", "_py")
        .agg(pl.col("vintage").drop_nulls().sort().str.join("; ").alias("_production_vintage"))
    )
    bilateral = pl.col("basis") == "bilateral"
    return (
        table.with_columns(pl.col("production_year").cast(pl.Int64).alias("_py"))
        .join(vintages, on=["commodity", "stage", "production_source", "_py"], how="left")
        .with_columns(
            pl.when(bilateral)
            .then(pl.lit(trade_source))
            .otherwise(pl.col("production_source"))
            .alias("source"),
            pl.when(bilateral)
            .then(pl.lit(_trade_vintage(trade_source, year), dtype=pl.String))
            .otherwise(pl.col("_production_vintage"))
            .alias("vintage"),
        )
        .drop("_py", "_production_vintage")
    )


def _with_chip_provenance(table: pl.DataFrame, chip_rows: pl.DataFrame) -> pl.DataFrame:
    """``source`` and ``vintage`` of chip rows from ``datasets/chip_capacity.csv``.

    Rows on a capacity or headquarters basis take the publisher and vintage of the
    group they come from (:func:`resilience.reference.chips.supply_world_shares`), not
    a production release.
    """
    groups = chip_rows.select(
        "commodity",
        "stage",
        pl.col("production_source").alias("_chip_source"),
        pl.col("vintage").alias("_chip_vintage"),
    ).unique(["commodity", "stage"])
    return (
        table.join(groups, on=["commodity", "stage"], how="left")
        .with_columns(
            pl.coalesce("_chip_source", "source").alias("source"),
            pl.coalesce("_chip_vintage", "vintage").alias("vintage"),
        )
        .drop("_chip_source", "_chip_vintage")
    )


def _governance_notes(mine: pl.DataFrame) -> pl.DataFrame:
    """Per commodity-stage: the suppliers' missing-score notes, joined (null if none)."""
    return (
        mine.group_by(_GROUP)
        .agg(
            pl.col("governance_note")
            .drop_nulls()
            .unique()
            .sort()
            .str.join("; ")
            .alias("governance_note"),
            pl.col("is_governance_imputed").any().alias("is_governance_imputed"),
            pl.col("is_ideal_point_missing").any().alias("is_ideal_point_missing"),
        )
        .with_columns(
            pl.when(pl.col("governance_note") != "")
            .then("governance_note")
            .alias("governance_note")
        )
    )


def risk_table(query: RiskQuery, inputs: Inputs | None = None) -> pl.DataFrame:
    """Ranked risk table for one importer and year.

    Parameters
    ----------
    query
        Importer (a country, or a bloc: ``EU``, ``EU27``, ``G7+EU`` or a bloc of
        ``importer_files``, whose rows are its extra-bloc imports and its members' summed
        production, :mod:`resilience.build.blocs`), allied bloc expression (``"G7"``,
        ``"G7+EU"``), optional adversary (a country or bloc), year (default: latest
        trade year), commodity ids (default: all).
    inputs
        Pre-loaded build inputs (for repeated queries); loaded from ``datasets/`` if
        omitted.

    Returns
    -------
    polars.DataFrame
        One row per (commodity, stage), material rows first (``is_material``:
        :mod:`resilience.build.materiality`), then sorted by coercion exposure (when an
        adversary is given), then non-allied share, then HHI, all descending. Shares are fractions;
        ``hhi_10000`` is on the 0-10 000 scale. ``import_value_usd`` is the recorded
        trade value behind the shares; ``top1_value_usd``, ``non_allied_value_usd`` and
        ``max_non_allied_value_usd`` the value behind each share (null for
        ``basis = world_market``, where the shares are of world production). ``source`` and
        ``vintage`` name the data behind the shares (trade or production release).
        ``world_top1_share_min``/``_max``, ``world_hhi_min``/``_max``,
        ``is_source_disputed`` and ``source_spread_note`` show how far the production
        sources disagree (:mod:`resilience.build.sources`); ``is_governance_imputed``,
        ``is_ideal_point_missing`` and ``governance_note`` name suppliers without a WGI
        score or a UNGA ideal point (also logged, at INFO).

    Raises
    ------
    resilience.errors.ArgumentError
        If the adversary is the importer or shares a country with the allied bloc.
    resilience.errors.UnknownNameError
        For an unknown importer, bloc, adversary, year or commodity (with close matches).
    """
    if query.commodities:
        check_commodities(list(query.commodities))
    check_source(query.source)
    inputs = inputs or load_inputs()
    source = query.source if query.source is not None else inputs.source
    year = query.year if query.year is not None else max(inputs.years)
    if year not in inputs.years:
        raise UnknownNameError("year", str(year), [str(y) for y in inputs.years])
    inputs, bloc_members = _bloc_importer(query, inputs)
    importer = (
        query.importer
        if bloc_members is not None
        else _importer(query.importer, inputs.importers, [*bloc_ids(inputs.alliances), EU27])
    )
    on = year_end(year)
    allies = resolve_party(query.bloc, inputs.alliances, on, "bloc")
    adversary = (
        resolve_party(query.adversary, inputs.alliances, on, "adversary") if query.adversary else []
    )
    check_parties(importer, allies, adversary, query)
    if bloc_members is not None:
        check_bloc_adversary(importer, bloc_members, adversary, query)

    world, chip_rows, attributes, dependency = world_and_dependency(inputs, [year], source)
    if query.commodities:
        dependency = dependency.filter(pl.col("commodity").is_in(list(query.commodities)))
    metrics = metrics_table(
        dependency, world, inputs.commodities, inputs.parameters, inputs.blocs, attributes
    ).filter(pl.col("importer_iso3") == importer)
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
    mine_rows = mine.collect()
    # Logged at INFO: nearly every importer buys from Hong Kong or Taiwan, so a warning on
    # every query would be noise; the rows carry the flags and the CLI prints a note.
    warn_missing_attributes(mine_rows, level=logging.INFO)
    out = _with_values(out, mine_rows, allies)
    out = _with_provenance(out, inputs.production, inputs.trade_source, year)
    out = _with_chip_provenance(out, chip_rows)
    out = with_source_provenance(out)
    out = label_china_only(out, china_only_groups(mine_rows))
    out = with_source_spread(out, inputs.production)
    out = out.join(_governance_notes(mine_rows), on=_GROUP, how="left")
    out = out.join(row_is_material(mine_rows.lazy()).collect(), on=_GROUP, how="left")
    # Material rows rank first: a commodity whose recorded imports are all tiny flows
    # (resilience.build.materiality) is still listed, after them.
    order = ["is_material"] + (["coercion_exposure"] if adversary else [])
    order += ["non_allied_share", "hhi"]
    return out.sort(order, descending=True, nulls_last=True).with_columns(
        pl.lit(inputs.trade_source).alias("trade_source")
    )
