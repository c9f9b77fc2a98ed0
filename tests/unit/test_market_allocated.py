"""Goods without bilateral trade: the world-balance table and the allocation of arcs."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.errors import DataError
from resilience.optimize.market.allocated import ALLOCATED_BASES, allocate, world_balance
from resilience.optimize.market.from_data import QUANTITY_BASES
from resilience.reference.market_balances import load_market_balances

G = "wafer_fab_leading_edge/manufacturing"
HEADER = [
    "commodity",
    "stage",
    "year",
    "role",
    "country_iso3",
    "share_pct",
    "world_units_per_year",
    "unit",
    "basis",
    "is_projection",
    "derivation",
    "source",
    "vintage",
    "url",
    "quote",
    "note",
]


def _frame(values: dict[str, float], good: str = G) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "country_iso3": list(values),
            "good": [good] * len(values),
            "units_per_year": list(values.values()),
        }
    )


def _flows(frame: pl.DataFrame) -> dict[tuple[str, str], float]:
    return {
        (e, i): q
        for e, i, q in frame.select(
            "exporter_iso3", "importer_iso3", "quantity_units_per_year"
        ).iter_rows()
    }


def _apparent(supply: dict[str, float], flows: dict[tuple[str, str], float]) -> dict[str, float]:
    out = dict.fromkeys({*supply, *(j for _, j in flows), *(i for i, _ in flows)}, 0.0)
    for c, q in supply.items():
        out[c] += q
    for (i, j), q in flows.items():
        out[i] -= q
        out[j] += q
    return out


def test_proportional_allocation_by_hand():
    # W = 100: A makes 60, B 40; A consumes 20, B 30, C 50. f_ij = S_i D_j / W, i != j.
    supply, demand = {"AAA": 60.0, "BBB": 40.0}, {"AAA": 20.0, "BBB": 30.0, "CCC": 50.0}
    out = allocate(_frame(supply), _frame(demand))
    flows = _flows(out)
    assert flows == pytest.approx(
        {("AAA", "BBB"): 18.0, ("AAA", "CCC"): 30.0, ("BBB", "AAA"): 8.0, ("BBB", "CCC"): 20.0}
    )
    assert set(out["quantity_basis"]) == {"proportional_allocation"}
    assert _apparent(supply, flows) == pytest.approx(demand)


def test_observed_exporter_first_then_the_rest_in_proportion():
    # AAA serves its own 20 first and exports 40 by its observed destination shares:
    # BBB 0.25 -> 10, CCC 0.5 -> 20, ZZZ (no demand row: the rest of the world) 0.25 -> 10.
    # What is left: BBB 20, CCC 20, ROW 0; BBB's 40 goes half to itself, half to CCC.
    supply = {"AAA": 60.0, "BBB": 40.0}
    demand = {"AAA": 20.0, "BBB": 30.0, "CCC": 40.0, "ROW": 10.0}
    observed = pl.DataFrame(
        {
            "exporter_iso3": ["AAA"] * 3,
            "importer_iso3": ["BBB", "CCC", "ZZZ"],
            "good": [G] * 3,
            "weight": [0.25, 0.5, 0.25],
        }
    )
    out = allocate(_frame(supply), _frame(demand), observed)
    flows = _flows(out)
    assert flows == pytest.approx(
        {("AAA", "BBB"): 10.0, ("AAA", "CCC"): 20.0, ("AAA", "ROW"): 10.0, ("BBB", "CCC"): 20.0}
    )
    bases = {
        (e, i): b
        for e, i, b in out.select(pl.exclude("good", "quantity_units_per_year")).iter_rows()
    }
    assert bases[("AAA", "BBB")] == "observed_destination_shares"
    assert bases[("BBB", "CCC")] == "proportional_allocation"
    assert _apparent(supply, flows) == pytest.approx(demand)


def test_an_observed_share_above_demand_is_capped_and_the_excess_follows_the_others():
    # AAA exports 60 (no own demand): by its observed shares BBB would get 30, CCC 30;
    # CCC wants only 20, so CCC gets 20 and BBB the other 40 (BBB wants 50).
    supply, demand = {"AAA": 60.0, "DDD": 40.0}, {"BBB": 50.0, "CCC": 20.0, "ROW": 30.0}
    observed = pl.DataFrame(
        {
            "exporter_iso3": ["AAA", "AAA"],
            "importer_iso3": ["BBB", "CCC"],
            "good": [G, G],
            "weight": [0.5, 0.5],
        }
    )
    flows = _flows(allocate(_frame(supply), _frame(demand), observed))
    assert flows == pytest.approx(
        {("AAA", "BBB"): 40.0, ("AAA", "CCC"): 20.0, ("DDD", "BBB"): 10.0, ("DDD", "ROW"): 30.0}
    )
    assert _apparent(supply, flows) == pytest.approx({"AAA": 0.0, "DDD": 0.0, **demand})


def test_observed_exports_no_destination_can_take_are_an_error():
    supply, demand = {"AAA": 70.0, "BBB": 30.0}, {"AAA": 10.0, "BBB": 40.0, "CCC": 50.0}
    d = _frame(demand).with_columns(pl.Series("source_row", [7, 8, 9]))
    observed = pl.DataFrame(
        {"exporter_iso3": ["AAA"], "importer_iso3": ["CCC"], "good": [G], "weight": [1.0]}
    )
    with pytest.raises(DataError) as err:
        allocate(_frame(supply), d, observed)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "market_balances.csv",
        7,
        "share_pct",
        "AAA",
    )
    assert "exceed the demand of every destination" in problem.reason


@given(
    st.lists(st.floats(0.0, 50.0), min_size=3, max_size=3),
    st.lists(st.floats(0.1, 50.0), min_size=4, max_size=4),
    st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3),
)
def test_apparent_consumption_equals_demand(s_raw, d_raw, w_raw):
    s_raw = [*s_raw, 1.0]  # someone produces
    world = sum(s_raw)
    countries = ["AAA", "BBB", "CCC", "ROW"]
    supply = dict(zip(countries, s_raw, strict=True))
    demand = {c: world * d / sum(d_raw) for c, d in zip(countries, d_raw, strict=True)}
    weights = [w / sum(w_raw) for w in w_raw]
    observed = pl.DataFrame(
        {
            "exporter_iso3": ["AAA"] * 3,
            "importer_iso3": ["BBB", "CCC", "ROW"],
            "good": [G] * 3,
            "weight": weights,
        }
    )
    exports = max(supply["AAA"] - demand["AAA"], 0.0)
    if exports > demand["BBB"] + demand["CCC"] + demand["ROW"] + 1e-9:
        with pytest.raises(DataError):
            allocate(_frame(supply), _frame(demand), observed)
        return
    flows = _flows(allocate(_frame(supply), _frame(demand), observed))
    assert _apparent(supply, flows) == pytest.approx(demand, rel=1e-9, abs=1e-9)
    assert all(q > 0 for q in flows.values())


def test_same_flows_whatever_the_input_order():
    supply = {"AAA": 61.0, "BBB": 39.0, "CCC": 0.5}
    demand = {"AAA": 21.0, "BBB": 29.5, "CCC": 50.0}
    a = allocate(_frame(supply), _frame(demand))
    b = allocate(_frame(supply).reverse(), _frame(demand).reverse())
    assert a.equals(b)
    assert a["exporter_iso3"].to_list() == sorted(a["exporter_iso3"].to_list())


def test_the_new_bases_are_known_to_from_data():
    assert set(ALLOCATED_BASES) <= set(QUANTITY_BASES)


# ----------------------------------------------------------------------------- the table
def _row(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "commodity": "wafer_fab_leading_edge",
        "stage": "manufacturing",
        "year": 2022,
        "role": "supply",
        "country_iso3": "TWN",
        "share_pct": 60,
        "world_units_per_year": "",
        "unit": "",
        "basis": "capacity_by_location",
        "is_projection": "false",
        "derivation": "",
        "source": "Publisher",
        "vintage": "2024",
        "url": "https://example.org/a",
        "quote": "quoted text",
        "note": "",
    }
    base.update(kw)
    return base


def _good_rows() -> list[dict[str, object]]:
    return [
        _row(
            role="world",
            country_iso3="WLD",
            share_pct=100,
            world_units_per_year=1000,
            unit="USD m",
            basis="world_output_value",
        ),
        _row(country_iso3="TWN", share_pct=60),
        _row(country_iso3="KOR", share_pct=30),
        _row(country_iso3="ROW", share_pct=10),
        _row(role="demand", country_iso3="USA", share_pct=50, basis="consumption_by_region"),
        _row(role="demand", country_iso3="ROW", share_pct=50, basis="consumption_by_region"),
    ]


def _write(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "market_balances.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_good_table_loads_and_balances(tmp_path):
    table = load_market_balances(_write(tmp_path, _good_rows()))
    bal = world_balance([G], 2023, table)
    supply = dict(
        bal.filter(pl.col("role") == "supply").select("country_iso3", "units_per_year").iter_rows()
    )
    assert supply == pytest.approx({"KOR": 300.0, "ROW": 100.0, "TWN": 600.0})
    demand = bal.filter(pl.col("role") == "demand")["units_per_year"].sum()
    assert demand == pytest.approx(1000.0)


def test_a_year_before_every_row_is_an_error(tmp_path):
    table = load_market_balances(_write(tmp_path, _good_rows()))
    with pytest.raises(DataError) as err:
        world_balance([G], 2021, table)
    (problem,) = err.value.problems
    assert (problem.file, problem.column, problem.value) == ("market_balances.csv", "year", 2021)


@pytest.mark.parametrize(
    ("index", "change", "row", "column", "value"),
    [
        (2, {"share_pct": 35}, 3, "share_pct", 105.0),  # supply sums to 105
        (3, {"country_iso3": "JPN"}, 3, "country_iso3", None),  # no ROW row
        (2, {"country_iso3": "XXX"}, 4, "country_iso3", "XXX"),  # unknown country
        (1, {"commodity": "wafer_fab_bleeding_edge"}, 3, "commodity", "wafer_fab_bleeding_edge"),
        (1, {"stage": "mining"}, 3, "stage", "mining"),
        (0, {"unit": ""}, 2, "world_rows_carry_the_level", None),  # a world level without unit
        (1, {"share_pct": 160}, 3, "share_pct", "160"),  # above 100
        (1, {"is_projection": "maybe"}, 3, "is_projection", "maybe"),
        (4, {"url": "example.org"}, 6, "url", "example.org"),
    ],
)
def test_bad_rows_name_file_row_column_and_value(tmp_path, index, change, row, column, value):
    rows = _good_rows()
    rows[index] = {**rows[index], **change}
    with pytest.raises(DataError) as err:
        load_market_balances(_write(tmp_path, rows))
    hits = [p for p in err.value.problems if p.column == column]
    assert hits, err.value.problems
    assert hits[0].file == "market_balances.csv"
    assert hits[0].row == row
    if value is not None:
        assert hits[0].value == value
