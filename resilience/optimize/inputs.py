r"""Model inputs: frames from the dataset turned into sparse sets and parameters (no Pyomo).

Everything a model family needs comes from one :class:`ModelData`, built from bilateral
trade quantities of one year by :func:`model_data`. Quantities are on the content basis
(``import_quantity_content``: tonnes of metal or oxide content, million m3 of gas...,
converted per HS6 code; ``content_unit`` in ``demand``) when the trade frame carries
it, else gross tonnes; the ``_t`` column names below then read "per content unit":

- members :math:`M`: the importers the alliance re-plans for;
- demand :math:`d_{m,c}`: what member :math:`m` imported of commodity-stage :math:`c`;
- capacity :math:`\mathrm{cap}_{s,c}`: supplier :math:`s`'s observed exports of
  :math:`c`, raised by a spare-capacity fraction, minus what importers outside the model
  keep buying (their purchases are held at observed levels, so capacity is shared with
  the rest of the world);
- unit cost :math:`p_{s,c}` (USD per content unit): the supplier's export unit value
  (trade value over quantity, ``unit_value_usd_per_content_unit`` in ``arcs``); where its
  quantities are missing, the commodity's median unit value;
- arcs: every (member, supplier, commodity) with capacity, the supplier not the member
  itself — a sparse set built from rows, never a dense cross product;
- ``is_ally`` per arc from the allied set.

Overrides (demand, capacity, cost) are joined strictly: a key that matches nothing is
an error listing the offending keys.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import polars as pl

from resilience.errors import DataError, DataProblem, UnknownNameError

__all__ = ["COMMODITY_KEY", "ModelData", "apply_overrides", "model_data"]

#: A commodity in the models is a (commodity, stage) pair.
COMMODITY_KEY = ["commodity", "stage"]


@dataclass(frozen=True)
class ModelData:
    """Sparse sets and parameters of one model run (Polars frames, no Pyomo objects).

    Attributes
    ----------
    year
        Trade year the data describe.
    members
        ISO3 codes of the modelled importers.
    demand
        ``member_iso3, commodity, stage, demand_t`` (and ``content_unit`` when built on
        the content basis).
    capacity
        ``supplier_iso3, commodity, stage, capacity_t, observed_exports_t``.
    arcs
        ``member_iso3, supplier_iso3, commodity, stage, unit_cost_usd_per_t,
        observed_t, is_ally`` (and ``unit_value_usd_per_content_unit``, the observed
        export unit value before the median fill, on the content basis).
    """

    year: int
    members: tuple[str, ...]
    demand: pl.DataFrame
    capacity: pl.DataFrame
    arcs: pl.DataFrame

    def with_allies(self, allies: Collection[str]) -> ModelData:
        """The same data with ``is_ally`` recomputed for another allied set."""
        arcs = self.arcs.with_columns(
            pl.col("supplier_iso3").is_in(sorted(allies)).alias("is_ally")
        )
        return replace(self, arcs=arcs)


def model_data(
    bilateral: pl.LazyFrame | pl.DataFrame,
    members: Collection[str],
    year: int,
    allies: Collection[str],
    commodities: Collection[tuple[str, str]] | None = None,
    spare_capacity_frac: float = 0.10,
) -> ModelData:
    """Build :class:`ModelData` from bilateral shares with quantities.

    Parameters
    ----------
    bilateral
        ``year, importer_iso3, commodity, stage, supplier_iso3, import_value_usd,
        import_quantity_t`` (e.g. :func:`resilience.build.dependency.trade_shares`);
        with ``import_quantity_content`` and ``content_unit`` the model runs on the
        content basis.
    members
        Importers to model.
    year
        Trade year.
    allies
        ISO3 codes counted as allied suppliers (members need not be listed).
    commodities
        (commodity, stage) pairs to keep; all with member demand by default.
    spare_capacity_frac
        Capacity above observed exports, as a fraction of them.

    Raises
    ------
    resilience.errors.UnknownNameError
        A member with no imports in that year, or a requested commodity none of the
        members imports.
    """
    if spare_capacity_frac < 0:
        raise ValueError(f"spare_capacity_frac must be >= 0, got {spare_capacity_frac}")
    lazy = bilateral.lazy()
    on_content = {"import_quantity_content", "content_unit"} <= set(lazy.collect_schema().names())
    quantity = "import_quantity_content" if on_content else "import_quantity_t"
    flows = (
        lazy.filter(
            (pl.col("year") == year) & pl.col(quantity).is_not_null() & (pl.col(quantity) > 0)
        )
        .select(
            "importer_iso3",
            "supplier_iso3",
            *COMMODITY_KEY,
            "import_value_usd",
            pl.col(quantity).alias("_q"),
            (pl.col("content_unit") if on_content else pl.lit("t")).alias("content_unit"),
        )
        .collect()
    )
    if commodities is not None:
        wanted = pl.DataFrame(list(commodities), schema=COMMODITY_KEY, orient="row")
        flows = flows.join(wanted, on=COMMODITY_KEY, how="semi")
    member_list = tuple(sorted(set(members)))
    present = set(flows["importer_iso3"].unique().to_list())
    for m in member_list:
        if m not in present:
            raise UnknownNameError(
                f"member with recorded imports in {year}", m, sorted(present)[:5]
            )
    is_member = pl.col("importer_iso3").is_in(member_list)
    demand = (
        flows.filter(is_member)
        .group_by(pl.col("importer_iso3").alias("member_iso3"), *COMMODITY_KEY)
        .agg(pl.col("_q").sum().alias("demand_t"), pl.col("content_unit").first())
        .sort("member_iso3", *COMMODITY_KEY)
    )
    if commodities is not None:
        missing = wanted.join(demand.select(COMMODITY_KEY).unique(), on=COMMODITY_KEY, how="anti")
        if missing.height:
            c, s = missing.row(0)
            raise UnknownNameError("commodity imported by the members", f"{c}/{s}", [])
    exports = flows.group_by("supplier_iso3", *COMMODITY_KEY).agg(
        pl.col("_q").sum().alias("observed_exports_t"),
        pl.col("_q").filter(~is_member).sum().alias("_others_t"),
        (pl.col("import_value_usd").sum() / pl.col("_q").sum()).alias("unit_cost_usd_per_t"),
    )
    capacity = exports.with_columns(
        (pl.col("observed_exports_t") * (1 + spare_capacity_frac) - pl.col("_others_t"))
        .clip(lower_bound=0.0)
        .alias("capacity_t")
    )
    median_cost = capacity.group_by(COMMODITY_KEY).agg(
        pl.col("unit_cost_usd_per_t").median().alias("_median")
    )
    capacity = (
        capacity.join(median_cost, on=COMMODITY_KEY)
        .with_columns(
            pl.col("unit_cost_usd_per_t").alias("unit_value_usd_per_content_unit"),
            pl.coalesce("unit_cost_usd_per_t", "_median").alias("unit_cost_usd_per_t"),
        )
        .filter(pl.col("capacity_t") > 0)
    )
    observed = flows.filter(is_member).select(
        pl.col("importer_iso3").alias("member_iso3"),
        "supplier_iso3",
        *COMMODITY_KEY,
        pl.col("_q").alias("observed_t"),
    )
    arcs = (
        demand.select("member_iso3", *COMMODITY_KEY)
        .join(
            capacity.select(
                "supplier_iso3",
                *COMMODITY_KEY,
                "unit_cost_usd_per_t",
                *(["unit_value_usd_per_content_unit"] if on_content else []),
            ),
            on=COMMODITY_KEY,
        )
        .filter(pl.col("supplier_iso3") != pl.col("member_iso3"))
        .join(observed, on=["member_iso3", "supplier_iso3", *COMMODITY_KEY], how="left")
        .with_columns(
            pl.col("observed_t").fill_null(0.0),
            pl.col("supplier_iso3").is_in(sorted(allies)).alias("is_ally"),
        )
        .sort("member_iso3", *COMMODITY_KEY, "supplier_iso3")
    )
    return ModelData(
        year=year,
        members=member_list,
        demand=demand if on_content else demand.drop("content_unit"),
        capacity=capacity.select(
            "supplier_iso3", *COMMODITY_KEY, "capacity_t", "observed_exports_t"
        ).sort("supplier_iso3", *COMMODITY_KEY),
        arcs=arcs,
    )


def _strict_update(
    base: pl.DataFrame, override: pl.DataFrame, key: list[str], column: str, name: str
) -> pl.DataFrame:
    unknown = override.join(base.select(key), on=key, how="anti")
    if unknown.height:
        raise DataError(
            [
                DataProblem(
                    name,
                    i + 2,
                    ", ".join(key),
                    dict(zip(key, row, strict=True)),
                    "no such key in the model data",
                )
                for i, row in enumerate(unknown.select(key).iter_rows())
            ]
        )
    if (override[column] < 0).any():
        bad = override.with_row_index("_i").filter(pl.col(column) < 0)
        raise DataError(
            [
                DataProblem(name, i + 2, column, v, "must be >= 0")
                for i, v in bad.select("_i", column).iter_rows()
            ]
        )
    return base.update(override.select(*key, column), on=key)


def apply_overrides(
    data: ModelData,
    demand: pl.DataFrame | None = None,
    capacity: pl.DataFrame | None = None,
    unit_cost: pl.DataFrame | None = None,
) -> ModelData:
    """Replace demand, capacity or unit costs for chosen keys (strict: unknown keys raise).

    ``demand`` has ``member_iso3, commodity, stage, demand_t``; ``capacity`` has
    ``supplier_iso3, commodity, stage, capacity_t``; ``unit_cost`` has
    ``supplier_iso3, commodity, stage, unit_cost_usd_per_t``.
    """
    out = data
    if demand is not None:
        out = replace(
            out,
            demand=_strict_update(
                out.demand, demand, ["member_iso3", *COMMODITY_KEY], "demand_t", "demand override"
            ),
        )
    if capacity is not None:
        out = replace(
            out,
            capacity=_strict_update(
                out.capacity,
                capacity,
                ["supplier_iso3", *COMMODITY_KEY],
                "capacity_t",
                "capacity override",
            ),
        )
    if unit_cost is not None:
        key = ["supplier_iso3", *COMMODITY_KEY]
        costs = _strict_update(
            out.arcs.select(*key, "unit_cost_usd_per_t").unique(key),
            unit_cost,
            key,
            "unit_cost_usd_per_t",
            "unit cost override",
        )
        out = replace(
            out, arcs=out.arcs.drop("unit_cost_usd_per_t").join(costs, on=key, how="left")
        )
    return out
