"""Study and scenario specs: every bad-spec class names file, key, value and what is allowed."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from resilience.reference.commodities import load_commodities
from resilience.reference.countries import CountryResolver
from resilience.scenarios import (
    CountrySet,
    Policy,
    SpecError,
    load_catalogue,
    load_study,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "scenarios.yaml"

CATALOGUE = """\
scenarios:
  cut_a:
    description: A cut.
    disruptions:
      - suppliers: [CHN]
        commodities: [graphite/mining]
        availability: 0.2
        probability: 0.1
        duration_days: 90
  cut_b:
    description: Another cut.
    disruptions:
      - suppliers: COD
        commodities: [cobalt]
        probability: 0.05
  half:
    description: Friend-shoring at one half.
    policy:
      max_non_allied_share: 0.5
      allies: G7
  seventy:
    description: Friend-shoring at 0.7.
    policy:
      max_non_allied_share: 0.7
  also_half:
    description: The same knob, the same value.
    policy:
      max_non_allied_share: 0.5
  stocks:
    description: Stocks.
    policy:
      min_stock_days: 30
"""

STUDY = """\
name: s
year: 2023
members: [USA, Japan]
allies: G7+EU
commodities: [graphite/mining, cobalt/refining]
model: stress
policy:
  max_single_supplier_share: 0.8
  min_stock_days: 10
scenarios: [cut_a, cut_a+half]
catalogue: cat.yaml
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "cat.yaml", CATALOGUE)
    write(tmp_path / "study.yaml", STUDY)
    return tmp_path


def problem_text(exc: pytest.ExceptionInfo[SpecError]) -> str:
    return str(exc.value)


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    return write(path, text.replace(old, new))


# ----------------------------------------------------------------------------- good specs
def test_study_loads_with_countries_blocs_commodities_and_policy(folder: Path) -> None:
    study = load_study(folder / "study.yaml")
    assert study.members == CountrySet(countries=("USA", "JPN"))
    assert study.allies == CountrySet(blocs=("G7", "EU"))
    assert study.commodities == (("graphite", "mining"), ("cobalt", "refining"))
    assert study.policy == {"max_single_supplier_share": 0.8, "min_stock_days": 10.0}
    assert "DEU" in study.allies.resolve(study.date)
    assert study.catalogue.path == (folder / "cat.yaml").resolve()


def test_composition_pools_disruptions_and_layers_policy(folder: Path) -> None:
    study = load_study(folder / "study.yaml")
    comp = study.compose("cut_a+cut_b+half")
    assert comp.names == ("cut_a", "cut_b", "half")
    assert [(name, d.suppliers.countries) for name, d in comp.events] == [
        ("cut_a", ("CHN",)),
        ("cut_b", ("COD",)),
    ]
    # study policy kept where no scenario overrides it; scenario knobs applied on top
    assert comp.policy.max_single_supplier_share == 0.8
    assert comp.policy.max_non_allied_share == 0.5
    assert comp.policy.allies == CountrySet(blocs=("G7",))
    assert comp.set_by == {
        "max_single_supplier_share": "study",
        "min_stock_days": "study",
        "max_non_allied_share": "scenario half",
        "allies": "scenario half",
    }
    # the same value set twice is no conflict; a name given twice counts once
    assert study.compose("half+also_half").policy.max_non_allied_share == 0.5
    assert study.compose("cut_a+cut_a").names == ("cut_a",)
    # defaults where nothing is set
    assert study.compose().policy.cvar_level == Policy().cvar_level


def test_base_scenario_is_applied_first_and_a_later_layer_wins(folder: Path) -> None:
    edit(folder / "study.yaml", "catalogue: cat.yaml", "catalogue: cat.yaml\nbase_scenario: half")
    study = load_study(folder / "study.yaml")
    comp = study.compose("seventy+cut_a")
    assert comp.names == ("half", "seventy", "cut_a")
    assert comp.policy.max_non_allied_share == 0.7
    assert comp.set_by["max_non_allied_share"] == "scenario seventy"
    assert study.compose().policy.max_non_allied_share == 0.5


def test_scenario_policy_overrides_the_study_policy(folder: Path) -> None:
    study = load_study(folder / "study.yaml")
    comp = study.compose("stocks")
    assert comp.policy.min_stock_days == 30.0
    assert comp.set_by["min_stock_days"] == "scenario stocks"


# ----------------------------------------------------------------------------- bad specs
def test_unknown_country_names_file_key_value_and_close_matches(folder: Path) -> None:
    edit(folder / "cat.yaml", "suppliers: [CHN]", "suppliers: [CHM]")
    with pytest.raises(SpecError) as exc:
        load_catalogue(folder / "cat.yaml")
    text = problem_text(exc)
    assert "cat.yaml" in text
    assert "scenarios.cut_a.disruptions[0].suppliers[0]" in text
    assert "'CHM'" in text
    assert "unknown country or bloc" in text
    assert "close matches: CHE (Switzerland), CHL (Chile), CHN (China)" in text


def test_unknown_country_name_in_a_study_suggests_the_spelling(folder: Path) -> None:
    edit(folder / "study.yaml", "[USA, Japan]", "[USA, Japn]")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    text = problem_text(exc)
    assert "study.yaml: members[1]" in text
    assert "'Japn'" in text
    assert "japan" in text


def test_unknown_bloc_lists_the_known_blocs(folder: Path) -> None:
    edit(folder / "study.yaml", "allies: G7+EU", "allies: G8+EU")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    text = problem_text(exc)
    assert "study.yaml: allies: unknown country or bloc" in text
    assert "'G8'" in text
    assert "G7" in text
    assert "MSP" in text


def test_unknown_commodity_and_stage(folder: Path) -> None:
    edit(
        folder / "study.yaml", "[graphite/mining, cobalt/refining]", "[graphit/mining, cobalt/ore]"
    )
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    text = problem_text(exc)
    assert "commodities[0]: unknown commodity (value: 'graphit/mining'" in text
    assert "close matches: graphite" in text
    assert "commodities[1]: unknown stage of cobalt (value: 'cobalt/ore'" in text
    assert "allowed: cobalt/mining, cobalt/refining" in text


def test_a_study_commodity_needs_its_stage(folder: Path) -> None:
    edit(folder / "study.yaml", "[graphite/mining, cobalt/refining]", "[nickel]")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    assert "a stage is required (value: 'nickel'; allowed: nickel/mining, nickel/refining)" in (
        problem_text(exc)
    )


def test_unknown_scenario_in_a_study_and_in_an_expression(folder: Path) -> None:
    edit(folder / "study.yaml", "[cut_a, cut_a+half]", "[cut_a, cut_a+hlaf]")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    text = problem_text(exc)
    assert "study.yaml: scenarios[1]: unknown scenario (not in cat.yaml)" in text
    assert "'hlaf'" in text
    assert "close matches: half" in text
    study = load_study(edit(folder / "study.yaml", "hlaf", "half"))
    with pytest.raises(SpecError) as exc2:
        study.compose("cut_b+stock")
    assert "--scenario: scenario: unknown scenario" in str(exc2.value)
    assert "'stock'" in str(exc2.value)
    assert "close matches: stocks" in str(exc2.value)


@pytest.mark.parametrize(
    ("old", "new", "key", "value", "allowed"),
    [
        ("max_non_allied_share: 0.5", "max_non_allied_share: 1.5",
         "scenarios.half.policy.max_non_allied_share", "1.5", "a number in [0, 1]"),
        ("probability: 0.1", "probability: 0",
         "scenarios.cut_a.disruptions[0].probability", "0", "a number in (0, 1]"),
        ("availability: 0.2", "availability: -0.1",
         "scenarios.cut_a.disruptions[0].availability", "-0.1", "a number in [0, 1]"),
        ("duration_days: 90", "duration_days: 400",
         "scenarios.cut_a.disruptions[0].duration_days", "400", "(0, 365]"),
        ("min_stock_days: 30", "min_stock_days: -5",
         "scenarios.stocks.policy.min_stock_days", "-5", "a number >= 0"),
        ("min_stock_days: 30", "min_stock_days: '30'",
         "scenarios.stocks.policy.min_stock_days", "'30'", "a number >= 0"),
    ],
)  # fmt: skip
def test_out_of_range_knob(
    folder: Path, old: str, new: str, key: str, value: str, allowed: str
) -> None:
    edit(folder / "cat.yaml", old, new)
    with pytest.raises(SpecError) as exc:
        load_catalogue(folder / "cat.yaml")
    text = problem_text(exc)
    assert f"cat.yaml: {key}:" in text
    assert f"(value: {value};" in text
    assert allowed in text


def test_cvar_level_of_one_and_a_bad_model_family(folder: Path) -> None:
    edit(folder / "study.yaml", "min_stock_days: 10", "min_stock_days: 10\n  cvar_level: 1.0")
    edit(folder / "study.yaml", "model: stress", "model: stres")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    text = problem_text(exc)
    assert "2 problems in spec" in text
    assert "policy.cvar_level: out of range (value: 1.0; allowed: a number in [0, 1))" in text
    assert "model: unknown model family (did you mean stress?) (value: 'stres'" in text


def test_malformed_yaml_names_line_and_column(folder: Path) -> None:
    bad = CATALOGUE.replace("    description: Another cut.", "   description: [Another cut.")
    write(folder / "cat.yaml", bad)
    with pytest.raises(SpecError) as exc:
        load_catalogue(folder / "cat.yaml")
    text = problem_text(exc)
    assert "cat.yaml: line " in text
    assert "malformed YAML" in text
    assert "allowed: valid YAML" in text


def test_malformed_study_yaml_shows_the_offending_line(folder: Path) -> None:
    write(folder / "study.yaml", "name: s\nyear: 2023\nmembers: [USA\nallies: G7\n")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    text = problem_text(exc)
    assert "study.yaml: line 4, column" in text
    assert "'allies: G7'" in text


def test_unknown_key_suggests_the_intended_key(folder: Path) -> None:
    edit(folder / "cat.yaml", "availability: 0.2", "availabilty: 0.2")
    edit(folder / "study.yaml", "allies: G7+EU", "alies: G7+EU")
    with pytest.raises(SpecError) as exc:
        load_catalogue(folder / "cat.yaml")
    text = problem_text(exc)
    assert (
        "scenarios.cut_a.disruptions[0].availabilty: unknown key (did you mean availability?)"
        in (text)
    )
    write(folder / "cat.yaml", CATALOGUE)
    with pytest.raises(SpecError) as exc2:
        load_study(folder / "study.yaml")
    text2 = str(exc2.value)
    assert "study.yaml: alies: unknown key (did you mean allies?)" in text2
    assert "study.yaml: allies: required key missing" in text2


def test_allies_is_not_a_study_policy_knob(folder: Path) -> None:
    edit(folder / "study.yaml", "min_stock_days: 10", "min_stock_days: 10\n  allies: G7")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    assert "policy.allies: unknown key" in str(exc.value)


def test_conflicting_composition_names_both_scenarios_key_and_values(folder: Path) -> None:
    study = load_study(folder / "study.yaml")
    with pytest.raises(SpecError) as exc:
        study.compose("half+seventy")
    text = problem_text(exc)
    assert "cat.yaml: scenarios.seventy.policy.max_non_allied_share" in text
    assert "conflicts with scenarios.half.policy.max_non_allied_share = 0.5" in text
    assert "in the composition 'half+seventy'" in text
    assert "(value: 0.7;" in text


def test_conflicting_composition_in_a_study_list_fails_at_load(folder: Path) -> None:
    edit(folder / "study.yaml", "[cut_a, cut_a+half]", "[cut_a, seventy+half]")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    assert "conflicts with scenarios.seventy.policy.max_non_allied_share = 0.7" in str(exc.value)


def test_disruptions_of_one_event_must_share_probability(folder: Path) -> None:
    extra = """\
      - suppliers: [RUS]
        commodities: [graphite]
        probability: 0.3
  cut_b:"""
    edit(folder / "cat.yaml", "  cut_b:", extra)
    with pytest.raises(SpecError) as exc:
        load_catalogue(folder / "cat.yaml")
    text = problem_text(exc)
    assert "scenarios.cut_a.disruptions[1].probability" in text
    assert "differs from the other disruptions of the same event (0.1)" in text


def test_a_scenario_needs_disruptions_or_policy_and_a_catalogue_needs_scenarios(
    folder: Path,
) -> None:
    write(folder / "cat.yaml", "scenarios:\n  empty:\n    description: Nothing.\n")
    with pytest.raises(SpecError) as exc:
        load_catalogue(folder / "cat.yaml")
    assert "scenarios.empty: a scenario needs disruptions, policy or both" in str(exc.value)
    write(folder / "cat.yaml", "description: none\n")
    with pytest.raises(SpecError) as exc2:
        load_catalogue(folder / "cat.yaml")
    assert "scenarios: required mapping" in str(exc2.value)


def test_missing_catalogue_file_is_named(folder: Path) -> None:
    edit(folder / "study.yaml", "catalogue: cat.yaml", "catalogue: nowhere.yaml")
    with pytest.raises(SpecError) as exc:
        load_study(folder / "study.yaml")
    assert "study.yaml: catalogue: no such file" in str(exc.value)
    assert "'nowhere.yaml'" in str(exc.value)


# ----------------------------------------------------------------------------- the catalogue
def test_shipped_catalogue_loads_and_documents_every_scenario() -> None:
    catalogue = load_catalogue(SHIPPED)
    names = set(catalogue.scenarios)
    assert {
        "taiwan_blockade",
        "china_gallium_germanium_controls",
        "china_graphite_controls",
        "china_rare_earth_embargo_2010",
        "russian_gas_cutoff_2022",
        "hormuz_closure",
        "drc_cobalt_suspension",
        "indonesia_nickel_ore_ban",
        "g7_friendshoring",
        "msp_pooled_stocks",
        "eu_crma_cap",
    } <= names
    assert sum(bool(s.disruptions) for s in catalogue.scenarios.values()) >= 8
    for spec in catalogue.scenarios.values():
        assert spec.description, spec.name
        assert spec.assumptions, spec.name
        assert spec.sources, spec.name
        assert all(("http" in s) or ("(" in s) for s in spec.sources), spec.name


def test_shipped_catalogue_names_only_known_countries_and_commodities() -> None:
    catalogue = load_catalogue(SHIPPED)
    resolver = CountryResolver.default()
    known = set(load_commodities().select("commodity", "stage").iter_rows())
    commodities = {c for c, _ in known}
    for spec in catalogue.scenarios.values():
        for d in spec.disruptions:
            sets = [d.suppliers] + ([d.targets] if d.targets else [])
            for group in sets:
                resolved = group.resolve(dt.date(2023, 12, 31))
                assert resolved, spec.name
                assert all(resolver.is_country(c) for c in resolved), spec.name
            for c, s in d.commodities or ():
                assert c in commodities, (spec.name, c)
                assert s is None or (c, s) in known, (spec.name, c, s)
            assert 0 < d.probability <= 1
            assert 0 <= d.availability <= 1
        allies = spec.policy.get("allies")
        if allies is not None:
            assert allies.resolve(dt.date(2023, 12, 31))


def test_shipped_studies_load_against_the_shipped_catalogue() -> None:
    for name in ("g7_critical_minerals", "eu_gas_2022"):
        study = load_study(REPO / "models" / f"{name}.yaml")
        assert study.catalogue.path == SHIPPED.resolve()
        for expr in study.scenarios:
            study.compose(expr)
