"""New arcs only from producers that matter: the answer does not move.

``StudyMarketSettings.new_arc_min_output_share`` (default 1 %) drops the new arcs whose
origin holds a sliver of world output of the good (a node kept for another good). The
members' welfare losses and highest price rises under a disruption are compared with
and without the pruning (every producer opening an arc to every consumer).
Tolerance: a member's loss moves by less than 2 % or USD 0.1 m, whichever is larger; its
highest price rise by less than one percentage point.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from resilience.optimize.market.from_data import StudyMarketSettings, study_market
from resilience.optimize.market.inputs import MarketSettings
from resilience.scenarios import load_study
from resilience.study import run_study

REPO = Path(__file__).resolve().parents[2]
BLOCKS = MarketSettings(demand_blocks=6, demand_blocks_above=2, supply_blocks=2, spare_blocks=2)

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_a_bad_share_is_refused() -> None:
    with pytest.raises(ValueError, match="new_arc_min_output_share"):
        StudyMarketSettings(new_arc_min_output_share=1.5)


def test_pruned_new_arcs_leave_the_members_answer_in_place(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "pruning",
                "year": 2023,
                "members": "G7",
                "allies": "G7",
                "commodities": ["graphite/mining", "cobalt/refining"],
                "model": "stress",
                "catalogue": str(REPO / "models" / "scenarios.yaml"),
            }
        )
    )
    study = load_study(path)
    every = StudyMarketSettings(new_arc_min_output_share=0.0, market=BLOCKS)
    pruned = StudyMarketSettings(market=BLOCKS)
    full = study_market(study, "china_graphite_controls", every).inputs.arcs
    cut = study_market(study, "china_graphite_controls", pruned).inputs.arcs
    new = pl.col("flow0_units_per_month") == 0
    assert cut.filter(new).height < 0.8 * full.filter(new).height  # a real cut
    assert cut.filter(~new).height == full.filter(~new).height  # observed arcs all stay

    answers = {}
    for label, settings in (("every", every), ("pruned", pruned)):
        r = run_study(study, "china_graphite_controls", settings=settings)
        loss = r.members.filter(pl.col("scenario") == "china_graphite_controls")
        answers[label] = (
            dict(loss.select("member", "welfare_loss_usd").iter_rows()),
            dict(
                r.summary.group_by("member_iso3")
                .agg(pl.col("price_rise_max_pct").max())
                .iter_rows()
            ),
        )
    (loss_a, rise_a), (loss_b, rise_b) = answers["every"], answers["pruned"]
    assert loss_a.keys() == loss_b.keys()
    assert max(loss_a.values()) > 1e6  # the controls cost somebody over USD 1 m
    for member in loss_a:
        tol = max(0.02 * abs(loss_a[member]), 1e5)
        assert loss_b[member] == pytest.approx(loss_a[member], abs=tol), member
        assert rise_b[member] == pytest.approx(rise_a[member], abs=1.0), member
