"""``resilience run``: a study on the market core, one scenario or every listed one.

Registered on the main app with :func:`register`; the work is
:func:`resilience.study.run_study`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.table import Table

from resilience.cli.console import err, error_line, number, out, writing
from resilience.cli.console import fail as _fail
from resilience.cli.console import frame_table as _frame_table
from resilience.errors import ResilienceError
from resilience.outputs import check_writable_dir

if TYPE_CHECKING:
    from resilience.scenarios import StudySpec

__all__ = ["register", "run_cmd"]

log = logging.getLogger(__name__)


def _arrow(before: str, after: str, scale: float, fmt: str) -> pl.Expr:
    """``"before → after"`` text of two share columns (nulls as a dash, no ``-0``)."""

    def shown(column: str) -> pl.Expr:
        return (pl.col(column) * scale).map_elements(
            lambda v: number(v, fmt), return_dtype=pl.String, skip_nulls=False
        )

    return pl.concat_str([shown(before), pl.lit(" → "), shown(after)])


def _study_view(summary: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """The study summary as a printable frame: shares in %, HHI 0-10 000."""
    view = summary.select(
        pl.col("member_iso3").alias("member"),
        "commodity",
        "stage",
        pl.col("demand_units_per_year").alias("demand units/yr"),
        _arrow("non_allied_share_before", "non_allied_share_after", 100, ".1f").alias(
            "non-allied % before → after"
        ),
        _arrow("max_single_share_before", "max_single_share_after", 100, ".1f").alias(
            "largest supplier % before → after"
        ),
        _arrow("hhi_before", "hhi_after", 10_000, ".0f").alias("HHI (0–10 000) before → after"),
        pl.col("price_rise_max_pct").alias("max price rise %"),
        (pl.col("expected_shed_share") * 100).alias("exp. shed %"),
        (pl.col("worst_shed_share") * 100).alias("worst shed %"),
        pl.col("stock_days").alias("stock days"),
    )
    formats = {
        "demand units/yr": ",.0f",
        "max price rise %": ",.1f",
        "exp. shed %": ".2f",
        "worst shed %": ".1f",
        "stock days": ".0f",
    }
    return view, formats


def _members_view(members: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Welfare loss per member (rows) and scenario (columns), USD million."""
    wide = (
        members.with_columns((pl.col("welfare_loss_usd") / 1e6).alias("v"))
        .pivot(on="scenario", index="member", values="v", sort_columns=False)
        .sort("member")
    )
    return wide, {c: ",.2f" for c in wide.columns if c != "member"}


TOTAL_LABELS = {
    "members": ("members", None, 1.0),
    "months": ("horizon (months)", ",.0f", 1.0),
    "expected_welfare_loss_usd": ("expected welfare loss of the members (USD m)", ",.2f", 1e-6),
    "worst_scenario": ("worst scenario", None, 1.0),
    "worst_welfare_loss_usd": ("its welfare loss (USD m)", ",.2f", 1e-6),
    "stock_build_usd": ("stock built before the crisis (USD m)", ",.2f", 1e-6),
    "policy_cost_usd": ("cost of the sourcing policy in calm (USD m)", ",.2f", 1e-6),
    "best_strike": ("adversary's best strike", None, 1.0),
    "pooling_gain_usd": ("expected gain of pooling over going alone (USD m)", ",.2f", 1e-6),
}


def run_cmd(
    study_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A study spec (models/*.yaml).")
    ],
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help="Catalogue scenarios to compose, e.g. a+b."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", file_okay=False, help="Write every result table here."),
    ] = None,
    all_scenarios: Annotated[
        bool,
        typer.Option(
            "--all", help="Run the base case and every scenario the study lists; compare them."
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="With --all: runs solved at once in worker processes (0: one per CPU core).",
        ),
    ] = 0,
) -> None:
    """Run a study on the market core: what each scenario costs each member (USD)."""
    from resilience.scenarios import load_study
    from resilience.study import run_study, write_study

    if all_scenarios:
        if scenario is not None:
            raise _fail(ValueError("--all runs the study's own scenario list; drop --scenario"))
        _run_all(study_file, out_dir, jobs)
        return
    try:
        check_writable_dir(out_dir)
        study = load_study(study_file)
        with err.status(f"solving {study.model} model for {study.name} ..."):
            result = run_study(study, scenario)
        written: dict[str, Any] = {}
        if out_dir is not None:
            with writing(out_dir):
                written = dict(write_study(result, out_dir))
    except (ResilienceError, ValueError, OSError) as exc:
        raise _fail(error_line(exc)) from exc
    totals = result.totals.row(0, named=True)
    out.print(
        f"[bold]{study.name}[/] — scenario [bold]{result.scenario}[/], {result.model} model, "
        f"trade year {result.year}; members {study.members}, allies "
        f"{result.tables['policy'].filter(pl.col('knob') == 'allies')['value'][0]}",
        highlight=False,
    )
    view, formats = _study_view(result.summary)
    out.print(
        _frame_table(
            view,
            "Per member and good — import exposure observed → the run's market (shares in %, "
            "HHI 0–10 000); highest monthly price over the reference price; demand shed "
            "(expected and in the worst scenario); stock cover",
            formats,
        )
    )
    mview, mformats = _members_view(result.members)
    out.print(
        _frame_table(
            mview,
            "Welfare loss per member and scenario (USD m, against the calm market without "
            "policy; negative: a gain)",
            mformats,
        )
    )
    table = Table(title="Totals", title_justify="left", header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, (label, fmt, scale) in TOTAL_LABELS.items():
        value = totals.get(key)
        if value is None:
            continue
        shown = value * scale if isinstance(value, int | float) else value
        table.add_row(label, number(shown, fmt) if fmt else str(value))
    out.print(table)
    policy = result.tables["policy"].filter(pl.col("set_by") != "default")
    out.print(_frame_table(policy, "Policy in force (knobs not at their default)"))
    for note in result.notes:
        out.print(f"[yellow]note:[/] {note}", highlight=False)
    if written:
        out.print(f"wrote {len(written)} tables to {out_dir}: {', '.join(written)}")


SCENARIO_COLUMNS = {
    "worst_welfare_loss_usd": ("loss if it happens USD m", 1e-6),
    "expected_welfare_loss_usd": ("expected loss USD m", 1e-6),
    "stock_build_usd": ("stock built USD m", 1e-6),
    "policy_cost_usd": ("policy cost USD m", 1e-6),
    "pooling_gain_usd": ("pooling gain USD m", 1e-6),
}


def _scenarios_view(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """The ``run --all`` table: scenario, status and the totals that apply, scaled."""
    columns = [pl.col("scenario"), pl.col("status")]
    if "worst_scenario" in frame.columns:
        columns.append(pl.col("worst_scenario").alias("worst event"))
    for name, (label, scale) in SCENARIO_COLUMNS.items():
        if name in frame.columns and frame[name].null_count() < frame.height:
            columns.append((pl.col(name) * scale).alias(label))  # noise: frame_table
    if "best_strike" in frame.columns and frame["best_strike"].null_count() < frame.height:
        columns.append(pl.col("best_strike").alias("best strike"))
    view = frame.select(columns)
    return view, {c: ",.2f" for c in view.columns if view[c].dtype == pl.Float64}


@dataclass(frozen=True)
class _RunOutcome:
    """What ``run --all`` keeps of one run (picklable: it may come from a worker)."""

    row: dict[str, object]
    #: ``member, run, welfare_loss_usd`` in the run's worst scenario (None: no answer)
    losses: pl.DataFrame | None = None
    #: ``run, member, welfare_loss_usd`` and the member's largest price rise and shortfall
    effects: pl.DataFrame | None = None
    failed: bool = False
    #: the run's notes, one sentence each (a note may itself hold a "; ")
    notes: tuple[str, ...] = ()


def _effects(result: Any, name: str, worst: str) -> pl.DataFrame:
    """Per member: loss in the worst scenario, largest price rise and shortfall (which good)."""
    in_worst = pl.col("scenario").eq_missing(worst)  # worst is None when no member trades
    loss = result.members.filter(in_worst).select("member", "welfare_loss_usd")
    good = pl.concat_str("commodity", pl.lit("/"), "stage")
    by_good = result.summary.select(
        pl.col("member_iso3").alias("member"),
        good.alias("good"),
        pl.col("price_rise_max_pct").fill_null(0.0),
        (100.0 * pl.col("worst_shed_share").fill_null(0.0)).alias("shed_pct"),
    )
    rise = (
        by_good.sort(["member", "price_rise_max_pct", "good"], descending=[False, True, False])
        .group_by("member", maintain_order=True)
        .first()
        .select("member", "price_rise_max_pct", pl.col("good").alias("price_good"))
    )
    shed = (
        by_good.sort(["member", "shed_pct", "good"], descending=[False, True, False])
        .group_by("member", maintain_order=True)
        .first()
        .select("member", "shed_pct", pl.col("good").alias("shed_good"))
    )
    return (
        loss.join(rise, on="member", how="left")
        .join(shed, on="member", how="left")
        .select(pl.lit(name).alias("run"), pl.all())
        .sort("member")
    )


def _run_one(
    study: StudySpec, label: str | None, out_dir: Path | None, options: Any = None
) -> _RunOutcome:
    """One run of ``run --all`` (in this process or a worker)."""
    from resilience.optimize.diagnostics import OptimizationError, status_of
    from resilience.optimize.market.from_data import OutOfScopeError
    from resilience.study import run_study, write_study

    name = label or "base"
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = run_study(study, label, options=options)
    except OptimizationError as exc:  # a finding (infeasible...), not a failure
        return _RunOutcome({"scenario": name, "status": status_of(exc), "note": str(exc)})
    except OutOfScopeError as exc:  # a finding about the study, not a failure
        return _RunOutcome({"scenario": name, "status": "out of scope", "note": str(exc)})
    except (ResilienceError, ValueError) as exc:
        return _RunOutcome({"scenario": name, "status": "error", "note": str(exc)}, failed=True)
    log.info(
        "run %s: %.1f s wall, %.1f s CPU in process %d",
        name,
        time.perf_counter() - wall,
        time.process_time() - cpu,
        os.getpid(),
    )
    totals = result.totals.row(0, named=True)
    note = "; ".join(result.notes) or None
    worst = totals["worst_scenario"]
    losses = result.members.filter(pl.col("scenario").eq_missing(worst)).select(
        "member", pl.lit(name).alias("run"), "welfare_loss_usd"
    )
    if out_dir is not None:
        with writing(out_dir / name):
            write_study(result, out_dir / name)
    return _RunOutcome(
        {"scenario": name, "status": result.status, **totals, "note": note},
        losses,
        _effects(result, name, worst),
        notes=tuple(result.notes),
    )


def _worker_logging(level: int) -> None:
    """A worker logs like the parent (stderr, same level)."""
    logging.basicConfig(level=level, handlers=[logging.StreamHandler(sys.stderr)], force=True)


def _largest_first(study: StudySpec, labels: list[str | None]) -> list[int]:
    """Indices of ``labels``, the runs with the most disrupted scenarios first.

    A run's LP has one block per scenario (each with events, and calm), so a run with
    more of them tends to take longer (the base case, calm alone, is the smallest);
    starting those first keeps a worker from finishing a long run alone at the end. Ties
    keep the study's order; a label that does not compose goes last (its run reports the
    error at once).
    """

    def scenarios(label: str | None) -> int:
        try:
            return len({name for name, _ in study.compose(label).events})
        except (ResilienceError, ValueError):
            return -1

    sizes = [scenarios(label) for label in labels]
    return sorted(range(len(labels)), key=lambda i: -sizes[i])


def _run_each(
    study: StudySpec, labels: list[str | None], out_dir: Path | None, jobs: int
) -> list[_RunOutcome]:
    """Run every label, ``jobs`` at a time in worker processes (progress bar on a terminal).

    The runs are independent, so they can go to separate processes, handed out largest
    first (:func:`_largest_first`); each worker's HiGHS then uses one thread. A worker
    solves the calm reference once and reuses it for every later run whose calm market
    is the same (:func:`resilience.optimize.market.calm.calm_reference`). The outcomes
    come back in the order of ``labels`` whatever the order they finish in.
    """
    from rich.progress import Progress

    from resilience.optimize.solve import SolverOptions

    outcomes: dict[int, _RunOutcome] = {}
    with Progress(console=err, disable=not err.is_terminal, transient=True) as bar:
        task = bar.add_task(f"{study.name}: {len(labels)} runs", total=len(labels))
        if jobs <= 1 or len(labels) <= 1:
            for i, label in enumerate(labels):
                outcomes[i] = _run_one(study, label, out_dir)
                bar.advance(task)
        else:
            context = multiprocessing.get_context("spawn")
            level = logging.getLogger().getEffectiveLevel()
            single = SolverOptions(threads=1)
            with ProcessPoolExecutor(
                max_workers=min(jobs, len(labels)),
                mp_context=context,
                initializer=_worker_logging,
                initargs=(level,),
            ) as pool:
                futures = {
                    pool.submit(_run_one, study, labels[i], out_dir, single): i
                    for i in _largest_first(study, labels)
                }
                for future in as_completed(futures):
                    outcomes[futures[future]] = future.result()
                    bar.advance(task)
    return [outcomes[i] for i in range(len(labels))]


def _effects_view(effects: list[pl.DataFrame]) -> tuple[pl.DataFrame, dict[str, str]]:
    """Per run and member: loss (USD m), largest price rise and largest shortfall."""
    frame = pl.concat(effects)
    view = frame.select(
        "run",
        "member",
        (pl.col("welfare_loss_usd") / 1e6).alias("loss USD m"),
        pl.col("price_rise_max_pct").alias("price rise %"),
        pl.col("price_good").alias("of"),
        pl.col("shed_pct").alias("shortfall %"),
        pl.col("shed_good").alias("in"),
    )
    return view, {"loss USD m": ",.2f", "price rise %": ",.1f", "shortfall %": ".2f"}


def _jobs(jobs: int) -> int:
    """Worker processes for ``run --all``: ``jobs``, or with 0 one per CPU core."""
    if jobs < 0:
        raise _fail(ValueError(f"--jobs must be 0 (one per core) or more, not {jobs}"))
    return jobs or (os.cpu_count() or 1)


def _run_all(study_file: Path, out_dir: Path | None, jobs: int = 1) -> None:
    """``run --all``: the base case and each listed scenario, one comparison table."""
    from resilience.scenarios import load_study

    try:
        check_writable_dir(out_dir)
        study = load_study(study_file)
    except (ResilienceError, ValueError, OSError) as exc:
        raise _fail(error_line(exc)) from exc
    outcomes = _run_each(study, [None, *study.scenarios], out_dir, _jobs(jobs))
    rows = [o.row for o in outcomes]
    losses = [o.losses for o in outcomes if o.losses is not None]
    effects = [o.effects for o in outcomes if o.effects is not None]
    failures = sum(o.failed for o in outcomes)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    title = f"{study.name} ({study.model} model, {study.year}): base case and scenarios"
    view, formats = _scenarios_view(frame)
    out.print(_frame_table(view, title, formats))
    if losses:
        # a row per run, a column per member: runs are many, members few
        wide = (
            pl.concat(losses)
            .with_columns(pl.col("welfare_loss_usd") / 1e6)
            .pivot(on="member", index="run", values="welfare_loss_usd", sort_columns=True)
        )
        out.print(
            _frame_table(
                wide,
                "Welfare loss per member if the run's worst event happens (USD m; negative: "
                "a gain)",
                {c: ",.2f" for c in wide.columns if c != "run"},
            )
        )
    if effects:
        view, formats = _effects_view(effects)
        out.print(
            _frame_table(
                view,
                "Per run and member in the run's worst scenario: welfare loss (USD m), the "
                "largest monthly price rise over the reference price and the largest "
                "shortfall (demand shed over the horizon, % of demand), with their goods",
                formats,
            )
        )
    split = [list(o.notes) if o.effects is not None else [str(o.row["note"])] for o in outcomes]
    # notes every answered run shares are printed once (a refused run's note is its reason)
    answered = [s for s, o in zip(split, outcomes, strict=True) if o.effects is not None]
    common = set.intersection(*(set(s) for s in answered)) if len(answered) > 1 else set()
    for note in (n for n in (answered[0] if answered else []) if n in common):
        out.print(f"[yellow]every run:[/] {note}", highlight=False)
    for row, parts in zip(rows, split, strict=True):
        own = [n for n in parts if n not in common]
        if own:
            out.print(f"[yellow]{row['scenario']}:[/] {'; '.join(own)}", highlight=False)
    if out_dir is not None:
        with writing(out_dir / "scenarios.parquet"):
            out_dir.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(out_dir / "scenarios.parquet")
        out.print(f"wrote {out_dir}/<scenario>/*.parquet and {out_dir}/scenarios.parquet")
    if failures:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``run`` to ``app``."""
    app.command("run")(run_cmd)
