r"""Alliance policies as hooks on the market core: stock builds, sourcing caps, pooling.

Each function returns an :data:`~resilience.optimize.market.core.Extension` for
:func:`~resilience.optimize.market.core.build_market`; each row family it declares
carries the sentence that explains it when it makes a run infeasible (:data:`EXPLANATIONS`).

**Stock build** (:func:`stock_build`, first stage): a member's pre-crisis build
:math:`z_{n,g}` with :math:`z^{min}_{n,g} \le z_{n,g} \le z^{max}_{n,g}`, bought at
:math:`P_0` before month 1 (objective :math:`-P_0 z`, unweighted: paid in every
scenario) and then held like the rest of the stock: in the month-1 ``stock_flow`` row

.. math:: k_{1,w} - b_{1,w} + r_{1,w} - z_{n,g} = k_0 \quad \forall w,

and the floor as a row ``stock_floor``: :math:`z_{n,g} \ge z^{min}_{n,g}`.

**Sourcing caps** (:func:`sourcing_cap`, every month and scenario): for a member
:math:`m`, good :math:`g`, with :math:`S` the capped origins (non-allied nodes for
``non_allied``; each single foreign node for ``single``),

.. math:: \sum_{o \in S} (\text{flow\_base} + \text{flow\_growth})_{o \to m}
   \le s\, q_{0,m,g},

i.e. imports from :math:`S` at most a share :math:`s` of the member's observed monthly
consumption — a quota (a share of what it consumes in the run would let the balance
dual carry the quota's rent, a price above what consumers pay) (rows
``sourcing_cap_non_allied`` keyed ``rule = "all"``, ``sourcing_cap_single`` keyed by the
origin). A
cap never makes the run infeasible on its own (consumption may fall to what the
allowed sources give): its cost shows as welfare lost and prices up. A node without
observed consumption (a re-exporter) may import nothing from capped origins.

**Pooling** (:func:`pooled_stocks`): members of a pool may ship stock releases to each
other without friction or ramp: transfer :math:`p_{o \to d,g,t,w} \ge 0` between pool
members, a use at :math:`o` and a source at :math:`d` in the balance, and

.. math:: \sum_d p_{o \to d,g,t,w} - r_{o,g,t,w} \le 0 \quad(\text{row ``pool\_release``}),

so only released stock is pooled, not imports.

**Capacity map** (:func:`capacity_map_years`, the ``capacity_map_year`` knob; data, not
a row family): for the goods with a world balance in ``datasets/market_balances.csv``
(the chip goods), the supply group of the map year :math:`y` replaces the study year's.
With :math:`W` the world level of the study year (the cited ``world`` row) and
:math:`s_{i,y}` the shares of year :math:`y`, node :math:`i`'s capacity is

.. math:: S_i = W\, s_{i,y} / \textstyle\sum_k s_{k,y},

and demand, prices and parameters stay the study year's; arcs are allocated from these
:math:`S_i` as usual (:mod:`.allocated`). For the CHIPS-Act catalogue entry (SIA/BCG's
2032 < 10 nm map on the 2022 market) the United States holds
:math:`0.28 \times 56{,}656.23 = 15{,}863.74` USD m a year of < 10 nm output, Taiwan
:math:`0.47\,W`, Korea :math:`0.09\,W`. The map *replaces* the supply shares; it does
not *add* the allies' projected capacity on top of today's
(:math:`S_i^{today} + s_{i,2032} W_{2032} - S_i^{today}` for the US, EU and Japan), for
two reasons the data force: (1) no world < 10 nm level for 2032 is cited
(:math:`W_{2032}` is unknown: SIA/BCG's shares are published without it, and the
"203 % more US fab capacity" figure is for all nodes), and (2) added capacity with
today's demand would put world supply :math:`(1 + 0.28 + 0.05)\,W` above demand
:math:`W`, so the calm market would no longer reproduce :math:`P_0` and every loss would
be measured against a glut no source describes. Read the map as "the 2022 market with
the capacity where SIA/BCG expect it in 2032": the investments of the CHIPS and Science
Act, the EU Chips Act and Japan's subsidies landed, not a crisis response (no fab is
built within any catalogue disruption's horizon). Non-allied and allied nodes alike take
the map's shares: Taiwan's and Korea's *shares* fall (69 to 47 %, 31 to 9 %) although
their capacity grows in absolute terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.core import Extension
from resilience.optimize.market.inputs import MarketInputs
from resilience.reference.market_balances import BALANCE_FILE, load_market_balances

__all__ = [
    "EXPLANATIONS",
    "capacity_map_years",
    "pooled_stocks",
    "sourcing_cap",
    "stock_build",
]

#: constraint family -> sentence shown when it makes a run infeasible (fields: row keys)
EXPLANATIONS: dict[str, str] = {
    "stock_floor": (
        "{good} at {node}: the policy's minimum stock build (min_stock_days) does not fit "
        "the stock's capacity (max_stock_days); lower min_stock_days or raise max_stock_days"
    ),
    "sourcing_cap_non_allied": (
        "{good} at {node} in month {month} of scenario {scenario}: imports from non-allied "
        "suppliers must stay within max_non_allied_share of its observed consumption"
    ),
    "sourcing_cap_single": (
        "{good} at {node} in month {month} of scenario {scenario}: imports from {rule} "
        "must stay within max_single_supplier_share of its observed consumption"
    ),
    "pool_release": (
        "{good} at {node} in month {month} of scenario {scenario}: stock shipped to other "
        "pool members cannot exceed the stock the member releases"
    ),
}
_TGW = ["good", "month", "scenario"]
_ARC = ["origin", "destination", "good", "month", "scenario"]


def stock_build(builds: pl.DataFrame, table: str = "stock policy") -> Extension:
    """Pre-crisis stock builds with a floor and a ceiling (module doc).

    Parameters
    ----------
    builds
        ``node, good, min_units, max_units`` (``max_units`` null: only the stock's
        capacity limits it). Each ``(node, good)`` must have a row in ``inputs.stocks``.
    table
        Name used for ``builds`` in error messages.

    Returns
    -------
    Extension
        Adds the variable ``prebuilt_stock[node, good]`` and rows ``stock_floor``.
    """
    from resilience.optimize.market.first_stage import prebuilt_stock

    add_build = prebuilt_stock(builds.select("node", "good", "max_units"), table)

    def extend(builder: MarketBuilder, inputs: MarketInputs) -> None:
        add_build(builder, inputs)
        floor = builds.filter(pl.col("min_units") > 0)
        if floor.height == 0:
            return
        rows = floor.select(
            "node",
            "good",
            pl.col("min_units").cast(pl.Float64).alias("lb"),
            pl.lit(None, dtype=pl.Float64).alias("ub"),
        )
        builder.add_rows("stock_floor", rows, ["node", "good"], EXPLANATIONS["stock_floor"])
        builder.add_terms(
            "stock_floor",
            builder.variables["prebuilt_stock"],
            floor.select("node", "good", pl.lit(1.0).alias("coef")),
            ["node", "good"],
        )

    return extend


def sourcing_cap(
    members: Sequence[str],
    allies: Sequence[str],
    share: float,
    rule: str,
    goods: Sequence[str] | None = None,
) -> Extension:
    """Cap imports from non-allied nodes, or from any single foreign node (module doc).

    Parameters
    ----------
    members
        Member nodes the cap binds.
    allies
        Allied nodes (ISO3). An aggregate node (rest of world) is never allied.
    share
        The cap :math:`s` in [0, 1] (1: no cap, nothing added).
    rule
        ``"non_allied"`` (the sum over non-allied origins) or ``"single"`` (every
        foreign origin on its own, the CRMA benchmark).
    goods
        The goods the cap binds (``None``: every good).
    """
    if rule not in ("non_allied", "single"):
        raise ValueError(f"rule must be 'non_allied' or 'single', not {rule!r}")
    allied = set(allies)

    def extend(builder: MarketBuilder, inputs: MarketInputs) -> None:
        if share >= 1.0:
            return
        flows = [
            (name, builder.index(name))
            for name in ("flow_base", "flow_growth")
            if name in builder.variables
        ]
        capped = [
            (
                name,
                idx.filter(
                    pl.col("destination").is_in(list(members))
                    & (pl.col("origin") != pl.col("destination"))
                    & (pl.lit(value=True) if goods is None else pl.col("good").is_in(list(goods)))
                    & (
                        ~pl.col("origin").is_in(list(allied))
                        if rule == "non_allied"
                        else pl.lit(value=True)
                    )
                ),
            )
            for name, idx in flows
        ]
        group = "all" if rule == "non_allied" else "origin"  # the row key ``rule``
        keyed = [
            (
                name,
                idx.with_columns(
                    pl.col("destination").alias("node"),
                    (pl.lit("all") if group == "all" else pl.col("origin")).alias("rule"),
                ),
            )
            for name, idx in capped
        ]
        rows = (
            pl.concat([k.select("node", "rule", *_TGW) for _, k in keyed])
            .unique()
            .sort("node", "rule", *_TGW)
        )
        if rows.height == 0:
            return
        keys = ["node", "rule", *_TGW]
        family = f"sourcing_cap_{rule}"
        q0 = inputs.demand.select(
            "node", "good", (share * pl.col("q0_units_per_month")).alias("ub")
        )
        rows = rows.join(q0, on=["node", "good"], how="left").with_columns(
            pl.lit(None, dtype=pl.Float64).alias("lb"), pl.col("ub").fill_null(0.0)
        )
        builder.add_rows(family, rows, keys, EXPLANATIONS[family])
        for name, k in keyed:
            builder.add_terms(
                family,
                builder.variables[name],
                k.select(*dict.fromkeys([*keys, *_ARC]), pl.lit(1.0).alias("coef")),
                _ARC,
            )

    return extend


def pooled_stocks(pool: Sequence[str], goods: Sequence[str] | None = None) -> Extension:
    """Stock releases shipped among ``pool`` members without friction (module doc).

    Adds the variable ``pool_transfer[origin, destination, good, month, scenario]`` and
    rows ``pool_release``; nothing when fewer than two pool members hold stock. Only
    ``goods`` are pooled (``None``: every good).
    """

    def extend(builder: MarketBuilder, inputs: MarketInputs) -> None:
        if "release" not in builder.variables:
            return
        release = builder.index("release").filter(pl.col("node").is_in(list(pool)))
        if goods is not None:
            release = release.filter(pl.col("good").is_in(list(goods)))
        holders = release.select("node", "good").unique()
        balance = builder.families["balance"].rows.select("node", *_TGW)
        receivers = balance.filter(pl.col("node").is_in(list(pool)))
        pairs = (
            release.rename({"node": "origin"})
            .join(receivers.rename({"node": "destination"}), on=_TGW)
            .filter(pl.col("origin") != pl.col("destination"))
            .select(_ARC)
            .sort(_ARC)
        )
        if holders.height == 0 or pairs.height == 0:
            return
        var = builder.add_variables("pool_transfer", pairs, _ARC)
        builder.add_terms(
            "balance",
            var,
            pairs.select(*_ARC, pl.col("origin").alias("node"), pl.lit(1.0).alias("coef")),
            _ARC,
        )
        builder.add_terms(
            "balance",
            var,
            pairs.select(*_ARC, pl.col("destination").alias("node"), pl.lit(-1.0).alias("coef")),
            _ARC,
        )
        rows = release.select(
            "node",
            *_TGW,
            pl.lit(None, dtype=pl.Float64).alias("lb"),
            pl.lit(0.0).alias("ub"),
        )
        keys = ["node", *_TGW]
        builder.add_rows("pool_release", rows, keys, EXPLANATIONS["pool_release"])
        builder.add_terms(
            "pool_release",
            var,
            pairs.select(*_ARC, pl.col("origin").alias("node"), pl.lit(1.0).alias("coef")),
            _ARC,
        )
        builder.add_terms(
            "pool_release",
            builder.variables["release"],
            release.select(*keys, pl.lit(-1.0).alias("coef")),
            keys,
        )

    return extend


def capacity_map_years(
    goods: Sequence[str],
    year: int | None,
    named: Sequence[str] | None = None,
    *,
    set_by: str = "policy",
    table: pl.DataFrame | None = None,
) -> dict[str, int]:
    """``good -> map year`` of the ``capacity_map_year`` knob (module doc, capacity map).

    Parameters
    ----------
    goods
        The study's goods (``commodity/stage``).
    year
        The knob's value (``None``: no map, an empty mapping).
    named
        The ``capacity_map_goods`` knob: the goods the map applies to. ``None``: every
        good of ``goods`` with supply rows of ``year`` in ``market_balances.csv`` (the
        others keep their map; at least one must have such rows). A named good that is
        not in the study is left alone (a catalogue entry serves every study); a named
        good of the study without supply rows of ``year`` is an error.
    set_by
        Who set the knob (``"scenario chips_act_capacity"``), for the error message.
    table
        Rows of :func:`~resilience.reference.market_balances.load_market_balances`
        (default the shipped table).

    Raises
    ------
    resilience.errors.DataError
        A named good without supply rows of ``year`` in ``market_balances.csv`` (or
        without any rows), or (``named=None``) no good of the study with such rows,
        naming the file, the row of the good's latest supply group, the column ``year``
        and the value.
    """
    if year is None:
        return {}
    table = load_market_balances() if table is None else table
    with_good = table.with_columns(pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"))
    have = set(with_good["good"].to_list())
    chosen = [g for g in goods if g in have] if named is None else [g for g in named if g in goods]
    supply_years = {
        g: set(with_good.filter((pl.col("good") == g) & (pl.col("role") == "supply"))["year"])
        for g in chosen
    }
    if named is None:
        with_map = [g for g in chosen if year in supply_years[g]]
        if with_map or not chosen:
            return dict.fromkeys(with_map, year)
        chosen = chosen[:1]  # none has the year: the error names the first
    problems: list[DataProblem] = []
    for good in chosen:
        supply = with_good.filter((pl.col("good") == good) & (pl.col("role") == "supply"))
        if year in supply_years[good]:
            continue
        years = sorted(set(supply["year"].to_list()))
        latest = supply.filter(pl.col("year") == max(years)) if years else supply
        rows = latest["source_row"].to_list()
        where = f" (rows {min(rows)}-{max(rows)})" if rows else ""
        problems.append(
            DataProblem(
                BALANCE_FILE,
                min(rows) if rows else None,
                "year",
                year,
                f"{good}: capacity_map_year {year} (set by {set_by}) has no supply rows of "
                f"that year; supply years of this good: "
                f"{', '.join(map(str, years)) or 'none'}{where}. Name the goods with a "
                "projection in capacity_map_goods, or add the cited projection rows",
            )
        )
    if problems:
        raise DataError(problems)
    return dict.fromkeys(chosen, year)
