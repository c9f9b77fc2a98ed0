"""Diversify LP on tiny worlds worked out by hand, and its monotonicity properties."""

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from resilience.errors import DataError
from resilience.optimize.diversify import DiversifyPolicy, run_diversify
from resilience.optimize.inputs import ModelData, apply_overrides
from resilience.optimize.solve import InfeasibleModelError

C = ("cobalt", "refining")


def world(demand: dict[str, float], suppliers: dict[str, tuple[float, float, bool]]) -> ModelData:
    """suppliers: iso3 -> (unit cost USD/t, capacity t, is ally)."""
    members = tuple(sorted(demand))
    demand_frame = pl.DataFrame(
        {
            "member_iso3": list(demand),
            "commodity": C[0],
            "stage": C[1],
            "demand_t": list(demand.values()),
        }
    )
    capacity = pl.DataFrame(
        {
            "supplier_iso3": list(suppliers),
            "commodity": C[0],
            "stage": C[1],
            "capacity_t": [v[1] for v in suppliers.values()],
            "observed_exports_t": [v[1] for v in suppliers.values()],
        }
    )
    arcs = pl.DataFrame(
        [
            (m, s, C[0], C[1], cost, 0.0, ally)
            for m in members
            for s, (cost, _, ally) in suppliers.items()
            if s != m
        ],
        schema=[
            "member_iso3",
            "supplier_iso3",
            "commodity",
            "stage",
            "unit_cost_usd_per_t",
            "observed_t",
            "is_ally",
        ],
        orient="row",
    )
    return ModelData(year=2023, members=members, demand=demand_frame, capacity=capacity, arcs=arcs)


SUPPLIERS = {"CHN": (10.0, 1000.0, False), "FIN": (12.0, 60.0, True), "JPN": (15.0, 100.0, True)}


def test_friend_shoring_plan_cost_premium_and_duals_by_hand():
    # USA needs 100 t. Cost only: all from CHN at 10 -> 1000.
    # Policy: <= 30 % non-allied -> CHN 30 (300); FIN fills to its capacity 60 (720);
    # JPN the remaining 10 (150): 1170, premium 170.
    result = run_diversify(world({"USA": 100.0}, SUPPLIERS), DiversifyPolicy(0.3, 0.65))
    plan = dict(zip(result.plan["supplier_iso3"], result.plan["quantity_t"], strict=True))
    assert plan == pytest.approx({"CHN": 30.0, "FIN": 60.0, "JPN": 10.0})
    assert result.objective_usd == pytest.approx(1170.0)
    assert result.cost_only_usd == pytest.approx(1000.0)
    assert result.premium_usd == pytest.approx(170.0)
    # One more tonne of FIN capacity replaces a JPN tonne: saves 15 - 12 = 3 USD.
    values = dict(
        zip(
            result.capacity_value["supplier_iso3"],
            result.capacity_value["marginal_value_usd_per_t"],
            strict=True,
        )
    )
    assert values == pytest.approx({"CHN": 0.0, "FIN": 3.0, "JPN": 0.0})
    summary = result.summary.row(0, named=True)
    assert summary["non_allied_share"] == pytest.approx(0.30)
    assert summary["max_single_share"] == pytest.approx(0.60)
    assert summary["hhi"] == pytest.approx(0.3**2 + 0.6**2 + 0.1**2)


def test_single_supplier_cap_alone():
    # beta = 0.65, no friend-shoring: CHN 65 (650) + FIN 35 (420) = 1070
    result = run_diversify(world({"USA": 100.0}, SUPPLIERS), DiversifyPolicy(1.0, 0.65))
    assert result.objective_usd == pytest.approx(1070.0)
    assert result.summary["max_single_share"].item() == pytest.approx(0.65)


def test_capacity_is_shared_between_members():
    # USA 100 and DEU 50, <= 30 % non-allied: CHN 30 + 15 = 45 (450); FIN's 60 t go to
    # either (720); JPN covers the other 45 (675): 1845.
    result = run_diversify(
        world({"USA": 100.0, "DEU": 50.0}, SUPPLIERS), DiversifyPolicy(0.3, 0.65)
    )
    assert result.objective_usd == pytest.approx(1845.0)
    by_supplier = result.plan.group_by("supplier_iso3").agg(pl.col("quantity_t").sum())
    totals = dict(by_supplier.iter_rows())
    assert totals == pytest.approx({"CHN": 45.0, "FIN": 60.0, "JPN": 45.0})


def test_infeasible_policy_is_explained_in_the_users_words():
    # Allied capacity 60 + 5 = 65 t cannot cover the 70 t the policy requires.
    data = apply_overrides(
        world({"USA": 100.0}, SUPPLIERS),
        capacity=pl.DataFrame(
            {"supplier_iso3": ["JPN"], "commodity": [C[0]], "stage": [C[1]], "capacity_t": [5.0]}
        ),
    )
    with pytest.raises(InfeasibleModelError) as info:
        run_diversify(data, DiversifyPolicy(0.3, 1.0))
    sentences = set(info.value.explanation.sentences)
    assert sentences == {
        "member USA needs 100 t of cobalt (refining)",
        "FIN can supply the members at most 60 t of cobalt (refining)",
        "JPN can supply the members at most 5 t of cobalt (refining)",
        "policy: at most 30% of USA's cobalt (refining) may come from outside the alliance",
    }


def test_override_with_unknown_key_is_rejected():
    with pytest.raises(
        DataError, match=r"capacity override, row 2, column 'supplier_iso3, commodity, stage'"
    ):
        apply_overrides(
            world({"USA": 100.0}, SUPPLIERS),
            capacity=pl.DataFrame(
                {
                    "supplier_iso3": ["XXX"],
                    "commodity": [C[0]],
                    "stage": [C[1]],
                    "capacity_t": [5.0],
                }
            ),
        )


def test_policy_out_of_range_is_rejected():
    with pytest.raises(ValueError, match=r"max_non_allied_share must lie in \[0, 1\], got 1.2"):
        DiversifyPolicy(1.2, 0.65)


supplier = st.tuples(st.floats(1.0, 100.0), st.floats(10.0, 200.0), st.booleans())


@settings(max_examples=40, deadline=None)
@given(
    suppliers=st.lists(supplier, min_size=3, max_size=5),
    alpha=st.floats(0.0, 1.0),
    beta=st.floats(0.3, 1.0),
    d_alpha=st.floats(0.0, 0.5),
    d_beta=st.floats(0.0, 0.5),
)
def test_loosening_alpha_or_beta_never_raises_cost(suppliers, alpha, beta, d_alpha, d_beta):
    names = ["AAA", "BBB", "CCC", "DDD", "EEE"][: len(suppliers)]
    data = world({"USA": 100.0}, dict(zip(names, suppliers, strict=True)))
    try:
        tight = run_diversify(data, DiversifyPolicy(alpha, beta)).objective_usd
    except InfeasibleModelError:
        assume(False)
    looser_alpha = run_diversify(
        data, DiversifyPolicy(min(1.0, alpha + d_alpha), beta)
    ).objective_usd
    looser_beta = run_diversify(data, DiversifyPolicy(alpha, min(1.0, beta + d_beta))).objective_usd
    assert looser_alpha <= tight * (1 + 1e-9) + 1e-9
    assert looser_beta <= tight * (1 + 1e-9) + 1e-9
