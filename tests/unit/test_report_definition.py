"""Report definitions: every bad file gives a clear error and publishes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from resilience.cli.report_cmd import register
from resilience.report import load_definition, report_root, run_report
from resilience.report.definition import BASE, DEFAULT_DEFINITION, TABLE_NAMES
from resilience.report.job import parse_as_of
from resilience.report.schemas import ReportError
from resilience.scenarios import SpecError

REPO = Path(__file__).resolve().parents[2]
G7 = REPO / "models" / "g7_critical_minerals.yaml"
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("restore_logging")


def _write(tmp_path: Path, text: str, name: str = "def.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problem(exc: SpecError, key: str) -> str:
    found = [p for p in exc.problems if p.key == key]
    assert found, f"no problem at {key}: {exc}"
    return str(found[0])


def test_shipped_default_definition_loads() -> None:
    definition = load_definition()
    assert definition.path == DEFAULT_DEFINITION.resolve()
    assert definition.tables == TABLE_NAMES
    assert [e.study.name for e in definition.studies] == ["g7_critical_minerals", "eu_gas_2022"]
    for entry in definition.studies:
        assert entry.scenarios[0] == BASE
        assert set(entry.scenarios[1:]) == set(entry.study.catalogue.scenarios)
        assert entry.frontier is not None


def test_study_paths_are_relative_to_the_definition(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = _write(
        tmp_path / "sub",
        f"name: rel\ntables: [scenarios]\nstudies:\n  - study: ../../{tmp_path.name}/g7.yaml\n",
    )
    (tmp_path / "g7.yaml").write_text(G7.read_text(encoding="utf-8"), encoding="utf-8")
    definition = load_definition(path)
    assert definition.studies[0].study.path.resolve() == (tmp_path / "g7.yaml").resolve()
    assert definition.studies[0].scenarios[0] == BASE


def test_unknown_table_names_the_file_key_value_and_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: bad\ntables: [dependency, metricz]\n")
    with pytest.raises(SpecError) as err:
        load_definition(path)
    text = _problem(err.value, "tables[1]")
    assert str(path) in text
    assert "unknown table" in text
    assert "'metricz'" in text
    assert "close matches: metrics" in text
    assert "scenario_summary" in text  # the allowed values


def test_unknown_scenario_gets_close_matches(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"name: bad\ntables: [scenarios]\nstudies:\n  - study: {G7}\n"
        "    scenarios: [china_graphite_control, eu_crma_cap+taiwan_blocade]\n",
    )
    with pytest.raises(SpecError) as err:
        load_definition(path)
    first = _problem(err.value, "studies[0].scenarios[0]")
    assert "unknown scenario" in first
    assert "china_graphite_controls" in first
    second = _problem(err.value, "studies[0].scenarios[1]")
    assert "taiwan_blockade" in second


def test_unknown_study_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: bad\ntables: [scenarios]\nstudies:\n  - study: nope.yaml\n")
    with pytest.raises(SpecError) as err:
        load_definition(path)
    text = _problem(err.value, "studies[0].study")
    assert "no such study file" in text
    assert "g7_critical_minerals.yaml" in text  # the shipped studies are suggested


def test_study_tables_need_studies_and_unknown_keys_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: bad\ntables: [frontier]\ntabels: [metrics]\n")
    with pytest.raises(SpecError) as err:
        load_definition(path)
    assert "required by the tables frontier" in _problem(err.value, "studies")
    assert "did you mean tables?" in _problem(err.value, "tabels")


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("../elsewhere", "'..' leads outside"),
        ("weekly/../../x", "'..' leads outside"),
        ("/tmp/elsewhere", "absolute path"),
        ("C:\\\\reports", "absolute path"),
        (".hidden", "may not start with '.'"),
        ("as_of=2026-01-01", "may not start with '.' or 'as_of='"),
    ],
)
def test_output_outside_the_output_directory_is_refused(
    tmp_path: Path, output: str, reason: str
) -> None:
    path = _write(tmp_path, f'name: bad\ntables: [dependency]\noutput: "{output}"\n')
    with pytest.raises(SpecError) as err:
        load_definition(path)
    text = _problem(err.value, "output")
    assert reason in text
    assert str(path) in text


def test_output_through_a_symlink_out_of_the_output_directory(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "link").symlink_to(elsewhere, target_is_directory=True)
    path = _write(tmp_path, "name: sym\ntables: [dependency]\noutput: link/weekly\n")
    definition = load_definition(path)
    with pytest.raises(SpecError) as err:
        report_root(definition, out)
    assert "leads outside the output directory" in _problem(err.value, "output")
    inside = _write(tmp_path, "name: ok\ntables: [dependency]\noutput: g7/weekly\n", "ok.yaml")
    assert report_root(load_definition(inside), out) == (out / "g7" / "weekly").resolve()


@pytest.mark.parametrize("value", ["2026-13-01", "20261120", "2026-11-20T00:00", "yesterday"])
def test_bad_as_of(value: str) -> None:
    with pytest.raises(ReportError, match="YYYY-MM-DD"):
        parse_as_of(value)


def test_study_later_than_as_of_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, f"name: old\ntables: [scenarios]\nstudies:\n  - study: {G7}\n")
    with pytest.raises(ReportError, match="models 2023, after the as_of year 2020"):
        run_report("2020-06-30", tmp_path / "out", path)
    assert not list((tmp_path / "out").glob("as_of=*"))


def test_cli_bad_definition_exits_nonzero_and_publishes_nothing(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command, so that "report" is a sub-command
        """Nothing."""

    path = _write(tmp_path, "name: bad\ntables: [dependency, nope]\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["report", "--as-of", "2026-11-20", "--out", str(out), "--definition", str(path)]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "tables[1]" in lines[0]
    assert "'nope'" in lines[0]
    assert not out.exists() or not any(out.iterdir())
