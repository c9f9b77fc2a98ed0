"""Every knob in one table (``resilience.specs.KNOB_TABLE``): what derives from it agrees."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from resilience.scenarios import SpecError, load_catalogue
from resilience.specs import DISRUPTION_NUMBERS, KNOB_TABLE, KNOBS, Policy
from resilience.sweeps.knobs import DISRUPTION_KNOBS, parse_overrides


def test_policy_fields_are_the_policy_knobs_with_the_table_defaults() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(Policy)}
    table = {k.name: k.default for k in KNOB_TABLE if k.scope == "policy"}
    assert fields == table
    assert list(KNOBS) == list(table)
    assert Policy().spare_capacity == 0.10  # the table's default, read through Policy


def test_each_knob_is_named_once_and_scoped() -> None:
    names = [k.name for k in KNOB_TABLE]
    assert len(names) == len(set(names))
    assert {k.scope for k in KNOB_TABLE} == {"policy", "disruption"}
    assert [k.name for k in DISRUPTION_NUMBERS] == ["probability", "availability", "duration_days"]
    # a sweep varies the sweepable disruption numbers only (the window length is a policy knob)
    assert set(DISRUPTION_KNOBS) == {"probability", "availability"}


def test_the_table_wording_is_what_a_bad_value_reports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match=r"share of deliveries that still arrive"):
        parse_overrides({"availability": 1.5}, source="test", key="point")
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(
        "scenarios:\n"
        "  cut:\n"
        "    description: a cut\n"
        "    disruptions:\n"
        "      - suppliers: [CHN]\n"
        "        availability: 0.5\n"
    )
    with pytest.raises(SpecError) as err:
        load_catalogue(bad)
    text = str(err.value)
    assert "scenarios.cut.disruptions[0].probability" in text
    assert "required key missing" in text
    assert "(0, 1] (probability of each event in a year)" in text


def test_a_swept_year_stays_a_whole_number_column() -> None:
    from resilience.sweeps.knobs import grid_points, points_frame

    grid = {"capacity_map_year": [None, 2032], "spare_capacity": [0.1]}
    knobs, points = grid_points(grid, source="t")
    frame = points_frame(knobs, points)
    assert frame.schema["capacity_map_year"] == pl.Int64  # printed 2032, not 2,032
    assert frame["capacity_map_year"].to_list() == [None, 2032]
    assert frame.schema["spare_capacity"] == pl.Float64
