r"""A solved market as tidy Polars frames (units in column names).

:class:`MarketResult` reads one optimal solve of a :class:`~.core.MarketModel`:

- :meth:`~MarketResult.prices`: ``price_usd_per_unit`` per node, good, month, scenario =
  dual of the balance row / :math:`\pi_w` (sign: see :mod:`.core`; the value of one
  more unit available at that node);
- :meth:`~MarketResult.flows`, :meth:`~MarketResult.demand`, :meth:`~MarketResult.stocks`,
  :meth:`~MarketResult.supply`;
- :meth:`~MarketResult.surplus`: per node and scenario, consumer value, expenditure at the
  node price, consumer, producer, processor and stock-holder surplus, summed over goods
  and months; :meth:`~MarketResult.trade_rent` the rest of welfare (price gaps on arcs
  minus friction), so that surpluses + trade rent = the scenario's welfare (tested);
- :func:`welfare_loss`: per node and scenario against a no-disruption run: consumer loss
  (consumer value lost + extra expenditure, net of the stock holder's gain), producer
  gain (who gains), net welfare loss;
- :meth:`~MarketResult.capacity_values` and :meth:`~MarketResult.stock_values`: value of
  one more unit of capacity or initial stock, USD per unit (sign: objective improvement,
  >= 0; from HiGHS reduced costs and duals, :mod:`resilience.optimize.result`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from resilience.metrics.sums import stable_sum
from resilience.optimize.market.core import MarketModel
from resilience.optimize.market.demand import demand_blocks
from resilience.optimize.market.supply import supply_blocks
from resilience.optimize.solve import SolveResult

__all__ = ["MarketResult", "expected_loss", "leak_free_share", "welfare_loss"]

_NGTW = ["node", "good", "month", "scenario"]
_ARC = ["origin", "destination", "good", "month", "scenario"]
_EMPTY_SURPLUS = {"node": pl.String, "scenario": pl.String, "usd": pl.Float64}


@dataclass(frozen=True)
class MarketResult:
    """One optimal solve of a market model, as frames.

    The frames read from the solution (a variable's values, the prices, the surpluses)
    are computed once and kept (``_memo``): a family's answer reads the same ones several
    times, and a calm reference shared between runs (:mod:`.calm`) is read by each.
    """

    market: MarketModel
    solved: SolveResult
    _memo: dict[str, pl.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- raw reads
    def _values(self, name: str, column: str) -> pl.DataFrame:
        var = self.market.variables.get(name)
        if var is None:
            return pl.DataFrame()
        key = f"values:{name}"
        if key not in self._memo:
            self._memo[key] = self.solved.values(var)
        return self._memo[key].rename({"value": column})

    def _probabilities(self) -> pl.DataFrame:
        return self.market.inputs.scenarios

    def prices(self) -> pl.DataFrame:
        """``node, good, month, scenario, price_usd_per_unit`` (dual / probability)."""
        if "prices" not in self._memo:
            duals = self.solved.duals(self.market.constraints["balance"])["dual"]
            self._memo["prices"] = (
                self.market.rows["balance"]
                .with_columns(duals)
                .join(self._probabilities(), on="scenario")
                .select(
                    *_NGTW, (pl.col("dual") / pl.col("probability")).alias("price_usd_per_unit")
                )
            )
        return self._memo["prices"]

    def flows(self) -> pl.DataFrame:
        """``origin, destination, good, month, scenario, flow_units, growth_units``."""
        base = self._values("flow_base", "base_units")
        if base.is_empty():
            return pl.DataFrame(schema={**dict.fromkeys(_ARC, pl.String), "flow_units": pl.Float64})
        growth = self._values("flow_growth", "growth_units")
        out = base.join(growth, on=_ARC, how="left") if not growth.is_empty() else base
        out = out.with_columns(
            pl.col("growth_units").fill_null(0.0)
            if "growth_units" in out.columns
            else pl.lit(0.0).alias("growth_units")
        )
        return out.select(
            *_ARC,
            (pl.col("base_units") + pl.col("growth_units")).alias("flow_units"),
            "growth_units",
        )

    def demand(self) -> pl.DataFrame:
        """``node, good, month, scenario, q0_units, served_units, shed_units``.

        ``shed_units = max(0, q0 - served)`` (demand shed); served above q0 when prices
        fall shows in ``served_units``.
        """
        served = (
            self._values("served", "served_units")
            .sort(pl.all())
            .group_by(_NGTW, maintain_order=True)
            .agg(stable_sum(pl.col("served_units")))
        )
        q0 = self.market.inputs.demand.rename({"q0_units_per_month": "q0_units"})
        return (
            served.join(q0, on=["node", "good"])
            .select(
                *_NGTW,
                "q0_units",
                "served_units",
                (pl.col("q0_units") - pl.col("served_units"))
                .clip(lower_bound=0.0)
                .alias("shed_units"),
            )
            .sort(_NGTW)
        )

    def supply(self) -> pl.DataFrame:
        """``node, good, month, scenario, output_units`` (primary supply)."""
        s = self._values("supply", "output_units")
        return (
            s.sort(pl.all())
            .group_by(_NGTW, maintain_order=True)
            .agg(stable_sum(pl.col("output_units")))
            .sort(_NGTW)
        )

    def conversion(self) -> pl.DataFrame:
        """``node, process, month, scenario, output_units`` of each process."""
        return self._values("conversion", "output_units")

    def stocks(self) -> pl.DataFrame:
        """Stock levels: ``node, good, month, scenario`` and quantities.

        Columns ``stock_units``, ``release_units``, ``build_units`` and
        ``drawdown_units`` (initial level minus stock at the end of the month).
        """
        stock = self._values("stock", "stock_units")
        if stock.is_empty():
            return stock
        k0 = self.market.inputs.stocks.select("node", "good", "initial_units")
        return (
            stock.join(self._values("release", "release_units"), on=_NGTW)
            .join(self._values("build", "build_units"), on=_NGTW)
            .join(k0, on=["node", "good"])
            .with_columns((pl.col("initial_units") - pl.col("stock_units")).alias("drawdown_units"))
            .drop("initial_units")
            .sort(_NGTW)
        )

    # -- welfare
    def surplus(self) -> pl.DataFrame:
        """Per node and scenario (USD, summed over goods and months).

        Columns: ``consumer_value_usd`` (value of the demand blocks served),
        ``expenditure_usd`` (served x node price), ``consumer_surplus_usd``,
        ``producer_surplus_usd`` (price x output - cost), ``processor_surplus_usd``
        (output value - input value - processing cost), ``stock_surplus_usd`` (price x
        (release - build) - holding cost + P0 x final stock), ``welfare_usd`` (their
        sum, without trade rent).
        """
        if "surplus" not in self._memo:
            self._memo["surplus"] = self._surplus()
        return self._memo["surplus"]

    def _surplus(self) -> pl.DataFrame:
        m, inputs = self.market, self.market.inputs
        price = self.prices()
        params = inputs.parameter_frame()
        served = (
            self._values("served", "q")
            .join(
                demand_blocks(inputs, m.settings).select("good", "block", "value_usd_per_unit"),
                on=["good", "block"],
            )
            .join(price, on=_NGTW)
        )
        consumer = (
            served.sort(pl.all())
            .group_by("node", "scenario", maintain_order=True)
            .agg(
                stable_sum(pl.col("q") * pl.col("value_usd_per_unit")).alias("consumer_value_usd"),
                stable_sum(pl.col("q") * pl.col("price_usd_per_unit")).alias("expenditure_usd"),
            )
        )
        parts = [
            consumer,
            self._producer(price),
            self._processor(price),
            self._stockholder(price, params),
        ]
        keys = pl.concat([p.select("node", "scenario") for p in parts]).unique()
        out = keys
        for p in parts:
            out = out.join(p, on=["node", "scenario"], how="left")
        cols = [
            "consumer_value_usd",
            "expenditure_usd",
            "producer_surplus_usd",
            "processor_surplus_usd",
            "stock_surplus_usd",
        ]
        out = out.with_columns(pl.col(c).fill_null(0.0) for c in cols)
        return (
            out.with_columns(
                (pl.col("consumer_value_usd") - pl.col("expenditure_usd")).alias(
                    "consumer_surplus_usd"
                )
            )
            .with_columns(
                (
                    pl.col("consumer_surplus_usd")
                    + pl.col("producer_surplus_usd")
                    + pl.col("processor_surplus_usd")
                    + pl.col("stock_surplus_usd")
                ).alias("welfare_usd")
            )
            .sort("node", "scenario")
        )

    def _producer(self, price: pl.DataFrame) -> pl.DataFrame:
        s = self._values("supply", "q")
        if s.is_empty():
            return pl.DataFrame(
                schema={
                    "node": pl.String,
                    "scenario": pl.String,
                    "producer_surplus_usd": pl.Float64,
                }
            )
        cost = supply_blocks(self.market.inputs, self.market.settings)
        s = s.join(cost.select("good", "block", "cost_usd_per_unit"), on=["good", "block"])
        return (
            s.join(price, on=_NGTW)
            .sort(pl.all())
            .group_by("node", "scenario", maintain_order=True)
            .agg(
                stable_sum(
                    pl.col("q") * (pl.col("price_usd_per_unit") - pl.col("cost_usd_per_unit"))
                ).alias("producer_surplus_usd")
            )
        )

    def _processor(self, price: pl.DataFrame) -> pl.DataFrame:
        y = self._values("conversion", "y")
        schema = {"node": pl.String, "scenario": pl.String, "processor_surplus_usd": pl.Float64}
        if y.is_empty():
            return pl.DataFrame(schema=schema)
        inputs = self.market.inputs
        out = (
            y.join(inputs.processes, on=["node", "process"])
            .join(price.rename({"good": "good_out"}), on=["node", "good_out", "month", "scenario"])
            .select(
                "node",
                "scenario",
                (pl.col("y") * (pl.col("price_usd_per_unit") - pl.col("cost_usd_per_unit"))).alias(
                    "v"
                ),
            )
        )
        used = (
            y.join(inputs.process_inputs, on=["node", "process"])
            .join(price.rename({"good": "good_in"}), on=["node", "good_in", "month", "scenario"])
            .select(
                "node",
                "scenario",
                (-pl.col("y") * pl.col("input_per_output") * pl.col("price_usd_per_unit")).alias(
                    "v"
                ),
            )
        )
        return (
            pl.concat([out, used])
            .sort(pl.all())
            .group_by("node", "scenario", maintain_order=True)
            .agg(stable_sum(pl.col("v")).alias("processor_surplus_usd"))
        )

    def _stockholder(self, price: pl.DataFrame, params: pl.DataFrame) -> pl.DataFrame:
        st = self.stocks()
        schema = {"node": pl.String, "scenario": pl.String, "stock_surplus_usd": pl.Float64}
        if st.is_empty():
            return pl.DataFrame(schema=schema)
        excess = self._values("excess", "excess_units")
        last = self.market.inputs.months
        st = st.join(excess, on=_NGTW).join(price, on=_NGTW).join(params, on="good")
        return (
            st.sort(pl.all())
            .group_by("node", "scenario", maintain_order=True)
            .agg(
                stable_sum(
                    pl.col("price_usd_per_unit") * (pl.col("release_units") - pl.col("build_units"))
                    - pl.col("holding_cost_share_per_month")
                    * pl.col("p0_usd_per_unit")
                    * pl.col("excess_units")
                    + pl.when(pl.col("month") == last)
                    .then(pl.col("p0_usd_per_unit") * pl.col("stock_units"))
                    .otherwise(0.0)
                ).alias("stock_surplus_usd")
            )
        )

    def trade_rent(self) -> pl.DataFrame:
        """``scenario, trade_rent_usd``: price gaps on arcs times flow, minus friction."""
        f = self.flows()
        if f.is_empty():
            return pl.DataFrame(schema={"scenario": pl.String, "trade_rent_usd": pl.Float64})
        price = self.prices()
        params = self.market.inputs.parameter_frame().select(
            "good", "p0_usd_per_unit", "friction_share"
        )
        p_o = price.rename({"node": "origin", "price_usd_per_unit": "p_o"})
        p_d = price.rename({"node": "destination", "price_usd_per_unit": "p_d"})
        f = (
            f.join(p_o, on=["origin", "good", "month", "scenario"])
            .join(p_d, on=["destination", "good", "month", "scenario"])
            .join(params, on="good")
        )
        return (
            f.sort(pl.all())
            .group_by("scenario", maintain_order=True)
            .agg(
                stable_sum(
                    (pl.col("p_d") - pl.col("p_o")) * pl.col("flow_units")
                    - pl.col("friction_share") * pl.col("p0_usd_per_unit") * pl.col("growth_units")
                ).alias("trade_rent_usd")
            )
            .sort("scenario")
        )

    # -- marginal values
    def capacity_values(self) -> pl.DataFrame:
        r"""Value of one more unit of capacity, USD per unit and month (>= 0).

        ``kind = "supply"``: one more unit of a producer's top supply block (node, good);
        ``kind = "arc"``: one more unit of an arc's base capacity (observed flow or fixed
        link capacity). Reduced cost of the variable / :math:`\pi_w`.
        """
        rc = self._reduced("supply")
        top = (
            rc.sort(pl.all())
            .group_by("node", "good", maintain_order=True)
            .agg(pl.col("block").max())
        )
        sup = rc.join(top, on=["node", "good", "block"]).select(
            pl.lit("supply").alias("kind"),
            pl.col("node").alias("origin"),
            pl.lit(None, dtype=pl.String).alias("destination"),
            "good",
            "month",
            "scenario",
            "value_usd_per_unit",
        )
        parts = [sup]
        arcs = self._reduced("flow_base")
        if not arcs.is_empty():
            parts.append(arcs.select(pl.lit("arc").alias("kind"), *_ARC, "value_usd_per_unit"))
        return pl.concat(parts)

    def _reduced(self, name: str) -> pl.DataFrame:
        var = self.market.variables.get(name)
        if var is None:
            return pl.DataFrame()
        return (
            self.solved.reduced_costs(var)
            .join(self._probabilities(), on="scenario")
            .with_columns(
                (pl.col("reduced_cost") / pl.col("probability"))
                .clip(lower_bound=0.0)
                .alias("value_usd_per_unit")
            )
        )

    def stock_values(self) -> pl.DataFrame:
        r"""``node, good, scenario, value_usd_per_unit`` of one more unit of initial stock.

        :math:`(\text{dual of stock\_flow}_{t=1} - \sum_t \text{dual of
        stock\_excess}_t) / \pi_w`: the initial level is the rhs of the first and
        enters the second as :math:`-k_0`.
        """
        if "stock_flow" not in self.market.constraints:
            return pl.DataFrame()
        flow = (
            self.market.rows["stock_flow"]
            .with_columns(self.solved.duals(self.market.constraints["stock_flow"])["dual"])
            .filter(pl.col("month") == 1)
        )
        excess = (
            self.market.rows["stock_excess"]
            .with_columns(self.solved.duals(self.market.constraints["stock_excess"])["dual"])
            .sort(pl.all())
            .group_by("node", "good", "scenario", maintain_order=True)
            .agg(stable_sum(pl.col("dual")).alias("ex"))
        )
        return (
            flow.join(excess, on=["node", "good", "scenario"])
            .join(self._probabilities(), on="scenario")
            .select(
                "node",
                "good",
                "scenario",
                ((pl.col("dual") - pl.col("ex")) / pl.col("probability")).alias(
                    "value_usd_per_unit"
                ),
            )
        )


def welfare_loss(base: MarketResult, result: MarketResult) -> pl.DataFrame:
    """Per node and scenario of ``result``, against the one-scenario ``base`` run (USD).

    ``consumer_loss_usd``: consumer value lost plus extra expenditure, net of the node's
    stock-holder gain (base consumer + stock surplus minus the scenario's);
    ``producer_gain_usd``: producer + processor surplus gained (who gains);
    ``net_loss_usd``: node welfare lost (consumer loss - producer gain).
    """
    if base.market.inputs.scenarios.height != 1:
        raise ValueError("the base run must have exactly one scenario")

    def parts(r: MarketResult) -> pl.DataFrame:
        return r.surplus().select(
            "node",
            "scenario",
            (pl.col("consumer_surplus_usd") + pl.col("stock_surplus_usd")).alias("c"),
            (pl.col("producer_surplus_usd") + pl.col("processor_surplus_usd")).alias("p"),
        )

    b = parts(base).drop("scenario").rename({"c": "c0", "p": "p0"})
    w = parts(result)
    return (
        w.join(b, on="node", how="full", coalesce=True)
        .with_columns(pl.col("c", "p", "c0", "p0").fill_null(0.0))
        .select(
            "node",
            "scenario",
            (pl.col("c0") - pl.col("c")).alias("consumer_loss_usd"),
            (pl.col("p") - pl.col("p0")).alias("producer_gain_usd"),
            ((pl.col("c0") + pl.col("p0")) - (pl.col("c") + pl.col("p"))).alias("net_loss_usd"),
        )
        .sort("node", "scenario")
    )


def expected_loss(loss: pl.DataFrame, scenarios: pl.DataFrame) -> pl.DataFrame:
    """Probability-weighted :func:`welfare_loss` per node: the same columns, summed.

    ``scenarios``: ``scenario, probability`` (e.g. ``inputs.scenarios``).
    """
    cols = ["consumer_loss_usd", "producer_gain_usd", "net_loss_usd"]
    return (
        loss.join(scenarios, on="scenario")
        .sort(pl.all())
        .group_by("node", maintain_order=True)
        .agg(stable_sum(pl.col(c) * pl.col("probability")) for c in cols)
        .sort("node")
    )


def leak_free_share(
    result: MarketResult, target: str, origin: str, good: str, scenario: str
) -> float:
    """Share of an embargo ``origin -> target`` that does NOT leak through third countries.

    ``1 - leaked / embargoed``: embargoed = observed flow on the arc times the share cut,
    summed over the months of the scenario; leaked, per month, = the smaller of (a) the
    growth of the target's imports of the good from third countries and (b) the growth
    of the origin's exports to those same third countries: the origin's extra volume
    that could have reached the target through them. Capped at the embargoed volume.
    """
    inputs = result.market.inputs
    cut = inputs.arc_availability().filter(
        (pl.col("origin") == origin)
        & (pl.col("destination") == target)
        & (pl.col("good") == good)
        & (pl.col("scenario") == scenario)
    )
    arc = inputs.arcs.filter(
        (pl.col("origin") == origin) & (pl.col("destination") == target) & (pl.col("good") == good)
    )
    if arc.height != 1 or cut.height == 0:
        raise ValueError(f"no embargo {origin} -> {target} on {good} in scenario {scenario!r}")
    f0 = float(arc["flow0_units_per_month"][0])
    embargoed = float(((1.0 - cut["availability"]) * f0).sum())
    flows = result.flows().filter((pl.col("good") == good) & (pl.col("scenario") == scenario))
    into = flows.filter((pl.col("destination") == target) & (pl.col("origin") != origin))
    third = into["origin"].unique().to_list()
    out = flows.filter((pl.col("origin") == origin) & pl.col("destination").is_in(third))
    a = (
        into.sort(pl.all())
        .group_by("month", maintain_order=True)
        .agg(stable_sum(pl.col("growth_units")).alias("a"))
    )
    b = (
        out.sort(pl.all())
        .group_by("month", maintain_order=True)
        .agg(stable_sum(pl.col("growth_units")).alias("b"))
    )
    both = a.join(b, on="month", how="left").with_columns(pl.col("b").fill_null(0.0))
    leaked = float(both.select(pl.min_horizontal("a", "b")).to_series().sum())
    if embargoed <= 0:
        return 1.0
    return 1.0 - min(leaked, embargoed) / embargoed
