r"""The second stage shared by the stress, coercion and pooling models: what members do once hit.

First-stage decisions (built by :mod:`resilience.optimize.stress`): contracts
:math:`x_{m,s,c}` (t/year) and stocks :math:`k_{m,c}` (t). In every scenario (or
adversary strategy) :math:`w`, over a disruption window of :math:`D` days
(:math:`\varphi = D / 365`, default a whole year), the members respond with

- delivered contracts :math:`y_{m,s,c,w}` on disrupted arcs (:func:`add_deliveries`);
  undisrupted arcs deliver :math:`\varphi\,x_{m,s,c}` in full;
- spot purchases :math:`z_{m,s,c,w}` from the spare capacity of *allied* suppliers
  (:func:`add_spot`);
- stock releases :math:`r_{m,c,w} \le k_{m,c}` (:func:`add_release`);
- transfers of released stock between members :math:`t_{m \to m',c,w}`, mutual
  assistance (:func:`add_transfers`);
- shortfall :math:`u_{m,c,w} \ge 0`, closing the balance (:func:`add_supply_balance`).

Second-stage cost of scenario :math:`w` (:func:`recourse_cost_terms`):

.. math::

   R_w = \sum (1 + \sigma)\,p_{s,c}\,z_{m,s,c,w} + \sum \tau_c\,t_{m\to m',c,w}
         + \sum v_c\,u_{m,c,w}

Defaults, all per commodity-stage :math:`c` and relative to its unit value
:math:`\bar p_c` (median export unit value over its suppliers, :func:`commodity_costs`):

- spot premium :math:`\sigma` = :data:`SPOT_PREMIUM_SHARE` = 0.5: buying in a disrupted
  market costs half as much again as contracting (an assumption; prices of disrupted
  materials routinely rise by more than half, e.g. gas in 2022, rare earths in 2010);
- transfer cost :math:`\tau_c` = :data:`TRANSFER_COST_SHARE_OF_UNIT_VALUE` = 1 % of
  :math:`\bar p_c` per t: handling and transport between members, small so that
  assistance is used whenever it saves anything;
- value of lost supply :math:`v_c` = :data:`VALUE_OF_LOST_SUPPLY_MULTIPLE` = 5 ×
  :math:`\bar p_c` per t: a missing tonne costs downstream output worth several times its
  price; 5× keeps it above the spot price (1.5×) so that the models re-source before they
  go short (a placeholder to calibrate per material);
- holding cost :math:`h_c` = :data:`HOLDING_COST_SHARE_PER_YEAR` = 10 % of
  :math:`\bar p_c` per t and year (first stage): cost of capital (~5 %) plus storage,
  insurance and rotation (~5 %), an assumption.

Components are indexed by ``scenario`` first and built in bulk from frames (sparse: a
variable exists only where it can be non-zero) with :mod:`resilience.optimize.terms`, whose
:class:`~resilience.optimize.terms.Terms`, :func:`~resilience.optimize.terms.add_rows` and
:func:`~resilience.optimize.terms.linear_sum` are re-exported here for the models built on
this second stage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from resilience.optimize.inputs import COMMODITY_KEY, ModelData
from resilience.optimize.lp import ModelBuildError, add_variables
from resilience.optimize.scenarios_data import (
    arc_availability,
    check_names,
    probabilities,
    supplier_availability,
)
from resilience.optimize.terms import Terms, _key_frame, add_rows, linear_sum

__all__ = [
    "ARC",
    "DAYS_PER_YEAR",
    "DEMAND",
    "HOLDING_COST_SHARE_PER_YEAR",
    "SPOT_PREMIUM_SHARE",
    "SUPPLY",
    "TRANSFER_COST_SHARE_OF_UNIT_VALUE",
    "VALUE_OF_LOST_SUPPLY_MULTIPLE",
    "RecourseSets",
    "RecourseSettings",
    "Terms",
    "add_deliveries",
    "add_recourse",
    "add_release",
    "add_rows",
    "add_spot",
    "add_supply_balance",
    "add_transfers",
    "clean_zeros",
    "commodity_costs",
    "describe_recourse",
    "linear_sum",
    "recourse_cost_terms",
    "recourse_flows",
    "recourse_sets",
    "shortfall_value_terms",
]

log = logging.getLogger(__name__)

#: Days in the model year (demand and capacity are annual).
DAYS_PER_YEAR = 365.0
#: Spot price = unit cost x (1 + this).
SPOT_PREMIUM_SHARE = 0.5
#: Transfer cost between members, USD/t, as a share of the commodity's unit value.
TRANSFER_COST_SHARE_OF_UNIT_VALUE = 0.01
#: Value of lost supply, USD/t, as a multiple of the commodity's unit value.
VALUE_OF_LOST_SUPPLY_MULTIPLE = 5.0
#: Stock holding cost, USD per t and year, as a share of the commodity's unit value.
HOLDING_COST_SHARE_PER_YEAR = 0.10

ARC = ["member_iso3", "supplier_iso3", *COMMODITY_KEY]
DEMAND = ["member_iso3", *COMMODITY_KEY]
SUPPLY = ["supplier_iso3", *COMMODITY_KEY]
W = "scenario"
WARC = [W, *ARC]
WDEMAND = [W, *DEMAND]
WSUPPLY = [W, *SUPPLY]
WPAIR = [W, "from_member_iso3", "to_member_iso3", *COMMODITY_KEY]
#: Columns of :func:`recourse_flows` after the scenario, member and commodity keys.
FLOW_COLUMNS = [
    "window_demand_t",
    "delivered_t",
    "spot_t",
    "released_t",
    "transfers_in_t",
    "transfers_out_t",
    "shortfall_t",
    "shortfall_share",
    "spot_cost_usd",
    "transfer_cost_usd",
    "shortfall_cost_usd",
]


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class RecourseSettings:
    r"""Second-stage options and cost parameters (defaults and reasons: module docstring).

    Attributes
    ----------
    spot_premium_share
        :math:`\sigma`: spot price = unit cost x (1 + share).
    transfer_cost_share_of_unit_value
        :math:`\tau_c / \bar p_c`.
    value_of_lost_supply_multiple
        :math:`v_c / \bar p_c`.
    holding_cost_share_per_year
        :math:`h_c / \bar p_c` (first-stage stock cost, kept here with the other costs).
    disruption_days
        Length :math:`D` of the disruption window; demand, contracted deliveries and spare
        capacity in the second stage are scaled by :math:`D/365`, stocks are not.
    allow_spot, allow_transfers
        Whether spot re-sourcing and transfers between members exist.
    unit_value_usd_per_t
        Optional ``commodity, stage, unit_value_usd_per_t`` overriding :math:`\bar p_c`.
    """

    spot_premium_share: float = SPOT_PREMIUM_SHARE
    transfer_cost_share_of_unit_value: float = TRANSFER_COST_SHARE_OF_UNIT_VALUE
    value_of_lost_supply_multiple: float = VALUE_OF_LOST_SUPPLY_MULTIPLE
    holding_cost_share_per_year: float = HOLDING_COST_SHARE_PER_YEAR
    disruption_days: float = DAYS_PER_YEAR
    allow_spot: bool = True
    allow_transfers: bool = True
    unit_value_usd_per_t: pl.DataFrame | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "spot_premium_share",
            "transfer_cost_share_of_unit_value",
            "value_of_lost_supply_multiple",
            "holding_cost_share_per_year",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.disruption_days <= DAYS_PER_YEAR:
            raise ValueError(f"disruption_days must lie in (0, 365], got {self.disruption_days}")

    @property
    def window_share(self) -> float:
        r""":math:`\varphi = D / 365`."""
        return self.disruption_days / DAYS_PER_YEAR


def commodity_costs(data: ModelData, settings: RecourseSettings) -> pl.DataFrame:
    r"""Per commodity-stage: unit value and the cost parameters derived from it.

    The unit value :math:`\bar p_c` is the median export unit value over the commodity's
    suppliers (robust to one odd supplier), unless ``settings.unit_value_usd_per_t`` gives
    it.

    Returns
    -------
    polars.DataFrame
        ``commodity, stage, unit_value_usd_per_t, holding_cost_usd_per_t_year,
        lost_supply_value_usd_per_t, transfer_cost_usd_per_t``.
    """
    values = (
        data.arcs.unique(SUPPLY)
        .group_by(COMMODITY_KEY)
        .agg(pl.col("unit_cost_usd_per_t").median().alias("unit_value_usd_per_t"))
    )
    override = settings.unit_value_usd_per_t
    if override is not None:
        unknown = override.join(values, on=COMMODITY_KEY, how="anti")
        if unknown.height:
            raise ModelBuildError(f"unit values for unknown commodities {unknown.rows()[:5]}")
        values = values.update(
            override.select(*COMMODITY_KEY, "unit_value_usd_per_t"), on=COMMODITY_KEY
        )
    uv = pl.col("unit_value_usd_per_t")
    return values.with_columns(
        (uv * settings.holding_cost_share_per_year).alias("holding_cost_usd_per_t_year"),
        (uv * settings.value_of_lost_supply_multiple).alias("lost_supply_value_usd_per_t"),
        (uv * settings.transfer_cost_share_of_unit_value).alias("transfer_cost_usd_per_t"),
    ).sort(COMMODITY_KEY)


@dataclass(frozen=True)
class RecourseSets:
    r"""Sparse index frames and parameters of the second stage (no Pyomo objects).

    Attributes
    ----------
    probabilities
        ``scenario, probability``.
    window_share
        :math:`\varphi = D/365`.
    demand
        ``scenario, member_iso3, commodity, stage, demand_t, window_demand_t`` (=
        :math:`\varphi d`), with the commodity's cost parameters.
    direct
        Undisrupted arcs per scenario (``scenario`` + arc keys): deliver
        :math:`\varphi x` in full.
    delivered
        Partly disrupted arcs (``0 < a < 1``) + ``availability``: a variable
        :math:`y` each.
    spot
        Allied arcs open to spot purchases + ``spot_price_usd_per_t``.
    spare
        ``scenario`` + supplier keys + ``availability, capacity_t``: one spare-capacity
        row per allied supplier with spot arcs.
    spot_arc_limits
        Spot arcs whose own availability is below the supplier's (member-targeted rules).
    transfers
        ``scenario, from_member_iso3, to_member_iso3, commodity, stage`` +
        ``transfer_cost_usd_per_t``.
    costs
        :func:`commodity_costs`.
    disrupted
        :func:`~resilience.optimize.scenarios_data.arc_availability` (all ``a < 1``).
    """

    probabilities: pl.DataFrame
    window_share: float
    demand: pl.DataFrame
    direct: pl.DataFrame
    delivered: pl.DataFrame
    spot: pl.DataFrame
    spare: pl.DataFrame
    spot_arc_limits: pl.DataFrame
    transfers: pl.DataFrame
    costs: pl.DataFrame
    disrupted: pl.DataFrame


def recourse_sets(
    data: ModelData, scenarios: pl.DataFrame, settings: RecourseSettings
) -> RecourseSets:
    """Expand validated scenarios over the data into the second stage's sparse sets.

    Raises
    ------
    resilience.errors.DataError
        A scenario names a supplier, member or commodity that is not in ``data``.
    """
    check_names(scenarios, data)
    probs = probabilities(scenarios)
    names = probs.select(W)
    phi = settings.window_share
    costs = commodity_costs(data, settings)
    disrupted = arc_availability(scenarios, data)
    arcs = data.arcs.select(*ARC, "unit_cost_usd_per_t", "is_ally")
    warcs = names.join(arcs, how="cross")
    direct = warcs.join(disrupted, on=WARC, how="anti").select(WARC)
    delivered = disrupted.filter(pl.col("availability") > 0)
    demand = (
        names.join(data.demand, how="cross")
        .join(costs, on=COMMODITY_KEY, how="left")
        .with_columns((pl.col("demand_t") * phi).alias("window_demand_t"))
    )
    allied = warcs.filter(pl.col("is_ally") & settings.allow_spot)
    sup_av = supplier_availability(scenarios, data).rename({"availability": "supplier_a"})
    allied = (
        allied.join(disrupted.rename({"availability": "arc_a"}), on=WARC, how="left")
        .join(sup_av, on=WSUPPLY, how="left")
        .with_columns(pl.col("arc_a", "supplier_a").fill_null(1.0))
        .join(data.capacity.select(*SUPPLY, "capacity_t"), on=SUPPLY)
    )
    spot = allied.filter((pl.col("arc_a") > 0) & (pl.col("supplier_a") > 0))
    spare = spot.select(*WSUPPLY, pl.col("supplier_a").alias("availability"), "capacity_t")
    limits = spot.filter(pl.col("arc_a") < pl.col("supplier_a")).select(
        *WARC, pl.col("arc_a").alias("availability"), "capacity_t"
    )
    price = pl.col("unit_cost_usd_per_t") * (1 + settings.spot_premium_share)
    spot = spot.select(*WARC, price.alias("spot_price_usd_per_t")).sort(WARC)
    spare = spare.unique(WSUPPLY).sort(WSUPPLY)
    have = data.demand.select(DEMAND)
    pairs = (
        have.rename({"member_iso3": "from_member_iso3"})
        .join(have.rename({"member_iso3": "to_member_iso3"}), on=COMMODITY_KEY)
        .filter(pl.col("from_member_iso3") != pl.col("to_member_iso3"))
    )
    if not settings.allow_transfers:
        pairs = pairs.clear()
    transfers = (
        names.join(pairs, how="cross")
        .join(costs.select(*COMMODITY_KEY, "transfer_cost_usd_per_t"), on=COMMODITY_KEY)
        .select(*WPAIR, "transfer_cost_usd_per_t")
        .sort(WPAIR)
    )
    counts = (probs.height, disrupted.height, spot.height, transfers.height)
    log.debug("recourse: %d scenarios, %d disrupted arcs, %d spot arcs, %d transfers", *counts)
    return RecourseSets(
        probabilities=probs,
        window_share=phi,
        demand=demand.sort(WDEMAND),
        direct=direct,
        delivered=delivered,
        spot=spot,
        spare=spare,
        spot_arc_limits=limits,
        transfers=transfers,
        costs=costs,
        disrupted=disrupted,
    )


# ----------------------------------------------------------------------------- families
def add_deliveries(model: Any, sets: RecourseSets) -> None:
    r"""Delivered contracts on partly disrupted arcs (``delivery_limit``).

    .. math::

       y_{m,s,c,w} \le \varphi\,a_{s,m,c,w}\,x_{m,s,c}

    Only arcs with :math:`0 < a < 1` get a variable :math:`y` (component ``y``) and a row
    (``delivery_limit``); arcs with :math:`a = 1` deliver :math:`\varphi x` in full
    (:func:`add_supply_balance`) and arcs with :math:`a = 0` deliver nothing.
    """
    rows = sets.delivered.with_columns((-pl.col("availability") * sets.window_share).alias("coef"))
    add_variables(model, "y", rows.select(WARC), keys=WARC, lb=0.0)
    add_rows(
        model,
        "delivery_limit",
        rows,
        WARC,
        [Terms(rows, model.y, WARC, 1.0), Terms(rows, model.x, ARC, "coef")],
        ub=0.0,
    )


def add_spot(model: Any, sets: RecourseSets) -> None:
    r"""Spot re-sourcing :math:`z_{m,s,c,w} \ge 0` from spare *allied* capacity.

    Spare capacity (``spare_capacity``, per allied supplier, commodity and scenario):

    .. math::

       \sum_m z_{m,s,c,w} \le \varphi\, a_{s,c,w} \Bigl(\mathrm{cap}_{s,c} -
       \sum_m x_{m,s,c}\Bigr)

    with :math:`a_{s,c,w}` the supplier-wide availability. On arcs a rule aims at one
    member with a lower availability :math:`a_{s,m,c,w} < a_{s,c,w}` (``spot_arc_limit``):

    .. math::

       z_{m,s,c,w} \le \varphi\, a_{s,m,c,w} \Bigl(\mathrm{cap}_{s,c} - \sum_{m'} x_{m',s,c}\Bigr)

    Arcs with :math:`a_{s,m,c,w} = 0` or non-allied suppliers have no :math:`z`.
    """
    phi = sets.window_share
    add_variables(model, "z", sets.spot.select(WARC), keys=WARC, lb=0.0)
    if sets.spot.height == 0:
        return
    spare = sets.spare.with_columns(
        (pl.col("availability") * phi * pl.col("capacity_t")).alias("rhs_t"),
        (pl.col("availability") * phi).alias("coef"),
    )
    x_terms = spare.join(model_arcs(model), on=SUPPLY).select(*WARC, "coef")
    add_rows(
        model,
        "spare_capacity",
        spare,
        WSUPPLY,
        [Terms(sets.spot, model.z, WARC, 1.0), Terms(x_terms, model.x, ARC, "coef")],
        ub="rhs_t",
    )
    if sets.spot_arc_limits.height == 0:
        return
    lim = sets.spot_arc_limits.with_columns(
        (pl.col("availability") * phi * pl.col("capacity_t")).alias("rhs_t"),
        (pl.col("availability") * phi).alias("coef"),
    )
    x_terms = lim.join(model_arcs(model).rename({"member_iso3": "other_iso3"}), on=SUPPLY)
    add_rows(
        model,
        "spot_arc_limit",
        lim,
        WARC,
        [
            Terms(lim, model.z, WARC, 1.0),
            Terms(x_terms, model.x, ["other_iso3", "supplier_iso3", *COMMODITY_KEY], "coef"),
        ],
        ub="rhs_t",
    )


def model_arcs(model: Any) -> pl.DataFrame:
    """The arcs of the first-stage contracts ``x`` (member, supplier, commodity, stage)."""
    return _key_frame(model.x, ARC).drop("_col")


def add_release(model: Any, sets: RecourseSets) -> None:
    r"""Stock release :math:`0 \le r_{m,c,w} \le k_{m,c}` (``release_limit``)."""
    rows = sets.demand.select(WDEMAND)
    add_variables(model, "r", rows, keys=WDEMAND, lb=0.0)
    add_rows(
        model,
        "release_limit",
        rows,
        WDEMAND,
        [Terms(rows, model.r, WDEMAND, 1.0), Terms(rows, model.k, DEMAND, -1.0)],
        ub=0.0,
    )


def add_transfers(model: Any, sets: RecourseSets) -> None:
    r"""Mutual assistance :math:`t_{m\to m',c,w} \ge 0` out of released stock (``transfer_limit``).

    .. math::

       \sum_{m'} t_{m\to m',c,w} \le r_{m,c,w}

    Transfers exist between every ordered pair of members that both need :math:`c`
    (none when transfers are switched off, e.g. going alone).
    """
    add_variables(model, "t", sets.transfers.select(WPAIR), keys=WPAIR, lb=0.0)
    if sets.transfers.height == 0:
        return
    out = sets.transfers.rename({"from_member_iso3": "member_iso3"})
    rows = out.select(WDEMAND).unique().sort(WDEMAND)
    add_rows(
        model,
        "transfer_limit",
        rows,
        WDEMAND,
        [
            Terms(out, model.t, [W, "member_iso3", "to_member_iso3", *COMMODITY_KEY], 1.0),
            Terms(rows, model.r, WDEMAND, -1.0),
        ],
        ub=0.0,
    )


def add_supply_balance(model: Any, sets: RecourseSets) -> None:
    r"""Balance per member, commodity and scenario (``supply_balance``), shortfall :math:`u \ge 0`.

    .. math::

       \sum_{s:\,a=1} \varphi\,x_{m,s,c} + \sum_{s:\,0<a<1} y_{m,s,c,w}
       + \sum_s z_{m,s,c,w} + r_{m,c,w} + \sum_{m'} t_{m'\to m,c,w}
       - \sum_{m'} t_{m\to m',c,w} + u_{m,c,w} = \varphi\, d_{m,c}
    """
    rows = sets.demand
    add_variables(model, "u", rows.select(WDEMAND), keys=WDEMAND, lb=0.0)
    inflow = sets.transfers.rename({"to_member_iso3": "member_iso3"})
    outflow = sets.transfers.rename({"from_member_iso3": "member_iso3"})
    parts = [
        Terms(sets.direct, model.x, ARC, sets.window_share),
        Terms(sets.delivered, model.y, WARC, 1.0),
        Terms(sets.spot, model.z, WARC, 1.0),
        Terms(rows, model.r, WDEMAND, 1.0),
        Terms(inflow, model.t, [W, "from_member_iso3", "member_iso3", *COMMODITY_KEY], 1.0),
        Terms(outflow, model.t, [W, "member_iso3", "to_member_iso3", *COMMODITY_KEY], -1.0),
        Terms(rows, model.u, WDEMAND, 1.0),
    ]
    add_rows(
        model, "supply_balance", rows, WDEMAND, parts, lb="window_demand_t", ub="window_demand_t"
    )


def add_recourse(model: Any, sets: RecourseSets) -> None:
    """All second-stage families; ``model.x`` and ``model.k`` must exist."""
    add_deliveries(model, sets)
    add_spot(model, sets)
    add_release(model, sets)
    add_transfers(model, sets)
    add_supply_balance(model, sets)


# ----------------------------------------------------------------------------- costs
def recourse_cost_terms(model: Any, sets: RecourseSets, weight: pl.DataFrame) -> list[Terms]:
    r"""Terms of :math:`\sum_w \omega_w R_w` for scenario weights ``weight`` (``scenario, weight``).

    :math:`\omega_w = \pi_w` gives the expected second-stage cost (stress); a uniform
    :math:`\epsilon/|\Sigma|` the tie-break of the coercion model.
    """
    spot = sets.spot.join(weight, on=W).with_columns(
        (pl.col("weight") * pl.col("spot_price_usd_per_t")).alias("coef")
    )
    moves = sets.transfers.join(weight, on=W).with_columns(
        (pl.col("weight") * pl.col("transfer_cost_usd_per_t")).alias("coef")
    )
    short = sets.demand.join(weight, on=W).with_columns(
        (pl.col("weight") * pl.col("lost_supply_value_usd_per_t")).alias("coef")
    )
    return [
        Terms(spot, model.z, WARC),
        Terms(moves, model.t, WPAIR),
        Terms(short, model.u, WDEMAND),
    ]


def shortfall_value_terms(model: Any, sets: RecourseSets, sign: float = 1.0) -> Terms:
    r"""Terms :math:`\pm v_c\,u_{m,c,w}`: the valued shortfall, for rows keyed by scenario etc."""
    frame = sets.demand.with_columns((sign * pl.col("lost_supply_value_usd_per_t")).alias("coef"))
    return Terms(frame, model.u, WDEMAND)


# ----------------------------------------------------------------------------- results
def clean_zeros(frame: pl.DataFrame) -> pl.DataFrame:
    """Float columns with solver noise ``-0.0`` shown as ``0.0``."""
    cols = [c for c, t in frame.schema.items() if t == pl.Float64]
    return frame.with_columns(
        pl.when(pl.col(c) == 0).then(0.0).otherwise(pl.col(c)).alias(c) for c in cols
    )


def recourse_flows(result: Any, model: Any, sets: RecourseSets) -> pl.DataFrame:
    """Per scenario, member and commodity: what arrived, from where, and what was missing.

    Returns
    -------
    polars.DataFrame
        ``scenario, member_iso3, commodity, stage, window_demand_t, delivered_t, spot_t,
        released_t, transfers_in_t, transfers_out_t, shortfall_t, shortfall_share,
        spot_cost_usd, transfer_cost_usd, shortfall_cost_usd``.
    """
    x = result.values(model.x).rename({"value": "q"})
    direct = (
        sets.direct.join(x, on=ARC)
        .group_by(WDEMAND)
        .agg((pl.col("q").sum() * sets.window_share).alias("_direct"))
    )

    read: dict[str, pl.DataFrame] = {}  # each variable's values read once (t is read twice)

    def total(
        var: Any, keys: list[str], name: str, price: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        vals = read.get(var.name)
        if vals is None:
            vals = read[var.name] = result.values(var)
        vals = vals.rename(dict(zip(vals.columns[:-1], keys, strict=True)))
        cost = pl.lit(0.0)
        if price is not None:
            vals = vals.join(price, on=keys, how="left")
            cost = pl.col("value") * pl.col(price.columns[-1])
        return vals.group_by(WDEMAND).agg(
            pl.col("value").sum().alias(name), cost.sum().alias(f"{name}_cost")
        )

    delivered = total(model.y, WARC, "_y")
    spot = total(model.z, WARC, "spot_t", sets.spot)
    inflow = total(
        model.t,
        [W, "_from", "member_iso3", *COMMODITY_KEY],
        "transfers_in_t",
        sets.transfers.rename({"from_member_iso3": "_from", "to_member_iso3": "member_iso3"}),
    )
    outflow = total(model.t, [W, "member_iso3", "_to", *COMMODITY_KEY], "transfers_out_t")
    released = result.values(model.r).rename({"value": "released_t"})
    short = result.values(model.u).rename({"value": "shortfall_t"})
    frame = sets.demand.select(*WDEMAND, "window_demand_t", "lost_supply_value_usd_per_t")
    for part in (direct, delivered, spot, inflow, outflow, released, short):
        frame = frame.join(part, on=WDEMAND, how="left")
    return (
        frame.with_columns(pl.exclude(WDEMAND).fill_null(0.0))
        .with_columns(
            (pl.col("_direct") + pl.col("_y")).alias("delivered_t"),
            (pl.col("shortfall_t") / pl.col("window_demand_t")).alias("shortfall_share"),
            pl.col("spot_t_cost").alias("spot_cost_usd"),
            pl.col("transfers_in_t_cost").alias("transfer_cost_usd"),
            (pl.col("shortfall_t") * pl.col("lost_supply_value_usd_per_t")).alias(
                "shortfall_cost_usd"
            ),
        )
        .select(*WDEMAND, *FLOW_COLUMNS)
        .sort(WDEMAND)
        .pipe(clean_zeros)
    )


def describe_recourse(
    sets: RecourseSets, what: str = "scenario"
) -> Callable[[str, tuple[Any, ...]], str | None]:
    """Sentences for the second-stage families (``what`` = "scenario" or "strike")."""
    days = sets.window_share * DAYS_PER_YEAR
    spare = (
        {
            tuple(r[:4]): r[4:]
            for r in sets.spare.select(*WSUPPLY, "availability", "capacity_t").iter_rows()
        }
        if sets.spare.height
        else {}
    )
    names = {
        "y": "contract deliveries",
        "z": "spot purchases",
        "r": "stock releases",
        "u": "shortfalls",
    }

    def describe(family: str, index: tuple[Any, ...]) -> str | None:
        if family == "supply_balance":
            w, m, c, s = index
            return f"in {what} {w!r}, member {m} needs its {c} ({s}) for {days:g} days"
        if family == "release_limit":
            w, m, c, s = index
            return f"in {what} {w!r}, {m} can release at most the {c} ({s}) it stocked"
        if family == "transfer_limit":
            w, m, c, s = index
            return f"in {what} {w!r}, {m} can pass on only the {c} ({s}) it releases"
        if family == "spare_capacity":
            w, sup, c, s = index
            a, cap = spare.get((w, sup, c, s), (1.0, float("nan")))
            return (
                f"allied {sup} has {cap:,.0f} t of {c} ({s}) capacity for contracts and, in "
                f"{what} {w!r}, spot sales ({a:.0%} of its spare capacity available)"
            )
        if family == "spot_arc_limit":
            w, m, sup, c, s = index
            return f"in {what} {w!r}, {sup}'s spot sales of {c} ({s}) to {m} are restricted"
        if family == "delivery_limit":
            w, m, sup, c, s = index
            return f"in {what} {w!r}, only part of {m}'s {c} ({s}) contract with {sup} arrives"
        if family in names and len(index) >= 4:
            return f"in {what} {index[0]!r}, {names[family]} cannot be negative"
        return None

    return describe
