"""Bad market data is rejected with table, row, column and value named."""

from __future__ import annotations

import polars as pl
import pytest

from resilience.errors import DataError
from resilience.optimize.market import MarketSettings
from resilience.optimize.market.testing import GOOD, cut, parameters, world

ARCS = {("S", "M", GOOD): 100.0}


def problems(excinfo: pytest.ExceptionInfo[DataError]) -> list[tuple[str, int | None, str, object]]:
    return [(p.file, p.row, p.column, p.value) for p in excinfo.value.problems]


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("supply_elasticity", -0.3, "supply elasticity must be > 0"),
        ("demand_elasticity", 0.4, "demand elasticity must be < 0"),
        ("voll_multiple", 0.5, "at least the reference price"),
        ("ramp_share_per_month", 1.5, "[0, 1]"),
        ("essential_share", 1.0, "[0, 1)"),
        ("friction_share", -0.1, ">= 0"),
        ("p0_usd_per_unit", float("nan"), "> 0"),
    ],
)
def test_a_bad_parameter_names_table_row_column_and_value(
    column: str, value: float, words: str
) -> None:
    params = parameters({"other/mining": {}, GOOD: {column: value}})
    with pytest.raises(DataError) as info:
        world({("M", GOOD): 100.0}, {("S", GOOD): 100.0}, ARCS, params=params)
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.column) == ("parameters", 3, column)
    assert problem.value == value or (value != value and problem.value != problem.value)
    assert words in str(info.value)
    assert "row 3" in str(info.value)


def test_parameter_table_must_have_exactly_the_documented_columns() -> None:
    params = parameters().drop("friction_share").with_columns(pl.lit(1).alias("tau"))
    with pytest.raises(DataError) as info:
        world({("M", GOOD): 100.0}, {("S", GOOD): 100.0}, ARCS, params=params)
    cols = {p.column for p in info.value.problems}
    assert cols == {"friction_share", "tau"}


def test_demand_for_an_unknown_good_and_an_arc_to_an_unknown_node() -> None:
    w = world({("M", GOOD): 100.0}, {("S", GOOD): 100.0}, ARCS)
    bad_demand = pl.concat(
        [
            w.demand,
            pl.DataFrame({"node": ["M"], "good": ["tin/refining"], "q0_units_per_month": [5.0]}),
        ]
    )
    with pytest.raises(DataError) as info:
        w.with_changes(demand=bad_demand)
    assert problems(info) == [("demand", 3, "good", "tin/refining")]
    bad_arcs = pl.concat(
        [
            w.arcs,
            pl.DataFrame(
                {
                    "origin": ["S"],
                    "destination": ["XYZ"],
                    "good": [GOOD],
                    "flow0_units_per_month": [1.0],
                    "kind": ["trade"],
                    "capacity_units_per_month": [None],
                    "ramp_base_units_per_month": [None],
                },
                schema=w.arcs.schema,
            ),
        ]
    )
    with pytest.raises(DataError) as info:
        w.with_changes(arcs=bad_arcs, sources={"arcs": "arcs.csv"})
    assert ("arcs.csv", 3, "destination", "XYZ") in problems(info)
    assert "arcs.csv, row 3, column 'destination'" in str(info.value)


def test_availability_stocks_scenarios_and_fixed_links_are_checked() -> None:
    with pytest.raises(DataError) as info:
        world(
            {("M", GOOD): 100.0},
            {("S", GOOD): 100.0},
            ARCS,
            availability=[
                *cut("S", 1.2, [1]),
                *cut("S", 0.5, [3]),
                *cut("S", 0.0, [1], destination="N"),
            ],
        )
    got = problems(info)
    assert ("availability", 2, "availability", 1.2) in got
    assert ("availability", 3, "month", 3) in got
    assert ("availability", 4, "destination", "N") in got
    with pytest.raises(DataError) as info:
        world(
            {("M", GOOD): 100.0},
            {("S", GOOD): 100.0},
            ARCS,
            stocks={("M", GOOD): (200.0, 100.0, 10.0)},
        )
    assert problems(info) == [("stocks", 2, "initial_units", 200.0)]
    with pytest.raises(DataError) as info:
        world({("M", GOOD): 100.0}, {("S", GOOD): 100.0}, ARCS, scenarios={"a": 0.5, "b": 0.4})
    assert problems(info) == [("scenarios", None, "probability", 0.9)]
    with pytest.raises(DataError) as info:
        world({("M", GOOD): 100.0}, {("S", GOOD): 100.0}, fixed={("S", "M", GOOD): (100.0, 80.0)})
    assert problems(info) == [("arcs", 2, "capacity_units_per_month", 80.0)]


def test_a_new_arc_without_a_ramp_base_and_a_process_without_inputs() -> None:
    with pytest.raises(DataError) as info:
        world({("M", GOOD): 100.0}, {("S", GOOD): 100.0}, {**ARCS, ("M", "S", GOOD): 0.0})
    assert problems(info) == [("arcs", 3, "ramp_base_units_per_month", None)]
    with pytest.raises(DataError) as info:
        world(
            {("M", GOOD): 100.0},
            {("S", GOOD): 100.0},
            ARCS,
            processes={("M", "p"): (GOOD, 10.0, {})},
        )
    assert problems(info) == [("processes", 2, "process", "p")]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="demand_blocks"):
        MarketSettings(demand_blocks=0)
    with pytest.raises(ValueError, match="calibration_band"):
        MarketSettings(calibration_band=1.5)
