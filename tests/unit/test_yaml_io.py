"""The package's one YAML reader: duplicate keys, alias and size bounds, YAML 1.2 numbers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from resilience.report.definition import load_definition
from resilience.scenarios import SpecError, load_catalogue, load_study, read_yaml
from resilience.yaml_io import MAX_YAML_BYTES, MAX_YAML_NODES

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(REPO / "models").glob("*.yaml"), *(REPO / "reports").glob("*.yaml")])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- shipped files
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_read_as_plain_yaml_does(path: Path) -> None:
    """The strict reader changes nothing for the files we ship (no duplicates, no 1e-3)."""
    assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- duplicates
def test_duplicate_top_level_key_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "name: x\nyear: 2023\nmembers: [USA]\nyear: 2024\n")
    with pytest.raises(SpecError) as info:
        read_yaml(path)
    text = str(info.value)
    assert str(path) in text
    assert "line 4: year" in text
    assert "duplicate key 'year': first at line 2, again at line 4" in text


def test_duplicate_nested_key_names_its_path(tmp_path: Path) -> None:
    text = (
        "scenarios:\n"
        "  cut:\n"
        "    description: a\n"
        "    disruptions:\n"
        "      - suppliers: CHN\n"
        "        probability: 0.1\n"
        "        probability: 0.2\n"
    )
    with pytest.raises(SpecError, match=r"line 7: scenarios.cut.disruptions\[0\].probability"):
        read_yaml(write(tmp_path / "c.yaml", text))


def test_merge_keys_may_be_overridden_but_not_repeated(tmp_path: Path) -> None:
    text = "base: &b {p: 1, q: 2}\nm:\n  <<: *b\n  p: 3\n"
    assert read_yaml(write(tmp_path / "m.yaml", text))["m"] == {"p": 3, "q": 2}
    with pytest.raises(SpecError, match="m.p: duplicate key 'p': first at line 4, again at line 5"):
        read_yaml(write(tmp_path / "n.yaml", text.replace("  p: 3\n", "  p: 3\n  p: 4\n")))


def test_keys_of_different_types_are_not_duplicates(tmp_path: Path) -> None:
    assert read_yaml(write(tmp_path / "k.yaml", "1: a\n'1': b\n")) == {1: "a", "1": "b"}


# ----------------------------------------------------------------------------- bounds
def test_billion_laughs_is_refused_before_it_is_built(tmp_path: Path) -> None:
    path = write(tmp_path / "lol.yaml", laughs(9))  # 9**9 = 387 million strings expanded
    began = time.perf_counter()
    with pytest.raises(SpecError) as info:
        read_yaml(path)
    assert time.perf_counter() - began < 2.0
    assert f"more than {MAX_YAML_NODES:,} nodes" in str(info.value)
    assert "line " in str(info.value)


def test_aliases_within_the_budget_expand_as_usual(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path / "ok.yaml", laughs(3)))  # 1 + 9 + 81 + ... nodes
    assert data["a2"] == [[["lol"] * 9] * 9] * 9
    with pytest.raises(SpecError, match="more than 50 nodes"):
        read_yaml(tmp_path / "ok.yaml", max_nodes=50)


def test_an_alias_inside_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"line 1: r\[0\]: an alias refers to a node that contains"):
        read_yaml(write(tmp_path / "r.yaml", "r: &r [*r]\n"))


def test_document_size_is_checked_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path / "big.yaml", "a: " + "x" * 97 + "\n")  # 101 bytes
    assert read_yaml(path, max_bytes=101) == {"a": "x" * 97}
    with pytest.raises(SpecError, match="document too large.*more than 100 bytes"):
        read_yaml(path, max_bytes=100)
    assert MAX_YAML_BYTES == 1 << 20


def test_endless_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(SpecError, match="document too large"):
        read_yaml(zero)


def test_deep_nesting_and_bad_encoding_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="nesting too deep"):
        read_yaml(write(tmp_path / "deep.yaml", "[" * 100_000))
    (tmp_path / "latin.yaml").write_bytes(b"name: x\ndescription: caf\xe9\n")
    with pytest.raises(SpecError, match=r"line 2: not UTF-8 text"):
        read_yaml(tmp_path / "latin.yaml")


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"line 2, column 5: malformed YAML: mapping values"):
        read_yaml(write(tmp_path / "bad.yaml", "a: 1\nb: c: d\n"))


# ----------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1e-3", 0.001),
        ("1.0e300", 1e300),
        ("5E+2", 500.0),
        ("-2.5e-1", -0.25),
        ("2e0", 2.0),
        ("1_000.5", 1000.5),
        (".5", 0.5),
        ("3", 3),
        ("0.25", 0.25),
        ("'1e3'", "1e3"),
        ("1e3x", "1e3x"),
    ],
)
def test_numbers_with_exponents_are_numbers(tmp_path: Path, literal: str, value: object) -> None:
    got = read_yaml(write(tmp_path / "n.yaml", f"x: {literal}\n"))["x"]
    assert got == value
    assert type(got) is type(value)


def test_a_number_too_large_for_a_float_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"line 2: y: number too large.*'1e400'"):
        read_yaml(write(tmp_path / "n.yaml", "x: 1\ny: 1e400\n"))
    assert read_yaml(write(tmp_path / "i.yaml", "x: .inf\n"))["x"] == float("inf")


# ----------------------------------------------------------------------------- callers
STUDY = """\
name: small
year: 2023
members: [USA, Japan]
allies: G7+EU
commodities: [cobalt/refining]
model: stress
catalogue: cat.yaml
"""
CATALOGUE = """\
scenarios:
  half:
    description: China halves cobalt refining
    disruptions:
      - suppliers: [CHN]
        commodities: [cobalt]
        availability: 5e-1
        probability: 1e-1
        duration_days: 90
"""


def test_catalogue_reads_exponents_as_numbers(tmp_path: Path) -> None:
    cat = load_catalogue(write(tmp_path / "cat.yaml", CATALOGUE))
    event = cat.scenarios["half"].disruptions[0]
    assert (event.availability, event.probability) == (0.5, 0.1)
    big = CATALOGUE.replace("availability: 5e-1", "availability: 1.0e300")
    with pytest.raises(SpecError, match=r"disruptions\[0\].availability: out of range"):
        load_catalogue(write(tmp_path / "cat.yaml", big))


def test_study_catalogue_and_report_definition_refuse_duplicates(tmp_path: Path) -> None:
    write(tmp_path / "cat.yaml", CATALOGUE)
    write(tmp_path / "study.yaml", STUDY + "year: 2022\n")
    with pytest.raises(SpecError, match="study.yaml: line 8: year: duplicate key"):
        load_study(tmp_path / "study.yaml")
    twice = CATALOGUE + CATALOGUE.removeprefix("scenarios:\n")
    write(tmp_path / "study.yaml", STUDY)
    write(tmp_path / "cat.yaml", twice)
    with pytest.raises(SpecError, match="line 10: scenarios.half: duplicate key 'half'"):
        load_study(tmp_path / "study.yaml")
    definition = write(tmp_path / "r.yaml", "name: r\ntables: [dependency]\ntables: [metrics]\n")
    with pytest.raises(SpecError, match="first at line 2, again at line 3"):
        load_definition(definition)
