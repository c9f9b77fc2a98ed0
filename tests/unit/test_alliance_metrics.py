"""Alliance exposure and coercion on tiny worlds worked out by hand, plus properties."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.metrics.alliance import alliance_exposure, coercion_exposure


def _dependency(stage_rows):
    """stage_rows: list of (stage, supplier, share, alignment_distance)."""
    return pl.DataFrame(
        [(2023, "USA", "cobalt", st_, sup, sh, dist) for st_, sup, sh, dist in stage_rows],
        schema=[
            "year",
            "importer_iso3",
            "commodity",
            "stage",
            "supplier_iso3",
            "supply_share",
            "alignment_distance",
        ],
        orient="row",
    ).with_columns(pl.col("year").cast(pl.Int32))


def _world(rows):
    return pl.DataFrame(
        [(2023, "cobalt", st_, c, w) for st_, c, w in rows],
        schema=["year", "commodity", "stage", "country_iso3", "world_share"],
        orient="row",
    ).with_columns(pl.col("year").cast(pl.Int32))


DEP = _dependency(
    [
        ("refining", "FIN", 0.20, 1.0),
        ("refining", "CHN", 0.70, 3.0),
        ("refining", "ROW", 0.10, None),
        ("mining", "COD", 0.60, 2.0),
        ("mining", "AUS", 0.40, 0.5),
    ]
)


def test_non_allied_share_largest_supplier_and_crma_flag():
    out = alliance_exposure(DEP, allies={"FIN", "AUS", "USA"}).collect().sort("stage")
    mining, refining = out.row(0, named=True), out.row(1, named=True)
    # refining: CHN 0.70 + ROW 0.10 (unnamed producers count as non-allied)
    assert refining["non_allied_share"] == pytest.approx(0.80)
    assert refining["max_non_allied_supplier_iso3"] == "CHN"
    assert refining["max_non_allied_share"] == pytest.approx(0.70)
    assert refining["crma_65_breach"] is True
    # share-weighted distance over suppliers with an ideal point: (0.2*1 + 0.7*3) / 0.9
    assert refining["alignment_distance"] == pytest.approx(2.3 / 0.9)
    assert mining["non_allied_share"] == pytest.approx(0.60)
    assert mining["crma_65_breach"] is False


def test_coercion_direct_through_later_stage_and_replaced_by_allied_spare():
    world = _world(
        [
            ("mining", "COD", 0.70),
            ("mining", "CHN", 0.05),
            ("mining", "AUS", 0.25),
            ("refining", "CHN", 0.75),
            ("refining", "FIN", 0.15),
            ("refining", "ROW", 0.10),
        ]
    )
    out = coercion_exposure(
        DEP, world, adversary={"CHN"}, allies={"FIN", "AUS"}, spare_capacity_frac=0.1
    )
    out = out.collect().sort("stage")
    mining, refining = out.row(0, named=True), out.row(1, named=True)
    # refining: direct 0.70; allied spare 0.1*0.15 = 0.015 replaces 0.015/0.75 = 2 % of it
    assert refining["coercion_direct_share"] == pytest.approx(0.70)
    assert refining["coercion_controlled_share"] == pytest.approx(0.70)
    assert refining["coercion_exposure"] == pytest.approx(0.70 * (1 - 0.02))
    # mining: no direct Chinese share, but China refines 75 % of the world's cobalt:
    # controlled = 1 - (1 - 0)(1 - 0.75) = 0.75; exposure = 1 - (1 - 0)(1 - 0.75*0.98)
    assert mining["coercion_direct_share"] == pytest.approx(0.0)
    assert mining["coercion_controlled_share"] == pytest.approx(0.75)
    assert mining["coercion_exposure"] == pytest.approx(0.75 * 0.98)
    assert mining["coercion_replaceable_share"] == pytest.approx(0.75 * 0.02)


def test_enough_allied_spare_replaces_everything():
    world = _world([("refining", "CHN", 0.05), ("refining", "FIN", 0.95)])
    dep = _dependency([("refining", "CHN", 0.5, 1.0), ("refining", "FIN", 0.5, 1.0)])
    out = coercion_exposure(dep, world, {"CHN"}, {"FIN"}, spare_capacity_frac=0.1).collect()
    assert out["coercion_controlled_share"].item() == pytest.approx(0.5)
    assert out["coercion_exposure"].item() == pytest.approx(0.0)


def test_spare_fraction_out_of_range_is_rejected():
    with pytest.raises(ValueError, match=r"spare_capacity_frac must lie in \[0, 1\], got 1.5"):
        coercion_exposure(DEP, _world([]), {"CHN"}, {"FIN"}, spare_capacity_frac=1.5)


COUNTRIES = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=6, max_size=6),
    bloc=st.sets(st.sampled_from(COUNTRIES)),
    extra=st.sampled_from(COUNTRIES),
)
def test_adding_a_country_to_the_bloc_never_raises_the_non_allied_share(weights, bloc, extra):
    total = sum(weights)
    dep = _dependency(
        [("refining", c, w / total, 1.0) for c, w in zip(COUNTRIES, weights, strict=True)]
    )
    before = alliance_exposure(dep, bloc).collect()["non_allied_share"].item()
    after = alliance_exposure(dep, bloc | {extra}).collect()["non_allied_share"].item()
    assert after <= before + 1e-12
    assert 0.0 <= after <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=6, max_size=6),
    world_weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=6, max_size=6),
    adversary=st.sets(st.sampled_from(COUNTRIES), min_size=1),
    spare=st.floats(min_value=0.0, max_value=1.0),
)
def test_coercion_exposure_is_bounded_by_what_the_adversary_controls(
    weights, world_weights, adversary, spare
):
    total, wtotal = sum(weights), sum(world_weights)
    dep = _dependency(
        [("mining", c, w / total, 1.0) for c, w in zip(COUNTRIES, weights, strict=True)]
    )
    world = _world(
        [
            (s, c, w / wtotal)
            for s in ("mining", "refining")
            for c, w in zip(COUNTRIES, world_weights, strict=True)
        ]
    )
    allies = set(COUNTRIES) - adversary
    out = coercion_exposure(dep, world, adversary, allies, spare).collect().row(0, named=True)
    assert -1e-12 <= out["coercion_exposure"] <= out["coercion_controlled_share"] + 1e-12
    assert out["coercion_controlled_share"] <= 1.0 + 1e-12
    assert out["coercion_direct_share"] <= out["coercion_controlled_share"] + 1e-12
