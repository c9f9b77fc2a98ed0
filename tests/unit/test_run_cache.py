"""The calm reference shared between runs (:mod:`resilience.optimize.market.calm`).

A run that reuses the calm reference another run solved must answer exactly as a run
that solves its own: every table of the study result, bit for bit. A run whose market
differs (a market parameter overridden) must not reuse it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from resilience.optimize.families.common import FamilyContext, assemble
from resilience.optimize.market.calm import (
    calm_cache_info,
    calm_reference,
    clear_calm_cache,
)
from resilience.optimize.market.from_data import StudyMarketSettings
from resilience.optimize.market.inputs import MarketSettings
from resilience.scenarios import StudySpec, load_study
from resilience.study import StudyResult, run_study

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
#: Coarse blocks: a second or two per solve.
COARSE = StudyMarketSettings(
    market=MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2)
)
SCENARIO = "china_graphite_controls"


@pytest.fixture(scope="module")
def small() -> StudySpec:
    """The G7 minerals study on graphite alone."""
    return dataclasses.replace(load_study(G7), commodities=(("graphite", "mining"),))


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    clear_calm_cache()
    yield
    clear_calm_cache()


def _tables(result: StudyResult) -> dict[str, pl.DataFrame]:
    return dict(result.tables)


def test_a_run_reusing_the_calm_reference_answers_bit_for_bit(small: StudySpec) -> None:
    base = run_study(small, None, settings=COARSE)
    assert calm_cache_info().misses == 1
    shared = run_study(small, SCENARIO, settings=COARSE)
    info = calm_cache_info()
    assert (info.hits, info.misses) == (1, 1)  # the scenario reused the base run's reference
    clear_calm_cache()
    alone = run_study(small, SCENARIO, settings=COARSE)
    assert calm_cache_info().misses == 1
    assert base.totals["worst_welfare_loss_usd"][0] != shared.totals["worst_welfare_loss_usd"][0]
    assert shared.totals["worst_welfare_loss_usd"][0] > 0
    left, right = _tables(shared), _tables(alone)
    assert left.keys() == right.keys()
    for name in left:
        assert left[name].equals(right[name], null_equal=True), name


def test_a_different_market_gets_its_own_calm_reference(small: StudySpec) -> None:
    ms = COARSE.market_settings()
    comp = small.compose(SCENARIO)
    ctx = FamilyContext(small, comp, SCENARIO, COARSE)
    market = assemble(ctx)
    first = calm_reference(market.inputs, ms)
    assert calm_reference(market.inputs, ms) is first
    dearer = market.inputs.with_changes(
        parameters=market.inputs.parameters.drop("good").with_columns(
            pl.col("friction_share") * 2.0 + 0.05
        )
    )
    other = calm_reference(dearer, ms)
    assert other is not first
    info = calm_cache_info()
    assert (info.hits, info.misses, info.entries) == (1, 2, 2)
    coarser = dataclasses.replace(ms, demand_blocks=ms.demand_blocks + 1)
    assert calm_reference(market.inputs, coarser) is not first
    assert calm_cache_info().entries == 2  # the oldest reference made room
