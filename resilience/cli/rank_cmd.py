"""``resilience rank``: an importer's commodities by probability-weighted welfare loss.

Registered on the main app with :func:`register`; the work is
:func:`resilience.ranking.rank_commodities`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from resilience.cli.console import err, fail, frame_table, out
from resilience.errors import ResilienceError
from resilience.outputs import check_writable_file

__all__ = ["rank_cmd", "register"]

_CATALOGUE = Path("models") / "scenarios.yaml"


def rank_cmd(
    importer: Annotated[
        str,
        typer.Option(
            "--importer", "-i", help="Importing country or bloc, e.g. USA, JPN, EU27, G7."
        ),
    ],
    year: Annotated[int, typer.Option("--year", help="Trade year.")] = 2023,
    commodity: Annotated[
        list[str] | None,
        typer.Option(
            "--commodity",
            "-c",
            help="commodity/stage to rank (repeat); default: every good a risk event names.",
        ),
    ] = None,
    catalogue: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="Scenario catalogue (YAML).")
    ] = _CATALOGUE,
    months: Annotated[int, typer.Option(min=1, max=24, help="Horizon of each market.")] = 12,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="Write the frame (Parquet).")
    ] = None,
) -> None:
    """Rank an importer's commodities by expected annual welfare loss over the catalogue."""
    from resilience.credits import credits
    from resilience.optimize.market.from_data import StudyMarketSettings
    from resilience.ranking import named_goods, rank_commodities
    from resilience.reference.commodities import load_commodities
    from resilience.scenarios import SpecReader, load_catalogue

    try:
        check_writable_file(out_file)
        cat = load_catalogue(catalogue)
        reader = SpecReader(Path("--importer"))
        who = reader.countries(importer, "importer")
        reader.raise_if_any()
        assert who is not None
        known = load_commodities().select("commodity", "stage").rows()
        if commodity:
            goods = []
            for text in commodity:
                c, _, s = text.partition("/")
                if (c, s) not in known:
                    raise typer.BadParameter(
                        f"--commodity {text!r}: not a commodity/stage of datasets/commodities.csv"
                    )
                goods.append((c, s))
        else:
            named = named_goods(cat, [f"{c}/{s}" for c, s in known])
            goods = [(g.partition("/")[0], g.partition("/")[2]) for g in named]
        with err.status(f"ranking {len(goods)} goods for {importer} ..."):
            frame = rank_commodities(
                who,
                [(c, s) for c, s in goods],
                year=year,
                catalogue=cat,
                label=importer,
                settings=StudyMarketSettings(months=months),
            )
        if out_file is not None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(out_file)
    except (ResilienceError, ValueError, OSError) as exc:
        raise fail(exc) from exc
    shown = frame.select(
        "rank",
        pl.concat_str("commodity", pl.lit("/"), "stage").alias("good"),
        "status",
        (pl.col("expected_welfare_loss_usd") / 1e6).alias("expected loss USD m/yr"),
        pl.col("worst_scenario").alias("worst event"),
        (pl.col("worst_welfare_loss_usd") / 1e6).alias("loss if it happens USD m"),
        pl.col("price_rise_max_pct").alias("max price rise %"),
        (pl.col("worst_shed_share") * 100).alias("worst shed %"),
    )
    formats = {
        "expected loss USD m/yr": ",.2f",
        "loss if it happens USD m": ",.2f",
        "max price rise %": ",.1f",
        "worst shed %": ".1f",
    }
    title = (
        f"{importer} {year}: goods by probability-weighted welfare loss over "
        f"{catalogue.name} (market core, {months} months)"
    )
    out.print(frame_table(shown, title, formats))
    out.print(
        credits(compact=True)
        + "; market parameters: datasets/market_parameters.csv (cited per row)",
        highlight=False,
        soft_wrap=True,
    )
    if out_file is not None:
        out.print(f"wrote {out_file}")


def register(app: typer.Typer) -> None:
    """Add ``rank`` to ``app``."""
    app.command("rank")(rank_cmd)
