"""What the analyst sees: no solver banner, whole names, no -0, no 1e-10, units, one-line errors."""

from __future__ import annotations

import errno
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from resilience.cli.app import app
from resilience.cli.console import (
    auto_format,
    error_line,
    frame_table,
    number,
    usd_m,
    with_units,
    writing,
)
from resilience.credits import credits, licence_of
from resilience.errors import OutputError, UnknownNameError

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "models" / "g7_critical_minerals.yaml"
CLI = Path(sys.executable).parent / "resilience"
#: "-0", "-0.00", "$-0" but not "-0.30" or "-0.05"
NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(?:[.,]0+)?(?![\d.,])")

runner = CliRunner()


def _render(table: object, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- number()
@pytest.mark.parametrize(
    ("value", "fmt", "noise", "shown"),
    [
        (-0.001, ",.2f", 0.0, "0.00"),
        (-0.0, ".0f", 0.0, "0"),
        (-1e-10, ",.4f", 0.0, "0.0000"),
        (-0.3, ",.2f", 0.0, "-0.30"),
        (1234567.891, ",.2f", 0.0, "1,234,567.89"),
        (-2.5e-7, ",.2f", 1e-6, "0.00"),
        (2.5e-7, ",.8f", 1e-6, "0.00000000"),
        (3e-6, ",.6f", 1e-6, "0.000003"),
        (None, ".1f", 0.0, "—"),
        (float("nan"), ".1f", 0.0, "—"),
        (-12, ",d", 0.0, "-12"),
    ],
)
def test_number_has_no_negative_zero_and_hides_noise(value, fmt, noise, shown):
    assert number(value, fmt, noise=noise) == shown


@pytest.mark.parametrize("fmt", [".3g", ".2e", ",.4G", ".1%"])
def test_number_refuses_formats_that_print_scientific_notation(fmt):
    with pytest.raises(ValueError, match="scientific"):
        number(1.0, fmt)


def test_usd_m_is_usd_million_with_thousands_separators():
    assert usd_m(1_234_567_890.0) == "1,234.57"
    assert usd_m(-400.0) == "0.00"  # -0.0004 USD m: no "-0.00"
    assert usd_m(None) == "—"


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        ([12345.6, 1.0], ",.0f"),
        ([3.2, None], ",.2f"),
        ([0.0, 0.0], ",.2f"),
        ([0.012, 0.0], ",.4f"),
        ([1.2e-4], ",.6f"),
        ([1e-12], ",.6f"),
    ],
)
def test_auto_format_is_fixed_point_and_scaled_to_the_column(values, fmt):
    assert auto_format(values) == fmt


# ----------------------------------------------------------------------------- tables
def test_frame_table_prints_noise_as_zero_and_never_scientific():
    frame = pl.DataFrame(
        {
            "scenario": ["base", "hit"],
            "objective USD m": [1425.161234, -3.1e-10],
            "premium USD m": [-1e-12, 42.38],
            "share": [1e-10, 0.5],
        }
    )
    text = _render(frame_table(frame, "t", {"premium USD m": ",.2f"}))
    assert "e-" not in text
    assert "E-" not in text
    assert NEGATIVE_ZERO.search(text) is None, text
    assert "1,425" in text
    assert "42.38" in text
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    }
    # -1e-12 and 1e-10 beside 0.5 are below 1e-6 of their column's scale: zeros, unsigned
    assert rows["base"] == ["1,425", "0.00", "0.000"]
    assert rows["hit"] == ["0", "42.38", "0.500"]


def test_frame_table_folds_long_names_instead_of_cutting_them():
    name = "china_graphite_controls+eu_crma_cap+msp_pooled_stocks+taiwan_blockade"
    frame = pl.DataFrame({"scenario": [name], "cost USD m": [1.0]})
    wide = _render(frame_table(frame, "t"), width=200)
    assert name in wide
    assert "…" not in wide
    narrow = _render(frame_table(frame, "t"), width=40)
    assert "…" not in narrow
    cells = [line.split("│")[1].strip() for line in narrow.splitlines() if line.startswith("│")]
    assert "".join(cells) == name  # folded over several lines, every character kept


def test_frame_table_keeps_years_as_written_and_escapes_markup():
    frame = pl.DataFrame({"year": [2023], "note": ["[bold]x[/bold]"]})
    text = _render(frame_table(frame, "t"))
    assert "2023" in text
    assert "2,023" not in text
    assert "[bold]x[/bold]" in text


def test_with_units_scales_and_names_the_unit():
    frame = pl.DataFrame(
        {
            "availability": [0.5],
            "objective_usd": [1.5e9],
            "non_allied_share": [0.25],
            "expected_shortfall_t": [10.0],
            "stock_days": [30.0],
        }
    )
    view, formats = with_units(frame, frame.columns[1:])
    assert view.columns == [
        "availability",
        "objective USD m",
        "non allied %",
        "expected shortfall t",
        "stock days",
    ]
    assert view.row(0) == (0.5, 1500.0, 25.0, 10.0, 30.0)
    assert formats["objective USD m"] == ",.2f"


# ----------------------------------------------------------------------------- errors
def test_error_line_names_path_and_cause(tmp_path):
    missing = tmp_path / "gone" / "x.csv"
    cases = [
        (PermissionError(errno.EACCES, "Permission denied", "/srv/out.csv"), "permission denied"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", str(tmp_path)), "is a directory"),
        (OSError(errno.ENOSPC, "No space left on device", "/dev/full"), "no space left"),
        (FileNotFoundError(errno.ENOENT, "No such file", str(missing)), "no such directory"),
    ]
    for exc, cause in cases:
        line = error_line(exc)
        assert line.startswith(str(exc.filename) + ": "), line
        assert cause in line, line
    assert "out of memory" in error_line(MemoryError())
    assert error_line(UnknownNameError("importer", "Narnia", ["Namibia"])) == (
        "unknown importer 'Narnia'; did you mean 'Namibia'?"
    )
    assert error_line(KeyError("x")).startswith("internal error: KeyError")


def test_writing_names_the_path_polars_leaves_out(tmp_path):
    target = tmp_path / "no" / "dir" / "t.parquet"
    with pytest.raises(OutputError) as info, writing(target):
        pl.DataFrame({"a": [1]}).write_parquet(target)
    assert str(info.value) == f"cannot write {target}: no such directory: {target.parent}"


def test_cli_errors_are_one_line_without_traceback(restore_logging):
    result = runner.invoke(app, ["risk", "-i", "DEU", "-b", "EU", "-f", "csv", "-o", "/dev/full"])
    assert result.exit_code == 1
    assert result.output == "error: cannot write /dev/full: no space left on device\n"


def test_cli_debug_shows_the_traceback(restore_logging):
    result = runner.invoke(
        app, ["--debug", "risk", "-i", "DEU", "-b", "EU", "-f", "csv", "-o", "/dev/full"]
    )
    assert isinstance(result.exception, OutputError)


# ----------------------------------------------------------------------------- help
def test_help_has_no_bool_metavar_and_lists_choices(restore_logging):
    for command in (
        [],
        ["risk"],
        ["run"],
        ["sweep"],
        ["frontier"],
        ["summary"],
        ["build"],
        ["report"],
        ["data", "refresh"],
    ):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "140"})
        assert result.exit_code == 0, (command, result.output)
        assert "<bool>" not in result.output, command
    risk = runner.invoke(app, ["risk", "--help"], env={"COLUMNS": "140"}).output
    assert "<table|csv|json|parquet>" in risk


# ----------------------------------------------------------------------------- credits
def test_credits_name_each_source_with_its_licence():
    line = credits(["CEPII BACI HS92 V202401b (shipped extract)", "USGS MCS 2025", "IDC"])
    assert line.startswith("Sources and licences: ")
    assert "CEPII BACI (Etalab Licence Ouverte 2.0)" in line
    assert "USGS (US public domain)" in line
    assert "cited figures from IDC" in line
    assert "Apache-2.0" in line
    assert licence_of("World Bank WGI 2024 update") == ("World Bank WGI", "CC BY 4.0")


def test_credits_say_so_when_a_source_has_no_licence_recorded(caplog):
    assert "Acme Data (licence not recorded)" in credits(["Acme Data"])
    assert "Acme Data" in caplog.text


def test_credits_of_the_shipped_tables_cover_every_source_with_a_licence():
    line = credits()
    assert "licence not recorded" not in line
    for licence in ("CC BY 4.0", "CC0", "US public domain", "Etalab Licence Ouverte 2.0"):
        assert licence in line


# ----------------------------------------------------------------------------- real runs
def test_run_stdout_has_no_highs_banner_and_no_negative_zero_verbose_shows_it_on_stderr():
    quiet = subprocess.run(
        [str(CLI), "run", str(STUDY)], capture_output=True, text=True, timeout=300, check=False
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "HiGHS" not in quiet.stdout
    assert "Copyright" not in quiet.stdout
    assert "HiGHS" not in quiet.stderr
    assert NEGATIVE_ZERO.search(quiet.stdout) is None, quiet.stdout
    assert "max price rise %" in quiet.stdout
    assert "Welfare loss per member and scenario" in " ".join(quiet.stdout.split())
    verbose = subprocess.run(
        [str(CLI), "--verbose", "run", str(STUDY)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert verbose.returncode == 0, verbose.stderr
    assert "Running HiGHS" in verbose.stderr
    assert verbose.stdout == quiet.stdout  # the same screen, the log only on stderr


def test_run_all_prints_a_long_composed_scenario_name_whole(tmp_path):
    long_name = "china_graphite_controls+eu_crma_cap+msp_pooled_stocks"
    text = STUDY.read_text()
    head, _, _ = text.partition("scenarios:\n")
    (tmp_path / "study.yaml").write_text(head + f"scenarios:\n  - {long_name}\n")
    shutil.copy(REPO / "models" / "scenarios.yaml", tmp_path / "scenarios.yaml")
    done = subprocess.run(
        [str(CLI), "run", str(tmp_path / "study.yaml"), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert long_name in done.stdout
    assert "…" not in done.stdout
    assert NEGATIVE_ZERO.search(done.stdout) is None, done.stdout


def test_credits_name_the_comtrade_terms_for_china_s_monthly_exports(caplog):
    from resilience.ingest.china_monthly import SOURCE

    line = credits([SOURCE])
    assert "licence not recorded" not in line
    assert "no re-dissemination" in line
    assert "no licence recorded" not in caplog.text
