"""A bloc as one market node (a study's ``as_one``): the EU in "G7+EU".

The EU node's production is the sum of its countries' production, its imports are its
countries' imports from outside the EU (trade between two EU countries nets out), and a
bad ``as_one`` names the key, the value and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from resilience.optimize.market.from_data import study_market
from resilience.scenarios import load_study
from resilience.specs import SpecError

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "models" / "scenarios.yaml"

pytestmark = pytest.mark.usefixtures("restore_logging")


def study_file(tmp_path: Path, name: str = "study", **spec: Any) -> Path:
    body = {
        "name": "g7eu",
        "year": 2023,
        "members": "G7+EU",
        "allies": "G7+EU+CHIP4",
        "commodities": ["cobalt/refining"],
        "model": "stress",
        "catalogue": str(CATALOGUE),
    } | spec
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def problems(path: Path) -> str:
    with pytest.raises(SpecError) as err:
        load_study(path)
    return str(err.value)


def test_bad_as_one_names_key_value_and_reason(tmp_path: Path) -> None:
    text = problems(study_file(tmp_path, "a", as_one=["EUU"]))
    assert "as_one[0]" in text
    assert "EUU" in text
    assert "unknown bloc" in text
    text = problems(study_file(tmp_path, "b", members="G7", as_one=["EU"]))
    assert "as_one[0]" in text
    assert "not members" in text
    assert "AUT" in text
    text = problems(study_file(tmp_path, "c", as_one=["EU", "EU"]))
    assert "as_one[1]" in text
    assert "shares" in text
    text = problems(study_file(tmp_path, "d", as_one="EU"))
    assert "as_one" in text
    assert "list of bloc ids" in text


def test_the_eu_is_one_node_with_its_countries_summed(tmp_path: Path) -> None:
    one = load_study(study_file(tmp_path, "one", as_one=["EU"]))
    each = load_study(study_file(tmp_path, "each"))
    eu = one.merged_blocs()["EU"]
    assert len(eu) == 27
    assert "DEU" in eu
    assert "GBR" not in eu
    assert one.member_nodes() == ["CAN", "EU", "GBR", "JPN", "USA"]
    assert "EU" in one.allied_nodes()
    assert "KOR" in one.allied_nodes()
    assert one.to_nodes(["DEU", "FRA", "CHN"]) == ["CHN", "EU"]

    m1 = study_market(one)
    m2 = study_market(each)
    assert list(m1.regions.members) == one.member_nodes()
    assert "DEU" not in m1.regions.nodes
    good = "cobalt/refining"
    b1 = m1.balances.filter((pl.col("node") == "EU") & (pl.col("good") == good)).row(0, named=True)
    b2 = m2.balances.filter(pl.col("node").is_in(list(eu)) & (pl.col("good") == good))
    assert b1["production_units_per_year"] == pytest.approx(
        b2["production_units_per_year"].sum(), rel=1e-9
    )
    outside = m2.arcs.filter(
        pl.col("destination").is_in(list(eu))
        & ~pl.col("origin").is_in(list(eu))
        & (pl.col("good") == good)
    )
    assert b1["imports_units_per_year"] == pytest.approx(
        outside["quantity_units_per_year"].sum(), rel=1e-9
    )
    assert b1["imports_units_per_year"] > 0
    # no arc of the merged market starts and ends in the EU
    assert m1.arcs.filter((pl.col("origin") == "EU") & (pl.col("destination") == "EU")).height == 0
