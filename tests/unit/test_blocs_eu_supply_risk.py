"""EU27 supply risk on the shipped data against the published EU 2023 values.

The EU 2023 assessment (Grohol & Veeh 2023) averages 2016-2020; the shipped trade starts in
2018, so the EU27's SR per stage is averaged over 2018-2020 and compared with the
published stage SR (``datasets/eu_crm_2023_supply_risk.csv``).

**Tolerance: 0.5 SR points** (absolute), a sixth of the published range of the materials
compared (0.1-3.6) and five rounding steps of the published one-decimal values.

Materials the public inputs do not reproduce (listed in the data card too), and why:

- no global HHI (no world production by country for the stage in 2018-2020 in the shipped
  tables: refining stages of cobalt, copper, lithium, nickel, titanium; magnesium, silicon
  metal, the magnet rare earths (IEA data for 2023 only); beryllium, chromium, phosphate
  rock (a producer's figure withheld));
- gallium (+1.1) and germanium (+2.4): no gallium or germanium trade in the shipped extract,
  so the EU27 buys on the world market (IR 1, sourcing = world mix); JRC uses Comext HS8
  trade and its own EU production data (EU germanium IR 42 %);
- indium (+1.1), tellurium (+1.6), nickel ores (+1.0): by-product metals and ores whose
  HS6 lines mix grades (gross tonnes), which JRC resolves with HS8 lines and content data;
- tantalum (-0.75) and vanadium (-0.6, published on global supply only): the shipped
  HS6 lines cover only part of the traded forms.
"""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from resilience.build.pipeline import dependency_and_metrics, load_inputs
from resilience.metrics.supply_risk import bottleneck
from resilience.paths import datasets_dir

TOLERANCE_SR = 0.5

REPRODUCED = [
    ("aluminium", "refining"),
    ("antimony", "mining"),
    ("arsenic", "refining"),
    ("bauxite", "mining"),
    ("bismuth", "refining"),
    ("boron", "mining"),
    ("cadmium", "refining"),
    ("cobalt", "mining"),
    ("copper", "mining"),
    ("fluorspar", "mining"),
    ("graphite", "mining"),
    ("iron_ore", "mining"),
    ("lead", "mining"),
    ("lithium", "mining"),
    ("manganese", "mining"),
    ("molybdenum", "mining"),
    ("niobium", "mining"),
    ("potash", "mining"),
    ("selenium", "refining"),
    ("silver", "mining"),
    ("tin", "mining"),
    ("titanium", "mining"),
    ("tungsten", "mining"),
    ("zinc", "mining"),
    ("zirconium", "mining"),
]

NOT_REPRODUCED = {
    ("gallium", "refining"): "no Ga trade in the extract: world-market sourcing",
    ("germanium", "refining"): "no Ge trade in the extract: world-market sourcing",
    ("indium", "refining"): "HS6 gross tonnes; JRC uses HS8 and content",
    ("tellurium", "refining"): "HS6 gross tonnes; JRC uses HS8 and content",
    ("nickel", "mining"): "HS6 gross tonnes of ore; JRC uses content",
    ("tantalum", "mining"): "HS6 lines cover part of the traded forms",
    ("vanadium", "mining"): "HS6 lines cover part of the traded forms",
}


def _eu27_metrics(years: list[int]) -> pl.LazyFrame:
    """The EU27's metrics for ``years``, on the commodities the published table covers."""
    inputs = load_inputs(years=years, blocs=["EU27"])
    published = pl.read_csv(datasets_dir() / "eu_crm_2023_supply_risk.csv")
    covered = sorted(set(published["commodity"].to_list()))
    inputs = dataclasses.replace(
        inputs,
        bilateral=inputs.bilateral.filter(pl.col("commodity").is_in(covered)),
        commodities=inputs.commodities.filter(pl.col("commodity").is_in(covered)),
        importers=["EU27"],  # world-market rows for the bloc only; every flow stays
    )
    _, metrics = dependency_and_metrics(inputs)
    return metrics.filter(pl.col("importer_iso3") == "EU27")


@pytest.fixture(scope="module")
def eu27_vs_published() -> pl.DataFrame:
    metrics = _eu27_metrics([2018, 2019, 2020])
    ours = (
        metrics.group_by("commodity", "stage")
        .agg(
            pl.col("eu_supply_risk").mean().alias("sr"),
            pl.col("eu_supply_risk").count().alias("n_years"),
            pl.col("importer_is_bloc").all(),
        )
        .collect()
    )
    published = pl.read_csv(datasets_dir() / "eu_crm_2023_supply_risk.csv")
    return published.join(ours, on=["commodity", "stage"], how="left")


def test_eu27_supply_risk_within_tolerance_of_published(eu27_vs_published):
    rows = eu27_vs_published.filter(
        pl.struct("commodity", "stage").is_in(
            pl.DataFrame(REPRODUCED, schema=["commodity", "stage"], orient="row").to_struct()
        )
    )
    assert rows.height == len(REPRODUCED)
    assert rows["importer_is_bloc"].all()
    assert (rows["n_years"] == 3).all()
    off = rows.filter((pl.col("sr") - pl.col("supply_risk_published")).abs() > TOLERANCE_SR)
    assert off.height == 0, off.select("commodity", "stage", "sr", "supply_risk_published")


def test_materials_not_reproduced_are_the_listed_ones(eu27_vs_published):
    """Every published stage is either reproduced, listed with a reason, or not computable."""
    listed = set(REPRODUCED) | set(NOT_REPRODUCED)
    computable = eu27_vs_published.filter(pl.col("sr").is_not_null())
    unlisted = [
        (c, s)
        for c, s in computable.select("commodity", "stage").iter_rows()
        if (c, s) not in listed
    ]
    assert unlisted == []


def test_eu27_material_bottleneck_matches_published_where_every_stage_is_reproduced(
    eu27_vs_published,
):
    """The material's SR is the larger stage SR (JRC bottleneck), compared per material."""
    stage_of = {"extraction": "mining", "processing": "refining"}
    stages = eu27_vs_published.group_by("commodity").agg(
        pl.col("stage"),
        pl.col("bottleneck_stage_published").first(),
        pl.col("material_supply_risk_published").first(),
    )
    # every stage we have is reproduced, and the published bottleneck stage is one of them
    # (tin and tungsten: the EU's bottleneck is processing, a stage our table lacks)
    complete = [
        c
        for c, ours, neck in stages.select(
            "commodity", "stage", "bottleneck_stage_published"
        ).iter_rows()
        if all((c, s) in REPRODUCED for s in ours) and stage_of[neck] in ours
    ]
    assert len(complete) >= 18
    frame = eu27_vs_published.filter(pl.col("commodity").is_in(complete)).rename(
        {"sr": "eu_supply_risk"}
    )
    ours = bottleneck(frame, ["commodity"]).collect()
    compared = ours.join(
        stages.select("commodity", "material_supply_risk_published"), on="commodity"
    )
    off = compared.filter(
        (pl.col("eu_supply_risk") - pl.col("material_supply_risk_published")).abs() > TOLERANCE_SR
    )
    assert off.height == 0, off


@pytest.fixture(scope="module")
def eu27_2023() -> pl.DataFrame:
    return _eu27_metrics([2023]).collect()


def test_eu27_latest_year_cobalt_and_magnet_rare_earths(eu27_2023):
    """2023, the only year with refining-stage production (IEA), against the 2016-2020 study.

    A different period from the published values, so a check of order, not a
    reproduction: cobalt at both stages, and the magnet rare earths' bottleneck SR
    (refining, ours) against neodymium's (extraction, published 4.5). The magnet rare
    earths' stage SRs are not reproduced (mining 2.3 vs 4.5, refining 4.7 vs 3.7): the
    EU27 has no recorded magnet-REE trade, so both stages use the world-market mix.
    """
    published = pl.read_csv(datasets_dir() / "eu_crm_2023_supply_risk.csv")
    rows = eu27_2023.join(published, on=["commodity", "stage"])
    cobalt = rows.filter(pl.col("commodity") == "cobalt")
    assert cobalt.height == 2
    assert (
        (cobalt["eu_supply_risk"] - cobalt["supply_risk_published"]).abs() <= TOLERANCE_SR
    ).all()
    magnets = rows.filter(pl.col("commodity") == "magnet_rare_earths")
    assert magnets["eu_bottleneck_stage"].unique().to_list() == ["refining"]
    assert magnets["eu_supply_risk_material"].unique().to_list() == [
        magnets["eu_supply_risk"].max()
    ]
    neodymium = published.filter(pl.col("commodity") == "magnet_rare_earths")[
        "material_supply_risk_published"
    ][0]
    assert abs(magnets["eu_supply_risk_material"][0] - neodymium) <= TOLERANCE_SR
