r"""A study on the shipped data -> :class:`~resilience.optimize.market.inputs.MarketInputs`.

:func:`study_market` assembles the market core's inputs for a study (its year, members,
commodity-stages) and a scenario expression:

1. **Parameters** of every good from :func:`resilience.reference.market_parameters.
   resolve_parameters` (the cited table; P0 of the study's year), with validated
   ``overrides`` from code.
2. **Quantities on a content basis**, one unit per good (``datasets/commodities.csv``):
   bilateral trade of the study's year (``datasets/trade.parquet``) uses the column
   ``quantity_content`` where it exists and is filled; otherwise the value-implied
   content ``value_usd / P0`` (the quantity the traded value buys at the cited reference
   price). Gross shipping tonnes (``quantity_t``) are never used. The basis of every
   arc is kept in ``StudyMarket.arcs["quantity_basis"]`` (``content`` or
   ``value_at_reference_price``). Production from ``datasets/production.csv`` (already
   on the content basis), the study's year or the latest before it, one source per
   good (:func:`resilience.build.world_market.world_shares`; year and source recorded).
3. **Regions** (:mod:`.regions`): members, the top other importers, material producers
   and the disruptions' suppliers and targets, one rest-of-world node.
4. **Balances**: per node and good, observed monthly consumption
   :math:`q_0 = (\text{production} + \text{imports} - \text{exports}) / 12`. Where
   exports exceed production plus imports (a re-exporter whose production the tables
   miss, or a value-implied quantity above the physical one), the node's output is
   raised to its net exports and :math:`q_0 = 0`; every such raise is logged and kept in
   ``StudyMarket.balances["output_raised_units_per_year"]``. Where a row of
   ``datasets/input_coefficients.csv`` links two of the study's goods, each node's
   observed output of the downstream good comes from a process fed by the upstream good,
   and the upstream good's q0 leaves out the process's input use (:mod:`.links_data`;
   the balances keep the observed quantities).
5. **Arcs** (:mod:`.arcs_data`): every observed flow between two nodes (flows inside
   one node, e.g. between two rest-of-world countries, net out of its balance); pipeline
   gas links of
   ``datasets/gas_infrastructure.csv`` that match an observed arc become fixed links
   capped at the pipeline's capacity; new arcs from every node with output to every
   node with demand, with a ramp base of the destination's :math:`q_0` times the
   origin's share of world output (so that all new arcs into a node together grow at
   most by the ramp share of its demand a month).
6. **Stocks**: every consuming node's working stock (``working_stock_days``) and members'
   strategic stocks from ``datasets/strategic_stocks.csv`` (:mod:`.stocks_data`).
7. **Scenarios**: the composition's events (:mod:`.disruptions`). An event whose
   suppliers hold less than ``scope_share`` of world exports of every good it names is
   out of scope: the market cannot resolve it (it would be a zero dressed as a result);
   it is listed in ``StudyMarket.out_of_scope`` with the share, and an expression
   whose events are all out of scope is an error saying so.

:func:`run_study_market` solves the market without and with the disruptions and
returns a :class:`StudyMarketResult` (welfare loss per member and scenario, price rise,
demand shed per month, stock drawdown, who gains).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from resilience import data as shipped
from resilience.build.world_market import world_shares
from resilience.metrics.sums import stable_sum
from resilience.optimize.market import allocated
from resilience.optimize.market import disruptions as dis
from resilience.optimize.market.arcs_data import fixed_links, market_arcs
from resilience.optimize.market.calm import calm_reference
from resilience.optimize.market.core import build_market, solve_market
from resilience.optimize.market.inputs import (
    PARAMETER_COLUMNS,
    MarketInputs,
    MarketSettings,
    good_name,
)
from resilience.optimize.market.links_data import link_stages, study_links
from resilience.optimize.market.policies import capacity_map_years
from resilience.optimize.market.regions import Regions, choose_regions
from resilience.optimize.market.results import MarketResult, welfare_loss
from resilience.optimize.market.schema import empty
from resilience.optimize.market.stocks_data import member_stocks
from resilience.optimize.solve import SolverOptions
from resilience.reference.market_parameters import resolve_parameters
from resilience.specs import Composition, SpecError, SpecProblem, StudySpec

__all__ = [
    "QUANTITY_BASES",
    "OutOfScopeError",
    "StudyMarket",
    "StudyMarketResult",
    "StudyMarketSettings",
    "run_study_market",
    "study_market",
]

log = logging.getLogger(__name__)

#: Values of the ``quantity_basis`` column of the arcs.
QUANTITY_BASES = ("content", "value_at_reference_price", *allocated.ALLOCATED_BASES)
_MONTHS_PER_YEAR = 12.0


class OutOfScopeError(SpecError):
    """Every event of a run is out of the market's scope (a finding about the study)."""


@dataclass(frozen=True)
class StudyMarketSettings:
    """How a study becomes a market.

    Parameters
    ----------
    months
        Horizon ``T`` (months of 365/T days).
    top_importers
        Other importers kept as their own node (by value of the study's goods).
    producer_share_threshold
        Producers or exporters with at least this share of world output or exports of a
        study good are their own node; the others join the rest of the world.
    scope_share
        An event whose suppliers hold less than this share of world exports of every
        good it names is out of scope (module doc).
    new_arcs
        Add new arcs (producers to consumers not trading today).
    new_arc_min_output_share
        A new arc opens only from a node holding at least this share of world output of
        the good (default 1 %, the ``producer_share_threshold`` that makes a producer a
        node): a node kept for another good, with a sliver of this one, would add an arc
        to every consumer whose ramp is that sliver of their demand. 0 keeps them all;
        ``tests/unit/test_market_pruning.py`` shows the answer does not move.
    stocks
        Give members their published stocks (:mod:`.stocks_data`); ``False`` runs the
        market without any (to see what the stocks are worth).
    market
        Block counts of the curves (default :class:`MarketSettings` with ``months``).
    """

    months: int = 12
    top_importers: int = 10
    producer_share_threshold: float = 0.01
    scope_share: float = 0.01
    new_arcs: bool = True
    new_arc_min_output_share: float = 0.01
    stocks: bool = True
    market: MarketSettings | None = None

    def __post_init__(self) -> None:
        share = self.new_arc_min_output_share
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"new_arc_min_output_share must lie in [0, 1], not {share!r}")

    def market_settings(self) -> MarketSettings:
        """The core's settings, with ``months`` of this horizon."""
        if self.market is None:
            return MarketSettings(months=self.months)
        if self.market.months != self.months:
            raise ValueError(
                f"market.months ({self.market.months}) differs from months ({self.months})"
            )
        return self.market


@dataclass(frozen=True)
class StudyMarket:
    """A study's market inputs and how they were made.

    Attributes
    ----------
    inputs
        The core's validated inputs (all scenarios of the expression).
    regions
        Which country is which node.
    balances
        Per node and good (units per year): ``production_units_per_year``,
        ``imports_units_per_year``, ``exports_units_per_year``,
        ``output_raised_units_per_year``, ``q0_units_per_year``, ``production_year``,
        ``production_source``.
    arcs
        The observed arcs with ``value_usd``, ``quantity_units_per_year`` and
        ``quantity_basis``.
    stocks
        Which member holds which stock, from which row, and why (:mod:`.stocks_data`).
    out_of_scope
        ``event, good, supplier_export_share``: events the market cannot resolve.
    notes
        Sentences about the assembly.
    """

    study: StudySpec
    label: str
    inputs: MarketInputs
    regions: Regions
    balances: pl.DataFrame
    arcs: pl.DataFrame
    stocks: pl.DataFrame
    out_of_scope: pl.DataFrame
    settings: StudyMarketSettings
    notes: tuple[str, ...] = ()

    @property
    def members(self) -> list[str]:
        """The study's member nodes."""
        return list(self.regions.members)


# ----------------------------------------------------------------------------- data
def _trade(
    study: StudySpec,
    p0: pl.DataFrame,
    trade: pl.LazyFrame | None,
    supply_year: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Bilateral trade of the study's goods and year with content quantities per year.

    ``supply_year``: the capacity map of allocated goods (:func:`.policies.capacity_map_years`).
    """
    lf = shipped.scan_trade() if trade is None else trade
    goods = pl.DataFrame(list(study.commodities), schema=["commodity", "stage"], orient="row")
    frame = (
        lf.filter(pl.col("year") == study.year)
        .collect()
        .join(goods, on=["commodity", "stage"], how="semi")
        .with_columns(pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"))
        .join(p0, on="good")
    )
    implied = pl.col("value_usd") / pl.col("p0_usd_per_unit")
    if "quantity_content" in frame.columns:
        have = pl.col("quantity_content").is_not_null()
        quantity = pl.when(have).then(pl.col("quantity_content")).otherwise(implied)
        basis = pl.when(have).then(pl.lit("content")).otherwise(pl.lit(QUANTITY_BASES[1]))
    else:
        quantity, basis = implied, pl.lit(QUANTITY_BASES[1])
    frame = frame.filter(pl.col("value_usd") > 0).with_columns(
        quantity.alias("quantity_units_per_year"), basis.alias("quantity_basis")
    )
    # goods with world balances in market_balances.csv: arcs from .allocated, not BACI
    balanced = allocated.allocated_goods(study.commodities)
    frame = pl.concat(
        [
            frame.filter(~pl.col("good").is_in(balanced)).select(allocated.TRADE_COLUMNS),
            allocated.allocated_trade(study.commodities, study.year, p0, supply_year),
        ]
    )
    traded = set(frame["good"].unique().to_list())
    missing = [
        (i, good_name(c, s))
        for i, (c, s) in enumerate(study.commodities)
        if good_name(c, s) not in traded
    ]
    if missing:
        raise SpecError(
            [
                SpecProblem(
                    str(study.path),
                    f"commodities[{i}]",
                    g,
                    f"no bilateral trade in {study.year} in datasets/trade.parquet and no "
                    "world balance in datasets/market_balances.csv",
                    ", ".join(sorted(traded)) or None,
                )
                for i, g in missing
            ]
        )
    # a fixed row order: every sum below adds in the same order, run after run, so the
    # same study gives the same LP to the last bit (a degenerate LP's flows depend on it)
    return frame.select(
        "exporter_iso3",
        "importer_iso3",
        "good",
        "value_usd",
        "quantity_units_per_year",
        "quantity_basis",
    ).sort("exporter_iso3", "importer_iso3", "good", "value_usd", "quantity_units_per_year")


def _production(
    study: StudySpec, notes: list[str], supply_year: Mapping[str, int] | None = None
) -> pl.DataFrame:
    """``country_iso3, good, production_units_per_year, production_year/source``."""
    goods = pl.DataFrame(list(study.commodities), schema=["commodity", "stage"], orient="row")
    shares = (
        world_shares(shipped.load_production(), [study.year])
        .collect()
        .join(goods, on=["commodity", "stage"], how="semi")
        .with_columns(pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"))
    )
    balanced = allocated.allocated_goods(study.commodities)
    shares = shares.filter(~pl.col("good").is_in(balanced))
    withheld = shares.filter(pl.col("production_quantity").is_null())
    for good, country in withheld.select("good", "country_iso3").iter_rows():
        notes.append(f"{good}: {country}'s production is withheld in the source; counted as 0")
    for c, s in study.commodities:
        g = good_name(c, s)
        mine = shares.filter(pl.col("good") == g)
        if g in balanced:
            notes.append(f"{g}: supply, demand and arcs from market_balances.csv (allocated)")
        elif mine.height == 0:
            notes.append(
                f"{g}: no production in datasets/production.csv up to {study.year}; every "
                "node's output is its net exports"
            )
        else:
            year, source = mine.row(0, named=True)["production_year"], mine["production_source"][0]
            if year != study.year:
                notes.append(f"{g}: production of {year} (latest up to {study.year}), {source}")
    return pl.concat(
        [
            shares.select(
                "country_iso3",
                "good",
                pl.col("production_quantity").fill_null(0.0).alias("production_units_per_year"),
                "production_year",
                "production_source",
            ),
            allocated.allocated_production(study.commodities, study.year, supply_year),
        ],
        how="vertical_relaxed",
    )


def _export_shares(trade: pl.DataFrame) -> pl.DataFrame:
    """``country_iso3, good, share`` of world exports (content quantities)."""
    return (
        trade.group_by(pl.col("exporter_iso3").alias("country_iso3"), "good", maintain_order=True)
        .agg(stable_sum(pl.col("quantity_units_per_year")).alias("q"))
        .with_columns((pl.col("q") / pl.col("q").sum().over("good")).alias("share"))
        .drop("q")
    )


def _scope(
    study: StudySpec,
    events: list[dis.Event],
    shares: pl.DataFrame,
    goods: list[str],
    threshold: float,
) -> tuple[list[dis.Event], pl.DataFrame]:
    """Events in scope, and ``event, good, supplier_export_share`` of those out of it."""
    keep: list[dis.Event] = []
    out: list[tuple[str, str | None, float]] = []
    for event in events:
        seen: dict[str, float] = {}
        for rule in event.rules:
            suppliers = study.to_nodes(rule.suppliers.resolve(study.date))
            for good in dis.goods_hit(rule, goods):
                share = float(
                    shares.filter(
                        (pl.col("good") == good) & pl.col("country_iso3").is_in(suppliers)
                    )["share"].sum()
                )
                seen[good] = max(seen.get(good, 0.0), share)
        if any(s >= threshold for s in seen.values()):
            keep.append(event)
        else:
            out += [(event.label, g, s) for g, s in seen.items()] or [
                (event.label, "none of the study's goods", 0.0)
            ]
    frame = pl.DataFrame(
        out,
        schema={"event": pl.String, "good": pl.String, "supplier_export_share": pl.Float64},
        orient="row",
    )
    return keep, frame


def _forced(study: StudySpec, events: list[dis.Event]) -> set[str]:
    """Suppliers and targets of the events: kept as their own nodes."""
    out: set[str] = set()
    for event in events:
        for rule in event.rules:
            out |= set(study.to_nodes(rule.suppliers.resolve(study.date)))
            if rule.targets is not None:
                out |= set(study.to_nodes(rule.targets.resolve(study.date)))
    return out


def _as_one_nodes(
    study: StudySpec, trade: pl.DataFrame, production: pl.DataFrame, notes: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Trade and production with the ``as_one`` blocs' countries renamed to the bloc.

    Flows between two countries of a bloc then net out of the bloc node's balance.
    """
    mapping = study.node_map()
    if not mapping:
        return trade, production
    for bloc, countries in study.merged_blocs().items():
        notes.append(f"{bloc}: one market node of {len(countries)} countries (as_one)")
    trade = trade.with_columns(
        pl.col("exporter_iso3").replace(mapping), pl.col("importer_iso3").replace(mapping)
    ).sort("exporter_iso3", "importer_iso3", "good", "value_usd", "quantity_units_per_year")
    production = production.with_columns(pl.col("country_iso3").replace(mapping)).sort(
        "country_iso3", "good", "production_units_per_year"
    )
    return trade, production


def _balances(
    regions: Regions, trade: pl.DataFrame, production: pl.DataFrame, goods: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Node balances (module doc, step 4) and node-to-node observed arcs."""
    node = regions.node_of
    flows = trade.with_columns(
        node(pl.col("exporter_iso3")).alias("origin"),
        node(pl.col("importer_iso3")).alias("destination"),
    )
    arcs = (
        flows.filter(pl.col("origin") != pl.col("destination"))
        .group_by("origin", "destination", "good", maintain_order=True)
        .agg(
            stable_sum(pl.col("value_usd")),
            stable_sum(pl.col("quantity_units_per_year")),
            pl.col("quantity_basis").unique().sort().str.join("+"),
        )
        .sort("origin", "destination", "good")
    )
    out = (
        production.sort("country_iso3", "good")
        .group_by(node(pl.col("country_iso3")).alias("node"), "good", maintain_order=True)
        .agg(
            stable_sum(pl.col("production_units_per_year")),
            pl.col("production_year").first(),
            pl.col("production_source").first(),
        )
    )
    imports = arcs.group_by(pl.col("destination").alias("node"), "good", maintain_order=True).agg(
        stable_sum(pl.col("quantity_units_per_year")).alias("imports_units_per_year")
    )
    exports = arcs.group_by(pl.col("origin").alias("node"), "good", maintain_order=True).agg(
        stable_sum(pl.col("quantity_units_per_year")).alias("exports_units_per_year")
    )
    grid = pl.DataFrame({"node": regions.nodes}).join(pl.DataFrame({"good": goods}), how="cross")
    bal = (
        grid.join(out, on=["node", "good"], how="left")
        .join(imports, on=["node", "good"], how="left")
        .join(exports, on=["node", "good"], how="left")
        .with_columns(
            pl.col(
                "production_units_per_year", "imports_units_per_year", "exports_units_per_year"
            ).fill_null(0.0)
        )
        .with_columns(
            (
                pl.col("production_units_per_year")
                + pl.col("imports_units_per_year")
                - pl.col("exports_units_per_year")
            ).alias("_apparent")
        )
        .with_columns(
            (-pl.col("_apparent")).clip(lower_bound=0.0).alias("output_raised_units_per_year"),
            pl.col("_apparent").clip(lower_bound=0.0).alias("q0_units_per_year"),
        )
        .drop("_apparent")
    )
    for n, g, raised in (
        bal.filter(pl.col("output_raised_units_per_year") > 0)
        .select("node", "good", "output_raised_units_per_year")
        .iter_rows()
    ):
        log.info(
            "%s at %s: exports exceed production plus imports; output raised by %.6g units a "
            "year to the net exports (q0 = 0)",
            g,
            n,
            raised,
        )
    return bal, arcs


def _parameters(
    study: StudySpec, overrides: Mapping[object, object] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The core's parameter table and ``good, p0_usd_per_unit``."""
    resolved = resolve_parameters(list(study.commodities), overrides, year=study.year)
    params = resolved.select(PARAMETER_COLUMNS)
    p0 = resolved.select(
        pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"), "p0_usd_per_unit"
    )
    return params, p0


def study_market(
    study: StudySpec,
    scenario: str | None = None,
    settings: StudyMarketSettings | None = None,
    *,
    overrides: Mapping[object, object] | None = None,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
    composition: Composition | None = None,
    events: Sequence[dis.Event] | None = None,
) -> StudyMarket:
    """The market of ``study`` under the events of ``scenario`` (module doc).

    Parameters
    ----------
    study
        A loaded study (:func:`resilience.scenarios.load_study`).
    scenario
        A catalogue expression (``a+b``); the study's ``base_scenario`` is always in.
        ``None``: only the base scenario's events (if any).
    settings
        Regions, horizon, blocks (default :class:`StudyMarketSettings`).
    overrides
        Market parameters replacing the cited ones, validated like the table:
        ``{parameter: value}``, ``{commodity: {...}}`` or ``{"commodity/stage": {...}}``.
    trade
        Another bilateral trade table (default the shipped one).
    composition
        The run's composition with overrides already applied (default
        ``study.compose(scenario)``).
    events
        The market's scenarios (default the composition's events,
        :func:`~resilience.optimize.market.disruptions.events`): the coercion family
        passes the adversary's strikes.

    Raises
    ------
    resilience.specs.SpecError
        A study good without trade in the year; events whose probabilities sum above 1;
        an expression whose events are all out of scope (with their suppliers' shares).
    resilience.errors.DataError
        Bad parameters, overrides or stock rows (file, row, column, value).
    """
    settings = settings or StudyMarketSettings()
    notes: list[str] = []
    comp = composition if composition is not None else study.compose(scenario)
    label = "+".join(comp.names) or "base"
    goods = [good_name(c, s) for c, s in study.commodities]
    params, p0 = _parameters(study, overrides)
    mapped = capacity_map_years(
        goods,
        comp.policy.capacity_map_year,
        comp.policy.capacity_map_goods,
        set_by=comp.set_by.get("capacity_map_year", "policy"),
    )
    for good, year in mapped.items():
        notes.append(
            f"{good}: capacity map of {year} (capacity_map_year), world level of {study.year}"
        )
    if mapped:
        for good in sorted(set(allocated.allocated_goods(study.commodities)) - set(mapped)):
            notes.append(f"{good}: no supply rows of the capacity map's year; keeps its map")
    traded = _trade(study, p0, None if trade is None else trade.lazy(), mapped)
    production = _production(study, notes, mapped)
    traded, production = _as_one_nodes(study, traded, production, notes)
    every = list(events) if events is not None else dis.events(comp)
    chosen, out_of_scope = _scope(study, every, _export_shares(traded), goods, settings.scope_share)
    for event, good, share in out_of_scope.iter_rows():
        notes.append(
            f"{event}: out of scope in {study.name}: its suppliers hold {share:.3%} of world "
            f"exports of {good} (below {settings.scope_share:.1%})"
        )
    if every and not chosen:
        raise OutOfScopeError.single(
            str(study.catalogue.path),
            "disruptions",
            label,
            f"out of scope for study {study.name!r}: "
            + "; ".join(notes[-out_of_scope.height :])
            + "; the market cannot resolve a cut this small, and a near-zero loss would be "
            "no result",
            f"a scenario whose suppliers hold at least {settings.scope_share:.1%} of world "
            f"exports of one of {', '.join(goods)}",
        )
    members = study.member_nodes()
    regions = choose_regions(
        members,
        traded,
        production,
        top_importers=settings.top_importers,
        producer_share_threshold=settings.producer_share_threshold,
        keep=_forced(study, chosen),
    )
    bal, observed = _balances(regions, traded, production, goods)
    raised = bal.filter(pl.col("output_raised_units_per_year") > 0)
    if raised.height:
        notes.append(
            f"output raised to net exports at {raised.height} node-goods where exports exceed "
            "production plus imports (re-exporters, or production the tables miss); listed in "
            "StudyMarket.balances['output_raised_units_per_year']"
        )
    fixed = fixed_links(observed, regions, goods, notes)
    arcs = market_arcs(
        observed, bal, fixed, settings.new_arcs, notes, settings.new_arc_min_output_share
    )
    stocks, stock_table = member_stocks(study, regions, bal, notes, overrides=overrides)
    if not settings.stocks:
        notes.append("stocks: none (settings.stocks is False)")
        stocks = empty("stocks")
    availability = dis.availability_rows(
        chosen, arcs, study.date, settings.months, nodes=study.to_nodes
    )
    scenarios = dis.scenario_table(chosen, str(study.catalogue.path))
    if not chosen:
        scenarios = pl.DataFrame({"scenario": ["base"], "probability": [1.0]})
    monthly = pl.col("q0_units_per_year") / _MONTHS_PER_YEAR
    # stage links (.links_data): linked output leaves primary supply, inputs leave q0
    linked = link_stages(
        bal.filter(pl.col("q0_units_per_year") > 0).select(
            "node", "good", monthly.alias("q0_units_per_month")
        ),
        bal.select(
            "node",
            "good",
            (
                (pl.col("production_units_per_year") + pl.col("output_raised_units_per_year"))
                / _MONTHS_PER_YEAR
            ).alias("output_units_per_month"),
        ).filter(pl.col("output_units_per_month") > 0),
        study_links(goods),
        dict(p0.iter_rows()),
        settings.market_settings().calibration_band,
    )
    notes.extend(linked.notes)
    inputs = MarketInputs(
        parameters=params,
        nodes=pl.DataFrame({"node": regions.nodes}),
        demand=linked.demand,
        supply=linked.supply,
        processes=linked.processes,
        process_inputs=linked.process_inputs,
        arcs=arcs,
        stocks=stocks,
        scenarios=scenarios,
        availability=availability,
        months=settings.months,
        sources={
            "parameters": "market_parameters.csv",
            "stocks": "strategic_stocks.csv",
            "arcs": "trade.parquet",
            "process_inputs": "input_coefficients.csv",
        },
    )
    for note in notes:
        log.info("%s", note)
    return StudyMarket(
        study=study,
        label=label,
        inputs=inputs,
        regions=regions,
        balances=bal,
        arcs=observed,
        stocks=stock_table,
        out_of_scope=out_of_scope,
        settings=settings,
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class StudyMarketResult:
    """A study's market solved without (``base``) and with (``result``) its disruptions."""

    market: StudyMarket
    base: MarketResult
    result: MarketResult
    timings_s: Mapping[str, float] = field(default_factory=dict)

    def losses(self) -> pl.DataFrame:
        """:func:`~resilience.optimize.market.results.welfare_loss` of every node (USD)."""
        return welfare_loss(self.base, self.result)

    def price_rise(self) -> pl.DataFrame:
        """``node, good, month, scenario, price_usd_per_unit, p0_usd_per_unit, rise_pct``."""
        p0 = self.market.inputs.parameter_frame().select("good", "p0_usd_per_unit")
        return (
            self.result.prices()
            .join(p0, on="good")
            .with_columns(
                (100.0 * (pl.col("price_usd_per_unit") / pl.col("p0_usd_per_unit") - 1.0)).alias(
                    "rise_pct"
                )
            )
        )

    def shed(self) -> pl.DataFrame:
        """Demand shed per member, good, month and scenario (``shed_units``, ``shed_pct``)."""
        return (
            self.result.demand()
            .filter(pl.col("node").is_in(self.market.members))
            .with_columns((100.0 * pl.col("shed_units") / pl.col("q0_units")).alias("shed_pct"))
        )

    def members(self) -> pl.DataFrame:
        """Per member, scenario and good: the answer a reader wants.

        Columns: ``welfare_loss_usd`` (net loss of the member, all goods, from
        :meth:`losses`), ``consumer_loss_usd``, ``producer_gain_usd``, then per good
        ``price_rise_max_pct`` (highest monthly price over P0), ``shed_units``
        (summed over months), ``shed_pct`` (of q0 over the horizon) and
        ``stock_drawdown_max_units``.
        """
        m = self.market.members
        loss = self.losses().filter(pl.col("node").is_in(m))
        price = (
            self.price_rise()
            .filter(pl.col("node").is_in(m))
            .group_by("node", "good", "scenario")
            .agg(pl.col("rise_pct").max().alias("price_rise_max_pct"))
        )
        shed = (
            self.result.demand()
            .filter(pl.col("node").is_in(m))
            .group_by("node", "good", "scenario")
            .agg(
                stable_sum(pl.col("shed_units")),
                (100.0 * stable_sum(pl.col("shed_units")) / stable_sum(pl.col("q0_units"))).alias(
                    "shed_pct"
                ),
            )
        )
        out = price.join(shed, on=["node", "good", "scenario"], how="left")
        stocks = self.result.stocks()
        if stocks.is_empty():
            out = out.with_columns(pl.lit(0.0).alias("stock_drawdown_max_units"))
        else:
            draw = stocks.group_by("node", "good", "scenario").agg(
                pl.col("drawdown_units").max().alias("stock_drawdown_max_units")
            )
            out = out.join(draw, on=["node", "good", "scenario"], how="left").with_columns(
                pl.col("stock_drawdown_max_units").fill_null(0.0)
            )
        return (
            loss.rename({"net_loss_usd": "welfare_loss_usd"})
            .join(out, on=["node", "scenario"], how="left")
            .rename({"node": "member"})
            .with_columns(pl.col("shed_units", "shed_pct").fill_null(0.0))
            .sort("member", "scenario", "good")
        )

    def gains(self) -> pl.DataFrame:
        """Nodes whose producers gain (``producer_gain_usd`` > 0), largest first."""
        return (
            self.losses()
            .filter(pl.col("producer_gain_usd") > 0)
            .sort(["scenario", "producer_gain_usd"], descending=[False, True])
        )


def run_study_market(
    study: StudySpec,
    scenario: str | None = None,
    settings: StudyMarketSettings | None = None,
    *,
    overrides: Mapping[object, object] | None = None,
    options: SolverOptions | None = None,
    trade: pl.LazyFrame | pl.DataFrame | None = None,
) -> StudyMarketResult:
    """Assemble (:func:`study_market`), solve without and with the disruptions, compare.

    Returns
    -------
    StudyMarketResult
        ``timings_s`` holds ``assemble``, ``build`` and ``solve`` (seconds; ``build``
        includes the calm reference, :func:`~.calm.calm_reference`, unless this process
        has solved it before).
    """
    import time

    t0 = time.perf_counter()
    market = study_market(study, scenario, settings, overrides=overrides, trade=trade)
    t1 = time.perf_counter()
    ms = market.settings.market_settings()
    base = calm_reference(market.inputs, ms, options)  # built and solved once per process
    model = build_market(market.inputs, ms)
    t2 = time.perf_counter()
    result = MarketResult(model, solve_market(model, options))
    t3 = time.perf_counter()
    return StudyMarketResult(
        market, base, result, {"assemble": t1 - t0, "build": t2 - t1, "solve": t3 - t2}
    )
