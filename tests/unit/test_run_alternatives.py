"""A run composing several alternatives of one group counts the group's probability once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.scenarios import load_catalogue
from resilience.specs import (
    CountrySet,
    DisruptionSpec,
    ScenarioSpec,
    SpecError,
    StudySpec,
    weigh_alternatives,
    weighed,
)
from resilience.study import StudyResult, run_study

#: Coarse blocks, as in the ranking tests.
SMALL = StudyMarketSettings(
    market=MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2),
)
#: The group's annual probability and the views' weights (exact binary fractions).
P_GROUP = 0.1
WEIGHTS = {"short": 0.25, "long": 0.75}


def _catalogue(path: Path, days: dict[str, int], weights: dict[str, str]) -> Path:
    """China's natural graphite at 30 % for ``days[name]``, alternatives of one group."""
    text = "scenarios:\n"
    for name, d in days.items():
        text += (
            f"  {name}:\n    description: China's natural graphite at 30 % for {d} days\n"
            "    disruptions:\n      - suppliers: [CHN]\n        commodities: [graphite/mining]\n"
            f"        availability: 0.3\n        probability: {P_GROUP}\n"
            f"        duration_days: {d}\n"
            f"    alternative_of: graphite_stop\n    weight: {weights[name]}\n"
        )
    path.write_text(text)
    return path


def _study(catalogue: Path) -> StudySpec:
    """The US and graphite; no stock built before the crisis (as in the ranking), so the
    scenarios of one run do not share a first-stage decision."""
    return StudySpec(
        path=catalogue,
        name="alternatives",
        description="two views of one graphite cut",
        year=2023,
        members=CountrySet(countries=("USA",)),
        allies=CountrySet(countries=("USA",)),
        commodities=(("graphite", "mining"),),
        model="stress",
        catalogue=load_catalogue(catalogue),
        policy={"max_stock_days": 0.0},
    )


def _losses(result: StudyResult) -> pl.DataFrame:
    """``scenario, probability, welfare_loss_usd`` of the members (summed)."""
    return result.members.group_by("scenario", "probability").agg(pl.col("welfare_loss_usd").sum())


def _expected_over_events(losses: pl.DataFrame) -> float:
    """Probability-weighted loss over the disrupted scenarios (``calm`` left out: its loss
    against the calm reference is solver noise, tens of USD, in every run)."""
    events = losses.filter(pl.col("scenario") != "calm")
    return float((events["welfare_loss_usd"] * events["probability"]).sum())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    path = _catalogue(
        tmp_path_factory.mktemp("alt") / "cat.yaml",
        {"short": 45, "long": 90},
        {"short": "1/4", "long": "0.75"},
    )
    study = _study(path)
    return {
        expr: _losses(run_study(study, expr, settings=SMALL))
        for expr in ("short", "long", "short+long")
    }


def test_composed_alternatives_get_the_group_probability_times_their_weight(runs):
    both = dict(runs["short+long"].select("scenario", "probability").iter_rows())
    assert both == pytest.approx(
        {"short": P_GROUP * 0.25, "long": P_GROUP * 0.75, "calm": 1 - P_GROUP}
    )
    # a view run alone keeps the group's probability (the event, if it comes that way)
    alone = dict(runs["short"].select("scenario", "probability").iter_rows())
    assert alone == pytest.approx({"short": P_GROUP, "calm": 1 - P_GROUP})


def test_expected_loss_of_the_composed_run_is_the_weighted_sum_of_the_single_runs(runs):
    def disrupted(name: str) -> float:
        frame = runs[name].filter(pl.col("scenario") == name)
        return float(frame["welfare_loss_usd"][0])

    short, long_ = disrupted("short"), disrupted("long")
    assert 0 < short < long_  # the longer cut is the worse view: the test can tell them apart
    want = P_GROUP * (WEIGHTS["short"] * short + WEIGHTS["long"] * long_)
    got = _expected_over_events(runs["short+long"])
    assert got == pytest.approx(want, rel=1e-6)
    calm = runs["short+long"].filter(pl.col("scenario") == "calm")["welfare_loss_usd"]
    assert abs(float(calm[0])) < 1e-3 * got
    # the old count (each view with the group's full probability) is far off
    assert abs(P_GROUP * (short + long_) - got) > 0.2 * got


def _view(name: str, weight: float, group: str = "g") -> ScenarioSpec:
    return ScenarioSpec(
        name=name,
        description=name,
        disruptions=(DisruptionSpec(suppliers=CountrySet(countries=("CHN",)), probability=0.2),),
        alternative_of=group,
        weight=weight,
    )


def test_weights_of_a_group_above_one_within_a_run_name_the_scenarios_and_weights():
    with pytest.raises(SpecError) as exc:
        weigh_alternatives([_view("a", 0.6), _view("b", 0.7)], file="cat.yaml", expression="a+b")
    text = str(exc.value)
    assert "cat.yaml" in text
    assert "a (weight 0.6), b (weight 0.7)" in text
    assert "summing to 1.3" in text


def test_a_view_of_weight_zero_is_not_composed_with_its_group():
    with pytest.raises(SpecError, match="a has weight 0 in g"):
        weigh_alternatives([_view("a", 0.0), _view("b", 1.0)], file="cat.yaml", expression="a+b")


def test_views_of_different_groups_and_lone_views_are_not_weighed():
    specs = [_view("a", 0.5, "g"), _view("b", 0.5, "h"), _view("c", 0.5, "h")]
    out = {
        s.name: s.disruptions[0].probability
        for s in weigh_alternatives(specs, file="f", expression="x")
    }
    assert out == pytest.approx({"a": 0.2, "b": 0.1, "c": 0.1})


def test_a_weighed_view_stands_alone_so_it_is_never_weighed_twice():
    once = weighed(_view("a", 0.5))
    assert once.disruptions[0].probability == pytest.approx(0.1)
    assert (once.alternative_of, once.weight) == (None, None)
    assert weighed(once).disruptions[0].probability == pytest.approx(0.1)
