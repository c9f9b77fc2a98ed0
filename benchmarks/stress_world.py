"""A deterministic synthetic alliance world for benchmarking the stress model.

:func:`world` draws, from one seeded NumPy generator,

* ``members`` importing members (``M00``, ``M01``, ...), each importing about 85 % of the
  commodities (log-normal demand);
* ``suppliers`` exporting countries (``S000``, ...), about half of them allied;
* ``commodities`` commodity-stages (``c00``/``mining``, ``c01``/``refining``, ...), each
  sold by ``per_commodity`` suppliers drawn without replacement (Zipf-like capacity
  shares; capacity 1.6x the members' total demand, so the first stage is feasible);
* unit costs log-normal around a per-commodity price;
* ``scenarios`` scenarios: one calm year with most of the probability and
  ``scenarios - 1`` disruptions cycling through a total blockade of one supplier, a
  partial outage of two suppliers on a few commodities (availability 0.2-0.7), an
  embargo by a bloc of three non-allied suppliers on two members, and a blockade of a
  big supplier on half the commodities combined with a partial outage elsewhere.

and the :class:`~resilience.optimize.stress.StressSettings` the benchmark uses
(friend-shoring cap 0.7, single-supplier cap 0.6, 10 days of minimum stock, CVaR weight
0.5 at 0.95). Sizes used by ``bench_stress.py``: :data:`SIZES`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

#: name -> (members, suppliers, commodities, suppliers per commodity, scenarios)
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "10k": (8, 50, 12, 10, 9),
    "100k": (16, 100, 20, 16, 16),
    "1M": (26, 150, 32, 24, 40),
}

STAGES = ("mining", "refining")


def world(
    members: int,
    suppliers: int,
    commodities: int,
    per_commodity: int,
    scenarios: int,
    seed: int = 20240601,
) -> tuple[Any, pl.DataFrame]:
    """``(ModelData, validated scenario frame)`` for the given sizes (see module doc)."""
    from resilience.optimize.inputs import ModelData

    rng = np.random.default_rng(seed)
    mem = [f"M{i:02d}" for i in range(members)]
    sup = [f"S{i:03d}" for i in range(suppliers)]
    allied = set(np.array(sup)[rng.random(suppliers) < 0.5].tolist())
    com = [(f"c{i:02d}", STAGES[i % 2]) for i in range(commodities)]
    demand = _demand(rng, mem, com)
    capacity = _capacity(rng, demand, sup, allied, com, per_commodity)
    arcs = (
        demand.select("member_iso3", "commodity", "stage")
        .join(
            capacity.select("supplier_iso3", "commodity", "stage", "unit_cost_usd_per_t"),
            on=["commodity", "stage"],
        )
        .with_columns(
            pl.lit(0.0).alias("observed_t"),
            pl.col("supplier_iso3").is_in(sorted(allied)).alias("is_ally"),
        )
        .select(
            "member_iso3",
            "supplier_iso3",
            "commodity",
            "stage",
            "unit_cost_usd_per_t",
            "observed_t",
            "is_ally",
        )
        .sort("member_iso3", "commodity", "stage", "supplier_iso3")
    )
    data = ModelData(
        year=2023,
        members=tuple(mem),
        demand=demand,
        capacity=capacity.drop("unit_cost_usd_per_t"),
        arcs=arcs,
    )
    return data, _scenarios(rng, capacity, mem, allied, com, scenarios)


def _demand(rng: Any, mem: list[str], com: list[tuple[str, str]]) -> pl.DataFrame:
    rows = [
        (m, c, s, float(np.round(rng.lognormal(8.0, 1.2), 3)))
        for m in mem
        for c, s in com
        if rng.random() < 0.85
    ]
    return pl.DataFrame(
        rows, schema=["member_iso3", "commodity", "stage", "demand_t"], orient="row"
    ).sort("member_iso3", "commodity", "stage")


def _capacity(
    rng: Any,
    demand: pl.DataFrame,
    sup: list[str],
    allied: set[str],
    com: list[tuple[str, str]],
    per_commodity: int,
) -> pl.DataFrame:
    total = dict(
        demand.group_by("commodity", "stage")
        .agg(pl.col("demand_t").sum())
        .select(pl.concat_str("commodity", "stage", separator="/"), "demand_t")
        .iter_rows()
    )
    rows = []
    for c, s in com:
        chosen = rng.choice(len(sup), size=per_commodity, replace=False)
        while not any(sup[j] in allied for j in chosen.tolist()):
            chosen = rng.choice(len(sup), size=per_commodity, replace=False)
        weights = 1.0 / np.arange(1, per_commodity + 1) ** 0.8
        weights = weights / weights.sum()
        price = float(rng.lognormal(8.0, 1.0))
        need = total.get(f"{c}/{s}", 0.0)
        is_ally = np.array([sup[j] in allied for j in chosen.tolist()])
        ally_share = float(weights[is_ally].sum())
        if ally_share < 0.5:  # friend-shoring must stay feasible: allies hold >= half
            weights = np.where(is_ally, weights * 0.5 / ally_share, weights)
        for j, w in zip(chosen.tolist(), weights.tolist(), strict=True):
            cap = float(np.round(1.6 * need * w + 1.0, 3))
            cost = float(np.round(price * rng.lognormal(0.0, 0.15), 2))
            rows.append((sup[j], c, s, cap, float(np.round(cap / 1.1, 3)), cost))
    schema = [
        "supplier_iso3",
        "commodity",
        "stage",
        "capacity_t",
        "observed_exports_t",
        "unit_cost_usd_per_t",
    ]
    return pl.DataFrame(rows, schema=schema, orient="row").sort(
        "supplier_iso3", "commodity", "stage"
    )


def _scenarios(
    rng: Any,
    capacity: pl.DataFrame,
    mem: list[str],
    allied: set[str],
    com: list[tuple[str, str]],
    scenarios: int,
) -> pl.DataFrame:
    from resilience.optimize import scenarios_data as sd

    by_size = (  # suppliers by total capacity, for the "big" blockades
        capacity.group_by("supplier_iso3")
        .agg(pl.col("capacity_t").sum())
        .sort("capacity_t", "supplier_iso3", descending=[True, False])["supplier_iso3"]
        .to_list()
    )
    non_allied = [s for s in by_size if s not in allied]
    n_dis = scenarios - 1
    probs = rng.dirichlet(np.ones(n_dis)) * 0.3 if n_dis else np.zeros(0)
    frames = []
    for w in range(n_dis):
        p, kind, name = float(probs[w]), w % 4, f"w{w:02d}"
        if kind == 0:
            frames.append(sd.blockade(by_size[w % 10], probability=p, name=f"{name}:blockade"))
        elif kind == 1:
            two = rng.choice(by_size[:40], size=2, replace=False).tolist()
            picks = rng.choice(len(com), size=max(2, len(com) // 4), replace=False)
            frames.append(
                sd.outage(
                    two,
                    [com[i] for i in sorted(picks.tolist())],
                    availability=float(np.round(rng.uniform(0.2, 0.7), 2)),
                    probability=p,
                    name=f"{name}:outage",
                )
            )
        elif kind == 2:
            bloc = rng.choice(non_allied[:20], size=3, replace=False).tolist()
            targets = rng.choice(mem, size=2, replace=False).tolist()
            frames.append(sd.embargo(bloc, targets, probability=p, name=f"{name}:embargo"))
        else:
            frames.append(
                sd.combine(
                    sd.blockade(by_size[(w // 4) % 5], com[0::2], name="a"),
                    sd.outage(by_size[5 + (w // 4) % 20], com[1::2], availability=0.5, name="b"),
                    name=f"{name}:blockade+outage",
                    probability=p,
                )
            )
    return sd.scenario_set(*frames, baseline_name="calm")


def settings() -> Any:
    """The stress settings of the benchmark (see module doc)."""
    from resilience.optimize.diversify import DiversifyPolicy
    from resilience.optimize.stress import StockPolicy, StressSettings

    return StressSettings(
        policy=DiversifyPolicy(max_non_allied_share=0.7, max_single_supplier_share=0.6),
        stock=StockPolicy(min_stock_days=10.0),
        cvar_weight=0.5,
    )
