"""The per-flow stage rule (``stage_reassigned`` repairs) on tiny fixtures."""

from __future__ import annotations

import polars as pl
import pytest

from resilience.build.screening import REPAIRS_SCHEMA
from resilience.build.stage_rule import STAGE_MARGIN, StageRule, reassign_stages
from resilience.errors import DataError
from resilience.ingest.baci import aggregate_baci

RULE = StageRule("cobalt", "refining", "mining", ("282200",), 25_000.0, "fixture")

_MAP = pl.DataFrame(
    {
        "hs6_code": ["260500", "282200", "282200", "810520"],
        "commodity": ["cobalt"] * 4,
        "stage": ["mining", "refining", "refining", "refining"],
        "exporter_iso3": [None, None, "COD", None],
        "content_per_gross_t": [0.08, 0.734, 0.35, 1.0],
        "content_unit": ["t"] * 4,
        "content_basis": ["t of Co content"] * 4,
    },
    schema_overrides={"exporter_iso3": pl.String},
)


def _production(rows: list[tuple[int, str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(y, "cobalt", stage, iso, q, "t", "fixture source") for y, stage, iso, q in rows],
        schema={
            "year": pl.Int32,
            "commodity": pl.String,
            "stage": pl.String,
            "country_iso3": pl.String,
            "quantity": pl.Float64,
            "unit": pl.String,
            "source": pl.String,
        },
        orient="row",
    )


#: CHN refines 1 000 t Co and mines 10 t; COD mines 1 000 t and refines none; FIN
#: refines 100 t and mines 50 t; BEL refines none and mines none.
PRODUCTION = _production(
    [
        (2023, "refining", "CHN", 1000.0),
        (2023, "refining", "FIN", 100.0),
        (2023, "mining", "COD", 1000.0),
        (2023, "mining", "CHN", 10.0),
        (2023, "mining", "FIN", 50.0),
    ]
)


def _flows(rows: list[tuple[str, str, float, float | None]], year: int = 2023) -> pl.DataFrame:
    return pl.DataFrame(
        [(year, e, "CHN" if e != "CHN" else "JPN", hs6, v, q) for e, hs6, v, q in rows],
        schema={
            "year": pl.Int32,
            "exporter_iso3": pl.String,
            "importer_iso3": pl.String,
            "hs6_code": pl.String,
            "value_usd": pl.Float64,
            "quantity_t": pl.Float64,
        },
        orient="row",
    )


def _stages(flows: pl.DataFrame, exporter: str) -> dict[str, tuple[float, float]]:
    rows = flows.filter(pl.col("exporter_iso3") == exporter)
    return {s: (v, q) for s, v, q in rows.select("stage", "value_usd", "quantity_t").iter_rows()}


def test_exporter_shipping_more_than_it_refines_and_mining_the_ore_moves_upstream() -> None:
    # 2 000 t gross of hydroxide (700 t Co) at USD 10 000/t: COD refines nothing.
    result = reassign_stages(_flows([("COD", "282200", 20e6, 2000.0)]), _MAP, PRODUCTION, (RULE,))
    assert _stages(result.flows, "COD") == {"mining": (20e6, 2000.0)}
    (repair,) = result.repairs.iter_rows(named=True)
    assert result.repairs.schema == REPAIRS_SCHEMA
    assert repair["action"] == "stage_reassigned"
    assert (repair["commodity"], repair["stage_original"], repair["stage_repaired"]) == (
        "cobalt",
        "refining",
        "mining",
    )
    assert repair["value_usd_reassigned"] == 20e6
    assert repair["quantity_t_original"] == repair["quantity_t_repaired"] == 2000.0
    assert "COD exports 700.0 t" in repair["reason"]
    assert "(1000.0 t)" in repair["reason"]


def test_exporter_that_refines_enough_keeps_its_flow() -> None:
    # 1 000 t gross of oxide (734 t Co) against 1 000 t refined: the balance holds.
    result = reassign_stages(_flows([("CHN", "282200", 10e6, 1000.0)]), _MAP, PRODUCTION, (RULE,))
    assert _stages(result.flows, "CHN") == {"refining": (10e6, 1000.0)}
    assert result.repairs.height == 0


def test_only_the_part_beyond_production_and_margin_moves() -> None:
    # FIN: 500 t gross at 0.734 = 367 t Co against 100 t refined: 367 - 125 moves.
    result = reassign_stages(_flows([("FIN", "282200", 5e6, 500.0)]), _MAP, PRODUCTION, (RULE,))
    share = (500 * 0.734 - (1 + STAGE_MARGIN) * 100.0) / (500 * 0.734)
    stages = _stages(result.flows, "FIN")
    assert stages["mining"] == pytest.approx((5e6 * share, 500 * share))
    assert stages["refining"] == pytest.approx((5e6 * (1 - share), 500 * (1 - share)))
    assert result.repairs["value_usd_reassigned"].item() == pytest.approx(5e6 * share)


def test_a_flow_priced_as_refined_metal_or_an_exporter_without_ore_stays() -> None:
    flows = _flows(
        [
            ("COD", "282200", 60e6, 1000.0),  # USD 60 000/t: above the ceiling
            ("BEL", "282200", 10e6, 1000.0),  # refines none, mines none: a hub, not a mine
            ("COD", "810520", 5e6, 100.0),  # a line the rule does not name
        ]
    )
    result = reassign_stages(flows, _MAP, PRODUCTION, (RULE,))
    assert set(result.flows["stage"].to_list()) == {"refining"}
    assert result.flows["value_usd"].sum() == 75e6
    assert result.repairs.height == 0


def test_a_year_without_production_of_the_stage_is_not_judged() -> None:
    result = reassign_stages(
        _flows([("COD", "282200", 20e6, 2000.0)], year=2021), _MAP, PRODUCTION, (RULE,)
    )
    assert result.flows["stage"].to_list() == ["refining"]
    assert result.repairs.height == 0


def test_moved_flows_aggregate_at_the_upstream_stage_with_their_content_factor() -> None:
    flows = _flows([("COD", "282200", 20e6, 2000.0), ("COD", "260500", 1e6, 500.0)])
    result = reassign_stages(flows, _MAP, PRODUCTION, (RULE,))
    trade = aggregate_baci(
        result.flows.with_columns(pl.lit("s").alias("source"), pl.lit("v").alias("vintage")).lazy(),
        result.hs_map,
    ).collect()
    (row,) = trade.iter_rows(named=True)
    assert (row["commodity"], row["stage"], row["exporter_iso3"]) == ("cobalt", "mining", "COD")
    assert row["value_usd"] == 21e6
    # the hydroxide keeps its exporter-specific factor (0.35), the ore its own (0.08)
    assert row["quantity_content"] == pytest.approx(2000 * 0.35 + 500 * 0.08)


def test_a_rule_naming_a_line_its_stage_does_not_have_is_named() -> None:
    bad = StageRule("cobalt", "refining", "mining", ("260500",), 25_000.0, "fixture")
    with pytest.raises(DataError) as info:
        reassign_stages(_flows([("COD", "282200", 1.0, 1.0)]), _MAP, PRODUCTION, (bad,))
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (1, "hs6_codes", "260500")


def test_a_non_positive_ceiling_is_named() -> None:
    bad = StageRule("cobalt", "refining", "mining", ("282200",), 0.0, "fixture")
    with pytest.raises(DataError) as info:
        reassign_stages(_flows([("COD", "282200", 1.0, 1.0)]), _MAP, PRODUCTION, (bad,))
    assert [(p.column, p.value) for p in info.value.problems] == [("max_unit_value_usd_per_t", 0.0)]


def test_negative_production_is_named_with_its_row() -> None:
    production = _production([(2023, "refining", "CHN", 1000.0), (2023, "mining", "COD", -5.0)])
    with pytest.raises(DataError) as info:
        reassign_stages(_flows([("COD", "282200", 1.0, 1.0)]), _MAP, production, (RULE,))
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (3, "quantity", -5.0)


def test_production_without_a_needed_column_is_named() -> None:
    with pytest.raises(DataError) as info:
        reassign_stages(
            _flows([("COD", "282200", 1.0, 1.0)]), _MAP, PRODUCTION.drop("unit"), (RULE,)
        )
    assert [p.column for p in info.value.problems] == ["unit"]


def test_a_flow_without_a_quantity_stays_and_counts_nowhere() -> None:
    flows = _flows([("COD", "282200", 20e6, 2000.0), ("COD", "282200", 3e6, None)])
    result = reassign_stages(flows, _MAP, PRODUCTION, (RULE,))
    rows = result.flows.select("stage", "value_usd", "quantity_t").rows()
    assert rows == [("mining", 20e6, 2000.0), ("refining", 3e6, None)]
    assert result.repairs.height == 1
